//! Restoration of real Tesseract output, without re-running OCR: reads documents saved by
//! `sohoa scan --no-restore -o X.json` and the truth of their pages, restores the OCR lines
//! (`Restorer::restore_ocr_lines`, as `scan` does) and scores OCR alone against OCR +
//! restoration. Used to fit the noisy channel (`SOHOA_CH_*`) on dev sets, see the model card:
//!
//!     cargo run --release --example restore_ocr_eval -- MANIFEST.tsv [MODEL_DIR]
//!
//! MANIFEST.tsv: one page a line, `JSON<TAB>PAGE (1-based)<TAB>TRUTH.txt<TAB>SET NAME`.
use sohoa::restore::Restorer;
use sohoa::text::ErrorCounts;
use sohoa::Document;
use std::collections::BTreeMap;
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let manifest = std::fs::read_to_string(&args[0])?;
    let r = match args.get(1) {
        Some(d) => Restorer::from_dir(Path::new(d))?,
        None => Restorer::embedded()?,
    };
    let mut docs: BTreeMap<String, Document> = BTreeMap::new();
    let mut sets: BTreeMap<String, (ErrorCounts, ErrorCounts)> = BTreeMap::new();
    let show = std::env::var("SHOW_CHANGES").is_ok();
    let (mut restore_secs, mut pages) = (0.0f64, 0usize);
    for row in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = row.split('\t').collect();
        let (json, page, truth, set) = (f[0], f[1].parse::<usize>()?, f[2], f[3]);
        if !docs.contains_key(json) {
            docs.insert(
                json.into(),
                serde_json::from_str(&std::fs::read_to_string(json)?)?,
            );
        }
        let doc = &docs[json];
        let Some(p) = doc.pages.get(page - 1) else {
            continue;
        };
        let truth_path = truth;
        let truth = std::fs::read_to_string(truth_path)?;
        let mut lines = p.lines.clone();
        for l in lines.iter_mut() {
            for w in l.words.iter_mut() {
                w.text = w.ocr_text.clone();
            }
            l.refresh_text();
        }
        let before: String = lines.iter().map(|l| l.text.clone() + "\n").collect();
        let t0 = std::time::Instant::now();
        r.restore_ocr_lines(&mut lines)?;
        restore_secs += t0.elapsed().as_secs_f64();
        pages += 1;
        let after: String = lines.iter().map(|l| l.text.clone() + "\n").collect();
        if show {
            for l in &lines {
                for w in &l.words {
                    if w.text != w.ocr_text {
                        println!(
                            "  {set} p{page}: {} -> {} (conf {:.0})",
                            w.ocr_text, w.text, w.conf
                        );
                    }
                }
            }
        }
        if let Ok(d) = std::env::var("RESTORE_EVAL_OUT") {
            let stem = Path::new(json)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            std::fs::write(Path::new(&d).join(format!("{stem}.p{page}.txt")), &after)?;
            std::fs::write(
                Path::new(&d).join(format!("{stem}.p{page}.ocr.txt")),
                &before,
            )?;
            std::fs::copy(
                truth_path,
                Path::new(&d).join(format!("{stem}.p{page}.gt.txt")),
            )?;
        }
        let e = sets.entry(set.to_string()).or_default();
        e.0.add(ErrorCounts::of(&before, &truth));
        e.1.add(ErrorCounts::of(&after, &truth));
    }
    let (mut tb, mut ta) = (ErrorCounts::default(), ErrorCounts::default());
    for (name, (b, a)) in &sets {
        println!(
            "{name:<24} WER {:6.2}% -> {:6.2}%  CER {:5.2}% -> {:5.2}%  order-free {:5.2}% -> {:5.2}%  ({} syllables)",
            b.wer(), a.wer(), b.cer(), a.cer(), b.order_free(), a.order_free(), a.words
        );
        tb.add(*b);
        ta.add(*a);
    }
    println!(
        "{:<24} WER {:6.2}% -> {:6.2}%  CER {:5.2}% -> {:5.2}%  order-free {:5.2}% -> {:5.2}%",
        "TOTAL",
        tb.wer(),
        ta.wer(),
        tb.cer(),
        ta.cer(),
        tb.order_free(),
        ta.order_free()
    );
    println!(
        "restoration: {pages} pages in {restore_secs:.2} s ({:.0} ms a page)",
        1e3 * restore_secs / pages.max(1) as f64
    );
    Ok(())
}

//! Restoration accuracy and speed on input/truth pairs (X.eng.txt beside X.truth.txt), as
//! `sohoa eval --restore-pairs` scores them, plus syllables per second of restoration alone
//! (model loading excluded; `RESTORE_EVAL_REPEAT=N` takes the fastest of N runs per file).
//! English-model OCR is read with the small tagger, as `sohoa restore` does by default;
//! `RESTORE_EVAL_ACCURATE=1` reads it with the full one (`sohoa restore --accurate`).
//! Used for the model card:
//!
//!     cargo run --release --example restore_eval -- models/train/data/restore-eval [MODEL_DIR]
use sohoa::restore::Restorer;
use sohoa::text::ErrorCounts;
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(
        args.first()
            .map(String::as_str)
            .unwrap_or("models/train/data/restore-eval"),
    );
    let t0 = std::time::Instant::now();
    let mut r = match args.get(1) {
        Some(d) => Restorer::from_dir(Path::new(d))?,
        None => Restorer::embedded()?,
    };
    if !std::env::var("RESTORE_EVAL_ACCURATE").is_ok_and(|v| v == "1") {
        r.prefer_speed()?;
    }
    // As `sohoa restore` does on big inputs.
    r.use_large_pages()?;
    println!("model loaded in {:.2} s", t0.elapsed().as_secs_f64());
    let (mut before, mut after) = (ErrorCounts::default(), ErrorCounts::default());
    let (mut secs, mut syllables) = (0.0, 0usize);
    for (name, input, truth) in sohoa::eval::find_restore_pairs(dir)? {
        let inp = sohoa::text::nfc(&std::fs::read_to_string(&input)?);
        let t = std::fs::read_to_string(&truth)?;
        // RESTORE_EVAL_REPEAT=N: the fastest of N runs counts (timings on a shared machine).
        let repeat: usize = std::env::var("RESTORE_EVAL_REPEAT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let mut best = f64::MAX;
        let mut out = String::new();
        for _ in 0..repeat.max(1) {
            let t1 = std::time::Instant::now();
            out = r.restore_text(&inp)?;
            best = best.min(t1.elapsed().as_secs_f64());
        }
        secs += best;
        syllables += inp.split_whitespace().count();
        let (e0, e1) = (ErrorCounts::of(&inp, &t), ErrorCounts::of(&out, &t));
        println!(
            "{name:<28} WER {:6.2}% -> {:6.2}%  CER {:5.2}% -> {:5.2}%  ({} syllables)",
            e0.wer(),
            e1.wer(),
            e0.cer(),
            e1.cer(),
            e1.words
        );
        if let Ok(d) = std::env::var("RESTORE_EVAL_OUT") {
            std::fs::write(Path::new(&d).join(format!("{name}.out.txt")), &out)?;
        }
        before.add(e0);
        after.add(e1);
    }
    println!(
        "{:<28} WER {:6.2}% -> {:6.2}%  CER {:5.2}% -> {:5.2}%  ({} syllables, {:.0} syllables/s)",
        "TOTAL",
        before.wer(),
        after.wer(),
        before.cer(),
        after.cer(),
        after.words,
        syllables as f64 / secs
    );
    Ok(())
}

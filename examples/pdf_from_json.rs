//! Writes the searchable PDF of sohoa JSON outputs without OCR'ing again (the PDF writer reads
//! the source file named in the JSON), and prints the PDF/A check of each:
//!
//!   cargo run --release --example pdf_from_json -- [--plain] OUT_DIR doc.json...
//!
//! scripts/check-pdfs uses it to check the PDFs of a whole folder of earlier results.

use sohoa::emit::{pdf, pdfa, PdfOptions};

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let plain = args.first().is_some_and(|a| a == "--plain");
    if plain {
        args.remove(0);
    }
    let (out, jsons) = args
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("usage: pdf_from_json [--plain] OUT_DIR doc.json..."))?;
    std::fs::create_dir_all(out)?;
    let opts = PdfOptions { pdfa: !plain };
    let mut failed = 0;
    for j in jsons {
        let doc: sohoa::Document = serde_json::from_str(&std::fs::read_to_string(j)?)?;
        let stem = std::path::Path::new(j)
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let t = std::time::Instant::now();
        match pdf::render_with(&doc, &opts) {
            Ok(bytes) => {
                let dest = std::path::Path::new(out).join(format!("{stem}.pdf"));
                sohoa::emit::write_atomic(&dest, &bytes)?;
                let mut r = pdfa::check_bytes(&bytes);
                let claimed = !r
                    .problems
                    .iter()
                    .any(|p| p.starts_with("the XMP does not identify"));
                if !claimed {
                    // Written as plain PDF: say why (what a claim would have run into).
                    r.problems.retain(|p| !p.contains("XMP"));
                }
                let verdict = if !claimed {
                    "plain"
                } else if r.problems.is_empty() {
                    "pdfa-ok"
                } else {
                    "PDFA-INVALID"
                };
                println!(
                    "{stem}\t{}\t{}\t{:.3}\t{:.2}s\t{}\t{}",
                    doc.source.bytes,
                    bytes.len(),
                    bytes.len() as f64 / doc.source.bytes.max(1) as f64,
                    t.elapsed().as_secs_f64(),
                    verdict,
                    r.problems.join("; ")
                );
            }
            Err(e) => {
                failed += 1;
                println!("{stem}\t{}\t-\t-\t-\tFAILED\t{e}", doc.source.bytes);
            }
        }
    }
    std::process::exit(if failed > 0 { 1 } else { 0 });
}

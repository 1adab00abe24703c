//! Administrative fields against truth: every document `X` with `X.fields.json` beside it (a map
//! from a field's path to its value, as the JSON document names them: `"signer.name": "Nguyễn
//! Văn Thắng"`, `"number": "707/QĐ-TTg"`, `"recipients": [...]`) is scanned with sohoa's default
//! settings and its fields compared one by one (NFC, whitespace runs collapsed). Used for the
//! real-scans issue's fields target:
//!
//!     cargo run --release --example fields_eval -- dev/real
use serde_json::Value;
use sohoa::pipeline::{Options, Pipeline};
use std::path::Path;

fn norm(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(sohoa::text::normalize_for_eval(s)),
        Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
        other => other.clone(),
    }
}

fn main() -> anyhow::Result<()> {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    let pipeline = Pipeline::new(Options::default())?;
    let (mut right, mut total) = (0usize, 0usize);
    for dir in &dirs {
        let mut truths: Vec<_> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".fields.json"))
            .collect();
        truths.sort();
        for truth_path in truths {
            let doc_path = Path::new(dir).join(
                truth_path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .trim_end_matches(".fields.json"),
            );
            let truth: serde_json::Map<String, Value> =
                serde_json::from_str(&std::fs::read_to_string(&truth_path)?)?;
            let doc = pipeline.process_file(&doc_path)?;
            let fields = serde_json::to_value(doc.document.unwrap_or_default())?;
            println!("{}", doc_path.display());
            for (path, want) in &truth {
                let mut got = &fields;
                for key in path.split('.') {
                    got = got.get(key).unwrap_or(&Value::Null);
                }
                let got = got.get("value").unwrap_or(&Value::Null);
                let ok = norm(got) == norm(want);
                right += usize::from(ok);
                total += 1;
                let mark = if ok { "right" } else { "WRONG" };
                println!("  {mark:5} {path:<18} {got}   (truth {want})");
            }
        }
    }
    let pct = 100.0 * right as f64 / total.max(1) as f64;
    println!("TOTAL {right} of {total} fields right ({pct:.0} %)");
    Ok(())
}

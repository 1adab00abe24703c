//! `sohoa eval`: CER and syllable WER against ground truth, per stage.

use super::{cancel_flag, progress_bar, EngineArgs};
use crate::emit;
use crate::error::exit;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    /// Folders holding scan sets with truth (e.g. ../shared/scans-dev).
    pub dirs: Vec<PathBuf>,
    /// Also score `restore` on NAME.eng.txt / NAME.truth.txt pairs in this folder.
    #[arg(long)]
    pub restore_pairs: Option<PathBuf>,
    /// Skip the raw-OCR pass (no clean-up, no restoration).
    #[arg(long)]
    pub no_raw: bool,
    /// Skip the bare-Tesseract baseline (default settings on the same page images).
    #[arg(long)]
    pub no_tesseract: bool,
    /// Also print a row per page.
    #[arg(long)]
    pub pages: bool,
    /// Write the table as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn eval(a: EvalArgs) -> anyhow::Result<i32> {
    use crate::eval::{self, Column};
    use crate::text::ErrorCounts;
    let mut table: Vec<serde_json::Value> = Vec::new();
    let print_row = |name: &str,
                     stage: &str,
                     e: &ErrorCounts,
                     ms: Option<f64>,
                     table: &mut Vec<serde_json::Value>| {
        println!(
            "{name:<40} {stage:<10} CER {:>6.2}%  WER {:>6.2}%  order-free {:>6.2}%  ({} chars, {} syllables){}",
            e.cer(),
            e.wer(),
            e.order_free(),
            e.chars,
            e.words,
            ms.map(|m| format!("  {:.1} s", m / 1e3)).unwrap_or_default()
        );
        table.push(serde_json::json!({"set": name, "stage": stage, "cer": e.cer(), "wer": e.wer(), "order_free": e.order_free(), "chars": e.chars, "words": e.words, "ms": ms}));
    };
    let mut sets = Vec::new();
    for d in &a.dirs {
        sets.extend(eval::find_sets(d)?);
    }
    if !sets.is_empty() {
        let cancel = cancel_flag();
        let opts = eval::EvalOptions {
            base: a.engine.options(),
            tesseract: !a.no_tesseract,
            raw: !a.no_raw,
        };
        let n_pages: usize = sets
            .iter()
            .map(|s| s.truth.iter().filter(|t| t.is_some()).count())
            .sum();
        let pb = progress_bar(n_pages as u64, "eval");
        let results = eval::run(&sets, &opts, &cancel, &|| pb.inc(1))?;
        pb.finish_and_clear();
        let mut totals: Vec<(Column, ErrorCounts, f64)> = Vec::new();
        let ratio_row = |name: &str, r: Option<f64>, table: &mut Vec<serde_json::Value>| {
            if let Some(r) = r {
                println!("{name:<40} {:<10} WER sohoa / tesseract {r:.3}", "ratio");
                table.push(
                    serde_json::json!({"set": name, "stage": "ratio", "wer_vs_tesseract": r}),
                );
            }
        };
        for r in &results {
            for e in &r.errors {
                eprintln!("sohoa: {}: {e}", r.name);
            }
            if a.pages {
                for (n, cols) in &r.per_page {
                    for (c, e, ms) in cols {
                        print_row(
                            &format!("{} p{n}", r.name),
                            c.name(),
                            e,
                            Some(*ms),
                            &mut table,
                        );
                    }
                }
            }
            for (c, e, ms) in &r.columns {
                print_row(&r.name, c.name(), e, Some(*ms), &mut table);
                match totals.iter_mut().find(|x| x.0 == *c) {
                    Some(x) => {
                        x.1.add(*e);
                        x.2 += ms;
                    }
                    None => totals.push((*c, *e, *ms)),
                }
            }
            ratio_row(&r.name, r.wer_vs_tesseract(), &mut table);
        }
        totals.sort_by_key(|x| x.0);
        let total = eval::SetResult {
            name: "TOTAL".into(),
            pages: results.iter().map(|r| r.pages).sum(),
            columns: totals,
            per_page: Vec::new(),
            errors: Vec::new(),
        };
        for (c, e, ms) in &total.columns {
            print_row("TOTAL", c.name(), e, Some(*ms), &mut table);
        }
        ratio_row("TOTAL", total.wer_vs_tesseract(), &mut table);
    }
    if let Some(dir) = &a.restore_pairs {
        let mut r = match &a.engine.model {
            Some(d) => crate::restore::Restorer::from_dir(d)?,
            None => crate::restore::Restorer::embedded()?,
        };
        // Scored as `sohoa restore` runs by default.
        r.prefer_speed()?;
        let (mut raw, mut fixed) = (ErrorCounts::default(), ErrorCounts::default());
        for (name, input, truth) in eval::find_restore_pairs(dir)? {
            let inp = crate::text::nfc(&std::fs::read_to_string(&input)?);
            let t = std::fs::read_to_string(&truth)?;
            let out = r.restore_text(&inp)?;
            let (e0, e1) = (ErrorCounts::of(&inp, &t), ErrorCounts::of(&out, &t));
            print_row(&name, "input", &e0, None, &mut table);
            print_row(&name, "restored", &e1, None, &mut table);
            raw.add(e0);
            fixed.add(e1);
        }
        print_row("TOTAL restore pairs", "input", &raw, None, &mut table);
        print_row("TOTAL restore pairs", "restored", &fixed, None, &mut table);
    }
    if let Some(p) = &a.json {
        emit::write_atomic(p, serde_json::to_string_pretty(&table)?.as_bytes())?;
    }
    Ok(exit::OK)
}

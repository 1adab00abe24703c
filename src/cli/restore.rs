//! `sohoa restore`: diacritics restored in existing text, line for line.

use crate::error::exit;
use anyhow::Context;
use clap::Args;
use std::io::{Read, Write};
use std::path::PathBuf;

#[derive(Args)]
pub struct RestoreArgs {
    /// Text file (UTF-8, or TCVN3 / VNI: converted to Unicode first); stdin when absent.
    pub file: Option<PathBuf>,
    /// Restoration model directory instead of the built-in one.
    #[arg(long, env = "SOHOA_MODEL")]
    pub model: Option<PathBuf>,
    /// Read English-model OCR with the full tagger: about a fifth of the speed, about 0.4
    /// points less WER (models/MODEL_CARD.md). Other text is restored the same either way.
    #[arg(long)]
    pub accurate: bool,
    /// The small tagger, now the default (kept so that scripts written for it still run).
    #[arg(long, hide = true, conflicts_with = "accurate")]
    pub fast: bool,
}

pub fn restore(a: RestoreArgs) -> anyhow::Result<i32> {
    let mut bytes = Vec::new();
    match &a.file {
        Some(p) => {
            bytes = std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read stdin")?;
        }
    }
    // Pre-Unicode files (TCVN3 "ABC", VNI) are converted, whether saved as bytes or as UTF-8
    // mojibake.
    let (input, legacy) = crate::legacy::decode_text_file(&bytes);
    if let Some(enc) = legacy {
        log::info!("input converted from {} to Unicode", enc.name());
    }
    let mut r = match &a.model {
        Some(d) => crate::restore::Restorer::from_dir(d)?,
        None => crate::restore::Restorer::embedded()?,
    };
    // Legacy archives run to millions of pages: the small tagger reads English-model OCR at
    // four times the speed, within the accuracy target (7.53 against 7.17 % WER on garbled-dev).
    if !a.accurate {
        r.prefer_speed()?;
    }
    let input = crate::text::nfc(&input);
    // Large pages for the LM pay for their start-up above some 20,000 syllables.
    if input.split_whitespace().nth(20_000).is_some() {
        r.use_large_pages()?;
    }
    let trailing_newline = input.ends_with('\n');
    let body = input.strip_suffix('\n').unwrap_or(&input);
    let lines: Vec<&str> = body.split('\n').collect();
    let mut out = std::io::stdout().lock();
    // Chunks keep memory flat on big files while batching enough lines for the model.
    for chunk in lines.chunks(256) {
        let restored = r.restore_plain(chunk)?;
        for (k, l) in restored.iter().enumerate() {
            out.write_all(l.as_bytes())?;
            let last = std::ptr::eq(chunk, lines.chunks(256).last().unwrap_or(chunk))
                && k + 1 == restored.len();
            if !last || trailing_newline {
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(exit::OK)
}

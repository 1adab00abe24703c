//! `report.json`: what a run over a tree did with each input, in one format for every front-end
//! that writes one (`batch`, the scale-out `status`/`worker`). See docs/batch-watch.md.

use crate::emit::Format;
use crate::pipeline::Pipeline;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The report's file name inside OUT.
pub const REPORT: &str = "report.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    Skipped,
}

/// One input in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The input's path (IN joined with its relative path).
    pub input: String,
    pub status: Status,
    /// Why it failed or was skipped, in words; null when ok.
    pub error: Option<String>,
    /// A stable tag: for failures [`crate::Error::kind`] (`encrypted`, `damaged-pdf`, …); for
    /// skips `up-to-date`, `unsupported` or `interrupted`.
    pub reason: Option<String>,
    pub pages: usize,
    /// Wall-clock seconds from the file's first page starting to its outputs being written
    /// (files overlap, so these do not add up to the run's time).
    pub seconds: f64,
    pub outputs: Vec<String>,
    /// SHA-256 of the input's content, when it was read.
    pub sha256: Option<String>,
    /// Pages by where their text came from (`ocr`, `text`, `layer`: docs/schema.md), when the
    /// input was processed in this run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pages_by_source: BTreeMap<String, usize>,
}

impl Entry {
    /// An input with nothing to show yet: no pages, time, outputs or hash.
    pub fn new(input: String, status: Status) -> Entry {
        Entry {
            input,
            status,
            error: None,
            reason: None,
            pages: 0,
            seconds: 0.0,
            outputs: vec![],
            sha256: None,
            pages_by_source: BTreeMap::new(),
        }
    }

    /// Failed or skipped, with the stable tag and the words for why.
    pub fn because(input: String, status: Status, reason: &str, error: String) -> Entry {
        Entry {
            reason: Some(reason.into()),
            error: Some(error),
            ..Entry::new(input, status)
        }
    }

    /// Failed with `e`.
    pub fn failed(input: String, e: &crate::Error) -> Entry {
        Entry::because(input, Status::Failed, e.kind(), e.to_string())
    }

    /// Skipped: not an input sohoa reads, by its name.
    pub fn unsupported(input: String) -> Entry {
        let why = "not a PDF, PNG, JPEG or TIFF file (by its name)";
        Entry::because(input, Status::Skipped, "unsupported", why.into())
    }

    /// Skipped: an earlier run's outputs, from the same content, are there.
    pub fn up_to_date(input: String, sha256: String, pages: usize, outputs: Vec<String>) -> Entry {
        let why = "up to date (done by an earlier run; --force redoes it)";
        Entry {
            pages,
            outputs,
            sha256: Some(sha256),
            ..Entry::because(input, Status::Skipped, "up-to-date", why.into())
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub files: usize,
    pub ok: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Pages OCRed in this run (not counting skipped inputs).
    pub pages: usize,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    pub pages_per_second: f64,
    pub failures_by_reason: BTreeMap<String, usize>,
    pub skipped_by_reason: BTreeMap<String, usize>,
    /// Pages processed in this run by where their text came from: `ocr` (rendered and OCR'd),
    /// `text` (a PDF's own text, taken), `layer` (an earlier OCR layer, kept).
    #[serde(default)]
    pub pages_by_source: BTreeMap<String, usize>,
    /// The run was stopped by Ctrl-C / SIGTERM; rerun to finish.
    pub interrupted: bool,
}

impl Summary {
    /// The counts over a run's entries; the caller fills in the times.
    pub fn of(files: &[Entry]) -> Summary {
        let mut s = Summary {
            files: files.len(),
            ..Default::default()
        };
        for e in files {
            match e.status {
                Status::Ok => {
                    s.ok += 1;
                    s.pages += e.pages;
                    for (k, n) in &e.pages_by_source {
                        *s.pages_by_source.entry(k.clone()).or_default() += n;
                    }
                }
                Status::Failed => {
                    s.failed += 1;
                    s.pages += e.pages;
                    *s.failures_by_reason
                        .entry(e.reason.clone().unwrap_or_default())
                        .or_default() += 1;
                }
                Status::Skipped => {
                    s.skipped += 1;
                    *s.skipped_by_reason
                        .entry(e.reason.clone().unwrap_or_default())
                        .or_default() += 1;
                }
            }
        }
        s
    }
}

/// What affects an output besides the input's bytes: a change redoes the input on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub tesseract: String,
    pub lang: String,
    pub psm: i32,
    /// `--tess-var` settings as KEY=VALUE (absent in state written before they existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tess_vars: Vec<String>,
    pub restore_model: Option<String>,
    pub dpi: f32,
    pub image_dpi: f32,
    pub clean: bool,
    pub structure: bool,
}

impl Settings {
    pub fn of(p: &Pipeline) -> Settings {
        let o = p.options();
        let e = p.engine_info();
        Settings {
            tesseract: e.tesseract,
            lang: e.lang,
            psm: o.ocr.psm,
            tess_vars: o.ocr.var_strings().collect(),
            restore_model: e.restore_model,
            dpi: o.raster.dpi,
            image_dpi: o.raster.image_dpi,
            clean: o.clean.enabled,
            structure: o.structure,
        }
    }
}

/// `OUT/report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub input: String,
    pub output: String,
    pub formats: Vec<Format>,
    pub settings: Settings,
    pub summary: Summary,
    pub files: Vec<Entry>,
}

impl Report {
    /// 130 when interrupted, 4 when some input failed, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.summary.interrupted {
            crate::error::exit::INTERRUPTED
        } else if self.summary.failed > 0 {
            crate::error::exit::SOME_FAILED
        } else {
            crate::error::exit::OK
        }
    }

    /// The report as it is written: pretty JSON ending in a newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("reports serialise");
        bytes.push(b'\n');
        bytes
    }
}

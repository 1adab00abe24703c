//! Fault injection for tests: `SOHOA_FAULT` makes one page's engine, worker or renderer fail
//! the way real ones do, so the tests can hold what a run does then (that page's file fails with
//! a reason, every other page and file completes, nothing partial is written).
//!
//! `SOHOA_FAULT` is a comma-separated list of `KIND@PAGE` (PAGE 1-based, in any file):
//!
//! | kind | what happens on that page |
//! |---|---|
//! | `ocr-panic` | Tesseract's call panics (a crash inside the engine) |
//! | `ocr-hang` | Tesseract never returns on its own: only the page deadline ends it |
//! | `ocr-garbage` | Tesseract returns bytes that are not UTF-8 and control characters |
//! | `worker-panic` | the worker thread dies mid-page (after OCR, before restoration) |
//! | `pdfium-fail` | PDFium fails to render the page |
//!
//! Why an environment variable rather than an engine trait: the behaviour to hold is the whole
//! program's (exit codes, `report.json`, output files, the drop folder), so the tests run the
//! real binary, and a variable reaches it without a test-only flag or build. It is read once; when
//! unset (always, outside tests) every check is one load of an empty list. Disk faults need no
//! seam: the tests write to a real full or read-only file system.

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    OcrPanic,
    OcrHang,
    OcrGarbage,
    WorkerPanic,
    PdfiumFail,
}

impl Fault {
    fn parse(name: &str) -> Option<Fault> {
        Some(match name {
            "ocr-panic" => Fault::OcrPanic,
            "ocr-hang" => Fault::OcrHang,
            "ocr-garbage" => Fault::OcrGarbage,
            "worker-panic" => Fault::WorkerPanic,
            "pdfium-fail" => Fault::PdfiumFail,
            _ => return None,
        })
    }
}

/// `SOHOA_FAULT`'s `KIND@PAGE` entries; an entry that does not parse is reported once and
/// ignored (a typo must not pass for a fault that was survived).
pub fn parse(spec: &str) -> Vec<(Fault, usize)> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let parsed = s
                .split_once('@')
                .and_then(|(k, p)| Some((Fault::parse(k)?, p.parse::<usize>().ok()?)));
            if parsed.is_none() {
                eprintln!("sohoa: SOHOA_FAULT: cannot read {s:?} (KIND@PAGE); ignored");
            }
            parsed
        })
        .collect()
}

fn faults() -> &'static [(Fault, usize)] {
    static FAULTS: OnceLock<Vec<(Fault, usize)>> = OnceLock::new();
    FAULTS.get_or_init(|| {
        std::env::var("SOHOA_FAULT")
            .map(|s| parse(&s))
            .unwrap_or_default()
    })
}

/// Whether `fault` is to strike page `page` (1-based).
pub fn strikes(fault: Fault, page: usize) -> bool {
    faults().iter().any(|&(f, p)| f == fault && p == page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_pages_are_read_and_typos_are_not_faults() {
        assert_eq!(
            parse("ocr-panic@2, pdfium-fail@10"),
            vec![(Fault::OcrPanic, 2), (Fault::PdfiumFail, 10)]
        );
        assert_eq!(parse("ocr-pnic@2,ocr-hang@x,ocr-hang"), vec![]);
        assert_eq!(parse(""), vec![]);
    }
}

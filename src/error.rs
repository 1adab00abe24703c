//! One error type for the library boundary. Every variant maps to one exit code, OCRmyPDF-style,
//! and prints as one line a person can act on.

use std::path::PathBuf;

/// Process exit codes, documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    pub const USAGE: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
    pub const MISSING_DEPENDENCY: i32 = 3;
    pub const SOME_FAILED: i32 = 4;
    pub const OUTPUT_ERROR: i32 = 5;
    pub const ENCRYPTED: i32 = 8;
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("empty file (0 bytes)")]
    Empty,
    #[error("not a PDF, PNG, JPEG or TIFF file")]
    UnknownFormat,
    #[error("PDF is encrypted with a password; remove the encryption first")]
    Encrypted,
    #[error("damaged or unreadable PDF: {0}")]
    BadPdf(String),
    #[error("damaged or unreadable image: {0}")]
    BadImage(String),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("missing dependency: {what}; install it with: scripts/setup")]
    Missing { what: String },
    #[error("OCR engine error: {0}")]
    Ocr(String),
    /// A page over `--page-timeout`.
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("restoration model error: {0}")]
    Model(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("interrupted")]
    Interrupted,
    /// A setting the engine refused (an unknown `--tess-var`, say).
    #[error("invalid setting: {0}")]
    Config(String),
}

impl Error {
    /// The exit code a run that failed only with this error ends with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Encrypted => exit::ENCRYPTED,
            Error::Missing { .. } | Error::Model(_) => exit::MISSING_DEPENDENCY,
            Error::Write { .. } => exit::OUTPUT_ERROR,
            Error::Interrupted => exit::INTERRUPTED,
            Error::Config(_) => exit::USAGE,
            _ => exit::BAD_INPUT,
        }
    }

    /// A short stable tag for reports ("failures by reason").
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Empty => "empty",
            Error::UnknownFormat => "unknown-format",
            Error::Encrypted => "encrypted",
            Error::BadPdf(_) => "damaged-pdf",
            Error::BadImage(_) => "damaged-image",
            Error::TooLarge(_) => "too-large",
            Error::Missing { .. } => "missing-dependency",
            Error::Ocr(_) => "ocr",
            Error::Timeout(_) => "timeout",
            Error::Model(_) => "model",
            Error::Read { .. } => "unreadable",
            Error::Write { .. } => "write",
            Error::Interrupted => "interrupted",
            Error::Config(_) => "config",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

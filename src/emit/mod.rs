//! Emit: the output formats, and atomic writes (a reader never sees half a file).
//!
//! Text and JSON are sohoa's own; hOCR ([`hocr`]), ALTO v4 ([`alto`]) and the searchable PDF
//! ([`pdf`], PDF/A-2b by default: [`pdfa`]) are the archive formats, all carrying the restored
//! text with the word boxes.

pub mod alto;
mod glyphless;
pub mod hocr;
mod images;
mod jbig2;
pub mod pdf;
pub mod pdfa;

pub use pdf::PdfOptions;

use crate::doc::Document;
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// UTF-8 NFC text, one OCR line per line, pages separated by a form feed.
    Text,
    /// The versioned JSON document (schema "sohoa/1", docs/schema.md).
    Json,
    /// hOCR 1.2 (XHTML): pages, blocks, lines and words with boxes and confidences.
    Hocr,
    /// ALTO v4 XML (schema 4.2): pages, blocks, lines and words with boxes and confidences.
    Alto,
    /// Searchable PDF/A-2b: the original page images under an invisible text layer.
    Pdf,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Text,
        Format::Json,
        Format::Hocr,
        Format::Alto,
        Format::Pdf,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Json => "json",
            Format::Hocr => "hocr",
            Format::Alto => "xml",
            Format::Pdf => "pdf",
        }
    }

    fn parse(name: &str) -> Option<Format> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "txt" | "text" => Format::Text,
            "json" => Format::Json,
            "hocr" | "html" | "xhtml" => Format::Hocr,
            "alto" | "xml" => Format::Alto,
            "pdf" => Format::Pdf,
            _ => return None,
        })
    }

    /// The format an output path's extension asks for.
    pub fn from_path(p: &Path) -> Option<Format> {
        Format::parse(p.extension()?.to_str()?)
    }

    pub fn parse_list(s: &str) -> std::result::Result<Vec<Format>, String> {
        s.split(',')
            .map(|f| {
                Format::parse(f).ok_or_else(|| {
                    format!("unknown format '{}' (txt, json, hocr, alto, pdf)", f.trim())
                })
            })
            .collect()
    }
}

/// The document in `format`. A PDF that cannot be built from the source pages (the source moved,
/// PDFium missing) is logged and falls back to a PDF of the text layer alone, on blank pages;
/// [`try_render`] reports the error instead.
pub fn render(doc: &Document, format: Format) -> Vec<u8> {
    render_with(doc, format, &PdfOptions::default())
}

/// [`render`], with the PDF written as `pdf` says.
pub fn render_with(doc: &Document, format: Format, pdf: &PdfOptions) -> Vec<u8> {
    match try_render_with(doc, format, pdf) {
        Ok(v) => v,
        Err(e) => {
            log::error!(
                "{}: {e}; the PDF has the text layer on blank pages",
                doc.source.path
            );
            pdf::render_text_only(doc).unwrap_or_else(|e| {
                log::error!("{}: no PDF written: {e}", doc.source.path);
                Vec::new()
            })
        }
    }
}

/// The document in `format`; only the PDF can fail (it reopens the source for the page images).
pub fn try_render(doc: &Document, format: Format) -> Result<Vec<u8>> {
    try_render_with(doc, format, &PdfOptions::default())
}

/// [`try_render`], with the PDF written as `pdf` says.
pub fn try_render_with(doc: &Document, format: Format, pdf: &PdfOptions) -> Result<Vec<u8>> {
    Ok(match format {
        Format::Text => doc.text().into_bytes(),
        Format::Json => {
            let mut v = serde_json::to_vec_pretty(doc).expect("documents serialise");
            v.push(b'\n');
            v
        }
        Format::Hocr => hocr::render(doc).into_bytes(),
        Format::Alto => alto::render(doc).into_bytes(),
        Format::Pdf => pdf::render_with(doc, pdf)?,
    })
}

/// XML text and attribute escaping (also drops characters XML 1.0 cannot carry).
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename, after
/// an fsync: the path holds either the old content or the whole new one, even across a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let werr = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        source: e,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(werr)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(werr)?;
    tmp.write_all(bytes).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    tmp.persist(path).map_err(|e| werr(e.error))?;
    Ok(())
}

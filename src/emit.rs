//! Emit: the output formats, and atomic writes (a reader never sees half a file).

use crate::doc::Document;
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// UTF-8 NFC text, one OCR line per line, pages separated by a form feed.
    Text,
    /// The versioned JSON document (schema "sohoa/1", docs/schema.md).
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Json => "json",
        }
    }

    /// The format an output path's extension asks for.
    pub fn from_path(p: &Path) -> Option<Format> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "txt" | "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn parse_list(s: &str) -> std::result::Result<Vec<Format>, String> {
        s.split(',')
            .map(|f| match f.trim() {
                "txt" | "text" => Ok(Format::Text),
                "json" => Ok(Format::Json),
                other => Err(format!("unknown format '{other}' (txt, json)")),
            })
            .collect()
    }
}

pub fn render(doc: &Document, format: Format) -> Vec<u8> {
    match format {
        Format::Text => doc.text().into_bytes(),
        Format::Json => {
            let mut v = serde_json::to_vec_pretty(doc).expect("documents serialise");
            v.push(b'\n');
            v
        }
    }
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename, after
/// an fsync: the path holds either the old content or the whole new one, even across a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let werr = |e: std::io::Error| Error::Write { path: path.to_path_buf(), source: e };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(werr)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tmp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(dir).map_err(werr)?;
    tmp.write_all(bytes).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    tmp.persist(path).map_err(|e| werr(e.error))?;
    Ok(())
}

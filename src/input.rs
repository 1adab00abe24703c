//! Triage: what is this file? Decided from its bytes, never its name.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Pdf,
    Png,
    Jpeg,
    Tiff,
}

impl Kind {
    /// Whether a file name looks like something sohoa reads (for directory walks).
    pub fn by_extension(path: &Path) -> Option<Kind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "pdf" => Kind::Pdf,
            "png" => Kind::Png,
            "jpg" | "jpeg" => Kind::Jpeg,
            "tif" | "tiff" => Kind::Tiff,
            _ => return None,
        })
    }
}

/// Identify a file from its first bytes. PDF allows junk before the header (up to 1 KiB, as
/// Acrobat does).
pub fn sniff(head: &[u8]) -> Result<Kind> {
    if head.is_empty() {
        return Err(Error::Empty);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Kind::Png);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Kind::Jpeg);
    }
    if head.starts_with(b"II*\0")
        || head.starts_with(b"MM\0*")
        || head.starts_with(b"II+\0")
        || head.starts_with(b"MM\0+")
    {
        return Ok(Kind::Tiff);
    }
    let window = &head[..head.len().min(1024)];
    if window.windows(5).any(|w| w == b"%PDF-") {
        return Ok(Kind::Pdf);
    }
    Err(Error::UnknownFormat)
}

/// What the JSON output says about the input file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SourceInfo {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub format: String,
    pub pages: usize,
}

/// Read the head of a file and hash all of it (streaming: a 2 GB PDF is never held in memory).
pub fn inspect(path: &Path) -> Result<(Kind, String, u64)> {
    let (sha, head, total) = hash_with_head(path)?;
    Ok((sniff(&head)?, sha, total))
}

/// One pass over a file: its SHA-256 (hex), its first 1,024 bytes and its length.
pub fn hash_with_head(path: &Path) -> Result<(String, Vec<u8>, u64)> {
    let read_err = |e| Error::Read {
        path: path.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.is_dir() {
        return Err(Error::Read {
            path: path.to_path_buf(),
            source: std::io::Error::other("is a directory"),
        });
    }
    let mut f = std::fs::File::open(path).map_err(read_err)?;
    let mut head = Vec::with_capacity(1024);
    let (sha, total) = sha256_stream(&mut f, |chunk| {
        if head.len() < 1024 {
            let take = (1024 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
    })
    .map_err(read_err)?;
    Ok((sha, head, total))
}

/// SHA-256 (hex) and length of everything `r` yields, read in 64 KiB chunks that `each` also sees.
pub fn sha256_stream(
    r: &mut impl Read,
    mut each: impl FnMut(&[u8]),
) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        each(&buf[..n]);
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bytes_is_empty_not_unknown() {
        assert!(matches!(sniff(b""), Err(Error::Empty)));
    }

    #[test]
    fn pdf_header_may_follow_junk() {
        assert_eq!(sniff(b"\r\n  %PDF-1.4\n...").unwrap(), Kind::Pdf);
    }

    #[test]
    fn text_is_not_a_document() {
        assert!(matches!(sniff(b"hello, world"), Err(Error::UnknownFormat)));
    }
}

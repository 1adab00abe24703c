//! Where inputs are read and results written, seen by every worker.
//!
//! [`Storage`] is addressed by paths relative to a root, with `/` separators. [`FsStorage`] is a
//! directory every machine mounts at the same path (NFS, SMB, a cluster file system): writes are
//! [`emit::write_atomic`] (temporary file, fsync, rename), so a reader on any machine sees a
//! whole result or none. Object storage (S3 and the like: PUT is atomic per object, listing by
//! prefix) fits the same methods; [`open`] is where its `s3://` roots would be recognised.

use crate::emit;
use std::path::{Path, PathBuf};

/// A readable local copy of an input: the file itself on a shared file system, a downloaded
/// temporary file for object storage (removed on drop).
pub struct LocalFile {
    pub path: PathBuf,
    _temp: Option<tempfile::TempPath>,
}

pub trait Storage: Send + Sync {
    /// The root as users write it (a path, a URL).
    fn root(&self) -> String;
    /// How an object is shown in reports and documents (`source.path`).
    fn display(&self, rel: &str) -> String;
    /// The input's bytes as a local file (PDFium and Tesseract read files).
    fn local(&self, rel: &str) -> std::io::Result<LocalFile>;
    /// The object's bytes, or `None` when it does not exist.
    fn get(&self, rel: &str) -> std::io::Result<Option<Vec<u8>>>;
    /// Write an object atomically: readers see the old content or the whole new one.
    fn put(&self, rel: &str, bytes: &[u8]) -> crate::Result<()>;
    fn exists(&self, rel: &str) -> bool;
    /// Names (not paths) of the objects directly under `dir`.
    fn list(&self, dir: &str) -> std::io::Result<Vec<String>>;
    /// Remove `dir` and everything under it (missing is fine).
    fn remove_all(&self, dir: &str) -> std::io::Result<()>;
    /// Every object under the root, as sorted relative paths, skipping `exclude` (relative
    /// directories); plus the folders that could not be read.
    fn walk(&self, exclude: &[String]) -> (Vec<String>, Vec<(String, std::io::Error)>);
}

/// A directory tree on a file system every worker mounts at the same path.
pub struct FsStorage {
    root: PathBuf,
}

impl FsStorage {
    pub fn new(root: impl Into<PathBuf>) -> FsStorage {
        FsStorage { root: root.into() }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

impl Storage for FsStorage {
    fn root(&self) -> String {
        self.root.display().to_string()
    }

    fn display(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    fn local(&self, rel: &str) -> std::io::Result<LocalFile> {
        let path = self.path(rel);
        std::fs::metadata(&path)?;
        Ok(LocalFile { path, _temp: None })
    }

    fn get(&self, rel: &str) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(rel)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn put(&self, rel: &str, bytes: &[u8]) -> crate::Result<()> {
        emit::write_atomic(&self.path(rel), bytes)
    }

    fn exists(&self, rel: &str) -> bool {
        self.path(rel).is_file()
    }

    fn list(&self, dir: &str) -> std::io::Result<Vec<String>> {
        let rd = match std::fs::read_dir(self.path(dir)) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut v: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        Ok(v)
    }

    fn remove_all(&self, dir: &str) -> std::io::Result<()> {
        match std::fs::remove_dir_all(self.path(dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn walk(&self, exclude: &[String]) -> (Vec<String>, Vec<(String, std::io::Error)>) {
        let exclude: Vec<PathBuf> = exclude
            .iter()
            .filter_map(|r| self.path(r).canonicalize().ok())
            .collect();
        let (files, errors) = crate::batch::walk(&self.root, &exclude, &|_| false);
        (
            files.iter().map(|p| crate::batch::rel_string(p)).collect(),
            errors
                .into_iter()
                .map(|(p, e)| (crate::batch::rel_string(&p), e))
                .collect(),
        )
    }
}

/// Storage for a root: a path now (made absolute, so jobs mean the same on every machine);
/// `s3://…` and other URLs are for later.
pub fn open(root: &Path) -> crate::Result<Box<dyn Storage>> {
    let s = root.to_string_lossy();
    if let Some((scheme, _)) = s.split_once("://") {
        return Err(crate::Error::Read {
            path: root.to_path_buf(),
            source: std::io::Error::other(format!(
                "{scheme}:// storage is not supported yet; use a path every worker mounts"
            )),
        });
    }
    Ok(Box::new(FsStorage::new(root)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fs_storage_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let s = FsStorage::new(d.path());
        assert_eq!(s.get("a/b.json").unwrap(), None);
        s.put("a/b.json", b"{}").unwrap();
        assert!(s.exists("a/b.json"));
        assert_eq!(s.get("a/b.json").unwrap().as_deref(), Some(&b"{}"[..]));
        assert_eq!(s.list("a").unwrap(), vec!["b.json".to_string()]);
        assert_eq!(s.list("missing").unwrap(), Vec::<String>::new());
        let (files, errs) = s.walk(&[]);
        assert_eq!(files, vec!["a/b.json".to_string()]);
        assert!(errs.is_empty());
        s.remove_all("a").unwrap();
        s.remove_all("a").unwrap();
        assert!(!s.exists("a/b.json"));
        assert!(open(Path::new("s3://bucket/x")).is_err());
    }
}

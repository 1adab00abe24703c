//! Where inputs are read and results written, seen by every worker.
//!
//! [`Storage`] is addressed by paths relative to a root, with `/` separators. [`FsStorage`] is a
//! directory every machine mounts at the same path (NFS, SMB, a cluster file system): writes are
//! [`emit::write_atomic`] (temporary file, fsync, rename), so a reader on any machine sees a
//! whole result or none. [`S3Storage`] is a prefix in an S3-compatible bucket (`s3://bucket/a/b`),
//! through the `object_store` crate: a PUT replaces an object whole (S3 never shows a part of an
//! upload), so writing the final name directly is the atomic write; folders are key prefixes.

use crate::emit;
use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

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
        let (files, errors) = crate::tree::walk(&self.root, &exclude, &|_| false);
        (
            files.iter().map(|p| crate::naming::rel_string(p)).collect(),
            errors
                .into_iter()
                .map(|(p, e)| (crate::naming::rel_string(&p), e))
                .collect(),
        )
    }
}

/// A prefix in an S3-compatible bucket. Credentials, region and endpoint come from the usual
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` for MinIO, SeaweedFS, Ceph, …).
pub struct S3Storage {
    store: AmazonS3,
    bucket: String,
    /// Key prefix without a trailing `/`; empty for the whole bucket.
    prefix: String,
}

/// One runtime drives every S3 request of the process; callers block on it from any thread
/// (the worker's slots are threads, not tasks).
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sohoa-s3")
        .enable_all()
        .build()
        .expect("a tokio runtime for S3 requests")
});

fn io(e: object_store::Error) -> std::io::Error {
    let kind = match e {
        object_store::Error::NotFound { .. } => std::io::ErrorKind::NotFound,
        _ => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, e)
}

impl S3Storage {
    /// `s3://bucket[/prefix]`, configured from the environment.
    pub fn new(url: &str) -> std::io::Result<S3Storage> {
        S3Storage::with_config(url, &[])
    }

    /// `s3://bucket[/prefix]`, configured from the environment and then `config`
    /// (`object_store` keys: `aws_endpoint_url`, `aws_access_key_id`, …).
    pub fn with_config(url: &str, config: &[(&str, &str)]) -> std::io::Result<S3Storage> {
        let rest = url
            .strip_prefix("s3://")
            .unwrap_or(url)
            .trim_end_matches('/');
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(std::io::Error::other(format!("{url}: no bucket")));
        }
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (k, v) in config {
            b = b.with_config(k.parse().map_err(io)?, *v);
        }
        // A plain-HTTP endpoint is one the user named (a server on the LAN or loopback).
        if (b.get_config_value(&AmazonS3ConfigKey::Endpoint))
            .is_some_and(|e| e.starts_with("http://"))
        {
            b = b.with_allow_http(true);
        }
        Ok(S3Storage {
            store: b.build().map_err(io)?,
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// `prefix/rel`, either possibly empty.
    fn join(&self, rel: &str) -> String {
        let rel = rel.trim_matches('/');
        match (self.prefix.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{rel}", self.prefix),
        }
    }

    /// The object key of `rel`, its characters kept as they are (`Key::from` would
    /// percent-encode `~`, `%`, `#`… and the names would differ from `batch`'s).
    fn key(&self, rel: &str) -> std::io::Result<Key> {
        Key::parse(self.join(rel)).map_err(|e| io(e.into()))
    }

    /// `key` relative to the root.
    fn rel(&self, key: &Key) -> String {
        let k = key.as_ref();
        let under = format!("{}/", self.prefix);
        let r = if self.prefix.is_empty() {
            k
        } else {
            k.strip_prefix(&under).unwrap_or(k)
        };
        r.to_string()
    }

    fn block<T>(
        &self,
        f: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> std::io::Result<T> {
        RUNTIME.block_on(f).map_err(io)
    }

    fn keys_under(&self, dir: &str) -> std::io::Result<Vec<Key>> {
        let prefix = self.key(dir)?;
        let list = self.store.list(Some(&prefix)).map_ok(|m| m.location);
        self.block(list.try_collect())
    }
}

impl Storage for S3Storage {
    fn root(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
            .trim_end_matches('/')
            .to_string()
    }

    fn display(&self, rel: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.join(rel))
    }

    fn local(&self, rel: &str) -> std::io::Result<LocalFile> {
        let bytes = self.get(rel)?.ok_or(std::io::ErrorKind::NotFound)?;
        // The extension is kept: readers may look at it.
        let ext = Path::new(rel)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()));
        let mut f = tempfile::Builder::new()
            .prefix(".sohoa-s3-")
            .suffix(ext.as_deref().unwrap_or(""))
            .tempfile()?;
        std::io::Write::write_all(&mut f, &bytes)?;
        let temp = f.into_temp_path();
        Ok(LocalFile {
            path: temp.to_path_buf(),
            _temp: Some(temp),
        })
    }

    fn get(&self, rel: &str) -> std::io::Result<Option<Vec<u8>>> {
        let key = self.key(rel)?;
        match self.block(async { self.store.get(&key).await?.bytes().await }) {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn put(&self, rel: &str, bytes: &[u8]) -> crate::Result<()> {
        let payload = PutPayload::from(bytes.to_vec());
        (self.key(rel))
            .and_then(|key| self.block(self.store.put(&key, payload)))
            .map(|_| ())
            .map_err(|source| crate::Error::Write {
                path: PathBuf::from(self.display(rel)),
                source,
            })
    }

    fn exists(&self, rel: &str) -> bool {
        (self.key(rel)).is_ok_and(|key| self.block(self.store.head(&key)).is_ok())
    }

    fn list(&self, dir: &str) -> std::io::Result<Vec<String>> {
        let r = self.block(self.store.list_with_delimiter(Some(&self.key(dir)?)))?;
        let names = r
            .objects
            .iter()
            .map(|o| &o.location)
            .chain(&r.common_prefixes);
        let mut v: Vec<String> = names
            .filter_map(|k| k.filename().map(str::to_string))
            .collect();
        v.sort();
        Ok(v)
    }

    fn remove_all(&self, dir: &str) -> std::io::Result<()> {
        for key in self.keys_under(dir)? {
            match self.block(self.store.delete(&key)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    fn walk(&self, exclude: &[String]) -> (Vec<String>, Vec<(String, std::io::Error)>) {
        let keys = match self.keys_under("") {
            Ok(k) => k,
            Err(e) => return (vec![], vec![(String::new(), e)]),
        };
        let inside = |rel: &str, dir: &String| {
            rel.strip_prefix(dir.as_str())
                .is_some_and(|r| r.starts_with('/'))
        };
        let mut v: Vec<String> = (keys.iter().map(|k| self.rel(k)))
            .filter(|rel| !rel.is_empty() && !exclude.iter().any(|d| inside(rel, d)))
            .collect();
        v.sort();
        (v, vec![])
    }
}

/// Storage for a root: `s3://bucket/prefix`, or a path (made absolute, so jobs mean the same on
/// every machine).
pub fn open(root: &str) -> crate::Result<Box<dyn Storage>> {
    let err = |source| crate::Error::Read {
        path: PathBuf::from(root),
        source,
    };
    if root.starts_with("s3://") {
        return Ok(Box::new(S3Storage::new(root).map_err(err)?));
    }
    if let Some((scheme, _)) = root.split_once("://") {
        let e = format!(
            "{scheme}:// storage is not supported; use s3:// or a path every worker mounts"
        );
        return Err(err(std::io::Error::other(e)));
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
        assert!(open("gs://bucket/x").is_err());
    }

    #[test]
    fn s3_keys_are_the_relative_paths_under_the_prefix() {
        let cfg = [
            ("aws_region", "us-east-1"),
            ("aws_endpoint_url", "http://127.0.0.1:1"),
        ];
        let s = S3Storage::with_config("s3://archive/scans/", &cfg).unwrap();
        assert_eq!(s.root(), "s3://archive/scans");
        assert_eq!(s.display("a/x~2.json"), "s3://archive/scans/a/x~2.json");
        assert_eq!(s.key("a/x~2.json").unwrap().as_ref(), "scans/a/x~2.json");
        assert_eq!(s.rel(&s.key("a/x.pdf").unwrap()), "a/x.pdf");
        let whole = S3Storage::with_config("s3://archive", &cfg).unwrap();
        assert_eq!(whole.root(), "s3://archive");
        assert_eq!(whole.key("x.pdf").unwrap().as_ref(), "x.pdf");
        assert!(S3Storage::with_config("s3://", &cfg).is_err());
    }
}

//! `sohoa watch IN OUT`: the drop-folder watcher. Runs for weeks; survives `kill -9`.
//!
//! A file under IN (recursively; hidden names and `*.part`/`*.tmp` ignored) is taken when its
//! size and mtime have not changed for `settle` and it opens. A file that does not open, is
//! empty, or fails as damaged is watched for `retry` (10 s) more before it is failed: a scanner
//! may still be writing it. Results go to `OUT/<stem>.txt` then `OUT/<stem>.json` (atomic
//! writes); the original then moves to `ARCHIVE/<stem>.<ext>`; a failure moves it to
//! `FAILED/<stem>.<ext>` next to `FAILED/<stem>.<ext>.error.txt`, whose first line is the reason.
//!
//! # Naming rule and journal
//!
//! `<stem>` is the input's path relative to IN without its extension (`IN/a/x.pdf` → `a/x`),
//! unless that name is already used, in which case it is `a/x~2`, `a/x~3`, …. A name is used
//! when the journal holds a claim on it or any of `OUT/<stem>.json`, `OUT/<stem>.txt`,
//! `ARCHIVE/<stem>.<ext>`, `FAILED/<stem>.<ext>` exists. So a second drop of `a/x.pdf`, or
//! `a/x.tif` beside it, never overwrites the results of the first.
//!
//! The journal `OUT/.sohoa/watch.jsonl` is appended to (and flushed to disk) at two points per
//! file: a `claim` (input path, content SHA-256, chosen stem) before anything is written, and a
//! `done` after the original has been moved. A claim without `done` is unfinished: when the
//! same input (same relative path) is found again, it gets the unfinished claim's stem back if
//! its content hash is the same, or if no results were written under that stem yet. So a
//! `kill -9` between writing the results and moving the original leads, on restart, to the same
//! result name (and, as the JSON output records the input's hash, no second OCR run), never to a
//! second result. At start, unfinished claims whose input is gone are settled: `ok` when the
//! original is in the archive, `failed` when it is in the failed folder (the move is a rename,
//! so one of the two holds), `vanished` otherwise (removed by someone else; logged).

use crate::emit::{self, Format};
use crate::error::{Error, Result};
use crate::naming::rel_string;
use crate::pipeline::Pipeline;
use crate::publish::{self, write_err as werr, Dir};
use crate::tree::{sha256_file, walk, STATE_DIR};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The watch journal's name inside [`STATE_DIR`].
pub const JOURNAL: &str = "watch.jsonl";

/// How often the loop wakes to look at files waiting to settle.
const TICK: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Where originals go after their results are written [default: OUT/archive].
    pub archive: Option<PathBuf>,
    /// Where originals that failed go, with `<name>.error.txt` [default: OUT/failed].
    pub failed: Option<PathBuf>,
    /// Size and mtime must stay unchanged this long before a file is taken.
    pub settle: Duration,
    /// Look for new files by walking IN every `poll_interval` instead of `notify` events.
    pub poll: bool,
    pub poll_interval: Duration,
    /// A file that does not open, is empty or fails as damaged is watched this long before it is
    /// failed (it may still be being written).
    pub retry: Duration,
}

impl WatchOptions {
    pub fn new(input: PathBuf, output: PathBuf) -> WatchOptions {
        WatchOptions {
            input,
            output,
            archive: None,
            failed: None,
            settle: Duration::from_secs(2),
            poll: false,
            poll_interval: Duration::from_secs(1),
            retry: Duration::from_secs(10),
        }
    }
}

/// What a watch run did, for the closing log line.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub ok: usize,
    pub failed: usize,
    pub pages: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Ok,
    Failed,
    Vanished,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Rec {
    Claim {
        id: u64,
        input: String,
        sha256: String,
        stem: String,
        ext: String,
    },
    Done {
        id: u64,
        outcome: Outcome,
    },
}

#[derive(Debug, Clone)]
struct Claim {
    input: String,
    sha256: String,
    stem: String,
    /// The original's extension with its dot ("" when none).
    ext: String,
    outcome: Option<Outcome>,
}

/// Why a file failed: a stable tag and a sentence.
#[derive(Debug, Clone)]
struct Failure {
    kind: String,
    message: String,
}

impl From<&Error> for Failure {
    fn from(e: &Error) -> Failure {
        Failure {
            kind: e.kind().into(),
            message: e.to_string(),
        }
    }
}

/// Failures that an incomplete file also produces: watched for `retry` before they are final.
fn maybe_incomplete(kind: &str) -> bool {
    matches!(
        kind,
        "empty" | "unreadable" | "damaged-pdf" | "damaged-image"
    )
}

/// Names the watcher never takes: hidden ones (any component) and write-then-rename temporaries.
pub fn ignored(rel: &Path) -> bool {
    if rel
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
    {
        return true;
    }
    matches!(
        rel.extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref(),
        Some("part") | Some("tmp")
    )
}

/// The journal and the folders: everything that must survive a crash.
struct Store {
    in_dir: PathBuf,
    out_dir: PathBuf,
    archive: PathBuf,
    failed: PathBuf,
    journal_path: PathBuf,
    journal: std::fs::File,
    claims: BTreeMap<u64, Claim>,
    stems: HashSet<String>,
    next_id: u64,
    crash_at: Option<String>,
}

fn split_ext(rel: &str) -> (String, String) {
    let p = Path::new(rel);
    match (p.file_stem(), p.extension()) {
        (Some(stem), Some(ext)) => {
            let parent = p.parent().map(rel_string).unwrap_or_default();
            let stem = stem.to_string_lossy();
            let base = if parent.is_empty() {
                stem.into_owned()
            } else {
                format!("{parent}/{stem}")
            };
            (base, format!(".{}", ext.to_string_lossy()))
        }
        _ => (rel.to_string(), String::new()),
    }
}

impl Store {
    fn open(in_dir: PathBuf, out_dir: PathBuf, archive: PathBuf, failed: PathBuf) -> Result<Store> {
        let journal_path = out_dir.join(STATE_DIR).join(JOURNAL);
        std::fs::create_dir_all(journal_path.parent().expect("journal has a folder"))
            .map_err(werr(&journal_path))?;
        let mut claims: BTreeMap<u64, Claim> = BTreeMap::new();
        if let Ok(text) = std::fs::read_to_string(&journal_path) {
            // A line cut short by a crash does not parse and is ignored: it was a claim with
            // nothing written after it, or a done whose move is found again below.
            for line in text.lines() {
                match serde_json::from_str::<Rec>(line) {
                    Ok(Rec::Claim {
                        id,
                        input,
                        sha256,
                        stem,
                        ext,
                    }) => {
                        claims.insert(
                            id,
                            Claim {
                                input,
                                sha256,
                                stem,
                                ext,
                                outcome: None,
                            },
                        );
                    }
                    Ok(Rec::Done { id, outcome }) => {
                        if let Some(c) = claims.get_mut(&id) {
                            c.outcome = Some(outcome);
                        }
                    }
                    Err(_) => {}
                }
            }
        }
        let next_id = claims.keys().next_back().map(|k| k + 1).unwrap_or(1);
        let stems = claims.values().map(|c| c.stem.clone()).collect();
        // Compact (one claim line, plus its done, per claim) and start a clean file.
        let mut text = String::new();
        let line = |r: &Rec| serde_json::to_string(r).expect("journal lines serialise") + "\n";
        for (id, c) in &claims {
            text.push_str(&line(&Rec::Claim {
                id: *id,
                input: c.input.clone(),
                sha256: c.sha256.clone(),
                stem: c.stem.clone(),
                ext: c.ext.clone(),
            }));
            if let Some(o) = c.outcome {
                text.push_str(&line(&Rec::Done {
                    id: *id,
                    outcome: o,
                }));
            }
        }
        emit::write_atomic(&journal_path, text.as_bytes())?;
        let journal = std::fs::OpenOptions::new()
            .append(true)
            .open(&journal_path)
            .map_err(werr(&journal_path))?;
        let mut store = Store {
            in_dir,
            out_dir,
            archive,
            failed,
            journal_path,
            journal,
            claims,
            stems,
            next_id,
            crash_at: std::env::var("SOHOA_WATCH_CRASH")
                .ok()
                .filter(|s| !s.is_empty()),
        };
        store.settle_unfinished()?;
        Ok(store)
    }

    /// Unfinished claims whose input is no longer in IN: the original was moved (or removed).
    fn settle_unfinished(&mut self) -> Result<()> {
        let open: Vec<u64> = self
            .claims
            .iter()
            .filter(|(_, c)| c.outcome.is_none())
            .map(|(k, _)| *k)
            .collect();
        for id in open {
            let c = self.claims[&id].clone();
            if self.in_dir.join(&c.input).exists() {
                continue;
            }
            let outcome = if self.archive_path(&c).exists() {
                Outcome::Ok
            } else if self.failed_path(&c).exists() {
                Outcome::Failed
            } else {
                log::warn!(
                    "{}: removed from the drop folder before it was done; results, if any: {}",
                    c.input,
                    self.json_path(&c.stem).display()
                );
                Outcome::Vanished
            };
            self.done(id, outcome)?;
        }
        Ok(())
    }

    fn append(&mut self, r: &Rec) -> Result<()> {
        let mut line = serde_json::to_vec(r).expect("journal lines serialise");
        line.push(b'\n');
        self.journal
            .write_all(&line)
            .map_err(werr(&self.journal_path))?;
        self.journal.sync_data().map_err(werr(&self.journal_path))
    }

    fn done(&mut self, id: u64, outcome: Outcome) -> Result<()> {
        self.append(&Rec::Done { id, outcome })?;
        if let Some(c) = self.claims.get_mut(&id) {
            c.outcome = Some(outcome);
        }
        Ok(())
    }

    fn json_path(&self, stem: &str) -> PathBuf {
        self.out_dir.join(format!("{stem}.json"))
    }

    fn txt_path(&self, stem: &str) -> PathBuf {
        self.out_dir.join(format!("{stem}.txt"))
    }

    fn archive_path(&self, c: &Claim) -> PathBuf {
        self.archive.join(format!("{}{}", c.stem, c.ext))
    }

    fn failed_path(&self, c: &Claim) -> PathBuf {
        self.failed.join(format!("{}{}", c.stem, c.ext))
    }

    fn results_exist(&self, stem: &str) -> bool {
        self.json_path(stem).exists() || self.txt_path(stem).exists()
    }

    fn stem_free(&self, stem: &str, ext: &str) -> bool {
        let c = Claim {
            input: String::new(),
            sha256: String::new(),
            stem: stem.into(),
            ext: ext.into(),
            outcome: None,
        };
        !self.stems.contains(stem)
            && !self.results_exist(stem)
            && !self.archive_path(&c).exists()
            && !self.failed_path(&c).exists()
    }

    /// The claim for input `rel` with content `sha`: an unfinished one of the same input when
    /// the naming rule allows, else a new one under a free name. Durable when this returns.
    fn claim(&mut self, rel: &str, sha: &str) -> Result<u64> {
        let unfinished: Vec<u64> = self
            .claims
            .iter()
            .rev()
            .filter(|(_, c)| c.outcome.is_none() && c.input == rel)
            .map(|(k, _)| *k)
            .collect();
        if let Some(id) = unfinished.iter().find(|id| self.claims[id].sha256 == sha) {
            return Ok(*id);
        }
        if let Some(id) = unfinished
            .iter()
            .find(|id| !self.results_exist(&self.claims[id].stem))
            .copied()
        {
            let c = self.claims.get_mut(&id).expect("claim exists");
            c.sha256 = sha.to_string();
            let rec = Rec::Claim {
                id,
                input: c.input.clone(),
                sha256: c.sha256.clone(),
                stem: c.stem.clone(),
                ext: c.ext.clone(),
            };
            self.append(&rec)?;
            return Ok(id);
        }
        let (base, ext) = split_ext(rel);
        let mut stem = base.clone();
        let mut n = 1;
        while !self.stem_free(&stem, &ext) {
            n += 1;
            stem = format!("{base}~{n}");
        }
        let id = self.next_id;
        self.next_id += 1;
        self.append(&Rec::Claim {
            id,
            input: rel.into(),
            sha256: sha.into(),
            stem: stem.clone(),
            ext: ext.clone(),
        })?;
        self.stems.insert(stem.clone());
        self.claims.insert(
            id,
            Claim {
                input: rel.into(),
                sha256: sha.into(),
                stem,
                ext,
                outcome: None,
            },
        );
        Ok(id)
    }

    /// Test hook: `SOHOA_WATCH_CRASH=<point>` kills the process (SIGKILL, as `kill -9`) there.
    fn crash_point(&self, point: &str) {
        if self.crash_at.as_deref() == Some(point) {
            eprintln!("sohoa watch: SOHOA_WATCH_CRASH={point}: killing myself");
            // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }

    /// Whether the JSON result of claim `id` is complete for its content (text is written first).
    fn results_complete(&self, id: u64) -> Option<usize> {
        let c = &self.claims[&id];
        if !self.txt_path(&c.stem).is_file() {
            return None;
        }
        let r = publish::recorded_in(&self.json_path(&c.stem))?;
        (r.sha256 == c.sha256).then_some(r.pages)
    }

    /// Write the results of claim `id`; the caller archives the original next.
    fn write_results(&self, id: u64, doc: &crate::Document) -> Result<Vec<PathBuf>> {
        let stem = &self.claims[&id].stem;
        let outs = publish::names(stem, &publish::formats(&[Format::Text, Format::Json]));
        publish::publish(&Dir(&self.out_dir), doc, &outs, &mut |f| {
            if f == Format::Text {
                self.crash_point("after-txt");
            }
        })?;
        Ok(vec![self.json_path(stem), self.txt_path(stem)])
    }

    /// Move the original of claim `id` to the archive and record it done.
    fn archive(&mut self, id: u64) -> Result<PathBuf> {
        let c = self.claims[&id].clone();
        let dst = self.archive_path(&c);
        move_file(&self.in_dir.join(&c.input), &dst).map_err(werr(&dst))?;
        self.crash_point("after-move");
        self.done(id, Outcome::Ok)?;
        Ok(dst)
    }

    /// Write the reason, move the original of claim `id` to the failed folder, record it done.
    fn fail(&mut self, id: u64, f: &Failure) -> Result<PathBuf> {
        let c = self.claims[&id].clone();
        let dst = self.failed_path(&c);
        let note = dst.with_file_name(format!(
            "{}.error.txt",
            dst.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let when = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let text = format!(
            "{}\nreason: {}\ninput: {}\nsha256: {}\nfailed at: {} (unix time)\n",
            f.message,
            f.kind,
            self.in_dir.join(&c.input).display(),
            if c.sha256.is_empty() {
                "(not readable)"
            } else {
                &c.sha256
            },
            when
        );
        emit::write_atomic(&note, text.as_bytes())?;
        self.crash_point("after-error-note");
        move_file(&self.in_dir.join(&c.input), &dst).map_err(werr(&dst))?;
        self.done(id, Outcome::Failed)?;
        Ok(dst)
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Move a file: a rename, or across file systems a copy to a temporary name beside `dst`, an
/// fsync, a rename, then removing `src` (a crash in between leaves both, never neither).
pub fn move_file(src: &Path, dst: &Path) -> std::io::Result<()> {
    let dir = match dst.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    match std::fs::rename(src, dst) {
        Ok(()) => {
            sync_dir(&dir);
            if let Some(p) = src.parent() {
                sync_dir(p);
            }
            Ok(())
        }
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let mut tmp = tempfile::Builder::new()
                .prefix(".sohoa-move.")
                .suffix(".tmp")
                .tempfile_in(&dir)?;
            let mut from = std::fs::File::open(src)?;
            std::io::copy(&mut from, tmp.as_file_mut())?;
            // Keep what a rename would keep: permissions and modification time.
            if let Ok(m) = from.metadata() {
                let _ = tmp.as_file().set_permissions(m.permissions());
                if let Ok(t) = m.modified() {
                    let _ = tmp.as_file().set_modified(t);
                }
            }
            tmp.as_file().sync_all()?;
            tmp.persist(dst).map_err(|e| e.error)?;
            sync_dir(&dir);
            std::fs::remove_file(src)
        }
        Err(e) => Err(e),
    }
}

/// A file seen in IN and not yet done.
#[derive(Debug)]
struct Track {
    size: u64,
    mtime: Option<SystemTime>,
    /// When (size, mtime) last changed (or the file was first seen).
    since: Instant,
    /// Do not look at it before this.
    next: Instant,
    /// The first failed attempt to open it (or to find it non-empty) since it last changed.
    trouble: Option<Instant>,
    /// A failure that an incomplete file also gives, waiting out `retry` before it is final.
    held: Option<(u64, Failure, Instant)>,
}

fn stat(path: &Path) -> std::io::Result<(u64, Option<SystemTime>)> {
    let m = std::fs::metadata(path)?;
    if !m.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok((m.len(), m.modified().ok()))
}

struct Watcher<'a> {
    pipeline: &'a Pipeline,
    opts: &'a WatchOptions,
    store: Store,
    /// Canonical IN, and the canonical folders inside it that are not inputs.
    root: PathBuf,
    exclude: Vec<PathBuf>,
    tracked: BTreeMap<PathBuf, Track>,
    stats: Stats,
}

/// Watch until `stop` is set (then finish the files in hand and return).
pub fn run(pipeline: &Pipeline, opts: &WatchOptions, stop: &AtomicBool) -> Result<Stats> {
    let in_dir = &opts.input;
    if !in_dir.is_dir() {
        return Err(Error::Read {
            path: in_dir.clone(),
            source: std::io::Error::other("not a directory"),
        });
    }
    let out_dir = opts.output.clone();
    let archive = opts
        .archive
        .clone()
        .unwrap_or_else(|| out_dir.join("archive"));
    let failed = opts
        .failed
        .clone()
        .unwrap_or_else(|| out_dir.join("failed"));
    for d in [&out_dir, &archive, &failed] {
        std::fs::create_dir_all(d).map_err(werr(d))?;
    }
    let root = in_dir.canonicalize().map_err(|e| Error::Read {
        path: in_dir.clone(),
        source: e,
    })?;
    let exclude: Vec<PathBuf> = [&out_dir, &archive, &failed]
        .iter()
        .filter_map(|d| d.canonicalize().ok())
        .collect();
    let store = Store::open(
        root.clone(),
        out_dir.clone(),
        archive.clone(),
        failed.clone(),
    )?;
    let mut w = Watcher {
        pipeline,
        opts,
        store,
        root,
        exclude,
        tracked: BTreeMap::new(),
        stats: Stats::default(),
    };

    let (tx, rx) = crossbeam_channel::unbounded::<PathBuf>();
    let mut _notify = None;
    if !opts.poll {
        use notify::Watcher as _;
        let handler = move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                for p in ev.paths {
                    let _ = tx.send(p);
                }
            }
        };
        match notify::recommended_watcher(handler).and_then(|mut n| {
            n.watch(&w.root, notify::RecursiveMode::Recursive)
                .map(|_| n)
        }) {
            Ok(n) => _notify = Some(n),
            Err(e) => log::warn!(
                "file events unavailable ({e}); polling every {:?} instead",
                opts.poll_interval
            ),
        }
    }
    // With events, a full walk now and then is only a safety net (overflowed event queues).
    let rescan_every = if _notify.is_some() {
        Duration::from_secs(30)
    } else {
        opts.poll_interval
    };
    eprintln!(
        "sohoa watch: watching {} ({}); results in {}, originals to {}, failures to {}",
        in_dir.display(),
        if _notify.is_some() {
            "file events"
        } else {
            "polling"
        },
        out_dir.display(),
        archive.display(),
        failed.display()
    );
    let mut last_scan: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        let mut dirty: Vec<PathBuf> = Vec::new();
        if let Ok(p) = rx.recv_timeout(TICK) {
            dirty.push(p);
        }
        while let Ok(p) = rx.try_recv() {
            dirty.push(p);
        }
        dirty.sort();
        dirty.dedup();
        for p in dirty {
            w.consider(&p);
        }
        if last_scan.is_none_or(|t| t.elapsed() >= rescan_every) {
            w.scan(Path::new(""));
            last_scan = Some(Instant::now());
        }
        let ready = w.check();
        if !ready.is_empty() {
            w.process(ready);
        }
    }
    Ok(w.stats)
}

impl Watcher<'_> {
    fn in_exclude(&self, abs: &Path) -> bool {
        self.exclude.iter().any(|x| abs.starts_with(x))
    }

    /// A path from a file event.
    fn consider(&mut self, abs: &Path) {
        let Ok(rel) = abs.strip_prefix(&self.root).map(Path::to_path_buf) else {
            return;
        };
        if rel.as_os_str().is_empty() || ignored(&rel) || self.in_exclude(abs) {
            return;
        }
        match std::fs::metadata(abs) {
            Ok(m) if m.is_dir() => self.scan(&rel),
            Ok(m) if m.is_file() => self.track(rel),
            _ => {}
        }
    }

    /// Walk IN (or a folder in it) for files to track.
    fn scan(&mut self, sub: &Path) {
        let (files, _errors) = walk(&self.root.join(sub), &self.exclude, &ignored);
        for f in files {
            let rel = sub.join(f);
            if !ignored(&rel) {
                self.track(rel);
            }
        }
    }

    fn track(&mut self, rel: PathBuf) {
        if self.tracked.contains_key(&rel) {
            return;
        }
        let Ok((size, mtime)) = stat(&self.root.join(&rel)) else {
            return;
        };
        let now = Instant::now();
        self.tracked.insert(
            rel,
            Track {
                size,
                mtime,
                since: now,
                next: now,
                trouble: None,
                held: None,
            },
        );
    }

    /// Look at the files whose time has come; return those ready to process (at most `jobs`),
    /// each with its claim. Files failed before OCR are settled here.
    fn check(&mut self) -> Vec<(PathBuf, u64)> {
        let now = Instant::now();
        let settle = self.opts.settle;
        let retry = self.opts.retry;
        let max = self.pipeline.options().jobs.max(1);
        let mut ready: Vec<(PathBuf, String)> = Vec::new();
        let mut gone: Vec<PathBuf> = Vec::new();
        let mut to_fail: Vec<(PathBuf, String, Failure)> = Vec::new();
        let mut held_final: Vec<(PathBuf, u64, Failure)> = Vec::new();
        let keys: Vec<PathBuf> = self
            .tracked
            .iter()
            .filter(|(_, t)| t.next <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for rel in keys {
            if ready.len() >= max {
                break;
            }
            let path = self.root.join(&rel);
            let t = self.tracked.get_mut(&rel).expect("tracked");
            let (size, mtime) = match stat(&path) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    gone.push(rel);
                    continue;
                }
                Err(_) => {
                    t.next = now + Duration::from_secs(1);
                    continue;
                }
            };
            if (size, mtime) != (t.size, t.mtime) {
                *t = Track {
                    size,
                    mtime,
                    since: now,
                    next: now + settle,
                    trouble: None,
                    held: None,
                };
                continue;
            }
            if now.duration_since(t.since) < settle {
                t.next = t.since + settle;
                continue;
            }
            if let Some((id, f, at)) = &t.held {
                if now.duration_since(*at) >= retry {
                    held_final.push((rel, *id, f.clone()));
                } else {
                    t.next = *at + retry;
                }
                continue;
            }
            // Settled: does it open?
            match crate::input::inspect(&path) {
                Ok((_, sha, bytes)) if bytes == size => {
                    // Not looked at again while in hand (process() settles it).
                    t.next = now + Duration::from_secs(3600);
                    ready.push((rel, sha));
                }
                Ok(_) => {
                    // Changed while being read: settle again.
                    t.since = now;
                    t.next = now + settle;
                }
                Err(e) if maybe_incomplete(e.kind()) => {
                    let first = *t.trouble.get_or_insert(now);
                    if now.duration_since(first) >= retry {
                        let sha = sha256_file(&path).unwrap_or_default();
                        to_fail.push((rel, sha, Failure::from(&e)));
                    } else {
                        t.next = now + Duration::from_secs(1);
                    }
                }
                Err(e) => {
                    let sha = sha256_file(&path).unwrap_or_default();
                    to_fail.push((rel, sha, Failure::from(&e)));
                }
            }
        }
        for rel in gone {
            self.tracked.remove(&rel);
        }
        for (rel, sha, f) in to_fail {
            match self.store.claim(&rel_string(&rel), &sha) {
                Ok(id) => self.fail(&rel, id, &f, 0, 0.0),
                Err(e) => self.trouble(&rel, &e),
            }
        }
        for (rel, id, f) in held_final {
            self.fail(&rel, id, &f, 0, 0.0);
        }
        // Claim the ready ones (durably, before anything is written for them).
        let mut out = Vec::new();
        for (rel, sha) in ready {
            match self.store.claim(&rel_string(&rel), &sha) {
                Ok(id) => out.push((rel, id)),
                Err(e) => self.trouble(&rel, &e),
            }
        }
        out
    }

    /// Our own trouble (cannot write OUT, cannot move): log, leave the file, look again later.
    fn trouble(&mut self, rel: &Path, e: &Error) {
        eprintln!(
            "sohoa watch: {}: {e}; will try again in 30 s",
            rel.display()
        );
        if let Some(t) = self.tracked.get_mut(rel) {
            t.next = Instant::now() + Duration::from_secs(30);
        }
    }

    fn fail(&mut self, rel: &Path, id: u64, f: &Failure, pages: usize, secs: f64) {
        match self.store.fail(id, f) {
            Ok(dst) => {
                self.stats.failed += 1;
                self.tracked.remove(rel);
                eprintln!(
                    "sohoa watch: {}: failed ({}: {}), {pages} pages, {secs:.1} s -> {} (reason in {}.error.txt)",
                    rel.display(),
                    f.kind,
                    f.message,
                    dst.display(),
                    dst.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
                );
            }
            Err(e) => self.trouble(rel, &e),
        }
    }

    fn archived(&mut self, rel: &Path, id: u64, pages: usize, secs: f64, results: &[PathBuf]) {
        match self.store.archive(id) {
            Ok(dst) => {
                self.stats.ok += 1;
                self.stats.pages += pages;
                self.tracked.remove(rel);
                let r: Vec<String> = results.iter().map(|p| p.display().to_string()).collect();
                eprintln!(
                    "sohoa watch: {}: {pages} pages, {secs:.1} s -> {}; original -> {}",
                    rel.display(),
                    r.join(", "),
                    dst.display()
                );
            }
            Err(e) => self.trouble(rel, &e),
        }
    }

    /// OCR the claimed files together (pages of all of them in parallel) and settle each.
    fn process(&mut self, ready: Vec<(PathBuf, u64)>) {
        self.store.crash_point("after-claim");
        let mut todo: Vec<(PathBuf, u64)> = Vec::new();
        for (rel, id) in ready {
            // Results already written for this content (a crash before the move): just move.
            if let Some(pages) = self.store.results_complete(id) {
                let stem = self.store.claims[&id].stem.clone();
                let results = vec![self.store.json_path(&stem), self.store.txt_path(&stem)];
                self.archived(&rel, id, pages, 0.0, &results);
            } else {
                todo.push((rel, id));
            }
        }
        if todo.is_empty() {
            return;
        }
        let paths: Vec<PathBuf> = todo.iter().map(|(r, _)| self.root.join(r)).collect();
        let taken: Vec<Option<(u64, Option<SystemTime>)>> =
            paths.iter().map(|p| stat(p).ok()).collect();
        let never = AtomicBool::new(false);
        let t0 = Instant::now();
        let mut results: Vec<(usize, Result<crate::Document>, f64)> = Vec::new();
        let pipeline = self.pipeline;
        // Settle each file as it completes, so a long one does not hold back the others.
        let mut on_done = |i: usize, r: Result<crate::Document>| {
            let secs = t0.elapsed().as_secs_f64();
            let (rel, id) = &todo[i];
            let done = match r {
                Ok(doc) if stat(&paths[i]).ok() != taken[i] => {
                    // Written to again while we read it: do it again once it settles.
                    log::info!(
                        "{}: changed while being read; will take it again",
                        rel.display()
                    );
                    let _ = doc;
                    if let Some(t) = self.tracked.get_mut(rel) {
                        let now = Instant::now();
                        t.since = now;
                        t.next = now;
                        t.size = u64::MAX;
                    }
                    None
                }
                Ok(doc) => {
                    let pages = doc.pages.len();
                    match self.store.write_results(*id, &doc) {
                        Ok(res) => {
                            self.store.crash_point("after-results");
                            self.archived(rel, *id, pages, secs, &res);
                        }
                        Err(e) => self.trouble(rel, &e),
                    }
                    None
                }
                Err(e) => Some((i, Err(e), secs)),
            };
            if let Some(d) = done {
                results.push(d);
            }
        };
        pipeline.process_files(&paths, &never, &mut |_| {}, &mut on_done);
        let now = Instant::now();
        for (i, r, secs) in results {
            let (rel, id) = todo[i].clone();
            let Err(e) = r else { continue };
            let f = Failure::from(&e);
            if maybe_incomplete(&f.kind) {
                // Perhaps still being written: fail it only if it stays unchanged for `retry`.
                if let Some(t) = self.tracked.get_mut(&rel) {
                    t.held = Some((id, f, now));
                    t.next = now + self.opts.retry;
                }
            } else {
                self.fail(&rel, id, &f, 0, secs);
            }
        }
    }
}

//! Scale-out: one archive batch across many machines, through a [`Queue`].
//!
//! - [`submit`] walks a tree as `sohoa batch` does and enqueues one job per input, a large PDF
//!   split into page ranges ([`SubmitOptions::pages_per_job`]). Jobs are content-addressed and
//!   the queue refuses a job that is already queued or running, so submitting twice adds
//!   nothing; inputs whose results are already in OUT (same SHA-256) are skipped as `batch`
//!   skips them.
//! - [`work`] takes jobs, OCRs them with the same [`Pipeline`], writes results into the output
//!   tree with the names and atomic writes of `batch` (both through [`crate::publish`]) and then
//!   acknowledges. A range job writes a partial document under `OUT/.sohoa/parts/`; the job that
//!   finds all ranges of its file done merges them into the results. Acknowledging is atomic with the bookkeeping, so a worker may
//!   die at any moment: its job comes back after the ack timeout and the results are written
//!   once more over themselves, never beside themselves.
//! - [`status`] reads the counters and, once nothing is queued or running, writes each run's
//!   `OUT/report.json` in the format of [`Report`].
//!
//! Storage goes through [`storage::Storage`]: a path every worker mounts, or an `s3://` prefix in
//! S3-compatible object storage. See docs/scale-out.md.

pub mod pages;
pub mod storage;

use crate::emit::Format;
use crate::error::Error;
use crate::input::{self, Kind, SourceInfo};
use crate::pipeline::Pipeline;
use crate::publish::{self, Sink};
use crate::queue::{self, Counts, DeadLetter, Delivery, FileRecord, Job, Queue};
use crate::report::{self, Entry, Report, Settings, Status, Summary};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use storage::Storage;

/// Where partial documents of split files wait for their merge, inside OUT.
pub const PARTS_DIR: &str = ".sohoa/parts";

fn sha_hex(s: &str) -> String {
    input::hex(&Sha256::digest(s.as_bytes()))
}

/// A run's id: from its output tree (one report per output tree).
pub fn run_id(output_root: &str) -> String {
    sha_hex(output_root)[..16].to_string()
}

/// Results go into shared storage as `batch` writes them into a folder: each output one
/// atomic put. An output already written stays when the next fails: the job comes back and
/// writes it again over itself.
struct Shared<'a>(&'a dyn Storage);

impl Sink for Shared<'_> {
    fn put(&self, rel: &str, bytes: &[u8]) -> crate::Result<()> {
        self.0.put(rel, bytes)
    }

    fn display(&self, rel: &str) -> String {
        self.0.display(rel)
    }
}

// --- submit ----------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct SubmitOptions {
    pub input: PathBuf,
    /// Default: a folder beside IN named `<IN>-ocr`.
    pub output: Option<PathBuf>,
    pub formats: Vec<Format>,
    /// PDFs with more pages than this are split into jobs of this many pages.
    pub pages_per_job: usize,
    /// Redo inputs whose results exist, and queue jobs even when the same ones are in flight.
    pub force: bool,
}

/// What a submit did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SubmitSummary {
    pub queue: String,
    pub run: String,
    pub input: String,
    pub output: String,
    /// Files found under IN.
    pub files: usize,
    /// Jobs added to the queue now.
    pub jobs_added: usize,
    /// Jobs that were already queued or running (an earlier submit of the same files).
    pub jobs_in_flight: usize,
    /// Pages in the files with jobs (PDFs; images count 1, TIFFs 0 until OCRed).
    pub pages: usize,
    /// Files whose results are already in OUT.
    pub up_to_date: usize,
    /// Files that are not PDF/PNG/JPEG/TIFF by name.
    pub unsupported: usize,
    /// Files or folders that could not be read.
    pub unreadable: usize,
}

/// The page ranges a PDF of `pages` pages is split into (`None`: one job for the whole file).
pub fn split(pages: usize, per_job: usize) -> Vec<Option<[usize; 2]>> {
    let per_job = per_job.max(1);
    if pages <= per_job {
        return vec![None];
    }
    (0..pages.div_ceil(per_job))
        .map(|k| Some([k * per_job + 1, ((k + 1) * per_job).min(pages)]))
        .collect()
}

fn is_url(p: &Path) -> bool {
    p.to_string_lossy().contains("://")
}

/// IN's and OUT's storages, and OUT relative to IN when it is inside (left out of the walk).
type Roots = (Box<dyn Storage>, Box<dyn Storage>, Vec<String>);

/// The roots of a submit. Paths are made absolute (OUT created): jobs must mean the same on
/// every machine.
fn submit_roots(input: &Path, output: Option<&Path>) -> anyhow::Result<Roots> {
    let url = |p: &Path| p.to_string_lossy().trim_end_matches('/').to_string();
    let input = if is_url(input) {
        url(input)
    } else {
        let abs =
            (input.canonicalize()).with_context(|| format!("{}: cannot read", input.display()))?;
        if !abs.is_dir() {
            anyhow::bail!("{}: not a directory", input.display());
        }
        abs.display().to_string()
    };
    let output = match output {
        Some(o) if is_url(o) => url(o),
        Some(o) => o.to_path_buf().display().to_string(),
        // `<IN>-ocr` beside IN.
        None => format!("{}-ocr", input.trim_end_matches('/')),
    };
    let output = if is_url(Path::new(&output)) {
        output
    } else {
        std::fs::create_dir_all(&output).with_context(|| format!("{output}: cannot create"))?;
        Path::new(&output).canonicalize()?.display().to_string()
    };
    let exclude = (output.strip_prefix(&format!("{input}/")))
        .map(|r| vec![r.to_string()])
        .unwrap_or_default();
    Ok((storage::open(&input)?, storage::open(&output)?, exclude))
}

/// Enqueue a tree. See the module documentation.
pub fn submit(q: &mut dyn Queue, opts: &SubmitOptions) -> anyhow::Result<SubmitSummary> {
    let (in_store, out_store, exclude) = submit_roots(&opts.input, opts.output.as_deref())?;
    let formats = publish::formats(&opts.formats);
    let run = run_id(&out_store.root());
    let submitted_at = queue::now();
    q.put_run(&queue::RunRecord {
        id: run.clone(),
        input: in_store.root(),
        output: out_store.root(),
        formats: formats.clone(),
        submitted_at,
    })?;
    let mut sum = SubmitSummary {
        queue: q.url(),
        run: run.clone(),
        input: in_store.root(),
        output: out_store.root(),
        ..Default::default()
    };

    let (files, dir_errors) = in_store.walk(&exclude);
    // IN itself unreadable (a bucket without access, say): nothing to record, say so.
    if let Some((_, e)) = dir_errors.iter().find(|(rel, _)| rel.is_empty()) {
        anyhow::bail!("{}: cannot list: {e}", in_store.root());
    }
    sum.files = files.len();
    let supported: Vec<String> = files
        .iter()
        .filter(|r| Kind::by_extension(Path::new(r)).is_some())
        .cloned()
        .collect();
    let bases = crate::naming::plan_outputs(&supported);
    let record = |rel: &str, entry: Entry| FileRecord {
        rel: rel.to_string(),
        parts: 0,
        entry,
    };
    let mut current: HashSet<String> = HashSet::new();
    for (rel, e) in &dir_errors {
        let err = Error::Read {
            path: PathBuf::from(in_store.display(rel)),
            source: std::io::Error::new(e.kind(), e.to_string()),
        };
        q.submit(
            &run,
            &record(rel, Entry::failed(in_store.display(rel), &err)),
            &[],
        )?;
        current.insert(rel.clone());
        sum.unreadable += 1;
    }
    for rel in files
        .iter()
        .filter(|r| Kind::by_extension(Path::new(r)).is_none())
    {
        q.submit(
            &run,
            &record(rel, Entry::unsupported(in_store.display(rel))),
            &[],
        )?;
        current.insert(rel.clone());
        sum.unsupported += 1;
    }

    // Hash and count pages in parallel: reading is the cost here.
    enum Plan {
        Unreadable(Error),
        UpToDate(String, usize),
        Todo(String, Kind, usize),
    }
    let raster = crate::raster::RasterOptions::default();
    let warned = AtomicBool::new(false);
    let plans: Vec<Plan> = {
        use rayon::prelude::*;
        supported
            .par_iter()
            .map(|rel| {
                // The input itself on a shared path; a downloaded copy from object storage.
                let local = match in_store.local(rel) {
                    Ok(l) => l,
                    Err(source) => {
                        let path = PathBuf::from(in_store.display(rel));
                        return Plan::Unreadable(Error::Read { path, source });
                    }
                };
                let path = &local.path;
                let (sha, head, _) = match input::hash_with_head(path) {
                    Ok(x) => x,
                    Err(e) => return Plan::Unreadable(e),
                };
                let outs = publish::names(&bases[rel], &formats);
                if !opts.force && outs.iter().all(|(_, o)| out_store.exists(o)) {
                    let json = outs
                        .iter()
                        .find(|(f, _)| *f == Format::Json)
                        .and_then(|(_, o)| out_store.get(o).ok().flatten())
                        .and_then(|b| publish::recorded(&b));
                    if let Some(r) = json {
                        if r.sha256 == sha {
                            return Plan::UpToDate(sha, r.pages);
                        }
                    }
                }
                let kind = Kind::by_extension(Path::new(rel)).unwrap_or(Kind::Pdf);
                // What the bytes say decides; a file that does not open as a PDF gets one job,
                // and the worker reports why it fails.
                let pages = match input::sniff(&head).ok() {
                    Some(Kind::Pdf) => match pages::pdf_page_count(path, &raster) {
                        Ok(n) => n,
                        Err(e @ Error::Missing { .. }) => {
                            if !warned.swap(true, Ordering::SeqCst) {
                                eprintln!("sohoa submit: warning: {e}; PDFs are queued whole, not split");
                            }
                            0
                        }
                        Err(_) => 0,
                    },
                    Some(Kind::Png | Kind::Jpeg) => 1,
                    _ => 0,
                };
                Plan::Todo(sha, kind, pages)
            })
            .collect()
    };
    let nonce = if opts.force {
        format!("{submitted_at}")
    } else {
        String::new()
    };
    let fmt_key: Vec<&str> = formats.iter().map(|f| f.extension()).collect();
    let fmt_key = fmt_key.join(",");
    for (rel, plan) in supported.iter().zip(plans) {
        current.insert(rel.clone());
        let base = &bases[rel];
        let input = in_store.display(rel);
        match plan {
            Plan::Unreadable(e) => {
                q.submit(&run, &record(rel, Entry::failed(input, &e)), &[])?;
                sum.unreadable += 1;
            }
            Plan::UpToDate(sha, pages) => {
                let outputs = publish::names(base, &formats);
                let outputs = outputs.iter().map(|(_, o)| out_store.display(o)).collect();
                let entry = Entry::up_to_date(input, sha, pages, outputs);
                q.submit(&run, &record(rel, entry), &[])?;
                sum.up_to_date += 1;
            }
            Plan::Todo(sha, kind, pages) => {
                let ranges = if kind == Kind::Pdf && pages > 0 {
                    split(pages, opts.pages_per_job)
                } else {
                    vec![None]
                };
                let parts = ranges.len();
                let jobs: Vec<Job> = ranges
                    .into_iter()
                    .map(|range| {
                        let rk = range.map(|[a, b]| format!("{a}-{b}")).unwrap_or_default();
                        Job {
                            id: sha_hex(&format!(
                                "{run}\n{rel}\n{sha}\n{rk}\n{fmt_key}\n{base}\n{nonce}"
                            ))[..32]
                                .to_string(),
                            run: run.clone(),
                            input_root: in_store.root(),
                            output_root: out_store.root(),
                            rel: rel.clone(),
                            base: base.clone(),
                            sha256: sha.clone(),
                            formats: formats.clone(),
                            pages,
                            range,
                            parts,
                            attempt: 0,
                        }
                    })
                    .collect();
                // Until its jobs finish, the report would list it as interrupted.
                let why = "not finished when the report was written".to_string();
                let entry = Entry::because(input, Status::Skipped, "interrupted", why);
                let mut r = record(rel, entry);
                (r.parts, r.entry.pages, r.entry.sha256) = (parts, pages, Some(sha));
                let added = q.submit(&run, &r, &jobs)?;
                sum.jobs_added += added;
                sum.jobs_in_flight += jobs.len() - added;
                sum.pages += pages;
            }
        }
    }
    // Records of files that are gone from the tree are dropped, as a batch rerun forgets them.
    let stale: Vec<String> = q
        .files(&run)?
        .into_iter()
        .map(|f| f.rel)
        .filter(|r| !current.contains(r))
        .collect();
    q.drop_files(&run, &stale)?;
    Ok(sum)
}

// --- worker ----------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub queue: String,
    /// Jobs worked on at once (each on one OCR engine).
    pub slots: usize,
    /// A job held this long by a worker that stopped keeping it alive is taken over.
    pub ack_timeout: Duration,
    /// Attempts (failures and crashed workers together) before a job goes to the dead letters.
    pub max_attempts: u32,
    /// Exit once nothing is queued or running.
    pub drain: bool,
    /// How long one request for work blocks.
    pub poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            queue: String::new(),
            slots: 1,
            ack_timeout: Duration::from_secs(60),
            max_attempts: 3,
            drain: false,
            poll: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerStats {
    pub jobs: usize,
    pub pages: usize,
    /// Failed attempts (retried or dead-lettered).
    pub failures: usize,
    pub dead_letters: usize,
    /// `report.json` files written on exit (when the queue drained).
    pub reports: Vec<String>,
}

/// A failed attempt.
#[derive(Debug)]
struct Failure {
    reason: String,
    message: String,
    /// Trying again cannot help (the input is what it is).
    permanent: bool,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let permanent = matches!(
            e,
            Error::Empty
                | Error::UnknownFormat
                | Error::Encrypted
                | Error::BadPdf(_)
                | Error::BadImage(_)
                | Error::TooLarge(_)
        );
        Failure {
            reason: e.kind().into(),
            message: e.to_string(),
            permanent,
        }
    }
}

impl From<queue::QueueError> for Failure {
    fn from(e: queue::QueueError) -> Failure {
        Failure {
            reason: "queue".into(),
            message: e.to_string(),
            permanent: false,
        }
    }
}

/// A finished job.
struct Finished {
    /// Pages OCRed by this job.
    pages: usize,
    /// The file's outcome, when this job finished the file.
    file: Option<FileRecord>,
    /// Partial documents to remove once the job is acknowledged.
    cleanup: Option<String>,
}

/// A range's partial document, `OUT/.sohoa/parts/<base>.<sha>/<first>-<last>.json`.
#[derive(Serialize, Deserialize)]
struct Part {
    sha256: String,
    first: usize,
    last: usize,
    total: usize,
    /// Unix seconds when the range was started.
    started_at: f64,
    pages: Vec<crate::doc::Page>,
}

fn parts_dir(job: &Job) -> String {
    format!(
        "{PARTS_DIR}/{}.{}",
        job.base,
        &job.sha256[..job.sha256.len().min(12)]
    )
}

fn part_name(range: [usize; 2]) -> String {
    format!("{:06}-{:06}.json", range[0], range[1])
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and we stop at the first NUL or the end.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let s = String::from_utf8_lossy(&buf[..end]).into_owned();
    if s.is_empty() {
        "host".into()
    } else {
        s
    }
}

/// This process's worker name prefix: `<host>-<pid>`.
pub fn worker_name() -> String {
    format!("{}-{}", hostname(), std::process::id())
}

/// Write a document's outputs; returns their display paths.
fn write_outputs(
    out: &dyn Storage,
    job: &Job,
    doc: &crate::Document,
) -> Result<Vec<String>, Error> {
    let outs = publish::names(&job.base, &publish::formats(&job.formats));
    publish::publish(&Shared(out), doc, &outs, &mut |_| {})
}

fn ok_record(
    job: &Job,
    input: String,
    pages: usize,
    seconds: f64,
    outputs: Vec<String>,
) -> FileRecord {
    let entry = Entry {
        pages,
        seconds,
        outputs,
        sha256: Some(job.sha256.clone()),
        ..Entry::new(input, Status::Ok)
    };
    FileRecord {
        rel: job.rel.clone(),
        parts: job.parts,
        entry,
    }
}

/// Do one job: OCR, write, and for the last range of a split file, merge.
fn run_job(pipeline: &Pipeline, q: &mut dyn Queue, job: &Job) -> Result<Finished, Failure> {
    let started = queue::now();
    let ins = storage::open(&job.input_root)?;
    let outs = storage::open(&job.output_root)?;
    let local = ins.local(&job.rel).map_err(|e| Error::Read {
        path: PathBuf::from(ins.display(&job.rel)),
        source: e,
    })?;
    let (kind, sha, bytes) = input::inspect(&local.path)?;
    if sha != job.sha256 {
        return Err(Failure {
            reason: "changed".into(),
            message: "the file changed after it was submitted; submit the tree again".into(),
            permanent: true,
        });
    }
    let mut source = SourceInfo {
        path: ins.display(&job.rel),
        sha256: sha,
        bytes,
        format: format!("{kind:?}").to_lowercase(),
        pages: 0,
    };
    let range = match job.range {
        Some(r) if job.parts > 1 => r,
        _ => {
            // The whole file in one job: results directly.
            let (pages, total) = pages::ocr_pages(pipeline, &local.path, kind, job.range)?;
            source.pages = total;
            let n = pages.len();
            let doc = pipeline.assemble(source, pages);
            let outputs = write_outputs(&*outs, job, &doc)?;
            let rec = ok_record(
                job,
                ins.display(&job.rel),
                n,
                queue::now() - started,
                outputs,
            );
            return Ok(Finished {
                pages: n,
                file: Some(rec),
                cleanup: None,
            });
        }
    };
    let dir = parts_dir(job);
    let part_rel = format!("{dir}/{}", part_name(range));
    // A part written by an earlier delivery is as good as new.
    let existing = outs
        .get(&part_rel)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<Part>(&b).ok())
        .filter(|p| p.sha256 == job.sha256 && p.pages.len() == range[1] + 1 - range[0]);
    let n = match existing {
        Some(p) => {
            log::info!("{}: part already written, not OCRed again", job.label());
            p.pages.len()
        }
        None => {
            let (pages, total) = pages::ocr_pages(pipeline, &local.path, kind, Some(range))?;
            // Finished elsewhere meanwhile (this was a duplicate delivery): nothing to add.
            if let Ok(Some(f)) = q.file(&job.run, &job.rel) {
                if f.entry.status == Status::Ok && f.entry.sha256.as_deref() == Some(&job.sha256) {
                    return Ok(Finished {
                        pages: pages.len(),
                        file: None,
                        cleanup: None,
                    });
                }
            }
            let part = Part {
                sha256: job.sha256.clone(),
                first: range[0],
                last: range[1],
                total,
                started_at: started,
                pages,
            };
            let bytes = serde_json::to_vec(&part).expect("parts serialise");
            outs.put(&part_rel, &bytes)?;
            part.pages.len()
        }
    };
    let done = q.range_done(job)?;
    if done < job.parts {
        return Ok(Finished {
            pages: n,
            file: None,
            cleanup: None,
        });
    }
    // All ranges are in: merge.
    let mut all = Vec::new();
    let mut total = 0;
    let mut first_start = started;
    for name in outs.list(&dir).map_err(|e| Error::Read {
        path: PathBuf::from(outs.display(&dir)),
        source: e,
    })? {
        if !name.ends_with(".json") {
            continue;
        }
        let rel = format!("{dir}/{name}");
        let Some(p) = outs
            .get(&rel)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<Part>(&b).ok())
        else {
            continue;
        };
        if p.sha256 != job.sha256 {
            continue;
        }
        total = p.total;
        first_start = first_start.min(p.started_at);
        all.extend(p.pages);
    }
    all.sort_by_key(|p| p.index);
    all.dedup_by_key(|p| p.index);
    let complete =
        total > 0 && all.len() == total && all.iter().enumerate().all(|(i, p)| p.index == i + 1);
    if !complete {
        return Err(Failure {
            reason: "parts-missing".into(),
            message: format!(
                "merging: {} of {} pages found in {}",
                all.len(),
                total.max(job.pages),
                outs.display(&dir)
            ),
            permanent: false,
        });
    }
    source.pages = total;
    let doc = pipeline.assemble(source, all);
    let outputs = write_outputs(&*outs, job, &doc)?;
    log::info!("{}: merged {} ranges", job.rel, job.parts);
    let rec = ok_record(
        job,
        ins.display(&job.rel),
        total,
        queue::now() - first_start,
        outputs,
    );
    Ok(Finished {
        pages: n,
        file: Some(rec),
        cleanup: Some(dir),
    })
}

/// Call `f` until it succeeds or `tries` run out (the queue reconnects between tries).
fn with_retries<T>(tries: usize, mut f: impl FnMut() -> queue::QResult<T>) -> queue::QResult<T> {
    let mut last = None;
    for k in 0..tries {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) => {
                log::warn!("{e}; trying again");
                last = Some(e);
                std::thread::sleep(Duration::from_millis(500 * (k as u64 + 1)));
            }
        }
    }
    Err(last.expect("at least one try"))
}

/// Handle one delivery to its acknowledgement.
fn handle(
    pipeline: &Pipeline,
    q: &mut dyn Queue,
    worker: &str,
    d: &Delivery,
    opts: &WorkerOptions,
    stats: &Mutex<WorkerStats>,
) {
    let job = &d.job;
    let tries = job.attempt + d.deliveries;
    let t0 = Instant::now();
    let dead = |reason: &str, message: String| DeadLetter {
        job: job.clone(),
        reason: reason.into(),
        error: message,
        attempts: tries,
        worker: worker.to_string(),
        at: queue::now(),
    };
    let failed_record = |dl: &DeadLetter| {
        let input = Path::new(&job.input_root).join(&job.rel);
        let error = match job.range {
            Some([a, b]) if job.parts > 1 => format!("pages {a}-{b}: {}", dl.error),
            _ => dl.error.clone(),
        };
        let entry = Entry::because(
            input.display().to_string(),
            Status::Failed,
            &dl.reason,
            error,
        );
        let entry = Entry {
            seconds: t0.elapsed().as_secs_f64(),
            sha256: Some(job.sha256.clone()),
            ..entry
        };
        FileRecord {
            rel: job.rel.clone(),
            parts: job.parts,
            entry,
        }
    };
    let bury = |q: &mut dyn Queue, dl: DeadLetter| {
        eprintln!(
            "sohoa worker: dead letter {} ({}): {}",
            job.label(),
            dl.reason,
            dl.error
        );
        let rec = failed_record(&dl);
        if let Err(e) = with_retries(3, || q.bury(d, &dl, Some(&rec))) {
            eprintln!("sohoa worker: {e} (the job will come back)");
        }
        if let Ok(mut s) = stats.lock() {
            s.dead_letters += 1;
        }
    };
    if d.deliveries > 1 {
        eprintln!(
            "sohoa worker: taking over {} (delivery {}: its worker stopped)",
            job.label(),
            d.deliveries
        );
        if tries > opts.max_attempts {
            bury(
                q,
                dead(
                    "worker-lost",
                    format!(
                        "{} workers stopped while processing it (crash, out of memory, killed); not tried again",
                        d.deliveries - 1
                    ),
                ),
            );
            return;
        }
    }
    // Done by another delivery already (a merged file)?
    if let Ok(Some(f)) = q.file(&job.run, &job.rel) {
        if f.entry.status == Status::Ok && f.entry.sha256.as_deref() == Some(&job.sha256) {
            let _ = with_retries(3, || q.complete(d, 0, None));
            return;
        }
    }
    match run_job(pipeline, q, job) {
        Ok(fin) => match with_retries(5, || q.complete(d, fin.pages, fin.file.as_ref())) {
            Ok(_) => {
                if let Some(dir) = &fin.cleanup {
                    if let Ok(outs) = storage::open(&job.output_root) {
                        let _ = outs.remove_all(dir);
                    }
                }
                match &fin.file {
                    Some(f) => eprintln!(
                        "sohoa worker: ok {}: {} pages, {:.1} s -> {}",
                        job.label(),
                        fin.pages,
                        t0.elapsed().as_secs_f64(),
                        f.entry.outputs.join(", ")
                    ),
                    None => eprintln!(
                        "sohoa worker: ok {}: {} pages, {:.1} s",
                        job.label(),
                        fin.pages,
                        t0.elapsed().as_secs_f64()
                    ),
                }
                if let Ok(mut s) = stats.lock() {
                    s.jobs += 1;
                    s.pages += fin.pages;
                }
            }
            Err(e) => eprintln!("sohoa worker: {e} (the job will come back)"),
        },
        Err(f) => {
            if let Ok(mut s) = stats.lock() {
                s.failures += 1;
            }
            if f.permanent || tries >= opts.max_attempts {
                bury(q, dead(&f.reason, f.message));
            } else {
                eprintln!(
                    "sohoa worker: failed {} ({}): {}; trying again (attempt {tries} of {})",
                    job.label(),
                    f.reason,
                    f.message,
                    opts.max_attempts
                );
                // A moment for whatever went wrong (a share, the network) to come back; the
                // job is kept alive meanwhile.
                std::thread::sleep(Duration::from_secs((2 * tries as u64).min(30)));
                if let Err(e) = with_retries(3, || q.retry(d)) {
                    eprintln!("sohoa worker: {e} (the job will come back)");
                }
            }
        }
    }
}

/// Run a worker until `stop` is set (or, with `drain`, until nothing is queued or running).
/// Jobs in hand are finished first.
pub fn work(
    pipeline: &Pipeline,
    opts: &WorkerOptions,
    stop: &AtomicBool,
) -> anyhow::Result<WorkerStats> {
    let mut q = queue::open(&opts.queue)?;
    let mine = serde_json::to_string(&Settings::of(pipeline))?;
    if let Some(s) = q.settings(Some(&mine))? {
        if s != mine {
            eprintln!(
                "sohoa worker: warning: other workers on this queue run with other settings ({s}); results will differ"
            );
        }
    }
    let _ = q.forget_idle_workers(Duration::from_secs(3600));
    let name = worker_name();
    let slots = opts.slots.max(1);
    eprintln!(
        "sohoa worker: {name} on {} with {slots} job(s) at a time",
        q.url()
    );
    let stats = Mutex::new(WorkerStats::default());
    let holding: Mutex<HashMap<String, Delivery>> = Mutex::new(HashMap::new());
    let live = std::sync::atomic::AtomicUsize::new(slots);
    std::thread::scope(|s| -> anyhow::Result<()> {
        // Keep the jobs in hand alive, so a long job is not taken from a live worker.
        s.spawn(|| {
            let mut hb = None;
            let every = (opts.ack_timeout / 4).max(Duration::from_millis(200));
            let mut last = Instant::now();
            while live.load(Ordering::SeqCst) > 0 {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() < every {
                    continue;
                }
                last = Instant::now();
                let held: Vec<(String, Delivery)> = match holding.lock() {
                    Ok(h) => h.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    Err(_) => continue,
                };
                if held.is_empty() {
                    continue;
                }
                if hb.is_none() {
                    hb = queue::open(&opts.queue).ok();
                }
                let Some(hq) = hb.as_mut() else { continue };
                for (w, d) in held {
                    match hq.keep_alive(&w, &d) {
                        Ok(true) => {}
                        Ok(false) => log::warn!(
                            "{}: no longer ours (taken over or finished elsewhere)",
                            d.job.label()
                        ),
                        Err(e) => log::warn!("keeping {} alive: {e}", d.job.label()),
                    }
                }
            }
        });
        for slot in 0..slots {
            let wname = format!("{name}-{slot}");
            let (stats, holding, live) = (&stats, &holding, &live);
            s.spawn(move || {
                let mut q: Option<Box<dyn Queue>> = None;
                let mut complained = false;
                while !stop.load(Ordering::SeqCst) {
                    let qq = match q.as_mut() {
                        Some(x) => x,
                        None => match queue::open(&opts.queue) {
                            Ok(x) => q.insert(x),
                            Err(e) => {
                                if !complained {
                                    eprintln!("sohoa worker: {e}; trying again");
                                    complained = true;
                                }
                                std::thread::sleep(Duration::from_secs(2));
                                continue;
                            }
                        },
                    };
                    match qq.next(&wname, opts.ack_timeout, opts.poll) {
                        Err(e) => {
                            if !complained {
                                eprintln!("sohoa worker: {e}; trying again");
                                complained = true;
                            }
                            std::thread::sleep(Duration::from_secs(1));
                        }
                        Ok(None) => {
                            complained = false;
                            if opts.drain && qq.counts().map(|c| c.drained()).unwrap_or(false) {
                                break;
                            }
                        }
                        Ok(Some(d)) => {
                            complained = false;
                            if let Ok(mut h) = holding.lock() {
                                h.insert(wname.clone(), d.clone());
                            }
                            handle(pipeline, &mut **qq, &wname, &d, opts, stats);
                            if let Ok(mut h) = holding.lock() {
                                h.remove(&wname);
                            }
                        }
                    }
                }
                live.fetch_sub(1, Ordering::SeqCst);
            });
        }
        Ok(())
    })?;
    let mut st = stats.into_inner().unwrap_or_default();
    if opts.drain && !stop.load(Ordering::SeqCst) {
        if let Ok(c) = q.counts() {
            if c.drained() {
                st.reports = write_reports(&mut *q, &c)?;
            }
        }
    }
    Ok(st)
}

// --- status ----------------------------------------------------------------------------------

/// What `sohoa status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub queue: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub drained: bool,
    /// All workers together, over the last minute.
    pub pages_per_second: f64,
    /// Since the queue was last idle.
    pub pages_per_second_overall: f64,
    /// Workers seen in the last 30 s.
    pub workers: Vec<queue::WorkerInfo>,
    pub dead_letters: Vec<DeadLetter>,
    /// `report.json` files written (when drained).
    pub reports: Vec<String>,
}

fn rates(c: &Counts) -> (f64, f64) {
    let now = queue::now();
    let recent = match c.started_at {
        Some(t) if c.recent_pages > 0 => c.recent_pages as f64 / (now - t).clamp(1.0, c.window_s),
        _ => 0.0,
    };
    let overall = match (c.started_at, c.last_done_at) {
        (Some(a), Some(b)) if b > a => c.pages as f64 / (b - a),
        _ => 0.0,
    };
    (recent, overall)
}

/// Counters, workers and dead letters; with `reports`, write each run's `report.json` when the
/// queue has drained.
pub fn status(q: &mut dyn Queue, reports: bool) -> anyhow::Result<StatusReport> {
    let counts = q.counts()?;
    let (recent, overall) = rates(&counts);
    let mut workers: Vec<queue::WorkerInfo> = q
        .workers()?
        .into_iter()
        .filter(|w| w.idle_s < 30.0 || w.pending > 0)
        .collect();
    workers.sort_by(|a, b| a.name.cmp(&b.name));
    let dead_letters = q.dead_letters(1000)?;
    let drained = counts.drained();
    let written = if reports && drained {
        write_reports(q, &counts)?
    } else {
        vec![]
    };
    Ok(StatusReport {
        queue: q.url(),
        counts,
        drained,
        pages_per_second: recent,
        pages_per_second_overall: overall,
        workers,
        dead_letters,
        reports: written,
    })
}

/// Human-readable status.
pub fn status_text(s: &StatusReport) -> String {
    let c = &s.counts;
    let mut t = format!(
        "queue {}\njobs: {} queued, {} running, {} done, {} failed (dead letters)\npages: {} done; {:.2} pages/s over the last minute, {:.2} pages/s overall\n",
        s.queue, c.queued, c.running, c.done, c.failed, c.pages, s.pages_per_second, s.pages_per_second_overall
    );
    t.push_str(&format!("workers: {} active", s.workers.len()));
    for w in &s.workers {
        t.push_str(&format!(
            "\n  {}: {} job(s), seen {:.0} s ago",
            w.name, w.pending, w.idle_s
        ));
    }
    if !s.dead_letters.is_empty() {
        t.push_str(&format!("\ndead letters: {}", s.dead_letters.len()));
        for d in s.dead_letters.iter().take(20) {
            t.push_str(&format!(
                "\n  {} ({}, {} attempt(s)): {}",
                d.job.label(),
                d.reason,
                d.attempts,
                d.error
            ));
        }
        if s.dead_letters.len() > 20 {
            t.push_str(&format!("\n  … {} more", s.dead_letters.len() - 20));
        }
    }
    if s.drained {
        t.push_str("\ndrained: nothing queued or running");
        for r in &s.reports {
            t.push_str(&format!("\nreport: {r}"));
        }
    }
    t
}

fn default_settings() -> Settings {
    let o = crate::pipeline::Options::default();
    Settings {
        tesseract: crate::ocr::tesseract_version(),
        lang: o.ocr.lang,
        psm: o.ocr.psm,
        tess_vars: Vec::new(),
        restore_model: None,
        dpi: o.raster.dpi,
        image_dpi: o.raster.image_dpi,
        clean: o.clean.enabled,
        structure: o.structure,
    }
}

/// The `batch` report of one run, from the queue's records.
pub fn build_report(
    run: &queue::RunRecord,
    files: Vec<FileRecord>,
    settings: Settings,
    counts: &Counts,
) -> Report {
    let mut by_rel: BTreeMap<PathBuf, Entry> = BTreeMap::new();
    for f in files {
        by_rel.insert(PathBuf::from(&f.rel), f.entry);
    }
    let files: Vec<Entry> = by_rel.into_values().collect();
    let mut s = Summary::of(&files);
    s.seconds = counts
        .last_done_at
        .map(|t| (t - run.submitted_at).max(0.0))
        .unwrap_or(0.0);
    let work_s = match (counts.started_at, counts.last_done_at) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => 0.0,
    };
    s.pages_per_second = if work_s > 0.0 {
        s.pages as f64 / work_s
    } else {
        0.0
    };
    Report {
        input: run.input.clone(),
        output: run.output.clone(),
        formats: run.formats.clone(),
        settings,
        summary: s,
        files,
    }
}

/// Write `OUT/report.json` for every run whose output tree is reachable from here.
pub fn write_reports(q: &mut dyn Queue, counts: &Counts) -> anyhow::Result<Vec<String>> {
    let settings = q
        .settings(None)?
        .and_then(|s| serde_json::from_str::<Settings>(&s).ok())
        .unwrap_or_else(default_settings);
    let mut written = Vec::new();
    for run in q.runs()? {
        let store = match storage::open(&run.output) {
            Ok(s) if is_url(Path::new(&run.output)) || Path::new(&run.output).is_dir() => s,
            _ => {
                log::warn!(
                    "{}: not reachable from here; its report.json is not written",
                    run.output
                );
                continue;
            }
        };
        let files = q.files(&run.id)?;
        let report = build_report(&run, files, settings.clone(), counts);
        store.put(report::REPORT, &report.to_bytes())?;
        written.push(store.display(report::REPORT));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_pdfs_split_into_ranges() {
        assert_eq!(split(3, 25), vec![None]);
        assert_eq!(split(25, 25), vec![None]);
        assert_eq!(split(26, 25), vec![Some([1, 25]), Some([26, 26])]);
        let r = split(2000, 25);
        assert_eq!(r.len(), 80);
        assert_eq!(r[79], Some([1976, 2000]));
        assert_eq!(split(3, 1), vec![Some([1, 1]), Some([2, 2]), Some([3, 3])]);
    }

    #[test]
    fn input_errors_are_permanent_others_are_retried() {
        assert!(Failure::from(Error::UnknownFormat).permanent);
        assert!(Failure::from(Error::Encrypted).permanent);
        assert!(!Failure::from(Error::Ocr("x".into())).permanent);
        assert!(!Failure::from(Error::Missing { what: "x".into() }).permanent);
    }
}

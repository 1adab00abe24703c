//! The work queue behind `sohoa submit`, `sohoa worker` and `sohoa status`.
//!
//! [`Queue`] is what the scale-out front-end ([`crate::scale`]) needs of a queue engine: durable,
//! acknowledged delivery of [`Job`]s to any number of workers, redelivery of a job whose worker
//! stopped answering, a dead-letter list, and a small ledger of files (one [`FileRecord`] per
//! input, for `report.json`) and counters (for pages/s). [`redis::RedisQueue`] implements it on
//! Redis Streams; another engine (NATS JetStream: a work-queue stream plus a KV bucket for the
//! ledger) would implement the same trait. Every method that changes state is atomic on the
//! server, so a worker may die between any two calls.

pub mod redis;

use crate::emit::Format;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The connection failed, the server refused a command, or its reply made no sense.
    #[error("queue {url}: {error}")]
    Redis {
        url: String,
        #[source]
        error: ::redis::RedisError,
    },
    #[error("{0}")]
    Url(String),
}

pub type QResult<T> = std::result::Result<T, QueueError>;

/// One unit of work: a whole input file, or a range of a PDF's pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Content address: the same input, range, output tree and formats give the same id, which
    /// is what makes submitting twice harmless.
    pub id: String,
    /// One output tree.
    pub run: String,
    /// Storage roots: a path every worker mounts, or an `s3://` prefix.
    pub input_root: String,
    pub output_root: String,
    /// The input, relative to `input_root`, with `/` separators; also the file's key in the run.
    pub rel: String,
    /// Output base relative to `output_root` (without the format extension), as `batch` names it.
    pub base: String,
    /// SHA-256 of the input when it was submitted; a worker that reads other bytes fails the job.
    pub sha256: String,
    pub formats: Vec<Format>,
    /// The file's page count when known at submit time (PDFs), else 0.
    pub pages: usize,
    /// 1-based inclusive page range of a PDF, or `None` for the whole file.
    pub range: Option<[usize; 2]>,
    /// How many jobs the file was split into (1: the job writes the results itself).
    pub parts: usize,
    /// Failed attempts before this delivery (reported failures, not crashes).
    #[serde(default)]
    pub attempt: u32,
}

impl Job {
    /// `a/x.pdf` or `a/x.pdf pages 26-50`.
    pub fn label(&self) -> String {
        match self.range {
            Some([a, b]) => format!("{} pages {a}-{b}", self.rel),
            None => self.rel.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub job: Job,
    /// The engine's handle for the message (a stream entry id for Redis).
    pub handle: String,
    /// 1 the first time; more after a worker died holding it.
    pub deliveries: u32,
}

/// One input of a run: the entry `report.json` lists for it (until its jobs finish, `skipped` /
/// `interrupted`), under its path relative to the run's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub rel: String,
    /// Jobs the file was split into.
    #[serde(default)]
    pub parts: usize,
    #[serde(flatten)]
    pub entry: crate::report::Entry,
}

/// One `sohoa submit` of a tree into an output tree (a later submit to the same tree replaces
/// it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub input: String,
    pub output: String,
    pub formats: Vec<Format>,
    pub submitted_at: f64,
}

/// A job that will not be tried again, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub job: Job,
    /// Stable tag (`unknown-format`, `encrypted`, `worker-lost`, …).
    pub reason: String,
    pub error: String,
    /// Attempts made, crashes of workers included.
    pub attempts: u32,
    pub worker: String,
    pub at: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub queued: u64,
    /// Jobs delivered and not acknowledged (a dead worker's job counts here until it is taken
    /// again).
    pub running: u64,
    /// Jobs finished since the queue was last idle.
    pub done: u64,
    pub failed: u64,
    /// Pages OCRed since the queue was last idle.
    pub pages: u64,
    /// Unix seconds of the first delivery and the last acknowledgement since the queue was
    /// last idle.
    pub started_at: Option<f64>,
    pub last_done_at: Option<f64>,
    /// Pages finished in the last `window_s` seconds (all workers together).
    pub recent_pages: u64,
    pub window_s: f64,
}

impl Counts {
    pub fn drained(&self) -> bool {
        self.queued == 0 && self.running == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub name: String,
    pub pending: u64,
    /// Seconds since it last asked for work or kept a job alive.
    pub idle_s: f64,
}

/// A queue engine. One value is one connection: give each thread its own (see [`open`]).
pub trait Queue: Send {
    /// The queue's URL, without secrets.
    fn url(&self) -> String;

    fn put_run(&mut self, run: &RunRecord) -> QResult<()>;
    /// Enqueue the jobs of one file that are not already queued or running, and record the
    /// file (replacing its record when jobs were added or there are none, keeping it
    /// otherwise). Atomic. Returns how many jobs were added.
    fn submit(&mut self, run: &str, file: &FileRecord, jobs: &[Job]) -> QResult<usize>;

    /// The next job for `worker`: first a job some worker has held for longer than `stale`
    /// without keeping it alive (it died), else a new one, waiting up to `wait`.
    fn next(&mut self, worker: &str, stale: Duration, wait: Duration) -> QResult<Option<Delivery>>;
    /// Tell the engine `worker` is still on the job (resets its ack timer). False when the job
    /// is no longer the worker's (it was taken over, or finished elsewhere).
    fn keep_alive(&mut self, worker: &str, d: &Delivery) -> QResult<bool>;
    /// Mark one range of a split file done; returns how many of the file's ranges are done.
    fn range_done(&mut self, job: &Job) -> QResult<usize>;
    /// Acknowledge a finished job, count its pages (once, however often it was delivered) and,
    /// with `file`, record the file's outcome. Atomic. False when the job had already been
    /// finished by another delivery.
    fn complete(&mut self, d: &Delivery, pages: usize, file: Option<&FileRecord>) -> QResult<bool>;
    /// Acknowledge a failed attempt and queue the job again with `attempt + 1`. Atomic.
    fn retry(&mut self, d: &Delivery) -> QResult<()>;
    /// Acknowledge a job that will not be tried again: into the dead-letter list, and with
    /// `file`, record the file as failed. Atomic.
    fn bury(&mut self, d: &Delivery, dead: &DeadLetter, file: Option<&FileRecord>) -> QResult<()>;
    /// The engine settings workers recorded (the first worker's); with `mine`, record them when
    /// none are.
    fn settings(&mut self, mine: Option<&str>) -> QResult<Option<String>>;
    /// Forget the records of files no longer in a run's input tree.
    fn drop_files(&mut self, run: &str, rels: &[String]) -> QResult<()>;

    fn counts(&mut self) -> QResult<Counts>;
    fn file(&mut self, run: &str, rel: &str) -> QResult<Option<FileRecord>>;
    fn runs(&mut self) -> QResult<Vec<RunRecord>>;
    fn files(&mut self, run: &str) -> QResult<Vec<FileRecord>>;
    fn dead_letters(&mut self, limit: usize) -> QResult<Vec<DeadLetter>>;
    fn workers(&mut self) -> QResult<Vec<WorkerInfo>>;
    /// Forget workers that hold nothing and have not been seen for `idle` (every worker process
    /// has a new name, so the engine would otherwise list every worker that ever ran).
    fn forget_idle_workers(&mut self, idle: Duration) -> QResult<usize>;
}

/// Connect to the queue at `url` (`redis://[[user]:password@]host[:port][/db]`).
pub fn open(url: &str) -> QResult<Box<dyn Queue>> {
    Ok(Box::new(redis::RedisQueue::open(url)?))
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

//! `sohoa submit`, `worker` and `status`: the scale-out front-end, run from the command line.

use crate::emit::Format;
use crate::error::exit;
use crate::pipeline::{Options, Pipeline};
use std::io::IsTerminal;
use std::path::PathBuf;

/// What `sohoa submit` was asked to do.
pub struct Submit {
    pub input: PathBuf,
    /// The queue's URL.
    pub queue: String,
    /// Output folder or URL [default: <IN>-ocr].
    pub out: Option<PathBuf>,
    /// Output formats, comma-separated.
    pub formats: String,
    pub pages_per_job: usize,
    pub force: bool,
    /// Print what was done as JSON on stdout.
    pub json: bool,
}

/// What `sohoa worker` was asked to do.
pub struct Worker {
    pub queue: String,
    /// Seconds after which a job of a silent worker is taken over.
    pub ack_timeout: f64,
    pub max_attempts: u32,
    /// Exit once nothing is queued or running.
    pub drain: bool,
    pub options: Options,
}

/// What `sohoa status` was asked to do.
pub struct Status {
    pub queue: String,
    /// JSON on stdout.
    pub json: bool,
    /// Wait until the queue drains.
    pub wait: bool,
    /// Do not write report.json when drained.
    pub no_report: bool,
}

pub fn submit(a: Submit) -> anyhow::Result<i32> {
    let formats = Format::parse_list(&a.formats).map_err(anyhow::Error::msg)?;
    let mut q = crate::queue::open(&a.queue)?;
    let opts = crate::scale::SubmitOptions {
        input: a.input,
        output: a.out,
        formats,
        pages_per_job: a.pages_per_job.max(1),
        force: a.force,
    };
    let s = crate::scale::submit(&mut *q, &opts)?;
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    }
    eprintln!(
        "sohoa submit: {} files: {} jobs queued, {} already in flight ({} pages); {} up to date, {} unsupported, {} unreadable\n  {} -> {} on {}",
        s.files, s.jobs_added, s.jobs_in_flight, s.pages, s.up_to_date, s.unsupported, s.unreadable,
        s.input, s.output, s.queue
    );
    Ok(exit::OK)
}

pub fn worker(a: Worker) -> anyhow::Result<i32> {
    if !a.ack_timeout.is_finite() || !(1.0..=86400.0).contains(&a.ack_timeout) {
        anyhow::bail!(
            "--ack-timeout {}: give seconds between 1 and 86400",
            a.ack_timeout
        );
    }
    let stop = crate::scale::stop_on_signals();
    let o = a.options;
    let opts = crate::scale::WorkerOptions {
        queue: a.queue,
        slots: o.jobs,
        ack_timeout: std::time::Duration::from_secs_f64(a.ack_timeout),
        max_attempts: a.max_attempts.max(1),
        drain: a.drain,
        ..Default::default()
    };
    let pipeline = Pipeline::new(o)?;
    let st = crate::scale::work(&pipeline, &opts, &stop)?;
    eprintln!(
        "sohoa worker: stopped; {} jobs ({} pages), {} failed attempts, {} dead letters",
        st.jobs, st.pages, st.failures, st.dead_letters
    );
    for r in &st.reports {
        eprintln!("sohoa worker: report: {r}");
    }
    Ok(exit::OK)
}

pub fn status(a: Status) -> anyhow::Result<i32> {
    let mut q = crate::queue::open(&a.queue)?;
    loop {
        let s = crate::scale::status(&mut *q, !a.no_report)?;
        if !a.wait || s.drained {
            if a.json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("{}", crate::scale::status_text(&s));
            }
            return Ok(if a.wait && s.counts.failed > 0 {
                exit::SOME_FAILED
            } else {
                exit::OK
            });
        }
        if std::io::stderr().is_terminal() {
            eprint!(
                "\r{} queued, {} running, {} done, {} failed; {:.2} pages/s   ",
                s.counts.queued,
                s.counts.running,
                s.counts.done,
                s.counts.failed,
                s.pages_per_second
            );
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

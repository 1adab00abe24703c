//! `sohoa submit`, `worker` and `status`: the scale-out front-end, run from the command line.

use super::{stop_on_signals, EngineArgs};
use crate::emit::Format;
use crate::error::exit;
use crate::pipeline::Pipeline;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Idempotent: submitting the same tree again adds no jobs. See docs/scale-out.md."
)]
pub struct SubmitArgs {
    /// Folder to walk recursively, on storage every worker mounts at the same path, or an
    /// s3://bucket/prefix (credentials and endpoint from AWS_* variables).
    pub input: PathBuf,
    /// The queue: redis://host[:port][/db].
    #[arg(long, env = "SOHOA_QUEUE")]
    pub queue: String,
    /// Output folder or s3://bucket/prefix (mirrors IN, as `sohoa batch`) [default: <IN>-ocr].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output formats, comma-separated (json, txt, hocr, alto, pdf).
    #[arg(long, default_value = "json,txt")]
    pub formats: String,
    /// PDFs with more pages are split into jobs of this many pages.
    #[arg(long, default_value_t = 25)]
    pub pages_per_job: usize,
    /// Redo inputs whose results exist, even those already queued.
    #[arg(long)]
    pub force: bool,
    /// Print what was done as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
#[command(after_help = "Run one per machine (--jobs = cores). See docs/scale-out.md.")]
pub struct WorkerArgs {
    /// The queue: redis://host[:port][/db].
    #[arg(long, env = "SOHOA_QUEUE")]
    pub queue: String,
    /// Seconds after which a job held by a worker that stopped answering is taken over.
    #[arg(long, default_value_t = 60.0)]
    pub ack_timeout: f64,
    /// Attempts (failures and lost workers) before a job goes to the dead letters.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: u32,
    /// Exit once nothing is queued or running (and write report.json).
    #[arg(long)]
    pub drain: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Args)]
pub struct StatusArgs {
    /// The queue: redis://host[:port][/db].
    #[arg(long, env = "SOHOA_QUEUE")]
    pub queue: String,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Wait until the queue drains (exit 4 when there are dead letters).
    #[arg(long)]
    pub wait: bool,
    /// Do not write report.json when drained.
    #[arg(long)]
    pub no_report: bool,
}

pub fn submit(a: SubmitArgs) -> anyhow::Result<i32> {
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

pub fn worker(a: WorkerArgs) -> anyhow::Result<i32> {
    if !a.ack_timeout.is_finite() || !(1.0..=86400.0).contains(&a.ack_timeout) {
        anyhow::bail!(
            "--ack-timeout {}: give seconds between 1 and 86400",
            a.ack_timeout
        );
    }
    // Quitting at once on a second signal is safe: the jobs in hand come back to the queue after
    // the ack timeout.
    let stop = stop_on_signals(
        "sohoa worker: stopping after the jobs in hand (signal again to quit now; nothing is lost)",
    );
    let o = a.engine.options();
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

pub fn status(a: StatusArgs) -> anyhow::Result<i32> {
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

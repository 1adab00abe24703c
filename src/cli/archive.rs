//! `sohoa batch` and `sohoa watch`: the archive front-ends, run from the command line.

use super::cancel_flag;
use crate::emit::Format;
use crate::error::exit;
use crate::pipeline::{Options, Pipeline};
use std::io::IsTerminal;
use std::path::PathBuf;

/// What `sohoa batch` was asked to do.
pub struct Batch {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Output formats, comma-separated.
    pub formats: String,
    /// Redo inputs whose outputs are up to date.
    pub force: bool,
    pub options: Options,
}

/// What `sohoa watch` was asked to do.
pub struct Watch {
    pub input: PathBuf,
    pub output: PathBuf,
    /// [default: OUT/archive]
    pub archive: Option<PathBuf>,
    /// [default: OUT/failed]
    pub failed: Option<PathBuf>,
    /// Seconds a file must stay unchanged before it is taken.
    pub settle: f64,
    /// Poll instead of file events.
    pub poll: bool,
    pub options: Options,
}

pub fn batch(a: Batch) -> anyhow::Result<i32> {
    let formats = Format::parse_list(&a.formats).map_err(anyhow::Error::msg)?;
    let pipeline = Pipeline::new(a.options)?;
    let cancel = cancel_flag();
    let opts = crate::batch::BatchOptions {
        input: a.input,
        output: a.output,
        formats,
        force: a.force,
        progress: std::io::stderr().is_terminal(),
    };
    let report = crate::batch::run(&pipeline, &opts, &cancel)?;
    eprintln!("{}", crate::batch::summary_text(&report));
    Ok(report.exit_code())
}

pub fn watch(a: Watch) -> anyhow::Result<i32> {
    if !a.settle.is_finite() || !(0.0..=86400.0).contains(&a.settle) {
        anyhow::bail!("--settle {}: give seconds between 0 and 86400", a.settle);
    }
    let stop = crate::watch::stop_on_signals();
    let pipeline = Pipeline::new(a.options)?;
    let mut opts = crate::watch::WatchOptions::new(a.input, a.output);
    opts.archive = a.archive;
    opts.failed = a.failed;
    opts.settle = std::time::Duration::from_secs_f64(a.settle);
    opts.poll = a.poll;
    let stats = crate::watch::run(&pipeline, &opts, &stop)?;
    eprintln!(
        "sohoa watch: stopped; {} done ({} pages), {} failed",
        stats.ok, stats.pages, stats.failed
    );
    Ok(exit::OK)
}

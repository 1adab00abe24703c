//! `sohoa batch` and `sohoa watch`: the archive front-ends, run from the command line.

use super::{cancel_flag, stop_on_signals, EngineArgs};
use crate::emit::Format;
use crate::error::exit;
use crate::pipeline::Pipeline;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Exit codes: 0 all ok (or skipped), 4 some inputs failed, 130 interrupted (rerun to resume).\nSee docs/batch-watch.md."
)]
pub struct BatchArgs {
    /// Folder to walk recursively (PDF, TIFF, PNG, JPEG; other files are listed as skipped).
    pub input: PathBuf,
    /// Output folder: IN/a/b/x.pdf -> OUT/a/b/x.json, OUT/a/b/x.txt; OUT/report.json.
    pub output: PathBuf,
    /// Output formats, comma-separated (json, txt).
    #[arg(long, default_value = "json,txt")]
    pub formats: String,
    /// Redo inputs whose outputs are up to date.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Args)]
#[command(after_help = "Naming rule, journal and crash safety: docs/batch-watch.md.")]
pub struct WatchArgs {
    /// Drop folder (watched recursively; hidden names and *.part / *.tmp are ignored).
    pub input: PathBuf,
    /// Results: OUT/<relative stem>.json and .txt.
    pub output: PathBuf,
    /// Where originals go once their results are written [default: OUT/archive].
    #[arg(long)]
    pub archive: Option<PathBuf>,
    /// Where originals that fail go, with <name>.error.txt [default: OUT/failed].
    #[arg(long)]
    pub failed: Option<PathBuf>,
    /// Seconds a file's size and mtime must stay unchanged before it is taken.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Poll the folder instead of using file events (network shares).
    #[arg(long)]
    pub poll: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn batch(a: BatchArgs) -> anyhow::Result<i32> {
    let formats = Format::parse_list(&a.formats).map_err(anyhow::Error::msg)?;
    let pipeline = Pipeline::new(a.engine.options())?;
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

pub fn watch(a: WatchArgs) -> anyhow::Result<i32> {
    if !a.settle.is_finite() || !(0.0..=86400.0).contains(&a.settle) {
        anyhow::bail!("--settle {}: give seconds between 0 and 86400", a.settle);
    }
    // Quitting at once on a second signal is safe: the journal makes any moment a good one to die.
    let stop = stop_on_signals(
        "sohoa watch: stopping after the file in hand (signal again to quit now; nothing is lost)",
    );
    let pipeline = Pipeline::new(a.engine.options())?;
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

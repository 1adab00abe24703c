//! The `sohoa` command's subcommands: each one's arguments (clap) beside its body, so that
//! `main.rs` holds only the top-level parser and the dispatch. This is the CLI edge: errors are
//! `anyhow`, and each command returns its exit code ([`crate::error::exit`]).

// The arguments' doc comments are clap's help text, written for a terminal: `[/db]` and
// `<name>` there are parts of a command line, not links or HTML.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod archive;
mod engine;
mod eval;
mod info;
mod restore;
mod scale;
mod scan;

pub use archive::{batch, watch, BatchArgs, WatchArgs};
pub use engine::EngineArgs;
pub use eval::{eval, EvalArgs};
pub use info::{info, InfoArgs};
pub use restore::{restore, RestoreArgs};
pub use scale::{status, submit, worker, StatusArgs, SubmitArgs, WorkerArgs};
pub use scan::{scan, ScanArgs};

use crate::error::exit;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Logs on stderr: warnings, `-v` info, `-vv` debug; RUST_LOG overrides.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp(None)
        .init();
}

/// A command's exit code: its own, or for an error the one the error stands for (printed).
pub fn exit_code(result: anyhow::Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => {
            let code = e
                .downcast_ref::<crate::Error>()
                .map(|e| e.exit_code())
                .unwrap_or(exit::USAGE);
            eprintln!("sohoa: {e:#}");
            code
        }
    }
}

/// Debian's libtesseract uses OpenMP; with several engines in one process its threads fight and
/// a page takes ten times as long. OpenMP reads OMP_THREAD_LIMIT when it loads, before `main`,
/// so the only fix from inside is to run ourselves again with it set.
pub fn reexec_with_single_threaded_openmp() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("OMP_THREAD_LIMIT").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("OMP_THREAD_LIMIT", "1")
        .exec();
    eprintln!("sohoa: warning: could not re-run with OMP_THREAD_LIMIT=1 ({err}); OCR may be slow");
}

/// Install the SIGINT/SIGTERM handler: the first signal sets the returned flag and says
/// `message` (the command finishes what it has in hand), a second exits at once with 130.
fn stop_on_signals(message: &'static str) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let _ = ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            std::process::exit(exit::INTERRUPTED);
        }
        eprintln!("{message}");
    });
    flag
}

/// [`stop_on_signals`] for a run over files: the pages in hand are finished.
fn cancel_flag() -> Arc<AtomicBool> {
    stop_on_signals("sohoa: interrupted; finishing the pages in hand (Ctrl-C again to quit now)")
}

fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg} ({per_sec}, ETA {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb.set_message(what.to_string());
    pb
}

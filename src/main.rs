//! The `sohoa` command: a thin shell over the library. Logs go to stderr, data to stdout.

use clap::{Parser, Subcommand};
use sohoa::cli::{
    self, BatchArgs, EvalArgs, InfoArgs, RestoreArgs, ScanArgs, StatusArgs, SubmitArgs, WatchArgs,
    WorkerArgs,
};
use sohoa::error::exit;

#[derive(Parser)]
#[command(
    name = "sohoa",
    version,
    about = "Scanned Vietnamese administrative documents to clean, structured text",
    long_about = "sohoa (\"số hóa\", to digitise) reads scanned PDFs and images (PNG, JPEG, TIFF incl. \
multi-page fax), OCRs them with Tesseract's Vietnamese model, restores lost diacritics and fixes OCR \
errors with a small neural model, and writes text or versioned JSON.\n\n\
Exit codes: 0 ok, 1 usage, 2 bad input file, 3 missing dependency, 4 some files failed, \
5 cannot write output, 8 encrypted PDF, 130 interrupted.",
    after_help = "Examples:\n  sohoa scan plan.pdf                      text on stdout\n  sohoa scan plan.pdf -o plan.json         JSON, written atomically\n  sohoa restore < old-ocr.txt              restore diacritics line for line\n  sohoa batch scans/ out/ --jobs 2         archive batch with report.json\n  sohoa info                               versions and paths for a bug report"
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// OCR scans (PDF, PNG, JPEG, TIFF) to text or JSON.
    Scan(ScanArgs),
    /// Restore Vietnamese diacritics in existing text, line for line (stdin when no file).
    Restore(RestoreArgs),
    /// Versions, paths and models in use: what a bug report needs.
    Info(InfoArgs),
    /// Measure CER and syllable WER against ground truth (raw OCR, clean-up, restoration).
    Eval(EvalArgs),
    /// OCR a folder tree into a mirrored one, with OUT/report.json; resumable.
    Batch(BatchArgs),
    /// Watch a drop folder: OCR every file that arrives, then archive it (or move it to failed).
    Watch(WatchArgs),
    /// Enqueue a folder tree on a shared queue, one job per file (large PDFs in page ranges).
    Submit(SubmitArgs),
    /// Take jobs from a queue, OCR them, write results into the shared output tree.
    Worker(WorkerArgs),
    /// A queue's progress: queued, running, done, failed, pages/s; report.json once drained.
    Status(StatusArgs),
}

fn main() {
    cli::reexec_with_single_threaded_openmp();
    let args = Cli::try_parse().unwrap_or_else(|e| {
        // clap exits 2 on a usage error, which is our "bad input file": exit 1 as documented.
        // --help and --version come here too, on stdout, and are not errors.
        let _ = e.print();
        std::process::exit(if e.use_stderr() {
            exit::USAGE
        } else {
            exit::OK
        });
    });
    cli::init_logging(args.verbose);
    let result = match args.cmd {
        Cmd::Scan(a) => cli::scan(a),
        Cmd::Restore(a) => cli::restore(a),
        Cmd::Info(a) => cli::info(a),
        Cmd::Eval(a) => cli::eval(a),
        Cmd::Batch(a) => cli::batch(a),
        Cmd::Watch(a) => cli::watch(a),
        Cmd::Submit(a) => cli::submit(a),
        Cmd::Worker(a) => cli::worker(a),
        Cmd::Status(a) => cli::status(a),
    };
    std::process::exit(cli::exit_code(result));
}

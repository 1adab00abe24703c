//! The `sohoa` command: a thin shell over the library. Logs go to stderr, data to stdout.

use clap::{Args, Parser, Subcommand};
use sohoa::cli;
use sohoa::emit::Format;
use sohoa::error::exit;
use sohoa::pipeline::Options;
use std::path::PathBuf;

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

#[derive(Args, Clone)]
struct EngineArgs {
    /// Worker threads, one Tesseract engine each [default: number of cores].
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Resolution at which PDF pages are rendered.
    #[arg(long, default_value_t = 300.0)]
    dpi: f32,
    /// Resolution of images whose own is missing or implausible [default: estimated from the
    /// page size and letter height, else 300].
    #[arg(long)]
    image_dpi: Option<f32>,
    /// Skip diacritic restoration / OCR post-correction.
    #[arg(long)]
    no_restore: bool,
    /// Skip image clean-up before OCR.
    #[arg(long)]
    no_clean: bool,
    /// PDF pages that already have text: auto (take good text, OCR the rest, redo a poor earlier
    /// OCR layer), skip (never touch pages with text), redo (OCR again pages under an invisible
    /// layer), force (OCR every page).
    #[arg(long, value_enum, default_value_t = sohoa::textlayer::Mode::Auto)]
    mode: sohoa::textlayer::Mode,
    /// Tesseract language/model name.
    #[arg(long, default_value = sohoa::ocr::DEFAULT_LANG)]
    lang: String,
    /// Tesseract tessdata directory [default: $SOHOA_TESSDATA, $TESSDATA_PREFIX, Debian's].
    #[arg(long)]
    tessdata: Option<PathBuf>,
    /// Set a Tesseract variable, like `tesseract -c KEY=VALUE` (repeatable), e.g.
    /// `--tess-var preserve_interword_spaces=1`. An unknown name is an error.
    #[arg(long = "tess-var", value_name = "KEY=VALUE", value_parser = parse_tess_var)]
    tess_vars: Vec<(String, String)>,
    /// Path of libpdfium.so [default: $SOHOA_PDFIUM, third_party/pdfium, system].
    #[arg(long, env = "SOHOA_PDFIUM")]
    pdfium: Option<PathBuf>,
    /// Restoration model directory (restore.onnx, vocab.json, vi_syllables.txt) instead of the
    /// built-in one.
    #[arg(long, env = "SOHOA_MODEL")]
    model: Option<PathBuf>,
    /// Seconds a page may take once a worker has it; a page over it fails (reason "timeout")
    /// and the run goes on. 0: no limit.
    #[arg(long, value_name = "SECONDS", default_value_t = sohoa::pipeline::DEFAULT_PAGE_TIMEOUT.as_secs_f64())]
    page_timeout: f64,
    /// Refuse images (PNG, JPEG, TIFF pages) with more pixels than this many million, as
    /// decompression bombs (OCRmyPDF's default). PDF pages are rendered smaller instead.
    #[arg(long, value_name = "MPIXELS", default_value_t = 250.0)]
    max_image_mpixels: f64,
    /// Memory the pages in flight may take together, in MiB; a page waits for its share, and
    /// one page larger than it is rendered smaller (PDF) or refused (image).
    #[arg(long, value_name = "MIB", default_value_t = sohoa::budget::DEFAULT_BUDGET >> 20)]
    memory_budget: u64,
}

fn parse_tess_var(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

impl EngineArgs {
    fn options(&self) -> Options {
        let mut o = Options::default();
        if let Some(j) = self.jobs {
            o.jobs = j.max(1);
        }
        o.raster.dpi = self.dpi.clamp(50.0, 1200.0);
        if let Some(d) = self.image_dpi {
            o.raster.image_dpi = d.clamp(50.0, 2400.0);
            o.raster.estimate_dpi = false;
        }
        o.raster.pdfium = self.pdfium.clone();
        o.restore = !self.no_restore;
        o.clean.enabled = !self.no_clean;
        o.mode = self.mode;
        o.ocr.lang = self.lang.clone();
        if let Some(t) = &self.tessdata {
            o.ocr.tessdata = t.clone();
        }
        o.ocr.vars = self.tess_vars.clone();
        o.model_dir = self.model.clone();
        if self.max_image_mpixels.is_finite() && self.max_image_mpixels > 0.0 {
            o.raster.max_image_pixels = (self.max_image_mpixels * 1e6).min(1e15) as u64;
        }
        o.memory_budget = self.memory_budget.clamp(64, 1 << 30) << 20;
        o.page_timeout = (self.page_timeout.is_finite() && self.page_timeout > 0.0)
            .then(|| std::time::Duration::from_secs_f64(self.page_timeout.min(1e9)));
        o
    }
}

#[derive(Args)]
struct ScanArgs {
    /// Input files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format [default: from -o's extension, else text].
    #[arg(short, long, value_enum)]
    format: Option<Format>,
    /// Write here (atomically) instead of stdout; with several inputs, a directory.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Write the searchable PDF as plain PDF instead of PDF/A-2b.
    #[arg(long)]
    pdf_plain: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Args)]
struct RestoreArgs {
    /// Text file (UTF-8, or TCVN3 / VNI: converted to Unicode first); stdin when absent.
    file: Option<PathBuf>,
    /// Restoration model directory instead of the built-in one.
    #[arg(long, env = "SOHOA_MODEL")]
    model: Option<PathBuf>,
}

#[derive(Args)]
struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[arg(long, env = "SOHOA_PDFIUM")]
    pdfium: Option<PathBuf>,
    #[arg(long)]
    tessdata: Option<PathBuf>,
    #[arg(long, default_value = sohoa::ocr::DEFAULT_LANG)]
    lang: String,
}

#[derive(Args)]
struct EvalArgs {
    /// Folders holding scan sets with truth (e.g. ../shared/scans-dev).
    dirs: Vec<PathBuf>,
    /// Also score `restore` on NAME.eng.txt / NAME.truth.txt pairs in this folder.
    #[arg(long)]
    restore_pairs: Option<PathBuf>,
    /// Skip the raw-OCR pass (no clean-up, no restoration).
    #[arg(long)]
    no_raw: bool,
    /// Skip the bare-Tesseract baseline (default settings on the same page images).
    #[arg(long)]
    no_tesseract: bool,
    /// Also print a row per page.
    #[arg(long)]
    pages: bool,
    /// Write the table as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
}
#[derive(Args)]
#[command(
    after_help = "Exit codes: 0 all ok (or skipped), 4 some inputs failed, 130 interrupted (rerun to resume).\nSee docs/batch-watch.md."
)]
struct BatchArgs {
    /// Folder to walk recursively (PDF, TIFF, PNG, JPEG; other files are listed as skipped).
    input: PathBuf,
    /// Output folder: IN/a/b/x.pdf -> OUT/a/b/x.json, OUT/a/b/x.txt; OUT/report.json.
    output: PathBuf,
    /// Output formats, comma-separated (json, txt).
    #[arg(long, default_value = "json,txt")]
    formats: String,
    /// Redo inputs whose outputs are up to date.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Args)]
#[command(after_help = "Naming rule, journal and crash safety: docs/batch-watch.md.")]
struct WatchArgs {
    /// Drop folder (watched recursively; hidden names and *.part / *.tmp are ignored).
    input: PathBuf,
    /// Results: OUT/<relative stem>.json and .txt.
    output: PathBuf,
    /// Where originals go once their results are written [default: OUT/archive].
    #[arg(long)]
    archive: Option<PathBuf>,
    /// Where originals that fail go, with <name>.error.txt [default: OUT/failed].
    #[arg(long)]
    failed: Option<PathBuf>,
    /// Seconds a file's size and mtime must stay unchanged before it is taken.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    /// Poll the folder instead of using file events (network shares).
    #[arg(long)]
    poll: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Args)]
#[command(
    after_help = "Idempotent: submitting the same tree again adds no jobs. See docs/scale-out.md."
)]
struct SubmitArgs {
    /// Folder to walk recursively, on storage every worker mounts at the same path, or an
    /// s3://bucket/prefix (credentials and endpoint from AWS_* variables).
    input: PathBuf,
    /// The queue: redis://host[:port][/db].
    #[arg(long, env = "SOHOA_QUEUE")]
    queue: String,
    /// Output folder or s3://bucket/prefix (mirrors IN, as `sohoa batch`) [default: <IN>-ocr].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Output formats, comma-separated (json, txt, hocr, alto, pdf).
    #[arg(long, default_value = "json,txt")]
    formats: String,
    /// PDFs with more pages are split into jobs of this many pages.
    #[arg(long, default_value_t = 25)]
    pages_per_job: usize,
    /// Redo inputs whose results exist, even those already queued.
    #[arg(long)]
    force: bool,
    /// Print what was done as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(after_help = "Run one per machine (--jobs = cores). See docs/scale-out.md.")]
struct WorkerArgs {
    /// The queue: redis://host[:port][/db].
    #[arg(long, env = "SOHOA_QUEUE")]
    queue: String,
    /// Seconds after which a job held by a worker that stopped answering is taken over.
    #[arg(long, default_value_t = 60.0)]
    ack_timeout: f64,
    /// Attempts (failures and lost workers) before a job goes to the dead letters.
    #[arg(long, default_value_t = 3)]
    max_attempts: u32,
    /// Exit once nothing is queued or running (and write report.json).
    #[arg(long)]
    drain: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Args)]
struct StatusArgs {
    /// The queue: redis://host[:port][/db].
    #[arg(long, env = "SOHOA_QUEUE")]
    queue: String,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Wait until the queue drains (exit 4 when there are dead letters).
    #[arg(long)]
    wait: bool,
    /// Do not write report.json when drained.
    #[arg(long)]
    no_report: bool,
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
    std::process::exit(cli::exit_code(run(args.cmd)));
}

fn run(cmd: Cmd) -> anyhow::Result<i32> {
    match cmd {
        Cmd::Scan(a) => cli::scan(cli::Scan {
            options: a.engine.options(),
            files: a.files,
            format: a.format,
            output: a.output,
            pdf_plain: a.pdf_plain,
        }),
        Cmd::Restore(a) => cli::restore(cli::Restore {
            file: a.file,
            model: a.model,
        }),
        Cmd::Info(a) => cli::info(cli::Info {
            json: a.json,
            pdfium: a.pdfium,
            tessdata: a.tessdata,
            lang: a.lang,
        }),
        Cmd::Eval(a) => cli::eval(cli::Eval {
            options: a.engine.options(),
            dirs: a.dirs,
            restore_pairs: a.restore_pairs,
            no_raw: a.no_raw,
            no_tesseract: a.no_tesseract,
            pages: a.pages,
            json: a.json,
        }),
        Cmd::Batch(a) => cli::batch(cli::Batch {
            options: a.engine.options(),
            input: a.input,
            output: a.output,
            formats: a.formats,
            force: a.force,
        }),
        Cmd::Watch(a) => cli::watch(cli::Watch {
            options: a.engine.options(),
            input: a.input,
            output: a.output,
            archive: a.archive,
            failed: a.failed,
            settle: a.settle,
            poll: a.poll,
        }),
        Cmd::Submit(a) => cli::submit(cli::Submit {
            input: a.input,
            queue: a.queue,
            out: a.out,
            formats: a.formats,
            pages_per_job: a.pages_per_job,
            force: a.force,
            json: a.json,
        }),
        Cmd::Worker(a) => cli::worker(cli::Worker {
            options: a.engine.options(),
            queue: a.queue,
            ack_timeout: a.ack_timeout,
            max_attempts: a.max_attempts,
            drain: a.drain,
        }),
        Cmd::Status(a) => cli::status(cli::Status {
            queue: a.queue,
            json: a.json,
            wait: a.wait,
            no_report: a.no_report,
        }),
    }
}

//! The `sohoa` command: a thin shell over the library. Logs go to stderr, data to stdout.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sohoa::emit::{self, Format};
use sohoa::error::exit;
use sohoa::pipeline::{Event, Options, Pipeline};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

fn main() {
    reexec_with_single_threaded_openmp();
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        // clap exits 2 on a usage error, which is our "bad input file": exit 1 as documented.
        // --help and --version come here too, on stdout, and are not errors.
        let _ = e.print();
        std::process::exit(if e.use_stderr() {
            exit::USAGE
        } else {
            exit::OK
        });
    });
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp(None)
        .init();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = e
                .downcast_ref::<sohoa::Error>()
                .map(|e| e.exit_code())
                .unwrap_or(exit::USAGE);
            eprintln!("sohoa: {e:#}");
            code
        }
    };
    std::process::exit(code);
}

/// Debian's libtesseract uses OpenMP; with several engines in one process its threads fight and
/// a page takes ten times as long. OpenMP reads OMP_THREAD_LIMIT when it loads, before `main`,
/// so the only fix from inside is to run ourselves again with it set.
fn reexec_with_single_threaded_openmp() {
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

fn cancel_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let _ = ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            std::process::exit(exit::INTERRUPTED);
        }
        eprintln!("sohoa: interrupted; finishing the pages in hand (Ctrl-C again to quit now)");
    });
    flag
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.cmd {
        Cmd::Scan(a) => scan(a),
        Cmd::Restore(a) => restore(a),
        Cmd::Info(a) => info(a),
        Cmd::Eval(a) => eval(a),
        Cmd::Batch(a) => batch_cmd(a),
        Cmd::Watch(a) => watch_cmd(a),
        Cmd::Submit(a) => submit_cmd(a),
        Cmd::Worker(a) => worker_cmd(a),
        Cmd::Status(a) => status_cmd(a),
    }
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

fn scan(a: ScanArgs) -> anyhow::Result<i32> {
    let format = a
        .format
        .or_else(|| a.output.as_deref().and_then(Format::from_path))
        .unwrap_or(Format::Text);
    let many = a.files.len() > 1;
    if let Some(o) = &a.output {
        if many && o.exists() && !o.is_dir() {
            anyhow::bail!(
                "-o {}: with several inputs, -o must be a directory",
                o.display()
            );
        }
    }
    let pipeline = Pipeline::new(a.engine.options())?;
    let cancel = cancel_flag();
    let pb = progress_bar(0, "pages");
    let pb2 = pb.clone();
    let mut on_event = move |e: Event| match e {
        Event::FileStarted { pages: Some(n), .. } => pb2.inc_length(n as u64),
        Event::FileStarted { pages: None, .. } => {}
        Event::PageDone { .. } => pb2.inc(1),
    };
    let mut failures: Vec<i32> = Vec::new();
    let mut write_error: Option<anyhow::Error> = None;
    let stdout = std::io::stdout();
    let files = a.files.clone();
    let pdf_opts = emit::PdfOptions { pdfa: !a.pdf_plain };
    let mut on_done = |i: usize, r: sohoa::Result<sohoa::Document>| {
        let path = &files[i];
        match r {
            Ok(mut doc) => {
                let render = |doc: &sohoa::Document| {
                    if many && a.output.is_none() && format == Format::Json {
                        let mut v = serde_json::to_vec(doc).expect("serialisable");
                        v.push(b'\n');
                        Ok(v)
                    } else {
                        emit::try_render_with(doc, format, &pdf_opts)
                    }
                };
                let t = std::time::Instant::now();
                let mut bytes = match render(&doc) {
                    Ok(b) => b,
                    Err(e) => {
                        pb.suspend(|| eprintln!("sohoa: {}: {e}", path.display()));
                        failures.push(e.exit_code());
                        return;
                    }
                };
                doc.timings.emit_ms = t.elapsed().as_secs_f64() * 1e3;
                if format == Format::Json {
                    // A document cannot hold the time of its own serialisation: record the
                    // first one's and serialise again (cheap next to OCR).
                    bytes = render(&doc).unwrap_or(bytes);
                }
                let n = doc.pages.len().max(1) as f64;
                let tm = &doc.timings;
                log::info!(
                    "{}: {} pages; ms per page: rasterise {:.0}, clean {:.0}, ocr {:.0}, restore {:.0}, structure {:.1}, emit {:.1}",
                    path.display(),
                    doc.pages.len(),
                    tm.rasterise_ms / n,
                    tm.clean_ms / n,
                    tm.ocr_ms / n,
                    tm.restore_ms / n,
                    tm.structure_ms / n,
                    tm.emit_ms / n
                );
                let res = match &a.output {
                    Some(o) if many => {
                        let stem = path
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "out".into());
                        emit::write_atomic(
                            &o.join(format!("{stem}.{}", format.extension())),
                            &bytes,
                        )
                    }
                    Some(o) => emit::write_atomic(o, &bytes),
                    None => {
                        let mut out = stdout.lock();
                        let mut r = out.write_all(&bytes);
                        if r.is_ok() && many && format == Format::Text {
                            r = out.write_all(b"\x0c");
                        }
                        r.and_then(|_| out.flush())
                            .map_err(|e| sohoa::Error::Write {
                                path: "stdout".into(),
                                source: e,
                            })
                    }
                };
                if let Err(e) = res {
                    failures.push(e.exit_code());
                    write_error.get_or_insert(anyhow::anyhow!(e));
                }
            }
            Err(e) => {
                pb.suspend(|| eprintln!("sohoa: {}: {e}", path.display()));
                failures.push(e.exit_code());
            }
        }
    };
    pipeline.process_files(&a.files, &cancel, &mut on_event, &mut on_done);
    pb.finish_and_clear();
    if let Some(e) = write_error {
        eprintln!("sohoa: {e:#}");
    }
    Ok(if cancel.load(Ordering::SeqCst) {
        exit::INTERRUPTED
    } else if failures.is_empty() {
        exit::OK
    } else if !many {
        failures[0]
    } else {
        exit::SOME_FAILED
    })
}

fn restore(a: RestoreArgs) -> anyhow::Result<i32> {
    let mut bytes = Vec::new();
    match &a.file {
        Some(p) => {
            bytes = std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read stdin")?;
        }
    }
    // Pre-Unicode files (TCVN3 "ABC", VNI) are converted, whether saved as bytes or as UTF-8
    // mojibake.
    let (input, legacy) = sohoa::legacy::decode_text_file(&bytes);
    if let Some(enc) = legacy {
        log::info!("input converted from {} to Unicode", enc.name());
    }
    let r = match &a.model {
        Some(d) => sohoa::restore::Restorer::from_dir(d)?,
        None => sohoa::restore::Restorer::embedded()?,
    };
    let input = sohoa::text::nfc(&input);
    let trailing_newline = input.ends_with('\n');
    let body = input.strip_suffix('\n').unwrap_or(&input);
    let lines: Vec<&str> = body.split('\n').collect();
    let mut out = std::io::stdout().lock();
    // Chunks keep memory flat on big files while batching enough lines for the model.
    for chunk in lines.chunks(256) {
        let restored = r.restore_plain(chunk)?;
        for (k, l) in restored.iter().enumerate() {
            out.write_all(l.as_bytes())?;
            let last = std::ptr::eq(chunk, lines.chunks(256).last().unwrap_or(chunk))
                && k + 1 == restored.len();
            if !last || trailing_newline {
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(exit::OK)
}

fn info(a: InfoArgs) -> anyhow::Result<i32> {
    let tessdata = a
        .tessdata
        .clone()
        .unwrap_or_else(sohoa::ocr::default_tessdata);
    let langs = sohoa::ocr::available_languages(&tessdata);
    let pdfium = sohoa::raster::pdfium(a.pdfium.as_deref()).map(|_| sohoa::raster::pdfium_path());
    let model = sohoa::restore::Restorer::embedded();
    let model_file = tessdata.join(format!("{}.traineddata", a.lang));
    let v = serde_json::json!({
        "sohoa": env!("CARGO_PKG_VERSION"),
        "schema": sohoa::doc::SCHEMA,
        "tesseract": sohoa::ocr::tesseract_version(),
        "tesseract_library": sohoa::ocr::tesseract_library().map(|p| p.display().to_string()),
        "leptonica": sohoa::ocr::leptonica_version(),
        "tessdata": tessdata.display().to_string(),
        "lang": a.lang,
        "languages": langs,
        "tesseract_model": model_file.exists().then(|| model_file.display().to_string()),
        "pdfium": match &pdfium { Ok(p) => serde_json::json!(p.as_ref().map(|p| p.display().to_string())), Err(e) => serde_json::json!({"error": e.to_string()}) },
        "restore_model": match &model { Ok(m) => serde_json::json!(m.model_id), Err(e) => serde_json::json!({"error": e.to_string()}) },
        "tesseract_png_shortcut": sohoa::tess_shim::active(),
        "omp_thread_limit": std::env::var("OMP_THREAD_LIMIT").ok(),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if let serde_json::Value::Object(m) = &v {
        for (k, val) in m {
            let s = match val {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("{k:>22}: {s}");
        }
    }
    let missing = !model_file.exists() || pdfium.is_err() || model.is_err();
    Ok(if missing {
        exit::MISSING_DEPENDENCY
    } else {
        exit::OK
    })
}

fn eval(a: EvalArgs) -> anyhow::Result<i32> {
    use sohoa::eval::{self, Column};
    use sohoa::text::ErrorCounts;
    let mut table: Vec<serde_json::Value> = Vec::new();
    let print_row = |name: &str,
                     stage: &str,
                     e: &ErrorCounts,
                     ms: Option<f64>,
                     table: &mut Vec<serde_json::Value>| {
        println!(
            "{name:<40} {stage:<10} CER {:>6.2}%  WER {:>6.2}%  order-free {:>6.2}%  ({} chars, {} syllables){}",
            e.cer(),
            e.wer(),
            e.order_free(),
            e.chars,
            e.words,
            ms.map(|m| format!("  {:.1} s", m / 1e3)).unwrap_or_default()
        );
        table.push(serde_json::json!({"set": name, "stage": stage, "cer": e.cer(), "wer": e.wer(), "order_free": e.order_free(), "chars": e.chars, "words": e.words, "ms": ms}));
    };
    let mut sets = Vec::new();
    for d in &a.dirs {
        sets.extend(eval::find_sets(d)?);
    }
    if !sets.is_empty() {
        let cancel = cancel_flag();
        let opts = eval::EvalOptions {
            base: a.engine.options(),
            tesseract: !a.no_tesseract,
            raw: !a.no_raw,
        };
        let n_pages: usize = sets
            .iter()
            .map(|s| s.truth.iter().filter(|t| t.is_some()).count())
            .sum();
        let pb = progress_bar(n_pages as u64, "eval");
        let results = eval::run(&sets, &opts, &cancel, &|| pb.inc(1))?;
        pb.finish_and_clear();
        let mut totals: Vec<(Column, ErrorCounts, f64)> = Vec::new();
        let ratio_row = |name: &str, r: Option<f64>, table: &mut Vec<serde_json::Value>| {
            if let Some(r) = r {
                println!("{name:<40} {:<10} WER sohoa / tesseract {r:.3}", "ratio");
                table.push(
                    serde_json::json!({"set": name, "stage": "ratio", "wer_vs_tesseract": r}),
                );
            }
        };
        for r in &results {
            for e in &r.errors {
                eprintln!("sohoa: {}: {e}", r.name);
            }
            if a.pages {
                for (n, cols) in &r.per_page {
                    for (c, e, ms) in cols {
                        print_row(
                            &format!("{} p{n}", r.name),
                            c.name(),
                            e,
                            Some(*ms),
                            &mut table,
                        );
                    }
                }
            }
            for (c, e, ms) in &r.columns {
                print_row(&r.name, c.name(), e, Some(*ms), &mut table);
                match totals.iter_mut().find(|x| x.0 == *c) {
                    Some(x) => {
                        x.1.add(*e);
                        x.2 += ms;
                    }
                    None => totals.push((*c, *e, *ms)),
                }
            }
            ratio_row(&r.name, r.wer_vs_tesseract(), &mut table);
        }
        totals.sort_by_key(|x| x.0);
        let total = eval::SetResult {
            name: "TOTAL".into(),
            pages: results.iter().map(|r| r.pages).sum(),
            columns: totals,
            per_page: Vec::new(),
            errors: Vec::new(),
        };
        for (c, e, ms) in &total.columns {
            print_row("TOTAL", c.name(), e, Some(*ms), &mut table);
        }
        ratio_row("TOTAL", total.wer_vs_tesseract(), &mut table);
    }
    if let Some(dir) = &a.restore_pairs {
        let r = match &a.engine.model {
            Some(d) => sohoa::restore::Restorer::from_dir(d)?,
            None => sohoa::restore::Restorer::embedded()?,
        };
        let (mut raw, mut fixed) = (ErrorCounts::default(), ErrorCounts::default());
        for (name, input, truth) in eval::find_restore_pairs(dir)? {
            let inp = sohoa::text::nfc(&std::fs::read_to_string(&input)?);
            let t = std::fs::read_to_string(&truth)?;
            let out = r.restore_text(&inp)?;
            let (e0, e1) = (ErrorCounts::of(&inp, &t), ErrorCounts::of(&out, &t));
            print_row(&name, "input", &e0, None, &mut table);
            print_row(&name, "restored", &e1, None, &mut table);
            raw.add(e0);
            fixed.add(e1);
        }
        print_row("TOTAL restore pairs", "input", &raw, None, &mut table);
        print_row("TOTAL restore pairs", "restored", &fixed, None, &mut table);
    }
    if let Some(p) = &a.json {
        emit::write_atomic(p, serde_json::to_string_pretty(&table)?.as_bytes())?;
    }
    let _ = Path::new("");
    Ok(exit::OK)
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

fn batch_cmd(a: BatchArgs) -> anyhow::Result<i32> {
    let formats = Format::parse_list(&a.formats).map_err(anyhow::Error::msg)?;
    let pipeline = Pipeline::new(a.engine.options())?;
    let cancel = cancel_flag();
    let opts = sohoa::batch::BatchOptions {
        input: a.input,
        output: a.output,
        formats,
        force: a.force,
        progress: std::io::stderr().is_terminal(),
    };
    let report = sohoa::batch::run(&pipeline, &opts, &cancel)?;
    eprintln!("{}", sohoa::batch::summary_text(&report));
    Ok(report.exit_code())
}

fn watch_cmd(a: WatchArgs) -> anyhow::Result<i32> {
    if !a.settle.is_finite() || !(0.0..=86400.0).contains(&a.settle) {
        anyhow::bail!("--settle {}: give seconds between 0 and 86400", a.settle);
    }
    let stop = sohoa::watch::stop_on_signals();
    let pipeline = Pipeline::new(a.engine.options())?;
    let mut opts = sohoa::watch::WatchOptions::new(a.input, a.output);
    opts.archive = a.archive;
    opts.failed = a.failed;
    opts.settle = std::time::Duration::from_secs_f64(a.settle);
    opts.poll = a.poll;
    let stats = sohoa::watch::run(&pipeline, &opts, &stop)?;
    eprintln!(
        "sohoa watch: stopped; {} done ({} pages), {} failed",
        stats.ok, stats.pages, stats.failed
    );
    Ok(exit::OK)
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

fn submit_cmd(a: SubmitArgs) -> anyhow::Result<i32> {
    let formats = Format::parse_list(&a.formats).map_err(anyhow::Error::msg)?;
    let mut q = sohoa::queue::open(&a.queue)?;
    let opts = sohoa::scale::SubmitOptions {
        input: a.input,
        output: a.out,
        formats,
        pages_per_job: a.pages_per_job.max(1),
        force: a.force,
    };
    let s = sohoa::scale::submit(&mut *q, &opts)?;
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

fn worker_cmd(a: WorkerArgs) -> anyhow::Result<i32> {
    if !a.ack_timeout.is_finite() || !(1.0..=86400.0).contains(&a.ack_timeout) {
        anyhow::bail!(
            "--ack-timeout {}: give seconds between 1 and 86400",
            a.ack_timeout
        );
    }
    let stop = sohoa::scale::stop_on_signals();
    let o = a.engine.options();
    let opts = sohoa::scale::WorkerOptions {
        queue: a.queue,
        slots: o.jobs,
        ack_timeout: std::time::Duration::from_secs_f64(a.ack_timeout),
        max_attempts: a.max_attempts.max(1),
        drain: a.drain,
        ..Default::default()
    };
    let pipeline = Pipeline::new(o)?;
    let st = sohoa::scale::work(&pipeline, &opts, &stop)?;
    eprintln!(
        "sohoa worker: stopped; {} jobs ({} pages), {} failed attempts, {} dead letters",
        st.jobs, st.pages, st.failures, st.dead_letters
    );
    for r in &st.reports {
        eprintln!("sohoa worker: report: {r}");
    }
    Ok(exit::OK)
}

fn status_cmd(a: StatusArgs) -> anyhow::Result<i32> {
    let mut q = sohoa::queue::open(&a.queue)?;
    loop {
        let s = sohoa::scale::status(&mut *q, !a.no_report)?;
        if !a.wait || s.drained {
            if a.json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("{}", sohoa::scale::status_text(&s));
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

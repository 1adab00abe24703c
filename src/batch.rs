//! `sohoa batch IN OUT`: an archive run over a directory tree, resumable.
//!
//! Every file under IN is accounted for in `OUT/report.json`: `ok`, `failed` (with a reason a
//! person understands and a stable tag from [`Error::kind`]) or `skipped` (not a PDF/image by
//! its name, already done and up to date, or not reached because the run was interrupted).
//! Supported inputs are handed to [`Pipeline::process_files`] in one go, so pages of all files
//! are worked on together with bounded memory.
//!
//! Outputs mirror the tree: `IN/a/b/x.pdf` → `OUT/a/b/x.json`, `OUT/a/b/x.txt`. When two inputs
//! in one folder share a stem (`x.pdf`, `x.tif`), both keep their extension: `x.pdf.json`,
//! `x.tif.json` (and `~2`, `~3`… in the unlikely case that still collides).
//!
//! Resuming: after the outputs of an input are written (atomically, text before JSON), one line
//! is appended to the journal `OUT/.sohoa/batch.jsonl` with the input's SHA-256, the settings
//! that affect the result and the outputs. A rerun skips an input whose journal line has the
//! same content hash and settings and whose outputs all exist. Without a journal line, an input
//! also counts as done when its JSON output records the same `source.sha256` and the other
//! requested outputs exist. `force` redoes everything. See docs/batch-watch.md.

use crate::emit::{self, Format};
use crate::error::{Error, Result};
use crate::input::Kind;
use crate::pipeline::{Event, Pipeline};
use crate::publish::{self, write_err, Dir, Sink};
pub use crate::report::{Entry, Report, Settings, Status, Summary, REPORT};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

pub use crate::tree::STATE_DIR;
use crate::tree::{sha256_file, walk};
/// The batch journal's name inside [`STATE_DIR`].
pub const JOURNAL: &str = "batch.jsonl";

/// What `sohoa batch` was asked to do.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Output formats, each written as `OUT/<relative stem>.<ext>`.
    pub formats: Vec<Format>,
    /// Redo inputs even when their outputs are up to date.
    pub force: bool,
    /// Show a progress bar on stderr; otherwise one log line per file.
    pub progress: bool,
}

/// One line of the journal: an input whose outputs were all written.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Done {
    input: String,
    sha256: String,
    settings: Settings,
    pages: usize,
    /// Paths relative to OUT.
    outputs: Vec<String>,
}

use crate::naming::rel_string;

/// Output bases (relative paths without the format extension) for supported inputs, by the
/// rule shared with the scale-out front-end ([`crate::naming`]).
fn plan_outputs(inputs: &[PathBuf]) -> HashMap<PathBuf, String> {
    let rels: Vec<String> = inputs.iter().map(|r| rel_string(r)).collect();
    let mut bases = crate::naming::plan_outputs(&rels);
    inputs
        .iter()
        .zip(&rels)
        .map(|(r, k)| (r.clone(), bases.remove(k).unwrap_or_default()))
        .collect()
}

fn read_journal(path: &Path) -> HashMap<String, Done> {
    let mut map = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(path) {
        // A line cut short by a crash does not parse and is ignored.
        for line in text.lines() {
            if let Ok(d) = serde_json::from_str::<Done>(line) {
                map.insert(d.input.clone(), d);
            }
        }
    }
    map
}

/// Whether a JSON output records this content hash and these settings' restoration model and
/// language (the fallback when the journal has no line for an input).
fn json_records(path: &Path, sha: &str, settings: &Settings) -> Option<usize> {
    let r = publish::recorded_in(path)?;
    (r.sha256 == sha && r.lang == settings.lang && r.restore_model == settings.restore_model)
        .then_some(r.pages)
}

/// The journal, appended to and flushed to disk after each input.
struct Journal {
    path: PathBuf,
    file: std::fs::File,
}

impl Journal {
    fn open(path: &Path) -> Result<Journal> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(write_err(path))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(write_err(path))?;
        // A crash can leave a line without its newline: start a fresh one so the next record
        // does not glue onto it.
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > 0 {
            use std::io::Seek;
            let mut last = [0u8; 1];
            let mut f2 = std::fs::File::open(path).map_err(write_err(path))?;
            f2.seek(std::io::SeekFrom::Start(len - 1))
                .map_err(write_err(path))?;
            f2.read_exact(&mut last).map_err(write_err(path))?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(write_err(path))?;
            }
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    fn append(&mut self, d: &Done) -> Result<()> {
        let mut line = serde_json::to_vec(d).expect("journal lines serialise");
        line.push(b'\n');
        self.file.write_all(&line).map_err(write_err(&self.path))?;
        self.file.sync_data().map_err(write_err(&self.path))
    }
}

fn progress_bar(show: bool, total: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "[{elapsed_precise}] {bar:30} {pos}/{len} files, {msg}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb.set_message("0 pages");
    pb
}

/// Run a batch: walk, skip what is up to date, process the rest, write `OUT/report.json`.
/// Returns the report (also when interrupted: `summary.interrupted`). Errors only when OUT
/// cannot be created or IN is not a directory.
pub fn run(pipeline: &Pipeline, opts: &BatchOptions, cancel: &AtomicBool) -> Result<Report> {
    let t_run = Instant::now();
    let in_dir = &opts.input;
    let out_dir = &opts.output;
    if !in_dir.is_dir() {
        return Err(Error::Read {
            path: in_dir.clone(),
            source: std::io::Error::other("not a directory"),
        });
    }
    let formats = publish::formats(&opts.formats);
    // Outputs mirror the inputs' names, so with OUT = IN `x.pdf` would be replaced by its own
    // searchable PDF: refuse before touching anything.
    let same_dir =
        matches!((in_dir.canonicalize(), out_dir.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if same_dir && formats.contains(&Format::Pdf) {
        return Err(Error::Write {
            path: out_dir.clone(),
            source: std::io::Error::other(
                "is the input folder, and PDF output would overwrite the input PDFs: choose another output folder",
            ),
        });
    }
    std::fs::create_dir_all(out_dir).map_err(write_err(out_dir))?;
    let sink = Dir(out_dir);
    let settings = Settings::of(pipeline);
    let state_dir = out_dir.join(STATE_DIR);
    let journal_path = state_dir.join(JOURNAL);
    let previous = if opts.force {
        HashMap::new()
    } else {
        read_journal(&journal_path)
    };
    let mut journal = Journal::open(&journal_path)?;

    // Walk, leaving OUT out when it lies inside IN.
    let exclude: Vec<PathBuf> = out_dir.canonicalize().into_iter().collect();
    let (files, dir_errors) = walk(in_dir, &exclude, &|_| false);
    let supported: Vec<PathBuf> = files
        .iter()
        .filter(|r| Kind::by_extension(r).is_some())
        .cloned()
        .collect();
    let bases = plan_outputs(&supported);
    let out_paths = |base: &str| publish::names(base, &formats);

    let mut entries: BTreeMap<PathBuf, Entry> = BTreeMap::new();
    let shown = |rel: &Path| in_dir.join(rel).display().to_string();
    for (rel, e) in dir_errors {
        let err = Error::Read {
            path: in_dir.join(&rel),
            source: e,
        };
        entries.insert(rel.clone(), Entry::failed(shown(&rel), &err));
    }
    for rel in files.iter().filter(|r| Kind::by_extension(r).is_none()) {
        entries.insert(rel.clone(), Entry::unsupported(shown(rel)));
    }

    // Up to date? Hash in parallel (reading is the cost; OCR has not started yet).
    let up_to_date: Vec<Option<(String, usize)>> = {
        use rayon::prelude::*;
        supported
            .par_iter()
            .map(|rel| {
                if opts.force {
                    return None;
                }
                let key = rel_string(rel);
                let outs = out_paths(&bases[rel]);
                if !outs.iter().all(|(_, o)| out_dir.join(o).is_file()) {
                    return None;
                }
                let sha = sha256_file(&in_dir.join(rel)).ok()?;
                if let Some(d) = previous.get(&key) {
                    if d.sha256 == sha
                        && d.settings == settings
                        && outs.iter().all(|(_, o)| d.outputs.contains(o))
                    {
                        return Some((sha, d.pages));
                    }
                }
                let json = outs.iter().find(|(f, _)| *f == Format::Json)?;
                json_records(&out_dir.join(&json.1), &sha, &settings).map(|pages| (sha, pages))
            })
            .collect()
    };
    let mut todo: Vec<PathBuf> = Vec::new();
    for (rel, done) in supported.iter().zip(up_to_date) {
        match done {
            Some((sha, pages)) => {
                let outputs = out_paths(&bases[rel]);
                let outputs = outputs.iter().map(|(_, o)| sink.display(o)).collect();
                let entry = Entry::up_to_date(shown(rel), sha, pages, outputs);
                entries.insert(rel.clone(), entry);
            }
            None => todo.push(rel.clone()),
        }
    }
    // On a terminal the bar tells the progress and only failures are printed above it;
    // otherwise one line per file.
    let logline = |pb: &indicatif::ProgressBar, failure: bool, s: String| {
        if !opts.progress {
            eprintln!("{s}");
        } else if failure {
            pb.println(s);
        }
    };
    // Skips are logged first, one line each, as the issue asks of non-terminal runs.
    if !opts.progress {
        for e in entries.values() {
            eprintln!(
                "sohoa batch: skipped {}: {}",
                e.input,
                e.error.as_deref().unwrap_or("")
            );
        }
    }

    // Process.
    let paths: Vec<PathBuf> = todo.iter().map(|r| in_dir.join(r)).collect();
    let pb = progress_bar(opts.progress, paths.len() as u64);
    struct Live {
        started: HashMap<usize, Instant>,
        pages_done: HashMap<usize, usize>,
        pages_total: usize,
    }
    let live = Mutex::new(Live {
        started: HashMap::new(),
        pages_done: HashMap::new(),
        pages_total: 0,
    });
    let t_proc = Instant::now();
    let set_msg = |pb: &indicatif::ProgressBar, pages: usize| {
        let secs = t_proc.elapsed().as_secs_f64().max(1e-3);
        pb.set_message(format!("{pages} pages, {:.2} pages/s", pages as f64 / secs));
    };
    {
        let pb_ev = pb.clone();
        let live_ev = &live;
        let set_msg_ev = &set_msg;
        let mut on_event = move |e: Event| {
            let Ok(mut l) = live_ev.lock() else { return };
            match e {
                Event::FileStarted { file, .. } => {
                    l.started.entry(file).or_insert_with(Instant::now);
                }
                Event::PageDone { file, .. } => {
                    *l.pages_done.entry(file).or_default() += 1;
                    l.pages_total += 1;
                    set_msg_ev(&pb_ev, l.pages_total);
                }
            }
        };
        let mut on_done = |i: usize, r: Result<crate::Document>| {
            let rel = &todo[i];
            let (started, pages_seen) = match live.lock() {
                Ok(mut l) => (l.started.remove(&i), l.pages_done.remove(&i).unwrap_or(0)),
                Err(_) => (None, 0),
            };
            let seconds = started.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
            let input = shown(rel);
            let mut entry = Entry {
                pages: pages_seen,
                seconds,
                ..Entry::new(input.clone(), Status::Failed)
            };
            let result = r.and_then(|doc| {
                entry = publish::entry(input.clone(), &doc);
                let outs = out_paths(&bases[rel]);
                let shown = publish::publish(&sink, &doc, &outs, &mut |_| {})?;
                journal.append(&Done {
                    input: rel_string(rel),
                    sha256: doc.source.sha256.clone(),
                    settings: settings.clone(),
                    pages: doc.pages.len(),
                    outputs: outs.iter().map(|(_, o)| o.clone()).collect(),
                })?;
                entry.outputs = shown;
                Ok(())
            });
            entry.seconds = started.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
            match result {
                Ok(()) => {
                    entry.status = Status::Ok;
                    logline(
                        &pb,
                        false,
                        format!(
                            "sohoa batch: ok {input}: {} pages, {:.1} s -> {}",
                            entry.pages,
                            entry.seconds,
                            entry.outputs.join(", ")
                        ),
                    );
                }
                Err(Error::Interrupted) => {
                    entry.status = Status::Skipped;
                    entry.error =
                        Some("interrupted before it was finished; rerun to resume".into());
                    entry.reason = Some("interrupted".into());
                }
                Err(e) => {
                    entry.status = Status::Failed;
                    entry.error = Some(e.to_string());
                    entry.reason = Some(e.kind().into());
                    logline(
                        &pb,
                        true,
                        format!("sohoa batch: failed {input} ({}): {e}", e.kind()),
                    );
                }
            }
            pb.inc(1);
            entries.insert(rel.clone(), entry);
        };
        pipeline.process_files(&paths, cancel, &mut on_event, &mut on_done);
    }
    pb.finish_and_clear();
    let interrupted = cancel.load(Ordering::SeqCst);

    // Report.
    let files: Vec<Entry> = entries.into_values().collect();
    let mut s = Summary {
        interrupted,
        ..Summary::of(&files)
    };
    s.seconds = t_run.elapsed().as_secs_f64();
    let proc_secs = t_proc.elapsed().as_secs_f64();
    s.pages_per_second = if proc_secs > 0.0 {
        s.pages as f64 / proc_secs
    } else {
        0.0
    };
    let report = Report {
        input: in_dir.display().to_string(),
        output: out_dir.display().to_string(),
        formats,
        settings,
        summary: s,
        files,
    };
    emit::write_atomic(&out_dir.join(REPORT), &report.to_bytes())?;
    compact_journal(&journal_path);
    Ok(report)
}

/// Rewrite the journal with one line per input (the latest), so it does not grow without end
/// over many reruns. A crash here leaves the old journal (the write is atomic).
fn compact_journal(path: &Path) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let mut order: Vec<String> = Vec::new();
    let mut latest: HashMap<String, String> = HashMap::new();
    for line in text.lines() {
        if let Ok(d) = serde_json::from_str::<Done>(line) {
            if latest.insert(d.input.clone(), line.to_string()).is_none() {
                order.push(d.input);
            }
        }
    }
    let mut out = String::new();
    for k in order {
        out.push_str(&latest[&k]);
        out.push('\n');
    }
    if out.len() < text.len() {
        let _ = emit::write_atomic(path, out.as_bytes());
    }
}

/// A one-paragraph summary for the end of a run (stderr).
pub fn summary_text(r: &Report) -> String {
    let s = &r.summary;
    let mut t = format!(
        "sohoa batch: {} files: {} ok, {} failed, {} skipped; {} pages in {:.1} s ({:.2} pages/s); report: {}",
        s.files,
        s.ok,
        s.failed,
        s.skipped,
        s.pages,
        s.seconds,
        s.pages_per_second,
        Path::new(&r.output).join(REPORT).display()
    );
    if !s.failures_by_reason.is_empty() {
        let parts: Vec<String> = s
            .failures_by_reason
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        t.push_str(&format!("\n  failed by reason: {}", parts.join(", ")));
    }
    if !s.skipped_by_reason.is_empty() {
        let parts: Vec<String> = s
            .skipped_by_reason
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        t.push_str(&format!("\n  skipped by reason: {}", parts.join(", ")));
    }
    if s.interrupted {
        t.push_str("\n  interrupted: run the same command again to resume");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_follow_the_shared_rule() {
        let ins: Vec<PathBuf> = ["a/x.pdf", "a/x.tif", "a/y.pdf"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let p = plan_outputs(&ins);
        assert_eq!(p[&PathBuf::from("a/x.pdf")], "a/x.pdf");
        assert_eq!(p[&PathBuf::from("a/x.tif")], "a/x.tif");
        assert_eq!(p[&PathBuf::from("a/y.pdf")], "a/y");
    }
}

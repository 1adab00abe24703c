//! Eval: accuracy against ground truth, measured the same way everywhere (CER and syllable WER
//! over NFC text with whitespace runs collapsed, see [`crate::text::ErrorCounts`]).
//!
//! A scan set is either a folder with one document and its `page-NNN.txt` files (as in
//! shared/scans-dev), or a document `X` beside `X.gt.txt` (one page) or `X.pN.gt.txt` (page N).
//! Truth may have gaps (pages 1-5 and 9 of an 18-page annex): pages without it are not OCR'd.
//!
//! [`run`] reads every page with truth once and scores four columns on the same image:
//! `tesseract` (bare Tesseract, default settings, on the page as sohoa renders it: the baseline
//! the issues compare against), `raw` (sohoa without clean-up or restoration), `clean` (with
//! clean-up) and `restored` (clean-up and restoration, sohoa's default).

use crate::error::{Error, Result};
use crate::ocr::OcrOptions;
use crate::pipeline::{Options, Pipeline};
use crate::raster::{self, PageImage};
use crate::restore::Restorer;
use crate::text::ErrorCounts;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use tesseract_rs::{TessPageSegMode, TesseractAPI};

#[derive(Debug, Clone)]
pub struct EvalSet {
    pub name: String,
    pub file: PathBuf,
    /// Truth text per page (1-based page n at index n-1); `None` where no truth exists.
    pub truth: Vec<Option<String>>,
}

fn is_document(p: &Path) -> bool {
    crate::input::Kind::by_extension(p).is_some()
}

/// Find every evaluable set under `root` (recursively), sorted by name.
pub fn find_sets(root: &Path) -> Result<Vec<EvalSet>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| crate::Error::Read {
                path: dir.clone(),
                source: e,
            })?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        let docs: Vec<&PathBuf> = entries
            .iter()
            .filter(|p| p.is_file() && is_document(p))
            .collect();
        let pages: Vec<&PathBuf> = entries
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("page-") && n.ends_with(".txt"))
            })
            .collect();
        if docs.len() == 1 && !pages.is_empty() {
            let mut truth = Vec::new();
            for p in &pages {
                let n: usize = p
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.strip_prefix("page-"))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if n == 0 {
                    continue;
                }
                if truth.len() < n {
                    truth.resize(n, None);
                }
                truth[n - 1] = std::fs::read_to_string(p).ok();
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(EvalSet {
                name,
                file: docs[0].clone(),
                truth,
            });
        } else {
            for d in &docs {
                let fname = d.file_name().unwrap().to_string_lossy().into_owned();
                let stem = d.file_stem().unwrap().to_string_lossy().into_owned();
                let mut truth = Vec::new();
                if let Ok(t) = std::fs::read_to_string(dir.join(format!("{fname}.gt.txt"))) {
                    truth.push(Some(t));
                } else {
                    // `X.pdf.pN.gt.txt` belongs to X.pdf alone; `X.pN.gt.txt` to any X.* that
                    // has none of its own (vietsample1.tif beside vietsample1.pdf).
                    truth = page_truths(&entries, &fname);
                    if truth.is_empty() {
                        truth = page_truths(&entries, &stem);
                    }
                }
                if truth.is_empty() {
                    if let Ok(t) = std::fs::read_to_string(dir.join(format!("{stem}.gt.txt"))) {
                        truth.push(Some(t));
                    }
                }
                if !truth.is_empty() {
                    out.push(EvalSet {
                        name: fname,
                        file: (*d).clone(),
                        truth,
                    });
                }
            }
        }
        for e in &entries {
            if e.is_dir() {
                stack.push(e.clone());
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Truth of the pages `PREFIX.pN.gt.txt` among `entries`, at index N-1, gaps as `None`.
fn page_truths(entries: &[PathBuf], prefix: &str) -> Vec<Option<String>> {
    let mut truth: Vec<Option<String>> = Vec::new();
    for e in entries {
        let Some(name) = e.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let n: Option<usize> = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix(".p"))
            .and_then(|r| r.strip_suffix(".gt.txt"))
            .and_then(|r| r.parse().ok());
        let Some(n) = n.filter(|n| (1..=100_000).contains(n)) else {
            continue;
        };
        if let Ok(t) = std::fs::read_to_string(e) {
            if truth.len() < n {
                truth.resize(n, None);
            }
            truth[n - 1] = Some(t);
        }
    }
    truth
}

/// Score page texts (index = page) against a set's truth; pages without truth are skipped.
pub fn score(set: &EvalSet, pages: &[String]) -> ErrorCounts {
    let mut total = ErrorCounts::default();
    for (i, t) in set.truth.iter().enumerate() {
        if let Some(t) = t {
            let hyp = pages.get(i).map(String::as_str).unwrap_or("");
            total.add(ErrorCounts::of(hyp, t));
        }
    }
    total
}

/// Pairs `NAME.eng.txt` / `NAME.truth.txt` (shared/garbled-dev) for scoring `restore`.
pub fn find_restore_pairs(dir: &Path) -> Result<Vec<(String, PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)
        .map_err(|e| crate::Error::Read {
            path: dir.to_path_buf(),
            source: e,
        })?
        .flatten()
    {
        let p = e.path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".eng.txt") {
            let truth = dir.join(format!("{stem}.truth.txt"));
            if truth.exists() {
                out.push((stem.to_string(), p.clone(), truth));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The columns [`run`] scores, in the order they are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Column {
    /// Bare Tesseract with its default settings on the page image as sohoa renders it.
    Tesseract,
    /// sohoa without clean-up or restoration.
    Raw,
    /// sohoa with clean-up, without restoration.
    Clean,
    /// sohoa's default: clean-up and restoration.
    Restored,
}

impl Column {
    pub fn name(self) -> &'static str {
        match self {
            Column::Tesseract => "tesseract",
            Column::Raw => "raw",
            Column::Clean => "clean",
            Column::Restored => "restored",
        }
    }
}

/// What [`run`] measures.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// sohoa's settings (the `clean` and `restored` columns; `raw` turns clean-up off).
    pub base: Options,
    pub tesseract: bool,
    pub raw: bool,
}

/// A column's errors and time (ms).
pub type Score = (Column, ErrorCounts, f64);

/// One set's errors and time per column (time: milliseconds of clean-up, OCR and restoration
/// summed over its pages; workers run side by side, so compare columns, not wall time).
#[derive(Debug, Clone)]
pub struct SetResult {
    pub name: String,
    pub pages: usize,
    pub columns: Vec<Score>,
    /// The same per page (1-based page number), in page order.
    pub per_page: Vec<(usize, Vec<Score>)>,
    /// Pages that failed, with the reason (their text counts as empty).
    pub errors: Vec<String>,
}

impl SetResult {
    pub fn get(&self, c: Column) -> Option<&ErrorCounts> {
        self.columns.iter().find(|x| x.0 == c).map(|x| &x.1)
    }

    /// sohoa's syllable WER (restored, else clean) over bare Tesseract's: the issues' target.
    pub fn wer_vs_tesseract(&self) -> Option<f64> {
        let t = self.get(Column::Tesseract)?;
        let s = self
            .get(Column::Restored)
            .or_else(|| self.get(Column::Clean))?;
        (t.word_errors > 0).then(|| s.wer() / t.wer())
    }
}

/// Bare Tesseract as the `tesseract` command runs it: the language given, automatic page
/// segmentation (`--psm 3`, the command's default), no other variable, the whole page's text.
pub struct BareTesseract {
    api: TesseractAPI,
}

impl BareTesseract {
    pub fn new(opts: &OcrOptions) -> Result<BareTesseract> {
        let api = TesseractAPI::new();
        api.init(&opts.tessdata, &opts.lang)
            .map_err(|e| Error::Missing {
                what: format!("Tesseract model {} ({e})", opts.lang),
            })?;
        api.set_page_seg_mode(TessPageSegMode::PSM_AUTO)
            .map_err(|e| Error::Ocr(e.to_string()))?;
        // Quiet only: "Invalid resolution" and the like on stderr change nothing read.
        let _ = api.set_variable("debug_file", "/dev/null");
        Ok(BareTesseract { api })
    }

    pub fn read(&self, page: &PageImage) -> Result<String> {
        let (w, h) = (page.width as i32, page.height as i32);
        let err = |e: tesseract_rs::TesseractError| Error::Ocr(e.to_string());
        self.api.set_image(&page.gray, w, h, 1, w).map_err(err)?;
        // The command takes the resolution the image file records; sohoa's rendering is that.
        self.api
            .set_source_resolution(page.dpi.round().clamp(70.0, 2400.0) as i32)
            .map_err(err)?;
        let text = self.api.get_utf8_text().map_err(err);
        let _ = self.api.clear();
        text
    }
}

struct Job {
    set: usize,
    page: usize,
    image: PageImage,
}

struct PageOutcome {
    set: usize,
    page: usize,
    texts: Vec<(Column, String, f64)>,
    /// The restored column's lines, for the passes over a whole document.
    restored: Option<Vec<crate::doc::Line>>,
    error: Option<String>,
}

/// Read every page of `sets` that has truth and score each column. `on_page` is told after each
/// page (progress). Stops early, with what it has, when `cancel` is set.
pub fn run(
    sets: &[EvalSet],
    opts: &EvalOptions,
    cancel: &AtomicBool,
    on_page: &(dyn Fn() + Sync),
) -> Result<Vec<SetResult>> {
    let base = &opts.base;
    let jobs = base.jobs.max(1);
    let quiet = |o: Options| Options {
        structure: false,
        restore: false,
        jobs: 1,
        ..o
    };
    let clean_pipe = Pipeline::new(quiet(base.clone()))?;
    let raw_pipe = if opts.raw {
        let mut o = quiet(base.clone());
        o.clean.enabled = false;
        Some(Pipeline::new(o)?)
    } else {
        None
    };
    let restorer = if base.restore {
        Some(match &base.model_dir {
            Some(d) => Restorer::from_dir(d)?,
            None => Restorer::embedded()?,
        })
    } else {
        None
    };
    if opts.tesseract {
        drop(BareTesseract::new(&base.ocr)?); // fail early when the model is missing
    }
    let bare: Mutex<Vec<BareTesseract>> = Mutex::new(Vec::new());
    let (tx, rx) = crossbeam_channel::bounded::<Job>(jobs);
    let outcomes: Mutex<Vec<PageOutcome>> = Mutex::new(Vec::new());
    let mut render_errors: Vec<(usize, String)> = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let rx = rx.clone();
            let (bare, outcomes) = (&bare, &outcomes);
            let (clean_pipe, raw_pipe, restorer) = (&clean_pipe, &raw_pipe, &restorer);
            scope.spawn(move || {
                while let Ok(job) = rx.recv() {
                    if cancel.load(Ordering::Relaxed) {
                        continue;
                    }
                    let mut out = PageOutcome {
                        set: job.set,
                        page: job.page,
                        texts: Vec::new(),
                        restored: None,
                        error: None,
                    };
                    let r = read_page(
                        &job.image,
                        opts.tesseract.then_some(bare),
                        raw_pipe.as_ref(),
                        clean_pipe,
                        restorer.as_ref(),
                        &mut out.texts,
                        &mut out.restored,
                    );
                    out.error = r.err().map(|e| e.to_string());
                    outcomes.lock().expect("outcomes").push(out);
                    on_page();
                }
            });
        }
        drop(rx);
        for (si, set) in sets.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let last = set
                .truth
                .iter()
                .rposition(Option::is_some)
                .map_or(0, |i| i + 1);
            let r = render_truth_pages(&set.file, last, &base.raster, &mut |image| {
                let wanted = set.truth.get(image.index).is_some_and(Option::is_some);
                !cancel.load(Ordering::Relaxed)
                    && (!wanted
                        || tx
                            .send(Job {
                                set: si,
                                page: image.index,
                                image,
                            })
                            .is_ok())
            });
            if let Err(e) = r {
                render_errors.push((si, e.to_string()));
            }
        }
        drop(tx);
    });
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    let mut outcomes = outcomes.into_inner().expect("outcomes");
    if let Some(r) = &restorer {
        document_passes(r, sets.len(), &mut outcomes);
    }
    Ok(sets
        .iter()
        .enumerate()
        .map(|(si, set)| {
            let mut mine: Vec<&PageOutcome> = outcomes.iter().filter(|o| o.set == si).collect();
            mine.sort_by_key(|o| o.page);
            let mut columns: Vec<(Column, ErrorCounts, f64)> = Vec::new();
            let mut per_page = Vec::new();
            for o in &mine {
                let truth = set.truth[o.page].as_deref().unwrap_or("");
                let mut page_cols: Vec<(Column, ErrorCounts, f64)> = o
                    .texts
                    .iter()
                    .map(|(c, text, ms)| (*c, ErrorCounts::of(text, truth), *ms))
                    .collect();
                page_cols.sort_by_key(|x| x.0);
                for &(c, e, ms) in &page_cols {
                    match columns.iter_mut().find(|x| x.0 == c) {
                        Some(x) => {
                            x.1.add(e);
                            x.2 += ms;
                        }
                        None => columns.push((c, e, ms)),
                    }
                }
                per_page.push((o.page + 1, page_cols));
            }
            // A page that never came (unrendered, failed) reads as nothing in every column.
            let read: Vec<usize> = mine.iter().map(|o| o.page).collect();
            for (i, t) in set.truth.iter().enumerate() {
                if let (Some(t), false) = (t, read.contains(&i)) {
                    for x in &mut columns {
                        x.1.add(ErrorCounts::of("", t));
                    }
                }
            }
            columns.sort_by_key(|x| x.0);
            let mut errors: Vec<String> = mine
                .iter()
                .filter_map(|o| {
                    o.error
                        .as_ref()
                        .map(|e| format!("page {}: {e}", o.page + 1))
                })
                .collect();
            errors.extend(
                render_errors
                    .iter()
                    .filter(|(s, _)| *s == si)
                    .map(|(_, e)| e.clone()),
            );
            SetResult {
                name: set.name.clone(),
                pages: mine.len(),
                columns,
                per_page,
                errors,
            }
        })
        .collect())
}

/// Render a file's pages up to `last` (1-based; PDFs stop there, other files are read whole).
fn render_truth_pages(
    path: &Path,
    last: usize,
    opts: &raster::RasterOptions,
    on_page: &mut dyn FnMut(PageImage) -> bool,
) -> Result<()> {
    let (kind, _, _) = crate::input::inspect(path)?;
    if kind == crate::input::Kind::Pdf {
        raster::render_pdf_pages(path, opts, &mut |n| Ok(0..n.min(last)), &mut |p, _| {
            on_page(p)
        })?;
    } else {
        raster::for_each_page(path, kind, opts, &mut |_| {}, on_page)?;
    }
    Ok(())
}

/// What `sohoa scan` does over a whole document after its pages are restored (one spelling per
/// abbreviation), done over each set's pages read here, so the restored column is what a scan
/// of those pages gives.
fn document_passes(r: &Restorer, sets: usize, outcomes: &mut [PageOutcome]) {
    for si in 0..sets {
        let mut mine: Vec<&mut PageOutcome> = outcomes.iter_mut().filter(|o| o.set == si).collect();
        let mut pages: Vec<crate::Page> = mine
            .iter_mut()
            .map(|o| {
                let lines = o.restored.take().unwrap_or_default();
                crate::Page::new(o.page + 1, 0, 0, 0.0, lines)
            })
            .collect();
        if r.mend_abbreviations(&mut pages) == 0 {
            continue;
        }
        for (o, p) in mine.iter_mut().zip(pages) {
            if let Some(c) = o.texts.iter_mut().find(|c| c.0 == Column::Restored) {
                c.1 = p.lines.iter().map(|l| l.text.clone() + "\n").collect();
            }
        }
    }
}

/// All columns of one page. The first error ends the page (columns read so far are kept).
fn read_page(
    image: &PageImage,
    bare: Option<&Mutex<Vec<BareTesseract>>>,
    raw_pipe: Option<&Pipeline>,
    clean_pipe: &Pipeline,
    restorer: Option<&Restorer>,
    texts: &mut Vec<(Column, String, f64)>,
    restored: &mut Option<Vec<crate::doc::Line>>,
) -> Result<()> {
    let sohoa_ms = |p: &crate::Page| p.timings.clean_ms + p.timings.ocr_ms;
    if let Some(pool) = bare {
        let t = Instant::now();
        let engine = pool.lock().expect("bare pool").pop();
        let engine = match engine {
            Some(e) => e,
            None => BareTesseract::new(&clean_pipe.options().ocr)?,
        };
        let text = engine.read(image);
        pool.lock().expect("bare pool").push(engine);
        texts.push((Column::Tesseract, text?, t.elapsed().as_secs_f64() * 1e3));
    }
    if let Some(p) = raw_pipe {
        let page = p.process_page(image.clone(), 0.0)?;
        texts.push((Column::Raw, page.text(), sohoa_ms(&page)));
    }
    let page = clean_pipe.process_page(image.clone(), 0.0)?;
    let ms = sohoa_ms(&page);
    texts.push((Column::Clean, page.text(), ms));
    if let Some(r) = restorer {
        let t = Instant::now();
        let mut lines = page.lines;
        r.restore_ocr_lines(&mut lines)?;
        let text: String = lines.iter().map(|l| l.text.clone() + "\n").collect();
        if let Ok(dir) = std::env::var("SOHOA_EVAL_DUMP") {
            // Both columns' text of each page, for reading what restoration changed.
            let n = image.index;
            let _ = std::fs::write(format!("{dir}/p{n}.clean.txt"), &texts.last().unwrap().1);
            let _ = std::fs::write(format!("{dir}/p{n}.restored.txt"), &text);
        }
        texts.push((Column::Restored, text, ms + t.elapsed().as_secs_f64() * 1e3));
        *restored = Some(lines);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_pages_may_have_gaps_and_x_pdf_truth_is_not_x_tif_truth() {
        let d = tempfile::tempdir().unwrap();
        let w = |n: &str, t: &str| std::fs::write(d.path().join(n), t).unwrap();
        w("annex.pdf", "%PDF-1.4");
        w("annex.pdf.p1.gt.txt", "một");
        w("annex.pdf.p3.gt.txt", "ba");
        w("poem.pdf", "%PDF-1.4");
        w("poem.tif", "II*\0");
        w("poem.pdf.p1.gt.txt", "pdf");
        w("poem.p2.gt.txt", "tif");
        let sets = find_sets(d.path()).unwrap();
        let by = |n: &str| sets.iter().find(|s| s.name == n).unwrap().truth.clone();
        assert_eq!(
            by("annex.pdf"),
            vec![Some("một".into()), None, Some("ba".into())]
        );
        assert_eq!(by("poem.pdf"), vec![Some("pdf".to_string())]);
        assert_eq!(by("poem.tif"), vec![None, Some("tif".to_string())]);
    }
}

//! The driver: the one place where parallelism lives.
//!
//! One thread renders pages (PDFium serialises its calls anyway) into a bounded channel; `jobs`
//! rayon workers each take a page, clean it, OCR it with an engine from the pool (one Tesseract
//! engine per worker, created once and reused), and restore its lines in one batch; the calling
//! thread collects pages and completes documents in input order. At most about 2 × jobs page
//! images are in memory at once, whatever the size of the files, and pages of different files
//! are worked on together, so a batch of one-page files keeps every core busy.

use crate::clean::{self, CleanOptions};
use crate::doc::{Document, EngineInfo, Page, Timings, SCHEMA};
use crate::error::{Error, Result};
use crate::input::{self, SourceInfo};
use crate::ocr::{Engine, OcrOptions};
use crate::raster::{self, PageImage, PageInput, RasterOptions};
use crate::restore::Restorer;
use crate::textlayer::{Mode, PageKind, Source};
use crossbeam_channel::{bounded, unbounded};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Options {
    pub raster: RasterOptions,
    pub clean: CleanOptions,
    pub ocr: OcrOptions,
    /// Run diacritic restoration / post-correction.
    pub restore: bool,
    /// Load the restoration model from this directory instead of the one built in.
    pub model_dir: Option<PathBuf>,
    /// Worker threads (OCR engines).
    pub jobs: usize,
    /// Extract administrative fields.
    pub structure: bool,
    /// What to do with PDF pages that already have text (`--mode`).
    pub mode: Mode,
    /// A page still being worked on this long after a worker took it fails with
    /// [`Error::Timeout`] and the run goes on (`--page-timeout`; `None`: no limit). Tesseract's
    /// recogniser checks the deadline between words (its own monitor, so the engine stays
    /// usable); clean-up, layout analysis and restoration are checked between stages, so a
    /// page can overrun by the time of one of those (seconds, for a huge page).
    pub page_timeout: Option<Duration>,
    /// Bytes the pages in flight may take together (`--memory-budget`, [`crate::budget`]).
    pub memory_budget: u64,
}

/// `--page-timeout`'s default: OCRmyPDF gives Tesseract 180 s a page; a dense 600 dpi A3 page
/// takes about a minute here, so five leave room for slow machines and still end a stuck page.
pub const DEFAULT_PAGE_TIMEOUT: Duration = Duration::from_secs(300);

impl Default for Options {
    fn default() -> Self {
        Options {
            raster: RasterOptions::default(),
            clean: CleanOptions::default(),
            ocr: OcrOptions::default(),
            restore: true,
            model_dir: None,
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            structure: true,
            mode: Mode::Auto,
            page_timeout: Some(DEFAULT_PAGE_TIMEOUT),
            memory_budget: crate::budget::DEFAULT_BUDGET,
        }
    }
}

/// Progress events, for bars and logs.
#[derive(Debug, Clone)]
pub enum Event {
    FileStarted { file: usize, pages: Option<usize> },
    PageDone { file: usize, page: usize },
}

pub struct Pipeline {
    opts: Options,
    restorer: Option<Arc<Restorer>>,
    engines: Mutex<Vec<Engine>>,
    pool: rayon::ThreadPool,
}

enum Msg {
    Start {
        file: usize,
        source: SourceInfo,
    },
    Page {
        file: usize,
        input: PageInput,
        raster_ms: f64,
    },
    End {
        file: usize,
        pages: usize,
        error: Option<Error>,
    },
}

enum Done {
    Page { file: usize, result: Result<Page> },
}

impl Pipeline {
    /// Build a pipeline: loads the restoration model and checks that Tesseract and its model load.
    pub fn new(opts: Options) -> Result<Pipeline> {
        let jobs = opts.jobs.max(1);
        let restorer = if opts.restore {
            Some(Arc::new(match &opts.model_dir {
                Some(d) => Restorer::from_dir(d)?,
                None => Restorer::embedded()?,
            }))
        } else {
            None
        };
        // Fail early (exit 3) when Tesseract or its model is missing, not once per page.
        let first = Engine::new(&opts.ocr)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .thread_name(|i| format!("sohoa-ocr-{i}"))
            .build()
            .map_err(|e| Error::Ocr(format!("thread pool: {e}")))?;
        let mut opts = opts;
        opts.raster.budget = Some(crate::budget::MemoryBudget::new(opts.memory_budget));
        Ok(Pipeline {
            opts: Options { jobs, ..opts },
            restorer,
            engines: Mutex::new(vec![first]),
            pool,
        })
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn restorer(&self) -> Option<&Restorer> {
        self.restorer.as_deref()
    }

    pub fn engine_info(&self) -> EngineInfo {
        EngineInfo {
            sohoa: env!("CARGO_PKG_VERSION").into(),
            tesseract: crate::ocr::tesseract_version(),
            lang: self.opts.ocr.lang.clone(),
            tessdata: self.opts.ocr.tessdata.display().to_string(),
            restore_model: self.restorer.as_ref().map(|r| r.model_id.clone()),
            tesseract_vars: crate::ocr::SPEED_VARS
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .chain(self.opts.ocr.var_strings())
                .collect(),
        }
    }

    /// Process one file.
    pub fn process_file(&self, path: &Path) -> Result<Document> {
        let cancel = AtomicBool::new(false);
        let mut out = None;
        self.process_files(&[path.to_path_buf()], &cancel, &mut |_| {}, &mut |_, r| {
            out = Some(r)
        });
        out.unwrap_or(Err(Error::Interrupted))
    }

    /// Process many files, pages of all of them in parallel. `on_done(index, result)` is called
    /// once per file, in the order files complete. Setting `cancel` stops after the pages in
    /// hand; files not finished then are reported as `Error::Interrupted`.
    pub fn process_files(
        &self,
        files: &[PathBuf],
        cancel: &AtomicBool,
        on_event: &mut (dyn FnMut(Event) + Send),
        on_done: &mut dyn FnMut(usize, Result<Document>),
    ) {
        let jobs = self.opts.jobs;
        // One waiting page per worker: rendering is ~10x faster than OCR, so a deeper queue only
        // holds more 9 MB page images in memory.
        let (page_tx, page_rx) = bounded::<Msg>(jobs);
        let (done_tx, done_rx) = unbounded::<Done>();
        let (meta_tx, meta_rx) = unbounded::<Msg>();
        let events = Mutex::new(on_event);
        std::thread::scope(|scope| {
            // Renderer.
            let raster_opts = self.opts.raster.clone();
            let mode = self.opts.mode;
            scope.spawn(move || {
                for (fi, path) in files.iter().enumerate() {
                    if cancel.load(Ordering::Relaxed) {
                        let _ = meta_tx.send(Msg::End {
                            file: fi,
                            pages: 0,
                            error: Some(Error::Interrupted),
                        });
                        continue;
                    }
                    let (kind, sha256, bytes) = match input::inspect(path) {
                        Ok(x) => x,
                        Err(e) => {
                            let _ = meta_tx.send(Msg::End {
                                file: fi,
                                pages: 0,
                                error: Some(e),
                            });
                            continue;
                        }
                    };
                    let mut source = SourceInfo {
                        path: path.display().to_string(),
                        sha256,
                        bytes,
                        format: format!("{kind:?}").to_lowercase(),
                        pages: 0,
                    };
                    let mut started = false;
                    let mut pages_sent = 0usize;
                    let result = {
                        let mut on_count = |n: usize| {
                            source.pages = n;
                            let _ = meta_tx.send(Msg::Start {
                                file: fi,
                                source: source.clone(),
                            });
                            started = true;
                        };
                        let mut on_page = |input: PageInput, raster_ms: f64| -> bool {
                            if cancel.load(Ordering::Relaxed) {
                                return false;
                            }
                            pages_sent += 1;
                            page_tx
                                .send(Msg::Page {
                                    file: fi,
                                    input,
                                    raster_ms,
                                })
                                .is_ok()
                        };
                        // A decoder that panics on a damaged file fails that file, not the run.
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            raster::for_each_input(
                                path,
                                kind,
                                &raster_opts,
                                mode,
                                &mut on_count,
                                &mut on_page,
                            )
                        }))
                        .unwrap_or_else(|_| {
                            let why = "the decoder crashed on this file".to_string();
                            Err(match kind {
                                input::Kind::Pdf => Error::BadPdf(why),
                                _ => Error::BadImage(why),
                            })
                        })
                    };
                    if !started {
                        source.pages = pages_sent;
                        let _ = meta_tx.send(Msg::Start { file: fi, source });
                    }
                    let error = match result {
                        Ok(_) if cancel.load(Ordering::Relaxed) => Some(Error::Interrupted),
                        Ok(_) => None,
                        Err(e) => Some(e),
                    };
                    let _ = meta_tx.send(Msg::End {
                        file: fi,
                        pages: pages_sent,
                        error,
                    });
                }
                drop(page_tx);
            });

            // Workers on the pool; the collector on this thread.
            let this = self;
            self.pool.in_place_scope(|s| {
                for _ in 0..jobs {
                    let rx = page_rx.clone();
                    let tx = done_tx.clone();
                    let events = &events;
                    s.spawn(move |_| {
                        while let Ok(msg) = rx.recv() {
                            if let Msg::Page {
                                file,
                                input,
                                raster_ms,
                            } = msg
                            {
                                let page_no = input.index;
                                let result = if cancel.load(Ordering::Relaxed) {
                                    Err(Error::Interrupted)
                                } else {
                                    this.process_input(input, raster_ms)
                                };
                                release_freed_memory();
                                if let Ok(mut ev) = events.lock() {
                                    (ev)(Event::PageDone {
                                        file,
                                        page: page_no,
                                    });
                                }
                                let _ = tx.send(Done::Page { file, result });
                            }
                        }
                    });
                }
                drop(done_tx);
                drop(page_rx);
                self.collect(files.len(), meta_rx, done_rx, &events, on_done);
            });
        });
    }

    fn collect(
        &self,
        n_files: usize,
        mut meta_rx: crossbeam_channel::Receiver<Msg>,
        mut done_rx: crossbeam_channel::Receiver<Done>,
        events: &Mutex<&mut (dyn FnMut(Event) + Send)>,
        on_done: &mut dyn FnMut(usize, Result<Document>),
    ) {
        struct State {
            source: Option<SourceInfo>,
            pages: BTreeMap<usize, Page>,
            received: usize,
            expected: Option<usize>,
            error: Option<Error>,
            announced: bool,
        }
        let mut states: BTreeMap<usize, State> = BTreeMap::new();
        let mut finished = 0usize;
        let mut meta_open = true;
        let mut done_open = true;
        while finished < n_files && (meta_open || done_open) {
            crossbeam_channel::select! {
                recv(meta_rx) -> m => match m {
                    Ok(Msg::Start { file, source }) => {
                        let st = states.entry(file).or_insert_with(|| State { source: None, pages: BTreeMap::new(), received: 0, expected: None, error: None, announced: false });
                        if !st.announced {
                            st.announced = true;
                            if let Ok(mut ev) = events.lock() { (ev)(Event::FileStarted { file, pages: (source.pages > 0).then_some(source.pages) }); }
                        }
                        st.source = Some(source);
                    }
                    Ok(Msg::End { file, pages, error }) => {
                        let st = states.entry(file).or_insert_with(|| State { source: None, pages: BTreeMap::new(), received: 0, expected: None, error: None, announced: false });
                        st.expected = Some(pages);
                        if st.error.is_none() { st.error = error; }
                    }
                    Ok(Msg::Page { .. }) => {}
                    // A disconnected receiver is always ready: swap in one that never is, or
                    // select! spins on it and steals a core from OCR.
                    Err(_) => { meta_open = false; meta_rx = crossbeam_channel::never(); }
                },
                recv(done_rx) -> d => match d {
                    Ok(Done::Page { file, result }) => {
                        let st = states.entry(file).or_insert_with(|| State { source: None, pages: BTreeMap::new(), received: 0, expected: None, error: None, announced: false });
                        st.received += 1;
                        match result {
                            Ok(p) => { st.pages.insert(p.index, p); }
                            Err(e) => if st.error.is_none() { st.error = Some(e) },
                        }
                    }
                    Err(_) => { done_open = false; done_rx = crossbeam_channel::never(); }
                },
            }
            // Complete every file whose pages are all in.
            let ready: Vec<usize> = states
                .iter()
                .filter(|(_, s)| s.expected.is_some_and(|n| s.received >= n))
                .map(|(k, _)| *k)
                .collect();
            for file in ready {
                let st = states.remove(&file).expect("ready state");
                finished += 1;
                let result = match st.error {
                    Some(e) => Err(e),
                    None => Ok(self.assemble(
                        st.source.expect("start precedes end"),
                        st.pages.into_values().collect(),
                    )),
                };
                on_done(file, result);
            }
        }
    }

    /// A document from its pages (all of them, in any order): timings summed, structure
    /// extracted when it is on. Scale-out workers' pages are put together with this too.
    pub fn assemble(&self, source: SourceInfo, mut pages: Vec<Page>) -> Document {
        pages.sort_by_key(|p| p.index);
        let mut timings = Timings::default();
        for p in &pages {
            timings.add(&p.timings);
        }
        let mut doc = Document {
            schema: SCHEMA.into(),
            source,
            engine: self.engine_info(),
            pages,
            document: None,
            timings,
        };
        if let Some(r) = &self.restorer {
            r.mend_abbreviations(&mut doc.pages);
        }
        if self.opts.structure {
            let t = Instant::now();
            doc.document = Some(crate::structure::extract(&doc));
            doc.timings.structure_ms += t.elapsed().as_secs_f64() * 1e3;
        }
        doc
    }

    fn take_engine(&self) -> Result<Engine> {
        if let Some(e) = self.engines.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(e);
        }
        Engine::new(&self.opts.ocr)
    }

    fn give_engine(&self, e: Engine) {
        if let Ok(mut v) = self.engines.lock() {
            v.push(e);
        }
    }

    /// One page as the renderer handed it on: its PDF text taken (born-digital pages, exact, not
    /// restored), an earlier OCR layer kept (restored as OCR text is, when the decision says so),
    /// or the image OCR'd (with any text overlay of a scan kept apart in `Page::overlay`).
    ///
    /// A panic while the page is worked on (a crash in the engine, a bug on one odd page) fails
    /// this page only: the engine it had is dropped, not reused, and the worker goes on.
    pub fn process_input(&self, input: PageInput, raster_ms: f64) -> Result<Page> {
        let page = input.index + 1;
        let deadline = self.deadline();
        guard(page, || self.process_input_by(input, raster_ms, deadline))
    }

    fn deadline(&self) -> Option<Instant> {
        self.opts.page_timeout.map(|t| Instant::now() + t)
    }

    fn process_input_by(
        &self,
        input: PageInput,
        raster_ms: f64,
        deadline: Option<Instant>,
    ) -> Result<Page> {
        // `_permit` (not `_`): the page's share of the memory budget is held until it is done.
        let PageInput {
            index,
            image,
            text,
            decision,
            permit: _permit,
        } = input;
        let (Some(text), Some(decision)) = (text, decision) else {
            let image = image.ok_or_else(|| Error::Ocr(format!("page {}: no image", index + 1)))?;
            return self.process_page_by(image, raster_ms, deadline);
        };
        let legacy = text.legacy.map(|e| e.name().to_string());
        let mut page = match (decision.source, image) {
            (Source::Ocr, Some(image)) => {
                let mut p = self.process_page_by(image, raster_ms, deadline)?;
                if text.kind == PageKind::ScanWithOverlay {
                    p.overlay = text.visible;
                }
                p
            }
            (Source::Ocr, None) => {
                return Err(Error::Ocr(format!("page {}: no image to OCR", index + 1)))
            }
            (source, _) => {
                let mut timings = Timings {
                    rasterise_ms: raster_ms,
                    ..Default::default()
                };
                let t = *text;
                let (mut lines, overlay) = match source {
                    Source::Layer => (t.invisible, t.visible),
                    _ => (t.visible, Vec::new()),
                };
                if decision.restore {
                    if let Some(r) = &self.restorer {
                        let t0 = Instant::now();
                        r.restore_ocr_lines(&mut lines)?;
                        timings.restore_ms = t0.elapsed().as_secs_f64() * 1e3;
                    }
                }
                Page {
                    source: source.name().into(),
                    overlay,
                    timings,
                    ..Page::new(index + 1, t.width, t.height, t.dpi, lines)
                }
            }
        };
        log::debug!(
            "page {}: {}: {}",
            index + 1,
            decision.source.name(),
            decision.reason
        );
        page.source_reason = Some(decision.reason);
        page.legacy_encoding = legacy;
        Ok(page)
    }

    /// Clean, OCR and restore one page (a panic fails the page, as in [`Self::process_input`]).
    pub fn process_page(&self, image: PageImage, raster_ms: f64) -> Result<Page> {
        let page = image.index + 1;
        let deadline = self.deadline();
        guard(page, || self.process_page_by(image, raster_ms, deadline))
    }

    fn process_page_by(
        &self,
        image: PageImage,
        raster_ms: f64,
        deadline: Option<Instant>,
    ) -> Result<Page> {
        let page_no = image.index + 1;
        let check = || match deadline {
            Some(d) if Instant::now() >= d => Err(crate::ocr::timeout(page_no)),
            _ => Ok(()),
        };
        let mut timings = Timings {
            rasterise_ms: raster_ms,
            ..Default::default()
        };
        let (index, width, height, dpi) = (image.index, image.width, image.height, image.dpi);
        let dpi_source = image.dpi_source;
        let t = Instant::now();
        let (image, report) = clean::clean(image, &self.opts.clean);
        log::debug!(
            "page {}: clean-up removed {} specks, scale {}",
            index + 1,
            report.specks_removed,
            report.scale
        );
        timings.clean_ms = t.elapsed().as_secs_f64() * 1e3;
        check()?;

        let t = Instant::now();
        let mut engine = self.take_engine()?;
        // A panic in here unwinds past `give_engine`: an engine that crashed is not reused.
        let result = self.ocr_upright(&mut engine, image, deadline).and_then(
            |(mut lines, rotation, read)| {
                let second_look = self.opts.clean.enabled && reread_enabled();
                if second_look {
                    crate::reread::reread_lost_ink(&mut engine, &read, &mut lines, deadline)?;
                    crate::signblock::mend_signature_block(
                        &mut engine,
                        &read,
                        &mut lines,
                        deadline,
                    )?;
                    crate::fillin::reread_fillins(&mut engine, &read, &mut lines, deadline)?;
                }
                // Tables are found on the image Tesseract read, in its pixels, before boxes
                // are scaled.
                let (w, h) = (read.width as usize, read.height as usize);
                let tables = crate::layout::read_tables(&read.gray, w, h, read.dpi, &mut lines);
                if second_look {
                    crate::cells::reread_cells(&mut engine, &read, &mut lines, &tables, deadline)?;
                }
                Ok((lines, rotation, tables))
            },
        );
        self.give_engine(engine);
        let (mut lines, rotation, mut tables) = result?;
        if crate::fault::strikes(crate::fault::Fault::WorkerPanic, page_no) {
            panic!("injected fault: the worker died on page {page_no}");
        }
        check()?;
        let (width, height) = if rotation % 180 == 0 {
            (width, height)
        } else {
            (height, width)
        };
        timings.ocr_ms = t.elapsed().as_secs_f64() * 1e3;
        if report.scale != 1.0 {
            let s = report.scale;
            let unscale = |b: &mut [i32; 4]| {
                b.iter_mut()
                    .for_each(|v| *v = (*v as f32 / s).round() as i32)
            };
            for l in &mut lines {
                unscale(&mut l.bbox);
                l.words.iter_mut().for_each(|w| unscale(&mut w.bbox));
            }
            tables.iter_mut().for_each(|t| unscale(&mut t.bbox));
        }

        if let Some(r) = &self.restorer {
            let t = Instant::now();
            r.restore_ocr_lines(&mut lines)?;
            timings.restore_ms = t.elapsed().as_secs_f64() * 1e3;
        }
        check()?;
        Ok(Page {
            rotation,
            skew: report.skew,
            prep: crate::doc::Preparation {
                dpi_source: Some(dpi_source),
                regions: report.regions.clone(),
                clean: self.opts.clean.enabled.then_some(report),
            },
            tables,
            timings,
            ..Page::new(index + 1, width, height, dpi, lines)
        })
    }

    /// OCR a page; when the result looks like a page read sideways or upside down (few words,
    /// low confidence), ask Tesseract's orientation detection and read it again turned upright,
    /// keeping whichever reading is better. Returns lines, rotation, and the image read.
    fn ocr_upright(
        &self,
        engine: &mut Engine,
        image: PageImage,
        deadline: Option<Instant>,
    ) -> Result<(Vec<crate::doc::Line>, i32, PageImage)> {
        let lines = engine.recognize(&image, deadline)?;
        let score = |ls: &[crate::doc::Line]| -> (usize, f32) {
            let words: Vec<f32> = ls
                .iter()
                .flat_map(|l| l.words.iter().map(|w| w.conf))
                .collect();
            let n = words.len();
            (
                n,
                if n == 0 {
                    0.0
                } else {
                    words.iter().sum::<f32>() / n as f32
                },
            )
        };
        let (n, mean) = score(&lines);
        if !self.opts.clean.enabled || (n >= 20 && mean >= 70.0) {
            return Ok((lines, 0, image));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(crate::ocr::timeout(image.index + 1));
        }
        let Some(rot) = engine.detect_rotation(&image) else {
            return Ok((lines, 0, image));
        };
        let turned = clean::rotate(&image, rot);
        let again = engine.recognize(&turned, deadline)?;
        let (n2, mean2) = score(&again);
        log::debug!("rotation {rot}: {n} words at {mean:.0} -> {n2} words at {mean2:.0}");
        Ok(if (n2 as f32) * mean2 > (n as f32) * mean * 1.2 {
            (again, rot, turned)
        } else {
            (lines, 0, image)
        })
    }
}

/// `SOHOA_REREAD=0` turns off reading again the ink Tesseract's layout left out (for A/B runs).
fn reread_enabled() -> bool {
    std::env::var("SOHOA_REREAD").map_or(true, |v| v != "0")
}

/// Runs one page's work, turning a panic into that page's error.
fn guard(page: usize, work: impl FnOnce() -> Result<Page>) -> Result<Page> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(Error::Ocr(format!(
            "page {page}: the worker crashed ({why})"
        )))
    })
}

/// Hands the pages that a finished page's buffers freed back to the OS. Page images, Tesseract's
/// per-page pixes and PDFium's bitmaps are megabytes each and freed on different threads, so
/// glibc's per-thread arenas otherwise keep a high-water mark that creeps up with every page.
fn release_freed_memory() {
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}

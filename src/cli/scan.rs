//! `sohoa scan`: files to text, JSON, hOCR, ALTO or a searchable PDF, on stdout or into files.

use super::{cancel_flag, progress_bar, EngineArgs};
use crate::emit::{self, Format};
use crate::error::exit;
use crate::pipeline::{Event, Pipeline};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

#[derive(Args)]
pub struct ScanArgs {
    /// Input files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format [default: from -o's extension, else text].
    #[arg(short, long, value_enum)]
    pub format: Option<Format>,
    /// Write here (atomically) instead of stdout; with several inputs, a directory.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Write the searchable PDF as plain PDF instead of PDF/A-2b.
    #[arg(long)]
    pub pdf_plain: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn scan(a: ScanArgs) -> anyhow::Result<i32> {
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
    let mut on_done = |i: usize, r: crate::Result<crate::Document>| {
        let path = &files[i];
        match r {
            Ok(mut doc) => {
                let render = |doc: &crate::Document| {
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
                            .map_err(|e| crate::Error::Write {
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

//! Page ranges: OCR some pages of a file, and put a document together from ranges.
//!
//! [`crate::raster::for_each_page`] streams every page of a file; a worker given pages 1,201-1,250
//! of a register should not render the 1,200 before them. [`pdf_page_count`] and
//! [`render_pdf_range`] open the PDF with the same PDFium binding and render only the pages
//! asked for, the way `raster` renders them (same size rule, same grey conversion), so a page
//! OCRed in a range reads exactly as it would in a whole-file run. Other formats (images, TIFF)
//! are never split and go through `raster` whole.

use crate::doc::Page;
use crate::error::{Error, Result};
use crate::input::Kind;
use crate::pipeline::Pipeline;
use crate::raster::{self, PageImage, RasterOptions};
use std::path::Path;
use std::time::Instant;

/// Pages of a PDF (opens it, renders nothing).
pub fn pdf_page_count(path: &Path, opts: &RasterOptions) -> Result<usize> {
    let pdfium = raster::pdfium(opts.pdfium.as_deref())?;
    let doc = pdfium
        .load_pdf_from_file(path, None)
        .map_err(raster::pdf_error)?;
    Ok(doc.pages().len() as usize)
}

/// Render pages `first..=last` (1-based) of a PDF to `on_page`, one at a time, as
/// `raster::for_each_page` would have. Returns the file's page count.
pub fn render_pdf_range(
    path: &Path,
    opts: &RasterOptions,
    first: usize,
    last: usize,
    on_page: &mut dyn FnMut(PageImage, f64) -> Result<()>,
) -> Result<usize> {
    let mut failed = None;
    let n = raster::render_pdf_pages(
        path,
        opts,
        &mut |n| check_range(first, last, n),
        &mut |image, ms| match on_page(image, ms) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        },
    )?;
    failed.map_or(Ok(n), Err)
}

/// Pages `first..=last` (1-based) of a PDF of `n` pages, as 0-based indices.
fn check_range(first: usize, last: usize, n: usize) -> Result<std::ops::Range<usize>> {
    if first == 0 || last < first || last > n {
        return Err(Error::BadPdf(format!(
            "pages {first}-{last} asked of a PDF of {n} pages (it changed since it was submitted?)"
        )));
    }
    Ok(first - 1..last)
}

/// OCR pages `range` (1-based, inclusive; `None`: all) of a file whose kind is known, one page
/// after another on the calling thread. Returns the pages and the file's page count.
pub fn ocr_pages(
    pipeline: &Pipeline,
    path: &Path,
    kind: Kind,
    range: Option<[usize; 2]>,
) -> Result<(Vec<Page>, usize)> {
    let opts = &pipeline.options().raster;
    let mut pages = Vec::new();
    let total = match (kind, range) {
        (Kind::Pdf, _) => {
            let [a, b] = match range {
                Some(r) => r,
                None => [1, pdf_page_count(path, opts)?.max(1)],
            };
            // The text layer is read and `--mode` applied as in a whole-file run.
            let mode = pipeline.options().mode;
            let mut failed = None;
            let n = raster::read_pdf_pages(
                path,
                opts,
                Some(mode),
                &mut |n| check_range(a, b, n),
                &mut |input, ms| match pipeline.process_input(input, ms) {
                    Ok(p) => {
                        pages.push(p);
                        true
                    }
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                },
            )?;
            if let Some(e) = failed {
                return Err(e);
            }
            n
        }
        _ => {
            let mut err = None;
            let mut t0 = Instant::now();
            let n = raster::for_each_page(path, kind, opts, &mut |_| {}, &mut |img| {
                let ms = t0.elapsed().as_secs_f64() * 1e3;
                let keep = range.is_none_or(|[a, b]| (a..=b).contains(&(img.index + 1)));
                if keep {
                    match pipeline.process_page(img, ms) {
                        Ok(p) => pages.push(p),
                        Err(e) => {
                            err = Some(e);
                            return false;
                        }
                    }
                }
                t0 = Instant::now();
                true
            })?;
            if let Some(e) = err {
                return Err(e);
            }
            n
        }
    };
    Ok((pages, total))
}

//! Rasterise: every input becomes a stream of grey page images, one page in memory at a time.
//!
//! PDF pages are rendered by PDFium (bound once per process; its calls are serialised by a global
//! lock, so rendering happens on one thread that feeds the OCR workers). Images are decoded with
//! `image`, TIFF pages (Group 4 fax included) one by one with `tiff`.

use crate::budget::{MemoryBudget, Permit, BYTES_PER_PIXEL};
use crate::dpi::DpiSource;
use crate::error::{Error, Result};
use crate::inks::InkMap;
use crate::input::Kind;
use crate::textlayer::{self, Decision, Mode, PageText, Source};
use pdfium_render::prelude::*;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A page as the OCR stage sees it: 8-bit grey, row-major, no padding.
#[derive(Clone)]
pub struct PageImage {
    /// 0-based page index within its file.
    pub index: usize,
    pub width: u32,
    pub height: u32,
    pub dpi: f32,
    /// Where `dpi` came from.
    pub dpi_source: DpiSource,
    pub gray: Vec<u8>,
    /// Colour scans only: each pixel's coloured ink ([`crate::inks::Ink`] as u8; 0 = none),
    /// for clean-up to take seals and signatures off the page. `None` for grey and bilevel
    /// pages and colour pages without coloured ink.
    pub inks: Option<Vec<u8>>,
}

impl PageImage {
    /// A white page.
    pub fn blank(width: u32, height: u32, dpi: f32) -> PageImage {
        PageImage {
            index: 0,
            width,
            height,
            dpi,
            dpi_source: DpiSource::Option,
            gray: vec![255; width as usize * height as usize],
            inks: None,
        }
    }

    /// Grey pixels `gray` of this page's size, with everything else of this page but its inks.
    pub fn with_gray(&self, gray: Vec<u8>) -> PageImage {
        PageImage {
            index: self.index,
            width: self.width,
            height: self.height,
            dpi: self.dpi,
            dpi_source: self.dpi_source,
            gray,
            inks: None,
        }
    }
}

impl std::fmt::Debug for PageImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PageImage(#{} {}x{} @{}dpi {:?})",
            self.index, self.width, self.height, self.dpi, self.dpi_source
        )
    }
}

#[derive(Debug, Clone)]
pub struct RasterOptions {
    /// Rendering resolution for PDF pages.
    pub dpi: f32,
    /// Resolution assumed for images whose own is missing or implausible and cannot be
    /// estimated (or, with `estimate_dpi` off, instead of estimating).
    pub image_dpi: f32,
    /// Estimate missing or implausible image resolutions from the page ([`crate::dpi`]). Off
    /// when the user gave `--image-dpi`.
    pub estimate_dpi: bool,
    /// Render PDF pages that are one bilevel scan at the scan's own resolution, unsmoothed, when
    /// it is below `dpi` (clean-up then upscales them).
    pub native_bilevel: bool,
    /// PDF pages larger than this many pixels are rendered at a lower resolution (decompression
    /// bombs, 5 m posters) instead of exhausting memory.
    pub max_pixels: u64,
    /// Images (PNG, JPEG, TIFF pages) with more pixels are refused as too large
    /// (`--max-image-mpixels`; 250 million, as OCRmyPDF).
    pub max_image_pixels: u64,
    /// The memory budget pages reserve from before they are decoded or rendered
    /// ([`crate::budget`]); it also caps the pixels of one page. `None`: no budget.
    pub budget: Option<Arc<MemoryBudget>>,
    /// PDFium library path; `None` searches (see [`pdfium_candidates`]).
    pub pdfium: Option<PathBuf>,
}

impl Default for RasterOptions {
    fn default() -> Self {
        RasterOptions {
            dpi: 300.0,
            image_dpi: 300.0,
            estimate_dpi: true,
            native_bilevel: std::env::var("SOHOA_NATIVE_BILEVEL").map_or(true, |v| v != "0"),
            max_pixels: 60_000_000,
            max_image_pixels: 250_000_000,
            budget: None,
            pdfium: None,
        }
    }
}

impl RasterOptions {
    /// The pixels a PDF page is rendered at most: `max_pixels`, less where the budget is smaller.
    fn pdf_pixel_cap(&self) -> u64 {
        self.budget
            .as_ref()
            .map_or(self.max_pixels, |b| self.max_pixels.min(b.max_pixels()))
    }

    /// Refuse an image of `w` x `h` pixels over `--max-image-mpixels` or the memory budget, else
    /// reserve its share of the budget.
    fn admit_image(&self, w: u64, h: u64, what: &str) -> Result<Option<Permit>> {
        let px = w.saturating_mul(h);
        if px > self.max_image_pixels {
            return Err(Error::TooLarge(format!(
                "{what} is {w}x{h} pixels, over the limit of {} million (--max-image-mpixels)",
                self.max_image_pixels / 1_000_000
            )));
        }
        if let Some(b) = &self.budget {
            if px > b.max_pixels() {
                return Err(Error::TooLarge(format!(
                    "{what} is {w}x{h} pixels: it needs about {} MiB, over the memory budget of {} MiB (--memory-budget)",
                    (px * BYTES_PER_PIXEL) >> 20,
                    b.total() >> 20
                )));
            }
        }
        Ok(self.reserve(px))
    }

    fn reserve(&self, pixels: u64) -> Option<Permit> {
        self.budget
            .as_ref()
            .map(|b| b.reserve(pixels.saturating_mul(BYTES_PER_PIXEL)))
    }

    /// The most pixels an image may have: what `decode_image` and `tiff_page` let decoders
    /// allocate (times 4 bytes).
    fn image_pixel_cap(&self) -> u64 {
        self.budget.as_ref().map_or(self.max_image_pixels, |b| {
            self.max_image_pixels.min(b.max_pixels())
        })
    }
}

static PDFIUM: OnceLock<std::result::Result<(Pdfium, PathBuf), String>> = OnceLock::new();

/// Where PDFium is looked for, in order: the explicit path, `SOHOA_PDFIUM`, the project's
/// `third_party/pdfium` (beside the executable's build tree or the source tree), then the system.
pub fn pdfium_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("SOHOA_PDFIUM") {
        out.push(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        for anc in exe.ancestors().skip(1).take(4) {
            out.push(anc.join("third_party/pdfium/libpdfium.so"));
        }
    }
    out.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/third_party/pdfium/libpdfium.so"
    )));
    out.push(PathBuf::from("/usr/local/lib/libpdfium.so"));
    out.push(PathBuf::from("/usr/lib/libpdfium.so"));
    out
}

/// The process-wide PDFium binding (PDFium can be bound only once per process).
pub fn pdfium(explicit: Option<&Path>) -> Result<&'static Pdfium> {
    let bound = PDFIUM.get_or_init(|| {
        let mut tried = Vec::new();
        for cand in pdfium_candidates(explicit) {
            let p = if cand.is_dir() {
                cand.join("libpdfium.so")
            } else {
                cand
            };
            if !p.exists() {
                tried.push(p.display().to_string());
                continue;
            }
            match Pdfium::bind_to_library(&p) {
                Ok(b) => return Ok((Pdfium::new(b), p)),
                Err(e) => tried.push(format!("{} ({e})", p.display())),
            }
        }
        Err(format!(
            "PDFium library (libpdfium.so) not found; tried {}",
            tried.join(", ")
        ))
    });
    match bound {
        Ok((p, _)) => Ok(p),
        Err(e) => Err(Error::Missing { what: e.clone() }),
    }
}

/// Path of the bound PDFium library, if bound.
pub fn pdfium_path() -> Option<PathBuf> {
    PDFIUM
        .get()
        .and_then(|r| r.as_ref().ok())
        .map(|(_, p)| p.clone())
}

/// One clear error for each way PDFium refuses a file.
pub fn pdf_error(e: PdfiumError) -> Error {
    match e {
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::PasswordError) => {
            Error::Encrypted
        }
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::SecurityError) => {
            Error::Encrypted
        }
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::FormatError) => {
            Error::BadPdf("not a valid PDF structure (truncated or corrupt)".into())
        }
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::FileError) => {
            Error::BadPdf("file could not be opened by PDFium".into())
        }
        other => Error::BadPdf(other.to_string()),
    }
}

/// A page as the renderer hands it on: its image when it is to be OCR'd, and for PDF pages the
/// text layer read from it and the decision taken on it ([`crate::textlayer`]).
#[derive(Debug)]
pub struct PageInput {
    /// 0-based page index within its file.
    pub index: usize,
    /// `None` when the page's text is taken from the PDF: such a page is never rasterised.
    pub image: Option<PageImage>,
    pub text: Option<Box<PageText>>,
    pub decision: Option<Decision>,
    /// The page's share of the memory budget, held until the page is done with.
    pub permit: Option<Permit>,
}

impl PageInput {
    pub fn image(image: PageImage, permit: Option<Permit>) -> PageInput {
        PageInput {
            index: image.index,
            image: Some(image),
            text: None,
            decision: None,
            permit,
        }
    }
}

/// Stream the pages of a file to `on_input` as [`PageInput`]s: PDF pages have their text layer
/// read and are rendered only when they are to be OCR'd under `mode`; other formats' pages are
/// images. `on_input` gets the time spent on the page (ms) and returns `false` to stop early.
pub fn for_each_input(
    path: &Path,
    kind: Kind,
    opts: &RasterOptions,
    mode: Mode,
    on_count: &mut dyn FnMut(usize),
    on_input: &mut dyn FnMut(PageInput, f64) -> bool,
) -> Result<usize> {
    match kind {
        Kind::Pdf => read_pdf_pages(
            path,
            opts,
            Some(mode),
            &mut |n| {
                on_count(n);
                Ok(0..n)
            },
            on_input,
        ),
        _ => {
            let mut t0 = std::time::Instant::now();
            each_page(path, kind, opts, on_count, &mut |img, permit| {
                let ms = t0.elapsed().as_secs_f64() * 1e3;
                let go = on_input(PageInput::image(img, permit), ms);
                t0 = std::time::Instant::now();
                go
            })
        }
    }
}

/// Stream the pages of a file to `on_page`. `on_count` learns the page count first (when the
/// format records it). `on_page` returns `false` to stop early (interrupts).
pub fn for_each_page(
    path: &Path,
    kind: Kind,
    opts: &RasterOptions,
    on_count: &mut dyn FnMut(usize),
    on_page: &mut dyn FnMut(PageImage) -> bool,
) -> Result<usize> {
    // The page's permit is held while `on_page` works on it.
    each_page(path, kind, opts, on_count, &mut |page, _permit| {
        on_page(page)
    })
}

/// [`for_each_page`], each page with its share of the memory budget.
fn each_page(
    path: &Path,
    kind: Kind,
    opts: &RasterOptions,
    on_count: &mut dyn FnMut(usize),
    on_page: &mut dyn FnMut(PageImage, Option<Permit>) -> bool,
) -> Result<usize> {
    match kind {
        Kind::Pdf => pdf_pages(path, opts, on_count, &mut |page| on_page(page, None)),
        Kind::Tiff => tiff_pages(path, opts, on_count, on_page),
        Kind::Png | Kind::Jpeg => {
            on_count(1);
            let (page, permit) = decode_image(path, kind, opts)?;
            on_page(page, permit);
            Ok(1)
        }
    }
}

fn pdf_pages(
    path: &Path,
    opts: &RasterOptions,
    on_count: &mut dyn FnMut(usize),
    on_page: &mut dyn FnMut(PageImage) -> bool,
) -> Result<usize> {
    render_pdf_pages(
        path,
        opts,
        &mut |n| {
            on_count(n);
            Ok(0..n)
        },
        &mut |page, _ms| on_page(page),
    )
}

/// Open a PDF and render the pages `select` picks (0-based, given the page count) in order, each
/// with its render time in ms, until `on_page` returns `false`. Returns the page count. Used by
/// whole-file streaming and by scale-out page ranges alike.
pub fn render_pdf_pages(
    path: &Path,
    opts: &RasterOptions,
    select: &mut dyn FnMut(usize) -> Result<std::ops::Range<usize>>,
    on_page: &mut dyn FnMut(PageImage, f64) -> bool,
) -> Result<usize> {
    read_pdf_pages(
        path,
        opts,
        None,
        select,
        &mut |input, ms| match input.image {
            Some(image) => on_page(image, ms),
            None => true,
        },
    )
}

/// [`render_pdf_pages`] with the text layer: with a `mode`, each page's text is read first and
/// the page is rendered only when [`textlayer::decide`] sends it to OCR (a born-digital page is
/// never rasterised); without one, every page is rendered and no text is read.
pub fn read_pdf_pages(
    path: &Path,
    opts: &RasterOptions,
    mode: Option<Mode>,
    select: &mut dyn FnMut(usize) -> Result<std::ops::Range<usize>>,
    on_page: &mut dyn FnMut(PageInput, f64) -> bool,
) -> Result<usize> {
    let pdfium = pdfium(opts.pdfium.as_deref())?;
    let capped = RasterOptions {
        max_pixels: opts.pdf_pixel_cap(),
        ..opts.clone()
    };
    let opts = &capped;
    let mut doc = pdfium.load_pdf_from_file(path, None).map_err(pdf_error)?;
    let n = doc.pages().len() as usize;
    if n == 0 {
        return Err(Error::BadPdf("the PDF has no pages".into()));
    }
    let pages = select(n)?;
    let mut bitmap: BitmapCache = None;
    for (done, i) in pages.enumerate() {
        // PDFium keeps every object it has parsed (a scan's image streams: ~1.3 MB a page) until
        // the document closes, so a 300-page PDF grew the process by ~400 MB. Reopening every
        // few pages keeps memory flat for any length; parsing the xref again costs ~1 ms.
        if done > 0 && done % REOPEN_EVERY_PAGES == 0 {
            drop(doc);
            doc = pdfium.load_pdf_from_file(path, None).map_err(pdf_error)?;
        }
        let t0 = std::time::Instant::now();
        let page = doc.pages().get(i as PdfPageIndex).map_err(pdf_error)?;
        let (text, decision) = match mode {
            Some(m) => match textlayer::read_page(&page, render_dpi(&page, opts)) {
                Ok(t) => {
                    let d = textlayer::decide(&t, m);
                    (Some(Box::new(t)), Some(d))
                }
                Err(e) => {
                    log::debug!(
                        "{}: page {}: no text layer read: {e}",
                        path.display(),
                        i + 1
                    );
                    (None, None)
                }
            },
            None => (None, None),
        };
        if crate::fault::strikes(crate::fault::Fault::PdfiumFail, i + 1) {
            return Err(Error::BadPdf(format!(
                "page {}: PDFium could not render it (injected fault)",
                i + 1
            )));
        }
        let (image, permit) = if decision.as_ref().is_none_or(|d| d.source == Source::Ocr) {
            // Reserved at the resolution OCR will see (a low-resolution bilevel scan rendered
            // at its own is upscaled to about that by clean-up).
            let d = render_dpi(&page, opts) as f64;
            let (wpt, hpt) = (
                page.width().value.abs() as f64,
                page.height().value.abs() as f64,
            );
            let px = (wpt / 72.0 * d).round() * (hpt / 72.0 * d).round();
            let permit = opts.reserve(if px.is_finite() { px as u64 } else { 0 });
            (
                Some(render_page(&page, i, path, opts, &mut bitmap)?),
                permit,
            )
        } else {
            (None, None)
        };
        drop(page);
        let input = PageInput {
            index: i,
            image,
            text,
            decision,
            permit,
        };
        if !on_page(input, t0.elapsed().as_secs_f64() * 1e3) {
            break;
        }
    }
    Ok(n)
}

const REOPEN_EVERY_PAGES: usize = 16;

/// A3 at 300 dpi is 17.5 million pixels.
const BITMAP_CACHE_MAX_PIXELS: usize = 20_000_000;

/// The last page's PDFium bitmap, kept for the next page of the same size. A 300 dpi A4 BGRx
/// bitmap is 35 MB; allocating it afresh for every page cost ~8,700 page faults a page.
type BitmapCache<'a> = Option<((i32, i32), PdfBitmap<'a>)>;

/// The resolution [`render_page`] renders `page` at: `opts.dpi`, or lower where the page would
/// exceed `opts.max_pixels` (the text layer is measured at the same, so its boxes match OCR's).
fn render_dpi(page: &PdfPage, opts: &RasterOptions) -> f32 {
    let (wpt, hpt) = (page.width().value.abs(), page.height().value.abs());
    let (w, h) = (
        (wpt / 72.0 * opts.dpi).round() as u64,
        (hpt / 72.0 * opts.dpi).round() as u64,
    );
    if w * h > opts.max_pixels {
        opts.dpi * ((opts.max_pixels as f64 / (w * h) as f64).sqrt() as f32).max(0.01)
    } else {
        opts.dpi
    }
}

/// Render one PDF page (0-based `index`) to grey at `opts.dpi`, or lower where the page would
/// exceed `opts.max_pixels`, into `cache`'s bitmap.
fn render_page(
    page: &PdfPage,
    index: usize,
    path: &Path,
    opts: &RasterOptions,
    cache: &mut BitmapCache,
) -> Result<PageImage> {
    let i = index;
    let (wpt, hpt) = (page.width().value.abs(), page.height().value.abs());
    if !(wpt.is_finite() && hpt.is_finite()) || wpt < 1.0 || hpt < 1.0 {
        return Err(Error::BadPdf(format!("page {} has no usable size", i + 1)));
    }
    // A page that is one bilevel scan below the asked resolution is rendered at the scan's own,
    // pixel for pixel, unsmoothed: PDFium's smoothed upscaling greys thin table rulings and
    // Tesseract then merges the annex tables' columns (42 % WER against 10 %,
    // docs/real-scans.md). Clean-up upscales it as it does any low-resolution page.
    let native = bilevel_scan_dpi(page, wpt, hpt)
        .filter(|d| (100.0..opts.dpi - 1.0).contains(d) && opts.native_bilevel);
    let mut dpi = native.unwrap_or(opts.dpi);
    let px = |d: f32| {
        (
            (wpt / 72.0 * d).round() as u64,
            (hpt / 72.0 * d).round() as u64,
        )
    };
    let (w, h) = px(dpi);
    if w * h > opts.max_pixels {
        dpi *= ((opts.max_pixels as f64 / (w * h) as f64).sqrt() as f32).max(0.01);
        log::warn!(
            "{}: page {} is very large; rendering at {:.0} dpi",
            path.display(),
            i + 1,
            dpi
        );
    }
    let (w, h) = px(dpi);
    let (w, h) = (w.max(1) as i32, h.max(1) as i32);
    // BGRx, not Gray: PDFium's grey bitmaps crashed on pages with filled vector shapes.
    let cfg = PdfRenderConfig::new()
        .set_target_size(w, h)
        .set_format(PdfBitmapFormat::BGRx)
        .render_form_data(true)
        .set_image_smoothing(native.is_none());
    if cache.as_ref().is_none_or(|(size, _)| *size != (w, h)) {
        *cache = None; // free the old one before making the new
        let b = PdfBitmap::empty(w, h, PdfBitmapFormat::BGRx).map_err(pdf_error)?;
        *cache = Some(((w, h), b));
    }
    let (_, bitmap) = cache.as_mut().expect("made above");
    // PDFium clears the bitmap to white before it renders (PdfRenderConfig's default).
    page.render_into_bitmap_with_config(bitmap, &cfg)
        .map_err(pdf_error)?;
    let (bw, bh) = (bitmap.width() as usize, bitmap.height() as usize);
    let raw = bitmap.as_raw_bytes();
    // Only ordinary page sizes are worth keeping: a poster's bitmap (up to 240 MB) would stay
    // outside the memory budget until the next page.
    let keep = bw * bh <= BITMAP_CACHE_MAX_PIXELS;
    let stride = raw.len().checked_div(bh).unwrap_or(0);
    if stride < bw * 4 {
        return Err(Error::BadPdf(format!(
            "page {}: PDFium returned a short bitmap",
            i + 1
        )));
    }
    let mut gray = vec![0u8; bw * bh];
    let mut inks = InkMap::new(bw * bh);
    for y in 0..bh {
        let row = &raw[y * stride..y * stride + bw * 4];
        for (x, px) in row.chunks_exact(4).enumerate() {
            gray[y * bw + x] = luma(px[2], px[1], px[0]);
            inks.note(y * bw + x, px[2], px[1], px[0]);
        }
    }
    if !keep {
        *cache = None;
    }
    Ok(PageImage {
        index: i,
        width: bw as u32,
        height: bh as u32,
        dpi,
        dpi_source: DpiSource::Pdf,
        gray,
        inks: inks.finish(),
    })
}

/// The resolution of a page that is a bilevel scan: a 1-bit image (top level or in a form
/// XObject) covering at least 90 % of the page, its pixels per inch across the page (either way
/// round). `None` for anything else.
fn bilevel_scan_dpi(page: &PdfPage, wpt: f32, hpt: f32) -> Option<f32> {
    fn find(obj: &PdfPageObject, depth: u32, out: &mut Vec<(f32, f32, f32, f32)>) {
        match obj.object_type() {
            PdfPageObjectType::Image => {
                let Some(img) = obj.as_image_object() else {
                    return;
                };
                if img.bits_per_pixel().ok() != Some(1) {
                    return;
                }
                if let (Ok(w), Ok(h), Ok(q)) = (img.width(), img.height(), obj.bounds()) {
                    let r = q.to_rect();
                    out.push((w as f32, h as f32, r.width().value, r.height().value));
                }
            }
            PdfPageObjectType::XObjectForm if depth < 4 => {
                if let Some(f) = obj.as_x_object_form_object() {
                    f.iter().for_each(|o| find(&o, depth + 1, out));
                }
            }
            _ => {}
        }
    }
    let mut images = Vec::new();
    for obj in page.objects().iter() {
        find(&obj, 0, &mut images);
    }
    let [(pw, ph, bw, bh)] = images[..] else {
        return None; // none, or several: not one scan
    };
    if bw * bh < 0.9 * wpt * hpt || bw < 1.0 || bh < 1.0 {
        return None;
    }
    let same = |a: f32, b: f32| (a / b - 1.0).abs() < 0.03;
    let (dx, dy) = (pw / (bw / 72.0), ph / (bh / 72.0));
    if same(dx, dy) {
        return Some(dx);
    }
    // Turned a quarter inside the page: the image's width runs down it.
    let (dx, dy) = (ph / (bw / 72.0), pw / (bh / 72.0));
    same(dx, dy).then_some(dx)
}

#[inline]
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 299 + g as u32 * 587 + b as u32 * 114 + 500) / 1000) as u8
}

fn decode_image(
    path: &Path,
    kind: Kind,
    opts: &RasterOptions,
) -> Result<(PageImage, Option<Permit>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        source: e,
    })?;
    let meta_dpi = match kind {
        Kind::Png => png_dpi(&bytes),
        Kind::Jpeg => jpeg_dpi(&bytes),
        _ => None,
    };
    let format = match kind {
        Kind::Png => image::ImageFormat::Png,
        _ => image::ImageFormat::Jpeg,
    };
    // The header's size first: a bomb is refused, and a page waits for its share of the memory
    // budget, before anything is allocated for its pixels.
    let (w, h) = image::ImageReader::with_format(std::io::Cursor::new(&bytes), format)
        .into_dimensions()
        .map_err(|e| Error::BadImage(e.to_string()))?;
    let permit = opts.admit_image(w as u64, h as u64, "the image")?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(&bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(opts.image_pixel_cap() * 4);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => {
            Error::TooLarge(format!("image over {} pixels", opts.image_pixel_cap()))
        }
        other => Error::BadImage(other.to_string()),
    })?;
    let (w, h) = (img.width(), img.height());
    let (gray, inks) = flatten_to_gray(img);
    let (dpi, dpi_source) =
        crate::dpi::resolve(meta_dpi, &gray, w, h, opts.image_dpi, opts.estimate_dpi);
    Ok((
        PageImage {
            index: 0,
            width: w,
            height: h,
            dpi,
            dpi_source,
            gray,
            inks,
        },
        permit,
    ))
}

/// Grey with any alpha composited over white paper (transparent scans read as black otherwise),
/// and for colour images the coloured inks.
fn flatten_to_gray(img: image::DynamicImage) -> (Vec<u8>, Option<Vec<u8>>) {
    let colour = img.color().has_color();
    if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        let mut inks = InkMap::new(if colour { rgba.len() / 4 } else { 0 });
        let gray = rgba
            .pixels()
            .enumerate()
            .map(|(i, p)| {
                let a = p[3] as u32;
                if colour && a > 128 {
                    inks.note(i, p[0], p[1], p[2]);
                }
                let l = luma(p[0], p[1], p[2]) as u32;
                ((l * a + 255 * (255 - a) + 127) / 255) as u8
            })
            .collect();
        (gray, inks.finish())
    } else if colour {
        let rgb = img.to_rgb8();
        let mut inks = InkMap::new(rgb.len() / 3);
        let gray = rgb
            .pixels()
            .enumerate()
            .map(|(i, p)| {
                inks.note(i, p[0], p[1], p[2]);
                luma(p[0], p[1], p[2])
            })
            .collect();
        (gray, inks.finish())
    } else {
        (img.to_luma8().into_raw(), None)
    }
}

fn png_dpi(bytes: &[u8]) -> Option<f32> {
    // pHYs: pixels per unit X, Y (u32 BE), unit (1 = metre).
    let pos = bytes.windows(4).take(1 << 20).position(|w| w == b"pHYs")?;
    let d = bytes.get(pos + 4..pos + 13)?;
    let ppu = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    (d[8] == 1 && ppu > 0).then(|| (ppu as f32 * 0.0254).round())
}

fn jpeg_dpi(bytes: &[u8]) -> Option<f32> {
    // JFIF APP0 after "JFIF\0": version (2 bytes), units (1 = dpi, 2 = dpcm), Xdensity (u16 BE).
    let pos = bytes.windows(5).take(64).position(|w| w == b"JFIF\0")?;
    let d = bytes.get(pos + 5..pos + 10)?;
    let x = u16::from_be_bytes([d[3], d[4]]) as f32;
    match d[2] {
        1 if x > 1.0 => Some(x),
        2 if x > 1.0 => Some((x * 2.54).round()),
        _ => None,
    }
}

fn tiff_pages(
    path: &Path,
    opts: &RasterOptions,
    on_count: &mut dyn FnMut(usize),
    on_page: &mut dyn FnMut(PageImage, Option<Permit>) -> bool,
) -> Result<usize> {
    let f = std::fs::File::open(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        source: e,
    })?;
    let bad = |e: tiff::TiffError| Error::BadImage(format!("TIFF: {e}"));
    let mut limits = tiff::decoder::Limits::default();
    limits.decoding_buffer_size = (opts.image_pixel_cap() * 4) as usize;
    limits.intermediate_buffer_size = (opts.image_pixel_cap() * 4) as usize;
    let mut dec = tiff::decoder::Decoder::new(BufReader::new(f))
        .map_err(bad)?
        .with_limits(limits);
    let count = count_tiff_pages(path).unwrap_or(0);
    if count > 0 {
        on_count(count);
    }
    let mut index = 0;
    loop {
        let (page, permit) = tiff_page(&mut dec, index, opts)?;
        index += 1;
        if !on_page(page, permit) || !dec.more_images() {
            break;
        }
        dec.next_image().map_err(bad)?;
    }
    Ok(index)
}

fn count_tiff_pages(path: &Path) -> Option<usize> {
    let f = std::fs::File::open(path).ok()?;
    let mut dec = tiff::decoder::Decoder::new(BufReader::new(f)).ok()?;
    let mut n = 1;
    while dec.more_images() {
        dec.next_image().ok()?;
        n += 1;
        if n > 100_000 {
            return None;
        }
    }
    Some(n)
}

fn tiff_page<R: Read + Seek>(
    dec: &mut tiff::decoder::Decoder<R>,
    index: usize,
    opts: &RasterOptions,
) -> Result<(PageImage, Option<Permit>)> {
    use tiff::decoder::DecodingResult;
    use tiff::tags::Tag;
    use tiff::ColorType;
    let bad = |e: tiff::TiffError| Error::BadImage(format!("TIFF page {}: {e}", index + 1));
    let (w, h) = dec.dimensions().map_err(bad)?;
    let permit = opts.admit_image(w as u64, h as u64, &format!("TIFF page {}", index + 1))?;
    // ResolutionUnit 1 means "no unit": the numbers are an aspect ratio, not a resolution.
    // XResolution is a RATIONAL: `get_tag_f32` refuses it, so TIFF resolutions were never read
    // (every TIFF was taken at --image-dpi) until issue 15.
    let meta_dpi = dec
        .get_tag(Tag::XResolution)
        .ok()
        .and_then(|v| match v {
            tiff::decoder::ifd::Value::Rational(n, d) if d > 0 => Some(n as f32 / d as f32),
            tiff::decoder::ifd::Value::Float(f) => Some(f),
            other => other.into_u32().ok().map(|n| n as f32),
        })
        .filter(|d| d.is_finite() && *d > 0.0)
        .and_then(|d| match dec.get_tag_u32(Tag::ResolutionUnit) {
            Ok(3) => Some((d * 2.54).round()),
            Ok(1) => None,
            _ => Some(d),
        });
    // 0 = WhiteIsZero: bilevel fax pages usually store ink as 1.
    let white_is_zero = matches!(dec.get_tag_u32(Tag::PhotometricInterpretation), Ok(0));
    let color = dec.colortype().map_err(bad)?;
    let data = dec.read_image().map_err(bad)?;
    let (w, h) = (w as usize, h as usize);
    let mut gray = vec![255u8; w * h];
    let mut inks = InkMap::new(0);
    let samples: Vec<u8> = match data {
        DecodingResult::U8(v) => v,
        DecodingResult::U16(v) => v.iter().map(|s| (s >> 8) as u8).collect(),
        _ => {
            return Err(Error::BadImage(format!(
                "TIFF page {}: unsupported sample format",
                index + 1
            )))
        }
    };
    match color {
        ColorType::Gray(1) => {
            let row_bytes = w.div_ceil(8);
            for y in 0..h {
                for x in 0..w {
                    let byte = samples.get(y * row_bytes + x / 8).copied().unwrap_or(0);
                    let bit = (byte >> (7 - (x % 8))) & 1;
                    let ink = if white_is_zero { bit == 1 } else { bit == 0 };
                    gray[y * w + x] = if ink { 0 } else { 255 };
                }
            }
        }
        ColorType::Gray(_) => {
            for (i, s) in samples.iter().take(w * h).enumerate() {
                gray[i] = if white_is_zero { 255 - s } else { *s };
            }
        }
        ColorType::RGB(_) | ColorType::RGBA(_) => {
            let n = if matches!(color, ColorType::RGB(_)) {
                3
            } else {
                4
            };
            inks = InkMap::new(w * h);
            for (i, px) in samples.chunks_exact(n).take(w * h).enumerate() {
                gray[i] = luma(px[0], px[1], px[2]);
                inks.note(i, px[0], px[1], px[2]);
            }
        }
        ColorType::Palette(_) | ColorType::CMYK(_) | _ => {
            return Err(Error::BadImage(format!(
                "TIFF page {}: unsupported colour type {color:?}",
                index + 1
            )))
        }
    }
    let (dpi, dpi_source) = crate::dpi::resolve(
        meta_dpi,
        &gray,
        w as u32,
        h as u32,
        opts.image_dpi,
        opts.estimate_dpi,
    );
    Ok((
        PageImage {
            index,
            width: w as u32,
            height: h as u32,
            dpi,
            dpi_source,
            gray,
            inks: inks.finish(),
        },
        permit,
    ))
}

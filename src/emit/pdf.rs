//! Searchable PDF: the source's pages under an invisible text layer of the restored text, one
//! text object per word, stretched over the word's box (as OCRmyPDF and Tesseract do).
//!
//! The pipeline keeps no page images, so the source is opened again: PDF pages are copied as
//! they are (their images untouched), JPEG files are embedded as they are (no re-encoding), PNG
//! and TIFF pages are decoded and stored losslessly. A page the pipeline turned upright
//! (`Page::rotation`) keeps its pixels and gets a /Rotate so that it displays upright, with
//! the text laid along the turned lines. The font is a glyphless TrueType font built for the
//! characters of the document ([`super::glyphless`]), so the layer carries any Vietnamese text
//! in a few kB. Pages whose text was taken from the source PDF (`Page::source` "text" or
//! "layer") are copied as they are.

use super::glyphless;
use crate::doc::{Document, Page};
use crate::error::{Error, Result};
use crate::input::{self, Kind};
use crate::raster::{self, RasterOptions};
use pdfium_render::prelude::*;
use std::path::Path;

fn perr(what: &str) -> impl Fn(PdfiumError) -> Error + '_ {
    move |e| Error::BadPdf(format!("writing the PDF ({what}): {e}"))
}

/// Maps points of a page's upright pixel frame (sohoa's boxes) to PDF user space.
#[derive(Debug, Clone, Copy)]
struct Affine {
    /// user = [a c e; b d f] · (x, y, 1), for x, y in the displayed source raster.
    m: [f32; 6],
    /// The pipeline's rotation, and the displayed source raster's size.
    rot: i32,
    w0: f32,
    h0: f32,
}

impl Affine {
    /// Upright pixel → displayed source pixel (the inverse of `clean::rotate`).
    fn source_point(&self, x: f32, y: f32) -> (f32, f32) {
        match self.rot.rem_euclid(360) {
            90 => (y, self.h0 - x),
            180 => (self.w0 - x, self.h0 - y),
            270 => (self.w0 - y, x),
            _ => (x, y),
        }
    }
    fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let (x, y) = self.source_point(x, y);
        let m = &self.m;
        (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
    }
}

/// The source raster size as the pipeline rendered it (before it turned the page upright).
fn source_size(p: &Page) -> (u32, u32) {
    if p.rotation.rem_euclid(180) == 0 {
        (p.width, p.height)
    } else {
        (p.height, p.width)
    }
}

fn rotation_of(deg: i32) -> PdfPageRenderRotation {
    match deg.rem_euclid(360) {
        90 => PdfPageRenderRotation::Degrees90,
        180 => PdfPageRenderRotation::Degrees180,
        270 => PdfPageRenderRotation::Degrees270,
        _ => PdfPageRenderRotation::None,
    }
}

fn degrees_of(r: PdfPageRenderRotation) -> i32 {
    match r {
        PdfPageRenderRotation::None => 0,
        PdfPageRenderRotation::Degrees90 => 90,
        PdfPageRenderRotation::Degrees180 => 180,
        PdfPageRenderRotation::Degrees270 => 270,
    }
}

fn chars_of(doc: &Document) -> Vec<char> {
    let mut v: Vec<char> = doc
        .pages
        .iter()
        .flat_map(|p| p.lines.iter())
        .flat_map(|l| l.words.iter())
        .flat_map(|w| w.text.chars())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The text layer of one page: a text object per word, invisible.
fn add_text<'a>(
    out: &PdfDocument<'a>,
    page: &mut PdfPage<'a>,
    font: PdfFontToken,
    p: &Page,
    t: &Affine,
) -> Result<()> {
    let e = perr("text");
    for l in &p.lines {
        let lh = (l.bbox[3] - l.bbox[1]).max(1) as f32;
        for w in &l.words {
            let text: String = w.text.trim().chars().filter(|c| !c.is_control()).collect();
            if text.is_empty() || w.bbox[2] <= w.bbox[0] {
                continue;
            }
            // The baseline sits a descent above the line box's bottom; the font fills the box.
            let baseline =
                l.bbox[3] as f32 + lh * glyphless::DESCENT as f32 / glyphless::UNITS_PER_EM as f32;
            let (x0, x1) = (w.bbox[0] as f32, w.bbox[2] as f32);
            let o = t.apply(x0, baseline);
            let ux = t.apply(x0 + 1.0, baseline);
            let uy = t.apply(x0, baseline - 1.0);
            let (u, v) = ((ux.0 - o.0, ux.1 - o.1), (uy.0 - o.0, uy.1 - o.1));
            let (ul, vl) = (u.0.hypot(u.1), v.0.hypot(v.1));
            if ul <= 0.0 || vl <= 0.0 {
                continue;
            }
            let size = lh * vl; // font size in user units
            let natural = text.chars().count() as f32 * glyphless::ADVANCE as f32
                / glyphless::UNITS_PER_EM as f32
                * size;
            let stretch = (x1 - x0) * ul / natural.max(1e-3);
            let mut obj =
                PdfPageTextObject::new(out, &text, font, PdfPoints::new(size)).map_err(&e)?;
            obj.set_render_mode(PdfPageTextRenderMode::Invisible)
                .map_err(&e)?;
            obj.transform(
                stretch * u.0 / ul,
                stretch * u.1 / ul,
                v.0 / vl,
                v.1 / vl,
                o.0,
                o.1,
            )
            .map_err(&e)?;
            page.objects_mut().add_text_object(obj).map_err(&e)?;
        }
    }
    Ok(())
}

/// An image object holding `pixels` (8-bit grey or RGB, row-major, no padding), filling a page
/// of `w_pt` × `h_pt`.
fn image_object<'a>(
    out: &PdfDocument<'a>,
    width: u32,
    height: u32,
    rgb: bool,
    pixels: &[u8],
    w_pt: f32,
    h_pt: f32,
) -> Result<PdfPageImageObject<'a>> {
    let e = perr("page image");
    let bpp = if rgb { 3 } else { 1 };
    let (w, h) = (width as usize, height as usize);
    let stride = (w * bpp).div_ceil(4) * 4;
    let mut buf = vec![0u8; stride * h];
    for y in 0..h {
        let src = &pixels[y * w * bpp..(y + 1) * w * bpp];
        let dst = &mut buf[y * stride..y * stride + w * bpp];
        if rgb {
            for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(3)) {
                d.copy_from_slice(&[s[2], s[1], s[0]]); // BGR
            }
        } else {
            dst.copy_from_slice(src);
        }
    }
    let format = if rgb {
        PdfBitmapFormat::BGR
    } else {
        PdfBitmapFormat::Gray
    };
    let bitmap =
        PdfBitmap::from_bytes(width as i32, height as i32, format, &mut buf).map_err(&e)?;
    let mut obj = PdfPageImageObject::new(out).map_err(&e)?;
    obj.set_bitmap(&bitmap).map_err(&e)?;
    obj.transform(w_pt, 0.0, 0.0, h_pt, 0.0, 0.0).map_err(&e)?;
    Ok(obj)
}

/// A new page of the size of `p`'s source raster, with `image` on it (if any) and its text layer.
fn image_page<'a>(
    out: &mut PdfDocument<'a>,
    font: PdfFontToken,
    p: &Page,
    image: Option<PdfPageImageObject<'a>>,
) -> Result<()> {
    let e = perr("page");
    let (w0, h0) = source_size(p);
    let k = 72.0 / p.dpi.max(1.0);
    let (w_pt, h_pt) = (w0 as f32 * k, h0 as f32 * k);
    let mut page = out
        .pages_mut()
        .create_page_at_end(PdfPagePaperSize::Custom(
            PdfPoints::new(w_pt),
            PdfPoints::new(h_pt),
        ))
        .map_err(&e)?;
    page.set_content_regeneration_strategy(PdfPageContentRegenerationStrategy::Manual);
    if let Some(img) = image {
        page.objects_mut().add_image_object(img).map_err(&e)?;
    }
    let t = Affine {
        m: [k, 0.0, 0.0, -k, 0.0, h_pt],
        rot: p.rotation,
        w0: w0 as f32,
        h0: h0 as f32,
    };
    add_text(out, &mut page, font, p, &t)?;
    if p.rotation.rem_euclid(360) != 0 {
        page.set_rotation(rotation_of(p.rotation));
    }
    page.regenerate_content().map_err(&e)?;
    Ok(())
}

fn build(doc: &Document, with_images: bool) -> Result<Vec<u8>> {
    let pdfium = raster::pdfium(None)?;
    let mut out = pdfium.create_new_pdf().map_err(perr("document"))?;
    let font = out
        .fonts_mut()
        .load_true_type_from_bytes(&glyphless::font(&chars_of(doc)), true)
        .map_err(perr("font"))?;
    let mut pages: Vec<&Page> = doc.pages.iter().collect();
    pages.sort_by_key(|p| p.index);
    if !with_images {
        for p in pages {
            image_page(&mut out, font, p, None)?;
        }
        return out.save_to_bytes().map_err(perr("saving"));
    }

    let path = Path::new(&doc.source.path);
    let (kind, sha256, _) = input::inspect(path)?;
    if !doc.source.sha256.is_empty() && sha256 != doc.source.sha256 {
        return Err(Error::BadPdf(format!(
            "{} changed since it was read (sha256 differs)",
            path.display()
        )));
    }
    match kind {
        Kind::Pdf => {
            let src = pdfium
                .load_pdf_from_file(path, None)
                .map_err(perr("opening the source"))?;
            for (dest, p) in pages.iter().enumerate() {
                let e = perr("page");
                out.pages_mut()
                    .copy_page_from_document(
                        &src,
                        (p.index - 1) as PdfPageIndex,
                        dest as PdfPageIndex,
                    )
                    .map_err(&e)?;
                // A page whose text came from the PDF itself (born-digital, or an earlier OCR
                // layer kept) already carries it: copied untouched, no second layer.
                if p.source != "ocr" {
                    continue;
                }
                let mut page = out.pages().get(dest as PdfPageIndex).map_err(&e)?;
                page.set_content_regeneration_strategy(PdfPageContentRegenerationStrategy::Manual);
                // Displayed source pixels → user space, as PDFium rendered the page for OCR.
                let (w0, h0) = source_size(p);
                let cfg = PdfRenderConfig::new().set_target_size(w0 as i32, h0 as i32);
                let at = |x: i32, y: i32| {
                    page.pixels_to_points(x, y, &cfg)
                        .map(|(a, b)| (a.value, b.value))
                };
                let span = 1000;
                let (o, ax, ay) = (
                    at(0, 0).map_err(&e)?,
                    at(span, 0).map_err(&e)?,
                    at(0, span).map_err(&e)?,
                );
                let s = span as f32;
                let m = [
                    (ax.0 - o.0) / s,
                    (ax.1 - o.1) / s,
                    (ay.0 - o.0) / s,
                    (ay.1 - o.1) / s,
                    o.0,
                    o.1,
                ];
                let t = Affine {
                    m,
                    rot: p.rotation,
                    w0: w0 as f32,
                    h0: h0 as f32,
                };
                add_text(&out, &mut page, font, p, &t)?;
                if p.rotation.rem_euclid(360) != 0 {
                    let r0 = page.rotation().map(degrees_of).unwrap_or(0);
                    page.set_rotation(rotation_of(r0 + p.rotation));
                }
                page.regenerate_content().map_err(&e)?;
            }
        }
        Kind::Jpeg => {
            for p in pages {
                let (w0, h0) = source_size(p);
                let k = 72.0 / p.dpi.max(1.0);
                let mut img =
                    PdfPageImageObject::new_from_jpeg_file(&out, path).map_err(perr("JPEG"))?;
                img.transform(w0 as f32 * k, 0.0, 0.0, h0 as f32 * k, 0.0, 0.0)
                    .map_err(perr("JPEG"))?;
                image_page(&mut out, font, p, Some(img))?;
            }
        }
        Kind::Png => {
            let img = image::ImageReader::open(path)
                .and_then(|r| r.with_guessed_format())
                .map_err(|e| Error::Read {
                    path: path.to_path_buf(),
                    source: e,
                })?
                .decode()
                .map_err(|e| Error::BadImage(e.to_string()))?;
            let (w, h) = (img.width(), img.height());
            let color = img.color();
            let (rgb, px) = if color.has_color() {
                let rgba = img.to_rgba8();
                let px: Vec<u8> = rgba
                    .pixels()
                    .flat_map(|p| {
                        let a = p[3] as u32;
                        [0, 1, 2].map(|i| ((p[i] as u32 * a + 255 * (255 - a) + 127) / 255) as u8)
                    })
                    .collect();
                (true, px)
            } else {
                let la = img.to_luma_alpha8();
                (
                    false,
                    la.pixels()
                        .map(|p| {
                            ((p[0] as u32 * p[1] as u32 + 255 * (255 - p[1] as u32) + 127) / 255)
                                as u8
                        })
                        .collect(),
                )
            };
            for p in pages {
                let (w0, h0) = source_size(p);
                let k = 72.0 / p.dpi.max(1.0);
                if (w, h) != (w0, h0) {
                    return Err(Error::BadImage(format!(
                        "{}: the image is {w}x{h}, the page {w0}x{h0}",
                        path.display()
                    )));
                }
                let obj = image_object(&out, w, h, rgb, &px, w0 as f32 * k, h0 as f32 * k)?;
                image_page(&mut out, font, p, Some(obj))?;
            }
        }
        Kind::Tiff => {
            let mut by_index: std::collections::HashMap<usize, &Page> =
                pages.iter().map(|p| (p.index - 1, *p)).collect();
            let mut failure: Option<Error> = None;
            let opts = RasterOptions::default();
            raster::for_each_page(path, Kind::Tiff, &opts, &mut |_| {}, &mut |img| {
                if let Some(p) = by_index.remove(&img.index) {
                    let (w0, h0) = source_size(p);
                    let k = 72.0 / p.dpi.max(1.0);
                    let r = image_object(
                        &out,
                        img.width,
                        img.height,
                        false,
                        &img.gray,
                        w0 as f32 * k,
                        h0 as f32 * k,
                    )
                    .and_then(|obj| image_page(&mut out, font, p, Some(obj)));
                    if let Err(e) = r {
                        failure = Some(e);
                        return false;
                    }
                }
                !by_index.is_empty()
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
            if !by_index.is_empty() {
                return Err(Error::BadImage(format!(
                    "{}: fewer pages than when it was read",
                    path.display()
                )));
            }
        }
    }
    out.save_to_bytes().map_err(perr("saving"))
}

/// The searchable PDF of `doc`, built over its source file's pages.
pub fn render(doc: &Document) -> Result<Vec<u8>> {
    build(doc, true)
}

/// The text layer alone, on blank pages of the pages' sizes (when the source is not at hand).
pub fn render_text_only(doc: &Document) -> Result<Vec<u8>> {
    build(doc, false)
}

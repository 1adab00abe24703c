//! Searchable PDF, PDF/A-2b by default: the source's pages under an invisible text layer of the
//! restored text, one text object per word, stretched over the word's box (as OCRmyPDF and
//! Tesseract do).
//!
//! The pipeline keeps no page images, so the source is opened again. PDF pages are copied as
//! they are by PDFium (their images, fonts and drawing untouched); image files become pages whose
//! image XObject carries the file's own compressed data ([`super::images`]: JPEG, PNG's zlib
//! stream, TIFF's fax code), so nothing is re-encoded and no digit can change. Pages whose text
//! was taken from the source PDF (`Page::source` "text" or "layer", born-digital) are copied
//! with no second layer. A page the pipeline turned upright (`Page::rotation`) keeps its pixels
//! and gets a /Rotate so that it displays upright, with the text laid along the turned lines.
//!
//! sohoa writes the text layer itself (lopdf objects) rather than through PDFium's text objects:
//! that way it controls the font dictionaries PDF/A asks for (embedded glyphless TrueType,
//! Identity CIDToGIDMap, a ToUnicode map of NFC text), and each page names only fonts it has.
//! [`super::pdfa`] then adds the metadata, the sRGB output intent and the claim, once its check
//! finds nothing a copied page brought that PDF/A forbids.

use super::glyphless;
use super::images::{self, Image};
use super::pdfa;
use crate::doc::{Document, Line, Page};
use crate::error::{Error, Result};
use crate::input::{self, Kind};
use crate::raster::{self, RasterOptions};
use lopdf::{dictionary, Dictionary, Object, ObjectId, Stream};
use pdfium_render::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use unicode_normalization::UnicodeNormalization;

/// How the PDF is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfOptions {
    /// Claim PDF/A-2b (when the check finds nothing against it); false writes plain PDF.
    pub pdfa: bool,
}

impl Default for PdfOptions {
    fn default() -> Self {
        PdfOptions { pdfa: true }
    }
}

/// The name of sohoa's text font in every page's resources: long and odd enough not to clash
/// with a name a copied page already uses.
const FONT: &str = "SohoaOCRText";
const IMAGE: &str = "SohoaPage";

fn perr(what: &str) -> impl Fn(PdfiumError) -> Error + '_ {
    move |e| Error::BadPdf(format!("writing the PDF ({what}): {e}"))
}

fn lerr(what: &str) -> impl Fn(lopdf::Error) -> Error + '_ {
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
    fn apply(&self, (x, y): (f32, f32)) -> (f32, f32) {
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

/// A word's text as the layer carries it: NFC, without control characters.
fn layer_text(s: &str) -> String {
    s.trim().nfc().filter(|c| !c.is_control()).collect()
}

fn chars_of(doc: &Document) -> Vec<char> {
    let mut v: Vec<char> = doc
        .pages
        .iter()
        .flat_map(|p| p.lines.iter())
        .flat_map(|l| l.words.iter())
        .flat_map(|w| layer_text(&w.text).chars().collect::<Vec<_>>())
        .collect();
    v.push(' ');
    v.sort_unstable();
    v.dedup();
    v
}

/// A number for a content stream: `places` decimals at most, no exponent.
fn num_p(v: f32, places: usize) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let s = format!("{v:.places$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" || s.is_empty() {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A position or length in points: a hundredth of a point is far below a pixel.
fn num(v: f32) -> String {
    num_p(v, 2)
}

/// The text font: a Type 0 font over the glyphless TrueType font, embedded, with CID = glyph
/// id and a ToUnicode map, so every character copies and searches as the text sohoa read.
struct TextFont {
    id: ObjectId,
    gid: HashMap<char, u16>,
}

impl TextFont {
    fn add(out: &mut lopdf::Document, chars: &[char]) -> TextFont {
        let cps = glyphless::code_points(chars);
        let program = glyphless::font(chars);
        let mut file = Stream::new(dictionary! { "Length1" => program.len() as i64 }, program);
        let _ = file.compress();
        let file_id = out.add_object(file);
        let (asc, desc) = (glyphless::ASCENT as i64, glyphless::DESCENT as i64);
        let descriptor = out.add_object(dictionary! {
            "Type" => "FontDescriptor",
            "FontName" => "GlyphLessSohoa",
            "Flags" => 4, // symbolic: its glyphs are reached by CID, not by a standard encoding
            "FontBBox" => vec![0.into(), desc.into(), (glyphless::ADVANCE as i64).into(), asc.into()],
            "ItalicAngle" => 0,
            "Ascent" => asc,
            "Descent" => desc,
            "CapHeight" => 700,
            "StemV" => 80,
            "FontFile2" => file_id,
        });
        let cid_font = out.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "CIDFontType2",
            "BaseFont" => "GlyphLessSohoa",
            "CIDSystemInfo" => dictionary! {
                "Registry" => Object::string_literal("Adobe"),
                "Ordering" => Object::string_literal("Identity"),
                "Supplement" => 0,
            },
            "FontDescriptor" => descriptor,
            // Every glyph of the font program advances half an em (hmtx), and so do the CIDs.
            "DW" => glyphless::ADVANCE as i64 * 1000 / glyphless::UNITS_PER_EM as i64,
            "CIDToGIDMap" => "Identity",
        });
        let mut cmap = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        for chunk in cps.chunks(100).enumerate() {
            let (i0, chunk) = (chunk.0 * 100, chunk.1);
            cmap.push_str(&format!("{} beginbfchar\n", chunk.len()));
            for (j, cp) in chunk.iter().enumerate() {
                cmap.push_str(&format!("<{:04X}> <{cp:04X}>\n", i0 + j + 1));
            }
            cmap.push_str("endbfchar\n");
        }
        cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        let mut tu = Stream::new(Dictionary::new(), cmap.into_bytes());
        let _ = tu.compress();
        let tu_id = out.add_object(tu);
        let id = out.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type0",
            "BaseFont" => "GlyphLessSohoa",
            "Encoding" => "Identity-H",
            "DescendantFonts" => vec![cid_font.into()],
            "ToUnicode" => tu_id,
        });
        let gid = cps
            .iter()
            .enumerate()
            .filter_map(|(i, &cp)| Some((char::from_u32(cp as u32)?, (i + 1) as u16)))
            .collect();
        TextFont { id, gid }
    }
}

/// Which way a line's text runs on the upright page. Tesseract reads lines the pipeline did not
/// turn (a landscape table on a portrait scan, a page it could not tell was on its side) along
/// their own direction: their boxes are tall and their words follow one another down or up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Right,
    Down,
    Left,
    Up,
}

impl Run {
    fn vertical(self) -> bool {
        matches!(self, Run::Down | Run::Up)
    }

    /// The way from the first word's centre to the last's, when the line has two words or more.
    fn of_words(l: &Line) -> Option<Run> {
        let centre = |b: [i32; 4]| ((b[0] + b[2]) as f32 / 2.0, (b[1] + b[3]) as f32 / 2.0);
        let (a, b) = (centre(l.words.first()?.bbox), centre(l.words.last()?.bbox));
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        if l.words.len() < 2 || (dx == 0.0 && dy == 0.0) {
            None
        } else if dx.abs() >= dy.abs() {
            Some(if dx > 0.0 { Run::Right } else { Run::Left })
        } else {
            Some(if dy > 0.0 { Run::Down } else { Run::Up })
        }
    }

    /// Each line's run: its words' own, else (a line of one word) the page's usual run when the
    /// box's shape allows it, else along the box's long side.
    fn of_lines(p: &Page) -> Vec<Run> {
        let own: Vec<Option<Run>> = p.lines.iter().map(Run::of_words).collect();
        let mut votes = [0usize; 4];
        for r in own.iter().flatten() {
            votes[*r as usize] += 1;
        }
        let usual = [Run::Right, Run::Down, Run::Left, Run::Up]
            .into_iter()
            .max_by_key(|r| (votes[*r as usize], *r == Run::Right))
            .unwrap_or(Run::Right);
        own.iter()
            .zip(&p.lines)
            .map(|(r, l)| {
                r.unwrap_or_else(|| {
                    let (w, h) = (l.bbox[2] - l.bbox[0], l.bbox[3] - l.bbox[1]);
                    let chars = l
                        .words
                        .iter()
                        .map(|w| w.text.chars().count())
                        .sum::<usize>();
                    let tall = if usual.vertical() {
                        w <= 2 * h
                    } else {
                        h > 2 * w && chars >= 2
                    };
                    match (tall, usual.vertical()) {
                        (true, true) => usual,
                        (true, false) => Run::Down,
                        (false, _) if usual == Run::Left => Run::Left,
                        _ => Run::Right,
                    }
                })
            })
            .collect()
    }

    /// A box's extent along the run, as [start, end] on the run's own axis.
    fn span(self, b: [i32; 4]) -> (f32, f32) {
        let b = b.map(|v| v as f32);
        match self {
            Run::Right => (b[0], b[2]),
            Run::Down => (b[1], b[3]),
            Run::Left => (-b[2], -b[0]),
            Run::Up => (-b[3], -b[1]),
        }
    }

    /// The line box's extent across the run (the glyphs' height).
    fn across(self, b: [i32; 4]) -> f32 {
        (if self.vertical() {
            b[2] - b[0]
        } else {
            b[3] - b[1]
        })
        .max(1) as f32
    }

    /// The upright pixel at `s` along the run and `t` up from the line box's bottom edge.
    fn point(self, b: [i32; 4], s: f32, t: f32) -> (f32, f32) {
        let b = b.map(|v| v as f32);
        match self {
            Run::Right => (s, b[3] - t),
            Run::Down => (b[0] + t, s),
            Run::Left => (-s, b[1] + t),
            Run::Up => (b[2] - t, -s),
        }
    }
}

/// The content stream of one page's text layer: invisible text (render mode 3), each word's
/// glyphs stretched over its box, along the line's own direction ([`Run`]). A line's first word
/// sets the text matrix (position, size and direction); the others move along the line with Td
/// and stretch with Tz, which keeps the layer about a third smaller than a full matrix per word.
fn text_layer(font: &TextFont, p: &Page, t: &Affine) -> Vec<u8> {
    let mut s = format!("BT\n3 Tr\n/{FONT} 1 Tf\n");
    let em = glyphless::ADVANCE as f32 / glyphless::UNITS_PER_EM as f32;
    let sp = font.gid.get(&' ').map(|c| format!("{c:04X}"));
    for (l, run) in p.lines.iter().zip(Run::of_lines(p)) {
        let lh = run.across(l.bbox);
        // The baseline sits a descent above the line box's bottom; the font fills the box.
        let base = -lh * glyphless::DESCENT as f32 / glyphless::UNITS_PER_EM as f32;
        let words: Vec<(Vec<u16>, f32, f32)> = l
            .words
            .iter()
            .filter_map(|w| {
                let codes: Vec<u16> = layer_text(&w.text)
                    .chars()
                    .filter_map(|c| font.gid.get(&c).copied())
                    .collect();
                let (s0, s1) = run.span(w.bbox);
                (!codes.is_empty() && s1 > s0).then_some((codes, s0, s1))
            })
            .collect();
        // poppler splits words by geometry alone (it drops space characters), and its raw text
        // puts a space only where the next word starts more than 0.15 of the font size past the
        // last one: words are laid out in order with a quarter of the size between them at
        // least, a word drawn narrower (or, where OCR boxes overlap, the next one a little
        // later) to leave it. A line's last word stops that much short of its box too: OCR
        // noise can make lines of one word that touch the next line's first.
        let gap = 0.25 * lh;
        let mut starts: Vec<f32> = Vec::with_capacity(words.len());
        for (i, (_, s0, _)) in words.iter().enumerate() {
            let at = match (i.checked_sub(1), starts.last()) {
                (Some(j), Some(&prev)) => s0.max(prev + 0.1 * (words[j].2 - words[j].1) + gap),
                _ => *s0,
            };
            starts.push(at);
        }
        let mut first = true;
        let mut prev_at = 0.0;
        for (i, (codes, s0, s1)) in words.iter().enumerate() {
            let at = starts[i];
            let room = starts.get(i + 1).map_or(s1 - at, |&next| next - at);
            let width = (s1 - at).min(room - gap).max(0.1 * (s1 - s0));
            let o = t.apply(run.point(l.bbox, at, base));
            let ux = t.apply(run.point(l.bbox, at + 1.0, base));
            let uy = t.apply(run.point(l.bbox, at, base + 1.0));
            let (u, v) = ((ux.0 - o.0, ux.1 - o.1), (uy.0 - o.0, uy.1 - o.1));
            let (ul, vl) = (u.0.hypot(u.1), v.0.hypot(v.1));
            if ul <= 0.0 || vl <= 0.0 {
                continue;
            }
            let size = lh * vl; // font size in user units
            let natural = codes.len() as f32 * em * size;
            let stretch = width * ul / natural.max(1e-3);
            if first {
                s.push_str(&format!(
                    "{} {} {} {} {} {} Tm ",
                    num_p(size * u.0 / ul, 3),
                    num_p(size * u.1 / ul, 3),
                    num_p(size * v.0 / vl, 3),
                    num_p(size * v.1 / vl, 3),
                    num(o.0),
                    num(o.1),
                ));
                first = false;
            } else {
                // A pixel along the line is ul user units, a text space unit `size` of them.
                s.push_str(&format!("{} 0 Td ", num((at - prev_at) * ul / size)));
            }
            prev_at = at;
            let mut hex: String = codes.iter().map(|c| format!("{c:04X}")).collect();
            // A space after each word but the line's last: extraction then splits words by the
            // text itself, not only by guessing from gaps. It takes the word's stretch, and the
            // next word is placed from the line's start, so its width moves nothing.
            if let (Some(sp), true) = (&sp, i + 1 < words.len()) {
                hex.push_str(sp);
            }
            s.push_str(&format!("{} Tz <{hex}> Tj\n", num_p(stretch * 100.0, 0)));
        }
    }
    s.push_str("ET\n");
    s.into_bytes()
}

fn compressed(content: Vec<u8>) -> Stream {
    let mut s = Stream::new(Dictionary::new(), content);
    let _ = s.compress();
    s
}

/// A new page of the size of `p`'s source raster, with `image` on it (if any) and its text layer.
fn image_page(
    out: &mut lopdf::Document,
    pages_id: ObjectId,
    font: &TextFont,
    p: &Page,
    image: Option<Image>,
) -> ObjectId {
    let (w0, h0) = source_size(p);
    let k = 72.0 / p.dpi.max(1.0);
    let (w_pt, h_pt) = (w0 as f32 * k, h0 as f32 * k);
    let mut content = Vec::new();
    let mut resources = dictionary! {
        "Font" => dictionary! { FONT => font.id },
    };
    if let Some(img) = image {
        let img_id = out.add_object(img.stream);
        resources.set("XObject", dictionary! { IMAGE => img_id });
        content.extend_from_slice(
            format!("q {} 0 0 {} 0 0 cm /{IMAGE} Do Q\n", num(w_pt), num(h_pt)).as_bytes(),
        );
    }
    let t = Affine {
        m: [k, 0.0, 0.0, -k, 0.0, h_pt],
        rot: p.rotation,
        w0: w0 as f32,
        h0: h0 as f32,
    };
    content.extend(text_layer(font, p, &t));
    let contents = out.add_object(compressed(content));
    let mut page = dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), Object::Real(w_pt), Object::Real(h_pt)],
        "Resources" => resources,
        "Contents" => contents,
    };
    if p.rotation.rem_euclid(360) != 0 {
        page.set("Rotate", p.rotation.rem_euclid(360) as i64);
    }
    out.add_object(page)
}

/// A new document with an empty page tree; returns it and the tree's id.
fn new_document() -> (lopdf::Document, ObjectId) {
    let mut out = lopdf::Document::with_version("1.7");
    let pages_id = out.new_object_id();
    let catalog = out.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    out.trailer.set("Root", catalog);
    (out, pages_id)
}

fn set_kids(out: &mut lopdf::Document, pages_id: ObjectId, kids: Vec<ObjectId>) {
    let n = kids.len() as i64;
    out.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids.into_iter().map(Object::Reference).collect::<Vec<_>>(),
            "Count" => n,
        }),
    );
}

/// Pages of image files (or blank pages, for the text alone): one per page of `doc`.
fn image_document(
    doc: &Document,
    pages: &[&Page],
    images: Option<Vec<Image>>,
) -> Result<lopdf::Document> {
    let (mut out, pages_id) = new_document();
    let font = TextFont::add(&mut out, &chars_of(doc));
    let mut kids = Vec::new();
    let mut images = images.map(|v| v.into_iter());
    for p in pages {
        let img = match images.as_mut() {
            Some(it) => Some(it.next().ok_or_else(|| {
                Error::BadImage(format!(
                    "{}: fewer pages than when it was read",
                    doc.source.path
                ))
            })?),
            None => None,
        };
        if let Some(img) = &img {
            let (w0, h0) = source_size(p);
            if (img.width, img.height) != (w0, h0) {
                return Err(Error::BadImage(format!(
                    "{}: the image is {}x{}, the page {w0}x{h0}",
                    doc.source.path, img.width, img.height
                )));
            }
        }
        kids.push(image_page(&mut out, pages_id, &font, p, img));
    }
    set_kids(&mut out, pages_id, kids);
    Ok(out)
}

/// The image of each page of `doc` from its image file, in page order.
fn file_images(path: &Path, kind: Kind, pages: &[&Page]) -> Result<Vec<Image>> {
    let rerr = |e: std::io::Error| Error::Read {
        path: path.to_path_buf(),
        source: e,
    };
    let data = std::fs::read(path).map_err(rerr)?;
    match kind {
        Kind::Jpeg => pages.iter().map(|_| images::jpeg(&data)).collect(),
        Kind::Png => pages.iter().map(|_| images::png(&data)).collect(),
        Kind::Tiff => {
            let mut fax = images::tiff_fax_pages(&data)?;
            // Pages the PDF cannot take as they are: their decoded pixels, stored losslessly.
            let mut wanted: HashMap<usize, ()> = pages
                .iter()
                .map(|p| p.index - 1)
                .filter(|i| fax.get(*i).is_some_and(|f| f.is_none()))
                .map(|i| (i, ()))
                .collect();
            if !wanted.is_empty() {
                let opts = RasterOptions::default();
                raster::for_each_page(path, Kind::Tiff, &opts, &mut |_| {}, &mut |img| {
                    if wanted.remove(&img.index).is_some() {
                        fax[img.index] =
                            Some(images::lossless(img.width, img.height, false, &img.gray));
                    }
                    !wanted.is_empty()
                })?;
            }
            pages
                .iter()
                .map(|p| {
                    fax.get_mut(p.index - 1)
                        .and_then(Option::take)
                        .ok_or_else(|| {
                            Error::BadImage(format!(
                                "{}: fewer pages than when it was read",
                                path.display()
                            ))
                        })
                })
                .collect()
        }
        Kind::Pdf => Err(Error::BadImage("a PDF is not an image file".into())),
    }
}

/// The source PDF's pages, copied by PDFium, and for each page that gets a text layer the map
/// from its displayed pixels (as PDFium rendered it for OCR) to user space.
/// Displayed source pixels → user space, [a b c d e f] as in a PDF matrix.
type PixelMap = [f32; 6];

fn copied_pages(path: &Path, pages: &[&Page]) -> Result<(Vec<u8>, Vec<Option<PixelMap>>)> {
    let pdfium = raster::pdfium(None)?;
    let mut out = pdfium.create_new_pdf().map_err(perr("document"))?;
    let src = pdfium
        .load_pdf_from_file(path, None)
        .map_err(perr("opening the source"))?;
    let mut maps = Vec::new();
    for (dest, p) in pages.iter().enumerate() {
        let e = perr("page");
        out.pages_mut()
            .copy_page_from_document(&src, (p.index - 1) as PdfPageIndex, dest as PdfPageIndex)
            .map_err(&e)?;
        // A page whose text came from the PDF itself (born-digital, or an earlier OCR layer
        // kept) already carries it: copied untouched, no second layer.
        if p.source != "ocr" {
            maps.push(None);
            continue;
        }
        let page = out.pages().get(dest as PdfPageIndex).map_err(&e)?;
        let (w0, h0) = source_size(p);
        let cfg = PdfRenderConfig::new().set_target_size(w0 as i32, h0 as i32);
        let map = crate::textlayer::affine_map(|x, y| {
            page.pixels_to_points(x as i32, y as i32, &cfg)
                .map(|(a, b)| (a.value, b.value))
        })
        .map_err(&e)?;
        maps.push(Some(map));
    }
    let bytes = out.save_to_bytes().map_err(perr("saving"))?;
    Ok((bytes, maps))
}

/// An inheritable page attribute: the page's own, else the nearest ancestor's.
fn inherited(out: &lopdf::Document, page: ObjectId, key: &[u8]) -> Option<Object> {
    let mut node = out.get_dictionary(page).ok();
    for _ in 0..64 {
        let d = node?;
        if let Ok(v) = d.get(key) {
            return Some(v.clone());
        }
        node = d
            .get(b"Parent")
            .and_then(Object::as_reference)
            .and_then(|p| out.get_dictionary(p))
            .ok();
    }
    None
}

/// `dict` itself, or the dictionary it refers to, cloned.
fn owned_dict(out: &lopdf::Document, o: Option<Object>) -> Dictionary {
    match o {
        Some(Object::Dictionary(d)) => d,
        Some(Object::Reference(id)) => out.get_dictionary(id).cloned().unwrap_or_default(),
        _ => Dictionary::new(),
    }
}

/// Lays the text layer over a copied page: its own drawing is wrapped in q … Q (so a state it
/// leaves behind cannot move the text), then the layer is drawn; the font joins a copy of the
/// page's resources, so resources other pages share are not changed.
fn overlay(
    out: &mut lopdf::Document,
    page_id: ObjectId,
    font: &TextFont,
    p: &Page,
    m: PixelMap,
) -> Result<()> {
    let (w0, h0) = source_size(p);
    let t = Affine {
        m,
        rot: p.rotation,
        w0: w0 as f32,
        h0: h0 as f32,
    };
    let layer = out.add_object(compressed(text_layer(font, p, &t)));
    let open = out.add_object(Stream::new(Dictionary::new(), b"q\n".to_vec()));
    let close = out.add_object(Stream::new(Dictionary::new(), b"\nQ\n".to_vec()));
    let old: Vec<Object> = match out
        .get_dictionary(page_id)
        .map_err(lerr("page"))?
        .get(b"Contents")
    {
        Ok(Object::Reference(id)) => match out.get_object(*id) {
            Ok(Object::Array(a)) => a.clone(),
            _ => vec![Object::Reference(*id)],
        },
        Ok(Object::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let mut contents = vec![Object::Reference(open)];
    contents.extend(old);
    contents.push(Object::Reference(close));
    contents.push(Object::Reference(layer));
    let mut resources = owned_dict(out, inherited(out, page_id, b"Resources"));
    let mut fonts = owned_dict(out, resources.get(b"Font").ok().cloned());
    fonts.set(FONT, font.id);
    resources.set("Font", fonts);
    let rotate = inherited(out, page_id, b"Rotate")
        .and_then(|r| r.as_i64().ok())
        .unwrap_or(0);
    let page = out.get_dictionary_mut(page_id).map_err(lerr("page"))?;
    page.set("Contents", contents);
    page.set("Resources", resources);
    if p.rotation.rem_euclid(360) != 0 {
        page.set("Rotate", (rotate + p.rotation as i64).rem_euclid(360));
    }
    Ok(())
}

/// Changes to copied content that PDF/A asks for and that change nothing a reader sees or
/// extracts: image smoothing hints off, identity transfer functions dropped, page-level actions
/// (scripts run on opening) dropped, link annotations (which draw nothing) marked printable.
fn tidy(out: &mut lopdf::Document) {
    for obj in out.objects.values_mut() {
        let d = match obj {
            Object::Stream(s) => &mut s.dict,
            Object::Dictionary(d) => d,
            _ => continue,
        };
        if matches!(d.get(b"Interpolate"), Ok(Object::Boolean(true))) {
            d.set("Interpolate", false);
        }
        for key in [&b"TR"[..], b"TR2"] {
            if matches!(d.get(key).and_then(Object::as_name), Ok(b"Identity")) {
                d.remove(key);
            }
        }
        let ty = d
            .get(b"Type")
            .and_then(Object::as_name)
            .ok()
            .map(<[u8]>::to_vec);
        if ty.as_deref() == Some(b"Page") {
            d.remove(b"AA");
        }
        let link = d.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Link");
        let annot = ty.as_deref() == Some(b"Annot") || d.get(b"Rect").is_ok();
        if link && annot && d.get(b"AP").is_err() {
            let f = d.get(b"F").and_then(Object::as_i64).unwrap_or(0);
            d.set("F", (f | 4) & !(1 | 2 | 32));
        }
    }
}

/// Drops link targets that point outside the document: PDFium copies a page's links, but their
/// destinations still name pages of the source, which readers report as broken.
fn drop_dangling_links(out: &mut lopdf::Document) {
    let pages: std::collections::HashSet<ObjectId> = out.get_pages().into_values().collect();
    // Named destinations are dangling too: the source's name tree is not copied.
    let dangling = |d: &Object| match d {
        Object::Array(a) => match a.first() {
            Some(Object::Reference(id)) => !pages.contains(id),
            Some(Object::Integer(_)) => false,
            _ => true,
        },
        _ => true,
    };
    let mut fixes: Vec<(ObjectId, bool, bool)> = Vec::new();
    for (&id, obj) in &out.objects {
        let Object::Dictionary(d) = obj else { continue };
        if d.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Link") {
            continue;
        }
        let dest = d.get(b"Dest").is_ok_and(dangling);
        let action = d
            .get(b"A")
            .ok()
            .and_then(|a| out.dereference(a).ok())
            .and_then(|(_, a)| a.as_dict().ok())
            .is_some_and(|a| {
                a.get(b"S").and_then(Object::as_name).ok() == Some(b"GoTo")
                    && a.get(b"D").map_or(true, dangling)
            });
        if dest || action {
            fixes.push((id, dest, action));
        }
    }
    for (id, dest, action) in fixes {
        if let Ok(d) = out.get_dictionary_mut(id) {
            if dest {
                d.remove(b"Dest");
            }
            if action {
                d.remove(b"A");
            }
        }
    }
}

/// Stores identical streams once. PDFium copies a page's resources with the page, so an image
/// that several source pages share would be stored once per page (4.4 times the source's size
/// for a 4-page scan with one image); the bytes are the same, so one copy serves them all.
fn dedupe_streams(out: &mut lopdf::Document) {
    // A stream's dictionary can point at another duplicate (a JBIG2 image's globals, an image's
    // soft mask): a few passes settle those.
    for _ in 0..4 {
        let mut first: HashMap<(Vec<u8>, String), ObjectId> = HashMap::new();
        let mut remap: HashMap<ObjectId, ObjectId> = HashMap::new();
        for (&id, obj) in &out.objects {
            if let Object::Stream(s) = obj {
                let key = (Sha256::digest(&s.content).to_vec(), format!("{:?}", s.dict));
                match first.get(&key) {
                    Some(&keep) => {
                        remap.insert(id, keep);
                    }
                    None => {
                        first.insert(key, id);
                    }
                }
            }
        }
        if remap.is_empty() {
            return;
        }
        fn redirect(o: &mut Object, remap: &HashMap<ObjectId, ObjectId>) {
            match o {
                Object::Reference(id) => {
                    if let Some(&k) = remap.get(id) {
                        *id = k;
                    }
                }
                Object::Array(a) => a.iter_mut().for_each(|x| redirect(x, remap)),
                Object::Dictionary(d) => d.iter_mut().for_each(|(_, x)| redirect(x, remap)),
                Object::Stream(s) => s.dict.iter_mut().for_each(|(_, x)| redirect(x, remap)),
                _ => {}
            }
        }
        for id in remap.keys() {
            out.objects.remove(id);
        }
        for o in out.objects.values_mut() {
            redirect(o, &remap);
        }
        out.trailer
            .iter_mut()
            .for_each(|(_, x)| redirect(x, &remap));
    }
}

fn build(doc: &Document, with_images: bool, opts: &PdfOptions) -> Result<Vec<u8>> {
    let mut pages: Vec<&Page> = doc.pages.iter().collect();
    pages.sort_by_key(|p| p.index);
    let mut out = if !with_images {
        image_document(doc, &pages, None)?
    } else {
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
                let (bytes, maps) = copied_pages(path, &pages)?;
                let mut out = lopdf::Document::load_mem(&bytes).map_err(lerr("reading back"))?;
                dedupe_streams(&mut out);
                let font = TextFont::add(&mut out, &chars_of(doc));
                let ids: Vec<ObjectId> = out.get_pages().into_values().collect();
                if ids.len() != pages.len() {
                    return Err(Error::BadPdf(format!(
                        "{}: {} pages copied of {}",
                        path.display(),
                        ids.len(),
                        pages.len()
                    )));
                }
                for ((id, p), m) in ids.into_iter().zip(&pages).zip(maps) {
                    if let Some(m) = m {
                        overlay(&mut out, id, &font, p, m)?;
                    }
                }
                out
            }
            _ => image_document(doc, &pages, Some(file_images(path, kind, &pages)?))?,
        }
    };
    tidy(&mut out);
    drop_dangling_links(&mut out);
    let meta = pdfa::Metadata::of(doc);
    let mut id = [0u8; 16];
    let h = Sha256::digest(format!(
        "{}\n{}\n{}",
        doc.source.sha256, doc.source.path, meta.written
    ));
    id.copy_from_slice(&h[..16]);
    let mut claim = opts.pdfa;
    let intent = pdfa::Intent::for_document(&out);
    pdfa::finish(&mut out, &meta, claim, intent, id);
    if claim {
        let report = pdfa::check(&out);
        if !report.problems.is_empty() {
            log::warn!(
                "{}: written as plain PDF, not PDF/A-2b: {}",
                doc.source.path,
                report.problems.join("; ")
            );
            claim = false;
            pdfa::finish(&mut out, &meta, claim, intent, id);
        }
    }
    out.prune_objects();
    let mut bytes = Vec::new();
    out.save_modern(&mut bytes)
        .map_err(|e| Error::BadPdf(format!("saving the PDF: {e}")))?;
    Ok(bytes)
}

/// The searchable PDF of `doc` (PDF/A-2b when nothing stands against it), built over its source
/// file's pages.
pub fn render(doc: &Document) -> Result<Vec<u8>> {
    build(doc, true, &PdfOptions::default())
}

/// [`render`] with options.
pub fn render_with(doc: &Document, opts: &PdfOptions) -> Result<Vec<u8>> {
    build(doc, true, opts)
}

/// The text layer alone, on blank pages of the pages' sizes (when the source is not at hand).
pub fn render_text_only(doc: &Document) -> Result<Vec<u8>> {
    build(doc, false, &PdfOptions::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_content_streams_are_short_and_plain() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-0.00001), "0");
        assert_eq!(num(12.345678), "12.35");
        assert_eq!(num_p(0.1234567, 3), "0.123");
        assert_eq!(num_p(120.3, 0), "120");
        assert_eq!(num_p(-0.2, 0), "0");
        assert_eq!(num(f32::NAN), "0");
    }

    fn line(words: &[[i32; 4]]) -> Line {
        let mut l = Line::new(crate::doc::union_bbox(words.iter().copied()), 90.0, 0);
        l.words = words
            .iter()
            .map(|&b| crate::doc::Word::new("ab".into(), b, 90.0))
            .collect();
        l
    }

    fn page(lines: Vec<Line>) -> Page {
        Page {
            index: 1,
            width: 3300,
            height: 2550,
            dpi: 300.0,
            source: "ocr".into(),
            source_reason: None,
            overlay: vec![],
            legacy_encoding: None,
            rotation: 0,
            skew: 0.0,
            prep: Default::default(),
            tables: vec![],
            lines,
            timings: Default::default(),
        }
    }

    #[test]
    fn lines_run_the_way_their_words_follow() {
        let down = line(&[[2889, 380, 2939, 555], [2889, 578, 2939, 690]]);
        let up = line(&[[100, 900, 150, 1000], [100, 700, 150, 880]]);
        let right = line(&[[100, 100, 300, 150], [320, 100, 400, 150]]);
        let tall_word = line(&[[2600, 380, 2650, 600]]);
        let square_word = line(&[[2500, 380, 2540, 420]]);
        // On a page of lines running down, one-word lines run down too.
        let p = page(vec![
            down.clone(),
            down.clone(),
            tall_word.clone(),
            square_word.clone(),
        ]);
        assert_eq!(
            Run::of_lines(&p),
            vec![Run::Down, Run::Down, Run::Down, Run::Down]
        );
        // On a page of ordinary lines, a tall word runs down only when it has the letters for it.
        let p = page(vec![right.clone(), right, up, tall_word, square_word]);
        assert_eq!(
            Run::of_lines(&p),
            vec![Run::Right, Run::Right, Run::Up, Run::Down, Run::Right]
        );
    }

    #[test]
    fn identical_streams_are_stored_once() {
        let (mut out, pages_id) = new_document();
        let img = || Stream::new(dictionary! { "Subtype" => "Image" }, vec![1, 2, 3]);
        let (a, b) = (out.add_object(img()), out.add_object(img()));
        let pa = out.add_object(dictionary! { "XObject" => dictionary! { "I" => a } });
        let pb = out.add_object(dictionary! { "XObject" => dictionary! { "I" => b } });
        set_kids(&mut out, pages_id, vec![]);
        dedupe_streams(&mut out);
        let target = |p: ObjectId| {
            out.get_dictionary(p)
                .unwrap()
                .get(b"XObject")
                .unwrap()
                .as_dict()
                .unwrap()
                .get(b"I")
                .unwrap()
                .as_reference()
                .unwrap()
        };
        assert_eq!(target(pa), target(pb));
    }
}

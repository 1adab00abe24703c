//! The text a PDF page already has, and what to do with it.
//!
//! Archives are not only scans: pages made in Word carry their exact text; pages OCR'd before
//! carry an invisible layer (often poor: an English model's, without Vietnamese marks); scans
//! published by the government portal carry a small visible overlay (the digital-signature
//! appearance, a stamp's text, a page number) over a page that is otherwise an image. Reading
//! the text layer takes a few milliseconds with PDFium's text API; rasterising and OCRing takes
//! seconds. [`read_page`] reads a page's glyphs with their boxes and what else is on the page
//! (how much of it images cover); [`decide`] picks the source of the page's text by [`Mode`].
//!
//! Glyphs become the same lines, words and boxes as OCR gives (page pixels at the render
//! resolution, origin top-left), so `structure` and the emitters read them as they read a scan:
//! words are runs of glyphs without a space or a gap, lines are words sharing a baseline band
//! (both columns of a two-column header on one line, as Tesseract often reads them; `structure`
//! cuts lines at wide gaps), in reading order top to bottom, left to right. Text in a legacy
//! font (TCVN3, VNI) is converted to Unicode ([`crate::legacy`]).

use crate::doc::{Line, Word};
use crate::legacy::{self, Encoding};
use pdfium_render::prelude::*;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// What to do with pages that already have text, as OCRmyPDF's `--skip-text`, `--redo-ocr` and
/// `--force-ocr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Take good text; OCR the rest; redo an earlier OCR layer that is poor.
    #[default]
    Auto,
    /// Never touch a page that has text (a vector text page or an earlier OCR layer).
    Skip,
    /// OCR again pages under an invisible (earlier OCR) text layer; take vector text.
    Redo,
    /// OCR every page, whatever text it has.
    Force,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Skip => "skip",
            Mode::Redo => "redo",
            Mode::Force => "force",
        }
    }
}

/// What a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PageKind {
    /// Text drawn as text (a born-digital page).
    Vector,
    /// An image and no text: a scan.
    Scan,
    /// An image under an invisible text layer: a scan OCR'd before.
    ScanWithLayer,
    /// An image with a little visible text over it: signature appearance, stamp, page number.
    ScanWithOverlay,
    /// Neither text nor images (blank, or text drawn as outlines).
    Empty,
}

/// Where a page's text comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The page's vector text, taken as it is (exact: not restored).
    Text,
    /// OCR of the rendered page.
    Ocr,
    /// An earlier OCR layer, kept (and restored like OCR text when `restore` is set).
    Layer,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Text => "text",
            Source::Ocr => "ocr",
            Source::Layer => "layer",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub source: Source,
    /// Restore the kept layer (only for [`Source::Layer`]).
    pub restore: bool,
    /// Why, in words, for the JSON and the logs.
    pub reason: String,
}

/// A page's text layer, read and measured.
#[derive(Debug, Clone)]
pub struct PageText {
    /// The size the page renders to at `dpi` (what OCR would see), and the resolution.
    pub width: u32,
    pub height: u32,
    pub dpi: f32,
    pub kind: PageKind,
    /// Share of the page's area under images (0-1).
    pub image_cover: f32,
    /// Non-space glyphs drawn visibly, and invisibly (render mode 3: an OCR layer).
    pub visible_chars: usize,
    pub invisible_chars: usize,
    /// Share of the page's area under the visible text's lines (0-1).
    pub text_cover: f32,
    /// Visible text, in lines (NFC, legacy encodings converted).
    pub visible: Vec<Line>,
    /// Invisible text (an earlier OCR layer), in lines.
    pub invisible: Vec<Line>,
    /// The legacy encoding the text was converted from, if any.
    pub legacy: Option<Encoding>,
}

/// Images covering at least this share of a page make it a scan.
const SCAN_IMAGE_COVER: f32 = 0.5;
/// Visible text over a scan is an overlay (signature appearance, stamp, page number) while its
/// lines cover less than this share of the page and it has fewer than [`OVERLAY_MAX_CHARS`].
/// A born-digital page's lines cover 15-35 % of it; the portal's signature box about 1 %.
const OVERLAY_MAX_COVER: f32 = 0.08;
const OVERLAY_MAX_CHARS: usize = 400;

#[derive(Debug, Clone)]
struct Glyph {
    c: char,
    /// [x0, y0, x1, y1] in page pixels.
    b: [f32; 4],
    invisible: bool,
    legacy: Option<(Encoding, bool)>,
}

/// Read the text layer of `page`, measured in pixels at `dpi`.
pub fn read_page(page: &PdfPage, dpi: f32) -> Result<PageText, PdfiumError> {
    let (wpt, hpt) = (page.width().value.abs(), page.height().value.abs());
    let px = |v: f32| (v / 72.0 * dpi).round().max(1.0);
    // The size render_page gives a page of this size (its /Rotate included).
    let (w, h) = (px(wpt) as i32, px(hpt) as i32);
    let cfg = PdfRenderConfig::new().set_target_size(w, h);
    // Page space → pixels, as PDFium renders (crop box and /Rotate included): an affine map
    // found from three points.
    let m = affine_map(|x, y| {
        page.points_to_pixels(PdfPoints::new(x), PdfPoints::new(y), &cfg)
            .map(|(a, b)| (a as f32, b as f32))
    })?;
    let to_px = |r: &PdfRect| -> [f32; 4] {
        let pts = [
            (r.left().value, r.bottom().value),
            (r.right().value, r.top().value),
        ];
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for (x, y) in pts
            .iter()
            .flat_map(|&(xa, ya)| [(xa, ya), (pts[1].0, pts[0].1), (pts[0].0, pts[1].1)])
        {
            let (u, v) = (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]);
            x0 = x0.min(u);
            y0 = y0.min(v);
            x1 = x1.max(u);
            y1 = y1.max(v);
        }
        [x0, y0, x1, y1]
    };

    let page_area = (w as f32) * (h as f32);
    let mut image_area = 0.0f32;
    for obj in page.objects().iter() {
        image_area += image_area_of(&obj, &to_px, 0);
    }
    let image_cover = (image_area / page_area).min(1.0);

    let text = page.text()?;
    let mut glyphs = Vec::with_capacity(text.len().max(0) as usize);
    let mut last_font: Option<(String, Option<(Encoding, bool)>)> = None;
    for ch in text.chars().iter() {
        let Some(c) = ch.unicode_char() else { continue };
        if c.is_whitespace() || c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' {
            glyphs.push(Glyph {
                c: ' ',
                b: [0.0; 4],
                invisible: false,
                legacy: None,
            });
            continue;
        }
        let Ok(r) = ch.loose_bounds() else { continue };
        let invisible = matches!(ch.render_mode(), Ok(PdfPageTextRenderMode::Invisible));
        let font = ch.font_name();
        let legacy = match &last_font {
            Some((name, l)) if *name == font => *l,
            _ => {
                let l = legacy::font_encoding(&font);
                last_font = Some((font, l));
                l
            }
        };
        // TCVN3's ư is the soft hyphen's code, which PDFium gives as '-' but flags as a hyphen.
        let c = if c == '-'
            && matches!(legacy, Some((Encoding::Tcvn3, _)))
            && ch.is_hyphen().unwrap_or(false)
        {
            '\u{ad}'
        } else {
            c
        };
        glyphs.push(Glyph {
            c,
            b: to_px(&r),
            invisible,
            legacy,
        });
    }
    let visible_chars = glyphs.iter().filter(|g| g.c != ' ' && !g.invisible).count();
    let invisible_chars = glyphs.iter().filter(|g| g.c != ' ' && g.invisible).count();
    let (mut visible, vis_legacy) = lines_of(&glyphs, false);
    let (invisible, inv_legacy) = lines_of(&glyphs, true);
    let text_cover = visible
        .iter()
        .map(|l| ((l.bbox[2] - l.bbox[0]) as f32) * ((l.bbox[3] - l.bbox[1]) as f32))
        .sum::<f32>()
        / page_area;
    let kind = if visible_chars + invisible_chars == 0 {
        if image_cover > 0.0 {
            PageKind::Scan
        } else {
            PageKind::Empty
        }
    } else if image_cover >= SCAN_IMAGE_COVER {
        if invisible_chars > visible_chars {
            PageKind::ScanWithLayer
        } else if text_cover < OVERLAY_MAX_COVER && visible_chars < OVERLAY_MAX_CHARS {
            PageKind::ScanWithOverlay
        } else {
            PageKind::Vector
        }
    } else if visible_chars == 0 {
        // Invisible text alone, no image: a layer over nothing OCR could read.
        PageKind::ScanWithLayer
    } else {
        PageKind::Vector
    };
    // Fonts that do not say they are legacy may still be (renamed by a converter): judge the
    // visible text itself.
    let mut legacy_enc = vis_legacy.or(inv_legacy);
    if legacy_enc.is_none() && kind == PageKind::Vector {
        let all: String = visible.iter().map(|l| l.text.clone() + "\n").collect();
        if let Some(enc) = legacy::detect(&all) {
            for l in &mut visible {
                for wd in &mut l.words {
                    wd.text = legacy::to_unicode(&wd.ocr_text, enc, false);
                }
                l.refresh_text();
            }
            legacy_enc = Some(enc);
        }
    }
    Ok(PageText {
        width: w as u32,
        height: h as u32,
        dpi,
        kind,
        image_cover,
        visible_chars,
        invisible_chars,
        text_cover,
        visible,
        invisible,
        legacy: legacy_enc,
    })
}

/// The affine map `[a b c d e f]` (as in a PDF matrix) that `at` follows, found from where it
/// takes three points. PDFium converts between page space and pixels one point at a time; the
/// text layers need the whole map (to place glyph boxes, or a page's words).
pub(crate) fn affine_map<E>(at: impl Fn(f32, f32) -> Result<(f32, f32), E>) -> Result<[f32; 6], E> {
    // Far apart, so that rounding to whole pixels costs nothing that matters.
    let span = 1000.0;
    let (o, ax, ay) = (at(0.0, 0.0)?, at(span, 0.0)?, at(0.0, span)?);
    Ok([
        (ax.0 - o.0) / span,
        (ax.1 - o.1) / span,
        (ay.0 - o.0) / span,
        (ay.1 - o.1) / span,
        o.0,
        o.1,
    ])
}

/// Area in pixels² under image objects, looking into form XObjects (Word and scanners often
/// wrap the page image in one).
fn image_area_of(obj: &PdfPageObject, to_px: &dyn Fn(&PdfRect) -> [f32; 4], depth: u32) -> f32 {
    match obj.object_type() {
        PdfPageObjectType::Image => obj
            .bounds()
            .map(|q| {
                let b = to_px(&q.to_rect());
                (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
            })
            .unwrap_or(0.0),
        PdfPageObjectType::XObjectForm if depth < 4 => obj
            .as_x_object_form_object()
            .map(|f| f.iter().map(|o| image_area_of(&o, to_px, depth + 1)).sum())
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Glyphs (visible or invisible ones) to lines of words, in reading order. Returns the legacy
/// encoding converted from, if any.
fn lines_of(glyphs: &[Glyph], invisible: bool) -> (Vec<Line>, Option<Encoding>) {
    // Words: runs of glyphs in content order, cut at spaces, at gaps wider than a third of the
    // glyph height, and where the text jumps to another line or back.
    let mut words: Vec<(Vec<&Glyph>, [f32; 4])> = Vec::new();
    let mut cur: Vec<&Glyph> = Vec::new();
    let mut cb = [0.0f32; 4];
    fn flush<'g>(
        cur: &mut Vec<&'g Glyph>,
        cb: [f32; 4],
        words: &mut Vec<(Vec<&'g Glyph>, [f32; 4])>,
    ) {
        if !cur.is_empty() {
            words.push((std::mem::take(cur), cb));
        }
    }
    for g in glyphs {
        if g.c == ' ' {
            flush(&mut cur, cb, &mut words);
            continue;
        }
        if g.invisible != invisible {
            continue;
        }
        if let Some(prev) = cur.last() {
            let h = (prev.b[3] - prev.b[1]).max(g.b[3] - g.b[1]).max(1.0);
            let overlap = prev.b[3].min(g.b[3]) - prev.b[1].max(g.b[1]);
            let gap = g.b[0] - prev.b[2];
            let same_line = overlap > 0.4 * h.min((g.b[3] - g.b[1]).max(1.0));
            if !same_line || gap > h / 3.0 || g.b[2] < prev.b[0] {
                flush(&mut cur, cb, &mut words);
            }
        }
        if cur.is_empty() {
            cb = g.b;
        } else {
            cb = union(cb, g.b);
        }
        cur.push(g);
    }
    flush(&mut cur, cb, &mut words);

    let mut used_legacy = None;
    let mut made: Vec<Word> = Vec::with_capacity(words.len());
    for (gs, b) in &words {
        let raw: String = gs.iter().map(|g| g.c).collect();
        // Runs of one legacy font are converted together (VNI's marks follow their letter).
        let mut text = String::new();
        let mut i = 0;
        while i < gs.len() {
            let l = gs[i].legacy;
            let j = (i..gs.len())
                .find(|&k| gs[k].legacy != l)
                .unwrap_or(gs.len());
            let run: String = gs[i..j].iter().map(|g| g.c).collect();
            match l {
                Some((enc, caps)) => {
                    text.push_str(&legacy::to_unicode(&run, enc, caps));
                    used_legacy = Some(enc);
                }
                None => text.push_str(&run),
            }
            i = j;
        }
        let text: String = text.nfc().collect();
        let raw: String = raw.nfc().collect();
        let mut w = Word::new(text, ibox(*b), 100.0);
        w.ocr_text = raw;
        made.push(w);
    }

    // Lines: words whose boxes share most of their height, left to right; lines top to bottom.
    made.sort_by(|a, b| (a.bbox[1] + a.bbox[3]).cmp(&(b.bbox[1] + b.bbox[3])));
    let mut lines: Vec<Line> = Vec::new();
    for w in made {
        let wh = (w.bbox[3] - w.bbox[1]).max(1);
        let found = lines.iter_mut().rev().take(8).find(|l| {
            let lh = (l.bbox[3] - l.bbox[1]).max(1);
            let overlap = l.bbox[3].min(w.bbox[3]) - l.bbox[1].max(w.bbox[1]);
            overlap * 2 > lh.min(wh)
        });
        match found {
            Some(l) => {
                l.bbox = iunion(l.bbox, w.bbox);
                l.words.push(w);
            }
            None => {
                let mut l = Line::new(w.bbox, 100.0, 0);
                l.words.push(w);
                lines.push(l);
            }
        }
    }
    for l in &mut lines {
        l.words.sort_by_key(|w| w.bbox[0]);
        l.refresh_text();
    }
    lines.sort_by_key(|l| (l.bbox[1], l.bbox[0]));
    // Blocks: a new one after a vertical gap of more than a line's height.
    let mut block = 0u32;
    let mut prev_bottom: Option<i32> = None;
    for l in &mut lines {
        let lh = l.bbox[3] - l.bbox[1];
        if prev_bottom.is_some_and(|b| l.bbox[1] - b > lh) {
            block += 1;
        }
        l.block = block;
        prev_bottom = Some(prev_bottom.map_or(l.bbox[3], |b| b.max(l.bbox[3])));
    }
    (lines, used_legacy)
}

fn union(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

fn iunion(a: [i32; 4], b: [i32; 4]) -> [i32; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

fn ibox(b: [f32; 4]) -> [i32; 4] {
    [
        b[0].floor() as i32,
        b[1].floor() as i32,
        b[2].ceil() as i32,
        b[3].ceil() as i32,
    ]
}

/// An earlier OCR layer is good enough to keep when most of its words are valid Vietnamese
/// syllables and it has Vietnamese marks: an English model's layer has almost none.
pub fn layer_is_good(lines: &[Line]) -> (bool, legacy::SyllableStats) {
    let text: String = lines.iter().map(|l| l.text.clone() + "\n").collect();
    let s = legacy::syllable_stats(&text);
    (
        s.tokens >= 5 && s.valid_ratio() >= 0.7 && s.marked_ratio() >= 0.25,
        s,
    )
}

/// The source of a page's text under `mode`, and why.
pub fn decide(t: &PageText, mode: Mode) -> Decision {
    let d = |source, restore, reason: String| Decision {
        source,
        restore,
        reason,
    };
    let cover = format!(
        "{} glyphs, images cover {:.0} % of the page",
        t.visible_chars + t.invisible_chars,
        t.image_cover * 100.0
    );
    match (t.kind, mode) {
        (_, Mode::Force) => d(
            Source::Ocr,
            false,
            format!("force: OCR every page ({cover})"),
        ),
        (PageKind::Vector, _) => d(
            Source::Text,
            false,
            format!("vector text covers the page ({cover})"),
        ),
        (PageKind::Scan, _) => d(Source::Ocr, false, format!("image only ({cover})")),
        (PageKind::Empty, _) => d(Source::Ocr, false, "no text and no image".into()),
        (PageKind::ScanWithOverlay, _) => d(
            Source::Ocr,
            false,
            format!("image with a small text overlay, kept apart ({cover})"),
        ),
        (PageKind::ScanWithLayer, Mode::Skip) => d(
            Source::Layer,
            false,
            "skip: an earlier OCR layer, kept as it is".into(),
        ),
        (PageKind::ScanWithLayer, Mode::Redo) => d(
            Source::Ocr,
            false,
            "redo: an earlier OCR layer, OCR'd again".into(),
        ),
        (PageKind::ScanWithLayer, Mode::Auto) => {
            let (good, s) = layer_is_good(&t.invisible);
            let stats = format!(
                "{} words, {:.0} % valid syllables, {:.0} % with Vietnamese marks",
                s.tokens,
                s.valid_ratio() * 100.0,
                s.marked_ratio() * 100.0
            );
            if good {
                d(
                    Source::Layer,
                    true,
                    format!("earlier OCR layer kept ({stats})"),
                )
            } else {
                d(
                    Source::Ocr,
                    false,
                    format!("earlier OCR layer is poor, OCR'd again ({stats})"),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(kind: PageKind, layer: &str) -> PageText {
        let mut l = Line::new([0, 0, 10, 10], 100.0, 0);
        l.words = layer
            .split_whitespace()
            .map(|w| Word::new(w.into(), [0, 0, 10, 10], 100.0))
            .collect();
        l.refresh_text();
        PageText {
            width: 100,
            height: 100,
            dpi: 300.0,
            kind,
            image_cover: 1.0,
            visible_chars: 0,
            invisible_chars: 100,
            text_cover: 0.0,
            visible: vec![],
            invisible: vec![l],
            legacy: None,
        }
    }

    #[test]
    fn modes_decide_as_ocrmypdf_users_expect() {
        let v = page(PageKind::Vector, "");
        assert_eq!(decide(&v, Mode::Auto).source, Source::Text);
        assert_eq!(decide(&v, Mode::Skip).source, Source::Text);
        assert_eq!(decide(&v, Mode::Redo).source, Source::Text);
        assert_eq!(decide(&v, Mode::Force).source, Source::Ocr);
        let o = page(PageKind::ScanWithOverlay, "");
        for m in [Mode::Auto, Mode::Skip, Mode::Redo, Mode::Force] {
            assert_eq!(decide(&o, m).source, Source::Ocr, "{m:?}");
        }
        let good = page(
            PageKind::ScanWithLayer,
            "Kế hoạch thực hiện Nghị quyết của Tỉnh ủy về công tác",
        );
        let bad = page(
            PageKind::ScanWithLayer,
            "Ke hoach thuc hien Nghi quyet cua Tinh uy ve cong tac",
        );
        assert_eq!(decide(&good, Mode::Auto).source, Source::Layer);
        assert!(decide(&good, Mode::Auto).restore);
        assert_eq!(decide(&bad, Mode::Auto).source, Source::Ocr);
        assert_eq!(decide(&bad, Mode::Skip).source, Source::Layer);
        assert!(!decide(&bad, Mode::Skip).restore);
        assert_eq!(decide(&good, Mode::Redo).source, Source::Ocr);
    }
}

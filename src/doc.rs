//! The values that flow between stages and the JSON schema `sohoa/1` (docs/schema.md).

use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "sohoa/1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Word {
    /// Restored text (equal to `ocr_text` when restoration is off or changed nothing).
    pub text: String,
    /// What Tesseract read.
    pub ocr_text: String,
    /// [x0, y0, x1, y1] in page pixels, origin top-left.
    pub bbox: [i32; 4],
    /// Tesseract's confidence, 0-100.
    pub conf: f32,
    /// The restoration model's confidence in `text`, 0-1 (absent when not restored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_conf: Option<f32>,
}

impl Word {
    pub fn new(text: String, bbox: [i32; 4], conf: f32) -> Word {
        Word {
            ocr_text: text.clone(),
            text,
            bbox,
            conf,
            restore_conf: None,
        }
    }

    /// Take in the word that follows it on the line, as one token: texts joined, boxes united,
    /// the lesser confidence ("707" + "/QĐ-TTg", "b" + "ộ,").
    pub fn absorb(&mut self, next: Word) {
        self.text.push_str(&next.text);
        self.ocr_text.push_str(&next.ocr_text);
        self.bbox = union_bbox([self.bbox, next.bbox]);
        self.conf = self.conf.min(next.conf);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Line {
    pub text: String,
    pub ocr_text: String,
    pub bbox: [i32; 4],
    pub conf: f32,
    /// Tesseract's text block (column or paragraph group) the line belongs to.
    pub block: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_conf: Option<f32>,
    pub words: Vec<Word>,
}

impl Line {
    pub fn new(bbox: [i32; 4], conf: f32, block: u32) -> Line {
        Line {
            text: String::new(),
            ocr_text: String::new(),
            bbox,
            conf,
            block,
            restore_conf: None,
            words: Vec::new(),
        }
    }

    /// Recompute the line's text from its words.
    pub fn refresh_text(&mut self) {
        self.text = join(self.words.iter().map(|w| w.text.as_str()));
        self.ocr_text = join(self.words.iter().map(|w| w.ocr_text.as_str()));
    }
}

/// The smallest box holding all of `boxes` ([x0, y0, x1, y1]); with none, an empty box
/// (x0 > x1) that any union absorbs.
pub fn union_bbox(boxes: impl IntoIterator<Item = [i32; 4]>) -> [i32; 4] {
    boxes
        .into_iter()
        .fold([i32::MAX, i32::MAX, i32::MIN, i32::MIN], |b, x| {
            [
                b[0].min(x[0]),
                b[1].min(x[1]),
                b[2].max(x[2]),
                b[3].max(x[3]),
            ]
        })
}

/// Words joined by single spaces.
pub fn join<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(" ")
}

/// Milliseconds spent in each stage (for one page, or summed over a document).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    pub rasterise_ms: f64,
    pub clean_ms: f64,
    pub ocr_ms: f64,
    pub restore_ms: f64,
    pub structure_ms: f64,
    pub emit_ms: f64,
}

impl Timings {
    pub fn add(&mut self, o: &Timings) {
        self.rasterise_ms += o.rasterise_ms;
        self.clean_ms += o.clean_ms;
        self.ocr_ms += o.ocr_ms;
        self.restore_ms += o.restore_ms;
        self.structure_ms += o.structure_ms;
        self.emit_ms += o.emit_ms;
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Page {
    /// 1-based page number.
    pub index: usize,
    pub width: u32,
    pub height: u32,
    pub dpi: f32,
    /// Where the text came from: "ocr" (Tesseract on the rendered page), "text" (the PDF's
    /// vector text, taken as it is) or "layer" (an earlier OCR layer of the PDF, kept).
    pub source: String,
    /// Why that source was chosen (`--mode` and what the page holds), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_reason: Option<String>,
    /// Text drawn over a scanned page (digital-signature appearance, stamp text, page number),
    /// kept apart from the OCR'd lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlay: Vec<Line>,
    /// The pre-Unicode encoding the page's PDF text was converted from: "tcvn3" or "vni".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_encoding: Option<String>,
    /// Clockwise rotation (degrees) applied before OCR, and the deskew angle undone.
    #[serde(default)]
    pub rotation: i32,
    #[serde(default)]
    pub skew: f32,
    /// How the image was prepared: `dpi_source`, `clean`, `regions` (flattened into the page).
    #[serde(flatten)]
    pub prep: Preparation,
    /// Ruled tables found on the page; their words are in `lines` cell by cell, row by row
    /// (src/layout.rs). Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<crate::layout::Table>,
    pub lines: Vec<Line>,
    pub timings: Timings,
}

/// How a page image was prepared for OCR (docs/schema.md): where its resolution came from, what
/// clean-up did, and the parts taken as seals, stamps or signatures and left out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Preparation {
    /// Always set by sohoa; absent only in JSON written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpi_source: Option<crate::dpi::DpiSource>,
    /// `None` when clean-up was off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean: Option<crate::clean::CleanReport>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<crate::inks::Region>,
}

impl Page {
    /// A page read by OCR (`source` "ocr"), upright and unprepared, with no tables, overlay or
    /// timings: the common case that callers adjust with struct update syntax.
    pub fn new(index: usize, width: u32, height: u32, dpi: f32, lines: Vec<Line>) -> Page {
        Page {
            index,
            width,
            height,
            dpi,
            source: "ocr".into(),
            source_reason: None,
            overlay: Vec::new(),
            legacy_encoding: None,
            rotation: 0,
            skew: 0.0,
            prep: Preparation::default(),
            tables: Vec::new(),
            lines,
            timings: Timings::default(),
        }
    }

    /// The page's text, one OCR line per line.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(&l.text);
            s.push('\n');
        }
        s
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EngineInfo {
    pub sohoa: String,
    pub tesseract: String,
    pub lang: String,
    pub tessdata: String,
    /// Restoration model (file name and sha256 prefix), absent when restoration is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_model: Option<String>,
    /// Tesseract variables set on the engines: sohoa's speed settings, then `--tess-var`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tesseract_vars: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    pub schema: String,
    pub source: crate::input::SourceInfo,
    pub engine: EngineInfo,
    pub pages: Vec<Page>,
    /// Administrative fields (issuer, number, date, …); null when not found.
    #[serde(default)]
    pub document: Option<crate::fields::Fields>,
    pub timings: Timings,
}

impl Document {
    /// Sidecar text: pages separated by a form feed, like Tesseract's and OCRmyPDF's.
    pub fn text(&self) -> String {
        self.pages
            .iter()
            .map(Page::text)
            .collect::<Vec<_>>()
            .join("\u{c}")
    }
}

//! The `document` object of the schema `sohoa/1` (docs/structure.md): the administrative fields
//! that `structure` reads and `doc::Document` carries. They live here, below both, so that data
//! flows one way: `doc` and `structure` import these types, and this module imports neither
//! (when `doc` named `structure::Fields` and `structure` named `doc::Page`, each imported the
//! other).

use serde::{Deserialize, Serialize};

/// Where a field was read: 1-based page, 0-based line indices on that page, and a confidence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Field<T> {
    pub value: T,
    pub page: usize,
    pub lines: Vec<usize>,
    pub conf: f32,
}

/// The signature block: "T/M BAN THƯỜNG VỤ" / "PHÓ BÍ THƯ" / "Lê Hồng Khánh".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Signer {
    /// Signing on behalf ("T/M BAN THƯỜNG VỤ", "TM. ỦY BAN NHÂN DÂN, KT. CHỦ TỊCH").
    pub authority: Option<Field<String>>,
    /// The signer's position ("PHÓ BÍ THƯ", "CHỦ TỊCH").
    pub title: Option<Field<String>>,
    pub name: Option<Field<String>>,
}

/// Lines `first..=last` of one page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LineSpan {
    pub page: usize,
    pub first: usize,
    pub last: usize,
}

/// A heading of the body and what follows it up to the next heading.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Section {
    /// The heading's number, normalised: "II", "2", "2.1", "a", "5" (Điều 5), "I" (Chương I).
    pub label: String,
    /// "roman", "number", "decimal", "letter", "part", "chapter", "section" (Mục), "article" (Điều).
    pub kind: String,
    /// Depth in the tree, 1 for top-level sections.
    pub level: usize,
    /// The heading as read ("II. MỤC TIÊU, NHIỆM VỤ VÀ GIẢI PHÁP").
    pub heading: String,
    /// The heading without its number and trailing colon ("MỤC TIÊU, NHIỆM VỤ VÀ GIẢI PHÁP").
    pub title: String,
    pub page: usize,
    /// Lines of the heading on `page`.
    pub lines: Vec<usize>,
    pub conf: f32,
    /// The section's own text (up to its first subsection), one OCR line per line.
    pub text: String,
    /// Where `text` was read.
    pub text_lines: Vec<LineSpan>,
    pub children: Vec<Section>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Fields {
    /// "ĐẢNG CỘNG SẢN VIỆT NAM", or "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" + "Độc lập - Tự do - Hạnh phúc".
    pub national_header: Option<Field<Vec<String>>>,
    /// The issuing body, one line per line, parent body first.
    pub issuer: Option<Field<Vec<String>>>,
    /// "152-KH/HU", "101/KH-UBND".
    pub number: Option<Field<String>>,
    pub place: Option<Field<String>>,
    /// ISO 8601 (YYYY-MM-DD).
    pub date: Option<Field<String>>,
    #[serde(rename = "type")]
    pub doc_type: Option<Field<String>>,
    /// Trích yếu: the lines under the type (or the "V/v" lines of a letter), joined by spaces.
    pub summary: Option<Field<String>>,
    pub signer: Option<Signer>,
    /// The "Nơi nhận" list, one entry per recipient, without the dash and final punctuation.
    pub recipients: Option<Field<Vec<String>>>,
    /// The heading tree of the body.
    pub sections: Option<Vec<Section>>,
}

//! Structure: administrative fields of Vietnamese State and Party documents, read from the
//! restored text. A field that is not found is `None` (JSON null), never guessed.
//!
//! The layouts are those of Decree 30/2020/NĐ-CP (State) and Guidance 36-HD/VPTW (Party): a
//! two-column header (issuing body and number on the left; national header, place and date on
//! the right), the document type centred below it with the summary (trích yếu) under it, the body
//! with its numbered headings, and a closing block with the recipients ("Nơi nhận") on the left
//! and the signature on the right. Tesseract may read the two columns in either order or merge
//! them into one line, so the header and the closing block are cut into column segments by the
//! gaps between word boxes, and placed by x position, before anything is read from them.
//! Keywords are matched on text folded to unaccented capitals with a small edit distance, so OCR
//! noise and wrong diacritics do not hide them; values are taken from the restored text.
//! docs/structure.md describes the fields and the rules.

use crate::doc::{Document, Line, Page};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

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

// ---------------------------------------------------------------------------------------------
// Text helpers

/// Unaccented capitals: "Hạnh phúc" → "HANH PHUC", "Đ" → "D".
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'D',
            _ => c,
        })
        .collect::<String>()
        .to_uppercase()
}

/// Folded letters and digits only, for fuzzy keyword matching.
fn key(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// 1 − normalised edit distance.
fn sim(a: &str, b: &str) -> f32 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let n = a.len().max(b.len());
    if n == 0 {
        return 1.0;
    }
    1.0 - levenshtein(&a, &b) as f32 / n as f32
}

/// Share of the letters that are capitals (0 when there are none).
fn upper_ratio(s: &str) -> f32 {
    let (mut up, mut all) = (0, 0);
    for c in s.chars().filter(|c| c.is_alphabetic()) {
        all += 1;
        if c.is_uppercase() {
            up += 1;
        }
    }
    if all == 0 {
        0.0
    } else {
        up as f32 / all as f32
    }
}

fn letters(s: &str) -> usize {
    s.chars().filter(|c| c.is_alphabetic()).count()
}

/// Rules and ornaments: "*", "-----", "___", "o0o".
fn is_separator(s: &str) -> bool {
    let t = s.trim();
    if t.is_empty() {
        return true;
    }
    if !t.chars().any(|c| c.is_alphanumeric()) {
        return true;
    }
    let k = key(t);
    k == "O0O" || k == "OOO"
}

fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '–' | '—' | '−' | '_' | '~' | '•' | '+' | '*' | '·' | '‒'
    )
}

fn r3(x: f32) -> f32 {
    (x.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

fn trim_punct(s: &str) -> &str {
    s.trim().trim_end_matches([';', ',', '.', ':', ' ']).trim()
}

// ---------------------------------------------------------------------------------------------
// Words, segments and page geometry

#[derive(Debug, Clone)]
struct Tok {
    text: String,
    ocr: String,
    bbox: [i32; 4],
    conf: f32,
}

/// A run of words of one line that belong together: the whole line, or one column of it.
#[derive(Debug, Clone)]
struct Seg {
    page: usize,
    line: usize,
    toks: Vec<Tok>,
}

impl Seg {
    fn text(&self) -> String {
        self.toks
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
    fn ocr(&self) -> String {
        self.toks
            .iter()
            .map(|t| t.ocr.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
    fn bbox(&self) -> [i32; 4] {
        if self.toks.is_empty() {
            [0; 4]
        } else {
            crate::doc::union_bbox(self.toks.iter().map(|t| t.bbox))
        }
    }
    fn cx(&self) -> f32 {
        let b = self.bbox();
        (b[0] + b[2]) as f32 / 2.0
    }
    fn cy(&self) -> f32 {
        let b = self.bbox();
        (b[1] + b[3]) as f32 / 2.0
    }
    /// Mean OCR confidence, 0-1.
    fn conf(&self) -> f32 {
        if self.toks.is_empty() {
            return 0.0;
        }
        self.toks
            .iter()
            .map(|t| t.conf.clamp(0.0, 100.0))
            .sum::<f32>()
            / self.toks.len() as f32
            / 100.0
    }
    /// The larger capital share of the restored and the OCR text.
    fn upper(&self) -> f32 {
        upper_ratio(&self.text()).max(upper_ratio(&self.ocr()))
    }
    fn split_at(&self, k: usize) -> (Seg, Seg) {
        let a = Seg {
            page: self.page,
            line: self.line,
            toks: self.toks[..k].to_vec(),
        };
        let b = Seg {
            page: self.page,
            line: self.line,
            toks: self.toks[k..].to_vec(),
        };
        (a, b)
    }
    fn tail(&self, k: usize) -> Seg {
        Seg {
            page: self.page,
            line: self.line,
            toks: self.toks[k.min(self.toks.len())..].to_vec(),
        }
    }
}

fn line_toks(l: &Line) -> Vec<Tok> {
    if l.words.is_empty() {
        return l
            .text
            .split_whitespace()
            .map(|w| Tok {
                text: w.into(),
                ocr: w.into(),
                bbox: l.bbox,
                conf: l.conf,
            })
            .collect();
    }
    let mut ws: Vec<Tok> = l
        .words
        .iter()
        .filter(|w| !w.text.trim().is_empty())
        .map(|w| Tok {
            text: w.text.trim().into(),
            ocr: w.ocr_text.trim().into(),
            bbox: w.bbox,
            conf: w.conf,
        })
        .collect();
    ws.sort_by_key(|t| t.bbox[0]);
    ws
}

/// Page geometry: the text column's edges and the usual line height.
#[derive(Debug, Clone, Copy)]
struct Geo {
    w: f32,
    h: f32,
    left: f32,
    right: f32,
    lh: f32,
}

impl Geo {
    fn of(p: &Page) -> Geo {
        let (w, h) = (p.width.max(1) as f32, p.height.max(1) as f32);
        let mut x0s: Vec<f32> = Vec::new();
        let mut x1s: Vec<f32> = Vec::new();
        let mut hs: Vec<f32> = Vec::new();
        for l in &p.lines {
            let lw = (l.bbox[2] - l.bbox[0]) as f32;
            let lh = (l.bbox[3] - l.bbox[1]) as f32;
            if lh > 0.0 && letters(&l.text) >= 3 {
                hs.push(lh);
            }
            if lw > 0.5 * w {
                x0s.push(l.bbox[0] as f32);
                x1s.push(l.bbox[2] as f32);
            }
        }
        let pct = |v: &mut Vec<f32>, q: f32, dflt: f32| {
            if v.len() < 3 {
                return dflt;
            }
            v.sort_by(|a, b| a.total_cmp(b));
            v[((v.len() - 1) as f32 * q).round() as usize]
        };
        let left = pct(&mut x0s, 0.2, 0.14 * w);
        let right = pct(&mut x1s, 0.8, 0.93 * w);
        let lh = pct(&mut hs, 0.5, 0.017 * h).max(1.0);
        Geo {
            w,
            h,
            left,
            right: right.max(left + 1.0),
            lh,
        }
    }
    fn centre(&self) -> f32 {
        (self.left + self.right) / 2.0
    }
    fn text_width(&self) -> f32 {
        self.right - self.left
    }
}

/// One line cut into column segments where the gap between two words is far wider than a space.
fn line_segments(page: usize, li: usize, l: &Line, g: &Geo) -> Vec<Seg> {
    let toks = line_toks(l);
    if toks.is_empty() {
        return Vec::new();
    }
    let mut hs: Vec<i32> = toks
        .iter()
        .map(|t| t.bbox[3] - t.bbox[1])
        .filter(|h| *h > 0)
        .collect();
    hs.sort_unstable();
    let wh = hs.get(hs.len() / 2).copied().unwrap_or(0) as f32;
    let min_gap = (2.0 * wh).max(0.035 * g.w);
    let mut out = Vec::new();
    let mut cur: Vec<Tok> = Vec::new();
    for t in toks {
        if let Some(prev) = cur.last() {
            let valid = prev.bbox[2] > prev.bbox[0] && t.bbox[2] > t.bbox[0];
            if valid && (t.bbox[0] - prev.bbox[2]) as f32 > min_gap {
                out.push(Seg {
                    page,
                    line: li,
                    toks: std::mem::take(&mut cur),
                });
            }
        }
        cur.push(t);
    }
    if !cur.is_empty() {
        out.push(Seg {
            page,
            line: li,
            toks: cur,
        });
    }
    out
}

/// A word set in capitals ("TRỌNG", "UỶ"), as issuers are, unlike places ("Đức Trọng").
fn all_caps_word(w: &str) -> bool {
    letters(w) >= 2 && upper_ratio(w) == 1.0
}

/// Fallback for merged header lines whose column gap the word boxes do not show: split before a
/// national-header phrase, before the place of a "…, ngày … tháng … năm …" line and before a
/// signing authority ("T/M", "KT.").
fn split_by_text(s: Seg) -> Vec<Seg> {
    let n = s.toks.len();
    // The word where a national-header phrase starts best, if it does not start the segment.
    let mut best: Option<(usize, f32)> = None;
    for (phrase, min) in [
        ("DANGCONGSANVIETNAM", 0.8),
        ("CONGHOAXAHOICHUNGHIA", 0.8),
        ("DOCLAPTUDO", 0.8),
    ] {
        for k in 0..n {
            let mut rest = String::new();
            for t in &s.toks[k..] {
                if rest.len() >= phrase.len() {
                    break;
                }
                rest.push_str(&key(&t.text));
            }
            if rest.len() < phrase.len().min(12) {
                continue;
            }
            let sc = sim(&rest[..phrase.len().min(rest.len())], phrase);
            if sc >= min && best.is_none_or(|b| sc > b.1) {
                best = Some((k, sc));
            }
        }
    }
    if let Some((k, _)) = best.filter(|b| b.0 > 0) {
        let (a, b) = s.split_at(k);
        let mut v = split_by_text(a);
        v.extend(split_by_text(b));
        return v;
    }
    for k in 1..n {
        if is_authority(
            &s.toks[k..]
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ) && k > 0
        {
            let left_words = &s.toks[..k];
            if left_words.iter().any(|t| !all_caps_word(&t.text)) {
                let (a, b) = s.split_at(k);
                return vec![a, b];
            }
        }
    }
    // "HUYỆN UỶ ĐỨC TRỌNG Đức Trọng, ngày 15 tháng 9 năm 2023"
    if let Some(j) = s
        .toks
        .iter()
        .position(|t| is_ngay(&t.text) || is_ngay(&t.ocr))
    {
        // The place: the words before "ngày" back to one in capitals or with digits.
        let placey = |t: &Tok| {
            !all_caps_word(&t.text) && !t.text.contains(|c: char| c.is_ascii_digit() || c == '/')
        };
        let mut start = j;
        while start > 0 && placey(&s.toks[start - 1]) {
            start -= 1;
        }
        let prefix: Vec<&str> = s.toks[..start].iter().map(|t| t.text.as_str()).collect();
        let issuer_like = s.toks[..start]
            .iter()
            .all(|t| all_caps_word(&t.text) || letters(&t.text) < 2);
        if start > 0 && start < j && (issuer_like || number(&prefix.join(" ")).is_some()) {
            let (a, b) = s.split_at(start);
            return vec![a, b];
        }
    }
    vec![s]
}

struct PageCtx<'a> {
    page: &'a Page,
    geo: Geo,
    /// Line indices sorted top to bottom.
    order: Vec<usize>,
}

impl<'a> PageCtx<'a> {
    fn new(page: &'a Page) -> Self {
        let mut order: Vec<usize> = (0..page.lines.len()).collect();
        order.sort_by_key(|&i| (page.lines[i].bbox[1] + page.lines[i].bbox[3], i));
        PageCtx {
            page,
            geo: Geo::of(page),
            order,
        }
    }
    /// All lines as column segments (with the text fallback applied).
    fn segs(&self, lines: &[usize]) -> Vec<Seg> {
        let mut v = Vec::new();
        for &li in lines {
            for s in line_segments(self.page.index, li, &self.page.lines[li], &self.geo) {
                v.extend(split_by_text(s));
            }
        }
        v.sort_by(|a, b| {
            a.cy()
                .total_cmp(&b.cy())
                .then(a.bbox()[0].cmp(&b.bbox()[0]))
        });
        v
    }
    /// Page numbers and running marks at the top or bottom edge.
    fn is_furniture(&self, l: &Line) -> bool {
        let g = &self.geo;
        let edge = (l.bbox[3] as f32) < 0.075 * g.h || (l.bbox[1] as f32) > 0.93 * g.h;
        edge && (key(&l.text).len() <= 4 || l.text.trim().chars().all(|c| !c.is_alphabetic()))
    }
}

fn field<T>(value: T, segs: &[&Seg], base: f32) -> Field<T> {
    let page = segs.first().map(|s| s.page).unwrap_or(1);
    let mut lines: Vec<usize> = segs
        .iter()
        .filter(|s| s.page == page)
        .map(|s| s.line)
        .collect();
    lines.sort_unstable();
    lines.dedup();
    let conf = if segs.is_empty() {
        0.0
    } else {
        segs.iter().map(|s| s.conf()).sum::<f32>() / segs.len() as f32
    };
    Field {
        value,
        page,
        lines,
        conf: r3(base * conf),
    }
}

// ---------------------------------------------------------------------------------------------
// Header

/// Document types, as printed. Longer names first where one is a prefix of another.
const TYPES: &[&str] = &[
    "KẾ HOẠCH",
    "QUYẾT ĐỊNH",
    "BÁO CÁO",
    "THÔNG BÁO",
    "CÔNG VĂN",
    "NGHỊ QUYẾT LIÊN TỊCH",
    "NGHỊ QUYẾT",
    "CHỈ THỊ",
    "HƯỚNG DẪN",
    "TỜ TRÌNH",
    "KẾT LUẬN",
    "QUY ĐỊNH",
    "CHƯƠNG TRÌNH",
    "NGHỊ ĐỊNH",
    "THÔNG TƯ LIÊN TỊCH",
    "THÔNG TƯ",
    "THÔNG TRI",
    "QUY CHẾ",
    "ĐỀ ÁN",
    "PHƯƠNG ÁN",
    "DỰ ÁN",
    "BIÊN BẢN",
    "CÔNG ĐIỆN",
    "GIẤY MỜI",
    "GIẤY GIỚI THIỆU",
    "GIẤY ỦY QUYỀN",
    "GIẤY NGHỈ PHÉP",
    "BẢN GHI NHỚ",
    "BẢN THỎA THUẬN",
    "PHIẾU GỬI",
    "PHIẾU CHUYỂN",
    "PHIẾU BÁO",
    "BỘ LUẬT",
    "LUẬT",
    "PHÁP LỆNH",
    "LỆNH",
    "DIỄN VĂN",
];

/// The type code inside a number ("152-KH/HU", "101/KH-UBND") → the type it stands for.
const TYPE_CODES: &[(&str, &str)] = &[
    ("KH", "KẾ HOẠCH"),
    ("QĐ", "QUYẾT ĐỊNH"),
    ("BC", "BÁO CÁO"),
    ("TB", "THÔNG BÁO"),
    ("NQ", "NGHỊ QUYẾT"),
    ("CT", "CHỈ THỊ"),
    ("HD", "HƯỚNG DẪN"),
    ("TTr", "TỜ TRÌNH"),
    ("KL", "KẾT LUẬN"),
    ("QĐi", "QUY ĐỊNH"),
    ("CTr", "CHƯƠNG TRÌNH"),
    ("CV", "CÔNG VĂN"),
    ("NĐ", "NGHỊ ĐỊNH"),
    ("TT", "THÔNG TƯ"),
    ("QC", "QUY CHẾ"),
    ("ĐA", "ĐỀ ÁN"),
    ("PA", "PHƯƠNG ÁN"),
    ("BB", "BIÊN BẢN"),
    ("CĐ", "CÔNG ĐIỆN"),
    ("GM", "GIẤY MỜI"),
];

const NATIONAL: &[(&str, &str, f32)] = &[
    (
        "CONGHOAXAHOICHUNGHIAVIETNAM",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        0.75,
    ),
    ("DOCLAPTUDOHANHPHUC", "Độc lập - Tự do - Hạnh phúc", 0.7),
    ("DANGCONGSANVIETNAM", "ĐẢNG CỘNG SẢN VIỆT NAM", 0.8),
];

fn national(s: &Seg) -> Option<(&'static str, f32)> {
    let k = key(&s.text());
    let ko = key(&s.ocr());
    NATIONAL
        .iter()
        .map(|(pk, canon, min)| (*canon, sim(&k, pk).max(sim(&ko, pk)), *min))
        .filter(|(_, sc, min)| sc >= min)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, sc, _)| (c, sc))
}

/// The type named at the start of a title line: (type, words it took, similarity).
fn type_at_start(toks: &[Tok]) -> Option<(&'static str, usize, f32)> {
    let mut best: Option<(&'static str, usize, f32)> = None;
    for t in TYPES {
        let tk = key(t);
        let nw = t.split_whitespace().count();
        for n in nw.saturating_sub(1).max(1)..=(nw + 1).min(toks.len()) {
            for variant in [0, 1] {
                let k: String = toks[..n]
                    .iter()
                    .map(|t| key(if variant == 0 { &t.text } else { &t.ocr }))
                    .collect();
                let sc = sim(&k, &tk);
                let min = if tk.len() <= 5 { 1.0 } else { 0.8 };
                if sc >= min
                    && best.is_none_or(|b| sc > b.2 || (sc == b.2 && tk.len() > key(b.0).len()))
                {
                    best = Some((t, n, sc));
                }
            }
        }
    }
    best
}

/// A centred title line in capitals naming a type ("KẾ HOẠCH", "QUYẾT ĐỊNH", "KẾ HOẠCH TỔ CHỨC …").
fn type_line(pc: &PageCtx, li: usize) -> Option<(&'static str, usize, f32)> {
    let l = &pc.page.lines[li];
    let g = &pc.geo;
    let toks = line_toks(l);
    if toks.is_empty() || l.text.trim_end().ends_with(':') {
        return None;
    }
    let cx = (l.bbox[0] + l.bbox[2]) as f32 / 2.0;
    if (cx - g.centre()).abs() > 0.15 * g.w {
        return None;
    }
    let (t, n, sc) = type_at_start(&toks)?;
    let head: String = toks[..n]
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let head_ocr: String = toks[..n]
        .iter()
        .map(|t| t.ocr.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    if upper_ratio(&head).max(upper_ratio(&head_ocr)) < 0.7 {
        return None;
    }
    let rest: String = toks[n..]
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    if letters(&rest) > 0 && upper_ratio(&rest) < 0.7 {
        return None;
    }
    Some((t, n, sc))
}

fn is_ngay(w: &str) -> bool {
    let k = key(w);
    k == "NGAY" || (k.len() == 4 && sim(&k, "NGAY") >= 0.75 && k.starts_with('N'))
}

/// Digits with the usual OCR confusions (O → 0, l/I → 1).
fn ocr_number(w: &str) -> Option<u32> {
    let t = w.trim_matches(|c: char| !c.is_alphanumeric());
    if t.is_empty() || t.len() > 4 {
        return None;
    }
    let fixed: String = t
        .chars()
        .map(|c| match c {
            'O' | 'o' => '0',
            'l' | 'I' | '|' => '1',
            _ => c,
        })
        .collect();
    if !fixed.chars().all(|c| c.is_ascii_digit()) || !t.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    fixed.parse().ok()
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// "Đức Trọng, ngày 15 tháng 9 năm 2023" → (place, date): the place when the line is a
/// place-and-date line, the date when all three numbers are there and make a date.
fn place_date_toks(words: &[&str]) -> Option<(Option<String>, Option<String>, usize)> {
    let j = words.iter().position(|w| is_ngay(w))?;
    let rest = &words[j + 1..];
    let th = rest.iter().position(|w| {
        let k = key(w);
        k == "THANG" || (k.len() >= 4 && k.len() <= 6 && sim(&k, "THANG") >= 0.75)
    })?;
    let nm = rest.iter().position(|w| {
        let k = key(w);
        k == "NAM" || (k.len() == 3 && sim(&k, "NAM") >= 0.66 && k.starts_with('N'))
    })?;
    if th > 4 || nm <= th || nm - th > 4 {
        return None;
    }
    let num = |ws: &[&str]| -> Option<u32> {
        let v: Vec<u32> = ws.iter().filter_map(|w| ocr_number(w)).collect();
        (v.len() == 1).then(|| v[0])
    };
    let d = num(&rest[..th]);
    let m = num(&rest[th + 1..nm]);
    let y = rest.get(nm + 1).and_then(|w| ocr_number(w));
    let date = match (d, m, y) {
        (Some(d), Some(m), Some(y))
            if (1..=12).contains(&m)
                && (1900..=2100).contains(&y)
                && d >= 1
                && d <= days_in_month(y, m) =>
        {
            Some(format!("{y:04}-{m:02}-{d:02}"))
        }
        _ => None,
    };
    let place = words[..j].join(" ");
    let place = place
        .trim()
        .trim_end_matches([',', '.', ' '])
        .trim()
        .to_string();
    let place =
        (!place.is_empty() && place.chars().count() < 50 && letters(&place) >= 2).then_some(place);
    Some((place, date, j))
}

/// "Đức Trọng, ngày 15 tháng 9 năm 2023" → (Some("Đức Trọng"), "2023-09-15").
pub fn place_date(text: &str) -> Option<(Option<String>, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (place, date, _) = place_date_toks(&words)?;
    Some((place, date?))
}

/// "Số: 101/KH-UBND", "Số 152 -KH/HU" → "101/KH-UBND", "152-KH/HU".
pub fn number(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let first = words.first()?;
    let fk = key(first);
    // "Số", "Số:", OCR "S6", "Sô"; "Luật số:", "Nghị quyết số".
    let start = if matches!(fk.as_str(), "SO" | "S0" | "S6") {
        1
    } else {
        let p = words
            .iter()
            .take(4)
            .position(|w| key(w) == "SO" && w.trim_end_matches(':').chars().count() <= 3)?;
        if !words[..p]
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase))
        {
            return None;
        }
        p + 1
    };
    let mut raw = String::new();
    for w in &words[start..] {
        let w = w.trim_start_matches(':');
        if w.is_empty() {
            continue;
        }
        let ok = w
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '/' | '-' | '.' | '–' | ':'));
        // "152 -KH/HU": OCR splits the number; stop at ordinary words.
        if !ok || (!raw.is_empty() && !w.starts_with(['/', '-', '–']) && !raw.ends_with(['/', '-']))
        {
            break;
        }
        raw.push_str(w);
        if raw.chars().count() > 40 {
            break;
        }
    }
    let raw = raw.replace('–', "-");
    let raw = raw.trim_end_matches(['.', '-', ':', '/']);
    // The leading number: O/o → 0, l/I → 1.
    let mut out = String::new();
    let mut in_digits = true;
    for c in raw.chars() {
        if in_digits {
            match c {
                '0'..='9' => out.push(c),
                'O' | 'o' => out.push('0'),
                'l' | 'I' | '|' => out.push('1'),
                _ => {
                    in_digits = false;
                    out.push(c);
                }
            }
        } else if c == 'Đ' || c == 'đ' || !c.is_alphabetic() {
            out.push(c);
        } else {
            // Codes are capitals and Đ: "HỦ" is an OCR or restoration slip for "HU".
            let f: String = c
                .to_string()
                .nfd()
                .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
                .collect();
            out.push_str(&f);
        }
    }
    let digits_first = out.chars().next()?.is_ascii_digit();
    let has_code = out.contains(['/', '-']) && out.chars().any(|c| c.is_alphabetic());
    (digits_first && has_code).then_some(out)
}

/// The type a number's code names: "152-KH/HU" → KẾ HOẠCH, "12/2023/QĐ-UBND" → QUYẾT ĐỊNH.
fn type_from_number(n: &str) -> Option<&'static str> {
    let parts: Vec<&str> = n.split(['/', '-']).filter(|p| !p.is_empty()).collect();
    // The code follows the number (and the year, in State numbers).
    for p in parts.iter().skip(1) {
        if p.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        return TYPE_CODES.iter().find(|(c, _)| c == p).map(|(_, t)| *t);
    }
    None
}

struct Head {
    fields: Fields,
    /// Where the body starts on the first page (y in pixels).
    body_start_y: f32,
}

fn starts_vv(t: &str) -> bool {
    let f = fold(t.trim_start());
    f.starts_with("V/V") || f.starts_with("V/ V") || f.starts_with("V.V") || f.starts_with("V/Y")
}

fn header(pc: &PageCtx) -> Head {
    let p = pc.page;
    let g = &pc.geo;
    let mut f = Fields::default();

    // The type line: the first centred title naming a type in the top part of page 1.
    let mut type_hit = None;
    for &li in &pc.order {
        let l = &p.lines[li];
        if l.bbox[1] as f32 > 0.6 * g.h {
            break;
        }
        if let Some(t) = type_line(pc, li) {
            type_hit = Some((li, t));
            break;
        }
    }

    // The header region: what is above the type line, or, without one, the top lines down to the
    // first line of running text.
    let region: Vec<usize> = match type_hit {
        Some((tl, _)) => {
            let top = p.lines[tl].bbox[1];
            pc.order
                .iter()
                .copied()
                .filter(|&i| i != tl && (p.lines[i].bbox[1] + p.lines[i].bbox[3]) / 2 < top)
                .collect()
        }
        None => {
            let mut v = Vec::new();
            for &li in &pc.order {
                let l = &p.lines[li];
                if l.bbox[1] as f32 > 0.35 * g.h || is_running_text(pc, li) {
                    break;
                }
                v.push(li);
            }
            v
        }
    };
    let segs: Vec<Seg> = pc.segs(&region);

    let mut nat: Vec<(&Seg, &'static str, f32)> = Vec::new();
    let mut num: Option<(&Seg, String)> = None;
    let mut pd: Option<(&Seg, Option<String>, Option<String>)> = None;
    let mut vv: Vec<&Seg> = Vec::new();
    let mut others: Vec<&Seg> = Vec::new();
    for s in &segs {
        let t = s.text();
        if is_separator(&t) {
            continue;
        }
        if let Some((canon, sc)) = national(s) {
            nat.push((s, canon, sc));
            continue;
        }
        if num.is_none() {
            if let Some(n) = number(&t).or_else(|| number(&s.ocr())) {
                num = Some((s, n));
                continue;
            }
        }
        if pd.is_none() {
            let words: Vec<&str> = s.toks.iter().map(|t| t.text.as_str()).collect();
            let ocr_words: Vec<&str> = s.toks.iter().map(|t| t.ocr.as_str()).collect();
            if let Some((place, date, _)) =
                place_date_toks(&words).or_else(|| place_date_toks(&ocr_words))
            {
                pd = Some((s, place, date));
                continue;
            }
        }
        if starts_vv(&t) || starts_vv(&s.ocr()) {
            vv.push(s);
            continue;
        }
        others.push(s);
    }

    if !nat.is_empty() {
        let mut seen = Vec::new();
        let mut used: Vec<&Seg> = Vec::new();
        let mut sc = 0.0;
        for (s, c, x) in &nat {
            if !seen.contains(&c.to_string()) {
                seen.push(c.to_string());
                used.push(s);
                sc += x;
            }
        }
        let n = used.len() as f32;
        f.national_header = Some(field(seen, &used, 0.98 * sc / n));
    }
    if let Some((s, n)) = &num {
        f.number = Some(field(n.clone(), &[s], 0.95));
    }
    if let Some((s, place, date)) = &pd {
        if let Some(pl) = place {
            f.place = Some(field(pl.clone(), &[s], 0.9));
        }
        if let Some(d) = date {
            f.date = Some(field(d.clone(), &[s], 0.95));
        }
    }

    // The issuer: capitals in the left column above the number (and the "V/v" lines).
    let half = g.w / 2.0;
    let limit = num
        .as_ref()
        .filter(|(s, _)| s.cx() < half)
        .map(|(s, _)| s.bbox()[1] as f32 + 0.3 * g.lh)
        .or_else(|| vv.first().map(|s| s.bbox()[1] as f32))
        .unwrap_or(f32::MAX);
    let issuer: Vec<&Seg> = others
        .iter()
        .copied()
        .filter(|s| s.cx() < half && s.cy() < limit && s.upper() >= 0.6 && letters(&s.text()) >= 2)
        .collect();
    if !issuer.is_empty() {
        let v: Vec<String> = issuer.iter().map(|s| clean_edges(&s.text())).collect();
        f.issuer = Some(field(v, &issuer, 0.9));
    }

    // The type, and the summary under it.
    let mut body_start_y = region
        .iter()
        .map(|&i| p.lines[i].bbox[3])
        .max()
        .unwrap_or(0) as f32;
    if let Some((tl, (t, n, sc))) = type_hit {
        let l = &p.lines[tl];
        let seg = Seg {
            page: p.index,
            line: tl,
            toks: line_toks(l),
        };
        let code_agrees = f
            .number
            .as_ref()
            .and_then(|n| type_from_number(&n.value))
            .is_none_or(|c| c == t);
        f.doc_type = Some(field(
            t.to_string(),
            &[&seg],
            sc * if code_agrees { 0.98 } else { 0.85 },
        ));
        body_start_y = l.bbox[3] as f32;
        let (summary, last_y) = summary_after(pc, tl, seg.tail(n));
        if let Some(s) = summary {
            f.summary = Some(s);
        }
        body_start_y = body_start_y.max(last_y);
    } else if !vv.is_empty() {
        // A letter (công văn): the number's code names no type and "V/v" gives the summary.
        let mut lines: Vec<&Seg> = vv.clone();
        let top = vv[0].bbox()[1];
        for s in &others {
            if s.cx() < half && s.bbox()[1] > top && !lines.iter().any(|x| std::ptr::eq(*x, *s)) {
                lines.push(s);
            }
        }
        lines.sort_by(|a, b| a.cy().total_cmp(&b.cy()));
        let text = lines.iter().map(|s| s.text()).collect::<Vec<_>>().join(" ");
        f.summary = Some(field(text, &lines, 0.85));
        if num.is_some() {
            let from_code = f.number.as_ref().and_then(|n| type_from_number(&n.value));
            let t = from_code.unwrap_or("CÔNG VĂN");
            f.doc_type = Some(field(t.to_string(), &[vv[0]], 0.6));
        }
    } else if let Some(t) = f.number.as_ref().and_then(|n| type_from_number(&n.value)) {
        // No title line was read, but the number's code names the type.
        let s = num.as_ref().map(|(s, _)| *s).expect("number was read");
        f.doc_type = Some(field(t.to_string(), &[s], 0.6));
    }
    Head {
        fields: f,
        body_start_y,
    }
}

/// Drop OCR crumbs at the ends of a segment: ".PHÓ BÍ THƯ" → "PHÓ BÍ THƯ".
fn clean_edges(s: &str) -> String {
    s.trim()
        .trim_start_matches(|c: char| !c.is_alphanumeric() && c != '(' && c != '“' && c != '"')
        .trim_end_matches(|c: char| {
            matches!(c, ',' | ';' | '|' | '_' | '~' | '*' | '•' | '-' | '—' | ' ')
        })
        .trim()
        .to_string()
}

/// A line of the body: a wide line of ordinary text, or one that begins the body outright.
fn is_running_text(pc: &PageCtx, li: usize) -> bool {
    let l = &pc.page.lines[li];
    let g = &pc.geo;
    let k = key(&l.text);
    if k.starts_with("KINHGUI") || k.starts_with("CANCU") {
        return true;
    }
    let segs = line_segments(pc.page.index, li, l, g);
    let wide = (l.bbox[2] - l.bbox[0]) as f32 > 0.6 * g.text_width();
    let words: Vec<&str> = l.text.split_whitespace().collect();
    segs.len() == 1 && wide && upper_ratio(&l.text) < 0.5 && place_date_toks(&words).is_none()
}

/// The trích yếu under the type line: centred lines close below it, in one case style, up to a
/// rule, a gap or the first heading. Returns the field and the bottom of its last line.
fn summary_after(pc: &PageCtx, tl: usize, rest: Seg) -> (Option<Field<String>>, f32) {
    let p = pc.page;
    let g = &pc.geo;
    let tline = &p.lines[tl];
    let mut segs: Vec<Seg> = Vec::new();
    if !rest.toks.is_empty() && letters(&rest.text()) >= 2 {
        segs.push(rest);
    }
    let mut prev_bottom = tline.bbox[3] as f32;
    let mut mode: Option<bool> = segs.first().map(|s| s.upper() >= 0.6);
    for &li in &pc.order {
        let l = &p.lines[li];
        if li == tl || l.bbox[1] <= tline.bbox[1] {
            continue;
        }
        let t = l.text.trim();
        if is_separator(t) {
            break;
        }
        let gap = l.bbox[1] as f32 - prev_bottom;
        let max_gap = if segs.is_empty() { 1.6 } else { 1.3 } * g.lh;
        if gap > max_gap {
            break;
        }
        let k = key(t);
        if k.starts_with("CANCU")
            || k.starts_with("KINHGUI")
            || marker(t, 0).is_some_and(|m| m.rank <= 10)
        {
            break;
        }
        let cx = (l.bbox[0] + l.bbox[2]) as f32 / 2.0;
        if (cx - g.centre()).abs() > 0.08 * g.w {
            break;
        }
        let seg = Seg {
            page: p.index,
            line: li,
            toks: line_toks(l),
        };
        let up = seg.upper() >= 0.6;
        if *mode.get_or_insert(up) != up || segs.len() >= 8 {
            break;
        }
        prev_bottom = l.bbox[3] as f32;
        segs.push(seg);
    }
    if segs.is_empty() {
        return (None, prev_bottom);
    }
    let text = segs.iter().map(|s| s.text()).collect::<Vec<_>>().join(" ");
    let refs: Vec<&Seg> = segs.iter().collect();
    (Some(field(text, &refs, 0.85)), prev_bottom)
}

// ---------------------------------------------------------------------------------------------
// Closing block: recipients and signature

fn is_authority(t: &str) -> bool {
    let f = fold(t.trim_start_matches(|c: char| !c.is_alphanumeric()));
    let compact: String = f.chars().filter(|c| !c.is_whitespace()).collect();
    let first = f.split_whitespace().next().unwrap_or("");
    // TM (thay mặt), KT (ký thay), TL (thừa lệnh), TUQ (thừa ủy quyền), Q. (quyền).
    ["T/M", "T.M", "T/IM", "K/T", "K.T", "T/L", "T.L"]
        .iter()
        .any(|p| compact.starts_with(p))
        || ["TM", "TM.", "KT", "KT.", "TL", "TL.", "TUQ", "TUQ.", "Q."].contains(&first)
        || compact.starts_with("THUALENH")
        || compact.starts_with("THUAUYQUYEN")
        || compact.starts_with("THAYMAT")
}

fn looks_like_name(t: &str) -> bool {
    let words: Vec<&str> = t.split_whitespace().collect();
    if !(2..=6).contains(&words.len()) {
        return false;
    }
    words.iter().all(|w| {
        let w = w.trim_end_matches([',', '.']);
        let mut cs = w.chars();
        match cs.next() {
            Some(c) if c.is_alphabetic() && c.is_uppercase() => {
                cs.all(|c| c.is_alphabetic() && c.is_lowercase())
            }
            _ => false,
        }
    })
}

/// Signature crumbs: "(Đã ký)", "(Ký, đóng dấu)", stamp noise.
fn is_noise(s: &Seg) -> bool {
    let t = s.text();
    let k = key(&t);
    letters(&t) < 3 || t.trim_start().starts_with('(') || k.starts_with("DAKY") || k == "KY"
}

struct Closing {
    signer: Option<Signer>,
    recipients: Option<Field<Vec<String>>>,
    /// Where the closing block starts: (index into pages, y).
    start: Option<(usize, f32)>,
}

fn closing(pages: &[PageCtx]) -> Closing {
    // Usually on the last page (or the one before, when the signature spills over); further
    // back (a document with appendices) only a "Nơi nhận" list or a signing authority counts.
    for pi in (0..pages.len()).rev() {
        let last_pages = pi + 2 >= pages.len();
        let pc = &pages[pi];
        let all: Vec<usize> = pc
            .order
            .iter()
            .copied()
            .filter(|&i| !pc.is_furniture(&pc.page.lines[i]))
            .collect();
        let segs = pc.segs(&all);
        let (mut signer, mut sig_top) = signer(pc, &segs);
        let (recipients, rec_top) = recipients(pc, &segs);
        if !last_pages
            && recipients.is_none()
            && signer.as_ref().is_some_and(|s| s.authority.is_none())
        {
            (signer, sig_top) = (None, None);
        }
        if signer.is_some() || recipients.is_some() {
            let start = [sig_top, rec_top]
                .into_iter()
                .flatten()
                .min_by(|a, b| a.total_cmp(b))
                .map(|y| (pi, y));
            return Closing {
                signer,
                recipients,
                start,
            };
        }
    }
    Closing {
        signer: None,
        recipients: None,
        start: None,
    }
}

fn signer(pc: &PageCtx, segs: &[Seg]) -> (Option<Signer>, Option<f32>) {
    let g = &pc.geo;
    let right = |s: &Seg| s.bbox()[0] as f32 > 0.4 * g.w && s.cx() > 0.55 * g.w;
    // Walk up from each name-like segment in the right column, bottom first, collecting the
    // authority and title lines above it.
    let names: Vec<usize> = (0..segs.len())
        .rev()
        .filter(|&i| right(&segs[i]) && looks_like_name(&clean_edges(&segs[i].text())))
        .collect();
    let candidates: Vec<Option<usize>> = names
        .iter()
        .map(|&i| Some(i))
        .chain(std::iter::once(None))
        .collect();
    for name_i in candidates {
        let bottom = name_i.map(|i| segs[i].bbox()[1] as f32).unwrap_or(f32::MAX);
        let mut above: Vec<&Seg> = Vec::new();
        let mut last_y = bottom.min(g.h);
        for s in segs.iter().rev() {
            if s.bbox()[3] as f32 > bottom || !right(s) {
                continue;
            }
            if last_y - (s.bbox()[3] as f32) > 10.0 * g.lh {
                break;
            }
            if is_noise(s) {
                continue;
            }
            let t = s.text();
            if s.upper() >= 0.6 || is_authority(&t) || is_authority(&s.ocr()) {
                above.push(s);
                last_y = s.bbox()[1] as f32;
                if above.len() >= 5 {
                    break;
                }
            } else if letters(&t) > 12 {
                break;
            }
        }
        above.reverse();
        // The signature block is tight (authority, then title); stamps and scribbles in the
        // space left for the signature may add crumbs below it, which are not the title.
        let auth_of = |s: &Seg| is_authority(&s.text()) || is_authority(&s.ocr());
        let block_end = |from: usize| {
            let mut j = from;
            while j + 1 < above.len()
                && (above[j + 1].bbox()[1] - above[j].bbox()[3]) as f32 <= 1.6 * g.lh
            {
                j += 1;
            }
            j
        };
        let (auth, title): (Vec<&Seg>, Vec<&Seg>) = match above.iter().position(|s| auth_of(s)) {
            Some(a) => {
                let end = block_end(a);
                let n_auth = above[a..=end].iter().take_while(|s| auth_of(s)).count();
                (
                    above[a..a + n_auth].to_vec(),
                    above[a + n_auth..=end].to_vec(),
                )
            }
            None if !above.is_empty() => {
                let end = block_end(0);
                (
                    Vec::new(),
                    above[..=end].iter().rev().take(3).rev().copied().collect(),
                )
            }
            None => (Vec::new(), Vec::new()),
        };
        if auth.is_empty() && title.is_empty() {
            continue;
        }
        if name_i.is_none() && auth.is_empty() {
            // Capitals at the end of a page with no name and no authority are not a signature.
            break;
        }
        let mut sg = Signer::default();
        if !auth.is_empty() {
            let v = auth
                .iter()
                .map(|s| clean_edges(&s.text()))
                .collect::<Vec<_>>()
                .join(", ");
            sg.authority = Some(field(v, &auth, 0.9));
        }
        if !title.is_empty() {
            let v = title
                .iter()
                .map(|s| clean_edges(&s.text()))
                .collect::<Vec<_>>()
                .join(" ");
            sg.title = Some(field(v, &title, 0.85));
        }
        if let Some(i) = name_i {
            let s = &segs[i];
            sg.name = Some(field(
                clean_edges(&s.text()),
                &[s],
                if auth.is_empty() { 0.75 } else { 0.9 },
            ));
        }
        let top = auth.first().or(title.first()).map(|s| s.bbox()[1] as f32);
        return (Some(sg), top);
    }
    (None, None)
}

fn is_noi_nhan(s: &Seg) -> bool {
    [s.text(), s.ocr()].iter().any(|t| {
        let k = key(t);
        k.len() >= 7 && sim(&k[..7], "NOINHAN") >= 0.7
    })
}

fn recipients(pc: &PageCtx, segs: &[Seg]) -> (Option<Field<Vec<String>>>, Option<f32>) {
    let g = &pc.geo;
    let Some(head_i) = segs
        .iter()
        .position(|s| s.cx() < 0.5 * g.w && (s.bbox()[2] as f32) < 0.6 * g.w && is_noi_nhan(s))
    else {
        return (None, None);
    };
    let head = &segs[head_i];
    let mut used: Vec<&Seg> = vec![head];
    let mut items: Vec<String> = Vec::new();
    // "Nơi nhận: - Như trên;" on one line.
    let ht = head.text();
    if let Some(pos) = ht.find(':') {
        let rest = ht[pos + 1..].trim();
        if letters(rest) >= 2 {
            items.push(clean_item(rest));
        }
    }
    let mut prev_bottom = head.bbox()[3] as f32;
    let mut dash_x: Option<i32> = None;
    for s in &segs[head_i + 1..] {
        let b = s.bbox();
        if b[1] < head.bbox()[1] || s.cx() >= 0.5 * g.w || b[0] as f32 > 0.45 * g.w {
            continue;
        }
        if b[1] as f32 - prev_bottom > 3.0 * g.lh {
            break;
        }
        let t = s.text();
        let tt = t.trim();
        let dashed = tt.starts_with(is_dash);
        if !dashed && (b[2] as f32) > 0.75 * g.w {
            break; // running text
        }
        prev_bottom = b[3] as f32;
        if is_separator(tt) {
            continue;
        }
        let k = key(tt);
        if !dashed && (k.contains("KINHGUI") || tt.ends_with(':')) {
            continue; // "Đồng kính gửi", "Lưu:" headings of a sub-list
        }
        if dashed {
            dash_x = Some(dash_x.map_or(b[0], |x| x.min(b[0])));
            items.push(clean_item(tt));
        } else if let (Some(dx), Some(last)) = (dash_x, items.last_mut()) {
            if b[0] as f32 > dx as f32 + 0.5 * g.lh {
                last.push(' ');
                last.push_str(&clean_item(tt)); // a wrapped item
            } else {
                items.push(clean_item(tt));
            }
        } else {
            items.push(clean_item(tt));
        }
        used.push(s);
        if items.len() >= 40 {
            break;
        }
    }
    items.retain(|i| letters(i) >= 2);
    if items.is_empty() {
        return (None, Some(head.bbox()[1] as f32));
    }
    (Some(field(items, &used, 0.9)), Some(head.bbox()[1] as f32))
}

/// "- Các TCCS đảng thuộc HU,; . ;" → "Các TCCS đảng thuộc HU".
fn clean_item(t: &str) -> String {
    let t = t.trim_start_matches(|c: char| is_dash(c) || c.is_whitespace());
    let mut words: Vec<&str> = t.split_whitespace().collect();
    while words
        .last()
        .is_some_and(|w| !w.chars().any(char::is_alphanumeric))
    {
        words.pop();
    }
    trim_punct(&words.join(" ")).to_string()
}

// ---------------------------------------------------------------------------------------------
// Sections

#[derive(Debug, Clone, Copy, PartialEq)]
enum MKind {
    Part,
    Chapter,
    LegalSection,
    Article,
    Roman,
    Number,
    Decimal,
    Letter,
}

impl MKind {
    fn name(self) -> &'static str {
        match self {
            MKind::Part => "part",
            MKind::Chapter => "chapter",
            MKind::LegalSection => "section",
            MKind::Article => "article",
            MKind::Roman => "roman",
            MKind::Number => "number",
            MKind::Decimal => "decimal",
            MKind::Letter => "letter",
        }
    }
}

#[derive(Debug, Clone)]
struct Marker {
    kind: MKind,
    label: String,
    /// Nesting rank: smaller is higher.
    rank: u8,
    /// Index of the first title word.
    title_from: usize,
    /// Whether the number had to be repaired (OCR "Il." for "II.").
    repaired: bool,
}

fn roman_value(s: &str) -> Option<usize> {
    let v = |c| match c {
        'I' => Some(1),
        'V' => Some(5),
        'X' => Some(10),
        'L' => Some(50),
        _ => None,
    };
    let cs: Vec<usize> = s.chars().map(v).collect::<Option<_>>()?;
    if cs.is_empty() {
        return None;
    }
    let mut total = 0i64;
    for (i, &c) in cs.iter().enumerate() {
        if cs.get(i + 1).is_some_and(|&n| n > c) {
            total -= c as i64;
        } else {
            total += c as i64;
        }
    }
    let total = usize::try_from(total).ok()?;
    (to_roman(total) == s).then_some(total)
}

fn to_roman(mut n: usize) -> String {
    let table = [
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut s = String::new();
    for (v, r) in table {
        while n >= v {
            s.push_str(r);
            n -= v;
        }
    }
    s
}

/// The numbering at the start of a line, if any: "II.", "2.", "2.1.", "a)", "Điều 5.", "Chương I".
/// `expected_roman` is the roman number the next roman heading should have (for OCR repairs).
fn marker(text: &str, expected_roman: usize) -> Option<Marker> {
    let toks: Vec<&str> = text.split_whitespace().collect();
    let t0 = *toks.first()?;
    let f0 = fold(t0);
    let f0c = f0.trim_end_matches(['.', ':']);
    let t1 = toks.get(1).map(|t| t.trim_end_matches(['.', ':']));
    // Legal documents.
    match f0c {
        "CHUONG" => {
            let l = t1?;
            let ok =
                roman_value(&l.to_uppercase()).is_some() || l.chars().all(|c| c.is_ascii_digit());
            return ok.then(|| Marker {
                kind: MKind::Chapter,
                label: l.to_uppercase(),
                rank: 1,
                title_from: 2,
                repaired: false,
            });
        }
        "DIEU" => {
            let l = t1?;
            return l.chars().all(|c| c.is_ascii_digit()).then(|| Marker {
                kind: MKind::Article,
                label: l.to_string(),
                rank: 3,
                title_from: 2,
                repaired: false,
            });
        }
        "MUC" => {
            let l = t1?;
            let ok = l.chars().all(|c| c.is_ascii_digit()) || roman_value(l).is_some();
            return ok.then(|| Marker {
                kind: MKind::LegalSection,
                label: l.to_string(),
                rank: 2,
                title_from: 2,
                repaired: false,
            });
        }
        "PHAN" => {
            let l = t1?;
            if fold(l) == "THU" {
                let n = toks.get(2)?.trim_end_matches(['.', ':']);
                return Some(Marker {
                    kind: MKind::Part,
                    label: format!("{l} {n}"),
                    rank: 0,
                    title_from: 3,
                    repaired: false,
                });
            }
            return roman_value(l).is_some().then(|| Marker {
                kind: MKind::Part,
                label: l.to_string(),
                rank: 0,
                title_from: 2,
                repaired: false,
            });
        }
        _ => {}
    }
    let punct = t0.chars().last()?;
    let body: &str = t0.trim_end_matches(['.', ')', ':', ',']);
    let has_punct = matches!(punct, '.' | ')' | ':' | ',');
    // Decimal "2.1." / "2.1".
    if body.contains('.')
        && body
            .split('.')
            .all(|p| !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit()))
    {
        let depth = body.split('.').count();
        return Some(Marker {
            kind: MKind::Decimal,
            label: body.to_string(),
            rank: 20 + depth as u8,
            title_from: 1,
            repaired: false,
        });
    }
    // Number "2." / "2)" / OCR "2,".
    if has_punct && !body.is_empty() && body.len() <= 2 && body.chars().all(|c| c.is_ascii_digit())
    {
        // "11." may be an OCR "II." when II is the roman number due next.
        if expected_roman >= 2
            && body.chars().all(|c| c == '1')
            && roman_value(&"I".repeat(body.len())) == Some(expected_roman)
        {
            return Some(Marker {
                kind: MKind::Roman,
                label: to_roman(expected_roman),
                rank: 10,
                title_from: 1,
                repaired: true,
            });
        }
        return Some(Marker {
            kind: MKind::Number,
            label: body.to_string(),
            rank: 20,
            title_from: 1,
            repaired: punct == ',',
        });
    }
    // Roman "II." (OCR: "Il.", "I|.", "ll.").
    // OCR reads "II" and "III" as "IH", "I" as "l", "|", "1", "T" or "!": try the readings.
    if !body.is_empty() && body.chars().count() <= 5 {
        let mut readings: Vec<String> = vec![String::new()];
        for c in body.chars() {
            let alts: &[&str] = match c {
                'I' | 'V' | 'X' => &[""],
                'l' | '|' | '1' | 'T' | '!' | 'L' | 'Ì' | 'Í' | 'Ỉ' | 'Ị' | 'Ĩ' => &["I"],
                'H' | 'U' => &["I", "II"],
                _ => &[],
            };
            let alts: Vec<String> = if alts == [""] {
                vec![c.to_string()]
            } else {
                alts.iter().map(|a| a.to_string()).collect()
            };
            readings = readings
                .iter()
                .flat_map(|r| alts.iter().map(move |a| format!("{r}{a}")))
                .collect();
        }
        let rest = toks.get(1..).unwrap_or(&[]).join(" ");
        let bare_ok = toks.len() > 1 && upper_ratio(&rest) >= 0.8;
        for mapped in readings {
            let repaired = mapped != body;
            if let Some(v) = roman_value(&mapped) {
                if (has_punct || bare_ok) && (!repaired || v == expected_roman) && v <= 40 {
                    return Some(Marker {
                        kind: MKind::Roman,
                        label: mapped,
                        rank: 10,
                        title_from: 1,
                        repaired,
                    });
                }
            }
        }
    }
    // Letter "a)" / "đ)" / "b.".
    let lc: Vec<char> = body.chars().collect();
    if has_punct && punct != ',' && lc.len() == 1 && (lc[0].is_ascii_lowercase() || lc[0] == 'đ') {
        return Some(Marker {
            kind: MKind::Letter,
            label: body.to_string(),
            rank: 30,
            title_from: 1,
            repaired: false,
        });
    }
    None
}

fn starts_item(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with(is_dash) || marker(t, 0).is_some()
}

/// A body line and where it sits.
struct BodyLine<'a> {
    page: usize,
    li: usize,
    line: &'a Line,
    geo: Geo,
}

/// Whether `next` carries on the sentence of `cur` (justified text wraps at the right edge and
/// goes on at the left margin).
fn continues(cur: &BodyLine, next: Option<&BodyLine>) -> bool {
    let Some(next) = next else { return false };
    let g = &cur.geo;
    let full = cur.line.bbox[2] as f32 >= g.right - 0.06 * g.text_width();
    let at_margin = (next.line.bbox[0] as f32) < g.left + 0.025 * g.w;
    let close =
        next.page != cur.page || (next.line.bbox[1] - cur.line.bbox[3]) as f32 <= 1.2 * g.lh;
    full && at_margin && close && !starts_item(&next.line.text)
}

fn sections(
    pages: &[PageCtx],
    start: (usize, f32),
    end: Option<(usize, f32)>,
) -> Option<Vec<Section>> {
    let mut body: Vec<BodyLine> = Vec::new();
    for (pi, pc) in pages.iter().enumerate() {
        if pi < start.0 || end.is_some_and(|(ep, _)| pi > ep) {
            continue;
        }
        for &li in &pc.order {
            let l = &pc.page.lines[li];
            let cy = (l.bbox[1] + l.bbox[3]) as f32 / 2.0;
            if pi == start.0 && cy <= start.1 {
                continue;
            }
            if let Some((ep, ey)) = end {
                if pi == ep && l.bbox[1] as f32 >= ey - 0.3 * pc.geo.lh {
                    continue;
                }
            }
            if pc.is_furniture(l) || is_separator(&l.text) {
                continue;
            }
            body.push(BodyLine {
                page: pc.page.index,
                li,
                line: l,
                geo: pc.geo,
            });
        }
    }

    // Pass 1: which lines are headings (and how many lines their titles take).
    let mut heads: Vec<(usize, Marker, Vec<usize>)> = Vec::new();
    let mut last_roman = 0usize;
    let mut i = 0;
    while i < body.len() {
        let (m, lines) = match heading_at(&body, i, last_roman + 1) {
            Some(h) => h,
            None => {
                i += 1;
                continue;
            }
        };
        let mut m = m;
        if m.kind == MKind::Roman {
            // Roman numbers do not repeat: "II." after II is a "III." that lost a stroke.
            let v = roman_value(&m.label).unwrap_or(0);
            let want = to_roman(last_roman + 1);
            if last_roman > 0
                && v <= last_roman
                && levenshtein(&chars(&m.label), &chars(&want)) <= 1
            {
                (m.label, m.repaired) = (want, true);
            }
            last_roman = roman_value(&m.label).unwrap_or(last_roman);
        }
        i += lines.len();
        heads.push((lines[0], m, lines));
    }
    // "I." read as "1." (or "l."): a first heading numbered 1 in capitals, followed by a roman II
    // before any other number in capitals, is roman I.
    if let Some(first) = heads.first() {
        let upper = |h: &(usize, Marker, Vec<usize>)| {
            let t = body[h.0]
                .line
                .text
                .split_whitespace()
                .skip(h.1.title_from)
                .collect::<Vec<_>>()
                .join(" ");
            upper_ratio(&t) >= 0.8
        };
        if first.1.kind == MKind::Number && first.1.label == "1" && upper(first) {
            let next = heads[1..].iter().find(|h| {
                matches!(h.1.kind, MKind::Roman) || (h.1.kind == MKind::Number && upper(h))
            });
            if next.is_some_and(|h| h.1.kind == MKind::Roman && h.1.label == "II") {
                let m = &mut heads[0].1;
                (m.kind, m.label, m.rank, m.repaired) = (MKind::Roman, "I".into(), 10, true);
            }
        }
    }

    // Pass 2: the tree, and the text under each heading.
    struct Open {
        rank: u8,
        sec: Section,
    }
    fn close(stack: &mut Vec<Open>, roots: &mut Vec<Section>, rank: u8) {
        while stack.last().is_some_and(|o| o.rank >= rank) {
            let o = stack.pop().expect("non-empty");
            match stack.last_mut() {
                Some(p) => p.sec.children.push(o.sec),
                None => roots.push(o.sec),
            }
        }
    }
    let mut roots: Vec<Section> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut next_head = heads.iter().peekable();
    let mut i = 0;
    while i < body.len() {
        let bl = &body[i];
        if let Some((_, m, title_lines)) = next_head.next_if(|h| h.0 == i) {
            let heading_text = title_lines
                .iter()
                .map(|&j| body[j].line.text.trim())
                .collect::<Vec<_>>()
                .join(" ");
            let toks: Vec<&str> = heading_text.split_whitespace().collect();
            let title = trim_title(&toks[m.title_from.min(toks.len())..].join(" "));
            let words: Vec<f32> = title_lines
                .iter()
                .flat_map(|&j| body[j].line.words.iter().map(|w| w.conf))
                .collect();
            let ocr_conf = if words.is_empty() {
                bl.line.conf / 100.0
            } else {
                words.iter().map(|c| c.clamp(0.0, 100.0)).sum::<f32>() / words.len() as f32 / 100.0
            };
            let base = if m.repaired { 0.75 } else { 0.9 };
            let sec = Section {
                label: m.label.clone(),
                kind: m.kind.name().into(),
                level: 0,
                heading: heading_text,
                title,
                page: bl.page,
                lines: title_lines
                    .iter()
                    .filter(|&&j| body[j].page == bl.page)
                    .map(|&j| body[j].li)
                    .collect(),
                conf: r3(base * ocr_conf),
                text: String::new(),
                text_lines: Vec::new(),
                children: Vec::new(),
            };
            close(&mut stack, &mut roots, m.rank);
            stack.push(Open { rank: m.rank, sec });
            i += title_lines.len();
            continue;
        }
        if let Some(top) = stack.last_mut() {
            let s = &mut top.sec;
            if !s.text.is_empty() {
                s.text.push('\n');
            }
            s.text.push_str(bl.line.text.trim());
            match s.text_lines.last_mut() {
                Some(span) if span.page == bl.page && bl.li > span.last => span.last = bl.li,
                _ => s.text_lines.push(LineSpan {
                    page: bl.page,
                    first: bl.li,
                    last: bl.li,
                }),
            }
        }
        i += 1;
    }
    close(&mut stack, &mut roots, 0);
    fn set_level(v: &mut [Section], level: usize) {
        for s in v {
            s.level = level;
            set_level(&mut s.children, level + 1);
        }
    }
    set_level(&mut roots, 1);
    (!roots.is_empty()).then_some(roots)
}

/// Whether body line `i` starts a heading: its numbering and the lines its title takes.
fn heading_at(body: &[BodyLine], i: usize, expected_roman: usize) -> Option<(Marker, Vec<usize>)> {
    let bl = &body[i];
    let text = bl.line.text.trim();
    let ocr = bl.line.ocr_text.trim();
    let m = marker(text, expected_roman)
        .or_else(|| marker(ocr, expected_roman).filter(|m| m.kind == MKind::Roman))?;
    let toks: Vec<&str> = text.split_whitespace().collect();
    let title_words = toks.get(m.title_from..).unwrap_or(&[]);
    let title = title_words.join(" ");
    let next = body.get(i + 1);
    // A sentence ends on its last word ("huyện;"); a mark standing apart ("huyện ;") is OCR noise.
    let core = without_crumbs(text);
    let ends_sentence = core.ends_with(['.', ';', ',']);
    let title_upper = upper_ratio(&title).max(upper_ratio(ocr)) >= 0.6 && letters(&title) >= 2;
    let mut title_lines = vec![i];
    let accept = match m.kind {
        MKind::Part | MKind::Chapter | MKind::LegalSection => {
            // The title is the next line in capitals when this one has only the number.
            if letters(&title) < 2 && next.is_some_and(|n| upper_ratio(&n.line.text) >= 0.6) {
                title_lines.push(i + 1);
            }
            true
        }
        MKind::Article => !title.is_empty(),
        MKind::Roman => {
            (title_upper || (!ends_sentence && !continues(bl, next)))
                && title.chars().next().is_some_and(|c| !c.is_lowercase())
        }
        MKind::Number | MKind::Decimal | MKind::Letter => {
            // "1. Mục đích." is a heading when a paragraph follows it, not the next item of a list.
            let same_kind = |l: Option<&BodyLine>| {
                l.is_some_and(|l| marker(l.line.text.trim(), 0).is_some_and(|x| x.kind == m.kind))
            };
            let prev = i.checked_sub(1).map(|j| &body[j]);
            let short_with_period = core.ends_with('.')
                && title_words.len() <= 8
                && !same_kind(next)
                && !same_kind(prev);
            (!ends_sentence || short_with_period)
                && !continues(bl, next)
                && title.chars().next().is_some_and(|c| c.is_uppercase())
                && title_words.len() <= 20
        }
    };
    if !accept {
        return None;
    }
    // A title in capitals may wrap onto a second line.
    if matches!(m.kind, MKind::Roman) && title_upper {
        let mut j = i;
        while title_lines.len() < 3
            && continues(&body[j], body.get(j + 1))
            && upper_ratio(&body[j + 1].line.text) >= 0.6
        {
            j += 1;
            title_lines.push(j);
        }
    }
    Some((m, title_lines))
}

fn trim_title(s: &str) -> String {
    without_crumbs(s)
        .trim_end_matches([':', ' '])
        .trim()
        .to_string()
}

/// The text without trailing words that have no letter or digit ("Cấp huyện ;" → "Cấp huyện").
fn without_crumbs(s: &str) -> String {
    let mut words: Vec<&str> = s.split_whitespace().collect();
    while words.len() > 1
        && words
            .last()
            .is_some_and(|w| !w.chars().any(char::is_alphanumeric))
    {
        words.pop();
    }
    words.join(" ")
}

// ---------------------------------------------------------------------------------------------

pub fn extract(doc: &Document) -> Fields {
    let pages: Vec<PageCtx> = doc.pages.iter().map(PageCtx::new).collect();
    let Some(first) = pages.first() else {
        return Fields::default();
    };
    let head = header(first);
    let mut f = head.fields;
    let closing = closing(&pages);
    f.signer = closing.signer;
    f.recipients = closing.recipients;
    f.sections = sections(&pages, (0, head.body_start_y), closing.start);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn party_and_state_numbers_are_normalised() {
        assert_eq!(number("Số 152 -KH/HU").as_deref(), Some("152-KH/HU"));
        assert_eq!(number("Số: 101/KH-UBND").as_deref(), Some("101/KH-UBND"));
        assert_eq!(
            number("Số: 12/2023/QĐ-UBND").as_deref(),
            Some("12/2023/QĐ-UBND")
        );
        assert_eq!(number("S6 1O1 /KH-UBND").as_deref(), Some("101/KH-UBND"));
        assert_eq!(number("Số 15-KH/HỦ").as_deref(), Some("15-KH/HU"));
        assert_eq!(
            number("Luật số: 91/2015/QH13").as_deref(),
            Some("91/2015/QH13")
        );
        assert_eq!(number("Số lượng cán bộ"), None);
        assert_eq!(number("Số 12 cán bộ"), None);
    }

    #[test]
    fn place_and_date_from_the_header_line() {
        let (place, date) = place_date("Đức Trọng, ngày 15 tháng 9 năm 2023").unwrap();
        assert_eq!(place.as_deref(), Some("Đức Trọng"));
        assert_eq!(date, "2023-09-15");
        let (place, date) = place_date("Hà Nội , ngày O5 tháng 02 năm 2024").unwrap();
        assert_eq!(place.as_deref(), Some("Hà Nội"));
        assert_eq!(date, "2024-02-05");
        assert_eq!(place_date("ngày 31 tháng 2 năm 2023"), None);
        assert_eq!(
            place_date("Kế hoạch 90-KH/TU ngày 25/7/2023 của Tỉnh ủy"),
            None
        );
    }

    #[test]
    fn numbering_markers() {
        let m = marker("II. MỤC TIÊU", 2).unwrap();
        assert_eq!((m.kind, m.label.as_str()), (MKind::Roman, "II"));
        let m = marker("Il. MỤC TIÊU", 2).unwrap();
        assert_eq!(
            (m.kind, m.label.as_str(), m.repaired),
            (MKind::Roman, "II", true)
        );
        let m = marker("IH. TỔ CHỨC THỰC HIỆN", 3).unwrap();
        assert_eq!((m.kind, m.label.as_str()), (MKind::Roman, "III"));
        let m = marker("L. MỤC ĐÍCH", 1).unwrap();
        assert_eq!((m.kind, m.label.as_str()), (MKind::Roman, "I"));
        let m = marker("IH. HÌNH THỨC TỔ CHỨC", 2).unwrap();
        assert_eq!((m.kind, m.label.as_str()), (MKind::Roman, "II"));
        assert!(marker("IH. TỔ CHỨC THỰC HIỆN", 5).is_none());
        let m = marker("2.1. Tổ chức", 1).unwrap();
        assert_eq!(
            (m.kind, m.label.as_str(), m.rank),
            (MKind::Decimal, "2.1", 22)
        );
        let m = marker("a) Đối với", 1).unwrap();
        assert_eq!((m.kind, m.label.as_str()), (MKind::Letter, "a"));
        let m = marker("Điều 5. Áp dụng tập quán", 1).unwrap();
        assert_eq!((m.kind, m.label.as_str()), (MKind::Article, "5"));
        assert!(marker("Mục tiêu chung", 1).is_none());
        assert!(marker("57-KL/TW của Bộ Chính trị", 1).is_none());
        assert!(marker("Việt Nam", 1).is_none());
    }

    #[test]
    fn folding_and_names() {
        assert_eq!(
            fold("Độc lập - Tự do - Hạnh phúc"),
            "DOC LAP - TU DO - HANH PHUC"
        );
        assert!(looks_like_name("Lê Hồng Khánh"));
        assert!(looks_like_name("Nguyễn Tấn Phước"));
        assert!(!looks_like_name("PHÓ BÍ THƯ"));
        assert!(!looks_like_name("Lưu VPHU."));
        assert!(is_authority("T/M BAN THƯỜNG VỤ"));
        assert!(is_authority("KT. CHỦ TỊCH"));
        assert!(is_authority("TM. ỦY BAN NHÂN DÂN"));
        assert!(!is_authority("TỔ CHỨC THỰC HIỆN"));
    }
}

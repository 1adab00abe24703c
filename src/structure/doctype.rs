//! Type and summary: the document type from its centred title line ("KẾ HOẠCH", "QUYẾT ĐỊNH") or
//! from the code in its number ("152-KH/HU" → KẾ HOẠCH), and the trích yếu under the title (or
//! the "V/v" lines of a letter). The header decides where to look; this file reads what is there.

use super::markers::marker;
use super::segments::{field, line_toks, PageCtx, Seg, Tok};
use super::text::{fold, is_separator, key, letters, sim, upper_ratio};
use crate::fields::Field;

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
pub(super) fn type_line(pc: &PageCtx, li: usize) -> Option<(&'static str, usize, f32)> {
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

/// The type a number's code names: "152-KH/HU" → KẾ HOẠCH, "12/2023/QĐ-UBND" → QUYẾT ĐỊNH.
pub(super) fn type_from_number(n: &str) -> Option<&'static str> {
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

pub(super) fn starts_vv(t: &str) -> bool {
    let f = fold(t.trim_start());
    f.starts_with("V/V") || f.starts_with("V/ V") || f.starts_with("V.V") || f.starts_with("V/Y")
}

/// The trích yếu under the type line: centred lines close below it, in one case style, up to a
/// rule, a gap or the first heading. Returns the field and the bottom of its last line.
pub(super) fn summary_after(pc: &PageCtx, tl: usize, rest: Seg) -> (Option<Field<String>>, f32) {
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

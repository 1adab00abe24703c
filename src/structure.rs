//! Structure: administrative fields of Vietnamese State and Party documents, read from the
//! restored text. A field that is not found is `None` (JSON null), never guessed.

use crate::doc::Document;
use serde::{Deserialize, Serialize};

/// Where a field was read: 1-based page, 0-based line indices on that page, and a confidence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Field<T> {
    pub value: T,
    pub page: usize,
    pub lines: Vec<usize>,
    pub conf: f32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Fields {
    pub national_header: Option<Field<Vec<String>>>,
    pub issuer: Option<Field<Vec<String>>>,
    pub number: Option<Field<String>>,
    pub place: Option<Field<String>>,
    /// ISO 8601 (YYYY-MM-DD).
    pub date: Option<Field<String>>,
    #[serde(rename = "type")]
    pub doc_type: Option<Field<String>>,
}

struct LineRef<'a> {
    page: usize,
    line: usize,
    text: &'a str,
}

fn all_lines(doc: &Document) -> Vec<LineRef<'_>> {
    doc.pages
        .iter()
        .flat_map(|p| p.lines.iter().enumerate().map(move |(i, l)| LineRef { page: p.index, line: i, text: l.text.as_str() }))
        .collect()
}

const TYPES: [&str; 12] = [
    "KẾ HOẠCH", "QUYẾT ĐỊNH", "BÁO CÁO", "THÔNG BÁO", "CÔNG VĂN", "NGHỊ QUYẾT", "CHỈ THỊ", "HƯỚNG DẪN",
    "TỜ TRÌNH", "KẾT LUẬN", "QUY ĐỊNH", "CHƯƠNG TRÌNH",
];

pub fn extract(doc: &Document) -> Fields {
    let lines = all_lines(doc);
    // The header lives on the first page, before the body starts.
    let head: Vec<&LineRef> = lines.iter().filter(|l| l.page == 1).take(20).collect();
    let mut f = Fields::default();
    for l in &head {
        let up = l.text.to_uppercase();
        if f.doc_type.is_none() {
            if let Some(t) = TYPES.iter().find(|t| up.trim() == **t) {
                f.doc_type = Some(Field { value: t.to_string(), page: l.page, lines: vec![l.line], conf: 0.95 });
            }
        }
        if f.date.is_none() {
            if let Some((place, date)) = place_date(l.text) {
                f.date = Some(Field { value: date, page: l.page, lines: vec![l.line], conf: 0.9 });
                if let Some(p) = place {
                    f.place = Some(Field { value: p, page: l.page, lines: vec![l.line], conf: 0.85 });
                }
            }
        }
        if f.number.is_none() {
            if let Some(n) = number(l.text) {
                f.number = Some(Field { value: n, page: l.page, lines: vec![l.line], conf: 0.9 });
            }
        }
    }
    f
}

/// "Số: 101/KH-UBND", "Số 152 -KH/HU" → "101/KH-UBND", "152-KH/HU".
pub fn number(text: &str) -> Option<String> {
    let t = text.trim_start();
    let pos = t.find("Số")?;
    let rest = t[pos + "Số".len()..].trim_start_matches([':', ' ', '.']);
    let mut out = String::new();
    for c in rest.chars() {
        if c.is_alphanumeric() || matches!(c, '/' | '-' | 'Đ' | '.') {
            out.push(c);
        } else if c == ' ' {
            continue; // OCR splits "152 -KH/HU"
        } else {
            break;
        }
        if out.len() > 40 {
            break;
        }
    }
    let out = out.trim_end_matches(['.', '-']).to_string();
    (out.chars().next()?.is_ascii_digit() && out.contains(['/', '-'])).then_some(out)
}

/// "Đức Trọng, ngày 15 tháng 9 năm 2023" → (Some("Đức Trọng"), "2023-09-15").
pub fn place_date(text: &str) -> Option<(Option<String>, String)> {
    let lower = text.to_lowercase();
    let ngay = lower.find("ngày")?;
    let nums: Vec<u32> = lower[ngay..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .take(3)
        .collect();
    if nums.len() < 3 || !lower[ngay..].contains("tháng") || !lower[ngay..].contains("năm") {
        return None;
    }
    let (d, m, y) = (nums[0], nums[1], nums[2]);
    if !(1..=31).contains(&d) || !(1..=12).contains(&m) || !(1900..=2100).contains(&y) {
        return None;
    }
    // The original text's byte offsets match the lower-cased text's only for ASCII; cut by chars.
    let prefix_chars = lower[..ngay].chars().count();
    let place: String = text.chars().take(prefix_chars).collect();
    let place = place.trim().trim_end_matches(',').trim().to_string();
    let place = (!place.is_empty() && place.chars().count() < 40).then_some(place);
    Some((place, format!("{y:04}-{m:02}-{d:02}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn party_and_state_numbers_are_normalised() {
        assert_eq!(number("Số 152 -KH/HU").as_deref(), Some("152-KH/HU"));
        assert_eq!(number("Số: 101/KH-UBND").as_deref(), Some("101/KH-UBND"));
        assert_eq!(number("Số lượng cán bộ"), None);
    }

    #[test]
    fn place_and_date_from_the_header_line() {
        let (place, date) = place_date("Đức Trọng, ngày 15 tháng 9 năm 2023").unwrap();
        assert_eq!(place.as_deref(), Some("Đức Trọng"));
        assert_eq!(date, "2023-09-15");
    }
}

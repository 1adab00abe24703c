//! Identifiers and dates: the document number ("Số: 101/KH-UBND" → "101/KH-UBND") and the
//! place-and-date line ("Đức Trọng, ngày 15 tháng 9 năm 2023"), read from text with the usual
//! OCR confusions repaired. Text in, values out: the header reads them, and the segmenter uses
//! them to find where a merged header line changes column.

use super::text::{key, letters, sim};
use unicode_normalization::UnicodeNormalization;

pub(super) fn is_ngay(w: &str) -> bool {
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
pub(super) fn place_date_toks(words: &[&str]) -> Option<(Option<String>, Option<String>, usize)> {
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
}

//! Text helpers of the structure stage: folding to unaccented capitals, fuzzy matching, and the
//! word tests that more than one part of the reading needs (a rule line, a dash, a signing
//! authority, crumbs at a segment's edges). They only look at strings, so every other file of
//! `structure` may use them and they use none.

pub use crate::text::fold;

/// Folded letters and digits only, for fuzzy keyword matching.
pub(super) fn key(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

pub(super) fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

pub(super) use crate::text::levenshtein;

/// 1 − normalised edit distance.
pub(super) fn sim(a: &str, b: &str) -> f32 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let n = a.len().max(b.len());
    if n == 0 {
        return 1.0;
    }
    1.0 - levenshtein(&a, &b) as f32 / n as f32
}

/// Share of the letters that are capitals (0 when there are none).
pub(super) fn upper_ratio(s: &str) -> f32 {
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

pub(super) fn letters(s: &str) -> usize {
    s.chars().filter(|c| c.is_alphabetic()).count()
}

/// Rules and ornaments: "*", "-----", "___", "o0o".
pub(super) fn is_separator(s: &str) -> bool {
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

pub(super) fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '–' | '—' | '−' | '_' | '~' | '•' | '+' | '*' | '·' | '‒'
    )
}

pub(super) fn r3(x: f32) -> f32 {
    (x.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

pub(super) fn trim_punct(s: &str) -> &str {
    s.trim().trim_end_matches([';', ',', '.', ':', ' ']).trim()
}

/// Drop OCR crumbs at the ends of a segment: ".PHÓ BÍ THƯ" → "PHÓ BÍ THƯ".
pub(super) fn clean_edges(s: &str) -> String {
    s.trim()
        .trim_start_matches(|c: char| !c.is_alphanumeric() && c != '(' && c != '“' && c != '"')
        .trim_end_matches(|c: char| {
            matches!(c, ',' | ';' | '|' | '_' | '~' | '*' | '•' | '-' | '—' | ' ')
        })
        .trim()
        .to_string()
}

pub(super) fn is_authority(t: &str) -> bool {
    let f = fold(t.trim_start_matches(|c: char| !c.is_alphanumeric()));
    let compact: String = f.chars().filter(|c| !c.is_whitespace()).collect();
    let first = f.split_whitespace().next().unwrap_or("");
    // "KT," for "KT.": on real scans the seal's ring often turns the full stop into a comma.
    let first = match first.strip_suffix(',') {
        Some(f) if ["TM", "KT", "TL", "TUQ"].contains(&f) => f,
        _ => first,
    };
    // TM (thay mặt), KT (ký thay), TL (thừa lệnh), TUQ (thừa ủy quyền), Q. (quyền).
    ["T/M", "T.M", "T/IM", "K/T", "K.T", "T/L", "T.L"]
        .iter()
        .any(|p| compact.starts_with(p))
        || ["TM", "TM.", "KT", "KT.", "TL", "TL.", "TUQ", "TUQ.", "Q."].contains(&first)
        || compact.starts_with("THUALENH")
        || compact.starts_with("THUAUYQUYEN")
        || compact.starts_with("THAYMAT")
}

/// The signing authority as printed: a leading "KT," (the seal made a comma of the full stop)
/// is "KT.".
pub(super) fn mend_authority(t: &str) -> String {
    for a in ["KT", "TM", "TL", "TUQ"] {
        if let Some(rest) = t.strip_prefix(a).and_then(|r| r.strip_prefix(',')) {
            return format!("{a}.{rest}");
        }
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_authorities() {
        assert_eq!(
            fold("Độc lập - Tự do - Hạnh phúc"),
            "DOC LAP - TU DO - HANH PHUC"
        );
        assert!(is_authority("T/M BAN THƯỜNG VỤ"));
        assert!(is_authority("KT. CHỦ TỊCH"));
        assert!(is_authority("KT, BỘ TRƯỞNG"));
        assert_eq!(mend_authority("KT, BỘ TRƯỞNG"), "KT. BỘ TRƯỞNG");
        assert_eq!(mend_authority("KTX, NHÀ Ở"), "KTX, NHÀ Ở");
        assert!(is_authority("TM. ỦY BAN NHÂN DÂN"));
        assert!(!is_authority("TỔ CHỨC THỰC HIỆN"));
    }
}

//! Heading numbers: the numbering that starts a line ("II.", "2.", "2.1.", "a)", "Điều 5.",
//! "Chương I"), its kind and nesting rank, with the OCR slips of roman numbers repaired
//! ("Il." → II). The sections are built from these; the summary stops at one.

use super::text::{fold, upper_ratio};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum MKind {
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
    pub(super) fn name(self) -> &'static str {
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
pub(super) struct Marker {
    pub(super) kind: MKind,
    pub(super) label: String,
    /// Nesting rank: smaller is higher.
    pub(super) rank: u8,
    /// Index of the first title word.
    pub(super) title_from: usize,
    /// Whether the number had to be repaired (OCR "Il." for "II.").
    pub(super) repaired: bool,
}

pub(super) fn roman_value(s: &str) -> Option<usize> {
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

pub(super) fn to_roman(mut n: usize) -> String {
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
pub(super) fn marker(text: &str, expected_roman: usize) -> Option<Marker> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

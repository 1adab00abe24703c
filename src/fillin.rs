//! Handwritten fill-ins: the number of a decision ("Số: 707 /QĐ-TTg") and the day and month of
//! its date ("ngày 22 tháng 4 năm 2026") are often written by hand into blanks of the printed
//! form. Read as text among print, they come out as letters or wrong digits at low confidence
//! ("TÚT" for a handwritten 707, "23" for 22 on the real annex). Cut out and read again as a
//! single line of digits only, Tesseract reads both right; this stage does that for the slots
//! the form's words point at, and only where the first reading is in doubt.

use crate::doc::{Line, Word};
use crate::ocr::Engine;
use crate::raster::PageImage;
use std::time::Instant;

/// A reading at least this sure that is already digits is left alone: print reads at 90 and
/// more; the handwritten slots on the real pages read at 16-51.
const SURE: f32 = 85.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    /// A document's number, before its code ("707" in "707 /QĐ-TTg").
    Number,
    Day,
    Month,
}

impl Slot {
    fn accepts(self, digits: &str) -> bool {
        let n: u32 = match digits.parse() {
            Ok(n) if !digits.is_empty() => n,
            _ => return false,
        };
        match self {
            Slot::Number => digits.len() <= 5 && n > 0,
            Slot::Day => digits.len() <= 2 && (1..=31).contains(&n),
            Slot::Month => digits.len() <= 2 && (1..=12).contains(&n),
        }
    }
}

/// The form's word, lowercase, without edge punctuation, marked or not ("Số:" → "số";
/// "thang" → "tháng").
fn bare(w: &Word) -> String {
    let core = w
        .text
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    let marked = [
        ("so", "số"),
        ("ngay", "ngày"),
        ("thang", "tháng"),
        ("nam", "năm"),
    ];
    match marked.iter().find(|(plain, _)| *plain == core) {
        Some((_, m)) => m.to_string(),
        None => core,
    }
}

/// Slots of a line: (index of the word, what it holds).
fn slots(words: &[Word]) -> Vec<(usize, Slot)> {
    let mut out = Vec::new();
    let bare: Vec<String> = words.iter().map(bare).collect();
    for i in 0..words.len() {
        let next = words.get(i + 1).map_or("", |w| w.text.as_str());
        // "Số: 707 /QĐ-TTg": a code that starts with "/" after a separate word, "số" just before.
        let code = next.starts_with('/') && next.contains('-') && next.chars().count() > 3;
        if code && i >= 1 && bare[i - 1] == "số" {
            out.push((i, Slot::Number));
        }
        let between = |a: &str, b: &str| {
            i >= 1 && bare[i - 1] == a && bare.get(i + 1).is_some_and(|x| x == b)
        };
        if between("ngày", "tháng") {
            out.push((i, Slot::Day));
        }
        if between("tháng", "năm") {
            out.push((i, Slot::Month));
        }
    }
    out
}

/// Read the doubtful fill-in slots of `lines` again as digits. Returns how many were changed.
pub fn reread_fillins(
    engine: &mut Engine,
    page: &PageImage,
    lines: &mut [Line],
    deadline: Option<Instant>,
) -> crate::error::Result<usize> {
    let mut changed = 0;
    for line in lines.iter_mut() {
        let mut merged = Vec::new();
        let mut touched = false;
        for (i, slot) in slots(&line.words) {
            let w = &line.words[i];
            let digits = w.text.chars().all(|c| c.is_ascii_digit());
            if digits && w.conf >= SURE && slot.accepts(&w.text) {
                continue;
            }
            let Some((read, conf)) = read_word(engine, page, w, "0123456789", deadline)? else {
                continue;
            };
            if !slot.accepts(&read) || read == w.text {
                continue;
            }
            log::debug!(
                "fill-in {slot:?}: {:?} ({:.0}) read again as {read:?} ({conf:.0})",
                w.text,
                w.conf
            );
            let w = &mut line.words[i];
            w.text = read.clone();
            w.ocr_text = read;
            w.conf = conf;
            changed += 1;
            touched = true;
            if slot == Slot::Number {
                merged.push(i);
            }
        }
        // The number and its code are one token in the text ("707/QĐ-TTg"), as printed ones are.
        for &i in merged.iter().rev() {
            let code = line.words.remove(i + 1);
            line.words[i].absorb(code);
        }
        if touched {
            line.refresh_text();
        }
    }
    changed += reread_unsure_digits(engine, page, lines, deadline)?;
    Ok(changed)
}

/// A number with a "?" where a digit should be ("6/202?" for a deadline "6/2027"): the word is
/// read again as digits and separators, and taken when only the "?" changed.
fn reread_unsure_digits(
    engine: &mut Engine,
    page: &PageImage,
    lines: &mut [Line],
    deadline: Option<Instant>,
) -> crate::error::Result<usize> {
    let mut changed = 0;
    for line in lines.iter_mut() {
        let mut touched = false;
        for w in line.words.iter_mut() {
            let cs: Vec<char> = w.text.chars().collect();
            let digits = cs.iter().filter(|c| c.is_ascii_digit()).count();
            if !cs.contains(&'?') || digits < 2 {
                continue;
            }
            let Some((read, conf)) = read_word(engine, page, w, "0123456789/.-", deadline)? else {
                continue;
            };

            let rs: Vec<char> = read.chars().collect();
            let fits = rs.len() == cs.len()
                && cs
                    .iter()
                    .zip(&rs)
                    .all(|(a, b)| a == b || (*a == '?' && b.is_ascii_digit()));
            if fits {
                log::debug!(
                    "unsure number {:?} read again as {read:?} ({conf:.0})",
                    w.text
                );
                w.text = read.clone();
                w.ocr_text = read;
                touched = true;
                changed += 1;
            }
        }
        if touched {
            line.refresh_text();
        }
    }
    Ok(changed)
}

/// A word's box, with a margin of a third of its height across and a fifth up and down, read
/// again as one line of the characters in `allowed`.
fn read_word(
    engine: &mut Engine,
    page: &PageImage,
    w: &Word,
    allowed: &str,
    deadline: Option<Instant>,
) -> crate::error::Result<Option<(String, f32)>> {
    let [l, t, r, b] = w.bbox;
    let (px, py) = ((b - t) / 3, (b - t) / 5);
    engine.read_only(page, [l - px, t - py, r + px, b + py], allowed, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Word> {
        text.split_whitespace()
            .map(|t| Word {
                text: t.into(),
                ocr_text: t.into(),
                bbox: [0, 0, 10, 10],
                conf: 90.0,
                restore_conf: None,
            })
            .collect()
    }

    #[test]
    fn the_forms_words_point_at_the_number_and_the_date() {
        let w = words("theo Quyết định số TÚT /QĐ-TTg ngày 23 tháng 4 năm 2026");
        assert_eq!(
            slots(&w),
            vec![(4, Slot::Number), (7, Slot::Day), (9, Slot::Month)]
        );
        // A printed reference is one token; a year is no slot; "số" far away is no number.
        assert!(slots(&words("Quyết định số 707/QĐ-TTg năm 2026")).is_empty());
        assert!(slots(&words("số lượng 12 /QĐ-TTg")).is_empty());
    }

    #[test]
    fn a_slot_takes_only_what_it_can_hold() {
        assert!(Slot::Number.accepts("707"));
        assert!(!Slot::Number.accepts("0"));
        assert!(Slot::Day.accepts("22") && !Slot::Day.accepts("32"));
        assert!(Slot::Month.accepts("4") && !Slot::Month.accepts("13"));
        assert!(!Slot::Day.accepts(""));
    }
}

//! One spelling per abbreviation in a document. Administrative texts repeat their abbreviations
//! ("FATF", "TTPBVKHDHL") many times; Tesseract misreads a few of them by one look-alike letter
//! ("FATE", "TTPBVKHDHIL"). A rare all-capital spelling one such slip from a spelling the same
//! document uses at least twice as often, and at least twice, is taken for that one. No model
//! knows these abbreviations; the document itself does.

use crate::doc::Page;
use std::collections::HashMap;

/// Abbreviations shorter than this are left alone: "BTC" and "BTP" are different ministries.
const MIN_LEN: usize = 4;

/// Letters Tesseract reads for one another in capitals.
const LOOK_ALIKE: [(char, char); 10] = [
    ('E', 'F'),
    ('I', 'L'),
    ('I', 'T'),
    ('O', 'Q'),
    ('O', 'D'),
    ('C', 'G'),
    ('H', 'N'),
    ('M', 'N'),
    ('U', 'V'),
    ('P', 'F'),
];

fn look_alike(a: char, b: char) -> bool {
    LOOK_ALIKE.contains(&(a, b)) || LOOK_ALIKE.contains(&(b, a))
}

/// `rare` is `common` with one letter read as a look-alike, or with an "I" or "L" too many
/// (a stroke beside "L" read as "IL").
fn one_slip(rare: &[char], common: &[char]) -> bool {
    if rare.len() == common.len() {
        let diff: Vec<(char, char)> = rare
            .iter()
            .zip(common)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| (*a, *b))
            .collect();
        return matches!(diff.as_slice(), [(a, b)] if look_alike(*a, *b));
    }
    if rare.len() == common.len() + 1 {
        return (0..rare.len()).any(|i| {
            matches!(rare[i], 'I' | 'L') && rare[..i] == common[..i] && rare[i + 1..] == common[i..]
        });
    }
    false
}

/// The pieces of a word that may be abbreviations: runs of capital ASCII letters between
/// separators ("PCRT/TTKB/TTPBVKHDHL." gives three), as (start, end) char offsets.
fn pieces(cs: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for i in 0..=cs.len() {
        let cap = cs.get(i).is_some_and(|c| c.is_ascii_uppercase());
        match (start, cap) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                // A piece glued to small letters or digits is a word or a code, not an abbreviation.
                let glued = |j: Option<&char>| j.is_some_and(|c| c.is_alphanumeric());
                if i - s >= MIN_LEN
                    && !glued(s.checked_sub(1).and_then(|j| cs.get(j)))
                    && !glued(cs.get(i))
                {
                    out.push((s, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Give each rare misspelling of a document's abbreviations the spelling it uses most, on its
/// OCR'd pages (a PDF's own text is counted, never changed). `is_syllable` keeps capitalised
/// Vietnamese words ("TRONG", "THANH") out of it. Returns how many words changed.
pub fn mend(pages: &mut [Page], is_syllable: impl Fn(&str) -> bool) -> usize {
    let mut counts: HashMap<Vec<char>, usize> = HashMap::new();
    for w in pages.iter().flat_map(|p| &p.lines).flat_map(|l| &l.words) {
        let cs: Vec<char> = w.text.chars().collect();
        for (a, b) in pieces(&cs) {
            *counts.entry(cs[a..b].to_vec()).or_default() += 1;
        }
    }
    let is_word = |p: &[char]| is_syllable(&p.iter().collect::<String>().to_lowercase());
    let mut fix: HashMap<Vec<char>, Vec<char>> = HashMap::new();
    for (rare, &n) in &counts {
        if is_word(rare) {
            continue;
        }
        let best = counts
            .iter()
            .filter(|(common, &m)| {
                m >= 2 && m >= 2 * n && !is_word(common) && one_slip(rare, common)
            })
            .max_by_key(|(common, &m)| (m, std::cmp::Reverse((*common).clone())));
        if let Some((common, _)) = best {
            fix.insert(rare.clone(), common.clone());
        }
    }
    if fix.is_empty() {
        return 0;
    }
    let mut changed = 0;
    let ocr = pages.iter_mut().filter(|p| p.source == "ocr");
    for line in ocr.flat_map(|p| &mut p.lines) {
        let mut touched = false;
        for w in &mut line.words {
            let cs: Vec<char> = w.text.chars().collect();
            let mut out: Vec<char> = Vec::with_capacity(cs.len());
            let mut at = 0;
            for (a, b) in pieces(&cs) {
                out.extend_from_slice(&cs[at..a]);
                out.extend_from_slice(fix.get(&cs[a..b]).map_or(&cs[a..b], |c| c.as_slice()));
                at = b;
            }
            out.extend_from_slice(&cs[at..]);
            if out != cs {
                w.text = out.into_iter().collect();
                touched = true;
                changed += 1;
            }
        }
        if touched {
            line.refresh_text();
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{Line, Word};

    fn page(text: &str) -> Page {
        let mut line = Line::new([0, 0, 10, 10], 90.0, 0);
        line.words = text
            .split(' ')
            .map(|t| Word::new(t.into(), [0, 0, 10, 10], 90.0))
            .collect();
        line.refresh_text();
        let mut p = Page::new(1, 100, 100, 300.0, vec![line]);
        p.source = "ocr".into();
        p
    }

    #[test]
    fn a_rare_slip_takes_the_documents_usual_spelling() {
        let mut pages = vec![
            page("khuyến nghị của FATF, FATF. tội TTPBVKHDHL; RT/TTKB/TTPBVKHDHL"),
            page("chuẩn mực Basel, FATE, PCRT/TTKB/TTPBVKHDHIL THANH TRA"),
        ];
        let n = mend(&mut pages, |s| s == "thanh");
        assert_eq!(n, 2);
        assert_eq!(
            pages[1].lines[0].text,
            "chuẩn mực Basel, FATF, PCRT/TTKB/TTPBVKHDHL THANH TRA"
        );
    }

    #[test]
    fn different_abbreviations_and_short_ones_stay() {
        // BTC and BTP are two ministries; UBND and HĐND two bodies; equally frequent spellings
        // are two words.
        let mut pages = vec![page("BTC BTC BTP UBND UBND HĐND TTKB TTKD")];
        assert_eq!(mend(&mut pages, |_| false), 0);
    }
}

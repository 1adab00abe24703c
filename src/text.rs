//! Text helpers shared by stages: Unicode normalisation and the accuracy metrics.

use unicode_normalization::UnicodeNormalization;

pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// NFC with every whitespace run collapsed to one space, trimmed: the form both sides of a CER or
/// WER comparison are put in.
pub fn normalize_for_eval(s: &str) -> String {
    nfc(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

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

/// Edits (insertions, deletions, substitutions) that turn `a` into `b`.
pub fn levenshtein<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    if a.is_empty() {
        return b.len();
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(x != y);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Order-free syllable errors: the hypothesis and the reference as bags (multisets) of
/// syllables, `max(|ref|, |hyp|) − matched`, where `matched` is the size of the bags'
/// intersection. It is the `S + D + I` of an alignment that may reorder freely (a syllable in
/// both bags is a hit wherever it stands; the rest pair up as substitutions, the surplus of one
/// side are deletions or insertions), so it is never above the ordered syllable errors. It
/// measures what was read, not the order it was read in: a table read column by column instead
/// of row by row, or a seal's text put before the line it covers, costs nothing here.
pub fn bag_errors(hyp: &[&str], reference: &[&str]) -> usize {
    let mut bag: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for w in reference {
        *bag.entry(w).or_default() += 1;
    }
    let mut matched = 0;
    for w in hyp {
        if let Some(n) = bag.get_mut(w) {
            if *n > 0 {
                *n -= 1;
                matched += 1;
            }
        }
    }
    hyp.len().max(reference.len()) - matched
}

/// Edit counts for one hypothesis against its reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    pub char_errors: usize,
    pub chars: usize,
    pub word_errors: usize,
    pub words: usize,
    /// Order-free syllable errors ([`bag_errors`]), over the same `words`.
    pub bag_errors: usize,
}

impl ErrorCounts {
    pub fn of(hyp: &str, reference: &str) -> ErrorCounts {
        let (h, r) = (normalize_for_eval(hyp), normalize_for_eval(reference));
        let (hc, rc): (Vec<char>, Vec<char>) = (h.chars().collect(), r.chars().collect());
        let (hw, rw): (Vec<&str>, Vec<&str>) = (
            h.split(' ').filter(|w| !w.is_empty()).collect(),
            r.split(' ').filter(|w| !w.is_empty()).collect(),
        );
        ErrorCounts {
            char_errors: levenshtein(&hc, &rc),
            chars: rc.len(),
            word_errors: levenshtein(&hw, &rw),
            words: rw.len(),
            bag_errors: bag_errors(&hw, &rw),
        }
    }

    pub fn add(&mut self, o: ErrorCounts) {
        self.char_errors += o.char_errors;
        self.chars += o.chars;
        self.word_errors += o.word_errors;
        self.words += o.words;
        self.bag_errors += o.bag_errors;
    }

    /// Character error rate, in percent.
    pub fn cer(&self) -> f64 {
        100.0 * self.char_errors as f64 / self.chars.max(1) as f64
    }

    /// Syllable (whitespace token) error rate, in percent.
    pub fn wer(&self) -> f64 {
        100.0 * self.word_errors as f64 / self.words.max(1) as f64
    }

    /// Order-free syllable error rate ([`bag_errors`] over the reference's syllables), in
    /// percent.
    pub fn order_free(&self) -> f64 {
        100.0 * self.bag_errors as f64 / self.words.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_text_has_no_errors() {
        let e = ErrorCounts::of("Kế hoạch  số 152", "Kế hoạch số\n152");
        assert_eq!((e.char_errors, e.word_errors), (0, 0));
    }

    #[test]
    fn one_wrong_tone_is_one_char_and_one_syllable() {
        let e = ErrorCounts::of("Kê hoạch", "Kế hoạch");
        assert_eq!(
            (e.char_errors, e.chars, e.word_errors, e.words),
            (1, 8, 1, 2)
        );
    }

    #[test]
    fn order_free_error_ignores_order_but_counts_wrong_missing_and_extra_syllables() {
        // Two cells of a table row read in the other order: WER pays, order-free does not.
        let e = ErrorCounts::of("Bộ Tài chính Quý IV", "Quý IV Bộ Tài chính");
        assert!(e.word_errors > 0);
        assert_eq!(e.bag_errors, 0);
        // One wrong tone and one extra token: max(4, 5) − 3 matched = 2.
        let e = ErrorCounts::of("Kê hoạch số 90 ./", "Kế hoạch số 90");
        assert_eq!((e.bag_errors, e.words), (2, 4));
        let e = ErrorCounts::of("hoạch", "Kế hoạch số");
        assert_eq!(e.bag_errors, 2, "two deletions");
        assert!((e.order_free() - 200.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn decomposed_input_is_compared_as_nfc() {
        let decomposed = "Ke\u{302}\u{301}";
        assert_eq!(ErrorCounts::of(decomposed, "Kế").char_errors, 0);
    }
}

//! Restore: Vietnamese diacritic restoration and OCR post-correction.
//!
//! A character tagger (models/restore.onnx, run with tract-onnx) proposes, for each input
//! character, the character it should be or its deletion. Proposals are accepted per token, and
//! only when they make a valid Vietnamese syllable (models/vi_syllables.txt) that the model prefers
//! clearly enough over what was there. Numbers, dates, document codes ("57-KL/TW"), Roman
//! numerals, URLs and abbreviations pass through untouched, and case is kept.

use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tract_onnx::prelude::*;

static EMBEDDED_MODEL: &[u8] = include_bytes!("../models/restore.onnx");
static EMBEDDED_VOCAB: &str = include_str!("../models/vocab.json");
static EMBEDDED_LEXICON: &str = include_str!("../models/vi_syllables.txt");

/// Lines are cut into pieces of at most this many characters (at spaces) before tagging; the
/// model sees about 30 characters either side, so longer pieces gain nothing.
const MAX_PIECE: usize = 160;
/// Sequences run through the model together (padded to the longest).
const BATCH: usize = 32;

const VOWELS: [(&str, char); 12] = [
    ("aàảãáạ", 'a'),
    ("ăằẳẵắặ", 'a'),
    ("âầẩẫấậ", 'a'),
    ("eèẻẽéẹ", 'e'),
    ("êềểễếệ", 'e'),
    ("iìỉĩíị", 'i'),
    ("oòỏõóọ", 'o'),
    ("ôồổỗốộ", 'o'),
    ("ơờởỡớợ", 'o'),
    ("uùủũúụ", 'u'),
    ("ưừửữứự", 'u'),
    ("yỳỷỹýỵ", 'y'),
];

/// A lower-case letter without any Vietnamese mark (đ becomes d). Other characters unchanged.
pub fn strip_char(c: char) -> char {
    if c == 'đ' {
        return 'd';
    }
    if c == 'Đ' {
        return 'D';
    }
    for (forms, base) in VOWELS {
        if forms.contains(c) {
            return base;
        }
        let upper: String = forms.to_uppercase();
        if upper.contains(c) {
            return base.to_ascii_uppercase();
        }
    }
    c
}

pub fn strip_marks(s: &str) -> String {
    s.chars().map(strip_char).collect()
}

fn lower1(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn upper1(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

#[derive(serde::Deserialize)]
struct VocabFile {
    input: Vec<String>,
    output: Vec<String>,
    pad: usize,
    unk: usize,
    keep: usize,
    del: usize,
}

struct Vocab {
    input: HashMap<char, i64>,
    /// Output class of each character (to score "leave it as it is").
    output_ix: HashMap<char, usize>,
    pad: i64,
    unk: i64,
    keep: usize,
    del: usize,
}

impl Vocab {
    fn parse(json: &str) -> Result<Vocab> {
        let v: VocabFile = serde_json::from_str(json).map_err(|e| Error::Model(format!("vocab.json: {e}")))?;
        let one = |s: &String| {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        };
        let input = v.input.iter().enumerate().filter_map(|(i, s)| Some((one(s)?, i as i64))).collect();
        let output: Vec<Option<char>> = v.output.iter().map(one).collect();
        let output_ix = output.iter().enumerate().filter_map(|(i, c)| Some(((*c)?, i))).collect();
        Ok(Vocab { input, output_ix, pad: v.pad as i64, unk: v.unk as i64, keep: v.keep, del: v.del })
    }
}

/// The syllable lexicon, indexed by unmarked skeleton for constrained decoding.
struct Lexicon {
    words: HashSet<String>,
    trie: Trie,
}

/// The lexicon as a trie, for searching the best syllable under the model's per-character
/// distributions (with deletions) without scoring all 7,600 syllables.
#[derive(Default)]
struct Trie {
    children: Vec<Vec<(char, u32)>>,
    terminal: Vec<bool>,
}

impl Trie {
    fn new() -> Trie {
        Trie { children: vec![Vec::new()], terminal: vec![false] }
    }

    fn insert(&mut self, w: &str) {
        let mut node = 0usize;
        for c in w.chars() {
            node = match self.children[node].iter().find(|(k, _)| *k == c) {
                Some(&(_, n)) => n as usize,
                None => {
                    let n = self.children.len();
                    self.children.push(Vec::new());
                    self.terminal.push(false);
                    self.children[node].push((c, n as u32));
                    n
                }
            };
        }
        self.terminal[node] = true;
    }
}

/// Branch-and-bound search state for [`Restorer::lexicon_search`].
struct Search<'a> {
    trie: &'a Trie,
    lp: &'a [Vec<f32>],
    out_ix: &'a HashMap<char, usize>,
    del: usize,
    max_dels: usize,
    suffix_max: Vec<f32>,
    best: Option<(f32, Vec<char>, Vec<usize>)>,
    chars: Vec<char>,
    positions: Vec<usize>,
    budget: usize,
}

impl Search<'_> {
    fn dfs(&mut self, node: usize, k: usize, score: f32, dels: usize) {
        if self.budget == 0 {
            return;
        }
        self.budget -= 1;
        let bound = score + self.suffix_max[k];
        if self.best.as_ref().is_some_and(|b| bound <= b.0) {
            return;
        }
        let n = self.lp.len();
        if k == n {
            if self.trie.terminal[node] && !self.chars.is_empty() {
                self.best = Some((score, self.chars.clone(), self.positions.clone()));
            }
            return;
        }
        let children = &self.trie.children[node];
        let mut order: Vec<(f32, char, u32)> = children
            .iter()
            .filter_map(|&(c, child)| self.out_ix.get(&c).map(|&ix| (self.lp[k][ix], c, child)))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (l, c, child) in order {
            self.chars.push(c);
            self.positions.push(k);
            self.dfs(child as usize, k + 1, score + l, dels);
            self.chars.pop();
            self.positions.pop();
        }
        if dels < self.max_dels {
            let l = self.lp[k][self.del];
            self.dfs(node, k + 1, score + l, dels + 1);
        }
    }
}

impl Lexicon {
    fn parse(text: &str) -> Lexicon {
        let mut words = HashSet::new();
        let mut trie = Trie::new();
        for w in text.lines().map(str::trim).filter(|w| !w.is_empty()) {
            let w = crate::text::nfc(&w.to_lowercase());
            if words.insert(w.clone()) {
                trie.insert(&w);
            }
        }
        Lexicon { words, trie }
    }

    fn contains(&self, lower: &str) -> bool {
        self.words.contains(lower)
    }

}

/// How far the input can be trusted, judged from the whole text handed in at once (a page, or
/// a chunk of a file): text that carries Vietnamese marks came from a Vietnamese OCR model and is
/// mostly right; text without any came from a stripped source or an English OCR model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Marked,
    Unmarked,
}

impl Mode {
    pub fn of(lines: &[&str]) -> Mode {
        let (mut words, mut marked) = (0usize, 0usize);
        for w in lines.iter().flat_map(|l| l.split_whitespace()) {
            if w.chars().any(|c| c.is_alphabetic()) {
                words += 1;
                if w.chars().any(|c| strip_char(c) != c) {
                    marked += 1;
                }
            }
        }
        // Marked Vietnamese prose has marks on about 70 % of its syllables.
        if words > 0 && (marked as f32) < 0.2 * words as f32 {
            Mode::Unmarked
        } else {
            Mode::Marked
        }
    }
}

/// How sure the caller already is of a token (Tesseract's word confidence, 0-100).
pub type Prior = Option<f32>;

#[derive(Debug, Clone, PartialEq)]
pub struct RestoredToken {
    pub text: String,
    /// The model's probability for the token as returned (1.0 for protected tokens).
    pub conf: f32,
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RestoredLine {
    pub text: String,
    /// One entry per whitespace-separated token of the input line, in order.
    pub tokens: Vec<RestoredToken>,
}

pub struct Restorer {
    plan: std::sync::Arc<TypedRunnableModel>,
    vocab: Vocab,
    lexicon: Lexicon,
    pub model_id: String,
}

impl Restorer {
    /// The model committed in `models/`, compiled into the binary.
    pub fn embedded() -> Result<Restorer> {
        Self::from_parts(EMBEDDED_MODEL, EMBEDDED_VOCAB, EMBEDDED_LEXICON)
    }

    /// A model directory holding restore.onnx, vocab.json and vi_syllables.txt.
    pub fn from_dir(dir: &Path) -> Result<Restorer> {
        let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| Error::Model(format!("{}: {e}", dir.join(name).display())));
        let model = read("restore.onnx")?;
        let vocab = String::from_utf8_lossy(&read("vocab.json")?).into_owned();
        let lex = String::from_utf8_lossy(&read("vi_syllables.txt")?).into_owned();
        Self::from_parts(&model, &vocab, &lex)
    }

    fn from_parts(model: &[u8], vocab: &str, lexicon: &str) -> Result<Restorer> {
        let merr = |e: TractError| Error::Model(format!("{e:#}"));
        let plan = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(model))
            .map_err(merr)?
            .into_optimized()
            .map_err(merr)?
            .into_runnable()
            .map_err(merr)?;
        use sha2::Digest;
        let digest = sha2::Sha256::digest(model);
        let model_id = format!("restore.onnx sha256:{}", &crate::input::hex(&digest)[..16]);
        Ok(Restorer { plan, vocab: Vocab::parse(vocab)?, lexicon: Lexicon::parse(lexicon), model_id })
    }

    /// Restore lines of text, line for line. `priors[i][k]`, when given, is the OCR confidence of
    /// token k of line i.
    pub fn restore_lines(&self, lines: &[&str], priors: Option<&[Vec<Prior>]>) -> Result<Vec<RestoredLine>> {
        // Cut every line into pieces (char ranges) and tag all pieces in length-sorted batches.
        let chars: Vec<Vec<char>> = lines.iter().map(|l| l.chars().collect()).collect();
        let mut pieces: Vec<(usize, usize, usize)> = Vec::new(); // (line, start, end)
        for (li, cs) in chars.iter().enumerate() {
            let mut start = 0;
            while start < cs.len() {
                let mut end = (start + MAX_PIECE).min(cs.len());
                if end < cs.len() {
                    if let Some(sp) = cs[start..end].iter().rposition(|c| c.is_whitespace()) {
                        if sp > 0 {
                            end = start + sp;
                        }
                    }
                }
                pieces.push((li, start, end));
                start = end;
            }
        }
        let mut order: Vec<usize> = (0..pieces.len()).collect();
        order.sort_by_key(|&i| pieces[i].2 - pieces[i].1);
        // probs[line][char] = class distribution for that char
        let mut probs: Vec<Vec<Vec<f32>>> = chars.iter().map(|c| vec![Vec::new(); c.len()]).collect();
        for batch in order.chunks(BATCH) {
            let t = batch.iter().map(|&i| pieces[i].2 - pieces[i].1).max().unwrap_or(0);
            if t == 0 {
                continue;
            }
            let mut ids = vec![self.vocab.pad; batch.len() * t];
            for (b, &pi) in batch.iter().enumerate() {
                let (li, s, e) = pieces[pi];
                for (k, c) in chars[li][s..e].iter().enumerate() {
                    ids[b * t + k] = *self.vocab.input.get(&lower1(*c)).unwrap_or(&self.vocab.unk);
                }
            }
            let input = tract_ndarray::Array2::from_shape_vec((batch.len(), t), ids)
                .map_err(|e| Error::Model(e.to_string()))?;
            let out = self.plan.run(tvec!(Tensor::from(input).into())).map_err(|e| Error::Model(format!("{e:#}")))?;
            let logits = out[0].to_plain_array_view::<f32>().map_err(|e| Error::Model(format!("{e:#}")))?;
            for (b, &pi) in batch.iter().enumerate() {
                let (li, s, e) = pieces[pi];
                for k in 0..(e - s) {
                    let row = logits.slice(tract_ndarray::s![b, k, ..]);
                    let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let exp: Vec<f32> = row.iter().map(|x| (x - m).exp()).collect();
                    let z: f32 = exp.iter().sum();
                    probs[li][s + k] = exp.into_iter().map(|x| x / z).collect();
                }
            }
        }
        let mode = Mode::of(lines);
        Ok(chars
            .iter()
            .enumerate()
            .map(|(li, cs)| self.decode_line(cs, &probs[li], priors.and_then(|p| p.get(li)).map(|v| v.as_slice()), mode))
            .collect())
    }

    /// Restore one string (convenience for callers with a single line).
    pub fn restore_text(&self, text: &str) -> Result<String> {
        let lines: Vec<&str> = text.split('\n').collect();
        let out = self.restore_lines(&lines, None)?;
        Ok(out.into_iter().map(|l| l.text).collect::<Vec<_>>().join("\n"))
    }

    fn decode_line(&self, cs: &[char], probs: &[Vec<f32>], priors: Option<&[Prior]>, mode: Mode) -> RestoredLine {
        let mut text = String::with_capacity(cs.len() + 8);
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < cs.len() {
            if cs[i].is_whitespace() {
                text.push(cs[i]);
                i += 1;
                continue;
            }
            let start = i;
            while i < cs.len() && !cs[i].is_whitespace() {
                i += 1;
            }
            let prior = priors.and_then(|p| p.get(tokens.len()).copied().flatten());
            let tok = self.decode_token(&cs[start..i], &probs[start..i], prior, mode);
            text.push_str(&tok.text);
            tokens.push(tok);
        }
        RestoredLine { text, tokens }
    }

    fn decode_token(&self, cs: &[char], probs: &[Vec<f32>], prior: Option<f32>, mode: Mode) -> RestoredToken {
        let original: String = cs.iter().collect();
        let keep = RestoredToken { text: original.clone(), conf: 1.0, changed: false };
        // Split off leading and trailing punctuation; OCR junk there may be dropped.
        let is_core = |c: &char| c.is_alphanumeric();
        let Some(a) = cs.iter().position(is_core) else { return keep };
        let b = cs.len() - cs.iter().rev().position(is_core).unwrap_or(0);
        let core = &cs[a..b];
        if probs.len() != cs.len() || probs.iter().any(|p| p.is_empty()) {
            return keep;
        }
        if protected(core) {
            return keep;
        }
        let letters = core.iter().filter(|c| c.is_alphabetic()).count();
        let digits = core.iter().filter(|c| c.is_ascii_digit()).count();
        if digits > 0 && (letters == 0 || core.len() > 6) {
            return keep;
        }
        let core_lower: String = core.iter().map(|c| lower1(*c)).collect();
        let input_valid = self.lexicon.contains(&core_lower);
        let core_probs = &probs[a..b];

        let Some((cand, cand_logp, positions)) = self.lexicon_search(core_probs) else { return keep };
        let all: Vec<usize> = (0..core.len()).collect();
        if cand == core_lower {
            return self.with_edges(cs, a, b, probs, original, &core_lower, cand_logp.exp(), &all, false);
        }
        // How much more the model believes the candidate than the text as it stands.
        let input_logp = self.logp_of(core, core_probs);
        let margin = cand_logp - input_logp;
        let has_marks = core_lower.chars().any(|c| strip_char(c) != c);
        let same_letters = strip_marks(&cand) == strip_marks(&core_lower);
        let acronym = letters >= 2 && core.iter().all(|c| !c.is_lowercase()) && !core_lower.chars().any(|c| "aeiouyăâêôơư".contains(strip_char(c)) || "aeiouy".contains(c));
        if acronym {
            return keep; // UBND, HĐND, MTTQ
        }
        let needed = if mode == Mode::Unmarked {
            // Text without marks (stripped, or English-model OCR): every syllable is suspect.
            match (input_valid, same_letters) {
                (false, _) => -2.0,
                (true, true) => 0.0,
                (true, false) => 1.5,
            }
        } else {
            // Vietnamese OCR: a valid syllable changes only on clear evidence, and its letters
            // (not just its marks) only on overwhelming evidence.
            (match (input_valid, same_letters, has_marks) {
                (false, _, _) => 0.0,
                (true, true, false) => 0.0,
                (true, true, true) => 2.0,
                (true, false, _) => 5.0,
            }) + match prior {
                Some(conf) if input_valid && conf >= 90.0 => 3.0,
                _ => 0.0,
            }
        };
        if margin < needed {
            return keep;
        }
        self.with_edges(cs, a, b, probs, original, &cand, cand_logp.exp(), &positions, true)
    }

    /// Assemble the token from its (possibly changed) core and its edges, keeping case.
    #[allow(clippy::too_many_arguments)]
    fn with_edges(
        &self,
        cs: &[char],
        a: usize,
        b: usize,
        probs: &[Vec<f32>],
        original: String,
        core_out: &str,
        conf: f32,
        positions: &[usize],
        changed: bool,
    ) -> RestoredToken {
        let core = &cs[a..b];
        let upper_letters = core.iter().filter(|c| c.is_uppercase()).count();
        let lower_letters = core.iter().filter(|c| c.is_lowercase()).count();
        let all_caps = upper_letters >= 2 && lower_letters == 0 || (upper_letters == 1 && lower_letters == 0 && core.len() > 1 && core[0].is_uppercase());
        let mut out = String::new();
        // Leading / trailing junk the model deletes with confidence (apostrophes from ư, ơ).
        let junk = |c: char| matches!(c, '\'' | '’' | '‘' | '`' | '´' | '~' | '^' | '¢' | '°' | '|');
        let edge = |k: usize, out: &mut String| {
            let c = cs[k];
            if junk(c) && probs[k].get(self.vocab.del).copied().unwrap_or(0.0) > 0.9 && changed {
                return;
            }
            out.push(c);
        };
        for k in 0..a {
            edge(k, &mut out);
        }
        if changed {
            for (ch, &pos) in core_out.chars().zip(positions) {
                let src = core[pos];
                let up = if src.is_alphabetic() { src.is_uppercase() } else { all_caps };
                out.push(if up { upper1(ch) } else { ch });
            }
        } else {
            out.extend(core.iter());
        }
        for k in b..cs.len() {
            edge(k, &mut out);
        }
        let changed = out != original;
        RestoredToken { text: out, conf, changed }
    }

    /// Log-probability the model gives to the core as it stands.
    fn logp_of(&self, core: &[char], probs: &[Vec<f32>]) -> f32 {
        core.iter()
            .zip(probs)
            .map(|(c, p)| {
                let l = lower1(*c);
                let pr = match self.vocab.output_ix.get(&l) {
                    Some(&ix) => p[ix],
                    None => p[self.vocab.keep],
                };
                pr.max(1e-9).ln()
            })
            .sum()
    }

    /// The model's most probable reading of the core among lexicon syllables, each input char
    /// either becoming one char of the syllable or deleted. Returns (lower-case syllable,
    /// log-probability, input position of each output char).
    fn lexicon_search(&self, probs: &[Vec<f32>]) -> Option<(String, f32, Vec<usize>)> {
        let lp: Vec<Vec<f32>> = probs.iter().map(|p| p.iter().map(|v| v.max(1e-9).ln()).collect()).collect();
        let n = lp.len();
        let mut suffix_max = vec![0.0f32; n + 1];
        for k in (0..n).rev() {
            suffix_max[k] = suffix_max[k + 1] + lp[k].iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        }
        let mut s = Search {
            trie: &self.lexicon.trie,
            lp: &lp,
            out_ix: &self.vocab.output_ix,
            del: self.vocab.del,
            max_dels: 2.min(n.saturating_sub(1)),
            suffix_max,
            best: None,
            chars: Vec::new(),
            positions: Vec::new(),
            budget: 20_000,
        };
        s.dfs(0, 0, 0.0, 0);
        s.best.map(|(score, chars, pos)| (chars.into_iter().collect(), score, pos))
    }
}

/// Tokens restoration must never touch: codes, dates, numbers, URLs, e-mail, Roman numerals.
fn protected(core: &[char]) -> bool {
    if core.iter().any(|c| !c.is_alphanumeric()) {
        return true; // internal punctuation: 57-KL/TW, 25/7/2023, 2.1, a@b.vn, http://…
    }
    let s: String = core.iter().collect();
    is_roman(&s)
}

fn is_roman(s: &str) -> bool {
    const ROMAN: [&str; 20] = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX"];
    ROMAN.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_every_mark() {
        assert_eq!(strip_marks("Kế hoạch ĐẢNG Ưu tiên người"), "Ke hoach DANG Uu tien nguoi");
    }

    #[test]
    fn codes_and_numerals_are_protected() {
        for t in ["57-KL/TW", "25/7/2023", "II", "IV", "2.1"] {
            assert!(protected(&t.chars().collect::<Vec<_>>()), "{t}");
        }
        assert!(!protected(&"hoach".chars().collect::<Vec<_>>()));
    }
}

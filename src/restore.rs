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
static EMBEDDED_LM: &str = include_str!("../models/vi_bigrams.tsv");

/// Lines are cut into pieces of at most this many characters (at spaces) before tagging; the
/// model sees about 30 characters either side, so longer pieces gain nothing.
const MAX_PIECE: usize = 160;
/// Most sequences run through the model together (padded to the longest).
const BATCH: usize = 32;
/// How far (in characters, either side) the tagger looks: the sum of its eight dilations
/// (1, 2, 4, 8, 1, 2, 4, 8, kernel 3). A character's distribution depends on nothing further.
const RECEPTIVE_FIELD: usize = 30;

/// PAD tokens after every piece. In training nearly every sequence was followed by PAD (batches
/// of 64 pieces of mixed length), so the tagger reads the last syllable of a piece best with PAD
/// after it rather than the convolutions' zero padding; 8 covers a syllable and its space.
/// (Without them, tight batches lost a syllable each on two peer scans.)
const END_PAD: usize = 8;

/// Whitespace-separated tokens of a line as char ranges.
fn token_spans(cs: &[char]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if cs[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < cs.len() && !cs[i].is_whitespace() {
            i += 1;
        }
        spans.push((start, i));
    }
    spans
}

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

/// A letter without any Vietnamese mark (đ becomes d), case kept. Other characters unchanged.
pub fn strip_char(c: char) -> char {
    if c.is_ascii() {
        return c;
    }
    static TABLE: std::sync::OnceLock<HashMap<char, char>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = HashMap::new();
        for (forms, base) in VOWELS {
            for f in forms.chars() {
                t.insert(f, base);
                t.insert(upper1(f), base.to_ascii_uppercase());
            }
        }
        t.insert('đ', 'd');
        t.insert('Đ', 'D');
        t
    });
    table.get(&c).copied().unwrap_or(c)
}

#[cfg(test)]
fn strip_char_slow(c: char) -> char {
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
        let v: VocabFile =
            serde_json::from_str(json).map_err(|e| Error::Model(format!("vocab.json: {e}")))?;
        let one = |s: &String| {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        };
        let input = v
            .input
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((one(s)?, i as i64)))
            .collect();
        let output: Vec<Option<char>> = v.output.iter().map(one).collect();
        let output_ix = output
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some(((*c)?, i)))
            .collect();
        Ok(Vocab {
            input,
            output_ix,
            pad: v.pad as i64,
            unk: v.unk as i64,
            keep: v.keep,
            del: v.del,
        })
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
    /// (char, its output class, child node)
    children: Vec<Vec<(char, u32, u32)>>,
    terminal: Vec<bool>,
}

impl Trie {
    fn new() -> Trie {
        Trie {
            children: vec![Vec::new()],
            terminal: vec![false],
        }
    }

    /// Add a word whose chars all have output classes; others cannot be produced.
    fn insert(&mut self, w: &str, classes: &HashMap<char, usize>) {
        let mut node = 0usize;
        for c in w.chars() {
            let Some(&class) = classes.get(&c) else {
                return;
            };
            node = match self.children[node].iter().find(|(k, _, _)| *k == c) {
                Some(&(_, _, n)) => n as usize,
                None => {
                    let n = self.children.len();
                    self.children.push(Vec::new());
                    self.terminal.push(false);
                    self.children[node].push((c, class as u32, n as u32));
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
    del: usize,
    max_dels: usize,
    suffix_max: Vec<f32>,
    /// The best readings found so far, best first, at most `keep` of them.
    best: Vec<(f32, Vec<char>, Vec<usize>)>,
    keep: usize,
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
        if self.best.len() >= self.keep && self.best.last().is_some_and(|b| bound <= b.0) {
            return;
        }
        let n = self.lp.len();
        if k == n {
            if self.trie.terminal[node] && !self.chars.is_empty() {
                let at = self.best.partition_point(|b| b.0 >= score);
                self.best
                    .insert(at, (score, self.chars.clone(), self.positions.clone()));
                self.best.truncate(self.keep);
            }
            return;
        }
        let children = &self.trie.children[node];
        let row = &self.lp[k];
        let mut order = [(0.0f32, ' ', 0u32); 128];
        let m = children.len().min(128);
        for (slot, &(c, class, child)) in order.iter_mut().zip(children.iter()) {
            *slot = (row[class as usize], c, child);
        }
        order[..m].sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        for &(l, c, child) in &order[..m] {
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
    fn parse(text: &str, classes: &HashMap<char, usize>) -> Lexicon {
        let mut words = HashSet::new();
        let mut trie = Trie::new();
        for w in text.lines().map(str::trim).filter(|w| !w.is_empty()) {
            let w = crate::text::nfc(&w.to_lowercase());
            if words.insert(w.clone()) {
                trie.insert(&w, classes);
            }
        }
        Lexicon { words, trie }
    }

    fn contains(&self, lower: &str) -> bool {
        self.words.contains(lower)
    }
}

/// Tesseract word confidence above which a valid syllable in marked text is taken as read.
const SKIP_CONF: f32 = 95.0;
/// Lexicon candidates considered per token.
const CANDIDATES: usize = 4;
/// ln(0.3): the least tagger probability at which a change to marked OCR text is considered.
const MIN_MARKED_CHANGE_LP: f32 = -1.204;
/// Weight of the bigram LM against the tagger's log-probabilities.
const LM_WEIGHT: f32 = 1.0;

/// One reading of a token.
struct Cand {
    /// Lower-case core (for lexicon readings).
    text: String,
    positions: Vec<usize>,
    /// The tagger's log-probability of this reading.
    char_lp: f32,
    /// Cost of changing what was read into this (0 for the input itself).
    penalty: f32,
    lm_id: Option<u32>,
    is_input: bool,
}

impl Cand {
    fn input(char_lp: f32, lm_id: Option<u32>) -> Cand {
        Cand {
            text: String::new(),
            positions: Vec::new(),
            char_lp,
            penalty: 0.0,
            lm_id,
            is_input: true,
        }
    }
}

struct Plan {
    /// Core (alphanumeric part) of the token: cs[a..b].
    a: usize,
    b: usize,
    fixed: bool,
    cands: Vec<Cand>,
}

/// Syllable bigram LM (models/vi_bigrams.tsv) with interpolated unigram back-off.
struct Lm {
    ids: HashMap<String, u32>,
    uni: Vec<f32>,
    /// Context counts: how often each syllable (or the start, at index len) precedes another.
    ctx: Vec<f32>,
    bi: HashMap<u64, f32>,
    total: f32,
}

impl Lm {
    const START: u32 = u32::MAX;
    const LAMBDA: f32 = 0.03;

    fn parse(text: &str) -> Lm {
        let mut lm = Lm {
            ids: HashMap::new(),
            uni: Vec::new(),
            ctx: Vec::new(),
            bi: HashMap::new(),
            total: 0.0,
        };
        let mut start_ctx = 0.0;
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((key, count)) = line.split_once('\t') else {
                continue;
            };
            let Ok(c) = count.parse::<f32>() else {
                continue;
            };
            match key.split_once(' ') {
                None => {
                    lm.ids.insert(key.to_string(), lm.uni.len() as u32);
                    lm.uni.push(c);
                    lm.total += c;
                }
                Some((w1, w2)) => {
                    let Some(&b) = lm.ids.get(w2) else { continue };
                    let a = if w1 == "<s>" {
                        Self::START
                    } else if let Some(&a) = lm.ids.get(w1) {
                        a
                    } else {
                        continue;
                    };
                    lm.bi.insert(((a as u64) << 32) | b as u64, c);
                    if a == Self::START {
                        start_ctx += c;
                    }
                }
            }
        }
        lm.ctx = lm.uni.clone();
        lm.ctx.push(start_ctx);
        lm
    }

    fn id(&self, w: &str) -> Option<u32> {
        self.ids.get(w).copied()
    }

    /// log P(w | prev); words outside the table get a small constant (they are codes, names,
    /// foreign words: the tagger decides those alone).
    fn logp(&self, prev: Option<u32>, w: Option<u32>) -> f32 {
        let Some(w) = w else { return (1e-6f32).ln() };
        let v = self.uni.len() as f32;
        let p_uni = (self.uni[w as usize] + 0.5) / (self.total + 0.5 * v);
        let a = prev.unwrap_or(Self::START);
        let c_ctx = if a == Self::START {
            self.ctx[self.uni.len()]
        } else {
            self.ctx[a as usize]
        };
        let c_bi = self
            .bi
            .get(&(((a as u64) << 32) | w as u64))
            .copied()
            .unwrap_or(0.0);
        // Linear interpolation with a generous unigram share: the corpus is laws and Wikipedia,
        // plans say "Kế hoạch số" where laws say "kế hoạch sử dụng", so an unseen pair must not
        // be ruled out.
        let p_bi = if c_ctx > 0.0 { c_bi / c_ctx } else { 0.0 };
        ((1.0 - Self::LAMBDA) * p_bi + Self::LAMBDA * p_uni).ln()
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
    lm: Lm,
    pub model_id: String,
}

impl Restorer {
    /// The model committed in `models/`, compiled into the binary.
    pub fn embedded() -> Result<Restorer> {
        Self::from_parts(
            EMBEDDED_MODEL,
            EMBEDDED_VOCAB,
            EMBEDDED_LEXICON,
            EMBEDDED_LM,
        )
    }

    /// A model directory holding restore.onnx, vocab.json and vi_syllables.txt.
    pub fn from_dir(dir: &Path) -> Result<Restorer> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| Error::Model(format!("{}: {e}", dir.join(name).display())))
        };
        let model = read("restore.onnx")?;
        let vocab = String::from_utf8_lossy(&read("vocab.json")?).into_owned();
        let lex = String::from_utf8_lossy(&read("vi_syllables.txt")?).into_owned();
        let lm = String::from_utf8_lossy(&read("vi_bigrams.tsv")?).into_owned();
        Self::from_parts(&model, &vocab, &lex, &lm)
    }

    fn from_parts(model: &[u8], vocab: &str, lexicon: &str, lm: &str) -> Result<Restorer> {
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
        let vocab = Vocab::parse(vocab)?;
        let lexicon = Lexicon::parse(lexicon, &vocab.output_ix);
        Ok(Restorer {
            plan,
            vocab,
            lexicon,
            lm: Lm::parse(lm),
            model_id,
        })
    }

    /// Restore lines of text, line for line. `priors[i][k]`, when given, is the OCR confidence of
    /// token k of line i.
    pub fn restore_lines(
        &self,
        lines: &[&str],
        priors: Option<&[Vec<Prior>]>,
    ) -> Result<Vec<RestoredLine>> {
        self.restore_lines_in_mode(lines, priors, Mode::of(lines))
    }

    fn restore_lines_in_mode(
        &self,
        lines: &[&str],
        priors: Option<&[Vec<Prior>]>,
        mode: Mode,
    ) -> Result<Vec<RestoredLine>> {
        let chars: Vec<Vec<char>> = lines.iter().map(|l| l.chars().collect()).collect();
        let whole: Vec<Vec<(usize, usize)>> = chars.iter().map(|c| vec![(0, c.len())]).collect();
        self.restore_chars(&chars, &whole, &vec![Vec::new(); chars.len()], priors, mode)
    }

    /// Tag `ranges[i]` of each line (char ranges; characters outside them get no
    /// distribution, which makes a token touching them keep its reading) and decode. The
    /// tokens at the char ranges `keep[i]` keep their reading whatever the tagger says.
    fn restore_chars(
        &self,
        chars: &[Vec<char>],
        ranges: &[Vec<(usize, usize)>],
        keep: &[Vec<(usize, usize)>],
        priors: Option<&[Vec<Prior>]>,
        mode: Mode,
    ) -> Result<Vec<RestoredLine>> {
        let mut probs = self.tag(chars, ranges)?;
        for (line, spans) in probs.iter_mut().zip(keep) {
            for &(s, e) in spans {
                line[s..e].iter_mut().for_each(Vec::clear);
            }
        }
        Ok(chars
            .iter()
            .enumerate()
            .map(|(li, cs)| {
                self.decode_line(
                    cs,
                    &probs[li],
                    priors.and_then(|p| p.get(li)).map(|v| v.as_slice()),
                    mode,
                )
            })
            .collect())
    }

    /// The tagger's log-probabilities for the characters in `ranges[i]` of each line
    /// (`probs[line][char]`; empty outside the ranges).
    fn tag(
        &self,
        chars: &[Vec<char>],
        ranges: &[Vec<(usize, usize)>],
    ) -> Result<Vec<Vec<Vec<f32>>>> {
        // Cut every range into pieces and tag all pieces in length-sorted batches.
        let mut pieces: Vec<(usize, usize, usize)> = Vec::new(); // (line, start, end)
        for (li, cs) in chars.iter().enumerate() {
            for &(mut start, stop) in &ranges[li] {
                let stop = stop.min(cs.len());
                while start < stop {
                    let mut end = (start + MAX_PIECE).min(stop);
                    if end < stop {
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
        }
        let mut order: Vec<usize> = (0..pieces.len()).collect();
        order.sort_by_key(|&i| pieces[i].2 - pieces[i].1);
        // probs[line][char] = log-probabilities of the classes for that char
        let mut probs: Vec<Vec<Vec<f32>>> =
            chars.iter().map(|c| vec![Vec::new(); c.len()]).collect();
        // Batches of pieces of nearly the same length: every piece is padded to the longest in
        // its batch, and padding costs as much as text (one batch of 32 had been 65 % padding).
        let mut batches: Vec<&[usize]> = Vec::new();
        let mut first = 0;
        for k in 1..=order.len() {
            let len = |k: usize| pieces[order[k]].2 - pieces[order[k]].1;
            if k == order.len() || k - first == BATCH || len(k) * 10 > len(first) * 11 {
                batches.push(&order[first..k]);
                first = k;
            }
        }
        let (mut real, mut padded) = (0usize, 0usize);
        for batch in batches {
            // Sorted by length: the last piece is the longest.
            let len = |&i: &usize| pieces[i].2 - pieces[i].1;
            let longest = batch.last().map_or(0, len);
            if longest == 0 {
                continue;
            }
            let t = longest + END_PAD;
            real += batch.iter().map(len).sum::<usize>();
            padded += t * batch.len();
            let mut ids = vec![self.vocab.pad; batch.len() * t];
            for (b, &pi) in batch.iter().enumerate() {
                let (li, s, e) = pieces[pi];
                for (k, c) in chars[li][s..e].iter().enumerate() {
                    ids[b * t + k] = *self.vocab.input.get(&lower1(*c)).unwrap_or(&self.vocab.unk);
                }
            }
            let input = tract_ndarray::Array2::from_shape_vec((batch.len(), t), ids)
                .map_err(|e| Error::Model(e.to_string()))?;
            let out = self
                .plan
                .run(tvec!(Tensor::from(input).into()))
                .map_err(|e| Error::Model(format!("{e:#}")))?;
            let logits = out[0]
                .to_plain_array_view::<f32>()
                .map_err(|e| Error::Model(format!("{e:#}")))?;
            for (b, &pi) in batch.iter().enumerate() {
                let (li, s, e) = pieces[pi];
                for k in 0..(e - s) {
                    let row = logits.slice(tract_ndarray::s![b, k, ..]);
                    let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let lse = m + row.iter().map(|x| (x - m).exp()).sum::<f32>().ln();
                    probs[li][s + k] = row.iter().map(|x| (x - lse).max(-30.0)).collect();
                }
            }
        }
        log::debug!("restore: {real} chars tagged, {padded} with padding");
        Ok(probs)
    }

    /// Restore OCR lines in place: each word's `text` becomes its restored reading (its
    /// `ocr_text` stays). Words Tesseract read with high confidence as a valid syllable (or a
    /// protected token) are taken as read and get no `restore_conf`: the decoder would not
    /// overrule them anyway. The model runs only around the other words, so lines made only of
    /// such words (on clean scans, most lines) cost nothing.
    pub fn restore_ocr_lines(&self, lines: &mut [crate::doc::Line]) -> Result<()> {
        let mode = Mode::of(
            &lines
                .iter()
                .map(|l| l.ocr_text.as_str())
                .collect::<Vec<_>>(),
        );
        let confident = |w: &crate::doc::Word| {
            let core: String = w.ocr_text.chars().filter(|c| c.is_alphanumeric()).collect();
            mode == Mode::Marked
                && w.conf >= SKIP_CONF
                && (core.is_empty()
                    || core.chars().any(|c| c.is_ascii_digit())
                    || self.lexicon.contains(&core.to_lowercase()))
        };
        let sure: Vec<Vec<bool>> = lines
            .iter()
            .map(|l| l.words.iter().map(confident).collect())
            .collect();
        let todo: Vec<usize> = (0..lines.len())
            .filter(|&i| !sure[i].iter().all(|&s| s))
            .collect();
        let chars: Vec<Vec<char>> = todo
            .iter()
            .map(|&i| lines[i].ocr_text.chars().collect())
            .collect();
        // Only the words that need it are tagged, each with the model's whole context
        // (RECEPTIVE_FIELD characters either side), so their distributions are exactly what
        // tagging the whole line would give; the sure words around them keep their reading.
        let (mut ranges, mut keep) = (Vec::new(), Vec::new());
        for (&i, cs) in todo.iter().zip(&chars) {
            let spans = token_spans(cs);
            if spans.len() != lines[i].words.len() {
                ranges.push(vec![(0, cs.len())]);
                keep.push(Vec::new());
                continue;
            }
            let (mut tag, mut sure_spans): (Vec<(usize, usize)>, _) = (Vec::new(), Vec::new());
            for (&(s, e), &sure) in spans.iter().zip(&sure[i]) {
                if sure {
                    sure_spans.push((s, e));
                    continue;
                }
                let (a, b) = (
                    s.saturating_sub(RECEPTIVE_FIELD),
                    (e + RECEPTIVE_FIELD).min(cs.len()),
                );
                match tag.last_mut() {
                    Some(last) if a <= last.1 => last.1 = last.1.max(b),
                    _ => tag.push((a, b)),
                }
            }
            ranges.push(tag);
            keep.push(sure_spans);
        }
        let priors: Vec<Vec<Prior>> = todo
            .iter()
            .map(|&i| lines[i].words.iter().map(|w| Some(w.conf)).collect())
            .collect();
        let restored = self.restore_chars(&chars, &ranges, &keep, Some(&priors), mode)?;
        for (&i, rl) in todo.iter().zip(restored) {
            let line = &mut lines[i];
            if rl.tokens.len() == line.words.len() {
                let mut conf: Option<f32> = None;
                for ((w, t), &sure) in line.words.iter_mut().zip(rl.tokens).zip(&sure[i]) {
                    w.text = t.text;
                    if !sure {
                        w.restore_conf = Some(t.conf);
                        conf = Some(conf.map_or(t.conf, |c| c.min(t.conf)));
                    }
                }
                line.restore_conf = conf;
            }
        }
        for line in lines.iter_mut() {
            line.refresh_text();
        }
        Ok(())
    }

    /// Restore one string (convenience for callers with a single line).
    pub fn restore_text(&self, text: &str) -> Result<String> {
        let lines: Vec<&str> = text.split('\n').collect();
        let out = self.restore_lines(&lines, None)?;
        Ok(out
            .into_iter()
            .map(|l| l.text)
            .collect::<Vec<_>>()
            .join("\n"))
    }

    fn decode_line(
        &self,
        cs: &[char],
        probs: &[Vec<f32>],
        priors: Option<&[Prior]>,
        mode: Mode,
    ) -> RestoredLine {
        // Tokens (whitespace-separated char ranges) and their candidate readings.
        let spans = token_spans(cs);
        let plans: Vec<Plan> = spans
            .iter()
            .enumerate()
            .map(|(k, &(s, e))| {
                let prior = priors.and_then(|p| p.get(k).copied().flatten());
                self.plan_token(&cs[s..e], &probs[s..e], prior, mode)
            })
            .collect();

        // Viterbi over the tokens: the tagger's score of each reading, less the cost of changing
        // what was read, plus the bigram LM's score of the sequence.
        let n = plans.len();
        let mut score: Vec<Vec<f32>> = Vec::with_capacity(n);
        let mut back: Vec<Vec<usize>> = Vec::with_capacity(n);
        for (k, plan) in plans.iter().enumerate() {
            let mut sc = Vec::with_capacity(plan.cands.len());
            let mut bk = Vec::with_capacity(plan.cands.len());
            for cand in &plan.cands {
                let own = cand.char_lp - cand.penalty;
                if k == 0 {
                    sc.push(own + LM_WEIGHT * self.lm.logp(None, cand.lm_id));
                    bk.push(0);
                    continue;
                }
                let (mut best, mut arg) = (f32::NEG_INFINITY, 0);
                for (j, prev) in plans[k - 1].cands.iter().enumerate() {
                    let v = score[k - 1][j] + LM_WEIGHT * self.lm.logp(prev.lm_id, cand.lm_id);
                    if v > best {
                        best = v;
                        arg = j;
                    }
                }
                sc.push(best + own);
                bk.push(arg);
            }
            score.push(sc);
            back.push(bk);
        }
        let mut chosen = vec![0usize; n];
        if n > 0 {
            let last = &score[n - 1];
            chosen[n - 1] = (0..last.len())
                .max_by(|&a, &b| last[a].total_cmp(&last[b]))
                .unwrap_or(0);
            for k in (1..n).rev() {
                chosen[k - 1] = back[k][chosen[k]];
            }
        }

        let mut text = String::with_capacity(cs.len() + 8);
        let mut tokens = Vec::with_capacity(n);
        let mut pos = 0;
        for (k, &(s, e)) in spans.iter().enumerate() {
            text.extend(&cs[pos..s]);
            let plan = &plans[k];
            let cand = &plan.cands[chosen[k]];
            let tok = if cand.is_input {
                let original: String = cs[s..e].iter().collect();
                RestoredToken {
                    text: original,
                    conf: if plan.fixed { 1.0 } else { cand.char_lp.exp() },
                    changed: false,
                }
            } else {
                let original: String = cs[s..e].iter().collect();
                self.with_edges(
                    &cs[s..e],
                    plan.a,
                    plan.b,
                    &probs[s..e],
                    original,
                    &cand.text,
                    cand.char_lp.exp(),
                    &cand.positions,
                    true,
                )
            };
            text.push_str(&tok.text);
            tokens.push(tok);
            pos = e;
        }
        text.extend(&cs[pos..]);
        RestoredLine { text, tokens }
    }

    /// The readings of one token the decoder chooses from: the token as read, and the lexicon
    /// syllables the tagger finds most likely, each with the cost of changing to it.
    fn plan_token(&self, cs: &[char], probs: &[Vec<f32>], prior: Option<f32>, mode: Mode) -> Plan {
        let is_core = |c: &char| c.is_alphanumeric();
        let a = cs.iter().position(is_core).unwrap_or(0);
        let b = cs.len() - cs.iter().rev().position(is_core).unwrap_or(cs.len());
        let core = if a < b { &cs[a..b] } else { &cs[0..0] };
        let core_lower: String = core.iter().map(|c| lower1(*c)).collect();
        let fixed = |lm_id| Plan {
            a,
            b,
            fixed: true,
            cands: vec![Cand::input(0.0, lm_id)],
        };
        if core.is_empty()
            || probs.len() != cs.len()
            || probs.iter().any(|p| p.is_empty())
            || protected(core)
        {
            // Numbers, dates and codes are one word to the LM ("số 90-KH/TU", "Điều 5").
            let num = core.iter().any(|c| c.is_ascii_digit());
            return fixed(if num { self.lm.id("<num>") } else { None });
        }
        let letters = core.iter().filter(|c| c.is_alphabetic()).count();
        let digits = core.iter().filter(|c| c.is_ascii_digit()).count();
        if digits > 0 && (letters == 0 || core.len() > 6) {
            return fixed(self.lm.id("<num>"));
        }
        let all_caps = letters >= 2 && core.iter().all(|c| !c.is_lowercase());
        let acronym = all_caps
            && (!core_lower.chars().any(|c| "aeiouy".contains(strip_char(c)))
                // In marked text an unmarked capitalised short word is an abbreviation
                // (HU, TU, VP, CT-XH), not a syllable that lost its marks.
                || (mode == Mode::Marked && core.iter().all(|c| c.is_ascii()) && (core.len() <= 3 || !self.lexicon.contains(&core_lower))));
        let input_lm = self.lm.id(&core_lower);
        if acronym {
            return fixed(input_lm); // UBND, HĐND, MTTQ
        }
        let core_probs = &probs[a..b];
        let input_valid = self.lexicon.contains(&core_lower);
        let has_marks = core_lower.chars().any(|c| strip_char(c) != c);
        let mut cands = vec![Cand::input(self.logp_of(core, core_probs), input_lm)];
        for (text, lp, positions) in self.lexicon_search(core_probs, CANDIDATES) {
            if text == core_lower {
                continue;
            }
            let same_letters = strip_marks(&text) == strip_marks(&core_lower);
            let penalty = if mode == Mode::Unmarked {
                // Text without marks (stripped, or English-model OCR): every syllable is suspect.
                match (input_valid, same_letters) {
                    (false, _) => -2.0,
                    (true, true) => 0.0,
                    (true, false) => 1.5,
                }
            } else {
                // Vietnamese OCR: a valid syllable changes only on clear evidence, and its
                // letters (not just its marks) only on overwhelming evidence.
                (match (input_valid, same_letters, has_marks) {
                    (false, _, _) => 0.0,
                    // Tesseract's Vietnamese model seldom drops every mark of a word it reads
                    // confidently, so a bare valid syllable is usually right as it is.
                    (true, true, false) => 1.0,
                    (true, true, true) => 2.0,
                    (true, false, _) => 5.0,
                }) + match prior {
                    Some(conf) if input_valid && conf >= 90.0 => 3.0,
                    _ => 0.0,
                }
            };
            // In Vietnamese OCR output the tagger must itself believe a change: the LM only
            // chooses among readings it finds likely, never talks it into one it does not. The
            // surer Tesseract was of a valid word, the surer the tagger must be.
            let min_lp = match prior {
                Some(conf) if input_valid && conf >= 90.0 => (0.9f32).ln(),
                Some(conf) if input_valid && conf >= 80.0 => (0.6f32).ln(),
                _ => MIN_MARKED_CHANGE_LP,
            };
            if mode == Mode::Marked && lp < min_lp {
                continue;
            }
            let lm_id = self.lm.id(&text);
            cands.push(Cand {
                text,
                positions,
                char_lp: lp,
                penalty,
                lm_id,
                is_input: false,
            });
        }
        Plan {
            a,
            b,
            fixed: false,
            cands,
        }
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
        let all_caps = upper_letters >= 2 && lower_letters == 0
            || (upper_letters == 1
                && lower_letters == 0
                && core.len() > 1
                && core[0].is_uppercase());
        let mut out = String::new();
        // Leading / trailing junk the model deletes with confidence (apostrophes from ư, ơ).
        let junk = |c: char| {
            matches!(
                c,
                '\'' | '’' | '‘' | '`' | '´' | '~' | '^' | '¢' | '°' | '|'
            )
        };
        let edge = |k: usize, out: &mut String| {
            let c = cs[k];
            if junk(c)
                && probs[k].get(self.vocab.del).copied().unwrap_or(-30.0) > (0.9f32).ln()
                && changed
            {
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
                let up = if src.is_alphabetic() {
                    src.is_uppercase()
                } else {
                    all_caps
                };
                out.push(if up { upper1(ch) } else { ch });
            }
        } else {
            out.extend(core.iter());
        }
        for k in b..cs.len() {
            edge(k, &mut out);
        }
        let changed = out != original;
        RestoredToken {
            text: out,
            conf,
            changed,
        }
    }

    /// Log-probability the model gives to the core as it stands.
    fn logp_of(&self, core: &[char], probs: &[Vec<f32>]) -> f32 {
        core.iter()
            .zip(probs)
            .map(|(c, p)| {
                let l = lower1(*c);
                match self.vocab.output_ix.get(&l) {
                    Some(&ix) => p[ix],
                    None => p[self.vocab.keep],
                }
            })
            .sum()
    }

    /// The model's most probable readings of the core among lexicon syllables, each input char
    /// either becoming one char of the syllable or deleted. Returns (lower-case syllable,
    /// log-probability, input position of each output char).
    fn lexicon_search(&self, probs: &[Vec<f32>], keep: usize) -> Vec<(String, f32, Vec<usize>)> {
        let lp = probs;
        let n = lp.len();
        let mut suffix_max = vec![0.0f32; n + 1];
        for k in (0..n).rev() {
            suffix_max[k] =
                suffix_max[k + 1] + lp[k].iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        }
        let mut s = Search {
            trie: &self.lexicon.trie,
            lp,
            del: self.vocab.del,
            max_dels: 2.min(n.saturating_sub(1)),
            suffix_max,
            best: Vec::new(),
            keep,
            chars: Vec::new(),
            positions: Vec::new(),
            budget: 20_000,
        };
        s.dfs(0, 0, 0.0, 0);
        s.best
            .into_iter()
            .map(|(score, chars, pos)| (chars.into_iter().collect(), score, pos))
            .collect()
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
    const ROMAN: [&str; 20] = [
        "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV",
        "XV", "XVI", "XVII", "XVIII", "XIX", "XX",
    ];
    ROMAN.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_strip_table_agrees_with_the_vowel_table() {
        for (forms, _) in VOWELS {
            for c in forms.chars().chain(forms.to_uppercase().chars()) {
                assert_eq!(strip_char(c), strip_char_slow(c), "{c}");
            }
        }
        assert_eq!(strip_char('Đ'), 'D');
    }

    #[test]
    fn strips_every_mark() {
        assert_eq!(
            strip_marks("Kế hoạch ĐẢNG Ưu tiên người"),
            "Ke hoach DANG Uu tien nguoi"
        );
    }

    #[test]
    fn codes_and_numerals_are_protected() {
        for t in ["57-KL/TW", "25/7/2023", "II", "IV", "2.1"] {
            assert!(protected(&t.chars().collect::<Vec<_>>()), "{t}");
        }
        assert!(!protected(&"hoach".chars().collect::<Vec<_>>()));
    }

    #[test]
    fn a_word_tagged_with_its_receptive_field_reads_as_in_the_whole_line() {
        let r = Restorer::embedded().unwrap();
        let line: Vec<char> =
            "Ủy ban nhân dân tỉnh ban hành Ké hoach thực hiện công tác d6i ngoai năm 2024 trên địa bàn"
                .chars()
                .collect();
        let spans = token_spans(&line);
        let (s, e) = spans[7]; // "hoach"
        let window = (s - RECEPTIVE_FIELD, (e + RECEPTIVE_FIELD).min(line.len()));
        let whole = r
            .tag(std::slice::from_ref(&line), &[vec![(0, line.len())]])
            .unwrap();
        let part = r.tag(std::slice::from_ref(&line), &[vec![window]]).unwrap();
        assert!(part[0][..window.0].iter().all(Vec::is_empty));
        for k in s..e {
            for (a, b) in whole[0][k].iter().zip(&part[0][k]) {
                assert!((a - b).abs() < 1e-3, "char {k}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn confident_valid_words_are_kept_and_the_others_restored() {
        use crate::doc::{Line, Word};
        let r = Restorer::embedded().unwrap();
        let mut line = Line::new([0, 0, 100, 10], 80.0, 0);
        for (w, conf) in [
            ("Ké", 60.0),
            ("hoach", 55.0),
            ("thực", 97.0),
            ("hiện", 96.0),
        ] {
            line.words.push(Word::new(w.into(), [0, 0, 1, 1], conf));
        }
        line.refresh_text();
        let mut lines = vec![line];
        r.restore_ocr_lines(&mut lines).unwrap();
        let l = &lines[0];
        assert_eq!(l.text, "Kế hoạch thực hiện");
        assert!(l.words[0].restore_conf.is_some() && l.words[1].restore_conf.is_some());
        // Read at >= 95 as valid syllables: taken as read, not re-scored.
        assert_eq!(l.words[2].restore_conf, None);
        assert_eq!(l.words[3].restore_conf, None);
    }
}

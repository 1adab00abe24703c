//! A syllable n-gram language model: interpolated Kneser-Ney, pruned, in a compact binary
//! format (models/vi_lm.bin) that is used where it lies, with no parsing at load.
//!
//! Why a hand-made format and not ARPA or KenLM's: ARPA is text (seconds to parse 10 M
//! n-grams, several hundred MB in memory), and KenLM is C++ with no maintained Rust binding.
//! Here each order is an open-addressing table of 16-bit fingerprints with 8-bit quantised
//! log-probabilities and back-off weights: 3-4 bytes an n-gram, one or two cache lines a
//! lookup, and the file is the table, so "loading" is a pointer.
//!
//! Vocabulary: the syllables of the lexicon in one tone-placement style (`hòa`, `thủy`: see
//! [`normalize_tone`]), lower case, plus classes for numbers/codes, punctuation and unknown
//! words. The builder ([`Builder`], driven by `examples/build_lm.rs`) and the decoder share
//! [`Vocab::token_ids`], so the model sees text the way it was counted.

use rustc_hash::FxHashMap;
use std::collections::HashMap;

pub const MAGIC: &[u8; 8] = b"SOHOALM1";
/// Word ids are 16 bits, so an n-gram of up to 4 words packs into a u64.
pub const MAX_ORDER: usize = 4;

pub const UNK: u16 = 0;
pub const BOS: u16 = 1;
pub const EOS: u16 = 2;
pub const NUM: u16 = 3;
/// Punctuation that carries context ("Điều 5." starts a clause, "(" a parenthesis); every
/// other symbol is UNK.
pub const PUNCT: &str = ",.;:!?()\"-/…";
const FIRST_PUNCT: u16 = 4;

/// Old-style tone placement for the rhymes oa, oe, uy at the end of a syllable: `hoà` →
/// `hòa`, `thuỷ` → `thủy`, `khoẻ` → `khỏe`. Sources disagree (one news corpus writes nearly
/// everything new-style) but a syllable is the same word either way, so the model counts one
/// form; the decoder maps its choice back to the style of the text it restores.
pub fn normalize_tone(s: &str) -> Option<String> {
    move_tone(s, false)
}

/// The opposite of [`normalize_tone`]: `hòa` → `hoà`.
pub fn new_style_tone(s: &str) -> Option<String> {
    move_tone(s, true)
}

/// Move the tone of a final oa/oe/uy from the first vowel to the second (`to_second`) or back;
/// None when the syllable has no such rhyme with a tone on the vowel it moves from.
fn move_tone(s: &str, to_second: bool) -> Option<String> {
    // Most syllables end in no such pair: turn them away before any table walk or allocation
    // (the decoder folds every reading it weighs).
    let mut tail = s.chars().rev();
    let (b, a) = (tail.next()?, tail.next()?);
    let plain = if to_second { b } else { a };
    if !matches!(
        plain,
        'o' | 'O' | 'u' | 'U' | 'a' | 'A' | 'e' | 'E' | 'y' | 'Y'
    ) {
        return None;
    }
    let cs: Vec<char> = s.chars().collect();
    let n = cs.len();
    if n < 2 {
        return None;
    }
    let (a, b) = (cs[n - 2], cs[n - 1]);
    let (from, other) = if to_second { (a, b) } else { (b, a) };
    let (base, tone) = split_tone(from)?;
    if tone == 0 {
        return None;
    }
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    let (first, second) = if to_second {
        (lower(base), lower(other))
    } else {
        (lower(other), lower(base))
    };
    let ok = match (first, second) {
        ('o', 'a') | ('o', 'e') => true,
        // "quý" is tone-on-y in every style: there u belongs to the onset.
        ('u', 'y') => !(n >= 3 && matches!(cs[n - 3], 'q' | 'Q')),
        _ => false,
    };
    if !ok {
        return None;
    }
    let mut out: Vec<char> = cs[..n - 2].to_vec();
    if to_second {
        out.push(base);
        out.push(with_tone(b, tone)?);
    } else {
        out.push(with_tone(a, tone)?);
        out.push(base);
    }
    Some(out.into_iter().collect())
}

/// Vowels that take tone marks, each row: no tone, huyền, hỏi, ngã, sắc, nặng.
const TONE_ROWS: [&str; 12] = [
    "aàảãáạ",
    "ăằẳẵắặ",
    "âầẩẫấậ",
    "eèẻẽéẹ",
    "êềểễếệ",
    "iìỉĩíị",
    "oòỏõóọ",
    "ôồổỗốộ",
    "ơờởỡớợ",
    "uùủũúụ",
    "ưừửữứự",
    "yỳỷỹýỵ",
];

/// (the vowel without its tone, tone index 0-5) for a toneable vowel, case kept.
fn split_tone(c: char) -> Option<(char, usize)> {
    let lower = c.to_lowercase().next()?;
    let upper = c != lower;
    for row in TONE_ROWS {
        if let Some(t) = row.chars().position(|x| x == lower) {
            let base = row.chars().next()?;
            let base = if upper {
                base.to_uppercase().next()?
            } else {
                base
            };
            return Some((base, t));
        }
    }
    None
}

fn with_tone(c: char, tone: usize) -> Option<char> {
    let lower = c.to_lowercase().next()?;
    let upper = c != lower;
    for row in TONE_ROWS {
        if row.starts_with(lower) {
            let t = row.chars().nth(tone)?;
            return Some(if upper { t.to_uppercase().next()? } else { t });
        }
    }
    None
}

/// Fold a lower-case syllable to the form the model counts (old-style tone placement).
pub fn fold(s: &str) -> String {
    normalize_tone(s).unwrap_or_else(|| s.to_string())
}

pub struct Vocab {
    pub words: Vec<String>,
    pub ids: HashMap<String, u16>,
}

impl Vocab {
    /// Specials, punctuation, then the lexicon's syllables (folded, deduplicated, in order).
    pub fn from_syllables<'a>(syllables: impl Iterator<Item = &'a str>) -> Vocab {
        let mut words: Vec<String> = ["<unk>", "<s>", "</s>", "<num>"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        words.extend(PUNCT.chars().map(|c| c.to_string()));
        let mut ids = HashMap::new();
        for (i, w) in words.iter().enumerate() {
            ids.insert(w.clone(), i as u16);
        }
        for s in syllables {
            let f = fold(&s.to_lowercase());
            if !ids.contains_key(&f) && words.len() < u16::MAX as usize {
                ids.insert(f.clone(), words.len() as u16);
                words.push(f);
            }
        }
        Vocab { words, ids }
    }

    fn parse(text: &str) -> Vocab {
        let words: Vec<String> = text.split('\n').map(|s| s.to_string()).collect();
        let ids = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u16))
            .collect();
        Vocab { words, ids }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Id of a lower-case, folded syllable.
    pub fn id(&self, folded: &str) -> Option<u16> {
        self.ids.get(folded).copied()
    }

    pub fn punct_id(c: char) -> Option<u16> {
        PUNCT
            .chars()
            .position(|p| p == c)
            .map(|i| FIRST_PUNCT + i as u16)
    }

    /// The id of one whitespace-free token's core (letters and digits, lower case): a number or
    /// code is NUM, a syllable its id, anything else UNK.
    pub fn core_id(&self, core_lower: &str) -> u16 {
        if core_lower.chars().any(|c| c.is_ascii_digit()) {
            return NUM;
        }
        match normalize_tone(core_lower) {
            Some(f) => self.id(&f),
            None => self.id(core_lower),
        }
        .unwrap_or(UNK)
    }

    /// Ids of a line as counted: each whitespace token's [`pieces`], each with its leading
    /// punctuation, its core, its trailing punctuation. A core with inner punctuation that is
    /// not a join of words ("57-KL/TW", "25/7/2023") is one word: NUM when it holds a digit,
    /// UNK otherwise.
    pub fn token_ids(&self, line: &str, out: &mut Vec<u16>) {
        for tok in line.split_whitespace() {
            let all: Vec<char> = tok.chars().collect();
            for (s, e) in pieces(&all, 0, all.len()) {
                self.piece_ids(&all[s..e], out);
            }
        }
    }

    fn piece_ids(&self, cs: &[char], out: &mut Vec<u16>) {
        {
            let a = cs.iter().position(|c| c.is_alphanumeric());
            let Some(a) = a else {
                out.extend(cs.iter().filter_map(|&c| Self::punct_id(c)));
                return;
            };
            let b = cs.len()
                - cs.iter()
                    .rev()
                    .position(|c| c.is_alphanumeric())
                    .unwrap_or(0);
            out.extend(cs[..a].iter().filter_map(|&c| Self::punct_id(c)));
            let core: String = cs[a..b].iter().flat_map(|c| c.to_lowercase()).collect();
            out.push(self.core_id(&core));
            out.extend(cs[b..].iter().filter_map(|&c| Self::punct_id(c)));
        }
    }
}

/// The pieces of a whitespace token `cs[s..e]` restored as words of their own: "yen/tan",
/// "GD-DT", "TP.Ha", "dong/kg." are two words to a reader and to the language model, joined by a
/// separator, which ends the piece before it (the LM counts it as punctuation after that word,
/// as it does in training: [`Vocab::token_ids`]). Only joins of letters split, each piece of two letters or more:
/// codes with digits ("116/ND-CP", "25/7/2023"), "V/v", initials ("N.V.D"), addresses and URLs
/// stay one protected token.
pub fn pieces(cs: &[char], s: usize, e: usize) -> Vec<(usize, usize)> {
    let tok = &cs[s..e];
    let is_sep = |c: char| matches!(c, '-' | '/' | '&' | '.' | ',' | ':');
    let a = tok.iter().position(|c| c.is_alphanumeric());
    let b = tok.iter().rposition(|c| c.is_alphanumeric());
    let (Some(a), Some(b)) = (a, b) else {
        return vec![(s, e)];
    };
    let core = &tok[a..=b];
    if !core.iter().any(|&c| is_sep(c)) || core.iter().any(|&c| !c.is_alphabetic() && !is_sep(c)) {
        return vec![(s, e)];
    }
    let mut cuts = Vec::new(); // separator positions within the core
    let mut run = 0;
    for (i, &c) in core.iter().enumerate() {
        if is_sep(c) {
            if run < 2 {
                return vec![(s, e)];
            }
            cuts.push(i);
            run = 0;
        } else {
            run += 1;
        }
    }
    if run < 2 {
        return vec![(s, e)];
    }
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut from = s;
    for c in cuts {
        out.push((from, s + a + c + 1));
        from = s + a + c + 1;
    }
    out.push((from, e));
    out
}

#[inline]
fn pack(ids: &[u16]) -> u64 {
    ids.iter().fold(0u64, |k, &id| (k << 16) | id as u64)
}

#[inline]
fn mix(key: u64, order: usize) -> u64 {
    // splitmix64 finaliser; the order is mixed in so tables of different orders differ.
    let mut z = key ^ ((order as u64) << 61) ^ 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The home slot of a hash in a table of `slots` (any size: tables are filled to 80 %, not to
/// the next power of two).
#[inline]
fn home(h: u64, slots: usize) -> usize {
    // The low 32 bits: the fingerprint is the top 16, and the two must be independent.
    (((h & 0xFFFF_FFFF) * slots as u64) >> 32) as usize
}

#[inline]
fn fingerprint(h: u64) -> u16 {
    let f = (h >> 48) as u16;
    if f == 0 {
        1
    } else {
        f
    }
}

/// One order's table, as bytes inside the model file.
struct Table<'a> {
    slots: usize,
    fps: &'a [u8],
    probs: &'a [u8],
    bos: &'a [u8],
    prob_book: [f32; 256],
    bo_book: [f32; 256],
}

impl Table<'_> {
    /// Ask the CPU to fetch the cache lines a lookup of `ids` starts at.
    #[inline]
    fn prefetch(&self, ids: &[u16], order: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let i = home(mix(pack(ids), order), self.slots);
            // SAFETY: SSE is part of x86_64; a prefetch only hints the cache, reads nothing
            // and never faults, and the addresses are inside both arrays.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(self.fps[2 * i..].as_ptr().cast());
                _mm_prefetch::<_MM_HINT_T0>(self.probs[i..].as_ptr().cast());
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (ids, order);
    }

    #[inline]
    fn slot(&self, ids: &[u16], order: usize) -> Option<usize> {
        let h = mix(pack(ids), order);
        let fp = fingerprint(h);
        let mut i = home(h, self.slots);
        loop {
            let f = u16::from_le_bytes([self.fps[2 * i], self.fps[2 * i + 1]]);
            if f == fp {
                return Some(i);
            }
            if f == 0 {
                return None;
            }
            i += 1;
            if i == self.slots {
                i = 0;
            }
        }
    }
}

/// A history prepared by [`NgramLm::context`].
pub struct Context {
    ids: [u16; MAX_ORDER],
    len: usize,
    /// backoff[k]: the back-off weight paid before the k-word context is tried.
    backoff: [f32; MAX_ORDER],
}

/// The model, borrowing the bytes of models/vi_lm.bin.
pub struct NgramLm<'a> {
    pub order: usize,
    pub vocab: Vocab,
    unigram_prob: Vec<f32>,
    unigram_bo: Vec<f32>,
    tables: Vec<Table<'a>>, // orders 2..=order
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.at + n > self.b.len() {
            return Err("vi_lm.bin is truncated".into());
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn book(&mut self) -> Result<[f32; 256], String> {
        let mut b = [0f32; 256];
        for v in b.iter_mut() {
            *v = f32::from_le_bytes(self.take(4)?.try_into().unwrap());
        }
        Ok(b)
    }
}

impl<'a> NgramLm<'a> {
    pub fn from_bytes(b: &'a [u8]) -> Result<NgramLm<'a>, String> {
        let mut r = Reader { b, at: 0 };
        if r.take(8)? != MAGIC {
            return Err("vi_lm.bin: not a sohoa language model".into());
        }
        let order = r.u32()? as usize;
        if !(1..=MAX_ORDER).contains(&order) {
            return Err(format!("vi_lm.bin: order {order} not supported"));
        }
        let vlen = r.u32()? as usize;
        let vocab_text =
            std::str::from_utf8(r.take(vlen)?).map_err(|_| "vi_lm.bin: vocabulary is not UTF-8")?;
        let vocab = Vocab::parse(vocab_text);
        let n = vocab.len();
        let pb = r.book()?;
        let bb = r.book()?;
        let up = r.take(n)?;
        let ub = r.take(n)?;
        let unigram_prob = up.iter().map(|&q| pb[q as usize]).collect();
        let unigram_bo = ub.iter().map(|&q| bb[q as usize]).collect();
        let mut tables = Vec::new();
        for k in 2..=order {
            let slots = r.u32()? as usize;
            if slots == 0 {
                return Err("vi_lm.bin: empty table".into());
            }
            let prob_book = r.book()?;
            let bo_book = r.book()?;
            let fps = r.take(2 * slots)?;
            let probs = r.take(slots)?;
            let bos = if k < order { r.take(slots)? } else { &[][..] };
            tables.push(Table {
                slots,
                fps,
                probs,
                bos,
                prob_book,
                bo_book,
            });
        }
        Ok(NgramLm {
            order,
            vocab,
            unigram_prob,
            unigram_bo,
            tables,
        })
    }

    /// ln P(w | ctx), ctx oldest first (only its last order-1 ids are used).
    pub fn logp(&self, ctx: &[u16], w: u16) -> f32 {
        let ctx = &ctx[ctx.len().saturating_sub(self.order - 1)..];
        let mut backoff = 0.0;
        for k in (1..=ctx.len()).rev() {
            let c = &ctx[ctx.len() - k..];
            if let Some(p) = self.stored(c, w) {
                return backoff + p;
            }
            // Back off: the weight of the context, if the context is itself in the model.
            backoff += self.context_backoff(c);
        }
        backoff + self.unigram_prob[w as usize]
    }

    /// `ctx` made ready for scoring many next words: the back-off weights of its suffixes
    /// are looked up once, not once per word. The decoder scores every reading of a token
    /// after each of its states, and on English-model OCR most readings back off.
    pub fn context(&self, ctx: &[u16]) -> Context {
        let ctx = &ctx[ctx.len().saturating_sub(self.order - 1)..];
        let mut c = Context {
            ids: [0; MAX_ORDER],
            len: ctx.len(),
            backoff: [0.0; MAX_ORDER],
        };
        c.ids[..ctx.len()].copy_from_slice(ctx);
        let mut paid = 0.0;
        for k in (1..=ctx.len()).rev() {
            c.backoff[k] = paid;
            paid += self.context_backoff(&ctx[ctx.len() - k..]);
        }
        c.backoff[0] = paid;
        c
    }

    /// [`NgramLm::logp`] after a prepared context: the same value.
    pub fn logp_after(&self, c: &Context, w: u16) -> f32 {
        let ctx = &c.ids[..c.len];
        for k in (1..=c.len).rev() {
            if let Some(p) = self.stored(&ctx[c.len - k..], w) {
                return c.backoff[k] + p;
            }
        }
        c.backoff[0] + self.unigram_prob[w as usize]
    }

    /// Start fetching what [`NgramLm::logp_after`]`(c, w)` will read: the longest n-gram's
    /// slot and the next shorter one's. The model is 37 MB, so nearly every lookup misses the
    /// cache; the decoder calls this for every reading of a token before it scores any, and
    /// the misses overlap instead of coming one after another.
    #[inline]
    pub fn prefetch(&self, c: &Context, w: u16) {
        let mut key = [0u16; MAX_ORDER];
        for k in (1..=c.len).rev().take(2) {
            key[..k].copy_from_slice(&c.ids[c.len - k..c.len]);
            key[k] = w;
            self.tables[k - 1].prefetch(&key[..=k], k + 1);
        }
    }

    /// The stored ln P(w | ctx) of the n-gram ctx + w, if the model kept it.
    #[inline]
    fn stored(&self, ctx: &[u16], w: u16) -> Option<f32> {
        let k = ctx.len();
        let mut key = [0u16; MAX_ORDER];
        key[..k].copy_from_slice(ctx);
        key[k] = w;
        let t = &self.tables[k - 1];
        t.slot(&key[..=k], k + 1)
            .map(|i| t.prob_book[t.probs[i] as usize])
    }

    /// log P(w) alone.
    pub fn unigram(&self, w: u16) -> f32 {
        self.unigram_prob
            .get(w as usize)
            .copied()
            .unwrap_or(f32::NEG_INFINITY)
    }

    fn context_backoff(&self, c: &[u16]) -> f32 {
        if c.len() == 1 {
            return self.unigram_bo[c[0] as usize];
        }
        let t = &self.tables[c.len() - 2];
        match t.slot(c, c.len()) {
            Some(i) if !t.bos.is_empty() => t.bo_book[t.bos[i] as usize],
            _ => 0.0,
        }
    }
}

/// Counts n-grams over training lines and writes the model.
pub struct Builder {
    pub order: usize,
    pub vocab: Vocab,
    /// counts[k-1]: raw counts of k-grams (unigrams in `uni`).
    counts: Vec<FxHashMap<u64, u32>>,
    uni: Vec<u64>,
    pub tokens: u64,
    buf: Vec<u16>,
}

impl Builder {
    pub fn new(order: usize, vocab: Vocab) -> Builder {
        assert!((2..=MAX_ORDER).contains(&order));
        let n = vocab.len();
        Builder {
            order,
            vocab,
            counts: (0..order).map(|_| FxHashMap::default()).collect(),
            uni: vec![0; n],
            tokens: 0,
            buf: Vec::new(),
        }
    }

    pub fn add_line(&mut self, line: &str) {
        let mut ids = std::mem::take(&mut self.buf);
        ids.clear();
        ids.push(BOS);
        self.vocab.token_ids(line, &mut ids);
        if ids.len() == 1 {
            self.buf = ids;
            return;
        }
        ids.push(EOS);
        self.tokens += ids.len() as u64 - 2;
        for i in 0..ids.len() {
            self.uni[ids[i] as usize] += 1;
            for k in 2..=self.order.min(i + 1) {
                let key = pack(&ids[i + 1 - k..=i]);
                *self.counts[k - 1].entry(key).or_insert(0) += 1;
            }
        }
        self.buf = ids;
    }

    /// Compute interpolated Kneser-Ney probabilities, keep k-grams seen at least `min_count[k]`
    /// times (k ≥ 2), and serialise.
    pub fn finish(self, min_count: &[u32]) -> Vec<u8> {
        let order = self.order;
        let v = self.vocab.len();
        let first_of = |key: u64, k: usize| ((key >> (16 * (k - 1))) & 0xFFFF) as u16;
        let suffix = |key: u64, k: usize| key & ((1u64 << (16 * (k - 1))) - 1);
        let prefix = |key: u64| key >> 16;

        // Adjusted counts: raw for the highest order and for n-grams starting with <s>,
        // otherwise the number of distinct words seen before it (continuation counts).
        let mut raw = self.counts;
        let mut adj: Vec<FxHashMap<u64, u32>> = (0..order).map(|_| FxHashMap::default()).collect();
        let mut adj_uni = vec![0u64; v];
        adj[order - 1] = std::mem::take(&mut raw[order - 1]);
        for k in (1..order).rev() {
            // k-gram continuation counts from (k+1)-grams.
            let mut cont: FxHashMap<u64, u32> = FxHashMap::default();
            let upper = if k + 1 == order { &adj[k] } else { &raw[k] };
            for &key in upper.keys() {
                *cont.entry(suffix(key, k + 1)).or_insert(0) += 1;
            }
            if k == 1 {
                for (&key, &c) in &cont {
                    adj_uni[key as usize] = c as u64;
                }
                adj_uni[BOS as usize] = 0;
            } else {
                for (&key, &c) in &raw[k - 1] {
                    if first_of(key, k) == BOS {
                        cont.insert(key, c);
                    }
                }
                adj[k - 1] = cont;
            }
        }
        let discount = |vals: &mut dyn Iterator<Item = u64>| -> f64 {
            let (mut n1, mut n2) = (0u64, 0u64);
            for c in vals {
                if c == 1 {
                    n1 += 1
                } else if c == 2 {
                    n2 += 1
                }
            }
            if n1 == 0 {
                0.5
            } else {
                (n1 as f64 / (n1 as f64 + 2.0 * n2 as f64)).clamp(0.1, 0.95)
            }
        };
        // Unigrams: discounted continuation counts interpolated with uniform.
        let d1 = discount(&mut adj_uni.iter().copied());
        let total1: u64 = adj_uni.iter().sum();
        let types1 = adj_uni.iter().filter(|&&c| c > 0).count() as f64;
        let gamma0 = d1 * types1 / total1.max(1) as f64;
        let mut p_lower: FxHashMap<u64, f64> = FxHashMap::default();
        let p_uni: Vec<f64> = (0..v)
            .map(|w| {
                let c = adj_uni[w] as f64;
                ((c - d1).max(0.0) / total1.max(1) as f64) + gamma0 / v as f64
            })
            .collect();
        let mut out_probs: Vec<Vec<(u64, f32)>> = vec![Vec::new(); order];
        let mut out_bos: Vec<FxHashMap<u64, f32>> =
            (0..order).map(|_| FxHashMap::default()).collect();
        for k in 2..=order {
            let a = &adj[k - 1];
            let d = discount(&mut a.values().map(|&c| c as u64));
            // Per context: sum of adjusted counts and number of distinct followers.
            let mut ctx: FxHashMap<u64, (u64, u32)> = FxHashMap::default();
            for (&key, &c) in a {
                let e = ctx.entry(prefix(key)).or_insert((0, 0));
                e.0 += c as u64;
                e.1 += 1;
            }
            let mut p_this: FxHashMap<u64, f64> = FxHashMap::default();
            let keep_all = k < order;
            for (&key, &c) in a {
                let (sum, types) = ctx[&prefix(key)];
                let gamma = d * types as f64 / sum as f64;
                let lower = if k == 2 {
                    p_uni[(key & 0xFFFF) as usize]
                } else {
                    *p_lower.get(&suffix(key, k)).unwrap_or(&1e-9)
                };
                let p = (c as f64 - d).max(0.0) / sum as f64 + gamma * lower;
                if keep_all {
                    p_this.insert(key, p);
                }
                let seen = if k == order {
                    c
                } else {
                    raw[k - 1].get(&key).copied().unwrap_or(0)
                };
                if seen >= min_count[k] {
                    out_probs[k - 1].push((key, p.ln() as f32));
                }
            }
            for (&h, &(sum, types)) in &ctx {
                out_bos[k - 2].insert(h, ((d * types as f64 / sum as f64).ln()) as f32);
            }
            p_lower = p_this;
        }

        // Serialise.
        let mut f: Vec<u8> = Vec::new();
        f.extend_from_slice(MAGIC);
        f.extend_from_slice(&(order as u32).to_le_bytes());
        let vtext = self.vocab.words.join("\n");
        f.extend_from_slice(&(vtext.len() as u32).to_le_bytes());
        f.extend_from_slice(vtext.as_bytes());
        // Unigrams.
        let uni_lp: Vec<f32> = (0..v)
            .map(|w| {
                if w == BOS as usize {
                    -99.0
                } else {
                    p_uni[w].ln() as f32
                }
            })
            .collect();
        let uni_bo: Vec<f32> = (0..v)
            .map(|w| out_bos[0].get(&(w as u64)).copied().unwrap_or(0.0))
            .collect();
        let pbook = codebook(&uni_lp);
        let bbook = codebook(&uni_bo);
        write_book(&mut f, &pbook);
        write_book(&mut f, &bbook);
        f.extend(uni_lp.iter().map(|&x| quantise(&pbook, x)));
        f.extend(uni_bo.iter().map(|&x| quantise(&bbook, x)));
        for k in 2..=order {
            let entries = &out_probs[k - 1];
            let slots = (entries.len() as f64 / 0.8) as usize + 1;
            let pvals: Vec<f32> = entries.iter().map(|e| e.1).collect();
            let bos_k: Vec<f32> = if k < order {
                entries
                    .iter()
                    .map(|e| out_bos[k - 1].get(&e.0).copied().unwrap_or(0.0))
                    .collect()
            } else {
                Vec::new()
            };
            let pbook = codebook(&pvals);
            let bbook = codebook(&bos_k);
            let mut fps = vec![0u16; slots];
            let mut probs = vec![0u8; slots];
            let mut bos = vec![0u8; if k < order { slots } else { 0 }];
            for (j, &(key, lp)) in entries.iter().enumerate() {
                let h = mix(key, k);
                let fp = fingerprint(h);
                let mut i = home(h, slots);
                while fps[i] != 0 {
                    i = if i + 1 == slots { 0 } else { i + 1 };
                }
                fps[i] = fp;
                probs[i] = quantise(&pbook, lp);
                if k < order {
                    bos[i] = quantise(&bbook, bos_k[j]);
                }
            }
            f.extend_from_slice(&(slots as u32).to_le_bytes());
            write_book(&mut f, &pbook);
            write_book(&mut f, &bbook);
            for fp in fps {
                f.extend_from_slice(&fp.to_le_bytes());
            }
            f.extend_from_slice(&probs);
            f.extend_from_slice(&bos);
        }
        f
    }

    /// n-grams kept per order at these thresholds (for choosing them against the size limit).
    pub fn kept(&self, min_count: &[u32]) -> Vec<usize> {
        (2..=self.order)
            .map(|k| {
                self.counts[k - 1]
                    .values()
                    .filter(|&&c| c >= min_count[k])
                    .count()
            })
            .collect()
    }
}

/// 256 quantiles of the values: the codebook of an 8-bit quantiser.
fn codebook(vals: &[f32]) -> [f32; 256] {
    let mut book = [0f32; 256];
    if vals.is_empty() {
        return book;
    }
    let mut s: Vec<f32> = vals.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    for (i, b) in book.iter_mut().enumerate() {
        // Centre of the i-th of 256 equal-count bins.
        let j = ((i as f64 + 0.5) / 256.0 * s.len() as f64) as usize;
        *b = s[j.min(s.len() - 1)];
    }
    book
}

fn quantise(book: &[f32; 256], x: f32) -> u8 {
    let i = book.partition_point(|&b| b < x);
    if i == 0 {
        return 0;
    }
    if i >= 256 {
        return 255;
    }
    if (x - book[i - 1]).abs() <= (book[i] - x).abs() {
        (i - 1) as u8
    } else {
        i as u8
    }
}

fn write_book(f: &mut Vec<u8>, b: &[f32; 256]) {
    for x in b {
        f.extend_from_slice(&x.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_placement_folds_to_the_old_style_and_back() {
        assert_eq!(fold("hoà"), "hòa");
        assert_eq!(fold("thuỷ"), "thủy");
        assert_eq!(fold("khoẻ"), "khỏe");
        assert_eq!(fold("quý"), "quý");
        assert_eq!(fold("hoàn"), "hoàn");
        assert_eq!(fold("hòa"), "hòa");
        assert_eq!(new_style_tone("hòa").as_deref(), Some("hoà"));
        assert_eq!(new_style_tone("Thủy").as_deref(), Some("Thuỷ"));
        assert_eq!(new_style_tone("quý"), None);
    }

    #[test]
    fn a_model_built_from_text_prefers_what_the_text_says() {
        let syl = [
            "tổ", "tô", "quốc", "kế", "kê", "hoạch", "hoach", "bảo", "vệ",
        ];
        let vocab = Vocab::from_syllables(syl.iter().copied());
        let mut b = Builder::new(3, vocab);
        for _ in 0..20 {
            b.add_line("bảo vệ tổ quốc");
            b.add_line("kế hoạch bảo vệ tổ quốc.");
        }
        b.add_line("tô quốc");
        let bytes = b.finish(&[0, 0, 1, 1]);
        let lm = NgramLm::from_bytes(&bytes).unwrap();
        let id = |s: &str| lm.vocab.id(s).unwrap();
        let ctx = [id("bảo"), id("vệ")];
        assert!(lm.logp(&ctx, id("tổ")) > lm.logp(&ctx, id("tô")) + 2.0);
        assert!(lm.logp(&[id("tổ")], id("quốc")) > lm.logp(&[id("tô")], id("quốc")) - 5.0);
        assert!(lm.logp(&[BOS], id("kế")) > lm.logp(&[BOS], id("kê")));
        // Every id has a finite probability, seen or not.
        assert!(lm.logp(&[id("hoach"), id("kê")], id("hoach")).is_finite());
    }

    #[test]
    fn a_prepared_context_scores_every_word_as_the_plain_lookup_does() {
        let syl = ["tổ", "tô", "quốc", "bảo", "vệ", "kế", "hoạch"];
        let vocab = Vocab::from_syllables(syl.iter().copied());
        let mut b = Builder::new(3, vocab);
        for _ in 0..10 {
            b.add_line("kế hoạch bảo vệ tổ quốc");
        }
        b.add_line("bảo vệ tô");
        let bytes = b.finish(&[0, 0, 1, 1]);
        let lm = NgramLm::from_bytes(&bytes).unwrap();
        let ids: Vec<u16> = (0..lm.vocab.len() as u16).collect();
        // Seen trigrams, seen bigrams after an unseen context, unseen words, short contexts.
        for ctx in ids.windows(2).chain(ids.windows(1)).chain([&[][..]]) {
            let c = lm.context(ctx);
            for &w in &ids {
                assert_eq!(lm.logp_after(&c, w), lm.logp(ctx, w), "{ctx:?} {w}");
            }
        }
        let c = lm.context(&[lm.vocab.id("bảo").unwrap(), lm.vocab.id("vệ").unwrap()]);
        assert!(lm.logp_after(&c, lm.vocab.id("tổ").unwrap()) > lm.logp_after(&c, UNK));
    }
}

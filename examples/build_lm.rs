//! Build the syllable language model (models/vi_lm.bin) from training text on stdin.
//!
//!     models/train/build_lm.sh            # the documented run: corpus → held-out split → model
//!
//! Lines listed in `--exclude-lines` files (held-out evaluation text) are skipped, and so is
//! any line sharing an 8-syllable sequence with an `--exclude-text` file (dev-set truth, which
//! must never be trained on).
use sohoa::restore::ngram::{Builder, Vocab};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, Write};

fn h<T: Hash + ?Sized>(x: &T) -> u64 {
    let mut s = std::collections::hash_map::DefaultHasher::new();
    x.hash(&mut s);
    s.finish()
}

fn syllable_grams(line: &str, n: usize) -> Vec<u64> {
    let w: Vec<String> = line
        .split_whitespace()
        .map(|t| {
            t.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(|c| c.to_lowercase())
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    if w.len() < n {
        return Vec::new();
    }
    (0..=w.len() - n).map(|i| h(&w[i..i + n])).collect()
}

fn main() -> anyhow::Result<()> {
    let mut order = 3usize;
    let mut min = vec![0u32, 0, 2, 2, 3];
    let mut out = String::from("models/vi_lm.bin");
    let mut lexicon = String::from("models/vi_syllables.txt");
    let mut exclude_lines: HashSet<u64> = HashSet::new();
    let mut exclude_grams: HashSet<u64> = HashSet::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--order" => order = val.parse()?,
            "--min-count" => {
                // e.g. 2,2,3 for bigrams, trigrams, 4-grams
                for (k, v) in val.split(',').enumerate() {
                    min[k + 2] = v.parse()?;
                }
            }
            "--out" => out = val,
            "--lexicon" => lexicon = val,
            "--exclude-lines" => {
                for l in std::fs::read_to_string(&val)?.lines() {
                    exclude_lines.insert(h(l.trim()));
                }
            }
            "--exclude-text" => {
                for l in std::fs::read_to_string(&val)?.lines() {
                    exclude_grams.extend(syllable_grams(l, 8));
                }
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
        i += 2;
    }
    let lex = std::fs::read_to_string(&lexicon)?;
    let vocab = Vocab::from_syllables(lex.split_whitespace());
    eprintln!("vocabulary: {} entries", vocab.len());
    let mut b = Builder::new(order, vocab);
    let (mut lines, mut skipped) = (0u64, 0u64);
    let t0 = std::time::Instant::now();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if exclude_lines.contains(&h(t))
            || (!exclude_grams.is_empty()
                && syllable_grams(t, 8)
                    .iter()
                    .any(|g| exclude_grams.contains(g)))
        {
            skipped += 1;
            continue;
        }
        b.add_line(t);
        lines += 1;
        if lines % 1_000_000 == 0 {
            eprintln!(
                "{lines} lines, {} tokens, {:.0} s",
                b.tokens,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "counted {lines} lines ({skipped} excluded), {} tokens in {:.0} s; kept n-grams per order from 2: {:?}",
        b.tokens,
        t0.elapsed().as_secs_f64(),
        b.kept(&min)
    );
    let bytes = b.finish(&min);
    let tmp = format!("{out}.tmp");
    std::fs::File::create(&tmp)?.write_all(&bytes)?;
    std::fs::rename(&tmp, &out)?;
    eprintln!(
        "wrote {out}: {:.1} MB in {:.0} s",
        bytes.len() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

#!/usr/bin/env python3
"""Capitalised abbreviations with Đ (HĐND, GD&ĐT, CSĐT), counted over the training side of the
corpus, for restoring stripped text: "HDND" has no syllable reading, so the language model
cannot restore its Đ; the corpus says which form is written.

Reads the same sources as build_lm.sh, skips the held-out lines (every 100th, the 1st, 101st…, and any line equal to one)
and any line sharing 8 syllables with dev truth, and writes `key<TAB>form` (key: the form with
Đ folded to D) for keys seen at least MIN times whose commonest form has Đ and a share of at
least SHARE. Usage: build_acronyms.py SOURCES… > models/vi_acronyms.tsv
"""
import collections, lzma, re, sys, unicodedata

MIN, SHARE = 5, 0.8
PART = re.compile(r"^[A-ZĐ]{2,8}$")
SEP = re.compile(r"[-/&.,:]")
EDGE = "()[]{}\"'“”‘’.,;:!?…"


def syllables(s):
    return [w.strip(EDGE).lower() for w in s.split() if w.strip(EDGE)]


def shingles(words, n=8):
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def main():
    dev = set()
    for line in open("models/train/data/devtruth.all", encoding="utf-8"):
        dev |= shingles(syllables(unicodedata.normalize("NFC", line)))
    # viwiki2017_full repeats lines of the wiki sample: a held-out line is held out everywhere.
    heldout = set(open("models/train/data/heldout.all", encoding="utf-8").read().split("\n"))
    counts = collections.defaultdict(collections.Counter)
    for path in sys.argv[1:]:
        f = lzma.open(path, "rt", encoding="utf-8") if path.endswith(".xz") else open(path, encoding="utf-8")
        for n, line in enumerate(f):
            if n % 100 == 0 or ("D" not in line and "Đ" not in line):
                continue
            if line.rstrip("\n") in heldout:
                continue
            line = unicodedata.normalize("NFC", line)
            found = []
            for tok in line.split():
                for part in SEP.split(tok.strip(EDGE)):
                    if PART.match(part) and ("D" in part or "Đ" in part):
                        found.append(part)
            if found and not (shingles(syllables(line)) & dev):
                for p in found:
                    counts[p.replace("Đ", "D")][p] += 1
    for key in sorted(counts):
        c = counts[key]
        form, k = c.most_common(1)[0]
        if "Đ" in form and k >= MIN and k >= SHARE * sum(c.values()):
            print(f"{key}\t{form}")


if __name__ == "__main__":
    main()

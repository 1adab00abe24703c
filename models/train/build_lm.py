"""Syllable bigram counts for the restoration decoder (models/vi_bigrams.tsv).

Tokens holding a digit (numbers, dates, codes like 57-KL/TW) count as one word, <num>.
The tagger scores each token's candidate syllables from +-30 characters of context; the bigram
table lets the decoder prefer sequences that occur in Vietnamese ("kế hoạch", not "kê hoạch").
Counts come from the training split of the corpus only (see common.corpus_lines).

    python build_lm.py ../vi_bigrams.tsv --min-count 3
"""
import argparse
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CORPUS, corpus_lines  # noqa: E402

PUNCT = "\"'“”‘’()[]{}<>,.;:!?…-–—/*"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--min-count", type=int, default=3)
    a = ap.parse_args()
    lex = set(open(os.path.join(CORPUS, "lexicon", "vi_syllables.txt"), encoding="utf-8").read().split())
    uni, bi = Counter(), Counter()
    for _, line in corpus_lines("train"):
        prev = "<s>"
        for tok in line.split():
            core = tok.strip(PUNCT).lower()
            if any(c.isdigit() for c in core):
                # Numbers, dates and document codes are one class: "số <num>", "Điều <num>".
                core = "<num>"
            if core in lex or core == "<num>":
                uni[core] += 1
                bi[(prev, core)] += 1
                prev = core
            else:
                prev = "<s>"
            if tok and tok[-1] in ".;:!?":
                prev = "<s>"
    with open(a.out + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"# sohoa syllable LM: unigram lines 'w\\tcount', bigram lines 'w1 w2\\tcount' (count >= {a.min_count}); total {sum(uni.values())}\n")
        for w, c in uni.most_common():
            f.write(f"{w}\t{c}\n")
        for (w1, w2), c in bi.most_common():
            if c < a.min_count:
                break
            f.write(f"{w1} {w2}\t{c}\n")
    os.replace(a.out + ".tmp", a.out)
    print(f"{len(uni)} unigrams, {sum(1 for c in bi.values() if c >= a.min_count)} bigrams kept of {len(bi)}")


if __name__ == "__main__":
    main()

"""English-model OCR's word confusions, counted on our own renderings of corpus lines.

    python gen_ocr_pairs.py data/eng_pairs.tsv --pages 300 --jobs 1 --seed 11 --models eng
    python build_confusions.py data/eng_pairs.tsv ../vi_eng_confusions.tsv

Tesseract's `eng` model reads Vietnamese letters as other letters ("ủy" as "ty", "ở" as "6",
"thực" as "thurc"). The restorer's tagger proposes such changes only where it is sure of each
character; this table gives the decoder the whole-word readings directly, with the share of the
times a form was read for each syllable (a noisy channel P(truth | form)). Only lines whose
token counts agree are used (the token pairs are then certain); only changes of letters are
kept (other markings of the same letters are the decoder's own candidates). No dev set truth
is used: the pairs come from training-split corpus lines only (gen_ocr_pairs.py).
"""
import collections
import sys
import unicodedata

MIN_FORM = 3  # times a form must be seen
MIN_SHARE = 0.03  # least share of the form's readings a truth must have
MIN_PAIR = 3  # times a (form, truth) pair must be seen

STRIP = str.maketrans(
    "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ",
    "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd",
)


def core(tok):
    """The token's core as the restorer cuts it: from its first to its last letter or digit."""
    a = next((i for i, c in enumerate(tok) if c.isalnum()), None)
    if a is None:
        return ""
    b = max(i for i, c in enumerate(tok) if c.isalnum())
    return tok[a : b + 1].lower()


def main():
    pairs_path, out_path = sys.argv[1], sys.argv[2]
    lexicon = set()
    with open("../vi_syllables.txt", encoding="utf-8") as f:
        for line in f:
            w = line.split("\t")[0].strip()
            if w:
                lexicon.add(unicodedata.normalize("NFC", w.lower()))
    counts = collections.defaultdict(collections.Counter)
    used = 0
    with open(pairs_path, encoding="utf-8") as f:
        for row in f:
            parts = row.rstrip("\n").split("\t")
            if len(parts) != 3 or parts[0] != "eng":
                continue
            ocr, truth = parts[1].split(), parts[2].split()
            if len(ocr) != len(truth):
                continue
            used += 1
            for o, t in zip(ocr, truth):
                o, t = core(o), core(unicodedata.normalize("NFC", t))
                if o and t:
                    counts[o][t] += 1
    rows = []
    for form, truths in counts.items():
        total = sum(truths.values())
        if total < MIN_FORM:
            continue
        for t, c in truths.most_common():
            if c < MIN_PAIR or c / total < MIN_SHARE:
                continue
            if t not in lexicon or t.translate(STRIP) == form.translate(STRIP):
                continue
            rows.append((form, t, c / total, c))
    rows.sort()
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("# form\ttruth\tshare\tcount (build_confusions.py; English-model OCR of corpus lines)\n")
        for form, t, share, c in rows:
            f.write(f"{form}\t{t}\t{share:.3f}\t{c}\n")
    print(f"{used} lines, {len(counts)} forms, {len(rows)} confusions", file=sys.stderr)


if __name__ == "__main__":
    main()

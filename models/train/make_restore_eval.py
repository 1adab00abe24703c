"""Held-out restoration test sets: models/train/data/restore-eval/SOURCE.{eng,truth}.txt.

From each source's held-out lines (models/train/build_lm.sh holds out every 100th line), the
first 250 lines with 8-60 words of which at least 30 % carry marks (drops English and code
lines), stripped of every mark for the input. Fully stripped text carries no hint of the
source's tone-placement style, so the truth is folded to one style (hòa, thủy) before scoring:
otherwise every "hoà" of a new-style source would count as an error no system could avoid.

    python3 models/train/make_restore_eval.py && \
    target/release/sohoa eval --restore-pairs models/train/data/restore-eval --no-raw
"""
import os
import re
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
HELD = os.path.join(HERE, "data", "heldout")
OUT = os.path.join(HERE, "data", "restore-eval")
N = 250

TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def strip(s):
    d = unicodedata.normalize("NFD", s)
    d = "".join(c for c in d if not unicodedata.combining(c))
    return d.replace("đ", "d").replace("Đ", "D")


def fold_word(w):
    """hoà -> hòa, thuỷ -> thủy, khoẻ -> khỏe (not quý)."""
    m = re.match(r"^(.*?)([oOuU])([aAeEyY])(\W*)$", unicodedata.normalize("NFD", w))
    d = unicodedata.normalize("NFD", w)
    core = d.rstrip(".,;:!?\"')]}…")
    tail = d[len(core):]
    # decompose: find last base letter and its tone
    chars = list(core)
    if len(chars) < 2:
        return w
    tone = None
    while chars and chars[-1] in TONES:
        tone = chars.pop()
    if tone is None or len(chars) < 2:
        return w
    last, prev = chars[-1].lower(), chars[-2].lower()
    if (prev, last) in (("o", "a"), ("o", "e")) or (
        (prev, last) == ("u", "y") and not (len(chars) >= 3 and chars[-3].lower() == "q")
    ):
        chars.insert(len(chars) - 1, tone)
        return unicodedata.normalize("NFC", "".join(chars) + tail)
    return w


def fold(line):
    return " ".join(fold_word(w) for w in line.split())


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in sorted(os.listdir(HELD)):
        if not name.endswith(".txt"):
            continue
        picked = []
        for line in open(os.path.join(HELD, name), encoding="utf-8"):
            line = unicodedata.normalize("NFC", " ".join(line.split()))
            words = line.split()
            if not 8 <= len(words) <= 60:
                continue
            marked = sum(1 for w in words if strip(w) != w)
            if marked < 0.3 * len(words):
                continue
            picked.append(line)
            if len(picked) == N:
                break
        stem = name[:-4]
        with open(os.path.join(OUT, stem + ".truth.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(fold(l) for l in picked) + "\n")
        with open(os.path.join(OUT, stem + ".eng.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(strip(l) for l in picked) + "\n")
        print(stem, len(picked))


if __name__ == "__main__":
    main()

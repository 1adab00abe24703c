"""Shared pieces of the restoration model's data pipeline: corpus split, vocabularies, alignment.

The Rust side (src/restore) mirrors `strip_marks`, the vocabulary files and the label scheme, so
keep them in step with `vocab.json`.
"""
import os
import re
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.environ.get("SOHOA_CORPUS", os.path.join(HERE, "..", "..", "..", "shared", "corpus"))
CORPUS_FILES = ["vi_legal_vlc.txt", "vi_wiki_2017_sample.txt"]
HOLDOUT_EVERY = 50  # every 50th corpus line is held out for evaluation, never trained on

# Vietnamese base letters and the marks Tesseract and legacy OCR confuse.
VOWEL_TABLE = {
    # base: [level, grave, hook, tilde, acute, dot]
    "a": "aàảãáạ", "ă": "ăằẳẵắặ", "â": "âầẩẫấậ",
    "e": "eèẻẽéẹ", "ê": "êềểễếệ",
    "i": "iìỉĩíị",
    "o": "oòỏõóọ", "ô": "ôồổỗốộ", "ơ": "ơờởỡớợ",
    "u": "uùủũúụ", "ư": "ưừửữứự",
    "y": "yỳỷỹýỵ",
}
CHAR_INFO = {}  # char -> (base_with_shape, tone_index)
for base, forms in VOWEL_TABLE.items():
    for tone, ch in enumerate(forms):
        CHAR_INFO[ch] = (base, tone)
SHAPE_STRIP = {"ă": "a", "â": "a", "ê": "e", "ô": "o", "ơ": "o", "ư": "u", "a": "a", "e": "e",
               "i": "i", "o": "o", "u": "u", "y": "y"}


def nfc(s):
    return unicodedata.normalize("NFC", s)


def strip_char(c):
    lo = c.lower()
    if lo == "đ":
        out = "d"
    elif lo in CHAR_INFO:
        out = SHAPE_STRIP[CHAR_INFO[lo][0]]
    else:
        return c
    return out.upper() if c != lo else out


def strip_marks(s):
    return "".join(strip_char(c) for c in s)


def with_tone(base, tone):
    return VOWEL_TABLE[base][tone]


def corpus_lines(split):
    """Yield (file, line) for split 'train' or 'eval'."""
    for name in CORPUS_FILES:
        with open(os.path.join(CORPUS, name), encoding="utf-8") as f:
            for i, line in enumerate(f):
                held = i % HOLDOUT_EVERY == 0
                if (split == "eval") == held:
                    line = nfc(line.strip())
                    if line:
                        yield name, line


def chunks(line, max_len):
    """Split a long line at spaces into pieces of at most max_len characters."""
    words = line.split(" ")
    cur = ""
    for w in words:
        if len(w) > max_len:
            continue
        if cur and len(cur) + 1 + len(w) > max_len:
            yield cur
            cur = w
        else:
            cur = w if not cur else cur + " " + w
    if cur:
        yield cur


def align(src, tgt):
    """Levenshtein alignment of two strings. Returns, for each char of src, the tgt char it maps
    to ('' when src's char is an insertion, i.e. to be deleted) and the count of tgt chars that
    src missed (deletions, which a tagger cannot restore)."""
    n, m = len(src), len(tgt)
    dp = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        dp[i][0] = i
    for j in range(m + 1):
        dp[0][j] = j
    for i in range(1, n + 1):
        si = src[i - 1].lower()
        row, prev = dp[i], dp[i - 1]
        for j in range(1, m + 1):
            tj = tgt[j - 1].lower()
            sub = 0 if si == tj else (0.5 if strip_char(si) == strip_char(tj) else 1)
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + sub)
    out = [""] * n
    missed = 0
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0:
            si, tj = src[i - 1].lower(), tgt[j - 1].lower()
            sub = 0 if si == tj else (0.5 if strip_char(si) == strip_char(tj) else 1)
            if dp[i][j] == dp[i - 1][j - 1] + sub:
                out[i - 1] = tgt[j - 1]
                i, j = i - 1, j - 1
                continue
        if i > 0 and dp[i][j] == dp[i - 1][j] + 1:
            out[i - 1] = ""
            i -= 1
        else:
            missed += 1
            j -= 1
    return out, missed

"""Collect real Tesseract errors: render training-split corpus lines as degraded page images,
OCR them with Tesseract (`vie` and `eng`), and write aligned (ocr, truth) line pairs.

    python gen_ocr_pairs.py OUT.tsv --pages 120 --jobs 2

Only the training split of the corpus is rendered (see common.corpus_lines) unless `--split eval`
asks for held-out lines (a tuning set, never trained on); scans-dev is never used. Output columns: model, ocr line, truth line.
"""
import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
from multiprocessing import Pool

from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import corpus_lines, nfc  # noqa: E402

FONTS = [
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Italic.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
]
FONTS = [f for f in FONTS if os.path.exists(f)]  # fonts-liberation may be missing
TESSDATA = os.environ.get("SOHOA_TESSDATA", "/usr/share/tesseract-ocr/5/tessdata")
VIE = os.environ.get("SOHOA_LANG", "Vietnamese")
MODELS = [VIE, "eng"]  # --models; read by the forked workers


def wrap(text, font, width):
    words, lines, cur = text.split(), [], ""
    for w in words:
        cand = w if not cur else cur + " " + w
        if font.getlength(cand) <= width:
            cur = cand
        else:
            if cur:
                lines.append(cur)
            cur = w if font.getlength(w) <= width else ""
    if cur:
        lines.append(cur)
    return lines


def render(job):
    seed, paragraphs = job
    rng = random.Random(seed)
    dpi = rng.choice([300, 300, 300, 200])
    scale = dpi / 300
    W, H = int(2480 * scale), int(3508 * scale)
    font = ImageFont.truetype(rng.choice(FONTS), int(rng.choice([46, 50, 54, 58, 62]) * scale))
    pitch = int(font.size * rng.uniform(1.45, 1.7))
    margin = int(250 * scale)
    img = Image.new("L", (W, H), 255)
    d = ImageDraw.Draw(img)
    y, truth = margin, []
    for p in paragraphs:
        if rng.random() < 0.1:
            p = p.upper()
        for line in wrap(p, font, W - 2 * margin):
            if y + pitch > H - margin:
                break
            d.text((margin, y), line, font=font, fill=rng.randint(0, 60))
            truth.append(line)
            y += pitch
    # Scan damage: blur, noise specks, optional binarisation, JPEG.
    if rng.random() < 0.7:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.1) * scale))
    px = img.load()
    for _ in range(rng.randint(0, 400)):
        x, yy = rng.randrange(W), rng.randrange(H)
        px[x, yy] = 0 if rng.random() < 0.5 else 255
    if rng.random() < 0.3:
        t = rng.randint(110, 170)
        img = img.point(lambda v: 0 if v < t else 255)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(55, 90))
    buf.seek(0)
    img = Image.open(buf)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "p.png")
        img.save(path, dpi=(dpi, dpi))
        for model in MODELS:
            r = subprocess.run(["tesseract", path, "stdout", "--tessdata-dir", TESSDATA, "-l", model,
                                "--psm", "6", "--dpi", str(dpi)],
                               capture_output=True, text=True, env=dict(os.environ, OMP_THREAD_LIMIT="1"))
            ocr = [nfc(l.strip()) for l in r.stdout.splitlines() if l.strip()]
            if len(ocr) == len(truth):
                out.extend((model, o, t) for o, t in zip(ocr, truth))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--pages", type=int, default=120)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--models", default=f"{VIE},eng", help="Tesseract models to read with")
    ap.add_argument(
        "--split",
        default="train",
        choices=["train", "eval"],
        help="eval: render held-out lines, for a tuning set of OCR output never trained on",
    )
    a = ap.parse_args()
    MODELS[:] = a.models.split(",")
    rng = random.Random(a.seed)
    lines = [l for _, l in corpus_lines(a.split)]
    rng.shuffle(lines)
    jobs, k = [], 0
    for i in range(a.pages):
        paras = []
        while sum(len(p) for p in paras) < 3500:
            paras.append(lines[k][:600])
            k += 1
        jobs.append((a.seed * 100000 + i, paras))
    n = 0
    with open(a.out + ".tmp", "w", encoding="utf-8") as f, Pool(a.jobs) as pool:
        for i, rows in enumerate(pool.imap_unordered(render, jobs)):
            for m, o, t in rows:
                f.write(f"{m}\t{o}\t{t}\n")
            n += len(rows)
            print(f"page {i + 1}/{a.pages}: {n} pairs", file=sys.stderr, flush=True)
    os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()

"""Turn gen_ocr_pairs.py output into restore_eval input: NAME.eng.txt / NAME.truth.txt pairs.

    python split_pairs.py data/eng_heldout.tsv data/eng-heldout --parts 2

Only the `eng` rows are kept (English-model OCR), line for line, cut into `--parts` files of
equal line count so that restore_eval prints a row for each.
"""
import argparse
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("out")
    ap.add_argument("--parts", type=int, default=2)
    ap.add_argument("--model", default="eng")
    a = ap.parse_args()
    rows = []
    with open(a.tsv, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) == 3 and cols[0] == a.model:
                rows.append(cols[1:])
    os.makedirs(a.out, exist_ok=True)
    size = -(-len(rows) // a.parts)
    for k in range(a.parts):
        part = rows[k * size:(k + 1) * size]
        for col, ext in ((0, "eng"), (1, "truth")):
            with open(os.path.join(a.out, f"part{k}.{ext}.txt"), "w", encoding="utf-8") as f:
                f.write("\n".join(r[col] for r in part) + "\n")
    print(f"{len(rows)} lines in {a.parts} parts under {a.out}")


if __name__ == "__main__":
    main()

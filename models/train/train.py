"""Train sohoa's diacritic-restoration / OCR post-correction model and export it to ONNX.

A character tagger: each input character (lower-cased) gets one output class, the character it
should become (with its Vietnamese marks) or DEL (an OCR insertion to drop). A stack of dilated
1-D convolutions sees about +-30 characters (5-6 syllables), enough for tone choice, and runs as
plain matrix products, so tract-onnx executes it fast on one CPU core.

    python train.py --minutes 60 --out ../          # writes restore.onnx, vocab.json, metrics

Inputs are made on the fly from the training split of ../../shared/corpus with five kinds of
noise (see `make_sample`), including real Tesseract errors from gen_ocr_pairs.py.
"""
import argparse
import json
import math
import os
import random
import sys
import time
import unicodedata
from collections import Counter, defaultdict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CHAR_INFO, VOWEL_TABLE, chunks, corpus_lines, nfc, strip_char,  # noqa: E402
                    strip_marks)

MAX_LEN = 128
PAD, UNK = 0, 1
KEEP, DEL = 0, 1

LOWER_VI = sorted(set("".join(VOWEL_TABLE.values())) | set("abcdefghijklmnopqrstuvwxyzđ"))
OUT_CHARS = LOWER_VI + list("0123456789")


def segments(ocr, truth):
    """Align ocr to truth. Returns [(ocr_substring, truth_char)], one per truth char; OCR
    insertions are appended to the previous truth char's substring."""
    n, m = len(ocr), len(truth)
    lo_o, lo_t = ocr.lower(), truth.lower()
    st_o = [strip_char(c) for c in lo_o]
    st_t = [strip_char(c) for c in lo_t]
    INF = 10 ** 9
    dp = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        dp[i][0] = i
    for j in range(m + 1):
        dp[0][j] = j
    for i in range(1, n + 1):
        row, prev = dp[i], dp[i - 1]
        for j in range(1, m + 1):
            sub = 0 if lo_o[i - 1] == lo_t[j - 1] else (0.4 if st_o[i - 1] == st_t[j - 1] else 1)
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + sub)
    segs = [""] * m
    pending = ""
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0:
            sub = 0 if lo_o[i - 1] == lo_t[j - 1] else (0.4 if st_o[i - 1] == st_t[j - 1] else 1)
            if dp[i][j] == dp[i - 1][j - 1] + sub:
                segs[j - 1] = ocr[i - 1] + pending
                pending = ""
                i, j = i - 1, j - 1
                continue
        if i > 0 and (j == 0 or dp[i][j] == dp[i - 1][j] + 1):
            pending = ocr[i - 1] + pending
            i -= 1
        else:
            segs[j - 1] = pending
            pending = ""
            j -= 1
    if pending:
        # insertions before the first truth char: glue to it
        segs[0] = pending + segs[0] if m else pending
    return list(zip(segs, truth))


def lower1(c):
    """Lower-case one char, keeping it one char (str.lower turns U+0130 into two)."""
    lo = c.lower()
    return lo if len(lo) == 1 else c


class Vocab:
    def __init__(self, in_chars):
        self.inp = ["<pad>", "<unk>"] + in_chars
        self.ix = {c: i for i, c in enumerate(self.inp)}
        self.out = ["<keep>", "<del>"] + OUT_CHARS
        self.ox = {c: i for i, c in enumerate(self.out)}

    def enc_in(self, s):
        return [self.ix.get(lower1(c), UNK) for c in s]

    def label(self, ocr_char, truth_char):
        t = lower1(truth_char)
        if t in self.ox:
            return self.ox[t]
        return KEEP

    def to_json(self):
        return {"schema": "sohoa-restore-vocab/1", "input": self.inp, "output": self.out,
                "pad": PAD, "unk": UNK, "keep": KEEP, "del": DEL, "lowercase_input": True}


def pairs_to_example(vocab, segs):
    x, y = [], []
    for sub, t in segs:
        if not sub:
            continue  # OCR lost this char; a tagger cannot bring it back
        x.append(sub[0])
        y.append(vocab.label(sub[0], t))
        for extra in sub[1:]:
            x.append(extra)
            y.append(DEL)
    return "".join(x), y


class Noise:
    """Ways text comes out of OCR. Confusion tables come from real Tesseract output."""

    def __init__(self, real_pairs, rng):
        self.rng = rng
        self.real = {"vie": [], "eng": []}
        conf = {"vie": defaultdict(Counter), "eng": defaultdict(Counter)}
        for model, o, t in real_pairs:
            kind = "eng" if model == "eng" else "vie"
            segs = segments(o, t)
            self.real[kind].append(segs)
            for sub, tc in segs:
                if sub:
                    conf[kind][tc][sub] += 1
        self.conf = {}
        for kind, table in conf.items():
            self.conf[kind] = {}
            for tc, cnt in table.items():
                total = sum(cnt.values())
                if total < 5:
                    continue
                wrong = [(s, c) for s, c in cnt.items() if s != tc]
                if wrong:
                    p_err = sum(c for _, c in wrong) / total
                    subs, weights = zip(*wrong)
                    self.conf[kind][tc] = (p_err, subs, weights)

    def strip(self, line):
        return [(strip_char(c), c) for c in line]

    def partial(self, line, rate):
        """Tesseract-vie style: a few marks dropped or swapped between look-alikes."""
        rng, out = self.rng, []
        for c in line:
            lo = c.lower()
            o = c
            if lo in CHAR_INFO and rng.random() < rate:
                base, tone = CHAR_INFO[lo]
                r = rng.random()
                if r < 0.45 and tone:
                    # acute/hook/tilde/grave confusions, missing dot below
                    tone = rng.choice({1: [2, 4, 0], 2: [4, 3, 1], 3: [4, 2], 4: [2, 3, 1], 5: [0, 4]}[tone])
                elif r < 0.75 and base in "ăâêôơư":
                    base = {"ă": "a", "â": "a", "ê": "e", "ô": "o", "ơ": "o", "ư": "u"}[base]
                elif r < 0.9:
                    tone = 0
                else:
                    base, tone = strip_char(base), 0
                o = VOWEL_TABLE[base][tone]
                o = o.upper() if c != lo else o
            elif lo == "đ" and rng.random() < rate:
                o = "d" if c == lo else "D"
            out.append((o, c))
        return out

    def confusions(self, line, kind):
        rng, table, out = self.rng, self.conf[kind], []
        base = self.strip(line) if kind == "eng" else [(c, c) for c in line]
        for o, c in base:
            ent = table.get(c)
            if ent and rng.random() < ent[0]:
                o = rng.choices(ent[1], ent[2])[0]
            out.append((o, c))
        return out

    def make(self, line, eng_share=0.0):
        if eng_share and self.rng.random() < eng_share:
            # English-model OCR only (the fast tagger's input): confusions or a real page's line.
            if self.real["eng"] and self.rng.random() < 0.5:
                segs = self.rng.choice(self.real["eng"])
            else:
                segs = self.confusions(line, "eng")
            if self.rng.random() < 0.1:
                segs = [(o.upper(), t.upper()) for o, t in segs]
            return segs
        r = self.rng.random()
        if r < 0.28:
            segs = self.strip(line)
            if self.rng.random() < 0.2:  # stripped text with a few marks left
                segs = [(c if self.rng.random() < 0.8 else t, t) for c, t in segs]
        elif r < 0.48:
            segs = self.partial(line, self.rng.uniform(0.02, 0.25))
        elif r < 0.63:
            segs = self.confusions(line, "eng")
        elif r < 0.73:
            segs = self.confusions(line, "vie")
        elif r < 0.88 and (self.real["vie"] or self.real["eng"]):
            kind = "eng" if self.rng.random() < 0.6 else "vie"
            pool = self.real[kind] or self.real["vie"] or self.real["eng"]
            segs = self.rng.choice(pool)
        else:
            segs = [(c, c) for c in line]
        if self.rng.random() < 0.1:  # ALL-CAPS headings
            segs = [(o.upper(), t.upper()) for o, t in segs]
        return segs


class Tagger(nn.Module):
    def __init__(self, n_in, n_out, emb=96, ch=192, dilations=(1, 2, 4, 8, 1, 2, 4, 8), norm=True):
        super().__init__()
        self.emb = nn.Embedding(n_in, emb, padding_idx=PAD)
        self.inp = nn.Conv1d(emb, ch, 1)
        self.convs = nn.ModuleList(nn.Conv1d(ch, ch, 3, padding=d, dilation=d) for d in dilations)
        # Batch norm is folded into the convolutions on export; a model resumed from an export
        # (--init-onnx) trains without it.
        self.norms = nn.ModuleList((nn.BatchNorm1d(ch) if norm else nn.Identity()) for _ in dilations)
        self.drop = nn.Dropout(0.1)
        self.out = nn.Conv1d(ch, n_out, 1)

    def forward(self, ids):  # ids: [batch, seq] int64 -> logits [batch, seq, n_out]
        x = self.inp(self.emb(ids).transpose(1, 2))
        for conv, norm in zip(self.convs, self.norms):
            x = x + self.drop(F.relu(norm(conv(x))))
        return self.out(x).transpose(1, 2)


def load_onnx_weights(model, path):
    """Copy an exported model's weights (batch norm already folded in) into `model`."""
    import onnx
    from onnx import numpy_helper
    inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(path).graph.initializer}
    sd = model.state_dict()
    if set(inits) <= set(sd):  # exported without batch norm: the module's own names
        sd.update(inits)
        model.load_state_dict(sd)
        return
    for name in ["emb.weight", "inp.weight", "inp.bias", "out.weight", "out.bias"]:
        sd[name] = inits.pop(name)
    convs = sorted(inits, key=lambda n: int(n.rsplit("_", 1)[1]))
    for i in range(len(model.convs)):
        sd[f"convs.{i}.weight"] = inits[convs[2 * i]]
        sd[f"convs.{i}.bias"] = inits[convs[2 * i + 1]]
    model.load_state_dict(sd)


def batchify(vocab, examples):
    T = max(len(x) for x, _ in examples)
    ids = torch.zeros(len(examples), T, dtype=torch.long)
    lab = torch.full((len(examples), T), -100, dtype=torch.long)
    for i, (x, y) in enumerate(examples):
        ids[i, :len(x)] = torch.tensor(vocab.enc_in(x))
        lab[i, :len(y)] = torch.tensor(y)
    return ids, lab


def syllable_accuracy(model, vocab, lines, noise_fn):
    model.eval()
    ok = tot = 0
    with torch.no_grad():
        for k in range(0, len(lines), 64):
            exs = []
            for line in lines[k:k + 64]:
                x, y = pairs_to_example(vocab, noise_fn(line))
                exs.append((x, y, line))
            ids, _ = batchify(vocab, [(x, y) for x, y, _ in exs])
            pred = model(ids).argmax(-1)
            for (x, _, line), p in zip(exs, pred):
                out = []
                for c, cls in zip(x, p.tolist()):
                    if cls == DEL:
                        continue
                    o = c if cls == KEEP else vocab.out[cls]
                    out.append(o.upper() if c.isupper() or (c.isdigit() and False) else o)
                hyp = "".join(out).lower().split()
                ref = line.lower().split()
                tot += len(ref)
                ok += sum(1 for a, b in zip(hyp, ref) if a == b) if len(hyp) == len(ref) else 0
    model.train()
    return ok / max(tot, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--pairs", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ocr_pairs.tsv"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--init-onnx", help="continue from an exported model (its vocab.json beside it)")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--ch", type=int, default=192, help="channels of the convolutions")
    ap.add_argument("--emb", type=int, default=96)
    ap.add_argument("--teacher", help="an exported model to distil from (its vocab.json beside it)")
    ap.add_argument("--alpha", type=float, default=0.5, help="weight of the teacher's distributions")
    ap.add_argument("--eng-share", type=float, default=0.0,
                    help="share of samples made as English-model OCR (the fast tagger's input)")
    ap.add_argument("--name", default="restore.onnx", help="file name of the exported model")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)

    t0 = time.time()
    train = []
    counts = Counter()
    for _, line in corpus_lines("train"):
        for ch in chunks(line, MAX_LEN):
            train.append(ch)
            counts.update(lower1(c) for c in ch)
    evl = [c for _, line in corpus_lines("eval") for c in chunks(line, MAX_LEN)]
    real = []
    if os.path.exists(a.pairs):
        with open(a.pairs, encoding="utf-8") as f:
            for row in f:
                parts = row.rstrip("\n").split("\t")
                if len(parts) == 3 and parts[1] and parts[2] and len(parts[2]) <= MAX_LEN:
                    real.append(parts)
                    counts.update(lower1(c) for c in parts[1])
    in_chars = sorted(c for c, n in counts.items() if n >= 20 and c not in ("\t", "\n"))
    if a.init_onnx or a.teacher:
        with open(os.path.join(os.path.dirname(a.init_onnx or a.teacher), "vocab.json"), encoding="utf-8") as f:
            in_chars = json.load(f)["input"][2:]
    vocab = Vocab(in_chars)
    noise = Noise(real, rng)
    print(f"train chunks {len(train)}, eval chunks {len(evl)}, real pairs {len(real)}, "
          f"vocab in {len(vocab.inp)} out {len(vocab.out)} ({time.time() - t0:.0f}s)", flush=True)

    model = Tagger(len(vocab.inp), len(vocab.out), emb=a.emb, ch=a.ch, norm=not a.init_onnx)
    teacher = None
    if a.teacher:
        teacher = Tagger(len(vocab.inp), len(vocab.out), norm=False)
        load_onnx_weights(teacher, a.teacher)
        teacher.eval()
        print(f"distilling from {a.teacher}" if a.alpha > 0 else
              f"vocabulary of {a.teacher} (alpha 0: hard labels only, no distillation)", flush=True)
    if a.init_onnx:
        load_onnx_weights(model, a.init_onnx)
        print(f"continuing from {a.init_onnx}", flush=True)
    model = model.to(a.device)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"parameters: {nparams}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    budget = a.minutes * 60
    start = time.time()
    step, seen, last_report = 0, 0, start
    rng_eval = random.Random(5)
    eval_lines = rng_eval.sample(evl, min(1500, len(evl)))
    os.makedirs(a.out, exist_ok=True)

    def export(tag):
        model.eval()
        cpu = model.to("cpu")
        dummy = torch.zeros(2, 40, dtype=torch.long)
        path = os.path.join(a.out, a.name)
        torch.onnx.export(cpu, (dummy,), path + ".tmp", input_names=["ids"], output_names=["logits"],
                          dynamic_axes={"ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}},
                          opset_version=13, dynamo=False)
        os.replace(path + ".tmp", path)
        with open(os.path.join(a.out, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab.to_json(), f, ensure_ascii=False, indent=0)
        model.to(a.device)
        model.train()
        print(f"exported ({tag})", flush=True)

    last_export = start
    while True:
        elapsed = time.time() - start
        if elapsed > budget:
            break
        frac = elapsed / budget
        lr = a.lr * min(1.0, (step + 1) / max(a.warmup, 1)) * (0.5 * (1 + math.cos(math.pi * frac)) * 0.95 + 0.05)
        for g in opt.param_groups:
            g["lr"] = lr
        exs = [pairs_to_example(vocab, noise.make(rng.choice(train), a.eng_share)) for _ in range(a.batch)]
        ids, lab = batchify(vocab, exs)
        ids, lab = ids.to(a.device), lab.to(a.device)
        logits = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), lab.reshape(-1), ignore_index=-100)
        if teacher is not None and a.alpha > 0:
            with torch.no_grad():
                soft = F.softmax(teacher(ids), -1)
            mask = (lab >= 0).unsqueeze(-1)
            kl = -(soft * F.log_softmax(logits, -1) * mask).sum() / mask.sum().clamp(min=1)
            loss = (1 - a.alpha) * loss + a.alpha * kl
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += int((lab >= 0).sum())
        if time.time() - last_report > 120:
            last_report = time.time()
            acc = syllable_accuracy(model, vocab, eval_lines[:300], noise.strip)
            print(f"step {step} {elapsed / 60:.1f}min loss {loss.item():.4f} lr {lr:.2e} chars {seen / 1e6:.1f}M "
                  f"strip-acc {acc:.4f}", flush=True)
        if time.time() - last_export > 900:
            last_export = time.time()
            export(f"step {step}")
    export("final")
    metrics = {
        "steps": step, "chars_seen": seen, "minutes": a.minutes, "parameters": nparams,
        "eval_lines": len(eval_lines),
        "syllable_accuracy_fully_stripped": syllable_accuracy(model, vocab, eval_lines, noise.strip),
        "syllable_accuracy_partial_marks": syllable_accuracy(
            model, vocab, eval_lines, lambda l: noise.partial(l, 0.15)),
        "syllable_accuracy_clean_passthrough": syllable_accuracy(model, vocab, eval_lines, lambda l: [(c, c) for c in l]),
    }
    with open(os.path.join(a.out, a.name.replace(".onnx", "") + "_metrics.json" if a.name != "restore.onnx" else "train_metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    print(json.dumps(metrics), flush=True)


if __name__ == "__main__":
    main()

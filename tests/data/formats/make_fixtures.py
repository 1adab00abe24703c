#!/usr/bin/env python3
"""Rebuild the test fixtures of tests/structure_formats.rs from sohoa's JSON output.

    python3 tests/data/formats/make_fixtures.py OUT.json NAME [SCANS_DEV_DIR]

writes NAME.json here: the sohoa JSON, trimmed (confidences rounded to 0.1, restoration
confidences, timings and `document` dropped, the source path reduced to its file name); with
SCANS_DEV_DIR, also NAME.truth.json: that scan's ground truth lines from its manifest (page,
kind, text, bbox, segments).

    sohoa scan .../000-liberation-light.pdf -o /tmp/000.json
    make_fixtures.py /tmp/000.json structure_000-light .../scans-dev/000-liberation-light
    sohoa scan tests/data/formats/sample.pdf -o /tmp/s.json && make_fixtures.py /tmp/s.json sample-pdf
    sohoa scan tests/data/formats/sample.png -o /tmp/p.json && make_fixtures.py /tmp/p.json sample-png
"""
import json
import os
import sys

out_json, name = sys.argv[1:3]
scan_dir = sys.argv[3] if len(sys.argv) > 3 else None
here = os.path.dirname(os.path.abspath(__file__))

d = json.load(open(out_json))
d["timings"] = {k: 0.0 for k in d["timings"]}
d["document"] = None
d["source"]["path"] = os.path.basename(d["source"]["path"])
for p in d["pages"]:
    p["timings"] = {k: 0.0 for k in p["timings"]}
    for l in p["lines"]:
        l["conf"] = round(l["conf"], 1)
        l.pop("restore_conf", None)
        for w in l["words"]:
            w["conf"] = round(w["conf"], 1)
            w.pop("restore_conf", None)
with open(os.path.join(here, f"{name}.json"), "w") as f:
    json.dump(d, f, ensure_ascii=False, separators=(",", ":"))

if scan_dir:
    m = json.load(open(os.path.join(scan_dir, "manifest.json")))
    truth = {"pages": []}
    for p in m["pages"]:
        lines = []
        for l in p["lines"]:
            e = {"kind": l["kind"], "text": l["text"], "bbox": l["bbox"]}
            if l.get("segments"):
                e["segments"] = [{"text": s["text"], "bbox": s["bbox"]} for s in l["segments"]]
            lines.append(e)
        truth["pages"].append({"page": p["page"], "width": p["width"], "height": p["height"], "lines": lines})
    with open(os.path.join(here, f"{name}.truth.json"), "w") as f:
        json.dump(truth, f, ensure_ascii=False, indent=0)

#!/usr/bin/env python3
"""Rebuild the structure test fixtures from sohoa JSON output and scans-dev manifests.

    python3 tests/data/formats/make_fixtures.py OUT.json SCANS_DEV_DIR NAME

writes structure_NAME.json (the sohoa JSON, trimmed: confidences rounded, restoration
confidences and timings dropped, path made relative) and structure_NAME.truth.json (the
manifest's lines: page, kind, text, bbox, segments).
"""
import json
import os
import sys

out_json, scan_dir, name = sys.argv[1:4]
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
with open(os.path.join(here, f"structure_{name}.json"), "w") as f:
    json.dump(d, f, ensure_ascii=False, separators=(",", ":"))

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
with open(os.path.join(here, f"structure_{name}.truth.json"), "w") as f:
    json.dump(truth, f, ensure_ascii=False, indent=0)

#!/usr/bin/env bash
# The syllable language model (models/vi_lm.bin), rebuilt from shared/corpus:
#   1. every 100th line of every source (the 1st, 101st, …) is held out for evaluation
#      (models/train/data/heldout/SOURCE.txt); for vi_legal_vlc and vi_wiki_2017_sample these are
#      also held out from the character tagger (common.HOLDOUT_EVERY = 50);
#   2. the rest is counted by examples/build_lm.rs, skipping any line equal to a held-out line
#      (viwiki2017_full repeats the wiki sample) and any line sharing 8 syllables with dev-set
#      truth (scans-dev, garbled-dev, peer scans, dev/real).
# Usage: models/train/build_lm.sh [ORDER] [MIN-COUNTS]   (default 3 "2,2")
# Time on the 2-core machine: about 10 minutes for order 3 (the xz decompression is half of it).
set -euo pipefail
cd "$(dirname "$0")/../.."
order=${1:-3}
mins=${2:-2,2}
C=${CORPUS:-../shared/corpus}
D=models/train/data
mkdir -p "$D/heldout"
sources=(
  "legal:$C/vi_legal_vlc.txt"
  "wiki:$C/vi_wiki_2017_sample.txt"
  "legal2023:$C/extra/legal_vlc2023_extra.txt.xz"
  "admin:$C/extra/admin_docs_khanhng29.txt.xz"
  "literature:$C/extra/literature_khudocmo_pd.txt.xz"
  "news_dantri:$C/extra/news_dantri_unc2021.txt.xz"
  "news_headlines:$C/extra/news_danes_headlines.txt.xz"
  "news_baomoi:$C/extra/news_baomoi2017_magizbox.txt.xz"
  "news_vnds:$C/extra/news_vietnews_vnds.txt.xz"
  "wiki_full:$C/extra/viwiki2017_full.txt.xz"
  "wiki2024:$C/extra/viwiki2024_sample_ninhdt.txt.xz"
)
read_src() { case "$1" in *.xz) xzcat "$1" ;; *) cat "$1" ;; esac; }
if [ ! -s "$D/heldout/.done" ]; then
  for s in "${sources[@]}"; do
    read_src "${s#*:}" | awk 'NR % 100 == 1' >"$D/heldout/${s%%:*}.txt"
  done
  echo ok >"$D/heldout/.done"
fi
cat "$D"/heldout/*.txt >"$D/heldout.all"
cat ../shared/scans-dev/*/page-*.txt ../shared/garbled-dev/*.truth.txt \
    ../shared/peer-pdfs/vietnamese/*/*gt.txt dev/real/*.gt.txt 2>/dev/null >"$D/devtruth.all" || true
cargo build --release --example build_lm
for s in "${sources[@]}"; do
  read_src "${s#*:}" | awk 'NR % 100 != 1'
done | target/release/examples/build_lm --order "$order" --min-count "$mins" \
    --exclude-lines "$D/heldout.all" --exclude-text "$D/devtruth.all" --out "${OUT:-models/vi_lm.bin}"

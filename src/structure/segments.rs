//! Words, segments and page geometry: what every rule reads from. A line is cut into column
//! segments by the gaps between its word boxes (or, where the boxes show no gap, by the text:
//! a national-header phrase, a place-and-date, a signing authority), and each page gets its
//! text column and usual line height, so that rules place things by position whatever order
//! Tesseract read the columns in. `field` makes a located `Field` from the segments it was read
//! from.

use super::number_date::{is_ngay, number};
use super::text::{is_authority, key, letters, r3, sim, upper_ratio};
use crate::doc::{Line, Page};
use crate::fields::Field;

#[derive(Debug, Clone)]
pub(super) struct Tok {
    pub(super) text: String,
    pub(super) ocr: String,
    pub(super) bbox: [i32; 4],
    pub(super) conf: f32,
}

/// A run of words of one line that belong together: the whole line, or one column of it.
#[derive(Debug, Clone)]
pub(super) struct Seg {
    pub(super) page: usize,
    pub(super) line: usize,
    pub(super) toks: Vec<Tok>,
}

impl Seg {
    pub(super) fn text(&self) -> String {
        self.toks
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
    pub(super) fn ocr(&self) -> String {
        self.toks
            .iter()
            .map(|t| t.ocr.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
    pub(super) fn bbox(&self) -> [i32; 4] {
        if self.toks.is_empty() {
            [0; 4]
        } else {
            crate::doc::union_bbox(self.toks.iter().map(|t| t.bbox))
        }
    }
    pub(super) fn cx(&self) -> f32 {
        let b = self.bbox();
        (b[0] + b[2]) as f32 / 2.0
    }
    pub(super) fn cy(&self) -> f32 {
        let b = self.bbox();
        (b[1] + b[3]) as f32 / 2.0
    }
    /// Mean OCR confidence, 0-1.
    pub(super) fn conf(&self) -> f32 {
        if self.toks.is_empty() {
            return 0.0;
        }
        self.toks
            .iter()
            .map(|t| t.conf.clamp(0.0, 100.0))
            .sum::<f32>()
            / self.toks.len() as f32
            / 100.0
    }
    /// The larger capital share of the restored and the OCR text.
    pub(super) fn upper(&self) -> f32 {
        upper_ratio(&self.text()).max(upper_ratio(&self.ocr()))
    }
    fn split_at(&self, k: usize) -> (Seg, Seg) {
        let a = Seg {
            page: self.page,
            line: self.line,
            toks: self.toks[..k].to_vec(),
        };
        let b = Seg {
            page: self.page,
            line: self.line,
            toks: self.toks[k..].to_vec(),
        };
        (a, b)
    }
    pub(super) fn tail(&self, k: usize) -> Seg {
        Seg {
            page: self.page,
            line: self.line,
            toks: self.toks[k.min(self.toks.len())..].to_vec(),
        }
    }
}

pub(super) fn line_toks(l: &Line) -> Vec<Tok> {
    if l.words.is_empty() {
        return l
            .text
            .split_whitespace()
            .map(|w| Tok {
                text: w.into(),
                ocr: w.into(),
                bbox: l.bbox,
                conf: l.conf,
            })
            .collect();
    }
    let mut ws: Vec<Tok> = l
        .words
        .iter()
        .filter(|w| !w.text.trim().is_empty())
        .map(|w| Tok {
            text: w.text.trim().into(),
            ocr: w.ocr_text.trim().into(),
            bbox: w.bbox,
            conf: w.conf,
        })
        .collect();
    ws.sort_by_key(|t| t.bbox[0]);
    ws
}

/// Page geometry: the text column's edges and the usual line height.
#[derive(Debug, Clone, Copy)]
pub(super) struct Geo {
    pub(super) w: f32,
    pub(super) h: f32,
    pub(super) left: f32,
    pub(super) right: f32,
    pub(super) lh: f32,
}

impl Geo {
    fn of(p: &Page) -> Geo {
        let (w, h) = (p.width.max(1) as f32, p.height.max(1) as f32);
        let mut x0s: Vec<f32> = Vec::new();
        let mut x1s: Vec<f32> = Vec::new();
        let mut hs: Vec<f32> = Vec::new();
        for l in &p.lines {
            let lw = (l.bbox[2] - l.bbox[0]) as f32;
            let lh = (l.bbox[3] - l.bbox[1]) as f32;
            if lh > 0.0 && letters(&l.text) >= 3 {
                hs.push(lh);
            }
            if lw > 0.5 * w {
                x0s.push(l.bbox[0] as f32);
                x1s.push(l.bbox[2] as f32);
            }
        }
        let pct = |v: &mut Vec<f32>, q: f32, dflt: f32| {
            if v.len() < 3 {
                return dflt;
            }
            v.sort_by(|a, b| a.total_cmp(b));
            v[((v.len() - 1) as f32 * q).round() as usize]
        };
        let left = pct(&mut x0s, 0.2, 0.14 * w);
        let right = pct(&mut x1s, 0.8, 0.93 * w);
        let lh = pct(&mut hs, 0.5, 0.017 * h).max(1.0);
        Geo {
            w,
            h,
            left,
            right: right.max(left + 1.0),
            lh,
        }
    }
    pub(super) fn centre(&self) -> f32 {
        (self.left + self.right) / 2.0
    }
    pub(super) fn text_width(&self) -> f32 {
        self.right - self.left
    }
}

/// One line cut into column segments where the gap between two words is far wider than a space.
pub(super) fn line_segments(page: usize, li: usize, l: &Line, g: &Geo) -> Vec<Seg> {
    let toks = line_toks(l);
    if toks.is_empty() {
        return Vec::new();
    }
    let mut hs: Vec<i32> = toks
        .iter()
        .map(|t| t.bbox[3] - t.bbox[1])
        .filter(|h| *h > 0)
        .collect();
    hs.sort_unstable();
    let wh = hs.get(hs.len() / 2).copied().unwrap_or(0) as f32;
    let min_gap = (2.0 * wh).max(0.035 * g.w);
    let mut out = Vec::new();
    let mut cur: Vec<Tok> = Vec::new();
    for t in toks {
        if let Some(prev) = cur.last() {
            let valid = prev.bbox[2] > prev.bbox[0] && t.bbox[2] > t.bbox[0];
            if valid && (t.bbox[0] - prev.bbox[2]) as f32 > min_gap {
                out.push(Seg {
                    page,
                    line: li,
                    toks: std::mem::take(&mut cur),
                });
            }
        }
        cur.push(t);
    }
    if !cur.is_empty() {
        out.push(Seg {
            page,
            line: li,
            toks: cur,
        });
    }
    out
}

/// A word set in capitals ("TRỌNG", "UỶ"), as issuers are, unlike places ("Đức Trọng").
fn all_caps_word(w: &str) -> bool {
    letters(w) >= 2 && upper_ratio(w) == 1.0
}

/// Fallback for merged header lines whose column gap the word boxes do not show: split before a
/// national-header phrase, before the place of a "…, ngày … tháng … năm …" line and before a
/// signing authority ("T/M", "KT.").
fn split_by_text(s: Seg) -> Vec<Seg> {
    let n = s.toks.len();
    // The word where a national-header phrase starts best, if it does not start the segment.
    let mut best: Option<(usize, f32)> = None;
    for (phrase, min) in [
        ("DANGCONGSANVIETNAM", 0.8),
        ("CONGHOAXAHOICHUNGHIA", 0.8),
        ("DOCLAPTUDO", 0.8),
    ] {
        for k in 0..n {
            let mut rest = String::new();
            for t in &s.toks[k..] {
                if rest.len() >= phrase.len() {
                    break;
                }
                rest.push_str(&key(&t.text));
            }
            if rest.len() < phrase.len().min(12) {
                continue;
            }
            let sc = sim(&rest[..phrase.len().min(rest.len())], phrase);
            if sc >= min && best.is_none_or(|b| sc > b.1) {
                best = Some((k, sc));
            }
        }
    }
    if let Some((k, _)) = best.filter(|b| b.0 > 0) {
        let (a, b) = s.split_at(k);
        let mut v = split_by_text(a);
        v.extend(split_by_text(b));
        return v;
    }
    for k in 1..n {
        if is_authority(
            &s.toks[k..]
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ) && k > 0
        {
            let left_words = &s.toks[..k];
            if left_words.iter().any(|t| !all_caps_word(&t.text)) {
                let (a, b) = s.split_at(k);
                return vec![a, b];
            }
        }
    }
    // "HUYỆN UỶ ĐỨC TRỌNG Đức Trọng, ngày 15 tháng 9 năm 2023"
    if let Some(j) = s
        .toks
        .iter()
        .position(|t| is_ngay(&t.text) || is_ngay(&t.ocr))
    {
        // The place: the words before "ngày" back to one in capitals or with digits.
        let placey = |t: &Tok| {
            !all_caps_word(&t.text) && !t.text.contains(|c: char| c.is_ascii_digit() || c == '/')
        };
        let mut start = j;
        while start > 0 && placey(&s.toks[start - 1]) {
            start -= 1;
        }
        let prefix: Vec<&str> = s.toks[..start].iter().map(|t| t.text.as_str()).collect();
        let issuer_like = s.toks[..start]
            .iter()
            .all(|t| all_caps_word(&t.text) || letters(&t.text) < 2);
        if start > 0 && start < j && (issuer_like || number(&prefix.join(" ")).is_some()) {
            let (a, b) = s.split_at(start);
            return vec![a, b];
        }
    }
    vec![s]
}

pub(super) struct PageCtx<'a> {
    pub(super) page: &'a Page,
    pub(super) geo: Geo,
    /// Line indices sorted top to bottom.
    pub(super) order: Vec<usize>,
}

impl<'a> PageCtx<'a> {
    pub(super) fn new(page: &'a Page) -> Self {
        let mut order: Vec<usize> = (0..page.lines.len()).collect();
        order.sort_by_key(|&i| (page.lines[i].bbox[1] + page.lines[i].bbox[3], i));
        PageCtx {
            page,
            geo: Geo::of(page),
            order,
        }
    }
    /// All lines as column segments (with the text fallback applied).
    pub(super) fn segs(&self, lines: &[usize]) -> Vec<Seg> {
        let mut v = Vec::new();
        for &li in lines {
            for s in line_segments(self.page.index, li, &self.page.lines[li], &self.geo) {
                v.extend(split_by_text(s));
            }
        }
        v.sort_by(|a, b| {
            a.cy()
                .total_cmp(&b.cy())
                .then(a.bbox()[0].cmp(&b.bbox()[0]))
        });
        v
    }
    /// Page numbers and running marks at the top or bottom edge.
    pub(super) fn is_furniture(&self, l: &Line) -> bool {
        let g = &self.geo;
        let edge = (l.bbox[3] as f32) < 0.075 * g.h || (l.bbox[1] as f32) > 0.93 * g.h;
        edge && (key(&l.text).len() <= 4 || l.text.trim().chars().all(|c| !c.is_alphabetic()))
    }
}

/// A located field read from `segs`: the first segment's page, the lines of those on that page,
/// and `base` (the rule's certainty) times their mean OCR confidence.
pub(super) fn field<T>(value: T, segs: &[&Seg], base: f32) -> Field<T> {
    let page = segs.first().map(|s| s.page).unwrap_or(1);
    let mut lines: Vec<usize> = segs
        .iter()
        .filter(|s| s.page == page)
        .map(|s| s.line)
        .collect();
    lines.sort_unstable();
    lines.dedup();
    let conf = if segs.is_empty() {
        0.0
    } else {
        segs.iter().map(|s| s.conf()).sum::<f32>() / segs.len() as f32
    };
    Field {
        value,
        page,
        lines,
        conf: r3(base * conf),
    }
}

//! The header block of page 1: national header, issuer, number, place and date, type and summary.
//! It finds the type line and the region above it, cuts that region into column segments, sorts
//! each segment to the field it can be, and places the issuer by column; it also says where the
//! body starts, for the sections.

use super::doctype::{starts_vv, summary_after, type_from_number, type_line};
use super::number_date::{number, place_date_toks};
use super::segments::{field, line_segments, line_toks, PageCtx, Seg};
use super::text::{clean_edges, is_separator, key, letters, sim, upper_ratio};
use crate::fields::Fields;

const NATIONAL: &[(&str, &str, f32)] = &[
    (
        "CONGHOAXAHOICHUNGHIAVIETNAM",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        0.75,
    ),
    ("DOCLAPTUDOHANHPHUC", "Độc lập - Tự do - Hạnh phúc", 0.7),
    ("DANGCONGSANVIETNAM", "ĐẢNG CỘNG SẢN VIỆT NAM", 0.8),
];

fn national(s: &Seg) -> Option<(&'static str, f32)> {
    let k = key(&s.text());
    let ko = key(&s.ocr());
    NATIONAL
        .iter()
        .map(|(pk, canon, min)| (*canon, sim(&k, pk).max(sim(&ko, pk)), *min))
        .filter(|(_, sc, min)| sc >= min)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, sc, _)| (c, sc))
}

pub(super) struct Head {
    pub(super) fields: Fields,
    /// Where the body starts on the first page (y in pixels).
    pub(super) body_start_y: f32,
}

pub(super) fn header(pc: &PageCtx) -> Head {
    let p = pc.page;
    let g = &pc.geo;
    let mut f = Fields::default();

    // The type line: the first centred title naming a type in the top part of page 1.
    let mut type_hit = None;
    for &li in &pc.order {
        let l = &p.lines[li];
        if l.bbox[1] as f32 > 0.6 * g.h {
            break;
        }
        if let Some(t) = type_line(pc, li) {
            type_hit = Some((li, t));
            break;
        }
    }

    // The header region: what is above the type line, or, without one, the top lines down to the
    // first line of running text.
    let region: Vec<usize> = match type_hit {
        Some((tl, _)) => {
            let top = p.lines[tl].bbox[1];
            pc.order
                .iter()
                .copied()
                .filter(|&i| i != tl && (p.lines[i].bbox[1] + p.lines[i].bbox[3]) / 2 < top)
                .collect()
        }
        None => {
            let mut v = Vec::new();
            for &li in &pc.order {
                let l = &p.lines[li];
                if l.bbox[1] as f32 > 0.35 * g.h || is_running_text(pc, li) {
                    break;
                }
                v.push(li);
            }
            v
        }
    };
    let segs: Vec<Seg> = pc.segs(&region);

    let mut nat: Vec<(&Seg, &'static str, f32)> = Vec::new();
    let mut num: Option<(&Seg, String)> = None;
    let mut pd: Option<(&Seg, Option<String>, Option<String>)> = None;
    let mut vv: Vec<&Seg> = Vec::new();
    let mut others: Vec<&Seg> = Vec::new();
    for s in &segs {
        let t = s.text();
        if is_separator(&t) {
            continue;
        }
        if let Some((canon, sc)) = national(s) {
            nat.push((s, canon, sc));
            continue;
        }
        if num.is_none() {
            if let Some(n) = number(&t).or_else(|| number(&s.ocr())) {
                num = Some((s, n));
                continue;
            }
        }
        if pd.is_none() {
            let words: Vec<&str> = s.toks.iter().map(|t| t.text.as_str()).collect();
            let ocr_words: Vec<&str> = s.toks.iter().map(|t| t.ocr.as_str()).collect();
            if let Some((place, date, _)) =
                place_date_toks(&words).or_else(|| place_date_toks(&ocr_words))
            {
                pd = Some((s, place, date));
                continue;
            }
        }
        if starts_vv(&t) || starts_vv(&s.ocr()) {
            vv.push(s);
            continue;
        }
        others.push(s);
    }

    if !nat.is_empty() {
        let mut seen = Vec::new();
        let mut used: Vec<&Seg> = Vec::new();
        let mut sc = 0.0;
        for (s, c, x) in &nat {
            if !seen.contains(&c.to_string()) {
                seen.push(c.to_string());
                used.push(s);
                sc += x;
            }
        }
        let n = used.len() as f32;
        f.national_header = Some(field(seen, &used, 0.98 * sc / n));
    }
    if let Some((s, n)) = &num {
        f.number = Some(field(n.clone(), &[s], 0.95));
    }
    if let Some((s, place, date)) = &pd {
        if let Some(pl) = place {
            f.place = Some(field(pl.clone(), &[s], 0.9));
        }
        if let Some(d) = date {
            f.date = Some(field(d.clone(), &[s], 0.95));
        }
    }

    // The issuer: capitals in the left column above the number (and the "V/v" lines).
    let half = g.w / 2.0;
    let limit = num
        .as_ref()
        .filter(|(s, _)| s.cx() < half)
        .map(|(s, _)| s.bbox()[1] as f32 + 0.3 * g.lh)
        .or_else(|| vv.first().map(|s| s.bbox()[1] as f32))
        .unwrap_or(f32::MAX);
    let issuer: Vec<&Seg> = others
        .iter()
        .copied()
        .filter(|s| s.cx() < half && s.cy() < limit && s.upper() >= 0.6 && letters(&s.text()) >= 2)
        .collect();
    if !issuer.is_empty() {
        let v: Vec<String> = issuer.iter().map(|s| clean_edges(&s.text())).collect();
        f.issuer = Some(field(v, &issuer, 0.9));
    }

    // The type, and the summary under it.
    let mut body_start_y = region
        .iter()
        .map(|&i| p.lines[i].bbox[3])
        .max()
        .unwrap_or(0) as f32;
    if let Some((tl, (t, n, sc))) = type_hit {
        let l = &p.lines[tl];
        let seg = Seg {
            page: p.index,
            line: tl,
            toks: line_toks(l),
        };
        let code_agrees = f
            .number
            .as_ref()
            .and_then(|n| type_from_number(&n.value))
            .is_none_or(|c| c == t);
        f.doc_type = Some(field(
            t.to_string(),
            &[&seg],
            sc * if code_agrees { 0.98 } else { 0.85 },
        ));
        body_start_y = l.bbox[3] as f32;
        let (summary, last_y) = summary_after(pc, tl, seg.tail(n));
        if let Some(s) = summary {
            f.summary = Some(s);
        }
        body_start_y = body_start_y.max(last_y);
    } else if !vv.is_empty() {
        // A letter (công văn): the number's code names no type and "V/v" gives the summary.
        let mut lines: Vec<&Seg> = vv.clone();
        let top = vv[0].bbox()[1];
        for s in &others {
            if s.cx() < half && s.bbox()[1] > top && !lines.iter().any(|x| std::ptr::eq(*x, *s)) {
                lines.push(s);
            }
        }
        lines.sort_by(|a, b| a.cy().total_cmp(&b.cy()));
        let text = lines.iter().map(|s| s.text()).collect::<Vec<_>>().join(" ");
        f.summary = Some(field(text, &lines, 0.85));
        if num.is_some() {
            let from_code = f.number.as_ref().and_then(|n| type_from_number(&n.value));
            let t = from_code.unwrap_or("CÔNG VĂN");
            f.doc_type = Some(field(t.to_string(), &[vv[0]], 0.6));
        }
    } else if let Some(t) = f.number.as_ref().and_then(|n| type_from_number(&n.value)) {
        // No title line was read, but the number's code names the type.
        let s = num.as_ref().map(|(s, _)| *s).expect("number was read");
        f.doc_type = Some(field(t.to_string(), &[s], 0.6));
    }
    Head {
        fields: f,
        body_start_y,
    }
}

/// A line of the body: a wide line of ordinary text, or one that begins the body outright.
fn is_running_text(pc: &PageCtx, li: usize) -> bool {
    let l = &pc.page.lines[li];
    let g = &pc.geo;
    let k = key(&l.text);
    if k.starts_with("KINHGUI") || k.starts_with("CANCU") {
        return true;
    }
    let segs = line_segments(pc.page.index, li, l, g);
    let wide = (l.bbox[2] - l.bbox[0]) as f32 > 0.6 * g.text_width();
    let words: Vec<&str> = l.text.split_whitespace().collect();
    segs.len() == 1 && wide && upper_ratio(&l.text) < 0.5 && place_date_toks(&words).is_none()
}

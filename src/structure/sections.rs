//! Sections: the heading tree of the body, between the header and the closing block. Pass 1 finds
//! which body lines are headings (a number, and a title that reads as one rather than as an item
//! of a list or a wrapped sentence); pass 2 nests them by rank and gives each its own text.

use super::markers::{marker, roman_value, to_roman, MKind, Marker};
use super::segments::{Geo, PageCtx};
use super::text::{chars, is_dash, is_separator, letters, levenshtein, r3, upper_ratio};
use crate::doc::Line;
use crate::fields::{LineSpan, Section};

fn starts_item(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with(is_dash) || marker(t, 0).is_some()
}

/// A body line and where it sits.
struct BodyLine<'a> {
    page: usize,
    li: usize,
    line: &'a Line,
    geo: Geo,
}

/// Whether `next` carries on the sentence of `cur` (justified text wraps at the right edge and
/// goes on at the left margin).
fn continues(cur: &BodyLine, next: Option<&BodyLine>) -> bool {
    let Some(next) = next else { return false };
    let g = &cur.geo;
    let full = cur.line.bbox[2] as f32 >= g.right - 0.06 * g.text_width();
    let at_margin = (next.line.bbox[0] as f32) < g.left + 0.025 * g.w;
    let close =
        next.page != cur.page || (next.line.bbox[1] - cur.line.bbox[3]) as f32 <= 1.2 * g.lh;
    full && at_margin && close && !starts_item(&next.line.text)
}

pub(super) fn sections(
    pages: &[PageCtx],
    start: (usize, f32),
    end: Option<(usize, f32)>,
) -> Option<Vec<Section>> {
    let mut body: Vec<BodyLine> = Vec::new();
    for (pi, pc) in pages.iter().enumerate() {
        if pi < start.0 || end.is_some_and(|(ep, _)| pi > ep) {
            continue;
        }
        for &li in &pc.order {
            let l = &pc.page.lines[li];
            let cy = (l.bbox[1] + l.bbox[3]) as f32 / 2.0;
            if pi == start.0 && cy <= start.1 {
                continue;
            }
            if let Some((ep, ey)) = end {
                if pi == ep && l.bbox[1] as f32 >= ey - 0.3 * pc.geo.lh {
                    continue;
                }
            }
            if pc.is_furniture(l) || is_separator(&l.text) {
                continue;
            }
            body.push(BodyLine {
                page: pc.page.index,
                li,
                line: l,
                geo: pc.geo,
            });
        }
    }

    // Pass 1: which lines are headings (and how many lines their titles take).
    let mut heads: Vec<(usize, Marker, Vec<usize>)> = Vec::new();
    let mut last_roman = 0usize;
    let mut i = 0;
    while i < body.len() {
        let (m, lines) = match heading_at(&body, i, last_roman + 1) {
            Some(h) => h,
            None => {
                i += 1;
                continue;
            }
        };
        let mut m = m;
        if m.kind == MKind::Roman {
            // Roman numbers do not repeat: "II." after II is a "III." that lost a stroke.
            let v = roman_value(&m.label).unwrap_or(0);
            let want = to_roman(last_roman + 1);
            if last_roman > 0
                && v <= last_roman
                && levenshtein(&chars(&m.label), &chars(&want)) <= 1
            {
                (m.label, m.repaired) = (want, true);
            }
            last_roman = roman_value(&m.label).unwrap_or(last_roman);
        }
        i += lines.len();
        heads.push((lines[0], m, lines));
    }
    // "I." read as "1." (or "l."): a first heading numbered 1 in capitals, followed by a roman II
    // before any other number in capitals, is roman I.
    if let Some(first) = heads.first() {
        let upper = |h: &(usize, Marker, Vec<usize>)| {
            let t = body[h.0]
                .line
                .text
                .split_whitespace()
                .skip(h.1.title_from)
                .collect::<Vec<_>>()
                .join(" ");
            upper_ratio(&t) >= 0.8
        };
        if first.1.kind == MKind::Number && first.1.label == "1" && upper(first) {
            let next = heads[1..].iter().find(|h| {
                matches!(h.1.kind, MKind::Roman) || (h.1.kind == MKind::Number && upper(h))
            });
            if next.is_some_and(|h| h.1.kind == MKind::Roman && h.1.label == "II") {
                let m = &mut heads[0].1;
                (m.kind, m.label, m.rank, m.repaired) = (MKind::Roman, "I".into(), 10, true);
            }
        }
    }

    // Pass 2: the tree, and the text under each heading.
    struct Open {
        rank: u8,
        sec: Section,
    }
    fn close(stack: &mut Vec<Open>, roots: &mut Vec<Section>, rank: u8) {
        while stack.last().is_some_and(|o| o.rank >= rank) {
            let o = stack.pop().expect("non-empty");
            match stack.last_mut() {
                Some(p) => p.sec.children.push(o.sec),
                None => roots.push(o.sec),
            }
        }
    }
    let mut roots: Vec<Section> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut next_head = heads.iter().peekable();
    let mut i = 0;
    while i < body.len() {
        let bl = &body[i];
        if let Some((_, m, title_lines)) = next_head.next_if(|h| h.0 == i) {
            let heading_text = title_lines
                .iter()
                .map(|&j| body[j].line.text.trim())
                .collect::<Vec<_>>()
                .join(" ");
            let toks: Vec<&str> = heading_text.split_whitespace().collect();
            let title = trim_title(&toks[m.title_from.min(toks.len())..].join(" "));
            let words: Vec<f32> = title_lines
                .iter()
                .flat_map(|&j| body[j].line.words.iter().map(|w| w.conf))
                .collect();
            let ocr_conf = if words.is_empty() {
                bl.line.conf / 100.0
            } else {
                words.iter().map(|c| c.clamp(0.0, 100.0)).sum::<f32>() / words.len() as f32 / 100.0
            };
            let base = if m.repaired { 0.75 } else { 0.9 };
            let sec = Section {
                label: m.label.clone(),
                kind: m.kind.name().into(),
                level: 0,
                heading: heading_text,
                title,
                page: bl.page,
                lines: title_lines
                    .iter()
                    .filter(|&&j| body[j].page == bl.page)
                    .map(|&j| body[j].li)
                    .collect(),
                conf: r3(base * ocr_conf),
                text: String::new(),
                text_lines: Vec::new(),
                children: Vec::new(),
            };
            close(&mut stack, &mut roots, m.rank);
            stack.push(Open { rank: m.rank, sec });
            i += title_lines.len();
            continue;
        }
        if let Some(top) = stack.last_mut() {
            let s = &mut top.sec;
            if !s.text.is_empty() {
                s.text.push('\n');
            }
            s.text.push_str(bl.line.text.trim());
            match s.text_lines.last_mut() {
                Some(span) if span.page == bl.page && bl.li > span.last => span.last = bl.li,
                _ => s.text_lines.push(LineSpan {
                    page: bl.page,
                    first: bl.li,
                    last: bl.li,
                }),
            }
        }
        i += 1;
    }
    close(&mut stack, &mut roots, 0);
    fn set_level(v: &mut [Section], level: usize) {
        for s in v {
            s.level = level;
            set_level(&mut s.children, level + 1);
        }
    }
    set_level(&mut roots, 1);
    (!roots.is_empty()).then_some(roots)
}

/// Whether body line `i` starts a heading: its numbering and the lines its title takes.
fn heading_at(body: &[BodyLine], i: usize, expected_roman: usize) -> Option<(Marker, Vec<usize>)> {
    let bl = &body[i];
    let text = bl.line.text.trim();
    let ocr = bl.line.ocr_text.trim();
    let m = marker(text, expected_roman)
        .or_else(|| marker(ocr, expected_roman).filter(|m| m.kind == MKind::Roman))?;
    let toks: Vec<&str> = text.split_whitespace().collect();
    let title_words = toks.get(m.title_from..).unwrap_or(&[]);
    let title = title_words.join(" ");
    let next = body.get(i + 1);
    // A sentence ends on its last word ("huyện;"); a mark standing apart ("huyện ;") is OCR noise.
    let core = without_crumbs(text);
    let ends_sentence = core.ends_with(['.', ';', ',']);
    let title_upper = upper_ratio(&title).max(upper_ratio(ocr)) >= 0.6 && letters(&title) >= 2;
    let mut title_lines = vec![i];
    let accept = match m.kind {
        MKind::Part | MKind::Chapter | MKind::LegalSection => {
            // The title is the next line in capitals when this one has only the number.
            if letters(&title) < 2 && next.is_some_and(|n| upper_ratio(&n.line.text) >= 0.6) {
                title_lines.push(i + 1);
            }
            true
        }
        MKind::Article => !title.is_empty(),
        MKind::Roman => {
            (title_upper || (!ends_sentence && !continues(bl, next)))
                && title.chars().next().is_some_and(|c| !c.is_lowercase())
        }
        MKind::Number | MKind::Decimal | MKind::Letter => {
            // "1. Mục đích." is a heading when a paragraph follows it, not the next item of a list.
            let same_kind = |l: Option<&BodyLine>| {
                l.is_some_and(|l| marker(l.line.text.trim(), 0).is_some_and(|x| x.kind == m.kind))
            };
            let prev = i.checked_sub(1).map(|j| &body[j]);
            let short_with_period = core.ends_with('.')
                && title_words.len() <= 8
                && !same_kind(next)
                && !same_kind(prev);
            (!ends_sentence || short_with_period)
                && !continues(bl, next)
                && title.chars().next().is_some_and(|c| c.is_uppercase())
                && title_words.len() <= 20
        }
    };
    if !accept {
        return None;
    }
    // A title in capitals may wrap onto a second line.
    if matches!(m.kind, MKind::Roman) && title_upper {
        let mut j = i;
        while title_lines.len() < 3
            && continues(&body[j], body.get(j + 1))
            && upper_ratio(&body[j + 1].line.text) >= 0.6
        {
            j += 1;
            title_lines.push(j);
        }
    }
    Some((m, title_lines))
}

fn trim_title(s: &str) -> String {
    without_crumbs(s)
        .trim_end_matches([':', ' '])
        .trim()
        .to_string()
}

/// The text without trailing words that have no letter or digit ("Cấp huyện ;" → "Cấp huyện").
fn without_crumbs(s: &str) -> String {
    let mut words: Vec<&str> = s.split_whitespace().collect();
    while words.len() > 1
        && words
            .last()
            .is_some_and(|w| !w.chars().any(char::is_alphanumeric))
    {
        words.pop();
    }
    words.join(" ")
}

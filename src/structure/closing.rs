//! The closing block: the signature (authority, title, name) in the right column and the
//! recipients ("Nơi nhận") in the left, on the last pages. It also says where the block starts,
//! which is where the body's sections end.

use super::segments::{field, PageCtx, Seg};
use super::text::{
    clean_edges, is_authority, is_dash, is_separator, key, letters, mend_authority, sim, trim_punct,
};
use crate::fields::{Field, Signer};

fn looks_like_name(t: &str) -> bool {
    let words: Vec<&str> = t.split_whitespace().collect();
    if !(2..=6).contains(&words.len()) {
        return false;
    }
    words.iter().all(|w| {
        let w = w.trim_end_matches([',', '.']);
        let mut cs = w.chars();
        match cs.next() {
            Some(c) if c.is_alphabetic() && c.is_uppercase() => {
                cs.all(|c| c.is_alphabetic() && c.is_lowercase())
            }
            _ => false,
        }
    })
}

/// Signature crumbs: "(Đã ký)", "(Ký, đóng dấu)", stamp noise.
fn is_noise(s: &Seg) -> bool {
    let t = s.text();
    let k = key(&t);
    letters(&t) < 3 || t.trim_start().starts_with('(') || k.starts_with("DAKY") || k == "KY"
}

pub(super) struct Closing {
    pub(super) signer: Option<Signer>,
    pub(super) recipients: Option<Field<Vec<String>>>,
    /// Where the closing block starts: (index into pages, y).
    pub(super) start: Option<(usize, f32)>,
}

pub(super) fn closing(pages: &[PageCtx]) -> Closing {
    // Usually on the last page (or the one before, when the signature spills over); further
    // back (a document with appendices) only a "Nơi nhận" list or a signing authority counts.
    for pi in (0..pages.len()).rev() {
        let last_pages = pi + 2 >= pages.len();
        let pc = &pages[pi];
        let all: Vec<usize> = pc
            .order
            .iter()
            .copied()
            .filter(|&i| !pc.is_furniture(&pc.page.lines[i]))
            .collect();
        let segs = pc.segs(&all);
        let (mut signer, mut sig_top) = signer(pc, &segs);
        let (recipients, rec_top) = recipients(pc, &segs);
        if !last_pages
            && recipients.is_none()
            && signer.as_ref().is_some_and(|s| s.authority.is_none())
        {
            (signer, sig_top) = (None, None);
        }
        if signer.is_some() || recipients.is_some() {
            let start = [sig_top, rec_top]
                .into_iter()
                .flatten()
                .min_by(|a, b| a.total_cmp(b))
                .map(|y| (pi, y));
            return Closing {
                signer,
                recipients,
                start,
            };
        }
    }
    Closing {
        signer: None,
        recipients: None,
        start: None,
    }
}

fn signer(pc: &PageCtx, segs: &[Seg]) -> (Option<Signer>, Option<f32>) {
    let g = &pc.geo;
    let right = |s: &Seg| s.bbox()[0] as f32 > 0.4 * g.w && s.cx() > 0.55 * g.w;
    // Walk up from each name-like segment in the right column, bottom first, collecting the
    // authority and title lines above it.
    let names: Vec<usize> = (0..segs.len())
        .rev()
        .filter(|&i| right(&segs[i]) && looks_like_name(&clean_edges(&segs[i].text())))
        .collect();
    let candidates: Vec<Option<usize>> = names
        .iter()
        .map(|&i| Some(i))
        .chain(std::iter::once(None))
        .collect();
    for name_i in candidates {
        let bottom = name_i.map(|i| segs[i].bbox()[1] as f32).unwrap_or(f32::MAX);
        let mut above: Vec<&Seg> = Vec::new();
        let mut last_y = bottom.min(g.h);
        for s in segs.iter().rev() {
            if s.bbox()[3] as f32 > bottom || !right(s) {
                continue;
            }
            if last_y - (s.bbox()[3] as f32) > 10.0 * g.lh {
                break;
            }
            if is_noise(s) {
                continue;
            }
            let t = s.text();
            if s.upper() >= 0.6 || is_authority(&t) || is_authority(&s.ocr()) {
                above.push(s);
                last_y = s.bbox()[1] as f32;
                if above.len() >= 5 {
                    break;
                }
            } else if letters(&t) > 12 {
                break;
            }
        }
        above.reverse();
        // The signature block is tight (authority, then title); stamps and scribbles in the
        // space left for the signature may add crumbs below it, which are not the title.
        let auth_of = |s: &Seg| is_authority(&s.text()) || is_authority(&s.ocr());
        let block_end = |from: usize| {
            let mut j = from;
            while j + 1 < above.len()
                && (above[j + 1].bbox()[1] - above[j].bbox()[3]) as f32 <= 1.6 * g.lh
            {
                j += 1;
            }
            j
        };
        let (auth, title): (Vec<&Seg>, Vec<&Seg>) = match above.iter().position(|s| auth_of(s)) {
            Some(a) => {
                let end = block_end(a);
                let n_auth = above[a..=end].iter().take_while(|s| auth_of(s)).count();
                (
                    above[a..a + n_auth].to_vec(),
                    above[a + n_auth..=end].to_vec(),
                )
            }
            None if !above.is_empty() => {
                let end = block_end(0);
                (
                    Vec::new(),
                    above[..=end].iter().rev().take(3).rev().copied().collect(),
                )
            }
            None => (Vec::new(), Vec::new()),
        };
        if auth.is_empty() && title.is_empty() {
            continue;
        }
        if name_i.is_none() && auth.is_empty() {
            // Capitals at the end of a page with no name and no authority are not a signature.
            break;
        }
        let mut sg = Signer::default();
        if !auth.is_empty() {
            let v = auth
                .iter()
                .map(|s| mend_authority(&clean_edges(&s.text())))
                .collect::<Vec<_>>()
                .join(", ");
            sg.authority = Some(field(v, &auth, 0.9));
        }
        if !title.is_empty() {
            let v = title
                .iter()
                .map(|s| clean_edges(&s.text()))
                .collect::<Vec<_>>()
                .join(" ");
            sg.title = Some(field(v, &title, 0.85));
        }
        if let Some(i) = name_i {
            let s = &segs[i];
            sg.name = Some(field(
                clean_edges(&s.text()),
                &[s],
                if auth.is_empty() { 0.75 } else { 0.9 },
            ));
        }
        let top = auth.first().or(title.first()).map(|s| s.bbox()[1] as f32);
        return (Some(sg), top);
    }
    (None, None)
}

fn is_noi_nhan(s: &Seg) -> bool {
    [s.text(), s.ocr()].iter().any(|t| {
        let k = key(t);
        k.len() >= 7 && sim(&k[..7], "NOINHAN") >= 0.7
    })
}

fn recipients(pc: &PageCtx, segs: &[Seg]) -> (Option<Field<Vec<String>>>, Option<f32>) {
    let g = &pc.geo;
    let Some(head_i) = segs
        .iter()
        .position(|s| s.cx() < 0.5 * g.w && (s.bbox()[2] as f32) < 0.6 * g.w && is_noi_nhan(s))
    else {
        return (None, None);
    };
    let head = &segs[head_i];
    let mut used: Vec<&Seg> = vec![head];
    let mut items: Vec<String> = Vec::new();
    // "Nơi nhận: - Như trên;" on one line.
    let ht = head.text();
    if let Some(pos) = ht.find(':') {
        let rest = ht[pos + 1..].trim();
        if letters(rest) >= 2 {
            items.push(clean_item(rest));
        }
    }
    let mut prev_bottom = head.bbox()[3] as f32;
    let mut dash_x: Option<i32> = None;
    for s in &segs[head_i + 1..] {
        let b = s.bbox();
        if b[1] < head.bbox()[1] || s.cx() >= 0.5 * g.w || b[0] as f32 > 0.45 * g.w {
            continue;
        }
        if b[1] as f32 - prev_bottom > 3.0 * g.lh {
            break;
        }
        let t = s.text();
        let tt = t.trim();
        let dashed = tt.starts_with(is_dash);
        if !dashed && (b[2] as f32) > 0.75 * g.w {
            break; // running text
        }
        prev_bottom = b[3] as f32;
        if is_separator(tt) {
            continue;
        }
        let k = key(tt);
        if !dashed && (k.contains("KINHGUI") || tt.ends_with(':')) {
            continue; // "Đồng kính gửi", "Lưu:" headings of a sub-list
        }
        if dashed {
            dash_x = Some(dash_x.map_or(b[0], |x| x.min(b[0])));
            items.push(clean_item(tt));
        } else if let (Some(dx), Some(last)) = (dash_x, items.last_mut()) {
            if b[0] as f32 > dx as f32 + 0.5 * g.lh {
                last.push(' ');
                last.push_str(&clean_item(tt)); // a wrapped item
            } else {
                items.push(clean_item(tt));
            }
        } else {
            items.push(clean_item(tt));
        }
        used.push(s);
        if items.len() >= 40 {
            break;
        }
    }
    items.retain(|i| letters(i) >= 2);
    if items.is_empty() {
        return (None, Some(head.bbox()[1] as f32));
    }
    (Some(field(items, &used, 0.9)), Some(head.bbox()[1] as f32))
}

/// "- Các TCCS đảng thuộc HU,; . ;" → "Các TCCS đảng thuộc HU".
fn clean_item(t: &str) -> String {
    let t = t.trim_start_matches(|c: char| is_dash(c) || c.is_whitespace());
    let mut words: Vec<&str> = t.split_whitespace().collect();
    while words
        .last()
        .is_some_and(|w| !w.chars().any(char::is_alphanumeric))
    {
        words.pop();
    }
    trim_punct(&words.join(" ")).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(looks_like_name("Lê Hồng Khánh"));
        assert!(looks_like_name("Nguyễn Tấn Phước"));
        assert!(!looks_like_name("PHÓ BÍ THƯ"));
        assert!(!looks_like_name("Lưu VPHU."));
    }
}

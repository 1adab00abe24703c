//! Second look: ink that Tesseract's page layout left out, read again on its own.
//!
//! Tesseract's layout analysis drops two kinds of real text from whole pages: a lone page number
//! at the top (a small blob far from any text line is taken for noise), and a signature block
//! under a round seal (the block merges with the seal into one "image" region). Both are plain
//! print once cut out of the page. This stage finds ink no word box covers, groups it into
//! regions, reads each region as a block of text, and adds the lines read with confidence.

use crate::doc::{Line, Word};
use crate::ocr::Engine;
use crate::raster::PageImage;
use std::time::Instant;

/// Regions read again per page, largest first: bounds the time a noisy page can cost.
const MAX_REGIONS: usize = 4;
/// Least Tesseract confidence of a word read in a region. A seal's ring and a signature read
/// as words up to about 80 on the real dev pages; the print beside them at 90 and above.
const MIN_WORD_CONF: f32 = 85.0;

/// A region of uncovered ink, in page pixels: [left, top, right, bottom] and its ink count.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Region {
    bbox: [i32; 4],
    ink: usize,
}

/// Read again the ink no line covers and add what reads as text to `lines`, each region's
/// lines as a block of their own placed where it stands on the page. Returns how many lines
/// were added.
pub fn reread_lost_ink(
    engine: &mut Engine,
    page: &PageImage,
    lines: &mut Vec<Line>,
    deadline: Option<Instant>,
) -> crate::error::Result<usize> {
    let regions = lost_regions(page, lines);
    let mut added = 0;
    let mut block = lines.iter().map(|l| l.block + 1).max().unwrap_or(0);
    for r in regions {
        let found: Vec<Line> = engine
            .recognize_crop(page, r.bbox, 6, deadline)?
            .into_iter()
            .filter_map(|mut l| {
                l.words.retain(|w| w.conf >= MIN_WORD_CONF && has_text(w));
                (!l.words.is_empty()).then(|| {
                    l.block = block;
                    l.refresh_text();
                    l
                })
            })
            .collect();
        if found.is_empty() {
            continue;
        }
        log::debug!(
            "reread: region {:?} ink {} gave {} line(s): {:?}",
            r.bbox,
            r.ink,
            found.len(),
            found
                .iter()
                .flat_map(|l| l.words.iter().map(|w| format!("{}/{:.0}", w.text, w.conf)))
                .collect::<Vec<_>>()
        );
        block += 1;
        added += found.len();
        let at = place(lines, r.bbox);
        lines.splice(at..at, found);
    }
    Ok(added)
}

/// A word with a letter or digit in it: lone marks read in a region ("ˆ", "—") are specks.
pub(crate) fn has_text(w: &Word) -> bool {
    w.text
        .chars()
        .any(|c| c.is_alphanumeric() && !('\u{2b0}'..='\u{2ff}').contains(&c))
}

/// Where a region's lines go in reading order: after the last line beside it (a signature
/// block next to the recipients list comes after the list, and after the list's lines that run
/// on below the block: "- Lưu: VT"), else before the first line below it (a page number above
/// the text comes first).
fn place(lines: &[Line], r: [i32; 4]) -> usize {
    let beside = |l: &Line| l.bbox[1] < r[3] && l.bbox[3] > r[1];
    match lines.iter().rposition(beside) {
        Some(mut k) => {
            while let Some(next) = lines.get(k + 1) {
                let cur = &lines[k];
                let h = cur.bbox[3] - cur.bbox[1];
                let runs_on = (next.bbox[0] - cur.bbox[0]).abs() < 2 * h
                    && next.bbox[2] < r[0]
                    && cur.bbox[2] < r[0]
                    && next.bbox[1] - cur.bbox[3] < h;
                if !runs_on {
                    break;
                }
                k += 1;
            }
            k + 1
        }
        None => lines
            .iter()
            .position(|l| l.bbox[1] >= r[3])
            .unwrap_or(lines.len()),
    }
}

/// Regions of ink that no word or line box covers, on a grid of cells about 1/50 inch, grouped
/// across gaps the size of a word space; only regions shaped like text (a line's height or
/// more, not a rule, not most of the page, not at the scan's edge) are kept.
fn lost_regions(page: &PageImage, lines: &[Line]) -> Vec<Region> {
    let (w, h) = (page.width as usize, page.height as usize);
    if w < 64 || h < 64 || lines.is_empty() {
        return Vec::new();
    }
    let cell = ((page.dpi / 50.0).round() as usize).max(1);
    let (gw, gh) = (w.div_ceil(cell), h.div_ceil(cell));
    let mut ink = vec![0u32; gw * gh];
    for y in 0..h {
        let row = &page.gray[y * w..(y + 1) * w];
        for (x, &v) in row.iter().enumerate() {
            if v < 128 {
                ink[(y / cell) * gw + x / cell] += 1;
            }
        }
    }
    // Typical text line height, for the margins around boxes and the size of a region.
    let mut heights: Vec<i32> = lines.iter().map(|l| l.bbox[3] - l.bbox[1]).collect();
    heights.sort_unstable();
    let line_h = heights[heights.len() / 2].max(8);
    let margin = line_h / 3;
    let mut covered = vec![false; gw * gh];
    for b in lines
        .iter()
        .map(|l| l.bbox)
        .chain(lines.iter().flat_map(|l| l.words.iter().map(|w| w.bbox)))
    {
        let x0 = (b[0] - margin).max(0) as usize / cell;
        let y0 = (b[1] - margin).max(0) as usize / cell;
        let x1 = ((b[2] + margin).max(0) as usize / cell).min(gw - 1);
        let y1 = ((b[3] + margin).max(0) as usize / cell).min(gh - 1);
        for gy in y0..=y1 {
            covered[gy * gw + x0..=gy * gw + x1].fill(true);
        }
    }
    // A cell counts when a real share of it is ink; single specks do not start regions.
    let min_ink = (cell * cell / 12).max(2) as u32;
    let lit: Vec<bool> = (0..gw * gh)
        .map(|i| !covered[i] && ink[i] >= min_ink)
        .collect();
    // Group lit cells closer than a word space across and half a line down.
    let gap_x = ((line_h as f32 * 0.8) as usize / cell).max(1);
    let gap_y = ((line_h as f32 * 0.5) as usize / cell).max(1);
    let mut label = vec![usize::MAX; gw * gh];
    let mut regions: Vec<Region> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..gw * gh {
        if !lit[start] || label[start] != usize::MAX {
            continue;
        }
        let id = regions.len();
        label[start] = id;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1, mut count) = (gw, gh, 0, 0, 0usize);
        while let Some(i) = stack.pop() {
            let (cx, cy) = (i % gw, i / gw);
            x0 = x0.min(cx);
            y0 = y0.min(cy);
            x1 = x1.max(cx);
            y1 = y1.max(cy);
            count += ink[i] as usize;
            for ny in cy.saturating_sub(gap_y)..=(cy + gap_y).min(gh - 1) {
                for nx in cx.saturating_sub(gap_x)..=(cx + gap_x).min(gw - 1) {
                    let j = ny * gw + nx;
                    if lit[j] && label[j] == usize::MAX {
                        label[j] = id;
                        stack.push(j);
                    }
                }
            }
        }
        let bbox = [
            (x0 * cell) as i32,
            (y0 * cell) as i32,
            ((x1 + 1) * cell).min(w) as i32,
            ((y1 + 1) * cell).min(h) as i32,
        ];
        regions.push(Region { bbox, ink: count });
    }
    let edge = (page.dpi * 0.05) as i32;
    let (pw, ph) = (w as i32, h as i32);
    log::trace!("reread: candidate regions {regions:?}");
    let mut kept: Vec<Region> = regions
        .into_iter()
        .filter(|r| {
            let [l, t, rr, b] = r.bbox;
            let (rw, rh) = (rr - l, b - t);
            let fill = r.ink as f32 / (rw.max(1) * rh.max(1)) as f32;
            // Text-sized, or one glyph (a page number "1" is narrow) but not a rule's sliver.
            let glyph = rh <= line_h * 3 / 2 && rw >= line_h / 5 && fill >= 0.15;
            rh >= line_h / 2
                && (rw >= line_h / 2 || glyph)
                // Rules and frames: long and thin, or sparse.
                && rw < pw * 3 / 5
                && rh < ph / 3
                && fill >= 0.03
                // The scan's own edges: shadows and punched holes.
                && l > edge
                && t > edge
                && rr < pw - edge
                && b < ph - edge
        })
        .collect();
    kept.sort_by_key(|r| std::cmp::Reverse(r.ink));
    kept.truncate(MAX_REGIONS);
    // Pad each region a little so its letters are whole.
    for r in &mut kept {
        let pad = margin;
        r.bbox = [
            (r.bbox[0] - pad).max(0),
            (r.bbox[1] - pad).max(0),
            (r.bbox[2] + pad).min(pw),
            (r.bbox[3] + pad).min(ph),
        ];
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(bbox: [i32; 4]) -> Line {
        let mut l = Line::new(bbox, 95.0, 0);
        l.words.push(Word::new("chữ".into(), bbox, 95.0));
        l.refresh_text();
        l
    }

    fn page(w: u32, h: u32) -> PageImage {
        PageImage {
            index: 0,
            width: w,
            height: h,
            dpi: 300.0,
            dpi_source: crate::dpi::DpiSource::Metadata,
            gray: vec![255; (w * h) as usize],
            inks: None,
        }
    }

    fn blot(p: &mut PageImage, [l, t, r, b]: [i32; 4]) {
        for y in t..b {
            for x in l..r {
                p.gray[(y * p.width as i32 + x) as usize] = 0;
            }
        }
    }

    #[test]
    fn ink_under_word_boxes_is_covered_and_a_lone_blob_above_the_text_is_found() {
        let mut p = page(2480, 3508);
        let text = [300, 800, 2200, 860];
        blot(&mut p, text);
        // A page number: a digit-sized blob centred above the text.
        blot(&mut p, [1220, 300, 1250, 345]);
        let found = lost_regions(&p, &[line(text)]);
        assert_eq!(found.len(), 1, "{found:?}");
        let [l, t, r, b] = found[0].bbox;
        assert!(l <= 1220 && t <= 300 && r >= 1250 && b >= 345, "{found:?}");
        assert_eq!(place(&[line(text)], found[0].bbox), 0);
    }

    #[test]
    fn rules_and_scan_edges_are_not_regions() {
        let mut p = page(2480, 3508);
        let text = [300, 800, 2200, 860];
        blot(&mut p, text);
        blot(&mut p, [300, 1200, 2200, 1204]); // a rule across the page
        blot(&mut p, [0, 0, 40, 3508]); // the scanner's dark edge
        assert_eq!(lost_regions(&p, &[line(text)]), Vec::<Region>::new());
    }

    #[test]
    fn a_block_beside_the_recipients_list_is_read_after_it() {
        let list = [
            line([300, 1000, 1000, 1050]),
            line([300, 1100, 1000, 1150]),
            line([300, 1500, 1000, 1550]),
        ];
        assert_eq!(place(&list, [1300, 1000, 2000, 1300]), 2);
        // "- Lưu: VT" just below the block still belongs to the list before it.
        let list = [
            line([300, 1000, 1000, 1050]),
            line([300, 1250, 1000, 1300]),
            line([300, 1320, 800, 1370]),
            line([300, 1900, 1000, 1950]),
        ];
        assert_eq!(place(&list, [1300, 1000, 2000, 1300]), 3);
    }
}

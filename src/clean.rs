//! Clean: page images are made easier to read before OCR. Each step is kept only where it was
//! measured to help (README, "Clean-up"), in this order:
//! - coloured inks (red seals and stamps, blue signatures) become paper on colour scans
//!   ([`crate::inks`]);
//! - a skewed page is turned level ([`crate::deskew`]);
//! - low-resolution pages are upscaled to 300 dpi (Tesseract's Vietnamese models lose marks
//!   below about 250 dpi);
//! - specks (isolated ink blobs far smaller than any Vietnamese mark or punctuation) are erased,
//!   since Tesseract reads them as stray ". : ' -" and splits words on them; but only on pages
//!   that have some: on a clean page the rare "specks" found are real marks (a full stop far
//!   from its word, a dot of a broken letter), and erasing them cost words (issue 15).

use crate::inks::{InkReport, Region};
use crate::raster::PageImage;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct CleanOptions {
    pub enabled: bool,
    /// Pages below this resolution are upscaled to `target_dpi`.
    pub min_dpi: f32,
    pub target_dpi: f32,
    /// Ink components of at most this many pixels (at 300 dpi; scaled with resolution) are
    /// erased. 0 turns despeckling off.
    pub speck_area: u32,
    /// Despeckle only pages with at least this many specks per million pixels (at 300 dpi):
    /// a noisy page. 0 despeckles every page.
    pub min_specks_per_mpx: f32,
    /// Level skewed pages.
    pub deskew: bool,
    /// Make red and blue ink paper on colour scans.
    pub separate_inks: bool,
}

impl Default for CleanOptions {
    fn default() -> Self {
        let speck_area = std::env::var("SOHOA_SPECK_AREA")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(40);
        let min_specks_per_mpx = std::env::var("SOHOA_MIN_SPECKS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(MIN_SPECKS_PER_MPX);
        CleanOptions {
            enabled: true,
            min_dpi: 250.0,
            target_dpi: 300.0,
            speck_area,
            min_specks_per_mpx,
            // SOHOA_DESKEW=0 / SOHOA_INKS=0: for before/after measurements with `sohoa eval`.
            deskew: std::env::var("SOHOA_DESKEW").map_or(true, |v| v != "0"),
            separate_inks: std::env::var("SOHOA_INKS").map_or(true, |v| v != "0"),
        }
    }
}

/// Specks per million pixels (300 dpi) from which a page counts as noisy. Measured
/// (docs/real-scans.md): clean renders have 0-0.1 and despeckling them only cost words; light
/// synthetic noise has 2-10, medium 22-40, the real-dev bilevel scans 1.7-14 (toner dust,
/// bleed-through), and on all of these despeckling gained or changed nothing.
pub const MIN_SPECKS_PER_MPX: f32 = 1.0;

/// What clean-up did to a page: the page's `clean` object in the JSON output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CleanReport {
    /// Factor the page was scaled by before OCR (box coordinates are scaled back).
    pub scale: f32,
    /// Skew undone, degrees (the page's `skew`).
    #[serde(skip)]
    pub skew: f32,
    /// Skew measured, degrees (+: lines rise to the right); undone when over
    /// [`crate::deskew::MIN_SKEW`].
    pub skew_measured: f32,
    /// Specks found, per million pixels at 300 dpi: the page's noise.
    pub specks_per_mpx: f32,
    /// Whether specks were erased (the page was noisy enough), and how many.
    pub despeckled: bool,
    pub specks_removed: usize,
    /// Fraction of the page's pixels that were red or blue ink and became paper.
    pub ink_removed: f32,
    /// Where that ink was (the page's `regions`).
    #[serde(skip)]
    pub regions: Vec<Region>,
}

pub fn clean(page: PageImage, opts: &CleanOptions) -> (PageImage, CleanReport) {
    let mut report = CleanReport {
        scale: 1.0,
        ..Default::default()
    };
    let mut page = page;
    let inks = page.inks.take();
    if !opts.enabled {
        return (page, report);
    }
    if let (Some(inks), true) = (inks, opts.separate_inks) {
        let paper = paper_level(&page.gray, otsu(&page.gray));
        let (w, h) = (page.width as usize, page.height as usize);
        let InkReport { removed, regions } =
            crate::inks::remove(&mut page.gray, &inks, w, h, page.dpi, paper);
        report.ink_removed = removed;
        report.regions = regions;
    }
    if page.dpi > 0.0
        && page.dpi < opts.min_dpi
        && (page.width as u64 * page.height as u64) < 40_000_000
    {
        report.scale = opts.target_dpi / page.dpi;
        page = upscale(&page, report.scale);
    }
    if opts.speck_area > 0 {
        let scale = (page.dpi / 300.0).max(0.25);
        let area = ((opts.speck_area as f32) * scale * scale).round().max(1.0) as u32;
        let specks = find_specks(&page, area);
        let mpx_300 = (page.width as f32 * page.height as f32) / (scale * scale) / 1e6;
        report.specks_per_mpx = specks.len() as f32 / mpx_300.max(0.01);
        report.despeckled = report.specks_per_mpx >= opts.min_specks_per_mpx;
        if report.despeckled {
            let paper = paper_level(&page.gray, otsu(&page.gray));
            for speck in &specks {
                for &p in speck {
                    page.gray[p] = paper;
                }
            }
            report.specks_removed = specks.len();
        }
    }
    // After despeckling: specks are found best on the page as scanned (rotation smears them).
    if opts.deskew {
        let skew = crate::deskew::estimate(&page);
        report.skew_measured = skew;
        if skew.abs() > crate::deskew::MIN_SKEW {
            let paper = paper_level(&page.gray, otsu(&page.gray));
            page = crate::deskew::rotate(&page, skew, paper);
            report.skew = skew;
        }
    }
    (page, report)
}

/// Paper brightness to paint with: the median of the pixels above the ink threshold `t`.
fn paper_level(gray: &[u8], t: u8) -> u8 {
    let mut hist = [0u64; 256];
    for &g in gray {
        if g > t {
            hist[g as usize] += 1;
        }
    }
    let half: u64 = hist.iter().sum::<u64>() / 2;
    let mut acc = 0;
    hist.iter()
        .position(|&c| {
            acc += c;
            acc >= half
        })
        .unwrap_or(255) as u8
}

/// Otsu's threshold of a grey image.
fn otsu(gray: &[u8]) -> u8 {
    let mut hist = [0u64; 256];
    for &g in gray {
        hist[g as usize] += 1;
    }
    let total = gray.len() as f64;
    let sum: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &h)| i as f64 * h as f64)
        .sum();
    let (mut sum_b, mut w_b, mut best, mut best_t) = (0.0, 0.0, 0.0, 128u8);
    for (t, &h) in hist.iter().enumerate() {
        w_b += h as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += t as f64 * h as f64;
        let (m_b, m_f) = (sum_b / w_b, (sum - sum_b) / w_f);
        let between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    best_t
}

/// Ink components (8-connected, below Otsu's threshold) of at most `max_area` pixels that stand
/// alone: nothing else inked within a small margin, so dots of i, dot-below marks and
/// punctuation, which sit next to letters, are kept even when as small as a speck. Each speck is
/// its pixels' indices.
fn find_specks(page: &PageImage, max_area: u32) -> Vec<Vec<usize>> {
    let (w, h) = (page.width as usize, page.height as usize);
    let mut specks = Vec::new();
    if w < 3 || h < 3 {
        return specks;
    }
    let t = otsu(&page.gray);
    let ink: Vec<bool> = page.gray.iter().map(|&g| g <= t).collect();

    // Marks of Vietnamese letters and punctuation sit above or below their partner ink (i-dot,
    // dot below, the dot of ';'), so the vertical search reaches further than the horizontal.
    let mx = ((page.dpi / 300.0) * 12.0).round().max(2.0) as usize;
    let my = ((page.dpi / 300.0) * 18.0).round().max(3.0) as usize;
    let mut seen = vec![false; w * h];
    let mut stack = Vec::new();
    let mut comp = Vec::new();
    for start in 0..w * h {
        if !ink[start] || seen[start] {
            continue;
        }
        comp.clear();
        stack.push(start);
        seen[start] = true;
        let mut too_big = false;
        while let Some(p) = stack.pop() {
            if comp.len() as u32 <= max_area {
                comp.push(p);
            } else {
                too_big = true;
            }
            let (x, y) = (p % w, p / w);
            for dy in [-1i64, 0, 1] {
                for dx in [-1i64, 0, 1] {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let q = ny as usize * w + nx as usize;
                    if ink[q] && !seen[q] {
                        seen[q] = true;
                        stack.push(q);
                    }
                }
            }
        }
        if too_big || comp.len() as u32 > max_area {
            continue;
        }
        // Isolated? Look for other ink in the box grown by `margin`.
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
        for &p in &comp {
            let (x, y) = (p % w, p / w);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        // Dashes and hairlines are elongated; specks are blobs.
        let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
        if bw * 2 >= bh * 5 || bh * 2 >= bw * 5 {
            continue;
        }
        let (bx0, by0) = (x0.saturating_sub(mx), y0.saturating_sub(my));
        let (bx1, by1) = ((x1 + mx).min(w - 1), (y1 + my).min(h - 1));
        let mut alone = true;
        'scan: for y in by0..=by1 {
            for x in bx0..=bx1 {
                if (x < x0 || x > x1 || y < y0 || y > y1) && ink[y * w + x] {
                    alone = false;
                    break 'scan;
                }
            }
        }
        if alone {
            specks.push(comp.clone());
        }
    }
    specks
}

/// Erase the specks [`find_specks`] finds; returns how many.
#[cfg(test)]
fn despeckle(page: &mut PageImage, max_area: u32) -> usize {
    let specks = find_specks(page, max_area);
    let paper = paper_level(&page.gray, otsu(&page.gray));
    for &p in specks.iter().flatten() {
        page.gray[p] = paper;
    }
    specks.len()
}

/// The page turned clockwise by 90, 180 or 270 degrees.
pub fn rotate(p: &PageImage, degrees: i32) -> PageImage {
    let (w, h) = (p.width as usize, p.height as usize);
    let deg = degrees.rem_euclid(360);
    let (nw, nh) = if deg == 90 || deg == 270 {
        (h, w)
    } else {
        (w, h)
    };
    let mut out = vec![255u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (nx, ny) = match deg {
                90 => (h - 1 - y, x),
                180 => (w - 1 - x, h - 1 - y),
                270 => (y, w - 1 - x),
                _ => (x, y),
            };
            out[ny * nw + nx] = p.gray[y * w + x];
        }
    }
    PageImage {
        width: nw as u32,
        height: nh as u32,
        ..p.with_gray(out)
    }
}

/// Bilinear resampling to `scale` times the size.
fn upscale(p: &PageImage, scale: f32) -> PageImage {
    let (w, h) = (p.width as usize, p.height as usize);
    let (nw, nh) = (
        ((w as f32) * scale).round() as usize,
        ((h as f32) * scale).round() as usize,
    );
    let mut out = vec![255u8; nw * nh];
    let inv = 1.0 / scale;
    for y in 0..nh {
        let sy = ((y as f32 + 0.5) * inv - 0.5).clamp(0.0, (h - 1) as f32);
        let y0 = sy.floor() as usize;
        let y1 = (y0 + 1).min(h - 1);
        let fy = sy - y0 as f32;
        for x in 0..nw {
            let sx = ((x as f32 + 0.5) * inv - 0.5).clamp(0.0, (w - 1) as f32);
            let x0 = sx.floor() as usize;
            let x1 = (x0 + 1).min(w - 1);
            let fx = sx - x0 as f32;
            let g = |yy: usize, xx: usize| p.gray[yy * w + xx] as f32;
            let top = g(y0, x0) * (1.0 - fx) + g(y0, x1) * fx;
            let bot = g(y1, x0) * (1.0 - fx) + g(y1, x1) * fx;
            out[y * nw + x] = (top * (1.0 - fy) + bot * fy).round() as u8;
        }
    }
    PageImage {
        width: nw as u32,
        height: nh as u32,
        dpi: p.dpi * scale,
        ..p.with_gray(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(w: u32, h: u32) -> PageImage {
        PageImage {
            gray: vec![230; (w * h) as usize],
            ..PageImage::blank(w, h, 300.0)
        }
    }

    #[test]
    fn lone_speck_is_erased_but_a_dot_beside_a_letter_stays() {
        let mut p = blank(200, 100);
        let w = 200;
        // a 2x2 speck far from anything
        for (x, y) in [(20, 20), (21, 20), (20, 21), (21, 21)] {
            p.gray[y * w + x] = 10;
        }
        // a "letter" (10x30 bar) with a 2x2 dot 5 px above it
        for y in 50..80 {
            for x in 100..110 {
                p.gray[y * w + x] = 10;
            }
        }
        for (x, y) in [(104, 43), (105, 43), (104, 44), (105, 44)] {
            p.gray[y * w + x] = 10;
        }
        let n = despeckle(&mut p, 20);
        assert_eq!(n, 1);
        assert!(p.gray[20 * w + 20] > 200, "speck erased");
        assert_eq!(p.gray[43 * w + 104], 10, "dot near a letter kept");
        assert_eq!(p.gray[60 * w + 105], 10, "letter kept");
    }
}

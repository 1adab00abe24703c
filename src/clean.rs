//! Clean: page images are made easier to read before OCR. Each step is kept only where it was
//! measured to help (README, "Clean-up"):
//! - low-resolution pages are upscaled to 300 dpi (Tesseract's Vietnamese models lose marks
//!   below about 250 dpi);
//! - specks (isolated ink blobs far smaller than any Vietnamese mark or punctuation) are erased,
//!   since Tesseract reads them as stray ". : ' -" and splits words on them.

use crate::raster::PageImage;

#[derive(Debug, Clone)]
pub struct CleanOptions {
    pub enabled: bool,
    /// Pages below this resolution are upscaled to `target_dpi`.
    pub min_dpi: f32,
    pub target_dpi: f32,
    /// Ink components of at most this many pixels (at 300 dpi; scaled with resolution) are
    /// erased. 0 turns despeckling off.
    pub speck_area: u32,
}

impl Default for CleanOptions {
    fn default() -> Self {
        let speck_area = std::env::var("SOHOA_SPECK_AREA")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(40);
        CleanOptions {
            enabled: true,
            min_dpi: 250.0,
            target_dpi: 300.0,
            speck_area,
        }
    }
}

/// What clean-up did to a page (recorded in the JSON output).
#[derive(Debug, Clone, Copy, Default)]
pub struct CleanReport {
    /// Factor the page was scaled by before OCR (box coordinates are scaled back).
    pub scale: f32,
    pub specks_removed: usize,
}

pub fn clean(page: PageImage, opts: &CleanOptions) -> (PageImage, CleanReport) {
    let mut report = CleanReport {
        scale: 1.0,
        specks_removed: 0,
    };
    if !opts.enabled {
        return (page, report);
    }
    let mut page = page;
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
        report.specks_removed = despeckle(&mut page, area);
    }
    (page, report)
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

/// Erase ink components (8-connected, below Otsu's threshold) of at most `max_area` pixels that
/// stand alone: nothing else inked within a small margin, so dots of i, dot-below marks and
/// punctuation, which sit next to letters, are kept even when as small as a speck.
fn despeckle(page: &mut PageImage, max_area: u32) -> usize {
    let (w, h) = (page.width as usize, page.height as usize);
    if w < 3 || h < 3 {
        return 0;
    }
    let t = otsu(&page.gray);
    let ink: Vec<bool> = page.gray.iter().map(|&g| g <= t).collect();
    // Paper brightness to paint with: the median of the pixels above the threshold.
    let mut hist = [0u64; 256];
    for &g in &page.gray {
        if g > t {
            hist[g as usize] += 1;
        }
    }
    let half: u64 = hist.iter().sum::<u64>() / 2;
    let mut acc = 0;
    let paper = hist
        .iter()
        .position(|&c| {
            acc += c;
            acc >= half
        })
        .unwrap_or(255) as u8;

    // Marks of Vietnamese letters and punctuation sit above or below their partner ink (i-dot,
    // dot below, the dot of ';'), so the vertical search reaches further than the horizontal.
    let mx = ((page.dpi / 300.0) * 12.0).round().max(2.0) as usize;
    let my = ((page.dpi / 300.0) * 18.0).round().max(3.0) as usize;
    let mut seen = vec![false; w * h];
    let mut stack = Vec::new();
    let mut comp = Vec::new();
    let mut removed = 0;
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
            for &p in &comp {
                page.gray[p] = paper;
            }
            removed += 1;
        }
    }
    removed
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
        index: p.index,
        width: nw as u32,
        height: nh as u32,
        dpi: p.dpi,
        gray: out,
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
        index: p.index,
        width: nw as u32,
        height: nh as u32,
        dpi: p.dpi * scale,
        gray: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(w: u32, h: u32) -> PageImage {
        PageImage {
            index: 0,
            width: w,
            height: h,
            dpi: 300.0,
            gray: vec![230; (w * h) as usize],
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

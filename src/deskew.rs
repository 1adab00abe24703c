//! Deskew: the page's skew angle, measured cheaply, and undone before OCR.
//!
//! Scanned pages sit a little crooked on the glass (±2° is common, the real-dev annex pages run
//! to 0.7°); Tesseract copes with a slight tilt, but from about 1° on, a tilt of a line height
//! over the page width merges or splits lines and costs words. The angle is found by the projection-profile method: ink is
//! projected onto the vertical axis along lines at each candidate angle, and the angle at which
//! text lines (and table rulings) fall into the fewest, fullest rows wins — the profile's sum of
//! squares is largest. It works on the bottom edges of ink, coarse-to-fine: 0.5° steps over ±5°
//! at about 75 dpi, then 0.1° steps around the best at about 150 dpi (tens of thousands of
//! points each), so a page costs a few milliseconds.

use crate::raster::PageImage;

/// Skews up to this many degrees are searched.
pub const MAX_SKEW: f32 = 5.0;
/// Pages tilted this much or less are measured but left as they are. Tesseract finds slightly
/// tilted lines itself, and resampling blurs strokes and smears noise into marks: on the dev
/// sets, levelling pages of 0.3-1.0° won on some pages and lost as much on others (two noisy
/// scans-dev pages at 1.0° lost 1.5 points of WER each), while pages tilted 1-3° read 2-3×
/// better levelled (docs/real-scans.md).
pub const MIN_SKEW: f32 = 1.0;

/// Ink points (x, y) at reduced resolution, and the reduced page height.
struct Points {
    pts: Vec<(f32, f32)>,
    height: usize,
}

/// A reduced ink bitmap: `w` × `h` cells, row-major.
struct Bitmap {
    ink: Vec<bool>,
    w: usize,
    h: usize,
}

/// The page sampled at about 150 dpi: every `f`-th pixel of every `f`-th row (no averaging:
/// strokes at 150 dpi are still 2-3 samples thick, and a quarter of the reads of an OR-reduction).
fn sample(page: &PageImage, ink_below: u8) -> Bitmap {
    let (w, h) = (page.width as usize, page.height as usize);
    let f = ((page.dpi / 150.0).round() as usize).clamp(1, 16);
    let (rw, rh) = (w.div_ceil(f), h.div_ceil(f));
    let mut ink = Vec::with_capacity(rw * rh);
    for y in (0..h).step_by(f) {
        let row = &page.gray[y * w..(y + 1) * w];
        ink.extend(row.iter().step_by(f).map(|&g| g < ink_below));
    }
    Bitmap { ink, w: rw, h: rh }
}

/// Half the resolution: a cell is ink when any of its 2 × 2 is.
fn halve(b: &Bitmap) -> Bitmap {
    let (w, h) = (b.w / 2, b.h / 2);
    let mut ink = vec![false; w * h];
    for y in 0..h {
        let (r0, r1) = (&b.ink[2 * y * b.w..], &b.ink[(2 * y + 1) * b.w..]);
        for x in 0..w {
            ink[y * w + x] = r0[2 * x] | r0[2 * x + 1] | r1[2 * x] | r1[2 * x + 1];
        }
    }
    Bitmap { ink, w, h }
}

/// Bottom edges of ink (an ink cell with paper below it): what lines rest on, without the bulk
/// of the strokes.
fn edge_points(b: &Bitmap) -> Points {
    let mut pts = Vec::new();
    for y in 0..b.h.saturating_sub(1) {
        let (row, below) = (&b.ink[y * b.w..(y + 1) * b.w], &b.ink[(y + 1) * b.w..]);
        for x in 0..b.w {
            if row[x] && !below[x] {
                pts.push((x as f32, y as f32));
            }
        }
    }
    Points { pts, height: b.h }
}

/// Sum of squares of the projection profile at `deg` (how well ink lines up along rows).
fn profile_score(p: &Points, deg: f32, bins: &mut Vec<u32>) -> f64 {
    let t = deg.to_radians().tan();
    // Rows shifted by up to width·tan(5°) above or below: room on both sides.
    let pad = p.height / 2 + 8;
    bins.clear();
    bins.resize(p.height + 2 * pad, 0);
    for &(x, y) in &p.pts {
        let r = (y - x * t).round() as isize + pad as isize;
        if let Some(b) = bins.get_mut(r.max(0) as usize) {
            *b += 1;
        }
    }
    bins.iter().map(|&c| (c as f64) * (c as f64)).sum()
}

/// The page's skew in degrees (positive: lines rise to the right, i.e. the page content is
/// turned counter-clockwise), in 0.1° steps within ±[`MAX_SKEW`]; 0 when the page has too little
/// ink to tell.
pub fn estimate(page: &PageImage) -> f32 {
    // Coarse at 75 dpi; fine at 150 dpi, where 0.1° over a page's width is 2 pixels, not 1.
    let fine = sample(page, 128);
    let coarse_pts = edge_points(&halve(&fine));
    if coarse_pts.pts.len() < 200 {
        return 0.0;
    }
    let fine_pts = edge_points(&fine);
    let mut bins = Vec::new();
    let best = |p: &Points, lo: f32, hi: f32, step: f32, bins: &mut Vec<u32>| {
        let n = ((hi - lo) / step).round() as i32;
        let mut best = (0.0f32, f64::MIN);
        for i in 0..=n {
            let d = lo + i as f32 * step;
            let s = profile_score(p, d, bins);
            // Ties (a blank-ish page) go to the angle nearest 0.
            if s > best.1 || (s == best.1 && d.abs() < best.0.abs()) {
                best = (d, s);
            }
        }
        best
    };
    let (coarse, _) = best(&coarse_pts, -MAX_SKEW, MAX_SKEW, 0.5, &mut bins);
    let (fine, fine_score) = best(&fine_pts, coarse - 0.5, coarse + 0.5, 0.1, &mut bins);
    // No orientation at all (a photo, an empty page): the profile is as flat at 0° as anywhere.
    if fine_score <= profile_score(&fine_pts, 0.0, &mut bins) * 1.0001 {
        return 0.0;
    }
    // The skew is the angle lines rise by: y decreases with x at positive angles.
    (-fine * 10.0).round() / 10.0
}

/// The page rotated by `-skew` degrees about its centre (bilinear; what comes in from outside
/// the page is `paper`: a white wedge on grey paper has edges Tesseract takes for ink), same
/// size. Source coordinates step by a constant along a row, so
/// they are carried in 16.16 fixed point and weights in 8 bits: ~10× faster than the float
/// version on a 300 dpi page.
pub fn rotate(page: &PageImage, skew: f32, paper: u8) -> PageImage {
    let (w, h) = (page.width as usize, page.height as usize);
    let (s, c) = (skew as f64).to_radians().sin_cos();
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    const ONE: f64 = 65536.0;
    let (step_x, step_y) = ((c * ONE).round() as i64, (-s * ONE).round() as i64);
    let (max_x, max_y) = (((w - 1) as i64) << 16, ((h - 1) as i64) << 16);
    let src = &page.gray;
    let mut out = vec![paper; w * h];
    for (y, row) in out.chunks_exact_mut(w).enumerate() {
        let dy = y as f64 - cy;
        // Output pixel (x, y) comes from the input turned back by `skew`.
        let mut sx = ((c * -cx + s * dy + cx) * ONE).round() as i64;
        let mut sy = ((-s * -cx + c * dy + cy) * ONE).round() as i64;
        for o in row.iter_mut() {
            if sx >= 0 && sy >= 0 && sx <= max_x && sy <= max_y {
                let (x0, y0) = ((sx >> 16) as usize, (sy >> 16) as usize);
                let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
                let (fx, fy) = (((sx >> 8) & 0xFF) as u32, ((sy >> 8) & 0xFF) as u32);
                let g = |xx: usize, yy: usize| src[yy * w + xx] as u32;
                let top = g(x0, y0) * (256 - fx) + g(x1, y0) * fx;
                let bot = g(x0, y1) * (256 - fx) + g(x1, y1) * fx;
                *o = ((top * (256 - fy) + bot * fy + (1 << 15)) >> 16) as u8;
            }
            sx += step_x;
            sy += step_y;
        }
    }
    page.with_gray(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of "text": rows of 30-pixel words, 60 pixels apart, tilted by `deg`.
    fn lines_page(deg: f32) -> PageImage {
        let (w, h) = (1600usize, 2000usize);
        let mut p = PageImage::blank(w as u32, h as u32, 200.0);
        let t = deg.to_radians().tan();
        for row in 0..25 {
            let y0 = 200.0 + row as f32 * 60.0;
            for x in 150..1450 {
                if (x / 40) % 4 == 3 {
                    continue; // word gaps
                }
                let yb = y0 - x as f32 * t;
                for y in (yb - 18.0) as usize..yb as usize {
                    if (x + y) % 3 != 0 {
                        p.gray[y * w + x] = 0;
                    }
                }
            }
        }
        p
    }

    #[test]
    fn a_page_tilted_two_degrees_reads_as_two_degrees() {
        for deg in [2.0f32, -2.0, 0.7, 0.0] {
            let got = estimate(&lines_page(deg));
            assert!((got - deg).abs() <= 0.15, "tilted {deg}, estimated {got}");
        }
    }

    #[test]
    fn rotating_by_the_estimate_levels_the_page() {
        let p = lines_page(2.0);
        let level = rotate(&p, estimate(&p), 255);
        assert!(estimate(&level).abs() <= 0.15);
    }

    #[test]
    fn an_empty_page_has_no_skew() {
        assert_eq!(estimate(&PageImage::blank(800, 1000, 200.0)), 0.0);
    }
}

//! Coloured inks: red seals and stamps, blue signatures, taken off colour scans before OCR.
//!
//! On a colour scan the text is black, the seal red (a circle of red letters over the signer's
//! name) and the signature blue. In grey all three are ink and Tesseract reads the seal's ring as
//! garbage lines or loses the name under it. By colour they part easily: text is dark and grey
//! (low saturation), seal and signature ink are saturated. The test is HSV's: a pixel whose
//! saturation and chroma are high is red ink when its hue is red or magenta (seals, received-
//! stamps), blue ink when blue or violet (ballpoint signatures, handwritten notes). Where black
//! text crosses the seal, the pixel is dark, not red, and stays. Green and yellow are left alone
//! (highlighter, paper tone).

use serde::{Deserialize, Serialize};

/// A coloured ink, as stored per pixel in [`crate::raster::PageImage::inks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Ink {
    None = 0,
    /// Red or magenta: seals, stamps.
    Red = 1,
    /// Blue or violet: signatures, handwriting.
    Blue = 2,
}

/// The ink of one RGB pixel.
#[inline]
pub fn classify(r: u8, g: u8, b: u8) -> Ink {
    let max = r.max(g).max(b) as i32;
    let min = r.min(g).min(b) as i32;
    let chroma = max - min;
    // Saturation (chroma / value) over 0.35 and a chroma a scanner's colour fringes on black
    // text (JPEG ringing, misregistered sensors: 20-40) do not reach.
    if chroma < 60 || chroma * 100 < 35 * max {
        return Ink::None;
    }
    let (r, g, b) = (r as i32, g as i32, b as i32);
    // Hue in degrees, 0-360.
    let hue = if max == r {
        (60 * (g - b) / chroma).rem_euclid(360)
    } else if max == g {
        60 * (b - r) / chroma + 120
    } else {
        60 * (r - g) / chroma + 240
    };
    match hue {
        0..=25 | 290..=360 => Ink::Red,
        190..=289 => Ink::Blue,
        _ => Ink::None,
    }
}

/// Collects a page's inks pixel by pixel; allocates only once a coloured pixel turns up, so grey
/// pages cost a comparison a pixel.
pub struct InkMap {
    len: usize,
    map: Option<Vec<u8>>,
}

impl InkMap {
    /// For a page of `len` pixels (0: a page that cannot have colour).
    pub fn new(len: usize) -> InkMap {
        InkMap { len, map: None }
    }

    #[inline]
    pub fn note(&mut self, i: usize, r: u8, g: u8, b: u8) {
        if self.len == 0 || (r == g && g == b) {
            return;
        }
        let ink = classify(r, g, b);
        if ink != Ink::None {
            let len = self.len;
            self.map.get_or_insert_with(|| vec![0; len])[i] = ink as u8;
        }
    }

    pub fn finish(self) -> Option<Vec<u8>> {
        self.map
    }
}

/// A part of the page taken as a seal, stamp or signature (in the JSON's page `regions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// "seal" (red ink) or "signature" (blue ink).
    pub kind: String,
    /// [x0, y0, x1, y1] in page pixels, x1/y1 exclusive.
    pub bbox: [i32; 4],
    /// Fraction of the region's pixels that were that ink.
    pub ink: f32,
}

/// What ink separation took off a page.
#[derive(Debug, Clone, Default)]
pub struct InkReport {
    /// Fraction of the page's pixels made paper.
    pub removed: f32,
    pub regions: Vec<Region>,
}

/// Side of the square cells regions are grown from, at 300 dpi.
const CELL_300: f32 = 24.0;

/// Paint every red and blue ink pixel of `gray` with `paper`; report how much and where.
pub fn remove(gray: &mut [u8], inks: &[u8], w: usize, h: usize, dpi: f32, paper: u8) -> InkReport {
    let mut removed = 0usize;
    for (g, &k) in gray.iter_mut().zip(inks) {
        if k != Ink::None as u8 {
            *g = paper;
            removed += 1;
        }
    }
    let regions = regions(inks, w, h, dpi);
    InkReport {
        removed: removed as f32 / (w * h).max(1) as f32,
        regions,
    }
}

/// Regions of each ink: cells (about 2 mm square) with at least 2 % of that ink, joined with
/// their 8 neighbours; regions smaller than 3 × 3 cells are stray colour (a coloured letterhead
/// dot, a fringe) and not reported.
fn regions(inks: &[u8], w: usize, h: usize, dpi: f32) -> Vec<Region> {
    let cell = ((CELL_300 * dpi / 300.0).round() as usize).max(4);
    let (cw, ch) = (w.div_ceil(cell), h.div_ceil(cell));
    let mut out = Vec::new();
    for (ink, kind) in [(Ink::Red, "seal"), (Ink::Blue, "signature")] {
        let mut count = vec![0u32; cw * ch];
        for y in 0..h {
            for x in 0..w {
                if inks[y * w + x] == ink as u8 {
                    count[(y / cell) * cw + x / cell] += 1;
                }
            }
        }
        let min = (cell * cell / 50).max(1) as u32;
        let on: Vec<bool> = count.iter().map(|&c| c >= min).collect();
        let mut seen = vec![false; cw * ch];
        for start in 0..cw * ch {
            if !on[start] || seen[start] {
                continue;
            }
            let (mut x0, mut y0, mut x1, mut y1) = (cw, ch, 0, 0);
            let (mut cells, mut pixels) = (0usize, 0u64);
            let mut stack = vec![start];
            seen[start] = true;
            while let Some(c) = stack.pop() {
                let (cx, cy) = (c % cw, c / cw);
                (x0, y0, x1, y1) = (x0.min(cx), y0.min(cy), x1.max(cx), y1.max(cy));
                cells += 1;
                pixels += count[c] as u64;
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let (nx, ny) = (cx as i64 + dx, cy as i64 + dy);
                        if nx < 0 || ny < 0 || nx >= cw as i64 || ny >= ch as i64 {
                            continue;
                        }
                        let n = ny as usize * cw + nx as usize;
                        if on[n] && !seen[n] {
                            seen[n] = true;
                            stack.push(n);
                        }
                    }
                }
            }
            if cells < 9 {
                continue;
            }
            let bbox = [
                (x0 * cell) as i32,
                (y0 * cell) as i32,
                ((x1 + 1) * cell).min(w) as i32,
                ((y1 + 1) * cell).min(h) as i32,
            ];
            let area = ((bbox[2] - bbox[0]) * (bbox[3] - bbox[1])).max(1) as f32;
            out.push(Region {
                kind: kind.into(),
                bbox,
                ink: pixels as f32 / area,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_red_and_ballpoint_blue_are_ink_but_black_grey_and_paper_are_not() {
        assert_eq!(classify(220, 60, 70), Ink::Red);
        assert_eq!(classify(200, 40, 140), Ink::Red, "magenta received-stamp");
        assert_eq!(classify(50, 60, 160), Ink::Blue);
        assert_eq!(classify(90, 50, 160), Ink::Blue, "violet");
        assert_eq!(classify(20, 20, 25), Ink::None, "black text");
        assert_eq!(classify(60, 35, 40), Ink::None, "black text over red ink");
        assert_eq!(classify(240, 235, 215), Ink::None, "yellowed paper");
        assert_eq!(classify(128, 128, 128), Ink::None);
    }
}

//! Clean: page images are made easier to read before OCR. Each step is kept only where it was
//! measured to help (README, "Clean-up"): low-resolution pages are upscaled to 300 dpi, since
//! Tesseract's Vietnamese models lose marks below about 250 dpi.

use crate::raster::PageImage;

#[derive(Debug, Clone)]
pub struct CleanOptions {
    pub enabled: bool,
    /// Pages below this resolution are upscaled to `target_dpi`.
    pub min_dpi: f32,
    pub target_dpi: f32,
}

impl Default for CleanOptions {
    fn default() -> Self {
        CleanOptions { enabled: true, min_dpi: 250.0, target_dpi: 300.0 }
    }
}

/// What clean-up did to a page (recorded in the JSON output).
#[derive(Debug, Clone, Copy, Default)]
pub struct CleanReport {
    pub scale: f32,
}

pub fn clean(page: PageImage, opts: &CleanOptions) -> (PageImage, CleanReport) {
    if !opts.enabled {
        return (page, CleanReport { scale: 1.0 });
    }
    if page.dpi > 0.0 && page.dpi < opts.min_dpi && (page.width as u64 * page.height as u64) < 40_000_000 {
        let scale = opts.target_dpi / page.dpi;
        return (upscale(&page, scale), CleanReport { scale });
    }
    (page, CleanReport { scale: 1.0 })
}

/// Bilinear resampling to `scale` times the size.
fn upscale(p: &PageImage, scale: f32) -> PageImage {
    let (w, h) = (p.width as usize, p.height as usize);
    let (nw, nh) = (((w as f32) * scale).round() as usize, ((h as f32) * scale).round() as usize);
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
    PageImage { index: p.index, width: nw as u32, height: nh as u32, dpi: p.dpi * scale, gray: out }
}

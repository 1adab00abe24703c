//! Resolution of a page image, when its file does not tell the truth.
//!
//! Scanners and the tools after them write 72 dpi (or nothing) into PNGs of 200 dpi scans. sohoa
//! used to trust that, upscale the page 4× "to 300 dpi" and OCR an enormous, blurred page: three
//! times slower and worse (issue 15). A page's resolution can be read from the page itself:
//! - its size in pixels against paper sizes (A4, A3, A5, Letter, Legal, either way round): an A4
//!   page 1,654 × 2,339 pixels is a 200 dpi scan;
//! - the height of its letters: body text of administrative documents is 12-14 pt, so the
//!   median height of letter-sized ink blobs says how many pixels a point is. It is rougher
//!   (±20 %) but tells A4 from A3 or A5, which have the same shape, and it checks metadata that
//!   fits no paper (a cut-out, a receipt).

use serde::{Deserialize, Serialize};

/// Where a page's resolution came from (the page's `dpi_source` in the JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DpiSource {
    /// The image file records it, and it is plausible.
    Metadata,
    /// A PDF page, rendered at the resolution asked for (`--dpi`).
    Pdf,
    /// From the page's size in pixels against a paper size.
    EstimatedPageSize,
    /// From the height of the page's letters.
    EstimatedText,
    /// `--image-dpi` (or its default): nothing better was known.
    #[default]
    Option,
}

/// Paper sizes in inches, portrait (width, height).
const PAPERS: [(&str, f32, f32); 5] = [
    ("A4", 8.268, 11.693),
    ("A3", 11.693, 16.535),
    ("A5", 5.827, 8.268),
    ("Letter", 8.5, 11.0),
    ("Legal", 8.5, 14.0),
];

/// Resolutions scanners offer; an estimate this close to one (5 %) is taken to be it.
const COMMON_DPI: [f32; 9] = [
    100.0, 150.0, 200.0, 240.0, 300.0, 400.0, 600.0, 800.0, 1200.0,
];

/// Resolutions outside this range are not believed.
pub const PLAUSIBLE: std::ops::RangeInclusive<f32> = 100.0..=1200.0;

fn snap(dpi: f32) -> f32 {
    COMMON_DPI
        .iter()
        .copied()
        .find(|c| (dpi / c - 1.0).abs() <= 0.05)
        .unwrap_or(dpi.round())
}

/// Whether a `w` × `h` page is some paper size at `dpi` (within the slack scanning adds or
/// trims: 12 % smaller to 6 % larger in each direction).
pub fn fits_paper(w: u32, h: u32, dpi: f32) -> bool {
    let (a, b) = (w.min(h) as f32 / dpi, w.max(h) as f32 / dpi);
    PAPERS.iter().any(|&(_, pw, ph)| {
        let ok = |got: f32, want: f32| (0.88..=1.06).contains(&(got / want));
        ok(a, pw) && ok(b, ph)
    })
}

/// Resolutions at which `w` × `h` is a whole paper size, best fit first: the page's two sides
/// must give the same resolution within 4 %.
pub fn page_size_candidates(w: u32, h: u32) -> Vec<(f32, &'static str)> {
    let (a, b) = (w.min(h) as f32, w.max(h) as f32);
    let mut out: Vec<(f32, f32, &str)> = PAPERS
        .iter()
        .filter_map(|&(name, pw, ph)| {
            let (da, db) = (a / pw, b / ph);
            let mismatch = (da - db).abs() / da.max(db);
            let dpi = snap((da + db) / 2.0);
            (mismatch <= 0.04 && PLAUSIBLE.contains(&dpi)).then_some((mismatch, dpi, name))
        })
        .collect();
    out.sort_by(|x, y| x.0.total_cmp(&y.0));
    out.into_iter().map(|(_, d, n)| (d, n)).collect()
}

/// Median height in points of a lower-case letter of body text, as [`letter_heights`] measures
/// it (blobs of one letter: x-height letters, ascenders and descenders together). Measured 5.6
/// on the real-dev circular and decision (200 dpi, Times) and 6.7 on scans-dev (300 dpi,
/// Liberation Serif): their middle, so either is within 10 %.
const LETTER_PT: f32 = 6.2;

/// At least this many letter-sized blobs before letter height is believed.
const MIN_LETTERS: usize = 150;

/// Resolution from the height of the page's letters; `None` with too few letters.
pub fn from_text(gray: &[u8], w: u32, h: u32) -> Option<f32> {
    let heights = letter_heights(gray, w as usize, h as usize);
    if heights.len() < MIN_LETTERS {
        return None;
    }
    let mut hs = heights;
    let mid = hs.len() / 2;
    let (_, m, _) = hs.select_nth_unstable(mid);
    Some(*m as f32 / LETTER_PT * 72.0)
}

/// Heights of ink blobs (8-connected, below mid-grey) shaped like letters: between 4 and 200
/// pixels high, no wider than 3 heights, no narrower than a fifth of one. Found row by row with
/// ink runs and a union-find over runs: one pass, memory per run, not per pixel.
pub fn letter_heights(gray: &[u8], w: usize, h: usize) -> Vec<u32> {
    // Per blob (a union-find root): bounding box.
    let mut parent: Vec<u32> = Vec::new();
    let mut bbox: Vec<[u32; 4]> = Vec::new();
    fn find(parent: &mut [u32], mut i: u32) -> u32 {
        while parent[i as usize] != i {
            let p = parent[parent[i as usize] as usize];
            parent[i as usize] = p;
            i = p;
        }
        i
    }
    // Runs of the previous and current row: (x0, x1 inclusive, blob).
    let mut prev: Vec<(u32, u32, u32)> = Vec::new();
    let mut cur: Vec<(u32, u32, u32)> = Vec::new();
    for y in 0..h {
        cur.clear();
        let row = &gray[y * w..(y + 1) * w];
        let mut x = 0;
        let mut j = 0; // first run of `prev` that may touch
        while x < w {
            if row[x] >= 128 {
                x += 1;
                continue;
            }
            let x0 = x;
            while x < w && row[x] < 128 {
                x += 1;
            }
            let x1 = x - 1;
            let id = parent.len() as u32;
            parent.push(id);
            bbox.push([x0 as u32, y as u32, x1 as u32, y as u32]);
            // 8-connected: runs of the row above that reach x0-1 ..= x1+1.
            while j < prev.len() && (prev[j].1 as usize) + 1 < x0 {
                j += 1;
            }
            let mut k = j;
            while k < prev.len() && (prev[k].0 as usize) <= x1 + 1 {
                let (a, b) = (find(&mut parent, id), find(&mut parent, prev[k].2));
                if a != b {
                    parent[b as usize] = a;
                    let (ba, bb) = (bbox[a as usize], bbox[b as usize]);
                    bbox[a as usize] = [
                        ba[0].min(bb[0]),
                        ba[1].min(bb[1]),
                        ba[2].max(bb[2]),
                        ba[3].max(bb[3]),
                    ];
                }
                k += 1;
            }
            cur.push((x0 as u32, x1 as u32, id));
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let mut out = Vec::new();
    for i in 0..parent.len() as u32 {
        if find(&mut parent, i) != i {
            continue;
        }
        let b = bbox[i as usize];
        let (bw, bh) = (b[2] - b[0] + 1, b[3] - b[1] + 1);
        if (4..=200).contains(&bh) && bw <= 3 * bh && bw * 5 >= bh {
            out.push(bh);
        }
    }
    out
}

/// The resolution to OCR an image at, and where it came from. `meta` is what the file records;
/// `fallback` is `--image-dpi`; `estimate` is off when the user gave `--image-dpi`, which then
/// stands in for missing or implausible metadata.
///
/// Metadata is believed when it is plausible (100-1200 dpi) and the page is a paper size at it,
/// or when the page is no paper size but its letters do not contradict it (a cut-out page at
/// 300 dpi is a 300 dpi page). Otherwise the page size decides, with letter height choosing
/// between paper sizes of the same shape; then letter height alone; then `fallback`.
pub fn resolve(
    meta: Option<f32>,
    gray: &[u8],
    w: u32,
    h: u32,
    fallback: f32,
    estimate: bool,
) -> (f32, DpiSource) {
    let plausible = meta.filter(|d| PLAUSIBLE.contains(d));
    if let Some(d) = plausible {
        if fits_paper(w, h, d) || !estimate {
            return (d, DpiSource::Metadata);
        }
    }
    if !estimate {
        return (fallback, DpiSource::Option);
    }
    let text = from_text(gray, w, h);
    let near = |a: f32, b: f32, k: f32| (a / b).max(b / a) <= k;
    let cands = page_size_candidates(w, h);
    log::debug!("resolution: metadata {meta:?}, letters say {text:?}, paper sizes say {cands:?}");
    // Letters pick among papers of one shape (A3, A4, A5 are √2 apart); letter height is rough,
    // so A4 and Letter, what nearly every administrative page is, win unless letters say
    // otherwise clearly (the others pay 0.15 in log distance, about 16 %).
    let distance = |c: &(f32, &str), t: f32| {
        (c.0 / t).ln().abs()
            + if matches!(c.1, "A4" | "Letter") {
                0.0
            } else {
                0.15
            }
    };
    let by_letters = text.and_then(|t| {
        cands
            .iter()
            .min_by(|a, b| distance(a, t).total_cmp(&distance(b, t)))
            .filter(|c| near(c.0, t, 1.3))
    });
    if let Some(d) = plausible {
        // Plausible metadata on a page of no paper size (a cut-out, a receipt, a poem on a
        // card) is kept unless the page is a paper size at another resolution that its letters
        // confirm.
        if by_letters.is_none_or(|c| near(c.0, d, 1.1)) {
            return (d, DpiSource::Metadata);
        }
    }
    let by_size = match text {
        Some(_) => by_letters,
        // Without letters, the likeliest: the best-fitting A4 or Letter, else the best fit.
        None => cands
            .iter()
            .find(|c| matches!(c.1, "A4" | "Letter"))
            .or(cands.first()),
    };
    if let Some(&(d, _)) = by_size {
        return (d, DpiSource::EstimatedPageSize);
    }
    match text.map(snap).filter(|t| PLAUSIBLE.contains(t)) {
        Some(t) => (t, DpiSource::EstimatedText),
        None => (fallback, DpiSource::Option),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_a4_page_of_1667_by_2359_pixels_is_200_dpi_either_way_round() {
        // A3 at 142 dpi has the same shape: letter height tells them apart (see `resolve`).
        assert!(page_size_candidates(1667, 2359).contains(&(200.0, "A4")));
        assert!(page_size_candidates(2355, 1673).contains(&(200.0, "A4")));
        assert_eq!(page_size_candidates(2550, 3300), vec![(300.0, "Letter")]);
        assert!(fits_paper(1667, 2359, 200.0));
        assert!(!fits_paper(1667, 2359, 72.0));
    }

    #[test]
    fn plausible_metadata_that_fits_the_paper_is_believed() {
        let blank = vec![255u8; 2550 * 3300];
        assert_eq!(
            resolve(Some(300.0), &blank, 2550, 3300, 300.0, true),
            (300.0, DpiSource::Metadata)
        );
    }

    #[test]
    fn seventy_two_dpi_on_a_200_dpi_a4_scan_is_replaced_by_the_page_size() {
        let blank = vec![255u8; 1667 * 2359];
        assert_eq!(
            resolve(Some(72.0), &blank, 1667, 2359, 300.0, true),
            (200.0, DpiSource::EstimatedPageSize)
        );
        assert_eq!(
            resolve(None, &blank, 1667, 2359, 300.0, true),
            (200.0, DpiSource::EstimatedPageSize)
        );
        // --image-dpi given: it stands in for the bad metadata, nothing is estimated.
        assert_eq!(
            resolve(Some(72.0), &blank, 1667, 2359, 250.0, false),
            (250.0, DpiSource::Option)
        );
    }

    #[test]
    fn a_cut_out_with_plausible_metadata_keeps_it() {
        // vietsample1.tif: 4 × 6 inches at 300 dpi, no paper size.
        let blank = vec![255u8; 1200 * 1800];
        assert_eq!(
            resolve(Some(300.0), &blank, 1200, 1800, 300.0, true),
            (300.0, DpiSource::Metadata)
        );
    }

    #[test]
    fn letters_are_blobs_of_their_own_height() {
        let (w, h) = (100usize, 40usize);
        let mut g = vec![255u8; w * h];
        for y in 10..30 {
            for x in 10..20 {
                g[y * w + x] = 0; // a 10 × 20 letter
            }
            g[y * w + 50] = 0; // a 1 × 20 stroke: too thin to be a letter
        }
        g[5 * w + 80] = 0; // a speck
        assert_eq!(letter_heights(&g, w, h), vec![20]);
    }
}

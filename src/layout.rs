//! Ruled tables, read cell by cell and row by row: a stage after OCR, before restoration.
//!
//! Tesseract reads a text line straight across a ruled table, so one of its lines mixes words
//! from four or five cells (an action plan's "Hành động cụ thể", "Bộ ngành chủ trì", "Thời
//! hạn", …) and the page's text cannot be read. This stage finds the table's rules on the image
//! Tesseract read, derives its cells (a cell is a region bounded by rules, so one that spans
//! rows or columns is one cell), and regroups Tesseract's words: rows by their top, cells in a
//! row left to right, each cell's lines top to bottom. A cell spanning several rows comes with
//! the first row it starts in. Words outside tables keep Tesseract's order: text above a table,
//! the table, text below it. A page without rules is left as it is, after a few ms of looking.

use crate::doc::{Line, Word};
use serde::{Deserialize, Serialize};

/// A table found on a page, recorded in the page JSON (docs/schema.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Table {
    /// [x0, y0, x1, y1] in page pixels, as the lines' boxes.
    pub bbox: [i32; 4],
    /// Distinct cell tops (a row that merged cells span counts once).
    pub rows: usize,
    /// Strips between vertical rules.
    pub cols: usize,
    /// Each cell's box in page pixels, in reading order (not in the JSON).
    #[serde(skip)]
    pub cells: Vec<[i32; 4]>,
}

/// Find ruled tables on `gray` (the page image Tesseract read, `width` × `height` at `dpi`) and
/// put `lines` (Tesseract's, in the same pixels) in reading order cell by cell. Returns the
/// tables found; `lines` is untouched when there are none.
pub fn read_tables(
    gray: &[u8],
    width: usize,
    height: usize,
    dpi: f32,
    lines: &mut Vec<Line>,
) -> Vec<Table> {
    let grids = find_grids(gray, width, height, dpi);
    if grids.is_empty() {
        return Vec::new();
    }
    *lines = reorder(std::mem::take(lines), &grids);
    grids.iter().map(Grid::summary).collect()
}

// ---------------------------------------------------------------------------------------------
// Rules

/// A straight dark stroke. For a horizontal rule `along` is x and `across` is y (for a vertical
/// one the other way round): it runs from `lo` to `hi` along, crossing `at` at the middle and
/// drifting by `slope` across per pixel along (what skew deskew left).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rule {
    lo: f32,
    hi: f32,
    at: f32,
    slope: f32,
}

impl Rule {
    fn across(&self, along: f32) -> f32 {
        self.at + self.slope * (along - (self.lo + self.hi) / 2.0)
    }
    fn len(&self) -> f32 {
        self.hi - self.lo
    }
}

/// Pixels darker than this are ink. Rules are printed black; pages reach here bilevel or
/// cleaned grey, so a fixed level does.
const DARK: u8 = 140;

/// Rules are looked for at about 150 dpi: a 2-4 px rule at 300 dpi survives an OR-reduction,
/// and the page is a quarter of the pixels to scan.
fn reduction(dpi: f32) -> usize {
    ((dpi / 150.0).round() as usize).max(1)
}

/// Ink bitmap (1 = dark) reduced `f` times by OR: a block is dark when any of its pixels is.
fn reduce(gray: &[u8], w: usize, h: usize, f: usize) -> (Vec<u8>, usize, usize) {
    let (rw, rh) = (w.div_ceil(f), h.div_ceil(f));
    let mut out = vec![0u8; rw * rh];
    for y in 0..h {
        let row = &gray[y * w..(y + 1) * w];
        let orow = &mut out[(y / f) * rw..(y / f + 1) * rw];
        for (x, &v) in row.iter().enumerate() {
            if v < DARK {
                orow[x / f] = 1;
            }
        }
    }
    (out, rw, rh)
}

fn transpose(bm: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut t = vec![0u8; bm.len()];
    // Blocks keep both sides in cache.
    const B: usize = 64;
    for by in (0..h).step_by(B) {
        for bx in (0..w).step_by(B) {
            for y in by..(by + B).min(h) {
                for x in bx..(bx + B).min(w) {
                    t[x * h + y] = bm[y * w + x];
                }
            }
        }
    }
    t
}

/// The reduced ink bitmap, looked at in page pixels.
struct Ink<'a> {
    bm: &'a [u8],
    w: usize,
    h: usize,
    f: usize,
}

impl Ink<'_> {
    /// Ink within `r` page pixels left or right of (x, y).
    fn dark_near(&self, x: f32, y: f32, r: f32) -> bool {
        let f = self.f as f32;
        let (y, x0, x1) = (
            (y / f) as isize,
            ((x - r) / f) as isize,
            ((x + r) / f) as isize,
        );
        if y < 0 || y >= self.h as isize {
            return false;
        }
        (x0.max(0)..=x1.min(self.w as isize - 1))
            .any(|x| self.bm[y as usize * self.w + x as usize] != 0)
    }
}

/// Sizes for rule finding, in pixels of the reduced bitmap.
struct RuleSizes {
    /// Gap inside a run that still counts as one stroke (scanner breaks, not word spaces).
    gap: usize,
    /// A row's run shorter than this is not part of a rule (text never makes runs this long
    /// with gaps this small).
    piece: usize,
    /// A rule at least this long.
    min_len: f32,
    /// At most this thick once its drift is taken off (thicker is a black border or a photo).
    max_thick: f32,
}

/// Horizontal rules of a bitmap (`w` × `h`): runs of ink along rows, joined across neighbouring
/// rows where they overlap (a thick or slightly tilted rule is one rule), fitted to a line.
fn find_rules(bm: &[u8], w: usize, h: usize, s: &RuleSizes) -> Vec<Rule> {
    // (row, x0, x1) pieces, in row order; `parent` is a union-find over them.
    let mut pieces: Vec<(usize, usize, usize)> = Vec::new();
    let mut parent: Vec<usize> = Vec::new();
    let mut prev = 0..0; // pieces of the previous row
    for y in 0..h {
        let row = &bm[y * w..(y + 1) * w];
        let first = pieces.len();
        let mut x = 0;
        while x < w {
            if row[x] == 0 {
                x += 1;
                continue;
            }
            let start = x;
            let mut last = x;
            while x < w && x - last <= s.gap {
                if row[x] != 0 {
                    last = x;
                }
                x += 1;
            }
            if last + 1 - start >= s.piece {
                pieces.push((y, start, last + 1));
                parent.push(pieces.len() - 1);
            }
        }
        // Join with overlapping pieces of the row above.
        for i in first..pieces.len() {
            let (_, a0, a1) = pieces[i];
            for j in prev.clone() {
                let (py, b0, b1) = pieces[j];
                if py + 1 == y && b0 < a1 && a0 < b1 {
                    union(&mut parent, i, j);
                }
            }
        }
        prev = first..pieces.len();
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..pieces.len() {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut rules = Vec::new();
    for members in groups.values() {
        let lo = members.iter().map(|&i| pieces[i].1).min().unwrap_or(0) as f32;
        let hi = members.iter().map(|&i| pieces[i].2).max().unwrap_or(0) as f32;
        if hi - lo < s.min_len {
            continue;
        }
        // Least squares of row against x over the pieces' middles, weighted by length.
        let (mut sw, mut sx, mut sy, mut sxx, mut sxy) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
        for &i in members {
            let (y, x0, x1) = pieces[i];
            let (wt, x, y) = ((x1 - x0) as f64, (x0 + x1) as f64 / 2.0, y as f64 + 0.5);
            sw += wt;
            sx += wt * x;
            sy += wt * y;
            sxx += wt * x * x;
            sxy += wt * x * y;
        }
        let var = sxx / sw - (sx / sw).powi(2);
        let slope = if var > 1.0 {
            ((sxy / sw - sx / sw * sy / sw) / var) as f32
        } else {
            0.0
        };
        let mid = (lo + hi) / 2.0;
        let at = (sy / sw) as f32 + slope * (mid - (sx / sw) as f32);
        let rows_lo = members.iter().map(|&i| pieces[i].0).min().unwrap_or(0) as f32;
        let rows_hi = members.iter().map(|&i| pieces[i].0).max().unwrap_or(0) as f32 + 1.0;
        if rows_hi - rows_lo - slope.abs() * (hi - lo) > s.max_thick {
            continue;
        }
        rules.push(Rule { lo, hi, at, slope });
    }
    rules
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb)] = ra.min(rb);
    }
}

// ---------------------------------------------------------------------------------------------
// Grids

/// A table's rules, in its own frame: turned by the table's tilt so rules are axis-aligned.
#[derive(Debug, Clone)]
struct Grid {
    /// Tilt: a point (x, y) of the page is (x + t·y, y − t·x) in the table's frame.
    t: f32,
    /// Frame box of the table (rules' extent).
    frame: [f32; 4],
    /// Page box.
    bbox: [i32; 4],
    /// Cells in reading order (frame boxes), with the row each starts in.
    cells: Vec<Cell>,
    rows: usize,
    cols: usize,
    /// Tolerance (page pixels) for "on the rule".
    tol: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
    row: usize,
}

impl Grid {
    fn to_frame(&self, x: f32, y: f32) -> (f32, f32) {
        (x + self.t * y, y - self.t * x)
    }

    fn summary(&self) -> Table {
        Table {
            bbox: self.bbox,
            rows: self.rows,
            cols: self.cols,
            cells: self.cells.iter().map(|c| self.page_box(c)).collect(),
        }
    }

    /// The page box around a cell (the inverse of [`Grid::to_frame`] at its corners).
    fn page_box(&self, c: &Cell) -> [i32; 4] {
        let k = 1.0 + self.t * self.t;
        let page = |x: f32, y: f32| ((x - self.t * y) / k, (y + self.t * x) / k);
        let corners = [
            page(c.x0, c.y0),
            page(c.x1, c.y0),
            page(c.x0, c.y1),
            page(c.x1, c.y1),
        ];
        let xs = corners.map(|p| p.0);
        let ys = corners.map(|p| p.1);
        let lo = |v: [f32; 4]| v.into_iter().fold(f32::INFINITY, f32::min).round() as i32;
        let hi = |v: [f32; 4]| v.into_iter().fold(f32::NEG_INFINITY, f32::max).round() as i32;
        [lo(xs), lo(ys), hi(xs), hi(ys)]
    }

    /// The cell a point (page pixels) falls in: the one containing it, else (on a rule, just
    /// outside the frame) the nearest; `None` when the point is off the table.
    fn cell_of(&self, x: f32, y: f32) -> Option<usize> {
        let (fx, fy) = self.to_frame(x, y);
        let [x0, y0, x1, y1] = self.frame;
        let m = self.tol;
        if fx < x0 - m || fx > x1 + m || fy < y0 - m || fy > y1 + m {
            return None;
        }
        let dist = |c: &Cell| {
            let dx = (c.x0 - fx).max(fx - c.x1).max(0.0);
            let dy = (c.y0 - fy).max(fy - c.y1).max(0.0);
            dx * dx + dy * dy
        };
        (0..self.cells.len()).min_by(|&a, &b| dist(&self.cells[a]).total_cmp(&dist(&self.cells[b])))
    }
}

/// Tables on a page: rules found, joined where they cross, and each set with at least two
/// horizontal and two vertical rules made into a grid of cells.
fn find_grids(gray: &[u8], w: usize, h: usize, dpi: f32) -> Vec<Grid> {
    if w < 16 || h < 16 || gray.len() < w * h {
        return Vec::new();
    }
    let dpi = if dpi > 0.0 { dpi } else { 300.0 };
    let f = reduction(dpi);
    let (bm, rw, rh) = reduce(gray, w, h, f);
    let rdpi = dpi / f as f32;
    let sizes = |min_len: f32| RuleSizes {
        gap: ((rdpi / 75.0).round() as usize).max(1),
        piece: (rdpi * 0.4) as usize,
        min_len,
        max_thick: (rdpi / 15.0).max(3.0),
    };
    let scale = |r: Rule| Rule {
        lo: r.lo * f as f32,
        hi: r.hi * f as f32,
        at: (r.at) * f as f32,
        slope: r.slope,
    };
    let hs: Vec<Rule> = find_rules(&bm, rw, rh, &sizes(rw as f32 / 8.0))
        .into_iter()
        .map(scale)
        .collect();
    if hs.len() < 2 {
        return Vec::new();
    }
    let tb = transpose(&bm, rw, rh);
    let vs: Vec<Rule> = find_rules(&tb, rh, rw, &sizes(rh as f32 / 20.0))
        .into_iter()
        .map(scale)
        .collect();
    if vs.len() < 2 {
        return Vec::new();
    }
    let tol = dpi / 30.0;
    let ink = Ink {
        bm: &bm,
        w: rw,
        h: rh,
        f,
    };
    // Join crossing rules: horizontal i is node i, vertical j is node hs.len() + j.
    let mut parent: Vec<usize> = (0..hs.len() + vs.len()).collect();
    for (i, hr) in hs.iter().enumerate() {
        for (j, vr) in vs.iter().enumerate() {
            let x = vr.across(hr.at);
            let y = hr.across(x);
            if x >= hr.lo - tol && x <= hr.hi + tol && y >= vr.lo - tol && y <= vr.hi + tol {
                union(&mut parent, i, hs.len() + j);
            }
        }
    }
    let mut sets: std::collections::BTreeMap<usize, (Vec<Rule>, Vec<Rule>)> = Default::default();
    for i in 0..hs.len() + vs.len() {
        let r = find(&mut parent, i);
        let e = sets.entry(r).or_default();
        if i < hs.len() {
            e.0.push(hs[i]);
        } else {
            e.1.push(vs[i - hs.len()]);
        }
    }
    let mut grids: Vec<Grid> = sets
        .into_values()
        .filter(|(h, v)| h.len() >= 2 && v.len() >= 2)
        .filter_map(|(h, v)| grid(&h, &v, tol, &ink))
        .collect();
    grids.sort_by(|a, b| a.bbox[1].cmp(&b.bbox[1]));
    grids
}

/// Axis-aligned rule in a table's frame: `at` across, `lo`..`hi` along.
#[derive(Debug, Clone, Copy)]
struct Seg {
    at: f32,
    lo: f32,
    hi: f32,
}

/// Cells of one table from its horizontal and vertical rules (page pixels).
fn grid(hs: &[Rule], vs: &[Rule], tol: f32, ink: &Ink) -> Option<Grid> {
    // Tilt: horizontal rules drift by t down per pixel right, vertical ones by t left per pixel
    // down; the length-weighted mean of both.
    let (mut st, mut sw) = (0.0, 0.0);
    for r in hs {
        st += r.slope * r.len();
        sw += r.len();
    }
    for r in vs {
        st -= r.slope * r.len();
        sw += r.len();
    }
    let t = st / sw;
    let to_frame = |x: f32, y: f32| (x + t * y, y - t * x);
    let hsegs: Vec<Seg> = hs
        .iter()
        .map(|r| {
            let (a, b) = (
                to_frame(r.lo, r.across(r.lo)),
                to_frame(r.hi, r.across(r.hi)),
            );
            Seg {
                at: (a.1 + b.1) / 2.0,
                lo: a.0,
                hi: b.0,
            }
        })
        .collect();
    let vsegs: Vec<Seg> = vs
        .iter()
        .map(|r| {
            let (a, b) = (
                to_frame(r.across(r.lo), r.lo),
                to_frame(r.across(r.hi), r.hi),
            );
            Seg {
                at: (a.0 + b.0) / 2.0,
                lo: a.1,
                hi: b.1,
            }
        })
        .collect();
    let frame = [
        vsegs
            .iter()
            .map(|s| s.at)
            .chain(hsegs.iter().map(|s| s.lo))
            .fold(f32::MAX, f32::min),
        hsegs
            .iter()
            .map(|s| s.at)
            .chain(vsegs.iter().map(|s| s.lo))
            .fold(f32::MAX, f32::min),
        vsegs
            .iter()
            .map(|s| s.at)
            .chain(hsegs.iter().map(|s| s.hi))
            .fold(f32::MIN, f32::max),
        hsegs
            .iter()
            .map(|s| s.at)
            .chain(vsegs.iter().map(|s| s.hi))
            .fold(f32::MIN, f32::max),
    ];

    // Column boundaries: vertical rules at about the same x are one boundary (a column's rule
    // is often broken at every row); the frame's edges bound a table drawn without side rules.
    let columns = cluster(&vsegs, tol, frame[0], frame[2]);
    let xs: Vec<f32> = columns.iter().map(|c| c.0).collect();
    let mut cells: Vec<Cell> = Vec::new();
    // Narrower than a line of small print: a rule drawn double, or one overshooting a corner.
    let min_cell = 3.0 * tol;
    let mut cols = 0;
    for i in 0..xs.len().saturating_sub(1) {
        let (xa, xb) = (xs[i], xs[i + 1]);
        if xb - xa < min_cell {
            continue;
        }
        cols += 1;
        // Row boundaries of this strip: the horizontal rules that cross it, not those of a
        // neighbouring column's finer rows.
        let crossing: Vec<Seg> = hsegs
            .iter()
            .filter(|s| s.hi.min(xb) - s.lo.max(xa) >= 0.8 * (xb - xa))
            .map(|s| Seg {
                at: s.at,
                lo: xa,
                hi: xb,
            })
            .collect();
        let ys: Vec<f32> = cluster(&crossing, tol, frame[1], frame[3])
            .iter()
            .map(|c| c.0)
            .collect();
        for k in 0..ys.len().saturating_sub(1) {
            if ys[k + 1] - ys[k] >= min_cell {
                cells.push(Cell {
                    x0: xa,
                    y0: ys[k],
                    x1: xb,
                    y1: ys[k + 1],
                    row: 0,
                });
            }
        }
    }
    // A cell whose right-hand rule is missing runs on into the neighbour with the same top and
    // bottom (a heading across the table). Missing: no long rule along most of its height, and
    // no ink there on the image either (a column rule broken at every row of a short header
    // row leaves pieces too short to be found as rules).
    let from_frame = |fx: f32, fy: f32| (fx - t * fy, fy + t * fx);
    let drawn = |x: f32, y0: f32, y1: f32| {
        let (mut dark, mut n) = (0, 0);
        let mut y = y0 + tol;
        while y < y1 - tol {
            let (px, py) = from_frame(x, y);
            dark += ink.dark_near(px, py, tol / 3.0) as usize;
            n += 1;
            y += ink.f as f32;
        }
        n > 0 && dark * 5 >= n * 4
    };
    for b in 1..xs.len().saturating_sub(1) {
        let rules = &columns[b].1;
        let mut i = 0;
        while i < cells.len() {
            let c = cells[i];
            if (c.x1 - xs[b]).abs() > 0.5 {
                i += 1;
                continue;
            }
            let covered: f32 = rules
                .iter()
                .map(|s| (s.hi.min(c.y1) - s.lo.max(c.y0)).max(0.0))
                .sum();
            let next = cells.iter().position(|n| {
                (n.x0 - xs[b]).abs() <= 0.5
                    && (n.y0 - c.y0).abs() <= tol
                    && (n.y1 - c.y1).abs() <= tol
            });
            match next {
                Some(j) if covered < 0.5 * (c.y1 - c.y0) && !drawn(xs[b], c.y0, c.y1) => {
                    cells[i].x1 = cells[j].x1;
                    cells.remove(j);
                    if j < i {
                        i -= 1;
                    }
                }
                _ => i += 1,
            }
        }
    }
    if cols < 2 || cells.len() < 2 {
        return None;
    }
    // Rows: cell tops, those within the tolerance one row.
    let mut tops: Vec<f32> = cells.iter().map(|c| c.y0).collect();
    tops.sort_by(f32::total_cmp);
    let mut rows: Vec<f32> = Vec::new();
    for y in tops {
        if rows.last().is_none_or(|&r| y - r > tol) {
            rows.push(y);
        }
    }
    for c in &mut cells {
        c.row = rows.iter().rposition(|&r| c.y0 >= r - tol).unwrap_or(0);
    }
    cells.sort_by(|a, b| a.row.cmp(&b.row).then(a.x0.total_cmp(&b.x0)));

    let bbox = {
        let pts = hs
            .iter()
            .flat_map(|r| [(r.lo, r.across(r.lo)), (r.hi, r.across(r.hi))])
            .chain(
                vs.iter()
                    .flat_map(|r| [(r.across(r.lo), r.lo), (r.across(r.hi), r.hi)]),
            );
        let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
        for (x, y) in pts {
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
        b.map(|v| v.round() as i32)
    };
    Some(Grid {
        t,
        frame,
        bbox,
        cells,
        rows: rows.len(),
        cols,
        tol,
    })
}

/// Segments whose `at` lie within `tol` of each other, as (length-weighted `at`, members),
/// sorted; `lo` and `hi` are added as boundaries where no cluster is near them.
fn cluster(segs: &[Seg], tol: f32, lo: f32, hi: f32) -> Vec<(f32, Vec<Seg>)> {
    let mut sorted = segs.to_vec();
    sorted.sort_by(|a, b| a.at.total_cmp(&b.at));
    let mut out: Vec<(f32, Vec<Seg>)> = Vec::new();
    for s in sorted {
        match out.last_mut() {
            Some((_, m)) if s.at - m.last().map_or(f32::MIN, |l| l.at) <= tol => m.push(s),
            _ => out.push((0.0, vec![s])),
        }
    }
    for (at, m) in &mut out {
        let w: f32 = m.iter().map(|s| (s.hi - s.lo).max(1.0)).sum();
        *at = m.iter().map(|s| s.at * (s.hi - s.lo).max(1.0)).sum::<f32>() / w;
    }
    if out.first().is_none_or(|c| c.0 - lo > tol) {
        out.insert(0, (lo, Vec::new()));
    }
    if out.last().is_none_or(|c| hi - c.0 > tol) {
        out.push((hi, Vec::new()));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading order

/// Tesseract's lines regrouped: each word to the cell its middle falls in; outside tables,
/// lines (what is left of them) keep their order, those starting above a table before it.
fn reorder(lines: Vec<Line>, grids: &[Grid]) -> Vec<Line> {
    let next_block = lines.iter().map(|l| l.block + 1).max().unwrap_or(0);
    // Per grid, per cell: (Tesseract line, word) in Tesseract's order.
    let mut in_cells: Vec<Vec<Vec<(usize, Word)>>> = grids
        .iter()
        .map(|g| vec![Vec::new(); g.cells.len()])
        .collect();
    // Outside lines by slot: slot k comes after the first k tables.
    let mut slots: Vec<Vec<Line>> = vec![Vec::new(); grids.len() + 1];
    for (li, line) in lines.into_iter().enumerate() {
        let mut rest = Vec::new();
        let n = line.words.len();
        let mut words = line.words.clone();
        for w in words.drain(..) {
            let (cx, cy) = (
                (w.bbox[0] + w.bbox[2]) as f32 / 2.0,
                (w.bbox[1] + w.bbox[3]) as f32 / 2.0,
            );
            match grids
                .iter()
                .enumerate()
                .find_map(|(g, grid)| grid.cell_of(cx, cy).map(|c| (g, c)))
            {
                Some((g, c)) => in_cells[g][c].push((li, w)),
                None => rest.push(w),
            }
        }
        if rest.is_empty() {
            continue;
        }
        let kept = if rest.len() == n {
            line
        } else {
            line_of(rest, line.block)
        };
        let mid = (kept.bbox[1] + kept.bbox[3]) / 2;
        let slot = grids.iter().filter(|g| g.bbox[1] < mid).count();
        slots[slot].push(kept);
    }
    let mut out = Vec::new();
    let mut block = next_block;
    for (g, cells) in in_cells.into_iter().enumerate() {
        out.append(&mut slots[g]);
        for words in cells {
            if words.is_empty() {
                continue;
            }
            out.extend(cell_lines(words).into_iter().map(|ws| line_of(ws, block)));
            block += 1;
        }
    }
    out.append(&mut slots[grids.len()]);
    out
}

/// A cell's words as lines, top to bottom, each left to right. Tesseract's line of each word
/// is kept (it follows a baseline better than boxes do); parts of lines at the same height that
/// do not overlap (a line Tesseract broke in two) are one line.
fn cell_lines(words: Vec<(usize, Word)>) -> Vec<Vec<Word>> {
    let mut parts: Vec<(usize, Vec<Word>)> = Vec::new();
    for (li, w) in words {
        match parts.iter_mut().find(|(l, _)| *l == li) {
            Some((_, ws)) => ws.push(w),
            None => parts.push((li, vec![w])),
        }
    }
    let span = |ws: &[Word]| {
        let y0 = ws.iter().map(|w| w.bbox[1]).min().unwrap_or(0);
        let y1 = ws.iter().map(|w| w.bbox[3]).max().unwrap_or(0);
        (y0, y1)
    };
    let mut parts: Vec<Vec<Word>> = parts.into_iter().map(|(_, ws)| ws).collect();
    parts.sort_by_key(|ws| {
        let (y0, y1) = span(ws);
        y0 + y1
    });
    let mut out: Vec<Vec<Word>> = Vec::new();
    for ws in parts {
        if let Some(last) = out.last_mut() {
            let ((a0, a1), (b0, b1)) = (span(last), span(&ws));
            let overlap = a1.min(b1) - a0.max(b0);
            let side_by_side = ws.iter().all(|w| {
                last.iter()
                    .all(|v| w.bbox[2] <= v.bbox[0] || v.bbox[2] <= w.bbox[0])
            });
            if side_by_side && 2 * overlap >= (a1 - a0).min(b1 - b0) {
                last.extend(ws);
                continue;
            }
        }
        out.push(ws);
    }
    for ws in &mut out {
        ws.sort_by_key(|w| w.bbox[0]);
    }
    out
}

fn line_of(words: Vec<Word>, block: u32) -> Line {
    let b = crate::doc::union_bbox(words.iter().map(|w| w.bbox));
    let conf = words.iter().map(|w| w.conf).sum::<f32>() / words.len().max(1) as f32;
    let mut line = Line::new(b, conf, block);
    line.words = words;
    line.refresh_text();
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 1800;
    const H: usize = 1200;

    /// A white 300 dpi page with 3 px rules: horizontal (y, x0, x1) and vertical (x, y0, y1),
    /// the whole drawing tilted by `t` (down per pixel right), as a crooked scan leaves it.
    fn page(hs: &[(i32, i32, i32)], vs: &[(i32, i32, i32)], t: f32) -> Vec<u8> {
        let mut g = vec![255u8; W * H];
        // (x, y) of the straight drawing lands at (x - t·y, y + t·x).
        let mut dot = |x: i32, y: i32| {
            let (x, y) = (
                x - (t * y as f32).round() as i32,
                y + (t * x as f32).round() as i32,
            );
            if (0..W as i32).contains(&x) && (0..H as i32).contains(&y) {
                g[y as usize * W + x as usize] = 0;
            }
        };
        for &(y, x0, x1) in hs {
            for x in x0..x1 {
                for d in 0..3 {
                    dot(x, y + d);
                }
            }
        }
        for &(x, y0, y1) in vs {
            for y in y0..y1 {
                for d in 0..3 {
                    dot(x + d, y);
                }
            }
        }
        g
    }

    /// The test table: a header row of three cells; a first column whose cell spans the next
    /// two rows while the other columns split them; a last row with one heading across the
    /// table (the inner rules stop above it).
    fn table(t: f32) -> Vec<u8> {
        page(
            &[
                (100, 100, 1700),
                (200, 100, 1700),
                (500, 600, 1700),
                (800, 100, 1700),
                (1100, 100, 1700),
            ],
            &[
                (100, 100, 1100),
                (600, 100, 800),
                (1100, 100, 800),
                (1700, 100, 1100),
            ],
            t,
        )
    }

    /// Tesseract's reading of it: lines straight across the cells, and a line above and below.
    fn tesseract_lines(t: f32) -> Vec<Line> {
        let rows: [(i32, &[(i32, &str)]); 7] = [
            (40, &[(800, "Title")]),
            (130, &[(300, "Col-A"), (800, "Col-B"), (1300, "Col-C")]),
            (220, &[(150, "a1"), (650, "b1"), (1150, "c1")]),
            (270, &[(150, "a2"), (650, "b2")]),
            (520, &[(650, "b3"), (1150, "c3")]),
            (820, &[(150, "Heading"), (700, "across")]),
            (1140, &[(800, "Footer")]),
        ];
        rows.iter()
            .enumerate()
            .map(|(i, (y, words))| {
                let ws: Vec<Word> = words
                    .iter()
                    .map(|&(x, y0)| (x, *y, y0))
                    .map(|(x, y, s)| {
                        let (x, y) = (
                            x - (t * y as f32).round() as i32,
                            y + (t * x as f32).round() as i32,
                        );
                        Word::new(s.into(), [x, y, x + 120, y + 30], 90.0)
                    })
                    .collect();
                line_of(ws, i as u32)
            })
            .collect()
    }

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    const CELL_ORDER: [&str; 13] = [
        "Title",
        "Col-A",
        "Col-B",
        "Col-C",
        "a1",
        "a2",
        "b1",
        "b2",
        "c1",
        "b3",
        "c3",
        "Heading across",
        "Footer",
    ];

    #[test]
    fn words_are_read_cell_by_cell_and_a_cell_spanning_rows_comes_with_its_first_row() {
        let mut lines = tesseract_lines(0.0);
        let tables = read_tables(&table(0.0), W, H, 300.0, &mut lines);
        assert_eq!(tables.len(), 1);
        assert_eq!((tables[0].rows, tables[0].cols), (4, 3));
        // The outer rules' box (drawn 3 px thick from 100 to 1700 and 1100), to the 2 px the
        // search at 150 dpi sees.
        let outer = [100, 100, 1703, 1103];
        assert!(
            (0..4).all(|i| (tables[0].bbox[i] - outer[i]).abs() <= 2),
            "{:?}",
            tables[0].bbox
        );
        assert_eq!(texts(&lines), CELL_ORDER);
        // One block a cell; text outside keeps Tesseract's.
        assert_eq!(lines[0].block, 0);
        assert_eq!(lines[4].block, lines[5].block);
        assert_ne!(lines[5].block, lines[6].block);
        assert_eq!(lines[12].block, 6);
    }

    #[test]
    fn a_table_a_little_crooked_is_read_the_same() {
        // 0.8°: deskew leaves tilts under 1°, and a row drifts 25 px across this table.
        let t = 0.8f32.to_radians().tan();
        let mut lines = tesseract_lines(t);
        let tables = read_tables(&table(t), W, H, 300.0, &mut lines);
        assert_eq!((tables[0].rows, tables[0].cols), (4, 3));
        assert_eq!(texts(&lines), CELL_ORDER);
    }

    #[test]
    fn a_header_row_whose_column_rules_are_too_short_to_be_rules_keeps_its_cells() {
        // The inner column rules break at the header's bottom rule; their header pieces are
        // 50 px, shorter than any rule looked for. The header cells stay apart all the same.
        let g = page(
            &[(100, 100, 1700), (160, 100, 1700), (800, 100, 1700)],
            &[
                (100, 100, 800),
                (1700, 100, 800),
                (600, 100, 150),
                (600, 170, 800),
                (1100, 100, 150),
                (1100, 170, 800),
            ],
            0.0,
        );
        let word = |x: i32, y: i32, s: &str| Word::new(s.into(), [x, y, x + 120, y + 12], 90.0);
        let mut lines = vec![
            line_of(vec![word(800, 105, "Bộ-ngành")], 0),
            line_of(vec![word(300, 122, "STT"), word(1300, 122, "Thời-hạn")], 0),
            line_of(vec![word(800, 140, "chủ-trì")], 0),
        ];
        assert_eq!(read_tables(&g, W, H, 300.0, &mut lines).len(), 1);
        assert_eq!(texts(&lines), ["STT", "Bộ-ngành", "chủ-trì", "Thời-hạn"]);
    }

    #[test]
    fn a_page_without_rules_or_with_only_a_frame_is_left_alone() {
        let framed = page(
            &[(100, 100, 1700), (1100, 100, 1700)],
            &[(100, 100, 1100), (1700, 100, 1100)],
            0.0,
        );
        for img in [vec![255u8; W * H], framed] {
            let mut lines = tesseract_lines(0.0);
            let before = lines.clone();
            assert!(read_tables(&img, W, H, 300.0, &mut lines).is_empty());
            assert_eq!(lines, before);
        }
    }

    #[test]
    fn text_is_not_taken_for_rules() {
        // Rows of dense strokes, like bold text at 300 dpi: 3 px ink, 3 px gaps, word spaces.
        let mut g = vec![255u8; W * H];
        for y in (200..1000).step_by(60) {
            for dy in 0..30 {
                for x in 100..1700 {
                    if x % 6 < 3 && x % 150 < 130 {
                        g[(y + dy) * W + x] = 0;
                    }
                }
            }
        }
        assert!(find_grids(&g, W, H, 300.0).is_empty());
    }
}

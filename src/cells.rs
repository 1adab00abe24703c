//! A second reading of doubtful table cells. Tesseract lays out a ruled table's page as a
//! whole, and small bold header cells and the number column fare worst: on the real annex
//! "Bộ ngành / chủ trì" lost its second line, "Thời hạn / hoàn thành" gave "Án" at confidence
//! 7, and a rule's end beside "Bộ ngành phối hợp" was read "— Ất". Cut out on its own (`--psm 6`
//! on the cell), each reads right. Only small cells in doubt are read again: a few words, one
//! of them below [`DOUBT`] (a missing line comes with such a word: "chủ trì" was read as
//! "MEơm"); the new reading replaces the old when it holds more text read with confidence, or
//! the same text without the doubtful words.

use crate::doc::{Line, Word};
use crate::layout::Table;
use crate::ocr::Engine;
use crate::raster::PageImage;
use crate::reread::has_text;
use std::time::Instant;

/// A word read below this confidence puts its cell in doubt.
const DOUBT: f32 = 60.0;
/// Words read at least this sure count as text read with confidence.
const SURE: f32 = 60.0;
/// Cells holding more words than this are not read again.
const MAX_WORDS: usize = 6;

/// Read the doubtful cells of `tables` again; returns how many cells got a new reading.
pub fn reread_cells(
    engine: &mut Engine,
    page: &PageImage,
    lines: &mut Vec<Line>,
    tables: &[Table],
    deadline: Option<Instant>,
) -> crate::error::Result<usize> {
    let mut changed = 0;
    // A text line's height on this page: the ink a word may leave uncovered scales with it.
    let line_h = (page.dpi / 6.0).max(8.0) as i32;
    for cell in tables.iter().flat_map(|t| t.cells.iter()) {
        // Inside the rules: a rule's pixels are no text.
        let m = (line_h / 8).max(2);
        let inner = [cell[0] + m, cell[1] + m, cell[2] - m, cell[3] - m];
        if inner[2] - inner[0] < line_h / 2 || inner[3] - inner[1] < line_h / 2 {
            continue;
        }
        let old: Vec<&Word> = words_in(lines, &inner).collect();
        // A cell of running text has its doubtful words among many good ones: the restorer
        // is for those, and reading the cell again costs time and its bullets ("-").
        if old.len() > MAX_WORDS {
            continue;
        }
        if !old.iter().any(|w| w.conf < DOUBT && has_text(w)) {
            continue;
        }
        let new: Vec<Line> = engine
            .recognize_crop(page, inner, 6, deadline)?
            .into_iter()
            .filter_map(|mut l| {
                l.words.retain(has_text);
                (!l.words.is_empty()).then_some(l)
            })
            .collect();
        let new_words: Vec<&Word> = new.iter().flat_map(|l| &l.words).collect();
        let (old_text, old_conf) = (sure_text(&old), mean_conf(&old));
        let (new_text, new_conf) = (sure_text(&new_words), mean_conf(&new_words));
        // Doubtful words ("— Ất" beside a header) that a surer reading of the same text has not.
        let unsure = |ws: &[&Word]| ws.iter().filter(|w| w.conf < DOUBT).count();
        let better = new_conf >= 70.0
            && (new_text > old_text
                || (new_text == old_text
                    && new_text > 0
                    && new_conf >= old_conf
                    && unsure(&new_words) < unsure(&old)));
        log::debug!(
            "cell {cell:?}: {:?} ({old_text} chars, {old_conf:.0}) read again as {:?} ({new_text}, {new_conf:.0}){}",
            old.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(),
            new_words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(),
            if better { ", taken" } else { "" }
        );
        if !better {
            continue;
        }
        replace(lines, &inner, new);
        changed += 1;
    }
    for t in tables {
        changed += reread_numbers(engine, page, lines, t, line_h, deadline)?;
    }
    Ok(changed)
}

/// What a row number of an "STT" column may be: "12", "3.", "IV.".
fn is_row_number(t: &str) -> bool {
    let core = t.strip_suffix('.').unwrap_or(t);
    !core.is_empty()
        && (core.len() <= 3 && core.chars().all(|c| c.is_ascii_digit())
            || core.len() <= 5 && core.chars().all(|c| "IVX".contains(c)))
}

/// The row numbers of a table's number ("STT") column: alone in a tall cell, a "3." is often not read at
/// all or read as letters ("là"); cut out where its ink is and read as a row number, it comes
/// back. Returns how many were changed.
fn reread_numbers(
    engine: &mut Engine,
    page: &PageImage,
    lines: &mut Vec<Line>,
    table: &Table,
    line_h: i32,
    deadline: Option<Instant>,
) -> crate::error::Result<usize> {
    // The first column, when it is narrow (a row number is a few characters) and none of its
    // cells holds more than a word or two: the header "STT" is on the table's first page only.
    let tol = line_h / 2;
    let left = table.bbox[0];
    let column: Vec<[i32; 4]> = table
        .cells
        .iter()
        .filter(|c| (c[0] - left).abs() < tol && c[2] - c[0] <= 4 * line_h)
        .filter(|c| {
            let text: String = words_in(lines, c).map(|w| w.text.as_str()).collect();
            !matches!(text.trim_end_matches('.'), "STT" | "TT")
        })
        .copied()
        .collect();
    let wordy = column.iter().any(|c| words_in(lines, c).count() > 2);
    if column.len() < 2 || wordy {
        return Ok(0);
    }
    let mut changed = 0;
    // "1." read as "1": the column's other numbers say whether they end with a dot.
    let mut dotted = column
        .iter()
        .flat_map(|c| words_in(lines, c))
        .any(|w| is_row_number(&w.text) && w.text.ends_with('.'));
    for c in column {
        let old: Vec<&Word> = words_in(lines, &c).collect();
        if old.iter().any(|w| w.conf >= 80.0 && is_row_number(&w.text)) {
            continue;
        }
        let Some(ink) = first_ink_line(page, &c, line_h) else {
            continue;
        };
        let p = line_h / 5;
        let rect = [ink[0] - p, ink[1] - p, ink[2] + p, ink[3] + p];
        let Some((text, conf)) = engine.read_only(page, rect, "0123456789IVX.", deadline)? else {
            continue;
        };
        let text = if dotted && !text.ends_with('.') {
            text + "."
        } else {
            text
        };
        dotted |= text.ends_with('.');
        if !is_row_number(&text) || old.iter().any(|w| w.text == text) {
            continue;
        }
        log::debug!(
            "number cell {c:?}: {:?} read again as {text:?} ({conf:.0})",
            old.iter().map(|w| w.text.as_str()).collect::<Vec<_>>()
        );
        let mut line = Line::new(ink, conf, 0);
        line.words.push(Word::new(text, ink, conf));
        replace(lines, &c, vec![line]);
        changed += 1;
    }
    Ok(changed)
}

/// The box of the first line of ink in a cell, leaving out a band along its edges (what the
/// rules leave inside it): rows from the first with ink down to the first gap of half a line.
fn first_ink_line(page: &PageImage, c: &[i32; 4], line_h: i32) -> Option<[i32; 4]> {
    let band = line_h / 4;
    let (w, h) = (page.width as i32, page.height as i32);
    let [x0, y0, x1, y1] = [
        (c[0] + band).max(0),
        (c[1] + band).max(0),
        (c[2] - band).min(w),
        (c[3] - band).min(h),
    ];
    let ink = |x: i32, y: i32| page.gray[(y * w + x) as usize] < 128;
    let mut bb: Option<[i32; 4]> = None;
    let mut gap = 0;
    for y in y0..y1 {
        let xs: Vec<i32> = (x0..x1).filter(|&x| ink(x, y)).collect();
        match (&mut bb, xs.first(), xs.last()) {
            (None, Some(&a), Some(&b)) => bb = Some([a, y, b + 1, y + 1]),
            (Some(bb), Some(&a), Some(&b)) => {
                *bb = [bb[0].min(a), bb[1], bb[2].max(b + 1), y + 1];
                gap = 0;
            }
            (Some(_), None, _) => {
                gap += 1;
                if gap > line_h / 2 {
                    break;
                }
            }
            _ => {}
        }
    }
    bb.filter(|b| b[3] - b[1] >= line_h / 4 && b[3] - b[1] <= line_h * 2)
}

fn centre_in(w: &Word, b: &[i32; 4]) -> bool {
    let (cx, cy) = ((w.bbox[0] + w.bbox[2]) / 2, (w.bbox[1] + w.bbox[3]) / 2);
    cx >= b[0] && cx < b[2] && cy >= b[1] && cy < b[3]
}

fn words_in<'a>(lines: &'a [Line], b: &'a [i32; 4]) -> impl Iterator<Item = &'a Word> + 'a {
    lines
        .iter()
        .flat_map(|l| &l.words)
        .filter(move |w| centre_in(w, b))
}

/// Letters and digits of the words read with confidence.
fn sure_text(words: &[&Word]) -> usize {
    let sure = words.iter().filter(|w| w.conf >= SURE);
    sure.map(|w| w.text.chars().filter(|c| c.is_alphanumeric()).count())
        .sum()
}

fn mean_conf(words: &[&Word]) -> f32 {
    words.iter().map(|w| w.conf).sum::<f32>() / words.len().max(1) as f32
}

/// Take the words of the cell `b` out of `lines` and put `new` where its first line was.
fn replace(lines: &mut Vec<Line>, b: &[i32; 4], mut new: Vec<Line>) {
    let inside = lines
        .iter()
        .position(|l| l.words.iter().any(|w| centre_in(w, b)));
    let block = inside.map_or_else(
        || lines.iter().map(|l| l.block + 1).max().unwrap_or(0),
        |i| lines[i].block,
    );
    // An empty cell's text goes before the rest of its row (the cells to its right).
    let first = inside.or_else(|| {
        lines.iter().position(|l| {
            let cy = (l.bbox[1] + l.bbox[3]) / 2;
            cy >= b[1] && cy < b[3] && l.bbox[0] >= b[2] - 2
        })
    });
    for l in lines.iter_mut() {
        let n = l.words.len();
        l.words.retain(|w| !centre_in(w, b));
        if l.words.len() != n && !l.words.is_empty() {
            l.bbox = crate::doc::union_bbox(l.words.iter().map(|w| w.bbox));
            l.refresh_text();
        }
    }
    for l in &mut new {
        l.block = block;
        l.refresh_text();
    }
    // Where the cell's first line was, counted among the lines that are left.
    let at = match first {
        Some(i) => lines[..i].iter().filter(|l| !l.words.is_empty()).count(),
        None => lines.len(),
    };
    lines.retain(|l| !l.words.is_empty());
    let at = at.min(lines.len());
    lines.splice(at..at, new);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(words: &[(&str, [i32; 4])], block: u32) -> Line {
        let mut l = Line::new([0, 0, 0, 0], 90.0, block);
        l.words = words
            .iter()
            .map(|(t, b)| Word::new(t.to_string(), *b, 90.0))
            .collect();
        l.bbox = crate::doc::union_bbox(l.words.iter().map(|w| w.bbox));
        l.refresh_text();
        l
    }

    #[test]
    fn a_cells_new_reading_takes_the_place_of_its_old_words_only() {
        let mut lines = vec![
            line(&[("STT", [10, 10, 40, 30])], 1),
            line(
                &[("Bộ", [110, 10, 130, 30]), ("ngành", [135, 10, 180, 30])],
                2,
            ),
            line(&[("Án", [210, 10, 240, 30])], 3),
        ];
        let new = vec![
            line(
                &[("Bộ", [110, 10, 130, 30]), ("ngành", [135, 10, 180, 30])],
                0,
            ),
            line(
                &[("chủ", [110, 35, 135, 55]), ("trì", [140, 35, 160, 55])],
                0,
            ),
        ];
        replace(&mut lines, &[100, 0, 200, 60], new);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["STT", "Bộ ngành", "chủ trì", "Án"]);
        assert_eq!(lines[2].block, 2);
    }

    #[test]
    fn row_numbers_are_short_arabic_or_roman_numerals() {
        for t in ["1.", "12", "IV.", "XII"] {
            assert!(is_row_number(t), "{t}");
        }
        for t in ["", ".", "1.2", "là", "2027", "XVIIII"] {
            assert!(!is_row_number(t), "{t}");
        }
    }

    #[test]
    fn text_read_with_confidence_is_counted_in_letters_and_digits() {
        let sure = Word::new("ngành".into(), [0, 0, 1, 1], 90.0);
        let unsure = Word::new("Án".into(), [0, 0, 1, 1], 7.0);
        assert_eq!(sure_text(&[&sure, &unsure]), 5);
        assert!(has_text(&unsure) && !has_text(&Word::new("—".into(), [0, 0, 1, 1], 50.0)));
    }
}

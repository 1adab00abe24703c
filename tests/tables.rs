//! Ruled tables (issue 15): a government action plan's annex is a landscape table (STT, Nội dung
//! hành động, Hành động cụ thể, Bộ ngành chủ trì, Bộ ngành phối hợp, Thời hạn hoàn thành), and
//! its text must come out cell by cell, row by row, not in Tesseract's lines straight across
//! five cells. One page of the real-dev annex (dev/real/decision-annex-18p.pdf, page 3: the end
//! of a row carried over, then two rows whose cells span several sub-rows).

use sohoa::raster::{self, RasterOptions};
use sohoa::{Options, Page, Pipeline};
use std::path::Path;

/// Page 3 of the annex, OCR'd as `sohoa scan` does it (restoration off: the order is the point).
fn annex_page_3() -> Page {
    let pdf = Path::new(env!("CARGO_MANIFEST_DIR")).join("dev/real/decision-annex-18p.pdf");
    let mut image = None;
    raster::render_pdf_pages(
        &pdf,
        &RasterOptions::default(),
        &mut |_| Ok(2..3),
        &mut |p, _| {
            image = Some(p);
            false
        },
    )
    .expect("render the annex");
    let pipeline = Pipeline::new(Options {
        restore: false,
        structure: false,
        jobs: 1,
        ..Default::default()
    })
    .expect("pipeline");
    pipeline
        .process_page(image.expect("page 3"), 0.0)
        .expect("OCR page 3")
}

/// Where `run` occurs as consecutive lines of `lines`, up to the punctuation ending a line
/// (Tesseract reads some ";" as ":").
fn run_at(lines: &[&str], run: &[&str]) -> Option<usize> {
    let bare = |l: &str| l.trim_end_matches([';', ':', '.', ',']).to_string();
    let run: Vec<String> = run.iter().map(|l| bare(l)).collect();
    lines
        .windows(run.len())
        .position(|w| w.iter().map(|l| bare(l)).eq(run.iter().cloned()))
}

/// The first line starting with `prefix`.
fn line_at(lines: &[&str], prefix: &str) -> usize {
    lines
        .iter()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?}:\n{}", lines.join("\n")))
}

#[test]
fn an_annex_table_is_read_cell_by_cell_and_row_by_row() {
    let page = annex_page_3();
    let lines: Vec<&str> = page.lines.iter().map(|l| l.text.as_str()).collect();
    let all = lines.join("\n");

    assert_eq!(page.tables.len(), 1, "{:?}", page.tables);
    assert_eq!(page.tables[0].cols, 6);

    // A cell's lines together, top to bottom: the first row's "Bộ ngành phối hợp" cell, and
    // the second row's list of ministries.
    for cell in [
        &[
            "Bộ Công an;",
            "Bộ Tư pháp;",
            "Đề nghị Tòa án",
            "nhân dân tối cao",
        ][..],
        &[
            "Bộ Tư pháp;",
            "Bộ Quốc phòng;",
            "Bộ Tài chính;",
            "Bộ Xây dựng;",
        ][..],
    ] {
        assert!(run_at(&lines, cell).is_some(), "{cell:?} apart in:\n{all}");
    }

    // The page number above the table first; then the cells of a row left to right (a cell
    // holding two paragraphs read whole before the next column), rows top to bottom.
    let order = [
        "2",
        "thực hiện các yêu",
        "- Nghiên cứu, r",
        "- Rà soát, ban hành",
        "Đề nghị Viện",
        "Bộ Công an;",
        "12/2027",
        "Thực hiện các hành động",
        "- Nghiên cứu, đ",
        "Ngân hàng Nhà",
        "Bộ Quốc phòng",
    ];
    let at: Vec<usize> = order.iter().map(|p| line_at(&lines, p)).collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "{order:?} at {at:?} in:\n{all}"
    );

    // One block a cell: each block's lines come as one run.
    let mut seen = Vec::new();
    for l in &page.lines {
        if seen.last() != Some(&l.block) {
            assert!(
                !seen.contains(&l.block),
                "block {} split in:\n{all}",
                l.block
            );
            seen.push(l.block);
        }
    }
}

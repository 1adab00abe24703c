//! Real scans (issue 15): what the image stages must do with pages as they come off government
//! scanners. Each test starts from the real-dev circular (dev/real/circular-p2.pdf, a 200 dpi
//! CCITT G4 page: a closing clause, the "Nơi nhận" list and a signature under a seal) and makes
//! the page the way real files arrive: a PNG that claims 72 dpi, a page put on the glass
//! crooked, a colour scan with a red seal over the text.

use sohoa::dpi::DpiSource;
use sohoa::raster::{self, PageImage, RasterOptions};
use sohoa::{Document, Options, Pipeline};
use std::path::{Path, PathBuf};

fn circular() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dev/real/circular-p2.pdf")
}

/// The circular's page rendered at `dpi`, grey.
fn render(dpi: f32) -> PageImage {
    let opts = RasterOptions {
        dpi,
        ..Default::default()
    };
    let mut page = None;
    raster::render_pdf_pages(&circular(), &opts, &mut |n| Ok(0..n), &mut |p, _| {
        page = Some(p);
        false
    })
    .expect("render the circular");
    page.expect("one page")
}

/// Lines of the circular every reading must get right (the "Nơi nhận" list, in print).
const LINES: [&str; 5] = [
    "Văn phòng Quốc hội",
    "Kiểm toán Nhà nước",
    "Các Lãnh đạo Bộ Công Thương",
    "Cổng Thông tin điện tử Chính phủ",
    "Lưu: VT, TTTN.",
];

fn missing_lines(doc: &Document) -> Vec<&'static str> {
    let text = doc.text();
    LINES.into_iter().filter(|l| !text.contains(l)).collect()
}

fn scan(path: &Path) -> Document {
    let p = Pipeline::new(Options {
        restore: false,
        structure: false,
        jobs: 1,
        ..Default::default()
    })
    .expect("pipeline");
    p.process_file(path).expect("scan")
}

/// A PNG of `rgb` (3 bytes a pixel) or grey pixels, recording `dpi` in its pHYs chunk.
fn png(path: &Path, w: u32, h: u32, pixels: &[u8], rgb: bool, dpi: f32) {
    use image::ImageEncoder;
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            pixels,
            w,
            h,
            if rgb {
                image::ExtendedColorType::Rgb8
            } else {
                image::ExtendedColorType::L8
            },
        )
        .unwrap();
    // pHYs goes after IHDR (8-byte signature + 25-byte IHDR chunk): pixels per metre, unit 1.
    let ppm = (dpi / 0.0254).round() as u32;
    let mut chunk = b"pHYs".to_vec();
    chunk.extend(ppm.to_be_bytes());
    chunk.extend(ppm.to_be_bytes());
    chunk.push(1);
    let mut phys = 9u32.to_be_bytes().to_vec();
    phys.extend(&chunk);
    phys.extend(crc32(&chunk).to_be_bytes());
    bytes.splice(33..33, phys);
    std::fs::write(path, bytes).unwrap();
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn a_200_dpi_scan_saved_as_72_dpi_is_read_at_200_dpi() {
    let page = render(200.0);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("circular-72dpi.png");
    png(&f, page.width, page.height, &page.gray, false, 72.0);

    let doc = scan(&f);
    let p = &doc.pages[0];
    assert_eq!(p.dpi, 200.0);
    assert_eq!(p.prep.dpi_source, Some(DpiSource::EstimatedPageSize));
    assert_eq!(missing_lines(&doc), Vec::<&str>::new());
    let json = serde_json::to_value(&doc).unwrap();
    assert_eq!(json["pages"][0]["dpi_source"], "estimated-page-size");
}

#[test]
fn a_page_put_on_the_glass_two_degrees_crooked_is_levelled_and_read() {
    let page = render(200.0);
    // The scan itself is a little crooked already; the page is turned 2° further (lines rising
    // to the right: the skew that undoing -2° leaves).
    let own = sohoa::deskew::estimate(&page);
    assert!(own.abs() <= 0.3, "the scan's own skew {own}");
    let tilted = sohoa::deskew::rotate(&page, -2.0, 255);
    let measured = sohoa::deskew::estimate(&tilted);
    assert!(
        (measured - (own + 2.0)).abs() <= 0.15,
        "measured {measured}"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("circular-tilted.png");
    png(&f, tilted.width, tilted.height, &tilted.gray, false, 200.0);

    let doc = scan(&f);
    let p = &doc.pages[0];
    assert!((p.skew - (own + 2.0)).abs() <= 0.15, "skew {}", p.skew);
    assert_eq!(p.rotation, 0);
    assert_eq!(missing_lines(&doc), Vec::<&str>::new());
}

#[test]
fn a_red_seal_over_the_recipients_list_is_taken_off_before_ocr() {
    let page = render(200.0);
    let (w, h) = (page.width as usize, page.height as usize);
    // The grey page in colour, then a seal: a red ring 3 cm across with a red bar through it,
    // drawn over the lower half of the list, under the black text (black wins where they cross).
    let (cx, cy, r) = (420.0f32, 1000.0f32, 240.0f32);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let g = page.gray[y * w + x];
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            let ring = (d - r).abs() < 14.0;
            let bar = (y as f32 - cy).abs() < 10.0 && (x as f32 - cx).abs() < r;
            if g > 128 && (ring || bar) {
                rgb.extend([215, 45, 55]);
            } else {
                rgb.extend([g, g, g]);
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("circular-seal.png");
    png(&f, w as u32, h as u32, &rgb, true, 200.0);

    let doc = scan(&f);
    let p = &doc.pages[0];
    let clean = p.prep.clean.as_ref().expect("clean-up ran");
    assert!(
        clean.ink_removed > 0.005,
        "ink removed {}",
        clean.ink_removed
    );
    let seal = p
        .prep
        .regions
        .iter()
        .find(|r| r.kind == "seal")
        .expect("a seal region");
    let [x0, y0, x1, y1] = seal.bbox;
    let near = |a: i32, b: f32| (a as f32 - b).abs() < 40.0;
    assert!(
        near(x0, cx - r) && near(y0, cy - r) && near(x1, cx + r) && near(y1, cy + r),
        "seal at {:?}",
        seal.bbox
    );
    assert_eq!(missing_lines(&doc), Vec::<&str>::new());
}

#[test]
fn a_page_scanned_sideways_is_read_and_its_turn_recorded() {
    let page = render(200.0);
    // Turned a quarter clockwise, as a portrait page fed into a landscape scan.
    let sideways = sohoa::clean::rotate(&page, 90);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("circular-sideways.png");
    png(
        &f,
        sideways.width,
        sideways.height,
        &sideways.gray,
        false,
        200.0,
    );

    let doc = scan(&f);
    let p = &doc.pages[0];
    // Tesseract's layout analysis finds vertical lines and reads them itself (then nothing is
    // turned: rotation 0, boxes on the page as scanned); when it does not, orientation
    // detection turns the page back a quarter (rotation 270, boxes on the upright page).
    match p.rotation {
        0 => assert_eq!((p.width, p.height), (sideways.width, sideways.height)),
        270 => assert_eq!((p.width, p.height), (page.width, page.height)),
        r => panic!("rotation {r}"),
    }
    assert_eq!(missing_lines(&doc), Vec::<&str>::new());
}

#[test]
fn the_page_number_and_the_signers_block_beside_a_seal_are_read_again() {
    // Page 2 of the real decision (dev/real/decision-annex-18p.pdf, page 1 cut out with qpdf):
    // Tesseract's layout drops the lone page number "2" and merges the block "KT. THỦ TƯỚNG /
    // PHÓ THỦ TƯỚNG / Nguyễn Văn Thắng" with the round seal over it into a picture.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/decision-closing-page.pdf");
    let doc = scan(&path);
    let lines: Vec<&str> = doc.pages[0].lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(lines.first(), Some(&"2"), "{lines:?}");
    // The ring crosses "KT.", "PHÓ" and "Nguyễn"; the block's lines read again one by one give
    // the title and the family name, and a deputy's title under the head's gives its "KT.".
    for line in ["KT. THỦ TƯỚNG", "PHÓ THỦ TƯỚNG", "Nguyễn Văn Thắng"] {
        assert!(lines.contains(&line), "{line}: {lines:?}");
    }
    let signer = sohoa::structure::extract(&doc).signer.expect("a signer");
    let value = |f: Option<sohoa::fields::Field<String>>| f.map(|f| f.value);
    assert_eq!(value(signer.authority).as_deref(), Some("KT. THỦ TƯỚNG"));
    assert_eq!(value(signer.title).as_deref(), Some("PHÓ THỦ TƯỚNG"));
    assert_eq!(value(signer.name).as_deref(), Some("Nguyễn Văn Thắng"));
    // Nothing the seal's ring or the signature reads as is kept.
    let after_list = lines
        .iter()
        .skip_while(|l| !l.starts_with("- VPCP"))
        .count();
    assert!(after_list <= 8, "{lines:?}");
}

#[test]
fn the_annex_title_pages_handwritten_number_and_day_and_its_header_cells_are_read() {
    // The annex title page of the real decision: "(Kèm theo Kế hoạch tại Quyết định số 707
    // /QĐ-TTg ngày 22 tháng 4 năm 2026 …)" with 707 and 22 written by hand into the blanks. Read
    // among print they came out as "TÚT" and "23".
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/annex-title-page.pdf");
    let text = scan(&path).text();
    assert!(
        text.contains("số 707/QĐ-TTg ngày 22 tháng 4 năm 2026"),
        "{text}"
    );
}

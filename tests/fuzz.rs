//! Fuzz harnesses, on stable Rust (proptest): every input a file, a text layer or a scale-out
//! job can hand sohoa either works or fails with a typed error; none panics, hangs or makes
//! malformed output.
//!
//! Each target is a `check_*` function and a strategy. Three ways to run them:
//! - the normal test suite: a short budget per target (`SOHOA_FUZZ_CASES` overrides it);
//! - `replay_corpus_and_crashes`: every seed in `tests/fuzz/corpus/` and every input that ever
//!   failed, kept in `tests/fuzz/crashes/<target>/`, through its target;
//! - the long run, `scripts/fuzz SECONDS` (docs/fuzzing.md), which drives `fuzz_long` below with
//!   random seeds and writes what fails to `fuzz-out/` (git-ignored) for committing.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRng, TestRunner};
use sohoa::doc::{Document, EngineInfo, Line, Page, Timings, Word};
use sohoa::emit::{self, Format};
use sohoa::error::Error;
use sohoa::input::{self, Kind, SourceInfo};
use sohoa::raster::{self, RasterOptions};
use sohoa::restore::Restorer;
use sohoa::textlayer::Mode;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// Cases per target in the normal suite: `SOHOA_FUZZ_CASES`, else the target's default (sized so
/// all targets together take well under the CI's two minutes of fuzzing).
fn cases(default: u32) -> u32 {
    std::env::var("SOHOA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default_cases: u32) -> Config {
    Config {
        cases: cases(default_cases),
        // Failures are kept as input files in tests/fuzz/crashes, not as proptest seed files.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Binary inputs: seeds from the corpus, mutated as a byte fuzzer would.

fn seeds(kind: &str) -> &'static [(String, Vec<u8>)] {
    static IMAGE: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    static PDF: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    let cell = if kind == "pdf" { &PDF } else { &IMAGE };
    cell.get_or_init(|| read_dir_files(&fuzz_dir().join("corpus").join(kind)))
}

fn read_dir_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter(|e| e.file_name().to_str().is_some_and(|n| !n.ends_with(".md")))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("corpus file reads"),
            )
        })
        .collect();
    out.sort();
    out
}

/// One mutation. Positions are `Index`es, so they fit whatever length the bytes have by then.
#[derive(Debug, Clone)]
enum Op {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    /// A 1, 2 or 4-byte integer that parsers trip on (0, -1, 2^31, 65535 …), either endianness.
    Interesting(Index, u8, u32, bool),
    Insert(Index, Vec<u8>),
    Delete(Index, u16),
    Truncate(Index),
    /// Copy a run of the input elsewhere in it (repeats a chunk, a table, an xref entry).
    Duplicate(Index, u16, Index),
    /// Splice in a run of another seed of the same kind.
    Splice(Index, Index, u16, Index),
}

fn op() -> impl Strategy<Value = Op> {
    let interesting = prop::sample::select(vec![
        0u32,
        1,
        0x7f,
        0x80,
        0xff,
        0x100,
        0x7fff,
        0x8000,
        0xffff,
        0x10000,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        0xffff_ffff,
    ]);
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Op::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, v)| Op::SetByte(i, v)),
        (
            any::<Index>(),
            prop::sample::select(vec![1u8, 2, 4]),
            interesting,
            any::<bool>()
        )
            .prop_map(|(i, w, v, be)| Op::Interesting(i, w, v, be)),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Op::Insert(i, b)),
        (any::<Index>(), 1u16..512).prop_map(|(i, n)| Op::Delete(i, n)),
        any::<Index>().prop_map(Op::Truncate),
        (any::<Index>(), 1u16..256, any::<Index>()).prop_map(|(a, n, b)| Op::Duplicate(a, n, b)),
        (any::<Index>(), any::<Index>(), 1u16..1024, any::<Index>())
            .prop_map(|(s, f, n, t)| Op::Splice(s, f, n, t)),
    ]
}

/// A seed (by index) and the mutations applied to it, in order.
#[derive(Debug, Clone)]
struct Mutant {
    seed: usize,
    ops: Vec<Op>,
}

fn mutant(kind: &'static str) -> impl Strategy<Value = Mutant> {
    let n = seeds(kind).len();
    assert!(n > 0, "no {kind} seeds in tests/fuzz/corpus/{kind}");
    (0..n, prop::collection::vec(op(), 0..6)).prop_map(|(seed, ops)| Mutant { seed, ops })
}

impl Mutant {
    fn bytes(&self, kind: &str) -> Vec<u8> {
        let all = seeds(kind);
        let mut b = all[self.seed].1.clone();
        for op in &self.ops {
            let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
            match op {
                Op::FlipBit(i, bit) if !b.is_empty() => {
                    let p = i.index(b.len());
                    b[p] ^= 1 << bit;
                }
                Op::SetByte(i, v) if !b.is_empty() => {
                    let p = i.index(b.len());
                    b[p] = *v;
                }
                Op::Interesting(i, width, v, be) => {
                    let bytes = if *be {
                        v.to_be_bytes()
                    } else {
                        v.to_le_bytes()
                    };
                    let w = *width as usize;
                    let src = if *be { &bytes[4 - w..] } else { &bytes[..w] };
                    let p = at(i, b.len()).min(b.len().saturating_sub(w));
                    for (k, x) in src.iter().enumerate() {
                        if let Some(slot) = b.get_mut(p + k) {
                            *slot = *x;
                        }
                    }
                }
                Op::Insert(i, ins) => {
                    let p = at(i, b.len());
                    b.splice(p..p, ins.iter().copied());
                }
                Op::Delete(i, n) if !b.is_empty() => {
                    let p = i.index(b.len());
                    let end = (p + *n as usize).min(b.len());
                    b.drain(p..end);
                }
                Op::Truncate(i) => {
                    let p = at(i, b.len());
                    b.truncate(p);
                }
                Op::Duplicate(from, n, to) if !b.is_empty() => {
                    let p = from.index(b.len());
                    let run: Vec<u8> = b[p..(p + *n as usize).min(b.len())].to_vec();
                    let q = at(to, b.len());
                    b.splice(q..q, run);
                }
                Op::Splice(s, from, n, to) => {
                    let other = &all[s.index(all.len())].1;
                    if !other.is_empty() {
                        let p = from.index(other.len());
                        let run = &other[p..(p + *n as usize).min(other.len())];
                        let q = at(to, b.len());
                        b.splice(q..q, run.iter().copied());
                    }
                }
                _ => {}
            }
        }
        b
    }
}

// ---------------------------------------------------------------------------------------------
// Targets.

/// Triage decides from the first bytes alone, never panics, and agrees with the magic numbers.
fn check_triage(bytes: &[u8]) -> Result<(), TestCaseError> {
    match input::sniff(bytes) {
        Ok(Kind::Png) => prop_assert!(bytes.starts_with(b"\x89PNG")),
        Ok(Kind::Jpeg) => prop_assert!(bytes.starts_with(&[0xff, 0xd8])),
        Ok(Kind::Tiff) => prop_assert!(bytes.starts_with(b"II") || bytes.starts_with(b"MM")),
        Ok(Kind::Pdf) => prop_assert!(bytes[..bytes.len().min(1024)]
            .windows(5)
            .any(|w| w == b"%PDF-")),
        Err(Error::Empty) => prop_assert!(bytes.is_empty()),
        Err(Error::UnknownFormat) => {}
        Err(e) => prop_assert!(false, "unexpected triage error {e:?}"),
    }
    Ok(())
}

/// Small limits keep one case's memory low; `max_image_mpixels` is exercised as such below.
fn fuzz_raster_options() -> RasterOptions {
    RasterOptions {
        dpi: 50.0,
        max_pixels: 2_000_000,
        max_image_pixels: 2_000_000,
        ..RasterOptions::default()
    }
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .prefix("sohoa-fuzz-")
        .tempfile()
        .expect("temp file");
    f.write_all(bytes).expect("temp write");
    f.flush().expect("temp flush");
    f
}

/// The errors a damaged input may end in: each is a reason a person can act on.
fn is_input_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Empty
            | Error::UnknownFormat
            | Error::Encrypted
            | Error::BadPdf(_)
            | Error::BadImage(_)
            | Error::TooLarge(_)
    )
}

/// Any file: triage, then every page decoded (PNG, JPEG, TIFF incl. fax and multi-page) or, for
/// PDFs, opened, its text layer read and the pages to OCR rendered by PDFium. Each page is a
/// consistent grey image within the pixel limit, or the file fails with an input error.
fn check_file(bytes: &[u8]) -> Result<(), TestCaseError> {
    let f = write_temp(bytes);
    let kind = match input::inspect(f.path()) {
        Ok((kind, _, _)) => kind,
        Err(e) => {
            prop_assert!(is_input_error(&e), "triage: {e:?}");
            return Ok(());
        }
    };
    let opts = fuzz_raster_options();
    let mut pages = 0usize;
    let mut page_err: Option<String> = None;
    let r = raster::for_each_input(
        f.path(),
        kind,
        &opts,
        Mode::Auto,
        &mut |_| {},
        &mut |p, ms| {
            pages += 1;
            if !ms.is_finite() {
                page_err = Some(format!("page {}: render time {ms}", p.index));
            }
            if let Some(img) = &p.image {
                let px = img.width as u64 * img.height as u64;
                if img.gray.len() as u64 != px
                    || px > opts.max_pixels
                    || !(img.dpi.is_finite() && img.dpi > 0.0)
                    || img.inks.as_ref().is_some_and(|i| i.len() as u64 != px)
                {
                    page_err = Some(format!("bad page image {img:?}, {} bytes", img.gray.len()));
                }
            } else if p.text.is_none() {
                page_err = Some(format!("page {} has neither image nor text", p.index));
            }
            // Stop long files early: the first pages exercise the parser as well.
            pages < 8
        },
    );
    if let Some(e) = page_err {
        prop_assert!(false, "{e}");
    }
    if let Err(e) = r {
        prop_assert!(is_input_error(&e), "{kind:?}: {e:?}");
    }
    Ok(())
}

/// Scale-out page ranges: every page of the file in exactly one job, in order, none empty.
fn check_split(pages: usize, per_job: usize) -> Result<(), TestCaseError> {
    let ranges = sohoa::scale::split(pages, per_job);
    prop_assert!(!ranges.is_empty());
    if ranges == [None] {
        prop_assert!(pages <= per_job.max(1));
        return Ok(());
    }
    let mut next = 1;
    for r in &ranges {
        let [a, b] = r.expect("a split file has only ranges");
        prop_assert_eq!(a, next);
        prop_assert!(a <= b && b + 1 - a <= per_job.max(1));
        next = b + 1;
    }
    prop_assert_eq!(next, pages + 1);
    Ok(())
}

fn restorer() -> &'static Restorer {
    static R: OnceLock<Restorer> = OnceLock::new();
    R.get_or_init(|| Restorer::embedded().expect("the built-in model loads"))
}

/// `restore` on any text: one line out per line in, no panic.
fn check_restore(lines: &[String]) -> Result<(), TestCaseError> {
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let out = restorer().restore_plain(&refs);
    let out = out.map_err(|e| TestCaseError::fail(format!("restore failed: {e}")))?;
    prop_assert_eq!(out.len(), lines.len());
    for l in &lines[..lines.len().min(2)] {
        let one = restorer()
            .restore_text(l)
            .map_err(|e| TestCaseError::fail(format!("restore_text: {e}")))?;
        prop_assert_eq!(one.lines().count(), l.lines().count());
    }
    Ok(())
}

/// A document of OCR lines with the given text (one page per element).
fn doc_of_text(pages: &[Vec<String>]) -> Document {
    let pages = pages
        .iter()
        .enumerate()
        .map(|(i, lines)| {
            let lines = lines
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    let y = 40 * k as i32;
                    let mut l = Line::new([10, y, 2000, y + 30], 90.0, k as u32 / 5);
                    for (j, w) in t.split(' ').filter(|w| !w.is_empty()).enumerate() {
                        let x = 10 + 60 * j as i32;
                        l.words
                            .push(Word::new(w.to_string(), [x, y, x + 50, y + 30], 85.0));
                    }
                    l.refresh_text();
                    l
                })
                .collect();
            page(i + 1, 2480, 3508, 300.0, lines)
        })
        .collect();
    document("fuzz.pdf".into(), pages)
}

fn page(index: usize, width: u32, height: u32, dpi: f32, lines: Vec<Line>) -> Page {
    Page::new(index, width, height, dpi, lines)
}

fn document(path: String, pages: Vec<Page>) -> Document {
    Document {
        schema: sohoa::doc::SCHEMA.into(),
        source: SourceInfo {
            path,
            sha256: "0".repeat(64),
            bytes: 1,
            format: "pdf".into(),
            pages: pages.len(),
        },
        engine: EngineInfo {
            sohoa: "fuzz".into(),
            tesseract: "5".into(),
            lang: "Vietnamese".into(),
            tessdata: "/".into(),
            restore_model: None,
            tesseract_vars: Vec::new(),
        },
        pages,
        document: None,
        timings: Timings::default(),
    }
}

/// `structure` on any text: no panic, and what it serialises parses back.
fn check_structure(pages: &[Vec<String>]) -> Result<(), TestCaseError> {
    let doc = doc_of_text(pages);
    let fields = sohoa::structure::extract(&doc);
    let json = serde_json::to_string(&fields).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
    for l in pages.iter().flatten() {
        let _ = sohoa::structure::place_date(l);
        let _ = sohoa::structure::number(l);
    }
    Ok(())
}

/// Every emitter on any document: JSON that parses back, hOCR and ALTO that are well-formed XML
/// (ALTO also checked against the official schema, in batches, by `check_alto_schema`), and a PDF
/// that PDFium opens with one page per page, or a typed error.
fn check_emit(doc: &Document, alto_out: &mut Vec<Vec<u8>>) -> Result<(), TestCaseError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| TestCaseError::fail(format!("{what}: {e}"));
    let json = emit::try_render(doc, Format::Json).map_err(|e| fail("json", &e))?;
    let back: serde_json::Value = serde_json::from_slice(&json).map_err(|e| fail("json", &e))?;
    prop_assert_eq!(
        back["pages"].as_array().map(Vec::len),
        Some(doc.pages.len())
    );
    let text = emit::try_render(doc, Format::Text).map_err(|e| fail("text", &e))?;
    prop_assert!(String::from_utf8(text).is_ok());
    for f in [Format::Hocr, Format::Alto] {
        let xml = emit::try_render(doc, f).map_err(|e| fail("xml", &e))?;
        let s = std::str::from_utf8(&xml).map_err(|e| fail("xml utf-8", &e))?;
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        if let Err(e) = roxmltree::Document::parse_with_options(s, opts) {
            prop_assert!(false, "{f:?} is not well-formed XML: {e}");
        }
        if f == Format::Alto {
            alto_out.push(xml.clone());
        }
    }
    match emit::try_render(doc, Format::Pdf) {
        Ok(pdf) => {
            let pdfium = raster::pdfium(None).map_err(|e| fail("pdfium", &e))?;
            let opened = pdfium
                .load_pdf_from_byte_slice(&pdf, None)
                .map_err(|e| fail("emitted PDF does not open", &e))?;
            prop_assert_eq!(opened.pages().len() as usize, doc.pages.len().max(1));
        }
        Err(e) => prop_assert!(
            matches!(
                e,
                Error::BadPdf(_) | Error::BadImage(_) | Error::Read { .. } | Error::TooLarge(_)
            ),
            "pdf emit: {e:?}"
        ),
    }
    Ok(())
}

/// ALTO files validated against the ALTO 4.2 schema by xmllint (one run for many files).
fn check_alto_schema(files: &[Vec<u8>]) {
    let has_xmllint = std::process::Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok();
    if files.is_empty() || !has_xmllint {
        assert!(
            std::env::var_os("CI").is_none() || has_xmllint,
            "xmllint (libxml2-utils) is installed by scripts/setup"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = files
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let p = dir.path().join(format!("{i}.xml"));
            std::fs::write(&p, b).unwrap();
            p
        })
        .collect();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/formats");
    let out = std::process::Command::new("xmllint")
        .args(["--nonet", "--noout", "--schema"])
        .arg(data.join("alto-4-2.xsd"))
        .args(&paths)
        .env("XML_CATALOG_FILES", data.join("catalog.xml"))
        .output()
        .unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let bad = err
            .lines()
            .find(|l| !l.ends_with("validates"))
            .unwrap_or("");
        let n: usize = bad
            .rsplit('/')
            .next()
            .and_then(|s| s.split('.').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        panic!(
            "ALTO fails the schema: {bad}\n{}",
            String::from_utf8_lossy(&files[n.min(files.len() - 1)])
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies for text and documents.

/// Text that stresses Unicode handling: any scalar value (NUL and controls included), Vietnamese
/// with stacked and stray combining marks, right-to-left and bidi controls, noncharacters.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 ăâđêôơưĂÂĐÊÔƠƯáàảãạấầẩẫậếềểễệốồổỗộớờởỡợứừửữự\u{300}-\u{36f}.,;:/()-]{0,60}",
        "[\u{0}-\u{1f}\u{7f}\u{85}\u{a0}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069}\u{fffe}\u{ffff}\u{feff}\u{fdd0}]{0,10}",
        "[\u{5d0}-\u{5ea}\u{627}-\u{64a} \u{300}-\u{36f}]{0,40}",
        "(CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM|Số: [0-9]{1,4}/[A-Z]{1,4}-UBND|Hà Nội, ngày [0-9]{1,2} tháng [0-9]{1,2} năm [0-9]{4}|QUYẾT ĐỊNH|Nơi nhận:|- [A-Za-zĐđ ]{1,20};|[IVX]{1,4}\\. [A-ZĐ ]{1,20}|[0-9]{1,2}\\. [a-zđ ]{1,20}){1,3}",
    ]
}

fn text_pages() -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(prop::collection::vec(nasty_text(), 0..12), 0..3)
}

fn bbox() -> impl Strategy<Value = [i32; 4]> {
    prop_oneof![
        4 => (0i32..3000, 0i32..4000, 0i32..3000, 0i32..4000).prop_map(|(a, b, c, d)| [a, b, c, d]),
        1 => any::<[i32; 4]>(),
    ]
}

fn conf() -> impl Strategy<Value = f32> {
    prop_oneof![4 => 0f32..100.0, 1 => any::<f32>()]
}

fn word() -> impl Strategy<Value = Word> {
    (
        nasty_text(),
        nasty_text(),
        bbox(),
        conf(),
        prop::option::of(conf()),
    )
        .prop_map(|(text, ocr, bbox, conf, rc)| Word {
            text,
            ocr_text: ocr,
            bbox,
            conf,
            restore_conf: rc,
        })
}

fn line() -> impl Strategy<Value = Line> {
    (
        prop::collection::vec(word(), 0..6),
        bbox(),
        conf(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(words, bbox, conf, block, refresh)| {
            let mut l = Line::new(bbox, conf, block);
            l.words = words;
            if refresh {
                l.refresh_text();
            }
            l
        })
}

fn fuzz_page() -> impl Strategy<Value = Page> {
    (
        Just(1usize),
        prop_oneof![3 => 1u32..5000, 1 => any::<u32>()],
        prop_oneof![3 => 1u32..7000, 1 => any::<u32>()],
        prop_oneof![3 => 50f32..1200.0, 1 => any::<f32>()],
        prop::collection::vec(line(), 0..8),
        prop::collection::vec(line(), 0..2),
        prop::sample::select(vec!["ocr", "text", "layer", "x\u{0}y"]),
        any::<i32>(),
        any::<f32>(),
    )
        .prop_map(|(index, w, h, dpi, lines, overlay, source, rot, skew)| {
            let mut p = page(index, w, h, dpi, lines);
            p.overlay = overlay;
            p.source = source.into();
            p.rotation = rot;
            p.skew = skew;
            p
        })
}

fn fuzz_document() -> impl Strategy<Value = Document> {
    (
        // Every document sohoa makes has a page (a PDF without one is refused); an empty
        // document's ALTO has an empty <Layout>, which the schema refuses (docs/fuzzing.md).
        prop::collection::vec(fuzz_page(), 1..4),
        prop_oneof![
            Just("samples/plan-medium-crop.png".to_string()),
            Just("tests/data/formats/sample.pdf".to_string()),
            nasty_text(),
        ],
        any::<bool>(),
    )
        .prop_map(|(pages, path, structure)| {
            let path = if path.starts_with("samples/") || path.starts_with("tests/") {
                format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
            } else {
                path
            };
            // Page numbers are unique and in order in every document sohoa makes (ALTO and hOCR
            // take their IDs from them).
            let pages = pages
                .into_iter()
                .enumerate()
                .map(|(i, p)| Page { index: i + 1, ..p })
                .collect();
            let mut d = document(path, pages);
            if structure {
                d.document = Some(sohoa::structure::extract(&d));
            }
            d
        })
}

// ---------------------------------------------------------------------------------------------
// The short budget in the normal suite.

proptest! {
    #![proptest_config(config(2000))]
    #[test]
    fn fuzz_triage(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        mutant("image").prop_map(|m| m.bytes("image")),
        mutant("pdf").prop_map(|m| m.bytes("pdf")),
    ]) {
        check_triage(&bytes)?;
    }
}

proptest! {
    #![proptest_config(config(300))]
    #[test]
    fn fuzz_image_decode(m in mutant("image")) {
        check_file(&m.bytes("image"))?;
    }
}

proptest! {
    #![proptest_config(config(150))]
    #[test]
    fn fuzz_pdf_open_and_render(m in mutant("pdf")) {
        check_file(&m.bytes("pdf"))?;
    }
}

proptest! {
    #![proptest_config(config(2000))]
    #[test]
    fn fuzz_page_ranges(pages in prop_oneof![0usize..200, any::<u32>().prop_map(|n| n as usize)],
                        per_job in prop_oneof![0usize..60, any::<u32>().prop_map(|n| n as usize)]) {
        // A real PDF has fewer pages than memory holds ranges for.
        prop_assume!(pages / per_job.max(1) < 1_000_000);
        check_split(pages, per_job)?;
    }
}

proptest! {
    #![proptest_config(config(40))]
    #[test]
    fn fuzz_restore(lines in prop::collection::vec(nasty_text(), 1..8)) {
        check_restore(&lines)?;
    }
}

proptest! {
    #![proptest_config(config(200))]
    #[test]
    fn fuzz_structure(pages in text_pages()) {
        check_structure(&pages)?;
    }
}

#[test]
fn fuzz_emit() {
    let mut runner = TestRunner::new(config(60));
    let alto = std::cell::RefCell::new(Vec::new());
    let r = runner.run(&fuzz_document(), |doc| {
        check_emit(&doc, &mut alto.borrow_mut())
    });
    if let Err(e) = r {
        panic!("{e}");
    }
    check_alto_schema(&alto.borrow());
}

// ---------------------------------------------------------------------------------------------
// Inputs that are too big to generate at random, once each.

#[test]
fn restore_survives_a_one_megabyte_line_and_nul_bytes() {
    let syllables = ["cong", "hoa", "xa", "hoi", "chu", "nghia", "viet", "nam"];
    let big: String = (0..240_000)
        .map(|i| syllables[i % 8])
        .collect::<Vec<_>>()
        .join(" ");
    assert!(big.len() >= 1 << 20);
    let lines = vec![
        big,
        "a\0b\u{202e}c\u{301}\u{301}\u{301}".to_string(),
        String::new(),
    ];
    let t = Instant::now();
    check_restore(&lines).unwrap();
    assert!(t.elapsed() < Duration::from_secs(120), "{:?}", t.elapsed());
}

#[test]
fn image_header_claiming_huge_dimensions_is_refused_without_allocating() {
    // A 1x1 PNG whose IHDR says 60000 x 60000 (3.6 Gpx): refused as too large, not decoded.
    let mut png = std::fs::read(fuzz_dir().join("corpus/image/grey.png")).unwrap();
    png[16..20].copy_from_slice(&60000u32.to_be_bytes());
    png[20..24].copy_from_slice(&60000u32.to_be_bytes());
    let f = write_temp(&png);
    let r = raster::for_each_page(
        f.path(),
        Kind::Png,
        &RasterOptions::default(),
        &mut |_| {},
        &mut |_| true,
    );
    assert!(
        matches!(r, Err(Error::TooLarge(_)) | Err(Error::BadImage(_))),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Regression inputs.

/// Every corpus seed and every input that once failed goes through its target.
#[test]
fn replay_corpus_and_crashes() {
    let mut n = 0;
    for kind in ["image", "pdf"] {
        for (name, bytes) in seeds(kind) {
            check_file(bytes).unwrap_or_else(|e| panic!("corpus/{kind}/{name}: {e}"));
            n += 1;
        }
    }
    let crashes = fuzz_dir().join("crashes");
    for target in ["file", "triage"] {
        for (name, bytes) in read_dir_files(&crashes.join(target)) {
            check_triage(&bytes).unwrap_or_else(|e| panic!("crashes/{target}/{name}: {e}"));
            check_file(&bytes).unwrap_or_else(|e| panic!("crashes/{target}/{name}: {e}"));
            n += 1;
        }
    }
    for target in ["restore", "structure"] {
        for (name, bytes) in read_dir_files(&crashes.join(target)) {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<String> = text.split('\n').map(str::to_string).collect();
            let r = if target == "restore" {
                check_restore(&lines)
            } else {
                check_structure(&[lines])
            };
            r.unwrap_or_else(|e| panic!("crashes/{target}/{name}: {e}"));
            n += 1;
        }
    }
    for (name, bytes) in read_dir_files(&crashes.join("emit")) {
        let doc: Document = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("crashes/emit/{name}: not a document: {e}"));
        check_emit(&doc, &mut Vec::new()).unwrap_or_else(|e| panic!("crashes/emit/{name}: {e}"));
        n += 1;
    }
    assert!(n >= 20, "only {n} regression inputs found");
}

// ---------------------------------------------------------------------------------------------
// The long run (scripts/fuzz).

/// Runs the targets round-robin, a slice at a time, with fresh random seeds, for
/// `SOHOA_FUZZ_SECS` seconds; writes each failing input (shrunk) under `SOHOA_FUZZ_OUT`
/// (default `fuzz-out/`) and a line per slice to its `log.tsv`. The input being run is also kept
/// in `current-<target>` so that a crash of the whole process (a signal in C code) leaves it.
#[test]
#[ignore = "long run: scripts/fuzz"]
fn fuzz_long() {
    let secs: u64 = std::env::var("SOHOA_FUZZ_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let out = std::env::var_os("SOHOA_FUZZ_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz-out"));
    let only = std::env::var("SOHOA_FUZZ_TARGETS")
        .ok()
        .filter(|t| !t.trim().is_empty());
    std::fs::create_dir_all(&out).unwrap();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join("log.tsv"))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let slice = Duration::from_secs(secs.clamp(10, 120) / 2);
    let targets = [
        "triage",
        "image",
        "pdf",
        "split",
        "restore",
        "structure",
        "emit",
    ];
    let mut found = 0;
    'outer: while Instant::now() < deadline {
        for target in targets {
            if only
                .as_deref()
                .is_some_and(|o| !o.split(',').any(|t| t == target))
            {
                continue;
            }
            if Instant::now() >= deadline {
                break 'outer;
            }
            let seed: [u8; 32] = std::array::from_fn(|_| fastrand_byte());
            let t0 = Instant::now();
            let end = (t0 + slice).min(deadline);
            let (execs, failure, slowest) = run_slice(target, seed, end, &out);
            let secs = t0.elapsed().as_secs_f64();
            writeln!(
                log,
                "{}\t{target}\t{execs}\t{secs:.1}\t{:.2}\t{}",
                unix_now(),
                slowest.as_secs_f64(),
                failure.as_deref().unwrap_or("ok")
            )
            .unwrap();
            if failure.is_some() {
                found += 1;
            }
        }
    }
    assert_eq!(found, 0, "failures found: see {}", out.display());
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn fastrand_byte() -> u8 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u8
}

/// Cases of one target until `end`; returns executions, the saved failure's file, and the
/// slowest case (a hang shows as a slice that never ends; a slow case is logged).
fn run_slice(
    target: &str,
    seed: [u8; 32],
    end: Instant,
    out: &Path,
) -> (u64, Option<String>, Duration) {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: u32::MAX,
            failure_persistence: None,
            max_shrink_time: 60_000,
            // The deadline is a rejection (below), and the first one ends the slice: a failure
            // would be shrunk, case after case.
            max_global_rejects: 0,
            max_local_rejects: 0,
            ..Config::default()
        },
        TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &seed),
    );
    let execs = std::cell::Cell::new(0u64);
    let slowest = std::cell::Cell::new(Duration::ZERO);
    let current = out.join(format!("current-{target}"));
    let timed = |f: &mut dyn FnMut() -> Result<(), TestCaseError>| {
        if Instant::now() >= end {
            return Err(TestCaseError::reject("time is up"));
        }
        execs.set(execs.get() + 1);
        let t = Instant::now();
        let r = f();
        slowest.set(slowest.get().max(t.elapsed()));
        r
    };
    let save = |bytes: &[u8], ext: &str| -> String {
        let dir = out.join("crashes").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!("{}.{ext}", &input::hex(&sha2_of(bytes))[..16]);
        std::fs::write(dir.join(&name), bytes).unwrap();
        format!("crashes/{target}/{name}")
    };
    let keep = |bytes: &[u8]| {
        let _ = std::fs::write(&current, bytes);
    };
    let result: Result<(), (String, Vec<u8>, &str)> = match target {
        "triage" | "image" | "pdf" => {
            let kind: &'static str = if target == "pdf" { "pdf" } else { "image" };
            let strat = mutant(kind);
            runner
                .run(&strat, |m| {
                    let b = m.bytes(kind);
                    keep(&b);
                    timed(&mut || {
                        check_triage(&b)?;
                        if target != "triage" {
                            check_file(&b)?;
                        }
                        Ok(())
                    })
                })
                .map_err(|e| match e {
                    TestError::Fail(why, m) => (why.to_string(), m.bytes(kind), "bin"),
                    TestError::Abort(why) => (why.to_string(), Vec::new(), "bin"),
                })
        }
        "split" => runner
            .run(&(any::<u16>(), any::<u16>()), |(p, j)| {
                timed(&mut || check_split(p as usize, j as usize))
            })
            .map_err(|e| match e {
                TestError::Fail(why, (p, j)) => (why.to_string(), format!("{p} {j}").into(), "txt"),
                TestError::Abort(why) => (why.to_string(), Vec::new(), "txt"),
            }),
        "restore" | "structure" => {
            let strat = prop::collection::vec(nasty_text(), 1..10);
            runner
                .run(&strat, |lines| {
                    keep(lines.join("\n").as_bytes());
                    timed(&mut || {
                        if target == "restore" {
                            check_restore(&lines)
                        } else {
                            check_structure(std::slice::from_ref(&lines))
                        }
                    })
                })
                .map_err(|e| match e {
                    TestError::Fail(why, l) => (why.to_string(), l.join("\n").into_bytes(), "txt"),
                    TestError::Abort(why) => (why.to_string(), Vec::new(), "txt"),
                })
        }
        "emit" => runner
            .run(&fuzz_document(), |doc| {
                let json = serde_json::to_vec(&doc).unwrap_or_default();
                keep(&json);
                timed(&mut || check_emit(&doc, &mut Vec::new()))
            })
            .map_err(|e| match e {
                TestError::Fail(why, d) => (
                    why.to_string(),
                    serde_json::to_vec_pretty(&d).unwrap_or_default(),
                    "json",
                ),
                TestError::Abort(why) => (why.to_string(), Vec::new(), "json"),
            }),
        other => panic!("unknown target {other}"),
    };
    let failure = match result {
        Ok(()) => None,
        Err((_, bytes, _)) if bytes.is_empty() => None, // the deadline's abort
        Err((why, bytes, ext)) => {
            let file = save(&bytes, ext);
            let _ = std::fs::write(out.join(format!("{file}.why.txt")), &why);
            Some(format!("{file}: {}", why.replace(['\n', '\t'], " ")))
        }
    };
    (execs.get(), failure, slowest.get())
}

fn sha2_of(bytes: &[u8]) -> Vec<u8> {
    let (hex, _) = input::sha256_stream(&mut &bytes[..], |_| {}).unwrap();
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap())
        .collect()
}

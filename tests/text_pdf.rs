//! PDFs that already have text (issue 16), end to end through the real binary: born-digital
//! pages are taken as text and never rasterised, scans with a signature overlay are still OCR'd,
//! a garbled earlier OCR layer is redone, TCVN3 / VNI text is converted. Fixtures are built by
//! tests/data/text-pdf/make.py.

mod common;
use common::{root, sohoa};
use std::collections::HashMap;
use std::process::Output;

fn fixture(name: &str) -> String {
    root()
        .join("tests/data/text-pdf")
        .join(name)
        .display()
        .to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scan_json(file: &str, args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let mut all = vec!["scan", file, "--jobs", "2", "-o", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = sohoa(&all);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

fn page_text(page: &serde_json::Value) -> String {
    page["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_string() + "\n")
        .collect()
}

/// Syllable error ignoring order (reading order differs between tools): syllables of the truth
/// missing from the hypothesis, or extra in it, over the truth's syllables, in %.
fn order_free_error(hyp: &str, truth: &str) -> f64 {
    let bag = |s: &str| {
        let mut m: HashMap<String, i64> = HashMap::new();
        for w in sohoa::text::nfc(s).split_whitespace() {
            *m.entry(w.to_string()).or_default() += 1;
        }
        m
    };
    let (h, t) = (bag(hyp), bag(truth));
    let n: i64 = t.values().sum();
    let common: i64 = t
        .iter()
        .map(|(w, c)| (*c).min(*h.get(w).unwrap_or(&0)))
        .sum();
    let extra: i64 = h.values().sum::<i64>() - common;
    let missing = n - common;
    100.0 * missing.max(extra) as f64 / n.max(1) as f64
}

fn truth_pages() -> Vec<String> {
    (1..=5)
        .map(|i| std::fs::read_to_string(fixture(&format!("born-digital.page{i}.txt"))).unwrap())
        .collect()
}

#[test]
fn born_digital_pages_are_taken_as_text_exactly() {
    let v = scan_json(&fixture("born-digital.pdf"), &[]);
    let pages = v["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 5);
    for (p, truth) in pages.iter().zip(truth_pages()) {
        assert_eq!(p["source"], "text", "{}", p["source_reason"]);
        assert!(p["source_reason"].as_str().unwrap().contains("vector text"));
        // Never rasterised: no OCR, no restoration ran.
        assert_eq!(p["timings"]["ocr_ms"], 0.0);
        assert_eq!(p["timings"]["restore_ms"], 0.0);
        let e = order_free_error(&page_text(p), &truth);
        assert!(
            e <= 0.5,
            "page {}: order-free syllable error {e:.2} %",
            p["index"]
        );
        // Boxes in pixels at 300 dpi, inside the A4 page.
        assert_eq!((&p["width"], &p["height"]), (&2480.into(), &3508.into()));
        for l in p["lines"].as_array().unwrap() {
            let words: Vec<&str> = l["words"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["text"].as_str().unwrap())
                .collect();
            assert_eq!(l["text"], words.join(" "));
            let b: Vec<i64> = serde_json::from_value(l["bbox"].clone()).unwrap();
            assert!(b[0] >= 0 && b[1] >= 0 && b[2] <= 2480 && b[3] <= 3508 && b[0] < b[2]);
        }
    }
}

#[test]
fn born_digital_fields_are_found_as_on_a_scan() {
    let v = scan_json(&fixture("born-digital.pdf"), &[]);
    let d = &v["document"];
    assert_eq!(d["number"]["value"], "152-KH/HU");
    assert_eq!(d["date"]["value"], "2023-09-15");
    assert_eq!(d["place"]["value"], "Đức Trọng");
    assert_eq!(d["type"]["value"], "KẾ HOẠCH");
    assert_eq!(
        d["issuer"]["value"],
        serde_json::json!(["ĐẢNG BỘ TỈNH LÂM ĐỒNG", "HUYỆN UỶ ĐỨC TRỌNG"])
    );
    assert_eq!(
        d["signer"]["name"]["value"], "Lê Hồng Khánh",
        "{}",
        d["signer"]
    );
}

#[test]
fn force_mode_ocrs_born_digital_pages() {
    let v = scan_json(&fixture("tcvn3.pdf"), &["--mode", "force"]);
    assert_eq!(v["pages"][0]["source"], "ocr");
    assert!(v["pages"][0]["source_reason"]
        .as_str()
        .unwrap()
        .starts_with("force"));
}

#[test]
fn scanned_page_with_a_signature_overlay_is_still_ocrd() {
    let v = scan_json(&fixture("signed-scan.pdf"), &[]);
    let p = &v["pages"][0];
    assert_eq!(p["source"], "ocr", "{}", p["source_reason"]);
    assert!(p["source_reason"].as_str().unwrap().contains("overlay"));
    let text = page_text(p);
    assert!(text.contains("KẾ HOẠCH"), "{text}");
    assert!(text.contains("Tỉnh ủy Lâm Đồng"), "{text}");
    // The signature appearance is kept apart, as real text.
    let overlay: String = p["overlay"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_string() + "\n")
        .collect();
    assert!(
        overlay.contains("Người ký: CỔNG THÔNG TIN ĐIỆN TỬ CHÍNH PHỦ"),
        "{overlay}"
    );
    assert!(
        overlay.contains("Thời gian ký: 23.04.2026 15:54:16 +07:00"),
        "{overlay}"
    );
    // Skip mode does not take a scan's overlay for its text either.
    let v = scan_json(&fixture("signed-scan.pdf"), &["--mode", "skip"]);
    assert_eq!(v["pages"][0]["source"], "ocr");
}

#[test]
fn garbled_english_ocr_layer_is_redone_in_auto_and_kept_in_skip() {
    let truth: String = truth_pages()[0]
        .lines()
        .take(18)
        .map(|l| l.to_string() + "\n")
        .collect();
    let auto = scan_json(&fixture("garbled-layer.pdf"), &[]);
    let p = &auto["pages"][0];
    assert_eq!(p["source"], "ocr", "{}", p["source_reason"]);
    assert!(p["source_reason"].as_str().unwrap().contains("poor"));
    let redone = order_free_error(&page_text(p), &truth);

    let skip = scan_json(&fixture("garbled-layer.pdf"), &["--mode", "skip"]);
    let p = &skip["pages"][0];
    assert_eq!(p["source"], "layer");
    let kept = order_free_error(&page_text(p), &truth);
    assert!(page_text(p).contains("Ke hoach") || page_text(p).contains("KE HOACH"));
    // The redone page reads as OCR of the image does; the English layer does not.
    assert!(redone < 5.0, "redone: {redone:.1} %");
    assert!(kept > 30.0, "kept English layer: {kept:.1} %");

    let force = scan_json(&fixture("garbled-layer.pdf"), &["--mode", "force"]);
    assert_eq!(page_text(&force["pages"][0]), page_text(&auto["pages"][0]));
}

#[test]
fn tcvn3_and_vni_pdf_text_is_converted_without_error() {
    let v = scan_json(&fixture("tcvn3.pdf"), &[]);
    let expected = std::fs::read_to_string(fixture("tcvn3.expected.txt")).unwrap();
    let pages: Vec<&str> = expected.split('\u{c}').collect();
    for (p, (want, enc)) in v["pages"]
        .as_array()
        .unwrap()
        .iter()
        .zip(pages.iter().zip(["tcvn3", "vni"]))
    {
        assert_eq!(p["source"], "text");
        assert_eq!(p["legacy_encoding"], enc);
        assert_eq!(page_text(p), *want, "page {}", p["index"]);
    }
}

#[test]
fn restore_reads_tcvn3_and_vni_text_files() {
    let want = std::fs::read_to_string(fixture("legacy-unicode.txt")).unwrap();
    for f in ["legacy-tcvn3.txt", "legacy-vni.txt"] {
        let o = sohoa(&["restore", &fixture(f)]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let got = String::from_utf8(o.stdout).unwrap();
        // Restoration leaves correct Vietnamese as it is; the letter lines are not words, so
        // compare the converted sentences and the letters' set.
        for (g, w) in got.lines().zip(want.lines()).skip(2) {
            assert_eq!(g, w, "{f}");
        }
    }
}

#[test]
fn batch_report_counts_pages_by_source() {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in");
    std::fs::create_dir(&inp).unwrap();
    for f in ["born-digital.pdf", "tcvn3.pdf", "signed-scan.pdf"] {
        std::fs::copy(fixture(f), inp.join(f)).unwrap();
    }
    let out = dir.path().join("out");
    let o = sohoa(&[
        "batch",
        inp.to_str().unwrap(),
        out.to_str().unwrap(),
        "--jobs",
        "2",
        "--formats",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let by = &r["summary"]["pages_by_source"];
    assert_eq!(by["text"], 7, "{by}");
    assert_eq!(by["ocr"], 1, "{by}");
}

#[test]
fn searchable_pdf_output_leaves_born_digital_pages_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pdf");
    let o = sohoa(&[
        "scan",
        &fixture("born-digital.pdf"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Read back, the pages still hold their own text once, with no second (invisible) layer.
    let a = scan_json(&fixture("born-digital.pdf"), &["--no-restore"]);
    let b = scan_json(out.to_str().unwrap(), &["--no-restore"]);
    for (pa, pb) in a["pages"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["pages"].as_array().unwrap())
    {
        assert_eq!(pb["source"], "text");
        assert_eq!(page_text(pa), page_text(pb));
    }
}

/// `pdftotext -raw` of a PDF file (UTF-8), with poppler's complaints.
fn pdftotext_raw(p: &std::path::Path) -> (String, String) {
    let o = std::process::Command::new("pdftotext")
        .args(["-raw", "-enc", "UTF-8"])
        .arg(p)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    (
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn born_digital_pages_are_copied_into_a_pdfa_with_the_documents_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pdf");
    let src = fixture("born-digital.pdf");
    let o = sohoa(&["scan", &src, "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let report = sohoa::emit::pdfa::check_bytes(&bytes);
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // Copied, not rasterised: the source's fonts draw the text, and no OCR layer is added.
    let fonts = std::process::Command::new("pdffonts")
        .arg(&out)
        .output()
        .unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(fonts.contains("DejaVuSerifBook"), "{fonts}");
    assert!(!fonts.contains("GlyphLessSohoa"), "{fonts}");
    let (text, errors) = pdftotext_raw(&out);
    assert_eq!(errors, "");
    assert_eq!(text, pdftotext_raw(std::path::Path::new(&src)).0);

    // What an archive indexes without opening the JSON.
    let doc = lopdf::Document::load_mem(&bytes).unwrap();
    let xmp = match doc
        .catalog()
        .unwrap()
        .get(b"Metadata")
        .and_then(|m| doc.dereference(m))
        .unwrap()
        .1
    {
        lopdf::Object::Stream(s) => String::from_utf8(s.content.clone()).unwrap(),
        o => panic!("metadata is {o:?}"),
    };
    for want in [
        "<dc:identifier>152-KH/HU</dc:identifier>",
        "<dc:date><rdf:Seq><rdf:li>2023-09-15</rdf:li></rdf:Seq></dc:date>",
        "<rdf:li>ĐẢNG BỘ TỈNH LÂM ĐỒNG / HUYỆN UỶ ĐỨC TRỌNG</rdf:li>",
        "<sohoa:type>KẾ HOẠCH</sohoa:type>",
        "<sohoa:signer>Lê Hồng Khánh</sohoa:signer>",
        "<sohoa:place>Đức Trọng</sohoa:place>",
        "<rdf:li xml:lang=\"x-default\">Kế hoạch ",
    ] {
        assert!(xmp.contains(want), "{want} not in\n{xmp}");
    }
}

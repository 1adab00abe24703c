//! `sohoa scan`, end to end through the real binary: real PDFium, real Tesseract, the committed
//! restoration model. Given these scans, expect these words, these page counts, these exit codes.

mod common;
use common::{root, sohoa};
use std::path::Path;
use std::process::Output;

fn sample(name: &str) -> String {
    root().join("samples").join(name).display().to_string()
}

fn data(name: &str) -> String {
    root().join("tests/data").join(name).display().to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn cer_wer(hyp: &str, truth_file: &Path) -> (f64, f64) {
    let truth = std::fs::read_to_string(truth_file).unwrap();
    let e = sohoa::text::ErrorCounts::of(hyp, &truth);
    (e.cer(), e.wer())
}

#[test]
fn light_scan_pdf_reads_as_vietnamese_within_bounds() {
    let o = sohoa(&["scan", &sample("plan-page1.pdf"), "--jobs", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("KẾ HOẠCH"), "{text}");
    assert!(
        text.contains("57-KL/TW"),
        "document codes survive restoration"
    );
    let (cer, wer) = cer_wer(&text, &root().join("samples/plan-page1.txt"));
    // Measured 0.3 % CER with the default model; the bound leaves room for other CPUs' float
    // rounding, not for regressions.
    assert!(cer < 1.5, "CER {cer:.2}% WER {wer:.2}%");
    assert!(wer < 5.0, "CER {cer:.2}% WER {wer:.2}%");
}

#[test]
fn text_output_is_nfc() {
    let o = sohoa(&["scan", &sample("plan-medium-crop.png")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(text, sohoa::text::nfc(&text));
    let (cer, wer) = cer_wer(&text, &root().join("samples/plan-medium-crop.txt"));
    assert!(cer < 4.0, "CER {cer:.2}% WER {wer:.2}%");
}

/// `sohoa scan FILE ARGS... -o page.json`: its output and the JSON it wrote.
fn scan_json(file: &str, args: &[&str]) -> (Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("page.json");
    let mut all = vec!["scan", file];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", out.to_str().unwrap()]);
    let o = sohoa(&all);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    (o, v)
}

#[test]
fn json_follows_schema_sohoa_1() {
    let (o, v) = scan_json(&sample("plan-medium-crop.png"), &[]);
    assert!(o.stdout.is_empty(), "-o writes the file, not stdout");
    assert_eq!(v["schema"], "sohoa/1");
    assert_eq!(v["source"]["pages"], 1);
    assert_eq!(v["source"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["engine"]["lang"], "Vietnamese");
    let page = &v["pages"][0];
    assert_eq!(page["index"], 1);
    assert_eq!(page["dpi"], 300.0);
    let lines = page["lines"].as_array().unwrap();
    assert!(lines.len() >= 8, "{} lines", lines.len());
    for l in lines {
        let words = l["words"].as_array().unwrap();
        assert!(!words.is_empty());
        let joined: Vec<&str> = words.iter().map(|w| w["text"].as_str().unwrap()).collect();
        assert_eq!(
            l["text"].as_str().unwrap(),
            joined.join(" "),
            "line text is its words' text"
        );
        for w in words {
            let b: Vec<i64> = w["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect();
            assert!(b[0] < b[2] && b[1] < b[3] && b[2] <= 2480, "bbox {b:?}");
            assert!(w["ocr_text"].is_string() && w["conf"].is_number());
        }
    }
    for k in ["rasterise_ms", "ocr_ms", "restore_ms"] {
        assert!(v["timings"][k].is_number(), "timings.{k}");
    }
}

#[test]
fn multi_page_pdf_and_tiff_keep_their_page_counts() {
    let o = sohoa(&[
        "scan",
        &sample("plan-2pages.pdf"),
        "--format",
        "json",
        "--no-restore",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["pages"].as_array().unwrap().len(), 2);

    let o = sohoa(&["scan", &sample("plan-fax-2pages.tif")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let pages: Vec<&str> = text.split('\u{c}').collect();
    assert_eq!(pages.len(), 2, "pages separated by form feed");
    let (cer, _) = cer_wer(pages[1], &root().join("samples/plan-fax-2pages.p2.txt"));
    assert!(cer < 2.0, "Group 4 page 2 CER {cer:.2}%");
}

#[test]
fn zero_byte_file_is_a_bad_input_named_on_stderr() {
    let o = sohoa(&["scan", &data("empty.pdf")]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("empty.pdf") && err.contains("empty file"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line per failed file: {err}");
}

#[test]
fn text_with_a_pdf_name_is_a_bad_input() {
    let o = sohoa(&["scan", &data("not-a-pdf.pdf")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a PDF, PNG, JPEG or TIFF"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn encrypted_pdf_exits_8() {
    let o = sohoa(&["scan", &data("encrypted.pdf")]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(stderr(&o).contains("encrypted"), "{}", stderr(&o));
}

#[test]
fn truncated_pdf_is_a_bad_input() {
    let o = sohoa(&["scan", &data("truncated.pdf")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn one_bad_file_among_good_ones_exits_4_and_keeps_the_rest() {
    let o = sohoa(&[
        "scan",
        &data("empty.pdf"),
        &sample("plan-fax-2pages.tif"),
        "--no-restore",
    ]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stdout(&o).contains("Các Ban"),
        "the good file's text is still written"
    );
}

#[test]
fn tess_var_reaches_tesseract_and_an_unknown_one_is_a_usage_error() {
    let (_, v) = scan_json(
        &sample("plan-medium-crop.png"),
        &["--tess-var", "preserve_interword_spaces=1"],
    );
    let vars: Vec<&str> = v["engine"]["tesseract_vars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(
        vars,
        [
            "textord_disable_pitch_test=1",
            "preserve_interword_spaces=1"
        ]
    );

    let o = sohoa(&[
        "scan",
        &sample("plan-medium-crop.png"),
        "--tess-var",
        "no_such_variable=1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no_such_variable"), "{}", stderr(&o));
}

#[test]
fn missing_tesseract_model_exits_3_with_the_fix() {
    let o = sohoa(&[
        "scan",
        &sample("plan-fax-2pages.tif"),
        "--lang",
        "nonexistent",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("scripts/setup"), "{}", stderr(&o));
}

#[test]
fn info_reports_what_a_bug_report_needs() {
    let o = sohoa(&["info", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["lang"], "Vietnamese");
    assert!(v["tessdata"].as_str().unwrap().contains("tessdata"));
    assert!(v["tesseract"].as_str().unwrap().starts_with('5'));
    assert!(v["pdfium"].as_str().unwrap().ends_with("libpdfium.so"));
    assert!(v["languages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "Vietnamese"));
    // Where scripts/setup built the machine-tuned Tesseract, that is the one the executable
    // loads (through its runpath), not Debian's.
    let lib = v["tesseract_library"].as_str().unwrap();
    let tuned = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("third_party/tesseract/lib");
    if tuned.join("libtesseract.so.5").exists() {
        assert!(lib.starts_with(tuned.to_str().unwrap()), "{lib}");
    } else {
        assert!(lib.contains("libtesseract"), "{lib}");
    }
}

//! `sohoa restore` and the restore stage: given text as OCR left it, expect Vietnamese as written.
//! These run the committed model (models/restore.onnx) through tract-onnx.

use sohoa::restore::Restorer;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn model() -> &'static Restorer {
    static R: OnceLock<Restorer> = OnceLock::new();
    R.get_or_init(|| Restorer::embedded().expect("the committed model loads"))
}

fn restore(text: &str) -> String {
    model().restore_text(text).unwrap()
}

#[test]
fn restores_a_fully_stripped_sentence() {
    assert_eq!(
        restore("Ban Thuong vu Huyen uy xay dung ke hoach trien khai thuc hien nhu sau"),
        "Ban Thường vụ Huyện ủy xây dựng kế hoạch triển khai thực hiện như sau"
    );
}

#[test]
fn restores_tone_marks_in_an_all_caps_heading() {
    assert_eq!(restore("KE HOACH"), "KẾ HOẠCH");
    assert_eq!(restore("I. MUC DICH, YEU CAU"), "I. MỤC ĐÍCH, YÊU CẦU");
}

#[test]
fn repairs_english_model_ocr() {
    // As Tesseract's English model reads a Vietnamese plan (shared/garbled-dev).
    let out = restore(
        "Thuc hién Ké hoach s6 90-KH/TU cia Ban Thuong vu Tinh uy vé cong tac thong tin d6i ngoai",
    );
    assert_eq!(
        out,
        "Thực hiện Kế hoạch số 90-KH/TU của Ban Thường vụ Tỉnh ủy về công tác thông tin đối ngoại"
    );
}

#[test]
fn fixes_a_wrong_tone_in_otherwise_marked_text() {
    let out = restore(
        "Kê hoạch số 90-KH/TU của Ban Thường vụ Tỉnh ủy về tăng cường công tác thông tin đối ngoại",
    );
    assert!(out.starts_with("Kế hoạch số 90-KH/TU"), "{out}");
}

#[test]
fn correct_text_comes_back_unchanged() {
    let right =
        "Tăng cường vai trò, trách nhiệm của cấp ủy, tổ chức đảng, chính quyền, Mặt trận Tổ quốc\n\
                 và các tổ chức chính trị - xã hội trong công tác thông tin đối ngoại; bảo đảm sự\n\
                 thống nhất trong lãnh đạo, chỉ đạo, điều hành và tổ chức thực hiện.";
    assert_eq!(restore(right), right);
}

#[test]
fn codes_numbers_dates_urls_and_abbreviations_are_untouched() {
    let line = "So: 101/KH-UBND, 57-KL/TW, ngay 15/9/2023, UBND, MTTQ, HĐND, II, XIII, 2.1, https://lamdong.gov.vn, vp@lamdong.gov.vn";
    let out = restore(line);
    for keep in [
        "101/KH-UBND",
        "57-KL/TW",
        "15/9/2023",
        "UBND",
        "MTTQ",
        "HĐND",
        " II,",
        "XIII",
        "2.1",
        "https://lamdong.gov.vn",
        "vp@lamdong.gov.vn",
    ] {
        assert!(out.contains(keep), "{keep} changed in {out}");
    }
    assert!(out.starts_with("Số: "), "{out}");
}

#[test]
fn keeps_the_number_of_lines_and_blank_lines() {
    let input = "KE HOACH\n\nTrien khai thuc hien\n\n\nngay 15 thang 9 nam 2023\n";
    let out = restore(input);
    assert_eq!(
        out.split('\n').count(),
        input.split('\n').count(),
        "{out:?}"
    );
    assert_eq!(out.split('\n').nth(1), Some(""));
}

/// `sohoa restore FLAGS` with `input` on stdin: whether it succeeded, and what it printed.
fn restore_cli(flags: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .arg("restore")
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn cli_restores_stdin_line_for_line() {
    let (ok, out) = restore_cli(&[], "Ke hoach\n\nd6i ngoai\n");
    assert!(ok);
    assert_eq!(out, "Kế hoạch\n\nđối ngoại\n");
}

/// `sohoa restore` reads English-model OCR with the small tagger unless asked for the full one;
/// either way a plain line of it comes back as the plan printed it.
#[test]
fn cli_reads_english_model_ocr_with_either_tagger() {
    let garbled = "Ban Thudng vu Huyén uy yéu cau cac co quan trién khai thurc hién Két luan sé \
                   57-KL/TW cua B6 Chinh tri.\n";
    for flags in [&[][..], &["--accurate"][..]] {
        let (ok, out) = restore_cli(flags, garbled);
        assert!(ok, "{flags:?}");
        assert_eq!(
            out,
            "Ban Thường vụ Huyện ủy yêu cầu các cơ quan triển khai thực hiện Kết luận số \
             57-KL/TW của Bộ Chính trị.\n",
            "{flags:?}"
        );
    }
}

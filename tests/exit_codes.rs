//! Every exit code the README documents, each from the situation it documents.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn data(name: &str) -> String {
    root().join("tests/data").join(name).display().to_string()
}

fn sohoa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .args(args)
        .output()
        .expect("sohoa runs")
}

fn code(args: &[&str]) -> Option<i32> {
    let o = sohoa(args);
    eprintln!(
        "sohoa {}: {:?}\n{}",
        args.join(" "),
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o.status.code()
}

#[test]
fn zero_when_all_inputs_are_done_and_for_help() {
    assert_eq!(code(&["scan", &data("formats/sample.png")]), Some(0));
    assert_eq!(code(&["--help"]), Some(0));
    assert_eq!(code(&["scan", "--help"]), Some(0));
    assert_eq!(code(&["--version"]), Some(0));
}

#[test]
fn one_for_usage_errors_not_clap_s_two() {
    assert_eq!(code(&["scan"]), Some(1), "no file");
    assert_eq!(code(&[]), Some(1), "no command");
    assert_eq!(code(&["frobnicate"]), Some(1), "unknown command");
    assert_eq!(code(&["scan", "--no-such-flag", "x.pdf"]), Some(1));
    assert_eq!(code(&["scan", "--dpi", "many", "x.pdf"]), Some(1));
    assert_eq!(code(&["batch", "only-one-folder"]), Some(1));
    assert_eq!(
        code(&[
            "scan",
            &data("formats/sample.png"),
            "--tess-var",
            "no_such_var=1"
        ]),
        Some(1),
        "an unknown Tesseract variable is a usage error"
    );
}

#[test]
fn two_for_a_bad_input_file() {
    assert_eq!(code(&["scan", &data("not-a-pdf.pdf")]), Some(2));
    assert_eq!(code(&["scan", &data("empty.pdf")]), Some(2));
    assert_eq!(code(&["scan", &data("truncated.pdf")]), Some(2));
    assert_eq!(code(&["scan", &data("no-such-file.pdf")]), Some(2));
}

#[test]
fn three_for_a_missing_dependency() {
    let empty = tempfile::tempdir().unwrap();
    let t = empty.path().to_str().unwrap();
    assert_eq!(
        code(&["scan", &data("formats/sample.png"), "--tessdata", t]),
        Some(3)
    );
}

#[test]
fn four_when_some_of_several_inputs_failed() {
    assert_eq!(
        code(&["scan", &data("formats/sample.png"), &data("not-a-pdf.pdf")]),
        Some(4)
    );
}

#[test]
fn five_when_the_output_cannot_be_written() {
    // Under a regular file: no directory can be made there, root or not.
    let out = format!("{}/x.json", data("not-a-pdf.pdf"));
    assert_eq!(
        code(&["scan", &data("formats/sample.png"), "-o", &out]),
        Some(5)
    );
}

#[test]
fn eight_for_an_encrypted_pdf() {
    assert_eq!(code(&["scan", &data("encrypted.pdf")]), Some(8));
}

#[test]
fn one_hundred_thirty_when_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in");
    std::fs::create_dir_all(&inp).unwrap();
    for i in 0..4 {
        std::fs::copy(
            root().join("tests/data/faults/three-pages.pdf"),
            inp.join(format!("{i}.pdf")),
        )
        .unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .args(["batch", inp.to_str().unwrap()])
        .arg(dir.path().join("out"))
        .args(["--jobs", "1"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(130), "{st:?}");
}

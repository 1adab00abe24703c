//! Fault injection, through the real binary: an OCR engine that panics, hangs or returns
//! garbage on one page, a worker that dies mid-page, PDFium failing on one page of many, and the
//! disk full or read-only under the outputs. Each time: that page's file fails with a reason,
//! every other file completes, nothing partial is left, and the exit code is the documented one.
//! Faults are injected with `SOHOA_FAULT` (src/fault.rs); disk faults with a real tmpfs.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn sohoa(fault: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .args(args)
        .env("SOHOA_FAULT", fault)
        .output()
        .expect("sohoa runs")
}

/// IN/three.pdf (pages 1-3), IN/one.png and IN/one.pdf (one page each): a fault on page 2 or 3
/// strikes three.pdf only.
fn inputs(dir: &Path) -> PathBuf {
    let inp = dir.join("in");
    std::fs::create_dir_all(&inp).unwrap();
    for (src, dst) in [
        ("tests/data/faults/three-pages.pdf", "three.pdf"),
        ("tests/data/formats/sample.png", "one.png"),
        ("tests/data/formats/sample.pdf", "one.pdf"),
    ] {
        std::fs::copy(root().join(src), inp.join(dst)).unwrap();
    }
    inp
}

fn batch(fault: &str, inp: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "batch",
        inp.to_str().unwrap(),
        out.to_str().unwrap(),
        "--jobs",
        "2",
    ];
    args.extend_from_slice(extra);
    sohoa(fault, &args)
}

fn report(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json")).unwrap()
}

fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["input"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("{name} not in report"))
}

/// Every file under `dir`, relative.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The batch with a fault on page 2: three.pdf failed with `reason` and a message naming the
/// page, has no outputs; the one-page files are done; exit 4; no temporary file anywhere.
fn assert_page_two_failed_alone(o: &Output, out: &Path, reason: &str) {
    assert_eq!(o.status.code(), Some(4), "{}", stderr(o));
    let r = report(out);
    let bad = entry(&r, "three.pdf");
    assert_eq!(bad["status"], "failed", "{bad}");
    assert_eq!(bad["reason"], reason, "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("page 2"), "{bad}");
    for good in ["one.png", "one.pdf"] {
        assert_eq!(entry(&r, good)["status"], "ok", "{good}: {}", stderr(o));
    }
    let left = files(out);
    assert!(
        !left.iter().any(|f| f.starts_with("three.")),
        "partial output of the failed file: {left:?}"
    );
    assert!(
        !left.iter().any(|f| f.ends_with(".tmp")),
        "temporary files left: {left:?}"
    );
    // The two "one" inputs' outputs get disambiguated names: count them.
    assert_eq!(
        left.iter()
            .filter(|f| f.ends_with(".json") && *f != "report.json")
            .count(),
        2,
        "{left:?}"
    );
}

#[test]
fn an_engine_that_panics_on_one_page_fails_that_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let inp = inputs(dir.path());
    let out = dir.path().join("out");
    let o = batch("ocr-panic@2", &inp, &out, &[]);
    assert_page_two_failed_alone(&o, &out, "ocr");
    assert!(stderr(&o).contains("crashed"), "{}", stderr(&o));
}

#[test]
fn a_worker_that_dies_mid_page_fails_that_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let inp = inputs(dir.path());
    let out = dir.path().join("out");
    let o = batch("worker-panic@2", &inp, &out, &[]);
    assert_page_two_failed_alone(&o, &out, "ocr");
    // The rerun redoes only the failed file, and without the fault it completes.
    let o = batch("", &inp, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(entry(&report(&out), "three.pdf")["pages"], 3);
}

#[test]
fn an_engine_that_hangs_is_stopped_by_the_page_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let inp = inputs(dir.path());
    let out = dir.path().join("out");
    let t = Instant::now();
    let o = batch("ocr-hang@2", &inp, &out, &["--page-timeout", "3"]);
    assert_page_two_failed_alone(&o, &out, "timeout");
    assert!(t.elapsed() < Duration::from_secs(120), "{:?}", t.elapsed());
}

#[test]
fn pdfium_failing_on_one_page_of_many_fails_that_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let inp = inputs(dir.path());
    let out = dir.path().join("out");
    let o = batch("pdfium-fail@2", &inp, &out, &[]);
    assert_page_two_failed_alone(&o, &out, "damaged-pdf");
}

#[test]
fn garbage_from_the_engine_is_kept_as_text_not_lost_or_passed_on() {
    // Bytes that are not UTF-8, a NUL and an escape sequence before every word of page 1.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("one.json");
    let o = sohoa(
        "ocr-garbage@1",
        &[
            "scan",
            root()
                .join("tests/data/formats/sample.png")
                .to_str()
                .unwrap(),
            "-o",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let words: Vec<&str> = doc["pages"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["words"].as_array().unwrap())
        .map(|w| w["ocr_text"].as_str().unwrap())
        .collect();
    assert!(words.len() > 10, "the page's words are kept: {words:?}");
    assert!(words.iter().all(|w| w.contains('\u{fffd}')), "{words:?}");
    assert!(
        words.iter().all(|w| !w.chars().any(char::is_control)),
        "control characters passed on: {words:?}"
    );
}

#[test]
fn a_single_file_scan_that_fails_writes_nothing_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("three.json");
    let o = sohoa(
        "ocr-panic@3",
        &[
            "scan",
            root()
                .join("tests/data/faults/three-pages.pdf")
                .to_str()
                .unwrap(),
            "-o",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("page 3"), "{}", stderr(&o));
    assert!(!json.exists());
    assert_eq!(files(dir.path()), Vec::<String>::new());
}

#[test]
fn tesseract_stops_at_its_deadline_and_the_engine_still_works() {
    use sohoa::ocr::{Engine, OcrOptions};
    let mut page = None;
    sohoa::raster::for_each_page(
        &root().join("tests/data/formats/sample.png"),
        sohoa::input::Kind::Png,
        &Default::default(),
        &mut |_| {},
        &mut |p| {
            page = Some(p);
            true
        },
    )
    .unwrap();
    let page = page.unwrap();
    let mut engine = Engine::new(&OcrOptions::default()).unwrap();
    // A deadline already past: Tesseract's monitor stops the recogniser at the first word.
    let r = engine.recognize(&page, Some(Instant::now()));
    assert!(matches!(r, Err(sohoa::Error::Timeout(_))), "{r:?}");
    let lines = engine.recognize(&page, None).unwrap();
    assert!(lines.iter().map(|l| l.words.len()).sum::<usize>() > 10);
}

// ---------------------------------------------------------------------------------------------
// The disk: a tmpfs, full or read-only (root only: CI runs as root; elsewhere these say so and
// pass without checking).

struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("cannot mount a tmpfs here (not root?): disk-fault test not run");
        }
        ok.then(|| Mount(at.to_path_buf()))
    }

    fn remount(&self, opts: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

/// Fill a file system until less than `leave` bytes are free.
fn fill(dir: &Path, leave: u64) {
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    use std::io::Write;
    let chunk = vec![0u8; 4096];
    loop {
        let st = nix_statvfs(dir);
        if st <= leave {
            break;
        }
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    f.sync_all().ok();
}

fn nix_statvfs(dir: &Path) -> u64 {
    let c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
    st.f_bavail as u64 * st.f_frsize as u64
}

#[test]
fn a_full_disk_fails_the_outputs_leaves_nothing_partial_and_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let inp = inputs(dir.path());
    let Some(m) = Mount::tmpfs(&dir.path().join("disk"), "256k") else {
        return;
    };
    let out = m.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    // Room for a text file (written first) but not for the JSON after it: the text must go too.
    fill(&m.0, 6 * 1024);
    let o = batch("", &inp, &out, &["--formats", "txt,json"]);
    // Each input failed on its write, with the reason; the small report still fits.
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("No space left"), "{}", stderr(&o));
    let r = report(&out);
    for name in ["three.pdf", "one.png", "one.pdf"] {
        assert_eq!(entry(&r, name)["reason"], "write", "{r}");
    }
    let left = files(&out);
    assert!(
        left.iter()
            .all(|f| f.starts_with(".sohoa/") || f == "report.json"),
        "partial outputs left on a full disk: {left:?}"
    );
    // Space again: the rerun does every file.
    std::fs::remove_file(m.0.join("filler")).unwrap();
    let o = batch("", &inp, &out, &["--formats", "txt,json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["summary"]["ok"], 3, "{r}");
}

#[test]
fn a_read_only_output_exits_5_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inp = inputs(dir.path());
    let Some(m) = Mount::tmpfs(&dir.path().join("disk"), "1m") else {
        return;
    };
    std::fs::create_dir_all(m.0.join("out")).unwrap();
    m.remount("ro");
    let o = batch("", &inp, &m.0.join("out"), &[]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("Read-only"), "{}", stderr(&o));
    let json = m.0.join("out/one.json");
    let o = sohoa(
        "",
        &[
            "scan",
            inp.join("one.png").to_str().unwrap(),
            "-o",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert_eq!(files(&m.0), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Resource limits.

/// A one-page PDF of `w` x `h` points (14,400 is PDF's largest) with a few strokes on it.
fn poster_pdf(w: u32, h: u32) -> Vec<u8> {
    let content = format!(
        "20 w 100 100 m {} {} l S 100 {} m {} 100 l S",
        w - 100,
        h - 100,
        h - 100,
        w - 100
    );
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Contents 4 0 R >>"),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        pdf.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// Peak resident memory of the finished children of this process, in bytes.
fn children_peak_rss() -> u64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru.ru_maxrss as u64 * 1024
}

#[test]
fn a_batch_of_bombs_stays_under_one_gib_and_each_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in");
    std::fs::create_dir_all(&inp).unwrap();
    // Two posters that render at the 60-megapixel cap (~515 MB each at work: two at once were
    // over 1 GiB before the memory budget), a PNG whose header claims 3.6 gigapixels and a TIFF
    // page of 20,000 x 20,000 (400 megapixels, over --max-image-mpixels).
    std::fs::write(inp.join("poster-1.pdf"), poster_pdf(14400, 14400)).unwrap();
    std::fs::write(inp.join("poster-2.pdf"), poster_pdf(10000, 14400)).unwrap();
    let mut png = std::fs::read(root().join("tests/fuzz/corpus/image/grey.png")).unwrap();
    png[16..24].copy_from_slice(&[0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60]);
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(inp.join("bomb.png"), png).unwrap();
    std::fs::copy(
        root().join("tests/data/faults/bomb-400mpx.tif"),
        inp.join("bomb.tif"),
    )
    .unwrap();
    std::fs::copy(
        root().join("tests/data/formats/sample.png"),
        inp.join("fine.png"),
    )
    .unwrap();

    let out = dir.path().join("out");
    let o = batch("", &inp, &out, &[]);
    let peak = children_peak_rss();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let r = report(&out);
    for name in ["poster-1.pdf", "poster-2.pdf", "fine.png"] {
        assert_eq!(entry(&r, name)["status"], "ok", "{name}: {r}");
    }
    for name in ["bomb.png", "bomb.tif"] {
        assert_eq!(entry(&r, name)["reason"], "too-large", "{name}: {r}");
    }
    assert!(peak < 1 << 30, "peak {} MiB", peak >> 20);
}

/// PNG's chunk checksum (CRC-32, ISO 3309).
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

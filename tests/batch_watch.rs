//! `sohoa batch` and `sohoa watch` through the real binary, in temporary folders: every input
//! accounted for, resume and --force, interruption, settling of files written in pieces, and
//! `kill -9` at any moment of the watcher with nothing lost and nothing done twice.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn data(name: &str) -> PathBuf {
    root().join("tests/data").join(name)
}

fn sohoa() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sohoa"))
}

fn run(args: &[&str]) -> Output {
    sohoa().args(args).output().expect("sohoa runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn put(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::fs::copy(src, dst).unwrap();
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

fn sha(p: &Path) -> String {
    sohoa::tree::sha256_file(p).unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

/// Files under `dir`, relative, sorted.
fn files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// The report entry of `input` (a path relative to IN).
fn entry<'a>(report: &'a Value, in_dir: &Path, input: &str) -> &'a Value {
    let want = in_dir.join(input).display().to_string();
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["input"] == want.as_str())
        .unwrap_or_else(|| panic!("{input} not in report"))
}

#[test]
fn batch_accounts_for_every_file_resumes_and_forces() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out) = (tmp.path().join("in"), tmp.path().join("out"));
    put(&data("viet.tif"), &inp.join("viet.tif"));
    put(&data("viet.tif"), &inp.join("a/b/viet.tif"));
    put(&data("viet.tif"), &inp.join("a/x.tif"));
    put(&data("not-a-pdf.pdf"), &inp.join("a/x.pdf"));
    for f in [
        "empty.pdf",
        "encrypted.pdf",
        "not-a-pdf.pdf",
        "truncated.pdf",
    ] {
        put(&data(f), &inp.join("bad").join(f));
    }
    std::fs::write(inp.join("notes.md"), "not a scan\n").unwrap();

    let o = run(&["batch", s(&inp), s(&out), "--jobs", "2"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let r = read_json(&out.join("report.json"));
    // Every file, once.
    let listed: BTreeSet<String> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["input"].as_str().unwrap().to_string())
        .collect();
    let walked: BTreeSet<String> = files(&inp)
        .iter()
        .map(|f| inp.join(f).display().to_string())
        .collect();
    assert_eq!(listed, walked);
    assert_eq!(r["files"].as_array().unwrap().len(), 9);
    let expect = [
        ("viet.tif", "ok", None),
        ("a/b/viet.tif", "ok", None),
        ("a/x.tif", "ok", None),
        ("a/x.pdf", "failed", Some("unknown-format")),
        ("bad/empty.pdf", "failed", Some("empty")),
        ("bad/encrypted.pdf", "failed", Some("encrypted")),
        ("bad/not-a-pdf.pdf", "failed", Some("unknown-format")),
        ("bad/truncated.pdf", "failed", Some("damaged-pdf")),
        ("notes.md", "skipped", Some("unsupported")),
    ];
    for (input, status, reason) in expect {
        let e = entry(&r, &inp, input);
        assert_eq!(e["status"], status, "{input}: {e}");
        if let Some(reason) = reason {
            assert_eq!(e["reason"], reason, "{input}: {e}");
            assert!(
                e["error"].as_str().is_some_and(|m| !m.is_empty()),
                "{input}: a reason in words"
            );
        }
    }
    let sum = &r["summary"];
    assert_eq!(
        (
            sum["ok"].as_u64(),
            sum["failed"].as_u64(),
            sum["skipped"].as_u64()
        ),
        (Some(3), Some(5), Some(1))
    );
    assert_eq!(
        sum["failures_by_reason"],
        serde_json::json!({"unknown-format": 2, "empty": 1, "encrypted": 1, "damaged-pdf": 1})
    );
    assert!(sum["pages_per_second"].as_f64().unwrap() > 0.0);
    // Mirrored outputs; same stem in one folder keeps the extensions apart.
    for o in [
        "viet.json",
        "viet.txt",
        "a/b/viet.json",
        "a/b/viet.txt",
        "a/x.tif.json",
        "a/x.tif.txt",
    ] {
        assert!(out.join(o).is_file(), "{o} missing; have {:?}", files(&out));
    }
    assert!(!out.join("a/x.json").exists() && !out.join("a/x.pdf.json").exists());
    let j = read_json(&out.join("a/b/viet.json"));
    assert_eq!(
        j["source"]["sha256"],
        sha(&inp.join("a/b/viet.tif")).as_str(),
        "content hash recorded in the output"
    );
    assert_eq!(entry(&r, &inp, "viet.tif")["pages"], 1);

    // Rerun: the done ones are skipped as up to date and not rewritten; the failed are retried.
    let before = mtime(&out.join("viet.json"));
    let o = run(&["batch", s(&inp), s(&out), "--jobs", "2"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let r = read_json(&out.join("report.json"));
    for input in ["viet.tif", "a/b/viet.tif", "a/x.tif"] {
        let e = entry(&r, &inp, input);
        assert_eq!(
            (e["status"].as_str(), e["reason"].as_str()),
            (Some("skipped"), Some("up-to-date")),
            "{input}: {e}"
        );
    }
    assert_eq!(entry(&r, &inp, "bad/encrypted.pdf")["status"], "failed");
    assert_eq!(mtime(&out.join("viet.json")), before);

    // A changed input is redone (its content hash no longer matches), the others are not.
    std::fs::copy(data("not-a-pdf.pdf"), inp.join("a/b/viet.tif")).unwrap();
    let o = run(&["batch", s(&inp), s(&out), "--jobs", "2"]);
    assert_eq!(o.status.code(), Some(4));
    let r = read_json(&out.join("report.json"));
    assert_eq!(entry(&r, &inp, "a/b/viet.tif")["reason"], "unknown-format");
    assert_eq!(entry(&r, &inp, "viet.tif")["reason"], "up-to-date");

    // --force redoes everything; changed settings (--no-restore) redo too.
    std::thread::sleep(Duration::from_millis(20));
    let o = run(&["batch", s(&inp), s(&out), "--jobs", "2", "--force"]);
    assert_eq!(o.status.code(), Some(4));
    let r = read_json(&out.join("report.json"));
    assert_eq!(entry(&r, &inp, "viet.tif")["status"], "ok");
    assert_ne!(mtime(&out.join("viet.json")), before);
    let o = run(&["batch", s(&inp), s(&out), "--jobs", "2", "--no-restore"]);
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(
        entry(&read_json(&out.join("report.json")), &inp, "viet.tif")["status"],
        "ok"
    );

    // Only the formats asked for; all ok means exit 0.
    let inp2 = tmp.path().join("in2");
    let out2 = tmp.path().join("out2");
    put(&data("viet.tif"), &inp2.join("one.tif"));
    let o = run(&["batch", s(&inp2), s(&out2), "--formats", "txt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out2.join("one.txt").is_file() && !out2.join("one.json").exists());
    let o = run(&["batch", s(&inp2), s(&out2), "--formats", "txt"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        entry(&read_json(&out2.join("report.json")), &inp2, "one.tif")["reason"],
        "up-to-date"
    );
}

#[test]
fn batch_refuses_pdf_output_into_the_input_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let inp = tmp.path().join("in");
    put(&root().join("samples/plan-page1.pdf"), &inp.join("x.pdf"));
    let before = sha(&inp.join("x.pdf"));
    let o = run(&["batch", s(&inp), s(&inp), "--formats", "pdf"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("overwrite the input PDFs"),
        "{}",
        stderr(&o)
    );
    assert_eq!(sha(&inp.join("x.pdf")), before);
    assert_eq!(files(&inp), BTreeSet::from(["x.pdf".to_string()]));
}

#[test]
fn batch_interrupted_writes_report_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out) = (tmp.path().join("in"), tmp.path().join("out"));
    let n = 40;
    for i in 0..n {
        put(
            &data("viet.tif"),
            &inp.join(format!("d{}/f{i:02}.tif", i % 3)),
        );
    }
    let child = sohoa()
        .args(["batch", s(&inp), s(&out), "--jobs", "1", "--no-restore"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = wait_until(Duration::from_secs(30), || {
        files(&out).iter().any(|f| f.ends_with(".json"))
    });
    assert!(first, "no output appeared");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["summary"]["interrupted"], true);
    assert_eq!(r["files"].as_array().unwrap().len(), n);
    let ok1: Vec<String> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "ok")
        .map(|e| e["input"].as_str().unwrap().into())
        .collect();
    let interrupted = r["summary"]["skipped_by_reason"]["interrupted"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        !ok1.is_empty() && interrupted > 0,
        "ok {} interrupted {interrupted}",
        ok1.len()
    );
    assert_eq!(ok1.len() as u64 + interrupted, n as u64, "{}", r["summary"]);

    let o = run(&["batch", s(&inp), s(&out), "--jobs", "2", "--no-restore"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = read_json(&out.join("report.json"));
    for e in r["files"].as_array().unwrap() {
        let done_before = ok1.iter().any(|i| e["input"] == i.as_str());
        let want = if done_before { "skipped" } else { "ok" };
        assert_eq!(e["status"], want, "{e}");
    }
    assert_eq!(
        files(&out)
            .iter()
            .filter(|f| f.ends_with(".json") && !f.starts_with("."))
            .count(),
        n + 1
    );
}

/// A running `sohoa watch`, its log in a file.
struct Watch {
    child: Child,
    log: PathBuf,
}

impl Watch {
    fn start(inp: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Watch {
        let log = out
            .parent()
            .unwrap()
            .join(format!("watch-{}.log", rand_suffix()));
        let f = std::fs::File::create(&log).unwrap();
        let mut cmd = sohoa();
        cmd.args(["watch", s(inp), s(out), "--jobs", "1", "--no-restore"])
            .args(extra)
            .stderr(f);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let w = Watch {
            child: cmd.spawn().unwrap(),
            log,
        };
        // Up (signal handler installed, journal settled) once it says what it watches.
        let up = wait_until(Duration::from_secs(30), || {
            w.log().contains("sohoa watch: watching")
        });
        assert!(up, "watch did not start:\n{}", w.log());
        w
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// SIGTERM, then wait: must exit 0.
    fn stop(mut self) -> String {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let ok = wait_until(Duration::from_secs(30), || {
            self.child.try_wait().unwrap().is_some()
        });
        assert!(ok, "watch did not stop on SIGTERM:\n{}", self.log());
        let st = self.child.wait().unwrap();
        assert_eq!(st.code(), Some(0), "{st:?}\n{}", self.log());
        self.log()
    }

    fn kill9(mut self) -> String {
        self.child.kill().unwrap();
        let _ = self.child.wait();
        self.log()
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_until(timeout, || self.child.try_wait().unwrap().is_some());
        self.child.try_wait().unwrap()
    }
}

fn rand_suffix() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Inputs still waiting in IN (what the watcher does not ignore).
fn pending(inp: &Path) -> Vec<String> {
    files(inp)
        .into_iter()
        .filter(|f| !sohoa::watch::ignored(Path::new(f)))
        .collect()
}

#[test]
fn watch_settles_partial_writes_and_fails_bad_files_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&inp).unwrap();
    put(&data("empty.pdf"), &inp.join("bad/empty.pdf"));
    put(&data("not-a-pdf.pdf"), &inp.join("bad/garbage.pdf"));
    put(&data("encrypted.pdf"), &inp.join("bad/encrypted.pdf"));
    put(&data("viet.tif"), &inp.join("good.tif"));
    for ignored in [".hidden.tif", "upload.tif.part", "x.tmp", ".cache/y.tif"] {
        put(&data("viet.tif"), &inp.join(ignored));
    }
    let w = Watch::start(&inp, &out, &["--settle", "2"], &[]);

    // Two files written in two halves: one with a pause shorter than --settle (never taken
    // half-written), one with a longer pause (taken, fails as damaged, is watched, and is
    // redone when the rest arrives: never failed).
    let full = std::fs::read(data("viet.tif")).unwrap();
    let (a, b) = full.split_at(full.len() / 2);
    std::fs::write(inp.join("slow.tif"), a).unwrap();
    std::fs::write(inp.join("sub/slower.tif").tap_mkdir(), a).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert!(
        !out.join("slow.json").exists() && !out.join("slow.txt").exists(),
        "taken before it was complete"
    );
    append(&inp.join("slow.tif"), b);
    std::thread::sleep(Duration::from_millis(3500));
    append(&inp.join("sub/slower.tif"), b);

    let done = wait_until(Duration::from_secs(40), || pending(&inp).is_empty());
    let log = w.stop();
    assert!(done, "still pending {:?}\n{log}", pending(&inp));
    let have = files(&out);
    for f in [
        "good.json",
        "good.txt",
        "slow.json",
        "slow.txt",
        "sub/slower.json",
        "sub/slower.txt",
        "archive/good.tif",
        "archive/slow.tif",
        "archive/sub/slower.tif",
        "failed/bad/empty.pdf",
        "failed/bad/empty.pdf.error.txt",
        "failed/bad/garbage.pdf",
        "failed/bad/garbage.pdf.error.txt",
        "failed/bad/encrypted.pdf",
        "failed/bad/encrypted.pdf.error.txt",
    ] {
        assert!(have.contains(f), "{f} missing; have {have:?}\n{log}");
    }
    let results: Vec<&String> = have
        .iter()
        .filter(|f| f.ends_with(".json") && !f.starts_with('.'))
        .collect();
    assert_eq!(results.len(), 3, "{have:?}");
    assert!(
        !have.iter().any(|f| f.contains("~")),
        "no second result: {have:?}"
    );
    for name in ["slow", "sub/slower"] {
        assert_eq!(
            std::fs::read(out.join(format!("archive/{name}.tif"))).unwrap(),
            full,
            "{name}: archived whole"
        );
        let j = read_json(&out.join(format!("{name}.json")));
        assert_eq!(
            j["source"]["sha256"],
            sha(&data("viet.tif")).as_str(),
            "{name}: result of the whole file"
        );
    }
    let reason = |f: &str| std::fs::read_to_string(out.join("failed/bad").join(f)).unwrap();
    assert!(
        reason("empty.pdf.error.txt").starts_with("empty file"),
        "{}",
        reason("empty.pdf.error.txt")
    );
    assert!(reason("garbage.pdf.error.txt").starts_with("not a PDF"));
    assert!(reason("encrypted.pdf.error.txt").contains("encrypted"));
    // Ignored names are left alone.
    for ignored in [".hidden.tif", "upload.tif.part", "x.tmp", ".cache/y.tif"] {
        assert!(inp.join(ignored).exists(), "{ignored} was taken");
    }
    // One log line per file, naming where the result went.
    assert!(
        log.lines()
            .any(|l| l.contains("good.tif: 1 pages") && l.contains("good.json")),
        "{log}"
    );
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(self.parent().unwrap()).unwrap();
        self
    }
}

fn append(p: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
    f.write_all(bytes).unwrap();
}

/// After a watcher run: every good input has exactly one result and one archived original, every
/// bad one exactly one failed original with its reason, nothing else.
fn assert_exactly_once(out: &Path, good: &[&str], bad: &[&str], log: &str) {
    let have = files(out);
    let results: BTreeSet<String> = have
        .iter()
        .filter(|f| !f.starts_with('.') && !f.starts_with("archive/") && !f.starts_with("failed/"))
        .cloned()
        .collect();
    let mut want = BTreeSet::new();
    for g in good {
        let stem = g.rsplit_once('.').unwrap().0;
        want.insert(format!("{stem}.json"));
        want.insert(format!("{stem}.txt"));
        assert!(
            have.contains(&format!("archive/{g}")),
            "{g} not archived; have {have:?}\n{log}"
        );
    }
    assert_eq!(results, want, "results\n{log}");
    let archived = have.iter().filter(|f| f.starts_with("archive/")).count();
    assert_eq!(archived, good.len(), "{have:?}");
    let failed: BTreeSet<String> = have
        .iter()
        .filter(|f| f.starts_with("failed/"))
        .cloned()
        .collect();
    let want_failed: BTreeSet<String> = bad
        .iter()
        .flat_map(|b| [format!("failed/{b}"), format!("failed/{b}.error.txt")])
        .collect();
    assert_eq!(failed, want_failed, "{log}");
    // The journal: every claim is done.
    let j = std::fs::read_to_string(out.join(".sohoa/watch.jsonl")).unwrap();
    let ids = |op: &str| -> BTreeSet<u64> {
        j.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["op"] == op)
            .map(|v| v["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids("claim").len(), good.len() + bad.len(), "{j}");
    assert_eq!(ids("claim"), ids("done"), "{j}");
}

#[test]
fn watch_survives_kill_9_at_each_step() {
    // Deterministic: the watcher kills itself with SIGKILL at each point of the protocol; the
    // restarted one must finish the job with the same names and nothing twice.
    for point in [
        "after-claim",
        "after-txt",
        "after-results",
        "after-move",
        "after-error-note",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let (inp, out) = (tmp.path().join("in"), tmp.path().join("out"));
        put(&data("viet.tif"), &inp.join("good.tif"));
        put(&data("not-a-pdf.pdf"), &inp.join("bad.pdf"));
        let mut w = Watch::start(
            &inp,
            &out,
            &["--settle", "0.3", "--poll"],
            &[("SOHOA_WATCH_CRASH", point)],
        );
        let st = w.wait_exit(Duration::from_secs(30));
        let log1 = w.log();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            st.and_then(|s| s.signal()),
            Some(libc::SIGKILL),
            "{point}: did not crash\n{log1}"
        );
        let w = Watch::start(&inp, &out, &["--settle", "0.3", "--poll"], &[]);
        let done = wait_until(Duration::from_secs(30), || pending(&inp).is_empty());
        let log2 = w.stop();
        let log = format!("{point}\n--- first run\n{log1}--- second run\n{log2}");
        assert!(done, "{log}");
        assert_exactly_once(&out, &["good.tif"], &["bad.pdf"], &log);
    }
}

#[test]
fn watch_kill_9_mid_run_then_restart_loses_and_repeats_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out) = (tmp.path().join("in"), tmp.path().join("out"));
    let good = [
        "a.tif",
        "b.tif",
        "c.tif",
        "d1/a.tif",
        "d1/b.tif",
        "d2/a.tif",
        "d2/c.tif",
        "d3/x/y.tif",
    ];
    for g in good {
        put(&data("viet.tif"), &inp.join(g));
    }
    put(&data("not-a-pdf.pdf"), &inp.join("d1/junk.pdf"));
    let w = Watch::start(&inp, &out, &["--settle", "0.5"], &[]);
    // Kill it as soon as the first original has been archived: the middle of the run.
    let started = wait_until(Duration::from_secs(30), || {
        files(&out).iter().any(|f| f.starts_with("archive/"))
    });
    let log1 = w.kill9();
    assert!(started, "{log1}");
    assert!(
        !pending(&inp).is_empty(),
        "finished before the kill; nothing tested\n{log1}"
    );
    let w = Watch::start(&inp, &out, &["--settle", "0.5", "--poll"], &[]);
    let done = wait_until(Duration::from_secs(40), || pending(&inp).is_empty());
    // A second, different file with a name already used: its own result, no overwrite.
    put(&data("encrypted.pdf"), &inp.join("d1/junk.pdf"));
    put(&data("viet.tif"), &inp.join("a.tif"));
    let done2 = wait_until(Duration::from_secs(30), || pending(&inp).is_empty());
    let log2 = w.stop();
    let log = format!("--- first run\n{log1}--- second run\n{log2}");
    assert!(done && done2, "{log}");
    let have = files(&out);
    for f in [
        "a.json",
        "a~2.json",
        "archive/a.tif",
        "archive/a~2.tif",
        "failed/d1/junk.pdf",
        "failed/d1/junk~2.pdf.error.txt",
    ] {
        assert!(have.contains(f), "{f} missing: {have:?}\n{log}");
    }
    assert!(
        std::fs::read_to_string(out.join("failed/d1/junk~2.pdf.error.txt"))
            .unwrap()
            .contains("encrypted")
    );
    let mut all_good: Vec<&str> = good.to_vec();
    all_good.push("a~2.tif");
    assert_exactly_once(&out, &all_good, &["d1/junk.pdf", "d1/junk~2.pdf"], &log);
}

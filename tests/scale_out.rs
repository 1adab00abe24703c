//! `sohoa submit` / `worker` / `status` against a real `redis-server` on loopback: three worker
//! processes, one of them killed with SIGKILL while it holds a job. Every result must exist
//! exactly once, every page be counted once, and the dead-letter list hold only the garbage file.
//!
//! Needs `redis-server` on PATH (scripts/setup installs it).

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sohoa() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sohoa"))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A child process killed (SIGKILL) and reaped when dropped, whatever happened in the test.
struct Guard(Option<Child>);

impl Guard {
    fn pid(&self) -> u32 {
        self.0.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Wait for the process to exit by itself; its exit code.
    fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if let Some(c) = self.0.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    self.0 = None;
                    return st.code();
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A throwaway redis-server: no persistence, on a free loopback port, in `dir`.
fn start_redis(dir: &Path) -> (Guard, String) {
    for _ in 0..5 {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                s(dir),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/setup installs it)");
        let mut g = Guard(Some(child));
        let url = format!("redis://127.0.0.1:{port}");
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if sohoa::queue::open(&url).is_ok() {
                return (g, url);
            }
            if g.wait_exit(Duration::from_millis(100)).is_some() {
                break; // port taken meanwhile: try another
            }
        }
        g.kill9();
    }
    panic!("redis-server did not start");
}

fn worker(url: &str, log: &Path) -> Guard {
    let child = sohoa()
        .args([
            "worker",
            "--queue",
            url,
            "--jobs",
            "1",
            "--no-restore",
            "--ack-timeout",
            "3",
            "--drain",
        ])
        .stdout(Stdio::null())
        .stderr(File::create(log).unwrap())
        .spawn()
        .expect("sohoa runs");
    Guard(Some(child))
}

fn submit(url: &str, input: &Path, out: &Path) -> Value {
    let o = sohoa()
        .args([
            "submit",
            s(input),
            "--queue",
            url,
            "--out",
            s(out),
            "--pages-per-job",
            "1",
            "--json",
        ])
        .output()
        .expect("sohoa runs");
    assert!(
        o.status.success(),
        "submit failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("submit --json")
}

/// Visible files under `dir` (hidden names, such as temporary files and `.sohoa`, left out).
fn visible_files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
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

fn read_json(p: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

#[test]
fn three_workers_one_killed_every_result_once_garbage_dead_lettered() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(input.join("sub")).unwrap();
    let samples = root().join("samples");
    std::fs::copy(
        samples.join("plan-2pages.pdf"),
        input.join("plan-2pages.pdf"),
    )
    .unwrap();
    std::fs::copy(
        samples.join("plan-page1.pdf"),
        input.join("sub/plan-page1.pdf"),
    )
    .unwrap();
    std::fs::copy(
        samples.join("plan-medium-crop.png"),
        input.join("sub/crop.png"),
    )
    .unwrap();
    std::fs::write(input.join("garbage.pdf"), b"this is not a PDF at all\n").unwrap();
    std::fs::write(input.join("notes.txt"), b"not a scan\n").unwrap();

    let redis_dir = tmp.path().join("redis");
    std::fs::create_dir_all(&redis_dir).unwrap();
    let (_redis, url) = start_redis(&redis_dir);

    // Submit twice: the second adds nothing. plan-2pages.pdf is split into two one-page jobs.
    let first = submit(&url, &input, &out);
    assert_eq!(first["jobs_added"], 5, "{first}");
    assert_eq!(first["unsupported"], 1, "{first}");
    let again = submit(&url, &input, &out);
    assert_eq!(again["jobs_added"], 0, "{again}");
    assert_eq!(again["jobs_in_flight"], 5, "{again}");

    let mut q = sohoa::queue::open(&url).unwrap();
    let logs: Vec<PathBuf> = (0..3)
        .map(|i| tmp.path().join(format!("worker{i}.log")))
        .collect();

    // The victim starts alone so that it is sure to hold a job when it is killed.
    let mut victim = worker(&url, &logs[0]);
    let victim_name = format!("-{}-0", victim.pid());
    let holds = |q: &mut Box<dyn sohoa::queue::Queue>| {
        q.workers()
            .unwrap()
            .iter()
            .any(|w| w.name.ends_with(&victim_name) && w.pending > 0)
    };
    let t = Instant::now();
    while !holds(&mut q) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the first worker never took a job: {}",
            std::fs::read_to_string(&logs[0]).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut others = [worker(&url, &logs[1]), worker(&url, &logs[2])];
    std::thread::sleep(Duration::from_millis(700));
    assert!(holds(&mut q), "the victim finished its job too soon");
    victim.kill9();
    // Killed mid-job: the job is still pending on the dead worker.
    assert!(holds(&mut q), "the victim's job vanished with it");

    // The others drain the queue, taking over the victim's job after the ack timeout.
    for (k, w) in others.iter_mut().enumerate() {
        let code = w.wait_exit(Duration::from_secs(80));
        assert_eq!(
            code,
            Some(0),
            "worker {} did not drain and exit: {}",
            k + 1,
            std::fs::read_to_string(&logs[k + 1]).unwrap_or_default()
        );
    }
    let survivor_logs: String = logs[1..]
        .iter()
        .map(|l| std::fs::read_to_string(l).unwrap_or_default())
        .collect();
    eprintln!("survivors' logs:\n{survivor_logs}");
    assert!(
        survivor_logs.contains("taking over"),
        "nobody took over the killed worker's job:\n{survivor_logs}"
    );

    // Every page counted once, every job done once.
    let c = q.counts().unwrap();
    assert!(c.drained(), "{c:?}");
    assert_eq!(c.done, 4, "{c:?}\n{survivor_logs}");
    assert_eq!(c.pages, 4, "{c:?}\n{survivor_logs}");
    assert_eq!(c.failed, 1, "{c:?}");

    // The dead-letter list holds the garbage file alone, with its reason.
    let dead = q.dead_letters(100).unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].job.rel, "garbage.pdf");
    assert_eq!(dead[0].reason, "unknown-format");

    // Status writes report.json now that the queue is drained.
    let o = sohoa()
        .args(["status", "--queue", &url, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["drained"], true, "{st}");

    // Each result exactly once: no second copy under another name, no partial documents left.
    let expected: BTreeSet<String> = [
        "plan-2pages.json",
        "plan-2pages.txt",
        "sub/plan-page1.json",
        "sub/plan-page1.txt",
        "sub/crop.json",
        "sub/crop.txt",
        "report.json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(visible_files(&out), expected);
    let parts = out.join(".sohoa/parts");
    let leftover: Vec<_> = std::fs::read_dir(&parts)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftover.is_empty(), "partial documents left: {leftover:?}");
    for (rel, n) in [
        ("plan-2pages", 2usize),
        ("sub/plan-page1", 1),
        ("sub/crop", 1),
    ] {
        let doc = read_json(&out.join(format!("{rel}.json")));
        let pages = doc["pages"].as_array().unwrap();
        let idx: Vec<u64> = pages.iter().map(|p| p["index"].as_u64().unwrap()).collect();
        assert_eq!(idx, (1..=n as u64).collect::<Vec<_>>(), "{rel}");
        assert_eq!(doc["source"]["pages"], n as u64, "{rel}");
        let text = std::fs::read_to_string(out.join(format!("{rel}.txt"))).unwrap();
        assert_eq!(text.matches('\u{c}').count(), n - 1, "{rel}: pages in text");
        assert!(text.trim().len() > 20, "{rel}: text {text:?}");
    }

    // The report is batch's.
    let r = read_json(&out.join("report.json"));
    let sum = &r["summary"];
    assert_eq!(sum["files"], 5, "{sum}");
    assert_eq!(sum["ok"], 3, "{sum}");
    assert_eq!(sum["failed"], 1, "{sum}");
    assert_eq!(sum["skipped"], 1, "{sum}");
    assert_eq!(sum["pages"], 4, "{sum}");
    assert_eq!(sum["failures_by_reason"]["unknown-format"], 1, "{sum}");
    assert_eq!(sum["skipped_by_reason"]["unsupported"], 1, "{sum}");
    let entries = r["files"].as_array().unwrap();
    let status_of = |name: &str| {
        entries
            .iter()
            .find(|e| e["input"].as_str().unwrap().ends_with(name))
            .map(|e| e["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status_of("garbage.pdf").as_deref(), Some("failed"));
    assert_eq!(status_of("plan-2pages.pdf").as_deref(), Some("ok"));

    // Submitting the finished tree again: the results are up to date; only the failure is
    // queued again (failed inputs are retried, as batch retries them).
    let third = submit(&url, &input, &out);
    assert_eq!(third["up_to_date"], 3, "{third}");
    assert_eq!(third["jobs_added"], 1, "{third}");
}

fn job(id: &str, rel: &str) -> sohoa::queue::Job {
    sohoa::queue::Job {
        id: id.into(),
        run: "r1".into(),
        input_root: "/in".into(),
        output_root: "/out".into(),
        rel: rel.into(),
        base: rel.trim_end_matches(".pdf").into(),
        sha256: "ab".repeat(32),
        formats: vec![sohoa::emit::Format::Json],
        pages: 3,
        range: None,
        parts: 1,
        attempt: 0,
    }
}

fn record(rel: &str, state: sohoa::queue::FileState) -> sohoa::queue::FileRecord {
    sohoa::queue::FileRecord {
        rel: rel.into(),
        input: format!("/in/{rel}"),
        state,
        error: None,
        reason: None,
        pages: 3,
        seconds: 0.0,
        outputs: vec![],
        sha256: Some("ab".repeat(32)),
        parts: 1,
    }
}

/// The queue's contract, without OCR: idempotent submit, takeover of a job whose worker went
/// quiet (and not of one kept alive), one count per job however often it is delivered, retry
/// without duplicates, dead letters, and a resubmit that takes a dead letter back.
#[test]
fn redis_queue_redelivers_counts_once_and_dead_letters() {
    use sohoa::queue::{DeadLetter, FileState};
    let tmp = tempfile::tempdir().unwrap();
    let (_redis, url) = start_redis(tmp.path());
    let mut q = sohoa::queue::open(&url).unwrap();
    let (hour, short) = (Duration::from_secs(3600), Duration::from_millis(300));
    let wait = Duration::from_millis(100);

    let a = job("job-a", "a.pdf");
    assert_eq!(
        q.submit(
            "r1",
            &record("a.pdf", FileState::Queued),
            std::slice::from_ref(&a)
        )
        .unwrap(),
        1
    );
    assert_eq!(
        q.submit(
            "r1",
            &record("a.pdf", FileState::Queued),
            std::slice::from_ref(&a)
        )
        .unwrap(),
        0
    );
    let c = q.counts().unwrap();
    assert_eq!((c.queued, c.running), (1, 0));

    let d1 = q.next("w1", hour, wait).unwrap().expect("a job");
    assert_eq!((d1.job.id.as_str(), d1.deliveries), ("job-a", 1));
    assert!(
        q.next("w2", hour, wait).unwrap().is_none(),
        "delivered once"
    );
    let c = q.counts().unwrap();
    assert_eq!((c.queued, c.running), (0, 1));

    // Kept alive: not taken over, however short the ack timeout.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(150));
        assert!(q.keep_alive("w1", &d1).unwrap());
        assert!(
            q.next("w2", short, wait).unwrap().is_none(),
            "taken from a live worker"
        );
    }
    assert!(!q.keep_alive("w2", &d1).unwrap(), "w2 does not hold it");

    // w1 goes quiet: w2 takes the job over, as its second delivery.
    std::thread::sleep(Duration::from_millis(400));
    let d2 = q.next("w2", short, wait).unwrap().expect("taken over");
    assert_eq!((d2.job.id.as_str(), d2.deliveries), ("job-a", 2));
    assert!(!q.keep_alive("w1", &d1).unwrap(), "no longer w1's");
    let mut done = record("a.pdf", FileState::Ok);
    done.outputs = vec!["/out/a.json".into()];
    assert!(q.complete(&d2, 3, Some(&done)).unwrap());
    // w1 wakes up and finishes too: acknowledged, not counted again.
    assert!(!q.complete(&d1, 3, Some(&done)).unwrap());
    let c = q.counts().unwrap();
    assert_eq!(
        (c.queued, c.running, c.done, c.pages),
        (0, 0, 1, 3),
        "{c:?}"
    );
    assert!(c.drained());
    assert_eq!(q.file("r1", "a.pdf").unwrap().unwrap().state, FileState::Ok);

    // A failed attempt goes back once, with its attempt counted; a repeated retry call (a lost
    // reply) adds no second copy.
    let b = job("job-b", "b.pdf");
    assert_eq!(
        q.submit("r1", &record("b.pdf", FileState::Queued), &[b])
            .unwrap(),
        1
    );
    let d = q.next("w1", hour, wait).unwrap().unwrap();
    q.retry(&d).unwrap();
    q.retry(&d).unwrap();
    let d = q.next("w1", hour, wait).unwrap().expect("retried");
    assert_eq!((d.job.attempt, d.deliveries), (1, 1));
    assert!(q.next("w2", hour, wait).unwrap().is_none(), "retried twice");

    // Dead letter, with the file failed.
    let dl = DeadLetter {
        job: d.job.clone(),
        reason: "damaged-pdf".into(),
        error: "broken".into(),
        attempts: 2,
        worker: "w1".into(),
        at: 0.0,
    };
    let mut failed = record("b.pdf", FileState::Failed);
    failed.reason = Some("damaged-pdf".into());
    q.bury(&d, &dl, Some(&failed)).unwrap();
    let c = q.counts().unwrap();
    assert_eq!((c.queued, c.running, c.failed), (0, 0, 1), "{c:?}");
    assert_eq!(q.dead_letters(10).unwrap(), vec![dl]);
    assert_eq!(
        q.file("r1", "b.pdf").unwrap().unwrap().state,
        FileState::Failed
    );

    // Submitting it again takes it out of the dead letters and queues it.
    let b = job("job-b", "b.pdf");
    assert_eq!(
        q.submit("r1", &record("b.pdf", FileState::Queued), &[b])
            .unwrap(),
        1
    );
    let c = q.counts().unwrap();
    assert_eq!((c.queued, c.failed), (1, 0), "{c:?}");
}

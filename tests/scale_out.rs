//! `sohoa submit` / `worker` / `status` against a real `redis-server` on loopback: three worker
//! processes, one of them killed with SIGKILL while it holds a job. Every result must exist
//! exactly once, every page be counted once, and the dead-letter list hold only the garbage file.
//!
//! The same run with IN and OUT in an S3 bucket, served by `moto_server` on loopback: no shared
//! file system between the workers, and still every result exactly once.
//!
//! Needs `redis-server` on PATH and `moto_server` in `.venv/` (scripts/setup installs both).

use serde_json::Value;
use sohoa::report::{Entry, Status};
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

/// A worker, with extra environment variables (the S3 credentials and endpoint).
fn worker_with(url: &str, log: &Path, env: &[(&str, String)]) -> Guard {
    let child = sohoa()
        .envs(env.iter().map(|(k, v)| (k, v)))
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
    submit_with(url, s(input), s(out), &[])
}

fn submit_with(url: &str, input: &str, out: &str, env: &[(&str, String)]) -> Value {
    let o = sohoa()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args([
            "submit",
            input,
            "--queue",
            url,
            "--out",
            out,
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

/// Start a worker, SIGKILL it while it holds a job, start two more beside it and wait for those
/// to drain the queue; one of them must have taken the killed worker's job over. Returns the
/// survivors' logs.
fn three_workers_one_killed(
    url: &str,
    q: &mut Box<dyn sohoa::queue::Queue>,
    tmp: &Path,
    env: &[(&str, String)],
) -> String {
    let logs: Vec<PathBuf> = (0..3).map(|i| tmp.join(format!("worker{i}.log"))).collect();

    // The victim starts alone so that it is sure to hold a job when it is killed.
    let mut victim = worker_with(url, &logs[0], env);
    let victim_name = format!("-{}-0", victim.pid());
    let holds = |q: &mut Box<dyn sohoa::queue::Queue>| {
        q.workers()
            .unwrap()
            .iter()
            .any(|w| w.name.ends_with(&victim_name) && w.pending > 0)
    };
    let t = Instant::now();
    while !holds(q) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the first worker never took a job: {}",
            std::fs::read_to_string(&logs[0]).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut others = [
        worker_with(url, &logs[1], env),
        worker_with(url, &logs[2], env),
    ];
    std::thread::sleep(Duration::from_millis(700));
    assert!(holds(q), "the victim finished its job too soon");
    victim.kill9();
    // Killed mid-job: the job is still pending on the dead worker.
    assert!(holds(q), "the victim's job vanished with it");

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
    survivor_logs
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
    let survivor_logs = three_workers_one_killed(&url, &mut q, tmp.path(), &[]);

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

fn record(rel: &str, status: Status) -> sohoa::queue::FileRecord {
    let entry = Entry {
        pages: 3,
        sha256: Some("ab".repeat(32)),
        ..Entry::new(format!("/in/{rel}"), status)
    };
    sohoa::queue::FileRecord {
        rel: rel.into(),
        parts: 1,
        entry,
    }
}

/// The queue's contract, without OCR: idempotent submit, takeover of a job whose worker went
/// quiet (and not of one kept alive), one count per job however often it is delivered, retry
/// without duplicates, dead letters, and a resubmit that takes a dead letter back.
#[test]
fn redis_queue_redelivers_counts_once_and_dead_letters() {
    use sohoa::queue::DeadLetter;
    let tmp = tempfile::tempdir().unwrap();
    let (_redis, url) = start_redis(tmp.path());
    let mut q = sohoa::queue::open(&url).unwrap();
    let (hour, short) = (Duration::from_secs(3600), Duration::from_millis(300));
    let wait = Duration::from_millis(100);

    let a = job("job-a", "a.pdf");
    assert_eq!(
        q.submit(
            "r1",
            &record("a.pdf", Status::Skipped),
            std::slice::from_ref(&a)
        )
        .unwrap(),
        1
    );
    assert_eq!(
        q.submit(
            "r1",
            &record("a.pdf", Status::Skipped),
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
    let mut done = record("a.pdf", Status::Ok);
    done.entry.outputs = vec!["/out/a.json".into()];
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
    assert_eq!(
        q.file("r1", "a.pdf").unwrap().unwrap().entry.status,
        Status::Ok
    );

    // A failed attempt goes back once, with its attempt counted; a repeated retry call (a lost
    // reply) adds no second copy.
    let b = job("job-b", "b.pdf");
    assert_eq!(
        q.submit("r1", &record("b.pdf", Status::Skipped), &[b])
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
    let mut failed = record("b.pdf", Status::Failed);
    failed.entry.reason = Some("damaged-pdf".into());
    q.bury(&d, &dl, Some(&failed)).unwrap();
    let c = q.counts().unwrap();
    assert_eq!((c.queued, c.running, c.failed), (0, 0, 1), "{c:?}");
    assert_eq!(q.dead_letters(10).unwrap(), vec![dl]);
    assert_eq!(
        q.file("r1", "b.pdf").unwrap().unwrap().entry.status,
        Status::Failed
    );

    // Submitting it again takes it out of the dead letters and queues it.
    let b = job("job-b", "b.pdf");
    assert_eq!(
        q.submit("r1", &record("b.pdf", Status::Skipped), &[b])
            .unwrap(),
        1
    );
    let c = q.counts().unwrap();
    assert_eq!((c.queued, c.failed), (1, 0), "{c:?}");
}

/// `moto_server`, an S3-compatible server: `$SOHOA_MOTO_SERVER`, `.venv/bin/moto_server`
/// (where scripts/setup installs it), or on PATH. Missing, the S3 test fails and says why: it
/// must not pass without having run.
fn moto_server() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut candidates: Vec<PathBuf> = std::env::var_os("SOHOA_MOTO_SERVER")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push(root().join(".venv/bin/moto_server"));
    candidates.extend(std::env::split_paths(&path).map(|d| d.join("moto_server")));
    candidates
        .into_iter()
        .find(|c| c.is_file())
        .unwrap_or_else(|| {
            panic!(
                "moto_server (the S3-compatible server this test runs against) is missing: \
             run scripts/setup, which installs moto[server] into .venv/"
            )
        })
}

/// One bare HTTP/1.1 request to a loopback port; the response's status line.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut r = String::new();
    c.read_to_string(&mut r)?;
    Ok(r.lines().next().unwrap_or_default().to_string())
}

/// A throwaway S3 server on a free loopback port, with the bucket `archive`; its endpoint.
fn start_s3() -> (Guard, String) {
    let moto = moto_server();
    for _ in 0..5 {
        let port = free_port();
        let child = Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", moto.display()));
        let mut g = Guard(Some(child));
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(status) = http(port, "PUT", "/archive") {
                assert!(status.contains(" 200 "), "creating the bucket: {status}");
                return (g, format!("http://127.0.0.1:{port}"));
            }
            if g.wait_exit(Duration::from_millis(200)).is_some() {
                break; // port taken meanwhile: try another
            }
        }
        g.kill9();
    }
    panic!("moto_server did not start");
}

/// Inputs and outputs in a bucket, nothing shared on disk between submit and the workers: the
/// same guarantees as on a shared path (every result once, the killed worker's job taken over,
/// the garbage dead-lettered, report.json, an idempotent resubmit).
#[test]
fn s3_three_workers_one_killed_every_result_once_in_the_bucket() {
    use sohoa::scale::storage::{S3Storage, Storage};
    let tmp = tempfile::tempdir().unwrap();
    let (_s3, endpoint) = start_s3();
    let (_redis, url) = start_redis(tmp.path());
    // What workers read from their environment, as on any machine.
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ];
    let config = [
        ("aws_endpoint_url", endpoint.as_str()),
        ("aws_access_key_id", "testing"),
        ("aws_secret_access_key", "testing"),
        ("aws_region", "us-east-1"),
    ];
    let scans = S3Storage::with_config("s3://archive/scans", &config).unwrap();
    let out = S3Storage::with_config("s3://archive/ocr", &config).unwrap();
    let samples = root().join("samples");
    for (from, to) in [
        ("plan-2pages.pdf", "plan-2pages.pdf"),
        ("plan-page1.pdf", "sub/plan-page1.pdf"),
        ("plan-medium-crop.png", "sub/crop.png"),
    ] {
        scans
            .put(to, &std::fs::read(samples.join(from)).unwrap())
            .unwrap();
    }
    scans
        .put("garbage.pdf", b"this is not a PDF at all\n")
        .unwrap();
    scans.put("notes.txt", b"not a scan\n").unwrap();

    let first = submit_with(&url, "s3://archive/scans", "s3://archive/ocr", &env);
    assert_eq!(first["jobs_added"], 5, "{first}");
    assert_eq!(first["unsupported"], 1, "{first}");
    assert_eq!(first["output"], "s3://archive/ocr", "{first}");
    let again = submit_with(&url, "s3://archive/scans", "s3://archive/ocr", &env);
    assert_eq!(again["jobs_added"], 0, "{again}");
    assert_eq!(again["jobs_in_flight"], 5, "{again}");

    let mut q = sohoa::queue::open(&url).unwrap();
    let survivor_logs = three_workers_one_killed(&url, &mut q, tmp.path(), &env);
    let c = q.counts().unwrap();
    assert!(c.drained(), "{c:?}");
    assert_eq!(
        (c.done, c.pages, c.failed),
        (4, 4, 1),
        "{c:?}\n{survivor_logs}"
    );
    let dead = q.dead_letters(100).unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (dead[0].job.rel.as_str(), dead[0].reason.as_str()),
        ("garbage.pdf", "unknown-format")
    );

    // status writes report.json into the bucket.
    let o = sohoa()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["status", "--queue", &url, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["reports"][0], "s3://archive/ocr/report.json", "{st}");

    // Every object under ocr/, listed by the server: each result once, no partial documents.
    let (objects, errors) = out.walk(&[]);
    assert!(errors.is_empty(), "{errors:?}");
    let expected: Vec<&str> = vec![
        "plan-2pages.json",
        "plan-2pages.txt",
        "report.json",
        "sub/crop.json",
        "sub/crop.txt",
        "sub/plan-page1.json",
        "sub/plan-page1.txt",
    ];
    assert_eq!(objects, expected, "the bucket holds other objects");
    for (rel, n) in [
        ("plan-2pages", 2usize),
        ("sub/plan-page1", 1),
        ("sub/crop", 1),
    ] {
        let doc: Value =
            serde_json::from_slice(&out.get(&format!("{rel}.json")).unwrap().unwrap()).unwrap();
        let idx: Vec<u64> = (doc["pages"].as_array().unwrap().iter())
            .map(|p| p["index"].as_u64().unwrap())
            .collect();
        assert_eq!(idx, (1..=n as u64).collect::<Vec<_>>(), "{rel}");
        assert_eq!(
            doc["source"]["path"],
            format!("s3://archive/scans/{}", input_of(rel)),
            "{rel}"
        );
        let text = String::from_utf8(out.get(&format!("{rel}.txt")).unwrap().unwrap()).unwrap();
        assert_eq!(text.matches('\u{c}').count(), n - 1, "{rel}: pages in text");
        assert!(text.trim().len() > 20, "{rel}: text {text:?}");
    }
    let r: Value = serde_json::from_slice(&out.get("report.json").unwrap().unwrap()).unwrap();
    let sum = &r["summary"];
    assert_eq!(
        (&sum["files"], &sum["ok"], &sum["failed"], &sum["skipped"]),
        (&5.into(), &3.into(), &1.into(), &1.into()),
        "{sum}"
    );

    // Submitting again: the results in the bucket are up to date; only the failure is queued.
    let third = submit_with(&url, "s3://archive/scans", "s3://archive/ocr", &env);
    assert_eq!(third["up_to_date"], 3, "{third}");
    assert_eq!(third["jobs_added"], 1, "{third}");
}

/// The input an output base came from in the S3 test's tree.
fn input_of(base: &str) -> String {
    match base {
        "sub/crop" => "sub/crop.png".into(),
        b => format!("{b}.pdf"),
    }
}

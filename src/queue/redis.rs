//! [`Queue`] on Redis Streams.
//!
//! Keys (all under the hash tag `{sohoa}`, so they share a cluster slot and the Lua scripts may
//! touch them together):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{sohoa}:jobs` | stream, consumer group `workers` | one entry per delivery attempt: `job` = the [`Job`] as JSON |
//! | `{sohoa}:inflight` | set | ids of jobs queued or running: what makes `submit` idempotent |
//! | `{sohoa}:dead` | hash | job id → [`DeadLetter`] |
//! | `{sohoa}:stats` | hash | `done`, `pages`, `started_at`, `last_done_at` (ms) since the queue was last idle |
//! | `{sohoa}:recent` | sorted set | finished jobs of the last 10 minutes, by time, for pages/s |
//! | `{sohoa}:runs` | hash | run id → [`RunRecord`] |
//! | `{sohoa}:files:RUN` | hash | input (relative path) → [`FileRecord`] |
//! | `{sohoa}:parts:RUN:SHA:REL` | set | ranges of a split file that are done |
//! | `{sohoa}:settings` | string | the first worker's engine settings |
//!
//! A worker reads new entries with `XREADGROUP … >`; an entry it holds stays in the group's
//! pending list until `XACK`. While working it re-claims its own entries (`XCLAIM … JUSTID`,
//! which resets the idle time without counting a delivery), so a long job is never taken from a
//! live worker. When a worker dies, its entries' idle time grows past the ack timeout and the
//! next worker asking for work takes them over with `XAUTOCLAIM`; the delivery counter
//! (`XPENDING`) tells how often that has happened, so a job that kills its workers ends in the
//! dead-letter list instead of looping. Acknowledgements remove the entry (`XDEL`), so the
//! stream holds only work still to do.

use super::resp::{Conn, Endpoint, Value};
use super::{
    Counts, DeadLetter, Delivery, FileRecord, Job, QResult, Queue, QueueError, RunRecord,
    WorkerInfo,
};
use std::time::Duration;

const STREAM: &str = "{sohoa}:jobs";
const GROUP: &str = "workers";
const INFLIGHT: &str = "{sohoa}:inflight";
const DEAD: &str = "{sohoa}:dead";
const STATS: &str = "{sohoa}:stats";
const RECENT: &str = "{sohoa}:recent";
const RUNS: &str = "{sohoa}:runs";
const SETTINGS: &str = "{sohoa}:settings";
/// pages/s in `status` is over this window.
const WINDOW_MS: i64 = 60_000;
/// Range sets of split files expire this long after their last update (a file whose other
/// ranges never finish does not leave them forever).
const PARTS_TTL_S: i64 = 30 * 86_400;

fn files_key(run: &str) -> String {
    format!("{{sohoa}}:files:{run}")
}

fn parts_key(job: &Job) -> String {
    let sha = &job.sha256[..job.sha256.len().min(16)];
    format!("{{sohoa}}:parts:{}:{sha}:{}", job.run, job.rel)
}

/// Record a file unless the stored record is for other content (a newer submit).
const SET_FILE: &str = r#"
local function set_file(key, rel, json)
  local cur = redis.call('HGET', key, rel)
  if cur then
    local c = cjson.decode(cur)
    local n = cjson.decode(json)
    if type(c.sha256) == 'string' and type(n.sha256) == 'string' and c.sha256 ~= n.sha256 then
      return
    end
  end
  redis.call('HSET', key, rel, json)
end
"#;

/// KEYS: inflight stream files dead stats recent; ARGV: rel filejson (jobid jobjson)*
const SUBMIT: &str = r#"
local added = 0
local idle = redis.call('SCARD', KEYS[1]) == 0
for i = 3, #ARGV, 2 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    if added == 0 and idle then
      redis.call('DEL', KEYS[5], KEYS[6])
    end
    redis.call('HDEL', KEYS[4], ARGV[i])
    redis.call('XADD', KEYS[2], '*', 'job', ARGV[i + 1])
    added = added + 1
  end
end
if added > 0 or #ARGV < 3 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
else
  redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2])
end
return added
"#;

/// KEYS: stream; ARGV: group id consumer
const KEEP_ALIVE: &str = r#"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 1 and p[1][2] == ARGV[3] then
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
  return 1
end
return 0
"#;

/// KEYS: parts; ARGV: range ttl
const RANGE_DONE: &str = r#"
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('SCARD', KEYS[1])
"#;

/// KEYS: stream inflight stats recent files parts; ARGV: group id jobid pages now_ms rel filejson
const COMPLETE: &str = r#"
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
local fresh = redis.call('SREM', KEYS[2], ARGV[3])
if fresh == 1 then
  local pages = tonumber(ARGV[4])
  local now = tonumber(ARGV[5])
  redis.call('HINCRBY', KEYS[3], 'done', 1)
  redis.call('HINCRBY', KEYS[3], 'pages', pages)
  redis.call('HSET', KEYS[3], 'last_done_at', ARGV[5])
  if pages > 0 then
    redis.call('ZADD', KEYS[4], now, ARGV[5] .. ':' .. ARGV[3] .. ':' .. ARGV[4])
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 600000)
end
if ARGV[7] ~= '' then
  set_file(KEYS[5], ARGV[6], ARGV[7])
  redis.call('DEL', KEYS[6])
end
return fresh
"#;

/// KEYS: stream inflight; ARGV: group id jobid newjobjson
const RETRY: &str = r#"
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then
  redis.call('XADD', KEYS[1], '*', 'job', ARGV[4])
  return 1
end
return 0
"#;

/// KEYS: stream inflight dead files; ARGV: group id jobid deadjson rel filejson
const BURY: &str = r#"
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('SREM', KEYS[2], ARGV[3]) == 1 then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
  if ARGV[6] ~= '' then
    set_file(KEYS[4], ARGV[5], ARGV[6])
  end
  return 1
end
return 0
"#;

pub struct RedisQueue {
    ep: Endpoint,
    conn: Option<Conn>,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("queue records serialise")
}

fn now_ms() -> i64 {
    (super::now() * 1e3) as i64
}

impl RedisQueue {
    /// Connect and make sure the stream and its consumer group exist.
    pub fn open(url: &str) -> QResult<RedisQueue> {
        let ep = Endpoint::parse(url).map_err(QueueError::Url)?;
        let mut q = RedisQueue { ep, conn: None };
        match q.call(&["XGROUP", "CREATE", STREAM, GROUP, "0", "MKSTREAM"]) {
            Ok(_) => {}
            Err(QueueError::Server { message, .. }) if message.starts_with("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
        Ok(q)
    }

    fn io(&self, e: std::io::Error) -> QueueError {
        QueueError::Io {
            url: self.ep.display(),
            error: e,
        }
    }

    fn data(&self, message: impl Into<String>) -> QueueError {
        QueueError::Data {
            url: self.ep.display(),
            message: message.into(),
        }
    }

    /// One command; reconnects when the last connection broke. An error reply is an `Err`.
    fn call<S: AsRef<[u8]>>(&mut self, args: &[S]) -> QResult<Value> {
        if self.conn.is_none() {
            let mut c = Conn::connect(&self.ep).map_err(|e| self.io(e))?;
            c.set_read_timeout(Some(Duration::from_secs(60)))
                .map_err(|e| self.io(e))?;
            self.conn = Some(c);
        }
        let conn = self.conn.as_mut().expect("connected");
        match conn.cmd(args) {
            Ok(Value::Error(message)) => Err(QueueError::Server {
                url: self.ep.display(),
                message,
            }),
            Ok(v) => Ok(v),
            Err(e) => {
                // The reply may be half read: start afresh next time.
                self.conn = None;
                Err(self.io(e))
            }
        }
    }

    fn eval(&mut self, script: &str, keys: &[&str], args: &[&str]) -> QResult<Value> {
        let body = if script.contains("set_file(") {
            format!("{SET_FILE}\n{script}")
        } else {
            script.to_string()
        };
        let nkeys = keys.len().to_string();
        let mut a: Vec<&str> = vec!["EVAL", &body, &nkeys];
        a.extend_from_slice(keys);
        a.extend_from_slice(args);
        self.call(&a)
    }

    /// `[id, [field, value, …]]` → the delivery's job.
    fn parse_entry(&self, entry: Value, deliveries: u32) -> QResult<Option<Delivery>> {
        let mut it = entry.into_array().into_iter();
        let (Some(id), Some(fields)) = (it.next(), it.next()) else {
            return Ok(None);
        };
        let handle = id
            .into_string()
            .ok_or_else(|| self.data("stream entry without an id"))?;
        let fields = fields.into_array();
        let mut job = None;
        for kv in fields.chunks(2) {
            if kv.len() == 2 && kv[0].as_str() == Some("job") {
                job = kv[1].as_str().map(str::to_string);
            }
        }
        let job = job.ok_or_else(|| self.data(format!("stream entry {handle} has no job")))?;
        let job: Job = serde_json::from_str(&job)
            .map_err(|e| self.data(format!("stream entry {handle}: bad job: {e}")))?;
        Ok(Some(Delivery {
            job,
            handle,
            deliveries,
        }))
    }

    /// Take over one entry that has been pending longer than `stale`.
    fn take_stale(&mut self, worker: &str, stale: Duration) -> QResult<Option<Delivery>> {
        let idle = stale.as_millis().max(1).to_string();
        let mut cursor = "0-0".to_string();
        // XAUTOCLAIM looks at a bounded slice of the pending list per call; walk all of it.
        for _ in 0..10_000 {
            let r = self
                .call(&[
                    "XAUTOCLAIM",
                    STREAM,
                    GROUP,
                    worker,
                    &idle,
                    &cursor,
                    "COUNT",
                    "1",
                ])?
                .into_array();
            let mut it = r.into_iter();
            let next = it.next().and_then(Value::into_string).unwrap_or_default();
            let entries = it.next().map(Value::into_array).unwrap_or_default();
            if let Some(entry) = entries.into_iter().find(|e| matches!(e, Value::Array(_))) {
                // How often it has been delivered, this time included.
                let id = match &entry {
                    Value::Array(v) => v.first().and_then(Value::as_str).unwrap_or("").to_string(),
                    _ => String::new(),
                };
                let p = self.call(&["XPENDING", STREAM, GROUP, &id, &id, "1"])?;
                let deliveries = p
                    .into_array()
                    .into_iter()
                    .next()
                    .map(Value::into_array)
                    .and_then(|v| v.get(3).and_then(Value::as_int))
                    .unwrap_or(2) as u32;
                return self.parse_entry(entry, deliveries);
            }
            if next.is_empty() || next == "0-0" {
                break;
            }
            cursor = next;
        }
        Ok(None)
    }

    fn hash(v: Value) -> Vec<(String, String)> {
        let v = v.into_array();
        v.chunks(2)
            .filter_map(|kv| match kv {
                [k, val] => Some((k.as_str()?.to_string(), val.as_str()?.to_string())),
                _ => None,
            })
            .collect()
    }

    /// Every field of a hash, a chunk at a time (HSCAN, so a million files do not block the
    /// server).
    fn scan_hash(&mut self, key: &str, limit: usize) -> QResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let r = self
                .call(&["HSCAN", key, &cursor, "COUNT", "1000"])?
                .into_array();
            let mut it = r.into_iter();
            cursor = it.next().and_then(Value::into_string).unwrap_or_default();
            out.extend(Self::hash(it.next().unwrap_or(Value::Nil)));
            if cursor == "0" || cursor.is_empty() || out.len() >= limit {
                break;
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}

impl Queue for RedisQueue {
    fn url(&self) -> String {
        self.ep.display()
    }

    fn put_run(&mut self, run: &RunRecord) -> QResult<()> {
        self.call(&["HSET", RUNS, &run.id, &json(run)])?;
        Ok(())
    }

    fn submit(&mut self, run: &str, file: &FileRecord, jobs: &[Job]) -> QResult<usize> {
        let fk = files_key(run);
        let mut args: Vec<String> = vec![file.rel.clone(), json(file)];
        for j in jobs {
            args.push(j.id.clone());
            args.push(json(j));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = self.eval(SUBMIT, &[INFLIGHT, STREAM, &fk, DEAD, STATS, RECENT], &args)?;
        Ok(r.as_int().unwrap_or(0) as usize)
    }

    fn next(&mut self, worker: &str, stale: Duration, wait: Duration) -> QResult<Option<Delivery>> {
        let d = match self.take_stale(worker, stale)? {
            Some(d) => Some(d),
            None => {
                let block = wait.as_millis().max(1).to_string();
                let r = self.call(&[
                    "XREADGROUP",
                    "GROUP",
                    GROUP,
                    worker,
                    "COUNT",
                    "1",
                    "BLOCK",
                    &block,
                    "STREAMS",
                    STREAM,
                    ">",
                ])?;
                // [[stream, [[id, fields]]]]
                let entry = r
                    .into_array()
                    .into_iter()
                    .next()
                    .map(Value::into_array)
                    .and_then(|s| s.into_iter().nth(1))
                    .map(Value::into_array)
                    .and_then(|es| es.into_iter().next());
                match entry {
                    Some(e) => self.parse_entry(e, 1)?,
                    None => None,
                }
            }
        };
        if d.is_some() {
            self.call(&["HSETNX", STATS, "started_at", &now_ms().to_string()])?;
        }
        Ok(d)
    }

    fn keep_alive(&mut self, worker: &str, d: &Delivery) -> QResult<bool> {
        let r = self.eval(KEEP_ALIVE, &[STREAM], &[GROUP, &d.handle, worker])?;
        Ok(r.as_int() == Some(1))
    }

    fn range_done(&mut self, job: &Job) -> QResult<usize> {
        let [a, b] = job.range.unwrap_or([1, job.pages.max(1)]);
        let r = self.eval(
            RANGE_DONE,
            &[&parts_key(job)],
            &[&format!("{a}-{b}"), &PARTS_TTL_S.to_string()],
        )?;
        Ok(r.as_int().unwrap_or(0) as usize)
    }

    fn complete(&mut self, d: &Delivery, pages: usize, file: Option<&FileRecord>) -> QResult<bool> {
        let fk = files_key(&d.job.run);
        let pk = parts_key(&d.job);
        let fj = file.map(json).unwrap_or_default();
        let r = self.eval(
            COMPLETE,
            &[STREAM, INFLIGHT, STATS, RECENT, &fk, &pk],
            &[
                GROUP,
                &d.handle,
                &d.job.id,
                &pages.to_string(),
                &now_ms().to_string(),
                &d.job.rel,
                &fj,
            ],
        )?;
        Ok(r.as_int() == Some(1))
    }

    fn retry(&mut self, d: &Delivery) -> QResult<()> {
        let mut job = d.job.clone();
        job.attempt += d.deliveries;
        self.eval(
            RETRY,
            &[STREAM, INFLIGHT],
            &[GROUP, &d.handle, &d.job.id, &json(&job)],
        )?;
        Ok(())
    }

    fn bury(&mut self, d: &Delivery, dead: &DeadLetter, file: Option<&FileRecord>) -> QResult<()> {
        let fk = files_key(&d.job.run);
        let fj = file.map(json).unwrap_or_default();
        self.eval(
            BURY,
            &[STREAM, INFLIGHT, DEAD, &fk],
            &[GROUP, &d.handle, &d.job.id, &json(dead), &d.job.rel, &fj],
        )?;
        Ok(())
    }

    fn settings(&mut self, mine: Option<&str>) -> QResult<Option<String>> {
        if let Some(m) = mine {
            self.call(&["SET", SETTINGS, m, "NX"])?;
        }
        Ok(self.call(&["GET", SETTINGS])?.into_string())
    }

    fn drop_files(&mut self, run: &str, rels: &[String]) -> QResult<()> {
        let fk = files_key(run);
        for chunk in rels.chunks(500) {
            let mut a: Vec<&str> = vec!["HDEL", &fk];
            a.extend(chunk.iter().map(String::as_str));
            self.call(&a)?;
        }
        Ok(())
    }

    fn counts(&mut self) -> QResult<Counts> {
        let inflight = self
            .call(&["SCARD", INFLIGHT])?
            .as_int()
            .unwrap_or(0)
            .max(0) as u64;
        let running = self
            .call(&["XPENDING", STREAM, GROUP])?
            .into_array()
            .first()
            .and_then(Value::as_int)
            .unwrap_or(0)
            .max(0) as u64;
        let failed = self.call(&["HLEN", DEAD])?.as_int().unwrap_or(0).max(0) as u64;
        let stats = Self::hash(self.call(&["HGETALL", STATS])?);
        let get = |k: &str| {
            stats
                .iter()
                .find(|(f, _)| f == k)
                .and_then(|(_, v)| v.parse::<i64>().ok())
        };
        let now = now_ms();
        let recent: u64 = self
            .call(&[
                "ZRANGEBYSCORE",
                RECENT,
                &(now - WINDOW_MS).to_string(),
                "+inf",
            ])?
            .into_array()
            .iter()
            .filter_map(|m| m.as_str()?.rsplit(':').next()?.parse::<u64>().ok())
            .sum();
        Ok(Counts {
            queued: inflight.saturating_sub(running),
            running: running.min(inflight),
            done: get("done").unwrap_or(0).max(0) as u64,
            failed,
            pages: get("pages").unwrap_or(0).max(0) as u64,
            started_at: get("started_at").map(|ms| ms as f64 / 1e3),
            last_done_at: get("last_done_at").map(|ms| ms as f64 / 1e3),
            recent_pages: recent,
            window_s: WINDOW_MS as f64 / 1e3,
        })
    }

    fn file(&mut self, run: &str, rel: &str) -> QResult<Option<FileRecord>> {
        match self.call(&["HGET", &files_key(run), rel])? {
            Value::Data(d) => Ok(serde_json::from_slice(&d).ok()),
            _ => Ok(None),
        }
    }

    fn runs(&mut self) -> QResult<Vec<RunRecord>> {
        let mut v: Vec<RunRecord> = Self::hash(self.call(&["HGETALL", RUNS])?)
            .into_iter()
            .filter_map(|(_, j)| serde_json::from_str(&j).ok())
            .collect();
        v.sort_by(|a, b| a.submitted_at.total_cmp(&b.submitted_at));
        Ok(v)
    }

    fn files(&mut self, run: &str) -> QResult<Vec<FileRecord>> {
        Ok(self
            .scan_hash(&files_key(run), usize::MAX)?
            .into_iter()
            .filter_map(|(_, j)| serde_json::from_str(&j).ok())
            .collect())
    }

    fn dead_letters(&mut self, limit: usize) -> QResult<Vec<DeadLetter>> {
        let mut v: Vec<DeadLetter> = self
            .scan_hash(DEAD, limit)?
            .into_iter()
            .filter_map(|(_, j)| serde_json::from_str(&j).ok())
            .collect();
        v.sort_by(|a, b| {
            a.job
                .rel
                .cmp(&b.job.rel)
                .then(a.job.range.cmp(&b.job.range))
        });
        Ok(v)
    }

    fn workers(&mut self) -> QResult<Vec<WorkerInfo>> {
        let r = self.call(&["XINFO", "CONSUMERS", STREAM, GROUP])?;
        Ok(r.into_array()
            .into_iter()
            .map(|c| {
                let c = c.into_array();
                let mut w = WorkerInfo {
                    name: String::new(),
                    pending: 0,
                    idle_s: 0.0,
                };
                for kv in c.chunks(2) {
                    if let [k, v] = kv {
                        match k.as_str() {
                            Some("name") => w.name = v.as_str().unwrap_or("").to_string(),
                            Some("pending") => w.pending = v.as_int().unwrap_or(0).max(0) as u64,
                            Some("idle") => w.idle_s = v.as_int().unwrap_or(0) as f64 / 1e3,
                            _ => {}
                        }
                    }
                }
                w
            })
            .collect())
    }

    fn forget_idle_workers(&mut self, idle: Duration) -> QResult<usize> {
        let mut n = 0;
        for w in self.workers()? {
            if w.pending == 0 && w.idle_s > idle.as_secs_f64() {
                self.call(&["XGROUP", "DELCONSUMER", STREAM, GROUP, &w.name])?;
                n += 1;
            }
        }
        Ok(n)
    }
}

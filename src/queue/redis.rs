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

use super::{
    Counts, DeadLetter, Delivery, FileRecord, Job, QResult, Queue, QueueError, RunRecord,
    WorkerInfo,
};
use redis::streams::{
    StreamAutoClaimOptions, StreamId, StreamInfoConsumersReply, StreamPendingReply,
    StreamReadOptions, StreamReadReply,
};
use redis::{Commands, Connection, RedisError, Script};
use std::collections::HashMap;
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
    client: redis::Client,
    /// `None` after a connection broke (a reply may be half read): the next call reconnects.
    conn: Option<Connection>,
    /// The URL without credentials, for messages.
    shown: String,
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
        let client =
            redis::Client::open(url).map_err(|e| QueueError::Url(format!("{url}: {e}")))?;
        let info = client.get_connection_info();
        let shown = format!("redis://{}/{}", info.addr(), info.redis_settings().db());
        let mut q = RedisQueue {
            client,
            conn: None,
            shown,
        };
        match q.run(|c| c.xgroup_create_mkstream::<_, _, _, ()>(STREAM, GROUP, "0")) {
            Err(QueueError::Redis { error, .. }) if error.code() == Some("BUSYGROUP") => Ok(q),
            r => r.map(|()| q),
        }
    }

    fn err(&self, error: RedisError) -> QueueError {
        QueueError::Redis {
            url: self.shown.clone(),
            error,
        }
    }

    fn data(&self, message: String) -> QueueError {
        QueueError::Data {
            url: self.shown.clone(),
            message,
        }
    }

    /// `f` on the connection, connecting first when there is none.
    fn run<T>(&mut self, f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>) -> QResult<T> {
        if self.conn.is_none() {
            let timeout = Duration::from_secs(5);
            let c = (self.client.get_connection_with_timeout(timeout))
                // Longer than the longest blocking read (XREADGROUP … BLOCK, the poll interval).
                .and_then(|c| {
                    c.set_read_timeout(Some(Duration::from_secs(60)))
                        .map(|()| c)
                })
                .map_err(|e| self.err(e))?;
            self.conn = Some(c);
        }
        f(self.conn.as_mut().expect("connected")).map_err(|e| {
            if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
                self.conn = None;
            }
            self.err(e)
        })
    }

    /// A script, sent as `EVALSHA` and loaded when the server does not know it yet (first use,
    /// or after a restart). `SET_FILE` is a local function, so it may precede every script.
    fn eval<T: redis::FromRedisValue>(
        &mut self,
        body: &str,
        keys: &[&str],
        args: &[&str],
    ) -> QResult<T> {
        let script = Script::new(&format!("{SET_FILE}\n{body}"));
        self.run(|c| {
            let mut i = script.prepare_invoke();
            for k in keys {
                i.key(*k);
            }
            for a in args {
                i.arg(*a);
            }
            i.invoke(c)
        })
    }

    /// A stream entry (field `job`) as a delivery.
    fn delivery(&self, entry: StreamId, deliveries: u32) -> QResult<Delivery> {
        let id = entry.id.clone();
        let job: String =
            (entry.get("job")).ok_or_else(|| self.data(format!("entry {id} has no job")))?;
        let job = serde_json::from_str(&job)
            .map_err(|e| self.data(format!("stream entry {id}: bad job: {e}")))?;
        Ok(Delivery {
            job,
            handle: id,
            deliveries,
        })
    }

    /// Take over one entry that has been pending longer than `stale`.
    fn take_stale(&mut self, worker: &str, stale: Duration) -> QResult<Option<Delivery>> {
        let idle = stale.as_millis().max(1) as u64;
        let mut cursor = "0-0".to_string();
        // XAUTOCLAIM looks at a bounded slice of the pending list per call; walk all of it.
        for _ in 0..10_000 {
            let opts = StreamAutoClaimOptions::default().count(1);
            let r: redis::streams::StreamAutoClaimReply =
                self.run(|c| c.xautoclaim_options(STREAM, GROUP, worker, idle, &cursor, opts))?;
            if let Some(entry) = r.claimed.into_iter().next() {
                // How often it has been delivered, this time included.
                let id = entry.id.clone();
                let p: redis::streams::StreamPendingCountReply =
                    self.run(|c| c.xpending_count(STREAM, GROUP, &id, &id, 1))?;
                let n = p.ids.first().map_or(2, |p| p.times_delivered as u32);
                return self.delivery(entry, n).map(Some);
            }
            if r.next_stream_id == "0-0" {
                break;
            }
            cursor = r.next_stream_id;
        }
        Ok(None)
    }

    /// Every field of a hash, a chunk at a time (HSCAN, so a million files do not block the
    /// server), as parsed records.
    fn scan_hash<T: serde::de::DeserializeOwned>(
        &mut self,
        key: &str,
        limit: usize,
    ) -> QResult<Vec<T>> {
        let pairs: Vec<(String, String)> = self.run(|c| {
            let mut cmd = redis::cmd("HSCAN");
            cmd.arg(key).cursor_arg(0).arg("COUNT").arg(1000);
            cmd.iter(c)?.take(limit).collect()
        })?;
        Ok(pairs
            .into_iter()
            .filter_map(|(_, j)| serde_json::from_str(&j).ok())
            .collect())
    }
}

impl Queue for RedisQueue {
    fn url(&self) -> String {
        self.shown.clone()
    }

    fn put_run(&mut self, run: &RunRecord) -> QResult<()> {
        self.run(|c| c.hset(RUNS, &run.id, json(run)))
    }

    fn submit(&mut self, run: &str, file: &FileRecord, jobs: &[Job]) -> QResult<usize> {
        let mut args: Vec<String> = vec![file.rel.clone(), json(file)];
        for j in jobs {
            args.extend([j.id.clone(), json(j)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let keys = [INFLIGHT, STREAM, &files_key(run), DEAD, STATS, RECENT];
        self.eval(SUBMIT, &keys, &args)
    }

    fn next(&mut self, worker: &str, stale: Duration, wait: Duration) -> QResult<Option<Delivery>> {
        let mut d = self.take_stale(worker, stale)?;
        if d.is_none() {
            let opts = StreamReadOptions::default()
                .group(GROUP, worker)
                .count(1)
                .block(wait.as_millis().max(1) as usize);
            let r: Option<StreamReadReply> =
                self.run(|c| c.xread_options(&[STREAM], &[">"], &opts))?;
            let entry = r.and_then(|r| r.keys.into_iter().next()?.ids.into_iter().next());
            d = entry.map(|e| self.delivery(e, 1)).transpose()?;
        }
        if d.is_some() {
            self.run(|c| c.hset_nx::<_, _, _, ()>(STATS, "started_at", now_ms()))?;
        }
        Ok(d)
    }

    fn keep_alive(&mut self, worker: &str, d: &Delivery) -> QResult<bool> {
        let args = [GROUP, &d.handle, worker];
        self.eval(KEEP_ALIVE, &[STREAM], &args)
    }

    fn range_done(&mut self, job: &Job) -> QResult<usize> {
        let [a, b] = job.range.unwrap_or([1, job.pages.max(1)]);
        let key = parts_key(job);
        let (n,): (usize,) = self.run(|c| {
            (redis::pipe().atomic())
                .sadd(&key, format!("{a}-{b}"))
                .ignore()
                .expire(&key, PARTS_TTL_S)
                .ignore()
                .scard(&key)
                .query(c)
        })?;
        Ok(n)
    }

    fn complete(&mut self, d: &Delivery, pages: usize, file: Option<&FileRecord>) -> QResult<bool> {
        let (fk, pk) = (files_key(&d.job.run), parts_key(&d.job));
        let (pages, now, fj) = (pages.to_string(), now_ms().to_string(), file.map(json));
        let args = [
            GROUP,
            &d.handle,
            &d.job.id,
            &pages,
            &now,
            &d.job.rel,
            fj.as_deref().unwrap_or(""),
        ];
        self.eval(
            COMPLETE,
            &[STREAM, INFLIGHT, STATS, RECENT, &fk, &pk],
            &args,
        )
    }

    fn retry(&mut self, d: &Delivery) -> QResult<()> {
        let mut job = d.job.clone();
        job.attempt += d.deliveries;
        let args = [GROUP, &d.handle, &d.job.id, &json(&job)];
        self.eval(RETRY, &[STREAM, INFLIGHT], &args)
    }

    fn bury(&mut self, d: &Delivery, dead: &DeadLetter, file: Option<&FileRecord>) -> QResult<()> {
        let (fk, dj, fj) = (files_key(&d.job.run), json(dead), file.map(json));
        let args = [
            GROUP,
            &d.handle,
            &d.job.id,
            &dj,
            &d.job.rel,
            fj.as_deref().unwrap_or(""),
        ];
        self.eval(BURY, &[STREAM, INFLIGHT, DEAD, &fk], &args)
    }

    fn settings(&mut self, mine: Option<&str>) -> QResult<Option<String>> {
        if let Some(m) = mine {
            self.run(|c| c.set_nx::<_, _, ()>(SETTINGS, m))?;
        }
        self.run(|c| c.get(SETTINGS))
    }

    fn drop_files(&mut self, run: &str, rels: &[String]) -> QResult<()> {
        let fk = files_key(run);
        for chunk in rels.chunks(500) {
            self.run(|c| c.hdel::<_, _, ()>(&fk, chunk))?;
        }
        Ok(())
    }

    fn counts(&mut self) -> QResult<Counts> {
        let now = now_ms();
        type Snapshot = (
            u64,
            StreamPendingReply,
            u64,
            HashMap<String, i64>,
            Vec<String>,
        );
        let (inflight, pending, failed, stats, recent): Snapshot = self.run(|c| {
            (redis::pipe().atomic())
                .scard(INFLIGHT)
                .xpending(STREAM, GROUP)
                .hlen(DEAD)
                .hgetall(STATS)
                .zrangebyscore(RECENT, now - WINDOW_MS, "+inf")
                .query(c)
        })?;
        let running = pending.count() as u64;
        let get = |k: &str| stats.get(k).copied();
        Ok(Counts {
            queued: inflight.saturating_sub(running),
            running: running.min(inflight),
            done: get("done").unwrap_or(0).max(0) as u64,
            failed,
            pages: get("pages").unwrap_or(0).max(0) as u64,
            started_at: get("started_at").map(|ms| ms as f64 / 1e3),
            last_done_at: get("last_done_at").map(|ms| ms as f64 / 1e3),
            // Members are `time:job:pages`.
            recent_pages: (recent.iter())
                .filter_map(|m| m.rsplit(':').next()?.parse::<u64>().ok())
                .sum(),
            window_s: WINDOW_MS as f64 / 1e3,
        })
    }

    fn file(&mut self, run: &str, rel: &str) -> QResult<Option<FileRecord>> {
        let j: Option<String> = self.run(|c| c.hget(files_key(run), rel))?;
        Ok(j.and_then(|j| serde_json::from_str(&j).ok()))
    }

    fn runs(&mut self) -> QResult<Vec<RunRecord>> {
        let all: HashMap<String, String> = self.run(|c| c.hgetall(RUNS))?;
        let mut v: Vec<RunRecord> = (all.values())
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect();
        v.sort_by(|a, b| a.submitted_at.total_cmp(&b.submitted_at));
        Ok(v)
    }

    fn files(&mut self, run: &str) -> QResult<Vec<FileRecord>> {
        self.scan_hash(&files_key(run), usize::MAX)
    }

    fn dead_letters(&mut self, limit: usize) -> QResult<Vec<DeadLetter>> {
        let mut v: Vec<DeadLetter> = self.scan_hash(DEAD, limit)?;
        v.sort_by(|a, b| (&a.job.rel, a.job.range).cmp(&(&b.job.rel, b.job.range)));
        Ok(v)
    }

    fn workers(&mut self) -> QResult<Vec<WorkerInfo>> {
        let r: StreamInfoConsumersReply = self.run(|c| c.xinfo_consumers(STREAM, GROUP))?;
        Ok((r.consumers.into_iter())
            .map(|c| WorkerInfo {
                name: c.name,
                pending: c.pending as u64,
                idle_s: c.idle as f64 / 1e3,
            })
            .collect())
    }

    fn forget_idle_workers(&mut self, idle: Duration) -> QResult<usize> {
        let gone: Vec<String> = (self.workers()?.into_iter())
            .filter(|w| w.pending == 0 && w.idle_s > idle.as_secs_f64())
            .map(|w| w.name)
            .collect();
        for w in &gone {
            self.run(|c| c.xgroup_delconsumer::<_, _, _, ()>(STREAM, GROUP, w))?;
        }
        Ok(gone.len())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_name_the_server_without_its_password() {
        // Nothing listens on port 1: the connection is refused at once.
        let e = super::RedisQueue::open("redis://:s3cret@127.0.0.1:1/2")
            .err()
            .unwrap();
        let m = e.to_string();
        assert!(m.starts_with("queue redis://127.0.0.1:1/2: "), "{m}");
        assert!(!m.contains("s3cret"), "{m}");
        assert!(super::RedisQueue::open("nats://x").is_err());
        assert!(super::RedisQueue::open("redis://h:notaport").is_err());
    }
}

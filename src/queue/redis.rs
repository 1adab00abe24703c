//! [`Queue`] on Redis Streams (Redis 7.0 or later).
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
//! An entry a worker reads (`XREADGROUP … >`) stays in the group's pending list until `XACK`.
//! A live worker re-claims its own entries (`XCLAIM … JUSTID`: resets the idle time without
//! counting a delivery), so a long job is never taken from it. A dead worker's entries grow idle
//! past the ack timeout and the next worker asking for work claims them; the delivery counter
//! tells how often that happened, so a job that kills its workers ends in the dead-letter list
//! instead of looping. Acknowledged entries are deleted: the stream holds only work to do.

use super::{Counts, DeadLetter, Delivery, FileRecord, Job, QResult, Queue, QueueError};
use super::{RunRecord, WorkerInfo};
use redis::streams::{StreamClaimReply, StreamId, StreamInfoConsumersReply, StreamPendingReply};
use redis::streams::{StreamPendingCountReply, StreamReadOptions, StreamReadReply};
use redis::{Commands, Connection, ErrorKind, FromRedisValue, RedisResult, Script, ToRedisArgs};
use std::time::Duration;

const STREAM: &str = "{sohoa}:jobs";
const GROUP: &str = "workers";
const INFLIGHT: &str = "{sohoa}:inflight";
const DEAD: &str = "{sohoa}:dead";
const STATS: &str = "{sohoa}:stats";
const RECENT: &str = "{sohoa}:recent";
const RUNS: &str = "{sohoa}:runs";
const SETTINGS: &str = "{sohoa}:settings";
/// The keys every script gets first, in the order PRELUDE names them.
const SCRIPT_KEYS: [&str; 5] = [STREAM, INFLIGHT, DEAD, STATS, RECENT];
/// pages/s in `status` is over this window.
const WINDOW_MS: i64 = 60_000;
/// A split file whose other ranges never finish does not leave its range set forever.
const PARTS_TTL_S: i64 = 30 * 86_400;

fn files_key(run: &str) -> String {
    format!("{{sohoa}}:files:{run}")
}

fn parts_key(job: &Job) -> String {
    let sha = &job.sha256[..job.sha256.len().min(16)];
    format!("{{sohoa}}:parts:{}:{sha}:{}", job.run, job.rel)
}

/// Run before every script. A file record is not replaced by one for other content (a newer
/// submit's); `ack` answers 1 when the entry was still pending.
const PRELUDE: &str = r#"
local stream, inflight, dead, stats, recent, files, parts = unpack(KEYS)
local group = 'workers'
local function set_file(rel, json)
  local cur = redis.call('HGET', files, rel)
  if cur then
    local c, n = cjson.decode(cur).sha256, cjson.decode(json).sha256
    if type(c) == 'string' and type(n) == 'string' and c ~= n then return end
  end
  redis.call('HSET', files, rel, json)
end
local function ack(id)
  local n = redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
  return n
end
"#;

/// ARGV: rel filejson (jobid jobjson)*. A submit to an idle queue starts the counters afresh.
const SUBMIT: &str = r#"
local added = 0
if #ARGV > 2 and redis.call('SCARD', inflight) == 0 then redis.call('DEL', stats, recent) end
for i = 3, #ARGV, 2 do
  if redis.call('SADD', inflight, ARGV[i]) == 1 then
    redis.call('HDEL', dead, ARGV[i])
    redis.call('XADD', stream, '*', 'job', ARGV[i + 1])
    added = added + 1
  end
end
redis.call((added > 0 or #ARGV < 3) and 'HSET' or 'HSETNX', files, ARGV[1], ARGV[2])
return added
"#;

/// ARGV: id consumer
const KEEP_ALIVE: &str = r#"
local p = redis.call('XPENDING', stream, group, ARGV[1], ARGV[1], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
return #redis.call('XCLAIM', stream, group, ARGV[2], 0, ARGV[1], 'JUSTID')
"#;

/// ARGV: id jobid pages now_ms rel filejson. Only the first acknowledgement of a job counts
/// (`SREM` answers 1 once).
const COMPLETE: &str = r#"
ack(ARGV[1])
local fresh = redis.call('SREM', inflight, ARGV[2])
if fresh == 1 then
  redis.call('HINCRBY', stats, 'done', 1)
  redis.call('HINCRBY', stats, 'pages', ARGV[3])
  redis.call('HSET', stats, 'last_done_at', ARGV[4])
  redis.call('ZADD', recent, ARGV[4], ARGV[4] .. ':' .. ARGV[2] .. ':' .. ARGV[3])
  redis.call('ZREMRANGEBYSCORE', recent, '-inf', ARGV[4] - 600000)
end
if ARGV[6] ~= '' then
  set_file(ARGV[5], ARGV[6])
  redis.call('DEL', parts)
end
return fresh
"#;

/// ARGV: id jobid newjobjson. A repeated call (a lost reply) finds the entry acknowledged and
/// adds no second copy.
const RETRY: &str = r#"
if ack(ARGV[1]) == 1 and redis.call('SISMEMBER', inflight, ARGV[2]) == 1 then
  redis.call('XADD', stream, '*', 'job', ARGV[3])
end
"#;

/// ARGV: id jobid deadjson rel filejson
const BURY: &str = r#"
ack(ARGV[1])
if redis.call('SREM', inflight, ARGV[2]) == 1 then
  redis.call('HSET', dead, ARGV[2], ARGV[3])
  if ARGV[5] ~= '' then set_file(ARGV[4], ARGV[5]) end
end
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

/// Records that parse; one written by another version of sohoa is left out, not an error.
fn parse<T: serde::de::DeserializeOwned>(v: impl IntoIterator<Item = String>) -> Vec<T> {
    let parsed = v.into_iter().map(|j| serde_json::from_str(&j));
    parsed.filter_map(Result::ok).collect()
}

fn now_ms() -> i64 {
    (super::now() * 1e3) as i64
}

fn ms(d: Duration) -> usize {
    d.as_millis().max(1) as usize
}

fn delivery(e: StreamId, deliveries: u32) -> RedisResult<Delivery> {
    let job = e
        .get("job")
        .and_then(|j: String| serde_json::from_str(&j).ok());
    let job = job.ok_or_else(|| (ErrorKind::Parse, "no job in stream entry", e.id.clone()))?;
    let handle = e.id;
    Ok(Delivery {
        job,
        handle,
        deliveries,
    })
}

impl RedisQueue {
    /// Connect and make sure the stream and its consumer group exist.
    pub fn open(url: &str) -> QResult<RedisQueue> {
        let client = redis::Client::open(url);
        let client = client.map_err(|e| QueueError::Url(format!("{url}: {e}")))?;
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

    /// `f` on the connection, connecting first when there is none.
    fn run<T>(&mut self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> QResult<T> {
        let r = match &mut self.conn {
            Some(c) => f(c),
            None => {
                let c = self
                    .client
                    .get_connection_with_timeout(Duration::from_secs(5));
                // Longer than the longest blocking read (XREADGROUP … BLOCK, the poll interval).
                let read = Some(Duration::from_secs(60));
                c.and_then(|c| {
                    c.set_read_timeout(read)
                        .and_then(|()| f(self.conn.insert(c)))
                })
            }
        };
        r.map_err(|error| {
            // Unless the server answered with an error, the connection may be mid-reply.
            if error.code().is_none() {
                self.conn = None;
            }
            let url = self.shown.clone();
            QueueError::Redis { url, error }
        })
    }

    /// A script on [`SCRIPT_KEYS`], `run`'s files and `job`'s ranges, sent as `EVALSHA` and
    /// loaded when the server does not know it yet (first use, or after a restart).
    fn eval<T, A>(&mut self, lua: &str, run: &str, job: Option<&Job>, args: A) -> QResult<T>
    where
        T: FromRedisValue,
        A: ToRedisArgs,
    {
        let script = Script::new(&format!("{PRELUDE}{lua}"));
        let mut call = script.key(&SCRIPT_KEYS);
        call.key(files_key(run))
            .key(job.map_or("{sohoa}:parts".into(), parts_key));
        self.run(|c| call.arg(args).invoke(c))
    }

    /// Take over the oldest entry pending longer than `stale`. Two workers may both find it;
    /// `XCLAIM` checks the idle time again, so only one gets it.
    fn take_stale(&mut self, worker: &str, stale: Duration) -> QResult<Option<Delivery>> {
        let idle = ms(stale);
        let p: StreamPendingCountReply = self.run(|c| {
            let mut cmd = redis::cmd("XPENDING");
            cmd.arg((STREAM, GROUP, "IDLE", idle, "-", "+", 1)).query(c)
        })?;
        let Some(p) = p.ids.into_iter().next() else {
            return Ok(None);
        };
        self.run(|c| {
            let r: StreamClaimReply = c.xclaim(STREAM, GROUP, worker, idle, &[&p.id])?;
            let n = p.times_delivered as u32 + 1;
            r.ids.into_iter().next().map(|e| delivery(e, n)).transpose()
        })
    }

    /// The records in a hash, a chunk at a time (HSCAN, so a million files do not block the
    /// server).
    fn scan<T: serde::de::DeserializeOwned>(&mut self, key: &str, n: usize) -> QResult<Vec<T>> {
        let pairs: Vec<(String, String)> = self.run(|c| {
            let mut cmd = redis::cmd("HSCAN");
            cmd.arg(key).cursor_arg(0).arg("COUNT").arg(1000);
            cmd.iter(c)?.take(n).collect()
        })?;
        Ok(parse(pairs.into_iter().map(|(_, j)| j)))
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
        let jobs: Vec<(&str, String)> = jobs.iter().map(|j| (&*j.id, json(j))).collect();
        self.eval(SUBMIT, run, None, (&file.rel, json(file), jobs))
    }

    fn next(&mut self, worker: &str, stale: Duration, wait: Duration) -> QResult<Option<Delivery>> {
        let mut d = self.take_stale(worker, stale)?;
        if d.is_none() {
            let opts = StreamReadOptions::default().group(GROUP, worker);
            let opts = opts.count(1).block(ms(wait));
            d = self.run(|c| {
                let r: Option<StreamReadReply> = c.xread_options(&[STREAM], &[">"], &opts)?;
                let entry = r.and_then(|r| r.keys.into_iter().next()?.ids.into_iter().next());
                entry.map(|e| delivery(e, 1)).transpose()
            })?;
        }
        if d.is_some() {
            self.run(|c| c.hset_nx::<_, _, _, ()>(STATS, "started_at", now_ms()))?;
        }
        Ok(d)
    }

    fn keep_alive(&mut self, worker: &str, d: &Delivery) -> QResult<bool> {
        self.eval(KEEP_ALIVE, &d.job.run, None, (&d.handle, worker))
    }

    fn range_done(&mut self, job: &Job) -> QResult<usize> {
        let [a, b] = job.range.unwrap_or([1, job.pages.max(1)]);
        let key = parts_key(job);
        let (n,): (usize,) = self.run(|c| {
            let mut p = redis::pipe();
            p.atomic().sadd(&key, format!("{a}-{b}")).ignore();
            p.expire(&key, PARTS_TTL_S).ignore().scard(&key).query(c)
        })?;
        Ok(n)
    }

    fn complete(&mut self, d: &Delivery, pages: usize, file: Option<&FileRecord>) -> QResult<bool> {
        let (j, fj) = (&d.job, file.map(json).unwrap_or_default());
        let args = (&d.handle, &j.id, pages, now_ms(), &j.rel, fj);
        self.eval(COMPLETE, &j.run, Some(j), args)
    }

    fn retry(&mut self, d: &Delivery) -> QResult<()> {
        let mut job = d.job.clone();
        job.attempt += d.deliveries;
        let args = (&d.handle, &d.job.id, json(&job));
        self.eval(RETRY, &job.run, None, args)
    }

    fn bury(&mut self, d: &Delivery, dead: &DeadLetter, file: Option<&FileRecord>) -> QResult<()> {
        let (j, fj) = (&d.job, file.map(json).unwrap_or_default());
        let args = (&d.handle, &j.id, json(dead), &j.rel, fj);
        self.eval(BURY, &j.run, None, args)
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
        let since = now_ms() - WINDOW_MS;
        type Snapshot = (u64, StreamPendingReply, u64, [Option<u64>; 4], Vec<String>);
        let (inflight, pending, failed, [done, pages, started, last], recent): Snapshot = self
            .run(|c| {
                let mut p = redis::pipe();
                p.atomic()
                    .scard(INFLIGHT)
                    .xpending(STREAM, GROUP)
                    .hlen(DEAD);
                p.hmget(STATS, &["done", "pages", "started_at", "last_done_at"]);
                p.zrangebyscore(RECENT, since, "+inf").query(c)
            })?;
        let (running, secs) = (pending.count() as u64, |ms: u64| ms as f64 / 1e3);
        Ok(Counts {
            queued: inflight.saturating_sub(running),
            running: running.min(inflight),
            done: done.unwrap_or(0),
            failed,
            pages: pages.unwrap_or(0),
            started_at: started.map(secs),
            last_done_at: last.map(secs),
            // Members are `time:job:pages`.
            recent_pages: (recent.iter())
                .filter_map(|m| m.rsplit(':').next()?.parse::<u64>().ok())
                .sum(),
            window_s: WINDOW_MS as f64 / 1e3,
        })
    }

    fn file(&mut self, run: &str, rel: &str) -> QResult<Option<FileRecord>> {
        let j: Option<String> = self.run(|c| c.hget(files_key(run), rel))?;
        Ok(parse(j).pop())
    }

    fn runs(&mut self) -> QResult<Vec<RunRecord>> {
        let mut v: Vec<RunRecord> = parse(self.run(|c| c.hvals::<_, Vec<String>>(RUNS))?);
        v.sort_by(|a, b| a.submitted_at.total_cmp(&b.submitted_at));
        Ok(v)
    }

    fn files(&mut self, run: &str) -> QResult<Vec<FileRecord>> {
        self.scan(&files_key(run), usize::MAX)
    }

    fn dead_letters(&mut self, limit: usize) -> QResult<Vec<DeadLetter>> {
        let mut v: Vec<DeadLetter> = self.scan(DEAD, limit)?;
        v.sort_by(|a, b| (&a.job.rel, a.job.range).cmp(&(&b.job.rel, b.job.range)));
        Ok(v)
    }

    fn workers(&mut self) -> QResult<Vec<WorkerInfo>> {
        let r: StreamInfoConsumersReply = self.run(|c| c.xinfo_consumers(STREAM, GROUP))?;
        let info = |c: redis::streams::StreamInfoConsumer| WorkerInfo {
            name: c.name,
            pending: c.pending as u64,
            idle_s: c.idle as f64 / 1e3,
        };
        Ok(r.consumers.into_iter().map(info).collect())
    }

    fn forget_idle_workers(&mut self, idle: Duration) -> QResult<usize> {
        let mut gone = self.workers()?;
        gone.retain(|w| w.pending == 0 && w.idle_s > idle.as_secs_f64());
        for w in &gone {
            self.run(|c| c.xgroup_delconsumer::<_, _, _, ()>(STREAM, GROUP, &w.name))?;
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

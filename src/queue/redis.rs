//! [`Queue`] on Redis Streams (Redis 7.0 or later). The keys, all under the hash tag `{sohoa}` (one
//! cluster slot, so a script may touch them together), are listed in docs/scale-out.md, "Keys".
//!
//! An entry a worker reads (`XREADGROUP … >`) stays in the group's pending list until `XACK`.
//! A live worker re-claims its own entries (`XCLAIM … JUSTID`: resets the idle time without
//! counting a delivery), so a long job is never taken from it. A dead worker's entries grow idle
//! past the ack timeout and the next worker asking for work claims them; the delivery counter
//! tells how often that happened, so a job that kills its workers ends in the dead-letter list
//! instead of looping. Acknowledged entries are deleted: the stream holds only work to do.

use super::{Counts, DeadLetter, Delivery, FileRecord, Job, QResult, Queue, QueueError};
use super::{RunRecord, WorkerInfo};
use redis::streams::{StreamInfoConsumer, StreamInfoConsumersReply};
use redis::streams::{StreamReadOptions, StreamReadReply};
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
/// The keys every script gets first, in the order [`SCRIPTS`] names them.
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

/// The scripts, as one library: each call names its function (ARGV[1]).
const SCRIPTS: &str = r#"
local stream, inflight, dead, stats, recent, files, parts = unpack(KEYS)
local group, op = 'workers', {}
-- A file's record is not replaced by one for other content (a newer submit's).
local function set_file(rel, json)
  local cur = redis.call('HGET', files, rel)
  if cur then
    local c, n = cjson.decode(cur).sha256, cjson.decode(json).sha256
    if type(c) == 'string' and type(n) == 'string' and c ~= n then return end
  end
  redis.call('HSET', files, rel, json)
end
-- 1 when the entry was still pending.
local function ack(id)
  local n = redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
  return n
end
-- ARGV[4..]: job id, job, job id, job, … A submit to an idle queue starts the counters afresh.
function op.submit(rel, file)
  local added = 0
  if #ARGV > 3 and redis.call('SCARD', inflight) == 0 then redis.call('DEL', stats, recent) end
  for i = 4, #ARGV, 2 do
    if redis.call('SADD', inflight, ARGV[i]) == 1 then
      redis.call('HDEL', dead, ARGV[i])
      redis.call('XADD', stream, '*', 'job', ARGV[i + 1])
      added = added + 1
    end
  end
  redis.call((added > 0 or #ARGV < 4) and 'HSET' or 'HSETNX', files, rel, file)
  return added
end
-- The oldest entry pending longer than `idle` ms (its worker died), claimed: id, job, deliveries.
function op.take(consumer, idle)
  local p = redis.call('XPENDING', stream, group, 'IDLE', idle, '-', '+', 1)[1]
  local e = p and redis.call('XCLAIM', stream, group, consumer, idle, p[1])[1]
  if e then return {e[1], e[2][2], p[4] + 1} end
end
function op.keep_alive(id, consumer)
  local p = redis.call('XPENDING', stream, group, id, id, 1)[1]
  if not p or p[2] ~= consumer then return 0 end
  return #redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID')
end
-- Only the first acknowledgement of a job counts (SREM answers 1 once).
function op.complete(id, job, pages, now, rel, file)
  ack(id)
  local fresh = redis.call('SREM', inflight, job)
  if fresh == 1 then
    redis.call('HINCRBY', stats, 'done', 1)
    redis.call('HINCRBY', stats, 'pages', pages)
    redis.call('HSET', stats, 'last_done_at', now)
    redis.call('ZADD', recent, now, now .. ':' .. job .. ':' .. pages)
    redis.call('ZREMRANGEBYSCORE', recent, '-inf', now - 600000)
  end
  if file ~= '' then
    set_file(rel, file)
    redis.call('DEL', parts)
  end
  return fresh
end
-- A repeated call (a lost reply) finds the entry acknowledged and adds no second copy.
function op.retry(id, job, again)
  if ack(id) == 1 and redis.call('SISMEMBER', inflight, job) == 1 then
    redis.call('XADD', stream, '*', 'job', again)
  end
end
function op.bury(id, job, letter, rel, file)
  ack(id)
  if redis.call('SREM', inflight, job) == 1 then
    redis.call('HSET', dead, job, letter)
    if file ~= '' then set_file(rel, file) end
  end
end
-- One snapshot for status: jobs in flight, running (pending), dead, pages done since `since` ms
-- (members are time:job:pages), done, pages, started_at, last_done_at.
function op.counts(since)
  local s, n = redis.call('HMGET', stats, 'done', 'pages', 'started_at', 'last_done_at'), 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', recent, since, '+inf')) do
    n = n + tonumber(m:match(':(%d+)$'))
  end
  local running = redis.call('XPENDING', stream, group)[1]
  return {redis.call('SCARD', inflight), running, redis.call('HLEN', dead), n, s[1], s[2], s[3], s[4]}
end
return op[ARGV[1]](unpack(ARGV, 2, 7))
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
        let (connect, read) = (Duration::from_secs(5), Duration::from_secs(60));
        let r = match &mut self.conn {
            Some(c) => f(c),
            // The read timeout is longer than the longest blocking read (XREADGROUP … BLOCK).
            None => (self.client.get_connection_with_timeout(connect))
                .and_then(|c| c.set_read_timeout(Some(read)).map(|()| c))
                .and_then(|c| f(self.conn.insert(c))),
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

    /// `op` of [`SCRIPTS`] on [`SCRIPT_KEYS`], `run`'s files and `job`'s ranges, sent as
    /// `EVALSHA` and loaded when the server does not know it yet (first use, or after a restart).
    fn eval<T, A>(&mut self, op: &str, run: &str, job: Option<&Job>, args: A) -> QResult<T>
    where
        T: FromRedisValue,
        A: ToRedisArgs,
    {
        let parts = job.map_or("{sohoa}:parts".into(), parts_key);
        let script = Script::new(SCRIPTS);
        let mut call = script.key(&SCRIPT_KEYS);
        call.key(files_key(run)).key(parts).arg(op).arg(args);
        self.run(|c| call.invoke(c))
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
        self.eval("submit", run, None, (&file.rel, json(file), jobs))
    }

    fn next(&mut self, worker: &str, stale: Duration, wait: Duration) -> QResult<Option<Delivery>> {
        let mut d: Option<(String, Option<String>, u32)> =
            self.eval("take", "", None, (worker, ms(stale)))?;
        if d.is_none() {
            let opts = StreamReadOptions::default().group(GROUP, worker);
            let opts = opts.count(1).block(ms(wait));
            let r: Option<StreamReadReply> =
                self.run(|c| c.xread_options(&[STREAM], &[">"], &opts))?;
            let e = r.and_then(|r| r.keys.into_iter().next()?.ids.into_iter().next());
            d = e.map(|e| (e.id.clone(), e.get("job"), 1));
        }
        let Some((handle, job, deliveries)) = d else {
            return Ok(None);
        };
        let job = self.run(|c| {
            c.hset_nx::<_, _, _, ()>(STATS, "started_at", now_ms())?;
            let job = job.and_then(|j| serde_json::from_str(&j).ok());
            Ok(job.ok_or((ErrorKind::Parse, "no job in stream entry", handle.clone()))?)
        })?;
        Ok(Some(Delivery {
            job,
            handle,
            deliveries,
        }))
    }

    fn keep_alive(&mut self, worker: &str, d: &Delivery) -> QResult<bool> {
        self.eval("keep_alive", "", None, (&d.handle, worker))
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
        self.eval("complete", &j.run, Some(j), args)
    }

    fn retry(&mut self, d: &Delivery) -> QResult<()> {
        let mut job = d.job.clone();
        job.attempt += d.deliveries;
        self.eval("retry", "", None, (&d.handle, &d.job.id, json(&job)))
    }

    fn bury(&mut self, d: &Delivery, dead: &DeadLetter, file: Option<&FileRecord>) -> QResult<()> {
        let (j, fj) = (&d.job, file.map(json).unwrap_or_default());
        let args = (&d.handle, &j.id, json(dead), &j.rel, fj);
        self.eval("bury", &j.run, None, args)
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
        let [inflight, running, failed, recent, done, pages, started, last]: [Option<u64>; 8] =
            self.eval("counts", "", None, now_ms() - WINDOW_MS)?;
        let [inflight, running] = [inflight, running].map(Option::unwrap_or_default);
        let secs = |ms: u64| ms as f64 / 1e3;
        Ok(Counts {
            queued: inflight.saturating_sub(running),
            running: running.min(inflight),
            done: done.unwrap_or(0),
            failed: failed.unwrap_or(0),
            pages: pages.unwrap_or(0),
            started_at: started.map(secs),
            last_done_at: last.map(secs),
            recent_pages: recent.unwrap_or(0),
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
        let info = |c: StreamInfoConsumer| WorkerInfo {
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

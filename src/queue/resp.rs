//! A minimal Redis client: RESP2 over a `TcpStream`, one connection, one command at a time.
//!
//! sohoa needs a dozen commands (streams, sets, hashes, EVAL), so speaking the protocol directly
//! is smaller than a client crate and adds nothing to the build. Requests are arrays of bulk
//! strings; replies are parsed into [`Value`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Int(i64),
    /// A simple or bulk string.
    Data(Vec<u8>),
    Array(Vec<Value>),
    /// An error reply (`-ERR …`): the command failed, the connection is fine.
    Error(String),
}

impl Value {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Data(d) => std::str::from_utf8(d).ok()?.parse().ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Data(d) => std::str::from_utf8(d).ok(),
            _ => None,
        }
    }

    pub fn into_string(self) -> Option<String> {
        match self {
            Value::Data(d) => String::from_utf8(d).ok(),
            _ => None,
        }
    }

    pub fn into_array(self) -> Vec<Value> {
        match self {
            Value::Array(v) => v,
            _ => Vec::new(),
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

/// Where the server is: `redis://[[user]:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub db: u32,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("{url}: the queue URL must start with redis://"))?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((a, r)) => (Some(a), r),
            None => (None, rest),
        };
        let (hostport, db) = match rest.split_once('/') {
            Some((h, d)) => (h, d.trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            // [::1]:6379
            let (h, p) = h
                .split_once(']')
                .ok_or_else(|| format!("{url}: bad IPv6 host"))?;
            (h.to_string(), p.strip_prefix(':').unwrap_or(""))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (hostport.to_string(), ""),
            }
        };
        let port = if port.is_empty() {
            6379
        } else {
            port.parse()
                .map_err(|_| format!("{url}: bad port '{port}'"))?
        };
        let db = if db.is_empty() {
            0
        } else {
            db.parse()
                .map_err(|_| format!("{url}: bad database number '{db}'"))?
        };
        let (user, password) = match auth {
            None => (None, None),
            Some(a) => match a.split_once(':') {
                Some((u, p)) => ((!u.is_empty()).then(|| u.to_string()), Some(p.to_string())),
                None => (None, Some(a.to_string())),
            },
        };
        Ok(Endpoint {
            host: if host.is_empty() {
                "127.0.0.1".into()
            } else {
                host
            },
            port,
            db,
            user,
            password,
        })
    }

    /// The URL without the password, for logs.
    pub fn display(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("redis://{host}:{}/{}", self.port, self.db)
    }
}

pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

fn proto(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

impl Conn {
    /// Connect, authenticate and select the database.
    pub fn connect(ep: &Endpoint) -> std::io::Result<Conn> {
        use std::net::ToSocketAddrs;
        let mut last = None;
        let mut stream = None;
        for addr in (ep.host.as_str(), ep.port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match stream {
            Some(s) => s,
            None => return Err(last.unwrap_or_else(|| proto(format!("{}: no address", ep.host)))),
        };
        stream.set_nodelay(true)?;
        let mut c = Conn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        };
        if let Some(p) = &ep.password {
            let r = match &ep.user {
                Some(u) => c.cmd(&["AUTH", u, p])?,
                None => c.cmd(&["AUTH", p])?,
            };
            if let Value::Error(e) = r {
                return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, e));
            }
        }
        if ep.db != 0 {
            if let Value::Error(e) = c.cmd(&["SELECT", &ep.db.to_string()])? {
                return Err(proto(e));
            }
        }
        Ok(c)
    }

    /// Send one command and read its reply. A reply that is an error comes back as
    /// `Value::Error`; I/O and protocol errors as `Err`.
    pub fn cmd<S: AsRef<[u8]>>(&mut self, args: &[S]) -> std::io::Result<Value> {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            let a = a.as_ref();
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&buf)?;
        self.read_value()
    }

    /// How long a read may wait (a blocking XREADGROUP adds its own block time to this).
    pub fn set_read_timeout(&mut self, t: Option<Duration>) -> std::io::Result<()> {
        self.writer.set_read_timeout(t)
    }

    fn read_line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            ));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn read_value(&mut self) -> std::io::Result<Value> {
        let line = self.read_line()?;
        let (&tag, rest) = line
            .split_first()
            .ok_or_else(|| proto("empty reply line"))?;
        let text = || String::from_utf8_lossy(rest).into_owned();
        let int = || -> std::io::Result<i64> {
            text()
                .parse::<i64>()
                .map_err(|_| proto(format!("bad integer '{}'", text())))
        };
        Ok(match tag {
            b'+' => Value::Data(rest.to_vec()),
            b'-' => Value::Error(text()),
            b':' => Value::Int(int()?),
            b'$' => {
                let n = int()?;
                if n < 0 {
                    Value::Nil
                } else {
                    let mut data = vec![0u8; n as usize + 2];
                    self.reader.read_exact(&mut data)?;
                    data.truncate(n as usize);
                    Value::Data(data)
                }
            }
            b'*' => {
                let n = int()?;
                if n < 0 {
                    Value::Nil
                } else {
                    let mut v = Vec::with_capacity(n.min(1 << 16) as usize);
                    for _ in 0..n {
                        v.push(self.read_value()?);
                    }
                    Value::Array(v)
                }
            }
            other => {
                return Err(proto(format!(
                    "unknown reply type '{}' (is a Redis server listening there?)",
                    other as char
                )))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_queue_urls() {
        let e = Endpoint::parse("redis://10.0.0.5:6380/2").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.db), ("10.0.0.5", 6380, 2));
        let e = Endpoint::parse("redis://:secret@queue").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.db), ("queue", 6379, 0));
        assert_eq!(e.password.as_deref(), Some("secret"));
        assert_eq!(e.user, None);
        let e = Endpoint::parse("redis://ocr:pw@[::1]:7000/").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 7000));
        assert_eq!(e.user.as_deref(), Some("ocr"));
        assert!(Endpoint::parse("nats://x").is_err());
        assert!(Endpoint::parse("redis://h:notaport").is_err());
        assert_eq!(e.display(), "redis://[::1]:7000/0");
    }
}

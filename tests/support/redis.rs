//! A real `redis-server` for the Redis tests, and a small blocking client to talk to it.
//!
//! [`RedisServer::start`] runs Debian's `redis-server` (or whichever is on `PATH`) as a
//! child process on a free loopback port, bound to 127.0.0.1 only, with a fresh directory
//! of its own (its data files and its log), the way `scripts/nginx-test.sh` runs nginx:
//! nothing under `/etc/redis` or `/var` is read or written, and the process is stopped by
//! its PID — SIGTERM, then SIGKILL if it has not exited within [`STOP_TIMEOUT`] — when the
//! value is dropped, failed test or not.
//!
//! Without `redis-server` installed, `start` prints one line,
//! `redis-server not installed: skipping <test>`, and returns `None`: the test returns
//! early and passes. Under `CI=true` a missing `redis-server` fails the test instead, so a
//! CI run cannot pass by skipping them (`.ci/run` installs it).
//!
//! [`RedisClient`] is deliberately independent of the library's own RESP code
//! (`src/redis/`): it is the oracle those tests compare against, so it shares none of the
//! code under test — a blocking `TcpStream`, a RESP2 array written out, one reply read
//! back by a parser of its own.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::TIMEOUT;

/// How long a stopped `redis-server` has after SIGTERM before it gets SIGKILL. Redis
/// exits at once unless it is writing a snapshot or the append-only file.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many free ports [`RedisServer::start`] tries: another process may take the port
/// between our probe and Redis's bind.
const PORT_ATTEMPTS: usize = 5;

/// What the server keeps on disk, which decides what survives [`RedisServer::restart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// `--save "" --appendonly no`: nothing; a restart comes back as a new, empty
    /// server (the "Redis lost the data" case).
    None,
    /// `--appendonly yes --appendfsync always`: every write is in the append-only file
    /// before it is answered; a restart comes back with every key.
    AppendOnly,
}

/// A `redis-server` child process of this test, stopped by PID on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    persistence: Persistence,
}

impl RedisServer {
    /// A server with [`Persistence::None`]; `None` (after printing why) if `redis-server`
    /// is not installed and this is not CI.
    pub fn start() -> Option<RedisServer> {
        RedisServer::start_with(Persistence::None)
    }

    /// A server keeping what `persistence` says; `None` as for [`start`](Self::start).
    pub fn start_with(persistence: Persistence) -> Option<RedisServer> {
        if !installed() {
            skip_or_fail();
            return None;
        }
        let dir = fresh_dir();
        for _ in 0..PORT_ATTEMPTS {
            let mut server = RedisServer {
                child: None,
                port: free_port(),
                dir: dir.clone(),
                persistence,
            };
            match server.spawn() {
                Ok(()) => return Some(server),
                // Someone took the port first: the next free one. (Dropping `server`
                // removes the directory; it is made again.)
                Err(Failure::PortTaken) => fs::create_dir_all(&dir).expect("make the dir"),
                Err(Failure::Other(why)) => panic!("{why}"),
            }
        }
        panic!("redis-server found no free port in {PORT_ATTEMPTS} attempts");
    }

    /// The port it listens on, on 127.0.0.1; the same across [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `redis://127.0.0.1:PORT/0`, what `pushwire serve --redis` takes.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Its directory: data files and `redis.log`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The PID of the running process; `None` while it is stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => child
                .try_wait()
                .expect("try_wait on redis-server")
                .is_none(),
            None => false,
        }
    }

    /// A new connection to it.
    pub fn client(&self) -> RedisClient {
        RedisClient::connect(self.addr())
            .unwrap_or_else(|e| panic!("connect to redis-server on {}: {e}", self.addr()))
    }

    /// `FLUSHALL`: every key of every database gone, as if Redis had lost its data.
    pub fn flushall(&self) {
        self.client().call(["FLUSHALL"]).expect_ok();
    }

    /// Stops it (SIGTERM, SIGKILL after [`STOP_TIMEOUT`]) and waits for it to exit; the
    /// port stays this server's for [`restart`](Self::restart). Clients see their
    /// connections closed, as when a real Redis goes down.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_by_pid(child);
        }
    }

    /// Stops it if it runs, then starts it again on the same port and directory, and
    /// waits until it answers `PING` (after loading its data, if it kept any).
    pub fn restart(&mut self) {
        self.stop();
        match self.spawn() {
            Ok(()) => {}
            Err(Failure::PortTaken) => panic!(
                "redis-server could not bind 127.0.0.1:{} again: another process took it",
                self.port
            ),
            Err(Failure::Other(why)) => panic!("{why}"),
        }
    }

    /// Its log so far (stdout and stderr), for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    /// Starts the process on `self.port` and waits (at most [`TIMEOUT`]) until it answers
    /// `PING` as *this* process (`INFO server` names its PID: a stranger on the port does
    /// not count).
    fn spawn(&mut self) -> Result<(), Failure> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("redis.log"))
            .map_err(|e| Failure::Other(format!("open redis.log: {e}")))?;
        let log_too = log
            .try_clone()
            .map_err(|e| Failure::Other(format!("clone redis.log: {e}")))?;
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            // No snapshots ever, on shutdown included: only the append-only file (if
            // asked for) keeps data across a restart.
            .args(["--save", ""])
            .args(["--loglevel", "notice"]);
        match self.persistence {
            Persistence::None => command.args(["--appendonly", "no"]),
            Persistence::AppendOnly => {
                command.args(["--appendonly", "yes", "--appendfsync", "always"])
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_too)
            .spawn()
            .map_err(|e| Failure::Other(format!("run redis-server: {e}")))?;
        let pid = child.id();
        self.child = Some(child);

        let deadline = Instant::now() + TIMEOUT;
        loop {
            if !self.is_running() {
                self.child = None;
                let log = self.log();
                if log.contains("Address already in use") {
                    return Err(Failure::PortTaken);
                }
                return Err(Failure::Other(format!(
                    "redis-server exited at start; its log:\n{log}"
                )));
            }
            if answers_as(self.addr(), pid) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(Failure::Other(format!(
                    "redis-server (pid {pid}) did not answer PING on {} within {TIMEOUT:?}; \
                     its log:\n{}",
                    self.addr(),
                    self.log()
                )));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            // The test failed: what Redis said may be why.
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let mut stderr = io::stderr();
            let _ = writeln!(
                stderr,
                "--- the end of redis-server's log ({}) ---",
                self.port
            );
            for line in tail.iter().rev() {
                let _ = writeln!(stderr, "{line}");
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Why [`RedisServer::spawn`] failed.
enum Failure {
    /// The port was taken between choosing it and Redis binding it.
    PortTaken,
    Other(String),
}

/// Whether `redis-server` runs at all.
fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A missing `redis-server`: one line on the real standard error (not the test's captured
/// output, so that a plain `cargo test` shows it) — or, under `CI=true`, a failure.
fn skip_or_fail() {
    let current = thread::current();
    let test = match current.name() {
        Some(name) if name != "main" => name,
        _ => "this Redis test",
    };
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!(
            "redis-server not installed, and CI=true: {test} must run in CI, not skip \
             (.ci/run installs Debian's redis-server)"
        );
    }
    let _ = writeln!(
        io::stderr(),
        "redis-server not installed: skipping {test} (install redis-server to run it)"
    );
}

/// A new empty directory under the system's temp directory, unique to this process and
/// server.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pushwire-redis-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("make the redis-server directory");
    dir
}

/// A loopback port nobody listens on right now (the kernel's choice for port 0).
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Whether the server on `addr` answers `PING` and is process `pid`. `-LOADING` (data
/// still being read) and refused connections are "not yet".
fn answers_as(addr: SocketAddr, pid: u32) -> bool {
    let Ok(mut client) = RedisClient::connect_within(addr, Duration::from_millis(200)) else {
        return false;
    };
    if !matches!(client.try_call(["PING"]), Ok(Reply::Status(s)) if s == "PONG") {
        return false;
    }
    match client.try_call(["INFO", "server"]) {
        Ok(Reply::Bulk(info)) => String::from_utf8_lossy(&info)
            .lines()
            .any(|line| line.trim_end() == format!("process_id:{pid}")),
        _ => false,
    }
}

/// SIGTERM to `child` by its PID, a wait of at most [`STOP_TIMEOUT`], then SIGKILL.
fn stop_by_pid(mut child: Child) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    // std has SIGKILL (`Child::kill`) but no SIGTERM; kill(1) sends it by PID.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = writeln!(
        io::stderr(),
        "redis-server (pid {}) did not exit within {STOP_TIMEOUT:?} of SIGTERM: SIGKILL",
        child.id()
    );
    let _ = child.kill();
    let _ = child.wait();
}

// ===== the client =====

/// One reply of RESP2, as Redis sends it (`HELLO 3` is never sent, so RESP3 types never
/// arrive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`, `+PONG`, `+QUEUED`.
    Status(String),
    /// `-ERR ...`, `-NOSCRIPT ...`: the whole line, its code first.
    Error(String),
    Integer(i64),
    Bulk(Vec<u8>),
    /// `$-1`: a nil bulk string.
    Nil,
    Array(Vec<Reply>),
    /// `*-1`: a nil array (an `EXEC` that was aborted, a `BLPOP` that timed out).
    NilArray,
}

impl Reply {
    pub fn expect_ok(&self) {
        assert_eq!(self, &Reply::Status("OK".into()), "expected +OK");
    }

    pub fn integer(&self) -> i64 {
        match self {
            Reply::Integer(n) => *n,
            other => panic!("expected an integer reply, got {other}"),
        }
    }

    pub fn bulk(&self) -> &[u8] {
        match self {
            Reply::Bulk(bytes) => bytes,
            other => panic!("expected a bulk string, got {other}"),
        }
    }

    /// A bulk string that is UTF-8 text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(self.bulk()).unwrap_or_else(|_| panic!("not UTF-8: {self}"))
    }

    pub fn array(&self) -> &[Reply] {
        match self {
            Reply::Array(items) => items,
            other => panic!("expected an array, got {other}"),
        }
    }

    /// The error line, which a test matches on its code (`NOSCRIPT`, `ERR`).
    pub fn error(&self) -> &str {
        match self {
            Reply::Error(line) => line,
            other => panic!("expected an error reply, got {other}"),
        }
    }
}

/// Readable in assertion messages: bulk strings with their bytes escaped.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(s) => write!(f, "+{s}"),
            Reply::Error(s) => write!(f, "-{s}"),
            Reply::Integer(n) => write!(f, ":{n}"),
            Reply::Bulk(bytes) => write!(f, "\"{}\"", bytes.escape_ascii()),
            Reply::Nil => f.write_str("(nil)"),
            Reply::NilArray => f.write_str("(nil array)"),
            Reply::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Longest bulk string the parser accepts: Redis's own default `proto-max-bulk-len`.
const MAX_BULK: usize = 512 * 1024 * 1024;
/// Deepest nesting of arrays the parser follows (Redis's replies nest 3 or 4 deep).
const MAX_DEPTH: usize = 16;

/// A blocking client: writes one command as a RESP array of bulk strings, reads one
/// reply. Every read is bounded by [`TIMEOUT`], so a missing reply fails the test rather
/// than hanging it.
pub struct RedisClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RedisClient {
    pub fn connect(addr: SocketAddr) -> io::Result<RedisClient> {
        RedisClient::connect_within(addr, TIMEOUT)
    }

    fn connect_within(addr: SocketAddr, limit: Duration) -> io::Result<RedisClient> {
        let stream = TcpStream::connect_timeout(&addr, limit)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(RedisClient {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Sends one command and reads its reply; panics on an IO or protocol failure (an
    /// error *reply* is returned, as [`Reply::Error`]).
    pub fn call<I>(&mut self, args: I) -> Reply
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.try_call(args)
            .unwrap_or_else(|e| panic!("redis connection failed: {e}"))
    }

    pub fn try_call<I>(&mut self, args: I) -> io::Result<Reply>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.send(args)?;
        self.read_reply()
    }

    /// Writes one command without reading anything: for pipelines, and for a
    /// subscriber's `SUBSCRIBE`, whose replies then come one [`read_reply`](Self::read_reply)
    /// at a time.
    pub fn send<I>(&mut self, args: I) -> io::Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.writer.write_all(&encode_command(args))
    }

    /// Reads the next reply, waiting at most the read timeout ([`TIMEOUT`] unless set).
    pub fn read_reply(&mut self) -> io::Result<Reply> {
        parse_reply(&mut self.reader)
    }

    /// How long [`read_reply`](Self::read_reply) waits; `None` waits for ever.
    pub fn set_read_timeout(&mut self, limit: Option<Duration>) -> io::Result<()> {
        self.writer.set_read_timeout(limit)
    }
}

/// A command as RESP2 sends it: `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` per argument.
pub fn encode_command<I>(args: I) -> Vec<u8>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let args: Vec<I::Item> = args.into_iter().collect();
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in &args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// One line ending in CRLF, without it.
fn read_line(input: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    input.read_until(b'\n', &mut line)?;
    // `read_until` stops at the LF or at the end of the input: no LF is a reply cut short.
    if !line.ends_with(b"\n") {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if !line.ends_with(b"\r\n") {
        return Err(invalid(format!(
            "a reply line not ended by CRLF: {:?}",
            line.escape_ascii().to_string()
        )));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_integer(digits: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            invalid(format!(
                "not an integer: {:?}",
                digits.escape_ascii().to_string()
            ))
        })
}

/// A length: -1 is nil (`None`), anything else must be 0..=`max`.
fn parse_length(digits: &[u8], max: usize) -> io::Result<Option<usize>> {
    match parse_integer(digits)? {
        -1 => Ok(None),
        n if n >= 0 && (n as u64) <= max as u64 => Ok(Some(n as usize)),
        n => Err(invalid(format!("a length out of range: {n}"))),
    }
}

/// Reads one reply from `input` (an error of kind `InvalidData` for what is not RESP2,
/// `UnexpectedEof` for a reply cut short).
pub fn parse_reply(input: &mut impl BufRead) -> io::Result<Reply> {
    read_reply(input, 0)
}

fn read_reply(input: &mut impl BufRead, depth: usize) -> io::Result<Reply> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!("arrays nested over {MAX_DEPTH} deep")));
    }
    let line = read_line(input)?;
    let (kind, rest) = line
        .split_first()
        .ok_or_else(|| invalid("an empty reply line".into()))?;
    let text = || String::from_utf8_lossy(rest).into_owned();
    Ok(match kind {
        b'+' => Reply::Status(text()),
        b'-' => Reply::Error(text()),
        b':' => Reply::Integer(parse_integer(rest)?),
        b'$' => match parse_length(rest, MAX_BULK)? {
            None => Reply::Nil,
            Some(len) => {
                let mut bytes = vec![0; len + 2];
                input.read_exact(&mut bytes)?;
                if !bytes.ends_with(b"\r\n") {
                    return Err(invalid("a bulk string not followed by CRLF".into()));
                }
                bytes.truncate(len);
                Reply::Bulk(bytes)
            }
        },
        b'*' => match parse_length(rest, MAX_BULK)? {
            None => Reply::NilArray,
            Some(len) => {
                // Not `with_capacity(len)`: the count is the peer's word, the items are not
                // here yet.
                let mut items = Vec::new();
                for _ in 0..len {
                    items.push(read_reply(input, depth + 1)?);
                }
                Reply::Array(items)
            }
        },
        other => {
            return Err(invalid(format!(
                "unknown reply type {:?}",
                (*other as char).escape_default().to_string()
            )));
        }
    })
}

//! Running out of file descriptors, survived: the real `pushwire serve` under a limit of
//! 64 open files, offered 120 connections. It warns at start that `max_connections`
//! cannot be reached, says once that it ran out, refuses the surplus promptly instead of
//! leaving it in the kernel's queue, does not spin while exhausted, and serves again as
//! soon as connections close.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pushwire");
const PRLIMIT: &str = "/usr/bin/prlimit";
/// The open-files limit the server runs under.
const LIMIT: usize = 64;
/// Connections offered: well past what the limit allows.
const CONNECTIONS: usize = 120;
/// Upper bound for waiting on the child (start-up, log lines).
const TIMEOUT: Duration = Duration::from_secs(10);

/// Kills the child (by its PID, through `Child`) when dropped, so that a failing test
/// leaves no server behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's standard error, line by line, as it arrives.
#[derive(Clone, Default)]
struct Stderr(Arc<Mutex<Vec<String>>>);

impl Stderr {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self, needle: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits (at most [`TIMEOUT`]) for a line containing `needle`; returns it.
    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "no stderr line with {needle:?} within {TIMEOUT:?}; stderr: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// User plus system CPU time of process `pid`, in clock ticks (`/proc/PID/stat` fields
/// 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // The command name (field 2) is in parentheses and may contain spaces.
    let after_name = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `fields[0]` is field 3 (the state), so field 14 is `fields[11]`.
    let utime: u64 = fields[11].parse().unwrap();
    let stime: u64 = fields[12].parse().unwrap();
    utime + stime
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 if that fails).
fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Has the server closed this connection (EOF or reset)? Waits at most `limit`; `false`
/// if the connection is still open then.
fn refused_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("a refused connection got {n} bytes: {:?}", &buf[..n]),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("unexpected error on a client connection: {e}"),
    }
}

/// One `GET /healthz` on a fresh connection: the whole response, or `None` if the
/// connection was refused or the answer did not come within `limit`.
fn healthz(addr: SocketAddr, limit: Duration) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, limit).ok()?;
    stream.set_read_timeout(Some(limit)).unwrap();
    stream.set_write_timeout(Some(limit)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    (!response.is_empty()).then(|| String::from_utf8_lossy(&response).into_owned())
}

/// A `pushwire serve` under the lowered limit, offered [`CONNECTIONS`] connections that
/// stay open on the client side (the test's `clients`).
struct Exhausted {
    server: Running,
    pid: u32,
    addr: SocketAddr,
    stderr: Stderr,
    clients: Vec<TcpStream>,
}

/// Starts the server under the limit and offers it more connections than it has
/// descriptors for; returns once it has said it ran out. `None` (with a note) where the
/// limit cannot be lowered.
fn exhausted_server() -> Option<Exhausted> {
    if !Path::new(PRLIMIT).exists() {
        eprintln!("skipped: {PRLIMIT} is not installed, so the open-files limit cannot be lowered");
        return None;
    }
    let child = Command::new(PRLIMIT)
        .arg(format!("--nofile={LIMIT}:{LIMIT}"))
        .args(["--", BIN, "serve", "--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn prlimit … pushwire serve");
    let mut server = Running(child);
    // prlimit sets its own limit and execs the command: the PID is the server's.
    let pid = server.0.id();

    let stdout = server.0.stdout.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = Stderr::default();
    let pipe = server.0.stderr.take().unwrap();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.0.lock().unwrap().push(line);
        }
    });

    // "pushwire serve: open http://ADDR/ in a browser (demo chat)"
    let first = lines_rx
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("no address on stdout; stderr: {:#?}", stderr.lines()));
    let addr: SocketAddr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(
        comm.trim(),
        "pushwire",
        "precondition: PID {pid} is the server"
    );

    // More connections than descriptors. The kernel completes every handshake (they wait
    // in the listen queue); the server accepts what it can and must refuse the rest.
    let clients: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|i| {
            TcpStream::connect_timeout(&addr, Duration::from_secs(1))
                .unwrap_or_else(|e| panic!("connection {i}: {e}"))
        })
        .collect();
    stderr.wait_for("out of file descriptors");
    Some(Exhausted {
        server,
        pid,
        addr,
        stderr,
        clients,
    })
}

/// Which of `clients` the server has closed (EOF or reset) by now.
fn refused_ones(clients: &mut [TcpStream]) -> Vec<usize> {
    (0..clients.len())
        .filter(|&i| refused_within(&mut clients[i], Duration::from_millis(1)))
        .collect()
}

#[test]
fn server_does_not_spin_while_out_of_descriptors_and_serves_again_once_clients_leave() {
    let Some(Exhausted {
        server,
        pid,
        addr,
        stderr,
        clients,
    }) = exhausted_server()
    else {
        return;
    };
    // At start it warned that the default max_connections (16 384) cannot be reached.
    let warning = stderr.wait_for("max_connections is");
    assert!(
        warning.contains(&format!("open-files limit is {LIMIT}")),
        "{warning}"
    );

    // Exhausted, with more connections arriving, the server does not spin.
    let ticks_per_second = clock_ticks_per_second();
    let before = cpu_ticks(pid);
    let start = Instant::now();
    let mut late = Vec::new();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(200));
        late.push(
            TcpStream::connect_timeout(&addr, Duration::from_secs(1))
                .expect("connect while exhausted"),
        );
    }
    let spent = cpu_ticks(pid) - before;
    let wall = start.elapsed();
    assert!(
        (spent as f64) < 0.2 * ticks_per_second as f64 * wall.as_secs_f64(),
        "{spent} ticks of CPU ({ticks_per_second}/s) in {wall:?} while out of descriptors"
    );

    // Once the clients leave, the server serves again at once.
    drop(clients);
    drop(late);
    let start = Instant::now();
    let response = loop {
        if let Some(response) = healthz(addr, Duration::from_millis(200)) {
            break response;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "no answer to GET /healthz within {:?} of the clients leaving; stderr: {:#?}",
            start.elapsed(),
            stderr.lines()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with("\r\n\r\nok"),
        "{response:?}"
    );
    drop(server);
}

#[test]
fn connections_past_the_descriptor_limit_are_refused_promptly_and_reported_once() {
    let Some(Exhausted {
        server,
        addr,
        stderr,
        mut clients,
        ..
    }) = exhausted_server()
    else {
        return;
    };
    // The last connections offered are certainly past the limit: each must have been
    // refused (EOF or reset) within a second rather than be left in the kernel's queue.
    for i in (CONNECTIONS - 5..CONNECTIONS).rev() {
        let start = Instant::now();
        if !refused_within(&mut clients[i], Duration::from_secs(1)) {
            let waited = start.elapsed();
            let refused = refused_ones(&mut clients);
            panic!(
                "connection {i} is still waiting after {waited:?}; refused so far: \
                 {refused:?}; stderr: {:#?}",
                stderr.lines()
            );
        }
    }
    let mut refused = refused_ones(&mut clients).len();
    let kept = CONNECTIONS - refused;
    assert!(
        kept < LIMIT && kept > LIMIT / 2,
        "{kept} connections kept, {refused} refused under a limit of {LIMIT}"
    );
    // So is one that arrives later, while still exhausted.
    let mut late = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap();
    assert!(
        refused_within(&mut late, Duration::from_secs(1)),
        "a connection arriving while exhausted is not refused"
    );
    refused += 1;

    // Said once, not once per refused connection.
    assert_eq!(
        stderr.count("out of file descriptors"),
        1,
        "stderr: {:#?}",
        stderr.lines()
    );

    // The episode ends when connections close, and the count is reported.
    drop(clients);
    let start = Instant::now();
    while healthz(addr, Duration::from_millis(200)).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "not serving again"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let recovered = stderr.wait_for("accepting connections again");
    let shed: usize = recovered
        .split('(')
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {recovered:?}"));
    assert!(
        shed >= refused,
        "the server counts {shed} refused, the clients saw {refused}: {recovered}"
    );
    assert_eq!(
        stderr.count("out of file descriptors with"),
        1,
        "one episode, one warning: {:#?}",
        stderr.lines()
    );
    drop(server);
}

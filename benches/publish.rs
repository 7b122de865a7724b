//! Publish throughput and acknowledgement latency of `pushwire serve`, in memory and on
//! the durable log with each `--fsync` policy:
//!
//! ```sh
//! cargo bench --bench publish               # 4 publishers x 5 s per storage
//! cargo bench --bench publish -- --secs 2   # shorter
//! ```
//!
//! Four publishers, each on its own keep-alive connection with one request in flight,
//! post 64-byte messages to one channel for the given time; the latency of a publish is
//! from writing its request to reading its `201` (so it includes the log's `write` or
//! `fdatasync`: group commit shares one sync among the publishes that wait together).
//! Loopback only; every server is a fresh process in a fresh directory, killed by PID.
//! A benchmark, not a test: compare the rows of one run (this machine is shared).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PUBLISHERS: usize = 4;
const MESSAGE: usize = 64;

struct Serve {
    child: Child,
    addr: SocketAddr,
    dir: Option<PathBuf>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn serve(fsync: Option<&str>) -> Serve {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pushwire"));
    command.args(["serve", "--addr", &addr.to_string()]);
    let dir = fsync.map(|policy| {
        let dir =
            std::env::temp_dir().join(format!("pushwire-bench-{policy}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        command.args(["--data-dir", dir.to_str().unwrap(), "--fsync", policy]);
        dir
    });
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pushwire serve");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "pushwire serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Serve { child, addr, dir }
}

/// One publisher: requests back to back until `end`; the latency of each, in µs.
fn publisher(addr: SocketAddr, who: usize, end: Instant) -> Vec<u32> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = format!("{who:02}{}", "x".repeat(MESSAGE - 2));
    let request = format!(
        "POST /channels/bench HTTP/1.1\r\nHost: b\r\nContent-Length: {MESSAGE}\r\n\r\n{body}"
    );
    let mut latencies = Vec::new();
    let mut buf = [0u8; 4096];
    let mut pending = Vec::new();
    while Instant::now() < end && latencies.len() < 10_000_000 {
        let sent = Instant::now();
        stream.write_all(request.as_bytes()).expect("write");
        // Read one response: its head and its Content-Length body.
        loop {
            if let Some(len) = response_len(&pending) {
                assert!(
                    pending.starts_with(b"HTTP/1.1 201"),
                    "{:?}",
                    String::from_utf8_lossy(&pending)
                );
                pending.drain(..len);
                break;
            }
            let n = stream.read(&mut buf).expect("read");
            assert!(n > 0, "the server closed");
            pending.extend_from_slice(&buf[..n]);
        }
        latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
    latencies
}

/// The length of the first whole response in `buf`, if it is all there.
fn response_len(buf: &[u8]) -> Option<usize> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&buf[..head]).ok()?;
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= head + length).then_some(head + length)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs = args
        .iter()
        .position(|a| a == "--secs")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0f64);
    println!(
        "publish: {PUBLISHERS} publishers, 1 in flight each, {MESSAGE}-byte messages, {secs} s per storage"
    );
    println!("| storage | publishes/s | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for fsync in [None, Some("never"), Some("batch"), Some("always")] {
        let server = serve(fsync);
        let end = Instant::now() + Duration::from_secs_f64(secs);
        let started = Instant::now();
        let threads: Vec<_> = (0..PUBLISHERS)
            .map(|who| {
                let addr = server.addr;
                std::thread::spawn(move || publisher(addr, who, end))
            })
            .collect();
        let mut all: Vec<u32> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let elapsed = started.elapsed().as_secs_f64();
        all.sort_unstable();
        let name = match fsync {
            None => "memory".to_string(),
            Some(policy) => format!("disk, --fsync {policy}"),
        };
        println!(
            "| {name} | {:.0} | {:.3} | {:.3} | {:.3} |",
            all.len() as f64 / elapsed,
            percentile(&all, 0.50),
            percentile(&all, 0.99),
            percentile(&all, 1.0)
        );
        drop(server);
    }
}

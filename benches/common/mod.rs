//! What the process benchmarks share: a `pushwire serve` child, a publisher that times
//! each `201`, percentiles.

#![allow(dead_code)] // each benchmark uses its own part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bytes of every published message.
pub const MESSAGE: usize = 64;

/// A `pushwire serve` child process, killed by PID (and its directory removed) on drop.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: Option<PathBuf>,
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

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts on `addr`, at most 10 s.
pub fn wait_listening(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `pushwire serve` on a free port with `args`; `dir`, if any, is removed on drop.
pub fn serve(args: &[&str], dir: Option<PathBuf>) -> Serve {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .args([
            "serve",
            "--addr",
            &addr.to_string(),
            "--max-connections",
            "30000",
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pushwire serve");
    wait_listening(addr, "pushwire serve");
    Serve { child, addr, dir }
}

/// Waits until `addr`'s `/healthz` answers `200` (a Redis node is connected), at most
/// 10 s.
pub fn wait_healthy(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = TcpStream::connect(addr).expect("connect");
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        if answer.starts_with(b"HTTP/1.1 200") {
            return;
        }
        assert!(Instant::now() < deadline, "{addr} never became healthy");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One publisher on `channel`: requests back to back until `end`, one in flight; the
/// latency of each, from writing the request to reading its `201`, in µs.
pub fn publisher(addr: SocketAddr, channel: &str, who: usize, end: Instant) -> Vec<u32> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = format!("{who:02}{}", "x".repeat(MESSAGE - 2));
    let request = format!(
        "POST /channels/{channel} HTTP/1.1\r\nHost: b\r\nContent-Length: {MESSAGE}\r\n\r\n{body}"
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
pub fn response_len(buf: &[u8]) -> Option<usize> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&buf[..head]).ok()?;
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= head + length).then_some(head + length)
}

/// `publishers` publishers, publisher `i` on `addrs[i % addrs.len()]`, for `secs`:
/// `(publishes/s, every latency sorted)`.
pub fn publish_run(
    addrs: &[SocketAddr],
    channel: &str,
    publishers: usize,
    secs: f64,
) -> (f64, Vec<u32>) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let threads: Vec<_> = (0..publishers)
        .map(|who| {
            let addr = addrs[who % addrs.len()];
            let channel = channel.to_string();
            std::thread::spawn(move || publisher(addr, &channel, who, end))
        })
        .collect();
    let mut all: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort_unstable();
    (rate, all)
}

/// The `p` quantile of `sorted` µs, in ms.
pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// `--NAME VALUE` from the benchmark's command line, or `default`.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

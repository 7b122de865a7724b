//! Crash tests of the durable log, with real processes over loopback: `pushwire serve
//! --data-dir D` with four publishers posting as fast as they can, killed with SIGKILL at
//! a different moment each time, then started again on the same directory. Every
//! message whose `201` reached a publisher must be there with the same data; ids go on
//! 1, 2, 3 … with no gap or repeat; the epoch never changes.
//!
//! `--fsync always` answers after `fdatasync`, so this holds even for a power loss (not
//! simulated here); `batch` and `never` answer after `write`, which a killed process
//! cannot undo, so it holds for them too. Every loop is bounded in count and time.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const PUBLISHERS: usize = 4;
const CHANNEL: &str = "/channels/crash";

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("pushwire-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(bytes)))
}

/// One publisher: POSTs on a keep-alive connection until the server dies (or `stop`),
/// and returns every `(id, epoch, data)` it was answered `201` for.
fn publisher(
    addr: SocketAddr,
    who: usize,
    round: usize,
    stop: Arc<AtomicBool>,
) -> Vec<(u64, String, String)> {
    let mut acked = Vec::new();
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return acked;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    for n in 0..100_000 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let data = format!("r{round}-p{who}-{n}");
        let request = format!(
            "POST {CHANNEL} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{data}",
            data.len()
        );
        if stream.write_all(request.as_bytes()).is_err() {
            break;
        }
        let Some(response) = read_response(&mut stream, &mut buf) else {
            break; // killed mid-answer: not acknowledged
        };
        assert_eq!(response.status, 201, "{response:?}");
        let body = json(&response.body);
        let id = body["id"].as_u64().unwrap();
        acked.push((id, body["epoch"].as_str().unwrap().to_string(), data));
    }
    acked
}

/// Reads one whole response, or `None` if the connection ends first.
fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<HttpResponse> {
    loop {
        if let Some((response, used)) = parse_response(buf, false) {
            buf.drain(..used);
            return Some(response);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Everything the channel holds, paged through with `since=next`: `(id, data)` and the
/// epoch.
fn read_all(addr: SocketAddr) -> (Vec<(u64, String)>, Option<String>) {
    let mut client = RawClient::connect(addr);
    let mut since = 0;
    let mut all = Vec::new();
    let mut epoch = None;
    for _ in 0..10_000 {
        let response = client.get(&format!("{CHANNEL}?since={since}&limit=1000&timeout=0"));
        if response.status == 204 {
            return (all, epoch);
        }
        assert_eq!(response.status, 200, "{response:?}");
        let body = json(&response.body);
        assert!(
            body.get("reset").is_none(),
            "a restart must not reset: {body}"
        );
        epoch = Some(body["epoch"].as_str().unwrap().to_string());
        for m in body["messages"].as_array().unwrap() {
            all.push((
                m["id"].as_u64().unwrap(),
                m["data"].as_str().unwrap().to_string(),
            ));
        }
        since = body["next"].as_u64().unwrap();
    }
    panic!("the history did not end");
}

/// A small deterministic generator for the kill moments.
fn moments(seed: u64) -> impl Iterator<Item = Duration> {
    let mut state = seed;
    std::iter::from_fn(move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        Some(Duration::from_millis(20 + state % 280))
    })
}

fn crash_rounds(fsync: &str, rounds: usize, seed: u64) {
    let dir = TempDir::new(&format!("crash-{fsync}"));
    let dir_arg = dir.0.to_str().unwrap().to_string();
    let args = [
        "--data-dir",
        dir_arg.as_str(),
        "--fsync",
        fsync,
        // Keep everything for the check: no message may leave the history.
        "--history",
        "1000000",
        "--history-bytes",
        "256MiB",
        "--max-retained",
        "256MiB",
    ];
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut epoch: Option<String> = None;
    let started = Instant::now();
    for (round, moment) in moments(seed).take(rounds).enumerate() {
        let serve = spawn_serve(&args);
        let addr = serve.addr;
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..PUBLISHERS)
            .map(|who| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || publisher(addr, who, round, stop))
            })
            .collect();
        std::thread::sleep(moment);
        serve.kill9();
        stop.store(true, Ordering::Relaxed);
        for thread in threads {
            for (id, e, data) in thread.join().expect("publisher") {
                let known = epoch.get_or_insert_with(|| e.clone());
                assert_eq!(&e, known, "round {round}: the epoch changed");
                let previous = acked.insert(id, data);
                assert!(
                    previous.is_none(),
                    "round {round}: id {id} acknowledged twice"
                );
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "crash rounds are taking too long"
        );
    }
    // Started once more: everything acknowledged is there, ids without gap or repeat.
    let serve = spawn_serve(&args);
    let (all, got_epoch) = read_all(serve.addr);
    assert_eq!(got_epoch, epoch, "the epoch survives every crash");
    let ids: Vec<u64> = all.iter().map(|(id, _)| *id).collect();
    let expected: Vec<u64> = (1..=ids.len() as u64).collect();
    assert_eq!(ids, expected, "ids 1, 2, 3 … with no gap or repeat");
    let stored: BTreeMap<u64, String> = all.into_iter().collect();
    for (id, data) in &acked {
        assert_eq!(
            stored.get(id),
            Some(data),
            "acknowledged id {id} lost or changed"
        );
    }
    // Hundreds per round on this machine; ten is the floor below which the kills came
    // before the publishers did anything and the test proves nothing.
    assert!(
        acked.len() >= 10 * rounds,
        "the publishers published: {}",
        acked.len()
    );
    // And ids go on.
    let response = http_post(serve.addr, CHANNEL, b"after");
    assert_eq!(json(&response.body)["id"], stored.len() as u64 + 1);
    serve.kill9();
}

#[test]
fn nothing_acknowledged_is_lost_when_killed_with_fsync_always() {
    crash_rounds("always", 20, 0x9E37_79B9_7F4A_7C15);
}

#[test]
fn nothing_acknowledged_is_lost_when_killed_with_fsync_batch_or_never() {
    crash_rounds("batch", 6, 0x1234_5678);
    crash_rounds("never", 6, 0x8765_4321);
}

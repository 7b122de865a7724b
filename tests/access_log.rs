//! The access log (`Config::access_log`, `pushwire serve --log`): one line per HTTP
//! request when its answer is complete and one per WebSocket session when its
//! connection ends, in text and in JSON, every field checked; `token` query values
//! redacted and the `Authorization` field never logged; nothing at all when it is off;
//! and the binary's lines on standard output.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};

use pushwire::Config;
use pushwire::hub::{HubConfig, HubServer};
use pushwire::log::{AccessLog, Level, Log};
use pushwire::pair::{Peer, ServerPair};
use serde_json::Value;
use support::*;

type Pair = ServerPair<HubServer>;

/// 2026-12-01T17:03:12.123Z, the calendar time the workload starts at.
fn start_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_144_592_123)
}

/// The secrets the workload sends, none of which may reach a line.
const SECRETS: [&str; 3] = ["s3cret-value", "ws-secret", "sekrit-header"];

/// What the workload's clients saw, to compare the lines with.
struct Seen {
    /// The address each client connected from, in the order they connected.
    peers: Vec<SocketAddr>,
    /// Bytes each client received.
    received: Vec<usize>,
    /// Bytes of frames the WebSocket client sent after its handshake.
    ws_frames_sent: usize,
}

/// A client that counts what it receives.
struct Counted {
    peer: Peer,
    received: usize,
}

impl Counted {
    fn connect(pair: &mut Pair) -> Counted {
        Counted {
            peer: pair.connect(),
            received: 0,
        }
    }

    fn send(&mut self, pair: &mut Pair, bytes: &[u8]) {
        pair.send(self.peer, bytes);
    }

    /// Takes what arrived; returns it as text (lossily: frames are binary).
    fn take(&mut self, pair: &mut Pair) -> String {
        let bytes = pair.received(self.peer);
        self.received += bytes.len();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The lines a [`Log::custom`] received, with their levels.
type Captured = Arc<Mutex<Vec<(Level, String)>>>;

fn capture(format: AccessLog) -> (Pair, Captured) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let mut config: Config = config();
    config.access_log = format;
    config.log = Log::custom(move |level, line| sink.lock().unwrap().push((level, line.into())));
    let mut pair = ServerPair::new(config, HubServer::new(HubConfig::default())).unwrap();
    pair.set_wall_time(start_time());
    (pair, lines)
}

/// Eight requests, one of them a WebSocket session: answered at once, parked and
/// answered later, refused by the session itself, abandoned by its client.
fn workload(pair: &mut Pair) -> Seen {
    let mut clients: Vec<Counted> = Vec::new();
    let mut connect = |pair: &mut Pair| {
        clients.push(Counted::connect(pair));
        clients.len() - 1
    };
    for _ in 0..8 {
        connect(pair);
    }
    let c = &mut clients;
    // 0: a plain GET with an Authorization field.
    c[0].send(
        pair,
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer sekrit-header\r\n\r\n",
    );
    assert!(c[0].take(pair).starts_with("HTTP/1.1 200 OK\r\n"));
    // 1: a long-poll with a token, parked 1.5 s; 2: the publish that answers it.
    c[1].send(
        pair,
        b"GET /channels/a?timeout=5&token=s3cret-value HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(c[1].take(pair), "", "parked");
    pair.advance(Duration::from_millis(1500));
    c[2].send(
        pair,
        b"POST /channels/a HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert!(c[2].take(pair).starts_with("HTTP/1.1 201 Created\r\n"));
    assert!(c[1].take(pair).starts_with("HTTP/1.1 200 OK\r\n"));
    // 3: a 404.
    c[3].send(pair, b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(c[3].take(pair).starts_with("HTTP/1.1 404 "));
    // 4: a WebSocket session of 2 s: it publishes "yo" (and gets it back), then closes.
    c[4].send(
        pair,
        upgrade_request("/channels/a?token=ws-secret", &[]).as_bytes(),
    );
    assert!(c[4].take(pair).starts_with("HTTP/1.1 101 "));
    let text = client_frame(true, OP_TEXT, b"yo");
    let close = close_frame(&close_payload(1000, b""));
    c[4].send(pair, &text);
    pair.advance(Duration::from_secs(2));
    c[4].send(pair, &close);
    c[4].take(pair);
    pair.finish(c[4].peer);
    assert!(pair.is_closed(c[4].peer));
    // 5: a long-poll whose client leaves before it is answered.
    c[5].send(
        pair,
        b"GET /channels/a?since=2&timeout=30 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    pair.finish(c[5].peer);
    assert_eq!(c[5].take(pair), "");
    // 6: not HTTP at all: the session answers 400 itself.
    c[6].send(pair, b"GARBAGE\r\n\r\n");
    assert!(c[6].take(pair).starts_with("HTTP/1.1 400 "));
    // 7: another site's upgrade: 403 from the session, before the hub sees it.
    c[7].send(
        pair,
        upgrade_request(
            "/channels/a?token=s3cret-value",
            &["Origin: https://evil.example"],
        )
        .as_bytes(),
    );
    assert!(c[7].take(pair).starts_with("HTTP/1.1 403 "));
    Seen {
        peers: clients.iter().map(|c| Pair::peer_addr(c.peer)).collect(),
        received: clients.iter().map(|c| c.received).collect(),
        ws_frames_sent: text.len() + close.len(),
    }
}

fn lines_of(captured: &Mutex<Vec<(Level, String)>>) -> Vec<String> {
    let captured = captured.lock().unwrap();
    for (level, line) in captured.iter() {
        assert_eq!(*level, Level::Access, "{line}");
        for secret in SECRETS {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
    captured.iter().map(|(_, line)| line.clone()).collect()
}

#[test]
fn text_lines_have_every_field_one_per_request_and_per_session() {
    let (mut pair, captured) = capture(AccessLog::Text);
    let seen = workload(&mut pair);
    assert_eq!(pair.connection_count(), 6, "the two that left are gone");
    let lines = lines_of(&captured);
    let r = &seen.received;
    let peer = |n: usize| seen.peers[n];
    assert_eq!(peer(0).to_string(), "127.0.0.1:1024");
    let expected = [
        format!(
            "2026-12-01T17:03:12.123Z {} GET /healthz 200 {} 0.000",
            peer(0),
            r[0]
        ),
        format!(
            "2026-12-01T17:03:13.623Z {} POST /channels/a 201 {} 0.000",
            peer(2),
            r[2]
        ),
        format!(
            "2026-12-01T17:03:13.623Z {} GET /channels/a?timeout=5&token=REDACTED 200 {} 1.500",
            peer(1),
            r[1]
        ),
        format!(
            "2026-12-01T17:03:13.623Z {} GET /nope 404 {} 0.000",
            peer(3),
            r[3]
        ),
        format!(
            "2026-12-01T17:03:15.623Z {} GET /channels/a?token=REDACTED 101 {} 2.000 close=1000 in={}",
            peer(4),
            r[4],
            seen.ws_frames_sent
        ),
        format!(
            "2026-12-01T17:03:15.623Z {} GET /channels/a?since=2&timeout=30 - 0 0.000",
            peer(5)
        ),
        format!(
            "2026-12-01T17:03:15.623Z {} - - 400 {} 0.000",
            peer(6),
            r[6]
        ),
        format!(
            "2026-12-01T17:03:15.623Z {} GET /channels/a?token=REDACTED 403 {} 0.000",
            peer(7),
            r[7]
        ),
    ];
    assert_eq!(lines, expected);
}

#[test]
fn json_lines_are_objects_with_every_field() {
    let (mut pair, captured) = capture(AccessLog::Json);
    let seen = workload(&mut pair);
    let lines = lines_of(&captured);
    assert_eq!(lines.len(), 8, "{lines:#?}");
    let objects: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for object in &objects {
        let keys: Vec<&str> = object
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "time", "peer", "method", "target", "status", "bytes", "duration",
        ] {
            assert!(keys.contains(&key), "{key} in {object}");
        }
    }
    let r = &seen.received;
    // The parked poll, answered 1.5 s later.
    let poll = &objects[2];
    assert_eq!(poll["time"], "2026-12-01T17:03:13.623Z");
    assert_eq!(poll["peer"], seen.peers[1].to_string());
    assert_eq!(poll["method"], "GET");
    assert_eq!(poll["target"], "/channels/a?timeout=5&token=REDACTED");
    assert_eq!(poll["status"], 200);
    assert_eq!(poll["bytes"], r[1]);
    assert_eq!(poll["duration"], 1.5);
    // The WebSocket session.
    let ws = &objects[4];
    assert_eq!(ws["status"], 101);
    assert_eq!(ws["close"], 1000);
    assert_eq!(ws["bytes"], r[4]);
    assert_eq!(ws["bytes_in"], seen.ws_frames_sent);
    assert_eq!(ws["duration"], 2.0);
    assert_eq!(ws["target"], "/channels/a?token=REDACTED");
    // The abandoned poll has no status; the garbage no method or target.
    assert!(objects[5]["status"].is_null());
    assert_eq!(objects[5]["bytes"], 0);
    assert!(objects[6]["method"].is_null() && objects[6]["target"].is_null());
    assert_eq!(objects[6]["status"], 400);
    // HTTP lines have no WebSocket fields.
    assert!(objects[0].get("close").is_none() && objects[0].get("bytes_in").is_none());
}

#[test]
fn json_strings_are_escaped() {
    let (mut pair, captured) = capture(AccessLog::Json);
    let mut client = Client::connect(&mut pair);
    client.get(&mut pair, "/x%22y\\z");
    let lines = lines_of(&captured);
    assert_eq!(lines.len(), 1);
    let object: Value = serde_json::from_str(&lines[0]).expect("valid JSON");
    assert_eq!(object["target"], "/x%22y\\z");
}

#[test]
fn with_the_log_off_nothing_is_written() {
    let (mut pair, captured) = capture(AccessLog::Off);
    workload(&mut pair);
    assert!(captured.lock().unwrap().is_empty());
}

/// `pushwire serve` (access log on in text by default, `PUSHWIRE_LOG=json` for JSON) on
/// a free port: its lines on standard output, the banner before them.
fn serve_and_get(env: &[(&str, &str)]) -> String {
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .args(["serve", "--addr", &addr.to_string()])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pushwire serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "pushwire serve did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(http_get(addr, "/healthz?token=s3cret-value").status, 200);
    let mut found = None;
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if line.contains("/healthz") {
            found = Some(line);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    found.expect("an access line on stdout")
}

#[test]
fn the_binary_writes_its_access_log_to_stdout() {
    let text = serve_and_get(&[]);
    let fields: Vec<&str> = text.split(' ').collect();
    assert_eq!(fields.len(), 7, "{text}");
    assert!(
        fields[0].ends_with('Z') && fields[0].contains('T'),
        "{text}"
    );
    assert!(fields[1].starts_with("127.0.0.1:"), "{text}");
    assert_eq!(
        &fields[2..5],
        ["GET", "/healthz?token=REDACTED", "200"],
        "{text}"
    );
    let json: Value = serde_json::from_str(&serve_and_get(&[("PUSHWIRE_LOG", "json")])).unwrap();
    assert_eq!(json["target"], "/healthz?token=REDACTED");
    assert_eq!(json["status"], 200);
}

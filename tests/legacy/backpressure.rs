//! Backpressure: a peer that does not read cannot make the server hold more than the
//! write-buffer high-water mark plus one message, and nothing accepted is lost.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pushwire::ws::handshake::UpgradeRequest;
use pushwire::{CloseCode, ConnId, Context, Handler, Message, SendError, Upgrade};
use support::*;
use tungstenite::Message as WsMessage;

const HIGH_WATER: usize = 64 * 1024;
const CHUNK: usize = 16 * 1024;
/// A server frame of CHUNK bytes: 4 header bytes (126 + 16-bit length) and the payload.
const CHUNK_FRAME: usize = CHUNK + 4;

/// Opens a raw WebSocket on `path` without reading anything after the 101.
fn raw_upgrade(addr: std::net::SocketAddr, path: &str) -> RawClient {
    let mut client = RawClient::connect(addr);
    client.send(upgrade_request(path, &[]).as_bytes());
    assert_eq!(client.read_response_head().status, 101);
    client
}

/// On each "tick" from the `/control` connection, tries to send one numbered CHUNK to the
/// `/victim` connection and replies `ok <pending>` or `full <pending>`; on "close", closes
/// the victim and replies `closed <sent>`.
#[derive(Default)]
struct Pump {
    paths: HashMap<ConnId, String>,
    victim: Option<ConnId>,
    sent: u64,
}

impl Handler for Pump {
    fn on_upgrade(
        &mut self,
        _ctx: &mut Context<'_>,
        conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        self.paths.insert(conn, request.head().path().to_string());
        Upgrade::accept()
    }

    fn on_open(&mut self, _ctx: &mut Context<'_>, conn: ConnId) {
        if self.paths.get(&conn).map(String::as_str) == Some("/victim") {
            self.victim = Some(conn);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
        let victim = self.victim.expect("victim connected first");
        let reply = match msg.as_text() {
            Some("tick") => {
                let mut chunk = vec![0xAB; CHUNK];
                chunk[..8].copy_from_slice(&self.sent.to_be_bytes());
                match ctx.send(victim, &Message::binary(chunk)) {
                    Ok(()) => {
                        self.sent += 1;
                        format!("ok {}", ctx.pending_bytes(victim))
                    }
                    Err(SendError::Full) => format!("full {}", ctx.pending_bytes(victim)),
                    Err(e) => panic!("unexpected send error {e:?}"),
                }
            }
            Some("close") => {
                ctx.close(victim, CloseCode::NORMAL, "done").unwrap();
                format!("closed {}", self.sent)
            }
            other => panic!("unexpected control message {other:?}"),
        };
        ctx.send_text(conn, &reply).unwrap();
    }
}

fn tick(control: &mut WsClient, command: &str) -> (String, u64) {
    control.send(WsMessage::text(command)).unwrap();
    match ws_read_data(control) {
        WsMessage::Text(t) => {
            let (word, n) = t.as_str().split_once(' ').unwrap();
            (word.to_string(), n.parse().unwrap())
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn sends_to_a_peer_that_does_not_read_fail_with_full_and_succeed_again_once_it_reads() {
    let mut config = config();
    config.write_buffer_high_water = HIGH_WATER;
    let server = TestServer::start(config, Pump::default());
    let mut victim = raw_upgrade(server.addr, "/victim");
    let mut control = ws_connect(server.addr, "/control");
    let bound = (HIGH_WATER + CHUNK_FRAME) as u64;

    // Fill the victim's kernel buffers and then the server's write buffer.
    let mut accepted = 0u64;
    let mut max_pending = 0;
    let mut fulls = 0;
    let start = Instant::now();
    while fulls < 20 {
        assert!(
            accepted < 20_000 && start.elapsed() < Duration::from_secs(60),
            "never Full after {accepted} chunks ({} MiB) and {:?}",
            (accepted * CHUNK as u64) >> 20,
            start.elapsed()
        );
        let (word, pending) = tick(&mut control, "tick");
        max_pending = max_pending.max(pending);
        assert!(
            pending <= bound,
            "pending {pending} above high-water + one message ({bound})"
        );
        match word.as_str() {
            "ok" => accepted += 1,
            "full" => {
                assert!(
                    pending >= HIGH_WATER as u64,
                    "Full while only {pending} bytes are pending"
                );
                fulls += 1;
            }
            _ => unreachable!(),
        }
    }
    assert!(max_pending >= HIGH_WATER as u64);

    // Now read everything, in a thread, checking the sequence numbers.
    let reader = std::thread::spawn(move || {
        let mut next = 0u64;
        loop {
            let frame = victim.read_frame();
            match frame.opcode {
                OP_BINARY => {
                    assert_eq!(frame.payload.len(), CHUNK);
                    let n = u64::from_be_bytes(frame.payload[..8].try_into().unwrap());
                    assert_eq!(n, next, "chunk lost or out of order");
                    next += 1;
                }
                OP_CLOSE => {
                    assert_eq!(frame.close_code(), Some((1000, "done".to_string())));
                    return next;
                }
                _ => panic!("unexpected frame {frame:?}"),
            }
        }
    });

    // The backlog drains and sends are accepted again.
    let start = Instant::now();
    loop {
        let (word, pending) = tick(&mut control, "tick");
        assert!(pending <= bound);
        if word == "ok" {
            accepted += 1;
            break;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "sends still Full {TIMEOUT:?} after the peer started reading"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..10 {
        let (word, _) = tick(&mut control, "tick");
        if word == "ok" {
            accepted += 1;
        }
    }
    let (_, sent) = tick(&mut control, "close");
    assert_eq!(sent, accepted);
    let received = reader.join().expect("victim reader");
    assert_eq!(received, accepted, "every accepted chunk arrives, in order");
}

/// Echo that records, per connection, the largest `pending_bytes` after an echo and how
/// many echoes were refused with `Full`.
#[derive(Clone, Default)]
struct Stats(Arc<Mutex<HashMap<ConnId, (usize, usize)>>>);

struct MeasuringEcho(Stats);

impl Handler for MeasuringEcho {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
        let full = matches!(ctx.send(conn, &msg), Err(SendError::Full));
        let pending = ctx.pending_bytes(conn);
        let mut stats = self.0.0.lock().unwrap();
        let entry = stats.entry(conn).or_default();
        entry.0 = entry.0.max(pending);
        entry.1 += usize::from(full);
    }
}

#[test]
fn flooding_peer_that_never_reads_is_throttled_while_others_get_prompt_echoes() {
    const MAX_MESSAGE: usize = 64 * 1024;
    let mut config = config();
    config.write_buffer_high_water = HIGH_WATER;
    config.max_message_size = MAX_MESSAGE as u64;
    config.max_frame_size = MAX_MESSAGE as u64;
    let stats = Stats::default();
    let (handler, mut events) = recording(MeasuringEcho(stats.clone()));
    let server = TestServer::start(config, handler);

    let flooder = RawClient::upgrade(server.addr);
    let flooder_id = events.open();
    let mut stream = flooder.stream.try_clone().unwrap();
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // Writes until the server stops reading (a write blocks for 500 ms) or 512 MiB.
    let flood = std::thread::spawn(move || {
        let frame = client_frame(true, OP_BINARY, &[0x11; CHUNK]);
        let mut written = 0usize;
        while written < 512 << 20 {
            match stream.write_all(&frame) {
                Ok(()) => written += frame.len(),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return (written, true);
                }
                Err(e) => panic!("flood write failed: {e}"),
            }
        }
        (written, false)
    });
    let (written, blocked) = flood.join().unwrap();
    assert!(
        blocked,
        "the server kept reading {} MiB from a peer that never reads its echoes",
        written >> 20
    );

    // Meanwhile a well-behaved client is served promptly.
    let mut good = ws_connect(server.addr, "/");
    for i in 0..20 {
        let start = Instant::now();
        good.send(WsMessage::text(format!("ping {i}"))).unwrap();
        assert_eq!(
            ws_read_data(&mut good),
            WsMessage::text(format!("ping {i}"))
        );
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "echo {i} took {:?} next to a flooder",
            start.elapsed()
        );
    }

    let (max_pending, _fulls) = stats.0.lock().unwrap()[&flooder_id];
    assert!(
        max_pending <= HIGH_WATER + MAX_MESSAGE + 14,
        "server held {max_pending} bytes for a peer that never reads"
    );
    assert!(
        max_pending > 0,
        "precondition: echoes to the flooder were queued"
    );
    drop(flooder);
}

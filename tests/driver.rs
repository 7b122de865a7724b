//! What only the mio driver and real sockets do: backpressure from the kernel's buffers,
//! half-closed TCP connections, graceful shutdown of a running server (and the listener
//! closing with it), `max_connections` over real accepts, and large owned messages
//! leaving through `writev` in order with small ones.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pushwire::http::{Request, Response, StatusCode};
use pushwire::ws::handshake::UpgradeRequest;
use pushwire::{
    CloseCode, CloseKind, ConnId, Context, HandleErrorKind, Handler, Message, RequestId, SendError,
    Upgrade,
};
use support::*;
use tungstenite::Message as WsMessage;

// ===== helpers =====

/// Answers every request with `200` and the body `page <target>`.
struct Pages;

impl Handler for Pages {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        let body = format!("page {}", request.target());
        let _ = ctx.respond(id, Response::text(StatusCode::OK, body));
    }
}

// ===== backpressure =====

const HIGH_WATER: usize = 64 * 1024;
const CHUNK: usize = 16 * 1024;
/// A server frame of CHUNK bytes: 4 header bytes (126 + 16-bit length) and the payload.
const CHUNK_FRAME: usize = CHUNK + 4;

/// Opens a raw WebSocket on `path` without reading anything after the 101.
fn raw_upgrade(addr: SocketAddr, path: &str) -> RawClient {
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

/// Echo that records, per connection, the largest `pending_bytes` after an echo.
#[derive(Clone, Default)]
struct MaxPending(Arc<Mutex<HashMap<ConnId, usize>>>);

struct MeasuringEcho(MaxPending);

impl Handler for MeasuringEcho {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
        let _ = ctx.send(conn, &msg);
        let pending = ctx.pending_bytes(conn);
        let mut stats = self.0.0.lock().unwrap();
        let max = stats.entry(conn).or_default();
        *max = (*max).max(pending);
    }
}

#[test]
fn flooding_peer_that_never_reads_is_throttled_while_others_get_prompt_echoes() {
    const MAX_MESSAGE: usize = 64 * 1024;
    let mut config = config();
    config.write_buffer_high_water = HIGH_WATER;
    config.max_message_size = MAX_MESSAGE as u64;
    config.max_frame_size = MAX_MESSAGE as u64;
    let stats = MaxPending::default();
    let (handler, mut events) = recording(MeasuringEcho(stats.clone()));
    let server = TestServer::start(config, handler);

    let flooder = RawClient::upgrade(server.addr);
    let flooder_id = events.wait_open();
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

    let max_pending = stats.0.lock().unwrap()[&flooder_id];
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

// ===== half-closed connections =====

#[test]
fn response_reaches_a_client_that_half_closed_after_its_request() {
    let server = TestServer::start(config(), Stalling(Pages));
    let mut client = RawClient::connect(server.addr);
    // While the loop is busy, the request and the FIN arrive together: one readiness
    // event says both, and no later edge announces the FIN.
    let _stall = stall_server(server.addr);
    client.send(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    client.stream.shutdown(Shutdown::Write).unwrap();
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"page /x");
    // Then the server closes its side too.
    client.expect_eof();
}

#[test]
fn close_reply_reaches_a_client_that_half_closed_after_sending_close() {
    let (handler, mut events) = recording(Stalling(Echo));
    let server = TestServer::start(config(), handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.wait_open();
    // While the loop is busy, the frames and the FIN arrive together.
    let _stall = stall_server(server.addr);
    let bytes = [
        client_frame(true, OP_TEXT, b"last"),
        close_frame(&close_payload(1000, b"")),
    ]
    .concat();
    client.send(&bytes);
    client.stream.shutdown(Shutdown::Write).unwrap();
    let echoed = client.read_frame();
    assert_eq!(
        (echoed.opcode, echoed.payload.as_slice()),
        (OP_TEXT, &b"last"[..])
    );
    assert_eq!(client.read_close().map(|(c, _)| c), Some(1000));
    client.expect_eof();
    let close = events.wait_close(conn);
    assert_eq!(close.kind, CloseKind::Remote);
    assert_eq!(close.code, CloseCode::NORMAL);
}

// ===== graceful shutdown =====

#[test]
fn handle_shutdown_closes_every_client_with_1001_and_run_returns() {
    let mut config = config();
    config.shutdown_timeout = Duration::from_secs(3);
    let (handler, mut events) = recording(Echo);
    let mut server = TestServer::start(config, handler);
    let mut clients: Vec<WsClient> = (0..3).map(|_| ws_connect(server.addr, "/")).collect();
    let conns: Vec<_> = (0..3).map(|_| events.wait_open()).collect();

    server.handle.shutdown().unwrap();
    for ws in &mut clients {
        match ws.read() {
            Ok(WsMessage::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
            other => panic!("expected Close 1001, got {other:?}"),
        }
        // Sends tungstenite's reply; then the server closes TCP.
        assert!(matches!(
            ws.read(),
            Err(tungstenite::Error::ConnectionClosed)
        ));
    }
    drop(clients);
    let took = server
        .wait_stopped(Duration::from_secs(3) + Duration::from_secs(2))
        .expect("run returned");
    assert!(
        took < Duration::from_secs(3),
        "shutdown waited {took:?}, as if for its timeout, though every peer answered"
    );
    for conn in conns {
        let event = events.wait_close(conn);
        assert_eq!(event.code, CloseCode::GOING_AWAY);
        assert_eq!(event.kind, CloseKind::Local);
    }
    events.check_contract();
}

#[test]
fn shutdown_gives_up_on_unresponsive_peers_after_shutdown_timeout() {
    const SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(400);
    let mut config = config();
    config.shutdown_timeout = SHUTDOWN_TIMEOUT;
    config.close_timeout = Duration::from_secs(30);
    let (handler, mut events) = recording(Echo);
    let mut server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.wait_open();
    let start = Instant::now();
    server.handle.shutdown().unwrap();
    assert_eq!(client.read_close().map(|(c, _)| c), Some(1001));
    // Never answer. run() must still return, shutdown_timeout after the shutdown began
    // (the close_timeout of 30 s does not keep it).
    server
        .wait_stopped(Duration::from_secs(5))
        .expect("run did not return after shutdown_timeout");
    let took = start.elapsed();
    assert!(
        took >= SHUTDOWN_TIMEOUT,
        "gave up on the peer after {took:?}, before shutdown_timeout"
    );
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    client.expect_eof();
    let event = events.wait_close(conn);
    assert_eq!(event.code, CloseCode::ABNORMAL_CLOSURE);
    assert_eq!(event.kind, CloseKind::Abnormal);
    events.check_contract();
}

/// Asserts that nothing at `addr` accepts a WebSocket: the connection is refused, or (if
/// an unrelated listener of a parallel test took the port meanwhile) it is not pushwire.
fn assert_not_serving(addr: SocketAddr) {
    match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(_) => {}
        Ok(mut stream) => {
            use std::io::Read;
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let _ = stream.write_all(upgrade_request("/", &[]).as_bytes());
            let mut buf = [0u8; 64];
            let n = stream.read(&mut buf).unwrap_or(0);
            assert!(
                !buf[..n].starts_with(b"HTTP/1.1 101"),
                "a stopping or stopped server accepted a WebSocket"
            );
        }
    }
}

#[test]
fn server_refuses_new_connections_once_shutdown_begins() {
    let mut config = config();
    config.shutdown_timeout = Duration::from_secs(3);
    config.close_timeout = Duration::from_secs(30);
    let (handler, mut events) = recording(Echo);
    let mut server = TestServer::start(config, handler);
    let addr = server.addr;
    // A peer that never answers the server's Close keeps the shutdown going.
    let mut lingering = RawClient::upgrade(addr);
    let conn = events.wait_open();
    server.handle.shutdown().unwrap();
    assert_eq!(lingering.read_close().map(|(c, _)| c), Some(1001));
    // The goodbye went out in the shutdown's first turn, which also closed the listener.
    assert_not_serving(addr);
    assert_eq!(
        server.wait_stopped(Duration::from_millis(10)),
        None,
        "precondition: the server is still shutting down"
    );
    // And after it has stopped.
    server.stop();
    assert_not_serving(addr);
    assert_eq!(events.wait_close(conn).kind, CloseKind::Abnormal);
    let log = events.check_contract();
    let opens = log.iter().filter(|e| matches!(e, Event::Open(_))).count();
    assert_eq!(opens, 1, "no connection opened after shutdown: {log:?}");
}

#[test]
fn handle_calls_fail_with_stopped_once_the_server_is_gone() {
    let (handler, mut events) = recording(Echo);
    let mut server = TestServer::start(config(), handler);
    let client = RawClient::upgrade(server.addr);
    let conn = events.wait_open();
    drop(client);
    events.wait_close(conn);
    assert_eq!(http_get(server.addr, "/nothing").status, 404);
    let request = events.wait_for("request", |e| match e {
        Event::Request { id, .. } => Some(*id),
        _ => None,
    });
    let handle = server.handle.clone();
    server.stop();
    let error = handle.send(conn, "anyone?").unwrap_err();
    assert_eq!(error.kind, HandleErrorKind::Stopped);
    assert_eq!(error.value, Message::text("anyone?"));
    assert_eq!(
        handle.broadcast(vec![1u8]).unwrap_err().kind,
        HandleErrorKind::Stopped
    );
    assert_eq!(
        handle.close(conn, CloseCode::NORMAL, "").unwrap_err().kind,
        HandleErrorKind::Stopped
    );
    assert_eq!(handle.notify(7).unwrap_err().kind, HandleErrorKind::Stopped);
    let error = handle
        .respond(request, Response::text(StatusCode::OK, "late"))
        .unwrap_err();
    assert_eq!(error.kind, HandleErrorKind::Stopped);
    assert_eq!(error.value.status(), StatusCode::OK);
    assert_eq!(
        handle.shutdown().unwrap_err().kind,
        HandleErrorKind::Stopped
    );
    events.check_contract();
}

#[test]
fn context_shutdown_from_a_handler_stops_the_server() {
    struct StopOnMessage;
    impl Handler for StopOnMessage {
        fn on_message(&mut self, ctx: &mut Context<'_>, _conn: ConnId, msg: Message<'_>) {
            if msg.as_text() == Some("stop") {
                ctx.shutdown();
            }
        }
    }
    let (handler, mut events) = recording(StopOnMessage);
    let mut server = TestServer::start(config(), handler);
    let mut ws = ws_connect(server.addr, "/");
    let conn = events.wait_open();
    ws.send(WsMessage::text("stop")).unwrap();
    match ws.read() {
        Ok(WsMessage::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected Close 1001, got {other:?}"),
    }
    assert!(matches!(
        ws.read(),
        Err(tungstenite::Error::ConnectionClosed)
    ));
    drop(ws);
    server
        .wait_stopped(TIMEOUT)
        .expect("run returned after ctx.shutdown()");
    assert_eq!(events.wait_close(conn).code, CloseCode::GOING_AWAY);
    events.check_contract();
}

// ===== max_connections =====

#[test]
fn connections_beyond_max_connections_are_closed_at_once() {
    let mut config = config();
    config.max_connections = 2;
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut a = RawClient::upgrade(server.addr);
    let mut b = RawClient::upgrade(server.addr);
    let first = events.wait_open();
    events.wait_open();
    // The third is accepted and closed at once, not left waiting in the kernel's queue.
    let mut c = RawClient::connect(server.addr);
    let start = Instant::now();
    c.expect_eof();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "the refused connection waited {:?}",
        start.elapsed()
    );
    // The two admitted ones still work.
    for client in [&mut a, &mut b] {
        client.send(&client_frame(true, OP_TEXT, b"ok"));
        assert_eq!(client.read_frame().payload, b"ok");
    }
    // A slot frees up when one leaves.
    drop(a);
    events.wait_close(first);
    let (_d, response) = http_exchange(server.addr, upgrade_request("/", &[]).as_bytes());
    assert_eq!(response.status, 101);
}

// ===== large owned messages (writev) =====

#[test]
fn large_messages_moved_without_copy_keep_their_order_with_small_ones() {
    let mut config = config();
    config.max_message_size = 32 << 20;
    config.max_frame_size = 32 << 20;
    config.write_buffer_high_water = 64 << 20;
    let server = TestServer::start(config, MovingEcho);
    let mut client = RawClient::upgrade(server.addr);
    let sizes = [100_000usize, 10, 16 << 20, 65_536, 70_000, 3];
    for &size in &sizes {
        // Fragmented, so the server assembles (and therefore owns) the payload.
        let payload = pattern(size);
        let (a, b) = payload.split_at(size / 2);
        let mut bytes = client_frame(false, OP_BINARY, a);
        bytes.extend(client_frame(true, OP_CONT, b));
        client.send(&bytes);
    }
    for &size in &sizes {
        let echoed = client.read_frame();
        assert_eq!((echoed.opcode, echoed.payload.len()), (OP_BINARY, size));
        assert!(
            echoed.payload == pattern(size),
            "payload of {size} bytes differs"
        );
        let note = client.read_frame();
        assert_eq!(note.payload, format!("after {size}").into_bytes());
    }
}

// ===== fairness =====

/// Records the target of every request in the order handled; the first request stalls
/// the loop for 300 ms (raising `stalled` as it starts), so that what every client sends
/// meanwhile waits in the kernel.
struct Order {
    seen: Arc<Mutex<Vec<String>>>,
    stalled: Arc<AtomicBool>,
}

impl Handler for Order {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        if !self.stalled.swap(true, Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(300));
        }
        self.seen.lock().unwrap().push(request.path().to_string());
        let _ = ctx.respond(id, Response::new(StatusCode::NO_CONTENT));
    }
}

#[test]
fn a_client_pipelining_many_requests_does_not_hold_back_another_client() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut c = config();
    c.max_body_bytes = 64 * 1024;
    let stalled = Arc::new(AtomicBool::new(false));
    let handler = Order {
        seen: Arc::clone(&order),
        stalled: Arc::clone(&stalled),
    };
    let server = TestServer::start(c, handler);
    // 256 POSTs of 16 KiB (4 MiB) in one go, then, while the loop is stalled on the
    // first, another client's request.
    let mut greedy = RawClient::connect(server.addr);
    let body = vec![b'g'; 16 * 1024];
    let mut burst = Vec::new();
    for i in 0..256 {
        burst.extend_from_slice(
            format!(
                "POST /greedy/{i} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        burst.extend_from_slice(&body);
    }
    let writer = {
        let mut stream = greedy.stream.try_clone().unwrap();
        std::thread::spawn(move || stream.write_all(&burst))
    };
    let deadline = Instant::now() + TIMEOUT;
    while !stalled.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the first request never came");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The loop is inside its 300 ms stall now: the polite request is in the kernel before
    // the loop reads anything more of the burst.
    let mut polite = RawClient::connect(server.addr);
    polite.send(b"GET /polite HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(polite.read_response_head().status, 204);
    writer.join().unwrap().unwrap();
    for _ in 0..256 {
        assert_eq!(greedy.read_response_head().status, 204);
    }
    let order = order.lock().unwrap();
    let polite_at = order.iter().position(|p| p == "/polite").unwrap();
    // A pass takes at most 256 KiB of a connection's input (16 of these requests), and a
    // turn at most two passes: the polite request, read a turn or two after it arrived,
    // comes after a slice of the burst, not after all of it (without the budget: 256).
    assert!(
        polite_at < 128,
        "the other client waited for {polite_at} of 256 requests"
    );
}

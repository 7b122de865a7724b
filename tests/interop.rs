//! Interoperability over loopback with clients and servers nobody here wrote: tungstenite
//! against pushwire's server (handshake, closing handshake, keepalive pings), and
//! pushwire's blocking client against tungstenite's server and against its own.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use pushwire::client::{Client, ClientError, ClientEvent, ClientOptions};
use pushwire::http::{Response, StatusCode};
use pushwire::ws::client_handshake::ClientHandshakeError;
use pushwire::ws::handshake::UpgradeRequest;
use pushwire::{CloseCode, CloseKind, ConnId, Context, Handler, Message, Upgrade};
use support::*;
use tungstenite::Message as WsMessage;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;

/// A pushwire client whose reads give up after [`TIMEOUT`].
fn bounded(client: Client) -> Client {
    client.stream().set_read_timeout(Some(TIMEOUT)).unwrap();
    client
}

// ===== tungstenite against pushwire's server =====

#[test]
fn tungstenite_handshake_succeeds_and_the_handler_sees_the_path() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    // tungstenite checks the 101 and its Sec-WebSocket-Accept itself.
    let mut ws = ws_connect(server.addr, "/chat/room?x=1");
    let conn = events.wait_for("on_upgrade", |e| match e {
        Event::Upgrade(c, target) => Some((*c, target.clone())),
        _ => None,
    });
    assert_eq!(conn.1, "/chat/room?x=1");
    assert_eq!(events.wait_open(), conn.0);
    ws.send(WsMessage::text("over the new socket")).unwrap();
    assert_eq!(
        ws_read_data(&mut ws),
        WsMessage::text("over the new socket")
    );
}

#[test]
fn tungstenite_close_completes_the_closing_handshake() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut ws = ws_connect(server.addr, "/");
    let conn = events.wait_open();
    ws.close(Some(CloseFrame {
        code: WsCloseCode::Normal,
        reason: "bye".into(),
    }))
    .unwrap();
    // tungstenite reads the server's reply and reports the handshake complete.
    let mut replies = Vec::new();
    loop {
        match ws.read() {
            Ok(WsMessage::Close(frame)) => replies.push(frame),
            Ok(other) => panic!("unexpected {other:?} after our Close"),
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("closing handshake failed: {e}"),
        }
        assert!(replies.len() < 4, "Close after Close: {replies:?}");
    }
    // The server closes TCP first (RFC 6455 §7.1.1): the socket reaches EOF.
    let mut rest = [0u8; 16];
    assert_eq!(ws.get_mut().read(&mut rest).expect("EOF, not an error"), 0);
    let event = events.wait_for("on_close", |e| match e {
        Event::Close(c, ev) if *c == conn => Some(ev.clone()),
        _ => None,
    });
    assert_eq!(event.code, CloseCode::NORMAL);
    assert_eq!(event.reason, "bye");
    assert_eq!(event.kind, CloseKind::Remote);
}

#[test]
fn tungstenite_client_survives_keepalive_by_answering_pings() {
    // Real time on purpose: the point is that an independent client answers our pings.
    let mut config = config();
    config.ping_interval = Some(Duration::from_millis(200));
    config.pong_timeout = Duration::from_millis(300);
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut ws = ws_connect(server.addr, "/");
    let conn = events.wait_open();
    // Idle for 1.2 s (pongs only): without answers the connection would have been
    // dropped after 500 ms. tungstenite queues each pong as it reads the ping and sends
    // it on the next read. Every read is bounded by the socket's TIMEOUT.
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() < Duration::from_millis(1200) {
        match ws.read() {
            Ok(WsMessage::Ping(_)) => pings += 1,
            other => panic!("expected keepalive pings, got {other:?}"),
        }
    }
    assert!(pings >= 3, "only {pings} pings in {:?}", start.elapsed());
    ws.send(WsMessage::text("still here")).unwrap();
    assert_eq!(ws_read_data(&mut ws), WsMessage::text("still here"));
    events.assert_none(
        "on_close",
        |e| matches!(e, Event::Close(c, _) if *c == conn),
    );
}

// ===== pushwire's client =====

/// A tungstenite echo server for one connection; returns its URL.
fn tungstenite_echo_once() -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/echo", listener.local_addr().unwrap());
    let join = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        loop {
            match ws.read() {
                Ok(msg) if msg.is_text() || msg.is_binary() => ws.send(msg).unwrap(),
                Ok(_) => {}
                Err(_) => break, // closed (tungstenite answers the Close itself)
            }
        }
    });
    (url, join)
}

#[test]
fn client_talks_to_an_independent_server() {
    let (url, server) = tungstenite_echo_once();
    let mut client = bounded(Client::connect(&url).unwrap());
    client.send_text("hello").unwrap();
    assert_eq!(client.recv().unwrap(), Message::text("hello"));
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    client.send_binary(&big).unwrap();
    assert_eq!(client.recv().unwrap().as_bytes(), &big[..]);
    client.send_text("").unwrap();
    assert_eq!(client.recv().unwrap(), Message::text(""));
    client.ping(b"ping?").unwrap();
    assert_eq!(
        client.recv_event().unwrap(),
        ClientEvent::Pong(b"ping?".to_vec())
    );
    let closed = client.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(closed.code, CloseCode::NORMAL);
    assert_eq!(closed.kind, CloseKind::Local);
    server.join().unwrap();
}

/// Chooses the subprotocol "v2" when offered; echoes, except that "close me" closes
/// with 4001.
struct Proto;

impl Handler for Proto {
    fn on_upgrade(
        &mut self,
        _ctx: &mut Context<'_>,
        _conn: ConnId,
        req: &UpgradeRequest<'_>,
    ) -> Upgrade {
        let protocol = req.offers_protocol("v2").then(|| "v2".to_string());
        Upgrade::Accept { protocol }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        if message.as_text() == Some("close me") {
            let _ = ctx.close(conn, CloseCode::new(4001).unwrap(), "as you wish");
        } else {
            let _ = ctx.send(conn, &message);
        }
    }
}

#[test]
fn client_and_server_of_the_same_crate_interoperate_and_negotiate_a_subprotocol() {
    let server = TestServer::start(config(), Proto);
    let options = ClientOptions {
        protocols: vec!["v1".into(), "v2".into()],
        ..ClientOptions::default()
    };
    let mut client = bounded(Client::connect_with(&server.url("/"), options).unwrap());
    assert_eq!(client.protocol(), Some("v2"));
    client.send_text("ünïcode").unwrap();
    assert_eq!(client.recv().unwrap(), Message::text("ünïcode"));
    client.send_text("close me").unwrap();
    match client.recv() {
        Err(ClientError::Closed(event)) => {
            assert_eq!(event.code.as_u16(), 4001);
            assert_eq!(event.reason, "as you wish");
            assert_eq!(event.kind, CloseKind::Remote);
        }
        other => panic!("expected the server's close, got {other:?}"),
    }
}

/// Refuses every WebSocket with `403`.
struct Refuse;

impl Handler for Refuse {
    fn on_upgrade(
        &mut self,
        _ctx: &mut Context<'_>,
        _conn: ConnId,
        _req: &UpgradeRequest<'_>,
    ) -> Upgrade {
        Upgrade::Reject(Response::error(StatusCode::FORBIDDEN, "not you"))
    }
}

#[test]
fn client_reports_a_refused_handshake_with_the_servers_status() {
    let server = TestServer::start(config(), Refuse);
    match Client::connect(&server.url("/")) {
        Err(ClientError::Handshake(e)) => {
            assert_eq!(e, ClientHandshakeError::NotSwitchingProtocols(403));
        }
        other => panic!("expected a refused handshake, got {other:?}"),
    }
}

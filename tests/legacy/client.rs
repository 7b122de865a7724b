//! The blocking client (client role of the same protocol code) against an independent
//! server (tungstenite) and against pushwire's own server.

use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use pushwire::client::{Client, ClientError, ClientEvent, ClientOptions};
use pushwire::{CloseCode, CloseKind, Config, ConnId, Context, Handler, Message, Server};

/// A tungstenite echo server for one connection; returns its URL.
fn tungstenite_echo_once() -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/echo", listener.local_addr().unwrap());
    let join = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
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
    let mut client = Client::connect(&url).unwrap();
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

#[test]
fn client_and_server_of_the_same_crate_interoperate_and_negotiate_a_subprotocol() {
    struct Proto;
    impl Handler for Proto {
        fn on_upgrade(
            &mut self,
            _ctx: &mut Context<'_>,
            _conn: ConnId,
            req: &pushwire::ws::handshake::UpgradeRequest<'_>,
        ) -> pushwire::Upgrade {
            let protocol = req.offers_protocol("v2").then(|| "v2".to_string());
            pushwire::Upgrade::Accept { protocol }
        }
        fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
            if message.as_text() == Some("close me") {
                let _ = ctx.close(conn, CloseCode::new(4001).unwrap(), "as you wish");
            } else {
                let _ = ctx.send(conn, &message);
            }
        }
    }
    let mut server = Server::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let url = format!("ws://{}/", server.local_addr());
    let handle = server.handle();
    let loop_thread = thread::spawn(move || server.run(&mut Proto).unwrap());

    let options = ClientOptions {
        protocols: vec!["v1".into(), "v2".into()],
        ..ClientOptions::default()
    };
    let mut client = Client::connect_with(&url, options).unwrap();
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
    handle.shutdown().unwrap();
    loop_thread.join().unwrap();
}

#[test]
fn client_reports_a_refused_handshake_with_the_servers_status() {
    struct Refuse;
    impl Handler for Refuse {
        fn on_upgrade(
            &mut self,
            _ctx: &mut Context<'_>,
            _conn: ConnId,
            _req: &pushwire::ws::handshake::UpgradeRequest<'_>,
        ) -> pushwire::Upgrade {
            pushwire::Upgrade::Reject(pushwire::http::Response::error(
                pushwire::http::StatusCode::FORBIDDEN,
                "not you",
            ))
        }
    }
    let mut server = Server::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let url = format!("ws://{}/", server.local_addr());
    let handle = server.handle();
    let loop_thread = thread::spawn(move || server.run(&mut Refuse).unwrap());
    match Client::connect(&url) {
        Err(ClientError::Handshake(e)) => assert_eq!(
            e,
            pushwire::ws::client_handshake::ClientHandshakeError::NotSwitchingProtocols(403)
        ),
        other => panic!("expected a refused handshake, got {other:?}"),
    }
    handle.shutdown().unwrap();
    loop_thread.join().unwrap();
}

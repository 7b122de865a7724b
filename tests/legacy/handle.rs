//! `Handle`: sending, broadcasting and shutting down from other threads; stale ids.

mod support;

use std::time::Duration;

use pushwire::{CloseCode, CloseKind, HandleErrorKind, Message, SendError};
use support::*;
use tungstenite::Message as WsMessage;

#[test]
fn handle_send_from_another_thread_reaches_the_client() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut ws = ws_connect(server.addr, "/");
    let conn = events.open();
    let handle = server.handle.clone();
    std::thread::spawn(move || {
        handle.send(conn, "pushed text").unwrap();
        handle.send(conn, vec![1u8, 2, 3]).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(ws_read_data(&mut ws), WsMessage::text("pushed text"));
    assert_eq!(ws_read_data(&mut ws), WsMessage::binary(vec![1u8, 2, 3]));
}

#[test]
fn many_handle_sends_arrive_in_order() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut ws = ws_connect(server.addr, "/");
    let conn = events.open();
    let handle = server.handle.clone();
    let sender = std::thread::spawn(move || {
        for i in 0..2000 {
            handle.send(conn, format!("n{i}")).unwrap();
        }
    });
    for i in 0..2000 {
        assert_eq!(ws_read_data(&mut ws), WsMessage::text(format!("n{i}")));
    }
    sender.join().unwrap();
}

#[test]
fn handle_broadcast_reaches_every_open_client() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut clients: Vec<WsClient> = (0..4).map(|_| ws_connect(server.addr, "/")).collect();
    for _ in 0..4 {
        events.open();
    }
    // A connection still in its HTTP phase is not a WebSocket and gets nothing.
    let mut http = RawClient::connect(server.addr);
    server.handle.broadcast("to everyone").unwrap();
    for ws in &mut clients {
        assert_eq!(ws_read_data(ws), WsMessage::text("to everyone"));
    }
    http.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let response = http.read_response();
    assert_eq!(response.status, 404, "only the HTTP response: {response:?}");
    http.expect_eof();
}

#[test]
fn broadcast_skips_connections_that_have_closed() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut stays = ws_connect(server.addr, "/");
    let first = events.open();
    let leaves = RawClient::upgrade(server.addr);
    let second = events.open();
    assert_ne!(first, second);
    drop(leaves);
    events.close(second);
    server.handle.broadcast("after leaving").unwrap();
    assert_eq!(ws_read_data(&mut stays), WsMessage::text("after leaving"));
}

#[test]
fn stale_conn_id_never_reaches_the_connection_that_reused_its_slot() {
    let (handler, mut events) = recording(Echo);
    let mut server = TestServer::start(config(), handler);

    let old_client = RawClient::upgrade(server.addr);
    let old = events.open();
    // Dropping TCP removes the connection before on_close is called, so its slot is free.
    drop(old_client);
    let close = events.close(old);
    assert_eq!(close.kind, CloseKind::Abnormal);

    let mut new_client = RawClient::upgrade(server.addr);
    let new = events.open();
    assert_ne!(old, new);
    assert_eq!(
        old.index(),
        new.index(),
        "precondition: the new connection reuses the old slot"
    );

    server.handle.send(old, "for the old connection").unwrap();
    server
        .handle
        .close(old, CloseCode::new(4000).unwrap(), "old goes")
        .unwrap();
    server.handle.send(new, "for the new connection").unwrap();

    let (conn, message, error) = events.undelivered();
    assert_eq!(conn, old);
    assert_eq!(message, Message::text("for the old connection"));
    assert_eq!(error, SendError::Gone);

    // Commands run in order: had the stale send or close reached the new connection,
    // it would arrive before this.
    let frame = new_client.read_frame();
    assert_eq!(
        (frame.opcode, frame.payload.as_slice()),
        (OP_TEXT, &b"for the new connection"[..])
    );
    // And the new connection is still open.
    new_client.send(&client_frame(true, OP_TEXT, b"still open"));
    assert_eq!(new_client.read_frame().payload, b"still open");

    drop(new_client);
    events.close(new);
    server.stop();
    events.finish();
}

#[test]
fn handle_send_to_a_closing_connection_is_handed_back_as_not_open() {
    let mut config = config();
    config.close_timeout = Duration::from_secs(5);
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    server.handle.close(conn, CloseCode::NORMAL, "").unwrap();
    server.handle.send(conn, "too late").unwrap();
    let (c, message, error) = events.undelivered();
    assert_eq!(c, conn);
    assert_eq!(message, Message::text("too late"));
    assert_eq!(error, SendError::NotOpen);
    assert_eq!(client.read_close().map(|(c, _)| c), Some(1000));
}

#[test]
fn handle_shutdown_closes_every_client_with_1001_and_run_returns() {
    let mut config = config();
    config.shutdown_timeout = Duration::from_secs(3);
    let (handler, mut events) = recording(Echo);
    let mut server = TestServer::start(config, handler);
    let mut clients: Vec<WsClient> = (0..3).map(|_| ws_connect(server.addr, "/")).collect();
    let conns: Vec<_> = (0..3).map(|_| events.open()).collect();

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
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    for conn in conns {
        let event = events.close(conn);
        assert_eq!(event.code, CloseCode::GOING_AWAY);
        assert_eq!(event.kind, CloseKind::Local);
    }
    events.finish();
}

#[test]
fn shutdown_gives_up_on_unresponsive_peers_after_shutdown_timeout() {
    let mut config = config();
    config.shutdown_timeout = Duration::from_millis(400);
    config.close_timeout = Duration::from_secs(30);
    let (handler, mut events) = recording(Echo);
    let mut server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.open();
    server.handle.shutdown().unwrap();
    assert_eq!(client.read_close().map(|(c, _)| c), Some(1001));
    // Never answer. run() must still return, about shutdown_timeout later.
    let took = server
        .wait_stopped(Duration::from_secs(5))
        .expect("run did not return after shutdown_timeout");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    client.expect_eof();
    let event = events.close(conn);
    assert_eq!(event.code, CloseCode::ABNORMAL_CLOSURE);
    assert_eq!(event.kind, CloseKind::Abnormal);
    events.finish();
}

#[test]
fn server_refuses_new_connections_after_shutdown() {
    let (handler, events) = recording(Echo);
    let mut server = TestServer::start(config(), handler);
    let addr = server.addr;
    server.stop();
    match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(_) => {}
        Ok(mut stream) => {
            // The port may have been taken by an unrelated listener in a parallel test,
            // but not by ours: it must not answer as pushwire.
            use std::io::{Read, Write};
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let _ = stream.write_all(upgrade_request("/", &[]).as_bytes());
            let mut buf = [0u8; 64];
            let n = stream.read(&mut buf).unwrap_or(0);
            assert!(
                !buf[..n].starts_with(b"HTTP/1.1 101"),
                "a stopped server accepted a WebSocket"
            );
        }
    }
    events.finish();
}

#[test]
fn handle_calls_fail_with_stopped_once_the_server_is_gone() {
    let (handler, mut events) = recording(Echo);
    let mut server = TestServer::start(config(), handler);
    let client = RawClient::upgrade(server.addr);
    let conn = events.open();
    drop(client);
    events.close(conn);
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
    assert_eq!(
        handle.shutdown().unwrap_err().kind,
        HandleErrorKind::Stopped
    );
    events.finish();
}

#[test]
fn context_shutdown_from_a_handler_stops_the_server() {
    struct StopOnMessage;
    impl pushwire::Handler for StopOnMessage {
        fn on_message(
            &mut self,
            ctx: &mut pushwire::Context<'_>,
            _conn: pushwire::ConnId,
            msg: Message<'_>,
        ) {
            if msg.as_text() == Some("stop") {
                ctx.shutdown();
            }
        }
    }
    let (handler, mut events) = recording(StopOnMessage);
    let mut server = TestServer::start(config(), handler);
    let mut ws = ws_connect(server.addr, "/");
    let conn = events.open();
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
    assert_eq!(events.close(conn).code, CloseCode::GOING_AWAY);
    events.finish();
}

//! `Handle`: other threads talking to a running server — sends and broadcasts reaching
//! real clients in order, stale `ConnId`s and `RequestId`s never reaching a stranger,
//! undeliverable sends handed back, and parked requests answered from another thread.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use pushwire::http::{Request, Response, StatusCode};
use pushwire::{CloseCode, CloseKind, ConnId, Context, Handler, Message, RequestId, SendError};
use support::*;
use tungstenite::Message as WsMessage;

/// Waits for the next `on_undelivered`.
fn undelivered(events: &mut Events) -> (ConnId, Message<'static>, SendError) {
    events.wait_for("on_undelivered", |e| match e {
        Event::Undelivered(c, m, err) => Some((*c, m.clone(), *err)),
        _ => None,
    })
}

#[test]
fn handle_send_from_another_thread_reaches_the_client() {
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config(), handler);
    let mut ws = ws_connect(server.addr, "/");
    let conn = events.wait_open();
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
    let conn = events.wait_open();
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
    events.assert_none("on_undelivered", |e| matches!(e, Event::Undelivered(..)));
}

/// Echoes messages and answers every HTTP request with `200 page` (keep-alive).
struct EchoAndPages;

impl Handler for EchoAndPages {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
        let _ = ctx.send(conn, &msg);
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, _request: Request) {
        let _ = ctx.respond(id, Response::text(StatusCode::OK, "page"));
    }
}

#[test]
fn handle_broadcast_reaches_every_open_client_and_no_http_connection() {
    let (handler, mut events) = recording(EchoAndPages);
    let server = TestServer::start(config(), handler);
    let mut clients: Vec<WsClient> = (0..4).map(|_| ws_connect(server.addr, "/")).collect();
    for _ in 0..4 {
        events.wait_open();
    }
    // A keep-alive HTTP connection the server knows (it answered a request on it) is not
    // a WebSocket and gets nothing.
    let mut http = RawClient::connect(server.addr);
    let response = http.get("/first");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Connection"),
        None,
        "precondition: kept alive"
    );
    server.handle.broadcast("to everyone").unwrap();
    for ws in &mut clients {
        assert_eq!(ws_read_data(ws), WsMessage::text("to everyone"));
    }
    http.send(b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let response = http.read_response();
    assert_eq!(
        response.body_text(),
        "page",
        "only the HTTP response: {response:?}"
    );
    http.expect_eof();
}

#[test]
fn broadcast_skips_connections_that_have_closed_or_are_closing() {
    let mut config = config();
    config.close_timeout = Duration::from_secs(30);
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut stays = ws_connect(server.addr, "/");
    events.wait_open();
    let leaves = RawClient::upgrade(server.addr);
    let left = events.wait_open();
    let mut closing = RawClient::upgrade(server.addr);
    let closing_id = events.wait_open();

    drop(leaves);
    events.wait_close(left);
    // The server has sent its Close to this one, which has not answered yet.
    server
        .handle
        .close(closing_id, CloseCode::NORMAL, "bye")
        .unwrap();
    assert_eq!(
        closing.read_close(),
        Some((1000, "bye".to_string())),
        "precondition: the closing handshake began"
    );

    server.handle.broadcast("after leaving").unwrap();
    assert_eq!(ws_read_data(&mut stays), WsMessage::text("after leaving"));
    // The broadcast has run: a closing connection got no data frame after its Close
    // (RFC 6455 §5.5.1). Answering the Close ends the connection with nothing more.
    closing.send(&close_frame(&close_payload(1000, b"")));
    let rest = closing.read_to_eof();
    assert!(rest.is_empty(), "bytes after the Close: {rest:?}");
    assert_eq!(events.wait_close(closing_id).kind, CloseKind::Local);
    events.assert_none("on_undelivered", |e| matches!(e, Event::Undelivered(..)));
}

#[test]
fn stale_conn_id_never_reaches_the_connection_that_reused_its_slot() {
    let (handler, mut events) = recording(Echo);
    let mut server = TestServer::start(config(), handler);

    let old_client = RawClient::upgrade(server.addr);
    let old = events.wait_open();
    // Dropping TCP removes the connection before on_close is called, so its slot is free.
    drop(old_client);
    let close = events.wait_close(old);
    assert_eq!(close.kind, CloseKind::Abnormal);

    let mut new_client = RawClient::upgrade(server.addr);
    let new = events.wait_open();
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

    let (conn, message, error) = undelivered(&mut events);
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
    events.wait_close(new);
    server.stop();
    events.check_contract();
}

#[test]
fn handle_send_to_a_closing_connection_is_handed_back_as_not_open() {
    let mut config = config();
    config.close_timeout = Duration::from_secs(5);
    let (handler, mut events) = recording(Echo);
    let server = TestServer::start(config, handler);
    let mut client = RawClient::upgrade(server.addr);
    let conn = events.wait_open();
    server.handle.close(conn, CloseCode::NORMAL, "").unwrap();
    server.handle.send(conn, "too late").unwrap();
    let (c, message, error) = undelivered(&mut events);
    assert_eq!(c, conn);
    assert_eq!(message, Message::text("too late"));
    assert_eq!(error, SendError::NotOpen);
    assert_eq!(client.read_close().map(|(c, _)| c), Some(1000));
    // Nothing followed the Close: the message was not sent after all.
    client.send(&close_frame(&close_payload(1000, b"")));
    let rest = client.read_to_eof();
    assert!(rest.is_empty(), "bytes after the Close: {rest:?}");
}

/// Parks every request for a minute and hands its id to the test.
struct Parking(mpsc::Sender<RequestId>);

impl Handler for Parking {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, _request: Request) {
        let until = ctx.now() + Duration::from_secs(60);
        ctx.park(id, until).unwrap();
        self.0.send(id).unwrap();
    }
}

#[test]
fn handle_respond_from_another_thread_answers_a_parked_request() {
    let (tx, rx) = mpsc::channel();
    let server = TestServer::start(config(), Parking(tx));
    let mut client = RawClient::connect(server.addr);
    client.send(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    let first = rx.recv_timeout(TIMEOUT).expect("the request was parked");
    let handle = server.handle.clone();
    std::thread::spawn(move || {
        handle
            .respond(first, Response::text(StatusCode::OK, "from another thread"))
            .unwrap();
    })
    .join()
    .unwrap();
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "from another thread");

    // The connection is kept alive; its next request has its own id, and an answer to
    // the first one (already answered) does not reach it.
    client.send(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
    let second = rx
        .recv_timeout(TIMEOUT)
        .expect("the next request was parked");
    assert_eq!(second.conn(), first.conn());
    assert_ne!(second, first);
    let handle = server.handle.clone();
    std::thread::spawn(move || {
        handle
            .respond(first, Response::text(StatusCode::OK, "stale"))
            .unwrap();
        handle
            .respond(second, Response::text(StatusCode::OK, "fresh"))
            .unwrap();
    })
    .join()
    .unwrap();
    let response = client.read_response();
    assert_eq!(response.body_text(), "fresh", "commands run in order");
}

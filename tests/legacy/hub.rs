//! The pub/sub hub (`HubServer`, the program behind `pushwire serve`) over loopback:
//! long-polls answered at once, held and woken by publishes over POST and WebSocket,
//! timeouts, `since` and `missed`, validation, the fixed routes, and JSON escaping end to
//! end. One test runs the `pushwire serve` binary itself.

mod support;

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pushwire::hub::{HubConfig, HubServer};
use serde_json::Value;
use support::*;
use tungstenite::Message as WsMessage;

/// A hub with a short default poll timeout (no test waits 30 s), wrapped in a [`Tap`] so
/// a test can wait until a request has been handled (e.g. parked) before publishing.
fn hub(history: usize) -> (TestServer, TapEvents) {
    let mut h = HubConfig::default();
    h.history = history;
    h.default_poll_timeout = Duration::from_millis(300);
    h.max_poll_timeout = Duration::from_secs(10);
    let (handler, events) = tap(HubServer::new(h));
    (TestServer::start(config(), handler), events)
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(bytes)))
}

/// `POST /channels/{channel}`: asserts `201 {"id":N}` and returns N.
fn publish(addr: SocketAddr, channel: &str, data: &str) -> u64 {
    let response = http_post(addr, &format!("/channels/{channel}"), data.as_bytes());
    assert_eq!(response.status, 201, "{response:?}");
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    let body = json(&response.body);
    let id = body["id"].as_u64().expect("{\"id\":N}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    id
}

/// A long-poll answer: the (id, data) pairs, `next`, and `missed` (0 when absent).
#[derive(Debug, PartialEq)]
struct Batch {
    messages: Vec<(u64, String)>,
    next: u64,
    missed: u64,
}

fn batch(response: &HttpResponse) -> Batch {
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.content_length(), Some(response.body.len()));
    let body = json(&response.body);
    let messages = body["messages"]
        .as_array()
        .expect("messages array")
        .iter()
        .map(|m| {
            (
                m["id"].as_u64().expect("id"),
                m["data"].as_str().expect("data").to_string(),
            )
        })
        .collect();
    let missed = match body.get("missed") {
        None => 0,
        Some(k) => {
            let k = k.as_u64().expect("missed is a number");
            assert!(k > 0, "missed is only present when something was missed");
            k
        }
    };
    Batch {
        messages,
        next: body["next"].as_u64().expect("next"),
        missed,
    }
}

fn msgs(pairs: &[(u64, &str)]) -> Vec<(u64, String)> {
    pairs.iter().map(|&(i, s)| (i, s.to_string())).collect()
}

/// One WebSocket frame as `(id, data)`.
fn frame_message(message: WsMessage) -> (u64, String) {
    let text = message.into_text().expect("text frame");
    let value = json(text.as_bytes());
    assert_eq!(value.as_object().unwrap().len(), 2, "{value}");
    (
        value["id"].as_u64().expect("id"),
        value["data"].as_str().expect("data").to_string(),
    )
}

fn assert_204_between(response: &HttpResponse, elapsed: Duration, low: Duration, high: Duration) {
    assert_eq!(response.status, 204, "{response:?}");
    assert!(response.body.is_empty());
    assert!(elapsed >= low, "204 too early: {elapsed:?} < {low:?}");
    assert!(elapsed < high, "204 too late: {elapsed:?} >= {high:?}");
}

// ===== long-polling =====

#[test]
fn long_poll_with_history_is_answered_at_once() {
    let (server, _events) = hub(16);
    assert_eq!(publish(server.addr, "news", "first"), 1);
    assert_eq!(publish(server.addr, "news", "second"), 2);
    let started = Instant::now();
    let response = http_get(server.addr, "/channels/news?since=0&timeout=5");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        batch(&response),
        Batch {
            messages: msgs(&[(1, "first"), (2, "second")]),
            next: 2,
            missed: 0
        }
    );
    let response = http_get(server.addr, "/channels/news?since=1&timeout=5");
    assert_eq!(batch(&response).messages, msgs(&[(2, "second")]));
    assert_eq!(
        response.header("Cache-Control"),
        Some("no-store"),
        "{response:?}"
    );
}

#[test]
fn parked_long_poll_is_woken_by_a_post_publish() {
    let (server, mut events) = hub(16);
    let mut poller = RawClient::connect(server.addr);
    poller.send(b"GET /channels/room?since=0&timeout=8 HTTP/1.1\r\nHost: x\r\n\r\n");
    events.request("/channels/room?since=0");
    poller.assert_silent_for(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(publish(server.addr, "room", "wake up"), 1);
    let response = poller.read_response();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        batch(&response),
        Batch {
            messages: msgs(&[(1, "wake up")]),
            next: 1,
            missed: 0
        }
    );
    // Keep-alive: the next poll from `next` on the same connection.
    poller.send(b"GET /channels/room?since=1&timeout=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(poller.read_response().status, 204);
}

#[test]
fn parked_long_poll_is_woken_by_a_websocket_publish() {
    let (server, mut events) = hub(16);
    let mut poller = RawClient::connect(server.addr);
    poller.send(b"GET /channels/room?since=0&timeout=8 HTTP/1.1\r\nHost: x\r\n\r\n");
    events.request("/channels/room?since=0");
    let mut ws = ws_connect(server.addr, "/channels/room");
    ws.send(WsMessage::text("from a socket")).unwrap();
    assert_eq!(
        batch(&poller.read_response()).messages,
        msgs(&[(1, "from a socket")])
    );
    // The publishing socket is a subscriber too: it gets its own message as a frame.
    assert_eq!(
        frame_message(ws_read_data(&mut ws)),
        (1, "from a socket".to_string())
    );
}

#[test]
fn long_poll_timeout_answers_204_within_the_deadline() {
    let (server, _events) = hub(16);
    let started = Instant::now();
    let response = http_get(server.addr, "/channels/quiet?since=0&timeout=0.3");
    assert_204_between(
        &response,
        started.elapsed(),
        Duration::from_millis(250),
        Duration::from_secs(5),
    );
}

#[test]
fn long_poll_without_timeout_uses_the_configured_default() {
    let (server, _events) = hub(16);
    let started = Instant::now();
    let response = http_get(server.addr, "/channels/quiet?since=0");
    assert_204_between(
        &response,
        started.elapsed(),
        Duration::from_millis(250),
        Duration::from_secs(5),
    );
}

#[test]
fn long_poll_timeout_above_the_maximum_is_clamped() {
    let mut h = HubConfig::default();
    h.default_poll_timeout = Duration::from_millis(300);
    h.max_poll_timeout = Duration::from_millis(400);
    let server = TestServer::start(config(), HubServer::new(h));
    let started = Instant::now();
    let response = http_get(server.addr, "/channels/quiet?since=0&timeout=3600");
    assert_204_between(
        &response,
        started.elapsed(),
        Duration::from_millis(350),
        Duration::from_secs(5),
    );
}

#[test]
fn long_poll_without_since_gets_only_messages_published_after_it_arrived() {
    let (server, mut events) = hub(16);
    publish(server.addr, "feed", "before");
    let mut poller = RawClient::connect(server.addr);
    poller.send(b"GET /channels/feed?timeout=8 HTTP/1.1\r\nHost: x\r\n\r\n");
    events.request("/channels/feed?timeout=8");
    poller.assert_silent_for(Duration::from_millis(100));
    publish(server.addr, "feed", "after");
    assert_eq!(
        batch(&poller.read_response()),
        Batch {
            messages: msgs(&[(2, "after")]),
            next: 2,
            missed: 0
        }
    );
    // And with nothing new, no old messages either: 204 at the timeout.
    let response = http_get(server.addr, "/channels/feed?timeout=0.3");
    assert_eq!(response.status, 204, "{response:?}");
}

#[test]
fn timeout_zero_is_plain_polling() {
    let (server, _events) = hub(16);
    let started = Instant::now();
    let response = http_get(server.addr, "/channels/plain?since=0&timeout=0");
    assert_204_between(
        &response,
        started.elapsed(),
        Duration::ZERO,
        Duration::from_secs(2),
    );
    publish(server.addr, "plain", "there now");
    let response = http_get(server.addr, "/channels/plain?since=0&timeout=0");
    assert_eq!(batch(&response).messages, msgs(&[(1, "there now")]));
    let started = Instant::now();
    let response = http_get(server.addr, "/channels/plain?since=1&timeout=0");
    assert_204_between(
        &response,
        started.elapsed(),
        Duration::ZERO,
        Duration::from_secs(2),
    );
}

#[test]
fn long_poll_after_eviction_reports_missed() {
    let (server, _events) = hub(4);
    for i in 1..=10 {
        assert_eq!(publish(server.addr, "busy", &format!("m{i}")), i);
    }
    let response = http_get(server.addr, "/channels/busy?since=0&timeout=0");
    assert_eq!(
        batch(&response),
        Batch {
            messages: msgs(&[(7, "m7"), (8, "m8"), (9, "m9"), (10, "m10")]),
            next: 10,
            missed: 6
        }
    );
    let response = http_get(server.addr, "/channels/busy?since=5&timeout=0");
    assert_eq!(batch(&response).missed, 1);
    let response = http_get(server.addr, "/channels/busy?since=6&timeout=0");
    assert_eq!(batch(&response).missed, 0);
    let response = http_get(server.addr, "/channels/busy?since=10&timeout=0");
    assert_eq!(response.status, 204);
}

#[test]
fn websocket_subscriber_after_eviction_gets_a_missed_frame_first() {
    let (server, _events) = hub(4);
    for i in 1..=10 {
        publish(server.addr, "busy", &format!("m{i}"));
    }
    let mut ws = ws_connect(server.addr, "/channels/busy?since=0");
    let first = ws_read_data(&mut ws).into_text().unwrap();
    assert_eq!(json(first.as_bytes()), serde_json::json!({"missed": 6}));
    for i in 7..=10 {
        assert_eq!(frame_message(ws_read_data(&mut ws)), (i, format!("m{i}")));
    }
    // Then live messages.
    publish(server.addr, "busy", "m11");
    assert_eq!(
        frame_message(ws_read_data(&mut ws)),
        (11, "m11".to_string())
    );
}

#[test]
fn websocket_subscriber_without_since_gets_only_new_messages() {
    let (server, _events) = hub(16);
    publish(server.addr, "live", "old");
    let mut ws = ws_connect(server.addr, "/channels/live");
    publish(server.addr, "live", "new");
    assert_eq!(frame_message(ws_read_data(&mut ws)), (2, "new".to_string()));
}

#[test]
fn parked_client_that_hangs_up_breaks_nothing() {
    let (server, mut events) = hub(16);
    let mut poller = RawClient::connect(server.addr);
    poller.send(b"GET /channels/gone?since=0&timeout=8 HTTP/1.1\r\nHost: x\r\n\r\n");
    let conn = events.request("/channels/gone");
    drop(poller);
    events.abandoned(conn);
    assert_eq!(publish(server.addr, "gone", "one"), 1);
    assert_eq!(publish(server.addr, "gone", "two"), 2);
    let response = http_get(server.addr, "/channels/gone?since=0&timeout=5");
    assert_eq!(batch(&response).messages, msgs(&[(1, "one"), (2, "two")]));
    // A new parked poll is still woken.
    let mut poller = RawClient::connect(server.addr);
    poller.send(b"GET /channels/gone?since=2&timeout=8 HTTP/1.1\r\nHost: x\r\n\r\n");
    events.request("/channels/gone?since=2");
    publish(server.addr, "gone", "three");
    assert_eq!(
        batch(&poller.read_response()).messages,
        msgs(&[(3, "three")])
    );
    assert_eq!(http_get(server.addr, "/healthz").body, b"ok");
}

// ===== validation =====

/// A hub error answer: the status, a readable body starting with it, an exact
/// Content-Length.
fn assert_hub_error(response: &HttpResponse, status: u16) {
    assert_eq!(response.status, status, "{response:?}");
    let body = std::str::from_utf8(&response.body).expect("UTF-8 error body");
    assert!(body.starts_with(&status.to_string()), "{body:?}");
    assert!(body.trim().len() > 4, "{body:?}");
    assert_eq!(response.content_length(), Some(response.body.len()));
}

#[test]
fn channel_names_are_validated() {
    let (server, _events) = hub(16);
    let longest = "n".repeat(128);
    let too_long = "n".repeat(129);
    for bad in [
        "",
        too_long.as_str(),
        "bad!char",
        "a/b",
        "sp%20ace",
        "caf\u{e9}",
    ] {
        let target = format!("/channels/{bad}");
        let response = http_post(server.addr, &target, b"x");
        assert_hub_error(&response, 400);
        let response = http_get(server.addr, &format!("{target}?timeout=0"));
        assert_hub_error(&response, 400);
    }
    for good in [longest.as_str(), "A-z_0.9", ".", ".."] {
        assert_eq!(publish(server.addr, good, "named"), 1, "{good}");
        let response = http_get(server.addr, &format!("/channels/{good}?since=0&timeout=0"));
        assert_eq!(batch(&response).messages, msgs(&[(1, "named")]));
    }
}

#[test]
fn bad_websocket_channel_name_is_refused_with_400() {
    let (server, _events) = hub(16);
    let mut client = RawClient::connect(server.addr);
    client.send(upgrade_request("/channels/bad!name", &[]).as_bytes());
    assert_hub_error(&client.read_response(), 400);
}

#[test]
fn bad_since_or_timeout_is_400() {
    let (server, _events) = hub(16);
    for query in [
        "since=-1",
        "since=abc",
        "since=",
        "since=1.5",
        "since=99999999999999999999999",
        "since=1&since=2",
        "timeout=abc",
        "timeout=-1",
        "timeout=.5",
        "timeout=1e3",
        "timeout=",
        "timeout=1&timeout=2",
    ] {
        let response = http_get(server.addr, &format!("/channels/q?{query}"));
        assert_hub_error(&response, 400);
    }
    // Over WebSocket too (only `since` matters there).
    let mut client = RawClient::connect(server.addr);
    client.send(upgrade_request("/channels/q?since=x", &[]).as_bytes());
    assert_hub_error(&client.read_response(), 400);
    // Parameters that are not ours are ignored (cache busters).
    let response = http_get(server.addr, "/channels/q?_=1700000000&since=0&timeout=0");
    assert_eq!(response.status, 204);
}

#[test]
fn invalid_utf8_post_body_is_400_and_publishes_nothing() {
    let (server, _events) = hub(16);
    for body in [&b"\xff\xfe"[..], b"ok then \xc3", b"\xed\xa0\x80"] {
        assert_hub_error(&http_post(server.addr, "/channels/t", body), 400);
    }
    let response = http_get(server.addr, "/channels/t?since=0&timeout=0");
    assert_eq!(response.status, 204);
    assert_eq!(publish(server.addr, "t", "valid"), 1);
}

#[test]
fn healthz_is_200_ok() {
    let (server, _events) = hub(16);
    let response = http_get(server.addr, "/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"ok");
    assert_eq!(response.header("Content-Length"), Some("2"));
}

#[test]
fn root_serves_the_demo_page() {
    let (server, _events) = hub(16);
    let response = http_get(server.addr, "/");
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("Content-Type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let page = String::from_utf8(response.body).expect("UTF-8 page");
    assert!(page.to_ascii_lowercase().contains("<html"), "{page:.200}");
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let (server, _events) = hub(16);
    assert_hub_error(&http_get(server.addr, "/nowhere"), 404);
    let (_c, response) = http_exchange(
        server.addr,
        b"DELETE /channels/x HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_hub_error(&response, 405);
    assert_eq!(response.header("Allow"), Some("GET, HEAD, POST"));
    let response = http_post(server.addr, "/healthz", b"");
    assert_hub_error(&response, 405);
    assert_eq!(response.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn websocket_binary_message_is_closed_with_1003() {
    let (server, _events) = hub(16);
    let mut client = RawClient::connect(server.addr);
    client.send(upgrade_request("/channels/bin", &[]).as_bytes());
    assert_eq!(client.read_response().status, 101);
    client.send(&client_frame(true, OP_BINARY, &[0, 1, 2, 3]));
    let (code, _reason) = client.read_close().expect("a close code");
    assert_eq!(code, 1003);
    // Nothing was published.
    let response = http_get(server.addr, "/channels/bin?since=0&timeout=0");
    assert_eq!(response.status, 204);
}

// ===== JSON escaping =====

const TRICKY: &str = "quote \" backslash \\ slash / newline \n return \r tab \t \
                      ctrl \u{1} nul \u{0} esc \u{1b} del \u{7f} \
                      é 日本 🎉 ls \u{2028} ps \u{2029} end";

#[test]
fn message_text_survives_json_escaping_end_to_end() {
    let (server, _events) = hub(16);
    assert_eq!(publish(server.addr, "json", TRICKY), 1);
    let mut publisher = ws_connect(server.addr, "/channels/json");
    publisher.send(WsMessage::text(TRICKY)).unwrap();
    assert_eq!(
        frame_message(ws_read_data(&mut publisher)),
        (2, TRICKY.to_string())
    );

    // Long-poll: the raw body is JSON with the hard characters escaped, and parses back
    // to the original text.
    let response = http_get(server.addr, "/channels/json?since=0&timeout=0");
    let raw = std::str::from_utf8(&response.body).expect("UTF-8 JSON");
    assert!(
        !raw.contains('\u{2028}') && !raw.contains('\u{2029}'),
        "{raw}"
    );
    assert!(
        !raw.chars().any(|c| c < ' '),
        "JSON forbids raw U+0000..U+001F: {raw:?}"
    );
    assert!(
        raw.contains("é 日本 🎉"),
        "non-ASCII is written as is: {raw}"
    );
    assert_eq!(
        batch(&response).messages,
        vec![(1, TRICKY.to_string()), (2, TRICKY.to_string())]
    );

    // WebSocket replay.
    let mut ws = ws_connect(server.addr, "/channels/json?since=0");
    for id in 1..=2 {
        let text = ws_read_data(&mut ws).into_text().unwrap();
        assert!(!text.chars().any(|c| c < ' '), "{text:?}");
        assert_eq!(
            frame_message(WsMessage::text(text)),
            (id, TRICKY.to_string())
        );
    }
}

// ===== the binary =====

/// Kills the `pushwire serve` child when dropped, so a failing test leaves nothing behind.
struct ServeProcess {
    child: Child,
    addr: SocketAddr,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_serve(args: &[&str]) -> ServeProcess {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .arg("serve")
        .arg("--addr")
        .arg(addr.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pushwire serve");
    let mut process = ServeProcess { child, addr };
    let deadline = Instant::now() + TIMEOUT;
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = process.child.try_wait() {
            let mut stderr = String::new();
            let _ = process
                .child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr);
            panic!("pushwire serve exited with {status}: {stderr}");
        }
        assert!(Instant::now() < deadline, "pushwire serve did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    process
}

#[test]
fn pushwire_serve_binary_runs_the_hub_with_its_options() {
    let serve = spawn_serve(&[
        "--history",
        "2",
        "--poll-timeout",
        "0.3",
        "--max-poll-timeout",
        "1",
        "--max-body",
        "16",
    ]);
    let addr = serve.addr;
    for i in 1..=3 {
        assert_eq!(publish(addr, "bin", &format!("m{i}")), i);
    }
    let response = http_get(addr, "/channels/bin?since=0&timeout=0");
    assert_eq!(
        batch(&response),
        Batch {
            messages: msgs(&[(2, "m2"), (3, "m3")]),
            next: 3,
            missed: 1
        }
    );
    let (mut client, response) = http_exchange(
        addr,
        b"POST /channels/bin HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n",
    );
    assert_hub_error(&response, 413);
    assert!(client.read_to_eof().is_empty());
    let started = Instant::now();
    let response = http_get(addr, "/channels/bin?since=3");
    assert_204_between(
        &response,
        started.elapsed(),
        Duration::from_millis(250),
        Duration::from_secs(5),
    );
    let started = Instant::now();
    let response = http_get(addr, "/channels/bin?since=3&timeout=60");
    assert_204_between(
        &response,
        started.elapsed(),
        Duration::from_millis(900),
        Duration::from_secs(6),
    );
    assert_eq!(http_get(addr, "/healthz").body, b"ok");
}

// ===== backpressure =====

#[test]
fn slow_websocket_subscriber_is_paused_then_resumed_with_a_missed_count() {
    const N: u64 = 400;
    let mut c = config();
    c.write_buffer_high_water = 64 * 1024;
    c.max_body_bytes = 128 * 1024;
    let mut h = HubConfig::default();
    h.history = 8;
    let (handler, mut events) = tap(HubServer::new(h));
    let server = TestServer::start(c, handler);
    // Subscribed, but not reading while the publishes pile up (~24 MB: more than the
    // loopback socket buffers and the 64 KiB high-water mark hold).
    let mut ws = ws_connect(server.addr, "/channels/slow");
    let filler = "x".repeat(60_000);
    let mut poster = RawClient::connect(server.addr);
    for i in 1..=N {
        let response = poster.post("/channels/slow", format!("{i}:{filler}").as_bytes());
        assert_eq!(
            response.status, 201,
            "publishing never waits for a slow reader"
        );
    }
    // Now read: frames in id order; a gap is always announced by {"missed":K} for exactly
    // the ids skipped; the last message arrives.
    let mut last = 0;
    let mut announced: Option<u64> = None;
    let mut missed_total = 0;
    while last < N {
        let text = ws_read_data(&mut ws).into_text().unwrap();
        let value = json(text.as_bytes());
        if let Some(k) = value.get("missed") {
            assert!(announced.is_none(), "two missed frames in a row");
            announced = Some(k.as_u64().unwrap());
            continue;
        }
        let id = value["id"].as_u64().unwrap();
        assert!(id > last, "ids go up: {id} after {last}");
        assert_eq!(
            id - last - 1,
            announced.take().unwrap_or(0),
            "a gap from {last} to {id} must be announced exactly"
        );
        missed_total += id - last - 1;
        let data = value["data"].as_str().unwrap();
        assert_eq!(data, format!("{id}:{filler}"));
        last = id;
    }
    assert!(
        missed_total > 0,
        "the subscriber was never paused: the test did not exercise backpressure"
    );
    events.wait_for("on_drained", |e| {
        matches!(e, Tapped::Drained(_)).then_some(())
    });
    // Caught up: live again.
    publish(server.addr, "slow", "live");
    assert_eq!(frame_message(ws_read_data(&mut ws)), (N + 1, "live".into()));
}

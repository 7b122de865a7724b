//! JSON payloads (issue 12 §4): a `POST /channels/{name}` with `Content-Type:
//! application/json` whose body is JSON is delivered as that value — `"data":{...}`, the
//! body's bytes as published — over long-poll, WebSocket and Server-Sent Events alike
//! (the last read with the WHATWG parser, as a browser's `EventSource` reads it); any
//! other content type stays text; a `pushwire.v1` publish whose `data` is not a string
//! is a JSON payload too; a body that is not JSON is `400` and publishes
//! nothing; `max_message` counts the JSON's bytes; the application publishes JSON with
//! `HubServer::publish_json`; and a durable hub keeps JSON as JSON across a restart.
//!
//! In memory, on the virtual clock (`ServerPair`); the durable hub's writer is a real
//! thread on a real directory, waited for with a bound (5 s).

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pushwire::hub::sse::{Event, EventStreamParser};
use pushwire::hub::{HubConfig, HubServer, Storage};
use pushwire::pair::ServerPair;
use pushwire::server::{Context, Handler, RequestId};
use pushwire::storage::disk::{Fsync, LogOptions};
use pushwire::{Handle, Request};
use serde_json::Value;
use support::*;

type Pair = ServerPair<Recording<HubServer>>;

fn hub_with(h: HubConfig) -> Pair {
    memory_server(config(), HubServer::new(h)).0
}

fn hub() -> Pair {
    hub_with(HubConfig::default())
}

fn json(text: &[u8]) -> Value {
    serde_json::from_slice(text)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(text)))
}

/// `POST /channels/{channel}` with `body`, and a `Content-Type` if given.
fn post<H: Handler>(
    pair: &mut ServerPair<H>,
    channel: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> HttpResponse {
    let mut client = Client::connect(pair);
    client.send(pair, &post_request(channel, content_type, body));
    client.response(pair)
}

fn post_request(channel: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let content_type = content_type.map_or(String::new(), |t| format!("Content-Type: {t}\r\n"));
    let mut request = format!(
        "POST /channels/{channel} HTTP/1.1\r\nHost: test\r\n{content_type}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

fn publish_json(pair: &mut Pair, channel: &str, value: &str) -> u64 {
    let response = post(pair, channel, Some("application/json"), value.as_bytes());
    assert_eq!(response.status, 201, "{value}: {response:?}");
    json(&response.body)["id"].as_u64().unwrap()
}

/// The answer to `GET /channels/{channel}?since=0&timeout=0`, as text (`None`: 204).
fn poll_text<H: Handler>(pair: &mut ServerPair<H>, channel: &str) -> Option<String> {
    let mut client = Client::connect(pair);
    let response = client.get(pair, &format!("/channels/{channel}?since=0&timeout=0"));
    match response.status {
        204 => None,
        200 => Some(response.body_text()),
        _ => panic!("{response:?}"),
    }
}

/// An `EventSource` over HTTP/1.0 (the stream ends by closing, no chunked framing):
/// every event that has arrived, parsed by the WHATWG parser.
struct Source {
    client: Client,
    parser: EventStreamParser,
    raw: Vec<u8>,
    head_seen: bool,
}

impl Source {
    fn open(pair: &mut Pair, channel: &str) -> Source {
        let mut client = Client::connect(pair);
        let request = format!(
            "GET /channels/{channel} HTTP/1.0\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n"
        );
        client.send(pair, request.as_bytes());
        Source {
            client,
            parser: EventStreamParser::new(1 << 20),
            raw: Vec::new(),
            head_seen: false,
        }
    }

    fn events(&mut self, pair: &mut Pair) -> Vec<Event> {
        self.raw.extend(self.client.text(pair).into_bytes());
        if !self.head_seen {
            let Some((head, len)) = parse_response_head(&self.raw) else {
                return Vec::new();
            };
            assert_eq!(head.status, 200, "{head:?}");
            self.raw.drain(..len);
            self.head_seen = true;
        }
        let mut events = Vec::new();
        self.parser
            .push(&std::mem::take(&mut self.raw), &mut events)
            .expect("a valid event stream");
        events
    }

    /// The data of every message event that has arrived.
    fn messages(&mut self, pair: &mut Pair) -> Vec<String> {
        self.events(pair)
            .into_iter()
            .filter(|e| e.event_type() == "message")
            .map(|e| e.data().to_string())
            .collect()
    }
}

/// JSON values of every kind, written as a client might write them.
const VALUES: [&str; 9] = [
    r#"{"user":"ann","text":"hi"}"#,
    r#"[1,"two",3.5e-1,true,false,null]"#,
    "-12.5E+3",
    r#""a string, with \"quotes\" and \/ a slash""#,
    "null",
    "true",
    r#"{"a":{"b":[{"c":[[]]},{}]},"z":[]}"#,
    r#""\u00e9\u00E9\ud83e\udd80 é🦀""#,
    "{ \"spaced\" : [ 1 , 2 ] }",
];

#[test]
fn json_values_of_every_kind_reach_every_transport_byte_for_byte() {
    let mut pair = hub();
    let mut socket = Client::upgrade(&mut pair, "/channels/room");
    let mut source = Source::open(&mut pair, "room");
    source.events(&mut pair); // the first event: where it stands
    for (i, value) in VALUES.iter().enumerate() {
        let id = publish_json(&mut pair, "room", value);
        assert_eq!(id, i as u64 + 1);
        let frame = format!(r#"{{"id":{id},"data":{value}}}"#);
        let parsed = json(value.as_bytes());

        let ws = socket.frame(&mut pair);
        assert_eq!(ws.opcode, OP_TEXT);
        assert_eq!(String::from_utf8(ws.payload).unwrap(), frame, "WebSocket");

        assert_eq!(
            source.messages(&mut pair),
            std::slice::from_ref(&frame),
            "SSE"
        );

        let answer = poll_text(&mut pair, "room").unwrap();
        assert!(answer.contains(&frame), "long-poll: {answer}");
        let message = &json(answer.as_bytes())["messages"][i];
        assert_eq!(message["data"], parsed, "{value}");
    }
    // The unicode escapes are the publisher's, not the hub's: what they mean arrives.
    assert_eq!(json(VALUES[7].as_bytes()), "éé🦀 é🦀");
}

#[test]
fn a_json_payload_with_line_breaks_reaches_an_event_source_as_the_same_value() {
    let mut pair = hub();
    let mut source = Source::open(&mut pair, "lines");
    source.events(&mut pair);
    let value = "{\r\n  \"lines\": [\n    \"one\\ntwo\",\r    2\n  ]\r\n}";
    publish_json(&mut pair, "lines", value);
    let events = source.messages(&mut pair);
    assert_eq!(events.len(), 1);
    // The parser joins the data lines with `\n`: JSON whitespace, the value unchanged.
    let data = json(events[0].as_bytes());
    assert_eq!(data["data"], json(value.as_bytes()));
    assert_eq!(data["data"]["lines"][0], "one\ntwo");
    let mut socket = Client::upgrade(&mut pair, "/channels/lines?since=0");
    socket.frame(&mut pair); // {"epoch":..,"next":0}
    let replayed = String::from_utf8(socket.frame(&mut pair).payload).unwrap();
    assert_eq!(
        replayed,
        format!(r#"{{"id":1,"data":{value}}}"#),
        "WebSocket: verbatim"
    );
}

#[test]
fn a_pushwire_v1_publish_whose_data_is_not_a_string_is_a_json_payload() {
    let mut pair = hub();
    let mut socket = Client::upgrade(&mut pair, "/channels/v1");
    let mut mux = Client::connect(&mut pair);
    let offer = ["Sec-WebSocket-Protocol: pushwire.v1"];
    mux.send(&mut pair, upgrade_request("/ws", &offer).as_bytes());
    assert_eq!(mux.response(&mut pair).status, 101);
    let command = r#"{"type":"publish","channel":"v1","data":{"a": [1, "é"]}}"#;
    mux.send(&mut pair, &client_frame(true, OP_TEXT, command.as_bytes()));
    let ack = json(&mux.frame(&mut pair).payload);
    assert_eq!(ack["type"], "ack", "{ack}");
    let frame = String::from_utf8(socket.frame(&mut pair).payload).unwrap();
    assert_eq!(
        frame, r#"{"id":1,"data":{"a": [1, "é"]}}"#,
        "the value as sent"
    );
    let command = r#"{"type":"publish","channel":"v1","data":"{\"a\":1}"}"#;
    mux.send(&mut pair, &client_frame(true, OP_TEXT, command.as_bytes()));
    let frame = String::from_utf8(socket.frame(&mut pair).payload).unwrap();
    assert_eq!(
        frame, r#"{"id":2,"data":"{\"a\":1}"}"#,
        "a string stays text"
    );
}

#[test]
fn the_media_type_is_matched_without_case_and_parameters() {
    let mut pair = hub();
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/json;charset=UTF-8",
    ] {
        let response = post(&mut pair, "m", Some(content_type), b"[1]");
        assert_eq!(response.status, 201, "{content_type}");
    }
    let answer = json(poll_text(&mut pair, "m").unwrap().as_bytes());
    for message in answer["messages"].as_array().unwrap() {
        assert_eq!(message["data"], json(b"[1]"));
    }
}

#[test]
fn a_body_that_is_not_json_is_refused_with_400_and_nothing_is_published() {
    let mut pair = hub();
    let deep = |n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes();
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("a trailing comma", br#"{"a":1,}"#.to_vec()),
        ("a comment", b"[1] // one".to_vec()),
        ("a lone surrogate escape", br#"["\ud800"]"#.to_vec()),
        ("65 deep", deep(65)),
        ("an empty body", Vec::new()),
        ("two values", b"1 2".to_vec()),
        ("bytes that are not UTF-8", b"\"\xff\"".to_vec()),
        ("single quotes", b"{'a':1}".to_vec()),
    ];
    for (what, body) in &bad {
        let response = post(&mut pair, "strict", Some("application/json"), body);
        assert_eq!(response.status, 400, "{what}: {response:?}");
        let text = response.body_text();
        assert!(text.contains("not valid JSON"), "{what}: {text}");
        assert!(
            response.header("Connection").is_none(),
            "{what}: the connection stays open"
        );
        assert_eq!(
            poll_text(&mut pair, "strict"),
            None,
            "{what}: nothing published"
        );
    }
    // Where it stopped being JSON is said.
    let response = post(&mut pair, "strict", Some("application/json"), b"[1,]");
    assert!(response.body_text().contains("at byte 3"), "{response:?}");
    // 64 deep is allowed.
    let response = post(&mut pair, "strict", Some("application/json"), &deep(64));
    assert_eq!(response.status, 201);
}

#[test]
fn a_body_that_looks_like_json_sent_as_text_stays_a_string() {
    let mut pair = hub();
    let value = r#"{"user":"ann"}"#;
    for content_type in [None, Some("text/plain"), Some("application/ld+json")] {
        let response = post(&mut pair, "t", content_type, value.as_bytes());
        assert_eq!(response.status, 201, "{content_type:?}");
    }
    // Text that is not JSON at all is text, whatever it looks like.
    assert_eq!(
        post(&mut pair, "t", Some("text/plain"), b"[1,]").status,
        201
    );
    let answer = json(poll_text(&mut pair, "t").unwrap().as_bytes());
    let data: Vec<&Value> = answer["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["data"])
        .collect();
    assert_eq!(data, [value, value, value, "[1,]"]);
}

#[test]
fn max_message_counts_the_json_payloads_bytes() {
    let mut h = HubConfig::default();
    h.max_message = 20;
    let mut pair = hub_with(h);
    let fits = r#"{"n":[1, 2, 3, 456]}"#;
    assert_eq!(fits.len(), 20);
    let response = post(&mut pair, "big", Some("application/json"), fits.as_bytes());
    assert_eq!(response.status, 201, "{response:?}");
    let over = r#"{"n":[1, 2, 3, 4567]}"#;
    let response = post(&mut pair, "big", Some("application/json"), over.as_bytes());
    assert_eq!(response.status, 413, "{response:?}");
    let answer = json(poll_text(&mut pair, "big").unwrap().as_bytes());
    assert_eq!(answer["messages"].as_array().unwrap().len(), 1);
}

// ----- the application's JSON, and a durable hub -----

/// The token on which [`App`] publishes [`APP_JSON`] itself.
const PUBLISH_JSON: u64 = 1;
const APP_JSON: &str = r#"{"from":"the application","n":[1,2]}"#;

/// The hub behind a handler of the application's, opened once the pair's `Handle`
/// exists; it publishes [`APP_JSON`] when notified with [`PUBLISH_JSON`].
#[derive(Default)]
struct App(Option<HubServer>);

impl App {
    fn hub(&mut self) -> &mut HubServer {
        self.0.as_mut().expect("opened")
    }
}

impl Handler for App {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        self.hub().on_request(ctx, id, request);
    }
    fn on_wake(&mut self, ctx: &mut Context<'_>) {
        self.hub().on_wake(ctx);
    }
    fn on_notify(&mut self, ctx: &mut Context<'_>, token: u64) {
        if token == PUBLISH_JSON {
            let id = self.hub().publish_json(ctx, "app", APP_JSON);
            assert!(id.is_ok(), "{id:?}");
            let refused = self.hub().publish_json(ctx, "app", "{oops}");
            assert!(refused.is_err(), "not JSON: {refused:?}");
        } else {
            self.hub().on_notify(ctx, token);
        }
    }
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pushwire-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn app(storage: Storage) -> ServerPair<App> {
    let mut pair = ServerPair::new(config(), App::default()).expect("valid config");
    let mut h = HubConfig::default();
    h.storage = storage;
    let (hub, _report) = HubServer::open(h, pair.handle()).expect("the hub opens");
    pair.handler_mut().0 = Some(hub);
    pair
}

/// Runs the pair until `client` has a response: a durable hub's writer reports first.
fn await_response(pair: &mut ServerPair<App>, client: &mut Client) -> HttpResponse {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        pair.run();
        if let Some(response) = client.try_response(pair) {
            return response;
        }
        assert!(Instant::now() < deadline, "no answer within 5 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn notify(pair: &mut ServerPair<App>, handle: &Handle, token: u64) {
    handle.notify(token).expect("the loop takes it");
    pair.run();
}

#[test]
fn the_application_publishes_json_with_publish_json() {
    let mut pair = app(Storage::Memory);
    let handle = pair.handle();
    notify(&mut pair, &handle, PUBLISH_JSON);
    let answer = json(poll_text(&mut pair, "app").unwrap().as_bytes());
    assert_eq!(answer["messages"][0]["data"], json(APP_JSON.as_bytes()));
    assert_eq!(answer["messages"].as_array().unwrap().len(), 1, "{answer}");
}

#[test]
fn a_durable_hub_keeps_json_payloads_as_json_across_a_restart() {
    let dir = TempDir::new("json-durable");
    let storage = || Storage::Disk(LogOptions::new(&dir.0, Fsync::Always));
    let mut pair = app(storage());
    let published = [
        (
            Some("application/json"),
            "{\"user\": \"ann\",\n \"text\": \"hi\"}",
        ),
        (None, r#"{"looks":"like JSON"}"#),
        (Some("application/json"), r#""\u0041 stays escaped""#),
        (Some("application/json"), "[1, 2.5, null]"),
    ];
    for (content_type, body) in published {
        let mut client = Client::connect(&mut pair);
        client.send(&mut pair, &post_request("d", content_type, body.as_bytes()));
        let response = await_response(&mut pair, &mut client);
        assert_eq!(response.status, 201, "{response:?}");
    }
    let before = poll_text(&mut pair, "d").unwrap();
    pair.handler_mut().hub().close().expect("closes cleanly");
    drop(pair);

    let mut pair = app(storage());
    let after = poll_text(&mut pair, "d").unwrap();
    assert_eq!(after, before, "the same answer, byte for byte");
    for (id, (content_type, body)) in published.iter().enumerate() {
        let frame = match content_type {
            Some(_) => format!(r#"{{"id":{},"data":{body}}}"#, id + 1),
            None => format!(
                r#"{{"id":{},"data":{}}}"#,
                id + 1,
                serde_json::to_string(body).unwrap()
            ),
        };
        assert!(after.contains(&frame), "{frame} in {after}");
    }
}

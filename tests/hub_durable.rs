//! The hub on a durable log (`Storage::Disk`), driven in memory by a `ServerPair` while
//! the log's real writer thread writes a real directory: a publish is answered `201` only
//! once its record is written, in publish order; a hub opened again on the directory has
//! every acknowledged message, the same epochs, and continues the ids; expired channels
//! stay gone; a log that cannot be written refuses publishes with `503` and names why.
//!
//! The writer is a real thread, so these tests wait for it — each wait bounded (5 s).

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pushwire::hub::{HubConfig, HubServer, Storage};
use pushwire::message::MessagePart;
use pushwire::pair::ServerPair;
use pushwire::server::{ConnId, Context, Handler, RequestId, Upgrade};
use pushwire::storage::disk::{Fsync, LogOptions};
use pushwire::ws::connection::CloseEvent;
use pushwire::{Message, Request, SendError, UpgradeRequest};
use serde_json::Value;
use support::*;

/// The hub, once opened: a `ServerPair` is built before its handler can be given the
/// pair's `Handle`, which `HubServer::open` needs.
#[derive(Default)]
struct Late(Option<HubServer>);

impl Late {
    fn hub(&mut self) -> &mut HubServer {
        self.0.as_mut().expect("opened")
    }
}

impl Handler for Late {
    fn on_upgrade(&mut self, ctx: &mut Context<'_>, c: ConnId, r: &UpgradeRequest<'_>) -> Upgrade {
        self.hub().on_upgrade(ctx, c, r)
    }
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        self.hub().on_request(ctx, id, request);
    }
    fn on_park_timeout(&mut self, ctx: &mut Context<'_>, id: RequestId) {
        self.hub().on_park_timeout(ctx, id);
    }
    fn on_request_abandoned(&mut self, ctx: &mut Context<'_>, id: RequestId) {
        self.hub().on_request_abandoned(ctx, id);
    }
    fn on_open(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.hub().on_open(ctx, conn);
    }
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        self.hub().on_message(ctx, conn, message);
    }
    fn on_message_part(&mut self, ctx: &mut Context<'_>, conn: ConnId, part: MessagePart<'_>) {
        self.hub().on_message_part(ctx, conn, part);
    }
    fn on_close(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: &CloseEvent<'_>) {
        self.hub().on_close(ctx, conn, event);
    }
    fn on_drained(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.hub().on_drained(ctx, conn);
    }
    fn on_wake(&mut self, ctx: &mut Context<'_>) {
        self.hub().on_wake(ctx);
    }
    fn on_notify(&mut self, ctx: &mut Context<'_>, token: u64) {
        self.hub().on_notify(ctx, token);
    }
    fn on_undelivered(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        message: Message<'static>,
        error: SendError,
    ) {
        self.hub().on_undelivered(ctx, conn, message, error);
    }
}

type Pair = ServerPair<Late>;

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

fn durable(dir: &TempDir, fsync: Fsync, f: impl FnOnce(&mut HubConfig)) -> Pair {
    durable_with(dir, LogOptions::new(&dir.0, fsync), f)
}

fn durable_with(dir: &TempDir, log: LogOptions, f: impl FnOnce(&mut HubConfig)) -> Pair {
    assert_eq!(log.dir, dir.0);
    let mut h = HubConfig::default();
    h.storage = Storage::Disk(log);
    f(&mut h);
    let mut pair = ServerPair::new(config(), Late::default()).expect("valid config");
    let (hub, _report) = HubServer::open(h, pair.handle()).expect("the log opens");
    pair.handler_mut().0 = Some(hub);
    pair
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(bytes)))
}

/// Runs the pair until `client` has a response: the writer thread must report first.
fn await_response(pair: &mut Pair, client: &mut Client) -> HttpResponse {
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

fn post(pair: &mut Pair, channel: &str, data: &str) -> HttpResponse {
    let mut client = Client::connect(pair);
    let request = format!(
        "POST /channels/{channel} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{data}",
        data.len()
    );
    client.send(pair, request.as_bytes());
    await_response(pair, &mut client)
}

fn published(pair: &mut Pair, channel: &str, data: &str) -> (u64, String) {
    let response = post(pair, channel, data);
    assert_eq!(response.status, 201, "{response:?}");
    let body = json(&response.body);
    (
        body["id"].as_u64().unwrap(),
        body["epoch"].as_str().unwrap().to_string(),
    )
}

fn messages(pair: &mut Pair, channel: &str) -> Vec<(u64, String)> {
    let mut client = Client::connect(pair);
    let response = client.get(
        pair,
        &format!("/channels/{channel}?since=0&limit=1000&timeout=0"),
    );
    if response.status == 204 {
        return Vec::new();
    }
    let body = json(&response.body);
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_u64().unwrap(),
                m["data"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn acknowledged_messages_survive_a_restart_with_their_ids_and_epoch() {
    for fsync in [Fsync::Always, Fsync::Batch, Fsync::Never] {
        let dir = TempDir::new("durable-restart");
        let mut pair = durable(&dir, fsync, |_| {});
        let mut epoch = String::new();
        for i in 1..=20 {
            let (id, e) = published(&mut pair, "room", &format!("m{i}"));
            assert_eq!(id, i);
            epoch = e;
        }
        published(&mut pair, "other", "x");
        pair.handler_mut().hub().close().expect("closes cleanly");
        drop(pair);

        let mut pair = durable(&dir, fsync, |_| {});
        let got = messages(&mut pair, "room");
        let expected: Vec<(u64, String)> = (1..=20).map(|i| (i, format!("m{i}"))).collect();
        assert_eq!(got, expected, "{fsync:?}");
        let (id, e) = published(&mut pair, "room", "after");
        assert_eq!(
            (id, e),
            (21, epoch.clone()),
            "{fsync:?}: ids and epoch continue"
        );
        // A reader resuming with its old cursor is not reset.
        let mut client = Client::connect(&mut pair);
        let body = json(
            &client
                .get(
                    &mut pair,
                    &format!("/channels/room?since=20&epoch={epoch}&timeout=0"),
                )
                .body,
        );
        assert!(body.get("reset").is_none(), "{body}");
        assert_eq!(body["messages"][0]["data"], "after");
        assert_eq!(messages(&mut pair, "other").len(), 1);
    }
}

#[test]
fn a_publish_over_websocket_is_delivered_once_stored() {
    let dir = TempDir::new("durable-ws");
    let mut pair = durable(&dir, Fsync::Always, |_| {});
    let ws = pair.ws_connect("/channels/live").expect("subscribed");
    pair.ws_events(ws); // the first frame
    pair.ws_send(ws, &Message::text("over a socket"));
    let deadline = Instant::now() + Duration::from_secs(5);
    let frame = loop {
        pair.run();
        let events = pair.ws_events(ws);
        if let Some(event) = events.into_iter().next() {
            break event;
        }
        assert!(Instant::now() < deadline, "not delivered");
        std::thread::sleep(Duration::from_millis(1));
    };
    let pushwire::pair::OwnedEvent::Message(Message::Text(text)) = frame else {
        panic!("{frame:?}");
    };
    assert_eq!(json(text.as_bytes())["data"], "over a socket");
    pair.handler_mut().hub().close().unwrap();
    drop(pair);
    let mut pair = durable(&dir, Fsync::Always, |_| {});
    assert_eq!(
        messages(&mut pair, "live"),
        [(1, "over a socket".to_string())]
    );
}

#[test]
fn an_expired_channel_stays_gone_after_a_restart() {
    let dir = TempDir::new("durable-ttl");
    let ttl = |h: &mut HubConfig| h.channel_ttl = Duration::from_secs(60);
    let mut pair = durable(&dir, Fsync::Always, ttl);
    published(&mut pair, "brief", "x");
    published(&mut pair, "kept", "y");
    pair.advance(Duration::from_secs(30));
    published(&mut pair, "kept", "z");
    pair.advance(Duration::from_secs(31));
    assert!(pair.handler_mut().hub().hub().get("brief").is_none());
    pair.handler_mut().hub().close().unwrap();
    drop(pair);
    let mut pair = durable(&dir, Fsync::Always, ttl);
    assert!(
        messages(&mut pair, "brief").is_empty(),
        "its tombstone was logged"
    );
    assert_eq!(messages(&mut pair, "kept").len(), 2);
}

#[test]
fn the_log_is_checkpointed_and_stays_within_twice_what_is_retained() {
    let dir = TempDir::new("durable-checkpoint");
    let mut log = LogOptions::new(&dir.0, Fsync::Batch);
    log.segment_bytes = 64 << 10;
    let small = |h: &mut HubConfig| {
        h.history = 4;
        h.max_message = 4096;
        h.history_bytes = 64 << 10;
    };
    let mut pair = durable_with(&dir, log.clone(), small);
    for i in 0..300 {
        // 1.2 MB through a 4-message history
        published(&mut pair, "churn", &format!("{i:04}{}", "c".repeat(4000)));
    }
    let retained = pair.handler_mut().hub().hub().retained_bytes() as u64;
    pair.handler_mut().hub().close().unwrap();
    drop(pair);
    let log_bytes: u64 = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_str().unwrap().ends_with(".log"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    // Checkpoints keep it within twice the retained bytes plus two segments (and the one
    // being written past that bound when it was last checked).
    let bound = 2 * retained + 3 * (64 << 10);
    assert!(
        log_bytes <= bound,
        "{log_bytes} bytes of log for {retained} retained"
    );
    let mut pair = durable_with(&dir, log, small);
    let got = messages(&mut pair, "churn");
    let ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        [297, 298, 299, 300],
        "the retained history survives every checkpoint"
    );
    assert!(got[3].1.starts_with("0299"));
}

#[test]
fn a_log_that_cannot_be_opened_is_an_error_that_says_why() {
    let dir = TempDir::new("durable-locked");
    let _held = durable(&dir, Fsync::Always, |_| {});
    let mut h = HubConfig::default();
    h.storage = Storage::Disk(LogOptions::new(&dir.0, Fsync::Always));
    let pair = ServerPair::new(config(), Late::default()).unwrap();
    let error = HubServer::open(h, pair.handle()).expect_err("locked");
    assert!(
        error.to_string().contains("in use by another process"),
        "{error}"
    );
}

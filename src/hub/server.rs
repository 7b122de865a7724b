//! [`HubServer`]: the hub on the event loop — the program behind `pushwire serve`.
//!
//! It routes requests to the sans-IO [`Hub`] and carries out what the hub answers: the
//! publisher's `201`, the parked long-polls completed by a publish (one shared body), and
//! one text frame per WebSocket subscriber. It is an ordinary [`Handler`], so it can be
//! embedded as it is, or read as an example of the long-poll primitive
//! ([`Context::park`]).
//!
//! | route | answer |
//! |---|---|
//! | `POST /channels/{name}` | publish the body; `201` `{"id":N,"epoch":"E"}` |
//! | `GET /channels/{name}?since=N&epoch=E&limit=K&timeout=S` | `200` batch, or parked until a publish, or `204` after `S` s |
//! | `HEAD /channels/{name}?...` | the `GET`'s status and headers at once, never parked |
//! | `GET /channels/{name}?since=N&epoch=E` + WebSocket upgrade | subscribe: `{"epoch":"E","next":C}` (when `since` or `epoch` is given), the replay, then one frame per message |
//! | `GET /ws` + WebSocket upgrade offering `pushwire.v1` | many channels on one socket, by command ([`mux`]): `subscribe`, `unsubscribe`, `publish` (answered by `ack`) |
//! | `GET /events?channel=a&since=N&epoch=E&channel=b` | Server-Sent Events of several channels, each event naming its channel |
//! | `GET /poll?channel=a&since=N&epoch=E&channel=b&timeout=S` | one long-poll on several channels: `{"channels":[...]}` as soon as any has news, or after `S` s with every channel's cursor |
//! | `GET /healthz` | `200` `ok`; with the Redis engine, `503` while Redis is not connected |
//! | `GET /metrics` | the server's and the hub's counters in the Prometheus text format ([`super::metrics`]) |
//! | `GET /` | the demo chat page |
//! | `GET /pushwire.js` | the browser client ([`CLIENT_SCRIPT`]) |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::access::{self, AccessRequest, Authorizer, Denied, Right};
use super::engine::{Engine, LOG_TOKEN, OpenReport, Origin, Outcome, REDIS_TOKEN};
use super::event_streams::Keepalive;
use super::metrics::{self, DeliveryStats};
use super::query::{ChannelCursor, MultiParams};
use super::{
    Cursor, Data, Fanout, Hub, HubConfig, HubError, PollOutcome, PollParams, Prepared, Replay,
    channel_name, mux, sse,
};
use crate::error::SendError;
use crate::http::{Body, Request, RequestHead, Response, StatusCode};
use crate::log::Level;
use crate::message::Message;
use crate::server::Handle;
use crate::server::{ConnId, Context, DisconnectReason, Handler, RequestId, Upgrade};
use crate::storage::disk::StorageError;
use crate::ws::close::CloseCode;
use crate::ws::connection::CloseEvent;
use crate::ws::handshake::UpgradeRequest;

mod followers;
mod mirrored;
mod multi_poll;
mod multiplexed;

use followers::{Follower, Multiplexed, Rendered, write_named_event};
use mirrored::{Admission, Deferred};
use multi_poll::Parked;

/// The WebSocket subprotocol of a channel subscription (`Sec-WebSocket-Protocol:
/// pushwire`), selected when the client offers it: JSON text frames as the module docs
/// describe. Offering it is optional for clients that offer no subprotocol at all.
pub const SUBPROTOCOL: &str = "pushwire";

/// Where a WebSocket speaking [`mux::SUBPROTOCOL`] (`pushwire.v1`) connects.
pub const MULTIPLEXED_PATH: &str = "/ws";

/// The demo page: HTML, CSS and JavaScript in one file, embedded in the binary.
pub const DEMO_PAGE: &str = include_str!("demo.html");

/// `pushwire.js`, the browser client (WebSocket, falling back to Server-Sent Events and
/// then to long-polling; one cursor per channel across them all), served as it is written:
/// no build step, so what a page runs is what the repository holds.
pub const CLIENT_SCRIPT: &str = include_str!("pushwire.js");

/// The hub as a [`Handler`].
#[derive(Debug)]
pub struct HubServer {
    hub: Hub<RequestId, ConnId>,
    /// Where published messages wait before they are shown (see [`engine`](super::engine)).
    engine: Engine,
    /// The channels of every parked long-poll (to unpark it at its timeout or when its
    /// client leaves, and to answer a poll of several channels whole).
    polls: HashMap<RequestId, Parked>,
    /// Every connection that follows channels — WebSocket or Server-Sent Events, one
    /// channel or several — and how (to render its deliveries, and to let go of its
    /// channels when it ends).
    followers: HashMap<ConnId, Follower>,
    /// Accepted upgrades waiting for `on_open`.
    opening: HashMap<ConnId, Opening>,
    /// The `ref` of every `pushwire.v1` publish not yet committed, echoed in its `ack`
    /// (kept here so that a publish's [`Origin`] stays a small copyable value).
    references: HashMap<u64, mux::Ref<'static>>,
    /// The key of the next entry of `references`.
    next_reference: u64,
    /// Who may publish and subscribe; `None`: everyone ([`access`](super::access)).
    authorizer: Option<Box<dyn Authorizer>>,
    /// `","`, shared by every poll answer sent as pieces.
    comma: Arc<[u8]>,
    /// Messages delivered and publishes refused, for `/metrics`.
    delivery: DeliveryStats,
    /// When the Server-Sent Events streams get their keepalive comment.
    keepalive: Keepalive,
    /// With the Redis engine: the readers waiting for a channel's mirror to load, by
    /// channel ([`mirrored`]).
    waiting: HashMap<String, Vec<Deferred>>,
}

impl HubServer {
    /// An in-memory hub with the given settings (see [`HubConfig::validate`]).
    ///
    /// # Panics
    /// If `config.storage` is not [`Storage::Memory`](super::Storage::Memory): a durable
    /// log is opened with [`HubServer::open`].
    pub fn new(config: HubConfig) -> Self {
        assert!(
            config.storage == super::Storage::Memory,
            "HubServer::new keeps its streams in memory; open a log with HubServer::open"
        );
        Self::with_engine(Hub::new(&config), Engine::Memory)
    }

    /// A hub with the given settings and storage: for [`Storage::Disk`](super::Storage),
    /// the log is recovered (its channels, ids and epochs continue) and its writer thread
    /// started, which wakes the loop through `handle` (the server's
    /// [`Server::handle`](crate::Server::handle)). Reads the disk: call it before the
    /// loop runs. Returns what recovery found, for the operator.
    pub fn open(
        config: HubConfig,
        handle: Handle,
    ) -> Result<(Self, Option<OpenReport>), StorageError> {
        let mut hub = Hub::new(&config);
        let (engine, report) = Engine::open(&config, &mut hub, handle)?;
        Ok((Self::with_engine(hub, engine), report))
    }

    fn with_engine(hub: Hub<RequestId, ConnId>, engine: Engine) -> Self {
        HubServer {
            hub,
            engine,
            polls: HashMap::new(),
            followers: HashMap::new(),
            opening: HashMap::new(),
            references: HashMap::new(),
            next_reference: 0,
            authorizer: None,
            comma: Arc::from(&b","[..]),
            delivery: DeliveryStats::default(),
            keepalive: Keepalive::default(),
            waiting: HashMap::new(),
        }
    }

    /// Asks `authorizer` before every publish and subscription (see
    /// [`access`]); e.g. a [`TokenAuthorizer`](super::access::TokenAuthorizer).
    pub fn with_authorizer(mut self, authorizer: impl Authorizer + 'static) -> Self {
        self.authorizer = Some(Box::new(authorizer));
        self
    }

    /// May this request (or upgrade) use `channel` for `right`? Always, without an
    /// authorizer.
    fn authorize(
        &self,
        ctx: &Context<'_>,
        head: &RequestHead<'_>,
        upgrade: Option<&UpgradeRequest<'_>>,
        channel: &str,
        right: Right,
    ) -> Result<(), Denied> {
        if self.authorizer.is_none() {
            return Ok(());
        }
        let token = access::bearer_token(head, upgrade)?;
        self.authorize_token(ctx, token.as_deref(), Some(head), channel, right)
    }

    /// May a client holding `token` (and sending `head`, if there is one) use `channel`
    /// for `right`? Always, without an authorizer.
    fn authorize_token(
        &self,
        ctx: &Context<'_>,
        token: Option<&str>,
        head: Option<&RequestHead<'_>>,
        channel: &str,
        right: Right,
    ) -> Result<(), Denied> {
        let Some(authorizer) = &self.authorizer else {
            return Ok(());
        };
        authorizer.authorize(&AccessRequest {
            channel,
            right,
            token,
            head,
            now: ctx.wall_time(),
        })
    }

    /// Writes and syncs every message handed to the log and marks it closed cleanly (a
    /// no-op in memory). Dropping the server does the same; call this to see an error.
    pub fn close(&mut self) -> Result<(), StorageError> {
        self.engine.close()
    }

    /// The hub's state (channels, histories, waiters).
    pub fn hub(&self) -> &Hub<RequestId, ConnId> {
        &self.hub
    }

    /// Messages delivered and publishes refused so far.
    pub fn delivery_stats(&self) -> DeliveryStats {
        self.delivery
    }

    /// What `GET /metrics` answers now: every counter of the server and the hub, in the
    /// Prometheus text format.
    pub fn metrics(&self, ctx: &Context<'_>) -> String {
        let snapshot = metrics::Snapshot {
            server: ctx.stats(),
            connections: ctx.connection_counts(),
            compression: ctx.compression_stats(),
            hub: self.hub.stats(),
            delivery: self.delivery,
            channels: self.hub.channel_count(),
            retained_bytes: self.hub.retained_bytes(),
            redis: match &self.engine {
                Engine::Redis(redis) => Some((redis.stats(), redis.is_connected())),
                _ => None,
            },
        };
        let mut out = String::with_capacity(4096);
        metrics::render(&snapshot, &mut out);
        out
    }

    fn config(&self) -> &HubConfig {
        self.hub.config()
    }

    /// Publishes `text` on `channel` and delivers it to everyone waiting there — at once
    /// in memory, once stored with a durable log. Returns the id the message has (or
    /// will have, once stored), or why the hub refused it. With the Redis engine the id
    /// is Redis's to give, later: this returns 0 once the publish is on its way, and the
    /// message is delivered, here and on every node, when Redis has stored it. Call it from any callback (e.g.
    /// [`Handler::on_notify`] when your program produces messages itself).
    pub fn publish(
        &mut self,
        ctx: &mut Context<'_>,
        channel: &str,
        text: &str,
    ) -> Result<u64, HubError> {
        self.submit(ctx, channel, Data::Text(text.to_string()), Origin::Local)
    }

    /// Publishes the JSON text `json` on `channel` as a JSON payload: delivered as its
    /// value (`"data":{...}`), not as a string. As [`HubServer::publish`], and refused
    /// with [`HubError::NotJson`] unless `json` is one JSON text (see [`Data::json`]).
    pub fn publish_json(
        &mut self,
        ctx: &mut Context<'_>,
        channel: &str,
        json: &str,
    ) -> Result<u64, HubError> {
        let data = Data::json(json.to_string())?;
        self.submit(ctx, channel, data, Origin::Local)
    }

    /// A publish from anyone: prepared, handed to the engine, and committed now or when
    /// the engine has stored it.
    fn submit(
        &mut self,
        ctx: &mut Context<'_>,
        channel: &str,
        data: Data,
        origin: Origin,
    ) -> Result<u64, HubError> {
        if let Engine::Redis(redis) = &mut self.engine {
            // Redis gives the id (its script), and the message is delivered when it comes
            // back over pub/sub: nothing is prepared here.
            if data.len() > self.hub.config().max_message {
                self.delivery.refused += 1;
                return Err(HubError::MessageTooLarge);
            }
            return match redis.publish(ctx, channel, data, origin) {
                Ok(()) => {
                    self.arm_wake(ctx); // the reply's deadline
                    Ok(0)
                }
                Err(e) => {
                    self.delivery.refused += 1;
                    Err(e)
                }
            };
        }
        let prepared = self
            .hub
            .prepare(channel, &data, ctx.now())
            .inspect_err(|_| {
                self.delivery.refused += 1;
            })?;
        let id = prepared.id;
        match self.engine.submit(channel, prepared, data, origin) {
            Ok(Some(prepared)) => self.committed(ctx, channel, prepared, origin),
            Ok(None) => {}
            Err(prepared) => {
                self.hub.abort(channel, prepared);
                self.delivery.refused += 1;
                return Err(HubError::StorageFailed);
            }
        }
        Ok(id)
    }

    /// Shows a stored message: the publisher's `201`, then every waiter's delivery.
    fn committed(
        &mut self,
        ctx: &mut Context<'_>,
        channel: &str,
        prepared: Prepared,
        origin: Origin,
    ) {
        let fanout = self.hub.commit(channel, prepared, ctx.now());
        self.answer_published(ctx, origin, channel, fanout.id, fanout.epoch);
        self.deliver(ctx, channel, &fanout);
        self.arm_wake(ctx);
    }

    /// Tells a publisher its message is kept, as message `id` of stream `epoch`.
    fn answer_published(
        &mut self,
        ctx: &mut Context<'_>,
        origin: Origin,
        channel: &str,
        id: u64,
        epoch: super::Epoch,
    ) {
        match origin {
            Origin::Http(request) => {
                let body = Body::from(super::json::published(id, epoch));
                let _ = ctx.respond(request, json_response(StatusCode::CREATED, body));
            }
            Origin::Command(conn, reference) => {
                let reference = self.take_reference(reference);
                let ack = mux::ack(reference.as_ref(), channel, id, epoch);
                self.answer(ctx, conn, ack);
            }
            Origin::WebSocket(_) | Origin::Local => {}
        }
    }

    /// Tells a publisher its message was not kept, and why. (Counting the refusal is the
    /// caller's: [`HubServer::submit`] counts what it refuses at once.)
    pub(super) fn refuse_published(
        &mut self,
        ctx: &mut Context<'_>,
        origin: Origin,
        channel: &str,
        e: HubError,
    ) {
        match origin {
            Origin::Http(request) => respond_hub_error(ctx, request, e),
            Origin::WebSocket(conn) => {
                let _ = ctx.close(conn, e.close_code(), &e.to_string());
            }
            Origin::Command(conn, reference) => {
                let reference = self.take_reference(reference);
                let frame = mux::error(
                    reference.as_ref(),
                    Some(channel),
                    e.status(),
                    &e.to_string(),
                );
                self.answer(ctx, conn, frame);
            }
            Origin::Local => {}
        }
    }

    /// The log's writer reported: commit what it stored, in order; refuse what it could
    /// not store; checkpoint if the log has grown.
    fn on_log_progress(&mut self, ctx: &mut Context<'_>) {
        let (outcomes, failed) = self.engine.take_outcomes();
        if let Some(why) = failed {
            let line =
                format!("pushwire hub: the message log failed, publishes are refused: {why}");
            ctx.config().log.write(Level::Warn, &line);
        }
        for outcome in outcomes {
            match outcome {
                Outcome::Stored(w) => self.committed(ctx, &w.name, w.prepared, w.origin),
                Outcome::Failed(w) => {
                    self.hub.abort(&w.name, w.prepared);
                    self.delivery.refused += 1;
                    self.refuse_published(ctx, w.origin, &w.name, HubError::StorageFailed);
                }
            }
        }
        self.engine.maybe_checkpoint(&self.hub);
    }

    fn deliver(&mut self, ctx: &mut Context<'_>, channel: &str, fanout: &Fanout<RequestId>) {
        self.answer_polls(ctx, fanout);
        let subscribers: Vec<ConnId> = self.hub.subscribers(channel).copied().collect();
        // The message in each shape its followers need, each made once (see `Rendered`).
        let mut rendered = Rendered::new(channel, fanout.epoch, fanout.id, &fanout.frame);
        for conn in subscribers {
            let Some(follower) = self.followers.get(&conn) else {
                continue;
            };
            let sent = if follower.holds_back() {
                Err(SendError::Full)
            } else {
                rendered.send(ctx, conn, follower)
            };
            match sent {
                Ok(()) if follower.stream().is_some() => self.delivery.sse += 1,
                Ok(()) => self.delivery.websocket += 1,
                Err(SendError::Full) => {
                    // Backpressure: stop sending to it, remember what it has; `on_drained`
                    // resumes it from there (or reports `missed` if history moved on).
                    self.hub.pause(channel, &conn, fanout.id - 1);
                }
                Err(_) => self.let_go(ctx, conn),
            }
        }
    }

    /// Sends a replay (the `{"missed":K}` notice, then retained messages) to a follower
    /// of `channel`, in its shape, pausing it again if its buffer fills.
    fn send_replay(&mut self, ctx: &mut Context<'_>, conn: ConnId, channel: &str, replay: Replay) {
        let Some(follower) = self.followers.get(&conn) else {
            return;
        };
        let Some(epoch) = self.hub.get(channel).map(|c| c.epoch()) else {
            return;
        };
        // What the follower had before this replay: where it resumes if it must wait.
        let had = replay.first_id - replay.missed - 1;
        if follower.holds_back() {
            self.hub.pause(channel, &conn, had);
            return;
        }
        let mut sent = Ok(());
        if replay.missed > 0 {
            sent = follower
                .send_missed(ctx, conn, channel, replay.missed)
                .map_err(|e| (e, had));
        }
        if sent.is_ok() {
            for (i, frame) in replay.frames.iter().enumerate() {
                let id = replay.first_id + i as u64;
                if let Err(e) = follower.send_retained(ctx, conn, channel, epoch, id, frame) {
                    sent = Err((e, id - 1));
                    break;
                }
            }
        }
        let delivered = replay.frames.len() as u64;
        match sent {
            Ok(()) if follower.stream().is_some() => self.delivery.sse += delivered,
            Ok(()) => self.delivery.websocket += delivered,
            Err((SendError::Full, had)) => {
                self.hub.pause(channel, &conn, had);
            }
            Err(_) => self.let_go(ctx, conn),
        }
    }

    /// Subscribes the WebSocket follower `conn` of `/channels/{name}`: where it stands
    /// first (when it named a cursor), then the replay. Nothing if it is gone (closed
    /// while its subscription waited for the channel's mirror).
    pub(super) fn subscribe_socket(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        name: &str,
        cursor: Cursor,
    ) {
        if !matches!(self.followers.get(&conn), Some(Follower::Socket { .. })) {
            return;
        }
        let subscription = match self.hub.subscribe(name, conn, cursor, ctx.now()) {
            Ok(subscription) => subscription,
            Err(e) => {
                self.followers.remove(&conn);
                let _ = ctx.close(conn, e.close_code(), &e.to_string());
                return;
            }
        };
        // A subscriber that names a cursor (`since`, `epoch`) is told where it stands
        // first; one that asks only for what comes next gets just that, as it always did.
        if cursor.since.is_some() || cursor.epoch.is_some() {
            let _ = ctx.send(conn, &Message::text(subscription.first_frame()));
        }
        self.send_replay(ctx, conn, name, subscription.replay);
    }

    /// Forgets a follower whose connection cannot be written to any more: it leaves every
    /// channel it followed. (Its connection's end, reported later, then finds nothing.)
    fn let_go(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        let Some(follower) = self.followers.remove(&conn) else {
            return;
        };
        for channel in follower.channels() {
            self.hub.unsubscribe(channel, &conn, ctx.now());
        }
        if follower.stream().is_some() {
            self.keepalive.close();
        }
        self.arm_wake(ctx);
    }

    /// The head of every Server-Sent Events answer.
    fn event_stream_head() -> Response {
        Response::new(StatusCode::OK)
            .header("Content-Type", "text/event-stream")
            .header("Cache-Control", "no-store")
            // nginx buffers proxied answers unless told not to; an event must not wait.
            .header("X-Accel-Buffering", "no")
    }

    /// Answers `GET /channels/{name}` with `Accept: text/event-stream`: subscribes the
    /// connection and streams the channel as Server-Sent Events (WHATWG HTML §9.2): the
    /// `retry:` field, a first event that says where the reader stands (`subscribed`, or
    /// `reset` when its cursor was from another stream), the replay, then one event per
    /// message. Every message event's `id:` is `E:N`, so a browser that reconnects sends
    /// it back as `Last-Event-ID` and resumes exactly where it was.
    fn open_event_stream(
        &mut self,
        ctx: &mut Context<'_>,
        id: RequestId,
        name: String,
        request: &Request,
        params: &PollParams,
    ) {
        // WHATWG HTML §9.2.4: a reconnecting browser names the last event it got. Ours
        // are `E:N`; anything else (another server's, or none) starts afresh.
        let resumed = request
            .header_str("last-event-id")
            .and_then(sse::EventId::parse);
        let cursor = match resumed {
            Some(at) => Cursor {
                since: Some(at.id),
                epoch: Some(at.epoch),
            },
            None => params.cursor(),
        };
        let conn = id.conn();
        if self.hub.get(&name).is_none() && self.hub.channel_count() >= self.config().max_channels {
            return respond_hub_error(ctx, id, HubError::TooManyChannels);
        }
        if request.method() == "HEAD" {
            // The head a GET would get (RFC 9110 §9.3.2), and no stream.
            let _ = ctx.start_stream(id, &Self::event_stream_head());
            return;
        }
        let subscription = match self.hub.subscribe(&name, conn, cursor, ctx.now()) {
            Ok(subscription) => subscription,
            Err(e) => return respond_hub_error(ctx, id, e),
        };
        if ctx.start_stream(id, &Self::event_stream_head()).is_err() {
            self.hub.unsubscribe(&name, &conn, ctx.now());
            return;
        }
        let mut first = Vec::with_capacity(96);
        sse::write_retry(&mut first, self.config().sse_retry.as_millis() as u64);
        let kind = if subscription.reset {
            "reset"
        } else {
            "subscribed"
        };
        let at = sse::EventId::new(subscription.epoch, subscription.next).text();
        write_named_event(
            &mut first,
            kind,
            Some(at.as_str()),
            &subscription.first_frame(),
        );
        let _ = ctx.stream(id, &first);
        self.keepalive.open(ctx.now(), self.config().sse_heartbeat);
        let follower = Follower::Stream {
            channel: name.as_str().into(),
            request: id,
        };
        self.followers.insert(conn, follower);
        self.send_replay(ctx, conn, &name, subscription.replay);
        self.arm_wake(ctx);
    }

    /// Answers `GET /events?channel=a&since=N&epoch=E&channel=b…`: Server-Sent Events of
    /// several channels on one stream (one connection, however many rooms a page shows).
    /// The stream is that of one channel, except that every event's data is a
    /// `pushwire.v1` frame naming its channel (`subscribed`, `message`, `missed`) and no
    /// event has an `id:`: one `Last-Event-ID` could not hold every channel's cursor, so
    /// the client keeps them and reconnects with them in the query.
    fn open_multi_stream(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        let Some(params) = self.multi_channel_request(ctx, id, &request) else {
            return;
        };
        let names = params.channels.iter().map(|g| g.name.as_str());
        match self.admit(ctx, names) {
            Admission::Go => {}
            Admission::Wait(on) => return self.defer(on, Deferred::Request(id, request)),
            Admission::Refuse(e) => return respond_hub_error(ctx, id, e),
        }
        if request.method() == "HEAD" {
            let _ = ctx.start_stream(id, &Self::event_stream_head());
            return;
        }
        let conn = id.conn();
        let mut subscriptions = Vec::with_capacity(params.channels.len());
        for group in &params.channels {
            match self
                .hub
                .subscribe(&group.name, conn, group.cursor, ctx.now())
            {
                Ok(subscription) => subscriptions.push(subscription),
                Err(e) => {
                    // All or none: let go of the channels taken so far.
                    for done in &params.channels[..subscriptions.len()] {
                        self.hub.unsubscribe(&done.name, &conn, ctx.now());
                    }
                    return respond_hub_error(ctx, id, e);
                }
            }
        }
        let channels: Box<[Box<str>]> = params
            .channels
            .into_iter()
            .map(|g| g.name.into_boxed_str())
            .collect();
        if ctx.start_stream(id, &Self::event_stream_head()).is_err() {
            for name in &channels {
                self.hub.unsubscribe(name, &conn, ctx.now());
            }
            return;
        }
        let mut first = Vec::with_capacity(32 + 96 * channels.len());
        sse::write_retry(&mut first, self.config().sse_retry.as_millis() as u64);
        for (name, subscription) in channels.iter().zip(&subscriptions) {
            let frame = mux::subscribed(
                name,
                subscription.epoch,
                subscription.next,
                subscription.reset,
            );
            first.extend_from_slice(&sse::data_event(&frame));
        }
        let _ = ctx.stream(id, &first);
        self.keepalive.open(ctx.now(), self.config().sse_heartbeat);
        let follower = Follower::MultiStream {
            channels: channels.clone(),
            request: id,
        };
        self.followers.insert(conn, follower);
        for (name, subscription) in channels.iter().zip(subscriptions) {
            self.send_replay(ctx, conn, name, subscription.replay);
        }
        self.arm_wake(ctx);
    }

    /// The query of `/events` or `/poll`, if it is valid and the request may subscribe to
    /// every channel it names; otherwise the request is answered (`400`, `429`, `401`,
    /// `403`) and `None` returned.
    fn multi_channel_request(
        &self,
        ctx: &mut Context<'_>,
        id: RequestId,
        request: &Request,
    ) -> Option<MultiParams> {
        let config = self.config();
        let params = match MultiParams::parse(
            request.query(),
            config.default_poll_timeout,
            config.max_poll_timeout,
            config.max_subscriptions,
        ) {
            Ok(params) => params,
            Err(e) => {
                respond_hub_error(ctx, id, e);
                return None;
            }
        };
        match self.authorize_all(ctx, &request.head(), &params.channels) {
            Ok(()) => Some(params),
            Err(denied) => {
                let _ = ctx.respond(id, denied.response());
                None
            }
        }
    }

    /// May this request subscribe to every one of `channels`? The first refusal answers.
    fn authorize_all(
        &self,
        ctx: &Context<'_>,
        head: &RequestHead<'_>,
        channels: &[ChannelCursor],
    ) -> Result<(), Denied> {
        if self.authorizer.is_none() {
            return Ok(());
        }
        let token = access::bearer_token(head, None)?;
        channels.iter().try_for_each(|group| {
            self.authorize_token(
                ctx,
                token.as_deref(),
                Some(head),
                &group.name,
                Right::Subscribe,
            )
        })
    }

    /// The keepalive comment for every Server-Sent Events stream, when its tick is due
    /// (see [`Keepalive`]).
    fn keep_streams_alive(&mut self, ctx: &mut Context<'_>) {
        let heartbeat = self.config().sse_heartbeat;
        if !self.keepalive.due(ctx.now(), heartbeat) {
            return;
        }
        let mut comment = Vec::with_capacity(16);
        sse::write_comment(&mut comment, "keepalive");
        for request in self.followers.values().filter_map(Follower::stream) {
            // A full buffer has bytes on their way already: the stream is not idle.
            let _ = ctx.stream(request, &comment);
        }
    }

    /// Makes sure the loop wakes us when the next idle channel is due to expire, or the
    /// Server-Sent Events keepalive is due, whichever comes first.
    fn arm_wake(&self, ctx: &mut Context<'_>) {
        let engine = match &self.engine {
            Engine::Redis(redis) => redis.next_wake(),
            _ => None,
        };
        let due = [self.hub.next_expiry(), self.keepalive.next_tick(), engine];
        if let Some(at) = due.into_iter().flatten().min() {
            ctx.wake_at(at);
        }
    }

    fn on_channel_request(&mut self, ctx: &mut Context<'_>, id: RequestId, mut request: Request) {
        let name = match channel_name(request.path()) {
            Ok(name) => name.to_string(),
            Err(e) => return respond_hub_error(ctx, id, e),
        };
        let right = match request.method() {
            "POST" => Some(Right::Publish),
            "GET" | "HEAD" => Some(Right::Subscribe),
            _ => None,
        };
        if let Some(right) = right
            && let Err(denied) = self.authorize(ctx, &request.head(), None, &name, right)
        {
            let _ = ctx.respond(id, denied.response());
            return;
        }
        if matches!(request.method(), "GET" | "HEAD") {
            // With the Redis engine, a channel is read from its mirror, loaded first.
            match self.admit(ctx, [name.as_str()]) {
                Admission::Go => {}
                Admission::Wait(on) => return self.defer(on, Deferred::Request(id, request)),
                Admission::Refuse(e) => return respond_hub_error(ctx, id, e),
            }
        }
        match request.method() {
            "POST" => {
                // Text, or a JSON payload with `Content-Type: application/json`.
                let body = request.take_body();
                let data = match Data::from_body(body, request.header_str("content-type")) {
                    Ok(data) => data,
                    Err(e) => return respond_hub_error(ctx, id, e),
                };
                // Answered `201` when committed: now in memory, once stored with a log.
                if let Err(e) = self.submit(ctx, &name, data, Origin::Http(id)) {
                    respond_hub_error(ctx, id, e);
                }
            }
            method @ ("GET" | "HEAD") => {
                let config = self.config();
                let params = match PollParams::parse(
                    request.query(),
                    config.default_poll_timeout,
                    config.max_poll_timeout,
                ) {
                    Ok(p) => p,
                    Err(e) => return respond_hub_error(ctx, id, e),
                };
                if wants_event_stream(&request) {
                    return self.open_event_stream(ctx, id, name, &request, &params);
                }
                let limit = params
                    .limit
                    .unwrap_or(config.poll_limit)
                    .min(config.max_poll_limit);
                // HEAD asks what a GET would answer now: it is never held (RFC 9110 §9.3.2:
                // the same header fields as GET, without the content).
                let wait = method == "GET" && params.timeout > Duration::ZERO;
                let park_as = wait.then_some(id);
                let outcome = self
                    .hub
                    .poll(&name, params.cursor(), limit, park_as, ctx.now());
                match outcome {
                    Ok(PollOutcome::Ready(answer)) => {
                        // Sent from the history's own frames: never built whole.
                        let body = Body::Pieces(answer.pieces(&self.comma));
                        let sent = ctx.respond(id, json_response(StatusCode::OK, body));
                        if sent.is_ok() && method == "GET" {
                            self.delivery.longpoll += answer.frames.len() as u64;
                        }
                    }
                    Ok(PollOutcome::Empty) => {
                        let _ = ctx.respond(id, no_content());
                    }
                    Ok(PollOutcome::Parked) => {
                        let until = ctx.now() + params.timeout;
                        if ctx.park(id, until).is_ok() {
                            self.polls.insert(id, Parked::One(name));
                        } else {
                            self.hub.unpark(&name, &id, ctx.now());
                        }
                    }
                    Err(e) => respond_hub_error(ctx, id, e),
                }
            }
            _ => {
                let response = error_page(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "use GET to read, POST to publish",
                )
                .header("Allow", "GET, HEAD, POST");
                let _ = ctx.respond(id, response);
            }
        }
    }
}

/// An accepted upgrade, until its `on_open`.
#[derive(Debug)]
enum Opening {
    /// On `/channels/{name}`: the channel, the cursor, and whether the subscriber may
    /// publish over its socket.
    Channel(String, Cursor, bool),
    /// On `/ws` (`pushwire.v1`), with the bearer token the upgrade carried.
    Multiplexed(Option<String>),
}

impl Handler for HubServer {
    fn on_upgrade(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        let head = request.head();
        let refuse = |e: HubError| Upgrade::Reject(Response::error(e.status(), &e.to_string()));
        if head.path() == MULTIPLEXED_PATH {
            return self.accept_multiplexed(conn, request);
        }
        let name = match channel_name(head.path()) {
            Ok(name) => name.to_string(),
            Err(e) => return refuse(e),
        };
        let cursor = match PollParams::parse(head.query(), Duration::ZERO, Duration::ZERO) {
            Ok(p) => p.cursor(),
            Err(e) => return refuse(e),
        };
        if let Err(denied) = self.authorize(ctx, &head, Some(request), &name, Right::Subscribe) {
            return Upgrade::Reject(denied.response());
        }
        let may_publish = self
            .authorize(ctx, &head, Some(request), &name, Right::Publish)
            .is_ok();
        // Refused before the 101, while an HTTP answer can still say why.
        if self.hub.get(&name).is_none() && self.hub.channel_count() >= self.config().max_channels {
            return refuse(HubError::TooManyChannels);
        }
        self.opening
            .insert(conn, Opening::Channel(name, cursor, may_publish));
        // A browser that offers subprotocols fails the connection unless the server picks
        // one (RFC 6455 §4.1 and the WHATWG WebSocket standard): offering `pushwire` is how
        // a page asks for this protocol by name, next to entries such as a token's.
        let protocol = request
            .offers_protocol(SUBPROTOCOL)
            .then(|| SUBPROTOCOL.to_string());
        Upgrade::Accept { protocol }
    }

    fn on_open(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        let (name, cursor, may_publish) = match self.opening.remove(&conn) {
            Some(Opening::Channel(name, cursor, may_publish)) => (name, cursor, may_publish),
            Some(Opening::Multiplexed(token)) => {
                let state = Multiplexed {
                    token,
                    ..Multiplexed::default()
                };
                self.followers
                    .insert(conn, Follower::Multiplexed(Box::new(state)));
                return;
            }
            None => return,
        };
        // A follower from now on, so that what it publishes is handled whether or not its
        // subscription must wait for the channel's mirror (the Redis engine).
        let follower = Follower::Socket {
            channel: name.as_str().into(),
            may_publish,
        };
        self.followers.insert(conn, follower);
        match self.admit(ctx, [name.as_str()]) {
            Admission::Go => self.subscribe_socket(ctx, conn, &name, cursor),
            Admission::Wait(on) => self.defer(on, Deferred::Socket { conn, name, cursor }),
            Admission::Refuse(e) => {
                self.followers.remove(&conn);
                let _ = ctx.close(conn, e.close_code(), &e.to_string());
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        let name = match self.followers.get(&conn) {
            Some(Follower::Socket {
                channel,
                may_publish,
            }) => {
                if !*may_publish {
                    // Decided at the upgrade (see `access`): this subscriber may only listen.
                    let why = "the credentials do not allow publishing here";
                    let _ = ctx.close(conn, CloseCode::POLICY_VIOLATION, why);
                    return;
                }
                channel.clone()
            }
            Some(Follower::Multiplexed(_)) => return self.on_command(ctx, conn, &message),
            _ => return,
        };
        match message.as_text() {
            Some(text) => {
                let data = Data::Text(text.to_string());
                if let Err(e) = self.submit(ctx, &name, data, Origin::WebSocket(conn)) {
                    // The publisher learns why its message was not kept: 1009 for one too
                    // big, 1013 while the hub is full (it may reconnect and try again).
                    let _ = ctx.close(conn, e.close_code(), &e.to_string());
                }
            }
            None => {
                // The hub's history is text; binary has no place in it.
                let _ = ctx.close(conn, CloseCode::UNSUPPORTED_DATA, "send text messages only");
            }
        }
    }

    fn on_close(&mut self, ctx: &mut Context<'_>, conn: ConnId, _event: &CloseEvent<'_>) {
        self.opening.remove(&conn);
        self.let_go(ctx, conn);
    }

    fn on_drained(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        if let Engine::Redis(redis) = &mut self.engine
            && redis.owns(conn)
        {
            return redis.on_drained(ctx);
        }
        if !self.flush_answers(ctx, conn) {
            return;
        }
        let channels = match self.followers.get(&conn) {
            Some(follower) => follower.channels().to_vec(),
            None => return,
        };
        for name in channels {
            if let Some(replay) = self.hub.resume(&name, &conn) {
                self.send_replay(ctx, conn, &name, replay);
            }
        }
    }

    fn on_wake(&mut self, ctx: &mut Context<'_>) {
        for dropped in self.hub.expire(ctx.now()) {
            match &mut self.engine {
                Engine::Redis(redis) => redis.dropped(ctx, &dropped.name),
                engine => engine.dropped(&dropped.name, dropped.epoch),
            }
        }
        if let Engine::Redis(redis) = &mut self.engine {
            redis.on_wake(ctx);
        }
        self.keep_streams_alive(ctx);
        self.arm_wake(ctx);
    }

    fn on_notify(&mut self, ctx: &mut Context<'_>, token: u64) {
        if token == LOG_TOKEN {
            self.on_log_progress(ctx);
        } else if token == REDIS_TOKEN
            && let Engine::Redis(redis) = &mut self.engine
        {
            redis.on_wake(ctx);
            self.arm_wake(ctx);
        }
    }

    fn on_connected(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        if let Engine::Redis(redis) = &mut self.engine {
            redis.on_connected(ctx, &mut self.hub, conn);
            self.arm_wake(ctx);
        }
    }

    fn on_bytes(&mut self, ctx: &mut Context<'_>, conn: ConnId, bytes: &[u8]) -> usize {
        let Engine::Redis(redis) = &mut self.engine else {
            return bytes.len();
        };
        let mut effects = Vec::new();
        let consumed = redis.on_bytes(ctx, &mut self.hub, conn, bytes, &mut effects);
        self.run_effects(ctx, effects);
        consumed
    }

    fn on_disconnected(&mut self, ctx: &mut Context<'_>, conn: ConnId, reason: DisconnectReason) {
        let Engine::Redis(redis) = &mut self.engine else {
            return;
        };
        let mut effects = Vec::new();
        redis.on_disconnected(ctx, conn, reason, &mut effects);
        self.run_effects(ctx, effects);
        self.arm_wake(ctx);
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        let path = request.path();
        let readable = matches!(request.method(), "GET" | "HEAD");
        match path {
            "/" | "/pushwire.js" | "/healthz" | "/metrics" | "/poll" | "/events" if !readable => {
                let response = error_page(StatusCode::METHOD_NOT_ALLOWED, "use GET")
                    .header("Allow", "GET, HEAD");
                let _ = ctx.respond(id, response);
            }
            "/" => {
                let response = Response::new(StatusCode::OK)
                    .header("Content-Type", "text/html; charset=utf-8")
                    .header("Cache-Control", "no-cache")
                    .body(Body::Static(DEMO_PAGE.as_bytes()));
                let _ = ctx.respond(id, response);
            }
            "/pushwire.js" => {
                let response = Response::new(StatusCode::OK)
                    .header("Content-Type", "text/javascript; charset=utf-8")
                    .header("Cache-Control", "no-cache")
                    .body(Body::Static(CLIENT_SCRIPT.as_bytes()));
                let _ = ctx.respond(id, response);
            }
            "/healthz" => {
                // With the Redis engine, a node that cannot reach Redis cannot publish or
                // open new channels: a load balancer should send new clients elsewhere
                // (the clients it holds keep being served from its mirrors).
                let response = match &mut self.engine {
                    Engine::Redis(redis) if !redis.is_connected() => {
                        Response::text(StatusCode::SERVICE_UNAVAILABLE, "redis: not connected\n")
                            .header("Cache-Control", "no-store")
                    }
                    _ => Response::text(StatusCode::OK, "ok"),
                };
                let _ = ctx.respond(id, response);
            }
            "/metrics" => {
                let response = Response::new(StatusCode::OK)
                    .header("Content-Type", metrics::CONTENT_TYPE)
                    .header("Cache-Control", "no-store")
                    .body(Body::from(self.metrics(ctx)));
                let _ = ctx.respond(id, response);
            }
            "/poll" => self.on_multi_poll(ctx, id, request),
            "/events" => self.open_multi_stream(ctx, id, request),
            MULTIPLEXED_PATH => {
                // RFC 9110 §15.5.22: 426 names the protocol to upgrade to.
                let response = error_page(
                    StatusCode::UPGRADE_REQUIRED,
                    "/ws is a WebSocket endpoint: upgrade with Sec-WebSocket-Protocol: pushwire.v1",
                )
                .header("Upgrade", "websocket")
                .header("Connection", "Upgrade");
                let _ = ctx.respond(id, response);
            }
            _ if path.starts_with("/channels/") => self.on_channel_request(ctx, id, request),
            _ => respond_error(
                ctx,
                id,
                StatusCode::NOT_FOUND,
                "no such resource; try / or /channels/NAME",
            ),
        }
    }

    fn on_park_timeout(&mut self, ctx: &mut Context<'_>, id: RequestId) {
        // Nothing arrived within the poll's timeout.
        self.poll_timed_out(ctx, id);
        self.arm_wake(ctx);
    }

    fn on_request_abandoned(&mut self, ctx: &mut Context<'_>, id: RequestId) {
        if self.unpark(ctx, id) {
            self.arm_wake(ctx);
        } else if self.followers.get(&id.conn()).and_then(Follower::stream) == Some(id) {
            // Not a parked poll, so a Server-Sent Events stream: the only other request
            // the hub leaves unanswered.
            self.let_go(ctx, id.conn());
        }
    }
}

fn json_response(status: StatusCode, body: Body) -> Response {
    Response::new(status)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-store")
        .body(body)
}

/// `204`: nothing new. `no-store` like every `200` of a channel: a cache that kept it
/// would answer the next poll with a stale "nothing".
fn no_content() -> Response {
    Response::new(StatusCode::NO_CONTENT).header("Cache-Control", "no-store")
}

fn respond_hub_error(ctx: &mut Context<'_>, id: RequestId, e: HubError) {
    respond_error(ctx, id, e.status(), &e.to_string());
}

/// The hub's error page: `"<code> <reason>\n<detail>\n"`, like
/// [`Response::error`] but without `Connection: close`. Every hub error answers a
/// request that was read completely and framed correctly, so the connection stays
/// usable (a long-polling page keeps its one connection through a `400`); only protocol
/// errors, found before the request could be trusted, and refused upgrades close it.
fn error_page(status: StatusCode, detail: &str) -> Response {
    Response::text(status, format!("{status}\n{detail}\n"))
}

fn respond_error(ctx: &mut Context<'_>, id: RequestId, status: StatusCode, detail: &str) {
    let _ = ctx.respond(id, error_page(status, detail));
}

/// Does the request ask for Server-Sent Events (`Accept: text/event-stream`, as every
/// `EventSource` sends)? Media types compare case-insensitively (RFC 9110 §8.3.1);
/// parameters and other types in the list do not matter.
fn wants_event_stream(request: &Request) -> bool {
    request.header_str("accept").is_some_and(|accept| {
        accept.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("text/event-stream")
        })
    })
}

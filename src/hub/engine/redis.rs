//! The Redis engine: several nodes, one set of channels (docs/redis-design.md).
//!
//! Redis holds every channel's stream — its epoch, its ids (given by the publish script,
//! never by a node) and its retained history — and carries every published message to
//! every node over pub/sub. This node keeps, in its [`Hub`], a *mirror* of each stream its
//! own clients read ([`crate::hub::core::mirror`]), and reads are answered from the
//! mirror exactly as from an in-memory channel.
//!
//! Two outbound connections of the server's own loop, never a blocking call:
//!
//! - **commands** ([`Link`]): the publish and read scripts (`EVALSHA`, after a `SCRIPT
//!   LOAD` of both; `EVAL` once after a `NOSCRIPT`), pipelined, each reply matched to its
//!   request by order;
//! - **subscriptions** ([`Subscriber`]): `SUBSCRIBE P{name}` for every mirrored channel.
//!
//! A mirror's life:
//!
//! ```text
//!   a reader arrives ─▶ Unsubscribed ─(SUBSCRIBE sent)─▶ Subscribing ─(confirmed)─▶ Stale
//!                           ▲                                                      │
//!                           │ subscriptions lost                      history read sent
//!                           │                                                      ▼
//!                         (any) ◀──── gap or new epoch: Stale ◀──── Live ◀─(read)─ Reading
//! ```
//!
//! Messages that arrive while a read is on its way are kept (at most one history's
//! worth) and applied after it, in id order: a duplicate is dropped, a gap or a new epoch
//! makes the mirror read again. So a live subscriber misses nothing still retained,
//! whatever was lost on the way — a dropped connection, a restarted Redis — and a stream
//! that Redis lost entirely (`FLUSHALL`, a new empty server) comes back under a new
//! epoch, its readers told with the explicit reset.
//!
//! A publish is answered (`201`, `ack`) only when Redis answered the script; delivery
//! happens when the message comes back over pub/sub, on every node alike. While Redis is
//! unreachable, publishes are refused with `503` ([`HubError::EngineUnavailable`]),
//! mirrors keep answering from what they hold, and the engine reconnects with backoff
//! (100 ms doubling to 5 s, each delay jittered to ½–1 of itself, so that nodes do not
//! come back in step).

use std::collections::{HashMap, HashSet};
// `core::net`: the address type only; the one name lookup is `redis::resolve`'s.
use core::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::Origin;
use crate::hub::core::Hub;
use crate::hub::core::mirror::{Applied, MirrorChange, Rewound};
use crate::hub::data::{Data, DataRef};
use crate::hub::epoch::Epoch;
use crate::hub::{Fanout, HubConfig, HubError};
use crate::log::Level;
use crate::redis::stream::{self, History, Keys, Publish, Published, Read, Script, Send};
use crate::redis::{Link, LinkError, RedisUrl, Reply, ReplyLimits, Subscriber, SubscriberEvent};
use crate::server::{ConnId, Context, DisconnectReason, RequestId};

/// The limits of the replies the engine reads, for the hub's settings: a history read
/// brings at most the newest `history` messages within `history_bytes` (and the newest
/// whatever its size), each with a few dozen bytes of RESP around it. The server's
/// [`max_outbound_input`](crate::Config::max_outbound_input) must be at least its
/// `max_reply_bytes`, or a full history read could never be taken in (`pushwire serve
/// --redis` sets it so).
pub fn reply_limits(config: &HubConfig) -> ReplyLimits {
    let max_reply = (config.history_bytes.max(config.max_message) + config.max_message)
        .saturating_add(config.history.saturating_mul(128))
        .saturating_add(4096);
    ReplyLimits {
        max_bulk_len: config.max_message.max(64 << 10) + 64,
        max_reply_bytes: max_reply,
        max_array_len: config.history.max(64) * 2,
        max_elements: config.history.max(64) * 8 + 64,
        ..ReplyLimits::default()
    }
}

/// Where the Redis engine connects, and under which key prefix it keeps its streams.
///
/// ```
/// use pushwire::hub::engine::{RedisOptions, redis::reply_limits};
/// use pushwire::hub::{HubConfig, Storage};
/// use pushwire::redis::RedisUrl;
///
/// let mut hub = HubConfig::default();
/// hub.storage = Storage::Redis(RedisOptions::new(RedisUrl::parse("redis://127.0.0.1:6379/0")?));
/// // The server must take in a whole history read on its outbound connections.
/// let mut config = pushwire::Config::default();
/// config.max_outbound_input = config.max_outbound_input.max(reply_limits(&hub).max_reply_bytes);
/// // Then `HubServer::open(hub, server.handle())` and run the server with `config`.
/// # Ok::<(), pushwire::redis::UrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// `redis://[[user]:password@]host[:port][/db]`. A host name is resolved once, when
    /// the hub opens.
    pub url: RedisUrl,
    /// Prefix of every key and pub/sub channel (default `pushwire:`): nodes that share a
    /// Redis and a prefix share channels.
    pub prefix: String,
}

impl RedisOptions {
    /// The default prefix.
    pub const DEFAULT_PREFIX: &'static str = "pushwire:";

    /// `url` with the default prefix.
    pub fn new(url: RedisUrl) -> Self {
        RedisOptions {
            url,
            prefix: Self::DEFAULT_PREFIX.to_string(),
        }
    }
}

/// Unsent bytes of publishes past which a publish is refused (`503`) rather than queued:
/// Redis is not reading, and the node must not buffer without end.
const MAX_UNSENT: usize = 16 << 20;

/// The first reconnect delay, and the longest.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// How long a connection may leave an awaited reply unanswered — commands in flight, or
/// the subscriptions connection's `PING` — with no byte arriving, before it is closed and
/// opened again: a Redis that hangs, or a connection that died without a FIN (a dropped
/// NAT entry), refuses publishes and reloads mirrors as a dropped connection does,
/// instead of holding them.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// After this long without a byte, the subscriptions connection sends a `PING` (the one
/// way to learn that a connection that only receives still carries).
const PING_INTERVAL: Duration = Duration::from_secs(15);

/// Channels named per `SUBSCRIBE` command.
const SUBSCRIBE_BATCH: usize = 256;

/// What the server must do after the engine heard from Redis, in order.
#[derive(Debug)]
pub(crate) enum Effect {
    /// A publish was answered by Redis (or refused): tell its publisher.
    Answer {
        origin: Origin,
        name: String,
        result: Result<Published, HubError>,
    },
    /// A message was appended to a mirror: deliver it.
    Deliver {
        name: String,
        fanout: Fanout<RequestId>,
    },
    /// A mirror's content was replaced (a new epoch, or a gap Redis no longer holds):
    /// answer its waiters again.
    Rewound {
        name: String,
        rewound: Rewound<RequestId, ConnId>,
    },
    /// A channel's mirror is loaded: the readers waiting for it may go on.
    Ready { name: String },
    /// A channel's mirror could not be loaded: its waiting readers are refused (`503`).
    Failed { name: String },
}

/// Whether a reader of a channel may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// The channel is mirrored: read it.
    Open,
    /// Its mirror is loading: wait for [`Effect::Ready`] (or [`Effect::Failed`]).
    Wait,
    /// It cannot be read now.
    Refused(HubError),
}

/// One of the two connections.
#[derive(Debug)]
enum Connection<M> {
    /// Not connected: the next attempt is at `retry_at` (`None`: at the next wake-up, as
    /// when the hub opens).
    Down {
        retry_at: Option<Instant>,
        attempts: u32,
    },
    /// Connecting (`established == false`) or open.
    Up {
        conn: ConnId,
        machine: M,
        established: bool,
        /// Since when a reply has been awaited with nothing arriving (commands in flight,
        /// a `PING` sent): past [`REPLY_TIMEOUT`] the connection is taken for dead.
        awaiting: Option<Instant>,
        /// When bytes last arrived (or it was opened).
        heard: Instant,
        /// It served: the opening commands answered (and, for commands, the scripts
        /// loaded). Until then a failure continues the backoff of the attempts before it,
        /// so a Redis that refuses `AUTH` or answers `LOADING` is not retried every 100 ms.
        ready: bool,
        /// Failed attempts before this one (the backoff goes on from there if it fails
        /// before it is established).
        attempts: u32,
    },
}

impl<M> Connection<M> {
    fn conn(&self) -> Option<ConnId> {
        match self {
            Connection::Up { conn, .. } => Some(*conn),
            Connection::Down { .. } => None,
        }
    }

    fn established(&mut self) -> Option<&mut M> {
        match self {
            Connection::Up {
                machine,
                established: true,
                ..
            } => Some(machine),
            _ => None,
        }
    }
}

/// Where a mirror stands (see the module docs).
#[derive(Debug)]
enum MirrorState {
    /// Needs a `SUBSCRIBE`.
    Unsubscribed,
    /// `SUBSCRIBE` sent, not confirmed yet.
    Subscribing,
    /// Subscribed; needs a history read, after the mirror's last id (or from the start,
    /// `from_start`). Messages that arrive meanwhile are kept.
    Stale {
        buffered: Buffered,
        from_start: bool,
    },
    /// A history read is on its way, after id `after`.
    Reading { buffered: Buffered, after: u64 },
    /// Up to date: messages apply as they arrive.
    Live,
}

/// Messages that arrived while a read was on its way, in arrival order; at most one
/// history's worth (past that, the read after this one brings them).
#[derive(Debug, Default)]
struct Buffered {
    messages: Vec<(Epoch, u64, Data)>,
    overflowed: bool,
}

#[derive(Debug)]
struct Mirror {
    state: MirrorState,
    /// Loaded into the hub at least once (readers are answered from it).
    loaded: bool,
}

/// A history read on its way to Redis.
#[derive(Debug)]
struct Reading {
    name: String,
    /// Sent again with `EVAL` after a `NOSCRIPT` (once).
    retried: bool,
}

/// A publish on its way to Redis.
#[derive(Debug)]
struct Publishing {
    origin: Origin,
    name: String,
    data: Data,
    /// Sent again with `EVAL` after a `NOSCRIPT` (once).
    retried: bool,
}

/// What each reply on the commands connection answers.
#[derive(Debug)]
enum Tag {
    ScriptLoad(Script),
    Publish(Box<Publishing>),
    History(Reading),
}

/// A reply, read into what the engine needs (owned: it outlives the input it came from).
#[derive(Debug)]
enum Done {
    ScriptLoaded(Result<(), String>),
    Published(Box<Publishing>, PublishReply),
    History(Reading, ReadReply),
    /// Redis cannot serve for now (`LOADING` after a restart, `BUSY`): the connection is
    /// closed and opened again after a backoff, rather than retried at once.
    Transient(String),
}

#[derive(Debug)]
enum ReadReply {
    Read(History),
    NoScript,
    Failed(String),
}

#[derive(Debug)]
enum PublishReply {
    Stored(Published),
    NoScript,
    OutOfMemory(String),
    Refused(String),
}

/// What the subscriptions connection brought, owned.
#[derive(Debug)]
enum Heard {
    Subscribed(String),
    Message(String, Epoch, u64, Data),
    Unreadable(String),
}

/// Counters for `/metrics` and the operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisStats {
    /// Publishes Redis stored.
    pub published: u64,
    /// Publishes refused: Redis down, refused by Redis, or lost with a connection.
    pub refused: u64,
    /// Messages that arrived over pub/sub.
    pub received: u64,
    /// History reads sent.
    pub history_reads: u64,
    /// Connections made (both kinds) after the first.
    pub reconnects: u64,
    /// Mirrors now.
    pub mirrors: u64,
}

/// The Redis engine's state on the loop.
#[derive(Debug)]
pub struct RedisEngine {
    options: RedisOptions,
    addr: SocketAddr,
    limits: ReplyLimits,
    history: u64,
    /// How long Redis keeps a stream begun by a read while nobody publishes to it.
    empty_ttl: Duration,
    history_bytes: u64,
    max_channels: usize,
    commands: Connection<Link<Tag>>,
    subscriptions: Connection<Subscriber>,
    /// Every channel followed, loaded or loading.
    mirrors: HashMap<String, Mirror>,
    /// The mirrors that need a `SUBSCRIBE` or a read (Unsubscribed or Stale): what
    /// [`pump`](Self::pump) looks at, so that a message costs nothing per other mirror.
    dirty: HashSet<String>,
    /// Channels whose waiting readers are being refused (between [`Effect::Failed`] and
    /// [`RedisEngine::refusal_done`]).
    refusing: Option<String>,
    rng: StdRng,
    stopped: bool,
    connected_once: bool,
    /// `SCRIPT LOAD`s answered on this commands connection.
    scripts_loaded: usize,
    stats: RedisStats,
}

impl RedisEngine {
    /// The engine for `options`, connecting to `addr` (the URL's host, resolved), with
    /// the hub's limits.
    pub(crate) fn new(options: RedisOptions, addr: SocketAddr, config: &HubConfig) -> Self {
        let mut seed = [0u8; 32];
        rand::fill(&mut seed[..]);
        let rng = StdRng::from_seed(seed);
        let history_bytes = config.history_bytes as u64;
        let limits = reply_limits(config);
        RedisEngine {
            options,
            empty_ttl: config.channel_ttl,
            addr,
            limits,
            history: config.history as u64,
            history_bytes,
            max_channels: config.max_channels,
            commands: Connection::Down {
                retry_at: None,
                attempts: 0,
            },
            subscriptions: Connection::Down {
                retry_at: None,
                attempts: 0,
            },
            mirrors: HashMap::new(),
            dirty: HashSet::new(),
            refusing: None,
            rng,
            stopped: false,
            connected_once: false,
            scripts_loaded: 0,
            stats: RedisStats::default(),
        }
    }

    /// The largest reply the engine accepts: the server's
    /// [`max_outbound_input`](crate::Config::max_outbound_input) must be at least this.
    pub fn max_reply_bytes(&self) -> usize {
        self.limits.max_reply_bytes
    }

    /// The options it was opened with.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    /// The counters.
    pub fn stats(&self) -> RedisStats {
        RedisStats {
            mirrors: self.mirrors.len() as u64,
            ..self.stats
        }
    }

    /// Both connections are open, and the commands connection is answering (both
    /// scripts loaded): publishes and new mirrors can go.
    pub fn is_connected(&self) -> bool {
        self.commands_ready() && self.subscriptions.is_established()
    }

    /// The commands connection is open and has answered its `SCRIPT LOAD`s: a Redis that
    /// accepts a connection but does not answer (stopped, or its listen backlog taking
    /// the connection for it) is not counted as up.
    fn commands_ready(&self) -> bool {
        self.commands.is_established() && self.scripts_loaded == Script::ALL.len()
    }

    /// Is `conn` one of the engine's connections?
    pub(crate) fn owns(&self, conn: ConnId) -> bool {
        self.commands.conn() == Some(conn) || self.subscriptions.conn() == Some(conn)
    }

    /// Connects what is down and due. Called at start and from every wake-up.
    pub(crate) fn on_wake(&mut self, ctx: &mut Context<'_>) {
        if self.stopped {
            return;
        }
        let now = ctx.now();
        let (url, limits) = (&self.options.url, self.limits);
        connect_if_due(&mut self.commands, ctx, self.addr, &mut self.rng, || {
            Link::new(url, limits)
        });
        connect_if_due(
            &mut self.subscriptions,
            ctx,
            self.addr,
            &mut self.rng,
            || Subscriber::new(url, limits),
        );
        self.check_silence(ctx, now);
    }

    /// Closes a connection that left a reply unanswered for [`REPLY_TIMEOUT`], and pings
    /// the subscriptions connection after [`PING_INTERVAL`] of quiet.
    fn check_silence(&mut self, ctx: &mut Context<'_>, now: Instant) {
        if let Connection::Up {
            conn,
            awaiting: Some(since),
            ..
        } = self.commands
            && now >= since + REPLY_TIMEOUT
        {
            let why = format!("no reply for {} s", REPLY_TIMEOUT.as_secs());
            self.fail_connection(ctx, conn, "commands", &why);
        }
        if let Connection::Up {
            conn,
            machine,
            established: true,
            awaiting,
            heard,
            ..
        } = &mut self.subscriptions
        {
            match *awaiting {
                Some(since) if now >= since + REPLY_TIMEOUT => {
                    let conn = *conn;
                    let why = format!("no answer to PING for {} s", REPLY_TIMEOUT.as_secs());
                    self.fail_connection(ctx, conn, "subscriptions", &why);
                }
                None if now >= *heard + PING_INTERVAL => {
                    machine.ping();
                    *awaiting = Some(now);
                    self.flush(ctx);
                }
                _ => {}
            }
        }
    }

    /// When the engine wants [`on_wake`](Self::on_wake) next: a reconnect that is due.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let commands = match &self.commands {
            Connection::Up { awaiting, .. } => awaiting.map(|since| since + REPLY_TIMEOUT),
            Connection::Down { retry_at, .. } => *retry_at,
        };
        let subscriptions = match &self.subscriptions {
            Connection::Up {
                established: true,
                awaiting,
                heard,
                ..
            } => Some(awaiting.map_or(*heard + PING_INTERVAL, |since| since + REPLY_TIMEOUT)),
            Connection::Up { .. } => None,
            Connection::Down { retry_at, .. } => *retry_at,
        };
        [commands, subscriptions].into_iter().flatten().min()
    }

    /// An outbound connection of the engine is established.
    pub(crate) fn on_connected(
        &mut self,
        ctx: &mut Context<'_>,
        hub: &mut Hub<RequestId, ConnId>,
        conn: ConnId,
    ) {
        if self.connected_once {
            self.stats.reconnects += 1;
        }
        if let Connection::Up {
            conn: c,
            machine,
            established,
            ..
        } = &mut self.commands
            && *c == conn
        {
            *established = true;
            machine.connected();
            self.scripts_loaded = 0;
            let mut loads = Vec::new();
            stream::write_script_loads(&mut loads);
            machine.request(Script::ALL.map(Tag::ScriptLoad), &loads);
            // Every mirror whose read was lost with the old connection reads again.
            for (name, mirror) in self.mirrors.iter_mut() {
                if let MirrorState::Reading { buffered, after } = &mut mirror.state {
                    let buffered = std::mem::take(buffered);
                    let from_start = *after == 0;
                    mirror.state = MirrorState::Stale {
                        buffered,
                        from_start,
                    };
                    self.dirty.insert(name.clone());
                }
            }
        }
        if let Connection::Up {
            conn: c,
            machine,
            established,
            ..
        } = &mut self.subscriptions
            && *c == conn
        {
            *established = true;
            machine.connected();
        }
        if self.commands.established().is_some() && self.subscriptions.established().is_some() {
            if self.connected_once {
                ctx.config()
                    .log
                    .write(Level::Info, "pushwire hub: Redis is connected again");
            }
            self.connected_once = true;
        }
        self.pump(ctx, hub);
    }

    /// Bytes from one of the engine's connections: every complete reply is handled, and
    /// what was consumed returned. A protocol error closes the connection (it reconnects).
    pub(crate) fn on_bytes(
        &mut self,
        ctx: &mut Context<'_>,
        hub: &mut Hub<RequestId, ConnId>,
        conn: ConnId,
        bytes: &[u8],
        effects: &mut Vec<Effect>,
    ) -> usize {
        if self.commands.conn() == Some(conn) {
            let Connection::Up {
                machine,
                awaiting,
                heard,
                ..
            } = &mut self.commands
            else {
                return bytes.len();
            };
            // Bytes arrived: the connection carries, whether or not a reply is complete.
            let now = ctx.now();
            *heard = now;
            if awaiting.is_some() {
                *awaiting = Some(now);
            }
            let mut done = Vec::new();
            let read = machine.handle_bytes(bytes, |tag, reply| done.push(read_reply(tag, &reply)));
            for done in done {
                self.on_done(ctx, hub, done, effects);
            }
            self.after_read(ctx, hub, conn, "commands", read, bytes.len())
        } else if self.subscriptions.conn() == Some(conn) {
            let Connection::Up {
                machine,
                awaiting,
                heard,
                ..
            } = &mut self.subscriptions
            else {
                return bytes.len();
            };
            *heard = ctx.now();
            *awaiting = None;
            let prefix = &self.options.prefix;
            let mut heard = Vec::new();
            let read = machine.handle_bytes(bytes, |event| {
                if let Some(h) = read_event(prefix, event) {
                    heard.push(h);
                }
            });
            if machine.is_ready() {
                self.subscriptions.set_ready();
            }
            for h in heard {
                self.on_heard(ctx, hub, h, effects);
            }
            self.after_read(ctx, hub, conn, "subscriptions", read, bytes.len())
        } else {
            bytes.len()
        }
    }

    /// After a read of `len` bytes: what it needs sent, and what was consumed; a read
    /// that failed closes its connection (it reconnects) and counts as all consumed.
    fn after_read(
        &mut self,
        ctx: &mut Context<'_>,
        hub: &mut Hub<RequestId, ConnId>,
        conn: ConnId,
        which: &str,
        read: Result<usize, LinkError>,
        len: usize,
    ) -> usize {
        match read {
            Ok(n) => {
                self.pump(ctx, hub);
                n
            }
            Err(e) => {
                self.fail_connection(ctx, conn, which, &e);
                len
            }
        }
    }

    fn fail_connection(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        which: &str,
        e: &dyn std::fmt::Display,
    ) {
        let line = format!("pushwire hub: Redis {which} connection closed: {e}");
        ctx.config().log.write(Level::Warn, &line);
        let _ = ctx.close_outbound(conn);
    }

    /// One of the engine's connections ended: what waited on it is refused or retried,
    /// and it is reconnected after a backoff.
    pub(crate) fn on_disconnected(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        reason: DisconnectReason,
        effects: &mut Vec<Effect>,
    ) {
        if reason == DisconnectReason::ShutDown {
            self.stopped = true;
        }
        let now = ctx.now();
        if self.commands.conn() == Some(conn) {
            let attempts = self.commands.failed_attempts();
            let was_ready = self.commands.is_ready();
            let retry_at = Some(now + backoff(&mut self.rng, attempts));
            let old = std::mem::replace(
                &mut self.commands,
                Connection::Down {
                    retry_at,
                    attempts: attempts + 1,
                },
            );
            if let Connection::Up { machine, .. } = old {
                for tag in machine.disconnected() {
                    self.lost(tag, effects);
                }
                if was_ready && !self.stopped {
                    let line = format!(
                        "pushwire hub: Redis commands connection lost ({reason}): reconnecting"
                    );
                    ctx.config().log.write(Level::Warn, &line);
                } else if attempts == 0 && !self.stopped {
                    // Once per outage, not once per attempt.
                    let line = format!(
                        "pushwire hub: cannot use Redis at {} ({reason}): retrying",
                        self.options.url
                    );
                    ctx.config().log.write(Level::Warn, &line);
                }
            }
        } else if self.subscriptions.conn() == Some(conn) {
            let attempts = self.subscriptions.failed_attempts();
            let was_ready = self.subscriptions.is_ready();
            self.subscriptions = Connection::Down {
                retry_at: Some(now + backoff(&mut self.rng, attempts)),
                attempts: attempts + 1,
            };
            // Messages may be lost from here until subscribed again: every mirror
            // subscribes again and reads what it missed; one not loaded yet gives up (its
            // readers are refused now rather than held through an outage).
            let names: Vec<String> = self.mirrors.keys().cloned().collect();
            for name in names {
                let loaded = self.mirrors.get(&name).is_some_and(|m| m.loaded);
                if loaded {
                    if let Some(mirror) = self.mirrors.get_mut(&name) {
                        mirror.state = MirrorState::Unsubscribed;
                        self.dirty.insert(name);
                    }
                } else {
                    self.mirrors.remove(&name);
                    effects.push(Effect::Failed { name });
                }
            }
            if was_ready && !self.stopped {
                let line = format!(
                    "pushwire hub: Redis subscriptions connection lost ({reason}): reconnecting"
                );
                ctx.config().log.write(Level::Warn, &line);
            }
        }
    }

    /// A request whose reply will never come.
    fn lost(&mut self, tag: Tag, effects: &mut Vec<Effect>) {
        match tag {
            Tag::Publish(publishing) => {
                // Redis may or may not have run it: the publisher is told it failed, and
                // may publish again (a message can then arrive twice, under two ids).
                self.stats.refused += 1;
                effects.push(Effect::Answer {
                    origin: publishing.origin,
                    name: publishing.name,
                    result: Err(HubError::EngineUnavailable),
                });
            }
            Tag::History(Reading { name, .. }) => {
                if let Some(mirror) = self.mirrors.get_mut(&name) {
                    if mirror.loaded {
                        if let MirrorState::Reading { buffered, after } = &mut mirror.state {
                            let buffered = std::mem::take(buffered);
                            let from_start = *after == 0;
                            mirror.state = MirrorState::Stale {
                                buffered,
                                from_start,
                            };
                            self.dirty.insert(name);
                        }
                    } else {
                        self.mirrors.remove(&name);
                        self.unsubscribe(&name);
                        effects.push(Effect::Failed { name });
                    }
                }
            }
            Tag::ScriptLoad(_) => {}
        }
    }

    /// Sends a publish to Redis; its answer comes as an [`Effect::Answer`]. Refused at
    /// once while Redis is not connected, or too far behind.
    pub(crate) fn publish(
        &mut self,
        ctx: &mut Context<'_>,
        name: &str,
        data: Data,
        origin: Origin,
    ) -> Result<(), HubError> {
        let accepting = self.commands_ready()
            && self
                .commands
                .established()
                .is_some_and(|link| link.queued_bytes() <= MAX_UNSENT);
        if !accepting {
            self.stats.refused += 1;
            return Err(HubError::EngineUnavailable);
        }
        let publishing = Publishing {
            origin,
            name: name.to_string(),
            data,
            retried: false,
        };
        self.send_publish(Box::new(publishing), Send::Cached);
        self.flush(ctx);
        Ok(())
    }

    /// Queues the publish script for `publishing` on the commands connection (which is
    /// established: the callers checked).
    fn send_publish(&mut self, publishing: Box<Publishing>, send: Send) {
        let keys = Keys::new(&self.options.prefix, &publishing.name);
        let candidate = Epoch::random(&mut self.rng);
        let mut out = Vec::with_capacity(publishing.data.len() + 256);
        stream::write_publish(
            &mut out,
            &Publish {
                keys: &keys,
                data: publishing.data.borrowed(),
                max_count: self.history,
                max_bytes: self.history_bytes,
                candidate,
            },
            send,
        );
        if let Some(link) = self.commands.established() {
            link.request([Tag::Publish(publishing)], &out);
        }
    }

    /// Queues the read script for `name` after `after`.
    fn send_read(&mut self, name: &str, after: u64, retried: bool) {
        let keys = Keys::new(&self.options.prefix, name);
        let candidate = Epoch::random(&mut self.rng);
        let mut out = Vec::with_capacity(256);
        stream::write_read(
            &mut out,
            &Read {
                keys: &keys,
                after,
                count: self.history,
                candidate,
                empty_ttl: self.empty_ttl,
            },
            if retried { Send::Source } else { Send::Cached },
        );
        if let Some(link) = self.commands.established() {
            let reading = Reading {
                name: name.to_string(),
                retried,
            };
            link.request([Tag::History(reading)], &out);
            self.stats.history_reads += 1;
        }
    }

    /// May a reader of `name` go on? A channel not mirrored yet begins to load (the
    /// reader waits for [`Effect::Ready`]).
    pub(crate) fn gate(
        &mut self,
        ctx: &mut Context<'_>,
        hub: &mut Hub<RequestId, ConnId>,
        name: &str,
    ) -> Gate {
        if self.refusing.as_deref() == Some(name) {
            return Gate::Refused(HubError::EngineUnavailable);
        }
        if hub.get(name).is_some() {
            return Gate::Open;
        }
        if self.mirrors.contains_key(name) {
            return Gate::Wait;
        }
        if !self.is_connected() {
            return Gate::Refused(HubError::EngineUnavailable);
        }
        if self.mirrors.len() >= self.max_channels || hub.channel_count() >= self.max_channels {
            return Gate::Refused(HubError::TooManyChannels);
        }
        self.mirrors.insert(
            name.to_string(),
            Mirror {
                state: MirrorState::Unsubscribed,
                loaded: false,
            },
        );
        self.dirty.insert(name.to_string());
        self.pump(ctx, hub);
        Gate::Wait
    }

    /// The server has refused the readers of a failed channel.
    pub(crate) fn refusal_done(&mut self) {
        self.refusing = None;
    }

    /// The server is about to refuse the readers of `name`.
    pub(crate) fn refusing(&mut self, name: &str) {
        self.refusing = Some(name.to_string());
    }

    /// A mirror expired from the hub (nobody read it for the channel's TTL): the engine
    /// lets go of it.
    pub(crate) fn dropped(&mut self, ctx: &mut Context<'_>, name: &str) {
        if self.mirrors.remove(name).is_some() {
            self.unsubscribe(name);
            self.flush(ctx);
        }
    }

    fn unsubscribe(&mut self, name: &str) {
        if let Some(subscriber) = self.subscriptions.established() {
            let keys = Keys::new(&self.options.prefix, name);
            subscriber.unsubscribe(&[keys.pubsub().as_bytes()]);
        }
    }

    /// One of the engine's connections drained: write what waited.
    pub(crate) fn on_drained(&mut self, ctx: &mut Context<'_>) {
        self.flush(ctx);
    }

    /// Sends what each mirror needs (subscriptions, reads), then writes both outputs.
    fn pump(&mut self, ctx: &mut Context<'_>, hub: &mut Hub<RequestId, ConnId>) {
        if !self.dirty.is_empty() {
            let subscribing = self.subscriptions.established().is_some();
            let reading = self.commands.established().is_some();
            let mut subscribe = Vec::new();
            let mut reads = Vec::new();
            // What cannot go yet (its connection is down) stays for the next pump.
            let mut waiting = HashSet::new();
            for name in std::mem::take(&mut self.dirty) {
                let Some(mirror) = self.mirrors.get_mut(&name) else {
                    continue; // let go of since
                };
                match &mut mirror.state {
                    MirrorState::Unsubscribed if subscribing => {
                        mirror.state = MirrorState::Subscribing;
                        subscribe.push(Keys::new(&self.options.prefix, &name));
                    }
                    MirrorState::Stale {
                        buffered,
                        from_start,
                    } if reading => {
                        let after = match hub.get(&name) {
                            Some(channel) if !*from_start => channel.last_id(),
                            _ => 0,
                        };
                        let buffered = std::mem::take(buffered);
                        mirror.state = MirrorState::Reading { buffered, after };
                        reads.push((name, after));
                    }
                    MirrorState::Unsubscribed | MirrorState::Stale { .. } => {
                        waiting.insert(name);
                    }
                    MirrorState::Subscribing | MirrorState::Reading { .. } | MirrorState::Live => {}
                }
            }
            self.dirty = waiting;
            if let Some(subscriber) = self.subscriptions.established() {
                for batch in subscribe.chunks(SUBSCRIBE_BATCH) {
                    let channels: Vec<&[u8]> =
                        batch.iter().map(|k| k.pubsub().as_bytes()).collect();
                    subscriber.subscribe(&channels);
                }
            }
            for (name, after) in reads {
                self.send_read(&name, after, false);
            }
        }
        self.flush(ctx);
    }

    /// Hands both connections' output to the loop (kept while a connection is above its
    /// write high-water mark: [`on_drained`](Self::on_drained) sends it).
    fn flush(&mut self, ctx: &mut Context<'_>) {
        if let Connection::Up {
            conn,
            machine,
            established: true,
            awaiting,
            ..
        } = &mut self.commands
        {
            if !machine.output().is_empty() && ctx.send_bytes(*conn, machine.output()).is_ok() {
                let n = machine.output().len();
                machine.output_sent(n);
            }
            // Replies are awaited from the first command in flight until none is.
            match (machine.in_flight() > 0, *awaiting) {
                (true, None) => *awaiting = Some(ctx.now()),
                (false, _) => *awaiting = None,
                (true, Some(_)) => {}
            }
        }
        if let Connection::Up {
            conn,
            machine,
            established: true,
            ..
        } = &mut self.subscriptions
            && !machine.output().is_empty()
            && ctx.send_bytes(*conn, machine.output()).is_ok()
        {
            let n = machine.output().len();
            machine.output_sent(n);
        }
    }

    fn on_done(
        &mut self,
        ctx: &mut Context<'_>,
        hub: &mut Hub<RequestId, ConnId>,
        done: Done,
        effects: &mut Vec<Effect>,
    ) {
        match done {
            Done::ScriptLoaded(Ok(())) => {
                self.scripts_loaded += 1;
                if self.scripts_loaded == Script::ALL.len() {
                    self.commands.set_ready();
                }
            }
            Done::ScriptLoaded(Err(why)) => {
                // Nothing works without the scripts: the connection is opened again, with
                // the backoff, until Redis takes them.
                if let Some(conn) = self.commands.conn() {
                    let why = format!("SCRIPT LOAD refused: {why}");
                    self.fail_connection(ctx, conn, "commands", &why);
                }
            }
            Done::Transient(why) => {
                if let Some(conn) = self.commands.conn() {
                    let why = format!("Redis cannot serve now: {why}");
                    self.fail_connection(ctx, conn, "commands", &why);
                }
            }
            Done::Published(publishing, reply) => {
                self.on_published(ctx, publishing, reply, effects)
            }
            Done::History(reading, ReadReply::NoScript) if !reading.retried => {
                // As for a publish: the script again, itself.
                let after = match self.mirrors.get(&reading.name).map(|m| &m.state) {
                    Some(MirrorState::Reading { after, .. }) => *after,
                    _ => return,
                };
                self.send_read(&reading.name, after, true);
                self.flush(ctx);
            }
            Done::History(reading, reply) => {
                let read = match reply {
                    ReadReply::Read(history) => Ok(history),
                    ReadReply::NoScript => Err("NOSCRIPT after EVAL".to_string()),
                    ReadReply::Failed(why) => Err(why),
                };
                self.on_history(ctx, hub, reading.name, read, effects)
            }
        }
    }

    fn on_published(
        &mut self,
        ctx: &mut Context<'_>,
        mut publishing: Box<Publishing>,
        reply: PublishReply,
        effects: &mut Vec<Effect>,
    ) {
        let result = match reply {
            PublishReply::Stored(published) => {
                self.stats.published += 1;
                Ok(published)
            }
            PublishReply::NoScript
                if !publishing.retried && self.commands.established().is_some() =>
            {
                // The script cache was emptied (a restarted server, `SCRIPT FLUSH`): `EVAL`
                // sends the script itself, and caches it again for the `EVALSHA`s after it.
                publishing.retried = true;
                self.send_publish(publishing, Send::Source);
                self.flush(ctx);
                return;
            }
            PublishReply::NoScript => Err(HubError::EngineUnavailable),
            PublishReply::OutOfMemory(why) => {
                let line =
                    format!("pushwire hub: Redis is out of memory, a publish was refused: {why}");
                ctx.config().log.write(Level::Warn, &line);
                Err(HubError::MemoryFull)
            }
            PublishReply::Refused(why) => {
                let line = format!("pushwire hub: Redis refused a publish: {why}");
                ctx.config().log.write(Level::Warn, &line);
                Err(HubError::EngineUnavailable)
            }
        };
        if result.is_err() {
            self.stats.refused += 1;
        }
        effects.push(Effect::Answer {
            origin: publishing.origin,
            name: publishing.name,
            result,
        });
    }

    fn on_history(
        &mut self,
        ctx: &mut Context<'_>,
        hub: &mut Hub<RequestId, ConnId>,
        name: String,
        read: Result<History, String>,
        effects: &mut Vec<Effect>,
    ) {
        let Some(mirror) = self.mirrors.get_mut(&name) else {
            return; // let go of while the read was on its way
        };
        let (buffered, after, awaited) = match &mut mirror.state {
            MirrorState::Reading { buffered, after } => (std::mem::take(buffered), *after, true),
            // Subscriptions were lost meanwhile: the read is still a true copy of the
            // stream, and another follows the new subscription.
            _ => (Buffered::default(), 0, false),
        };
        let history = match read {
            Ok(history) => history,
            Err(why) => {
                let line = format!("pushwire hub: reading channel {name} from Redis failed: {why}");
                ctx.config().log.write(Level::Warn, &line);
                if mirror.loaded {
                    // Not read again at once (the same error would come back as fast as
                    // Redis answers): the mirror goes on from what it holds, and the next
                    // message that does not follow it, or a reconnect, reads it again.
                    mirror.state = MirrorState::Live;
                } else {
                    self.mirrors.remove(&name);
                    self.unsubscribe(&name);
                    effects.push(Effect::Failed { name });
                }
                return;
            }
        };
        // A read after the mirror's last id of a stream that is not the mirror's (Redis
        // lost it and it began again) misses the new stream's first ids: read it whole.
        if let Some(channel) = hub.get(&name)
            && after > 0
            && channel.epoch() != history.epoch
        {
            mirror.state = MirrorState::Stale {
                buffered,
                from_start: true,
            };
            self.dirty.insert(name);
            return;
        }
        let entries = history
            .entries
            .iter()
            .map(|(id, data)| (*id, data.borrowed()));
        let now = ctx.now();
        match hub.load_mirror(&name, history.epoch, history.last, entries, now) {
            Ok(MirrorChange::Created) => {}
            Ok(MirrorChange::Appended(fanouts)) => {
                for fanout in fanouts {
                    effects.push(Effect::Deliver {
                        name: name.clone(),
                        fanout,
                    });
                }
            }
            Ok(MirrorChange::Rewound(rewound)) => effects.push(Effect::Rewound {
                name: name.clone(),
                rewound,
            }),
            Err(e) => {
                let _ = e;
                self.mirrors.remove(&name);
                self.unsubscribe(&name);
                effects.push(Effect::Failed { name });
                return;
            }
        }
        let first_load = !mirror.loaded;
        mirror.loaded = true;
        if first_load {
            effects.push(Effect::Ready { name: name.clone() });
        }
        if !awaited {
            return;
        }
        mirror.state = MirrorState::Live;
        if buffered.overflowed {
            self.read_again(&name, false);
            return;
        }
        for (epoch, id, data) in buffered.messages {
            if !self.apply(hub, &name, epoch, id, data.borrowed(), now, effects) {
                break;
            }
        }
    }

    /// Applies one message to a live mirror; `false` if it did not follow (a read again
    /// is on its way).
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        hub: &mut Hub<RequestId, ConnId>,
        name: &str,
        epoch: Epoch,
        id: u64,
        data: DataRef<'_>,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) -> bool {
        match hub.apply(name, epoch, id, data, now) {
            Applied::Delivered(fanout) => {
                effects.push(Effect::Deliver {
                    name: name.to_string(),
                    fanout,
                });
                true
            }
            Applied::Duplicate | Applied::NotMirrored => true,
            Applied::OutOfStep => {
                let same_epoch = hub.get(name).is_some_and(|c| c.epoch() == epoch);
                self.read_again(name, !same_epoch);
                false
            }
        }
    }

    fn read_again(&mut self, name: &str, from_start: bool) {
        if let Some(mirror) = self.mirrors.get_mut(name) {
            mirror.state = MirrorState::Stale {
                buffered: Buffered::default(),
                from_start,
            };
            self.dirty.insert(name.to_string());
        }
    }

    fn on_heard(
        &mut self,
        ctx: &mut Context<'_>,
        hub: &mut Hub<RequestId, ConnId>,
        heard: Heard,
        effects: &mut Vec<Effect>,
    ) {
        match heard {
            Heard::Subscribed(name) => {
                if let Some(mirror) = self.mirrors.get_mut(&name)
                    && matches!(mirror.state, MirrorState::Subscribing)
                {
                    mirror.state = MirrorState::Stale {
                        buffered: Buffered::default(),
                        from_start: false,
                    };
                    self.dirty.insert(name);
                }
            }
            Heard::Message(name, epoch, id, data) => {
                self.stats.received += 1;
                let history = self.history as usize;
                let Some(mirror) = self.mirrors.get_mut(&name) else {
                    return;
                };
                match &mut mirror.state {
                    MirrorState::Live => {
                        self.apply(hub, &name, epoch, id, data.borrowed(), ctx.now(), effects);
                    }
                    MirrorState::Stale { buffered, .. } | MirrorState::Reading { buffered, .. } => {
                        if buffered.messages.len() < history {
                            buffered.messages.push((epoch, id, data));
                        } else {
                            buffered.overflowed = true;
                        }
                    }
                    MirrorState::Unsubscribed | MirrorState::Subscribing => {}
                }
            }
            Heard::Unreadable(why) => {
                let line =
                    format!("pushwire hub: an unreadable message from Redis was dropped: {why}");
                ctx.config().log.write(Level::Warn, &line);
            }
        }
    }
}

impl<M> Connection<M> {
    fn is_established(&self) -> bool {
        matches!(
            self,
            Connection::Up {
                established: true,
                ..
            }
        )
    }

    /// Attempts that failed in a row before now: none once a connection served.
    fn failed_attempts(&self) -> u32 {
        match self {
            Connection::Up { ready: true, .. } => 0,
            Connection::Up { attempts, .. } | Connection::Down { attempts, .. } => *attempts,
        }
    }

    fn is_ready(&self) -> bool {
        matches!(self, Connection::Up { ready: true, .. })
    }

    fn set_ready(&mut self) {
        if let Connection::Up { ready, .. } = self {
            *ready = true;
        }
    }
}

/// The delay before attempt `attempts + 1`: doubling from 100 ms to 5 s, each jittered
/// to ½–1 of itself so that nodes that lost Redis together do not come back in step.
fn backoff(rng: &mut StdRng, attempts: u32) -> Duration {
    let full = FIRST_RETRY
        .saturating_mul(1u32 << attempts.min(16))
        .min(LAST_RETRY);
    full.mul_f64(rng.random_range(0.5..=1.0))
}

/// Opens `slot`'s connection if it is down and its retry is due: a new `make()` machine
/// on it, or, if the connect cannot even be issued, the next retry after a backoff.
fn connect_if_due<M>(
    slot: &mut Connection<M>,
    ctx: &mut Context<'_>,
    addr: SocketAddr,
    rng: &mut StdRng,
    make: impl FnOnce() -> M,
) {
    let now = ctx.now();
    let Connection::Down { retry_at, attempts } = *slot else {
        return;
    };
    if retry_at.is_some_and(|at| at > now) {
        return;
    }
    *slot = match ctx.connect(addr) {
        Ok(conn) => Connection::Up {
            conn,
            machine: make(),
            established: false,
            awaiting: None,
            heard: now,
            ready: false,
            attempts,
        },
        Err(_) => Connection::Down {
            retry_at: Some(now + backoff(rng, attempts)),
            attempts: attempts + 1,
        },
    };
}

/// Reads a reply on the commands connection into what its tag asked for.
fn read_reply(tag: Tag, reply: &Reply<'_>) -> Done {
    if stream::is_transient(reply) && !matches!(tag, Tag::Publish(_)) {
        return Done::Transient(describe(reply));
    }
    match tag {
        Tag::ScriptLoad(script) => Done::ScriptLoaded(
            stream::parse_script_loaded(reply, script).map_err(|e| e.to_string()),
        ),
        Tag::History(reading) => {
            let read = if stream::is_noscript(reply) {
                ReadReply::NoScript
            } else {
                match stream::parse_history(reply) {
                    Ok(history) => ReadReply::Read(history),
                    Err(e) => ReadReply::Failed(e.to_string()),
                }
            };
            Done::History(reading, read)
        }
        Tag::Publish(publishing) => {
            let outcome = if stream::is_noscript(reply) {
                PublishReply::NoScript
            } else if stream::is_oom(reply) {
                PublishReply::OutOfMemory(describe(reply))
            } else {
                match stream::parse_published(reply) {
                    Ok(published) => PublishReply::Stored(published),
                    Err(e) => PublishReply::Refused(e.to_string()),
                }
            };
            Done::Published(publishing, outcome)
        }
    }
}

fn describe(reply: &Reply<'_>) -> String {
    match reply {
        Reply::Error(text) => String::from_utf8_lossy(text).into_owned(),
        other => format!("{other:?}"),
    }
}

/// Reads a subscriber event into what the engine needs; `None` for what it ignores.
fn read_event(prefix: &str, event: SubscriberEvent<'_>) -> Option<Heard> {
    match event {
        SubscriberEvent::Subscribed { channel, .. } => {
            stream::channel_of(prefix, channel).map(|name| Heard::Subscribed(name.to_string()))
        }
        SubscriberEvent::Message { channel, payload } => {
            let name = stream::channel_of(prefix, channel)?;
            Some(match stream::parse_message(payload) {
                Ok(message) => Heard::Message(
                    name.to_string(),
                    message.epoch,
                    message.id,
                    message.data.into_owned(),
                ),
                Err(e) => Heard::Unreadable(e.to_string()),
            })
        }
        _ => None,
    }
}

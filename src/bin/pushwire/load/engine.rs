//! The event loop: one `mio::Poll`, every connection non-blocking, and the three modes
//! as sequences of phases (open, warm up, measure, drain, close), each bounded in time.

use std::collections::VecDeque;
use std::io::{self, IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::error::{ConnError, LoadError, SetupError, body_text};
use super::event_stream::EventStreamReader;
use super::mux::{ServerFrame, parse_server_frame};
use super::wire::{
    EchoEvent, EchoVerifier, HttpReader, HttpResponse, MessageReader, Pattern, WsMessage,
    message_body, parse_body,
};
use super::{ErrorLog, Histogram, LoadConfig, Mode, Report, Round, Target, Transport};
use pushwire::hub::json::{parse_batch, parse_message, parse_published, parse_subscribed};
use pushwire::hub::mux::{self, Command};
use pushwire::hub::sse::{Event, EventId};
use pushwire::hub::{Epoch, channel_name};
use pushwire::status::Status;
use pushwire::ws::client_handshake::ClientHandshake;
use pushwire::ws::frame::{OpCode, write_frame};

/// Longest `secs` or `warmup` accepted.
pub(super) const MAX_SECS: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest the opening of all connections may take.
const CONNECT_PHASE: Duration = Duration::from_secs(15);
/// Longest the publisher's setup request may take.
const SETUP: Duration = Duration::from_secs(5);
/// After the measurement: how long in-flight messages may take to arrive.
const DRAIN: Duration = Duration::from_secs(5);
/// How long closing handshakes may take at the end.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Fan-out: quiet time after the last long-poll was written (a parked request gives no
/// signal) or after the previous round, before publishing.
const SETTLE: Duration = Duration::from_secs(1);
/// Fan-out: how long a round waits for every waiter to be parked again.
const REPARK: Duration = Duration::from_secs(10);
/// Fan-out: how long a round waits for every delivery.
const ROUND: Duration = Duration::from_secs(10);
/// `timeout=` of long-polls (seconds): the server holds them this long before a 204.
const POLL_TIMEOUT: u32 = 30;
/// Largest subscriber message accepted (a WebSocket message, or an event stream's line
/// or event).
const MAX_FRAME_MESSAGE: usize = 1 << 20;
/// Most content bytes one event stream may carry over a run (a fan-out round is one
/// event per stream, plus a keepalive comment every 15 s).
const MAX_EVENT_STREAM: usize = 1 << 30;
/// Size of the shared read buffer.
const READ_BUFFER: usize = 256 * 1024;
/// Where the hub serves `pushwire.v1` (many channels over one WebSocket).
const MUX_PATH: &str = "/ws";

pub(super) fn run(config: &LoadConfig, target: Target) -> Result<Report, LoadError> {
    let mut engine = Engine::new(config, target)?;
    match config.mode {
        Mode::Echo => engine.run_echo(),
        Mode::LongPoll => engine.run_longpoll()?,
        Mode::Fanout => engine.run_fanout()?,
    }
    engine.end_progress();
    if engine.over() {
        engine.errors.add("the run hit its hard time limit", 1);
    }
    Ok(engine.report())
}

/// One connection.
struct Conn {
    stream: TcpStream,
    /// The TCP connection is established.
    connected: bool,
    /// Counted in `Engine::opening` until its handshake or first request is done.
    opening: bool,
    /// We are ending it: an EOF or a Close from the server is expected.
    closing: bool,
    /// Bytes to write: `out[out_pos..]`.
    out: Vec<u8>,
    out_pos: usize,
    proto: Proto,
}

enum Proto {
    /// A WebSocket opening handshake; then what `then` says.
    Handshake {
        hs: ClientHandshake,
        buf: Vec<u8>,
        then: AfterHandshake,
    },
    Echo(EchoConn),
    Subscriber(Subscriber),
    Streamer(Streamer),
    Poller(Poller),
    Publisher(Publisher),
}

/// What a WebSocket connection is for once it is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterHandshake {
    /// Echo load.
    Echo,
    /// A subscriber of the URL's channel (`/channels/NAME`), open at its 101.
    Subscriber,
    /// A `pushwire.v1` connection at [`MUX_PATH`] that subscribes to the URL's channel,
    /// open at its `subscribed` answer.
    Mux,
}

/// How a subscriber's frames are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubscriberWire {
    /// One channel per connection: `{"epoch":...}` first, then `{"id":N,"data":...}`.
    Channel,
    /// `pushwire.v1`: every frame a typed object naming its channel.
    Mux,
}

struct EchoConn {
    verifier: EchoVerifier,
    /// Messages sent and not yet echoed: sequence number, queue time (ns).
    inflight: VecDeque<(u64, u64)>,
    next_seq: u64,
}

struct Subscriber {
    reader: MessageReader,
    wire: SubscriberWire,
    /// Fan-out rounds received.
    rounds: u32,
}

/// A Server-Sent Events subscriber: one `GET` whose answer is the channel's stream.
struct Streamer {
    reader: EventStreamReader,
    /// The events of the last read, handed out (kept for its allocation).
    events: Vec<Event>,
    /// Fan-out rounds received.
    rounds: u32,
}

struct Poller {
    reader: HttpReader,
    /// The `since` of the next request.
    since: u64,
    /// The stream `since` is in (sent as `epoch=`), once known.
    epoch: Option<String>,
    /// Longpoll mode: the next sequence number expected. Fan-out: rounds received.
    next_seq: u64,
    /// A request is outstanding…
    outstanding: bool,
    /// …and fully written.
    written: bool,
}

enum Pending {
    Setup,
    Publish(u64),
}

struct Publisher {
    reader: HttpReader,
    pending: VecDeque<Pending>,
}

/// The fan-out round in progress.
struct RoundState {
    index: u32,
    waiters: u64,
    received: u64,
    latency: Histogram,
    bytes: u64,
    /// Time of the last receipt (ns).
    last: u64,
    /// Time of the publish (ns).
    published: u64,
}

struct Engine<'c> {
    cfg: &'c LoadConfig,
    target: Target,
    poll: Poll,
    events: Events,
    conns: Vec<Option<Conn>>,
    rbuf: Vec<u8>,
    start: Instant,
    hard_deadline: Instant,
    rng: StdRng,
    pattern: Pattern,

    errors: ErrorLog,
    mismatches: u64,
    /// Measured latencies, messages and bytes.
    hist: Histogram,
    msgs: u64,
    bytes: u64,
    elapsed: Duration,
    rounds: Vec<Round>,

    /// Connections opening now, and opened so far.
    opening: usize,
    opened: usize,
    /// How long [`Engine::connect_all`] took.
    connect_time: Duration,
    /// Index of the publisher connection (longpoll, fanout).
    publisher: usize,
    /// The URL's channel name, which `pushwire.v1` subscribers subscribe to.
    mux_channel: String,
    /// The channel's last id before the run, from the setup request.
    base_id: Option<u64>,
    /// The channel's epoch: from the setup request, or the first publish if the channel
    /// had no stream yet. Every answer during the run must name the same.
    epoch: Option<String>,
    /// Where the setup's next page of history starts.
    setup_since: u64,
    setup_error: Option<SetupError>,
    published: u64,
    /// Echo: queue new messages. Longpoll: re-poll (pollers stop at the end).
    sending: bool,
    /// Echo: completions are measured.
    recording: bool,
    /// Longpoll: publish times (ns) whose deliveries are measured.
    window: (u64, u64),
    round: Option<RoundState>,
    /// Latest time (ns) a long-poll request was fully written.
    last_park_write: u64,

    // Progress.
    phase: String,
    live_msgs: u64,
    live_bytes: u64,
    last_progress: (Instant, u64, u64),
    terminal: bool,
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl<'c> Engine<'c> {
    fn new(cfg: &'c LoadConfig, target: Target) -> Result<Self, LoadError> {
        // `run` checked it is a channel's path when the transport needs the name.
        let mux_channel = channel_name(&target.channel_path)
            .unwrap_or_default()
            .to_string();
        let start = Instant::now();
        let limit = match cfg.mode {
            Mode::Echo | Mode::LongPoll => cfg.warmup + cfg.secs + Duration::from_secs(30),
            Mode::Fanout => Duration::from_secs(30 + 15 * u64::from(cfg.rounds)),
        };
        let mut seed = [0u8; 32];
        rand::fill(&mut seed[..]);
        let mut conns = Vec::new();
        conns.resize_with(cfg.conns + 1, || None);
        Ok(Engine {
            cfg,
            target,
            poll: Poll::new()?,
            events: Events::with_capacity(4096),
            conns,
            rbuf: vec![0; READ_BUFFER],
            start,
            hard_deadline: start + limit,
            rng: StdRng::from_seed(seed),
            pattern: Pattern::new(if cfg.mode == Mode::Echo { cfg.size } else { 0 }, cfg.text),
            errors: ErrorLog::default(),
            mismatches: 0,
            hist: Histogram::new(),
            msgs: 0,
            bytes: 0,
            elapsed: Duration::ZERO,
            rounds: Vec::new(),
            opening: 0,
            opened: 0,
            connect_time: Duration::ZERO,
            publisher: cfg.conns,
            mux_channel,
            base_id: None,
            epoch: None,
            setup_since: 0,
            setup_error: None,
            published: 0,
            sending: false,
            recording: false,
            window: (0, 0),
            round: None,
            last_park_write: 0,
            phase: "connect".into(),
            live_msgs: 0,
            live_bytes: 0,
            last_progress: (start, 0, 0),
            terminal: std::io::stderr().is_terminal(),
        })
    }

    fn now_ns(&self) -> u64 {
        ns(self.start.elapsed())
    }

    /// Past the hard deadline?
    fn over(&self) -> bool {
        Instant::now() >= self.hard_deadline
    }

    fn mismatch(&mut self, what: impl std::fmt::Display) {
        self.mismatches += 1;
        self.errors.note(format!("mismatch: {what}"));
    }

    fn report(&self) -> Report {
        Report {
            mode: self.cfg.mode,
            transport: (self.cfg.mode == Mode::Fanout).then(|| self.cfg.fanout_transport()),
            conns: self.cfg.conns,
            connected: self.opened,
            connect_time: self.connect_time,
            size: self.cfg.size,
            depth: if self.cfg.mode == Mode::Echo {
                self.cfg.depth
            } else {
                1
            },
            msgs: self.msgs,
            bytes: self.bytes,
            elapsed: self.elapsed,
            latency: self.hist.clone(),
            published: self.published,
            errors: self.errors.total,
            mismatches: self.mismatches,
            error_kinds: self.errors.kinds(),
            rounds: self.rounds.clone(),
        }
    }

    // ===== the loop =====

    /// One turn: wait for readiness (at most `timeout`), serve every ready connection.
    fn turn(&mut self, timeout: Duration) {
        let timeout = timeout.min(self.hard_deadline.saturating_duration_since(Instant::now()));
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                self.errors.add(format!("poll: {e}"), 1);
                std::thread::sleep(Duration::from_millis(10));
            }
            return;
        }
        let ready: Vec<usize> = self.events.iter().map(|e| e.token().0).collect();
        for id in ready {
            self.service(id);
        }
        self.progress();
    }

    /// Turns until `done` or `deadline` (or the hard deadline).
    fn turn_until(&mut self, deadline: Instant, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || self.over() {
                return false;
            }
            self.turn((deadline - now).min(Duration::from_millis(50)));
        }
    }

    fn service(&mut self, id: usize) {
        let Some(mut conn) = self.conns.get_mut(id).and_then(Option::take) else {
            return;
        };
        match self.drive(&mut conn) {
            Ok(true) => self.conns[id] = Some(conn),
            Ok(false) => self.retire(conn, None),
            Err(why) => self.retire(conn, Some(why)),
        }
    }

    /// Flushes a connection's pending output (after a write was queued from outside its
    /// readiness events).
    fn kick(&mut self, id: usize) {
        let Some(mut conn) = self.conns.get_mut(id).and_then(Option::take) else {
            return;
        };
        if !conn.connected {
            self.conns[id] = Some(conn);
            return;
        }
        match self.flush(&mut conn) {
            Ok(()) => self.conns[id] = Some(conn),
            Err(why) => self.retire(conn, Some(why)),
        }
    }

    fn retire(&mut self, mut conn: Conn, why: Option<ConnError>) {
        let _ = self.poll.registry().deregister(&mut conn.stream);
        if conn.opening {
            self.opening -= 1;
        }
        if let Some(why) = why
            && !conn.closing
        {
            self.errors.add(why, 1);
        }
    }

    /// Serves one ready connection: completes its connect, reads everything, writes what
    /// is pending. `Ok(false)`: it ended as expected.
    fn drive(&mut self, conn: &mut Conn) -> Result<bool, ConnError> {
        if !conn.connected {
            match conn.stream.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return Err(ConnError::Connect(e)),
            }
            match conn.stream.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(true),
                Err(e) => return Err(ConnError::Connect(e)),
            }
            conn.connected = true;
            let _ = conn.stream.set_nodelay(true);
            self.on_connected(conn);
        }
        let mut rbuf = std::mem::take(&mut self.rbuf);
        let result = self.read_all(conn, &mut rbuf);
        self.rbuf = rbuf;
        if !result? {
            return Ok(false);
        }
        self.flush(conn)?;
        Ok(true)
    }

    fn read_all(&mut self, conn: &mut Conn, rbuf: &mut [u8]) -> Result<bool, ConnError> {
        loop {
            match conn.stream.read(rbuf) {
                Ok(0) if conn.closing => return Ok(false),
                Ok(0) => return Err(ConnError::ServerClosed),
                Ok(n) => {
                    if !self.on_bytes(conn, &rbuf[..n])? {
                        return Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) if conn.closing => return Ok(false),
                Err(e) => return Err(ConnError::Read(e)),
            }
        }
    }

    fn flush(&mut self, conn: &mut Conn) -> Result<(), ConnError> {
        while conn.out_pos < conn.out.len() {
            match conn.stream.write(&conn.out[conn.out_pos..]) {
                Ok(0) => return Err(ConnError::WriteZero),
                Ok(n) => conn.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ConnError::Write(e)),
            }
        }
        conn.out.clear();
        conn.out_pos = 0;
        if let Proto::Poller(p) = &mut conn.proto
            && p.outstanding
            && !p.written
        {
            p.written = true;
            self.last_park_write = self.now_ns();
            if conn.opening {
                conn.opening = false;
                self.opening -= 1;
                self.opened += 1;
            }
        }
        Ok(())
    }

    /// Opens connection `id` (non-blocking connect; it completes in `drive`).
    fn open(&mut self, id: usize, proto: Proto, counted: bool) -> Result<(), ConnError> {
        /// EMFILE on Linux: this process has no file descriptor left.
        const EMFILE: i32 = 24;
        let mut stream = TcpStream::connect(self.node_of(id)).map_err(|e| {
            if e.raw_os_error() == Some(EMFILE) {
                ConnError::OpenFileLimit(e)
            } else {
                ConnError::Connect(e)
            }
        })?;
        self.poll
            .registry()
            .register(
                &mut stream,
                Token(id),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(ConnError::Register)?;
        if counted {
            self.opening += 1;
        }
        self.conns[id] = Some(Conn {
            stream,
            connected: false,
            opening: counted,
            closing: false,
            out: Vec::new(),
            out_pos: 0,
            proto,
        });
        Ok(())
    }

    /// The node connection `id` goes to: the publisher to the URL's, the others round
    /// robin over the URL's node and `--node`s.
    fn node_of(&self, id: usize) -> SocketAddr {
        let n = id % (self.cfg.nodes.len() + 1);
        if id == self.publisher || n == 0 {
            self.target.addr
        } else {
            self.cfg.nodes[n - 1]
        }
    }

    /// What a connection sends once its TCP connection is up.
    fn on_connected(&mut self, conn: &mut Conn) {
        match &mut conn.proto {
            Proto::Handshake { hs, then, .. } => {
                let path = match then {
                    AfterHandshake::Mux => MUX_PATH,
                    AfterHandshake::Echo | AfterHandshake::Subscriber => &self.target.path,
                };
                hs.write_request(&mut conn.out, &self.target.host, path, None);
            }
            Proto::Poller(p) => {
                write_poll(&mut conn.out, &self.target, p.since, p.epoch.as_deref());
                p.outstanding = true;
                p.written = false;
            }
            Proto::Streamer(_) => {
                let since = self.base_id.unwrap_or(0);
                write_stream_request(&mut conn.out, &self.target, since, self.epoch.as_deref());
            }
            Proto::Publisher(p) => {
                write_setup_poll(&mut conn.out, &self.target, 0);
                p.pending.push_back(Pending::Setup);
            }
            Proto::Echo(_) | Proto::Subscriber(_) => {}
        }
    }

    /// Bytes from the server. `Ok(false)`: the connection ended as expected.
    fn on_bytes(&mut self, conn: &mut Conn, data: &[u8]) -> Result<bool, ConnError> {
        let Conn {
            proto,
            out,
            closing,
            opening,
            ..
        } = conn;
        match proto {
            Proto::Handshake { hs, buf, then } => {
                buf.extend_from_slice(data);
                let (len, accepted) = match hs.handle_response(buf) {
                    Ok(Status::Complete(done)) => done,
                    Ok(Status::Partial) => return Ok(true),
                    Err(e) => return Err(ConnError::Handshake(e)),
                };
                let rest = buf.split_off(len);
                let then = *then;
                let subscriber = |wire| {
                    Proto::Subscriber(Subscriber {
                        reader: MessageReader::default(),
                        wire,
                        rounds: 0,
                    })
                };
                *proto = match then {
                    AfterHandshake::Echo => Proto::Echo(EchoConn {
                        verifier: EchoVerifier::default(),
                        inflight: VecDeque::new(),
                        next_seq: 0,
                    }),
                    AfterHandshake::Subscriber => subscriber(SubscriberWire::Channel),
                    AfterHandshake::Mux => {
                        if accepted.protocol.as_deref() != Some(mux::SUBPROTOCOL) {
                            return Err(ConnError::Subprotocol(accepted.protocol));
                        }
                        self.write_subscribe(out);
                        subscriber(SubscriberWire::Mux)
                    }
                };
                // A multiplexed subscriber is open once the hub has answered its
                // subscribe; the others, now.
                if then != AfterHandshake::Mux {
                    self.now_open(opening);
                }
                if let Proto::Echo(e) = proto
                    && self.sending
                {
                    self.refill(e, out);
                }
                if rest.is_empty() {
                    Ok(true)
                } else {
                    self.on_bytes(conn, &rest)
                }
            }
            Proto::Echo(e) => self.on_echo_bytes(e, out, *closing, data),
            Proto::Subscriber(s) => self.on_subscriber_bytes(s, out, opening, *closing, data),
            Proto::Streamer(s) => self.on_stream_bytes(s, opening, data),
            Proto::Poller(p) => {
                let mut pos = 0;
                while pos < data.len() {
                    let (n, response) = p.reader.feed(&data[pos..])?;
                    pos += n;
                    if let Some(response) = response {
                        self.on_poll_response(p, out, response)?;
                    }
                }
                Ok(true)
            }
            Proto::Publisher(p) => {
                let mut pos = 0;
                while pos < data.len() {
                    let (n, response) = p.reader.feed(&data[pos..])?;
                    pos += n;
                    if let Some(response) = response {
                        let pending = p.pending.pop_front();
                        let page = self.on_publisher_response(pending, response)?;
                        if let Some(since) = page {
                            write_setup_poll(&mut conn.out, &self.target, since);
                            p.pending.push_back(Pending::Setup);
                        }
                    }
                }
                Ok(true)
            }
        }
    }

    // ===== echo =====

    /// Queues messages until `depth` are in flight.
    fn refill(&mut self, e: &mut EchoConn, out: &mut Vec<u8>) {
        let now = self.now_ns();
        while e.inflight.len() < self.cfg.depth {
            let seq = e.next_seq;
            e.next_seq += 1;
            let key = self.rng.next_u32().to_ne_bytes();
            self.pattern.write_message(out, seq, key);
            e.inflight.push_back((seq, now));
        }
    }

    fn on_echo_bytes(
        &mut self,
        e: &mut EchoConn,
        out: &mut Vec<u8>,
        closing: bool,
        data: &[u8],
    ) -> Result<bool, ConnError> {
        let mut pos = 0;
        loop {
            let (n, event) = {
                let expected = e
                    .inflight
                    .front()
                    .map(|&(seq, _)| self.pattern.expected(seq));
                e.verifier.feed(&data[pos..], expected.as_ref())?
            };
            pos += n;
            match event {
                None => break,
                Some(EchoEvent::Message { matched, len }) => {
                    let now = self.now_ns();
                    match e.inflight.pop_front() {
                        Some((seq, queued)) => {
                            if !matched {
                                self.mismatch(format!(
                                    "the echo of message {seq} differs from what was sent"
                                ));
                            }
                            self.live_msgs += 1;
                            self.live_bytes += len;
                            if self.recording {
                                self.hist.record(now.saturating_sub(queued));
                                self.msgs += 1;
                                self.bytes += len;
                            }
                        }
                        None => self.mismatch("a message nobody sent was echoed"),
                    }
                }
                Some(EchoEvent::Ping(payload)) => pong(out, &payload, &mut self.rng),
                Some(EchoEvent::Pong) => {}
                Some(EchoEvent::Close(payload)) => {
                    return if closing {
                        Ok(false)
                    } else {
                        Err(ConnError::WebSocketClosed(payload))
                    };
                }
            }
        }
        if self.sending && !closing {
            self.refill(e, out);
        }
        Ok(true)
    }

    fn run_echo(&mut self) {
        let n = self.cfg.conns;
        self.connect_all(n, |engine| {
            let mut nonce = [0u8; 16];
            engine.rng.fill_bytes(&mut nonce);
            Proto::Handshake {
                hs: ClientHandshake::new(nonce, &[]),
                buf: Vec::new(),
                then: AfterHandshake::Echo,
            }
        });

        // Warm up: every open connection starts sending.
        self.sending = true;
        self.phase = "warmup".into();
        for id in 0..n {
            if let Some(mut conn) = self.conns[id].take() {
                if let Proto::Echo(e) = &mut conn.proto {
                    self.refill(e, &mut conn.out);
                }
                self.conns[id] = Some(conn);
            }
            self.kick(id);
        }
        let warm_end = Instant::now() + self.cfg.warmup;
        self.turn_until(warm_end, |_| false);

        // Measure.
        self.phase = "measure".into();
        self.recording = true;
        let measure_start = Instant::now();
        self.turn_until(measure_start + self.cfg.secs, |_| false);
        self.recording = false;
        self.elapsed = measure_start.elapsed();

        // Drain: no new messages; wait for the echoes of those in flight.
        self.sending = false;
        self.phase = "drain".into();
        let inflight = |engine: &mut Self| -> usize {
            engine
                .conns
                .iter()
                .flatten()
                .map(|c| match &c.proto {
                    Proto::Echo(e) => e.inflight.len(),
                    _ => 0,
                })
                .sum()
        };
        self.turn_until(Instant::now() + DRAIN, |engine| inflight(engine) == 0);
        let lost = inflight(self);
        self.errors.add(
            format!(
                "messages not echoed within {} s after the run",
                DRAIN.as_secs()
            ),
            lost as u64,
        );

        // Close: Close 1000 on each connection, then wait (briefly) for the answers.
        self.phase = "close".into();
        self.start_closing(n);
        self.close_all();
    }

    /// Marks connections `0..n` closing and sends each WebSocket among them a masked
    /// Close 1000, to be answered before `close_all` drops them.
    fn start_closing(&mut self, n: usize) {
        for id in 0..n {
            if let Some(conn) = self.conns[id].as_mut() {
                conn.closing = true;
                if matches!(conn.proto, Proto::Echo(_) | Proto::Subscriber(_)) {
                    let key = self.rng.next_u32().to_ne_bytes();
                    write_frame(
                        &mut conn.out,
                        true,
                        OpCode::Close,
                        &1000u16.to_be_bytes(),
                        Some(key),
                    );
                }
            }
            self.kick(id);
        }
    }

    /// Waits up to [`CLOSE_WAIT`] for closing connections to end, then drops the rest.
    fn close_all(&mut self) {
        for conn in self.conns.iter_mut().flatten() {
            conn.closing = true;
        }
        self.turn_until(Instant::now() + CLOSE_WAIT, |engine| {
            engine.conns.iter().all(Option::is_none)
        });
        for id in 0..self.conns.len() {
            if let Some(conn) = self.conns[id].take() {
                self.retire(conn, None);
            }
        }
    }

    /// Opens connections `0..n`, at most `connect_concurrency` at a time, for at most
    /// [`CONNECT_PHASE`].
    fn connect_all(&mut self, n: usize, mut make: impl FnMut(&mut Self) -> Proto) {
        self.phase = "connect".into();
        let started = Instant::now();
        let deadline = started + CONNECT_PHASE;
        let mut next = 0;
        loop {
            while next < n && self.opening < self.cfg.connect_concurrency {
                let proto = make(self);
                if let Err(why) = self.open(next, proto, true) {
                    if matches!(why, ConnError::OpenFileLimit(_)) {
                        // Every connection not opened yet would fail the same way.
                        self.errors.add(why, (n - next) as u64);
                        next = n;
                        break;
                    }
                    self.errors.add(why, 1);
                }
                next += 1;
            }
            if next == n && self.opening == 0 {
                break;
            }
            if Instant::now() >= deadline || self.over() {
                for id in 0..n {
                    if self.conns[id].as_ref().is_some_and(|c| c.opening)
                        && let Some(conn) = self.conns[id].take()
                    {
                        self.retire(conn, Some(ConnError::NotOpenWithin(CONNECT_PHASE)));
                    }
                }
                self.errors.add(
                    format!("not opened within {} s", CONNECT_PHASE.as_secs()),
                    (n - next) as u64,
                );
                break;
            }
            self.turn(Duration::from_millis(10));
        }
        self.connect_time = started.elapsed();
    }

    // ===== the publisher =====

    /// Opens the publisher and learns the channel's last id.
    fn setup_publisher(&mut self) -> Result<(), LoadError> {
        let id = self.publisher;
        let proto = Proto::Publisher(Publisher {
            reader: HttpReader::default(),
            pending: VecDeque::new(),
        });
        self.open(id, proto, false).map_err(SetupError::Open)?;
        self.phase = "setup".into();
        self.turn_until(Instant::now() + SETUP, |engine| {
            engine.base_id.is_some()
                || engine.setup_error.is_some()
                || engine.conns[engine.publisher].is_none()
        });
        if let Some(why) = self.setup_error.take() {
            return Err(why.into());
        }
        if self.base_id.is_none() {
            return Err(SetupError::NoAnswer {
                path: self.target.channel_path.clone(),
                addr: self.target.addr,
                why: self.errors.kinds().into_iter().next().map(|(k, _)| k),
            }
            .into());
        }
        Ok(())
    }

    /// Takes one answer on the publisher's connection. `Some(since)`: the setup read a
    /// page of the channel's history and must read on from `since` (answers are limited,
    /// so the last id is where the pages end).
    fn on_publisher_response(
        &mut self,
        pending: Option<Pending>,
        response: HttpResponse,
    ) -> Result<Option<u64>, ConnError> {
        match pending {
            Some(Pending::Setup) => match response.status {
                200 => match parse_batch(&response.body) {
                    Ok(batch) if !batch.messages.is_empty() => {
                        self.epoch = Some(batch.epoch);
                        self.setup_since = batch.next;
                        return Ok(Some(batch.next));
                    }
                    Ok(batch) => {
                        self.base_id = Some(batch.next);
                        self.epoch = Some(batch.epoch);
                    }
                    Err(e) => self.setup_error = Some(SetupError::Batch(e)),
                },
                // Nothing after the cursor: paged to the end (or the channel is empty).
                204 => self.base_id = Some(self.setup_since),
                status => {
                    self.setup_error = Some(SetupError::Status {
                        path: self.target.channel_path.clone(),
                        status,
                        body: response.body.clone(),
                    })
                }
            },
            Some(Pending::Publish(seq)) => {
                if response.status != 201 {
                    self.errors.add(
                        format!(
                            "publish answered {}: {}",
                            response.status,
                            body_text(&response.body)
                        ),
                        1,
                    );
                } else {
                    let want = self.base_id.unwrap_or(0) + 1 + seq;
                    match parse_published(&response.body) {
                        Ok((id, epoch)) => {
                            if id != want {
                                self.mismatch(format!(
                                    "publish {seq} got id {id}, expected {want} (does someone \
                                     else publish on this channel?)"
                                ));
                            }
                            self.same_epoch(epoch, "a publish answer");
                        }
                        Err(e) => self.mismatch(format!("publish answer: {e}")),
                    }
                }
            }
            None => return Err(ConnError::UnrequestedResponse),
        }
        if response.close {
            return Err(ConnError::PublisherKeepAliveClosed);
        }
        Ok(None)
    }

    /// Checks that an answer names the run's stream; the first answer to name one sets it.
    fn same_epoch(&mut self, epoch: String, what: &str) {
        match &self.epoch {
            None => self.epoch = Some(epoch),
            Some(known) if *known == epoch => {}
            Some(known) => {
                let message = format!("{what} names epoch {epoch}, the run's stream is {known}");
                self.mismatch(message);
            }
        }
    }

    /// Queues a publish of message `seq` and writes it. False if the publisher is gone.
    fn publish(&mut self, seq: u64) -> bool {
        let t = self.now_ns();
        let body = message_body(t, seq, self.cfg.size);
        let Some(conn) = self.conns[self.publisher].as_mut() else {
            return false;
        };
        let _ = write!(
            conn.out,
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.target.channel_path,
            self.target.host,
            body.len()
        );
        if let Proto::Publisher(p) = &mut conn.proto {
            p.pending.push_back(Pending::Publish(seq));
        }
        self.published += 1;
        self.kick(self.publisher);
        true
    }

    fn publisher_idle(&self) -> bool {
        match self.conns[self.publisher].as_ref().map(|c| &c.proto) {
            Some(Proto::Publisher(p)) => p.pending.is_empty(),
            _ => true,
        }
    }

    // ===== long-poll =====

    fn new_poller(&self) -> Proto {
        Proto::Poller(Poller {
            reader: HttpReader::default(),
            since: self.base_id.unwrap_or(0),
            epoch: self.epoch.clone(),
            next_seq: 0,
            outstanding: false,
            written: false,
        })
    }

    fn on_poll_response(
        &mut self,
        p: &mut Poller,
        out: &mut Vec<u8>,
        response: HttpResponse,
    ) -> Result<(), ConnError> {
        p.outstanding = false;
        let now = self.now_ns();
        match response.status {
            204 => {}
            200 => {
                let batch = parse_batch(&response.body).map_err(ConnError::PollBatch)?;
                if batch.reset {
                    self.errors.add("long-poll answer resets the stream", 1);
                }
                self.same_epoch(batch.epoch.clone(), "a long-poll answer");
                p.epoch = Some(batch.epoch.clone());
                if batch.missed > 0 {
                    self.errors
                        .add("long-poll answer reports missed messages", batch.missed);
                }
                let base = self.base_id.unwrap_or(0);
                for (id, data) in &batch.messages {
                    let (t, seq) = match parse_body(data, self.cfg.size) {
                        Ok(m) => m,
                        Err(e) => {
                            self.mismatch(format!("a delivered message: {e}"));
                            continue;
                        }
                    };
                    if *id != base + 1 + seq {
                        self.mismatch(format!("message {seq} arrived with id {id}"));
                    }
                    let latency = now.saturating_sub(t);
                    let bytes = data.len() as u64;
                    if self.cfg.mode == Mode::Fanout {
                        self.fanout_receipt(&mut p.next_seq, seq, latency, bytes, now);
                        continue;
                    }
                    if seq > p.next_seq {
                        self.errors
                            .add("messages missed by a poller", seq - p.next_seq);
                    } else if seq < p.next_seq {
                        self.errors.add("messages delivered twice to a poller", 1);
                        continue;
                    }
                    p.next_seq = seq + 1;
                    self.live_msgs += 1;
                    self.live_bytes += bytes;
                    if (self.window.0..self.window.1).contains(&t) {
                        self.hist.record(latency);
                        self.msgs += 1;
                        self.bytes += bytes;
                    }
                }
                p.since = batch.next;
            }
            status => {
                return Err(ConnError::PollStatus {
                    status,
                    body: response.body,
                });
            }
        }
        if response.close {
            return Err(ConnError::PollerKeepAliveClosed);
        }
        // Fan-out waiters park again between rounds, not while the round's answers are
        // still arriving: that would put our own writes between the reads being timed.
        let defer = self.cfg.mode == Mode::Fanout && response.status == 200;
        if self.sending && !defer {
            write_poll(out, &self.target, p.since, p.epoch.as_deref());
            p.outstanding = true;
            p.written = false;
        }
        Ok(())
    }

    fn run_longpoll(&mut self) -> Result<(), LoadError> {
        self.setup_publisher()?;
        self.sending = true; // pollers poll again after each answer
        let n = self.cfg.conns;
        self.connect_all(n, |engine| engine.new_poller());

        // Publish at the rate asked for; measure deliveries of messages published in the
        // window (the warm-up's are delivered, not measured).
        self.phase = "warmup".into();
        let rate = self.cfg.publish_rate;
        let pub_start = Instant::now();
        let t0 = self.now_ns();
        self.window = (
            t0 + ns(self.cfg.warmup),
            t0 + ns(self.cfg.warmup + self.cfg.secs),
        );
        let end = pub_start + self.cfg.warmup + self.cfg.secs;
        let measure_start = pub_start + self.cfg.warmup;
        let mut publisher_lost = false;
        while !self.over() {
            let now = Instant::now();
            if now >= end {
                break;
            }
            if now >= measure_start {
                self.phase = "measure".into();
            }
            let due = ((now - pub_start).as_secs_f64() * rate) as u64 + 1;
            let mut burst = 0;
            while self.published < due && burst < 1000 {
                if !self.publish(self.published) {
                    publisher_lost = true;
                    break;
                }
                burst += 1;
            }
            if publisher_lost {
                self.errors.add("the publisher's connection was lost", 1);
                break;
            }
            let next_due = pub_start + Duration::from_secs_f64(self.published as f64 / rate);
            let wait = next_due
                .saturating_duration_since(Instant::now())
                .min(end.saturating_duration_since(Instant::now()))
                .min(Duration::from_millis(50));
            self.turn(wait);
        }
        self.elapsed = self.cfg.secs;

        // Drain: every poller should catch up with every message published.
        self.phase = "drain".into();
        let published = self.published;
        let behind = |engine: &mut Self| -> u64 {
            engine
                .conns
                .iter()
                .take(n)
                .flatten()
                .map(|c| match &c.proto {
                    Proto::Poller(p) => published.saturating_sub(p.next_seq),
                    _ => 0,
                })
                .sum()
        };
        self.turn_until(Instant::now() + DRAIN, |engine| {
            behind(engine) == 0 && engine.publisher_idle()
        });
        let lost = behind(self);
        self.errors.add(
            format!(
                "deliveries missing {} s after the last publish",
                DRAIN.as_secs()
            ),
            lost,
        );
        self.sending = false;
        self.close_all();
        Ok(())
    }

    // ===== fan-out =====

    /// A waiter received fan-out message `seq`; `got` counts the rounds it has received.
    fn fanout_receipt(&mut self, got: &mut u64, seq: u64, latency: u64, bytes: u64, now: u64) {
        let Some(round) = self.round.as_mut() else {
            self.errors.add("a message arrived between rounds", 1);
            return;
        };
        if seq != u64::from(round.index) || *got != seq {
            self.errors.add(
                format!(
                    "a waiter received message {seq} in round {}",
                    round.index + 1
                ),
                1,
            );
            return;
        }
        *got = seq + 1;
        round.received += 1;
        round.latency.record(latency);
        round.bytes += bytes;
        round.last = round.last.max(now);
        self.live_msgs += 1;
        self.live_bytes += bytes;
    }

    fn on_subscriber_bytes(
        &mut self,
        s: &mut Subscriber,
        out: &mut Vec<u8>,
        opening: &mut bool,
        closing: bool,
        data: &[u8],
    ) -> Result<bool, ConnError> {
        let mut pos = 0;
        loop {
            let (n, message) = s.reader.feed(&data[pos..], MAX_FRAME_MESSAGE)?;
            pos += n;
            match message {
                None => return Ok(true),
                Some(WsMessage::Data(opcode, payload)) => {
                    let now = self.now_ns();
                    if opcode != OpCode::Text {
                        self.mismatch("a subscriber received a binary message");
                        continue;
                    }
                    match s.wire {
                        SubscriberWire::Channel => self.on_channel_frame(s, &payload, now),
                        SubscriberWire::Mux => self.on_mux_frame(s, opening, &payload, now),
                    }
                }
                Some(WsMessage::Ping(payload)) => pong(out, &payload, &mut self.rng),
                Some(WsMessage::Pong) => {}
                Some(WsMessage::Close(payload)) => {
                    return if closing {
                        Ok(false)
                    } else {
                        Err(ConnError::WebSocketClosed(payload))
                    };
                }
            }
        }
    }

    /// A frame of a one-channel subscription: `{"epoch":...}` first, then messages.
    fn on_channel_frame(&mut self, s: &mut Subscriber, payload: &[u8], now: u64) {
        if payload.starts_with(b"{\"epoch\":") {
            // The subscription's first frame: which stream, and from where.
            match parse_subscribed(payload) {
                Ok(first) if first.reset => self.mismatch("a subscription was reset"),
                Ok(first) => self.same_epoch(first.epoch, "a subscription"),
                Err(e) => self.mismatch(format!("a subscription's first frame: {e}")),
            }
            return;
        }
        match parse_message(payload) {
            Ok((id, text)) => self.delivered(&mut s.rounds, id, &text, payload.len(), now),
            Err(e) => self.mismatch(format!("a subscriber's frame: {e}")),
        }
    }

    /// A `pushwire.v1` frame (docs/transports-design.md §2): the answer to the subscribe
    /// (which makes the connection open), then the channel's messages.
    fn on_mux_frame(&mut self, s: &mut Subscriber, opening: &mut bool, payload: &[u8], now: u64) {
        let Ok(text) = std::str::from_utf8(payload) else {
            return self.mismatch("a pushwire.v1 frame is not UTF-8");
        };
        let frame = match parse_server_frame(text) {
            Ok(frame) => frame,
            Err(e) => return self.mismatch(e),
        };
        let ours = |channel: &str| channel == self.mux_channel;
        match frame {
            ServerFrame::Subscribed { channel, .. } | ServerFrame::Message { channel, .. }
                if !ours(&channel) =>
            {
                self.mismatch(format!("a pushwire.v1 frame for channel {channel:?}"));
            }
            ServerFrame::Subscribed { reset: true, .. } => {
                self.mismatch("a pushwire.v1 subscription was reset");
            }
            ServerFrame::Subscribed { epoch, next, .. } => {
                let base = self.base_id.unwrap_or(0);
                if next != base {
                    self.mismatch(format!(
                        "a pushwire.v1 subscription starts at {next}, the channel's last id \
                         was {base}"
                    ));
                }
                self.same_epoch(epoch, "a pushwire.v1 subscription");
                self.now_open(opening);
            }
            ServerFrame::Message { id, data, .. } => {
                self.delivered(&mut s.rounds, id, &data, payload.len(), now);
            }
            ServerFrame::Missed { missed, .. } => {
                self.errors
                    .add("pushwire.v1 reports missed messages", missed);
            }
            ServerFrame::Error { status, error } => {
                self.errors
                    .add(format!("pushwire.v1 error {status}: {error}"), 1);
            }
            ServerFrame::Other(kind) => {
                self.mismatch(format!("a pushwire.v1 frame of type {kind:?}"));
            }
        }
    }

    /// A subscriber received message `id` with content `text` (`bytes` on the wire):
    /// it must be one this run published, with the id its publish got, in its round.
    fn delivered(&mut self, rounds: &mut u32, id: u64, text: &str, bytes: usize, now: u64) {
        match parse_body(text, self.cfg.size) {
            Ok((t, seq)) => {
                let want = self.base_id.unwrap_or(0) + 1 + seq;
                if id != want {
                    self.mismatch(format!("message {seq} arrived with id {id}"));
                }
                let mut got = u64::from(*rounds);
                self.fanout_receipt(&mut got, seq, now.saturating_sub(t), bytes as u64, now);
                *rounds = got as u32;
            }
            Err(e) => self.mismatch(format!("a subscriber's message: {e}")),
        }
    }

    /// Connection `opening` is open now (its 101, or its subscription's answer).
    fn now_open(&mut self, opening: &mut bool) {
        if *opening {
            *opening = false;
            self.opening -= 1;
            self.opened += 1;
        }
    }

    /// Queues the `pushwire.v1` subscribe to the run's channel, from the setup's cursor,
    /// as a masked text frame.
    fn write_subscribe(&mut self, out: &mut Vec<u8>) {
        let command = Command::Subscribe {
            channel: self.mux_channel.as_str().into(),
            since: Some(self.base_id.unwrap_or(0)),
            epoch: self.epoch.as_deref().and_then(Epoch::parse),
            reference: None,
        };
        let mut text = String::new();
        command.write(&mut text);
        let key = self.rng.next_u32().to_ne_bytes();
        write_frame(out, true, OpCode::Text, text.as_bytes(), Some(key));
    }

    /// Bytes on an event stream: every event they complete is taken (those before a
    /// broken part of the stream too), then the stream's error, if any, ends it.
    fn on_stream_bytes(
        &mut self,
        s: &mut Streamer,
        opening: &mut bool,
        data: &[u8],
    ) -> Result<bool, ConnError> {
        let mut events = std::mem::take(&mut s.events);
        let read = s.reader.feed(data, &mut events);
        let now = self.now_ns();
        for event in events.drain(..) {
            self.on_stream_event(s, opening, event, now);
        }
        s.events = events;
        read.map_err(ConnError::Stream)?;
        Ok(true)
    }

    /// One event of a subscriber's stream (docs/transports-design.md §1). Its `id` field
    /// (`E:N`, the cursor a reconnect sends back) must name the same stream and message
    /// as its data.
    fn on_stream_event(&mut self, s: &mut Streamer, opening: &mut bool, event: Event, now: u64) {
        match event.event_type() {
            "subscribed" => {
                match parse_subscribed(event.data().as_bytes()) {
                    Ok(first) => {
                        if !same_cursor(event.last_event_id(), &first.epoch, first.next) {
                            self.mismatch(format!(
                                "a stream's subscribed event has id {:?} for next {} of {}",
                                event.last_event_id(),
                                first.next,
                                first.epoch
                            ));
                        }
                        if first.next != self.base_id.unwrap_or(0) {
                            self.mismatch(format!(
                                "a stream subscribed at {}, the channel's last id was {}",
                                first.next,
                                self.base_id.unwrap_or(0)
                            ));
                        }
                        self.same_epoch(first.epoch, "a stream's subscribed event");
                    }
                    Err(e) => self.mismatch(format!("a stream's subscribed event: {e}")),
                }
                // Subscribed (the hub has it, as a WebSocket subscriber after its 101).
                self.now_open(opening);
            }
            "message" => {
                let (id, text) = match parse_message(event.data().as_bytes()) {
                    Ok(m) => m,
                    Err(e) => return self.mismatch(format!("a stream's message event: {e}")),
                };
                let epoch = self.epoch.clone().unwrap_or_default();
                if !same_cursor(event.last_event_id(), &epoch, id) {
                    self.mismatch(format!(
                        "message {id} arrived with event id {:?} (the stream is {epoch})",
                        event.last_event_id()
                    ));
                }
                self.delivered(&mut s.rounds, id, &text, event.data().len(), now);
            }
            "reset" => self.mismatch("a stream was reset"),
            "missed" => self
                .errors
                .add("an event stream reports missed messages", 1),
            other => self.mismatch(format!("a stream sent an event of type {other:?}")),
        }
    }

    /// Writes the next long-poll of every waiter that has none outstanding.
    fn repark(&mut self, n: usize) {
        for id in 0..n {
            if let Some(Conn {
                proto: Proto::Poller(p),
                out,
                ..
            }) = self.conns[id].as_mut()
                && !p.outstanding
            {
                write_poll(out, &self.target, p.since, p.epoch.as_deref());
                p.outstanding = true;
                p.written = false;
                self.kick(id);
            }
        }
    }

    fn waiters(&self) -> impl Iterator<Item = &Conn> {
        self.conns.iter().take(self.cfg.conns).flatten()
    }

    fn run_fanout(&mut self) -> Result<(), LoadError> {
        let transport = self.cfg.fanout_transport();
        self.setup_publisher()?;
        let n = self.cfg.conns;
        self.sending = true;
        match transport {
            Transport::LongPoll => self.connect_all(n, |engine| engine.new_poller()),
            Transport::Ws => self.connect_all(n, |engine| {
                let mut nonce = [0u8; 16];
                engine.rng.fill_bytes(&mut nonce);
                Proto::Handshake {
                    hs: ClientHandshake::new(nonce, &[]),
                    buf: Vec::new(),
                    then: AfterHandshake::Subscriber,
                }
            }),
            Transport::WsMux => self.connect_all(n, |engine| {
                let mut nonce = [0u8; 16];
                engine.rng.fill_bytes(&mut nonce);
                Proto::Handshake {
                    hs: ClientHandshake::new(nonce, &[mux::SUBPROTOCOL]),
                    buf: Vec::new(),
                    then: AfterHandshake::Mux,
                }
            }),
            Transport::Sse => self.connect_all(n, |_| {
                Proto::Streamer(Streamer {
                    reader: EventStreamReader::new(MAX_FRAME_MESSAGE, MAX_EVENT_STREAM),
                    events: Vec::new(),
                    rounds: 0,
                })
            }),
        }
        let mut quiet_since = Instant::now();
        for index in 0..self.cfg.rounds {
            if self.over() {
                break;
            }
            self.phase = format!("round {}/{} settle", index + 1, self.cfg.rounds);
            // Every waiter parked (or subscribed), then a quiet second.
            let parked = |engine: &mut Self| {
                engine.waiters().all(|c| match &c.proto {
                    Proto::Poller(p) => p.outstanding && p.written,
                    _ => !c.opening,
                })
            };
            if !self.turn_until(Instant::now() + REPARK, parked) {
                self.errors.add("waiters not parked again within 10 s", 1);
            }
            while !self.over() {
                let last_write = self.start + Duration::from_nanos(self.last_park_write);
                let quiet = quiet_since.max(last_write) + SETTLE;
                if Instant::now() >= quiet {
                    break;
                }
                self.turn_until(quiet, |_| false);
            }

            // Publish and wait for every delivery.
            self.phase = format!("round {}/{}", index + 1, self.cfg.rounds);
            let waiters = self.waiters().count() as u64;
            if index + 1 == self.cfg.rounds {
                self.sending = false; // no re-parking after the last round
            }
            self.round = Some(RoundState {
                index,
                waiters,
                received: 0,
                latency: Histogram::new(),
                bytes: 0,
                last: 0,
                published: self.now_ns(),
            });
            if !self.publish(u64::from(index)) {
                self.errors.add("the publisher's connection was lost", 1);
                self.round = None;
                break;
            }
            let deadline = Instant::now() + ROUND;
            let all = |engine: &mut Self| {
                engine
                    .round
                    .as_ref()
                    .is_some_and(|r| r.received >= r.waiters)
            };
            self.turn_until(deadline, all);
            let round = self.round.take().expect("round in progress");
            let missing = round.waiters.saturating_sub(round.received);
            self.errors.add(
                format!(
                    "waiters without the message {} s after the publish",
                    ROUND.as_secs()
                ),
                missing,
            );
            // Waiters that did not get it are out of step: let them go.
            for id in 0..n {
                let behind = self.conns[id].as_ref().is_some_and(|c| match &c.proto {
                    Proto::Poller(p) => p.next_seq <= u64::from(index),
                    Proto::Subscriber(s) => s.rounds <= index,
                    Proto::Streamer(s) => s.rounds <= index,
                    _ => true,
                });
                if behind && let Some(conn) = self.conns[id].take() {
                    self.retire(conn, None);
                }
            }
            if self.sending {
                self.repark(n);
            }
            if round.received > 0 {
                self.elapsed += Duration::from_nanos(round.last.saturating_sub(round.published));
            }
            self.hist.merge(&round.latency);
            self.msgs += round.received;
            self.bytes += round.bytes;
            self.rounds.push(Round {
                received: round.received,
                waiters: round.waiters,
                latency: round.latency,
                errors: missing,
            });
            quiet_since = Instant::now();
        }
        self.phase = "close".into();
        self.turn_until(Instant::now() + CLOSE_WAIT, |engine| {
            engine.publisher_idle()
        });
        if matches!(transport, Transport::Ws | Transport::WsMux) {
            self.start_closing(n);
        }
        self.close_all();
        Ok(())
    }

    // ===== progress =====

    /// Prints the progress line once a second (when asked to).
    fn progress(&mut self) {
        if !self.cfg.progress {
            return;
        }
        let now = Instant::now();
        let (last, last_msgs, last_bytes) = self.last_progress;
        let dt = now - last;
        if dt < Duration::from_secs(1) {
            return;
        }
        let rate = (self.live_msgs - last_msgs) as f64 / dt.as_secs_f64();
        let mb = (self.live_bytes - last_bytes) as f64 / 1e6 / dt.as_secs_f64();
        self.last_progress = (now, self.live_msgs, self.live_bytes);
        let (p50, p99) = if self.hist.count() > 0 {
            (
                super::fmt_ns(self.hist.percentile(50.0)),
                super::fmt_ns(self.hist.percentile(99.0)),
            )
        } else {
            ("-".into(), "-".into())
        };
        let open = self.waiters().filter(|c| !c.opening).count();
        let line = format!(
            "[{:6.1}s] {:<16} conns {open}  {rate:.0} msgs/s  {mb:.2} MB/s  p50 {p50}  p99 {p99}  \
             errors {}  mismatches {}",
            self.start.elapsed().as_secs_f64(),
            self.phase,
            self.errors.total,
            self.mismatches
        );
        let mut err = io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r{line:<110}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    fn end_progress(&mut self) {
        if self.cfg.progress && self.terminal {
            eprintln!();
        }
    }
}

/// The publisher's setup: a plain poll that reads the channel's history a page at a
/// time, to learn its last id and epoch.
fn write_setup_poll(out: &mut Vec<u8>, target: &Target, since: u64) {
    let _ = write!(
        out,
        "GET {}?since={since}&timeout=0&limit=1000 HTTP/1.1\r\nHost: {}\r\n\r\n",
        target.channel_path, target.host
    );
}

/// An event stream's request: what a browser's `EventSource` sends, with the cursor of
/// the setup so that the stream starts exactly after the history the run found.
fn write_stream_request(out: &mut Vec<u8>, target: &Target, since: u64, epoch: Option<&str>) {
    let _ = write!(out, "GET {}?since={since}", target.channel_path);
    if let Some(epoch) = epoch {
        let _ = write!(out, "&epoch={epoch}");
    }
    let _ = write!(
        out,
        " HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
        target.host
    );
}

/// Does an event's id field (`E:N`) name stream `epoch` and message `id`? Read with the
/// hub's own strict reader: the one spelling a reconnect would send back.
fn same_cursor(event_id: &str, epoch: &str, id: u64) -> bool {
    EventId::parse(event_id).is_some_and(|at| at.epoch.text().as_str() == epoch && at.id == id)
}

fn write_poll(out: &mut Vec<u8>, target: &Target, since: u64, epoch: Option<&str>) {
    let _ = write!(out, "GET {}?since={since}", target.channel_path);
    if let Some(epoch) = epoch {
        // Epochs are URL-safe base64: no escaping needed.
        let _ = write!(out, "&epoch={epoch}");
    }
    let _ = write!(
        out,
        "&timeout={POLL_TIMEOUT} HTTP/1.1\r\nHost: {}\r\n\r\n",
        target.host
    );
}

/// Answers a ping (RFC 6455 §5.5.2), masked as a client must.
fn pong(out: &mut Vec<u8>, payload: &[u8], rng: &mut StdRng) {
    let key = rng.next_u32().to_ne_bytes();
    write_frame(out, true, OpCode::Pong, payload, Some(key));
}

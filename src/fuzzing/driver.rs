//! The driver the connection targets share: it runs one `WsConnection` on the fuzzer's
//! stream, in the chunk sizes and with the actions the op bytes pick (time steps,
//! application commands, spurious timeouts, EOF), and checks what the connection writes
//! and reports as it goes.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use crate::config::WsLimits;
use crate::message::Message;
use crate::ws::SendError;
use crate::ws::close::{self, CloseCode};
use crate::ws::connection::{CloseKind, WsConnection, WsEvent};
use crate::ws::frame::Role;

use super::ws::valid_close_code;
use super::{CHUNK_SIZES, Reader};

/// Limit sets for the WebSocket connection, all of which pass `Config::validate`
/// (`max_frame_size <= max_message_size`, `max_fragments >= 1`).
pub(super) fn ws_limits(selector: u8) -> WsLimits {
    let secs = Duration::from_secs;
    match selector & 3 {
        0 => WsLimits::default(),
        1 => WsLimits {
            max_frame_size: 16,
            max_message_size: 40,
            max_fragments: 3,
            stream_over: u64::MAX,
            ping_interval: Some(secs(1)),
            pong_timeout: secs(1),
            close_timeout: secs(1),
        },
        2 => WsLimits {
            max_frame_size: 200,
            max_message_size: 1000,
            max_fragments: 8,
            // Messages of 64 bytes or more arrive in pieces (when they span reads).
            stream_over: 64,
            ping_interval: None,
            pong_timeout: secs(30),
            close_timeout: secs(5),
        },
        _ => WsLimits {
            max_frame_size: 0,
            max_message_size: 125,
            max_fragments: 1,
            stream_over: u64::MAX,
            ping_interval: Some(Duration::ZERO),
            pong_timeout: Duration::ZERO,
            close_timeout: Duration::ZERO,
        },
    }
}

/// An event, owned, for comparing runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seen {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed(u16, String, CloseKind),
}

/// What the driver should do before feeding the next chunk.
#[derive(Debug, Clone, Copy)]
pub(super) enum Action {
    Nothing,
    Advance(Duration),
    AdvanceToDeadline,
    SendText,
    SendBinary,
    Ping,
    Close,
    SpuriousTimeout,
    Eof,
}

pub(super) fn decode_op(op: u8) -> (Action, usize) {
    let chunk = CHUNK_SIZES[usize::from(op & 0xF)];
    let ms = Duration::from_millis;
    let action = match op >> 4 {
        0 | 15 => Action::Nothing,
        1 => Action::Advance(ms(1)),
        2 => Action::Advance(ms(1000)),
        3 => Action::Advance(ms(5000)),
        4 => Action::Advance(ms(30_000)),
        5 => Action::Advance(ms(31_000)),
        6 => Action::AdvanceToDeadline,
        7 => Action::Advance(ms(3_600_000)),
        8 => Action::SendText,
        9 => Action::SendBinary,
        10 => Action::Ping,
        11 => Action::Close,
        12 | 14 => Action::SpuriousTimeout,
        _ => Action::Eof,
    };
    (action, chunk)
}

/// Drives one [`WsConnection`] the way the server does, checking every invariant of
/// the connection on the way. All output goes to `wire`.
pub(super) struct Driver {
    conn: WsConnection,
    /// Which end `conn` is: the server writes unmasked frames, the client masked ones.
    role: Role,
    limits: WsLimits,
    now: Instant,
    /// Received bytes not yet consumed (re-offered with more appended).
    pending: Vec<u8>,
    /// Everything the connection wrote, in order.
    wire: Vec<u8>,
    events: Vec<Seen>,
    /// Bytes the connection consumed, and bytes it wrote while reading.
    consumed: usize,
    written_by_input: usize,
    /// Payloads of pings received before the peer's Close (RFC 6455 §5.5.2): the pongs we
    /// must see, in order.
    expected_pongs: Vec<Vec<u8>>,
    /// Keepalive pings written by `handle_timeout`.
    keepalive_pings: usize,
    /// Pings and data frames written by the application, in order (opcode, payload).
    app_frames: Vec<(u8, Vec<u8>)>,
    /// The Close frame we expect on the wire: None = none; Some(None) = empty payload.
    expected_close: Option<Option<u16>>,
    /// The application sent one large message (at most once per run).
    sent_large: bool,
    /// A streamed message being received: is it text, and its pieces so far.
    streamed: Option<(bool, Vec<u8>)>,
}

impl Driver {
    /// Joins a piece of a streamed message; the whole message once its last piece came.
    fn join_part(&mut self, part: &crate::message::MessagePart<'_>) -> Option<Seen> {
        assert_eq!(
            part.first,
            self.streamed.is_none(),
            "`first` marks exactly the first piece"
        );
        let (is_text, joined) = self
            .streamed
            .get_or_insert_with(|| (part.is_text, Vec::new()));
        assert_eq!(*is_text, part.is_text, "a message's pieces share its kind");
        joined.extend_from_slice(part.data);
        assert!(
            joined.len() as u64 <= self.limits.max_message_size,
            "streamed message over the limit"
        );
        if !part.last {
            return None;
        }
        let (is_text, joined) = self.streamed.take().expect("just inserted");
        Some(if is_text {
            Seen::Text(String::from_utf8(joined).expect("a streamed text message is valid UTF-8"))
        } else {
            Seen::Binary(joined)
        })
    }

    pub(super) fn new(limits: WsLimits, now: Instant) -> Self {
        Driver::with_role(limits, now, Role::Server, [0; 32])
    }

    /// A driver for either role; `seed` seeds the client's masking keys.
    pub(super) fn with_role(limits: WsLimits, now: Instant, role: Role, seed: [u8; 32]) -> Self {
        let conn = match role {
            Role::Server => WsConnection::server(limits, now),
            Role::Client => WsConnection::client(limits, now, seed),
        };
        assert_eq!(conn.role(), role);
        Driver {
            conn,
            role,
            limits,
            now,
            pending: Vec::new(),
            wire: Vec::new(),
            events: Vec::new(),
            consumed: 0,
            written_by_input: 0,
            expected_pongs: Vec::new(),
            keepalive_pings: 0,
            app_frames: Vec::new(),
            expected_close: None,
            sent_large: false,
            streamed: None,
        }
    }

    fn closed(&self) -> bool {
        matches!(self.events.last(), Some(Seen::Closed(..)))
    }

    fn record_closed(&mut self, code: CloseCode, reason: &str, kind: CloseKind) {
        assert!(!self.closed(), "a second Closed event");
        assert!(self.conn.is_closed() && !self.conn.is_open());
        assert!(self.conn.poll_timeout().is_none(), "no timer once closed");
        match kind {
            CloseKind::Abnormal => assert_eq!(code, CloseCode::ABNORMAL_CLOSURE),
            CloseKind::Failed(e) => assert_eq!(code, e.close_code()),
            CloseKind::Remote | CloseKind::Local => {
                assert!(code.is_valid_on_wire() || code == CloseCode::NO_STATUS_RECEIVED);
            }
        }
        self.events
            .push(Seen::Closed(code.as_u16(), reason.to_string(), kind));
    }

    /// The bytes of a chunk arrive: feed them (with what was pending) until the
    /// connection wants more, as `Server::feed_websocket` does.
    fn feed(&mut self, chunk: &[u8]) {
        if self.closed() {
            // The server stops reading; the connection must ignore anything offered.
            let mut input = chunk.to_vec();
            let before = self.wire.len();
            let (n, event) = self.conn.handle_input(&mut input, &mut self.wire, self.now);
            assert!(event.is_none(), "an event after Closed");
            assert!(n <= chunk.len());
            assert_eq!(self.wire.len(), before, "bytes written after Closed");
            return;
        }
        self.pending.extend_from_slice(chunk);
        for _ in 0..=self.pending.len() {
            let was_open = self.conn.is_open();
            // Pings are answered until a Close is received, even after ours (§5.5.2).
            let answers_pings = !self.conn.is_closed();
            let mut input = std::mem::take(&mut self.pending);
            let snapshot = input.clone();
            let before = self.wire.len();
            let (n, event) = self.conn.handle_input(&mut input, &mut self.wire, self.now);
            // Pieces of a streamed message are joined, so that the events compared across
            // chunkings are whole messages whatever the cuts (`None` inside: a piece).
            let event = event.map(|event| match event {
                WsEvent::Part(p) => self.join_part(&p),
                WsEvent::Message(Message::Text(t)) => Some(Seen::Text(t.into_owned())),
                WsEvent::Message(Message::Binary(b)) => Some(Seen::Binary(b.into_owned())),
                WsEvent::Ping(p) => Some(Seen::Ping(p.to_vec())),
                WsEvent::Pong(p) => Some(Seen::Pong(p.to_vec())),
                WsEvent::Closed(c) => {
                    Some(Seen::Closed(c.code.as_u16(), c.reason.into_owned(), c.kind))
                }
            });
            assert!(n <= snapshot.len(), "consumed more than offered");
            assert_eq!(input[n..], snapshot[n..], "unconsumed bytes were modified");
            self.pending = input;
            self.written_by_input += self.wire.len() - before;
            self.consumed += n;
            let Some(seen) = event else {
                // Only an incomplete header or control frame may be left: ≤ 130 bytes.
                let left = self.pending.len() - n;
                assert!(left <= 130, "{left} bytes left unconsumed without an event");
                self.pending.drain(..n);
                return;
            };
            let Some(seen) = seen else {
                assert!(n > 0, "a message piece consumed no input");
                self.pending.drain(..n);
                continue;
            };
            match &seen {
                Seen::Text(_) | Seen::Binary(_) => {
                    let len = match &seen {
                        Seen::Text(t) => t.len(),
                        Seen::Binary(b) => b.len(),
                        _ => unreachable!(),
                    };
                    // Whether data that arrives after our Close is delivered or dropped
                    // is the connection's policy (§5.5.1 allows either); not checked.
                    assert!(
                        len as u64 <= self.limits.max_message_size,
                        "message of {len} bytes over max_message_size {}",
                        self.limits.max_message_size
                    );
                }
                Seen::Ping(p) => {
                    assert!(p.len() <= 125);
                    if answers_pings {
                        self.expected_pongs.push(p.clone());
                    }
                }
                Seen::Pong(p) => assert!(p.len() <= 125),
                Seen::Closed(code, reason, kind) => {
                    let code = CloseCode::from_u16_unchecked(*code);
                    if was_open {
                        self.expected_close = match kind {
                            CloseKind::Remote => Some(
                                (code != CloseCode::NO_STATUS_RECEIVED).then_some(code.as_u16()),
                            ),
                            CloseKind::Failed(e) => Some(Some(e.close_code().as_u16())),
                            other => panic!("{other:?} while open after input"),
                        };
                    } else {
                        assert!(
                            matches!(kind, CloseKind::Local | CloseKind::Failed(_)),
                            "{kind:?} while closing"
                        );
                    }
                    assert!(reason.len() <= close::MAX_REASON_LEN);
                    let (reason, kind) = (reason.clone(), *kind);
                    self.record_closed(code, &reason, kind);
                    assert_eq!(n, snapshot.len(), "Closed consumes all input");
                    self.pending.clear();
                    return;
                }
            }
            // Only Closed may consume nothing; anything else must make progress.
            assert!(n > 0, "{seen:?} consumed no input");
            self.events.push(seen);
            self.pending.drain(..n);
        }
        panic!("handle_input keeps returning events without consuming input");
    }

    /// Calls `handle_timeout` while a deadline is due, as the server's timer wheel does.
    fn run_timers(&mut self) {
        for round in 0.. {
            let Some(deadline) = self.conn.poll_timeout() else {
                return;
            };
            if deadline > self.now {
                return;
            }
            assert!(
                round < 3,
                "the timer stays due after handle_timeout: busy loop"
            );
            self.timeout();
        }
    }

    fn timeout(&mut self) {
        let was_closed = self.closed();
        let before = self.wire.len();
        let result = self.conn.handle_timeout(self.now, &mut self.wire);
        let written = &self.wire[before..];
        if !written.is_empty() {
            match self.role {
                Role::Server => {
                    assert_eq!(written, [0x89, 0x00], "a timeout writes only an empty ping")
                }
                Role::Client => assert!(
                    written.len() == 6 && written[..2] == [0x89, 0x80],
                    "a timeout writes only an empty masked ping: {written:02x?}"
                ),
            }
            self.keepalive_pings += 1;
        }
        if let Some(event) = result {
            assert!(!was_closed, "Closed after Closed (timeout)");
            assert!(written.is_empty());
            self.record_closed(event.code, &event.reason, event.kind);
            assert_eq!(event.kind, CloseKind::Abnormal);
        }
    }

    fn act(&mut self, action: Action, variant: u8) {
        match action {
            Action::Nothing => {}
            Action::Advance(d) => self.now += d,
            Action::AdvanceToDeadline => {
                if let Some(t) = self.conn.poll_timeout() {
                    self.now = self.now.max(t);
                }
            }
            Action::SpuriousTimeout => self.timeout(),
            Action::SendText | Action::SendBinary => {
                let len = match variant % 4 {
                    0 => 0,
                    1 => 5,
                    2 => 126,
                    _ if !self.sent_large => {
                        self.sent_large = true;
                        65_536
                    }
                    _ => 125,
                };
                let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
                let message = if matches!(action, Action::SendText) {
                    Message::Text(Cow::Borrowed(&text))
                } else {
                    Message::Binary(Cow::Borrowed(text.as_bytes()))
                };
                let open = self.conn.is_open();
                let before = self.wire.len();
                let result = self.conn.send(&message, &mut self.wire);
                if open {
                    assert!(result.is_ok());
                    let opcode = if message.is_text() { 1 } else { 2 };
                    self.app_frames.push((opcode, message.as_bytes().to_vec()));
                } else {
                    assert_eq!(result, Err(SendError::NotOpen));
                    assert_eq!(self.wire.len(), before);
                }
            }
            Action::Ping => {
                let len = [0, 1, 125, 126][usize::from(variant % 4)];
                let payload = vec![b'p'; len];
                let open = self.conn.is_open();
                let before = self.wire.len();
                let result = self.conn.ping(&payload, &mut self.wire);
                match (len <= 125, open) {
                    (true, true) => {
                        assert!(result.is_ok());
                        self.app_frames.push((9, payload));
                    }
                    (true, false) => assert_eq!(result, Err(SendError::NotOpen)),
                    (false, _) => assert!(matches!(result, Err(SendError::Usage(_)))),
                }
                if result.is_err() {
                    assert_eq!(self.wire.len(), before);
                }
            }
            Action::Close => {
                let code = [1000, 1001, 4000, 1005][usize::from(variant % 4)];
                let reason = if variant & 4 == 0 { "bye" } else { "" };
                let open = self.conn.is_open();
                let before = self.wire.len();
                let result = self.conn.close(
                    CloseCode::from_u16_unchecked(code),
                    reason,
                    &mut self.wire,
                    self.now,
                );
                if code == 1005 {
                    assert!(matches!(result, Err(SendError::Usage(_))));
                } else if open {
                    assert!(result.is_ok());
                    assert!(!self.conn.is_open() && !self.conn.is_closed());
                    self.expected_close = Some(Some(code));
                } else {
                    assert_eq!(result, Err(SendError::NotOpen));
                }
                if result.is_err() {
                    assert_eq!(self.wire.len(), before);
                }
            }
            Action::Eof => self.eof(),
        }
    }

    fn eof(&mut self) {
        match self.conn.handle_eof() {
            Some(event) => {
                assert!(!self.closed(), "Closed after Closed (eof)");
                self.record_closed(event.code, &event.reason, event.kind);
            }
            None => assert!(self.closed(), "handle_eof gave no event before Closed"),
        }
    }

    /// End of run: every connection ends with exactly one Closed, and the wire is a
    /// valid sequence of server frames matching what happened.
    pub(super) fn finish(mut self) -> (Vec<Seen>, Vec<u8>) {
        self.eof();
        assert_eq!(self.conn.handle_eof(), None);
        assert_eq!(self.conn.handle_timeout(self.now, &mut self.wire), None);
        let frames = parse_frames(&self.wire, self.role);
        // The protocol's own output is bounded by what the peer sent: a pong is shorter
        // than its ping, a Close reply shorter than the Close, plus one failure Close.
        // A client adds a 4-byte masking key to every reply: a pong to an empty 2-byte
        // ping is 6 bytes, so at most three times the input.
        let bound = match self.role {
            Role::Server => self.consumed + 2 + close::MAX_REASON_LEN + 2,
            Role::Client => 3 * self.consumed + 6 + close::MAX_REASON_LEN + 2,
        };
        assert!(
            self.written_by_input <= bound,
            "wrote {} bytes in reply to {} bytes",
            self.written_by_input,
            self.consumed
        );
        let mut pongs = Vec::new();
        let mut others = Vec::new();
        let mut close_frame = None;
        for (opcode, payload) in frames {
            match opcode {
                0xA => pongs.push(payload),
                0x8 => close_frame = Some(payload),
                op => others.push((op, payload.to_vec())),
            }
        }
        assert_eq!(
            pongs, self.expected_pongs,
            "pongs echo pings received before the peer's Close"
        );
        // Keepalive pings look like empty application pings: count those apart.
        let empty_ping = |(op, p): &(u8, Vec<u8>)| *op == 9 && p.is_empty();
        let empty_on_wire = others.iter().filter(|f| empty_ping(f)).count();
        let empty_by_app = self.app_frames.iter().filter(|f| empty_ping(f)).count();
        assert_eq!(
            empty_on_wire,
            empty_by_app + self.keepalive_pings,
            "empty pings"
        );
        others.retain(|f| !empty_ping(f));
        let mut app = self.app_frames.clone();
        app.retain(|f| !empty_ping(f));
        assert_eq!(others, app, "application frames, in order");
        let close_code = close_frame.map(|p| match p[..] {
            [] => None,
            [hi, lo, ..] => Some(u16::from_be_bytes([hi, lo])),
            [_] => unreachable!("checked by parse_frames"),
        });
        assert_eq!(
            close_code, self.expected_close,
            "the Close frame on the wire"
        );
        (self.events, self.wire)
    }
}

/// Parses everything one end wrote as WebSocket frames, independently of the crate's
/// parser, and panics unless it is a sequence of complete, unfragmented frames of that
/// role (unmasked from a server, masked from a client, RFC 6455 §5.1) with valid
/// opcodes, minimal lengths, UTF-8 text, control payloads of at most 125 bytes, at most
/// one Close (with a valid payload), and after it nothing but Pongs (pings are answered
/// until the peer's Close arrives, RFC 6455 §5.5.2). Returns (opcode, unmasked payload)
/// for each frame.
pub(super) fn parse_frames(wire: &[u8], role: Role) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut at = 0;
    let mut closed = false;
    while at < wire.len() {
        let rest = &wire[at..];
        assert!(
            !closed || rest.first().is_some_and(|b| b & 0x0F == 0xA),
            "a frame other than a Pong after the Close frame: {:02x?}",
            rest
        );
        assert!(rest.len() >= 2, "a truncated frame header");
        let (b0, b1) = (rest[0], rest[1]);
        assert_eq!(b0 & 0x80, 0x80, "frames are never fragmented here");
        assert_eq!(b0 & 0x70, 0, "RSV bits set");
        let opcode = b0 & 0x0F;
        assert!(matches!(opcode, 1 | 2 | 8 | 9 | 10), "opcode {opcode}");
        let masked = b1 & 0x80 != 0;
        match role {
            Role::Server => assert!(!masked, "a server frame is masked"),
            Role::Client => assert!(masked, "a client frame is not masked (RFC 6455 §5.3)"),
        }
        let (len, header): (u64, usize) = match b1 & 0x7F {
            126 => {
                assert!(rest.len() >= 4, "truncated length");
                let len = u64::from(u16::from_be_bytes([rest[2], rest[3]]));
                assert!(len >= 126, "non-minimal 16-bit length");
                (len, 4)
            }
            127 => {
                assert!(rest.len() >= 10, "truncated length");
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[2..10]);
                let len = u64::from_be_bytes(b);
                assert!(len > 0xFFFF && len >> 63 == 0, "bad 64-bit length {len}");
                (len, 10)
            }
            short => (u64::from(short), 2),
        };
        let (header, key) = if masked {
            assert!(rest.len() >= header + 4, "truncated masking key");
            let k = [
                rest[header],
                rest[header + 1],
                rest[header + 2],
                rest[header + 3],
            ];
            (header + 4, Some(k))
        } else {
            (header, None)
        };
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| header.checked_add(len))
            .filter(|&end| end <= rest.len())
            .expect("a truncated payload");
        let mut owned = rest[header..end].to_vec();
        if let Some(key) = key {
            for (i, b) in owned.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        let payload = &owned[..];
        match opcode {
            1 => assert!(std::str::from_utf8(payload).is_ok(), "text is not UTF-8"),
            8..=10 => assert!(payload.len() <= 125, "control payload over 125"),
            _ => {}
        }
        if opcode == 8 {
            closed = true;
            match payload {
                [] => {}
                [_] => panic!("a one-byte Close payload"),
                [hi, lo, reason @ ..] => {
                    let code = u16::from_be_bytes([*hi, *lo]);
                    assert!(valid_close_code(code), "Close code {code} on the wire");
                    assert!(
                        std::str::from_utf8(reason).is_ok(),
                        "Close reason not UTF-8"
                    );
                }
            }
        }
        frames.push((opcode, owned));
        at += end;
    }
    frames
}

/// Splits the control header `[config][n_ops][ops...]` off `data`.
pub(super) fn ops_and_stream(data: &[u8]) -> (u8, &[u8], &[u8]) {
    let mut r = Reader { data };
    let config = r.u8();
    let n_ops = usize::from(r.u8());
    let ops = r.take(n_ops);
    (config, ops, r.rest())
}

/// Feeds `stream` in the chunk sizes of `ops` (ignoring their actions), no clock.
pub(super) fn plain_run(
    limits: WsLimits,
    stream: &[u8],
    chunks: impl Iterator<Item = usize>,
) -> (Vec<Seen>, Vec<u8>) {
    plain_run_as(Role::Server, [0; 32], limits, stream, chunks)
}

/// [`plain_run`] for either role.
pub(super) fn plain_run_as(
    role: Role,
    seed: [u8; 32],
    limits: WsLimits,
    stream: &[u8],
    chunks: impl Iterator<Item = usize>,
) -> (Vec<Seen>, Vec<u8>) {
    let mut driver = Driver::with_role(limits, Instant::now(), role, seed);
    let mut rest = stream;
    let mut chunks = chunks;
    while !rest.is_empty() {
        let n = chunks.next().unwrap_or(usize::MAX).min(rest.len());
        driver.feed(&rest[..n]);
        rest = &rest[n..];
    }
    driver.finish()
}

/// Runs the full schedule: actions, clock, timers, chunks.
pub(super) fn scheduled_run(driver: &mut Driver, ops: &[u8], stream: &[u8]) {
    let mut rest = stream;
    let mut step = 0usize;
    // Bound the work: with many 1-byte chunks the ops cycle; cap the number of steps.
    while !rest.is_empty() || (step < ops.len()) {
        if ops.is_empty() {
            driver.feed(rest);
            break;
        }
        let op = ops[step % ops.len()];
        let (action, chunk) = decode_op(op);
        let variant = (step / ops.len()) as u8 ^ op;
        step += 1;
        driver.act(action, variant);
        driver.run_timers();
        if matches!(action, Action::Eof) {
            // After EOF nothing more arrives.
            break;
        }
        let n = chunk.min(rest.len());
        driver.feed(&rest[..n]);
        rest = &rest[n..];
        driver.run_timers();
    }
}

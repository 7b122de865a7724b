//! The mio driver: the only part of the server that touches sockets or reads the clock.
//!
//! One thread, one `mio::Poll`, edge-triggered. Each turn of the loop:
//!
//! 1. sleeps in `poll` until a socket is ready, a [`Handle`] rings the waker, or the
//!    core's earliest deadline is due;
//! 2. accepts new connections until `WouldBlock`;
//! 3. hands each readiness event to the core, which reads the connection through this
//!    driver's [`Transport`] (its socket table) and runs the protocol and the handler —
//!    for an outbound connection still connecting, the event first says whether the
//!    connect succeeded;
//! 4. lets the core finish the turn ([`Core::turn`](super::core::Core::turn)): commands
//!    from other threads, due timers, the outbound connects the handler asked for, and
//!    every connection's output — all frames queued during the turn leave in one `write`
//!    (or `writev`), large output as soon as it is queued — and the FINs and closes it
//!    asks for.
//!
//! Interest follows what the core wants: a connection is registered for reading while it
//! wants input (a connection paused by backpressure is not even woken by a flooding
//! peer), and for writing while a write is blocked.

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::core::Core;
use super::handle::{self, Commands, Handle, Wake};
use super::handler::Handler;
use super::ids::ConnId;
use super::stats::{ConnectionCounts, Stats};
use super::timers::wait_until;
use super::transport::Transport;
use crate::config::Config;
use crate::log::Level;

/// The listening socket's token.
const LISTENER: Token = Token(0);
/// The cross-thread waker's token.
const WAKER: Token = Token(1);
/// Connection tokens are their slot index plus this.
const FIRST_CONN_TOKEN: usize = 2;
/// While descriptors are exhausted and none could be freed to shed connections, accept
/// is retried this often (and whenever a connection closes): a queue that filled up
/// raises no new readiness edge.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// Descriptors the process needs besides its connections (the poller, the waker, the
/// listener, the spare, stdio, a few files).
const RESERVED_FDS: u64 = 16;

impl Wake for Waker {
    fn wake(&self) -> io::Result<()> {
        Waker::wake(self)
    }
}

/// One connection's socket, by slot index.
#[derive(Debug)]
struct Socket {
    /// The connection it belongs to (a slot's previous occupant's socket never serves
    /// the next).
    id: ConnId,
    stream: TcpStream,
    /// What it is registered for.
    interest: Interest,
    /// An outbound connect under way: registered for writing until it is answered (see
    /// [`Sockets::connect_outcome`]).
    connecting: bool,
}

/// How an outbound connect stands after a readiness event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnectOutcome {
    /// Not answered yet (the event was spurious): wait for the next.
    Pending,
    Connected,
    Failed(io::ErrorKind),
}

/// The driver's side of the [`Transport`]: its sockets, by slot index, and the poller
/// they are registered with.
#[derive(Debug)]
struct Sockets {
    slots: Vec<Option<Socket>>,
    poll: Poll,
}

impl Sockets {
    fn get(&mut self, id: ConnId) -> io::Result<&mut Socket> {
        self.slots
            .get_mut(id.index() as usize)
            .and_then(Option::as_mut)
            .filter(|s| s.id == id)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    /// The connection whose socket is in slot `index`.
    fn id_at(&self, index: usize) -> Option<ConnId> {
        self.slots.get(index)?.as_ref().map(|s| s.id)
    }

    /// Puts `stream` in `id`'s slot, registered for `interest`.
    fn insert(
        &mut self,
        id: ConnId,
        mut stream: TcpStream,
        interest: Interest,
        connecting: bool,
    ) -> io::Result<()> {
        // Small frames must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let token = Token(id.index() as usize + FIRST_CONN_TOKEN);
        self.poll
            .registry()
            .register(&mut stream, token, interest)?;
        let index = id.index() as usize;
        if self.slots.len() <= index {
            self.slots.resize_with(index + 1, || None);
        }
        self.slots[index] = Some(Socket {
            id,
            stream,
            interest,
            connecting,
        });
        Ok(())
    }

    /// Is `id` an outbound connect under way?
    fn is_connecting(&mut self, id: ConnId) -> bool {
        self.get(id).is_ok_and(|s| s.connecting)
    }

    /// After a readiness event on a connect under way, as mio's `TcpStream::connect`
    /// says to tell: a pending socket error is a failed connect; otherwise a peer
    /// address means it is established, and `NotConnected` (or `EINPROGRESS`) that it is
    /// not answered yet.
    fn connect_outcome(&mut self, id: ConnId) -> ConnectOutcome {
        let Ok(socket) = self.get(id) else {
            return ConnectOutcome::Pending;
        };
        let outcome = match socket.stream.take_error() {
            Ok(Some(e)) | Err(e) => ConnectOutcome::Failed(e.kind()),
            Ok(None) => match socket.stream.peer_addr() {
                Ok(_) => ConnectOutcome::Connected,
                // EINPROGRESS is 115 on Linux; std names it only as `InProgress` (unstable).
                Err(e) if e.kind() == io::ErrorKind::NotConnected => ConnectOutcome::Pending,
                Err(e) if e.raw_os_error() == Some(115) => ConnectOutcome::Pending,
                Err(e) => ConnectOutcome::Failed(e.kind()),
            },
        };
        if outcome == ConnectOutcome::Connected {
            socket.connecting = false;
        }
        outcome
    }
}

impl Transport for Sockets {
    fn read(&mut self, id: ConnId, buf: &mut [u8]) -> io::Result<usize> {
        self.get(id)?.stream.read(buf)
    }

    fn write(&mut self, id: ConnId, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let stream = &mut self.get(id)?.stream;
        match bufs {
            [one] => stream.write(one),
            _ => stream.write_vectored(bufs),
        }
    }

    fn shutdown_write(&mut self, id: ConnId) -> io::Result<()> {
        self.get(id)?.stream.shutdown(Shutdown::Write)
    }

    fn connect(&mut self, id: ConnId, addr: SocketAddr) -> io::Result<()> {
        let stream = TcpStream::connect(addr)?;
        // Writable says the connect was answered; readable, that the peer spoke or left.
        self.insert(id, stream, Interest::READABLE | Interest::WRITABLE, true)
    }

    fn close(&mut self, id: ConnId) {
        if let Some(slot) = self.slots.get_mut(id.index() as usize)
            && slot.as_ref().is_some_and(|s| s.id == id)
        {
            // Closing the socket removes it from the poller: no `deregister` needed.
            *slot = None;
        }
    }

    /// Writing interest is dropped lazily (only with another change): a stale one costs
    /// at most a spurious wake-up, cheaper than a system call.
    fn interest(&mut self, id: ConnId, read: bool, write: bool) {
        let Some(socket) = self
            .slots
            .get_mut(id.index() as usize)
            .and_then(Option::as_mut)
            .filter(|s| s.id == id)
        else {
            return;
        };
        if socket.connecting {
            return; // writability is how the connect's answer comes
        }
        let current = socket.interest;
        let desired = match (read, write) {
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (true, false) if current.is_readable() => return,
            (true, false) => Interest::READABLE,
            (false, true) => Interest::WRITABLE,
            // Neither: stay readable, for the peer's hang-up.
            (false, false) => Interest::READABLE,
        };
        if desired == current {
            return;
        }
        let token = Token(id.index() as usize + FIRST_CONN_TOKEN);
        if self
            .poll
            .registry()
            .reregister(&mut socket.stream, token, desired)
            .is_ok()
        {
            socket.interest = desired;
        }
    }
}

/// Running out of file descriptors, survived.
///
/// When `accept` fails with `EMFILE`/`ENFILE`, the pending connection stays in the
/// kernel's queue, and with edge-triggered readiness nothing announces it again: a full
/// queue would keep the server unreachable after every client has gone. So the driver
/// keeps one descriptor in reserve: it closes the spare, accepts the waiting connection,
/// closes it at once (the client learns it was refused instead of hanging), reopens the
/// spare, and repeats until the queue is empty — which re-arms the readiness edge for the
/// next connection. It says so once per episode, not per connection.
#[derive(Debug)]
struct Descriptors {
    /// A descriptor held in reserve (`/dev/null`).
    spare: Option<File>,
    /// Connections refused since descriptors ran out; `Some` during an episode.
    shedding: Option<u64>,
    /// The spare could not be reopened: retry `accept` at this instant.
    retry_at: Option<Instant>,
}

impl Descriptors {
    fn new() -> Descriptors {
        Descriptors {
            spare: File::open("/dev/null").ok(),
            shedding: None,
            retry_at: None,
        }
    }
}

/// Is this `accept` error the process (or system) running out of descriptors or memory,
/// rather than one connection's problem?
fn is_resource_exhaustion(e: &io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 (Linux): std names only some.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None` if unknown or
/// unlimited.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// A WebSocket and HTTP server on one mio event loop.
///
/// ```no_run
/// use pushwire::{Config, Context, ConnId, Handler, Message, Server};
///
/// struct Echo;
/// impl Handler for Echo {
///     fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, msg: Message<'_>) {
///         let _ = ctx.send(conn, &msg);
///     }
/// }
///
/// let mut server = Server::bind("127.0.0.1:9001".parse().unwrap(), Config::default())?;
/// server.run(&mut Echo)?; // until a Handle (server.handle()) asks for shutdown
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Server {
    sockets: Sockets,
    events: Events,
    listener: Option<TcpListener>,
    local_addr: SocketAddr,
    commands: Commands,
    handle: Handle,
    core: Core,
    descriptors: Descriptors,
    /// This turn's readiness events: (token, readable, read closed, writable). Reused, so
    /// a steady state allocates nothing.
    ready_events: Vec<(Token, bool, bool, bool)>,
    stopped: bool,
}

impl Server {
    /// Binds `addr` and prepares the loop. `config` is validated here, and
    /// `max_connections` is compared with the process's open-files limit (a warning
    /// through [`Config::log`] if it cannot be reached).
    pub fn bind(addr: SocketAddr, config: Config) -> io::Result<Server> {
        let core = Core::new(config, Instant::now())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let (handle, commands) =
            handle::channel(Arc::new(waker), core.config().command_queue_capacity);
        let max = core.config().max_connections as u64;
        if let Some(limit) = open_files_limit()
            && max + RESERVED_FDS > limit
        {
            core.log().write(
                Level::Warn,
                &format!(
                    "max_connections is {max} but the open-files limit is {limit}: \
                     connections past about {} will be refused (raise it with `ulimit -n`)",
                    limit.saturating_sub(RESERVED_FDS)
                ),
            );
        }
        Ok(Server {
            sockets: Sockets {
                slots: Vec::new(),
                poll,
            },
            events: Events::with_capacity(1024),
            listener: Some(listener),
            local_addr,
            commands,
            handle,
            core,
            descriptors: Descriptors::new(),
            ready_events: Vec::new(),
            stopped: false,
        })
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle for other threads.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Number of connections (in any phase).
    pub fn connection_count(&self) -> usize {
        self.core.len()
    }

    /// What the server has counted since it started (see [`Stats`]); a handler reads the
    /// same through [`Context::stats`](crate::Context::stats).
    pub fn stats(&self) -> &Stats {
        self.core.stats()
    }

    /// What the server has compressed (permessage-deflate); a handler reads the same
    /// through [`Context::compression_stats`](crate::Context::compression_stats).
    pub fn compression_stats(&self) -> crate::ws::compression::CompressionStats {
        self.core.compression_stats()
    }

    /// The connections now, by transport and state (a walk over all of them).
    pub fn connection_counts(&self) -> ConnectionCounts {
        self.core.connection_counts()
    }

    /// Runs the loop until graceful shutdown completes.
    pub fn run(&mut self, handler: &mut impl Handler) -> io::Result<()> {
        while self.poll(handler, None)? {}
        Ok(())
    }

    /// One turn of the loop, sleeping at most `timeout` (and never past the next
    /// deadline). Returns `false` once the server has shut down.
    pub fn poll(
        &mut self,
        handler: &mut impl Handler,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        if self.stopped {
            return Ok(false);
        }
        let now = Instant::now();
        let deadline = [self.core.poll_timeout(), self.descriptors.retry_at]
            .into_iter()
            .flatten()
            .min();
        let mut wait = deadline.map(|at| wait_until(at, now));
        if let Some(t) = timeout {
            wait = Some(wait.map_or(t, |w| w.min(t)));
        }
        if self.core.has_ready() {
            wait = Some(Duration::ZERO);
        }
        match self.sockets.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        self.core.set_now(now, SystemTime::now());

        self.ready_events.clear();
        for event in self.events.iter() {
            // Errors and hang-ups surface as a read of 0 bytes or an error: treat them as
            // readable and let the read tell.
            let closed = event.is_read_closed() || event.is_error();
            let readable = event.is_readable() || closed;
            self.ready_events
                .push((event.token(), readable, closed, event.is_writable()));
        }
        for i in 0..self.ready_events.len() {
            let (token, readable, closed, writable) = self.ready_events[i];
            match token {
                LISTENER => self.accept(),
                WAKER => {} // commands are drained in the turn, every turn
                Token(t) => {
                    let Some(id) = self.sockets.id_at(t - FIRST_CONN_TOKEN) else {
                        continue;
                    };
                    if self.sockets.is_connecting(id) {
                        match self.sockets.connect_outcome(id) {
                            ConnectOutcome::Pending => continue,
                            ConnectOutcome::Failed(error) => {
                                self.core.connect_failed(id, error, handler);
                                continue;
                            }
                            // On to the reads and writes the same event allows.
                            ConnectOutcome::Connected => self.core.connected(id, handler),
                        }
                    }
                    if writable {
                        self.core.write_to(id, &mut self.sockets, handler);
                    }
                    if readable {
                        // A FIN that came with the data raises no further edge: then read
                        // on until the end of the stream is seen.
                        self.core.read_from(id, &mut self.sockets, handler, !closed);
                    }
                }
            }
        }
        if self.descriptors.retry_at.is_some_and(|at| now >= at) {
            self.accept();
        }
        if self.core.is_shutting_down()
            && let Some(mut listener) = self.listener.take()
        {
            // First turn of the shutdown: stop accepting.
            let _ = self.sockets.poll.registry().deregister(&mut listener);
        }
        let connections = self.core.len();
        self.stopped = self.core.turn(&mut self.sockets, handler, &self.commands);
        if self.core.len() < connections && self.descriptors.retry_at.is_some() {
            // Descriptors were freed: a connection waiting in the queue can be taken now.
            self.accept();
        }
        // The turn's work, from waking up (`now`) to sleeping again: one clock read more.
        self.core
            .record_turn(Instant::now().saturating_duration_since(now));
        Ok(!self.stopped)
    }

    // ===== accepting =====

    fn accept(&mut self) {
        self.descriptors.retry_at = None;
        let mut failures = 0;
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_resource_exhaustion(&e) => return self.shed(),
                // ECONNABORTED and friends concern one connection: go on, but not forever
                // if the listener itself is broken.
                Err(_) => {
                    failures += 1;
                    if failures >= 64 {
                        self.descriptors.retry_at = Some(self.core.now() + ACCEPT_RETRY);
                        return;
                    }
                    continue;
                }
            };
            if let Some(refused) = self.descriptors.shedding.take() {
                self.core.log().write(
                    Level::Info,
                    &format!(
                        "accepting connections again ({refused} refused while out of file \
                         descriptors)"
                    ),
                );
            }
            let Some(id) = self.core.open(peer) else {
                drop(stream); // full or shutting down: close at once rather than leave it queued
                continue;
            };
            self.add_socket(id, stream);
        }
    }

    fn add_socket(&mut self, id: ConnId, stream: TcpStream) {
        if self
            .sockets
            .insert(id, stream, Interest::READABLE, false)
            .is_err()
        {
            self.core.remove_quietly(id);
            return;
        }
        self.core.trace_note(id, "accepted");
    }

    /// Out of descriptors: refuse the queued connections promptly (see [`Descriptors`]).
    fn shed(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        if self.descriptors.shedding.is_none() {
            self.descriptors.shedding = Some(0);
            self.core.log().write(
                Level::Warn,
                &format!(
                    "out of file descriptors with {} connections: refusing new ones until some close \
                     (raise the limit with `ulimit -n`, or lower max_connections)",
                    self.core.len()
                ),
            );
        }
        loop {
            drop(self.descriptors.spare.take());
            // The freed descriptor takes the waiting connection, which is closed at once
            // (before the spare is reopened, or there would be no descriptor for it): the
            // client learns it was refused instead of hanging in the queue.
            let accepted = listener.accept().map(|(stream, _)| drop(stream));
            self.descriptors.spare = File::open("/dev/null").ok();
            match accepted {
                Ok(()) => {
                    if let Some(n) = &mut self.descriptors.shedding {
                        *n += 1;
                    }
                    self.core.refused_no_descriptors();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.descriptors.spare.is_some() {
                        return; // the queue is empty: its next connection raises an edge
                    }
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
            if self.descriptors.spare.is_none() {
                break;
            }
        }
        // No spare to shed with: look again soon, and whenever a connection closes.
        self.descriptors.retry_at = Some(self.core.now() + ACCEPT_RETRY);
    }
}

//! [`Handle`]: talk to the event loop from other threads.
//!
//! Commands go through a bounded queue; a waker interrupts the loop's wait (the mio
//! driver's `mio::Waker`; the in-memory driver needs none). The waker is rung only when
//! the loop is not already due to look at the queue, so a burst of sends costs one
//! wake-up system call, not one per send.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use super::ids::{ConnId, RequestId};
use crate::message::Message;
use crate::ws::close::CloseCode;

/// A command from another thread.
#[derive(Debug)]
pub(crate) enum Command {
    Send(ConnId, Message<'static>),
    Broadcast(Message<'static>),
    Close(ConnId, CloseCode, String),
    Respond(RequestId, crate::http::Response),
    Notify(u64),
    Shutdown,
}

/// Why a [`Handle`] call was not queued. The value given to the call is handed back.
#[derive(Debug)]
pub struct HandleError<T> {
    /// What went wrong.
    pub kind: HandleErrorKind,
    /// The value that was not queued.
    pub value: T,
}

/// What went wrong with a [`Handle`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleErrorKind {
    /// The command queue is full
    /// ([`Config::command_queue_capacity`](crate::Config::command_queue_capacity)): the loop is
    /// not keeping up. Try again later.
    QueueFull,
    /// The server has stopped.
    Stopped,
    /// The arguments were wrong (checked before queuing).
    Usage(crate::error::UsageError),
}

impl<T> std::fmt::Display for HandleError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            HandleErrorKind::QueueFull => f.write_str("the server's command queue is full"),
            HandleErrorKind::Stopped => f.write_str("the server has stopped"),
            HandleErrorKind::Usage(e) => write!(f, "{e}"),
        }
    }
}

impl<T: std::fmt::Debug> std::error::Error for HandleError<T> {}

/// A cloneable, `Send` handle to a running server: send, broadcast, close, shut down.
///
/// Calls return as soon as the command is queued; the loop carries it out on its next
/// turn. A send that cannot be delivered at that point is handed back to the handler's
/// [`on_undelivered`](crate::Handler::on_undelivered).
#[derive(Clone)]
pub struct Handle {
    tx: SyncSender<Command>,
    waker: Arc<dyn Wake>,
    /// `true` while a wake-up is pending that the loop has not yet acted on.
    wake_pending: Arc<AtomicBool>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// Interrupts the loop's wait, so it looks at the command queue.
pub(crate) trait Wake: Send + Sync {
    /// Wakes the loop; an error means it is gone.
    fn wake(&self) -> std::io::Result<()>;
}

/// The loop's end of the command queue.
#[derive(Debug)]
pub(crate) struct Commands {
    rx: Receiver<Command>,
    wake_pending: Arc<AtomicBool>,
}

pub(crate) fn channel(waker: Arc<dyn Wake>, capacity: usize) -> (Handle, Commands) {
    let (tx, rx) = sync_channel(capacity);
    let wake_pending = Arc::new(AtomicBool::new(false));
    (
        Handle {
            tx,
            waker,
            wake_pending: wake_pending.clone(),
        },
        Commands { rx, wake_pending },
    )
}

impl Commands {
    /// Takes every queued command. Clears the wake-up flag *first*, so a command queued
    /// during the drain either is seen by it or rings the waker again.
    pub(crate) fn drain(&self, mut each: impl FnMut(Command)) {
        self.wake_pending.store(false, Ordering::SeqCst);
        while let Ok(cmd) = self.rx.try_recv() {
            each(cmd);
        }
    }
}

impl Handle {
    fn submit(&self, cmd: Command) -> Result<(), (HandleErrorKind, Command)> {
        match self.tx.try_send(cmd) {
            Ok(()) => {
                if !self.wake_pending.swap(true, Ordering::SeqCst) {
                    // The loop may be asleep in poll; wake it. A failure means the poller
                    // is gone, i.e. the server stopped.
                    if self.waker.wake().is_err() {
                        return Ok(());
                    }
                }
                Ok(())
            }
            Err(TrySendError::Full(cmd)) => Err((HandleErrorKind::QueueFull, cmd)),
            Err(TrySendError::Disconnected(cmd)) => Err((HandleErrorKind::Stopped, cmd)),
        }
    }

    /// Sends a message to one connection.
    pub fn send(
        &self,
        conn: ConnId,
        message: impl Into<Message<'static>>,
    ) -> Result<(), HandleError<Message<'static>>> {
        self.submit(Command::Send(conn, message.into()))
            .map_err(|(kind, cmd)| match cmd {
                Command::Send(_, value) => HandleError { kind, value },
                _ => unreachable!("submit hands back the command it was given"),
            })
    }

    /// Sends a message to every open WebSocket (encoded once, and compressed once for
    /// the connections that compress alike; see
    /// [`Context::broadcast`](crate::Context::broadcast)). Connections whose write
    /// buffer is at its high-water mark are skipped.
    pub fn broadcast(
        &self,
        message: impl Into<Message<'static>>,
    ) -> Result<(), HandleError<Message<'static>>> {
        self.submit(Command::Broadcast(message.into()))
            .map_err(|(kind, cmd)| match cmd {
                Command::Broadcast(value) => HandleError { kind, value },
                _ => unreachable!("submit hands back the command it was given"),
            })
    }

    /// Starts the closing handshake on one connection. The code and reason are checked
    /// here (a code that may not be sent, a reason over 123 bytes → `Usage`); a connection
    /// that is already gone or closing when the loop runs the command is left as it is.
    pub fn close(
        &self,
        conn: ConnId,
        code: CloseCode,
        reason: impl Into<String>,
    ) -> Result<(), HandleError<()>> {
        let reason = reason.into();
        let misuse = if !code.is_valid_on_wire() {
            Some(crate::error::UsageError::InvalidCloseCode(code))
        } else if reason.len() > crate::ws::close::MAX_REASON_LEN {
            Some(crate::error::UsageError::CloseReasonTooLong(reason.len()))
        } else {
            None
        };
        if let Some(e) = misuse {
            return Err(HandleError {
                kind: HandleErrorKind::Usage(e),
                value: (),
            });
        }
        self.submit(Command::Close(conn, code, reason))
            .map_err(|(kind, _)| HandleError { kind, value: () })
    }

    /// Answers a request (typically a parked long-poll) from another thread. If the
    /// client has gone by the time the loop runs the command, the response is dropped.
    pub fn respond(
        &self,
        request: RequestId,
        response: crate::http::Response,
    ) -> Result<(), HandleError<crate::http::Response>> {
        self.submit(Command::Respond(request, response))
            .map_err(|(kind, cmd)| match cmd {
                Command::Respond(_, value) => HandleError { kind, value },
                _ => unreachable!("submit hands back the command it was given"),
            })
    }

    /// Calls [`Handler::on_notify`](crate::Handler::on_notify) with `token` on the loop's
    /// thread.
    pub fn notify(&self, token: u64) -> Result<(), HandleError<u64>> {
        self.submit(Command::Notify(token))
            .map_err(|(kind, _)| HandleError { kind, value: token })
    }

    /// Begins graceful shutdown (see [`Context::shutdown`](crate::Context::shutdown)).
    pub fn shutdown(&self) -> Result<(), HandleError<()>> {
        self.submit(Command::Shutdown)
            .map_err(|(kind, _)| HandleError { kind, value: () })
    }
}

//! What the two Redis connections share: the opening commands, the output buffer, and
//! the errors that end a connection.
//!
//! Both are a [`Wire`]: the reply parser within its limits, the output, and the state
//! every connection has (connected, failed). A connection to Redis begins with `AUTH` (when the URL has a password) and `SELECT`
//! (when it names a database other than 0), pipelined ahead of everything the caller
//! queues: Redis answers in order, so the first replies are theirs. Either refused (a wrong
//! password, a database that does not exist) ends the connection with
//! [`LinkError::Refused`], before any of the caller's replies is looked at.

use std::collections::VecDeque;
use std::fmt;

use super::resp::{Command, Reply, ReplyLimits, ReplyParser, RespError};
use super::url::RedisUrl;
use crate::status::Status;

/// Why a connection to Redis cannot go on. The connection is closed; the engine opens a
/// new one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// A reply the parser refused: malformed, or over a limit.
    Resp(RespError),
    /// `AUTH` or `SELECT` (or, on the subscriptions connection, a `SUBSCRIBE`) answered
    /// with an error: `command` is which, `message` Redis's text.
    Refused {
        /// The command refused.
        command: &'static str,
        /// What Redis answered, lossily decoded.
        message: String,
    },
    /// A reply that no request asked for, or not of the shape its request gets.
    Unexpected(&'static str),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Resp(e) => e.fmt(f),
            LinkError::Refused { command, message } => {
                write!(f, "redis refused {command}: {message}")
            }
            LinkError::Unexpected(what) => write!(f, "unexpected redis reply: {what}"),
        }
    }
}

impl std::error::Error for LinkError {}

impl From<RespError> for LinkError {
    fn from(e: RespError) -> Self {
        LinkError::Resp(e)
    }
}

/// The opening commands of a connection, and the replies still awaited for them.
#[derive(Debug, Default)]
pub(crate) struct Opening {
    awaited: VecDeque<&'static str>,
}

impl Opening {
    /// Writes `AUTH` and `SELECT` as `url` asks into `out`.
    pub(crate) fn write(url: &RedisUrl, out: &mut Vec<u8>) -> Opening {
        let mut awaited = VecDeque::new();
        if let Some(password) = url.password() {
            let mut auth = Command::new(out, "AUTH");
            if let Some(user) = url.user() {
                auth.arg(user);
            }
            auth.arg(password);
            auth.finish();
            awaited.push_back("AUTH");
        }
        if url.db() != 0 {
            // Dropping the command puts its header in place, as `finish` does.
            Command::new(out, "SELECT").arg_int(i64::from(url.db()));
            awaited.push_back("SELECT");
        }
        Opening { awaited }
    }

    /// Are replies to the opening commands still awaited?
    pub(crate) fn is_pending(&self) -> bool {
        !self.awaited.is_empty()
    }

    /// Takes the reply to the next opening command: `+OK`, or the connection ends.
    pub(crate) fn on_reply(&mut self, reply: &Reply<'_>) -> Result<(), LinkError> {
        let command = self
            .awaited
            .pop_front()
            .ok_or(LinkError::Unexpected("no opening command awaits a reply"))?;
        match reply {
            Reply::Simple(b"OK") => Ok(()),
            Reply::Error(text) => Err(LinkError::Refused {
                command,
                message: String::from_utf8_lossy(text).into_owned(),
            }),
            _ => Err(LinkError::Unexpected("an opening command not answered +OK")),
        }
    }
}

/// Bytes queued for one connection: appended by the state machine, taken by the driver.
#[derive(Debug, Default)]
pub(crate) struct Output {
    bytes: Vec<u8>,
    /// How many of `bytes`, from the front, the driver took already.
    sent: usize,
}

impl Output {
    pub(crate) fn buf(&mut self) -> &mut Vec<u8> {
        self.compact();
        &mut self.bytes
    }

    pub(crate) fn pending(&self) -> &[u8] {
        &self.bytes[self.sent..]
    }

    pub(crate) fn sent(&mut self, n: usize) {
        assert!(n <= self.pending().len(), "more sent than was queued");
        self.sent += n;
        if self.sent == self.bytes.len() {
            self.bytes.clear();
            self.sent = 0;
        }
    }

    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.compact();
        std::mem::take(&mut self.bytes)
    }

    /// Drops what was sent from the front, so that appends do not grow the buffer
    /// behind it without end.
    fn compact(&mut self) {
        if self.sent > 0 {
            self.bytes.drain(..self.sent);
            self.sent = 0;
        }
    }
}

/// What each connection is made of: its output, its reply parser and limits, its opening
/// commands, and whether it is connected or failed.
#[derive(Debug)]
pub(crate) struct Wire {
    limits: ReplyLimits,
    parser: ReplyParser,
    opening: Opening,
    output: Output,
    connected: bool,
    failed: Option<LinkError>,
}

impl Wire {
    /// A connection to `url`: its `AUTH` and `SELECT` queued first.
    pub(crate) fn new(url: &RedisUrl, limits: ReplyLimits) -> Wire {
        let mut output = Output::default();
        let opening = Opening::write(url, output.buf());
        Wire {
            limits,
            parser: ReplyParser::new(),
            opening,
            output,
            connected: false,
            failed: None,
        }
    }

    pub(crate) fn connected(&mut self) {
        self.connected = true;
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.connected && !self.opening.is_pending() && self.failed.is_none()
    }

    pub(crate) fn error(&self) -> Option<&LinkError> {
        self.failed.as_ref()
    }

    /// Where commands are appended.
    pub(crate) fn out(&mut self) -> &mut Vec<u8> {
        self.output.buf()
    }

    pub(crate) fn output(&self) -> &[u8] {
        self.output.pending()
    }

    pub(crate) fn output_sent(&mut self, n: usize) {
        self.output.sent(n);
    }

    pub(crate) fn take_output(&mut self) -> Vec<u8> {
        self.output.take()
    }

    /// Reads every complete reply in `input`: the opening commands' are checked here,
    /// every later one goes to `on_reply`, which may end the connection. Returns how many
    /// bytes were consumed; an error is kept, and returned by every later call.
    pub(crate) fn read(
        &mut self,
        input: &[u8],
        mut on_reply: impl FnMut(Reply<'_>) -> Result<(), LinkError>,
    ) -> Result<usize, LinkError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut consumed = 0;
        loop {
            let (reply, n) = match self.parser.parse(&input[consumed..], &self.limits) {
                Ok(Status::Complete(done)) => done,
                Ok(Status::Partial) => return Ok(consumed),
                Err(e) => return Err(self.fail(e.into())),
            };
            consumed += n;
            let handled = if self.opening.is_pending() {
                self.opening.on_reply(&reply)
            } else {
                on_reply(reply)
            };
            if let Err(e) = handled {
                return Err(self.fail(e));
            }
        }
    }

    fn fail(&mut self, e: LinkError) -> LinkError {
        self.failed = Some(e.clone());
        e
    }
}

//! How a load run fails, and the messages that say so: [`LoadError`] when a run cannot
//! start, [`ConnError`] when one connection is given up during a run (counted in the
//! report by its message, so equal failures add up to one line).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use pushwire::client::ClientError;
use pushwire::hub::json::JsonError;
use pushwire::ws::client_handshake::ClientHandshakeError;

use super::Mode;
use super::event_stream::StreamError;
use super::wire::{FrameError, ResponseError};

/// Why a run could not start (problems during a run are counted in the report).
#[derive(Debug)]
pub(super) enum LoadError {
    /// The settings do not make a run.
    Config(ConfigError),
    /// Not enough file descriptors for the connections asked for.
    FdLimit {
        /// Descriptors the run needs.
        needed: u64,
        /// The soft limit.
        limit: u64,
    },
    /// The event loop could not be created.
    Io(io::Error),
    /// The setup request (the publisher's first look at the channel) failed.
    Setup(SetupError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Config(e) => write!(f, "{e}"),
            LoadError::FdLimit { needed, limit } => write!(
                f,
                "this run needs about {needed} file descriptors but the limit is {limit}: \
                 raise it in the shell first, e.g. 'ulimit -n {needed}' (the hard limit is \
                 'ulimit -Hn')"
            ),
            LoadError::Io(e) => write!(f, "{e}"),
            LoadError::Setup(e) => write!(f, "setup failed: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<ConfigError> for LoadError {
    fn from(e: ConfigError) -> Self {
        LoadError::Config(e)
    }
}

impl From<SetupError> for LoadError {
    fn from(e: SetupError) -> Self {
        LoadError::Setup(e)
    }
}

impl From<io::Error> for LoadError {
    fn from(e: io::Error) -> Self {
        LoadError::Io(e)
    }
}

/// Settings that do not make a run: a URL the mode cannot use or that does not resolve,
/// or a number out of range. (The command line refuses most of these before a run, with
/// its own messages; these guard the settings however they were made, e.g. in tests.)
#[derive(Debug)]
pub(super) enum ConfigError {
    /// The URL's scheme is not one `mode` can use.
    SchemeForMode {
        /// The mode asked for.
        mode: Mode,
        /// The URL as given.
        url: String,
    },
    /// Neither `ws://` nor `http://`.
    Scheme {
        /// The URL as given.
        url: String,
    },
    /// `ws://`, but the rest is not a URL the client can connect to.
    Url {
        /// The URL as given.
        url: String,
        /// What the URL parser found wrong.
        error: ClientError,
    },
    /// The host name does not resolve.
    Resolve {
        /// The host, without brackets.
        host: String,
        /// The resolver's error.
        error: io::Error,
    },
    /// The host name resolves to no address.
    NoAddress {
        /// The host, without brackets.
        host: String,
    },
    /// `pushwire.v1` subscribers need a channel to subscribe to: the URL's path must be
    /// `/channels/NAME`.
    MuxChannel {
        /// The URL as given.
        url: String,
    },
    /// A count that must be at least 1 is 0; the field's name.
    Zero(&'static str),
    /// `publish_rate` is not above 0 and at most 1,000,000.
    PublishRate,
    /// `secs` is not above 0 and at most one day.
    Secs,
    /// `warmup` is above one day.
    Warmup,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::SchemeForMode { mode, url } => {
                let needs = match mode {
                    Mode::Echo => "echo mode needs a ws:// URL",
                    Mode::LongPoll => "longpoll mode needs an http://HOST:PORT/channels/NAME URL",
                    Mode::Fanout => "fanout needs a ws:// or http:// URL",
                };
                write!(f, "{needs}, not {url:?}")
            }
            ConfigError::Scheme { url } => write!(
                f,
                "{url:?}: expected a ws:// or http:// URL (TLS is not implemented)"
            ),
            ConfigError::Url { url, error } => write!(f, "{url:?}: {error}"),
            ConfigError::Resolve { host, error } => write!(f, "cannot resolve {host}: {error}"),
            ConfigError::NoAddress { host } => write!(f, "{host} has no address"),
            ConfigError::MuxChannel { url } => write!(
                f,
                "{url:?}: --transport ws-mux subscribes to the URL's channel, so its path \
                 must be /channels/NAME"
            ),
            ConfigError::Zero(field) => write!(f, "{field} must be at least 1"),
            ConfigError::PublishRate => {
                f.write_str("publish_rate must be above 0 and at most 1000000")
            }
            ConfigError::Secs => f.write_str("secs must be above 0 and at most one day"),
            ConfigError::Warmup => f.write_str("warmup must be at most one day"),
        }
    }
}

/// Why the publisher's setup request, `GET <channel>?since=0&timeout=0` (which learns the
/// channel's last id before the run), failed.
#[derive(Debug)]
pub(super) enum SetupError {
    /// The publisher's connection could not be opened.
    Open(ConnError),
    /// The channel answered 200, but not with a batch.
    Batch(JsonError),
    /// The channel answered with a status other than 200 or 204 (404: no such channel).
    Status {
        /// The channel's path.
        path: String,
        /// The status code.
        status: u16,
        /// The body, shown as text.
        body: Vec<u8>,
    },
    /// No answer in time.
    NoAnswer {
        /// The channel's path.
        path: String,
        /// The server's address.
        addr: SocketAddr,
        /// The first error the run recorded (the publisher's connection failing), if any.
        why: Option<String>,
    },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Open(e) => write!(f, "{e}"),
            SetupError::Batch(e) => write!(f, "the channel's answer: {e}"),
            SetupError::Status { path, status, body } => write!(
                f,
                "GET {path}?since=0&timeout=0 answered {status}: {}",
                body_text(body)
            ),
            SetupError::NoAnswer { path, addr, why } => write!(
                f,
                "GET {path}?since=0&timeout=0 on {addr}: {}",
                why.as_deref().unwrap_or("no answer")
            ),
        }
    }
}

/// Why the load generator gave up on one connection.
#[derive(Debug)]
pub(super) enum ConnError {
    /// The TCP connection could not be opened.
    Connect(io::Error),
    /// No file descriptor was left for another connection (EMFILE): the connections not
    /// opened yet would fail alike.
    OpenFileLimit(io::Error),
    /// The socket could not be registered with the event loop.
    Register(io::Error),
    /// The connection (TCP and handshake or first request) was not open in time.
    NotOpenWithin(Duration),
    /// Reading failed.
    Read(io::Error),
    /// Writing failed.
    Write(io::Error),
    /// A write was accepted with 0 bytes written.
    WriteZero,
    /// The server closed the TCP connection while we expected more.
    ServerClosed,
    /// The server refused the WebSocket handshake.
    Handshake(ClientHandshakeError),
    /// A `/ws` handshake that did not select `pushwire.v1` (what it selected, if any).
    Subprotocol(Option<String>),
    /// The server's frames cannot be read.
    Frames(FrameError),
    /// The server's HTTP responses cannot be read.
    Response(ResponseError),
    /// A subscriber's event stream cannot be read, or was refused or ended.
    Stream(StreamError),
    /// The server sent a Close we had not asked for; its payload.
    WebSocketClosed(Vec<u8>),
    /// A long-poll was answered with a status other than 200 or 204.
    PollStatus {
        /// The status code.
        status: u16,
        /// The body, shown as text.
        body: Vec<u8>,
    },
    /// A long-poll's 200 answer is not a batch.
    PollBatch(JsonError),
    /// `Connection: close` on a poller's keep-alive connection.
    PollerKeepAliveClosed,
    /// `Connection: close` on the publisher's keep-alive connection.
    PublisherKeepAliveClosed,
    /// The publisher received a response with no request outstanding.
    UnrequestedResponse,
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnError::Connect(e) => write!(f, "connect: {e}"),
            ConnError::OpenFileLimit(e) => {
                write!(f, "connect: {e}: raise the open-file limit ('ulimit -n')")
            }
            ConnError::Register(e) => write!(f, "register: {e}"),
            ConnError::NotOpenWithin(limit) => write!(f, "not open within {} s", limit.as_secs()),
            ConnError::Read(e) => write!(f, "read: {e}"),
            ConnError::Write(e) => write!(f, "write: {e}"),
            ConnError::WriteZero => f.write_str("write: the connection accepts no more bytes"),
            ConnError::ServerClosed => f.write_str("the server closed the connection"),
            ConnError::Handshake(e) => write!(f, "handshake: {e}"),
            ConnError::Subprotocol(Some(p)) => {
                write!(
                    f,
                    "handshake: the server chose subprotocol {p:?}, not pushwire.v1"
                )
            }
            ConnError::Subprotocol(None) => {
                f.write_str("handshake: the server chose no subprotocol, not pushwire.v1")
            }
            ConnError::Frames(e) => write!(f, "{e}"),
            ConnError::Response(e) => write!(f, "{e}"),
            ConnError::Stream(e) => write!(f, "{e}"),
            ConnError::WebSocketClosed(payload) => write!(
                f,
                "the server closed the WebSocket: {}",
                describe_close(payload)
            ),
            ConnError::PollStatus { status, body } => {
                write!(f, "long-poll answered {status}: {}", body_text(body))
            }
            ConnError::PollBatch(e) => write!(f, "a long-poll answer is not a batch: {e}"),
            ConnError::PollerKeepAliveClosed => {
                f.write_str("the server closed a poller's keep-alive connection")
            }
            ConnError::PublisherKeepAliveClosed => {
                f.write_str("the server closed the publisher's keep-alive connection")
            }
            ConnError::UnrequestedResponse => f.write_str("a response to no request"),
        }
    }
}

impl From<FrameError> for ConnError {
    fn from(e: FrameError) -> Self {
        ConnError::Frames(e)
    }
}

impl From<ResponseError> for ConnError {
    fn from(e: ResponseError) -> Self {
        ConnError::Response(e)
    }
}

/// A response body as text, for a message: lossy UTF-8, trimmed.
pub(super) fn body_text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).trim().to_string()
}

/// `code 1001 "going away"` from a Close payload.
fn describe_close(payload: &[u8]) -> String {
    match payload {
        [] => "no status code".into(),
        [a, b, reason @ ..] => format!(
            "code {} {:?}",
            u16::from_be_bytes([*a, *b]),
            String::from_utf8_lossy(reason)
        ),
        _ => "a malformed Close".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            ConnError::Connect(refused()).to_string(),
            format!("connect: {}", refused())
        );
        assert!(
            ConnError::OpenFileLimit(refused())
                .to_string()
                .ends_with(": raise the open-file limit ('ulimit -n')")
        );
        assert_eq!(
            ConnError::NotOpenWithin(Duration::from_secs(15)).to_string(),
            "not open within 15 s"
        );
        assert_eq!(
            ConnError::WebSocketClosed(vec![0x03, 0xE9, b'b', b'y', b'e']).to_string(),
            "the server closed the WebSocket: code 1001 \"bye\""
        );
        assert_eq!(
            ConnError::WebSocketClosed(Vec::new()).to_string(),
            "the server closed the WebSocket: no status code"
        );
        assert_eq!(
            ConnError::WebSocketClosed(vec![3]).to_string(),
            "the server closed the WebSocket: a malformed Close"
        );
        assert_eq!(
            ConnError::PollStatus {
                status: 500,
                body: b" oops\n".to_vec()
            }
            .to_string(),
            "long-poll answered 500: oops"
        );
        assert_eq!(
            ConnError::from(FrameError::TooLong { max: 3 }).to_string(),
            "message longer than 3 bytes"
        );
        let not_found = SetupError::Status {
            path: "/channels/x".into(),
            status: 404,
            body: b"404 Not Found\n".to_vec(),
        };
        assert_eq!(
            LoadError::from(not_found).to_string(),
            "setup failed: GET /channels/x?since=0&timeout=0 answered 404: 404 Not Found"
        );
        let silent = SetupError::NoAnswer {
            path: "/channels/x".into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            why: None,
        };
        assert_eq!(
            silent.to_string(),
            "GET /channels/x?since=0&timeout=0 on 127.0.0.1:1: no answer"
        );
        let wrong = ConfigError::SchemeForMode {
            mode: Mode::Echo,
            url: "http://h/".into(),
        };
        assert_eq!(
            wrong.to_string(),
            "echo mode needs a ws:// URL, not \"http://h/\""
        );
        assert_eq!(
            ConfigError::Zero("conns").to_string(),
            "conns must be at least 1"
        );
    }
}

//! Clients of an in-memory [`ServerPair`]: raw bytes in, responses and frames out, on a
//! virtual clock. No sockets, no threads, no waiting: by the time a call returns, the
//! server has done everything it was going to.

use pushwire::pair::{Peer, ServerPair};
use pushwire::{Config, Handler};

use super::{Events, Frame, HttpResponse, Recording, parse_frame, parse_response, recording};

/// A server in memory with a recording handler around `inner`.
pub fn memory_server<H: Handler>(config: Config, inner: H) -> (ServerPair<Recording<H>>, Events) {
    let (handler, events) = recording(inner);
    let pair = ServerPair::new(config, handler).expect("valid config");
    (pair, events)
}

/// A raw client of a [`ServerPair`]: what it sends is bytes, what it receives is parsed
/// into responses and frames as a test asks for them.
pub struct Client {
    pub peer: Peer,
    /// Received and not yet parsed.
    buf: Vec<u8>,
}

impl Client {
    /// Connects a new client.
    pub fn connect<H: Handler>(pair: &mut ServerPair<H>) -> Client {
        Client {
            peer: pair.connect(),
            buf: Vec::new(),
        }
    }

    /// Connects and completes a WebSocket handshake for `path` (the RFC sample key).
    pub fn upgrade<H: Handler>(pair: &mut ServerPair<H>, path: &str) -> Client {
        let mut client = Client::connect(pair);
        client.send(pair, super::upgrade_request(path, &[]).as_bytes());
        let response = client.response(pair);
        assert_eq!(response.status, 101, "handshake refused: {response:?}");
        client
    }

    /// Writes `bytes`; the server runs until quiet.
    pub fn send<H: Handler>(&mut self, pair: &mut ServerPair<H>, bytes: &[u8]) {
        pair.send(self.peer, bytes);
    }

    /// Sends our FIN.
    pub fn finish<H: Handler>(&mut self, pair: &mut ServerPair<H>) {
        pair.finish(self.peer);
    }

    fn fill<H: Handler>(&mut self, pair: &mut ServerPair<H>) {
        self.buf.extend(pair.received(self.peer));
    }

    /// Everything received and not yet parsed, as text.
    pub fn text<H: Handler>(&mut self, pair: &mut ServerPair<H>) -> String {
        self.fill(pair);
        String::from_utf8(std::mem::take(&mut self.buf)).expect("text")
    }

    /// The next response, if a complete one has arrived.
    pub fn try_response<H: Handler>(&mut self, pair: &mut ServerPair<H>) -> Option<HttpResponse> {
        self.next_response(pair, false)
    }

    fn next_response<H: Handler>(
        &mut self,
        pair: &mut ServerPair<H>,
        to_head: bool,
    ) -> Option<HttpResponse> {
        self.fill(pair);
        let (response, len) = parse_response(&self.buf, to_head)?;
        self.buf.drain(..len);
        Some(response)
    }

    /// The next response (fails the test if none has arrived).
    pub fn response<H: Handler>(&mut self, pair: &mut ServerPair<H>) -> HttpResponse {
        match self.try_response(pair) {
            Some(r) => r,
            None => panic!(
                "no complete response; received {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// The next response to a HEAD request (a head without a body).
    pub fn head_response<H: Handler>(&mut self, pair: &mut ServerPair<H>) -> HttpResponse {
        self.next_response(pair, true).expect("a response head")
    }

    /// Sends `GET target` (HTTP/1.1, keep-alive) and returns the response.
    pub fn get<H: Handler>(&mut self, pair: &mut ServerPair<H>, target: &str) -> HttpResponse {
        self.send(
            pair,
            format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
        );
        self.response(pair)
    }

    /// Sends `POST target` with `body` and returns the response.
    pub fn post<H: Handler>(
        &mut self,
        pair: &mut ServerPair<H>,
        target: &str,
        body: &[u8],
    ) -> HttpResponse {
        let mut request = format!(
            "POST {target} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.send(pair, &request);
        self.response(pair)
    }

    /// The next frame, if a complete one has arrived.
    pub fn try_frame<H: Handler>(&mut self, pair: &mut ServerPair<H>) -> Option<Frame> {
        self.fill(pair);
        let (frame, len) = parse_frame(&self.buf)?;
        self.buf.drain(..len);
        assert!(!frame.masked, "server frames must not be masked");
        Some(frame)
    }

    /// The next frame (fails the test if none has arrived).
    pub fn frame<H: Handler>(&mut self, pair: &mut ServerPair<H>) -> Frame {
        match self.try_frame(pair) {
            Some(f) => f,
            None => panic!("no complete frame; received {:?}", self.buf),
        }
    }

    /// The next frame, which must be a Close: its (code, reason).
    pub fn close_frame<H: Handler>(&mut self, pair: &mut ServerPair<H>) -> Option<(u16, String)> {
        self.frame(pair).close_code()
    }

    /// Asserts nothing more has arrived.
    pub fn nothing<H: Handler>(&mut self, pair: &mut ServerPair<H>) {
        self.fill(pair);
        assert!(
            self.buf.is_empty(),
            "unexpected bytes: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }

    /// Has the server sent its FIN (or closed)?
    pub fn server_finished<H: Handler>(&self, pair: &ServerPair<H>) -> bool {
        pair.server_finished(self.peer)
    }

    /// Has the server closed the connection?
    pub fn is_closed<H: Handler>(&self, pair: &ServerPair<H>) -> bool {
        pair.is_closed(self.peer)
    }
}

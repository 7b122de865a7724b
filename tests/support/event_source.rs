//! An `EventSource` of an in-memory server: the response head, the chunked framing
//! removed, and the stream parsed as a browser parses it (the WHATWG parser in
//! `pushwire::hub::sse`).

use pushwire::Handler;
use pushwire::hub::sse::{Event, EventStreamParser};
use pushwire::pair::ServerPair;

use super::{Client, HttpResponse, parse_response_head};

/// An `EventSource`: a client connection, what it has parsed so far, and the bytes
/// after the response head.
pub struct Source {
    pub client: Client,
    pub parser: EventStreamParser,
    head: Option<HttpResponse>,
    raw: Vec<u8>,
    /// Chunked framing not yet removed (a partial chunk).
    framed: Vec<u8>,
    pub comments: u64,
}

impl Source {
    pub fn open<H: Handler>(pair: &mut ServerPair<H>, target: &str, headers: &str) -> Source {
        let mut client = Client::connect(pair);
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n{headers}\r\n"
        );
        client.send(pair, request.as_bytes());
        Source {
            client,
            parser: EventStreamParser::new(1 << 20),
            head: None,
            raw: Vec::new(),
            framed: Vec::new(),
            comments: 0,
        }
    }

    /// Every event that arrived since the last call.
    pub fn events<H: Handler>(&mut self, pair: &mut ServerPair<H>) -> Vec<Event> {
        self.raw.extend(self.client.text(pair).into_bytes());
        if self.head.is_none() {
            let Some((head, len)) = parse_response_head(&self.raw) else {
                return Vec::new();
            };
            self.raw.drain(..len);
            self.head = Some(head);
        }
        self.framed.append(&mut self.raw);
        let body = unchunk(&mut self.framed);
        let mut events = Vec::new();
        self.parser
            .push(&body, &mut events)
            .expect("a valid stream");
        self.comments = self.parser.comments();
        events
    }

    pub fn head(&self) -> &HttpResponse {
        self.head.as_ref().expect("the response head")
    }
}

/// The data of every complete chunk at the front of `framed` (RFC 9112 §7.1), removed from
/// it; a partial chunk stays for the next call. Chunk extensions and trailers are not
/// used by the server and not accepted here.
pub fn unchunk(framed: &mut Vec<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line) = framed.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&framed[..line]).unwrap();
        let size = usize::from_str_radix(size, 16).expect("a chunk size");
        if framed.len() < line + 2 + size + 2 {
            break;
        }
        body.extend_from_slice(&framed[line + 2..line + 2 + size]);
        assert_eq!(&framed[line + 2 + size..line + 4 + size], b"\r\n");
        framed.drain(..line + 4 + size);
    }
    body
}

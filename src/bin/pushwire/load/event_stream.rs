//! The client side of one Server-Sent Events subscription, sans-IO: the answer to
//! `GET /channels/NAME` with `Accept: text/event-stream` read as it arrives — the head
//! ([`HeadReader`]), the chunked framing (the library's [`BodyDecoder`], the same one
//! the server decodes request bodies with), and the events (the library's
//! [`EventStreamParser`], which reads a stream as a browser's `EventSource` does).

use std::fmt;

use pushwire::http::body::{BodyDecoder, BodyError, BodyFraming};
use pushwire::hub::sse::{Event, EventStreamError, EventStreamParser};

use super::wire::{HeadReader, ResponseError, ResponseFraming};

/// Most body bytes of a refusal (a non-200 answer) kept for the error message.
const MAX_REFUSAL_BODY: usize = 4096;

/// Why a subscription's stream cannot be read: the connection is given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StreamError {
    /// The response head cannot be read.
    Response(ResponseError),
    /// The server answered with a status other than 200; its body (when it had a
    /// `Content-Length` of at most [`MAX_REFUSAL_BODY`]), for the message.
    Refused {
        /// The status code.
        status: u16,
        /// The body, shown as text.
        body: Vec<u8>,
    },
    /// A 200 whose `Content-Type` is not `text/event-stream` (the value, if any).
    NotEventStream(Option<String>),
    /// The chunked framing is broken.
    Framing(BodyError),
    /// A line or an event is longer than the parser's limit.
    Events(EventStreamError),
    /// The body ended (its last chunk, or its `Content-Length`): a stream the server
    /// ended, while the run expected more.
    Ended,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Response(e) => write!(f, "{e}"),
            StreamError::Refused { status, body } => write!(
                f,
                "event stream answered {status}: {}",
                super::error::body_text(body)
            ),
            StreamError::NotEventStream(Some(t)) => {
                write!(f, "event stream answered 200 with content-type {t:?}")
            }
            StreamError::NotEventStream(None) => {
                f.write_str("event stream answered 200 without a content-type")
            }
            StreamError::Framing(e) => write!(f, "event stream's chunked framing: {e}"),
            StreamError::Events(e) => write!(f, "{e}"),
            StreamError::Ended => f.write_str("the server ended the event stream"),
        }
    }
}

impl From<ResponseError> for StreamError {
    fn from(e: ResponseError) -> Self {
        StreamError::Response(e)
    }
}

enum State {
    /// Before the blank line that ends the head.
    Head(HeadReader),
    /// A refusal's body, `remaining` bytes of it still to come.
    Refusal {
        status: u16,
        body: Vec<u8>,
        remaining: usize,
    },
    /// The stream: a decoder for its framing (`None`: until the server closes) and the
    /// parser its content goes through.
    Events {
        framing: Option<BodyDecoder>,
        parser: EventStreamParser,
    },
}

/// Reads one event stream from the first byte of the response: bytes in, in pieces of
/// any size, [`Event`]s out. Bounded: a head of at most 16 KiB, lines and events of at
/// most the given limit (the parser's), and a stream of at most `max_stream` content
/// bytes.
pub(super) struct EventStreamReader {
    state: State,
    limit: usize,
    max_stream: usize,
    /// Decoded content on its way from the framing to the parser (reused).
    content: Vec<u8>,
}

impl EventStreamReader {
    /// A reader for lines and events of at most `limit` bytes, and at most `max_stream`
    /// bytes of content in all.
    pub(super) fn new(limit: usize, max_stream: usize) -> EventStreamReader {
        EventStreamReader {
            state: State::Head(HeadReader::default()),
            limit,
            max_stream,
            content: Vec::new(),
        }
    }

    /// Reads the next bytes of the connection and appends the events they complete.
    /// Every byte is consumed: nothing follows a stream on its connection.
    pub(super) fn feed(&mut self, data: &[u8], events: &mut Vec<Event>) -> Result<(), StreamError> {
        let mut data = data;
        while !data.is_empty() {
            match &mut self.state {
                State::Head(head) => {
                    let (n, done) = head.feed(data)?;
                    data = &data[n..];
                    if let Some(head) = done {
                        self.state = self.after_head(head)?;
                    }
                }
                State::Refusal {
                    status,
                    body,
                    remaining,
                } => {
                    let n = (*remaining).min(data.len());
                    body.extend_from_slice(&data[..n]);
                    *remaining -= n;
                    data = &data[n..];
                    if *remaining == 0 {
                        return Err(StreamError::Refused {
                            status: *status,
                            body: std::mem::take(body),
                        });
                    }
                }
                State::Events { framing, parser } => {
                    let content = match framing {
                        None => data,
                        Some(decoder) => {
                            self.content.clear();
                            let (_, status) = decoder
                                .decode(data, &mut self.content)
                                .map_err(StreamError::Framing)?;
                            if status.is_complete() {
                                return Err(StreamError::Ended);
                            }
                            &self.content
                        }
                    };
                    parser.push(content, events).map_err(StreamError::Events)?;
                    data = &[];
                }
            }
        }
        Ok(())
    }

    /// What follows a head: the events of a 200 `text/event-stream`, or the refusal.
    fn after_head(&self, head: super::wire::ResponseHead) -> Result<State, StreamError> {
        if head.status != 200 {
            return match head.framing {
                ResponseFraming::Length(n) if n > 0 && n <= MAX_REFUSAL_BODY => {
                    Ok(State::Refusal {
                        status: head.status,
                        body: Vec::with_capacity(n),
                        remaining: n,
                    })
                }
                _ => Err(StreamError::Refused {
                    status: head.status,
                    body: Vec::new(),
                }),
            };
        }
        let media_type = head
            .content_type
            .as_deref()
            .map(|t| t.split(';').next().unwrap_or("").trim());
        if !media_type.is_some_and(|t| t.eq_ignore_ascii_case("text/event-stream")) {
            return Err(StreamError::NotEventStream(head.content_type));
        }
        let framing = match head.framing {
            ResponseFraming::Chunked => {
                Some(BodyDecoder::new(BodyFraming::Chunked, self.max_stream))
            }
            ResponseFraming::Length(n) => Some(BodyDecoder::new(
                BodyFraming::ContentLength(n as u64),
                self.max_stream,
            )),
            ResponseFraming::Bodiless => return Err(StreamError::Ended),
            ResponseFraming::UntilClose => None,
        };
        Ok(State::Events {
            framing,
            parser: EventStreamParser::new(self.limit),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
        Cache-Control: no-store\r\nTransfer-Encoding: chunked\r\n\r\n";

    /// `body` as chunks of at most `size` bytes.
    fn chunked(body: &[u8], size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in body.chunks(size) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Feeds `wire` in pieces of `piece` bytes: the events, or the first error.
    fn read(wire: &[u8], piece: usize) -> Result<Vec<Event>, StreamError> {
        let mut reader = EventStreamReader::new(1024, 1 << 20);
        let mut events = Vec::new();
        for p in wire.chunks(piece) {
            reader.feed(p, &mut events)?;
        }
        Ok(events)
    }

    const STREAM: &[u8] = b"retry: 3000\n\nevent: subscribed\nid: AAAAAAAAAAE:7\n\
        data: {\"epoch\":\"AAAAAAAAAAE\",\"next\":7}\n\n: keepalive\n\n\
        id: AAAAAAAAAAE:8\ndata: {\"id\":8,\"data\":\"hi\"}\n\n";

    #[test]
    fn a_chunked_stream_in_any_pieces_gives_its_events() {
        for chunk in [1, 5, 40, STREAM.len()] {
            let mut wire = HEAD.to_vec();
            wire.extend(chunked(STREAM, chunk));
            for piece in [1, 2, 3, 17, wire.len()] {
                let events = read(&wire, piece).unwrap();
                let got: Vec<_> = events
                    .iter()
                    .map(|e| (e.event_type(), e.last_event_id(), e.data()))
                    .collect();
                assert_eq!(
                    got,
                    vec![
                        (
                            "subscribed",
                            "AAAAAAAAAAE:7",
                            "{\"epoch\":\"AAAAAAAAAAE\",\"next\":7}"
                        ),
                        ("message", "AAAAAAAAAAE:8", "{\"id\":8,\"data\":\"hi\"}"),
                    ],
                    "chunks of {chunk}, pieces of {piece}"
                );
            }
        }
    }

    #[test]
    fn an_http_1_0_stream_runs_until_the_close() {
        let mut wire =
            b"HTTP/1.0 200 OK\r\ncontent-type: Text/Event-Stream; charset=utf-8\r\n\r\n".to_vec();
        wire.extend_from_slice(STREAM);
        assert_eq!(read(&wire, 7).unwrap().len(), 2);
    }

    #[test]
    fn refusals_are_errors_with_their_body() {
        let wire = b"HTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\nno such thing\n";
        for piece in [1, 10, wire.len()] {
            let e = read(wire, piece).unwrap_err();
            assert_eq!(
                e,
                StreamError::Refused {
                    status: 404,
                    body: b"no such thing\n".to_vec()
                }
            );
            assert_eq!(e.to_string(), "event stream answered 404: no such thing");
        }
        let e = read(b"HTTP/1.1 503 Busy\r\n\r\n", 100).unwrap_err();
        assert_eq!(e.to_string(), "event stream answered 503: ");
    }

    #[test]
    fn a_200_that_is_no_event_stream_is_refused() {
        let wire =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            read(wire, 100).unwrap_err(),
            StreamError::NotEventStream(Some("application/json".into()))
        );
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            read(wire, 100).unwrap_err(),
            StreamError::NotEventStream(None)
        );
    }

    #[test]
    fn a_stream_the_server_ends_is_an_error() {
        let mut wire = HEAD.to_vec();
        wire.extend(chunked(STREAM, 50));
        wire.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(read(&wire, 9).unwrap_err(), StreamError::Ended);
    }

    #[test]
    fn broken_framing_and_endless_lines_are_errors() {
        let mut wire = HEAD.to_vec();
        wire.extend_from_slice(b"zz\r\n");
        assert_eq!(
            read(&wire, 100).unwrap_err(),
            StreamError::Framing(BodyError::BadChunkSize)
        );
        let mut wire = HEAD.to_vec();
        wire.extend(chunked(&[b'x'; 2000], 300));
        assert_eq!(
            read(&wire, 100).unwrap_err(),
            StreamError::Events(EventStreamError::LineTooLong { limit: 1024 })
        );
        // More content than the stream may carry, refused at the chunk's size line.
        let mut reader = EventStreamReader::new(1024, 100);
        let mut wire = HEAD.to_vec();
        wire.extend(chunked(&[b'\n'; 101], 101));
        assert_eq!(
            reader.feed(&wire, &mut Vec::new()),
            Err(StreamError::Framing(BodyError::TooLarge))
        );
    }
}

//! Application messages: what a WebSocket connection delivers and what it sends.

use std::borrow::Cow;

/// A complete WebSocket data message (RFC 6455 §5.6).
///
/// Received messages borrow the connection's read buffer when the message arrived as one
/// frame inside one read (the common case: no copy at all), and own their bytes when the
/// message had to be assembled from fragments or from several reads. `Text` is always
/// valid UTF-8: it was validated as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message (opcode 0x1).
    Text(Cow<'a, str>),
    /// A binary message (opcode 0x2).
    Binary(Cow<'a, [u8]>),
}

impl<'a> Message<'a> {
    /// A text message borrowing `text`.
    pub fn text(text: impl Into<Cow<'a, str>>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message borrowing `data`.
    pub fn binary(data: impl Into<Cow<'a, [u8]>>) -> Self {
        Message::Binary(data.into())
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t),
            Message::Binary(_) => None,
        }
    }

    /// `true` for a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// `true` when the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy that owns its bytes (no copy if it already does), e.g. to keep it past the
    /// callback that received it or to send it from another thread.
    pub fn into_owned(self) -> Message<'static> {
        match self {
            Message::Text(t) => Message::Text(Cow::Owned(t.into_owned())),
            Message::Binary(b) => Message::Binary(Cow::Owned(b.into_owned())),
        }
    }
}

/// A piece of a large message delivered as it arrives (see
/// [`Config::stream_messages_over`](crate::Config::stream_messages_over)).
///
/// The pieces of one message arrive in order, the first with `first`, the last with
/// `last`; nothing else of that connection's messages comes in between. For text, the whole
/// message is valid UTF-8, but a piece may end inside a code point. If the connection
/// closes before the `last` piece, the message was not completed and must be discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessagePart<'a> {
    /// A text message (opcode 0x1) rather than binary.
    pub is_text: bool,
    /// This piece's bytes (possibly empty).
    pub data: &'a [u8],
    /// The message's first piece.
    pub first: bool,
    /// The message's last piece.
    pub last: bool,
}

impl From<String> for Message<'static> {
    fn from(s: String) -> Self {
        Message::Text(Cow::Owned(s))
    }
}

impl<'a> From<&'a str> for Message<'a> {
    fn from(s: &'a str) -> Self {
        Message::Text(Cow::Borrowed(s))
    }
}

impl From<Vec<u8>> for Message<'static> {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(Cow::Owned(b))
    }
}

impl<'a> From<&'a [u8]> for Message<'a> {
    fn from(b: &'a [u8]) -> Self {
        Message::Binary(Cow::Borrowed(b))
    }
}

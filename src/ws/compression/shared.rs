//! One message for many connections, compressed once.
//!
//! A hub sends each published message to every subscriber. Without compression the
//! frame is the same bytes for all of them, so it is encoded once and shared. With
//! permessage-deflate it still can be, as long as the compressed form depends on the
//! message alone: a compressor without context takeover (`server_no_context_takeover`,
//! RFC 7692 §7.1.1.1) starts every message from an empty window, so the same message at
//! the same level and window size always gives the same bytes. [`SharedMessage`] keeps
//! those bytes, made the first time a connection asks for them and reused by every other
//! connection that agreed the same parameters — one compression per broadcast, as
//! Nchan's and uWebSockets' shared compressors do, instead of one per subscriber.
//!
//! A compressed message that refers to no earlier message is valid for *any* receiver
//! whose window is at least the one it was made with (§7.2.2: the receiver inflates
//! each message with its own window, and a stream that reaches back less far is still a
//! valid stream). What cannot be shared is a message from a compressor *with* context
//! takeover: its matches may reach into the messages that connection sent before, which
//! no other connection has seen. Such connections compress it themselves
//! ([`SharedFrame::Own`]).

use std::sync::Arc;

use crate::deflate::WindowBits;
use crate::deflate::compress::{Compressor, Level};
use crate::message::Message;
use crate::ws::compression::CodecPools;

/// A text or binary message sent to many connections: its payload shared (never copied
/// per connection when large), and its compressed forms, made on first use, one per set
/// of parameters (level and window), shared the same way.
///
/// Pass the same `SharedMessage` to every connection of a broadcast
/// ([`WsConnection::send_shared`](crate::ws::connection::WsConnection::send_shared),
/// [`Context::send_shared`](crate::Context::send_shared)); compressed or not, each
/// connection then gets bytes that were produced once.
#[derive(Debug, Clone)]
pub struct SharedMessage {
    is_text: bool,
    payload: Arc<[u8]>,
    /// The compressed forms made so far. Almost always none or one: every connection of
    /// one server compresses at the same level, and clients that ask for a smaller
    /// window than 2^15 are rare.
    forms: Vec<CompressedForm>,
}

/// The message compressed at one level and window size.
#[derive(Debug, Clone)]
struct CompressedForm {
    level: Level,
    window_bits: WindowBits,
    /// `None`: compressed, it was no smaller (random or already compressed data), so it
    /// goes out as it is (RSV1 clear; RFC 7692 §6 lets the sender choose per message).
    payload: Option<Arc<[u8]>>,
}

impl SharedMessage {
    /// A text message (its payload is valid UTF-8 because it is a `str`).
    pub fn text(text: Arc<str>) -> SharedMessage {
        SharedMessage::new(true, Arc::<[u8]>::from(text))
    }

    /// A binary message.
    pub fn binary(data: Arc<[u8]>) -> SharedMessage {
        SharedMessage::new(false, data)
    }

    /// `message`, copied once into a shared payload.
    pub fn from_message(message: &Message<'_>) -> SharedMessage {
        SharedMessage::new(message.is_text(), Arc::from(message.as_bytes()))
    }

    fn new(is_text: bool, payload: Arc<[u8]>) -> SharedMessage {
        SharedMessage {
            is_text,
            payload,
            forms: Vec::new(),
        }
    }

    /// Text (else binary).
    pub fn is_text(&self) -> bool {
        self.is_text
    }

    /// The payload as sent uncompressed.
    pub fn payload(&self) -> &Arc<[u8]> {
        &self.payload
    }

    /// The payload's length, uncompressed.
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    /// An empty payload.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// The message as a borrowed [`Message`], for a connection that encodes it itself.
    pub fn as_message(&self) -> Message<'_> {
        if self.is_text {
            // Built from a `str` by `text`, or from a text `Message` by `from_message`.
            match std::str::from_utf8(&self.payload) {
                Ok(text) => Message::text(text),
                Err(_) => Message::binary(&*self.payload),
            }
        } else {
            Message::binary(&*self.payload)
        }
    }

    /// How many times it has been compressed so far: one per set of parameters asked
    /// for, however many connections asked.
    pub fn compressions(&self) -> usize {
        self.forms.len()
    }

    /// The payload compressed at `level` with a window of `window_bits`, without context
    /// (RFC 7692 §7.2.1, the sync flush's tail removed), made now if this is the first
    /// connection to ask; `None` if compressing does not make it smaller.
    pub(crate) fn compressed(
        &mut self,
        level: Level,
        window_bits: WindowBits,
        pools: &mut CodecPools,
    ) -> Option<&Arc<[u8]>> {
        let found = self
            .forms
            .iter()
            .position(|f| f.level == level && f.window_bits == window_bits);
        let at = match found {
            Some(at) => at,
            None => {
                let mut out = Vec::with_capacity(self.payload.len() / 2 + 16);
                Compressor::new(level, window_bits, false).compress_message_pooled(
                    &mut pools.compress,
                    &self.payload,
                    &mut out,
                );
                pools.stats.count(self.payload.len(), out.len());
                let payload = (out.len() < self.payload.len()).then(|| Arc::from(out));
                self.forms.push(CompressedForm {
                    level,
                    window_bits,
                    payload,
                });
                self.forms.len() - 1
            }
        };
        self.forms[at].payload.as_ref()
    }
}

/// How a [`SharedMessage`] goes to one connection
/// ([`WsConnection::send_shared`](crate::ws::connection::WsConnection::send_shared)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedFrame {
    /// The frame's header (in the caller's buffer), then this payload: the same bytes
    /// every connection with the same parameters gets, to be queued by reference.
    Shared {
        /// The header's length in the buffer.
        head_len: usize,
        /// What follows the header: the message, or its compressed form.
        payload: Arc<[u8]>,
    },
    /// This connection must encode the message itself (it compresses with context
    /// takeover, or it is a client and masks every frame): send
    /// [`SharedMessage::as_message`] as any other message.
    Own,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::inflate::InflateScratchPool;
    use crate::deflate::inflate::Inflater;

    fn inflate(compressed: &[u8], bits: WindowBits) -> Vec<u8> {
        let mut inflater = Inflater::new(bits, false);
        let mut pool = InflateScratchPool::new(0);
        let mut out = Vec::new();
        inflater
            .inflate(compressed, &mut out, usize::MAX, &mut pool)
            .and_then(|()| inflater.finish_message(&mut out, usize::MAX, &mut pool))
            .expect("valid DEFLATE");
        out
    }

    fn chat() -> Arc<str> {
        Arc::from(r#"{"id":7,"data":"hello hello hello, is anybody there? hello hello"}"#)
    }

    #[test]
    fn the_same_parameters_compress_once_however_many_ask() {
        let mut message = SharedMessage::text(chat());
        let mut pools = CodecPools::default();
        let first = message
            .compressed(Level::Fast, WindowBits::MAX, &mut pools)
            .cloned()
            .expect("compressible");
        for _ in 0..100 {
            let again = message.compressed(Level::Fast, WindowBits::MAX, &mut pools);
            assert!(Arc::ptr_eq(again.expect("kept"), &first));
        }
        assert_eq!(message.compressions(), 1);
        assert_eq!(pools.stats().messages, 1);
        assert_eq!(inflate(&first, WindowBits::MAX), chat().as_bytes());
    }

    #[test]
    fn each_window_and_level_gets_its_own_form() {
        let mut message = SharedMessage::text(chat());
        let mut pools = CodecPools::default();
        let small = WindowBits::new(8).expect("8 is a window size");
        let a = message
            .compressed(Level::Fast, WindowBits::MAX, &mut pools)
            .cloned();
        let b = message.compressed(Level::Fast, small, &mut pools).cloned();
        let c = message
            .compressed(Level::Best, WindowBits::MAX, &mut pools)
            .cloned();
        assert_eq!(message.compressions(), 3);
        for (form, bits) in [(a, WindowBits::MAX), (b, small), (c, WindowBits::MAX)] {
            assert_eq!(
                inflate(&form.expect("compressible"), bits),
                chat().as_bytes()
            );
        }
    }

    #[test]
    fn data_that_does_not_shrink_is_sent_as_it_is() {
        let mut noise = [0u8; 600];
        let mut x = 0x2545_f491_u32;
        for byte in &mut noise {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *byte = x as u8;
        }
        let mut message = SharedMessage::binary(Arc::from(&noise[..]));
        let mut pools = CodecPools::default();
        assert!(
            message
                .compressed(Level::Fast, WindowBits::MAX, &mut pools)
                .is_none()
        );
        // Decided once, too.
        assert!(
            message
                .compressed(Level::Fast, WindowBits::MAX, &mut pools)
                .is_none()
        );
        assert_eq!(message.compressions(), 1);
    }

    #[test]
    fn a_text_message_reads_back_as_the_same_text() {
        let message = SharedMessage::from_message(&Message::text("héllo"));
        assert!(message.is_text());
        assert_eq!(message.as_message(), Message::text("héllo"));
        let binary = SharedMessage::from_message(&Message::binary(&[1, 2, 3][..]));
        assert_eq!(binary.as_message(), Message::binary(&[1, 2, 3][..]));
    }
}

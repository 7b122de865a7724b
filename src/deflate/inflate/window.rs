//! The LZ77 window kept between messages under context takeover (RFC 7692 §7.2.2:
//! "it MUST decompress each new message using the LZ77 sliding window used to process
//! the last compressed message").
//!
//! Within a message the decoder copies back-references from the message's own output;
//! only references that reach before the message's first byte read this window. So the
//! window is written once per message, at its end, with the last 2^w bytes of output — a
//! ring buffer, so that a short message costs a copy of its own length, not a shift of
//! the whole window.

/// The last `len` bytes of output before the current message, in a ring of 2^w bytes.
#[derive(Debug, Default)]
pub(super) struct Window {
    /// Allocated at the first message end that has output to keep; `None` before, and
    /// always without context takeover.
    ring: Option<Box<[u8]>>,
    /// How many bytes of `ring` are history (at most its size).
    len: u32,
    /// Where the next byte goes; the history is the `len` bytes before it, wrapping.
    end: u32,
}

impl Window {
    /// Bytes of history a reference may reach into.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len as usize
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.ring.as_ref().map_or(0, |ring| ring.len())
    }

    /// Appends a message's output to the history, keeping the last `size` bytes.
    pub(super) fn remember(&mut self, message: &[u8], size: usize) {
        if message.is_empty() {
            return;
        }
        let ring = self
            .ring
            .get_or_insert_with(|| vec![0u8; size].into_boxed_slice());
        let keep = &message[message.len().saturating_sub(size)..];
        let end = self.end as usize;
        // Up to two pieces: to the end of the ring, then from its start.
        let first = keep.len().min(size - end);
        ring[end..end + first].copy_from_slice(&keep[..first]);
        ring[..keep.len() - first].copy_from_slice(&keep[first..]);
        self.end = ((end + keep.len()) % size) as u32;
        self.len = (self.len() + keep.len()).min(size) as u32;
    }

    /// Copies `len` bytes that start `back` bytes before the end of the history
    /// (`1 <= back <= self.len()`, `len <= back`) to `out`.
    pub(super) fn copy_out(&self, back: usize, len: usize, out: &mut [u8]) {
        let Some(ring) = &self.ring else {
            return;
        };
        let size = ring.len();
        let start = (self.end as usize + size - back) % size;
        let first = len.min(size - start);
        out[..first].copy_from_slice(&ring[start..start + first]);
        out[first..len].copy_from_slice(&ring[..len - first]);
    }
}

//! A connection's unsent output, and the pool its buffers come from.
//!
//! Frames and responses are appended to one `Vec` per connection (`tail`) all turn long
//! and leave in one `write` at the end of it. Large payloads are not copied into it: they
//! are queued whole as *segments* ahead of the tail and leave with it in one `writev` —
//! owned ones moved in, shared ones (`Arc<[u8]>`: one message fanned out to many
//! subscribers, a retained history sent to many readers) by a reference count, so a
//! payload sent to a thousand connections exists once. An idle connection holds no
//! buffer at all: the tail goes back to the pool once everything is sent.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;

/// Most buffers handed to one `writev`.
pub(crate) const MAX_IOVECS: usize = 8;

/// Output buffers kept for reuse, so a busy connection does not allocate per turn and an
/// idle one holds none.
///
/// Only buffers of up to 64 KiB are kept, and at most 4 MiB of them in all. A buffer that
/// grew past that (bulk output) is freed when its connection drains, and the allocator
/// hands the same memory back at the next turn: measured, keeping large buffers in the
/// pool instead made some runs of the 64 KiB echo benchmark a third slower (a larger,
/// colder working set), and pins memory that bursts once needed.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    buffers: Vec<Vec<u8>>,
    /// The capacity of the buffers in `buffers`. INVARIANT: at most `MAX_POOLED_BYTES`.
    bytes: usize,
}

impl BufferPool {
    /// Buffers kept at most; more are freed.
    const MAX_BUFFERS: usize = 256;
    /// Buffers that grew past this are freed rather than kept.
    const MAX_KEPT_CAPACITY: usize = 64 * 1024;
    /// Capacity kept in all.
    const MAX_POOLED_BYTES: usize = 4 << 20;

    /// A cleared buffer (no allocation if the pool has one).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        match self.buffers.pop() {
            Some(buf) => {
                self.bytes -= buf.capacity();
                buf
            }
            None => Vec::new(),
        }
    }

    /// Returns a buffer for reuse.
    pub(crate) fn give(&mut self, mut buf: Vec<u8>) {
        let capacity = buf.capacity();
        if capacity == 0
            || capacity > Self::MAX_KEPT_CAPACITY
            || self.buffers.len() >= Self::MAX_BUFFERS
            || self.bytes + capacity > Self::MAX_POOLED_BYTES
        {
            return;
        }
        buf.clear();
        self.bytes += capacity;
        self.buffers.push(buf);
    }
}

/// One connection's unsent bytes, in order: the segments, then the tail.
#[derive(Debug, Default)]
pub(crate) struct OutputBuffer {
    /// Bytes appended by the protocol; `tail[sent..]` is unsent.
    tail: Vec<u8>,
    /// INVARIANT: `sent <= tail.len()`.
    sent: usize,
    /// Whole buffers queued ahead of `tail` without copying. Boxed and absent unless in
    /// use: an idle connection pays 8 bytes for it.
    segments: Option<Box<Segments>>,
}

/// Shared payloads shorter than this are copied instead: below it, a copy costs less
/// than a segment, an iovec and a reference count.
pub(crate) const SHARE_MIN: usize = 1024;

/// Longest head a shared segment carries inline: a WebSocket frame header (RFC 6455
/// §5.2: 2 bytes, 8 more for a 64-bit length, 4 for a mask key).
pub(crate) const MAX_INLINE_HEAD: usize = 14;

/// Unsent tail bytes up to this many are copied into their own segment when a shared
/// payload is queued behind them, so the tail's (pooled, larger) buffer stays with the
/// connection instead of being pinned by the queue.
const COPY_TAIL_UNDER: usize = 4096;

/// One buffer queued whole.
#[derive(Debug)]
enum Segment {
    /// Bytes this connection owns.
    Owned(Vec<u8>),
    /// A payload shared with other connections, after a short head of this connection's
    /// own (a frame header; empty for an HTTP body piece).
    Shared {
        head: [u8; MAX_INLINE_HEAD],
        head_len: u8,
        payload: Arc<[u8]>,
    },
}

impl Segment {
    fn len(&self) -> usize {
        match self {
            Segment::Owned(bytes) => bytes.len(),
            Segment::Shared {
                head_len, payload, ..
            } => usize::from(*head_len) + payload.len(),
        }
    }

    /// The bytes from `skip` on, in at most two pieces (either may be empty).
    fn pieces(&self, skip: usize) -> [&[u8]; 2] {
        match self {
            Segment::Owned(bytes) => [&bytes[skip..], &[]],
            Segment::Shared {
                head,
                head_len,
                payload,
            } => {
                let head = &head[..usize::from(*head_len)];
                if skip < head.len() {
                    [&head[skip..], payload]
                } else {
                    [&payload[skip - head.len()..], &[]]
                }
            }
        }
    }
}

/// Buffers queued whole, ahead of a connection's tail.
#[derive(Debug, Default)]
struct Segments {
    queue: VecDeque<Segment>,
    /// Bytes of the front buffer already written.
    front_sent: usize,
    /// Total length of the buffers in `queue` (including the written part of the front).
    bytes: usize,
}

impl OutputBuffer {
    /// Unsent bytes.
    pub(crate) fn pending(&self) -> usize {
        let queued = self.segments.as_ref().map_or(0, |s| s.bytes - s.front_sent);
        queued + self.tail.len() - self.sent
    }

    /// The buffer protocol code appends to, taken from `pool` if this connection holds
    /// none: the one place an output buffer is taken.
    pub(crate) fn writer<'b>(&'b mut self, pool: &mut BufferPool) -> &'b mut Vec<u8> {
        if self.tail.capacity() == 0 {
            self.tail = pool.take();
        }
        &mut self.tail
    }

    /// [`writer`](Self::writer) with room for `additional` more bytes. An empty tail too
    /// small for them is swapped for a buffer of the right size rather than grown: growing
    /// reallocates, and `realloc` copies the old buffer's whole capacity (it cannot know
    /// that none of it is in use) — 64 KiB per large frame, measured at 2 % of a 64 KiB
    /// echo's time.
    pub(crate) fn writer_with_room<'b>(
        &'b mut self,
        pool: &mut BufferPool,
        additional: usize,
    ) -> &'b mut Vec<u8> {
        self.writer(pool);
        if self.tail.is_empty() && self.tail.capacity() < additional {
            let small = std::mem::replace(&mut self.tail, Vec::with_capacity(additional));
            pool.give(small);
        }
        &mut self.tail
    }

    /// Queues `payload` to follow everything queued so far, without copying it: what is
    /// in the tail becomes a segment, then `payload` does, and the tail starts afresh.
    pub(crate) fn queue_owned(&mut self, payload: Vec<u8>, pool: &mut BufferPool) {
        let fresh = pool.take();
        let segments = self.segments.get_or_insert_with(Default::default);
        let mut head = std::mem::replace(&mut self.tail, fresh);
        head.drain(..self.sent);
        self.sent = 0;
        for buf in [head, payload] {
            if !buf.is_empty() {
                segments.bytes += buf.len();
                segments.queue.push_back(Segment::Owned(buf));
            }
        }
    }

    /// Queues `head` (at most [`MAX_INLINE_HEAD`] bytes) and then `payload` to follow
    /// everything queued so far, sharing `payload` rather than copying it. Unsent tail
    /// bytes go ahead of it into a segment of their own — copied when few, so the tail's
    /// buffer is kept for what comes next.
    pub(crate) fn queue_shared(&mut self, head: &[u8], payload: Arc<[u8]>) {
        debug_assert!(head.len() <= MAX_INLINE_HEAD);
        let segments = self.segments.get_or_insert_with(Default::default);
        let unsent = self.tail.len() - self.sent;
        if unsent > 0 {
            let bytes = if unsent <= COPY_TAIL_UNDER {
                let bytes = self.tail[self.sent..].to_vec();
                self.tail.clear();
                bytes
            } else {
                let mut bytes = std::mem::take(&mut self.tail);
                bytes.drain(..self.sent);
                bytes
            };
            self.sent = 0;
            segments.bytes += bytes.len();
            segments.queue.push_back(Segment::Owned(bytes));
        }
        let mut inline = [0u8; MAX_INLINE_HEAD];
        inline[..head.len()].copy_from_slice(head);
        let segment = Segment::Shared {
            head: inline,
            head_len: head.len() as u8,
            payload,
        };
        segments.bytes += segment.len();
        segments.queue.push_back(segment);
    }

    /// The unsent bytes in order, as pieces: the queued segments' (the first from where
    /// writing stopped), then the tail's.
    fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        let queued = self.segments.iter().flat_map(|segs| {
            segs.queue
                .iter()
                .enumerate()
                .flat_map(move |(i, seg)| seg.pieces(if i == 0 { segs.front_sent } else { 0 }))
        });
        queued
            .chain(std::iter::once(&self.tail[self.sent..]))
            .filter(|piece| !piece.is_empty())
    }

    /// Fills `slices` with the unsent bytes in order (at most [`MAX_IOVECS`] buffers) for
    /// one `writev`; returns how many it filled (0: nothing to send).
    pub(crate) fn slices<'s>(&'s self, slices: &mut [IoSlice<'s>; MAX_IOVECS]) -> usize {
        let mut count = 0;
        for piece in self.pieces().take(MAX_IOVECS) {
            slices[count] = IoSlice::new(piece);
            count += 1;
        }
        count
    }

    /// Calls `each` with the first `n` unsent bytes, in order, in as few pieces as they
    /// lie in (for the wire trace: no copy).
    pub(crate) fn peek(&self, mut n: usize, mut each: impl FnMut(&[u8])) {
        for piece in self.pieces() {
            if n == 0 {
                return;
            }
            let take = piece.len().min(n);
            each(&piece[..take]);
            n -= take;
        }
    }

    /// `n` bytes were written. Returns `true` when nothing is left, having given the
    /// tail back to `pool` (an idle connection holds no buffer).
    pub(crate) fn consume(&mut self, mut n: usize, pool: &mut BufferPool) -> bool {
        if let Some(segs) = &mut self.segments {
            while n > 0 {
                let Some(front) = segs.queue.front() else {
                    break;
                };
                let front = front.len();
                let left = front - segs.front_sent;
                if n < left {
                    segs.front_sent += n;
                    return false;
                }
                n -= left;
                segs.bytes -= front;
                segs.front_sent = 0;
                segs.queue.pop_front();
            }
            if !segs.queue.is_empty() {
                return false;
            }
            self.segments = None;
        }
        self.sent += n;
        debug_assert!(self.sent <= self.tail.len());
        if self.sent == self.tail.len() {
            self.sent = 0;
            self.tail.clear();
            pool.give(std::mem::take(&mut self.tail));
            return true;
        }
        if self.sent > self.tail.len() / 2 {
            // Keep the unsent rest at the front so the buffer does not creep. (Each byte
            // is moved at most once per byte sent before it: linear overall.)
            self.tail.drain(..self.sent);
            self.sent = 0;
        }
        false
    }

    /// Holds a tail buffer (possibly empty).
    pub(crate) fn holds_buffer(&self) -> bool {
        self.tail.capacity() > 0
    }

    /// Gives every buffer back (the connection is gone).
    pub(crate) fn release(&mut self, pool: &mut BufferPool) {
        self.segments = None;
        self.sent = 0;
        pool.give(std::mem::take(&mut self.tail));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(out: &mut OutputBuffer, pool: &mut BufferPool, chunk: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        while out.pending() > 0 {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = out.slices(&mut slices);
            let all: Vec<u8> = slices[..count]
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            let n = all.len().min(chunk);
            wire.extend_from_slice(&all[..n]);
            out.consume(n, pool);
        }
        wire
    }

    #[test]
    fn owned_payloads_and_tail_bytes_leave_in_the_order_queued() {
        let mut pool = BufferPool::default();
        let mut out = OutputBuffer::default();
        out.writer(&mut pool).extend_from_slice(b"head1");
        out.queue_owned(b"BIG-PAYLOAD".to_vec(), &mut pool);
        out.writer(&mut pool).extend_from_slice(b"head2");
        out.queue_owned(b"OTHER".to_vec(), &mut pool);
        out.writer(&mut pool).extend_from_slice(b"tail");
        assert_eq!(out.pending(), 30);
        let mut traced = Vec::new();
        out.peek(7, |piece| traced.extend_from_slice(piece));
        assert_eq!(traced, b"head1BI");
        for chunk in [1, 3, 7, 100] {
            let mut copy = OutputBuffer::default();
            copy.writer(&mut pool).extend_from_slice(b"head1");
            copy.queue_owned(b"BIG-PAYLOAD".to_vec(), &mut pool);
            copy.writer(&mut pool).extend_from_slice(b"head2");
            copy.queue_owned(b"OTHER".to_vec(), &mut pool);
            copy.writer(&mut pool).extend_from_slice(b"tail");
            assert_eq!(
                drain(&mut copy, &mut pool, chunk),
                b"head1BIG-PAYLOADhead2OTHERtail"
            );
        }
    }

    #[test]
    fn a_drained_connection_holds_no_buffer() {
        let mut pool = BufferPool::default();
        let mut out = OutputBuffer::default();
        out.writer(&mut pool).extend_from_slice(b"abc");
        assert!(!out.consume(2, &mut pool));
        assert!(out.consume(1, &mut pool));
        assert_eq!(out.tail.capacity(), 0);
        assert_eq!(pool.buffers.len(), 1, "the buffer went back to the pool");
    }

    #[test]
    fn shared_payloads_leave_in_order_after_their_heads_and_stay_shared() {
        let mut pool = BufferPool::default();
        let shared: Arc<[u8]> = Arc::from(&b"SHARED-PAYLOAD"[..]);
        for chunk in [1, 2, 5, 100] {
            let mut out = OutputBuffer::default();
            out.writer(&mut pool).extend_from_slice(b"before");
            out.queue_shared(b"hd", Arc::clone(&shared));
            out.queue_shared(b"", Arc::clone(&shared));
            out.writer(&mut pool).extend_from_slice(b"after");
            assert_eq!(Arc::strong_count(&shared), 3, "queued by reference");
            assert_eq!(out.pending(), 6 + 2 + 14 + 14 + 5);
            assert_eq!(
                drain(&mut out, &mut pool, chunk),
                b"beforehdSHARED-PAYLOADSHARED-PAYLOADafter"
            );
            assert_eq!(Arc::strong_count(&shared), 1, "released once written");
        }
    }

    #[test]
    fn a_few_unsent_tail_bytes_are_copied_ahead_of_a_shared_payload_and_the_tail_kept() {
        let mut pool = BufferPool::default();
        let mut out = OutputBuffer::default();
        out.writer(&mut pool).reserve(8192);
        out.writer(&mut pool).extend_from_slice(b"header");
        let capacity = out.tail.capacity();
        out.queue_shared(b"", Arc::from(&b"x"[..]));
        assert_eq!(out.tail.capacity(), capacity, "the tail buffer stays");
        assert!(out.tail.is_empty());
        let mut traced = Vec::new();
        out.peek(100, |piece| traced.extend_from_slice(piece));
        assert_eq!(traced, b"headerx");
    }

    #[test]
    fn more_segments_than_one_writev_takes_are_sent_over_several() {
        let mut pool = BufferPool::default();
        let mut out = OutputBuffer::default();
        let mut expected = Vec::new();
        for i in 0..20u8 {
            out.queue_owned(vec![i; 3], &mut pool);
            out.queue_shared(&[i], Arc::from(&[i, i][..]));
            expected.extend_from_slice(&[i; 6]);
        }
        assert_eq!(drain(&mut out, &mut pool, usize::MAX), expected);
    }
}

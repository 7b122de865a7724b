//! A connection's received bytes that its protocol has not consumed yet, and the pool of
//! read buffers.
//!
//! A connection reads into a large buffer ([`Config::read_buffer_size`], 256 KiB by
//! default) so that a message that fits is handed to the application where it landed,
//! without a copy. While the connection is being read the buffer is its own: unconsumed
//! bytes stay where they are and new bytes are read after them, and the buffer compacts
//! itself (moves the unconsumed rest to the front) once less than half of it is left to
//! read into.
//!
//! An idle connection must cost next to nothing, so when the driver stops reading a
//! connection (its socket is drained) the buffer goes back to the pool: at once if
//! everything was consumed, and otherwise after the unconsumed rest — an incomplete frame
//! header or request head, a pipelined request — has been moved into a buffer of its own
//! size. Only a connection paused by backpressure keeps its read buffer, because the
//! bytes in it wait for the peer to read what we sent, and moving them would be wasted.
//!
//! [`Config::read_buffer_size`]: crate::Config::read_buffer_size

/// Read buffers kept for reuse. In the steady state one buffer serves every connection
/// in turn; more exist only while several connections are paused mid-input.
#[derive(Debug)]
pub(crate) struct ReadPool {
    size: usize,
    free: Vec<Vec<u8>>,
}

impl ReadPool {
    /// Free buffers kept at most.
    const MAX_FREE: usize = 16;

    pub(crate) fn new(size: usize) -> ReadPool {
        ReadPool {
            size,
            free: Vec::new(),
        }
    }

    /// A buffer of `size` initialized bytes (reading needs initialized memory in safe
    /// Rust; zeroing happens once per buffer, not per read).
    fn take(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_else(|| vec![0; self.size])
    }

    fn give(&mut self, buf: Vec<u8>) {
        if buf.len() == self.size && self.free.len() < Self::MAX_FREE {
            self.free.push(buf);
        }
    }
}

/// Bytes received on one connection and not yet consumed.
#[derive(Debug, Default)]
pub(crate) struct InputBuffer {
    /// A pooled read buffer while the connection is read, a buffer of exactly the
    /// unconsumed bytes while it rests, or nothing.
    /// INVARIANT: `start <= end <= buf.len()`; `buf[start..end]` is the unconsumed input.
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl InputBuffer {
    /// The unconsumed bytes.
    pub(crate) fn unconsumed(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The unconsumed bytes, mutably (a WebSocket unmasks them in place).
    pub(crate) fn unconsumed_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    /// How many bytes are unconsumed.
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The protocol consumed the first `n` unconsumed bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Forgets every unconsumed byte (a closing connection discards its input).
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Room to read into, after the unconsumed bytes. A resting connection gets a read
    /// buffer from `pool` (its few unconsumed bytes are moved into it); one with less
    /// than half its buffer left is compacted. Empty only if the unconsumed bytes fill the
    /// whole read buffer, which the server prevents by not reading a connection whose
    /// input it is not consuming.
    pub(crate) fn space(&mut self, pool: &mut ReadPool) -> &mut [u8] {
        self.space_up_to(pool, 0)
    }

    /// [`space`](Self::space), except that unconsumed bytes filling the buffer make it
    /// grow — doubling, up to `limit` bytes — instead of leaving no room: an outbound
    /// connection's handler parses whole replies in place, and waits, consuming nothing,
    /// for a reply larger than a read buffer. Empty once the unconsumed bytes reach
    /// `limit` (or the read buffer's size, if that is larger).
    pub(crate) fn space_up_to(&mut self, pool: &mut ReadPool, limit: usize) -> &mut [u8] {
        if self.buf.len() < pool.size {
            let mut big = pool.take();
            let len = self.len();
            big[..len].copy_from_slice(self.unconsumed());
            self.buf = big;
            self.start = 0;
            self.end = len;
        } else if self.start > 0 && self.buf.len() - self.end < self.buf.len() / 2 {
            // Less than half the buffer is left to read into: move the unconsumed rest
            // (while the connection is read, a few bytes of a frame header or request
            // head) to the front, so every read is offered a full buffer. Reads that are
            // offered less return less, and each costs a system call.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() && self.buf.len() < limit {
            // Full of unconsumed bytes (so `start` is 0: a buffer with consumed bytes at
            // its front was compacted above). A grown buffer is never pooled.
            let mut bigger = vec![0; (self.buf.len() * 2).min(limit)];
            bigger[..self.end].copy_from_slice(&self.buf[..self.end]);
            pool.give(std::mem::replace(&mut self.buf, bigger));
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into [`space`](Self::space).
    pub(crate) fn filled(&mut self, n: usize) {
        debug_assert!(self.end + n <= self.buf.len());
        self.end += n;
    }

    /// The connection is not being read for now. Its read buffer goes back to `pool`,
    /// unless `keep` (paused by backpressure); unconsumed bytes move into a buffer of
    /// their own size first. A grown buffer ([`space_up_to`](Self::space_up_to)) is
    /// dropped once empty and otherwise kept: its bytes are a large reply in the making,
    /// and moving them would cost as much as the reply.
    pub(crate) fn rest(&mut self, pool: &mut ReadPool, keep: bool) {
        if self.buf.len() < pool.size || keep {
            return; // resting already, or holding its bytes on purpose
        }
        if self.buf.len() > pool.size {
            if self.is_empty() {
                self.buf = Vec::new();
            }
            return;
        }
        if self.is_empty() {
            pool.give(std::mem::take(&mut self.buf));
            return;
        }
        let rest = self.unconsumed().to_vec();
        pool.give(std::mem::replace(&mut self.buf, rest));
        self.start = 0;
        self.end = self.buf.len();
    }

    /// Gives the read buffer back (the connection is gone).
    pub(crate) fn release(&mut self, pool: &mut ReadPool) {
        pool.give(std::mem::take(&mut self.buf));
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unconsumed_bytes_stay_in_place_while_reading_and_move_only_when_resting() {
        let mut pool = ReadPool::new(16);
        let mut input = InputBuffer::default();
        let space = input.space(&mut pool);
        space[..5].copy_from_slice(b"hello");
        input.filled(5);
        input.consume(3);
        assert_eq!(input.unconsumed(), b"lo");
        // More arrives after the rest; no copy while most of the buffer is free.
        input.space(&mut pool)[..3].copy_from_slice(b"abc");
        input.filled(3);
        assert_eq!((input.start, input.unconsumed()), (3, &b"loabc"[..]));
        // Less than half left to read into: the rest moves to the front.
        input.space(&mut pool)[..2].copy_from_slice(b"de");
        input.filled(2);
        assert_eq!(input.space(&mut pool).len(), 16 - 7);
        assert_eq!((input.start, input.unconsumed()), (0, &b"loabcde"[..]));
        input.rest(&mut pool, false);
        assert_eq!(input.buf.len(), 7, "resting: a buffer of its own size");
        assert_eq!(pool.free.len(), 1, "the read buffer is free for others");
        input.space(&mut pool)[0] = b'!';
        input.filled(1);
        assert_eq!(input.unconsumed(), b"loabcde!");
    }

    #[test]
    fn a_fully_consumed_connection_rests_with_no_buffer() {
        let mut pool = ReadPool::new(8);
        let mut input = InputBuffer::default();
        input.space(&mut pool);
        input.filled(4);
        input.consume(4);
        input.rest(&mut pool, false);
        assert_eq!(input.buf.capacity(), 0);
        assert!(input.is_empty());
    }

    #[test]
    fn a_full_buffer_grows_up_to_its_limit_and_shrinks_back_when_consumed() {
        let mut pool = ReadPool::new(8);
        let mut input = InputBuffer::default();
        input.space_up_to(&mut pool, 20)[..8].copy_from_slice(b"abcdefgh");
        input.filled(8);
        // Nothing consumed, nothing left to read into: the buffer doubles, bytes kept.
        assert_eq!(input.space_up_to(&mut pool, 20).len(), 8);
        assert_eq!(input.unconsumed(), b"abcdefgh");
        assert_eq!(pool.free.len(), 1, "the pooled buffer went back");
        input.filled(8);
        // Doubling stops at the limit, then there is no room at all.
        assert_eq!(input.space_up_to(&mut pool, 20).len(), 4);
        input.filled(4);
        assert!(input.space_up_to(&mut pool, 20).is_empty());
        assert_eq!(input.len(), 20);
        // Resting keeps a grown buffer's bytes where they are, and drops it once empty.
        input.rest(&mut pool, false);
        assert_eq!(input.buf.len(), 20);
        input.consume(20);
        input.rest(&mut pool, false);
        assert_eq!(input.buf.capacity(), 0);
        assert_eq!(
            input.space_up_to(&mut pool, 20).len(),
            8,
            "a pooled one again"
        );
    }

    #[test]
    fn without_a_limit_a_full_buffer_leaves_no_room() {
        let mut pool = ReadPool::new(8);
        let mut input = InputBuffer::default();
        input.space(&mut pool);
        input.filled(8);
        assert!(input.space(&mut pool).is_empty());
        assert_eq!(input.buf.len(), 8);
    }

    #[test]
    fn a_paused_connection_keeps_its_read_buffer() {
        let mut pool = ReadPool::new(8);
        let mut input = InputBuffer::default();
        input.space(&mut pool);
        input.filled(6);
        input.consume(1);
        input.rest(&mut pool, true);
        assert_eq!(input.buf.len(), 8);
        assert_eq!(input.len(), 5);
    }
}

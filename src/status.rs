//! `Status<T>`: the answer of every incremental parser in this crate.
//!
//! Incomplete input is not an error. A parser that has not yet seen enough bytes
//! answers [`Status::Partial`] and consumes nothing; the caller appends more bytes and
//! asks again. This is the httparse convention, and it is what lets every parser here
//! be driven by a non-blocking socket that delivers bytes in arbitrary pieces.

/// The outcome of a parse attempt on a possibly incomplete buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The input held a complete item.
    Complete(T),
    /// More bytes are needed; nothing was consumed.
    Partial,
}

impl<T> Status<T> {
    /// `true` for [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// `true` for [`Status::Partial`].
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }

    /// The complete value, if there is one.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }
}

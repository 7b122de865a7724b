//! `resp_reply`: the RESP2 reply parser of [`crate::redis::resp`], fed in arbitrary
//! pieces, against a reference reading of the protocol that shares no code with it.

use crate::redis::resp::{
    Command, MAX_DEPTH_CEILING, Reply, ReplyLimit, ReplyLimits, ReplyParser, RespError,
};
use crate::status::Status;

use super::{Reader, fnv1a, random_splits};

/// **resp_reply** — [`ReplyParser`] on a stream of pipelined replies.
///
/// Input: `[mode: u8] [bytes ...]`. Mode even: the bytes are the stream, as a server
/// might send it. Mode odd: the bytes describe replies (types, lengths, strings taken
/// from the input itself) and a command's arguments; the stream is those replies
/// encoded by [`Reply::encode`], then the command written by [`Command`].
///
/// Invariants, under the default limits and under small ones derived from the input: no
/// panic; the same replies, each with its length, and the same error, whether the stream
/// arrives whole, byte by byte, or in pseudo-random pieces; the same as the reference
/// reading ([`reference`]); each reply and each error decided at one exact byte (one byte
/// less is `Partial` for a fresh parser); no reply returned that passes a limit (a string
/// longer than `max_bulk_len`, an array longer than `max_array_len`, deeper than
/// `max_depth`, more values than `max_elements`, more bytes than `max_reply_bytes`); every
/// reply re-encodes canonically to at most its own length and parses back to itself. In
/// mode odd, with the default limits, the replies are exactly those encoded, and the
/// command parses as an array of its arguments as bulk strings.
pub fn resp_reply(data: &[u8]) {
    let mut input = Reader { data };
    let mode = input.u8();
    let h = fnv1a(data, 0x5245_5350);
    let rest = input.rest();
    let generated = (mode & 1 == 1).then(|| generate(rest));
    let stream: &[u8] = match &generated {
        Some(generated) => &generated.stream,
        None => rest,
    };
    let small = ReplyLimits {
        max_bulk_len: (h % 17) as usize,
        max_array_len: ((h >> 8) % 9) as usize,
        max_depth: ((h >> 16) % 5) as usize,
        max_elements: ((h >> 24) % 20) as usize,
        max_reply_bytes: 1 + ((h >> 32) % 200) as usize,
    };
    for limits in [ReplyLimits::default(), small] {
        let whole = run(stream, &[], &limits);
        let bytewise: Vec<usize> = (1..stream.len()).collect();
        let by_byte = run(stream, &bytewise, &limits);
        assert_eq!(whole.replies, by_byte.replies, "whole vs byte by byte");
        assert_eq!(whole.error(), by_byte.error(), "whole vs byte by byte");
        for salt in 1..=2 {
            let split = run(stream, &random_splits(stream.len(), h ^ salt), &limits);
            assert_eq!(whole.replies, split.replies, "whole vs random pieces");
            assert_eq!(whole.error(), split.error(), "whole vs random pieces");
        }
        assert_eq!(
            (whole.replies.clone(), whole.error()),
            reference(stream, &limits),
            "parser vs reference"
        );
        check_decided(stream, &by_byte, &limits);
        let mut start = 0;
        for (reply, n) in &whole.replies {
            check_within(reply, *n, &limits);
            check_reencoded(reply, *n);
            start += n;
        }
        assert!(start <= stream.len());
        if let Some(generated) = generated
            .as_ref()
            .filter(|_| limits == ReplyLimits::default())
        {
            assert_eq!(whole.replies, generated.expected, "the encoded replies");
            assert_eq!(whole.error(), None);
        }
    }
}

// ===== the runs =====

struct Run<'a> {
    replies: Vec<(Reply<'a>, usize)>,
    /// The error, where its reply began, and the end of the input when it was reported.
    error: Option<(RespError, usize, usize)>,
}

impl Run<'_> {
    fn error(&self) -> Option<RespError> {
        self.error.map(|(e, _, _)| e)
    }
}

/// One parser fed `stream` in pieces ending at `ends` (increasing; the whole stream is
/// fed last), as a connection feeds it: replies taken off the front as they complete.
fn run<'a>(stream: &'a [u8], ends: &[usize], limits: &ReplyLimits) -> Run<'a> {
    let mut parser = ReplyParser::new();
    let mut replies = Vec::new();
    let mut start = 0;
    for &end in ends.iter().chain(std::iter::once(&stream.len())) {
        loop {
            match parser.parse(&stream[start..end], limits) {
                Ok(Status::Complete((reply, n))) => {
                    assert!(n > 0 && start + n <= end);
                    replies.push((reply, n));
                    start += n;
                }
                Ok(Status::Partial) => break,
                Err(e) => {
                    // Sticky.
                    assert_eq!(parser.parse(&stream[start..end], limits), Err(e));
                    return Run {
                        replies,
                        error: Some((e, start, end)),
                    };
                }
            }
        }
    }
    Run {
        replies,
        error: None,
    }
}

/// Each reply, and the error, is decided at one byte: a fresh parser gives `Partial` one
/// byte before it. `by_byte` was fed one byte at a time, so its error was reported at
/// the deciding byte.
fn check_decided(stream: &[u8], by_byte: &Run<'_>, limits: &ReplyLimits) {
    let mut start = 0;
    for (reply, n) in &by_byte.replies {
        let fresh = ReplyParser::new().parse(&stream[start..start + n], limits);
        assert_eq!(fresh, Ok(Status::Complete((reply.clone(), *n))));
        assert_eq!(
            ReplyParser::new().parse(&stream[start..start + n - 1], limits),
            Ok(Status::Partial),
            "a reply is not complete one byte early"
        );
        start += n;
    }
    if let Some((e, at_start, end)) = by_byte.error {
        assert_eq!(at_start, start);
        assert!(end > start);
        assert_eq!(
            ReplyParser::new().parse(&stream[start..end], limits),
            Err(e)
        );
        assert_eq!(
            ReplyParser::new().parse(&stream[start..end - 1], limits),
            Ok(Status::Partial),
            "{e} is not known one byte early"
        );
        if let RespError::OverLimit {
            limit: ReplyLimit::ReplyBytes,
            max,
        } = e
        {
            assert!(end - start <= max + 1);
        }
    }
}

/// No string, array, level or value count past the limits; no more bytes than allowed.
fn check_within(reply: &Reply<'_>, n: usize, limits: &ReplyLimits) {
    fn walk(reply: &Reply<'_>, limits: &ReplyLimits, depth: usize) -> usize {
        match reply {
            Reply::Simple(text) | Reply::Error(text) => {
                assert!(text.len() <= limits.max_bulk_len);
                assert!(!text.contains(&b'\r') && !text.contains(&b'\n'));
                1
            }
            Reply::Bulk(Some(bytes)) => {
                assert!(bytes.len() <= limits.max_bulk_len);
                1
            }
            Reply::Array(Some(items)) => {
                assert!(depth <= limits.max_depth.min(MAX_DEPTH_CEILING));
                assert!(items.len() <= limits.max_array_len);
                1 + items
                    .iter()
                    .map(|item| walk(item, limits, depth + 1))
                    .sum::<usize>()
            }
            Reply::Integer(_) | Reply::Bulk(None) | Reply::Array(None) => 1,
        }
    }
    assert!(walk(reply, limits, 1) <= limits.max_elements.max(1));
    assert!(n <= limits.max_reply_bytes);
}

/// The canonical encoding is never longer than what was read, and reads back the same.
fn check_reencoded(reply: &Reply<'_>, n: usize) {
    let mut out = Vec::new();
    reply.encode(&mut out);
    assert!(out.len() <= n, "canonical {} > {n}", out.len());
    let again = ReplyParser::new().parse(&out, &ReplyLimits::default());
    assert_eq!(again, Ok(Status::Complete((reply.clone(), out.len()))));
}

// ===== the reference reading =====

/// Every reply at the front of `stream`, one after the other, and the error that stops
/// them, read from the complete stream by recursive descent.
///
/// The rules, as the module documentation of [`crate::redis::resp`] states them: a
/// number line is refused at the first byte after which no completion of it would be
/// a valid number (`std`'s own `i64` parser decides, which also accepts a sign and `-0`;
/// a length is `-1` or unsigned digits); a string line at its first byte past
/// `max_bulk_len`; each header's limits when its LF is read, a bulk string's length
/// before the reply's byte limit, an array's length, then its depth, then the values it
/// announces; and a reply that has not ended within `max_reply_bytes` when more bytes
/// than that are there.
fn reference<'a>(
    stream: &'a [u8],
    limits: &ReplyLimits,
) -> (Vec<(Reply<'a>, usize)>, Option<RespError>) {
    let mut replies = Vec::new();
    let mut start = 0;
    loop {
        let rest = &stream[start..];
        let window = &rest[..rest.len().min(limits.max_reply_bytes)];
        let mut reader = RefReader {
            buf: window,
            pos: 0,
            announced: 1,
            limits,
        };
        match reader.value(0) {
            Ok(Some(reply)) => {
                replies.push((reply, reader.pos));
                start += reader.pos;
            }
            Ok(None) if rest.len() > limits.max_reply_bytes => {
                let e = RespError::OverLimit {
                    limit: ReplyLimit::ReplyBytes,
                    max: limits.max_reply_bytes,
                };
                return (replies, Some(e));
            }
            Ok(None) => return (replies, None),
            Err(e) => return (replies, Some(e)),
        }
    }
}

/// `Ok(None)`: the bytes end before the value does.
type RefResult<T> = Result<Option<T>, RespError>;

struct RefReader<'a, 'l> {
    buf: &'a [u8],
    pos: usize,
    announced: usize,
    limits: &'l ReplyLimits,
}

impl<'a> RefReader<'a, '_> {
    fn next(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn crlf_end(&mut self) -> RefResult<()> {
        match self.next() {
            None => Ok(None),
            Some(b'\n') => Ok(Some(())),
            Some(_) => Err(RespError::MissingCrlf),
        }
    }

    /// `depth`: arrays around this value.
    fn value(&mut self, depth: usize) -> RefResult<Reply<'a>> {
        let Some(kind) = self.next() else {
            return Ok(None);
        };
        match kind {
            b'+' | b'-' => {
                let start = self.pos;
                loop {
                    match self.next() {
                        None => return Ok(None),
                        Some(b'\r') => break,
                        Some(b'\n') => return Err(RespError::MissingCrlf),
                        Some(_) if self.pos - start > self.limits.max_bulk_len => {
                            return Err(over(ReplyLimit::BulkLength, self.limits.max_bulk_len));
                        }
                        Some(_) => {}
                    }
                }
                let text = &self.buf[start..self.pos - 1];
                if self.crlf_end()?.is_none() {
                    return Ok(None);
                }
                Ok(Some(if kind == b'+' {
                    Reply::Simple(text)
                } else {
                    Reply::Error(text)
                }))
            }
            b':' => Ok(self.number(true)?.map(Reply::Integer)),
            b'$' => {
                let Some(len) = self.number(false)? else {
                    return Ok(None);
                };
                if len == -1 {
                    return Ok(Some(Reply::Bulk(None)));
                }
                let max = self.limits.max_bulk_len;
                if len as u64 > max as u64 {
                    return Err(over(ReplyLimit::BulkLength, max));
                }
                let len = len as usize;
                if self.pos.saturating_add(len).saturating_add(2) > self.limits.max_reply_bytes {
                    return Err(over(ReplyLimit::ReplyBytes, self.limits.max_reply_bytes));
                }
                let start = self.pos;
                if self.buf.len() <= start + len {
                    return Ok(None);
                }
                self.pos = start + len;
                match self.next() {
                    Some(b'\r') => {}
                    _ => return Err(RespError::MissingCrlf),
                }
                if self.crlf_end()?.is_none() {
                    return Ok(None);
                }
                Ok(Some(Reply::Bulk(Some(&self.buf[start..start + len]))))
            }
            b'*' => {
                let Some(len) = self.number(false)? else {
                    return Ok(None);
                };
                if len == -1 {
                    return Ok(Some(Reply::Array(None)));
                }
                let limits = self.limits;
                if len as u64 > limits.max_array_len as u64 {
                    return Err(over(ReplyLimit::ArrayLength, limits.max_array_len));
                }
                let len = len as usize;
                let max_depth = limits.max_depth.min(MAX_DEPTH_CEILING);
                if depth + 1 > max_depth {
                    return Err(over(ReplyLimit::Depth, max_depth));
                }
                let max_elements = limits.max_elements.max(1);
                if self.announced + len > max_elements {
                    return Err(over(ReplyLimit::Elements, max_elements));
                }
                self.announced += len;
                let mut items = Vec::new();
                for _ in 0..len {
                    match self.value(depth + 1)? {
                        Some(item) => items.push(item),
                        None => return Ok(None),
                    }
                }
                Ok(Some(Reply::Array(Some(items))))
            }
            other => Err(RespError::BadType(other)),
        }
    }

    /// A number line through its LF: any `i64` for an integer, `-1` or unsigned digits
    /// for a length.
    fn number(&mut self, integer: bool) -> RefResult<i64> {
        let bad = if integer {
            RespError::BadInteger
        } else {
            RespError::BadLength
        };
        let viable = |text: &str| {
            if integer {
                matches!(text, "" | "+" | "-") || text.parse::<i64>().is_ok()
            } else {
                matches!(text, "" | "-" | "-1")
                    || (text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<i64>().is_ok())
            }
        };
        let start = self.pos;
        loop {
            match self.next() {
                None => return Ok(None),
                Some(b'\r') => break,
                Some(b'\n') => return Err(RespError::MissingCrlf),
                Some(b) if b.is_ascii_digit() || b == b'+' || b == b'-' => {
                    let text = std::str::from_utf8(&self.buf[start..self.pos]).expect("ascii");
                    if !viable(text) {
                        return Err(bad);
                    }
                }
                Some(_) => return Err(bad),
            }
        }
        let text = std::str::from_utf8(&self.buf[start..self.pos - 1]).expect("ascii");
        let Ok(value) = text.parse::<i64>() else {
            // Empty, or a sign alone.
            return Err(bad);
        };
        if self.crlf_end()?.is_none() {
            return Ok(None);
        }
        Ok(Some(value))
    }
}

fn over(limit: ReplyLimit, max: usize) -> RespError {
    RespError::OverLimit { limit, max }
}

// ===== mode odd: replies described by the input =====

struct Generated<'a> {
    stream: Vec<u8>,
    expected: Vec<(Reply<'a>, usize)>,
}

/// Up to 16 replies read off the input (see [`generated_value`]), each encoded, then a
/// command of what is left: its name and up to three more arguments.
fn generate(bytes: &[u8]) -> Generated<'_> {
    let mut input = Reader { data: bytes };
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..16 {
        if input.data.len() < 2 {
            break;
        }
        let reply = generated_value(&mut input, 1);
        let before = stream.len();
        reply.encode(&mut stream);
        expected.push((reply, stream.len() - before));
    }
    let rest = input.rest();
    let cut = |i: usize| rest.len() * i / 4;
    let args: Vec<&[u8]> = (0..4).map(|i| &rest[cut(i)..cut(i + 1)]).collect();
    let before = stream.len();
    // A command's name is text; bytes that are not UTF-8 name ECHO instead.
    let name = std::str::from_utf8(args[0]).unwrap_or("ECHO");
    let mut command = Command::new(&mut stream, name);
    for arg in &args[1..] {
        command.arg(arg);
    }
    let written = command.finish();
    assert_eq!(written, stream.len() - before);
    let mut items = vec![Reply::Bulk(Some(name.as_bytes()))];
    items.extend(args[1..].iter().map(|arg| Reply::Bulk(Some(*arg))));
    expected.push((Reply::Array(Some(items)), written));
    Generated { stream, expected }
}

/// A line of up to 15 bytes of the input; `OK` if they hold a CR or LF.
fn generated_line<'a>(input: &mut Reader<'a>) -> &'a [u8] {
    let len = usize::from(input.u8() % 16);
    let text = input.take(len);
    if text.contains(&b'\r') || text.contains(&b'\n') {
        b"OK"
    } else {
        text
    }
}

/// One reply described by the input: a type byte, then what that type needs (lengths
/// from one byte, strings taken from the input, lines without CR or LF).
fn generated_value<'a>(input: &mut Reader<'a>, depth: usize) -> Reply<'a> {
    let op = input.u8();
    match op % 8 {
        0 => Reply::Simple(generated_line(input)),
        1 => Reply::Error(generated_line(input)),
        2 => {
            let mut bytes = [0u8; 8];
            let taken = input.take(8);
            bytes[..taken.len()].copy_from_slice(taken);
            Reply::Integer(i64::from_le_bytes(bytes))
        }
        3 | 4 => {
            let len = usize::from(input.u8());
            Reply::Bulk(Some(input.take(len)))
        }
        5 => Reply::Bulk(None),
        6 => Reply::Array(None),
        _ if depth >= 6 => Reply::Array(Some(Vec::new())),
        _ => {
            let len = usize::from(input.u8() % 6);
            Reply::Array(Some(
                (0..len)
                    .map(|_| generated_value(input, depth + 1))
                    .collect(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_reads_what_the_encoder_writes() {
        let replies = [
            Reply::Simple(b"OK"),
            Reply::Error(b"ERR x"),
            Reply::Integer(i64::MIN),
            Reply::Bulk(Some(b"a\r\nb")),
            Reply::Bulk(None),
            Reply::Array(None),
            Reply::Array(Some(vec![
                Reply::Array(Some(vec![
                    Reply::Bulk(Some(b"0-1")),
                    Reply::Array(Some(vec![])),
                ])),
                Reply::Integer(1),
            ])),
        ];
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for reply in &replies {
            let before = stream.len();
            reply.encode(&mut stream);
            expected.push((reply.clone(), stream.len() - before));
        }
        assert_eq!(
            reference(&stream, &ReplyLimits::default()),
            (expected, None)
        );
    }

    #[test]
    fn the_reference_refuses_as_the_parser_documents() {
        let limits = ReplyLimits::default();
        let cases: &[(&[u8], RespError)] = &[
            (b"_\r\n", RespError::BadType(b'_')),
            (b":1a\r\n", RespError::BadInteger),
            (b":99999999999999999999", RespError::BadInteger),
            (b"$-2\r\n", RespError::BadLength),
            (b"$+1\r\n", RespError::BadLength),
            (b"+OK\n", RespError::MissingCrlf),
            (b"$1\r\nab", RespError::MissingCrlf),
        ];
        for &(input, e) in cases {
            assert_eq!(reference(input, &limits), (vec![], Some(e)), "{input:?}");
        }
        let tight = ReplyLimits {
            max_depth: 1,
            ..limits
        };
        assert_eq!(
            reference(b":1\r\n*1\r\n*0\r\n", &tight),
            (
                vec![(Reply::Integer(1), 4)],
                Some(over(ReplyLimit::Depth, 1))
            )
        );
        // Incomplete is no error.
        assert_eq!(reference(b"*2\r\n:1\r\n", &limits), (vec![], None));
    }

    #[test]
    fn both_modes_take_short_and_empty_inputs() {
        for data in [
            &b""[..],
            b"\x00",
            b"\x01",
            b"\x01\x07",
            b"\x00+",
            b"\x03\xff",
        ] {
            resp_reply(data);
        }
    }

    #[test]
    fn the_described_seeds_describe_several_replies_and_a_command() {
        let seed =
            b"\x07\x03\x00\x03OK!\x02abcdefgh\x03\x05hello\x05\x06\x07\x01\x07\x00GETkey\r\nval";
        let generated = generate(seed);
        assert!(generated.expected.len() >= 5, "{:?}", generated.expected);
        let (command, _) = generated.expected.last().unwrap();
        assert!(command.as_array().is_some_and(|args| args.len() == 4));
    }
}

//! The HTTP/1.1 targets: `http_head` (the incremental request-head parser) and
//! `body_decoder` (request-body framing and decoding), each checked against an
//! independent reading of RFC 9112; and the checks of a parsed head and of a response
//! that `server_pipeline` reuses.

use crate::config::HeadLimits;
use crate::http::body::{self, BodyDecoder, BodyError, BodyFraming};
use crate::http::origin::{self, AllowedOrigins, OriginCheck};
use crate::http::request::{HeadParser, HttpError, RequestHead, Version};
use crate::http::response::Response;
use crate::status::Status;
use crate::ws::handshake;

use super::{Reader, Rng, fnv1a, random_splits};

// ===== target: http_head =====

/// Limits for a run of the head parser: the defaults, and small ones derived from `h`
/// so that every limit is reachable by short inputs.
fn head_limit_sets(h: u64) -> [HeadLimits; 2] {
    let max_head_bytes = 64 + (h % 256) as usize;
    let small = HeadLimits {
        max_head_bytes,
        max_headers: 1 + ((h >> 16) % 8) as usize,
        max_target_len: (1 + ((h >> 24) % 80) as usize).min(max_head_bytes),
    };
    [HeadLimits::default(), small]
}

/// **http_head** — the incremental request-head parser.
///
/// Invariants: no panic; the answer depends only on the bytes, never on how they were
/// split (one shot, byte by byte, and pseudo-random splits all agree, and after every
/// chunk the incremental answer equals a fresh parser's answer on that prefix); the
/// answer is decided at one exact byte (`Partial` for every shorter prefix, the same
/// answer for every longer one); a complete head respects the limits and the grammar
/// (tchar method, visible-ASCII target, token names, OWS-trimmed values without control
/// bytes, exactly one `Host` in HTTP/1.1) and survives `take_request`; an error maps to
/// a 4xx/5xx response; the handshake checks never panic on any head.
pub fn http_head(data: &[u8]) {
    let h = fnv1a(data, 0);
    for limits in head_limit_sets(h) {
        let whole = HeadParser::new().parse(data, &limits);

        // Byte by byte: find the byte at which the answer is decided.
        let mut parser = HeadParser::new();
        let mut decided = None;
        for end in 0..=data.len() {
            let answer = parser.parse(&data[..end], &limits);
            match (decided, answer) {
                (None, Ok(Status::Partial)) => {}
                (None, other) => decided = Some((end, other)),
                (Some((_, first)), other) => {
                    assert_eq!(other, first, "answer changed after it was decided")
                }
            }
        }
        match decided {
            None => assert_eq!(whole, Ok(Status::Partial), "one shot vs byte by byte"),
            Some((at, answer)) => {
                assert_eq!(whole, answer, "one shot vs byte by byte");
                assert!(at > 0);
                assert_eq!(
                    HeadParser::new().parse(&data[..at], &limits),
                    answer,
                    "fresh parse of the deciding prefix"
                );
                assert_eq!(
                    HeadParser::new().parse(&data[..at - 1], &limits),
                    Ok(Status::Partial),
                    "the answer must not be known one byte early"
                );
                if let Ok(Status::Complete(n)) = answer {
                    assert_eq!(n, at, "a head ends at the byte that completes it");
                }
                if answer == Err(HttpError::HeadTooLarge) {
                    assert_eq!(at, limits.max_head_bytes + 1);
                }
            }
        }

        // Pseudo-random splits, compared with a fresh parser at every boundary.
        for salt in 1..=2 {
            let mut parser = HeadParser::new();
            let mut last = Ok(Status::Partial);
            for end in random_splits(data.len(), h ^ salt) {
                last = parser.parse(&data[..end], &limits);
                assert_eq!(last, HeadParser::new().parse(&data[..end], &limits));
            }
            if !data.is_empty() {
                assert_eq!(last, whole, "split parse vs one shot");
            }
        }

        match whole {
            Ok(Status::Complete(n)) => check_complete_head(data, n, &limits),
            Ok(Status::Partial) => assert!(data.len() <= limits.max_head_bytes),
            Err(e) => check_error_response(&e),
        }
    }
}

/// Checks a complete head of length `n` at the start of `buf` (the parser's invariants,
/// the accessors, `take_request`, and that the handshake code takes it without panicking).
pub(super) fn check_complete_head(buf: &[u8], n: usize, limits: &HeadLimits) {
    assert!(n <= buf.len() && n <= limits.max_head_bytes);
    assert_eq!(buf[n - 1], b'\n', "a head ends with its blank line");
    let mut parser = HeadParser::new();
    assert_eq!(parser.parse(buf, limits), Ok(Status::Complete(n)));
    let head = parser.head(buf).expect("complete head");
    check_head(&head, limits);

    // The owned request tells the same story.
    let request = parser
        .clone()
        .take_request(buf.to_vec())
        .expect("complete head");
    assert_eq!(request.as_bytes(), &buf[..n]);
    assert_eq!(request.method(), head.method());
    assert_eq!(request.target(), head.target());
    assert_eq!(request.version(), head.version());
    assert!(request.head().headers().eq(head.headers()));

    // The handshake checks accept or refuse any head; they never panic.
    let _ = handshake::is_upgrade_request(&head);
    match handshake::validate_upgrade(&head) {
        Ok(upgrade) => {
            assert_eq!(upgrade.key.len(), 24);
            assert_eq!(handshake::accept_key(upgrade.key.as_bytes()).len(), 28);
            let _ = upgrade.protocols().count();
        }
        Err(e) => {
            let mut out = Vec::new();
            e.response().encode(&mut out, false);
            check_http_response(&out, e.status().as_u16());
        }
    }
    // The origin checks judge any head without panicking, and only a policy that lets
    // other origins in ever allows one.
    let listed = AllowedOrigins::List(vec!["http://example.com".to_string()]);
    for allowed in [AllowedOrigins::SameOrigin, listed, AllowedOrigins::Any] {
        let check = origin::check(&head, &allowed);
        if let OriginCheck::Allowed(o) = check {
            assert!(
                allowed != AllowedOrigins::SameOrigin,
                "{o:?} allowed by none"
            );
        }
        let _ = check.refuses(head.method(), true);
    }
    let _ = origin::is_preflight(&head);
}

/// The grammar and limits a parsed head must satisfy, checked independently of the
/// parser's tables.
fn check_head(head: &RequestHead<'_>, limits: &HeadLimits) {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let method = head.method().as_bytes();
    assert!(!method.is_empty() && method.iter().all(|&b| tchar(b)));
    let target = head.target().as_bytes();
    assert!(!target.is_empty() && target.len() <= limits.max_target_len);
    assert!(target.iter().all(|&b| (0x21..=0x7E).contains(&b)));
    // Origin-form is path and query as sent; absolute-form (RFC 9112 §3.2.2) is
    // `scheme "://" authority` before them, the authority one valid, non-empty host
    // that takes the place of `Host`, and the path `/` when none follows it.
    let (origin, target_authority) = match absolute_form_parts(head.target()) {
        Some((authority, origin)) => {
            assert!(!authority.is_empty(), "an empty host is rejected");
            // No userinfo, no whitespace (a `,` is fine: RFC 3986 sub-delims are
            // reg-name characters).
            assert!(!authority.contains(['@', ' ', '\t']), "{authority:?}");
            assert_eq!(head.authority(), Some(authority));
            (origin, Some(authority))
        }
        None => (head.target(), None),
    };
    let rebuilt = match head.query() {
        Some(q) => format!("{}?{q}", head.path()),
        None => head.path().to_string(),
    };
    if target_authority.is_some() && !origin.starts_with('/') {
        assert_eq!(format!("/{origin}"), rebuilt, "empty path reads as /");
    } else {
        assert_eq!(origin, rebuilt);
    }
    let mut count = 0;
    for (name, value) in head.headers() {
        count += 1;
        assert!(!name.is_empty() && name.bytes().all(tchar), "name {name:?}");
        // RFC 9110 §5.5: no control bytes but HTAB; OWS trimmed at both ends.
        assert!(
            value
                .iter()
                .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7F)),
            "value {value:?}"
        );
        let ows = |b: &u8| *b == b' ' || *b == b'\t';
        assert!(!value.first().is_some_and(ows) && !value.last().is_some_and(ows));
    }
    assert!(count <= limits.max_headers);
    if head.version() == Version::Http11 {
        assert_eq!(
            head.header_count("host"),
            1,
            "HTTP/1.1 needs exactly one Host"
        );
    } else {
        assert!(head.header_count("host") <= 1);
    }
    let _ = head.header_str("connection");
    let _ = head.has_token("connection", "upgrade");
    let _ = head.list("sec-websocket-protocol").count();
}

/// An absolute-form target's authority and the rest, read here without the parser's
/// helper: `scheme "://"`, a scheme of ALPHA then ALPHA / DIGIT / `+-.`, and the
/// authority up to the first `/` or `?`.
fn absolute_form_parts(target: &str) -> Option<(&str, &str)> {
    let at = target.find("://")?;
    let scheme = &target.as_bytes()[..at];
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return None;
    }
    let rest = &target[at + 3..];
    let end = rest.bytes().position(|b| b == b'/' || b == b'?');
    let end = end.unwrap_or(rest.len());
    Some((&rest[..end], &rest[end..]))
}

pub(super) fn check_error_response(e: &HttpError) {
    let status = e.status().as_u16();
    assert!(matches!(status, 400 | 414 | 431 | 505), "{e:?} → {status}");
    let mut out = Vec::new();
    Response::from_http_error(e).encode(&mut out, false);
    check_http_response(&out, status);
}

/// `bytes` is exactly one HTTP/1.1 response with this status, a well-formed head and a
/// body of the length its `Content-Length` announces.
pub(super) fn check_http_response(bytes: &[u8], status: u16) {
    let text = std::str::from_utf8(bytes).expect("responses are ASCII");
    let (head, body) = text.split_once("\r\n\r\n").expect("a blank line");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    assert!(
        status_line.starts_with(&format!("HTTP/1.1 {status} ")),
        "{status_line:?}"
    );
    let mut content_length = None;
    for line in lines {
        let (name, value) = line.split_once(": ").expect("name: value");
        assert!(!name.is_empty() && !value.contains(['\r', '\n']));
        if name.eq_ignore_ascii_case("content-length") {
            assert!(content_length.is_none(), "one Content-Length");
            content_length = Some(value.parse::<usize>().expect("a number"));
        }
    }
    if status == 101 {
        assert_eq!(body, "");
        assert!(content_length.is_none());
    } else {
        assert_eq!(content_length, Some(body.len()), "Content-Length vs body");
    }
}

// ===== target: body_decoder =====

/// The body-size limits a run picks from (`usize::MAX` is "no limit").
const BODY_LIMITS: [usize; 8] = [0, 1, 5, 16, 100, 1000, 64 * 1024, usize::MAX];

/// What feeding a body decoder produced: the verdict (`Ok(Some(consumed))` complete,
/// `Ok(None)` still partial with everything consumed, `Err` refused) and the content.
type BodyRun = (Result<Option<usize>, BodyError>, Vec<u8>);

/// Feeds `input` to a fresh decoder in pieces ending at `ends` (increasing, the last =
/// `input.len()`), the way a connection does: the decoder keeps its place, so each call
/// gets only new bytes. Checks the per-call contract on the way.
fn feed_body(framing: BodyFraming, max_body: usize, input: &[u8], ends: &[usize]) -> BodyRun {
    let mut decoder = BodyDecoder::new(framing, max_body);
    let mut body = Vec::new();
    let mut start = 0;
    let mut verdict = Ok(None);
    // A decoder with nothing to decode (no body, or Content-Length 0) is complete at once.
    if ends.is_empty() {
        verdict = match decoder.decode(&[], &mut body) {
            Ok((0, Status::Complete(()))) => Ok(Some(0)),
            Ok((0, Status::Partial)) => Ok(None),
            Ok(other) => panic!("consumed bytes of an empty input: {other:?}"),
            Err(e) => Err(e),
        };
    }
    for &end in ends {
        let piece = &input[start..end];
        let before = body.len();
        match decoder.decode(piece, &mut body) {
            Ok((n, Status::Partial)) => {
                assert_eq!(n, piece.len(), "a partial body consumes all its input");
                assert!(!decoder.is_done());
            }
            Ok((n, Status::Complete(()))) => {
                assert!(n <= piece.len());
                assert!(decoder.is_done());
                verdict = Ok(Some(start + n));
                // After Complete: nothing more is consumed, the answer stays.
                let mut again = body.clone();
                assert_eq!(
                    decoder.decode(&input[start + n..], &mut again),
                    Ok((0, Status::Complete(())))
                );
                assert_eq!(again, body);
                break;
            }
            Err(e) => {
                assert!(!decoder.is_done());
                // Errors are sticky, and take no more content.
                let mut again = body.clone();
                assert_eq!(decoder.decode(b"0\r\n\r\n", &mut again), Err(e));
                assert_eq!(decoder.decode(&[], &mut again), Err(e));
                assert_eq!(again, body);
                verdict = Err(e);
                break;
            }
        }
        assert!(body.len() >= before);
        assert!(
            body.len() as u64 <= max_body as u64,
            "body of {} bytes over max_body {max_body}",
            body.len()
        );
        // Empty pieces change nothing.
        let len = body.len();
        if !decoder.is_done() {
            assert_eq!(decoder.decode(&[], &mut body), Ok((0, Status::Partial)));
        }
        assert_eq!(body.len(), len);
        start = end;
    }
    assert!(body.len() as u64 <= max_body as u64);
    (verdict, body)
}

/// The same input, one shot, byte by byte and in pseudo-random pieces: the same verdict,
/// content and consumed count. An error is decided at one byte: the prefix before it is
/// partial, the prefix through it is the same error. Returns the one-shot result.
fn check_body_splits(framing: BodyFraming, max_body: usize, input: &[u8], seed: u64) -> BodyRun {
    let once_ends: Vec<usize> = if input.is_empty() {
        Vec::new()
    } else {
        vec![input.len()]
    };
    let once = feed_body(framing, max_body, input, &once_ends);
    let bytewise: Vec<usize> = (1..=input.len()).collect();
    assert_eq!(
        feed_body(framing, max_body, input, &bytewise),
        once,
        "byte by byte vs one shot"
    );
    for salt in 0..2 {
        let ends = random_splits(input.len(), seed ^ salt);
        assert_eq!(
            feed_body(framing, max_body, input, &ends),
            once,
            "pieces {ends:?} vs one shot"
        );
    }
    // Where an error is decided: find the byte by feeding byte by byte.
    if once.0.is_err() && !input.is_empty() {
        let mut decoder = BodyDecoder::new(framing, max_body);
        let mut body = Vec::new();
        let mut at = None;
        for (i, b) in input.iter().enumerate() {
            if decoder.decode(std::slice::from_ref(b), &mut body).is_err() {
                at = Some(i);
                break;
            }
        }
        if let Some(at) = at {
            let before = feed_body(framing, max_body, &input[..at], &[at]);
            if at > 0 {
                assert_eq!(before.0, Ok(None), "error known before byte {at}");
            }
            let through = feed_body(framing, max_body, &input[..=at], &[at + 1]);
            assert_eq!(through.0, once.0, "error at byte {at}");
        } else {
            // The limit refused the body before any byte (Content-Length over max_body).
            assert_eq!(once.0, Err(BodyError::TooLarge));
        }
    }
    once
}

/// Splits header values on commas and trims OWS, dropping empty elements (RFC 9110
/// §5.6.1), independently of `RequestHead::list`.
fn header_elements<'a>(head: &RequestHead<'a>, name: &str) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    for (n, value) in head.headers() {
        if !n.eq_ignore_ascii_case(name) {
            continue;
        }
        for element in value.split(|&b| b == b',') {
            let ows = |b: &u8| *b == b' ' || *b == b'\t';
            let start = element
                .iter()
                .position(|b| !ows(b))
                .unwrap_or(element.len());
            let end = element
                .iter()
                .rposition(|b| !ows(b))
                .map_or(start, |i| i + 1);
            if start < end {
                out.push(&element[start..end]);
            }
        }
    }
    out
}

/// RFC 9112 §6.3 as the crate documents it for [`framing`](body::framing), written out apart.
fn reference_framing(head: &RequestHead<'_>, max_body: usize) -> Result<BodyFraming, BodyError> {
    let count = |name: &str| {
        head.headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    };
    if count("transfer-encoding") > 0 {
        if head.version() == Version::Http10 {
            return Err(BodyError::TransferEncodingInHttp10);
        }
        if count("content-length") > 0 {
            return Err(BodyError::ConflictingFraming);
        }
        let codings = header_elements(head, "transfer-encoding");
        let chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
        let n_chunked = codings.iter().filter(|c| chunked(c)).count();
        return match codings.last() {
            Some(last) if chunked(last) && n_chunked == 1 && codings.len() == 1 => {
                Ok(BodyFraming::Chunked)
            }
            Some(last) if chunked(last) && n_chunked == 1 => {
                Err(BodyError::UnsupportedTransferCoding)
            }
            _ => Err(BodyError::ChunkedNotFinal),
        };
    }
    if count("content-length") > 0 {
        let mut value: Option<u64> = None;
        for element in header_elements(head, "content-length") {
            if !element.iter().all(u8::is_ascii_digit) {
                return Err(BodyError::BadContentLength);
            }
            let n = std::str::from_utf8(element)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(BodyError::BadContentLength)?;
            if value.is_some_and(|v| v != n) {
                return Err(BodyError::BadContentLength);
            }
            value = Some(n);
        }
        let n = value.ok_or(BodyError::BadContentLength)?;
        if n > max_body as u64 {
            return Err(BodyError::TooLarge);
        }
        return Ok(BodyFraming::ContentLength(n));
    }
    Ok(BodyFraming::None)
}

/// Checks that follow from the framing alone: a `Content-Length` body is exactly its
/// first N bytes, and no body consumes nothing.
fn check_framed_body(framing: BodyFraming, max_body: usize, input: &[u8], run: &BodyRun) {
    match framing {
        BodyFraming::None | BodyFraming::ContentLength(0) => {
            assert_eq!(run, &(Ok(Some(0)), Vec::new()), "no body consumes nothing")
        }
        BodyFraming::ContentLength(n) if n > max_body as u64 => {
            assert_eq!(run, &(Err(BodyError::TooLarge), Vec::new()))
        }
        BodyFraming::ContentLength(n) => {
            if (input.len() as u64) < n {
                assert_eq!(
                    run,
                    &(Ok(None), input.to_vec()),
                    "short Content-Length body"
                );
            } else {
                let n = n as usize;
                assert_eq!(
                    run,
                    &(Ok(Some(n)), input[..n].to_vec()),
                    "a Content-Length body is exactly its N bytes"
                );
            }
        }
        BodyFraming::Chunked => {}
    }
}

/// A random token of 1..=6 tchars.
fn random_token(rng: &mut Rng) -> String {
    const TCHARS: &[u8] =
        b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let n = 1 + (rng.next() % 6) as usize;
    (0..n)
        .map(|_| TCHARS[(rng.next() % TCHARS.len() as u64) as usize] as char)
        .collect()
}

/// A random valid chunk extension list (RFC 9112 §7.1.1), possibly empty.
fn random_chunk_ext(rng: &mut Rng, out: &mut Vec<u8>) {
    let bws = |rng: &mut Rng, out: &mut Vec<u8>| {
        for _ in 0..(rng.next() % 4).saturating_sub(2) {
            out.push(if rng.next().is_multiple_of(2) {
                b' '
            } else {
                b'\t'
            });
        }
    };
    for _ in 0..(rng.next() % 5).saturating_sub(2) {
        bws(rng, out);
        out.push(b';');
        bws(rng, out);
        out.extend_from_slice(random_token(rng).as_bytes());
        match rng.next() % 3 {
            0 => {}
            1 => {
                bws(rng, out);
                out.push(b'=');
                bws(rng, out);
                out.extend_from_slice(random_token(rng).as_bytes());
            }
            _ => {
                bws(rng, out);
                out.push(b'=');
                bws(rng, out);
                out.push(b'"');
                for _ in 0..rng.next() % 8 {
                    match rng.next() % 6 {
                        0 => out.extend_from_slice(b"\\\""),
                        1 => out.extend_from_slice(b"\\\\"),
                        2 => out.push(b'\t'),
                        3 => out.push(0x80 | (rng.next() as u8)),
                        4 => out.extend_from_slice(b"\\a"),
                        _ => {
                            // qdtext, or a quoted-pair for `"` and `\`.
                            let b = 0x21 + (rng.next() % 94) as u8;
                            if b == b'"' || b == b'\\' {
                                out.push(b'\\');
                            }
                            out.push(b);
                        }
                    }
                }
                out.push(b'"');
            }
        }
    }
    bws(rng, out);
}

/// A valid chunked encoding of `payload` with random chunk sizes, size spellings (case,
/// leading zeros), extensions and trailers; returns it without anything after it.
fn encode_chunked(payload: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut wire = Vec::new();
    let size_line = |rng: &mut Rng, size: usize, wire: &mut Vec<u8>| {
        let zeros = if rng.next().is_multiple_of(4) {
            rng.next() % 4
        } else {
            0
        };
        for _ in 0..zeros {
            wire.push(b'0');
        }
        let hex = if rng.next().is_multiple_of(2) {
            format!("{size:x}")
        } else {
            format!("{size:X}")
        };
        wire.extend_from_slice(hex.as_bytes());
        random_chunk_ext(rng, wire);
        wire.extend_from_slice(b"\r\n");
    };
    let mut rest = payload;
    while !rest.is_empty() {
        let n = rng.small(rest.len());
        size_line(rng, n, &mut wire);
        wire.extend_from_slice(&rest[..n]);
        wire.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    size_line(rng, 0, &mut wire);
    for _ in 0..(rng.next() % 5).saturating_sub(2) {
        wire.extend_from_slice(random_token(rng).as_bytes());
        wire.push(b':');
        for _ in 0..rng.next() % 10 {
            // field-value bytes: HTAB, SP, VCHAR, obs-text.
            let b = match rng.next() % 4 {
                0 => b' ',
                1 => b'\t',
                2 => 0x80 | rng.next() as u8,
                _ => 0x21 + (rng.next() % 94) as u8,
            };
            wire.push(b);
        }
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"\r\n");
    wire
}

/// **body_decoder** — request-body framing ([`framing`](body::framing)) and incremental decoding
/// ([`BodyDecoder`]) of `Content-Length` and chunked bodies.
///
/// Input: `[mode][limit][...]`. Mode 0: the rest is a chunked body; 1: the rest is a
/// payload, encoded here as a valid chunked body (chunk sizes, size spellings,
/// extensions and trailers drawn from 8 seed bytes) followed by the mode-0 bytes as
/// what comes after it; 2: the rest is a request head and what follows it, framed by
/// [`framing`](body::framing); 3: a `Content-Length` of `u16` and the body bytes. `limit` picks
/// `max_body` from `BODY_LIMITS`.
///
/// Invariants: no panic; the body never grows past `max_body`; the verdict, the content
/// and the bytes consumed (counted over the whole input) are the same fed whole, byte by
/// byte, or in pseudo-random pieces; an error is decided at one byte and is sticky;
/// `Complete` consumes nothing more; a valid chunked encoding decodes to its payload
/// (or `TooLarge` exactly when the payload exceeds `max_body`) and consumes nothing
/// after its terminator; a `Content-Length` body is exactly its first N bytes;
/// [`framing`](body::framing) agrees with an independent reading of RFC 9112 §6.3.
pub fn body_decoder(data: &[u8]) {
    let mut r = Reader { data };
    let mode = r.u8();
    let max_body = BODY_LIMITS[usize::from(r.u8() & 7)];
    let seed = fnv1a(data, 3);
    match mode % 4 {
        0 => {
            let input = r.rest();
            let _ = check_body_splits(BodyFraming::Chunked, max_body, input, seed);
        }
        1 => {
            let mut seed_bytes = [0u8; 8];
            let taken = r.take(8);
            seed_bytes[..taken.len()].copy_from_slice(taken);
            let len = usize::from(r.u8()) * if mode & 0x80 != 0 { 64 } else { 1 };
            let payload: Vec<u8> = {
                let bytes = r.take(len);
                // Long payloads repeat the input's bytes: the fuzzer need not supply them.
                (0..len)
                    .map(|i| {
                        bytes
                            .get(i % bytes.len().max(1))
                            .copied()
                            .unwrap_or(i as u8)
                    })
                    .collect()
            };
            let after = r.rest();
            let mut rng = Rng(u64::from_le_bytes(seed_bytes));
            let mut wire = encode_chunked(&payload, &mut rng);
            let encoded_len = wire.len();
            wire.extend_from_slice(after);
            let run = check_body_splits(BodyFraming::Chunked, max_body, &wire, seed);
            if payload.len() > max_body {
                assert_eq!(run.0, Err(BodyError::TooLarge), "payload over max_body");
                assert!(payload.starts_with(&run.1));
            } else {
                assert_eq!(
                    run,
                    (Ok(Some(encoded_len)), payload),
                    "a valid chunked body: {:?}",
                    wire.escape_ascii().to_string()
                );
            }
        }
        2 => {
            let input = r.rest();
            let mut parser = HeadParser::new();
            let Ok(Status::Complete(n)) = parser.parse(input, &HeadLimits::default()) else {
                return;
            };
            let head = parser.head(input).expect("complete head");
            let framing = body::framing(&head, max_body);
            assert_eq!(framing, reference_framing(&head, max_body), "framing");
            match framing {
                Ok(framing) => {
                    let body = &input[n..];
                    let run = check_body_splits(framing, max_body, body, seed);
                    check_framed_body(framing, max_body, body, &run);
                }
                Err(e) => {
                    let status = e.status().as_u16();
                    assert!(matches!(status, 400 | 413 | 501), "{e:?}: {status}");
                    assert!(!e.to_string().is_empty());
                }
            }
        }
        _ => {
            let hi = r.u8();
            let lo = r.u8();
            let framing = BodyFraming::ContentLength(u64::from(u16::from_be_bytes([hi, lo])));
            let input = r.rest();
            let run = check_body_splits(framing, max_body, input, seed);
            check_framed_body(framing, max_body, input, &run);
        }
    }
}

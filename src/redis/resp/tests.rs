use super::*;
use crate::test_rng::XorShift;

const LIMITS: ReplyLimits = ReplyLimits {
    max_bulk_len: 1 << 20,
    max_array_len: 1 << 16,
    max_depth: 8,
    max_elements: 1 << 18,
    max_reply_bytes: 16 << 20,
};

fn bulk(bytes: &[u8]) -> Reply<'_> {
    Reply::Bulk(Some(bytes))
}

fn array(items: Vec<Reply<'_>>) -> Reply<'_> {
    Reply::Array(Some(items))
}

/// One sample of every reply type, and the replies the engine reads, with what each
/// parses to.
fn samples() -> Vec<(&'static [u8], Reply<'static>)> {
    vec![
        (b"+OK\r\n", Reply::Simple(b"OK")),
        (b"+\r\n", Reply::Simple(b"")),
        (
            b"-NOSCRIPT No matching script.\r\n",
            Reply::Error(b"NOSCRIPT No matching script."),
        ),
        (b":0\r\n", Reply::Integer(0)),
        (b":-42\r\n", Reply::Integer(-42)),
        (b":+7\r\n", Reply::Integer(7)),
        (b":9223372036854775807\r\n", Reply::Integer(i64::MAX)),
        (b":-9223372036854775808\r\n", Reply::Integer(i64::MIN)),
        (b"$5\r\nhello\r\n", bulk(b"hello")),
        (b"$0\r\n\r\n", bulk(b"")),
        // Binary-safe: CR, LF and NUL inside a bulk string are data.
        (b"$6\r\n\r\n\x00\xff\r\n\r\n", bulk(b"\r\n\x00\xff\r\n")),
        (b"$-1\r\n", Reply::Bulk(None)),
        (b"*0\r\n", array(vec![])),
        (b"*-1\r\n", Reply::Array(None)),
        (
            b"*2\r\n:7\r\n$11\r\nmG3b0hJ0xq8\r\n",
            array(vec![Reply::Integer(7), bulk(b"mG3b0hJ0xq8")]),
        ),
        (
            b"*3\r\n$7\r\nmessage\r\n$4\r\nP{a}\r\n$2\r\nhi\r\n",
            array(vec![bulk(b"message"), bulk(b"P{a}"), bulk(b"hi")]),
        ),
        // XRANGE: [[id, [field, value, ...]], ...]
        (
            b"*2\r\n*2\r\n$3\r\n0-1\r\n*4\r\n$1\r\nk\r\n$1\r\nt\r\n$1\r\nd\r\n$5\r\nhello\r\n\
              *2\r\n$3\r\n0-2\r\n*4\r\n$1\r\nk\r\n$1\r\nj\r\n$1\r\nd\r\n$2\r\n{}\r\n",
            array(vec![
                array(vec![
                    bulk(b"0-1"),
                    array(vec![bulk(b"k"), bulk(b"t"), bulk(b"d"), bulk(b"hello")]),
                ]),
                array(vec![
                    bulk(b"0-2"),
                    array(vec![bulk(b"k"), bulk(b"j"), bulk(b"d"), bulk(b"{}")]),
                ]),
            ]),
        ),
        // EXEC-like: a mixed array with an error and nils inside.
        (
            b"*5\r\n+OK\r\n-ERR no\r\n$-1\r\n*-1\r\n*1\r\n*0\r\n",
            array(vec![
                Reply::Simple(b"OK"),
                Reply::Error(b"ERR no"),
                Reply::Bulk(None),
                Reply::Array(None),
                array(vec![array(vec![])]),
            ]),
        ),
    ]
}

/// Feeds `input` to one parser in pieces ending at `ends` (increasing), collecting every
/// complete reply; returns them with the error, if any, and the parser.
fn feed<'b>(
    input: &'b [u8],
    ends: &[usize],
    limits: &ReplyLimits,
) -> (Vec<(Reply<'b>, usize)>, Option<RespError>, ReplyParser) {
    let mut parser = ReplyParser::new();
    let mut replies = Vec::new();
    let mut start = 0;
    for &end in ends.iter().chain([input.len()].iter()) {
        loop {
            match parser.parse(&input[start..end], limits) {
                Ok(Status::Complete((reply, n))) => {
                    replies.push((reply, n));
                    start += n;
                }
                Ok(Status::Partial) => break,
                Err(e) => return (replies, Some(e), parser),
            }
        }
    }
    (replies, None, parser)
}

fn error_of(input: &[u8], limits: &ReplyLimits) -> RespError {
    ReplyParser::new()
        .parse(input, limits)
        .expect_err(&input.escape_ascii().to_string())
}

// ----- every reply type -----

#[test]
fn every_reply_type_parses_to_its_value_and_length() {
    for (input, expected) in samples() {
        let answer = ReplyParser::new().parse(input, &LIMITS);
        assert_eq!(
            answer,
            Ok(Status::Complete((expected, input.len()))),
            "{}",
            input.escape_ascii()
        );
    }
}

#[test]
fn every_prefix_of_every_sample_is_partial() {
    for (input, _) in samples() {
        for len in 0..input.len() {
            assert_eq!(
                ReplyParser::new().parse(&input[..len], &LIMITS),
                Ok(Status::Partial),
                "{} cut at {len}",
                input.escape_ascii()
            );
        }
    }
}

#[test]
fn every_split_point_gives_the_same_reply() {
    for (input, expected) in samples() {
        for cut in 0..=input.len() {
            let (replies, error, _) = feed(input, &[cut], &LIMITS);
            assert_eq!(error, None);
            assert_eq!(replies, [(expected.clone(), input.len())], "cut at {cut}");
        }
        let bytewise: Vec<usize> = (1..input.len()).collect();
        let (replies, _, _) = feed(input, &bytewise, &LIMITS);
        assert_eq!(replies, [(expected.clone(), input.len())], "byte by byte");
    }
}

#[test]
fn pipelined_replies_back_to_back_come_out_in_order() {
    let samples = samples();
    let mut stream = Vec::new();
    for (input, _) in &samples {
        stream.extend_from_slice(input);
    }
    let expected: Vec<(Reply<'_>, usize)> = samples
        .iter()
        .map(|(input, reply)| (reply.clone(), input.len()))
        .collect();
    let (whole, error, _) = feed(&stream, &[], &LIMITS);
    assert_eq!(error, None);
    assert_eq!(whole, expected);
    let bytewise: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(feed(&stream, &bytewise, &LIMITS).0, expected);
    let mut rng = XorShift(0x5EED_0F2E_5000_0001);
    for _ in 0..50 {
        let mut ends: Vec<usize> = (0..8).map(|_| rng.below(stream.len())).collect();
        ends.sort();
        assert_eq!(feed(&stream, &ends, &LIMITS).0, expected, "{ends:?}");
    }
}

#[test]
fn the_parser_examines_nothing_after_a_complete_reply() {
    let mut parser = ReplyParser::new();
    let input = b":1\r\n\xffnot a reply";
    assert_eq!(
        parser.parse(input, &LIMITS),
        Ok(Status::Complete((Reply::Integer(1), 4)))
    );
    assert_eq!(
        parser.parse(&input[4..], &LIMITS),
        Err(RespError::BadType(0xff))
    );
}

// ----- errors -----

#[test]
fn each_malformed_reply_is_its_error() {
    use RespError::*;
    let cases: &[(&[u8], RespError)] = &[
        (b"_", BadType(b'_')),
        (b"%", BadType(b'%')),
        (b"\r", BadType(b'\r')),
        (b"*1\r\n#", BadType(b'#')),
        (b":\r", BadInteger),
        (b":-\r", BadInteger),
        (b":1a", BadInteger),
        (b":1 ", BadInteger),
        (b":--", BadInteger),
        (b":1-", BadInteger),
        (b":9223372036854775808", BadInteger),
        (b":-9223372036854775809", BadInteger),
        (b"$-2", BadLength),
        (b"$-0", BadLength),
        (b"$-11", BadLength),
        (b"$+", BadLength),
        (b"$x", BadLength),
        (b"$\r", BadLength),
        (b"*1x", BadLength),
        (b"*-\r", BadLength),
        (b"$9223372036854775808", BadLength),
        (b"+OK\n", MissingCrlf),
        (b"+OK\rX", MissingCrlf),
        (b"-ERR\r\r", MissingCrlf),
        (b":1\n", MissingCrlf),
        (b":1\rx", MissingCrlf),
        (b"$1\n", MissingCrlf),
        (b"$2\r\nabX", MissingCrlf),
        (b"$2\r\nab\rX", MissingCrlf),
        (b"$2\r\nab\n", MissingCrlf),
        (b"*-1\r\r", MissingCrlf),
    ];
    for &(input, expected) in cases {
        assert_eq!(
            error_of(input, &LIMITS),
            expected,
            "{}",
            input.escape_ascii()
        );
        // Decided at the last byte: one byte fewer is still partial.
        assert_eq!(
            ReplyParser::new().parse(&input[..input.len() - 1], &LIMITS),
            Ok(Status::Partial),
            "{} without its last byte",
            input.escape_ascii()
        );
    }
}

#[test]
fn an_error_is_repeated_until_reset() {
    let mut parser = ReplyParser::new();
    assert_eq!(parser.parse(b"?", &LIMITS), Err(RespError::BadType(b'?')));
    assert_eq!(
        parser.parse(b"+OK\r\n", &LIMITS),
        Err(RespError::BadType(b'?'))
    );
    parser.reset();
    assert_eq!(
        parser.parse(b"+OK\r\n", &LIMITS),
        Ok(Status::Complete((Reply::Simple(b"OK"), 5)))
    );
}

#[test]
fn error_display_names_the_problem() {
    assert_eq!(
        RespError::BadType(b'%').to_string(),
        "redis reply begins with '%', which is not a RESP2 type (+ - : $ *)"
    );
    assert_eq!(
        RespError::BadType(0).to_string(),
        "redis reply begins with byte 0x00, which is not a RESP2 type (+ - : $ *)"
    );
    assert_eq!(
        RespError::OverLimit {
            limit: ReplyLimit::Depth,
            max: 8
        }
        .to_string(),
        "redis reply over its limit: arrays nested deeper than 8"
    );
    for e in [
        RespError::BadInteger,
        RespError::BadLength,
        RespError::MissingCrlf,
    ] {
        assert!(e.to_string().starts_with("redis "), "{e}");
    }
}

// ----- limits -----

fn over_limit(limit: ReplyLimit, max: usize) -> RespError {
    RespError::OverLimit { limit, max }
}

#[test]
fn a_bulk_string_over_the_limit_is_refused_before_its_payload_arrives() {
    let limits = ReplyLimits {
        max_bulk_len: 4,
        ..LIMITS
    };
    assert_eq!(
        ReplyParser::new().parse(b"$4\r\nabcd\r\n", &limits),
        Ok(Status::Complete((bulk(b"abcd"), 10)))
    );
    assert_eq!(
        error_of(b"$5\r\n", &limits),
        over_limit(ReplyLimit::BulkLength, 4)
    );
    assert_eq!(
        error_of(b"$9223372036854775807\r\n", &limits),
        over_limit(ReplyLimit::BulkLength, 4)
    );
    // A simple string or error line is held to the same bound, at its first byte too many.
    assert_eq!(
        ReplyParser::new().parse(b"-ERRx\r\n", &limits),
        Ok(Status::Complete((Reply::Error(b"ERRx"), 7)))
    );
    assert_eq!(
        error_of(b"+abcde", &limits),
        over_limit(ReplyLimit::BulkLength, 4)
    );
}

#[test]
fn an_array_over_the_limit_is_refused_at_its_header() {
    let limits = ReplyLimits {
        max_array_len: 2,
        ..LIMITS
    };
    assert!(
        ReplyParser::new()
            .parse(b"*2\r\n:1\r\n:2\r\n", &limits)
            .unwrap()
            .is_complete()
    );
    assert_eq!(
        error_of(b"*3\r\n", &limits),
        over_limit(ReplyLimit::ArrayLength, 2)
    );
    assert_eq!(
        error_of(b"*1\r\n*3\r\n", &limits),
        over_limit(ReplyLimit::ArrayLength, 2)
    );
    // A nil array has no length to bound.
    assert!(
        ReplyParser::new()
            .parse(b"*-1\r\n", &limits)
            .unwrap()
            .is_complete()
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_refused_at_the_array_that_passes_it() {
    let limits = ReplyLimits {
        max_depth: 3,
        ..LIMITS
    };
    let xrange = samples()[16].0;
    assert!(
        ReplyParser::new()
            .parse(xrange, &limits)
            .unwrap()
            .is_complete()
    );
    assert_eq!(
        error_of(b"*1\r\n*1\r\n*1\r\n*0\r\n", &limits),
        over_limit(ReplyLimit::Depth, 3)
    );
    // Empty and nil arrays are leaves: an empty one counts as a level, a nil one does not.
    assert!(
        ReplyParser::new()
            .parse(
                b"*1\r\n*1\r\n*-1\r\n",
                &ReplyLimits {
                    max_depth: 2,
                    ..LIMITS
                }
            )
            .unwrap()
            .is_complete()
    );
    // Whatever max_depth says, MAX_DEPTH_CEILING holds.
    let deep = b"*1\r\n".repeat(MAX_DEPTH_CEILING + 1);
    let unbounded = ReplyLimits {
        max_depth: usize::MAX,
        ..LIMITS
    };
    assert_eq!(
        error_of(&deep, &unbounded),
        over_limit(ReplyLimit::Depth, MAX_DEPTH_CEILING)
    );
    let mut deepest = b"*1\r\n".repeat(MAX_DEPTH_CEILING - 1);
    deepest.extend_from_slice(b"*0\r\n");
    assert!(
        ReplyParser::new()
            .parse(&deepest, &unbounded)
            .unwrap()
            .is_complete()
    );
}

#[test]
fn values_past_the_element_limit_are_refused_when_announced() {
    let limits = ReplyLimits {
        max_elements: 5,
        ..LIMITS
    };
    // 1 (the reply) + 2 + 2 = 5 values.
    let five = b"*2\r\n*2\r\n:1\r\n:2\r\n:3\r\n";
    assert!(
        ReplyParser::new()
            .parse(five, &limits)
            .unwrap()
            .is_complete()
    );
    assert_eq!(
        error_of(b"*2\r\n*3\r\n", &limits),
        over_limit(ReplyLimit::Elements, 5)
    );
    assert_eq!(
        error_of(b"*5\r\n", &limits),
        over_limit(ReplyLimit::Elements, 5)
    );
    // 0 acts as 1: a single value always passes.
    let none = ReplyLimits {
        max_elements: 0,
        ..LIMITS
    };
    assert!(
        ReplyParser::new()
            .parse(b":1\r\n", &none)
            .unwrap()
            .is_complete()
    );
    assert!(
        ReplyParser::new()
            .parse(b"*0\r\n", &none)
            .unwrap()
            .is_complete()
    );
    assert_eq!(
        error_of(b"*1\r\n", &none),
        over_limit(ReplyLimit::Elements, 1)
    );
}

#[test]
fn a_reply_longer_than_max_reply_bytes_is_refused_without_waiting_for_it() {
    let reply = b"*2\r\n$3\r\nabc\r\n+OK\r\n";
    let limits = ReplyLimits {
        max_reply_bytes: reply.len(),
        ..LIMITS
    };
    // Exactly the limit is fine, and what follows it does not count.
    let mut pipelined = reply.to_vec();
    pipelined.extend_from_slice(b":1\r\n");
    assert_eq!(
        ReplyParser::new().parse(&pipelined, &limits).unwrap(),
        Status::Complete((array(vec![bulk(b"abc"), Reply::Simple(b"OK")]), reply.len()))
    );
    // A bulk string that would end past it: refused at its header.
    let tight = ReplyLimits {
        max_reply_bytes: 12,
        ..LIMITS
    };
    assert_eq!(
        error_of(b"*2\r\n$3\r\n", &tight),
        over_limit(ReplyLimit::ReplyBytes, 12)
    );
    // Anything else: refused once one byte more than the limit is there.
    let mut parser = ReplyParser::new();
    let long_line = b"+OKOKOKOKOKOK";
    assert_eq!(parser.parse(&long_line[..12], &tight), Ok(Status::Partial));
    assert_eq!(
        parser.parse(long_line, &tight),
        Err(over_limit(ReplyLimit::ReplyBytes, 12))
    );
}

#[test]
fn limits_never_let_a_reply_through_larger_than_they_allow() {
    let mut rng = XorShift(0xB0B0_CAFE_D00D_0001);
    for _ in 0..300 {
        let limits = ReplyLimits {
            max_bulk_len: rng.below(8),
            max_array_len: rng.below(5),
            max_depth: rng.below(4),
            max_elements: rng.below(12),
            max_reply_bytes: 4 + rng.below(64),
        };
        let reply = random_reply(&mut rng, 0);
        let mut input = Vec::new();
        reply.encode(&mut input);
        match ReplyParser::new().parse(&input, &limits) {
            Ok(Status::Complete((parsed, n))) => {
                assert_eq!(parsed, reply);
                assert_eq!(n, input.len());
                assert!(n <= limits.max_reply_bytes);
                assert!(within(&parsed, &limits, 1));
                assert!(values(&parsed) <= limits.max_elements.max(1));
            }
            Ok(Status::Partial) => panic!("a whole reply is never partial"),
            Err(RespError::OverLimit { .. }) => {
                let fits = within(&reply, &limits, 1)
                    && values(&reply) <= limits.max_elements.max(1)
                    && input.len() <= limits.max_reply_bytes;
                assert!(!fits, "{reply:?} refused under {limits:?}");
            }
            Err(e) => panic!("{e} for a well-formed reply"),
        }
    }
}

/// Every string, array and level of `reply` (at `depth`) within the limits.
fn within(reply: &Reply<'_>, limits: &ReplyLimits, depth: usize) -> bool {
    match reply {
        Reply::Simple(text) | Reply::Error(text) => text.len() <= limits.max_bulk_len,
        Reply::Bulk(Some(bytes)) => bytes.len() <= limits.max_bulk_len,
        Reply::Array(Some(items)) => {
            depth <= limits.max_depth
                && items.len() <= limits.max_array_len
                && items.iter().all(|item| within(item, limits, depth + 1))
        }
        Reply::Integer(_) | Reply::Bulk(None) | Reply::Array(None) => true,
    }
}

fn values(reply: &Reply<'_>) -> usize {
    match reply {
        Reply::Array(Some(items)) => 1 + items.iter().map(values).sum::<usize>(),
        _ => 1,
    }
}

/// A random reply whose strings are `'static` (drawn from a fixed pool).
fn random_reply(rng: &mut XorShift, depth: usize) -> Reply<'static> {
    const STRINGS: [&[u8]; 6] = [b"", b"a", b"OK", b"hello", b"\r\n\x00", b"0123456789"];
    match rng.below(if depth > 3 { 5 } else { 7 }) {
        0 => Reply::Simple(STRINGS[rng.below(4)]),
        1 => Reply::Error(b"ERR no"),
        2 => Reply::Integer(rng.next() as i64 >> rng.below(64)),
        3 => Reply::Bulk(Some(STRINGS[rng.below(STRINGS.len())])),
        4 => {
            if rng.below(2) == 0 {
                Reply::Bulk(None)
            } else {
                Reply::Array(None)
            }
        }
        _ => {
            let len = rng.below(4);
            array((0..len).map(|_| random_reply(rng, depth + 1)).collect())
        }
    }
}

// ----- linearity and robustness -----

#[test]
fn a_large_reply_fed_byte_at_a_time_is_scanned_once_and_its_payloads_not_at_all() {
    // An XRANGE answer of 1,000 entries with 100-byte payloads.
    let payload = [b'x'; 100];
    let entries: Vec<Reply<'_>> = (0..1000)
        .map(|_| {
            array(vec![
                bulk(b"0-1"),
                array(vec![bulk(b"k"), bulk(b"t"), bulk(b"d"), bulk(&payload)]),
            ])
        })
        .collect();
    let reply = array(entries);
    let mut input = Vec::new();
    reply.encode(&mut input);
    let n = input.len();
    let payload_bytes = 1000 * (3 + 1 + 1 + 1 + 100);
    let mut parser = ReplyParser::new();
    for len in 0..n {
        assert_eq!(parser.parse(&input[..len], &LIMITS), Ok(Status::Partial));
    }
    assert_eq!(
        parser.parse(&input, &LIMITS),
        Ok(Status::Complete((reply, n)))
    );
    assert_eq!(
        parser.scanned,
        n - payload_bytes,
        "every byte but the payloads examined exactly once"
    );
}

#[test]
fn random_bytes_never_panic_and_split_invariance_holds() {
    let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
    // Bias toward the bytes of the grammar, so that the parse goes deep.
    let alphabet = b"+-:$*\r\n0123-1\r\n*1\r\n$2\r\nab\x00\xff_";
    let small = ReplyLimits {
        max_bulk_len: 3,
        max_array_len: 3,
        max_depth: 3,
        max_elements: 8,
        max_reply_bytes: 40,
    };
    for round in 0..3000 {
        let len = rng.below(48);
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let limits = if round % 2 == 0 { LIMITS } else { small };
        let whole = feed(&input, &[], &limits);
        let bytewise: Vec<usize> = (1..input.len()).collect();
        let split = feed(&input, &bytewise, &limits);
        assert_eq!(
            (&whole.0, whole.1),
            (&split.0, split.1),
            "{}",
            input.escape_ascii()
        );
    }
}

#[test]
fn a_shorter_buffer_than_promised_does_not_panic() {
    let mut parser = ReplyParser::new();
    assert_eq!(
        parser.parse(b"*2\r\n$5\r\nhel", &LIMITS),
        Ok(Status::Partial)
    );
    assert_eq!(parser.parse(b"*2", &LIMITS), Ok(Status::Partial));
    assert_eq!(parser.parse(b"", &LIMITS), Ok(Status::Partial));
}

// ----- the encoder -----

#[test]
fn a_command_is_an_array_of_bulk_strings_that_parses_back() {
    let mut out = Vec::new();
    let data = b"binary \r\n\x00 data";
    let mut command = Command::new(&mut out, "EVALSHA");
    command
        .arg("0123456789abcdef0123456789abcdef01234567")
        .arg_int(2)
        .arg("pushwire:{a}:meta")
        .arg(b"pushwire:{a}:log")
        .arg(data)
        .arg_int(-1)
        .arg_int(i64::MIN)
        .arg("");
    let length = command.finish();
    assert_eq!(length, out.len());
    let (reply, n) = ReplyParser::new()
        .parse(&out, &LIMITS)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(n, out.len());
    let expected: [&[u8]; 9] = [
        b"EVALSHA",
        b"0123456789abcdef0123456789abcdef01234567",
        b"2",
        b"pushwire:{a}:meta",
        b"pushwire:{a}:log",
        data,
        b"-1",
        b"-9223372036854775808",
        b"",
    ];
    assert_eq!(reply, array(expected.iter().map(|arg| bulk(arg)).collect()));
}

#[test]
fn a_command_is_finished_when_the_builder_is_dropped() {
    let mut out = b"before".to_vec();
    Command::new(&mut out, "PING");
    assert_eq!(out, b"before*1\r\n$4\r\nPING\r\n");
    {
        let mut command = Command::new(&mut out, "SUBSCRIBE");
        for i in 0..12 {
            command.arg_int(i);
        }
    }
    let (reply, _) = ReplyParser::new()
        .parse(&out[b"before*1\r\n$4\r\nPING\r\n".len()..], &LIMITS)
        .unwrap()
        .complete()
        .unwrap();
    let items = reply.as_array().unwrap();
    assert_eq!(items.len(), 13, "a two-digit count header");
    assert_eq!(items[12].as_bulk(), Some(&b"11"[..]));
}

#[test]
fn encoded_replies_parse_back_to_themselves() {
    let mut rng = XorShift(0x0123_4567_89AB_CDEF);
    for (input, reply) in samples() {
        let mut out = Vec::new();
        reply.encode(&mut out);
        if input != b":+7\r\n" {
            assert_eq!(out, input, "canonical samples encode to themselves");
        }
    }
    for _ in 0..500 {
        let reply = random_reply(&mut rng, 0);
        let mut out = Vec::new();
        reply.encode(&mut out);
        assert_eq!(
            ReplyParser::new().parse(&out, &LIMITS),
            Ok(Status::Complete((reply, out.len())))
        );
    }
}

// ----- accessors and formatting -----

#[test]
fn accessors_read_the_reply_they_name() {
    let reply = array(vec![Reply::Integer(3), bulk(b"e"), Reply::Bulk(None)]);
    let items = reply.as_array().unwrap();
    assert_eq!(items[0].as_integer(), Some(3));
    assert_eq!(items[1].as_bulk(), Some(&b"e"[..]));
    assert_eq!(items[2].as_bulk(), None);
    assert!(items[2].is_nil() && Reply::Array(None).is_nil());
    assert!(!bulk(b"").is_nil());
    assert_eq!(reply.as_integer(), None);
    assert_eq!(
        Reply::Error(b"NOSCRIPT No matching script").error_kind(),
        Some(&b"NOSCRIPT"[..])
    );
    assert_eq!(Reply::Error(b"ERR").error_kind(), Some(&b"ERR"[..]));
    assert_eq!(Reply::Simple(b"OK").error_kind(), None);
}

#[test]
fn debug_shows_strings_as_escaped_text() {
    let reply = array(vec![
        Reply::Simple(b"OK"),
        bulk(b"a\r\n\xff"),
        Reply::Bulk(None),
        Reply::Array(None),
        Reply::Integer(-1),
    ]);
    assert_eq!(
        format!("{reply:?}"),
        r#"Array([Simple("OK"), Bulk("a\r\n\xff"), Bulk(nil), Array(nil), Integer(-1)])"#
    );
}

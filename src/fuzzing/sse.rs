//! `sse`: the Server-Sent Events wire format ([`crate::hub::sse`]): the encoder read back
//! by the parser, and the parser on hostile streams, against a reference reading of the
//! WHATWG text that shares no code with it.

use crate::hub::epoch::Epoch;
use crate::hub::sse::{
    Event, EventId, EventStreamError, EventStreamParser, FieldError, data_event, event_len,
    message_event, write_comment, write_event, write_retry,
};

use super::{Reader, Rng, fnv1a, random_splits};

/// (type, data, last event id) of one event.
type Summary = (String, String, String);

/// **sse** — encoder and parser of `text/event-stream`.
///
/// Input: `[mode: u8] [bytes ...]`.
///
/// - Mode even: the bytes, as text (lossy UTF-8), are written as a `subscribed` event, a
///   message event with a cursor, a comment, a data event and an event whose type and id
///   are the text (after a `retry`, and a BOM when mode bit 1 is set). Invariants: every
///   `event_len` is exact; `write_event` refuses exactly a type or id with a line break
///   (or an id with NUL) and then writes nothing; the stream, parsed whole, in random
///   pieces and byte by byte, gives back every event with the text's line breaks as `\n`,
///   the cursor (which `EventId::parse` reads back), the retry, and no event for the
///   comment; and no limit is hit by a limit as long as the longest line written.
/// - Mode odd: `[limit: u8]`, then the bytes are a hostile stream. Invariants: no panic;
///   one shot, random pieces and byte by byte give the same events, error, last event id,
///   retry and comment count; the parser holds at most a few times its limit; with a
///   limit above the stream's length, the events are those of the reference reading
///   ([`reference`]); with a small one, a prefix of them, and an error only where a line
///   or an event's data passes the limit. `EventId::parse` accepts only the text it
///   writes.
pub fn sse(data: &[u8]) {
    let mut input = Reader { data };
    let mode = input.u8();
    if mode & 1 == 0 {
        round_trip(mode, input.rest());
    } else {
        let limit_byte = input.u8();
        hostile(limit_byte, input.rest());
    }
}

/// Every line break as `\n`: what the parser's join gives back.
fn normalized(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

fn summarize(events: &[Event]) -> Vec<Summary> {
    events
        .iter()
        .map(|e| {
            (
                e.event_type().to_string(),
                e.data().to_string(),
                e.last_event_id().to_string(),
            )
        })
        .collect()
}

// ===== mode even: what the encoder writes reads back =====

fn round_trip(mode: u8, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let text: &str = &text;
    let h = fnv1a(bytes, u64::from(mode));
    let mut rng = Rng(h);
    let epoch = Epoch::from_bits(rng.next().max(1)).expect("not zero");
    let next = rng.next() >> (rng.next() % 64);
    let ms = rng.next() >> (rng.next() % 64);
    let subscribed = EventId::new(epoch, next);
    let message = EventId::new(epoch, next.wrapping_add(1));

    let mut stream = Vec::new();
    if mode & 2 != 0 {
        stream.extend_from_slice(b"\xEF\xBB\xBF");
    }
    write_retry(&mut stream, ms);
    let cursor = subscribed.to_string();
    let before = stream.len();
    write_event(&mut stream, Some("subscribed"), Some(&cursor), text).expect("valid fields");
    assert_eq!(
        stream.len() - before,
        event_len(Some("subscribed"), Some(&cursor), text)
    );
    let shared = message_event(message.epoch, message.id, text);
    assert_eq!(
        shared.len(),
        event_len(None, Some(&message.to_string()), text)
    );
    stream.extend_from_slice(&shared);
    write_comment(&mut stream, text);
    let shared = data_event(text);
    assert_eq!(shared.len(), event_len(None, None, text));
    stream.extend_from_slice(&shared);

    // The text as an event's type and id: refused exactly when it is not one line (or,
    // for the id, holds NUL), and then nothing is written.
    let line_break = text.contains(['\r', '\n']);
    let before = stream.len();
    let named = write_event(&mut stream, Some(text), Some(text), "x");
    let expected_error = if line_break {
        Some(FieldError::LineBreakInEvent)
    } else if text.contains('\0') {
        Some(FieldError::NulInId)
    } else {
        None
    };
    assert_eq!(named.err(), expected_error);
    match named {
        Ok(()) => assert_eq!(
            stream.len() - before,
            event_len(Some(text), Some(text), "x")
        ),
        Err(_) => assert_eq!(stream.len(), before, "nothing written on an error"),
    }
    if !line_break {
        assert_eq!(
            write_event(&mut Vec::new(), None, Some(text), "x").err(),
            expected_error
        );
        assert_eq!(write_event(&mut Vec::new(), Some(text), None, "x"), Ok(()));
    } else {
        assert_eq!(
            write_event(&mut Vec::new(), None, Some(text), "x"),
            Err(FieldError::LineBreakInId)
        );
    }

    let data = normalized(text);
    let mut expected = vec![
        ("subscribed".to_string(), data.clone(), cursor.clone()),
        ("message".to_string(), data.clone(), message.to_string()),
        ("message".to_string(), data, message.to_string()),
    ];
    if named.is_ok() {
        let event_type = if text.is_empty() { "message" } else { text };
        expected.push((event_type.to_string(), "x".to_string(), text.to_string()));
    }
    let comment_lines = text.replace("\r\n", "\n").split(['\r', '\n']).count() as u64;

    // The longest line written is the text's with a field name, or the cursor's.
    let limit = text.len() + 40;
    let mut schedules = vec![vec![stream.len()]];
    schedules.push(random_splits(stream.len(), h ^ 1));
    schedules.push(random_splits(stream.len(), h ^ 2));
    if stream.len() <= 2048 {
        schedules.push((1..=stream.len()).collect());
    }
    for ends in schedules {
        let mut parser = EventStreamParser::new(limit);
        let mut events = Vec::new();
        let mut start = 0;
        for end in ends {
            parser
                .push(&stream[start..end], &mut events)
                .expect("no line of ours passes the limit");
            start = end;
        }
        assert_eq!(summarize(&events), expected);
        assert_eq!(parser.reconnection_time(), Some(ms));
        assert_eq!(parser.comments(), comment_lines);
        assert_eq!(EventId::parse(events[1].last_event_id()), Some(message));
        assert_eq!(EventId::parse(events[0].last_event_id()), Some(subscribed));
    }
}

// ===== mode odd: a hostile stream =====

/// What one run of the parser made of a stream.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<Summary>,
    result: Result<(), EventStreamError>,
    last_event_id: String,
    reconnection_time: Option<u64>,
    comments: u64,
}

fn hostile(limit_byte: u8, stream: &[u8]) {
    let text = String::from_utf8_lossy(stream);
    if let Some(id) = EventId::parse(&text) {
        assert_eq!(id.to_string(), text, "one spelling per cursor");
    }

    let h = fnv1a(stream, u64::from(limit_byte));
    // Above any line, and any event's data (an invalid byte decodes to 3).
    let unbounded = 3 * stream.len() + 2;
    let small = usize::from(limit_byte >> 1);
    let (reference, longest_data) = reference(stream);
    let longest_line = longest_line(stream);
    for limit in [unbounded, small] {
        let whole = run(stream, &[stream.len()], limit);
        let byte_by_byte: Vec<usize> = (1..=stream.len()).collect();
        for ends in [
            random_splits(stream.len(), h ^ 1),
            random_splits(stream.len(), h ^ 2),
            byte_by_byte,
        ] {
            assert_eq!(run(stream, &ends, limit), whole, "split vs one shot");
        }
        for event in &whole.events {
            if let Some(id) = EventId::parse(&event.2) {
                assert_eq!(id.to_string(), event.2);
            }
        }
        // The parser fails exactly when a line or an event's data passes the limit, and
        // for a reason that is there.
        let must_fail = longest_line > limit || longest_data > limit;
        match whole.result {
            Ok(()) => {
                assert!(
                    !must_fail,
                    "line {longest_line}, data {longest_data}, limit {limit}"
                );
                assert_eq!(whole, reference, "limit {limit}");
            }
            Err(error) => {
                assert!(must_fail, "{error:?} with nothing past the limit");
                assert!(
                    reference.events.starts_with(&whole.events),
                    "the events before an error are the reference's"
                );
                match error {
                    EventStreamError::LineTooLong { limit: l } => {
                        assert_eq!(l, limit);
                        assert!(longest_line > limit, "a line too long where none is");
                    }
                    EventStreamError::DataTooLong { limit: l } => {
                        assert_eq!(l, limit);
                        assert!(longest_data > limit, "data too long where none is");
                    }
                }
            }
        }
    }
}

/// Feeds `stream` in the pieces ending at `ends`, checking the bound after each.
fn run(stream: &[u8], ends: &[usize], limit: usize) -> Outcome {
    let mut parser = EventStreamParser::new(limit);
    let mut events = Vec::new();
    let mut result = Ok(());
    let mut start = 0;
    for &end in ends {
        result = parser.push(&stream[start..end], &mut events);
        start = end;
        // A line, the data (and one LF), a type and two ids of at most 3 bytes per byte
        // of a line (an invalid byte decodes to U+FFFD).
        assert!(
            parser.buffered() <= limit + (limit + 1) + 9 * limit,
            "{} bytes held with a limit of {limit}",
            parser.buffered()
        );
        if result.is_err() {
            break;
        }
    }
    // A failed parser stays failed.
    if let Err(error) = result {
        assert_eq!(parser.push(b"data: x\n\n", &mut events), Err(error));
    }
    Outcome {
        events: summarize(&events),
        result,
        last_event_id: parser.last_event_id().to_string(),
        reconnection_time: parser.reconnection_time(),
        comments: parser.comments(),
    }
}

/// The longest line of `stream` in bytes, the unfinished last one included, after a
/// leading BOM. A stream that is so far only the start of a BOM has no line yet: the
/// bytes may still turn out to be one.
fn longest_line(stream: &[u8]) -> usize {
    if stream.len() < 3 && b"\xEF\xBB\xBF".starts_with(stream) {
        return 0;
    }
    let body = stream.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(stream);
    body.split(|&b| b == b'\r' || b == b'\n')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

/// The WHATWG reading of a whole stream (§9.2.6), written from the text independently of
/// the parser: decode the stream (dropping one leading BOM, invalid bytes as U+FFFD), cut
/// the text into lines at CRLF, LF and CR, drop the unfinished last line, and process each
/// line with string operations. Also the longest an event's data grew (after each `data`
/// line, without its final LF): what a limit on the data is measured against.
fn reference(stream: &[u8]) -> (Outcome, usize) {
    let body = stream.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(stream);
    let text = String::from_utf8_lossy(body);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut line));
            }
            '\n' => lines.push(std::mem::take(&mut line)),
            c => line.push(c),
        }
    }

    let mut outcome = Outcome {
        events: Vec::new(),
        result: Ok(()),
        last_event_id: String::new(),
        reconnection_time: None,
        comments: 0,
    };
    let (mut data, mut event_type, mut id_buffer) = (String::new(), String::new(), String::new());
    let mut longest_data = 0;
    for line in lines {
        if line.is_empty() {
            outcome.last_event_id = id_buffer.clone();
            if !data.is_empty() {
                if data.ends_with('\n') {
                    data.pop();
                }
                let event_type = match std::mem::take(&mut event_type) {
                    t if t.is_empty() => "message".to_string(),
                    t => t,
                };
                outcome
                    .events
                    .push((event_type, std::mem::take(&mut data), id_buffer.clone()));
            }
            data.clear();
            event_type.clear();
            continue;
        }
        if line.starts_with(':') {
            outcome.comments += 1;
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => event_type = value.to_string(),
            "data" => {
                data.push_str(value);
                longest_data = longest_data.max(data.len());
                data.push('\n');
            }
            "id" if !value.contains('\0') => id_buffer = value.to_string(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    outcome.reconnection_time = Some(ms);
                }
            }
            _ => {}
        }
    }
    (outcome, longest_data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_reads_the_specs_examples() {
        let (four_blocks, _) = reference(
            b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
        );
        let message =
            |data: &str, id: &str| ("message".to_string(), data.to_string(), id.to_string());
        assert_eq!(
            four_blocks.events,
            [message("first event", "1"), message("second event", "")]
        );
        assert_eq!(four_blocks.comments, 1);
        assert_eq!(
            reference(b"data\n\ndata\ndata\n\ndata:").0.events,
            [message("", ""), message("\n", "")]
        );
        assert_eq!(
            reference(b"\xEF\xBB\xBFdata:1\r\n\r\n\xEF\xBB\xBFdata:2\r\rretry: 5\n")
                .0
                .events,
            [message("1", "")]
        );
    }

    #[test]
    fn the_reference_measures_the_longest_data() {
        assert_eq!(reference(b"data: 12\ndata: 345\n\ndata: 1\n").1, 6);
        assert_eq!(reference(b"data\ndata\n").1, 1);
    }

    #[test]
    fn both_modes_take_short_and_empty_inputs() {
        for input in [
            &b""[..],
            b"\x00",
            b"\x01",
            b"\x02\r\n",
            b"\x01\x00data: x\n\n",
            b"\x01\x07\xEF\xBB\xBFdata: long line\r\n\r\n",
            b"\x00a\rb\nc\r\nd\r",
        ] {
            sse(input);
        }
    }
}

use super::*;

fn epoch(bits: u64) -> Epoch {
    Epoch::from_bits(bits).unwrap()
}

fn event_bytes(event: Option<&str>, id: Option<&str>, data: &str) -> Vec<u8> {
    let mut out = Vec::new();
    write_event(&mut out, event, id, data).unwrap();
    assert_eq!(out.len(), event_len(event, id, data), "event_len is exact");
    out
}

/// What a browser makes of `stream` in one piece: (type, data, last event id) per event.
fn parse(stream: &[u8]) -> Vec<(String, String, String)> {
    let mut parser = EventStreamParser::new(1 << 20);
    let mut events = Vec::new();
    parser.push(stream, &mut events).unwrap();
    summarize(&events)
}

fn summarize(events: &[Event]) -> Vec<(String, String, String)> {
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

fn message(data: &str, id: &str) -> (String, String, String) {
    ("message".to_string(), data.to_string(), id.to_string())
}

/// The text a browser gets back: every CRLF, lone CR and lone LF as LF.
fn normalized(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Feeds `stream` in the pieces that end at `ends`, and returns the events.
fn parse_in_pieces(stream: &[u8], ends: &[usize]) -> Vec<Event> {
    let mut parser = EventStreamParser::new(1 << 20);
    let mut events = Vec::new();
    let mut start = 0;
    for &end in ends {
        parser.push(&stream[start..end], &mut events).unwrap();
        start = end;
    }
    parser.push(&stream[start..], &mut events).unwrap();
    events
}

// ===== the encoder =====

#[test]
fn an_event_writes_event_id_and_data_in_that_order_then_a_blank_line() {
    assert_eq!(
        event_bytes(Some("subscribed"), Some("AAAAAAAAAAE:3"), "{\"next\":3}"),
        b"event: subscribed\nid: AAAAAAAAAAE:3\ndata: {\"next\":3}\n\n"
    );
    assert_eq!(event_bytes(None, Some("7"), "x"), b"id: 7\ndata: x\n\n");
    assert_eq!(
        event_bytes(Some("missed"), None, "{\"missed\":2}"),
        b"event: missed\ndata: {\"missed\":2}\n\n"
    );
    assert_eq!(event_bytes(None, None, "x"), b"data: x\n\n");
}

#[test]
fn each_line_of_the_data_is_its_own_data_field_whatever_its_line_end() {
    assert_eq!(
        event_bytes(None, None, "a\rb\nc\r\nd"),
        b"data: a\ndata: b\ndata: c\ndata: d\n\n"
    );
    // A CR then an LF is one line end; an LF then a CR is two.
    assert_eq!(
        event_bytes(None, None, "a\n\rb"),
        b"data: a\ndata: \ndata: b\n\n"
    );
}

#[test]
fn empty_data_is_still_one_data_line() {
    assert_eq!(event_bytes(None, None, ""), b"data: \n\n");
    assert_eq!(
        event_bytes(Some("x"), Some(""), ""),
        b"event: x\nid: \ndata: \n\n"
    );
}

#[test]
fn data_ending_in_a_line_break_ends_with_an_empty_data_line() {
    assert_eq!(event_bytes(None, None, "a\n"), b"data: a\ndata: \n\n");
    assert_eq!(event_bytes(None, None, "a\r"), b"data: a\ndata: \n\n");
    assert_eq!(event_bytes(None, None, "\n"), b"data: \ndata: \n\n");
    assert_eq!(
        event_bytes(None, None, "\r\n\r\n"),
        b"data: \ndata: \ndata: \n\n"
    );
}

#[test]
fn values_are_written_after_one_space_and_keep_their_own_spaces() {
    assert_eq!(
        event_bytes(Some(" t"), Some(" 1"), "  two\n: x"),
        b"event:  t\nid:  1\ndata:   two\ndata: : x\n\n"
    );
}

#[test]
fn an_event_type_or_id_of_more_than_one_line_is_refused_and_nothing_is_written() {
    for bad in ["a\nb", "a\rb", "\r\n", "\n", "end\r"] {
        let mut out = b"before".to_vec();
        assert_eq!(
            write_event(&mut out, Some(bad), None, "x"),
            Err(FieldError::LineBreakInEvent),
            "{bad:?}"
        );
        assert_eq!(
            write_event(&mut out, None, Some(bad), "x"),
            Err(FieldError::LineBreakInId),
            "{bad:?}"
        );
        assert_eq!(out, b"before", "nothing written for {bad:?}");
    }
    let mut out = Vec::new();
    assert_eq!(
        write_event(&mut out, None, Some("1\u{0}2"), "x"),
        Err(FieldError::NulInId)
    );
    assert_eq!(
        write_event(&mut out, Some("ok"), Some("\0"), "x"),
        Err(FieldError::NulInId)
    );
    assert!(out.is_empty());
    // NUL is any-char (§9.2.5): fine in a type and in data, which the parser keeps.
    let stream = event_bytes(Some("a\0b"), None, "c\0d");
    assert_eq!(
        parse(&stream),
        [("a\0b".to_string(), "c\0d".to_string(), String::new())]
    );
}

#[test]
fn field_errors_read_lowercase_and_name_the_field() {
    for (error, word) in [
        (FieldError::LineBreakInEvent, "type"),
        (FieldError::LineBreakInId, "id"),
        (FieldError::NulInId, "nul"),
    ] {
        let text = error.to_string();
        assert!(text.starts_with("an sse"), "{text}");
        assert!(text.contains(word), "{text}");
    }
}

#[test]
fn event_len_is_the_exact_size_of_every_shape() {
    let datas = [
        "",
        "x",
        "\n",
        "\r",
        "\r\n",
        "a\r\nb\rc\nd",
        "\n\r",
        "ünï\u{2028}",
        "a\r\r\n\n",
    ];
    for event in [None, Some(""), Some("subscribed")] {
        for id in [None, Some(""), Some("AAAAAAAAAAE:18446744073709551615")] {
            for data in datas {
                let mut out = Vec::new();
                write_event(&mut out, event, id, data).unwrap();
                assert_eq!(
                    out.len(),
                    event_len(event, id, data),
                    "{event:?} {id:?} {data:?}"
                );
            }
        }
    }
    // A long data with a break past the first block, and one in the last partial block.
    let long = format!("{}\n{}\r", "a".repeat(70), "b".repeat(40));
    assert_eq!(
        event_bytes(None, None, &long).len(),
        event_len(None, None, &long)
    );
    assert_eq!(
        event_bytes(None, None, &long),
        format!(
            "data: {}\ndata: {}\ndata: \n\n",
            "a".repeat(70),
            "b".repeat(40)
        )
        .as_bytes()
    );
}

#[test]
fn retry_is_written_in_decimal_milliseconds() {
    let mut out = Vec::new();
    write_retry(&mut out, 3000);
    write_retry(&mut out, 0);
    write_retry(&mut out, u64::MAX);
    assert_eq!(
        out,
        b"retry: 3000\n\nretry: 0\n\nretry: 18446744073709551615\n\n"
    );
}

#[test]
fn a_comment_is_one_comment_line_per_line_of_its_text() {
    let mut out = Vec::new();
    write_comment(&mut out, "keepalive");
    assert_eq!(out, b": keepalive\n\n");
    out.clear();
    write_comment(&mut out, "");
    assert_eq!(out, b": \n\n");
    out.clear();
    write_comment(&mut out, "a\nb\r\ndata: smuggled\r");
    assert_eq!(out, b": a\n: b\n: data: smuggled\n: \n\n");
    // However it is split, a comment dispatches nothing and sets nothing.
    let mut parser = EventStreamParser::new(100);
    let mut events = Vec::new();
    parser.push(&out, &mut events).unwrap();
    assert!(events.is_empty());
    assert_eq!(parser.comments(), 4);
    assert_eq!(parser.last_event_id(), "");
}

#[test]
fn a_message_event_is_the_cursor_then_the_frame() {
    let event = message_event(epoch(1), 7, r#"{"id":7,"data":"hi"}"#);
    assert_eq!(
        &event[..],
        b"id: AAAAAAAAAAE:7\ndata: {\"id\":7,\"data\":\"hi\"}\n\n"
    );
    let max = message_event(epoch(u64::MAX), u64::MAX, "{}");
    assert_eq!(
        &max[..],
        b"id: __________8:18446744073709551615\ndata: {}\n\n"
    );
    // A JSON payload published with whitespace line breaks: one data line each.
    let multiline = message_event(epoch(1), 2, "{\"id\":2,\"data\":[1,\r\n2]}");
    assert_eq!(
        &multiline[..],
        b"id: AAAAAAAAAAE:2\ndata: {\"id\":2,\"data\":[1,\ndata: 2]}\n\n"
    );
}

#[test]
fn a_data_event_has_no_id_and_no_type() {
    let event = data_event(r#"{"type":"message","channel":"a"}"#);
    assert_eq!(
        &event[..],
        b"data: {\"type\":\"message\",\"channel\":\"a\"}\n\n"
    );
    assert_eq!(&data_event("")[..], b"data: \n\n");
}

#[test]
fn a_shared_event_is_what_write_event_writes() {
    for data in ["", "x", "a\r\nb", "{\"id\":1}"] {
        let id = EventId::new(epoch(99), 12345).to_string();
        assert_eq!(
            &message_event(epoch(99), 12345, data)[..],
            &event_bytes(None, Some(&id), data)[..]
        );
        assert_eq!(&data_event(data)[..], &event_bytes(None, None, data)[..]);
    }
}

#[test]
fn the_first_line_break_is_found_at_every_offset_of_blocks_words_and_tail() {
    let naive = |bytes: &[u8]| bytes.iter().position(|&b| b == b'\r' || b == b'\n');
    for len in 0..100 {
        // Bytes that differ from CR and LF in one bit, or only in the top bit.
        let filler: Vec<u8> = (0..len)
            .map(|i| [b'x', 0x0B, 0x0C, 0x8A, 0x8D, 0x00, 0xFF, 0x09][i % 8])
            .collect();
        assert_eq!(find_line_break(&filler), None, "len {len}");
        for at in 0..len {
            for byte in [b'\r', b'\n'] {
                let mut bytes = filler.clone();
                bytes[at] = byte;
                if at + 5 < len {
                    bytes[at + 5] = b'\n';
                }
                assert_eq!(find_line_break(&bytes), Some(at), "len {len} at {at}");
                assert_eq!(find_line_break(&bytes), naive(&bytes));
            }
        }
    }
    for byte in 0..=255u8 {
        let word = u64::from_le_bytes([b'a', byte, b'b', b'c', b'd', b'e', b'f', b'g']);
        assert_eq!(has_byte(word, b'\n'), byte == b'\n', "{byte:#x}");
        assert_eq!(has_byte(word, b'\r'), byte == b'\r', "{byte:#x}");
    }
}

// ===== the cursor =====

#[test]
fn an_event_id_reads_back_from_its_text() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let ids = [0, 1, 9, 10, 99, 1000, u64::MAX - 1, u64::MAX];
    for i in 0..500 {
        let cursor = EventId::new(
            Epoch::random(&mut rng),
            if i < ids.len() {
                ids[i]
            } else {
                rng.next_u64() >> (i % 64)
            },
        );
        let text = cursor.to_string();
        assert!(text.len() <= EventId::MAX_LEN);
        assert_eq!(text, cursor.text().as_str());
        assert_eq!(text, format!("{}:{}", cursor.epoch, cursor.id));
        assert_eq!(EventId::parse(&text), Some(cursor), "{text}");
    }
}

#[test]
fn anything_but_an_epoch_a_colon_and_a_canonical_id_is_no_cursor() {
    let e = "AAAAAAAAAAE";
    let hostile = [
        String::new(),
        "E:5".to_string(),
        ":5".to_string(),
        format!("{e}:"),
        e.to_string(),
        format!("{e}5"),
        format!("{e}:18446744073709551616"),
        format!("{e}:99999999999999999999"),
        format!("{e}:+5"),
        format!("{e}:-5"),
        format!("{e}: 5"),
        format!("{e}:5 "),
        format!(" {e}:5"),
        format!("{e}:05"),
        format!("{e}:00"),
        format!("{e}:5:6"),
        format!("{e}:0x5"),
        format!("{e}:٥"),
        format!("{e}::5"),
        format!("{e}:{}", "0".repeat(1000)),
        format!("{e}:{}", "1".repeat(1000)),
        "AAAAAAAAAAA:5".to_string(), // the zero epoch
        "AAAAAAAAAAF:5".to_string(), // not the one spelling
        "AAAAAAAAAA:5".to_string(),
        "AAAAAAAAAAAE:5".to_string(),
        "AAAAAAAAAAé:5".to_string(),
        "AAAAAAAAAé:5".to_string(),
        "🦀🦀🦀:5".to_string(),
        "x".repeat(10_000),
    ];
    for text in &hostile {
        assert_eq!(EventId::parse(text), None, "{text:?}");
    }
    assert_eq!(
        EventId::parse(&format!("{e}:0")),
        Some(EventId::new(epoch(1), 0))
    );
    assert_eq!(
        EventId::parse(&format!("{e}:18446744073709551615")),
        Some(EventId::new(epoch(1), u64::MAX))
    );
}

// ===== the parser: the specification's examples =====

#[test]
fn the_specs_introduction_stream_is_three_messages() {
    // §9.2.1 Introduction.
    let stream = b"data: This is the first message.\n\ndata: This is the second message, it\n\
                   data: has two lines.\n\ndata: This is the third message.\n\n";
    assert_eq!(
        parse(stream),
        [
            message("This is the first message.", ""),
            message("This is the second message, it\nhas two lines.", ""),
            message("This is the third message.", ""),
        ]
    );
}

#[test]
fn the_specs_add_and_remove_stream_types_its_events() {
    // §9.2.1: "a stream that has two event types, \"add\" and \"remove\"".
    let stream =
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n";
    let types: Vec<_> = parse(stream).into_iter().map(|(t, d, _)| (t, d)).collect();
    assert_eq!(
        types,
        [
            ("add".to_string(), "73857293".to_string()),
            ("remove".to_string(), "2153".to_string()),
            ("add".to_string(), "113411".to_string()),
        ]
    );
}

#[test]
fn the_specs_stock_ticker_example_joins_its_data_lines() {
    // §9.2.6: "once followed by a blank line … would contain the string YHOO\n+2\n10".
    assert_eq!(parse(b"data: YHOO\ndata: +2\ndata: 10\n"), []);
    assert_eq!(
        parse(b"data: YHOO\ndata: +2\ndata: 10\n\n"),
        [message("YHOO\n+2\n10", "")]
    );
}

#[test]
fn the_specs_four_blocks_set_then_clear_the_last_event_id() {
    // §9.2.6: a comment (nothing), "first event" with id 1, "second event" whose empty
    // id resets the last event ID, and " third event", which the end of the stream does
    // not dispatch.
    let stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n";
    let mut parser = EventStreamParser::new(1024);
    let mut events = Vec::new();
    parser.push(&stream[..], &mut events).unwrap();
    assert_eq!(
        summarize(&events),
        [message("first event", "1"), message("second event", "")]
    );
    assert_eq!(parser.last_event_id(), "");
    assert_eq!(parser.comments(), 1);
    // Followed by a blank line, the last block fires, its leading space kept.
    parser.push(b"\n", &mut events).unwrap();
    assert_eq!(summarize(&events[2..]), [message(" third event", "")]);
}

#[test]
fn the_specs_data_only_stream_fires_two_events() {
    // §9.2.6: "The first block fires events with the data set to the empty string …
    // The middle block fires an event with the data set to a single newline character.
    // The last block is discarded because it is not followed by a blank line."
    let stream = b"data\n\ndata\ndata\n\ndata:";
    assert_eq!(parse(stream), [message("", ""), message("\n", "")]);
    // "… as would the last block if it was followed by a blank line."
    assert_eq!(
        parse(b"data\n\ndata\ndata\n\ndata:\n\n"),
        [message("", ""), message("\n", ""), message("", "")]
    );
}

#[test]
fn the_specs_two_identical_events_differ_only_in_the_space_after_the_colon() {
    // §9.2.6: "This is because the space after the colon is ignored if present."
    assert_eq!(
        parse(b"data:test\n\ndata: test\n\n"),
        [message("test", ""), message("test", "")]
    );
}

#[test]
fn a_bom_is_dropped_at_the_very_start_only() {
    // As web-platform-tests' eventsource/format-bom-2: the second BOM starts a field named
    // "\u{FEFF}data", which is no field.
    let stream = b"\xEF\xBB\xBFdata:1\n\n\xEF\xBB\xBFdata:2\n\ndata:3\n\n";
    assert_eq!(parse(stream), [message("1", ""), message("3", "")]);
    // Two BOMs at the start: the second is text.
    assert_eq!(
        parse(b"\xEF\xBB\xBF\xEF\xBB\xBFdata:1\n\ndata:2\n\n"),
        [message("2", "")]
    );
    // The start of a BOM that does not finish is text (a U+FFFD in a field name).
    assert_eq!(parse(b"\xEF\xBBdata:1\n\ndata:2\n\n"), [message("2", "")]);
    assert_eq!(parse(b"\xEFdata:1\n\ndata:2\n\n"), [message("2", "")]);
    // Split anywhere, it is the same BOM.
    let stream = b"\xEF\xBB\xBFdata:1\n\n";
    for ends in [&[1][..], &[2], &[1, 2], &[3], &[1, 2, 3]] {
        assert_eq!(
            summarize(&parse_in_pieces(stream, ends)),
            [message("1", "")],
            "{ends:?}"
        );
    }
    // A BOM in data, after the start, is kept.
    assert_eq!(parse(b"data:\xEF\xBB\xBF\n\n"), [message("\u{FEFF}", "")]);
}

#[test]
fn the_start_of_a_bom_is_held_until_it_is_decided_then_counts_as_line_bytes() {
    let mut parser = EventStreamParser::new(4);
    let mut events = Vec::new();
    // Undecided: no line yet, even past a limit of 0 or 1.
    parser.push(b"\xEF", &mut events).unwrap();
    parser.push(b"\xBB", &mut events).unwrap();
    assert_eq!(parser.buffered(), 0);
    // Not a BOM after all: its bytes begin the first line.
    parser.push(b"x", &mut events).unwrap();
    assert_eq!(parser.buffered(), 3);
    assert_eq!(
        parser.push(b"yz", &mut events),
        Err(EventStreamError::LineTooLong { limit: 4 })
    );
    let mut parser = EventStreamParser::new(0);
    assert_eq!(parser.push(b"\xEF\xBB", &mut events), Ok(()));
    assert_eq!(parser.push(b"\xBF\n", &mut events), Ok(()));
}

// ===== the parser: line ends =====

#[test]
fn crlf_lone_lf_and_lone_cr_each_end_a_line() {
    assert_eq!(
        parse(b"data: a\r\ndata: b\rdata: c\ndata: d\r\n\r\ndata: e\r\rdata: f\n\n"),
        [
            message("a\nb\nc\nd", ""),
            message("e", ""),
            message("f", "")
        ]
    );
    // LF CR is two line ends: here a blank line.
    assert_eq!(
        parse(b"data: a\n\rdata: b\n\n"),
        [message("a", ""), message("b", "")]
    );
}

#[test]
fn a_cr_ending_one_piece_and_an_lf_starting_the_next_are_one_line_end() {
    // Read as a blank line, the LF would split this event in two.
    let stream = b"data: a\r\ndata: b\r\n\r\n";
    for split in 0..=stream.len() {
        let events = parse_in_pieces(stream, &[split]);
        assert_eq!(
            summarize(&events),
            [message("a\nb", "")],
            "split at {split}"
        );
    }
    // With empty pieces between the CR and its LF.
    let mut parser = EventStreamParser::new(64);
    let mut events = Vec::new();
    for piece in [
        &b"data: a\r"[..],
        b"",
        b"",
        b"\ndata: b\r",
        b"\n",
        b"\r",
        b"",
        b"\n",
    ] {
        parser.push(piece, &mut events).unwrap();
    }
    assert_eq!(summarize(&events), [message("a\nb", "")]);
    // A CR at the end of a piece then a CR is a blank line.
    let events = parse_in_pieces(b"data: a\r\rdata: b\n\n", &[8]);
    assert_eq!(summarize(&events), [message("a", ""), message("b", "")]);
}

// ===== the parser: fields =====

#[test]
fn comments_are_ignored_and_counted() {
    let mut parser = EventStreamParser::new(64);
    let mut events = Vec::new();
    parser
        .push(b":\n: keepalive\ndata: a\n:data: b\n\n: x\n\n", &mut events)
        .unwrap();
    assert_eq!(summarize(&events), [message("a", "")]);
    assert_eq!(parser.comments(), 4);
}

#[test]
fn a_line_without_a_colon_is_a_field_with_an_empty_value() {
    assert_eq!(parse(b"data\n\n"), [message("", "")]);
    assert_eq!(
        parse(b"id: 1\ndata: x\n\nid\ndata: y\n\n"),
        [message("x", "1"), message("y", "")]
    );
    assert_eq!(parse(b"event: a\nevent\ndata: x\n\n"), [message("x", "")]);
}

#[test]
fn field_names_are_exact_and_unknown_fields_are_ignored() {
    let stream =
        b"Data: 1\ndata : 2\n data: 3\ndat: 4\ndatas: 5\nfield: 6\nID: 7\nEvent: 8\ndata: ok\n\n";
    assert_eq!(parse(stream), [message("ok", "")]);
}

#[test]
fn only_one_space_after_the_colon_is_removed() {
    assert_eq!(
        parse(b"data:  two\ndata:\tTab\ndata:x\ndata: \n\n"),
        [message(" two\n\tTab\nx\n", "")]
    );
    assert_eq!(parse(b"event:  spaced\ndata\n\n")[0].0, " spaced");
    assert_eq!(parse(b"id:  1\ndata\n\n")[0].2, " 1");
    // Only the first colon splits: the value keeps the others.
    assert_eq!(parse(b"data: a: b:c\n\n"), [message("a: b:c", "")]);
}

#[test]
fn an_event_without_data_is_not_dispatched_but_its_id_counts() {
    let mut parser = EventStreamParser::new(64);
    let mut events = Vec::new();
    parser
        .push(b"id: 7\n\nevent: t\n\nevent: u\nid: 8\n\n", &mut events)
        .unwrap();
    assert!(events.is_empty());
    // §9.2.6 dispatch step 1 comes before the data check.
    assert_eq!(parser.last_event_id(), "8");
    // The type was reset with the empty event.
    parser.push(b"data: x\n\n", &mut events).unwrap();
    assert_eq!(summarize(&events), [message("x", "8")]);
}

#[test]
fn the_event_type_lasts_one_event_and_defaults_to_message() {
    assert_eq!(
        parse(
            b"event: a\ndata: 1\n\ndata: 2\n\nevent: b\nevent: c\ndata: 3\n\nevent:\ndata: 4\n\n"
        ),
        [
            ("a".to_string(), "1".to_string(), String::new()),
            message("2", ""),
            ("c".to_string(), "3".to_string(), String::new()),
            message("4", ""),
        ]
    );
}

#[test]
fn the_last_event_id_persists_until_the_stream_sets_another() {
    assert_eq!(
        parse(b"id: a\ndata: 1\n\ndata: 2\n\nid: b\ndata: 3\n\nid:\ndata: 4\n\ndata: 5\n\n"),
        [
            message("1", "a"),
            message("2", "a"),
            message("3", "b"),
            message("4", ""),
            message("5", ""),
        ]
    );
}

#[test]
fn an_id_counts_once_its_block_ends() {
    let mut parser = EventStreamParser::new(64);
    let mut events = Vec::new();
    parser
        .push(b"id: 1\n\nid: 2\ndata: x\n", &mut events)
        .unwrap();
    assert_eq!(parser.last_event_id(), "1", "a reconnect now sends 1");
    parser.push(b"\n", &mut events).unwrap();
    assert_eq!(parser.last_event_id(), "2");
    assert_eq!(summarize(&events), [message("x", "2")]);
}

#[test]
fn an_id_with_nul_is_ignored() {
    assert_eq!(
        parse(b"id: 1\ndata: a\n\nid: 2\0\ndata: b\n\nid: \0\ndata: c\n\n"),
        [message("a", "1"), message("b", "1"), message("c", "1")]
    );
}

#[test]
fn retry_takes_only_ascii_digits() {
    let retry = |stream: &[u8]| {
        let mut parser = EventStreamParser::new(256);
        parser.push(stream, &mut Vec::new()).unwrap();
        parser.reconnection_time()
    };
    assert_eq!(retry(b"retry: 3000\n"), Some(3000));
    assert_eq!(retry(b"retry:10\n"), Some(10));
    assert_eq!(retry(b"retry: 007\n"), Some(7), "base ten, zeros and all");
    assert_eq!(retry(b"retry: 18446744073709551615\n"), Some(u64::MAX));
    assert_eq!(retry(b"retry: 5\nretry: 6\n"), Some(6));
    for ignored in [
        &b"retry: 1a\n"[..],
        b"retry: -1\n",
        b"retry: +1\n",
        b"retry: 1.5\n",
        b"retry: 0x10\n",
        b"retry:  5\n",
        b"retry: 5 \n",
        b"retry: \n",
        b"retry\n",
        b"retry: 18446744073709551616\n",
        b"retry: \xD9\xA5\n",
        b"Retry: 5\n",
    ] {
        assert_eq!(
            retry(ignored),
            None,
            "{:?}",
            String::from_utf8_lossy(ignored)
        );
        let mut with_earlier = b"retry: 9\n".to_vec();
        with_earlier.extend_from_slice(ignored);
        assert_eq!(
            retry(&with_earlier),
            Some(9),
            "an ignored retry keeps the last"
        );
    }
    // No event for a retry alone.
    assert_eq!(parse(b"retry: 1\n\n"), []);
}

#[test]
fn invalid_utf8_reads_as_replacement_characters() {
    assert_eq!(
        parse(b"data: a\xFFb\xE2\x82\n\n"),
        [message("a\u{FFFD}b\u{FFFD}", "")]
    );
    assert_eq!(
        parse(b"event: \xC0\ndata: \xED\xA0\x80\nid: \xF0\x9F\n\n"),
        [(
            "\u{FFFD}".to_string(),
            "\u{FFFD}\u{FFFD}\u{FFFD}".to_string(),
            "\u{FFFD}".to_string()
        )]
    );
    // A character split between pieces is one character.
    let stream = "data: €🦀\n\n".as_bytes();
    for split in 0..=stream.len() {
        let events = parse_in_pieces(stream, &[split]);
        assert_eq!(summarize(&events), [message("€🦀", "")], "split at {split}");
    }
}

#[test]
fn a_stream_that_ends_inside_an_event_dispatches_nothing_of_it() {
    assert_eq!(parse(b"data: a\n\ndata: b\n"), [message("a", "")]);
    assert_eq!(parse(b"data: a\n\ndata: b"), [message("a", "")]);
    assert_eq!(parse(b"data: a\n\ndata: b\r"), [message("a", "")]);
}

// ===== the parser: bounds =====

#[test]
fn a_line_as_long_as_the_limit_is_read() {
    let mut parser = EventStreamParser::new(10);
    let mut events = Vec::new();
    parser.push(b"data: 1234\n\n", &mut events).unwrap();
    parser.push(b"data:", &mut events).unwrap();
    parser.push(b" 5678\r", &mut events).unwrap();
    parser.push(b"\n\n", &mut events).unwrap();
    assert_eq!(
        summarize(&events),
        [message("1234", ""), message("5678", "")]
    );
}

#[test]
fn a_line_past_the_limit_is_an_error_before_it_ends() {
    let mut parser = EventStreamParser::new(10);
    let mut events = Vec::new();
    parser.push(b"data: 1\n\n: 34567890", &mut events).unwrap();
    assert_eq!(summarize(&events), [message("1", "")]);
    assert!(parser.buffered() <= 10);
    assert_eq!(
        parser.push(b"9", &mut events),
        Err(EventStreamError::LineTooLong { limit: 10 })
    );
    assert_eq!(parser.buffered(), 0, "the buffers are released");
    // Failed for good.
    assert_eq!(
        parser.push(b"\ndata: 2\n\n", &mut events),
        Err(EventStreamError::LineTooLong { limit: 10 })
    );
    assert_eq!(events.len(), 1);
}

#[test]
fn the_events_before_an_error_in_the_same_piece_are_kept() {
    let mut parser = EventStreamParser::new(8);
    let mut events = Vec::new();
    assert_eq!(
        parser.push(b"data: 1\n\ndata: 2\n\ndata: 123\n\n", &mut events),
        Err(EventStreamError::LineTooLong { limit: 8 })
    );
    assert_eq!(summarize(&events), [message("1", ""), message("2", "")]);
}

#[test]
fn event_data_past_the_limit_is_an_error() {
    // Twelve bytes of data, line breaks included, fit a limit of 12; a thirteenth does
    // not, though every line fits.
    let mut parser = EventStreamParser::new(12);
    let mut events = Vec::new();
    parser
        .push(b"data: 123456\ndata: 89012\n\n", &mut events)
        .unwrap();
    assert_eq!(summarize(&events), [message("123456\n89012", "")]);
    assert_eq!(
        parser.push(b"data: 123456\ndata: 890123\n", &mut events),
        Err(EventStreamError::DataTooLong { limit: 12 })
    );
    // Many empty data lines are data too.
    let mut parser = EventStreamParser::new(10);
    assert_eq!(
        parser.push(&b"data\n".repeat(12), &mut events),
        Err(EventStreamError::DataTooLong { limit: 10 })
    );
}

#[test]
fn stream_errors_read_lowercase_and_name_the_limit() {
    let line = EventStreamError::LineTooLong { limit: 7 }.to_string();
    let data = EventStreamError::DataTooLong { limit: 9 }.to_string();
    assert_eq!(line, "event stream line longer than 7 bytes");
    assert_eq!(data, "event stream event with more than 9 bytes of data");
}

#[test]
fn a_long_line_fed_byte_by_byte_is_read_in_linear_time() {
    // A parser that rescanned its carried line for every piece would take minutes here.
    let mut stream = b"data: ".to_vec();
    stream.extend(std::iter::repeat_n(b'x', 200_000));
    stream.extend_from_slice(b"\n\n");
    let mut parser = EventStreamParser::new(1 << 20);
    let mut events = Vec::new();
    for byte in stream.chunks(1) {
        parser.push(byte, &mut events).unwrap();
    }
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data().len(), 200_000);
}

#[test]
fn many_small_events_after_one_long_id_share_it() {
    let mut stream = format!("id: {}\n", "i".repeat(1000)).into_bytes();
    for _ in 0..100 {
        stream.extend_from_slice(b"data\n\n");
    }
    let mut parser = EventStreamParser::new(2000);
    let mut events = Vec::new();
    parser.push(&stream, &mut events).unwrap();
    assert_eq!(events.len(), 100);
    assert!(
        events
            .windows(2)
            .all(|pair| std::ptr::eq(pair[0].last_event_id(), pair[1].last_event_id())),
        "one copy of the id for every event"
    );
}

// ===== round trips =====

#[test]
fn tricky_data_round_trips_with_each_line_break_as_lf() {
    let tricky = [
        "",
        "\n",
        "\r",
        "\r\n\r\n",
        "a\rb\nc\r\nd",
        "trailing cr\r",
        "\n\r",
        "  leading spaces",
        " ",
        ": x",
        ":",
        "data: nested\n\nid: 9\n\nevent: x",
        "ünïcødé 🦀 ∑",
        "line\u{2028}separator\u{2029}and\u{85}nel",
        "\u{FEFF}bom first",
        "nul\0inside",
        "tab\tand\u{b}\u{c}",
    ];
    let cursor = EventId::new(epoch(0xDEAD_BEEF), 41);
    for data in tricky {
        let mut stream = Vec::new();
        write_event(&mut stream, Some("t"), Some(&cursor.to_string()), data).unwrap();
        stream.extend_from_slice(&message_event(cursor.epoch, cursor.id + 1, data));
        stream.extend_from_slice(&data_event(data));
        let expected = [
            ("t".to_string(), normalized(data), cursor.to_string()),
            message(&normalized(data), "AAAAAN6tvu8:42"),
            message(&normalized(data), "AAAAAN6tvu8:42"),
        ];
        assert_eq!(parse(&stream), expected, "{data:?}");
        for split in 0..=stream.len() {
            assert_eq!(
                summarize(&parse_in_pieces(&stream, &[split])),
                expected,
                "{data:?} split at {split}"
            );
        }
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(summarize(&parse_in_pieces(&stream, &every_byte)), expected);
    }
}

#[test]
fn the_id_of_a_message_event_reads_back_as_its_cursor() {
    let mut parser = EventStreamParser::new(1024);
    let mut events = Vec::new();
    let mut stream = Vec::new();
    write_retry(&mut stream, 3000);
    stream.extend_from_slice(&message_event(epoch(5), 1, "{\"id\":1}"));
    stream.extend_from_slice(&message_event(epoch(5), 2, "{\"id\":2}"));
    parser.push(&stream, &mut events).unwrap();
    assert_eq!(parser.reconnection_time(), Some(3000));
    assert_eq!(
        EventId::parse(parser.last_event_id()),
        Some(EventId::new(epoch(5), 2))
    );
    let ids: Vec<_> = events
        .iter()
        .map(|e| EventId::parse(e.last_event_id()))
        .collect();
    assert_eq!(
        ids,
        [
            Some(EventId::new(epoch(5), 1)),
            Some(EventId::new(epoch(5), 2))
        ]
    );
}

#[test]
fn every_split_of_a_stream_in_two_gives_the_same_events() {
    let mut stream = b"\xEF\xBB\xBF".to_vec();
    write_retry(&mut stream, 1500);
    write_event(
        &mut stream,
        Some("subscribed"),
        Some("AAAAAAAAAAE:0"),
        "{\"next\":0}",
    )
    .unwrap();
    stream.extend_from_slice(&message_event(epoch(1), 1, "a\r\nb"));
    write_comment(&mut stream, "keepalive");
    write_event(&mut stream, Some("missed"), None, "{\"missed\":3}").unwrap();
    stream.extend_from_slice(b"data: cr\r\rdata:crlf\r\n\r\nid\rdata: \xC3\xBC\n\n: end\r\n");
    stream.extend_from_slice(&data_event(""));
    let whole = parse(&stream);
    assert_eq!(
        whole,
        [
            (
                "subscribed".to_string(),
                "{\"next\":0}".to_string(),
                "AAAAAAAAAAE:0".to_string()
            ),
            message("a\nb", "AAAAAAAAAAE:1"),
            (
                "missed".to_string(),
                "{\"missed\":3}".to_string(),
                "AAAAAAAAAAE:1".to_string()
            ),
            message("cr", "AAAAAAAAAAE:1"),
            message("crlf", "AAAAAAAAAAE:1"),
            message("ü", ""),
            message("", ""),
        ]
    );
    for split in 0..=stream.len() {
        assert_eq!(
            summarize(&parse_in_pieces(&stream, &[split])),
            whole,
            "split at {split}"
        );
    }
    for first in 0..stream.len() {
        let second = (first + 1 + first * 7 % 13).min(stream.len());
        assert_eq!(
            summarize(&parse_in_pieces(&stream, &[first, second])),
            whole,
            "splits at {first} and {second}"
        );
    }
}

use super::*;

const LIMITS: CommandLimits = CommandLimits {
    max_command: 4096,
    max_message: 1024,
    max_depth: MAX_PAYLOAD_DEPTH,
};

fn parse(text: &str) -> Result<Command<'_>, CommandError> {
    Command::parse(text.as_bytes(), &LIMITS)
}

fn problem(text: &str) -> CommandProblem {
    parse(text).unwrap_err().problem
}

fn epoch() -> Epoch {
    Epoch::from_bits(0x0123_4567_89AB_CDEF).unwrap()
}

fn text(s: &str) -> Payload<'_> {
    Payload::Text(Cow::Borrowed(s))
}

/// A frame read back by the strict reader: its members as (key, raw value text).
fn read_back(frame: &str) -> Vec<(String, String)> {
    assert!(json::validate(frame.as_bytes(), 64).is_ok(), "{frame}");
    Members::new(frame, 64)
        .unwrap()
        .map(|m| {
            let (key, value) = m.unwrap();
            (key.into_owned(), value.raw().to_string())
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ===== the command shapes =====

#[test]
fn a_subscribe_reads_its_channel_and_cursor() {
    assert_eq!(
        parse(r#"{"type":"subscribe","channel":"a","since":5,"epoch":"ASNFZ4mrze8"}"#),
        Ok(Command::Subscribe {
            channel: "a".into(),
            since: Some(5),
            epoch: Some(epoch()),
            reference: None,
        })
    );
    assert_eq!(
        parse(r#"{"channel":"news.en-GB_2","type":"subscribe"}"#),
        Ok(Command::Subscribe {
            channel: "news.en-GB_2".into(),
            since: None,
            epoch: None,
            reference: None,
        })
    );
    assert_eq!(
        parse(r#"{"type":"subscribe","channel":"a","since":0}"#).map(|c| matches!(
            c,
            Command::Subscribe {
                since: Some(0),
                epoch: None,
                ..
            }
        )),
        Ok(true)
    );
}

#[test]
fn null_is_absence_for_the_optional_fields() {
    assert_eq!(
        parse(r#"{"type":"subscribe","channel":"a","since":null,"epoch":null,"ref":null}"#),
        Ok(Command::Subscribe {
            channel: "a".into(),
            since: None,
            epoch: None,
            reference: None,
        })
    );
}

#[test]
fn an_unsubscribe_reads_its_channel() {
    assert_eq!(
        parse(r#" { "type" : "unsubscribe" , "channel" : "a" } "#),
        Ok(Command::Unsubscribe {
            channel: "a".into(),
            reference: None,
        })
    );
}

#[test]
fn a_publish_of_a_string_is_text_unescaped() {
    assert_eq!(
        parse(r#"{"type":"publish","channel":"a","data":"hi \"you\"\n\u00e9","ref":7}"#),
        Ok(Command::Publish {
            channel: "a".into(),
            data: text("hi \"you\"\né"),
            reference: Some(Ref::Number(7)),
        })
    );
    let Ok(Command::Publish { data, .. }) =
        parse(r#"{"type":"publish","channel":"a","data":"plain"}"#)
    else {
        panic!()
    };
    assert!(
        matches!(data, Payload::Text(Cow::Borrowed("plain"))),
        "borrowed when it can be"
    );
    assert_eq!(
        parse(r#"{"type":"publish","channel":"a","data":""}"#).map(|c| c.to_text()),
        Ok(r#"{"type":"publish","channel":"a","data":""}"#.to_string())
    );
}

#[test]
fn a_publish_of_any_other_value_is_a_json_payload_as_sent() {
    for value in [
        "{\"x\": [1, 2.5e3, true],\n \"y\": null}",
        "[]",
        "{}",
        "-0.5",
        "12345678901234567890123",
        "true",
        "false",
        "null",
    ] {
        let command = format!(r#"{{"type":"publish","channel":"a","data":{value},"ref":"r"}}"#);
        assert_eq!(
            parse(&command),
            Ok(Command::Publish {
                channel: "a".into(),
                data: Payload::Json(value),
                reference: Some(Ref::Text("r".into())),
            }),
            "{value}"
        );
    }
}

#[test]
fn a_64_deep_payload_is_accepted_and_a_65_deep_one_refused() {
    let deep = |depth: usize| {
        format!(
            r#"{{"type":"publish","channel":"a","data":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let ok = deep(64);
    assert!(matches!(
        parse(&ok),
        Ok(Command::Publish { data: Payload::Json(raw), .. }) if raw.len() == 128
    ));
    let refused = deep(65);
    let err = parse(&refused).unwrap_err();
    assert!(
        matches!(&err.problem, CommandProblem::Malformed(e) if e.expected == "no deeper nesting"),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    // An ignored field is bounded the same way.
    let unknown = format!(
        r#"{{"type":"unsubscribe","channel":"a","x":{}{}}}"#,
        "{\"k\":".repeat(65),
        "}".repeat(65)
    );
    assert!(matches!(problem(&unknown), CommandProblem::Malformed(_)));
}

#[test]
fn unknown_fields_are_ignored_whatever_their_value() {
    assert_eq!(
        parse(
            r#"{"v":2,"type":"unsubscribe","extra":{"deep":[1,{"x":"\u00e9"}]},"channel":"a","z":null}"#
        ),
        Ok(Command::Unsubscribe {
            channel: "a".into(),
            reference: None,
        })
    );
    // Fields of other types are not read: a publish's `since` is not checked.
    assert_eq!(
        parse(r#"{"type":"publish","channel":"a","data":"x","since":"soon","epoch":7}"#)
            .map(|c| c.to_text()),
        Ok(r#"{"type":"publish","channel":"a","data":"x"}"#.to_string())
    );
    assert_eq!(
        parse(r#"{"type":"unsubscribe","channel":"a","data":[1}"#).map(|_| ()),
        Err(CommandError {
            problem: CommandProblem::Malformed(JsonError {
                at: 45,
                expected: "',' or ']'"
            }),
            reference: None,
            channel: Some("a".into()),
        }),
        "but they must be JSON"
    );
}

#[test]
fn a_key_spelled_with_escapes_is_the_same_field() {
    assert_eq!(
        parse(r#"{"t\u0079pe":"sub\u0073cribe","ch\u0061nnel":"\u0061"}"#).map(|c| c.to_text()),
        Ok(r#"{"type":"subscribe","channel":"a"}"#.to_string())
    );
    assert_eq!(
        problem(r#"{"type":"unsubscribe","channel":"a","ch\u0061nnel":"b"}"#),
        CommandProblem::DuplicateField("channel")
    );
}

// ===== errors =====

#[test]
fn duplicate_fields_are_refused_and_the_duplicated_one_is_not_echoed() {
    for field in ["type", "channel", "since", "epoch", "data", "ref"] {
        let text = format!(
            r#"{{"type":"subscribe","channel":"a","ref":1,"{field}":null,"{field}":null}}"#
        );
        let err = parse(&text).unwrap_err();
        assert_eq!(err.problem, CommandProblem::DuplicateField(field), "{text}");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        // The first `ref`/`channel` would be echoed, had it not been given twice: a
        // duplicate is no value at all.
        assert_eq!(
            err.reference.is_some(),
            field != "ref",
            "{text}: {:?}",
            err.reference
        );
        assert_eq!(err.channel.is_some(), field != "channel", "{text}");
        assert_eq!(err.to_string(), format!("{field} given more than once"));
    }
}

#[test]
fn duplicate_unknown_fields_are_not_looked_for() {
    assert!(parse(r#"{"type":"unsubscribe","channel":"a","x":1,"x":2}"#).is_ok());
}

#[test]
fn a_missing_type_channel_or_data_is_400() {
    for (text, field) in [
        (r#"{"channel":"a"}"#, "type"),
        (r#"{}"#, "type"),
        (r#"{"type":"subscribe"}"#, "channel"),
        (r#"{"type":"unsubscribe","since":1}"#, "channel"),
        (r#"{"type":"publish","channel":"a"}"#, "data"),
    ] {
        let err = parse(text).unwrap_err();
        assert_eq!(err.problem, CommandProblem::MissingField(field), "{text}");
        assert_eq!(err.status().as_u16(), 400);
        assert_eq!(err.to_string(), format!("{field} is required"));
    }
}

#[test]
fn an_unknown_type_is_400_and_the_connection_can_go_on() {
    for text in [
        r#"{"type":"Subscribe","channel":"a"}"#,
        r#"{"type":"ping"}"#,
        r#"{"type":""}"#,
        r#"{"type":1}"#,
        r#"{"type":null}"#,
        r#"{"type":["subscribe"]}"#,
    ] {
        assert_eq!(problem(text), CommandProblem::UnknownType, "{text}");
    }
}

#[test]
fn malformed_json_is_400_and_says_where() {
    for (text, at, expected) in [
        ("", 0, "an object"),
        ("[]", 0, "an object"),
        ("\"subscribe\"", 0, "an object"),
        (r#"{"type":"subscribe",}"#, 20, "a string key"),
        (r#"{"type":"subscribe"} {}"#, 21, "the end"),
        (r#"{"type":'subscribe'}"#, 8, "a value"),
        (
            r#"{"type":"unsubscribe","channel":"a","x":01}"#,
            41,
            "',' or '}'",
        ),
        ("\u{feff}{}", 0, "an object"),
    ] {
        let err = parse(text).unwrap_err();
        assert_eq!(
            err.problem,
            CommandProblem::Malformed(JsonError { at, expected }),
            "{text}"
        );
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }
    let err = Command::parse(b"{\"type\":\"\xFF\"}", &LIMITS).unwrap_err();
    assert_eq!(
        err.problem,
        CommandProblem::Malformed(JsonError {
            at: 9,
            expected: "UTF-8 text"
        })
    );
    assert_eq!(
        err.to_string(),
        "malformed command: expected UTF-8 text at byte 9"
    );
}

#[test]
fn bad_channel_names_are_the_http_apis_400() {
    for channel in [
        r#""""#, r#""a/b""#, r#""a b""#, r#""%61""#, r#""é""#, "1", "null", r#"["a"]"#,
    ] {
        let text = format!(r#"{{"type":"subscribe","channel":{channel},"ref":3}}"#);
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err.problem,
            CommandProblem::Hub(HubError::BadChannelName),
            "{text}"
        );
        assert_eq!(err.channel, None, "an invalid name is never echoed");
        assert_eq!(err.reference, Some(Ref::Number(3)));
        assert_eq!(err.to_string(), HubError::BadChannelName.to_string());
    }
    let long = "x".repeat(129);
    let text = format!(r#"{{"type":"subscribe","channel":"{long}"}}"#);
    assert_eq!(
        problem(&text),
        CommandProblem::Hub(HubError::BadChannelName)
    );
    let longest = "x".repeat(128);
    let text = format!(r#"{{"type":"subscribe","channel":"{longest}"}}"#);
    assert!(parse(&text).is_ok());
}

#[test]
fn huge_negative_fractional_or_quoted_since_is_refused() {
    for since in [
        "18446744073709551616",
        "99999999999999999999999",
        "-1",
        "1.0",
        "1e2",
        "-0",
        r#""5""#,
        "true",
        "[5]",
    ] {
        let text = format!(r#"{{"type":"subscribe","channel":"a","since":{since}}}"#);
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err.problem,
            CommandProblem::Hub(HubError::BadSince),
            "{text}"
        );
        assert_eq!(err.channel.as_deref(), Some("a"));
    }
    let max = r#"{"type":"subscribe","channel":"a","since":18446744073709551615}"#;
    assert!(matches!(
        parse(max),
        Ok(Command::Subscribe {
            since: Some(u64::MAX),
            ..
        })
    ));
}

#[test]
fn an_epoch_this_hub_could_not_have_given_is_refused() {
    for epoch in [
        r#""""#,
        r#""AAAAAAAAAAA""#,
        r#""ASNFZ4mrze""#,
        r#""ASNFZ4mrze8=""#,
        "12345678901",
        "true",
    ] {
        let text = format!(r#"{{"type":"subscribe","channel":"a","epoch":{epoch}}}"#);
        assert_eq!(
            problem(&text),
            CommandProblem::Hub(HubError::BadEpoch),
            "{text}"
        );
    }
}

#[test]
fn a_ref_is_an_integer_or_a_short_string() {
    let read = |reference: &str| {
        let text = format!(r#"{{"type":"unsubscribe","channel":"a","ref":{reference}}}"#);
        parse(&text)
            .map(|c| c.reference().cloned().map(Ref::into_owned))
            .map_err(|e| e.problem)
    };
    assert_eq!(read("0"), Ok(Some(Ref::Number(0))));
    assert_eq!(
        read("18446744073709551615"),
        Ok(Some(Ref::Number(u64::MAX)))
    );
    assert_eq!(read(r#""a-7""#), Ok(Some(Ref::Text("a-7".into()))));
    assert_eq!(read(r#""\u0041\n""#), Ok(Some(Ref::Text("A\n".into()))));
    assert_eq!(read(r#""""#), Ok(Some(Ref::Text("".into()))));
    let longest = format!("\"{}\"", "r".repeat(MAX_REF_LEN));
    assert!(matches!(read(&longest), Ok(Some(Ref::Text(t))) if t.len() == 64));
    // 64 characters of 2 bytes each are 128 bytes: too long.
    let wide = format!("\"{}\"", "é".repeat(MAX_REF_LEN));
    let too_long = format!("\"{}\"", "r".repeat(MAX_REF_LEN + 1));
    for bad in [
        too_long.as_str(),
        wide.as_str(),
        "-1",
        "1.5",
        "1e3",
        "18446744073709551616",
        "true",
        "[7]",
        "{}",
    ] {
        assert_eq!(read(bad), Err(CommandProblem::BadRef), "{bad}");
    }
    assert_eq!(
        CommandProblem::BadRef.to_string(),
        "ref must be a non-negative integer or a string of at most 64 bytes"
    );
}

#[test]
fn the_ref_and_channel_are_echoed_in_errors_whatever_the_field_order() {
    for text in [
        r#"{"ref":"r1","channel":"a","type":"subscribe","since":-1}"#,
        r#"{"type":"subscribe","since":-1,"channel":"a","ref":"r1"}"#,
        r#"{"since":-1,"ref":"r\u0031","type":"subscribe","channel":"a"}"#,
    ] {
        let err = parse(text).unwrap_err();
        assert_eq!(
            (err.reference, err.channel.as_deref()),
            (Some(Ref::Text("r1".into())), Some("a")),
            "{text}"
        );
    }
    let err = parse(r#"{"ref":9,"channel":"a","type":"shout"}"#).unwrap_err();
    assert_eq!(
        err.frame(),
        r#"{"type":"error","ref":9,"channel":"a","status":400,"error":"type must be \"subscribe\", \"unsubscribe\" or \"publish\""}"#
    );
}

#[test]
fn a_syntax_error_echoes_what_was_read_before_it() {
    let err = parse(r#"{"ref":7,"channel":"a","type":"publish","data":[1,}"#).unwrap_err();
    assert!(matches!(err.problem, CommandProblem::Malformed(_)));
    assert_eq!(
        (err.reference, err.channel.as_deref()),
        (Some(Ref::Number(7)), Some("a"))
    );
    let err = parse(r#"{"data":[1,],"ref":7,"channel":"a"}"#).unwrap_err();
    assert_eq!((err.reference, err.channel), (None, None), "not read yet");
}

#[test]
fn a_command_longer_than_the_connections_limit_is_413_unread() {
    let limits = CommandLimits::new(40, 1024);
    let text = r#"{"type":"unsubscribe","channel":"a","ref":1}"#;
    assert!(text.len() > 40);
    let err = Command::parse(text.as_bytes(), &limits).unwrap_err();
    assert_eq!(
        err,
        CommandError {
            problem: CommandProblem::TooLarge,
            reference: None,
            channel: None,
        }
    );
    assert_eq!(err.status(), StatusCode::CONTENT_TOO_LARGE);
    let fits = CommandLimits::new(text.len(), 1024);
    assert!(Command::parse(text.as_bytes(), &fits).is_ok());
}

#[test]
fn data_longer_than_the_hubs_max_message_is_413_with_ref_and_channel() {
    let limits = CommandLimits::new(4096, 8);
    let at_limit = r#"{"type":"publish","channel":"a","data":"12345678","ref":1}"#;
    assert!(Command::parse(at_limit.as_bytes(), &limits).is_ok());
    // Text counts unescaped: eight escapes are eight bytes.
    let escaped = r#"{"type":"publish","channel":"a","data":"\u0041\u0041\u0041\u0041\n\n\n\n"}"#;
    assert!(Command::parse(escaped.as_bytes(), &limits).is_ok());
    for over in [
        r#"{"type":"publish","channel":"a","data":"123456789","ref":1}"#,
        r#"{"type":"publish","channel":"a","data":[1,2,3,4,5],"ref":1}"#,
        r#"{"type":"publish","channel":"a","data":"éééé\u00e9","ref":1}"#,
    ] {
        let err = Command::parse(over.as_bytes(), &limits).unwrap_err();
        assert_eq!(err.problem, CommandProblem::Hub(HubError::MessageTooLarge));
        assert_eq!(err.status(), StatusCode::CONTENT_TOO_LARGE);
        assert_eq!(
            err.frame(),
            r#"{"type":"error","ref":1,"channel":"a","status":413,"error":"message too large: longer than the hub's max message size"}"#
        );
    }
    let json = r#"{"type":"publish","channel":"a","data":[1, 2,3]}"#;
    assert!(Command::parse(json.as_bytes(), &limits).is_ok(), "8 bytes");
}

#[test]
fn every_problem_has_its_status_and_a_lowercase_message() {
    for (problem, status) in [
        (CommandProblem::TooLarge, 413),
        (
            CommandProblem::Malformed(JsonError {
                at: 0,
                expected: "an object",
            }),
            400,
        ),
        (CommandProblem::DuplicateField("ref"), 400),
        (CommandProblem::MissingField("data"), 400),
        (CommandProblem::UnknownType, 400),
        (CommandProblem::BadRef, 400),
        (CommandProblem::Hub(HubError::BadSince), 400),
        (CommandProblem::Hub(HubError::MessageTooLarge), 413),
    ] {
        assert_eq!(problem.status().as_u16(), status, "{problem:?}");
        let text = problem.to_string();
        assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
    }
}

// ===== writing commands =====

#[test]
fn commands_are_written_byte_for_byte_and_read_back_equal() {
    let cases = [
        (
            Command::Subscribe {
                channel: "a".into(),
                since: Some(5),
                epoch: Some(epoch()),
                reference: Some(Ref::Number(1)),
            },
            r#"{"type":"subscribe","channel":"a","since":5,"epoch":"ASNFZ4mrze8","ref":1}"#,
        ),
        (
            Command::Subscribe {
                channel: "b".into(),
                since: None,
                epoch: None,
                reference: None,
            },
            r#"{"type":"subscribe","channel":"b"}"#,
        ),
        (
            Command::Unsubscribe {
                channel: "a".into(),
                reference: Some(Ref::Text("x\"y".into())),
            },
            r#"{"type":"unsubscribe","channel":"a","ref":"x\"y"}"#,
        ),
        (
            Command::Publish {
                channel: "room".into(),
                data: text("hi\n\"you\""),
                reference: Some(Ref::Number(7)),
            },
            r#"{"type":"publish","channel":"room","data":"hi\n\"you\"","ref":7}"#,
        ),
        (
            Command::Publish {
                channel: "room".into(),
                data: Payload::Json("{\"a\": [1,\n2]}"),
                reference: None,
            },
            "{\"type\":\"publish\",\"channel\":\"room\",\"data\":{\"a\": [1,\n2]}}",
        ),
    ];
    for (command, expected) in cases {
        let written = command.to_text();
        assert_eq!(written, expected);
        assert_eq!(parse(&written), Ok(command));
    }
}

// ===== server frames =====

#[test]
fn subscribed_frames_are_exact() {
    let frame = subscribed("a", epoch(), 7, false);
    assert_eq!(
        frame,
        r#"{"type":"subscribed","channel":"a","epoch":"ASNFZ4mrze8","next":7}"#
    );
    assert_eq!(
        read_back(&frame),
        pairs(&[
            ("type", "\"subscribed\""),
            ("channel", "\"a\""),
            ("epoch", "\"ASNFZ4mrze8\""),
            ("next", "7"),
        ])
    );
    let reset = subscribed("a", epoch(), 0, true);
    assert_eq!(
        reset,
        r#"{"type":"subscribed","channel":"a","epoch":"ASNFZ4mrze8","reset":true,"next":0}"#
    );
    assert_eq!(read_back(&reset)[3], ("reset".into(), "true".into()));
}

#[test]
fn message_frames_splice_the_hubs_frame_without_re_escaping() {
    let frame = json::message_frame(12, "say \"hi\"\n");
    let message = message("room", &frame);
    assert_eq!(
        message,
        r#"{"type":"message","channel":"room","id":12,"data":"say \"hi\"\n"}"#
    );
    assert_eq!(
        message.capacity(),
        message.len(),
        "one allocation, exact size"
    );
    assert_eq!(
        read_back(&message),
        pairs(&[
            ("type", "\"message\""),
            ("channel", "\"room\""),
            ("id", "12"),
            ("data", r#""say \"hi\"\n""#),
        ])
    );
    // A JSON payload's frame, through the payload.
    let json = Payload::Json("{\"k\": [true, null]}").message_frame(3);
    assert_eq!(json, r#"{"id":3,"data":{"k": [true, null]}}"#);
    assert_eq!(
        super::message("a", &json),
        r#"{"type":"message","channel":"a","id":3,"data":{"k": [true, null]}}"#
    );
    assert_eq!(text("x").message_frame(1), json::message_frame(1, "x"));
}

#[test]
fn missed_and_unsubscribed_frames_are_exact() {
    let frame = missed("a", 3);
    assert_eq!(frame, r#"{"type":"missed","channel":"a","missed":3}"#);
    assert_eq!(read_back(&frame)[2], ("missed".into(), "3".into()));
    let frame = unsubscribed("a.b");
    assert_eq!(frame, r#"{"type":"unsubscribed","channel":"a.b"}"#);
    assert_eq!(read_back(&frame).len(), 2);
}

#[test]
fn ack_frames_echo_the_ref_and_name_the_message() {
    let frame = ack(Some(&Ref::Number(7)), "a", 42, epoch());
    assert_eq!(
        frame,
        r#"{"type":"ack","ref":7,"channel":"a","id":42,"epoch":"ASNFZ4mrze8"}"#
    );
    assert_eq!(
        read_back(&frame),
        pairs(&[
            ("type", "\"ack\""),
            ("ref", "7"),
            ("channel", "\"a\""),
            ("id", "42"),
            ("epoch", "\"ASNFZ4mrze8\""),
        ])
    );
    assert_eq!(
        ack(Some(&Ref::Text("a\"b".into())), "a", 1, epoch()),
        r#"{"type":"ack","ref":"a\"b","channel":"a","id":1,"epoch":"ASNFZ4mrze8"}"#
    );
    assert_eq!(
        ack(None, "a", u64::MAX, epoch()),
        r#"{"type":"ack","channel":"a","id":18446744073709551615,"epoch":"ASNFZ4mrze8"}"#
    );
}

#[test]
fn error_frames_carry_ref_and_channel_only_when_known() {
    assert_eq!(
        error(
            Some(&Ref::Number(7)),
            Some("a"),
            StatusCode::CONTENT_TOO_LARGE,
            "message too large"
        ),
        r#"{"type":"error","ref":7,"channel":"a","status":413,"error":"message too large"}"#
    );
    let bare = error(None, None, StatusCode::TOO_MANY_REQUESTS, "too \"many\"");
    assert_eq!(
        bare,
        r#"{"type":"error","status":429,"error":"too \"many\""}"#
    );
    assert_eq!(
        read_back(&bare),
        pairs(&[
            ("type", "\"error\""),
            ("status", "429"),
            ("error", r#""too \"many\"""#),
        ])
    );
    // A command's error, read back: its message is the error's text.
    let err = parse(r#"{"type":"subscribe","channel":"a","since":"x","ref":"q"}"#).unwrap_err();
    let frame = err.frame();
    let members = read_back(&frame);
    assert_eq!(
        members,
        pairs(&[
            ("type", "\"error\""),
            ("ref", "\"q\""),
            ("channel", "\"a\""),
            ("status", "400"),
            ("error", "\"since must be a non-negative integer\""),
        ])
    );
}

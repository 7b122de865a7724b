use super::*;

/// serde_json's `Value` accepts 127 levels and refuses 128 (its recursion limit of 128
/// counts the level it refuses): our reader at this depth must agree with it exactly.
const SERDE_JSON_DEPTH: usize = 127;

/// serde_json's verdict, `None` where it differs from RFC 8259 on purpose: it refuses a
/// number whose value is out of `f64`'s range (`1e309`), which is valid JSON.
fn serde_verdict(text: &[u8]) -> Option<bool> {
    match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(_) => Some(true),
        Err(e) if e.to_string().starts_with("number out of range") => None,
        Err(_) => Some(false),
    }
}

fn valid(text: &[u8]) -> bool {
    validate(text, MAX_PAYLOAD_DEPTH).is_ok()
}

fn nested(open: &str, inner: &str, close: &str, depth: usize) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

const VALID: &[&[u8]] = &[
    b"0",
    b"-0",
    b"1",
    b"-1",
    b"123456789012345678901234567890",
    b"1.5",
    b"-0.0",
    b"1e5",
    b"1E5",
    b"1e+5",
    b"1e-5",
    b"1.25E-7",
    b"[1e309]",
    b"[-1e309]",
    b"[1e-400]",
    b"true",
    b"false",
    b"null",
    b"\"\"",
    b"\"abc\"",
    br#""\" \\ \/ \b \f \n \r \t""#,
    br#""\u0000\u001F\u00e9\uFFFF""#,
    br#""\ud83e\udd80""#,
    br#""\uD83E\uDD80""#,
    "\"é 日本 🦀 \u{7f}\"".as_bytes(),
    b"\"\xEF\xBF\xBF\"",
    b"\"\xF4\x8F\xBF\xBF\"",
    b"[]",
    b"{}",
    b"[ ]",
    b"{ }",
    b" \t\r\n[1, 2 ,3]\r\n ",
    b"1 ",
    b" 1",
    br#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
    br#"{ "a" : 1 , "a" : 2 }"#,
    br#"[[],[[]],{},{"":{}}]"#,
    br#"{"":""}"#,
    br#"["a\u2028b"]"#,
];

const INVALID: &[&[u8]] = &[
    b"",
    b" ",
    b"[01]",
    b"01",
    b"-01",
    b"+1",
    b".5",
    b"1.",
    b"1.e5",
    b"1e",
    b"1e+",
    b"-",
    b"--1",
    b"0x10",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1 2",
    b"[1] [2]",
    b"\xEF\xBB\xBF1",
    b"\xEF\xBB\xBF{}",
    b"tru",
    b"truE",
    b"nul",
    b"True",
    b"\"abc",
    b"\"\\\"",
    b"\"\x01\"",
    b"\"\x1f\"",
    b"\"a\nb\"",
    b"\"\t\"",
    br#""\x""#,
    br#""\U0041""#,
    br#""\u00""#,
    br#""\u00G0""#,
    br#""\ud800""#,
    br#""\udc00""#,
    br#""\ud800\u0041""#,
    br#""\ud800\ud800""#,
    br#""\ud800x""#,
    br#""\udfff\ud800""#,
    b"\"\xFF\"",
    b"\"\xC0\xAF\"",
    b"\"\xC3\"",
    b"\"\xED\xA0\x80\"",
    b"\"\xF4\x90\x80\x80\"",
    b"\"\xF0\x8F\xBF\xBF\"",
    b"\"\xE0\x9F\xBF\"",
    b"\"\x80\"",
    b"\xC3\xA9",
    b"[1,]",
    b"[,1]",
    b"[1,,2]",
    b"[1 2]",
    b"[",
    b"]",
    b"[}",
    b"{]",
    b"{\"a\":1,}",
    b"{\"a\"}",
    b"{\"a\" 1}",
    b"{\"a\":}",
    b"{a:1}",
    b"{'a':1}",
    b"{1:1}",
    b"['a']",
    b"[1]//c",
    b"/*c*/[1]",
    b"[1]\x00",
    b"\x00",
    b"[\x0c]",
    b"[1]\xA0",
    b"{\"a\":1}}",
    b"[[]]]",
];

#[test]
fn the_corpus_reads_as_rfc_8259_says() {
    for text in VALID {
        assert!(
            valid(text),
            "{:?}: {:?}",
            String::from_utf8_lossy(text),
            validate(text, 64)
        );
    }
    for text in INVALID {
        assert!(!valid(text), "{:?} accepted", String::from_utf8_lossy(text));
    }
}

#[test]
fn serde_json_agrees_on_the_corpus_except_for_numbers_out_of_f64_range() {
    let deep = [
        nested("[", "", "]", SERDE_JSON_DEPTH),
        nested("[", "", "]", SERDE_JSON_DEPTH + 1),
        nested("{\"a\":", "1", "}", SERDE_JSON_DEPTH),
        nested("{\"a\":", "1", "}", SERDE_JSON_DEPTH + 1),
    ];
    let mut excluded = 0;
    for text in VALID
        .iter()
        .chain(INVALID)
        .copied()
        .chain(deep.iter().map(|d| d.as_bytes()))
    {
        let ours = validate(text, SERDE_JSON_DEPTH).is_ok();
        match serde_verdict(text) {
            Some(theirs) => assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(text)),
            None => {
                assert!(ours, "{:?}", String::from_utf8_lossy(text));
                excluded += 1;
            }
        }
    }
    assert_eq!(excluded, 2, "[1e309] and [-1e309]");
}

#[test]
fn nesting_is_bounded_by_max_depth_and_counts_arrays_and_objects_alike() {
    for depth in [0, 1, 2, 63, 64, 65, 100, 200, 1000] {
        let arrays = nested("[", "1", "]", depth);
        let objects = nested("{\"k\":", "1", "}", depth);
        let mixed = nested("[{\"k\":", "1", "}]", depth / 2);
        for (text, actual) in [(&arrays, depth), (&objects, depth), (&mixed, depth / 2 * 2)] {
            assert!(validate(text.as_bytes(), actual).is_ok(), "{actual}");
            if actual > 0 {
                let err = validate(text.as_bytes(), actual - 1).unwrap_err();
                assert_eq!(err.expected, "no deeper nesting");
            }
        }
    }
    assert!(validate(b"1", 0).is_ok(), "a scalar has depth 0");
    assert!(validate(b"[]", 0).is_err());
}

#[test]
fn a_hostile_depth_is_an_error_not_a_stack_overflow() {
    let deep = "[".repeat(1_000_000);
    let err = validate(deep.as_bytes(), MAX_PAYLOAD_DEPTH).unwrap_err();
    assert_eq!((err.at, err.expected), (64, "no deeper nesting"));
    // Allowed that deep, the bit stack holds it: the error is the missing value.
    let err = validate(deep.as_bytes(), usize::MAX).unwrap_err();
    assert_eq!((err.at, err.expected), (1_000_000, "a value"));
    let balanced = nested("[", "", "]", 100_000);
    assert!(validate(balanced.as_bytes(), 100_000).is_ok());
    let objects = nested("{\"\":", "[]", "}", 70_000);
    assert!(validate(objects.as_bytes(), 70_001).is_ok());
    // A mismatched close deep inside is found: the stack remembers every level's kind.
    let mismatched = format!("{}{}]}}", "[{\"\":".repeat(40), "[");
    assert!(validate(mismatched.as_bytes(), 1000).is_err());
}

#[test]
fn levels_past_64_remember_whether_they_are_objects_or_arrays() {
    // Alternate kinds for 200 levels, close them in order: any bit lost would make one
    // closer mismatch.
    let mut open = String::new();
    let mut close = String::new();
    for level in 0..200 {
        if level % 3 == 0 {
            open.push_str("{\"k\":");
            close.insert(0, '}');
        } else {
            open.push('[');
            close.insert(0, ']');
        }
    }
    let text = format!("{open}0{close}");
    assert!(validate(text.as_bytes(), 200).is_ok());
    // Swapping any one closer breaks it.
    for i in [0, 1, 2, 63, 64, 65, 127, 128, 199] {
        let mut bytes = text.clone().into_bytes();
        let at = open.len() + 1 + i;
        bytes[at] = if bytes[at] == b']' { b'}' } else { b']' };
        assert!(validate(&bytes, 200).is_err(), "closer {i}");
    }
}

#[test]
fn errors_say_where_and_what_was_expected() {
    let cases: &[(&[u8], usize, &str)] = &[
        (b"", 0, "a value"),
        (b"[01]", 2, "',' or ']'"),
        (b"01", 1, "the end"),
        (b"1 2", 2, "the end"),
        (b"{\"a\":1,}", 7, "a string key"),
        (b"{\"a\" 1}", 5, "':'"),
        (b"[1.]", 3, "a digit after '.'"),
        (b"1e+", 3, "a digit in the exponent"),
        (b"-x", 1, "a digit"),
        (b"\"a\x01\"", 2, "a control character to be escaped"),
        (b"\"ab", 3, "a closing quote"),
        (br#""a\q""#, 3, "an escape: one of \" \\ / b f n r t u"),
        (br#""\u12x4""#, 5, "four hex digits"),
        (br#""\u12"#, 5, "four hex digits"),
        (
            br#""x\ud800y""#,
            2,
            "a high surrogate escape followed by a low one",
        ),
        (br#""x\udc00""#, 2, "no lone low surrogate escape"),
        (b"\"a\xFFb\"", 2, "UTF-8 text"),
        (b"[1}", 2, "',' or ']'"),
        (b"{\"a\":1]", 6, "',' or '}'"),
        (b"nulL", 0, "a value"),
    ];
    for &(text, at, expected) in cases {
        assert_eq!(
            validate(text, 64),
            Err(JsonError { at, expected }),
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn long_strings_are_checked_in_every_byte_whatever_their_alignment() {
    // The eight-at-a-time skip must stop at every kind of byte at every offset.
    for special in [b'"', b'\\', 0x00, 0x1F, 0x80, 0xFF] {
        for len in 0..40 {
            for at in 0..len {
                let mut text = vec![b'"'];
                let mut body = vec![b'a'; len];
                body[at] = special;
                text.extend_from_slice(&body);
                text.push(b'"');
                let ours = valid(&text);
                assert_eq!(
                    Some(ours),
                    serde_verdict(&text),
                    "{special:#x} at {at} of {len}"
                );
            }
        }
    }
    let plain: String = (0..1000)
        .map(|i| char::from(b' ' + (i % 95) as u8))
        .collect();
    let text = format!("\"{}\"", plain.replace(['"', '\\'], "x"));
    assert!(valid(text.as_bytes()));
}

#[test]
fn members_are_yielded_in_order_with_their_exact_text() {
    let text = r#" { "a" : 1 , "s":"x\ty", "o":{"k":[1, 2]} , "t":true,"f":false,"n":null,"neg":-1.5e3 } "#;
    let members: Vec<_> = Members::new(text, 64)
        .unwrap()
        .map(|m| {
            let (key, value) = m.unwrap();
            (key.into_owned(), value.kind(), value.raw())
        })
        .collect();
    assert_eq!(
        members,
        [
            ("a".to_string(), ValueKind::Number, "1"),
            ("s".to_string(), ValueKind::String, r#""x\ty""#),
            ("o".to_string(), ValueKind::Object, r#"{"k":[1, 2]}"#),
            ("t".to_string(), ValueKind::True, "true"),
            ("f".to_string(), ValueKind::False, "false"),
            ("n".to_string(), ValueKind::Null, "null"),
            ("neg".to_string(), ValueKind::Number, "-1.5e3"),
        ]
    );
    assert_eq!(Members::new("{}", 64).unwrap().count(), 0);
    assert_eq!(Members::new(" {\n} \t", 64).unwrap().count(), 0);
}

#[test]
fn keys_and_strings_are_unescaped_and_borrowed_when_they_can_be() {
    let text = r#"{"plain":"abc","ch\u0061nnel":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83e\udd80"}"#;
    let mut members = Members::new(text, 64).unwrap();
    let (key, value) = members.next().unwrap().unwrap();
    assert!(matches!(key, Cow::Borrowed("plain")));
    assert!(matches!(value.as_str(), Some(Cow::Borrowed("abc"))));
    let (key, value) = members.next().unwrap().unwrap();
    assert_eq!(key, "channel");
    assert!(matches!(key, Cow::Owned(_)));
    assert_eq!(
        value.as_str().as_deref(),
        Some("a\"b\\c/d\u{8}\u{c}\n\r\té🦀")
    );
    assert!(members.next().is_none());
}

#[test]
fn unescaping_agrees_with_serde_json() {
    let strings = [
        r#""""#,
        r#""\u0000""#,
        r#""\uffff\u0080\u07FF\u0800""#,
        r#""a\ud800\udc00b\udbff\udfffc""#,
        r#""\\\\\"\/""#,
        r#""é\nü""#,
    ];
    for s in strings {
        let text = format!("{{\"k\":{s}}}");
        let (_, value) = Members::new(&text, 64).unwrap().next().unwrap().unwrap();
        let expected: String = serde_json::from_str(s).unwrap();
        assert_eq!(value.as_str().unwrap(), expected, "{s}");
    }
}

#[test]
fn only_plain_integers_read_as_u64() {
    let text = r#"{"a":0,"b":18446744073709551615,"c":18446744073709551616,"d":-1,"e":1.0,"f":1e2,"g":"1","h":-0}"#;
    let read: Vec<_> = Members::new(text, 64)
        .unwrap()
        .map(|m| m.unwrap().1.as_u64())
        .collect();
    assert_eq!(
        read,
        [Some(0), Some(u64::MAX), None, None, None, None, None, None]
    );
}

#[test]
fn a_member_value_may_nest_max_depth_deep_the_object_not_counted() {
    let ok = format!("{{\"d\":{}}}", nested("[", "", "]", 64));
    let (_, value) = Members::new(&ok, 64).unwrap().next().unwrap().unwrap();
    assert_eq!(value.raw().len(), 128);
    let deep = format!("{{\"d\":{}}}", nested("[", "", "]", 65));
    let err = Members::new(&deep, 64)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!((err.at, err.expected), (5 + 64, "no deeper nesting"));
}

#[test]
fn members_report_syntax_errors_as_the_last_item() {
    let mut members = Members::new(r#"{"a":1,"b":[1,],"c":3}"#, 64).unwrap();
    assert!(members.next().unwrap().is_ok());
    let err = members.next().unwrap().unwrap_err();
    assert_eq!((err.at, err.expected), (14, "a value"));
    assert!(members.next().is_none(), "fused after an error");

    for (text, at, expected) in [
        (r#"{"a":1} x"#, 8, "the end"),
        (r#"{"a":1 "b":2}"#, 7, "',' or '}'"),
        (r#"{"a":1,}"#, 7, "a string key"),
        (r#"{"a"}"#, 4, "':'"),
        (r#"{"a":1"#, 6, "',' or '}'"),
        ("{", 1, "a string key"),
    ] {
        let err = Members::new(text, 64)
            .unwrap()
            .find_map(Result::err)
            .unwrap_or_else(|| panic!("{text} accepted"));
        assert_eq!((err.at, err.expected), (at, expected), "{text}");
    }
    for not_an_object in ["", "[]", "\"{\"", "1", " x{}"] {
        let err = Members::new(not_an_object, 64).unwrap_err();
        assert_eq!(err.expected, "an object", "{not_an_object}");
    }
}

#[test]
fn duplicate_keys_are_yielded_for_the_caller_to_judge() {
    let keys: Vec<_> = Members::new(r#"{"a":1,"a":2}"#, 64)
        .unwrap()
        .map(|m| m.unwrap().0.into_owned())
        .collect();
    assert_eq!(keys, ["a", "a"]);
}

use super::*;

const NOW: u64 = 1_700_000_000;

fn secret() -> Secret {
    Secret::new(*b"an example secret of 32 bytes!!!").unwrap()
}

fn pattern(text: &str) -> Pattern {
    Pattern::parse(text).unwrap_or_else(|| panic!("{text:?} is a pattern"))
}

fn claims(expires: u64, publish: &[&str], subscribe: &[&str]) -> Claims {
    Claims {
        expires,
        publish: publish.iter().map(|p| pattern(p)).collect(),
        subscribe: subscribe.iter().map(|p| pattern(p)).collect(),
    }
}

/// A token for the JSON bytes `json`, signed correctly, written independently of `mint`.
fn sign_bytes(secret: &Secret, json: &[u8]) -> String {
    let claims = URL_SAFE_NO_PAD.encode(json);
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha1(secret.bytes(), claims.as_bytes()));
    format!("{claims}.{signature}")
}

fn sign(json: &str) -> String {
    sign_bytes(&secret(), json.as_bytes())
}

fn verify_json(json: &str) -> Result<Claims, TokenError> {
    verify(&secret(), &sign(json), NOW)
}

fn malformed(json: &str) -> MalformedToken {
    match verify_json(json) {
        Err(TokenError::Malformed(why)) => why,
        other => panic!("{json}: expected Malformed, got {other:?}"),
    }
}

fn malformed_token(token: &str) -> MalformedToken {
    match verify(&secret(), token, NOW) {
        Err(TokenError::Malformed(why)) => why,
        other => panic!("{token}: expected Malformed, got {other:?}"),
    }
}

fn valid() -> String {
    mint(&secret(), &claims(NOW + 3600, &["room.42"], &["room.*"]))
}

// ===== the documented minting recipe =====

/// Made once by running the Python in the module documentation, with
/// `secret = b"an example secret of 32 bytes!!!"` and `"exp": 2000000000` in place of
/// `int(time.time()) + 3600`.
const PYTHON_TOKEN: &str = "eyJzdWIiOiBbInJvb20uKiJdLCAicHViIjogWyJyb29tLjQyIl0sICJleHAiOiAy\
MDAwMDAwMDAwfQ.r6fwT2cpsY38foAdbehy6XlyXcE";

#[test]
fn a_token_minted_by_the_documented_python_verifies() {
    let read = verify(&secret(), PYTHON_TOKEN, NOW).expect("the Python token verifies");
    assert_eq!(read, claims(2_000_000_000, &["room.42"], &["room.*"]));
    assert!(read.allows(Right::Subscribe, "room.7"));
    assert!(read.allows(Right::Publish, "room.42"));
    assert!(!read.allows(Right::Publish, "room.7"));
    assert_eq!(
        verify(&secret(), PYTHON_TOKEN, 2_000_000_000),
        Err(TokenError::Expired {
            expires: 2_000_000_000,
            now: 2_000_000_000
        })
    );
    let other = Secret::new(*b"another secret of 32 bytes!!!!!!").unwrap();
    assert_eq!(
        verify(&other, PYTHON_TOKEN, NOW),
        Err(TokenError::BadSignature)
    );
}

// ===== mint =====

#[test]
fn minted_tokens_verify_to_the_same_claims() {
    for c in [
        claims(NOW + 1, &["room.42"], &["room.*"]),
        claims(NOW + 1, &[], &["*"]),
        claims(NOW + 1, &["a", "b*", "*"], &[]),
        claims(u64::MAX, &[], &[]),
        claims(
            NOW + 1,
            &["x".repeat(128).as_str()],
            &[format!("{}*", "y".repeat(128)).as_str()],
        ),
    ] {
        let token = mint(&secret(), &c);
        assert_eq!(verify(&secret(), &token, NOW), Ok(c.clone()), "{token}");
        assert_eq!(token.split('.').nth(1).unwrap().len(), SIGNATURE_TEXT_LEN);
    }
}

#[test]
fn mint_writes_compact_json_leaving_out_empty_lists() {
    let json_of = |c: &Claims| {
        let token = mint(&secret(), c);
        let claims_text = token.split_once('.').unwrap().0;
        String::from_utf8(URL_SAFE_NO_PAD.decode(claims_text).unwrap()).unwrap()
    };
    assert_eq!(
        json_of(&claims(5, &["room.42", "a.*"], &["*"])),
        r#"{"exp":5,"pub":["room.42","a.*"],"sub":["*"]}"#
    );
    assert_eq!(json_of(&claims(5, &[], &["s"])), r#"{"exp":5,"sub":["s"]}"#);
    assert_eq!(json_of(&claims(5, &["p"], &[])), r#"{"exp":5,"pub":["p"]}"#);
    assert_eq!(json_of(&claims(0, &[], &[])), r#"{"exp":0}"#);
    // And the signature is HMAC-SHA1 over the claims text, as the recipe says.
    let c = claims(5, &["p"], &[]);
    assert_eq!(mint(&secret(), &c), sign(r#"{"exp":5,"pub":["p"]}"#));
}

// ===== the token's shape, before the signature =====

#[test]
fn a_token_without_a_dot_is_malformed() {
    let token = valid().replace('.', "");
    assert_eq!(malformed_token(&token), MalformedToken::NoDot);
    assert_eq!(malformed_token(""), MalformedToken::NoDot);
}

#[test]
fn a_token_with_two_dots_is_malformed() {
    let token = valid();
    assert_eq!(
        malformed_token(&format!("{token}.")),
        MalformedToken::TooManyDots
    );
    assert_eq!(
        malformed_token(&format!("x.{token}")),
        MalformedToken::TooManyDots
    );
    assert_eq!(malformed_token(".."), MalformedToken::TooManyDots);
}

#[test]
fn a_token_longer_than_the_limit_is_refused_before_anything_else() {
    // A correctly signed token of valid claims, just over: still TooLong, so the
    // length is checked before the signature and the claims.
    let mut json = format!(r#"{{"exp":{},"pad":""#, NOW + 60);
    while sign(&format!("{json}\"}}")).len() < MAX_TOKEN_LEN + 1 {
        json.push('x');
    }
    let over = sign(&format!("{json}\"}}"));
    assert!(over.len() > MAX_TOKEN_LEN, "{}", over.len());
    assert_eq!(verify(&secret(), &over, NOW), Err(TokenError::TooLong));
    // No dot, no base64, a megabyte: TooLong, not NoDot or BadBase64.
    assert_eq!(
        verify(&secret(), &"!".repeat(1 << 20), NOW),
        Err(TokenError::TooLong)
    );
    // At the limit the other checks run.
    json.pop();
    let at = sign(&format!("{json}\"}}"));
    assert!(at.len() <= MAX_TOKEN_LEN, "{}", at.len());
    assert!(verify(&secret(), &at, NOW).is_ok());
    assert_eq!(
        malformed_token(&"a".repeat(MAX_TOKEN_LEN)),
        MalformedToken::NoDot
    );
}

#[test]
fn a_truncated_token_never_verifies() {
    let token = valid();
    let dot = token.find('.').unwrap();
    for end in 0..token.len() {
        let result = verify(&secret(), &token[..end], NOW);
        match result {
            Err(TokenError::Malformed(MalformedToken::NoDot)) => assert!(end <= dot),
            // The signature cut short.
            Err(TokenError::Malformed(MalformedToken::BadSignatureLength { chars })) => {
                assert_eq!(chars, end - dot - 1)
            }
            other => panic!("{end}: {other:?}"),
        }
    }
    // The claims cut short, the signature whole: the signature no longer matches.
    let (claims_text, signature) = token.split_once('.').unwrap();
    let cut = format!("{}.{signature}", &claims_text[..claims_text.len() - 1]);
    assert_eq!(verify(&secret(), &cut, NOW), Err(TokenError::BadSignature));
}

#[test]
fn a_signature_of_the_wrong_length_is_malformed() {
    let token = valid();
    let (claims_text, signature) = token.split_once('.').unwrap();
    assert_eq!(
        malformed_token(&format!("{claims_text}.")),
        MalformedToken::BadSignatureLength { chars: 0 }
    );
    assert_eq!(
        malformed_token(&format!("{claims_text}.{signature}A")),
        MalformedToken::BadSignatureLength { chars: 28 }
    );
    // 32 bytes of HMAC-SHA256 in base64url: 43 characters.
    assert_eq!(
        malformed_token(&format!("{claims_text}.{}", "A".repeat(43))),
        MalformedToken::BadSignatureLength { chars: 43 }
    );
}

#[test]
fn non_base64url_characters_are_malformed() {
    let token = valid();
    let (claims_text, signature) = token.split_once('.').unwrap();
    for bad in ['+', '/', '!', ' ', '%', 'é', '\0'] {
        let mut sig: Vec<char> = signature.chars().collect();
        sig[5] = bad;
        let sig: String = sig.into_iter().collect();
        assert_eq!(
            malformed_token(&format!("{claims_text}.{sig}")),
            MalformedToken::BadBase64(TokenPart::Signature),
            "{bad:?}"
        );
    }
    // Standard base64 instead of base64url, in claims that are signed as sent.
    let claims_text = base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(br#"{"exp":2000000000,"sub":["??>"]}"#);
    assert!(claims_text.contains('/') || claims_text.contains('+'));
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha1(secret().bytes(), claims_text.as_bytes()));
    assert_eq!(
        malformed_token(&format!("{claims_text}.{signature}")),
        MalformedToken::BadBase64(TokenPart::Claims)
    );
}

#[test]
fn a_last_character_no_encoder_writes_is_malformed() {
    // 27 characters carry 162 bits for 160: the last character's 2 low bits are zero in
    // every encoding, and setting them is refused rather than read as the same signature.
    let token = valid();
    let (claims_text, signature) = token.split_once('.').unwrap();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = signature.as_bytes()[26];
    let value = alphabet.iter().position(|&c| c == last).unwrap();
    assert_eq!(value & 3, 0);
    let sibling = alphabet[value | 1] as char;
    let altered = format!("{claims_text}.{}{sibling}", &signature[..26]);
    assert_eq!(
        malformed_token(&altered),
        MalformedToken::BadBase64(TokenPart::Signature)
    );
    // A claims text whose length no encoding has (1 more than a multiple of 4), signed.
    let claims_text = format!("{}A", URL_SAFE_NO_PAD.encode(br#"{"exp":2000000000}"#));
    assert_eq!(claims_text.len() % 4, 1);
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha1(secret().bytes(), claims_text.as_bytes()));
    assert_eq!(
        malformed_token(&format!("{claims_text}.{signature}")),
        MalformedToken::BadBase64(TokenPart::Claims)
    );
}

#[test]
fn padding_is_malformed() {
    // What a backend that forgot `.rstrip(b"=")` sends.
    let padded = base64::engine::general_purpose::URL_SAFE;
    let json = br#"{"exp":20000000000}"#;
    let claims_text = padded.encode(json);
    assert!(claims_text.ends_with('='));
    let mac = hmac_sha1(secret().bytes(), claims_text.as_bytes());
    let sig_padded = padded.encode(mac);
    assert!(sig_padded.ends_with('='));
    assert_eq!(
        malformed_token(&format!("{claims_text}.{sig_padded}")),
        MalformedToken::Padded(TokenPart::Signature)
    );
    // Only the claims padded (and signed so): found after the signature is checked.
    let sig = URL_SAFE_NO_PAD.encode(mac);
    assert_eq!(
        malformed_token(&format!("{claims_text}.{sig}")),
        MalformedToken::Padded(TokenPart::Claims)
    );
}

// ===== the signature =====

#[test]
fn a_flipped_character_in_the_claims_breaks_the_signature() {
    let token = valid();
    let dot = token.find('.').unwrap();
    for i in 0..dot {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            verify(&secret(), &altered, NOW),
            Err(TokenError::BadSignature),
            "position {i}"
        );
    }
}

#[test]
fn a_flipped_character_in_the_signature_breaks_it() {
    let token = valid();
    let dot = token.find('.').unwrap();
    for i in dot + 1..token.len() {
        // `A` and `Q` differ in a bit every position uses, the last one included.
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'Q' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            verify(&secret(), &altered, NOW),
            Err(TokenError::BadSignature),
            "position {i}"
        );
    }
}

#[test]
fn a_token_signed_with_another_secret_is_refused() {
    let other = Secret::new(*b"a different secret, also long").unwrap();
    let token = mint(&other, &claims(NOW + 60, &["a"], &["a"]));
    assert_eq!(
        verify(&secret(), &token, NOW),
        Err(TokenError::BadSignature)
    );
    assert!(verify(&other, &token, NOW).is_ok());
}

#[test]
fn the_claims_are_read_only_after_the_signature_is_checked() {
    // Claims that are not even base64, JSON or UTF-8, unsigned: BadSignature, so a forger
    // learns nothing about the parser.
    for claims_text in ["e30", "bm90IGpzb24", "_w", "AAAA"] {
        let token = format!("{claims_text}.{}", "A".repeat(SIGNATURE_TEXT_LEN));
        assert_eq!(
            verify(&secret(), &token, NOW),
            Err(TokenError::BadSignature),
            "{claims_text}"
        );
    }
}

// ===== expiry =====

#[test]
fn a_token_is_valid_until_the_second_it_expires() {
    let token = mint(&secret(), &claims(NOW, &[], &["a"]));
    assert!(verify(&secret(), &token, NOW - 1).is_ok());
    assert_eq!(
        verify(&secret(), &token, NOW),
        Err(TokenError::Expired {
            expires: NOW,
            now: NOW
        })
    );
    assert_eq!(
        verify(&secret(), &token, u64::MAX),
        Err(TokenError::Expired {
            expires: NOW,
            now: u64::MAX
        })
    );
    let never = mint(&secret(), &claims(0, &[], &[]));
    assert!(matches!(
        verify(&secret(), &never, 0),
        Err(TokenError::Expired { expires: 0, now: 0 })
    ));
}

#[test]
fn expiry_must_be_a_non_negative_integer() {
    assert_eq!(malformed(r#"{"sub":["a"]}"#), MalformedToken::MissingExpiry);
    assert_eq!(malformed(r#"{}"#), MalformedToken::MissingExpiry);
    for exp in [
        "1.5",
        "2000000000.0",
        "2e9",
        "2E9",
        "\"2000000000\"",
        "true",
        "null",
        "[2000000000]",
        "{}",
    ] {
        assert_eq!(
            malformed(&format!(r#"{{"exp":{exp}}}"#)),
            MalformedToken::ExpiryNotInteger,
            "{exp}"
        );
    }
    for exp in ["-1", "-0", "-2000000000"] {
        assert_eq!(
            malformed(&format!(r#"{{"exp":{exp}}}"#)),
            MalformedToken::ExpiryNegative,
            "{exp}"
        );
    }
    for exp in ["18446744073709551616", "99999999999999999999999999"] {
        assert_eq!(
            malformed(&format!(r#"{{"exp":{exp}}}"#)),
            MalformedToken::ExpiryTooLarge,
            "{exp}"
        );
    }
    let max = verify_json(&format!(r#"{{"exp":{}}}"#, u64::MAX)).unwrap();
    assert_eq!(max.expires, u64::MAX);
}

// ===== the claims' JSON =====

#[test]
fn claims_that_are_not_json_are_malformed() {
    for json in [
        "",
        "not json",
        "{",
        r#"{"exp":2000000000"#,
        r#"{"exp":2000000000,}"#,
        r#"{"exp":02000000000}"#,
        r#"{'exp':2000000000}"#,
        r#"{"exp":2000000000} trailing"#,
        r#"{"exp":2000000000,"x":NaN}"#,
        "{\"exp\":2000000000,\"x\":\"raw\ttab\"}",
    ] {
        assert!(
            matches!(malformed(json), MalformedToken::BadJson { .. }),
            "{json:?}"
        );
    }
    assert_eq!(
        malformed(r#"{"exp" 1}"#),
        MalformedToken::BadJson {
            offset: 7,
            expected: "':' after an object key"
        }
    );
}

#[test]
fn a_json_error_anywhere_wins_over_what_the_keys_say() {
    // The whole text is JSON-checked first: a bad `exp` before a syntax error is still
    // reported as the syntax error.
    for json in [
        r#"{"exp":"soon","x":}"#,
        r#"{"pub":"a","exp":1,"#,
        r#"{"exp":1,"exp":2,]"#,
    ] {
        assert!(
            matches!(malformed(json), MalformedToken::BadJson { .. }),
            "{json}"
        );
    }
}

#[test]
fn claims_that_are_not_utf8_are_malformed() {
    let token = sign_bytes(&secret(), b"{\"exp\":2000000000,\"user\":\"\xff\"}");
    assert_eq!(malformed_token(&token), MalformedToken::NotUtf8);
}

#[test]
fn json_that_is_not_an_object_is_malformed() {
    for json in [
        "[]",
        "[2000000000]",
        "2000000000",
        "\"exp\"",
        "null",
        " true ",
    ] {
        assert_eq!(malformed(json), MalformedToken::NotAnObject, "{json}");
    }
}

#[test]
fn unknown_keys_are_ignored_whatever_their_values() {
    let read = verify_json(
        r#" { "iat" : 1699990000, "user": {"id": 7, "roles": ["a", {"b": [null, true, false]}]},
             "exp": 2000000000, "note": "caf\u00e9 \"quoted\" \ud83d\ude00 \ud800",
             "n": -1.25e-3, "sub": ["room.*"], "empty": {}, "list": [] } "#,
    )
    .unwrap();
    assert_eq!(read, claims(2_000_000_000, &[], &["room.*"]));
    // An unknown key twice is not the format's business.
    assert!(verify_json(r#"{"exp":2000000000,"x":1,"x":2}"#).is_ok());
}

#[test]
fn nesting_deeper_than_the_bound_is_malformed() {
    // The claims object is level 1, so an unknown value may open 15 more levels.
    let nested = |levels: usize| {
        format!(
            r#"{{"exp":2000000000,"x":{}{}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    assert!(verify_json(&nested(MAX_JSON_DEPTH - 1)).is_ok());
    assert_eq!(malformed(&nested(MAX_JSON_DEPTH)), MalformedToken::TooDeep);
}

#[test]
fn a_key_the_format_reads_given_twice_is_malformed() {
    for (json, key) in [
        (r#"{"exp":2000000000,"exp":2000000001}"#, "exp"),
        (r#"{"exp":2000000000,"pub":[],"pub":["a"]}"#, "pub"),
        (r#"{"sub":["a"],"exp":2000000000,"sub":["b"]}"#, "sub"),
        // The same key spelled with an escape is the same key.
        (r#"{"exp":2000000000,"\u0065xp":2000000001}"#, "exp"),
    ] {
        assert_eq!(malformed(json), MalformedToken::DuplicateKey(key), "{json}");
    }
}

#[test]
fn escapes_in_strings_are_decoded_before_they_are_read() {
    let read = verify_json(r#"{"\u0065xp":2000000000,"\u0073ub":["\u0072oom.*"],"pub":["a\/b"]}"#);
    // `\/` is `/`, which no pattern may contain.
    assert_eq!(
        read,
        Err(TokenError::Malformed(MalformedToken::BadPattern {
            right: Right::Publish,
            index: 0
        }))
    );
    let read = verify_json(r#"{"\u0065xp":2000000000,"\u0073ub":["\u0072oom.*"]}"#).unwrap();
    assert_eq!(read.subscribe, [pattern("room.*")]);
    assert!(read.allows(Right::Subscribe, "room.1"));
}

// ===== patterns =====

#[test]
fn bad_patterns_are_malformed_naming_their_list_and_place() {
    let long = "x".repeat(MAX_CHANNEL_NAME + 1);
    let long_prefix = format!("{long}*");
    for bad in [
        "room*x",
        "",
        long.as_str(),
        long_prefix.as_str(),
        "room/1",
        "room 1",
        "café",
        "**",
        "*x",
        "room.**",
        "a*b*",
        "\u{fffd}",
    ] {
        assert_eq!(Pattern::parse(bad), None, "{bad:?}");
        let json = format!(
            r#"{{"exp":2000000000,"sub":["ok"],"pub":["ok",{}]}}"#,
            json_string(bad)
        );
        assert_eq!(
            malformed(&json),
            MalformedToken::BadPattern {
                right: Right::Publish,
                index: 1
            },
            "{bad:?}"
        );
    }
    // A lone surrogate cannot sneak into a name.
    assert_eq!(
        malformed(r#"{"exp":2000000000,"sub":["room\ud800"]}"#),
        MalformedToken::BadPattern {
            right: Right::Subscribe,
            index: 0
        }
    );
}

/// `s` as a JSON string literal (for the few characters these tests use).
fn json_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn patterns_must_be_strings_in_an_array() {
    for value in [r#""room.*""#, "{}", "1", "null", "true"] {
        assert_eq!(
            malformed(&format!(r#"{{"exp":2000000000,"sub":{value}}}"#)),
            MalformedToken::NotAnArray(Right::Subscribe),
            "{value}"
        );
    }
    for element in ["1", "null", "[\"a\"]", "{}", "true"] {
        assert_eq!(
            malformed(&format!(r#"{{"exp":2000000000,"pub":["a",{element}]}}"#)),
            MalformedToken::PatternNotAString {
                right: Right::Publish,
                index: 1
            },
            "{element}"
        );
    }
}

#[test]
fn a_list_holds_at_most_the_limit_of_patterns() {
    let list = |n: usize| {
        let items: Vec<String> = (0..n).map(|i| format!("\"c{i}\"")).collect();
        format!(r#"{{"exp":2000000000,"sub":[{}]}}"#, items.join(","))
    };
    let read = verify_json(&list(MAX_PATTERNS)).unwrap();
    assert_eq!(read.subscribe.len(), MAX_PATTERNS);
    assert_eq!(
        malformed(&list(MAX_PATTERNS + 1)),
        MalformedToken::TooManyPatterns(Right::Subscribe)
    );
    // Empty lists are allowed: no rights of that kind.
    let read = verify_json(r#"{"exp":2000000000,"pub":[],"sub":[]}"#).unwrap();
    assert_eq!(read, claims(2_000_000_000, &[], &[]));
}

#[test]
fn patterns_match_exactly_by_prefix_or_everything() {
    let exact = pattern("room.42");
    assert!(exact.matches("room.42"));
    for other in ["room.4", "room.420", "room.42.x", "Room.42", ""] {
        assert!(!exact.matches(other), "{other}");
    }
    let prefix = pattern("room.*");
    for name in ["room.", "room.1", "room.a.b", "room.*"] {
        assert!(prefix.matches(name), "{name}");
    }
    for name in ["room", "rooms.1", "xroom.1", "ROOM.1"] {
        assert!(!prefix.matches(name), "{name}");
    }
    // `room*` covers `room` itself and everything starting with it.
    let bare = pattern("room*");
    assert!(bare.matches("room") && bare.matches("rooms") && !bare.matches("roo"));
    let star = pattern("*");
    for name in ["a", "room.1", &"z".repeat(128)] {
        assert!(star.matches(name), "{name}");
    }
    // The longest forms.
    let name = "n".repeat(MAX_CHANNEL_NAME);
    assert!(pattern(&name).matches(&name));
    assert!(pattern(&format!("{name}*")).matches(&name));
}

#[test]
fn patterns_are_written_back_as_parsed() {
    for text in ["room.42", "room.*", "room*", "*", "a-b_c.D9"] {
        let p = pattern(text);
        assert_eq!(p.to_string(), text);
        assert_eq!(Pattern::parse(&p.to_string()), Some(p));
    }
}

#[test]
fn rights_are_separate() {
    let pub_only = verify_json(r#"{"exp":2000000000,"pub":["room.*"]}"#).unwrap();
    assert!(pub_only.allows(Right::Publish, "room.1"));
    assert!(!pub_only.allows(Right::Subscribe, "room.1"));
    let sub_only = verify_json(r#"{"exp":2000000000,"sub":["*"]}"#).unwrap();
    assert!(sub_only.allows(Right::Subscribe, "anything"));
    assert!(!sub_only.allows(Right::Publish, "anything"));
    let none = verify_json(r#"{"exp":2000000000}"#).unwrap();
    assert!(!none.allows(Right::Publish, "a") && !none.allows(Right::Subscribe, "a"));
    assert_eq!(Right::Publish.to_string(), "publish");
    assert_eq!(Right::Subscribe.to_string(), "subscribe");
    assert_eq!(sub_only.patterns(Right::Subscribe), [pattern("*")]);
    assert!(sub_only.patterns(Right::Publish).is_empty());
}

// ===== Secret =====

#[test]
fn a_secret_is_at_least_16_bytes() {
    assert_eq!(
        Secret::new(*b"fifteen bytes!!").unwrap_err(),
        SecretError::TooShort { len: 15 }
    );
    assert_eq!(
        Secret::new(Vec::new()).unwrap_err(),
        SecretError::TooShort { len: 0 }
    );
    assert!(Secret::new(*b"sixteen bytes!!!").is_ok());
    let text = SecretError::TooShort { len: 3 }.to_string();
    assert!(
        text.contains("3 bytes") && text.contains("at least 16"),
        "{text}"
    );
}

#[test]
fn a_secret_file_loses_one_trailing_newline_and_nothing_else() {
    let key = b"0123456789abcdef0123456789abcdef";
    let token_of = |contents: &[u8]| {
        let s = Secret::from_file_contents(contents).unwrap();
        mint(&s, &claims(NOW + 1, &[], &["a"]))
    };
    let plain = token_of(key);
    assert_eq!(token_of(b"0123456789abcdef0123456789abcdef\n"), plain);
    assert_eq!(token_of(b"0123456789abcdef0123456789abcdef\r\n"), plain);
    // Only one: a second newline, or other whitespace, is part of the key.
    assert_ne!(token_of(b"0123456789abcdef0123456789abcdef\n\n"), plain);
    assert_ne!(token_of(b"0123456789abcdef0123456789abcdef "), plain);
    assert_ne!(token_of(b" 0123456789abcdef0123456789abcdef"), plain);
    assert_eq!(
        Secret::from_file_contents(b"fifteen bytes!!\n").unwrap_err(),
        SecretError::TooShort { len: 15 }
    );
    assert_eq!(
        Secret::from_file_contents(b"\n").unwrap_err(),
        SecretError::TooShort { len: 0 }
    );
}

#[test]
fn a_secret_never_shows_its_bytes() {
    let s = Secret::new(*b"super secret value 123").unwrap();
    assert_eq!(format!("{s:?}"), "Secret(..)");
    assert_eq!(format!("{s:#?}"), "Secret(..)");
}

// ===== messages =====

#[test]
fn error_messages_are_readable_and_never_contain_the_token_or_secret() {
    let secret_text = "an example secret of 32 bytes!!!";
    let token = valid();
    let (claims_text, signature) = token.split_once('.').unwrap();
    let cases: Vec<(String, &str)> = vec![
        ("x".repeat(MAX_TOKEN_LEN + 1), "too long"),
        (token.replace('.', ""), "no '.'"),
        (format!("{token}."), "more than one '.'"),
        (format!("{claims_text}.{signature}="), "padding"),
        (
            format!("{claims_text}.{}", &signature[1..]),
            "26 characters",
        ),
        (format!("{claims_text}.+{}", &signature[1..]), "base64url"),
        (format!("A{claims_text}.{signature}"), "signature"),
        (token.clone(), "expired"),
        (sign(r#"{"exp":1,"sub":["a b"]}"#), "not a channel pattern"),
        (sign(r#"{"exp":1,"exp":1}"#), "\"exp\" twice"),
        (sign(r#"{"sub":[]}"#), "no \"exp\""),
        (sign(r#"{"exp":1.5}"#), "not an integer"),
        (sign(r#"{"exp":1,"#), "not JSON"),
        (sign("[1]"), "not a JSON object"),
    ];
    for (bad, expected) in cases {
        let now = if expected == "expired" { u64::MAX } else { NOW };
        let text = verify(&secret(), &bad, now).unwrap_err().to_string();
        assert!(text.contains(expected), "{text:?} lacks {expected:?}");
        assert!(!text.contains(secret_text), "{text}");
        assert!(
            !text.contains(claims_text) && !text.contains(signature),
            "{text}"
        );
        let (bad_claims, bad_signature) = bad.split_once('.').unwrap_or((&bad, ""));
        for part in [bad_claims, bad_signature] {
            assert!(part.len() < 8 || !text.contains(part), "{text}");
        }
    }
}

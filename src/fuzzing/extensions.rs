//! `extensions`: the `Sec-WebSocket-Extensions` grammar ([`crate::ws::extension`]) and
//! permessage-deflate negotiation ([`crate::ws::permessage_deflate`]) on hostile header
//! values, from both sides.

use crate::http::token::is_tchar;
use crate::ws::extension::{Extension, split_list};
use crate::ws::permessage_deflate::{
    Agreement, ClientWindowOffer, DeflateConfig, DeflateOffer, EXTENSION_NAME, WindowBits,
    negotiate, validate_response,
};

use super::Reader;

/// Is `element` (OWS-trimmed, as `split_list` yields it) an `extension` of RFC 6455
/// §9.1? A byte-at-a-time automaton, written independently of [`Extension::parse`]
/// (which splits at `;` and `=` and trims): OWS may stand around `;` and `=`, a value is
/// a token or a non-empty quoted-string of tchars and `\`-escaped tchars.
fn reference_is_extension(element: &[u8]) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum At {
        Start,
        Name,
        AfterName,
        BeforeParam,
        ParamName,
        AfterParamName,
        BeforeValue,
        Token,
        QuoteOpened,
        Quoted,
        Escaped,
        AfterValue,
    }
    let ows = |b: u8| b == b' ' || b == b'\t';
    let mut at = At::Start;
    for &b in element {
        at = match (at, b) {
            (At::Start | At::Name, b) if is_tchar(b) => At::Name,
            (At::Name | At::AfterName, b) if ows(b) => At::AfterName,
            (At::BeforeParam | At::ParamName, b) if is_tchar(b) => At::ParamName,
            (At::BeforeParam, b) if ows(b) => At::BeforeParam,
            (At::ParamName | At::AfterParamName, b) if ows(b) => At::AfterParamName,
            (At::ParamName | At::AfterParamName, b'=') => At::BeforeValue,
            (At::BeforeValue, b) if ows(b) => At::BeforeValue,
            (At::BeforeValue | At::Token, b) if is_tchar(b) => At::Token,
            (At::BeforeValue, b'"') => At::QuoteOpened,
            (At::QuoteOpened | At::Quoted, b'\\') => At::Escaped,
            (At::QuoteOpened | At::Quoted | At::Escaped, b) if is_tchar(b) => At::Quoted,
            (At::Quoted, b'"') => At::AfterValue,
            (At::Token | At::AfterValue, b) if ows(b) => At::AfterValue,
            (
                At::Name
                | At::AfterName
                | At::ParamName
                | At::AfterParamName
                | At::Token
                | At::AfterValue,
                b';',
            ) => At::BeforeParam,
            _ => return false,
        };
    }
    matches!(
        at,
        At::Name | At::AfterName | At::ParamName | At::AfterParamName | At::Token | At::AfterValue
    )
}

/// The server policy and the client offer a config byte selects: bit 7 off → full,
/// on → memory-light; bits 0–2 and 3–5 the server's and the client's window (8 + n);
/// bit 6 disables compression. The client's offer takes its flags from the same bits.
fn configs(byte: u8) -> (DeflateConfig, DeflateOffer) {
    let mut config = if byte & 0x80 == 0 {
        DeflateConfig::full()
    } else {
        DeflateConfig::memory_light()
    };
    let window = |n: u8| WindowBits::new(8 + (n & 7)).expect("8..=15");
    config.max_server_window_bits = window(byte);
    config.client_window_bits = window(byte >> 3);
    config.enabled = byte & 0x40 == 0;
    let offer = DeflateOffer {
        server_no_context_takeover: byte & 1 != 0,
        client_no_context_takeover: byte & 2 != 0,
        server_max_window_bits: (byte & 4 != 0).then(|| window(byte >> 3)),
        client_max_window_bits: match (byte >> 6) & 3 {
            0 => ClientWindowOffer::NotOffered,
            1 => ClientWindowOffer::Supported,
            _ => ClientWindowOffer::AtMost(window(byte)),
        },
    };
    (config, offer)
}

/// Each side's decompressor can read what the other's compressor writes.
fn assert_compatible(server: &Agreement, client: &Agreement) {
    for (sender, receiver) in [(server, client), (client, server)] {
        assert!(sender.compressor.window_bits <= receiver.decompressor.window_bits);
        assert!(!sender.compressor.context_takeover || receiver.decompressor.context_takeover);
    }
}

/// **extensions** — the extension list grammar and permessage-deflate negotiation.
///
/// Input: `[config: u8] [header value ...]`; the config byte picks the server's policy
/// and a client's offer (see [`configs`]).
///
/// Invariants: nothing panics; [`negotiate`] fails exactly when some list element is not
/// an `extension` by an independent automaton of §9.1; every parsed element, written back
/// with its values unescaped, parses to the same name and parameters; an agreement is
/// what [`DeflateConfig::accept`] gives for the first permessage-deflate offer that
/// parses, its response parses back to itself, and the client that made that offer
/// accepts it with a compatible agreement (each decompressor reads what the other
/// compressor writes); `Ok(None)` with compression enabled means no offer parses. The
/// same bytes as a server's *response* to the config's offer are accepted only if they
/// hold exactly one element, permessage-deflate, and then keep the client's hint and the
/// server window it asked for.
pub fn extensions(data: &[u8]) {
    let mut input = Reader { data };
    let (config, client) = configs(input.u8());
    let value = input.rest();

    // The grammar, against the reference.
    let mut well_formed = true;
    for element in split_list(value) {
        let parsed = Extension::parse(element);
        assert_eq!(
            parsed.is_ok(),
            reference_is_extension(element),
            "{:?}: {parsed:?}",
            element.escape_ascii().to_string()
        );
        well_formed &= parsed.is_ok();
        if let Ok(extension) = parsed {
            let mut written = extension.name().to_owned();
            for param in extension.params() {
                written.push_str("; ");
                written.push_str(param.name);
                if let Some(value) = param.value {
                    written.push_str(&format!("={value}"));
                }
            }
            let again = Extension::parse(written.as_bytes()).expect("written back well-formed");
            assert_eq!(again.name(), extension.name());
            assert!(
                again
                    .params()
                    .map(|p| (p.name, p.value.map(|v| v.to_string())))
                    .eq(extension
                        .params()
                        .map(|p| (p.name, p.value.map(|v| v.to_string())))),
                "{written}"
            );
        }
    }

    // The server's side.
    let negotiated = negotiate(split_list(value), &config);
    assert_eq!(negotiated.is_ok(), well_formed, "{negotiated:?}");
    let first_offer = split_list(value)
        .filter_map(|element| Extension::parse(element).ok())
        .filter(|extension| extension.name() == EXTENSION_NAME)
        .find_map(|extension| DeflateOffer::parse(&extension).ok());
    match negotiated {
        Ok(Some(server)) => {
            assert!(config.enabled);
            let offer = first_offer.expect("an agreement comes from an offer");
            assert_eq!(server, config.accept(&offer));
            let mut response = Vec::new();
            server.write_response(&mut response);
            let client = validate_response(&response, &offer)
                .unwrap_or_else(|e| panic!("{offer:?}: {e}"))
                .expect("an answer");
            assert_eq!(client.response(), server.response());
            assert_compatible(&server, &client);
        }
        Ok(None) => assert!(!config.enabled || first_offer.is_none()),
        Err(_) => {}
    }

    // The client's side: the same bytes as the server's answer.
    if let Ok(Some(agreement)) = validate_response(value, &client) {
        let mut elements = split_list(value);
        let only = elements.next().map(Extension::parse);
        assert!(matches!(only, Some(Ok(e)) if e.name() == EXTENSION_NAME));
        assert!(elements.next().is_none());
        if let ClientWindowOffer::AtMost(hint) = client.client_max_window_bits {
            assert!(agreement.compressor.window_bits <= hint);
        }
        if let Some(max) = client.server_max_window_bits {
            assert!(agreement.decompressor.window_bits <= max);
        }
        assert!(!client.client_no_context_takeover || !agreement.compressor.context_takeover);
        assert!(!client.server_no_context_takeover || !agreement.decompressor.context_takeover);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_automaton_agrees_with_the_grammar_tests() {
        for good in [
            &b"permessage-deflate"[..],
            b"permessage-deflate; client_max_window_bits",
            b"a ; b = \"c\\d\" ;e=f",
        ] {
            assert!(reference_is_extension(good));
        }
        for bad in [
            &b""[..],
            b";",
            b"a;",
            b"a; =1",
            b"a; b=",
            b"a; b=\"\"",
            b"a; b c",
        ] {
            assert!(!reference_is_extension(bad), "{}", bad.escape_ascii());
        }
    }
}

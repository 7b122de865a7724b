//! `pushwire client URL`: its options, and the check that the URL is one the client can
//! connect to.

use pushwire::client::{ClientError, WsUrl};
use pushwire::http::token::is_token;

use super::Command;
use super::error::{CliError, ErrorKind, Usage, err};
use super::help::client_help;
use super::options::{Arg, OptSpec, bad_value, next_arg};

/// An option of `pushwire client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientOpt {
    Protocol,
    Origin,
    Trace,
    Deflate,
}

const EXPECT_PROTOCOL: &str = "a subprotocol name that is an HTTP token (letters, digits and \
     !#$%&'*+-.^_`|~), e.g. chat; repeat the option to offer several";
const EXPECT_PROTOCOL_UNIQUE: &str = "each subprotocol once (RFC 6455 section 4.1)";
const EXPECT_CLIENT_ORIGIN: &str =
    "a non-empty origin of visible ASCII characters, e.g. https://example.com";
const EXPECT_URL: &str = "expected ws://host[:port]/path, e.g. ws://127.0.0.1:9001/";
const WSS_NO_TLS: &str = "wss:// needs TLS, which pushwire does not implement";

pub(super) const CLIENT_OPTIONS: &[OptSpec<ClientOpt>] = &[
    OptSpec {
        name: "--protocol",
        opt: ClientOpt::Protocol,
        expected: Some(EXPECT_PROTOCOL),
    },
    OptSpec {
        name: "--origin",
        opt: ClientOpt::Origin,
        expected: Some(EXPECT_CLIENT_ORIGIN),
    },
    OptSpec {
        name: "--trace",
        opt: ClientOpt::Trace,
        expected: None,
    },
    OptSpec {
        name: "--deflate",
        opt: ClientOpt::Deflate,
        expected: None,
    },
];

/// The options and URL after `pushwire client`.
pub(super) fn parse_client(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let mut url: Option<String> = None;
    let mut protocols: Vec<String> = Vec::new();
    let mut origin: Option<String> = None;
    let mut trace = false;
    let mut deflate = false;

    while let Some(arg) = next_arg(&mut args, Usage::Client, CLIENT_OPTIONS)? {
        let (spec, value) = match arg {
            Arg::Positional(arg) => {
                if url.is_some() {
                    return Err(err(Usage::Client, ErrorKind::UnexpectedArgument { arg }));
                }
                url = Some(arg);
                continue;
            }
            Arg::Help => return Ok(Command::Help(client_help())),
            Arg::Version => return Ok(Command::Version),
            Arg::Opt(spec, value) => (spec, value),
        };
        match spec.opt {
            ClientOpt::Protocol => {
                if !is_token(value.as_bytes()) {
                    return Err(bad_value(Usage::Client, spec, &value));
                }
                if protocols.contains(&value) {
                    return Err(err(
                        Usage::Client,
                        ErrorKind::BadValue {
                            option: spec.name,
                            value,
                            expected: EXPECT_PROTOCOL_UNIQUE,
                        },
                    ));
                }
                protocols.push(value);
            }
            ClientOpt::Origin => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(bad_value(Usage::Client, spec, &value));
                }
                origin = Some(value);
            }
            ClientOpt::Trace => trace = true,
            ClientOpt::Deflate => deflate = true,
        }
    }

    // Checked after the options, so that `--help` wins over a bad URL.
    let Some(url) = url else {
        return Err(err(
            Usage::Client,
            ErrorKind::MissingArgument { what: "URL" },
        ));
    };
    let url =
        check_url(&url).map_err(|reason| err(Usage::Client, ErrorKind::BadUrl { url, reason }))?;
    Ok(Command::Client {
        url,
        protocols,
        origin,
        trace,
        deflate,
    })
}

/// Checks that `url` is a `ws://` URL the client can connect to, and returns it with its
/// scheme in lowercase (schemes are case-insensitive, RFC 3986 §3.1); else the reason.
fn check_url(url: &str) -> Result<String, String> {
    let scheme = |prefix: &str| {
        url.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    if scheme("wss://") {
        return Err(WSS_NO_TLS.to_string());
    }
    if !scheme("ws://") {
        return Err(EXPECT_URL.to_string());
    }
    let url = format!("ws://{}", &url["ws://".len()..]);
    match WsUrl::parse(&url) {
        Ok(_) => Ok(url),
        Err(ClientError::BadUrl(message)) => {
            // The library's message is `"URL": reason`; the URL is already in ours.
            let reason = message
                .strip_prefix(&format!("{url:?}: "))
                .unwrap_or(&message);
            Err(format!("{reason}; {EXPECT_URL}"))
        }
        Err(other) => Err(format!("{other}; {EXPECT_URL}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::testing::{client, client_err, help_text, run};

    #[test]
    fn client_url_only() {
        let (url, protocols, origin, trace) = client(&["ws://127.0.0.1:9001/"]);
        assert_eq!(url, "ws://127.0.0.1:9001/");
        assert!(protocols.is_empty());
        assert_eq!(origin, None);
        assert!(!trace);
        // the URL is passed through as given (apart from the scheme's case)
        assert_eq!(client(&["ws://example.com"]).0, "ws://example.com");
        assert_eq!(
            client(&["ws://[::1]:8080/chat?room=1"]).0,
            "ws://[::1]:8080/chat?room=1"
        );
        assert_eq!(
            client(&["WS://Example.com:80/x"]).0,
            "ws://Example.com:80/x"
        );
    }

    #[test]
    fn client_options() {
        let (url, protocols, origin, trace) = client(&[
            "--protocol",
            "chat",
            "ws://h:1/p",
            "--protocol=v2.json",
            "--origin",
            "https://a.example",
            "--trace",
        ]);
        assert_eq!(url, "ws://h:1/p");
        assert_eq!(protocols, ["chat", "v2.json"]);
        assert_eq!(origin.as_deref(), Some("https://a.example"));
        assert!(trace);
        // `=` forms; a later --origin overrides; every tchar is accepted in a protocol
        let (_, protocols, origin, trace) = client(&[
            "--origin=http://x",
            "--origin=https://y.example:8443",
            "--protocol=!#$%&'*+-.^_`|~09azAZ",
            "ws://h/",
        ]);
        assert_eq!(protocols, ["!#$%&'*+-.^_`|~09azAZ"]);
        assert_eq!(origin.as_deref(), Some("https://y.example:8443"));
        assert!(!trace);
        // `--origin=` keeps later `=` signs; `null` is an origin
        assert_eq!(
            client(&["--origin=https://x/?a=b", "ws://h/"]).2.as_deref(),
            Some("https://x/?a=b")
        );
        assert_eq!(
            client(&["--origin", "null", "ws://h/"]).2.as_deref(),
            Some("null")
        );
    }

    #[test]
    fn client_deflate_is_off_unless_asked_for() {
        let deflate = |args: &[&str]| match run(&[&["client"], args].concat()) {
            Ok(Command::Client { deflate, .. }) => deflate,
            other => panic!("{args:?}: expected Client, got {other:?}"),
        };
        assert!(!deflate(&["ws://h/"]));
        assert!(deflate(&["--deflate", "ws://h/"]));
        assert!(deflate(&["ws://h/", "--trace", "--deflate"]));
        // A flag: no value, and it does not take the next argument as one.
        let e = client_err(&["--deflate=full", "ws://h/"]);
        assert!(matches!(e.kind, ErrorKind::UnexpectedValue { .. }), "{e}");
        let e = client_err(&["--deflate", "ws://a/", "extra"]);
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "extra"));
    }

    #[test]
    fn client_bad_protocols() {
        for value in [
            "",
            "a b",
            "a,b",
            "chat/1",
            "x\"y",
            "(x)",
            "é",
            "a:b",
            "a\r\nX: y",
        ] {
            for e in [
                client_err(&["ws://h/", "--protocol", value]),
                client_err(&["ws://h/", &format!("--protocol={value}")]),
            ] {
                match &e.kind {
                    ErrorKind::BadValue {
                        option: "--protocol",
                        value: v,
                        expected: EXPECT_PROTOCOL,
                    } => assert_eq!(v, value),
                    other => panic!("{value:?}: {other:?}"),
                }
                let text = e.to_string();
                assert!(
                    text.starts_with(&format!("error: invalid value '{value}' for '--protocol'")),
                    "{text}"
                );
                assert!(text.contains("HTTP token"), "{text}");
                assert!(
                    text.contains("Usage: pushwire client [OPTIONS] <URL>"),
                    "{text}"
                );
            }
        }
        // a protocol offered twice
        let e = client_err(&["ws://h/", "--protocol", "chat", "--protocol=chat"]);
        assert!(matches!(
            e.kind,
            ErrorKind::BadValue {
                option: "--protocol",
                expected: EXPECT_PROTOCOL_UNIQUE,
                ..
            }
        ));
    }

    #[test]
    fn client_bad_origins() {
        for value in [
            "",
            "https://a b",
            "https://a\r\nX: y",
            "https://é.example",
            "\t",
        ] {
            for e in [
                client_err(&["ws://h/", "--origin", value]),
                client_err(&["ws://h/", &format!("--origin={value}")]),
            ] {
                assert!(
                    matches!(
                        &e.kind,
                        ErrorKind::BadValue { option: "--origin", value: v, .. } if v == value
                    ),
                    "{value:?}: {e}"
                );
            }
        }
        // an option where the value should be
        let e = client_err(&["ws://h/", "--origin", "--trace"]);
        assert!(matches!(
            e.kind,
            ErrorKind::MissingValue {
                option: "--origin",
                ..
            }
        ));
    }

    #[test]
    fn client_missing_url() {
        for args in [&[][..], &["--trace"], &["--protocol", "chat"]] {
            let e = client_err(args);
            assert_eq!(e.kind, ErrorKind::MissingArgument { what: "URL" });
            assert_eq!(
                e.to_string(),
                "error: missing URL\n\n\
                 Usage: pushwire client [OPTIONS] <URL>\n\n\
                 Run 'pushwire client --help' for more."
            );
        }
    }

    #[test]
    fn client_second_positional() {
        let e = client_err(&["ws://a/", "ws://b/"]);
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "ws://b/"));
        assert_eq!(e.usage, Usage::Client);
        assert!(
            e.to_string()
                .starts_with("error: unexpected argument 'ws://b/' for 'pushwire client'")
        );
        // `--trace` does not take the next argument as its value
        let e = client_err(&["--trace", "ws://a/", "extra"]);
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "extra"));
    }

    #[test]
    fn client_wss_is_refused() {
        for url in ["wss://example.com/", "WSS://example.com:443/x"] {
            let e = client_err(&[url]);
            match &e.kind {
                ErrorKind::BadUrl { url: u, reason } => {
                    assert_eq!(u, url);
                    assert_eq!(reason, WSS_NO_TLS);
                }
                other => panic!("{url}: {other:?}"),
            }
            assert!(
                e.to_string().starts_with(&format!(
                    "error: invalid URL '{url}': wss:// needs TLS, which pushwire does not implement"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn client_bad_urls() {
        for url in [
            "http://example.com/",
            "example.com",
            "127.0.0.1:9001",
            "ws:/h/",
            "ws:",
            "-",
            "",
            "ws://",
            "ws:///path",
            "ws://h:port/",
            "ws://h:70000/",
            "ws://[::1/",
            "ws://h/#frag",
            "ws://h/a b",
        ] {
            let e = client_err(&[url]);
            match &e.kind {
                ErrorKind::BadUrl { url: u, reason } => {
                    assert_eq!(u, url);
                    assert!(
                        reason.contains("expected ws://host[:port]/path"),
                        "{url}: {reason}"
                    );
                }
                other => panic!("{url:?}: {other:?}"),
            }
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("error: invalid URL '{url}': ")),
                "{text}"
            );
            assert!(text.contains("Usage: pushwire client"), "{text}");
        }
        // the library's reason is kept
        let e = client_err(&["ws://h:x/"]);
        assert!(e.to_string().contains("bad port"), "{e}");
    }

    #[test]
    fn client_help_forms() {
        let text = help_text(&["client", "--help"]);
        assert_eq!(help_text(&["client", "-h"]), text);
        assert_eq!(help_text(&["help", "client"]), text);
        // help wins over a missing or bad URL, and over later bad options
        assert_eq!(help_text(&["client", "wss://x/", "-h"]), text);
        assert_eq!(help_text(&["client", "--trace", "-h", "--bogus"]), text);
        assert_ne!(text, help_text(&["echo", "--help"]));
        assert_ne!(text, help_text(&["--help"]));
        for args in [&["client", "-V"][..], &["client", "ws://h/", "--version"]] {
            assert!(matches!(run(args), Ok(Command::Version)), "{args:?}");
        }
        let e = client_err(&["--help=1"]);
        assert!(matches!(e.kind, ErrorKind::UnexpectedValue { .. }));
        let e = run(&["help", "client", "more"]).unwrap_err();
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "more"));
    }
}

//! `pushwire load URL`: its options, which modes each applies to, and the URL check.

use std::time::Duration;

use pushwire::client::{ClientError, WsUrl};

use super::Command;
use super::error::{CliError, ErrorKind, Usage, err};
use super::help::load_help;
use super::options::{Arg, OptSpec, bad_value, next_arg};
use super::values::{parse_bytes, parse_int, parse_secs};
use crate::load::{LoadConfig, Mode, Transport};

/// An option of `pushwire load`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LoadOpt {
    Mode,
    Conns,
    Size,
    Depth,
    Secs,
    Warmup,
    Text,
    PublishRate,
    Rounds,
    Transport,
    ConnectConcurrency,
    Node,
}

const EXPECT_MODE: &str = "echo, longpoll or fanout";
const EXPECT_CONNS: &str = "a number of connections from 1 to 1000000";
const EXPECT_LOAD_BYTES: &str = "a byte count up to 1 GiB: an integer with an optional suffix K, \
     KiB, M, MiB, G or GiB (binary multiples), e.g. 20 or 64KiB";
const EXPECT_DEPTH: &str = "a number of messages in flight from 1 to 1000000";
const EXPECT_LOAD_SECS: &str =
    "a number of seconds above 0 and at most 86400 (one day), e.g. 10 or 0.5";
const EXPECT_WARMUP: &str = "a number of seconds from 0 to 86400 (one day), e.g. 1 or 0.5";
const EXPECT_RATE: &str = "messages per second, above 0 and at most 1000000, e.g. 100 or 0.5";
const EXPECT_ROUNDS: &str = "a number of rounds from 1 to 1000";
const EXPECT_TRANSPORT: &str = "longpoll, ws, sse or ws-mux";
const EXPECT_CONCURRENCY: &str = "a number of connections from 1 to 1000000";
const EXPECT_NODE: &str = "an address HOST:PORT, e.g. 127.0.0.1:8081";
const EXPECT_LOAD_URL: &str = "expected ws://host[:port]/path or http://host[:port]/channels/NAME";
/// Longest `--secs` and `--warmup` (the load generator's limit).
const LOAD_MAX_SECS: u64 = 24 * 60 * 60;

pub(super) const LOAD_OPTIONS: &[OptSpec<LoadOpt>] = &[
    OptSpec {
        name: "--mode",
        opt: LoadOpt::Mode,
        expected: Some(EXPECT_MODE),
    },
    OptSpec {
        name: "--conns",
        opt: LoadOpt::Conns,
        expected: Some(EXPECT_CONNS),
    },
    OptSpec {
        name: "--size",
        opt: LoadOpt::Size,
        expected: Some(EXPECT_LOAD_BYTES),
    },
    OptSpec {
        name: "--depth",
        opt: LoadOpt::Depth,
        expected: Some(EXPECT_DEPTH),
    },
    OptSpec {
        name: "--secs",
        opt: LoadOpt::Secs,
        expected: Some(EXPECT_LOAD_SECS),
    },
    OptSpec {
        name: "--warmup",
        opt: LoadOpt::Warmup,
        expected: Some(EXPECT_WARMUP),
    },
    OptSpec {
        name: "--text",
        opt: LoadOpt::Text,
        expected: None,
    },
    OptSpec {
        name: "--publish-rate",
        opt: LoadOpt::PublishRate,
        expected: Some(EXPECT_RATE),
    },
    OptSpec {
        name: "--rounds",
        opt: LoadOpt::Rounds,
        expected: Some(EXPECT_ROUNDS),
    },
    OptSpec {
        name: "--transport",
        opt: LoadOpt::Transport,
        expected: Some(EXPECT_TRANSPORT),
    },
    OptSpec {
        name: "--connect-concurrency",
        opt: LoadOpt::ConnectConcurrency,
        expected: Some(EXPECT_CONCURRENCY),
    },
    OptSpec {
        name: "--node",
        opt: LoadOpt::Node,
        expected: Some(EXPECT_NODE),
    },
];

impl LoadOpt {
    /// The modes the option is for (`None`: every mode).
    fn modes(self) -> Option<(&'static [Mode], &'static str)> {
        match self {
            LoadOpt::Depth | LoadOpt::Text => Some((&[Mode::Echo], "echo")),
            LoadOpt::Secs | LoadOpt::Warmup => {
                Some((&[Mode::Echo, Mode::LongPoll], "echo or longpoll"))
            }
            LoadOpt::PublishRate => Some((&[Mode::LongPoll], "longpoll")),
            LoadOpt::Rounds | LoadOpt::Transport => Some((&[Mode::Fanout], "fanout")),
            LoadOpt::Node => Some((&[Mode::LongPoll, Mode::Fanout], "longpoll or fanout")),
            _ => None,
        }
    }
}

/// The options and URL after `pushwire load`.
pub(super) fn parse_load(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let usage = Usage::Load;
    let mut url: Option<String> = None;
    let mut config = LoadConfig::new("");
    config.progress = true;
    let mut given: Vec<&'static OptSpec<LoadOpt>> = Vec::new();

    while let Some(arg) = next_arg(&mut args, usage, LOAD_OPTIONS)? {
        let (spec, value) = match arg {
            Arg::Positional(arg) => {
                if url.is_some() {
                    return Err(err(usage, ErrorKind::UnexpectedArgument { arg }));
                }
                url = Some(arg);
                continue;
            }
            Arg::Help => return Ok(Command::Help(load_help())),
            Arg::Version => return Ok(Command::Version),
            Arg::Opt(spec, value) => (spec, value),
        };
        let bad = || bad_value(usage, spec, &value);
        let count = |max: u64| {
            parse_int::<u64>(&value)
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(bad)
        };
        match spec.opt {
            LoadOpt::Mode => {
                config.mode = match value.as_str() {
                    "echo" => Mode::Echo,
                    "longpoll" => Mode::LongPoll,
                    "fanout" => Mode::Fanout,
                    _ => return Err(bad()),
                }
            }
            LoadOpt::Conns => config.conns = count(1_000_000)? as usize,
            LoadOpt::Size => {
                config.size = parse_bytes(&value)
                    .filter(|&n| n <= 1 << 30)
                    .ok_or_else(bad)? as usize
            }
            LoadOpt::Depth => config.depth = count(1_000_000)? as usize,
            LoadOpt::Secs => {
                config.secs = parse_secs(&value)
                    .filter(|d| d.as_secs_f64() <= LOAD_MAX_SECS as f64)
                    .ok_or_else(bad)?
            }
            LoadOpt::Warmup => {
                config.warmup = if !value.is_empty()
                    && value.bytes().all(|b| b == b'0' || b == b'.')
                    && value.bytes().any(|b| b == b'0')
                {
                    Duration::ZERO
                } else {
                    parse_secs(&value)
                        .filter(|d| d.as_secs_f64() <= LOAD_MAX_SECS as f64)
                        .ok_or_else(bad)?
                }
            }
            LoadOpt::Text => config.text = true,
            LoadOpt::PublishRate => {
                let ok = !value.is_empty()
                    && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    && value.bytes().filter(|&b| b == b'.').count() <= 1;
                config.publish_rate = value
                    .parse::<f64>()
                    .ok()
                    .filter(|&r| ok && r > 0.0 && r <= 1e6)
                    .ok_or_else(bad)?
            }
            LoadOpt::Rounds => config.rounds = count(1000)? as u32,
            LoadOpt::Transport => {
                config.transport = Some(match value.as_str() {
                    "longpoll" => Transport::LongPoll,
                    "ws" => Transport::Ws,
                    "sse" => Transport::Sse,
                    "ws-mux" => Transport::WsMux,
                    _ => return Err(bad()),
                })
            }
            LoadOpt::ConnectConcurrency => config.connect_concurrency = count(1_000_000)? as usize,
            LoadOpt::Node => {
                let addr = value.parse().ok().or_else(|| {
                    use std::net::ToSocketAddrs;
                    value.to_socket_addrs().ok()?.next()
                });
                config.nodes.push(addr.ok_or_else(bad)?);
            }
        }
        if !given.iter().any(|g| g.name == spec.name) {
            given.push(spec);
        }
    }

    // Checked after the options, so that `--help` wins over a bad URL.
    let Some(url) = url else {
        return Err(err(usage, ErrorKind::MissingArgument { what: "URL" }));
    };
    for spec in &given {
        if let Some((modes, names)) = spec.opt.modes()
            && !modes.contains(&config.mode)
        {
            return Err(err(
                usage,
                ErrorKind::NotForMode {
                    option: spec.name,
                    modes: names,
                },
            ));
        }
    }
    let (url, ws) =
        check_load_url(&url).map_err(|reason| err(usage, ErrorKind::BadUrl { url, reason }))?;
    let wrong = |mode, expected| err(usage, ErrorKind::WrongScheme { mode, expected });
    match config.mode {
        Mode::Echo if !ws => return Err(wrong("echo", "a ws:// URL")),
        Mode::LongPoll if ws => {
            return Err(wrong("longpoll", "an http://host[:port]/channels/NAME URL"));
        }
        _ => {}
    }
    config.url = url;
    Ok(Command::Load { config })
}

/// Checks a `ws://` or `http://` URL (the same grammar here) and returns it with its
/// scheme in lowercase, and whether it is `ws://`; else the reason.
fn check_load_url(url: &str) -> Result<(String, bool), String> {
    let scheme = |prefix: &str| {
        url.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    if scheme("wss://") || scheme("https://") {
        return Err(format!("TLS is not implemented; {EXPECT_LOAD_URL}"));
    }
    let (lower, rest, ws) = if scheme("ws://") {
        ("ws://", &url["ws://".len()..], true)
    } else if scheme("http://") {
        ("http://", &url["http://".len()..], false)
    } else {
        return Err(EXPECT_LOAD_URL.to_string());
    };
    let as_ws = format!("ws://{rest}");
    match WsUrl::parse(&as_ws) {
        Ok(_) => Ok((format!("{lower}{rest}"), ws)),
        Err(ClientError::BadUrl(message)) => {
            let reason = message
                .strip_prefix(&format!("{as_ws:?}: "))
                .unwrap_or(&message);
            Err(format!("{reason}; {EXPECT_LOAD_URL}"))
        }
        Err(other) => Err(format!("{other}; {EXPECT_LOAD_URL}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse;

    fn run(args: &[&str]) -> Result<Command, CliError> {
        let mut all = vec!["load"];
        all.extend_from_slice(args);
        parse(all.iter().map(|s| s.to_string()))
    }

    fn load(args: &[&str]) -> LoadConfig {
        match run(args) {
            Ok(Command::Load { config }) => config,
            other => panic!("{args:?}: expected Load, got {other:?}"),
        }
    }

    fn load_err(args: &[&str]) -> String {
        match run(args) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = load(&["ws://127.0.0.1:9001/"]);
        let mut want = LoadConfig::new("ws://127.0.0.1:9001/");
        want.progress = true;
        assert_eq!(c, want);
        assert_eq!(
            (c.mode, c.conns, c.size, c.depth, c.text),
            (Mode::Echo, 10, 20, 1, false)
        );
        assert_eq!(
            (c.secs, c.warmup),
            (Duration::from_secs(10), Duration::from_secs(1))
        );
        assert_eq!((c.publish_rate, c.rounds, c.transport), (100.0, 5, None));
        let help = match parse(["load", "--help"].iter().map(|s| s.to_string())) {
            Ok(Command::Help(text)) => text,
            other => panic!("{other:?}"),
        };
        for spec in LOAD_OPTIONS {
            assert!(help.contains(spec.name), "load help lacks {}", spec.name);
        }
        for word in [
            "[default: echo]",
            "[default: 10]",
            "[default: 20]",
            "[default: 1]",
            "[default: 100]",
            "[default: 5]",
            "[default: 256]",
            "ulimit -n",
            "LOAD mode=",
        ] {
            assert!(help.contains(word), "load help lacks {word}");
        }
        for line in help.lines() {
            assert!(line.len() <= 100, "long help line: {line}");
        }
        let top = match parse(["--help"].iter().map(|s| s.to_string())) {
            Ok(Command::Help(text)) => text,
            other => panic!("{other:?}"),
        };
        assert!(top.contains("\n  load  "), "{top}");
        assert!(matches!(
            parse(["help", "load"].iter().map(|s| s.to_string())),
            Ok(Command::Help(text)) if text == help
        ));
    }

    #[test]
    fn every_option() {
        let c = load(&[
            "WS://127.0.0.1:9001/x?y=1",
            "--conns",
            "100",
            "--size=64KiB",
            "--depth",
            "8",
            "--secs",
            "2.5",
            "--warmup",
            "0",
            "--text",
            "--connect-concurrency",
            "32",
        ]);
        assert_eq!(c.url, "ws://127.0.0.1:9001/x?y=1");
        assert_eq!((c.conns, c.size, c.depth, c.text), (100, 64 << 10, 8, true));
        assert_eq!(
            (c.secs, c.warmup),
            (Duration::from_millis(2500), Duration::ZERO)
        );
        assert_eq!(c.connect_concurrency, 32);
        let c = load(&[
            "http://127.0.0.1:8080/channels/a",
            "--mode",
            "longpoll",
            "--publish-rate",
            "0.5",
        ]);
        assert_eq!((c.mode, c.publish_rate), (Mode::LongPoll, 0.5));
        let c = load(&[
            "--mode=fanout",
            "--rounds",
            "3",
            "--transport",
            "ws",
            "http://127.0.0.1:8080/channels/a",
        ]);
        assert_eq!(
            (c.mode, c.rounds, c.transport),
            (Mode::Fanout, 3, Some(Transport::Ws))
        );
        let c = load(&["ws://h:1/channels/a", "--mode", "fanout"]);
        assert_eq!(c.fanout_transport(), Transport::Ws);
        let c = load(&[
            "http://h:1/channels/a",
            "--mode",
            "fanout",
            "--transport=sse",
        ]);
        assert_eq!(c.fanout_transport(), Transport::Sse);
        let c = load(&[
            "ws://h:1/channels/a",
            "--mode",
            "fanout",
            "--transport",
            "ws-mux",
        ]);
        assert_eq!(c.fanout_transport(), Transport::WsMux);
        let c = load(&[
            "ws://h:1/channels/a",
            "--mode",
            "fanout",
            "--node",
            "127.0.0.1:8082",
            "--node=[::1]:8083",
        ]);
        let nodes: Vec<String> = c.nodes.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            nodes,
            ["127.0.0.1:8082", "[::1]:8083"],
            "every --node, in order"
        );
    }

    #[test]
    fn bad_values() {
        for (args, option) in [
            (&["--mode", "pipeline"][..], "--mode"),
            (&["--conns", "0"], "--conns"),
            (&["--conns", "-1"], "--conns"),
            (&["--size", "2GiB"], "--size"),
            (&["--size", "1.5K"], "--size"),
            (&["--depth", "0"], "--depth"),
            (&["--secs", "0"], "--secs"),
            (&["--secs", "100000"], "--secs"),
            (&["--warmup", "-1"], "--warmup"),
            (&["--connect-concurrency", "0"], "--connect-concurrency"),
        ] {
            let mut all = vec!["ws://127.0.0.1:1/"];
            all.extend_from_slice(args);
            let text = load_err(&all);
            assert!(
                text.contains(&format!("invalid value '{}' for '{option}'", args[1])),
                "{args:?}: {text}"
            );
        }
        for (args, option) in [
            (&["--publish-rate", "0"][..], "--publish-rate"),
            (&["--publish-rate", "1e3"], "--publish-rate"),
            (&["--rounds", "0"], "--rounds"),
            (&["--transport", "udp"], "--transport"),
            (&["--node", "nowhere"], "--node"),
        ] {
            let mut all = vec!["http://127.0.0.1:1/channels/a"];
            all.extend_from_slice(args);
            let text = load_err(&all);
            assert!(
                text.contains(&format!("for '{option}'")),
                "{args:?}: {text}"
            );
        }
    }

    #[test]
    fn options_of_other_modes_and_schemes_are_refused() {
        let text = load_err(&[
            "http://h:1/channels/a",
            "--mode",
            "longpoll",
            "--depth",
            "2",
        ]);
        assert!(
            text.contains("'--depth' applies to --mode echo only"),
            "{text}"
        );
        let text = load_err(&["ws://h:1/", "--rounds", "2"]);
        assert!(
            text.contains("'--rounds' applies to --mode fanout only"),
            "{text}"
        );
        let text = load_err(&["ws://h:1/", "--mode", "fanout", "--secs", "2"]);
        assert!(text.contains("--mode echo or longpoll only"), "{text}");
        let text = load_err(&["http://h:1/channels/a"]);
        assert!(text.contains("--mode echo needs a ws:// URL"), "{text}");
        let text = load_err(&["ws://h:1/channels/a", "--mode", "longpoll"]);
        assert!(text.contains("--mode longpoll needs an http://"), "{text}");
        for url in ["wss://h/", "https://h/", "ftp://h/", "ws://h:99999/"] {
            let text = load_err(&[url]);
            assert!(text.contains("invalid URL"), "{url}: {text}");
        }
        assert!(load_err(&[]).contains("missing URL"));
        assert!(load_err(&["ws://h:1/", "ws://h:2/"]).contains("unexpected argument"));
        let text = load_err(&["ws://h:1/", "--con", "2"]);
        assert!(text.contains("did you mean '--conns'?"), "{text}");
        // --help wins over everything else.
        assert!(run(&["--bogus-url", "-h"]).is_err());
        assert!(matches!(run(&["ftp://x", "-h"]), Ok(Command::Help(_))));
        // An option of `load` given before the command says where it goes.
        let text = parse(["--conns", "3"].iter().map(|s| s.to_string()))
            .unwrap_err()
            .to_string();
        assert!(text.contains("'pushwire load URL --conns'"), "{text}");
    }
}

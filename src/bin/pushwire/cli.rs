//! Command-line parsing for the `pushwire` binary, standard library only.
//!
//! `main` calls [`parse`] with `std::env::args().skip(1)` and acts on the [`Command`]:
//! it prints [`Command::Help`] on stdout and exits 0, prints a [`CliError`] on stderr and
//! exits 2.
//!
//! Syntax: `pushwire [-h|-V] [COMMAND [OPTIONS]]`; with no arguments at all, `pushwire`
//! runs `pushwire serve` with its defaults. Options take their value as
//! `--opt VALUE` or `--opt=VALUE`; a repeated option overrides the earlier one, except
//! `--allow-origin` and `--protocol`, which accumulate. Flags (`--trace`, `--help`,
//! `--version`) take no value.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use pushwire::Config;
use pushwire::client::{ClientError, WsUrl};
use pushwire::http::token::is_token;
use pushwire::hub::HubConfig;
use crate::load::{LoadConfig, Mode, Transport};

/// The version printed by `pushwire --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

// `pushwire serve` uses the library's defaults for everything but the address.
const SERVE_ADDR: &str = "127.0.0.1:8080";

// `pushwire echo` serves conformance tests and benchmarks, so its limits are larger than
// the library's defaults (Autobahn's 9.* cases send 16 MiB messages and 65536 fragments).
const ECHO_ADDR: &str = "127.0.0.1:9001";
const ECHO_MAX_MESSAGE: u64 = 64 << 20;
const ECHO_MAX_FRAME: u64 = 64 << 20;
const ECHO_MAX_FRAGMENTS: u32 = 1 << 20;
const ECHO_MAX_CONNECTIONS: usize = 64 * 1024;
/// Messages of at least this size (that span reads) are echoed as they arrive.
const ECHO_STREAM_OVER: u64 = 256 * 1024;

/// Longest accepted duration: one year. Far enough for any timeout, and small enough that
/// `Instant + duration` cannot overflow anywhere in the server.
const MAX_SECS: u64 = 365 * 24 * 60 * 60;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// `pushwire serve` (also what `pushwire` with no arguments runs).
    Serve {
        /// Address to listen on.
        addr: SocketAddr,
        /// Server configuration, already validated.
        config: Config,
        /// Hub configuration: `history` is at least 1, and `default_poll_timeout` is at
        /// most `max_poll_timeout`.
        hub: HubConfig,
    },
    /// `pushwire echo`: echo every text/binary message back (conformance and benchmarks).
    Echo {
        /// Address to listen on.
        addr: SocketAddr,
        /// Server configuration, already validated.
        config: Config,
    },
    /// `pushwire client URL`: stdin lines → text messages, received messages → stdout.
    ///
    /// `url` has been checked with [`WsUrl::parse`] (its scheme is lowercased, so it is
    /// `ws://...`); every protocol is an HTTP token, given once; `origin` is non-empty
    /// visible ASCII.
    Client {
        url: String,
        protocols: Vec<String>,
        origin: Option<String>,
        trace: bool,
    },
    /// `pushwire load URL`: a load generator; `config.url` has been checked (its scheme
    /// lowercased) and suits `config.mode`, and `config.progress` is set.
    Load { config: LoadConfig },
    /// `--help` / `-h` / `help [SUBCOMMAND]`: text to print on stdout, exit 0.
    Help(String),
    /// `--version` / `-V`: print `pushwire VERSION` on stdout, exit 0.
    Version,
}

/// A command line that cannot be run. Its `Display` is the complete text to print on
/// stderr: the error, the usage line of the command concerned, and where to get help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    kind: ErrorKind,
    usage: Usage,
}

/// Which command an error concerns, i.e. which usage line to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Usage {
    Top,
    Serve,
    Echo,
    Client,
    Load,
}

impl Usage {
    fn command(self) -> &'static str {
        match self {
            Usage::Top => "pushwire",
            Usage::Serve => "pushwire serve",
            Usage::Echo => "pushwire echo",
            Usage::Client => "pushwire client",
            Usage::Load => "pushwire load",
        }
    }

    fn line(self) -> &'static str {
        match self {
            Usage::Top => "pushwire [OPTIONS] [COMMAND]",
            Usage::Serve => "pushwire serve [OPTIONS]",
            Usage::Echo => "pushwire echo [OPTIONS]",
            Usage::Client => "pushwire client [OPTIONS] <URL>",
            Usage::Load => "pushwire load [OPTIONS] <URL>",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ErrorKind {
    /// An option the command does not have; `hint` is an extra sentence, possibly empty.
    UnknownOption { option: String, hint: String },
    /// An option that needs a value was the last argument or was followed by an option.
    MissingValue {
        option: &'static str,
        expected: &'static str,
    },
    /// A value that does not parse or is out of range.
    BadValue {
        option: &'static str,
        value: String,
        expected: &'static str,
    },
    /// `--flag=VALUE` for an option that takes no value.
    UnexpectedValue { option: String },
    /// A command name that does not exist.
    UnknownSubcommand { name: String },
    /// A positional argument where none is accepted.
    UnexpectedArgument { arg: String },
    /// A required positional argument is absent; `what` names it (`URL`).
    MissingArgument { what: &'static str },
    /// A URL that is not a `ws://` URL pushwire can connect to.
    BadUrl { url: String, reason: String },
    /// `option`'s value is above `limit`'s, which it must not exceed. The values are as
    /// given; `limit_value` is the default, formatted, when `limit` was not given.
    Exceeds {
        option: &'static str,
        value: String,
        limit: &'static str,
        limit_value: String,
        limit_given: bool,
    },
    /// `pushwire load`: an option of another mode than the one chosen.
    NotForMode {
        option: &'static str,
        modes: &'static str,
    },
    /// `pushwire load`: a URL whose scheme the mode cannot use.
    WrongScheme {
        mode: &'static str,
        expected: &'static str,
    },
    /// Values that parse but do not work together (from `Config::validate`).
    InvalidConfig {
        option: &'static str,
        field: &'static str,
        reason: &'static str,
    },
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cmd = self.usage.command();
        match &self.kind {
            ErrorKind::UnknownOption { option, hint } => {
                write!(f, "error: unknown option '{option}' for '{cmd}'")?;
                if !hint.is_empty() {
                    write!(f, " ({hint})")?;
                }
            }
            ErrorKind::MissingValue { option, expected } => {
                write!(f, "error: option '{option}' requires a value: {expected}")?
            }
            ErrorKind::BadValue {
                option,
                value,
                expected,
            } => write!(
                f,
                "error: invalid value '{value}' for '{option}': expected {expected}"
            )?,
            ErrorKind::UnexpectedValue { option } => {
                write!(f, "error: option '{option}' takes no value")?
            }
            ErrorKind::UnknownSubcommand { name } => write!(
                f,
                "error: unknown command '{name}' (available: serve, echo, client, load, help)"
            )?,
            ErrorKind::UnexpectedArgument { arg } => {
                write!(f, "error: unexpected argument '{arg}' for '{cmd}'")?
            }
            ErrorKind::MissingArgument { what } => write!(f, "error: missing {what}")?,
            ErrorKind::BadUrl { url, reason } => write!(f, "error: invalid URL '{url}': {reason}")?,
            ErrorKind::Exceeds {
                option,
                value,
                limit,
                limit_value,
                limit_given,
            } => {
                write!(f, "error: '{option} {value}' exceeds ")?;
                if *limit_given {
                    write!(f, "'{limit} {limit_value}'")?;
                } else {
                    write!(f, "'{limit}' ({limit_value} by default)")?;
                }
                write!(f, ": lower '{option}' or raise '{limit}'")?;
            }
            ErrorKind::NotForMode { option, modes } => {
                write!(f, "error: '{option}' applies to --mode {modes} only")?
            }
            ErrorKind::WrongScheme { mode, expected } => {
                write!(f, "error: --mode {mode} needs {expected}")?
            }
            ErrorKind::InvalidConfig {
                option,
                field,
                reason,
            } => write!(
                f,
                "error: invalid value for '{option}': {reason} (configuration field {field})"
            )?,
        }
        write!(
            f,
            "\n\nUsage: {}\n\nRun '{cmd} --help' for more.",
            self.usage.line()
        )
    }
}

impl std::error::Error for CliError {}

fn err(usage: Usage, kind: ErrorKind) -> CliError {
    CliError { kind, usage }
}

/// Parses the arguments after the program name.
pub fn parse(args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let mut args = args;
    let Some(arg) = args.next() else {
        // No arguments: serve with the defaults (what `cargo run --release` does).
        return parse_serve(std::iter::empty());
    };
    let (name, inline) = split_option(&arg);
    match name {
        "-h" | "--help" | "-V" | "--version" if inline.is_some() => Err(err(
            Usage::Top,
            ErrorKind::UnexpectedValue {
                option: name.to_string(),
            },
        )),
        "-h" | "--help" => Ok(Command::Help(top_help())),
        "-V" | "--version" => Ok(Command::Version),
        "help" => parse_help(args),
        "serve" => parse_serve(args),
        "echo" => parse_echo(args),
        "client" => parse_client(args),
        "load" => parse_load(args),
        _ if is_option(&arg) => {
            let places: Vec<String> = [
                (has_option(SERVE_OPTIONS, name), "pushwire serve"),
                (has_option(ECHO_OPTIONS, name), "pushwire echo"),
                (has_option(CLIENT_OPTIONS, name), "pushwire client URL"),
                (has_option(LOAD_OPTIONS, name), "pushwire load URL"),
            ]
            .into_iter()
            .filter(|&(has, _)| has)
            .map(|(_, cmd)| format!("'{cmd} {name}'"))
            .collect();
            let hint = if places.is_empty() {
                suggest(name, ["--help", "--version"])
            } else {
                format!("options of a command go after it: {}", places.join(" or "))
            };
            Err(err(
                Usage::Top,
                ErrorKind::UnknownOption {
                    option: name.to_string(),
                    hint,
                },
            ))
        }
        _ => Err(err(Usage::Top, ErrorKind::UnknownSubcommand { name: arg })),
    }
}

/// `pushwire help [COMMAND]`.
fn parse_help(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let help = match args.next().as_deref() {
        None | Some("help") => top_help(),
        Some("serve") => serve_help(),
        Some("echo") => echo_help(),
        Some("client") => client_help(),
        Some("load") => load_help(),
        Some(other) => {
            return Err(err(
                Usage::Top,
                ErrorKind::UnknownSubcommand {
                    name: other.to_string(),
                },
            ));
        }
    };
    match args.next() {
        None => Ok(Command::Help(help)),
        Some(arg) => Err(err(Usage::Top, ErrorKind::UnexpectedArgument { arg })),
    }
}

/// `-x`, `--xyz`, `--xyz=v`, but not `-` (conventionally a positional "stdin").
fn is_option(arg: &str) -> bool {
    arg.starts_with('-') && arg != "-"
}

/// Splits `--name=value` into `("--name", Some("value"))`; anything else is returned whole.
fn split_option(arg: &str) -> (&str, Option<&str>) {
    if arg.starts_with("--")
        && let Some((name, value)) = arg.split_once('=')
    {
        return (name, Some(value));
    }
    (arg, None)
}

// ===== options, for every command =====

/// One option of a command: its name, what it sets, and whether it takes a value.
struct OptSpec<O: 'static> {
    name: &'static str,
    opt: O,
    /// Completes "expected ..." in error messages; `None` for a flag, which takes no value.
    expected: Option<&'static str>,
}

fn has_option<O>(specs: &[OptSpec<O>], name: &str) -> bool {
    specs.iter().any(|o| o.name == name)
}

/// One argument after the command name, as read by [`next_arg`].
enum Arg<O: 'static> {
    Positional(String),
    Help,
    Version,
    /// An option of the command's table with its value; the value is empty for a flag.
    Opt(&'static OptSpec<O>, String),
}

/// Reads the next argument of a command whose options are `specs`: `--opt VALUE`,
/// `--opt=VALUE`, a flag, `-h`/`--help`, `-V`/`--version`, or a positional argument.
fn next_arg<O>(
    args: &mut impl Iterator<Item = String>,
    usage: Usage,
    specs: &'static [OptSpec<O>],
) -> Result<Option<Arg<O>>, CliError> {
    let Some(arg) = args.next() else {
        return Ok(None);
    };
    if !is_option(&arg) {
        return Ok(Some(Arg::Positional(arg)));
    }
    let (name, inline) = split_option(&arg);
    let unexpected_value = || {
        err(
            usage,
            ErrorKind::UnexpectedValue {
                option: name.to_string(),
            },
        )
    };
    let flag = match name {
        "-h" | "--help" => Some(Arg::Help),
        "-V" | "--version" => Some(Arg::Version),
        _ => None,
    };
    if let Some(flag) = flag {
        return match inline {
            Some(_) => Err(unexpected_value()),
            None => Ok(Some(flag)),
        };
    }
    let Some(spec) = specs.iter().find(|o| o.name == name) else {
        let hint = suggest(
            name,
            specs.iter().map(|o| o.name).chain(["--help", "--version"]),
        );
        return Err(err(
            usage,
            ErrorKind::UnknownOption {
                option: name.to_string(),
                hint,
            },
        ));
    };
    let Some(expected) = spec.expected else {
        return match inline {
            Some(_) => Err(unexpected_value()),
            None => Ok(Some(Arg::Opt(spec, String::new()))),
        };
    };
    let value = match inline {
        Some(v) => v.to_string(),
        None => match args.next() {
            // `--addr --max-frame 1M`: the value was forgotten.
            Some(v) if !v.starts_with("--") => v,
            _ => {
                return Err(err(
                    usage,
                    ErrorKind::MissingValue {
                        option: spec.name,
                        expected,
                    },
                ));
            }
        },
    };
    Ok(Some(Arg::Opt(spec, value)))
}

/// "invalid value `value` for `spec.name`: expected `spec.expected`".
fn bad_value<O>(usage: Usage, spec: &OptSpec<O>, value: &str) -> CliError {
    err(
        usage,
        ErrorKind::BadValue {
            option: spec.name,
            value: value.to_string(),
            expected: spec.expected.unwrap_or("no value"),
        },
    )
}

// ===== `pushwire serve` and `pushwire echo` =====

/// An option of a server command: `serve` and `echo` share these (each has its own table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerOpt {
    Addr,
    History,
    PollTimeout,
    MaxPollTimeout,
    MaxBody,
    MaxMessage,
    MaxFrame,
    MaxFragments,
    PingInterval,
    PongTimeout,
    CloseTimeout,
    HandshakeTimeout,
    MaxConnections,
    WriteBuffer,
    AllowOrigin,
    Trace,
}

const EXPECT_ADDR: &str = "an IP address and port, e.g. 127.0.0.1:9001 or [::1]:9001";
const EXPECT_BYTES: &str = "a byte count: an integer with an optional suffix K, KiB, M, MiB, G \
     or GiB (binary multiples), e.g. 65536 or 64MiB";
const EXPECT_BODY_BYTES: &str = "a byte count of at least 1: an integer with an optional suffix \
     K, KiB, M, MiB, G or GiB (binary multiples), e.g. 65536 or 1MiB";
const EXPECT_SECS: &str =
    "a number of seconds above 0 and at most 31536000 (one year), e.g. 30 or 0.5";
const EXPECT_SECS_OFF: &str =
    "a number of seconds above 0 and at most 31536000 (one year), e.g. 30 or 0.5, or 'off'";
const EXPECT_U32: &str = "an integer from 0 to 4294967295";
const EXPECT_USIZE: &str = "a non-negative integer";
const EXPECT_HISTORY: &str = "a number of messages, at least 1, e.g. 1024";
const EXPECT_ORIGIN: &str = "a non-empty origin, e.g. https://example.com";

const OPT_ADDR: OptSpec<ServerOpt> = OptSpec {
    name: "--addr",
    opt: ServerOpt::Addr,
    expected: Some(EXPECT_ADDR),
};
const OPT_HISTORY: OptSpec<ServerOpt> = OptSpec {
    name: "--history",
    opt: ServerOpt::History,
    expected: Some(EXPECT_HISTORY),
};
const OPT_POLL_TIMEOUT: OptSpec<ServerOpt> = OptSpec {
    name: "--poll-timeout",
    opt: ServerOpt::PollTimeout,
    expected: Some(EXPECT_SECS),
};
const OPT_MAX_POLL_TIMEOUT: OptSpec<ServerOpt> = OptSpec {
    name: "--max-poll-timeout",
    opt: ServerOpt::MaxPollTimeout,
    expected: Some(EXPECT_SECS),
};
const OPT_MAX_BODY: OptSpec<ServerOpt> = OptSpec {
    name: "--max-body",
    opt: ServerOpt::MaxBody,
    expected: Some(EXPECT_BODY_BYTES),
};
const OPT_MAX_MESSAGE: OptSpec<ServerOpt> = OptSpec {
    name: "--max-message",
    opt: ServerOpt::MaxMessage,
    expected: Some(EXPECT_BYTES),
};
const OPT_MAX_FRAME: OptSpec<ServerOpt> = OptSpec {
    name: "--max-frame",
    opt: ServerOpt::MaxFrame,
    expected: Some(EXPECT_BYTES),
};
const OPT_MAX_FRAGMENTS: OptSpec<ServerOpt> = OptSpec {
    name: "--max-fragments",
    opt: ServerOpt::MaxFragments,
    expected: Some(EXPECT_U32),
};
const OPT_PING_INTERVAL: OptSpec<ServerOpt> = OptSpec {
    name: "--ping-interval",
    opt: ServerOpt::PingInterval,
    expected: Some(EXPECT_SECS_OFF),
};
const OPT_PONG_TIMEOUT: OptSpec<ServerOpt> = OptSpec {
    name: "--pong-timeout",
    opt: ServerOpt::PongTimeout,
    expected: Some(EXPECT_SECS),
};
const OPT_CLOSE_TIMEOUT: OptSpec<ServerOpt> = OptSpec {
    name: "--close-timeout",
    opt: ServerOpt::CloseTimeout,
    expected: Some(EXPECT_SECS),
};
const OPT_HANDSHAKE_TIMEOUT: OptSpec<ServerOpt> = OptSpec {
    name: "--handshake-timeout",
    opt: ServerOpt::HandshakeTimeout,
    expected: Some(EXPECT_SECS),
};
const OPT_MAX_CONNECTIONS: OptSpec<ServerOpt> = OptSpec {
    name: "--max-connections",
    opt: ServerOpt::MaxConnections,
    expected: Some(EXPECT_USIZE),
};
const OPT_WRITE_BUFFER: OptSpec<ServerOpt> = OptSpec {
    name: "--write-buffer",
    opt: ServerOpt::WriteBuffer,
    expected: Some(EXPECT_BYTES),
};
const OPT_ALLOW_ORIGIN: OptSpec<ServerOpt> = OptSpec {
    name: "--allow-origin",
    opt: ServerOpt::AllowOrigin,
    expected: Some(EXPECT_ORIGIN),
};
const OPT_TRACE: OptSpec<ServerOpt> = OptSpec {
    name: "--trace",
    opt: ServerOpt::Trace,
    expected: None,
};

const SERVE_OPTIONS: &[OptSpec<ServerOpt>] = &[
    OPT_ADDR,
    OPT_HISTORY,
    OPT_POLL_TIMEOUT,
    OPT_MAX_POLL_TIMEOUT,
    OPT_MAX_BODY,
    OPT_MAX_MESSAGE,
    OPT_MAX_FRAME,
    OPT_PING_INTERVAL,
    OPT_PONG_TIMEOUT,
    OPT_CLOSE_TIMEOUT,
    OPT_HANDSHAKE_TIMEOUT,
    OPT_MAX_CONNECTIONS,
    OPT_WRITE_BUFFER,
    OPT_ALLOW_ORIGIN,
    OPT_TRACE,
];

const ECHO_OPTIONS: &[OptSpec<ServerOpt>] = &[
    OPT_ADDR,
    OPT_MAX_MESSAGE,
    OPT_MAX_FRAME,
    OPT_MAX_FRAGMENTS,
    OPT_PING_INTERVAL,
    OPT_PONG_TIMEOUT,
    OPT_CLOSE_TIMEOUT,
    OPT_HANDSHAKE_TIMEOUT,
    OPT_MAX_CONNECTIONS,
    OPT_WRITE_BUFFER,
    OPT_ALLOW_ORIGIN,
    OPT_TRACE,
];

/// The configuration `pushwire echo` starts from.
fn echo_defaults() -> Config {
    let mut c = Config::default();
    c.max_message_size = ECHO_MAX_MESSAGE;
    c.max_frame_size = ECHO_MAX_FRAME;
    c.max_fragments = ECHO_MAX_FRAGMENTS;
    c.max_connections = ECHO_MAX_CONNECTIONS;
    // Large messages are echoed piece by piece as they arrive, never buffered whole.
    c.stream_messages_over = Some(ECHO_STREAM_OVER);
    c
}

/// `pushwire serve`, which is also what `pushwire` with no arguments runs.
fn parse_serve(args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let server = ServerCommand {
        usage: Usage::Serve,
        specs: SERVE_OPTIONS,
        addr: SERVE_ADDR,
        config: Config::default(),
        help: serve_help,
    };
    server.parse(args, |addr, config, hub| Command::Serve {
        addr,
        config,
        hub,
    })
}

fn parse_echo(args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let server = ServerCommand {
        usage: Usage::Echo,
        specs: ECHO_OPTIONS,
        addr: ECHO_ADDR,
        config: echo_defaults(),
        help: echo_help,
    };
    // Echo has no hub: its table has no hub option, so the hub configuration stays at its
    // default and is dropped.
    server.parse(args, |addr, config, _hub| Command::Echo { addr, config })
}

/// A server command: which options it has and what it starts from.
struct ServerCommand {
    usage: Usage,
    specs: &'static [OptSpec<ServerOpt>],
    addr: &'static str,
    config: Config,
    help: fn() -> String,
}

impl ServerCommand {
    /// Reads the options, validates the result, and hands it to `build`.
    fn parse(
        self,
        mut args: impl Iterator<Item = String>,
        build: impl FnOnce(SocketAddr, Config, HubConfig) -> Command,
    ) -> Result<Command, CliError> {
        let usage = self.usage;
        let mut addr: SocketAddr = self.addr.parse().expect("default address parses");
        let mut config = self.config;
        let mut hub = HubConfig::default();
        let mut frame_given = false;
        // The values as given, for error messages.
        let mut poll_given: Option<String> = None;
        let mut max_poll_given: Option<String> = None;
        let mut origins: Vec<String> = Vec::new();

        while let Some(arg) = next_arg(&mut args, usage, self.specs)? {
            let (spec, value) = match arg {
                Arg::Positional(arg) => {
                    return Err(err(usage, ErrorKind::UnexpectedArgument { arg }));
                }
                Arg::Help => return Ok(Command::Help((self.help)())),
                Arg::Version => return Ok(Command::Version),
                Arg::Opt(spec, value) => (spec, value),
            };
            let bad = || bad_value(usage, spec, &value);
            match spec.opt {
                ServerOpt::Addr => addr = value.parse().map_err(|_| bad())?,
                ServerOpt::History => {
                    hub.history = parse_int(&value)
                        .filter(|&n: &usize| n >= 1)
                        .ok_or_else(bad)?
                }
                ServerOpt::PollTimeout => {
                    hub.default_poll_timeout = parse_secs(&value).ok_or_else(bad)?;
                    poll_given = Some(value);
                }
                ServerOpt::MaxPollTimeout => {
                    hub.max_poll_timeout = parse_secs(&value).ok_or_else(bad)?;
                    max_poll_given = Some(value);
                }
                ServerOpt::MaxBody => {
                    config.max_body_bytes = parse_bytes(&value)
                        .and_then(|n| usize::try_from(n).ok())
                        .filter(|&n| n >= 1)
                        .ok_or_else(bad)?
                }
                ServerOpt::MaxMessage => {
                    config.max_message_size = parse_bytes(&value).ok_or_else(bad)?
                }
                ServerOpt::MaxFrame => {
                    config.max_frame_size = parse_bytes(&value).ok_or_else(bad)?;
                    frame_given = true;
                }
                ServerOpt::MaxFragments => {
                    config.max_fragments = parse_int(&value).ok_or_else(bad)?
                }
                ServerOpt::PingInterval => {
                    config.ping_interval = if value.eq_ignore_ascii_case("off") {
                        None
                    } else {
                        Some(parse_secs(&value).ok_or_else(bad)?)
                    }
                }
                ServerOpt::PongTimeout => {
                    config.pong_timeout = parse_secs(&value).ok_or_else(bad)?
                }
                ServerOpt::CloseTimeout => {
                    config.close_timeout = parse_secs(&value).ok_or_else(bad)?
                }
                ServerOpt::HandshakeTimeout => {
                    config.handshake_timeout = parse_secs(&value).ok_or_else(bad)?
                }
                ServerOpt::MaxConnections => {
                    config.max_connections = parse_int(&value).ok_or_else(bad)?
                }
                ServerOpt::WriteBuffer => {
                    config.write_buffer_high_water = parse_bytes(&value)
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(bad)?
                }
                ServerOpt::AllowOrigin => {
                    if value.trim().is_empty() {
                        return Err(bad());
                    }
                    origins.push(value);
                }
                ServerOpt::Trace => config.trace = true,
            }
        }

        // Lowering only --max-message must not trip "frame above message": the frame limit
        // follows it down unless it was given explicitly. Likewise the default long-poll
        // hold follows --max-poll-timeout down unless --poll-timeout was given.
        if !frame_given {
            config.max_frame_size = config.max_frame_size.min(config.max_message_size);
        }
        match poll_given {
            None => {
                hub.default_poll_timeout = hub.default_poll_timeout.min(hub.max_poll_timeout);
            }
            Some(value) if hub.default_poll_timeout > hub.max_poll_timeout => {
                let limit_given = max_poll_given.is_some();
                return Err(err(
                    usage,
                    ErrorKind::Exceeds {
                        option: OPT_POLL_TIMEOUT.name,
                        value,
                        limit: OPT_MAX_POLL_TIMEOUT.name,
                        limit_value: max_poll_given
                            .unwrap_or_else(|| fmt_secs(hub.max_poll_timeout)),
                        limit_given,
                    },
                ));
            }
            Some(_) => {}
        }
        if !origins.is_empty() {
            config.allowed_origins = Some(origins);
        }
        config.validate().map_err(|e| {
            err(
                usage,
                ErrorKind::InvalidConfig {
                    option: option_for_field(e.field),
                    field: e.field,
                    reason: e.reason,
                },
            )
        })?;
        Ok(build(addr, config, hub))
    }
}

/// The command-line option that sets a `Config` field, for error messages.
fn option_for_field(field: &'static str) -> &'static str {
    match field {
        "max_message_size" => "--max-message",
        "max_frame_size" => "--max-frame",
        "max_fragments" => "--max-fragments",
        "max_connections" => "--max-connections",
        "write_buffer_high_water" => "--write-buffer",
        "handshake_timeout" => "--handshake-timeout",
        "max_body_bytes" => "--max-body",
        "ping_interval" => "--ping-interval",
        "pong_timeout" => "--pong-timeout",
        "close_timeout" => "--close-timeout",
        "allowed_origins" => "--allow-origin",
        // A field the command line does not set: name the field itself.
        other => other,
    }
}

// ===== `pushwire client` =====

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientOpt {
    Protocol,
    Origin,
    Trace,
}

const EXPECT_PROTOCOL: &str = "a subprotocol name that is an HTTP token (letters, digits and \
     !#$%&'*+-.^_`|~), e.g. chat; repeat the option to offer several";
const EXPECT_PROTOCOL_UNIQUE: &str = "each subprotocol once (RFC 6455 section 4.1)";
const EXPECT_CLIENT_ORIGIN: &str =
    "a non-empty origin of visible ASCII characters, e.g. https://example.com";
const EXPECT_URL: &str = "expected ws://host[:port]/path, e.g. ws://127.0.0.1:9001/";
const WSS_NO_TLS: &str = "wss:// needs TLS, which pushwire does not implement";

const CLIENT_OPTIONS: &[OptSpec<ClientOpt>] = &[
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
];

fn parse_client(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let mut url: Option<String> = None;
    let mut protocols: Vec<String> = Vec::new();
    let mut origin: Option<String> = None;
    let mut trace = false;

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

// ===== `pushwire load` =====

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoadOpt {
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
const EXPECT_TRANSPORT: &str = "longpoll or ws";
const EXPECT_CONCURRENCY: &str = "a number of connections from 1 to 1000000";
const EXPECT_LOAD_URL: &str = "expected ws://host[:port]/path or http://host[:port]/channels/NAME";
/// Longest `--secs` and `--warmup` (the load generator's limit).
const LOAD_MAX_SECS: u64 = 24 * 60 * 60;

const LOAD_OPTIONS: &[OptSpec<LoadOpt>] = &[
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
            _ => None,
        }
    }
}

fn parse_load(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
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
                    _ => return Err(bad()),
                })
            }
            LoadOpt::ConnectConcurrency => config.connect_concurrency = count(1_000_000)? as usize,
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

// ===== value parsers =====

/// A plain decimal integer (no sign, no suffix).
fn parse_int<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An integer with an optional binary suffix: K/KiB, M/MiB, G/GiB, case-insensitive.
fn parse_bytes(s: &str) -> Option<u64> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(end);
    let n: u64 = parse_int(digits)?;
    let multiplier: u64 = match suffix.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(multiplier)
}

/// Seconds as an integer or a decimal (`30`, `0.5`, `.25`, `2.`), above zero and at most
/// [`MAX_SECS`]. Digits beyond nanoseconds are ignored.
fn parse_secs(s: &str) -> Option<Duration> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    let d = Duration::new(secs, nanos);
    (!d.is_zero() && d <= Duration::from_secs(MAX_SECS)).then_some(d)
}

/// " did you mean '--addr'?" for a near miss among `known`, else an empty string.
fn suggest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    known
        .into_iter()
        .map(|k| (edit_distance(given, k), k))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| format!("did you mean '{k}'?"))
        .unwrap_or_default()
}

/// Levenshtein distance, on bytes (option names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ===== help texts =====

/// `16 MiB`, `64 KiB`, `1000 bytes`.
fn fmt_bytes(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

/// `30`, `0.5`.
fn fmt_secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}", d.as_secs_f64())
    }
}

fn top_help() -> String {
    format!(
        "\
pushwire {VERSION}
Real-time push over WebSocket (RFC 6455) and HTTP long-polling, on one event loop.

Usage: pushwire [OPTIONS] [COMMAND]

Commands:
  serve   Serve the pub/sub hub on {SERVE_ADDR}: channels over HTTP long-polling and
          WebSocket, and a demo chat page at / (the default: what 'pushwire' runs)
  echo    Echo every text and binary message back (conformance tests, benchmarks)
  client  Connect to a WebSocket server: stdin lines are sent, messages received printed
  load    Generate load: WebSocket echo, long-poll delivery, or one-to-many fan-out
  help    Print this help, or the help of a command: 'pushwire help serve'

Options:
  -h, --help     Print help
  -V, --version  Print version

Run 'pushwire <COMMAND> --help' for the options of a command.
"
    )
}

fn serve_help() -> String {
    let lib = Config::default();
    let hub = HubConfig::default();
    let ping = match lib.ping_interval {
        Some(d) => fmt_secs(d),
        None => "off".to_string(),
    };
    format!(
        "\
Serve the pub/sub hub: channels over HTTP long-polling, plain polling and WebSocket, one
message history per channel, and a demo chat page at /.

'pushwire' with no arguments runs this with every default. Its limits and timeouts are
the library defaults (not the larger ones of 'pushwire echo').

Usage: pushwire serve [OPTIONS]

HTTP API (NAME: 1 to 128 of A-Z a-z 0-9 _ . -):
  POST /channels/NAME             publish the body (UTF-8 text); 201 {{\"id\":N}}
  GET  /channels/NAME?since=N&timeout=S   long-poll; 200 {{\"messages\":[...],\"next\":M}} or 204
  GET  /channels/NAME (WebSocket) subscribe; each message as {{\"id\":N,\"data\":\"...\"}}
  GET  /healthz                   200 ok
  GET  /                          the demo chat page
  since=N: only messages after id N (absent: only new ones); timeout=0: plain polling.

Options:
      --addr ADDR               Address to listen on [default: {SERVE_ADDR}]
      --history N               Messages retained per channel for late readers (since=N)
                                and reconnecting subscribers; at least 1 [default: {history}]
      --poll-timeout SECS       How long a long-poll without timeout= is held before 204;
                                at most --max-poll-timeout [default: {poll}, or
                                --max-poll-timeout if that is smaller]
      --max-poll-timeout SECS   The longest a long-poll is held, whatever its timeout= asks
                                [default: {max_poll}]
      --max-body BYTES          Largest request body; a bigger one is refused with 413
                                [default: {body}]
      --max-message BYTES       Largest WebSocket message (sum of its fragments); a bigger
                                one is refused with close code 1009 [default: {msg}]
      --max-frame BYTES         Largest frame payload, at most --max-message; a bigger one
                                is refused with 1009 [default: {frame}, or --max-message
                                if that is smaller]
      --ping-interval SECS|off  Send a keepalive ping after this long without a byte from
                                the peer; 'off' disables keepalive [default: {ping}]
      --pong-timeout SECS       After a keepalive ping, drop the peer if no byte arrives
                                within this [default: {pong}]
      --close-timeout SECS      After sending Close, drop the TCP connection if the peer's
                                Close has not arrived within this [default: {close}]
      --handshake-timeout SECS  Time allowed for a complete request, head and body; 408
                                after (slowloris protection) [default: {handshake}]
      --max-connections N       Most simultaneous connections (long-polls included); more
                                are accepted and closed at once [default: {conn}]
      --write-buffer BYTES      Per-connection write-buffer high-water mark: at or above it
                                the server stops reading from that peer [default: {wbuf}]
      --allow-origin ORIGIN     Browser Origin allowed to open a WebSocket; repeat for
                                several. Others get 403; requests without Origin are
                                allowed [default: any origin]
      --trace                   Print every HTTP head and frame crossing the wire to
                                stderr (direction, connection id, FIN, RSV, opcode, mask
                                key, length encoding, payload preview, close codes by
                                name). Slow: for learning and debugging
  -h, --help                    Print help
  -V, --version                 Print version

Values are given as '--opt VALUE' or '--opt=VALUE'.
BYTES: an integer with an optional suffix K, KiB, M, MiB, G or GiB (binary multiples,
       case-insensitive), e.g. 65536, 64K, 16MiB.
SECS:  seconds as an integer or a decimal, e.g. 30 or 0.5 (above 0, at most one year).

Examples:
  pushwire serve --addr 0.0.0.0:8080 --history 100
  curl -d 'hello' http://127.0.0.1:8080/channels/lobby
  curl 'http://127.0.0.1:8080/channels/lobby?since=0&timeout=10'
  pushwire client 'ws://127.0.0.1:8080/channels/lobby?since=0'
",
        history = hub.history,
        poll = fmt_secs(hub.default_poll_timeout),
        max_poll = fmt_secs(hub.max_poll_timeout),
        body = fmt_bytes(lib.max_body_bytes as u64),
        msg = fmt_bytes(lib.max_message_size),
        frame = fmt_bytes(lib.max_frame_size),
        pong = fmt_secs(lib.pong_timeout),
        close = fmt_secs(lib.close_timeout),
        handshake = fmt_secs(lib.handshake_timeout),
        conn = lib.max_connections,
        wbuf = fmt_bytes(lib.write_buffer_high_water as u64),
    )
}

fn echo_help() -> String {
    let lib = Config::default();
    let echo = echo_defaults();
    let ping = match lib.ping_interval {
        Some(d) => fmt_secs(d),
        None => "off".to_string(),
    };
    format!(
        "\
Echo every text and binary message back to its sender.

For conformance tests (Autobahn|Testsuite) and benchmarks, so its limits are larger
than the library defaults:
  max message {echo_msg} (library: {lib_msg}), max frame {echo_frame} (library: {lib_frame}),
  max fragments {echo_frag} (library: {lib_frag}), max connections {echo_conn} (library: {lib_conn}).
Timeouts and the write buffer are the library defaults. Messages of 256 KiB or more
that span reads are echoed piece by piece as they arrive, never buffered whole.

Usage: pushwire echo [OPTIONS]

Options:
      --addr ADDR               Address to listen on [default: {ECHO_ADDR}]
      --max-message BYTES       Largest message (sum of its fragments); a bigger one is
                                refused with close code 1009 [default: {echo_msg}]
      --max-frame BYTES         Largest frame payload, at most --max-message; a bigger one
                                is refused with 1009 [default: {echo_frame}, or
                                --max-message if that is smaller]
      --max-fragments N         Most frames in one fragmented message; more is refused with
                                1009 [default: {echo_frag}]
      --ping-interval SECS|off  Send a keepalive ping after this long without a byte from
                                the peer; 'off' disables keepalive [default: {ping}]
      --pong-timeout SECS       After a keepalive ping, drop the peer if no byte arrives
                                within this [default: {pong}]
      --close-timeout SECS      After sending Close, drop the TCP connection if the peer's
                                Close has not arrived within this [default: {close}]
      --handshake-timeout SECS  Time allowed for a complete request head (slowloris
                                protection) [default: {handshake}]
      --max-connections N       Most simultaneous connections; more are accepted and closed
                                at once [default: {echo_conn}]
      --write-buffer BYTES      Per-connection write-buffer high-water mark: at or above it
                                the server stops reading from that peer [default: {wbuf}]
      --allow-origin ORIGIN     Browser Origin allowed to connect; repeat for several.
                                Others get 403; requests without Origin are allowed
                                [default: any origin]
      --trace                   Print every HTTP head and frame crossing the wire to
                                stderr (direction, connection id, FIN, RSV, opcode, mask
                                key, length encoding, payload preview, close codes by
                                name). Slow: for learning and debugging
  -h, --help                    Print help
  -V, --version                 Print version

Values are given as '--opt VALUE' or '--opt=VALUE'.
BYTES: an integer with an optional suffix K, KiB, M, MiB, G or GiB (binary multiples,
       case-insensitive), e.g. 65536, 64K, 16MiB.
SECS:  seconds as an integer or a decimal, e.g. 30 or 0.5 (above 0, at most one year).
",
        echo_msg = fmt_bytes(echo.max_message_size),
        lib_msg = fmt_bytes(lib.max_message_size),
        echo_frame = fmt_bytes(echo.max_frame_size),
        lib_frame = fmt_bytes(lib.max_frame_size),
        echo_frag = echo.max_fragments,
        lib_frag = lib.max_fragments,
        echo_conn = echo.max_connections,
        lib_conn = lib.max_connections,
        pong = fmt_secs(echo.pong_timeout),
        close = fmt_secs(echo.close_timeout),
        handshake = fmt_secs(echo.handshake_timeout),
        wbuf = fmt_bytes(echo.write_buffer_high_water as u64),
    )
}

fn client_help() -> String {
    "\
A small websocat: connect to a WebSocket server, send each line of standard input as a
text message, and print every message received to standard output, one per line (binary
as '[binary N bytes] <hex of up to 64 bytes>').

At the end of standard input (Ctrl-D) the client sends Close 1000 and waits for the
server's Close. Exit status: 0 after a normal close, 1 if the connection failed or
closed abnormally, 2 for a bad command line.

Usage: pushwire client [OPTIONS] <URL>

Arguments:
  <URL>  ws://host[:port]/path (port 80 if omitted). wss:// is not supported: it needs
         TLS, which pushwire does not implement

Options:
      --protocol NAME    Offer this subprotocol (Sec-WebSocket-Protocol); repeat to offer
                         several, in order of preference. NAME is an HTTP token: letters,
                         digits and !#$%&'*+-.^_`|~ [default: none offered]
      --origin ORIGIN    Send this Origin header, as a browser would
                         [default: no Origin header]
      --trace            Print every HTTP head and frame crossing the wire to stderr
                         (direction, connection id, FIN, RSV, opcode, mask key, length
                         encoding, payload preview, close codes by name)
  -h, --help             Print help
  -V, --version          Print version

Values are given as '--opt VALUE' or '--opt=VALUE'.

Examples:
  pushwire client ws://127.0.0.1:9001/
  echo hello | pushwire client ws://127.0.0.1:9001/
  pushwire client --protocol chat --origin https://example.com ws://localhost:8080/chat
"
    .to_string()
}

fn load_help() -> String {
    let d = LoadConfig::new("");
    format!(
        "\
Generate load against a pushwire server (or any WebSocket echo server), on one thread and
one event loop, with a progress line on stderr once a second and a summary on stdout: a
readable block, then one line 'LOAD mode=... conns=... size=... depth=... msgs=...
msgs_per_s=... mb_per_s=... p50_us=... p99_us=... max_us=... errors=... mismatches=...'.

Modes:
  echo      CONNS WebSocket connections each keep DEPTH messages of SIZE bytes in flight;
            every echoed byte is compared with what was sent. Latency: from queueing a
            message to receiving its whole echo. URL: ws://HOST:PORT/PATH
  longpoll  CONNS keep-alive clients loop 'GET URL?since=<next>&timeout=30' while a
            built-in publisher POSTs --publish-rate messages/s to the same channel.
            Latency: from the publish to its delivery; a gap or a repeat in what a
            client receives is an error. URL: http://HOST:PORT/channels/NAME
  fanout    CONNS waiters on one channel (parked long-polls, or WebSocket subscribers),
            then one publish; per waiter, the time from the publish until its response or
            frame has arrived in full. Repeated --rounds times; each round waits until
            every long-poll has been written again, then 1 s (a parked request gives no
            signal). URL: http:// or ws://HOST:PORT/channels/NAME

Use a channel nobody else publishes to: message ids and contents are checked.

Usage: pushwire load [OPTIONS] <URL>

Arguments:
  <URL>  ws://host[:port]/path or http://host[:port]/channels/NAME (port 80 if omitted)

Options:
      --mode MODE               echo, longpoll or fanout [default: echo]
      --conns N                 Connections (echo), polling clients (longpoll) or waiters
                                (fanout) [default: {conns}]
      --size BYTES              Echo message size; for longpoll and fanout, published
                                bodies are padded to at least this [default: {size}]
      --depth D                 Echo messages in flight per connection [default: {depth}]
      --secs SECS               Measured time (echo, longpoll) [default: {secs}]
      --warmup SECS             Load before measuring (echo, longpoll); 0 for none
                                [default: {warmup}]
      --text                    Echo text messages (valid UTF-8 mixing 1- to 4-byte
                                characters) [default: binary]
      --publish-rate R          Publishes per second (longpoll) [default: {rate}]
      --rounds K                Publishes timed (fanout) [default: {rounds}]
      --transport T             How fan-out waiters wait: longpoll or ws [default: by the
                                URL's scheme, ws:// for ws]
      --connect-concurrency N   Most connections opening at once [default: {conc}]
  -h, --help                    Print help
  -V, --version                 Print version

Connections are opened first (15 s at most), then the run warms up and measures. Every
run is bounded: warmup + secs + 30 s (echo, longpoll), 30 s + 15 s per round (fanout).
Exit status: 0 if clean, 1 on any error or mismatch, 2 for a bad command line.

Each connection is a file descriptor: raise the limit in the shell first for thousands
(e.g. 'ulimit -n 20000'; the run checks and says so). All connections come from one
source address, which allows about 28,000 to one server address and port.

Values are given as '--opt VALUE' or '--opt=VALUE'.
BYTES: an integer with an optional suffix K, KiB, M, MiB, G or GiB (binary multiples,
       case-insensitive), e.g. 20, 64K, 1MiB.
SECS:  seconds as an integer or a decimal, e.g. 10 or 0.5.

Examples:
  pushwire echo &
  pushwire load ws://127.0.0.1:9001/ --conns 100 --size 1KiB --depth 4 --secs 10
  pushwire serve --max-connections 30000 &
  pushwire load http://127.0.0.1:8080/channels/bench --mode longpoll --conns 1000
  pushwire load http://127.0.0.1:8080/channels/fan --mode fanout --conns 10000
  pushwire load ws://127.0.0.1:8080/channels/fan --mode fanout --conns 10000
",
        conns = d.conns,
        size = d.size,
        depth = d.depth,
        secs = fmt_secs(d.secs),
        warmup = fmt_secs(d.warmup),
        rate = d.publish_rate,
        rounds = d.rounds,
        conc = d.connect_concurrency,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, CliError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    fn echo(args: &[&str]) -> (SocketAddr, Config) {
        let mut all = vec!["echo"];
        all.extend_from_slice(args);
        match run(&all) {
            Ok(Command::Echo { addr, config }) => (addr, config),
            other => panic!("{args:?}: expected Echo, got {other:?}"),
        }
    }

    fn echo_err(args: &[&str]) -> CliError {
        let mut all = vec!["echo"];
        all.extend_from_slice(args);
        match run(&all) {
            Err(e) => e,
            Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
        }
    }

    fn client(args: &[&str]) -> (String, Vec<String>, Option<String>, bool) {
        let mut all = vec!["client"];
        all.extend_from_slice(args);
        match run(&all) {
            Ok(Command::Client {
                url,
                protocols,
                origin,
                trace,
            }) => (url, protocols, origin, trace),
            other => panic!("{args:?}: expected Client, got {other:?}"),
        }
    }

    fn client_err(args: &[&str]) -> CliError {
        let mut all = vec!["client"];
        all.extend_from_slice(args);
        match run(&all) {
            Err(e) => e,
            Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
        }
    }

    fn help_text(args: &[&str]) -> String {
        match run(args) {
            Ok(Command::Help(text)) => text,
            other => panic!("{args:?}: expected Help, got {other:?}"),
        }
    }

    // ----- top level -----

    fn serve(args: &[&str]) -> (SocketAddr, Config, HubConfig) {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        match run(&all) {
            Ok(Command::Serve { addr, config, hub }) => (addr, config, hub),
            other => panic!("{args:?}: expected Serve, got {other:?}"),
        }
    }

    fn serve_err(args: &[&str]) -> CliError {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        match run(&all) {
            Err(e) => e,
            Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
        }
    }

    #[test]
    fn help_forms() {
        let top = help_text(&["--help"]);
        assert_eq!(help_text(&["-h"]), top);
        assert_eq!(help_text(&["help"]), top);
        assert_eq!(help_text(&["help", "help"]), top);
        let echo = help_text(&["echo", "--help"]);
        assert_eq!(help_text(&["echo", "-h"]), echo);
        assert_eq!(help_text(&["help", "echo"]), echo);
        // help wins over later options, even bad ones
        assert_eq!(
            help_text(&["echo", "--addr", "1.2.3.4:5", "-h", "--bogus"]),
            echo
        );
        assert_ne!(top, echo);
    }

    #[test]
    fn version_forms() {
        for args in [
            &["--version"][..],
            &["-V"],
            &["echo", "-V"],
            &["echo", "--version"],
        ] {
            assert!(matches!(run(args), Ok(Command::Version)), "{args:?}");
        }
        assert!(!VERSION.is_empty());
        assert!(help_text(&["--help"]).contains(VERSION));
    }

    #[test]
    fn top_help_lists_commands_and_global_options() {
        let text = help_text(&["--help"]);
        for word in ["echo", "client", "help", "--help", "-h", "--version", "-V"] {
            assert!(text.contains(word), "top help lacks {word}");
        }
    }

    #[test]
    fn echo_help_mentions_every_option_and_default() {
        let text = help_text(&["echo", "--help"]);
        for spec in ECHO_OPTIONS {
            assert!(text.contains(spec.name), "echo help lacks {}", spec.name);
        }
        for word in [
            "--help",
            "--version",
            "[default: 127.0.0.1:9001]",
            "[default: 64 MiB]",
            "[default: 1048576]",
            "[default: 30]",
            "[default: 5]",
            "[default: 10]",
            "[default: 65536]",
            "[default: 1 MiB]",
            "[default: any origin]",
            "library: 16 MiB",
            "library: 4096",
            "KiB",
            "GiB",
            "0.5",
            "--opt=VALUE",
            "--trace",
            "mask",
            "close codes by",
        ] {
            assert!(text.contains(word), "echo help lacks {word:?}");
        }
        // Every line fits a 100-column terminal.
        for line in text.lines() {
            assert!(line.len() <= 100, "long help line: {line}");
        }
    }

    #[test]
    fn unknown_subcommand() {
        let e = run(&["ecoh"]).unwrap_err();
        assert!(matches!(&e.kind, ErrorKind::UnknownSubcommand { name } if name == "ecoh"));
        assert_eq!(e.usage, Usage::Top);
        let e = run(&["help", "nope"]).unwrap_err();
        assert!(matches!(&e.kind, ErrorKind::UnknownSubcommand { name } if name == "nope"));
        let text = e.to_string();
        assert!(text.starts_with("error: unknown command 'nope'"), "{text}");
        assert!(
            text.contains("Usage: pushwire [OPTIONS] [COMMAND]"),
            "{text}"
        );
    }

    #[test]
    fn unknown_top_level_option() {
        let e = run(&["--verbose"]).unwrap_err();
        assert!(
            matches!(&e.kind, ErrorKind::UnknownOption { option, .. } if option == "--verbose")
        );
        // an echo option placed before the command gets a hint
        let text = run(&["--addr", "1.2.3.4:5", "echo"])
            .unwrap_err()
            .to_string();
        assert!(text.contains("'pushwire echo --addr'"), "{text}");
        let text = run(&["--verison"]).unwrap_err().to_string();
        assert!(text.contains("did you mean '--version'?"), "{text}");
    }

    #[test]
    fn flags_take_no_value() {
        for args in [&["--help=1"][..], &["--version=x"], &["echo", "--help=yes"]] {
            let e = run(args).unwrap_err();
            assert!(
                matches!(e.kind, ErrorKind::UnexpectedValue { .. }),
                "{args:?}"
            );
        }
    }

    #[test]
    fn unexpected_positional_arguments() {
        let e = echo_err(&["extra"]);
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "extra"));
        assert_eq!(e.usage, Usage::Echo);
        let e = echo_err(&["--addr", "127.0.0.1:1", "-"]);
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "-"));
        let e = run(&["help", "echo", "more"]).unwrap_err();
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "more"));
    }

    // ----- echo defaults and options -----

    #[test]
    fn echo_defaults_are_the_documented_ones() {
        let (addr, c) = echo(&[]);
        let lib = Config::default();
        assert_eq!(addr, "127.0.0.1:9001".parse::<SocketAddr>().unwrap());
        assert_eq!(c.max_message_size, 64 << 20);
        assert_eq!(c.max_frame_size, 64 << 20);
        assert_eq!(c.max_fragments, 1_048_576);
        assert_eq!(c.max_connections, 65_536);
        assert_eq!(c.write_buffer_high_water, 1 << 20);
        assert_eq!(c.ping_interval, Some(Duration::from_secs(30)));
        assert_eq!(c.pong_timeout, Duration::from_secs(30));
        assert_eq!(c.close_timeout, Duration::from_secs(5));
        assert_eq!(c.handshake_timeout, Duration::from_secs(10));
        assert_eq!(c.allowed_origins, None);
        // what echo does not set stays at the library default
        assert_eq!(c.ping_interval, lib.ping_interval);
        assert_eq!(c.max_head_bytes, lib.max_head_bytes);
        assert_eq!(c.read_buffer_size, lib.read_buffer_size);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn addr_option() {
        assert_eq!(
            echo(&["--addr", "0.0.0.0:80"]).0,
            "0.0.0.0:80".parse().unwrap()
        );
        assert_eq!(
            echo(&["--addr=[::1]:9002"]).0,
            "[::1]:9002".parse().unwrap()
        );
        // last one wins
        let (addr, _) = echo(&["--addr", "127.0.0.1:1", "--addr", "127.0.0.1:2"]);
        assert_eq!(addr.port(), 2);
    }

    #[test]
    fn size_options() {
        let (_, c) = echo(&["--max-message", "1MiB", "--max-frame=64k"]);
        assert_eq!(c.max_message_size, 1 << 20);
        assert_eq!(c.max_frame_size, 64 << 10);
        let (_, c) = echo(&["--max-fragments", "7", "--max-connections=3"]);
        assert_eq!(c.max_fragments, 7);
        assert_eq!(c.max_connections, 3);
        let (_, c) = echo(&["--write-buffer", "256K"]);
        assert_eq!(c.write_buffer_high_water, 256 << 10);
    }

    #[test]
    fn lowering_max_message_lowers_the_default_frame_limit() {
        let (_, c) = echo(&["--max-message", "1000"]);
        assert_eq!((c.max_message_size, c.max_frame_size), (1000, 1000));
        // an explicit frame limit above the message limit is an error
        let e = echo_err(&["--max-message", "1K", "--max-frame", "2K"]);
        assert!(
            matches!(
                e.kind,
                ErrorKind::InvalidConfig {
                    option: "--max-frame",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn time_options() {
        let (_, c) = echo(&[
            "--ping-interval",
            "0.5",
            "--pong-timeout=2",
            "--close-timeout",
            "1.25",
            "--handshake-timeout=.1",
        ]);
        assert_eq!(c.ping_interval, Some(Duration::from_millis(500)));
        assert_eq!(c.pong_timeout, Duration::from_secs(2));
        assert_eq!(c.close_timeout, Duration::from_millis(1250));
        assert_eq!(c.handshake_timeout, Duration::from_millis(100));
        assert_eq!(echo(&["--ping-interval", "off"]).1.ping_interval, None);
        assert_eq!(echo(&["--ping-interval=OFF"]).1.ping_interval, None);
    }

    #[test]
    fn allow_origin_accumulates() {
        let (_, c) = echo(&[
            "--allow-origin",
            "https://a.example",
            "--allow-origin=http://b",
        ]);
        assert_eq!(
            c.allowed_origins,
            Some(vec![
                "https://a.example".to_string(),
                "http://b".to_string()
            ])
        );
        let e = echo_err(&["--allow-origin="]);
        assert!(matches!(
            e.kind,
            ErrorKind::BadValue {
                option: "--allow-origin",
                ..
            }
        ));
    }

    #[test]
    fn equals_form_keeps_later_equals_signs() {
        let (_, c) = echo(&["--allow-origin=https://x.example/?a=b"]);
        assert_eq!(
            c.allowed_origins,
            Some(vec!["https://x.example/?a=b".to_string()])
        );
    }

    // ----- value parsers -----

    #[test]
    fn byte_sizes() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("65536", 65536),
            ("1k", 1024),
            ("1K", 1024),
            ("2KiB", 2048),
            ("2kib", 2048),
            ("3m", 3 << 20),
            ("3MiB", 3 << 20),
            ("3MIB", 3 << 20),
            ("1g", 1 << 30),
            ("1GiB", 1 << 30),
        ];
        for &(s, n) in cases {
            assert_eq!(parse_bytes(s), Some(n), "{s}");
        }
        for s in [
            "",
            "k",
            "-1",
            "+1",
            "1.5M",
            "1KB",
            "1 K",
            "1T",
            "1kibx",
            "0x10",
            "18446744073709551616",
            "17179869184G",
        ] {
            assert_eq!(parse_bytes(s), None, "{s:?}");
        }
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_secs("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_secs("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_secs(".25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_secs("2."), Some(Duration::from_secs(2)));
        assert_eq!(parse_secs("0.000000001"), Some(Duration::from_nanos(1)));
        assert_eq!(parse_secs("31536000"), Some(Duration::from_secs(MAX_SECS)));
        for s in [
            "",
            ".",
            "0",
            "0.0",
            "0.0000000001",
            "-1",
            "1e3",
            "inf",
            "NaN",
            "1s",
            "1.2.3",
            " 1",
            "31536001",
            "99999999999999999999",
        ] {
            assert_eq!(parse_secs(s), None, "{s:?}");
        }
    }

    #[test]
    fn formatting_for_help() {
        assert_eq!(fmt_bytes(64 << 20), "64 MiB");
        assert_eq!(fmt_bytes(1 << 30), "1 GiB");
        assert_eq!(fmt_bytes(1536), "1536 bytes");
        assert_eq!(fmt_bytes(3 << 10), "3 KiB");
        assert_eq!(fmt_secs(Duration::from_secs(5)), "5");
        assert_eq!(fmt_secs(Duration::from_millis(500)), "0.5");
    }

    // ----- errors -----

    #[test]
    fn unknown_option_names_command_and_suggests() {
        let e = echo_err(&["--adr", "127.0.0.1:1"]);
        assert!(matches!(&e.kind, ErrorKind::UnknownOption { option, .. } if option == "--adr"));
        assert_eq!(
            e.to_string(),
            "error: unknown option '--adr' for 'pushwire echo' (did you mean '--addr'?)\n\n\
             Usage: pushwire echo [OPTIONS]\n\n\
             Run 'pushwire echo --help' for more."
        );
        // no suggestion when nothing is close; `--opt=value` reports only the name
        let text = echo_err(&["--completely-different=3"]).to_string();
        assert!(
            text.starts_with(
                "error: unknown option '--completely-different' for 'pushwire echo'\n"
            ),
            "{text}"
        );
        let e = echo_err(&["-x"]);
        assert!(matches!(&e.kind, ErrorKind::UnknownOption { option, .. } if option == "-x"));
    }

    #[test]
    fn missing_values() {
        for spec in ECHO_OPTIONS {
            let Some(expected) = spec.expected else {
                continue;
            };
            let e = echo_err(&[spec.name]);
            assert_eq!(
                e.kind,
                ErrorKind::MissingValue {
                    option: spec.name,
                    expected
                }
            );
        }
        for spec in CLIENT_OPTIONS {
            let Some(expected) = spec.expected else {
                continue;
            };
            let e = client_err(&["ws://h/", spec.name]);
            assert_eq!(
                e.kind,
                ErrorKind::MissingValue {
                    option: spec.name,
                    expected
                }
            );
            assert_eq!(e.usage, Usage::Client);
        }
        // an option where the value should be
        let e = echo_err(&["--addr", "--max-frame", "1M"]);
        assert!(matches!(
            e.kind,
            ErrorKind::MissingValue {
                option: "--addr",
                ..
            }
        ));
        let text = e.to_string();
        assert!(text.starts_with("error: option '--addr' requires a value: an IP address"));
    }

    #[test]
    fn bad_values_name_option_and_expectation() {
        let cases: &[(&str, &str)] = &[
            ("--addr", "localhost"),
            ("--addr", "127.0.0.1"),
            ("--max-message", "lots"),
            ("--max-frame", "1.5M"),
            ("--max-fragments", "4294967296"),
            ("--max-fragments", "-1"),
            ("--ping-interval", "never"),
            ("--ping-interval", "0"),
            ("--pong-timeout", "1e3"),
            ("--close-timeout", "-5"),
            ("--handshake-timeout", "10s"),
            ("--max-connections", "1k"),
            ("--write-buffer", "1X"),
        ];
        for &(option, value) in cases {
            for e in [
                echo_err(&[option, value]),
                echo_err(&[&format!("{option}={value}")]),
            ] {
                match &e.kind {
                    ErrorKind::BadValue {
                        option: o,
                        value: v,
                        expected,
                    } => {
                        assert_eq!((*o, v.as_str()), (option, value));
                        let text = e.to_string();
                        assert!(
                            text.starts_with(&format!(
                                "error: invalid value '{value}' for '{option}': expected {expected}"
                            )),
                            "{text}"
                        );
                    }
                    other => panic!("{option} {value}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn config_validation_errors_name_the_option() {
        let cases: &[(&[&str], &str)] = &[
            (&["--max-fragments", "0"], "--max-fragments"),
            (&["--max-connections", "0"], "--max-connections"),
            (&["--max-connections", "4294967296"], "--max-connections"),
            (&["--write-buffer", "0"], "--write-buffer"),
            (&["--max-frame", "65M"], "--max-frame"),
            (&["--max-message", "9223372036854775808"], "--max-message"),
        ];
        for &(args, option) in cases {
            let e = echo_err(args);
            assert!(
                matches!(e.kind, ErrorKind::InvalidConfig { option: o, .. } if o == option),
                "{args:?}: {e}"
            );
            assert!(
                e.to_string()
                    .starts_with(&format!("error: invalid value for '{option}': "))
            );
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(suggest("--max-msg", ["--max-message"]), "");
        assert_eq!(
            suggest("--max-frames", ["--max-frame", "--max-fragments"]),
            "did you mean '--max-frame'?"
        );
    }

    // ----- --trace -----

    #[test]
    fn echo_trace_flag() {
        assert!(!echo(&[]).1.trace);
        let (addr, c) = echo(&["--trace"]);
        assert!(c.trace);
        assert_eq!(addr, "127.0.0.1:9001".parse::<SocketAddr>().unwrap());
        // a flag mixes with options, in any order, and may be repeated
        let (addr, c) = echo(&[
            "--addr",
            "127.0.0.1:7",
            "--trace",
            "--max-frame=1K",
            "--trace",
        ]);
        assert!(c.trace);
        assert_eq!(addr.port(), 7);
        assert_eq!(c.max_frame_size, 1024);
        // a flag is not followed by a value: the next argument is not consumed
        let e = echo_err(&["--trace", "1"]);
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "1"));
    }

    #[test]
    fn trace_takes_no_value() {
        for e in [
            echo_err(&["--trace=1"]),
            echo_err(&["--trace="]),
            client_err(&["ws://h/", "--trace=yes"]),
        ] {
            assert!(
                matches!(&e.kind, ErrorKind::UnexpectedValue { option } if option == "--trace"),
                "{e}"
            );
            assert!(
                e.to_string()
                    .starts_with("error: option '--trace' takes no value"),
                "{e}"
            );
        }
        assert_eq!(echo_err(&["--trace=1"]).usage, Usage::Echo);
        assert_eq!(client_err(&["--trace=1", "ws://h/"]).usage, Usage::Client);
    }

    #[test]
    fn trace_suggested_for_near_misses() {
        let text = echo_err(&["--trac"]).to_string();
        assert!(text.contains("did you mean '--trace'?"), "{text}");
        let text = client_err(&["--tracee", "ws://h/"]).to_string();
        assert!(text.contains("did you mean '--trace'?"), "{text}");
        let text = client_err(&["--protocl", "chat"]).to_string();
        assert!(text.contains("did you mean '--protocol'?"), "{text}");
    }

    // ----- client -----

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

    #[test]
    fn client_help_mentions_every_option() {
        let text = help_text(&["client", "--help"]);
        for spec in CLIENT_OPTIONS {
            assert!(text.contains(spec.name), "client help lacks {}", spec.name);
        }
        for word in [
            "Usage: pushwire client [OPTIONS] <URL>",
            "--protocol NAME",
            "--origin ORIGIN",
            "--help",
            "--version",
            "websocat",
            "[binary N bytes]",
            "ws://host[:port]/path",
            "wss://",
            "TLS",
            "!#$%&'*+-.^_`|~",
            "Ctrl-D",
            "Close 1000",
            "Exit status: 0",
            "pushwire client ws://127.0.0.1:9001/\n",
            "echo hello | pushwire client ws://127.0.0.1:9001/\n",
            "mask key",
            "--opt=VALUE",
        ] {
            assert!(text.contains(word), "client help lacks {word:?}");
        }
        for line in text.lines() {
            assert!(line.len() <= 100, "long help line: {line}");
        }
    }

    #[test]
    fn client_in_top_level() {
        let top = help_text(&["--help"]);
        assert!(top.contains("\n  client  "), "{top}");
        assert!(top.contains("\n  echo  "), "{top}");
        assert!(top.contains("\n  help  "), "{top}");
        let text = run(&["clinet"]).unwrap_err().to_string();
        assert!(
            text.contains("(available: serve, echo, client, load, help)"),
            "{text}"
        );
        // a client option placed before the command gets a hint
        let text = run(&["--origin", "x", "client"]).unwrap_err().to_string();
        assert!(text.contains("'pushwire client URL --origin'"), "{text}");
        let text = run(&["--trace", "echo"]).unwrap_err().to_string();
        assert!(
            text.contains("'pushwire echo --trace' or 'pushwire client URL --trace'"),
            "{text}"
        );
    }

    // ----- serve -----

    #[test]
    fn no_arguments_serves_with_the_defaults() {
        let Ok(Command::Serve { addr, config, hub }) = run(&[]) else {
            panic!("expected Serve");
        };
        assert_eq!(addr, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert_eq!(hub, HubConfig::default());
        let lib = Config::default();
        assert_eq!(config.max_body_bytes, lib.max_body_bytes);
        assert_eq!(config.max_message_size, lib.max_message_size);
        assert_eq!(config.max_frame_size, lib.max_frame_size);
        assert_eq!(config.max_fragments, lib.max_fragments);
        assert_eq!(config.max_connections, lib.max_connections);
        assert_eq!(config.handshake_timeout, lib.handshake_timeout);
        assert_eq!(config.ping_interval, lib.ping_interval);
        assert_eq!(config.allowed_origins, None);
        assert!(!config.trace);
        // `pushwire serve` is the same thing
        let (addr2, config2, hub2) = serve(&[]);
        assert_eq!((addr2, hub2), (addr, hub));
        assert_eq!(format!("{config2:?}"), format!("{config:?}"));
    }

    #[test]
    fn serve_defaults_are_the_documented_ones() {
        let (addr, c, hub) = serve(&[]);
        assert_eq!(addr.to_string(), "127.0.0.1:8080");
        assert_eq!(hub.history, 1024);
        assert_eq!(hub.default_poll_timeout, Duration::from_secs(30));
        assert_eq!(hub.max_poll_timeout, Duration::from_secs(120));
        assert_eq!(c.max_body_bytes, 64 << 10);
        assert_eq!(c.max_message_size, 16 << 20);
        assert_eq!(c.max_frame_size, 16 << 20);
        assert_eq!(c.max_connections, 16 * 1024);
        assert_eq!(c.write_buffer_high_water, 1 << 20);
        assert_eq!(c.handshake_timeout, Duration::from_secs(10));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn serve_options() {
        let (addr, c, hub) = serve(&[
            "--addr",
            "0.0.0.0:80",
            "--history",
            "5",
            "--poll-timeout",
            "2.5",
            "--max-poll-timeout",
            "60",
            "--max-body",
            "1MiB",
            "--max-message",
            "256K",
            "--max-frame",
            "16K",
            "--ping-interval",
            "off",
            "--pong-timeout",
            "3",
            "--close-timeout",
            "0.5",
            "--handshake-timeout",
            "4",
            "--max-connections",
            "100",
            "--write-buffer",
            "64K",
            "--allow-origin",
            "https://a.example",
            "--allow-origin",
            "http://b",
            "--trace",
        ]);
        assert_eq!(addr, "0.0.0.0:80".parse().unwrap());
        assert_eq!(hub.history, 5);
        assert_eq!(hub.default_poll_timeout, Duration::from_millis(2500));
        assert_eq!(hub.max_poll_timeout, Duration::from_secs(60));
        assert_eq!(c.max_body_bytes, 1 << 20);
        assert_eq!(c.max_message_size, 256 << 10);
        assert_eq!(c.max_frame_size, 16 << 10);
        assert_eq!(c.ping_interval, None);
        assert_eq!(c.pong_timeout, Duration::from_secs(3));
        assert_eq!(c.close_timeout, Duration::from_millis(500));
        assert_eq!(c.handshake_timeout, Duration::from_secs(4));
        assert_eq!(c.max_connections, 100);
        assert_eq!(c.write_buffer_high_water, 64 << 10);
        assert_eq!(
            c.allowed_origins,
            Some(vec![
                "https://a.example".to_string(),
                "http://b".to_string()
            ])
        );
        assert!(c.trace);
        // `=` forms of the same
        let (addr, c, hub) = serve(&[
            "--addr=[::1]:8081",
            "--history=7",
            "--poll-timeout=1",
            "--max-poll-timeout=2",
            "--max-body=100",
            "--max-message=2K",
            "--max-frame=1K",
            "--ping-interval=9",
            "--pong-timeout=8",
            "--close-timeout=7",
            "--handshake-timeout=6",
            "--max-connections=5",
            "--write-buffer=4K",
            "--allow-origin=https://x/?a=b",
        ]);
        assert_eq!(addr, "[::1]:8081".parse().unwrap());
        assert_eq!(hub.history, 7);
        assert_eq!(hub.default_poll_timeout, Duration::from_secs(1));
        assert_eq!(hub.max_poll_timeout, Duration::from_secs(2));
        assert_eq!(c.max_body_bytes, 100);
        assert_eq!(c.max_message_size, 2048);
        assert_eq!(c.max_frame_size, 1024);
        assert_eq!(c.ping_interval, Some(Duration::from_secs(9)));
        assert_eq!(c.pong_timeout, Duration::from_secs(8));
        assert_eq!(c.close_timeout, Duration::from_secs(7));
        assert_eq!(c.handshake_timeout, Duration::from_secs(6));
        assert_eq!(c.max_connections, 5);
        assert_eq!(c.write_buffer_high_water, 4096);
        assert_eq!(c.allowed_origins, Some(vec!["https://x/?a=b".to_string()]));
        assert!(!c.trace);
        // last one wins
        assert_eq!(serve(&["--history", "1", "--history=2"]).2.history, 2);
    }

    #[test]
    fn serve_follow_down_rules() {
        // lowering only --max-message lowers the frame limit
        let (_, c, _) = serve(&["--max-message", "1000"]);
        assert_eq!((c.max_message_size, c.max_frame_size), (1000, 1000));
        // lowering only --max-poll-timeout lowers the default hold
        let (_, _, hub) = serve(&["--max-poll-timeout", "10"]);
        assert_eq!(hub.max_poll_timeout, Duration::from_secs(10));
        assert_eq!(hub.default_poll_timeout, Duration::from_secs(10));
        // raising only --max-poll-timeout leaves the default hold alone
        let (_, _, hub) = serve(&["--max-poll-timeout=600"]);
        assert_eq!(hub.default_poll_timeout, Duration::from_secs(30));
        // equal is fine; raising the default within the default cap is fine
        let (_, _, hub) = serve(&["--poll-timeout=5", "--max-poll-timeout=5"]);
        assert_eq!(hub.default_poll_timeout, hub.max_poll_timeout);
        assert_eq!(
            serve(&["--poll-timeout", "120"]).2.default_poll_timeout,
            Duration::from_secs(120)
        );
    }

    #[test]
    fn serve_poll_timeout_above_max_is_an_error() {
        let e = serve_err(&["--poll-timeout", "60", "--max-poll-timeout=30"]);
        assert_eq!(
            e.kind,
            ErrorKind::Exceeds {
                option: "--poll-timeout",
                value: "60".to_string(),
                limit: "--max-poll-timeout",
                limit_value: "30".to_string(),
                limit_given: true,
            }
        );
        assert_eq!(e.usage, Usage::Serve);
        assert_eq!(
            e.to_string(),
            "error: '--poll-timeout 60' exceeds '--max-poll-timeout 30': lower \
             '--poll-timeout' or raise '--max-poll-timeout'\n\n\
             Usage: pushwire serve [OPTIONS]\n\n\
             Run 'pushwire serve --help' for more."
        );
        // the order of the options does not matter
        let e = serve_err(&["--max-poll-timeout=30", "--poll-timeout=30.5"]);
        assert!(matches!(e.kind, ErrorKind::Exceeds { .. }), "{e}");
        // above the default cap
        let text = serve_err(&["--poll-timeout", "121"]).to_string();
        assert!(
            text.starts_with(
                "error: '--poll-timeout 121' exceeds '--max-poll-timeout' (120 by default): \
                 lower '--poll-timeout' or raise '--max-poll-timeout'"
            ),
            "{text}"
        );
    }

    #[test]
    fn serve_bad_values() {
        let cases: &[(&str, &str)] = &[
            ("--addr", "localhost:8080"),
            ("--history", "0"),
            ("--history", "-1"),
            ("--history", "1k"),
            ("--history", "18446744073709551616"),
            ("--poll-timeout", "0"),
            ("--poll-timeout", "off"),
            ("--max-poll-timeout", "2m"),
            ("--max-body", "0"),
            ("--max-body", "lots"),
            ("--max-body", "1.5K"),
            ("--max-message", "x"),
            ("--max-frame", "1T"),
            ("--ping-interval", "never"),
            ("--pong-timeout", "0"),
            ("--close-timeout", "-1"),
            ("--handshake-timeout", "10s"),
            ("--max-connections", "many"),
            ("--write-buffer", "1X"),
            ("--allow-origin", " "),
        ];
        for &(option, value) in cases {
            for e in [
                serve_err(&[option, value]),
                serve_err(&[&format!("{option}={value}")]),
            ] {
                match &e.kind {
                    ErrorKind::BadValue {
                        option: o,
                        value: v,
                        expected,
                    } => {
                        assert_eq!((*o, v.as_str()), (option, value));
                        assert!(
                            e.to_string().starts_with(&format!(
                                "error: invalid value '{value}' for '{option}': expected {expected}"
                            )),
                            "{e}"
                        );
                        assert!(e.to_string().contains("Usage: pushwire serve [OPTIONS]"));
                    }
                    other => panic!("{option} {value}: {other:?}"),
                }
            }
        }
        let text = serve_err(&["--history", "0"]).to_string();
        assert!(text.contains("at least 1"), "{text}");
        // validation errors name the option
        for (args, option) in [
            (&["--max-connections", "0"][..], "--max-connections"),
            (&["--write-buffer", "0"], "--write-buffer"),
            (&["--max-frame", "17M"], "--max-frame"),
        ] {
            let e = serve_err(args);
            assert!(
                matches!(e.kind, ErrorKind::InvalidConfig { option: o, .. } if o == option),
                "{args:?}: {e}"
            );
        }
    }

    #[test]
    fn serve_missing_values_and_unknown_options() {
        for spec in SERVE_OPTIONS {
            let Some(expected) = spec.expected else {
                continue;
            };
            let e = serve_err(&[spec.name]);
            assert_eq!(
                e.kind,
                ErrorKind::MissingValue {
                    option: spec.name,
                    expected
                }
            );
            assert_eq!(e.usage, Usage::Serve);
        }
        let text = serve_err(&["--histroy", "5"]).to_string();
        assert!(
            text.starts_with(
                "error: unknown option '--histroy' for 'pushwire serve' \
                 (did you mean '--history'?)"
            ),
            "{text}"
        );
        // echo's extra option is not serve's, and serve's hub options are not echo's
        assert!(matches!(
            serve_err(&["--max-fragments", "1"]).kind,
            ErrorKind::UnknownOption { .. }
        ));
        for option in [
            "--history",
            "--poll-timeout",
            "--max-poll-timeout",
            "--max-body",
        ] {
            let e = echo_err(&[option, "1"]);
            assert!(
                matches!(&e.kind, ErrorKind::UnknownOption { option: o, .. } if o == option),
                "{e}"
            );
        }
        assert!(matches!(
            serve_err(&["extra"]).kind,
            ErrorKind::UnexpectedArgument { .. }
        ));
        assert!(matches!(
            serve_err(&["--trace=1"]).kind,
            ErrorKind::UnexpectedValue { .. }
        ));
        // a serve option before any command gets a hint
        let text = run(&["--history", "5"]).unwrap_err().to_string();
        assert!(text.contains("'pushwire serve --history'"), "{text}");
        let text = run(&["--addr", "0.0.0.0:1"]).unwrap_err().to_string();
        assert!(
            text.contains("'pushwire serve --addr' or 'pushwire echo --addr'"),
            "{text}"
        );
    }

    #[test]
    fn serve_help_forms() {
        let text = help_text(&["serve", "--help"]);
        assert_eq!(help_text(&["serve", "-h"]), text);
        assert_eq!(help_text(&["help", "serve"]), text);
        assert_eq!(
            help_text(&["serve", "--history", "5", "-h", "--bogus"]),
            text
        );
        assert_ne!(text, help_text(&["echo", "--help"]));
        assert_ne!(text, help_text(&["--help"]));
        assert!(matches!(run(&["serve", "-V"]), Ok(Command::Version)));
    }

    #[test]
    fn serve_help_mentions_every_option_and_default() {
        let text = help_text(&["serve", "--help"]);
        for spec in SERVE_OPTIONS {
            assert!(text.contains(spec.name), "serve help lacks {}", spec.name);
        }
        for word in [
            "Usage: pushwire serve [OPTIONS]",
            "--help",
            "--version",
            "[default: 127.0.0.1:8080]",
            "[default: 1024]",
            "[default: 30, or",
            "[default: 120]",
            "[default: 64 KiB]",
            "[default: 16 MiB]",
            "[default: 16 MiB, or --max-message",
            "[default: 10]",
            "[default: 5]",
            "[default: 16384]",
            "[default: 1 MiB]",
            "[default: any origin]",
            "library defaults",
            "'pushwire' with no arguments",
            "413",
            "408",
            "head and body",
            "POST /channels/NAME             publish the body (UTF-8 text); 201 {\"id\":N}",
            "GET  /channels/NAME?since=N&timeout=S   long-poll; \
             200 {\"messages\":[...],\"next\":M} or 204",
            "GET  /channels/NAME (WebSocket) subscribe; each message as \
             {\"id\":N,\"data\":\"...\"}",
            "GET  /healthz                   200 ok",
            "GET  /                          the demo chat page",
            "--opt=VALUE",
            "KiB",
            "0.5",
        ] {
            assert!(text.contains(word), "serve help lacks {word:?}");
        }
        for line in text.lines() {
            assert!(line.len() <= 100, "long help line: {line}");
        }
    }

    #[test]
    fn top_help_lists_serve_first_as_the_default() {
        let top = help_text(&["--help"]);
        assert_eq!(help_text(&["help"]), top);
        let pos = |cmd: &str| {
            top.find(&format!("\n  {cmd}  "))
                .unwrap_or_else(|| panic!("top help lacks {cmd}: {top}"))
        };
        assert!(pos("serve") < pos("echo"));
        assert!(pos("echo") < pos("client"));
        assert!(pos("client") < pos("help"));
        let serve_entry = &top[pos("serve")..pos("echo")];
        assert!(serve_entry.contains("default"), "{serve_entry}");
        assert!(top.contains("Usage: pushwire [OPTIONS] [COMMAND]"), "{top}");
        for line in top.lines() {
            assert!(line.len() <= 100, "long help line: {line}");
        }
        let text = run(&["serv"]).unwrap_err().to_string();
        assert!(
            text.contains("(available: serve, echo, client, load, help)"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod load_tests {
    use super::*;

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

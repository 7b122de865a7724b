//! Command-line parsing for the `pushwire` binary, standard library only.
//!
//! `main` calls [`parse`] with `std::env::args().skip(1)` and acts on the [`Command`]:
//! it prints [`Command::Help`] on stdout and exits 0, prints a [`CliError`] on stderr and
//! exits 2.
//!
//! Syntax: `pushwire [-h|-V] COMMAND [OPTIONS]`. Options take their value as
//! `--opt VALUE` or `--opt=VALUE`; a repeated option overrides the earlier one, except
//! `--allow-origin`, which accumulates.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use pushwire::Config;

/// The version printed by `pushwire --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

// `pushwire echo` serves conformance tests and benchmarks, so its limits are larger than
// the library's defaults (Autobahn's 9.* cases send 16 MiB messages and 65536 fragments).
const ECHO_ADDR: &str = "127.0.0.1:9001";
const ECHO_MAX_MESSAGE: u64 = 64 << 20;
const ECHO_MAX_FRAME: u64 = 64 << 20;
const ECHO_MAX_FRAGMENTS: u32 = 1 << 20;
const ECHO_MAX_CONNECTIONS: usize = 64 * 1024;

/// Longest accepted duration: one year. Far enough for any timeout, and small enough that
/// `Instant + duration` cannot overflow anywhere in the server.
const MAX_SECS: u64 = 365 * 24 * 60 * 60;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// `pushwire echo`: echo every text/binary message back (conformance and benchmarks).
    Echo {
        /// Address to listen on.
        addr: SocketAddr,
        /// Server configuration, already validated.
        config: Config,
    },
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
    Echo,
}

impl Usage {
    fn command(self) -> &'static str {
        match self {
            Usage::Top => "pushwire",
            Usage::Echo => "pushwire echo",
        }
    }

    fn line(self) -> &'static str {
        match self {
            Usage::Top => "pushwire [OPTIONS] <COMMAND>",
            Usage::Echo => "pushwire echo [OPTIONS]",
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
            ErrorKind::UnknownSubcommand { name } => {
                write!(f, "error: unknown command '{name}' (available: echo, help)")?
            }
            ErrorKind::UnexpectedArgument { arg } => {
                write!(f, "error: unexpected argument '{arg}' for '{cmd}'")?
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
        // No command. A `serve` command will become the default later.
        return Ok(Command::Help(top_help()));
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
        "echo" => parse_echo(args),
        _ if is_option(&arg) => {
            let hint = if ECHO_OPTIONS.iter().any(|o| o.name == name) {
                format!("options of a command go after it: 'pushwire echo {name}'")
            } else {
                suggest(name, ["--help", "--version"])
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
        Some("echo") => echo_help(),
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

// ===== `pushwire echo` =====

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EchoOpt {
    Addr,
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
}

struct OptSpec {
    name: &'static str,
    opt: EchoOpt,
    /// Completes "expected ..." in error messages.
    expected: &'static str,
}

const EXPECT_ADDR: &str = "an IP address and port, e.g. 127.0.0.1:9001 or [::1]:9001";
const EXPECT_BYTES: &str = "a byte count: an integer with an optional suffix K, KiB, M, MiB, G \
     or GiB (binary multiples), e.g. 65536 or 64MiB";
const EXPECT_SECS: &str =
    "a number of seconds above 0 and at most 31536000 (one year), e.g. 30 or 0.5";
const EXPECT_SECS_OFF: &str =
    "a number of seconds above 0 and at most 31536000 (one year), e.g. 30 or 0.5, or 'off'";
const EXPECT_U32: &str = "an integer from 0 to 4294967295";
const EXPECT_USIZE: &str = "a non-negative integer";
const EXPECT_ORIGIN: &str = "a non-empty origin, e.g. https://example.com";

const ECHO_OPTIONS: &[OptSpec] = &[
    OptSpec {
        name: "--addr",
        opt: EchoOpt::Addr,
        expected: EXPECT_ADDR,
    },
    OptSpec {
        name: "--max-message",
        opt: EchoOpt::MaxMessage,
        expected: EXPECT_BYTES,
    },
    OptSpec {
        name: "--max-frame",
        opt: EchoOpt::MaxFrame,
        expected: EXPECT_BYTES,
    },
    OptSpec {
        name: "--max-fragments",
        opt: EchoOpt::MaxFragments,
        expected: EXPECT_U32,
    },
    OptSpec {
        name: "--ping-interval",
        opt: EchoOpt::PingInterval,
        expected: EXPECT_SECS_OFF,
    },
    OptSpec {
        name: "--pong-timeout",
        opt: EchoOpt::PongTimeout,
        expected: EXPECT_SECS,
    },
    OptSpec {
        name: "--close-timeout",
        opt: EchoOpt::CloseTimeout,
        expected: EXPECT_SECS,
    },
    OptSpec {
        name: "--handshake-timeout",
        opt: EchoOpt::HandshakeTimeout,
        expected: EXPECT_SECS,
    },
    OptSpec {
        name: "--max-connections",
        opt: EchoOpt::MaxConnections,
        expected: EXPECT_USIZE,
    },
    OptSpec {
        name: "--write-buffer",
        opt: EchoOpt::WriteBuffer,
        expected: EXPECT_BYTES,
    },
    OptSpec {
        name: "--allow-origin",
        opt: EchoOpt::AllowOrigin,
        expected: EXPECT_ORIGIN,
    },
];

/// The configuration `pushwire echo` starts from.
fn echo_defaults() -> Config {
    let mut c = Config::default();
    c.max_message_size = ECHO_MAX_MESSAGE;
    c.max_frame_size = ECHO_MAX_FRAME;
    c.max_fragments = ECHO_MAX_FRAGMENTS;
    c.max_connections = ECHO_MAX_CONNECTIONS;
    c
}

fn parse_echo(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let mut addr: SocketAddr = ECHO_ADDR.parse().expect("default address parses");
    let mut config = echo_defaults();
    let mut frame_given = false;
    let mut origins: Vec<String> = Vec::new();

    while let Some(arg) = args.next() {
        if !is_option(&arg) {
            return Err(err(Usage::Echo, ErrorKind::UnexpectedArgument { arg }));
        }
        let (name, inline) = split_option(&arg);
        if matches!(name, "-h" | "--help" | "-V" | "--version") {
            if inline.is_some() {
                return Err(err(
                    Usage::Echo,
                    ErrorKind::UnexpectedValue {
                        option: name.to_string(),
                    },
                ));
            }
            return Ok(if matches!(name, "-h" | "--help") {
                Command::Help(echo_help())
            } else {
                Command::Version
            });
        }
        let Some(spec) = ECHO_OPTIONS.iter().find(|o| o.name == name) else {
            let hint = suggest(
                name,
                ECHO_OPTIONS
                    .iter()
                    .map(|o| o.name)
                    .chain(["--help", "--version"]),
            );
            return Err(err(
                Usage::Echo,
                ErrorKind::UnknownOption {
                    option: name.to_string(),
                    hint,
                },
            ));
        };
        let value = match inline {
            Some(v) => v.to_string(),
            None => match args.next() {
                // `--addr --max-frame 1M`: the value was forgotten.
                Some(v) if !v.starts_with("--") => v,
                _ => {
                    return Err(err(
                        Usage::Echo,
                        ErrorKind::MissingValue {
                            option: spec.name,
                            expected: spec.expected,
                        },
                    ));
                }
            },
        };
        let bad = || {
            err(
                Usage::Echo,
                ErrorKind::BadValue {
                    option: spec.name,
                    value: value.clone(),
                    expected: spec.expected,
                },
            )
        };
        match spec.opt {
            EchoOpt::Addr => addr = value.parse().map_err(|_| bad())?,
            EchoOpt::MaxMessage => config.max_message_size = parse_bytes(&value).ok_or_else(bad)?,
            EchoOpt::MaxFrame => {
                config.max_frame_size = parse_bytes(&value).ok_or_else(bad)?;
                frame_given = true;
            }
            EchoOpt::MaxFragments => config.max_fragments = parse_int(&value).ok_or_else(bad)?,
            EchoOpt::PingInterval => {
                config.ping_interval = if value.eq_ignore_ascii_case("off") {
                    None
                } else {
                    Some(parse_secs(&value).ok_or_else(bad)?)
                }
            }
            EchoOpt::PongTimeout => config.pong_timeout = parse_secs(&value).ok_or_else(bad)?,
            EchoOpt::CloseTimeout => config.close_timeout = parse_secs(&value).ok_or_else(bad)?,
            EchoOpt::HandshakeTimeout => {
                config.handshake_timeout = parse_secs(&value).ok_or_else(bad)?
            }
            EchoOpt::MaxConnections => {
                config.max_connections = parse_int(&value).ok_or_else(bad)?
            }
            EchoOpt::WriteBuffer => {
                config.write_buffer_high_water = parse_bytes(&value)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(bad)?
            }
            EchoOpt::AllowOrigin => {
                if value.trim().is_empty() {
                    return Err(bad());
                }
                origins.push(value);
            }
        }
    }

    // Lowering only --max-message must not trip "frame above message": the frame limit
    // follows it down unless it was given explicitly.
    if !frame_given {
        config.max_frame_size = config.max_frame_size.min(config.max_message_size);
    }
    if !origins.is_empty() {
        config.allowed_origins = Some(origins);
    }
    config.validate().map_err(|e| {
        err(
            Usage::Echo,
            ErrorKind::InvalidConfig {
                option: option_for_field(e.field),
                field: e.field,
                reason: e.reason,
            },
        )
    })?;
    Ok(Command::Echo { addr, config })
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
        "ping_interval" => "--ping-interval",
        "pong_timeout" => "--pong-timeout",
        "close_timeout" => "--close-timeout",
        "allowed_origins" => "--allow-origin",
        // A field the command line does not set: name the field itself.
        other => other,
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

Usage: pushwire [OPTIONS] <COMMAND>

Commands:
  echo  Echo every text and binary message back (conformance tests, benchmarks)
  help  Print this help, or the help of a command: 'pushwire help echo'

Options:
  -h, --help     Print help
  -V, --version  Print version

Run 'pushwire <COMMAND> --help' for the options of a command.
"
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
Timeouts and the write buffer are the library defaults.

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

    fn help_text(args: &[&str]) -> String {
        match run(args) {
            Ok(Command::Help(text)) => text,
            other => panic!("{args:?}: expected Help, got {other:?}"),
        }
    }

    // ----- top level -----

    #[test]
    fn no_arguments_prints_top_help() {
        let text = help_text(&[]);
        assert!(text.contains("Usage: pushwire"));
        assert!(text.contains("echo"));
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
        for word in ["echo", "help", "--help", "-h", "--version", "-V"] {
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
            text.contains("Usage: pushwire [OPTIONS] <COMMAND>"),
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
            let e = echo_err(&[spec.name]);
            assert_eq!(
                e.kind,
                ErrorKind::MissingValue {
                    option: spec.name,
                    expected: spec.expected
                }
            );
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
}

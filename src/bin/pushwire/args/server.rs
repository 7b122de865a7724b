//! `pushwire serve` and `pushwire echo`: the two server commands share their option
//! reader ([`ServerCommand`]) and most options; each has its own table and defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use pushwire::Config;
use pushwire::deflate::WindowBits;
use pushwire::deflate::compress::Level;
use pushwire::http::origin::AllowedOrigins;
use pushwire::hub::engine::RedisOptions;
use pushwire::hub::{HubConfig, Storage};
use pushwire::log::AccessLog;
use pushwire::redis::RedisUrl;
use pushwire::storage::disk::{Fsync, LogOptions};
use pushwire::ws::compression::Compression;
use pushwire::ws::permessage_deflate::DeflateConfig;

use super::Command;
use super::error::{CliError, ErrorKind, Usage, err};
use super::help::{echo_help, serve_help};
use super::options::{Arg, OptSpec, bad_value, next_arg};
use super::values::{fmt_secs, parse_bytes, parse_int, parse_secs};

/// `pushwire serve` uses the library's defaults for everything but the address.
pub(super) const SERVE_ADDR: &str = "127.0.0.1:8080";

// `pushwire echo` serves conformance tests and benchmarks, so its limits are larger than
// the library's defaults (Autobahn's 9.* cases send 16 MiB messages and 65536 fragments).
pub(super) const ECHO_ADDR: &str = "127.0.0.1:9001";
const ECHO_MAX_MESSAGE: u64 = 64 << 20;
const ECHO_MAX_FRAME: u64 = 64 << 20;
const ECHO_MAX_FRAGMENTS: u32 = 1 << 20;
const ECHO_MAX_CONNECTIONS: usize = 64 * 1024;
/// Messages of at least this size (that span reads) are echoed as they arrive.
const ECHO_STREAM_OVER: u64 = 256 * 1024;

/// An option of a server command: `serve` and `echo` share these (each has its own table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ServerOpt {
    Addr,
    History,
    HistoryBytes,
    MaxChannels,
    MaxRetained,
    ChannelTtl,
    SseHeartbeat,
    SseRetry,
    MaxSubscriptions,
    DataDir,
    Redis,
    RedisPrefix,
    Fsync,
    PollTimeout,
    MaxPollTimeout,
    MaxBody,
    MaxMessage,
    MaxFrame,
    MaxFragments,
    PingInterval,
    PongTimeout,
    CloseTimeout,
    RequestTimeout,
    IdleTimeout,
    MaxConnections,
    WriteBuffer,
    AllowOrigin,
    SecretFile,
    Log,
    Deflate,
    DeflateLevel,
    DeflateMinSize,
    DeflateWindow,
    Trace,
}

const EXPECT_ADDR: &str = "a host and port, e.g. 127.0.0.1:9001, [::1]:9001 or localhost:9001";
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
const EXPECT_COUNT: &str = "an integer of at least 1, e.g. 100000";
const EXPECT_DIR: &str = "a directory, e.g. /var/lib/pushwire";
const EXPECT_FILE: &str = "a file, e.g. /etc/pushwire/secret";
const EXPECT_FSYNC: &str = "always, batch or never";
const EXPECT_ORIGIN: &str = "a non-empty origin, e.g. https://example.com";
const EXPECT_LOG: &str = "text, json or off";
const EXPECT_DEFLATE: &str = "light, full or off";
const EXPECT_DEFLATE_LEVEL: &str = "fast, default or best";
const EXPECT_WINDOW_BITS: &str = "an integer from 8 to 15";

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
const OPT_HISTORY_BYTES: OptSpec<ServerOpt> = OptSpec {
    name: "--history-bytes",
    opt: ServerOpt::HistoryBytes,
    expected: Some(EXPECT_BODY_BYTES),
};
const OPT_MAX_CHANNELS: OptSpec<ServerOpt> = OptSpec {
    name: "--max-channels",
    opt: ServerOpt::MaxChannels,
    expected: Some(EXPECT_COUNT),
};
const OPT_MAX_RETAINED: OptSpec<ServerOpt> = OptSpec {
    name: "--max-retained",
    opt: ServerOpt::MaxRetained,
    expected: Some(EXPECT_BODY_BYTES),
};
const OPT_CHANNEL_TTL: OptSpec<ServerOpt> = OptSpec {
    name: "--channel-ttl",
    opt: ServerOpt::ChannelTtl,
    expected: Some(EXPECT_SECS),
};
const OPT_SSE_HEARTBEAT: OptSpec<ServerOpt> = OptSpec {
    name: "--sse-heartbeat",
    opt: ServerOpt::SseHeartbeat,
    expected: Some(EXPECT_SECS),
};
const OPT_SSE_RETRY: OptSpec<ServerOpt> = OptSpec {
    name: "--sse-retry",
    opt: ServerOpt::SseRetry,
    expected: Some(EXPECT_SECS),
};
const OPT_MAX_SUBSCRIPTIONS: OptSpec<ServerOpt> = OptSpec {
    name: "--max-subscriptions",
    opt: ServerOpt::MaxSubscriptions,
    expected: Some(EXPECT_COUNT),
};
const OPT_DATA_DIR: OptSpec<ServerOpt> = OptSpec {
    name: "--data-dir",
    opt: ServerOpt::DataDir,
    expected: Some(EXPECT_DIR),
};
const OPT_REDIS: OptSpec<ServerOpt> = OptSpec {
    name: "--redis",
    opt: ServerOpt::Redis,
    expected: Some(
        "a URL redis://[[user]:password@]host[:port][/db], e.g. redis://127.0.0.1:6379/0",
    ),
};
const OPT_REDIS_PREFIX: OptSpec<ServerOpt> = OptSpec {
    name: "--redis-prefix",
    opt: ServerOpt::RedisPrefix,
    expected: Some("a key prefix of printable characters, e.g. pushwire:"),
};
const OPT_FSYNC: OptSpec<ServerOpt> = OptSpec {
    name: "--fsync",
    opt: ServerOpt::Fsync,
    expected: Some(EXPECT_FSYNC),
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
const OPT_REQUEST_TIMEOUT: OptSpec<ServerOpt> = OptSpec {
    name: "--request-timeout",
    opt: ServerOpt::RequestTimeout,
    expected: Some(EXPECT_SECS),
};
const OPT_IDLE_TIMEOUT: OptSpec<ServerOpt> = OptSpec {
    name: "--idle-timeout",
    opt: ServerOpt::IdleTimeout,
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
const OPT_SECRET_FILE: OptSpec<ServerOpt> = OptSpec {
    name: "--secret-file",
    opt: ServerOpt::SecretFile,
    expected: Some(EXPECT_FILE),
};
const OPT_LOG: OptSpec<ServerOpt> = OptSpec {
    name: "--log",
    opt: ServerOpt::Log,
    expected: Some(EXPECT_LOG),
};
const OPT_DEFLATE: OptSpec<ServerOpt> = OptSpec {
    name: "--deflate",
    opt: ServerOpt::Deflate,
    expected: Some(EXPECT_DEFLATE),
};
const OPT_DEFLATE_LEVEL: OptSpec<ServerOpt> = OptSpec {
    name: "--deflate-level",
    opt: ServerOpt::DeflateLevel,
    expected: Some(EXPECT_DEFLATE_LEVEL),
};
const OPT_DEFLATE_MIN_SIZE: OptSpec<ServerOpt> = OptSpec {
    name: "--deflate-min-size",
    opt: ServerOpt::DeflateMinSize,
    expected: Some(EXPECT_BYTES),
};
const OPT_DEFLATE_WINDOW: OptSpec<ServerOpt> = OptSpec {
    name: "--deflate-window",
    opt: ServerOpt::DeflateWindow,
    expected: Some(EXPECT_WINDOW_BITS),
};
const OPT_TRACE: OptSpec<ServerOpt> = OptSpec {
    name: "--trace",
    opt: ServerOpt::Trace,
    expected: None,
};

pub(super) const SERVE_OPTIONS: &[OptSpec<ServerOpt>] = &[
    OPT_ADDR,
    OPT_HISTORY,
    OPT_HISTORY_BYTES,
    OPT_MAX_CHANNELS,
    OPT_MAX_RETAINED,
    OPT_CHANNEL_TTL,
    OPT_SSE_HEARTBEAT,
    OPT_SSE_RETRY,
    OPT_MAX_SUBSCRIPTIONS,
    OPT_DATA_DIR,
    OPT_FSYNC,
    OPT_REDIS,
    OPT_REDIS_PREFIX,
    OPT_POLL_TIMEOUT,
    OPT_MAX_POLL_TIMEOUT,
    OPT_MAX_BODY,
    OPT_MAX_MESSAGE,
    OPT_MAX_FRAME,
    OPT_PING_INTERVAL,
    OPT_PONG_TIMEOUT,
    OPT_CLOSE_TIMEOUT,
    OPT_REQUEST_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_MAX_CONNECTIONS,
    OPT_WRITE_BUFFER,
    OPT_ALLOW_ORIGIN,
    OPT_SECRET_FILE,
    OPT_LOG,
    OPT_DEFLATE,
    OPT_DEFLATE_LEVEL,
    OPT_DEFLATE_MIN_SIZE,
    OPT_DEFLATE_WINDOW,
    OPT_TRACE,
];

pub(super) const ECHO_OPTIONS: &[OptSpec<ServerOpt>] = &[
    OPT_ADDR,
    OPT_MAX_MESSAGE,
    OPT_MAX_FRAME,
    OPT_MAX_FRAGMENTS,
    OPT_PING_INTERVAL,
    OPT_PONG_TIMEOUT,
    OPT_CLOSE_TIMEOUT,
    OPT_REQUEST_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_MAX_CONNECTIONS,
    OPT_WRITE_BUFFER,
    OPT_ALLOW_ORIGIN,
    OPT_LOG,
    OPT_DEFLATE,
    OPT_DEFLATE_LEVEL,
    OPT_DEFLATE_MIN_SIZE,
    OPT_DEFLATE_WINDOW,
    OPT_TRACE,
];

/// The `--deflate*` options as given, applied together once all are read.
#[derive(Debug, Default)]
struct DeflateOptions {
    mode: Option<DeflateConfig>,
    level: Option<Level>,
    min_size: Option<usize>,
    window: Option<WindowBits>,
}

impl DeflateOptions {
    fn apply(self, compression: &mut Compression) {
        if let Some(mode) = self.mode {
            compression.negotiation = mode;
        }
        if let Some(level) = self.level {
            compression.options.level = level;
        }
        if let Some(min_size) = self.min_size {
            compression.options.min_size = min_size;
        }
        if let Some(window) = self.window {
            // Our compressor's window, and the one we ask clients to keep to.
            compression.negotiation.max_server_window_bits = window;
            compression.negotiation.client_window_bits = window;
        }
    }
}

/// The configuration `pushwire echo` starts from.
pub(super) fn echo_defaults() -> Config {
    let mut c = Config::default();
    c.max_message_size = ECHO_MAX_MESSAGE;
    c.max_frame_size = ECHO_MAX_FRAME;
    c.max_fragments = ECHO_MAX_FRAGMENTS;
    c.max_connections = ECHO_MAX_CONNECTIONS;
    // Large messages are echoed piece by piece as they arrive, never buffered whole.
    c.stream_messages_over = Some(ECHO_STREAM_OVER);
    // The conformance target accepts every permessage-deflate offer as made, small
    // windows and context takeover included (Autobahn's 12.x and 13.x), and compresses
    // at the fast level: an echo benchmark measures the server, and Autobahn's 12.x
    // send megabytes of text.
    c.permessage_deflate = Compression::full();
    c.permessage_deflate.options.level = Level::Fast;
    c
}

/// The configuration `pushwire serve` starts from: the library's, with the WebSocket
/// message limit at the hub's (one message size limit over HTTP and WebSocket alike),
/// and the access log on in text (an operator's server says what it serves; `echo`,
/// for benchmarks, keeps the library's `off`).
pub(super) fn serve_defaults() -> Config {
    let mut c = Config::default();
    c.access_log = AccessLog::Text;
    c.max_message_size = HubConfig::default().max_message as u64;
    c.max_frame_size = c.max_frame_size.min(c.max_message_size);
    // Browsers offer permessage-deflate on every WebSocket; a hub takes the memory-light
    // choice (nothing kept between messages, the same bytes for every subscriber).
    c.permessage_deflate = Compression::memory_light();
    c
}

/// `pushwire serve`, which is also what `pushwire` with no arguments runs. Every option
/// can also come from the environment (see [`env_args`]); the command line wins.
pub(super) fn parse_serve(args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    parse_serve_env(args, |name| std::env::var(name).ok())
}

/// The environment variable for `option`: `--max-poll-timeout` → `PUSHWIRE_MAX_POLL_TIMEOUT`.
pub(super) fn env_name(option: &str) -> String {
    format!(
        "PUSHWIRE_{}",
        option
            .trim_start_matches('-')
            .replace('-', "_")
            .to_uppercase()
    )
}

/// The options `env` sets, as arguments to read before the command line's: for each
/// option of `specs` not on the command line, `PUSHWIRE_<NAME>` (see [`env_name`]) gives
/// its value — a flag is set by `1`, `true` or `yes` and left off by `0`, `false`, `no` or
/// nothing; `--allow-origin` takes a comma-separated list (origins hold no commas).
pub(super) fn env_args(
    specs: &'static [OptSpec<ServerOpt>],
    given: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, (String, String)> {
    let mut args = Vec::new();
    for spec in specs {
        let on_command_line = given
            .iter()
            .any(|arg| super::options::split_option(arg).0 == spec.name);
        let var = env_name(spec.name);
        let Some(value) = env(&var).filter(|_| !on_command_line) else {
            continue;
        };
        match spec.expected {
            None => match value.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => args.push(spec.name.to_string()),
                "" | "0" | "false" | "no" => {}
                _ => return Err((var, value)),
            },
            Some(_) if spec.opt == ServerOpt::AllowOrigin => {
                for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                    args.push(format!("{}={origin}", spec.name));
                }
            }
            Some(_) => args.push(format!("{}={value}", spec.name)),
        }
    }
    Ok(args)
}

/// [`parse_serve`] with the environment given as a lookup (for tests).
pub(super) fn parse_serve_env(
    args: impl Iterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, CliError> {
    let given: Vec<String> = args.collect();
    let from_env = env_args(SERVE_OPTIONS, &given, env)
        .map_err(|(var, value)| err(Usage::Serve, ErrorKind::BadEnvironment { var, value }))?;
    let args = from_env.into_iter().chain(given);
    let server = ServerCommand {
        usage: Usage::Serve,
        specs: SERVE_OPTIONS,
        addr: SERVE_ADDR,
        config: serve_defaults(),
        help: serve_help,
    };
    server.parse(args, |addr, config, hub, secret_file| Command::Serve {
        addr,
        config,
        hub: Box::new(hub),
        secret_file,
    })
}

/// `pushwire echo`.
pub(super) fn parse_echo(args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let server = ServerCommand {
        usage: Usage::Echo,
        specs: ECHO_OPTIONS,
        addr: ECHO_ADDR,
        config: echo_defaults(),
        help: echo_help,
    };
    // Echo has no hub: its table has no hub option, so the hub configuration stays at its
    // default and is dropped.
    server.parse(args, |addr, config, _hub, _secret| Command::Echo {
        addr,
        config,
    })
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
        build: impl FnOnce(SocketAddr, Config, HubConfig, Option<PathBuf>) -> Command,
    ) -> Result<Command, CliError> {
        let usage = self.usage;
        let mut addr: SocketAddr = self.addr.parse().expect("default address parses");
        let mut config = self.config;
        let mut hub = HubConfig::default();
        let mut frame_given = false;
        let mut body_given = false;
        let mut data_dir: Option<String> = None;
        let mut fsync: Option<(Fsync, String)> = None;
        let mut redis: Option<RedisUrl> = None;
        let mut redis_prefix: Option<String> = None;
        // The values as given, for error messages.
        let mut poll_given: Option<String> = None;
        let mut max_poll_given: Option<String> = None;
        let mut origins: Vec<String> = Vec::new();
        let mut secret_file: Option<PathBuf> = None;
        let mut deflate = DeflateOptions::default();

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
                ServerOpt::Addr => addr = resolve(&value).ok_or_else(bad)?,
                ServerOpt::History => {
                    hub.history = parse_int(&value)
                        .filter(|&n: &usize| n >= 1)
                        .ok_or_else(bad)?
                }
                ServerOpt::HistoryBytes => {
                    hub.history_bytes = parse_bytes(&value)
                        .and_then(|n| usize::try_from(n).ok())
                        .filter(|&n| n >= 1)
                        .ok_or_else(bad)?
                }
                ServerOpt::MaxChannels => {
                    hub.max_channels = parse_int(&value)
                        .filter(|&n: &usize| n >= 1)
                        .ok_or_else(bad)?
                }
                ServerOpt::MaxRetained => {
                    hub.max_retained_bytes = parse_bytes(&value)
                        .and_then(|n| usize::try_from(n).ok())
                        .filter(|&n| n >= 1)
                        .ok_or_else(bad)?
                }
                ServerOpt::ChannelTtl => hub.channel_ttl = parse_secs(&value).ok_or_else(bad)?,
                ServerOpt::SseHeartbeat => {
                    hub.sse_heartbeat = parse_secs(&value).ok_or_else(bad)?;
                }
                ServerOpt::SseRetry => hub.sse_retry = parse_secs(&value).ok_or_else(bad)?,
                ServerOpt::MaxSubscriptions => {
                    hub.max_subscriptions = parse_int(&value)
                        .filter(|&n: &usize| n >= 1)
                        .ok_or_else(bad)?
                }
                ServerOpt::DataDir => {
                    if value.is_empty() {
                        return Err(bad());
                    }
                    data_dir = Some(value);
                }
                ServerOpt::Fsync => fsync = Some((Fsync::parse(&value).ok_or_else(bad)?, value)),
                ServerOpt::Redis => {
                    let url = RedisUrl::parse(&value).map_err(|e| {
                        let reason = e.to_string();
                        err(usage, ErrorKind::BadRedisUrl { reason })
                    })?;
                    redis = Some(url);
                }
                ServerOpt::RedisPrefix => {
                    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
                        return Err(bad());
                    }
                    redis_prefix = Some(value);
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
                        .ok_or_else(bad)?;
                    body_given = true;
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
                ServerOpt::RequestTimeout => {
                    config.request_timeout = parse_secs(&value).ok_or_else(bad)?
                }
                ServerOpt::IdleTimeout => {
                    config.idle_timeout = parse_secs(&value).ok_or_else(bad)?
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
                ServerOpt::SecretFile => {
                    if value.is_empty() {
                        return Err(bad());
                    }
                    secret_file = Some(PathBuf::from(value));
                }
                ServerOpt::Log => config.access_log = AccessLog::parse(&value).ok_or_else(bad)?,
                ServerOpt::Deflate => {
                    deflate.mode = Some(match value.as_str() {
                        "light" => Compression::memory_light().negotiation,
                        "full" => Compression::full().negotiation,
                        "off" => Compression::off().negotiation,
                        _ => return Err(bad()),
                    })
                }
                ServerOpt::DeflateLevel => {
                    deflate.level = Some(match value.as_str() {
                        "fast" => Level::Fast,
                        "default" => Level::Default,
                        "best" => Level::Best,
                        _ => return Err(bad()),
                    })
                }
                ServerOpt::DeflateMinSize => {
                    deflate.min_size = Some(
                        parse_bytes(&value)
                            .and_then(|n| usize::try_from(n).ok())
                            .ok_or_else(bad)?,
                    )
                }
                ServerOpt::DeflateWindow => {
                    deflate.window = Some(
                        parse_int(&value)
                            .and_then(WindowBits::new)
                            .ok_or_else(bad)?,
                    )
                }
                ServerOpt::Trace => config.trace = true,
            }
        }

        // The --deflate options in any order: the mode picks what is negotiated, the rest
        // tune it.
        deflate.apply(&mut config.permessage_deflate);

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
        // `*` anywhere in the list allows every origin (README: what that gives away).
        if origins.iter().any(|o| o == "*") {
            config.allowed_origins = AllowedOrigins::Any;
        } else if !origins.is_empty() {
            config.allowed_origins = AllowedOrigins::List(origins);
        }
        match (data_dir, fsync) {
            (Some(dir), fsync) => {
                // A durable log keeps what it acknowledged unless told otherwise.
                let policy = fsync.map_or(Fsync::Always, |(policy, _)| policy);
                hub.storage = Storage::Disk(LogOptions::new(dir, policy));
            }
            (None, Some((_, value))) => {
                return Err(err(
                    usage,
                    ErrorKind::Requires {
                        option: OPT_FSYNC.name,
                        value,
                        requires: OPT_DATA_DIR.name,
                    },
                ));
            }
            (None, None) => {}
        }
        match (redis, redis_prefix, &hub.storage) {
            (Some(_), _, Storage::Disk(_)) => {
                return Err(err(
                    usage,
                    ErrorKind::Conflicts {
                        option: OPT_REDIS.name,
                        with: OPT_DATA_DIR.name,
                        why: "Redis keeps the streams: a node has no log of its own",
                    },
                ));
            }
            (Some(url), prefix, _) => {
                let mut options = RedisOptions::new(url);
                if let Some(prefix) = prefix {
                    options.prefix = prefix;
                }
                hub.storage = Storage::Redis(options);
                // A history read must fit in what an outbound connection may buffer.
                let reply = pushwire::hub::engine::redis::reply_limits(&hub).max_reply_bytes;
                config.max_outbound_input = config.max_outbound_input.max(reply);
            }
            (None, Some(value), _) => {
                return Err(err(
                    usage,
                    ErrorKind::Requires {
                        option: OPT_REDIS_PREFIX.name,
                        value,
                        requires: OPT_REDIS.name,
                    },
                ));
            }
            (None, None, _) => {}
        }
        if usage == Usage::Serve {
            // One message size limit for the hub over both transports: a WebSocket
            // message is refused by the codec (1009) and a POST body by the HTTP layer
            // (413) at the same size, unless --max-body sets the HTTP one apart.
            hub.max_message = usize::try_from(config.max_message_size).unwrap_or(usize::MAX);
            if !body_given {
                config.max_body_bytes = hub.max_message.max(1);
            }
            hub.validate().map_err(|e| {
                err(
                    usage,
                    ErrorKind::InvalidConfig {
                        option: option_for_field(e.field),
                        field: e.field,
                        reason: e.reason,
                    },
                )
            })?;
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
        Ok(build(addr, config, hub, secret_file))
    }
}

/// An address as given: an IP literal and port (`127.0.0.1:8080`, `[::1]:8080`), or a
/// host name and port resolved now, the first address it has (`localhost:8080`).
fn resolve(value: &str) -> Option<SocketAddr> {
    if let Ok(addr) = value.parse() {
        return Some(addr);
    }
    use std::net::ToSocketAddrs;
    value.to_socket_addrs().ok()?.next()
}

/// The command-line option that sets a `Config` field, for error messages.
fn option_for_field(field: &'static str) -> &'static str {
    match field {
        "max_message_size" => "--max-message",
        "max_frame_size" => "--max-frame",
        "max_fragments" => "--max-fragments",
        "max_connections" => "--max-connections",
        "write_buffer_high_water" => "--write-buffer",
        "request_timeout" => "--request-timeout",
        "idle_timeout" => "--idle-timeout",
        "max_body_bytes" => "--max-body",
        "ping_interval" => "--ping-interval",
        "pong_timeout" => "--pong-timeout",
        "close_timeout" => "--close-timeout",
        "allowed_origins" => "--allow-origin",
        "history" => "--history",
        "history_bytes" => "--history-bytes",
        "max_channels" => "--max-channels",
        "max_retained_bytes" => "--max-retained",
        "channel_ttl" => "--channel-ttl",
        "sse_heartbeat" => "--sse-heartbeat",
        "max_subscriptions" => "--max-subscriptions",
        "max_poll_timeout" => "--max-poll-timeout",
        // A field the command line does not set: name the field itself.
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::args::testing::{echo, echo_err, help_text, run, serve, serve_err};

    #[test]
    fn serve_defaults_are_the_documented_ones() {
        let (addr, c, hub) = serve(&[]);
        assert_eq!(addr.to_string(), "127.0.0.1:8080");
        assert_eq!(hub.history, 1024);
        assert_eq!(hub.default_poll_timeout, Duration::from_secs(30));
        assert_eq!(hub.max_poll_timeout, Duration::from_secs(120));
        assert_eq!(c.max_body_bytes, 64 << 10);
        assert_eq!(c.max_message_size, 64 << 10, "the hub's one message limit");
        assert_eq!(hub.max_message, 64 << 10);
        assert_eq!(c.max_frame_size, 64 << 10);
        assert_eq!(hub.history_bytes, 1 << 20);
        assert_eq!(hub.max_channels, 100_000);
        assert_eq!(hub.max_retained_bytes, 256 << 20);
        assert_eq!(hub.channel_ttl, Duration::from_secs(3600));
        assert_eq!(hub.max_subscriptions, 64);
        assert!(hub.validate().is_ok());
        assert_eq!(c.max_connections, 16 * 1024);
        assert_eq!(c.write_buffer_high_water, 1 << 20);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn serve_options() {
        let (addr, c, hub) = serve(&[
            "--addr",
            "0.0.0.0:80",
            "--history",
            "5",
            "--history-bytes",
            "2MiB",
            "--max-channels",
            "10",
            "--max-retained",
            "8MiB",
            "--channel-ttl",
            "90",
            "--max-subscriptions",
            "8",
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
            "--request-timeout",
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
        assert_eq!(hub.history_bytes, 2 << 20);
        assert_eq!(hub.max_channels, 10);
        assert_eq!(hub.max_retained_bytes, 8 << 20);
        assert_eq!(hub.channel_ttl, Duration::from_secs(90));
        assert_eq!(hub.max_subscriptions, 8);
        assert_eq!(
            hub.max_message,
            256 << 10,
            "--max-message is the hub's limit too"
        );
        assert_eq!(hub.default_poll_timeout, Duration::from_millis(2500));
        assert_eq!(hub.max_poll_timeout, Duration::from_secs(60));
        assert_eq!(c.max_body_bytes, 1 << 20);
        assert_eq!(c.max_message_size, 256 << 10);
        assert_eq!(c.max_frame_size, 16 << 10);
        assert_eq!(c.ping_interval, None);
        assert_eq!(c.pong_timeout, Duration::from_secs(3));
        assert_eq!(c.close_timeout, Duration::from_millis(500));
        assert_eq!(c.request_timeout, Duration::from_secs(4));
        assert_eq!(c.max_connections, 100);
        assert_eq!(c.write_buffer_high_water, 64 << 10);
        assert_eq!(
            c.allowed_origins,
            AllowedOrigins::List(vec![
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
            "--request-timeout=6",
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
        assert_eq!(c.request_timeout, Duration::from_secs(6));
        assert_eq!(c.max_connections, 5);
        assert_eq!(c.write_buffer_high_water, 4096);
        assert_eq!(
            c.allowed_origins,
            AllowedOrigins::List(vec!["https://x/?a=b".to_string()])
        );
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

    fn serve_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<Command, CliError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_serve_env(args.iter().map(|a| a.to_string()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn every_serve_option_can_come_from_the_environment_and_the_command_line_wins() {
        let env = [
            ("PUSHWIRE_ADDR", "127.0.0.1:9999"),
            ("PUSHWIRE_HISTORY", "7"),
            ("PUSHWIRE_MAX_POLL_TIMEOUT", "60"),
            ("PUSHWIRE_TRACE", "true"),
            (
                "PUSHWIRE_ALLOW_ORIGIN",
                "https://a.example, https://b.example",
            ),
        ];
        let Ok(Command::Serve {
            addr, config, hub, ..
        }) = serve_with_env(&["--history", "9"], &env)
        else {
            panic!("serves");
        };
        assert_eq!(addr, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(hub.history, 9, "the command line wins");
        assert_eq!(hub.max_poll_timeout, Duration::from_secs(60));
        assert!(config.trace);
        assert_eq!(
            config.allowed_origins,
            AllowedOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
        );
        // A flag is left off by 0/false/no; anything else is an error that names the variable.
        let Ok(Command::Serve { config, .. }) = serve_with_env(&[], &[("PUSHWIRE_TRACE", "0")])
        else {
            panic!("serves");
        };
        assert!(!config.trace);
        let e = serve_with_env(&[], &[("PUSHWIRE_TRACE", "maybe")]).unwrap_err();
        assert!(e.to_string().contains("PUSHWIRE_TRACE"), "{e}");
        assert_eq!(env_name("--max-poll-timeout"), "PUSHWIRE_MAX_POLL_TIMEOUT");
        for spec in SERVE_OPTIONS {
            assert!(
                env_name(spec.name).starts_with("PUSHWIRE_"),
                "{}",
                spec.name
            );
        }
    }

    #[test]
    fn addr_takes_host_names() {
        let (addr, _, _) = serve(&["--addr", "localhost:8080"]);
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_eq!(addr.port(), 8080);
        assert!(matches!(
            serve_err(&["--addr", "no-such-host.invalid:80"]).kind,
            ErrorKind::BadValue { .. }
        ));
    }

    #[test]
    fn serve_hub_limits_that_contradict_each_other_name_the_option() {
        // A channel must hold one maximal message, escaped at worst.
        let e = serve_err(&["--history-bytes", "64K"]);
        assert!(
            matches!(
                e.kind,
                ErrorKind::InvalidConfig {
                    option: "--history-bytes",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("--history-bytes"), "{e}");
        let e = serve_err(&["--max-retained", "512K"]);
        assert!(
            matches!(
                e.kind,
                ErrorKind::InvalidConfig {
                    option: "--max-retained",
                    ..
                }
            ),
            "{e}"
        );
        // Lowering --max-message makes room for a small history.
        let (_, c, hub) = serve(&["--max-message", "1K", "--history-bytes", "64K"]);
        assert_eq!((hub.max_message, c.max_body_bytes), (1024, 1024));
        assert_eq!(hub.history_bytes, 64 << 10);
        for bad in [
            &["--max-channels", "0"][..],
            &["--max-subscriptions", "0"],
            &["--channel-ttl", "0"],
            &["--max-retained", "x"],
        ] {
            assert!(
                matches!(serve_err(bad).kind, ErrorKind::BadValue { .. }),
                "{bad:?}"
            );
        }
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
            ("--addr", "localhost"),
            ("--addr", "no-such-host.invalid:8080"),
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
            ("--request-timeout", "10s"),
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
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert_eq!(c.allowed_origins, AllowedOrigins::SameOrigin);
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
            "--request-timeout=.1",
        ]);
        assert_eq!(c.ping_interval, Some(Duration::from_millis(500)));
        assert_eq!(c.pong_timeout, Duration::from_secs(2));
        assert_eq!(c.close_timeout, Duration::from_millis(1250));
        assert_eq!(c.request_timeout, Duration::from_millis(100));
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
            AllowedOrigins::List(vec![
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
    fn a_star_allows_every_origin() {
        let (_, c) = echo(&["--allow-origin", "https://a.example", "--allow-origin=*"]);
        assert_eq!(c.allowed_origins, AllowedOrigins::Any);
    }

    #[test]
    fn equals_form_keeps_later_equals_signs() {
        let (_, c) = echo(&["--allow-origin=https://x.example/?a=b"]);
        assert_eq!(
            c.allowed_origins,
            AllowedOrigins::List(vec!["https://x.example/?a=b".to_string()])
        );
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
            ("--request-timeout", "10s"),
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
    fn the_access_log_is_text_for_serve_and_off_for_echo_unless_log_says() {
        assert_eq!(serve(&[]).1.access_log, AccessLog::Text);
        assert_eq!(echo(&[]).1.access_log, AccessLog::Off);
        assert_eq!(serve(&["--log", "json"]).1.access_log, AccessLog::Json);
        assert_eq!(serve(&["--log=off"]).1.access_log, AccessLog::Off);
        assert_eq!(echo(&["--log", "text"]).1.access_log, AccessLog::Text);
        let Ok(Command::Serve { config, .. }) = serve_with_env(&[], &[("PUSHWIRE_LOG", "json")])
        else {
            panic!("serves");
        };
        assert_eq!(config.access_log, AccessLog::Json);
        let e = serve_err(&["--log", "yes"]);
        assert!(
            e.to_string()
                .starts_with("error: invalid value 'yes' for '--log': expected text, json or off"),
            "{e}"
        );
    }

    #[test]
    fn permessage_deflate_is_light_for_serve_and_full_for_echo_and_the_options_tune_it() {
        let light = serve(&[]).1.permessage_deflate;
        assert_eq!(light.negotiation, Compression::memory_light().negotiation);
        assert_eq!(
            (light.options.level, light.options.min_size),
            (Level::Fast, 32)
        );
        let full = echo(&[]).1.permessage_deflate;
        assert_eq!(full.negotiation, Compression::full().negotiation);
        assert_eq!(
            (full.options.level, full.options.min_size),
            (Level::Fast, 0)
        );

        // In any order: the mode picks what is negotiated, the rest tune it.
        let tuned = serve(&[
            "--deflate-level",
            "best",
            "--deflate",
            "full",
            "--deflate-min-size=1K",
            "--deflate-window",
            "9",
        ])
        .1
        .permessage_deflate;
        assert!(!tuned.negotiation.server_no_context_takeover);
        assert_eq!(tuned.options.level, Level::Best);
        assert_eq!(tuned.options.min_size, 1024);
        assert_eq!(tuned.negotiation.max_server_window_bits.get(), 9);
        assert!(
            !echo(&["--deflate", "off"])
                .1
                .permessage_deflate
                .negotiation
                .enabled
        );

        for (option, value) in [
            ("--deflate", "on"),
            ("--deflate-level", "9"),
            ("--deflate-window", "16"),
            ("--deflate-window", "7"),
            ("--deflate-min-size", "small"),
        ] {
            let e = serve_err(&[option, value]);
            assert!(
                e.to_string()
                    .starts_with(&format!("error: invalid value '{value}' for '{option}'")),
                "{e}"
            );
        }
    }

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
    fn unexpected_positional_arguments() {
        let e = echo_err(&["extra"]);
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "extra"));
        assert_eq!(e.usage, Usage::Echo);
        let e = echo_err(&["--addr", "127.0.0.1:1", "-"]);
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "-"));
        let e = run(&["help", "echo", "more"]).unwrap_err();
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "more"));
    }
}

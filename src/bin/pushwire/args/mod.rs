//! The command line, standard library only: the arguments become a [`Command`] to run,
//! or a [`CliError`] to print.
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
//!
//! This module reads the command name; each command's options are read by its own module
//! ([`server`] for `serve` and `echo`, [`client`], [`load`], [`token`]) with the shared reader in
//! [`options`] and the value grammars in [`values`]. [`help`] holds the help texts, and
//! [`error`] the errors with the usage line they print.

mod client;
mod error;
mod help;
mod load;
mod options;
mod server;
mod token;
mod values;

use std::net::SocketAddr;
use std::path::PathBuf;

use pushwire::Config;
use pushwire::auth::token::Pattern;
use pushwire::hub::HubConfig;

use crate::load::LoadConfig;
use client::{CLIENT_OPTIONS, parse_client};
pub(crate) use error::CliError;
use error::{ErrorKind, Usage, err};
use help::{client_help, echo_help, load_help, serve_help, token_help, top_help};
use load::{LOAD_OPTIONS, parse_load};
use options::{has_option, is_option, split_option, suggest};
use server::{ECHO_OPTIONS, SERVE_OPTIONS, parse_echo, parse_serve};
use token::{TOKEN_OPTIONS, parse_token};

/// The version printed by `pushwire --version`.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    /// `pushwire serve` (also what `pushwire` with no arguments runs).
    Serve {
        /// Address to listen on.
        addr: SocketAddr,
        /// Server configuration, already validated.
        config: Config,
        /// Hub configuration: `history` is at least 1, and `default_poll_timeout` is at
        /// most `max_poll_timeout`. Boxed: the largest variant by far otherwise.
        hub: Box<HubConfig>,
        /// `--secret-file`: access tokens signed with the secret in this file are
        /// required (read when the server starts).
        secret_file: Option<std::path::PathBuf>,
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
    /// `url` has been checked with [`WsUrl::parse`](pushwire::client::WsUrl::parse) (its
    /// scheme is lowercased, so it is `ws://...`); every protocol is an HTTP token, given
    /// once; `origin` is non-empty visible ASCII. `deflate`: offer permessage-deflate
    /// with no context takeover either way.
    Client {
        url: String,
        protocols: Vec<String>,
        origin: Option<String>,
        trace: bool,
        deflate: bool,
    },
    /// `pushwire load URL`: a load generator; `config.url` has been checked (its scheme
    /// lowercased) and suits `config.mode`, and `config.progress` is set.
    Load { config: LoadConfig },
    /// `pushwire token`: print a token for these rights, valid `ttl` seconds from now.
    ///
    /// The patterns are valid, at most `MAX_PATTERNS` per list, and at least one is given;
    /// `ttl` is 1 to a year. The secret file is only named: it is read when the command
    /// runs.
    Token {
        secret_file: PathBuf,
        publish: Vec<Pattern>,
        subscribe: Vec<Pattern>,
        ttl: u64,
    },
    /// `--help` / `-h` / `help [SUBCOMMAND]`: text to print on stdout, exit 0.
    Help(String),
    /// `--version` / `-V`: print `pushwire VERSION` on stdout, exit 0.
    Version,
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: impl Iterator<Item = String>) -> Result<Command, CliError> {
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
        "token" => parse_token(args),
        _ if is_option(&arg) => {
            let places: Vec<String> = [
                (has_option(SERVE_OPTIONS, name), "pushwire serve"),
                (has_option(ECHO_OPTIONS, name), "pushwire echo"),
                (has_option(CLIENT_OPTIONS, name), "pushwire client URL"),
                (has_option(LOAD_OPTIONS, name), "pushwire load URL"),
                (has_option(TOKEN_OPTIONS, name), "pushwire token"),
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
        Some("token") => token_help(),
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

/// Helpers for the parsers' tests, here and in every command's module: parse a command
/// line and expect one kind of answer.
#[cfg(test)]
mod testing {
    use super::*;

    pub(super) fn run(args: &[&str]) -> Result<Command, CliError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    pub(super) fn echo(args: &[&str]) -> (SocketAddr, Config) {
        let mut all = vec!["echo"];
        all.extend_from_slice(args);
        match run(&all) {
            Ok(Command::Echo { addr, config }) => (addr, config),
            other => panic!("{args:?}: expected Echo, got {other:?}"),
        }
    }

    pub(super) fn echo_err(args: &[&str]) -> CliError {
        let mut all = vec!["echo"];
        all.extend_from_slice(args);
        match run(&all) {
            Err(e) => e,
            Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
        }
    }

    pub(super) fn client(args: &[&str]) -> (String, Vec<String>, Option<String>, bool) {
        let mut all = vec!["client"];
        all.extend_from_slice(args);
        match run(&all) {
            Ok(Command::Client {
                url,
                protocols,
                origin,
                trace,
                ..
            }) => (url, protocols, origin, trace),
            other => panic!("{args:?}: expected Client, got {other:?}"),
        }
    }

    pub(super) fn client_err(args: &[&str]) -> CliError {
        let mut all = vec!["client"];
        all.extend_from_slice(args);
        match run(&all) {
            Err(e) => e,
            Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
        }
    }

    pub(super) fn help_text(args: &[&str]) -> String {
        match run(args) {
            Ok(Command::Help(text)) => text,
            other => panic!("{args:?}: expected Help, got {other:?}"),
        }
    }

    pub(super) fn serve(args: &[&str]) -> (SocketAddr, Config, HubConfig) {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        match run(&all) {
            Ok(Command::Serve {
                addr, config, hub, ..
            }) => (addr, config, *hub),
            other => panic!("{args:?}: expected Serve, got {other:?}"),
        }
    }

    pub(super) fn serve_err(args: &[&str]) -> CliError {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        match run(&all) {
            Err(e) => e,
            Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{help_text, run, serve};
    use super::*;

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
    fn no_arguments_serves_with_the_defaults() {
        let Ok(Command::Serve {
            addr, config, hub, ..
        }) = run(&[])
        else {
            panic!("expected Serve");
        };
        assert_eq!(addr, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert_eq!(*hub, HubConfig::default());
        let lib = Config::default();
        assert_eq!(config.max_body_bytes, lib.max_body_bytes);
        assert_eq!(config.max_message_size, hub.max_message as u64);
        assert_eq!(config.max_frame_size, hub.max_message as u64);
        assert_eq!(config.max_fragments, lib.max_fragments);
        assert_eq!(config.max_connections, lib.max_connections);
        assert_eq!(config.request_timeout, lib.request_timeout);
        assert_eq!(config.idle_timeout, lib.idle_timeout);
        assert_eq!(config.ping_interval, lib.ping_interval);
        assert_eq!(
            config.allowed_origins,
            pushwire::http::origin::AllowedOrigins::SameOrigin
        );
        assert!(!config.trace);
        // `pushwire serve` is the same thing
        let (addr2, config2, hub2) = serve(&[]);
        assert_eq!((addr2, hub2), (addr, *hub));
        assert_eq!(format!("{config2:?}"), format!("{config:?}"));
    }

    #[test]
    fn client_in_top_level() {
        let top = help_text(&["--help"]);
        assert!(top.contains("\n  client  "), "{top}");
        assert!(top.contains("\n  echo  "), "{top}");
        assert!(top.contains("\n  help  "), "{top}");
        let text = run(&["clinet"]).unwrap_err().to_string();
        assert!(
            text.contains("(available: serve, echo, client, load, token, help)"),
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
}

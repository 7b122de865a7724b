//! `pushwire token`: its options. The patterns are checked here, with the library's
//! grammar ([`Pattern::parse`]); the secret file is read when the command runs
//! (`crate::token`), since a file that cannot be read is not a bad command line.

use std::path::PathBuf;

use pushwire::auth::token::{MAX_PATTERNS, Pattern};

use super::Command;
use super::error::{CliError, ErrorKind, Usage, err};
use super::help::token_help;
use super::options::{Arg, OptSpec, bad_value, next_arg};
use super::values::parse_int;

/// An option of `pushwire token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenOpt {
    SecretFile,
    Publish,
    Subscribe,
    Ttl,
}

/// How long a token is valid by default: an hour.
pub(super) const DEFAULT_TTL: u64 = 60 * 60;
/// The longest `--ttl`: a year. A token cannot be revoked but by changing the secret, so
/// one that outlives that is a mistake rather than a wish.
pub(super) const MAX_TTL: u64 = 365 * 24 * 60 * 60;

const EXPECT_SECRET_FILE: &str = "the path of a file holding the secret";
const EXPECT_PATTERN: &str = "a channel pattern: a name of 1 to 128 of A-Z a-z 0-9 _ . -, \
     such a name followed by '*' (every channel it begins), or '*' (every channel)";
const EXPECT_TTL: &str = "a whole number of seconds from 1 to 31536000 (one year), e.g. 3600";
const MISSING_SECRET_FILE: &str = "'--secret-file FILE': the secret to sign the token with";
const MISSING_RIGHT: &str =
    "a right: '--publish PATTERN' or '--subscribe PATTERN' (a token without one allows nothing)";

pub(super) const TOKEN_OPTIONS: &[OptSpec<TokenOpt>] = &[
    OptSpec {
        name: "--secret-file",
        opt: TokenOpt::SecretFile,
        expected: Some(EXPECT_SECRET_FILE),
    },
    OptSpec {
        name: "--publish",
        opt: TokenOpt::Publish,
        expected: Some(EXPECT_PATTERN),
    },
    OptSpec {
        name: "--subscribe",
        opt: TokenOpt::Subscribe,
        expected: Some(EXPECT_PATTERN),
    },
    OptSpec {
        name: "--ttl",
        opt: TokenOpt::Ttl,
        expected: Some(EXPECT_TTL),
    },
];

/// The options after `pushwire token`.
pub(super) fn parse_token(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let mut secret_file: Option<PathBuf> = None;
    let mut publish: Vec<Pattern> = Vec::new();
    let mut subscribe: Vec<Pattern> = Vec::new();
    let mut ttl = DEFAULT_TTL;

    while let Some(arg) = next_arg(&mut args, Usage::Token, TOKEN_OPTIONS)? {
        let (spec, value) = match arg {
            Arg::Positional(arg) => {
                return Err(err(Usage::Token, ErrorKind::UnexpectedArgument { arg }));
            }
            Arg::Help => return Ok(Command::Help(token_help())),
            Arg::Version => return Ok(Command::Version),
            Arg::Opt(spec, value) => (spec, value),
        };
        match spec.opt {
            TokenOpt::SecretFile => {
                if value.is_empty() {
                    return Err(bad_value(Usage::Token, spec, &value));
                }
                secret_file = Some(PathBuf::from(value));
            }
            TokenOpt::Publish | TokenOpt::Subscribe => {
                let list = if spec.opt == TokenOpt::Publish {
                    &mut publish
                } else {
                    &mut subscribe
                };
                let Some(pattern) = Pattern::parse(&value) else {
                    return Err(bad_value(Usage::Token, spec, &value));
                };
                if list.len() == MAX_PATTERNS {
                    return Err(err(
                        Usage::Token,
                        ErrorKind::TooManyPatterns {
                            option: spec.name,
                            max: MAX_PATTERNS,
                        },
                    ));
                }
                list.push(pattern);
            }
            TokenOpt::Ttl => {
                ttl = parse_int(&value)
                    .filter(|t| (1..=MAX_TTL).contains(t))
                    .ok_or_else(|| bad_value(Usage::Token, spec, &value))?;
            }
        }
    }

    // Checked after the options, so that `--help` wins.
    let Some(secret_file) = secret_file else {
        return Err(err(
            Usage::Token,
            ErrorKind::MissingArgument {
                what: MISSING_SECRET_FILE,
            },
        ));
    };
    if publish.is_empty() && subscribe.is_empty() {
        return Err(err(
            Usage::Token,
            ErrorKind::MissingArgument {
                what: MISSING_RIGHT,
            },
        ));
    }
    Ok(Command::Token {
        secret_file,
        publish,
        subscribe,
        ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::testing::{help_text, run};

    fn token(args: &[&str]) -> (PathBuf, Vec<String>, Vec<String>, u64) {
        let mut all = vec!["token"];
        all.extend_from_slice(args);
        match run(&all) {
            Ok(Command::Token {
                secret_file,
                publish,
                subscribe,
                ttl,
            }) => (
                secret_file,
                publish.iter().map(|p| p.to_string()).collect(),
                subscribe.iter().map(|p| p.to_string()).collect(),
                ttl,
            ),
            other => panic!("{args:?}: expected Token, got {other:?}"),
        }
    }

    fn token_err(args: &[&str]) -> CliError {
        let mut all = vec!["token"];
        all.extend_from_slice(args);
        match run(&all) {
            Err(e) => e,
            Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
        }
    }

    #[test]
    fn token_options_accumulate_patterns_in_order() {
        let (file, publish, subscribe, ttl) = token(&[
            "--secret-file",
            "/etc/pushwire/secret",
            "--subscribe",
            "room.*",
            "--publish=room.42",
            "--subscribe=*",
            "--publish",
            "lobby",
        ]);
        assert_eq!(file, PathBuf::from("/etc/pushwire/secret"));
        assert_eq!(publish, ["room.42", "lobby"]);
        assert_eq!(subscribe, ["room.*", "*"]);
        assert_eq!(ttl, DEFAULT_TTL);
        let (_, publish, subscribe, ttl) = token(&[
            "--ttl",
            "60",
            "--secret-file=s",
            "--publish",
            "a",
            "--ttl=31536000",
        ]);
        assert_eq!((publish.len(), subscribe.len()), (1, 0));
        assert_eq!(ttl, MAX_TTL);
    }

    #[test]
    fn token_bad_patterns_name_the_option() {
        for (option, value) in [
            ("--publish", "room*x"),
            ("--subscribe", ""),
            ("--publish", "a b"),
            ("--subscribe", "room/1"),
            ("--publish", "**"),
        ] {
            let e = token_err(&["--secret-file", "s", option, value]);
            match &e.kind {
                ErrorKind::BadValue {
                    option: o,
                    value: v,
                    expected: EXPECT_PATTERN,
                } => assert_eq!((*o, v.as_str()), (option, value)),
                other => panic!("{value:?}: {other:?}"),
            }
            let text = e.to_string();
            assert!(text.contains("channel pattern"), "{text}");
            assert!(
                text.contains("Usage: pushwire token --secret-file FILE [OPTIONS]"),
                "{text}"
            );
        }
        let long = "x".repeat(129);
        assert!(matches!(
            token_err(&["--secret-file", "s", "--publish", &long]).kind,
            ErrorKind::BadValue { .. }
        ));
    }

    #[test]
    fn token_needs_a_secret_file_and_a_right() {
        let e = token_err(&["--publish", "a"]);
        assert_eq!(
            e.kind,
            ErrorKind::MissingArgument {
                what: MISSING_SECRET_FILE
            }
        );
        assert!(
            e.to_string()
                .starts_with("error: missing '--secret-file FILE'")
        );
        let e = token_err(&["--secret-file", "s"]);
        assert_eq!(
            e.kind,
            ErrorKind::MissingArgument {
                what: MISSING_RIGHT
            }
        );
        assert!(e.to_string().contains("--publish PATTERN"), "{e}");
        let e = token_err(&["--secret-file="]);
        assert!(matches!(
            e.kind,
            ErrorKind::BadValue {
                option: "--secret-file",
                ..
            }
        ));
        let e = token_err(&["--secret-file"]);
        assert!(matches!(
            e.kind,
            ErrorKind::MissingValue {
                option: "--secret-file",
                ..
            }
        ));
    }

    #[test]
    fn token_ttl_is_whole_seconds_up_to_a_year() {
        for value in [
            "0",
            "-1",
            "1.5",
            "",
            "1h",
            "31536001",
            "99999999999999999999999",
        ] {
            let e = token_err(&["--secret-file", "s", "--publish", "a", "--ttl", value]);
            let ErrorKind::BadValue {
                option: "--ttl",
                value: v,
                ..
            } = &e.kind
            else {
                panic!("{value:?}: {e}");
            };
            assert_eq!(v, value);
        }
        assert_eq!(
            token(&["--secret-file", "s", "--publish", "a", "--ttl", "1"]).3,
            1
        );
    }

    #[test]
    fn token_lists_hold_at_most_the_limit() {
        let names: Vec<String> = (0..=MAX_PATTERNS).map(|i| format!("c{i}")).collect();
        let mut args = vec!["--secret-file", "s"];
        for name in &names[..MAX_PATTERNS] {
            args.extend(["--subscribe", name]);
        }
        assert_eq!(token(&args).2.len(), MAX_PATTERNS);
        args.extend(["--subscribe", &names[MAX_PATTERNS]]);
        let e = token_err(&args);
        assert_eq!(
            e.kind,
            ErrorKind::TooManyPatterns {
                option: "--subscribe",
                max: MAX_PATTERNS
            }
        );
        assert!(e.to_string().contains("more than 64"), "{e}");
    }

    #[test]
    fn token_refuses_positionals_and_unknown_options() {
        let e = token_err(&["--secret-file", "s", "--publish", "a", "extra"]);
        assert!(matches!(&e.kind, ErrorKind::UnexpectedArgument { arg } if arg == "extra"));
        let e = token_err(&["--secret-file", "s", "--pubish", "a"]);
        assert!(e.to_string().contains("did you mean '--publish'?"), "{e}");
    }

    #[test]
    fn token_help_forms() {
        let text = help_text(&["token", "--help"]);
        assert_eq!(help_text(&["token", "-h"]), text);
        assert_eq!(help_text(&["help", "token"]), text);
        // help wins over missing options, and over bad ones after it
        assert_eq!(help_text(&["token", "--publish", "a", "-h"]), text);
        assert_eq!(help_text(&["token", "-h", "--publish", "a*b"]), text);
        assert!(matches!(run(&["token", "-V"]), Ok(Command::Version)));
    }
}

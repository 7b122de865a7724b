//! The option reader every command shares: `--opt VALUE`, `--opt=VALUE`, flags,
//! `-h`/`--help`, `-V`/`--version` and positional arguments, against the command's table
//! of [`OptSpec`]s, with a "did you mean" for near misses.

use super::error::{CliError, ErrorKind, Usage, err};

/// `-x`, `--xyz`, `--xyz=v`, but not `-` (conventionally a positional "stdin").
pub(super) fn is_option(arg: &str) -> bool {
    arg.starts_with('-') && arg != "-"
}

/// Splits `--name=value` into `("--name", Some("value"))`; anything else is returned whole.
pub(super) fn split_option(arg: &str) -> (&str, Option<&str>) {
    if arg.starts_with("--")
        && let Some((name, value)) = arg.split_once('=')
    {
        return (name, Some(value));
    }
    (arg, None)
}

/// One option of a command: its name, what it sets, and whether it takes a value.
pub(super) struct OptSpec<O: 'static> {
    /// `--name`, as typed.
    pub(super) name: &'static str,
    /// What it sets: the command's own option enum.
    pub(super) opt: O,
    /// Completes "expected ..." in error messages; `None` for a flag, which takes no value.
    pub(super) expected: Option<&'static str>,
}

/// Whether the table `specs` has an option called `name`.
pub(super) fn has_option<O>(specs: &[OptSpec<O>], name: &str) -> bool {
    specs.iter().any(|o| o.name == name)
}

/// One argument after the command name, as read by [`next_arg`].
pub(super) enum Arg<O: 'static> {
    Positional(String),
    Help,
    Version,
    /// An option of the command's table with its value; the value is empty for a flag.
    Opt(&'static OptSpec<O>, String),
}

/// Reads the next argument of a command whose options are `specs`: `--opt VALUE`,
/// `--opt=VALUE`, a flag, `-h`/`--help`, `-V`/`--version`, or a positional argument.
pub(super) fn next_arg<O>(
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
pub(super) fn bad_value<O>(usage: Usage, spec: &OptSpec<O>, value: &str) -> CliError {
    err(
        usage,
        ErrorKind::BadValue {
            option: spec.name,
            value: value.to_string(),
            expected: spec.expected.unwrap_or("no value"),
        },
    )
}

/// " did you mean '--addr'?" for a near miss among `known`, else an empty string.
pub(super) fn suggest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::client::CLIENT_OPTIONS;
    use crate::args::server::ECHO_OPTIONS;
    use crate::args::testing::{client_err, echo_err};

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
        assert!(text.starts_with("error: option '--addr' requires a value: a host and port"));
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

//! Why a command line cannot be run, and the text that says so: the error, the usage
//! line of the command concerned, and where to get help.

use std::fmt;

/// A command line that cannot be run. Its `Display` is the complete text to print on
/// stderr: the error, the usage line of the command concerned, and where to get help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CliError {
    pub(super) kind: ErrorKind,
    pub(super) usage: Usage,
}

/// Which command an error concerns, i.e. which usage line to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Usage {
    Top,
    Serve,
    Echo,
    Client,
    Load,
    Token,
}

impl Usage {
    fn command(self) -> &'static str {
        match self {
            Usage::Top => "pushwire",
            Usage::Serve => "pushwire serve",
            Usage::Echo => "pushwire echo",
            Usage::Client => "pushwire client",
            Usage::Load => "pushwire load",
            Usage::Token => "pushwire token",
        }
    }

    fn line(self) -> &'static str {
        match self {
            Usage::Top => "pushwire [OPTIONS] [COMMAND]",
            Usage::Serve => "pushwire serve [OPTIONS]",
            Usage::Echo => "pushwire echo [OPTIONS]",
            Usage::Client => "pushwire client [OPTIONS] <URL>",
            Usage::Load => "pushwire load [OPTIONS] <URL>",
            Usage::Token => "pushwire token --secret-file FILE [OPTIONS]",
        }
    }
}

/// What is wrong with the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ErrorKind {
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
    /// `--redis`'s URL is malformed. The text is not repeated: it may hold a password.
    BadRedisUrl { reason: String },
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
    /// A `PUSHWIRE_*` environment variable whose value cannot be a flag's.
    BadEnvironment { var: String, value: String },
    /// An option that means nothing without another one.
    Requires {
        option: &'static str,
        value: String,
        requires: &'static str,
    },
    /// Two options that cannot be used together.
    Conflicts {
        option: &'static str,
        with: &'static str,
        why: &'static str,
    },
    /// `pushwire token`: more patterns of one right than a token may hold.
    TooManyPatterns { option: &'static str, max: usize },
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
                "error: unknown command '{name}' (available: serve, echo, client, load, token, help)"
            )?,
            ErrorKind::UnexpectedArgument { arg } => {
                write!(f, "error: unexpected argument '{arg}' for '{cmd}'")?
            }
            ErrorKind::MissingArgument { what } => write!(f, "error: missing {what}")?,
            ErrorKind::BadUrl { url, reason } => write!(f, "error: invalid URL '{url}': {reason}")?,
            ErrorKind::BadRedisUrl { reason } => write!(f, "error: invalid --redis URL: {reason}")?,
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
            ErrorKind::BadEnvironment { var, value } => write!(
                f,
                "error: invalid value '{value}' in the environment for {var}: expected 1, \
                 true or yes to set it, or 0, false, no or nothing"
            )?,
            ErrorKind::Requires {
                option,
                value,
                requires,
            } => write!(f, "error: '{option} {value}' needs '{requires}'")?,
            ErrorKind::Conflicts { option, with, why } => {
                write!(f, "error: '{option}' cannot be used with '{with}': {why}")?
            }
            ErrorKind::TooManyPatterns { option, max } => write!(
                f,
                "error: more than {max} '{option}' patterns: a token holds at most {max} of each right"
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

/// The error `kind` in the command `usage` names.
pub(super) fn err(usage: Usage, kind: ErrorKind) -> CliError {
    CliError { kind, usage }
}

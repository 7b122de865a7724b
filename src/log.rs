//! Where the library's own words go: wire traces, access-log lines and operational
//! warnings.
//!
//! pushwire prints nothing by itself except through a [`Log`], which the embedder
//! chooses ([`Config::log`](crate::Config::log)): the terminal by default (access-log
//! lines on standard output, everything else on standard error), nothing at all, or a
//! function of theirs (to feed their own logger). The library never writes to the
//! terminal any other way.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;

/// How much a line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Level {
    /// A line of the wire trace ([`Config::trace`](crate::Config::trace)).
    Trace,
    /// A line of the access log ([`Config::access_log`](crate::Config::access_log)): one
    /// per HTTP request answered and per WebSocket session ended.
    Access,
    /// Something an operator may want to know: the server recovered from a condition.
    Info,
    /// Something an operator should act on: descriptors ran out, a limit cannot be met.
    Warn,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Trace => "trace",
            Level::Access => "access",
            Level::Info => "info",
            Level::Warn => "warning",
        })
    }
}

/// A destination for the library's lines. Cheap to clone.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use pushwire::log::{Level, Log};
///
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = lines.clone();
/// let log = Log::custom(move |level, line| sink.lock().unwrap().push(format!("{level}: {line}")));
/// log.write(Level::Warn, "out of file descriptors");
/// assert_eq!(lines.lock().unwrap()[0], "warning: out of file descriptors");
/// ```
#[derive(Clone, Default)]
pub struct Log(Target);

/// The embedder's function that takes each line.
type Sink = Arc<dyn Fn(Level, &str) + Send + Sync>;

#[derive(Clone, Default)]
enum Target {
    /// `pushwire: warning: …` lines on standard error (trace lines as they are), access
    /// lines as they are on standard output.
    #[default]
    Stderr,
    /// Nothing.
    Silent,
    /// The embedder's function.
    Custom(Sink),
}

impl Log {
    /// Lines go to standard error (the default) — except access-log lines, which go to
    /// standard output as they are: that is the stream an operator pipes into a log
    /// collector, and the warnings stay apart from it, where a terminal shows them.
    pub fn stderr() -> Log {
        Log(Target::Stderr)
    }

    /// Lines go nowhere.
    pub fn silent() -> Log {
        Log(Target::Silent)
    }

    /// Lines go to `f`, with their level; it runs on the thread that writes them (the
    /// event loop's), so it should be quick.
    pub fn custom(f: impl Fn(Level, &str) + Send + Sync + 'static) -> Log {
        Log(Target::Custom(Arc::new(f)))
    }

    /// Writes one line (without its line break).
    pub fn write(&self, level: Level, line: &str) {
        match &self.0 {
            Target::Stderr if level == Level::Access => {
                // A failed write (a closed pipe) has nowhere left to be reported.
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
            Target::Stderr => {
                let mut err = std::io::stderr().lock();
                // A failed write to stderr has nowhere left to be reported.
                let _ = match level {
                    Level::Trace => writeln!(err, "{line}"),
                    _ => writeln!(err, "pushwire: {level}: {line}"),
                };
            }
            Target::Silent => {}
            Target::Custom(f) => f(level, line),
        }
    }
}

impl Log {
    /// Writes `lines`, each ending in a line break, as [`write`](Self::write) would one
    /// by one — but to standard output or error in one write, so a burst of access lines
    /// costs one system call. A custom function still gets them one at a time.
    pub fn write_lines(&self, level: Level, lines: &str) {
        match &self.0 {
            Target::Stderr if level == Level::Access => {
                // A failed write (a closed pipe) has nowhere left to be reported.
                let _ = std::io::stdout().lock().write_all(lines.as_bytes());
            }
            Target::Silent => {}
            _ => lines.lines().for_each(|line| self.write(level, line)),
        }
    }
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Target::Stderr => "Log::stderr()",
            Target::Silent => "Log::silent()",
            Target::Custom(_) => "Log::custom(..)",
        })
    }
}

/// The format of the access log ([`Config::access_log`](crate::Config::access_log)): one
/// line per HTTP request when its answer is complete, one per WebSocket session when its
/// connection ends, written to [`Config::log`](crate::Config::log) at [`Level::Access`].
/// The fields and an example of each are in README.md ("Access log").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessLog {
    /// No access log (the library's default): nothing is recorded per request.
    #[default]
    Off,
    /// Space-separated fields, for people and `grep`/`awk`.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl AccessLog {
    /// `off`, `text` or `json` (as `--log` takes them).
    pub fn parse(name: &str) -> Option<AccessLog> {
        match name {
            "off" => Some(AccessLog::Off),
            "text" => Some(AccessLog::Text),
            "json" => Some(AccessLog::Json),
            _ => None,
        }
    }

    /// The name [`parse`](Self::parse) reads.
    pub fn name(self) -> &'static str {
        match self {
            AccessLog::Off => "off",
            AccessLog::Text => "text",
            AccessLog::Json => "json",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_block_of_lines_reaches_a_custom_function_one_line_at_a_time() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let log =
            Log::custom(move |level, line| sink.lock().unwrap().push(format!("{level} {line}")));
        log.write_lines(Level::Access, "first line\nsecond line\n");
        assert_eq!(
            *seen.lock().unwrap(),
            ["access first line", "access second line"]
        );
    }
}

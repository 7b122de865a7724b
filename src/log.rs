//! Where the library's own words go: wire traces and operational warnings.
//!
//! pushwire prints nothing by itself except through a [`Log`], which the embedder
//! chooses ([`Config::log`](crate::Config::log)): standard error by default, nothing at
//! all, or a function of theirs (to feed their own logger). The library never writes to
//! the terminal any other way.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;

/// How much a line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Level {
    /// A line of the wire trace ([`Config::trace`](crate::Config::trace)).
    Trace,
    /// Something an operator may want to know: the server recovered from a condition.
    Info,
    /// Something an operator should act on: descriptors ran out, a limit cannot be met.
    Warn,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Trace => "trace",
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
    /// `pushwire: warning: …` lines on standard error (trace lines as they are).
    #[default]
    Stderr,
    /// Nothing.
    Silent,
    /// The embedder's function.
    Custom(Sink),
}

impl Log {
    /// Lines go to standard error (the default).
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

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Target::Stderr => "Log::stderr()",
            Target::Silent => "Log::silent()",
            Target::Custom(_) => "Log::custom(..)",
        })
    }
}

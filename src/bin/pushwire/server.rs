//! `pushwire serve` and `pushwire echo`: bind, say where, and run until the server stops.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use pushwire::auth::token::Secret;
use pushwire::hub::access::TokenAuthorizer;
use pushwire::hub::{HubConfig, HubServer, Storage};
use pushwire::message::MessagePart;
use pushwire::{Config, ConnId, Context, Handler, Message, Server};

/// `pushwire serve`: the pub/sub hub ([`HubServer`]) and its demo page, with how to try
/// them printed on stdout.
pub(crate) fn serve(
    addr: SocketAddr,
    config: Config,
    hub: HubConfig,
    secret_file: Option<&Path>,
) -> ExitCode {
    // Read before binding: a server that cannot check tokens must not start open.
    let authorizer = match secret_file.map(read_secret).transpose() {
        Ok(secret) => secret.map(TokenAuthorizer::new),
        Err(e) => {
            eprintln!("pushwire serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(server) = bind("serve", addr, config) else {
        return ExitCode::FAILURE;
    };
    let storage = match &hub.storage {
        Storage::Memory => "in memory (lost when the process ends)".to_string(),
        Storage::Disk(log) => format!("in {} (fsync {})", log.dir.display(), log.fsync.name()),
        Storage::Redis(redis) => format!("in Redis at {} (keys {}*)", redis.url, redis.prefix),
    };
    // Recovery reads the log before the loop runs.
    let mut handler = match HubServer::open(hub, server.handle()) {
        Ok((handler, report)) => {
            if report.as_ref().is_some_and(|r| r.fresh) {
                eprintln!("pushwire serve: began a new message log (the directory held none)");
            } else if let Some(r) = report {
                let state = if r.clean {
                    "closed cleanly"
                } else {
                    "not closed cleanly"
                };
                eprintln!(
                    "pushwire serve: recovered {} channels, {} messages from {} segments \
                     (the log was {state}; {} bytes of a torn last record cut off; {} \
                     damaged segments)",
                    r.channels, r.messages, r.segments, r.truncated, r.damaged
                );
                if r.new_epochs {
                    eprintln!(
                        "pushwire serve: the machine restarted before the log was synced: \
                         every stream begins a new epoch, so readers reset"
                    );
                }
            }
            handler
        }
        Err(e) => {
            eprintln!("pushwire serve: cannot open the message log: {e}");
            return ExitCode::FAILURE;
        }
    };
    let access = match authorizer {
        Some(authorizer) => {
            handler = handler.with_authorizer(authorizer);
            "tokens required (--secret-file; mint one with `pushwire token`)"
        }
        None => "open to every client (no --secret-file)",
    };
    let local = server.local_addr();
    println!("pushwire serve: open http://{local}/ in a browser (demo chat)");
    println!("  publish:   curl -d 'hello' http://{local}/channels/lobby");
    println!("  long-poll: curl 'http://{local}/channels/lobby?since=0&timeout=30'");
    println!("  events:    curl -N -H 'Accept: text/event-stream' http://{local}/channels/lobby");
    println!("  subscribe: pushwire client ws://{local}/channels/lobby");
    println!("  metrics:   curl http://{local}/metrics");
    println!("  messages:  {storage}");
    println!("  access:    {access}");
    let status = run("serve", server, &mut handler);
    if let Err(e) = handler.close() {
        eprintln!("pushwire serve: closing the message log: {e}");
        return ExitCode::FAILURE;
    }
    status
}

/// `pushwire echo`: every message back to its sender ([`Echo`]), for conformance tests
/// and benchmarks; the address is printed on stderr.
pub(crate) fn echo(addr: SocketAddr, config: Config) -> ExitCode {
    let Some(server) = bind("echo", addr, config) else {
        return ExitCode::FAILURE;
    };
    eprintln!("pushwire echo: listening on ws://{}", server.local_addr());
    run("echo", server, &mut Echo)
}

/// Binds the listening socket, or says why it cannot (`None`). Signals are caught from
/// before the socket listens: a client may signal as soon as it can connect, and a
/// SIGTERM before the handlers were in place would end the process by default, not
/// gracefully (a test that signalled right after connecting saw that one run in three).
fn bind(command: &str, addr: SocketAddr, config: Config) -> Option<Server> {
    let signals = catch_signals(command);
    match Server::bind(addr, config) {
        Ok(server) => {
            on_signals_shut_down(command, signals, &server);
            Some(server)
        }
        Err(e) => {
            eprintln!("pushwire {command}: cannot listen on {addr}: {e}");
            None
        }
    }
}

/// Runs the server until it shuts down: exit status 0, or 1 if the event loop failed.
fn run(command: &str, mut server: Server, handler: &mut impl Handler) -> ExitCode {
    match server.run(handler) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pushwire {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT (Ctrl-C) and SIGTERM begin the graceful shutdown — every WebSocket is closed
/// with 1001, parked long-polls are answered, connections get `shutdown_timeout` to
/// finish — and `run` returns, so the process exits 0 once it is over (and a durable log
/// is closed cleanly first). A second signal ends the process at once (exit 130), for an
/// operator who will not wait. Safe `std` has no signal API: this is what the optional
/// `signal-hook` dependency is for (the `cli` feature; the library never uses it).
#[cfg(feature = "cli")]
fn on_signals_shut_down(
    command: &str,
    signals: Option<signal_hook::iterator::Signals>,
    server: &Server,
) {
    use std::io::Write as _;

    use signal_hook::consts::SIGINT;

    let Some(mut signals) = signals else {
        return;
    };
    let handle = server.handle();
    let name_of_command = command.to_string();
    let spawned = std::thread::Builder::new()
        .name("pushwire-signals".into())
        .spawn(move || {
            let mut signals = signals.forever();
            // Act first, then say so, and never with `eprintln!`: it panics when standard
            // error is gone (`pushwire serve 2>&- ` or a closed pipe), and a panic here
            // would end this thread and leave every later signal unheard.
            let say = |line: String| {
                let _ = writeln!(std::io::stderr(), "{line}");
            };
            if let Some(signal) = signals.next() {
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                let _ = handle.shutdown();
                say(format!(
                    "pushwire {name_of_command}: {name}: shutting down gracefully \
                     (again to stop at once)"
                ));
            }
            if signals.next().is_some() {
                say(format!("pushwire {name_of_command}: stopping now"));
                std::process::exit(130);
            }
        });
    if let Err(e) = spawned {
        eprintln!("pushwire {command}: signals cannot stop the server gracefully: {e}");
    }
}

/// SIGINT and SIGTERM, caught from now on (a signal that comes before the server runs
/// waits for [`on_signals_shut_down`]), or `None` if they cannot be (said on stderr).
#[cfg(feature = "cli")]
fn catch_signals(command: &str) -> Option<signal_hook::iterator::Signals> {
    use signal_hook::consts::{SIGINT, SIGTERM};

    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => Some(signals),
        Err(e) => {
            eprintln!("pushwire {command}: signals cannot stop the server gracefully: {e}");
            None
        }
    }
}

/// Without the `cli` feature there is no signal handling: a signal ends the process.
#[cfg(not(feature = "cli"))]
fn catch_signals(_command: &str) -> Option<()> {
    None
}

#[cfg(not(feature = "cli"))]
fn on_signals_shut_down(_command: &str, _signals: Option<()>, _server: &Server) {}

/// Echoes every text and binary message back to its sender.
struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        // Backpressure: while the peer is not reading our echoes, it is not read either
        // (see Config::write_buffer_high_water), so `Full` cannot happen here in practice;
        // dropping the echo would still be the right answer if it did.
        // By value: a large message assembled from several reads is queued without a copy.
        let _ = ctx.send_message(conn, message);
    }

    fn on_message_part(&mut self, ctx: &mut Context<'_>, conn: ConnId, part: MessagePart<'_>) {
        // A large message is echoed piece by piece as it arrives (re-fragmented), never
        // buffered whole: memory stays constant whatever the message size.
        let _ = ctx.send_part(conn, &part);
    }
}

/// The secret in `path` (its one trailing line break dropped), or what is wrong with it.
pub(crate) fn read_secret(path: &Path) -> Result<Secret, String> {
    let contents = std::fs::read(path)
        .map_err(|e| format!("cannot read --secret-file {}: {e}", path.display()))?;
    Secret::from_file_contents(&contents)
        .map_err(|e| format!("--secret-file {}: {e}", path.display()))
}

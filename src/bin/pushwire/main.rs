//! The `pushwire` command line.

mod cli;
mod load;

use std::process::ExitCode;

use pushwire::message::MessagePart;
use pushwire::{ConnId, Context, Handler, Message, Server};

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

/// `pushwire client`: standard input lines become text messages; received messages are
/// printed. Returns when the connection closes.
fn run_client(url: &str, protocols: Vec<String>, origin: Option<String>, trace: bool) -> ExitCode {
    use pushwire::client::{Client, ClientError, ClientEvent, ClientOptions};
    use std::io::{BufRead, Write};
    use std::sync::mpsc;
    use std::time::Duration;

    let options = ClientOptions {
        protocols,
        origin,
        trace,
        ..ClientOptions::default()
    };
    let mut client = match Client::connect_with(url, options) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("pushwire client: {url}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(p) = client.protocol() {
        eprintln!("pushwire client: connected, subprotocol {p}");
    } else {
        eprintln!("pushwire client: connected");
    }

    // Standard input is read on its own thread; the socket is polled with a short timeout.
    let (lines_tx, lines_rx) = mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(line) => {
                    if lines_tx.send(Some(line)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = lines_tx.send(None); // end of input
    });
    let _ = client
        .stream()
        .set_read_timeout(Some(Duration::from_millis(20)));
    let stdout = std::io::stdout();
    let mut closing: Option<std::time::Instant> = None;
    loop {
        if closing.is_some_and(|deadline| std::time::Instant::now() >= deadline) {
            eprintln!("pushwire client: the server did not answer our Close in time");
            return ExitCode::FAILURE;
        }
        while closing.is_none() {
            match lines_rx.try_recv() {
                Ok(Some(line)) => {
                    if let Err(e) = client.send_text(&line) {
                        eprintln!("pushwire client: send failed: {e}");
                        return ExitCode::FAILURE;
                    }
                }
                Ok(None) | Err(mpsc::TryRecvError::Disconnected) => {
                    // End of input: start the closing handshake, but keep printing what
                    // the server sent before it saw our Close.
                    if let Err(e) = client.start_close(pushwire::CloseCode::NORMAL, "") {
                        eprintln!("pushwire client: {e}");
                        return ExitCode::FAILURE;
                    }
                    closing = client.close_deadline();
                    break;
                }
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        match client.recv_event() {
            Ok(ClientEvent::Message(message)) => {
                let mut out = stdout.lock();
                let _ = match message.as_text() {
                    Some(text) => writeln!(out, "{text}"),
                    None => {
                        let bytes = message.as_bytes();
                        let hex: String =
                            bytes.iter().take(64).map(|b| format!("{b:02x}")).collect();
                        writeln!(out, "[binary {} bytes] {hex}", bytes.len())
                    }
                };
                let _ = out.flush();
            }
            // Pieces arrive only when the client's limits stream messages; they don't.
            Ok(ClientEvent::Ping(_) | ClientEvent::Pong(_) | ClientEvent::Part { .. }) => {}
            Err(ClientError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(ClientError::Closed(event)) => {
                eprintln!(
                    "pushwire client: closed: {} {:?} {:?}",
                    event.code, event.reason, event.kind
                );
                let normal = matches!(
                    event.code,
                    pushwire::CloseCode::NORMAL | pushwire::CloseCode::GOING_AWAY
                );
                return if normal {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                };
            }
            Err(e) => {
                eprintln!("pushwire client: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
}

fn main() -> ExitCode {
    match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Command::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(cli::Command::Version) => {
            println!("pushwire {}", cli::VERSION);
            ExitCode::SUCCESS
        }
        Ok(cli::Command::Echo { addr, config }) => {
            let mut server = match Server::bind(addr, config) {
                Ok(server) => server,
                Err(e) => {
                    eprintln!("pushwire echo: cannot listen on {addr}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            eprintln!("pushwire echo: listening on ws://{}", server.local_addr());
            match server.run(&mut Echo) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pushwire echo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Ok(cli::Command::Serve { addr, config, hub }) => {
            let mut server = match Server::bind(addr, config) {
                Ok(server) => server,
                Err(e) => {
                    eprintln!("pushwire serve: cannot listen on {addr}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let local = server.local_addr();
            println!("pushwire serve: open http://{local}/ in a browser (demo chat)");
            println!("  publish:   curl -d 'hello' http://{local}/channels/lobby");
            println!("  long-poll: curl 'http://{local}/channels/lobby?since=0&timeout=30'");
            println!("  subscribe: pushwire client ws://{local}/channels/lobby");
            match server.run(&mut pushwire::hub::HubServer::new(hub)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pushwire serve: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Ok(cli::Command::Client {
            url,
            protocols,
            origin,
            trace,
        }) => run_client(&url, protocols, origin, trace),
        Ok(cli::Command::Load { config }) => match load::run(&config) {
            Ok(report) => {
                print!("{}", report.summary());
                if report.is_clean() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("pushwire load: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

//! `pushwire client URL`: a small websocat on the library's blocking [`Client`]. Lines of
//! standard input become text messages; received messages are printed on stdout.
//! With `--deflate` it offers permessage-deflate (RFC 7692) without context takeover.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pushwire::client::{Client, ClientCompression, ClientError, ClientEvent, ClientOptions};
use pushwire::{CloseCode, Message};

/// Connects, then relays between the terminal and the server until the connection
/// closes: exit status 0 after a normal close (1000 or 1001), 1 otherwise. `deflate`
/// offers permessage-deflate's memory-light form,
/// `server_no_context_takeover; client_no_context_takeover` (RFC 7692 §7.1.1).
pub(crate) fn run(
    url: &str,
    protocols: Vec<String>,
    origin: Option<String>,
    trace: bool,
    deflate: bool,
) -> ExitCode {
    let options = ClientOptions {
        protocols,
        origin,
        trace,
        compression: deflate.then(ClientCompression::memory_light),
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
    match client.deflate() {
        Some(agreement) => {
            let mut answer = Vec::new();
            agreement.response().write(&mut answer);
            eprintln!(
                "pushwire client: compressing: {}",
                String::from_utf8_lossy(&answer)
            );
        }
        None if deflate => eprintln!("pushwire client: the server declined permessage-deflate"),
        None => {}
    }

    // Standard input is read on its own thread; the socket is polled with a short timeout.
    let lines = stdin_lines();
    let _ = client
        .stream()
        .set_read_timeout(Some(Duration::from_millis(20)));
    let mut closing: Option<Instant> = None;
    loop {
        if closing.is_some_and(|deadline| Instant::now() >= deadline) {
            eprintln!("pushwire client: the server did not answer our Close in time");
            return ExitCode::FAILURE;
        }
        while closing.is_none() {
            match lines.try_recv() {
                Ok(Some(line)) => {
                    if let Err(e) = client.send_text(&line) {
                        eprintln!("pushwire client: send failed: {e}");
                        return ExitCode::FAILURE;
                    }
                }
                Ok(None) | Err(mpsc::TryRecvError::Disconnected) => {
                    // End of input: start the closing handshake, but keep printing what
                    // the server sent before it saw our Close.
                    if let Err(e) = client.start_close(CloseCode::NORMAL, "") {
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
            Ok(ClientEvent::Message(message)) => print_message(&message),
            // Pieces arrive only when the client's limits stream messages; they don't.
            Ok(ClientEvent::Ping(_) | ClientEvent::Pong(_) | ClientEvent::Part { .. }) => {}
            Err(ClientError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(ClientError::Closed(event)) => {
                eprintln!(
                    "pushwire client: closed: {} {:?} {:?}",
                    event.code, event.reason, event.kind
                );
                let normal = matches!(event.code, CloseCode::NORMAL | CloseCode::GOING_AWAY);
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

/// Reads standard input on a thread of its own: each line as `Some`, then `None` at the
/// end of input (or when it cannot be read).
fn stdin_lines() -> mpsc::Receiver<Option<String>> {
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
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
    lines_rx
}

/// A text message as a line; a binary one as `[binary N bytes]` and the hex of its first
/// 64 bytes.
fn print_message(message: &Message<'_>) {
    let mut out = io::stdout().lock();
    let _ = match message.as_text() {
        Some(text) => writeln!(out, "{text}"),
        None => {
            let bytes = message.as_bytes();
            let hex: String = bytes.iter().take(64).map(|b| format!("{b:02x}")).collect();
            writeln!(out, "[binary {} bytes] {hex}", bytes.len())
        }
    };
    let _ = out.flush();
}

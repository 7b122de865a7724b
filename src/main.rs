//! The `pushwire` command line.

mod cli;

use std::process::ExitCode;

use pushwire::{ConnId, Context, Handler, Message, Server};

/// Echoes every text and binary message back to its sender.
struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        // Backpressure: while the peer is not reading our echoes, it is not read either
        // (see Config::write_buffer_high_water), so `Full` cannot happen here in practice;
        // dropping the echo would still be the right answer if it did.
        let _ = ctx.send(conn, &message);
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
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

//! The `pushwire` command: reads the command line and runs the command it names.
//!
//! Everything under `src/bin/pushwire/` is the binary's own, built on the library's public
//! API; embedders of the `pushwire` library compile none of it. [`args`] turns the
//! arguments into a [`Command`] (or the error to print); each other module runs commands:
//! [`server`] (`serve`, `echo`), [`client`], [`load`] and [`token`].

mod args;
mod client;
mod load;
mod server;
mod token;

use std::process::ExitCode;

use args::Command;

fn main() -> ExitCode {
    match args::parse(std::env::args().skip(1)) {
        Ok(Command::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("pushwire {}", args::VERSION);
            ExitCode::SUCCESS
        }
        Ok(Command::Serve {
            addr,
            config,
            hub,
            secret_file,
        }) => server::serve(addr, config, *hub, secret_file.as_deref()),
        Ok(Command::Echo { addr, config }) => server::echo(addr, config),
        Ok(Command::Client {
            url,
            protocols,
            origin,
            trace,
            deflate,
        }) => client::run(&url, protocols, origin, trace, deflate),
        Ok(Command::Load { config }) => load::run_and_print(&config),
        Ok(Command::Token {
            secret_file,
            publish,
            subscribe,
            ttl,
        }) => token::run(&secret_file, publish, subscribe, ttl),
        // A command line that cannot be run: the error and the usage line, exit status 2.
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

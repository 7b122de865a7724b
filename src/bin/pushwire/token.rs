//! `pushwire token`: reads the secret file, and prints the token the library mints
//! ([`pushwire::auth::token::mint`]) for the rights given, valid from now for the TTL.

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use pushwire::auth::token::{Claims, MAX_TOKEN_LEN, Pattern, Secret, mint};

/// Mints and prints the token. Exit status 1 if the secret cannot be read or is too
/// short, 2 if the patterns make a token longer than a server accepts (a bad command
/// line, found only once the token is written).
pub(crate) fn run(
    secret_file: &Path,
    publish: Vec<Pattern>,
    subscribe: Vec<Pattern>,
    ttl: u64,
) -> ExitCode {
    let contents = match std::fs::read(secret_file) {
        Ok(contents) => contents,
        Err(e) => {
            eprintln!(
                "pushwire token: cannot read the secret file {}: {e}",
                secret_file.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let secret = match Secret::from_file_contents(&contents) {
        Ok(secret) => secret,
        Err(e) => {
            eprintln!("pushwire token: {}: {e}", secret_file.display());
            return ExitCode::FAILURE;
        }
    };
    let now = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since_epoch) => since_epoch.as_secs(),
        Err(_) => {
            eprintln!("pushwire token: the system clock is set before 1970");
            return ExitCode::FAILURE;
        }
    };
    let claims = Claims {
        expires: now.saturating_add(ttl),
        publish,
        subscribe,
    };
    let token = mint(&secret, &claims);
    if token.len() > MAX_TOKEN_LEN {
        eprintln!(
            "pushwire token: the token would be {} bytes, more than the {MAX_TOKEN_LEN} a \
             server accepts: give fewer or shorter patterns (a prefix pattern such as \
             'room.*' covers many channels)",
            token.len()
        );
        return ExitCode::from(2);
    }
    println!("{token}");
    ExitCode::SUCCESS
}

//! Pushes the server's uptime to every connected WebSocket once a second, from a thread
//! outside the event loop, through a `Handle`. Also answers `GET /` with a short page.
//!
//! Listens on the address given as the first argument, `127.0.0.1:9002` by default.
//!
//! ```sh
//! cargo run --example ticker                     # or: cargo run --example ticker -- 127.0.0.1:9003
//! cargo run -- client ws://127.0.0.1:9002/       # in another terminal: one line a second
//! ```
//! Stop it with Ctrl-C.

use std::time::{Duration, Instant};

use pushwire::http::{Request, Response, StatusCode};
use pushwire::{CloseEvent, Config, ConnId, Context, Handler, RequestId, Server};

struct Ticker;

impl Handler for Ticker {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        let response = if request.path() == "/" {
            Response::text(StatusCode::OK, "connect a WebSocket client to this URL\n")
        } else {
            Response::error(StatusCode::NOT_FOUND, "try /")
        };
        let _ = ctx.respond(id, response);
    }

    fn on_open(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        eprintln!("{conn} open ({} connections)", ctx.connection_count());
        let _ = ctx.send_text(conn, "welcome: uptime follows every second");
    }

    fn on_close(&mut self, _ctx: &mut Context<'_>, conn: ConnId, event: &CloseEvent<'_>) {
        eprintln!("{conn} closed: {} {:?}", event.code, event.kind);
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let addr = addr.parse().map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}"))
    })?;
    let mut server = Server::bind(addr, Config::default())?;
    eprintln!("listening on ws://{}/", server.local_addr());
    let handle = server.handle();
    let started = Instant::now();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let text = format!("uptime {} s", started.elapsed().as_secs());
            // Encoded once on the loop, copied to every open WebSocket.
            if handle.broadcast(text).is_err() {
                return; // the server stopped
            }
        }
    });
    server.run(&mut Ticker)
}

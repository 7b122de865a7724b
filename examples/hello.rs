//! The smallest HTTP server on pushwire: `GET /hello` → `200 Hello, World!`, anything else
//! `404` — the same contract as the benchmark harness's hyper peer, so the two can be
//! compared like for like (keep-alive and pipelining included).
//!
//! Listens on the address given as the first argument, `127.0.0.1:8081` by default.
//!
//! ```sh
//! cargo run --release --example hello -- 127.0.0.1:8081
//! curl http://127.0.0.1:8081/hello
//! ```

use pushwire::{Config, Context, Handler, Request, RequestId, Response, Server, StatusCode};

struct Hello;

impl Handler for Hello {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        let response = if request.method() == "GET" && request.path() == "/hello" {
            Response::new(StatusCode::OK)
                .header("Content-Type", "text/plain")
                .body("Hello, World!")
        } else {
            Response::error(StatusCode::NOT_FOUND, "try GET /hello")
        };
        let _ = ctx.respond(id, response);
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    let addr = addr.parse().map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}"))
    })?;
    let mut server = Server::bind(addr, Config::default())?;
    eprintln!("hello: listening on http://{}/hello", server.local_addr());
    server.run(&mut Hello)
}

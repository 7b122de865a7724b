//! An application that embeds the pub/sub hub next to routes of its own: `GET /api/time`
//! and `POST /api/shout` are the application's, everything else — the channels, their
//! long-polls and WebSockets, `/healthz`, the demo page — is [`HubServer`]'s, exactly as
//! `pushwire serve` answers it. `POST /api/shout` also shows a server-side publish: the
//! application puts a message into the `shouts` channel itself, with
//! [`HubServer::publish`], and every subscriber of that channel receives it.
//!
//! ```sh
//! cargo run --example embed                     # or: cargo run --example embed -- 127.0.0.1:9000
//! curl http://127.0.0.1:8080/api/time           # the application's route
//! curl 'http://127.0.0.1:8080/channels/shouts?since=0&timeout=30' &   # a hub long-poll
//! curl -d 'hello' http://127.0.0.1:8080/api/shout   # the application publishes "HELLO!"
//! ```
//!
//! Open `http://127.0.0.1:8080/` in a browser and join the channel `shouts` to watch the
//! shouts arrive over WebSocket. Stop it with Ctrl-C.

use std::time::{SystemTime, UNIX_EPOCH};

use pushwire::hub::{HubConfig, HubServer};
use pushwire::message::MessagePart;
use pushwire::ws::handshake::UpgradeRequest;
use pushwire::{
    CloseEvent, Config, ConnId, Context, Handler, Message, Request, RequestId, Response, SendError,
    Server, StatusCode, Upgrade,
};

/// The channel `POST /api/shout` publishes into.
const SHOUTS: &str = "shouts";

/// The application: its own two routes, and the hub for everything else.
struct App {
    hub: HubServer,
}

impl App {
    /// `GET /api/time`: the server's clock, as seconds since the Unix epoch.
    fn time(&self) -> Response {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Response::new(StatusCode::OK)
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store")
            .body(format!("{{\"unix_time\":{now}}}\n"))
    }

    /// `POST /api/shout`: the body, upper-cased, published on [`SHOUTS`] by the
    /// application itself (no client publishes it), answered with the message's id.
    fn shout(&mut self, ctx: &mut Context<'_>, request: &Request) -> Response {
        let Ok(text) = std::str::from_utf8(request.body()) else {
            return Response::text(StatusCode::BAD_REQUEST, "send text\n");
        };
        let shout = format!("{}!", text.trim().to_uppercase());
        match self.hub.publish(ctx, SHOUTS, &shout) {
            Ok(id) => Response::new(StatusCode::CREATED)
                .header("Content-Type", "application/json")
                .body(format!("{{\"channel\":\"{SHOUTS}\",\"id\":{id}}}\n")),
            // Too large, or the hub is full: the hub's own status and reason.
            Err(e) => Response::text(e.status(), format!("{e}\n")),
        }
    }
}

/// Every callback the application does not answer itself goes to the hub — all of them,
/// so that nothing the hub relies on (parked polls timing out, hang-ups, backpressure
/// lifted, its expiry timer, its log's progress) is lost.
impl Handler for App {
    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        let response = match (request.method(), request.path()) {
            ("GET" | "HEAD", "/api/time") => self.time(),
            ("POST", "/api/shout") => self.shout(ctx, &request),
            // RFC 9110 §15.5.6: a 405 names the methods the resource has.
            (_, "/api/time") => not_allowed("GET, HEAD"),
            (_, "/api/shout") => not_allowed("POST"),
            _ => return self.hub.on_request(ctx, id, request),
        };
        let _ = ctx.respond(id, response);
    }

    fn on_upgrade(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        self.hub.on_upgrade(ctx, conn, request)
    }

    fn on_park_timeout(&mut self, ctx: &mut Context<'_>, request: RequestId) {
        self.hub.on_park_timeout(ctx, request);
    }

    fn on_request_abandoned(&mut self, ctx: &mut Context<'_>, request: RequestId) {
        self.hub.on_request_abandoned(ctx, request);
    }

    fn on_open(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.hub.on_open(ctx, conn);
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        self.hub.on_message(ctx, conn, message);
    }

    fn on_message_part(&mut self, ctx: &mut Context<'_>, conn: ConnId, part: MessagePart<'_>) {
        self.hub.on_message_part(ctx, conn, part);
    }

    fn on_close(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: &CloseEvent<'_>) {
        self.hub.on_close(ctx, conn, event);
    }

    fn on_drained(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.hub.on_drained(ctx, conn);
    }

    /// The hub arms the loop's one timer for its channels' expiry; an application that
    /// wanted a timer too would keep both deadlines and ask for the earlier.
    fn on_wake(&mut self, ctx: &mut Context<'_>) {
        self.hub.on_wake(ctx);
    }

    fn on_notify(&mut self, ctx: &mut Context<'_>, token: u64) {
        self.hub.on_notify(ctx, token);
    }

    fn on_undelivered(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        message: Message<'static>,
        error: SendError,
    ) {
        self.hub.on_undelivered(ctx, conn, message, error);
    }
}

fn not_allowed(allow: &'static str) -> Response {
    Response::text(StatusCode::METHOD_NOT_ALLOWED, format!("use {allow}\n")).header("Allow", allow)
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let addr = addr.parse().map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}"))
    })?;
    let hub = HubConfig::default();
    // One message size limit over both transports, as `pushwire serve` has: a larger
    // WebSocket message is refused by the codec (1009), a larger body by HTTP (413).
    let mut config = Config::default();
    config.max_message_size = hub.max_message as u64;
    config.max_frame_size = config.max_frame_size.min(config.max_message_size);
    config.max_body_bytes = hub.max_message;
    let mut server = Server::bind(addr, config)?;
    let local = server.local_addr();
    eprintln!("embed: the application on http://{local}/api/time and /api/shout,");
    eprintln!("       the hub on http://{local}/ and /channels/NAME");
    let mut app = App {
        hub: HubServer::new(hub),
    };
    server.run(&mut app)
}

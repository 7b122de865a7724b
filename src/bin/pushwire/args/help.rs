//! The help texts: what `--help`, `-h` and `pushwire help [COMMAND]` print. Defaults are
//! printed from the values the parsers start from, so the texts cannot drift from them.

use pushwire::Config;
use pushwire::hub::HubConfig;

use super::VERSION;
use super::server::{ECHO_ADDR, SERVE_ADDR, echo_defaults, serve_defaults};
use super::token::{DEFAULT_TTL, MAX_TTL};
use super::values::{fmt_bytes, fmt_secs};
use crate::load::LoadConfig;

pub(super) fn top_help() -> String {
    format!(
        "\
pushwire {VERSION}
Real-time push over WebSocket (RFC 6455) and HTTP long-polling, on one event loop.

Usage: pushwire [OPTIONS] [COMMAND]

Commands:
  serve   Serve the pub/sub hub on {SERVE_ADDR}: channels over HTTP long-polling and
          WebSocket, and a demo chat page at / (the default: what 'pushwire' runs)
  echo    Echo every text and binary message back (conformance tests, benchmarks)
  client  Connect to a WebSocket server: stdin lines are sent, messages received printed
  load    Generate load: WebSocket echo, long-poll delivery, or one-to-many fan-out
  token   Mint an access token for a hub started with --secret-file: which channels its
          bearer may publish to and subscribe to, until when
  help    Print this help, or the help of a command: 'pushwire help serve'

Options:
  -h, --help     Print help
  -V, --version  Print version

Run 'pushwire <COMMAND> --help' for the options of a command.
"
    )
}

pub(super) fn serve_help() -> String {
    let lib = serve_defaults();
    let hub = HubConfig::default();
    let ping = match lib.ping_interval {
        Some(d) => fmt_secs(d),
        None => "off".to_string(),
    };
    format!(
        "\
Serve the pub/sub hub: channels over HTTP long-polling, plain polling, Server-Sent Events
and WebSocket, one message history per channel, a browser client at /pushwire.js and a
demo chat page at /.

'pushwire' with no arguments runs this with every default. Its limits and timeouts are
the library defaults, but for a 64 KiB message limit (not the larger ones of
'pushwire echo').

Usage: pushwire serve [OPTIONS]

HTTP API (NAME: 1 to 128 of A-Z a-z 0-9 _ . -):
  POST /channels/NAME             publish the body (UTF-8 text); 201 {{\"id\":N,\"epoch\":\"E\"}}
                                  (Content-Type: application/json: a JSON value, sent as it is)
  GET  /channels/NAME?since=N&epoch=E&limit=K&timeout=S
                                  long-poll; 200 {{\"epoch\":\"E\",\"messages\":[...],\"next\":M}}
                                  or 204
  GET  /channels/NAME?since=N&epoch=E (WebSocket)
                                  subscribe: {{\"epoch\":\"E\",\"next\":C}} first, then each
                                  message as {{\"id\":N,\"data\":\"...\"}}
  GET  /channels/NAME?since=N&epoch=E (Accept: text/event-stream)
                                  Server-Sent Events: each message with id: E:N, so a
                                  browser resumes with Last-Event-ID
  GET  /ws (WebSocket, subprotocol pushwire.v1)
                                  many channels on one socket, by JSON commands:
                                  subscribe, unsubscribe, publish (answered by ack)
  GET  /events?channel=A&since=N&epoch=E&channel=B...
                                  Server-Sent Events of several channels
  GET  /poll?channel=A&since=N&epoch=E&channel=B...&timeout=S
                                  one long-poll on several channels: {{\"channels\":[...]}}
  GET  /pushwire.js               the browser client (WebSocket, then SSE, then long-poll)
  GET  /healthz                   200 ok
  GET  /metrics                   counters in the Prometheus text format
  GET  /                          the demo chat page
  since=N: only messages after id N (absent: only new ones); epoch=E: the stream N is
  from (another one, or N past the last id: an answer with \"reset\":true from the
  start); limit=K: at most K messages [default: {poll_limit}, at most {max_poll_limit}];
  timeout=0: plain polling.

Options:
      --addr ADDR               Address to listen on: IP and port, or a host name and port
                                (resolved at start) [default: {SERVE_ADDR}]
      --history N               Messages retained per channel for late readers (since=N)
                                and reconnecting subscribers; at least 1 [default: {history}]
      --history-bytes BYTES     Bytes retained per channel (its messages as sent, plus 40
                                each), whichever of this and --history comes first; at
                                least 6 x --max-message + 77 [default: {history_bytes}]
      --max-channels N          Most channels at once; a publish or subscription that would
                                make another is refused with 503 [default: {max_channels}]
      --max-retained BYTES      Bytes all channels retain together; a publish past it is
                                refused with 507 (WebSocket: close 1013) [default: {retained}]
      --channel-ttl SECS        Drop a channel with no subscriber and no new message for
                                this long; it comes back with a new epoch [default: {ttl}]
      --sse-heartbeat SECS      A Server-Sent Events stream quiet for this long gets a
                                keepalive comment [default: {heartbeat}]
      --sse-retry SECS          The reconnection delay SSE streams ask browsers for (their
                                retry: field) [default: {retry}]
      --max-subscriptions N     Most channels one /ws connection, /events stream or /poll
                                request follows; past it: 429 [default: {subscriptions}]
      --data-dir DIR            Keep every channel's stream in a crash-safe log in DIR:
                                recovered on start, ids and epochs continue
                                [default: in memory]
      --fsync always|batch|never
                                With --data-dir, when a publish is answered 201: always,
                                after fdatasync (survives kill -9 and power loss); batch,
                                after write, synced every 100 ms; never, after write
                                (survives kill -9 only) [default: always]
      --redis URL               Keep the streams in Redis, shared with every node that uses
                                the same server and prefix: redis://[[user]:password@]
                                host[:port][/db] (no TLS) [default: in memory]
      --redis-prefix PREFIX     Prefix of every Redis key and pub/sub channel
                                [default: pushwire:]
      --poll-timeout SECS       How long a long-poll without timeout= is held before 204;
                                at most --max-poll-timeout [default: {poll}, or
                                --max-poll-timeout if that is smaller]
      --max-poll-timeout SECS   The longest a long-poll is held, whatever its timeout= asks
                                [default: {max_poll}]
      --max-message BYTES       Largest message, over HTTP and WebSocket alike: a bigger
                                POST is refused with 413, a bigger WebSocket message with
                                close code 1009 [default: {msg}]
      --max-body BYTES          Largest request body, if it should differ from
                                --max-message [default: --max-message]
      --max-frame BYTES         Largest frame payload, at most --max-message; a bigger one
                                is refused with 1009 [default: {frame}, or --max-message
                                if that is smaller]
      --ping-interval SECS|off  Send a keepalive ping after this long without a byte from
                                the peer; 'off' disables keepalive [default: {ping}]
      --pong-timeout SECS       After a keepalive ping, drop the peer if no byte arrives
                                within this [default: {pong}]
      --close-timeout SECS      After sending Close, drop the TCP connection if the peer's
                                Close has not arrived within this [default: {close}]
      --request-timeout SECS    Time allowed for a whole request, head and body, from its
                                first byte; 408 after (slowloris protection)
                                [default: {request}]
      --idle-timeout SECS       Close an HTTP connection that sends nothing for this long
                                between requests (or before its first) [default: {idle}]
      --max-connections N       Most simultaneous connections (long-polls included); more
                                are accepted and closed at once [default: {conn}]
      --write-buffer BYTES      Per-connection write-buffer high-water mark: at or above it
                                the server stops reading from that peer [default: {wbuf}]
      --allow-origin ORIGIN     Another site's page (https://app.example) that may publish,
                                subscribe and read answers (CORS); repeat for several, or
                                '*' for every site. Other sites' upgrades and POSTs get
                                403; requests without Origin (curl, backends) are not
                                checked [default: same origin only]
      --secret-file FILE        Require access tokens signed with the secret in FILE (at
                                least 16 bytes; one trailing newline is ignored) to
                                publish and subscribe; mint them with `pushwire token`
                                [default: no tokens, open to every client]
      --log text|json|off       Access log on stdout: a line per HTTP request answered
                                and per WebSocket session ended (time, peer, method,
                                target with ?token= redacted, status, bytes, seconds)
                                [default: text]
      --deflate light|full|off  permessage-deflate (RFC 7692), which every browser offers:
                                light keeps no window between messages either way (a
                                published message compresses the same for everyone);
                                full takes context takeover where the client allows
                                (better ratio, up to ~300 KiB per connection) [default: light]
      --deflate-level fast|default|best
                                How hard our messages are compressed [default: fast]
      --deflate-min-size BYTES  Messages shorter than this are sent uncompressed
                                [default: 32]
      --deflate-window BITS     Largest LZ77 window, 8..15 (2^BITS bytes), ours and the
                                one asked of clients that allow it [default: 15]
      --trace                   Print every HTTP head and frame crossing the wire to
                                stderr, each line stamped with the time of day (UTC):
                                direction, connection id, FIN, RSV, opcode, mask key,
                                length encoding, payload preview, close codes by name.
                                Slow: for learning and debugging
  -h, --help                    Print help
  -V, --version                 Print version

Values are given as '--opt VALUE' or '--opt=VALUE'. Every option can also come from the
environment: PUSHWIRE_ and its name in capitals with '_' for '-' (PUSHWIRE_ADDR,
PUSHWIRE_MAX_POLL_TIMEOUT=60; a flag is set by 1, true or yes; --allow-origin takes a
comma-separated list); the command line wins.
BYTES: an integer with an optional suffix K, KiB, M, MiB, G or GiB (binary multiples,
       case-insensitive), e.g. 65536, 64K, 16MiB.
SECS:  seconds as an integer or a decimal, e.g. 30 or 0.5 (above 0, at most one year).

Examples:
  pushwire serve --addr 0.0.0.0:8080 --history 100
  curl -d 'hello' http://127.0.0.1:8080/channels/lobby
  curl 'http://127.0.0.1:8080/channels/lobby?since=0&timeout=10'
  curl -N -H 'Accept: text/event-stream' 'http://127.0.0.1:8080/channels/lobby?since=0'
  curl -N 'http://127.0.0.1:8080/events?channel=lobby&since=0&channel=news'
  curl 'http://127.0.0.1:8080/poll?channel=lobby&since=0&channel=news&timeout=10'
  pushwire client 'ws://127.0.0.1:8080/channels/lobby?since=0'
",
        history = hub.history,
        history_bytes = fmt_bytes(hub.history_bytes as u64),
        max_channels = hub.max_channels,
        retained = fmt_bytes(hub.max_retained_bytes as u64),
        ttl = fmt_secs(hub.channel_ttl),
        heartbeat = fmt_secs(hub.sse_heartbeat),
        retry = fmt_secs(hub.sse_retry),
        subscriptions = hub.max_subscriptions,
        poll_limit = hub.poll_limit,
        max_poll_limit = hub.max_poll_limit,
        poll = fmt_secs(hub.default_poll_timeout),
        max_poll = fmt_secs(hub.max_poll_timeout),
        msg = fmt_bytes(lib.max_message_size),
        frame = fmt_bytes(lib.max_frame_size),
        pong = fmt_secs(lib.pong_timeout),
        close = fmt_secs(lib.close_timeout),
        request = fmt_secs(lib.request_timeout),
        idle = fmt_secs(lib.idle_timeout),
        conn = lib.max_connections,
        wbuf = fmt_bytes(lib.write_buffer_high_water as u64),
    )
}

pub(super) fn echo_help() -> String {
    let lib = Config::default();
    let echo = echo_defaults();
    let ping = match lib.ping_interval {
        Some(d) => fmt_secs(d),
        None => "off".to_string(),
    };
    format!(
        "\
Echo every text and binary message back to its sender.

For conformance tests (Autobahn|Testsuite) and benchmarks, so its limits are larger
than the library defaults:
  max message {echo_msg} (library: {lib_msg}), max frame {echo_frame} (library: {lib_frame}),
  max fragments {echo_frag} (library: {lib_frag}), max connections {echo_conn} (library: {lib_conn}).
Timeouts and the write buffer are the library defaults. Messages of 256 KiB or more
that span reads are echoed piece by piece as they arrive, never buffered whole.

Usage: pushwire echo [OPTIONS]

Options:
      --addr ADDR               Address to listen on [default: {ECHO_ADDR}]
      --max-message BYTES       Largest message (sum of its fragments); a bigger one is
                                refused with close code 1009 [default: {echo_msg}]
      --max-frame BYTES         Largest frame payload, at most --max-message; a bigger one
                                is refused with 1009 [default: {echo_frame}, or
                                --max-message if that is smaller]
      --max-fragments N         Most frames in one fragmented message; more is refused with
                                1009 [default: {echo_frag}]
      --ping-interval SECS|off  Send a keepalive ping after this long without a byte from
                                the peer; 'off' disables keepalive [default: {ping}]
      --pong-timeout SECS       After a keepalive ping, drop the peer if no byte arrives
                                within this [default: {pong}]
      --close-timeout SECS      After sending Close, drop the TCP connection if the peer's
                                Close has not arrived within this [default: {close}]
      --request-timeout SECS    Time allowed for a whole request (the handshake) from its
                                first byte; 408 after (slowloris protection)
                                [default: {request}]
      --idle-timeout SECS       Close a connection that sends nothing for this long before
                                its handshake [default: {idle}]
      --max-connections N       Most simultaneous connections; more are accepted and closed
                                at once [default: {echo_conn}]
      --write-buffer BYTES      Per-connection write-buffer high-water mark: at or above it
                                the server stops reading from that peer [default: {wbuf}]
      --allow-origin ORIGIN     Another site's page allowed to connect; repeat for
                                several, or '*' for every site. Other sites get 403;
                                requests without Origin are not checked
                                [default: same origin only]
      --log text|json|off       Access log on stdout: a line per HTTP request answered
                                and per WebSocket session ended [default: off]
      --deflate light|full|off  permessage-deflate (RFC 7692): full accepts every offer as
                                made (context takeover, any window 8..15); light keeps no
                                window between messages [default: full]
      --deflate-level fast|default|best
                                How hard echoes are compressed [default: fast]
      --deflate-min-size BYTES  Messages shorter than this are echoed uncompressed
                                [default: 0]
      --deflate-window BITS     Largest LZ77 window, 8..15 (2^BITS bytes) [default: 15]
      --trace                   Print every HTTP head and frame crossing the wire to
                                stderr, each line stamped with the time of day (UTC):
                                direction, connection id, FIN, RSV, opcode, mask key,
                                length encoding, payload preview, close codes by name.
                                Slow: for learning and debugging
  -h, --help                    Print help
  -V, --version                 Print version

Values are given as '--opt VALUE' or '--opt=VALUE'.
BYTES: an integer with an optional suffix K, KiB, M, MiB, G or GiB (binary multiples,
       case-insensitive), e.g. 65536, 64K, 16MiB.
SECS:  seconds as an integer or a decimal, e.g. 30 or 0.5 (above 0, at most one year).
",
        echo_msg = fmt_bytes(echo.max_message_size),
        lib_msg = fmt_bytes(lib.max_message_size),
        echo_frame = fmt_bytes(echo.max_frame_size),
        lib_frame = fmt_bytes(lib.max_frame_size),
        echo_frag = echo.max_fragments,
        lib_frag = lib.max_fragments,
        echo_conn = echo.max_connections,
        lib_conn = lib.max_connections,
        pong = fmt_secs(echo.pong_timeout),
        close = fmt_secs(echo.close_timeout),
        request = fmt_secs(echo.request_timeout),
        idle = fmt_secs(echo.idle_timeout),
        wbuf = fmt_bytes(echo.write_buffer_high_water as u64),
    )
}

pub(super) fn client_help() -> String {
    "\
A small websocat: connect to a WebSocket server, send each line of standard input as a
text message, and print every message received to standard output, one per line (binary
as '[binary N bytes] <hex of up to 64 bytes>').

At the end of standard input (Ctrl-D) the client sends Close 1000 and waits for the
server's Close. Exit status: 0 after a normal close, 1 if the connection failed or
closed abnormally, 2 for a bad command line.

Usage: pushwire client [OPTIONS] <URL>

Arguments:
  <URL>  ws://host[:port]/path (port 80 if omitted). wss:// is not supported: it needs
         TLS, which pushwire does not implement

Options:
      --protocol NAME    Offer this subprotocol (Sec-WebSocket-Protocol); repeat to offer
                         several, in order of preference. NAME is an HTTP token: letters,
                         digits and !#$%&'*+-.^_`|~ [default: none offered]
      --origin ORIGIN    Send this Origin header, as a browser would
                         [default: no Origin header]
      --trace            Print every HTTP head and frame crossing the wire to stderr
                         (time of day in UTC, direction, connection id, FIN, RSV,
                         opcode, mask key, length encoding, payload preview, close codes
                         by name)
      --deflate          Offer permessage-deflate (RFC 7692) without context takeover,
                         'permessage-deflate; server_no_context_takeover;
                         client_no_context_takeover': if the server accepts, messages of
                         32 bytes or more are compressed both ways and neither side keeps
                         a window between messages [default: not offered]
  -h, --help             Print help
  -V, --version          Print version

Values are given as '--opt VALUE' or '--opt=VALUE'.

Examples:
  pushwire client ws://127.0.0.1:9001/
  echo hello | pushwire client ws://127.0.0.1:9001/
  pushwire client --protocol chat --origin https://example.com ws://localhost:8080/chat
  pushwire client --deflate --trace ws://127.0.0.1:9001/
"
    .to_string()
}

pub(super) fn load_help() -> String {
    let d = LoadConfig::new("");
    format!(
        "\
Generate load against a pushwire server (or any WebSocket echo server), on one thread and
one event loop, with a progress line on stderr once a second and a summary on stdout: a
readable block, then one line 'LOAD mode=... conns=... size=... depth=... msgs=...
msgs_per_s=... mb_per_s=... p50_us=... p99_us=... max_us=... errors=... mismatches=...
connect_ms=...'.

Modes:
  echo      CONNS WebSocket connections each keep DEPTH messages of SIZE bytes in flight;
            every echoed byte is compared with what was sent. Latency: from queueing a
            message to receiving its whole echo. URL: ws://HOST:PORT/PATH
  longpoll  CONNS keep-alive clients loop 'GET URL?since=<next>&timeout=30' while a
            built-in publisher POSTs --publish-rate messages/s to the same channel.
            Latency: from the publish to its delivery; a gap or a repeat in what a
            client receives is an error. URL: http://HOST:PORT/channels/NAME
  fanout    CONNS waiters on one channel (parked long-polls, WebSocket subscribers,
            Server-Sent Events streams, or pushwire.v1 connections to /ws subscribed to
            the channel), then one publish; per waiter, the time from the publish until
            its response, frame or event has arrived in full. Repeated --rounds times;
            each round waits until every long-poll has been written again (every
            subscriber has its 101, 'event: subscribed' or 'subscribed' answer), then 1 s
            (a parked request gives no signal). URL: http:// or
            ws://HOST:PORT/channels/NAME

Use a channel nobody else publishes to: message ids and contents are checked.

Usage: pushwire load [OPTIONS] <URL>

Arguments:
  <URL>  ws://host[:port]/path or http://host[:port]/channels/NAME (port 80 if omitted)

Options:
      --mode MODE               echo, longpoll or fanout [default: echo]
      --conns N                 Connections (echo), polling clients (longpoll) or waiters
                                (fanout) [default: {conns}]
      --size BYTES              Echo message size; for longpoll and fanout, published
                                bodies are padded to at least this [default: {size}]
      --depth D                 Echo messages in flight per connection [default: {depth}]
      --secs SECS               Measured time (echo, longpoll) [default: {secs}]
      --warmup SECS             Load before measuring (echo, longpoll); 0 for none
                                [default: {warmup}]
      --text                    Echo text messages (valid UTF-8 mixing 1- to 4-byte
                                characters) [default: binary]
      --publish-rate R          Publishes per second (longpoll) [default: {rate}]
      --rounds K                Publishes timed (fanout) [default: {rounds}]
      --transport T             How fan-out waiters wait: longpoll, ws, sse (GET with
                                Accept: text/event-stream) or ws-mux (GET /ws with
                                pushwire.v1, then a subscribe command) [default: by the
                                URL's scheme, ws:// for ws]
      --connect-concurrency N   Most connections opening at once [default: {conc}]
      --node HOST:PORT          Another node serving the same channels (pushwire serve
                                --redis; repeatable): clients and waiters are spread
                                round robin over the URL's node and these, the publisher
                                stays on the URL's (longpoll, fanout)
  -h, --help                    Print help
  -V, --version                 Print version

Connections are opened first (15 s at most), then the run warms up and measures. Every
run is bounded: warmup + secs + 30 s (echo, longpoll), 30 s + 15 s per round (fanout).
Exit status: 0 if clean, 1 on any error or mismatch, 2 for a bad command line.

Each connection is a file descriptor: raise the limit in the shell first for thousands
(e.g. 'ulimit -n 20000'; the run checks and says so). All connections come from one
source address, which allows about 28,000 to one server address and port.

Values are given as '--opt VALUE' or '--opt=VALUE'.
BYTES: an integer with an optional suffix K, KiB, M, MiB, G or GiB (binary multiples,
       case-insensitive), e.g. 20, 64K, 1MiB.
SECS:  seconds as an integer or a decimal, e.g. 10 or 0.5.

Examples:
  pushwire echo &
  pushwire load ws://127.0.0.1:9001/ --conns 100 --size 1KiB --depth 4 --secs 10
  pushwire serve --max-connections 30000 &
  pushwire load http://127.0.0.1:8080/channels/bench --mode longpoll --conns 1000
  pushwire load http://127.0.0.1:8080/channels/fan --mode fanout --conns 10000
  pushwire load ws://127.0.0.1:8080/channels/fan --mode fanout --conns 10000
  pushwire load http://127.0.0.1:8080/channels/fan --mode fanout --transport sse
  pushwire load http://127.0.0.1:8080/channels/fan --mode fanout --transport ws-mux
  pushwire load ws://127.0.0.1:8081/channels/fan --mode fanout --node 127.0.0.1:8082
",
        conns = d.conns,
        size = d.size,
        depth = d.depth,
        secs = fmt_secs(d.secs),
        warmup = fmt_secs(d.warmup),
        rate = d.publish_rate,
        rounds = d.rounds,
        conc = d.connect_concurrency,
    )
}

pub(super) fn token_help() -> String {
    format!(
        "\
Mint an access token, printed on standard output with a newline: the channels its bearer
may publish to and subscribe to, and an expiry, signed with HMAC-SHA1 under the secret in
FILE. A hub started with the same secret ('pushwire serve --secret-file FILE') accepts it
as 'Authorization: Bearer TOKEN', as '?token=TOKEN', or as the WebSocket subprotocol
'bearer.TOKEN', until it expires. Any backend can mint the same tokens in a few lines:
README.md, 'Access tokens', gives the format.

Usage: pushwire token --secret-file FILE [OPTIONS]

Options:
      --secret-file FILE    The secret: the file's bytes but one trailing newline, at
                            least 16 of them (e.g. 'openssl rand -hex 32 > FILE')
      --publish PATTERN     Allow publishing to the channels PATTERN names; repeat for
                            several
      --subscribe PATTERN   Allow subscribing to the channels PATTERN names; repeat for
                            several
      --ttl SECONDS         Valid for this long from now, 1 to {MAX_TTL} (a year)
                            [default: {DEFAULT_TTL}]
  -h, --help                Print help
  -V, --version             Print version

PATTERN: a channel name (1 to 128 of A-Z a-z 0-9 _ . -); such a name followed by '*', for
         every channel it begins ('room.*': room.1, room.2, ...); or '*', every channel.
         Give at least one --publish or --subscribe, and at most {max} of each.

A token cannot be revoked, except by changing the secret (which revokes them all): keep
--ttl short.

Exit status: 0 when the token is printed, 1 if the secret file cannot be read or holds
fewer than 16 bytes, 2 for a bad command line (or more patterns than fit in a token).

Values are given as '--opt VALUE' or '--opt=VALUE'.

Examples:
  openssl rand -hex 32 > secret
  pushwire token --secret-file secret --subscribe 'room.*' --publish room.42
  curl -H \"Authorization: Bearer $(pushwire token --secret-file secret --publish lobby)\" \\
       -d hello http://127.0.0.1:8080/channels/lobby
",
        max = pushwire::auth::token::MAX_PATTERNS,
    )
}

#[cfg(test)]
mod tests {
    use crate::args::client::CLIENT_OPTIONS;
    use crate::args::server::{ECHO_OPTIONS, SERVE_OPTIONS};
    use crate::args::testing::{help_text, run};
    use crate::args::token::TOKEN_OPTIONS;

    #[test]
    fn top_help_lists_commands_and_global_options() {
        let text = help_text(&["--help"]);
        for word in ["echo", "client", "help", "--help", "-h", "--version", "-V"] {
            assert!(text.contains(word), "top help lacks {word}");
        }
    }

    #[test]
    fn top_help_lists_serve_first_as_the_default() {
        let top = help_text(&["--help"]);
        assert_eq!(help_text(&["help"]), top);
        let pos = |cmd: &str| {
            top.find(&format!("\n  {cmd}  "))
                .unwrap_or_else(|| panic!("top help lacks {cmd}: {top}"))
        };
        assert!(pos("serve") < pos("echo"));
        assert!(pos("echo") < pos("client"));
        assert!(pos("client") < pos("help"));
        let serve_entry = &top[pos("serve")..pos("echo")];
        assert!(serve_entry.contains("default"), "{serve_entry}");
        assert!(top.contains("Usage: pushwire [OPTIONS] [COMMAND]"), "{top}");
        for line in top.lines() {
            assert!(line.len() <= 100, "long help line: {line}");
        }
        let text = run(&["serv"]).unwrap_err().to_string();
        assert!(
            text.contains("(available: serve, echo, client, load, token, help)"),
            "{text}"
        );
    }

    #[test]
    fn serve_help_mentions_every_option_and_default() {
        let text = help_text(&["serve", "--help"]);
        for spec in SERVE_OPTIONS {
            assert!(text.contains(spec.name), "serve help lacks {}", spec.name);
        }
        for word in [
            "Usage: pushwire serve [OPTIONS]",
            "--help",
            "--version",
            "[default: 127.0.0.1:8080]",
            "[default: 1024]",
            "[default: 30, or",
            "[default: 120]",
            "[default: 64 KiB]",
            "[default: 64 KiB, or --max-message",
            "[default: --max-message]",
            "[default: 100000]",
            "[default: 256 MiB]",
            "[default: 3600]",
            "[default: 100, at most 1000]",
            "[default: 10]",
            "[default: 5]",
            "[default: 16384]",
            "[default: 1 MiB]",
            "[default: same origin only]",
            "library defaults",
            "'pushwire' with no arguments",
            "413",
            "408",
            "503",
            "507",
            "1013",
            "head and body",
            "POST /channels/NAME             publish the body (UTF-8 text); \
             201 {\"id\":N,\"epoch\":\"E\"}",
            "(Content-Type: application/json: a JSON value, sent as it is)",
            "GET  /channels/NAME?since=N&epoch=E&limit=K&timeout=S",
            "long-poll; 200 {\"epoch\":\"E\",\"messages\":[...],\"next\":M}",
            "subscribe: {\"epoch\":\"E\",\"next\":C} first, then each",
            "message as {\"id\":N,\"data\":\"...\"}",
            "\"reset\":true",
            "GET  /healthz                   200 ok",
            "GET  /metrics                   counters in the Prometheus text format",
            "GET  /                          the demo chat page",
            "--log text|json|off",
            "[default: text]",
            "--opt=VALUE",
            "KiB",
            "0.5",
        ] {
            assert!(text.contains(word), "serve help lacks {word:?}");
        }
        for line in text.lines() {
            assert!(line.len() <= 100, "long help line: {line}");
        }
    }

    #[test]
    fn echo_help_mentions_every_option_and_default() {
        let text = help_text(&["echo", "--help"]);
        for spec in ECHO_OPTIONS {
            assert!(text.contains(spec.name), "echo help lacks {}", spec.name);
        }
        for word in [
            "--help",
            "--version",
            "[default: 127.0.0.1:9001]",
            "[default: 64 MiB]",
            "[default: 1048576]",
            "[default: 30]",
            "[default: 5]",
            "[default: 10]",
            "[default: 65536]",
            "[default: 1 MiB]",
            "[default: same origin only]",
            "library: 16 MiB",
            "library: 4096",
            "KiB",
            "GiB",
            "0.5",
            "--opt=VALUE",
            "--trace",
            "mask",
            "close codes by",
            "--log text|json|off",
            "[default: off]",
        ] {
            assert!(text.contains(word), "echo help lacks {word:?}");
        }
        // Every line fits a 100-column terminal.
        for line in text.lines() {
            assert!(line.len() <= 100, "long help line: {line}");
        }
    }

    #[test]
    fn token_help_mentions_every_option_and_default() {
        let text = help_text(&["token", "--help"]);
        for spec in TOKEN_OPTIONS {
            assert!(text.contains(spec.name), "token help lacks {}", spec.name);
        }
        for word in [
            "Usage: pushwire token --secret-file FILE [OPTIONS]",
            "[default: 3600]",
            "31536000",
            "at most 64 of each",
            "fewer than 16 bytes",
            "'room.*'",
            "Authorization: Bearer TOKEN",
            "?token=TOKEN",
            "bearer.TOKEN",
            "Exit status: 0",
            "--opt=VALUE",
            "--help",
            "--version",
        ] {
            assert!(text.contains(word), "token help lacks {word:?}");
        }
        for line in text.lines() {
            assert!(line.len() <= 100, "long help line: {line}");
        }
        let top = help_text(&["--help"]);
        assert!(top.contains("\n  token   "), "{top}");
    }

    #[test]
    fn client_help_mentions_every_option() {
        let text = help_text(&["client", "--help"]);
        for spec in CLIENT_OPTIONS {
            assert!(text.contains(spec.name), "client help lacks {}", spec.name);
        }
        for word in [
            "Usage: pushwire client [OPTIONS] <URL>",
            "--protocol NAME",
            "--origin ORIGIN",
            "--help",
            "--version",
            "websocat",
            "[binary N bytes]",
            "ws://host[:port]/path",
            "wss://",
            "TLS",
            "!#$%&'*+-.^_`|~",
            "Ctrl-D",
            "Close 1000",
            "Exit status: 0",
            "pushwire client ws://127.0.0.1:9001/\n",
            "echo hello | pushwire client ws://127.0.0.1:9001/\n",
            "mask key",
            "--opt=VALUE",
            "--deflate ",
            "server_no_context_takeover;",
            "client_no_context_takeover'",
        ] {
            assert!(text.contains(word), "client help lacks {word:?}");
        }
        for line in text.lines() {
            assert!(line.len() <= 100, "long help line: {line}");
        }
    }
}

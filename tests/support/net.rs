//! A real server on a background thread and clients over loopback TCP: for what only the
//! mio driver does (sockets, backpressure from the kernel, half-closes, threads, real
//! third-party clients).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pushwire::http::Request;
use pushwire::ws::handshake::UpgradeRequest;
use pushwire::{
    CloseEvent, Config, ConnId, Context, Handle, Handler, Message, RequestId, Server, Upgrade,
};

use super::{
    Frame, HttpResponse, OP_CLOSE, TIMEOUT, parse_frame, parse_response_head, upgrade_request,
};

// ===== server =====

/// A pushwire server on 127.0.0.1:0, running `handler` on a background thread.
/// Dropping it shuts the server down and joins the thread (bounded).
pub struct TestServer {
    pub addr: SocketAddr,
    pub handle: Handle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl TestServer {
    pub fn start<H: Handler + Send + 'static>(config: Config, mut handler: H) -> TestServer {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("pushwire-test-server".into())
            .spawn(move || {
                let mut server = Server::bind("127.0.0.1:0".parse().unwrap(), config)?;
                tx.send((server.local_addr(), server.handle()))
                    .expect("test thread gone");
                server.run(&mut handler)
            })
            .expect("spawn server thread");
        match rx.recv_timeout(TIMEOUT) {
            Ok((addr, handle)) => TestServer {
                addr,
                handle,
                thread: Some(thread),
            },
            Err(_) => {
                let result = thread.join();
                panic!("server did not start: {result:?}");
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Waits (at most `limit`) for `run` to return by itself; returns how long that took
    /// and asserts `run` returned `Ok`. `None` if it is still running.
    pub fn wait_stopped(&mut self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        let thread = self.thread.as_ref()?;
        while !thread.is_finished() {
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let elapsed = start.elapsed();
        let result = self
            .thread
            .take()
            .unwrap()
            .join()
            .expect("server thread panicked");
        result.expect("Server::run returned an error");
        Some(elapsed)
    }

    /// Asks for graceful shutdown and waits for `run` to return; returns how long it took.
    pub fn stop(&mut self) -> Duration {
        if self.thread.is_none() {
            return Duration::ZERO;
        }
        let _ = self.handle.shutdown();
        self.wait_stopped(TIMEOUT)
            .expect("server did not stop within the time limit")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_none() {
            return;
        }
        let _ = self.handle.shutdown();
        let stopped = self.wait_stopped(TIMEOUT);
        if stopped.is_none() && !std::thread::panicking() {
            panic!("server thread did not stop within {TIMEOUT:?} of shutdown");
        }
    }
}

// ===== tungstenite client =====

pub type WsClient = tungstenite::WebSocket<Patient>;

/// A `TcpStream` that waits again when a read or write is interrupted (`EINTR`). A
/// socket with a timeout, as every test socket has, returns `Interrupted` when the
/// process is stopped and continued (as a loaded or frozen CI machine does), and
/// tungstenite hands that up as an error instead of retrying.
#[derive(Debug)]
pub struct Patient(pub TcpStream);

impl Read for Patient {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        read_patiently(&mut self.0, buf)
    }
}

/// `stream.read(buf)`, again while it is interrupted (see [`Patient`]).
pub fn read_patiently(stream: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

impl Write for Patient {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            match self.0.write(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                result => return result,
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A stream to the server with read and write timeouts, so no test can hang on it.
pub fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to test server");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// A tungstenite client connected to `path` (limits raised for the large-message tests).
pub fn ws_connect(addr: SocketAddr, path: &str) -> WsClient {
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let url = format!("ws://{addr}{path}");
    let stream = Patient(tcp(addr));
    let (ws, response) = tungstenite::client::client_with_config(url, stream, Some(config))
        .expect("WebSocket handshake");
    assert_eq!(response.status(), 101);
    ws
}

/// Reads the next data message, answering pings on the way (tungstenite does that).
pub fn ws_read_data(ws: &mut WsClient) -> tungstenite::Message {
    loop {
        match ws.read().expect("read from server") {
            m @ (tungstenite::Message::Text(_) | tungstenite::Message::Binary(_)) => return m,
            tungstenite::Message::Close(c) => panic!("unexpected Close: {c:?}"),
            _ => continue,
        }
    }
}

// ===== raw client =====

/// A TCP client that writes bytes and reads HTTP responses and WebSocket frames by hand.
pub struct RawClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        RawClient {
            stream: tcp(addr),
            buf: Vec::new(),
        }
    }

    /// Connects and completes a WebSocket handshake for `/`.
    pub fn upgrade(addr: SocketAddr) -> RawClient {
        let mut client = RawClient::connect(addr);
        client.send(upgrade_request("/", &[]).as_bytes());
        let response = client.read_response();
        assert_eq!(response.status, 101, "handshake refused: {response:?}");
        client
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
    }

    /// Reads more bytes into the buffer; `Ok(0)` at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        let n = read_patiently(&mut self.stream, &mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads until `parse` finds a complete item at the start of the buffer.
    fn read_until<T>(
        &mut self,
        what: &str,
        parse: impl Fn(&[u8]) -> Option<(T, usize)>,
    ) -> io::Result<Option<T>> {
        loop {
            if let Some((item, len)) = parse(&self.buf) {
                self.buf.drain(..len);
                return Ok(Some(item));
            }
            if self.fill()? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                panic!(
                    "EOF inside {what}: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        }
    }

    /// Reads a response head (up to the blank line) without its body.
    pub fn read_response_head(&mut self) -> HttpResponse {
        match self.read_until("a response head", parse_response_head) {
            Ok(Some(r)) => r,
            Ok(None) => panic!("connection closed before a response"),
            Err(e) => panic!("reading a response head: {e}"),
        }
    }

    /// Reads a whole response: the head, then `Content-Length` bytes of body.
    pub fn read_response(&mut self) -> HttpResponse {
        match self.read_until("a response", |b| super::parse_response(b, false)) {
            Ok(Some(r)) => r,
            Ok(None) => panic!("connection closed before a response"),
            Err(e) => panic!("reading a response: {e}"),
        }
    }

    /// Reads one frame; `Ok(None)` at a clean EOF before any byte of it.
    pub fn try_read_frame(&mut self) -> io::Result<Option<Frame>> {
        self.read_until("a frame", parse_frame)
    }

    /// Reads one frame, failing the test on EOF or error.
    pub fn read_frame(&mut self) -> Frame {
        match self.try_read_frame() {
            Ok(Some(frame)) => {
                assert!(!frame.masked, "server frames must not be masked");
                frame
            }
            Ok(None) => panic!("EOF where a frame was expected"),
            Err(e) => panic!("reading a frame: {e}"),
        }
    }

    /// Reads the next frame and asserts it is a Close; returns its (code, reason).
    pub fn read_close(&mut self) -> Option<(u16, String)> {
        let frame = self.read_frame();
        assert_eq!(frame.opcode, OP_CLOSE, "expected a Close, got {frame:?}");
        frame.close_code()
    }

    /// Asserts that the server closes the TCP connection with nothing more to say.
    pub fn expect_eof(&mut self) {
        assert!(
            self.buf.is_empty(),
            "unexpected bytes before EOF: {:?}",
            self.buf
        );
        let mut chunk = [0u8; 1024];
        match read_patiently(&mut self.stream, &mut chunk) {
            Ok(0) => {}
            Ok(n) => panic!("expected EOF, got {n} bytes: {:?}", &chunk[..n]),
            Err(e) => panic!("expected EOF, got error {e} (kind {:?})", e.kind()),
        }
    }

    /// Reads and discards until EOF; returns how many bytes were discarded.
    pub fn drain_to_eof(&mut self) -> usize {
        let mut total = std::mem::take(&mut self.buf).len();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match read_patiently(&mut self.stream, &mut chunk) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) => panic!("expected EOF, got error {e} (kind {:?})", e.kind()),
            }
        }
    }
}

/// Forwards to `H`, except that the text message "stall" blocks the event loop for
/// 300 ms. Tests use it to make bytes (and a FIN) pile up so the server reads them in
/// one go.
pub struct Stalling<H>(pub H);

impl<H: Handler> Handler for Stalling<H> {
    fn on_upgrade(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        self.0.on_upgrade(ctx, conn, request)
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        self.0.on_request(ctx, id, request);
    }

    fn on_open(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        self.0.on_open(ctx, conn);
    }

    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        if message.as_text() == Some("stall") {
            std::thread::sleep(Duration::from_millis(300));
        } else {
            self.0.on_message(ctx, conn, message);
        }
    }

    fn on_close(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: &CloseEvent<'_>) {
        self.0.on_close(ctx, conn, event);
    }
}

/// Makes a [`Stalling`] server's loop sleep for 300 ms starting about now.
pub fn stall_server(addr: SocketAddr) -> WsClient {
    let mut ws = ws_connect(addr, "/");
    ws.send(tungstenite::Message::text("stall")).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    ws
}

// ===== HTTP helpers =====

impl RawClient {
    /// Bytes read from the socket but not yet consumed by a `read_*` call.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Sends `GET target` (HTTP/1.1, keep-alive) and reads the whole response.
    pub fn get(&mut self, target: &str) -> HttpResponse {
        self.send(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes());
        self.read_response()
    }

    /// Sends `POST target` with `body` (Content-Length framing) and reads the response.
    pub fn post(&mut self, target: &str, body: &[u8]) -> HttpResponse {
        let mut request = format!(
            "POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.send(&request);
        self.read_response()
    }

    /// Asserts that for `period` the server sends nothing and does not close.
    pub fn assert_silent_for(&mut self, period: Duration) {
        assert!(
            self.buf.is_empty(),
            "unexpected buffered bytes: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.stream.set_read_timeout(Some(period)).unwrap();
        let mut chunk = [0u8; 4096];
        let result = read_patiently(&mut self.stream, &mut chunk);
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        match result {
            Ok(0) => panic!("the server closed the connection within {period:?}"),
            Ok(n) => panic!(
                "unexpected bytes within {period:?}: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("expected silence, got error {e} (kind {:?})", e.kind()),
        }
    }

    /// Reads until EOF and returns every byte not yet consumed (buffered ones included).
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        let mut all = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match read_patiently(&mut self.stream, &mut chunk) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&chunk[..n]),
                Err(e) => panic!(
                    "expected EOF, got error {e} (kind {:?}) after {:?}",
                    e.kind(),
                    String::from_utf8_lossy(&all)
                ),
            }
        }
    }
}

/// Opens a connection, sends `raw`, and reads one response.
pub fn http_exchange(addr: SocketAddr, raw: &[u8]) -> (RawClient, HttpResponse) {
    let mut client = RawClient::connect(addr);
    client.send(raw);
    let response = client.read_response();
    (client, response)
}

/// `GET target` on a fresh connection.
pub fn http_get(addr: SocketAddr, target: &str) -> HttpResponse {
    RawClient::connect(addr).get(target)
}

/// `POST target` with `body` on a fresh connection.
pub fn http_post(addr: SocketAddr, target: &str, body: &[u8]) -> HttpResponse {
    RawClient::connect(addr).post(target, body)
}

// ===== hub followers over sockets =====

/// A `pushwire.v1` WebSocket.
pub fn mux_connect(addr: SocketAddr) -> WsClient {
    use tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "pushwire.v1".parse().unwrap());
    let (ws, response) = tungstenite::client::client(request, Patient(tcp(addr))).unwrap();
    assert_eq!(response.status(), 101);
    ws
}

/// A Server-Sent Events stream read off a socket: the chunked framing undone, the
/// events parsed as a browser parses them.
pub struct SseReader {
    client: RawClient,
    framed: Vec<u8>,
    parser: pushwire::hub::sse::EventStreamParser,
}

impl SseReader {
    /// Opens `target` and reads the head: the stream is subscribed once it is there.
    pub fn open(addr: SocketAddr, target: &str) -> SseReader {
        let mut client = RawClient::connect(addr);
        let request =
            format!("GET {target} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
        client.send(request.as_bytes());
        let head = client.read_response_head();
        assert_eq!(head.status, 200, "{head:?}");
        assert_eq!(head.header("Content-Type"), Some("text/event-stream"));
        let framed = client.buffered().to_vec();
        SseReader {
            client,
            framed,
            parser: pushwire::hub::sse::EventStreamParser::new(1 << 20),
        }
    }

    /// The next events: those complete in what was read already, else those of the
    /// bytes that arrive next.
    pub fn next_events(&mut self) -> Vec<pushwire::hub::sse::Event> {
        loop {
            let body = super::event_source::unchunk(&mut self.framed);
            let mut events = Vec::new();
            self.parser
                .push(&body, &mut events)
                .expect("a valid stream");
            if !events.is_empty() {
                return events;
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = read_patiently(&mut self.client.stream, &mut chunk).expect("read");
            assert!(n > 0, "the stream ended");
            self.framed.extend_from_slice(&chunk[..n]);
        }
    }
}

// ===== the binary =====

/// A `pushwire serve` child process, killed (SIGKILL) and reaped when dropped, so a
/// failing test leaves nothing behind.
pub struct ServeProcess {
    pub child: std::process::Child,
    pub addr: SocketAddr,
}

impl ServeProcess {
    /// Kills it at once (SIGKILL: no chance to flush or close anything) and reaps it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `pushwire serve` on a free loopback port with `args`, and waits (at most
/// [`TIMEOUT`]) until it accepts connections.
pub fn spawn_serve(args: &[&str]) -> ServeProcess {
    use std::process::{Command, Stdio};
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .arg("serve")
        .arg("--addr")
        .arg(addr.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pushwire serve");
    let mut process = ServeProcess { child, addr };
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = process.child.try_wait() {
            let mut stderr = String::new();
            let _ = process
                .child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr);
            panic!("pushwire serve exited with {status}: {stderr}");
        }
        assert!(Instant::now() < deadline, "pushwire serve did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    process
}

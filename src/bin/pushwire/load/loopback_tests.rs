//! The load generator against real servers on loopback, in-process: each mode briefly,
//! and an echo server that corrupts a byte, which must be reported as a mismatch.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pushwire::hub::{HubConfig, HubServer};
use pushwire::{Config, ConnId, Context, Handle, Handler, Message, Server};

use super::{LoadConfig, Mode, Report, Transport};

/// A pushwire server on 127.0.0.1:0 running `handler` on its own thread; dropping it
/// shuts the server down and joins the thread. (The few lines of `tests/support`'s
/// `TestServer` these tests need: a unit test cannot use that module.)
struct TestServer {
    addr: SocketAddr,
    handle: Handle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl TestServer {
    fn start<H: Handler + Send + 'static>(mut handler: H) -> TestServer {
        // No keepalive pings, and a short graceful shutdown.
        let mut config = Config::default();
        config.ping_interval = None;
        config.shutdown_timeout = Duration::from_secs(2);
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut server = Server::bind("127.0.0.1:0".parse().unwrap(), config)?;
            tx.send((server.local_addr(), server.handle()))
                .expect("test thread gone");
            server.run(&mut handler)
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok((addr, handle)) => TestServer {
                addr,
                handle,
                thread: Some(thread),
            },
            Err(_) => panic!("server did not start: {:?}", thread.join()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !std::thread::panicking() {
                let run = result.expect("server thread panicked");
                run.expect("Server::run returned an error");
            }
        }
    }
}

/// Echoes every message.
struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        let _ = ctx.send(conn, &message);
    }
}

/// Echoes every message with one bit of its last byte flipped.
struct BrokenEcho;

impl Handler for BrokenEcho {
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        let mut bytes = message.as_bytes().to_vec();
        if let Some(last) = bytes.last_mut() {
            *last ^= 0x01;
        }
        let _ = ctx.send_binary(conn, &bytes);
    }
}

fn brief(url: String, mode: Mode) -> LoadConfig {
    let mut c = LoadConfig::new(url);
    c.mode = mode;
    c.conns = 4;
    c.secs = Duration::from_millis(500);
    c.warmup = Duration::from_millis(100);
    c
}

fn run(config: &LoadConfig) -> Report {
    let started = Instant::now();
    let report = super::run(config).expect("the run starts");
    // Every run is bounded; these brief ones should end well within their limits.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    report
}

fn assert_clean(report: &Report) {
    assert!(report.is_clean(), "not clean:\n{}", report.summary());
    assert_eq!(report.errors, 0);
    assert_eq!(report.mismatches, 0);
    assert!(report.msgs > 0, "{}", report.summary());
    assert_eq!(report.connected, report.conns);
    assert!(report.latency.count() > 0);
    let line = report.load_line();
    assert!(line.starts_with("LOAD mode="), "{line}");
    assert!(line.contains(" errors=0 mismatches=0"), "{line}");
}

#[test]
fn echo_binary_and_text_with_depth() {
    let server = TestServer::start(Echo);
    for (text, size, depth) in [(false, 20, 1), (true, 1000, 4), (false, 200_000, 2)] {
        let mut config = brief(format!("ws://{}/", server.addr), Mode::Echo);
        config.text = text;
        config.size = size;
        config.depth = depth;
        let report = run(&config);
        assert_clean(&report);
        assert_eq!(report.bytes, report.msgs * size as u64);
        assert_eq!(report.depth, depth);
    }
}

#[test]
fn a_corrupting_echo_server_is_caught() {
    let server = TestServer::start(BrokenEcho);
    let mut config = brief(format!("ws://{}/", server.addr), Mode::Echo);
    config.size = 64;
    let report = run(&config);
    assert!(report.mismatches > 0, "{}", report.summary());
    assert!(!report.is_clean(), "exit status 1");
    assert!(report.load_line().contains(" mismatches="));
    assert!(
        report.summary().contains("differs from what was sent"),
        "{}",
        report.summary()
    );
}

#[test]
fn echo_against_nothing_listening_is_errors_not_a_hang() {
    // Bind and drop a listener to find a port that refuses connections.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = brief(format!("ws://{addr}/"), Mode::Echo);
    let report = run(&config);
    assert_eq!(report.connected, 0);
    assert_eq!(report.errors, 4, "{}", report.summary());
    assert!(!report.is_clean());
}

#[test]
fn longpoll_delivers_every_message_to_every_poller() {
    let server = TestServer::start(HubServer::new(HubConfig::default()));
    let url = format!("http://{}/channels/load-lp", server.addr);
    let mut config = brief(url, Mode::LongPoll);
    config.publish_rate = 200.0;
    config.size = 100;
    let report = run(&config);
    assert_clean(&report);
    assert!(report.published >= 50, "{}", report.summary());
    // Every poller gets each message published in the window.
    assert!(report.msgs >= 4 * 50, "{}", report.summary());

    // A second run on the same channel starts after the history the first one left.
    let report = run(&config);
    assert_clean(&report);
}

#[test]
fn fanout_over_every_transport() {
    let server = TestServer::start(HubServer::new(HubConfig::default()));
    for (scheme, transport) in [
        ("http", Transport::LongPoll),
        ("ws", Transport::Ws),
        ("http", Transport::Sse),
        ("ws", Transport::WsMux),
    ] {
        let url = format!("{scheme}://{}/channels/load-fan", server.addr);
        let mut config = brief(url, Mode::Fanout);
        config.rounds = 2;
        config.conns = 20;
        config.transport = Some(transport);
        let report = run(&config);
        assert_clean(&report);
        assert_eq!(report.transport, Some(transport));
        assert_eq!(report.rounds.len(), 2);
        for round in &report.rounds {
            assert_eq!((round.received, round.waiters, round.errors), (20, 20, 0));
        }
        assert_eq!(report.msgs, 40);
        assert_eq!(report.published, 2);
        assert!(
            report
                .load_line()
                .ends_with(&format!(" transport={} rounds=2", transport.name()))
        );
    }
}

#[test]
fn ws_mux_needs_a_channel_url() {
    let server = TestServer::start(HubServer::new(HubConfig::default()));
    let mut config = brief(format!("ws://{}/ws", server.addr), Mode::Fanout);
    config.transport = Some(Transport::WsMux);
    match super::run(&config) {
        Err(e) => assert!(e.to_string().contains("/channels/NAME"), "{e}"),
        Ok(report) => panic!("expected a configuration error, got\n{}", report.summary()),
    }
}

#[test]
fn setup_failure_is_an_error_before_any_load() {
    let server = TestServer::start(Echo);
    // The echo server has no channels: its 404 stops the run before it starts.
    let url = format!("http://{}/channels/x", server.addr);
    let config = brief(url, Mode::LongPoll);
    match super::run(&config) {
        Err(e) => assert!(e.to_string().contains("404"), "{e}"),
        Ok(report) => panic!("expected a setup error, got\n{}", report.summary()),
    }
}

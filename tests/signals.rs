//! The `pushwire` binary and signals, with real processes over loopback: SIGTERM (or
//! SIGINT) shuts the server down gracefully — WebSockets get Close 1001, a parked
//! long-poll is answered, the durable log is closed cleanly — and the process exits 0; a
//! second signal ends it at once (130). Signals are sent with `kill` to the PID of the
//! server this test started. Every wait is bounded.

#![cfg(feature = "cli")]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

fn signal(serve: &ServeProcess, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), serve.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

/// Waits (at most `limit`) for the server to exit; its exit code.
fn exit_code(serve: &mut ServeProcess, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = serve.child.try_wait().expect("try_wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Everything an exited server wrote to its standard error.
fn stderr_of(serve: &mut ServeProcess) -> String {
    let mut said = String::new();
    let stderr = serve.child.stderr.as_mut().expect("stderr is piped");
    std::io::Read::read_to_string(stderr, &mut said).unwrap();
    said
}

#[test]
fn sigterm_closes_websockets_with_1001_answers_parked_polls_and_exits_0() {
    let mut serve = spawn_serve(&[]);
    let mut ws = RawClient::connect(serve.addr);
    ws.send(upgrade_request("/channels/bye", &[]).as_bytes());
    assert_eq!(ws.read_response_head().status, 101);
    let mut poll = RawClient::connect(serve.addr);
    poll.send(b"GET /channels/bye?timeout=60 HTTP/1.1\r\nHost: t\r\n\r\n");
    // The poll is parked once a publish would answer it; give the loop a moment to read it.
    std::thread::sleep(Duration::from_millis(200));

    signal(&serve, "TERM");
    assert_eq!(
        ws.read_close().map(|(code, _)| code),
        Some(1001),
        "going away"
    );
    // Our Close answers theirs; the server then closes the connection.
    ws.send(&client_frame(true, 0x8, &close_payload(1001, b"")));
    assert_eq!(
        poll.read_response().status,
        204,
        "the parked poll is answered"
    );
    assert_eq!(exit_code(&mut serve, Duration::from_secs(10)), Some(0));
}

#[test]
fn a_second_signal_stops_a_server_that_is_waiting_for_its_clients() {
    let mut serve = spawn_serve(&[]);
    // A WebSocket that never answers the server's Close keeps the graceful shutdown
    // waiting (up to shutdown_timeout, 5 s).
    let mut ws = RawClient::connect(serve.addr);
    ws.send(upgrade_request("/channels/stuck", &[]).as_bytes());
    assert_eq!(ws.read_response_head().status, 101);
    signal(&serve, "INT");
    assert_eq!(ws.read_close().map(|(code, _)| code), Some(1001));
    assert_eq!(
        exit_code(&mut serve, Duration::from_millis(500)),
        None,
        "still waiting"
    );
    let started = Instant::now();
    signal(&serve, "INT");
    assert_eq!(exit_code(&mut serve, Duration::from_secs(5)), Some(130));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "at once, not at the timeout"
    );
}

#[test]
fn a_durable_log_is_closed_cleanly_on_sigterm_even_with_fsync_never() {
    let dir = std::env::temp_dir().join(format!("pushwire-signals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().unwrap().to_string();
    let args = ["--data-dir", dir_arg.as_str(), "--fsync", "never"];
    let mut serve = spawn_serve(&args);
    for i in 1..=20 {
        let response = http_post(serve.addr, "/channels/kept", format!("m{i}").as_bytes());
        assert_eq!(response.status, 201);
    }
    signal(&serve, "TERM");
    assert_eq!(exit_code(&mut serve, Duration::from_secs(10)), Some(0));
    let state = std::fs::read_to_string(dir.join("state")).expect("a state file");
    assert!(state.contains("state clean"), "{state}");
    let said = stderr_of(&mut serve);
    assert!(said.contains("began a new message log"), "{said}");

    let mut serve = spawn_serve(&args);
    let response = http_get(serve.addr, "/channels/kept?since=0&timeout=0");
    let body = String::from_utf8(response.body).unwrap();
    assert!(body.contains(r#""id":20,"data":"m20""#), "{body}");
    assert!(body.contains(r#""id":1,"data":"m1""#), "{body}");
    signal(&serve, "TERM");
    assert_eq!(exit_code(&mut serve, Duration::from_secs(10)), Some(0));
    let said = stderr_of(&mut serve);
    assert!(
        said.contains("recovered 1 channels, 20 messages") && said.contains("closed cleanly"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_still_stops_the_server_when_its_standard_error_is_gone() {
    let mut serve = spawn_serve(&[]);
    // The reading end of its stderr closes: every later write there fails (EPIPE).
    drop(serve.child.stderr.take());
    signal(&serve, "TERM");
    assert_eq!(exit_code(&mut serve, Duration::from_secs(10)), Some(0));
}

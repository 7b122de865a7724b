//! The `pushwire` binary: help, argument errors, and a real echo server.

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;
use tungstenite::Message as WsMessage;

const BIN: &str = env!("CARGO_BIN_EXE_pushwire");

fn run(args: &[&str]) -> Output {
    // These commands do not touch the network and exit at once.
    Command::new(BIN).args(args).output().expect("run pushwire")
}

#[test]
fn help_exits_0_and_lists_the_echo_command() {
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("echo"), "{args:?}: {stdout}");
        assert!(out.stderr.is_empty(), "{args:?}: help goes to stdout");
    }
}

#[test]
fn echo_help_describes_the_addr_option() {
    for args in [&["echo", "--help"][..], &["help", "echo"]] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("--addr"), "{args:?}: {stdout}");
    }
}

#[test]
fn version_prints_the_crate_version() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");
}

#[test]
fn unknown_flag_exits_2_with_an_error_on_stderr() {
    for args in [&["--bogus"][..], &["echo", "--bogus"], &["frobnicate"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: errors go to stderr");
    }
}

#[test]
fn bad_option_values_exit_2_naming_the_option() {
    for (args, option) in [
        (&["echo", "--addr", "not-an-address"][..], "--addr"),
        (&["echo", "--max-message", "lots"], "--max-message"),
        (&["echo", "--ping-interval", "-1"], "--ping-interval"),
        (&["echo", "--addr"], "--addr"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(option), "{args:?}: {stderr}");
    }
}

#[test]
fn redis_options_are_refused_with_the_reason_before_the_server_starts() {
    for (args, says) in [
        (
            &["serve", "--redis", "http://127.0.0.1:6379"][..],
            "redis://",
        ),
        (&["serve", "--redis", "rediss://127.0.0.1:6379"], "TLS"),
        (&["serve", "--redis", "redis://127.0.0.1:99999"], "port"),
        (&["serve", "--redis", "redis://127.0.0.1/x"], "database"),
        (
            &[
                "serve",
                "--redis",
                "redis://127.0.0.1",
                "--data-dir",
                "/tmp/x",
            ],
            "cannot be used with '--data-dir'",
        ),
        (&["serve", "--redis-prefix", "app:"], "needs '--redis'"),
        (
            &[
                "serve",
                "--redis",
                "redis://127.0.0.1",
                "--redis-prefix",
                "a b",
            ],
            "--redis-prefix",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    // A URL that may hold a password is never repeated.
    let out = run(&["serve", "--redis", "redis://:hunter2@127.0.0.1:6379/x"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("invalid --redis URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// Kills the child when dropped, so a failing test leaves no server behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn wait_until_accepting(child: &mut Child, addr: SocketAddr) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("pushwire echo exited early with {status}");
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "pushwire echo never accepted on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn echo_command_serves_websocket_echo_on_the_given_address() {
    let addr = free_port();
    let child = Command::new(BIN)
        .args([
            "echo",
            "--addr",
            &addr.to_string(),
            "--ping-interval",
            "off",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pushwire echo");
    let mut running = Running(child);
    wait_until_accepting(&mut running.0, addr);

    let mut ws = ws_connect(addr, "/");
    ws.send(WsMessage::text("hello from the test")).unwrap();
    assert_eq!(
        ws_read_data(&mut ws),
        WsMessage::text("hello from the test")
    );
    ws.send(WsMessage::binary(vec![9u8; 100_000])).unwrap();
    assert_eq!(ws_read_data(&mut ws), WsMessage::binary(vec![9u8; 100_000]));

    running.0.kill().expect("kill pushwire echo");
    let status = running.0.wait().unwrap();
    assert!(!status.success());
}

#[test]
fn echo_command_reports_an_address_in_use_and_fails() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut child = Command::new(BIN)
        .args(["echo", "--addr", &addr])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pushwire echo");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pushwire echo kept running on an address in use");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&addr), "{stderr}");
    drop(taken);
}

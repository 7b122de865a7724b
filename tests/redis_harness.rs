//! The test support's `redis-server` harness and its blocking client (tests/support/redis.rs),
//! which the Redis tests rely on: the server is ours alone (127.0.0.1, its own port and
//! directory), it stops by PID on drop, a restart keeps the port and — with the append-only
//! file — the data, and the client's reply parser reads every RESP2 type.
//!
//! The parser tests need no server; the others skip (with a printed line) where
//! `redis-server` is not installed, and fail under `CI=true`.

mod support;

use std::io::{self, Cursor};
use std::path::Path;
use std::time::{Duration, Instant};

use support::*;

fn parse(bytes: &[u8]) -> io::Result<Reply> {
    parse_reply(&mut Cursor::new(bytes))
}

/// `CONFIG GET name`: its value.
fn config(client: &mut RedisClient, name: &str) -> String {
    let reply = client.call(["CONFIG", "GET", name]);
    match reply.array() {
        [key, value] if key.text() == name => value.text().to_string(),
        _ => panic!("CONFIG GET {name}: {reply}"),
    }
}

fn process_exists(pid: u32) -> bool {
    // A zombie would still have the directory; the harness waits for its child, so there
    // is none.
    Path::new(&format!("/proc/{pid}")).exists()
}

// ===== the client's parser (no server needed) =====

#[test]
fn the_parser_reads_every_resp2_reply_type() {
    assert_eq!(parse(b"+OK\r\n").unwrap(), Reply::Status("OK".into()));
    assert_eq!(
        parse(b"-NOSCRIPT No matching script\r\n").unwrap(),
        Reply::Error("NOSCRIPT No matching script".into())
    );
    assert_eq!(parse(b":-42\r\n").unwrap(), Reply::Integer(-42));
    assert_eq!(
        parse(b"$7\r\na\r\nb\0c\xff\r\n").unwrap(),
        Reply::Bulk(b"a\r\nb\0c\xff".to_vec()),
        "a bulk string is read by its length, CRLF and NUL inside"
    );
    assert_eq!(parse(b"$0\r\n\r\n").unwrap(), Reply::Bulk(Vec::new()));
    assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::Nil);
    assert_eq!(parse(b"*-1\r\n").unwrap(), Reply::NilArray);
    assert_eq!(parse(b"*0\r\n").unwrap(), Reply::Array(Vec::new()));
    assert_eq!(
        parse(b"*2\r\n*2\r\n$3\r\n0-1\r\n*2\r\n$1\r\nk\r\n$1\r\nt\r\n:7\r\n").unwrap(),
        Reply::Array(vec![
            Reply::Array(vec![
                Reply::Bulk(b"0-1".to_vec()),
                Reply::Array(vec![Reply::Bulk(b"k".to_vec()), Reply::Bulk(b"t".to_vec())]),
            ]),
            Reply::Integer(7),
        ])
    );
}

#[test]
fn the_parser_reads_one_reply_and_leaves_the_next() {
    let mut input = Cursor::new(b":1\r\n$2\r\nok\r\n".as_slice());
    assert_eq!(parse_reply(&mut input).unwrap(), Reply::Integer(1));
    assert_eq!(
        parse_reply(&mut input).unwrap(),
        Reply::Bulk(b"ok".to_vec())
    );
    assert_eq!(
        parse_reply(&mut input).unwrap_err().kind(),
        io::ErrorKind::UnexpectedEof
    );
}

#[test]
fn the_parser_refuses_what_is_not_resp2() {
    let invalid = [
        b"OK\r\n".as_slice(),  // no type byte
        b"+OK\n",              // LF without CR
        b":12x\r\n",           // not an integer
        b"$3\r\nabcd\r\n",     // longer than its length
        b"$-2\r\n",            // a negative length other than -1
        b"%1\r\n+a\r\n+b\r\n", // a RESP3 map: never asked for
        b"\r\n",               // an empty line
    ];
    for bytes in invalid {
        let error = parse(bytes).expect_err(&bytes.escape_ascii().to_string());
        assert_eq!(
            error.kind(),
            io::ErrorKind::InvalidData,
            "{}",
            bytes.escape_ascii()
        );
    }
    let deep = b"*1\r\n".repeat(40);
    assert_eq!(parse(&deep).unwrap_err().kind(), io::ErrorKind::InvalidData);
}

#[test]
fn the_parser_reports_a_reply_cut_short_as_eof() {
    let whole = b"*2\r\n$5\r\nhello\r\n:3\r\n";
    for end in 1..whole.len() {
        let error = parse(&whole[..end]).expect_err(&format!("{end} bytes"));
        assert_eq!(
            error.kind(),
            io::ErrorKind::UnexpectedEof,
            "{end} bytes: {error}"
        );
    }
    assert!(parse(whole).is_ok());
}

#[test]
fn commands_are_encoded_as_resp2_arrays_of_bulk_strings() {
    assert_eq!(
        encode_command(["SET", "k", "a\r\nb"]),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n"
    );
    assert_eq!(encode_command([b"".as_slice()]), b"*1\r\n$0\r\n\r\n");
}

// ===== the server =====

#[test]
fn the_server_is_bound_to_loopback_on_its_port_in_its_own_directory() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    assert_eq!(config(&mut client, "bind"), "127.0.0.1");
    assert_eq!(config(&mut client, "port"), redis.port().to_string());
    assert_eq!(
        Path::new(&config(&mut client, "dir")),
        redis.dir().canonicalize().unwrap()
    );
    assert_eq!(config(&mut client, "save"), "");
    assert_eq!(config(&mut client, "appendonly"), "no");
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/0", redis.port()));
    assert!(redis.log().contains("Ready to accept connections"));
}

#[test]
fn two_servers_have_their_own_ports_and_directories() {
    let (Some(a), Some(b)) = (RedisServer::start(), RedisServer::start()) else {
        return;
    };
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    a.client().call(["SET", "where", "a"]).expect_ok();
    assert_eq!(b.client().call(["GET", "where"]), Reply::Nil);
}

#[test]
fn dropping_the_server_stops_its_process_and_removes_its_directory() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let pid = redis.pid().expect("running");
    let dir = redis.dir().to_path_buf();
    let addr = redis.addr();
    assert!(process_exists(pid));
    let started = Instant::now();
    drop(redis);
    assert!(
        started.elapsed() < STOP_TIMEOUT,
        "SIGTERM stopped it; no SIGKILL"
    );
    assert!(!process_exists(pid), "pid {pid} gone");
    assert!(!dir.exists(), "{} removed", dir.display());
    assert!(
        RedisClient::connect(addr).is_err(),
        "nobody listens on {addr}"
    );
}

#[test]
fn stop_closes_the_clients_connections_and_restart_serves_again() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    client.call(["PING"]);
    redis.stop();
    assert!(!redis.is_running());
    assert_eq!(redis.pid(), None);
    assert!(client.try_call(["PING"]).is_err(), "the connection is gone");
    redis.restart();
    assert!(redis.is_running());
    assert_eq!(redis.client().call(["PING"]), Reply::Status("PONG".into()));
}

#[test]
fn a_restart_with_the_append_only_file_keeps_the_data_and_the_port() {
    let Some(mut redis) = RedisServer::start_with(Persistence::AppendOnly) else {
        return;
    };
    let port = redis.port();
    let before = redis.pid();
    redis.client().call(["SET", "kept", "yes"]).expect_ok();
    redis.restart();
    assert_eq!(redis.port(), port);
    assert_ne!(redis.pid(), before, "a new process");
    assert_eq!(
        redis.client().call(["GET", "kept"]),
        Reply::Bulk(b"yes".to_vec())
    );
}

#[test]
fn a_restart_without_persistence_comes_back_empty() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    redis.client().call(["SET", "lost", "yes"]).expect_ok();
    redis.restart();
    assert_eq!(redis.client().call(["GET", "lost"]), Reply::Nil);
    assert_eq!(redis.client().call(["DBSIZE"]), Reply::Integer(0));
}

#[test]
fn flushall_removes_every_key_of_every_database() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    client.call(["SET", "a", "1"]).expect_ok();
    client.call(["SELECT", "3"]).expect_ok();
    client.call(["SET", "b", "2"]).expect_ok();
    redis.flushall();
    assert_eq!(client.call(["DBSIZE"]), Reply::Integer(0));
    client.call(["SELECT", "0"]).expect_ok();
    assert_eq!(client.call(["DBSIZE"]), Reply::Integer(0));
}

#[test]
fn pipelined_commands_get_their_replies_in_order() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    for i in 0..100 {
        client.send(["INCR", "counter"]).unwrap();
        if i % 10 == 0 {
            client.send(["NO-SUCH-COMMAND"]).unwrap();
        }
    }
    let mut counted = 0;
    for i in 0..100 {
        assert_eq!(client.read_reply().unwrap(), Reply::Integer(i + 1));
        counted += 1;
        if i % 10 == 0 {
            let reply = client.read_reply().unwrap();
            assert!(reply.error().starts_with("ERR unknown command"), "{reply}");
        }
    }
    assert_eq!(counted, 100);
}

#[test]
fn a_read_without_a_reply_fails_after_the_read_timeout() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut client = redis.client();
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    let error = client.read_reply().expect_err("nothing was asked");
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

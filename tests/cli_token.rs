//! `pushwire token`: tokens minted by the binary verify with the library, under the
//! secret in the file; bad secrets and command lines exit with the documented status.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use pushwire::auth::token::{Pattern, Right, Secret, TokenError, verify};

const BIN: &str = env!("CARGO_BIN_EXE_pushwire");
const KEY: &[u8] = b"3f1b9c0e8a7d6f5e4d3c2b1a09f8e7d6";

/// A file in a directory of this test's own, removed when dropped.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        let dir =
            std::env::temp_dir().join(format!("pushwire-cli-token-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        fs::write(&path, contents).unwrap();
        TempFile { dir, path }
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("token")
        .args(args)
        .output()
        .expect("run pushwire")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The token printed on stdout (one line), after checking the run succeeded quietly.
fn printed_token(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let token = stdout
        .strip_suffix('\n')
        .expect("a newline after the token");
    assert!(!token.contains('\n'), "{stdout:?}");
    token.to_string()
}

#[test]
fn a_minted_token_verifies_with_the_library_under_the_files_secret() {
    // Written as `echo "$KEY" > FILE` would: the one trailing newline is not the key.
    let file = TempFile::new("verifies", &[KEY, b"\n"].concat());
    let before = unix_now();
    let out = run(&[
        "--secret-file",
        file.arg(),
        "--subscribe",
        "room.*",
        "--publish",
        "room.42",
        "--publish=lobby",
        "--ttl",
        "120",
    ]);
    let after = unix_now();
    let token = printed_token(&out);

    let secret = Secret::new(KEY).unwrap();
    let claims = verify(&secret, &token, after).expect("the token verifies");
    assert!(
        (before + 120..=after + 120).contains(&claims.expires),
        "{claims:?}"
    );
    let patterns = |texts: &[&str]| -> Vec<Pattern> {
        texts.iter().map(|t| Pattern::parse(t).unwrap()).collect()
    };
    assert_eq!(claims.publish, patterns(&["room.42", "lobby"]));
    assert_eq!(claims.subscribe, patterns(&["room.*"]));
    assert!(claims.allows(Right::Subscribe, "room.7"));
    assert!(!claims.allows(Right::Publish, "room.7"));
    assert!(matches!(
        verify(&secret, &token, claims.expires),
        Err(TokenError::Expired { .. })
    ));
    let other = Secret::new(*b"not the secret in the file......").unwrap();
    assert_eq!(verify(&other, &token, after), Err(TokenError::BadSignature));
}

#[test]
fn the_default_ttl_is_an_hour() {
    let file = TempFile::new("ttl", KEY);
    let before = unix_now();
    let token = printed_token(&run(&["--secret-file", file.arg(), "--subscribe", "*"]));
    let after = unix_now();
    let claims = verify(&Secret::new(KEY).unwrap(), &token, after).unwrap();
    assert!((before + 3600..=after + 3600).contains(&claims.expires));
    assert!(claims.publish.is_empty());
}

#[test]
fn an_unreadable_secret_file_exits_1() {
    let file = TempFile::new("missing", KEY);
    let missing = file.dir.join("no-such-file");
    let out = run(&["--secret-file", missing.to_str().unwrap(), "--publish", "a"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("cannot read the secret file"), "{stderr}");
    assert!(stderr.contains("no-such-file"), "{stderr}");
}

#[test]
fn a_short_secret_exits_1_without_showing_it() {
    let file = TempFile::new("short", b"tooshort-secret\n");
    let out = run(&["--secret-file", file.arg(), "--publish", "a"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("15 bytes; at least 16"), "{stderr}");
    assert!(!stderr.contains("tooshort-secret"), "{stderr}");
}

#[test]
fn bad_command_lines_exit_2_naming_the_problem() {
    let file = TempFile::new("bad", KEY);
    for (args, expected) in [
        (
            vec!["--secret-file", file.arg(), "--publish", "room*x"],
            "--publish",
        ),
        (
            vec!["--secret-file", file.arg(), "--subscribe", ""],
            "--subscribe",
        ),
        (vec!["--secret-file", file.arg()], "--publish PATTERN"),
        (vec!["--subscribe", "a"], "--secret-file"),
        (
            vec!["--secret-file", file.arg(), "--publish", "a", "--ttl", "0"],
            "--ttl",
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn patterns_too_many_for_one_token_exit_2() {
    // 64 full-length names per right: each list is allowed, but the token is far over 4 KiB.
    let file = TempFile::new("long", KEY);
    let names: Vec<String> = (0..64).map(|i| format!("{i:0>128}")).collect();
    let mut args = vec!["--secret-file", file.arg()];
    for name in &names {
        args.extend(["--publish", name, "--subscribe", name]);
    }
    let out = run(&args);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("more than the 4096"), "{stderr}");
}

#[test]
fn token_help_exits_0() {
    let out = Command::new(BIN).args(["help", "token"]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("--secret-file FILE"), "{stdout}");
}

#[test]
fn serve_with_a_secret_file_requires_the_tokens_this_command_mints() {
    let secret = TempFile::new("serve", &[KEY, b"\n"].concat());
    let server = support::spawn_serve(&["--secret-file", secret.arg()]);
    let mut client = support::RawClient::connect(server.addr);
    assert_eq!(client.post("/channels/lobby", b"anonymous").status, 401);
    let publisher = printed_token(&run(&["--secret-file", secret.arg(), "--publish", "lobby"]));
    let reader = printed_token(&run(&[
        "--secret-file",
        secret.arg(),
        "--subscribe",
        "lob*",
    ]));
    let target = format!("/channels/lobby?token={publisher}");
    assert_eq!(client.post(&target, b"signed").status, 201);
    let target = format!("/channels/lobby?since=0&timeout=0&token={publisher}");
    assert_eq!(
        client.get(&target).status,
        403,
        "a publisher's token cannot read"
    );
    let target = format!("/channels/lobby?since=0&timeout=0&token={reader}");
    let polled = client.get(&target);
    assert_eq!(polled.status, 200);
    assert!(String::from_utf8_lossy(&polled.body).contains("\"signed\""));
}

#[test]
fn serve_refuses_to_start_open_when_its_secret_file_cannot_be_used() {
    let short = TempFile::new("serve-short", b"short");
    for path in [short.arg(), "/nonexistent/pushwire/secret"] {
        let out = Command::new(BIN)
            .args(["serve", "--addr", "127.0.0.1:0", "--secret-file", path])
            .output()
            .expect("run pushwire serve");
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--secret-file"), "{stderr}");
        assert!(
            !stderr.contains("short\n") && !stderr.contains(": short"),
            "{stderr}"
        );
    }
}

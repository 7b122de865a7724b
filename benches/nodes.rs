//! Several nodes: the memory engine against the Redis engine, one node and two.
//!
//! ```sh
//! cargo bench --bench nodes                 # every row, about 2 minutes
//! cargo bench --bench nodes -- --secs 2     # shorter publish and long-poll runs
//! ```
//!
//! For each setup — `pushwire serve` in memory; one node with `--redis`; two nodes on one
//! Redis — three runs, each on a fresh channel:
//!
//! - **publish**: 4 publishers (spread over the nodes), one request in flight each,
//!   64-byte messages; latency from writing the request to reading its `201`, which with
//!   Redis includes the publish script's round trip.
//! - **long-poll delivery**: `pushwire load --mode longpoll`, 1,000 clients (spread over
//!   the nodes by `--node`) polling while the tool's publisher (on the first node) posts
//!   50 messages/s: deliveries/s and the latency from each publish to each delivery. The
//!   tool's publisher pipelines its POSTs on one connection, and a node answers the
//!   requests of one connection in order, one at a time: with Redis each costs a round
//!   trip and a turn of the loop, which under this load caps one connection near 100
//!   publishes/s (README.md, "Running several nodes"); 50/s stays below it.
//! - **fan-out**: `pushwire load --mode fanout`, 10,000 WebSocket subscribers (spread
//!   over the nodes), 5 publishes on the first node: the time from the publish until
//!   each subscriber has the frame.
//!
//! Then, Redis alone, what the engine's subscription choice costs: one connection
//! subscribed to 10,000 channels by name (what the engine does) against one `PSUBSCRIBE`
//! of the prefix, while a pipelined publisher sends `PUBLISH` round robin over 20,000
//! channels (half of them subscribed by name): publishes/s, and the messages the
//! subscriber had to take.
//!
//! Every process is started here on free loopback ports (`redis-server` in a directory
//! of its own, without persistence) and killed by PID. The Redis rows are skipped, with a
//! line that says so, where `redis-server` is not installed. A benchmark, not a test:
//! compare the rows of one run (this machine is shared).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, percentile, publish_run, serve, wait_healthy, wait_listening};
use pushwire::redis::{Command as RespCommand, ReplyLimits, ReplyParser};
use pushwire::status::Status;

/// A `redis-server` of this benchmark, killed by PID on drop.
struct Redis {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Redis {
    fn start() -> Option<Redis> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "pushwire-bench-redis-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).ok()?;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .arg("--dir")
            .arg(&dir)
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_listening(addr, "redis-server");
        Some(Redis { child, addr, dir })
    }

    fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A setup: its name, the nodes, and the Redis they share (kept alive with them).
struct Setup {
    name: &'static str,
    nodes: Vec<common::Serve>,
    _redis: Option<Redis>,
}

impl Setup {
    fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }
}

/// What `pushwire load` printed on its `LOAD` line.
struct LoadLine {
    msgs_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// Runs `pushwire load URL ARGS` with a `--node` for every node after the first.
fn load(nodes: &[SocketAddr], url: String, args: &[&str]) -> LoadLine {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pushwire"));
    command.arg("load").arg(url).args(args);
    for node in &nodes[1..] {
        command.arg("--node").arg(node.to_string());
    }
    let out = command
        .stderr(Stdio::null())
        .output()
        .expect("run pushwire load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("LOAD "))
        .unwrap_or_else(|| panic!("no LOAD line: {stdout}"));
    let field = |name: &str| -> f64 {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    LoadLine {
        msgs_per_s: field("msgs_per_s"),
        p50_ms: field("p50_us") / 1000.0,
        p99_ms: field("p99_us") / 1000.0,
        errors: (field("errors") + field("mismatches")) as u64,
    }
}

fn setups() -> Vec<Setup> {
    let mut all = vec![Setup {
        name: "memory, 1 node",
        nodes: vec![serve(&[], None)],
        _redis: None,
    }];
    for (name, count) in [("Redis, 1 node", 1), ("Redis, 2 nodes", 2)] {
        let Some(redis) = Redis::start() else {
            println!("(redis-server is not installed: the Redis rows are skipped)");
            break;
        };
        let url = redis.url();
        let nodes: Vec<_> = (0..count)
            .map(|_| serve(&["--redis", &url], None))
            .collect();
        for node in &nodes {
            wait_healthy(node.addr);
        }
        all.push(Setup {
            name,
            nodes,
            _redis: Some(redis),
        });
    }
    all
}

fn main() {
    let secs: f64 = common::arg("--secs", 5.0);
    let setups = setups();

    println!(
        "\npublish: 4 publishers over the nodes, 1 in flight each, 64-byte messages, {secs} s"
    );
    println!("| setup | publishes/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    for setup in &setups {
        let (rate, all) = publish_run(&setup.addrs(), "pub", 4, secs);
        println!(
            "| {} | {rate:.0} | {:.3} | {:.3} |",
            setup.name,
            percentile(&all, 0.50),
            percentile(&all, 0.99)
        );
    }

    println!(
        "\nlong-poll delivery: 1,000 clients over the nodes, 50 publishes/s on the first, {secs} s"
    );
    println!("| setup | deliveries/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|");
    let secs_arg = secs.to_string();
    for setup in &setups {
        let addrs = setup.addrs();
        let url = format!("http://{}/channels/lp", addrs[0]);
        let args = [
            "--mode",
            "longpoll",
            "--conns",
            "1000",
            "--publish-rate",
            "50",
            "--secs",
            &secs_arg,
        ];
        let r = load(&addrs, url, &args);
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} |",
            setup.name, r.msgs_per_s, r.p50_ms, r.p99_ms, r.errors
        );
    }

    println!("\nfan-out: 10,000 WebSocket subscribers over the nodes, 5 publishes on the first");
    println!("| setup | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|");
    for setup in &setups {
        let addrs = setup.addrs();
        let url = format!("ws://{}/channels/fan", addrs[0]);
        let r = load(
            &addrs,
            url,
            &["--mode", "fanout", "--conns", "10000", "--rounds", "5"],
        );
        println!(
            "| {} | {:.1} | {:.1} | {} |",
            setup.name, r.p50_ms, r.p99_ms, r.errors
        );
    }
    drop(setups);

    subscription_modes();
}

/// A blocking RESP connection for the last part, on the library's own codec.
struct Resp {
    stream: TcpStream,
    parser: ReplyParser,
    buf: Vec<u8>,
}

impl Resp {
    fn connect(addr: SocketAddr) -> Resp {
        let stream = TcpStream::connect(addr).expect("connect to redis");
        stream.set_nodelay(true).unwrap();
        Resp {
            stream,
            parser: ReplyParser::new(),
            buf: Vec::new(),
        }
    }

    fn send(&mut self, out: &[u8]) {
        self.stream.write_all(out).expect("write to redis");
    }

    /// Reads `n` replies (or until `deadline`); how many came.
    fn read_replies(&mut self, n: usize, deadline: Instant) -> usize {
        let limits = ReplyLimits::default();
        let mut got = 0;
        let mut chunk = vec![0u8; 1 << 16];
        self.stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        while got < n && Instant::now() < deadline {
            while let Status::Complete((_, used)) =
                self.parser.parse(&self.buf, &limits).expect("a reply")
            {
                self.buf.drain(..used);
                got += 1;
                if got == n {
                    return got;
                }
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(_) => {} // a read timeout: look at the deadline
            }
        }
        got
    }
}

/// SUBSCRIBE by name against one PSUBSCRIBE, in Redis alone.
fn subscription_modes() {
    const SUBSCRIBED: usize = 10_000;
    const CHANNELS: usize = 20_000;
    const PUBLISHES: usize = 200_000;
    const BATCH: usize = 1000;
    println!(
        "\nsubscriptions: one subscriber; {PUBLISHES} PUBLISH round robin over {CHANNELS} channels, pipelined {BATCH} at a time"
    );
    println!("| subscribed by | SUBSCRIBE time | publishes/s | messages the subscriber took |");
    println!("|---|---|---|---|");
    for pattern in [false, true] {
        let Some(redis) = Redis::start() else {
            println!("(redis-server is not installed: skipped)");
            return;
        };
        let mut subscriber = Resp::connect(redis.addr);
        let started = Instant::now();
        let mut out = Vec::new();
        let confirmations = if pattern {
            RespCommand::new(&mut out, "PSUBSCRIBE").arg("pushwire:*");
            1
        } else {
            for batch in (0..SUBSCRIBED).collect::<Vec<_>>().chunks(256) {
                let mut command = RespCommand::new(&mut out, "SUBSCRIBE");
                for c in batch {
                    command.arg(format!("pushwire:{{c{}}}", c * 2));
                }
            }
            SUBSCRIBED
        };
        subscriber.send(&out);
        let deadline = Instant::now() + Duration::from_secs(60);
        assert_eq!(
            subscriber.read_replies(confirmations, deadline),
            confirmations
        );
        let subscribe_time = started.elapsed();

        let mut publisher = Resp::connect(redis.addr);
        let started = Instant::now();
        let mut sent = 0;
        while sent < PUBLISHES {
            let mut out = Vec::new();
            for i in sent..sent + BATCH {
                RespCommand::new(&mut out, "PUBLISH")
                    .arg(format!("pushwire:{{c{}}}", i % CHANNELS))
                    .arg("mG3b0hJ0xq8t1 a message of some 40 bytes....");
            }
            publisher.send(&out);
            assert_eq!(publisher.read_replies(BATCH, deadline), BATCH);
            sent += BATCH;
        }
        let rate = PUBLISHES as f64 / started.elapsed().as_secs_f64();
        let expected = if pattern { PUBLISHES } else { PUBLISHES / 2 };
        let took = subscriber.read_replies(expected, Instant::now() + Duration::from_secs(30));
        println!(
            "| {} | {:.1} ms | {rate:.0} | {took} |",
            if pattern {
                "one pattern (PSUBSCRIBE pushwire:*)"
            } else {
                "name (10,000 channels)"
            },
            subscribe_time.as_secs_f64() * 1000.0
        );
    }
}

//! Publish throughput and acknowledgement latency of `pushwire serve`, in memory and on
//! the durable log with each `--fsync` policy:
//!
//! ```sh
//! cargo bench --bench publish               # 4 publishers x 5 s per storage
//! cargo bench --bench publish -- --secs 2   # shorter
//! ```
//!
//! Four publishers, each on its own keep-alive connection with one request in flight,
//! post 64-byte messages to one channel for the given time; the latency of a publish is
//! from writing its request to reading its `201` (so it includes the log's `write` or
//! `fdatasync`: group commit shares one sync among the publishes that wait together).
//! Loopback only; every server is a fresh process in a fresh directory, killed by PID.
//! A benchmark, not a test: compare the rows of one run (this machine is shared).

mod common;

use std::path::PathBuf;

use common::{percentile, publish_run, serve};

const PUBLISHERS: usize = 4;

fn main() {
    let secs = common::arg("--secs", 5.0f64);
    println!(
        "publish: {PUBLISHERS} publishers, 1 in flight each, {}-byte messages, {secs} s per storage",
        common::MESSAGE
    );
    println!("| storage | publishes/s | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for fsync in [None, Some("never"), Some("batch"), Some("always")] {
        let server = match fsync {
            None => serve(&[], None),
            Some(policy) => {
                let dir = std::env::temp_dir()
                    .join(format!("pushwire-bench-{policy}-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                let path = dir.to_str().unwrap().to_string();
                serve(
                    &["--data-dir", &path, "--fsync", policy],
                    Some(PathBuf::from(&path)),
                )
            }
        };
        let (rate, all) = publish_run(&[server.addr], "bench", PUBLISHERS, secs);
        let name = match fsync {
            None => "memory".to_string(),
            Some(policy) => format!("disk, --fsync {policy}"),
        };
        println!(
            "| {name} | {rate:.0} | {:.3} | {:.3} | {:.3} |",
            percentile(&all, 0.50),
            percentile(&all, 0.99),
            percentile(&all, 1.0)
        );
        drop(server);
    }
}

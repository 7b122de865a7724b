//! Replays every committed fuzz seed (`fuzz/seeds/<target>/*`) through the same function
//! the fuzz target calls (its entry in [`TARGETS`]), on stable Rust, so the seeds stay
//! meaningful and the targets' invariants hold for them on every `cargo test`.
//!
//! A unit test rather than an integration test: the module it tests exists only under
//! `cfg(test)` (or `cfg(fuzzing)`), which integration tests do not see.

use std::fs;
use std::path::Path;

use super::TARGETS;

#[test]
fn every_committed_seed_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut dirs: Vec<_> = fs::read_dir(&root)
        .expect("fuzz/seeds exists")
        .map(|entry| entry.expect("readable").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    let mut replayed = 0;
    let mut failed = Vec::new();
    for dir in &dirs {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let target = TARGETS
            .iter()
            .find(|(target, _)| *target == name)
            .unwrap_or_else(|| panic!("fuzz/seeds/{name} matches no target"))
            .1;
        let mut seeds: Vec<_> = fs::read_dir(dir)
            .expect("readable")
            .map(|entry| entry.expect("readable").path())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "fuzz/seeds/{name} is empty");
        for seed in seeds {
            let data = fs::read(&seed).expect("readable seed");
            // The panic message is printed by the panic hook; collect and go on.
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failed.push(seed.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(
        failed.is_empty(),
        "seeds that fail their target: {failed:#?}"
    );
    // Every target has seeds.
    for (target, _) in TARGETS {
        assert!(
            dirs.iter().any(|d| d.ends_with(target)),
            "no seeds for fuzz target {target}"
        );
    }
    println!("replayed {replayed} seeds");
}

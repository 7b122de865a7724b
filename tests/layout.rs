//! The code base's layout rule: only the drivers touch sockets or read the clock.
//!
//! Sockets (`mio`, `std::net`) belong in the mio driver (`src/server/driver.rs`), the
//! blocking client (`src/client.rs`), the binary (`src/bin/`) and the Redis engine's one
//! name lookup (`src/redis/resolve.rs`, before the loop runs); `Instant::now()` in
//! those and the in-memory driver (`src/pair/`, which needs one starting instant).
//! Everything else is sans-IO: bytes in, bytes out, time as an argument. Comment lines
//! do not count, and neither does code compiled only for tests or the fuzzer (a
//! `#[cfg(test)]` module, a file declared `#[cfg(test)] mod x;`, `src/fuzzing/`), which
//! needs a starting instant just as the in-memory driver does.

use std::fs;
use std::path::{Path, PathBuf};

/// Where sockets may be used.
const SOCKET_PLACES: &[&str] = &[
    "src/server/driver.rs",
    "src/client.rs",
    "src/bin/",
    // The Redis engine's one name lookup, when the hub opens, before the loop runs.
    "src/redis/resolve.rs",
];
/// Where the clock may be read: the socket places and the in-memory driver.
const CLOCK_PLACES: &[&str] = &[
    "src/server/driver.rs",
    "src/client.rs",
    "src/bin/",
    "src/pair/",
    // The durable log's IO half: its writer thread times batch syncs.
    "src/storage/disk.rs",
];
/// What counts as using sockets.
const SOCKET_PATTERNS: &[&str] = &["use mio", "mio::", "std::net"];
const CLOCK_PATTERN: &str = "Instant::now()";

/// `path` (relative, with `/`) is one of `places`: a file named exactly, or under a
/// directory given with a trailing `/`.
fn is_in(path: &str, places: &[&str]) -> bool {
    places.iter().any(|place| {
        if place.ends_with('/') {
            path.starts_with(place)
        } else {
            path == *place
        }
    })
}

/// Every `.rs` file under `dir`, as paths relative to `root` with `/` separators, sorted.
fn rust_files(root: &Path, dir: &Path, into: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(root, &path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap();
            let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
            into.push(parts.join("/"));
        }
    }
}

/// Is this `#[cfg(...)]` predicate true only for tests or the fuzzer?
fn is_test_only_cfg(attribute: &str) -> bool {
    let Some(predicate) = attribute.strip_prefix("#[cfg(") else {
        return false;
    };
    if predicate.contains("not(") {
        return false; // compiled in ordinary builds too: checked
    }
    predicate
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|word| word == "test" || word == "fuzzing")
}

/// `mod NAME;` or `mod NAME {` (with any visibility): `(NAME, has_body)`.
fn module_declaration(line: &str) -> Option<(&str, bool)> {
    let mut rest = line.trim();
    for visibility in ["pub(crate) ", "pub(super) ", "pub "] {
        if let Some(r) = rest.strip_prefix(visibility) {
            rest = r;
        }
    }
    let rest = rest.strip_prefix("mod ")?;
    if let Some(name) = rest.strip_suffix(';') {
        Some((name.trim(), false))
    } else {
        rest.strip_suffix('{').map(|name| (name.trim(), true))
    }
}

/// The file or directory (with a trailing `/`) of module `name` declared in `file`.
fn module_place(root: &Path, file: &str, name: &str) -> String {
    let (dir, stem) = match file.rsplit_once('/') {
        Some((dir, file_name)) => (dir, file_name.trim_end_matches(".rs")),
        None => ("", file.trim_end_matches(".rs")),
    };
    let base = if matches!(stem, "mod" | "lib" | "main") {
        dir.to_string()
    } else {
        format!("{dir}/{stem}")
    };
    if root.join(&base).join(name).join("mod.rs").exists() {
        format!("{base}/{name}/")
    } else {
        format!("{base}/{name}.rs")
    }
}

/// The lines of `text` that are checked: `(line number, line)`, without comment lines
/// and items under a test-only `#[cfg]`. Test-only module files declared here are added
/// to `test_only`.
fn checked_lines<'t>(
    root: &Path,
    file: &str,
    text: &'t str,
    test_only: &mut Vec<String>,
) -> Vec<(usize, &'t str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut checked = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            i += 1;
            continue;
        }
        if !is_test_only_cfg(trimmed) {
            checked.push((i + 1, line));
            i += 1;
            continue;
        }
        // Skip the item the attribute applies to (past further attributes and comments).
        i += 1;
        while i < lines.len() && {
            let t = lines[i].trim_start();
            t.starts_with("#[") || t.starts_with("//")
        } {
            i += 1;
        }
        let Some(item) = lines.get(i) else { break };
        if let Some((name, false)) = module_declaration(item) {
            test_only.push(module_place(root, file, name));
            i += 1;
        } else if item.trim_end().ends_with('{') {
            // A block: up to its closing brace at the item's indentation (rustfmt's
            // layout).
            let indent = &item[..item.len() - item.trim_start().len()];
            let close = format!("{indent}}}");
            i += 1;
            while i < lines.len() && !lines[i].trim_end().starts_with(&close) {
                i += 1;
            }
            i += 1;
        } else {
            i += 1;
        }
    }
    checked
}

/// Every use of sockets or the clock outside its places, as `file:line: what`.
fn violations(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(root, &root.join("src"), &mut files);
    let sources: Vec<(&str, String)> = files
        .iter()
        .map(|file| (file.as_str(), fs::read_to_string(root.join(file)).unwrap()))
        .collect();
    // First every file's checked lines, which also finds the test-only module files.
    let mut test_only = vec!["src/fuzzing/".to_string()];
    let checked: Vec<(&str, Vec<(usize, &str)>)> = sources
        .iter()
        .map(|(file, text)| (*file, checked_lines(root, file, text, &mut test_only)))
        .collect();
    let test_only: Vec<&str> = test_only.iter().map(String::as_str).collect();
    let mut found = Vec::new();
    for (file, lines) in checked {
        if is_in(file, &test_only) {
            continue;
        }
        for (number, line) in lines {
            let socket = SOCKET_PATTERNS.iter().find(|p| line.contains(*p));
            if let Some(pattern) = socket.filter(|_| !is_in(file, SOCKET_PLACES)) {
                found.push(format!("{file}:{number}: `{pattern}`: {}", line.trim()));
            }
            if line.contains(CLOCK_PATTERN) && !is_in(file, CLOCK_PLACES) {
                found.push(format!(
                    "{file}:{number}: `{CLOCK_PATTERN}`: {}",
                    line.trim()
                ));
            }
        }
    }
    found
}

#[test]
fn only_the_drivers_touch_sockets_or_read_the_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = violations(root);
    assert!(
        found.is_empty(),
        "sockets or the clock outside the drivers ({} places):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_layout_check_finds_planted_violations_and_only_those() {
    let root = std::env::temp_dir().join(format!("pushwire-layout-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let files: &[(&str, &str)] = &[
        (
            "src/lib.rs",
            "#[cfg(test)]\nmod test_rng;\n#[cfg(any(test, fuzzing))]\n#[doc(hidden)]\npub mod fuzzing;\n",
        ),
        ("src/test_rng.rs", "fn seed() { Instant::now(); }\n"),
        ("src/fuzzing/mod.rs", "use std::net::TcpStream;\n"),
        (
            "src/server/core.rs",
            "//! Not the `mio::Poll`.\nuse mio::Poll;\nfn f() {\n    // Instant::now() in a comment\n    let t = Instant::now();\n}\n\n#[cfg(test)]\nmod tests {\n    fn g() {\n        Instant::now();\n    }\n}\nfn after() { std::net::Shutdown::Both; }\n",
        ),
        (
            "src/server/driver.rs",
            "use mio::Poll;\nlet t = Instant::now();\n",
        ),
        (
            "src/pair/server.rs",
            "let t = Instant::now();\nuse std::net::SocketAddr;\n",
        ),
        ("src/bin/tool/main.rs", "use std::net::TcpListener;\n"),
    ];
    for (path, text) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let found = violations(&root);
    let _ = fs::remove_dir_all(&root);
    let places: Vec<&str> = found
        .iter()
        .map(|f| f.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        places,
        [
            "src/pair/server.rs:2",
            "src/server/core.rs:2",
            "src/server/core.rs:5",
            "src/server/core.rs:14",
        ],
        "{found:#?}"
    );
}

/// The library's runtime dependencies are mio, sha1, base64 and rand, and nothing else;
/// the one optional dependency (signal handling for the binary) is only in the `cli`
/// feature, so `default-features = false` builds exactly the four.
#[test]
fn the_library_depends_on_four_crates_and_the_binary_adds_only_signal_hook() {
    let manifest = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("Cargo.toml");
    let section = |name: &str| -> Vec<String> {
        let start = manifest
            .find(&format!("\n[{name}]\n"))
            .unwrap_or_else(|| panic!("no [{name}]"));
        manifest[start + name.len() + 4..]
            .lines()
            .take_while(|line| !line.starts_with('['))
            .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let deps = section("dependencies");
    let name = |line: &String| line.split([' ', '=']).next().unwrap().to_string();
    let required: Vec<String> = deps
        .iter()
        .filter(|line| !line.contains("optional = true"))
        .map(name)
        .collect();
    assert_eq!(required, ["base64", "mio", "rand", "sha1"]);
    let optional: Vec<String> = deps
        .iter()
        .filter(|line| line.contains("optional = true"))
        .map(name)
        .collect();
    assert_eq!(optional, ["signal-hook"]);
    let features = section("features");
    assert!(
        features.contains(&r#"default = ["cli"]"#.to_string()),
        "{features:?}"
    );
    assert!(
        features.contains(&r#"cli = ["dep:signal-hook"]"#.to_string()),
        "{features:?}"
    );
}

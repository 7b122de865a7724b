//! Keeps `docs/rfc6455.md`, the map from RFC requirements to code and tests, true: every
//! file, function and test it names exists, and its coverage summary counts its rows.
//!
//! # The format this test reads
//!
//! A **requirement row** is a Markdown table line of exactly five cells:
//!
//! ```text
//! | § | requirement | level | code | test |
//! ```
//!
//! Header lines (first cell `§`) and separator lines (`|---|...`) are not rows. No cell
//! may contain a `|` of its own (so write the RFC's `|Host|` as plain `Host`).
//!
//! In the **code** and **test** cells, backticks are for references only:
//!
//! - a span that names a file (contains `/`, ends in `.rs`) starts a reference, and the
//!   spans after it, up to the next file, are items in that file: `` `src/ws/frame.rs`
//!   `parse` `encode` ``;
//! - an item is a Rust path (`parse`, `FrameHeader::parse`, `tests::name`); only its
//!   last segment is looked up;
//! - in the code cell an item is a function: `fn NAME` must occur in the file (for
//!   `src/` files, followed by `(` or `<`);
//! - in the test cell an item is a test: `fn NAME(` must occur in the file, under a
//!   `#[test]` attribute.
//!
//! Everything else in those cells (outside backticks) is prose for the reader.
//!
//! A row whose test cell contains `not covered` is not covered; it says why, and may
//! still name code and tests (a violation's ignored test), which are checked like any
//! other. Every other row must name at least one function and at least one test.
//!
//! The document states its coverage exactly once, as `C of N requirements covered`,
//! where N is the number of rows and C the number of rows not marked `not covered`.

use std::collections::HashMap;
use std::path::Path;

const DOC: &str = "docs/rfc6455.md";

/// One requirement row, with the line it is on.
struct Row {
    line: usize,
    cells: Vec<String>,
}

/// A file and the items named in it, as written in a cell.
struct Reference {
    file: String,
    items: Vec<String>,
}

fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The requirement rows of the document.
fn rows(doc: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, line) in doc.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('|') {
            continue;
        }
        let is_separator = line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '));
        if is_separator {
            continue;
        }
        let inner = line
            .strip_prefix('|')
            .and_then(|l| l.strip_suffix('|'))
            .unwrap_or(line);
        let cells: Vec<String> = inner.split('|').map(|c| c.trim().to_string()).collect();
        if cells.first().map(String::as_str) == Some("§") {
            continue; // a header line
        }
        rows.push(Row { line: i + 1, cells });
    }
    rows
}

/// The backtick spans of a cell, in order.
fn spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn is_file(span: &str) -> bool {
    span.contains('/') && span.ends_with(".rs")
}

fn is_item(span: &str) -> bool {
    !span.is_empty()
        && span.split("::").all(|segment| {
            let mut chars = segment.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The references of a cell; a span that is neither a file nor an item after a file is
/// reported in `problems`.
fn references(cell: &str, where_: &str, problems: &mut Vec<String>) -> Vec<Reference> {
    let mut refs: Vec<Reference> = Vec::new();
    for span in spans(cell) {
        if is_file(span) {
            refs.push(Reference {
                file: span.to_string(),
                items: Vec::new(),
            });
        } else if !is_item(span) {
            problems.push(format!(
                "{where_}: `{span}` is neither a file nor a Rust path"
            ));
        } else if let Some(last) = refs.last_mut() {
            last.items.push(span.to_string());
        } else {
            problems.push(format!("{where_}: `{span}` is not preceded by a file"));
        }
    }
    refs
}

/// The last segment of a Rust path: `tests::name` → `name`.
fn last_segment(item: &str) -> &str {
    item.rsplit("::").next().unwrap_or(item)
}

/// Does `source` define a function `name` (`fn name(` or `fn name<`)?
fn defines_fn(source: &str, name: &str) -> bool {
    let needle = format!("fn {name}");
    source.match_indices(&needle).any(|(at, _)| {
        let before_ok = at == 0
            || !source[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let after = source[at + needle.len()..].chars().next();
        before_ok && matches!(after, Some('(' | '<'))
    })
}

/// Is `fn name(` in `source` a test: the nearest `#[test]` before it, with no `{` or `}`
/// in between (only attributes, doc comments and whitespace)?
fn defines_test(source: &str, name: &str) -> bool {
    let needle = format!("fn {name}(");
    source.match_indices(&needle).any(|(at, _)| {
        let before = &source[..at];
        match before.rfind("#[test]") {
            Some(attr) => !before[attr..].contains(['{', '}']),
            None => false,
        }
    })
}

/// Reads (once) the files the document names; `None` for a file that does not exist.
fn source<'c>(cache: &'c mut HashMap<String, Option<String>>, file: &str) -> Option<&'c str> {
    cache
        .entry(file.to_string())
        .or_insert_with(|| std::fs::read_to_string(crate_root().join(file)).ok())
        .as_deref()
}

#[test]
fn every_reference_in_the_rfc_map_exists_and_its_summary_counts_the_rows() {
    let doc = std::fs::read_to_string(crate_root().join(DOC))
        .unwrap_or_else(|e| panic!("cannot read {DOC}: {e}"));
    let rows = rows(&doc);
    let mut problems = Vec::new();
    let mut cache = HashMap::new();
    let mut not_covered = 0;

    for row in &rows {
        let at = format!("{DOC}:{}", row.line);
        if row.cells.len() != 5 {
            problems.push(format!(
                "{at}: {} cells, expected 5 (§, requirement, level, code, test)",
                row.cells.len()
            ));
            continue;
        }
        let (code, test) = (&row.cells[3], &row.cells[4]);
        let uncovered = test.contains("not covered");
        not_covered += usize::from(uncovered);

        let code_refs = references(code, &format!("{at} (code)"), &mut problems);
        let test_refs = references(test, &format!("{at} (test)"), &mut problems);
        for (refs, kind) in [(&code_refs, "code"), (&test_refs, "test")] {
            for r in refs {
                let Some(text) = source(&mut cache, &r.file) else {
                    problems.push(format!("{at} ({kind}): no file `{}`", r.file));
                    continue;
                };
                if r.items.is_empty() {
                    problems.push(format!("{at} ({kind}): `{}` names no item", r.file));
                }
                for item in &r.items {
                    let name = last_segment(item);
                    let found = match kind {
                        "code" => defines_fn(text, name),
                        _ => defines_test(text, name),
                    };
                    if !found {
                        let what = if kind == "code" { "fn" } else { "#[test] fn" };
                        problems.push(format!("{at} ({kind}): no `{what} {name}` in `{}`", r.file));
                    }
                }
            }
        }
        if !uncovered {
            if !code_refs.iter().any(|r| !r.items.is_empty()) {
                problems.push(format!("{at}: a covered row names no function"));
            }
            if !test_refs.iter().any(|r| !r.items.is_empty()) {
                problems.push(format!("{at}: a covered row names no test"));
            }
        }
    }

    let total = rows.len();
    let covered = total - not_covered;
    let claims: Vec<(usize, usize)> = doc
        .match_indices(" requirements covered")
        .filter_map(|(at, _)| {
            let words: Vec<&str> = doc[..at].rsplit(char::is_whitespace).take(3).collect();
            match words.as_slice() {
                [n, "of", c] => Some((
                    c.trim_start_matches(['*', '`']).parse().ok()?,
                    n.parse().ok()?,
                )),
                _ => None,
            }
        })
        .collect();
    match claims.as_slice() {
        [(c, n)] if (*c, *n) == (covered, total) => {}
        [(c, n)] => problems.push(format!(
            "{DOC}: says `{c} of {n} requirements covered`, but {covered} of {total} rows \
             are covered"
        )),
        _ => problems.push(format!(
            "{DOC}: expected exactly one `C of N requirements covered`, found {}; it should \
             say `{covered} of {total} requirements covered`",
            claims.len()
        )),
    }
    assert!(total > 0, "{DOC} has no requirement rows");
    assert!(
        problems.is_empty(),
        "{} problem(s) in {DOC}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_checker_finds_functions_and_tests_and_refuses_look_alikes() {
    let src = "/// doc\n#[test]\n#[ignore = \"why\"]\nfn a_test() {}\n\
               fn helper() {}\npub fn parse<T>(x: T) {}\nfn not_a_test_either() {}\n";
    assert!(defines_test(src, "a_test"));
    assert!(
        !defines_test(src, "helper"),
        "a fn after a test is not a test"
    );
    assert!(!defines_test(src, "not_a_test_either"));
    assert!(defines_fn(src, "parse") && defines_fn(src, "helper"));
    assert!(!defines_fn(src, "pars"), "a prefix is not a name");
    assert!(!defines_fn(src, "a_tes"), "a prefix is not a name");

    let mut problems = Vec::new();
    let refs = references(
        "by design: `src/a.rs` `f` `T::g` and `tests/b.rs` `tests::h`",
        "here",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
    let flat: Vec<(&str, Vec<&str>)> = refs
        .iter()
        .map(|r| {
            (
                r.file.as_str(),
                r.items.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        flat,
        [
            ("src/a.rs", vec!["f", "T::g"]),
            ("tests/b.rs", vec!["tests::h"])
        ]
    );
    references("`orphan` `src/a.rs` `not an item`", "here", &mut problems);
    assert_eq!(problems.len(), 2, "{problems:?}");

    let doc = "| § | R | L | C | T |\n|---|---|---|---|---|\n| 1 | r | MUST | c | t |\n";
    let rows = rows(doc);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].line, 3);
    assert_eq!(rows[0].cells, ["1", "r", "MUST", "c", "t"]);
}

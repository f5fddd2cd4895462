//! Dependencies point one way, down, checked on the sources: the leaves (`error`, `config`,
//! `random`) refer to nothing of the layers above them, and the sans-I/O core (`src/protocol/`)
//! to nothing of the runtime (`server`, `client`, `transport`).
//!
//! Code counts, comments and literals do not: a doc link may point up. A `crate::` path is
//! checked by its first segment (each one of a `crate::{a, b}` group); in a leaf, which sits at
//! the crate root, a `super::` path is too.

use std::path::{Path, PathBuf};

/// The modules at the bottom: they may refer to each other only.
const LEAVES: [&str; 3] = ["error", "config", "random"];

/// The runtime's modules, which the core must not know.
const RUNTIME: [&str; 4] = ["server", "client", "transport", "tokio"];

/// A path in code that reaches a module of the crate: its line and its first segment.
#[derive(Debug, PartialEq)]
struct Reference {
    line: usize,
    module: String,
}

/// The Rust files of the crate's top-level module `name`: `src/name.rs`, and everything under
/// `src/name/`.
fn sources_of(name: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let file = src.join(format!("{name}.rs"));
    if file.is_file() {
        files.push(file);
    }
    collect_rust_files(&src.join(name), &mut files);
    assert!(!files.is_empty(), "no sources for the module {name}");
    files
}

fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// `source` with its comments and its string and character literals blanked out (line breaks
/// kept, so that line numbers still hold).
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut code = String::with_capacity(source.len());
    let mut at = 0;
    while at < chars.len() {
        let skip = comment_or_literal_len(&chars[at..]);
        if skip == 0 {
            code.push(chars[at]);
            at += 1;
            continue;
        }
        let blank = |&c: &char| if c == '\n' { '\n' } else { ' ' };
        code.extend(chars[at..at + skip].iter().map(blank));
        at += skip;
    }
    code
}

/// The length of the comment or literal that `s` starts with, or 0 if it starts with code.
fn comment_or_literal_len(s: &[char]) -> usize {
    match s {
        ['/', '/', ..] => s.iter().position(|&c| c == '\n').unwrap_or(s.len()),
        ['/', '*', ..] => block_comment_len(s),
        ['"', ..] => quoted_len(s),
        ['r', '#' | '"', ..] => raw_string_len(s),
        ['\'', '\\', ..] => s[2..]
            .iter()
            .position(|&c| c == '\'')
            .map_or(s.len(), |p| p + 3),
        ['\'', _, '\'', ..] => 3,
        _ => 0,
    }
}

/// `/* … */`, nested ones included.
fn block_comment_len(s: &[char]) -> usize {
    let (mut depth, mut at) = (0, 0);
    while at < s.len() {
        match (s[at], s.get(at + 1)) {
            ('/', Some('*')) => (depth, at) = (depth + 1, at + 2),
            ('*', Some('/')) if depth == 1 => return at + 2,
            ('*', Some('/')) => (depth, at) = (depth - 1, at + 2),
            _ => at += 1,
        }
    }
    s.len()
}

/// `"…"` with its escapes.
fn quoted_len(s: &[char]) -> usize {
    let mut at = 1;
    while at < s.len() {
        match s[at] {
            '\\' => at += 2,
            '"' => return at + 1,
            _ => at += 1,
        }
    }
    s.len()
}

/// `r"…"`, `r#"…"#` and so on; 0 for a raw identifier such as `r#type`.
fn raw_string_len(s: &[char]) -> usize {
    let hashes = s[1..].iter().take_while(|&&c| c == '#').count();
    if s.get(1 + hashes) != Some(&'"') {
        return 0;
    }
    let body = 2 + hashes;
    let close = |at: usize| s[at] == '"' && s[at + 1..].iter().take(hashes).all(|&c| c == '#');
    (body..s.len())
        .find(|&at| at + hashes < s.len() && close(at))
        .map_or(s.len(), |at| at + 1 + hashes)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The first segment of every path in `code` that starts with `prefix` (`crate::` or
/// `super::`, repeated `super::`s skipped).
fn references(code: &str, prefix: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        let mut rest = &code[at + prefix.len()..];
        while let Some(next) = rest.strip_prefix(prefix) {
            rest = next;
        }
        let line = code[..at].matches('\n').count() + 1;
        for module in first_segments(rest) {
            found.push(Reference { line, module });
        }
    }
    found
}

/// The first segment of the path that `rest` starts with, or of each path in the `{…}` group it
/// starts with.
fn first_segments(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|&c| is_ident(c))
            .collect()
    };
    let Some(group) = rest.strip_prefix('{') else {
        return Vec::from_iter(Some(ident(rest)).filter(|s| !s.is_empty()));
    };
    let mut segments = Vec::new();
    let (mut depth, mut item_start) = (0, 0);
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                segments.push(ident(&group[item_start..at]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                segments.push(ident(&group[item_start..at]));
                item_start = at + 1;
            }
            _ => {}
        }
    }
    segments.retain(|s: &String| !s.is_empty());
    segments
}

/// Each path in `files` starting with `prefix` whose first segment `allowed` refuses, as
/// `file:line: path`.
fn violations(files: &[PathBuf], prefix: &str, allowed: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(file).expect("a readable source file");
        for r in references(&code_only(&source), prefix) {
            if !allowed(&r.module) {
                let name = file
                    .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(file);
                found.push(format!(
                    "{}:{}: {prefix}{}",
                    name.display(),
                    r.line,
                    r.module
                ));
            }
        }
    }
    found
}

#[test]
fn the_leaves_refer_to_nothing_above_them() {
    let files: Vec<PathBuf> = LEAVES.iter().flat_map(|leaf| sources_of(leaf)).collect();
    let mut wrong = violations(&files, "crate::", |module| LEAVES.contains(&module));
    wrong.extend(violations(&files, "super::", |module| {
        LEAVES.contains(&module) || !is_top_level_module(module)
    }));
    assert!(
        wrong.is_empty(),
        "a leaf may refer only to {LEAVES:?}: {wrong:#?}"
    );
}

/// Whether `name` is a module declared in `src/lib.rs` (in a leaf, `super::name` is one only
/// then; `super::*` in a leaf's test module is the leaf itself).
fn is_top_level_module(name: &str) -> bool {
    let lib = code_only(include_str!("../src/lib.rs"));
    lib.lines().any(|line| {
        let line = line.trim_start().trim_start_matches("pub ");
        line.strip_prefix("mod ")
            .is_some_and(|rest| rest.trim_end_matches([';', ' ', '{', '}']) == name)
    })
}

#[test]
fn the_core_refers_to_nothing_of_the_runtime() {
    let wrong = violations(&sources_of("protocol"), "crate::", |module| {
        !RUNTIME.contains(&module)
    });
    assert!(
        wrong.is_empty(),
        "src/protocol/ may not refer to {RUNTIME:?}: {wrong:#?}"
    );
}

fn modules_referred_to(source: &str, prefix: &str) -> Vec<String> {
    let code = code_only(source);
    references(&code, prefix)
        .into_iter()
        .map(|r| r.module)
        .collect()
}

#[test]
fn paths_in_code_are_found_in_every_form() {
    let source = "use crate::protocol::close::CloseCode;\n\
                  use crate::{config::Config, protocol::{Event, Role}, error};\n\
                  fn f() -> crate::server::Server { $crate::client::connect() }\n\
                  use crate::{\n    transport::Tls,\n};";
    let found: Vec<Reference> = references(&code_only(source), "crate::");
    let modules: Vec<&str> = found.iter().map(|r| r.module.as_str()).collect();
    assert_eq!(
        modules,
        [
            "protocol",
            "config",
            "protocol",
            "error",
            "server",
            "client",
            "transport"
        ]
    );
    assert_eq!(found[4].line, 3);
    assert_eq!(
        modules_referred_to("use super::super::protocol;", "super::"),
        ["protocol"]
    );
}

#[test]
fn comments_and_literals_are_not_code() {
    let source = "//! [`Event`](crate::protocol::Event)\n\
                  /// [`Server`](crate::server::Server)\n\
                  // crate::client /* nested */\n\
                  /* crate::a /* crate::b */ crate::c */\n\
                  let s = \"crate::transport \\\" crate::server\";\n\
                  let r = r#\"crate::client \" crate::server\"#;\n\
                  let c = '\"'; let q = '\\''; fn f<'a>(x: &'a str) {}\n\
                  let r#type = xcrate::server::X; let y = a::crate::server;\n\
                  use crate::error::ProtocolError;";
    assert_eq!(modules_referred_to(source, "crate::"), ["error"]);
}

#[test]
fn a_leaf_that_imports_the_protocol_is_caught() {
    let leaf = "use std::fmt;\nuse crate::protocol::close::CloseCode;\nuse crate::config::Config;";
    let refused: Vec<String> = modules_referred_to(leaf, "crate::")
        .into_iter()
        .filter(|module| !LEAVES.contains(&module.as_str()))
        .collect();
    assert_eq!(refused, ["protocol"]);
    assert!(is_top_level_module("protocol") && is_top_level_module("server"));
    assert!(!is_top_level_module("close") && !is_top_level_module("mask"));
}

//! docs/tour.md names files and functions as `path.rs::function`: each must exist, so that the
//! tour cannot drift from the code without this test failing.

use std::path::Path;

/// The spans of `text` between backticks that name a path of this repository, with the
/// function they name if any: (`src/x.rs`, Some(`f`)) for `src/x.rs::f`.
fn references(text: &str) -> Vec<(&str, Option<&str>)> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            [
                "src/",
                "tests/",
                "examples/",
                "fuzz/",
                "benches/",
                "docs/",
                "scripts/",
            ]
            .iter()
            .any(|top| span.starts_with(top))
        })
        // A command (`scripts/test.sh layers`) names its first word.
        .map(|span| span.split(' ').next().unwrap_or(span))
        .map(|span| match span.split_once(".rs::") {
            Some((file, function)) => (&span[..file.len() + 3], Some(function)),
            None => (span, None),
        })
        .collect()
}

/// What is wrong with one reference, if anything.
fn problem(root: &Path, file: &str, function: Option<&str>) -> Option<String> {
    let path = root.join(file);
    let Some(function) = function else {
        return (!exists(root, file)).then(|| format!("{file} does not exist"));
    };
    let Ok(source) = std::fs::read_to_string(&path) else {
        return Some(format!("{file} does not exist"));
    };
    let defined = [format!("fn {function}("), format!("fn {function}<")]
        .iter()
        .any(|pattern| source.contains(pattern.as_str()));
    (!defined).then(|| format!("{file} has no fn {function}"))
}

/// Whether `file` exists under `root`; `dir/prefix*suffix` matches any file of `dir` with that
/// prefix and suffix.
fn exists(root: &Path, file: &str) -> bool {
    let Some((pattern_dir, name)) = file.rsplit_once('/') else {
        return root.join(file).exists();
    };
    let Some((prefix, suffix)) = name.split_once('*') else {
        return root.join(file).exists();
    };
    let Ok(entries) = std::fs::read_dir(root.join(pattern_dir)) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        name.starts_with(prefix) && name.ends_with(suffix)
    })
}

/// Every reference of `text` that does not resolve under `root`.
fn problems(root: &Path, text: &str) -> Vec<String> {
    references(text)
        .into_iter()
        .filter_map(|(file, function)| problem(root, file, function))
        .collect()
}

#[test]
fn every_file_and_function_the_tour_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tour = std::fs::read_to_string(root.join("docs/tour.md")).expect("docs/tour.md");
    let named = references(&tour);
    assert!(
        named.iter().filter(|(_, f)| f.is_some()).count() > 50,
        "the tour names only {} functions",
        named.len()
    );
    let wrong = problems(root, &tour);
    assert!(wrong.is_empty(), "docs/tour.md: {}", wrong.join("; "));
}

#[test]
fn a_wrong_name_or_file_is_caught() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = "`src/protocol/frame.rs::parse` `src/protocol/frame.rs::no_such_fn` \
                `src/no_such_file.rs` `examples/sans_io_echo.rs` `Config` `src/lib.rs::main` \
                `tests/runtime_*.rs` `tests/nothing_*.rs` `scripts/test.sh layers`";
    assert_eq!(
        problems(root, text),
        [
            "src/protocol/frame.rs has no fn no_such_fn",
            "src/no_such_file.rs does not exist",
            "src/lib.rs has no fn main",
            "tests/nothing_*.rs does not exist",
        ]
    );
}

//! The README's Rust snippets are compiled code: every ```rust block of README.md must appear,
//! line for line (indentation aside), in `examples/readme.rs`, which CI builds and lints.

/// Non-empty lines, trimmed.
fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The README's ```rust blocks, with the line each starts on.
fn rust_blocks(readme: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (number, line) in readme.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```rust") => {
                current = Some((number + 1, String::new()));
            }
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some((_, block)) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn every_rust_snippet_of_the_readme_is_compiled_in_the_readme_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/readme.rs")).unwrap();
    let compiled = lines(&example);
    let blocks = rust_blocks(&readme);
    assert!(blocks.len() >= 3, "the README's Rust snippets: {blocks:?}");
    for (line, block) in blocks {
        let wanted = lines(&block);
        let found = compiled
            .windows(wanted.len())
            .any(|window| window == wanted.as_slice());
        assert!(
            found,
            "README.md's ```rust block at line {line} is not in examples/readme.rs (copy it \
             there, line for line, so it compiles):\n{block}"
        );
    }
}

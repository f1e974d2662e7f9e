//! Every `Cargo.toml` snippet the documentation gives a user builds: each ```toml block in the
//! README, the crates' READMEs and the guide that names one of lamina's packages becomes a
//! scratch project of its own, resolved against crates.io with this checkout standing in for the
//! unreleased lamina crates (`[patch.crates-io]`), and `cargo check`ed with code that imports
//! each lamina library it depends on. A dependency line written anywhere else than in such a
//! block, or in the old `lamina = …` form, fails the test: nothing would check it.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// The published packages, their library names, and where their sources are.
const PACKAGES: [(&str, &str, &str); 3] = [
    ("lamina-lambda", "lamina", "."),
    ("lamina-lambda-macros", "lamina_macros", "macros"),
    (
        "lamina-lambda-emulator",
        "lamina_emulator",
        "tests/emulator",
    ),
];

/// The files that tell a user what to write in `Cargo.toml`.
fn documents() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![
        root.join("README.md"),
        root.join("macros/README.md"),
        root.join("tests/emulator/README.md"),
    ];
    let mut guide: Vec<PathBuf> = std::fs::read_dir(root.join("src/guide"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    guide.sort();
    files.extend(guide);
    files
}

/// A ```toml block: the file and line it starts on, and its text.
struct Block {
    at: String,
    text: String,
}

/// The toml blocks of `text`, and the lines outside them that look like a dependency on one of
/// lamina's packages.
fn scan(file: &Path, text: &str) -> (Vec<Block>, Vec<String>) {
    let name = file.strip_prefix(repo_root()).unwrap_or(file).display();
    let mut blocks = Vec::new();
    let mut stray = Vec::new();
    let mut open: Option<(usize, String)> = None;
    let mut in_other_fence = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some((start, body)) = open.as_mut() {
            if trimmed.starts_with("```") {
                blocks.push(Block {
                    at: format!("{name}:{}", *start + 1),
                    text: std::mem::take(body),
                });
                open = None;
            } else {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        }
        if trimmed.starts_with("```") {
            if !in_other_fence && trimmed.trim_start_matches('`').trim() == "toml" {
                open = Some((n, String::new()));
            } else {
                in_other_fence = !in_other_fence;
            }
            continue;
        }
        if names_a_dependency(line) {
            stray.push(format!("{name}:{}: {}", n + 1, line.trim()));
        }
    }
    (blocks, stray)
}

/// Whether `line` reads like a `Cargo.toml` dependency on a lamina package, in any form.
fn names_a_dependency(line: &str) -> bool {
    [
        "lamina",
        "lamina-lambda",
        "lamina-lambda-macros",
        "lamina-lambda-emulator",
        "lamina-emulator",
        "lamina-macros",
    ]
    .iter()
    .any(|key| {
        line.match_indices(key).any(|(at, _)| {
            let before = line[..at].chars().next_back();
            let rest = line[at + key.len()..].trim_start();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
                && rest.starts_with('=')
                && matches!(rest[1..].trim_start().chars().next(), Some('"' | '{'))
        })
    })
}

#[test]
fn the_dependency_scanner_finds_every_form() {
    assert!(names_a_dependency(r#"lamina-lambda = "0.1""#));
    assert!(names_a_dependency(
        r#"(`lamina = { version = "0.1", features = ["compat"] }`)"#
    ));
    assert!(names_a_dependency(
        r#"lamina-lambda-emulator = { git = "…" }"#
    ));
    assert!(!names_a_dependency("let lamina = 3;"));
    assert!(!names_a_dependency(r#"my-lamina = "1""#));
    let (blocks, stray) = scan(
        Path::new("doc.md"),
        "text\n```toml\n[dependencies]\nlamina-lambda = \"0.1\"\n```\n```rust\nlet x = 1;\n```\nadd `lamina = \"0.1\"`\n",
    );
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].at, "doc.md:2");
    assert_eq!(stray, ["doc.md:9: add `lamina = \"0.1\"`"]);
}

#[test]
fn every_documented_dependency_line_builds() {
    let mut blocks = Vec::new();
    let mut stray = Vec::new();
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        let (found, lines) = scan(&file, &text);
        blocks.extend(found);
        stray.extend(lines);
    }
    assert!(
        stray.is_empty(),
        "dependency lines outside a ```toml block (put each in one, so it is checked):\n{}",
        stray.join("\n")
    );
    let old_form: Vec<&Block> = blocks
        .iter()
        .filter(|b| {
            b.text
                .lines()
                .any(|l| l.trim_start().starts_with("lamina ="))
        })
        .collect();
    assert!(
        old_form.is_empty(),
        "`lamina = …` names crates.io's other `lamina`; write `lamina-lambda = …`: {:?}",
        old_form.iter().map(|b| &b.at).collect::<Vec<_>>()
    );

    let mut seen = BTreeSet::new();
    let mut checked = 0;
    for block in &blocks {
        let uses: Vec<_> = PACKAGES
            .iter()
            .filter(|(package, _, _)| block.text.lines().any(|l| declares(l, package)))
            .collect();
        if uses.is_empty() || !seen.insert(block.text.clone()) {
            continue;
        }
        check_scratch_project(block, &uses);
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} dependency blocks found");
}

/// Whether a `Cargo.toml` line declares `package` as a dependency.
fn declares(line: &str, package: &str) -> bool {
    line.trim_start()
        .strip_prefix(package)
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

/// A scratch project made of `block`, checked with code that imports each of `uses`.
fn check_scratch_project(block: &Block, uses: &[&(&str, &str, &str)]) {
    let dir = std::env::temp_dir().join(format!(
        "lamina-doc-deps-{}-{}",
        std::process::id(),
        block.at.replace(['/', ':', '.'], "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let root = repo_root();
    let mut manifest = String::from(
        "[package]\nname = \"documented-dependencies\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n",
    );
    if !block.text.trim_start().starts_with('[') {
        manifest.push_str("[dependencies]\n");
    }
    manifest.push_str(&block.text);
    manifest.push_str("\n[patch.crates-io]\n");
    for (package, _, path) in PACKAGES {
        manifest.push_str(&format!(
            "{package} = {{ path = {:?} }}\n",
            root.join(path).display().to_string()
        ));
    }
    std::fs::write(dir.join("Cargo.toml"), &manifest).unwrap();
    // The workspace's lock file, so the scratch project resolves to the versions the workspace
    // is tested with (and reuses what is already built) wherever they satisfy the block.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let mut code = String::from("fn main() {}\n");
    for (package, library, _) in uses {
        let dev = block
            .text
            .split("[dev-dependencies]")
            .nth(1)
            .is_some_and(|dev| dev.lines().any(|l| declares(l, package)));
        if dev {
            code.push_str(&format!("#[cfg(test)]\nuse {library} as _;\n"));
        } else {
            code.push_str(&format!("use {library} as _;\n"));
        }
    }
    std::fs::write(dir.join("src/main.rs"), code).unwrap();

    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(&dir)
        .args(["check", "--quiet", "--all-targets"])
        .env(
            "CARGO_TARGET_DIR",
            cargo_lambda_target().join("documented-dependencies"),
        )
        .output()
        .expect("run cargo");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "the Cargo.toml block at {} does not build:\n{manifest}\n{}",
        block.at,
        String::from_utf8_lossy(&output.stderr)
    );
}

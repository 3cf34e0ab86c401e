//! The crate's layers, checked on its source: every `crate::` path in a module names
//! its own layer or a lower one, and `lib.rs`'s layout list names every folder. The
//! order is the one `docs/ARCHITECTURE.md` draws.

use std::path::{Path, PathBuf};

/// Bottom to top. A module may name modules of its own layer or of layers before it.
const LAYERS: &[&[&str]] = &[
    &["core"],
    &["influx"],
    &["config"],
    &["ledger"],
    &["plan"],
    &["source"],
    &["copy"],
    &["verify"],
    &["report"],
    &["commands"],
    &["cli", "logging"],
];

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&top))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a source file belongs to (`src/copy/stream.rs` -> `copy`,
/// `src/logging.rs` -> `logging`); `None` for `lib.rs` and `main.rs`.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// Every `crate::X` in the non-test part of every module names a layer at or below
/// the module's own.
#[test]
fn imports_point_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for f in &files {
        let Some(top) = top_module(&src, f) else {
            continue;
        };
        let own = layer_of(&top).unwrap_or_else(|| {
            panic!("src/{top} is in no layer: add it to LAYERS and docs/ARCHITECTURE.md")
        });
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or_default();
            for part in line.split("crate::").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                match layer_of(&name) {
                    Some(l) if l > own => wrong.push(format!(
                        "{}:{}: {top} (layer {own}) names {name} (layer {l})",
                        f.display(),
                        n + 1
                    )),
                    _ => {}
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports pointing up:\n{}",
        wrong.join("\n")
    );
}

/// `lib.rs` lists every top-level module in its `# Layout` docs, so the map a
/// newcomer reads first stays true.
#[test]
fn layout_docs_list_every_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut missing = Vec::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let Some(top) = top_module(&src, &p) else {
            continue;
        };
        if !lib.contains(&format!("[`{top}`]")) {
            missing.push(top);
        }
    }
    assert!(missing.is_empty(), "lib.rs layout docs miss: {missing:?}");
}

//! Embeds the web console (`console/`) into the binary: lists every file under it and
//! writes a table of `include_bytes!` entries (path, content type, ETag) to
//! `$OUT_DIR/console_assets.rs`, which `src/console.rs` includes. A new page file is
//! picked up without touching Rust code; a changed file rebuilds the crate.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("console");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    let mut out = String::from("/// Every console file: (URL path under the console, content type, ETag, bytes).\npub(crate) static ASSETS: &[(&str, &str, &str, &[u8])] = &[\n");
    for rel in &files {
        let full = root.join(rel);
        println!("cargo:rerun-if-changed={}", full.display());
        let bytes = std::fs::read(&full).expect("read console file");
        let Some(kind) = content_type(rel) else {
            continue;
        };
        let url = rel.replace('\\', "/");
        writeln!(
            out,
            "    ({url:?}, {kind:?}, \"\\\"{:016x}\\\"\", include_bytes!({:?})),",
            fnv1a(&bytes),
            full.display().to_string()
        )
        .expect("write");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("console_assets.rs");
    std::fs::write(dest, out).expect("write console_assets.rs");
}

/// Files under `dir`, as paths relative to `root`; directories are watched too, so an
/// added file rebuilds.
fn walk(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "README.md" {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            files.push(rel.to_string_lossy().into_owned());
        }
    }
}

/// The content type a file is served with; other files are not served.
fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit('.').next()?;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// 64-bit FNV-1a: the ETag of a file (changes when its bytes do).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

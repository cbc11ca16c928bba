//! A tmpfs mounted for a test's life, for the disk-full tests (they need root, so they
//! are `#[ignore]`d and `.ci/run` runs them with `--ignored`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a fresh temporary directory; unmounted and removed on drop.
#[derive(Debug)]
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=`, e.g. `"16m"`) on a new temporary
    /// directory; panics, saying why, if it cannot (it needs root).
    pub fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status();
        if !matches!(&status, Ok(s) if s.success()) {
            let _ = std::fs::remove_dir(&dir);
            panic!(
                "this disk-full test could not run: it mounts a tmpfs, which needs root (as \
                 in .ci/run); `mount` gave {status:?}"
            );
        }
        Tmpfs(dir)
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

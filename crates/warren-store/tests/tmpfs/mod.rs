//! A tmpfs mounted for a disk-full test and unmounted on drop (needs root, as in
//! .ci/run). Shared by tests/disk_full.rs and tests/segment_disk_full.rs; it mirrors
//! warren-testkit's, which this crate cannot use (warren-testkit depends on the broker,
//! which depends on this crate).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs; unmounted and its directory removed on drop.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` on a new temporary directory; panics if it cannot.
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

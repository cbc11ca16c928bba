//! What the soak samples from the broker's process and data directory (Linux `/proc`):
//! resident memory, open file descriptors and the disk space the store takes.

use std::path::Path;

/// Resident set size of process `pid` in bytes (`VmRSS` in `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

/// The `VmRSS:` line of a `/proc/PID/status` text, in bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Open file descriptors of process `pid` (entries of `/proc/PID/fd`).
pub fn fd_count(pid: u32) -> Option<u64> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(dir.count() as u64)
}

/// Disk space allocated to the files under `dir`, in bytes (as `du` counts it: sparse
/// or preallocated files count what they occupy). A file that vanishes while the
/// directory is walked (the store compacting) is skipped.
pub fn dir_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if meta.is_dir() {
            total += dir_bytes(&entry.path());
        } else {
            total += meta.blocks() * 512;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\twarren\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(12345 * 1024));
        assert_eq!(parse_vm_rss("Name:\tkthread\n"), None);
    }

    #[test]
    fn own_process_is_measured() {
        let me = std::process::id();
        assert!(rss_bytes(me).unwrap() > 0);
        let before = fd_count(me).unwrap();
        let f = std::fs::File::open("/proc/self/status").unwrap();
        assert!(fd_count(me).unwrap() > before.saturating_sub(1));
        drop(f);
        assert_eq!(rss_bytes(u32::MAX), None);
    }

    #[test]
    fn dir_size_counts_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), vec![1u8; 10_000]).unwrap();
        std::fs::write(dir.path().join("sub/b"), vec![1u8; 20_000]).unwrap();
        let n = dir_bytes(dir.path());
        assert!(n >= 30_000, "{n}");
        assert_eq!(dir_bytes(&dir.path().join("missing")), 0);
    }
}

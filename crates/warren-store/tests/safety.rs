//! The data directory lock, the format version, and damaged files: a store either opens
//! with every synced write intact or fails with an error naming the path.

mod common;

use std::path::Path;

use common::{open, publish, queue};
use warren_store::{SledStore, Store, StoreError, FORMAT_VERSION};

#[test]
fn a_second_opener_gets_a_clear_lock_error_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let err = SledStore::open(&common::config(dir.path())).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    assert!(text.contains("locked by another Warren process"), "{text}");
    drop(store);
    open(dir.path());
}

/// Writes `n` messages into queue `q`, synced.
fn fill(dir: &Path, n: u64) {
    let store = open(dir);
    let q = store.put_queue(&queue("q")).unwrap();
    for seq in 0..n {
        publish(
            &store,
            &[q],
            seq,
            &format!("message {seq:06} {}", "x".repeat(200)),
        );
        if seq % 100 == 0 {
            store.sync().wait().unwrap();
        }
    }
    store.sync().wait().unwrap();
}

/// Opens `dir` and, if that works, checks that all `n` messages are there.
fn opens_intact_or_fails_clearly(dir: &Path, n: u64, what: &str) -> Result<(), String> {
    match SledStore::open(&common::config(dir)) {
        Ok(store) => {
            let q = common::queue_id(&store, "q");
            let got = common::entries(&store, q);
            if got.len() as u64 != n {
                return Err(format!("{what}: opened with {} of {n} entries", got.len()));
            }
            for e in got {
                match store.get_message(e.record.message_id) {
                    Ok(Some(m))
                        if m.body
                            .starts_with(format!("message {:06}", e.record.seq).as_bytes()) => {}
                    Ok(other) => {
                        return Err(format!("{what}: seq {} read {other:?}", e.record.seq))
                    }
                    Err(err) => {
                        // A read error is loud, not silent: it must name the file.
                        let text = err.to_string();
                        if !text.contains(&dir.display().to_string()) {
                            return Err(format!("{what}: read error without path: {text}"));
                        }
                    }
                }
            }
            Ok(())
        }
        Err(err) => {
            let text = err.to_string();
            if text.contains(&dir.display().to_string()) {
                Ok(())
            } else {
                Err(format!("{what}: error does not name the store: {text}"))
            }
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn truncated_data_file_never_opens_with_missing_messages() {
    let pristine = tempfile::tempdir().unwrap();
    let n = 2_000;
    fill(pristine.path(), n);
    let len = std::fs::metadata(pristine.path().join("sled/db"))
        .unwrap()
        .len();
    let mut failures = Vec::new();
    for fraction in [0.0, 0.1, 0.5, 0.9, 0.99] {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(pristine.path(), dir.path());
        let cut = (len as f64 * fraction) as u64;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("sled/db"))
            .unwrap();
        file.set_len(cut).unwrap();
        drop(file);
        if let Err(e) =
            opens_intact_or_fails_clearly(dir.path(), n, &format!("cut to {cut} of {len}"))
        {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn corrupted_bytes_never_open_with_missing_or_wrong_messages() {
    let pristine = tempfile::tempdir().unwrap();
    let n = 2_000;
    fill(pristine.path(), n);
    let len = std::fs::metadata(pristine.path().join("sled/db"))
        .unwrap()
        .len();
    let mut failures = Vec::new();
    for i in 1..=12u64 {
        let at = len * i / 13;
        let dir = tempfile::tempdir().unwrap();
        copy_dir(pristine.path(), dir.path());
        let path = dir.path().join("sled/db");
        let mut bytes = std::fs::read(&path).unwrap();
        for b in &mut bytes[at as usize..(at as usize + 64).min(len as usize)] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, bytes).unwrap();
        if let Err(e) = opens_intact_or_fails_clearly(
            dir.path(),
            n,
            &format!("64 bytes flipped at {at} of {len}"),
        ) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_deleted_database_with_a_sync_marker_is_reported_as_data_loss() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 10);
    std::fs::remove_dir_all(dir.path().join("sled")).unwrap();
    let err = SledStore::open(&common::config(dir.path())).unwrap_err();
    assert!(matches!(err, StoreError::DataLoss { .. }), "{err:?}");
    assert!(err.to_string().contains("SYNCED"), "{err}");
}

/// Opens a sled database directly. sled's own I/O threads may hold the file lock for a
/// moment after the store that used it was dropped, so a lock conflict is retried
/// (for up to 10 s) rather than failing the test under load.
fn open_raw_sled(path: &Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            // sled reports the conflict either as WouldBlock or wrapped in an `Other`
            // error whose text names the lock.
            Err(sled::Error::Io(e))
                if (e.kind() == std::io::ErrorKind::WouldBlock
                    || e.to_string().contains("could not acquire lock"))
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("sled opens {}: {e}", path.display()),
        }
    }
}

#[test]
fn another_format_version_or_foreign_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 1);
    {
        let db = open_raw_sled(&dir.path().join("sled"));
        db.insert("warren.format_version", &99u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let err = SledStore::open(&common::config(dir.path())).unwrap_err();
    match err {
        StoreError::UnsupportedFormat {
            found, supported, ..
        } => {
            assert_eq!((found, supported), (99, FORMAT_VERSION));
        }
        other => panic!("{other:?}"),
    }

    let foreign = tempfile::tempdir().unwrap();
    {
        let db = sled::open(foreign.path().join("sled")).unwrap();
        db.insert("someone else's", "data").unwrap();
        db.flush().unwrap();
    }
    let err = SledStore::open(&common::config(foreign.path())).unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedFormat { found: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn compacted_directories_are_found_through_current_and_leftovers_are_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 50);
    {
        let store = open(dir.path());
        store.compact().unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("CURRENT")).unwrap(),
        "sled-1"
    );
    // A half-built compaction (killed before the switch) and an operator's own copy.
    std::fs::create_dir_all(dir.path().join("sled-2")).unwrap();
    std::fs::write(dir.path().join("sled-2/db"), b"half written").unwrap();
    std::fs::create_dir_all(dir.path().join("sled-backup")).unwrap();
    assert!(opens_intact_or_fails_clearly(dir.path(), 50, "after compaction").is_ok());
    {
        let store = open(dir.path());
        assert_eq!(
            common::entries(&store, common::queue_id(&store, "q")).len(),
            50
        );
    }
    assert!(!dir.path().join("sled-2").exists(), "leftover removed");
    assert!(dir.path().join("sled-backup").exists(), "not ours: kept");
    assert!(
        !dir.path().join("sled").exists(),
        "the compacted database removed"
    );

    std::fs::remove_file(dir.path().join("CURRENT")).unwrap();
    let err = SledStore::open(&common::config(dir.path())).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("CURRENT"), "{err}");
}

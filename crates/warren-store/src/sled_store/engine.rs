//! One open sled database with its trees: what a compaction replaces wholesale.

use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use super::StoreConfig;
use crate::error::{StoreError, StoreResult};

/// Key (in the default tree) of the offset added to sled's id generator: a compacted
/// database starts its generator at zero again, so ids continue from here.
pub(super) const ID_BASE_KEY: &[u8] = b"warren.id_base";

/// The trees of the store (the default tree holds the store's own metadata).
pub(crate) struct Trees {
    pub exchanges: sled::Tree,
    pub queues: sled::Tree,
    pub bindings: sled::Tree,
    pub messages: sled::Tree,
    pub entries: sled::Tree,
    pub delayed: sled::Tree,
    pub definitions: sled::Tree,
    /// Forwards of records moved by segment compaction (`forward.rs`).
    pub moved: sled::Tree,
}

/// Names of the trees, in the order compaction copies them.
pub(super) const TREE_NAMES: [&str; 8] = [
    "exchanges",
    "queues",
    "bindings",
    "messages",
    "entries",
    "delayed",
    "definitions",
    "moved",
];

/// An open sled database.
pub(crate) struct Engine {
    pub db: sled::Db,
    pub trees: Trees,
    pub id_base: u64,
    /// The data file, for `fdatasync` after sled's own flush.
    pub data_file: Option<File>,
    /// The sled directory.
    pub path: PathBuf,
}

impl Engine {
    /// Opens the sled database in `path`.
    pub(super) fn open(config: &StoreConfig, path: &Path) -> StoreResult<Engine> {
        Self::with_db(config, path, open_sled(config, path)?)
    }

    /// Wraps an open database.
    pub(super) fn with_db(config: &StoreConfig, path: &Path, db: sled::Db) -> StoreResult<Engine> {
        let err = |e| StoreError::from_sled(path, e);
        let tree = |name: &str| db.open_tree(name).map_err(err);
        let trees = Trees {
            exchanges: tree(TREE_NAMES[0])?,
            queues: tree(TREE_NAMES[1])?,
            bindings: tree(TREE_NAMES[2])?,
            messages: tree(TREE_NAMES[3])?,
            entries: tree(TREE_NAMES[4])?,
            delayed: tree(TREE_NAMES[5])?,
            definitions: tree(TREE_NAMES[6])?,
            moved: tree(TREE_NAMES[7])?,
        };
        let id_base = match db.get(ID_BASE_KEY).map_err(err)? {
            Some(v) => {
                u64::from_be_bytes(v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                    path: path.join("db"),
                    detail: "id base record".into(),
                })?)
            }
            None => 0,
        };
        let data_file = if config.fdatasync {
            let file = File::open(path.join("db")).map_err(|source| StoreError::Io {
                path: path.join("db"),
                source,
            })?;
            Some(file)
        } else {
            None
        };
        Ok(Engine {
            db,
            trees,
            id_base,
            data_file,
            path: path.to_path_buf(),
        })
    }

    /// A fresh id (messages, queues), unique across restarts and compactions.
    pub(crate) fn next_id(&self) -> StoreResult<u64> {
        let n = self.db.generate_id().map_err(|e| self.sled_err(e))?;
        Ok(self.id_base + n)
    }

    /// Maps a sled error, naming this database.
    pub(crate) fn sled_err(&self, err: sled::Error) -> StoreError {
        StoreError::from_sled(&self.path, err)
    }

    /// A corruption error naming this database's data file.
    pub(crate) fn corrupt(&self, what: &str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            path: self.path.join("db"),
            detail: format!("{what}: {detail}"),
        }
    }
}

/// Opens sled, turning its errors (and panics on malformed files) into errors naming
/// the file.
pub(super) fn open_sled(config: &StoreConfig, path: &Path) -> StoreResult<sled::Db> {
    let sled_config = sled::Config::new()
        .path(path)
        .cache_capacity(config.cache_capacity_bytes)
        .flush_every_ms(config.background_flush_ms)
        .mode(sled::Mode::LowSpace);
    // Our directory lock already excludes other processes, so sled's own lock can
    // only be held by a database of ours that is still closing (sled finishes its
    // background writes on a thread pool): wait for that briefly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let opened = loop {
        let attempt = catch_unwind(AssertUnwindSafe(|| sled_config.open()));
        match &attempt {
            Ok(Err(sled::Error::Io(e)))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            _ => break attempt,
        }
    };
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(match StoreError::from_sled(path, e) {
            StoreError::Engine { path, detail } => StoreError::Corrupt {
                path,
                detail: format!("cannot open: {detail}"),
            },
            other => other,
        }),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown".into());
            Err(StoreError::Corrupt {
                path: path.join("db"),
                detail: format!("sled failed while recovering it: {detail}"),
            })
        }
    }
}

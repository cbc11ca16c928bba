//! Typed errors of the store. The server maps them to AMQP: an error while writing or
//! syncing a persistent publish becomes a `basic.nack` (or 541 INTERNAL_ERROR), an error
//! at open stops the broker with the message below (every variant names its path).

use std::path::PathBuf;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (or another store in this process) holds the data directory.
    #[error("data directory {path} is locked by another Warren process (lock file {lock_file}): {source}")]
    Locked {
        /// The data directory.
        path: PathBuf,
        /// The lock file that could not be locked.
        lock_file: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The store's files are corrupt or truncated: stored data cannot be trusted.
    #[error("store at {path} is corrupt: {detail}")]
    Corrupt {
        /// The file or directory found corrupt.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The store recovered fewer synced writes than it had confirmed before it stopped:
    /// part of the log is missing (truncated or damaged files).
    #[error(
        "store at {path} lost synced data: it recovered sync generation {recovered} but \
         generation {expected} had been confirmed (recorded in {marker}); the data files \
         are truncated or damaged"
    )]
    DataLoss {
        /// The sled data directory.
        path: PathBuf,
        /// The marker file holding the last confirmed sync generation.
        marker: PathBuf,
        /// Generation found in the recovered data.
        recovered: u64,
        /// Generation confirmed before the stop.
        expected: u64,
    },
    /// The directory holds a store of another format version (or no Warren store at all).
    #[error("store at {path} has format version {found}, this Warren reads version {supported}")]
    UnsupportedFormat {
        /// The data directory.
        path: PathBuf,
        /// The version found (0: none recorded).
        found: u32,
        /// The version this code reads and writes.
        supported: u32,
    },
    /// A file-system error (disk full, permissions, I/O error).
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error (`ErrorKind::StorageFull` and friends).
        source: std::io::Error,
    },
    /// An error reported by the storage engine.
    #[error("storage engine error in {path}: {detail}")]
    Engine {
        /// The sled data directory.
        path: PathBuf,
        /// sled's description.
        detail: String,
    },
    /// An earlier sync failed; the store accepts no more writes as durable until it is
    /// reopened (sled stops after an I/O error).
    #[error("store at {path} failed an earlier sync and is read-only until restart: {reason}")]
    Failed {
        /// The data directory.
        path: PathBuf,
        /// The first failure.
        reason: String,
    },
    /// A queue id that is not (or no longer) a stored queue.
    #[error("no stored queue with id {0}")]
    UnknownQueue(u64),
    /// An entry was enqueued for a message id that was never stored (or was deleted).
    #[error("no stored message with id {0}")]
    UnknownMessage(u64),
    /// The store has been closed.
    #[error("store is closed")]
    Closed,
}

impl StoreError {
    /// Whether this error means the disk is full (the server nacks or blocks publishers).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            StoreError::Engine { detail, .. } | StoreError::Failed { reason: detail, .. } => {
                detail.contains("No space left")
            }
            _ => false,
        }
    }

    /// Maps a sled error, naming `path` (the sled directory).
    pub(crate) fn from_sled(path: &std::path::Path, err: sled::Error) -> StoreError {
        match err {
            sled::Error::Io(source) => StoreError::Io {
                path: path.to_path_buf(),
                source,
            },
            sled::Error::Corruption { at, .. } => StoreError::Corrupt {
                path: path.join("db"),
                detail: match at {
                    Some(ptr) => format!("sled found a corrupt record at {ptr:?}"),
                    None => "sled found a corrupt record".to_string(),
                },
            },
            other => StoreError::Engine {
                path: path.to_path_buf(),
                detail: other.to_string(),
            },
        }
    }
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

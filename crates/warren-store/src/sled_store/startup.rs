//! Opening a store: lock, version and data-loss checks, then one pass over the entries
//! that rebuilds reference counts and cleans what interrupted operations left behind.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use parking_lot::RwLock;

use super::flush::{Marker, SledFlusher, GENERATION_KEY};
use super::{SledStore, StoreConfig, Trees, FORMAT_VERSION};
use crate::codec;
use crate::commit::GroupCommit;
use crate::error::{StoreError, StoreResult};
use crate::keys;
use crate::lock::DirLock;
use crate::records::Repairs;
use crate::refcount::RefCounts;

const FORMAT_KEY: &[u8] = b"warren.format_version";

pub(super) fn open(config: &StoreConfig) -> StoreResult<SledStore> {
    let path = config.path.clone();
    std::fs::create_dir_all(&path).map_err(|source| StoreError::Io {
        path: path.clone(),
        source,
    })?;
    let lock = DirLock::acquire(&path)?;
    let marker = Marker::open(&path).map_err(|source| StoreError::Io {
        path: path.join(super::flush::SYNCED_FILE),
        source,
    })?;
    let confirmed = match marker.read() {
        Ok(Some(generation)) => generation,
        Ok(None) => {
            tracing::warn!(file = %marker.path.display(), "unreadable sync marker: data-loss check skipped");
            0
        }
        Err(source) => {
            return Err(StoreError::Io {
                path: marker.path.clone(),
                source,
            })
        }
    };

    let sled_path = path.join("sled");
    let db = open_sled(config, &sled_path)?;
    let sled_err = |e| StoreError::from_sled(&sled_path, e);
    check_format(&db, &path, &sled_path)?;
    let recovered = match db.get(GENERATION_KEY).map_err(sled_err)? {
        Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
            path: sled_path.join("db"),
            detail: "sync generation record".into(),
        })?),
        None => 0,
    };
    if recovered < confirmed {
        return Err(StoreError::DataLoss {
            path: sled_path.clone(),
            marker: marker.path.clone(),
            recovered,
            expected: confirmed,
        });
    }

    let tree = |name: &str| db.open_tree(name).map_err(sled_err);
    let trees = Trees {
        exchanges: tree("exchanges")?,
        queues: tree("queues")?,
        bindings: tree("bindings")?,
        messages: tree("messages")?,
        entries: tree("entries")?,
        delayed: tree("delayed")?,
    };
    let refs = RefCounts::default();
    let corrupt = |what: &str, detail: String| StoreError::Corrupt {
        path: sled_path.join("db"),
        detail: format!("{what}: {detail}"),
    };
    let (live, repairs) = rebuild(&trees, &refs, &sled_path, &corrupt)?;

    let data_file = if config.fdatasync {
        let file = std::fs::File::open(sled_path.join("db")).map_err(|source| StoreError::Io {
            path: sled_path.join("db"),
            source,
        })?;
        Some(file)
    } else {
        None
    };
    let flusher = SledFlusher {
        db: db.clone(),
        data_file,
        marker,
    };
    let commit = GroupCommit::start(path.clone(), recovered, flusher)?;
    Ok(SledStore {
        path,
        sled_path,
        db,
        trees,
        refs,
        live: RwLock::new(live),
        repairs,
        base_generation: recovered,
        commit,
        _lock: lock,
    })
}

/// Opens sled, turning its errors (and panics on malformed files) into errors naming
/// the file.
fn open_sled(config: &StoreConfig, sled_path: &Path) -> StoreResult<sled::Db> {
    let sled_config = sled::Config::new()
        .path(sled_path)
        .cache_capacity(config.cache_capacity_bytes)
        .flush_every_ms(config.background_flush_ms)
        .mode(sled::Mode::LowSpace);
    match catch_unwind(AssertUnwindSafe(|| sled_config.open())) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(match StoreError::from_sled(sled_path, e) {
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
                path: sled_path.join("db"),
                detail: format!("sled failed while recovering it: {detail}"),
            })
        }
    }
}

/// Checks (or, on a new store, writes) the format version.
fn check_format(db: &sled::Db, path: &Path, sled_path: &Path) -> StoreResult<()> {
    let sled_err = |e| StoreError::from_sled(sled_path, e);
    match db.get(FORMAT_KEY).map_err(sled_err)? {
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .unwrap_or(0);
            if found != FORMAT_VERSION {
                return Err(StoreError::UnsupportedFormat {
                    path: path.to_path_buf(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
        }
        None => {
            let has_data = !db.is_empty()
                || db
                    .tree_names()
                    .iter()
                    .filter(|n| n.as_ref() != b"__sled__default")
                    .any(|n| db.open_tree(n).map(|t| !t.is_empty()).unwrap_or(true));
            if has_data {
                return Err(StoreError::UnsupportedFormat {
                    path: path.to_path_buf(),
                    found: 0,
                    supported: FORMAT_VERSION,
                });
            }
            db.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())
                .map_err(sled_err)?;
            db.flush().map_err(sled_err)?;
        }
    }
    Ok(())
}

type Corrupt<'a> = &'a dyn Fn(&str, String) -> StoreError;

/// Rebuilds the queue map and reference counts, deleting entries of deleted queues,
/// messages no entry references and entries whose message is missing.
fn rebuild(
    trees: &Trees,
    refs: &RefCounts,
    sled_path: &Path,
    corrupt: Corrupt<'_>,
) -> StoreResult<(HashMap<u64, Vec<u8>>, Repairs)> {
    let sled_err = |e| StoreError::from_sled(sled_path, e);
    let mut repairs = Repairs::default();
    let mut live = HashMap::new();
    for item in trees.queues.iter() {
        let (k, v) = item.map_err(sled_err)?;
        let (id, _) = codec::decode_queue(&v).map_err(|e| corrupt("queue record", e.0))?;
        live.insert(id, k.to_vec());
    }

    let mut ids = Vec::with_capacity(trees.entries.len());
    let mut orphan_entries = Vec::new();
    for item in trees.entries.iter() {
        let (k, v) = item.map_err(sled_err)?;
        let (queue, _) = keys::split_entry(&k)
            .ok_or_else(|| corrupt("entry key", format!("{} bytes", k.len())))?;
        if !live.contains_key(&queue) {
            orphan_entries.push(k);
            continue;
        }
        ids.push(codec::entry_message_id(&v).map_err(|e| corrupt("entry", e.0))?);
    }
    for k in &orphan_entries {
        trees.entries.remove(k).map_err(sled_err)?;
    }
    repairs.orphan_entries = orphan_entries.len() as u64;

    ids.sort_unstable();
    let mut next = 0;
    let mut orphans = Vec::new();
    let mut dangling = HashSet::new();
    for item in trees.messages.iter().keys() {
        let k = item.map_err(sled_err)?;
        let id = keys::split_message(&k)
            .ok_or_else(|| corrupt("message key", format!("{} bytes", k.len())))?;
        while next < ids.len() && ids[next] < id {
            dangling.insert(ids[next]);
            next += 1;
        }
        let start = next;
        while next < ids.len() && ids[next] == id {
            next += 1;
        }
        match next - start {
            0 => orphans.push(id),
            n => refs.recovered(id, u32::try_from(n).unwrap_or(u32::MAX)),
        }
    }
    dangling.extend(ids[next..].iter().copied());
    drop(ids);
    for id in &orphans {
        trees
            .messages
            .remove(keys::message(*id))
            .map_err(sled_err)?;
    }
    repairs.orphan_messages = orphans.len() as u64;

    if !dangling.is_empty() {
        for item in trees.entries.iter() {
            let (k, v) = item.map_err(sled_err)?;
            let id = codec::entry_message_id(&v).map_err(|e| corrupt("entry", e.0))?;
            if dangling.contains(&id) {
                tracing::error!(
                    store = %sled_path.display(),
                    message = id,
                    "queue entry without its message: removed"
                );
                trees.entries.remove(&k).map_err(sled_err)?;
                repairs.dangling_entries += 1;
            }
        }
    }
    if repairs != Repairs::default() {
        tracing::info!(store = %sled_path.display(), ?repairs, "cleaned leftovers of interrupted operations");
    }
    Ok((live, repairs))
}

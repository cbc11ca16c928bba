//! Opening a store: lock, version and data-loss checks, the segment log (its torn tail
//! truncated), then one pass over the entries that rebuilds reference counts and the
//! segments' live counts from the positions the entries carry, and cleans what
//! interrupted operations left behind. No body is read.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::bodies::{record_bytes, Bodies, SegLive};
use super::compact::{self, Maintenance, FIRST_DIR};
use super::engine::Engine;
use super::flush::{decode_log_end, Marker, SledFlusher, GENERATION_KEY, LOG_END_KEY, SYNCED_FILE};
use super::pending::Pending;
use super::sweep::{self, SweepJob};
use super::{Shared, SledStore, StoreConfig, FORMAT_VERSION};
use crate::codec;
use crate::commit::GroupCommit;
use crate::error::{StoreError, StoreResult};
use crate::keys;
use crate::lock::DirLock;
use crate::records::{EntryStats, OpenTimings, Repairs};
use crate::refcount::RefCounts;

const FORMAT_KEY: &[u8] = b"warren.format_version";

/// The directory of the stream queues' logs, in the data directory.
pub(super) const STREAMS_DIR: &str = "streams";

pub(super) fn open(config: &StoreConfig) -> StoreResult<SledStore> {
    let path = config.path.clone();
    std::fs::create_dir_all(&path).map_err(|source| StoreError::Io {
        path: path.clone(),
        source,
    })?;
    let lock = DirLock::acquire(&path)?;
    let marker = Marker::open(&path).map_err(|source| StoreError::Io {
        path: path.join(SYNCED_FILE),
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

    let current = compact::current_dir(&path)?;
    let sled_path = path.join(&current);
    if current == FIRST_DIR && !sled_path.exists() && has_compacted_dirs(&path) {
        return Err(StoreError::Corrupt {
            path: path.join(compact::CURRENT_FILE),
            detail: "missing, but compacted sled directories exist".into(),
        });
    }
    let began = Instant::now();
    let engine = Engine::open(config, &sled_path)?;
    let mut timings = OpenTimings {
        engine: began.elapsed(),
        ..OpenTimings::default()
    };
    check_format(&engine, &path)?;
    let recovered = match engine
        .db
        .get(GENERATION_KEY)
        .map_err(|e| engine.sled_err(e))?
    {
        Some(v) => u64::from_be_bytes(
            v.as_ref()
                .try_into()
                .map_err(|_| engine.corrupt("sync generation record", "not 8 bytes"))?,
        ),
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

    let bodies = Bodies::open(&path, config.segment_bytes, config.fdatasync)?;
    if let Some(v) = engine.db.get(LOG_END_KEY).map_err(|e| engine.sled_err(e))? {
        let end = decode_log_end(&v)
            .ok_or_else(|| engine.corrupt("synced segment log end", "not 12 bytes"))?;
        bodies.check_synced(end)?;
    }
    bodies.set_forwards(super::forward::Forwards::load(&engine)?);
    let refs = RefCounts::default();
    let pending = Pending::default();
    let Rebuilt {
        live,
        mut repairs,
        live_bytes,
        stats,
        sweep: job,
    } = rebuild(&engine, &refs, &bodies, &pending, &mut timings)?;
    compact::remove_stale_dirs(&path, &current);

    let shared = Arc::new(Shared {
        path: path.clone(),
        config: config.clone(),
        engine: RwLock::new(engine),
        live_bytes: AtomicU64::new(live_bytes),
        compactions: AtomicU64::new(0),
        refs,
        bodies,
        index: super::index::LazyIndex::new(0),
        pending,
        sweep_drops: sweep::SweepDrops::recording(),
        streams: crate::stream::registry::StreamRegistry::new(path.join(STREAMS_DIR)),
        flushes_begun: AtomicU64::new(0),
        flushes_done: AtomicU64::new(0),
        segment_compactor: parking_lot::Mutex::new(Default::default()),
    });
    let flusher = SledFlusher {
        shared: shared.clone(),
        marker,
    };
    let idle_apply = Duration::from_millis(config.background_flush_ms.unwrap_or(200).max(1));
    let commit = GroupCommit::start(path.clone(), recovered, flusher, Some(idle_apply))?;
    // The messages pass runs on the compaction thread (before its first compaction
    // check), or here when there is none.
    let maintenance = match config.compaction.check_every {
        Some(every) => Some(Maintenance::start(shared.clone(), every, Some(job))?),
        None => {
            let report = sweep::sweep(&shared, job, || false)?;
            repairs.orphan_messages = report.orphan_messages;
            repairs.dangling_entries = report.dangling_entries;
            timings.messages_pass = report.elapsed;
            None
        }
    };
    Ok(SledStore {
        shared,
        live: RwLock::new(live),
        opened_stats: parking_lot::Mutex::new(Some(stats)),
        repairs,
        timings,
        base_generation: recovered,
        maintenance,
        commit,
        _lock: lock,
    })
}

fn has_compacted_dirs(data_dir: &Path) -> bool {
    std::fs::read_dir(data_dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("sled-") && e.path().is_dir())
        })
        .unwrap_or(false)
}

/// Checks (or, on a new store, writes) the format version.
fn check_format(engine: &Engine, path: &Path) -> StoreResult<()> {
    let db = &engine.db;
    let sled_err = |e| engine.sled_err(e);
    match db.get(FORMAT_KEY).map_err(sled_err)? {
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .unwrap_or(0);
            if found == 2 {
                // Version 3 only adds the `moved` tree (segment compaction), empty in a
                // version-2 directory; an older Warren must not open it once it is used.
                db.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())
                    .map_err(sled_err)?;
                db.flush().map_err(sled_err)?;
            } else if found != FORMAT_VERSION {
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

/// Rebuilds the queue map, reference counts and segment live counts, deleting entries
/// of deleted queues and entries whose message record lies past the end of the
/// recovered segment log (its body never reached the disk: never confirmed). Returns
/// the bytes of live entries too.
fn rebuild(
    e: &Engine,
    refs: &RefCounts,
    bodies: &Bodies,
    pending: &Pending,
    timings: &mut OpenTimings,
) -> StoreResult<Rebuilt> {
    let began = Instant::now();
    let sled_err = |err| e.sled_err(err);
    let mut repairs = Repairs::default();
    let mut live = HashMap::new();
    for item in e.trees.queues.iter() {
        let (k, v) = item.map_err(sled_err)?;
        let (id, _) = codec::decode_queue(&v).map_err(|err| e.corrupt("queue record", err))?;
        live.insert(id, k.to_vec());
    }

    let mut live_bytes = 0u64;
    let mut stats: HashMap<u64, EntryStats> = HashMap::new();
    // Messages at or above the floor may not be in `messages` yet (see `index.rs`).
    let floor = super::index::recorded_floor(e)?;
    let mut unindexed = Vec::new();
    // (message id, segment, record length) of every entry, positions resolved through
    // the forwards of compacted segments.
    let mut ids: Vec<(u64, u32, u32)> = Vec::with_capacity(e.trees.entries.len());
    let forwards = bodies.forwards().read();
    let mut used_forwards = HashSet::new();
    let mut orphan_entries = Vec::new();
    let mut lost = Vec::new();
    for item in e.trees.entries.iter() {
        let (k, v) = item.map_err(sled_err)?;
        let (queue, seq) = keys::split_entry(&k)
            .ok_or_else(|| e.corrupt("entry key", format!("{} bytes", k.len())))?;
        if !live.contains_key(&queue) {
            orphan_entries.push(k);
            continue;
        }
        let (entry, _, stored_at) =
            codec::decode_entry(seq, &v).map_err(|err| e.corrupt("entry", err))?;
        let at = if forwards.is_empty() {
            stored_at
        } else {
            forwards.hops(stored_at, &mut used_forwards);
            forwards.resolve(stored_at)
        };
        if !bodies.holds(at) {
            lost.push(k);
            continue;
        }
        ids.push((entry.message_id, at.segment, at.len));
        if entry.message_id >= floor {
            unindexed.push((entry.message_id, stored_at));
        }
        stats.entry(queue).or_default().add(seq, entry.body_len);
        live_bytes += (k.len() + v.len()) as u64;
    }
    drop(forwards);
    // Forwards no entry reaches any more (their message was deleted, the deletion of
    // the forward was not made durable), and retired segments left without any.
    let stale = bodies.forwards().write().prune(&used_forwards);
    for k in stale {
        e.trees.moved.remove(k).map_err(sled_err)?;
    }
    for k in orphan_entries.iter().chain(&lost) {
        e.trees.entries.remove(k).map_err(sled_err)?;
    }
    for (id, at) in unindexed {
        e.trees
            .messages
            .insert(keys::message(id), &codec::encode_position(at))
            .map_err(sled_err)?;
    }
    repairs.orphan_entries = orphan_entries.len() as u64;
    repairs.lost_bodies = lost.len() as u64;
    if !lost.is_empty() {
        tracing::warn!(store = %e.path.display(), entries = lost.len(), "queue entries whose message body is past the end of the recovered segment log (written, never confirmed): deleted");
    }
    ids.sort_unstable();
    timings.entries_pass = began.elapsed();

    // Reference counts and live counts come from the entries alone (a count of one is
    // implicit); the messages pass (orphans, dangling entries, live bytes) runs after
    // opening.
    let mut segments: HashMap<u32, SegLive> = HashMap::new();
    let mut referenced = Vec::with_capacity(ids.len());
    let mut at = 0;
    while at < ids.len() {
        let (id, segment, len) = ids[at];
        let n = ids[at..].iter().take_while(|&&(x, _, _)| x == id).count();
        refs.recovered(id, u32::try_from(n).unwrap_or(u32::MAX));
        let s = segments.entry(segment).or_default();
        s.count += 1;
        s.bytes += record_bytes(crate::segment::Position {
            segment,
            offset: 0,
            len,
        });
        referenced.extend(std::iter::repeat_n(id, n));
        at += n;
    }
    drop(ids);
    bodies.seed(segments);
    let top_message = match e.trees.messages.last().map_err(sled_err)? {
        Some((k, _)) => keys::split_message(&k)
            .ok_or_else(|| e.corrupt("message key", format!("{} bytes", k.len())))?,
        None => 0,
    };
    // Each live queue's highest seq in sled (entries of deleted queues are gone).
    let top_seqs = stats.iter().map(|(q, s)| (*q, s.last_seq)).collect();
    pending.seed(top_seqs);
    if repairs != Repairs::default() {
        tracing::info!(store = %e.path.display(), ?repairs, "cleaned leftovers of interrupted operations");
    }
    Ok(Rebuilt {
        live,
        repairs,
        live_bytes,
        stats,
        sweep: SweepJob {
            referenced,
            below: top_message.saturating_add(1),
        },
    })
}

/// What the open-time pass found.
struct Rebuilt {
    /// Stored queues: id -> key.
    live: HashMap<u64, Vec<u8>>,
    repairs: Repairs,
    /// Bytes of live messages and entries.
    live_bytes: u64,
    /// Each queue's entries, counted.
    stats: HashMap<u64, EntryStats>,
    /// The messages pass, to run once open.
    sweep: SweepJob,
}

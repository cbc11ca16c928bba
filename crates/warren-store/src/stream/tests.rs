use super::*;

fn log(segment_bytes: u64) -> StreamLog {
    StreamLog::in_memory(segment_bytes)
}

#[test]
fn offsets_count_from_zero_and_read_back_in_order() {
    let l = log(1 << 20);
    for i in 0..10u64 {
        let (offset, _) = l
            .append(1_000 * i, &[b"m", i.to_string().as_bytes()])
            .unwrap();
        assert_eq!(offset, i);
    }
    let got = l.read_from(3, 100, usize::MAX).unwrap();
    assert_eq!(got.len(), 7);
    assert_eq!(got[0].offset, 3);
    assert_eq!(&got[0].payload[..], b"m3");
    assert_eq!(got[0].timestamp_ms, 3_000);
    assert_eq!(l.read_from(10, 100, usize::MAX).unwrap().len(), 0);
    assert_eq!(
        l.read_from(2, 3, usize::MAX).unwrap().len(),
        3,
        "bounded by count"
    );
    assert_eq!(l.read_from(2, 100, 1).unwrap().len(), 1, "bounded by bytes");
}

#[test]
fn timestamps_find_the_first_record_at_or_after() {
    let l = log(64);
    for i in 0..20u64 {
        l.append(10_000 + 1_000 * i, &[b"x"]).unwrap();
    }
    assert!(l.segment_count() > 2, "small segments roll");
    assert_eq!(l.offset_at_time(0), 0);
    assert_eq!(l.offset_at_time(15_000), 5);
    assert_eq!(
        l.offset_at_time(15_500),
        5,
        "to the second, as AMQP timestamps are"
    );
    assert_eq!(l.offset_at_time(16_000), 6);
    assert_eq!(
        l.offset_at_time(99_000),
        20,
        "after everything: the next offset"
    );
}

#[test]
fn retention_deletes_whole_segments_oldest_first_never_the_active_one() {
    let l = log(100);
    for i in 0..30u64 {
        l.append(i * 1_000, &[&[0u8; 40]]).unwrap();
    }
    let segments = l.segment_count();
    assert!(segments >= 10, "{segments} segments");
    // By age: segments whose newest record is older than 10 s at t = 30 s.
    let t = l.apply_retention(30_000, Some(10_000), None).unwrap();
    assert!(t.segments > 0);
    let first = l.first_offset();
    assert!((18..=20).contains(&first), "first retained {first}");
    assert_eq!(l.len(), 30 - first);
    let read = l.read_from(0, 100, usize::MAX).unwrap();
    assert_eq!(
        read[0].offset, first,
        "a read before the start begins at the first retained"
    );
    // By size: down to one segment's worth.
    l.apply_retention(30_000, None, Some(1)).unwrap();
    assert_eq!(l.segment_count(), 1, "the active segment stays");
    assert_eq!(l.next_offset(), 30);
    let (offset, _) = l.append(31_000, &[b"y"]).unwrap();
    assert_eq!(offset, 30, "offsets go on after trimming");
}

#[test]
fn reopening_rebuilds_the_index_and_keeps_offsets() {
    let backend = Box::new(backend::MemorySegments::new(64));
    let shared: &'static backend::MemorySegments = Box::leak(backend);
    struct Borrowed(&'static backend::MemorySegments);
    impl SegmentBackend for Borrowed {
        fn append(&self, parts: &[&[u8]]) -> StoreResult<Position> {
            self.0.append(parts)
        }
        fn read(&self, pos: Position) -> StoreResult<Bytes> {
            self.0.read(pos)
        }
        fn scan_all(&self, segment: u32) -> StoreResult<Vec<(Position, Bytes)>> {
            self.0.scan_all(segment)
        }
        fn segments(&self) -> Vec<u32> {
            self.0.segments()
        }
        fn delete_segment(&self, segment: u32) -> StoreResult<()> {
            self.0.delete_segment(segment)
        }
        fn segment_bytes(&self, segment: u32) -> u64 {
            self.0.segment_bytes(segment)
        }
        fn write_pending(&self) -> StoreResult<()> {
            Ok(())
        }
        fn sync(&self) -> StoreResult<()> {
            Ok(())
        }
    }
    let l = StreamLog::with_backend(Box::new(Borrowed(shared))).unwrap();
    for i in 0..25u64 {
        l.append(i, &[b"abc"]).unwrap();
    }
    l.apply_retention(0, None, Some(100)).unwrap();
    let first = l.first_offset();
    assert!(first > 0);
    drop(l);
    let again = StreamLog::with_backend(Box::new(Borrowed(shared))).unwrap();
    assert_eq!(again.first_offset(), first);
    assert_eq!(again.next_offset(), 25);
    assert_eq!(again.append(99, &[b"z"]).unwrap().0, 25);
    let all = again.read_from(0, 100, usize::MAX).unwrap();
    assert_eq!(all.first().unwrap().offset, first);
    assert_eq!(&all.last().unwrap().payload[..], b"z");
}

#[test]
fn a_stream_on_disk_comes_back_after_reopening_with_its_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    {
        let l = StreamLog::open_dir(&path, 4096).unwrap();
        for i in 0..100u64 {
            l.append(i * 1_000, &[&[7u8; 200], i.to_string().as_bytes()])
                .unwrap();
        }
        l.flush().unwrap();
        assert!(l.segment_count() >= 5, "{} segments", l.segment_count());
        let t = l.apply_retention(100_000, None, Some(8192)).unwrap();
        assert!(t.segments > 0, "written segments can go");
        assert!(l.total_bytes() <= 8192 + 4096);
        l.append(200_000, &[b"after"]).unwrap();
        l.flush().unwrap();
    }
    let l = StreamLog::open_dir(&path, 4096).unwrap();
    let first = l.first_offset();
    assert!(first > 0, "trimmed segments stay trimmed");
    assert_eq!(l.next_offset(), 101);
    let all = l.read_from(0, 1_000, usize::MAX).unwrap();
    assert_eq!(all.len() as u64, 101 - first);
    assert_eq!(all[0].offset, first);
    assert!(all[0].payload.ends_with(first.to_string().as_bytes()));
    assert_eq!(&all.last().unwrap().payload[..], b"after");
    assert_eq!(l.offset_at_time(150_000), 100);
}

#[test]
fn unwritten_segments_are_not_deleted_until_the_group_commit_wrote_them() {
    let dir = tempfile::tempdir().unwrap();
    let l = StreamLog::open_dir(&dir.path().join("s"), 4096).unwrap();
    for i in 0..50u64 {
        l.append(i, &[&[1u8; 300]]).unwrap();
    }
    let before = l.segment_count();
    assert!(before > 2);
    // Nothing written yet: retention waits (no error, nothing lost).
    let t = l.apply_retention(0, None, Some(1)).unwrap();
    assert_eq!(t.segments, 0);
    assert_eq!(l.first_offset(), 0);
    l.flush().unwrap();
    l.apply_retention(0, None, Some(1)).unwrap();
    assert_eq!(l.segment_count(), 1);
    assert_eq!(l.next_offset(), 50);
}

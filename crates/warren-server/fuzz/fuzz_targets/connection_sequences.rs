//! Arbitrary scripts of channel operations (well-formed methods with fuzzed arguments,
//! publishes with content, acks near the real delivery tags, and broken frames) played
//! against an in-process Warren server over in-memory pipes, with the invariants of
//! `warren_testkit::fuzz` checked after every step. The input is the script in
//! `arbitrary`'s format (`warren_testkit::fuzz::decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    warren_testkit::fuzz::run_bytes(data);
});

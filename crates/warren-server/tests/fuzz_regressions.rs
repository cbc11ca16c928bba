//! Replays saved inputs of the connection fuzz target (`crates/warren-server/fuzz`,
//! target `connection_sequences`) through the same harness, `warren_testkit::fuzz`: the
//! seed scripts of the committed corpus and every input that once broke an invariant
//! (`fuzz/regressions/`). Each input is a script of well-formed and broken frames played
//! over in-memory pipes against one in-process server, with every invariant checked
//! after each step (docs/fuzzing.md).

use std::path::PathBuf;

fn inputs(dir: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(files: &[PathBuf]) {
    for file in files {
        let data = std::fs::read(file).expect("read input");
        // Printed before the run, so a failure names its input.
        eprintln!("replaying {}", file.display());
        warren_testkit::fuzz::run_bytes(&data);
    }
}

#[test]
fn the_regression_inputs_still_decode_to_their_scripts() {
    // A change to the script types must not silently turn a saved input into another
    // script: each is pinned to the step that made it fail.
    let dir = "fuzz/regressions/connection_sequences";
    let expected = [(
        "unknown-method-dropped-without-close",
        "UnknownMethod { class_id: 65535, method_id: 26, payload: [] }",
    )];
    for (name, step) in expected {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(dir)
            .join(name);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let script = warren_testkit::fuzz::decode(&data).expect("the input decodes");
        let steps = format!("{:?}", script.steps);
        assert!(steps.contains(step), "{name} decodes to {steps}");
    }
}

#[test]
fn inputs_that_once_broke_an_invariant_pass() {
    let files = inputs("fuzz/regressions/connection_sequences");
    assert!(!files.is_empty(), "the regression inputs are missing");
    replay(&files);
}

#[test]
fn the_seed_scripts_pass() {
    // The hand-written seeds (examples/fuzz_seeds.rs in warren-testkit): publish, consume,
    // get, acks, transactions, confirms, routing and each kind of broken frame. The rest
    // of the corpus (what libFuzzer found) is replayed by CI's fuzz run, which loads the
    // whole corpus before fuzzing.
    let files: Vec<PathBuf> = inputs("fuzz/corpus/connection_sequences")
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        })
        .collect();
    assert!(
        files.len() >= 20,
        "the seed inputs are missing ({})",
        files.len()
    );
    replay(&files);
}

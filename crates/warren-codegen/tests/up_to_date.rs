//! The generated files committed in warren-protocol must match what the generator
//! produces from the vendored XML today.

use warren_codegen::{generate, generate_roundtrip_tests, Paths, REGENERATE};

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; regenerate it with `{REGENERATE}`",
            path.display()
        )
    })
}

fn assert_fresh(path: &std::path::Path, fresh: &str) {
    let committed = read(path);
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || committed.lines().count().min(fresh.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "{} is stale (first difference at line {line}): it no longer matches the \
             generator and spec/*.xml. Regenerate it with `{REGENERATE}` and commit the \
             result; do not edit it by hand.",
            path.display()
        );
    }
}

fn inputs() -> (Paths, String, String) {
    let paths = Paths::in_tree();
    let spec = read(&paths.spec);
    let ext = read(&paths.extensions);
    (paths, spec, ext)
}

#[test]
fn method_rs_is_up_to_date() {
    let (paths, spec, ext) = inputs();
    assert_fresh(&paths.methods, &generate(&spec, &ext));
}

#[test]
fn method_roundtrip_rs_is_up_to_date() {
    let (paths, spec, ext) = inputs();
    assert_fresh(
        &paths.roundtrip_tests,
        &generate_roundtrip_tests(&spec, &ext),
    );
}

#[test]
fn every_class_and_the_extensions_are_generated() {
    let (_, spec, ext) = inputs();
    let spec = warren_codegen::parse(&spec, &ext).unwrap();
    let classes: Vec<&str> = spec.classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        classes,
        [
            "connection",
            "channel",
            "exchange",
            "queue",
            "basic",
            "tx",
            "confirm"
        ]
    );
    let methods: usize = spec.classes.iter().map(|c| c.methods.len()).sum();
    assert_eq!(
        methods, 64,
        "60 from the spec file and 4 RabbitMQ extensions"
    );
    let connection = &spec.classes[0];
    let ids: Vec<(&str, u16)> = connection
        .methods
        .iter()
        .map(|m| (m.name.as_str(), m.index))
        .filter(|(_, i)| *i >= 60)
        .collect();
    assert_eq!(
        ids,
        [
            ("blocked", 60),
            ("unblocked", 61),
            ("update-secret", 70),
            ("update-secret-ok", 71)
        ]
    );
}

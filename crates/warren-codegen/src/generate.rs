//! The entry points: where the inputs and outputs live, and parse → render → format for
//! each output file.

use std::path::{Path, PathBuf};

use crate::methods::render_methods;
use crate::model::Spec;
use crate::parse::parse;
use crate::roundtrip::render_roundtrip_tests;
use crate::rustfmt::rustfmt;

fn parse_or_panic(spec_xml: &str, extensions_xml: &str) -> Spec {
    parse(spec_xml, extensions_xml).unwrap_or_else(|e| panic!("invalid spec: {e}"))
}

/// Generates the formatted source of `warren-protocol/src/method.rs`.
///
/// # Panics
///
/// If the XML is invalid or `rustfmt` cannot be run.
pub fn generate(spec_xml: &str, extensions_xml: &str) -> String {
    let spec = parse_or_panic(spec_xml, extensions_xml);
    rustfmt(&render_methods(&spec)).unwrap_or_else(|e| panic!("{e}"))
}

/// Generates the formatted source of `warren-protocol/tests/method_roundtrip.rs`.
///
/// # Panics
///
/// If the XML is invalid or `rustfmt` cannot be run.
pub fn generate_roundtrip_tests(spec_xml: &str, extensions_xml: &str) -> String {
    let spec = parse_or_panic(spec_xml, extensions_xml);
    rustfmt(&render_roundtrip_tests(&spec)).unwrap_or_else(|e| panic!("{e}"))
}

/// Where the generator reads its input and writes its output, relative to this crate.
pub struct Paths {
    /// `spec/amqp0-9-1.extended.xml`.
    pub spec: PathBuf,
    /// `spec/extensions.xml`.
    pub extensions: PathBuf,
    /// `../warren-protocol/src/method.rs`.
    pub methods: PathBuf,
    /// `../warren-protocol/tests/method_roundtrip.rs`.
    pub roundtrip_tests: PathBuf,
}

impl Paths {
    /// The paths inside this source tree.
    pub fn in_tree() -> Paths {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let crates = here.parent().unwrap_or(here);
        let protocol = crates.join("warren-protocol");
        Paths {
            spec: here.join("spec").join("amqp0-9-1.extended.xml"),
            extensions: here.join("spec").join("extensions.xml"),
            methods: protocol.join("src").join("method.rs"),
            roundtrip_tests: protocol.join("tests").join("method_roundtrip.rs"),
        }
    }
}

/// Every output file with its freshly generated content.
pub fn generate_all(paths: &Paths) -> Result<Vec<(PathBuf, String)>, String> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let spec_xml = read(&paths.spec)?;
    let ext_xml = read(&paths.extensions)?;
    let spec = parse(&spec_xml, &ext_xml)?;
    Ok(vec![
        (paths.methods.clone(), rustfmt(&render_methods(&spec))?),
        (
            paths.roundtrip_tests.clone(),
            rustfmt(&render_roundtrip_tests(&spec))?,
        ),
    ])
}

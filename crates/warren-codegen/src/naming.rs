//! Rust names for spec names: type, field, variant and path names of the generated code.

use crate::model::{Class, MethodDef};

/// `start-ok` → `StartOk`.
pub fn camel_case(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield",
];

/// `routing-key` → `routing_key`; `type` → `kind`; other Rust keywords get an `r#`.
pub fn snake_case(name: &str) -> String {
    let s = name.replace('-', "_");
    if s == "type" {
        "kind".to_owned()
    } else if RUST_KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

pub(crate) fn full_name(c: &Class, m: &MethodDef) -> String {
    format!("{}.{}", c.name, m.name)
}

pub(crate) fn variant_name(c: &Class, m: &MethodDef) -> String {
    format!("{}{}", camel_case(&c.name), camel_case(&m.name))
}

pub(crate) fn struct_path(c: &Class, m: &MethodDef) -> String {
    format!("{}::{}", snake_case(&c.name), camel_case(&m.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(camel_case("start-ok"), "StartOk");
        assert_eq!(camel_case("recover-async"), "RecoverAsync");
        assert_eq!(camel_case("return"), "Return");
        assert_eq!(snake_case("reserved-1"), "reserved_1");
        assert_eq!(snake_case("no-wait"), "no_wait");
        assert_eq!(snake_case("type"), "kind");
        assert_eq!(snake_case("match"), "r#match");
    }
}

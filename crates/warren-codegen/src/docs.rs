//! Doc comments of the generated items: method and field docs from the spec's first
//! sentences, with fallbacks for items the spec leaves undocumented.

use std::fmt::Write as _;

use crate::model::{BaseType, Class, FieldDef, MethodDef};
use crate::naming::full_name;

pub(crate) fn doc_line(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {line}");
        }
    }
}

pub(crate) fn method_doc(c: &Class, m: &MethodDef) -> String {
    let name = full_name(c, m);
    let mut doc = match &m.doc {
        Some(d) => d.clone(),
        None => format!("The `{name}` method."),
    };
    let _ = write!(doc, "\n\nClass id {}, method id {}", c.index, m.index);
    if m.content {
        doc.push_str("; content (a header frame and body frames) follows it");
    }
    doc.push('.');
    if !m.responses.is_empty() {
        let answers: Vec<String> = m
            .responses
            .iter()
            .map(|r| format!("`{}.{r}`", c.name))
            .collect();
        let _ = write!(doc, " Answered by {}.", answers.join(" or "));
    }
    doc
}

pub(crate) fn field_doc(c: &Class, m: &MethodDef, f: &FieldDef) -> String {
    if let Some(d) = &f.doc {
        return d.clone();
    }
    let owner = full_name(c, m);
    let ty = match &f.domain {
        Some(d) if d != f.ty.name() => format!("domain `{d}`, {}", article(f.ty)),
        _ => article(f.ty),
    };
    if f.reserved {
        format!(
            "Reserved field `{}` of `{owner}` ({ty}); senders leave it zero or empty.",
            f.name
        )
    } else {
        format!("Field `{}` of `{owner}` ({ty}).", f.name)
    }
}

/// "a `short`", "an `octet`".
fn article(ty: BaseType) -> String {
    let a = if ty == BaseType::Octet { "an" } else { "a" };
    format!("{a} `{}`", ty.name())
}

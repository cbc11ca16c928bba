//! Reading the spec and extensions XML into a [`Spec`]: domain resolution, merging the
//! extension classes into the spec's, and rejecting clashing method names or ids.

use std::collections::HashMap;

use crate::model::{BaseType, Class, FieldDef, MethodDef, Spec};

/// Parses the spec and the extensions and merges them into one [`Spec`].
pub fn parse(spec_xml: &str, extensions_xml: &str) -> Result<Spec, String> {
    let spec = roxmltree::Document::parse(spec_xml).map_err(|e| format!("spec XML: {e}"))?;
    let ext =
        roxmltree::Document::parse(extensions_xml).map_err(|e| format!("extensions XML: {e}"))?;

    let mut domains: HashMap<String, String> = HashMap::new();
    for doc in [&spec, &ext] {
        for d in doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("domain"))
        {
            let name = attr(d, "name")?;
            let ty = attr(d, "type")?;
            domains.insert(name.to_owned(), ty.to_owned());
        }
    }

    let mut classes: Vec<Class> = Vec::new();
    for (which, doc) in [("spec", &spec), ("extensions", &ext)] {
        for c in doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("class"))
        {
            let class = parse_class(c, &domains).map_err(|e| format!("{which}: {e}"))?;
            match classes.iter_mut().find(|k| k.name == class.name) {
                Some(existing) => {
                    if existing.index != class.index {
                        return Err(format!(
                            "{which}: class {} has index {}, but {} elsewhere",
                            class.name, class.index, existing.index
                        ));
                    }
                    existing.methods.extend(class.methods);
                }
                None => classes.push(class),
            }
        }
    }

    for c in &classes {
        for (i, m) in c.methods.iter().enumerate() {
            for other in &c.methods[i + 1..] {
                if other.name == m.name || other.index == m.index {
                    return Err(format!(
                        "{}.{} ({}) clashes with {}.{} ({})",
                        c.name, m.name, m.index, c.name, other.name, other.index
                    ));
                }
            }
        }
    }
    Ok(Spec { classes })
}

fn attr<'a>(n: roxmltree::Node<'a, '_>, name: &str) -> Result<&'a str, String> {
    n.attribute(name).ok_or_else(|| {
        format!(
            "<{}> without {name}= (line {})",
            n.tag_name().name(),
            n.document().text_pos_at(n.range().start).row
        )
    })
}

fn index_attr(n: roxmltree::Node<'_, '_>) -> Result<u16, String> {
    let raw = attr(n, "index")?;
    raw.parse()
        .map_err(|_| format!("index {raw:?} of {:?} is not a u16", n.attribute("name")))
}

fn flag_attr(n: roxmltree::Node<'_, '_>, name: &str) -> bool {
    n.attribute(name) == Some("1")
}

/// The first sentence of a node's first `<doc>` child (ignoring grammar and scenario
/// docs), whitespace collapsed.
fn first_doc_sentence(n: roxmltree::Node<'_, '_>) -> Option<String> {
    let doc = n
        .children()
        .find(|c| c.has_tag_name("doc") && c.attribute("type").is_none())?;
    let text: String = doc
        .descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect();
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut out = String::new();
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
        if w.ends_with('.') || w.ends_with('!') || w.ends_with('?') {
            break;
        }
    }
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    Some(out)
}

fn resolve(domains: &HashMap<String, String>, name: &str) -> Result<BaseType, String> {
    let mut current = name;
    for _ in 0..16 {
        if let Some(base) = BaseType::from_name(current) {
            return Ok(base);
        }
        current = domains
            .get(current)
            .ok_or_else(|| format!("unknown domain {current:?}"))?;
    }
    Err(format!("domain {name:?} does not resolve to a base type"))
}

fn parse_class(
    c: roxmltree::Node<'_, '_>,
    domains: &HashMap<String, String>,
) -> Result<Class, String> {
    let name = attr(c, "name")?.to_owned();
    let index = index_attr(c)?;
    let mut methods = Vec::new();
    for m in c.children().filter(|n| n.has_tag_name("method")) {
        let mname = attr(m, "name")?.to_owned();
        let mut fields = Vec::new();
        for f in m.children().filter(|n| n.has_tag_name("field")) {
            let fname = attr(f, "name")?.to_owned();
            let domain = f.attribute("domain").map(str::to_owned);
            let ty_name = match (&domain, f.attribute("type")) {
                (Some(d), _) => d.as_str(),
                (None, Some(t)) => t,
                (None, None) => {
                    return Err(format!(
                        "{name}.{mname} field {fname} has no domain or type"
                    ))
                }
            };
            let ty = resolve(domains, ty_name)
                .map_err(|e| format!("{name}.{mname} field {fname}: {e}"))?;
            fields.push(FieldDef {
                name: fname,
                domain,
                ty,
                reserved: flag_attr(f, "reserved"),
                doc: first_doc_sentence(f),
            });
        }
        methods.push(MethodDef {
            name: mname,
            index: index_attr(m)?,
            content: flag_attr(m, "content"),
            synchronous: flag_attr(m, "synchronous"),
            responses: m
                .children()
                .filter(|n| n.has_tag_name("response"))
                .map(|n| attr(n, "name").map(str::to_owned))
                .collect::<Result<_, _>>()?,
            doc: first_doc_sentence(m),
            fields,
        });
    }
    Ok(Class {
        name,
        index,
        doc: first_doc_sentence(c),
        methods,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const MINI: &str = r#"<amqp>
      <domain name="flag" type="bit"/>
      <domain name="alias" type="flag"/>
      <class name="demo" index="7">
        <doc>A demonstration class.  It has two sentences.</doc>
        <method name="split-bits" index="1">
          <doc>
            Two bit groups
            split by a short.
          </doc>
          <field name="a" domain="alias"/>
          <field name="b" type="bit"/>
          <field name="n" domain="short"/>
          <field name="c" domain="flag"/>
        </method>
        <method name="nine" index="2">
          <field name="b0" type="bit"/><field name="b1" type="bit"/>
          <field name="b2" type="bit"/><field name="b3" type="bit"/>
          <field name="b4" type="bit"/><field name="b5" type="bit"/>
          <field name="b6" type="bit"/><field name="b7" type="bit"/>
          <field name="b8" type="bit"/>
        </method>
      </class>
    </amqp>"#;

    const EXT: &str = r#"<amqp>
      <class name="demo" index="7">
        <method name="extra" index="3"><field name="s" domain="shortstr"/></method>
      </class>
    </amqp>"#;

    #[test]
    fn domains_resolve_through_aliases_and_extensions_merge() {
        let spec = parse(MINI, EXT).unwrap();
        assert_eq!(spec.classes.len(), 1);
        let demo = &spec.classes[0];
        assert_eq!(demo.doc.as_deref(), Some("A demonstration class."));
        assert_eq!(demo.methods.len(), 3);
        assert_eq!(
            demo.methods[0].doc.as_deref(),
            Some("Two bit groups split by a short.")
        );
        assert_eq!(demo.methods[0].fields[0].ty, BaseType::Bit);
        assert_eq!(demo.methods[2].name, "extra");
        assert_eq!(demo.methods[2].fields[0].ty, BaseType::ShortStr);
    }

    #[test]
    fn clashing_ids_are_rejected() {
        let ext = r#"<amqp><class name="demo" index="7">
            <method name="other" index="1"/></class></amqp>"#;
        let err = parse(MINI, ext).unwrap_err();
        assert!(err.contains("clashes"), "{err}");
        let ext = r#"<amqp><class name="demo" index="8"/></amqp>"#;
        assert!(parse(MINI, ext).unwrap_err().contains("index"));
    }

    #[test]
    fn unknown_domains_are_rejected() {
        let bad = r#"<amqp><class name="x" index="1"><method name="m" index="1">
            <field name="f" domain="nope"/></method></class></amqp>"#;
        assert!(parse(bad, "<amqp/>").unwrap_err().contains("nope"));
    }
}

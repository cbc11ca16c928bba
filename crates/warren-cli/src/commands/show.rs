//! `show queue NAME`: every field of the queue, its policy, its consumers (from
//! `GET /api/consumers/{vhost}`) and its bindings.

use serde_json::{json, Value};

use super::list::render_table;
use super::Ctx;
use crate::catalogue::{Column, Listing};
use crate::cli::{ListKind, ShowCmd};
use crate::client::Subject;
use crate::encode;
use crate::error::Result;
use crate::format::cell::{lookup, plain};
use crate::format::{table, tsv, Format};
use crate::output::{self, Colours};

/// Fields shown in their own section rather than among all fields.
const OWN_SECTION: &[&str] = &["consumer_details"];

/// Runs `show`.
pub fn run(ctx: &Ctx, cmd: &ShowCmd) -> Result<()> {
    let ShowCmd::Queue { name } = cmd;
    let vhost = ctx.vhost();
    let subject = Subject::in_vhost("queue", name, vhost);
    let queue = ctx
        .client
        .get_json(&encode::api_path(&["queues", vhost, name]), &subject)?;
    let consumers: Vec<Value> = match ctx.client.get_json(
        &encode::api_path(&["consumers", vhost]),
        &Subject::vhost(vhost),
    )? {
        Value::Array(all) => all
            .into_iter()
            .filter(|c| lookup(c, "queue.name").and_then(Value::as_str) == Some(name.as_str()))
            .collect(),
        _ => Vec::new(),
    };
    let bindings = ctx.client.get_json(
        &encode::api_path(&["queues", vhost, name, "bindings"]),
        &subject,
    )?;
    let bindings = bindings.as_array().cloned().unwrap_or_default();
    match ctx.format {
        Format::Json => output::print_json(
            &json!({"queue": queue, "consumers": consumers, "bindings": bindings}),
        ),
        Format::Tsv => {
            let rows: Vec<Vec<String>> = flatten(&queue)
                .into_iter()
                .map(|(k, v)| vec![k, v])
                .collect();
            output::print(&tsv::render(&["field".into(), "value".into()], &rows))
        }
        Format::Table => output::print(&render(
            &queue,
            &consumers,
            &bindings,
            Colours::for_stdout(),
        )),
    }
}

fn render(queue: &Value, consumers: &[Value], bindings: &[Value], colours: Colours) -> String {
    let field = |p: &str| lookup(queue, p).map(plain).unwrap_or_default();
    let mut out = format!(
        "{} '{}' in vhost '{}'\n\n",
        colours.bold("Queue"),
        field("name"),
        field("vhost")
    );
    out.push_str(&table::render_pairs(&flatten(queue)));

    out.push_str(&format!("\n{}\n", colours.bold("Policy")));
    let none = |s: String| if s.is_empty() { "none".to_string() } else { s };
    out.push_str(&table::render_pairs(&[
        ("policy".into(), none(field("policy"))),
        ("operator_policy".into(), none(field("operator_policy"))),
        (
            "effective_policy_definition".into(),
            lookup(queue, "effective_policy_definition")
                .map(Value::to_string)
                .unwrap_or_else(|| "{}".into()),
        ),
    ]));

    let consumer_columns = Listing::of(ListKind::Consumers)
        .default_columns()
        .into_iter()
        .filter(|c| c.key != "vhost" && c.key != "queue")
        .collect::<Vec<Column>>();
    out.push_str(&format!(
        "\n{} ({})\n",
        colours.bold("Consumers"),
        consumers.len()
    ));
    if !consumers.is_empty() {
        out.push_str(&render_table(&consumer_columns, consumers));
    }

    let binding_columns = Listing::of(ListKind::Bindings)
        .default_columns()
        .into_iter()
        .filter(|c| c.key != "vhost" && c.key != "destination" && c.key != "destination_type")
        .collect::<Vec<Column>>();
    out.push_str(&format!(
        "\n{} ({})\n",
        colours.bold("Bindings"),
        bindings.len()
    ));
    if !bindings.is_empty() {
        out.push_str(&render_table(&binding_columns, bindings));
    }
    out
}

/// Every field as a dotted key and plain value, sorted by key; nested objects are
/// flattened (`message_stats.publish_details.rate`), lists of objects kept as JSON.
pub fn flatten(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Value::Object(map) = value {
        for (k, v) in map {
            if !OWN_SECTION.contains(&k.as_str()) {
                flatten_into(k, v, &mut out);
            }
        }
    }
    out.sort();
    out
}

fn flatten_into(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() && !prefix.ends_with("arguments") => {
            for (k, v) in map {
                flatten_into(&format!("{prefix}.{k}"), v, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            out.push((prefix.to_string(), value.to_string()))
        }
        Value::Object(_) => out.push((prefix.to_string(), value.to_string())),
        other => out.push((prefix.to_string(), plain(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_flatten_to_dotted_keys_sorted() {
        let q = json!({
            "name": "q",
            "arguments": {"x-max-length": 1000},
            "message_stats": {"publish_details": {"rate": 1.5}},
            "consumer_details": [{"consumer_tag": "c"}],
            "effective_policy_definition": {},
            "delta": ["delta", "undefined", 0],
        });
        assert_eq!(
            flatten(&q),
            vec![
                (
                    "arguments".to_string(),
                    r#"{"x-max-length":1000}"#.to_string()
                ),
                ("delta".to_string(), "delta,undefined,0".to_string()),
                ("effective_policy_definition".to_string(), "{}".to_string()),
                (
                    "message_stats.publish_details.rate".to_string(),
                    "1.5".to_string()
                ),
                ("name".to_string(), "q".to_string()),
            ]
        );
    }
}

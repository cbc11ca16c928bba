//! `delete queue|exchange|binding|user|vhost`.
//!
//! A binding is addressed by its properties key; given only `--routing-key`, the
//! bindings between source and destination are listed to find it.

use serde_json::Value;

use super::Ctx;
use crate::cli::{DeleteBinding, DeleteCmd};
use crate::client::Subject;
use crate::encode;
use crate::error::{CliError, Result};
use crate::format::cell::{lookup, plain};
use crate::output;

/// Runs `delete`.
pub fn run(ctx: &Ctx, cmd: &DeleteCmd) -> Result<()> {
    let vhost = ctx.vhost();
    match cmd {
        DeleteCmd::Queue {
            name,
            if_unused,
            if_empty,
        } => {
            let mut query = Vec::new();
            if *if_unused {
                query.push(("if-unused", "true".to_string()));
            }
            if *if_empty {
                query.push(("if-empty", "true".to_string()));
            }
            let path = encode::api_path(&["queues", vhost, name]) + &encode::query(&query);
            ctx.client
                .delete(&path, &[], &Subject::in_vhost("queue", name, vhost))?;
            output::println(&format!("deleted queue '{name}' in vhost '{vhost}'"))
        }
        DeleteCmd::Exchange { name, if_unused } => {
            let query = if *if_unused {
                vec![("if-unused", "true".to_string())]
            } else {
                Vec::new()
            };
            let path = encode::api_path(&["exchanges", vhost, name]) + &encode::query(&query);
            ctx.client
                .delete(&path, &[], &Subject::in_vhost("exchange", name, vhost))?;
            output::println(&format!("deleted exchange '{name}' in vhost '{vhost}'"))
        }
        DeleteCmd::Binding(b) => binding(ctx, b),
        DeleteCmd::User { name } => {
            ctx.client.delete(
                &encode::api_path(&["users", name]),
                &[],
                &Subject::global("user", name),
            )?;
            output::println(&format!("deleted user '{name}'"))
        }
        DeleteCmd::Vhost { name } => {
            ctx.client.delete(
                &encode::api_path(&["vhosts", name]),
                &[],
                &Subject::vhost(name),
            )?;
            output::println(&format!("deleted vhost '{name}'"))
        }
    }
}

fn binding(ctx: &Ctx, b: &DeleteBinding) -> Result<()> {
    let vhost = ctx.vhost();
    let base = [
        "bindings",
        vhost,
        "e",
        encode::exchange_in_path(&b.source),
        b.destination_type.path_letter(),
        &b.destination,
    ];
    let describe = format!(
        "binding from exchange '{}' to {} '{}'",
        b.source,
        b.destination_type.as_str(),
        b.destination
    );
    let subject = Subject::in_vhost(
        "binding",
        &format!("{} -> {}", b.source, b.destination),
        vhost,
    );
    let key = match (&b.properties_key, &b.routing_key) {
        (Some(key), _) => key.clone(),
        (None, Some(rk)) => {
            let listed = ctx.client.get_json(&encode::api_path(&base), &subject)?;
            properties_key_for(&listed, rk).map_err(|e| match e {
                Lookup::None => CliError::NotFound(format!(
                    "no {describe} with routing key '{rk}' in vhost '{vhost}'"
                )),
                Lookup::Several(keys) => CliError::Data(format!(
                    "several {describe}s have routing key '{rk}' (different arguments); \
                     pick one with --properties-key: {}",
                    keys.join(", ")
                )),
            })?
        }
        (None, None) => {
            return Err(CliError::Usage(
                "delete binding needs --properties-key or --routing-key".into(),
            ))
        }
    };
    let mut path: Vec<&str> = base.to_vec();
    path.push(&key);
    ctx.client.delete(&encode::api_path(&path), &[], &subject)?;
    output::println(&format!(
        "deleted {describe} (properties key {key}) in vhost '{vhost}'"
    ))
}

/// Why a routing key does not name exactly one binding.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// No binding has it.
    None,
    /// Several do (their properties keys).
    Several(Vec<String>),
}

/// The properties key of the one binding in `listed` with routing key `rk`.
pub fn properties_key_for(listed: &Value, rk: &str) -> Result<String, Lookup> {
    let keys: Vec<String> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| lookup(b, "routing_key").and_then(Value::as_str) == Some(rk))
        .filter_map(|b| lookup(b, "properties_key").map(plain))
        .collect();
    match keys.len() {
        0 => Err(Lookup::None),
        1 => Ok(keys.into_iter().next().unwrap_or_default()),
        _ => Err(Lookup::Several(keys)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routing_key_finds_the_properties_key() {
        let listed = json!([
            {"routing_key": "a.#", "properties_key": "a.%23~8IXMRA"},
            {"routing_key": "b", "properties_key": "b"},
            {"routing_key": "b", "properties_key": "b~x"},
        ]);
        assert_eq!(
            properties_key_for(&listed, "a.#"),
            Ok("a.%23~8IXMRA".into())
        );
        assert_eq!(properties_key_for(&listed, "c"), Err(Lookup::None));
        assert_eq!(
            properties_key_for(&listed, "b"),
            Err(Lookup::Several(vec!["b".into(), "b~x".into()]))
        );
    }
}

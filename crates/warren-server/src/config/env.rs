//! `WARREN_*` environment variables as a layer of the config file's schema: the key
//! path upper-cased with tables joined by `__` (`WARREN_LIMITS__CHANNEL_MAX=100`,
//! `WARREN_LOG__FORMAT=json`, `WARREN_LISTENERS__AMQP=0.0.0.0:5672,[::]:5672`).
//! Values are read as TOML values when they parse as one (numbers, booleans), else as
//! strings. Variables that name no key (e.g. `WARREN_BIN` of the benchmark scripts) are
//! ignored; a known key with a bad value is an error naming the variable.

use toml::{Table, Value};

use super::file::ConfigFile;
use super::load::ConfigError;

fn value_of(text: &str) -> Value {
    match toml::from_str::<Table>(&format!("v = {text}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(text.to_owned())),
        Err(_) => Value::String(text.to_owned()),
    }
}

fn table_for(path: &[String], value: Value) -> Table {
    let mut table = Table::new();
    match path {
        [leaf] => {
            table.insert(leaf.clone(), value);
        }
        [head, rest @ ..] => {
            table.insert(head.clone(), Value::Table(table_for(rest, value)));
        }
        [] => {}
    }
    table
}

fn merge(into: &mut Table, from: Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Table(a)), Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// The settings `vars` hold.
pub fn from_vars(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<ConfigFile, ConfigError> {
    let mut all = Table::new();
    for (var, text) in vars {
        let Some(rest) = var.strip_prefix("WARREN_") else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        let one = table_for(&path, value_of(&text));
        match ConfigFile::deserialize(one.clone()) {
            Ok(_) => merge(&mut all, one),
            Err(e) if e.to_string().contains("unknown field") => continue,
            Err(e) => {
                // A string that looked like a number (`WARREN_DEFAULT_PASS=1234`) is
                // tried as the string it also is.
                let as_text = table_for(&path, Value::String(text.clone()));
                if ConfigFile::deserialize(as_text.clone()).is_ok() {
                    merge(&mut all, as_text);
                    continue;
                }
                return Err(ConfigError::Env {
                    var,
                    message: e.to_string().trim().to_owned(),
                });
            }
        }
    }
    ConfigFile::deserialize(all).map_err(|e| ConfigError::Env {
        var: "WARREN_*".into(),
        message: e.to_string(),
    })
}

use serde::Deserialize;

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn variables_map_to_keys_and_bad_values_name_the_variable() {
        let f = from_vars(vars(&[
            ("WARREN_LIMITS__CHANNEL_MAX", "100"),
            ("WARREN_DATA_DIR", "/var/lib/warren"),
            ("WARREN_DEFAULT_PASS", "1234"),
            ("WARREN_BIN", "target/release/warren"),
            ("HOME", "/root"),
        ]))
        .unwrap();
        assert_eq!(f.limits.unwrap().channel_max, Some(100));
        assert_eq!(f.data_dir.as_deref(), Some("/var/lib/warren"));
        assert_eq!(f.default_pass.as_deref(), Some("1234"));
        let e = from_vars(vars(&[("WARREN_LIMITS__CHANNEL_MAX", "lots")])).unwrap_err();
        assert!(e.to_string().contains("WARREN_LIMITS__CHANNEL_MAX"), "{e}");
    }
}

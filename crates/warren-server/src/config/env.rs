//! `WARREN_*` environment variables as a layer of the config file's schema: the key
//! path upper-cased with tables joined by `__` (`WARREN_LIMITS__CHANNEL_MAX=100`,
//! `WARREN_LOG__FORMAT=json`, `WARREN_LISTENERS__AMQP=0.0.0.0:5672,[::]:5672`).
//! Values are read as TOML values when they parse as one (numbers, booleans), else as
//! strings. A known key with a bad value, or an unknown key inside one of Warren's
//! tables (`WARREN_LIMITS__CHANEL_MAX`), is an error naming the variable. A variable
//! naming no top-level key at all (`WARREN_BIN`, `WARREN_PORT` of the benchmark scripts,
//! which export them into the broker's environment) is ignored with a warning, so
//! another program's variables never stop the start but a typo is still reported.

use serde::Deserialize;
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

/// What the `WARREN_*` variables set.
#[derive(Debug, Default)]
pub struct EnvLayer {
    /// The settings, in the config file's schema.
    pub settings: ConfigFile,
    /// One line per ignored variable, for the log once it is set up.
    pub warnings: Vec<String>,
}

/// Whether serde refused `path`'s first segment as a key (rather than something in it).
fn names_no_top_level_key(error: &toml::de::Error, path: &[String]) -> bool {
    path.first().is_some_and(|top| {
        error
            .message()
            .starts_with(&format!("unknown field `{top}`"))
    })
}

/// The settings `vars` hold.
pub fn from_vars(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<EnvLayer, ConfigError> {
    let mut all = Table::new();
    let mut warnings = Vec::new();
    for (var, text) in vars {
        let Some(rest) = var.strip_prefix("WARREN_") else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        let one = table_for(&path, value_of(&text));
        match ConfigFile::deserialize(one.clone()) {
            Ok(_) => merge(&mut all, one),
            Err(e) if names_no_top_level_key(&e, &path) => warnings.push(format!(
                "environment variable {var} names no Warren setting; ignored"
            )),
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
                    message: e.message().trim().to_owned(),
                });
            }
        }
    }
    let settings = ConfigFile::deserialize(all).map_err(|e| ConfigError::Env {
        var: "WARREN_*".into(),
        message: e.message().trim().to_owned(),
    })?;
    Ok(EnvLayer { settings, warnings })
}

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
        assert_eq!(
            f.warnings,
            ["environment variable WARREN_BIN names no Warren setting; ignored"]
        );
        let f = f.settings;
        assert_eq!(f.limits.unwrap().channel_max, Some(100));
        assert_eq!(f.data_dir.as_deref(), Some("/var/lib/warren"));
        assert_eq!(f.default_pass.as_deref(), Some("1234"));
        let e = from_vars(vars(&[("WARREN_LIMITS__CHANNEL_MAX", "lots")])).unwrap_err();
        assert!(e.to_string().contains("WARREN_LIMITS__CHANNEL_MAX"), "{e}");
    }

    #[test]
    fn a_typo_inside_a_warren_table_is_an_error() {
        for var in [
            "WARREN_LIMITS__CHANEL_MAX",
            "WARREN_LOG__LEVLE",
            "WARREN_LISTENERS__AMPQ",
        ] {
            let e = from_vars(vars(&[(var, "1")])).unwrap_err().to_string();
            assert!(e.contains(var) && e.contains("unknown field"), "{e}");
        }
        let f = from_vars(vars(&[("WARREN_PORT", "5680"), ("WARREN_NOPE__X", "1")])).unwrap();
        assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
    }
}

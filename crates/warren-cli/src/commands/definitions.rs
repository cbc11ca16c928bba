//! `definitions export [FILE]` (`GET /api/definitions[/{vhost}]`) and
//! `definitions import FILE` (`POST /api/definitions[/{vhost}]`).

use std::path::Path;

use serde_json::Value;

use super::Ctx;
use crate::cli::DefinitionsCmd;
use crate::client::{Payload, Subject};
use crate::encode;
use crate::error::{CliError, Result};
use crate::{files, output, progress};

/// The entity lists of a definitions file, in the order they are reported.
const SECTIONS: &[&str] = &[
    "vhosts",
    "users",
    "permissions",
    "topic_permissions",
    "policies",
    "parameters",
    "global_parameters",
    "exchanges",
    "queues",
    "bindings",
];

/// Runs `definitions`.
pub fn run(ctx: &Ctx, cmd: &DefinitionsCmd) -> Result<()> {
    match cmd {
        DefinitionsCmd::Export { file } => export(ctx, file.as_deref()),
        DefinitionsCmd::Import { file } => import(ctx, file),
    }
}

fn path(ctx: &Ctx) -> (String, Subject) {
    match ctx.list_vhost() {
        Some(v) => (encode::api_path(&["definitions", v]), Subject::vhost(v)),
        None => {
            let p = encode::api_path(&["definitions"]);
            let s = Subject::api(&p);
            (p, s)
        }
    }
}

fn export(ctx: &Ctx, file: Option<&Path>) -> Result<()> {
    let (path, subject) = path(ctx);
    let definitions = ctx.client.get_json(&path, &subject)?;
    let text = serde_json::to_string_pretty(&definitions).unwrap_or_default() + "\n";
    match file {
        None => output::print(&text),
        Some(file) => {
            files::write(file, text.as_bytes())?;
            eprintln!("exported {} to {}", counts(&definitions), file.display());
            Ok(())
        }
    }
}

fn import(ctx: &Ctx, file: &Path) -> Result<()> {
    let text = files::read_text(file)?;
    let definitions: Value = serde_json::from_str(&text).map_err(|e| {
        CliError::Data(format!(
            "{}:{}:{}: {e}",
            file.display(),
            e.line(),
            e.column()
        ))
    })?;
    if !definitions.is_object() {
        return Err(CliError::Data(format!(
            "{}: a definitions file is a JSON object",
            file.display()
        )));
    }
    let summary = counts(&definitions);
    let (path, subject) = path(ctx);
    progress::spin(format!("importing {summary}"), || {
        ctx.client.send(
            "POST",
            &path,
            Payload::Raw {
                content_type: "application/json",
                bytes: text.as_bytes(),
            },
            &[],
            &subject,
        )
    })?;
    output::println(&format!("imported {summary} from {}", file.display()))
}

/// `3 vhosts, 12 queues, 4 bindings` (sections with entries only).
pub fn counts(definitions: &Value) -> String {
    let parts: Vec<String> = SECTIONS
        .iter()
        .filter_map(|s| {
            let n = definitions.get(*s)?.as_array()?.len();
            (n > 0).then(|| format!("{n} {}", s.replace('_', " ")))
        })
        .collect();
    if parts.is_empty() {
        "no definitions".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_name_non_empty_sections() {
        let d =
            json!({"vhosts": [{}, {}], "queues": [{}], "bindings": [], "rabbit_version": "3.10.8"});
        assert_eq!(counts(&d), "2 vhosts, 1 queues");
        assert_eq!(counts(&json!({})), "no definitions");
    }
}

//! `apply FILE [--dry-run] [--prune]`: topology as code, through Warren's own
//! `POST /api/warren/apply?dry_run=..&prune=..`. The file (definitions.json or
//! warren.toml) is sent as is; the server computes and applies the changes and lists
//! them, and this prints one line per change and a summary.

use std::path::Path;

use serde::Deserialize;

use super::Ctx;
use crate::cli::ApplyArgs;
use crate::client::{Payload, Subject};
use crate::error::{CliError, Result};
use crate::format::Format;
use crate::output::{self, Colours};
use crate::{encode, files, progress};

/// The endpoint.
const APPLY_PATH: &str = "/api/warren/apply";

/// The server's answer.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct ApplyReply {
    /// Whether nothing was applied.
    pub dry_run: bool,
    /// Whether objects missing from the file were removed.
    pub prune: bool,
    /// What changed (or would).
    pub changes: Vec<Change>,
}

/// One change.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Change {
    /// `+` added, `~` changed, `-` removed.
    pub change: String,
    /// `vhost`, `user`, `permission`, `policy`, `exchange`, `queue`, `binding`...
    pub kind: String,
    /// The vhost, for vhost-scoped kinds.
    pub vhost: Option<String>,
    /// The object's name.
    pub name: String,
    /// What about it, e.g. `durable` or `definition changed`.
    #[serde(default)]
    pub detail: String,
}

/// Runs `apply`.
pub fn run(ctx: &Ctx, a: &ApplyArgs) -> Result<()> {
    let bytes = files::read(&a.file)?;
    let content_type = content_type(&a.file, &bytes);
    let query = encode::query(&[
        ("dry_run", a.dry_run.to_string()),
        ("prune", a.prune.to_string()),
    ]);
    let verb = if a.dry_run { "planning" } else { "applying" };
    let reply = progress::spin(format!("{verb} {}", a.file.display()), || {
        ctx.client.send(
            "POST",
            &format!("{APPLY_PATH}{query}"),
            Payload::Raw {
                content_type,
                bytes: &bytes,
            },
            &[],
            &Subject::warren_endpoint(APPLY_PATH),
        )
    })?;
    if ctx.format == Format::Json {
        return output::print_json(&reply.json()?);
    }
    let parsed: ApplyReply = serde_json::from_str(&reply.body).map_err(|e| CliError::Server {
        status: reply.status,
        reason: format!("unexpected apply reply: {e}"),
    })?;
    output::print(&render(&parsed, Colours::for_stdout()))
}

/// `application/json` for `.json`, `application/toml` for `.toml`; otherwise JSON when
/// the content starts with `{`, else TOML.
pub fn content_type(path: &Path, bytes: &[u8]) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => "application/json",
        Some(e) if e.eq_ignore_ascii_case("toml") => "application/toml",
        _ => match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => "application/json",
            _ => "application/toml",
        },
    }
}

/// One line per change, then the summary.
pub fn render(reply: &ApplyReply, colours: Colours) -> String {
    let mut out = String::new();
    let (mut add, mut change, mut remove) = (0, 0, 0);
    for c in &reply.changes {
        let sign = match c.change.as_str() {
            "+" => {
                add += 1;
                colours.green("+")
            }
            "-" => {
                remove += 1;
                colours.red("-")
            }
            _ => {
                change += 1;
                colours.yellow("~")
            }
        };
        let mut line = format!("{sign} {}", c.kind);
        if let Some(v) = &c.vhost {
            line.push_str(&format!(" {v}"));
        }
        line.push_str(&format!(" {}", c.name));
        if !c.detail.is_empty() {
            line.push_str(&format!(" ({})", c.detail));
        }
        out.push_str(&line);
        out.push('\n');
    }
    let summary = if reply.changes.is_empty() {
        "no changes".to_string()
    } else if reply.dry_run {
        format!("{add} to add, {change} to change, {remove} to remove")
    } else {
        format!("{add} added, {change} changed, {remove} removed")
    };
    let note = if reply.dry_run {
        " (dry run: nothing applied)"
    } else {
        ""
    };
    out.push_str(&format!("{summary}{note}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(change: &str, kind: &str, vhost: Option<&str>, name: &str, detail: &str) -> Change {
        Change {
            change: change.into(),
            kind: kind.into(),
            vhost: vhost.map(String::from),
            name: name.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn content_type_from_extension_then_content() {
        assert_eq!(content_type(Path::new("d.json"), b"x"), "application/json");
        assert_eq!(
            content_type(Path::new("warren.TOML"), b"{"),
            "application/toml"
        );
        assert_eq!(
            content_type(Path::new("topology"), b"  \n{\"queues\":[]}"),
            "application/json"
        );
        assert_eq!(
            content_type(Path::new("topology"), b"[[queues]]"),
            "application/toml"
        );
    }

    #[test]
    fn changes_print_as_plan_lines_with_a_summary() {
        let reply = ApplyReply {
            dry_run: true,
            prune: true,
            changes: vec![
                change("+", "queue", Some("/"), "tasks", "durable"),
                change("~", "policy", Some("/"), "ttl", "definition changed"),
                change("-", "queue", Some("/"), "old", ""),
                change("+", "user", None, "alice", ""),
            ],
        };
        assert_eq!(
            render(&reply, Colours::off()),
            "+ queue / tasks (durable)\n\
             ~ policy / ttl (definition changed)\n\
             - queue / old\n\
             + user alice\n\
             2 to add, 1 to change, 1 to remove (dry run: nothing applied)\n"
        );
    }

    #[test]
    fn applied_and_empty_summaries() {
        let mut reply = ApplyReply {
            dry_run: false,
            prune: false,
            changes: vec![change("+", "vhost", None, "v", "")],
        };
        assert_eq!(
            render(&reply, Colours::off()),
            "+ vhost v\n1 added, 0 changed, 0 removed\n"
        );
        reply.changes.clear();
        assert_eq!(render(&reply, Colours::off()), "no changes\n");
    }

    #[test]
    fn reply_shape_parses() {
        let r: ApplyReply = serde_json::from_str(
            r#"{"dry_run":false,"prune":false,"changes":[{"change":"+","kind":"vhost","vhost":null,"name":"v","detail":""}]}"#,
        )
        .unwrap();
        assert_eq!(r.changes[0], change("+", "vhost", None, "v", ""));
    }
}

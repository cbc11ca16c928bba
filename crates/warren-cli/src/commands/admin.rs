//! Users, vhosts, permissions, policies and limits: `add`, `set`, `clear`.

use serde_json::json;

use super::Ctx;
use crate::cli::{AddCmd, ClearCmd, SetCmd, UserLimit, VhostLimit};
use crate::client::Subject;
use crate::encode;
use crate::error::{CliError, Result};
use crate::output;

/// Runs `add user|vhost`.
pub fn add(ctx: &Ctx, cmd: &AddCmd) -> Result<()> {
    match cmd {
        AddCmd::User {
            name,
            password,
            tags,
        } => {
            let body = json!({"password": password, "tags": tags.join(",")});
            ctx.client.put_json(
                &encode::api_path(&["users", name]),
                &body,
                &Subject::global("user", name),
            )?;
            output::println(&format!("added user '{name}'"))
        }
        AddCmd::Vhost { name, description } => {
            let body = match description {
                Some(d) => json!({"description": d}),
                None => json!({}),
            };
            ctx.client.put_json(
                &encode::api_path(&["vhosts", name]),
                &body,
                &Subject::vhost(name),
            )?;
            output::println(&format!("added vhost '{name}'"))
        }
    }
}

/// Runs `set permissions|policy|vhost-limits|user-limits`.
pub fn set(ctx: &Ctx, cmd: &SetCmd) -> Result<()> {
    let vhost = ctx.vhost();
    match cmd {
        SetCmd::Permissions {
            user,
            configure,
            write,
            read,
        } => {
            let body = json!({"configure": configure, "write": write, "read": read});
            ctx.client.put_json(
                &encode::api_path(&["permissions", vhost, user]),
                &body,
                &Subject::in_vhost("user", user, vhost),
            )?;
            output::println(&format!(
                "set permissions of user '{user}' in vhost '{vhost}'"
            ))
        }
        SetCmd::Policy {
            name,
            pattern,
            definition,
            apply_to,
            priority,
        } => {
            let body = json!({
                "pattern": pattern,
                "definition": definition,
                "apply-to": apply_to.as_str(),
                "priority": priority,
            });
            ctx.client.put_json(
                &encode::api_path(&["policies", vhost, name]),
                &body,
                &Subject::vhost(vhost),
            )?;
            output::println(&format!("set policy '{name}' in vhost '{vhost}'"))
        }
        SetCmd::VhostLimits {
            max_connections,
            max_queues,
        } => {
            let limits = given(&[
                ("max-connections", *max_connections),
                ("max-queues", *max_queues),
            ])?;
            for (limit, value) in &limits {
                ctx.client.put_json(
                    &encode::api_path(&["vhost-limits", vhost, limit]),
                    &json!({"value": value}),
                    &Subject::vhost(vhost),
                )?;
            }
            output::println(&format!("set {} of vhost '{vhost}'", describe(&limits)))
        }
        SetCmd::UserLimits {
            user,
            max_connections,
            max_channels,
        } => {
            let limits = given(&[
                ("max-connections", *max_connections),
                ("max-channels", *max_channels),
            ])?;
            for (limit, value) in &limits {
                ctx.client.put_json(
                    &encode::api_path(&["user-limits", user, limit]),
                    &json!({"value": value}),
                    &Subject::global("user", user),
                )?;
            }
            output::println(&format!("set {} of user '{user}'", describe(&limits)))
        }
    }
}

/// The limits given on the command line; at least one is required.
fn given(limits: &[(&'static str, Option<i64>)]) -> Result<Vec<(&'static str, i64)>> {
    let set: Vec<(&'static str, i64)> = limits
        .iter()
        .filter_map(|(k, v)| v.map(|v| (*k, v)))
        .collect();
    if set.is_empty() {
        let flags: Vec<String> = limits.iter().map(|(k, _)| format!("--{k}")).collect();
        return Err(CliError::Usage(format!(
            "give at least one of {}",
            flags.join(", ")
        )));
    }
    Ok(set)
}

fn describe(limits: &[(&str, i64)]) -> String {
    limits
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `clear permissions|policy|vhost-limits|user-limits`.
pub fn clear(ctx: &Ctx, cmd: &ClearCmd) -> Result<()> {
    let vhost = ctx.vhost();
    let (path, subject, done): (String, Subject, String) = match cmd {
        ClearCmd::Permissions { user } => (
            encode::api_path(&["permissions", vhost, user]),
            Subject::in_vhost("permissions of user", user, vhost),
            format!("cleared permissions of user '{user}' in vhost '{vhost}'"),
        ),
        ClearCmd::Policy { name } => (
            encode::api_path(&["policies", vhost, name]),
            Subject::in_vhost("policy", name, vhost),
            format!("cleared policy '{name}' in vhost '{vhost}'"),
        ),
        ClearCmd::VhostLimits { name } => {
            let limit = match name {
                VhostLimit::MaxConnections => "max-connections",
                VhostLimit::MaxQueues => "max-queues",
            };
            (
                encode::api_path(&["vhost-limits", vhost, limit]),
                Subject::in_vhost("limit", limit, vhost),
                format!("cleared {limit} of vhost '{vhost}'"),
            )
        }
        ClearCmd::UserLimits { user, name } => {
            let limit = match name {
                UserLimit::MaxConnections => "max-connections",
                UserLimit::MaxChannels => "max-channels",
            };
            (
                encode::api_path(&["user-limits", user, limit]),
                Subject::global("limit", &format!("{limit} of user {user}")),
                format!("cleared {limit} of user '{user}'"),
            )
        }
    };
    ctx.client.delete(&path, &[], &subject)?;
    output::println(&done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_one_limit_is_needed() {
        assert!(matches!(
            given(&[("max-queues", None)]),
            Err(CliError::Usage(m)) if m.contains("--max-queues")
        ));
        assert_eq!(
            given(&[("max-connections", Some(-1)), ("max-queues", None)]).unwrap(),
            vec![("max-connections", -1)]
        );
    }

    #[test]
    fn limits_read_as_key_value() {
        assert_eq!(
            describe(&[("max-connections", 10), ("max-queues", 5)]),
            "max-connections=10, max-queues=5"
        );
    }
}

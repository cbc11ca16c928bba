//! `list KIND`: fetch, filter, sort, then print as a table, JSON or TSV; `--watch`
//! redraws in place until Ctrl-C.
//!
//! `--sort`, `--sort-reverse`, `--filter` (as `name` + `use_regex=true`, for kinds named
//! by a `name` field) and `--columns` go to the server as RabbitMQ's query parameters, and are applied here as well, so
//! the result is the same whether or not the server honours them (RabbitMQ filters by
//! name only when paginating).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use regex::Regex;
use serde_json::{Map, Value};

use super::Ctx;
use crate::catalogue::{Column, Listing};
use crate::cli::ListArgs;
use crate::client::Subject;
use crate::encode;
use crate::error::{CliError, Result};
use crate::format::cell::{self, lookup};
use crate::format::{table, tsv, Format};
use crate::output;

/// Runs `list`.
pub fn run(ctx: &Ctx, args: &ListArgs) -> Result<()> {
    let Some(every) = args.watch else {
        return output::print(&render_once(ctx, args)?);
    };
    loop {
        let body = match render_once(ctx, args) {
            Ok(text) => text,
            // A broker restarting mid-watch is worth waiting for, not quitting over.
            Err(err @ (CliError::Unreachable { .. } | CliError::Server { .. })) => {
                format!("warrenctl: {err}\n")
            }
            Err(err) => return Err(err),
        };
        let header = format!(
            "Every {every}s: warrenctl list {}    {} UTC   (Ctrl-C to stop)",
            kind_name(args),
            clock()
        );
        output::print(&format!("\x1b[H\x1b[2J{header}\n\n{body}"))?;
        std::thread::sleep(Duration::from_secs(every));
    }
}

fn kind_name(args: &ListArgs) -> String {
    use clap::ValueEnum;
    args.kind
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// Wall-clock time of day as `HH:MM:SS` (UTC).
fn clock() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

/// Fetches and renders one listing.
fn render_once(ctx: &Ctx, args: &ListArgs) -> Result<String> {
    let listing = Listing::of(args.kind);
    let vhost = ctx.list_vhost().filter(|_| listing.vhost_scoped());
    let columns = chosen_columns(&listing, &args.columns);
    let sort = args.sort.as_deref().map(|key| listing.column(key));
    let query = server_query(&listing, args, &columns, sort.as_ref());
    let path = format!("{}{}", listing.path(vhost), encode::query(&query));
    let subject = match vhost {
        Some(v) => Subject::vhost(v),
        None => Subject::api(&listing.path(None)),
    };
    let reply = ctx.client.get_json(&path, &subject)?;
    let Value::Array(mut rows) = reply else {
        return Err(CliError::Server {
            status: 200,
            reason: format!("{} did not return a list", listing.path(vhost)),
        });
    };
    if let Some(re) = &args.filter {
        rows.retain(|row| matches_name(row, listing.name_paths(), re));
    }
    if let Some(col) = &sort {
        sort_rows(&mut rows, &col.path, args.sort_reverse);
    }
    let explicit_columns = !args.columns.is_empty();
    Ok(match ctx.format {
        Format::Json if explicit_columns => json_text(&Value::Array(project(&rows, &columns))),
        Format::Json => json_text(&Value::Array(rows)),
        Format::Tsv => render_tsv(&columns, &rows),
        Format::Table => {
            let hide_vhost =
                !explicit_columns && (vhost.is_some() || distinct_vhosts(&listing, &rows) <= 1);
            let shown: Vec<Column> = columns
                .into_iter()
                .filter(|c| !(hide_vhost && c.key == "vhost"))
                .collect();
            render_table(&shown, &rows)
        }
    })
}

fn json_text(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// The columns asked for with `--columns`, else the listing's defaults.
pub fn chosen_columns(listing: &Listing, keys: &[String]) -> Vec<Column> {
    if keys.is_empty() {
        return listing.default_columns();
    }
    keys.iter()
        .filter(|k| !k.trim().is_empty())
        .map(|k| listing.column(k.trim()))
        .collect()
}

/// RabbitMQ's query parameters for the listing. `columns` is sent only when the user
/// chose columns, and then also names the fields the client needs (name, vhost, sort).
pub fn server_query(
    listing: &Listing,
    args: &ListArgs,
    columns: &[Column],
    sort: Option<&Column>,
) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(col) = sort {
        query.push(("sort", col.path.clone()));
        if args.sort_reverse {
            query.push(("sort_reverse", "true".to_string()));
        }
    }
    // Only where the name is the `name` field: RabbitMQ ignores `name` unless the
    // request is paged, but a server that honours it (Warren) drops every object
    // without a `name` field (bindings, consumers, permissions).
    if let (Some(re), ["name"]) = (&args.filter, listing.name_paths()) {
        query.push(("name", re.as_str().to_string()));
        query.push(("use_regex", "true".to_string()));
    }
    if !args.columns.is_empty() {
        let mut fields: Vec<String> = Vec::new();
        let needed = columns
            .iter()
            .map(|c| c.path.as_str())
            .chain(listing.name_paths().iter().copied())
            .chain(listing.vhost_path())
            .chain(sort.map(|c| c.path.as_str()));
        for f in needed {
            if !fields.iter().any(|x| x == f) {
                fields.push(f.to_string());
            }
        }
        query.push(("columns", fields.join(",")));
    }
    query
}

/// Whether any of the row's name fields matches `re`.
pub fn matches_name(row: &Value, name_paths: &[&str], re: &Regex) -> bool {
    name_paths
        .iter()
        .filter_map(|p| lookup(row, p))
        .any(|v| re.is_match(&cell::plain(v)))
}

/// Stable sort by the field at `path` (numbers numerically, absent last).
pub fn sort_rows(rows: &mut [Value], path: &str, reverse: bool) {
    rows.sort_by(|a, b| {
        let ord = cell::compare(lookup(a, path), lookup(b, path));
        if reverse {
            ord.reverse()
        } else {
            ord
        }
    });
}

fn distinct_vhosts(listing: &Listing, rows: &[Value]) -> usize {
    let Some(path) = listing.vhost_path() else {
        return 0;
    };
    rows.iter()
        .filter_map(|r| lookup(r, path).map(cell::plain))
        .collect::<BTreeSet<_>>()
        .len()
}

/// Each row reduced to the chosen columns, keyed by column name.
pub fn project(rows: &[Value], columns: &[Column]) -> Vec<Value> {
    rows.iter()
        .map(|row| {
            let obj: Map<String, Value> = columns
                .iter()
                .map(|c| {
                    (
                        c.key.clone(),
                        lookup(row, &c.path).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect();
            Value::Object(obj)
        })
        .collect()
}

/// An aligned table of `rows` in `columns`, human-readable numbers.
pub fn render_table(columns: &[Column], rows: &[Value]) -> String {
    let headers: Vec<String> = columns.iter().map(|c| c.key.clone()).collect();
    let cells: Vec<Vec<table::Cell>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| cell::table_cell(c.kind, lookup(row, &c.path)))
                .collect()
        })
        .collect();
    table::render(&headers, &cells)
}

/// TSV of `rows` in `columns`, raw values.
pub fn render_tsv(columns: &[Column], rows: &[Value]) -> String {
    let headers: Vec<String> = columns.iter().map(|c| c.key.clone()).collect();
    let fields: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| lookup(row, &c.path).map(cell::plain).unwrap_or_default())
                .collect()
        })
        .collect();
    tsv::render(&headers, &fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ListKind;
    use serde_json::json;

    fn args(columns: &[&str], sort: Option<&str>, filter: Option<&str>) -> ListArgs {
        ListArgs {
            kind: ListKind::Queues,
            columns: columns.iter().map(|s| s.to_string()).collect(),
            sort: sort.map(String::from),
            sort_reverse: true,
            filter: filter.map(|f| Regex::new(f).unwrap()),
            watch: None,
        }
    }

    #[test]
    fn server_query_carries_sort_filter_and_needed_columns() {
        let listing = Listing::of(ListKind::Queues);
        let a = args(&["messages"], Some("ready"), Some("^orders"));
        let cols = chosen_columns(&listing, &a.columns);
        let sort = listing.column("ready");
        let q = server_query(&listing, &a, &cols, Some(&sort));
        assert_eq!(
            q,
            vec![
                ("sort", "messages_ready".to_string()),
                ("sort_reverse", "true".to_string()),
                ("name", "^orders".to_string()),
                ("use_regex", "true".to_string()),
                ("columns", "messages,name,vhost,messages_ready".to_string()),
            ]
        );
        let mut bindings = args(&[], None, Some("^orders"));
        bindings.kind = ListKind::Bindings;
        let listing = Listing::of(ListKind::Bindings);
        assert!(
            server_query(&listing, &bindings, &listing.default_columns(), None).is_empty(),
            "bindings have no name field for the server to filter on"
        );
        let listing = Listing::of(ListKind::Queues);
        let plain = args(&[], None, None);
        assert!(server_query(&listing, &plain, &listing.default_columns(), None).is_empty());
    }

    #[test]
    fn filter_sort_and_project_on_the_client() {
        let mut rows = vec![
            json!({"name": "b", "messages": 10}),
            json!({"name": "orders.a", "messages": 9}),
            json!({"name": "orders.b"}),
            json!({"name": "orders.c", "messages": 100}),
        ];
        let re = Regex::new("^orders").unwrap();
        rows.retain(|r| matches_name(r, &["name"], &re));
        sort_rows(&mut rows, "messages", false);
        let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["orders.a", "orders.c", "orders.b"]);
        let listing = Listing::of(ListKind::Queues);
        let cols = chosen_columns(&listing, &["name".into(), "messages".into()]);
        assert_eq!(
            project(&rows[..1], &cols),
            vec![json!({"name": "orders.a", "messages": 9})]
        );
    }

    #[test]
    fn table_and_tsv_show_the_same_columns() {
        let listing = Listing::of(ListKind::Queues);
        let cols = chosen_columns(&listing, &["name".into(), "publish".into(), "bytes".into()]);
        let rows = vec![json!({
            "name": "tasks",
            "message_bytes": 1_258_291,
            "message_stats": {"publish_details": {"rate": 12.34}}
        })];
        assert_eq!(
            render_table(&cols, &rows),
            "name   publish    bytes\ntasks   12.3/s  1.2 MiB\n"
        );
        assert_eq!(
            render_tsv(&cols, &rows),
            "name\tpublish\tbytes\ntasks\t12.34\t1258291\n"
        );
    }
}

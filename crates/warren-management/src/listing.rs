//! RabbitMQ's list query parameters, applied to a list of JSON objects: `name` +
//! `use_regex` filter, `sort` + `sort_reverse`, `page` + `page_size` pagination (which
//! wraps the answer in `{items, page, page_count, ...}`), and `columns=` to keep only
//! some (dotted) fields.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Most items one page may hold (RabbitMQ's limit).
pub const MAX_PAGE_SIZE: usize = 500;
/// Items per page when `page` is given without `page_size`.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// The list query of one request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    page: Option<usize>,
    page_size: Option<usize>,
    name: Option<String>,
    use_regex: bool,
    sort: Option<String>,
    sort_reverse: bool,
    columns: Option<Vec<String>>,
}

fn flag(params: &HashMap<String, String>, key: &str) -> bool {
    params.get(key).is_some_and(|v| v == "true")
}

impl ListQuery {
    /// Reads the parameters; bad pagination is RabbitMQ's 400.
    pub fn parse(params: &HashMap<String, String>) -> ApiResult<Self> {
        let number = |key: &str| -> ApiResult<Option<usize>> {
            match params.get(key) {
                None => Ok(None),
                Some(v) => v
                    .parse::<usize>()
                    .map(Some)
                    .map_err(|_| bad_pagination(params.get("page"), params.get("page_size"))),
            }
        };
        let page = number("page")?;
        let page_size = number("page_size")?;
        if page == Some(0) || page_size == Some(0) || page_size.is_some_and(|s| s > MAX_PAGE_SIZE) {
            return Err(bad_pagination(params.get("page"), params.get("page_size")));
        }
        Ok(ListQuery {
            page,
            page_size,
            name: params.get("name").filter(|n| !n.is_empty()).cloned(),
            use_regex: flag(params, "use_regex"),
            sort: params.get("sort").filter(|s| !s.is_empty()).cloned(),
            sort_reverse: flag(params, "sort_reverse"),
            columns: params.get("columns").map(|c| {
                c.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
        })
    }

    /// Whether the answer is paginated.
    pub fn is_paged(&self) -> bool {
        self.page.is_some()
    }

    /// Filters, sorts, pages and trims `items` into the answer.
    pub fn apply(&self, mut items: Vec<Value>) -> ApiResult<Value> {
        let total = items.len();
        // As in RabbitMQ, the name filter is part of pagination: without `page` it is
        // ignored, and objects without a name are never filtered out.
        if let (Some(name), true) = (&self.name, self.is_paged()) {
            let matches = name_matcher(name, self.use_regex)?;
            items.retain(|item| match item.get("name").and_then(Value::as_str) {
                Some(n) => matches(n),
                None => true,
            });
        }
        if let Some(key) = &self.sort {
            let path: Vec<&str> = key.split('.').collect();
            items.sort_by(|a, b| compare(lookup(a, &path), lookup(b, &path)));
        }
        if self.sort_reverse {
            items.reverse();
        }
        let filtered = items.len();
        let Some(page) = self.page else {
            return Ok(Value::Array(self.trim_all(items)));
        };
        let size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        let page_count = filtered.div_ceil(size);
        if page > page_count.max(1) {
            return Err(ApiError::bad_request(format!(
                "Page out of range, page count is {page_count}"
            )));
        }
        let items: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * size)
            .take(size)
            .collect();
        let mut out = Map::new();
        out.insert("filtered_count".into(), filtered.into());
        out.insert("item_count".into(), items.len().into());
        out.insert("items".into(), Value::Array(self.trim_all(items)));
        out.insert("page".into(), page.into());
        out.insert("page_count".into(), page_count.into());
        out.insert("page_size".into(), size.into());
        out.insert("total_count".into(), total.into());
        Ok(Value::Object(out))
    }

    /// Keeps only the requested columns of one object.
    pub fn trim(&self, item: Value) -> Value {
        match &self.columns {
            None => item,
            Some(columns) => keep_columns(&item, columns),
        }
    }

    fn trim_all(&self, items: Vec<Value>) -> Vec<Value> {
        if self.columns.is_none() {
            return items;
        }
        items.into_iter().map(|i| self.trim(i)).collect()
    }
}

fn bad_pagination(page: Option<&String>, size: Option<&String>) -> ApiError {
    let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "undefined".into());
    ApiError {
        status: axum::http::StatusCode::BAD_REQUEST,
        error: "invalid_pagination_parameters".into(),
        reason: format!(
            "Invalid pagination parameters: page number {}, page size {}",
            show(page),
            show(size)
        ),
    }
}

/// A predicate on names.
type NameMatcher = Box<dyn Fn(&str) -> bool>;

fn name_matcher(name: &str, use_regex: bool) -> ApiResult<NameMatcher> {
    if use_regex {
        let re = regex::Regex::new(name)
            .map_err(|e| ApiError::bad_request(format!("invalid regex '{name}': {e}")))?;
        Ok(Box::new(move |s| re.is_match(s)))
    } else {
        let needle = name.to_lowercase();
        Ok(Box::new(move |s| s.to_lowercase().contains(&needle)))
    }
}

fn lookup<'a>(item: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(item, |v, key| v.get(key))
}

/// Missing values sort first; numbers numerically, strings case-insensitively.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

fn keep_columns(item: &Value, columns: &[String]) -> Value {
    let mut out = Map::new();
    for column in columns {
        let path: Vec<&str> = column.split('.').collect();
        if let Some(v) = lookup(item, &path) {
            insert_path(&mut out, &path, v.clone());
        }
    }
    Value::Object(out)
}

fn insert_path(map: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(pairs: &[(&str, &str)]) -> ApiResult<ListQuery> {
        let params = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ListQuery::parse(&params)
    }

    fn items() -> Vec<Value> {
        (1..=5)
            .map(|i| json!({"name": format!("q{i}"), "messages": 10 - i, "stats": {"rate": i}}))
            .collect()
    }

    #[test]
    fn pages_report_counts_as_rabbitmq_does() {
        let out = query(&[("page", "2"), ("page_size", "2")])
            .unwrap()
            .apply(items())
            .unwrap();
        assert_eq!(out["page"], 2);
        assert_eq!(out["page_count"], 3);
        assert_eq!(out["item_count"], 2);
        assert_eq!(out["total_count"], 5);
        assert_eq!(out["items"][0]["name"], "q3");
    }

    #[test]
    fn bad_pages_are_400() {
        let e = query(&[("page", "0")]).unwrap_err();
        assert_eq!(e.error, "invalid_pagination_parameters");
        assert_eq!(
            e.reason,
            "Invalid pagination parameters: page number 0, page size undefined"
        );
        assert!(query(&[("page", "1"), ("page_size", "501")]).is_err());
        assert!(query(&[("page", "x")]).is_err());
        let e = query(&[("page", "9")]).unwrap().apply(items()).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn name_filters_by_substring_or_regex_and_sorts_by_a_dotted_key() {
        let out = query(&[("name", "Q1"), ("page", "1")])
            .unwrap()
            .apply(items())
            .unwrap();
        assert_eq!(out["filtered_count"], 1);
        let out = query(&[("name", "^q[23]$"), ("use_regex", "true"), ("page", "1")])
            .unwrap()
            .apply(items())
            .unwrap();
        assert_eq!(out["filtered_count"], 2);
        let unpaged = query(&[("name", "zzz")]).unwrap().apply(items()).unwrap();
        assert_eq!(unpaged.as_array().unwrap().len(), 5, "ignored without page");
        let none = query(&[("name", "zzz"), ("page", "1")])
            .unwrap()
            .apply(items())
            .unwrap();
        assert_eq!(none["filtered_count"], 0);
        assert_eq!(none["page_count"], 0);
        let out = query(&[("sort", "stats.rate"), ("sort_reverse", "true")])
            .unwrap()
            .apply(items())
            .unwrap();
        assert_eq!(out[0]["name"], "q5");
        assert!(
            query(&[("name", "("), ("use_regex", "true"), ("page", "1")])
                .unwrap()
                .apply(items())
                .is_err()
        );
    }

    #[test]
    fn columns_keep_nested_fields() {
        let out = query(&[("columns", "name,stats.rate")])
            .unwrap()
            .apply(items())
            .unwrap();
        assert_eq!(out[0], json!({"name": "q1", "stats": {"rate": 1}}));
    }
}

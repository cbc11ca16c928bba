//! Permission patterns with RabbitMQ's semantics: a regular expression searched for
//! anywhere in the name (not anchored: `orders` also allows `old-orders-2`; write `^orders$`
//! to mean exactly that name), and the empty pattern meaning "nothing" (RabbitMQ reads it
//! as `^$`). `.*` is recognised so the common allow-all case costs no regex run.

use regex::Regex;

/// A compiled permission pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    All,
    Regex(Regex),
}

/// A pattern that is not a valid regular expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression '{pattern}': {reason}")]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Pattern {
    /// Compiles `source`.
    pub fn new(source: &str) -> Result<Self, PatternError> {
        let matcher = match source {
            ".*" | "^.*" | "^.*$" | ".*$" => Matcher::All,
            "" => Matcher::Regex(Regex::new("^$").expect("valid")),
            _ => Matcher::Regex(Regex::new(source).map_err(|e| PatternError {
                pattern: source.to_owned(),
                reason: e.to_string(),
            })?),
        };
        Ok(Pattern {
            source: source.to_owned(),
            matcher,
        })
    }

    /// Whether `name` is allowed.
    pub fn allows(&self, name: &str) -> bool {
        match &self.matcher {
            Matcher::All => true,
            Matcher::Regex(re) => re.is_match(name),
        }
    }

    /// Whether every name is allowed.
    pub fn allows_all(&self) -> bool {
        matches!(self.matcher, Matcher::All)
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_search_unanchored_and_empty_allows_nothing() {
        let p = Pattern::new("orders").unwrap();
        assert!(p.allows("orders") && p.allows("old-orders-2"));
        assert!(!p.allows("billing"));
        let exact = Pattern::new("^orders$").unwrap();
        assert!(exact.allows("orders") && !exact.allows("orders.x"));
        let none = Pattern::new("").unwrap();
        assert!(!none.allows("anything") && !none.allows_all());
        assert!(Pattern::new(".*").unwrap().allows_all());
        assert!(Pattern::new("(").is_err());
    }
}

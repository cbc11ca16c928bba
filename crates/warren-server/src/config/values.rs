//! Reading the config file's two multi-shape values, [`OneOrMany`] and
//! [`SizeOrFraction`], by hand rather than with `#[serde(untagged)]`, so a value of the
//! wrong shape says what was expected (`invalid type: boolean `true`, expected a size
//! ...`) instead of "data did not match any variant of untagged enum".

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::file::{OneOrMany, SizeOrFraction};

struct OneOrManyVisitor;

impl<'de> Visitor<'de> for OneOrManyVisitor {
    type Value = OneOrMany;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
        Ok(OneOrMany::One(v.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
        let mut all = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            all.push(item);
        }
        Ok(OneOrMany::Many(all))
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OneOrManyVisitor)
    }
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = SizeOrFraction;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a size: a number of bytes or a string with a unit (\"50MB\", \"2GiB\"); \
             memory_high_watermark also takes a fraction of RAM (0.4) or \"off\"",
        )
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SizeOrFraction, E> {
        Ok(SizeOrFraction::Bytes(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SizeOrFraction, E> {
        u64::try_from(v)
            .map(SizeOrFraction::Bytes)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<SizeOrFraction, E> {
        Ok(SizeOrFraction::Fraction(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SizeOrFraction, E> {
        Ok(SizeOrFraction::Text(v.to_owned()))
    }
}

impl<'de> Deserialize<'de> for SizeOrFraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Doc {
        list: Option<OneOrMany>,
        size: Option<SizeOrFraction>,
    }

    fn doc(text: &str) -> Result<Doc, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn every_shape_reads() {
        assert_eq!(
            doc("list = \"a,b\"").unwrap().list,
            Some(OneOrMany::One("a,b".into()))
        );
        assert_eq!(
            doc("list = [\"a\", \"b\"]").unwrap().list,
            Some(OneOrMany::Many(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            doc("size = 5").unwrap().size,
            Some(SizeOrFraction::Bytes(5))
        );
        assert_eq!(
            doc("size = 0.4").unwrap().size,
            Some(SizeOrFraction::Fraction(0.4))
        );
        assert_eq!(
            doc("size = \"2GiB\"").unwrap().size,
            Some(SizeOrFraction::Text("2GiB".into()))
        );
    }

    #[test]
    fn a_wrong_shape_says_what_was_expected() {
        let e = doc("size = true").unwrap_err();
        assert!(e.contains("expected a size"), "{e}");
        let e = doc("size = -3").unwrap_err();
        assert!(e.contains("expected a size"), "{e}");
        let e = doc("list = 5").unwrap_err();
        assert!(e.contains("expected a string or a list of strings"), "{e}");
        let e = doc("list = [\"a\", 5]").unwrap_err();
        assert!(e.contains("expected a string"), "{e}");
    }
}

//! RFC 3339 UTC timestamps in one fixed shape (`2026-11-20T10:15:30.123Z`), so that stored timestamps
//! sort as text in the same order as in time (DynamoDB sort keys compare strings).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Formats `t` with millisecond precision and a `Z`.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses any RFC 3339 timestamp into UTC.
pub fn parse(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

/// Serde `with` module for a required timestamp.
pub mod required {
    use super::*;

    /// Writes the fixed shape.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t))
    }

    /// Reads any RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde `with` module for an optional timestamp (absent when `None`; pair with `skip_serializing_if`).
pub mod optional {
    use super::*;

    /// Writes the fixed shape.
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format(*t)),
            None => s.serialize_none(),
        }
    }

    /// Reads any RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => parse(&text).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_shape_sorts_like_time() {
        let a = parse("2026-11-20T10:00:01Z").unwrap();
        let b = parse("2026-11-20T10:00:01.5Z").unwrap();
        let c = parse("2026-11-20T12:00:01+01:00").unwrap();
        assert_eq!(format(a), "2026-11-20T10:00:01.000Z");
        assert_eq!(format(b), "2026-11-20T10:00:01.500Z");
        assert_eq!(format(c), "2026-11-20T11:00:01.000Z");
        assert!(format(a) < format(b) && format(b) < format(c));
    }
}

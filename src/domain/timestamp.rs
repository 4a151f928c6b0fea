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

/// RFC 3339, or an age before `now` such as `90s`, `30m`, `24h`, `7d`; the error says what was expected.
pub fn parse_time_or_age(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = parse(s) {
        return Ok(t);
    }
    let expected = || format!("`{s}` is not a time: expected RFC 3339 (2026-11-20T10:00:00Z) or an age (30m, 24h, 7d)");
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(expected)?);
    let n: i64 = digits.parse().map_err(|_| expected())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(expected()),
    };
    n.checked_mul(secs)
        .and_then(chrono::Duration::try_seconds)
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(expected)
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

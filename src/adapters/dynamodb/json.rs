//! Items in DynamoDB's JSON (`{"S":"..."}`, `{"N":"1"}`, `{"M":{...}}`), for the calls made with the lean
//! client (`adapters::aws_json`): written straight from the items the codec builds, and read back from an
//! answer.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::codec::Item;

/// Appends `item` as a JSON object of attribute values.
pub(super) fn write_item(item: &Item, out: &mut Vec<u8>) {
    out.push(b'{');
    for (n, (name, value)) in item.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(name, out);
        out.push(b':');
        write_value(value, out);
    }
    out.push(b'}');
}

/// Appends `s` as a JSON string.
pub(super) fn write_str(s: &str, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail, and a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_value(value: &AttributeValue, out: &mut Vec<u8>) {
    let tagged = |tag: &str, out: &mut Vec<u8>| {
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(tag.as_bytes());
        out.extend_from_slice(b"\":");
    };
    let list = |items: &mut dyn Iterator<Item = &str>, out: &mut Vec<u8>| {
        out.push(b'[');
        for (n, s) in items.enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_str(s, out);
        }
        out.push(b']');
    };
    match value {
        AttributeValue::S(s) => {
            tagged("S", out);
            write_str(s, out);
        }
        AttributeValue::N(n) => {
            tagged("N", out);
            write_str(n, out);
        }
        AttributeValue::B(b) => {
            tagged("B", out);
            write_str(&STANDARD.encode(b.as_ref()), out);
        }
        AttributeValue::Bool(b) => {
            tagged("BOOL", out);
            out.extend_from_slice(if *b { b"true" } else { b"false" });
        }
        AttributeValue::M(m) => {
            tagged("M", out);
            write_item(m, out);
        }
        AttributeValue::L(l) => {
            tagged("L", out);
            out.push(b'[');
            for (n, v) in l.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_value(v, out);
            }
            out.push(b']');
        }
        AttributeValue::Ss(ss) => {
            tagged("SS", out);
            list(&mut ss.iter().map(String::as_str), out);
        }
        AttributeValue::Ns(ns) => {
            tagged("NS", out);
            list(&mut ns.iter().map(String::as_str), out);
        }
        AttributeValue::Bs(bs) => {
            tagged("BS", out);
            let encoded: Vec<String> = bs.iter().map(|b| STANDARD.encode(b.as_ref())).collect();
            list(&mut encoded.iter().map(String::as_str), out);
        }
        // `Null`, and the SDK's placeholder for a type newer than it (never built by this program).
        _ => {
            tagged("NULL", out);
            out.extend_from_slice(b"true");
        }
    }
    out.push(b'}');
}

/// The item a JSON object of attribute values holds; `None` if it is not one.
pub(super) fn read_item(json: &Value) -> Option<Item> {
    json.as_object()?.iter().map(|(name, v)| Some((name.clone(), read_value(v)?))).collect()
}

fn read_value(json: &Value) -> Option<AttributeValue> {
    let (tag, v) = json.as_object().filter(|o| o.len() == 1)?.iter().next()?;
    let strings =
        |v: &Value| -> Option<Vec<String>> { v.as_array()?.iter().map(|s| s.as_str().map(str::to_owned)).collect() };
    let blob = |v: &Value| Some(Blob::new(STANDARD.decode(v.as_str()?).ok()?));
    Some(match tag.as_str() {
        "S" => AttributeValue::S(v.as_str()?.to_owned()),
        "N" => AttributeValue::N(v.as_str()?.to_owned()),
        "B" => AttributeValue::B(blob(v)?),
        "BOOL" => AttributeValue::Bool(v.as_bool()?),
        "NULL" => AttributeValue::Null(v.as_bool()?),
        "M" => AttributeValue::M(read_item(v)?),
        "L" => AttributeValue::L(v.as_array()?.iter().map(read_value).collect::<Option<_>>()?),
        "SS" => AttributeValue::Ss(strings(v)?),
        "NS" => AttributeValue::Ns(strings(v)?),
        "BS" => AttributeValue::Bs(v.as_array()?.iter().map(blob).collect::<Option<_>>()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<HashMap<_, _>>()
    }

    #[test]
    fn every_type_round_trips_as_the_sdk_writes_it() {
        let nested = item(&[("count", AttributeValue::N("2".into())), ("ok", AttributeValue::Bool(false))]);
        let original = item(&[
            ("pk", AttributeValue::S("INC#1 \"quoted\" \\ \u{1} é".into())),
            ("n", AttributeValue::N("-1.5e3".into())),
            ("body", AttributeValue::B(Blob::new(vec![0u8, 255, 10, 13]))),
            ("t", AttributeValue::Bool(true)),
            ("gone", AttributeValue::Null(true)),
            ("m", AttributeValue::M(nested.clone())),
            ("l", AttributeValue::L(vec![AttributeValue::S("a".into()), AttributeValue::M(nested)])),
            ("ss", AttributeValue::Ss(vec!["x".into(), "y".into()])),
            ("ns", AttributeValue::Ns(vec!["1".into(), "2".into()])),
            ("bs", AttributeValue::Bs(vec![Blob::new(b"ab".to_vec())])),
            ("empty", AttributeValue::M(HashMap::new())),
        ]);
        let mut out = Vec::new();
        write_item(&original, &mut out);
        let json: Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(json["body"], serde_json::json!({"B": "AP8KDQ=="}));
        assert_eq!(json["gone"], serde_json::json!({"NULL": true}));
        assert_eq!(json["ss"], serde_json::json!({"SS": ["x", "y"]}));
        assert_eq!(read_item(&json), Some(original));
    }

    #[test]
    fn what_is_not_an_item_reads_as_none() {
        for bad in
            [r#"[]"#, r#"{"a":{"S":1}}"#, r#"{"a":{"X":"1"}}"#, r#"{"a":{"S":"1","N":"1"}}"#, r#"{"a":{"B":"!!"}}"#]
        {
            assert_eq!(read_item(&serde_json::from_str(bad).unwrap()), None, "{bad}");
        }
    }
}

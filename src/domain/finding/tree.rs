//! The free-form members of a finding (`resource`, `service.action`, `service.detection`) read as a tree that
//! borrows its text from the message.
//!
//! `serde_json::Value` allocates a string for every key and value and a map for every object, then frees it
//! all once the few members a finding is read by are taken: `perf` showed that as the largest part of a
//! finding's parse. Here a string without escapes is a slice of the message and an object is a list.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value, its strings borrowed where they have no escapes. Numbers, booleans and null are
/// [`Node::Other`]: nothing reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Node<'a> {
    /// A number, a boolean, null, or a member that is absent.
    #[default]
    Other,
    /// A string.
    Str(Cow<'a, str>),
    /// An array.
    Array(Vec<Node<'a>>),
    /// An object's members, in the order of the document.
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// The member `key` of an object; of a key given twice, the last (as `serde_json::Value` keeps).
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.as_object()?.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Node<'a>]> {
        match self {
            Node::Array(list) => Some(list),
            _ => None,
        }
    }

    /// The members in document order, if this is an object.
    pub fn as_object(&self) -> Option<&[(Cow<'a, str>, Node<'a>)]> {
        match self {
            Node::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The node at `pointer`, a JSON pointer without escapes (`/instanceDetails/tags/0`).
    pub fn at(&self, pointer: &str) -> Option<&Node<'a>> {
        let Some(path) = pointer.strip_prefix('/') else { return pointer.is_empty().then_some(self) };
        path.split('/').try_fold(self, |node, step| match node {
            Node::Object(_) => node.get(step),
            Node::Array(list) => step.parse::<usize>().ok().and_then(|i| list.get(i)),
            _ => None,
        })
    }

    /// The text at `pointer`, trimmed, unless there is none.
    pub fn text(&self, pointer: &str) -> Option<&str> {
        self.at(pointer).and_then(Node::as_str).map(str::trim).filter(|s| !s.is_empty())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Node<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node<'de>, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(node) = seq.next_element()? {
            list.push(node);
        }
        Ok(Node::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        // A key is read as a node too (serde's own `Cow` would always copy it); JSON's keys are strings.
        while let Some((key, node)) = map.next_entry::<Node, Node>()? {
            if let Node::Str(key) = key {
                members.push((key, node));
            }
        }
        Ok(Node::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_a_json_pointer_finds() {
        let text = r#"{"a": {"b": [{"c": " x "}, {"c": "y\n"}], "n": 1, "t": true, "z": null},
            "dup": "first", "dup": "second", "esc": "a\"b", "": {"": "empty key"}}"#;
        let node: Node = serde_json::from_str(text).unwrap();
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        for pointer in [
            "", "/a", "/a/b", "/a/b/0/c", "/a/b/1/c", "/a/b/2/c", "/a/b/x", "/a/n", "/a/t", "/a/z", "/dup", "/esc",
            "//",
        ] {
            let want = value.pointer(pointer).and_then(serde_json::Value::as_str);
            assert_eq!(node.at(pointer).and_then(Node::as_str), want, "{pointer}");
            assert_eq!(node.at(pointer).is_some(), value.pointer(pointer).is_some(), "{pointer}");
        }
        assert_eq!(node.text("/a/b/0/c"), Some("x"), "trimmed");
        assert_eq!(node.text("/a/n"), None, "numbers are not text");
        assert_eq!(node.at("a"), None, "a pointer starts with a slash");
        // Strings without escapes are slices of the message; the others are copies.
        assert!(matches!(node.at("/dup"), Some(Node::Str(Cow::Borrowed("second")))));
        assert!(matches!(node.at("/esc"), Some(Node::Str(Cow::Owned(s))) if s == "a\"b"));
        let keys: Vec<&str> = node.as_object().unwrap().iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["a", "dup", "dup", "esc", ""], "members in the document's order");
        assert_eq!(node.at("/a/b").and_then(Node::as_array).map(<[_]>::len), Some(2));
    }

    #[test]
    fn nesting_past_the_parsers_limit_is_refused() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(serde_json::from_str::<Node>(&deep).is_err());
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(serde_json::from_str::<Node>(&fine).is_ok());
    }
}

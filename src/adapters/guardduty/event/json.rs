//! Writing JSON objects member by member, leaving absent members out.

use aws_sdk_guardduty::primitives::{DateTime, DateTimeFormat};
use aws_sdk_guardduty::types::Tag;
use serde_json::{Map, Number, Value};

/// A JSON object under construction; absent members are left out rather than written as `null`.
pub(super) struct Obj(Map<String, Value>);

impl Obj {
    pub(super) fn new() -> Self {
        Obj(Map::new())
    }

    pub(super) fn value(mut self, key: &str, value: Option<Value>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_owned(), v);
        }
        self
    }

    pub(super) fn string(self, key: &str, value: String) -> Self {
        self.value(key, Some(Value::String(value)))
    }

    pub(super) fn str(self, key: &str, value: Option<&str>) -> Self {
        self.value(key, value.map(|s| Value::String(s.to_owned())))
    }

    pub(super) fn bool(self, key: &str, value: Option<bool>) -> Self {
        self.value(key, value.map(Value::Bool))
    }

    pub(super) fn int(self, key: &str, value: Option<i32>) -> Self {
        self.value(key, value.map(Value::from))
    }

    /// A JSON number; NaN and infinities have no JSON form and are left out.
    pub(super) fn float(self, key: &str, value: Option<f64>) -> Self {
        self.value(key, value.and_then(Number::from_f64).map(Value::Number))
    }

    /// An ISO-8601 (RFC 3339, UTC) string; a date beyond what RFC 3339 can write is left out.
    pub(super) fn time(self, key: &str, value: Option<&DateTime>) -> Self {
        self.value(key, value.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()).map(Value::String))
    }

    pub(super) fn strs(self, key: &str, values: Option<&[String]>) -> Self {
        self.value(key, values.map(|v| v.iter().map(|s| Value::String(s.clone())).collect()))
    }

    pub(super) fn list<T>(self, key: &str, items: Option<&[T]>, each: impl Fn(&T) -> Value) -> Self {
        self.value(key, items.map(|items| items.iter().map(each).collect()))
    }

    /// Tags as GuardDuty writes them: an array of `{"key", "value"}`.
    pub(super) fn tags(self, key: &str, tags: Option<&[Tag]>) -> Self {
        self.list(key, tags, |t| Obj::new().str("key", t.key()).str("value", t.value()).build())
    }

    pub(super) fn build(self) -> Value {
        Value::Object(self.0)
    }
}

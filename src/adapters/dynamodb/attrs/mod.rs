//! A record's attributes written by serde straight as DynamoDB JSON, for the put of every new finding.
//!
//! `serde_dynamo` builds an item as a tree of hash maps (twice: its own, then the SDK's), which
//! `json::write_item` then writes out: `perf` of the daemon draining LOW findings put about a sixth of its CPU in
//! building, hashing and freeing those maps. [`Attrs`] writes the same attributes into one buffer, each value
//! encoded exactly as `serde_dynamo` encodes it (so that it reads back through `serde_dynamo`), and counts
//! the item's size as `codec::item_size` does.

#[cfg(test)]
mod tests;
mod value;

use std::fmt::Display;

use serde::ser::{self, Impossible, Serialize};

use super::json::write_str;
use value::Value;

/// Why a record cannot be written as attributes.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct AttrsError(String);

impl ser::Error for AttrsError {
    fn custom<T: Display>(msg: T) -> AttrsError {
        AttrsError(msg.to_string())
    }
}

/// The attributes of one item (or of one map attribute) as DynamoDB JSON, without the braces around them.
#[derive(Debug, Default)]
pub(super) struct Attrs {
    json: Vec<u8>,
    /// The size DynamoDB counts, as `codec::item_size`: names and values.
    size: usize,
    count: usize,
}

/// What becomes of a field of a record written with [`Attrs::fields`]: renamed, or left out (`None`).
pub(super) type Rename<'a> = (&'a str, Option<&'a str>);

impl Attrs {
    /// No attributes yet, with room for `capacity` bytes of JSON.
    pub(super) fn with_capacity(capacity: usize) -> Attrs {
        Attrs { json: Vec::with_capacity(capacity), size: 0, count: 0 }
    }

    /// The item's size as DynamoDB counts it (see `codec::item_size`).
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// How many attributes there are.
    pub(super) fn count(&self) -> usize {
        self.count
    }

    /// The length of their JSON, braces excluded.
    pub(super) fn json_len(&self) -> usize {
        self.json.len()
    }

    /// Appends the attributes as one JSON object.
    pub(super) fn write_object(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        out.extend_from_slice(&self.json);
        out.push(b'}');
    }

    fn name(&mut self, name: &str) {
        if self.count > 0 {
            self.json.push(b',');
        }
        write_str(name, &mut self.json);
        self.json.push(b':');
        self.size += name.len();
        self.count += 1;
    }

    fn value(&mut self) -> Value<'_> {
        Value { json: &mut self.json, size: &mut self.size }
    }

    /// A string attribute.
    pub(super) fn string(&mut self, name: &str, value: &str) {
        self.name(name);
        self.value().string(value);
    }

    /// A string attribute, or NULL.
    pub(super) fn string_or_null(&mut self, name: &str, value: Option<&str>) {
        self.name(name);
        match value {
            Some(value) => self.value().string(value),
            None => self.value().null(),
        }
    }

    /// A binary attribute.
    pub(super) fn binary(&mut self, name: &str, value: &[u8]) {
        self.name(name);
        self.value().binary(value);
    }

    /// A map attribute holding `attrs`.
    pub(super) fn map(&mut self, name: &str, attrs: &Attrs) {
        self.name(name);
        self.json.extend_from_slice(b"{\"M\":{");
        self.json.extend_from_slice(&attrs.json);
        self.json.extend_from_slice(b"}}");
        self.size += 3 + attrs.count + attrs.size;
    }

    /// The fields of `record` (a struct) as attributes, but those `renames` leaves out or renames.
    pub(super) fn fields<T: Serialize + ?Sized>(&mut self, record: &T, renames: &[Rename]) -> Result<(), AttrsError> {
        record.serialize(Fields { attrs: self, renames })
    }
}

/// Serializes a record's fields into [`Attrs`]; anything but a struct is refused.
struct Fields<'a, 'r> {
    attrs: &'a mut Attrs,
    renames: &'r [Rename<'r>],
}

impl ser::SerializeStruct for Fields<'_, '_> {
    type Ok = ();
    type Error = AttrsError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), AttrsError> {
        let name = match self.renames.iter().find(|(field, _)| *field == key) {
            Some((_, None)) => return Ok(()),
            Some((_, Some(name))) => name,
            None => key,
        };
        self.attrs.name(name);
        value.serialize(self.attrs.value())
    }

    fn end(self) -> Result<(), AttrsError> {
        Ok(())
    }
}

/// Refuses what is not a struct, in [`Fields`].
macro_rules! not_a_record {
    ($($method:ident($($arg:ty),*) -> $ok:ty;)*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<$ok, AttrsError> {
            Err(AttrsError("a record must be a struct".into()))
        }
    )*};
}

impl<'a, 'r> ser::Serializer for Fields<'a, 'r> {
    type Ok = ();
    type Error = AttrsError;
    type SerializeSeq = Impossible<(), AttrsError>;
    type SerializeTuple = Impossible<(), AttrsError>;
    type SerializeTupleStruct = Impossible<(), AttrsError>;
    type SerializeTupleVariant = Impossible<(), AttrsError>;
    type SerializeMap = Impossible<(), AttrsError>;
    type SerializeStruct = Fields<'a, 'r>;
    type SerializeStructVariant = Impossible<(), AttrsError>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, AttrsError> {
        Ok(self)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), AttrsError> {
        Err(AttrsError("a record must be a struct".into()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result<(), AttrsError> {
        Err(AttrsError("a record must be a struct".into()))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), AttrsError> {
        Err(AttrsError("a record must be a struct".into()))
    }

    not_a_record! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

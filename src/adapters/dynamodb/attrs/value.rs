//! One attribute value written as DynamoDB JSON, exactly as `serde_dynamo` encodes it: numbers `N` as Rust
//! displays them, `None` and `()` as `NULL`, a unit variant as its name (`S`), another variant as a map of
//! its name to its value, sequences `L`, structs and maps `M` (a map's keys strings, or numbers as text),
//! bytes `B`.

use std::fmt::Display;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::ser::{self, Serialize};

use super::AttrsError;
use crate::adapters::dynamodb::json::write_str;

/// One attribute value, as `serde_dynamo` encodes it, appended to `json`; its size added to `size`.
pub(super) struct Value<'a> {
    pub(super) json: &'a mut Vec<u8>,
    pub(super) size: &'a mut usize,
}

impl<'a> Value<'a> {
    fn reborrow(&mut self) -> Value<'_> {
        Value { json: self.json, size: self.size }
    }

    pub(super) fn string(self, s: &str) {
        self.json.extend_from_slice(b"{\"S\":");
        write_str(s, self.json);
        self.json.push(b'}');
        *self.size += s.len();
    }

    fn number(self, n: impl Display) {
        self.json.extend_from_slice(b"{\"N\":\"");
        let digits = self.json.len();
        // Writing into a Vec cannot fail.
        let _ = std::io::Write::write_fmt(self.json, format_args!("{n}"));
        *self.size += self.json.len() - digits;
        self.json.extend_from_slice(b"\"}");
    }

    pub(super) fn binary(self, bytes: &[u8]) {
        self.json.extend_from_slice(b"{\"B\":\"");
        // Base64 is ASCII, which JSON needs no escape for.
        let start = self.json.len();
        self.json.resize(start + bytes.len().div_ceil(3) * 4, 0);
        let written = STANDARD.encode_slice(bytes, &mut self.json[start..]).unwrap_or(0);
        self.json.truncate(start + written);
        self.json.extend_from_slice(b"\"}");
        *self.size += bytes.len();
    }

    pub(super) fn null(self) {
        self.json.extend_from_slice(b"{\"NULL\":true}");
        *self.size += 1;
    }

    /// Opens `{"M":{"<variant>":`, for the value of an enum's variant that follows.
    fn variant(self, variant: &str) -> Self {
        self.json.extend_from_slice(b"{\"M\":{");
        write_str(variant, self.json);
        self.json.push(b':');
        *self.size += 3 + 1 + variant.len();
        self
    }

    /// Opens a list (`L`) or a map (`M`), which `close` ends.
    fn compound(self, open: &[u8], close: &'static [u8]) -> Compound<'a> {
        self.json.extend_from_slice(open);
        *self.size += 3;
        Compound { value: self, first: true, close }
    }
}

/// A list or map being written: entries are separated, and `close` ends it.
pub(super) struct Compound<'a> {
    value: Value<'a>,
    first: bool,
    close: &'static [u8],
}

impl Compound<'_> {
    fn separate(&mut self) {
        if !self.first {
            self.value.json.push(b',');
        }
        self.first = false;
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), AttrsError> {
        self.separate();
        write_str(key, self.value.json);
        self.value.json.push(b':');
        *self.value.size += 1 + key.len();
        value.serialize(self.value.reborrow())
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AttrsError> {
        self.separate();
        *self.value.size += 1;
        value.serialize(self.value.reborrow())
    }

    /// A map's key: a string (or a number, as text), as `serde_dynamo` takes them.
    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), AttrsError> {
        let (mut json, mut size) = (Vec::new(), 0);
        key.serialize(Value { json: &mut json, size: &mut size })?;
        let quoted = match (json.strip_prefix(b"{\"S\":"), json.strip_prefix(b"{\"N\":")) {
            (Some(rest), _) | (None, Some(rest)) => rest.strip_suffix(b"}"),
            _ => None,
        };
        let quoted = quoted.ok_or_else(|| AttrsError("a map's key must be a string".into()))?;
        self.separate();
        self.value.json.extend_from_slice(quoted);
        self.value.json.push(b':');
        *self.value.size += 1 + size;
        Ok(())
    }

    fn end(self) -> Result<(), AttrsError> {
        self.value.json.extend_from_slice(self.close);
        Ok(())
    }
}

/// The serializers of lists and tuples (each value an element) and of structs (each field an entry).
macro_rules! compounds {
    ($($trait:ident::$method:ident($($key:ident)?) => $write:ident;)*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = AttrsError;
            fn $method<T: Serialize + ?Sized>(&mut self, $($key: &'static str,)? value: &T) -> Result<(), AttrsError> {
                self.$write($($key,)? value)
            }
            fn end(self) -> Result<(), AttrsError> {
                Compound::end(self)
            }
        }
    )*};
}

compounds! {
    SerializeSeq::serialize_element() => element;
    SerializeTuple::serialize_element() => element;
    SerializeTupleStruct::serialize_field() => element;
    SerializeTupleVariant::serialize_field() => element;
    SerializeStruct::serialize_field(key) => entry;
    SerializeStructVariant::serialize_field(key) => entry;
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = AttrsError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), AttrsError> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AttrsError> {
        value.serialize(self.value.reborrow())
    }
    fn end(self) -> Result<(), AttrsError> {
        Compound::end(self)
    }
}

/// Numbers as `N`, written as Rust displays them (as `serde_dynamo` does).
macro_rules! numbers {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method(self, v: $ty) -> Result<(), AttrsError> {
            self.number(v);
            Ok(())
        }
    )*};
}

impl<'a> ser::Serializer for Value<'a> {
    type Ok = ();
    type Error = AttrsError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), AttrsError> {
        self.json.extend_from_slice(if v { b"{\"BOOL\":true}" } else { b"{\"BOOL\":false}" });
        *self.size += 1;
        Ok(())
    }
    numbers! {
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
    }
    fn serialize_char(self, v: char) -> Result<(), AttrsError> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), AttrsError> {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), AttrsError> {
        self.binary(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), AttrsError> {
        self.null();
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), AttrsError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), AttrsError> {
        self.null();
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), AttrsError> {
        self.null();
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), AttrsError> {
        self.string(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<(), AttrsError> {
        // serde_dynamo's sets are newtypes of these names: never used by this program's records.
        if name.starts_with('\u{037E}') {
            return Err(AttrsError(format!("{name}: DynamoDB sets are not written by this writer")));
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), AttrsError> {
        let mut value_of = self.variant(variant);
        value.serialize(value_of.reborrow())?;
        value_of.json.extend_from_slice(b"}}");
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, AttrsError> {
        Ok(self.compound(b"{\"L\":[", b"]}"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, AttrsError> {
        Ok(self.compound(b"{\"L\":[", b"]}"))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, AttrsError> {
        Ok(self.compound(b"{\"L\":[", b"]}"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, AttrsError> {
        Ok(self.variant(variant).compound(b"{\"L\":[", b"]}}}"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, AttrsError> {
        Ok(self.compound(b"{\"M\":{", b"}}"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, AttrsError> {
        Ok(self.compound(b"{\"M\":{", b"}}"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, AttrsError> {
        Ok(self.variant(variant).compound(b"{\"M\":{", b"}}}}"))
    }
}

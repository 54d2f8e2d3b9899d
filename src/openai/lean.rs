//! Cheap readers for JSON values a request only needs to glance at, and the visitor helpers
//! of the typed, one-pass request parsers ([`super::request::parse`] for chat,
//! [`super::responses::parse`] for the Responses API).
//!
//! Arrays and objects we do not use are skipped with [`IgnoredAny`], which serde_json reads
//! iteratively without allocating (its nesting costs one byte per level), so a 20 MiB
//! `[[],[],...]` in an ignored field costs nothing beyond the body. Only strings and other
//! scalars are kept, and only where a rule reads them.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::RequestError;

/// A JSON value with its scalars kept and its arrays and objects reduced to their type:
/// enough to type-check a field and to word the error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Loose {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array,
    Object,
}

impl Loose {
    /// How OpenAI's error messages name this value's type.
    pub(crate) fn json_type(&self) -> &'static str {
        match self {
            Loose::Null => "null",
            Loose::Bool(_) => "a boolean",
            Loose::Number(_) => "a number",
            Loose::String(_) => "a string",
            Loose::Array => "an array",
            Loose::Object => "an object",
        }
    }

    /// The value as JSON, with arrays and objects empty.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Loose::Null => Value::Null,
            Loose::Bool(b) => Value::Bool(b),
            Loose::Number(n) => Value::Number(n),
            Loose::String(s) => Value::String(s),
            Loose::Array => Value::Array(Vec::new()),
            Loose::Object => Value::Object(Map::new()),
        }
    }

    /// The string, if this is one.
    pub(crate) fn into_string(self) -> Option<String> {
        match self {
            Loose::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Loose::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// Drains the rest of a sequence without keeping anything.
pub(crate) fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<usize, A::Error> {
    let mut n = 0;
    while seq.next_element::<IgnoredAny>()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// Drains the rest of a map without keeping anything.
pub(crate) fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Keeps a scalar, reduces an array or object to its type (also what the request reader
/// hands a scalar to where it expected an object or array).
pub(crate) struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_none<E>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Loose, E> {
        Ok(Loose::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Loose, E> {
        Ok(Loose::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Loose, E> {
        Ok(Loose::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Loose, E> {
        Ok(Number::from_f64(n).map_or(Loose::Null, Loose::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Loose, E> {
        Ok(Loose::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Loose, E> {
        Ok(Loose::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Loose, A::Error> {
        skip_seq(seq)?;
        Ok(Loose::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loose, A::Error> {
        skip_map(map)?;
        Ok(Loose::Object)
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

/// Turns a visitor of objects into one of any value: another value is read as [`Loose`]
/// (the `Err` of the result) for the type error.
pub(crate) struct MapOr<V>(pub(crate) V);

/// Turns a visitor of arrays into one of any value, like [`MapOr`].
pub(crate) struct SeqOr<V>(pub(crate) V);

macro_rules! scalars_to_loose {
    ($($method:ident($($arg:ident: $ty:ty),*)),*) => {$(
        fn $method<E: de::Error>(self, $($arg: $ty),*) -> Result<Self::Value, E> {
            Visitor::$method(LooseVisitor, $($arg),*).map(Err)
        }
    )*};
}

macro_rules! or_loose_visitor {
    ($wrapper:ident, $kind:ident, $kind_access:ident, $other:ident, $other_access:ident, $skip:ident, $placeholder:expr) => {
        impl<'de, V: Visitor<'de>> Visitor<'de> for $wrapper<V> {
            type Value = Result<V::Value, Loose>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                self.0.expecting(f)
            }
            fn $kind<A: $kind_access<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
                self.0.$kind(access).map(Ok)
            }
            fn $other<A: $other_access<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
                $skip(access)?;
                Ok(Err($placeholder))
            }
            scalars_to_loose!(
                visit_unit(),
                visit_none(),
                visit_bool(b: bool),
                visit_i64(n: i64),
                visit_u64(n: u64),
                visit_f64(n: f64),
                visit_str(s: &str),
                visit_string(s: String)
            );
        }
    };
}

or_loose_visitor!(
    MapOr,
    visit_map,
    MapAccess,
    visit_seq,
    SeqAccess,
    skip_seq,
    Loose::Array
);
or_loose_visitor!(
    SeqOr,
    visit_seq,
    SeqAccess,
    visit_map,
    MapAccess,
    skip_map,
    Loose::Object
);

/// A list of object keys a reader matches against.
pub(crate) trait KeyList {
    const KEYS: &'static [&'static str];
}

/// An object key: its index in `L::KEYS`, or `None` for any other, matched without
/// allocating.
pub(crate) struct KnownKey<L>(pub(crate) Option<usize>, PhantomData<L>);

impl<'de, L: KeyList> Deserialize<'de> for KnownKey<L> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor<L>(PhantomData<L>);
        impl<L: KeyList> Visitor<'_> for KeyVisitor<L> {
            type Value = KnownKey<L>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, s: &str) -> Result<KnownKey<L>, E> {
                Ok(KnownKey(L::KEYS.iter().position(|k| *k == s), PhantomData))
            }
        }
        deserializer.deserialize_str(KeyVisitor(PhantomData))
    }
}

/// An object read for its one key `K::KEYS[0]` (kept as [`Loose`], `None` when absent or
/// `null`), every other key skipped; or, for any other value, that value.
pub(crate) struct OneKey<K>(pub(crate) Result<Option<Loose>, Loose>, PhantomData<K>);

impl<'de, K: KeyList> Deserialize<'de> for OneKey<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneKeyVisitor<K>(PhantomData<K>);
        impl<'de, K: KeyList> Visitor<'de> for OneKeyVisitor<K> {
            type Value = Option<Loose>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an object with '{}'", K::KEYS[0])
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut value = None;
                while let Some(key) = map.next_key::<KnownKey<K>>()? {
                    match key.0 {
                        Some(_) => value = map.next_value()?,
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(value)
            }
        }
        let read = deserializer.deserialize_any(MapOr(OneKeyVisitor::<K>(PhantomData)))?;
        Ok(OneKey(read, PhantomData))
    }
}

/// The elements of an array read by [`CheckedSeq`], up to the first problem; how many there
/// were; and that problem.
pub(crate) struct Checked<T> {
    pub(crate) list: Vec<T>,
    pub(crate) len: usize,
    pub(crate) error: Option<RequestError>,
}

/// How [`CheckedSeq`] reads one element: element `index` from `seq`, checked (a problem is
/// the inner `Err`, with its `param`); `None` at the end of the array.
pub(crate) trait ElementReader<'de> {
    type Item;
    fn next<A: SeqAccess<'de>>(
        &mut self,
        seq: &mut A,
        index: usize,
    ) -> Result<Option<Result<Self::Item, RequestError>>, A::Error>;
}

/// Reads an array whose elements are checked as they are read (chat's `messages`, the
/// Responses `input`): after the first problem, or past `max`, the rest is only counted.
pub(crate) struct CheckedSeq<E> {
    pub(crate) reader: E,
    pub(crate) max: usize,
}

impl<'de, E: ElementReader<'de>> Visitor<'de> for CheckedSeq<E> {
    type Value = Checked<E::Item>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut list = Vec::new();
        let mut error = None;
        let mut len = 0;
        while error.is_none() && len < self.max {
            match self.reader.next(&mut seq, len)? {
                None => return Ok(Checked { list, len, error }),
                Some(Ok(item)) => list.push(item),
                Some(Err(e)) => error = Some(e),
            }
            len += 1;
        }
        len += skip_seq(&mut seq)?;
        Ok(Checked { list, len, error })
    }
}

/// The keys a content part's nested object (chat's `image_url`, `input_audio`, `file`; a
/// Responses part's `source`) or an unknown part is read for; any other key is skipped.
const SHALLOW_KEYS: [&str; 11] = [
    "url",
    "detail",
    "data",
    "format",
    "file_data",
    "file_id",
    "file_url",
    "filename",
    "type",
    "input_text",
    "media_type",
];

/// A value read one level deep: an object keeps the [`SHALLOW_KEYS`] entries as [`Loose`]
/// values, anything else is [`Loose`]. Enough for every rule that reads a content part, at
/// a cost bounded by those few keys whatever the object holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shallow(pub(crate) Value);

struct ShallowVisitor;

impl<'de> Visitor<'de> for ShallowVisitor {
    type Value = Shallow;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Shallow, E> {
        Ok(Shallow(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Shallow, E> {
        Ok(Shallow(Value::Null))
    }
    fn visit_bool<E>(self, b: bool) -> Result<Shallow, E> {
        Ok(Shallow(Value::Bool(b)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Shallow, E> {
        Ok(Shallow(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Shallow, E> {
        Ok(Shallow(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Shallow, E> {
        Ok(Shallow(n.into()))
    }
    fn visit_str<E>(self, s: &str) -> Result<Shallow, E> {
        Ok(Shallow(Value::String(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Shallow, E> {
        Ok(Shallow(Value::String(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Shallow, A::Error> {
        skip_seq(seq)?;
        Ok(Shallow(Value::Array(Vec::new())))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shallow, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<ShallowKey>()? {
            match key.0 {
                Some(name) => {
                    let value: Loose = map.next_value()?;
                    out.insert(name.to_owned(), value.into_value());
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Shallow(Value::Object(out)))
    }
}

impl<'de> Deserialize<'de> for Shallow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ShallowVisitor)
    }
}

/// An object key: one of [`SHALLOW_KEYS`], or `None` (read without allocating).
struct ShallowKey(Option<&'static str>);

impl<'de> Deserialize<'de> for ShallowKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = ShallowKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E>(self, s: &str) -> Result<ShallowKey, E> {
                Ok(ShallowKey(SHALLOW_KEYS.iter().copied().find(|k| *k == s)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_keeps_scalars_and_types() {
        let read = |s: &str| serde_json::from_str::<Loose>(s).unwrap();
        assert_eq!(read("null"), Loose::Null);
        assert_eq!(read("true"), Loose::Bool(true));
        assert_eq!(read("\"a\\u00e9\""), Loose::String("aé".into()));
        assert_eq!(read("[[1],{\"a\":[]}]"), Loose::Array);
        assert_eq!(read("{\"a\":[[[]]]}"), Loose::Object);
        assert_eq!(read("1.5").json_type(), "a number");
    }

    #[test]
    fn shallow_keeps_known_keys_one_level_deep() {
        let v: Shallow = serde_json::from_str(
            r#"{"url":"u","detail":"low","extra":[1,2,3],"data":{"deep":1},"file_id":null}"#,
        )
        .unwrap();
        assert_eq!(
            v.0,
            serde_json::json!({"url":"u","detail":"low","data":{},"file_id":null})
        );
        let v: Shallow = serde_json::from_str(r#"[["x"]]"#).unwrap();
        assert_eq!(v.0, serde_json::json!([]));
    }

    #[test]
    fn skipped_values_may_nest_deeper_than_the_recursion_limit() {
        // Skipping is iterative in serde_json: no stack, no allocation per level.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(serde_json::from_str::<Loose>(&deep).unwrap(), Loose::Array);
    }
}

//! The POST body: a JSON object of record arrays. Decoded in one pass straight into per-record
//! slots of raw JSON values borrowed from the body (no `serde_json::Value` tree), so money keeps
//! its exact literal and a batch of 50,000 records costs no per-field allocation until a field is
//! parsed.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{FieldSpec, field_index};

/// One record's fields as sent: a slot per field of its type (last duplicate key wins), the
/// keys that named no field, and the values a later key of the same field replaced.
#[derive(Debug)]
pub struct RawRecord<'a> {
    pub values: Vec<Option<&'a RawValue>>,
    pub unknown: Vec<String>,
    /// (field, value) for each value a repeated key replaced with a different one, in the order
    /// sent: the record is taken with the last, and its result says so.
    pub replaced: Vec<(usize, &'a RawValue)>,
}

/// An element of a record array: where it is in the body (its JSON as sent, kept for the
/// rejected ones), and its fields, or what it was when it is not an object.
#[derive(Debug)]
pub struct RawItem<'a> {
    /// Its bytes in the body handed to the decoder.
    pub sent: Range<usize>,
    /// Its fields; or, when it was not a JSON object, what it was ("an array", "null", ...),
    /// rejected on its own.
    pub record: Result<RawRecord<'a>, &'static str>,
}

/// Why a body could not be used at all (a body-level 400).
/// (Clone: a big body's error reaches both the thread writing its records and the answer.)
#[derive(Debug, Clone, thiserror::Error)]
pub enum BodyError {
    #[error("the body is empty; send a JSON object such as {{\"Registrations\": [...]}}")]
    Empty,
    #[error("the body is not valid UTF-8: byte 0x{byte:02X} at offset {offset}, after {after}; send it as UTF-8")]
    NotUtf8 { offset: usize, byte: u8, after: String },
    #[error("the body is UTF-16 (it starts with a UTF-16 byte order mark); send it as UTF-8")]
    Utf16,
    #[error(
        "the body is gzip-compressed (it starts with gzip's bytes 1F 8B) but was not sent with \
         Content-Encoding: gzip; add that header, or send the JSON uncompressed"
    )]
    Gzipped,
    #[error("the body is not usable JSON: {0}")]
    Json(#[source] std::sync::Arc<serde_json::Error>),
    /// A body that is not JSON from its first character, in a form a client sends by mistake.
    #[error(
        "the body is not JSON: {0}; the body is read as JSON whatever its Content-Type: send a JSON \
         object such as {{\"Registrations\": [...]}}"
    )]
    NotJson(&'static str),
    #[error("the body has no record arrays; expected one or more of {expected}")]
    NoRecordArrays { expected: String },
    /// An array under a key that names no record type, or anything but null under a key that
    /// nearly does (`"Registration": {...}`, one record sent as an object): its records would
    /// otherwise be dropped without a word.
    #[error(
        "unknown record array {key:?}{}; expected {expected}{} (nothing was written)",
        if *.holds == "an array" { String::new() } else { format!(" (it holds {})", .holds) },
        .meant.map(|m| format!(": is it {m}, an array of records?")).unwrap_or_default()
    )]
    UnknownArray {
        key: String,
        /// What its value is: "an array", "an object"...
        holds: &'static str,
        expected: String,
        /// The record type it nearly names.
        meant: Option<&'static str>,
    },
    #[error("the body holds more than {0} records; send them in several POSTs (nothing was written)")]
    TooManyRecords(usize),
}

/// The first two bytes of every gzip stream (RFC 1952).
pub const GZIP_MAGIC: &[u8] = b"\x1F\x8B";

/// Where a body stops being UTF-8, with the text before it, so that the record can be found in
/// a big batch (most often a name saved in the Windows code page: "Citro" then 0xEB).
/// `sent` is the body as it came, `body` the same without a UTF-8 byte-order mark.
fn not_utf8(sent: &[u8], body: &[u8], e: std::str::Utf8Error) -> BodyError {
    if body.starts_with(b"\xFF\xFE") || body.starts_with(b"\xFE\xFF") {
        return BodyError::Utf16;
    }
    if body.starts_with(GZIP_MAGIC) {
        return BodyError::Gzipped;
    }
    let offset = e.valid_up_to();
    // The valid text before it, its last 40 characters at most.
    let valid = std::str::from_utf8(&body[..offset]).unwrap_or_default();
    let after = match valid.char_indices().rev().nth(39) {
        Some((start, _)) if start > 0 => format!("...{:?}", &valid[start..]),
        _ => format!("{valid:?}"),
    };
    BodyError::NotUtf8 {
        offset: offset + (sent.len() - body.len()),
        byte: body[offset],
        after,
    }
}

/// What a body that JSON cannot start is, when it is one of the mistakes clients make: XML or
/// HTML (an XML POS, an error page relayed), or form fields (the JSON put in a field).
fn not_json(text: &str) -> Option<BodyError> {
    let text = text.trim_start();
    if text.starts_with('<') {
        return Some(BodyError::NotJson("it starts with \"<\", as XML or HTML does"));
    }
    let name = text.split(['=', '&']).next().unwrap_or_default();
    let form = text[name.len()..].starts_with('=')
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.[]%".contains(c));
    form.then_some(BodyError::NotJson(
        "it is form fields (name=value&...), as a form posts them, and the JSON is not read from a field",
    ))
}

impl From<serde_json::Error> for BodyError {
    fn from(e: serde_json::Error) -> Self {
        BodyError::Json(std::sync::Arc::new(e))
    }
}

/// Most records one body may hold. A nightly batch is tens of thousands; the cap keeps a body
/// of a million tiny records from costing gigabytes of per-record results.
pub const MAX_RECORDS: usize = 100_000;

/// Decodes a body into one list of items per record type, in the order of `types` (each a
/// top-level key and its fields). Absent and `null` arrays are empty.
pub fn decode_batch<'a>(
    body: &'a [u8],
    types: &[(&'static str, &'static [FieldSpec])],
) -> Result<Vec<Vec<RawItem<'a>>>, BodyError> {
    decode_batch_into(body, types, None).map(|top| top.arrays)
}

/// Items of one record array, handed on as the body is read (see [`decode_batch_streaming`]).
#[derive(Debug)]
pub struct RawChunk<'a> {
    /// The record type's position in `types`.
    pub kind: usize,
    /// Which array of that type this is, counting from 0: a body that repeats a key keeps the
    /// last one's records, as `decode_batch` does.
    pub occurrence: usize,
    /// The index of the chunk's first item in its array.
    pub first: usize,
    pub items: Vec<RawItem<'a>>,
}

/// Items per chunk handed on.
pub const CHUNK_ITEMS: usize = 512;

/// Reads a body as [`decode_batch`] does, but hands each array's items to `sink` in chunks as
/// they are read, so that they can be decoded while the rest of the body is still being read.
/// Answers how many arrays of each type the body held: the chunks of the last one count. On a
/// body-level error, what was handed on is to be dropped.
pub fn decode_batch_streaming<'a>(
    body: &'a [u8],
    types: &[(&'static str, &'static [FieldSpec])],
    sink: &dyn Fn(RawChunk<'a>),
) -> Result<Vec<usize>, BodyError> {
    decode_batch_into(body, types, Some(sink)).map(|top| top.occurrences)
}

fn decode_batch_into<'a>(
    body: &'a [u8],
    types: &[(&'static str, &'static [FieldSpec])],
    sink: Option<&dyn Fn(RawChunk<'a>)>,
) -> Result<TopLevel<'a>, BodyError> {
    // Items are placed in the body as it was handed over.
    let base = Base(body.as_ptr() as usize);
    // A UTF-8 byte-order mark, as some Windows POS systems write, is not part of the JSON.
    let sent = body;
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|e| not_utf8(sent, body, e))?;
    if text.trim().is_empty() {
        return Err(BodyError::Empty);
    }
    let expected = types.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
    let mut de = serde_json::Deserializer::from_str(text);
    let room = Cell::new(MAX_RECORDS);
    let top = match (TopSeed {
        types,
        room: &room,
        sink,
        base,
    })
    .deserialize(&mut de)
    {
        Err(_) if room.get() == 0 => return Err(BodyError::TooManyRecords(MAX_RECORDS)),
        Err(e) => return Err(not_json(text).unwrap_or_else(|| e.into())),
        Ok(top) => top,
    };
    de.end()?;
    if let Some((key, holds)) = top.unknown_arrays.first().cloned() {
        let meant = meant_type(types, &key);
        return Err(BodyError::UnknownArray {
            key,
            holds,
            expected,
            meant,
        });
    }
    if !top.seen_any {
        return Err(BodyError::NoRecordArrays { expected });
    }
    Ok(top)
}

struct TopLevel<'a> {
    arrays: Vec<Vec<RawItem<'a>>>,
    /// How many arrays of each type the body held: the last one counts.
    occurrences: Vec<usize>,
    seen_any: bool,
    /// Keys that name no record type but hold records, or may (with what each holds).
    unknown_arrays: Vec<(String, &'static str)>,
}

/// A key that borrows from the body when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

struct TopSeed<'t, 'de> {
    types: &'t [(&'static str, &'static [FieldSpec])],
    /// How many more records the body may hold, over all its arrays.
    room: &'t Cell<usize>,
    sink: Option<&'t dyn Fn(RawChunk<'de>)>,
    base: Base,
}

/// Where the body starts in memory: an item's place in it is its text's address less this
/// (both borrow the one body).
#[derive(Clone, Copy)]
struct Base(usize);

impl Base {
    fn place_of(self, text: &str) -> Range<usize> {
        let start = (text.as_ptr() as usize).saturating_sub(self.0);
        start..start + text.len()
    }
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_, 'de> {
    type Value = TopLevel<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, 'de> {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let names: Vec<_> = self.types.iter().map(|(n, _)| *n).collect();
        write!(f, "a JSON object with one or more of the arrays {}", names.join(", "))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = TopLevel {
            arrays: self.types.iter().map(|_| Vec::new()).collect(),
            occurrences: vec![0; self.types.len()],
            seen_any: false,
            unknown_arrays: Vec::new(),
        };
        while let Some(Key(key)) = map.next_key::<Key>()? {
            match self.types.iter().position(|(name, _)| name.eq_ignore_ascii_case(&key)) {
                Some(i) => {
                    let (name, fields) = self.types[i];
                    top.arrays[i] = map.next_value_seed(ArraySeed {
                        name,
                        fields,
                        room: self.room,
                        base: self.base,
                        sink: self.sink.map(|to| ArraySink {
                            to,
                            kind: i,
                            occurrence: top.occurrences[i],
                        }),
                    })?;
                    top.occurrences[i] += 1;
                    top.seen_any = true;
                }
                None => {
                    // A misspelt record type would otherwise drop its records without a word;
                    // other keys (`"PartnerID": 1001`) are not records.
                    let JsonKind(holds) = map.next_value::<JsonKind>()?;
                    let records = match holds {
                        "an array" => true,
                        "null" => false,
                        _ => meant_type(self.types, &key).is_some(),
                    };
                    if records {
                        top.unknown_arrays.push((key.into_owned(), holds));
                    }
                }
            }
        }
        Ok(top)
    }
}

/// The record type an unknown top-level key nearly names (`Registration`, `Claimss`), by
/// [`super::misspelling_of`], and nearer than any other.
fn meant_type(types: &[(&'static str, &'static [FieldSpec])], key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    let near = (types.iter())
        .filter_map(|(name, _)| Some((super::misspelling_of(&key, name)?, *name)))
        .collect();
    super::nearest(near)
}

/// A record array: `null` counts as empty (serializers emit it for empty lists).
struct ArraySeed<'t, 'de> {
    name: &'static str,
    fields: &'static [FieldSpec],
    room: &'t Cell<usize>,
    base: Base,
    /// Where its items go in chunks (then none are returned).
    sink: Option<ArraySink<'t, 'de>>,
}

/// Where a streamed array's items go, and what its chunks say of it.
#[derive(Clone, Copy)]
struct ArraySink<'t, 'de> {
    to: &'t dyn Fn(RawChunk<'de>),
    kind: usize,
    occurrence: usize,
}

impl<'de> ArraySink<'_, 'de> {
    fn hand_on(self, first: usize, items: Vec<RawItem<'de>>) {
        (self.to)(RawChunk {
            kind: self.kind,
            occurrence: self.occurrence,
            first,
            items,
        });
    }
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_, 'de> {
    type Value = Vec<RawItem<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_, 'de> {
    type Value = Vec<RawItem<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} to be an array of records", self.name)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let capacity = if self.sink.is_some() { CHUNK_ITEMS } else { 65_536 };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(capacity));
        let mut first = 0;
        while let Some(item) = seq.next_element_seed(ItemSeed {
            fields: self.fields,
            base: self.base,
        })? {
            // Stop at once: the rest of a runaway body is not even scanned.
            if self.room.get() == 0 {
                return Err(de::Error::custom("too many records"));
            }
            self.room.set(self.room.get() - 1);
            items.push(item);
            if let Some(sink) = self.sink
                && items.len() == CHUNK_ITEMS
            {
                sink.hand_on(first, std::mem::replace(&mut items, Vec::with_capacity(CHUNK_ITEMS)));
                first += CHUNK_ITEMS;
            }
        }
        match self.sink {
            Some(sink) => {
                if !items.is_empty() {
                    sink.hand_on(first, items);
                }
                Ok(Vec::new())
            }
            None => Ok(items),
        }
    }
}

struct ItemSeed {
    fields: &'static [FieldSpec],
    base: Base,
}

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = RawItem<'de>;
    /// The item's JSON is taken whole first (where it is, for a rejected record's `Sent`), then
    /// read field by field.
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let sent = <&'de RawValue as de::Deserialize>::deserialize(d)?;
        let text: &'de str = sent.get();
        let record = FieldsSeed { fields: self.fields }
            .deserialize(&mut serde_json::Deserializer::from_str(text))
            .map_err(de::Error::custom)?;
        Ok(RawItem {
            sent: self.base.place_of(text),
            record,
        })
    }
}

/// An item's fields, or what it was when it is not an object.
struct FieldsSeed {
    fields: &'static [FieldSpec],
}

impl<'de> DeserializeSeed<'de> for FieldsSeed {
    type Value = Result<RawRecord<'de>, &'static str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! not_an_object {
    ($($method:ident($($ty:ty)?) => $what:literal),* $(,)?) => {
        $(fn $method<E: de::Error>(self $(, _: $ty)?) -> Result<Self::Value, E> {
            Ok(Err($what))
        })*
    };
}

impl<'de> Visitor<'de> for FieldsSeed {
    type Value = Result<RawRecord<'de>, &'static str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = vec![None; self.fields.len()];
        let mut unknown: Vec<String> = Vec::new();
        let mut replaced = Vec::new();
        let mut next = 0;
        while let Some(Key(key)) = map.next_key::<Key>()? {
            match field_index(self.fields, &key, next) {
                Some(i) => {
                    let value = map.next_value::<&'de RawValue>()?;
                    if let Some(earlier) = values[i].replace(value)
                        && earlier.get() != value.get()
                    {
                        replaced.push((i, earlier));
                    }
                    next = i + 1;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                    if !unknown.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
                        unknown.push(key.into_owned());
                    }
                }
            }
        }
        Ok(Ok(RawRecord {
            values,
            unknown,
            replaced,
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("an array"))
    }

    not_an_object! {
        visit_unit() => "null",
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "a number",
        visit_u64(u64) => "a number",
        visit_f64(f64) => "a number",
        visit_str(&str) => "a string",
    }
}

/// The kind of a JSON value that is otherwise skipped.
struct JsonKind(&'static str);

impl<'de> de::Deserialize<'de> for JsonKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonKind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonKind, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(JsonKind("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonKind, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(JsonKind("an object"))
            }
            fn visit_unit<E>(self) -> Result<JsonKind, E> {
                Ok(JsonKind("null"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<JsonKind, E> {
                Ok(JsonKind("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<JsonKind, E> {
                Ok(JsonKind("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<JsonKind, E> {
                Ok(JsonKind("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<JsonKind, E> {
                Ok(JsonKind("a number"))
            }
            fn visit_str<E>(self, _: &str) -> Result<JsonKind, E> {
                Ok(JsonKind("a string"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Kind;

    const FIELDS: &[FieldSpec] = &[
        FieldSpec::new("ShopID", Kind::Text(25), true),
        FieldSpec::new("RepairInvoiceNumber", Kind::Text(50), true).with_aliases(&["RepairlnvoiceNumber"]),
    ];
    const TYPES: &[(&str, &[FieldSpec])] = &[("Claims", FIELDS), ("Sales", FIELDS)];

    fn record<'a>(items: &'a [RawItem<'a>], i: usize) -> &'a RawRecord<'a> {
        match &items[i].record {
            Ok(r) => r,
            other => panic!("not a record: {other:?}"),
        }
    }

    #[test]
    fn a_body_not_in_utf8_is_refused_saying_where_and_after_what() {
        let refused = |body: &[u8]| decode_batch(body, TYPES).unwrap_err().to_string();
        // A name saved in the Windows code page, after a UTF-8 byte-order mark (counted in the offset).
        assert_eq!(
            refused(b"\xEF\xBB\xBF{\"Sales\": [{\"ShopID\": \"Citro\xEBn\"}]}"),
            "the body is not valid UTF-8: byte 0xEB at offset 31, after \"{\\\"Sales\\\": [{\\\"ShopID\\\": \\\"Citro\"; send it as UTF-8"
        );
        let mut long = b"{\"Sales\": [{\"ShopID\": \"".to_vec();
        long.extend("x".repeat(50).bytes());
        long.extend(b"\xE9\"}]}"); // é in Latin-1
        assert!(refused(&long).ends_with(&format!("after ...\"{}\"; send it as UTF-8", "x".repeat(40))));
        assert_eq!(
            refused(b"\xFF\xFE{\x00}\x00"),
            "the body is UTF-16 (it starts with a UTF-16 byte order mark); send it as UTF-8"
        );
        // Compressed, but not said to be.
        assert!(refused(b"\x1F\x8B\x08\x00\x00\x00").starts_with("the body is gzip-compressed"));
    }

    #[test]
    fn keys_are_case_insensitive_and_the_last_duplicate_wins() {
        let body = br#"{"claims":[{"SHOPID":"1","shopid":"2","repairlnvoicenumber":"9","Extra":1,"EXTRA":2,"RepairInvoiceNumber":"9","ShopId":3}]}"#;
        let arrays = decode_batch(body, TYPES).unwrap();
        let r = record(&arrays[0], 0);
        assert_eq!(r.values[0].unwrap().get(), "3");
        assert_eq!(r.values[1].unwrap().get(), "\"9\"");
        assert_eq!(r.unknown, vec!["Extra".to_owned()]);
        // What was replaced, in order; a key sent again with the same value replaced nothing.
        let replaced: Vec<_> = r.replaced.iter().map(|(i, v)| (*i, v.get())).collect();
        assert_eq!(replaced, vec![(0, "\"1\""), (0, "\"2\"")]);
        assert!(arrays[1].is_empty());
    }

    #[test]
    fn elements_that_are_not_objects_are_kept_as_such() {
        let arrays = decode_batch(br#"{"Sales":[[1,2],null,"x",{}]}"#, TYPES).unwrap();
        assert!(matches!(arrays[1][0].record, Err("an array")));
        assert!(matches!(arrays[1][1].record, Err("null")));
        assert!(matches!(arrays[1][2].record, Err("a string")));
        assert!(arrays[1][3].record.is_ok());
    }

    #[test]
    fn each_item_knows_where_it_is_in_the_body_as_sent() {
        let body = "\u{feff}{\"Claims\": [ {\"ShopID\" : \" 1\",\n \"Odd\": [1, {}]} , 7 ]}".as_bytes();
        let arrays = decode_batch(body, TYPES).unwrap();
        let sent = |i: usize| std::str::from_utf8(&body[arrays[0][i].sent.clone()]).unwrap();
        assert_eq!(sent(0), "{\"ShopID\" : \" 1\",\n \"Odd\": [1, {}]}");
        assert_eq!(sent(1), "7");
        let chunks = std::cell::RefCell::new(Vec::new());
        decode_batch_streaming(body, TYPES, &|c| {
            chunks
                .borrow_mut()
                .push(c.items.iter().map(|i| i.sent.clone()).collect::<Vec<_>>())
        })
        .unwrap();
        let chunks = chunks.into_inner();
        assert_eq!(chunks, vec![vec![arrays[0][0].sent.clone(), arrays[0][1].sent.clone()]]);
    }

    #[test]
    fn body_level_errors_say_what_was_expected() {
        let err = |b: &[u8]| decode_batch(b, TYPES).unwrap_err().to_string();
        assert!(err(b"").contains("empty"));
        assert!(err(b"\xff\xfe").contains("UTF-8"));
        assert!(err(b"{\"Claims\": [").contains("not usable JSON"));
        assert!(err(b"[1]").contains("a JSON object with one or more of the arrays Claims, Sales"));
        assert!(err(b"{}").contains("no record arrays"));
        assert!(err(br#"{"Claims": {"ShopID": "1"}}"#).contains("Claims to be an array"));
        assert!(err(br#"{"Claim": [{}]}"#).contains("unknown record array \"Claim\""));
        // A record type nearly named: asked about, whatever its value (but null); other keys
        // hold no records.
        assert_eq!(
            err(br#"{"Claim": [{}]}"#),
            "unknown record array \"Claim\"; expected Claims, Sales: is it Claims, an array of records? \
             (nothing was written)"
        );
        assert_eq!(
            err(br#"{"Sale": {"ShopID": "1"}, "Claims": []}"#),
            "unknown record array \"Sale\" (it holds an object); expected Claims, Sales: is it Sales, an array \
             of records? (nothing was written)"
        );
        assert!(err(br#"{"SALE": "x"}"#).contains("\"SALE\" (it holds a string)"));
        assert!(err(br#"{"Stuff": [1]}"#).ends_with("expected Claims, Sales (nothing was written)"));
        for ignored in [
            &br#"{"Sale": null, "Claims": []}"#[..],
            br#"{"PartnerID": 1001, "Meta": {}, "Claims": []}"#,
        ] {
            assert!(decode_batch(ignored, TYPES).is_ok());
        }
        assert!(err(br#"{"Claims": []} x"#).contains("trailing"));
    }

    /// What a 2 a.m. integrator sends by mistake is named, not "expected value at line 1 column 1".
    #[test]
    fn xml_and_form_fields_are_named_as_such() {
        let err = |b: &[u8]| decode_batch(b, TYPES).unwrap_err();
        for xml in [
            &b"<?xml version=\"1.0\"?><Claims/>"[..],
            b"\r\n <html><body>502</body></html>",
        ] {
            let e = err(xml);
            assert!(matches!(e, BodyError::NotJson(_)), "{e}");
            assert!(e.to_string().contains("starts with \"<\""), "{e}");
            assert!(e.to_string().contains("whatever its Content-Type"), "{e}");
        }
        for form in [
            &b"json=%7B%22Claims%22%3A%5B%5D%7D"[..],
            b"Claims[0][ShopID]=1&Claims[0][InvoiceNumber]=2",
            b"data={\"Claims\": []}",
        ] {
            let e = err(form);
            assert!(e.to_string().contains("form fields (name=value&...)"), "{e}");
        }
        // Other broken JSON keeps the parser's own words, with where it broke.
        for broken in [&b"{\"Claims\": [}"[..], b"Claims: []", b"=1", b"x y=1"] {
            let e = err(broken);
            assert!(matches!(e, BodyError::Json(_)), "{e}");
        }
    }

    #[test]
    fn the_record_cap_counts_every_array() {
        let half = vec!["{}"; MAX_RECORDS / 2].join(",");
        let at_cap = format!(r#"{{"Claims": [{half}], "Sales": [{half}]}}"#);
        assert_eq!(
            decode_batch(at_cap.as_bytes(), TYPES)
                .unwrap()
                .iter()
                .map(Vec::len)
                .sum::<usize>(),
            MAX_RECORDS
        );
        let over = format!(r#"{{"Claims": [{half}], "Sales": [{half},{{}}]}}"#);
        assert!(matches!(
            decode_batch(over.as_bytes(), TYPES),
            Err(BodyError::TooManyRecords(MAX_RECORDS))
        ));
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let arrays = decode_batch(b"\xEF\xBB\xBF{\"Claims\": [{}]}", TYPES).unwrap();
        assert_eq!(arrays[0].len(), 1);
    }

    #[test]
    fn null_arrays_and_extra_scalars_are_quiet() {
        let arrays = decode_batch(br#"{"Claims": null, "PartnerID": 1001, "Sales": []}"#, TYPES).unwrap();
        assert!(arrays.iter().all(Vec::is_empty));
    }
}

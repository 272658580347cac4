//! One declaration per record type. `record!` turns a list of fields (Rust name, wire name,
//! kind, required) into the struct, its data dictionary (`FIELDS`), its decoder, its natural key,
//! its GET shape (`Serialize`) and its stored values (`values` / `from_values`, whose column
//! names are the Rust names). Nothing else lists a record's fields.

use chrono::{DateTime, Utc};
use serde::Serializer;

use crate::wire::Kind;
use crate::wire::out;

/// A field's value, borrowed, in the few shapes a value is stored or shown in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Text(&'a str),
    /// A count, a mileage, or money in cents; `None` when it was not sent.
    Number(Option<i64>),
    Date(Option<DateTime<Utc>>),
    Flag(bool),
}

/// A field's value, owned: what a store reads back.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    Text(String),
    Number(Option<i64>),
    Date(Option<DateTime<Utc>>),
    Flag(bool),
}

/// The shape of a value: what a field's Rust type holds, and what its kind parses to. `record!`
/// checks at compile time that each field's type has its kind's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Text,
    Number,
    Date,
    Flag,
}

impl Shape {
    pub const fn of(kind: Kind) -> Shape {
        match kind {
            Kind::Text(_) => Shape::Text,
            Kind::Int { .. } | Kind::Money => Shape::Number,
            Kind::Date => Shape::Date,
            Kind::Flag => Shape::Flag,
        }
    }
}

/// The Rust types a record's fields have, and the value shape each takes.
pub trait FieldType: Default {
    const SHAPE: Shape;
    fn value(&self) -> Value<'_>;
    /// `None` when the value has another shape (a stored value that does not fit).
    fn from_value(v: OwnedValue) -> Option<Self>;
}

/// A field type of one shape: how it is seen as a value, and what a stored value of that shape
/// makes of it.
macro_rules! field_type {
    ($(#[$doc:meta])* $ty:ty: $shape:ident, |$v:ident| $value:expr, |$o:ident| $from:expr) => {
        $(#[$doc])*
        impl FieldType for $ty {
            const SHAPE: Shape = Shape::$shape;
            fn value(&self) -> Value<'_> {
                let $v = self;
                Value::$shape($value)
            }
            fn from_value(v: OwnedValue) -> Option<Self> {
                match v {
                    OwnedValue::$shape($o) => Some($from),
                    _ => None,
                }
            }
        }
    };
}

field_type!(String: Text, |s| s, |s| s);
field_type!(
    /// A required count or amount (0 when absent: only on a record that is refused anyway).
    i64: Number, |n| Some(*n), |n| n.unwrap_or_default()
);
field_type!(
    /// An optional count or amount.
    Option<i64>: Number, |n| *n, |n| n
);
field_type!(
    /// A required date (absent only on a record that is refused anyway).
    DateTime<Utc>: Date, |d| Some(*d), |d| d.unwrap_or_default()
);
field_type!(bool: Flag, |b| *b, |b| b);

/// A value as the guide's GET examples show it: dates in RFC 3339 UTC (`""` when none), money
/// as a JSON number of dollars, empty numbers as 0, flags as "true"/"false".
pub(super) struct Shown<'a>(pub Kind, pub Value<'a>);

impl serde::Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self.0, self.1) {
            (_, Value::Text(t)) => s.serialize_str(t),
            (Kind::Money, Value::Number(n)) => out::money(&n.unwrap_or(0), s),
            (_, Value::Number(n)) => s.serialize_i64(n.unwrap_or(0)),
            (_, Value::Date(d)) => out::opt_date(&d, s),
            (_, Value::Flag(b)) => out::flag(&b, s),
        }
    }
}

/// Declares a record type (one per module): see the module's documentation. The key names
/// text fields (their type must be `String`: the compiler checks it).
///
/// ```ignore
/// record! {
///     /// What it is.
///     pub struct Sale as Sales {
///         org_id: String = "OrgID", Text(50), optional;
///         ...
///     }
///     key: [org_id, shop_id, ...]
/// }
/// ```
macro_rules! record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident as $kind:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $wire:literal, $fkind:expr, $req:ident $(, aliases $aliases:expr)?;
            )*
        }
        key: [$($key:ident),* $(,)?]
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        /// Each field's place in the declaration.
        #[allow(non_camel_case_types)]
        enum Field {
            $( $field, )*
        }

        // Each field's Rust type has its kind's shape, or this does not compile.
        const _: () = {
            $(
                assert!(
                    <$ty as $crate::records::FieldType>::SHAPE as u8
                        == $crate::records::Shape::of($fkind) as u8,
                    concat!(stringify!($field), "'s type does not fit its kind"),
                );
            )*
        };

        impl $crate::records::Record for $name {
            const KIND: $crate::records::RecordKind = $crate::records::RecordKind::$kind;
            const FIELDS: &'static [$crate::wire::FieldSpec] = &[
                $(
                    $crate::wire::FieldSpec::new($wire, $fkind, record!(@required $req))
                        .with_required_message(concat!($wire, " is required"))
                        $(.with_aliases($aliases))?
                ),*
            ];
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];
            const KEY_AT: &'static [usize] = &[$( Field::$key as usize ),*];
            const KEY: &'static [&'static str] = &[$( Self::FIELDS[Field::$key as usize].name ),*];

            fn read(r: &mut $crate::records::FieldReader<'_, '_>) -> Self {
                $name {
                    $( $field: r.get(Field::$field as usize), )*
                }
            }

            fn key(&self) -> $crate::records::NaturalKey {
                $crate::records::NaturalKey(vec![
                    $( (Self::FIELDS[Field::$key as usize].name, String::clone(&self.$key)), )*
                ])
            }

            fn values(&self) -> Vec<$crate::records::Value<'_>> {
                vec![$( $crate::records::FieldType::value(&self.$field) ),*]
            }

            fn key_text(&self) -> Vec<&str> {
                vec![$( self.$key.as_str() ),*]
            }

            fn from_values(values: Vec<$crate::records::OwnedValue>) -> Option<Self> {
                let mut values = values.into_iter();
                Some($name {
                    $( $field: $crate::records::FieldType::from_value(values.next()?)?, )*
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::records::serialize_record(self, s)
            }
        }
    };
    (@required required) => { true };
    (@required optional) => { false };
}

pub(crate) use record;

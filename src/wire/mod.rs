//! The wire format, both ways. In: lenient decoding shared by every record type, the body's
//! shape (case-insensitive keys, last duplicate wins, aliases) and the scalar forms the guide's
//! clients send (numbers in strings, money exact to the cent, several date forms, Yes/No flags).
//! Out (`out`): the forms values are answered in. Nothing here knows HTTP, SQL or business rules.

mod body;
mod code;
pub mod out;
mod value;

/// Money in integer cents: never a float.
pub type Cents = i64;

pub use body::{
    BodyError, CHUNK_ITEMS, GZIP_MAGIC, MAX_RECORDS, RawChunk, RawItem, RawRecord, decode_batch, decode_batch_streaming,
};
#[cfg(test)]
pub(crate) use code::spelled_once_in_snake_case;
pub use code::{Code, WarningKind};
pub use value::{
    FieldError, FieldErrors, MAX_MONEY_CENTS, MAX_YEAR, MIN_YEAR, Money, ValueError, Warning, as_sent,
    check_characters, control_character, echo, format_cents, format_date, format_timestamp, parse_date, parse_date_str,
    parse_flag, parse_int, parse_money, parse_text, sent_more_than_once, trim_padding,
};

/// Of the names a misspelt one may have meant, each with how far it is (less is nearer), the
/// nearest, when no other is as near: two as near are no answer. (An unknown key, a path, a
/// query parameter: each says what "far" is.)
pub fn nearest<F: Ord, T>(mut candidates: Vec<(F, T)>) -> Option<T> {
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    let mut candidates = candidates.into_iter();
    let (far, meant) = candidates.next()?;
    match candidates.next() {
        Some((next, _)) if next == far => None,
        _ => Some(meant),
    }
}

/// How far `sent` (already in lower case) is from `name` when it may have meant it: letters
/// left out, added, changed or swapped, in any case, at most one for names under six letters and
/// two for longer ones. The one rule for a misspelt field, record type or v3 key; [`nearest`]
/// then picks among the names near enough.
pub fn misspelling_of(sent: &str, name: &str) -> Option<usize> {
    let edits = strsim::damerau_levenshtein(sent, &name.to_ascii_lowercase());
    let allowed = if name.len() < 6 { 1 } else { 2 };
    (edits <= allowed).then_some(edits)
}

/// What kind of value a field holds, with the rule that goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string of at most this many characters.
    Text(usize),
    /// A whole number, 0 up to i32::MAX, with a lower bound.
    Int { min: i64 },
    /// Dollars, exact to the cent, never negative.
    Money,
    /// A date or date-time; no zone means the partner's zone.
    Date,
    /// Yes/No, Y/N, true/false, 1/0 (any case); absent means false.
    Flag,
}

/// One field of a record type's data dictionary.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    /// Other keys that mean this field (the guide's own typos).
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub required: bool,
    /// `"<name> is required"`, written once (a body of 100,000 empty records has a million of
    /// these errors: one allocation each added up to tens of MB).
    pub required_message: Option<&'static str>,
}

impl FieldSpec {
    pub const fn new(name: &'static str, kind: Kind, required: bool) -> Self {
        Self {
            name,
            aliases: &[],
            kind,
            required,
            required_message: None,
        }
    }

    pub const fn with_required_message(mut self, message: &'static str) -> Self {
        self.required_message = Some(message);
        self
    }

    pub const fn with_aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    fn matches(&self, key: &str) -> bool {
        // Most keys come spelt as the guide spells them: compare bytes first.
        self.name == key
            || self.name.eq_ignore_ascii_case(key)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(key))
    }
}

/// Index of the field a key names, case-insensitively. `hint` is tried first: a POS system
/// sends its keys in the same order every time, most often the guide's.
pub fn field_index(fields: &[FieldSpec], key: &str, hint: usize) -> Option<usize> {
    match fields.get(hint) {
        Some(f) if f.matches(key) => Some(hint),
        _ => fields.iter().position(|f| f.matches(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_index_takes_any_case_the_aliases_and_any_hint() {
        const F: &[FieldSpec] = &[
            FieldSpec::new("ShopID", Kind::Text(25), true),
            FieldSpec::new("RepairInvoiceNumber", Kind::Text(50), true).with_aliases(&["RepairlnvoiceNumber"]),
        ];
        for hint in [0, 1, 2, 99] {
            assert_eq!(field_index(F, "shopid", hint), Some(0));
            assert_eq!(field_index(F, "REPAIRLNVOICENUMBER", hint), Some(1));
            assert_eq!(field_index(F, "ShopIDs", hint), None);
        }
    }
}

//! The codes an answer names a broken rule by (`Errors[].Code` in v2, `errors[].code` in v3):
//! one declaration, each code's wire spelling its name in snake_case.

use serde::Serialize;
use strum::{Display, IntoStaticStr, VariantArray};

/// A rule a value, a record or a body broke, spelled in snake_case (`invalid_date`) alike in
/// answers, logs and labels (`into_str`, `Display`, JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, IntoStaticStr, Display, VariantArray)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case", const_into_str)]
pub enum Code {
    // A field's value.
    Required,
    InvalidType,
    InvalidString,
    InvalidCharacter,
    TooLong,
    InvalidNumber,
    NotWholeNumber,
    Negative,
    OutOfRange,
    TooManyDecimals,
    InvalidDate,
    InvalidBoolean,
    // v3's fields.
    InvalidCount,
    InvalidEmail,
    InvalidPhone,
    InvalidCountry,
    NotAllowed,
    /// A PATCH asking two things at once, or a key sent twice with different values.
    Ambiguous,
    // The guide's business rules.
    RegistrationNotFound,
    RegistrationCancelled,
    RegistrationExpired,
    NoTiresLeft,
    NotEnoughTires,
    TiresCoveredBelowUsed,
    AlreadyCancelled,
    // A body refused whole.
    EmptyBody,
    InvalidUtf8,
    InvalidJson,
    InvalidGzip,
    IncompleteBody,
    NoRecords,
    UnknownArray,
    TooManyRecords,
}

/// What kind of remark a record was read with (`unknown_field`...), as the batch history counts
/// warnings. The record's own `Warnings` say it in words only, as they always have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, IntoStaticStr, Display, VariantArray)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case", const_into_str)]
pub enum WarningKind {
    /// A key that names no field: ignored.
    UnknownField,
    /// A field sent more than once with different values: the last kept.
    RepeatedField,
    /// Money sent as a binary floating-point number close to a cent: taken as that cent.
    RoundedMoney,
}

/// Every variant of `T` is spelled in snake_case, the same by `into_str` as in JSON, and no
/// two alike: what answers, logs, labels and the docs say of it is one text.
#[cfg(test)]
pub(crate) fn spelled_once_in_snake_case<T>()
where
    T: VariantArray + Copy + Into<&'static str> + Serialize,
{
    let mut seen = std::collections::BTreeSet::new();
    for &variant in T::VARIANTS {
        let wire: &'static str = variant.into();
        assert!(seen.insert(wire), "{wire} twice");
        let snake = wire
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        assert!(snake, "{wire}");
        assert_eq!(serde_json::to_value(variant).unwrap(), wire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_spelled_once_in_snake_case() {
        spelled_once_in_snake_case::<Code>();
        spelled_once_in_snake_case::<WarningKind>();
    }

    /// A client can look every code it may be answered up in the API's pages.
    #[test]
    fn every_code_is_documented() {
        let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/docs");
        let pages = ["v2-api.md", "v3-api.md"].map(|page| std::fs::read_to_string(format!("{docs}/{page}")).unwrap());
        let codes = Code::VARIANTS.iter().map(|c| c.into_str());
        let kinds = WarningKind::VARIANTS.iter().map(|k| k.into_str());
        for code in codes.chain(kinds) {
            let quoted = format!("`{code}`");
            assert!(
                pages.iter().any(|page| page.contains(&quoted)),
                "{code} is in neither API page"
            );
        }
    }
}

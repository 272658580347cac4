//! The codes an answer names a broken rule by (`Errors[].Code` in v2, `errors[].code` in v3):
//! one declaration, each code's wire spelling beside its name.

/// Declares an enum of codes, each spelled in snake_case beside its name: the enum, `ALL` (in
/// declaration order), `as_str`, and `Display` and `Serialize` as that spelling.
macro_rules! spelled {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$doc:meta])* $code:ident = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$doc])* $code,)*
        }

        impl $name {
            /// Every one, in declaration order.
            pub const ALL: &[$name] = &[$($name::$code,)*];

            /// As answers, logs and labels spell it (`invalid_date`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$code => $wire,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

pub(crate) use spelled;

spelled! {
    /// A rule a value, a record or a body broke.
    pub enum Code {
    // A field's value.
    Required = "required",
    InvalidType = "invalid_type",
    InvalidString = "invalid_string",
    InvalidCharacter = "invalid_character",
    TooLong = "too_long",
    InvalidNumber = "invalid_number",
    NotWholeNumber = "not_whole_number",
    Negative = "negative",
    OutOfRange = "out_of_range",
    TooManyDecimals = "too_many_decimals",
    InvalidDate = "invalid_date",
    InvalidBoolean = "invalid_boolean",
    // v3's fields.
    InvalidCount = "invalid_count",
    InvalidEmail = "invalid_email",
    InvalidPhone = "invalid_phone",
    InvalidCountry = "invalid_country",
    NotAllowed = "not_allowed",
    /// A PATCH asking two things at once.
    Ambiguous = "ambiguous",
    // The guide's business rules.
    RegistrationNotFound = "registration_not_found",
    RegistrationCancelled = "registration_cancelled",
    RegistrationExpired = "registration_expired",
    NoTiresLeft = "no_tires_left",
    NotEnoughTires = "not_enough_tires",
    TiresCoveredBelowUsed = "tires_covered_below_used",
    AlreadyCancelled = "already_cancelled",
    // A body refused whole.
    EmptyBody = "empty_body",
    InvalidUtf8 = "invalid_utf8",
    InvalidJson = "invalid_json",
    InvalidGzip = "invalid_gzip",
    IncompleteBody = "incomplete_body",
    NoRecords = "no_records",
    UnknownArray = "unknown_array",
    TooManyRecords = "too_many_records",
    }
}

/// Each of a [`spelled!`] enum's spellings is snake_case, and none is given twice.
#[cfg(test)]
pub(crate) fn spelled_once_in_snake_case(spellings: impl Iterator<Item = &'static str>) {
    let mut seen = std::collections::BTreeSet::new();
    for wire in spellings {
        assert!(seen.insert(wire), "{wire} twice");
        let snake = wire
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        assert!(snake, "{wire}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_spelled_once_in_snake_case() {
        spelled_once_in_snake_case(Code::ALL.iter().map(|c| c.as_str()));
        for code in Code::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    /// A client can look every code it may be answered up in the API's pages.
    #[test]
    fn every_code_is_documented() {
        let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/docs");
        let pages = ["v2-api.md", "v3-api.md"].map(|page| std::fs::read_to_string(format!("{docs}/{page}")).unwrap());
        for code in Code::ALL {
            let quoted = format!("`{code}`");
            assert!(
                pages.iter().any(|page| page.contains(&quoted)),
                "{code} is in neither API page"
            );
        }
    }
}

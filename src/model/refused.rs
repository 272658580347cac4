//! Requests refused before they reached a partner's data (a bad or missing token, an unknown
//! company): what support reads when a partner's night failed at the door.

use chrono::{DateTime, Utc};
use serde::Serialize;
use strum::{Display, IntoStaticStr, VariantArray};

use crate::wire::out;

/// Why a request was refused at the door: what `/ops/refused` keeps it under and
/// `warranty_gateway_refused_requests_total` counts it by, in snake_case. Never the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, IntoStaticStr, Display, VariantArray)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case", const_into_str)]
pub enum RefusalReason {
    MissingToken,
    MalformedToken,
    WrongAlgorithm,
    BadSignature,
    Expired,
    ExpiredCredential,
    NotYetValid,
    WrongPartner,
    UnknownCompany,
    UnknownOperator,
    OperatorTokenLifetime,
    // v3's tokens.
    UnknownIssuer,
    UnknownKid,
    WrongAudience,
    V3TokenLifetime,
    V3NotConfigured,
}

/// One refused request, as `/ops/refused` shows it. Never the token: only why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    #[serde(serialize_with = "out::timestamp")]
    pub at: DateTime<Utc>,
    /// The company the path named (as sent), when it named one.
    pub company: Option<String>,
    /// The configured partner and tenant it names, when it names one.
    #[serde(skip)]
    pub partner_id: Option<i64>,
    pub tenant: Option<String>,
    /// Why: a [`RefusalReason`] as spelled (text: the history keeps what older builds wrote).
    pub reason: String,
    /// The refusal in its own words, as the client was answered (never the token); none for
    /// refusals kept by builds before it was.
    pub detail: Option<String>,
    /// The client's address, as the trusted proxies say.
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub method: String,
    /// The path, without its query.
    pub path: String,
}

/// Which refused requests an operator lists: each filter only when given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusalFilter {
    pub partner_id: Option<i64>,
    pub since: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_spelled_once_in_snake_case() {
        crate::wire::spelled_once_in_snake_case::<RefusalReason>();
    }

    /// Support can look every reason `/ops/refused` answers up: in the operators' guide and in
    /// the API's description of the field.
    #[test]
    fn every_reason_is_documented() {
        let root = env!("CARGO_MANIFEST_DIR");
        let guide = std::fs::read_to_string(format!("{root}/docs/operators.md")).unwrap();
        let openapi = std::fs::read_to_string(format!("{root}/openapi.yaml")).unwrap();
        for reason in RefusalReason::VARIANTS {
            assert!(
                guide.contains(&format!("`{reason}`")),
                "{reason} is not in docs/operators.md"
            );
            assert!(
                openapi
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .any(|word| word == reason.into_str()),
                "{reason} is not in openapi.yaml"
            );
        }
    }
}

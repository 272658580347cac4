//! Bearer JWT authentication. v2: HS256 only, signed with the partner's secret, carrying the
//! partner's id; the URL's company names the partner and the tenant. v3: ES256 only, signed with
//! the partner's own P-256 key; `iss` names the partner and `aud` the tenant. Neither API takes
//! the other's tokens. The contract: docs/v2-api.md, "Authentication"; docs/v3-api.md, "Tokens".

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Datelike, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use crate::config::{Operator, Operators, Partner, Partners, V3Key, V3Partner, V3Settings};
use crate::model::credential::{CredentialKind, CredentialUse};
use crate::model::refused::RefusalReason;
use crate::scope::{Scope, Tenant};
use crate::wire::parse_date_str;

/// Why a request was refused; each becomes a 401 naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header; send 'Authorization: Bearer <JWT>'")]
    MissingHeader,
    /// With what the header has instead (never the token itself).
    #[error("the Authorization header must be 'Bearer <JWT>'{0}")]
    NotBearer(&'static str),
    #[error("unknown company {0:?}")]
    UnknownCompany(String),
    #[error("the token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error(
        "the token is signed with {}; only HS256 is accepted{}",
        .0,
        if .0 == "ES256" { " (an ES256 token is the v3 API's, under /api/v3; v2 takes one signed with your partner secret)" } else { "" }
    )]
    WrongAlgorithm(String),
    #[error("the token's signature does not match this company's secret")]
    BadSignature,
    /// A token that did not verify and names an operator: one pasted on the wrong page.
    #[error(
        "the token's signature does not match this company's secret: it is an operator's token (its sub names \
         one), for /ops and /console/ops; a partner's token is signed with the partner's secret"
    )]
    OperatorToken,
    #[error(
        "the token is signed with a secret of this company that stopped verifying at {}; sign with the current one",
        crate::wire::format_timestamp(.0)
    )]
    ExpiredCredential(DateTime<Utc>),
    /// Each time claim refused with the time it says and this server's clock: a POS clock
    /// that drifted, a token minted once and kept, or a time in milliseconds shows as such.
    #[error("the token has expired: its exp is {}", behind(*.exp, *.now))]
    Expired { exp: i64, now: i64 },
    #[error("the token is not valid yet: its nbf is {}", ahead(*.nbf, *.now))]
    NotYetValid { nbf: i64, now: i64 },
    #[error("the token was issued in the future: its iat is {}", ahead(*.iat, *.now))]
    IssuedInFuture { iat: i64, now: i64 },
    #[error("the token's {0} claim is not a NumericDate (seconds since 1970)")]
    BadTimeClaim(&'static str),
    #[error("the token carries the claim {0:?} twice, spelled differently; send each claim once")]
    DuplicateClaim(String),
    #[error("the token's header marks extensions as critical ({0:?}); this server understands none")]
    CriticalExtension(Vec<String>),
    #[error("the token has no partnerid claim")]
    MissingPartnerId,
    /// Said only of a token this company's secret verified: its sender holds the secret.
    #[error("the token's partnerid is {sent}, where this company's partner id is {expected}")]
    WrongPartnerId { sent: String, expected: i64 },
    #[error("the token's claimdate claim is not a date, got {0}")]
    BadClaimDate(String),
    /// Said after the token was verified: its sender holds the company's secret.
    #[error("the partnerid parameter is {sent}, where this token's partner id is {expected}")]
    WrongPartnerIdParameter { sent: String, expected: i64 },
    /// Whether the token carries a partnerid instead (a partner's token on an operator's route).
    #[error(
        "the token has no sub claim: an operator's token names its operator{}",
        if *.0 { " (this one has a partnerid: a partner's token is for /v2/partners/... and /console)" } else { "" }
    )]
    MissingSubject(bool),
    #[error("the token's sub names no operator of this gateway")]
    UnknownOperator,
    #[error("the token's signature does not match its operator's secret")]
    BadOperatorSignature,
    #[error(
        "the token has no exp claim: an operator's token expires (mint it with `warranty-gateway token --operator`)"
    )]
    MissingExpiry,
    #[error(
        "the token's exp is more than {MAX_OPERATOR_TOKEN_HOURS} hours away: an operator's token lives at most that long"
    )]
    ExpiryTooFar,
}

/// A refusal at the door, as support keeps it: its code, and its words (`Display`, as the client
/// was answered; never the token).
pub trait Refused: std::fmt::Display {
    fn reason(&self) -> RefusalReason;
}

impl Refused for AuthError {
    fn reason(&self) -> RefusalReason {
        AuthError::reason(self)
    }
}

impl Refused for V3AuthError {
    fn reason(&self) -> RefusalReason {
        V3AuthError::reason(self)
    }
}

impl AuthError {
    /// Why, as a code: what a refused request is kept and counted under (never the token).
    pub fn reason(&self) -> RefusalReason {
        match self {
            AuthError::MissingHeader => RefusalReason::MissingToken,
            AuthError::NotBearer(_)
            | AuthError::Malformed(_)
            | AuthError::BadTimeClaim(_)
            | AuthError::DuplicateClaim(_)
            | AuthError::CriticalExtension(_)
            | AuthError::BadClaimDate(_) => RefusalReason::MalformedToken,
            AuthError::UnknownCompany(_) => RefusalReason::UnknownCompany,
            AuthError::WrongAlgorithm(_) => RefusalReason::WrongAlgorithm,
            AuthError::BadSignature | AuthError::OperatorToken | AuthError::BadOperatorSignature => {
                RefusalReason::BadSignature
            }
            AuthError::Expired { .. } => RefusalReason::Expired,
            AuthError::ExpiredCredential(_) => RefusalReason::ExpiredCredential,
            AuthError::NotYetValid { .. } | AuthError::IssuedInFuture { .. } => RefusalReason::NotYetValid,
            AuthError::MissingPartnerId
            | AuthError::WrongPartnerId { .. }
            | AuthError::WrongPartnerIdParameter { .. } => RefusalReason::WrongPartner,
            AuthError::MissingSubject(_) | AuthError::UnknownOperator => RefusalReason::UnknownOperator,
            AuthError::MissingExpiry | AuthError::ExpiryTooFar => RefusalReason::OperatorTokenLifetime,
        }
    }
}

/// An authenticated caller: the partner the token proves, and the tenant the URL names.
#[derive(Debug, Clone)]
pub struct Caller {
    pub partner: Arc<Partner>,
    pub tenant: Tenant,
    /// The use of the secret that verified the token, when it is one to keep in the database.
    pub used: Option<CredentialUse>,
}

impl Caller {
    pub fn scope(&self) -> Scope {
        scope_of(&self.partner, self.tenant)
    }
}

/// Whose data a caller reaches: its partner's, in its tenant.
fn scope_of(partner: &Partner, tenant: Tenant) -> Scope {
    Scope {
        partner_id: partner.partner_id,
        tenant,
    }
}

/// `tirecompany` is the live tenant of partner tirecompany, `tirecompany_test` its test tenant.
pub fn resolve_company<'p>(partners: &'p Partners, segment: &str) -> Option<(&'p Arc<Partner>, Tenant)> {
    // Company names match case-insensitively, the `_test` suffix too.
    let test_base = segment
        .len()
        .checked_sub("_test".len())
        .filter(|&i| segment.get(i..).is_some_and(|tail| tail.eq_ignore_ascii_case("_test")))
        .map(|i| &segment[..i]);
    match test_base {
        Some(base) => partners.by_company(base).map(|p| (p, Tenant::Test)),
        None => partners.by_company(segment).map(|p| (p, Tenant::Live)),
    }
}

fn bearer_token(authorization: Option<&[u8]>) -> Result<&str, AuthError> {
    let header = authorization.ok_or(AuthError::MissingHeader)?;
    let header = std::str::from_utf8(header)
        .map_err(|_| AuthError::NotBearer(": it is not text"))?
        .trim();
    match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            match misshapen(token) {
                Some(why) => Err(AuthError::Malformed(why)),
                None => Ok(token),
            }
        }
        other => Err(AuthError::NotBearer(not_bearer(
            header,
            other.map(|(scheme, _)| scheme),
        ))),
    }
}

/// What an Authorization header has instead of `Bearer <JWT>`, in words that name no part of
/// the credential: the token alone (a JWT starts `eyJ`, its header's `{"`), `Bearer:`, or
/// another scheme.
fn not_bearer(header: &str, scheme: Option<&str>) -> &'static str {
    match scheme {
        None if header.starts_with("eyJ") => ": it has the token alone, without 'Bearer ' before it",
        None | Some("") => "",
        Some(s) if s.trim_end_matches(':').eq_ignore_ascii_case("bearer") => {
            ": it has 'Bearer:', where a space alone goes between 'Bearer' and the token"
        }
        Some(s) if s.eq_ignore_ascii_case("basic") => ": it has Basic credentials, where this API takes a JWT",
        Some(s)
            if ["jwt", "token", "bearer-token"]
                .iter()
                .any(|w| s.eq_ignore_ascii_case(w)) =>
        {
            ": it names its scheme otherwise; the word before the token is 'Bearer'"
        }
        Some(_) => "",
    }
}

/// Why `token` cannot be a JWT at all (three base64url parts joined by dots), in the words of
/// someone who pasted it: a token wrapped when copied would otherwise read as signed with the
/// wrong secret, and a quoted one as "Invalid symbol 34". Changes no verdict: jsonwebtoken
/// refuses every such token too, and judges the rest.
fn misshapen(token: &str) -> Option<String> {
    // One pass over the bytes: this runs on every request, a lookup's included.
    let jwt_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if !token.bytes().all(jwt_byte) {
        let (at, c) = token
            .chars()
            .enumerate()
            .find(|&(_, c)| !u8::try_from(c).is_ok_and(jwt_byte))?;
        let n = at + 1;
        if token.len() > 2 && token.starts_with(['"', '\'']) && token.ends_with(&token[..1]) {
            return Some("it is in quotes: send the token without them".to_owned());
        }
        return Some(if c.is_whitespace() {
            format!("it has a space or line break at character {n}: was it wrapped or split when copied?")
        } else {
            format!(
                "it has {c:?} at character {n}, where a JWT has only letters, digits, '-', '_' and the dots between its parts"
            )
        });
    }
    let parts = token.bytes().filter(|&b| b == b'.').count() + 1;
    let hint = if parts < 3 {
        ": was it cut short when copied?"
    } else {
        ""
    };
    (parts != 3).then(|| format!("it has {parts} part(s), where a JWT has three (header.payload.signature){hint}"))
}

/// Whether a token that did not verify names an operator (a `sub`) and no partner: read
/// without trust, only to say what it is.
fn names_an_operator(token: &str) -> bool {
    jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(token)
        .is_ok_and(|claims| claim(&claims, "sub").is_some() && claim(&claims, "partnerid").is_none())
}

/// Checks the Authorization header's token for the company named in the URL.
pub fn authenticate(
    partners: &Partners,
    verified: &VerifiedTokens,
    company: &str,
    authorization: Option<&[u8]>,
) -> Result<Caller, AuthError> {
    let token = bearer_token(authorization)?;
    let (partner, tenant) =
        resolve_company(partners, company).ok_or_else(|| AuthError::UnknownCompany(company.to_owned()))?;
    let at = Utc::now();
    let now = at.timestamp();
    let reading = (partners.generation(), partner.partner_id);
    let secret = match verified.holds(token, reading, now) {
        Some(secret) => secret,
        None => {
            let (claims, secret) = verify_with_any(partner, token, at).map_err(|e| match e {
                AuthError::BadSignature if names_an_operator(token) => AuthError::OperatorToken,
                other => other,
            })?;
            let times = TimeClaims::check(&claims, now)?;
            check_claims(partner, &claims)?;
            // Held no longer than the secret that verified it lives.
            let until = [
                times.expiry(),
                partner.secrets[secret].not_after.map(|end| end.timestamp()),
            ]
            .into_iter()
            .flatten()
            .min();
            verified.insert(token, reading, secret, until);
            secret
        }
    };
    let used = partner.secrets.get(secret).and_then(|credential| {
        let last = &credential.last_used;
        last.mark(now)
            .then(|| last.to_keep(partner.partner_id, CredentialKind::Secret, at))
    });
    Ok(Caller {
        partner: Arc::clone(partner),
        tenant,
        used,
    })
}

/// The token's claims, verified with one of the partner's secrets that is live at `now`, and
/// that secret's position. A token only a secret past its `not_after` verifies is refused as
/// [`AuthError::ExpiredCredential`], so a partner still signing with a rotated-out secret is
/// told so.
fn verify_with_any(
    partner: &Partner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Map<String, Value>, usize), AuthError> {
    for (i, credential) in partner.secrets.iter().enumerate().filter(|(_, c)| c.live_at(now)) {
        match verify(credential.secret(), token) {
            Ok(claims) => return Ok((claims, i)),
            Err(AuthError::BadSignature) => continue,
            // Malformed, another algorithm...: the same with every secret.
            Err(other) => return Err(other),
        }
    }
    let expired = partner
        .secrets
        .iter()
        .filter(|c| !c.live_at(now))
        .find(|c| verify(c.secret(), token).is_ok());
    Err(match expired.and_then(|c| c.not_after) {
        Some(end) => AuthError::ExpiredCredential(end),
        None => AuthError::BadSignature,
    })
}

/// Seconds a token's exp, nbf and iat may be off (clocks differ a little).
const LEEWAY_SECS: i64 = 60;

/// A token's time claims, found in any spelling (`exp`, `EXP`), as RFC 7519 NumericDates in
/// whole seconds. The one place they are judged, for v2 and v3 alike: jsonwebtoken reads only
/// the lower-case spellings, and a claim it does not read must not slip past.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TimeClaims {
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
}

impl TimeClaims {
    /// The claims' times, refused when two claims share a name in different spellings, when a
    /// time is not a number, when exp has passed, or when nbf or iat lie ahead (beyond the
    /// leeway): a token "issued" in ten years would otherwise live that long.
    fn check(claims: &Map<String, Value>, now: i64) -> Result<TimeClaims, AuthError> {
        let mut names: Vec<String> = claims.keys().map(|k| k.to_ascii_lowercase()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(AuthError::DuplicateClaim(pair[0].clone()));
        }
        let time = |name: &'static str| match claim(claims, name) {
            None => Ok(None),
            Some(v) => whole_seconds(v).map(Some).ok_or(AuthError::BadTimeClaim(name)),
        };
        let times = TimeClaims {
            exp: time("exp")?,
            nbf: time("nbf")?,
            iat: time("iat")?,
        };
        if let Some(exp) = times.exp.filter(|exp| exp.saturating_add(LEEWAY_SECS) < now) {
            return Err(AuthError::Expired { exp, now });
        }
        if let Some(nbf) = times.nbf.filter(|nbf| *nbf > now.saturating_add(LEEWAY_SECS)) {
            return Err(AuthError::NotYetValid { nbf, now });
        }
        if let Some(iat) = times.iat.filter(|iat| *iat > now.saturating_add(LEEWAY_SECS)) {
            return Err(AuthError::IssuedInFuture { iat, now });
        }
        Ok(times)
    }

    /// The last second a verified token is accepted: its exp, with the leeway.
    fn expiry(&self) -> Option<i64> {
        self.exp.map(|exp| exp.saturating_add(LEEWAY_SECS))
    }
}

/// A NumericDate as an RFC 3339 time, or as the number it is when no date can show it.
fn shown_time(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .filter(|t| t.year() <= 9999)
        .map_or_else(|| seconds.to_string(), |t| crate::wire::format_timestamp(&t))
}

/// How long `seconds` is, in the largest unit that keeps it a whole number of at least two.
fn span(seconds: i64) -> String {
    let seconds = seconds.unsigned_abs();
    match seconds {
        0..120 => format!("{seconds} seconds"),
        120..7_200 => format!("{} minutes", seconds / 60),
        7_200..172_800 => format!("{} hours", seconds / 3_600),
        _ => format!("{} days", seconds / 86_400),
    }
}

/// A time claim that lies ahead of the server's clock `now`: when, and how far ahead; or, past
/// the year 5000, what it is as the milliseconds it most likely is.
fn ahead(claim: i64, now: i64) -> String {
    if claim > 100_000_000_000 {
        return format!(
            "{claim}, which as milliseconds is {}: JWT times are seconds since 1970",
            shown_time(claim / 1000)
        );
    }
    format!(
        "{}, {} ahead of this server's clock ({})",
        shown_time(claim),
        span(claim.saturating_sub(now)),
        shown_time(now)
    )
}

/// A time claim that lies behind the server's clock `now`: when, and how long ago.
fn behind(claim: i64, now: i64) -> String {
    format!(
        "{}, {} before this server's clock ({})",
        shown_time(claim),
        span(now.saturating_sub(claim)),
        shown_time(now)
    )
}

/// Refuses a header that marks any extension critical (RFC 7515 4.1.11: a recipient that does
/// not understand one must reject the token).
fn no_critical_extensions(header: &Header) -> Result<(), AuthError> {
    match &header.crit {
        Some(names) => Err(AuthError::CriticalExtension(names.clone())),
        None => Ok(()),
    }
}

/// The tokens this server has verified, by their text, with the partner each proved (under
/// which reading of the config), the secret that verified it, and the last second it may be
/// used (its exp, with the leeway). A POS sends the same token with every call of a night;
/// checking its signature (base64, HMAC, JSON) cost more than the lookup it guards. Only what a full check accepted is kept: the same text under the same
/// partner's secret can only verify again, until exp, and nbf once passed stays passed.
/// Bounded: when full it starts again empty.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    tokens: Mutex<HashMap<Box<str>, Verified, foldhash::fast::RandomState>>,
}

/// The [`Partners::generation`] a token was verified under, and the partner it proved. A
/// request that read the partners before a reload may finish verifying after the reload has
/// emptied the cache: what it keeps is of the old reading, and no request of the new one
/// takes it.
type Reading = (u64, i64);

#[derive(Debug, Clone, Copy)]
struct Verified {
    reading: Reading,
    /// The position of the partner's secret that verified it.
    secret: usize,
    /// The last second (since the epoch) the token is accepted; none without exp.
    until: Option<i64>,
}

/// How many verified tokens are kept: a few per partner and tenant, many partners.
const MAX_VERIFIED_TOKENS: usize = 4096;

impl VerifiedTokens {
    /// The position of the secret that verified `token` for the partner under this reading of
    /// the config, when it did and the token is still in date at `now`.
    fn holds(&self, token: &str, reading: Reading, now: i64) -> Option<usize> {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens
            .get(token)
            .filter(|v| v.reading == reading && v.until.is_none_or(|until| now <= until))
            .map(|v| v.secret)
    }

    /// Forgets every verified token (a reload: a secret may be gone).
    pub fn clear(&self) {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    fn insert(&self, token: &str, reading: Reading, secret: usize, until: Option<i64>) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= MAX_VERIFIED_TOKENS {
            tokens.clear();
        }
        tokens.insert(token.into(), Verified { reading, secret, until });
    }
}

/// A time claim (exp, iat) as whole seconds: a fraction counts from its whole second.
fn whole_seconds(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f.floor() as i64))
}

fn verify(secret: &[u8], token: &str) -> Result<Map<String, Value>, AuthError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::HS256 {
        return Err(AuthError::WrongAlgorithm(format!("{:?}", header.alg)));
    }
    no_critical_extensions(&header)?;
    let mut validation = Validation::new(Algorithm::HS256);
    // No claim is required (the guide's tokens carry only partnerid and claimdate: the
    // signature is what authenticates); exp, nbf and iat are judged by TimeClaims, in any
    // spelling.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let key = DecodingKey::from_secret(secret);
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm => AuthError::WrongAlgorithm(format!("{:?}", header.alg)),
            _ => AuthError::Malformed(e.to_string()),
        })
}

/// Claim names match case-insensitively (`partnerid`, `PartnerID`...).
fn claim<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c Value> {
    claims
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// A partner id as sent: a number or a numeric string.
pub fn partner_id_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn check_claims(partner: &Partner, claims: &Map<String, Value>) -> Result<(), AuthError> {
    let id = claim(claims, "partnerid").ok_or(AuthError::MissingPartnerId)?;
    if partner_id_value(id) != Some(partner.partner_id) {
        return Err(AuthError::WrongPartnerId {
            sent: crate::wire::as_sent(&id.to_string()),
            expected: partner.partner_id,
        });
    }
    match claim(claims, "claimdate") {
        None => Ok(()),
        // A JWT NumericDate (seconds since the epoch, fractions allowed as RFC 7519 says:
        // Python's `time.time()`) is a date too.
        Some(Value::Number(n)) if numeric_date(n).is_some() => Ok(()),
        Some(Value::String(s)) if parse_date_str(s, partner.timezone).is_ok() => Ok(()),
        Some(other) => Err(AuthError::BadClaimDate(crate::wire::as_sent(&other.to_string()))),
    }
}

/// A JWT NumericDate: seconds since the epoch, whole or with a fraction.
fn numeric_date(n: &serde_json::Number) -> Option<DateTime<Utc>> {
    if let Some(secs) = n.as_i64() {
        return DateTime::from_timestamp(secs, 0);
    }
    let secs = n.as_f64().filter(|f| f.is_finite())?;
    // Beyond chrono's range the cast saturates and from_timestamp refuses it.
    DateTime::from_timestamp(secs.floor() as i64, 0)
}

/// A token the server accepts for `partner`: partnerid and claimdate as the guide describes,
/// plus iat, and exp when a lifetime is given.
pub fn issue_token(
    partner: &Partner,
    now: DateTime<Utc>,
    lifetime: Option<chrono::Duration>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let mut claims = Map::new();
    claims.insert("partnerid".into(), partner.partner_id.into());
    claims.insert("claimdate".into(), crate::wire::format_date(&now).into());
    claims.insert("iat".into(), now.timestamp().into());
    if let Some(lifetime) = lifetime {
        claims.insert("exp".into(), (now + lifetime).timestamp().into());
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(partner.signing_secret()),
    )
}

/// The longest an operator's token may live, in hours (`token --operator` mints 8 by default).
pub const MAX_OPERATOR_TOKEN_HOURS: i64 = 12;

/// Checks an operator's token (the operators' routes): HS256, signed with the secret of the
/// operator its `sub` names, with an exp at most [`MAX_OPERATOR_TOKEN_HOURS`] away. What the
/// operator may do is their role in the config; a `role` claim in the token counts for nothing.
/// A partner's token names no operator, and an operator's token carries no partnerid, so
/// neither reaches the other's routes.
pub fn authenticate_operator(operators: &Operators, authorization: Option<&[u8]>) -> Result<Arc<Operator>, AuthError> {
    let token = bearer_token(authorization)?;
    // Which operator's secret to check the signature with: the sub, read before it is trusted,
    // then trusted only once that secret verifies the token.
    let unverified: Map<String, Value> =
        jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
    let name = claim(&unverified, "sub")
        .ok_or_else(|| AuthError::MissingSubject(claim(&unverified, "partnerid").is_some()))?;
    let operator = name
        .as_str()
        .and_then(|name| operators.by_name(name))
        .ok_or(AuthError::UnknownOperator)?;
    let claims = verify(operator.secret(), token).map_err(|e| match e {
        AuthError::BadSignature => AuthError::BadOperatorSignature,
        other => other,
    })?;
    let now = Utc::now().timestamp();
    let exp = TimeClaims::check(&claims, now)?.exp.ok_or(AuthError::MissingExpiry)?;
    if exp > now.saturating_add(MAX_OPERATOR_TOKEN_HOURS * 3600 + LEEWAY_SECS) {
        return Err(AuthError::ExpiryTooFar);
    }
    Ok(Arc::clone(operator))
}

/// A token for `operator`: sub (the name), role (for the holder to read; the server goes by the
/// config), iat and exp.
pub fn issue_operator_token(
    operator: &Operator,
    now: DateTime<Utc>,
    lifetime: chrono::Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let mut claims = Map::new();
    claims.insert("sub".into(), operator.name.clone().into());
    claims.insert("role".into(), operator.role.into_str().into());
    claims.insert("iat".into(), now.timestamp().into());
    claims.insert("exp".into(), (now + lifetime).timestamp().into());
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(operator.secret()),
    )
}

/// Why a v3 request was refused; each becomes a 401 naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V3AuthError {
    #[error(transparent)]
    Header(#[from] AuthError),
    #[error("the v3 API is not configured on this server ([v3] in its config)")]
    NotConfigured,
    #[error("the token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error(
        "the token is signed with {}; the v3 API accepts only ES256{}",
        .0,
        if .0 == "HS256" { " (an HS256 token, signed with your secret, is v2's; v3 takes one signed with your private key)" } else { "" }
    )]
    WrongAlgorithm(String),
    #[error("the token has no {0} claim; v3 tokens carry iss, aud, iat and exp")]
    MissingClaim(String),
    #[error("no partner has the v3 issuer {0:?} (the token's iss)")]
    UnknownIssuer(String),
    #[error("the token's signature does not match the public key registered for its issuer")]
    BadSignature,
    #[error("the token's kid {0:?} names none of its issuer's v3 keys")]
    UnknownKid(String),
    #[error(
        "the token is signed with a v3 key of its issuer that stopped verifying at {}; sign with the current one",
        crate::wire::format_timestamp(.0)
    )]
    ExpiredCredential(DateTime<Utc>),
    #[error("the token's aud is neither this server's audience ({0}) nor its sandbox audience ({1})")]
    WrongAudience(String, String),
    #[error("the token's aud names both the live and the sandbox audience; name one")]
    BothAudiences,
    #[error("the token's exp is more than 24 hours after its iat; v3 tokens live at most 24 hours")]
    TooLong,
}

impl V3AuthError {
    /// Why, as a code (see [`AuthError::reason`]).
    pub fn reason(&self) -> RefusalReason {
        match self {
            V3AuthError::Header(e) => e.reason(),
            V3AuthError::NotConfigured => RefusalReason::V3NotConfigured,
            V3AuthError::Malformed(_) | V3AuthError::MissingClaim(_) => RefusalReason::MalformedToken,
            V3AuthError::WrongAlgorithm(_) => RefusalReason::WrongAlgorithm,
            V3AuthError::UnknownIssuer(_) => RefusalReason::UnknownIssuer,
            V3AuthError::BadSignature => RefusalReason::BadSignature,
            V3AuthError::UnknownKid(_) => RefusalReason::UnknownKid,
            V3AuthError::ExpiredCredential(_) => RefusalReason::ExpiredCredential,
            V3AuthError::WrongAudience(..) | V3AuthError::BothAudiences => RefusalReason::WrongAudience,
            V3AuthError::TooLong => RefusalReason::V3TokenLifetime,
        }
    }
}

/// The longest a v3 token may live: exp at most this long after iat.
pub const V3_MAX_LIFETIME_SECS: i64 = 24 * 60 * 60;

/// Checks a v3 request's token: ES256, signed with the key of the partner its `iss` names, for
/// one of the two audiences (live or sandbox), in date, living at most 24 hours.
pub fn authenticate_v3(
    partners: &Partners,
    v3: Option<&V3Settings>,
    authorization: Option<&[u8]>,
) -> Result<V3Caller, V3AuthError> {
    let token = bearer_token(authorization)?;
    let v3 = v3.ok_or(V3AuthError::NotConfigured)?;
    let header = jsonwebtoken::decode_header(token).map_err(|e| V3AuthError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::ES256 {
        return Err(V3AuthError::WrongAlgorithm(format!("{:?}", header.alg)));
    }
    no_critical_extensions(&header)?;
    // The issuer says whose key to check the signature with; nothing else is read unverified.
    let unverified: Map<String, Value> =
        jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|e| V3AuthError::Malformed(e.to_string()))?;
    let issuer = unverified
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| V3AuthError::MissingClaim("iss".into()))?;
    let (partner, keys) = partners
        .by_v3_issuer(issuer)
        .ok_or_else(|| V3AuthError::UnknownIssuer(issuer.to_owned()))?;
    let mut validation = Validation::new(Algorithm::ES256);
    // exp, nbf and iat are judged by TimeClaims, in any spelling; iss and aud here.
    validation.set_required_spec_claims(&["iss", "aud"]);
    validation.set_issuer(&[&keys.issuer]);
    validation.set_audience(&[&v3.audience, &v3.sandbox_audience]);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let decode = |key: &V3Key| {
        jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey => V3AuthError::BadSignature,
                ErrorKind::InvalidAudience => {
                    V3AuthError::WrongAudience(v3.audience.clone(), v3.sandbox_audience.clone())
                }
                ErrorKind::MissingRequiredClaim(c) => V3AuthError::MissingClaim(c.clone()),
                _ => V3AuthError::Malformed(e.to_string()),
            })
    };
    let now = Utc::now();
    let (claims, key) = match &header.kid {
        // The kid picks the key; a kid the partner does not have is refused by name.
        Some(kid) => {
            let key = keys
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid.as_str()))
                .ok_or_else(|| V3AuthError::UnknownKid(kid.clone()))?;
            match (key.live_at(now), key.not_after) {
                (false, Some(end)) => return Err(V3AuthError::ExpiredCredential(end)),
                _ => (decode(key)?, key),
            }
        }
        // Without a kid, each live key is tried; a token only a retired one verifies says so.
        None => {
            let mut verified = Err(V3AuthError::BadSignature);
            for key in keys.keys.iter().filter(|k| k.live_at(now)) {
                verified = decode(key).map(|claims| (claims, key));
                if !matches!(verified, Err(V3AuthError::BadSignature)) {
                    break;
                }
            }
            match verified {
                Err(V3AuthError::BadSignature) => {
                    let retired = keys.keys.iter().filter(|k| !k.live_at(now)).find(|k| decode(k).is_ok());
                    return Err(match retired.and_then(|k| k.not_after) {
                        Some(end) => V3AuthError::ExpiredCredential(end),
                        None => V3AuthError::BadSignature,
                    });
                }
                other => other?,
            }
        }
    };
    let times = TimeClaims::check(&claims, Utc::now().timestamp())?;
    let exp = times.exp.ok_or_else(|| V3AuthError::MissingClaim("exp".into()))?;
    let iat = times.iat.ok_or_else(|| V3AuthError::MissingClaim("iat".into()))?;
    if exp.saturating_sub(iat) > V3_MAX_LIFETIME_SECS {
        return Err(V3AuthError::TooLong);
    }
    let names = |audience: &str| match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    let tenant = match (names(&v3.audience), names(&v3.sandbox_audience)) {
        (true, false) => Tenant::Live,
        (false, true) => Tenant::Test,
        (true, true) => return Err(V3AuthError::BothAudiences),
        (false, false) => {
            return Err(V3AuthError::WrongAudience(
                v3.audience.clone(),
                v3.sandbox_audience.clone(),
            ));
        }
    };
    let used = (key.last_used.mark(now.timestamp()))
        .then(|| key.last_used.to_keep(partner.partner_id, CredentialKind::V3Key, now));
    Ok(V3Caller {
        partner: Arc::clone(partner),
        tenant,
        keys: Arc::clone(keys),
        used,
    })
}

/// A caller a v3 token authenticated: the partner its `iss` names, the tenant its `aud` names,
/// and the partner's v3 keys and products that proved it.
pub struct V3Caller {
    pub partner: Arc<Partner>,
    pub tenant: Tenant,
    pub keys: Arc<V3Partner>,
    /// The use of the key that verified the token, when it is one to keep in the database.
    pub used: Option<CredentialUse>,
}

impl V3Caller {
    pub fn scope(&self) -> Scope {
        scope_of(&self.partner, self.tenant)
    }
}

/// A v3 token (ES256) signed with the partner's private key (PKCS#8 PEM), for `audience`.
pub fn issue_v3_token(
    issuer: &str,
    audience: &str,
    kid: Option<&str>,
    private_key_pem: &[u8],
    now: DateTime<Utc>,
    lifetime: chrono::Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = serde_json::json!({
        "iat": now.timestamp(),
        "exp": (now + lifetime).timestamp(),
        "aud": audience,
        "iss": issuer,
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_pem(private_key_pem)?)
}

/// A new P-256 key pair for a v3 partner: the private key (PKCS#8 PEM, for the partner) and
/// the public key (SPKI PEM, for the config).
pub fn generate_v3_key_pair() -> anyhow::Result<(String, String)> {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let private = secret.to_pkcs8_pem(LineEnding::LF)?.to_string();
    let public = secret.public_key().to_public_key_pem(LineEnding::LF)?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config of one partner, tirecompany (1001), its table ending in `partner`, then
    /// `rest` (no environment, paths from /).
    fn tirecompany_config(partner: &str, rest: &str) -> crate::config::Config {
        let text = format!(
            "[database]\npath = \"gw.sqlite3\"\n\
             [[partners]]\ncompany = \"tirecompany\"\npartner_id = 1001\nplan_term_months = 36\n{partner}\n{rest}"
        );
        let file: crate::config::FileConfig = toml::from_str(&text).unwrap();
        crate::config::Config::from_file_config(file, std::path::Path::new("/"), |_| None).unwrap()
    }

    /// A config with one partner and two operators (a support and an admin).
    fn operators_config() -> crate::config::Config {
        tirecompany_config(
            r#"secret = "partner-secret-0123456789abcdef0123""#,
            r#"
            [[operators]]
            name = "anna"
            role = "support"
            secret = "anna-secret-0123456789abcdef012345"
            [[operators]]
            name = "olaf"
            role = "admin"
            secret = "olaf-secret-0123456789abcdef012345"
            "#,
        )
    }

    fn sign(secret: &str, claims: Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn a_token_that_cannot_be_a_jwt_says_why_as_pasted() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJwYXJ0bmVyaWQiOjF9.c2ln";
        assert_eq!(misshapen(token), None);
        let why = |t: &str| misshapen(t).unwrap_or_else(|| panic!("{t:?} passed"));
        assert!(why(&format!("{} {}", &token[..30], &token[30..])).contains("space or line break at character 31"));
        assert!(why(&format!("{}\n{}", &token[..30], &token[30..])).contains("wrapped or split"));
        assert_eq!(
            why(&format!("\"{token}\"")),
            "it is in quotes: send the token without them"
        );
        assert!(why(&format!("\"{token}")).contains("'\"' at character 1"));
        assert!(why(&format!("{token}=")).contains("'=' at character"));
        assert!(why(&token[..30]).contains("2 part(s)") && why(&token[..30]).contains("cut short"));
        assert!(why("abc").contains("1 part(s)"));
        assert!(why(&format!("{token}.x")).ends_with("4 part(s), where a JWT has three (header.payload.signature)"));
        // Through the header: every API's tokens are read there, as malformed.
        let refused = bearer_token(Some(format!("Bearer {}  {}", &token[..9], &token[9..]).as_bytes())).unwrap_err();
        assert!(
            matches!(&refused, AuthError::Malformed(m) if m.contains("character 10")),
            "{refused}"
        );
        assert_eq!(
            bearer_token(Some(format!("bearer  {token} ").as_bytes())).unwrap(),
            token
        );
    }

    #[test]
    fn a_header_that_is_not_bearer_says_what_it_has_instead() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJwYXJ0bmVyaWQiOjF9.c2ln";
        let said = |header: &str| bearer_token(Some(header.as_bytes())).unwrap_err().to_string();
        let must = "the Authorization header must be 'Bearer <JWT>'";
        for (header, then) in [
            (
                token.to_owned(),
                ": it has the token alone, without 'Bearer ' before it",
            ),
            (
                format!("Bearer: {token}"),
                ": it has 'Bearer:', where a space alone goes between 'Bearer' and the token",
            ),
            (
                "Basic dXNlcjpwYXNz".to_owned(),
                ": it has Basic credentials, where this API takes a JWT",
            ),
            (
                format!("JWT {token}"),
                ": it names its scheme otherwise; the word before the token is 'Bearer'",
            ),
            (
                format!("Token {token}"),
                ": it names its scheme otherwise; the word before the token is 'Bearer'",
            ),
            ("Negotiate abc".to_owned(), ""),
            ("whatever".to_owned(), ""),
        ] {
            assert_eq!(said(&header), format!("{must}{then}"), "{header}");
            assert!(!said(&header).contains("dXNl") && !said(&header).contains(&token[..10]));
        }
        assert_eq!(
            bearer_token(Some(b"Bearer \xff")).unwrap_err().to_string(),
            format!("{must}: it is not text")
        );
    }

    fn bearer(token: &str) -> Vec<u8> {
        format!("Bearer {token}").into_bytes()
    }

    #[test]
    fn an_operators_token_proves_the_operator_with_the_role_the_config_gives() {
        let config = operators_config();
        let anna = config.operators.by_name("anna").unwrap();
        let token = issue_operator_token(anna, Utc::now(), chrono::Duration::hours(8)).unwrap();
        let proved = authenticate_operator(&config.operators, Some(&bearer(&token))).unwrap();
        assert_eq!(
            (proved.name.as_str(), proved.role),
            ("anna", crate::config::Role::Support)
        );
        // A role claim counts for nothing: anna is support whatever her token says.
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({"sub": "anna", "role": "admin", "iat": now, "exp": now + 3600});
        let token = sign("anna-secret-0123456789abcdef012345", claims);
        let proved = authenticate_operator(&config.operators, Some(&bearer(&token))).unwrap();
        assert_eq!(proved.role, crate::config::Role::Support);
    }

    /// A token verified while its secret lived is refused once the secret's not_after has
    /// passed, though the verified-token cache holds it.
    #[test]
    fn a_verified_token_lives_no_longer_than_its_secret() {
        let end = (Utc::now() + chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let config = tirecompany_config(
            &format!(
                r#"secrets = [ {{ secret = "new-secret-0123456789abcdef0123456789" }},
                               {{ secret = "old-secret-0123456789abcdef0123456789", not_after = "{end}" }} ]"#
            ),
            "",
        );
        let cache = VerifiedTokens::default();
        let token = sign(
            "old-secret-0123456789abcdef0123456789",
            serde_json::json!({"partnerid": 1001}),
        );
        let check = || authenticate(&config.partners, &cache, "tirecompany", Some(&bearer(&token)));
        assert!(check().is_ok());
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert!(matches!(check().unwrap_err(), AuthError::ExpiredCredential(_)));
        // The new one signs `token`'s tokens and still verifies.
        let partner = config.partners.by_company("tirecompany").unwrap();
        let fresh = issue_token(partner, Utc::now(), None).unwrap();
        assert!(authenticate(&config.partners, &cache, "tirecompany", Some(&bearer(&fresh))).is_ok());
    }

    /// A request that read the partners before a reload removed a secret, and verifies its
    /// token with it after the reload emptied the cache: what it keeps there verifies nothing
    /// under the config read again.
    #[test]
    fn a_token_verified_under_the_config_before_a_reload_is_not_taken_after_it() {
        let secrets = |both: bool| {
            let old = r#", { secret = "old-secret-0123456789abcdef0123456789" }"#;
            format!(
                r#"secrets = [ {{ secret = "new-secret-0123456789abcdef0123456789" }}{} ]"#,
                if both { old } else { "" }
            )
        };
        let (before, after) = (
            tirecompany_config(&secrets(true), ""),
            tirecompany_config(&secrets(false), ""),
        );
        let cache = VerifiedTokens::default();
        let token = sign(
            "old-secret-0123456789abcdef0123456789",
            serde_json::json!({"partnerid": 1001}),
        );
        let check = |config: &crate::config::Config| {
            authenticate(&config.partners, &cache, "tirecompany", Some(&bearer(&token)))
        };
        // The late request's verification, kept after the reload's clear().
        assert!(check(&before).is_ok());
        assert_eq!(check(&after).unwrap_err(), AuthError::BadSignature);
        // Its use was counted on the secret that verified it, not on the one now first.
        let partner = before.partners.by_company("tirecompany").unwrap();
        assert!(partner.secrets[1].last_used.at().is_some() && partner.secrets[0].last_used.at().is_none());
    }

    #[test]
    fn partner_and_operator_tokens_never_cross_surfaces() {
        let config = operators_config();
        let partner = config.partners.by_company("tirecompany").unwrap();
        let partner_token = issue_token(partner, Utc::now(), None).unwrap();
        assert_eq!(
            authenticate_operator(&config.operators, Some(&bearer(&partner_token))).unwrap_err(),
            AuthError::MissingSubject(true)
        );
        let olaf = config.operators.by_name("olaf").unwrap();
        let operator_token = issue_operator_token(olaf, Utc::now(), chrono::Duration::hours(1)).unwrap();
        let refused = authenticate(
            &config.partners,
            &VerifiedTokens::default(),
            "tirecompany",
            Some(&bearer(&operator_token)),
        )
        .unwrap_err();
        assert_eq!(refused, AuthError::OperatorToken);
        assert!(refused.to_string().contains("it is an operator's token"), "{refused}");
        assert!(
            AuthError::MissingSubject(true)
                .to_string()
                .ends_with("(this one has a partnerid: a partner's token is for /v2/partners/... and /console)")
        );
    }

    #[test]
    fn an_operators_token_is_refused_for_each_reason_it_names() {
        let config = operators_config();
        let now = Utc::now().timestamp();
        let anna = "anna-secret-0123456789abcdef012345";
        for (secret, claims, refusal) in [
            (
                anna,
                serde_json::json!({"sub": "anna", "iat": now}),
                AuthError::MissingExpiry,
            ),
            (
                anna,
                serde_json::json!({"sub": "anna", "exp": now + 13 * 3600}),
                AuthError::ExpiryTooFar,
            ),
            (
                anna,
                serde_json::json!({"sub": "anna", "exp": now - 3600}),
                AuthError::Expired { exp: now - 3600, now },
            ),
            (
                "olaf-secret-0123456789abcdef012345",
                serde_json::json!({"sub": "anna", "exp": now + 60}),
                AuthError::BadOperatorSignature,
            ),
            (
                anna,
                serde_json::json!({"sub": "nobody", "exp": now + 60}),
                AuthError::UnknownOperator,
            ),
            (
                anna,
                serde_json::json!({"sub": 7, "exp": now + 60}),
                AuthError::UnknownOperator,
            ),
        ] {
            let token = sign(secret, claims.clone());
            let refused = authenticate_operator(&config.operators, Some(&bearer(&token))).unwrap_err();
            assert_eq!(refused, refusal, "{claims}");
        }
        assert_eq!(
            authenticate_operator(&config.operators, None).unwrap_err(),
            AuthError::MissingHeader
        );
    }

    #[test]
    fn a_verified_token_holds_for_its_partner_until_its_exp() {
        let verified = VerifiedTokens::default();
        verified.insert("t1", (1, 7), 0, Some(1_000));
        verified.insert("t2", (1, 7), 1, None);
        assert_eq!(verified.holds("t1", (1, 7), 999), Some(0));
        assert_eq!(verified.holds("t1", (1, 7), 1_000), Some(0));
        assert_eq!(verified.holds("t1", (1, 7), 1_001), None, "past its exp");
        assert_eq!(verified.holds("t1", (1, 8), 999), None, "another partner's company");
        assert_eq!(verified.holds("t1", (2, 7), 999), None, "the config read again");
        assert_eq!(verified.holds("t3", (1, 7), 999), None, "never verified");
        assert_eq!(
            verified.holds("t2", (1, 7), i64::MAX),
            Some(1),
            "no exp; the second secret verified it"
        );
    }

    #[test]
    fn the_cache_of_verified_tokens_is_bounded() {
        let verified = VerifiedTokens::default();
        for i in 0..MAX_VERIFIED_TOKENS + 10 {
            verified.insert(&format!("t{i}"), (1, 7), 0, None);
        }
        assert!(verified.tokens.lock().unwrap().len() <= MAX_VERIFIED_TOKENS);
        assert!(
            verified
                .holds(&format!("t{}", MAX_VERIFIED_TOKENS + 9), (1, 7), 0)
                .is_some()
        );
    }

    #[test]
    fn a_generated_key_pair_signs_tokens_its_public_key_verifies() {
        let (private, public) = generate_v3_key_pair().unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"), "{private}");
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
        let now = Utc::now();
        let token = issue_v3_token(
            "iss",
            "aud",
            None,
            private.as_bytes(),
            now,
            chrono::Duration::minutes(5),
        )
        .unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["aud"]);
        validation.set_issuer(&["iss"]);
        let key = DecodingKey::from_ec_pem(public.as_bytes()).unwrap();
        let claims = jsonwebtoken::decode::<Map<String, Value>>(&token, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
        // Another pair's public key does not verify it.
        let (_, other) = generate_v3_key_pair().unwrap();
        let other = DecodingKey::from_ec_pem(other.as_bytes()).unwrap();
        assert!(jsonwebtoken::decode::<Map<String, Value>>(&token, &other, &validation).is_err());
    }

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn expiry_is_exp_with_the_leeway() {
        let expiry = |v: Value| TimeClaims::check(&claims(v), 0).unwrap().expiry();
        assert_eq!(expiry(serde_json::json!({"exp": 100})), Some(160));
        assert_eq!(expiry(serde_json::json!({"exp": 100.7})), Some(160));
        assert_eq!(expiry(serde_json::json!({"EXP": 100})), Some(160));
        assert_eq!(expiry(serde_json::json!({"partnerid": 1})), None);
    }

    #[test]
    fn a_refused_time_says_when_it_is_and_how_far_from_the_servers_clock() {
        let now = 1_765_080_000; // 2025-12-07T04:00:00Z
        let said = |v: Value| TimeClaims::check(&claims(v), now).unwrap_err().to_string();
        assert_eq!(
            said(serde_json::json!({"exp": now - 2 * 3600 - 5})),
            "the token has expired: its exp is 2025-12-07T01:59:55Z, 2 hours before this server's clock \
             (2025-12-07T04:00:00Z)"
        );
        assert_eq!(
            said(serde_json::json!({"iat": now + 33 * 60})),
            "the token was issued in the future: its iat is 2025-12-07T04:33:00Z, 33 minutes ahead of this \
             server's clock (2025-12-07T04:00:00Z)"
        );
        // Milliseconds for seconds: said as such.
        assert_eq!(
            said(serde_json::json!({"nbf": now * 1000})),
            "the token is not valid yet: its nbf is 1765080000000, which as milliseconds is 2025-12-07T04:00:00Z: \
             JWT times are seconds since 1970"
        );
        assert!(said(serde_json::json!({"exp": now - 100})).contains("100 seconds before"));
        assert!(said(serde_json::json!({"exp": now - 3 * 86_400})).contains("3 days before"));
    }

    #[test]
    fn time_claims_are_judged_in_any_spelling_within_the_leeway() {
        let check = |v: Value| TimeClaims::check(&claims(v), 1_000);
        assert_eq!(
            check(serde_json::json!({"Exp": 939})),
            Err(AuthError::Expired { exp: 939, now: 1_000 })
        );
        assert!(check(serde_json::json!({"exp": 940})).is_ok(), "within the leeway");
        assert_eq!(
            check(serde_json::json!({"NBF": 1_061})),
            Err(AuthError::NotYetValid { nbf: 1_061, now: 1_000 })
        );
        assert!(check(serde_json::json!({"nbf": 1_060})).is_ok());
        assert_eq!(
            check(serde_json::json!({"iat": 1_061})),
            Err(AuthError::IssuedInFuture { iat: 1_061, now: 1_000 })
        );
        assert!(check(serde_json::json!({"IAT": 1_060})).is_ok());
        assert_eq!(
            check(serde_json::json!({"exp": 2_000, "EXP": 2_000})),
            Err(AuthError::DuplicateClaim("exp".into()))
        );
        assert_eq!(
            check(serde_json::json!({"partnerid": 1, "PartnerID": 2})),
            Err(AuthError::DuplicateClaim("partnerid".into()))
        );
        assert_eq!(
            check(serde_json::json!({"exp": "soon"})),
            Err(AuthError::BadTimeClaim("exp"))
        );
    }
}

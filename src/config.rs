//! Typed `config.toml`. The keys are a fixed contract (docs/configuration.md, "The config file"); unknown keys are an error so
//! a typo in a deployment never silently falls back to a default.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::client::TrustedProxies;
use crate::database_url::DatabaseUrl;
use crate::telemetry::LogFormat;

pub use crate::model::credential::CredentialKind;
use crate::model::credential::{CredentialUse, KEEP_EVERY_SECS};

/// Environment variable that picks the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "WARRANTY_GATEWAY_CONFIG";
/// The environment variable that overrides `[server] bind` (as `--bind` does).
pub const BIND_ENV: &str = "WARRANTY_GATEWAY_BIND";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    #[serde(default)]
    pub partners: Vec<PartnerSettings>,
    /// The v3 resource API's audiences; needed once a partner has a v3 key.
    pub v3: Option<V3Settings>,
    /// The people who run the gateway: support staff and admins, across partners.
    #[serde(default)]
    pub operators: Vec<OperatorSettings>,
}

/// `[[operators]]`: someone who runs the gateway. Their tokens reach the operators' routes,
/// never a partner's; what they may do is their role here, never what a token says.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSettings {
    /// Letters, digits, '.', '_' and '-': the `sub` of their tokens, and what the audit log shows.
    pub name: String,
    pub role: Role,
    /// The HS256 key of their tokens, inline or (better) in an environment variable.
    pub secret: Option<Redacted<String>>,
    pub secret_env: Option<String>,
}

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case", const_into_str)]
pub enum Role {
    /// Read everything, across partners.
    Support,
    /// Read everything, and the admin actions (a partner's test-tenant reset).
    Admin,
}

/// `[v3]`: the `aud` a v3 token names says which tenant it reaches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V3Settings {
    /// Tokens for this audience reach the partner's live data.
    pub audience: String,
    /// Tokens for this audience reach the partner's test tenant (v2's `<company>_test`).
    pub sandbox_audience: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    #[serde(default = "default_bind")]
    pub bind: String,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// A client must send its request line and headers within this many seconds (else 408).
    #[serde(default = "default_header_timeout_secs")]
    pub header_timeout_secs: u64,
    /// A client must send its whole body within this many seconds (else 408).
    #[serde(default = "default_body_timeout_secs")]
    pub body_timeout_secs: u64,
    /// An idle keep-alive connection is closed after this many seconds.
    #[serde(default = "default_keep_alive_secs")]
    pub keep_alive_secs: u64,
    /// The batch history keeps this many days.
    #[serde(default = "default_history_retention_days")]
    pub history_retention_days: u32,
    /// `text` (default) or `json`; `--log-format` overrides it.
    #[serde(default)]
    pub log_format: LogFormat,
    /// The proxies (CIDRs or addresses) whose Forwarded / X-Forwarded-For headers are believed;
    /// none by default: the client is the TCP peer.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// HTTPS: the certificate chain and its private key (PEM), both or neither (relative to the
    /// config's folder); without them the server speaks plain HTTP.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            max_body_bytes: default_max_body_bytes(),
            header_timeout_secs: default_header_timeout_secs(),
            body_timeout_secs: default_body_timeout_secs(),
            keep_alive_secs: default_keep_alive_secs(),
            history_retention_days: default_history_retention_days(),
            log_format: LogFormat::default(),
            trusted_proxies: Vec::new(),
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

fn default_header_timeout_secs() -> u64 {
    10
}

/// Ten minutes: a 64 MiB body on a slow shop uplink still arrives.
fn default_body_timeout_secs() -> u64 {
    600
}

fn default_keep_alive_secs() -> u64 {
    30
}

fn default_history_retention_days() -> u32 {
    30
}

fn default_bind() -> String {
    "127.0.0.1:8080".to_owned()
}

/// The IANA zone a misspelt or miscased name nearly is (`America/Denvr`, `america/denver`).
fn meant_zone(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    let near = (chrono_tz::TZ_VARIANTS.iter())
        .filter_map(|zone| Some((crate::wire::misspelling_of(&name, zone.name())?, zone.name())))
        .collect();
    crate::wire::nearest(near)
}

/// What to add to a failure to listen on `bind` when it names no port (`127.0.0.1`, `::1`):
/// the form it takes. Empty when it has one.
pub fn bind_hint(bind: &str) -> &'static str {
    let has_port = bind
        .rsplit_once(':')
        .is_some_and(|(host, port)| port.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']')));
    match has_port {
        true => "",
        false => " (it takes HOST:PORT, such as 127.0.0.1:8080 or [::1]:8080)",
    }
}

/// The smallest `max_body_bytes` taken: a few records' worth.
const MIN_BODY_BYTES: usize = 4096;

fn default_max_body_bytes() -> usize {
    64 * 1024 * 1024
}

/// A value never shown by `Debug`, whatever logs what holds it: a secret, or a URL that may
/// hold a password. It reads as the value it wraps.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Redacted<T>(pub T);

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> std::ops::Deref for Redacted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl From<&str> for Redacted<String> {
    fn from(s: &str) -> Self {
        Redacted(s.to_owned())
    }
}

/// `[database]`: exactly one of `path` (SQLite), `url` or `url_env` (PostgreSQL).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub path: Option<PathBuf>,
    pub url: Option<Redacted<String>>,
    pub url_env: Option<String>,
    pub pool_size: Option<u32>,
}

/// PostgreSQL connections per instance when `pool_size` is not given.
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file: the default, embedded, nothing to install.
    Sqlite { path: PathBuf },
    /// A PostgreSQL database that several instances may share. The URL may hold a password.
    Postgres { url: Redacted<String>, pool_size: u32 },
}

impl fmt::Display for Database {
    /// For logs and messages: the file, or the server and database without user or password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite { path } => write!(f, "{}", path.display()),
            Database::Postgres { url, .. } => f.write_str(&DatabaseUrl::describe(url)),
        }
    }
}

impl Database {
    fn resolve(
        s: &DatabaseSettings,
        base_dir: &Path,
        env: &impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Database> {
        let url = match (&s.path, &s.url, &s.url_env) {
            (Some(path), None, None) => {
                if s.pool_size.is_some() {
                    bail!("database.pool_size is for PostgreSQL (url or url_env), not for an SQLite path");
                }
                let path = if path.is_absolute() {
                    path.clone()
                } else {
                    base_dir.join(path)
                };
                return Ok(Database::Sqlite { path });
            }
            (None, Some(url), None) => url.0.clone(),
            (None, None, Some(var)) => {
                env(var).with_context(|| format!("database.url_env: the environment variable {var} is not set"))?
            }
            _ => bail!("[database] needs exactly one of path (SQLite), url or url_env (PostgreSQL)"),
        };
        if let Err(problem) = DatabaseUrl::parse(&url) {
            bail!("database.url (postgres://user@host:port/database?sslmode=...): {problem}");
        }
        let pool_size = s.pool_size.unwrap_or(DEFAULT_POOL_SIZE);
        if pool_size == 0 {
            bail!("database.pool_size must be at least 1");
        }
        Ok(Database::Postgres {
            url: Redacted(url),
            pool_size,
        })
    }
}

/// One of a partner's several secrets (`secrets = [...]`): inline or from the environment, and
/// optionally the last moment it verifies tokens.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSettings {
    pub secret: Option<Redacted<String>>,
    pub secret_env: Option<String>,
    /// A date (the end of that day, UTC) or an RFC 3339 time.
    pub not_after: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerSettings {
    pub company: String,
    pub partner_id: i64,
    pub secret: Option<Redacted<String>>,
    pub secret_env: Option<String>,
    /// Several secrets instead of one, for a rotation: each verifies until its `not_after`.
    pub secrets: Option<Vec<SecretSettings>>,
    pub plan_term_months: u32,
    pub timezone: Option<String>,
    /// The `iss` of the partner's v3 tokens.
    pub v3_issuer: Option<String>,
    /// The partner's P-256 public key (PEM), inline or in a file (relative to the config's folder).
    pub v3_public_key: Option<String>,
    pub v3_public_key_file: Option<PathBuf>,
    /// Several v3 keys instead of one, for a rotation: the token's `kid` picks one.
    pub v3_public_keys: Option<Vec<V3KeySettings>>,
    /// The `product_id` values the partner may register through v3; any when not given.
    pub v3_products: Option<Vec<String>>,
    /// Returned as `program_id` on the partner's v3 registrations.
    pub program_id: Option<String>,
    /// `HH:MM` in the partner's time zone: its nightly batch is late after this.
    pub expected_upload_by: Option<String>,
    /// The days (in its zone) on whose mornings a batch is due: `["Mon", "Tue", ...]`; every
    /// day when not given.
    pub upload_days: Option<Vec<String>>,
}

/// A configured partner, resolved and checked: the secret is loaded, the zone parsed.
#[derive(Debug)]
pub struct Partner {
    pub company: String,
    pub partner_id: i64,
    /// Its HS256 secrets, in the config's order: the first signs `token`'s tokens.
    pub secrets: Vec<Credential>,
    pub plan_term_months: u32,
    pub timezone: Tz,
    /// When its nightly batch is due, in its zone; none: no batch is expected.
    pub upload_due: Option<UploadDue>,
    /// How the partner reaches the v3 API; none: the partner is not on v3.
    pub v3: Option<Arc<V3Partner>>,
}

/// When a partner's nightly batch is due: by a time of day in its zone, on the mornings of some
/// days of the week (a shop closed on Sundays sends nothing on Monday morning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadDue {
    pub by: chrono::NaiveTime,
    /// The days, in its zone, whose morning expects a batch.
    pub days: chrono::WeekdaySet,
}

impl std::fmt::Display for UploadDue {
    /// `06:00`, or with its days when not every day: `06:00 Tue-Sat`, `06:00 Mon,Wed,Fri`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.by.format("%H:%M"))?;
        if self.days == chrono::WeekdaySet::ALL {
            return Ok(());
        }
        // Runs of following days, Monday first: (first, last).
        let mut runs: Vec<(chrono::Weekday, chrono::Weekday)> = Vec::new();
        for day in self.days.iter(chrono::Weekday::Mon) {
            match runs.last_mut() {
                Some((_, last)) if last.succ() == day && day != chrono::Weekday::Mon => *last = day,
                _ => runs.push((day, day)),
            }
        }
        let runs: Vec<String> = (runs.iter())
            .map(
                |&(first, last)| match last.num_days_from_monday() - first.num_days_from_monday() {
                    0 => first.to_string(),
                    1 => format!("{first},{last}"),
                    _ => format!("{first}-{last}"),
                },
            )
            .collect();
        write!(f, " {}", runs.join(","))
    }
}

/// One of a partner's v3 public keys: its `kid` (none for the single `v3_public_key`), the key,
/// and until when it verifies tokens.
pub struct V3Key {
    pub kid: Option<String>,
    pub key: jsonwebtoken::DecodingKey,
    pub not_after: Option<DateTime<Utc>>,
    pub last_used: LastUsed,
}

impl V3Key {
    /// Whether it still verifies tokens at `now`.
    pub fn live_at(&self, now: DateTime<Utc>) -> bool {
        live(self.not_after, now)
    }

    /// A v3 key of this one PEM, with no kid and no end (as the single `v3_public_key`).
    pub fn single(pem: &str, key: jsonwebtoken::DecodingKey) -> Vec<V3Key> {
        vec![V3Key {
            kid: None,
            key,
            not_after: None,
            last_used: LastUsed::of(pem.trim().as_bytes()),
        }]
    }
}

/// When a credential last verified a token on this instance (since it started, kept across
/// reloads while the credential stays), and when this instance last kept a use of it in the
/// database, where every instance's uses meet and outlast a restart. Whether a partner still
/// signs with the credential being retired is what a rotation waits on.
#[derive(Debug)]
pub struct LastUsed {
    at: AtomicI64,
    kept: AtomicI64,
    /// What the database names the credential by.
    fingerprint: Box<str>,
}

impl LastUsed {
    /// Nothing noted yet of the credential whose value is `value`.
    fn of(value: &[u8]) -> LastUsed {
        LastUsed {
            at: AtomicI64::new(0),
            kept: AtomicI64::new(0),
            fingerprint: crate::model::credential::fingerprint(value).into(),
        }
    }

    /// Notes a use at `now` (seconds since the epoch). Written only when the second has moved
    /// on: a busy partner's requests do not all write one cache line. True when this use is
    /// the one to keep in the database: the first here, then one a minute at most (of requests
    /// at once, only one is told to).
    pub fn mark(&self, now: i64) -> bool {
        if self.at.load(Ordering::Relaxed) < now {
            self.at.fetch_max(now, Ordering::Relaxed);
        }
        let kept = self.kept.load(Ordering::Relaxed);
        now - kept >= KEEP_EVERY_SECS
            && self
                .kept
                .compare_exchange(kept, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// The use at `now` to keep (to the second, as it is shown), of this credential of
    /// `partner_id`'s of `kind`.
    pub fn to_keep(&self, partner_id: i64, kind: CredentialKind, now: DateTime<Utc>) -> CredentialUse {
        CredentialUse {
            partner_id,
            kind,
            fingerprint: self.fingerprint.to_string(),
            at: chrono::SubsecRound::trunc_subsecs(now, 0),
        }
    }

    /// The last use on this instance; none since it started.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        match self.at.load(Ordering::Relaxed) {
            0 => None,
            secs => DateTime::from_timestamp(secs, 0),
        }
    }

    /// What the database names the credential by.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether both are of the same credential (the same value).
    fn same_as(&self, other: &LastUsed) -> bool {
        self.fingerprint == other.fingerprint
    }

    /// Takes on what `before`, of the same credential in the config read before, noted.
    fn keep(&self, before: &LastUsed) {
        self.at.fetch_max(before.at.load(Ordering::Relaxed), Ordering::Relaxed);
        self.kept
            .fetch_max(before.kept.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// One of several v3 keys in the config (`v3_public_keys = [...]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V3KeySettings {
    /// What the token's header `kid` names it by.
    pub kid: String,
    /// The PEM inline, or a file (relative to the config's folder).
    pub key: Option<String>,
    pub file: Option<PathBuf>,
    /// A date (the end of that day, UTC) or an RFC 3339 time.
    pub not_after: Option<String>,
}

/// A partner's v3 credentials and products.
pub struct V3Partner {
    pub issuer: String,
    /// The public keys its ES256 tokens verify with, in the config's order.
    pub keys: Vec<V3Key>,
    /// The `product_id` values accepted; any when none.
    pub products: Option<Vec<String>>,
    pub program_id: Option<String>,
}

impl fmt::Debug for V3Partner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V3Partner")
            .field("issuer", &self.issuer)
            .field("products", &self.products)
            .field("program_id", &self.program_id)
            .finish_non_exhaustive()
    }
}

impl Partner {
    /// The plan the partner sells: its term, counted in its time zone's calendar days.
    pub fn plan(&self) -> crate::status::Plan {
        crate::status::Plan {
            term_months: self.plan_term_months,
            zone: self.timezone,
        }
    }
}

/// Secrets shorter than this are warned about (HS256 keys should be at least 256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

/// The demo partner's secret in the bundled config.toml. Anyone can read it in the repository,
/// so a token signed with it proves nothing: the server keeps it to this machine (loopback).
pub const PUBLIC_DEMO_SECRET: &str = "demo-secret-replace-me-before-going-live-0123456789";

/// One HS256 secret of a partner: where it came from (never its value) and until when it
/// verifies tokens.
#[derive(Debug)]
pub struct Credential {
    /// The environment variable it came from, when not inline.
    pub secret_env: Option<String>,
    secret: Redacted<Vec<u8>>,
    /// The last moment it verifies; none: until it is removed from the config.
    pub not_after: Option<DateTime<Utc>>,
    pub last_used: LastUsed,
}

impl Credential {
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Whether it still verifies tokens at `now`.
    pub fn live_at(&self, now: DateTime<Utc>) -> bool {
        live(self.not_after, now)
    }

    pub fn is_short(&self) -> bool {
        self.secret.len() < MIN_SECRET_BYTES
    }
}

impl Partner {
    /// The secret `token` signs with: the first.
    pub fn signing_secret(&self) -> &[u8] {
        self.secrets[0].secret()
    }

    /// Whether one of its secrets is shorter than [`MIN_SECRET_BYTES`].
    pub fn secret_is_short(&self) -> bool {
        self.secrets.iter().any(Credential::is_short)
    }

    /// Whether `secret` is one of its secrets.
    pub fn has_secret(&self, secret: &[u8]) -> bool {
        self.secrets.iter().any(|c| c.secret() == secret)
    }

    /// Whether one of its secrets is the bundled config's [`PUBLIC_DEMO_SECRET`].
    pub fn has_public_secret(&self) -> bool {
        self.has_secret(PUBLIC_DEMO_SECRET.as_bytes())
    }

    /// Every credential it has, secrets (by position, from 1) then v3 keys (by kid), as
    /// `partners` lists them and the metrics show their ends: never a value. When each was last
    /// used is this instance's knowledge; [`Partner::credentials_used`] adds every instance's.
    pub fn credentials(&self) -> Vec<CredentialInfo> {
        self.credentials_used(&[])
    }

    /// Its credentials, each last used when this instance or the database's `kept` (uses of
    /// any instance's, to the minute) says, whichever is later.
    pub fn credentials_used(&self, kept: &[CredentialUse]) -> Vec<CredentialInfo> {
        let last = |kind: CredentialKind, used: &LastUsed| {
            let elsewhere = kept
                .iter()
                .filter(|k| k.partner_id == self.partner_id && k.kind == kind && *k.fingerprint == *used.fingerprint)
                .map(|k| k.at)
                .max();
            used.at().max(elsewhere)
        };
        let secrets = self.secrets.iter().enumerate().map(|(i, c)| CredentialInfo {
            kind: CredentialKind::Secret,
            id: (i + 1).to_string(),
            source: c
                .secret_env
                .as_ref()
                .map_or("inline".to_owned(), |v| format!("from ${v}")),
            not_after: c.not_after,
            last_used_at: last(CredentialKind::Secret, &c.last_used),
        });
        let keys = self.v3.iter().flat_map(|v3| &v3.keys).map(|k| CredentialInfo {
            kind: CredentialKind::V3Key,
            id: k.kid.clone().unwrap_or_else(|| "-".to_owned()),
            source: "public key".to_owned(),
            not_after: k.not_after,
            last_used_at: last(CredentialKind::V3Key, &k.last_used),
        });
        secrets.chain(keys).collect()
    }
}

/// What is shown of a credential: its kind (`secret`, `v3_key`), which one (a secret's position
/// from 1, a v3 key's kid, `-` for the single v3 key), where it comes from, its end, and when it
/// last verified a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    pub kind: CredentialKind,
    pub id: String,
    pub source: String,
    pub not_after: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Whether a credential ending at `not_after` (none: no end) still verifies at `now`: to the
/// second it names, included.
fn live(not_after: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    not_after.is_none_or(|end| now <= end)
}

/// A credential's `not_after`: a date (the end of that day, UTC) or an RFC 3339 time.
fn parse_not_after(who: &str, text: &str) -> anyhow::Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let end = day.and_hms_opt(23, 59, 59).expect("23:59:59 is a time");
        return Ok(end.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            anyhow::anyhow!(
                "{who}: not_after {text:?} is neither a date (2026-12-31) nor an RFC 3339 time (2026-12-31T18:00:00Z)"
            )
        })
}

/// A partner's secrets: the single `secret`/`secret_env`, or the `secrets` list; not both.
fn resolve_credentials(
    company: &str,
    p: &PartnerSettings,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<Credential>> {
    let who = format!("partner {company}");
    let Some(list) = &p.secrets else {
        let secret = resolve_secret(&who, p.secret.clone(), p.secret_env.clone(), env)?;
        return Ok(vec![Credential {
            secret_env: p.secret_env.clone(),
            last_used: LastUsed::of(secret.as_bytes()),
            secret: Redacted(secret.into_bytes()),
            not_after: None,
        }]);
    };
    if p.secret.is_some() || p.secret_env.is_some() {
        bail!("{who}: set secret or secret_env, or secrets = [...], not both");
    }
    if list.is_empty() {
        bail!("{who}: secrets is empty; give at least one");
    }
    let mut credentials: Vec<Credential> = Vec::with_capacity(list.len());
    for (i, c) in list.iter().enumerate() {
        let who = format!("{who}, secret {}", i + 1);
        let secret = resolve_secret(&who, c.secret.clone(), c.secret_env.clone(), env)?.into_bytes();
        if credentials.iter().any(|other| other.secret() == secret.as_slice()) {
            bail!("{who} is given twice");
        }
        credentials.push(Credential {
            secret_env: c.secret_env.clone(),
            last_used: LastUsed::of(&secret),
            secret: Redacted(secret),
            not_after: c.not_after.as_deref().map(|t| parse_not_after(&who, t)).transpose()?,
        });
    }
    Ok(credentials)
}

/// The whole resolved configuration the server runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub max_body_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub keep_alive: Duration,
    pub history_retention: chrono::Duration,
    pub log_format: LogFormat,
    pub trusted_proxies: Arc<TrustedProxies>,
    /// HTTPS's certificate and key files, when the server speaks HTTPS itself.
    pub tls: Option<crate::https::TlsFiles>,
    /// Where the data lives, or why `[database]` cannot say (a `url_env` that is not set, say):
    /// read by the commands that open the database, so that `token` and `partners` work
    /// without it.
    database: Result<Database, String>,
    pub partners: Arc<Partners>,
    /// The v3 API's audiences, when configured.
    pub v3: Option<Arc<V3Settings>>,
    pub operators: Arc<Operators>,
}

/// A configured operator, resolved: the secret is loaded.
#[derive(Debug)]
pub struct Operator {
    pub name: String,
    pub role: Role,
    secret: Redacted<Vec<u8>>,
}

impl Operator {
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }
}

/// The configured operators, looked up by name (exactly: it is a token's `sub`).
#[derive(Debug, Default)]
pub struct Operators(Vec<Arc<Operator>>);

impl Operators {
    pub fn by_name(&self, name: &str) -> Option<&Arc<Operator>> {
        self.0.iter().find(|o| o.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Operator>> {
        self.0.iter()
    }
}

/// The configured partners, looked up by company (case-insensitively: it is a URL segment).
#[derive(Debug, Default)]
pub struct Partners(Vec<Arc<Partner>>, u64);

/// The last [`Partners::generation`] given.
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

impl Partners {
    fn new(partners: Vec<Arc<Partner>>) -> Partners {
        Partners(partners, GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Which reading of the config these are, unique in the process: a token verified with
    /// one reading's secrets proves nothing under another's (a reload may remove a secret).
    pub fn generation(&self) -> u64 {
        self.1
    }

    pub fn by_company(&self, company: &str) -> Option<&Arc<Partner>> {
        self.0.iter().find(|p| p.company.eq_ignore_ascii_case(company))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Partner>> {
        self.0.iter()
    }

    /// The company of the partner with this partner id; `None` when it is not configured (any
    /// more: the history outlives a partner's removal).
    pub fn company_of(&self, partner_id: i64) -> Option<String> {
        self.0
            .iter()
            .find(|p| p.partner_id == partner_id)
            .map(|p| p.company.clone())
    }

    /// Keeps what `before` (the config read last) knew of when each credential was last used,
    /// for the same partner's same secret or v3 key (found by its value's fingerprint: a
    /// secret's position moves when a new one is put first).
    pub fn keep_last_use(&self, before: &Partners) {
        for partner in self.iter() {
            let Some(was) = before.by_company(&partner.company) else {
                continue;
            };
            for c in &partner.secrets {
                if let Some(old) = was.secrets.iter().find(|old| old.last_used.same_as(&c.last_used)) {
                    c.last_used.keep(&old.last_used);
                }
            }
            let (Some(v3), Some(was_v3)) = (&partner.v3, &was.v3) else {
                continue;
            };
            for k in &v3.keys {
                if let Some(old) = was_v3.keys.iter().find(|old| old.last_used.same_as(&k.last_used)) {
                    k.last_used.keep(&old.last_used);
                }
            }
        }
    }

    /// The partner whose v3 tokens carry this `iss`, and its v3 keys.
    pub fn by_v3_issuer(&self, issuer: &str) -> Option<(&Arc<Partner>, &Arc<V3Partner>)> {
        self.0
            .iter()
            .find_map(|p| p.v3.as_ref().filter(|v3| v3.issuer == issuer).map(|v3| (p, v3)))
    }
}

impl Config {
    /// Where the data lives: the error `[database]` had when it cannot say.
    pub fn database(&self) -> anyhow::Result<&Database> {
        self.database.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Reads and checks a config file. A relative database path is taken from the file's folder,
    /// so the server finds the same database whatever directory it is started from.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        let file: FileConfig =
            toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_file_config(file, base, |name| std::env::var(name).ok())
    }

    /// Resolves a parsed config: secrets (inline or from the environment), time zones, paths.
    pub fn from_file_config(
        file: FileConfig,
        base_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        let max_body = file.server.max_body_bytes;
        if max_body < MIN_BODY_BYTES {
            // Most often megabytes meant: every POST would get 413.
            bail!(
                "server.max_body_bytes = {max_body} counts bytes, and no batch fits in {max_body}: give at \
                 least {MIN_BODY_BYTES} (is it {max_body} MiB, {}?)",
                max_body.saturating_mul(1024 * 1024)
            );
        }
        for (name, secs) in [
            ("header_timeout_secs", file.server.header_timeout_secs),
            ("body_timeout_secs", file.server.body_timeout_secs),
            ("keep_alive_secs", file.server.keep_alive_secs),
            ("history_retention_days", file.server.history_retention_days.into()),
        ] {
            if secs == 0 {
                bail!("server.{name} must be at least 1");
            }
        }
        let trusted_proxies = Arc::new(TrustedProxies::parse(&file.server.trusted_proxies)?);
        let in_dir = |path: &PathBuf| {
            if path.is_absolute() {
                path.clone()
            } else {
                base_dir.join(path)
            }
        };
        let tls = match (&file.server.tls_cert_file, &file.server.tls_key_file) {
            (Some(cert), Some(key)) => Some(crate::https::TlsFiles {
                cert: in_dir(cert),
                key: in_dir(key),
            }),
            (None, None) => None,
            _ => bail!("server.tls_cert_file and server.tls_key_file go together: set both (HTTPS) or neither"),
        };
        let database = Database::resolve(&file.database, base_dir, &env).map_err(|e| format!("{e:#}"));
        let mut partners = Vec::new();
        let mut companies = HashSet::new();
        let mut ids = HashSet::new();
        let mut issuers = HashSet::new();
        for p in file.partners {
            let partner = resolve_partner(p, base_dir, &env, &mut companies, &mut ids)?;
            if let Some(v3) = &partner.v3 {
                if !issuers.insert(v3.issuer.clone()) {
                    bail!("v3_issuer {:?} is configured for two partners", v3.issuer);
                }
                if file.v3.is_none() {
                    bail!(
                        "partner {} has a v3 key, but there is no [v3] section with audience and sandbox_audience",
                        partner.company
                    );
                }
            }
            partners.push(Arc::new(partner));
        }
        if let Some(v3) = &file.v3 {
            if v3.audience.trim().is_empty() || v3.sandbox_audience.trim().is_empty() {
                bail!("[v3] audience and sandbox_audience must not be empty");
            }
            if v3.audience == v3.sandbox_audience {
                bail!("[v3] audience and sandbox_audience must differ: the audience says which tenant a token reaches");
            }
        }
        Ok(Config {
            bind: file.server.bind,
            max_body_bytes: file.server.max_body_bytes,
            header_timeout: Duration::from_secs(file.server.header_timeout_secs),
            body_timeout: Duration::from_secs(file.server.body_timeout_secs),
            keep_alive: Duration::from_secs(file.server.keep_alive_secs),
            history_retention: chrono::Duration::days(file.server.history_retention_days.into()),
            log_format: file.server.log_format,
            trusted_proxies,
            tls,
            database,
            operators: Arc::new(resolve_operators(file.operators, &partners, &env)?),
            partners: Arc::new(Partners::new(partners)),
            v3: file.v3.map(Arc::new),
        })
    }
}

/// The operators, checked: names well-formed and distinct, each with a secret of its own (not
/// another operator's, not a partner's: a key proves one holder).
fn resolve_operators(
    settings: Vec<OperatorSettings>,
    partners: &[Arc<Partner>],
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Operators> {
    let mut operators: Vec<Arc<Operator>> = Vec::new();
    for o in settings {
        let name = o.name;
        let well_formed =
            (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !well_formed {
            bail!("operator name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-'");
        }
        if operators.iter().any(|other| other.name == name) {
            bail!("operator {name:?} is configured twice");
        }
        let secret = resolve_secret(&format!("operator {name}"), o.secret, o.secret_env, env)?.into_bytes();
        if let Some(other) = operators.iter().find(|other| other.secret() == secret.as_slice()) {
            bail!(
                "operator {name}: the secret is operator {}'s too; give each its own",
                other.name
            );
        }
        if let Some(partner) = partners.iter().find(|p| p.has_secret(&secret)) {
            bail!(
                "operator {name}: the secret is partner {}'s too; give each its own",
                partner.company
            );
        }
        operators.push(Arc::new(Operator {
            name,
            role: o.role,
            secret: Redacted(secret),
        }));
    }
    Ok(Operators(operators))
}

/// A secret given inline or by an environment variable, exactly one of them, not empty.
fn resolve_secret(
    who: &str,
    secret: Option<Redacted<String>>,
    secret_env: Option<String>,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<String> {
    let secret = match (secret, secret_env) {
        (Some(s), None) => s.0,
        (None, Some(var)) => {
            env(&var).with_context(|| format!("{who}: environment variable {var} (secret_env) is not set"))?
        }
        (Some(_), Some(_)) => bail!("{who}: set secret or secret_env, not both"),
        (None, None) => bail!("{who}: secret or secret_env is required"),
    };
    if secret.is_empty() {
        bail!("{who}: the secret is empty");
    }
    Ok(secret)
}

fn resolve_partner(
    p: PartnerSettings,
    base_dir: &Path,
    env: &impl Fn(&str) -> Option<String>,
    companies: &mut HashSet<String>,
    ids: &mut HashSet<i64>,
) -> anyhow::Result<Partner> {
    let company = p.company.trim().to_owned();
    let valid_name = !company.is_empty()
        && company
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        bail!("partner company {company:?}: use only letters, digits, '_' and '-'");
    }
    if company.to_ascii_lowercase().ends_with("_test") {
        bail!("partner company {company:?} must not end in _test: that suffix names the test tenant");
    }
    if !companies.insert(company.to_ascii_lowercase()) {
        bail!("partner company {company:?} is configured twice");
    }
    if !ids.insert(p.partner_id) {
        bail!("partner_id {} is configured twice", p.partner_id);
    }
    let v3 = resolve_v3(&company, &p, base_dir)?;
    let secrets = resolve_credentials(&company, &p, env)?;
    if p.plan_term_months == 0 {
        bail!("partner {company}: plan_term_months must be at least 1");
    }
    let timezone = match p.timezone.as_deref() {
        None => Tz::UTC,
        Some(name) => name.parse::<Tz>().map_err(|_| match meant_zone(name) {
            Some(zone) => anyhow::anyhow!("partner {company}: unknown timezone {name:?}: is it {zone}?"),
            None => {
                anyhow::anyhow!(
                    "partner {company}: unknown timezone {name:?} (use an IANA name such as America/Denver)"
                )
            }
        })?,
    };
    let upload_due = upload_due(&company, &p)?;
    Ok(Partner {
        company,
        partner_id: p.partner_id,
        secrets,
        plan_term_months: p.plan_term_months,
        timezone,
        upload_due,
        v3,
    })
}

/// A partner's `expected_upload_by` and `upload_days`, checked: a time of day, and days of the
/// week by name (any case, short or long), only with a time.
fn upload_due(company: &str, p: &PartnerSettings) -> anyhow::Result<Option<UploadDue>> {
    let Some(text) = p.expected_upload_by.as_deref() else {
        if p.upload_days.is_some() {
            bail!("partner {company}: upload_days needs expected_upload_by (the time the batch is due on those days)");
        }
        return Ok(None);
    };
    let by = chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
        anyhow::anyhow!(
            "partner {company}: expected_upload_by {text:?} is not a time of day as HH:MM (24-hour, such as \"06:00\")"
        )
    })?;
    let days = match &p.upload_days {
        None => chrono::WeekdaySet::ALL,
        Some(names) => {
            let days = (names.iter())
                .map(|name| {
                    name.trim().parse::<chrono::Weekday>().map_err(|_| {
                        anyhow::anyhow!(
                            "partner {company}: upload_days: {name:?} is not a day of the week (Mon, Tue, ... Sun)"
                        )
                    })
                })
                .collect::<anyhow::Result<chrono::WeekdaySet>>()?;
            if days.is_empty() {
                bail!(
                    "partner {company}: upload_days is empty: name the days a batch is due, or leave out expected_upload_by"
                );
            }
            days
        }
    };
    Ok(Some(UploadDue { by, days }))
}

/// A partner's v3 keys: an issuer and a P-256 public key, both or neither.
fn resolve_v3(company: &str, p: &PartnerSettings, base_dir: &Path) -> anyhow::Result<Option<Arc<V3Partner>>> {
    let read = |file: &PathBuf, what: &str| {
        let path = if file.is_absolute() {
            file.clone()
        } else {
            base_dir.join(file)
        };
        std::fs::read_to_string(&path)
            .with_context(|| format!("partner {company}: cannot read {what} {}", path.display()))
    };
    let single = match (&p.v3_public_key, &p.v3_public_key_file) {
        (Some(_), Some(_)) => bail!("partner {company}: set v3_public_key or v3_public_key_file, not both"),
        (Some(pem), None) => Some(pem.clone()),
        (None, Some(file)) => Some(read(file, "v3_public_key_file")?),
        (None, None) => None,
    };
    let keys = match (single, &p.v3_public_keys) {
        (Some(_), Some(_)) => {
            bail!("partner {company}: set v3_public_key (or its file), or v3_public_keys = [...], not both")
        }
        (Some(pem), None) => Some(V3Key::single(&pem, v3_key(company, "the v3 public key", &pem)?)),
        (None, Some(list)) => {
            if list.is_empty() {
                bail!("partner {company}: v3_public_keys is empty; give at least one");
            }
            let mut keys: Vec<V3Key> = Vec::with_capacity(list.len());
            for k in list {
                let kid = k.kid.trim().to_owned();
                let who = format!("partner {company}, v3 key {kid:?}");
                if kid.is_empty() {
                    bail!("partner {company}: a v3 key's kid is empty");
                }
                if keys.iter().any(|other| other.kid.as_deref() == Some(kid.as_str())) {
                    bail!("{who} is given twice");
                }
                let pem = match (&k.key, &k.file) {
                    (Some(pem), None) => pem.clone(),
                    (None, Some(file)) => read(file, &format!("v3 key {kid:?}'s file"))?,
                    _ => bail!("{who}: give key (the PEM) or file, one of them"),
                };
                keys.push(V3Key {
                    key: v3_key(company, &format!("v3 key {kid:?}"), &pem)?,
                    last_used: LastUsed::of(pem.trim().as_bytes()),
                    not_after: k.not_after.as_deref().map(|t| parse_not_after(&who, t)).transpose()?,
                    kid: Some(kid),
                });
            }
            Some(keys)
        }
        (None, None) => None,
    };
    let (issuer, keys) = match (&p.v3_issuer, keys) {
        (None, None) => {
            if p.v3_products.is_some() || p.program_id.is_some() {
                bail!("partner {company}: v3_products and program_id need v3_issuer and a v3 public key");
            }
            return Ok(None);
        }
        (Some(issuer), Some(keys)) => (issuer.trim().to_owned(), keys),
        (Some(_), None) => bail!("partner {company}: v3_issuer needs v3_public_key or v3_public_key_file"),
        (None, Some(_)) => bail!("partner {company}: a v3 public key needs v3_issuer (the iss of its tokens)"),
    };
    if issuer.is_empty() {
        bail!("partner {company}: v3_issuer is empty");
    }
    if let Some(products) = &p.v3_products
        && (products.is_empty() || products.iter().any(|s| s.trim().is_empty()))
    {
        bail!("partner {company}: v3_products lists no product, or an empty one (omit it to accept any)");
    }
    Ok(Some(Arc::new(V3Partner {
        issuer,
        keys,
        products: p.v3_products.clone(),
        program_id: p.program_id.clone(),
    })))
}

/// A P-256 public key in PEM, checked here, so that a wrong key is a start-up error, not a 401
/// at night.
fn v3_key(company: &str, what: &str, pem: &str) -> anyhow::Result<jsonwebtoken::DecodingKey> {
    use p256::pkcs8::DecodePublicKey;
    p256::PublicKey::from_public_key_pem(pem.trim()).map_err(|e| {
        anyhow::anyhow!("partner {company}: {what} is not a P-256 public key in PEM (-----BEGIN PUBLIC KEY-----): {e}")
    })?;
    jsonwebtoken::DecodingKey::from_ec_pem(pem.trim().as_bytes())
        .with_context(|| format!("partner {company}: {what} cannot be read"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Config> {
        let file: FileConfig = toml::from_str(text)?;
        Config::from_file_config(file, Path::new("/srv/gw"), |name| {
            (name == "TC_SECRET").then(|| "from-env".to_owned())
        })
    }

    const BASE: &str = r#"
        [database]
        path = "data/db.sqlite3"
    "#;

    #[test]
    fn a_bind_without_a_port_is_told_the_form() {
        for bind in ["127.0.0.1:8080", "[::1]:8080", "localhost:0", "gw.internal:443"] {
            assert_eq!(bind_hint(bind), "", "{bind}");
        }
        for bind in [
            "127.0.0.1",
            "::1",
            "[::1]",
            "localhost",
            "127.0.0.1:http",
            "127.0.0.1:99999",
        ] {
            assert!(bind_hint(bind).contains("HOST:PORT"), "{bind}");
        }
    }

    /// A busy partner's lookups keep its secret's use in the database once a minute, not each.
    #[test]
    fn a_credentials_use_is_to_be_kept_at_its_first_then_once_a_minute() {
        let used = LastUsed::of(b"partner-secret");
        let now = 1_765_080_000;
        assert!(used.mark(now));
        assert!(!used.mark(now));
        assert!(!used.mark(now + KEEP_EVERY_SECS - 1));
        assert_eq!(used.at().unwrap().timestamp(), now + KEEP_EVERY_SECS - 1);
        assert!(used.mark(now + KEEP_EVERY_SECS));
        // A reload's copy of it is not told again before its minute is up.
        let again = LastUsed::of(b"partner-secret");
        assert!(again.same_as(&used) && !again.same_as(&LastUsed::of(b"other-secret")));
        again.keep(&used);
        assert!(!again.mark(now + KEEP_EVERY_SECS + 1));
    }

    /// `/ops/partners` says the latest of this instance's use and the database's (any
    /// instance's), matched by the credential's value, not its place.
    #[test]
    fn a_credentials_last_use_is_the_later_of_this_instances_and_the_kept_one() {
        let cfg = parse(&format!(
            r#"{BASE}
            [[partners]]
            company = "tirecompany"
            partner_id = 1001
            secrets = [ {{ secret = "new-secret" }}, {{ secret = "old-secret" }} ]
            plan_term_months = 36
            "#
        ))
        .unwrap();
        let partner = cfg.partners.by_company("tirecompany").unwrap();
        let at = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        let old = &partner.secrets[1].last_used;
        old.mark(1_000);
        let kept = |partner_id, kind, secs| CredentialUse {
            partner_id,
            kind,
            fingerprint: old.fingerprint().to_owned(),
            at: at(secs),
        };
        let used = |kept: &[CredentialUse]| {
            partner
                .credentials_used(kept)
                .into_iter()
                .map(|c| c.last_used_at)
                .collect::<Vec<_>>()
        };
        assert_eq!(used(&[]), [None, Some(at(1_000))]);
        assert_eq!(
            used(&[kept(1001, CredentialKind::Secret, 2_000)]),
            [None, Some(at(2_000))]
        );
        assert_eq!(
            used(&[kept(1001, CredentialKind::Secret, 500)]),
            [None, Some(at(1_000))]
        );
        // Another partner's, or a v3 key's, is none of this secret's.
        assert_eq!(
            used(&[kept(1002, CredentialKind::Secret, 2_000)]),
            [None, Some(at(1_000))]
        );
        assert_eq!(
            used(&[kept(1001, CredentialKind::V3Key, 2_000)]),
            [None, Some(at(1_000))]
        );
    }

    /// Megabytes written where bytes are counted would refuse every POST with 413.
    #[test]
    fn a_body_limit_too_small_for_any_batch_is_refused_naming_megabytes() {
        let err = parse(&format!("[server]\nmax_body_bytes = 64\n{BASE}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_body_bytes = 64 counts bytes"), "{err}");
        assert!(
            err.contains("at least 4096") && err.contains("64 MiB, 67108864"),
            "{err}"
        );
        assert!(parse(&format!("[server]\nmax_body_bytes = 0\n{BASE}")).is_err());
        let cfg = parse(&format!("[server]\nmax_body_bytes = 4096\n{BASE}")).unwrap();
        assert_eq!(cfg.max_body_bytes, 4096);
    }

    /// Operators: a role of two, a name a token's sub can carry, a secret of their own.
    #[test]
    fn operators_have_a_role_a_plain_name_and_a_secret_of_their_own() {
        let partner = r#"
            [[partners]]
            company = "tirecompany"
            partner_id = 1001
            secret = "partner-secret"
            plan_term_months = 36
        "#;
        let with = |operators: &str| parse(&format!("{BASE}{partner}{operators}"));
        let cfg = with(
            r#"
            [[operators]]
            name = "anna.k"
            role = "support"
            secret_env = "TC_SECRET"
            [[operators]]
            name = "olaf"
            role = "admin"
            secret = "olaf-secret"
            "#,
        )
        .unwrap();
        let anna = cfg.operators.by_name("anna.k").unwrap();
        assert_eq!((anna.role, anna.secret()), (Role::Support, &b"from-env"[..]));
        assert_eq!(cfg.operators.by_name("olaf").unwrap().role, Role::Admin);
        assert!(cfg.operators.by_name("OLAF").is_none(), "a name is matched exactly");
        assert!(!format!("{:?}", cfg.operators).contains("olaf-secret"));
        for (operators, needle) in [
            (
                "name = \"anna k\"\nrole = \"support\"\nsecret = \"x\"",
                "use 1 to 64 letters",
            ),
            (
                "name = \"anna\"\nrole = \"owner\"\nsecret = \"x\"",
                "unknown variant `owner`",
            ),
            (
                "name = \"anna\"\nrole = \"support\"",
                "secret or secret_env is required",
            ),
            (
                "name = \"anna\"\nrole = \"support\"\nsecret = \"partner-secret\"",
                "partner tirecompany's too",
            ),
            (
                "name = \"anna\"\nrole = \"support\"\nsecret = \"a\"\n[[operators]]\nname = \"anna\"\nrole = \"admin\"\nsecret = \"b\"",
                "configured twice",
            ),
            (
                "name = \"anna\"\nrole = \"support\"\nsecret = \"a\"\n[[operators]]\nname = \"olaf\"\nrole = \"admin\"\nsecret = \"a\"",
                "operator anna's too",
            ),
        ] {
            let err = with(&format!("[[operators]]\n{operators}")).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{operators}: {err:#}");
        }
    }

    /// What holds a secret or a database URL never prints it, whichever struct is logged.
    #[test]
    fn settings_never_show_a_secret_or_a_url() {
        let file: FileConfig = toml::from_str(
            r#"
            [database]
            url = "postgres://gateway:hunter2@db.internal/warranty"
            [[partners]]
            company = "tirecompany"
            partner_id = 1001
            secret = "inline-s3cret"
            plan_term_months = 36
            "#,
        )
        .unwrap();
        let shown = format!("{file:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("inline-s3cret"),
            "{shown}"
        );
        assert!(shown.contains("tirecompany"), "the rest still shows: {shown}");
    }

    #[test]
    fn the_bundled_configs_demo_partner_has_the_public_secret() {
        let bundled = Config::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))).unwrap();
        let demo: Vec<_> = bundled.partners.iter().filter(|p| p.has_public_secret()).collect();
        assert_eq!(demo.len(), 1, "config.toml's demo partner has PUBLIC_DEMO_SECRET");
        assert_eq!(demo[0].company, "tirecompany");
        assert!(!demo[0].secret_is_short());
    }

    #[test]
    fn resolves_paths_secrets_and_zones() {
        let cfg = parse(&format!(
            r#"{BASE}
            [[partners]]
            company = "tirecompany"
            partner_id = 1001
            secret_env = "TC_SECRET"
            plan_term_months = 36
            timezone = "America/Denver"
            expected_upload_by = " 06:30"
            "#
        ))
        .unwrap();
        assert_eq!(
            *cfg.database().unwrap(),
            Database::Sqlite {
                path: PathBuf::from("/srv/gw/data/db.sqlite3")
            }
        );
        assert_eq!(cfg.bind, "127.0.0.1:8080");
        assert_eq!(cfg.max_body_bytes, 64 * 1024 * 1024);
        assert_eq!(
            (cfg.header_timeout, cfg.body_timeout),
            (Duration::from_secs(10), Duration::from_secs(600))
        );
        let p = cfg.partners.by_company("TireCompany").unwrap();
        assert_eq!(p.signing_secret(), b"from-env");
        assert_eq!(p.timezone, chrono_tz::America::Denver);
        let due = p.upload_due.unwrap();
        assert_eq!(
            (due.by, due.days),
            (
                chrono::NaiveTime::from_hms_opt(6, 30, 0).unwrap(),
                chrono::WeekdaySet::ALL
            )
        );
        assert_eq!(due.to_string(), "06:30");
        assert!(!format!("{p:?}").contains("from-env"));
    }

    #[test]
    fn a_partner_may_have_several_secrets_each_until_its_not_after() {
        let cfg = parse(&format!(
            r#"{BASE}
            [[partners]]
            company = "tirecompany"
            partner_id = 1001
            plan_term_months = 36
            secrets = [ {{ secret_env = "TC_SECRET" }},
                        {{ secret = "old-secret", not_after = "2026-12-31" }},
                        {{ secret = "older", not_after = "2026-06-30T18:00:00-06:00" }} ]
            "#
        ))
        .unwrap();
        let p = cfg.partners.by_company("tirecompany").unwrap();
        assert_eq!(p.signing_secret(), b"from-env");
        let ends: Vec<Option<String>> = p
            .secrets
            .iter()
            .map(|c| c.not_after.as_ref().map(crate::wire::format_timestamp))
            .collect();
        // A date ends at the end of that day, UTC; a time is taken with its offset.
        assert_eq!(
            ends,
            [
                None,
                Some("2026-12-31T23:59:59Z".to_owned()),
                Some("2026-07-01T00:00:00Z".to_owned())
            ]
        );
        let end = p.secrets[1].not_after.unwrap();
        assert!(p.secrets[1].live_at(end) && !p.secrets[1].live_at(end + chrono::Duration::seconds(1)));
        assert!(p.secrets[0].live_at(end + chrono::Duration::days(9999)));
        assert_eq!(p.secrets[0].secret_env.as_deref(), Some("TC_SECRET"));
        assert!(!format!("{p:?}").contains("old-secret"));

        let partner = |extra: &str| {
            format!("{BASE}\n[[partners]]\ncompany = \"acme\"\npartner_id = 1\nplan_term_months = 12\n{extra}")
        };
        for (extra, needle) in [
            ("secret = \"s\"\nsecrets = [{ secret = \"t\" }]", "not both"),
            ("secrets = []", "secrets is empty"),
            (
                "secrets = [{ secret = \"t\" }, { secret = \"t\" }]",
                "secret 2 is given twice",
            ),
            (
                "secrets = [{ secret = \"t\", not_after = \"soon\" }]",
                "secret 1: not_after \"soon\"",
            ),
            (
                "secrets = [{ not_after = \"2026-12-31\" }]",
                "secret 1: secret or secret_env is required",
            ),
            ("secrets = [{ secret = \"t\", colour = 1 }]", "unknown field"),
        ] {
            let err = format!("{:#}", parse(&partner(extra)).unwrap_err());
            assert!(err.contains(needle), "{extra}: {err}");
        }
    }

    #[test]
    fn a_v3_partner_may_have_several_keys_named_by_kid() {
        let pem = include_str!("../fixtures/v3/tirecompany.pub.pem").trim();
        let other = include_str!("../fixtures/v3/othercompany.pub.pem").trim();
        let v3 = "[v3]\naudience = \"a\"\nsandbox_audience = \"s\"\n";
        let partner = |keys: &str| {
            format!(
                "{BASE}\n[[partners]]\ncompany = \"acme\"\npartner_id = 1\nplan_term_months = 12\nsecret = \"s\"\n\
                 v3_issuer = \"acme-v3\"\n{keys}\n{v3}"
            )
        };
        let cfg = parse(&partner(&format!(
            "v3_public_keys = [ {{ kid = \"new\", key = \"\"\"{other}\"\"\" }},\n\
             {{ kid = \"old\", key = \"\"\"{pem}\"\"\", not_after = \"2026-12-31\" }} ]"
        )))
        .unwrap();
        let p = cfg.partners.by_company("acme").unwrap();
        let shown: Vec<(String, Option<i64>)> = p
            .credentials()
            .into_iter()
            .map(|c| {
                (
                    format!("{} {}", c.kind.into_str(), c.id),
                    c.not_after.map(|t| t.timestamp()),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("secret 1".to_owned(), None),
                ("v3_key new".to_owned(), None),
                ("v3_key old".to_owned(), Some(1_798_761_599))
            ]
        );
        for (keys, needle) in [
            (
                format!(
                    "v3_public_key = \"\"\"{pem}\"\"\"\nv3_public_keys = [ {{ kid = \"k\", key = \"\"\"{pem}\"\"\" }} ]"
                ),
                "not both",
            ),
            ("v3_public_keys = []".to_owned(), "v3_public_keys is empty"),
            (
                format!(
                    "v3_public_keys = [ {{ kid = \"k\", key = \"\"\"{pem}\"\"\" }}, {{ kid = \"k\", key = \"\"\"{other}\"\"\" }} ]"
                ),
                "v3 key \"k\" is given twice",
            ),
            (
                "v3_public_keys = [ { kid = \"k\" } ]".to_owned(),
                "give key (the PEM) or file",
            ),
            (
                "v3_public_keys = [ { kid = \" \", key = \"x\" } ]".to_owned(),
                "kid is empty",
            ),
            (
                "v3_public_keys = [ { kid = \"k\", key = \"not a key\" } ]".to_owned(),
                "v3 key \"k\" is not a P-256 public key",
            ),
            (
                format!("v3_public_keys = [ {{ kid = \"k\", key = \"\"\"{pem}\"\"\", not_after = \"May\" }} ]"),
                "not_after \"May\"",
            ),
        ] {
            let err = format!("{:#}", parse(&partner(&keys)).unwrap_err());
            assert!(err.contains(needle), "{keys}: {err}");
        }
    }

    /// A shop closed on Sundays: its batch is due on the mornings after the days it is open.
    #[test]
    fn upload_days_are_named_in_any_case_short_or_long() {
        use chrono::Weekday::*;
        let cfg = parse(&format!(
            "{BASE}\n[[partners]]\ncompany = \"acme\"\npartner_id = 1\nplan_term_months = 12\nsecret = \"s\"\n\
             expected_upload_by = \"06:00\"\nupload_days = [\"tue\", \"Wednesday\", \" THU \", \"Fri\", \"Sat\", \"Sun\"]"
        ))
        .unwrap();
        let due = cfg.partners.iter().next().unwrap().upload_due.unwrap();
        assert_eq!(due.days, chrono::WeekdaySet::from_array([Tue, Wed, Thu, Fri, Sat, Sun]));
        assert_eq!(due.to_string(), "06:00 Tue-Sun");
        let shown = |days: &[chrono::Weekday]| {
            let due = UploadDue {
                days: days.iter().copied().collect(),
                ..due
            };
            due.to_string()
        };
        assert_eq!(shown(&[Mon, Wed, Fri]), "06:00 Mon,Wed,Fri");
        assert_eq!(shown(&[Sun, Mon, Sat]), "06:00 Mon,Sat,Sun");
        assert_eq!(shown(&[Mon, Tue, Wed, Fri]), "06:00 Mon-Wed,Fri");
    }

    #[test]
    fn rejects_bad_partners() {
        let partner = |extra: &str| {
            format!("{BASE}\n[[partners]]\ncompany = \"acme\"\npartner_id = 1\nplan_term_months = 12\n{extra}")
        };
        for (extra, needle) in [
            ("", "secret or secret_env is required"),
            ("secret_env = \"MISSING\"", "MISSING"),
            (
                "secret = \"s\"\ntimezone = \"Mars/Base\"",
                "unknown timezone \"Mars/Base\" (use an IANA name",
            ),
            (
                "secret = \"s\"\ntimezone = \"America/Denvr\"",
                "unknown timezone \"America/Denvr\": is it America/Denver?",
            ),
            (
                "secret = \"s\"\ntimezone = \"america/chicago\"",
                "unknown timezone \"america/chicago\": is it America/Chicago?",
            ),
            (
                "secret = \"s\"\nexpected_upload_by = \"6am\"",
                "expected_upload_by \"6am\" is not a time of day",
            ),
            ("secret = \"s\"\nexpected_upload_by = \"25:00\"", "expected_upload_by"),
            (
                "secret = \"s\"\nexpected_upload_by = \"06:00\"\nupload_days = [\"Mon\", \"Funday\"]",
                "upload_days: \"Funday\" is not a day of the week",
            ),
            (
                "secret = \"s\"\nexpected_upload_by = \"06:00\"\nupload_days = []",
                "upload_days is empty",
            ),
            (
                "secret = \"s\"\nupload_days = [\"Mon\"]",
                "upload_days needs expected_upload_by",
            ),
            ("secret = \"s\"\nfoo = 1", "unknown field"),
        ] {
            let err = format!("{:#}", parse(&partner(extra)).unwrap_err());
            assert!(err.contains(needle), "{err}");
        }
        let twice = format!(
            "{}\n{}",
            partner("secret = \"s\""),
            "[[partners]]\ncompany = \"ACME\"\npartner_id = 2\nplan_term_months = 12\nsecret = \"t\""
        );
        assert!(format!("{:#}", parse(&twice).unwrap_err()).contains("configured twice"));
        let test_name = format!(
            "{BASE}\n[[partners]]\ncompany = \"acme_test\"\npartner_id = 1\nplan_term_months = 12\nsecret = \"s\""
        );
        assert!(format!("{:#}", parse(&test_name).unwrap_err()).contains("_test"));
    }

    #[test]
    fn v3_keys_are_an_issuer_and_a_p256_public_key_with_the_v3_audiences() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/v3");
        let v3 = "[v3]\naudience = \"https://a/api/v3\"\nsandbox_audience = \"https://s/api/v3\"\n";
        let partner = |extra: &str| {
            format!(
                "{BASE}\n[[partners]]\ncompany = \"acme\"\npartner_id = 1\nplan_term_months = 12\nsecret = \"s\"\n{extra}"
            )
        };
        let key = format!("v3_issuer = \"acme-iss\"\nv3_public_key_file = \"{fixtures}/tirecompany.pub.pem\"");
        let cfg = parse(&format!(
            "{v3}{}\nv3_products = [\"TPP-36\"]\nprogram_id = \"p1\"",
            partner(&key)
        ))
        .unwrap();
        let (acme, keys) = cfg.partners.by_v3_issuer("acme-iss").unwrap();
        assert_eq!(acme.company, "acme");
        assert_eq!(keys.products.as_deref(), Some(&["TPP-36".to_owned()][..]));
        assert_eq!(keys.program_id.as_deref(), Some("p1"));
        assert_eq!(cfg.v3.as_ref().unwrap().audience, "https://a/api/v3");
        // Inline PEM works too; a partner without keys is simply not on v3.
        let pem = std::fs::read_to_string(format!("{fixtures}/othercompany.pub.pem")).unwrap();
        let inline = partner(&format!("v3_issuer = \"i\"\nv3_public_key = \"\"\"\n{pem}\"\"\""));
        assert!(
            parse(&format!("{v3}{inline}"))
                .unwrap()
                .partners
                .by_v3_issuer("i")
                .is_some()
        );
        assert!(
            parse(&partner(""))
                .unwrap()
                .partners
                .by_company("acme")
                .unwrap()
                .v3
                .is_none()
        );

        for (text, needle) in [
            (partner(&key), "no [v3] section"),
            (format!("{v3}{}", partner("v3_issuer = \"i\"")), "needs v3_public_key"),
            (
                format!(
                    "{v3}{}",
                    partner(&format!("v3_public_key_file = \"{fixtures}/tirecompany.pub.pem\""))
                ),
                "needs v3_issuer",
            ),
            (
                format!(
                    "{v3}{}",
                    partner(&format!(
                        "v3_issuer = \"i\"\nv3_public_key_file = \"{fixtures}/p384.pub.pem\""
                    ))
                ),
                "not a P-256 public key",
            ),
            (
                format!(
                    "{v3}{}",
                    partner("v3_issuer = \"i\"\nv3_public_key_file = \"missing.pem\"")
                ),
                "cannot read v3_public_key_file",
            ),
            (format!("{v3}{}", partner("program_id = \"p\"")), "need v3_issuer"),
            (
                format!("{v3}{}\nv3_products = []", partner(&key)),
                "v3_products lists no product",
            ),
            (
                format!(
                    "{v3}{}\n[[partners]]\ncompany = \"b\"\npartner_id = 2\nplan_term_months = 1\nsecret = \"t\"\n{key}",
                    partner(&key)
                ),
                "configured for two partners",
            ),
            (
                "[database]\npath = \"d\"\n[v3]\naudience = \"a\"\nsandbox_audience = \"a\"".to_owned(),
                "must differ",
            ),
        ] {
            let err = format!("{:#}", parse(&text).unwrap_err());
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }

    #[test]
    fn the_database_is_one_sqlite_path_or_one_postgres_url() {
        let db = |section: &str| parse(&format!("[database]\n{section}"));
        let pg = db("url = \"postgres://gateway:hunter2@db.internal:5432/warranty\"\npool_size = 4").unwrap();
        let pg = pg.database().unwrap();
        assert_eq!(
            *pg,
            Database::Postgres {
                url: "postgres://gateway:hunter2@db.internal:5432/warranty".into(),
                pool_size: 4
            }
        );
        // The password shows nowhere but in the URL itself.
        assert_eq!(pg.to_string(), "postgres://db.internal:5432/warranty");
        assert!(!format!("{:?}", pg).contains("hunter2"));
        let from_env = Config::from_file_config(
            toml::from_str("[database]\nurl_env = \"DATABASE_URL\"").unwrap(),
            Path::new("/"),
            |name| (name == "DATABASE_URL").then(|| "postgres://localhost/w".to_owned()),
        )
        .unwrap();
        assert_eq!(
            *from_env.database().unwrap(),
            Database::Postgres {
                url: "postgres://localhost/w".into(),
                pool_size: DEFAULT_POOL_SIZE
            }
        );
        for (section, needle) in [
            ("", "exactly one of path"),
            ("path = \"a.sqlite3\"\nurl = \"postgres://h/d\"", "exactly one of path"),
            ("path = \"a.sqlite3\"\npool_size = 4", "pool_size is for PostgreSQL"),
            ("url = \"postgres://h/d\"\npool_size = 0", "at least 1"),
            ("url_env = \"NOT_SET\"", "NOT_SET is not set"),
            (
                "url = \"postgres://h/d?sslmode=sometimes\"",
                "sslmode \"sometimes\" is not one of",
            ),
            (
                "url = \"postgres://h/d?sslrotcert=/ca.pem\"",
                "unknown parameter \"sslrotcert\"",
            ),
            ("url = \"mysql://h/d\"", "use postgres://"),
        ] {
            // The rest of the config loads: the commands that open no database (token,
            // partners) work; the others say this when they ask for it.
            let err = format!("{:#}", db(section).unwrap().database().unwrap_err());
            assert!(err.contains(needle), "{section}: {err}");
        }
    }

    /// A company segment names a partner's live tenant, or with `_test` its test tenant, in any
    /// case.
    #[test]
    fn a_company_segment_resolves_to_a_partner_and_tenant_in_any_case() {
        use crate::scope::Tenant;
        let cfg = parse(&format!(
            r#"{BASE}
            [[partners]]
            company = "tirecompany"
            partner_id = 1001
            secret = "s1"
            plan_term_months = 36
            [[partners]]
            company = "ab-c"
            partner_id = 1002
            secret = "s2"
            plan_term_months = 36
            "#
        ))
        .unwrap();
        let resolve = |segment: &str| {
            crate::auth::resolve_company(&cfg.partners, segment).map(|(p, tenant)| (p.partner_id, tenant))
        };
        assert_eq!(resolve("tirecompany"), Some((1001, Tenant::Live)));
        assert_eq!(resolve("TireCompany"), Some((1001, Tenant::Live)));
        assert_eq!(resolve("tirecompany_test"), Some((1001, Tenant::Test)));
        assert_eq!(resolve("TIRECOMPANY_TEST"), Some((1001, Tenant::Test)));
        assert_eq!(resolve("AB-C_Test"), Some((1002, Tenant::Test)));
        assert_eq!(resolve("ab-c"), Some((1002, Tenant::Live)));
        for unknown in [
            "",
            "_test",
            "tirecompany_",
            "tirecompany_test_test",
            "tirecompanytest",
            "é",
            "ñ_test",
            "ab-cñ_test",
            "test",
        ] {
            assert_eq!(resolve(unknown), None, "{unknown:?}");
        }
    }
}

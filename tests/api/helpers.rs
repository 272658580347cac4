//! Test harness: the real server on a loopback port 0, a real SQLite file in a temporary folder
//! (or, when `WARRANTY_GATEWAY_TEST_POSTGRES` names a server, a fresh PostgreSQL database on it),
//! real HS256 tokens signed here with jsonwebtoken (not with the server's own issuer).

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use warranty_gateway::config::{
    Config, DatabaseSettings, FileConfig, OperatorSettings, PartnerSettings, Redacted, Role, SecretSettings,
    ServerSettings, V3KeySettings, V3Settings,
};
use warranty_gateway::startup::Application;

pub use crate::common_postgres::PgDatabase;

pub const COMPANY: &str = "tirecompany";
pub const PARTNER_ID: i64 = 1001;
pub const SECRET: &str = "test-secret-for-tirecompany-0123456789abcdef";
/// A second partner, in Denver, with a 12-month plan.
pub const OTHER: &str = "othercompany";
pub const OTHER_ID: i64 = 2002;
pub const OTHER_SECRET: &str = "test-secret-for-othercompany-0123456789abcdef";

/// A third partner in the middle of rotating its secret: tokens signed with the new one or the
/// old one (its not_after far ahead) verify; the retired one's not_after has passed.
pub const ROTATING: &str = "rotatingco";
pub const ROTATING_ID: i64 = 3003;
pub const ROTATING_NEW: &str = "test-secret-for-rotatingco-new-0123456789abcdef";
pub const ROTATING_OLD: &str = "test-secret-for-rotatingco-old-0123456789abcdef";
pub const ROTATING_RETIRED: &str = "test-secret-for-rotatingco-retired-0123456789";
/// Its v3 issuer, and its v3 keys by kid (fixtures/v3/): the new one, the old one (not_after far
/// ahead), the retired one (not_after passed).
pub const ROTATING_V3_ISSUER: &str = "rotatingco-v3";
pub const ROTATING_V3_KEYS: [(&str, &str, Option<&str>); 3] = [
    ("2026-12", "othercompany", None),
    ("2026-06", "tirecompany", Some("2999-12-31")),
    ("2025-12", "stranger", Some("2020-01-01")),
];

/// The v3 audiences of the tests' server.
/// The operators of the test config: a support person and an admin.
pub const SUPPORT: &str = "anna";
pub const SUPPORT_SECRET: &str = "test-secret-for-operator-anna-0123456789abcdef";
pub const ADMIN: &str = "olaf";
pub const ADMIN_SECRET: &str = "test-secret-for-operator-olaf-0123456789abcdef";

pub const V3_AUDIENCE: &str = "https://warranty.example.com/api/v3";
pub const V3_SANDBOX: &str = "https://sandbox.warranty.example.com/api/v3";
/// The `iss` of tirecompany's and othercompany's v3 tokens (their keys: fixtures/v3/).
pub const V3_ISSUER: &str = "6102b521f403f42ddcde7ae5";
pub const OTHER_V3_ISSUER: &str = "othercompany-v3";
/// tirecompany's v3 products and program.
pub const V3_PRODUCTS: [&str; 2] = ["TPP-36", "YOUR-PRODUCT-ID"];
pub const PROGRAM_ID: &str = "63e68996f4307525f7777c7e";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    /// The PostgreSQL database it serves from (else the SQLite file in `dir`).
    pub postgres: Option<Arc<PgDatabase>>,
    server: ServerSettings,
    handle: ServerHandle,
}

/// The server settings of the tests: port 0, the default limits and timeouts.
pub fn server_settings() -> ServerSettings {
    ServerSettings {
        bind: "127.0.0.1:0".into(),
        ..ServerSettings::default()
    }
}

fn file_config(dir: &TempDir, postgres: Option<&PgDatabase>, server: ServerSettings) -> FileConfig {
    let partner = |company: &str, partner_id, secret: &str, months, tz: Option<&str>, issuer: &str| PartnerSettings {
        company: company.into(),
        partner_id,
        secret: Some(secret.into()),
        plan_term_months: months,
        timezone: tz.map(Into::into),
        v3_issuer: Some(issuer.into()),
        v3_public_key_file: Some(v3_key_path(&format!("{company}.pub.pem"))),
        ..PartnerSettings::default()
    };
    let mut tirecompany = partner(COMPANY, PARTNER_ID, SECRET, 36, None, V3_ISSUER);
    tirecompany.v3_products = Some(V3_PRODUCTS.map(String::from).to_vec());
    tirecompany.program_id = Some(PROGRAM_ID.into());
    // Due at midnight UTC: past it any time a test runs, so tirecompany is late until its first
    // live batch of the day.
    tirecompany.expected_upload_by = Some("00:00".into());
    FileConfig {
        server,
        database: match postgres {
            None => DatabaseSettings {
                path: Some(dir.path().join("gateway.sqlite3")),
                ..DatabaseSettings::default()
            },
            Some(db) => DatabaseSettings {
                url: Some(Redacted(db.url.clone())),
                pool_size: Some(4),
                ..DatabaseSettings::default()
            },
        },
        partners: vec![
            tirecompany,
            partner(
                OTHER,
                OTHER_ID,
                OTHER_SECRET,
                12,
                Some("America/Denver"),
                OTHER_V3_ISSUER,
            ),
            PartnerSettings {
                company: ROTATING.into(),
                partner_id: ROTATING_ID,
                plan_term_months: 36,
                secrets: Some(
                    [
                        (ROTATING_NEW, None),
                        (ROTATING_OLD, Some("2999-12-31")),
                        (ROTATING_RETIRED, Some("2020-01-01T00:00:00Z")),
                    ]
                    .map(|(secret, not_after)| SecretSettings {
                        secret: Some(Redacted(secret.into())),
                        not_after: not_after.map(Into::into),
                        ..SecretSettings::default()
                    })
                    .into(),
                ),
                v3_issuer: Some(ROTATING_V3_ISSUER.into()),
                v3_public_keys: Some(
                    ROTATING_V3_KEYS
                        .map(|(kid, key, not_after)| V3KeySettings {
                            kid: kid.into(),
                            file: Some(v3_key_path(&format!("{key}.pub.pem"))),
                            not_after: not_after.map(Into::into),
                            ..V3KeySettings::default()
                        })
                        .into(),
                ),
                ..PartnerSettings::default()
            },
        ],
        v3: Some(V3Settings {
            audience: V3_AUDIENCE.into(),
            sandbox_audience: V3_SANDBOX.into(),
        }),
        operators: [
            (SUPPORT, Role::Support, SUPPORT_SECRET),
            (ADMIN, Role::Admin, ADMIN_SECRET),
        ]
        .map(|(name, role, secret)| OperatorSettings {
            name: name.into(),
            role,
            secret: Some(Redacted(secret.into())),
            secret_env: None,
        })
        .into(),
    }
}

/// A test key of fixtures/v3/.
pub fn v3_key_path(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/fixtures/v3/{name}", env!("CARGO_MANIFEST_DIR")))
}

/// An ES256 token with these claims, signed with a key of fixtures/v3/ (`tirecompany.key.pem`).
pub fn sign_v3(key: &str, claims: Value) -> String {
    let pem = std::fs::read(v3_key_path(key)).unwrap();
    jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &claims,
        &EncodingKey::from_ec_pem(&pem).unwrap(),
    )
    .unwrap()
}

/// Like [`sign_v3`], with a `kid` in the header.
pub fn sign_v3_kid(key: &str, kid: &str, claims: Value) -> String {
    let pem = std::fs::read(v3_key_path(key)).unwrap();
    let header = Header {
        kid: Some(kid.into()),
        ..Header::new(Algorithm::ES256)
    };
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_pem(&pem).unwrap()).unwrap()
}

/// Like [`sign_v3`], with a header that marks an extension critical (RFC 7515's `crit`).
pub fn sign_v3_with_crit(key: &str, claims: Value) -> String {
    let pem = std::fs::read(v3_key_path(key)).unwrap();
    let header = Header {
        crit: Some(vec!["exp".into()]),
        ..Header::new(Algorithm::ES256)
    };
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_pem(&pem).unwrap()).unwrap()
}

/// The claims of a valid v3 token: for `aud`, issued now, for an hour.
pub fn v3_claims(iss: &str, aud: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": iss, "aud": aud, "iat": now, "exp": now + 3600})
}

/// A valid v3 token of tirecompany for live data.
pub fn v3_token() -> String {
    sign_v3("tirecompany.key.pem", v3_claims(V3_ISSUER, V3_AUDIENCE))
}

/// A valid v3 token of tirecompany for its sandbox (its test tenant).
pub fn v3_sandbox_token() -> String {
    sign_v3("tirecompany.key.pem", v3_claims(V3_ISSUER, V3_SANDBOX))
}

/// A valid v3 token of othercompany for live data.
pub fn other_v3_token() -> String {
    sign_v3("othercompany.key.pem", v3_claims(OTHER_V3_ISSUER, V3_AUDIENCE))
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(server_settings()).await
}

pub async fn spawn_app_with_limit(max_body_bytes: usize) -> TestApp {
    spawn_app_with(ServerSettings {
        max_body_bytes,
        ..server_settings()
    })
    .await
}

/// The app on the engine under test: PostgreSQL when the variable is set, else SQLite.
pub async fn spawn_app_with(server: ServerSettings) -> TestApp {
    start(tempfile::tempdir().unwrap(), PgDatabase::create().map(Arc::new), server).await
}

/// The app on an SQLite database in `dir` (on a small disk, say), whatever the engine under
/// test.
pub async fn spawn_app_in(dir: TempDir) -> TestApp {
    start(dir, None, server_settings()).await
}

async fn start(dir: TempDir, postgres: Option<Arc<PgDatabase>>, server: ServerSettings) -> TestApp {
    try_start(dir, postgres, server).await.expect("the app builds")
}

/// Like [`spawn_app_with`], answering why the server did not start, when it did not.
pub async fn try_spawn_app_with(server: ServerSettings) -> anyhow::Result<TestApp> {
    try_start(tempfile::tempdir().unwrap(), PgDatabase::create().map(Arc::new), server).await
}

async fn try_start(dir: TempDir, postgres: Option<Arc<PgDatabase>>, server: ServerSettings) -> anyhow::Result<TestApp> {
    if std::env::var_os("TEST_LOG").is_some() {
        warranty_gateway::telemetry::init(warranty_gateway::telemetry::LogFormat::Text);
    }
    let settings = file_config(&dir, postgres.as_deref(), server.clone());
    let config = Config::from_file_config(settings, dir.path(), |_| None)?;
    let app = Application::build(config).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    Ok(TestApp {
        address,
        client: reqwest::Client::new(),
        dir,
        postgres,
        server,
        handle,
    })
}

/// An HS256 token with these claims, signed with `secret`.
pub fn sign(secret: &str, claims: Value) -> String {
    sign_with(Algorithm::HS256, secret, claims)
}

pub fn sign_with(alg: Algorithm, secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

/// A valid token for tirecompany, as the guide describes it.
pub fn token() -> String {
    sign(
        SECRET,
        json!({"partnerid": PARTNER_ID, "claimdate": "2020-01-27T10:00:00Z"}),
    )
}

/// An operator's token (`sub` the name, an hour to live), signed with `secret`.
pub fn operator_token(name: &str, secret: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    sign(
        secret,
        json!({"sub": name, "role": "admin", "iat": now, "exp": now + 3600}),
    )
}

/// A token of the support operator.
pub fn support() -> String {
    operator_token(SUPPORT, SUPPORT_SECRET)
}

pub fn other_token() -> String {
    sign(OTHER_SECRET, json!({"partnerid": OTHER_ID, "claimdate": "2020-01-27"}))
}

impl TestApp {
    pub fn url(&self, company: &str) -> String {
        format!("{}/v2/partners/{company}", self.address)
    }

    /// The SQLite file it serves from (on PostgreSQL, where it would be).
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("gateway.sqlite3")
    }

    /// Runs SQL (that both engines take) on the database it serves from.
    pub fn execute_sql(&self, sql: &str) {
        match &self.postgres {
            Some(db) => db.execute(sql),
            None => rusqlite::Connection::open(self.db_path())
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
        }
    }

    /// The one integer `sql` (that both engines take) answers, on the database it serves from.
    pub fn query_i64(&self, sql: &str) -> i64 {
        match &self.postgres {
            // The simple protocol, nothing prepared: a statement prepared and then run can reach
            // two server connections through a pooler in transaction mode.
            Some(db) => {
                let rows = crate::common_postgres::texts(&db.url, sql);
                assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
                rows[0]
                    .parse()
                    .unwrap_or_else(|e| panic!("{sql}: {:?} is no integer: {e}", rows[0]))
            }
            None => rusqlite::Connection::open(self.db_path())
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
        }
    }

    /// `GET /metrics`'s text.
    pub async fn metrics(&self) -> String {
        let res = self
            .client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.unwrap()
    }

    /// `DELETE /v2/partners/tirecompany_test`, answered 204.
    pub async fn reset_test_tenant(&self) {
        let res = self
            .client
            .delete(self.url("tirecompany_test"))
            .bearer_auth(token())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }

    /// Stops this server (gracefully, finishing the requests in flight).
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    /// Stops this server (gracefully) and starts a new one on the same database.
    pub async fn restart(self) -> TestApp {
        self.try_restart().await.expect("the app builds")
    }

    /// Like [`TestApp::restart`], answering why the server did not start, when it did not.
    pub async fn try_restart(self) -> anyhow::Result<TestApp> {
        self.handle.stop(true).await;
        try_start(self.dir, self.postgres, self.server).await
    }

    pub async fn post_raw(&self, company: &str, token: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(self.url(company))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the request is sent")
    }

    /// POSTs a JSON body to a company with that company's partner's token.
    pub async fn post(&self, company: &str, body: &Value) -> (StatusCode, Value) {
        let token = if company.to_ascii_lowercase().starts_with(OTHER) {
            other_token()
        } else {
            token()
        };
        let res = self.post_raw(company, &token, body.to_string()).await;
        json_of(res).await
    }

    pub async fn get_raw(&self, company: &str, token: &str, query: &str) -> Response {
        self.client
            .get(format!("{}?{query}", self.url(company)))
            .bearer_auth(token)
            .send()
            .await
            .expect("the request is sent")
    }

    /// GETs with the company's partner's token; `Value::Null` for an empty body.
    pub async fn get(&self, company: &str, query: &str) -> (StatusCode, Value) {
        let token = if company.to_ascii_lowercase().starts_with(OTHER) {
            other_token()
        } else {
            token()
        };
        json_of(self.get_raw(company, &token, query).await).await
    }

    /// A v3 URL: `path` under /api/v3.
    pub fn v3_url(&self, path: &str) -> String {
        format!("{}/api/v3{path}", self.address)
    }

    /// POSTs a JSON body to a v3 path with a token.
    pub async fn v3_post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.v3_send(reqwest::Method::POST, path, token, body).await
    }

    /// PATCHes a JSON body to a v3 path with a token.
    pub async fn v3_patch(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.v3_send(reqwest::Method::PATCH, path, token, body).await
    }

    async fn v3_send(&self, method: reqwest::Method, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let res = self
            .client
            .request(method, self.v3_url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("the request is sent");
        json_of(res).await
    }

    /// GETs a v3 path with a token.
    pub async fn v3_get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        json_of(
            self.client
                .get(self.v3_url(path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// GET a whole URL with a token: the answer as it came.
    pub async fn get_url(&self, url: &str, token: &str) -> Response {
        self.client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("the request is sent")
    }

    /// GET an `/ops` path (with its query) with a token.
    pub async fn ops_get(&self, path_and_query: &str, token: &str) -> (StatusCode, Value) {
        json_of(
            self.get_url(&format!("{}/ops{path_and_query}", self.address), token)
                .await,
        )
        .await
    }

    /// The credentials of `kind` (`secret`, `v3_key`) of a partner, as support reads them in
    /// `/ops/partners`: each `{kind, id, not_after, last_used_at}`, in the config's order.
    pub async fn ops_credentials(&self, company: &str, kind: &str) -> Vec<Value> {
        let (status, body) = self.ops_get("/partners", &support()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let partner = body["partners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["company"] == company)
            .unwrap_or_else(|| panic!("{company} is not in {body}"));
        let all = partner["credentials"].as_array().unwrap();
        all.iter().filter(|c| c["kind"] == kind).cloned().collect()
    }

    /// GET `/batches/{id}` of a company, with tirecompany's token.
    pub async fn batch(&self, company: &str, id: impl std::fmt::Display) -> (StatusCode, Value) {
        json_of(
            self.get_url(&format!("{}/batches/{id}", self.url(company)), &token())
                .await,
        )
        .await
    }

    pub async fn status_of(&self, company: &str, shop: &str, invoice: &str) -> Value {
        let (status, body) = self
            .get(
                company,
                &format!("rec=registrationstatus&ShopID={shop}&InvoiceNumber={invoice}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

pub async fn json_of(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.unwrap();
    if text.is_empty() {
        return (status, Value::Null);
    }
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

/// A valid registration; override fields with `with`.
pub fn registration(shop: &str, invoice: &str) -> Value {
    json!({
        "ShopID": shop, "InvoiceNumber": invoice, "PlanEnrollDate": "2024-01-15",
        "EmployeeID": "E1", "CustomerID": "C1", "VehicleYear": "2019", "VehicleMake": "FORD",
        "VehicleModel": "F150", "VIN": "1FTEW1E50KFA00000", "CurrentMileage": 42000,
        "TiresCovered": 4, "TPPPrice": 99.99, "TireBrand": "SUM", "TireModel": "HTR A/S P02",
        "TireSize": "2356018", "TirePrice": 150.00, "TireCost": 100.00, "TireDOT1": "DOT 1",
        "CommercialVehicle": "No"
    })
}

/// A valid claim against the registration (shop, invoice).
pub fn claim(shop: &str, invoice: &str, repair_invoice: &str, count: i64, date: &str) -> Value {
    json!({
        "ShopID": shop, "InvoiceNumber": invoice, "ClaimDate": date, "RepairShopID": shop,
        "RepairInvoiceNumber": repair_invoice, "VehicleMileage": 50000, "TireClaimCount": count,
        "CreditAmount": 64.04, "CostPerUnit": 60.00, "TireBrand": "SUM", "TireSize": "2356018",
        "TireCost": 58.00
    })
}

pub fn cancellation(shop: &str, invoice: &str, cancel_invoice: &str, count: i64, date: &str) -> Value {
    json!({
        "ShopID": shop, "InvoiceNumber": invoice, "CancelShopID": shop,
        "CancelInvoiceNumber": cancel_invoice, "TireCancelCount": count, "CancelDate": date
    })
}

pub fn sale(shop: &str, invoice: &str) -> Value {
    json!({
        "ShopID": shop, "InvoiceNumber": invoice, "SaleDate": "2024-02-01", "TireCount": 4,
        "TireBrand": "SUM", "TireModel": "HTR A/S P02", "TireSize": "2356018",
        "TirePrice": 225.09, "TireCost": 195.09
    })
}

pub fn with(mut record: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            record.as_object_mut().unwrap().remove(k);
        } else {
            record[k] = v.clone();
        }
    }
    record
}

/// The (Field, Code) pairs of one result entry's Errors.
pub fn errors_of(entry: &Value) -> Vec<(String, String)> {
    entry["Errors"]
        .as_array()
        .map(|errs| {
            errs.iter()
                .map(|e| {
                    (
                        e["Field"].as_str().unwrap().to_owned(),
                        e["Code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

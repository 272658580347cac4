//! Prometheus metrics (`GET /metrics`): requests by route and status and their answer times,
//! records accepted and rejected by type and tenant, their warnings by kind, batch durations,
//! the database's size. The counters and histograms add up in one recorder per process; the
//! gauges are read afresh at each scrape (`Gauges`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use metrics::{Counter, Histogram};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use strum::VariantArray;

use crate::model::batch::TypeCounts;
use crate::model::refused::RefusalReason;
use crate::records::RecordKind;
use crate::scope::Tenant;
use crate::wire::WarningKind;
use Metric::*;

/// Every metric the gateway exports, named `warranty_gateway_` and the variant in snake_case
/// (`HttpRequestsTotal` is `warranty_gateway_http_requests_total`): what the shipped alert rules
/// and dashboard (deploy/) may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case", prefix = "warranty_gateway_")]
pub enum Metric {
    // What each request was answered, how long it took, and those refused at the door.
    HttpRequestsTotal,
    HttpRequestDurationSeconds,
    RefusedRequestsTotal,
    // What the partners' batches carried.
    RecordsTotal,
    RecordWarningsTotal,
    BatchDurationSeconds,
    // Each partner's nightly upload and credentials.
    PartnerLate,
    PartnerLastBatchTimestampSeconds,
    CredentialNotAfterTimestampSeconds,
    CredentialLastUsedTimestampSeconds,
    // The server itself: its database and its backups, its config, its HTTPS certificate.
    DatabaseSizeBytes,
    DatabaseMigration,
    BuildMigration,
    LastBackupTimestampSeconds,
    ConfigReloadFailuresTotal,
    TlsCertificateNotAfterTimestampSeconds,
}

impl Metric {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// What it is, for /metrics' TYPE and HELP lines.
    fn described(self) -> (Kind, Option<metrics::Unit>, &'static str) {
        let seconds = Some(metrics::Unit::Seconds);
        match self {
            HttpRequestsTotal => (
                Kind::Counter,
                None,
                "HTTP requests answered, by route, method and status",
            ),
            HttpRequestDurationSeconds => (
                Kind::Histogram,
                seconds,
                "time from a request's arrival to its answer (a body's upload and inflating included), by route and method",
            ),
            RefusedRequestsTotal => (
                Kind::Counter,
                None,
                "requests refused before they reached a partner's data (a bad or missing token, an unknown company), by reason",
            ),
            RecordsTotal => (
                Kind::Counter,
                None,
                "records of POSTed batches, by type, tenant and result",
            ),
            RecordWarningsTotal => (
                Kind::Counter,
                None,
                "warnings the answers to POSTed batches gave their records (an unknown field, a field sent twice...), by partner, tenant and kind",
            ),
            BatchDurationSeconds => (Kind::Histogram, seconds, "time to answer a POSTed batch"),
            PartnerLate => (
                Kind::Gauge,
                None,
                "1 when a partner's nightly batch is late (a day it is due, past its expected_upload_by, none since the day before), else 0",
            ),
            PartnerLastBatchTimestampSeconds => (
                Kind::Gauge,
                seconds,
                "when a partner's tenant's last batch (its body read) arrived, in seconds since 1970",
            ),
            CredentialNotAfterTimestampSeconds => (
                Kind::Gauge,
                seconds,
                "when a partner's credential stops verifying tokens (kind secret: id its position from 1; kind v3_key: id its kid), in seconds since 1970",
            ),
            CredentialLastUsedTimestampSeconds => (
                Kind::Gauge,
                seconds,
                "when a partner's credential last verified a token on any instance (kept in the database to the minute; this instance's own to the second; labels as for the not_after gauge), in seconds since 1970",
            ),
            DatabaseSizeBytes => (
                Kind::Gauge,
                Some(metrics::Unit::Bytes),
                "size of the SQLite database and its WAL",
            ),
            DatabaseMigration => (
                Kind::Gauge,
                None,
                "the newest migration applied to the database (its number), as read at this scrape: above build_migration once a newer build migrated it",
            ),
            BuildMigration => (
                Kind::Gauge,
                None,
                "the newest migration this instance's build knows (its number): instances of different builds differ in a rolling upgrade",
            ),
            LastBackupTimestampSeconds => (
                Kind::Gauge,
                seconds,
                "when the last backup `warranty-gateway backup` made of the database finished, in seconds since 1970 (absent until one was made)",
            ),
            ConfigReloadFailuresTotal => (
                Kind::Counter,
                None,
                "reloads (SIGHUP) of a config file that did not load: the running config stayed",
            ),
            TlsCertificateNotAfterTimestampSeconds => (
                Kind::Gauge,
                seconds,
                "when the HTTPS certificate the server offers stops being valid (its notAfter), in seconds since 1970",
            ),
        }
    }
}

/// A metric's type.
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (the first call does; later ones reuse it).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(BatchDurationSeconds.name().to_owned()),
                &[0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
            )
            .expect("the buckets are not empty")
            // A lookup is answered in about a millisecond; a big batch in seconds.
            .set_buckets_for_metric(
                Matcher::Full(HttpRequestDurationSeconds.name().to_owned()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                ],
            )
            .expect("the buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (an embedding program's) keeps its place.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only this one's");
        }
        metrics::with_recorder(|recorder| describe(recorder, |kind| !matches!(kind, Kind::Gauge)));
        // A histogram keeps each sample until it is folded into its buckets, which a scrape does:
        // with no scraper, every request's would be kept for good. Folded every few seconds
        // instead, as the exporter's own HTTP listener would.
        let upkeep = handle.clone();
        let folding = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = folding {
            tracing::warn!(error = %e, "no thread folds the histograms' samples: only a scrape does");
        }
        handle
    })
}

/// Gives the recorder the TYPE and HELP of each metric of the kinds it keeps.
fn describe(recorder: &dyn metrics::Recorder, keeps: impl Fn(&Kind) -> bool) {
    for &metric in Metric::VARIANTS {
        let (kind, unit, text) = metric.described();
        if !keeps(&kind) {
            continue;
        }
        let (name, text) = (metric.name().into(), text.into());
        match kind {
            Kind::Counter => recorder.describe_counter(name, unit, text),
            Kind::Gauge => recorder.describe_gauge(name, unit, text),
            Kind::Histogram => recorder.describe_histogram(name, unit, text),
        }
    }
}

/// How often the histograms' samples are folded into their buckets: what a process keeps between
/// foldings is 16 bytes a request.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// At most this many request counters are kept by each worker thread (routes are patterns, so
/// a few dozen are in use); past it, a counter is looked up by its labels each time.
const CACHED_REQUEST_COUNTERS: usize = 256;

/// A request's metrics: its count by (route, method, status), its time by (route, method).
struct RequestMetrics {
    route: String,
    method: &'static str,
    status: u16,
    count: Counter,
    seconds: Histogram,
}

impl RequestMetrics {
    fn of(route: &str, method: &'static str, status: u16) -> RequestMetrics {
        RequestMetrics {
            route: route.to_owned(),
            method,
            status,
            count: metrics::counter!(HttpRequestsTotal.name(), "route" => route.to_owned(), "method" => method, "status" => status.to_string()),
            seconds: metrics::histogram!(HttpRequestDurationSeconds.name(), "route" => route.to_owned(), "method" => method),
        }
    }

    fn record(&self, seconds: f64) {
        self.count.increment(1);
        self.seconds.record(seconds);
    }
}

thread_local! {
    /// This thread's request metrics by (route, method, status), so that counting a request
    /// neither builds its labels nor hashes them in the registry.
    static REQUEST_METRICS: RefCell<Vec<RequestMetrics>> = const { RefCell::new(Vec::new()) };
}

/// A request method as a metrics label: one of a fixed set, so a client inventing methods
/// (`XMETH000 /healthz`) cannot add series without bound.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts an answered request and the `seconds` it took. `route` is a registered pattern or
/// `unmatched`, `method` one of [`method_label`]'s: every label comes from a fixed set.
pub fn count_request(route: &str, method: &'static str, status: u16, seconds: f64) {
    REQUEST_METRICS.with_borrow_mut(|cached| {
        match cached
            .iter()
            .find(|m| m.status == status && m.method == method && m.route == route)
        {
            Some(m) => m.record(seconds),
            None if cached.len() < CACHED_REQUEST_COUNTERS => {
                let m = RequestMetrics::of(route, method, status);
                m.record(seconds);
                cached.push(m);
            }
            None => RequestMetrics::of(route, method, status).record(seconds),
        }
    });
}

/// The `result` label of [`Metric::RecordsTotal`].
const RESULTS: [&str; 2] = ["accepted", "rejected"];

fn records_counter(partner: &str, tenant: Tenant, kind: RecordKind, result: &'static str) -> Counter {
    let kind = kind.name().to_ascii_lowercase();
    metrics::counter!(RecordsTotal.name(), "partner" => partner.to_owned(), "tenant" => tenant.into_str(), "type" => kind, "result" => result)
}

fn warnings_counter(partner: &str, tenant: Tenant, kind: WarningKind) -> Counter {
    metrics::counter!(RecordWarningsTotal.name(), "partner" => partner.to_owned(), "tenant" => tenant.into_str(), "kind" => kind.into_str())
}

pub fn count_batch(
    partner: &str,
    tenant: Tenant,
    counts: &TypeCounts,
    warnings: &BTreeMap<WarningKind, u64>,
    seconds: f64,
) {
    for (kind, c) in counts.iter() {
        for (result, n) in RESULTS.into_iter().zip([c.accepted, c.rejected]) {
            if n > 0 {
                records_counter(partner, tenant, kind, result).increment(n as u64);
            }
        }
    }
    for (&kind, &n) in warnings {
        warnings_counter(partner, tenant, kind).increment(n);
    }
    metrics::histogram!(BatchDurationSeconds.name(), "tenant" => tenant.into_str()).record(seconds);
}

/// Every counter series a scrape can know of in advance, at 0 until counted: each configured
/// partner's records by tenant, type and result and its warnings by tenant and kind, each
/// refusal reason, reload failures.
/// Prometheus's `rate()` and `increase()` see a count only once its series exists: a series
/// born at its first count loses that count, which for a nightly partner is the whole first
/// night after each restart.
pub fn register_counters(partners: &crate::config::Partners) {
    for p in partners.iter() {
        for tenant in Tenant::VARIANTS {
            for kind in RecordKind::ALL {
                for result in RESULTS {
                    records_counter(&p.company, *tenant, kind, result).increment(0);
                }
            }
            for &kind in WarningKind::VARIANTS {
                warnings_counter(&p.company, *tenant, kind).increment(0);
            }
        }
    }
    for reason in RefusalReason::VARIANTS {
        metrics::counter!(RefusedRequestsTotal.name(), "reason" => reason.into_str()).increment(0);
    }
    metrics::counter!(ConfigReloadFailuresTotal.name()).increment(0);
}

/// Counts a reload that changed nothing, its file not loading.
pub fn count_reload_failure() {
    metrics::counter!(ConfigReloadFailuresTotal.name()).increment(1);
}

/// Counts a request refused at the door, by why.
pub fn count_refused(reason: RefusalReason) {
    metrics::counter!(RefusedRequestsTotal.name(), "reason" => reason.into_str()).increment(1);
}

/// The gauges of one scrape. Counters and histograms add up in the process's recorder as
/// requests are answered; a gauge says how something stands now, so each scrape reads them afresh
/// into a recorder of its own: a partner or credential a reload removed shows no more, where a
/// gauge kept in the process would go on showing its last value (and its alert firing) until a
/// restart. Only `render` makes one, while that recorder is the one in use.
pub struct Gauges(());

impl Gauges {
    /// The partners' gauges, as of a reading of their activity.
    pub fn partners(&self, activity: &[crate::ops::PartnerActivity]) {
        for a in activity {
            let company = a.partner.company.clone();
            metrics::gauge!(PartnerLate.name(), "company" => company.clone()).set(if a.live.late { 1.0 } else { 0.0 });
            for (tenant, t) in [("live", &a.live), ("test", &a.test)] {
                if let Some(at) = t.last_batch_at {
                    metrics::gauge!(PartnerLastBatchTimestampSeconds.name(), "company" => company.clone(), "tenant" => tenant)
                        .set(at.timestamp() as f64);
                }
            }
        }
    }

    /// When each of a partner's credentials that has an end stops verifying tokens (from the
    /// config), and when each last verified a token (none before its first).
    pub fn credentials(&self, company: &str, credentials: &[crate::config::CredentialInfo]) {
        for c in credentials {
            let labels = [
                ("company", company.to_owned()),
                ("kind", c.kind.into_str().to_owned()),
                ("id", c.id.clone()),
            ];
            for (metric, at) in [
                (CredentialNotAfterTimestampSeconds, c.not_after),
                (CredentialLastUsedTimestampSeconds, c.last_used_at),
            ] {
                if let Some(at) = at {
                    metrics::gauge!(metric.name(), &labels).set(at.timestamp() as f64);
                }
            }
        }
    }

    /// When the HTTPS certificate the server offers now stops being valid.
    pub fn certificate(&self, not_after: chrono::DateTime<chrono::Utc>) {
        metrics::gauge!(TlsCertificateNotAfterTimestampSeconds.name()).set(not_after.timestamp() as f64);
    }

    /// When the last backup of the database finished (absent before the first).
    pub fn backup(&self, last: &crate::model::backup::Backup) {
        metrics::gauge!(LastBackupTimestampSeconds.name()).set(last.finished_at.timestamp() as f64);
    }

    /// The newest migration this build knows.
    pub fn build_migration(&self, ours: &crate::store::Applied) {
        metrics::gauge!(BuildMigration.name()).set(f64::from(ours.version));
    }

    /// The newest migration applied to the database, read now.
    pub fn database_migration(&self, newest: &crate::store::Applied) {
        metrics::gauge!(DatabaseMigration.name()).set(f64::from(newest.version));
    }

    /// The database's size, measured now.
    pub fn database_size(&self, bytes: u64) {
        metrics::gauge!(DatabaseSizeBytes.name()).set(bytes as f64);
    }
}

/// The metrics in Prometheus text format: the process's counters and histograms, then the gauges
/// `read` sets, as they stand now. A gauge `read` cannot read (the database down) is absent from
/// this scrape rather than shown at a stale value.
pub fn render(read: impl FnOnce(&Gauges)) -> String {
    let mut text = handle().render();
    let gauges = PrometheusBuilder::new().build_recorder();
    describe(&gauges, |kind| matches!(kind, Kind::Gauge));
    metrics::with_local_recorder(&gauges, || read(&Gauges(())));
    text.push_str(&gauges.handle().render());
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exported(name: &str) -> bool {
        Metric::VARIANTS.iter().any(|m| m.name() == name)
    }

    /// The `warranty_gateway_...` names a text mentions (a histogram's series by its own name).
    fn names(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("warranty_gateway_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix).filter(|b| exported(b)))
                .unwrap_or(name);
            found.push(base.to_owned());
            rest = &tail[end..];
        }
        found
    }

    #[test]
    fn the_shipped_alerts_and_dashboard_name_only_metrics_the_gateway_exports() {
        for (file, text) in [
            ("alerts.yml", include_str!("../deploy/prometheus/alerts.yml")),
            ("alerts.test.yml", include_str!("../deploy/prometheus/alerts.test.yml")),
            (
                "warranty-gateway.json",
                include_str!("../deploy/grafana/warranty-gateway.json"),
            ),
        ] {
            let named = names(text);
            assert!(!named.is_empty(), "{file}");
            for name in named {
                assert!(
                    exported(&name),
                    "{file} names {name}, which the gateway does not export"
                );
            }
        }
        // The rules cover each kind of trouble docs/operators.md, "Alerts and the dashboard", promises an alert for.
        let alerts = include_str!("../deploy/prometheus/alerts.yml");
        for metric in [
            PartnerLate.name(),
            RecordsTotal.name(),
            HttpRequestsTotal.name(),
            RefusedRequestsTotal.name(),
            CredentialNotAfterTimestampSeconds.name(),
            CredentialLastUsedTimestampSeconds.name(),
            TlsCertificateNotAfterTimestampSeconds.name(),
            LastBackupTimestampSeconds.name(),
        ] {
            assert!(alerts.contains(metric), "{metric}");
        }
    }

    /// docs/operations.md's table of metrics has a row for each, and only for those.
    #[test]
    fn the_metrics_page_lists_every_metric() {
        let page = include_str!("../docs/operations.md");
        let rows: Vec<&str> = page
            .lines()
            .filter_map(|line| line.strip_prefix("| `warranty_gateway_"))
            .map(|rest| rest.split(['{', '`']).next().unwrap_or(""))
            .collect();
        let mut listed: Vec<String> = rows.iter().map(|name| format!("warranty_gateway_{name}")).collect();
        let mut exported: Vec<String> = Metric::VARIANTS.iter().map(|m| m.name().to_owned()).collect();
        listed.sort();
        exported.sort();
        assert_eq!(listed, exported);
    }
}

//! Builds the server from a config: opens the store, binds the listener (port 0 in tests).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle, Service, ServiceRequest, Url};
use actix_web::http::Uri;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::uri::PathAndQuery;
use actix_web::{App, HttpMessage, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::api::{self, AppState};
use crate::client::TrustedProxies;
use crate::config::Config;
use crate::live::Live;
use crate::store::Store;
use crate::telemetry::{RequestSpan, escaped};

pub struct Application {
    port: u16,
    server: Server,
    store: Arc<Store>,
    reloader: Arc<Reloader>,
}

/// What a reload changes in the running server (see [`Reloader::apply`]).
pub struct Reloader {
    state: web::Data<AppState>,
    proxies: web::Data<Live<TrustedProxies>>,
    /// The certificate new connections are offered, when the server speaks HTTPS.
    certificate: Option<Arc<crate::https::Certificate>>,
    /// The config the server runs on: what a reload is compared with.
    running: std::sync::Mutex<Config>,
    /// Where it listens (a reload does not move it).
    address: SocketAddr,
}

/// Refuses a partner whose secret anyone can read (the bundled config's demo placeholder) on a
/// server reachable from other machines: there a token signed with it would prove nothing. On
/// loopback the quick start keeps working as shipped.
pub(crate) fn refuse_public_secrets(config: &Config, address: SocketAddr) -> anyhow::Result<()> {
    if address.ip().is_loopback() {
        return Ok(());
    }
    match config.partners.iter().find(|p| p.has_public_secret()) {
        Some(p) => anyhow::bail!(
            "partner {}'s secret is the demo placeholder of the bundled config.toml, which anyone can read, \
             so a token signed with it proves nothing: replace it (or use secret_env) to serve on {address}, \
             beyond this machine",
            p.company
        ),
        None => Ok(()),
    }
}

impl Reloader {
    /// Applies a config read again: partners (credentials, zones, plan terms, due times),
    /// operators, v3's audiences, the trusted proxies and the TLS certificate take effect for
    /// new requests at once; requests in flight finish with what they began with. The tokens
    /// verified so far are forgotten, so a removed secret verifies nothing more. Answers the
    /// changed keys that need a restart (they are not applied). On an error nothing changes.
    pub fn apply(&self, new: Config) -> anyhow::Result<Vec<&'static str>> {
        refuse_public_secrets(&new, self.address)?;
        let mut running = self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let (Some(certificate), Some(files)) = (&self.certificate, &new.tls) {
            certificate.reload(files)?;
        }
        new.partners.keep_last_use(&self.state.partners.get());
        self.state.partners.set(Arc::clone(&new.partners));
        self.state.operators.set(Arc::clone(&new.operators));
        self.state.v3.set(Arc::new(new.v3.as_deref().cloned()));
        self.proxies.set(Arc::clone(&new.trusted_proxies));
        // To free them: each is held under the reading of the config that verified it, which no
        // request begun from now takes (one in flight may still add to it).
        self.state.verified_tokens.clear();
        let old = &*running;
        let changed = [
            ("server.bind", old.bind != new.bind),
            ("[database]", old.database().ok() != new.database().ok()),
            (
                "server.tls_cert_file and tls_key_file (HTTPS on or off)",
                old.tls.is_some() != new.tls.is_some(),
            ),
            ("server.max_body_bytes", old.max_body_bytes != new.max_body_bytes),
            ("server.header_timeout_secs", old.header_timeout != new.header_timeout),
            ("server.body_timeout_secs", old.body_timeout != new.body_timeout),
            ("server.keep_alive_secs", old.keep_alive != new.keep_alive),
            (
                "server.history_retention_days",
                old.history_retention != new.history_retention,
            ),
        ];
        let not_applied = changed.into_iter().filter(|(_, c)| *c).map(|(k, _)| k).collect();
        *running = new;
        Ok(not_applied)
    }
}

/// Reads the config again (`load`: the file, with the command line's overrides) on each
/// SIGHUP and applies it; a file that does not load changes nothing, says why in the log and is
/// counted.
/// `hangups` is listened for before the server starts (`hangups()`), so that a SIGHUP sent as
/// soon as it listens is a reload, not the signal's default end of the process.
pub async fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    reloader: Arc<Reloader>,
    load: impl Fn() -> anyhow::Result<Config> + Send + Sync + 'static,
) {
    let load = Arc::new(load);
    while hangups.recv().await.is_some() {
        let load = Arc::clone(&load);
        let reloader = Arc::clone(&reloader);
        let applied = crate::api::off_executor(move || reloader.apply(load()?)).await;
        match applied {
            Ok(Ok(not_applied)) => {
                tracing::info!(
                    "config reloaded: partners, operators, credentials and certificate apply to new requests"
                );
                for key in not_applied {
                    tracing::warn!(key, "config reloaded, but this change needs a restart: not applied");
                }
            }
            Ok(Err(e)) => {
                crate::monitoring::count_reload_failure();
                // One line: the TOML error's own layout spans several, and a log reader takes
                // each for an entry of its own. `warranty-gateway partners` shows it laid out.
                tracing::error!(
                    error = ?escaped(format!("{e:#}")),
                    "config not reloaded: the file does not load; the running config stays"
                );
            }
            Err(e) => {
                crate::monitoring::count_reload_failure();
                tracing::error!(error = %e, "config not reloaded");
            }
        }
    }
}

/// SIGHUP, listened for (within a runtime).
pub fn hangups() -> std::io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        // The address first: a start that cannot listen (the port taken, by the build it was to
        // replace, say) or must not (a demo secret beyond loopback) leaves the database as it
        // found it, unmigrated.
        let listener = TcpListener::bind(&config.bind).with_context(|| {
            format!(
                "cannot listen on {}{}",
                config.bind,
                crate::config::bind_hint(&config.bind)
            )
        })?;
        let address = listener.local_addr()?;
        refuse_public_secrets(&config, address)?;
        // Blocking work (a migration; PostgreSQL's driver runs a runtime of its own): never on
        // the async executor.
        let database = config.database()?.clone();
        let described = database.to_string();
        let store = crate::api::off_executor(move || Store::open(&database))
            .await
            .context("opening the database")?
            .with_context(|| format!("cannot open the database {described}"))?;
        for p in config.partners.iter() {
            if p.secret_is_short() {
                tracing::warn!(company = %p.company, "the partner's secret is shorter than 32 bytes");
            }
        }
        let port = address.port();
        tracing::info!(
            address = %address,
            database = %described,
            partners = config.partners.iter().count(),
            "warranty-gateway listening"
        );
        let store = Arc::new(store);
        let certificate = config
            .tls
            .as_ref()
            .map(|files| crate::https::Certificate::load(files).map(Arc::new))
            .transpose()?;
        let state = web::Data::new(AppState {
            store: Arc::clone(&store),
            partners: Live::new(Arc::clone(&config.partners)),
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout,
            history_retention: config.history_retention,
            verified_tokens: Default::default(),
            v3: Live::new(Arc::new(config.v3.as_deref().cloned())),
            operators: Live::new(Arc::clone(&config.operators)),
            refused: Default::default(),
            started_at: chrono::Utc::now(),
            certificate: certificate.clone(),
        });
        // The proxies whose forwarding headers name the client: app data of their own, read by
        // the request span (telemetry knows nothing of the handlers' state).
        let trusted_proxies = web::Data::new(Live::new(Arc::clone(&config.trusted_proxies)));
        crate::monitoring::handle();
        // The app's own handles on what a reload swaps; the reloader keeps the originals.
        let (app_state, proxies) = (state.clone(), trusted_proxies.clone());
        let server = HttpServer::new(move || {
            App::new()
                // Counted by the route's pattern (not the path: one series per company would grow
                // without bound on unknown companies).
                .wrap_fn(|req, srv| {
                    let started = std::time::Instant::now();
                    let method = crate::monitoring::method_label(req.method());
                    let call = srv.call(req);
                    async move {
                        let res = call.await?;
                        let route = res.request().match_pattern();
                        let route = route.as_deref().unwrap_or("unmatched");
                        let seconds = started.elapsed().as_secs_f64();
                        crate::monitoring::count_request(route, method, res.status().as_u16(), seconds);
                        Ok(res)
                    }
                })
                .wrap_fn(|mut req, srv| {
                    normalize_path(&mut req);
                    srv.call(req)
                })
                // Every response carries the id its log lines carry.
                .wrap_fn(|req, srv| {
                    let id = req.extensions().get::<RequestId>().copied();
                    let call = srv.call(req);
                    async move {
                        let mut res = call.await?;
                        if let Some(id) = id {
                            // Its text, as Display writes it, without the formatting machinery.
                            let mut text = uuid::Uuid::encode_buffer();
                            let text = id.hyphenated().encode_lower(&mut text);
                            if let Ok(id) = HeaderValue::from_str(text) {
                                res.headers_mut().insert(HeaderName::from_static("x-request-id"), id);
                            }
                        }
                        Ok(res)
                    }
                })
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(app_state.clone())
                .app_data(proxies.clone())
                .configure(api::routes)
        })
        // A slow or idle client holds a connection, never a worker: these bound how long.
        .client_request_timeout(config.header_timeout)
        .keep_alive(config.keep_alive);
        let server = match &certificate {
            Some(certificate) => {
                server.listen_rustls_0_23(listener, crate::https::server_config(Arc::clone(certificate))?)?
            }
            None => server.listen(listener)?,
        };
        let server = server.shutdown_timeout(60).run();
        let reloader = Arc::new(Reloader {
            state,
            proxies: trusted_proxies,
            certificate,
            running: std::sync::Mutex::new(config),
            address,
        });
        Ok(Application {
            port,
            server,
            store,
            reloader,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What applies a config read again to this running server.
    pub fn reloader(&self) -> Arc<Reloader> {
        Arc::clone(&self.reloader)
    }

    /// Stops the server (gracefully, finishing requests in flight) from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped. SIGTERM stops gracefully: no new connections, the requests in
    /// flight are answered (their batches committed), then the database is checkpointed so the
    /// file is whole on its own.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await?;
        let store = Arc::clone(&self.store);
        match crate::api::off_executor(move || store.checkpoint()).await {
            Ok(Ok(true)) => tracing::info!("stopped; database checkpointed"),
            Ok(Ok(false)) => tracing::info!("stopped"),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "stopped; the database checkpoint failed (the WAL keeps the data)")
            }
            Err(e) => {
                tracing::error!(error = %e, "stopped; the database checkpoint could not run (the WAL keeps the data)")
            }
        }
        Ok(())
    }
}

/// `/v2/partners/alpha/` and `/v2//partners/alpha` are `/v2/partners/alpha`: trailing slashes
/// trimmed and repeated ones merged, as actix-web's `NormalizePath::trim()` does, but only for a
/// path that has any (that middleware ran a regex over every request's path).
fn normalize_path(req: &mut ServiceRequest) {
    let Some(path) = normalized(req.path()) else { return };
    let head = req.head_mut();
    let target = match head.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = head.uri.clone().into_parts();
    let Ok(path_and_query) = PathAndQuery::try_from(target) else {
        return;
    };
    parts.path_and_query = Some(path_and_query);
    let Ok(uri) = Uri::from_parts(parts) else { return };
    // Before routing, nothing of the path is matched yet: nothing to re-index.
    req.match_info_mut().update_with_reindex(Url::new(uri.clone()), |i| i);
    req.head_mut().uri = uri;
}

/// The path with trailing slashes trimmed and repeated ones merged; `None` when it has none.
fn normalized(path: &str) -> Option<String> {
    if path.len() <= 1 || !(path.ends_with('/') || path.contains("//")) {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    (out != path).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::normalized;

    #[test]
    fn paths_are_trimmed_and_merged_like_normalize_path_does() {
        assert_eq!(normalized("/v2/partners/alpha"), None);
        assert_eq!(normalized("/"), None);
        assert_eq!(normalized("/v2/partners/alpha/").as_deref(), Some("/v2/partners/alpha"));
        assert_eq!(
            normalized("/v2/partners/alpha///").as_deref(),
            Some("/v2/partners/alpha")
        );
        assert_eq!(
            normalized("//v2//partners/alpha").as_deref(),
            Some("/v2/partners/alpha")
        );
        assert_eq!(normalized("///").as_deref(), Some("/"));
    }
}

//! Builds the server from a config: opens the store, binds the listener (port 0 in tests).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{NormalizePath, TrailingSlash};
use actix_web::{App, HttpMessage, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::api::{self, AppState};
use crate::config::Config;
use crate::store::Store;

pub struct Application {
    port: u16,
    server: Server,
    store: Arc<Store>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        // Blocking work (a migration; PostgreSQL's driver runs a runtime of its own): never on
        // the async executor.
        let database = config.database.clone();
        let store = actix_web::rt::task::spawn_blocking(move || Store::open(&database))
            .await
            .context("opening the database")?
            .with_context(|| format!("cannot open the database {}", config.database))?;
        for p in config.partners.iter() {
            if p.secret_is_short() {
                tracing::warn!(company = %p.company, "the partner's secret is shorter than 32 bytes");
            }
        }
        let listener = TcpListener::bind(&config.bind).with_context(|| format!("cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        tracing::info!(
            address = %listener.local_addr()?,
            database = %config.database,
            partners = config.partners.iter().count(),
            "warranty-gateway listening"
        );
        let store = Arc::new(store);
        let state = web::Data::new(AppState {
            store: Arc::clone(&store),
            partners: Arc::clone(&config.partners),
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout,
            history_retention: config.history_retention,
        });
        crate::monitoring::handle();
        let server = HttpServer::new(move || {
            App::new()
                // Counted by the route's pattern (not the path: one series per company would grow
                // without bound on unknown companies).
                .wrap_fn(|req, srv| {
                    let method = req.method().to_string();
                    let call = srv.call(req);
                    async move {
                        let res = call.await?;
                        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
                        crate::monitoring::count_request(&route, &method, res.status().as_u16());
                        Ok(res)
                    }
                })
                .wrap(NormalizePath::new(TrailingSlash::Trim))
                // Every response carries the id its log lines carry.
                .wrap_fn(|req, srv| {
                    let id = req.extensions().get::<RequestId>().copied();
                    let call = srv.call(req);
                    async move {
                        let mut res = call.await?;
                        if let Some(id) = id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok()) {
                            res.headers_mut().insert(HeaderName::from_static("x-request-id"), id);
                        }
                        Ok(res)
                    }
                })
                .wrap(TracingLogger::default())
                .app_data(state.clone())
                .configure(api::routes)
        })
        // A slow or idle client holds a connection, never a worker: these bound how long.
        .client_request_timeout(config.header_timeout)
        .keep_alive(config.keep_alive)
        .listen(listener)?
        .shutdown_timeout(60)
        .run();
        Ok(Application { port, server, store })
    }

    pub fn port(&self) -> u16 {
        self.port
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
        match self.store.checkpoint() {
            Ok(true) => tracing::info!("stopped; database checkpointed"),
            Ok(false) => tracing::info!("stopped"),
            Err(e) => tracing::error!(error = %e, "stopped; the database checkpoint failed (the WAL keeps the data)"),
        }
        Ok(())
    }
}

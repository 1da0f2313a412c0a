//! Builds the application from settings: opens the store, loads keys and rules, imports the seed
//! cards, binds the listener (port 0 in tests; mutual TLS built by `crate::tls` when
//! `server.tls.cert` is set) and returns an [`Application`] that can report its port and run until
//! stopped. Shared by `main` and the integration tests.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::crypto::{CvvVerifier, Fingerprinter, KeyRing};
use crate::otp::OtpGateway;
use crate::service::rules_state::RulesState;
use crate::service::{cards, Services};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid configuration: {key}: {message}")]
    Config { key: &'static str, message: String },
    #[error("cannot open the store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot import the seed cards: {0}")]
    Cards(#[from] cards::ImportError),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
}

fn config_error(key: &'static str, message: impl ToString) -> StartupError {
    StartupError::Config {
        key,
        message: message.to_string(),
    }
}

pub use crate::service::rules_state::load_rules;

/// The shared services, built from settings (no listener). Used by `serve` and tests.
pub fn build_services(settings: Settings) -> Result<Services, StartupError> {
    let keys = KeyRing::load_dir(&settings.crypto.key_dir)
        .map_err(|e| config_error("crypto.key_dir", e))?;
    let fingerprints = Fingerprinter::new(&settings.crypto.fingerprint_key)
        .map_err(|e| config_error("crypto.fingerprint_key", e))?;
    let cvv = CvvVerifier::from_hex(&settings.crypto.cvk_a, &settings.crypto.cvk_b)
        .map_err(|e| config_error("crypto.cvk_a", e))?;
    let live_rules = load_rules(&settings.rules.file).map_err(|e| config_error("rules.file", e))?;
    let shadow_rules = match &settings.rules.shadow_file {
        Some(path) => Some(load_rules(path).map_err(|e| config_error("rules.shadow_file", e))?),
        None => None,
    };
    let rules = RulesState::new(
        live_rules,
        shadow_rules,
        settings.rules.file.clone(),
        settings.rules.shadow_file.clone(),
    );
    let otp_gateway = OtpGateway::new(&settings.otp.webhook_url, settings.otp.timeout_ms)
        .map_err(|e| config_error("otp.webhook_url", e))?;
    let tsh = crate::tsh_client::TshClient::new(&settings.tsh, &settings.issuer.id)
        .map_err(|e| config_error(e.key, e.message))?;
    if settings.store.backend == crate::config::StoreBackend::Sled {
        if let Some(parent) = settings.store.path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| config_error("store.path", e))?;
            }
        }
    }
    // A store refusal naming a key (e.g. `store.url`) is a configuration error: exit code 2.
    let mut store = Store::open(&settings.store).map_err(|e| match e {
        crate::store::StoreError::Config { key, message } => config_error(key, message),
        other => StartupError::Store(other),
    })?;
    if settings.events.enabled() {
        // Every transition and decision now adds an outbox event in its own transaction.
        store = store.with_event_feed();
    }
    if let Some(seed) = &settings.cards.seed_file {
        let report = cards::import_file(&store, &fingerprints, seed)?;
        tracing::info!(
            file = %seed.display(),
            created = report.created,
            updated = report.updated,
            unchanged = report.unchanged,
            "seed cards loaded"
        );
    }
    tracing::info!(
        keys = keys.len(),
        rules = rules.status().live_rules,
        rules_version = %rules.status().live_version,
        shadow_rules_version = ?rules.status().shadow_version,
        environment = %settings.environment,
        "service configured"
    );
    Ok(Services::new(
        settings,
        store,
        keys,
        fingerprints,
        cvv,
        rules,
        otp_gateway,
        tsh,
    ))
}

/// A bound, ready-to-run service.
pub struct Application {
    port: u16,
    server: Server,
    services: web::Data<Services>,
    /// The outbound event feed's delivery worker, started by `run_until_stopped`.
    event_feed: Option<crate::events::EventFeed>,
}

impl Application {
    pub fn build(settings: Settings) -> Result<Application, StartupError> {
        // TLS files are read first: a bad certificate stops startup before the store is opened.
        let tls = match &settings.server.tls {
            None => None,
            Some(tls) => {
                let config = crate::tls::server_config(tls).map_err(|e| StartupError::Config {
                    key: e.key,
                    message: e.message,
                })?;
                tracing::info!(
                    cert = %tls.cert.display(),
                    client_ca = %tls.client_ca.display(),
                    crl = ?tls.crl.as_ref().map(|p| p.display().to_string()),
                    handshake_timeout_ms = tls.handshake_timeout_ms,
                    "mutual TLS on: TLS 1.2/1.3, client certificate required"
                );
                Some((
                    config,
                    std::time::Duration::from_millis(tls.handshake_timeout_ms),
                ))
            }
        };
        let addr = settings.server.bind_addr;
        let workers = settings.server.workers;
        let event_feed = crate::events::EventFeed::new(&settings.events)
            .map_err(|e| config_error("events.webhook_url", e))?;
        let services = web::Data::from(Arc::new(build_services(settings)?));
        let listener = TcpListener::bind(addr).map_err(|e| StartupError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(addr.port());
        let data = services.clone();
        let request_timeout = services.settings.server.request_timeout;
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(move |req, next| {
                    crate::http::body::bound_body_time(request_timeout, req, next)
                }))
                .wrap(actix_web::middleware::NormalizePath::new(
                    actix_web::middleware::TrailingSlash::Trim,
                ))
                .configure(|cfg| crate::http::configure(cfg, data.clone()))
        })
        .client_request_timeout(request_timeout)
        .shutdown_timeout(10);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut server = match tls {
            None => server.listen(listener),
            Some((config, handshake_timeout)) => server
                .tls_handshake_timeout(handshake_timeout)
                .listen_rustls_0_23(listener, config),
        }
        .map_err(|e| StartupError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
        if let Some(n) = workers {
            server = server.workers(n);
        }
        let local = std::net::SocketAddr::new(addr.ip(), port);
        tracing::info!(address = %format!("{scheme}://{local}"), "listening");
        Ok(Application {
            port,
            server: server.run(),
            services,
            event_feed,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn services(&self) -> web::Data<Services> {
        self.services.clone()
    }

    /// Runs until a shutdown signal (SIGTERM, SIGINT): the server stops accepting and finishes the
    /// requests in flight, then background work drains (see [`Application::drain`]) and the store
    /// is flushed. Background loops (the event feed's delivery, counter pruning, keeping tokens in
    /// step with TSH) run beside the server on this task's runtime, never on the HTTP workers.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let svc = self.services.clone().into_inner();
        let background = svc.background.clone();
        if let (Some(feed), Some(signal)) = (self.event_feed, svc.store.event_signal()) {
            let feed = Arc::new(feed).run(svc.store.clone(), signal, background.clone());
            background.spawn(feed);
        }
        background.spawn(crate::service::velocity::prune_periodically(svc.clone()));
        background.spawn(crate::service::reconcile::periodically(
            svc.clone(),
            crate::http::error::staff_action_status,
        ));
        background.spawn(crate::service::sync_worker::run(
            svc.clone(),
            crate::http::error::staff_action_status,
        ));
        let result = self.server.await;
        drain(&svc).await;
        result
    }
}

/// After the server stopped: background work finishes what it started, up to the longest an
/// outbound call may take (a TSH call or an event delivery) plus a margin, then the store's
/// last flush. Nothing a task left unfinished is half-written: each store write is one
/// transaction, and a TSH operation or event not completed stays pending and is retried.
async fn drain(svc: &Services) {
    let longest_call = svc
        .settings
        .tsh
        .timeout_ms
        .max(svc.settings.events.timeout_ms);
    let deadline = std::time::Duration::from_millis(longest_call) + DRAIN_MARGIN;
    tracing::info!(
        deadline_ms = deadline.as_millis() as u64,
        "shutting down: draining background work"
    );
    match svc.background.drain(deadline).await {
        crate::background::Drained::Complete => tracing::info!("background work drained"),
        crate::background::Drained::TimedOut { still_running } => tracing::warn!(
            still_running,
            "background work still running at the deadline; left pending, retried after restart"
        ),
    }
    let store = svc.store.clone();
    match tokio::task::spawn_blocking(move || store.flush_blocking()).await {
        Ok(Ok(())) => tracing::info!("store flushed; stopped"),
        Ok(Err(e)) => tracing::error!(error = %e, "final store flush failed"),
        Err(e) => tracing::error!(error = %e, "final store flush did not complete"),
    }
}

/// Added to the longest outbound call's timeout when draining (the store write after a call).
const DRAIN_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

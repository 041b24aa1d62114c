//! Running a gateway: its HTTP server and its background work.
//!
//! Every replica runs the same tasks; the database decides who does what:
//!
//! * the **follower** reads the ledger's feed while it holds the
//!   `follower` lease (renewed on every page; another replica takes over
//!   when it lapses), and, while it holds it, keeps the float between its
//!   thresholds;
//! * the **resumer** drives every operation idle for [`RESUME_IDLE`] (a
//!   crashed replica's, one whose ledger call failed, one held by an alarm);
//! * the **chain watcher** compares the ledger's latest block with the
//!   history the gateway checked, every [`WATCH_EVERY`];
//! * follow-ups (sweeps a credit started) are driven at once.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpServer};
use cbdc_http::RouteTable;
use std::time::Instant;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::api;
use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::store::blocking;
use crate::store::Store;

/// How long an open operation waits before any replica's resumer takes it.
pub const RESUME_IDLE: Duration = Duration::from_secs(3);
/// How often the chain watcher looks at the ledger's latest block.
pub const WATCH_EVERY: Duration = Duration::from_secs(2);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cbdc bank gateway",
        description = "A commercial bank's gateway: the internal API the wallet API calls \
            (`/v1/wallets…`) and the operator API of the bank's staff (`/v1/operator/…`), each \
            with its own bearer tokens. Amounts are integers of minor units. Errors are \
            `{\"code\", \"message\"}` with the status documented per route; a refused payment \
            (422, or 409 `notes_in_flight`) adds `limit`, `remaining` and `payment_id`. A \
            documented path asked with another method is answered 405 with `Allow`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Bearer),
    tags(
        (name = "operations", description = "Liveness, readiness, metrics and this document."),
        (name = "wallets", description = "The internal API: wallets, payments, fund and defund."),
        (name = "operator", description = "The operator API: customers, KYC, accounts, float, alarms, reports."),
    )
)]
struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of the routes [`api::routes`] registers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(api::routes)
        .split_for_parts();
    doc
}

/// The document a gateway serves: [`openapi`] with what its configuration
/// decides — the KYC tiers a `TierRequest` may name, and that every tier but
/// the lowest needs a `national_id`.
pub fn document(config: &GatewayConfig) -> anyhow::Result<serde_json::Value> {
    let mut doc = serde_json::to_value(openapi())?;
    let tier = doc
        .pointer_mut("/components/schemas/TierRequest")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| anyhow::anyhow!("the document has no TierRequest"))?;
    let lowest = config.tiers.lowest();
    if let Some(name) = tier
        .get_mut("properties")
        .and_then(|p| p.get_mut("tier"))
        .and_then(serde_json::Value::as_object_mut)
    {
        name.insert("enum".into(), serde_json::json!(config.tiers.order));
        name.insert(
            "description".into(),
            format!(
                "One of the bank's KYC tiers, lowest first; any but `{lowest}` needs `national_id`."
            )
            .into(),
        );
    }
    tier.insert(
        "anyOf".into(),
        serde_json::json!([
            { "properties": { "tier": { "const": lowest } } },
            { "required": ["national_id"], "properties": { "national_id": { "type": "string" } } },
        ]),
    );
    Ok(doc)
}

/// A running gateway.
pub struct Running {
    pub gateway: Arc<Gateway>,
    addr: std::net::SocketAddr,
    server: actix_web::dev::ServerHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops gracefully: requests in flight finish, the background tasks
    /// stop, the follower's lease is given up, SQLite's log is folded in.
    pub async fn stop(self) {
        self.server.stop(true).await;
        for task in &self.tasks {
            task.abort();
        }
        let gateway = self.gateway.clone();
        let _ = blocking(move || {
            gateway
                .store
                .write(|c| crate::store::lease_release(c, "follower", &gateway.config.replica))?;
            gateway.store.checkpoint()
        })
        .await;
    }
}

/// Counts and times every request by route pattern and status
/// (`cbdc_gateway_http_*`), and writes the access log (`cbdc::access`: the
/// route's pattern, never its ids or a token).
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let metrics = req.app_data::<api::State>().map(|s| s.metrics.clone());
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        metrics
            .requests
            .with_label_values(&[&route, &status.to_string()])
            .inc();
        metrics
            .request_seconds
            .with_label_values(&[&route])
            .observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        target: "cbdc::access",
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1e3,
        "request"
    );
    Ok(res)
}

/// Starts a gateway on `listener` on the current tokio runtime.
pub async fn start(
    config: GatewayConfig,
    database_url: &str,
    listener: TcpListener,
) -> anyhow::Result<Running> {
    config.tiers.check().map_err(anyhow::Error::msg)?;
    let url = database_url.to_string();
    let store = tokio::task::spawn_blocking(move || Store::open(&url)).await??;
    let (gateway, mut follow_ups) = Gateway::open(config, store).await?;
    let gateway = Arc::new(gateway);
    let document = web::Data::new(api::Document(serde_json::to_string_pretty(&document(
        &gateway.config,
    )?)?));
    let routes = web::Data::new(RouteTable::from_document(&openapi()));
    let state = web::Data::new(gateway.clone());
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .into_utoipa_app()
            .app_data(state.clone())
            .app_data(document.clone())
            .app_data(routes.clone())
            // The most a JSON body may be (`api::JsonBody`).
            .app_data(web::PayloadConfig::new(64 * 1024))
            .app_data(web::PathConfig::default().error_handler(|e, _| {
                ApiError::bad_request("bad_path", format!("a path segment is malformed: {e}"))
                    .into()
            }))
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::bad_request("bad_query", e.to_string()).into()),
            )
            .configure(api::routes)
            .map(|app| {
                app.service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .config(Config::new(["/openapi.json"]).validator_url("none")),
                )
                .wrap(cbdc_http::json_errors(crate::error::INTERNAL_MESSAGE))
                .wrap(from_fn(observe))
                .default_service(web::to(cbdc_http::no_route))
            })
            .into_app()
    })
    .workers(2)
    .client_request_timeout(Duration::from_secs(5))
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    let mut tasks = vec![tokio::spawn(async move {
        let _ = server.await;
    })];
    let g = gateway.clone();
    tasks.push(tokio::spawn(async move {
        while let Some(id) = follow_ups.recv().await {
            if let Ok(Some(op)) = g
                .store
                .read_async(move |c| crate::store::ops::op(c, id))
                .await
            {
                if let Err(e) = g.drive(op).await {
                    tracing::warn!(op = id, error = %e, "cannot drive a follow-up operation");
                }
            }
        }
    }));
    let g = gateway.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            match g.follow_once().await {
                // Another replica follows (and manages the float).
                Ok(None) => tokio::time::sleep(Duration::from_millis(200)).await,
                Ok(Some(0)) => {
                    // Only the lease's holder: two replicas must not both
                    // propose an issuance or redeem the same excess.
                    if let Err(e) = g.manage_float_once().await {
                        tracing::warn!(error = %e, "float management failed");
                    }
                    // Nothing new (the long poll waited) or paused by an alarm.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(Some(_)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "follower: cannot read the ledger's feed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }));
    let g = gateway.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(e) = g.resume_once(RESUME_IDLE).await {
                tracing::warn!(error = %e, "resumer failed");
            }
        }
    }));
    let g = gateway.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            if let Err(e) = g.chain.watch_once().await {
                tracing::warn!(error = %e, "chain watch");
            }
            tokio::time::sleep(WATCH_EVERY).await;
        }
    }));
    tracing::info!(bank = %gateway.config.bank_id, %addr, replica = %gateway.config.replica, "gateway serving");
    Ok(Running {
        gateway,
        addr,
        server: handle,
        tasks,
    })
}

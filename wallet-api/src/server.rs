//! Running a wallet API: its HTTP server and its background work — the
//! resumer of payment requests whose payment's answer was lost (every
//! replica runs it; the claim's guarded updates settle each once) and the
//! rate limiters' trimming.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpServer};
use cbdc_http::RouteTable;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::api;
use crate::config::WalletApiConfig;
use crate::error::ApiError;
use crate::service::WalletApi;
use crate::store::Store;

/// The most a JSON body may be.
pub const BODY_MAX: usize = 16 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cbdc wallet API",
        description = "The retail front door of cbdc, for every licensed wallet app: open a wallet \
            at a bank, balance, history, pay an address, a payment request or a `cbdc:` URI, \
            payment requests with QR codes, fund and defund, notifications. Every `/v1` call \
            names its app with `X-Cbdc-App-Key`; the routes of a wallet also need its token as \
            `Authorization: Bearer`. Amounts are integers of minor units. Errors are \
            `{\"code\", \"message\"}` with the status documented per route; a refusal by a limit \
            adds `limit` and `remaining`. A documented path asked with another method is \
            answered 405 with `Allow`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Schemes),
    tags(
        (name = "operations", description = "Liveness, readiness, metrics and this document."),
        (name = "wallets", description = "Banks, opening a wallet, balance, history, notifications, the token."),
        (name = "payments", description = "Pay, fund and defund; one payment."),
        (name = "requests", description = "Payment requests: `cbdc:` URIs and their QR codes."),
        (name = "operator", description = "The wallet API's operator: apps and tokens."),
    )
)]
struct ApiDoc;

struct Schemes;

impl utoipa::Modify for Schemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "app_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                crate::auth::APP_KEY_HEADER,
                "the app's key, `<app_id>.<secret>`",
            ))),
        );
        components.add_security_scheme(
            "wallet_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the wallet's token, `wt_…`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("an operator token of the wallet API"))
                    .build(),
            ),
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

/// A running wallet API.
pub struct Running {
    pub api: Arc<WalletApi>,
    addr: std::net::SocketAddr,
    server: actix_web::dev::ServerHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops gracefully: requests in flight finish (open notification
    /// streams are closed), the background tasks stop, SQLite's log is
    /// folded in.
    pub async fn stop(self) {
        self.server.stop(true).await;
        for task in &self.tasks {
            task.abort();
        }
        let store = self.api.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.checkpoint()).await;
    }
}

/// Counts and times every request by route pattern and status
/// (`cbdc_wallet_api_http_*`), and writes the access log (`cbdc::access`:
/// the route's pattern, never its ids, a token or an app key).
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let state = req.app_data::<api::State>().cloned();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state
            .metrics
            .requests
            .with_label_values(&[&route, &status.to_string()])
            .inc();
        state
            .metrics
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

/// Starts a wallet API on `listener` on the current tokio runtime.
pub async fn start(
    config: WalletApiConfig,
    database_url: &str,
    listener: TcpListener,
) -> anyhow::Result<Running> {
    config.check().map_err(anyhow::Error::msg)?;
    let url = database_url.to_string();
    let store = tokio::task::spawn_blocking(move || Store::open(&url)).await??;
    let api = Arc::new(WalletApi::new(config, store));
    let document = web::Data::new(api::Document(serde_json::to_string_pretty(&openapi())?));
    let routes = web::Data::new(RouteTable::from_document(&openapi()));
    let state: api::State = web::Data::new(api.clone());
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .into_utoipa_app()
            .app_data(state.clone())
            .app_data(document.clone())
            .app_data(routes.clone())
            .app_data(web::PayloadConfig::new(BODY_MAX))
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
    let a = api.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(e) = a.resume_once().await {
                tracing::warn!(error = %e, "payment request resumer failed");
            }
        }
    }));
    let a = api.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            a.limiters.shrink();
        }
    }));
    tracing::info!(%addr, replica = %api.config.replica, banks = api.config.banks.len(), "wallet API serving");
    Ok(Running {
        api,
        addr,
        server: handle,
        tasks,
    })
}

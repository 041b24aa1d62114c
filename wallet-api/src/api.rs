//! The HTTP API: thin handlers behind the [`App`], [`WalletAuth`] and
//! [`Operator`] extractors, each with its `#[utoipa::path]` so the served
//! document is what is served. The work is [`WalletApi`]'s.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web;
use actix_web::{delete, get, post, HttpRequest, HttpResponse};
use cbdc_http::JsonBody;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{App, Operator, WalletAuth};
use crate::error::ApiError;
use crate::service::WalletApi;
use crate::store::{self, now_ms};
use crate::wire::*;

pub type State = web::Data<Arc<WalletApi>>;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz)
        .service(readyz)
        .service(metrics_text)
        .service(openapi_document)
        .service(list_banks)
        .service(open_wallet)
        .service(get_wallet)
        .service(history)
        .service(pay)
        .service(get_payment)
        .service(fund)
        .service(defund)
        .service(create_request)
        .service(list_requests)
        .service(cancel_request)
        .service(get_request)
        .service(request_png)
        .service(request_svg)
        .service(crate::notify::events)
        .service(revoke_token)
        .service(register_app)
        .service(list_apps)
        .service(revoke_app)
        .service(revoke_wallet_tokens);
}

/// The generated document, served at `/openapi.json`.
pub struct Document(pub String);

/// What every `/v1` route of apps may answer besides its own statuses.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Documentation only: the answers are `ApiError`s.
pub enum AppRefusals {
    /// `unknown_app`: no `X-Cbdc-App-Key`, or an unknown, wrong or revoked one.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `rate_limited`: retry after `Retry-After` seconds.
    #[response(status = 429, headers(("Retry-After" = u32, description = "seconds")))]
    RateLimited(ErrorBody),
    /// `unavailable` (the database) or `bank_unavailable` (the wallet's
    /// bank did not answer): retry after `Retry-After` seconds, with the same
    /// `Idempotency-Key` if the request moves money.
    #[response(status = 503, headers(("Retry-After" = u32, description = "seconds")))]
    Unavailable(ErrorBody),
}

/// What every route of a wallet answers besides its own statuses.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum WalletRefusals {
    /// `unknown_app`, `token_required`, `bad_token`, `token_expired`,
    /// `token_revoked`.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `wrong_wallet`: a valid token of another wallet.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// `rate_limited`: retry after `Retry-After` seconds.
    #[response(status = 429, headers(("Retry-After" = u32, description = "seconds")))]
    RateLimited(ErrorBody),
    /// `unavailable` or `bank_unavailable`: retry after `Retry-After`
    /// seconds (with the same `Idempotency-Key`).
    #[response(status = 503, headers(("Retry-After" = u32, description = "seconds")))]
    Unavailable(ErrorBody),
}

/// What a route with a JSON body answers to a bad one.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum BodyErrors {
    /// `invalid_json`, `bad_body`, `bad_amount`, `bad_address`,
    /// `bad_reference`, `bad_expiry`, `bad_phone`, `bad_name`,
    /// `amount_required`, `uri_mismatch`, a URI's own codes (`bad_scheme`,
    /// `unknown_parameter`, …), `idempotency_key_required`,
    /// `bad_idempotency_key`.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `body_too_large`: the body exceeds 16 KiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `unsupported_media_type`: send `Content-Type: application/json`.
    #[response(status = 415)]
    Unsupported(ErrorBody),
}

/// Malformed path or query parameters.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum InputErrors {
    /// `bad_path`, `bad_query`, `bad_limit`.
    #[response(status = 400)]
    BadRequest(ErrorBody),
}

/// The `Idempotency-Key` header of the routes that move money.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Documentation only.
struct IdempotencyKey {
    /// 1 to 200 visible ASCII characters: the same key with the same route
    /// and body answers the first result, with another 409.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 200,
        pattern = "^[!-~]{1,200}$"
    )]
    key: String,
}

fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_required",
                "send an Idempotency-Key header (1 to 200 visible ASCII characters)",
            )
        })?;
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "bad_idempotency_key",
            "an Idempotency-Key is 1 to 200 visible ASCII characters",
        ));
    }
    Ok(key.to_string())
}

/// A page's `limit`: 1 to 100, 50 if not given.
fn page_limit(limit: Option<i64>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=100).contains(&n) => Ok(u32::try_from(n).unwrap_or(50)),
        Some(_) => Err(ApiError::bad_request("bad_limit", "limit is 1 to 100")),
    }
}

// ---- operations ----

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health, description = "alive")))]
#[get("/healthz")]
async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers (the banks are reported in `/metrics`
/// and per call; one bank down does not make the API unready).
#[utoipa::path(tag = "operations", responses((status = 200, body = Health, description = "ready"), (status = 503, body = ErrorBody, description = "`unavailable`: the database does not answer")))]
#[get("/readyz")]
async fn readyz(state: State) -> Result<web::Json<Health>, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.ping())
        .await
        .map_err(ApiError::internal)??;
    Ok(web::Json(Health {
        status: "ready".into(),
    }))
}

/// Prometheus metrics (text format).
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "text/plain; version=0.0.4", body = String, description = "the metrics")))]
#[get("/metrics")]
async fn metrics_text(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// This document.
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "application/json", body = Object, description = "the OpenAPI 3.1 document")))]
#[get("/openapi.json")]
async fn openapi_document(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

// ---- banks and wallets ----

/// The banks a wallet can be opened at.
#[utoipa::path(tag = "wallets", responses((status = 200, body = Vec<BankView>, description = "the banks"), AppRefusals),
    security(("app_key" = [])))]
#[get("/v1/banks")]
async fn list_banks(state: State, _app: App) -> web::Json<Vec<BankView>> {
    web::Json(state.banks())
}

/// Opens a wallet at a bank (at its lowest KYC tier) and returns its token,
/// once.
#[utoipa::path(tag = "wallets", request_body = OpenWalletRequest,
    responses((status = 201, body = OpenedWallet, description = "the wallet and its token, shown once"), (status = 404, body = ErrorBody, description = "`unknown_bank`"),
        BodyErrors, AppRefusals),
    security(("app_key" = [])))]
#[post("/v1/wallets")]
async fn open_wallet(
    state: State,
    app: App,
    body: JsonBody<OpenWalletRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let digits = body.phone.strip_prefix('+').unwrap_or("");
    if !(6..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            "bad_phone",
            "a phone number is + and 6 to 15 digits",
        ));
    }
    let opened = state.open_wallet(&app.id, &body.bank, &body.phone).await?;
    Ok(HttpResponse::Created().json(opened))
}

/// The wallet: balance, held, tier, limits and what is left of today's.
#[utoipa::path(tag = "wallets", params(("wallet_id" = String, Path, description = "`w_` and 32 hex characters")),
    responses((status = 200, body = WalletInfo, description = "the wallet"), WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[get("/v1/wallets/{wallet_id}")]
async fn get_wallet(state: State, auth: WalletAuth) -> Result<web::Json<WalletInfo>, ApiError> {
    Ok(web::Json(state.wallet_info(&auth.wallet).await?))
}

/// A page of the wallet's history.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Entries before this id: the `next` of the page before (none: the newest).
    #[param(nullable = false)]
    before: Option<i64>,
    /// 1 to 100; 50 if not given.
    #[param(nullable = false, minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// The wallet's history, newest first, with running balances.
#[utoipa::path(tag = "wallets", params(("wallet_id" = String, Path), HistoryQuery),
    responses((status = 200, body = EntriesPage, description = "a page of entries, newest first"), InputErrors, WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[get("/v1/wallets/{wallet_id}/history")]
async fn history(
    state: State,
    auth: WalletAuth,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<EntriesPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    Ok(web::Json(
        state.history(&auth.wallet, query.before, limit).await?,
    ))
}

/// Pays an address, a payment request (by its id) or a `cbdc:` URI from the
/// wallet.
#[utoipa::path(tag = "payments", params(("wallet_id" = String, Path), IdempotencyKey), request_body = PayBody,
    responses((status = 200, body = Payment, description = "final, pending (ask again by its id) or failed"),
        (status = 404, body = ErrorBody, description = "`unknown_request`"),
        (status = 409, body = ErrorBody, description = "`idempotency_conflict`, `notes_in_flight` (try again), `request_paid`, `request_expired`, `request_cancelled`"),
        (status = 422, body = ErrorBody, description = "a refusal: `per_payment_limit`, `per_day_limit`, `balance_limit`, `payee_balance_limit`, `insufficient_funds`, `wallet_frozen`, `payee_frozen`, `own_request`; with `limit` and `remaining` where a limit refused it"),
        BodyErrors, WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[post("/v1/wallets/{wallet_id}/payments")]
async fn pay(
    state: State,
    auth: WalletAuth,
    req: HttpRequest,
    body: JsonBody<PayBody>,
) -> Result<web::Json<Payment>, ApiError> {
    let key = idempotency_key(&req)?;
    Ok(web::Json(
        state.pay(&auth.wallet, &key, body.into_inner()).await?,
    ))
}

/// One payment (or fund, defund) of the wallet.
#[utoipa::path(tag = "payments", params(("wallet_id" = String, Path), ("payment_id" = i64, Path)),
    responses((status = 200, body = Payment, description = "the payment"), (status = 404, body = ErrorBody, description = "`unknown_payment`"), InputErrors, WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[get("/v1/wallets/{wallet_id}/payments/{payment_id}")]
async fn get_payment(
    state: State,
    auth: WalletAuth,
    path: web::Path<(String, i64)>,
) -> Result<web::Json<Payment>, ApiError> {
    let (_, payment_id) = path.into_inner();
    Ok(web::Json(state.payment(&auth.wallet, payment_id).await?))
}

/// Moves money from the wallet's linked deposit account into the wallet.
#[utoipa::path(tag = "payments", params(("wallet_id" = String, Path), IdempotencyKey), request_body = AmountBody,
    responses((status = 200, body = Payment, description = "final, pending (ask again by its id) or failed"),
        (status = 409, body = ErrorBody, description = "`idempotency_conflict`, `notes_in_flight` (try again)"),
        (status = 422, body = ErrorBody, description = "`balance_limit`, `insufficient_deposit`, `insufficient_float`, `no_linked_account`, `wallet_frozen`"),
        BodyErrors, WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[post("/v1/wallets/{wallet_id}/fund")]
async fn fund(
    state: State,
    auth: WalletAuth,
    req: HttpRequest,
    body: JsonBody<AmountBody>,
) -> Result<web::Json<Payment>, ApiError> {
    let key = idempotency_key(&req)?;
    Ok(web::Json(
        state
            .fund_or_defund(&auth.wallet, &key, "fund", body.amount)
            .await?,
    ))
}

/// Moves money from the wallet back to its linked deposit account.
#[utoipa::path(tag = "payments", params(("wallet_id" = String, Path), IdempotencyKey), request_body = AmountBody,
    responses((status = 200, body = Payment, description = "final, pending (ask again by its id) or failed"),
        (status = 409, body = ErrorBody, description = "`idempotency_conflict`, `notes_in_flight` (try again)"),
        (status = 422, body = ErrorBody, description = "`insufficient_funds`, `no_linked_account`, `wallet_frozen`"),
        BodyErrors, WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[post("/v1/wallets/{wallet_id}/defund")]
async fn defund(
    state: State,
    auth: WalletAuth,
    req: HttpRequest,
    body: JsonBody<AmountBody>,
) -> Result<web::Json<Payment>, ApiError> {
    let key = idempotency_key(&req)?;
    Ok(web::Json(
        state
            .fund_or_defund(&auth.wallet, &key, "defund", body.amount)
            .await?,
    ))
}

// ---- payment requests ----

/// Creates a payment request to this wallet: its `cbdc:` URI to show as a
/// QR code.
#[utoipa::path(tag = "requests", params(("wallet_id" = String, Path)), request_body = NewPaymentRequest,
    responses((status = 201, body = PaymentRequestView, description = "the payment request, with its `uri`"), BodyErrors, WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[post("/v1/wallets/{wallet_id}/requests")]
async fn create_request(
    state: State,
    auth: WalletAuth,
    body: JsonBody<NewPaymentRequest>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .create_request(&auth.wallet, body.into_inner())
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// Only requests in this state (as stored: `open` includes expired).
    #[param(nullable = false, pattern = "^(open|paying|paid|cancelled)$")]
    state: Option<String>,
    /// 1 to 100; 50 if not given.
    #[param(nullable = false, minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// The wallet's own payment requests, newest first.
#[utoipa::path(tag = "requests", params(("wallet_id" = String, Path), RequestsQuery),
    responses((status = 200, body = PaymentRequestsPage, description = "the requests, newest first"), InputErrors, WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[get("/v1/wallets/{wallet_id}/requests")]
async fn list_requests(
    state: State,
    auth: WalletAuth,
    query: web::Query<RequestsQuery>,
) -> Result<web::Json<PaymentRequestsPage>, ApiError> {
    let query = query.into_inner();
    let limit = i64::from(page_limit(query.limit)?);
    if let Some(s) = &query.state {
        if !["open", "paying", "paid", "cancelled"].contains(&s.as_str()) {
            return Err(ApiError::bad_request(
                "bad_query",
                "state is open, paying, paid or cancelled",
            ));
        }
    }
    let id = auth.wallet.id.clone();
    let rows = state
        .store
        .read_async(move |c| store::wallet_requests(c, &id, query.state.as_deref(), limit))
        .await?;
    Ok(web::Json(PaymentRequestsPage {
        requests: rows.iter().map(WalletApi::request_view).collect(),
    }))
}

/// Cancels an open payment request of this wallet.
#[utoipa::path(tag = "requests", params(("wallet_id" = String, Path), ("request_id" = String, Path)),
    responses((status = 200, body = PaymentRequestView, description = "the request, cancelled"),
        (status = 404, body = ErrorBody, description = "`unknown_request` (not this wallet's)"),
        (status = 409, body = ErrorBody, description = "`request_paid`, `request_cancelled` (not open)"),
        WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[post("/v1/wallets/{wallet_id}/requests/{request_id}/cancel")]
async fn cancel_request(
    state: State,
    auth: WalletAuth,
    path: web::Path<(String, String)>,
) -> Result<web::Json<PaymentRequestView>, ApiError> {
    let (_, request_id) = path.into_inner();
    let row = state.request(&request_id).await?;
    if row.wallet_id != auth.wallet.id {
        return Err(ApiError::not_found(
            "unknown_request",
            "no such payment request of this wallet",
        ));
    }
    let (id, wallet) = (row.id.clone(), auth.wallet.id.clone());
    let cancelled = state
        .store
        .write_async(move |c| store::cancel_request(c, &id, &wallet))
        .await?;
    let row = state.request(&request_id).await?;
    if !cancelled {
        return Err(match row.state.as_str() {
            store::request_state::CANCELLED => ApiError::conflict(
                "request_cancelled",
                "the payment request is cancelled already",
            ),
            _ => ApiError::conflict(
                "request_paid",
                "the payment request is paid (or being paid)",
            ),
        });
    }
    Ok(web::Json(WalletApi::request_view(&row)))
}

/// A payment request as a payer sees it.
#[utoipa::path(tag = "requests", params(("request_id" = String, Path, description = "`rq_` and 32 hex characters")),
    responses((status = 200, body = PaymentRequestView, description = "the payment request"), (status = 404, body = ErrorBody, description = "`unknown_request`"), AppRefusals),
    security(("app_key" = [])))]
#[get("/v1/requests/{request_id}")]
async fn get_request(
    state: State,
    _app: App,
    path: web::Path<String>,
) -> Result<web::Json<PaymentRequestView>, ApiError> {
    let row = state.request(&path.into_inner()).await?;
    Ok(web::Json(WalletApi::request_view(&row)))
}

fn qr_error(e: crate::qr::QrError) -> ApiError {
    ApiError::internal(format!("a payment URI does not fit a QR code: {e}"))
}

/// The payment request's URI as a QR code (PNG).
#[utoipa::path(tag = "requests", params(("request_id" = String, Path)),
    responses((status = 200, content_type = "image/png", body = String, description = "the QR code (PNG bytes)"), (status = 404, body = ErrorBody, description = "`unknown_request`"), AppRefusals),
    security(("app_key" = [])))]
#[get("/v1/requests/{request_id}/qr.png")]
async fn request_png(
    state: State,
    _app: App,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = state.request(&path.into_inner()).await?;
    let png = crate::qr::png(&WalletApi::uri_of(&row)).map_err(qr_error)?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "private, max-age=60"))
        .body(png))
}

/// The payment request's URI as a QR code (SVG).
#[utoipa::path(tag = "requests", params(("request_id" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String, description = "the QR code"), (status = 404, body = ErrorBody, description = "`unknown_request`"), AppRefusals),
    security(("app_key" = [])))]
#[get("/v1/requests/{request_id}/qr.svg")]
async fn request_svg(
    state: State,
    _app: App,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = state.request(&path.into_inner()).await?;
    let svg = crate::qr::svg(&WalletApi::uri_of(&row)).map_err(qr_error)?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "private, max-age=60"))
        .body(svg))
}

/// Revokes the token presented: it stops working at once.
#[utoipa::path(tag = "wallets", params(("wallet_id" = String, Path)),
    responses((status = 200, body = Revoked, description = "the token is revoked"), WalletRefusals),
    security(("app_key" = [], "wallet_token" = [])))]
#[delete("/v1/wallets/{wallet_id}/token")]
async fn revoke_token(state: State, auth: WalletAuth) -> Result<web::Json<Revoked>, ApiError> {
    let hash = auth.token_hash.clone();
    state
        .store
        .write_async(move |c| store::revoke_token(c, &hash, now_ms()))
        .await?;
    Ok(web::Json(Revoked { revoked: 1 }))
}

// ---- operator ----

/// What an operator route answers without a valid operator token.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum OperatorRefusals {
    /// `unauthorized`: no operator token, or an unknown one.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `unavailable`: the database cannot be reached.
    #[response(status = 503, headers(("Retry-After" = u32, description = "seconds")))]
    Unavailable(ErrorBody),
}

/// Registers a wallet app; its key is shown once.
#[utoipa::path(tag = "operator", request_body = NewApp,
    responses((status = 201, body = AppCreated, description = "the app and its key, shown once"), BodyErrors, OperatorRefusals),
    security(("operator" = [])))]
#[post("/v1/operator/apps")]
async fn register_app(
    state: State,
    _op: Operator,
    body: JsonBody<NewApp>,
) -> Result<HttpResponse, ApiError> {
    let created = state.register_app(body.into_inner().name).await?;
    Ok(HttpResponse::Created().json(created))
}

/// The registered apps.
#[utoipa::path(tag = "operator", responses((status = 200, body = Vec<AppView>, description = "the apps"), OperatorRefusals),
    security(("operator" = [])))]
#[get("/v1/operator/apps")]
async fn list_apps(state: State, _op: Operator) -> Result<web::Json<Vec<AppView>>, ApiError> {
    let rows = state.store.read_async(store::list_apps).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| AppView {
                app_id: r.id,
                name: r.name,
                created_ms: r.created_ms,
                revoked_ms: r.revoked_ms,
            })
            .collect(),
    ))
}

/// Revokes an app: its key and every wallet token issued through it stop
/// working.
#[utoipa::path(tag = "operator", params(("app_id" = String, Path)),
    responses((status = 200, body = Revoked, description = "the app is revoked"), (status = 404, body = ErrorBody, description = "`unknown_app`"), OperatorRefusals),
    security(("operator" = [])))]
#[post("/v1/operator/apps/{app_id}/revoke")]
async fn revoke_app(
    state: State,
    _op: Operator,
    path: web::Path<String>,
) -> Result<web::Json<Revoked>, ApiError> {
    let id = path.into_inner();
    let found = state
        .store
        .write_async(move |c| store::revoke_app(c, &id, now_ms()))
        .await?;
    if !found {
        return Err(ApiError::not_found("unknown_app", "no such app"));
    }
    Ok(web::Json(Revoked { revoked: 1 }))
}

/// Revokes every token of a wallet.
#[utoipa::path(tag = "operator", params(("wallet_id" = String, Path)),
    responses((status = 200, body = Revoked, description = "how many tokens were revoked"), (status = 404, body = ErrorBody, description = "`unknown_wallet`"), OperatorRefusals),
    security(("operator" = [])))]
#[post("/v1/operator/wallets/{wallet_id}/revoke-tokens")]
async fn revoke_wallet_tokens(
    state: State,
    _op: Operator,
    path: web::Path<String>,
) -> Result<web::Json<Revoked>, ApiError> {
    let id = path.into_inner();
    let revoked = state
        .store
        .write_async(move |c| {
            if store::wallet(c, &id)?.is_none() {
                return Ok(None);
            }
            store::revoke_wallet_tokens(c, &id, now_ms()).map(Some)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_wallet", "no such wallet"))?;
    Ok(web::Json(Revoked { revoked }))
}

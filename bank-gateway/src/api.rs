//! The gateway's HTTP API: thin handlers over [`Gateway`].
//!
//! Two audiences, each with its own bearer tokens and a role check on every
//! route ([`Staff<R>`]): the **internal API** (`/v1/wallets…`), which the
//! wallet API calls on behalf of customers, and the **operator API**
//! (`/v1/operator/…`) for the bank's staff. `/healthz`, `/readyz`,
//! `/metrics` and `/openapi.json` need no token.

use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{get, patch, post, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::{ready, Ready};
use ledger_core::Address;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::gateway::{Gateway, Outcome};
use crate::report;
use crate::store::blocking;
use crate::store::ops::{self, OpKind, OpRequest};
use crate::store::rows::{op_state, OpRow, WalletRow};
use crate::store::{bank, db_u64, state_get};
use crate::wire::*;

pub type State = web::Data<Arc<Gateway>>;

/// Who may call a route.
pub trait Role {
    const NAME: &'static str;
    fn tokens(gateway: &Gateway) -> &[String];
}

/// The wallet API.
pub struct Internal;
/// The bank's staff.
pub struct Operator;

impl Role for Internal {
    const NAME: &'static str = "internal";
    fn tokens(gateway: &Gateway) -> &[String] {
        &gateway.config.internal_tokens
    }
}
impl Role for Operator {
    const NAME: &'static str = "operator";
    fn tokens(gateway: &Gateway) -> &[String] {
        &gateway.config.operator_tokens
    }
}

/// A caller holding a bearer token of role `R`.
pub struct Staff<R: Role> {
    /// A short, non-secret name of the token (its hash's first 8 hex
    /// characters), for logs.
    pub who: String,
    role: PhantomData<R>,
}

fn token_matches(presented: &str, tokens: &[String]) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    // Every configured token is compared, in constant time each.
    tokens.iter().fold(false, |found, token| {
        let token = Sha256::digest(token.as_bytes());
        found | bool::from(presented.ct_eq(&token))
    })
}

impl<R: Role> FromRequest for Staff<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let gateway = req
                .app_data::<State>()
                .ok_or_else(|| ApiError::internal("no gateway state"))?;
            let header = req
                .headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let Some(token) = header.strip_prefix("Bearer ") else {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send `Authorization: Bearer <token>`",
                ));
            };
            if token_matches(token, R::tokens(gateway)) {
                let who = hex::encode(&Sha256::digest(token.as_bytes())[..4]);
                return Ok(Staff {
                    who,
                    role: PhantomData,
                });
            }
            let other: &[String] = if R::NAME == Internal::NAME {
                Operator::tokens(gateway)
            } else {
                Internal::tokens(gateway)
            };
            if token_matches(token, other) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("this route is for the {} API's credentials", R::NAME),
                ));
            }
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "unknown token",
            ))
        })())
    }
}

pub use cbdc_http::JsonBody;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz)
        .service(readyz)
        .service(metrics_text)
        .service(openapi_document)
        .service(open_wallet)
        .service(get_wallet)
        .service(patch_wallet)
        .service(wallet_history)
        .service(pay)
        .service(fund)
        .service(defund)
        .service(get_payment)
        .service(list_customers)
        .service(customer_by_address)
        .service(get_customer)
        .service(set_tier)
        .service(open_account)
        .service(cash_deposit)
        .service(get_account)
        .service(link_account)
        .service(freeze)
        .service(unfreeze)
        .service(statement)
        .service(float_position)
        .service(flagged)
        .service(held)
        .service(release_held)
        .service(chain_state)
        .service(acknowledge)
        .service(reconciliation)
        .service(position);
}

/// The generated document, served at `/openapi.json`.
pub struct Document(pub String);

/// What every `/v1` route may answer besides its own statuses.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Documentation only: the answers are `ApiError`s.
enum Refusals {
    /// `unauthorized`: no `Authorization: Bearer` token, or an unknown one.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `forbidden`: a token of the other API (internal or operator).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// `unavailable`: the database or the ledger cannot be reached now;
    /// retry after `Retry-After` seconds.
    #[response(status = 503, headers(("Retry-After" = u32, description = "seconds")))]
    Unavailable(ErrorBody),
}

/// What a route with path or query parameters answers to malformed ones.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum InputErrors {
    /// Malformed input: `bad_path` (an id that is not a 64-bit integer),
    /// `bad_query`, `bad_limit`, `bad_note_id`.
    #[response(status = 400)]
    BadRequest(ErrorBody),
}

/// What a route with a JSON body (and parameters) answers to a malformed one.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum BodyErrors {
    /// Malformed input: `invalid_json` (not JSON, or not of the schema),
    /// `bad_body` (cut short), `bad_path`, `bad_phone`, `bad_amount`,
    /// `bad_address`, `bad_reference`, `idempotency_key_required`,
    /// `bad_idempotency_key`, `unknown_tier`, `bad_national_id`,
    /// `national_id_required`.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `body_too_large`: the body exceeds 64 KiB.
    #[response(status = 413)]
    BodyTooLarge(ErrorBody),
    /// `unsupported_media_type`: the body is not `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
}

// ---- operations ----

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
#[get("/readyz")]
async fn readyz(state: State) -> Result<web::Json<Health>, ApiError> {
    let store = state.store.clone();
    blocking(move || store.ping()).await?;
    Ok(web::Json(Health {
        status: "ready".into(),
    }))
}

/// Prometheus metrics, text exposition format 0.0.4.
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
#[get("/metrics")]
async fn metrics_text(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// This document.
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "application/json", body = Object)))]
#[get("/openapi.json")]
async fn openapi_document(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

// ---- views ----

fn wallet_view(
    conn: &mut cbdc_db::AnyConnection,
    wallet: &WalletRow,
    tiers: &crate::config::Tiers,
) -> Result<WalletView, crate::store::StoreError> {
    let (tier, limits) = ops::wallet_limits(conn, wallet, tiers)?.ok_or_else(|| {
        crate::store::StoreError::Corrupt("the float is not a customer wallet".into())
    })?;
    let paid_today = ops::paid_today(conn, wallet.id, crate::store::now_ms())?;
    let held_total = bank::held_total(conn, wallet.id)?;
    Ok(WalletView {
        wallet_id: wallet.id,
        customer_id: wallet.customer_id.unwrap_or_default(),
        address: wallet.address.clone(),
        tier,
        balance: db_u64(wallet.balance, "balance")?,
        frozen: wallet.frozen,
        auto_topup: wallet.auto_topup,
        deposit_account_id: wallet.deposit_account_id,
        limits: Limits {
            balance_max: limits.balance_max,
            per_payment_max: limits.per_payment_max,
            per_day_max: limits.per_day_max,
        },
        paid_today,
        left_today: limits.per_day_max.saturating_sub(paid_today),
        held: held_total,
    })
}

fn payment_view(outcome: &Outcome, same_bank: Option<bool>) -> PaymentView {
    let op = &outcome.op;
    let state = match op.state.as_str() {
        op_state::FINAL => PaymentState::Final,
        op_state::FAILED => PaymentState::Failed,
        op_state::REFUSED => PaymentState::Refused,
        _ if outcome.refusal.is_some() => PaymentState::Refused,
        _ => PaymentState::Pending,
    };
    PaymentView {
        id: op.id,
        kind: op.kind.clone(),
        // A fund is the funded wallet's (the float paying it is the bank's
        // business).
        wallet_id: if op.kind == OpKind::Fund.as_str() {
            op.payee_wallet_id.unwrap_or(op.wallet_id)
        } else {
            op.wallet_id
        },
        amount: u64::try_from(op.amount).unwrap_or(0),
        to: op.to_address.clone(),
        state,
        tx_id: op.tx_id.as_ref().map(hex::encode),
        receipt: op
            .receipt
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        refusal: outcome.refusal.as_ref().map(|r| RefusalView {
            code: r.code.clone(),
            message: r.message.clone(),
            limit: r.limit.clone(),
            remaining: r.remaining,
        }),
        pending_reason: outcome.pending_reason.clone(),
        payee: same_bank.map(|same| if same { "same_bank" } else { "other_bank" }.to_string()),
        topped_up: outcome.topped_up,
        created_ms: op.created_ms,
    }
}

/// The answer to an operation: 200 with the payment (final, pending or
/// failed), 422 for a refusal, 409 for a reused idempotency key or
/// `notes_in_flight`.
fn answer(outcome: Outcome, same_bank: Option<bool>) -> Result<HttpResponse, ApiError> {
    if outcome.key_reused {
        return Err(ApiError::conflict(
            "idempotency_conflict",
            "this Idempotency-Key was used with another request body",
        ));
    }
    let view = payment_view(&outcome, same_bank);
    if let Some(refusal) = &outcome.refusal {
        // Trying again soon may succeed: a conflict, not a refusal.
        let mut error = if refusal.code == ops::NOTES_IN_FLIGHT {
            ApiError::conflict(&refusal.code, refusal.message.clone())
        } else {
            ApiError::unprocessable(&refusal.code, refusal.message.clone())
        };
        error.extra = Some(serde_json::json!({
            "limit": refusal.limit,
            "remaining": refusal.remaining,
            "payment_id": if outcome.op.id > 0 { Some(outcome.op.id) } else { None },
        }));
        return Err(error);
    }
    Ok(HttpResponse::Ok().json(view))
}

/// The `Idempotency-Key` header of the routes that move money, as the
/// document states it; [`idempotency_key`] reads it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Documentation only.
struct IdempotencyKey {
    /// 1 to 200 visible ASCII characters: the same key with the same body
    /// answers the first result, with another body 409.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 200,
        pattern = "^[!-~]{1,200}$"
    )]
    key: String,
}

fn idempotency_key(req: &HttpRequest, wallet_id: i64, kind: &str) -> Result<String, ApiError> {
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
    Ok(format!("{kind}:{wallet_id}:{key}"))
}

/// Amounts are 1 to 2^63 - 1 minor units (the schema's bounds).
fn check_amount(amount: u64) -> Result<(), ApiError> {
    if amount == 0 || i64::try_from(amount).is_err() {
        return Err(ApiError::bad_request(
            "bad_amount",
            "an amount is 1 to 2^63 - 1 minor units",
        ));
    }
    Ok(())
}

fn request_hash(parts: &[&str]) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(u64::try_from(part.len()).unwrap_or(0).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().to_vec()
}

async fn customer_wallet(state: &State, id: i64) -> Result<WalletRow, ApiError> {
    let wallet = state.store.read_async(move |c| ops::wallet(c, id)).await?;
    match wallet {
        Some(w) if !w.is_float() => Ok(w),
        _ => Err(ApiError::not_found(
            "unknown_wallet",
            format!("no wallet {id}"),
        )),
    }
}

// ---- internal API ----

/// Opens a wallet (onboarding the customer at the lowest tier if the phone is new).
#[utoipa::path(tag = "wallets", request_body = OpenWalletRequest,
    responses((status = 201, body = OpenedWallet), BodyErrors, Refusals),
    security(("bearer" = [])))]
#[post("/v1/wallets")]
async fn open_wallet(
    state: State,
    _staff: Staff<Internal>,
    body: JsonBody<OpenWalletRequest>,
) -> Result<HttpResponse, ApiError> {
    let phone = body.into_inner().phone;
    let digits = phone.strip_prefix('+').unwrap_or("");
    if !(6..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            "bad_phone",
            "a phone number is + and 6 to 15 digits",
        ));
    }
    let (customer, wallet) = state.open_wallet(phone).await?;
    Ok(HttpResponse::Created().json(OpenedWallet {
        wallet_id: wallet.id,
        customer_id: customer.id,
        address: wallet.address,
        tier: customer.tier,
    }))
}

/// A wallet: balance, tier, limits and what is left of today's.
#[utoipa::path(tag = "wallets", params(("id" = i64, Path)),
    responses((status = 200, body = WalletView), (status = 404, body = ErrorBody), InputErrors, Refusals), security(("bearer" = [])))]
#[get("/v1/wallets/{id}")]
async fn get_wallet(
    state: State,
    _staff: Staff<Internal>,
    id: web::Path<i64>,
) -> Result<web::Json<WalletView>, ApiError> {
    let wallet = customer_wallet(&state, id.into_inner()).await?;
    let tiers = state.config.tiers.clone();
    Ok(web::Json(
        state
            .store
            .read_async(move |c| wallet_view(c, &wallet, &tiers))
            .await?,
    ))
}

/// The customer's settings of a wallet (the reverse waterfall).
#[utoipa::path(tag = "wallets", params(("id" = i64, Path)), request_body = WalletSettings,
    responses((status = 200, body = WalletView), (status = 404, body = ErrorBody), BodyErrors, Refusals), security(("bearer" = [])))]
#[patch("/v1/wallets/{id}")]
async fn patch_wallet(
    state: State,
    _staff: Staff<Internal>,
    id: web::Path<i64>,
    body: JsonBody<WalletSettings>,
) -> Result<web::Json<WalletView>, ApiError> {
    let wallet = customer_wallet(&state, id.into_inner()).await?;
    let on = body.auto_topup;
    let wallet_id = wallet.id;
    let tiers = state.config.tiers.clone();
    Ok(web::Json(
        state
            .store
            .write_async(move |c| {
                bank::set_auto_topup(c, wallet_id, on)?;
                let wallet = ops::wallet(c, wallet_id)?
                    .ok_or_else(|| crate::store::StoreError::Corrupt("wallet vanished".into()))?;
                wallet_view(c, &wallet, &tiers)
            })
            .await?,
    ))
}

/// A page of a wallet's history, newest first.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Entries before this id: the `next` of the page before (none: the newest).
    #[param(nullable = false)]
    before: Option<i64>,
    /// Instead of `before`: the entries after this id, oldest first (to
    /// follow a wallet: its `next` is the last entry's id). The entries of
    /// one wallet are written under its row lock, so their ids grow in
    /// commit order.
    #[param(nullable = false)]
    after: Option<i64>,
    /// At most 500; 50 if not given.
    #[param(nullable = false, minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// A page of a list or a statement, oldest first.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Entries after this id: the `next` of the page before (none: the first).
    #[param(nullable = false)]
    after: Option<i64>,
    /// At most 500; 50 if not given.
    #[param(nullable = false, minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_request("bad_limit", "limit is 1 to 500")),
    }
}

fn entry_view(e: crate::store::rows::EntryRow) -> EntryView {
    EntryView {
        id: e.id,
        amount: e.amount,
        balance_after: e.balance_after,
        kind: e.kind,
        operation_id: e.op_id,
        note_id: e.note_id.map(hex::encode),
        created_ms: e.created_ms,
    }
}

/// A wallet's history, newest first (or oldest first after `after`), with
/// running balances.
#[utoipa::path(tag = "wallets", params(("id" = i64, Path), HistoryQuery),
    responses((status = 200, body = EntriesPage), (status = 404, body = ErrorBody), InputErrors, Refusals), security(("bearer" = [])))]
#[get("/v1/wallets/{id}/history")]
async fn wallet_history(
    state: State,
    _staff: Staff<Internal>,
    id: web::Path<i64>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<EntriesPage>, ApiError> {
    let wallet = customer_wallet(&state, id.into_inner()).await?;
    let limit = page_limit(query.limit)?;
    let (before, after) = (query.before, query.after);
    if before.is_some() && after.is_some() {
        return Err(ApiError::bad_request(
            "bad_query",
            "give `before` or `after`, not both",
        ));
    }
    let rows = state
        .store
        .read_async(move |c| match after {
            Some(after) => bank::wallet_statement(c, wallet.id, after, limit),
            None => bank::wallet_history(c, wallet.id, before.unwrap_or(i64::MAX), limit),
        })
        .await?;
    let next = if i64::try_from(rows.len()).unwrap_or(0) == limit {
        rows.last().map(|e| e.id)
    } else {
        None
    };
    Ok(web::Json(EntriesPage {
        entries: rows.into_iter().map(entry_view).collect(),
        next,
    }))
}

/// Pays an address from the wallet. `Idempotency-Key` is required: the same
/// key with the same body answers the first result, with another body 409.
#[utoipa::path(tag = "wallets", params(("id" = i64, Path), IdempotencyKey), request_body = PayRequest,
    responses((status = 200, body = PaymentView, description = "final, or pending while the ledger cannot be reached"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`idempotency_conflict` (the key was used with another body), or `notes_in_flight` (the wallet's money is in another payment still in flight: try again)"),
        (status = 422, body = ErrorBody, description = "refused: `per_payment_limit`, `per_day_limit`, `payee_balance_limit`, `insufficient_funds`, `wallet_frozen`, `payee_frozen` … (with `limit`, `remaining`, `payment_id`)"), BodyErrors, Refusals),
    security(("bearer" = [])))]
#[post("/v1/wallets/{id}/payments")]
async fn pay(
    state: State,
    _staff: Staff<Internal>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: JsonBody<PayRequest>,
) -> Result<HttpResponse, ApiError> {
    let wallet = customer_wallet(&state, id.into_inner()).await?;
    let body = body.into_inner();
    check_amount(body.amount)?;
    let key = idempotency_key(&req, wallet.id, "pay")?;
    let to: Address = body.to.parse().map_err(|e| {
        ApiError::bad_request("bad_address", format!("`to` is not an address: {e}"))
    })?;
    let to_text = to.to_string();
    let t = to_text.clone();
    let payee = state
        .store
        .read_async(move |c| ops::wallet_by_address(c, &t))
        .await?;
    if payee.as_ref().is_some_and(|p| p.id == wallet.id) {
        return Err(ApiError::unprocessable(
            "pay_to_self",
            "a wallet cannot pay itself",
        ));
    }
    let hash = request_hash(&["pay", &to_text, &body.amount.to_string()]);
    let request = OpRequest {
        kind: OpKind::Pay,
        wallet_id: wallet.id,
        amount: body.amount,
        to_address: Some(to_text),
        payee_wallet_id: payee.as_ref().map(|p| p.id),
        deposit_account_id: None,
        idempotency_key: Some(key.clone()),
        request_hash: Some(hash.clone()),
        parent_id: None,
    };
    // The reverse waterfall: a payment above the balance is first topped up
    // from the linked deposit, once per idempotency key (a replay reports
    // the first top-up), and only if the payment's own limits allow it.
    let topup_key = format!("topup:{key}");
    let (first, earlier) = {
        let (key, topup_key) = (key.clone(), topup_key.clone());
        state
            .store
            .read_async(move |c| Ok((ops::op_by_key(c, &key)?, ops::op_by_key(c, &topup_key)?)))
            .await?
    };
    let mut topped_up = earlier
        .filter(|t| t.state == op_state::FINAL)
        .map(|t| db_u64(t.amount, "amount"))
        .transpose()?;
    let balance = db_u64(wallet.balance, "balance")?;
    if let (None, None, true, false, Some(account)) = (
        &first,
        topped_up,
        wallet.auto_topup,
        wallet.frozen,
        wallet.deposit_account_id,
    ) {
        if body.amount > balance {
            let (payer, pay, tiers) = (wallet.clone(), request.clone(), state.config.tiers.clone());
            let refused = state
                .store
                .read_async(move |c| {
                    ops::pay_limits(c, &payer, &pay, &tiers, crate::store::now_ms())
                })
                .await?;
            if refused.is_none() {
                let shortfall = body.amount - balance;
                let topup = OpRequest {
                    kind: OpKind::Fund,
                    wallet_id: state.float.id,
                    amount: shortfall,
                    to_address: Some(wallet.address.clone()),
                    payee_wallet_id: Some(wallet.id),
                    deposit_account_id: Some(account),
                    idempotency_key: Some(topup_key),
                    request_hash: Some(hash),
                    parent_id: None,
                };
                let outcome = state.submit_op(topup).await?;
                if outcome.op.state != op_state::FINAL {
                    return answer(outcome, None);
                }
                topped_up = Some(shortfall);
            }
            // Else the payment below is refused by that limit, and nothing
            // was topped up.
        }
    }
    let mut outcome = state.submit_op(request).await?;
    outcome.topped_up = topped_up;
    answer(outcome, Some(payee.is_some()))
}

async fn fund_or_defund(
    state: State,
    req: HttpRequest,
    wallet_id: i64,
    amount: u64,
    kind: OpKind,
) -> Result<HttpResponse, ApiError> {
    let wallet = customer_wallet(&state, wallet_id).await?;
    check_amount(amount)?;
    let key = idempotency_key(&req, wallet.id, kind.as_str())?;
    let Some(account) = wallet.deposit_account_id else {
        return Err(ApiError::unprocessable(
            "no_linked_account",
            "the wallet has no linked deposit account; the bank's operator links one",
        ));
    };
    let float = state.float.clone();
    let hash = request_hash(&[kind.as_str(), &amount.to_string()]);
    let request = match kind {
        OpKind::Fund => OpRequest {
            kind,
            wallet_id: float.id,
            amount,
            to_address: Some(wallet.address.clone()),
            payee_wallet_id: Some(wallet.id),
            deposit_account_id: Some(account),
            idempotency_key: Some(key),
            request_hash: Some(hash),
            parent_id: None,
        },
        _ => OpRequest {
            kind,
            wallet_id: wallet.id,
            amount,
            to_address: Some(float.address.clone()),
            payee_wallet_id: Some(float.id),
            deposit_account_id: Some(account),
            idempotency_key: Some(key),
            request_hash: Some(hash),
            parent_id: None,
        },
    };
    answer(state.submit_op(request).await?, None)
}

/// Moves money from the wallet's linked deposit account into the wallet.
#[utoipa::path(tag = "wallets", params(("id" = i64, Path), IdempotencyKey), request_body = AmountRequest,
    responses((status = 200, body = PaymentView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`idempotency_conflict`, or `notes_in_flight` (try again)"), (status = 422, body = ErrorBody, description = "`balance_limit`, `insufficient_deposit`, `insufficient_float`, `no_linked_account`, `wallet_frozen`"), BodyErrors, Refusals),
    security(("bearer" = [])))]
#[post("/v1/wallets/{id}/fund")]
async fn fund(
    state: State,
    _staff: Staff<Internal>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: JsonBody<AmountRequest>,
) -> Result<HttpResponse, ApiError> {
    fund_or_defund(state, req, id.into_inner(), body.amount, OpKind::Fund).await
}

/// Moves money from the wallet back to its linked deposit account.
#[utoipa::path(tag = "wallets", params(("id" = i64, Path), IdempotencyKey), request_body = AmountRequest,
    responses((status = 200, body = PaymentView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`idempotency_conflict`, or `notes_in_flight` (try again)"), (status = 422, body = ErrorBody, description = "`insufficient_funds`, `no_linked_account`, `wallet_frozen`"), BodyErrors, Refusals),
    security(("bearer" = [])))]
#[post("/v1/wallets/{id}/defund")]
async fn defund(
    state: State,
    _staff: Staff<Internal>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: JsonBody<AmountRequest>,
) -> Result<HttpResponse, ApiError> {
    fund_or_defund(state, req, id.into_inner(), body.amount, OpKind::Defund).await
}

/// One payment (or fund, defund, sweep) of the wallet.
#[utoipa::path(tag = "wallets", params(("id" = i64, Path), ("payment_id" = i64, Path)),
    responses((status = 200, body = PaymentView), (status = 404, body = ErrorBody), InputErrors, Refusals), security(("bearer" = [])))]
#[get("/v1/wallets/{id}/payments/{payment_id}")]
async fn get_payment(
    state: State,
    _staff: Staff<Internal>,
    path: web::Path<(i64, i64)>,
) -> Result<web::Json<PaymentView>, ApiError> {
    let (wallet_id, payment_id) = path.into_inner();
    let wallet = customer_wallet(&state, wallet_id).await?;
    let op: Option<OpRow> = state
        .store
        .read_async(move |c| ops::op(c, payment_id))
        .await?;
    let op = op
        .filter(|o| o.wallet_id == wallet.id || o.payee_wallet_id == Some(wallet.id))
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_payment",
                format!("no payment {payment_id} of this wallet"),
            )
        })?;
    let outcome = state.outcome(op.id).await?;
    let same = if outcome.op.kind == OpKind::Pay.as_str() {
        Some(outcome.op.payee_wallet_id.is_some())
    } else {
        None
    };
    Ok(web::Json(payment_view(&outcome, same)))
}

// ---- operator API ----

fn customer_view(c: crate::store::rows::CustomerRow) -> CustomerView {
    CustomerView {
        customer_id: c.id,
        phone: c.phone,
        national_id: c.national_id,
        tier: c.tier,
        created_ms: c.created_ms,
    }
}

/// Customers, by id.
#[utoipa::path(tag = "operator", params(PageQuery),
    responses((status = 200, body = CustomersPage), InputErrors, Refusals), security(("bearer" = [])))]
#[get("/v1/operator/customers")]
async fn list_customers(
    state: State,
    _staff: Staff<Operator>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<CustomersPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let after = query.after.unwrap_or(0);
    let rows = state
        .store
        .read_async(move |c| bank::customers_page(c, after, limit))
        .await?;
    let next = if i64::try_from(rows.len()).unwrap_or(0) == limit {
        rows.last().map(|c| c.id)
    } else {
        None
    };
    Ok(web::Json(CustomersPage {
        customers: rows.into_iter().map(customer_view).collect(),
        next,
    }))
}

async fn customer_detail(state: &State, id: i64) -> Result<CustomerDetail, ApiError> {
    let tiers = state.config.tiers.clone();
    state
        .store
        .read_async(move |c| {
            let Some(customer) = ops::customer(c, id)? else {
                return Ok(None);
            };
            let wallets = bank::customer_wallets(c, id)?
                .iter()
                .map(|w| wallet_view(c, w, &tiers))
                .collect::<Result<Vec<_>, _>>()?;
            let accounts = bank::customer_accounts(c, id)?
                .into_iter()
                .map(|a| AccountView {
                    account_id: a.id,
                    customer_id: a.customer_id,
                    balance: u64::try_from(a.balance).unwrap_or(0),
                })
                .collect();
            Ok(Some(CustomerDetail {
                customer: customer_view(customer),
                wallets,
                accounts,
            }))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_customer", format!("no customer {id}")))
}

/// A customer with their wallets and deposit accounts.
#[utoipa::path(tag = "operator", params(("id" = i64, Path)),
    responses((status = 200, body = CustomerDetail), (status = 404, body = ErrorBody), InputErrors, Refusals), security(("bearer" = [])))]
#[get("/v1/operator/customers/{id}")]
async fn get_customer(
    state: State,
    _staff: Staff<Operator>,
    id: web::Path<i64>,
) -> Result<web::Json<CustomerDetail>, ApiError> {
    Ok(web::Json(customer_detail(&state, id.into_inner()).await?))
}

/// Which wallet to look up.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AddressQuery {
    /// A wallet's address (`cbdc1…`).
    #[param(max_length = 200)]
    address: String,
}

/// The customer who holds the wallet of an address, with their wallets and
/// deposit accounts (what a branch looks up when a customer shows their
/// wallet app).
#[utoipa::path(tag = "operator", params(AddressQuery),
    responses((status = 200, body = CustomerDetail), (status = 404, body = ErrorBody, description = "`unknown_wallet`: no customer wallet of this bank has the address"), InputErrors, Refusals), security(("bearer" = [])))]
#[get("/v1/operator/customers/by-address")]
async fn customer_by_address(
    state: State,
    _staff: Staff<Operator>,
    query: web::Query<AddressQuery>,
) -> Result<web::Json<CustomerDetail>, ApiError> {
    let address = query.into_inner().address;
    let wallet = state
        .store
        .read_async(move |c| ops::wallet_by_address(c, &address))
        .await?;
    match wallet.and_then(|w| w.customer_id) {
        Some(customer) => Ok(web::Json(customer_detail(&state, customer).await?)),
        None => Err(ApiError::not_found(
            "unknown_wallet",
            "no customer wallet of this bank has this address",
        )),
    }
}

/// Sets a customer's KYC tier (an upgrade above the lowest needs the national id).
#[utoipa::path(tag = "operator", params(("id" = i64, Path)), request_body = TierRequest,
    responses((status = 200, body = CustomerDetail), (status = 404, body = ErrorBody), BodyErrors, Refusals), security(("bearer" = [])))]
#[post("/v1/operator/customers/{id}/tier")]
async fn set_tier(
    state: State,
    staff: Staff<Operator>,
    id: web::Path<i64>,
    body: JsonBody<TierRequest>,
) -> Result<web::Json<CustomerDetail>, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    if state.config.tiers.get(&body.tier).is_none() {
        return Err(ApiError::bad_request(
            "unknown_tier",
            format!("tiers are {}", state.config.tiers.order.join(", ")),
        ));
    }
    // The schema's rule: 1 to 64 characters, at least one not ASCII white
    // space; the document (`server::document`) requires it above the lowest tier.
    let national_id_ok = |n: &str| {
        (1..=64).contains(&n.chars().count())
            && !n
                .chars()
                .all(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'))
    };
    if body
        .national_id
        .as_deref()
        .is_some_and(|n| !national_id_ok(n))
    {
        return Err(ApiError::bad_request(
            "bad_national_id",
            "a national id is 1 to 64 characters, not all white space",
        ));
    }
    if body.tier != state.config.tiers.lowest() && body.national_id.is_none() {
        return Err(ApiError::bad_request(
            "national_id_required",
            "a tier above the lowest needs the customer's national id (1 to 64 characters)",
        ));
    }
    let tier = body.tier.clone();
    let found = state
        .store
        .write_async(move |c| bank::set_tier(c, id, &body.tier, body.national_id.as_deref()))
        .await?;
    if !found {
        return Err(ApiError::not_found(
            "unknown_customer",
            format!("no customer {id}"),
        ));
    }
    tracing::info!(target: "cbdc::governance", customer = id, tier = %tier, by = %staff.who, "KYC tier set");
    Ok(web::Json(customer_detail(&state, id).await?))
}

/// Opens a deposit account for the customer.
#[utoipa::path(tag = "operator", params(("id" = i64, Path)),
    responses((status = 201, body = AccountView), (status = 404, body = ErrorBody), InputErrors, Refusals), security(("bearer" = [])))]
#[post("/v1/operator/customers/{id}/accounts")]
async fn open_account(
    state: State,
    _staff: Staff<Operator>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let account = state
        .store
        .write_async(move |c| match ops::customer(c, id)? {
            Some(_) => Ok(Some(bank::open_account(c, id)?)),
            None => Ok(None),
        })
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_customer", format!("no customer {id}")))?;
    Ok(HttpResponse::Created().json(AccountView {
        account_id: account.id,
        customer_id: account.customer_id,
        balance: 0,
    }))
}

/// Books a cash deposit into an account (idempotent by `reference`).
#[utoipa::path(tag = "operator", params(("id" = i64, Path)), request_body = CashRequest,
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody), BodyErrors, Refusals), security(("bearer" = [])))]
#[post("/v1/operator/accounts/{id}/deposits")]
async fn cash_deposit(
    state: State,
    _staff: Staff<Operator>,
    id: web::Path<i64>,
    body: JsonBody<CashRequest>,
) -> Result<web::Json<AccountView>, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    check_amount(body.amount)?;
    // Characters, as the schema's maxLength counts them (not bytes).
    if !(1..=200).contains(&body.reference.chars().count()) {
        return Err(ApiError::bad_request(
            "bad_reference",
            "a reference is 1 to 200 characters",
        ));
    }
    let account = state
        .store
        .write_async(move |c| bank::cash_deposit(c, id, body.amount, &body.reference))
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_account", format!("no account {id}")))?;
    Ok(web::Json(AccountView {
        account_id: account.id,
        customer_id: account.customer_id,
        balance: u64::try_from(account.balance).unwrap_or(0),
    }))
}

/// A deposit account and its entries.
#[utoipa::path(tag = "operator", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = AccountDetail), (status = 404, body = ErrorBody), InputErrors, Refusals), security(("bearer" = [])))]
#[get("/v1/operator/accounts/{id}")]
async fn get_account(
    state: State,
    _staff: Staff<Operator>,
    id: web::Path<i64>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<AccountDetail>, ApiError> {
    let id = id.into_inner();
    let limit = page_limit(query.limit)?;
    let after = query.after.unwrap_or(0);
    let (account, entries) = state
        .store
        .read_async(move |c| {
            Ok((
                bank::account(c, id)?,
                bank::account_entries(c, id, after, limit)?,
            ))
        })
        .await?;
    let account = account
        .ok_or_else(|| ApiError::not_found("unknown_account", format!("no account {id}")))?;
    Ok(web::Json(AccountDetail {
        account_id: account.id,
        customer_id: account.customer_id,
        balance: u64::try_from(account.balance).unwrap_or(0),
        entries: entries
            .into_iter()
            .map(|e| DepositEntryView {
                id: e.id,
                amount: e.amount,
                balance_after: e.balance_after,
                reference: e.reference,
                created_ms: e.created_ms,
            })
            .collect(),
    }))
}

/// Links a wallet to one of its customer's deposit accounts (or unlinks it).
#[utoipa::path(tag = "operator", params(("id" = i64, Path)), request_body = LinkRequest,
    responses((status = 200, body = WalletView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), BodyErrors, Refusals), security(("bearer" = [])))]
#[post("/v1/operator/wallets/{id}/link")]
async fn link_account(
    state: State,
    _staff: Staff<Operator>,
    id: web::Path<i64>,
    body: JsonBody<LinkRequest>,
) -> Result<web::Json<WalletView>, ApiError> {
    let wallet = customer_wallet(&state, id.into_inner()).await?;
    let account_id = body.account_id;
    if let Some(account_id) = account_id {
        let account = state
            .store
            .read_async(move |c| bank::account(c, account_id))
            .await?;
        match account {
            Some(a) if Some(a.customer_id) == wallet.customer_id => {}
            Some(_) => {
                return Err(ApiError::unprocessable(
                    "not_customers_account",
                    "the account belongs to another customer",
                ))
            }
            None => {
                return Err(ApiError::not_found(
                    "unknown_account",
                    format!("no account {account_id}"),
                ))
            }
        }
    }
    let wallet_id = wallet.id;
    let tiers = state.config.tiers.clone();
    Ok(web::Json(
        state
            .store
            .write_async(move |c| {
                bank::link_account(c, wallet_id, account_id)?;
                let wallet = ops::wallet(c, wallet_id)?
                    .ok_or_else(|| crate::store::StoreError::Corrupt("wallet vanished".into()))?;
                wallet_view(c, &wallet, &tiers)
            })
            .await?,
    ))
}

async fn set_frozen(
    state: State,
    who: &str,
    id: i64,
    frozen: bool,
) -> Result<web::Json<WalletView>, ApiError> {
    let wallet = customer_wallet(&state, id).await?;
    let tiers = state.config.tiers.clone();
    let view = state
        .store
        .write_async(move |c| {
            bank::set_frozen(c, wallet.id, frozen)?;
            let wallet = ops::wallet(c, wallet.id)?
                .ok_or_else(|| crate::store::StoreError::Corrupt("wallet vanished".into()))?;
            wallet_view(c, &wallet, &tiers)
        })
        .await?;
    tracing::info!(target: "cbdc::governance", wallet = id, frozen, by = who, "wallet frozen state set");
    Ok(web::Json(view))
}

/// Freezes a wallet: it cannot pay, fund or defund; payments into it from
/// this bank are refused, from other banks held.
#[utoipa::path(tag = "operator", params(("id" = i64, Path)),
    responses((status = 200, body = WalletView), (status = 404, body = ErrorBody), InputErrors, Refusals), security(("bearer" = [])))]
#[post("/v1/operator/wallets/{id}/freeze")]
async fn freeze(
    state: State,
    staff: Staff<Operator>,
    id: web::Path<i64>,
) -> Result<web::Json<WalletView>, ApiError> {
    set_frozen(state, &staff.who, id.into_inner(), true).await
}

/// Unfreezes a wallet (its held notes stay held until released).
#[utoipa::path(tag = "operator", params(("id" = i64, Path)),
    responses((status = 200, body = WalletView), (status = 404, body = ErrorBody), InputErrors, Refusals), security(("bearer" = [])))]
#[post("/v1/operator/wallets/{id}/unfreeze")]
async fn unfreeze(
    state: State,
    staff: Staff<Operator>,
    id: web::Path<i64>,
) -> Result<web::Json<WalletView>, ApiError> {
    set_frozen(state, &staff.who, id.into_inner(), false).await
}

/// A wallet's statement: every entry, oldest first, with running balances.
#[utoipa::path(tag = "operator", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = EntriesPage), (status = 404, body = ErrorBody), InputErrors, Refusals), security(("bearer" = [])))]
#[get("/v1/operator/wallets/{id}/statement")]
async fn statement(
    state: State,
    _staff: Staff<Operator>,
    id: web::Path<i64>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<EntriesPage>, ApiError> {
    let id = id.into_inner();
    let wallet = state
        .store
        .read_async(move |c| ops::wallet(c, id))
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_wallet", format!("no wallet {id}")))?;
    let limit = page_limit(query.limit)?;
    let after = query.after.unwrap_or(0);
    let rows = state
        .store
        .read_async(move |c| bank::wallet_statement(c, wallet.id, after, limit))
        .await?;
    let next = if i64::try_from(rows.len()).unwrap_or(0) == limit {
        rows.last().map(|e| e.id)
    } else {
        None
    };
    Ok(web::Json(EntriesPage {
        entries: rows.into_iter().map(entry_view).collect(),
        next,
    }))
}

/// The float against its thresholds.
#[utoipa::path(tag = "operator", responses((status = 200, body = FloatView), Refusals), security(("bearer" = [])))]
#[get("/v1/operator/float")]
async fn float_position(
    state: State,
    _staff: Staff<Operator>,
) -> Result<web::Json<FloatView>, ApiError> {
    let (float, proposal) = state
        .store
        .read_async(move |c| Ok((ops::float_wallet(c)?, state_get(c, "issuance_proposal")?)))
        .await?;
    let policy = state.config.float;
    Ok(web::Json(FloatView {
        balance: u64::try_from(float.balance).unwrap_or(0),
        low: policy.low,
        high: policy.high,
        target: policy.target,
        address: float.address,
        open_proposal: proposal.filter(|p| !p.is_empty()),
    }))
}

/// Incoming notes that were not credited: the memo did not open, or opened
/// to a wrong amount.
#[utoipa::path(tag = "operator", responses((status = 200, body = Vec<FlaggedView>), Refusals), security(("bearer" = [])))]
#[get("/v1/operator/flagged")]
async fn flagged(
    state: State,
    _staff: Staff<Operator>,
) -> Result<web::Json<Vec<FlaggedView>>, ApiError> {
    let rows = state
        .store
        .read_async(move |c| bank::flagged(c, 500))
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|f| FlaggedView {
                note_id: hex::encode(f.note_id),
                wallet_id: f.wallet_id,
                tx_id: hex::encode(f.tx_id),
                reason: f.reason,
                flagged_ms: f.flagged_ms,
            })
            .collect(),
    ))
}

/// Incoming payments held for an operator (a frozen wallet, a holding
/// limit with no linked account).
#[utoipa::path(tag = "operator", responses((status = 200, body = Vec<HeldView>), Refusals), security(("bearer" = [])))]
#[get("/v1/operator/held")]
async fn held(state: State, _staff: Staff<Operator>) -> Result<web::Json<Vec<HeldView>>, ApiError> {
    let rows = state.store.read_async(move |c| bank::held(c, 500)).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|n| HeldView {
                note_id: hex::encode(n.id),
                wallet_id: n.wallet_id,
                value: u64::try_from(n.value).unwrap_or(0),
                reason: n.reason,
                tx_id: hex::encode(n.created_tx),
                credited_ms: n.credited_ms,
            })
            .collect(),
    ))
}

/// Releases a held note to its wallet (refused while it would still break
/// the rule that held it).
#[utoipa::path(tag = "operator", params(("note_id" = String, Path, description = "64 lowercase hex characters", min_length = 64, max_length = 64, pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, body = WalletView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), InputErrors, Refusals),
    security(("bearer" = [])))]
#[post("/v1/operator/held/{note_id}/release")]
async fn release_held(
    state: State,
    staff: Staff<Operator>,
    note_id: web::Path<String>,
) -> Result<web::Json<WalletView>, ApiError> {
    let text = note_id.into_inner();
    let id = hex::decode(&text)
        .ok()
        .filter(|b| b.len() == 32 && text.bytes().all(|c| !c.is_ascii_uppercase()))
        .ok_or_else(|| {
            ApiError::bad_request("bad_note_id", "a note id is 64 lowercase hex characters")
        })?;
    let tiers = state.config.tiers.clone();
    let result = state
        .store
        .write_async(move |c| ops::release_held(c, &id, &tiers))
        .await?;
    let (wallet_id, sweep) = match result {
        Ok(released) => released,
        Err(refusal) if refusal.code == "unknown_note" => {
            return Err(ApiError::not_found("unknown_note", refusal.message))
        }
        Err(refusal) => return Err(ApiError::unprocessable(&refusal.code, refusal.message)),
    };
    tracing::info!(target: "cbdc::governance", note = %text, by = %staff.who, "held note released");
    if let Some(sweep) = sweep {
        let op = state.store.read_async(move |c| ops::op(c, sweep)).await?;
        if let Some(op) = op {
            state.drive(op).await?;
        }
    }
    let wallet = customer_wallet(&state, wallet_id).await?;
    let tiers = state.config.tiers.clone();
    Ok(web::Json(
        state
            .store
            .read_async(move |c| wallet_view(c, &wallet, &tiers))
            .await?,
    ))
}

/// The ledger's history as the gateway checked it, and the active alarm.
#[utoipa::path(tag = "operator", responses((status = 200, body = ChainView), Refusals), security(("bearer" = [])))]
#[get("/v1/operator/chain")]
async fn chain_state(
    state: State,
    _staff: Staff<Operator>,
) -> Result<web::Json<ChainView>, ApiError> {
    let (tip, alarm) = state
        .store
        .read_async(move |c| Ok((bank::tip(c)?, bank::active_alarm(c)?)))
        .await?;
    Ok(web::Json(ChainView {
        tip_height: tip.map(|t| t.height),
        alarm: alarm.map(|a| AlarmView {
            kind: a.kind,
            height: a.height,
            detail: a.detail,
            raised_ms: a.raised_ms,
        }),
    }))
}

/// Acknowledges the alarm: the history is checked afresh from the ledger's
/// latest block, and payments held by the alarm are resumed.
#[utoipa::path(tag = "operator", responses((status = 200, body = Acknowledged), Refusals), security(("bearer" = [])))]
#[post("/v1/operator/chain/acknowledge")]
async fn acknowledge(
    state: State,
    staff: Staff<Operator>,
) -> Result<web::Json<Acknowledged>, ApiError> {
    let count = state.chain.acknowledge(&staff.who).await?;
    Ok(web::Json(Acknowledged {
        acknowledged: count,
    }))
}

/// The reconciliation report: wallets plus float against the notes the
/// bank holds (by the openings it keeps) and the ledger's view of them.
#[utoipa::path(tag = "operator", responses((status = 200, body = report::Reconciliation), Refusals), security(("bearer" = [])))]
#[get("/v1/operator/reconciliation")]
async fn reconciliation(
    state: State,
    _staff: Staff<Operator>,
) -> Result<web::Json<report::Reconciliation>, ApiError> {
    Ok(web::Json(report::reconcile(&state).await?))
}

/// The bank's position proof: total holdings `V`, the sum `R` of their
/// blindings and the notes, for anyone to check `Σ C = V·B + R·B̃` on the
/// ledger.
#[utoipa::path(tag = "operator", responses((status = 200, body = report::Position), Refusals), security(("bearer" = [])))]
#[get("/v1/operator/position")]
async fn position(
    state: State,
    _staff: Staff<Operator>,
) -> Result<web::Json<report::Position>, ApiError> {
    Ok(web::Json(report::position(&state).await?))
}

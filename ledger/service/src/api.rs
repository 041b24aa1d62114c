//! The HTTP API of the ledger (actix-web, JSON).
//!
//! Handlers are thin: the [`Signed`] extractor reads the body (bounded in size
//! and time), checks the request signature, the key's registration and role and
//! records the nonce; the handler parses, calls the [`Ledger`] on the blocking
//! pool and answers one of the [`crate::wire`] types. Every handler carries its
//! `#[utoipa::path]` and is registered through `utoipa-actix-web`, so the
//! OpenAPI document is generated from the same registrations the server serves.
//! Every error goes through [`ApiError`]; responses that actix produces itself
//! are rewritten to the same JSON shape by [`json_errors`], and a documented
//! path asked with another method gets `405` with `Allow` ([`no_route`]).

use crate::auth::{self, AuthError, RequestAuth};
use crate::error::ApiError;
use crate::gate::GateError;
use crate::ledger::{now_ms, Ledger, LedgerError};
use crate::store::{
    Admission, AuditRun, AuditState, AuditTrigger, EventKind, NonceClaim, Participant,
    ParticipantStatus, Proposal, ProposalId, ProposalState, Role,
};
use crate::wire::{
    AuditRunView, AuditStateView, AuditTriggerView, AuditedSupply, BlockView, Committed, ErrorBody,
    EventKindView, EventView, EventsPage, Health, LedgerInfo, NoteView, ParticipantList,
    ParticipantRole, ParticipantView, ProposalStateView, ProposalView, ProposeRequest, SupplyView,
    TransactionView, UnauditedSupply,
};
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{ErrorHandlers, Next};
use actix_web::{get, post, web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use ledger_core::governance::Governance;
use ledger_core::{NoteId, Transaction, TxId};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::{IntoParams, IntoResponses};
use utoipa_actix_web::service_config::ServiceConfig;

pub const BODY_LIMIT_BYTES: usize = 64 * 1024;
/// Longest a request body may take to arrive; then `408` and the connection is closed.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a long-poll for events waits.
pub const EVENTS_WAIT_MAX_MS: u64 = 30_000;
pub const EVENTS_LIMIT_MAX: u32 = 1_000;

pub type State = web::Data<Arc<Ledger>>;

/// Registers every route, each with its place in the OpenAPI document.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz)
        .service(readyz)
        .service(metrics_text)
        .service(openapi_document)
        .service(docs)
        .service(ledger_info)
        .service(post_governance)
        .service(list_participants)
        .service(propose)
        .service(get_proposal)
        .service(approve)
        .service(submit)
        .service(get_transaction)
        .service(get_note)
        .service(events)
        .service(supply)
        .service(start_audit)
        .service(get_audit)
        .service(latest_block)
        .service(get_block);
}

/// The generated document, served at `/openapi.json`.
pub struct Document(pub String);

/// Rewrites error responses that did not come from [`ApiError`] (actix's own
/// 404, 413 …) into the JSON error shape.
pub fn json_errors<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    cbdc_http::json_errors(crate::error::INTERNAL_MESSAGE)
}

/// The default service: `405` with `Allow` for a documented path asked with
/// another method (the [`crate::openapi::RouteTable`] in the app's data), `404 no_route`
/// otherwise.
pub use cbdc_http::no_route;

/// The id of the participant a signed request came from, for the access log.
#[derive(Clone)]
struct CallerId(String);

/// Counts and times every request by its route pattern and writes the access
/// log line: method, route template, status, latency, caller — never bodies,
/// keys, ids from the path or amounts. A `408` closes the connection.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let metrics = req.app_data::<State>().map(|s| s.metrics.clone());
    let mut res = next.call(req).await?;
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        metrics.observe_request(&route, &method, status, elapsed);
    }
    if res.status() == StatusCode::REQUEST_TIMEOUT {
        res.response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    let caller = res
        .request()
        .extensions()
        .get::<CallerId>()
        .map(|c| c.0.clone());
    tracing::info!(
        target: "cbdc::access",
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1e3,
        caller = caller.as_deref().unwrap_or("-"),
        peer = %peer,
        "request"
    );
    Ok(res)
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> ApiError {
        let message = e.to_string();
        match e {
            LedgerError::Rejected(r) => r.into(),
            LedgerError::IssueNotSubmittable => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "issue_not_submittable",
                message,
            ),
            LedgerError::RedeemByNonBank { .. } => ApiError::forbidden("redeem_not_bank", message),
            LedgerError::Busy => ApiError::busy(message),
            LedgerError::NotFound => ApiError::not_found("not_found", message),
            LedgerError::BadApproval => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_approval_signature",
                message,
            ),
            LedgerError::NotActive(..) => ApiError::forbidden("not_active", message),
            LedgerError::WriterGone | LedgerError::CommitFailed(_) => {
                ApiError::unavailable(message)
            }
            LedgerError::Genesis(_) => ApiError::internal(message),
            LedgerError::AuditRunning(_) => ApiError::conflict("audit_running", message),
            LedgerError::Store(e) => e.into(),
        }
    }
}

/// Reads the body up to [`BODY_LIMIT_BYTES`], within [`BODY_TIMEOUT`].
///
/// A body cut off (too large, too slow) leaves its payload unread. actix
/// drains an unread *chunked* payload to keep the connection, which a client
/// that never ends its body would hold open for ever; a payload still held
/// when the answer is written makes actix close the connection instead. So the
/// payload is kept a moment past the answer.
async fn read_body(mut payload: Payload) -> Result<web::Bytes, ApiError> {
    let deadline = tokio::time::Instant::now() + BODY_TIMEOUT;
    let mut body = web::BytesMut::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(None) => return Ok(body.freeze()),
            Ok(Some(chunk)) => {
                chunk.map_err(|e| ApiError::bad_request("bad_body", e.to_string()))?
            }
            Err(_) => {
                hold_until_closed(payload);
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    format!(
                        "the request body did not arrive within {} s",
                        BODY_TIMEOUT.as_secs()
                    ),
                ));
            }
        };
        if body.len() + chunk.len() > BODY_LIMIT_BYTES {
            hold_until_closed(payload);
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request bodies are limited to {BODY_LIMIT_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
}

/// Keeps an unread payload alive while the answer is written, so the
/// connection is closed rather than drained (see [`read_body`]).
fn hold_until_closed(payload: Payload) {
    actix_web::rt::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(payload);
    });
}

/// The authenticated caller.
pub struct Caller {
    pub participant: Participant,
    pub auth: RequestAuth,
}

/// Who may call a route.
pub trait Audience {
    const ROLES: &'static [Role];
}

/// Any admitted, active participant.
pub struct Anyone;
/// Central bank officers.
pub struct Officers;
/// Commercial banks.
pub struct Banks;

impl Audience for Anyone {
    const ROLES: &'static [Role] = &[Role::Bank, Role::Officer];
}
impl Audience for Officers {
    const ROLES: &'static [Role] = &[Role::Officer];
}
impl Audience for Banks {
    const ROLES: &'static [Role] = &[Role::Bank];
}

/// How the body is encoded, from `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    /// No body.
    Empty,
    Json,
    Binary,
}

/// A signed request from a participant of audience `A`, with its body.
///
/// Extracting it reads the body (`413` past the limit, `408` when it does not
/// arrive in time), checks the signature headers (`401`), the key's
/// registration, status and role (`403`), records the nonce (a replay is
/// `401`), and the content type (`415` unless JSON, or binary where the route
/// takes it, or no body at all).
pub struct Signed<A> {
    pub caller: Caller,
    body: web::Bytes,
    media: Media,
    _audience: PhantomData<A>,
}

impl<A> Signed<A> {
    /// The body as JSON of type `T`.
    fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        match self.media {
            Media::Json => parse_json(&self.body),
            Media::Empty => Err(ApiError::bad_request(
                "empty_body",
                "this route takes a JSON body",
            )),
            Media::Binary => Err(unsupported_media("application/json")),
        }
    }

    /// Routes that take no body refuse one, rather than silently ignoring it.
    fn no_body(&self) -> Result<(), ApiError> {
        let empty = self.body.iter().all(u8::is_ascii_whitespace)
            || (self.media == Media::Json
                && (&self.body[..] == b"null" || &self.body[..] == b"{}"));
        if empty {
            Ok(())
        } else {
            Err(ApiError::bad_request(
                "unexpected_body",
                "this route takes no request body",
            ))
        }
    }

    fn id(&self) -> &str {
        &self.caller.participant.id
    }
}

fn unsupported_media(accepted: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("this route takes {accepted}"),
    )
}

/// The media type of a non-empty body: exactly `application/json` (charset
/// UTF-8 if one is named) or `application/octet-stream`.
fn media_of(req: &HttpRequest, body: &[u8]) -> Result<Media, ApiError> {
    if body.is_empty() {
        return Ok(Media::Empty);
    }
    let refuse =
        || unsupported_media("application/json (or application/octet-stream where documented)");
    let mime = req.mime_type().map_err(|_| refuse())?.ok_or_else(refuse)?;
    match (mime.type_().as_str(), mime.subtype().as_str()) {
        ("application", "json") => {
            let charset_ok = mime
                .get_param(actix_web::mime::CHARSET)
                .is_none_or(|c| c.as_str().eq_ignore_ascii_case("utf-8"));
            let only_charset = mime
                .params()
                .all(|(name, _)| name == actix_web::mime::CHARSET);
            if charset_ok && only_charset {
                Ok(Media::Json)
            } else {
                Err(refuse())
            }
        }
        ("application", "octet-stream") if mime.params().next().is_none() => Ok(Media::Binary),
        _ => Err(refuse()),
    }
}

impl<A: Audience + 'static> FromRequest for Signed<A> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let state = req
                .app_data::<State>()
                .cloned()
                .ok_or_else(|| ApiError::internal("the ledger is not configured on this app"))?;
            let body = read_body(payload).await?;
            let caller = authenticate(&state, &req, &body, A::ROLES).await?;
            req.extensions_mut()
                .insert(CallerId(caller.participant.id.clone()));
            let media = media_of(&req, &body)?;
            Ok(Signed {
                caller,
                body,
                media,
                _audience: PhantomData,
            })
        })
    }
}

/// Parses a JSON body, a number written `5.0` or `5e0` taken as the integer
/// it is ([`cbdc_http::parse_json`], the gateway's rule too).
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    cbdc_http::parse_json(body).map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))
}

/// Checks the signature, the key's registration and role, and records the nonce.
async fn authenticate(
    state: &State,
    req: &HttpRequest,
    body: &[u8],
    roles: &[Role],
) -> Result<Caller, ApiError> {
    let path = req
        .uri()
        .path_and_query()
        .map_or(req.path(), |p| p.as_str());
    let peer = || {
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    };
    let auth = auth::check_request(
        |name| {
            req.headers()
                .get(name)
                .map(|v| v.to_str().map(str::to_owned).unwrap_or_else(|_| "\u{fffd}".into()))
        },
        req.method().as_str(),
        path,
        body,
        now_ms(),
    )
    .inspect_err(|e| {
        if matches!(e, AuthError::BadSignature | AuthError::Stale) {
            tracing::warn!(target: "cbdc::security", code = e.code(), peer = %peer(), "refused request");
        }
    })?;
    let claim = NonceClaim {
        key: *auth.key.as_bytes(),
        nonce: auth.nonce,
        seen_at_unix_ms: now_ms(),
    };
    let key_prefix = || hex::encode(&auth.key.as_bytes()[..8]);
    let participant = match state.gate().admit(claim).await {
        Ok(Admission::Admitted(participant)) => participant,
        Ok(Admission::UnknownKey) => {
            tracing::warn!(target: "cbdc::security", code = "unknown_key", key = %key_prefix(), peer = %peer(), "refused request");
            return Err(AuthError::UnknownKey.into());
        }
        Ok(Admission::Replay) => {
            tracing::warn!(target: "cbdc::security", code = "replayed_request", key = %key_prefix(), peer = %peer(), "refused request");
            return Err(AuthError::Replay.into());
        }
        Err(GateError::Busy) => {
            return Err(ApiError::busy("too many requests are waiting; retry later"))
        }
        Err(GateError::Store {
            transient: true,
            message,
        }) => return Err(ApiError::unavailable(message)),
        Err(error) => return Err(ApiError::internal(error)),
    };
    if participant.status != ParticipantStatus::Active {
        tracing::warn!(target: "cbdc::security", code = "suspended", caller = %participant.id, "refused request");
        return Err(ApiError::forbidden(
            "suspended",
            format!("participant {} is suspended", participant.id),
        ));
    }
    if !roles.contains(&participant.role) {
        tracing::warn!(target: "cbdc::security", code = "forbidden_role", caller = %participant.id, "refused request");
        return Err(ApiError::forbidden(
            "forbidden_role",
            format!("a {} may not call this route", participant.role),
        ));
    }
    Ok(Caller { participant, auth })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f).await?
}

// ---- strict parsers for path and query values ----

/// Exactly `2·N` lowercase hex characters, else 400 with `code`.
fn parse_hex<const N: usize>(text: &str, code: &'static str) -> Result<[u8; N], ApiError> {
    auth::lowercase_hex(text).ok_or_else(|| {
        ApiError::bad_request(code, format!("expected {} lowercase hex characters", 2 * N))
    })
}

/// Largest id, height or sequence number the store holds (`BIGINT`).
const STORED_MAX: u64 = i64::MAX as u64;

/// A canonical decimal up to [`STORED_MAX`]: digits only, no sign, no leading zero.
fn parse_decimal(text: &str) -> Option<u64> {
    auth::canonical_decimal(text).filter(|&n| n <= STORED_MAX)
}

fn parse_proposal_id(text: &str) -> Result<ProposalId, ApiError> {
    parse_hex::<16>(text, "bad_proposal_id").map(ProposalId)
}

// ---- the error sets the document declares ----

/// What any signed route may answer besides its own outcomes.
#[derive(IntoResponses)]
#[allow(dead_code)]
enum SignedErrors {
    /// Malformed input: JSON, query, ids (`invalid_json`, `bad_query`, `bad_*_id` …).
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// Not signed, bad signature, stale, replayed or unknown key.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// Suspended participant, or a role that may not call this route.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// The body did not arrive within 5 s; the connection is closed.
    #[response(status = 408)]
    BodyTimeout(ErrorBody),
    /// The body exceeds 64 KiB.
    #[response(status = 413)]
    BodyTooLarge(ErrorBody),
    /// The body is not `application/json` (or binary where documented).
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// The database or a queue is unavailable; retry after `Retry-After` seconds.
    #[response(status = 503, headers(("Retry-After" = u32, description = "seconds")))]
    Unavailable(ErrorBody),
}

// ---- operations ----

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health, description = "alive, or ready")))]
#[get("/healthz")]
async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, body = Health, description = "alive, or ready"),
        (status = 503, body = ErrorBody, description = "the database does not answer",
            headers(("Retry-After" = u32, description = "seconds"))),
    )
)]
#[get("/readyz")]
async fn readyz(state: State) -> Result<web::Json<Health>, ApiError> {
    let ledger = state.get_ref().clone();
    blocking(move || Ok(ledger.store().latest_block()?)).await?;
    Ok(web::Json(Health {
        status: "ready".into(),
    }))
}

/// Prometheus metrics, text exposition format 0.0.4.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String, description = "the metrics"))
)]
#[get("/metrics")]
async fn metrics_text(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// This document.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, content_type = "application/json", body = Object, description = "the OpenAPI 3.1 document"))
)]
#[get("/openapi.json")]
async fn openapi_document(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// The browsable API page (served by the ledger itself under `/docs/`).
#[utoipa::path(
    tag = "operations",
    responses((status = 308, description = "to `/docs/`, the page",
        headers(("Location" = String))))
)]
#[get("/docs")]
async fn docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

// ---- governance ----

/// The ledger's key and the governance in force.
#[utoipa::path(
    tag = "governance",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    responses((status = 200, body = LedgerInfo, description = "the ledger key and the governance in force"), SignedErrors)
)]
#[get("/v1/ledger")]
async fn ledger_info(
    state: State,
    signed: Signed<Anyone>,
) -> Result<web::Json<LedgerInfo>, ApiError> {
    signed.no_body()?;
    let governance = state.governance();
    let ledger = state.get_ref().clone();
    let (genesis, head) = blocking(move || {
        let store = ledger.store();
        Ok((store.block(0)?, store.chain_head()?))
    })
    .await?;
    Ok(web::Json(LedgerInfo {
        ledger_key: hex::encode(state.public_key().as_bytes()),
        threshold: governance.threshold as u64,
        supply_ceiling: governance.supply_ceiling.minor_units(),
        governance_sequence: governance.entries,
        genesis_hash: genesis.map(|b| hex::encode(b.sealed.hash)),
        last_event: head.next_event_seq.saturating_sub(1),
    }))
}

fn participant_view(p: Participant) -> ParticipantView {
    ParticipantView {
        id: p.id,
        name: p.name,
        role: match p.role {
            Role::Officer => ParticipantRole::Officer,
            Role::Bank => ParticipantRole::Bank,
        },
        status: match p.status {
            ParticipantStatus::Active => crate::wire::ParticipantStatus::Active,
            ParticipantStatus::Suspended => crate::wire::ParticipantStatus::Suspended,
        },
        key: hex::encode(p.spend_public_key),
        view_key: p.view_public_key.map(hex::encode),
        created_at_ms: p.created_at_unix_ms,
    }
}

/// Journals a governance entry (genesis excepted): admit, suspend, reinstate or
/// re-key a participant, or set the threshold, with the approving officers'
/// signatures over its digest. Checked against the governance in force.
#[utoipa::path(
    tag = "governance",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    request_body(content = crate::openapi::core_json::Governance, content_type = "application/json"),
    responses(
        (status = 201, body = Committed, description = "journaled"),
        (status = 404, body = ErrorBody, description = "`unknown_participant`"),
        (status = 409, body = ErrorBody, description = "`governance_sequence`, `participant_exists`"),
        (status = 422, body = ErrorBody, description = "the entry breaks a rule (code names it)"),
        SignedErrors,
    )
)]
#[post("/v1/governance")]
async fn post_governance(state: State, signed: Signed<Officers>) -> Result<HttpResponse, ApiError> {
    let entry: Governance = signed.json()?;
    let action = entry.action.name();
    let sequence = entry.sequence;
    let target = governance_target(&entry);
    let ledger = state.get_ref().clone();
    let receipt = blocking(move || Ok(ledger.submit_governance(entry)?)).await?;
    tracing::info!(
        target: "cbdc::governance",
        action,
        sequence,
        participant = target.as_deref().unwrap_or("-"),
        by = signed.id(),
        tx_id = %receipt.tx_id,
        height = receipt.block.height,
        "governance entry journaled"
    );
    Ok(HttpResponse::Created().json(Committed {
        tx_id: receipt.tx_id,
        receipt,
    }))
}

fn governance_target(entry: &Governance) -> Option<String> {
    use ledger_core::governance::Action;
    match &entry.action {
        Action::Admit { member } => Some(member.id.clone()),
        Action::Suspend { id } | Action::Reinstate { id } | Action::Rekey { id, .. } => {
            Some(id.clone())
        }
        Action::Genesis { .. } | Action::SetThreshold { .. } => None,
    }
}

/// Every participant, officers and banks, active and suspended.
#[utoipa::path(
    tag = "governance",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    responses((status = 200, body = ParticipantList, description = "every participant"), SignedErrors)
)]
#[get("/v1/participants")]
async fn list_participants(
    state: State,
    signed: Signed<Anyone>,
) -> Result<web::Json<ParticipantList>, ApiError> {
    signed.no_body()?;
    let ledger = state.get_ref().clone();
    let all = blocking(move || Ok(ledger.store().participants()?)).await?;
    Ok(web::Json(ParticipantList {
        participants: all.into_iter().map(participant_view).collect(),
    }))
}

// ---- issuance ----

fn proposal_view(ledger: &Ledger, proposal: &Proposal) -> Result<ProposalView, ApiError> {
    let issue = ledger.issue_for(proposal)?;
    let approvals: Vec<String> = ledger
        .store()
        .approvals(&proposal.id)?
        .into_iter()
        .map(|a| a.officer_id)
        .collect();
    Ok(ProposalView {
        id: hex::encode(proposal.id.0),
        bank_id: proposal.bank_id.clone(),
        amount: proposal.amount,
        proposer_id: proposal.proposer_id.clone(),
        state: match proposal.state {
            ProposalState::Open => ProposalStateView::Open,
            ProposalState::Executed => ProposalStateView::Executed,
            ProposalState::Cancelled => ProposalStateView::Cancelled,
        },
        approvals,
        threshold: ledger.threshold() as u64,
        executed_by: proposal.executed_by.map(hex::encode),
        digest: hex::encode(issue.digest()),
        issue,
        receipt: None,
    })
}

/// An officer proposes to issue money to a bank (maker), or a bank asks for
/// its own float; officers approve (checker).
#[utoipa::path(
    tag = "issuance",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    request_body(content = ProposeRequest, content_type = "application/json"),
    responses(
        (status = 201, body = ProposalView, description = "proposed; approvals follow"),
        (status = 422, body = ErrorBody, description = "`supply_ceiling`, `not_eligible` (no such active bank) …"),
        SignedErrors,
    )
)]
#[post("/v1/issuances")]
async fn propose(state: State, signed: Signed<Anyone>) -> Result<HttpResponse, ApiError> {
    let request: ProposeRequest = signed.json()?;
    // A bank may ask for its own float (a gateway below its low threshold);
    // officers still approve. It may not propose for another bank.
    if signed.caller.participant.role == Role::Bank && request.bank_id != signed.id() {
        return Err(ApiError::forbidden(
            "not_own_bank",
            "a bank may propose issuance only to itself",
        ));
    }
    ledger_core::governance::check_id(&request.bank_id).map_err(|_| {
        ApiError::bad_request(
            "bad_participant_id",
            "ids are 1 to 64 characters of a-z, A-Z, 0-9, - and _",
        )
    })?;
    if request.amount.is_zero() {
        return Err(ApiError::bad_request(
            "zero_amount",
            "the amount must be positive",
        ));
    }
    let ledger = state.get_ref().clone();
    let officer = signed.id().to_string();
    let view = blocking(move || {
        let proposal = ledger.propose(&officer, &request.bank_id, request.amount.minor_units())?;
        proposal_view(&ledger, &proposal)
    })
    .await?;
    tracing::info!(
        target: "cbdc::issuance",
        proposal = %view.id,
        bank = %view.bank_id,
        by = signed.id(),
        "issuance proposed"
    );
    Ok(HttpResponse::Created().json(view))
}

/// A proposal, the issue it would execute (what an approval signs) and its approvals.
#[utoipa::path(
    tag = "issuance",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    params(("id" = String, Path, description = "32 lowercase hex characters", pattern = "^[0-9a-f]{32}$")),
    responses(
        (status = 200, body = ProposalView, description = "the proposal"),
        (status = 404, body = ErrorBody, description = "`unknown_proposal`"),
        SignedErrors,
    )
)]
#[get("/v1/issuances/{id}")]
async fn get_proposal(
    state: State,
    signed: Signed<Anyone>,
    id: web::Path<String>,
) -> Result<web::Json<ProposalView>, ApiError> {
    signed.no_body()?;
    let id = parse_proposal_id(&id)?;
    let ledger = state.get_ref().clone();
    // A bank sees its own proposals only (another bank's is unknown to it).
    let bank = (signed.caller.participant.role == Role::Bank).then(|| signed.id().to_string());
    let view = blocking(move || {
        let proposal = ledger
            .store()
            .proposal(&id)?
            .filter(|p| bank.as_ref().is_none_or(|bank| &p.bank_id == bank))
            .ok_or_else(|| ApiError::not_found("unknown_proposal", "unknown issuance proposal"))?;
        proposal_view(&ledger, &proposal)
    })
    .await?;
    Ok(web::Json(view))
}

/// An officer approves (checker) with a signature over the proposal's digest;
/// the approval that reaches the threshold executes the issue (`receipt`).
#[utoipa::path(
    tag = "issuance",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    params(("id" = String, Path, description = "32 lowercase hex characters", pattern = "^[0-9a-f]{32}$")),
    request_body(content = crate::wire::ApproveRequest, content_type = "application/json"),
    responses(
        (status = 200, body = ProposalView, description = "the proposal"),
        (status = 404, body = ErrorBody, description = "`unknown_proposal`"),
        (status = 409, body = ErrorBody, description = "`duplicate_approval`, `proposal_not_open`"),
        (status = 422, body = ErrorBody, description = "`bad_approval_signature` …"),
        SignedErrors,
    )
)]
#[post("/v1/issuances/{id}/approvals")]
async fn approve(
    state: State,
    signed: Signed<Officers>,
    id: web::Path<String>,
) -> Result<web::Json<ProposalView>, ApiError> {
    let id = parse_proposal_id(&id)?;
    let request: crate::wire::ApproveRequest = signed.json()?;
    let ledger = state.get_ref().clone();
    let officer = signed.id().to_string();
    let key = signed.caller.auth.key;
    let view = blocking(move || {
        let (proposal, receipt) = ledger.approve(&officer, &key, &id, &request.signature)?;
        let mut view = proposal_view(&ledger, &proposal)?;
        view.receipt = receipt;
        Ok(view)
    })
    .await?;
    tracing::info!(
        target: "cbdc::issuance",
        proposal = %view.id,
        by = signed.id(),
        approvals = view.approvals.len(),
        threshold = view.threshold,
        "issuance approved"
    );
    if let Some(receipt) = &view.receipt {
        tracing::info!(
            target: "cbdc::issuance",
            proposal = %view.id,
            bank = %view.bank_id,
            tx_id = %receipt.tx_id,
            height = receipt.block.height,
            "issue executed"
        );
    }
    Ok(web::Json(view))
}

// ---- transactions ----

/// A bank submits a transfer or a redeem, as JSON or in the binary encoding
/// (`application/octet-stream`, PROTOCOL.md). Answers once it is in a sealed block.
#[utoipa::path(
    tag = "transactions",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    request_body(
        description = "A transaction, as JSON or as its binary encoding",
        content(
            (crate::openapi::core_json::BankTransaction = "application/json"),
            (crate::openapi::core_json::EncodedTransaction = "application/octet-stream"),
        )
    ),
    responses(
        (status = 200, body = Committed, description = "committed (or committed before: same receipt)"),
        (status = 409, body = ErrorBody, description = "`spent_input`"),
        (status = 422, body = ErrorBody, description = "the transaction breaks a rule (code names it)"),
        SignedErrors,
    )
)]
#[post("/v1/transactions")]
async fn submit(state: State, signed: Signed<Banks>) -> Result<web::Json<Committed>, ApiError> {
    let tx = match signed.media {
        Media::Binary => Transaction::decode(&signed.body)?,
        Media::Json => signed.json::<Transaction>()?,
        Media::Empty => {
            return Err(ApiError::bad_request(
                "empty_body",
                "send a transaction: JSON or its binary encoding",
            ))
        }
    };
    let ledger = state.get_ref().clone();
    let receipt = blocking(move || Ok(ledger.submit(&tx)?)).await?;
    Ok(web::Json(Committed {
        tx_id: receipt.tx_id,
        receipt,
    }))
}

/// A committed transaction and its receipt.
#[utoipa::path(
    tag = "transactions",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    params(("id" = String, Path, description = "64 lowercase hex characters", pattern = "^[0-9a-f]{64}$")),
    responses(
        (status = 200, body = TransactionView, description = "the transaction and its receipt"),
        (status = 404, body = ErrorBody, description = "`unknown_transaction`"),
        SignedErrors,
    )
)]
#[get("/v1/transactions/{id}")]
async fn get_transaction(
    state: State,
    signed: Signed<Anyone>,
    id: web::Path<String>,
) -> Result<web::Json<TransactionView>, ApiError> {
    signed.no_body()?;
    let id = TxId(parse_hex::<32>(&id, "bad_tx_id")?);
    let ledger = state.get_ref().clone();
    let found = blocking(move || Ok(ledger.receipt(&id)?)).await?;
    let (transaction, receipt) =
        found.ok_or_else(|| ApiError::not_found("unknown_transaction", "no such transaction"))?;
    Ok(web::Json(TransactionView {
        tx_id: id,
        transaction,
        receipt,
    }))
}

/// A note: owner, commitment, memo and whether it is spent.
#[utoipa::path(
    tag = "transactions",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    params(("id" = String, Path, description = "64 lowercase hex characters", pattern = "^[0-9a-f]{64}$")),
    responses(
        (status = 200, body = NoteView, description = "the note"),
        (status = 404, body = ErrorBody, description = "`unknown_note`"),
        SignedErrors,
    )
)]
#[get("/v1/notes/{id}")]
async fn get_note(
    state: State,
    signed: Signed<Anyone>,
    id: web::Path<String>,
) -> Result<web::Json<NoteView>, ApiError> {
    signed.no_body()?;
    let id = NoteId(parse_hex::<32>(&id, "bad_note_id")?);
    let ledger = state.get_ref().clone();
    let note = blocking(move || Ok(ledger.store().note(&id.0)?)).await?;
    let note = note.ok_or_else(|| ApiError::not_found("unknown_note", "no such note"))?;
    Ok(web::Json(NoteView {
        id: hex::encode(note.id),
        owner: hex::encode(note.owner),
        commitment: hex::encode(note.commitment),
        memo: hex::encode(&note.memo),
        created_by: hex::encode(note.created_by),
        output_index: note.output_index,
        spent: note.spent.is_some(),
        spent_by: note.spent.map(|s| hex::encode(s.tx_id)),
    }))
}

/// The query of `/v1/events`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Events after this sequence number (the `next` of the previous page).
    #[param(minimum = 0, maximum = 9223372036854775807_u64, default = 0, value_type = Option<u64>)]
    after: Option<String>,
    /// Only events of notes owned by this key (64 lowercase hex characters).
    #[param(pattern = "^[0-9a-f]{64}$")]
    owner: Option<String>,
    /// Most events in the page.
    #[param(minimum = 1, maximum = 1000, default = 100, value_type = Option<u32>)]
    limit: Option<String>,
    /// Wait up to this long for an event when there is none yet (long poll).
    #[param(minimum = 0, maximum = 30000, default = 0, value_type = Option<u64>)]
    wait_ms: Option<String>,
}

fn query_number(
    value: Option<&str>,
    name: &str,
    default: u64,
    max: u64,
    min: u64,
) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(text) => parse_decimal(text)
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "bad_query",
                    format!("`{name}` is an integer from {min} to {max}"),
                )
            }),
    }
}

/// The feed of notes created and spent, in commit order; with `wait_ms` a long poll.
#[utoipa::path(
    tag = "transactions",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    params(EventsQuery),
    responses((status = 200, body = EventsPage, description = "a page of events, possibly empty"), SignedErrors)
)]
#[get("/v1/events")]
async fn events(
    state: State,
    req: HttpRequest,
    signed: Signed<Anyone>,
) -> Result<web::Json<EventsPage>, ApiError> {
    signed.no_body()?;
    let query = web::Query::<EventsQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request("bad_query", e.to_string()))?
        .into_inner();
    let after = query_number(query.after.as_deref(), "after", 0, STORED_MAX, 0)?;
    let limit = query_number(
        query.limit.as_deref(),
        "limit",
        100,
        EVENTS_LIMIT_MAX.into(),
        1,
    )? as u32;
    let wait_ms = query_number(
        query.wait_ms.as_deref(),
        "wait_ms",
        0,
        EVENTS_WAIT_MAX_MS,
        0,
    )?;
    let owner = query
        .owner
        .as_deref()
        .map(|o| parse_hex::<32>(o, "bad_owner"))
        .transpose()?;
    let deadline = Instant::now() + Duration::from_millis(wait_ms);
    let mut head = state.head();
    loop {
        head.borrow_and_update();
        let ledger = state.get_ref().clone();
        let found =
            blocking(move || Ok(ledger.store().events_since(after, owner.as_ref(), limit)?))
                .await?;
        let now = Instant::now();
        if !found.is_empty() || now >= deadline {
            let next = found.last().map_or(after, |e| e.seq);
            let events = found
                .into_iter()
                .map(|e| EventView {
                    seq: e.seq,
                    kind: match e.kind {
                        EventKind::Created => EventKindView::Created,
                        EventKind::Spent => EventKindView::Spent,
                    },
                    note_id: hex::encode(e.note_id),
                    owner: hex::encode(e.owner),
                    tx_id: hex::encode(e.tx_id),
                })
                .collect();
            return Ok(web::Json(EventsPage { events, next }));
        }
        let _ = tokio::time::timeout(deadline - now, head.changed()).await;
    }
}

// ---- journal ----

fn audit_run_view(run: &AuditRun) -> AuditRunView {
    let finished = run.state != AuditState::Running;
    let passed = run.state == AuditState::Passed;
    AuditRunView {
        id: run.id,
        state: match run.state {
            AuditState::Running => AuditStateView::Running,
            AuditState::Passed => AuditStateView::Passed,
            AuditState::Failed => AuditStateView::Failed,
            AuditState::Abandoned => AuditStateView::Abandoned,
        },
        trigger: match run.trigger {
            AuditTrigger::Request => AuditTriggerView::Request,
            AuditTrigger::Schedule => AuditTriggerView::Schedule,
        },
        started_ms: run.started_unix_ms,
        finished_ms: run.finished_unix_ms,
        height: run.outcome.height,
        block_hash: run.outcome.block_hash.map(hex::encode),
        blocks: finished.then_some(run.outcome.blocks),
        transactions: finished.then_some(run.outcome.transactions),
        unspent_notes: finished.then_some(run.outcome.unspent_notes),
        issued: passed.then(|| run.outcome.issued.to_string()),
        redeemed: passed.then(|| run.outcome.redeemed.to_string()),
        outstanding: passed.then_some(run.outcome.outstanding),
        problem: run.outcome.problem.clone(),
    }
}

/// The supply as the last passed audit proved it, and, labelled as not yet
/// audited, the outstanding amount the ledger has committed since.
#[utoipa::path(
    tag = "journal",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    responses((status = 200, body = SupplyView, description = "the audited and the unaudited supply"), SignedErrors)
)]
#[get("/v1/supply")]
async fn supply(state: State, signed: Signed<Anyone>) -> Result<web::Json<SupplyView>, ApiError> {
    signed.no_body()?;
    let ledger = state.get_ref().clone();
    let (passed, last, head) = blocking(move || {
        let store = ledger.store();
        Ok((
            store.latest_audit_run(true)?,
            store.latest_audit_run(false)?,
            store.chain_head()?,
        ))
    })
    .await?;
    let audited = passed.as_ref().map(|run| AuditedSupply {
        audit_id: run.id,
        height: run.outcome.height,
        block_hash: run.outcome.block_hash.map(hex::encode),
        audited_at_ms: run.finished_unix_ms,
        issued: run.outcome.issued.to_string(),
        redeemed: run.outcome.redeemed.to_string(),
        outstanding: run.outcome.outstanding,
        unspent_notes: run.outcome.unspent_notes,
    });
    Ok(web::Json(SupplyView {
        audited,
        unaudited: UnauditedSupply {
            height: head.next_height.checked_sub(1),
            outstanding: head.outstanding,
            note: "what the ledger has committed, not yet proven by an audit".into(),
        },
        supply_ceiling: head.supply_ceiling,
        last_audit: last.as_ref().map(audit_run_view),
        running_audit: state.running_audit(),
    }))
}

/// Starts a full audit (journal replay, re-verification of every transaction,
/// every table compared) in the background: `202` with its status resource.
#[utoipa::path(
    tag = "journal",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    responses(
        (status = 202, body = AuditRunView, description = "started", headers(("Location" = String, description = "`/v1/audits/{id}`"))),
        (status = 409, body = ErrorBody, description = "`audit_running`"),
        SignedErrors,
    )
)]
#[post("/v1/audit")]
async fn start_audit(state: State, signed: Signed<Officers>) -> Result<HttpResponse, ApiError> {
    signed.no_body()?;
    let ledger = state.get_ref().clone();
    let run = blocking(move || {
        let id = ledger.start_audit(AuditTrigger::Request)?;
        ledger
            .store()
            .audit_run(id)?
            .ok_or_else(|| ApiError::internal("the audit run just started is not recorded"))
    })
    .await?;
    tracing::info!(target: "cbdc::audit", audit = run.id, by = signed.id(), "audit started");
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/audits/{}", run.id)))
        .json(audit_run_view(&run)))
}

/// An audit run and, once finished, what it proved.
#[utoipa::path(
    tag = "journal",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    params(("id" = u64, Path, description = "the run's id", minimum = 1, maximum = 9223372036854775807_u64)),
    responses(
        (status = 200, body = AuditRunView, description = "the run"),
        (status = 404, body = ErrorBody, description = "`unknown_audit`"),
        SignedErrors,
    )
)]
#[get("/v1/audits/{id}")]
async fn get_audit(
    state: State,
    signed: Signed<Anyone>,
    id: web::Path<String>,
) -> Result<web::Json<AuditRunView>, ApiError> {
    signed.no_body()?;
    let id = parse_decimal(&id).filter(|&id| id > 0).ok_or_else(|| {
        ApiError::bad_request("bad_audit_id", "an audit id is a positive integer")
    })?;
    let ledger = state.get_ref().clone();
    let run = blocking(move || Ok(ledger.store().audit_run(id)?)).await?;
    let run =
        run.ok_or_else(|| ApiError::not_found("unknown_audit", "no audit run has this id"))?;
    Ok(web::Json(audit_run_view(&run)))
}

fn block_view(block: &crate::store::StoredBlock) -> Result<BlockView, ApiError> {
    let header =
        ledger_core::BlockHeader::from_bytes(&block.sealed.header).map_err(ApiError::internal)?;
    Ok(BlockView {
        height: block.height,
        hash: hex::encode(block.sealed.hash),
        header,
        header_bytes: hex::encode(&block.sealed.header),
        signature: hex::encode(&block.sealed.signature),
        transactions: None,
    })
}

/// The newest sealed block.
#[utoipa::path(
    tag = "journal",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    responses(
        (status = 200, body = BlockView, description = "the block"),
        (status = 404, body = ErrorBody, description = "`no_blocks`"),
        SignedErrors,
    )
)]
#[get("/v1/blocks/latest")]
async fn latest_block(
    state: State,
    signed: Signed<Anyone>,
) -> Result<web::Json<BlockView>, ApiError> {
    signed.no_body()?;
    let ledger = state.get_ref().clone();
    let block = blocking(move || Ok(ledger.store().latest_block()?)).await?;
    let block = block.ok_or_else(|| ApiError::not_found("no_blocks", "the journal is empty"))?;
    Ok(web::Json(block_view(&block)?))
}

/// A sealed block by height, with its transactions' ids in order.
#[utoipa::path(
    tag = "journal",
    security(("cbdc_key" = [], "cbdc_timestamp" = [], "cbdc_nonce" = [], "cbdc_signature" = [])),
    params(("height" = u64, Path, description = "a canonical decimal integer", minimum = 0, maximum = 9223372036854775807_u64)),
    responses(
        (status = 200, body = BlockView, description = "the block"),
        (status = 404, body = ErrorBody, description = "`unknown_block`"),
        SignedErrors,
    )
)]
#[get("/v1/blocks/{height}")]
async fn get_block(
    state: State,
    signed: Signed<Anyone>,
    height: web::Path<String>,
) -> Result<web::Json<BlockView>, ApiError> {
    signed.no_body()?;
    let height = parse_decimal(&height).ok_or_else(|| {
        ApiError::bad_request("bad_height", "a block height is a non-negative integer")
    })?;
    let ledger = state.get_ref().clone();
    let found = blocking(move || {
        let store = ledger.store();
        match store.block(height)? {
            Some(block) => Ok(Some((block, store.block_transaction_ids(height)?))),
            None => Ok(None),
        }
    })
    .await?;
    let (block, ids) =
        found.ok_or_else(|| ApiError::not_found("unknown_block", "no block at this height"))?;
    let mut view = block_view(&block)?;
    view.transactions = Some(ids.iter().map(hex::encode).collect());
    Ok(web::Json(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_canonical() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("17"), Some(17));
        assert_eq!(parse_decimal("9223372036854775807"), Some(i64::MAX as u64));
        for bad in [
            "",
            "+1",
            "-1",
            "01",
            "1 ",
            " 1",
            "0x1",
            "9223372036854775808",
            "18446744073709551616",
            "1e3",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    /// The rule itself is `cbdc_http::parse_json`'s (tested there); here,
    /// that the ledger applies it and refuses with `invalid_json`.
    #[test]
    fn integral_floats_are_integers_and_other_numbers_invalid_json() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Body {
            amount: u64,
        }
        let parsed: Body = parse_json(br#"{"amount": 5.0}"#).unwrap();
        assert_eq!(parsed, Body { amount: 5 });
        for bad in [&br#"{"amount": 5.5}"#[..], br#"{"amount": "5"}"#] {
            let error = parse_json::<Body>(bad).unwrap_err();
            assert_eq!(
                error.code,
                "invalid_json",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn hex_ids_are_lowercase_and_exact() {
        let ok = "ab".repeat(16);
        assert!(parse_hex::<16>(&ok, "x").is_ok());
        assert!(parse_hex::<16>(&ok.to_uppercase(), "x").is_err());
        assert!(parse_hex::<16>(&ok[1..], "x").is_err());
        assert!(parse_hex::<16>(&format!("{ok}0"), "x").is_err());
        assert!(parse_hex::<16>(&"zz".repeat(16), "x").is_err());
    }
}

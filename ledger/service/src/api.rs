//! The HTTP API of the ledger (actix-web, JSON).
//!
//! Handlers are thin: authenticate → parse → call the [`Ledger`] on the blocking
//! pool → respond. Every error goes through [`ApiError`]; responses that actix
//! produces itself (unknown route, wrong method) are rewritten to the same JSON
//! shape by [`json_errors`]. Request bodies are limited to [`BODY_LIMIT_BYTES`].

use crate::auth::{self, AuthError, RequestAuth};
use crate::error::ApiError;
use crate::gate::GateError;
use crate::ledger::{now_ms, Ledger, LedgerError};
use crate::store::{
    Admission, AuditRun, AuditState, AuditTrigger, EventKind, NonceClaim, Participant,
    ParticipantStatus, Proposal, ProposalId, ProposalState, Role,
};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use ledger_core::governance::Governance;
use ledger_core::{Amount, NoteId, Signature, Transaction, TxId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const BODY_LIMIT_BYTES: usize = 64 * 1024;
/// Longest a long-poll for events waits.
pub const EVENTS_WAIT_MAX_MS: u64 = 30_000;
pub const EVENTS_LIMIT_MAX: u32 = 1_000;

pub type State = web::Data<Arc<Ledger>>;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route("/openapi.json", web::get().to(openapi))
        .route("/v1/ledger", web::get().to(ledger_info))
        .route("/v1/governance", web::post().to(governance))
        .route("/v1/participants", web::get().to(list_participants))
        .route("/v1/issuances", web::post().to(propose))
        .route("/v1/issuances/{id}", web::get().to(get_proposal))
        .route("/v1/issuances/{id}/approvals", web::post().to(approve))
        .route("/v1/transactions", web::post().to(submit))
        .route("/v1/transactions/{id}", web::get().to(get_transaction))
        .route("/v1/notes/{id}", web::get().to(get_note))
        .route("/v1/events", web::get().to(events))
        .route("/v1/supply", web::get().to(supply))
        .route("/v1/audit", web::post().to(start_audit))
        .route("/v1/audits/{id}", web::get().to(get_audit))
        .route("/v1/blocks/latest", web::get().to(latest_block))
        .route("/v1/blocks/{height}", web::get().to(get_block));
}

/// Rewrites error responses that did not come from [`ApiError`] (actix's own 404,
/// 405, 413 …) into the JSON error shape.
pub fn json_errors<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("no_route", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "method not allowed on this route")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "request body too large"),
            s if s.is_client_error() => ("bad_request", "bad request"),
            _ => (
                "internal",
                "internal error; the ledger operator has the details",
            ),
        };
        let (req, _) = res.into_parts();
        let response = HttpResponse::build(status)
            .json(json!({"code": code, "message": message}))
            .map_into_right_body();
        Ok(ErrorHandlerResponse::Response(ServiceResponse::new(
            req, response,
        )))
    })
}

/// Counts and times every request by its route pattern.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let metrics = req.app_data::<State>().map(|s| s.metrics.clone());
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        metrics.observe_request(&route, &method, res.status().as_u16(), started.elapsed());
    }
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

/// Reads the body up to the limit.
async fn read_body(mut payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("bad_body", e.to_string()))?;
        if body.len() + chunk.len() > BODY_LIMIT_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request bodies are limited to {BODY_LIMIT_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Routes that take no body refuse one, rather than silently ignoring it.
fn no_body(body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) || body == b"null" || body == b"{}" {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "unexpected_body",
            "this route takes no request body",
        ))
    }
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))
}

/// The authenticated caller.
pub struct Caller {
    pub participant: Participant,
    pub auth: RequestAuth,
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
    let auth = auth::check_request(
        |name| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        },
        req.method().as_str(),
        path,
        body,
        now_ms(),
    )?;
    let claim = NonceClaim {
        key: *auth.key.as_bytes(),
        nonce: auth.nonce,
        seen_at_unix_ms: now_ms(),
    };
    let participant = match state.gate().admit(claim).await {
        Ok(Admission::Admitted(participant)) => participant,
        Ok(Admission::UnknownKey) => return Err(AuthError::UnknownKey.into()),
        Ok(Admission::Replay) => return Err(AuthError::Replay.into()),
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
        return Err(ApiError::forbidden(
            "suspended",
            format!("participant {} is suspended", participant.id),
        ));
    }
    if !roles.contains(&participant.role) {
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

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(state: State) -> Result<HttpResponse, ApiError> {
    let ledger = state.get_ref().clone();
    blocking(move || Ok(ledger.store().latest_block()?)).await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}

async fn metrics(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(include_str!("openapi.json"))
}

const ANYONE: &[Role] = &[Role::Bank, Role::Officer];
const OFFICERS: &[Role] = &[Role::Officer];
const BANKS: &[Role] = &[Role::Bank];

async fn ledger_info(
    state: State,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, ANYONE).await?;
    let governance = state.governance();
    let ledger = state.get_ref().clone();
    let genesis = blocking(move || Ok(ledger.store().block(0)?)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "ledger_key": hex::encode(state.public_key().as_bytes()),
        "threshold": governance.threshold,
        "supply_ceiling": governance.supply_ceiling,
        "governance_sequence": governance.entries,
        "genesis_hash": genesis.map(|b| hex::encode(b.sealed.hash)),
    })))
}

#[derive(Serialize)]
struct ParticipantView {
    id: String,
    name: String,
    role: String,
    status: &'static str,
    key: String,
    view_key: Option<String>,
    created_at_ms: u64,
}

impl From<Participant> for ParticipantView {
    fn from(p: Participant) -> Self {
        ParticipantView {
            id: p.id,
            name: p.name,
            role: p.role.to_string(),
            status: match p.status {
                ParticipantStatus::Active => "active",
                ParticipantStatus::Suspended => "suspended",
            },
            key: hex::encode(p.spend_public_key),
            view_key: p.view_public_key.map(hex::encode),
            created_at_ms: p.created_at_unix_ms,
        }
    }
}

fn check_participant_id(id: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "bad_participant_id",
            "ids are 1 to 64 characters of a-z, A-Z, 0-9, - and _",
        ))
    }
}

/// A governance entry (genesis excepted): admit, suspend, reinstate or re-key a
/// participant, or set the threshold, with the approving officers' signatures
/// over its digest. Checked against the governance in force and journaled.
async fn governance(
    state: State,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, OFFICERS).await?;
    let entry: Governance = parse_json(&body)?;
    let ledger = state.get_ref().clone();
    let receipt = blocking(move || Ok(ledger.submit_governance(entry)?)).await?;
    Ok(HttpResponse::Created().json(json!({
        "tx_id": receipt.tx_id,
        "receipt": receipt,
    })))
}

async fn list_participants(
    state: State,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, ANYONE).await?;
    let ledger = state.get_ref().clone();
    let all = blocking(move || Ok(ledger.store().participants()?)).await?;
    let views: Vec<ParticipantView> = all.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(json!({ "participants": views })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposeRequest {
    bank_id: String,
    amount: Amount,
}

fn proposal_view(ledger: &Ledger, proposal: &Proposal) -> Result<serde_json::Value, ApiError> {
    let issue = ledger.issue_for(proposal)?;
    let approvals: Vec<String> = ledger
        .store()
        .approvals(&proposal.id)?
        .into_iter()
        .map(|a| a.officer_id)
        .collect();
    Ok(json!({
        "id": hex::encode(proposal.id.0),
        "bank_id": proposal.bank_id,
        "amount": proposal.amount,
        "proposer_id": proposal.proposer_id,
        "state": match proposal.state {
            ProposalState::Open => "open",
            ProposalState::Executed => "executed",
            ProposalState::Cancelled => "cancelled",
        },
        "approvals": approvals,
        "threshold": ledger.threshold(),
        "executed_by": proposal.executed_by.map(hex::encode),
        "issue": issue,
        "digest": hex::encode(issue.digest()),
    }))
}

async fn propose(
    state: State,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    let caller = authenticate(&state, &req, &body, OFFICERS).await?;
    let request: ProposeRequest = parse_json(&body)?;
    check_participant_id(&request.bank_id)?;
    if request.amount.is_zero() {
        return Err(ApiError::bad_request(
            "zero_amount",
            "the amount must be positive",
        ));
    }
    let ledger = state.get_ref().clone();
    let view = blocking(move || {
        let proposal = ledger.propose(
            &caller.participant.id,
            &request.bank_id,
            request.amount.minor_units(),
        )?;
        proposal_view(&ledger, &proposal)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

fn parse_proposal_id(text: &str) -> Result<ProposalId, ApiError> {
    let mut id = [0u8; 16];
    hex::decode_to_slice(text, &mut id).map_err(|_| {
        ApiError::bad_request("bad_proposal_id", "a proposal id is 32 hex characters")
    })?;
    Ok(ProposalId(id))
}

async fn get_proposal(
    state: State,
    req: HttpRequest,
    body: web::Payload,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, OFFICERS).await?;
    let id = parse_proposal_id(&id)?;
    let ledger = state.get_ref().clone();
    let view = blocking(move || {
        let proposal = ledger
            .store()
            .proposal(&id)?
            .ok_or_else(|| ApiError::not_found("unknown_proposal", "unknown issuance proposal"))?;
        proposal_view(&ledger, &proposal)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveRequest {
    /// The officer's signature over the issue digest ([`ledger_core::Purpose::Officer`]).
    signature: Signature,
}

async fn approve(
    state: State,
    req: HttpRequest,
    body: web::Payload,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    let caller = authenticate(&state, &req, &body, OFFICERS).await?;
    let id = parse_proposal_id(&id)?;
    let request: ApproveRequest = parse_json(&body)?;
    let ledger = state.get_ref().clone();
    let view = blocking(move || {
        let (proposal, receipt) = ledger.approve(
            &caller.participant.id,
            &caller.auth.key,
            &id,
            &request.signature,
        )?;
        let mut view = proposal_view(&ledger, &proposal)?;
        view["receipt"] = serde_json::to_value(receipt).map_err(ApiError::internal)?;
        Ok(view)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

async fn submit(
    state: State,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, BANKS).await?;
    let binary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/octet-stream"));
    let tx = if binary {
        Transaction::decode(&body)?
    } else {
        parse_json::<Transaction>(&body)?
    };
    let ledger = state.get_ref().clone();
    let receipt = blocking(move || Ok(ledger.submit(&tx)?)).await?;
    Ok(HttpResponse::Ok().json(json!({ "tx_id": receipt.tx_id, "receipt": receipt })))
}

fn parse_hex_32(text: &str, code: &'static str) -> Result<[u8; 32], ApiError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| ApiError::bad_request(code, "expected 64 hex characters"))?;
    Ok(out)
}

async fn get_transaction(
    state: State,
    req: HttpRequest,
    body: web::Payload,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, ANYONE).await?;
    let id = TxId(parse_hex_32(&id, "bad_tx_id")?);
    let ledger = state.get_ref().clone();
    let found = blocking(move || Ok(ledger.receipt(&id)?)).await?;
    let (tx, receipt) =
        found.ok_or_else(|| ApiError::not_found("unknown_transaction", "no such transaction"))?;
    Ok(HttpResponse::Ok().json(json!({ "tx_id": id, "transaction": tx, "receipt": receipt })))
}

async fn get_note(
    state: State,
    req: HttpRequest,
    body: web::Payload,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, ANYONE).await?;
    let id = NoteId(parse_hex_32(&id, "bad_note_id")?);
    let ledger = state.get_ref().clone();
    let note = blocking(move || Ok(ledger.store().note(&id.0)?)).await?;
    let note = note.ok_or_else(|| ApiError::not_found("unknown_note", "no such note"))?;
    Ok(HttpResponse::Ok().json(json!({
        "id": hex::encode(note.id),
        "owner": hex::encode(note.owner),
        "commitment": hex::encode(note.commitment),
        "memo": hex::encode(&note.memo),
        "created_by": hex::encode(note.created_by),
        "output_index": note.output_index,
        "spent": note.spent.is_some(),
        "spent_by": note.spent.map(|s| hex::encode(s.tx_id)),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    #[serde(default)]
    after: u64,
    owner: Option<String>,
    limit: Option<u32>,
    wait_ms: Option<u64>,
}

async fn events(
    state: State,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, ANYONE).await?;
    let query = web::Query::<EventsQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request("bad_query", e.to_string()))?
        .into_inner();
    let owner = query
        .owner
        .as_deref()
        .map(|o| parse_hex_32(o, "bad_owner"))
        .transpose()?;
    let limit = query.limit.unwrap_or(100).clamp(1, EVENTS_LIMIT_MAX);
    let wait = Duration::from_millis(query.wait_ms.unwrap_or(0).min(EVENTS_WAIT_MAX_MS));
    let deadline = Instant::now() + wait;
    let mut head = state.head();
    loop {
        head.borrow_and_update();
        let ledger = state.get_ref().clone();
        let found = blocking(move || {
            Ok(ledger
                .store()
                .events_since(query.after, owner.as_ref(), limit)?)
        })
        .await?;
        let now = Instant::now();
        if !found.is_empty() || now >= deadline {
            let next = found.last().map_or(query.after, |e| e.seq);
            let events: Vec<serde_json::Value> = found
                .into_iter()
                .map(|e| {
                    json!({
                        "seq": e.seq,
                        "kind": match e.kind { EventKind::Created => "created", EventKind::Spent => "spent" },
                        "note_id": hex::encode(e.note_id),
                        "owner": hex::encode(e.owner),
                        "tx_id": hex::encode(e.tx_id),
                    })
                })
                .collect();
            return Ok(HttpResponse::Ok().json(json!({ "events": events, "next": next })));
        }
        let _ = tokio::time::timeout(deadline - now, head.changed()).await;
    }
}

fn audit_run_view(run: &AuditRun) -> serde_json::Value {
    let finished = run.state != AuditState::Running;
    json!({
        "id": run.id,
        "state": run.state.as_str(),
        "trigger": run.trigger.as_str(),
        "started_ms": run.started_unix_ms,
        "finished_ms": run.finished_unix_ms,
        "height": run.outcome.height,
        "block_hash": run.outcome.block_hash.map(hex::encode),
        "blocks": finished.then_some(run.outcome.blocks),
        "transactions": finished.then_some(run.outcome.transactions),
        "unspent_notes": finished.then_some(run.outcome.unspent_notes),
        "issued": (run.state == AuditState::Passed).then(|| run.outcome.issued.to_string()),
        "redeemed": (run.state == AuditState::Passed).then(|| run.outcome.redeemed.to_string()),
        "outstanding": (run.state == AuditState::Passed).then_some(run.outcome.outstanding),
        "problem": run.outcome.problem,
    })
}

/// The supply as the last passed audit proved it, and, labelled as not yet
/// audited, the outstanding amount the ledger has committed since.
async fn supply(
    state: State,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, ANYONE).await?;
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
    let audited = passed.as_ref().map(|run| {
        json!({
            "audit_id": run.id,
            "height": run.outcome.height,
            "block_hash": run.outcome.block_hash.map(hex::encode),
            "audited_at_ms": run.finished_unix_ms,
            "issued": run.outcome.issued.to_string(),
            "redeemed": run.outcome.redeemed.to_string(),
            "outstanding": run.outcome.outstanding,
            "unspent_notes": run.outcome.unspent_notes,
        })
    });
    Ok(HttpResponse::Ok().json(json!({
        "audited": audited,
        "unaudited": {
            "height": head.next_height.checked_sub(1),
            "outstanding": head.outstanding,
            "note": "what the ledger has committed, not yet proven by an audit",
        },
        "supply_ceiling": head.supply_ceiling,
        "last_audit": last.as_ref().map(audit_run_view),
        "running_audit": state.running_audit(),
    })))
}

/// Starts a full audit (journal replay, re-verification of every transaction,
/// every table compared) in the background: `202` with its status resource.
async fn start_audit(
    state: State,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, OFFICERS).await?;
    no_body(&body)?;
    let ledger = state.get_ref().clone();
    let run = blocking(move || {
        let id = ledger.start_audit(AuditTrigger::Request)?;
        ledger
            .store()
            .audit_run(id)?
            .ok_or_else(|| ApiError::internal("the audit run just started is not recorded"))
    })
    .await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/audits/{}", run.id)))
        .json(audit_run_view(&run)))
}

async fn get_audit(
    state: State,
    req: HttpRequest,
    body: web::Payload,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, ANYONE).await?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("bad_audit_id", "an audit id is a positive integer"))?;
    let ledger = state.get_ref().clone();
    let run = blocking(move || Ok(ledger.store().audit_run(id)?)).await?;
    let run =
        run.ok_or_else(|| ApiError::not_found("unknown_audit", "no audit run has this id"))?;
    Ok(HttpResponse::Ok().json(audit_run_view(&run)))
}

fn block_view(block: &crate::store::StoredBlock) -> Result<serde_json::Value, ApiError> {
    let header =
        ledger_core::BlockHeader::from_bytes(&block.sealed.header).map_err(ApiError::internal)?;
    Ok(json!({
        "height": block.height,
        "hash": hex::encode(block.sealed.hash),
        "header": header,
        "header_bytes": hex::encode(&block.sealed.header),
        "signature": hex::encode(&block.sealed.signature),
    }))
}

async fn latest_block(
    state: State,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, ANYONE).await?;
    let ledger = state.get_ref().clone();
    let block = blocking(move || Ok(ledger.store().latest_block()?)).await?;
    let block = block.ok_or_else(|| ApiError::not_found("no_blocks", "the journal is empty"))?;
    Ok(HttpResponse::Ok().json(block_view(&block)?))
}

async fn get_block(
    state: State,
    req: HttpRequest,
    body: web::Payload,
    height: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body).await?;
    authenticate(&state, &req, &body, ANYONE).await?;
    let height: u64 = height.parse().map_err(|_| {
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
    view["transactions"] = json!(ids.iter().map(hex::encode).collect::<Vec<_>>());
    Ok(HttpResponse::Ok().json(view))
}

//! A typed client for the ledger API, signing every request with the caller's key.
//!
//! Every request has one deadline, the client's timeout, for the whole
//! exchange: connecting, sending, and reading the answer to its last byte.

use crate::issuance::issuance_reference;
use crate::sign::{now_ms, sign_request};
use crate::wire::{
    BlockView, Committed, ErrorBody, EventsPage, LedgerInfo, NoteView, ParticipantList,
    ProposalView, ProposeRequest, TransactionView,
};
use ledger_core::governance::{Action, Governance, Member, Role};
use ledger_core::{Amount, NoteId, PublicKey, Receipt, SecretKey, Signature, Transaction, TxId};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the ledger answered {status}: {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The request did not get an answer: the message names the URL and the
    /// cause (refused, timed out, the host unknown, TLS).
    // No `#[source]`: the message already carries the cause once.
    #[error("{}", transport_message(.0))]
    Transport(reqwest::Error),
    #[error("unexpected answer from the ledger: {0}")]
    Decode(String),
}

/// `cannot reach the ledger at URL: CAUSE`, the cause found down the error's
/// `source()` chain (reqwest's own message, `error sending request for url`,
/// names none).
fn transport_message(error: &reqwest::Error) -> String {
    let deadline = deadline_of(error);
    let broke_off = match deadline {
        Some(deadline) => deadline.answer_started,
        None => error.is_body() || error.is_decode(),
    };
    let doing = if broke_off {
        "the answer broke off from the ledger"
    } else {
        "cannot reach the ledger"
    };
    let cause = match deadline {
        Some(deadline) => deadline.to_string(),
        None => transport_cause(error),
    };
    match error.url() {
        Some(url) => format!("{doing} at {url}: {cause}"),
        None => format!("{doing}: {cause}"),
    }
}

fn transport_cause(error: &reqwest::Error) -> String {
    let mut dns = false;
    let mut innermost = None;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        // hyper-util's connector labels a failed lookup so (`ConnectError`).
        dns |= text == "dns error";
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => return "the connection was reset".into(),
                std::io::ErrorKind::TimedOut => return "timed out connecting".into(),
                _ => {}
            }
        }
        innermost = Some(text);
        source = cause.source();
    }
    // The timeout of a reqwest client other than this one's (whose own
    // deadline is a `Deadline`): how long it was is not known here.
    if error.is_timeout() {
        return "timed out".into();
    }
    let innermost = innermost.unwrap_or_else(|| error.to_string());
    if dns {
        let host = error.url().and_then(|url| url.host_str()).unwrap_or("?");
        return format!("cannot resolve host {host}: {innermost}");
    }
    let lower = innermost.to_lowercase();
    if ["certificate", "tls", "handshake", "corrupt message"]
        .iter()
        .any(|word| lower.contains(word))
    {
        return format!("TLS failed: {innermost}");
    }
    innermost
}

impl ClientError {
    /// The API error code, if the ledger answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of the answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            ClientError::Transport(error) => error.status().map(|status| status.as_u16()),
            ClientError::Decode(_) => None,
        }
    }

    /// Whether the same request may succeed if sent again later: the request
    /// got no answer (refused, timed out, reset, the answer broke off), or the
    /// ledger or a proxy in front of it said it is overloaded or away (429,
    /// 502, 503, 504). Not an answer the ledger gave on purpose (another
    /// 4xx or 5xx), an answer that cannot be read, or a request that could
    /// not be built or was redirected.
    ///
    /// It says nothing of whether resending is safe: `submit` is (the ledger
    /// answers a resubmission with the first receipt), `propose` is not (a
    /// proposal whose answer was lost may exist: look before proposing again).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Api { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            // A request error is one in connecting, sending or waiting (the
            // timeouts among them); a body or decode error, the answer broke off.
            ClientError::Transport(error) => {
                error.is_request() || error.is_body() || error.is_decode()
            }
            ClientError::Decode(_) => false,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> ClientError {
        ClientError::Transport(e)
    }
}

/// The client's deadline passed: how long it waited, and whether the answer
/// had begun to arrive.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("timed out: no answer within {}", duration_text(*.after))]
struct Deadline {
    after: Duration,
    answer_started: bool,
}

/// `60 s`, or `1500 ms` when not a whole number of seconds.
fn duration_text(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

fn deadline_of(error: &reqwest::Error) -> Option<Deadline> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let deadline = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<Deadline>());
        if let Some(deadline) = deadline {
            return Some(*deadline);
        }
        source = cause.source();
    }
    None
}

/// [`ClientError::Transport`] holds a `reqwest::Error` (callers build it and
/// match on it), but reqwest has no public constructor and its own timeout
/// error does not say how long it waited. So the client keeps its own
/// deadline and, when it passes, makes the `reqwest::Error` the one way
/// reqwest allows: by reading a body that fails — with
/// `io::ErrorKind::TimedOut` carrying the [`Deadline`], so `is_timeout()`
/// holds for it and [`transport_message`] says how long it waited.
async fn deadline_error(url: reqwest::Url, deadline: Deadline) -> reqwest::Error {
    let failure = std::io::Error::new(std::io::ErrorKind::TimedOut, deadline);
    let body = reqwest::Body::wrap(FailingBody(Some(failure)));
    reqwest::Response::from(http::Response::new(body))
        .bytes()
        .await
        .expect_err("a body whose first frame is an error fails")
        .with_url(url)
}

/// A response body whose first frame is the error it holds.
struct FailingBody(Option<std::io::Error>);

impl http_body::Body for FailingBody {
    type Data = &'static [u8];
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<&'static [u8]>, std::io::Error>>> {
        Poll::Ready(self.0.take().map(Err))
    }
}

/// `future`, unless `deadline` passes first (`None`: it did).
async fn before<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}

/// How long a request may take, answer included, unless the client was made
/// [`LedgerClient::with_timeout`].
pub const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct LedgerClient {
    base: String,
    key: SecretKey,
    timeout: Duration,
    http: reqwest::Client,
}

impl LedgerClient {
    /// A client of the ledger at `base` (`http://host:port`), signing with
    /// `key`, whose requests may take [`TIMEOUT`].
    pub fn new(base: &str, key: SecretKey) -> LedgerClient {
        LedgerClient::with_timeout(base, key, TIMEOUT)
    }

    /// A client whose requests may take `timeout`, answer included. A long
    /// poll of the event feed needs more than the `wait_ms` it asks for.
    pub fn with_timeout(base: &str, key: SecretKey, timeout: Duration) -> LedgerClient {
        LedgerClient {
            base: base.trim_end_matches('/').to_string(),
            key,
            timeout,
            http: reqwest::Client::builder()
                .build()
                .expect("a reqwest client with rustls"),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// How long a request may take, answer included.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends a signed request and reads the JSON answer into `T`; an answer
    /// other than 2xx is [`ClientError::Api`].
    async fn exchange<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<T, ClientError> {
        // Past what an `Instant` can hold there is no deadline.
        let deadline = Instant::now().checked_add(self.timeout);
        let headers = sign_request(
            &self.key,
            method.as_str(),
            path,
            &body,
            now_ms(),
            &mut rand::rngs::OsRng,
        );
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request
            .header("content-type", content_type)
            .body(body)
            .build()?;
        let url = request.url().clone();
        let timed_out = |answer_started| Deadline {
            after: self.timeout,
            answer_started,
        };
        let Some(response) = before(deadline, self.http.execute(request)).await else {
            return Err(deadline_error(url, timed_out(false)).await.into());
        };
        let response = response?;
        let status = response.status();
        let Some(bytes) = before(deadline, response.bytes()).await else {
            return Err(deadline_error(url, timed_out(true)).await.into());
        };
        // reqwest names no URL when the body breaks off; the message should.
        let bytes = bytes.map_err(|e| match e.url() {
            Some(_) => e,
            None => e.with_url(url),
        })?;
        if !status.is_success() {
            let error: ErrorBody = serde_json::from_slice(&bytes).unwrap_or(ErrorBody {
                code: "unknown".into(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
            });
            return Err(ClientError::Api {
                status: status.as_u16(),
                code: error.code,
                message: error.message,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.exchange(Method::GET, path, Vec::new(), "application/json")
            .await
    }

    /// Sends a signed request; `body` is JSON or raw bytes.
    pub async fn request_raw(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Value, ClientError> {
        self.exchange(method, path, body, content_type).await
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let body = body
            .map(|b| serde_json::to_vec(b).expect("JSON values serialise"))
            .unwrap_or_default();
        self.request_raw(method, path, body, "application/json")
            .await
    }

    fn decode<T: DeserializeOwned>(value: Value) -> Result<T, ClientError> {
        serde_json::from_value(value).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `GET /v1/ledger`: the ledger key and the governance in force.
    pub async fn info(&self) -> Result<LedgerInfo, ClientError> {
        self.get("/v1/ledger").await
    }

    pub async fn ledger_key(&self) -> Result<PublicKey, ClientError> {
        let info = self.request(Method::GET, "/v1/ledger", None).await?;
        let text = info["ledger_key"]
            .as_str()
            .ok_or_else(|| ClientError::Decode("ledger_key".into()))?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|e| ClientError::Decode(e.to_string()))?;
        PublicKey::from_bytes(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// How many governance entries the journal holds: the `sequence` the next
    /// entry must carry.
    pub async fn governance_sequence(&self) -> Result<u64, ClientError> {
        let info = self.request(Method::GET, "/v1/ledger", None).await?;
        info["governance_sequence"]
            .as_u64()
            .ok_or_else(|| ClientError::Decode("governance_sequence".into()))
    }

    /// `GET /v1/participants`: every participant, officers and banks.
    pub async fn participants_list(&self) -> Result<ParticipantList, ClientError> {
        self.get("/v1/participants").await
    }

    /// Journals a governance action approved by this client's key and by
    /// `cosigners` (other officers' keys, for actions that need the threshold).
    pub async fn govern(
        &self,
        action: Action,
        cosigners: &[SecretKey],
    ) -> Result<Value, ClientError> {
        let mut entry = Governance::new(self.governance_sequence().await?, action);
        entry.approve(&self.key, &mut rand::rngs::OsRng);
        for cosigner in cosigners {
            if cosigner.public_key() != self.key.public_key() {
                entry.approve(cosigner, &mut rand::rngs::OsRng);
            }
        }
        let body = serde_json::to_value(&entry).expect("entries serialise");
        self.request(Method::POST, "/v1/governance", Some(&body))
            .await
    }

    /// Admits a participant (a bank needs one officer's approval, an officer
    /// the threshold's: pass the other officers' keys as `cosigners`).
    pub async fn admit(
        &self,
        id: &str,
        name: &str,
        role: Role,
        key: &PublicKey,
        view_key: Option<&PublicKey>,
        cosigners: &[SecretKey],
    ) -> Result<Value, ClientError> {
        let member = Member {
            role,
            id: id.to_string(),
            name: name.to_string(),
            key: *key,
            view_key: view_key.copied(),
        };
        self.govern(Action::Admit { member }, cosigners).await
    }

    pub async fn suspend(&self, id: &str, cosigners: &[SecretKey]) -> Result<Value, ClientError> {
        self.govern(Action::Suspend { id: id.to_string() }, cosigners)
            .await
    }

    pub async fn propose(&self, bank_id: &str, amount: Amount) -> Result<Value, ClientError> {
        let body = json!({"bank_id": bank_id, "amount": amount});
        self.request(Method::POST, "/v1/issuances", Some(&body))
            .await
    }

    /// `POST /v1/issuances`: proposes to issue `amount` to the bank `bank_id`;
    /// officers' approvals follow. Not safe to resend blindly: a proposal
    /// whose answer was lost may exist.
    pub async fn propose_issuance(
        &self,
        bank_id: &str,
        amount: Amount,
    ) -> Result<ProposalView, ClientError> {
        let body = ProposeRequest {
            bank_id: bank_id.to_string(),
            amount,
        };
        let body = serde_json::to_vec(&body).expect("a proposal serialises");
        self.exchange(Method::POST, "/v1/issuances", body, "application/json")
            .await
    }

    pub async fn proposal(&self, id: &str) -> Result<Value, ClientError> {
        self.request(Method::GET, &format!("/v1/issuances/{id}"), None)
            .await
    }

    /// Fetches the proposal, checks that the issue it would execute is the one
    /// the proposal describes (its reference derives from the proposal id, one
    /// output of the proposal's amount to the bank's current key), then signs
    /// its digest and approves. So an officer never signs an issue the ledger
    /// made up.
    pub async fn approve(&self, id: &str) -> Result<Value, ClientError> {
        let proposal = self.proposal(id).await?;
        let issue: ledger_core::Issue = Self::decode(proposal["issue"].clone())?;
        let mut proposal_id = [0u8; 16];
        hex::decode_to_slice(id, &mut proposal_id)
            .map_err(|_| ClientError::Decode("proposal id".into()))?;
        let reference = issuance_reference(&proposal_id);
        let amount = proposal["amount"].as_u64();
        let participants = self.request(Method::GET, "/v1/participants", None).await?;
        let bank_key = participants["participants"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["id"] == proposal["bank_id"]))
            .and_then(|bank| bank["key"].as_str())
            .map(str::to_owned);
        let matches = issue.reference.to_bytes() == reference
            && issue.outputs.len() == 1
            && Some(issue.outputs[0].value.minor_units()) == amount
            && bank_key.as_deref() == Some(hex::encode(issue.outputs[0].owner.as_bytes()).as_str());
        if !matches {
            return Err(ClientError::Decode(format!(
                "the issue served for proposal {id} is not the proposal's (reference, amount or \
                 the bank's key differ): refusing to sign it"
            )));
        }
        let signature: Signature = self.key.sign(
            ledger_core::Purpose::Officer,
            &issue.digest(),
            &mut rand::rngs::OsRng,
        );
        let body = json!({"signature": signature});
        self.request(
            Method::POST,
            &format!("/v1/issuances/{id}/approvals"),
            Some(&body),
        )
        .await
    }

    pub async fn submit(&self, tx: &Transaction) -> Result<Receipt, ClientError> {
        Ok(self.submit_committed(tx).await?.receipt)
    }

    /// `POST /v1/transactions` (banks): a transfer or a redeem, in the binary
    /// encoding; answers once it is in a sealed block. Safe to resend: the
    /// ledger answers a transaction it committed before with the same receipt.
    pub async fn submit_committed(&self, tx: &Transaction) -> Result<Committed, ClientError> {
        self.exchange(
            Method::POST,
            "/v1/transactions",
            tx.encode(),
            "application/octet-stream",
        )
        .await
    }

    pub async fn transaction(&self, id: &TxId) -> Result<Value, ClientError> {
        self.request(Method::GET, &format!("/v1/transactions/{id}"), None)
            .await
    }

    /// `GET /v1/transactions/{id}`: a committed transaction and its receipt.
    pub async fn transaction_view(&self, id: &TxId) -> Result<TransactionView, ClientError> {
        self.get(&format!("/v1/transactions/{id}")).await
    }

    pub async fn note(&self, id: &NoteId) -> Result<Value, ClientError> {
        self.request(Method::GET, &format!("/v1/notes/{id}"), None)
            .await
    }

    /// `GET /v1/notes/{id}`: who owns the note, its commitment, whether it is spent.
    pub async fn note_view(&self, id: &NoteId) -> Result<NoteView, ClientError> {
        self.get(&format!("/v1/notes/{id}")).await
    }

    pub async fn events(
        &self,
        after: u64,
        owner: Option<&PublicKey>,
        wait_ms: u64,
    ) -> Result<Value, ClientError> {
        let path = events_path(after, owner, None, wait_ms);
        self.request(Method::GET, &path, None).await
    }

    /// `GET /v1/events`: the notes created and spent after `after`, in commit
    /// order, only `owner`'s if given, at most `limit` (the ledger's default
    /// if not); waits up to `wait_ms` for one if there is none yet. Ask again
    /// with `after = next`.
    pub async fn events_page(
        &self,
        after: u64,
        owner: Option<&PublicKey>,
        limit: Option<u32>,
        wait_ms: u64,
    ) -> Result<EventsPage, ClientError> {
        self.get(&events_path(after, owner, limit, wait_ms)).await
    }

    /// `GET /v1/blocks/{height}`: a sealed block with its transactions' ids.
    pub async fn block(&self, height: u64) -> Result<BlockView, ClientError> {
        self.get(&format!("/v1/blocks/{height}")).await
    }

    /// `GET /v1/blocks/latest`: the newest sealed block; `None` while the
    /// journal is empty (the ledger answers 404 `no_blocks`).
    pub async fn latest_block(&self) -> Result<Option<BlockView>, ClientError> {
        match self.get("/v1/blocks/latest").await {
            Ok(block) => Ok(Some(block)),
            Err(e) if e.status() == Some(404) && e.code() == Some("no_blocks") => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn supply(&self) -> Result<Value, ClientError> {
        self.request(Method::GET, "/v1/supply", None).await
    }

    /// Starts a full audit and waits for it to finish (polling its status);
    /// returns the finished run (`state` is `passed` or `failed`). If one is
    /// running already, waits for that one.
    pub async fn audit(&self) -> Result<Value, ClientError> {
        // A running audit is waited for; one that ends between the refusal
        // and the look-up is no reason to give up: ask again (a few times).
        let mut attempts = 0;
        let run = loop {
            match self.request(Method::POST, "/v1/audit", None).await {
                Ok(run) => break run,
                Err(e) if e.code() == Some("audit_running") && attempts < 50 => {
                    attempts += 1;
                    let supply = self.supply().await?;
                    if let Some(id) = supply["running_audit"].as_u64() {
                        break json!({"id": id, "state": "running"});
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let id = run["id"]
            .as_u64()
            .ok_or_else(|| ClientError::Decode("audit id".into()))?;
        let mut wait = Duration::from_millis(20);
        loop {
            let run = self
                .request(Method::GET, &format!("/v1/audits/{id}"), None)
                .await?;
            if run["state"] != "running" {
                return Ok(run);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(1));
        }
    }
}

/// The target of `GET /v1/events`.
fn events_path(after: u64, owner: Option<&PublicKey>, limit: Option<u32>, wait_ms: u64) -> String {
    let mut path = format!("/v1/events?after={after}&wait_ms={wait_ms}");
    if let Some(limit) = limit {
        path.push_str(&format!("&limit={limit}"));
    }
    if let Some(owner) = owner {
        path.push_str(&format!("&owner={}", hex::encode(owner.as_bytes())));
    }
    path
}

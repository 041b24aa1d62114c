//! A typed client for the ledger API, signing every request with the caller's key.

use crate::auth::sign_request;
use crate::ledger::now_ms;
use ledger_core::governance::{Action, Governance, Member, Role};
use ledger_core::{Amount, PublicKey, Receipt, SecretKey, Signature, Transaction};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

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
    let cause = transport_cause(error);
    let doing = if error.is_body() || error.is_decode() {
        "the answer broke off from the ledger"
    } else {
        "cannot reach the ledger"
    };
    match error.url() {
        Some(url) => format!("{doing} at {url}: {cause}"),
        None => format!("{doing}: {cause}"),
    }
}

fn transport_cause(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("timed out: no answer within {} s", TIMEOUT.as_secs());
    }
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
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> ClientError {
        ClientError::Transport(e)
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// How long a request may take, answer included.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Clone)]
pub struct LedgerClient {
    base: String,
    key: SecretKey,
    http: reqwest::Client,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Submitted {
    pub receipt: Receipt,
}

impl LedgerClient {
    pub fn new(base: &str, key: SecretKey) -> LedgerClient {
        LedgerClient {
            base: base.trim_end_matches('/').to_string(),
            key,
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .expect("a reqwest client with rustls"),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Sends a signed request; `body` is JSON or raw bytes.
    pub async fn request_raw(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Value, ClientError> {
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
        let response = request
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
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
        let reference = crate::ledger::issuance_reference(&crate::store::ProposalId(proposal_id));
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
        let answer = self
            .request_raw(
                Method::POST,
                "/v1/transactions",
                tx.encode(),
                "application/octet-stream",
            )
            .await?;
        Ok(Self::decode::<Submitted>(answer)?.receipt)
    }

    pub async fn transaction(&self, id: &ledger_core::TxId) -> Result<Value, ClientError> {
        self.request(Method::GET, &format!("/v1/transactions/{id}"), None)
            .await
    }

    pub async fn note(&self, id: &ledger_core::NoteId) -> Result<Value, ClientError> {
        self.request(Method::GET, &format!("/v1/notes/{id}"), None)
            .await
    }

    pub async fn events(
        &self,
        after: u64,
        owner: Option<&PublicKey>,
        wait_ms: u64,
    ) -> Result<Value, ClientError> {
        let mut path = format!("/v1/events?after={after}&wait_ms={wait_ms}");
        if let Some(owner) = owner {
            path.push_str(&format!("&owner={}", hex::encode(owner.as_bytes())));
        }
        self.request(Method::GET, &path, None).await
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
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let id = run["id"]
            .as_u64()
            .ok_or_else(|| ClientError::Decode("audit id".into()))?;
        let mut wait = std::time::Duration::from_millis(20);
        loop {
            let run = self
                .request(Method::GET, &format!("/v1/audits/{id}"), None)
                .await?;
            if run["state"] != "running" {
                return Ok(run);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(1));
        }
    }
}

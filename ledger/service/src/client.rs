//! A typed client for the ledger API, signing every request with the caller's key.

use crate::auth::sign_request;
use crate::ledger::now_ms;
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
    // No `#[source]`: the message already carries the cause once.
    #[error("cannot reach the ledger: {0}")]
    Transport(reqwest::Error),
    #[error("unexpected answer from the ledger: {0}")]
    Decode(String),
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
                .timeout(std::time::Duration::from_secs(60))
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

    pub async fn admit(
        &self,
        id: &str,
        name: &str,
        role: &str,
        key: &PublicKey,
        view_key: Option<&PublicKey>,
    ) -> Result<Value, ClientError> {
        let body = json!({"id": id, "name": name, "role": role, "key": key, "view_key": view_key});
        self.request(Method::POST, "/v1/participants", Some(&body))
            .await
    }

    pub async fn suspend(&self, id: &str) -> Result<Value, ClientError> {
        self.request(
            Method::POST,
            &format!("/v1/participants/{id}/suspend"),
            None,
        )
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

    /// Fetches the proposal, checks the issue it would execute pays `expect` (if
    /// given) and that the digest is the issue's, then signs and approves.
    pub async fn approve(&self, id: &str) -> Result<Value, ClientError> {
        let proposal = self.proposal(id).await?;
        let issue: ledger_core::Issue = Self::decode(proposal["issue"].clone())?;
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

    pub async fn audit(&self) -> Result<Value, ClientError> {
        self.request(Method::POST, "/v1/audit", None).await
    }
}

//! [`WalletApiClient`]: typed calls to the wallet API as an app makes them
//! (its app key on every call, a wallet's token on the wallet's routes), for
//! `cbdc demo`, the benchmark and the tests. Every answer other than 2xx is
//! a [`ClientError`] with the API's
//! `code`, `message` and extra fields.

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::auth::APP_KEY_HEADER;
use crate::wire::*;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the wallet API answered {status} {code}: {message}")]
    Answered {
        status: u16,
        code: String,
        message: String,
        extra: serde_json::Map<String, Value>,
        retry_after: Option<u64>,
    },
    #[error("the wallet API could not be reached: {0}")]
    Transport(String),
    #[error("the wallet API's answer does not parse: {0}")]
    Decode(String),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Answered { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Answered { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A wallet as an app holds it: its id and token.
#[derive(Debug, Clone)]
pub struct WalletSession {
    pub wallet_id: String,
    pub token: String,
}

#[derive(Clone)]
pub struct WalletApiClient {
    http: reqwest::Client,
    base: String,
    app_key: String,
    timeout: Duration,
}

impl WalletApiClient {
    pub fn new(base: &str, app_key: &str) -> WalletApiClient {
        WalletApiClient {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            base: base.trim_end_matches('/').to_string(),
            app_key: app_key.to_string(),
            timeout: Duration::from_secs(60),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// One call: `token` on a wallet's routes, `key` as `Idempotency-Key`.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let bytes = self.call_bytes(method, path, token, key, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(format!("{path}: {e}")))
    }

    /// One call whose answer is not JSON (a QR code).
    pub async fn call_bytes<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<&B>,
    ) -> Result<Vec<u8>, ClientError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(APP_KEY_HEADER, &self.app_key)
            .timeout(self.timeout);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let mut extra = match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_owned));
        Err(ClientError::Answered {
            status: status.as_u16(),
            code: text(extra.remove("code")).unwrap_or_else(|| "unexpected_answer".into()),
            message: text(extra.remove("message")).unwrap_or_default(),
            extra,
            retry_after,
        })
    }

    pub async fn banks(&self) -> Result<Vec<BankView>, ClientError> {
        self.call::<(), _>(Method::GET, "/v1/banks", None, None, None)
            .await
    }

    pub async fn open_wallet(&self, bank: &str, phone: &str) -> Result<OpenedWallet, ClientError> {
        let body = OpenWalletRequest {
            bank: bank.to_string(),
            phone: phone.to_string(),
        };
        self.call(Method::POST, "/v1/wallets", None, None, Some(&body))
            .await
    }

    pub async fn wallet(&self, w: &WalletSession) -> Result<WalletInfo, ClientError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/wallets/{}", w.wallet_id),
            Some(&w.token),
            None,
            None,
        )
        .await
    }

    pub async fn history(
        &self,
        w: &WalletSession,
        before: Option<i64>,
    ) -> Result<EntriesPage, ClientError> {
        let query = before.map(|b| format!("?before={b}")).unwrap_or_default();
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/wallets/{}/history{query}", w.wallet_id),
            Some(&w.token),
            None,
            None,
        )
        .await
    }

    pub async fn pay(
        &self,
        w: &WalletSession,
        key: &str,
        body: &PayBody,
    ) -> Result<Payment, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/wallets/{}/payments", w.wallet_id),
            Some(&w.token),
            Some(key),
            Some(body),
        )
        .await
    }

    pub async fn payment(&self, w: &WalletSession, id: i64) -> Result<Payment, ClientError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/wallets/{}/payments/{id}", w.wallet_id),
            Some(&w.token),
            None,
            None,
        )
        .await
    }

    /// `what` is `fund` or `defund`.
    pub async fn move_money(
        &self,
        w: &WalletSession,
        what: &str,
        key: &str,
        amount: u64,
    ) -> Result<Payment, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/wallets/{}/{what}", w.wallet_id),
            Some(&w.token),
            Some(key),
            Some(&AmountBody { amount }),
        )
        .await
    }

    pub async fn create_request(
        &self,
        w: &WalletSession,
        body: &NewPaymentRequest,
    ) -> Result<PaymentRequestView, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/wallets/{}/requests", w.wallet_id),
            Some(&w.token),
            None,
            Some(body),
        )
        .await
    }

    pub async fn request(&self, id: &str) -> Result<PaymentRequestView, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/v1/requests/{id}"), None, None, None)
            .await
    }

    /// The request's QR code, `png` or `svg`.
    pub async fn request_qr(&self, id: &str, format: &str) -> Result<Vec<u8>, ClientError> {
        self.call_bytes::<()>(
            Method::GET,
            &format!("/v1/requests/{id}/qr.{format}"),
            None,
            None,
            None,
        )
        .await
    }
}

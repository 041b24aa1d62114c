//! [`GatewayClient`]: typed calls to a bank gateway's internal API (what a
//! wallet API or a bank's own channels use) and operator API (what a bank's
//! staff, the demo and the tests use), with one deadline per request.
//!
//! Every answer other than 2xx is a [`GatewayError`]: the gateway's own
//! refusal (`code`, `message`, and the refusal's extra fields such as
//! `limit` and `remaining`), or a transport failure. Nothing is retried here:
//! the calls that move money carry an `Idempotency-Key`, so the caller may
//! send the same call again and get the first result.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::wire::*;

/// What a call to the gateway can end in besides its answer.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The gateway answered with an error body (any 4xx or 5xx).
    #[error("the gateway answered {status} {code}: {message}")]
    Answered {
        status: u16,
        code: String,
        message: String,
        /// The body's other fields (a refusal's `limit`, `remaining`,
        /// `payment_id`).
        extra: serde_json::Map<String, Value>,
        /// `Retry-After` in seconds, if the gateway sent one.
        retry_after: Option<u64>,
    },
    /// No answer: the connection failed or the deadline passed. A call
    /// with an idempotency key may have taken effect.
    #[error("the gateway could not be reached: {0}")]
    Transport(String),
    /// An answer that is not what the document says.
    #[error("the gateway's answer does not parse: {0}")]
    Decode(String),
}

impl GatewayError {
    /// The HTTP status of an answered error.
    pub fn status(&self) -> Option<u16> {
        match self {
            GatewayError::Answered { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error code of an answered error.
    pub fn code(&self) -> Option<&str> {
        match self {
            GatewayError::Answered { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the gateway refused the request itself (a 4xx other than
    /// 401 and 403, which say the caller's credentials are wrong): nothing
    /// moved, and the code is for the end customer.
    pub fn is_refusal(&self) -> bool {
        matches!(self, GatewayError::Answered { status, .. }
            if (400..500).contains(status) && *status != 401 && *status != 403)
    }

    /// Whether trying again later may succeed: no answer, a 5xx, or a 409
    /// `notes_in_flight`.
    pub fn is_retryable(&self) -> bool {
        match self {
            GatewayError::Transport(_) => true,
            GatewayError::Answered { status, code, .. } => {
                *status >= 500 || code == "notes_in_flight"
            }
            GatewayError::Decode(_) => false,
        }
    }
}

/// A client of one gateway (any replica behind one URL).
#[derive(Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    base: String,
    internal_token: String,
    operator_token: Option<String>,
    timeout: Duration,
}

/// The default deadline of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl GatewayClient {
    /// A client of the gateway at `base` (e.g. `http://127.0.0.1:7401`)
    /// with a token of its internal API.
    pub fn new(base: &str, internal_token: &str) -> GatewayClient {
        GatewayClient {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .pool_max_idle_per_host(64)
                .build()
                .unwrap_or_default(),
            base: base.trim_end_matches('/').to_string(),
            internal_token: internal_token.to_string(),
            operator_token: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client, also able to call the operator API.
    pub fn with_operator_token(mut self, token: &str) -> GatewayClient {
        self.operator_token = Some(token.to_string());
        self
    }

    /// The same client with another deadline per request.
    pub fn with_timeout(mut self, timeout: Duration) -> GatewayClient {
        self.timeout = timeout;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        operator: bool,
        idempotency_key: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, GatewayError> {
        let token = if operator {
            self.operator_token.as_deref().ok_or_else(|| {
                GatewayError::Transport("no operator token configured for this client".into())
            })?
        } else {
            &self.internal_token
        };
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .timeout(self.timeout);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| GatewayError::Transport(e.to_string()))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| GatewayError::Transport(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| GatewayError::Decode(format!("{path}: {e}")));
        }
        Err(answered(status, &bytes, retry_after))
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        operator: bool,
    ) -> Result<T, GatewayError> {
        self.call::<(), T>(Method::GET, path, operator, None, None)
            .await
    }

    // ---- internal API ----

    /// Opens a wallet for the customer of `phone` (a new customer at the
    /// bank's lowest tier if the phone is new).
    pub async fn open_wallet(&self, phone: &str) -> Result<OpenedWallet, GatewayError> {
        let body = OpenWalletRequest {
            phone: phone.to_string(),
        };
        self.call(Method::POST, "/v1/wallets", false, None, Some(&body))
            .await
    }

    pub async fn wallet(&self, wallet_id: i64) -> Result<WalletView, GatewayError> {
        self.get(&format!("/v1/wallets/{wallet_id}"), false).await
    }

    pub async fn set_auto_topup(
        &self,
        wallet_id: i64,
        auto_topup: bool,
    ) -> Result<WalletView, GatewayError> {
        self.call(
            Method::PATCH,
            &format!("/v1/wallets/{wallet_id}"),
            false,
            None,
            Some(&WalletSettings { auto_topup }),
        )
        .await
    }

    /// One page of the wallet's history, newest first, entries older than
    /// `before` (the previous page's `next`).
    pub async fn history(
        &self,
        wallet_id: i64,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> Result<EntriesPage, GatewayError> {
        let mut query = Vec::new();
        if let Some(before) = before {
            query.push(format!("before={before}"));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        self.get(&format!("/v1/wallets/{wallet_id}/history{query}"), false)
            .await
    }

    /// The wallet's entries after the id `after`, oldest first (to follow
    /// a wallet).
    pub async fn history_after(
        &self,
        wallet_id: i64,
        after: i64,
        limit: u32,
    ) -> Result<EntriesPage, GatewayError> {
        self.get(
            &format!("/v1/wallets/{wallet_id}/history?after={after}&limit={limit}"),
            false,
        )
        .await
    }

    /// Pays `amount` to `to` from the wallet.
    pub async fn pay(
        &self,
        wallet_id: i64,
        idempotency_key: &str,
        to: &str,
        amount: u64,
    ) -> Result<PaymentView, GatewayError> {
        let body = PayRequest {
            to: to.to_string(),
            amount,
        };
        self.call(
            Method::POST,
            &format!("/v1/wallets/{wallet_id}/payments"),
            false,
            Some(idempotency_key),
            Some(&body),
        )
        .await
    }

    /// Moves `amount` from the wallet's linked deposit account into it.
    pub async fn fund(
        &self,
        wallet_id: i64,
        idempotency_key: &str,
        amount: u64,
    ) -> Result<PaymentView, GatewayError> {
        self.call(
            Method::POST,
            &format!("/v1/wallets/{wallet_id}/fund"),
            false,
            Some(idempotency_key),
            Some(&AmountRequest { amount }),
        )
        .await
    }

    /// Moves `amount` from the wallet back to its linked deposit account.
    pub async fn defund(
        &self,
        wallet_id: i64,
        idempotency_key: &str,
        amount: u64,
    ) -> Result<PaymentView, GatewayError> {
        self.call(
            Method::POST,
            &format!("/v1/wallets/{wallet_id}/defund"),
            false,
            Some(idempotency_key),
            Some(&AmountRequest { amount }),
        )
        .await
    }

    pub async fn payment(
        &self,
        wallet_id: i64,
        payment_id: i64,
    ) -> Result<PaymentView, GatewayError> {
        self.get(
            &format!("/v1/wallets/{wallet_id}/payments/{payment_id}"),
            false,
        )
        .await
    }

    // ---- operator API ----

    pub async fn customer(&self, customer_id: i64) -> Result<CustomerDetail, GatewayError> {
        self.get(&format!("/v1/operator/customers/{customer_id}"), true)
            .await
    }

    /// The customer holding the wallet of `address`.
    pub async fn customer_by_address(&self, address: &str) -> Result<CustomerDetail, GatewayError> {
        // An address is bech32 (letters and digits): nothing to escape.
        self.get(
            &format!("/v1/operator/customers/by-address?address={address}"),
            true,
        )
        .await
    }

    /// Sets a customer's KYC tier (a national id is required above the
    /// lowest tier).
    pub async fn set_tier(
        &self,
        customer_id: i64,
        tier: &str,
        national_id: Option<&str>,
    ) -> Result<CustomerDetail, GatewayError> {
        let body = TierRequest {
            tier: tier.to_string(),
            national_id: national_id.map(str::to_string),
        };
        self.call(
            Method::POST,
            &format!("/v1/operator/customers/{customer_id}/tier"),
            true,
            None,
            Some(&body),
        )
        .await
    }

    /// Opens a deposit account for the customer.
    pub async fn open_account(&self, customer_id: i64) -> Result<AccountView, GatewayError> {
        self.call::<(), _>(
            Method::POST,
            &format!("/v1/operator/customers/{customer_id}/accounts"),
            true,
            None,
            None,
        )
        .await
    }

    /// Books cash paid in at a branch to a deposit account (once per
    /// reference).
    pub async fn cash_deposit(
        &self,
        account_id: i64,
        amount: u64,
        reference: &str,
    ) -> Result<AccountView, GatewayError> {
        let body = CashRequest {
            amount,
            reference: reference.to_string(),
        };
        self.call(
            Method::POST,
            &format!("/v1/operator/accounts/{account_id}/deposits"),
            true,
            None,
            Some(&body),
        )
        .await
    }

    pub async fn account(&self, account_id: i64) -> Result<AccountDetail, GatewayError> {
        self.get(&format!("/v1/operator/accounts/{account_id}"), true)
            .await
    }

    /// Links a wallet to a deposit account of its customer (`None` unlinks).
    pub async fn link(
        &self,
        wallet_id: i64,
        account_id: Option<i64>,
    ) -> Result<WalletView, GatewayError> {
        self.call(
            Method::POST,
            &format!("/v1/operator/wallets/{wallet_id}/link"),
            true,
            None,
            Some(&LinkRequest { account_id }),
        )
        .await
    }

    pub async fn freeze(&self, wallet_id: i64) -> Result<WalletView, GatewayError> {
        self.call::<(), _>(
            Method::POST,
            &format!("/v1/operator/wallets/{wallet_id}/freeze"),
            true,
            None,
            None,
        )
        .await
    }

    pub async fn unfreeze(&self, wallet_id: i64) -> Result<WalletView, GatewayError> {
        self.call::<(), _>(
            Method::POST,
            &format!("/v1/operator/wallets/{wallet_id}/unfreeze"),
            true,
            None,
            None,
        )
        .await
    }

    pub async fn float(&self) -> Result<FloatView, GatewayError> {
        self.get("/v1/operator/float", true).await
    }

    /// The reconciliation report, as the gateway serves it.
    pub async fn reconciliation(&self) -> Result<Value, GatewayError> {
        self.get("/v1/operator/reconciliation", true).await
    }

    /// The bank's position proof, as the gateway serves it (the input of
    /// `cbdc audit --position`).
    pub async fn position(&self) -> Result<Value, GatewayError> {
        self.get("/v1/operator/position", true).await
    }

    /// `/readyz` answered 200.
    pub async fn ready(&self) -> bool {
        self.http
            .get(format!("{}/readyz", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|r| r.status() == StatusCode::OK)
            .unwrap_or(false)
    }
}

fn answered(status: StatusCode, bytes: &[u8], retry_after: Option<u64>) -> GatewayError {
    let mut extra = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let text = |v: Option<Value>| match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let code = text(extra.remove("code")).unwrap_or_else(|| "unexpected_answer".to_string());
    let message = text(extra.remove("message"))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned());
    GatewayError::Answered {
        status: status.as_u16(),
        code,
        message,
        extra,
        retry_after,
    }
}

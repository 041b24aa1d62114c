//! [`WalletApi`]: what the handlers call. It keeps the API's own records
//! (apps, wallets, tokens, idempotency keys, payment requests) and asks the
//! wallet's bank for everything about money.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use actix_web::http::StatusCode;
use gateway_client::wire::PaymentView;
use gateway_client::{GatewayClient, GatewayError};
use ledger_core::Address;

use crate::auth::{sha256, Limiters};
use crate::config::{BankRoute, WalletApiConfig};
use crate::error::ApiError;
use crate::ids;
use crate::metrics::Metrics;
use crate::store::{self, now_ms, request_state, RequestRow, Store, TokenRow, WalletRow};
use crate::uri::PaymentUri;
use crate::wire::*;

/// How long a claimed payment request waits before the resumer asks the
/// bank again about it.
pub const CLAIM_IDLE: Duration = Duration::from_secs(5);

pub struct WalletApi {
    pub config: WalletApiConfig,
    pub store: Store,
    banks: BTreeMap<String, (BankRoute, GatewayClient)>,
    pub limiters: Limiters,
    pub metrics: Metrics,
    /// Notification streams open now.
    pub streams: AtomicUsize,
}

/// What to pay: an address and an amount, or a payment request.
enum Target {
    Address {
        to: String,
        amount: u64,
    },
    Request {
        id: String,
        expect: Option<(String, Option<u64>)>,
    },
}

fn hash_parts(parts: &[&str]) -> Vec<u8> {
    let mut joined = Vec::new();
    for part in parts {
        joined.extend_from_slice(&u64::try_from(part.len()).unwrap_or(0).to_le_bytes());
        joined.extend_from_slice(part.as_bytes());
    }
    sha256(&joined)
}

fn check_amount(amount: u64) -> Result<u64, ApiError> {
    if amount == 0 || i64::try_from(amount).is_err() {
        return Err(ApiError::bad_request(
            "bad_amount",
            "an amount is 1 to 2^63 - 1 minor units",
        ));
    }
    Ok(amount)
}

fn check_address(text: &str) -> Result<String, ApiError> {
    text.parse::<Address>().map(|a| a.to_string()).map_err(|_| {
        ApiError::bad_request("bad_address", "the payee's address is not a cbdc1… address")
    })
}

/// 1 to 140 characters, no control characters (the URI's rule, §23).
pub fn check_reference(text: &str) -> Result<(), ApiError> {
    crate::uri::check_reference(text).map_err(|e| ApiError::bad_request(e.code, e.message))
}

/// A gateway's answer about a payment, as this API answers it.
pub fn payment(view: PaymentView, request_id: Option<String>) -> Payment {
    use gateway_client::wire::PaymentState as G;
    Payment {
        payment_id: view.id,
        kind: view.kind,
        amount: view.amount,
        to: view.to,
        state: match view.state {
            G::Final => PaymentState::Final,
            G::Pending => PaymentState::Pending,
            G::Failed => PaymentState::Failed,
            G::Refused => PaymentState::Refused,
        },
        tx_id: view.tx_id,
        receipt: view.receipt,
        pending_reason: view.pending_reason,
        payee: view.payee,
        topped_up: view.topped_up,
        request_id,
        created_ms: view.created_ms,
    }
}

impl WalletApi {
    pub fn new(config: WalletApiConfig, store: Store) -> WalletApi {
        let banks = config
            .banks
            .iter()
            .map(|b| {
                let client = GatewayClient::new(&b.url, &b.internal_token)
                    .with_timeout(config.gateway_timeout);
                (b.id.clone(), (b.clone(), client))
            })
            .collect();
        WalletApi {
            limiters: Limiters::new(config.app_rate, config.token_rate),
            config,
            store,
            banks,
            metrics: Metrics::new(),
            streams: AtomicUsize::new(0),
        }
    }

    pub fn banks(&self) -> Vec<BankView> {
        self.banks
            .values()
            .map(|(b, _)| BankView {
                id: b.id.clone(),
                name: b.name.clone(),
            })
            .collect()
    }

    /// The gateway of the bank a wallet is at.
    pub fn gateway(&self, bank: &str) -> Result<&GatewayClient, ApiError> {
        self.banks.get(bank).map(|(_, c)| c).ok_or_else(|| {
            ApiError::internal(format!("wallet at bank {bank}, which is not configured"))
        })
    }

    /// Whether every bank's gateway answers `/readyz`.
    pub async fn banks_ready(&self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for (id, (_, client)) in &self.banks {
            out.push((id.clone(), client.ready().await));
        }
        out
    }

    // ---- apps ----

    pub async fn register_app(&self, name: String) -> Result<AppCreated, ApiError> {
        let n = name.chars().count();
        if n == 0 || n > 100 || name.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "bad_name",
                "an app's name is 1 to 100 characters, none of them control characters",
            ));
        }
        let id = ids::new_app_id();
        let secret = ids::new_app_secret();
        let row = store::AppRow {
            id: id.clone(),
            name: name.clone(),
            key_hash: sha256(secret.as_bytes()),
            created_ms: now_ms(),
            revoked_ms: None,
        };
        self.store
            .write_async(move |c| store::insert_app(c, &row))
            .await?;
        tracing::info!(target: "cbdc::apps", app = %id, "app registered");
        Ok(AppCreated {
            app_key: format!("{id}.{secret}"),
            app_id: id,
            name,
        })
    }

    // ---- wallets ----

    pub async fn open_wallet(
        &self,
        app_id: &str,
        bank: &str,
        phone: &str,
    ) -> Result<OpenedWallet, ApiError> {
        let Some((_, gateway)) = self.banks.get(bank) else {
            return Err(ApiError::not_found(
                "unknown_bank",
                "no such bank here: GET /v1/banks lists them",
            ));
        };
        let opened = gateway
            .open_wallet(phone)
            .await
            .map_err(|e| ApiError::from_gateway(bank, e))?;
        let now = now_ms();
        let token = ids::new_token();
        let ttl = i64::try_from(self.config.token_ttl.as_millis()).unwrap_or(i64::MAX);
        let wallet = WalletRow {
            id: ids::new_wallet_id(),
            app_id: app_id.to_string(),
            bank_id: bank.to_string(),
            gateway_wallet_id: opened.wallet_id,
            address: opened.address.clone(),
            created_ms: now,
        };
        let token_row = TokenRow {
            hash: sha256(token.as_bytes()),
            wallet_id: wallet.id.clone(),
            app_id: app_id.to_string(),
            created_ms: now,
            expires_ms: now.saturating_add(ttl),
            revoked_ms: None,
        };
        let expires_ms = token_row.expires_ms;
        let id = wallet.id.clone();
        self.store
            .write_async(move |c| store::insert_wallet(c, &wallet, &token_row))
            .await?;
        Ok(OpenedWallet {
            wallet_id: id,
            bank: bank.to_string(),
            address: opened.address,
            tier: opened.tier,
            token,
            token_expires_ms: expires_ms,
        })
    }

    pub async fn wallet_info(&self, wallet: &WalletRow) -> Result<WalletInfo, ApiError> {
        let view = self
            .gateway(&wallet.bank_id)?
            .wallet(wallet.gateway_wallet_id)
            .await
            .map_err(|e| self.bank_error(wallet, e))?;
        Ok(WalletInfo {
            wallet_id: wallet.id.clone(),
            bank: wallet.bank_id.clone(),
            address: view.address,
            tier: view.tier,
            balance: view.balance,
            held: view.held,
            frozen: view.frozen,
            auto_topup: view.auto_topup,
            linked_account: view.deposit_account_id.is_some(),
            limits: view.limits,
            paid_today: view.paid_today,
            left_today: view.left_today,
        })
    }

    /// A gateway's error about one of our wallets: a 404 means the bank no
    /// longer knows a wallet we opened there (not the caller's fault).
    fn bank_error(&self, wallet: &WalletRow, e: GatewayError) -> ApiError {
        if e.status() == Some(404) && e.code() == Some("unknown_wallet") {
            return ApiError::internal(format!(
                "bank {} does not know wallet {} (its id {})",
                wallet.bank_id, wallet.id, wallet.gateway_wallet_id
            ));
        }
        ApiError::from_gateway(&wallet.bank_id, e)
    }

    pub async fn history(
        &self,
        wallet: &WalletRow,
        before: Option<i64>,
        limit: u32,
    ) -> Result<EntriesPage, ApiError> {
        self.gateway(&wallet.bank_id)?
            .history(wallet.gateway_wallet_id, before, Some(limit))
            .await
            .map_err(|e| self.bank_error(wallet, e))
    }

    pub async fn payment(&self, wallet: &WalletRow, payment_id: i64) -> Result<Payment, ApiError> {
        let view = self
            .gateway(&wallet.bank_id)?
            .payment(wallet.gateway_wallet_id, payment_id)
            .await
            .map_err(|e| ApiError::from_gateway(&wallet.bank_id, e))?;
        Ok(payment(view, None))
    }

    /// Records `key` for this request, or refuses a key used with another.
    async fn claim_key(
        &self,
        wallet: &WalletRow,
        key: &str,
        hash: Vec<u8>,
    ) -> Result<(), ApiError> {
        let (id, key) = (wallet.id.clone(), key.to_string());
        let fresh = self
            .store
            .write_async(move |c| store::claim_key(c, &id, &key, &hash, now_ms()))
            .await?;
        if fresh {
            Ok(())
        } else {
            Err(ApiError::conflict(
                "idempotency_conflict",
                "this Idempotency-Key was used with another request",
            ))
        }
    }

    fn count(&self, result: &Result<Payment, ApiError>) {
        let outcome = match result {
            Ok(p) => match p.state {
                PaymentState::Final => "final",
                PaymentState::Pending => "pending",
                PaymentState::Failed => "failed",
                PaymentState::Refused => "refused",
            },
            Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => "unanswered",
            Err(_) => "refused",
        };
        self.metrics.payment(outcome);
    }

    // ---- paying ----

    pub async fn pay(
        &self,
        wallet: &WalletRow,
        key: &str,
        body: PayBody,
    ) -> Result<Payment, ApiError> {
        let result = self.pay_inner(wallet, key, body).await;
        self.count(&result);
        result
    }

    async fn pay_inner(
        &self,
        wallet: &WalletRow,
        key: &str,
        body: PayBody,
    ) -> Result<Payment, ApiError> {
        let target = match (body.to, body.request_id, body.uri) {
            (Some(to), None, None) => {
                let amount = body.amount.ok_or_else(|| {
                    ApiError::bad_request("amount_required", "paying an address needs an amount")
                })?;
                Target::Address {
                    to: check_address(&to)?,
                    amount: check_amount(amount)?,
                }
            }
            (None, Some(id), None) => {
                if body.amount.is_some() {
                    return Err(ApiError::bad_request(
                        "bad_body",
                        "a payment request fixes its amount: send request_id alone",
                    ));
                }
                Target::Request { id, expect: None }
            }
            (None, None, Some(uri)) => self.target_of_uri(&uri, body.amount)?,
            _ => {
                return Err(ApiError::bad_request(
                    "bad_body",
                    "send exactly one of `to` (with `amount`), `request_id` or `uri`",
                ))
            }
        };
        match target {
            Target::Address { to, amount } => {
                let hash = hash_parts(&["pay", "address", &to, &amount.to_string()]);
                self.claim_key(wallet, key, hash).await?;
                let view = self
                    .gateway(&wallet.bank_id)?
                    .pay(wallet.gateway_wallet_id, key, &to, amount)
                    .await
                    .map_err(|e| ApiError::from_gateway(&wallet.bank_id, e))?;
                Ok(payment(view, None))
            }
            Target::Request { id, expect } => self.pay_request(wallet, key, &id, expect).await,
        }
    }

    fn target_of_uri(&self, text: &str, amount: Option<u64>) -> Result<Target, ApiError> {
        let uri: PaymentUri = text.parse().map_err(|e: crate::uri::UriError| {
            ApiError::bad_request(e.code, format!("the payment URI: {}", e.message))
        })?;
        let address = uri.address.to_string();
        if let (Some(a), Some(b)) = (uri.amount, amount) {
            if a != b {
                return Err(ApiError::bad_request(
                    "uri_mismatch",
                    "the body's amount differs from the URI's",
                ));
            }
        }
        if let Some(id) = uri.request_id {
            return Ok(Target::Request {
                id,
                expect: Some((address, uri.amount.or(amount))),
            });
        }
        if let Some(exp) = uri.expires_s {
            let now_s = u64::try_from(now_ms() / 1000).unwrap_or(0);
            if exp <= now_s {
                return Err(ApiError::conflict(
                    "request_expired",
                    "the payment URI has expired",
                ));
            }
        }
        let amount = uri.amount.or(amount).ok_or_else(|| {
            ApiError::bad_request("amount_required", "the URI names no amount: send `amount`")
        })?;
        Ok(Target::Address {
            to: address,
            amount: check_amount(amount)?,
        })
    }

    /// Pays a payment request exactly once (README.md, "Paying").
    async fn pay_request(
        &self,
        payer: &WalletRow,
        key: &str,
        id: &str,
        expect: Option<(String, Option<u64>)>,
    ) -> Result<Payment, ApiError> {
        let unknown = || ApiError::not_found("unknown_request", "no such payment request");
        if !ids::is_request_id(id) {
            return Err(unknown());
        }
        let looked = id.to_string();
        let request = self
            .store
            .read_async(move |c| store::request(c, &looked))
            .await?
            .ok_or_else(unknown)?;
        if let Some((address, amount)) = expect {
            let same_amount = amount.is_none_or(|a| i64::try_from(a).ok() == Some(request.amount));
            if address != request.address || !same_amount {
                return Err(ApiError::bad_request(
                    "uri_mismatch",
                    "the URI's address or amount is not its payment request's",
                ));
            }
        }
        if request.wallet_id == payer.id {
            return Err(ApiError::unprocessable(
                "own_request",
                "a wallet cannot pay its own payment request",
            ));
        }
        self.claim_key(payer, key, hash_parts(&["pay", "request", id]))
            .await?;
        let (rid, pid, k) = (id.to_string(), payer.id.clone(), key.to_string());
        let claimed = self
            .store
            .write_async(move |c| {
                let now = now_ms();
                if store::claim_request(c, &rid, &pid, &k, now)? {
                    return Ok(Ok(()));
                }
                let row = store::request(c, &rid)?
                    .ok_or_else(|| store::StoreError::Corrupt("a request vanished".into()))?;
                // The same payer and key again: the first attempt's claim.
                if row.state == request_state::PAYING
                    && row.payer_wallet_id.as_deref() == Some(pid.as_str())
                    && row.payer_key.as_deref() == Some(k.as_str())
                {
                    return Ok(Ok(()));
                }
                Ok(Err(row))
            })
            .await?;
        if let Err(row) = claimed {
            return Err(match row.state.as_str() {
                request_state::CANCELLED => {
                    ApiError::conflict("request_cancelled", "the payment request was cancelled")
                }
                request_state::OPEN => {
                    ApiError::conflict("request_expired", "the payment request has expired")
                }
                _ => ApiError::conflict(
                    "request_paid",
                    "the payment request is paid (or being paid) already",
                ),
            });
        }
        let amount = u64::try_from(request.amount).unwrap_or(0);
        let result = self
            .gateway(&payer.bank_id)?
            .pay(payer.gateway_wallet_id, key, &request.address, amount)
            .await;
        self.settle(&request, payer, key, result).await
    }

    /// Applies the bank's answer about a claimed request's payment: final →
    /// paid; a refusal or failure → open again; pending or no answer → still
    /// claimed (the resumer asks again).
    async fn settle(
        &self,
        request: &RequestRow,
        payer: &WalletRow,
        key: &str,
        result: Result<PaymentView, GatewayError>,
    ) -> Result<Payment, ApiError> {
        let (rid, pid, k) = (request.id.clone(), payer.id.clone(), key.to_string());
        match result {
            Ok(view) => {
                let (payment_id, state) = (view.id, view.state);
                self.store
                    .write_async(move |c| {
                        use gateway_client::wire::PaymentState as G;
                        match state {
                            G::Final => {
                                if store::request_paid(c, &rid, &pid, &k, payment_id, now_ms())? {
                                    tracing::info!(target: "cbdc::requests", request = %rid, "payment request paid");
                                }
                            }
                            G::Pending => store::request_payment_id(c, &rid, &pid, &k, payment_id)?,
                            G::Failed | G::Refused => {
                                store::request_released(c, &rid, &pid, &k)?;
                            }
                        }
                        Ok(())
                    })
                    .await?;
                Ok(payment(view, Some(request.id.clone())))
            }
            Err(e) if e.is_refusal() => {
                self.store
                    .write_async(move |c| store::request_released(c, &rid, &pid, &k))
                    .await?;
                Err(ApiError::from_gateway(&payer.bank_id, e))
            }
            Err(e) => Err(ApiError::from_gateway(&payer.bank_id, e)),
        }
    }

    /// Settles claims idle for [`CLAIM_IDLE`]: asks the payer's bank about
    /// the payment (the same idempotency key returns the first result).
    /// Returns how many it looked at.
    pub async fn resume_once(&self) -> Result<usize, ApiError> {
        let before = now_ms() - i64::try_from(CLAIM_IDLE.as_millis()).unwrap_or(0);
        let stale = self
            .store
            .read_async(move |c| store::stale_claims(c, before, 50))
            .await?;
        let n = stale.len();
        for request in stale {
            let (Some(payer_id), Some(key)) =
                (request.payer_wallet_id.clone(), request.payer_key.clone())
            else {
                continue;
            };
            let looked = payer_id.clone();
            let Some(payer) = self
                .store
                .read_async(move |c| store::wallet(c, &looked))
                .await?
            else {
                continue;
            };
            let gateway = self.gateway(&payer.bank_id)?;
            let result = match request.payment_id {
                Some(pid) => gateway.payment(payer.gateway_wallet_id, pid).await,
                None => {
                    let amount = u64::try_from(request.amount).unwrap_or(0);
                    gateway
                        .pay(payer.gateway_wallet_id, &key, &request.address, amount)
                        .await
                }
            };
            if let Err(e) = self.settle(&request, &payer, &key, result).await {
                if e.status.is_server_error() {
                    tracing::warn!(request = %request.id, error = %e, "cannot settle a claimed payment request yet");
                }
            }
        }
        Ok(n)
    }

    pub async fn fund_or_defund(
        &self,
        wallet: &WalletRow,
        key: &str,
        kind: &str,
        amount: u64,
    ) -> Result<Payment, ApiError> {
        let result = async {
            let amount = check_amount(amount)?;
            self.claim_key(wallet, key, hash_parts(&[kind, &amount.to_string()]))
                .await?;
            let gateway = self.gateway(&wallet.bank_id)?;
            let answer = if kind == "fund" {
                gateway.fund(wallet.gateway_wallet_id, key, amount).await
            } else {
                gateway.defund(wallet.gateway_wallet_id, key, amount).await
            };
            answer
                .map(|v| payment(v, None))
                .map_err(|e| ApiError::from_gateway(&wallet.bank_id, e))
        }
        .await;
        self.count(&result);
        result
    }

    // ---- payment requests ----

    pub fn request_view(row: &RequestRow) -> PaymentRequestView {
        let state = match row.state.as_str() {
            request_state::OPEN if row.expires_ms <= now_ms() => RequestState::Expired,
            request_state::OPEN => RequestState::Open,
            request_state::PAYING => RequestState::Paying,
            request_state::PAID => RequestState::Paid,
            _ => RequestState::Cancelled,
        };
        let amount = u64::try_from(row.amount).unwrap_or(0);
        PaymentRequestView {
            request_id: row.id.clone(),
            address: row.address.clone(),
            amount,
            reference: row.reference.clone(),
            state,
            created_ms: row.created_ms,
            expires_ms: row.expires_ms,
            paid_ms: row.paid_ms,
            uri: Self::uri_of(row),
        }
    }

    pub fn uri_of(row: &RequestRow) -> String {
        match row.address.parse::<Address>() {
            Ok(address) => PaymentUri {
                address,
                amount: u64::try_from(row.amount).ok(),
                reference: row.reference.clone(),
                request_id: Some(row.id.clone()),
                expires_s: u64::try_from(row.expires_ms / 1000).ok(),
            }
            .to_string(),
            Err(_) => String::new(),
        }
    }

    pub async fn create_request(
        &self,
        wallet: &WalletRow,
        body: NewPaymentRequest,
    ) -> Result<PaymentRequestView, ApiError> {
        let amount = check_amount(body.amount)?;
        if let Some(reference) = &body.reference {
            check_reference(reference)?;
        }
        let expires_in = body.expires_in_s.unwrap_or(900);
        if !(60..=604_800).contains(&expires_in) {
            return Err(ApiError::bad_request(
                "bad_expiry",
                "expires_in_s is 60 to 604800 (7 days)",
            ));
        }
        let now = now_ms();
        let row = RequestRow {
            id: ids::new_request_id(),
            wallet_id: wallet.id.clone(),
            address: wallet.address.clone(),
            amount: i64::try_from(amount).unwrap_or(i64::MAX),
            reference: body.reference,
            created_ms: now,
            // Whole seconds, as the URI carries it.
            expires_ms: (now / 1000 + i64::try_from(expires_in).unwrap_or(900)) * 1000,
            state: request_state::OPEN.to_string(),
            payer_wallet_id: None,
            payer_key: None,
            claimed_ms: None,
            payment_id: None,
            paid_ms: None,
        };
        // What is published must parse back (a long non-ASCII reference can
        // make the URI exceed its 1024 bytes).
        let uri = PaymentUri {
            address: wallet
                .address
                .parse::<Address>()
                .map_err(|_| ApiError::internal("a wallet's stored address does not parse"))?,
            amount: Some(amount),
            reference: row.reference.clone(),
            request_id: Some(row.id.clone()),
            expires_s: u64::try_from(row.expires_ms / 1000).ok(),
        };
        uri.check().map_err(|e| {
            ApiError::bad_request(
                "bad_reference",
                format!("the payment URI would not be valid: {}", e.message),
            )
        })?;
        let view = Self::request_view(&row);
        self.store
            .write_async(move |c| store::insert_request(c, &row))
            .await?;
        Ok(view)
    }

    pub async fn request(&self, id: &str) -> Result<RequestRow, ApiError> {
        let unknown = || ApiError::not_found("unknown_request", "no such payment request");
        if !ids::is_request_id(id) {
            return Err(unknown());
        }
        let id = id.to_string();
        self.store
            .read_async(move |c| store::request(c, &id))
            .await?
            .ok_or_else(unknown)
    }
}

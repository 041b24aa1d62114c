//! Harness of the end-to-end tests: the gateways' harness
//! (`bank-gateway/tests/support`: a ledger in process, gateways on runtimes
//! of their own, a fresh PostgreSQL database each) plus a wallet API the same
//! way, and the calls the tests make over HTTP as an app and a bank's staff
//! make them.
//!
//! - [`WalletApiServer`]: one wallet API process on a Tokio runtime and a
//!   thread of its own, on a database of its own (a second server may share
//!   it, as replicas do).
//! - [`World`]: a ledger, banks with one gateway each, a wallet API routing
//!   to them, and an app registered through the operator API.
//! - [`EventStream`]: a wallet's Server-Sent Events, read chunk by chunk.
//! - [`refused`]: a refusal's exact status and code.
//!
//! Every wait is bounded: [`eventually`], or [`WAIT_MAX`] per read.

#![allow(dead_code)] // Each test uses its own part of the harness.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use gateway_client::GatewayClient;
use ledger_client::LedgerClient;
use ledger_core::Receipt;
use reqwest::Method;
use serde_json::Value;
use wallet_api::client::{ClientError, WalletApiClient, WalletSession};
use wallet_api::config::{BankRoute, WalletApiConfig};
use wallet_api::wire::{AppCreated, NewApp, OpenedWallet, PayBody, Payment, PaymentState};

use crate::gateway_support::{
    bank, eventually, Bank, Gateway, Ledger, TestDatabase, START_MAX, STOP_MAX, WAIT_MAX,
};

/// A fresh idempotency key.
pub fn key(what: &str) -> String {
    format!("e2e-{what}-{:032x}", rand::random::<u128>())
}

/// A fresh phone number (a new customer at any bank).
pub fn phone() -> String {
    format!("+49151{:08}", rand::random::<u32>() % 100_000_000)
}

/// Blocks (off the async workers) on a standard channel, at most `timeout`.
async fn recv_blocking<T: Send + 'static>(
    receiver: std::sync::mpsc::Receiver<T>,
    timeout: Duration,
) -> Option<T> {
    tokio::task::spawn_blocking(move || receiver.recv_timeout(timeout).ok())
        .await
        .expect("the waiting thread does not panic")
}

// ---------------------------------------------------------------------------
// The wallet API

/// One running wallet API. Dropping it stops it (gracefully, bounded).
pub struct WalletApiServer {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<()>>,
    /// Kept until the server is gone (a second server may share it).
    db: Arc<TestDatabase>,
}

impl WalletApiServer {
    /// The configuration routing to `banks` with `operator_token`, and the
    /// service's defaults otherwise.
    pub fn config(banks: &[(&Bank, &Gateway)], operator_token: &str) -> WalletApiConfig {
        let routes = banks
            .iter()
            .map(|(bank, gateway)| BankRoute {
                id: bank.id.clone(),
                name: format!("Bank {}", bank.id),
                url: gateway.api.base.clone(),
                internal_token: bank.internal_token.clone(),
            })
            .collect();
        let mut config = WalletApiConfig::new(routes, vec![operator_token.to_string()]);
        config.replica = "wallet-api-e2e".to_string();
        config
    }

    /// Starts a wallet API with `config` on `db`, on a runtime and thread of
    /// its own; returns once it answers `/readyz`.
    pub async fn start(config: WalletApiConfig, db: Arc<TestDatabase>) -> WalletApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the wallet API");
        let database_url = db.url().to_string();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<String, String>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("wallet-api".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the wallet API");
                let started = runtime.block_on(async {
                    wallet_api::server::start(config, &database_url, listener).await
                });
                let running = match started {
                    Ok(running) => {
                        let _ = ready_tx.send(Ok(running.base()));
                        running
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(format!("{error:#}")));
                        let _ = done_tx.send(());
                        return;
                    }
                };
                // A dropped sender (the test panicked) stops it too.
                let _ = runtime.block_on(stop_rx);
                runtime.block_on(async {
                    let _ = tokio::time::timeout(STOP_MAX, running.stop()).await;
                });
                runtime.shutdown_timeout(STOP_MAX);
                let _ = done_tx.send(());
            })
            .expect("a thread for the wallet API");
        let base = match recv_blocking(ready_rx, START_MAX).await {
            Some(Ok(base)) => base,
            Some(Err(error)) => panic!("the wallet API did not start: {error}"),
            None => panic!("the wallet API did not start within {START_MAX:?}"),
        };
        let server = WalletApiServer {
            base,
            stop: Some(stop_tx),
            done: Some(done_rx),
            db,
        };
        let http = reqwest::Client::new();
        let url = format!("{}/readyz", server.base);
        eventually("the wallet API is ready", || async {
            match http.get(&url).timeout(Duration::from_secs(5)).send().await {
                Ok(r) if r.status() == 200 => Ok(()),
                Ok(r) => Err(format!("{}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        server
    }

    /// The wallet API's own database.
    pub fn db(&self) -> &Arc<TestDatabase> {
        &self.db
    }

    /// A graceful stop: requests in flight finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            if recv_blocking(done, STOP_MAX + STOP_MAX).await.is_none() {
                panic!("the wallet API did not stop in time");
            }
        }
    }
}

impl Drop for WalletApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.recv_timeout(STOP_MAX + STOP_MAX);
        }
    }
}

/// An operator token of a wallet API.
pub fn operator_token() -> String {
    format!("wallet-operator-{:032x}", rand::random::<u128>())
}

/// A client of the wallet API's operator routes (no app key).
pub fn operator_client(base: &str) -> WalletApiClient {
    WalletApiClient::new(base, "")
}

/// Registers an app through the operator API: its key, shown once.
pub async fn register_app(base: &str, operator_token: &str, name: &str) -> AppCreated {
    let created: AppCreated = operator_client(base)
        .call(
            Method::POST,
            "/v1/operator/apps",
            Some(operator_token),
            None,
            Some(&NewApp {
                name: name.to_string(),
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("register app {name}: {e}"));
    assert!(is_id(&created.app_id, "app_", 16), "an app id: {created:?}");
    assert_eq!(created.name, name);
    let (id, secret) = created
        .app_key
        .split_once('.')
        .unwrap_or_else(|| panic!("an app key is <app_id>.<secret>: {created:?}"));
    assert_eq!(id, created.app_id);
    assert!(!secret.is_empty(), "{created:?}");
    created
}

/// `prefix` and `hex_len` lowercase hex characters.
pub fn is_id(text: &str, prefix: &str, hex_len: usize) -> bool {
    text.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == hex_len
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

// ---------------------------------------------------------------------------
// A world

/// A bank with its gateway and a client of the gateway as its staff uses it.
pub struct BankAt {
    pub gateway: Gateway,
    pub bank: Bank,
    pub client: GatewayClient,
    pub float_issued: u64,
}

impl BankAt {
    pub fn id(&self) -> &str {
        &self.bank.id
    }
}

/// Every service of a test, each over HTTP. Fields drop in order: the
/// wallet API before the gateways, the gateways before the ledger.
pub struct World {
    pub api: Option<WalletApiServer>,
    pub banks: Vec<BankAt>,
    pub ledger: Ledger,
    pub operator_token: String,
    pub app: AppCreated,
    pub client: WalletApiClient,
}

impl World {
    /// A ledger, one bank (and gateway) per `(id, float)` with that float
    /// issued, a wallet API routing to them, and one app registered.
    pub async fn start(banks: &[(&str, u64)]) -> World {
        let ledger = Ledger::start().await;
        let mut at = Vec::new();
        for (id, float) in banks {
            let (bank, gateway) = bank(&ledger, id, *float).await;
            let client = GatewayClient::new(&gateway.api.base, &bank.internal_token)
                .with_operator_token(&bank.operator_token);
            at.push(BankAt {
                gateway,
                bank,
                client,
                float_issued: *float,
            });
        }
        let operator_token = operator_token();
        let routes: Vec<(&Bank, &Gateway)> = at.iter().map(|b| (&b.bank, &b.gateway)).collect();
        let config = WalletApiServer::config(&routes, &operator_token);
        let db = Arc::new(TestDatabase::create("wallet_api"));
        let api = WalletApiServer::start(config, db).await;
        let app = register_app(&api.base, &operator_token, "e2e wallet app").await;
        let client = WalletApiClient::new(&api.base, &app.app_key);
        World {
            api: Some(api),
            banks: at,
            ledger,
            operator_token,
            app,
            client,
        }
    }

    pub fn api(&self) -> &WalletApiServer {
        self.api.as_ref().expect("the wallet API runs")
    }

    pub fn base(&self) -> String {
        self.api().base.clone()
    }

    pub fn bank(&self, id: &str) -> &BankAt {
        self.banks
            .iter()
            .find(|b| b.bank.id == id)
            .unwrap_or_else(|| panic!("no bank {id} in this world"))
    }

    /// The configuration of another wallet API routing to the same banks.
    pub fn api_config(&self) -> WalletApiConfig {
        let routes: Vec<(&Bank, &Gateway)> =
            self.banks.iter().map(|b| (&b.bank, &b.gateway)).collect();
        WalletApiServer::config(&routes, &self.operator_token)
    }

    /// Stops every service gracefully, the wallet API first.
    pub async fn stop(mut self) {
        if let Some(api) = self.api.take() {
            api.stop().await;
        }
        for bank in self.banks.drain(..) {
            bank.gateway.stop().await;
        }
    }
}

// ---------------------------------------------------------------------------
// As an app

/// Opens a wallet at `bank`: its session, after checking the answer's shape.
pub async fn open_wallet(client: &WalletApiClient, bank: &str) -> (WalletSession, OpenedWallet) {
    let opened = client
        .open_wallet(bank, &phone())
        .await
        .unwrap_or_else(|e| panic!("open a wallet at {bank}: {e}"));
    assert!(
        is_id(&opened.wallet_id, "w_", 32),
        "a wallet id: {opened:?}"
    );
    assert!(
        is_id(&opened.token, "wt_", 64),
        "a wallet token: {opened:?}"
    );
    assert_eq!(opened.bank, bank, "{opened:?}");
    assert!(opened.address.starts_with("cbdc1"), "{opened:?}");
    assert_eq!(opened.tier, "anonymous", "a new wallet's tier: {opened:?}");
    let session = WalletSession {
        wallet_id: opened.wallet_id.clone(),
        token: opened.token.clone(),
    };
    (session, opened)
}

/// Paying an address.
pub fn to(address: &str, amount: u64) -> PayBody {
    PayBody {
        to: Some(address.to_string()),
        amount: Some(amount),
        request_id: None,
        uri: None,
    }
}

/// Paying a payment request by its id.
pub fn request(id: &str) -> PayBody {
    PayBody {
        to: None,
        amount: None,
        request_id: Some(id.to_string()),
        uri: None,
    }
}

/// Paying a `cbdc:` URI.
pub fn uri(text: &str) -> PayBody {
    PayBody {
        to: None,
        amount: None,
        request_id: None,
        uri: Some(text.to_string()),
    }
}

/// `payment` once it is final (asking by its id while it is pending); a
/// failed or refused one fails the test.
pub async fn until_final(client: &WalletApiClient, w: &WalletSession, payment: Payment) -> Payment {
    if payment.state == PaymentState::Final {
        return payment;
    }
    let id = payment.payment_id;
    eventually(&format!("payment {id} is final"), || async {
        let now = client
            .payment(w, id)
            .await
            .map_err(|e| format!("read payment {id}: {e}"))?;
        match now.state {
            PaymentState::Final => Ok(now),
            PaymentState::Pending => Err(format!("{now:?}")),
            _ => panic!("payment {id} will not be final: {now:?}"),
        }
    })
    .await
}

/// Pays and waits until it is final.
pub async fn pay_final(
    client: &WalletApiClient,
    w: &WalletSession,
    key: &str,
    body: &PayBody,
) -> Payment {
    let payment = client
        .pay(w, key, body)
        .await
        .unwrap_or_else(|e| panic!("pay {body:?}: {e}"));
    until_final(client, w, payment).await
}

/// Funds (`fund`) or defunds (`defund`) and waits until it is final.
pub async fn move_final(
    client: &WalletApiClient,
    w: &WalletSession,
    what: &str,
    key: &str,
    amount: u64,
) -> Payment {
    let payment = client
        .move_money(w, what, key, amount)
        .await
        .unwrap_or_else(|e| panic!("{what} {amount}: {e}"));
    assert_eq!(payment.kind, what, "{payment:?}");
    until_final(client, w, payment).await
}

/// The wallet's balance as the app reads it.
pub async fn balance(client: &WalletApiClient, w: &WalletSession) -> u64 {
    client
        .wallet(w)
        .await
        .unwrap_or_else(|e| panic!("read wallet {}: {e}", w.wallet_id))
        .balance
}

/// Waits until the wallet's balance is `want`.
pub async fn until_balance(client: &WalletApiClient, who: &str, w: &WalletSession, want: u64) {
    eventually(&format!("{who} holds {want}"), || async {
        match client.wallet(w).await {
            Ok(info) if info.balance == want => Ok(()),
            Ok(info) => Err(format!("balance {}", info.balance)),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
}

/// Every history entry's amount, oldest first (all pages).
pub async fn history_amounts(client: &WalletApiClient, w: &WalletSession) -> Vec<i64> {
    let mut amounts = Vec::new();
    let mut before = None;
    for _ in 0..100 {
        let page = client
            .history(w, before)
            .await
            .unwrap_or_else(|e| panic!("read {}'s history: {e}", w.wallet_id));
        amounts.extend(page.entries.iter().map(|e| e.amount));
        match page.next {
            Some(next) => before = Some(next),
            None => {
                amounts.reverse();
                return amounts;
            }
        }
    }
    panic!("{}'s history has more than 100 pages", w.wallet_id);
}

/// Asserts a refusal: exactly `status` and `code`, with a message.
pub fn refused<T: std::fmt::Debug>(
    answer: Result<T, ClientError>,
    status: u16,
    code: &str,
    what: &str,
) {
    match answer {
        Ok(value) => panic!("{what}: expected {status} {code}, got a success: {value:?}"),
        Err(error) => {
            assert_eq!(
                (error.status(), error.code()),
                (Some(status), Some(code)),
                "{what}: {error}"
            );
            if let ClientError::Answered { message, .. } = &error {
                assert!(!message.is_empty(), "{what}: a message: {error}");
            }
        }
    }
}

/// One request with a raw body and any headers, as a careless client might
/// send it: the status and the `code` of the answer.
pub async fn raw(
    base: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .timeout(crate::gateway_support::REQUEST_TIMEOUT);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).body(bytes);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or("").to_string())
}

/// The extra fields of a refusal (`limit`, `remaining`, …).
pub fn extra(error: &ClientError) -> serde_json::Map<String, Value> {
    match error {
        ClientError::Answered { extra, .. } => extra.clone(),
        other => panic!("not an answered error: {other}"),
    }
}

/// The ledger's receipt of a final payment verifies under the ledger's key
/// and is the receipt of the payment's transaction.
pub fn assert_receipt(ledger: &Ledger, payment: &Payment) {
    let receipt: Receipt = serde_json::from_value(payment.receipt.clone().unwrap_or(Value::Null))
        .unwrap_or_else(|e| panic!("a final payment carries a receipt ({e}): {payment:?}"));
    receipt
        .verify(&ledger.key())
        .unwrap_or_else(|e| panic!("the receipt verifies ({e}): {payment:?}"));
    assert_eq!(
        payment.tx_id.as_deref(),
        Some(receipt.tx_id.to_string().as_str()),
        "the receipt is the payment's transaction's: {payment:?}"
    );
}

// ---------------------------------------------------------------------------
// As a bank's staff

/// Waits until deposit account `account` holds `want`.
pub async fn until_deposit(bank: &BankAt, account: i64, want: u64) {
    eventually(
        &format!("account {account} at {} holds {want}", bank.id()),
        || async {
            match bank.client.account(account).await {
                Ok(a) if a.balance == want => Ok(()),
                Ok(a) => Err(format!("balance {}", a.balance)),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await;
}

/// Waits until the bank's float holds `want`.
pub async fn until_float(bank: &BankAt, want: u64) {
    eventually(&format!("{}'s float holds {want}", bank.id()), || async {
        match bank.client.float().await {
            Ok(f) if f.balance == want => Ok(()),
            Ok(f) => Err(format!("float {}", f.balance)),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
}

/// The bank's staff readies the customer of `address`: an optional tier
/// upgrade, a deposit account with `cash` in it, linked to the wallet.
/// Returns the account's id.
pub async fn bank_customer(
    bank: &BankAt,
    address: &str,
    tier: Option<(&str, &str)>,
    cash: u64,
) -> i64 {
    let detail = bank
        .client
        .customer_by_address(address)
        .await
        .unwrap_or_else(|e| panic!("{} finds the customer of {address}: {e}", bank.id()));
    let customer_id = detail.customer.customer_id;
    if let Some((tier, national_id)) = tier {
        let after = bank
            .client
            .set_tier(customer_id, tier, Some(national_id))
            .await
            .unwrap_or_else(|e| panic!("set tier {tier}: {e}"));
        assert_eq!(after.customer.tier, tier, "{after:?}");
    }
    let account = bank
        .client
        .open_account(customer_id)
        .await
        .unwrap_or_else(|e| panic!("open a deposit account: {e}"));
    assert_eq!(account.balance, 0, "{account:?}");
    if cash > 0 {
        let after = bank
            .client
            .cash_deposit(account.account_id, cash, &key("cash"))
            .await
            .unwrap_or_else(|e| panic!("cash in {cash}: {e}"));
        assert_eq!(after.balance, cash, "{after:?}");
    }
    let wallet = detail
        .wallets
        .iter()
        .find(|w| w.address == address)
        .unwrap_or_else(|| panic!("the customer holds the wallet {address}: {detail:?}"));
    let linked = bank
        .client
        .link(wallet.wallet_id, Some(account.account_id))
        .await
        .unwrap_or_else(|e| panic!("link the account: {e}"));
    assert_eq!(linked.deposit_account_id, Some(account.account_id));
    account.account_id
}

/// The bank's books reconcile: `ok`, no differences, nothing uncredited.
pub async fn assert_reconciled(bank: &BankAt) -> Value {
    let report = bank
        .client
        .reconciliation()
        .await
        .unwrap_or_else(|e| panic!("{} reconciles: {e}", bank.id()));
    assert_eq!(
        report["ok"],
        true,
        "{}'s reconciliation: {report}",
        bank.id()
    );
    assert_eq!(
        report["differences"],
        serde_json::json!([]),
        "{}'s reconciliation: {report}",
        bank.id()
    );
    assert_eq!(
        report["uncredited"],
        serde_json::json!([]),
        "{}'s reconciliation: {report}",
        bank.id()
    );
    report
}

/// The bank's position proof, once its gateway has verified the chain up
/// to the ledger's height, checked against the ledger twice: by the
/// harness's own arithmetic and by `bank_gateway::report::verify_position`
/// (what `cbdc audit --position` runs). Returns its total.
pub async fn checked_position(ledger: &Ledger, bank: &BankAt) -> u64 {
    bank.gateway.api.until_height(ledger.height().await).await;
    let proof = bank
        .client
        .position()
        .await
        .unwrap_or_else(|e| panic!("{}'s position proof: {e}", bank.id()));
    let total = crate::gateway_support::check_position(ledger, &proof).await;
    let position: bank_gateway::report::Position = serde_json::from_value(proof.clone())
        .unwrap_or_else(|e| panic!("a position proof ({e}): {proof}"));
    assert_eq!(position.bank_id, bank.id(), "{proof}");
    let officer: LedgerClient = ledger.officer(0);
    let check = bank_gateway::report::verify_position(&officer, &position)
        .await
        .unwrap_or_else(|e| panic!("{}'s position is checked: {e}", bank.id()));
    assert!(check.ok, "{}'s position: {:?}", bank.id(), check.problems);
    assert_eq!(check.notes, position.notes.len());
    total
}

// ---------------------------------------------------------------------------
// Notifications

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Option<i64>,
    pub event: Option<String>,
    pub data: String,
}

/// A wallet's `GET /v1/wallets/{id}/events`, read as it streams.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// Opens the stream (with `Last-Event-ID` if given); panics unless it
    /// is `200 text/event-stream`.
    pub async fn open(
        base: &str,
        app_key: &str,
        w: &WalletSession,
        last_event_id: Option<i64>,
    ) -> EventStream {
        // No overall deadline: the stream lives as long as the test reads it.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("a reqwest client");
        let mut request = http
            .get(format!("{base}/v1/wallets/{}/events", w.wallet_id))
            .header(wallet_api::auth::APP_KEY_HEADER, app_key)
            .bearer_auth(&w.token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = tokio::time::timeout(WAIT_MAX, request.send())
            .await
            .expect("the event stream answers in time")
            .expect("the event stream answers");
        assert_eq!(response.status(), 200, "the event stream");
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(
            content_type.starts_with("text/event-stream"),
            "the event stream's type: {content_type}"
        );
        EventStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event with data (comments and `retry:` skipped), waiting at
    /// most [`WAIT_MAX`] for it.
    pub async fn next_event(&mut self) -> Event {
        let deadline = tokio::time::Instant::now() + WAIT_MAX;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_event(&block) {
                    return event;
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| {
                    panic!("no event within {WAIT_MAX:?}; unparsed: {:?}", self.buffer)
                })
                .expect("the event stream is not cut")
                .expect("the event stream does not end");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

impl EventStream {
    /// Whether the server ends the stream within [`WAIT_MAX`] (events
    /// still sent before the end are skipped).
    pub async fn ended(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT_MAX;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return false,
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None) | Err(_)) => return true,
            }
        }
    }
}

/// One block of `field: value` lines; `None` if it carries no data.
fn parse_event(block: &str) -> Option<Event> {
    let mut event = Event {
        id: None,
        event: None,
        data: String::new(),
    };
    let mut has_data = false;
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => event.id = value.parse().ok(),
            "event" => event.event = Some(value.to_string()),
            "data" => {
                if has_data {
                    event.data.push('\n');
                }
                event.data.push_str(value);
                has_data = true;
            }
            _ => {}
        }
    }
    has_data.then_some(event)
}

// ---------------------------------------------------------------------------
// QR codes

/// The text of the one QR code in a PNG.
pub fn decode_qr(png: &[u8]) -> String {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("a PNG")
        .to_luma8();
    let (width, height) = (image.width(), image.height());
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        usize::try_from(width).expect("a width"),
        usize::try_from(height).expect("a height"),
        |x, y| {
            let x = u32::try_from(x).expect("x");
            let y = u32::try_from(y).expect("y");
            image.get_pixel(x, y)[0]
        },
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (_, text) = grids[0].decode().expect("the QR code decodes");
    text
}

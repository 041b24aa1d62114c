//! Harness of the gateway's end-to-end tests: one central-bank ledger and any
//! number of bank gateways, each on a fresh PostgreSQL database of its own
//! (replicas of one bank share theirs), all driven over real HTTP.
//!
//! - [`TestDatabase`]: a `CREATE DATABASE` per use on the server of
//!   `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//!   dropped with `FORCE` when the value goes; nothing shared is touched.
//! - [`Ledger`]: the central bank's ledger with three officers (threshold 2),
//!   who admit banks and issue float to them.
//! - [`Gateway`]: one gateway process on a Tokio runtime and a thread of its
//!   own, so a test can stop it gracefully or kill it (the runtime dropped
//!   under it with no shutdown, as a crash would leave it).
//! - [`Api`]: HTTP with the internal and operator tokens, and the calls the
//!   tests make, each checking its status so a test reads as a story.
//! - [`eventually`]: every wait is bounded in attempts and in time, and a
//!   timeout fails the test with what it saw last.

#![allow(dead_code)] // Each test binary uses its own part of the harness.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bank_gateway::config::GatewayConfig;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use ledger_client::LedgerClient;
use ledger_core::governance::Role;
use ledger_core::{Amount, NoteId, Opening, PublicKey, SecretKey, Transaction, TxId, WalletKeys};
use ledger_service::ledger::{GenesisConfig, Ledger as LedgerNode, LedgerConfig};
use ledger_service::metrics::Metrics;
use rand::rngs::OsRng;
use reqwest::Method;
use serde_json::{json, Value};

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Officers in the ledger's genesis, and how many must approve an issuance.
pub const OFFICERS: usize = 3;
pub const THRESHOLD: usize = 2;

/// The longest one HTTP request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest [`eventually`] waits, and how often it looks.
pub const WAIT_MAX: Duration = Duration::from_secs(45);
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// `WAIT_MAX / POLL_INTERVAL`, plus one: the attempts bound of [`eventually`]
/// (requests that take long stop the loop by time first).
const POLL_ATTEMPTS_MAX: usize = 451;
/// The longest a gateway may take to start, answer `/readyz`, or stop.
pub const START_MAX: Duration = Duration::from_secs(60);
pub const STOP_MAX: Duration = Duration::from_secs(30);
/// Pages a listing helper reads at most (a listing that never ends is a bug).
const PAGES_MAX: usize = 100;

/// One day in milliseconds: how far the per-day tests age operations.
pub const DAY_MS: i64 = 86_400_000;

// ---------------------------------------------------------------------------
// Databases

/// A PostgreSQL database that exists for one test.
pub struct TestDatabase {
    /// The server's maintenance database, used to create and drop.
    admin_url: String,
    name: String,
    url: String,
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

impl TestDatabase {
    /// A fresh, empty database named after `purpose`.
    pub fn create(purpose: &str) -> TestDatabase {
        let admin_url =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let name = format!("cbdc_gw_test_{purpose}_{:016x}", rand::random::<u64>());
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|error| panic!("cannot reach PostgreSQL at {admin_url}: {error}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap_or_else(|error| panic!("create database {name}: {error}"));
        let url = with_database(&admin_url, &name);
        TestDatabase {
            admin_url,
            name,
            url,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url)
            .unwrap_or_else(|error| panic!("connect to {}: {error}", self.name))
    }

    /// Runs one statement; the rows it changed.
    pub fn execute(&self, sql: &str) -> usize {
        diesel::sql_query(sql)
            .execute(&mut self.connect())
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    /// The text column `value` of every row of `sql`.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        diesel::sql_query(sql)
            .load::<TextRow>(&mut self.connect())
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
            .into_iter()
            .map(|row| row.value)
            .collect()
    }

    /// The `BIGINT` column `value` of the first row of `sql`.
    pub fn count(&self, sql: &str) -> i64 {
        diesel::sql_query(sql)
            .load::<CountRow>(&mut self.connect())
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
            .first()
            .map_or(0, |row| row.value)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE ends the connections a killed gateway's pool still holds.
        let dropped = PgConnection::establish(&self.admin_url).and_then(|mut admin| {
            diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
        });
        if let Err(error) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |at| at + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

// ---------------------------------------------------------------------------
// Waiting

/// Calls `probe` until it answers `Ok`, at most [`WAIT_MAX`] and
/// [`POLL_ATTEMPTS_MAX`] times; panics with `what` and the last `Err` it saw.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    let mut last = String::from("(never asked)");
    for _ in 0..POLL_ATTEMPTS_MAX {
        match probe().await {
            Ok(value) => return value,
            Err(seen) => last = seen,
        }
        if started.elapsed() >= WAIT_MAX {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    panic!(
        "gave up after {:?} waiting until {what}; last saw: {last}",
        started.elapsed()
    );
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

/// If it is less than a minute to midnight UTC, waits until just after it, so
/// a test that counts "today" does not straddle two days.
pub async fn away_from_midnight() {
    let now = bank_gateway::store::now_ms();
    let into_day = now.rem_euclid(DAY_MS);
    let margin_ms = 60_000;
    if into_day > DAY_MS - margin_ms {
        let wait_ms = u64::try_from(DAY_MS - into_day + 1_000).expect("positive");
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    }
}

// ---------------------------------------------------------------------------
// The ledger

struct Node {
    ledger: Arc<LedgerNode>,
    base: String,
    handle: actix_web::dev::ServerHandle,
}

/// The central bank's ledger on a database of its own. Fields drop in order:
/// the server and its pool go before the database.
pub struct Ledger {
    node: Option<Node>,
    pub block_key: SecretKey,
    pub officers: Vec<SecretKey>,
    db: TestDatabase,
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            let handle = node.handle.clone();
            drop(node);
            // Bounded: a server that does not stop in time is left behind
            // (its database is dropped with FORCE anyway).
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async {
                    let _ = tokio::time::timeout(STOP_MAX, handle.stop(true)).await;
                })
            });
        }
    }
}

impl Ledger {
    /// A fresh database, the ledger serving it, three officers; no banks.
    pub async fn start() -> Ledger {
        let db = TestDatabase::create("ledger");
        let block_key = SecretKey::generate(&mut OsRng);
        let officers: Vec<SecretKey> = (0..OFFICERS)
            .map(|_| SecretKey::generate(&mut OsRng))
            .collect();
        let genesis = GenesisConfig {
            officers: officers
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    (
                        format!("officer-{i}"),
                        format!("Officer {i}"),
                        k.public_key(),
                    )
                })
                .collect(),
            threshold: THRESHOLD,
            supply_ceiling: Amount::new(ledger_service::ledger::SUPPLY_CEILING_DEFAULT),
        };
        let config = LedgerConfig {
            database_url: db.url().to_string(),
            block_key: block_key.clone(),
            genesis,
            batch_max: 64,
            queue_depth_max: 4096,
            verifiers: 2,
            audit_every_blocks: 0,
        };
        let ledger = LedgerNode::open(config, Metrics::new()).expect("the ledger opens");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the ledger");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let server =
            ledger_service::server::serve(ledger.clone(), listener, 2).expect("the ledger serves");
        let handle = server.handle();
        tokio::spawn(server);
        Ledger {
            node: Some(Node {
                ledger,
                base,
                handle,
            }),
            block_key,
            officers,
            db,
        }
    }

    pub fn base(&self) -> &str {
        &self.node.as_ref().expect("the ledger runs").base
    }

    /// The block-signing key the gateways pin.
    pub fn key(&self) -> PublicKey {
        self.block_key.public_key()
    }

    pub fn officer(&self, i: usize) -> LedgerClient {
        LedgerClient::new(self.base(), self.officers[i].clone())
    }

    /// Admits a bank with fresh keys (one officer's approval suffices).
    pub async fn admit_bank(&self, id: &str) -> WalletKeys {
        let keys = WalletKeys::generate(&mut OsRng);
        self.officer(0)
            .admit(
                id,
                &format!("Bank {id}"),
                Role::Bank,
                &keys.spend.public_key(),
                Some(&keys.view.public_key()),
                &[],
            )
            .await
            .unwrap_or_else(|e| panic!("admit {id}: {e}"));
        keys
    }

    /// Issues `amount` to `bank_id`: officer 0 proposes, officers 0 and 1
    /// approve. Returns the issue's transaction id (hex).
    pub async fn issue(&self, bank_id: &str, amount: u64) -> String {
        let proposal = self
            .officer(0)
            .propose_issuance(bank_id, Amount::new(amount))
            .await
            .unwrap_or_else(|e| panic!("propose {amount} to {bank_id}: {e}"));
        let mut last = Value::Null;
        for officer in 0..THRESHOLD {
            last = self
                .officer(officer)
                .approve(&proposal.id)
                .await
                .unwrap_or_else(|e| panic!("officer {officer} approves {}: {e}", proposal.id));
        }
        assert_eq!(last["state"], "executed", "the threshold executes: {last}");
        last["receipt"]["tx_id"]
            .as_str()
            .unwrap_or_else(|| panic!("the executed proposal has a receipt: {last}"))
            .to_owned()
    }

    /// The newest sealed block's height (0 before the first).
    pub async fn height(&self) -> u64 {
        self.officer(0)
            .latest_block()
            .await
            .expect("the latest block")
            .map_or(0, |block| block.height)
    }

    /// The hash (hex) of the block at `height`.
    pub async fn block_hash(&self, height: u64) -> String {
        self.officer(0)
            .block(height)
            .await
            .unwrap_or_else(|e| panic!("block {height}: {e}"))
            .hash
    }

    /// A committed transaction; panics if the ledger does not know it.
    pub async fn transaction(&self, tx_id: &str) -> Transaction {
        let id: TxId = tx_id
            .parse()
            .unwrap_or_else(|_| panic!("{tx_id} is a transaction id"));
        self.officer(0)
            .transaction_view(&id)
            .await
            .unwrap_or_else(|e| panic!("the ledger knows transaction {tx_id}: {e}"))
            .transaction
    }

    /// The input note ids (hex) a committed transfer or redeem spent.
    pub async fn inputs(&self, tx_id: &str) -> Vec<String> {
        match self.transaction(tx_id).await {
            Transaction::Transfer(spend) | Transaction::Redeem(spend) => {
                spend.inputs.iter().map(|id| id.to_string()).collect()
            }
            other => panic!("{tx_id} spends nothing: {other:?}"),
        }
    }

    /// `(commitment hex, spent)` of a note on the ledger.
    pub async fn note(&self, note_id: &str) -> (String, bool) {
        let id: NoteId = note_id
            .parse()
            .unwrap_or_else(|_| panic!("{note_id} is a note id"));
        let view = self
            .officer(0)
            .note_view(&id)
            .await
            .unwrap_or_else(|e| panic!("the ledger knows note {note_id}: {e}"));
        (view.commitment, view.spent)
    }

    /// A full audit over the API, which must pass; what it proved.
    pub async fn audit_ok(&self) -> Value {
        let audit = self.officer(2).audit().await.expect("the audit runs");
        assert_eq!(audit["state"], "passed", "the ledger's audit: {audit}");
        audit
    }

    /// Outstanding money on the ledger (issued less redeemed), from a passed audit.
    pub async fn outstanding(&self) -> u64 {
        let audit = self.audit_ok().await;
        let number = |v: &Value| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        };
        number(&audit["outstanding"]).unwrap_or_else(|| panic!("outstanding in {audit}"))
    }
}

// ---------------------------------------------------------------------------
// Banks and their gateways

/// A bank admitted on the ledger: its identity, keys, database and tokens,
/// which every replica of its gateway shares.
pub struct Bank {
    pub id: String,
    pub keys: WalletKeys,
    pub kek: [u8; 32],
    pub internal_token: String,
    pub operator_token: String,
    pub db: Arc<TestDatabase>,
}

impl Bank {
    /// Admits `id` on `ledger` and makes its empty database.
    pub async fn admit(ledger: &Ledger, id: &str) -> Bank {
        let keys = ledger.admit_bank(id).await;
        Bank {
            id: id.to_string(),
            keys,
            kek: rand::random(),
            internal_token: format!("internal-{:016x}", rand::random::<u64>()),
            operator_token: format!("operator-{:016x}", rand::random::<u64>()),
            db: Arc::new(TestDatabase::create(&id.replace('-', "_"))),
        }
    }

    /// The configuration of replica `replica`, with timings short enough
    /// for tests (a follower lease of two seconds, polls of 200 ms).
    pub fn config(&self, ledger: &Ledger, replica: &str) -> GatewayConfig {
        let mut config = GatewayConfig::new(&self.id, ledger.base(), self.keys.clone(), self.kek);
        config.ledger_key = Some(ledger.key());
        config.internal_tokens = vec![self.internal_token.clone()];
        config.operator_tokens = vec![self.operator_token.clone()];
        config.follower_lease = Duration::from_secs(2);
        config.follower_wait = Duration::from_millis(200);
        config.replica = replica.to_string();
        config
    }
}

enum Stop {
    Graceful,
    Kill,
}

/// One running gateway. Dropping it kills it.
pub struct Gateway {
    pub bank_id: String,
    pub replica: String,
    pub api: Arc<Api>,
    stop: Option<tokio::sync::oneshot::Sender<Stop>>,
    done: Option<std::sync::mpsc::Receiver<()>>,
    /// Kept until the gateway is gone (replicas share it).
    db: Arc<TestDatabase>,
}

impl Gateway {
    /// Starts replica `replica` of `bank` with its default test configuration.
    pub async fn start(ledger: &Ledger, bank: &Bank, replica: &str) -> Gateway {
        Gateway::start_with(bank, bank.config(ledger, replica)).await
    }

    /// Starts a gateway of `bank` with `config`, on a runtime and thread of
    /// its own; returns once it answers `/readyz`.
    pub async fn start_with(bank: &Bank, config: GatewayConfig) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the gateway");
        let replica = config.replica.clone();
        let database_url = bank.db.url().to_string();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<String, String>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<Stop>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name(format!("gateway-{replica}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the gateway");
                let started = runtime.block_on(async {
                    bank_gateway::server::start(config, &database_url, listener).await
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
                // A dropped sender (the test panicked) is a kill.
                match runtime.block_on(stop_rx).unwrap_or(Stop::Kill) {
                    Stop::Graceful => {
                        runtime.block_on(async {
                            let _ = tokio::time::timeout(STOP_MAX, running.stop()).await;
                        });
                        runtime.shutdown_timeout(STOP_MAX);
                    }
                    Stop::Kill => {
                        // As a crash: no task runs another step, nothing is
                        // released, the lease simply stops being renewed.
                        runtime.shutdown_background();
                        std::mem::forget(running);
                    }
                }
                let _ = done_tx.send(());
            })
            .expect("a thread for the gateway");
        let base = match recv_blocking(ready_rx, START_MAX).await {
            Some(Ok(base)) => base,
            Some(Err(error)) => panic!("gateway {replica} did not start: {error}"),
            None => panic!("gateway {replica} did not start within {START_MAX:?}"),
        };
        let gateway = Gateway {
            bank_id: bank.id.clone(),
            replica: replica.clone(),
            api: Arc::new(Api::new(&base, &bank.internal_token, &bank.operator_token)),
            stop: Some(stop_tx),
            done: Some(done_rx),
            db: bank.db.clone(),
        };
        let api = &gateway.api;
        eventually(&format!("gateway {replica} is ready"), || async {
            let answer = api
                .call(Method::GET, "/readyz", Auth::None, None, None)
                .await;
            if answer.status == 200 {
                Ok(())
            } else {
                Err(answer.describe())
            }
        })
        .await;
        gateway
    }

    /// A graceful stop: in-flight requests finish, the lease is given back.
    pub async fn stop(mut self) {
        self.end(Stop::Graceful).await;
    }

    /// A crash: the gateway's runtime is dropped under it.
    pub async fn kill(mut self) {
        self.end(Stop::Kill).await;
    }

    async fn end(&mut self, how: Stop) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(how);
        }
        if let Some(done) = self.done.take() {
            if recv_blocking(done, STOP_MAX + STOP_MAX).await.is_none() {
                panic!("gateway {} did not stop in time", self.replica);
            }
        }
    }

    /// The gateway's database (for the few checks no API exposes).
    pub fn db(&self) -> &TestDatabase {
        &self.db
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Stop::Kill);
        }
        if let Some(done) = self.done.take() {
            let _ = done.recv_timeout(STOP_MAX);
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP

/// Which credential a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    Internal,
    Operator,
    /// Exactly this `Authorization` header value.
    Header(&'a str),
}

/// An answer: status and body (JSON `null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// The `code` of an error body (`""` if none).
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// Status and (shortened) body, for messages.
    pub fn describe(&self) -> String {
        let text: String = self.text.chars().take(400).collect();
        format!("{} {text}", self.status)
    }

    /// The body, if the status is `status`; else panics with `what`.
    pub fn expect(self, status: u16, what: &str) -> Value {
        assert_eq!(self.status, status, "{what}: {}", self.describe());
        self.body
    }

    /// Asserts a refusal: `status`, `code`, and a non-empty message.
    pub fn refused(&self, status: u16, code: &str, what: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "{what}: {}",
            self.describe()
        );
        let message = self.body["message"].as_str().unwrap_or("");
        assert!(
            !message.is_empty(),
            "{what}: a message: {}",
            self.describe()
        );
    }
}

/// HTTP to one gateway, with its bank's tokens (one client per gateway: its
/// pooled connections belong to the runtime that made them).
pub struct Api {
    pub base: String,
    client: reqwest::Client,
    internal_token: String,
    operator_token: String,
}

/// A wallet as `POST /v1/wallets` answers it.
#[derive(Debug, Clone)]
pub struct Wallet {
    pub id: i64,
    pub customer_id: i64,
    pub address: String,
}

/// A fresh idempotency key.
pub fn key() -> String {
    format!("key-{:032x}", rand::random::<u128>())
}

/// A fresh phone number.
pub fn phone() -> String {
    format!("+49{:010}", rand::random::<u32>())
}

/// An integer field, or a panic naming it.
pub fn int(value: &Value, field: &str) -> i64 {
    value[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} is an integer in {value}"))
}

/// A money field (minor units), or a panic naming it.
pub fn money(value: &Value, field: &str) -> u64 {
    value[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is a non-negative integer in {value}"))
}

impl Api {
    pub fn new(base: &str, internal_token: &str, operator_token: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a reqwest client"),
            internal_token: internal_token.to_string(),
            operator_token: operator_token.to_string(),
        }
    }

    /// Sends one request: `body` as JSON if given, `idempotency_key` as
    /// the `Idempotency-Key` header if given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let url = format!("{}{}", self.base, path);
        let mut request = self.client.request(method.clone(), &url);
        let authorization = match auth {
            Auth::None => None,
            Auth::Internal => Some(format!("Bearer {}", self.internal_token)),
            Auth::Operator => Some(format!("Bearer {}", self.operator_token)),
            Auth::Header(value) => Some(value.to_string()),
        };
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.finish(method, &url, request).await
    }

    /// As [`Api::call`], but a request that gets no answer (the gateway
    /// died under it) is an `Err`, not a panic.
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let url = format!("{}{}", self.base, path);
        let mut request = self.client.request(method.clone(), &url);
        if let Auth::Internal = auth {
            request = request.bearer_auth(&self.internal_token);
        }
        if let Auth::Operator = auth {
            request = request.bearer_auth(&self.operator_token);
        }
        if let Auth::Header(value) = auth {
            request = request.header("authorization", value);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {url}: no answer: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{method} {url}: body cut: {e}"))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body, text })
    }

    /// Sends raw bytes as the body (for malformed JSON).
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        idempotency_key: Option<&str>,
        content_type: &str,
        body: &'static [u8],
    ) -> Answer {
        let url = format!("{}{}", self.base, path);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .header("content-type", content_type)
            .body(body);
        match auth {
            Auth::None => {}
            Auth::Internal => {
                request = request.bearer_auth(&self.internal_token);
            }
            Auth::Operator => {
                request = request.bearer_auth(&self.operator_token);
            }
            Auth::Header(value) => request = request.header("authorization", value),
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        self.finish(method, &url, request).await
    }

    async fn finish(&self, method: Method, url: &str, request: reqwest::RequestBuilder) -> Answer {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: no answer: {e}"));
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: body cut: {e}"));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer { status, body, text }
    }

    /// Whether anything answers `/healthz` within a second (a killed
    /// gateway must not).
    pub async fn reachable(&self) -> bool {
        let url = format!("{}/healthz", self.base);
        let sent = self
            .client
            .get(&url)
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        sent.is_ok()
    }

    pub async fn internal(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        self.call(method, path, Auth::Internal, None, body).await
    }

    pub async fn operator(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        self.call(method, path, Auth::Operator, None, body).await
    }

    // --- the internal API ----------------------------------------------------

    /// `POST /v1/wallets`: a new wallet for `phone`.
    pub async fn open_wallet(&self, phone: &str) -> Wallet {
        let body = self
            .internal(
                Method::POST,
                "/v1/wallets",
                Some(&json!({ "phone": phone })),
            )
            .await
            .expect(201, "open a wallet");
        let address = body["address"].as_str().unwrap_or("").to_string();
        assert!(address.starts_with("cbdc1"), "a cbdc address: {body}");
        assert_eq!(
            body["tier"], "anonymous",
            "a new customer is anonymous: {body}"
        );
        Wallet {
            id: int(&body, "wallet_id"),
            customer_id: int(&body, "customer_id"),
            address,
        }
    }

    pub async fn wallet(&self, wallet: i64) -> Value {
        self.internal(Method::GET, &format!("/v1/wallets/{wallet}"), None)
            .await
            .expect(200, "read a wallet")
    }

    pub async fn balance(&self, wallet: i64) -> u64 {
        money(&self.wallet(wallet).await, "balance")
    }

    /// Every history entry of `wallet`, newest first (all pages).
    pub async fn history(&self, wallet: i64) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut before: Option<i64> = None;
        for _ in 0..PAGES_MAX {
            let path = match before {
                Some(before) => format!("/v1/wallets/{wallet}/history?before={before}&limit=50"),
                None => format!("/v1/wallets/{wallet}/history?limit=50"),
            };
            let page = self
                .internal(Method::GET, &path, None)
                .await
                .expect(200, "read a wallet's history");
            entries.extend(page["entries"].as_array().cloned().unwrap_or_default());
            match page["next"].as_i64() {
                Some(next) => before = Some(next),
                None => return entries,
            }
        }
        panic!("wallet {wallet}'s history has more than {PAGES_MAX} pages");
    }

    pub async fn set_auto_topup(&self, wallet: i64, on: bool) {
        let answer = self
            .internal(
                Method::PATCH,
                &format!("/v1/wallets/{wallet}"),
                Some(&json!({ "auto_topup": on })),
            )
            .await;
        assert!(
            answer.status == 200 || answer.status == 204,
            "set auto_topup: {}",
            answer.describe()
        );
    }

    /// `POST /v1/wallets/{id}/{what}` with an idempotency key, as answered.
    pub async fn move_raw(&self, wallet: i64, what: &str, key: &str, body: &Value) -> Answer {
        self.call(
            Method::POST,
            &format!("/v1/wallets/{wallet}/{what}"),
            Auth::Internal,
            Some(key),
            Some(body),
        )
        .await
    }

    pub async fn pay_raw(&self, wallet: i64, key: &str, to: &str, amount: u64) -> Answer {
        self.move_raw(
            wallet,
            "payments",
            key,
            &json!({ "to": to, "amount": amount }),
        )
        .await
    }

    /// A payment that must succeed: its `Payment`, once final.
    pub async fn pay(&self, wallet: i64, to: &str, amount: u64) -> Value {
        let answer = self.pay_raw(wallet, &key(), to, amount).await;
        let payment = answer.expect(200, &format!("pay {amount} from wallet {wallet}"));
        self.until_final(wallet, payment).await
    }

    pub async fn fund_raw(&self, wallet: i64, key: &str, amount: u64) -> Answer {
        self.move_raw(wallet, "fund", key, &json!({ "amount": amount }))
            .await
    }

    /// A fund that must succeed, once final.
    pub async fn fund(&self, wallet: i64, amount: u64) -> Value {
        let answer = self.fund_raw(wallet, &key(), amount).await;
        let payment = answer.expect(200, &format!("fund wallet {wallet} with {amount}"));
        self.until_final(wallet, payment).await
    }

    pub async fn defund_raw(&self, wallet: i64, key: &str, amount: u64) -> Answer {
        self.move_raw(wallet, "defund", key, &json!({ "amount": amount }))
            .await
    }

    /// A defund that must succeed, once final.
    pub async fn defund(&self, wallet: i64, amount: u64) -> Value {
        let answer = self.defund_raw(wallet, &key(), amount).await;
        let payment = answer.expect(200, &format!("defund {amount} from wallet {wallet}"));
        self.until_final(wallet, payment).await
    }

    pub async fn payment(&self, wallet: i64, payment: i64) -> Value {
        self.internal(
            Method::GET,
            &format!("/v1/wallets/{wallet}/payments/{payment}"),
            None,
        )
        .await
        .expect(200, "read a payment")
    }

    /// `payment` once it is final (polling while it is pending); a failed
    /// or refused one fails the test.
    pub async fn until_final(&self, wallet: i64, payment: Value) -> Value {
        if payment["state"] == "final" {
            return payment;
        }
        let id = int(&payment, "id");
        eventually(&format!("payment {id} is final"), || async {
            let now = self.payment(wallet, id).await;
            match now["state"].as_str() {
                Some("final") => Ok(now),
                Some("pending") => Err(now.to_string()),
                _ => panic!("payment {id} will not be final: {now}"),
            }
        })
        .await
    }

    /// Waits until `wallet`'s balance is `expected`.
    pub async fn until_balance(&self, wallet: i64, expected: u64) -> Value {
        eventually(&format!("wallet {wallet} holds {expected}"), || async {
            let now = self.wallet(wallet).await;
            if now["balance"].as_u64() == Some(expected) {
                Ok(now)
            } else {
                Err(now.to_string())
            }
        })
        .await
    }

    // --- the operator API ----------------------------------------------------

    pub async fn customer(&self, customer: i64) -> Value {
        self.operator(
            Method::GET,
            &format!("/v1/operator/customers/{customer}"),
            None,
        )
        .await
        .expect(200, "read a customer")
    }

    /// Raises `customer` to the verified tier.
    pub async fn verify(&self, customer: i64) {
        let answer = self
            .operator(
                Method::POST,
                &format!("/v1/operator/customers/{customer}/tier"),
                Some(&json!({"tier": "verified", "national_id": format!("ID{customer:08}")})),
            )
            .await;
        assert_eq!(
            answer.status,
            200,
            "verify customer {customer}: {}",
            answer.describe()
        );
    }

    /// Opens a deposit account for `customer`: its id.
    pub async fn open_account(&self, customer: i64) -> i64 {
        let body = self
            .operator(
                Method::POST,
                &format!("/v1/operator/customers/{customer}/accounts"),
                None,
            )
            .await
            .expect(201, "open a deposit account");
        assert_eq!(int(&body, "customer_id"), customer, "{body}");
        assert_eq!(money(&body, "balance"), 0, "a new account is empty: {body}");
        int(&body, "account_id")
    }

    /// Cash paid in at the counter.
    pub async fn cash_in(&self, account: i64, amount: u64) {
        let reference = format!("cash-{:032x}", rand::random::<u128>());
        let answer = self
            .operator(
                Method::POST,
                &format!("/v1/operator/accounts/{account}/deposits"),
                Some(&json!({ "amount": amount, "reference": reference })),
            )
            .await;
        assert!(
            answer.status == 200 || answer.status == 201,
            "cash in {amount} to account {account}: {}",
            answer.describe()
        );
    }

    pub async fn account(&self, account: i64) -> Value {
        self.operator(
            Method::GET,
            &format!("/v1/operator/accounts/{account}"),
            None,
        )
        .await
        .expect(200, "read a deposit account")
    }

    pub async fn account_balance(&self, account: i64) -> u64 {
        money(&self.account(account).await, "balance")
    }

    /// Links `account` to `wallet` (`None` unlinks).
    pub async fn link(&self, wallet: i64, account: Option<i64>) {
        let answer = self
            .operator(
                Method::POST,
                &format!("/v1/operator/wallets/{wallet}/link"),
                Some(&json!({ "account_id": account })),
            )
            .await;
        assert_eq!(
            answer.status,
            200,
            "link wallet {wallet}: {}",
            answer.describe()
        );
    }

    /// A new wallet with a linked deposit account holding `cash`.
    pub async fn wallet_with_account(&self, cash: u64) -> (Wallet, i64) {
        let wallet = self.open_wallet(&phone()).await;
        let account = self.open_account(wallet.customer_id).await;
        if cash > 0 {
            self.cash_in(account, cash).await;
        }
        self.link(wallet.id, Some(account)).await;
        (wallet, account)
    }

    /// A new wallet holding `amount`, funded from a linked deposit account
    /// that held exactly `amount` (so it is empty afterwards).
    pub async fn funded_wallet(&self, amount: u64) -> (Wallet, i64) {
        let (wallet, account) = self.wallet_with_account(amount).await;
        self.fund(wallet.id, amount).await;
        (wallet, account)
    }

    pub async fn freeze(&self, wallet: i64, frozen: bool) {
        let what = if frozen { "freeze" } else { "unfreeze" };
        let answer = self
            .operator(
                Method::POST,
                &format!("/v1/operator/wallets/{wallet}/{what}"),
                None,
            )
            .await;
        assert_eq!(
            answer.status,
            200,
            "{what} wallet {wallet}: {}",
            answer.describe()
        );
    }

    pub async fn float(&self) -> Value {
        self.operator(Method::GET, "/v1/operator/float", None)
            .await
            .expect(200, "read the float")
    }

    pub async fn float_balance(&self) -> u64 {
        money(&self.float().await, "balance")
    }

    /// Waits until the float holds `expected`.
    pub async fn until_float(&self, expected: u64) {
        eventually(&format!("the float holds {expected}"), || async {
            let float = self.float().await;
            if float["balance"].as_u64() == Some(expected) {
                Ok(())
            } else {
                Err(float.to_string())
            }
        })
        .await;
    }

    pub async fn chain(&self) -> Value {
        self.operator(Method::GET, "/v1/operator/chain", None)
            .await
            .expect(200, "read the chain")
    }

    /// Waits until the gateway has verified the chain up to `height`: every
    /// event of the blocks up to it has been seen.
    pub async fn until_height(&self, height: u64) {
        eventually(&format!("the gateway verified block {height}"), || async {
            let chain = self.chain().await;
            match chain["tip_height"].as_u64() {
                Some(tip) if tip >= height => Ok(()),
                _ => Err(chain.to_string()),
            }
        })
        .await;
    }

    /// Every statement entry of `wallet`, oldest first (all pages).
    pub async fn statement(&self, wallet: i64) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut after: Option<i64> = None;
        for _ in 0..PAGES_MAX {
            let path = match after {
                Some(after) => {
                    format!("/v1/operator/wallets/{wallet}/statement?after={after}&limit=2")
                }
                None => format!("/v1/operator/wallets/{wallet}/statement?limit=2"),
            };
            let page = self
                .operator(Method::GET, &path, None)
                .await
                .expect(200, "read a wallet's statement");
            entries.extend(page["entries"].as_array().cloned().unwrap_or_default());
            match page["next"].as_i64() {
                Some(next) => after = Some(next),
                None => return entries,
            }
        }
        panic!("wallet {wallet}'s statement has more than {PAGES_MAX} pages");
    }

    pub async fn held(&self) -> Vec<Value> {
        let body = self
            .operator(Method::GET, "/v1/operator/held", None)
            .await
            .expect(200, "list held notes");
        listed(&body)
    }

    pub async fn reconciliation(&self) -> Value {
        self.operator(Method::GET, "/v1/operator/reconciliation", None)
            .await
            .expect(200, "reconcile")
    }

    /// The books agree with the notes: `ok`, no differences, nothing uncredited.
    pub async fn assert_reconciled(&self) -> Value {
        let report = self.reconciliation().await;
        assert_eq!(report["ok"], true, "reconciliation: {report}");
        assert_eq!(report["differences"], json!([]), "reconciliation: {report}");
        assert_eq!(report["uncredited"], json!([]), "reconciliation: {report}");
        report
    }

    pub async fn position(&self) -> Value {
        self.operator(Method::GET, "/v1/operator/position", None)
            .await
            .expect(200, "the position proof")
    }
}

/// The items of a listing: the body itself if it is an array, else the
/// first array field of it.
pub fn listed(body: &Value) -> Vec<Value> {
    if let Some(items) = body.as_array() {
        return items.clone();
    }
    body.as_object()
        .and_then(|fields| fields.values().find_map(Value::as_array))
        .cloned()
        .unwrap_or_default()
}

/// Checks a position proof against the ledger: every note it names is
/// unspent there, and the sum of their commitments opens to `total` with
/// `blinding_sum` — so the bank holds exactly what it claims. Returns the total.
pub async fn check_position(ledger: &Ledger, proof: &Value) -> u64 {
    let total = money(proof, "total");
    let blinding_hex = proof["blinding_sum"]
        .as_str()
        .unwrap_or_else(|| panic!("blinding_sum is hex: {proof}"));
    let blinding: [u8; 32] = hex::decode(blinding_hex)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .unwrap_or_else(|| panic!("blinding_sum is 32 bytes of hex: {proof}"));
    let blinding = Option::<Scalar>::from(Scalar::from_canonical_bytes(blinding))
        .unwrap_or_else(|| panic!("blinding_sum is a canonical scalar: {proof}"));
    let notes = proof["notes"]
        .as_array()
        .unwrap_or_else(|| panic!("notes is a list: {proof}"));
    let mut sum = RistrettoPoint::default();
    for note in notes {
        let id = note.as_str().unwrap_or_else(|| panic!("a note id: {note}"));
        let (commitment, spent) = ledger.note(id).await;
        assert!(
            !spent,
            "note {id} of the position proof is spent on the ledger"
        );
        let bytes: [u8; 32] = hex::decode(&commitment)
            .ok()
            .and_then(|b| b.try_into().ok())
            .expect("the ledger's commitment is 32 bytes");
        let point = CompressedRistretto(bytes)
            .decompress()
            .expect("the ledger's commitment is a point");
        sum += point;
    }
    let claimed = Opening::new(Amount::new(total), blinding).commit_point();
    assert_eq!(
        sum, claimed,
        "the notes' commitments do not open to the claimed total {total}"
    );
    let height = money(proof, "height");
    assert_eq!(
        proof["block_hash"].as_str(),
        Some(ledger.block_hash(height).await.as_str()),
        "the proof names the ledger's block at its height: {proof}"
    );
    total
}

/// Admits bank `id`, starts its first gateway (replica `<id>-1`) and, if
/// `float` is not zero, has the officers issue it that much float and waits
/// until the gateway has credited it.
pub async fn bank(ledger: &Ledger, id: &str, float: u64) -> (Bank, Gateway) {
    let bank = Bank::admit(ledger, id).await;
    let gateway = Gateway::start(ledger, &bank, &format!("{id}-1")).await;
    if float > 0 {
        ledger.issue(id, float).await;
        gateway.api.until_float(float).await;
    }
    (bank, gateway)
}

/// Every mismatch a test found; [`Mismatches::finish`] fails the test with
/// all of them, so one run lists every way the gateway strays.
#[derive(Default)]
pub struct Mismatches {
    found: Vec<String>,
    checked: usize,
}

impl Mismatches {
    pub fn new() -> Mismatches {
        Mismatches::default()
    }

    /// Records a failure unless `ok`.
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checked += 1;
        if !ok {
            self.found.push(what());
        }
    }

    /// Records a failure unless `got == want`.
    pub fn equal<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        self.check(got == want, || {
            format!("{what}: got {got:?}, want {want:?}")
        });
    }

    /// The answer is `status` with a JSON `{code, message}`, the code one of
    /// `codes` (any code if `codes` is empty).
    pub fn answer(&mut self, case: &str, answer: &Answer, status: u16, codes: &[&str]) {
        let code_ok = codes.is_empty() || codes.contains(&answer.code());
        let message_ok = answer.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty());
        self.check(answer.status == status && code_ok && message_ok, || {
            format!(
                "{case}: expected {status} {codes:?} with a message, got {}",
                answer.describe()
            )
        });
    }

    /// Fails the test listing every mismatch.
    pub fn finish(self, test: &str) {
        if !self.found.is_empty() {
            panic!(
                "{test}: {} of {} checks failed:\n  - {}",
                self.found.len(),
                self.checked,
                self.found.join("\n  - ")
            );
        }
        println!("{test}: all {} checks passed", self.checked);
    }
}

// ---------------------------------------------------------------------------
// For tests/adversarial.rs

impl Ledger {
    /// The ledger's own database (a test that holds one of its row locks to
    /// stop the writer in the middle of a block).
    pub fn database(&self) -> &TestDatabase {
        &self.db
    }
}

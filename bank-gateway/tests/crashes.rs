//! A gateway that dies in the middle of its work, then starts again on the
//! same database: what was begun is applied exactly once.
//!
//! Each crash is placed two ways. Exactly, with the gateway's test hook
//! ([`bank_gateway::config::StepHook`]): the task doing the work parks at a
//! step boundary — `reserved` (the deposit or wallet debited, nothing
//! built), `built` (the transaction stored, not sent), `sent` (committed on
//! the ledger, not finalised), `credited` (the follower credited some notes
//! of a page, not the rest) — and the test kills the gateway there. And by
//! timing, like a real crash: operations staggered, the gateway killed after
//! varying delays, the states it left counted (retrying the timing a bounded
//! number of times until at least one operation was caught open).
//!
//! After every restart: the retry with the same `Idempotency-Key` answers
//! the same operation, each debit has its one credit (deposit ⇔ wallet),
//! nothing is credited twice, the ledger holds each transaction once, every
//! balance is exact and the books reconcile. The last tests run the main
//! flow, and a fund killed mid-way, with the gateways on SQLite (devnet).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bank_gateway::config::{GatewayConfig, StepFuture, StepHook, StepPoint};
use bank_gateway::store::rows::{op_state, OpRow};
use bank_gateway::store::{ops, schema, state_get, StoreError};
use cbdc_db::{AnyConnection, Backend, ConnectionManager, PoolConfig};
use diesel::prelude::*;
use diesel::r2d2::Pool;
use ledger_core::{Address, PublicKey, TxId};
use reqwest::Method;
use serde_json::{json, Value};
use support::{
    bank, check_position, eventually, int, key, money, phone, Answer, Api, Auth, Bank, Ledger,
    Wallet, START_MAX, STOP_MAX,
};

/// What the officers issue to a bank that pays.
const FLOAT: u64 = 100_000_000;
/// How long a test waits for a trap to spring (a step the gateway should reach).
const TRAP_MAX: Duration = Duration::from_secs(30);
/// Incoming payments in the follower's burst.
const BURST: usize = 15;

// ---------------------------------------------------------------------------
// Gateways on any database, killed or stopped

enum Stop {
    Graceful,
    Kill,
}

/// One gateway process on the database at `url` (PostgreSQL or a SQLite
/// file), on a runtime and thread of its own, as `support::Gateway` runs
/// one on its bank's PostgreSQL database. Dropping it kills it.
struct Node {
    replica: String,
    api: Arc<Api>,
    stop: Option<tokio::sync::oneshot::Sender<Stop>>,
    done: Option<std::sync::mpsc::Receiver<()>>,
}

impl Node {
    async fn start(bank: &Bank, config: GatewayConfig, url: &str) -> Node {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the gateway");
        let replica = config.replica.clone();
        let url = url.to_string();
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
                let started = runtime.block_on(bank_gateway::server::start(config, &url, listener));
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
                match runtime.block_on(stop_rx).unwrap_or(Stop::Kill) {
                    Stop::Graceful => {
                        runtime.block_on(async {
                            let _ = tokio::time::timeout(STOP_MAX, running.stop()).await;
                        });
                        runtime.shutdown_timeout(STOP_MAX);
                    }
                    Stop::Kill => {
                        // A crash: no task runs another step (a parked hook
                        // is dropped with its task), nothing is released or
                        // given back; only the database connections close,
                        // as a dead process's sockets do, once the dropped
                        // tasks let go of the gateway (PostgreSQL's
                        // connections are shared by every test running).
                        runtime.shutdown_background();
                        drop(running);
                    }
                }
                let _ = done_tx.send(());
            })
            .expect("a thread for the gateway");
        let base = tokio::task::spawn_blocking(move || ready_rx.recv_timeout(START_MAX).ok())
            .await
            .expect("the waiting thread does not panic");
        let base = match base {
            Some(Ok(base)) => base,
            Some(Err(error)) => panic!("gateway {replica} did not start: {error}"),
            None => panic!("gateway {replica} did not start within {START_MAX:?}"),
        };
        let node = Node {
            replica: replica.clone(),
            api: Arc::new(Api::new(&base, &bank.internal_token, &bank.operator_token)),
            stop: Some(stop_tx),
            done: Some(done_rx),
        };
        let api = node.api.clone();
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
        node
    }

    async fn kill(mut self) {
        self.end(Stop::Kill).await;
    }

    async fn stop(mut self) {
        self.end(Stop::Graceful).await;
    }

    async fn end(&mut self, how: Stop) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(how);
        }
        if let Some(done) = self.done.take() {
            let ended = tokio::task::spawn_blocking(move || done.recv_timeout(STOP_MAX * 2).ok())
                .await
                .expect("the waiting thread does not panic");
            assert!(
                ended.is_some(),
                "gateway {} did not stop in time",
                self.replica
            );
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Stop::Kill);
        }
        if let Some(done) = self.done.take() {
            let _ = done.recv_timeout(STOP_MAX);
        }
    }
}

/// A directory removed when the value goes (the SQLite files).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(purpose: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "cbdc-gw-{purpose}-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&path).expect("a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bank whose gateways all run on one database: its own PostgreSQL
/// database, or a SQLite file. Holds the test's own view of that database
/// (one connection).
struct Site {
    bank: Bank,
    url: String,
    pool: Pool<ConnectionManager>,
    backend: Backend,
    restarts: AtomicUsize,
    /// Last: the SQLite file outlives the store and every gateway.
    _dir: Option<TempDir>,
}

impl Site {
    async fn postgres(ledger: &Ledger, id: &str) -> Site {
        let bank = Bank::admit(ledger, id).await;
        let url = bank.db.url().to_string();
        Site::open(bank, url, None).await
    }

    async fn sqlite(ledger: &Ledger, id: &str) -> Site {
        let bank = Bank::admit(ledger, id).await;
        let dir = TempDir::new(id);
        let url = dir
            .0
            .join(format!("gateway-{id}.sqlite"))
            .to_string_lossy()
            .into_owned();
        Site::open(bank, url, Some(dir)).await
    }

    /// The schema is the gateway's to make (its first start migrates); the
    /// test only reads, with one connection.
    async fn open(bank: Bank, url: String, dir: Option<TempDir>) -> Site {
        let opened = url.clone();
        let config = PoolConfig {
            pool_size_max: 1,
            ..PoolConfig::default()
        };
        let (pool, backend) =
            tokio::task::spawn_blocking(move || cbdc_db::open_pool(&opened, config))
                .await
                .expect("the opening thread does not panic")
                .unwrap_or_else(|e| panic!("open the gateway's database {url}: {e}"));
        Site {
            bank,
            url,
            pool,
            backend,
            restarts: AtomicUsize::new(0),
            _dir: dir,
        }
    }

    fn is_sqlite(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    /// A fresh replica of the bank's gateway (a new name each time: a
    /// replacement waits for a dead replica's follower lease to lapse).
    async fn start(&self, ledger: &Ledger, hook: StepHook) -> Node {
        let n = self.restarts.fetch_add(1, Ordering::SeqCst);
        self.start_as(ledger, hook, &format!("{}-{n}", self.bank.id))
            .await
    }

    /// The gateway `replica` started again (after a crash: the same
    /// process's name, so it takes its follower lease back at once).
    async fn restart(&self, ledger: &Ledger, replica: &str) -> Node {
        self.start_as(ledger, StepHook::default(), replica).await
    }

    async fn start_as(&self, ledger: &Ledger, hook: StepHook, replica: &str) -> Node {
        let mut config = self.bank.config(ledger, replica);
        config.step_hook = hook;
        Node::start(&self.bank, config, &self.url).await
    }

    /// A gateway that issues `float` first and waits until it is credited.
    async fn start_with_float(&self, ledger: &Ledger, float: u64) -> Node {
        let node = self.start(ledger, StepHook::default()).await;
        ledger.issue(&self.bank.id, float).await;
        node.api.until_float(float).await;
        node
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
    ) -> T {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(StoreError::Unavailable)?;
            f(&mut conn)
        })
        .await
        .expect("the reading thread does not panic")
        .unwrap_or_else(|e| panic!("read the gateway's database: {e}"))
    }

    async fn op(&self, id: i64) -> OpRow {
        self.read(move |c| ops::op(c, id))
            .await
            .unwrap_or_else(|| panic!("operation {id} exists"))
    }

    async fn op_by_key(&self, key: String) -> Option<OpRow> {
        self.read(move |c| ops::op_by_key(c, &key)).await
    }

    async fn wallet_balance(&self, wallet: i64) -> i64 {
        self.read(move |c| ops::wallet(c, wallet))
            .await
            .unwrap_or_else(|| panic!("wallet {wallet} exists"))
            .balance
    }

    async fn deposit_balance(&self, account: i64) -> u64 {
        self.read(move |c| ops::deposit_balance(c, account)).await
    }

    /// The notes the bank holds for `wallet`, in any state.
    async fn notes_of(&self, wallet: i64) -> usize {
        let count: i64 = self
            .read(move |c| {
                Ok(schema::notes::table
                    .filter(schema::notes::wallet_id.eq(wallet))
                    .count()
                    .get_result(c)?)
            })
            .await;
        usize::try_from(count).expect("a count")
    }

    async fn flagged(&self) -> i64 {
        self.read(|c| Ok(schema::flagged_notes::table.count().get_result::<i64>(c)?))
            .await
    }

    async fn cursor(&self) -> u64 {
        self.read(|c| state_get(c, "follower_cursor"))
            .await
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------
// Traps: the gateway parked between two steps

/// A hook that parks the task reaching `step` of an operation of `kind`
/// (or `follow`) for the `skip + 1`-th time, and every later one — for
/// good, unless the test opens the gate (a stalled replica waking up). The
/// points it parked at arrive on the receiver.
struct Trap {
    hook: StepHook,
    hits: tokio::sync::mpsc::UnboundedReceiver<StepPoint>,
    gate: Arc<tokio::sync::Semaphore>,
}

fn trap(step: &'static str, kind: &'static str, skip: usize) -> Trap {
    let (sprung, hits) = tokio::sync::mpsc::unbounded_channel();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let seen = AtomicUsize::new(0);
    let opens = gate.clone();
    let hook = move |point: StepPoint| -> StepFuture {
        if point.step == step && point.kind == kind && seen.fetch_add(1, Ordering::SeqCst) >= skip {
            let _ = sprung.send(point);
            let gate = opens.clone();
            return Box::pin(async move {
                let _ = gate.acquire().await;
            });
        }
        Box::pin(std::future::ready(()))
    };
    Trap {
        hook: StepHook(Some(Arc::new(hook))),
        hits,
        gate,
    }
}

impl Trap {
    /// Lets every parked task (and every later one) go on.
    fn open(&self) {
        self.gate
            .add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    }
}

async fn sprung(
    trap: &mut tokio::sync::mpsc::UnboundedReceiver<StepPoint>,
    what: &str,
) -> StepPoint {
    tokio::time::timeout(TRAP_MAX, trap.recv())
        .await
        .unwrap_or_else(|_| panic!("the gateway did not reach {what} within {TRAP_MAX:?}"))
        .unwrap_or_else(|| panic!("the trap for {what} was dropped"))
}

// ---------------------------------------------------------------------------
// The ledger's side

/// Whether the ledger committed `tx` (hex).
async fn on_ledger(ledger: &Ledger, tx: &[u8]) -> bool {
    let id: TxId = hex::encode(tx).parse().expect("a transaction id");
    match ledger.officer(0).transaction_view(&id).await {
        Ok(_) => true,
        Err(e) if e.status() == Some(404) => false,
        Err(e) => panic!("ask the ledger for {}: {e}", hex::encode(tx)),
    }
}

/// The owner key of an address (whose notes the ledger's feed names).
fn owner(address: &str) -> PublicKey {
    let address: Address = address.parse().expect("a cbdc address");
    address.spend
}

/// Per transaction (hex), how many notes it created for `owner` and
/// whether it spent one of `owner`'s, from the ledger's whole feed.
async fn ledger_txs_of(ledger: &Ledger, owner: &PublicKey) -> BTreeMap<String, (usize, bool)> {
    let client = ledger.officer(0);
    let mut txs: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    let mut after = 0;
    for _ in 0..1_000 {
        let page = client
            .events_page(after, Some(owner), Some(500), 0)
            .await
            .expect("the ledger's feed");
        if page.events.is_empty() {
            return txs;
        }
        for event in &page.events {
            let entry = txs.entry(event.tx_id.clone()).or_default();
            match event.kind {
                ledger_client::wire::EventKindView::Created => entry.0 += 1,
                ledger_client::wire::EventKindView::Spent => entry.1 = true,
            }
        }
        after = page.next;
    }
    panic!("the feed of one wallet has more than 1,000 pages");
}

// ---------------------------------------------------------------------------
// The books of one wallet

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fund,
    Defund,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Fund => "fund",
            Kind::Defund => "defund",
        }
    }
}

/// A final fund or defund of a wallet.
#[derive(Debug, Clone)]
struct Done {
    id: i64,
    kind: Kind,
    amount: u64,
    tx_id: String,
}

impl Done {
    fn of(kind: Kind, payment: &Value) -> Done {
        assert_eq!(payment["state"], "final", "{payment}");
        assert_eq!(payment["kind"], kind.path(), "{payment}");
        Done {
            id: int(payment, "id"),
            kind,
            amount: money(payment, "amount"),
            tx_id: payment["tx_id"]
                .as_str()
                .unwrap_or_else(|| panic!("a final payment has a tx: {payment}"))
                .to_string(),
        }
    }
}

/// One customer wallet with its linked deposit account, and what the test
/// expects of them.
struct Customer {
    wallet: Wallet,
    account: i64,
    cash: u64,
    done: Vec<Done>,
}

impl Customer {
    async fn open(api: &Api, cash: u64) -> Customer {
        let (wallet, account) = api.wallet_with_account(cash).await;
        Customer {
            wallet,
            account,
            cash,
            done: Vec::new(),
        }
    }

    fn balance(&self) -> u64 {
        self.done.iter().fold(0, |b, d| match d.kind {
            Kind::Fund => b + d.amount,
            Kind::Defund => b - d.amount,
        })
    }

    fn deposit(&self) -> u64 {
        self.done.iter().fold(self.cash, |b, d| match d.kind {
            Kind::Fund => b - d.amount,
            Kind::Defund => b + d.amount,
        })
    }

    /// Every balance and entry of the wallet and its deposit, and the
    /// ledger's view of the wallet: each operation applied once, nothing
    /// else. Returns the mismatches.
    async fn check(&self, api: &Api, ledger: &Ledger) -> Vec<String> {
        let mut wrong = Vec::new();
        let w = self.wallet.id;
        let balance = api.balance(w).await;
        if balance != self.balance() {
            wrong.push(format!(
                "wallet {w} holds {balance}, want {}",
                self.balance()
            ));
        }
        let deposit = api.account_balance(self.account).await;
        if deposit != self.deposit() {
            wrong.push(format!(
                "account {} holds {deposit}, want {}",
                self.account,
                self.deposit()
            ));
        }
        // The wallet's history: one entry per operation, of its amount.
        let history = api.history(w).await;
        if history.len() != self.done.len() {
            wrong.push(format!(
                "wallet {w} has {} history entries for {} operations: {history:?}",
                history.len(),
                self.done.len()
            ));
        }
        for done in &self.done {
            let signed = match done.kind {
                Kind::Fund => i64::try_from(done.amount).expect("an amount"),
                Kind::Defund => -i64::try_from(done.amount).expect("an amount"),
            };
            let entries: Vec<i64> = history
                .iter()
                .filter(|e| e["operation_id"].as_i64() == Some(done.id))
                .map(|e| int(e, "amount"))
                .collect();
            if entries != vec![signed] {
                wrong.push(format!(
                    "wallet {w}: {:?} {} has entries {entries:?}, want [{signed}]",
                    done.kind, done.id
                ));
            }
        }
        // The deposit: the cash in, then one entry per operation.
        let account = api.account(self.account).await;
        let entries = account["entries"].as_array().cloned().unwrap_or_default();
        let by_reference: BTreeMap<String, Vec<i64>> =
            entries.iter().fold(BTreeMap::new(), |mut map, e| {
                let reference = e["reference"].as_str().unwrap_or("").to_string();
                map.entry(reference).or_default().push(int(e, "amount"));
                map
            });
        if entries.len() != self.done.len() + usize::from(self.cash > 0) {
            wrong.push(format!(
                "account {} has {} entries for {} operations: {by_reference:?}",
                self.account,
                entries.len(),
                self.done.len()
            ));
        }
        for done in &self.done {
            let amount = i64::try_from(done.amount).expect("an amount");
            let (reference, want) = match done.kind {
                Kind::Fund => (format!("fund:{}", done.id), -amount),
                Kind::Defund => (format!("defund:{}", done.id), amount),
            };
            if by_reference.get(&reference) != Some(&vec![want]) {
                wrong.push(format!(
                    "account {}: {reference} booked {:?}, want [{want}]",
                    self.account,
                    by_reference.get(&reference)
                ));
            }
        }
        if let Some(reversal) = by_reference.keys().find(|r| r.contains("reversal")) {
            wrong.push(format!("account {}: a reversal {reversal}", self.account));
        }
        // The ledger: exactly the operations' transactions touch the
        // wallet; a fund created one note for it.
        let on_ledger = ledger_txs_of(ledger, &owner(&self.wallet.address)).await;
        let ours: BTreeSet<String> = self.done.iter().map(|d| d.tx_id.clone()).collect();
        let theirs: BTreeSet<String> = on_ledger.keys().cloned().collect();
        if ours != theirs {
            wrong.push(format!(
                "wallet {w}: the ledger shows transactions {theirs:?}, the gateway made {ours:?}"
            ));
        }
        for done in self.done.iter().filter(|d| d.kind == Kind::Fund) {
            if on_ledger.get(&done.tx_id).map(|t| t.0) != Some(1) {
                wrong.push(format!(
                    "wallet {w}: fund {} created {:?} notes on the ledger, want 1",
                    done.id,
                    on_ledger.get(&done.tx_id)
                ));
            }
        }
        wrong
    }
}

/// Fails the test with every mismatch.
fn none_wrong(what: &str, wrong: &[String]) {
    assert!(
        wrong.is_empty(),
        "{what}: {} mismatches:\n  - {}",
        wrong.len(),
        wrong.join("\n  - ")
    );
}

async fn send_move(
    api: &Api,
    kind: Kind,
    wallet: i64,
    key: &str,
    amount: u64,
) -> Result<Answer, String> {
    api.try_call(
        Method::POST,
        &format!("/v1/wallets/{wallet}/{}", kind.path()),
        Auth::Internal,
        Some(key),
        Some(&json!({ "amount": amount })),
    )
    .await
}

/// The retry of a request cut off by a crash, with its key, until final.
async fn retry_until_final(api: &Api, kind: Kind, wallet: i64, key: &str, amount: u64) -> Value {
    let answer = api
        .move_raw(wallet, kind.path(), key, &json!({ "amount": amount }))
        .await;
    let payment = answer.expect(200, &format!("the retry of a {kind:?} after the crash"));
    api.until_final(wallet, payment).await
}

/// The stored key of a fund or defund sent with `key`.
fn stored_key(kind: Kind, wallet: i64, key: &str) -> String {
    format!("{}:{wallet}:{key}", kind.path())
}

/// Where a crash left an operation: not begun, `reserved`, `built` (not on
/// the ledger), `sent` (on the ledger, not final), `final`, `failed`.
async fn state_left(ledger: &Ledger, op: Option<&OpRow>) -> &'static str {
    let Some(op) = op else {
        return "none";
    };
    match op.state.as_str() {
        op_state::RESERVED => "reserved",
        op_state::BUILT => {
            let tx = op.tx_id.as_deref().expect("a built operation has a tx");
            if on_ledger(ledger, tx).await {
                "sent"
            } else {
                "built"
            }
        }
        op_state::FINAL => "final",
        op_state::FAILED => "failed",
        _ => "refused",
    }
}

// ---------------------------------------------------------------------------
// Fund and defund, cut off exactly at each step

/// Moves `amount` for `customer` (`kind`) through a gateway parked at
/// `step`; checks what the crash left, kills it, starts another, and has
/// the operation completed once — by the retry, or (`by_resumer`) by the
/// new gateway's resumer before the retry asks. Returns the new gateway.
async fn cut_at(
    site: &Site,
    ledger: &Ledger,
    customer: &mut Customer,
    kind: Kind,
    step: &'static str,
    amount: u64,
    by_resumer: bool,
) -> Node {
    let what = format!("a {kind:?} of {amount} at `{step}`");
    let kind_name = kind.path();
    let Trap { hook, mut hits, .. } = trap(step, kind_name, 0);
    let doomed = site.start(ledger, hook).await;
    let key = key();
    let w = customer.wallet.id;
    let request = {
        let api = doomed.api.clone();
        let key = key.clone();
        tokio::spawn(async move { send_move(&api, kind, w, &key, amount).await })
    };
    let point = sprung(&mut hits, &what).await;
    // What the crash leaves, read before the kill (the gateway is parked).
    let op = site.op(point.id).await;
    let stored = site.op_by_key(stored_key(kind, w, &key)).await;
    assert_eq!(
        stored.as_ref().map(|o| o.id),
        Some(op.id),
        "{what}: the parked operation is the request's"
    );
    let left = state_left(ledger, Some(&op)).await;
    assert_eq!(left, step, "{what}: the crash finds it {left}: {op:?}");
    let before_wallet = customer.balance();
    let before_deposit = customer.deposit();
    let (wallet_now, deposit_now) = (
        site.wallet_balance(w).await,
        site.deposit_balance(customer.account).await,
    );
    let a = i64::try_from(amount).expect("an amount");
    let b = i64::try_from(before_wallet).expect("a balance");
    match kind {
        // Reserved: the deposit is debited, the wallet not yet credited.
        Kind::Fund => assert_eq!(
            (wallet_now, deposit_now),
            (b, before_deposit - amount),
            "{what}: at the crash"
        ),
        // Reserved: the wallet is debited, the deposit not yet credited.
        Kind::Defund => assert_eq!(
            (wallet_now, deposit_now),
            (b - a, before_deposit),
            "{what}: at the crash"
        ),
    }
    println!(
        "{}: {what} caught `{left}` (op {}, wallet {wallet_now}, deposit {deposit_now})",
        if site.is_sqlite() {
            "sqlite"
        } else {
            "postgres"
        },
        op.id
    );
    let replica = doomed.replica.clone();
    doomed.kill().await;
    let cut = request.await.expect("the request task does not panic");
    assert!(
        cut.is_err(),
        "{what}: the request cut by the crash got no answer, yet: {cut:?}"
    );

    let node = site.restart(ledger, &replica).await;
    if by_resumer {
        // Nobody asks again: the new gateway's resumer takes it up.
        let id = op.id;
        eventually(&format!("the resumer completes {what}"), || async {
            let now = site.op(id).await;
            if now.state == op_state::FINAL {
                Ok(())
            } else {
                Err(format!("{} ({:?})", now.state, now.error_message))
            }
        })
        .await;
    }
    let payment = retry_until_final(&node.api, kind, w, &key, amount).await;
    assert_eq!(
        int(&payment, "id"),
        op.id,
        "{what}: the retry answers the same operation"
    );
    if let Some(tx) = &op.tx_id {
        // Built before the crash: the very transaction stored then.
        assert_eq!(
            payment["tx_id"].as_str(),
            Some(hex::encode(tx).as_str()),
            "{what}: the stored transaction is the one sent"
        );
    }
    // A second retry still answers the same, final operation.
    let again = retry_until_final(&node.api, kind, w, &key, amount).await;
    assert_eq!(int(&again, "id"), op.id, "{what}: a second retry");
    customer.done.push(Done::of(kind, &payment));
    none_wrong(&what, &customer.check(&node.api, ledger).await);
    node
}

/// Cuts `kind` at every step, one crash after the other on one bank, then
/// checks the float and the reconciliation.
async fn cut_at_every_step(site: &Site, ledger: &Ledger, kind: Kind) {
    let setup = site.start_with_float(ledger, FLOAT).await;
    let mut customer = Customer::open(&setup.api, 900_000).await;
    if kind == Kind::Defund {
        let funded = setup.api.fund(customer.wallet.id, 600_000).await;
        customer.done.push(Done::of(Kind::Fund, &funded));
    }
    setup.stop().await;
    let mut last = None;
    for (i, step) in ["reserved", "built", "sent"].into_iter().enumerate() {
        if let Some(node) = last.take() {
            Node::stop(node).await;
        }
        let amount = 100_000 + 1_000 * u64::try_from(i).expect("small");
        // The last one is left to the resumer (no retry until it is final).
        let by_resumer = step == "sent";
        last = Some(cut_at(site, ledger, &mut customer, kind, step, amount, by_resumer).await);
    }
    let node = last.expect("a gateway runs");
    // What the float paid out, net: what the wallet holds now.
    node.api.until_float(FLOAT - customer.balance()).await;
    node.api.until_height(ledger.height().await).await;
    let report = node.api.assert_reconciled().await;
    assert_eq!(money(&report, "in_flight"), 0, "{report}");
    assert_eq!(site.flagged().await, 0, "nothing flagged");
    let proof = node.api.position().await;
    assert_eq!(check_position(ledger, &proof).await, FLOAT, "{proof}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fund_cut_off_at_each_step_debits_the_deposit_once_and_credits_the_wallet_once() {
    let ledger = Ledger::start().await;
    let site = Site::postgres(&ledger, "bank-a").await;
    cut_at_every_step(&site, &ledger, Kind::Fund).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_defund_cut_off_at_each_step_debits_the_wallet_once_and_credits_the_deposit_once() {
    let ledger = Ledger::start().await;
    let site = Site::postgres(&ledger, "bank-a").await;
    cut_at_every_step(&site, &ledger, Kind::Defund).await;
}

/// Not dead, only stalled: a replica parked in the middle of a fund long
/// enough for the other replica's resumer to complete it, then woken. It
/// finds the work done, applies nothing again, and answers the same final
/// operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_replica_that_wakes_after_the_other_completed_its_fund_applies_nothing_twice() {
    let ledger = Ledger::start().await;
    let site = Site::postgres(&ledger, "bank-a").await;
    let setup = site.start_with_float(&ledger, FLOAT).await;
    let mut customer = Customer::open(&setup.api, 900_000).await;
    setup.stop().await;
    let w = customer.wallet.id;
    for (i, step) in ["reserved", "sent"].into_iter().enumerate() {
        let what = format!("a fund stalled at `{step}`");
        let amount = 200_000 + 1_000 * u64::try_from(i).expect("small");
        let mut trap = trap(step, "fund", 0);
        let stalled = site.start(&ledger, trap.hook.clone()).await;
        let key = key();
        let request = {
            let (api, key) = (stalled.api.clone(), key.clone());
            tokio::spawn(async move { send_move(&api, Kind::Fund, w, &key, amount).await })
        };
        let point = sprung(&mut trap.hits, &what).await;
        let op = site.op(point.id).await;
        assert_eq!(state_left(&ledger, Some(&op)).await, step, "{what}: {op:?}");
        // The other replica's resumer takes it up once it has been idle.
        let other = site.start(&ledger, StepHook::default()).await;
        eventually(&format!("the other replica completes {what}"), || async {
            let now = site.op(op.id).await;
            if now.state == op_state::FINAL {
                Ok(())
            } else {
                Err(now.state)
            }
        })
        .await;
        let completed = site.op(op.id).await;
        // The stalled replica wakes and goes on from where it stopped.
        trap.open();
        let answer = request
            .await
            .expect("the request task does not panic")
            .unwrap_or_else(|e| panic!("{what}: the stalled replica answers: {e}"));
        let payment = answer.expect(200, &format!("{what}: the stalled replica's answer"));
        assert_eq!(int(&payment, "id"), op.id, "{what}: {payment}");
        assert_eq!(payment["state"], "final", "{what}: {payment}");
        assert_eq!(
            payment["tx_id"].as_str(),
            completed.tx_id.as_deref().map(hex::encode).as_deref(),
            "{what}: the transaction the other replica sent"
        );
        let retried = retry_until_final(&other.api, Kind::Fund, w, &key, amount).await;
        assert_eq!(int(&retried, "id"), op.id, "{what}: the retry");
        println!(
            "{what}: completed by the other replica, the stalled one woke to op {} final",
            op.id
        );
        customer.done.push(Done::of(Kind::Fund, &retried));
        // Both replicas see the same books, each step applied once.
        none_wrong(&what, &customer.check(&stalled.api, &ledger).await);
        none_wrong(&what, &customer.check(&other.api, &ledger).await);
        stalled.stop().await;
        other.stop().await;
    }
    let node = site.start(&ledger, StepHook::default()).await;
    node.api.until_float(FLOAT - customer.balance()).await;
    node.api.until_height(ledger.height().await).await;
    let report = node.api.assert_reconciled().await;
    assert_eq!(money(&report, "in_flight"), 0, "{report}");
    node.stop().await;
}

// ---------------------------------------------------------------------------
// Fund and defund, cut off by timing

/// Kill delays after the first request, tried in order until a kill has
/// caught an operation open (reserved, built or sent).
const KILL_AFTER_MS: [u64; 6] = [60, 140, 30, 250, 90, 400];
/// At least this many kills, at different moments, whatever they catch.
const KILLS_MIN: usize = 3;
/// Operations in flight at each kill: this many funds and as many defunds.
const STAGGERED: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn funds_and_defunds_cut_off_at_staggered_moments_complete_once() {
    let ledger = Ledger::start().await;
    let site = Site::postgres(&ledger, "bank-a").await;
    let setup = site.start_with_float(&ledger, FLOAT).await;
    // One float note per concurrent fund, so they do not wait on each other.
    for _ in 1..STAGGERED {
        ledger.issue(&site.bank.id, FLOAT).await;
    }
    let float_total = FLOAT * u64::try_from(STAGGERED).expect("small");
    setup.api.until_float(float_total).await;
    let mut funded = Vec::new();
    let mut defunded = Vec::new();
    for _ in 0..STAGGERED {
        funded.push(Customer::open(&setup.api, 900_000).await);
        let mut customer = Customer::open(&setup.api, 900_000).await;
        let payment = setup.api.fund(customer.wallet.id, 600_000).await;
        customer.done.push(Done::of(Kind::Fund, &payment));
        defunded.push(customer);
    }
    setup.stop().await;

    let mut caught: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut kills = 0;
    for (round, delay) in KILL_AFTER_MS.into_iter().enumerate() {
        let open = ["reserved", "built", "sent"]
            .iter()
            .map(|s| caught.get(s).copied().unwrap_or(0))
            .sum::<usize>();
        if kills >= KILLS_MIN && open > 0 {
            break;
        }
        let doomed = site.start(&ledger, StepHook::default()).await;
        let amount = 10_000 + 100 * u64::try_from(round).expect("small");
        // (customer index: funds first, then defunds; kind; key)
        let mut sent: Vec<(usize, Kind, String)> = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..STAGGERED * 2 {
            let (kind, wallet) = if i % 2 == 0 {
                (Kind::Fund, funded[i / 2].wallet.id)
            } else {
                (Kind::Defund, defunded[i / 2].wallet.id)
            };
            let key = key();
            sent.push((i, kind, key.clone()));
            let api = doomed.api.clone();
            let stagger = Duration::from_millis(20 * u64::try_from(i).expect("small"));
            tasks.spawn(async move {
                tokio::time::sleep(stagger).await;
                send_move(&api, kind, wallet, &key, amount).await
            });
        }
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let replica = doomed.replica.clone();
        doomed.kill().await;
        kills += 1;
        while let Some(joined) = tasks.join_next().await {
            let _ = joined.expect("a request task does not panic");
        }
        // What the restarted gateway will find (the killed one runs no
        // other step).
        let mut states = Vec::new();
        let mut ids = BTreeMap::new();
        for (i, kind, key) in &sent {
            let wallet = match kind {
                Kind::Fund => funded[i / 2].wallet.id,
                Kind::Defund => defunded[i / 2].wallet.id,
            };
            let op = site.op_by_key(stored_key(*kind, wallet, key)).await;
            let state = state_left(&ledger, op.as_ref()).await;
            *caught.entry(state).or_default() += 1;
            states.push(format!("{}:{state}", kind.path()));
            if let Some(op) = op {
                ids.insert(*i, op.id);
            }
        }
        println!("kill {kills} after {delay} ms caught: {states:?}");

        let node = site.restart(&ledger, &replica).await;
        for (i, kind, key) in &sent {
            let customer = match kind {
                Kind::Fund => &mut funded[i / 2],
                Kind::Defund => &mut defunded[i / 2],
            };
            let payment =
                retry_until_final(&node.api, *kind, customer.wallet.id, key, amount).await;
            if let Some(id) = ids.get(i) {
                assert_eq!(
                    int(&payment, "id"),
                    *id,
                    "the retry answers the operation begun before the crash"
                );
            }
            customer.done.push(Done::of(*kind, &payment));
        }
        let mut wrong = Vec::new();
        for customer in funded.iter().chain(defunded.iter()) {
            wrong.extend(customer.check(&node.api, &ledger).await);
        }
        none_wrong(&format!("after kill {kills}"), &wrong);
        node.stop().await;
    }
    println!("states the {kills} kills caught: {caught:?}");
    let open: usize = ["reserved", "built", "sent"]
        .iter()
        .map(|s| caught.get(s).copied().unwrap_or(0))
        .sum();
    assert!(
        open > 0,
        "no kill caught an operation in flight (reserved, built or sent): {caught:?}"
    );
    assert!(kills >= KILLS_MIN, "{kills} kills");

    let node = site.start(&ledger, StepHook::default()).await;
    let out: u64 = funded.iter().map(Customer::balance).sum();
    let back: u64 = defunded.iter().map(|c| 600_000 - c.balance()).sum::<u64>();
    node.api
        .until_float(float_total - out - STAGGERED as u64 * 600_000 + back)
        .await;
    node.api.until_height(ledger.height().await).await;
    let report = node.api.assert_reconciled().await;
    assert_eq!(money(&report, "in_flight"), 0, "{report}");
    node.stop().await;
}

// ---------------------------------------------------------------------------
// The follower, cut off in the middle of a burst

/// Pays `amounts` from bank B's `senders` to `to`, several at once (one
/// payment per sender at a time), each final.
async fn pay_burst(b: &Arc<Api>, senders: &[Wallet], to: &str, amounts: &[u64]) {
    let mut tasks = tokio::task::JoinSet::new();
    for (s, sender) in senders.iter().enumerate() {
        let mine: Vec<u64> = amounts
            .iter()
            .enumerate()
            .filter(|(i, _)| i % senders.len() == s)
            .map(|(_, a)| *a)
            .collect();
        let (api, wallet, to) = (b.clone(), sender.id, to.to_string());
        tasks.spawn(async move {
            for amount in mine {
                api.pay(wallet, &to, amount).await;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("a sender's payments succeed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_follower_killed_in_a_burst_credits_every_note_once_after_a_restart() {
    let ledger = Ledger::start().await;
    let site = Site::postgres(&ledger, "bank-a").await;
    let (_b, b) = bank(&ledger, "bank-b", FLOAT).await;
    let first = site.start(&ledger, StepHook::default()).await;
    let incoming = first.api.open_wallet(&phone()).await;
    first.stop().await;
    let mut senders = Vec::new();
    for _ in 0..3 {
        senders.push(b.api.funded_wallet(200_000).await.0);
    }
    let mut expected: Vec<u64> = Vec::new();

    // 1. Exactly: the burst arrives while bank A is down; the gateway that
    // comes up credits six of its notes and is killed before the seventh.
    let burst: Vec<u64> = (0..BURST).map(|i| 1_000 + 10 * i as u64).collect();
    pay_burst(&b.api, &senders, &incoming.address, &burst).await;
    expected.extend(&burst);
    let Trap { hook, mut hits, .. } = trap("credited", "follow", 5);
    let doomed = site.start(&ledger, hook).await;
    let point = sprung(&mut hits, "the follower's sixth credit").await;
    let credited = site.notes_of(incoming.id).await;
    let cursor = site.cursor().await;
    println!(
        "follower parked after credit 6 of {BURST} (event {}, cursor {cursor}): {credited} notes credited",
        point.id
    );
    assert_eq!(credited, 6, "the kill lands in the middle of the burst");
    assert_eq!(
        cursor,
        u64::try_from(point.id).expect("a sequence number"),
        "the cursor moved with the last credit"
    );
    assert_eq!(
        site.wallet_balance(incoming.id).await,
        i64::try_from(burst[..6].iter().sum::<u64>()).expect("small"),
        "each credit landed with its balance"
    );
    let replica = doomed.replica.clone();
    doomed.kill().await;
    let again = site.restart(&ledger, &replica).await;
    let total: u64 = expected.iter().sum();
    again.api.until_balance(incoming.id, total).await;

    // 2. By timing: a second burst while A is down; the next gateway is
    // killed as soon as it has credited some of it.
    again.stop().await;
    let second: Vec<u64> = (0..BURST).map(|i| 2_000 + 10 * i as u64).collect();
    pay_burst(&b.api, &senders, &incoming.address, &second).await;
    expected.extend(&second);
    let before = site.notes_of(incoming.id).await;
    let doomed = site.start(&ledger, StepHook::default()).await;
    let started = Instant::now();
    let mut seen = before;
    while seen == before && started.elapsed() < TRAP_MAX {
        tokio::time::sleep(Duration::from_millis(2)).await;
        seen = site.notes_of(incoming.id).await;
    }
    let replica = doomed.replica.clone();
    doomed.kill().await;
    let at_kill = site.notes_of(incoming.id).await - before;
    println!(
        "follower killed by timing with {at_kill} of {BURST} notes of the second burst credited"
    );
    assert!(
        at_kill >= 1,
        "the kill came after the follower began crediting"
    );

    let last = site.restart(&ledger, &replica).await;
    let total: u64 = expected.iter().sum();
    last.api.until_balance(incoming.id, total).await;
    last.api.until_height(ledger.height().await).await;
    let history = last.api.history(incoming.id).await;
    let mut amounts: Vec<u64> = history
        .iter()
        .map(|e| u64::try_from(int(e, "amount")).expect("credits only"))
        .collect();
    amounts.sort_unstable();
    let mut want = expected.clone();
    want.sort_unstable();
    assert_eq!(amounts, want, "every note credited once: {history:?}");
    assert_eq!(site.notes_of(incoming.id).await, 2 * BURST);
    let on_ledger = ledger_txs_of(&ledger, &owner(&incoming.address)).await;
    assert_eq!(
        on_ledger.values().map(|t| t.0).sum::<usize>(),
        2 * BURST,
        "the ledger shows each payment once: {on_ledger:?}"
    );
    assert_eq!(last.api.balance(incoming.id).await, total);
    assert_eq!(site.flagged().await, 0, "nothing flagged");
    assert!(last.api.held().await.is_empty(), "nothing held");
    let report = last.api.assert_reconciled().await;
    assert_eq!(money(&report, "wallets_total"), total, "{report}");
    b.api.assert_reconciled().await;
    last.stop().await;
    b.stop().await;
}

/// The waterfall's sweep is started by a credit, driven by a follow-up task
/// no client waits on: cut off, only the restarted gateway's resumer can
/// finish it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sweep_started_by_a_credit_and_cut_off_by_a_crash_is_resumed_once() {
    const LIMIT: u64 = 1_000_000;
    const IN: u64 = 50_000;
    let ledger = Ledger::start().await;
    let site = Site::postgres(&ledger, "bank-a").await;
    let (_b, b) = bank(&ledger, "bank-b", FLOAT).await;
    let setup = site.start_with_float(&ledger, FLOAT).await;
    let mut customer = Customer::open(&setup.api, 990_000).await;
    let fund = setup.api.fund(customer.wallet.id, 990_000).await;
    customer.done.push(Done::of(Kind::Fund, &fund));
    setup.stop().await;
    let (sender, _) = b.api.funded_wallet(200_000).await;
    let w = customer.wallet.id;
    let mut txs: BTreeSet<String> = BTreeSet::from([fund["tx_id"].as_str().unwrap().to_string()]);
    let mut balance = 990_000;
    let mut deposit = 0;
    let mut sweeps = Vec::new();
    for step in ["reserved", "sent"] {
        let Trap { hook, mut hits, .. } = trap(step, "sweep", 0);
        let doomed = site.start(&ledger, hook).await;
        let payment = b.api.pay(sender.id, &customer.wallet.address, IN).await;
        txs.insert(payment["tx_id"].as_str().unwrap().to_string());
        let point = sprung(&mut hits, &format!("a sweep at `{step}`")).await;
        let op = site.op(point.id).await;
        let left = state_left(&ledger, Some(&op)).await;
        let excess = balance + IN - LIMIT;
        println!("sweep of {excess} caught `{left}` (op {})", op.id);
        assert_eq!(left, step, "{op:?}");
        assert_eq!(op.kind, "sweep", "{op:?}");
        assert_eq!(u64::try_from(op.amount).unwrap(), excess, "{op:?}");
        // Credited, and the excess already debited by the sweep's reservation.
        assert_eq!(site.wallet_balance(w).await, i64::try_from(LIMIT).unwrap());
        assert_eq!(site.deposit_balance(customer.account).await, deposit);
        let replica = doomed.replica.clone();
        doomed.kill().await;

        let node = site.restart(&ledger, &replica).await;
        let id = op.id;
        eventually(&format!("the resumer completes sweep {id}"), || async {
            let now = site.op(id).await;
            if now.state == op_state::FINAL {
                Ok(())
            } else {
                Err(format!("{} ({:?})", now.state, now.error_message))
            }
        })
        .await;
        let done = site.op(id).await;
        txs.insert(hex::encode(done.tx_id.as_deref().unwrap()));
        if let Some(tx) = &op.tx_id {
            assert_eq!(
                done.tx_id.as_ref(),
                Some(tx),
                "the stored transaction was sent"
            );
        }
        balance = LIMIT;
        deposit += excess;
        sweeps.push((id, excess));
        assert_eq!(node.api.balance(w).await, balance);
        assert_eq!(node.api.account_balance(customer.account).await, deposit);
        node.stop().await;
    }

    let node = site.start(&ledger, StepHook::default()).await;
    node.api.until_height(ledger.height().await).await;
    let history = node.api.history(w).await;
    let mut kinds: Vec<(String, i64)> = history
        .iter()
        .rev()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("").to_string(),
                int(e, "amount"),
            )
        })
        .collect();
    kinds.sort();
    let mut want = vec![
        ("fund".to_string(), 990_000),
        ("payment_in".to_string(), 50_000),
        ("payment_in".to_string(), 50_000),
    ];
    want.extend(
        sweeps
            .iter()
            .map(|(_, x)| ("sweep".to_string(), -i64::try_from(*x).unwrap())),
    );
    want.sort();
    assert_eq!(kinds, want, "each credit and each sweep once: {history:?}");
    let account = node.api.account(customer.account).await;
    let references: Vec<(String, i64)> = account["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["reference"].as_str().unwrap().to_string(),
                int(e, "amount"),
            )
        })
        .filter(|(r, _)| !r.starts_with("cash:"))
        .collect();
    let mut references = references;
    references.sort();
    assert_eq!(account["entries"].as_array().unwrap().len(), 4, "{account}");
    let mut want: Vec<(String, i64)> = sweeps
        .iter()
        .map(|(id, x)| (format!("sweep:{id}"), i64::try_from(*x).unwrap()))
        .collect();
    want.push((format!("fund:{}", int(&fund, "id")), -990_000));
    want.sort();
    assert_eq!(
        references, want,
        "the deposit booked each sweep once: {account}"
    );
    let on_ledger: BTreeSet<String> = ledger_txs_of(&ledger, &owner(&customer.wallet.address))
        .await
        .into_keys()
        .collect();
    assert_eq!(on_ledger, txs, "the ledger shows each transaction once");
    assert_eq!(node.api.balance(w).await, LIMIT);
    let report = node.api.assert_reconciled().await;
    assert_eq!(money(&report, "in_flight"), 0, "{report}");
    node.stop().await;
    b.stop().await;
}

// ---------------------------------------------------------------------------
// SQLite

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_main_flow_runs_with_the_gateways_on_sqlite() {
    let ledger = Ledger::start().await;
    let site_a = Site::sqlite(&ledger, "bank-a").await;
    let site_b = Site::sqlite(&ledger, "bank-b").await;
    assert!(site_a.is_sqlite() && site_b.is_sqlite());
    let a = site_a.start_with_float(&ledger, FLOAT).await;
    let b = site_b.start(&ledger, StepHook::default()).await;
    let api = &a.api;

    // Open a wallet, deposit cash, link the account, fund.
    let wallet = api.open_wallet(&phone()).await;
    let account = api.open_account(wallet.customer_id).await;
    api.cash_in(account, 500_000).await;
    api.link(wallet.id, Some(account)).await;
    let fund = api.fund(wallet.id, 300_000).await;
    assert_eq!(fund["state"], "final", "{fund}");
    assert!(
        on_ledger(
            &ledger,
            &hex::decode(fund["tx_id"].as_str().unwrap()).unwrap()
        )
        .await
    );
    assert_eq!(api.balance(wallet.id).await, 300_000);
    assert_eq!(api.account_balance(account).await, 200_000);
    assert_eq!(api.float_balance().await, FLOAT - 300_000);

    // Pay to another bank: credited there once.
    let payee = b.api.open_wallet(&phone()).await;
    let payment = api.pay(wallet.id, &payee.address, 120_000).await;
    assert_eq!(payment["payee"], "other_bank", "{payment}");
    b.api.until_balance(payee.id, 120_000).await;
    assert_eq!(api.balance(wallet.id).await, 180_000);

    // Defund part of the rest.
    let defund = api.defund(wallet.id, 80_000).await;
    assert_eq!(defund["state"], "final", "{defund}");
    assert_eq!(api.balance(wallet.id).await, 100_000);
    assert_eq!(api.account_balance(account).await, 280_000);
    assert_eq!(api.float_balance().await, FLOAT - 300_000 + 80_000);
    let history: Vec<i64> = api
        .history(wallet.id)
        .await
        .iter()
        .rev()
        .map(|e| int(e, "amount"))
        .collect();
    assert_eq!(history, vec![300_000, -120_000, -80_000]);

    // The books reconcile on both banks, and A's position proves its holdings.
    let height = ledger.height().await;
    api.until_height(height).await;
    b.api.until_height(height).await;
    api.assert_reconciled().await;
    b.api.assert_reconciled().await;
    let b_history = b.api.history(payee.id).await;
    assert_eq!(b_history.len(), 1, "{b_history:?}");
    let proof = api.position().await;
    assert_eq!(
        check_position(&ledger, &proof).await,
        FLOAT - 300_000 + 80_000 + 100_000
    );

    // A graceful restart on the same file keeps everything.
    a.stop().await;
    let a = site_a.start(&ledger, StepHook::default()).await;
    assert_eq!(a.api.balance(wallet.id).await, 100_000);
    a.api.assert_reconciled().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fund_killed_mid_way_on_sqlite_is_applied_once_after_a_restart() {
    let ledger = Ledger::start().await;
    let site = Site::sqlite(&ledger, "bank-a").await;
    cut_at_every_step(&site, &ledger, Kind::Fund).await;
}

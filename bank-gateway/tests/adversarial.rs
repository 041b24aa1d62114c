//! The gateway against a ledger (or a network) that lies, and against senders
//! who lie: a real ledger and real gateways over HTTP on fresh PostgreSQL
//! databases, with a small tampering HTTP proxy between a gateway and its
//! ledger where a test needs one.
//!
//! - Receipts that do not verify — a flipped bit of the block signature, an
//!   altered sibling of the Merkle inclusion path, the genuine receipt of
//!   another transaction — are refused: the payment stays pending
//!   (`receipt_refused`), no alarm is raised, and once the ledger's answers
//!   are honest again it becomes final exactly once.
//! - A ledger view that rolls back or forks raises an alarm
//!   (`GET /v1/operator/chain`, `/metrics`); payments are not final until an
//!   operator acknowledges it, then they are.
//! - The position proof checks with `cbdc audit --position`'s own function,
//!   and stops checking when a note is left out, `V` or `R` is changed.
//! - Notes whose memo does not open, or opens to a wrong amount, are flagged
//!   and never credited.
//! - The float below its low threshold asks the ledger for issuance (officers
//!   approve); above its high threshold it redeems the excess.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bank_gateway::config::FloatPolicy;
use bank_gateway::report::{verify_position, Position};
use curve25519_dalek::scalar::Scalar;
use diesel::{Connection, RunQueryDsl};
use ledger_client::wire::{BlockView, Committed};
use ledger_client::LedgerClient;
use ledger_core::{
    build_transfer, Address, Amount, Built, Excess, Memo, NoteId, Opening, OwnedNote, Payment,
    Purpose, Receipt, Signature, Transaction, WalletKeys,
};
use rand::rngs::OsRng;
use rand::RngCore;
use reqwest::Method;
use serde_json::{json, Value};
use support::{eventually, int, key, money, phone, Api, Auth, Bank, Gateway, Ledger, TestDatabase};

/// What the officers issue to a bank that pays.
const FLOAT: u64 = 100_000_000;

// ---------------------------------------------------------------------------
// A tampering proxy between a gateway and the ledger

/// What the proxy does to the ledger's answers to `POST /v1/transactions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tamper {
    /// Passes them on as they are.
    Nothing,
    /// Flips the lowest bit of the block signature's `s` (it still parses).
    BlockSignature,
    /// Flips a byte of the first sibling hash of the inclusion path.
    InclusionPath,
    /// Answers with the (genuine) receipt of another transaction.
    OtherReceipt,
}

struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    tamper: Mutex<Tamper>,
    /// The receipt [`Tamper::OtherReceipt`] answers with.
    other_receipt: Mutex<Option<Receipt>>,
    /// Whether `GET /v1/transactions/{id}` is answered with that receipt
    /// in place of the transaction's own.
    views_tampered: Mutex<bool>,
    /// A block served as `GET /v1/blocks/latest` instead of the ledger's.
    latest: Mutex<Option<Value>>,
    /// The genuine receipts it altered, in order.
    altered: Mutex<Vec<Receipt>>,
    /// `POST /v1/transactions` requests it passed on.
    submits: AtomicUsize,
}

impl ProxyState {
    /// The ledger's answer to a submission, altered as configured.
    fn tamper_submission(&self, bytes: &[u8]) -> Vec<u8> {
        let tamper = *self.tamper.lock().expect("the proxy's lock");
        if tamper == Tamper::Nothing {
            return bytes.to_vec();
        }
        let mut committed: Committed =
            serde_json::from_slice(bytes).expect("the ledger answers a submission with a receipt");
        let genuine = committed.receipt.clone();
        match tamper {
            Tamper::Nothing => {}
            Tamper::BlockSignature => {
                let mut signature = committed.receipt.block_signature.to_bytes();
                signature[32] ^= 0x01;
                committed.receipt.block_signature =
                    Signature::from_bytes(&signature).expect("s ± 1 is still a canonical scalar");
            }
            Tamper::InclusionPath => match committed.receipt.path.first_mut() {
                Some(sibling) => sibling[7] ^= 0x40,
                // A block of one transaction has no sibling: a path that
                // names one is wrong too (the test checks which it was).
                None => committed.receipt.path.push([0x5a; 32]),
            },
            Tamper::OtherReceipt => {
                committed.receipt = self
                    .other_receipt
                    .lock()
                    .expect("the proxy's lock")
                    .clone()
                    .expect("a receipt to answer with");
            }
        }
        self.altered.lock().expect("the proxy's lock").push(genuine);
        serde_json::to_vec(&committed).expect("a receipt serialises")
    }

    /// The ledger's answer to `GET /v1/transactions/{id}`, its receipt
    /// replaced if so configured.
    fn tamper_view(&self, bytes: &[u8]) -> Vec<u8> {
        if !*self.views_tampered.lock().expect("the proxy's lock") {
            return bytes.to_vec();
        }
        let mut view: ledger_client::wire::TransactionView =
            serde_json::from_slice(bytes).expect("the ledger answers with a transaction");
        view.receipt = self
            .other_receipt
            .lock()
            .expect("the proxy's lock")
            .clone()
            .expect("a receipt to answer with");
        serde_json::to_vec(&view).expect("a view serialises")
    }
}

/// An HTTP proxy on 127.0.0.1 in front of the ledger.
struct Proxy {
    base: String,
    state: Arc<ProxyState>,
    handle: actix_web::dev::ServerHandle,
}

async fn relay(req: HttpRequest, body: web::Bytes, state: web::Data<ProxyState>) -> HttpResponse {
    let path = req.uri().path().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    if method == "GET" && path == "/v1/blocks/latest" {
        let served = state.latest.lock().expect("the proxy's lock").clone();
        if let Some(block) = served {
            return HttpResponse::Ok().json(block);
        }
    }
    let submission = method == "POST" && path == "/v1/transactions";
    if submission {
        state.submits.fetch_add(1, Ordering::SeqCst);
    }
    let mut outgoing = state.http.request(
        reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method"),
        format!("{}{}", state.upstream, target),
    );
    for (name, value) in req.headers() {
        if matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        outgoing = outgoing.header(name.as_str(), value.as_bytes());
    }
    let answer = match outgoing.body(body.to_vec()).send().await {
        Ok(answer) => answer,
        Err(e) => return HttpResponse::BadGateway().body(e.to_string()),
    };
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return HttpResponse::BadGateway().body(e.to_string()),
    };
    let bytes = if submission && (200..300).contains(&status) {
        state.tamper_submission(&bytes)
    } else if method == "GET" && path.starts_with("/v1/transactions/") && status == 200 {
        state.tamper_view(&bytes)
    } else {
        bytes.to_vec()
    };
    let mut reply =
        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY));
    if let Some(content_type) = content_type {
        reply.content_type(content_type);
    }
    reply.body(bytes)
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .build()
                .expect("a reqwest client"),
            tamper: Mutex::new(Tamper::Nothing),
            other_receipt: Mutex::new(None),
            views_tampered: Mutex::new(false),
            latest: Mutex::new(None),
            altered: Mutex::new(Vec::new()),
            submits: AtomicUsize::new(0),
        });
        let data = web::Data::from(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(relay))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .expect("the proxy listens")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Proxy {
            base,
            state,
            handle,
        }
    }

    fn tamper(&self, tamper: Tamper) {
        *self.state.tamper.lock().expect("the proxy's lock") = tamper;
    }

    fn answer_with(&self, receipt: Receipt) {
        *self.state.other_receipt.lock().expect("the proxy's lock") = Some(receipt);
    }

    fn tamper_views(&self, on: bool) {
        *self.state.views_tampered.lock().expect("the proxy's lock") = on;
    }

    /// Serves `block` as the ledger's latest (`None`: the ledger's own).
    fn serve_latest(&self, block: Option<Value>) {
        *self.state.latest.lock().expect("the proxy's lock") = block;
    }

    fn altered(&self) -> Vec<Receipt> {
        self.state.altered.lock().expect("the proxy's lock").clone()
    }

    fn submits(&self) -> usize {
        self.state.submits.load(Ordering::SeqCst)
    }

    async fn stop(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.handle.stop(false)).await;
    }
}

/// A bank whose gateway talks to the ledger through `proxy`, with `float`.
async fn bank_behind(ledger: &Ledger, proxy: &Proxy, id: &str, float: u64) -> (Bank, Gateway) {
    let bank = Bank::admit(ledger, id).await;
    let mut config = bank.config(ledger, &format!("{id}-1"));
    config.ledger_url = proxy.base.clone();
    let gateway = Gateway::start_with(&bank, config).await;
    if float > 0 {
        ledger.issue(id, float).await;
        gateway.api.until_float(float).await;
    }
    (bank, gateway)
}

// ---------------------------------------------------------------------------
// Observing

/// The value of one series of a `/metrics` text (`name` or `name{labels}`).
async fn metric(api: &Api, series: &str) -> f64 {
    let answer = api
        .call(Method::GET, "/metrics", Auth::None, None, None)
        .await;
    assert_eq!(answer.status, 200, "/metrics: {}", answer.describe());
    series_value(&answer.text, series)
        .unwrap_or_else(|| panic!("{series} is exported; /metrics:\n{}", answer.text))
}

fn series_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let rest = line.strip_prefix(series)?;
            rest.strip_prefix(' ')?.trim().parse().ok()
        })
}

/// The ledger's own `/metrics` series.
async fn ledger_metric(ledger: &Ledger, series: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", ledger.base()))
        .await
        .expect("the ledger's /metrics answers")
        .text()
        .await
        .expect("its body");
    series_value(&text, series).unwrap_or_else(|| panic!("the ledger exports {series}"))
}

/// A payment that is not final, for `reason` (the public part of
/// `pending_reason`, before its colon).
fn assert_pending(payment: &Value, reason: &str, what: &str) {
    assert_eq!(payment["state"], "pending", "{what}: {payment}");
    let said = payment["pending_reason"].as_str().unwrap_or("");
    assert_eq!(
        said.split(':').next(),
        Some(reason),
        "{what}: pending for {reason}: {payment}"
    );
    assert!(
        payment["receipt"].is_null(),
        "{what}: a payment that is not final carries no receipt: {payment}"
    );
}

/// A final payment's receipt verifies with the ledger's key and is its own
/// transaction's.
fn final_receipt(ledger: &Ledger, payment: &Value) -> Receipt {
    assert_eq!(payment["state"], "final", "{payment}");
    let receipt: Receipt = serde_json::from_value(payment["receipt"].clone())
        .unwrap_or_else(|e| panic!("a final payment carries a receipt ({e}): {payment}"));
    receipt
        .verify(&ledger.key())
        .unwrap_or_else(|e| panic!("the final receipt verifies ({e}): {payment}"));
    assert_eq!(
        payment["tx_id"].as_str(),
        Some(receipt.tx_id.to_string().as_str()),
        "the receipt is the payment's transaction's: {payment}"
    );
    receipt
}

async fn chain_alarm(api: &Api) -> Value {
    api.chain().await["alarm"].clone()
}

/// Waits until the gateway's chain view shows an alarm of `kind`.
async fn until_alarm(api: &Api, kind: &str) -> Value {
    eventually(&format!("a {kind} alarm is raised"), || async {
        let alarm = chain_alarm(api).await;
        if alarm["kind"] == kind {
            Ok(alarm)
        } else {
            Err(alarm.to_string())
        }
    })
    .await
}

async fn acknowledge(api: &Api) -> Value {
    api.operator(Method::POST, "/v1/operator/chain/acknowledge", None)
        .await
        .expect(200, "acknowledge the chain alarm")
}

// ---------------------------------------------------------------------------
// A bank of the test's own, paying straight on the ledger

/// A bank admitted on the ledger that the test runs itself (no gateway): its
/// keys, its client, and the notes it holds with their openings.
struct OwnBank {
    keys: WalletKeys,
    client: LedgerClient,
    notes: Vec<OwnedNote>,
}

impl OwnBank {
    /// Admits `id` and has the officers issue it one note of each of `amounts`.
    async fn start(ledger: &Ledger, id: &str, amounts: &[u64]) -> OwnBank {
        let keys = ledger.admit_bank(id).await;
        let mut notes = Vec::new();
        for amount in amounts {
            let tx_id = ledger.issue(id, *amount).await;
            let Transaction::Issue(issue) = ledger.transaction(&tx_id).await else {
                panic!("{tx_id} is an issue");
            };
            let created = Transaction::Issue(issue.clone()).created_notes();
            assert_eq!(created.len(), 1, "one output per issue");
            notes.push(OwnedNote {
                id: created[0].id,
                owner: keys.spend.public_key(),
                opening: Opening::new(issue.outputs[0].value, issue.outputs[0].blinding.0),
            });
        }
        OwnBank {
            client: LedgerClient::new(ledger.base(), keys.spend.clone()),
            keys,
            notes,
        }
    }

    /// A transfer of `amount` to `to` from the note at `index`, change back
    /// here. The note is taken out of the list; the change is added by
    /// [`OwnBank::keep_change`] once the transfer is committed.
    fn transfer(&mut self, index: usize, to: &Address, amount: u64) -> Built {
        let note = self.notes.remove(index);
        for _ in 0..3 {
            match build_transfer(
                std::slice::from_ref(&self.keys.spend),
                std::slice::from_ref(&note),
                &[Payment {
                    to: *to,
                    amount: Amount::new(amount),
                }],
                &self.keys.address(),
                &mut OsRng,
            ) {
                Ok(built) => return built,
                Err(ledger_core::BuildError::DegenerateBlinding) => continue,
                Err(e) => panic!("build a transfer of {amount}: {e}"),
            }
        }
        panic!("three degenerate blindings in a row");
    }

    /// Keeps the change of a committed transfer (`built`, or its re-signed
    /// form `tx`) as a note to spend next.
    fn keep_change(&mut self, built: &Built, tx: &Transaction) {
        let created = tx.created_notes();
        for (index, output) in built.outputs.iter().enumerate() {
            if output.change {
                self.notes.push(OwnedNote {
                    id: created[index].id,
                    owner: self.keys.spend.public_key(),
                    opening: output.opening.clone(),
                });
            }
        }
    }
}

/// The Schnorr challenge of PROTOCOL.md §6 (`cbdc.schnorr.v1`).
fn schnorr_challenge(
    purpose: &[u8],
    generator: &curve25519_dalek::ristretto::RistrettoPoint,
    public: &[u8; 32],
    message: &[u8],
    r: &[u8; 32],
) -> Scalar {
    let mut t = merlin::Transcript::new(b"cbdc.schnorr.v1");
    t.append_message(b"purpose", purpose);
    t.append_message(b"G", generator.compress().as_bytes());
    t.append_message(b"P", public);
    t.append_message(b"message", message);
    t.append_message(b"R", r);
    let mut wide = [0u8; 64];
    t.challenge_bytes(b"c", &mut wide);
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// Whether `signature` is a kernel signature by `excess` on `digest` (so the
/// replica of the challenge above is the protocol's).
fn kernel_signature_verifies(excess: &Excess, digest: &[u8; 32], signature: &Signature) -> bool {
    let g = ledger_core::commitment::pedersen_gens().B_blinding;
    let bytes = signature.to_bytes();
    let mut r = [0u8; 32];
    r.copy_from_slice(&bytes[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&bytes[32..]);
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
        return false;
    };
    let Some(e) = curve25519_dalek::ristretto::CompressedRistretto(*excess.as_bytes()).decompress()
    else {
        return false;
    };
    let c = schnorr_challenge(b"kernel", &g, excess.as_bytes(), digest, &r);
    (s * g - c * e).compress().to_bytes() == r
}

/// `built` with the memo of its payment (the output that is not change)
/// replaced by `memo`, its kernel and owner signatures made again over the new
/// digest: a transaction the ledger accepts, whose payee cannot read (or is
/// lied to by) its memo.
fn with_memo(built: &Built, inputs: &[Opening], owner: &WalletKeys, memo: Memo) -> Transaction {
    let Transaction::Transfer(mut spend) = built.tx.clone() else {
        panic!("a transfer");
    };
    let digest = spend.digest(ledger_core::TxKind::Transfer);
    assert!(
        kernel_signature_verifies(&spend.kernel.excess, &digest, &spend.kernel.signature),
        "the test's replica of the Schnorr challenge is the protocol's"
    );
    let payment = built
        .outputs
        .iter()
        .position(|o| !o.change)
        .expect("a payment output");
    spend.outputs[payment].memo = memo;
    let digest = spend.digest(ledger_core::TxKind::Transfer);
    // e = Σ r_in − Σ r_out, the excess's discrete log over B̃.
    let r_in: Scalar = inputs.iter().map(|o| *o.blinding()).sum();
    let r_out: Scalar = built.outputs.iter().map(|o| *o.opening.blinding()).sum();
    let e = r_in - r_out;
    let g = ledger_core::commitment::pedersen_gens().B_blinding;
    let k = Scalar::random(&mut OsRng);
    let r = (k * g).compress().to_bytes();
    let c = schnorr_challenge(b"kernel", &g, spend.kernel.excess.as_bytes(), &digest, &r);
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r);
    signature[32..].copy_from_slice((k + c * e).as_bytes());
    spend.kernel.signature = Signature::from_bytes(&signature).expect("a kernel signature");
    assert!(kernel_signature_verifies(
        &spend.kernel.excess,
        &digest,
        &spend.kernel.signature
    ));
    for index in 0..spend.inputs.len() {
        let mut message = [0u8; 36];
        message[..32].copy_from_slice(&digest);
        message[32..].copy_from_slice(&u32::try_from(index).expect("few inputs").to_le_bytes());
        spend.owner_signatures[index] = owner.spend.sign(Purpose::Owner, &message, &mut OsRng);
    }
    Transaction::Transfer(spend)
}

/// The note a transaction pays to `to` (not its change).
fn payment_note(built: &Built, tx: &Transaction) -> NoteId {
    let index = built
        .outputs
        .iter()
        .position(|o| !o.change)
        .expect("a payment output");
    tx.created_notes()[index].id
}

// ---------------------------------------------------------------------------
// Holding the ledger's writer

/// Holds the row lock of the ledger's `chain_head` (the first thing its
/// writer takes for every block), so the writer stops in the middle of a
/// block until released and what arrives meanwhile goes into the next block
/// together.
struct HeadLock {
    release: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HeadLock {
    fn take(ledger_db: &TestDatabase) -> HeadLock {
        let url = ledger_db.url().to_string();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut conn =
                diesel::pg::PgConnection::establish(&url).expect("the ledger's database");
            conn.transaction::<_, diesel::result::Error, _>(|c| {
                diesel::sql_query("SELECT next_height FROM chain_head FOR UPDATE").execute(c)?;
                let _ = locked_tx.send(());
                // Released by the test, or by its end (the sender dropped).
                let _ = release_rx.recv_timeout(Duration::from_secs(20));
                Ok(())
            })
            .expect("the lock's transaction");
        });
        tokio::task::block_in_place(|| locked_rx.recv_timeout(Duration::from_secs(10)))
            .expect("the ledger's chain head is locked");
        HeadLock {
            release: Some(release_tx),
            thread: Some(thread),
        }
    }

    async fn release(mut self) {
        self.release.take();
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .expect("the lock's thread ends")
                .expect("the lock's thread does not panic");
        }
    }
}

impl Drop for HeadLock {
    fn drop(&mut self) {
        self.release.take();
    }
}

// ---------------------------------------------------------------------------
// 1. Receipts

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipts_that_do_not_verify_are_refused_and_the_payment_is_final_once_they_do() {
    let ledger = Ledger::start().await;
    let proxy = Proxy::start(ledger.base()).await;
    let (_a, a) = bank_behind(&ledger, &proxy, "bank-a", FLOAT).await;
    let api = &a.api;
    let mut x = OwnBank::start(&ledger, "bank-x", &[10_000, 10_000]).await;
    let (payer, _) = api.funded_wallet(300_000).await;
    let payee = api.open_wallet(&phone()).await;
    let mut paid = 0u64;
    let mut finals: Vec<Value> = Vec::new();

    for tamper in [
        Tamper::BlockSignature,
        Tamper::InclusionPath,
        Tamper::OtherReceipt,
    ] {
        let what = format!("{tamper:?}");
        let refused_before = metric(api, "cbdc_gateway_receipts_refused_total").await;
        let altered_before = proxy.altered().len();
        proxy.tamper(tamper);
        let key = key();
        let answer = if tamper == Tamper::InclusionPath {
            // A sibling only exists in a block of two transactions or more:
            // the ledger's writer is held while one of the test bank's
            // transfers commits, so the payment and another transfer queue
            // behind it and are sealed in one block.
            let someone = WalletKeys::generate(&mut OsRng).address();
            let first = x.transfer(0, &someone, 100);
            let second = x.transfer(0, &someone, 100);
            let lock = HeadLock::take(ledger.database());
            let client = x.client.clone();
            let first_tx = first.tx.clone();
            let first_sent = tokio::spawn(async move { client.submit(&first_tx).await });
            eventually("the ledger's writer waits for the chain head", || async {
                let waiting = ledger.database().count(
                    "SELECT count(*) AS value FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                );
                if waiting >= 1 {
                    Ok(())
                } else {
                    Err("no backend waits for a lock".to_string())
                }
            })
            .await;
            let verified_before = ledger_metric(&ledger, "cbdc_ledger_verify_batch_size_sum").await;
            let client = x.client.clone();
            let second_tx = second.tx.clone();
            let second_sent = tokio::spawn(async move { client.submit(&second_tx).await });
            let submits = proxy.submits();
            let pay_api = a.api.clone();
            let (payer_id, to, pay_key) = (payer.id, payee.address.clone(), key.clone());
            let payment =
                tokio::spawn(async move { pay_api.pay_raw(payer_id, &pay_key, &to, 10_000).await });
            eventually(
                "the payment and the transfer queue behind the held block",
                || async {
                    // Both taken by the verifiers (the sum of their batches)
                    // and both handed on to the writer (the queue's depth
                    // counts the writer's queue once the verifiers are done).
                    let verified =
                        ledger_metric(&ledger, "cbdc_ledger_verify_batch_size_sum").await;
                    let depth = ledger_metric(&ledger, "cbdc_ledger_queue_depth").await;
                    if proxy.submits() > submits
                        && verified >= verified_before + 2.0
                        && depth >= 2.0
                    {
                        Ok(())
                    } else {
                        Err(format!("verified {verified}, queue depth {depth}"))
                    }
                },
            )
            .await;
            lock.release().await;
            let first_receipt = first_sent
                .await
                .expect("a task")
                .expect("the first commits");
            let second_receipt = second_sent
                .await
                .expect("a task")
                .expect("the second commits");
            x.keep_change(&first, &first.tx);
            x.keep_change(&second, &second.tx);
            let answer = payment.await.expect("the payment's task");
            assert_eq!(
                second_receipt.block.height,
                first_receipt.block.height + 1,
                "the second transfer waited for the held block"
            );
            answer
        } else {
            if tamper == Tamper::OtherReceipt {
                // The genuine, verifying receipt of the test bank's last transfer.
                let last = x.notes.last().expect("a note").id;
                let view = ledger
                    .officer(0)
                    .note_view(&last)
                    .await
                    .expect("the ledger knows the note");
                let other = ledger
                    .officer(0)
                    .transaction_view(&view.created_by.parse().expect("a tx id"))
                    .await
                    .expect("the ledger knows the transaction");
                other.receipt.verify(&ledger.key()).expect("it verifies");
                proxy.answer_with(other.receipt);
            }
            api.pay_raw(payer.id, &key, &payee.address, 10_000).await
        };
        let payment = answer.expect(200, &format!("{what}: the payment is accepted"));
        assert_pending(&payment, "receipt_refused", &what);
        let altered = proxy.altered();
        assert!(
            altered.len() > altered_before,
            "{what}: the proxy altered the receipt"
        );
        let genuine = &altered[altered_before];
        if tamper == Tamper::InclusionPath {
            assert!(
                genuine.block.tx_count >= 2 && !genuine.path.is_empty(),
                "{what}: the payment's block holds another transaction, so its path names a \
                 sibling to alter: {genuine:?}"
            );
        }
        // The ledger did commit it; the gateway does not take it as final.
        let tx_id = payment["tx_id"]
            .as_str()
            .expect("a built payment has a tx")
            .to_string();
        assert_eq!(genuine.tx_id.to_string(), tx_id, "{what}");
        ledger.transaction(&tx_id).await;
        assert!(
            metric(api, "cbdc_gateway_receipts_refused_total").await > refused_before,
            "{what}: the refused receipt is counted"
        );
        // A receipt that does not verify is no alarm on the ledger's history.
        assert!(chain_alarm(api).await.is_null(), "{what}: no chain alarm");
        assert_eq!(metric(api, "cbdc_gateway_chain_alarm").await, 0.0, "{what}");
        assert_eq!(
            api.balance(payer.id).await,
            300_000 - paid - 10_000,
            "{what}: debited"
        );
        assert_eq!(api.balance(payee.id).await, paid, "{what}: not credited");
        let again = api.payment(payer.id, int(&payment, "id")).await;
        assert_pending(&again, "receipt_refused", &what);

        // Honest answers again: the same request finishes it, once.
        proxy.tamper(Tamper::Nothing);
        let answer = api.pay_raw(payer.id, &key, &payee.address, 10_000).await;
        let retried = answer.expect(200, &format!("{what}: the retry"));
        assert_eq!(retried["id"], payment["id"], "{what}: the same payment");
        let done = api.until_final(payer.id, retried).await;
        let receipt = final_receipt(&ledger, &done);
        assert_eq!(receipt, *genuine, "{what}: the ledger's own receipt");
        paid += 10_000;
        assert_eq!(api.balance(payer.id).await, 300_000 - paid, "{what}");
        assert_eq!(api.balance(payee.id).await, paid, "{what}: credited once");
        finals.push(done);
    }

    // The follower too: a payment in from the test bank, whose transaction
    // the ledger serves with another transaction's (verifying) receipt, is
    // not credited until the ledger serves its own.
    let refused_before = metric(api, "cbdc_gateway_receipts_refused_total").await;
    proxy.tamper_views(true);
    let to: Address = payee.address.parse().expect("a wallet's address");
    let incoming = x.transfer(0, &to, 7_000);
    x.client
        .submit(&incoming.tx)
        .await
        .expect("the ledger takes it");
    eventually("the follower refuses the receipt it was served", || async {
        let balance = api.balance(payee.id).await;
        assert_eq!(balance, paid, "credited on another transaction's receipt");
        let refused = metric(api, "cbdc_gateway_receipts_refused_total").await;
        if refused > refused_before {
            Ok(())
        } else {
            Err(format!("{refused} refused"))
        }
    })
    .await;
    assert_eq!(
        api.balance(payee.id).await,
        paid,
        "not credited on another's receipt"
    );
    let flagged = api
        .operator(Method::GET, "/v1/operator/flagged", None)
        .await
        .expect(200, "the flagged notes");
    assert_eq!(flagged, json!([]), "held back, not flagged");
    assert!(chain_alarm(api).await.is_null(), "no chain alarm");
    proxy.tamper_views(false);
    api.until_balance(payee.id, paid + 7_000).await;

    // Each payment once on the books: three credits of 10,000, then 7,000.
    let history = api.history(payee.id).await;
    let amounts: Vec<i64> = history.iter().map(|e| int(e, "amount")).collect();
    assert_eq!(amounts, vec![7_000, 10_000, 10_000, 10_000], "{history:?}");
    let ids: std::collections::BTreeSet<i64> = history
        .iter()
        .filter_map(|e| e["operation_id"].as_i64())
        .collect();
    let paid_ids: std::collections::BTreeSet<i64> = finals.iter().map(|p| int(p, "id")).collect();
    assert_eq!(ids, paid_ids, "{history:?}");
    assert!(chain_alarm(api).await.is_null());
    api.until_height(ledger.height().await).await;
    api.assert_reconciled().await;
    proxy.stop().await;
}

// ---------------------------------------------------------------------------
// 2. Chain alarms

/// The ledger's block at `height`, as `GET /v1/blocks/{height}` answers it.
async fn block_json(ledger: &Ledger, height: u64) -> (BlockView, Value) {
    let block = ledger
        .officer(0)
        .block(height)
        .await
        .unwrap_or_else(|e| panic!("block {height}: {e}"));
    let value = serde_json::to_value(&block).expect("a block serialises");
    (block, value)
}

/// Pays `amount` while an alarm is active: accepted, debited, not final.
async fn pay_under_alarm(api: &Api, payer: i64, to: &str, amount: u64) -> (String, Value) {
    let key = key();
    let payment = api
        .pay_raw(payer, &key, to, amount)
        .await
        .expect(200, "a payment under an alarm is accepted");
    assert_pending(&payment, "chain_alarm", "a payment under an alarm");
    (key, payment)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollback_or_a_fork_raises_an_alarm_that_holds_payments_until_acknowledged() {
    let ledger = Ledger::start().await;
    let proxy = Proxy::start(ledger.base()).await;
    let (_a, a) = bank_behind(&ledger, &proxy, "bank-a", FLOAT).await;
    let api = &a.api;
    let (payer, _) = api.funded_wallet(100_000).await;
    let (other_payer, _) = api.funded_wallet(100_000).await;
    let payee = api.open_wallet(&phone()).await;
    let mut paid = 0u64;
    let mut other_paid = 0u64;

    for kind in ["rollback", "fork"] {
        let height = ledger.height().await;
        api.until_height(height).await;
        let tip = api.chain().await["tip_height"].as_u64();
        assert_eq!(tip, Some(height), "the gateway saw the ledger's tip");
        let (latest, latest_json) = block_json(&ledger, height).await;
        let doctored = if kind == "rollback" {
            // A genuine, signed block — but an older one: a shorter history.
            block_json(&ledger, height - 1).await.1
        } else {
            // Another block at the height already seen, signed with the
            // ledger's key (the ledger equivocates).
            let mut header = latest.header;
            header.time_ms += 1;
            let signature = header.sign(&ledger.block_key, &mut OsRng);
            let mut block = latest_json.clone();
            block["hash"] = json!(hex::encode(header.hash()));
            block["header"] = serde_json::to_value(header).expect("a header serialises");
            block["header_bytes"] = json!(hex::encode(header.to_bytes()));
            block["signature"] = json!(hex::encode(signature.to_bytes()));
            block
        };
        let raised_before = metric(
            api,
            &format!("cbdc_gateway_chain_alarms_total{{kind=\"{kind}\"}}"),
        )
        .await;
        proxy.serve_latest(Some(doctored));
        let alarm = until_alarm(api, kind).await;
        let expected_height = if kind == "rollback" {
            height - 1
        } else {
            height
        };
        assert_eq!(alarm["height"].as_u64(), Some(expected_height), "{alarm}");
        assert!(
            alarm["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "the alarm says what it saw: {alarm}"
        );
        assert_eq!(metric(api, "cbdc_gateway_chain_alarm").await, 1.0, "{kind}");
        assert_eq!(
            metric(
                api,
                &format!("cbdc_gateway_chain_alarms_total{{kind=\"{kind}\"}}")
            )
            .await,
            raised_before + 1.0,
            "{kind}: one alarm counted"
        );

        // The ledger is honest again, but the alarm stays until an operator
        // acknowledges it: payments meanwhile are not final.
        proxy.serve_latest(None);
        let (held_key, held) = pay_under_alarm(api, payer.id, &payee.address, 1_000).await;
        let (second_key, second) =
            pay_under_alarm(api, other_payer.id, &payee.address, 2_000).await;
        assert_eq!(chain_alarm(api).await["kind"], kind, "the alarm stays");
        assert_eq!(
            api.balance(payer.id).await,
            100_000 - paid - 1_000,
            "debited"
        );
        assert_eq!(
            api.balance(other_payer.id).await,
            100_000 - other_paid - 2_000
        );
        let credited = paid + other_paid;
        assert_eq!(
            api.balance(payee.id).await,
            credited,
            "nothing credited under the alarm"
        );
        let still = api.payment(payer.id, int(&held, "id")).await;
        assert_pending(&still, "chain_alarm", "still held");

        let acknowledged = acknowledge(api).await;
        assert_eq!(acknowledged["acknowledged"], 1, "{acknowledged}");
        assert!(chain_alarm(api).await.is_null(), "acknowledged");
        assert_eq!(metric(api, "cbdc_gateway_chain_alarm").await, 0.0, "{kind}");

        // Final again: the held payments (asked again) and a new one.
        for (from, key, payment, amount) in [
            (payer.id, held_key, held, 1_000),
            (other_payer.id, second_key, second, 2_000),
        ] {
            let retried = api
                .pay_raw(from, &key, &payee.address, amount)
                .await
                .expect(200, "the retry after the acknowledgement");
            assert_eq!(retried["id"], payment["id"]);
            let done = api.until_final(from, retried).await;
            final_receipt(&ledger, &done);
        }
        let fresh = api.pay(payer.id, &payee.address, 500).await;
        final_receipt(&ledger, &fresh);
        paid += 1_500;
        other_paid += 2_000;
        assert_eq!(api.balance(payer.id).await, 100_000 - paid);
        assert_eq!(api.balance(other_payer.id).await, 100_000 - other_paid);
        let credited = paid + other_paid;
        assert_eq!(api.balance(payee.id).await, credited, "each credited once");
        assert!(chain_alarm(api).await.is_null());
    }
    let history = api.history(payee.id).await;
    assert_eq!(history.len(), 6, "{history:?}");
    api.until_height(ledger.height().await).await;
    assert!(
        chain_alarm(api).await.is_null(),
        "the honest chain raises nothing"
    );
    api.assert_reconciled().await;
    proxy.stop().await;
}

// ---------------------------------------------------------------------------
// 3. The position proof

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_position_proof_checks_and_fails_when_a_note_v_or_r_is_changed() {
    let ledger = Ledger::start().await;
    let (_a, a) = support::bank(&ledger, "bank-a", FLOAT).await;
    let api = &a.api;
    let (alice, _) = api.funded_wallet(250_000).await;
    let (bob, _) = api.funded_wallet(120_000).await;
    api.pay(alice.id, &bob.address, 30_000).await;
    api.until_height(ledger.height().await).await;

    let position: Position = serde_json::from_value(api.position().await)
        .expect("the gateway's position is a position proof");
    assert!(
        position.notes.len() >= 4,
        "float, change and wallets: {position:?}"
    );
    let books = api.assert_reconciled().await;
    assert_eq!(position.total, money(&books, "notes_total"));
    assert_eq!(position.total, FLOAT, "every cent the bank was issued");
    // What `cbdc audit --position` runs, with an auditor's key.
    let auditor = ledger.officer(2);
    let check = verify_position(&auditor, &position)
        .await
        .expect("the ledger answers");
    assert!(check.ok, "the published position checks: {check:?}");
    assert_eq!(check.notes, position.notes.len());

    let fails = |changed: Position, what: &'static str| {
        let auditor = auditor.clone();
        async move {
            let check = verify_position(&auditor, &changed)
                .await
                .expect("the ledger answers");
            assert!(!check.ok, "{what}: the check fails: {check:?}");
            assert!(!check.problems.is_empty(), "{what}: {check:?}");
            check
        }
    };

    // One note left out, V and R as published.
    let mut fewer = position.clone();
    let left_out = fewer.notes.remove(1);
    let check = fails(fewer.clone(), "a note left out").await;
    assert!(
        check.problems.iter().any(|p| p.contains("do not sum")),
        "{check:?}"
    );
    // (Left out with its value and blinding taken off V and R, the proof
    // checks again: a position proof is a lower bound, PROTOCOL.md §22.2.)
    let value = a.db().count(&format!(
        "SELECT value AS value FROM notes WHERE id = decode('{left_out}', 'hex')"
    ));
    let blinding = a.db().texts(&format!(
        "SELECT encode(blinding, 'hex') AS value FROM notes WHERE id = decode('{left_out}', 'hex')"
    ));
    let blinding = scalar(&blinding[0]);
    fewer.total -= u64::try_from(value).expect("a positive value");
    fewer.blinding_sum = hex::encode((scalar(&position.blinding_sum) - blinding).as_bytes());
    let check = verify_position(&auditor, &fewer)
        .await
        .expect("the ledger answers");
    assert!(check.ok, "a smaller, consistent claim checks: {check:?}");

    // V changed by one cent either way.
    for delta in [1i64, -1] {
        let mut other = position.clone();
        other.total = other.total.checked_add_signed(delta).expect("in range");
        fails(other, "V changed").await;
    }
    // R changed.
    let mut other = position.clone();
    other.blinding_sum = hex::encode((scalar(&position.blinding_sum) + Scalar::ONE).as_bytes());
    fails(other, "R changed").await;
    // A note listed twice.
    let mut other = position.clone();
    other.notes.push(position.notes[0].clone());
    let check = fails(other, "a note listed twice").await;
    assert!(
        check.problems.iter().any(|p| p.contains("twice")),
        "{check:?}"
    );

    // A note spent after the position's height leaves it valid at that height.
    api.pay(alice.id, &bob.address, 1_000).await;
    let check = verify_position(&auditor, &position)
        .await
        .expect("the ledger answers");
    assert!(check.ok, "spent after height H: still held at H: {check:?}");
}

fn scalar(text: &str) -> Scalar {
    let bytes: [u8; 32] = hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .unwrap_or_else(|| panic!("{text} is 32 bytes of hex"));
    Option::from(Scalar::from_canonical_bytes(bytes))
        .unwrap_or_else(|| panic!("{text} is a canonical scalar"))
}

// ---------------------------------------------------------------------------
// 4. Flagged notes

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_note_whose_memo_does_not_open_or_lies_is_flagged_and_not_credited() {
    let ledger = Ledger::start().await;
    let (_a, a) = support::bank(&ledger, "bank-a", 0).await;
    let api = &a.api;
    let wallet = api.open_wallet(&phone()).await;
    let to: Address = wallet.address.parse().expect("a wallet's address");
    let mut x = OwnBank::start(&ledger, "bank-x", &[1_000_000]).await;

    // A memo of garbage (a valid ephemeral key, random ciphertext).
    let input = x.notes[0].opening.clone();
    let built = x.transfer(0, &to, 10_000);
    let mut garbage = [0u8; ledger_core::memo::MEMO_LEN];
    garbage[..32].copy_from_slice(WalletKeys::generate(&mut OsRng).address().spend.as_bytes());
    OsRng.fill_bytes(&mut garbage[32..]);
    let memo = Memo::from_bytes(&garbage).expect("a memo with a valid ephemeral key");
    let unreadable = with_memo(&built, &[input], &x.keys, memo);
    x.client
        .submit(&unreadable)
        .await
        .expect("the ledger takes it");
    x.keep_change(&built, &unreadable);
    let unreadable_note = payment_note(&built, &unreadable);

    // A memo that opens, to the wallet's view key, to a hundred times the
    // amount committed (the true blinding, a wrong value).
    let input = x.notes[0].opening.clone();
    let built = x.transfer(0, &to, 20_000);
    let paid = built.outputs.iter().find(|o| !o.change).expect("a payment");
    let lie = Opening::new(Amount::new(2_000_000), *paid.opening.blinding());
    let commitment = paid.opening.commit().expect("a commitment");
    let memo = Memo::seal(&to.view, &commitment, &lie, &mut OsRng);
    let lying = with_memo(&built, &[input], &x.keys, memo);
    x.client.submit(&lying).await.expect("the ledger takes it");
    x.keep_change(&built, &lying);
    let lying_note = payment_note(&built, &lying);

    // And an honest payment, which is credited.
    let built = x.transfer(0, &to, 5_000);
    x.client
        .submit(&built.tx)
        .await
        .expect("the ledger takes it");

    api.until_balance(wallet.id, 5_000).await;
    api.until_height(ledger.height().await).await;
    let flagged = eventually("both notes are flagged", || async {
        let body = api
            .operator(Method::GET, "/v1/operator/flagged", None)
            .await
            .expect(200, "the flagged notes");
        let list = support::listed(&body);
        if list.len() == 2 {
            Ok(list)
        } else {
            Err(body.to_string())
        }
    })
    .await;
    let reason_of = |note: &NoteId| {
        let id = note.to_string();
        let entry = flagged
            .iter()
            .find(|f| f["note_id"] == id.as_str())
            .unwrap_or_else(|| panic!("note {id} is flagged: {flagged:?}"));
        assert_eq!(int(entry, "wallet_id"), wallet.id, "{entry}");
        entry["reason"].as_str().unwrap_or("").to_string()
    };
    let reason = reason_of(&unreadable_note);
    assert!(
        reason.contains("memo_does_not_open") && reason.contains("does not decrypt"),
        "{reason}"
    );
    let reason = reason_of(&lying_note);
    assert!(
        reason.contains("memo_does_not_open") && reason.contains("does not match"),
        "{reason}"
    );

    // Not credited: the balance and the history hold only the honest payment.
    assert_eq!(api.balance(wallet.id).await, 5_000);
    let history = api.history(wallet.id).await;
    let amounts: Vec<i64> = history.iter().map(|e| int(e, "amount")).collect();
    assert_eq!(amounts, vec![5_000], "{history:?}");
    assert_eq!(metric(api, "cbdc_gateway_notes_flagged_total").await, 2.0);
    assert_eq!(metric(api, "cbdc_gateway_notes_credited_total").await, 1.0);
    // On the ledger the two notes exist and are the wallet's.
    for note in [&unreadable_note, &lying_note] {
        let view = ledger
            .officer(0)
            .note_view(note)
            .await
            .expect("the ledger knows it");
        assert_eq!(view.owner, hex::encode(to.spend.as_bytes()));
        assert!(!view.spent);
    }
    // Reconciliation counts a flagged note as accounted for (credited,
    // flagged, or the bank's own), not as uncredited; the books hold only
    // what was credited.
    let books = api.assert_reconciled().await;
    assert_eq!(money(&books, "wallets_total"), 5_000, "{books}");
    assert_eq!(money(&books, "notes_total"), 5_000, "{books}");
    assert!(money(&books, "events_checked") >= 6, "{books}");
    let position = api.position().await;
    let listed: Vec<&str> = position["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(listed.len(), 1, "{position}");
    assert_eq!(money(&position, "total"), 5_000, "{position}");
}

// ---------------------------------------------------------------------------
// 5. Float thresholds

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_float_asks_for_issuance_below_low_and_redeems_above_high() {
    const LOW: u64 = 100_000;
    const HIGH: u64 = 500_000;
    const TARGET: u64 = 300_000;
    let ledger = Ledger::start().await;
    let bank = Bank::admit(&ledger, "bank-a").await;
    let mut config = bank.config(&ledger, "bank-a-1");
    config.float = FloatPolicy {
        low: LOW,
        high: HIGH,
        target: TARGET,
    };
    let a = Gateway::start_with(&bank, config).await;
    let api = &a.api;

    // Below low (empty): the gateway files one proposal for target − float.
    let proposal_id = eventually("the gateway proposes issuance", || async {
        let float = api.float().await;
        match float["open_proposal"].as_str() {
            Some(id) => Ok(id.to_string()),
            None => Err(float.to_string()),
        }
    })
    .await;
    let float = api.float().await;
    assert_eq!(money(&float, "balance"), 0, "{float}");
    assert_eq!(
        (
            money(&float, "low"),
            money(&float, "high"),
            money(&float, "target")
        ),
        (LOW, HIGH, TARGET)
    );
    let proposal = ledger
        .officer(0)
        .proposal(&proposal_id)
        .await
        .expect("the ledger holds the gateway's proposal");
    assert_eq!(proposal["state"], "open", "awaiting officers: {proposal}");
    assert_eq!(proposal["bank_id"], "bank-a", "{proposal}");
    assert_eq!(
        proposal["proposer_id"], "bank-a",
        "proposed by the bank: {proposal}"
    );
    assert_eq!(proposal["amount"], TARGET, "{proposal}");
    assert_eq!(proposal["approvals"], json!([]), "{proposal}");
    // One at a time: while it is open, no other.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(api.float().await["open_proposal"], proposal_id.as_str());
    assert_eq!(
        api.float_balance().await,
        0,
        "nothing issued before officers approve"
    );

    let mut last = Value::Null;
    for officer in 0..support::THRESHOLD {
        last = ledger
            .officer(officer)
            .approve(&proposal_id)
            .await
            .unwrap_or_else(|e| panic!("officer {officer} approves: {e}"));
    }
    assert_eq!(last["state"], "executed", "{last}");
    api.until_float(TARGET).await;
    eventually("the executed proposal is no longer open", || async {
        let float = api.float().await;
        if float["open_proposal"].is_null() {
            Ok(())
        } else {
            Err(float.to_string())
        }
    })
    .await;
    assert_eq!(ledger.outstanding().await, TARGET);

    // Above high: the excess goes back to the central bank.
    let excess = 400_000;
    ledger.issue("bank-a", excess).await;
    let redeem_final =
        "SELECT count(*) AS value FROM operations WHERE kind = 'redeem' AND state = 'final'";
    eventually("the gateway redeems the excess", || async {
        let done = a.db().count(redeem_final);
        if done == 1 {
            Ok(())
        } else {
            Err(format!("{done} final redeems; float {}", api.float().await))
        }
    })
    .await;
    api.until_float(TARGET).await;
    let redeemed = a.db().texts(
        "SELECT amount::text || ':' || encode(tx_id, 'hex') AS value FROM operations WHERE kind = 'redeem'",
    );
    assert_eq!(redeemed.len(), 1, "one redeem: {redeemed:?}");
    let (amount, tx_id) = redeemed[0].split_once(':').expect("amount:tx");
    assert_eq!(amount, excess.to_string(), "float − target");
    let Transaction::Redeem(spend) = ledger.transaction(tx_id).await else {
        panic!("{tx_id} is a redeem");
    };
    assert_eq!(spend.burned, Amount::new(excess));
    assert_eq!(
        ledger.outstanding().await,
        TARGET,
        "the outstanding supply fell by the excess"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        api.float().await["open_proposal"].is_null(),
        "at target: nothing more asked"
    );
    assert_eq!(
        a.db()
            .count("SELECT count(*) AS value FROM operations WHERE kind = 'redeem'"),
        1
    );
    api.until_height(ledger.height().await).await;
    api.assert_reconciled().await;
}

//! The gateway's work: opening wallets, driving operations through their
//! states, following the ledger's feed, keeping the float between its
//! thresholds.
//!
//! Every step reads and writes the database (on the blocking pool); proving
//! runs on a pool of one thread per core; calls to the ledger are async,
//! signed, bounded by the client's timeout, and retried with back-off only
//! where that is safe (submitting a transaction again is: the ledger answers
//! a committed id with its first receipt).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_client::LedgerClient;
use ledger_core::{
    build_redeem, build_transfer, Address, Amount, BuildError, Commitment, NoteId, Opening,
    OwnedNote, Payment, Receipt, Transaction, TxId, WalletKeys,
};
use tokio::sync::oneshot;

use crate::chain::{is_definitive_refusal, Chain, ChainError};
use crate::config::GatewayConfig;
use crate::custody;
use crate::metrics::Metrics;
use crate::store::ops::{self, OpKind, OpRequest, Refusal, Reserved, StoredOutput};
use crate::store::rows::{op_state, NoteRow, OpRow, WalletRow};
use crate::store::{bank, now_ms, state_get, state_set, Store, StoreError};

/// Failures of the gateway's own machinery (never a customer's mistake).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the ledger cannot be reached: {0}")]
    Ledger(String),
    #[error("{0}")]
    Custody(#[from] custody::CustodyError),
}

pub struct Gateway {
    pub config: GatewayConfig,
    pub store: Store,
    pub ledger: LedgerClient,
    pub chain: Chain,
    pub metrics: Arc<Metrics>,
    pub float: WalletRow,
    provers: rayon::ThreadPool,
    follow_ups: tokio::sync::mpsc::UnboundedSender<i64>,
}

/// What the API answers about an operation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub op: OpRow,
    /// Set when the operation was refused before the ledger.
    pub refusal: Option<Refusal>,
    /// An idempotency key reused with another body.
    pub key_reused: bool,
    /// Why it is not final yet (ledger unreachable, chain alarm).
    pub pending_reason: Option<String>,
    /// Reverse waterfall: what was funded from the deposit first.
    pub topped_up: Option<u64>,
}

impl Gateway {
    /// Opens the store's view of the bank (its float row), the ledger client
    /// and the chain check. The ledger's key is the configured one or, if
    /// none is, the one pinned in the database, or the one the ledger
    /// presents (then pinned).
    pub async fn open(
        config: GatewayConfig,
        store: Store,
    ) -> Result<(Gateway, tokio::sync::mpsc::UnboundedReceiver<i64>), EngineError> {
        let ledger = LedgerClient::with_timeout(
            &config.ledger_url,
            config.signing_key().clone(),
            config.ledger_timeout,
        );
        let address = config.bank.address();
        let spend = address.spend.to_bytes().to_vec();
        let view = address.view.to_bytes().to_vec();
        let text = address.to_string();
        let float = store
            .write_async(move |c| bank::ensure_float(c, &text, &spend, &view))
            .await?;
        let pinned = store
            .read_async(move |c| state_get(c, "ledger_key"))
            .await?;
        let key = match (config.ledger_key, pinned) {
            (Some(configured), Some(pinned)) if hex::encode(configured.as_bytes()) != pinned => {
                return Err(EngineError::Store(StoreError::Corrupt(format!(
                    "the configured ledger key {} is not the one this database pinned ({pinned})",
                    hex::encode(configured.as_bytes())
                ))))
            }
            (Some(configured), _) => configured,
            (None, Some(pinned)) => parse_key(&pinned)?,
            (None, None) => ledger
                .ledger_key()
                .await
                .map_err(|e| EngineError::Ledger(e.to_string()))?,
        };
        let hex_key = hex::encode(key.as_bytes());
        let in_force = store
            .write_async(move |c| crate::store::state_init(c, "ledger_key", &hex_key))
            .await?;
        if in_force != hex::encode(key.as_bytes()) {
            return Err(EngineError::Store(StoreError::Corrupt(
                "the database pinned another ledger key".into(),
            )));
        }
        let metrics = Arc::new(Metrics::new());
        let chain = Chain::new(store.clone(), ledger.clone(), key, metrics.clone());
        let provers = rayon::ThreadPoolBuilder::new()
            .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .thread_name(|i| format!("prover-{i}"))
            .build()
            .map_err(|e| EngineError::Ledger(format!("cannot start the proving pool: {e}")))?;
        metrics.float_minor_units.set(float.balance);
        let (follow_ups, receiver) = tokio::sync::mpsc::unbounded_channel();
        Ok((
            Gateway {
                config,
                store,
                ledger,
                chain,
                metrics,
                float,
                provers,
                follow_ups,
            },
            receiver,
        ))
    }

    /// Opens a wallet (and onboards the customer if the phone is new).
    pub async fn open_wallet(
        &self,
        phone: String,
    ) -> Result<(crate::store::rows::CustomerRow, WalletRow), EngineError> {
        let keys = WalletKeys::generate(&mut rand::rngs::OsRng);
        let address = keys.address();
        let text = address.to_string();
        let (sealed, kek_id) = custody::seal(&self.config.keks, &text, &keys);
        let new = bank::NewWallet {
            address: text,
            spend_key: address.spend.to_bytes().to_vec(),
            view_key: address.view.to_bytes().to_vec(),
            sealed_keys: sealed,
            kek_id,
        };
        let tier = self.config.tiers.lowest().to_string();
        Ok(self
            .store
            .write_async(move |c| bank::open_wallet(c, &phone, &tier, &new))
            .await?)
    }

    fn wallet_keys(&self, wallet: &WalletRow) -> Result<WalletKeys, EngineError> {
        if wallet.is_float() {
            return Ok(self.config.bank.clone());
        }
        let (Some(sealed), Some(kek_id)) = (&wallet.sealed_keys, &wallet.kek_id) else {
            return Err(StoreError::Corrupt(format!("wallet {} has no keys", wallet.id)).into());
        };
        Ok(custody::open(
            &self.config.keks,
            kek_id,
            &wallet.address,
            sealed,
        )?)
    }

    /// Reserves and drives an operation to its end (or as far as it can go now).
    pub async fn submit_op(&self, request: OpRequest) -> Result<Outcome, EngineError> {
        let kind = request.kind;
        // A payment whose money is partly in another payment in flight waits
        // for that one's change (a few tens of milliseconds when the ledger
        // answers), for at most IN_FLIGHT_WAIT.
        let deadline = Instant::now() + IN_FLIGHT_WAIT;
        let mut pause = Duration::from_millis(10);
        let reserved = loop {
            let tiers = self.config.tiers.clone();
            let attempt = request.clone();
            let started = Instant::now();
            let reserved = self
                .store
                .write_async(move |c| ops::reserve(c, &attempt, &tiers))
                .await?;
            self.metrics.step("reserve", started.elapsed());
            match &reserved {
                Reserved::Refused(refusal, _)
                    if refusal.code == ops::NOTES_IN_FLIGHT && Instant::now() < deadline =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                _ => break reserved,
            }
        };
        match reserved {
            Reserved::New(op) => self.drive(op).await,
            Reserved::Existing(op) => {
                let refusal = refusal_of(&op);
                if op_state::OPEN.contains(&op.state.as_str()) {
                    return self.drive(op).await;
                }
                Ok(Outcome {
                    op,
                    refusal,
                    key_reused: false,
                    pending_reason: None,
                    topped_up: None,
                })
            }
            Reserved::KeyReused(op) => Ok(Outcome {
                op,
                refusal: None,
                key_reused: true,
                pending_reason: None,
                topped_up: None,
            }),
            Reserved::Refused(refusal, recorded) => {
                self.metrics
                    .payments
                    .with_label_values(&[kind.as_str(), "refused"])
                    .inc();
                if let Some(limit) = &refusal.limit {
                    self.metrics
                        .limit_refusals
                        .with_label_values(&[limit])
                        .inc();
                }
                let op = recorded.unwrap_or_else(|| placeholder(kind));
                Ok(Outcome {
                    op,
                    refusal: Some(refusal),
                    key_reused: false,
                    pending_reason: None,
                    topped_up: None,
                })
            }
        }
    }

    /// Takes an operation from its current state as far as it goes: built
    /// (if reserved), submitted, its receipt checked, finalised; or failed
    /// and undone when the ledger refuses it. Safe to run twice at once
    /// (another replica, the resumer): every step checks the state it leaves.
    pub async fn drive(&self, op: OpRow) -> Result<Outcome, EngineError> {
        let mut op = op;
        let kind = OpKind::parse(&op.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("operation kind {}", op.kind)))?;
        if op.state == op_state::RESERVED {
            self.step("reserved", kind.as_str(), op.id).await;
            match self.build(&op, kind).await? {
                Ok(()) => {}
                Err(error) => {
                    let id = op.id;
                    let message = error.to_string();
                    self.store
                        .write_async(move |c| ops::fail(c, id, "cannot_build", &message))
                        .await?;
                    self.metrics
                        .payments
                        .with_label_values(&[kind.as_str(), "failed"])
                        .inc();
                    return self.outcome(op.id).await;
                }
            }
            op = self.reload(op.id).await?;
        }
        if op.state != op_state::BUILT {
            return self.outcome(op.id).await;
        }
        let Some(bytes) = op.tx.clone() else {
            return Err(StoreError::Corrupt(format!(
                "operation {} built without a transaction",
                op.id
            ))
            .into());
        };
        let tx = Transaction::decode(&bytes).map_err(|e| {
            StoreError::Corrupt(format!("operation {}: stored transaction: {e}", op.id))
        })?;
        self.step("built", kind.as_str(), op.id).await;
        let started = Instant::now();
        let receipt = match self.submit(&tx).await {
            Ok(receipt) => receipt,
            Err(Submit::Refused { code, message }) => {
                let id = op.id;
                let text = format!("the ledger refused the transaction: {code}: {message}");
                self.store
                    .write_async(move |c| ops::fail(c, id, &code, &text))
                    .await?;
                self.metrics
                    .payments
                    .with_label_values(&[kind.as_str(), "failed"])
                    .inc();
                return self.outcome(op.id).await;
            }
            Err(Submit::Unavailable(why)) => {
                return self.pending(&op, kind, PENDING_LEDGER, &why).await;
            }
        };
        self.metrics.step("submit", started.elapsed());
        self.step("sent", kind.as_str(), op.id).await;
        let confirming = Instant::now();
        if let Err(e) = self.chain.confirm(&tx.id(), &receipt).await {
            let reason = match e {
                ChainError::Alarm(_) => PENDING_ALARM,
                ChainError::BadReceipt(_) => PENDING_RECEIPT,
                ChainError::Unavailable(_) => PENDING_CHAIN,
            };
            return self.pending(&op, kind, reason, &e.to_string()).await;
        }
        self.metrics.step("confirm", confirming.elapsed());
        self.metrics
            .submit_seconds
            .observe(started.elapsed().as_secs_f64());
        let receipt_json = serde_json::to_string(&receipt).expect("receipts serialise");
        let tiers = self.config.tiers.clone();
        let id = op.id;
        let finalizing = Instant::now();
        let follow = self
            .store
            .write_async(move |c| ops::finalize(c, id, &receipt_json, &tiers))
            .await?;
        self.metrics.step("finalize", finalizing.elapsed());
        if let Some(follow) = follow {
            self.metrics
                .payments
                .with_label_values(&[kind.as_str(), "final"])
                .inc();
            self.drive_later(follow.ops);
        }
        self.outcome(op.id).await
    }

    /// An operation that cannot be final now: the attempt counted with its
    /// public reason (what the API shows; the cause, which may name hosts or
    /// database errors, goes to the log only).
    async fn pending(
        &self,
        op: &OpRow,
        kind: OpKind,
        reason: &'static str,
        cause: &str,
    ) -> Result<Outcome, EngineError> {
        tracing::warn!(op = op.id, kind = kind.as_str(), reason, %cause, "operation pending");
        let id = op.id;
        self.store
            .write_async(move |c| ops::count_attempt(c, id, reason))
            .await?;
        self.metrics
            .payments
            .with_label_values(&[kind.as_str(), "pending"])
            .inc();
        self.outcome(id).await
    }

    /// The configured test hook between two steps (none in production).
    async fn step(&self, step: &'static str, kind: &'static str, id: i64) {
        if let Some(hook) = &self.config.step_hook.0 {
            hook(crate::config::StepPoint { step, kind, id }).await;
        }
    }

    /// Hands operations a credit started (sweeps) to the task that drives
    /// them ([`Gateway::open`]'s receiver). If this process dies first, the
    /// resumer picks them up after its idle time.
    fn drive_later(&self, ids: Vec<i64>) {
        for id in ids {
            let _ = self.follow_ups.send(id);
        }
    }

    async fn reload(&self, id: i64) -> Result<OpRow, EngineError> {
        self.store
            .read_async(move |c| ops::op(c, id))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("operation {id} vanished")).into())
    }

    pub async fn outcome(&self, id: i64) -> Result<Outcome, EngineError> {
        let op = self.reload(id).await?;
        let refusal = refusal_of(&op);
        let pending_reason = if op_state::OPEN.contains(&op.state.as_str()) {
            op.error_message.clone()
        } else {
            None
        };
        Ok(Outcome {
            op,
            refusal,
            key_reused: false,
            pending_reason,
            topped_up: None,
        })
    }

    /// Builds (and proves) the operation's transaction on the proving pool
    /// and stores it; `Ok(Err)` when the core refuses to build it.
    async fn build(&self, op: &OpRow, kind: OpKind) -> Result<Result<(), BuildError>, EngineError> {
        let id = op.id;
        let payer_id = op.wallet_id;
        let (payer, notes) = self
            .store
            .read_async(move |c| {
                let payer = ops::wallet(c, payer_id)?
                    .ok_or_else(|| StoreError::Corrupt(format!("no wallet {payer_id}")))?;
                Ok((payer, ops::reserved_notes(c, id)?))
            })
            .await?;
        let keys = self.wallet_keys(&payer)?;
        let owned = owned_notes(&keys, &notes)?;
        let change_to: Address = payer
            .address
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("wallet {} address", payer.id)))?;
        let to: Option<Address> = match &op.to_address {
            Some(text) => Some(
                text.parse()
                    .map_err(|_| StoreError::Corrupt(format!("operation {id} address")))?,
            ),
            None => None,
        };
        let amount = Amount::new(crate::store::db_u64(op.amount, "amount")?);
        let (send, receive) = oneshot::channel();
        let started = Instant::now();
        let metrics = self.metrics.clone();
        self.provers.spawn(move || {
            metrics.step("prove_wait", started.elapsed());
            let proving = Instant::now();
            let mut rng = rand::rngs::OsRng;
            let mut result = Err(BuildError::NoPayments);
            // A blinding sum of zero is possible only by chance: build again.
            for _ in 0..3 {
                result = match (kind, &to) {
                    (OpKind::Redeem, _) => build_redeem(
                        std::slice::from_ref(&keys.spend),
                        &owned,
                        amount,
                        &change_to,
                        &mut rng,
                    ),
                    (_, Some(to)) => build_transfer(
                        std::slice::from_ref(&keys.spend),
                        &owned,
                        &[Payment { to: *to, amount }],
                        &change_to,
                        &mut rng,
                    ),
                    (_, None) => Err(BuildError::NoPayments),
                };
                if !matches!(result, Err(BuildError::DegenerateBlinding)) {
                    break;
                }
            }
            metrics.step("prove", proving.elapsed());
            let _ = send.send(result);
        });
        let built = receive
            .await
            .map_err(|_| StoreError::Corrupt("the proving pool dropped a job".into()))?;
        self.metrics
            .proving_seconds
            .observe(started.elapsed().as_secs_f64());
        let built = match built {
            Ok(built) => built,
            Err(e) => return Ok(Err(e)),
        };
        let outputs: Vec<StoredOutput> = built
            .outputs
            .iter()
            .map(|o| {
                let wallet_id = if o.change {
                    Some(payer.id)
                } else {
                    op.payee_wallet_id
                };
                StoredOutput {
                    note: hex::encode(o.note.as_bytes()),
                    wallet_id,
                    value: o.opening.value().minor_units(),
                    blinding: hex::encode(o.opening.blinding().as_bytes()),
                    commitment: o
                        .opening
                        .commit()
                        .map(|c| hex::encode(c.as_bytes()))
                        .unwrap_or_default(),
                    change: o.change,
                }
            })
            .collect();
        let tx_id = built.id.to_bytes().to_vec();
        let bytes = built.tx.encode();
        let recording = Instant::now();
        self.store
            .write_async(move |c| ops::record_built(c, id, &tx_id, &bytes, &outputs))
            .await?;
        self.metrics.step("record", recording.elapsed());
        Ok(Ok(()))
    }

    /// Submits with back-off while the ledger cannot answer (at most a few
    /// seconds here; the resumer keeps trying after that).
    async fn submit(&self, tx: &Transaction) -> Result<Receipt, Submit> {
        let mut wait = Duration::from_millis(50);
        let mut attempt = 0;
        loop {
            match self.ledger.submit(tx).await {
                Ok(receipt) => return Ok(receipt),
                Err(e) if is_definitive_refusal(&e) => {
                    return Err(Submit::Refused {
                        code: e.code().unwrap_or("refused").to_string(),
                        message: e.to_string(),
                    })
                }
                Err(e) => {
                    attempt += 1;
                    if attempt >= 5 {
                        return Err(Submit::Unavailable(e.to_string()));
                    }
                    self.metrics.ledger_retries.inc();
                    tracing::warn!(tx = %tx.id(), error = %e, attempt, "ledger call failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    pub async fn refresh_float(&self) {
        if let Ok(float) = self.store.read_async(ops::float_wallet).await {
            self.metrics.float_minor_units.set(float.balance);
        }
    }

    /// Resumes every operation idle for `idle` (a crashed replica's, one
    /// whose ledger call failed, one held by an alarm).
    pub async fn resume_once(&self, idle: Duration) -> Result<usize, EngineError> {
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        let open = self
            .store
            .read_async(move |c| ops::open_ops(c, idle_ms, 64))
            .await?;
        let count = open.len();
        for op in open {
            let id = op.id;
            if let Err(e) = self.drive(op).await {
                tracing::warn!(op = id, error = %e, "cannot resume an operation");
            }
        }
        Ok(count)
    }

    /// Reads the ledger's feed once from the durable cursor (if this
    /// replica holds the follower's lease) and credits every new note paid
    /// to one of the bank's addresses. Returns `None` if another replica
    /// holds the lease, else how many events it read (0 when there was
    /// nothing new, or when an alarm paused it).
    pub async fn follow_once(&self) -> Result<Option<usize>, EngineError> {
        let holder = self.config.replica.clone();
        let ttl = i64::try_from(self.config.follower_lease.as_millis()).unwrap_or(5_000);
        let holds = self
            .store
            .write_async(move |c| crate::store::lease_take(c, "follower", &holder, ttl))
            .await?;
        self.metrics.follower_holder.set(i64::from(holds));
        if !holds {
            return Ok(None);
        }
        let cursor: u64 = self
            .store
            .read_async(move |c| state_get(c, "follower_cursor"))
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let wait = u64::try_from(self.config.follower_wait.as_millis()).unwrap_or(1000);
        let page = self
            .ledger
            .events_page(cursor, None, Some(FEED_PAGE), wait)
            .await
            .map_err(|e| EngineError::Ledger(e.to_string()))?;
        let mut transactions: std::collections::HashMap<
            String,
            ledger_client::wire::TransactionView,
        > = Default::default();
        let mut read = 0usize;
        // The cursor moves in the transaction of each credit and, for the
        // events that are not the bank's, once at the end of the page (an
        // event read again after a crash is skipped again).
        for event in &page.events {
            read += 1;
            if event.kind != ledger_client::wire::EventKindView::Created {
                continue;
            }
            let owner = hex::decode(&event.owner).unwrap_or_default();
            let note_id = hex::decode(&event.note_id).unwrap_or_default();
            let tx_id = hex::decode(&event.tx_id).unwrap_or_default();
            let (n, t) = (note_id.clone(), tx_id.clone());
            // Most of the feed is other banks' notes: one look-up decides.
            // The bank's own operations credit their outputs when they
            // finalise; a note already known was credited.
            let wallet = self
                .store
                .read_async(move |c| {
                    let Some(wallet) = ops::wallet_by_spend_key(c, &owner)? else {
                        return Ok(None);
                    };
                    let done = ops::op_by_tx(c, &t)?.is_some() || ops::note_known(c, &n)?;
                    Ok((!done).then_some(wallet))
                })
                .await?;
            let Some(wallet) = wallet else {
                continue;
            };
            if !transactions.contains_key(&event.tx_id) {
                let id: TxId = event.tx_id.parse().map_err(|_| {
                    EngineError::Ledger("the feed named a malformed transaction id".into())
                })?;
                let view = self
                    .ledger
                    .transaction_view(&id)
                    .await
                    .map_err(|e| EngineError::Ledger(e.to_string()))?;
                transactions.insert(event.tx_id.clone(), view);
            }
            let view = &transactions[&event.tx_id];
            // The transaction the feed named, and its own receipt.
            let named = view.transaction.id();
            let confirmed = if named.to_string() == event.tx_id {
                self.chain.confirm(&named, &view.receipt).await
            } else {
                Err(ChainError::BadReceipt(format!(
                    "the ledger served transaction {named} for {}",
                    event.tx_id
                )))
            };
            match confirmed {
                Ok(()) => {}
                Err(ChainError::Unavailable(why)) => return Err(EngineError::Ledger(why)),
                Err(e) => {
                    // An alarm or a bad receipt: credit nothing until it is
                    // resolved; the cursor stays here.
                    tracing::warn!(error = %e, "follower paused");
                    return Ok(Some(0));
                }
            }
            let credit = self.open_note(&wallet, &view.transaction, &note_id);
            let tiers = self.config.tiers.clone();
            let seq = event.seq;
            let wallet_id = wallet.id;
            let entry = if wallet.is_float() && matches!(view.transaction, Transaction::Issue(_)) {
                "issue"
            } else {
                "payment_in"
            };
            let flagged = credit.is_err();
            let follow = self
                .store
                .write_async(move |c| {
                    let follow = match credit {
                        Ok(note) => ops::credit(c, &note, entry, None, &tiers, now_ms())?,
                        Err(reason) => {
                            ops::flag_note(c, &note_id, wallet_id, &tx_id, &reason)?;
                            None
                        }
                    };
                    state_set(c, "follower_cursor", &seq.to_string())?;
                    Ok(follow)
                })
                .await?;
            if flagged {
                self.metrics.notes_flagged.inc();
                tracing::warn!(target: "cbdc::security", note = %event.note_id, wallet = wallet_id, "incoming note flagged");
            } else {
                self.metrics.notes_credited.inc();
            }
            self.drive_later(follow.into_iter().collect());
            self.step("credited", "follow", i64::try_from(seq).unwrap_or(i64::MAX))
                .await;
        }
        if page.next > cursor {
            self.advance(page.next).await?;
        }
        self.metrics
            .follower_cursor
            .set(i64::try_from(page.next).unwrap_or(i64::MAX));
        // A short page means the feed is read to its end; after a full one
        // the ledger says how far it goes (if it cannot, the gauge keeps its
        // last value).
        let lag = if page.events.len() < FEED_PAGE as usize {
            Some(0)
        } else {
            match self.ledger.info().await {
                Ok(info) => Some(info.last_event.saturating_sub(page.next)),
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read the feed's end");
                    None
                }
            }
        };
        if let Some(lag) = lag {
            self.metrics
                .follower_lag
                .set(i64::try_from(lag).unwrap_or(i64::MAX));
        }
        if !page.events.is_empty() {
            self.refresh_float().await;
        }
        Ok(Some(read))
    }

    async fn advance(&self, seq: u64) -> Result<(), EngineError> {
        self.store
            .write_async(move |c| {
                let current: u64 = state_get(c, "follower_cursor")?
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if seq > current {
                    state_set(c, "follower_cursor", &seq.to_string())?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// The opening of a note paid to `wallet`, checked against its
    /// commitment; `Err(reason)` to flag it.
    fn open_note(
        &self,
        wallet: &WalletRow,
        tx: &Transaction,
        note_id: &[u8],
    ) -> Result<ops::NewNote, String> {
        let created = tx
            .created_notes()
            .into_iter()
            .find(|n| n.id.as_bytes()[..] == note_id[..])
            .ok_or_else(|| "the transaction does not create this note".to_string())?;
        let opening = match tx {
            Transaction::Issue(issue) => {
                let output = issue
                    .outputs
                    .iter()
                    .find(|o| o.commitment() == Some(created.commitment))
                    .ok_or_else(|| "no issue output has this commitment".to_string())?;
                Opening::new(output.value, output.blinding.0)
            }
            _ => {
                let memo = created
                    .memo
                    .ok_or_else(|| "the note has no memo".to_string())?;
                let keys = self.wallet_keys(wallet).map_err(|e| e.to_string())?;
                memo.open(&keys.view, &created.commitment)
                    .map_err(|e| format!("memo_does_not_open: {e}"))?
            }
        };
        if !opening.opens(&created.commitment) || opening.value().is_zero() {
            return Err("the opening does not match the commitment".into());
        }
        Ok(ops::NewNote {
            id: note_id.to_vec(),
            wallet_id: wallet.id,
            value: opening.value().minor_units(),
            blinding: opening.blinding().as_bytes().to_vec(),
            commitment: created.commitment.to_bytes().to_vec(),
            created_tx: tx.id().to_bytes().to_vec(),
        })
    }

    /// Keeps the float between its thresholds: below `low`, files an
    /// issuance proposal for `target - float` (one at a time; officers
    /// approve it); above `high`, redeems `float - target`.
    pub async fn manage_float_once(&self) -> Result<(), EngineError> {
        let policy = self.config.float;
        let (float, proposal, open_redeem) = self
            .store
            .read_async(move |c| {
                let float = ops::float_wallet(c)?;
                let proposal = state_get(c, "issuance_proposal")?.filter(|p| !p.is_empty());
                let open = bank::open_ops_all(c)?
                    .iter()
                    .any(|o| o.kind == OpKind::Redeem.as_str());
                Ok((float, proposal, open))
            })
            .await?;
        let balance = u64::try_from(float.balance).unwrap_or(0);
        self.metrics.float_minor_units.set(float.balance);
        if let Some(id) = &proposal {
            let still_open = match self.ledger.proposal(id).await {
                Ok(view) => view["state"] == "open",
                Err(e) if e.status() == Some(404) => false,
                Err(e) => return Err(EngineError::Ledger(e.to_string())),
            };
            if !still_open {
                self.store
                    .write_async(move |c| state_set(c, "issuance_proposal", ""))
                    .await?;
            }
            return Ok(());
        }
        if policy.low > 0 && balance < policy.low && policy.target > balance {
            let amount = Amount::new(policy.target - balance);
            let view = self
                .ledger
                .propose_issuance(&self.config.bank_id, amount)
                .await
                .map_err(|e| EngineError::Ledger(e.to_string()))?;
            tracing::info!(target: "cbdc::issuance", proposal = %view.id, amount = amount.minor_units(), "float below its low threshold: issuance proposed");
            let id = view.id.clone();
            self.store
                .write_async(move |c| state_set(c, "issuance_proposal", &id))
                .await?;
        } else if policy.high > 0 && balance > policy.high && !open_redeem {
            let amount = balance - policy.target.min(balance);
            if amount > 0 {
                let request = OpRequest {
                    kind: OpKind::Redeem,
                    wallet_id: float.id,
                    amount,
                    to_address: None,
                    payee_wallet_id: None,
                    deposit_account_id: None,
                    idempotency_key: None,
                    request_hash: None,
                    parent_id: None,
                };
                let outcome = self.submit_op(request).await?;
                tracing::info!(op = outcome.op.id, amount, state = %outcome.op.state, "float above its high threshold: redeemed");
            }
        }
        Ok(())
    }
}

/// Why an operation is still pending, as the API says it (stored in the
/// operation's `error_message` while it is open).
const PENDING_LEDGER: &str =
    "ledger_unreachable: the ledger did not answer; the gateway keeps submitting the payment";
const PENDING_ALARM: &str = "chain_alarm: the ledger's history is under an alarm; payments \
     become final again once the bank's operator has acknowledged it";
const PENDING_RECEIPT: &str =
    "receipt_refused: the ledger's receipt did not verify; the gateway keeps asking for it";
const PENDING_CHAIN: &str =
    "chain_unchecked: the ledger's history could not be checked yet; the gateway keeps trying";

/// How long a payment waits for the change of another payment of its
/// wallet before it is refused `notes_in_flight`.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(10);

/// Events the follower asks the ledger for at once.
const FEED_PAGE: u32 = 500;

enum Submit {
    Refused { code: String, message: String },
    Unavailable(String),
}

fn refusal_of(op: &OpRow) -> Option<Refusal> {
    if op.state == op_state::REFUSED {
        op.error_message
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
    } else {
        None
    }
}

fn placeholder(kind: OpKind) -> OpRow {
    OpRow {
        id: 0,
        kind: kind.as_str().into(),
        wallet_id: 0,
        amount: 0,
        to_address: None,
        payee_wallet_id: None,
        deposit_account_id: None,
        state: op_state::REFUSED.into(),
        tx_id: None,
        tx: None,
        outputs: None,
        receipt: None,
        error_code: None,
        error_message: None,
        idempotency_key: None,
        request_hash: None,
        parent_id: None,
        attempts: 0,
        created_ms: now_ms(),
        updated_ms: now_ms(),
    }
}

/// The reserved notes as the core's builders take them, each opening
/// checked against its commitment first.
fn owned_notes(keys: &WalletKeys, notes: &[NoteRow]) -> Result<Vec<OwnedNote>, StoreError> {
    notes
        .iter()
        .map(|n| {
            let id = <[u8; 32]>::try_from(n.id.as_slice())
                .map_err(|_| StoreError::Corrupt("a note id is not 32 bytes".into()))?;
            let opening = n.opening()?;
            let commitment = <[u8; 32]>::try_from(n.commitment.as_slice())
                .ok()
                .and_then(|c| Commitment::from_bytes(&c).ok())
                .ok_or_else(|| StoreError::Corrupt("a stored commitment is not a point".into()))?;
            if !opening.opens(&commitment) {
                return Err(StoreError::Corrupt(format!(
                    "note {}: the stored opening does not open its commitment",
                    hex::encode(&n.id)
                )));
            }
            Ok(OwnedNote {
                id: NoteId(id),
                owner: keys.spend.public_key(),
                opening,
            })
        })
        .collect()
}

fn parse_key(text: &str) -> Result<ledger_core::PublicKey, EngineError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes)
        .map_err(|_| StoreError::Corrupt("the pinned ledger key is not hex".into()))?;
    ledger_core::PublicKey::from_bytes(&bytes)
        .map_err(|_| StoreError::Corrupt("the pinned ledger key is not a point".into()).into())
}

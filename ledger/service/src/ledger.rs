//! The ledger: verification, the group-commit writer, issuance, receipts.
//!
//! Handlers call into a [`Ledger`]; it parses nothing and knows nothing of HTTP.
//! Its invariants:
//!
//! - a transaction reaches the store only after [`ledger_core::verify`] accepted it
//!   against a snapshot of its inputs; the store's conditional update then decides
//!   races, so two spends of one note never both commit;
//! - one writer thread owns the write path: it drains the queue into batches of up
//!   to `batch_max` transactions and commits each batch as one database transaction
//!   and one signed journal block (group commit); a full queue is refused with
//!   `Busy` (HTTP 503 + `Retry-After`) instead of growing without bound;
//! - an issue is built by the ledger from an approved proposal (never submitted by a
//!   client), signed by at least `threshold` distinct active officers, and executes
//!   the proposal in the same database transaction, so a proposal issues at most once.

use crate::gate::RequestGate;
use crate::metrics::Metrics;
use crate::store::{
    self, ApplyOutcome, AuditOutcome, AuditState, AuditTrigger, BlockDraft, GovernanceChange,
    NewMember, NewNote, NewProposal, NewTransaction, ParticipantStatus, Proposal, ProposalId,
    ProposalState, Role, SealedBlock, Store, StoreError, TxLocation,
};
use ledger_core::governance::{Action, Governance, GovernanceState, Member};
use ledger_core::journal::{merkle_path, merkle_root, BlockHeader};
use ledger_core::tx::{IssueOutput, IssueReference, OfficerSignature, PublicBlinding};
use ledger_core::{
    verify, Amount, Commitment, IssuancePolicy, Issue, PublicKey, Receipt, Rejection, SecretKey,
    Signature, StoredNote, Transaction, TxId, TxKind,
};
use sha2::{Digest, Sha512};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// Most transactions committed in one database transaction / block.
pub const BATCH_MAX_DEFAULT: usize = 256;
/// Transactions waiting for the writer before new ones are refused.
pub const QUEUE_DEPTH_MAX_DEFAULT: usize = 4096;
/// The verification batch a verifier gathers towards while the writer is
/// busy: batch verification costs per transaction fall steeply up to about
/// this size (one multiscalar multiplication of ~1,800 points) and little
/// after it.
pub const VERIFY_GATHER_TARGET: usize = 64;
/// The longest a verifier waits for more transactions (only while the
/// writer is busy, so a gathered transaction rarely waits longer in all).
pub const VERIFY_GATHER_MAX: Duration = Duration::from_millis(10);

/// The ledger's clock, the one its clients sign their requests with.
pub use ledger_client::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{0}")]
    Rejected(Rejection),
    #[error("issues are created through issuance proposals, not submitted")]
    IssueNotSubmittable,
    #[error("only an active bank may redeem; input {index} is owned by another key")]
    RedeemByNonBank { index: usize },
    #[error("the ledger is at capacity; retry shortly")]
    Busy,
    #[error("the writer stopped")]
    WriterGone,
    #[error("the batch failed to commit: {0}")]
    CommitFailed(String),
    #[error("transaction not found")]
    NotFound,
    #[error("the officer's approval signature does not verify over the issue digest")]
    BadApproval,
    #[error("{0} is not an active {1}")]
    NotActive(String, &'static str),
    #[error("{0}")]
    Genesis(String),
    #[error("audit {0} is running; one runs at a time")]
    AuditRunning(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Reply = oneshot::Sender<Result<Receipt, LedgerError>>;

/// A verified transaction on its way to the writer.
struct Job {
    tx: NewTransaction,
    reply: Reply,
}

/// A submitted transaction on its way to a verifier.
struct VerifyJob {
    tx: Transaction,
    id: TxId,
    reply: Reply,
}

/// The default supply ceiling a genesis fixes: 10^15 minor units.
pub const SUPPLY_CEILING_DEFAULT: u64 = 1_000_000_000_000_000;
/// A full audit runs in the background after this many new blocks (0: never).
pub const AUDIT_EVERY_BLOCKS_DEFAULT: u64 = 10_000;

/// What a new ledger's genesis entry names (ignored once the journal has one:
/// the journal's governance is then in force).
#[derive(Clone, Debug)]
pub struct GenesisConfig {
    /// The first officers: (id, name, key).
    pub officers: Vec<(String, String, PublicKey)>,
    /// Officer approvals an issuance (or an officer change) needs.
    pub threshold: usize,
    /// Most money that may ever be outstanding.
    pub supply_ceiling: Amount,
}

pub struct LedgerConfig {
    pub database_url: String,
    pub block_key: SecretKey,
    pub genesis: GenesisConfig,
    pub batch_max: usize,
    pub queue_depth_max: usize,
    /// Verifier threads (default: one per core).
    pub verifiers: usize,
    /// Run a full audit in the background after this many new blocks (0: never).
    pub audit_every_blocks: u64,
}

impl LedgerConfig {
    pub fn new(database_url: String, block_key: SecretKey, genesis: GenesisConfig) -> LedgerConfig {
        LedgerConfig {
            database_url,
            block_key,
            genesis,
            batch_max: BATCH_MAX_DEFAULT,
            queue_depth_max: QUEUE_DEPTH_MAX_DEFAULT,
            verifiers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            audit_every_blocks: AUDIT_EVERY_BLOCKS_DEFAULT,
        }
    }
}

pub struct Ledger {
    store: Store,
    block_key: PublicKey,
    /// The governance in force, as the journal's entries left it. Held while
    /// an issue or a governance entry is verified and committed, so that each
    /// is checked against exactly the state in force where it lands.
    governance: Mutex<GovernanceState>,
    /// Set when a governance entry's commit outcome is unknown (the database
    /// connection broke at COMMIT): the state above may then be behind the
    /// journal, and is replayed from the store before anything is checked
    /// against it again.
    governance_unsure: AtomicBool,
    queue: SyncSender<Job>,
    verify_queue: crossbeam_channel::Sender<VerifyJob>,
    pub metrics: Metrics,
    head: watch::Receiver<u64>,
    gate: RequestGate,
    /// The id of the full audit running, if one is: one at a time.
    auditing: Arc<Mutex<Option<u64>>>,
    audit_every_blocks: u64,
}

impl Ledger {
    /// Opens the store (running migrations), starts the writer and verifier
    /// threads, and founds the journal with a genesis entry if it is empty;
    /// otherwise replays the journal's governance entries to know who may act.
    pub fn open(config: LedgerConfig, metrics: Metrics) -> Result<Arc<Ledger>, LedgerError> {
        let store = Store::open(&config.database_url)?;
        if store.autovacuum()? == Some(false) {
            tracing::warn!(
                "autovacuum is off on this PostgreSQL server: spent notes' old row versions \
                 are never reclaimed and the tables never analysed; run VACUUM ANALYZE \
                 regularly or turn autovacuum on"
            );
        }
        let abandoned = store.abandon_running_audits(now_ms())?;
        if abandoned > 0 {
            tracing::warn!(
                abandoned,
                "audit runs left running by a previous start are marked abandoned"
            );
        }
        let store_for_gate = store.clone();
        let (queue, jobs) = sync_channel(config.queue_depth_max);
        let head_now = store.chain_head()?.next_height;
        let (head_tx, head) = watch::channel(head_now);
        let writer_busy = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            busy: writer_busy.clone(),
            store: store.clone(),
            key: config.block_key.clone(),
            jobs,
            batch_max: config.batch_max.clamp(1, store::BATCH_TRANSACTIONS_MAX),
            metrics: metrics.clone(),
            head: head_tx,
        };
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer.run())
            .expect("spawning the writer thread");
        let (verify_queue, verify_jobs) = crossbeam_channel::bounded(config.queue_depth_max);
        for i in 0..config.verifiers.max(1) {
            let verifier = Verifier {
                store: store.clone(),
                jobs: verify_jobs.clone(),
                writer: queue.clone(),
                batch_max: config.batch_max.clamp(1, store::BATCH_TRANSACTIONS_MAX),
                metrics: metrics.clone(),
                writer_busy: writer_busy.clone(),
            };
            std::thread::Builder::new()
                .name(format!("ledger-verifier-{i}"))
                .spawn(move || verifier.run())
                .expect("spawning a verifier thread");
        }
        let block_key = config.block_key.public_key();
        let governance = match load_governance(&store, &block_key)? {
            Some(state) => {
                check_configured_officers(&state, &config.genesis)?;
                state
            }
            None => {
                let entry = genesis_entry(&block_key, &config.genesis);
                let state = GovernanceState::genesis(&entry, &block_key)
                    .map_err(|r| LedgerError::Genesis(format!("the genesis is invalid: {r}")))?;
                let tx = Transaction::Governance(entry);
                let id = tx.id();
                // On a thread of its own: waiting for the writer's answer must
                // not block an async runtime the caller may be running on.
                let new = new_transaction(&tx, id, None);
                std::thread::scope(|scope| {
                    scope
                        .spawn(|| commit_to(&queue, &metrics, new))
                        .join()
                        .expect("committing the genesis does not panic")
                })?;
                tracing::info!(
                    officers = state.active_officers(),
                    threshold = state.threshold,
                    supply_ceiling = state.supply_ceiling.minor_units(),
                    "founded the journal with its genesis entry"
                );
                state
            }
        };
        let ledger = Arc::new(Ledger {
            store,
            block_key,
            governance: Mutex::new(governance),
            governance_unsure: AtomicBool::new(false),
            queue,
            verify_queue,
            metrics,
            head,
            gate: RequestGate::start(store_for_gate, config.queue_depth_max),
            auditing: Arc::new(Mutex::new(None)),
            audit_every_blocks: config.audit_every_blocks,
        });
        if ledger.audit_every_blocks > 0 {
            let scheduled = Arc::downgrade(&ledger);
            std::thread::Builder::new()
                .name("ledger-audit-schedule".into())
                .spawn(move || audit_schedule(scheduled))
                .expect("spawning the audit schedule");
        }
        Ok(ledger)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The gate that admits signed requests (key lookup, replay protection).
    pub fn gate(&self) -> &RequestGate {
        &self.gate
    }

    pub fn public_key(&self) -> PublicKey {
        self.block_key
    }

    /// The governance in force now (a copy).
    pub fn governance(&self) -> GovernanceState {
        self.governance_lock().clone()
    }

    fn governance_lock(&self) -> std::sync::MutexGuard<'_, GovernanceState> {
        // A panic while holding it leaves the state as before the entry.
        self.governance.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The governance lock, with the state replayed from the journal first if
    /// an entry's commit outcome was unknown; `Err` while that replay fails
    /// (the database still unreachable).
    fn governance_in_force(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, GovernanceState>, LedgerError> {
        let mut state = self.governance_lock();
        if self.governance_unsure.load(Ordering::Acquire) {
            *state = load_governance(&self.store, &self.block_key)?
                .ok_or(StoreError::Corrupt("the journal lost its genesis"))?;
            self.governance_unsure.store(false, Ordering::Release);
        }
        Ok(state)
    }

    pub fn threshold(&self) -> usize {
        self.governance_lock().threshold
    }

    /// Verifies a governance entry against the governance in force and
    /// commits it; returns its receipt. Entries are checked and committed one
    /// at a time, so each is judged by the state it lands on.
    pub fn submit_governance(&self, entry: Governance) -> Result<Receipt, LedgerError> {
        let mut state = self.governance_in_force()?;
        state.check(&entry).map_err(LedgerError::Rejected)?;
        let tx = Transaction::Governance(entry);
        let id = tx.id();
        let receipt = match self.commit(new_transaction(&tx, id, None)) {
            Err(LedgerError::Store(StoreError::CommitUnknown)) => {
                // If it did commit, the next entry must be checked after it.
                self.governance_unsure.store(true, Ordering::Release);
                return Err(StoreError::CommitUnknown.into());
            }
            committed => committed?,
        };
        if let Transaction::Governance(entry) = &tx {
            // Logged by the API (`cbdc::governance`), with who asked.
            state.apply(entry);
        }
        Ok(receipt)
    }

    /// Starts a full audit in the background and returns its run id; refused
    /// with [`LedgerError::AuditRunning`] while one runs (a full audit uses
    /// every core for as long as it takes; a second would only double the load).
    pub fn start_audit(self: &Arc<Self>, trigger: AuditTrigger) -> Result<u64, LedgerError> {
        let mut running = self.auditing.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = *running {
            return Err(LedgerError::AuditRunning(id));
        }
        let id = self.store.start_audit_run(trigger, now_ms())?;
        *running = Some(id);
        drop(running);
        let ledger = self.clone();
        std::thread::Builder::new()
            .name("ledger-audit".into())
            .spawn(move || ledger.run_audit(id))
            .expect("spawning the audit thread");
        Ok(id)
    }

    /// The id of the audit running, if one is.
    pub fn running_audit(&self) -> Option<u64> {
        *self.auditing.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run_audit(&self, id: u64) {
        let started = Instant::now();
        let result = crate::audit::audit_store(&self.store, self.block_key, &Default::default());
        let (state, outcome) = match &result {
            Ok(report) => (AuditState::Passed, report.outcome()),
            Err(failure) => (
                AuditState::Failed,
                AuditOutcome {
                    problem: Some(failure.to_string()),
                    ..AuditOutcome::default()
                },
            ),
        };
        if let Ok(report) = &result {
            self.metrics
                .notes_unspent
                .set(i64::try_from(report.unspent_notes).unwrap_or(i64::MAX));
            self.metrics
                .supply_outstanding
                .set(i64::try_from(report.outstanding.minor_units()).unwrap_or(i64::MAX));
        }
        match &result {
            Ok(report) => tracing::info!(
                audit = id,
                blocks = report.blocks,
                transactions = report.transactions,
                seconds = started.elapsed().as_secs_f64(),
                "audit passed"
            ),
            Err(failure) => tracing::error!(audit = id, problem = %failure, "audit failed"),
        }
        if let Err(e) = self.store.finish_audit_run(id, state, now_ms(), &outcome) {
            tracing::error!(audit = id, error = %e, "could not record the audit's outcome");
        }
        *self.auditing.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// A receiver that changes whenever a block commits (for long polling).
    pub fn head(&self) -> watch::Receiver<u64> {
        self.head.clone()
    }

    /// Verifies and commits a transfer or redeem; returns its receipt (the first
    /// receipt again if it was already committed). Blocking: call off the async runtime.
    ///
    /// The transaction joins the verification queue; a verifier verifies it in a
    /// batch with whatever else is waiting, and passes it to the writer, which
    /// commits it in a batch. A full queue is `Busy`.
    pub fn submit(&self, tx: &Transaction) -> Result<Receipt, LedgerError> {
        if tx.kind() == TxKind::Issue {
            return Err(LedgerError::IssueNotSubmittable);
        }
        // A resubmission is answered with its first receipt by the verifier,
        // which looks up the whole batch's ids at once.
        let id = tx.id();
        let (reply, answer) = oneshot::channel();
        match self.verify_queue.try_send(VerifyJob {
            tx: tx.clone(),
            id,
            reply,
        }) {
            Ok(()) => {}
            Err(crossbeam_channel::TrySendError::Full(_)) => {
                self.metrics.rejected("busy");
                return Err(LedgerError::Busy);
            }
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                return Err(LedgerError::WriterGone)
            }
        }
        self.metrics.queue_depth_add(1);
        answer
            .blocking_recv()
            .map_err(|_| LedgerError::WriterGone)?
    }

    /// Sends an already verified transaction to the writer and waits for its receipt.
    fn commit(&self, new: NewTransaction) -> Result<Receipt, LedgerError> {
        commit_to(&self.queue, &self.metrics, new)
    }

    /// The receipt of a committed transaction.
    pub fn receipt(&self, id: &TxId) -> Result<Option<(Transaction, Receipt)>, LedgerError> {
        let Some(stored) = self.store.transaction(&id.0)? else {
            return Ok(None);
        };
        let tx = Transaction::decode(&stored.encoded)
            .map_err(|_| StoreError::Corrupt("stored transaction does not decode"))?;
        Ok(Some((tx, self.receipt_at(*id, stored.location)?)))
    }

    fn receipt_at(&self, id: TxId, location: TxLocation) -> Result<Receipt, StoreError> {
        stored_receipt(&self.store, id, location)
    }

    /// The issue a proposal executes: fully determined by the proposal and the bank,
    /// so every officer signs the same digest.
    pub fn issue_for(&self, proposal: &Proposal) -> Result<Issue, LedgerError> {
        let bank = self
            .store
            .participant(&proposal.bank_id)?
            .ok_or(StoreError::UnknownParticipant)?;
        let owner = PublicKey::from_bytes(&bank.spend_public_key)
            .map_err(|_| StoreError::Corrupt("bank key"))?;
        Ok(issue_body(
            &proposal.id,
            owner,
            Amount::new(proposal.amount),
        ))
    }

    pub fn propose(
        &self,
        officer_id: &str,
        bank_id: &str,
        amount: u64,
    ) -> Result<Proposal, LedgerError> {
        // Refused before any officer signs: an issue that the ceiling would
        // stop at execution is not worth proposing (it is checked again there,
        // under the chain lock, against the supply as it is then).
        let head = self.store.chain_head()?;
        let ceiling = self.governance_lock().supply_ceiling.minor_units();
        if head
            .outstanding
            .checked_add(amount)
            .is_none_or(|total| total > ceiling)
        {
            return Err(LedgerError::Rejected(Rejection::SupplyCeiling));
        }
        let mut id = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        let id = ProposalId(id);
        self.store.create_proposal(&NewProposal {
            id,
            bank_id: bank_id.to_string(),
            amount,
            proposer_id: officer_id.to_string(),
            created_at_unix_ms: now_ms(),
        })?;
        Ok(self
            .store
            .proposal(&id)?
            .ok_or(StoreError::UnknownProposal)?)
    }

    /// Records `officer`'s approval (a signature over the issue digest) and executes
    /// the proposal once `threshold` distinct active officers approved. Returns the
    /// proposal's state afterwards and, if it executed now, the issue's receipt.
    pub fn approve(
        &self,
        officer_id: &str,
        officer_key: &PublicKey,
        proposal_id: &ProposalId,
        signature: &Signature,
    ) -> Result<(Proposal, Option<Receipt>), LedgerError> {
        let proposal = self
            .store
            .proposal(proposal_id)?
            .ok_or(StoreError::UnknownProposal)?;
        if proposal.state != ProposalState::Open {
            return Err(StoreError::ProposalNotOpen.into());
        }
        let issue = self.issue_for(&proposal)?;
        officer_key
            .verify(ledger_core::Purpose::Officer, &issue.digest(), signature)
            .map_err(|_| LedgerError::BadApproval)?;
        self.store
            .approve_proposal(proposal_id, officer_id, &signature.to_bytes(), now_ms())?;
        let receipt = self.try_execute(&proposal, issue)?;
        let proposal = self
            .store
            .proposal(proposal_id)?
            .ok_or(StoreError::UnknownProposal)?;
        Ok((proposal, receipt))
    }

    fn try_execute(
        &self,
        proposal: &Proposal,
        mut issue: Issue,
    ) -> Result<Option<Receipt>, LedgerError> {
        // Held until the issue is committed: no governance entry can change
        // the officer set between this check and the issue's block.
        let governance = self.governance_in_force()?;
        let policy = governance.issuance_policy();
        // An issue goes only to a bank active now: a proposal made before
        // the bank's suspension does not pay it.
        let bank_active = self
            .store
            .participant(&proposal.bank_id)?
            .is_some_and(|p| p.role == Role::Bank && p.status == ParticipantStatus::Active);
        if !bank_active {
            return Err(LedgerError::NotActive(proposal.bank_id.clone(), "bank"));
        }
        let digest = issue.digest();
        let mut signatures = Vec::new();
        for approval in self.store.approvals(&proposal.id)? {
            let Some(officer) = self.store.participant(&approval.officer_id)? else {
                continue;
            };
            if officer.status != ParticipantStatus::Active || officer.role != Role::Officer {
                continue;
            }
            let (Ok(key), Ok(sig_bytes)) = (
                PublicKey::from_bytes(&officer.spend_public_key),
                <[u8; 64]>::try_from(approval.signature.as_slice()),
            ) else {
                return Err(StoreError::Corrupt("approval").into());
            };
            let signature = Signature::from_bytes(&sig_bytes)
                .map_err(|_| StoreError::Corrupt("approval signature"))?;
            // An approval made before the officer or the bank was re-keyed no
            // longer verifies (another key, or another issue digest): it does
            // not count, as a suspended officer's does not.
            if key
                .verify(ledger_core::Purpose::Officer, &digest, &signature)
                .is_err()
            {
                continue;
            }
            signatures.push(OfficerSignature {
                officer: key,
                signature,
            });
        }
        if signatures.len() < policy.threshold {
            return Ok(None);
        }
        // Canonical order: by officer key, so the issue id does not depend on who approved first.
        signatures.sort_by_key(|s| s.officer);
        issue.officer_signatures = signatures;
        let tx = Transaction::Issue(issue);
        verify(&tx, &[], &policy).map_err(LedgerError::Rejected)?;
        let id = tx.id();
        let committed = self.commit(new_transaction(&tx, id, Some(proposal.id)));
        drop(governance);
        match committed {
            Ok(receipt) => Ok(Some(receipt)),
            Err(LedgerError::Rejected(Rejection::SupplyCeiling)) => {
                Err(LedgerError::Rejected(Rejection::SupplyCeiling))
            }
            // Another approval executed it concurrently: not an error for this approver.
            Err(LedgerError::Rejected(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The active officers and the threshold, as the journal's governance has them.
    pub fn issuance_policy(&self) -> IssuancePolicy {
        self.governance_lock().issuance_policy()
    }
}

/// Sends an already verified transaction to the writer and waits for its receipt.
fn commit_to(
    queue: &SyncSender<Job>,
    metrics: &Metrics,
    new: NewTransaction,
) -> Result<Receipt, LedgerError> {
    let (reply, answer) = oneshot::channel();
    match queue.try_send(Job { tx: new, reply }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            metrics.rejected("busy");
            return Err(LedgerError::Busy);
        }
        Err(TrySendError::Disconnected(_)) => return Err(LedgerError::WriterGone),
    }
    metrics.queue_depth_add(1);
    answer
        .blocking_recv()
        .map_err(|_| LedgerError::WriterGone)?
}

/// The governance the journal's entries leave, replayed from the store;
/// `None` for an empty journal.
fn load_governance(
    store: &Store,
    block_key: &PublicKey,
) -> Result<Option<GovernanceState>, LedgerError> {
    let Some(first) = store.block(0)? else {
        return Ok(None);
    };
    let genesis_ids = store.block_transaction_ids(0)?;
    let entries = store.governance_encodings()?;
    let decoded = entries
        .iter()
        .map(|bytes| match Transaction::decode(bytes) {
            Ok(Transaction::Governance(entry)) => Ok(entry),
            _ => Err(StoreError::Corrupt(
                "a stored governance entry does not decode",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let no_genesis = || {
        LedgerError::Genesis(
            "this database's journal has no genesis entry: it was created before governance \
             was journaled, and cannot be audited; start a new ledger on an empty database"
                .into(),
        )
    };
    let Some(genesis) = decoded.first() else {
        return Err(no_genesis());
    };
    if genesis_ids.len() != 1
        || entries.first().map(|e| TxId::of_bytes(e).0) != Some(genesis_ids[0])
    {
        return Err(no_genesis());
    }
    let header = BlockHeader::from_bytes(&first.sealed.header)
        .map_err(|_| StoreError::Corrupt("block header"))?;
    let signed_by_this_key = crate::audit::signature_from(&first.sealed.signature)
        .is_some_and(|signature| header.verify_signature(block_key, &signature).is_ok());
    let mut state = match GovernanceState::genesis(genesis, block_key) {
        Ok(state) if signed_by_this_key => state,
        _ => {
            return Err(LedgerError::Genesis(format!(
                "the block key {} did not found this ledger: its journal was signed by another \
                 key. Start the ledger with the key file that signed its blocks",
                hex::encode(block_key.as_bytes())
            )))
        }
    };
    for entry in &decoded[1..] {
        // The journal's entries were checked when committed; replaying them
        // checks them again, so a tampered entry stops the start.
        state.check(entry).map_err(|r| {
            LedgerError::Genesis(format!(
                "governance entry {} of the journal does not verify: {r}",
                entry.sequence
            ))
        })?;
        state.apply(entry);
    }
    Ok(Some(state))
}

/// Officers named in the configuration must be what the journal says they
/// are: the configuration only founds a journal, it never changes one.
fn check_configured_officers(
    state: &GovernanceState,
    genesis: &GenesisConfig,
) -> Result<(), LedgerError> {
    for (id, _, key) in &genesis.officers {
        match state.participants.get(id) {
            Some(p) if p.role == ledger_core::governance::Role::Officer && p.key == *key => {}
            Some(_) => {
                return Err(LedgerError::Genesis(format!(
                    "officer {id} is configured with another key (or role) than the journal's; \
                     the journal is in force: re-key officers with a governance entry"
                )))
            }
            None => {
                return Err(LedgerError::Genesis(format!(
                    "officer {id} is configured but not in the journal: after genesis, officers \
                     are admitted by a governance entry approved by the threshold of officers"
                )))
            }
        }
    }
    if genesis.threshold != state.threshold {
        tracing::warn!(
            configured = genesis.threshold,
            journal = state.threshold,
            "the journal's threshold is in force; the configured one only founds a new ledger"
        );
    }
    Ok(())
}

/// The genesis entry a configuration founds.
fn genesis_entry(block_key: &PublicKey, genesis: &GenesisConfig) -> Governance {
    Governance::new(
        0,
        Action::Genesis {
            ledger_key: *block_key,
            threshold: u8::try_from(genesis.threshold).unwrap_or(u8::MAX),
            supply_ceiling: genesis.supply_ceiling,
            members: genesis
                .officers
                .iter()
                .map(|(id, name, key)| Member {
                    role: ledger_core::governance::Role::Officer,
                    id: id.clone(),
                    name: name.clone(),
                    key: *key,
                    view_key: None,
                })
                .collect(),
        },
    )
}

fn store_member(member: &Member) -> NewMember {
    NewMember {
        id: member.id.clone(),
        name: member.name.clone(),
        role: match member.role {
            ledger_core::governance::Role::Officer => Role::Officer,
            ledger_core::governance::Role::Bank => Role::Bank,
        },
        spend_public_key: member.key.to_bytes(),
        view_public_key: member.view_key.map(|k| k.to_bytes()),
    }
}

/// The rows a governance entry changes. Panics for another kind (a caller bug).
fn store_change(tx: &Transaction) -> GovernanceChange {
    let Transaction::Governance(entry) = tx else {
        panic!("store_change is for governance entries");
    };
    match &entry.action {
        Action::Genesis {
            threshold,
            supply_ceiling,
            members,
            ..
        } => GovernanceChange::Genesis {
            threshold: u32::from(*threshold),
            supply_ceiling: supply_ceiling.minor_units(),
            officers: members.iter().map(store_member).collect(),
        },
        Action::Admit { member } => GovernanceChange::Admit(store_member(member)),
        Action::Suspend { id } => GovernanceChange::SetStatus {
            id: id.clone(),
            status: ParticipantStatus::Suspended,
        },
        Action::Reinstate { id } => GovernanceChange::SetStatus {
            id: id.clone(),
            status: ParticipantStatus::Active,
        },
        Action::Rekey { id, key, view_key } => GovernanceChange::Rekey {
            id: id.clone(),
            spend_public_key: key.to_bytes(),
            view_public_key: view_key.map(|k| k.to_bytes()),
        },
        Action::SetThreshold { threshold } => GovernanceChange::SetThreshold(u32::from(*threshold)),
    }
}

/// Starts a full audit whenever the journal has grown by the configured
/// number of blocks since the last one started, so `GET /v1/supply` stays
/// fresh; ends with the ledger.
fn audit_schedule(ledger: std::sync::Weak<Ledger>) {
    let mut audited_at = match ledger.upgrade() {
        Some(l) => l
            .store
            .latest_audit_run(true)
            .ok()
            .flatten()
            .and_then(|run| run.outcome.height)
            .map_or(0, |h| h + 1),
        None => return,
    };
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let Some(ledger) = ledger.upgrade() else {
            return;
        };
        let blocks = *ledger.head.borrow();
        if blocks >= audited_at + ledger.audit_every_blocks && ledger.running_audit().is_none() {
            match ledger.start_audit(AuditTrigger::Schedule) {
                Ok(id) => {
                    tracing::info!(audit = id, blocks, "scheduled audit started");
                    audited_at = blocks;
                }
                Err(e) => tracing::warn!(error = %e, "could not start the scheduled audit"),
            }
        }
    }
}

fn no_issuers() -> IssuancePolicy {
    IssuancePolicy {
        officers: Vec::new(),
        threshold: usize::MAX,
    }
}

/// The reference of the issue that executes a proposal (officers' clients
/// derive it too, to check the issue they approve).
pub fn issuance_reference(proposal: &ProposalId) -> [u8; 32] {
    ledger_client::issuance_reference(&proposal.0)
}

/// The issue of a proposal: one output to the bank, with reference and (public)
/// blinding derived from the proposal id.
pub fn issue_body(proposal: &ProposalId, bank: PublicKey, amount: Amount) -> Issue {
    let reference = issuance_reference(proposal);
    let wide: [u8; 64] = Sha512::new()
        .chain_update(b"cbdc.issuance.blinding.v1")
        .chain_update(proposal.0)
        .finalize()
        .into();
    Issue {
        reference: IssueReference(reference),
        outputs: vec![IssueOutput {
            owner: bank,
            value: amount,
            blinding: PublicBlinding::from_uniform_bytes(&wide),
        }],
        officer_signatures: Vec::new(),
    }
}

fn to_core_note(note: store::StoredNote) -> Result<StoredNote, StoreError> {
    Ok(StoredNote {
        owner: PublicKey::from_bytes(&note.owner).map_err(|_| StoreError::Corrupt("note owner"))?,
        commitment: Commitment::from_bytes(&note.commitment)
            .map_err(|_| StoreError::Corrupt("note commitment"))?,
        spent: note.spent.is_some(),
    })
}

/// The rows the store writes for a verified transaction.
pub fn new_transaction(tx: &Transaction, id: TxId, proposal: Option<ProposalId>) -> NewTransaction {
    let outputs = tx
        .created_notes()
        .into_iter()
        .map(|n| NewNote {
            id: n.id.0,
            owner: n.owner.to_bytes(),
            commitment: n.commitment.to_bytes(),
            memo: n.memo.map(|m| m.to_bytes().to_vec()).unwrap_or_default(),
        })
        .collect();
    let (kernel_excess, issued, burned) = match tx {
        Transaction::Issue(issue) => {
            let (amount, blinding) = issue.totals().expect("verified issues do not overflow");
            (
                None,
                Some((amount.minor_units(), blinding.to_bytes())),
                None,
            )
        }
        Transaction::Transfer(spend) => (Some(spend.kernel.excess.to_bytes()), None, None),
        Transaction::Redeem(spend) => (
            Some(spend.kernel.excess.to_bytes()),
            None,
            Some(spend.burned.minor_units()),
        ),
        Transaction::Governance(_) => (None, None, None),
    };
    NewTransaction {
        id: id.0,
        kind: match tx.kind() {
            TxKind::Issue => store::TxKind::Issue,
            TxKind::Transfer => store::TxKind::Transfer,
            TxKind::Redeem => store::TxKind::Redeem,
            TxKind::Governance => store::TxKind::Governance,
        },
        encoded: tx.encode(),
        inputs: tx.inputs().iter().map(|n| n.0).collect(),
        outputs,
        kernel_excess,
        issued,
        burned,
        executes_proposal: proposal,
        governance: matches!(tx, Transaction::Governance(_)).then(|| store_change(tx)),
    }
}

fn store_rejection(inputs: &[[u8; 32]], r: &store::Rejection) -> Rejection {
    let index_of = |id: &[u8; 32]| inputs.iter().position(|n| n == id).unwrap_or(0);
    match r {
        store::Rejection::DoubleSpend(id) => Rejection::SpentInput {
            index: index_of(id),
        },
        store::Rejection::UnknownInput(id) => Rejection::UnknownInput {
            index: index_of(id),
        },
        store::Rejection::SupplyCeiling => Rejection::SupplyCeiling,
        store::Rejection::GenesisMisplaced => Rejection::GenesisMisplaced,
        // Everything else means the store disagrees with a transaction `verify` accepted,
        // or a proposal that executed concurrently: report it as a conflict on input 0.
        _ => Rejection::SpentInput { index: 0 },
    }
}

/// Builds the header of a block from the store's draft and signs it.
pub fn seal(key: &SecretKey, draft: &BlockDraft) -> (BlockHeader, SealedBlock) {
    let ids: Vec<TxId> = draft.transaction_ids.iter().map(|id| TxId(*id)).collect();
    let header = BlockHeader {
        height: draft.height,
        prev_hash: draft.prev_hash,
        merkle_root: merkle_root(&ids),
        tx_count: u32::try_from(ids.len()).expect("batches are bounded"),
        time_ms: now_ms(),
    };
    let signature = header.sign(key, &mut rand::rngs::OsRng);
    let sealed = SealedBlock {
        header: header.to_bytes().to_vec(),
        hash: header.hash(),
        merkle_root: header.merkle_root,
        time_unix_ms: header.time_ms,
        signature: signature.to_bytes().to_vec(),
    };
    (header, sealed)
}

/// The receipt of `ids[index]` in the block `sealed`.
pub fn receipt_from(
    sealed: &SealedBlock,
    id: TxId,
    index: u32,
    ids: &[TxId],
) -> Result<Receipt, StoreError> {
    let block =
        BlockHeader::from_bytes(&sealed.header).map_err(|_| StoreError::Corrupt("block header"))?;
    let signature = crate::audit::signature_from(&sealed.signature)
        .ok_or(StoreError::Corrupt("block signature"))?;
    let position = usize::try_from(index).map_err(|_| StoreError::Corrupt("tx index"))?;
    if ids.get(position) != Some(&id) {
        return Err(StoreError::Corrupt("transaction not at its recorded index"));
    }
    Ok(Receipt {
        tx_id: id,
        block,
        block_signature: signature,
        index,
        path: merkle_path(ids, position),
    })
}

struct Writer {
    store: Store,
    key: SecretKey,
    jobs: Receiver<Job>,
    batch_max: usize,
    metrics: Metrics,
    head: watch::Sender<u64>,
    /// True while a batch is being committed; verifiers gather meanwhile.
    busy: Arc<AtomicBool>,
}

/// `first` and whatever else is waiting, up to `max`: a batch that is as large as
/// the load and never waits for more (the latency bound).
fn drain<T>(first: T, max: usize, mut next: impl FnMut() -> Option<T>) -> Vec<T> {
    let mut batch = vec![first];
    while batch.len() < max {
        match next() {
            Some(item) => batch.push(item),
            None => break,
        }
    }
    batch
}

impl Writer {
    fn run(self) {
        while let Ok(first) = self.jobs.recv() {
            let jobs = drain(first, self.batch_max, || self.jobs.try_recv().ok());
            self.metrics
                .queue_depth_add(-i64::try_from(jobs.len()).unwrap_or(0));
            self.metrics.observe_batch(jobs.len());
            self.busy.store(true, Ordering::Release);
            self.commit(jobs);
            self.busy.store(false, Ordering::Release);
        }
    }

    fn commit(&self, jobs: Vec<Job>) {
        // The store takes the transactions; keep only what the answers need.
        let (batch, waiters): (Vec<NewTransaction>, Vec<_>) = jobs
            .into_iter()
            .map(|job| {
                let waiter = (
                    TxId(job.tx.id),
                    job.tx.kind,
                    job.tx.inputs.clone(),
                    job.reply,
                );
                (job.tx, waiter)
            })
            .unzip();
        let mut sealed_block: Option<(BlockHeader, SealedBlock, Vec<TxId>)> = None;
        let started = Instant::now();
        let result = self.store.apply_batch(batch, |draft| {
            let (header, sealed) = seal(&self.key, &draft);
            let ids = draft.transaction_ids.iter().map(|id| TxId(*id)).collect();
            sealed_block = Some((header, sealed.clone(), ids));
            sealed
        });
        self.metrics.observe_commit(started.elapsed());
        match result {
            Ok(outcomes) => {
                for ((id, kind, inputs, reply), outcome) in waiters.into_iter().zip(outcomes) {
                    let answer = match outcome {
                        ApplyOutcome::Accepted(location) => {
                            self.metrics.accepted(kind.as_db());
                            let (_, sealed, ids) = sealed_block
                                .as_ref()
                                .expect("accepted implies a sealed block");
                            receipt_from(sealed, id, location.index, ids).map_err(LedgerError::from)
                        }
                        ApplyOutcome::Duplicate(location) => {
                            stored_receipt(&self.store, id, location).map_err(LedgerError::from)
                        }
                        ApplyOutcome::Rejected(r) => {
                            let rejection = store_rejection(&inputs, &r);
                            self.metrics.rejected(rejection.code());
                            Err(LedgerError::Rejected(rejection))
                        }
                    };
                    let _ = reply.send(answer);
                }
                if let Some((header, sealed, _)) = sealed_block {
                    tracing::info!(
                        target: "cbdc::journal",
                        height = header.height,
                        transactions = header.tx_count,
                        hash = %hex::encode(sealed.hash),
                        commit_ms = started.elapsed().as_secs_f64() * 1e3,
                        "block sealed"
                    );
                    self.head.send_replace(header.height + 1);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "batch commit failed");
                let unknown = matches!(e, StoreError::CommitUnknown);
                for (_, _, _, reply) in waiters {
                    let _ = reply.send(Err(if unknown {
                        // Not "failed": the batch may be on the ledger.
                        LedgerError::Store(StoreError::CommitUnknown)
                    } else {
                        LedgerError::CommitFailed(e.to_string())
                    }));
                }
            }
        }
    }
}

/// The receipt of a transaction committed at `location`, rebuilt from the journal.
fn stored_receipt(store: &Store, id: TxId, location: TxLocation) -> Result<Receipt, StoreError> {
    let block = store
        .block(location.height)?
        .ok_or(StoreError::Corrupt("block of a committed transaction"))?;
    let ids: Vec<TxId> = store
        .block_transaction_ids(location.height)?
        .into_iter()
        .map(TxId)
        .collect();
    receipt_from(&block.sealed, id, location.index, &ids)
}

/// A verification stage: drains the queue into batches, verifies each batch with
/// one multiscalar multiplication ([`ledger_core::batch`]) against one snapshot
/// read of all inputs, and forwards what passes to the writer.
struct Verifier {
    store: Store,
    jobs: crossbeam_channel::Receiver<VerifyJob>,
    writer: SyncSender<Job>,
    batch_max: usize,
    metrics: Metrics,
    writer_busy: Arc<AtomicBool>,
}

impl Verifier {
    fn run(self) {
        while let Ok(first) = self.jobs.recv() {
            let mut jobs = drain(first, self.batch_max, || self.jobs.try_recv().ok());
            self.gather(&mut jobs);
            self.metrics
                .queue_depth_add(-i64::try_from(jobs.len()).unwrap_or(0));
            self.metrics.observe_verify_batch(jobs.len());
            if let Err(e) = self.verify(&mut jobs) {
                for job in jobs {
                    let _ = job
                        .reply
                        .send(Err(LedgerError::Store(clone_store_error(&e))));
                }
            }
        }
    }

    /// Adds arriving transactions to a small batch while the writer is busy:
    /// what this verifier forwarded now would wait for the writer's current
    /// commit anyway, and a larger batch verifies for less CPU per
    /// transaction, which leaves more of the machine to the database. Never
    /// waits when the writer is idle, so light load keeps its latency.
    fn gather(&self, jobs: &mut Vec<VerifyJob>) {
        let target = VERIFY_GATHER_TARGET.min(self.batch_max);
        let started = Instant::now();
        while jobs.len() < target
            && self.writer_busy.load(Ordering::Acquire)
            && started.elapsed() < VERIFY_GATHER_MAX
        {
            // Short waits, so the writer going idle is noticed promptly.
            match self.jobs.recv_timeout(Duration::from_millis(1)) {
                Ok(job) => jobs.push(job),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    /// Verifies `jobs`, replying to the rejected and forwarding the rest; on a
    /// store error nothing was replied and `jobs` is left for the caller.
    fn verify(&self, jobs: &mut Vec<VerifyJob>) -> Result<(), StoreError> {
        let tx_ids: Vec<[u8; 32]> = jobs.iter().map(|job| job.id.0).collect();
        let committed = self.store.transaction_locations(&tx_ids)?;
        if !committed.is_empty() {
            let (done, waiting): (Vec<VerifyJob>, Vec<VerifyJob>) = std::mem::take(jobs)
                .into_iter()
                .partition(|job| committed.contains_key(&job.id.0));
            *jobs = waiting;
            for job in done {
                let receipt = stored_receipt(&self.store, job.id, committed[&job.id.0]);
                let _ = job.reply.send(receipt.map_err(LedgerError::from));
            }
        }
        if jobs.is_empty() {
            return Ok(());
        }
        let ids: Vec<[u8; 32]> = jobs
            .iter()
            .flat_map(|j| j.tx.inputs().iter().map(|n| n.0))
            .collect();
        let stored = self.store.notes(&ids)?;
        let mut notes = stored
            .into_iter()
            .map(|n| n.map(to_core_note).transpose())
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        let inputs: Vec<Vec<Option<StoredNote>>> = jobs
            .iter()
            .map(|j| notes.by_ref().take(j.tx.inputs().len()).collect())
            .collect();
        let mut banks: std::collections::HashMap<PublicKey, bool> =
            std::collections::HashMap::new();
        for (job, inputs) in jobs.iter().zip(&inputs) {
            if job.tx.kind() != TxKind::Redeem {
                continue;
            }
            for input in inputs.iter().flatten() {
                if let std::collections::hash_map::Entry::Vacant(entry) = banks.entry(input.owner) {
                    let is_bank = matches!(
                        self.store.participant_by_key(input.owner.as_bytes())?,
                        Some(p) if p.role == Role::Bank && p.status == ParticipantStatus::Active
                    );
                    entry.insert(is_bank);
                }
            }
        }
        let started = Instant::now();
        let items: Vec<(&Transaction, &[Option<StoredNote>])> = jobs
            .iter()
            .zip(&inputs)
            .map(|(j, i)| (&j.tx, i.as_slice()))
            .collect();
        let report =
            ledger_core::batch::verify_batch_report(&items, &no_issuers(), &mut rand::rngs::OsRng);
        self.metrics.observe_verify(started.elapsed());
        for ((job, inputs), verdict) in jobs.drain(..).zip(&inputs).zip(report.results) {
            let verdict = verdict.map_err(LedgerError::Rejected).and_then(|()| {
                match inputs.iter().position(|n| {
                    job.tx.kind() == TxKind::Redeem && n.as_ref().is_some_and(|n| !banks[&n.owner])
                }) {
                    Some(index) => Err(LedgerError::RedeemByNonBank { index }),
                    None => Ok(()),
                }
            });
            match verdict {
                Err(e) => {
                    self.metrics.rejected(match &e {
                        LedgerError::Rejected(r) => r.code(),
                        _ => "redeem_not_bank",
                    });
                    let _ = job.reply.send(Err(e));
                }
                Ok(()) => {
                    let new = new_transaction(&job.tx, job.id, None);
                    match self.writer.try_send(Job {
                        tx: new,
                        reply: job.reply,
                    }) {
                        Ok(()) => self.metrics.queue_depth_add(1),
                        Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                            self.metrics.rejected("busy");
                            let _ = job.reply.send(Err(LedgerError::Busy));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `StoreError` is not `Clone` (it wraps diesel errors); a batch-wide failure is
/// reported to every waiting request as the same transient or internal error.
fn clone_store_error(e: &StoreError) -> StoreError {
    if e.is_connection_failure() {
        // Still a connection failure (503 `unavailable`), and the log says why.
        StoreError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ClosedConnection,
            Box::new(e.to_string()),
        ))
    } else if e.is_transient() {
        StoreError::Contention { attempts: 0 }
    } else {
        StoreError::Corrupt("verification could not read the store")
    }
}

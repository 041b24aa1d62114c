//! The journal replay: every block and every transaction checked again, from
//! block 0, exactly as admission checked them, trusting nothing but the
//! ledger's public key.
//!
//! Per block: the header follows the previous one (height, hash chain), is
//! signed by the ledger key, and its Merkle root is the root of the ids of its
//! transactions, each id recomputed from the stored encoding, which must decode
//! canonically. Per transaction, in journal order, against the state the
//! journal so far derives:
//!
//! - **governance** entries: block 0 holds the genesis alone; every later entry
//!   is checked by [`GovernanceState::check`] against the governance in force
//!   (officer set, threshold, approvals, key reuse) and then applied;
//! - **issues**: [`ledger_core::verify`] with the officers and threshold in
//!   force at that position, every output owned by a bank active there, then
//!   the supply ceiling fixed at genesis;
//! - **transfers and redeems**: every input a note the journal created and has
//!   not spent (so no note is spent twice across the whole history), a redeem's
//!   inputs owned by an active bank at that position, then the proofs and
//!   signatures (range proofs, balance, kernel and owner signatures) through
//!   [`ledger_core::verify_batch_report`] on every core, 64 transactions at a
//!   time, or one by one with [`ledger_core::verify`] for comparison.
//!
//! A transaction that admission would refuse fails the audit with the block,
//! the transaction and the rejection code. What the replay derives (every note
//! with every column, the event numbering, kernels, issuances, redemptions, the
//! participants, the chain head) is then compared with the stored rows
//! ([`super::tables`]).

use super::AuditFailure;
use crate::store::seed::is_filler_encoding;
use ledger_core::governance::GovernanceState;
use ledger_core::journal::{merkle_root, BlockHeader};
use ledger_core::verify::Rejection;
use ledger_core::{
    verify, Commitment, IssuancePolicy, NoteId, PublicKey, StoredNote, SupplyAudit, Transaction,
    TxId,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Spends handed to a verifying thread at a time: batch verification's cost
/// per transaction is near its floor from about 64 (BENCHMARKS.md).
const VERIFY_CHUNK: usize = 64;
/// Chunks queued for the verifying threads, at most (bounds the memory).
const CHUNKS_AHEAD_MAX: usize = 8;

/// How the audit verifies, and what else it must find.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// Verify every transaction on its own with `verify` instead of in
    /// batches: the baseline the batch verifier is measured against.
    pub one_by_one: bool,
    /// Blocks that must be in the journal as someone saw them (a header from a
    /// receipt or an export's tip): a missing or different block is a rollback
    /// or a fork.
    pub expect: Vec<Expectation>,
}

/// A block someone holds a signed header of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub height: u64,
    pub hash: [u8; 32],
    /// Where it comes from, for the message (`--expect`, a receipt's file name).
    pub source: String,
}

/// One block as the journal holds it.
pub struct SourceBlock {
    pub header: Vec<u8>,
    pub signature: Vec<u8>,
    /// The stored block row, whose columns must repeat the signed header (from
    /// a database; `None` for an export).
    pub stored: Option<crate::store::StoredBlock>,
    /// The block's transactions in order.
    pub transactions: Vec<SourceTransaction>,
}

/// One transaction's stored encoding and, from a database, its stored kind.
pub struct SourceTransaction {
    pub encoded: Vec<u8>,
    /// The `transactions.kind` column (`None` for an export).
    pub stored_kind: Option<crate::store::TxKind>,
}

/// A note as the journal derives it, every column the store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DerivedNote {
    pub owner: [u8; 32],
    pub commitment: [u8; 32],
    /// SHA-256 of the memo bytes as stored (empty for an issued note).
    pub memo_digest: [u8; 32],
    pub created_by: TxId,
    pub output_index: u32,
    pub created_seq: u64,
    pub spent: Option<(TxId, u64)>,
}

pub(super) fn memo_digest(memo: &[u8]) -> [u8; 32] {
    Sha256::digest(memo).into()
}

/// An issue as the tables must repeat it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DerivedIssue {
    pub amount: u64,
    pub blinding: [u8; 32],
    pub reference: [u8; 32],
    /// The bank that received it (the active bank whose key owns output 0).
    pub bank_id: String,
}

/// A spend waiting for its proofs and signatures to be checked.
struct Pending {
    height: u64,
    /// Position in its block.
    position: u32,
    id: TxId,
    tx: Transaction,
    inputs: Vec<Option<StoredNote>>,
}

/// The first failure any verifying thread found, by journal position.
#[derive(Default)]
struct FirstFailure {
    found: Mutex<Option<((u64, u32), AuditFailure)>>,
    any: AtomicBool,
}

impl FirstFailure {
    fn record(&self, position: (u64, u32), failure: AuditFailure) {
        let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        if found
            .as_ref()
            .is_none_or(|(earlier, _)| position < *earlier)
        {
            *found = Some((position, failure));
        }
        self.any.store(true, Ordering::Release);
    }
}

/// The journal's derived state after a replay, for the report and the table
/// comparison.
pub struct Replayed {
    pub(super) blocks: u64,
    pub(super) transactions: u64,
    pub(super) last: Option<BlockHeader>,
    pub(super) hashes: Vec<[u8; 32]>,
    pub(super) governance: Option<GovernanceState>,
    /// When each participant was admitted (its block's time).
    pub(super) admitted_ms: HashMap<String, u64>,
    pub(super) notes: HashMap<NoteId, DerivedNote>,
    pub(super) next_event_seq: u64,
    pub(super) kernels: Vec<(TxId, [u8; 32])>,
    /// Issue id → what the tables must repeat of it.
    pub(super) issues: HashMap<TxId, DerivedIssue>,
    pub(super) redemptions: Vec<(TxId, u64)>,
    pub(super) supply: SupplyAudit,
}

/// Replays a journal and re-verifies it; `source` yields its blocks in order.
pub fn replay(
    ledger: PublicKey,
    options: &AuditOptions,
    mut source: impl FnMut() -> Result<Option<SourceBlock>, AuditFailure>,
) -> Result<Replayed, AuditFailure> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let failure = FirstFailure::default();
    let one_by_one = options.one_by_one;
    let mut state = Replay::new(ledger);
    let walked = std::thread::scope(|scope| {
        let (chunks, taken) = crossbeam_channel::bounded::<Vec<Pending>>(CHUNKS_AHEAD_MAX);
        for _ in 0..threads {
            let taken = taken.clone();
            let failure = &failure;
            scope.spawn(move || {
                for chunk in taken {
                    if !failure.any.load(Ordering::Acquire) {
                        verify_chunk(&chunk, one_by_one, failure);
                    }
                }
            });
        }
        drop(taken);
        let walked = (|| {
            while let Some(block) = source()? {
                if failure.any.load(Ordering::Acquire) {
                    return Ok(());
                }
                state.block(&block)?;
                while state.pending.len() >= VERIFY_CHUNK {
                    let rest = state.pending.split_off(VERIFY_CHUNK);
                    let chunk = std::mem::replace(&mut state.pending, rest);
                    if chunks.send(chunk).is_err() {
                        return Ok(());
                    }
                }
            }
            let last = std::mem::take(&mut state.pending);
            if !last.is_empty() {
                let _ = chunks.send(last);
            }
            Ok(())
        })();
        drop(chunks);
        walked
    });
    // A failure the verifiers found comes earlier in the journal than where the
    // walk stopped, or the walk would not have got there: report the earliest.
    if let Some((position, verified)) = failure
        .found
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        match walked {
            Err(AuditFailure::Rejected { height, index, .. }) if (height, index) < position => {}
            _ => return Err(verified),
        }
    }
    walked?;
    let replayed = state.finish();
    check_expectations(&replayed, &options.expect)?;
    Ok(replayed)
}

/// Checks proofs and signatures of a chunk of spends; records the earliest
/// failure.
fn verify_chunk(chunk: &[Pending], one_by_one: bool, failure: &FirstFailure) {
    let no_issuers = IssuancePolicy {
        officers: Vec::new(),
        threshold: usize::MAX,
    };
    let results: Vec<Result<(), Rejection>> = if one_by_one {
        chunk
            .iter()
            .map(|p| verify(&p.tx, &p.inputs, &no_issuers))
            .collect()
    } else {
        let items: Vec<(&Transaction, &[Option<StoredNote>])> =
            chunk.iter().map(|p| (&p.tx, p.inputs.as_slice())).collect();
        ledger_core::batch::verify_batch_report(&items, &no_issuers, &mut rand::rngs::OsRng).results
    };
    for (pending, result) in chunk.iter().zip(results) {
        if let Err(rejection) = result {
            let index = pending.position;
            failure.record(
                (pending.height, index),
                AuditFailure::Rejected {
                    height: pending.height,
                    index,
                    tx: pending.id,
                    rejection,
                },
            );
        }
    }
}

/// The replay in progress: the derived state, and what only the walk needs.
struct Replay {
    ledger: PublicKey,
    /// Every issue reference used so far: each proposal executes once.
    references: std::collections::HashSet<[u8; 32]>,
    pending: Vec<Pending>,
    derived: Replayed,
}

fn block_failure(height: u64, problem: impl ToString) -> AuditFailure {
    AuditFailure::Block {
        height,
        problem: problem.to_string(),
    }
}

impl Replay {
    fn new(ledger: PublicKey) -> Replay {
        Replay {
            ledger,
            references: std::collections::HashSet::new(),
            pending: Vec::new(),
            derived: Replayed {
                blocks: 0,
                transactions: 0,
                last: None,
                hashes: Vec::new(),
                governance: None,
                admitted_ms: HashMap::new(),
                notes: HashMap::new(),
                next_event_seq: 1,
                kernels: Vec::new(),
                issues: HashMap::new(),
                redemptions: Vec::new(),
                supply: SupplyAudit::new(),
            },
        }
    }

    fn block(&mut self, block: &SourceBlock) -> Result<(), AuditFailure> {
        let height = self.derived.last.map_or(0, |p| p.height + 1);
        let header =
            BlockHeader::from_bytes(&block.header).map_err(|e| block_failure(height, e))?;
        header.check_follows(self.derived.last.as_ref())?;
        let signature = super::signature_from(&block.signature)
            .ok_or_else(|| block_failure(height, "malformed signature"))?;
        header.verify_signature(&self.ledger, &signature)?;
        // Only once the header is known to be the ledger's: a rewritten header
        // is a bad signature, not columns that disagree with it.
        if let Some(stored) = &block.stored {
            super::columns_agree_with_header(stored, &header)?;
        }
        let mut txs = Vec::with_capacity(block.transactions.len());
        for stored in &block.transactions {
            let bytes = &stored.encoded;
            let id = TxId::of_bytes(bytes);
            if is_filler_encoding(bytes) {
                return Err(block_failure(
                    height,
                    format!(
                        "transaction {id} is scale-benchmark filler (no range proofs, no kernel \
                         signature): this database is a benchmark fixture, not a ledger"
                    ),
                ));
            }
            let tx = Transaction::decode(bytes)
                .map_err(|e| block_failure(height, format!("transaction {id}: {e}")))?;
            if let Some(kind) = stored.stored_kind {
                if kind.as_str() != tx.kind().as_str() {
                    return Err(AuditFailure::Tables(format!(
                        "transactions {id}: column kind is {}, the journal's transaction is a {}",
                        kind.as_str(),
                        tx.kind().as_str()
                    )));
                }
            }
            txs.push((id, tx));
        }
        let ids: Vec<TxId> = txs.iter().map(|(id, _)| *id).collect();
        if u32::try_from(ids.len()).ok() != Some(header.tx_count)
            || merkle_root(&ids) != header.merkle_root
        {
            return Err(block_failure(
                height,
                "the Merkle root does not match its transactions",
            ));
        }
        if height == 0 && !matches!(txs.as_slice(), [(_, Transaction::Governance(_))]) {
            return Err(AuditFailure::Rejected {
                height,
                index: 0,
                tx: ids.first().copied().unwrap_or(TxId([0; 32])),
                rejection: Rejection::NoGenesis,
            });
        }
        for (index, (id, tx)) in txs.into_iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            self.apply(height, index, header.time_ms, id, tx)
                .map_err(|rejection| AuditFailure::Rejected {
                    height,
                    index,
                    tx: id,
                    rejection,
                })?;
        }
        self.derived.hashes.push(header.hash());
        self.derived.last = Some(header);
        self.derived.blocks += 1;
        self.derived.transactions += u64::from(header.tx_count);
        Ok(())
    }

    /// Checks what depends on the journal's state and applies the effects;
    /// queues a spend's proofs and signatures for the verifying threads.
    fn apply(
        &mut self,
        height: u64,
        position: u32,
        block_time_ms: u64,
        id: TxId,
        tx: Transaction,
    ) -> Result<(), Rejection> {
        let mut spend_inputs = None;
        match &tx {
            Transaction::Governance(entry) => {
                match &mut self.derived.governance {
                    None => {
                        let state = GovernanceState::genesis(entry, &self.ledger)?;
                        for id in state.participants.keys() {
                            self.derived.admitted_ms.insert(id.clone(), block_time_ms);
                        }
                        self.derived.governance = Some(state);
                    }
                    Some(state) => {
                        state.check(entry)?;
                        state.apply(entry);
                        if let ledger_core::governance::Action::Admit { member } = &entry.action {
                            self.derived
                                .admitted_ms
                                .insert(member.id.clone(), block_time_ms);
                        }
                    }
                }
                return Ok(());
            }
            Transaction::Issue(issue) => {
                let governance = self
                    .derived
                    .governance
                    .as_ref()
                    .ok_or(Rejection::NoGenesis)?;
                verify(&tx, &[], &governance.issuance_policy())?;
                if let Some(index) = issue
                    .outputs
                    .iter()
                    .position(|o| !governance.is_active_bank(&o.owner))
                {
                    return Err(Rejection::IssueNotToBank { index });
                }
                if !self.references.insert(issue.reference.to_bytes()) {
                    return Err(Rejection::IssueReferenceReused);
                }
                let bank_id = issue
                    .outputs
                    .first()
                    .and_then(|o| governance.active_by_key(&o.owner))
                    .map(|p| p.id.clone())
                    .unwrap_or_default();
                let (amount, blinding) = issue.totals().ok_or(Rejection::AmountOverflow)?;
                self.derived.supply.add_issued(amount, &blinding);
                if self.derived.supply.outstanding()
                    > i128::from(governance.supply_ceiling.minor_units())
                {
                    return Err(Rejection::SupplyCeiling);
                }
                self.derived.issues.insert(
                    id,
                    DerivedIssue {
                        amount: amount.minor_units(),
                        blinding: blinding.to_bytes(),
                        reference: issue.reference.to_bytes(),
                        bank_id,
                    },
                );
            }
            Transaction::Transfer(spend) | Transaction::Redeem(spend) => {
                let governance = self
                    .derived
                    .governance
                    .as_ref()
                    .ok_or(Rejection::NoGenesis)?;
                let redeem = matches!(tx, Transaction::Redeem(_));
                let mut inputs = Vec::with_capacity(spend.inputs.len());
                for (index, input) in spend.inputs.iter().enumerate() {
                    let note = self
                        .derived
                        .notes
                        .get(input)
                        .ok_or(Rejection::UnknownInput { index })?;
                    if note.spent.is_some() {
                        return Err(Rejection::SpentInput { index });
                    }
                    let owner = PublicKey::from_bytes(&note.owner)
                        .map_err(|_| Rejection::UnknownInput { index })?;
                    if redeem && !governance.is_active_bank(&owner) {
                        return Err(Rejection::RedeemNotBank { index });
                    }
                    let commitment = Commitment::from_bytes(&note.commitment)
                        .map_err(|_| Rejection::UnknownInput { index })?;
                    inputs.push(Some(StoredNote {
                        owner,
                        commitment,
                        spent: false,
                    }));
                }
                for input in &spend.inputs {
                    let seq = self.take_seq();
                    if let Some(note) = self.derived.notes.get_mut(input) {
                        note.spent = Some((id, seq));
                    }
                }
                self.derived
                    .kernels
                    .push((id, spend.kernel.excess.to_bytes()));
                self.derived.supply.add_kernel(&spend.kernel.excess);
                if redeem {
                    self.derived.supply.add_redemption(spend.burned);
                    self.derived
                        .redemptions
                        .push((id, spend.burned.minor_units()));
                }
                spend_inputs = Some(inputs);
            }
        }
        for (output_index, note) in tx.created_notes().into_iter().enumerate() {
            let memo = note.memo.map(|m| m.to_bytes().to_vec()).unwrap_or_default();
            let derived = DerivedNote {
                owner: note.owner.to_bytes(),
                commitment: note.commitment.to_bytes(),
                memo_digest: memo_digest(&memo),
                created_by: id,
                output_index: u32::try_from(output_index).unwrap_or(u32::MAX),
                created_seq: self.take_seq(),
                spent: None,
            };
            if self.derived.notes.insert(note.id, derived).is_some() {
                // Note ids derive from the creating transaction's id (or an
                // issue's digest): only a repeated issue can collide.
                return Err(Rejection::OutputExists {
                    index: output_index,
                });
            }
        }
        if let Some(inputs) = spend_inputs {
            self.pending.push(Pending {
                height,
                position,
                id,
                tx,
                inputs,
            });
        }
        Ok(())
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.derived.next_event_seq;
        self.derived.next_event_seq += 1;
        seq
    }

    fn finish(self) -> Replayed {
        self.derived
    }
}

/// Every expected block must be in the journal with the hash seen.
fn check_expectations(replayed: &Replayed, expect: &[Expectation]) -> Result<(), AuditFailure> {
    for expected in expect {
        let found = usize::try_from(expected.height)
            .ok()
            .and_then(|h| replayed.hashes.get(h));
        match found {
            Some(hash) if *hash == expected.hash => {}
            Some(hash) => {
                return Err(AuditFailure::Rollback(format!(
                    "{}: block {} is {} in the journal, but {} was seen: the ledger presents \
                     a different history (a fork)",
                    expected.source,
                    expected.height,
                    hex::encode(hash),
                    hex::encode(expected.hash)
                )))
            }
            None => {
                return Err(AuditFailure::Rollback(format!(
                    "{}: block {} ({}) was seen, but the journal holds only {}: the latest \
                     blocks were rolled back",
                    expected.source,
                    expected.height,
                    hex::encode(expected.hash),
                    match replayed.blocks {
                        0 => "no block".to_owned(),
                        n => format!("blocks 0 to {}", n - 1),
                    }
                )))
            }
        }
    }
    Ok(())
}

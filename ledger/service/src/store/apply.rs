//! The write path: a batch of verified transactions applied in one database
//! transaction and sealed into one block.
//!
//! The batch is applied set-wise: a handful of statements per batch, not per
//! transaction, because the round trips were the ledger's bottleneck (about
//! eight per transfer). Order of work inside the database transaction:
//!
//! 1. **Lock** the single `chain_head` row (`UPDATE ... RETURNING`). Every
//!    writer of transactions, notes, events and blocks does this first, so
//!    batches commit one after the other, block heights are consecutive, and
//!    the event sequence numbers they allocate (from the same row) are
//!    gap-free and in commit order: a follower that read up to `seq` never
//!    misses a later-committed smaller one. On SQLite the same statement takes
//!    the database's write lock up front (waiting on `busy_timeout`), which
//!    avoids the deadlock of upgrading a read lock.
//! 2. **Read** what the batch touches, in bulk: which of its transaction ids
//!    are stored, the state of every note it spends or creates, and the
//!    proposals its issues execute. Under the lock this is the state the
//!    batch applies to.
//! 3. **Plan** in memory, transaction by transaction in batch order, exactly
//!    as if each were applied alone: a transaction sees the effects of the
//!    accepted ones before it (it may spend their outputs; it may not spend
//!    what they spent or reuse their output ids) and a rejected one leaves no
//!    trace. The plan fixes every outcome, block index and event number.
//! 4. **Write** the accepted transactions with multi-row statements:
//!    transactions, notes, spends, events, kernels, issuances, redemptions,
//!    executed proposals; then call the caller's sealer, insert the block
//!    (transactions reference it through a deferred foreign key) and advance
//!    `chain_head`.
//!
//! The plan is not trusted to keep the money invariants on its own: every
//! spend is still one guarded update (`... WHERE id = $input AND spent_by IS
//! NULL`) whose affected rows are counted, every insert is checked by the
//! schema's keys, and any disagreement with the plan rolls the whole batch
//! back. The only disagreement that can happen without tampering is an
//! issuance proposal cancelled between the read and the write (cancelling
//! does not take the chain lock); the batch is then planned again.
//!
//! PostgreSQL runs at READ COMMITTED. Serialization failures and deadlocks
//! roll the whole database transaction back; it is retried, a bounded number
//! of times, as long as the sealer has not been called (it is `FnOnce`).

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::error::{is_unique_violation, is_write_conflict, StoreError};
use super::governance::{ParticipantStatus, ProposalState};
use super::read::locate_transactions;
use super::schema::{blocks, participants, redemptions, transactions};
use super::schema::{chain_head, events, issuance_proposals, issuances, kernels, notes};
use super::types::*;
use super::{AnyConnection, Store};

/// Transactions in one batch, at most.
pub const BATCH_TRANSACTIONS_MAX: usize = 8_192;
/// Inputs, and separately outputs, of one transaction, at most.
pub const NOTES_PER_TRANSACTION_MAX: usize = 256;
/// Attempts of one batch when PostgreSQL reports a serialization failure or
/// deadlock, or a proposal changed state between the plan and the write.
const ATTEMPTS_MAX: u32 = 5;
/// Ids per lookup query.
const IDS_PER_QUERY_MAX: usize = 4_096;
/// Bound parameters per statement: under SQLite's limit (32,766) and
/// PostgreSQL's (65,535).
const PARAMETERS_PER_STATEMENT_MAX: usize = 30_000;

impl Store {
    /// Applies a batch of verified transactions atomically and seals the
    /// accepted ones into one block with `seal`, which is called at most once
    /// and only if at least one transaction was accepted.
    ///
    /// Returns one outcome per transaction, in batch order. A rejected
    /// transaction leaves no trace; the others commit. An `Err` means nothing
    /// of the batch was committed, except [`StoreError::CommitUnknown`]: the
    /// connection broke at COMMIT, and the batch may have committed.
    pub fn apply_batch(
        &self,
        batch: Vec<NewTransaction>,
        seal: impl FnOnce(BlockDraft) -> SealedBlock,
    ) -> Result<Vec<ApplyOutcome>, StoreError> {
        if batch.len() > BATCH_TRANSACTIONS_MAX {
            return Err(StoreError::BatchTooLarge { count: batch.len() });
        }
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut seal = Some(seal);
        let mut attempt = 1;
        loop {
            let mut conn = self.connection()?;
            let mut asked_to_commit = false;
            let result = conn.transaction(|conn| {
                let outcomes = apply_in_transaction(conn, &batch, &mut seal)?;
                asked_to_commit = true;
                Ok(outcomes)
            });
            // The connection broke at COMMIT, after a block was written: the
            // server may have committed it or not, and only the database
            // knows. Said so, rather than "not committed", so that a client
            // resubmits (safe: a committed id answers with its receipt)
            // instead of concluding the money did not move.
            if asked_to_commit && seal.is_none() {
                if let Err(Failure::Store(error)) = &result {
                    if error.is_connection_failure() {
                        return Err(StoreError::CommitUnknown);
                    }
                }
            }
            let retry = match &result {
                Err(Failure::Replan) => true,
                Err(Failure::Store(StoreError::Database(error))) => is_write_conflict(error),
                _ => false,
            };
            match result {
                Ok(outcomes) => return Ok(outcomes),
                Err(_) if retry && seal.is_some() && attempt < ATTEMPTS_MAX => attempt += 1,
                Err(_) if retry && seal.is_some() => {
                    return Err(StoreError::Contention { attempts: attempt })
                }
                Err(Failure::Replan) => return Err(StoreError::Corrupt("proposal state changed")),
                Err(Failure::Store(error)) => return Err(error),
            }
        }
    }
}

/// Why a batch's database transaction was rolled back.
#[derive(Debug)]
enum Failure {
    /// The database disagrees with the plan in a way a concurrent
    /// cancellation explains: plan again.
    Replan,
    Store(StoreError),
}

impl From<diesel::result::Error> for Failure {
    fn from(error: diesel::result::Error) -> Self {
        Failure::Store(StoreError::Database(error))
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

fn apply_in_transaction<F>(
    conn: &mut AnyConnection,
    batch: &[NewTransaction],
    seal: &mut Option<F>,
) -> Result<Vec<ApplyOutcome>, Failure>
where
    F: FnOnce(BlockDraft) -> SealedBlock,
{
    let (next_height, tip_hash, next_event_seq) = lock_head(conn)?;
    let height = from_db_i64(next_height, "chain height")?;
    let limits = read_limits(conn)?;

    let state = read_state(conn, batch)?;
    let plan = plan(batch, state, height, next_event_seq, limits)?;
    if plan.accepted.is_empty() {
        return Ok(plan.outcomes);
    }
    write(conn, batch, &plan, next_height)?;

    let Some(seal) = seal.take() else {
        // Only reachable if a previous attempt sealed and then failed; such an
        // attempt is not retried (see `Store::apply_batch`).
        return Err(StoreError::Corrupt("block sealer called twice").into());
    };
    let prev_hash = to_bytes32(&tip_hash, "chain tip hash")?;
    let tx_count = i32::try_from(plan.accepted.len())
        .map_err(|_| StoreError::OutOfRange { field: "tx count" })?;
    let sealed = seal(BlockDraft {
        height,
        prev_hash,
        transaction_ids: plan.accepted.iter().map(|&i| batch[i].id).collect(),
    });
    insert_block(conn, next_height, &prev_hash, &sealed, tx_count)?;
    apply_governance(conn, batch, &plan, sealed.time_unix_ms)?;
    let next_height = next_height.checked_add(1).ok_or(StoreError::OutOfRange {
        field: "chain height",
    })?;
    advance_head(conn, next_height, &sealed.hash, plan.next_event_seq)?;
    write_limits(conn, plan.limits)?;
    Ok(plan.outcomes)
}

/// What the journal's governance and issuance fix, kept in `chain_head`.
#[derive(Clone, Copy, Debug)]
struct Limits {
    threshold: i32,
    supply_ceiling: i64,
    outstanding: i64,
}

/// Reads the limits from the `chain_head` row [`lock_head`] locked.
fn read_limits(conn: &mut AnyConnection) -> Result<Limits, StoreError> {
    let (threshold, supply_ceiling, outstanding) = chain_head::table
        .select((
            chain_head::threshold,
            chain_head::supply_ceiling,
            chain_head::outstanding,
        ))
        .first::<(i32, i64, i64)>(conn)?;
    Ok(Limits {
        threshold,
        supply_ceiling,
        outstanding,
    })
}

fn write_limits(conn: &mut AnyConnection, limits: Limits) -> Result<(), StoreError> {
    diesel::update(chain_head::table)
        .set((
            chain_head::threshold.eq(limits.threshold),
            chain_head::supply_ceiling.eq(limits.supply_ceiling),
            chain_head::outstanding.eq(limits.outstanding),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes what the accepted governance entries change in `participants`;
/// admissions are stamped with the block's time.
fn apply_governance(
    conn: &mut AnyConnection,
    batch: &[NewTransaction],
    plan: &Plan,
    block_time_unix_ms: u64,
) -> Result<(), StoreError> {
    let admitted_at = to_db_i64(block_time_unix_ms, "block time")?;
    for &position in &plan.accepted {
        let Some(change) = &batch[position].governance else {
            continue;
        };
        match change {
            GovernanceChange::Genesis { officers, .. } => {
                for officer in officers {
                    insert_participant(conn, officer, admitted_at)?;
                }
            }
            GovernanceChange::Admit(member) => insert_participant(conn, member, admitted_at)?,
            GovernanceChange::SetStatus { id, status } => {
                let updated = diesel::update(participants::table.find(id))
                    .set(participants::status.eq(status.as_db()))
                    .execute(conn)?;
                if updated != 1 {
                    return Err(StoreError::UnknownParticipant);
                }
            }
            GovernanceChange::Rekey {
                id,
                spend_public_key,
                view_public_key,
            } => {
                let updated = diesel::update(participants::table.find(id))
                    .set((
                        participants::spend_public_key.eq(&spend_public_key[..]),
                        participants::view_public_key.eq(view_public_key.as_ref().map(|k| &k[..])),
                    ))
                    .execute(conn)?;
                if updated != 1 {
                    return Err(StoreError::UnknownParticipant);
                }
            }
            GovernanceChange::SetThreshold(_) => {}
        }
    }
    Ok(())
}

fn insert_participant(
    conn: &mut AnyConnection,
    member: &NewMember,
    admitted_at: i64,
) -> Result<(), StoreError> {
    let inserted = diesel::insert_into(participants::table)
        .values((
            participants::id.eq(&member.id),
            participants::name.eq(&member.name),
            participants::role.eq(member.role.as_db()),
            participants::status.eq(ParticipantStatus::Active.as_db()),
            participants::spend_public_key.eq(&member.spend_public_key[..]),
            participants::view_public_key.eq(member.view_public_key.as_ref().map(|k| &k[..])),
            participants::created_at_unix_ms.eq(admitted_at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(()),
        Err(error) if is_unique_violation(&error) => Err(StoreError::ParticipantExists),
        Err(error) => Err(error.into()),
    }
}

/// Locks the single `chain_head` row, the first statement of every writer of
/// blocks (see the module docs), and returns the next height, the tip's hash
/// and the next event number.
pub(super) fn lock_head(conn: &mut AnyConnection) -> Result<(i64, Vec<u8>, i64), StoreError> {
    Ok(diesel::update(chain_head::table)
        .set(chain_head::next_height.eq(chain_head::next_height))
        .returning((
            chain_head::next_height,
            chain_head::tip_hash,
            chain_head::next_event_seq,
        ))
        .get_result::<(i64, Vec<u8>, i64)>(conn)?)
}

/// Inserts the block sealed at `height` on top of `prev_hash`.
pub(super) fn insert_block(
    conn: &mut AnyConnection,
    height: i64,
    prev_hash: &Bytes32,
    sealed: &SealedBlock,
    tx_count: i32,
) -> Result<(), StoreError> {
    diesel::insert_into(blocks::table)
        .values((
            blocks::height.eq(height),
            blocks::hash.eq(&sealed.hash[..]),
            blocks::prev_hash.eq(&prev_hash[..]),
            blocks::merkle_root.eq(&sealed.merkle_root[..]),
            blocks::time_unix_ms.eq(to_db_i64(sealed.time_unix_ms, "block time")?),
            blocks::tx_count.eq(tx_count),
            blocks::header.eq(&sealed.header),
            blocks::signature.eq(&sealed.signature),
        ))
        .execute(conn)?;
    Ok(())
}

/// Moves the chain's head past the blocks and events just written, under the
/// lock taken by [`lock_head`].
pub(super) fn advance_head(
    conn: &mut AnyConnection,
    next_height: i64,
    tip_hash: &Bytes32,
    next_event_seq: i64,
) -> Result<(), StoreError> {
    diesel::update(chain_head::table)
        .set((
            chain_head::next_height.eq(next_height),
            chain_head::tip_hash.eq(&tip_hash[..]),
            chain_head::next_event_seq.eq(next_event_seq),
        ))
        .execute(conn)?;
    Ok(())
}

/// A note as the plan sees it.
#[derive(Clone, Copy)]
enum NoteState {
    Unspent { owner: Bytes32 },
    Spent,
}

/// A proposal an issue of the batch executes, as read under the lock.
#[derive(Clone, Copy)]
struct OpenProposal {
    amount: i64,
}

/// What the batch touches, read under the chain lock.
struct State {
    stored: HashMap<Bytes32, TxLocation>,
    notes: HashMap<Bytes32, NoteState>,
    open_proposals: HashMap<ProposalId, OpenProposal>,
}

fn read_state(conn: &mut AnyConnection, batch: &[NewTransaction]) -> Result<State, StoreError> {
    let tx_ids: Vec<Bytes32> = batch.iter().map(|tx| tx.id).collect();
    let stored = locate_transactions(conn, &tx_ids)?;

    let note_ids: HashSet<&[u8]> = batch
        .iter()
        .flat_map(|tx| {
            let inputs = tx.inputs.iter().map(|id| &id[..]);
            inputs.chain(tx.outputs.iter().map(|note| &note.id[..]))
        })
        .collect();
    let note_ids: Vec<&[u8]> = note_ids.into_iter().collect();
    let mut notes_state = HashMap::with_capacity(note_ids.len());
    for chunk in note_ids.chunks(IDS_PER_QUERY_MAX) {
        let rows = notes::table
            .filter(notes::id.eq_any(chunk))
            .select((notes::id, notes::owner, notes::spent_by.is_not_null()))
            .load::<(Vec<u8>, Vec<u8>, bool)>(conn)?;
        for (id, owner, spent) in rows {
            let state = if spent {
                NoteState::Spent
            } else {
                NoteState::Unspent {
                    owner: to_bytes32(&owner, "note owner")?,
                }
            };
            notes_state.insert(to_bytes32(&id, "note id")?, state);
        }
    }

    let proposal_ids: Vec<&[u8]> = batch
        .iter()
        .filter_map(|tx| tx.executes_proposal.as_ref().map(|id| &id.0[..]))
        .collect();
    let mut open_proposals = HashMap::new();
    for chunk in proposal_ids.chunks(IDS_PER_QUERY_MAX) {
        let rows = issuance_proposals::table
            .filter(issuance_proposals::id.eq_any(chunk))
            .filter(issuance_proposals::state.eq(ProposalState::Open.as_db()))
            .select((issuance_proposals::id, issuance_proposals::amount))
            .load::<(Vec<u8>, i64)>(conn)?;
        for (id, amount) in rows {
            let id =
                <[u8; 16]>::try_from(&id[..]).map_err(|_| StoreError::Corrupt("proposal id"))?;
            open_proposals.insert(ProposalId(id), OpenProposal { amount });
        }
    }
    Ok(State {
        stored,
        notes: notes_state,
        open_proposals,
    })
}

/// The batch's outcomes and what the accepted transactions write.
struct Plan {
    outcomes: Vec<ApplyOutcome>,
    /// Batch positions of the accepted transactions, in block order.
    accepted: Vec<usize>,
    /// Per accepted transaction (aligned with `accepted`): its first event
    /// number, and the owners of the notes it spends, in input order.
    details: Vec<AcceptedDetails>,
    next_event_seq: i64,
    /// The limits after the accepted transactions.
    limits: Limits,
}

struct AcceptedDetails {
    index: u32,
    first_seq: i64,
    spent_owners: Vec<Bytes32>,
    amounts: DbAmounts,
}

/// Decides every transaction's outcome in batch order, each against the
/// state left by the ones accepted before it.
fn plan(
    batch: &[NewTransaction],
    mut state: State,
    height: u64,
    mut next_event_seq: i64,
    mut limits: Limits,
) -> Result<Plan, StoreError> {
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut accepted = Vec::new();
    let mut details = Vec::new();
    for (position, tx) in batch.iter().enumerate() {
        if let Some(location) = state.stored.get(&tx.id) {
            outcomes.push(ApplyOutcome::Duplicate(*location));
            continue;
        }
        if let Err(malformation) = check_shape(tx) {
            outcomes.push(ApplyOutcome::Rejected(Rejection::Malformed(malformation)));
            continue;
        }
        let Ok(amounts) = DbAmounts::of(tx) else {
            outcomes.push(ApplyOutcome::Rejected(Rejection::AmountOutOfRange));
            continue;
        };
        // A genesis anywhere but alone in block 0 is refused. (That block 0
        // holds a genesis is the ledger's to ensure; the store's own tests
        // write journals without one, which the audit would refuse.)
        let is_genesis = matches!(tx.governance, Some(GovernanceChange::Genesis { .. }));
        if is_genesis && (height != 0 || !accepted.is_empty()) {
            outcomes.push(ApplyOutcome::Rejected(Rejection::GenesisMisplaced));
            continue;
        }
        let spent_owners = match check_notes(tx, &state.notes) {
            Ok(owners) => owners,
            Err(rejection) => {
                outcomes.push(ApplyOutcome::Rejected(rejection));
                continue;
            }
        };
        if let (Some(proposal), Some(amount)) = (tx.executes_proposal, amounts.issued) {
            // Only an open proposal for exactly this amount is executed, and
            // only once.
            match state.open_proposals.get(&proposal) {
                Some(open) if open.amount == amount => {
                    state.open_proposals.remove(&proposal);
                }
                _ => {
                    let rejection = Rejection::ProposalNotExecutable(proposal);
                    outcomes.push(ApplyOutcome::Rejected(rejection));
                    continue;
                }
            }
        }

        let Some(next_limits) = limits_after(limits, tx, amounts) else {
            outcomes.push(ApplyOutcome::Rejected(Rejection::SupplyCeiling));
            continue;
        };
        // Accepted: take its place in the block and its event numbers, and
        // let the transactions after it see its effects.
        let index = u32::try_from(accepted.len()).map_err(|_| StoreError::OutOfRange {
            field: "block index",
        })?;
        let location = TxLocation { height, index };
        let first_seq = next_event_seq;
        let event_count = i64::try_from(tx.inputs.len() + tx.outputs.len()).map_err(|_| {
            StoreError::OutOfRange {
                field: "event count",
            }
        })?;
        next_event_seq = next_event_seq
            .checked_add(event_count)
            .ok_or(StoreError::OutOfRange {
                field: "event sequence",
            })?;
        for input in &tx.inputs {
            state.notes.insert(*input, NoteState::Spent);
        }
        for note in &tx.outputs {
            state
                .notes
                .insert(note.id, NoteState::Unspent { owner: note.owner });
        }
        state.stored.insert(tx.id, location);
        limits = next_limits;
        outcomes.push(ApplyOutcome::Accepted(location));
        accepted.push(position);
        details.push(AcceptedDetails {
            index,
            first_seq,
            spent_owners,
            amounts,
        });
    }
    Ok(Plan {
        outcomes,
        accepted,
        details,
        next_event_seq,
        limits,
    })
}

/// The limits once `tx` is applied; `None` if an issue would take the
/// outstanding supply past the ceiling (or a redeem below zero, which only
/// tampering could bring about).
fn limits_after(limits: Limits, tx: &NewTransaction, amounts: DbAmounts) -> Option<Limits> {
    let mut next = limits;
    if let Some(GovernanceChange::Genesis {
        threshold,
        supply_ceiling,
        ..
    }) = &tx.governance
    {
        next.threshold = i32::try_from(*threshold).ok()?;
        next.supply_ceiling = i64::try_from(*supply_ceiling).ok()?;
    }
    if let Some(GovernanceChange::SetThreshold(threshold)) = &tx.governance {
        next.threshold = i32::try_from(*threshold).ok()?;
    }
    // A ceiling of 0 is one no genesis has fixed: only the store's own tests
    // apply issues without a genesis, and for them nothing is limited (the
    // outstanding amount saturates; no audit would pass such a journal).
    if next.supply_ceiling == 0 {
        let issued = amounts.issued.unwrap_or(0);
        let burned = amounts.burned.unwrap_or(0);
        next.outstanding = next
            .outstanding
            .saturating_add(issued)
            .saturating_sub(burned)
            .max(0);
        return Some(next);
    }
    if let Some(issued) = amounts.issued {
        next.outstanding = next.outstanding.checked_add(issued)?;
        if next.outstanding > next.supply_ceiling {
            return None;
        }
    }
    if let Some(burned) = amounts.burned {
        next.outstanding = next.outstanding.checked_sub(burned)?;
        if next.outstanding < 0 {
            return None;
        }
    }
    Some(next)
}

/// Checks a transaction's inputs, then its outputs, against the notes as the
/// transactions before it left them; returns the owners of its inputs.
fn check_notes(
    tx: &NewTransaction,
    notes_state: &HashMap<Bytes32, NoteState>,
) -> Result<Vec<Bytes32>, Rejection> {
    let mut owners = Vec::with_capacity(tx.inputs.len());
    let mut spending = HashSet::with_capacity(tx.inputs.len());
    for input in &tx.inputs {
        match notes_state.get(input) {
            None => return Err(Rejection::UnknownInput(*input)),
            Some(NoteState::Spent) => return Err(Rejection::DoubleSpend(*input)),
            Some(NoteState::Unspent { .. }) if !spending.insert(*input) => {
                return Err(Rejection::DoubleSpend(*input))
            }
            Some(NoteState::Unspent { owner }) => owners.push(*owner),
        }
    }
    // Output ids are distinct (checked by shape); none may exist already,
    // spent or not, nor be one of this transaction's own inputs.
    if let Some(taken) = tx
        .outputs
        .iter()
        .find(|note| notes_state.contains_key(&note.id))
    {
        return Err(Rejection::OutputExists(taken.id));
    }
    Ok(owners)
}

/// Amounts of a transaction converted for the database.
#[derive(Clone, Copy)]
struct DbAmounts {
    issued: Option<i64>,
    burned: Option<i64>,
}

impl DbAmounts {
    fn of(tx: &NewTransaction) -> Result<DbAmounts, StoreError> {
        Ok(DbAmounts {
            issued: tx
                .issued
                .map(|(amount, _)| to_db_i64(amount, "issued amount"))
                .transpose()?,
            burned: tx
                .burned
                .map(|amount| to_db_i64(amount, "burned amount"))
                .transpose()?,
        })
    }
}

/// The fields a transaction of each kind must and must not carry, checked in
/// the order of [`Malformation`]'s variants.
fn check_shape(tx: &NewTransaction) -> Result<(), Malformation> {
    if tx.kind == TxKind::Governance {
        let carries_money = !tx.inputs.is_empty()
            || !tx.outputs.is_empty()
            || tx.kernel_excess.is_some()
            || tx.issued.is_some()
            || tx.burned.is_some()
            || tx.executes_proposal.is_some();
        if carries_money {
            return Err(Malformation::GovernanceWithMoney);
        }
        return match tx.governance {
            Some(_) => Ok(()),
            None => Err(Malformation::GovernanceChange),
        };
    }
    if tx.governance.is_some() {
        return Err(Malformation::GovernanceChange);
    }
    let is_issue = tx.kind == TxKind::Issue;
    let is_redeem = tx.kind == TxKind::Redeem;
    if is_issue && !tx.inputs.is_empty() {
        return Err(Malformation::IssueWithInputs);
    }
    if is_issue && tx.issued.is_none() {
        return Err(Malformation::IssueWithoutAmount);
    }
    if !is_issue && tx.inputs.is_empty() {
        return Err(Malformation::NoInputs);
    }
    if !is_issue && tx.kernel_excess.is_none() {
        return Err(Malformation::NoKernel);
    }
    if is_issue && tx.kernel_excess.is_some() {
        return Err(Malformation::UnexpectedKernel);
    }
    if !is_issue && tx.issued.is_some() {
        return Err(Malformation::UnexpectedIssue);
    }
    if is_redeem && tx.burned.is_none() {
        return Err(Malformation::RedeemWithoutAmount);
    }
    if !is_redeem && tx.burned.is_some() {
        return Err(Malformation::UnexpectedBurn);
    }
    if !is_issue && tx.executes_proposal.is_some() {
        return Err(Malformation::UnexpectedProposal);
    }
    // A redeem may burn everything it spends and create no change.
    if !is_redeem && tx.outputs.is_empty() {
        return Err(Malformation::NoOutputs);
    }
    if tx.inputs.len() > NOTES_PER_TRANSACTION_MAX || tx.outputs.len() > NOTES_PER_TRANSACTION_MAX {
        return Err(Malformation::TooManyNotes);
    }
    let mut output_ids = HashSet::with_capacity(tx.outputs.len());
    if !tx.outputs.iter().all(|note| output_ids.insert(note.id)) {
        return Err(Malformation::DuplicateOutput);
    }
    Ok(())
}

/// Runs a multi-row insert in chunks that stay under the bound-parameter
/// limit. Diesel's `MultiConnection` cannot express multi-row inserts, so
/// they run on the concrete connection.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr, $columns:expr) => {{
        let rows = $rows;
        for chunk in rows.chunks(PARAMETERS_PER_STATEMENT_MAX / $columns) {
            let insert = diesel::insert_into($table).values(chunk);
            match &mut *$conn {
                AnyConnection::Postgresql(pg) => insert.execute(pg)?,
                AnyConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
            };
        }
    }};
}

/// Writes the plan's accepted transactions into the block at `height`. Every statement is checked
/// against the plan; a difference rolls the batch back.
fn write(
    conn: &mut AnyConnection,
    batch: &[NewTransaction],
    plan: &Plan,
    height: i64,
) -> Result<(), Failure> {
    let accepted = || {
        plan.accepted
            .iter()
            .zip(&plan.details)
            .map(|(&position, details)| (&batch[position], details))
    };

    let mut transaction_rows = Vec::with_capacity(plan.accepted.len());
    let mut note_rows = Vec::new();
    let mut spends: Vec<(&[u8], &[u8], i64)> = Vec::new();
    let mut event_rows = Vec::new();
    let mut kernel_rows = Vec::new();
    let mut issuance_rows = Vec::new();
    let mut redemption_rows = Vec::new();
    for (tx, details) in accepted() {
        let tx_id = &tx.id[..];
        transaction_rows.push((
            transactions::id.eq(tx_id),
            transactions::kind.eq(tx.kind.as_db()),
            transactions::encoded.eq(&tx.encoded),
            transactions::block_height.eq(height),
            transactions::block_index.eq(to_db_i32(details.index, "block index")?),
        ));
        let mut seq = details.first_seq;
        for (input, owner) in tx.inputs.iter().zip(&details.spent_owners) {
            spends.push((&input[..], tx_id, seq));
            event_rows.push((
                events::seq.eq(seq),
                events::kind.eq(EventKind::Spent.as_db()),
                events::note_id.eq(&input[..]),
                events::owner.eq(&owner[..]),
                events::tx_id.eq(tx_id),
            ));
            seq += 1;
        }
        for (output_index, note) in tx.outputs.iter().enumerate() {
            let output_index = i32::try_from(output_index).map_err(|_| StoreError::OutOfRange {
                field: "output index",
            })?;
            note_rows.push((
                notes::id.eq(&note.id[..]),
                notes::owner.eq(&note.owner[..]),
                notes::commitment.eq(&note.commitment[..]),
                notes::memo.eq(&note.memo),
                notes::created_by.eq(tx_id),
                notes::output_index.eq(output_index),
                notes::created_seq.eq(seq),
            ));
            event_rows.push((
                events::seq.eq(seq),
                events::kind.eq(EventKind::Created.as_db()),
                events::note_id.eq(&note.id[..]),
                events::owner.eq(&note.owner[..]),
                events::tx_id.eq(tx_id),
            ));
            seq += 1;
        }
        if let Some(excess) = &tx.kernel_excess {
            kernel_rows.push((kernels::tx_id.eq(tx_id), kernels::excess.eq(&excess[..])));
        }
        if let (Some((_, blinding)), Some(amount)) = (&tx.issued, details.amounts.issued) {
            issuance_rows.push((
                issuances::tx_id.eq(tx_id),
                issuances::amount.eq(amount),
                issuances::blinding.eq(&blinding[..]),
            ));
        }
        if let Some(amount) = details.amounts.burned {
            redemption_rows.push((redemptions::tx_id.eq(tx_id), redemptions::amount.eq(amount)));
        }
    }

    // Parents before children: the foreign keys of notes, events, kernels,
    // issuances and redemptions point at transactions; spends and events
    // may point at notes created in this batch.
    insert_rows!(conn, transactions::table, &transaction_rows, 5);
    insert_rows!(conn, notes::table, &note_rows, 7);
    spend_notes(conn, &spends)?;
    insert_rows!(conn, events::table, &event_rows, 5);
    insert_rows!(conn, kernels::table, &kernel_rows, 2);
    insert_rows!(conn, issuances::table, &issuance_rows, 3);
    insert_rows!(conn, redemptions::table, &redemption_rows, 2);

    for (tx, details) in accepted() {
        let (Some(proposal), Some(amount)) = (tx.executes_proposal, details.amounts.issued) else {
            continue;
        };
        let executed = diesel::update(issuance_proposals::table)
            .filter(issuance_proposals::id.eq(&proposal.0[..]))
            .filter(issuance_proposals::state.eq(ProposalState::Open.as_db()))
            .filter(issuance_proposals::amount.eq(amount))
            .set((
                issuance_proposals::state.eq(ProposalState::Executed.as_db()),
                issuance_proposals::executed_by.eq(&tx.id[..]),
            ))
            .execute(conn)?;
        if executed != 1 {
            // Cancelled since it was read: plan the batch again.
            return Err(Failure::Replan);
        }
    }
    Ok(())
}

/// Marks notes spent, each with one guarded update: only a note that is
/// unspent is changed, and every one must be, or the batch is rolled back.
fn spend_notes(conn: &mut AnyConnection, spends: &[(&[u8], &[u8], i64)]) -> Result<(), Failure> {
    match conn {
        AnyConnection::Postgresql(pg) => {
            use diesel::sql_types::{Array, BigInt, Binary};
            // One statement for the whole batch; each row is still guarded by
            // `spent_by IS NULL`.
            for chunk in spends.chunks(PARAMETERS_PER_STATEMENT_MAX) {
                let ids: Vec<&[u8]> = chunk.iter().map(|spend| spend.0).collect();
                let spenders: Vec<&[u8]> = chunk.iter().map(|spend| spend.1).collect();
                let seqs: Vec<i64> = chunk.iter().map(|spend| spend.2).collect();
                let updated = diesel::sql_query(
                    "UPDATE notes SET spent_by = spend.tx_id, spent_seq = spend.seq \
                     FROM unnest($1::bytea[], $2::bytea[], $3::int8[]) AS spend(id, tx_id, seq) \
                     WHERE notes.id = spend.id AND notes.spent_by IS NULL",
                )
                .bind::<Array<Binary>, _>(ids)
                .bind::<Array<Binary>, _>(spenders)
                .bind::<Array<BigInt>, _>(seqs)
                .execute(pg)?;
                if updated != chunk.len() {
                    return Err(StoreError::Corrupt("a planned spend found its note spent").into());
                }
            }
        }
        AnyConnection::Sqlite(sqlite) => {
            // In-process: a statement per spend costs no round trip.
            for &(id, tx_id, seq) in spends {
                let updated = diesel::update(notes::table)
                    .filter(notes::id.eq(id))
                    .filter(notes::spent_by.is_null())
                    .set((notes::spent_by.eq(tx_id), notes::spent_seq.eq(seq)))
                    .execute(sqlite)?;
                if updated != 1 {
                    return Err(StoreError::Corrupt("a planned spend found its note spent").into());
                }
            }
        }
    }
    Ok(())
}

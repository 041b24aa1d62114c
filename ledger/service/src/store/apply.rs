//! The write path: a batch of verified transactions applied in one database
//! transaction and sealed into one block.
//!
//! Order of work inside the database transaction:
//!
//! 1. Lock the single `chain_head` row (`UPDATE ... RETURNING`). Every batch
//!    does this first, so batches commit one after the other, block heights
//!    are consecutive, and the event sequence numbers they allocate (from the
//!    same row) are gap-free and in commit order: a follower that read up to
//!    `seq` never misses a later-committed smaller one. On SQLite the same
//!    statement takes the database's write lock up front (waiting on
//!    `busy_timeout`), which avoids the deadlock of upgrading a read lock.
//! 2. For each transaction: if its id is stored, report `Duplicate`; check its
//!    shape and amounts; then, inside a savepoint, insert it, spend every input
//!    with one guarded update (`... WHERE id = $input AND spent_by IS NULL`,
//!    exactly one row or the transaction is rejected), insert its outputs,
//!    kernel, issuance or redemption and events. A rejection rolls back to the
//!    savepoint only. The guarded update alone makes a double spend impossible,
//!    also between two transactions of one batch and independently of the lock.
//! 3. If anything was accepted, call the caller's sealer with the draft, insert
//!    the block (transactions reference it through a deferred foreign key) and
//!    advance `chain_head`.
//!
//! PostgreSQL runs at READ COMMITTED. Serialization failures and deadlocks
//! roll the whole database transaction back; it is retried, a bounded number
//! of times, as long as the sealer has not been called (it is `FnOnce`).

use std::collections::HashSet;

use diesel::prelude::*;

use super::error::{is_unique_violation, is_write_conflict, StoreError};
use super::governance::ProposalState;
use super::schema::{blocks, redemptions, transactions};
use super::schema::{chain_head, events, issuance_proposals, issuances, kernels, notes};
use super::types::*;
use super::{AnyConnection, Store};

/// Transactions in one batch, at most.
pub const BATCH_TRANSACTIONS_MAX: usize = 8_192;
/// Inputs, and separately outputs, of one transaction, at most.
pub const NOTES_PER_TRANSACTION_MAX: usize = 256;
/// Attempts of one batch when PostgreSQL reports a serialization failure or
/// deadlock.
const ATTEMPTS_MAX: u32 = 5;

impl Store {
    /// Applies a batch of verified transactions atomically and seals the
    /// accepted ones into one block with `seal`, which is called at most once
    /// and only if at least one transaction was accepted.
    ///
    /// Returns one outcome per transaction, in batch order. A rejected
    /// transaction leaves no trace; the others commit. An `Err` means nothing
    /// of the batch was committed.
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
            let result = conn.transaction(|conn| apply_in_transaction(conn, &batch, &mut seal));
            match result {
                Err(StoreError::Database(error)) if is_write_conflict(&error) && seal.is_some() => {
                    if attempt == ATTEMPTS_MAX {
                        return Err(StoreError::Contention { attempts: attempt });
                    }
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

/// The chain's tip as locked at the start of a batch.
struct Head {
    next_height: i64,
    tip_hash: Vec<u8>,
    next_event_seq: i64,
}

fn apply_in_transaction<F>(
    conn: &mut AnyConnection,
    batch: &[NewTransaction],
    seal: &mut Option<F>,
) -> Result<Vec<ApplyOutcome>, StoreError>
where
    F: FnOnce(BlockDraft) -> SealedBlock,
{
    let (next_height, tip_hash, next_event_seq) = diesel::update(chain_head::table)
        .set(chain_head::next_height.eq(chain_head::next_height))
        .returning((
            chain_head::next_height,
            chain_head::tip_hash,
            chain_head::next_event_seq,
        ))
        .get_result::<(i64, Vec<u8>, i64)>(conn)?;
    let mut head = Head {
        next_height,
        tip_hash,
        next_event_seq,
    };

    let mut outcomes = Vec::with_capacity(batch.len());
    let mut accepted: Vec<Bytes32> = Vec::new();
    for tx in batch {
        let index = u32::try_from(accepted.len()).map_err(|_| StoreError::OutOfRange {
            field: "block index",
        })?;
        let location = TxLocation {
            height: from_db_i64(head.next_height, "chain height")?,
            index,
        };
        let outcome = apply_one(conn, tx, location, &mut head.next_event_seq)?;
        if matches!(outcome, ApplyOutcome::Accepted(_)) {
            accepted.push(tx.id);
        }
        outcomes.push(outcome);
    }
    if accepted.is_empty() {
        return Ok(outcomes);
    }

    let Some(seal) = seal.take() else {
        // Only reachable if a previous attempt sealed and then failed; such an
        // attempt is not retried (see `Store::apply_batch`).
        return Err(StoreError::Corrupt("block sealer called twice"));
    };
    let prev_hash = to_bytes32(&head.tip_hash, "chain tip hash")?;
    let tx_count = to_db_i32(
        u32::try_from(accepted.len()).map_err(|_| StoreError::OutOfRange { field: "tx count" })?,
        "tx count",
    )?;
    let sealed = seal(BlockDraft {
        height: from_db_i64(head.next_height, "chain height")?,
        prev_hash,
        transaction_ids: accepted,
    });
    diesel::insert_into(blocks::table)
        .values((
            blocks::height.eq(head.next_height),
            blocks::hash.eq(&sealed.hash[..]),
            blocks::prev_hash.eq(&prev_hash[..]),
            blocks::merkle_root.eq(&sealed.merkle_root[..]),
            blocks::time_unix_ms.eq(to_db_i64(sealed.time_unix_ms, "block time")?),
            blocks::tx_count.eq(tx_count),
            blocks::header.eq(&sealed.header),
            blocks::signature.eq(&sealed.signature),
        ))
        .execute(conn)?;
    let next_height = head
        .next_height
        .checked_add(1)
        .ok_or(StoreError::OutOfRange {
            field: "chain height",
        })?;
    diesel::update(chain_head::table)
        .set((
            chain_head::next_height.eq(next_height),
            chain_head::tip_hash.eq(&sealed.hash[..]),
            chain_head::next_event_seq.eq(head.next_event_seq),
        ))
        .execute(conn)?;
    Ok(outcomes)
}

/// Why a transaction's savepoint was rolled back.
enum Abort {
    Rejected(Rejection),
    Store(StoreError),
}

impl From<diesel::result::Error> for Abort {
    fn from(error: diesel::result::Error) -> Self {
        Abort::Store(StoreError::Database(error))
    }
}

impl From<StoreError> for Abort {
    fn from(error: StoreError) -> Self {
        Abort::Store(error)
    }
}

/// Applies one transaction at `location`, advancing `next_event_seq` only if
/// it is accepted.
fn apply_one(
    conn: &mut AnyConnection,
    tx: &NewTransaction,
    location: TxLocation,
    next_event_seq: &mut i64,
) -> Result<ApplyOutcome, StoreError> {
    if let Some(existing) = stored_location(conn, &tx.id)? {
        return Ok(ApplyOutcome::Duplicate(existing));
    }
    if let Err(malformation) = check_shape(tx) {
        return Ok(ApplyOutcome::Rejected(Rejection::Malformed(malformation)));
    }
    let Ok(amounts) = DbAmounts::of(tx) else {
        return Ok(ApplyOutcome::Rejected(Rejection::AmountOutOfRange));
    };

    let mut seq = *next_event_seq;
    let result = conn.transaction(|conn| write_transaction(conn, tx, location, amounts, &mut seq));
    match result {
        Ok(()) => {
            *next_event_seq = seq;
            Ok(ApplyOutcome::Accepted(location))
        }
        Err(Abort::Rejected(rejection)) => Ok(ApplyOutcome::Rejected(rejection)),
        Err(Abort::Store(StoreError::Database(error))) if is_unique_violation(&error) => {
            // The transaction row is new (checked above, under the chain lock)
            // and output ids are distinct (checked by shape), so the clash is
            // with an existing note.
            let taken = notes::table
                .select(notes::id)
                .filter(notes::id.eq_any(tx.outputs.iter().map(|note| &note.id[..])))
                .first::<Vec<u8>>(conn)
                .optional()?;
            match taken {
                Some(id) => Ok(ApplyOutcome::Rejected(Rejection::OutputExists(to_bytes32(
                    &id, "note id",
                )?))),
                None => Err(StoreError::Database(error)),
            }
        }
        Err(Abort::Store(error)) => Err(error),
    }
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

fn stored_location(
    conn: &mut AnyConnection,
    id: &Bytes32,
) -> Result<Option<TxLocation>, StoreError> {
    let row = transactions::table
        .find(&id[..])
        .select((transactions::block_height, transactions::block_index))
        .first::<(i64, i32)>(conn)
        .optional()?;
    row.map(|(height, index)| {
        Ok(TxLocation {
            height: from_db_i64(height, "block height")?,
            index: from_db_i32(index, "block index")?,
        })
    })
    .transpose()
}

/// The fields a transaction of each kind must and must not carry, checked in
/// the order of [`Malformation`]'s variants.
fn check_shape(tx: &NewTransaction) -> Result<(), Malformation> {
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

/// Writes one transaction inside its savepoint. `seq` is the next event
/// sequence number, advanced per event written.
fn write_transaction(
    conn: &mut AnyConnection,
    tx: &NewTransaction,
    location: TxLocation,
    amounts: DbAmounts,
    seq: &mut i64,
) -> Result<(), Abort> {
    let tx_id = &tx.id[..];
    diesel::insert_into(transactions::table)
        .values((
            transactions::id.eq(tx_id),
            transactions::kind.eq(tx.kind.as_db()),
            transactions::encoded.eq(&tx.encoded),
            transactions::block_height.eq(to_db_i64(location.height, "block height")?),
            transactions::block_index.eq(to_db_i32(location.index, "block index")?),
        ))
        .execute(conn)?;

    let mut new_events = Vec::with_capacity(tx.inputs.len() + tx.outputs.len());
    for input in &tx.inputs {
        let spent_seq = take_seq(seq)?;
        let owner = diesel::update(notes::table)
            .filter(notes::id.eq(&input[..]))
            .filter(notes::spent_by.is_null())
            .set((notes::spent_by.eq(tx_id), notes::spent_seq.eq(spent_seq)))
            .returning(notes::owner)
            .get_result::<Vec<u8>>(conn)
            .optional()?;
        let Some(owner) = owner else {
            let exists = notes::table
                .find(&input[..])
                .select(notes::id)
                .first::<Vec<u8>>(conn)
                .optional()?
                .is_some();
            return Err(Abort::Rejected(if exists {
                Rejection::DoubleSpend(*input)
            } else {
                Rejection::UnknownInput(*input)
            }));
        };
        new_events.push((
            events::seq.eq(spent_seq),
            events::kind.eq(EventKind::Spent.as_db()),
            events::note_id.eq(&input[..]),
            events::owner.eq(owner),
            events::tx_id.eq(tx_id),
        ));
    }

    let mut new_notes = Vec::with_capacity(tx.outputs.len());
    for (output_index, note) in tx.outputs.iter().enumerate() {
        let created_seq = take_seq(seq)?;
        let output_index = i32::try_from(output_index).map_err(|_| StoreError::OutOfRange {
            field: "output index",
        })?;
        new_notes.push((
            notes::id.eq(&note.id[..]),
            notes::owner.eq(&note.owner[..]),
            notes::commitment.eq(&note.commitment[..]),
            notes::memo.eq(&note.memo),
            notes::created_by.eq(tx_id),
            notes::output_index.eq(output_index),
            notes::created_seq.eq(created_seq),
        ));
        new_events.push((
            events::seq.eq(created_seq),
            events::kind.eq(EventKind::Created.as_db()),
            events::note_id.eq(&note.id[..]),
            events::owner.eq(note.owner.to_vec()),
            events::tx_id.eq(tx_id),
        ));
    }
    // Multi-row inserts: diesel's `MultiConnection` cannot express them, so
    // they run on the concrete connection.
    if !new_notes.is_empty() {
        let insert = diesel::insert_into(notes::table).values(&new_notes);
        match conn {
            AnyConnection::Postgresql(pg) => insert.execute(pg)?,
            AnyConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
        };
    }
    // Never empty: every transaction spends or creates at least one note.
    let insert = diesel::insert_into(events::table).values(&new_events);
    match conn {
        AnyConnection::Postgresql(pg) => insert.execute(pg)?,
        AnyConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
    };

    if let Some(excess) = &tx.kernel_excess {
        diesel::insert_into(kernels::table)
            .values((kernels::tx_id.eq(tx_id), kernels::excess.eq(&excess[..])))
            .execute(conn)?;
    }
    if let (Some((_, blinding)), Some(amount)) = (&tx.issued, amounts.issued) {
        diesel::insert_into(issuances::table)
            .values((
                issuances::tx_id.eq(tx_id),
                issuances::amount.eq(amount),
                issuances::blinding.eq(&blinding[..]),
            ))
            .execute(conn)?;
    }
    if let Some(amount) = amounts.burned {
        diesel::insert_into(redemptions::table)
            .values((redemptions::tx_id.eq(tx_id), redemptions::amount.eq(amount)))
            .execute(conn)?;
    }
    if let (Some(proposal), Some(amount)) = (tx.executes_proposal, amounts.issued) {
        // Guarded like a spend: only an open proposal for exactly this amount
        // is executed, and only once.
        let executed = diesel::update(issuance_proposals::table)
            .filter(issuance_proposals::id.eq(&proposal.0[..]))
            .filter(issuance_proposals::state.eq(ProposalState::Open.as_db()))
            .filter(issuance_proposals::amount.eq(amount))
            .set((
                issuance_proposals::state.eq(ProposalState::Executed.as_db()),
                issuance_proposals::executed_by.eq(tx_id),
            ))
            .execute(conn)?;
        if executed != 1 {
            return Err(Abort::Rejected(Rejection::ProposalNotExecutable(proposal)));
        }
    }
    Ok(())
}

/// Returns the next event sequence number and advances the counter.
fn take_seq(seq: &mut i64) -> Result<i64, StoreError> {
    let this = *seq;
    *seq = this.checked_add(1).ok_or(StoreError::OutOfRange {
        field: "event sequence",
    })?;
    Ok(this)
}

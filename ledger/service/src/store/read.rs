//! Read paths: notes, transactions, blocks, the event feed, and a consistent
//! snapshot of everything the supply audit sums.
//!
//! Single reads see the latest committed state. The audit's reads must all see
//! the same state (a note spent between two pages would otherwise be counted
//! in neither the notes nor, yet, the kernels), so they run inside one
//! read-only transaction: REPEATABLE READ on PostgreSQL, a read transaction on
//! SQLite (WAL keeps its snapshot while writers commit).

use std::collections::HashMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::error::StoreError;
use super::schema::transactions;
use super::schema::{blocks, chain_head, events, issuances, notes, redemptions};
use super::types::*;
use super::{AnyConnection, Store};

/// Ids looked up per query, to stay under SQLite's bound-parameter limit.
const IDS_PER_QUERY_MAX: usize = 512;

/// Where the transactions with these ids were committed, for those that were:
/// what resubmission checks need, on the reader's or the writer's connection.
pub(super) fn locate_transactions(
    conn: &mut AnyConnection,
    ids: &[Bytes32],
) -> Result<HashMap<Bytes32, TxLocation>, StoreError> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY_MAX) {
        let rows = transactions::table
            .filter(transactions::id.eq_any(chunk.iter().map(|id| &id[..])))
            .select((
                transactions::id,
                transactions::block_height,
                transactions::block_index,
            ))
            .load::<(Vec<u8>, i64, i32)>(conn)?;
        for (id, height, index) in rows {
            let location = TxLocation {
                height: from_db_i64(height, "block height")?,
                index: from_db_i32(index, "block index")?,
            };
            found.insert(to_bytes32(&id, "transaction id")?, location);
        }
    }
    Ok(found)
}

pub(super) type NoteRow = (
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    i32,
    i64,
    Option<Vec<u8>>,
    Option<i64>,
);

pub(super) const NOTE_COLUMNS: (
    notes::id,
    notes::owner,
    notes::commitment,
    notes::memo,
    notes::created_by,
    notes::output_index,
    notes::created_seq,
    notes::spent_by,
    notes::spent_seq,
) = (
    notes::id,
    notes::owner,
    notes::commitment,
    notes::memo,
    notes::created_by,
    notes::output_index,
    notes::created_seq,
    notes::spent_by,
    notes::spent_seq,
);

pub(super) fn note_from_row(row: NoteRow) -> Result<StoredNote, StoreError> {
    let (id, owner, commitment, memo, created_by, output_index, created_seq, spent_by, spent_seq) =
        row;
    let spent = match (spent_by, spent_seq) {
        (Some(tx_id), Some(seq)) => Some(Spend {
            tx_id: to_bytes32(&tx_id, "note spent_by")?,
            seq: from_db_i64(seq, "note spent_seq")?,
        }),
        (None, None) => None,
        _ => return Err(StoreError::Corrupt("note spend half recorded")),
    };
    Ok(StoredNote {
        id: to_bytes32(&id, "note id")?,
        owner: to_bytes32(&owner, "note owner")?,
        commitment: to_bytes32(&commitment, "note commitment")?,
        memo,
        created_by: to_bytes32(&created_by, "note created_by")?,
        output_index: from_db_i32(output_index, "note output index")?,
        created_seq: from_db_i64(created_seq, "note created_seq")?,
        spent,
    })
}

pub(super) type EventRow = (i64, String, Vec<u8>, Vec<u8>, Vec<u8>);

pub(super) const EVENT_COLUMNS: (
    events::seq,
    events::kind,
    events::note_id,
    events::owner,
    events::tx_id,
) = (
    events::seq,
    events::kind,
    events::note_id,
    events::owner,
    events::tx_id,
);

pub(super) fn event_from_row(row: EventRow) -> Result<Event, StoreError> {
    let (seq, kind, note_id, owner, tx_id) = row;
    Ok(Event {
        seq: from_db_i64(seq, "event seq")?,
        kind: EventKind::from_db(&kind)?,
        note_id: to_bytes32(&note_id, "event note id")?,
        owner: to_bytes32(&owner, "event owner")?,
        tx_id: to_bytes32(&tx_id, "event tx id")?,
    })
}

pub(super) type BlockRow = (i64, Vec<u8>, Vec<u8>, Vec<u8>, i64, i32, Vec<u8>, Vec<u8>);

pub(super) const BLOCK_COLUMNS: (
    blocks::height,
    blocks::hash,
    blocks::prev_hash,
    blocks::merkle_root,
    blocks::time_unix_ms,
    blocks::tx_count,
    blocks::header,
    blocks::signature,
) = (
    blocks::height,
    blocks::hash,
    blocks::prev_hash,
    blocks::merkle_root,
    blocks::time_unix_ms,
    blocks::tx_count,
    blocks::header,
    blocks::signature,
);

pub(super) fn block_from_row(row: BlockRow) -> Result<StoredBlock, StoreError> {
    let (height, hash, prev_hash, merkle_root, time, tx_count, header, signature) = row;
    Ok(StoredBlock {
        height: from_db_i64(height, "block height")?,
        prev_hash: to_bytes32(&prev_hash, "block prev_hash")?,
        sealed: SealedBlock {
            header,
            hash: to_bytes32(&hash, "block hash")?,
            merkle_root: to_bytes32(&merkle_root, "block merkle root")?,
            time_unix_ms: from_db_i64(time, "block time")?,
            signature,
        },
        tx_count: from_db_i32(tx_count, "block tx count")?,
    })
}

impl Store {
    /// The note with this id, spent or not.
    pub fn note(&self, id: &Bytes32) -> Result<Option<StoredNote>, StoreError> {
        let mut conn = self.connection()?;
        notes::table
            .find(&id[..])
            .select(NOTE_COLUMNS)
            .first::<NoteRow>(&mut *conn)
            .optional()?
            .map(note_from_row)
            .transpose()
    }

    /// The notes with these ids, aligned with `ids` (`None` where unknown),
    /// in one query per 512 ids: what a verifier needs about a transaction's
    /// inputs before applying it.
    pub fn notes(&self, ids: &[Bytes32]) -> Result<Vec<Option<StoredNote>>, StoreError> {
        let mut conn = self.connection()?;
        let mut found: HashMap<Bytes32, StoredNote> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_QUERY_MAX) {
            let rows = notes::table
                .filter(notes::id.eq_any(chunk.iter().map(|id| &id[..])))
                .select(NOTE_COLUMNS)
                .load::<NoteRow>(&mut *conn)?;
            for row in rows {
                let note = note_from_row(row)?;
                found.insert(note.id, note);
            }
        }
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    /// The committed transaction with this id, and where it sits.
    pub fn transaction(&self, id: &Bytes32) -> Result<Option<StoredTransaction>, StoreError> {
        let mut conn = self.connection()?;
        let row = transactions::table
            .find(&id[..])
            .select((
                transactions::kind,
                transactions::encoded,
                transactions::block_height,
                transactions::block_index,
            ))
            .first::<(String, Vec<u8>, i64, i32)>(&mut *conn)
            .optional()?;
        row.map(|(kind, encoded, height, index)| {
            Ok(StoredTransaction {
                id: *id,
                kind: TxKind::from_db(&kind)?,
                encoded,
                location: TxLocation {
                    height: from_db_i64(height, "block height")?,
                    index: from_db_i32(index, "block index")?,
                },
            })
        })
        .transpose()
    }

    /// Where the transactions with these ids were committed, for those that
    /// were; one query per 512 ids.
    pub fn transaction_locations(
        &self,
        ids: &[Bytes32],
    ) -> Result<HashMap<Bytes32, TxLocation>, StoreError> {
        let mut conn = self.connection()?;
        locate_transactions(&mut conn, ids)
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, StoreError> {
        let Ok(height) = i64::try_from(height) else {
            return Ok(None);
        };
        let mut conn = self.connection()?;
        blocks::table
            .find(height)
            .select(BLOCK_COLUMNS)
            .first::<BlockRow>(&mut *conn)
            .optional()?
            .map(block_from_row)
            .transpose()
    }

    /// The highest block, `None` before the first.
    pub fn latest_block(&self) -> Result<Option<StoredBlock>, StoreError> {
        let mut conn = self.connection()?;
        blocks::table
            .select(BLOCK_COLUMNS)
            .order(blocks::height.desc())
            .first::<BlockRow>(&mut *conn)
            .optional()?
            .map(block_from_row)
            .transpose()
    }

    /// The ids of a block's transactions in block order (the Merkle leaves a
    /// receipt's inclusion proof is built from).
    pub fn block_transaction_ids(&self, height: u64) -> Result<Vec<Bytes32>, StoreError> {
        let Ok(height) = i64::try_from(height) else {
            return Ok(Vec::new());
        };
        let mut conn = self.connection()?;
        transactions::table
            .filter(transactions::block_height.eq(height))
            .select(transactions::id)
            .order(transactions::block_index)
            .load::<Vec<u8>>(&mut *conn)?
            .iter()
            .map(|id| to_bytes32(id, "transaction id"))
            .collect()
    }

    /// Events with sequence number greater than `after_seq`, oldest first, at
    /// most `limit`, only those of `owner` if given. Start with `after_seq = 0`.
    pub fn events_since(
        &self,
        after_seq: u64,
        owner: Option<&Bytes32>,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        let Ok(after_seq) = i64::try_from(after_seq) else {
            return Ok(Vec::new());
        };
        let mut conn = self.connection()?;
        let mut query = events::table
            .filter(events::seq.gt(after_seq))
            .select(EVENT_COLUMNS)
            .order(events::seq)
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(owner) = owner {
            query = query.filter(events::owner.eq(owner.to_vec()));
        }
        query
            .load::<EventRow>(&mut *conn)?
            .into_iter()
            .map(event_from_row)
            .collect()
    }

    /// Runs `read` against one consistent, read-only view of the ledger.
    pub fn supply_snapshot<T>(
        &self,
        read: impl FnOnce(&mut SupplySnapshot<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection()?;
        conn.transaction(|conn| {
            if let AnyConnection::Postgresql(pg) = &mut **conn {
                pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
            }
            read(&mut SupplySnapshot { conn })
        })
    }
}

/// One consistent view of the ledger, for the supply audit
/// (`Σ unspent C + Σ kernel E = S·B + (Σ issue r)·B̃`). Obtained from
/// [`Store::supply_snapshot`].
pub struct SupplySnapshot<'a> {
    pub(super) conn: &'a mut AnyConnection,
}

impl SupplySnapshot<'_> {
    /// Height of the last block in this view, `None` before the first.
    pub fn height(&mut self) -> Result<Option<u64>, StoreError> {
        let next_height = chain_head::table
            .select(chain_head::next_height)
            .first::<i64>(self.conn)?;
        match next_height.checked_sub(1) {
            Some(height) if height >= 0 => Ok(Some(from_db_i64(height, "chain height")?)),
            _ => Ok(None),
        }
    }

    /// Up to `limit` unspent commitments with note id greater than `after`
    /// (from the start if `None`), ordered by note id.
    pub fn unspent_commitments(
        &mut self,
        after: Option<&Bytes32>,
        limit: u32,
    ) -> Result<Vec<UnspentCommitment>, StoreError> {
        let mut query = notes::table
            .filter(notes::spent_by.is_null())
            .select((notes::id, notes::owner, notes::commitment))
            .order(notes::id)
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(notes::id.gt(after.to_vec()));
        }
        query
            .load::<(Vec<u8>, Vec<u8>, Vec<u8>)>(self.conn)?
            .into_iter()
            .map(|(id, owner, commitment)| {
                Ok(UnspentCommitment {
                    note_id: to_bytes32(&id, "note id")?,
                    owner: to_bytes32(&owner, "note owner")?,
                    commitment: to_bytes32(&commitment, "note commitment")?,
                })
            })
            .collect()
    }

    /// Calls `visit` with every unspent commitment, reading `page_size` at a
    /// time, so memory stays bounded over millions of notes.
    pub fn for_each_unspent_commitment(
        &mut self,
        page_size: u32,
        mut visit: impl FnMut(UnspentCommitment),
    ) -> Result<(), StoreError> {
        let page_size = page_size.max(1);
        let mut after: Option<Bytes32> = None;
        loop {
            let page = self.unspent_commitments(after.as_ref(), page_size)?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.note_id);
            let full = page.len() == usize::try_from(page_size).unwrap_or(usize::MAX);
            page.into_iter().for_each(&mut visit);
            if !full {
                return Ok(());
            }
        }
    }

    /// Calls `visit` with every kernel, `page_size` at a time, by transaction id.
    pub fn for_each_kernel(
        &mut self,
        page_size: u32,
        mut visit: impl FnMut(Kernel),
    ) -> Result<(), StoreError> {
        let page_size = page_size.max(1);
        let mut after: Option<Bytes32> = None;
        loop {
            let page = self.kernels_after(after.as_ref(), page_size)?;
            let full = page.len() == usize::try_from(page_size).unwrap_or(usize::MAX);
            after = page.last().map(|kernel| kernel.tx_id);
            page.into_iter().for_each(&mut visit);
            if !full {
                return Ok(());
            }
        }
    }

    /// Every issuance (public amount and blinding).
    pub fn issuances(&mut self) -> Result<Vec<Issuance>, StoreError> {
        issuances::table
            .select((issuances::tx_id, issuances::amount, issuances::blinding))
            .order(issuances::tx_id)
            .load::<(Vec<u8>, i64, Vec<u8>)>(self.conn)?
            .into_iter()
            .map(|(tx_id, amount, blinding)| {
                Ok(Issuance {
                    tx_id: to_bytes32(&tx_id, "issuance tx id")?,
                    amount: from_db_i64(amount, "issued amount")?,
                    blinding: to_bytes32(&blinding, "issuance blinding")?,
                })
            })
            .collect()
    }

    /// The sum of all burned amounts. Summed here, with overflow checked,
    /// rather than by `SUM()`, whose result type differs between backends.
    pub fn total_redeemed(&mut self) -> Result<u64, StoreError> {
        let amounts = redemptions::table
            .select(redemptions::amount)
            .load::<i64>(self.conn)?;
        amounts.into_iter().try_fold(0u64, |total, amount| {
            total
                .checked_add(from_db_i64(amount, "redeemed amount")?)
                .ok_or(StoreError::OutOfRange {
                    field: "total redeemed",
                })
        })
    }
}

//! What the full journal audit reads, all inside one consistent snapshot
//! ([`Store::supply_snapshot`]): the journal (blocks and their transactions in
//! order) and every derived row the API can serve, each table paged in key
//! order so memory stays bounded, for comparison with what the replay derives.

use diesel::prelude::*;

use super::error::StoreError;
use super::governance::{
    participant_from_row, proposal_from_row, Participant, ParticipantRow, Proposal, ProposalRow,
    PARTICIPANT_COLUMNS, PROPOSAL_COLUMNS,
};
use super::read::{
    block_from_row, event_from_row, note_from_row, BlockRow, EventRow, NoteRow, SupplySnapshot,
    BLOCK_COLUMNS, EVENT_COLUMNS, NOTE_COLUMNS,
};
use super::schema::{
    blocks, chain_head, events, issuance_proposals, issuances, participants, redemptions,
    transactions,
};
use super::schema::{kernels, notes};
use super::types::*;
use super::Store;

type ChainHeadRow = (i64, Vec<u8>, i64, i32, i64, i64);

fn chain_head_from_row(row: ChainHeadRow) -> Result<ChainHead, StoreError> {
    let (next_height, tip_hash, next_event_seq, threshold, supply_ceiling, outstanding) = row;
    Ok(ChainHead {
        next_height: from_db_i64(next_height, "chain height")?,
        tip_hash: to_bytes32(&tip_hash, "chain tip hash")?,
        next_event_seq: from_db_i64(next_event_seq, "event sequence")?,
        threshold: from_db_i32(threshold, "threshold")?,
        supply_ceiling: from_db_i64(supply_ceiling, "supply ceiling")?,
        outstanding: from_db_i64(outstanding, "outstanding amount")?,
    })
}

const CHAIN_HEAD_COLUMNS: (
    chain_head::next_height,
    chain_head::tip_hash,
    chain_head::next_event_seq,
    chain_head::threshold,
    chain_head::supply_ceiling,
    chain_head::outstanding,
) = (
    chain_head::next_height,
    chain_head::tip_hash,
    chain_head::next_event_seq,
    chain_head::threshold,
    chain_head::supply_ceiling,
    chain_head::outstanding,
);

impl Store {
    /// The chain head row as committed now.
    pub fn chain_head(&self) -> Result<ChainHead, StoreError> {
        let mut conn = self.connection()?;
        chain_head_from_row(
            chain_head::table
                .select(CHAIN_HEAD_COLUMNS)
                .first::<ChainHeadRow>(&mut *conn)?,
        )
    }

    /// The encodings of every governance entry, in journal order: what the
    /// ledger replays at start to know the governance in force.
    pub fn governance_encodings(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut conn = self.connection()?;
        Ok(transactions::table
            .filter(transactions::kind.eq(TxKind::Governance.as_db()))
            .order((transactions::block_height, transactions::block_index))
            .select(transactions::encoded)
            .load::<Vec<u8>>(&mut *conn)?)
    }
}

impl SupplySnapshot<'_> {
    /// The chain head row in this view.
    pub fn chain_head(&mut self) -> Result<ChainHead, StoreError> {
        chain_head_from_row(
            chain_head::table
                .select(CHAIN_HEAD_COLUMNS)
                .first::<ChainHeadRow>(self.conn)?,
        )
    }

    /// Up to `limit` blocks from height `from`, in order.
    pub fn blocks_from(&mut self, from: u64, limit: u32) -> Result<Vec<StoredBlock>, StoreError> {
        let from = to_db_i64(from, "block height")?;
        blocks::table
            .filter(blocks::height.ge(from))
            .order(blocks::height)
            .limit(i64::from(limit))
            .select(BLOCK_COLUMNS)
            .load::<BlockRow>(self.conn)?
            .into_iter()
            .map(block_from_row)
            .collect()
    }

    /// Every transaction of the blocks `from..=to`, by height then index.
    pub fn transactions_of_blocks(
        &mut self,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredTransaction>, StoreError> {
        let (from, to) = (
            to_db_i64(from, "block height")?,
            to_db_i64(to, "block height")?,
        );
        transactions::table
            .filter(transactions::block_height.between(from, to))
            .order((transactions::block_height, transactions::block_index))
            .select((
                transactions::id,
                transactions::kind,
                transactions::encoded,
                transactions::block_height,
                transactions::block_index,
            ))
            .load::<(Vec<u8>, String, Vec<u8>, i64, i32)>(self.conn)?
            .into_iter()
            .map(|(id, kind, encoded, height, index)| {
                Ok(StoredTransaction {
                    id: to_bytes32(&id, "transaction id")?,
                    kind: TxKind::from_db(&kind)?,
                    encoded,
                    location: TxLocation {
                        height: from_db_i64(height, "block height")?,
                        index: from_db_i32(index, "block index")?,
                    },
                })
            })
            .collect()
    }

    /// How many rows `transactions` holds.
    pub fn transaction_count(&mut self) -> Result<u64, StoreError> {
        let count = transactions::table.count().get_result::<i64>(self.conn)?;
        from_db_i64(count, "transaction count")
    }

    /// How many rows `blocks` holds.
    pub fn block_count(&mut self) -> Result<u64, StoreError> {
        let count = blocks::table.count().get_result::<i64>(self.conn)?;
        from_db_i64(count, "block count")
    }

    /// Up to `limit` notes, spent or not, with id greater than `after`, by id.
    pub fn notes_after(
        &mut self,
        after: Option<&Bytes32>,
        limit: u32,
    ) -> Result<Vec<StoredNote>, StoreError> {
        let mut query = notes::table
            .select(NOTE_COLUMNS)
            .order(notes::id)
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(notes::id.gt(after.to_vec()));
        }
        query
            .load::<NoteRow>(self.conn)?
            .into_iter()
            .map(note_from_row)
            .collect()
    }

    /// Up to `limit` events with sequence number greater than `after`, in order.
    pub fn events_after(&mut self, after: u64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let after = to_db_i64(after, "event seq")?;
        events::table
            .filter(events::seq.gt(after))
            .order(events::seq)
            .limit(i64::from(limit))
            .select(EVENT_COLUMNS)
            .load::<EventRow>(self.conn)?
            .into_iter()
            .map(event_from_row)
            .collect()
    }

    /// Up to `limit` kernels with transaction id greater than `after`, by id.
    pub fn kernels_after(
        &mut self,
        after: Option<&Bytes32>,
        limit: u32,
    ) -> Result<Vec<Kernel>, StoreError> {
        let mut query = kernels::table
            .select((kernels::tx_id, kernels::excess))
            .order(kernels::tx_id)
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(kernels::tx_id.gt(after.to_vec()));
        }
        query
            .load::<(Vec<u8>, Vec<u8>)>(self.conn)?
            .into_iter()
            .map(|(tx_id, excess)| {
                Ok(Kernel {
                    tx_id: to_bytes32(&tx_id, "kernel tx id")?,
                    excess: to_bytes32(&excess, "kernel excess")?,
                })
            })
            .collect()
    }

    /// Every redemption: (transaction id, burned amount), by id.
    pub fn redemptions(&mut self) -> Result<Vec<(Bytes32, u64)>, StoreError> {
        redemptions::table
            .select((redemptions::tx_id, redemptions::amount))
            .order(redemptions::tx_id)
            .load::<(Vec<u8>, i64)>(self.conn)?
            .into_iter()
            .map(|(tx_id, amount)| {
                Ok((
                    to_bytes32(&tx_id, "redemption tx id")?,
                    from_db_i64(amount, "redeemed amount")?,
                ))
            })
            .collect()
    }

    /// How many rows `issuances` holds (the rows are read by [`Self::issuances`]).
    pub fn issuance_count(&mut self) -> Result<u64, StoreError> {
        let count = issuances::table.count().get_result::<i64>(self.conn)?;
        from_db_i64(count, "issuance count")
    }

    /// Every participant, by id.
    pub fn participants(&mut self) -> Result<Vec<Participant>, StoreError> {
        participants::table
            .select(PARTICIPANT_COLUMNS)
            .order(participants::id)
            .load::<ParticipantRow>(self.conn)?
            .into_iter()
            .map(participant_from_row)
            .collect()
    }

    /// Every issuance proposal, in any state.
    pub fn all_proposals(&mut self) -> Result<Vec<Proposal>, StoreError> {
        issuance_proposals::table
            .select(PROPOSAL_COLUMNS)
            .load::<ProposalRow>(self.conn)?
            .into_iter()
            .map(proposal_from_row)
            .collect()
    }
}

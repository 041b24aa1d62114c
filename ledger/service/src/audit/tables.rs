//! Every derived row the API can serve, compared with what the replay derived.
//!
//! The rows are read from the same snapshot the journal was read from, each
//! table in key order and page by page. Any difference is named by table,
//! key and column, so an operator can see exactly what was edited:
//! `notes`, `events`, `kernels`, `issuances`, `redemptions`, `participants`,
//! `chain_head` and the executed `issuance_proposals` (the block columns and
//! `transactions.kind` are checked during the replay itself).

use super::replay::{memo_digest, Replayed};
use super::AuditFailure;
use crate::store::{EventKind, ParticipantStatus, ProposalState, Role, SupplySnapshot};
use ledger_core::governance::{self, Status};
use ledger_core::{NoteId, TxId};

const PAGE_ROWS: u32 = 16_384;

fn differs(table: &str, key: impl std::fmt::Display, column: &str) -> AuditFailure {
    AuditFailure::Tables(format!(
        "{table} {key}: column {column} differs from what the journal derives"
    ))
}

fn page_len(page_rows: u32) -> usize {
    usize::try_from(page_rows).unwrap_or(usize::MAX)
}

/// Compares every table with the replay; the first difference fails.
pub(super) fn compare(
    snapshot: &mut SupplySnapshot<'_>,
    replayed: &Replayed,
) -> Result<(), AuditFailure> {
    compare_chain_head(snapshot, replayed)?;
    let stored_txs = snapshot.transaction_count()?;
    if stored_txs != replayed.transactions {
        return Err(AuditFailure::Tables(format!(
            "transactions: {stored_txs} rows, the journal's blocks list {}",
            replayed.transactions
        )));
    }
    compare_notes(snapshot, replayed)?;
    compare_events(snapshot, replayed)?;
    compare_kernels(snapshot, replayed)?;
    compare_issuances(snapshot, replayed)?;
    compare_redemptions(snapshot, replayed)?;
    compare_participants(snapshot, replayed)?;
    compare_proposals(snapshot, replayed)?;
    Ok(())
}

fn compare_chain_head(
    snapshot: &mut SupplySnapshot<'_>,
    replayed: &Replayed,
) -> Result<(), AuditFailure> {
    let head = snapshot.chain_head()?;
    let tip = replayed.last.map_or([0u8; 32], |h| h.hash());
    let (threshold, ceiling) = replayed.governance.as_ref().map_or((0, 0), |g| {
        (
            u32::try_from(g.threshold).unwrap_or(u32::MAX),
            g.supply_ceiling.minor_units(),
        )
    });
    let outstanding = u64::try_from(replayed.supply.outstanding()).ok();
    let columns = [
        ("next_height", head.next_height == replayed.blocks),
        ("tip_hash", head.tip_hash == tip),
        (
            "next_event_seq",
            head.next_event_seq == replayed.next_event_seq,
        ),
        ("threshold", head.threshold == threshold),
        ("supply_ceiling", head.supply_ceiling == ceiling),
        ("outstanding", Some(head.outstanding) == outstanding),
    ];
    match columns.iter().find(|(_, agrees)| !agrees) {
        Some((column, _)) => Err(differs("chain_head", 1, column)),
        None => Ok(()),
    }
}

fn compare_notes(
    snapshot: &mut SupplySnapshot<'_>,
    replayed: &Replayed,
) -> Result<(), AuditFailure> {
    let mut after = None;
    let mut seen = 0usize;
    loop {
        let page = snapshot.notes_after(after.as_ref(), PAGE_ROWS)?;
        for row in &page {
            let id = NoteId(row.id);
            let Some(derived) = replayed.notes.get(&id) else {
                return Err(AuditFailure::Tables(format!(
                    "notes {id}: the journal never created this note"
                )));
            };
            let spent = row.spent.map(|s| (TxId(s.tx_id), s.seq));
            let columns = [
                ("owner", row.owner == derived.owner),
                ("commitment", row.commitment == derived.commitment),
                ("memo", memo_digest(&row.memo) == derived.memo_digest),
                ("created_by", TxId(row.created_by) == derived.created_by),
                ("output_index", row.output_index == derived.output_index),
                ("created_seq", row.created_seq == derived.created_seq),
                ("spent_by", spent.map(|s| s.0) == derived.spent.map(|s| s.0)),
                (
                    "spent_seq",
                    spent.map(|s| s.1) == derived.spent.map(|s| s.1),
                ),
            ];
            if let Some((column, _)) = columns.iter().find(|(_, agrees)| !agrees) {
                return Err(differs("notes", id, column));
            }
        }
        seen += page.len();
        let full = page.len() == page_len(PAGE_ROWS);
        after = page.last().map(|n| n.id);
        if !full {
            break;
        }
    }
    if seen != replayed.notes.len() {
        return Err(AuditFailure::Tables(format!(
            "notes: {seen} rows, the journal created {}",
            replayed.notes.len()
        )));
    }
    Ok(())
}

/// Events must be numbered 1, 2, … without a gap, each the creation or the
/// spend of a note at exactly the number the replay gave it.
fn compare_events(
    snapshot: &mut SupplySnapshot<'_>,
    replayed: &Replayed,
) -> Result<(), AuditFailure> {
    let mut expected_seq = 1u64;
    loop {
        let page = snapshot.events_after(expected_seq - 1, PAGE_ROWS)?;
        for event in &page {
            if event.seq != expected_seq {
                return Err(AuditFailure::Tables(format!(
                    "events: event {expected_seq} is missing (the next stored is {})",
                    event.seq
                )));
            }
            let id = NoteId(event.note_id);
            let derived = replayed
                .notes
                .get(&id)
                .ok_or_else(|| differs("events", event.seq, "note_id"))?;
            let (seq, tx) = match event.kind {
                EventKind::Created => (Some(derived.created_seq), Some(derived.created_by)),
                EventKind::Spent => (derived.spent.map(|s| s.1), derived.spent.map(|s| s.0)),
            };
            if seq != Some(event.seq) {
                return Err(differs("events", event.seq, "kind or note_id"));
            }
            if event.owner != derived.owner {
                return Err(differs("events", event.seq, "owner"));
            }
            if tx != Some(TxId(event.tx_id)) {
                return Err(differs("events", event.seq, "tx_id"));
            }
            expected_seq += 1;
        }
        if page.len() != page_len(PAGE_ROWS) {
            break;
        }
    }
    if expected_seq != replayed.next_event_seq {
        return Err(AuditFailure::Tables(format!(
            "events: {} rows, the journal derives {}",
            expected_seq - 1,
            replayed.next_event_seq - 1
        )));
    }
    Ok(())
}

fn compare_kernels(
    snapshot: &mut SupplySnapshot<'_>,
    replayed: &Replayed,
) -> Result<(), AuditFailure> {
    let mut derived = replayed.kernels.clone();
    derived.sort_unstable_by_key(|(id, _)| *id);
    let mut expected = derived.iter();
    let mut after = None;
    loop {
        let page = snapshot.kernels_after(after.as_ref(), PAGE_ROWS)?;
        for kernel in &page {
            let id = TxId(kernel.tx_id);
            match expected.next() {
                Some((want, excess)) if *want == id => {
                    if *excess != kernel.excess {
                        return Err(differs("kernels", id, "excess"));
                    }
                }
                _ => {
                    return Err(AuditFailure::Tables(format!(
                    "kernels {id}: a row the journal does not derive (or one is missing before it)"
                )))
                }
            }
        }
        let full = page.len() == page_len(PAGE_ROWS);
        after = page.last().map(|k| k.tx_id);
        if !full {
            break;
        }
    }
    if let Some((missing, _)) = expected.next() {
        return Err(AuditFailure::Tables(format!(
            "kernels {missing}: the journal's kernel is missing"
        )));
    }
    Ok(())
}

fn compare_issuances(
    snapshot: &mut SupplySnapshot<'_>,
    replayed: &Replayed,
) -> Result<(), AuditFailure> {
    let rows = snapshot.issuances()?;
    for row in &rows {
        let id = TxId(row.tx_id);
        let Some(issue) = replayed.issues.get(&id) else {
            return Err(AuditFailure::Tables(format!(
                "issuances {id}: the journal holds no such issue"
            )));
        };
        if row.amount != issue.amount {
            return Err(differs("issuances", id, "amount"));
        }
        if row.blinding != issue.blinding {
            return Err(differs("issuances", id, "blinding"));
        }
    }
    if rows.len() != replayed.issues.len() {
        return Err(AuditFailure::Tables(format!(
            "issuances: {} rows, the journal holds {} issues",
            rows.len(),
            replayed.issues.len()
        )));
    }
    Ok(())
}

fn compare_redemptions(
    snapshot: &mut SupplySnapshot<'_>,
    replayed: &Replayed,
) -> Result<(), AuditFailure> {
    let rows = snapshot.redemptions()?;
    let mut derived = replayed.redemptions.clone();
    derived.sort_unstable_by_key(|(id, _)| *id);
    for (index, (tx_id, amount)) in rows.iter().enumerate() {
        let id = TxId(*tx_id);
        match derived.get(index) {
            Some((want, burned)) if *want == id => {
                if burned != amount {
                    return Err(differs("redemptions", id, "amount"));
                }
            }
            _ => {
                return Err(AuditFailure::Tables(format!(
                "redemptions {id}: a row the journal does not derive (or one is missing before it)"
            )))
            }
        }
    }
    if rows.len() != derived.len() {
        return Err(AuditFailure::Tables(format!(
            "redemptions: {} rows, the journal holds {} redeems",
            rows.len(),
            derived.len()
        )));
    }
    Ok(())
}

fn compare_participants(
    snapshot: &mut SupplySnapshot<'_>,
    replayed: &Replayed,
) -> Result<(), AuditFailure> {
    let rows = snapshot.participants()?;
    let empty = Default::default();
    let derived = replayed
        .governance
        .as_ref()
        .map_or(&empty, |g| &g.participants);
    for row in &rows {
        let Some(p) = derived.get(&row.id) else {
            return Err(AuditFailure::Tables(format!(
                "participants {}: no governance entry admitted this participant",
                row.id
            )));
        };
        let role = match p.role {
            governance::Role::Officer => Role::Officer,
            governance::Role::Bank => Role::Bank,
        };
        let status = match p.status {
            Status::Active => ParticipantStatus::Active,
            Status::Suspended => ParticipantStatus::Suspended,
        };
        let columns = [
            ("name", row.name == p.name),
            ("role", row.role == role),
            ("status", row.status == status),
            ("spend_public_key", row.spend_public_key == p.key.to_bytes()),
            (
                "view_public_key",
                row.view_public_key == p.view_key.map(|k| k.to_bytes()),
            ),
            (
                "created_at_unix_ms",
                replayed.admitted_ms.get(&row.id) == Some(&row.created_at_unix_ms),
            ),
        ];
        if let Some((column, _)) = columns.iter().find(|(_, agrees)| !agrees) {
            return Err(differs("participants", &row.id, column));
        }
    }
    if rows.len() != derived.len() {
        return Err(AuditFailure::Tables(format!(
            "participants: {} rows, the journal admitted {}",
            rows.len(),
            derived.len()
        )));
    }
    Ok(())
}

/// Every issue of the journal executes exactly one proposal, and the
/// proposals say so: a proposal whose reference an issue of the journal
/// carries is `executed` by that issue, for its amount and its bank; any other
/// proposal is not executed; and no issue lacks its proposal.
fn compare_proposals(
    snapshot: &mut SupplySnapshot<'_>,
    replayed: &Replayed,
) -> Result<(), AuditFailure> {
    let by_reference: std::collections::HashMap<[u8; 32], (TxId, &super::replay::DerivedIssue)> =
        replayed
            .issues
            .iter()
            .map(|(id, issue)| (issue.reference, (*id, issue)))
            .collect();
    let mut matched = 0usize;
    for proposal in snapshot.all_proposals()? {
        let key = hex::encode(proposal.id.0);
        let reference = crate::ledger::issuance_reference(&proposal.id);
        let executed = proposal.state == ProposalState::Executed;
        match by_reference.get(&reference) {
            Some((tx, issue)) => {
                matched += 1;
                if !executed {
                    return Err(differs("issuance_proposals", key, "state"));
                }
                if proposal.executed_by != Some(tx.0) {
                    return Err(differs("issuance_proposals", key, "executed_by"));
                }
                if proposal.amount != issue.amount {
                    return Err(differs("issuance_proposals", key, "amount"));
                }
                if proposal.bank_id != issue.bank_id {
                    return Err(differs("issuance_proposals", key, "bank_id"));
                }
            }
            None if executed => return Err(differs("issuance_proposals", key, "executed_by")),
            None => {}
        }
    }
    if matched != replayed.issues.len() {
        return Err(AuditFailure::Tables(format!(
            "issuance_proposals: {} of the journal's {} issues have no proposal",
            replayed.issues.len() - matched,
            replayed.issues.len()
        )));
    }
    Ok(())
}

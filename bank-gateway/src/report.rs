//! Reconciliation and the position proof.
//!
//! **Reconciliation** compares three views of the bank's money: each
//! wallet's `balance` against the notes it holds less what its open
//! operations are paying out; each note the bank holds against the
//! ledger (same owner, same commitment, which the stored opening opens, not
//! spent by anyone else); and the ledger's feed against the bank's credits
//! (every note the feed shows paid to one of the bank's addresses is
//! credited, flagged, or an output of one of the bank's own operations).
//! Any difference is one line of the report.
//!
//! **The position proof** publishes, at the ledger height `H` the gateway
//! last checked, the bank's total holdings `V` (float and every customer
//! wallet, held notes included), the sum `R` of the blindings of the notes
//! that make it up, and those notes' ids. Anyone with access to the ledger
//! checks that every listed note existed and was unspent at `H`, and that
//! `Σ C = V·B + R·B̃` — without learning any single balance
//! ([`verify_position`]).

use std::collections::{HashMap, HashSet};

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use ledger_client::LedgerClient;
use ledger_core::{Amount, NoteId, Opening, TxId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::gateway::{EngineError, Gateway};
use crate::store::rows::note_state;
use crate::store::{bank, state_get};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Reconciliation {
    /// True when there is no difference and nothing uncredited.
    pub ok: bool,
    /// Sum of the customer wallets' balances (minor units).
    pub wallets_total: u64,
    pub float: u64,
    /// Notes held for an operator (in no balance).
    pub held_total: u64,
    /// What open operations are paying out (debited, not yet final).
    pub in_flight: u64,
    /// Sum of the notes the bank holds (unspent, reserved, held).
    pub notes_total: u64,
    /// Notes checked against the ledger.
    pub notes_checked: usize,
    /// Events of the ledger's feed read.
    pub events_checked: u64,
    pub differences: Vec<String>,
    /// Notes the ledger shows paid to the bank that it has not credited.
    pub uncredited: Vec<String>,
}

pub async fn reconcile(gateway: &Gateway) -> Result<Reconciliation, EngineError> {
    let (wallets, notes, open, cursor, flagged) = gateway
        .store
        .read_async(move |c| {
            Ok((
                bank::all_wallets(c)?,
                bank::holdings(c)?,
                bank::open_ops_all(c)?,
                state_get(c, "follower_cursor")?,
                bank::flagged(c, i64::MAX)?,
            ))
        })
        .await?;
    let mut differences = Vec::new();
    let mut by_wallet: HashMap<i64, (u64, u64)> = HashMap::new();
    let mut notes_total = 0u64;
    let mut held_total = 0u64;
    for note in &notes {
        let value = u64::try_from(note.value).unwrap_or(0);
        notes_total += value;
        let entry = by_wallet.entry(note.wallet_id).or_default();
        if note.state == note_state::HELD {
            held_total += value;
            entry.1 += value;
        } else {
            entry.0 += value;
        }
    }
    let mut out_by_wallet: HashMap<i64, u64> = HashMap::new();
    let mut in_flight = 0u64;
    for op in &open {
        let amount = u64::try_from(op.amount).unwrap_or(0);
        *out_by_wallet.entry(op.wallet_id).or_default() += amount;
        in_flight += amount;
    }
    let mut wallets_total = 0u64;
    let mut float = 0u64;
    for wallet in &wallets {
        let balance = u64::try_from(wallet.balance).unwrap_or(0);
        if wallet.is_float() {
            float = balance;
        } else {
            wallets_total += balance;
        }
        let held = by_wallet.get(&wallet.id).copied().unwrap_or_default().0;
        let out = out_by_wallet.get(&wallet.id).copied().unwrap_or(0);
        if held.checked_sub(out) != Some(balance) {
            differences.push(format!(
                "wallet {}: balance {balance}, but its notes hold {held} and its open operations \
                 pay out {out}",
                wallet.id
            ));
        }
    }
    if wallets_total + float + held_total + in_flight != notes_total {
        differences.push(format!(
            "wallets {wallets_total} + float {float} + held {held_total} + in flight {in_flight} \
             != notes {notes_total}"
        ));
    }
    // Each note against the ledger.
    let owners: HashMap<i64, Vec<u8>> = wallets
        .iter()
        .map(|w| (w.id, w.spend_key.clone()))
        .collect();
    let mut notes_checked = 0;
    for note in &notes {
        let Ok(id) = <[u8; 32]>::try_from(note.id.as_slice()) else {
            differences.push(format!("note {}: malformed id", hex::encode(&note.id)));
            continue;
        };
        let view = match gateway.ledger.note_view(&NoteId(id)).await {
            Ok(view) => view,
            Err(e) if e.status() == Some(404) => {
                differences.push(format!(
                    "note {}: the ledger does not know it",
                    hex::encode(id)
                ));
                continue;
            }
            Err(e) => return Err(EngineError::Ledger(e.to_string())),
        };
        notes_checked += 1;
        let commitment_ok = note
            .opening()
            .ok()
            .and_then(|o| o.commit())
            .is_some_and(|c| {
                hex::encode(c.as_bytes()) == view.commitment
                    && hex::encode(&note.commitment) == view.commitment
            });
        if !commitment_ok {
            differences.push(format!(
                "note {}: the stored opening does not open the ledger's commitment",
                hex::encode(id)
            ));
        }
        if owners.get(&note.wallet_id).map(hex::encode) != Some(view.owner.clone()) {
            differences.push(format!(
                "note {}: the ledger says another key owns it",
                hex::encode(id)
            ));
        }
        if view.spent && note.state != note_state::RESERVED {
            differences.push(format!(
                "note {}: spent on the ledger by {} but unspent here",
                hex::encode(id),
                view.spent_by.unwrap_or_default()
            ));
        }
    }
    // The feed against the credits.
    let known: HashSet<Vec<u8>> = notes.iter().map(|n| n.id.clone()).collect();
    let flagged: HashSet<Vec<u8>> = flagged.into_iter().map(|f| f.note_id).collect();
    let owner_keys: HashSet<String> = wallets.iter().map(|w| hex::encode(&w.spend_key)).collect();
    let cursor: u64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut uncredited = Vec::new();
    let mut after = 0u64;
    let mut events_checked = 0u64;
    while after < cursor {
        let page = gateway
            .ledger
            .events_page(after, None, Some(500), 0)
            .await
            .map_err(|e| EngineError::Ledger(e.to_string()))?;
        if page.events.is_empty() {
            break;
        }
        for event in &page.events {
            if event.seq > cursor {
                break;
            }
            events_checked += 1;
            if event.kind != ledger_client::wire::EventKindView::Created
                || !owner_keys.contains(&event.owner)
            {
                continue;
            }
            let id = hex::decode(&event.note_id).unwrap_or_default();
            if known.contains(&id) || flagged.contains(&id) {
                continue;
            }
            // Spent since, by one of the bank's own operations?
            let tx = hex::decode(&event.tx_id).unwrap_or_default();
            let (ours, spent_here) = gateway
                .store
                .read_async(move |c| {
                    use crate::store::schema::notes;
                    use diesel::prelude::*;
                    let spent = notes::table
                        .find(&id)
                        .select(notes::state)
                        .first::<String>(c)
                        .optional()?;
                    Ok((
                        crate::store::ops::op_by_tx(c, &tx)?.is_some(),
                        spent.is_some(),
                    ))
                })
                .await?;
            if ours || spent_here {
                continue;
            }
            // A note credited and spent since is in `notes` as spent: only
            // the missing ones reach here.
            uncredited.push(format!(
                "note {} of transaction {} (event {})",
                event.note_id, event.tx_id, event.seq
            ));
        }
        after = page.next;
    }
    Ok(Reconciliation {
        ok: differences.is_empty() && uncredited.is_empty(),
        wallets_total,
        float,
        held_total,
        in_flight,
        notes_total,
        notes_checked,
        events_checked,
        differences,
        uncredited,
    })
}

/// A bank's position proof (PROTOCOL.md, "Position proofs").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub version: u32,
    pub bank_id: String,
    /// The ledger height the position is taken at (the last block the
    /// gateway checked).
    pub height: Option<u64>,
    pub block_hash: Option<String>,
    /// `V`: the bank's total holdings, minor units.
    pub total: u64,
    /// `R`: the sum of the notes' blindings, a canonical scalar, 64 hex.
    pub blinding_sum: String,
    /// The notes, 64 hex each, ascending.
    pub notes: Vec<String>,
}

pub async fn position(gateway: &Gateway) -> Result<Position, EngineError> {
    let (notes, tip) = gateway
        .store
        .read_async(move |c| Ok((bank::holdings(c)?, bank::tip(c)?)))
        .await?;
    let mut total = 0u64;
    let mut sum = Scalar::ZERO;
    let mut ids = Vec::with_capacity(notes.len());
    for note in &notes {
        let opening = note.opening()?;
        total = total
            .checked_add(opening.value().minor_units())
            .ok_or(crate::store::StoreError::OutOfRange("total holdings"))?;
        sum += opening.blinding();
        ids.push(hex::encode(&note.id));
    }
    Ok(Position {
        version: 1,
        bank_id: gateway.config.bank_id.clone(),
        height: tip.as_ref().and_then(|t| u64::try_from(t.height).ok()),
        block_hash: tip.map(|t| hex::encode(t.hash)),
        total,
        blinding_sum: hex::encode(sum.as_bytes()),
        notes: ids,
    })
}

/// What checking a position against the ledger found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PositionCheck {
    pub ok: bool,
    pub notes: usize,
    pub problems: Vec<String>,
}

/// Checks a position proof against the ledger: every note exists, was
/// created at or before the position's height and unspent at it (unspent
/// now, or spent in a later block), no note twice, and the commitments sum
/// to `V·B + R·B̃`.
pub async fn verify_position(
    ledger: &LedgerClient,
    position: &Position,
) -> Result<PositionCheck, String> {
    let mut problems = Vec::new();
    let mut sum = RistrettoPoint::identity();
    let mut seen = HashSet::new();
    let height = position.height;
    for text in &position.notes {
        let Some(id) = hex32(text) else {
            problems.push(format!("{text}: not 64 hex characters"));
            continue;
        };
        if !seen.insert(id) {
            problems.push(format!("{text}: listed twice"));
            continue;
        }
        let view = match ledger.note_view(&NoteId(id)).await {
            Ok(view) => view,
            Err(e) if e.status() == Some(404) => {
                problems.push(format!("{text}: no such note on the ledger"));
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        let Some(point) = hex32(&view.commitment).and_then(|b| CompressedRistretto(b).decompress())
        else {
            problems.push(format!("{text}: the ledger's commitment is not a point"));
            continue;
        };
        sum += point;
        if let Some(height) = height {
            let created = tx_height(ledger, &view.created_by).await?;
            if created.is_some_and(|h| h > height) {
                problems.push(format!("{text}: created after height {height}"));
            }
            if let Some(spender) = &view.spent_by {
                let spent = tx_height(ledger, spender).await?;
                if spent.is_none_or(|h| h <= height) {
                    problems.push(format!("{text}: spent at or before height {height}"));
                }
            }
        } else if view.spent {
            problems.push(format!("{text}: spent"));
        }
    }
    let blinding = hex32(&position.blinding_sum)
        .and_then(|b| Option::<Scalar>::from(Scalar::from_canonical_bytes(b)));
    match blinding {
        Some(blinding) => {
            let expected = Opening::new(Amount::new(position.total), blinding).commit_point();
            if expected != sum {
                problems.push(format!(
                    "the notes' commitments do not sum to V·B + R·B̃ for V = {} and the published R",
                    position.total
                ));
            }
        }
        None => problems.push("blinding_sum is not a canonical scalar in 64 hex characters".into()),
    }
    Ok(PositionCheck {
        ok: problems.is_empty(),
        notes: seen.len(),
        problems,
    })
}

async fn tx_height(ledger: &LedgerClient, tx: &str) -> Result<Option<u64>, String> {
    let Some(id) = hex32(tx) else {
        return Ok(None);
    };
    match ledger.transaction_view(&TxId(id)).await {
        Ok(view) => Ok(Some(view.receipt.block.height)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

//! Small append-only records: request nonces (replay protection of signed
//! HTTP requests) and supply-audit runs.
//!
//! A (key, nonce) pair is accepted once, by primary key: the check and the
//! record are one INSERT, so two racing requests with one nonce cannot both
//! pass. Old nonces are pruned by the caller, outside its signature's
//! validity window.
//!
//! [`Store::admit_requests`] does the same for many requests at once (the
//! API's request gate groups the requests that arrive together): one
//! participant lookup and one `INSERT ... ON CONFLICT DO NOTHING RETURNING`
//! for the group, so the per-request cost of
//! replay protection is a share of one commit instead of a commit each.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::error::StoreError;
use super::governance::{participant_from_row, Participant, ParticipantRow, PARTICIPANT_COLUMNS};
use super::schema::{audit_runs, participants, request_nonces};
use super::types::*;
use super::{AnyConnection, Store};

/// Requests admitted by one [`Store::admit_requests`] call, at most.
pub const ADMISSIONS_PER_CALL_MAX: usize = 2_048;

/// A signed request's claim to a nonce, after its signature verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonceClaim {
    /// The signing key (a participant's spend public key).
    pub key: Bytes32,
    pub nonce: [u8; 16],
    pub seen_at_unix_ms: u64,
}

/// What became of one [`NonceClaim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The key belongs to this participant (of any status: the caller checks
    /// status and role) and the nonce is now recorded.
    Admitted(Participant),
    /// No participant has this key; nothing was recorded.
    UnknownKey,
    /// The (key, nonce) pair was recorded before, or earlier in this group.
    Replay,
}

impl Store {
    /// Admits a group of requests: looks up each claim's participant and
    /// records the nonces of those with a known key (one insert, which alone
    /// decides replays). Outcomes are aligned with `claims`. A nonce repeated
    /// within the group is admitted once, for its first claim.
    pub fn admit_requests(&self, claims: &[NonceClaim]) -> Result<Vec<Admission>, StoreError> {
        if claims.len() > ADMISSIONS_PER_CALL_MAX {
            return Err(StoreError::BatchTooLarge {
                count: claims.len(),
            });
        }
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        // Two statements, each atomic on its own, and no explicit transaction:
        // SQLite cannot upgrade a read transaction to a write one while the
        // ledger's writer holds the write lock (it fails at once instead of
        // waiting), and the insert alone decides replays.
        let mut conn = self.connection()?;
        admit(&mut conn, claims)
    }

    /// Forgets nonces seen before `before_unix_ms`; returns how many.
    pub fn prune_nonces(&self, before_unix_ms: u64) -> Result<u64, StoreError> {
        let before = to_db_i64(before_unix_ms, "nonce time")?;
        let mut conn = self.connection()?;
        let deleted = diesel::delete(
            request_nonces::table.filter(request_nonces::seen_at_unix_ms.lt(before)),
        )
        .execute(&mut *conn)?;
        u64::try_from(deleted).map_err(|_| StoreError::Corrupt("deleted row count"))
    }

    /// Records the start of an audit run, `running`, and returns its id.
    pub fn start_audit_run(
        &self,
        trigger: AuditTrigger,
        started_unix_ms: u64,
    ) -> Result<u64, StoreError> {
        let started = to_db_i64(started_unix_ms, "audit start")?;
        let mut conn = self.connection()?;
        let id = diesel::insert_into(audit_runs::table)
            .values((
                audit_runs::trigger.eq(trigger.as_db()),
                audit_runs::state.eq(AuditState::Running.as_db()),
                audit_runs::started_unix_ms.eq(started),
            ))
            .returning(audit_runs::id)
            .get_result::<i64>(&mut *conn)?;
        from_db_i64(id, "audit id")
    }

    /// Records how a running audit ended. Only a running one changes.
    pub fn finish_audit_run(
        &self,
        id: u64,
        state: AuditState,
        finished_unix_ms: u64,
        outcome: &AuditOutcome,
    ) -> Result<(), StoreError> {
        let id = to_db_i64(id, "audit id")?;
        let finished = to_db_i64(finished_unix_ms, "audit end")?;
        let height = outcome
            .height
            .map(|h| to_db_i64(h, "audit height"))
            .transpose()?;
        let mut conn = self.connection()?;
        diesel::update(audit_runs::table.find(id))
            .filter(audit_runs::state.eq(AuditState::Running.as_db()))
            .set((
                audit_runs::state.eq(state.as_db()),
                audit_runs::finished_unix_ms.eq(finished),
                audit_runs::height.eq(height),
                audit_runs::block_hash.eq(outcome.block_hash.as_ref().map(|h| &h[..])),
                audit_runs::blocks.eq(to_db_i64(outcome.blocks, "audit blocks")?),
                audit_runs::transactions.eq(to_db_i64(outcome.transactions, "audit txs")?),
                audit_runs::unspent_notes.eq(to_db_i64(outcome.unspent_notes, "audit notes")?),
                audit_runs::issued.eq(outcome.issued.to_string()),
                audit_runs::redeemed.eq(outcome.redeemed.to_string()),
                audit_runs::outstanding.eq(to_db_i64(outcome.outstanding, "outstanding amount")?),
                audit_runs::problem.eq(outcome.problem.as_deref()),
            ))
            .execute(&mut *conn)?;
        Ok(())
    }

    /// Marks runs left `running` by a ledger that stopped as `abandoned`.
    pub fn abandon_running_audits(&self, now_unix_ms: u64) -> Result<u64, StoreError> {
        let now = to_db_i64(now_unix_ms, "audit end")?;
        let mut conn = self.connection()?;
        let count = diesel::update(audit_runs::table)
            .filter(audit_runs::state.eq(AuditState::Running.as_db()))
            .set((
                audit_runs::state.eq(AuditState::Abandoned.as_db()),
                audit_runs::finished_unix_ms.eq(now),
                audit_runs::problem.eq("the ledger stopped while the audit ran"),
            ))
            .execute(&mut *conn)?;
        Ok(u64::try_from(count).unwrap_or(u64::MAX))
    }

    /// The audit run with this id.
    pub fn audit_run(&self, id: u64) -> Result<Option<AuditRun>, StoreError> {
        let id = to_db_i64(id, "audit id")?;
        let mut conn = self.connection()?;
        audit_runs::table
            .find(id)
            .select(AUDIT_RUN_COLUMNS)
            .first::<AuditRunRow>(&mut *conn)
            .optional()?
            .map(audit_run_from_row)
            .transpose()
    }

    /// The newest audit run (with `passed_only`, the newest that passed).
    pub fn latest_audit_run(&self, passed_only: bool) -> Result<Option<AuditRun>, StoreError> {
        let mut conn = self.connection()?;
        let mut query = audit_runs::table
            .select(AUDIT_RUN_COLUMNS)
            .order(audit_runs::id.desc())
            .into_boxed();
        if passed_only {
            query = query.filter(audit_runs::state.eq(AuditState::Passed.as_db()));
        }
        query
            .first::<AuditRunRow>(&mut *conn)
            .optional()?
            .map(audit_run_from_row)
            .transpose()
    }
}

type AuditRunRow = (
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<Vec<u8>>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

// One column per field of the row, written out so a column added to the table
// cannot be missed here; no alias would make it shorter.
#[allow(clippy::type_complexity)]
const AUDIT_RUN_COLUMNS: (
    audit_runs::id,
    audit_runs::trigger,
    audit_runs::state,
    audit_runs::started_unix_ms,
    audit_runs::finished_unix_ms,
    audit_runs::height,
    audit_runs::block_hash,
    audit_runs::blocks,
    audit_runs::transactions,
    audit_runs::unspent_notes,
    audit_runs::issued,
    audit_runs::redeemed,
    audit_runs::outstanding,
    audit_runs::problem,
) = (
    audit_runs::id,
    audit_runs::trigger,
    audit_runs::state,
    audit_runs::started_unix_ms,
    audit_runs::finished_unix_ms,
    audit_runs::height,
    audit_runs::block_hash,
    audit_runs::blocks,
    audit_runs::transactions,
    audit_runs::unspent_notes,
    audit_runs::issued,
    audit_runs::redeemed,
    audit_runs::outstanding,
    audit_runs::problem,
);

fn audit_run_from_row(row: AuditRunRow) -> Result<AuditRun, StoreError> {
    let (
        id,
        trigger,
        state,
        started,
        finished,
        height,
        block_hash,
        blocks,
        transactions,
        unspent_notes,
        issued,
        redeemed,
        outstanding,
        problem,
    ) = row;
    let count = |value: Option<i64>, what| value.map_or(Ok(0), |v| from_db_i64(v, what));
    let total = |value: Option<String>| -> Result<u128, StoreError> {
        value.map_or(Ok(0), |text| {
            text.parse().map_err(|_| StoreError::Corrupt("audit total"))
        })
    };
    Ok(AuditRun {
        id: from_db_i64(id, "audit id")?,
        trigger: AuditTrigger::from_db(&trigger)?,
        state: AuditState::from_db(&state)?,
        started_unix_ms: from_db_i64(started, "audit start")?,
        finished_unix_ms: finished.map(|t| from_db_i64(t, "audit end")).transpose()?,
        outcome: AuditOutcome {
            height: height.map(|h| from_db_i64(h, "audit height")).transpose()?,
            block_hash: block_hash
                .map(|h| to_bytes32(&h, "audit block hash"))
                .transpose()?,
            blocks: count(blocks, "audit blocks")?,
            transactions: count(transactions, "audit transactions")?,
            unspent_notes: count(unspent_notes, "audit notes")?,
            issued: total(issued)?,
            redeemed: total(redeemed)?,
            outstanding: count(outstanding, "outstanding amount")?,
            problem,
        },
    })
}

fn admit(conn: &mut AnyConnection, claims: &[NonceClaim]) -> Result<Vec<Admission>, StoreError> {
    let keys: HashSet<&[u8]> = claims.iter().map(|claim| &claim.key[..]).collect();
    let keys: Vec<&[u8]> = keys.into_iter().collect();
    let mut known: HashMap<Bytes32, Participant> = HashMap::with_capacity(keys.len());
    for row in participants::table
        .filter(participants::spend_public_key.eq_any(keys))
        .select(PARTICIPANT_COLUMNS)
        .load::<ParticipantRow>(conn)?
    {
        let participant = participant_from_row(row)?;
        known.insert(participant.spend_public_key, participant);
    }

    // First claim of each pair with a known key: the rows to insert.
    let mut first_claims = HashSet::with_capacity(claims.len());
    let mut rows = Vec::with_capacity(claims.len());
    for claim in claims {
        if known.contains_key(&claim.key) && first_claims.insert((claim.key, claim.nonce)) {
            rows.push((
                request_nonces::key_id.eq(&claim.key[..]),
                request_nonces::nonce.eq(&claim.nonce[..]),
                request_nonces::seen_at_unix_ms.eq(to_db_i64(claim.seen_at_unix_ms, "nonce time")?),
            ));
        }
    }
    let mut recorded: HashSet<(Vec<u8>, Vec<u8>)> = HashSet::with_capacity(rows.len());
    // Three parameters a row; chunks stay under SQLite's parameter limit.
    for chunk in rows.chunks(10_000) {
        let insert = diesel::insert_into(request_nonces::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .returning((request_nonces::key_id, request_nonces::nonce));
        let inserted: Vec<(Vec<u8>, Vec<u8>)> = match conn {
            AnyConnection::Postgresql(pg) => insert.get_results(pg)?,
            AnyConnection::Sqlite(sqlite) => insert.get_results(sqlite)?,
        };
        recorded.extend(inserted);
    }

    Ok(claims
        .iter()
        .map(|claim| match known.get(&claim.key) {
            None => Admission::UnknownKey,
            // `remove`: a second claim of the same pair in this group is a replay.
            Some(participant) if recorded.remove(&(claim.key.to_vec(), claim.nonce.to_vec())) => {
                Admission::Admitted(participant.clone())
            }
            Some(_) => Admission::Replay,
        })
        .collect())
}

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
use super::schema::{audits, participants, request_nonces};
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

    /// Records a run of the supply audit.
    pub fn record_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let time = to_db_i64(record.time_unix_ms, "audit time")?;
        let height = record
            .height
            .map(|height| to_db_i64(height, "audit height"))
            .transpose()?;
        let outstanding = to_db_i64(record.outstanding, "outstanding amount")?;
        let mut conn = self.connection()?;
        diesel::insert_into(audits::table)
            .values((
                audits::time_unix_ms.eq(time),
                audits::height.eq(height),
                audits::ok.eq(record.ok),
                audits::outstanding.eq(outstanding),
            ))
            .execute(&mut *conn)?;
        Ok(())
    }

    /// The most recent audit runs, newest first, at most `limit`.
    pub fn recent_audits(&self, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let mut conn = self.connection()?;
        audits::table
            .select((
                audits::time_unix_ms,
                audits::height,
                audits::ok,
                audits::outstanding,
            ))
            .order(audits::id.desc())
            .limit(i64::from(limit))
            .load::<(i64, Option<i64>, bool, i64)>(&mut *conn)?
            .into_iter()
            .map(|(time, height, ok, outstanding)| {
                Ok(AuditRecord {
                    time_unix_ms: from_db_i64(time, "audit time")?,
                    height: height
                        .map(|height| from_db_i64(height, "audit height"))
                        .transpose()?,
                    ok,
                    outstanding: from_db_i64(outstanding, "outstanding amount")?,
                })
            })
            .collect()
    }
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

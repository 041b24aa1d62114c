//! Small append-only records: request nonces (replay protection of signed
//! HTTP requests) and supply-audit runs.
//!
//! A (key, nonce) pair is accepted once, by primary key: the check and the
//! record are one INSERT, so two racing requests with one nonce cannot both
//! pass. Old nonces are pruned by the caller, outside its signature's
//! validity window.

use diesel::prelude::*;

use super::error::{is_unique_violation, StoreError};
use super::schema::{audits, request_nonces};
use super::types::*;
use super::Store;

/// Longest key id or nonce accepted, in bytes.
pub const NONCE_BYTES_MAX: usize = 64;

impl Store {
    /// Records that a request signed by `key_id` used `nonce`. Fails with
    /// `Replay` if that pair was recorded before.
    pub fn record_nonce(
        &self,
        key_id: &[u8],
        nonce: &[u8],
        seen_at_unix_ms: u64,
    ) -> Result<(), StoreError> {
        if key_id.len() > NONCE_BYTES_MAX {
            return Err(StoreError::OutOfRange { field: "key id" });
        }
        if nonce.len() > NONCE_BYTES_MAX {
            return Err(StoreError::OutOfRange { field: "nonce" });
        }
        let seen_at = to_db_i64(seen_at_unix_ms, "nonce time")?;
        let mut conn = self.connection()?;
        let inserted = diesel::insert_into(request_nonces::table)
            .values((
                request_nonces::key_id.eq(key_id),
                request_nonces::nonce.eq(nonce),
                request_nonces::seen_at_unix_ms.eq(seen_at),
            ))
            .execute(&mut *conn);
        match inserted {
            Ok(_) => Ok(()),
            Err(error) if is_unique_violation(&error) => Err(StoreError::Replay),
            Err(error) => Err(error.into()),
        }
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

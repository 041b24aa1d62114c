//! The store's one error type.
//!
//! Rejections of a single transaction inside a batch are not errors (they are
//! [`Rejection`](super::Rejection) data in the batch's outcome); a
//! `StoreError` means the call as a whole did nothing, or, for the
//! administrative calls, that a named rule refused it.

use diesel::result::Error as DieselError;

use super::governance::Role;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one the store can open.
    #[error("unsupported database url: {0}")]
    UnsupportedUrl(&'static str),
    /// No connection could be opened or taken from the pool in time (the
    /// message names the last failure to connect, for the log).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] diesel::r2d2::PoolError),
    /// Embedded migrations failed to apply at open.
    #[error("database migrations failed: {0}")]
    Migration(String),
    #[error("cannot open the database: {0}")]
    Open(String),
    /// Any other database failure.
    #[error("database error")]
    Database(#[from] DieselError),
    /// The connection was lost after the batch asked to commit: the database
    /// may or may not have committed it. Submitting the same transactions
    /// again is safe (a committed id answers with its first location).
    #[error("the database connection was lost while committing; the outcome is unknown")]
    CommitUnknown,
    /// A PostgreSQL serialization failure or deadlock persisted through every retry.
    #[error("write conflict persisted after {attempts} attempts")]
    Contention {
        /// How many times the write was tried.
        attempts: u32,
    },
    /// A `u64` value does not fit in its signed 64-bit (or 32-bit) column.
    #[error("{field} is out of range for the database")]
    OutOfRange {
        /// Which value.
        field: &'static str,
    },
    /// A stored row violates an invariant the schema should have kept.
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    /// More transactions in one batch than [`BATCH_TRANSACTIONS_MAX`](super::BATCH_TRANSACTIONS_MAX).
    #[error("batch of {count} transactions exceeds the limit")]
    BatchTooLarge {
        /// Transactions in the refused batch.
        count: usize,
    },
    /// A participant with this id or spend key already exists.
    #[error("participant already exists")]
    ParticipantExists,
    /// No participant with this id.
    #[error("unknown participant")]
    UnknownParticipant,
    /// The participant is unknown, suspended, or does not hold the required role.
    #[error("participant {id} is not an active {required}")]
    NotEligible {
        /// The participant's id.
        id: String,
        /// The role the operation needs.
        required: Role,
    },
    /// An issuance proposal must be for a positive amount.
    #[error("issuance amount must be positive")]
    ZeroAmount,
    /// A proposal with this id already exists.
    #[error("issuance proposal already exists")]
    ProposalExists,
    /// No proposal with this id.
    #[error("unknown issuance proposal")]
    UnknownProposal,
    /// The proposal was already executed or cancelled.
    #[error("issuance proposal is not open")]
    ProposalNotOpen,
    /// This officer already approved this proposal.
    #[error("officer already approved this proposal")]
    AlreadyApproved,
}

impl StoreError {
    /// Whether trying the same call again later may succeed: the database was
    /// unreachable, or concurrent writers kept conflicting. A service maps these
    /// to 503.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Contention { .. } => true,
            StoreError::Database(error) if is_write_conflict(error) => true,
            _ => self.is_connection_failure(),
        }
    }

    /// Whether the database could not be reached: no connection in time
    /// (the pool's checkout bound), or the connection broke under the call
    /// (the server stopped, restarted or became unreachable). Such a call
    /// did nothing, except [`StoreError::CommitUnknown`], whose outcome is
    /// unknown.
    pub fn is_connection_failure(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::CommitUnknown => true,
            StoreError::Database(error) => is_connection_lost(error),
            _ => false,
        }
    }
}

pub(crate) use cbdc_db::{
    is_connection_lost, is_foreign_key_violation, is_unique_violation, is_write_conflict,
};

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::DatabaseErrorKind;

    fn database(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn a_broken_connection_is_a_transient_connection_failure() {
        let lost = [
            database(DatabaseErrorKind::ClosedConnection, "server closed"),
            database(DatabaseErrorKind::UnableToSendCommand, "no connection"),
            database(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            database(
                DatabaseErrorKind::Unknown,
                "could not receive data from server: Connection reset by peer",
            ),
            DieselError::BrokenTransactionManager,
            DieselError::RollbackErrorOnCommit {
                rollback_error: Box::new(DieselError::BrokenTransactionManager),
                commit_error: Box::new(database(DatabaseErrorKind::ClosedConnection, "gone")),
            },
        ];
        for error in lost {
            let error = StoreError::Database(error);
            assert!(error.is_connection_failure(), "{error:?}");
            assert!(error.is_transient(), "{error:?}");
        }
        assert!(StoreError::CommitUnknown.is_connection_failure());
    }

    #[test]
    fn a_verdict_of_the_database_is_not_a_connection_failure() {
        let verdicts = [
            database(DatabaseErrorKind::UniqueViolation, "duplicate key"),
            database(DatabaseErrorKind::Unknown, "deadlock detected"),
            database(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize",
            ),
            DieselError::NotFound,
        ];
        for error in verdicts {
            let error = StoreError::Database(error);
            assert!(!error.is_connection_failure(), "{error:?}");
        }
        assert!(!StoreError::Contention { attempts: 5 }.is_connection_failure());
        assert!(StoreError::Contention { attempts: 5 }.is_transient());
    }
}

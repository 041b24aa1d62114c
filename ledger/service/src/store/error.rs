//! The store's one error type.
//!
//! Rejections of a single transaction inside a batch are not errors (they are
//! [`Rejection`](super::Rejection) data in the batch's outcome); a
//! `StoreError` means the call as a whole did nothing, or, for the
//! administrative calls, that a named rule refused it.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::governance::Role;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one the store can open.
    #[error("unsupported database url: {0}")]
    UnsupportedUrl(&'static str),
    /// No connection could be opened or taken from the pool in time.
    #[error("database unavailable")]
    Unavailable(#[source] diesel::r2d2::PoolError),
    /// Embedded migrations failed to apply at open.
    #[error("database migrations failed: {0}")]
    Migration(String),
    #[error("cannot open the database: {0}")]
    Open(String),
    /// Any other database failure.
    #[error("database error")]
    Database(#[from] DieselError),
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
            StoreError::Unavailable(_) | StoreError::Contention { .. } => true,
            StoreError::Database(error) => {
                is_write_conflict(error)
                    || matches!(
                        error,
                        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
                            | DieselError::BrokenTransactionManager
                    )
            }
            _ => false,
        }
    }
}

/// PostgreSQL's primary message for SQLSTATE 40P01, which diesel reports as
/// `DatabaseErrorKind::Unknown` and does not expose the code of. The server
/// writes it untranslated unless `lc_messages` is set to another language.
const DEADLOCK_MESSAGE: &str = "deadlock detected";

/// A serialization failure (40001) or deadlock (40P01): the transaction was
/// rolled back and running it again is correct.
pub(crate) fn is_write_conflict(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            info.message() == DEADLOCK_MESSAGE
        }
        _ => false,
    }
}

/// Whether the error is a violated UNIQUE or PRIMARY KEY constraint.
pub(crate) fn is_unique_violation(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Whether the error is a violated FOREIGN KEY constraint.
pub(crate) fn is_foreign_key_violation(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
    )
}

//! The ledger's storage: already-verified transactions as rows of bytes, on
//! PostgreSQL (production, tests) or SQLite (embedded devnet), through diesel.
//!
//! The store does no cryptography and depends on none: it is handed verified
//! transactions and sealed blocks, and keeps these invariants, whatever the
//! concurrency:
//!
//! * **A note is spent at most once.** Every spend is one conditional update,
//!   `UPDATE notes SET spent_by = $tx ... WHERE id = $input AND spent_by IS NULL`,
//!   whose affected-row count decides; two racing spends cannot both see 1, on
//!   any isolation level (PostgreSQL runs at its default, READ COMMITTED).
//! * **A transaction is all or nothing, a batch is one database transaction.**
//!   Each transaction of a batch runs inside a savepoint; a rejected one rolls
//!   back to it and the rest of the batch commits together with its block.
//! * **Idempotency.** A transaction id is stored once; resubmitting it returns
//!   the location of the first commit ([`ApplyOutcome::Duplicate`]).
//! * **A chain, and an ordered feed.** Block heights are consecutive from 0,
//!   each block records the previous block's hash, and events are numbered
//!   gap-free in commit order, because every batch first locks the single
//!   `chain_head` row (see `apply.rs`).
//! * **No wrapped money.** Amounts are `u64` in the domain and `BIGINT` in the
//!   database, converted with checked conversions; values above `i64::MAX` are
//!   refused, never wrapped.
//!
//! [`Store::open`] takes one URL: `postgres://` or `postgresql://` selects
//! PostgreSQL, anything else is a SQLite file path. The migrations for that
//! backend (`migrations/ledger/{postgres,sqlite}`, embedded at build time) are
//! applied before the store is returned.

mod apply;
mod audit_read;
mod error;
mod governance;
mod read;
mod records;
mod schema;
pub mod seed;
mod types;

use cbdc_db::ConnectionManager;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations};

pub use apply::{BATCH_TRANSACTIONS_MAX, NOTES_PER_TRANSACTION_MAX};
pub use error::StoreError;
pub use governance::{
    Approval, NewParticipant, NewProposal, Participant, ParticipantStatus, Proposal, ProposalState,
    Role, APPROVAL_SIGNATURE_BYTES_MAX,
};
pub use read::SupplySnapshot;
pub use records::{Admission, NonceClaim, ADMISSIONS_PER_CALL_MAX};
pub use types::*;

const POSTGRES_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../../migrations/ledger/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/ledger/sqlite");

pub use cbdc_db::{AnyConnection, Backend, PoolConfig as StoreConfig, POOL_TIMEOUT_DEFAULT};

/// The ledger's store: a pool of connections to one database.
///
/// Cheap to clone; clones share the pool. All methods block: call them from a
/// blocking thread pool in async code.
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager>,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Opens the database at `url` with the default [`StoreConfig`] and applies
    /// pending migrations.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(url, StoreConfig::default())
    }

    /// Opens the database at `url` and applies pending migrations.
    pub fn open_with(url: &str, config: StoreConfig) -> Result<Store, StoreError> {
        let (pool, backend) = cbdc_db::open_pool(url, config).map_err(|error| match error {
            cbdc_db::OpenError::UnsupportedUrl(why) => StoreError::UnsupportedUrl(why),
            cbdc_db::OpenError::Connect(why) => StoreError::Open(why),
            cbdc_db::OpenError::Pool(error) => StoreError::Unavailable(error),
        })?;
        let store = Store { pool, backend };
        store.migrate()?;
        Ok(store)
    }

    /// The backend this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether PostgreSQL's autovacuum is on (`None` on SQLite, which has
    /// none). Without it the spent notes' old row versions are never
    /// reclaimed and the tables are never analysed: an operator should know.
    pub fn autovacuum(&self) -> Result<Option<bool>, StoreError> {
        use diesel::RunQueryDsl;
        let mut conn = self.connection()?;
        match &mut *conn {
            AnyConnection::Postgresql(pg) => {
                let setting: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
                    "current_setting('autovacuum')",
                ))
                .get_result(pg)?;
                Ok(Some(setting == "on"))
            }
            AnyConnection::Sqlite(_) => Ok(None),
        }
    }

    /// Folds SQLite's write-ahead log back into the database file, so a copy of
    /// the file alone is the whole ledger (call at shutdown; nothing on PostgreSQL).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        if let AnyConnection::Sqlite(sqlite) = &mut *conn {
            sqlite.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
        }
        Ok(())
    }

    fn connection(&self) -> Result<PooledConnection<ConnectionManager>, StoreError> {
        self.pool.get().map_err(StoreError::Unavailable)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        cbdc_db::migrate(
            &mut conn,
            POSTGRES_MIGRATIONS,
            SQLITE_MIGRATIONS,
            7236554726150660,
        )
        .map_err(StoreError::Migration)
    }
}

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

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

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

/// A connection to either backend; queries written against it run on both.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL.
    Postgresql(PgConnection),
    /// SQLite.
    Sqlite(SqliteConnection),
}

/// Which database a [`Store`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL, from a `postgres://` or `postgresql://` URL.
    Postgres,
    /// SQLite, from a file path.
    Sqlite,
}

impl Backend {
    /// The backend a URL selects: PostgreSQL for `postgres://` and
    /// `postgresql://`, SQLite for anything else (a file path).
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// How long a caller waits for a connection by default: long enough for a
/// burst of requests to share the pool, short enough that with the database
/// unreachable a request is refused (503, `Retry-After`) within a couple of
/// seconds instead of hanging.
pub const POOL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(2);

/// libpq settings added to a PostgreSQL URL that does not set them, so that no
/// connection waits on an unreachable server for longer than a few seconds:
///
/// * `connect_timeout`: an unreachable host (no refusal, no answer) fails a
///   connection attempt after 2 s instead of the system's TCP timeout
///   (minutes);
/// * `keepalives*`: a connection whose server vanished without closing it
///   (host down, network cut) is found dead after 5 s idle plus two
///   unanswered probes 2 s apart, also while waiting for a query's result;
/// * `tcp_user_timeout`: data sent that the server's host does not
///   acknowledge within 5 s breaks the connection (a query sent into a cut
///   network, a checkout's ping).
///
/// None of these limits how long a query may run: the server's host
/// acknowledges and answers probes while it works, so an audit reading its
/// snapshot for minutes is unaffected. For the same reason there is no
/// `statement_timeout`: it would cut those audits, and a stopped server ends
/// its connections anyway. (Ignored for unix-socket connections, which
/// cannot be cut by a network.)
const POSTGRES_CONNECTION_DEFAULTS: [(&str, &str); 6] = [
    ("connect_timeout", "2"),
    ("keepalives", "1"),
    ("keepalives_idle", "5"),
    ("keepalives_interval", "2"),
    ("keepalives_count", "2"),
    ("tcp_user_timeout", "5000"),
];

/// Limits of the connection pool.
#[derive(Clone, Copy, Debug)]
pub struct StoreConfig {
    /// Connections kept open at most.
    pub pool_size_max: u32,
    /// How long a caller waits for a connection before `Unavailable`: a free
    /// one, or a new one while the database is unreachable.
    pub pool_timeout: Duration,
    /// How long SQLite waits for another connection's write lock.
    pub sqlite_busy_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            pool_size_max: 8,
            pool_timeout: POOL_TIMEOUT_DEFAULT,
            sqlite_busy_timeout: Duration::from_secs(30),
        }
    }
}

/// `url` with each of [`POSTGRES_CONNECTION_DEFAULTS`] it does not set
/// appended to its query; a setting the URL names is kept as it is.
fn with_connection_defaults(url: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let query = base.split_once('?').map_or("", |(_, query)| query);
    let named = |key: &str| {
        query
            .split('&')
            .any(|pair| pair.split_once('=').map_or(pair, |(name, _)| name) == key)
    };
    let mut out = base.to_owned();
    let mut separator = if base.contains('?') {
        if query.is_empty() || query.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    for (key, value) in POSTGRES_CONNECTION_DEFAULTS {
        if !named(key) {
            out.push_str(separator);
            out.push_str(key);
            out.push('=');
            out.push_str(value);
            separator = "&";
        }
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

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
        let backend = Backend::of_url(url);
        if backend == Backend::Sqlite && (url.is_empty() || url.contains(":memory:")) {
            // Each pooled connection would get its own empty in-memory database.
            return Err(StoreError::UnsupportedUrl(
                "SQLite needs a file path, not an in-memory database",
            ));
        }
        let url = match backend {
            Backend::Postgres => with_connection_defaults(url),
            Backend::Sqlite => url.to_owned(),
        };
        let manager = ConnectionManager {
            url,
            backend,
            sqlite_busy_timeout: config.sqlite_busy_timeout,
        };
        // One connection first: a permanent error (no such server, not a database)
        // fails here at once instead of being retried by the pool until it times out.
        drop(
            manager
                .connect()
                .map_err(|e| StoreError::Open(e.to_string()))?,
        );
        // While the database is unreachable the pool keeps trying to connect
        // in the background (backing off to half the checkout timeout), so
        // the store recovers by itself once the database is back.
        let pool = Pool::builder()
            .max_size(config.pool_size_max)
            .connection_timeout(config.pool_timeout)
            .error_handler(Box::new(ConnectErrorLog::default()))
            .build(manager)
            .map_err(StoreError::Unavailable)?;
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
        let result = match &mut *conn {
            AnyConnection::Postgresql(pg) => {
                // Several service instances may start at once: one migrates,
                // the others wait and then find nothing pending.
                pg.batch_execute("SELECT pg_advisory_lock(7236554726150660)")?;
                let result = pg.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop);
                pg.batch_execute("SELECT pg_advisory_unlock(7236554726150660)")?;
                result
            }
            AnyConnection::Sqlite(sqlite) => {
                sqlite.run_pending_migrations(SQLITE_MIGRATIONS).map(drop)
            }
        };
        result.map_err(|error| StoreError::Migration(error.to_string()))
    }
}

/// Logs the pool's failures to connect, at most once per
/// [`ConnectErrorLog::INTERVAL`]: while the database is unreachable the pool
/// retries every second or so, and each refused request is logged already.
#[derive(Debug, Default)]
struct ConnectErrorLog {
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl ConnectErrorLog {
    const INTERVAL: Duration = Duration::from_secs(10);
}

impl r2d2::HandleError<r2d2::Error> for ConnectErrorLog {
    fn handle_error(&self, error: r2d2::Error) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|at| at.elapsed() >= Self::INTERVAL) {
            *last = Some(std::time::Instant::now());
            tracing::warn!(error = %error, "cannot connect to the database; retrying");
        }
    }
}

/// Opens connections of the backend the URL names (rather than trying each
/// backend in turn, as `AnyConnection::establish` does) and configures SQLite.
struct ConnectionManager {
    url: String,
    backend: Backend,
    sqlite_busy_timeout: Duration,
}

impl ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => {
                let mut conn =
                    PgConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                // Plan every execution with its own parameters. diesel keeps a
                // prepared statement per query for the connection's lifetime,
                // and PostgreSQL switches a prepared statement to one generic
                // plan after five executions. The ledger starts on empty tables,
                // so that plan was a sequential scan of `notes` for
                // `id = ANY($1)`: kept for good where autovacuum is off (no
                // ANALYZE, no invalidation), it made every batch read the whole
                // table, and the ledger slowed down as the table grew (849 ->
                // 650 -> 484 tx/s over three identical runs). Each statement
                // here serves a whole batch, so planning it each time costs
                // little; and the plan always sees the table's current size.
                conn.batch_execute("SET plan_cache_mode = force_custom_plan")
                    .map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Postgresql(conn))
            }
            Backend::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                // busy_timeout first, so that switching to WAL (which takes a lock)
                // waits for the connections opened beside this one. WAL lets
                // readers run beside the writer; busy_timeout makes a
                // writer wait for the lock instead of failing; SQLite checks
                // foreign keys only when asked, per connection. synchronous=FULL
                // keeps every acknowledged commit across a power loss.
                let busy_ms = self.sqlite_busy_timeout.as_millis();
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {busy_ms}; \
                     PRAGMA journal_mode = WAL; \
                     PRAGMA foreign_keys = ON; \
                     PRAGMA synchronous = FULL;"
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::with_connection_defaults;

    const DEFAULTS: &str = "connect_timeout=2&keepalives=1&keepalives_idle=5&\
                            keepalives_interval=2&keepalives_count=2&tcp_user_timeout=5000";

    #[test]
    fn a_url_without_settings_gets_every_default() {
        assert_eq!(
            with_connection_defaults("postgres://u@h:5432/db"),
            format!("postgres://u@h:5432/db?{DEFAULTS}")
        );
    }

    #[test]
    fn settings_a_url_names_are_kept_and_the_rest_added() {
        assert_eq!(
            with_connection_defaults("postgres://h/db?sslmode=require&connect_timeout=10"),
            "postgres://h/db?sslmode=require&connect_timeout=10&keepalives=1&keepalives_idle=5&\
             keepalives_interval=2&keepalives_count=2&tcp_user_timeout=5000"
        );
        let all = format!("postgresql://h/db?{DEFAULTS}");
        assert_eq!(with_connection_defaults(&all), all);
        assert_eq!(
            with_connection_defaults("postgres://h/db?"),
            format!("postgres://h/db?{DEFAULTS}")
        );
    }

    #[test]
    fn a_setting_is_matched_by_its_whole_name() {
        let url = with_connection_defaults("postgres://h/db?keepalives_idle=30");
        assert!(url.contains("keepalives_idle=30&"), "{url}");
        assert!(url.contains("&keepalives=1&"), "{url}");
        assert!(!url.contains("keepalives_idle=5"), "{url}");
    }
}

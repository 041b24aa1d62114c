//! The gateway's storage: everything it knows, on PostgreSQL (production,
//! tests) or SQLite (devnet), through diesel. Nothing lives only in memory,
//! so any number of replicas of one bank's gateway share one database.
//!
//! The invariants, whatever the concurrency and wherever a process dies:
//!
//! * **A note is reserved by one operation at a time.** Reserving is a
//!   conditional update (`state = 'unspent'` → `'reserved'`) inside the
//!   transaction that locks the paying wallet's row; two payments from one
//!   wallet are serialised on that lock (PostgreSQL row lock, SQLite's write
//!   lock), so they never select the same note and never overdraw.
//! * **Every effect is written with its state change.** An operation moves
//!   `reserved → built → final` (or `failed`); each step is one database
//!   transaction that checks the state it leaves (so two replicas driving the
//!   same operation apply it once) and writes the balances, notes, deposit
//!   entries and history rows of that step.
//! * **A note is credited once.** A note's id is the primary key of `notes`;
//!   the follower and an operation's finalisation both insert it, and only
//!   the insert that lands changes a balance.
//! * **Balances are sums.** A wallet's `balance` is the sum of its unspent and
//!   reserved notes less the amounts its open operations are paying out;
//!   [`Store::reconciliation_rows`] recomputes both sides.

pub mod schema;

use cbdc_db::{AnyConnection, Backend, ConnectionManager, PoolConfig};
use diesel::prelude::*;
use diesel::r2d2::{Pool, PooledConnection};
use diesel::result::Error as DieselError;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};

use schema::*;

const POSTGRES_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../migrations/bank-gateway/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../migrations/bank-gateway/sqlite");
/// The advisory lock a starting gateway migrates under (another number than
/// the ledger's, should both share a database).
const MIGRATION_LOCK: i64 = 7236554726150661;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the gateway's database: {0}")]
    Open(String),
    #[error("database unavailable: {0}")]
    Unavailable(#[source] diesel::r2d2::PoolError),
    #[error("database migrations failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Database(#[from] DieselError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0} is out of range for the database")]
    OutOfRange(&'static str),
}

impl StoreError {
    /// Whether the database could not be reached or the call conflicted
    /// with another writer: trying again later may succeed (a 503).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(e) => {
                cbdc_db::is_connection_lost(e) || cbdc_db::is_write_conflict(e)
            }
            _ => false,
        }
    }
}

/// `u64` → `BIGINT`, refusing what does not fit.
pub fn db_i64(value: u64, field: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange(field))
}

/// `BIGINT` → `u64`, refusing negative values (a corrupt row).
pub fn db_u64(value: i64, field: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {field}")))
}

/// Runs a blocking store call on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Corrupt(format!("a blocking task failed: {e}")))?
}

pub fn now_ms() -> i64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The gateway's store: a pool of connections to one database. Cheap to
/// clone; every method blocks (call from a blocking pool in async code).
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager>,
    backend: Backend,
}

pub type Conn = PooledConnection<ConnectionManager>;

impl Store {
    /// Opens the database at `url` (a `postgres://` URL or a SQLite file) and
    /// applies pending migrations.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let (pool, backend) =
            cbdc_db::open_pool(url, PoolConfig::default()).map_err(|e| match e {
                cbdc_db::OpenError::Pool(e) => StoreError::Unavailable(e),
                other => StoreError::Open(other.to_string()),
            })?;
        let store = Store { pool, backend };
        let mut conn = store.conn()?;
        cbdc_db::migrate(
            &mut conn,
            POSTGRES_MIGRATIONS,
            SQLITE_MIGRATIONS,
            MIGRATION_LOCK,
        )
        .map_err(StoreError::Migration)?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.get().map_err(StoreError::Unavailable)
    }

    /// Runs `f` in one database transaction. On SQLite the write lock is
    /// taken first, so a transaction that reads and then writes waits for
    /// other writers instead of failing with "database is locked".
    pub fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    {
        let mut pooled = self.conn()?;
        let conn: &mut AnyConnection = &mut pooled;
        conn.transaction(|conn| {
            if matches!(conn, AnyConnection::Sqlite(_)) {
                diesel::update(gateway_state::table.filter(gateway_state::name.eq("")))
                    .set(gateway_state::value.eq(""))
                    .execute(conn)?;
            }
            f(conn)
        })
    }

    /// Runs `f` on one connection, outside a transaction.
    pub fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    {
        let mut conn = self.conn()?;
        f(&mut conn)
    }

    /// [`Store::write`] on the blocking pool, for async callers.
    pub async fn write_async<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        blocking(move || store.write(f)).await
    }

    /// [`Store::read`] on the blocking pool, for async callers.
    pub async fn read_async<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        blocking(move || store.read(f)).await
    }

    /// Whether the database answers (for `/readyz`).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            gateway_state::table
                .count()
                .get_result::<i64>(conn)
                .map(drop)
                .map_err(StoreError::from)
        })
    }

    /// Folds SQLite's write-ahead log into the file (at shutdown).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        use diesel::connection::SimpleConnection;
        let mut conn = self.conn()?;
        if let AnyConnection::Sqlite(sqlite) = &mut *conn {
            sqlite.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// gateway_state

pub fn state_get(conn: &mut AnyConnection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(gateway_state::table
        .find(name)
        .select(gateway_state::value)
        .first::<String>(conn)
        .optional()?)
}

pub fn state_set(conn: &mut AnyConnection, name: &str, value: &str) -> Result<(), StoreError> {
    let updated = diesel::update(gateway_state::table.find(name))
        .set(gateway_state::value.eq(value))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(gateway_state::table)
            .values((gateway_state::name.eq(name), gateway_state::value.eq(value)))
            .execute(conn)?;
    }
    Ok(())
}

/// Inserts `name = value` unless `name` is set; returns the value in force.
pub fn state_init(conn: &mut AnyConnection, name: &str, value: &str) -> Result<String, StoreError> {
    if let Some(existing) = state_get(conn, name)? {
        return Ok(existing);
    }
    diesel::insert_into(gateway_state::table)
        .values((gateway_state::name.eq(name), gateway_state::value.eq(value)))
        .execute(conn)?;
    Ok(value.to_string())
}

// ---------------------------------------------------------------------------
// leases

/// Takes or renews the lease `name` for `holder` until `now + ttl_ms`: it is
/// granted when free, expired, or already this holder's.
pub fn lease_take(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    ttl_ms: i64,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let renewed = diesel::update(
        leases::table.filter(
            leases::name
                .eq(name)
                .and(leases::holder.eq(holder).or(leases::expires_ms.lt(now))),
        ),
    )
    .set((
        leases::holder.eq(holder),
        leases::expires_ms.eq(now + ttl_ms),
    ))
    .execute(conn)?;
    if renewed == 1 {
        return Ok(true);
    }
    let exists = leases::table.find(name).count().get_result::<i64>(conn)? > 0;
    if exists {
        return Ok(false);
    }
    let inserted = diesel::insert_into(leases::table)
        .values((
            leases::name.eq(name),
            leases::holder.eq(holder),
            leases::expires_ms.eq(now + ttl_ms),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if cbdc_db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub fn lease_holder(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<(String, i64)>, StoreError> {
    Ok(leases::table
        .find(name)
        .select((leases::holder, leases::expires_ms))
        .first(conn)
        .optional()?)
}

pub fn lease_release(conn: &mut AnyConnection, name: &str, holder: &str) -> Result<(), StoreError> {
    diesel::delete(leases::table.filter(leases::name.eq(name).and(leases::holder.eq(holder))))
        .execute(conn)?;
    Ok(())
}

pub mod bank;
pub mod ops;
pub mod rows;

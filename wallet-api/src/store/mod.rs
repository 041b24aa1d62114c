//! The wallet API's storage on PostgreSQL (production, tests) or SQLite
//! (devnet), through diesel: apps, the wallets it opened and their banks,
//! hashed wallet tokens, idempotency keys and payment requests. Nothing lives
//! only in memory (the rate limiters excepted), so replicas share one
//! database.
//!
//! Invariants:
//!
//! * **A secret is never stored.** App keys and wallet tokens are kept as
//!   SHA-256 only; a token is found by its hash and the hash compared again
//!   in constant time.
//! * **An idempotency key means one request.** `(wallet, key)` is a primary
//!   key holding the hash of the route and body first sent with it.
//! * **A payment request is paid once.** Claiming it is one guarded update
//!   (`state = 'open'` and not expired → `paying`, bound to the payer's
//!   wallet and key); only the claim's holder may move it to `paid` or back
//!   to `open`.

pub mod schema;

use cbdc_db::{AnyConnection, Backend, ConnectionManager, PoolConfig};
use diesel::prelude::*;
use diesel::r2d2::{Pool, PooledConnection};
use diesel::result::Error as DieselError;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};

use schema::*;

const POSTGRES_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../migrations/wallet-api/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/wallet-api/sqlite");
/// The advisory lock a starting wallet API migrates under (not the ledger's
/// nor the gateway's, should they share a database).
const MIGRATION_LOCK: i64 = 7236554726150662;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the wallet API's database: {0}")]
    Open(String),
    #[error("database unavailable: {0}")]
    Unavailable(#[source] diesel::r2d2::PoolError),
    #[error("database migrations failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Database(#[from] DieselError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether trying again later may succeed (a 503).
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

pub fn now_ms() -> i64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager>,
    backend: Backend,
}

pub type Conn = PooledConnection<ConnectionManager>;

impl Store {
    /// Opens the database at `url` (a `postgres://` URL or a SQLite file)
    /// and applies pending migrations.
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

    /// Runs `f` in one database transaction (on SQLite with the write lock
    /// taken first, so a read-then-write waits rather than fails).
    pub fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    {
        let mut pooled = self.conn()?;
        let conn: &mut AnyConnection = &mut pooled;
        conn.transaction(|conn| {
            if matches!(conn, AnyConnection::Sqlite(_)) {
                diesel::update(api_state::table.filter(api_state::name.eq("")))
                    .set(api_state::value.eq(""))
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

    pub async fn write_async<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        blocking(move || store.write(f)).await
    }

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
            api_state::table
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

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Corrupt(format!("a blocking task failed: {e}")))?
}

// ---------------------------------------------------------------------------
// Rows

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = apps)]
pub struct AppRow {
    pub id: String,
    pub name: String,
    pub key_hash: Vec<u8>,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = wallets)]
pub struct WalletRow {
    pub id: String,
    pub app_id: String,
    pub bank_id: String,
    pub gateway_wallet_id: i64,
    pub address: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = wallet_tokens)]
pub struct TokenRow {
    pub hash: Vec<u8>,
    pub wallet_id: String,
    pub app_id: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payment_requests)]
pub struct RequestRow {
    pub id: String,
    pub wallet_id: String,
    pub address: String,
    pub amount: i64,
    pub reference: Option<String>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub state: String,
    pub payer_wallet_id: Option<String>,
    pub payer_key: Option<String>,
    pub claimed_ms: Option<i64>,
    pub payment_id: Option<i64>,
    pub paid_ms: Option<i64>,
}

/// The states of a payment request.
pub mod request_state {
    pub const OPEN: &str = "open";
    pub const PAYING: &str = "paying";
    pub const PAID: &str = "paid";
    pub const CANCELLED: &str = "cancelled";
}

// ---------------------------------------------------------------------------
// Apps

pub fn insert_app(conn: &mut AnyConnection, row: &AppRow) -> Result<(), StoreError> {
    diesel::insert_into(apps::table).values(row).execute(conn)?;
    Ok(())
}

pub fn app(conn: &mut AnyConnection, id: &str) -> Result<Option<AppRow>, StoreError> {
    Ok(apps::table
        .find(id)
        .select(AppRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list_apps(conn: &mut AnyConnection) -> Result<Vec<AppRow>, StoreError> {
    Ok(apps::table
        .order(apps::created_ms.asc())
        .select(AppRow::as_select())
        .load(conn)?)
}

/// Revokes an app and every token issued through it. Returns whether the
/// app exists.
pub fn revoke_app(conn: &mut AnyConnection, id: &str, now: i64) -> Result<bool, StoreError> {
    let found = apps::table.find(id).count().get_result::<i64>(conn)? > 0;
    if found {
        diesel::update(apps::table.find(id).filter(apps::revoked_ms.is_null()))
            .set(apps::revoked_ms.eq(now))
            .execute(conn)?;
        diesel::update(
            wallet_tokens::table
                .filter(wallet_tokens::app_id.eq(id))
                .filter(wallet_tokens::revoked_ms.is_null()),
        )
        .set(wallet_tokens::revoked_ms.eq(now))
        .execute(conn)?;
    }
    Ok(found)
}

// ---------------------------------------------------------------------------
// Wallets and tokens

pub fn insert_wallet(
    conn: &mut AnyConnection,
    wallet: &WalletRow,
    token: &TokenRow,
) -> Result<(), StoreError> {
    diesel::insert_into(wallets::table)
        .values(wallet)
        .execute(conn)?;
    diesel::insert_into(wallet_tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

pub fn wallet(conn: &mut AnyConnection, id: &str) -> Result<Option<WalletRow>, StoreError> {
    Ok(wallets::table
        .find(id)
        .select(WalletRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn token(conn: &mut AnyConnection, hash: &[u8]) -> Result<Option<TokenRow>, StoreError> {
    Ok(wallet_tokens::table
        .find(hash)
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn revoke_token(conn: &mut AnyConnection, hash: &[u8], now: i64) -> Result<(), StoreError> {
    diesel::update(
        wallet_tokens::table
            .find(hash)
            .filter(wallet_tokens::revoked_ms.is_null()),
    )
    .set(wallet_tokens::revoked_ms.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Revokes every token of a wallet; returns how many were live.
pub fn revoke_wallet_tokens(
    conn: &mut AnyConnection,
    wallet_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        wallet_tokens::table
            .filter(wallet_tokens::wallet_id.eq(wallet_id))
            .filter(wallet_tokens::revoked_ms.is_null()),
    )
    .set(wallet_tokens::revoked_ms.eq(now))
    .execute(conn)?)
}

// ---------------------------------------------------------------------------
// Idempotency keys

/// Records `key` for `wallet` with `hash`, or checks it against the hash it
/// was first used with. `true`: this request may go on (new, or the same
/// request again); `false`: the key was used with another request.
pub fn claim_key(
    conn: &mut AnyConnection,
    wallet_id: &str,
    key: &str,
    hash: &[u8],
    now: i64,
) -> Result<bool, StoreError> {
    // In a savepoint: a key inserted already (or by a racing request) is a
    // unique violation that must not abort the enclosing transaction.
    let inserted = conn.transaction(|c| {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::wallet_id.eq(wallet_id),
                idempotency_keys::key.eq(key),
                idempotency_keys::request_hash.eq(hash),
                idempotency_keys::created_ms.eq(now),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => return Ok(true),
        Err(e) if cbdc_db::is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let first: Vec<u8> = idempotency_keys::table
        .find((wallet_id, key))
        .select(idempotency_keys::request_hash)
        .first(conn)?;
    Ok(first == hash)
}

// ---------------------------------------------------------------------------
// Payment requests

pub fn insert_request(conn: &mut AnyConnection, row: &RequestRow) -> Result<(), StoreError> {
    diesel::insert_into(payment_requests::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn request(conn: &mut AnyConnection, id: &str) -> Result<Option<RequestRow>, StoreError> {
    Ok(payment_requests::table
        .find(id)
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn wallet_requests(
    conn: &mut AnyConnection,
    wallet_id: &str,
    state: Option<&str>,
    limit: i64,
) -> Result<Vec<RequestRow>, StoreError> {
    let mut query = payment_requests::table
        .filter(payment_requests::wallet_id.eq(wallet_id))
        .into_boxed();
    if let Some(state) = state {
        query = query.filter(payment_requests::state.eq(state.to_string()));
    }
    Ok(query
        .order(payment_requests::created_ms.desc())
        .limit(limit)
        .select(RequestRow::as_select())
        .load(conn)?)
}

/// The row of request `$id` while `$payer` holds its claim with `$key`.
macro_rules! claimed {
    ($id:expr, $payer:expr, $key:expr) => {
        payment_requests::table
            .find($id)
            .filter(payment_requests::state.eq(request_state::PAYING))
            .filter(payment_requests::payer_wallet_id.eq($payer))
            .filter(payment_requests::payer_key.eq($key))
    };
}

/// Claims an open, unexpired request for `payer` and `key`. Returns whether
/// this call claimed it.
pub fn claim_request(
    conn: &mut AnyConnection,
    id: &str,
    payer: &str,
    key: &str,
    now: i64,
) -> Result<bool, StoreError> {
    use request_state::*;
    Ok(diesel::update(
        payment_requests::table
            .find(id)
            .filter(payment_requests::state.eq(OPEN))
            .filter(payment_requests::expires_ms.gt(now)),
    )
    .set((
        payment_requests::state.eq(PAYING),
        payment_requests::payer_wallet_id.eq(payer),
        payment_requests::payer_key.eq(key),
        payment_requests::claimed_ms.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Records the bank's payment id of a claimed request.
pub fn request_payment_id(
    conn: &mut AnyConnection,
    id: &str,
    payer: &str,
    key: &str,
    payment_id: i64,
) -> Result<(), StoreError> {
    diesel::update(claimed!(id, payer, key))
        .set(payment_requests::payment_id.eq(payment_id))
        .execute(conn)?;
    Ok(())
}

/// A claimed request is paid (its payment final). Returns whether this call
/// moved it (a second call finds it paid already).
pub fn request_paid(
    conn: &mut AnyConnection,
    id: &str,
    payer: &str,
    key: &str,
    payment_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(diesel::update(claimed!(id, payer, key))
        .set((
            payment_requests::state.eq(request_state::PAID),
            payment_requests::payment_id.eq(payment_id),
            payment_requests::paid_ms.eq(now),
        ))
        .execute(conn)?
        == 1)
}

/// The bank refused a claimed request's payment: it is open again.
pub fn request_released(
    conn: &mut AnyConnection,
    id: &str,
    payer: &str,
    key: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::update(claimed!(id, payer, key))
        .set((
            payment_requests::state.eq(request_state::OPEN),
            payment_requests::payer_wallet_id.eq(None::<String>),
            payment_requests::payer_key.eq(None::<String>),
            payment_requests::claimed_ms.eq(None::<i64>),
            payment_requests::payment_id.eq(None::<i64>),
        ))
        .execute(conn)?
        == 1)
}

/// Cancels an open request of `wallet`. Returns whether it was open.
pub fn cancel_request(
    conn: &mut AnyConnection,
    id: &str,
    wallet_id: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        payment_requests::table
            .find(id)
            .filter(payment_requests::wallet_id.eq(wallet_id))
            .filter(payment_requests::state.eq(request_state::OPEN)),
    )
    .set(payment_requests::state.eq(request_state::CANCELLED))
    .execute(conn)?
        == 1)
}

/// Requests claimed before `before` and not yet settled: the resumer's work.
pub fn stale_claims(
    conn: &mut AnyConnection,
    before: i64,
    limit: i64,
) -> Result<Vec<RequestRow>, StoreError> {
    Ok(payment_requests::table
        .filter(payment_requests::state.eq(request_state::PAYING))
        .filter(payment_requests::claimed_ms.lt(before))
        .order(payment_requests::claimed_ms.asc())
        .limit(limit)
        .select(RequestRow::as_select())
        .load(conn)?)
}

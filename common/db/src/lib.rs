//! The database plumbing every cbdc service shares: one diesel connection
//! type that is PostgreSQL or SQLite ([`AnyConnection`]), a pool whose
//! checkouts are bounded in time ([`open_pool`]), libpq settings that keep a
//! connection from waiting on an unreachable server, embedded migrations run
//! under a lock ([`migrate`]), and the classification of diesel's errors
//! (connection lost, write conflict, unique violation) that decides between a
//! 503 and a 4xx.
//!
//! A URL selects the backend: `postgres://` or `postgresql://` is
//! PostgreSQL, anything else a SQLite file path.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, Pool, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

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
pub struct PoolConfig {
    /// Connections kept open at most.
    pub pool_size_max: u32,
    /// How long a caller waits for a connection before `Unavailable`: a free
    /// one, or a new one while the database is unreachable.
    pub pool_timeout: Duration,
    /// How long SQLite waits for another connection's write lock.
    pub sqlite_busy_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            pool_size_max: 8,
            pool_timeout: POOL_TIMEOUT_DEFAULT,
            sqlite_busy_timeout: Duration::from_secs(30),
        }
    }
}

/// `url` with each of [`POSTGRES_CONNECTION_DEFAULTS`] it does not set
/// appended to its query; a setting the URL names is kept as it is.
pub fn with_connection_defaults(url: &str) -> String {
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

/// Why a pool could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The URL is not one a pool can open.
    UnsupportedUrl(&'static str),
    /// The first connection failed (no such server, not a database).
    Connect(String),
    /// The pool could not be built.
    Pool(r2d2::PoolError),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::UnsupportedUrl(why) => write!(f, "unsupported database url: {why}"),
            OpenError::Connect(why) => write!(f, "cannot open the database: {why}"),
            OpenError::Pool(why) => write!(f, "database unavailable: {why}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// Opens a pool on the database at `url`: SQLite needs a file (each pooled
/// connection would get its own empty in-memory database), PostgreSQL URLs
/// get [`POSTGRES_CONNECTION_DEFAULTS`] they do not set. One connection is
/// made first, so a permanent error fails here at once instead of being
/// retried by the pool until it times out; afterwards, while the database
/// is unreachable, the pool keeps trying in the background and recovers by
/// itself once it is back.
pub fn open_pool(
    url: &str,
    config: PoolConfig,
) -> Result<(Pool<ConnectionManager>, Backend), OpenError> {
    let backend = Backend::of_url(url);
    if backend == Backend::Sqlite && (url.is_empty() || url.contains(":memory:")) {
        return Err(OpenError::UnsupportedUrl(
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
    drop(
        manager
            .connect()
            .map_err(|e| OpenError::Connect(e.to_string()))?,
    );
    let pool = Pool::builder()
        .max_size(config.pool_size_max)
        .connection_timeout(config.pool_timeout)
        .error_handler(Box::new(ConnectErrorLog::default()))
        .build(manager)
        .map_err(OpenError::Pool)?;
    Ok((pool, backend))
}

/// Applies the pending migrations of the connection's backend. On
/// PostgreSQL several instances of a service may start at once: the one that
/// takes the advisory lock `lock` migrates, the others wait and then find
/// nothing pending (each service uses its own lock number).
pub fn migrate(
    conn: &mut AnyConnection,
    postgres: EmbeddedMigrations,
    sqlite: EmbeddedMigrations,
    lock: i64,
) -> Result<(), String> {
    match conn {
        AnyConnection::Postgresql(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({lock})"))
                .map_err(|e| e.to_string())?;
            let result = pg.run_pending_migrations(postgres).map(drop);
            pg.batch_execute(&format!("SELECT pg_advisory_unlock({lock})"))
                .map_err(|e| e.to_string())?;
            result.map_err(|e| e.to_string())
        }
        AnyConnection::Sqlite(sqlite_conn) => sqlite_conn
            .run_pending_migrations(sqlite)
            .map(drop)
            .map_err(|e| e.to_string()),
    }
}

/// Logs the pool's failures to connect, at most once per
/// [`ConnectErrorLog::INTERVAL`]: while the database is unreachable the pool
/// retries every second or so, and each refused request is logged already.
#[derive(Debug, Default)]
pub struct ConnectErrorLog {
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
pub struct ConnectionManager {
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

/// PostgreSQL's primary messages of the errors a server sends as it goes
/// away (SQLSTATE class 57P: admin_shutdown, crash_shutdown,
/// cannot_connect_now), and libpq's own when the socket fails. diesel
/// reports these as `Unknown` unless libpq had already marked the
/// connection bad; the messages are untranslated unless `lc_messages` is set
/// to another language.
pub const CONNECTION_LOST_MESSAGES: [&str; 8] = [
    "terminating connection due to administrator command",
    "terminating connection due to immediate shutdown command",
    "terminating connection because of crash of another server process",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "server closed the connection unexpectedly",
    "no connection to the server",
];

/// Whether `error` means the connection to the database broke (or was
/// never there): not a verdict of the database on the statement.
pub fn is_connection_lost(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        )
        | DieselError::BrokenTransactionManager => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            CONNECTION_LOST_MESSAGES
                .iter()
                .any(|lost| message.contains(lost))
                || message.starts_with("could not receive data from server")
                || message.starts_with("could not send data to server")
        }
        // A rollback that fails after a failed commit: the commit's error decides.
        DieselError::RollbackErrorOnCommit { commit_error, .. } => is_connection_lost(commit_error),
        _ => false,
    }
}

/// PostgreSQL's primary message for SQLSTATE 40P01, which diesel reports as
/// `DatabaseErrorKind::Unknown` and does not expose the code of. The server
/// writes it untranslated unless `lc_messages` is set to another language.
const DEADLOCK_MESSAGE: &str = "deadlock detected";

/// A serialization failure (40001) or deadlock (40P01): the transaction was
/// rolled back and running it again is correct.
pub fn is_write_conflict(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            info.message() == DEADLOCK_MESSAGE
        }
        _ => false,
    }
}

/// Whether the error is a violated UNIQUE or PRIMARY KEY constraint.
pub fn is_unique_violation(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Whether the error is a violated FOREIGN KEY constraint.
pub fn is_foreign_key_violation(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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

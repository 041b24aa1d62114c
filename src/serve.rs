//! `cbdc ledger serve`: configuration (file, then environment, then flags),
//! start-up and shutdown.
//!
//! The ledger never creates its block key: it opens the key file it is given or
//! refuses to start naming the path, and an existing journal refuses any key but
//! the one its genesis names. SIGINT and SIGTERM stop it the same way: requests
//! in flight finish, then the SQLite write-ahead log is folded into the database.

use crate::keys;
use anyhow::{bail, Context, Result};
use ledger_core::Amount;
use ledger_service::ledger::{GenesisConfig, Ledger, LedgerConfig};
use ledger_service::metrics::Metrics;
use ledger_service::store::Backend;
use serde::Deserialize;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// A TOML configuration file; environment and flags override it.
    #[arg(long, env = "CBDC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "CBDC_LISTEN")]
    pub listen: Option<String>,
    /// PostgreSQL URL or SQLite file path.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The key file that signs journal blocks. It must exist (`cbdc keygen --out
    /// FILE` makes one); on an existing ledger it must be the key its genesis names.
    #[arg(long, env = "CBDC_BLOCK_KEY")]
    pub block_key: Option<PathBuf>,
    /// Officer approvals an issuance needs; written into the genesis entry of a
    /// new ledger (afterwards the journal's threshold is in force).
    #[arg(long, env = "CBDC_THRESHOLD")]
    pub threshold: Option<usize>,
    /// The first officers, `id=<hex public key>` (repeatable): written into the
    /// genesis entry of a new ledger; on an existing one they must match the
    /// journal (later officers are admitted by governance entries).
    #[arg(long = "officer")]
    pub officers: Vec<String>,
    /// Most money, in minor units, that may ever be outstanding; fixed by the
    /// genesis entry of a new ledger.
    #[arg(long, env = "CBDC_SUPPLY_CEILING")]
    pub supply_ceiling: Option<u64>,
    /// Run a full audit in the background after this many new blocks (0: never).
    #[arg(long, env = "CBDC_AUDIT_EVERY_BLOCKS")]
    pub audit_every_blocks: Option<u64>,
    /// HTTP worker threads (default: the number of cores).
    #[arg(long, env = "CBDC_WORKERS")]
    pub workers: Option<usize>,
}

/// The configuration file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub block_key: Option<PathBuf>,
    pub threshold: Option<usize>,
    pub workers: Option<usize>,
    pub supply_ceiling: Option<u64>,
    pub audit_every_blocks: Option<u64>,
    #[serde(default)]
    pub officers: Vec<OfficerConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficerConfig {
    pub id: String,
    pub name: Option<String>,
    pub key: String,
}

/// Reads a TOML configuration file (`cbdc ledger serve`, `cbdc gateway
/// serve`); a mistake is one line naming the file and the line. (toml's own
/// `Display` draws the offending line over several lines.)
pub fn read_config<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map_or(0, |span| text[..span.start].matches('\n').count() + 1);
        anyhow::anyhow!(
            "{} is not a valid configuration (line {line}): {}",
            path.display(),
            e.message().trim_end().replace('\n', "; ")
        )
    })
}

pub struct Settings {
    pub listen: String,
    pub database_url: String,
    pub block_key: PathBuf,
    pub threshold: usize,
    pub workers: usize,
    pub officers: Vec<OfficerConfig>,
    pub supply_ceiling: u64,
    pub audit_every_blocks: u64,
}

impl ServeArgs {
    pub fn settings(self) -> Result<Settings> {
        let file: FileConfig = match &self.config {
            Some(path) => read_config(path)?,
            None => FileConfig::default(),
        };
        let mut officers = file.officers;
        for spec in self.officers {
            let Some((id, key)) = spec.split_once('=') else {
                bail!("--officer is `id=<hex public key>`, got `{spec}`");
            };
            officers.push(OfficerConfig {
                id: id.to_string(),
                name: None,
                key: key.to_string(),
            });
        }
        let threshold = self.threshold.or(file.threshold).unwrap_or(2);
        if threshold == 0 {
            bail!("the issuance threshold must be at least 1");
        }
        Ok(Settings {
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:7400".into()),
            database_url: self.database_url.or(file.database_url).context(
                "no database: set --database-url, DATABASE_URL or database_url in the config file",
            )?,
            block_key: self.block_key.or(file.block_key).context(
                "no block key: set --block-key, CBDC_BLOCK_KEY or block_key in the config file",
            )?,
            threshold,
            workers: self
                .workers
                .or(file.workers)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
            officers,
            supply_ceiling: self
                .supply_ceiling
                .or(file.supply_ceiling)
                .unwrap_or(ledger_service::ledger::SUPPLY_CEILING_DEFAULT),
            audit_every_blocks: self
                .audit_every_blocks
                .or(file.audit_every_blocks)
                .unwrap_or(ledger_service::ledger::AUDIT_EVERY_BLOCKS_DEFAULT),
        })
    }
}

/// Fails fast on a SQLite path that cannot hold a ledger, where the connection pool
/// would otherwise retry for its whole timeout (30 s of log lines): the directory must
/// exist and an existing file must be a SQLite database. With `must_exist` a missing
/// file is an error too, so auditing a mistyped path does not create an empty ledger
/// and pass. PostgreSQL URLs and SQLite `file:` URIs are left to the store.
pub fn check_sqlite_path(url: &str, must_exist: bool) -> Result<()> {
    if Backend::of_url(url) != Backend::Sqlite || url.starts_with("file:") {
        return Ok(());
    }
    let path = Path::new(url);
    match std::fs::File::open(path) {
        Ok(file) => {
            let mut head = Vec::new();
            file.take(16)
                .read_to_end(&mut head)
                .with_context(|| format!("reading the database {url}"))?;
            // SQLite takes a zero-length file for an empty database.
            if !head.is_empty() && head != b"SQLite format 3\0" {
                bail!("{url} is not a SQLite database");
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if must_exist {
                bail!("no database at {url}: the file does not exist");
            }
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                bail!(
                    "cannot create the database {url}: the directory {} does not exist",
                    parent.display()
                );
            }
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("opening the database {url}")),
    }
}

/// Opens the ledger: founds a new journal with a genesis entry naming the
/// configured officers, threshold and supply ceiling, or checks the configured
/// officers against an existing journal's.
///
/// The block key is read before the database is opened, so a missing or bad key
/// file leaves no trace (not even a new SQLite file).
pub fn open_ledger(settings: &Settings) -> Result<Arc<Ledger>> {
    check_sqlite_path(&settings.database_url, false)?;
    let officers = settings
        .officers
        .iter()
        .map(|officer| {
            Ok((
                officer.id.clone(),
                officer.name.clone().unwrap_or_else(|| officer.id.clone()),
                crate::parse_public_key(&officer.key)
                    .with_context(|| format!("officer {}", officer.id))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let key_path = settings.block_key.display();
    if !settings.block_key.exists() {
        bail!(
            "no block key file at {key_path}: a ledger never creates its key (for a new \
             ledger make one with `cbdc keygen --out {key_path}`; an existing ledger needs \
             the key file it was founded with)"
        );
    }
    let block_key = keys::load_signing(&settings.block_key).context("the ledger's block key")?;
    let genesis = GenesisConfig {
        officers: officers.clone(),
        threshold: settings.threshold,
        supply_ceiling: Amount::new(settings.supply_ceiling),
    };
    let fresh = ledger_service::store::Store::open(&settings.database_url)
        .map_err(|e| anyhow::anyhow!("opening the ledger database: {e}"))?
        .block(0)
        .map_err(|e| anyhow::anyhow!("reading the ledger database: {e}"))?
        .is_none();
    if fresh && officers.is_empty() {
        bail!(
            "a new ledger's genesis names its first officers: give at least one \
             --officer id=<hex public key> (or officers in the config file)"
        );
    }
    let mut config = LedgerConfig::new(settings.database_url.clone(), block_key, genesis);
    config.audit_every_blocks = settings.audit_every_blocks;
    let ledger = Ledger::open(config, Metrics::new())
        .map_err(|e| anyhow::anyhow!("opening the ledger with block key file {key_path}: {e}"))?;
    Ok(ledger)
}

pub fn bind(listen: &str) -> Result<TcpListener> {
    TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen} (is another ledger running?)"))
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from the moment this is made (so
/// one that arrives early is not lost to the default action, which kills).
pub struct Shutdown {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    pub fn listen() -> Result<Shutdown> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Shutdown {
                interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    /// Waits for a signal; returns its name.
    pub async fn signalled(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Waits for the HTTP server's task (`serving`) until it stops by itself or
/// `shutdown` fires; then stops it with `stop` (gracefully: requests in flight
/// finish) and waits for it. The task is awaited exactly once either way:
/// actix also stops on these signals by itself, so either arm can be the one
/// that sees it end (awaiting a finished `JoinHandle` again panics).
/// Returns the signal that stopped it, if one did.
pub async fn serve_until_shutdown<F>(
    mut serving: tokio::task::JoinHandle<std::io::Result<()>>,
    stop: impl FnOnce() -> F,
    mut shutdown: Shutdown,
) -> Result<Option<&'static str>>
where
    F: std::future::Future<Output = ()>,
{
    let (result, signal) = tokio::select! {
        result = &mut serving => (result, None),
        signal = shutdown.signalled() => {
            tracing::info!("{signal}: stopping (requests in flight finish first)");
            stop().await;
            (serving.await, Some(signal))
        }
    };
    result
        .context("the HTTP server's task failed")?
        .context("the HTTP server failed")?;
    Ok(signal)
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let settings = args.settings()?;
    // The address first: a ledger that cannot listen must not found a journal.
    let listener = bind(&settings.listen)?;
    let ledger = open_ledger(&settings)?;
    let shutdown = Shutdown::listen()?;
    tracing::info!(listen = %settings.listen, ledger_key = %hex::encode(ledger.public_key().as_bytes()), "ledger serving");
    let store = ledger.store().clone();
    let server = ledger_service::server::serve(ledger, listener, settings.workers)?;
    let handle = server.handle();
    let serving = tokio::spawn(server);
    serve_until_shutdown(
        serving,
        move || async move { handle.stop(true).await },
        shutdown,
    )
    .await?;
    // The write-ahead log folded back: the database file alone is the ledger.
    store.checkpoint()?;
    tracing::info!("ledger stopped; database checkpointed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example configuration at the repository's root is one the ledger
    /// reads, and it shows every setting the file may hold.
    #[test]
    fn the_example_configuration_parses_and_names_every_setting() {
        let text = include_str!("../ledger.example.toml");
        let example: FileConfig = toml::from_str(text).expect("ledger.example.toml parses");
        // Destructured without `..`: a new setting fails to compile here until
        // the example (and this list) shows it.
        let FileConfig {
            listen,
            database_url,
            block_key,
            threshold,
            workers,
            supply_ceiling,
            audit_every_blocks,
            officers,
        } = example;
        let set = [
            ("listen", listen.is_some()),
            ("database_url", database_url.is_some()),
            ("block_key", block_key.is_some()),
            ("threshold", threshold.is_some()),
            ("workers", workers.is_some()),
            ("supply_ceiling", supply_ceiling.is_some()),
            ("audit_every_blocks", audit_every_blocks.is_some()),
            ("officers", !officers.is_empty()),
        ];
        let missing: Vec<&str> = set
            .iter()
            .filter(|(_, present)| !present)
            .map(|(name, _)| *name)
            .collect();
        assert!(
            missing.is_empty(),
            "not in ledger.example.toml: {missing:?}"
        );
        assert!(officers.iter().any(|officer| officer.name.is_some()));
        assert_eq!(
            supply_ceiling,
            Some(ledger_service::ledger::SUPPLY_CEILING_DEFAULT)
        );
        assert_eq!(
            audit_every_blocks,
            Some(ledger_service::ledger::AUDIT_EVERY_BLOCKS_DEFAULT)
        );
        // Every setting is explained: a comment right above it.
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let is_setting = line.contains(" = ") && !line.starts_with('#');
            if is_setting
                && !matches!(*line, l if l.starts_with("id ") || l.starts_with("name ") || l.starts_with("key "))
            {
                assert!(
                    i > 0 && lines[i - 1].starts_with('#'),
                    "ledger.example.toml: `{line}` has no comment above it"
                );
            }
        }
    }
}

//! `cbdc ledger serve`: configuration (file, then environment, then flags) and start-up.

use crate::keys;
use anyhow::{bail, Context, Result};
use ledger_service::ledger::{Ledger, LedgerConfig};
use ledger_service::metrics::Metrics;
use ledger_service::store::{Backend, NewParticipant, Role, StoreError};
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
    /// The key file that signs journal blocks (created if missing).
    #[arg(long, env = "CBDC_BLOCK_KEY")]
    pub block_key: Option<PathBuf>,
    /// Officer approvals an issuance needs.
    #[arg(long, env = "CBDC_THRESHOLD")]
    pub threshold: Option<usize>,
    /// Officers to register at start if absent: `id=<hex public key>` (repeatable).
    #[arg(long = "officer")]
    pub officers: Vec<String>,
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

pub struct Settings {
    pub listen: String,
    pub database_url: String,
    pub block_key: PathBuf,
    pub threshold: usize,
    pub workers: usize,
    pub officers: Vec<OfficerConfig>,
}

impl ServeArgs {
    pub fn settings(self) -> Result<Settings> {
        let file: FileConfig = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                // toml's own Display draws the offending line over several lines;
                // errors here are one line.
                toml::from_str(&text).map_err(|e| {
                    let line = e
                        .span()
                        .map_or(0, |span| text[..span.start].matches('\n').count() + 1);
                    anyhow::anyhow!(
                        "{} is not a valid configuration (line {line}): {}",
                        path.display(),
                        e.message().trim_end().replace('\n', "; ")
                    )
                })?
            }
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

/// Opens the ledger and registers the configured officers that are not yet known.
pub fn open_ledger(settings: &Settings) -> Result<Arc<Ledger>> {
    check_sqlite_path(&settings.database_url, false)?;
    let block_key = keys::signing_or_create(&settings.block_key)?;
    let ledger = Ledger::open(
        LedgerConfig::new(settings.database_url.clone(), block_key, settings.threshold),
        Metrics::new(),
    )
    .with_context(|| "opening the ledger database".to_string())?;
    for officer in &settings.officers {
        let key = crate::parse_public_key(&officer.key)?;
        let admitted = ledger.store().admit_participant(&NewParticipant {
            id: officer.id.clone(),
            name: officer.name.clone().unwrap_or_else(|| officer.id.clone()),
            role: Role::Officer,
            spend_public_key: key.to_bytes(),
            view_public_key: None,
            created_at_unix_ms: ledger_service::ledger::now_ms(),
        });
        match admitted {
            Ok(_) => tracing::info!(officer = %officer.id, "registered officer"),
            Err(StoreError::ParticipantExists) => {}
            Err(e) => return Err(e).context(format!("registering officer {}", officer.id)),
        }
    }
    Ok(ledger)
}

pub fn bind(listen: &str) -> Result<TcpListener> {
    TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen} (is another ledger running?)"))
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let settings = args.settings()?;
    let ledger = open_ledger(&settings)?;
    let listener = bind(&settings.listen)?;
    tracing::info!(listen = %settings.listen, ledger_key = %hex::encode(ledger.public_key().as_bytes()), "ledger serving");
    let store = ledger.store().clone();
    // actix stops on SIGINT/SIGTERM; then the write-ahead log is folded back.
    ledger_service::server::serve(ledger, listener, settings.workers)?.await?;
    store.checkpoint()?;
    Ok(())
}

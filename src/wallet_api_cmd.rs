//! `cbdc wallet-api serve | app add | app list | app revoke`: the retail
//! front door.
//!
//! Configuration comes from a TOML file (`--config`,
//! `CBDC_WALLET_API_CONFIG`), then `CBDC_WALLET_API_*` environment
//! variables, then flags (see `wallet-api.example.toml`). A bank's internal
//! token may also come from `CBDC_WALLET_API_BANK_TOKEN_<ID>` (the bank id
//! upper-cased, `-` as `_`), so it can live in a secret store rather than
//! the file.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use wallet_api::config::{BankRoute, Rate, WalletApiConfig};

#[derive(clap::Subcommand, Debug)]
pub enum WalletApiCommand {
    /// Run the wallet API.
    Serve(Box<ServeArgs>),
    /// Wallet apps: register, list, revoke (through the operator API).
    App {
        #[command(subcommand)]
        command: AppCommand,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum AppCommand {
    /// Register a wallet app and print its key (shown once).
    Add {
        #[command(flatten)]
        operator: OperatorArgs,
        /// The app's name.
        #[arg(long)]
        name: String,
    },
    /// List the registered apps.
    List {
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// Revoke an app: its key and every wallet token issued through it.
    Revoke {
        #[command(flatten)]
        operator: OperatorArgs,
        /// The app's id (`app_…`).
        #[arg(long)]
        app: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct OperatorArgs {
    /// The wallet API's base URL.
    #[arg(
        long,
        env = "CBDC_WALLET_API_URL",
        default_value = "http://127.0.0.1:7600"
    )]
    pub url: String,
    /// An operator token of the wallet API.
    #[arg(long, env = "CBDC_WALLET_API_OPERATOR_TOKEN", hide_env_values = true)]
    pub token: String,
}

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// A TOML configuration file; environment and flags override it.
    #[arg(long, env = "CBDC_WALLET_API_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "CBDC_WALLET_API_LISTEN")]
    pub listen: Option<String>,
    /// The wallet API's database: a PostgreSQL URL or a SQLite file path.
    #[arg(long, env = "CBDC_WALLET_API_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A bearer token of the operator API (repeatable).
    #[arg(
        long = "operator-token",
        env = "CBDC_WALLET_API_OPERATOR_TOKEN",
        hide_env_values = true
    )]
    pub operator_tokens: Vec<String>,
    /// A bank and its gateway, `ID=URL` (repeatable; its token from the
    /// file or `CBDC_WALLET_API_BANK_TOKEN_<ID>`).
    #[arg(long = "bank")]
    pub banks: Vec<String>,
    /// This replica's name (logs).
    #[arg(long, env = "CBDC_WALLET_API_REPLICA")]
    pub replica: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    #[serde(default)]
    operator_tokens: Vec<String>,
    #[serde(default)]
    banks: Vec<BankFile>,
    token_ttl_s: Option<u64>,
    app_rate: Option<RateFile>,
    token_rate: Option<RateFile>,
    gateway_timeout_ms: Option<u64>,
    poll_interval_ms: Option<u64>,
    max_streams: Option<usize>,
    replica: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BankFile {
    id: String,
    name: Option<String>,
    url: String,
    internal_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateFile {
    per_second: u32,
    burst: u32,
}

/// The environment variable that may hold a bank's internal token.
pub fn bank_token_var(bank: &str) -> String {
    format!(
        "CBDC_WALLET_API_BANK_TOKEN_{}",
        bank.to_ascii_uppercase().replace('-', "_")
    )
}

pub struct Settings {
    pub config: WalletApiConfig,
    pub database_url: String,
    pub listen: String,
}

impl ServeArgs {
    pub fn settings(self) -> Result<Settings> {
        let file: FileConfig = match &self.config {
            Some(path) => crate::serve::read_config(path)?,
            None => FileConfig::default(),
        };
        let mut banks: Vec<BankFile> = file.banks;
        for flag in &self.banks {
            let (id, url) = flag
                .split_once('=')
                .with_context(|| format!("--bank {flag}: write ID=URL"))?;
            match banks.iter_mut().find(|b| b.id == id) {
                Some(bank) => bank.url = url.to_string(),
                None => banks.push(BankFile {
                    id: id.to_string(),
                    name: None,
                    url: url.to_string(),
                    internal_token: None,
                }),
            }
        }
        let banks = banks
            .into_iter()
            .map(|b| {
                let var = bank_token_var(&b.id);
                let token = std::env::var(&var)
                    .ok()
                    .or(b.internal_token)
                    .with_context(|| {
                        format!(
                            "bank {}: no internal token (set internal_token in the file or {var})",
                            b.id
                        )
                    })?;
                Ok(BankRoute {
                    name: b.name.unwrap_or_else(|| b.id.clone()),
                    id: b.id,
                    url: b.url,
                    internal_token: token,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut operator = file.operator_tokens;
        operator.extend(self.operator_tokens);
        if operator.is_empty() {
            bail!(
                "set at least one operator token (--operator-token, CBDC_WALLET_API_OPERATOR_TOKEN \
                 or operator_tokens in the config file)"
            );
        }
        let mut config = WalletApiConfig::new(banks, operator);
        if let Some(s) = file.token_ttl_s {
            config.token_ttl = Duration::from_secs(s);
        }
        if let Some(r) = file.app_rate {
            config.app_rate = Rate {
                per_second: r.per_second,
                burst: r.burst,
            };
        }
        if let Some(r) = file.token_rate {
            config.token_rate = Rate {
                per_second: r.per_second,
                burst: r.burst,
            };
        }
        if let Some(ms) = file.gateway_timeout_ms {
            config.gateway_timeout = Duration::from_millis(ms.max(100));
        }
        if let Some(ms) = file.poll_interval_ms {
            config.poll_interval = Duration::from_millis(ms.clamp(50, 10_000));
        }
        if let Some(n) = file.max_streams {
            config.max_streams = n;
        }
        if let Some(replica) = self.replica.or(file.replica) {
            config.replica = replica;
        }
        config.check().map_err(anyhow::Error::msg)?;
        Ok(Settings {
            config,
            database_url: self.database_url.or(file.database_url).context(
                "no database: set --database-url, CBDC_WALLET_API_DATABASE_URL or database_url",
            )?,
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:7600".into()),
        })
    }
}

pub async fn run(command: WalletApiCommand) -> Result<()> {
    match command {
        WalletApiCommand::Serve(args) => {
            let settings = (*args).settings()?;
            let mut shutdown = crate::serve::Shutdown::listen()?;
            let listener = std::net::TcpListener::bind(&settings.listen)
                .with_context(|| format!("cannot listen on {}", settings.listen))?;
            let running =
                wallet_api::server::start(settings.config, &settings.database_url, listener)
                    .await?;
            println!("wallet API listening on {}", running.base());
            let signal = shutdown.signalled().await;
            tracing::info!(signal, "stopping the wallet API");
            running.stop().await;
            Ok(())
        }
        WalletApiCommand::App { command } => {
            let (operator, method, path, body) = match &command {
                AppCommand::Add { operator, name } => (
                    operator,
                    reqwest::Method::POST,
                    "/v1/operator/apps".to_string(),
                    Some(serde_json::json!({ "name": name })),
                ),
                AppCommand::List { operator } => (
                    operator,
                    reqwest::Method::GET,
                    "/v1/operator/apps".to_string(),
                    None,
                ),
                AppCommand::Revoke { operator, app } => (
                    operator,
                    reqwest::Method::POST,
                    format!("/v1/operator/apps/{app}/revoke"),
                    None,
                ),
            };
            let answer = crate::gateway_cmd::operator_call(
                "the wallet API",
                &operator.url,
                &operator.token,
                method,
                &path,
                body,
                Duration::from_secs(30),
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example file parses, names every setting the file may hold, and
    /// makes a configuration the service accepts.
    #[test]
    fn the_example_file_is_a_valid_configuration_naming_every_setting() {
        let text = include_str!("../wallet-api.example.toml");
        // Commented-out settings count as named.
        let uncommented: String = text
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|r| r.contains(" = "))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let file: FileConfig = toml::from_str(&uncommented).expect("the example parses");
        assert_eq!(file.banks.len(), 2);
        for name in [
            "listen",
            "database_url",
            "operator_tokens",
            "token_ttl_s",
            "app_rate",
            "token_rate",
            "gateway_timeout_ms",
            "poll_interval_ms",
            "max_streams",
            "replica",
        ] {
            assert!(
                uncommented
                    .lines()
                    .any(|l| l.starts_with(&format!("{name} = "))
                        || l.starts_with(&format!("[{name}]"))),
                "wallet-api.example.toml does not name {name}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet-api.toml");
        std::fs::write(&path, &uncommented).unwrap();
        let settings = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        }
        .settings()
        .expect("the example is a valid configuration");
        assert_eq!(settings.config.banks[0].id, "bank-a");
        assert_eq!(settings.config.token_ttl, Duration::from_secs(2_592_000));
        assert_eq!(settings.listen, "127.0.0.1:7600");
    }

    #[test]
    fn a_bank_without_a_token_or_a_bad_flag_is_refused_with_its_name() {
        let error = ServeArgs {
            database_url: Some("x.sqlite".into()),
            operator_tokens: vec!["an-operator-token-of-length".into()],
            banks: vec!["bank-zz-untokened=http://127.0.0.1:1".into()],
            ..ServeArgs::default()
        }
        .settings()
        .err()
        .expect("refused");
        let text = format!("{error:#}");
        assert!(
            text.contains("bank-zz-untokened")
                && text.contains("CBDC_WALLET_API_BANK_TOKEN_BANK_ZZ_UNTOKENED"),
            "{text}"
        );
        let error = ServeArgs {
            banks: vec!["no-equals-sign".into()],
            ..ServeArgs::default()
        }
        .settings()
        .err()
        .expect("refused");
        assert!(format!("{error:#}").contains("ID=URL"));
    }
}

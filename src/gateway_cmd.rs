//! `cbdc gateway serve | position | reconcile`: a commercial bank's gateway.
//!
//! Configuration comes from a TOML file (`--config`, `CBDC_GATEWAY_CONFIG`),
//! then `CBDC_GATEWAY_*` environment variables, then flags (see
//! `gateway.example.toml`).

use crate::keys;
use anyhow::{bail, Context, Result};
use bank_gateway::config::{FloatPolicy, GatewayConfig, Keks, TierLimits, Tiers};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

#[derive(clap::Subcommand, Debug)]
pub enum GatewayCommand {
    /// Run a bank's gateway.
    Serve(Box<ServeArgs>),
    /// Print the bank's position proof (JSON) for `cbdc audit --position`.
    Position(ReportArgs),
    /// Print the reconciliation report; exits 1 if it finds a difference.
    Reconcile(ReportArgs),
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The gateway's base URL.
    #[arg(
        long,
        env = "CBDC_GATEWAY_URL",
        default_value = "http://127.0.0.1:7500"
    )]
    pub gateway: String,
    /// An operator token of the gateway.
    #[arg(long, env = "CBDC_GATEWAY_OPERATOR_TOKEN")]
    pub token: String,
}

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// A TOML configuration file; environment and flags override it.
    #[arg(long, env = "CBDC_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "CBDC_GATEWAY_LISTEN")]
    pub listen: Option<String>,
    /// The gateway's database: a PostgreSQL URL or a SQLite file path.
    #[arg(long, env = "CBDC_GATEWAY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The bank's participant id on the ledger.
    #[arg(long, env = "CBDC_GATEWAY_BANK_ID")]
    pub bank_id: Option<String>,
    /// The bank's wallet key file (`cbdc keygen --wallet`): its spend key
    /// signs requests to the ledger and owns the float.
    #[arg(long, env = "CBDC_GATEWAY_BANK_KEYS")]
    pub bank_keys: Option<PathBuf>,
    /// The ledger's base URL.
    #[arg(long, env = "CBDC_GATEWAY_LEDGER_URL")]
    pub ledger_url: Option<String>,
    /// The ledger's block key (hex); without it the key the ledger presents
    /// first is pinned in the database.
    #[arg(long, env = "CBDC_GATEWAY_LEDGER_KEY")]
    pub ledger_key: Option<String>,
    /// The key-encryption key of custodial wallet keys, 64 hex characters.
    #[arg(long, env = "CBDC_GATEWAY_KEK", hide_env_values = true)]
    pub kek: Option<String>,
    /// The KEK's id (stored with every sealed key).
    #[arg(long, env = "CBDC_GATEWAY_KEK_ID")]
    pub kek_id: Option<String>,
    /// A bearer token of the operator API (repeatable).
    #[arg(
        long = "operator-token",
        env = "CBDC_GATEWAY_OPERATOR_TOKEN",
        hide_env_values = true
    )]
    pub operator_tokens: Vec<String>,
    /// A bearer token of the internal API (repeatable).
    #[arg(
        long = "internal-token",
        env = "CBDC_GATEWAY_INTERNAL_TOKEN",
        hide_env_values = true
    )]
    pub internal_tokens: Vec<String>,
    /// This replica's name (leases and logs).
    #[arg(long, env = "CBDC_GATEWAY_REPLICA")]
    pub replica: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    bank_id: Option<String>,
    bank_keys: Option<PathBuf>,
    ledger_url: Option<String>,
    ledger_key: Option<String>,
    ledger_timeout_ms: Option<u64>,
    kek: Option<String>,
    kek_id: Option<String>,
    #[serde(default)]
    previous_keks: BTreeMap<String, String>,
    #[serde(default)]
    operator_tokens: Vec<String>,
    #[serde(default)]
    internal_tokens: Vec<String>,
    replica: Option<String>,
    follower_lease_ms: Option<u64>,
    float: Option<FloatFile>,
    tier_order: Option<Vec<String>>,
    tiers: Option<BTreeMap<String, TierLimits>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloatFile {
    low: u64,
    high: u64,
    target: u64,
}

fn hex32(what: &str, text: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out)
        .map_err(|_| anyhow::anyhow!("{what} is 64 hex characters"))?;
    Ok(out)
}

pub struct Settings {
    pub config: GatewayConfig,
    pub database_url: String,
    pub listen: String,
}

impl ServeArgs {
    pub fn settings(self) -> Result<Settings> {
        let file: FileConfig = match &self.config {
            Some(path) => crate::serve::read_config(path)?,
            None => FileConfig::default(),
        };
        let bank_id = self.bank_id.or(file.bank_id).context(
            "no bank id: set --bank-id, CBDC_GATEWAY_BANK_ID or bank_id in the config file",
        )?;
        let keys_path = self.bank_keys.or(file.bank_keys).context(
            "no bank keys: set --bank-keys, CBDC_GATEWAY_BANK_KEYS or bank_keys (a wallet key file from `cbdc keygen --wallet`)",
        )?;
        let bank = keys::load_wallet(&keys_path)?;
        let ledger_url = self
            .ledger_url
            .or(file.ledger_url)
            .unwrap_or_else(|| "http://127.0.0.1:7400".into());
        let kek = self.kek.or(file.kek).context(
            "no key-encryption key: set --kek, CBDC_GATEWAY_KEK or kek (64 hex characters) — it seals the customers' wallet keys",
        )?;
        let kek = hex32("the key-encryption key", &kek)?;
        let mut config = GatewayConfig::new(&bank_id, &ledger_url, bank, kek);
        config.keks = Keks {
            current_id: self.kek_id.or(file.kek_id).unwrap_or_else(|| "k1".into()),
            current: Zeroizing::new(kek),
            previous: file
                .previous_keks
                .iter()
                .map(|(id, key)| Ok((id.clone(), Zeroizing::new(hex32("a previous KEK", key)?))))
                .collect::<Result<_>>()?,
        };
        if let Some(key) = self.ledger_key.or(file.ledger_key) {
            let bytes = hex32("the ledger key", &key)?;
            config.ledger_key = Some(
                ledger_core::PublicKey::from_bytes(&bytes)
                    .map_err(|e| anyhow::anyhow!("the ledger key is not a public key: {e}"))?,
            );
        }
        let mut operator = file.operator_tokens;
        operator.extend(self.operator_tokens);
        let mut internal = file.internal_tokens;
        internal.extend(self.internal_tokens);
        for token in operator.iter().chain(&internal) {
            if token.len() < 16 {
                bail!("API tokens are at least 16 characters");
            }
        }
        if operator.is_empty() || internal.is_empty() {
            bail!(
                "set at least one operator token and one internal token (--operator-token, \
                 --internal-token or the config file)"
            );
        }
        config.operator_tokens = operator;
        config.internal_tokens = internal;
        if let Some(ms) = file.ledger_timeout_ms {
            config.ledger_timeout = Duration::from_millis(ms.max(100));
        }
        if let Some(ms) = file.follower_lease_ms {
            config.follower_lease = Duration::from_millis(ms.max(500));
        }
        if let Some(float) = file.float {
            config.float = FloatPolicy {
                low: float.low,
                high: float.high,
                target: float.target,
            };
            if float.high > 0 && float.low > float.high
                || float.target < float.low
                || (float.high > 0 && float.target > float.high)
            {
                bail!("the float thresholds need low <= target <= high (high 0: no redemption)");
            }
        }
        if let Some(tiers) = file.tiers {
            config.tiers = Tiers {
                order: file
                    .tier_order
                    .unwrap_or_else(|| tiers.keys().cloned().collect()),
                limits: tiers,
            };
        }
        config.tiers.check().map_err(anyhow::Error::msg)?;
        if let Some(replica) = self.replica.or(file.replica) {
            config.replica = replica;
        }
        Ok(Settings {
            config,
            database_url: self.database_url.or(file.database_url).context(
                "no database: set --database-url, CBDC_GATEWAY_DATABASE_URL or database_url",
            )?,
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:7500".into()),
        })
    }
}

pub async fn run(command: GatewayCommand) -> Result<()> {
    match command {
        GatewayCommand::Serve(args) => {
            let settings = (*args).settings()?;
            let mut shutdown = crate::serve::Shutdown::listen()?;
            let listener = std::net::TcpListener::bind(&settings.listen)
                .with_context(|| format!("cannot listen on {}", settings.listen))?;
            let running =
                bank_gateway::server::start(settings.config, &settings.database_url, listener)
                    .await?;
            println!("gateway listening on {}", running.base());
            let signal = shutdown.signalled().await;
            tracing::info!(signal, "stopping the gateway");
            running.stop().await;
            Ok(())
        }
        GatewayCommand::Position(args) => {
            let answer = operator_get(&args, "/v1/operator/position").await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(())
        }
        GatewayCommand::Reconcile(args) => {
            let answer = operator_get(&args, "/v1/operator/reconciliation").await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            if answer["ok"] != true {
                bail!("the reconciliation found differences (listed above)");
            }
            Ok(())
        }
    }
}

async fn operator_get(args: &ReportArgs, path: &str) -> Result<serde_json::Value> {
    operator_call(
        "the gateway",
        &args.gateway,
        &args.token,
        reqwest::Method::GET,
        path,
        None,
        Duration::from_secs(600),
    )
    .await
}

/// One call to a service's operator API with a bearer token: its JSON
/// answer, or an error naming the service, the URL, and the status, code
/// and message it answered.
pub async fn operator_call(
    service: &str,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
    timeout: Duration,
) -> Result<serde_json::Value> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let mut request = reqwest::Client::new()
        .request(method, &url)
        .bearer_auth(token)
        .timeout(timeout);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {service} at {url}"))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("{service}'s answer from {url} is not JSON"))?;
    if !status.is_success() {
        bail!(
            "{service} answered {status}: {} {}",
            body["code"],
            body["message"]
        );
    }
    Ok(body)
}

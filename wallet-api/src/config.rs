//! What a wallet API is configured with: the banks it routes to (each
//! gateway's URL and a token of its internal API), the operator's tokens,
//! how long wallet tokens live, and the rate limits.

use std::time::Duration;

/// A bank wallets can be opened at, and how to reach its gateway.
#[derive(Debug, Clone)]
pub struct BankRoute {
    /// The bank's id (its participant id on the ledger).
    pub id: String,
    /// Its name as apps show it.
    pub name: String,
    /// The gateway's base URL.
    pub url: String,
    /// A token of the gateway's internal API.
    pub internal_token: String,
}

/// A token bucket: `per_second` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

#[derive(Debug, Clone)]
pub struct WalletApiConfig {
    pub banks: Vec<BankRoute>,
    /// Bearer tokens of the operator API.
    pub operator_tokens: Vec<String>,
    /// How long a wallet token is valid.
    pub token_ttl: Duration,
    /// Requests per app, and per wallet token.
    pub app_rate: Rate,
    pub token_rate: Rate,
    /// The deadline of one call to a gateway.
    pub gateway_timeout: Duration,
    /// How often a notification stream asks the wallet's gateway for new
    /// entries.
    pub poll_interval: Duration,
    /// The most notification streams open at once (more: 503).
    pub max_streams: usize,
    /// This replica's name (logs).
    pub replica: String,
}

impl WalletApiConfig {
    /// The defaults: tokens valid 30 days; 200 requests/s per app (burst
    /// 400); 20/s per token (burst 40); 30 s per gateway call; streams
    /// polled every 250 ms, at most 1,000 open.
    pub fn new(banks: Vec<BankRoute>, operator_tokens: Vec<String>) -> WalletApiConfig {
        WalletApiConfig {
            banks,
            operator_tokens,
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            app_rate: Rate {
                per_second: 200,
                burst: 400,
            },
            token_rate: Rate {
                per_second: 20,
                burst: 40,
            },
            gateway_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(250),
            max_streams: 1000,
            replica: "wallet-api".to_string(),
        }
    }

    /// Refuses a configuration the service cannot run with.
    pub fn check(&self) -> Result<(), String> {
        if self.banks.is_empty() {
            return Err("no banks are configured ([[banks]] id, name, url, internal_token)".into());
        }
        let mut ids = std::collections::BTreeSet::new();
        for bank in &self.banks {
            if bank.id.is_empty()
                || bank.id.len() > 64
                || !bank
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(format!(
                    "bank id {:?}: 1 to 64 letters, digits, '-' or '_'",
                    bank.id
                ));
            }
            if !ids.insert(bank.id.as_str()) {
                return Err(format!("bank {} is configured twice", bank.id));
            }
            if !(bank.url.starts_with("http://") || bank.url.starts_with("https://")) {
                return Err(format!("bank {}: url must be http:// or https://", bank.id));
            }
            if bank.internal_token.is_empty() {
                return Err(format!("bank {}: no internal_token", bank.id));
            }
        }
        if self.operator_tokens.iter().any(|t| t.len() < 16) {
            return Err("an operator token is at least 16 characters".into());
        }
        for (what, rate) in [("app", self.app_rate), ("token", self.token_rate)] {
            if rate.per_second == 0 || rate.burst == 0 {
                return Err(format!(
                    "the {what} rate limit must be at least 1/s, burst 1"
                ));
            }
        }
        if self.token_ttl.is_zero() {
            return Err("token_ttl must be positive".into());
        }
        Ok(())
    }
}

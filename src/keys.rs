//! Key files: JSON, written with mode 0600, holding hex secrets.
//!
//! A signing key file is `{"kind": "signing", "secret": "<hex>", "public": "<hex>"}`;
//! a wallet key file (a bank's notes) is `{"kind": "wallet", "spend": "<hex>",
//! "view": "<hex>", "address": "cbdc1…"}`. Public parts are there for people to
//! read; loading uses only the secrets.

use anyhow::{bail, Context, Result};
use ledger_core::{SecretKey, WalletKeys};
use serde_json::{json, Value};
use std::path::Path;

fn secret_from_hex(text: &str) -> Result<SecretKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).context("a secret key is 64 hex characters")?;
    SecretKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("invalid secret key: {e}"))
}

fn write_private(path: &Path, value: &Value) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(value)? + "\n";
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| {
                format!(
                    "creating key file {} (it must not exist yet)",
                    path.display()
                )
            })?;
        file.write_all(text.as_bytes())?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, text)?;
    Ok(())
}

pub fn signing_json(key: &SecretKey) -> Value {
    json!({
        "kind": "signing",
        "secret": hex::encode(key.to_bytes().as_ref()),
        "public": hex::encode(key.public_key().as_bytes()),
    })
}

pub fn wallet_json(keys: &WalletKeys) -> Value {
    json!({
        "kind": "wallet",
        "spend": hex::encode(keys.spend.to_bytes().as_ref()),
        "view": hex::encode(keys.view.to_bytes().as_ref()),
        "spend_public": hex::encode(keys.spend.public_key().as_bytes()),
        "view_public": hex::encode(keys.view.public_key().as_bytes()),
        "address": keys.address().to_string(),
    })
}

pub fn write_signing(path: &Path, key: &SecretKey) -> Result<()> {
    write_private(path, &signing_json(key))
}

pub fn write_wallet(path: &Path, keys: &WalletKeys) -> Result<()> {
    write_private(path, &wallet_json(keys))
}

fn read(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading key file {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON key file", path.display()))
}

/// The signing key of a file; for a wallet file, its spend key (which also signs
/// the bank's requests).
pub fn load_signing(path: &Path) -> Result<SecretKey> {
    let value = read(path)?;
    match value["kind"].as_str() {
        Some("signing") => secret_from_hex(value["secret"].as_str().unwrap_or_default()),
        Some("wallet") => secret_from_hex(value["spend"].as_str().unwrap_or_default()),
        _ => bail!(
            "{} is not a cbdc key file (kind must be signing or wallet)",
            path.display()
        ),
    }
}

pub fn load_wallet(path: &Path) -> Result<WalletKeys> {
    let value = read(path)?;
    if value["kind"].as_str() != Some("wallet") {
        bail!("{} is not a wallet key file", path.display());
    }
    Ok(WalletKeys {
        spend: secret_from_hex(value["spend"].as_str().unwrap_or_default())?,
        view: secret_from_hex(value["view"].as_str().unwrap_or_default())?,
    })
}

/// Loads the signing key at `path`, creating it first if it does not exist.
pub fn signing_or_create(path: &Path) -> Result<SecretKey> {
    if !path.exists() {
        write_signing(path, &SecretKey::generate(&mut rand::rngs::OsRng))?;
    }
    load_signing(path)
}

pub fn wallet_or_create(path: &Path) -> Result<WalletKeys> {
    if !path.exists() {
        write_wallet(path, &WalletKeys::generate(&mut rand::rngs::OsRng))?;
    }
    load_wallet(path)
}

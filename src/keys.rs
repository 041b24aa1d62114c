//! Key files: JSON, written with mode 0600, holding hex secrets.
//!
//! A signing key file is `{"kind": "signing", "secret": "<hex>", "public": "<hex>"}`;
//! a wallet key file (a bank's notes) is `{"kind": "wallet", "spend": "<hex>",
//! "view": "<hex>", "spend_public": "<hex>", "view_public": "<hex>", "address":
//! "cbdc1…"}`; a public wallet file (what `cbdc bank admit --wallet-file` needs,
//! safe to hand to the central bank) is `{"kind": "wallet-public", "spend_public",
//! "view_public", "address"}`.
//!
//! What this module keeps: a key file is only ever created by `create_new`
//! (never overwritten) and never created as a side effect of loading one — a
//! missing, unreadable, malformed or wrong-kind file is an error naming its path,
//! so a mistyped path can never swap a ledger's or an officer's key for a new one.
//! Loading a secret key file that other users can read logs a warning.

use anyhow::{bail, Context, Result};
use ledger_core::{Address, PublicKey, SecretKey, WalletKeys};
use serde_json::{json, Value};
use std::path::Path;

/// The kinds of key file, as their `kind` field spells them.
const SIGNING: &str = "signing";
const WALLET: &str = "wallet";
const WALLET_PUBLIC: &str = "wallet-public";

/// The 32 bytes in hex of the key file's `field`.
fn hex32_field(path: &Path, field: &str, value: &Value) -> Result<[u8; 32]> {
    let text = value[field].as_str().with_context(|| {
        format!(
            "{} is not a valid key file: it has no `{field}` field",
            path.display()
        )
    })?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).with_context(|| {
        format!(
            "{} is not a valid key file: `{field}` is not 64 hex characters",
            path.display()
        )
    })?;
    Ok(bytes)
}

fn secret_from_hex(path: &Path, field: &str, value: &Value) -> Result<SecretKey> {
    SecretKey::from_bytes(&hex32_field(path, field, value)?).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid key file: `{field}` is not a secret key: {e}",
            path.display()
        )
    })
}

fn public_from_hex(path: &Path, field: &str, value: &Value) -> Result<PublicKey> {
    PublicKey::from_bytes(&hex32_field(path, field, value)?).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid key file: `{field}` is not a public key: {e}",
            path.display()
        )
    })
}

/// A public field written next to a secret must be the secret's: a file whose
/// halves disagree was edited by hand and is refused rather than half-used.
fn check_public_matches(path: &Path, field: &str, value: &Value, secret: &SecretKey) -> Result<()> {
    if value.get(field).is_some() && public_from_hex(path, field, value)? != secret.public_key() {
        bail!(
            "{} is not a valid key file: `{field}` is not the public key of its secret",
            path.display()
        );
    }
    Ok(())
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(())
}

/// Writes `value` to a new file at `path` with `mode`; refuses an existing file.
fn write_new(path: &Path, value: &Value, mode: u32) -> Result<()> {
    create_parent(path)?;
    let text = serde_json::to_string_pretty(value)? + "\n";
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).with_context(|| {
        format!(
            "creating key file {} (it must not exist yet)",
            path.display()
        )
    })?;
    use std::io::Write;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing key file {}", path.display()))?;
    Ok(())
}

pub fn signing_json(key: &SecretKey) -> Value {
    json!({
        "kind": SIGNING,
        "secret": hex::encode(key.to_bytes().as_ref()),
        "public": hex::encode(key.public_key().as_bytes()),
    })
}

pub fn wallet_json(keys: &WalletKeys) -> Value {
    json!({
        "kind": WALLET,
        "spend": hex::encode(keys.spend.to_bytes().as_ref()),
        "view": hex::encode(keys.view.to_bytes().as_ref()),
        "spend_public": hex::encode(keys.spend.public_key().as_bytes()),
        "view_public": hex::encode(keys.view.public_key().as_bytes()),
        "address": keys.address().to_string(),
    })
}

pub fn wallet_public_json(keys: &WalletPublic) -> Value {
    json!({
        "kind": WALLET_PUBLIC,
        "spend_public": hex::encode(keys.spend.as_bytes()),
        "view_public": hex::encode(keys.view.as_bytes()),
        "address": keys.address.to_string(),
    })
}

pub fn write_signing(path: &Path, key: &SecretKey) -> Result<()> {
    write_new(path, &signing_json(key), 0o600)
}

pub fn write_wallet(path: &Path, keys: &WalletKeys) -> Result<()> {
    write_new(path, &wallet_json(keys), 0o600)
}

/// The public half of a wallet, for the central bank: readable by anyone (0644).
pub fn write_wallet_public(path: &Path, keys: &WalletPublic) -> Result<()> {
    write_new(path, &wallet_public_json(keys), 0o644)
}

/// Warns (a log line naming the file) when a secret key file can be read by
/// users other than its owner.
#[cfg(unix)]
fn warn_if_exposed(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "key file {} can be read by other users (mode {mode:03o}): it holds a secret key; \
                 run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_exposed(_path: &Path) {}

/// The JSON of the key file at `path`, and its `kind`.
fn read(path: &Path) -> Result<(Value, String)> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            anyhow::anyhow!("no key file at {}: the file does not exist", path.display())
        }
        _ => anyhow::anyhow!("cannot read key file {}: {e}", path.display()),
    })?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON key file", path.display()))?;
    let kind = value["kind"].as_str().unwrap_or_default().to_owned();
    if kind == SIGNING || kind == WALLET {
        warn_if_exposed(path);
    }
    Ok((value, kind))
}

fn wrong_kind(path: &Path, kind: &str, wanted: &str) -> anyhow::Error {
    let what = match kind {
        SIGNING => "a signing key file",
        WALLET => "a wallet key file (a bank's spend and view keys)",
        WALLET_PUBLIC => "a public wallet file (no secret keys)",
        _ => {
            return anyhow::anyhow!(
                "{} is not a cbdc key file (its kind must be {SIGNING}, {WALLET} or \
                 {WALLET_PUBLIC})",
                path.display()
            )
        }
    };
    anyhow::anyhow!("{} is {what}, not {wanted}", path.display())
}

fn signing_from(path: &Path, value: &Value) -> Result<SecretKey> {
    let key = secret_from_hex(path, "secret", value)?;
    check_public_matches(path, "public", value, &key)?;
    Ok(key)
}

fn wallet_from(path: &Path, value: &Value) -> Result<WalletKeys> {
    let keys = WalletKeys {
        spend: secret_from_hex(path, "spend", value)?,
        view: secret_from_hex(path, "view", value)?,
    };
    check_public_matches(path, "spend_public", value, &keys.spend)?;
    check_public_matches(path, "view_public", value, &keys.view)?;
    Ok(keys)
}

/// The signing key of a signing key file (an officer's, or a ledger's block
/// key). A wallet file is refused: a bank's keys never sign blocks or approvals.
pub fn load_signing(path: &Path) -> Result<SecretKey> {
    let (value, kind) = read(path)?;
    if kind != SIGNING {
        return Err(wrong_kind(
            path,
            &kind,
            "a signing key file (`cbdc keygen --out FILE` makes one)",
        ));
    }
    signing_from(path, &value)
}

/// The key that signs a participant's requests: a signing key file's key, or
/// a wallet file's spend key (a bank signs its requests with it).
pub fn load_request_key(path: &Path) -> Result<SecretKey> {
    let (value, kind) = read(path)?;
    match kind.as_str() {
        SIGNING => signing_from(path, &value),
        WALLET => Ok(wallet_from(path, &value)?.spend),
        _ => Err(wrong_kind(path, &kind, "a signing or wallet key file")),
    }
}

pub fn load_wallet(path: &Path) -> Result<WalletKeys> {
    let (value, kind) = read(path)?;
    if kind != WALLET {
        return Err(wrong_kind(
            path,
            &kind,
            "a wallet key file (`cbdc keygen --wallet --out FILE` makes one)",
        ));
    }
    wallet_from(path, &value)
}

/// A wallet's public keys and address: what admitting a bank needs.
#[derive(Debug, Clone)]
pub struct WalletPublic {
    pub spend: PublicKey,
    pub view: PublicKey,
    pub address: Address,
}

impl WalletPublic {
    pub fn of(keys: &WalletKeys) -> WalletPublic {
        WalletPublic {
            spend: keys.spend.public_key(),
            view: keys.view.public_key(),
            address: keys.address(),
        }
    }
}

/// The public keys of a wallet file or a public wallet file. Of a wallet file
/// only the public fields are read (the secrets stay untouched); the address
/// must be the one the keys make.
pub fn load_wallet_public(path: &Path) -> Result<WalletPublic> {
    let (value, kind) = read(path)?;
    if kind != WALLET && kind != WALLET_PUBLIC {
        return Err(wrong_kind(
            path,
            &kind,
            "a wallet file (`cbdc keygen --wallet --out FILE --public-out PUBLIC_FILE`)",
        ));
    }
    let spend = public_from_hex(path, "spend_public", &value)?;
    let view = public_from_hex(path, "view_public", &value)?;
    let address = Address { spend, view };
    if let Some(written) = value.get("address") {
        if written.as_str() != Some(address.to_string().as_str()) {
            bail!(
                "{} is not a valid wallet file: its address is not the one its public keys make",
                path.display()
            );
        }
    }
    Ok(WalletPublic {
        spend,
        view,
        address,
    })
}

/// The public key held by a key file (`public` of a signing key file), for
/// the flags that take a public key as hex or as a key file.
pub fn public_of_file(path: &Path) -> Result<PublicKey> {
    let (value, kind) = read(path)?;
    if kind != SIGNING {
        return Err(wrong_kind(
            path,
            &kind,
            "a signing key file (give a signing key file or a hex public key)",
        ));
    }
    public_from_hex(path, "public", &value)
}

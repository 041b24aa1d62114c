//! Signed requests, the signing side: how a bank or an officer authenticates
//! to the ledger. The ledger's `auth` module verifies them with the same
//! [`request_message`].
//!
//! Every request under `/v1` carries four headers:
//!
//! | header | value |
//! |---|---|
//! | `x-cbdc-key` | the caller's registered public key, 64 lowercase hex characters |
//! | `x-cbdc-timestamp` | milliseconds since the Unix epoch, canonical decimal |
//! | `x-cbdc-nonce` | 16 random bytes, 32 lowercase hex characters, never reused by that key |
//! | `x-cbdc-signature` | Schnorr signature ([`Purpose::Request`]), 128 lowercase hex characters |
//!
//! over the message
//!
//! ```text
//!   SHA-256("cbdc.request.v1" ‖ method ‖ 0x00 ‖ path-and-query ‖ 0x00
//!           ‖ SHA-256(body) ‖ timestamp u64 LE ‖ nonce)
//! ```
//!
//! PROTOCOL.md ("Signed requests") is the specification, with a test vector.

use ledger_core::{Purpose, SecretKey};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

pub const HEADER_KEY: &str = "x-cbdc-key";
pub const HEADER_TIMESTAMP: &str = "x-cbdc-timestamp";
pub const HEADER_NONCE: &str = "x-cbdc-nonce";
pub const HEADER_SIGNATURE: &str = "x-cbdc-signature";

/// Milliseconds since the Unix epoch by this machine's clock: the timestamp a
/// request carries, and the ledger's clock for the window it accepts.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The message a request's signature signs.
pub fn request_message(
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp_ms: u64,
    nonce: &[u8; 16],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"cbdc.request.v1");
    h.update(method.as_bytes());
    h.update([0u8]);
    h.update(path_and_query.as_bytes());
    h.update([0u8]);
    h.update(Sha256::digest(body));
    h.update(timestamp_ms.to_le_bytes());
    h.update(nonce);
    h.finalize().into()
}

/// The four authentication headers for a request, as (name, value) pairs.
pub fn sign_request<R: RngCore + CryptoRng>(
    key: &SecretKey,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp_ms: u64,
    rng: &mut R,
) -> [(&'static str, String); 4] {
    let mut nonce = [0u8; 16];
    rng.fill_bytes(&mut nonce);
    let message = request_message(method, path_and_query, body, timestamp_ms, &nonce);
    let signature = key.sign(Purpose::Request, &message, rng);
    [
        (HEADER_KEY, hex::encode(key.public_key().as_bytes())),
        (HEADER_TIMESTAMP, timestamp_ms.to_string()),
        (HEADER_NONCE, hex::encode(nonce)),
        (HEADER_SIGNATURE, hex::encode(signature.to_bytes())),
    ]
}

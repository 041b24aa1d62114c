//! Signed requests, the verifying side: how the ledger authenticates banks
//! and officers. The signing side — the four headers, the message they sign,
//! [`sign_request`] — is `ledger_client::sign` (re-exported here), so the two
//! cannot drift.
//!
//! The server refuses a timestamp more than [`CLOCK_SKEW_MAX_MS`] from its clock
//! and a (key, nonce) pair it has seen (nonces are kept longer than the skew window,
//! so a replay is refused whether it is fresh or stale). Unknown or missing key →
//! 401; a key whose role may not call the route → 403; a suspended participant → 403.
//! PROTOCOL.md ("Signed requests") is the specification, with a test vector.

use ledger_core::{PublicKey, Purpose, Signature};

pub use ledger_client::sign::{
    request_message, sign_request, HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

/// How far a request's timestamp may be from the server's clock.
pub const CLOCK_SKEW_MAX_MS: u64 = 5 * 60 * 1000;
/// How long nonces are remembered: longer than the window in which a timestamp is accepted.
pub const NONCE_RETENTION_MS: u64 = 3 * CLOCK_SKEW_MAX_MS;

/// The parsed authentication headers of a request.
#[derive(Debug, Clone)]
pub struct RequestAuth {
    pub key: PublicKey,
    pub timestamp_ms: u64,
    pub nonce: [u8; 16],
    pub signature: Signature,
}

/// Why authentication failed; each maps to a 401 with its own code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the request is not signed: header {0} is missing")]
    Missing(&'static str),
    #[error("header {0} is malformed")]
    Malformed(&'static str),
    #[error("the request timestamp is more than 5 minutes from the ledger's clock")]
    Stale,
    #[error("the request signature does not verify")]
    BadSignature,
    #[error("this key is not registered with the ledger")]
    UnknownKey,
    #[error("this nonce was already used: the request is a replay")]
    Replay,
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing(_) => "unauthenticated",
            AuthError::Malformed(_) => "malformed_auth_header",
            AuthError::Stale => "stale_request",
            AuthError::BadSignature => "bad_request_signature",
            AuthError::UnknownKey => "unknown_key",
            AuthError::Replay => "replayed_request",
        }
    }
}

/// Exactly `2·N` lowercase hex characters, as bytes. The one strict hex
/// reader of the service: headers here, path and query values in the API.
pub(crate) fn lowercase_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let lowercase = text
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let mut out = [0u8; N];
    (lowercase && hex::decode_to_slice(text, &mut out).is_ok()).then_some(out)
}

/// A canonical decimal `u64`: digits only, no sign, no leading zero. The one
/// strict decimal reader of the service (timestamps here, ids in the API).
pub(crate) fn canonical_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

fn hex_fixed<const N: usize>(text: &str, header: &'static str) -> Result<[u8; N], AuthError> {
    lowercase_hex(text).ok_or(AuthError::Malformed(header))
}

/// Parses the headers (given by a lookup function) and checks the signature and the
/// clock. The caller then checks the key is registered and records the nonce.
pub fn check_request(
    header: impl Fn(&'static str) -> Option<String>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now_ms: u64,
) -> Result<RequestAuth, AuthError> {
    let get = |name: &'static str| header(name).ok_or(AuthError::Missing(name));
    let key_hex = get(HEADER_KEY)?;
    let timestamp = get(HEADER_TIMESTAMP)?;
    let nonce = get(HEADER_NONCE)?;
    let signature = get(HEADER_SIGNATURE)?;
    let key = PublicKey::from_bytes(&hex_fixed::<32>(&key_hex, HEADER_KEY)?)
        .map_err(|_| AuthError::Malformed(HEADER_KEY))?;
    let timestamp_ms =
        canonical_decimal(&timestamp).ok_or(AuthError::Malformed(HEADER_TIMESTAMP))?;
    let nonce = hex_fixed::<16>(&nonce, HEADER_NONCE)?;
    let signature = Signature::from_bytes(&hex_fixed::<64>(&signature, HEADER_SIGNATURE)?)
        .map_err(|_| AuthError::Malformed(HEADER_SIGNATURE))?;
    if now_ms.abs_diff(timestamp_ms) > CLOCK_SKEW_MAX_MS {
        return Err(AuthError::Stale);
    }
    let message = request_message(method, path_and_query, body, timestamp_ms, &nonce);
    key.verify(Purpose::Request, &message, &signature)
        .map_err(|_| AuthError::BadSignature)?;
    Ok(RequestAuth {
        key,
        timestamp_ms,
        nonce,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::SecretKey;
    use rand::SeedableRng;
    use std::collections::HashMap;

    fn headers(pairs: &[(&'static str, String)]) -> impl Fn(&'static str) -> Option<String> {
        let map: HashMap<&'static str, String> = pairs.iter().cloned().collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn signed_request_checks_and_any_change_fails() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let key = SecretKey::generate(&mut rng);
        let pairs = sign_request(&key, "POST", "/v1/transactions", b"{}", 1_000_000, &mut rng);
        let ok = check_request(
            headers(&pairs),
            "POST",
            "/v1/transactions",
            b"{}",
            1_000_000,
        )
        .unwrap();
        assert_eq!(ok.key, key.public_key());
        let h = headers(&pairs);
        assert_eq!(
            check_request(&h, "GET", "/v1/transactions", b"{}", 1_000_000).unwrap_err(),
            AuthError::BadSignature
        );
        assert_eq!(
            check_request(&h, "POST", "/v1/transactionz", b"{}", 1_000_000).unwrap_err(),
            AuthError::BadSignature
        );
        assert_eq!(
            check_request(&h, "POST", "/v1/transactions", b"{ }", 1_000_000).unwrap_err(),
            AuthError::BadSignature
        );
        assert_eq!(
            check_request(
                &h,
                "POST",
                "/v1/transactions",
                b"{}",
                1_000_000 + CLOCK_SKEW_MAX_MS + 1
            )
            .unwrap_err(),
            AuthError::Stale
        );
        assert_eq!(
            check_request(|_| None, "POST", "/v1/transactions", b"{}", 1_000_000).unwrap_err(),
            AuthError::Missing(HEADER_KEY)
        );
    }
}

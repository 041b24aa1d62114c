//! The wallet API's ids and secrets: random, and recognisable by shape so a
//! malformed one is refused before the database is asked.

use rand::rngs::OsRng;
use rand::RngCore;

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `app_` and 16 hex characters.
pub fn new_app_id() -> String {
    format!("app_{}", random_hex(8))
}

pub fn is_app_id(s: &str) -> bool {
    s.strip_prefix("app_").is_some_and(|h| is_hex(h, 16))
}

/// An app's secret: 64 hex characters.
pub fn new_app_secret() -> String {
    random_hex(32)
}

/// `w_` and 32 hex characters.
pub fn new_wallet_id() -> String {
    format!("w_{}", random_hex(16))
}

pub fn is_wallet_id(s: &str) -> bool {
    s.strip_prefix("w_").is_some_and(|h| is_hex(h, 32))
}

/// `rq_` and 32 hex characters.
pub fn new_request_id() -> String {
    format!("rq_{}", random_hex(16))
}

pub fn is_request_id(s: &str) -> bool {
    s.strip_prefix("rq_").is_some_and(|h| is_hex(h, 32))
}

/// A wallet token: `wt_` and 64 hex characters (32 random bytes).
pub fn new_token() -> String {
    format!("wt_{}", random_hex(32))
}

pub fn is_token(s: &str) -> bool {
    s.strip_prefix("wt_").is_some_and(|h| is_hex(h, 64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_have_their_shapes_and_differ() {
        assert!(is_app_id(&new_app_id()));
        assert!(is_wallet_id(&new_wallet_id()));
        assert!(is_request_id(&new_request_id()));
        assert!(is_token(&new_token()));
        assert_ne!(new_token(), new_token());
        for bad in [
            "",
            "w_",
            "w_ABCDEF00000000000000000000000000",
            "x_00000000000000000000000000000000",
        ] {
            assert!(!is_wallet_id(bad), "{bad}");
        }
        assert!(!is_token(&format!("{}0", new_token())));
    }
}

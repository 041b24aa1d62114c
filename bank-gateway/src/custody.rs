//! Custodial wallet keys, sealed at rest.
//!
//! A wallet's spend and view secret keys (64 bytes) are encrypted with
//! ChaCha20-Poly1305 under a key-encryption key (KEK) from configuration:
//! `sealed = nonce (12 random bytes) ‖ ciphertext ‖ tag`, the associated
//! data being `cbdc.gateway.wallet-keys.v1 ‖ kek id ‖ address`, so a sealed
//! blob moved to another wallet's row or relabelled with another key id does
//! not open. The row stores the KEK's id so keys can be rotated. Secret keys
//! never leave this module except to build a transaction, never reach a log
//! (their `Debug` is redacted) and never an API answer.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use ledger_core::{SecretKey, WalletKeys};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::config::Keks;

const AAD_DOMAIN: &[u8] = b"cbdc.gateway.wallet-keys.v1";
const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustodyError {
    #[error("wallet keys are sealed under key-encryption key {0}, which is not configured")]
    UnknownKek(String),
    #[error("wallet keys do not open (wrong key-encryption key, or the row was altered)")]
    DoesNotOpen,
}

fn aad(kek_id: &str, address: &str) -> Vec<u8> {
    let mut aad = AAD_DOMAIN.to_vec();
    aad.extend_from_slice(
        &u32::try_from(kek_id.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    aad.extend_from_slice(kek_id.as_bytes());
    aad.extend_from_slice(address.as_bytes());
    aad
}

/// Seals `keys` of the wallet at `address` under the current KEK; returns
/// the blob and the KEK's id.
pub fn seal(keks: &Keks, address: &str, keys: &WalletKeys) -> (Vec<u8>, String) {
    let mut plain = Zeroizing::new([0u8; 64]);
    plain[..32].copy_from_slice(&*keys.spend.to_bytes());
    plain[32..].copy_from_slice(&*keys.view.to_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let cipher = ChaCha20Poly1305::new((&*keks.current).into());
    let aad = aad(&keks.current_id, address);
    let sealed = cipher
        .encrypt(
            &nonce.into(),
            Payload {
                msg: &plain[..],
                aad: &aad,
            },
        )
        .expect("ChaCha20-Poly1305 encrypts any 64 bytes");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    (out, keks.current_id.clone())
}

/// Opens a sealed blob.
pub fn open(
    keks: &Keks,
    kek_id: &str,
    address: &str,
    sealed: &[u8],
) -> Result<WalletKeys, CustodyError> {
    let kek = keks
        .get(kek_id)
        .ok_or_else(|| CustodyError::UnknownKek(kek_id.to_string()))?;
    if sealed.len() < NONCE_LEN {
        return Err(CustodyError::DoesNotOpen);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let cipher = ChaCha20Poly1305::new(kek.into());
    let aad = aad(kek_id, address);
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| CustodyError::DoesNotOpen)?,
    );
    if plain.len() != 64 {
        return Err(CustodyError::DoesNotOpen);
    }
    let mut spend = Zeroizing::new([0u8; 32]);
    spend.copy_from_slice(&plain[..32]);
    let mut view = Zeroizing::new([0u8; 32]);
    view.copy_from_slice(&plain[32..]);
    Ok(WalletKeys {
        spend: SecretKey::from_bytes(&spend).map_err(|_| CustodyError::DoesNotOpen)?,
        view: SecretKey::from_bytes(&view).map_err(|_| CustodyError::DoesNotOpen)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn keks(id: &str, byte: u8) -> Keks {
        Keks {
            current_id: id.into(),
            current: Zeroizing::new([byte; 32]),
            previous: BTreeMap::new(),
        }
    }

    #[test]
    fn seals_opens_and_refuses_tampering() {
        let keys = WalletKeys::generate(&mut rand::rngs::OsRng);
        let address = keys.address().to_string();
        let k1 = keks("k1", 7);
        let (sealed, id) = seal(&k1, &address, &keys);
        assert_eq!(id, "k1");
        let opened = open(&k1, "k1", &address, &sealed).unwrap();
        assert_eq!(opened.address(), keys.address());
        // Another address, another key, another id, a flipped bit: refused.
        assert_eq!(
            open(&k1, "k1", "cbdc1other", &sealed).unwrap_err(),
            CustodyError::DoesNotOpen
        );
        assert_eq!(
            open(&keks("k1", 8), "k1", &address, &sealed).unwrap_err(),
            CustodyError::DoesNotOpen
        );
        assert_eq!(
            open(&k1, "k2", &address, &sealed).unwrap_err(),
            CustodyError::UnknownKek("k2".into())
        );
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(open(&k1, "k1", &address, &bad).is_err(), "byte {i}");
        }
        // The plaintext secret is not in the blob.
        let secret = keys.spend.to_bytes();
        assert!(!sealed.windows(32).any(|w| w == &secret[..]));
    }

    #[test]
    fn rotation_opens_under_the_previous_key() {
        let keys = WalletKeys::generate(&mut rand::rngs::OsRng);
        let address = keys.address().to_string();
        let old = keks("k1", 1);
        let (sealed, _) = seal(&old, &address, &keys);
        let mut rotated = keks("k2", 2);
        rotated
            .previous
            .insert("k1".into(), Zeroizing::new([1; 32]));
        assert_eq!(
            open(&rotated, "k1", &address, &sealed).unwrap().address(),
            keys.address()
        );
        let (resealed, id) = seal(&rotated, &address, &keys);
        assert_eq!(id, "k2");
        assert!(open(&rotated, "k2", &address, &resealed).is_ok());
    }
}

//! Memos: a note's opening, encrypted to the recipient's view key.
//!
//! The sender picks a fresh ephemeral scalar `k`, publishes `K = k·B` and derives a
//! one-time key from the Diffie–Hellman secret `k·V = v·K` (`V = v·B` the view key):
//!
//! ```text
//!   key = merlin("cbdc.memo.v1" ‖ k·V ‖ K ‖ V ‖ C)
//!   ct  = ChaCha20-Poly1305(key, nonce = 0, aad = C, value_le64 ‖ r)
//! ```
//!
//! The all-zero nonce is safe because every key is used once: it depends on the
//! fresh `K`. Binding `C` (the output's commitment) as associated data means a memo
//! cannot be moved to another output. The recipient decrypts with its view secret
//! and **checks the opening against the commitment** ([`Memo::open`]); a memo that
//! does not decrypt, does not parse or does not match is reported as such and its
//! note is not counted.

use crate::amount::Amount;
use crate::commitment::{Commitment, Opening};
use crate::keys::{PublicKey, SecretKey};
use crate::point::{scalar_from_bytes, Point, PointError};
use crate::transcript::{TranscriptProtocol, MEMO_DOMAIN};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use core::fmt;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use merlin::Transcript;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

const PLAINTEXT_LEN: usize = 8 + 32;
const TAG_LEN: usize = 16;
/// Bytes of the ciphertext (amount, blinding, tag).
pub const MEMO_CIPHERTEXT_LEN: usize = PLAINTEXT_LEN + TAG_LEN;
/// Bytes of an encoded memo (ephemeral key, ciphertext).
pub const MEMO_LEN: usize = 32 + MEMO_CIPHERTEXT_LEN;

#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Memo {
    ephemeral: Point,
    ciphertext: [u8; MEMO_CIPHERTEXT_LEN],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemoError {
    #[error("memo does not decrypt with this view key")]
    DoesNotDecrypt,
    #[error("memo decrypts but holds a non-canonical blinding")]
    Malformed,
    #[error("memo opening does not match the note's commitment")]
    Mismatch,
}

fn memo_key(
    shared: &RistrettoPoint,
    ephemeral: &CompressedRistretto,
    view: &PublicKey,
    commitment: &Commitment,
) -> Zeroizing<[u8; 32]> {
    let mut t = Transcript::new(MEMO_DOMAIN);
    t.append_point(b"shared", &shared.compress());
    t.append_point(b"K", ephemeral);
    t.append_message(b"V", view.as_bytes());
    t.append_message(b"C", commitment.as_bytes());
    Zeroizing::new(t.challenge_32(b"key"))
}

impl Memo {
    /// Encrypts `opening` (which must open `commitment`) to `view`.
    pub fn seal<R: RngCore + CryptoRng>(
        view: &PublicKey,
        commitment: &Commitment,
        opening: &Opening,
        rng: &mut R,
    ) -> Memo {
        let k = SecretKey::generate(rng);
        let ephemeral = k.public_key().0;
        let shared = k.0 * view.0.point;
        let key = memo_key(&shared, &ephemeral.compressed, view, commitment);
        let mut plaintext = Zeroizing::new([0u8; PLAINTEXT_LEN]);
        plaintext[..8].copy_from_slice(&opening.value().minor_units().to_le_bytes());
        plaintext[8..].copy_from_slice(opening.blinding().as_bytes());
        let cipher = ChaCha20Poly1305::new(key.as_ref().into());
        let sealed = cipher
            .encrypt(
                &[0u8; 12].into(),
                Payload {
                    msg: plaintext.as_ref(),
                    aad: commitment.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 encryption of 40 bytes cannot fail");
        let mut ciphertext = [0u8; MEMO_CIPHERTEXT_LEN];
        ciphertext.copy_from_slice(&sealed);
        Memo {
            ephemeral,
            ciphertext,
        }
    }

    /// Decrypts with the view secret and checks the opening against `commitment`.
    pub fn open(&self, view: &SecretKey, commitment: &Commitment) -> Result<Opening, MemoError> {
        let shared = view.0 * self.ephemeral.point;
        let key = memo_key(
            &shared,
            &self.ephemeral.compressed,
            &view.public_key(),
            commitment,
        );
        let cipher = ChaCha20Poly1305::new(key.as_ref().into());
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(
                    &[0u8; 12].into(),
                    Payload {
                        msg: &self.ciphertext,
                        aad: commitment.as_bytes(),
                    },
                )
                .map_err(|_| MemoError::DoesNotDecrypt)?,
        );
        if plaintext.len() != PLAINTEXT_LEN {
            return Err(MemoError::Malformed);
        }
        let mut value = [0u8; 8];
        value.copy_from_slice(&plaintext[..8]);
        let mut blinding = Zeroizing::new([0u8; 32]);
        blinding.copy_from_slice(&plaintext[8..]);
        let blinding = scalar_from_bytes(&blinding).ok_or(MemoError::Malformed)?;
        let opening = Opening::new(Amount::new(u64::from_le_bytes(value)), blinding);
        if !opening.opens(commitment) {
            return Err(MemoError::Mismatch);
        }
        Ok(opening)
    }

    pub fn to_bytes(&self) -> [u8; MEMO_LEN] {
        let mut out = [0u8; MEMO_LEN];
        out[..32].copy_from_slice(self.ephemeral.compressed.as_bytes());
        out[32..].copy_from_slice(&self.ciphertext);
        out
    }

    /// Parses a memo; the ephemeral key must be a canonical non-identity point.
    /// The ciphertext is opaque to everyone but the recipient.
    pub fn from_bytes(bytes: &[u8; MEMO_LEN]) -> Result<Memo, PointError> {
        let mut ephemeral = [0u8; 32];
        ephemeral.copy_from_slice(&bytes[..32]);
        let mut ciphertext = [0u8; MEMO_CIPHERTEXT_LEN];
        ciphertext.copy_from_slice(&bytes[32..]);
        Ok(Memo {
            ephemeral: Point::from_bytes(&ephemeral)?,
            ciphertext,
        })
    }
}

impl fmt::Debug for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Memo({})", hex::encode(self.to_bytes()))
    }
}

crate::point::hex_serde_fixed!(Memo, MEMO_LEN);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::WalletKeys;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn open_checks_key_and_commitment() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let alice = WalletKeys::generate(&mut rng);
        let mallory = WalletKeys::generate(&mut rng);
        let opening = Opening::random(Amount::new(1234), &mut rng);
        let commitment = opening.commit().unwrap();
        let memo = Memo::seal(&alice.view.public_key(), &commitment, &opening, &mut rng);
        assert_eq!(memo.open(&alice.view, &commitment).unwrap(), opening);
        assert_eq!(
            memo.open(&mallory.view, &commitment),
            Err(MemoError::DoesNotDecrypt)
        );
        let other = Opening::random(Amount::new(1234), &mut rng)
            .commit()
            .unwrap();
        assert_eq!(
            memo.open(&alice.view, &other),
            Err(MemoError::DoesNotDecrypt)
        );
        // A sender that encrypts a wrong opening is caught by the recipient's check.
        let lie = Opening::random(Amount::new(1_000_000), &mut rng);
        let memo = Memo::seal(&alice.view.public_key(), &commitment, &lie, &mut rng);
        assert_eq!(
            memo.open(&alice.view, &commitment),
            Err(MemoError::Mismatch)
        );
    }
}

//! The one transcript protocol of the crate: every hash-to-challenge goes through a
//! merlin transcript with a versioned domain separator, so a signature or proof
//! made for one purpose can never be replayed as another.
//!
//! Domain separators in use (bump the version when the bound data changes):
//!
//! | separator | what it binds |
//! |---|---|
//! | `cbdc.tx.v1` | the transaction digest every signature signs |
//! | `cbdc.schnorr.v1` | a Schnorr signature: purpose, generator, public key, message, `R` |
//! | `cbdc.rangeproof.v1` | the aggregated range proof of a transaction's outputs |
//! | `cbdc.memo.v1` | the memo key derivation |

use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::scalar::Scalar;
use merlin::Transcript;

pub(crate) const TX_DOMAIN: &[u8] = b"cbdc.tx.v1";
pub(crate) const SCHNORR_DOMAIN: &[u8] = b"cbdc.schnorr.v1";
pub(crate) const RANGE_PROOF_DOMAIN: &[u8] = b"cbdc.rangeproof.v1";
pub(crate) const MEMO_DOMAIN: &[u8] = b"cbdc.memo.v1";

pub(crate) trait TranscriptProtocol {
    fn append_point(&mut self, label: &'static [u8], point: &CompressedRistretto);
    fn append_scalar(&mut self, label: &'static [u8], scalar: &Scalar);
    fn challenge_scalar(&mut self, label: &'static [u8]) -> Scalar;
    fn challenge_32(&mut self, label: &'static [u8]) -> [u8; 32];
}

impl TranscriptProtocol for Transcript {
    fn append_point(&mut self, label: &'static [u8], point: &CompressedRistretto) {
        self.append_message(label, point.as_bytes());
    }

    fn append_scalar(&mut self, label: &'static [u8], scalar: &Scalar) {
        self.append_message(label, scalar.as_bytes());
    }

    fn challenge_scalar(&mut self, label: &'static [u8]) -> Scalar {
        let mut wide = [0u8; 64];
        self.challenge_bytes(label, &mut wide);
        Scalar::from_bytes_mod_order_wide(&wide)
    }

    fn challenge_32(&mut self, label: &'static [u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.challenge_bytes(label, &mut out);
        out
    }
}

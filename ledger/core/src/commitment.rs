//! Pedersen commitments to amounts and their openings.
//!
//! With `B` the Ristretto basepoint and `B̃` the second generator of
//! `bulletproofs::PedersenGens::default()` (hash of `B`, nobody knows `log_B B̃`),
//! a note's amount `v` is committed as
//!
//! ```text
//!   C = v·B + r·B̃
//! ```
//!
//! for a secret blinding scalar `r`. Commitments add: `C(v₁,r₁) + C(v₂,r₂) =
//! C(v₁+v₂, r₁+r₂)`, which is what lets the ledger check that a transaction
//! creates no money without seeing an amount (see [`crate::tx`]). Binding holds
//! under the discrete-log assumption, hiding is perfect.
//!
//! An [`Opening`] `(v, r)` is secret: zeroized on drop, `Debug` redacted, never
//! `Serialize`.

use crate::amount::Amount;
use crate::point::{hex_serde_fixed, Point, PointError};
use bulletproofs::{BulletproofGens, PedersenGens};
use core::fmt;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rand_core::{CryptoRng, RngCore};
use std::sync::OnceLock;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bits of every range proof: amounts are proven to lie in `[0, 2^64)`.
pub const RANGE_PROOF_BITS: usize = 64;

/// The Pedersen generators `(B, B̃)`.
pub fn pedersen_gens() -> &'static PedersenGens {
    static GENS: OnceLock<PedersenGens> = OnceLock::new();
    GENS.get_or_init(PedersenGens::default)
}

/// The Bulletproofs generators, enough for [`crate::tx::OUTPUTS_MAX`] outputs.
pub fn bulletproof_gens() -> &'static BulletproofGens {
    static GENS: OnceLock<BulletproofGens> = OnceLock::new();
    GENS.get_or_init(|| BulletproofGens::new(RANGE_PROOF_BITS, crate::tx::OUTPUTS_MAX))
}

/// `v·B`, the commitment to a public amount with zero blinding.
pub(crate) fn value_point(value: Amount) -> RistrettoPoint {
    pedersen_gens().B * Scalar::from(value.minor_units())
}

/// A commitment `C = v·B + r·B̃` as found on the ledger: canonical, not the identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Commitment(pub(crate) Point);

impl Commitment {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Commitment, PointError> {
        Point::from_bytes(bytes).map(Commitment)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.compressed.as_bytes()
    }

    pub(crate) fn point(&self) -> RistrettoPoint {
        self.0.point
    }
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Commitment({})", hex::encode(self.as_bytes()))
    }
}

hex_serde_fixed!(Commitment, 32);

/// The secret behind a commitment: amount and blinding.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Opening {
    value: Amount,
    blinding: Scalar,
}

impl Opening {
    pub fn new(value: Amount, blinding: Scalar) -> Opening {
        Opening { value, blinding }
    }

    /// An opening of `value` with a fresh random blinding.
    pub fn random<R: RngCore + CryptoRng>(value: Amount, rng: &mut R) -> Opening {
        Opening {
            value,
            blinding: Scalar::random(rng),
        }
    }

    pub fn value(&self) -> Amount {
        self.value
    }

    pub fn blinding(&self) -> &Scalar {
        &self.blinding
    }

    /// `v·B + r·B̃`.
    pub fn commit_point(&self) -> RistrettoPoint {
        pedersen_gens().commit(Scalar::from(self.value.minor_units()), self.blinding)
    }

    /// The commitment, or `None` in the negligible case that it is the identity
    /// (value and blinding both zero).
    pub fn commit(&self) -> Option<Commitment> {
        Point::from_bytes(self.commit_point().compress().as_bytes())
            .ok()
            .map(Commitment)
    }

    /// Whether this opening opens `commitment`.
    pub fn opens(&self, commitment: &Commitment) -> bool {
        self.commit_point()
            .compress()
            .as_bytes()
            .ct_eq(commitment.as_bytes())
            .into()
    }
}

impl fmt::Debug for Opening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Opening([REDACTED])")
    }
}

impl PartialEq for Opening {
    fn eq(&self, other: &Self) -> bool {
        (self.value.minor_units().ct_eq(&other.value.minor_units())
            & self.blinding.ct_eq(&other.blinding))
        .into()
    }
}
impl Eq for Opening {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn commitments_add() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let a = Opening::random(Amount::new(5), &mut rng);
        let b = Opening::random(Amount::new(7), &mut rng);
        let sum = Opening::new(Amount::new(12), a.blinding() + b.blinding());
        assert_eq!(a.commit_point() + b.commit_point(), sum.commit_point());
        assert!(a.opens(&a.commit().unwrap()));
        assert!(!b.opens(&a.commit().unwrap()));
        assert_eq!(format!("{a:?}"), "Opening([REDACTED])");
    }
}

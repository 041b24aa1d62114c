//! The supply audit: the total money in circulation, proven without one amount.
//!
//! Every transfer or redeem lowers the sum of unspent commitments by its kernel
//! excess `E = Σ C_in − Σ C_out − u·B`, and every issue adds `Σ (vᵢ·B + rᵢ·B̃)` with
//! `vᵢ, rᵢ` public. So for the whole ledger
//!
//! ```text
//!   Σ unspent C + Σ kernel E = S·B + (Σ issue r)·B̃,     S = issued − redeemed
//! ```
//!
//! and anyone holding the unspent commitments, the kernels and the issue and redeem
//! records can check it. Because every kernel proves `E = e·B̃` and every output
//! carries a range proof, `S` is the money that exists: a ledger that created
//! money in a transaction, or lost a note, or dropped a kernel, fails the equation.
//!
//! [`SupplyAudit`] is an accumulator: feed it in any order, in as many pieces as
//! convenient (streaming from a database), merge partial audits computed in
//! parallel, then [`SupplyAudit::finish`].
//!
//! [`ZeroBalanced`] makes groups of notes that hold no money, each balanced by one
//! kernel, so that the equation stays true: the filler the scale benchmark puts
//! into a ledger to measure it with millions of unspent notes.

use crate::amount::Amount;
use crate::commitment::{pedersen_gens, value_point, Commitment};
use crate::point::{Point, PointError};
use crate::tx::{Excess, IssueOutput, PublicBlinding};
use curve25519_dalek::ristretto::{RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rand_core::{CryptoRng, RngCore};
use std::sync::OnceLock;

/// Totals are 128-bit: 2^64 issues of at most 2^64 − 1 each cannot wrap them,
/// so no sequence of issuances, however long, makes the audit fail for good.
#[derive(Debug, Clone)]
pub struct SupplyAudit {
    unspent: RistrettoPoint,
    kernels: RistrettoPoint,
    issued: u128,
    issued_blinding: Scalar,
    redeemed: u128,
    notes: u64,
}

/// The proven supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supply {
    /// Everything ever issued.
    pub issued: u128,
    /// Everything ever redeemed.
    pub redeemed: u128,
    /// `issued − redeemed`: the money in circulation.
    pub outstanding: Amount,
    /// How many unspent notes were summed.
    pub unspent_notes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("the unspent notes and kernels do not add up to the issued supply")]
    Mismatch,
    #[error("the outstanding supply ({0}) does not fit 64 bits")]
    Overflow(u128),
    #[error("more was redeemed ({redeemed}) than issued ({issued})")]
    RedeemedExceedsIssued { issued: u128, redeemed: u128 },
    #[error("a stored commitment or excess is not a valid point: {0}")]
    BadPoint(PointError),
}

impl Default for SupplyAudit {
    fn default() -> Self {
        SupplyAudit {
            unspent: RistrettoPoint::identity(),
            kernels: RistrettoPoint::identity(),
            issued: 0,
            issued_blinding: Scalar::ZERO,
            redeemed: 0,
            notes: 0,
        }
    }
}

impl SupplyAudit {
    pub fn new() -> SupplyAudit {
        SupplyAudit::default()
    }

    pub fn add_unspent(&mut self, commitment: &Commitment) {
        self.unspent += commitment.point();
        self.notes += 1;
    }

    /// An unspent commitment as stored bytes.
    pub fn add_unspent_bytes(&mut self, bytes: &[u8; 32]) -> Result<(), AuditError> {
        let point = Point::from_bytes(bytes).map_err(AuditError::BadPoint)?;
        self.add_unspent(&Commitment(point));
        Ok(())
    }

    pub fn add_kernel(&mut self, excess: &Excess) {
        self.kernels += excess.point();
    }

    pub fn add_kernel_bytes(&mut self, bytes: &[u8; 32]) -> Result<(), AuditError> {
        let point = Point::from_bytes(bytes).map_err(AuditError::BadPoint)?;
        self.add_kernel(&Excess(point));
        Ok(())
    }

    /// One issued note: its public amount and blinding.
    pub fn add_issuance(&mut self, output: &IssueOutput) {
        self.add_issued(output.value, &output.blinding);
    }

    /// Issued notes in aggregate: their total value and the sum of their blindings.
    pub fn add_issued(&mut self, value: Amount, blinding: &PublicBlinding) {
        self.issued += u128::from(value.minor_units());
        self.issued_blinding += blinding.0;
    }

    pub fn add_redemption(&mut self, burned: Amount) {
        self.redeemed += u128::from(burned.minor_units());
    }

    /// Issued minus redeemed so far (negative only for a journal that
    /// redeemed more than it issued, which the range proofs rule out).
    pub fn outstanding(&self) -> i128 {
        // Both totals are below 2^127 for any journal that can exist.
        i128::try_from(self.issued).unwrap_or(i128::MAX)
            - i128::try_from(self.redeemed).unwrap_or(i128::MAX)
    }

    /// Combines two partial audits of disjoint parts of the ledger.
    pub fn merge(mut self, other: SupplyAudit) -> SupplyAudit {
        self.unspent += other.unspent;
        self.kernels += other.kernels;
        self.issued_blinding += other.issued_blinding;
        self.notes += other.notes;
        self.issued += other.issued;
        self.redeemed += other.redeemed;
        self
    }

    /// Checks `Σ unspent C + Σ E = S·B + (Σ r_issue)·B̃` and reports `S`.
    pub fn finish(self) -> Result<Supply, AuditError> {
        let outstanding =
            self.issued
                .checked_sub(self.redeemed)
                .ok_or(AuditError::RedeemedExceedsIssued {
                    issued: self.issued,
                    redeemed: self.redeemed,
                })?;
        let outstanding = u64::try_from(outstanding)
            .map(Amount::new)
            .map_err(|_| AuditError::Overflow(outstanding))?;
        let expected = value_point(outstanding) + self.issued_blinding * pedersen_gens().B_blinding;
        if self.unspent + self.kernels != expected {
            return Err(AuditError::Mismatch);
        }
        Ok(Supply {
            issued: self.issued,
            redeemed: self.redeemed,
            outstanding,
            unspent_notes: self.notes,
        })
    }
}

/// A group of commitments to zero and the kernel excess that balances them:
///
/// ```text
///   Cᵢ = rᵢ·B̃  (vᵢ = 0, distinct random rᵢ),     E = −(Σ rᵢ)·B̃
/// ```
///
/// so `Σ Cᵢ + E = 0` and the supply equation holds with the group added, exactly
/// as for a transfer that spends nothing and creates notes worth nothing. `E` is a
/// multiple of `B̃`, as every real kernel's is. The group carries no range proof and
/// no kernel signature (proving a million outputs would take over an hour), so it
/// is not a transaction anyone could submit: it exists to give the ledger's tables,
/// and the supply audit, the size of a ledger with that many notes.
#[derive(Debug, Clone)]
pub struct ZeroBalanced {
    /// The commitments `rᵢ·B̃`, compressed.
    pub commitments: Vec<[u8; 32]>,
    /// The excess `E = −(Σ rᵢ)·B̃`, compressed.
    pub excess: [u8; 32],
}

impl ZeroBalanced {
    /// `count` commitments to zero with fresh random blindings, and their balancing
    /// excess. About 10 µs of one core per commitment.
    ///
    /// Panics if `count` is zero, or if a blinding or the excess comes out as zero
    /// (probability 2⁻²⁵², i.e. a broken random number generator).
    pub fn random<R: RngCore + CryptoRng>(count: usize, rng: &mut R) -> ZeroBalanced {
        assert!(count > 0, "a balanced group holds at least one note");
        // Each point is computed halved, Pᵢ = sᵢ·B̃, so that one batched
        // double-and-compress (one field inversion for the whole group) yields
        // Cᵢ = 2·Pᵢ, i.e. rᵢ = 2sᵢ; compressing one by one would cost an inversion each.
        let table = blinding_table();
        let mut halves = Vec::with_capacity(count + 1);
        let mut sum = Scalar::ZERO;
        for _ in 0..count {
            let half = Scalar::random(rng);
            assert!(
                half != Scalar::ZERO,
                "the random number generator is broken"
            );
            sum += half;
            halves.push(table * &half);
        }
        assert!(sum != Scalar::ZERO, "the random number generator is broken");
        halves.push(table * &(-sum));
        let mut compressed: Vec<[u8; 32]> = RistrettoPoint::double_and_compress_batch(&halves)
            .iter()
            .map(|c| c.to_bytes())
            .collect();
        let excess = compressed.pop().expect("the excess was pushed last");
        ZeroBalanced {
            commitments: compressed,
            excess,
        }
    }
}

/// Multiples of `B̃`, precomputed once (about 1 ms, 30 KB) for fixed-base
/// multiplication, several times faster than a variable-base one.
fn blinding_table() -> &'static RistrettoBasepointTable {
    static TABLE: OnceLock<RistrettoBasepointTable> = OnceLock::new();
    TABLE.get_or_init(|| RistrettoBasepointTable::create(&pedersen_gens().B_blinding))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use std::collections::HashSet;

    #[test]
    fn zero_balanced_groups_keep_the_supply_equation() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut audit = SupplyAudit::new();
        let mut seen = HashSet::new();
        for count in [1, 2, 255] {
            let group = ZeroBalanced::random(count, &mut rng);
            assert_eq!(group.commitments.len(), count);
            for commitment in &group.commitments {
                audit.add_unspent_bytes(commitment).expect("a valid point");
                assert!(seen.insert(*commitment), "commitments are distinct");
            }
            audit
                .add_kernel_bytes(&group.excess)
                .expect("a valid point");
        }
        let supply = audit.clone().finish().expect("filler adds no money");
        assert_eq!(supply.outstanding, Amount::ZERO);
        assert_eq!(supply.unspent_notes, 258);

        // A group without its kernel, or a kernel without its group, is caught.
        let group = ZeroBalanced::random(3, &mut rng);
        let mut unbalanced = audit.clone();
        unbalanced.add_unspent_bytes(&group.commitments[0]).unwrap();
        assert_eq!(unbalanced.finish(), Err(AuditError::Mismatch));
        let mut unbalanced = audit;
        unbalanced.add_kernel_bytes(&group.excess).unwrap();
        assert_eq!(unbalanced.finish(), Err(AuditError::Mismatch));
    }
}

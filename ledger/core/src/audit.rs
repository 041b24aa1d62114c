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

use crate::amount::Amount;
use crate::commitment::{pedersen_gens, value_point, Commitment};
use crate::point::{Point, PointError};
use crate::tx::{Excess, IssueOutput, PublicBlinding};
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;

#[derive(Debug, Clone)]
pub struct SupplyAudit {
    unspent: RistrettoPoint,
    kernels: RistrettoPoint,
    issued: Amount,
    issued_blinding: Scalar,
    redeemed: Amount,
    notes: u64,
    overflow: bool,
}

/// The proven supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supply {
    pub issued: Amount,
    pub redeemed: Amount,
    /// `issued − redeemed`: the money in circulation.
    pub outstanding: Amount,
    /// How many unspent notes were summed.
    pub unspent_notes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("the unspent notes and kernels do not add up to the issued supply")]
    Mismatch,
    #[error("issued or redeemed totals overflow 64 bits")]
    Overflow,
    #[error("more was redeemed ({redeemed}) than issued ({issued})")]
    RedeemedExceedsIssued { issued: Amount, redeemed: Amount },
    #[error("a stored commitment or excess is not a valid point: {0}")]
    BadPoint(PointError),
}

impl Default for SupplyAudit {
    fn default() -> Self {
        SupplyAudit {
            unspent: RistrettoPoint::identity(),
            kernels: RistrettoPoint::identity(),
            issued: Amount::ZERO,
            issued_blinding: Scalar::ZERO,
            redeemed: Amount::ZERO,
            notes: 0,
            overflow: false,
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
        match self.issued.checked_add(value) {
            Some(total) => self.issued = total,
            None => self.overflow = true,
        }
        self.issued_blinding += blinding.0;
    }

    pub fn add_redemption(&mut self, burned: Amount) {
        match self.redeemed.checked_add(burned) {
            Some(total) => self.redeemed = total,
            None => self.overflow = true,
        }
    }

    /// Combines two partial audits of disjoint parts of the ledger.
    pub fn merge(mut self, other: SupplyAudit) -> SupplyAudit {
        self.unspent += other.unspent;
        self.kernels += other.kernels;
        self.issued_blinding += other.issued_blinding;
        self.notes += other.notes;
        self.overflow |= other.overflow;
        match self.issued.checked_add(other.issued) {
            Some(total) => self.issued = total,
            None => self.overflow = true,
        }
        match self.redeemed.checked_add(other.redeemed) {
            Some(total) => self.redeemed = total,
            None => self.overflow = true,
        }
        self
    }

    /// Checks `Σ unspent C + Σ E = S·B + (Σ r_issue)·B̃` and reports `S`.
    pub fn finish(self) -> Result<Supply, AuditError> {
        if self.overflow {
            return Err(AuditError::Overflow);
        }
        let outstanding =
            self.issued
                .checked_sub(self.redeemed)
                .ok_or(AuditError::RedeemedExceedsIssued {
                    issued: self.issued,
                    redeemed: self.redeemed,
                })?;
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

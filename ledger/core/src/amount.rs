//! Money: an amount of central bank money in minor units (cents).
//!
//! `Amount` is a `u64`. Every operation that could leave the range is checked and
//! returns `None`/an error instead of wrapping: a ledger whose arithmetic wraps can
//! create money. There are no `as` casts on money anywhere in the crate.

use core::fmt;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// An amount in minor units. `Amount::MAX` is `u64::MAX` minor units, the range the
/// 64-bit range proofs cover.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, Zeroize,
)]
#[serde(transparent)]
pub struct Amount(u64);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub const MAX: Amount = Amount(u64::MAX);

    pub const fn new(minor_units: u64) -> Self {
        Amount(minor_units)
    }

    pub const fn minor_units(self) -> u64 {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// The sum of `amounts`, or `None` if it does not fit in 64 bits.
    pub fn checked_sum<I: IntoIterator<Item = Amount>>(amounts: I) -> Option<Amount> {
        amounts
            .into_iter()
            .try_fold(Amount::ZERO, |acc, a| acc.checked_add(a))
    }
}

impl From<u64> for Amount {
    fn from(minor_units: u64) -> Self {
        Amount(minor_units)
    }
}

// Amounts are confidential on the ledger. The Debug form prints the number because
// amounts only ever exist in clear inside a wallet or bank that owns them, and the
// house rule "never log amounts" is kept at the logging call sites of the services.
impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_none_never_a_wrap() {
        assert_eq!(Amount::MAX.checked_add(Amount::new(1)), None);
        assert_eq!(Amount::ZERO.checked_sub(Amount::new(1)), None);
        assert_eq!(Amount::checked_sum([Amount::MAX, Amount::new(1)]), None);
        assert_eq!(
            Amount::checked_sum([Amount::new(2), Amount::new(3)]),
            Some(Amount::new(5))
        );
    }
}

//! What an officer checks before approving an issuance: the issue the ledger
//! serves for a proposal must carry the reference derived from the proposal's
//! id, so the ledger cannot have an officer sign an issue it made up.

use sha2::{Digest, Sha256};

/// The reference of the issue that executes a proposal, from the 16 bytes of
/// the proposal's id.
pub fn issuance_reference(proposal_id: &[u8; 16]) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"cbdc.issuance.reference.v1")
        .chain_update(proposal_id)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A golden vector: officers' clients and the ledger compute the
    /// reference apart, so its derivation must never drift.
    #[test]
    fn reference_of_a_known_id() {
        let id = *b"0123456789abcdef";
        assert_eq!(
            hex::encode(issuance_reference(&id)),
            "265470cd343509a865d3348fba060fdce94207e996ce3266ff3c9596ec3d477a"
        );
    }
}

//! The verifiable journal: committed transactions, in order, in signed blocks.
//!
//! Each batch the ledger commits becomes a block. Its header binds the height, the
//! hash of the previous header, the Merkle root of the block's transaction ids,
//! their count and the time; the ledger signs the header hash with its block key
//! ([`Purpose::Block`]). A [`Receipt`] carries the header, the signature and the
//! Merkle inclusion path of one transaction, so anyone holding the ledger's public
//! key can check that the ledger accepted it, at which height, and hold the ledger
//! to it.
//!
//! ```text
//!   header  = version u8 = 1 ‖ height u64 ‖ prev_hash [32] ‖ merkle_root [32]
//!             ‖ tx_count u32 ‖ time_ms u64                    (little-endian, 85 bytes)
//!   hash    = SHA-256("cbdc.block.v1" ‖ header)
//!   leaf    = SHA-256(0x00 ‖ tx id)
//!   node    = SHA-256(0x01 ‖ left ‖ right)
//! ```
//!
//! Leaves and nodes are domain-separated so a node can never pass for a leaf. A
//! level with an odd number of nodes promotes the last one unchanged (it is not
//! paired with itself, which would let two different transaction lists share a root).

use crate::keys::{PublicKey, Purpose, SecretKey, Signature};
use crate::tx::TxId;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const BLOCK_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 85;
/// Most transactions in one block.
pub const BLOCK_TXS_MAX: usize = 4096;

/// A 32-byte hash, hex in JSON.
pub type Hash = [u8; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    pub height: u64,
    #[serde(with = "hex32")]
    pub prev_hash: Hash,
    #[serde(with = "hex32")]
    pub merkle_root: Hash,
    pub tx_count: u32,
    /// Milliseconds since the Unix epoch, as the ledger's clock said.
    pub time_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("block header is not {HEADER_LEN} bytes of version {BLOCK_VERSION}")]
    MalformedHeader,
    #[error("block {height}: signature does not verify with the ledger key")]
    BadBlockSignature { height: u64 },
    #[error("block {height}: previous hash does not match block {}", height.saturating_sub(1))]
    BrokenChain { height: u64 },
    #[error("block {expected} in the chain claims height {height}")]
    HeightGap { height: u64, expected: u64 },
    #[error("block {height}: the Merkle root does not match its transactions")]
    BadMerkleRoot { height: u64 },
    #[error("transaction is not included in block {height} at index {index}")]
    NotIncluded { height: u64, index: u32 },
}

impl BlockHeader {
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = BLOCK_VERSION;
        out[1..9].copy_from_slice(&self.height.to_le_bytes());
        out[9..41].copy_from_slice(&self.prev_hash);
        out[41..73].copy_from_slice(&self.merkle_root);
        out[73..77].copy_from_slice(&self.tx_count.to_le_bytes());
        out[77..85].copy_from_slice(&self.time_ms.to_le_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<BlockHeader, JournalError> {
        if bytes.len() != HEADER_LEN || bytes[0] != BLOCK_VERSION {
            return Err(JournalError::MalformedHeader);
        }
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let mut prev_hash = [0u8; 32];
        prev_hash.copy_from_slice(&bytes[9..41]);
        let mut merkle_root = [0u8; 32];
        merkle_root.copy_from_slice(&bytes[41..73]);
        let mut count = [0u8; 4];
        count.copy_from_slice(&bytes[73..77]);
        Ok(BlockHeader {
            height: u64_at(1),
            prev_hash,
            merkle_root,
            tx_count: u32::from_le_bytes(count),
            time_ms: u64_at(77),
        })
    }

    pub fn hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(b"cbdc.block.v1");
        h.update(self.to_bytes());
        h.finalize().into()
    }

    pub fn sign<R: RngCore + CryptoRng>(&self, key: &SecretKey, rng: &mut R) -> Signature {
        key.sign(Purpose::Block, &self.hash(), rng)
    }

    pub fn verify_signature(
        &self,
        ledger: &PublicKey,
        signature: &Signature,
    ) -> Result<(), JournalError> {
        ledger
            .verify(Purpose::Block, &self.hash(), signature)
            .map_err(|_| JournalError::BadBlockSignature {
                height: self.height,
            })
    }

    /// Checks that `self` directly follows `previous` (or is the genesis block at
    /// height 0 with an all-zero previous hash when `previous` is `None`).
    pub fn check_follows(&self, previous: Option<&BlockHeader>) -> Result<(), JournalError> {
        let (expected_height, expected_prev) = match previous {
            None => (0, [0u8; 32]),
            Some(p) => (p.height + 1, p.hash()),
        };
        if self.height != expected_height {
            return Err(JournalError::HeightGap {
                height: self.height,
                expected: expected_height,
            });
        }
        if self.prev_hash != expected_prev {
            return Err(JournalError::BrokenChain {
                height: self.height,
            });
        }
        Ok(())
    }
}

fn leaf(tx: &TxId) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(tx.0);
    h.finalize().into()
}

fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => node(left, right),
            [single] => *single,
            _ => unreachable!("chunks(2) yields one or two"),
        })
        .collect()
}

/// The Merkle root of `txs` (all zero for none).
pub fn merkle_root(txs: &[TxId]) -> Hash {
    if txs.is_empty() {
        return [0u8; 32];
    }
    let mut level: Vec<Hash> = txs.iter().map(leaf).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// The siblings from leaf `index` up to the root (promoted levels contribute none).
pub fn merkle_path(txs: &[TxId], index: usize) -> Vec<Hash> {
    assert!(index < txs.len(), "index out of range");
    let mut path = Vec::new();
    let mut level: Vec<Hash> = txs.iter().map(leaf).collect();
    let mut i = index;
    while level.len() > 1 {
        let sibling = i ^ 1;
        if sibling < level.len() {
            path.push(level[sibling]);
        }
        level = next_level(&level);
        i /= 2;
    }
    path
}

/// Recomputes the root from a leaf, its index, the leaf count and the path.
pub fn merkle_root_from_path(tx: &TxId, index: u32, count: u32, path: &[Hash]) -> Option<Hash> {
    if index >= count {
        return None;
    }
    let mut hash = leaf(tx);
    let mut i = index;
    let mut width = count;
    let mut siblings = path.iter();
    while width > 1 {
        let sibling = i ^ 1;
        if sibling < width {
            let s = siblings.next()?;
            hash = if i.is_multiple_of(2) {
                node(&hash, s)
            } else {
                node(s, &hash)
            };
        }
        i /= 2;
        width = width.div_ceil(2);
    }
    if siblings.next().is_some() {
        return None;
    }
    Some(hash)
}

/// Proof that the ledger committed a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub tx_id: TxId,
    pub block: BlockHeader,
    pub block_signature: Signature,
    pub index: u32,
    #[serde(with = "hex32_vec")]
    pub path: Vec<Hash>,
}

impl Receipt {
    /// Checks the block signature and the inclusion of `tx_id`.
    pub fn verify(&self, ledger: &PublicKey) -> Result<(), JournalError> {
        self.block.verify_signature(ledger, &self.block_signature)?;
        match merkle_root_from_path(&self.tx_id, self.index, self.block.tx_count, &self.path) {
            Some(root) if root == self.block.merkle_root => Ok(()),
            _ => Err(JournalError::NotIncluded {
                height: self.block.height,
                index: self.index,
            }),
        }
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.as_ref(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

mod hex32_vec {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(hex::encode))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        if texts.len() > 64 {
            return Err(serde::de::Error::custom("Merkle path longer than 64"));
        }
        texts
            .iter()
            .map(|t| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(t, &mut out).map_err(serde::de::Error::custom)?;
                Ok(out)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn ids(n: usize) -> Vec<TxId> {
        (0..n)
            .map(|i| TxId([u8::try_from(i % 256).unwrap(); 32]))
            .map(|mut t| {
                t.0[31] = 0xAA;
                t
            })
            .collect()
    }

    #[test]
    fn every_leaf_of_every_size_proves_and_nothing_else_does() {
        for n in 1..=33 {
            let txs: Vec<TxId> = (0..n)
                .map(|i| {
                    let mut t = [0u8; 32];
                    t[..8].copy_from_slice(&u64::try_from(i).unwrap().to_le_bytes());
                    TxId(t)
                })
                .collect();
            let root = merkle_root(&txs);
            let count = u32::try_from(n).unwrap();
            for (i, tx) in txs.iter().enumerate() {
                let path = merkle_path(&txs, i);
                let index = u32::try_from(i).unwrap();
                assert_eq!(merkle_root_from_path(tx, index, count, &path), Some(root));
                let other = TxId([0xFF; 32]);
                assert_ne!(
                    merkle_root_from_path(&other, index, count, &path),
                    Some(root)
                );
                if n > 1 {
                    let wrong = (index + 1) % count;
                    assert_ne!(merkle_root_from_path(tx, wrong, count, &path), Some(root));
                }
            }
        }
    }

    #[test]
    fn receipt_verifies_and_tampering_fails() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let key = SecretKey::generate(&mut rng);
        let txs = ids(5);
        let header = BlockHeader {
            height: 0,
            prev_hash: [0; 32],
            merkle_root: merkle_root(&txs),
            tx_count: 5,
            time_ms: 1,
        };
        assert_eq!(BlockHeader::from_bytes(&header.to_bytes()).unwrap(), header);
        header.check_follows(None).unwrap();
        let receipt = Receipt {
            tx_id: txs[3],
            block: header,
            block_signature: header.sign(&key, &mut rng),
            index: 3,
            path: merkle_path(&txs, 3),
        };
        receipt.verify(&key.public_key()).unwrap();
        let json = serde_json::to_string(&receipt).unwrap();
        assert_eq!(serde_json::from_str::<Receipt>(&json).unwrap(), receipt);
        let mut bad = receipt.clone();
        bad.block.time_ms = 2;
        assert!(bad.verify(&key.public_key()).is_err());
        let mut bad = receipt.clone();
        bad.tx_id = txs[2];
        assert!(bad.verify(&key.public_key()).is_err());
        let other = SecretKey::generate(&mut rng).public_key();
        assert!(receipt.verify(&other).is_err());
        let next = BlockHeader {
            height: 1,
            prev_hash: header.hash(),
            ..header
        };
        next.check_follows(Some(&header)).unwrap();
        let forged = BlockHeader {
            prev_hash: [1; 32],
            ..next
        };
        assert_eq!(
            forged.check_follows(Some(&header)),
            Err(JournalError::BrokenChain { height: 1 })
        );
    }
}

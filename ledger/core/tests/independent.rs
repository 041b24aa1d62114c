//! Vectors from outside the code under test: block headers and their hashes, Merkle
//! roots and inclusion paths, receipts and Schnorr signatures, kept in
//! `tests/vectors/journal.json`.
//!
//! [`spec`] below re-implements the formats from their written specification (the
//! module docs of `ledger_core::journal` and `ledger_core::keys`) with `sha2`,
//! `curve25519-dalek` and `merlin` alone; it calls nothing of `ledger_core`. Every
//! vector is checked twice, positive and negative cases alike: recomputed by
//! [`spec`], and run through the project's code (`journal::*`, `BlockHeader`,
//! `Receipt::verify`, `PublicKey::verify`). A change to a format therefore fails
//! here even if the file is regenerated, unless [`spec`] changes with it, and that
//! is a visible change to the protocol.
//!
//! The transaction ids of the vectors are `SHA-256("cbdc.vectors.txid" ‖ i as u32
//! little-endian)` for `i = 0, 1, …, 32`.
//!
//! The file is written by [`generate`] at the end, which computes every
//! deterministic value (header bytes, hashes, roots, paths) with both
//! implementations and asserts they agree. Signatures use hedged nonces, so the
//! file fixes the bytes the project's signer produced once (from a seeded
//! generator), and [`spec`] verifies them. The tests never write the file; to
//! regenerate it after an intended change, run
//!
//! ```text
//! CBDC_WRITE_VECTORS=1 cargo test -p ledger-core --test independent
//! ```
//!
//! and say in the commit why compatibility breaks.

use ledger_core::journal::{self, BlockHeader, JournalError, Receipt};
use ledger_core::{PublicKey, Purpose, SecretKey, Signature, SignatureError, TxId};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The specification, re-implemented for the tests only.
mod spec {
    use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::IsIdentity;
    use merlin::Transcript;
    use sha2::{Digest, Sha256};

    pub type Hash = [u8; 32];

    /// The ristretto255 generator `B` as RFC 9496 (§4.4) encodes it.
    pub const BASEPOINT_HEX: &str =
        "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76";

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Header {
        pub height: u64,
        pub prev_hash: Hash,
        pub merkle_root: Hash,
        pub tx_count: u32,
        pub time_ms: u64,
    }

    fn sha256(parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        for part in parts {
            h.update(part);
        }
        h.finalize().into()
    }

    /// `version u8 = 1 ‖ height u64 ‖ prev_hash ‖ merkle_root ‖ tx_count u32 ‖
    /// time_ms u64`, little-endian, 85 bytes.
    pub fn header_bytes(h: &Header) -> Vec<u8> {
        let mut out = vec![1u8];
        out.extend_from_slice(&h.height.to_le_bytes());
        out.extend_from_slice(&h.prev_hash);
        out.extend_from_slice(&h.merkle_root);
        out.extend_from_slice(&h.tx_count.to_le_bytes());
        out.extend_from_slice(&h.time_ms.to_le_bytes());
        assert_eq!(out.len(), 85);
        out
    }

    pub fn parse_header(bytes: &[u8]) -> Option<Header> {
        if bytes.len() != 85 || bytes[0] != 1 {
            return None;
        }
        let (height, rest) = bytes[1..].split_at(8);
        let (prev_hash, rest) = rest.split_at(32);
        let (merkle_root, rest) = rest.split_at(32);
        let (tx_count, time_ms) = rest.split_at(4);
        Some(Header {
            height: u64::from_le_bytes(height.try_into().ok()?),
            prev_hash: prev_hash.try_into().ok()?,
            merkle_root: merkle_root.try_into().ok()?,
            tx_count: u32::from_le_bytes(tx_count.try_into().ok()?),
            time_ms: u64::from_le_bytes(time_ms.try_into().ok()?),
        })
    }

    /// `SHA-256("cbdc.block.v1" ‖ header)`.
    pub fn header_hash(bytes: &[u8]) -> Hash {
        sha256(&[b"cbdc.block.v1", bytes])
    }

    pub fn tx_id(i: u32) -> Hash {
        sha256(&[b"cbdc.vectors.txid", &i.to_le_bytes()])
    }

    pub fn leaf(id: &Hash) -> Hash {
        sha256(&[&[0], id])
    }

    pub fn node(left: &Hash, right: &Hash) -> Hash {
        sha256(&[&[1], left, right])
    }

    // Pairing each level left to right and promoting an odd last node builds the
    // left-balanced tree of RFC 9162 §2.1.1 (and the leaf and node hashes are its
    // 0x00 and 0x01 prefixes), so the root, path and path check below are that
    // RFC's algorithms, a different route to the same values than the project's
    // level-by-level code. [`levels_root`] is the module docs read literally;
    // a test checks the two agree.

    /// The largest power of two below `n` (for `n ≥ 2`).
    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// RFC 9162's MTH, except that the root of no leaves is 32 zero bytes.
    fn subtree_root(leaves: &[Hash]) -> Hash {
        match leaves {
            [] => [0u8; 32],
            [single] => *single,
            _ => {
                let k = split(leaves.len());
                node(&subtree_root(&leaves[..k]), &subtree_root(&leaves[k..]))
            }
        }
    }

    fn leaves(ids: &[Hash]) -> Vec<Hash> {
        ids.iter().map(leaf).collect()
    }

    pub fn merkle_root(ids: &[Hash]) -> Hash {
        subtree_root(&leaves(ids))
    }

    /// RFC 9162's PATH: siblings from the leaf up.
    fn subtree_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        if leaves.len() <= 1 {
            return Vec::new();
        }
        let k = split(leaves.len());
        let (mut path, sibling) = if m < k {
            (subtree_path(m, &leaves[..k]), subtree_root(&leaves[k..]))
        } else {
            (
                subtree_path(m - k, &leaves[k..]),
                subtree_root(&leaves[..k]),
            )
        };
        path.push(sibling);
        path
    }

    pub fn merkle_path(ids: &[Hash], index: usize) -> Vec<Hash> {
        assert!(index < ids.len());
        subtree_path(index, &leaves(ids))
    }

    /// The root an inclusion path leads to (RFC 9162 §2.1.3.2), or `None` when the
    /// path cannot belong to a tree of `count` leaves.
    pub fn root_from_path(id: &Hash, index: u64, count: u64, path: &[Hash]) -> Option<Hash> {
        if index >= count {
            return None;
        }
        let (mut f, mut s) = (index, count - 1);
        let mut r = leaf(id);
        for p in path {
            if s == 0 {
                return None;
            }
            if f & 1 == 1 || f == s {
                r = node(p, &r);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                r = node(&r, p);
            }
            f >>= 1;
            s >>= 1;
        }
        (s == 0).then_some(r)
    }

    /// The journal's module docs read literally: pair each level left to right; an
    /// odd last node goes up unchanged.
    pub fn levels_root(ids: &[Hash]) -> Hash {
        let mut level = leaves(ids);
        if level.is_empty() {
            return [0u8; 32];
        }
        while level.len() > 1 {
            let mut next = Vec::new();
            let mut i = 0;
            while i + 1 < level.len() {
                next.push(node(&level[i], &level[i + 1]));
                i += 2;
            }
            if i < level.len() {
                next.push(level[i]);
            }
            level = next;
        }
        level[0]
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Outcome {
        Valid,
        Invalid,
        MalformedKey,
        MalformedSignature,
    }

    impl Outcome {
        pub fn name(self) -> &'static str {
            match self {
                Outcome::Valid => "valid",
                Outcome::Invalid => "invalid",
                Outcome::MalformedKey => "malformed_key",
                Outcome::MalformedSignature => "malformed_signature",
            }
        }
    }

    /// A canonical encoding of a point other than the identity.
    fn point(bytes: &[u8; 32]) -> Option<RistrettoPoint> {
        CompressedRistretto(*bytes)
            .decompress()
            .filter(|p| !p.is_identity())
    }

    pub fn basepoint() -> [u8; 32] {
        let mut out = [0u8; 32];
        hex::decode_to_slice(BASEPOINT_HEX, &mut out).expect("the constant is hex");
        out
    }

    /// `c = H("cbdc.schnorr.v1" ‖ purpose ‖ G ‖ P ‖ message ‖ R)` as a merlin
    /// transcript, 64 challenge bytes reduced modulo the group order.
    pub fn challenge(
        purpose: &[u8],
        generator: &[u8; 32],
        public: &[u8; 32],
        message: &[u8],
        r: &[u8; 32],
    ) -> Scalar {
        let mut t = Transcript::new(b"cbdc.schnorr.v1");
        t.append_message(b"purpose", purpose);
        t.append_message(b"G", generator);
        t.append_message(b"P", public);
        t.append_message(b"message", message);
        t.append_message(b"R", r);
        let mut wide = [0u8; 64];
        t.challenge_bytes(b"c", &mut wide);
        Scalar::from_bytes_mod_order_wide(&wide)
    }

    /// A signature `R ‖ s` verifies when `s·B − c·P = R`; `R` and `P` must be
    /// canonical and not the identity, `s` canonical.
    pub fn verify(public: &[u8; 32], purpose: &[u8], message: &[u8], sig: &[u8; 64]) -> Outcome {
        let Some(p) = point(public) else {
            return Outcome::MalformedKey;
        };
        let mut r = [0u8; 32];
        r.copy_from_slice(&sig[..32]);
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig[32..]);
        if point(&r).is_none() {
            return Outcome::MalformedSignature;
        }
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
            return Outcome::MalformedSignature;
        };
        let g_bytes = basepoint();
        let g = point(&g_bytes).expect("the basepoint decodes");
        let c = challenge(purpose, &g_bytes, public, message, &r);
        if (s * g - c * p).compress().to_bytes() == r {
            Outcome::Valid
        } else {
            Outcome::Invalid
        }
    }

    pub struct Receipt {
        pub tx_id: Hash,
        pub block: Header,
        pub block_signature: [u8; 64],
        pub index: u64,
        pub path: Vec<Hash>,
    }

    /// The block signature (purpose `block`, over the header hash), then inclusion.
    pub fn verify_receipt(ledger: &[u8; 32], receipt: &Receipt) -> Result<(), &'static str> {
        let hash = header_hash(&header_bytes(&receipt.block));
        if verify(ledger, b"block", &hash, &receipt.block_signature) != Outcome::Valid {
            return Err("bad_block_signature");
        }
        let count = u64::from(receipt.block.tx_count);
        match root_from_path(&receipt.tx_id, receipt.index, count, &receipt.path) {
            Some(root) if root == receipt.block.merkle_root => Ok(()),
            _ => Err("not_included"),
        }
    }
}

use spec::Hash;

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/journal.json")
}

fn stored() -> Value {
    let text = std::fs::read_to_string(vectors_path()).expect("tests/vectors/journal.json");
    serde_json::from_str(&text).expect("journal.json is JSON")
}

// Reading the file with serde_json alone, so that the project's serde forms are
// checked, not trusted.

fn bytes(v: &Value) -> Vec<u8> {
    let text = v.as_str().expect("a hex string");
    assert!(
        !text.bytes().any(|b| b.is_ascii_uppercase()),
        "hex is lowercase"
    );
    hex::decode(text).expect("hex")
}

fn fixed<const N: usize>(v: &Value) -> [u8; N] {
    bytes(v).try_into().expect("the right length")
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().expect("an array").iter().map(fixed).collect()
}

fn number(v: &Value) -> u64 {
    v.as_u64().expect("an unsigned integer")
}

fn array(v: &Value) -> &Vec<Value> {
    v.as_array().expect("an array")
}

fn spec_header(v: &Value) -> spec::Header {
    assert_eq!(v.as_object().expect("an object").len(), 5, "{v}");
    spec::Header {
        height: number(&v["height"]),
        prev_hash: fixed(&v["prev_hash"]),
        merkle_root: fixed(&v["merkle_root"]),
        tx_count: u32::try_from(number(&v["tx_count"])).expect("a u32"),
        time_ms: number(&v["time_ms"]),
    }
}

fn spec_receipt(v: &Value) -> spec::Receipt {
    assert_eq!(v.as_object().expect("an object").len(), 5, "{v}");
    spec::Receipt {
        tx_id: fixed(&v["tx_id"]),
        block: spec_header(&v["block"]),
        block_signature: fixed(&v["block_signature"]),
        index: number(&v["index"]),
        path: hashes(&v["path"]),
    }
}

fn tx_ids(ids: &[Hash]) -> Vec<TxId> {
    ids.iter().copied().map(TxId).collect()
}

/// The project's purpose for a label of the vectors.
fn purpose(label: &str) -> Purpose {
    match label {
        "owner" => Purpose::Owner,
        "kernel" => Purpose::Kernel,
        "officer" => Purpose::Officer,
        "request" => Purpose::Request,
        "block" => Purpose::Block,
        other => panic!("no purpose {other}"),
    }
}

fn project_signature_outcome(
    public: &[u8; 32],
    label: &str,
    message: &[u8],
    sig: &[u8; 64],
) -> &'static str {
    let Ok(key) = PublicKey::from_bytes(public) else {
        return "malformed_key";
    };
    let Ok(signature) = Signature::from_bytes(sig) else {
        return "malformed_signature";
    };
    match key.verify(purpose(label), message, &signature) {
        Ok(()) => "valid",
        Err(SignatureError::Invalid) => "invalid",
        Err(SignatureError::Malformed) => "malformed_signature",
    }
}

fn project_receipt_outcome(ledger: &[u8; 32], receipt: &Value) -> Result<(), &'static str> {
    let parsed: Receipt = serde_json::from_value(receipt.clone()).expect("a receipt");
    assert_eq!(
        &serde_json::to_value(&parsed).unwrap(),
        receipt,
        "the project serialises the receipt as stored"
    );
    let key = PublicKey::from_bytes(ledger).expect("a ledger key");
    match parsed.verify(&key) {
        Ok(()) => Ok(()),
        Err(JournalError::BadBlockSignature { .. }) => Err("bad_block_signature"),
        Err(JournalError::NotIncluded { .. }) => Err("not_included"),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

fn expected_error(v: &Value) -> Result<(), &'static str> {
    match v["error"].as_str().expect("an error") {
        "bad_block_signature" => Err("bad_block_signature"),
        "not_included" => Err("not_included"),
        other => panic!("no error {other}"),
    }
}

#[test]
fn the_specification_matches_the_curve_library_and_reads_the_docs_alike() {
    assert_eq!(
        spec::basepoint(),
        curve25519_dalek::constants::RISTRETTO_BASEPOINT_COMPRESSED.to_bytes()
    );
    let ids: Vec<Hash> = (0..70).map(spec::tx_id).collect();
    for n in 0..=ids.len() {
        assert_eq!(
            spec::merkle_root(&ids[..n]),
            spec::levels_root(&ids[..n]),
            "{n}"
        );
    }
}

#[test]
fn transaction_ids_follow_the_documented_rule() {
    let v = stored();
    let ids = hashes(&v["tx_ids"]);
    assert_eq!(ids.len(), 33);
    for (i, id) in (0u32..).zip(&ids) {
        assert_eq!(*id, spec::tx_id(i), "tx id {i}");
    }
}

#[test]
fn headers_recompute_independently() {
    let v = stored();
    let mut previous: Option<Hash> = None;
    for h in array(&v["headers"]) {
        let what = h["description"].as_str().unwrap();
        let header = spec_header(&h["header"]);
        let encoded = bytes(&h["bytes"]);
        assert_eq!(spec::header_bytes(&header), encoded, "{what}");
        assert_eq!(spec::parse_header(&encoded), Some(header), "{what}");
        let hash = spec::header_hash(&encoded);
        assert_eq!(hash, fixed::<32>(&h["hash"]), "{what}");
        if h["chain"] == json!(true) {
            match previous {
                None => assert_eq!((header.height, header.prev_hash), (0, [0u8; 32])),
                Some(p) => assert_eq!(header.prev_hash, p, "{what}"),
            }
            previous = Some(hash);
        }
    }
    for m in array(&v["malformed_headers"]) {
        assert_eq!(spec::parse_header(&bytes(&m["bytes"])), None, "{m}");
    }
}

#[test]
fn headers_agree_with_the_project() {
    let v = stored();
    let mut previous: Option<BlockHeader> = None;
    for h in array(&v["headers"]) {
        let what = h["description"].as_str().unwrap();
        let header: BlockHeader = serde_json::from_value(h["header"].clone()).unwrap();
        assert_eq!(serde_json::to_value(header).unwrap(), h["header"], "{what}");
        let encoded = bytes(&h["bytes"]);
        assert_eq!(header.to_bytes().as_slice(), encoded.as_slice(), "{what}");
        assert_eq!(BlockHeader::from_bytes(&encoded), Ok(header), "{what}");
        assert_eq!(header.hash(), fixed::<32>(&h["hash"]), "{what}");
        if h["chain"] == json!(true) {
            header.check_follows(previous.as_ref()).unwrap();
            previous = Some(header);
        }
    }
    for m in array(&v["malformed_headers"]) {
        assert_eq!(
            BlockHeader::from_bytes(&bytes(&m["bytes"])),
            Err(JournalError::MalformedHeader),
            "{m}"
        );
    }
}

#[test]
fn merkle_roots_and_paths_recompute_independently() {
    let v = stored();
    let ids = hashes(&v["tx_ids"]);
    for m in array(&v["merkle"]) {
        let n = usize::try_from(number(&m["size"])).unwrap();
        let root = fixed::<32>(&m["root"]);
        assert_eq!(spec::merkle_root(&ids[..n]), root, "size {n}");
        for p in array(&m["paths"]) {
            let index = number(&p["index"]);
            let path = hashes(&p["path"]);
            let i = usize::try_from(index).unwrap();
            assert_eq!(spec::merkle_path(&ids[..n], i), path, "size {n} index {i}");
            let count = u64::try_from(n).unwrap();
            assert_eq!(
                spec::root_from_path(&ids[i], index, count, &path),
                Some(root),
                "size {n} index {i}"
            );
        }
    }
    for b in array(&v["bad_paths"]) {
        let root = fixed::<32>(&b["root"]);
        let found = spec::root_from_path(
            &fixed(&b["tx_id"]),
            number(&b["index"]),
            number(&b["count"]),
            &hashes(&b["path"]),
        );
        assert_ne!(found, Some(root), "{}", b["description"]);
    }
}

#[test]
fn merkle_roots_and_paths_agree_with_the_project() {
    let v = stored();
    let ids = tx_ids(&hashes(&v["tx_ids"]));
    for m in array(&v["merkle"]) {
        let n = usize::try_from(number(&m["size"])).unwrap();
        let root = fixed::<32>(&m["root"]);
        assert_eq!(journal::merkle_root(&ids[..n]), root, "size {n}");
        for p in array(&m["paths"]) {
            let index = u32::try_from(number(&p["index"])).unwrap();
            let i = usize::try_from(index).unwrap();
            let path = hashes(&p["path"]);
            assert_eq!(
                journal::merkle_path(&ids[..n], i),
                path,
                "size {n} index {i}"
            );
            let count = u32::try_from(n).unwrap();
            assert_eq!(
                journal::merkle_root_from_path(&ids[i], index, count, &path),
                Some(root),
                "size {n} index {i}"
            );
        }
    }
    for b in array(&v["bad_paths"]) {
        let root = fixed::<32>(&b["root"]);
        let found = journal::merkle_root_from_path(
            &TxId(fixed(&b["tx_id"])),
            u32::try_from(number(&b["index"])).unwrap(),
            u32::try_from(number(&b["count"])).unwrap(),
            &hashes(&b["path"]),
        );
        assert_ne!(found, Some(root), "{}", b["description"]);
    }
}

#[test]
fn receipts_verify_independently() {
    let v = stored();
    for r in array(&v["receipts"]) {
        let ledger = fixed::<32>(&r["ledger_key"]);
        let receipt = spec_receipt(&r["receipt"]);
        assert_eq!(
            spec::verify_receipt(&ledger, &receipt),
            Ok(()),
            "{}",
            r["description"]
        );
    }
    for r in array(&v["bad_receipts"]) {
        let ledger = fixed::<32>(&r["ledger_key"]);
        let receipt = spec_receipt(&r["receipt"]);
        assert_eq!(
            spec::verify_receipt(&ledger, &receipt),
            expected_error(r),
            "{}",
            r["description"]
        );
    }
}

#[test]
fn receipts_agree_with_the_project() {
    let v = stored();
    for r in array(&v["receipts"]) {
        let ledger = fixed::<32>(&r["ledger_key"]);
        assert_eq!(
            project_receipt_outcome(&ledger, &r["receipt"]),
            Ok(()),
            "{}",
            r["description"]
        );
    }
    for r in array(&v["bad_receipts"]) {
        let ledger = fixed::<32>(&r["ledger_key"]);
        assert_eq!(
            project_receipt_outcome(&ledger, &r["receipt"]),
            expected_error(r),
            "{}",
            r["description"]
        );
    }
}

#[test]
fn signatures_verify_independently() {
    let v = stored();
    for s in array(&v["signatures"]) {
        let outcome = spec::verify(
            &fixed(&s["public_key"]),
            s["purpose"].as_str().unwrap().as_bytes(),
            &bytes(&s["message"]),
            &fixed(&s["signature"]),
        );
        assert_eq!(outcome.name(), s["expect"], "{}", s["description"]);
    }
}

#[test]
fn signatures_agree_with_the_project() {
    let v = stored();
    for s in array(&v["signatures"]) {
        let signature = fixed::<64>(&s["signature"]);
        let outcome = project_signature_outcome(
            &fixed(&s["public_key"]),
            s["purpose"].as_str().unwrap(),
            &bytes(&s["message"]),
            &signature,
        );
        assert_eq!(outcome, s["expect"], "{}", s["description"]);
        if outcome == "valid" {
            let parsed = Signature::from_bytes(&signature).unwrap();
            assert_eq!(parsed.to_bytes(), signature);
            assert_eq!(serde_json::to_value(parsed).unwrap(), s["signature"]);
        }
    }
}

/// The file keeps what the vectors promise: no case can be dropped silently.
#[test]
fn the_vectors_cover_what_they_promise() {
    let v = stored();
    let sizes: Vec<u64> = array(&v["merkle"])
        .iter()
        .map(|m| number(&m["size"]))
        .collect();
    for n in [0, 1, 2, 3, 4, 5, 7, 8, 9, 33] {
        assert!(sizes.contains(&n), "Merkle size {n}");
    }
    let signatures = array(&v["signatures"]);
    let count = |purpose: &str, expect: &str| {
        signatures
            .iter()
            .filter(|s| s["purpose"] == purpose && s["expect"] == expect)
            .count()
    };
    for label in ["block", "request", "officer", "owner"] {
        assert!(count(label, "valid") >= 1, "a valid {label} signature");
    }
    let rejected = |expect: &str| signatures.iter().filter(|s| s["expect"] == expect).count();
    assert!(rejected("invalid") >= 8);
    assert!(rejected("malformed_signature") >= 3);
    assert!(rejected("malformed_key") >= 1);
    assert!(array(&v["headers"]).len() >= 5);
    assert!(array(&v["malformed_headers"]).len() >= 4);
    assert!(array(&v["receipts"]).len() >= 2);
    assert!(array(&v["bad_receipts"]).len() >= 5);
    assert!(array(&v["bad_paths"]).len() >= 5);
}

// The generator. It runs in every test run (its cross-checks are tests too) and
// writes the file only when CBDC_WRITE_VECTORS=1.

const SEED: u64 = 0xcbdc_0009;
/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;
/// The group order ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn as_spec(header: &BlockHeader) -> spec::Header {
    spec::Header {
        height: header.height,
        prev_hash: header.prev_hash,
        merkle_root: header.merkle_root,
        tx_count: header.tx_count,
        time_ms: header.time_ms,
    }
}

/// The root by both implementations (and the docs read literally), asserted equal.
fn root(ids: &[Hash]) -> Hash {
    let ours = spec::merkle_root(ids);
    assert_eq!(
        journal::merkle_root(&tx_ids(ids)),
        ours,
        "root of {}",
        ids.len()
    );
    assert_eq!(spec::levels_root(ids), ours, "root of {}", ids.len());
    ours
}

fn path(ids: &[Hash], index: usize) -> Vec<Hash> {
    let ours = spec::merkle_path(ids, index);
    assert_eq!(journal::merkle_path(&tx_ids(ids), index), ours);
    ours
}

fn hex_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

fn header_vector(description: &str, chain: bool, header: &BlockHeader) -> Value {
    let encoded = spec::header_bytes(&as_spec(header));
    assert_eq!(
        header.to_bytes().as_slice(),
        encoded.as_slice(),
        "{description}"
    );
    let hash = spec::header_hash(&encoded);
    assert_eq!(header.hash(), hash, "{description}");
    json!({
        "description": description,
        "chain": chain,
        "header": serde_json::to_value(header).unwrap(),
        "bytes": hex::encode(&encoded),
        "hash": hex::encode(hash),
    })
}

fn signature_vector(
    description: &str,
    public: &[u8; 32],
    label: &str,
    message: &[u8],
    sig: &[u8; 64],
) -> Value {
    let project = project_signature_outcome(public, label, message, sig);
    let ours = spec::verify(public, label.as_bytes(), message, sig).name();
    assert_eq!(project, ours, "{description}");
    json!({
        "description": description,
        "public_key": hex::encode(public),
        "purpose": label,
        "message": hex::encode(message),
        "signature": hex::encode(sig),
        "expect": ours,
    })
}

fn receipt_vector(description: &str, ledger: &PublicKey, receipt: &Receipt) -> Value {
    let json = serde_json::to_value(receipt).unwrap();
    let outcome = spec::verify_receipt(ledger.as_bytes(), &spec_receipt(&json));
    assert_eq!(
        project_receipt_outcome(ledger.as_bytes(), &json),
        outcome,
        "{description}"
    );
    let mut v = json!({
        "description": description,
        "ledger_key": hex::encode(ledger.as_bytes()),
        "receipt": json,
    });
    if let Err(error) = outcome {
        v["error"] = error.into();
    }
    v
}

fn flip(bytes: &[u8], byte: usize, bit: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[byte] ^= 1 << bit;
    out
}

fn with_byte(bytes: &[u8], index: usize, value: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[index] = value;
    out
}

fn flip64(sig: &[u8; 64], byte: usize, bit: u8) -> [u8; 64] {
    flip(sig, byte, bit).try_into().unwrap()
}

/// `R ‖ (s + ℓ)`: the same point equation, but `s` no longer canonical.
fn plus_group_order(sig: &[u8; 64]) -> [u8; 64] {
    let mut out = *sig;
    let mut carry = 0u16;
    for (o, l) in out[32..].iter_mut().zip(GROUP_ORDER) {
        let sum = u16::from(*o) + u16::from(l) + carry;
        *o = sum.to_le_bytes()[0];
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    out
}

fn sha256(data: &[u8]) -> Hash {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

fn generate() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let ledger = SecretKey::generate(&mut rng);
    let bank = SecretKey::generate(&mut rng);
    let officer = SecretKey::generate(&mut rng);
    let owner = SecretKey::generate(&mut rng);
    let stranger = SecretKey::generate(&mut rng);
    let ledger_key = ledger.public_key();
    let ids: Vec<Hash> = (0..33).map(spec::tx_id).collect();

    // Headers: a chain of three, then standalone ones.
    let genesis = BlockHeader {
        height: 0,
        prev_hash: [0; 32],
        merkle_root: root(&ids[0..3]),
        tx_count: 3,
        time_ms: T0,
    };
    let second = BlockHeader {
        height: 1,
        prev_hash: genesis.hash(),
        merkle_root: root(&ids[3..8]),
        tx_count: 5,
        time_ms: T0 + 1_000,
    };
    let third = BlockHeader {
        height: 2,
        prev_hash: second.hash(),
        merkle_root: root(&ids[8..33]),
        tx_count: 25,
        time_ms: T0 + 2_500,
    };
    let counting =
        |start: u8| -> Hash { std::array::from_fn(|i| start + u8::try_from(i).unwrap()) };
    let headers = vec![
        header_vector(
            "genesis: height 0, zero previous hash, transactions 0..3",
            true,
            &genesis,
        ),
        header_vector("block 1, transactions 3..8", true, &second),
        header_vector("block 2, transactions 8..33", true, &third),
        header_vector(
            "byte order: every field distinct bytes; height and time above 2^53",
            false,
            &BlockHeader {
                height: 0x0102_0304_0506_0708,
                prev_hash: counting(0x20),
                merkle_root: counting(0x40),
                tx_count: 0x0a0b_0c0d,
                time_ms: 0x1112_1314_1516_1718,
            },
        ),
        header_vector(
            "every field at its maximum",
            false,
            &BlockHeader {
                height: u64::MAX,
                prev_hash: [0xff; 32],
                merkle_root: [0xff; 32],
                tx_count: u32::MAX,
                time_ms: u64::MAX,
            },
        ),
        header_vector(
            "no transactions: the Merkle root of none is 32 zero bytes",
            false,
            &BlockHeader {
                height: 41,
                prev_hash: counting(0x80),
                merkle_root: root(&[]),
                tx_count: 0,
                time_ms: T0 + 60_000,
            },
        ),
    ];
    let genesis_bytes = genesis.to_bytes();
    let mut extended = genesis_bytes.to_vec();
    extended.push(0);
    let malformed = |description: &str, encoded: &[u8]| {
        let encoded = hex::encode(encoded);
        json!({"description": description, "bytes": encoded})
    };
    let malformed_headers = vec![
        malformed("version 0", &flip(&genesis_bytes, 0, 0)),
        malformed("version 2", &with_byte(&genesis_bytes, 0, 2)),
        malformed("84 bytes: the time cut short", &genesis_bytes[..84]),
        malformed("86 bytes: a byte appended", &extended),
        malformed("empty", b""),
    ];
    for m in &malformed_headers {
        let encoded = bytes(&m["bytes"]);
        assert_eq!(spec::parse_header(&encoded), None);
        assert_eq!(
            BlockHeader::from_bytes(&encoded),
            Err(JournalError::MalformedHeader)
        );
    }

    // Merkle roots and paths for prefixes of the ids.
    let merkle: Vec<Value> = [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 33]
        .into_iter()
        .map(|n| {
            let prefix = &ids[..n];
            let indices: Vec<usize> = if n <= 9 {
                (0..n).collect()
            } else {
                vec![0, 1, 15, 16, 31, 32]
            };
            let paths: Vec<Value> = indices
                .into_iter()
                .map(|i| json!({"index": i, "path": hex_all(&path(prefix, i))}))
                .collect();
            json!({"size": n, "root": hex::encode(root(prefix)), "paths": paths})
        })
        .collect();

    let bad_path =
        |description: &str, size: usize, count: u32, index: u32, tx: Hash, path: Vec<Hash>| {
            let real = root(&ids[..size]);
            let spec_found = spec::root_from_path(&tx, index.into(), count.into(), &path);
            let project_found = journal::merkle_root_from_path(&TxId(tx), index, count, &path);
            assert_ne!(spec_found, Some(real), "{description}");
            assert_ne!(project_found, Some(real), "{description}");
            json!({
                "description": description,
                "root": hex::encode(real),
                "count": count,
                "index": index,
                "tx_id": hex::encode(tx),
                "path": hex_all(&path),
            })
        };
    let seven = &ids[..7];
    let mut extra = path(seven, 6);
    extra.push(spec::leaf(&ids[0]));
    let mut short = path(seven, 0);
    short.pop();
    let mut reversed = path(&ids[..4], 1);
    reversed.reverse();
    let inner = spec::node(&spec::leaf(&ids[0]), &spec::leaf(&ids[1]));
    let bad_paths = vec![
        bad_path(
            "7 leaves: leaf 2's path presented for index 3",
            7,
            7,
            3,
            ids[2],
            path(seven, 2),
        ),
        bad_path(
            "7 leaves: leaf 2's path and id presented at index 3",
            7,
            7,
            3,
            ids[3],
            path(seven, 2),
        ),
        bad_path(
            "7 leaves: the promoted leaf 6 with a sibling too many",
            7,
            7,
            6,
            ids[6],
            extra,
        ),
        bad_path(
            "7 leaves: leaf 0 with its last sibling missing",
            7,
            7,
            0,
            ids[0],
            short,
        ),
        bad_path(
            "7 leaves: leaf 6's path claimed in a tree of 8",
            7,
            8,
            6,
            ids[6],
            path(seven, 6),
        ),
        bad_path(
            "4 leaves: leaf 1's siblings in the wrong order",
            4,
            4,
            1,
            ids[1],
            reversed,
        ),
        bad_path(
            "1 leaf: another transaction id",
            1,
            1,
            0,
            ids[1],
            Vec::new(),
        ),
        bad_path(
            "33 leaves: index equal to the count",
            33,
            33,
            33,
            ids[32],
            path(&ids[..33], 32),
        ),
        bad_path(
            "4 leaves: an inner node presented as a transaction of a 2-leaf tree",
            4,
            2,
            0,
            inner,
            vec![spec::node(&spec::leaf(&ids[2]), &spec::leaf(&ids[3]))],
        ),
    ];

    // Receipts of the chain's blocks.
    let sign_block = |header: &BlockHeader, rng: &mut ChaCha20Rng| header.sign(&ledger, rng);
    let genesis_signature = sign_block(&genesis, &mut rng);
    let second_signature = sign_block(&second, &mut rng);
    let third_signature = sign_block(&third, &mut rng);
    let receipt = |block: BlockHeader, block_signature: Signature, first: usize, index: usize| {
        let txs = &ids[first..first + usize::try_from(block.tx_count).unwrap()];
        Receipt {
            tx_id: TxId(txs[index]),
            block,
            block_signature,
            index: u32::try_from(index).unwrap(),
            path: path(txs, index),
        }
    };
    let in_second = receipt(second, second_signature, 3, 1);
    let receipts = vec![
        receipt_vector(
            "genesis, index 2: the promoted last leaf of three",
            &ledger_key,
            &receipt(genesis, genesis_signature, 0, 2),
        ),
        receipt_vector("block 1, index 1", &ledger_key, &in_second),
        receipt_vector(
            "block 2, index 24: the last of 25, promoted three levels",
            &ledger_key,
            &receipt(third, third_signature, 8, 24),
        ),
        receipt_vector(
            "block 2, index 0",
            &ledger_key,
            &receipt(third, third_signature, 8, 0),
        ),
    ];
    for r in &receipts {
        assert!(r.get("error").is_none(), "{}", r["description"]);
    }
    let tampered = |change: &dyn Fn(&mut Receipt)| {
        let mut r = in_second.clone();
        change(&mut r);
        r
    };
    let request_signed = ledger.sign(Purpose::Request, &second.hash(), &mut rng);
    let bad_receipts = vec![
        receipt_vector(
            "block 1, index 1, time changed after signing",
            &ledger_key,
            &tampered(&|r| r.block.time_ms += 1),
        ),
        receipt_vector(
            "block 1, index 1, another transaction of the block",
            &ledger_key,
            &tampered(&|r| r.tx_id = TxId(ids[5])),
        ),
        receipt_vector(
            "block 1, index changed to 2",
            &ledger_key,
            &tampered(&|r| r.index = 2),
        ),
        receipt_vector(
            "block 1, index equal to the count",
            &ledger_key,
            &tampered(&|r| r.index = 5),
        ),
        receipt_vector(
            "block 1, index 1, the path's last sibling dropped",
            &ledger_key,
            &tampered(&|r| {
                r.path.pop();
            }),
        ),
        receipt_vector(
            "block 1, checked with another key",
            &stranger.public_key(),
            &in_second,
        ),
        receipt_vector(
            "block 1, signed by the ledger's key for the purpose request",
            &ledger_key,
            &tampered(&|r| r.block_signature = request_signed),
        ),
    ];
    for r in &bad_receipts {
        assert!(r.get("error").is_some(), "{}", r["description"]);
    }

    // Signatures.
    let digest = sha256(b"cbdc.vectors.digest");
    let mut owner_message = digest.to_vec();
    owner_message.extend_from_slice(&1u32.to_le_bytes());
    let request_message = sha256(b"cbdc.vectors.request");
    let long_message: Vec<u8> = (0..=255u8).collect();
    let sign = |key: &SecretKey, p: Purpose, m: &[u8], rng: &mut ChaCha20Rng| {
        key.sign(p, m, rng).to_bytes()
    };
    let block_sig = sign(&ledger, Purpose::Block, &genesis.hash(), &mut rng);
    let request_sig = sign(&bank, Purpose::Request, &request_message, &mut rng);
    let officer_sig = sign(&officer, Purpose::Officer, &digest, &mut rng);
    let owner_sig = sign(&owner, Purpose::Owner, &owner_message, &mut rng);
    let empty_sig = sign(&owner, Purpose::Owner, b"", &mut rng);
    let long_sig = sign(&bank, Purpose::Request, &long_message, &mut rng);
    let (ledger_pk, bank_pk, officer_pk, owner_pk) = (
        *ledger_key.as_bytes(),
        *bank.public_key().as_bytes(),
        *officer.public_key().as_bytes(),
        *owner.public_key().as_bytes(),
    );
    let genesis_hash = genesis.hash();
    let identity_r = {
        let mut s = block_sig;
        s[..32].fill(0);
        s
    };
    let signatures = vec![
        signature_vector(
            "the ledger signs the genesis header hash",
            &ledger_pk,
            "block",
            &genesis_hash,
            &block_sig,
        ),
        signature_vector(
            "a bank signs a request message",
            &bank_pk,
            "request",
            &request_message,
            &request_sig,
        ),
        signature_vector(
            "an officer signs an issue digest",
            &officer_pk,
            "officer",
            &digest,
            &officer_sig,
        ),
        signature_vector(
            "an owner signs digest ‖ input index 1 (u32 LE)",
            &owner_pk,
            "owner",
            &owner_message,
            &owner_sig,
        ),
        signature_vector(
            "an owner signs the empty message",
            &owner_pk,
            "owner",
            b"",
            &empty_sig,
        ),
        signature_vector(
            "a bank signs the 256 bytes 0x00..0xff",
            &bank_pk,
            "request",
            &long_message,
            &long_sig,
        ),
        signature_vector(
            "wrong purpose: the block signature checked as request",
            &ledger_pk,
            "request",
            &genesis_hash,
            &block_sig,
        ),
        signature_vector(
            "wrong purpose: the request signature checked as block",
            &bank_pk,
            "block",
            &request_message,
            &request_sig,
        ),
        signature_vector(
            "wrong purpose: the officer signature checked as owner",
            &officer_pk,
            "owner",
            &digest,
            &officer_sig,
        ),
        signature_vector(
            "wrong purpose: the officer signature checked as kernel",
            &officer_pk,
            "kernel",
            &digest,
            &officer_sig,
        ),
        signature_vector(
            "wrong purpose: the owner signature checked as officer",
            &owner_pk,
            "officer",
            &owner_message,
            &owner_sig,
        ),
        signature_vector(
            "message bit 0 of byte 0 flipped",
            &ledger_pk,
            "block",
            &flip(&genesis_hash, 0, 0),
            &block_sig,
        ),
        signature_vector(
            "owner message: input index 2 instead of 1",
            &owner_pk,
            "owner",
            &with_byte(&owner_message, 32, 2),
            &owner_sig,
        ),
        signature_vector(
            "one byte appended to the message",
            &owner_pk,
            "owner",
            &[0],
            &empty_sig,
        ),
        signature_vector("another key", &bank_pk, "block", &genesis_hash, &block_sig),
        signature_vector(
            "s: bit 0 flipped",
            &ledger_pk,
            "block",
            &genesis_hash,
            &flip64(&block_sig, 32, 0),
        ),
        signature_vector(
            "s: bit 255 set (not canonical)",
            &ledger_pk,
            "block",
            &genesis_hash,
            &flip64(&block_sig, 63, 7),
        ),
        signature_vector(
            "s + ℓ: the same equation, s not canonical",
            &ledger_pk,
            "block",
            &genesis_hash,
            &plus_group_order(&block_sig),
        ),
        signature_vector(
            "R: bit 0 flipped (a negative field element)",
            &ledger_pk,
            "block",
            &genesis_hash,
            &flip64(&block_sig, 0, 0),
        ),
        signature_vector(
            "R: bit 3 of byte 5 flipped",
            &ledger_pk,
            "block",
            &genesis_hash,
            &flip64(&block_sig, 5, 3),
        ),
        signature_vector(
            "R: the identity",
            &ledger_pk,
            "block",
            &genesis_hash,
            &identity_r,
        ),
        signature_vector(
            "public key: bit 3 of byte 5 flipped",
            &flip(&ledger_pk, 5, 3).try_into().unwrap(),
            "block",
            &genesis_hash,
            &block_sig,
        ),
        signature_vector(
            "public key: the identity",
            &[0u8; 32],
            "block",
            &genesis_hash,
            &block_sig,
        ),
    ];

    json!({
        "description": concat!(
            "Block headers, Merkle roots and paths, receipts and Schnorr signatures of the ",
            "journal, checked by tests/independent.rs against an independent ",
            "re-implementation and the project's code"
        ),
        "tx_id_rule": concat!(
            "tx id i = SHA-256(\"cbdc.vectors.txid\" ‖ i as u32 little-endian), i = 0..33; ",
            "merkle.size n covers ids 0..n"
        ),
        "tx_ids": hex_all(&ids),
        "headers": headers,
        "malformed_headers": malformed_headers,
        "merkle": merkle,
        "bad_paths": bad_paths,
        "receipts": receipts,
        "bad_receipts": bad_receipts,
        "signatures": signatures,
    })
}

#[test]
fn the_generator_agrees_with_the_project_and_writes_only_when_asked() {
    let generated = generate();
    if std::env::var("CBDC_WRITE_VECTORS").as_deref() == Ok("1") {
        // Through a temporary file, so the tests running alongside read the old
        // file or the new one, never half of one.
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        let temporary = vectors_path().with_extension("json.new");
        std::fs::write(&temporary, text).unwrap();
        std::fs::rename(&temporary, vectors_path()).unwrap();
        return;
    }
    // The deterministic sections are what the generator computes today; the
    // signatures are fixed bytes and may differ if the signer draws its nonce
    // differently, which is no change to the format.
    let stored = stored();
    for section in [
        "tx_ids",
        "headers",
        "malformed_headers",
        "merkle",
        "bad_paths",
    ] {
        assert_eq!(generated[section], stored[section], "{section}");
    }
}

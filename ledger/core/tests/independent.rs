//! Vectors from outside the code under test: block headers and their hashes, Merkle
//! roots and inclusion paths, receipts, Schnorr signatures and governance entries,
//! kept in `tests/vectors/journal.json`.
//!
//! [`spec`] below re-implements the formats from their written specification (the
//! module docs of `ledger_core::journal` and `ledger_core::keys`, and PROTOCOL.md
//! §13 for governance entries) with `sha2`, `curve25519-dalek` and `merlin` alone;
//! it calls nothing of `ledger_core`. Every vector is checked twice, positive and
//! negative cases alike: recomputed by [`spec`], and run through the project's code
//! (`journal::*`, `BlockHeader`, `Receipt::verify`, `PublicKey::verify`,
//! `Transaction::decode`, `GovernanceState`). A change to a format therefore fails
//! here even if the file is regenerated, unless [`spec`] changes with it, and that
//! is a visible change to the protocol.
//!
//! The transaction ids of the block and Merkle vectors are
//! `SHA-256("cbdc.vectors.txid" ‖ i as u32 little-endian)` for `i = 0, 1, …, 32`.
//!
//! The governance entries are one history from a genesis (three officers,
//! threshold 2): a bank admitted, suspended, reinstated and rekeyed, an officer
//! rekeyed, the threshold raised to 3. [`spec`] builds each encoding field by
//! field from the entry's JSON form, computes the digest and id and verifies the
//! approvals; the project decodes the same bytes and accepts the entries in
//! order. Entries the state refuses (a tampered approval, a wrong or replayed
//! sequence, too few or foreign approvers) and bytes the decoder refuses follow.
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

use ledger_core::governance::{Action, Governance, GovernanceState, Member, Role};
use ledger_core::journal::{self, BlockHeader, JournalError, Receipt};
use ledger_core::{
    Amount, PublicKey, Purpose, SecretKey, Signature, SignatureError, Transaction, TxId, TxKind,
    WalletKeys,
};
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

    // Governance entries, from PROTOCOL.md §13 (and §12.1 for the decoding codes).

    pub const OFFICER: u8 = 1;
    pub const BANK: u8 = 2;
    /// `ENCODED_LEN_MAX`, §8.1.
    pub const ENCODED_LEN_MAX: usize = 16_384;
    const APPROVALS_MAX: usize = 32;
    const GENESIS_MEMBERS_MAX: usize = 32;
    const ID_MAX: usize = 64;
    const NAME_MAX: usize = 200;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Member {
        pub role: u8,
        pub id: String,
        pub name: String,
        pub key: [u8; 32],
        pub view_key: Option<[u8; 32]>,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Action {
        Genesis {
            ledger_key: [u8; 32],
            threshold: u8,
            supply_ceiling: u64,
            members: Vec<Member>,
        },
        Admit(Member),
        Suspend(String),
        Reinstate(String),
        Rekey {
            id: String,
            key: [u8; 32],
            view_key: Option<[u8; 32]>,
        },
        SetThreshold(u8),
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Approval {
        pub officer: [u8; 32],
        pub signature: [u8; 64],
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Entry {
        pub sequence: u64,
        pub action: Action,
        pub approvals: Vec<Approval>,
    }

    /// `len u8 ‖ bytes`; the limits keep every id and name under 256 bytes.
    fn push_text(out: &mut Vec<u8>, text: &str) {
        out.push(u8::try_from(text.len()).expect("an id or name under 256 bytes"));
        out.extend_from_slice(text.as_bytes());
    }

    /// `view_flag u8 ‖ (view [32] if view_flag = 1)`.
    fn push_view_key(out: &mut Vec<u8>, view_key: &Option<[u8; 32]>) {
        match view_key {
            None => out.push(0),
            Some(view) => {
                out.push(1);
                out.extend_from_slice(view);
            }
        }
    }

    /// `role u8 ‖ id ‖ name ‖ key [32] ‖ view_flag u8 ‖ (view [32])`.
    fn push_member(out: &mut Vec<u8>, member: &Member) {
        out.push(member.role);
        push_text(out, &member.id);
        push_text(out, &member.name);
        out.extend_from_slice(&member.key);
        push_view_key(out, &member.view_key);
    }

    /// `tag u8 ‖ body`, §13.1: what the digest binds.
    pub fn action_bytes(action: &Action) -> Vec<u8> {
        let mut out = Vec::new();
        match action {
            Action::Genesis {
                ledger_key,
                threshold,
                supply_ceiling,
                members,
            } => {
                out.push(1);
                out.extend_from_slice(ledger_key);
                out.push(*threshold);
                out.extend_from_slice(&supply_ceiling.to_le_bytes());
                out.push(u8::try_from(members.len()).expect("at most 32 members"));
                for member in members {
                    push_member(&mut out, member);
                }
            }
            Action::Admit(member) => {
                out.push(2);
                push_member(&mut out, member);
            }
            Action::Suspend(id) => {
                out.push(3);
                push_text(&mut out, id);
            }
            Action::Reinstate(id) => {
                out.push(4);
                push_text(&mut out, id);
            }
            Action::Rekey { id, key, view_key } => {
                out.push(5);
                push_text(&mut out, id);
                out.extend_from_slice(key);
                push_view_key(&mut out, view_key);
            }
            Action::SetThreshold(threshold) => {
                out.push(6);
                out.push(*threshold);
            }
        }
        out
    }

    /// `version u8 = 1 ‖ kind u8 = 4 ‖ sequence u64 ‖ action ‖ k u8 ‖
    /// k × (officer [32] ‖ signature [64])`.
    pub fn entry_bytes(entry: &Entry) -> Vec<u8> {
        let mut out = vec![1u8, 4];
        out.extend_from_slice(&entry.sequence.to_le_bytes());
        out.extend_from_slice(&action_bytes(&entry.action));
        out.push(u8::try_from(entry.approvals.len()).expect("at most 32 approvals"));
        for approval in &entry.approvals {
            out.extend_from_slice(&approval.officer);
            out.extend_from_slice(&approval.signature);
        }
        out
    }

    /// §13.2: the transcript `cbdc.tx.v1` of kind 4, the sequence and the
    /// action bytes; 32 challenge bytes labelled `digest`.
    pub fn governance_digest(sequence: u64, action_bytes: &[u8]) -> Hash {
        let mut t = Transcript::new(b"cbdc.tx.v1");
        t.append_u64(b"kind", 4);
        t.append_u64(b"sequence", sequence);
        t.append_message(b"action", action_bytes);
        let mut out = [0u8; 32];
        t.challenge_bytes(b"digest", &mut out);
        out
    }

    /// `SHA-256("cbdc.txid.v1" ‖ encoding)`, §10.
    pub fn transaction_id(encoding: &[u8]) -> Hash {
        sha256(&[b"cbdc.txid.v1", encoding])
    }

    /// The index of the first approval that does not verify (purpose
    /// `governance`, over the entry's digest), if any.
    pub fn first_bad_approval(entry: &Entry) -> Option<usize> {
        let digest = governance_digest(entry.sequence, &action_bytes(&entry.action));
        entry.approvals.iter().position(|approval| {
            verify(
                &approval.officer,
                b"governance",
                &digest,
                &approval.signature,
            ) != Outcome::Valid
        })
    }

    struct Cursor<'a>(&'a [u8]);

    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
            if self.0.len() < n {
                return Err("encoding_truncated");
            }
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Ok(head)
        }

        fn byte(&mut self) -> Result<u8, &'static str> {
            Ok(self.take(1)?[0])
        }

        fn u64(&mut self) -> Result<u64, &'static str> {
            let bytes = self.take(8)?.try_into().expect("8 bytes");
            Ok(u64::from_le_bytes(bytes))
        }

        fn key(&mut self) -> Result<[u8; 32], &'static str> {
            let key: [u8; 32] = self.take(32)?.try_into().expect("32 bytes");
            point(&key).ok_or("non_canonical_point")?;
            Ok(key)
        }

        /// `R` a canonical point other than the identity, `s` a canonical scalar.
        fn signature(&mut self) -> Result<[u8; 64], &'static str> {
            let signature: [u8; 64] = self.take(64)?.try_into().expect("64 bytes");
            let r: [u8; 32] = signature[..32].try_into().expect("32 bytes");
            let s: [u8; 32] = signature[32..].try_into().expect("32 bytes");
            let s_canonical = bool::from(Scalar::from_canonical_bytes(s).is_some());
            if point(&r).is_none() || !s_canonical {
                return Err("non_canonical_signature");
            }
            Ok(signature)
        }

        fn text(&mut self) -> Result<String, &'static str> {
            let len = usize::from(self.byte()?);
            String::from_utf8(self.take(len)?.to_vec()).map_err(|_| "bad_text")
        }

        fn view_key(&mut self) -> Result<Option<[u8; 32]>, &'static str> {
            match self.byte()? {
                0 => Ok(None),
                1 => Ok(Some(self.key()?)),
                _ => Err("unknown_tag"),
            }
        }

        fn member(&mut self) -> Result<Member, &'static str> {
            let role = self.byte()?;
            if role != OFFICER && role != BANK {
                return Err("unknown_tag");
            }
            Ok(Member {
                role,
                id: self.text()?,
                name: self.text()?,
                key: self.key()?,
                view_key: self.view_key()?,
            })
        }

        fn action(&mut self) -> Result<Action, &'static str> {
            Ok(match self.byte()? {
                1 => {
                    let ledger_key = self.key()?;
                    let threshold = self.byte()?;
                    let supply_ceiling = self.u64()?;
                    let mut members = Vec::new();
                    for _ in 0..self.byte()? {
                        members.push(self.member()?);
                    }
                    Action::Genesis {
                        ledger_key,
                        threshold,
                        supply_ceiling,
                        members,
                    }
                }
                2 => Action::Admit(self.member()?),
                3 => Action::Suspend(self.text()?),
                4 => Action::Reinstate(self.text()?),
                5 => Action::Rekey {
                    id: self.text()?,
                    key: self.key()?,
                    view_key: self.view_key()?,
                },
                6 => Action::SetThreshold(self.byte()?),
                _ => return Err("unknown_tag"),
            })
        }
    }

    fn check_id(id: &str) -> Result<(), &'static str> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if (1..=ID_MAX).contains(&id.len()) && id.bytes().all(allowed) {
            Ok(())
        } else {
            Err("bad_participant_id")
        }
    }

    /// The limits of §13.1, in its order (member by member: id, then name).
    fn check_limits(entry: &Entry) -> Result<(), &'static str> {
        if entry.approvals.len() > APPROVALS_MAX {
            return Err("too_many_officer_signatures");
        }
        let members: &[Member] = match &entry.action {
            Action::Genesis { members, .. } => {
                if members.is_empty() || members.len() > GENESIS_MEMBERS_MAX {
                    return Err("genesis_members");
                }
                members
            }
            Action::Admit(member) => std::slice::from_ref(member),
            Action::Suspend(id) | Action::Reinstate(id) | Action::Rekey { id, .. } => {
                return check_id(id);
            }
            Action::SetThreshold(_) => &[],
        };
        for member in members {
            check_id(&member.id)?;
            if member.name.is_empty() || member.name.len() > NAME_MAX {
                return Err("bad_name");
            }
        }
        Ok(())
    }

    /// Reads a governance entry (kind 4 only) as §13.1 writes it, refusing what
    /// the decoder must refuse with the code §12.1 and §13.1 give it.
    pub fn parse_entry(bytes: &[u8]) -> Result<Entry, &'static str> {
        if bytes.len() > ENCODED_LEN_MAX {
            return Err("encoding_too_long");
        }
        let mut r = Cursor(bytes);
        if r.byte()? != 1 {
            return Err("unknown_version");
        }
        if r.byte()? != 4 {
            return Err("not_a_governance_entry");
        }
        let sequence = r.u64()?;
        let action = r.action()?;
        let mut approvals = Vec::new();
        for _ in 0..r.byte()? {
            approvals.push(Approval {
                officer: r.key()?,
                signature: r.signature()?,
            });
        }
        if !r.0.is_empty() {
            return Err("trailing_bytes");
        }
        let entry = Entry {
            sequence,
            action,
            approvals,
        };
        check_limits(&entry)?;
        Ok(entry)
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
        "governance" => Purpose::Governance,
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

// Governance entries: the JSON form (§13.2) read field by field for [`spec`],
// and the project's types.

fn keys_exactly(v: &Value, keys: &[&str]) {
    let object = v.as_object().expect("an object");
    assert_eq!(object.len(), keys.len(), "{v}");
    for key in keys {
        assert!(object.contains_key(*key), "{key} in {v}");
    }
}

fn text(v: &Value) -> String {
    v.as_str().expect("a string").to_owned()
}

fn small(v: &Value) -> u8 {
    u8::try_from(number(v)).expect("a u8")
}

fn optional_key(v: &Value) -> Option<[u8; 32]> {
    (!v.is_null()).then(|| fixed(v))
}

fn spec_member(v: &Value) -> spec::Member {
    keys_exactly(v, &["role", "id", "name", "key", "view_key"]);
    let role = match v["role"].as_str().expect("a role") {
        "officer" => spec::OFFICER,
        "bank" => spec::BANK,
        other => panic!("no role {other}"),
    };
    spec::Member {
        role,
        id: text(&v["id"]),
        name: text(&v["name"]),
        key: fixed(&v["key"]),
        view_key: optional_key(&v["view_key"]),
    }
}

fn spec_action(v: &Value) -> spec::Action {
    match v["type"].as_str().expect("an action type") {
        "genesis" => {
            keys_exactly(
                v,
                &[
                    "type",
                    "ledger_key",
                    "threshold",
                    "supply_ceiling",
                    "members",
                ],
            );
            spec::Action::Genesis {
                ledger_key: fixed(&v["ledger_key"]),
                threshold: small(&v["threshold"]),
                supply_ceiling: number(&v["supply_ceiling"]),
                members: array(&v["members"]).iter().map(spec_member).collect(),
            }
        }
        "admit" => {
            keys_exactly(v, &["type", "member"]);
            spec::Action::Admit(spec_member(&v["member"]))
        }
        "suspend" => {
            keys_exactly(v, &["type", "id"]);
            spec::Action::Suspend(text(&v["id"]))
        }
        "reinstate" => {
            keys_exactly(v, &["type", "id"]);
            spec::Action::Reinstate(text(&v["id"]))
        }
        "rekey" => {
            keys_exactly(v, &["type", "id", "key", "view_key"]);
            spec::Action::Rekey {
                id: text(&v["id"]),
                key: fixed(&v["key"]),
                view_key: optional_key(&v["view_key"]),
            }
        }
        "set_threshold" => {
            keys_exactly(v, &["type", "threshold"]);
            spec::Action::SetThreshold(small(&v["threshold"]))
        }
        other => panic!("no action {other}"),
    }
}

/// `{"kind": "governance", "sequence", "action", "approvals"}`.
fn spec_entry(v: &Value) -> spec::Entry {
    keys_exactly(v, &["kind", "sequence", "action", "approvals"]);
    assert_eq!(v["kind"], "governance");
    let approvals = array(&v["approvals"])
        .iter()
        .map(|a| {
            keys_exactly(a, &["officer", "signature"]);
            spec::Approval {
                officer: fixed(&a["officer"]),
                signature: fixed(&a["signature"]),
            }
        })
        .collect();
    spec::Entry {
        sequence: number(&v["sequence"]),
        action: spec_action(&v["action"]),
        approvals,
    }
}

fn optional_index(v: &Value) -> Option<usize> {
    v.as_u64().map(|i| usize::try_from(i).unwrap())
}

/// Decodes a stored entry and checks that the project re-encodes, hashes,
/// digests and serialises it as stored, and that its approvals verify.
fn project_entry(e: &Value) -> Governance {
    let what = e["description"].as_str().unwrap();
    let encoded = bytes(&e["encoding"]);
    let tx = Transaction::decode(&encoded).expect(what);
    assert_eq!(tx.kind(), TxKind::Governance, "{what}");
    assert_eq!(tx.encode(), encoded, "{what}");
    assert_eq!(tx.id().0, fixed::<32>(&e["id"]), "{what}");
    let digest = tx.digest();
    assert_eq!(digest, fixed::<32>(&e["digest"]), "{what}");
    let from_json: Transaction = serde_json::from_value(e["json"].clone()).expect(what);
    assert_eq!(from_json, tx, "{what}");
    assert_eq!(serde_json::to_value(&tx).unwrap(), e["json"], "{what}");
    let Transaction::Governance(entry) = tx else {
        unreachable!("the kind is governance")
    };
    for approval in &entry.approvals {
        let verified = approval
            .officer
            .verify(Purpose::Governance, &digest, &approval.signature);
        assert_eq!(verified, Ok(()), "{what}");
    }
    entry
}

/// The state the genesis founds, after `entries[1..]` are checked and applied.
fn project_state(entries: &[Governance], block_key: &PublicKey) -> GovernanceState {
    let (genesis, later) = entries.split_first().expect("a genesis");
    let mut state = GovernanceState::genesis(genesis, block_key).expect("the genesis");
    for entry in later {
        let accepted = state.check(entry);
        assert_eq!(accepted, Ok(()), "entry {}", entry.sequence);
        state.apply(entry);
    }
    state
}

/// What the project says of a rejected entry after `after` stored entries.
fn project_rejection(
    entries: &[Governance],
    block_key: &PublicKey,
    encoded: &[u8],
    after: usize,
) -> &'static str {
    let Transaction::Governance(entry) = Transaction::decode(encoded).expect("it decodes") else {
        panic!("not a governance entry")
    };
    let state = project_state(&entries[..after], block_key);
    state
        .check(&entry)
        .expect_err("the entry is rejected")
        .code()
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

#[test]
fn governance_entries_recompute_independently() {
    let v = stored();
    let g = &v["governance"];
    for (sequence, e) in (0u64..).zip(array(&g["entries"])) {
        let what = e["description"].as_str().unwrap();
        let entry = spec_entry(&e["json"]);
        assert_eq!(
            entry.sequence, sequence,
            "{what}: the entries follow each other"
        );
        let action = spec::action_bytes(&entry.action);
        assert_eq!(action, bytes(&e["action_bytes"]), "{what}");
        let encoded = bytes(&e["encoding"]);
        assert_eq!(spec::entry_bytes(&entry), encoded, "{what}");
        assert_eq!(spec::parse_entry(&encoded).as_ref(), Ok(&entry), "{what}");
        let digest = spec::governance_digest(entry.sequence, &action);
        assert_eq!(digest, fixed::<32>(&e["digest"]), "{what}");
        assert_eq!(
            spec::transaction_id(&encoded),
            fixed::<32>(&e["id"]),
            "{what}"
        );
        // Only the genesis, which the block key authorises, has no approvals.
        assert_eq!(entry.approvals.is_empty(), sequence == 0, "{what}");
        for approval in &entry.approvals {
            let as_purpose = |purpose: &[u8]| {
                spec::verify(&approval.officer, purpose, &digest, &approval.signature)
            };
            assert_eq!(as_purpose(b"governance"), spec::Outcome::Valid, "{what}");
            assert_eq!(as_purpose(b"officer"), spec::Outcome::Invalid, "{what}");
        }
    }
    for r in array(&g["rejected_entries"]) {
        let what = r["description"].as_str().unwrap();
        let entry = spec::parse_entry(&bytes(&r["encoding"])).expect(what);
        assert_eq!(
            spec::first_bad_approval(&entry),
            optional_index(&r["invalid_approval"]),
            "{what}"
        );
    }
    for m in array(&g["malformed_entries"]) {
        let what = m["description"].as_str().unwrap();
        let parsed = spec::parse_entry(&bytes(&m["encoding"]));
        assert_eq!(parsed.err(), m["error"].as_str(), "{what}");
    }
}

#[test]
fn governance_entries_agree_with_the_project() {
    let v = stored();
    let g = &v["governance"];
    let block_key = PublicKey::from_bytes(&fixed(&g["ledger_key"])).unwrap();
    let entries: Vec<Governance> = array(&g["entries"]).iter().map(project_entry).collect();
    let state = project_state(&entries, &block_key);
    assert_eq!(state.entries, u64::try_from(entries.len()).unwrap());
    // What the entries did is in force: the new keys replace the old, and the
    // last threshold set is the threshold.
    for entry in &entries {
        match &entry.action {
            Action::Rekey { id, key, view_key } => {
                let p = &state.participants[id];
                assert_eq!((p.key, p.view_key), (*key, *view_key), "{id}");
            }
            Action::SetThreshold { threshold } => {
                assert_eq!(state.threshold, usize::from(*threshold));
            }
            _ => {}
        }
    }
    for r in array(&g["rejected_entries"]) {
        let after = usize::try_from(number(&r["after"])).unwrap();
        let code = project_rejection(&entries, &block_key, &bytes(&r["encoding"]), after);
        assert_eq!(code, r["error"], "{}", r["description"]);
    }
    for m in array(&g["malformed_entries"]) {
        let error = Transaction::decode(&bytes(&m["encoding"])).expect_err("malformed");
        assert_eq!(error.code(), m["error"], "{}", m["description"]);
    }
}

/// PROTOCOL.md §13.1 promises that every entry within the limits fits the
/// decoder's 16,384 bytes: 32 banks (the largest members: a view key each)
/// with 64-byte ids and 200-byte names, and 32 approvals. The genesis rules
/// refuse it; the decoder must not.
#[test]
fn the_largest_governance_entry_decodes() {
    let v = stored();
    let approval = spec_entry(&array(&v["governance"]["entries"])[1]["json"]).approvals[0].clone();
    let key = spec::basepoint();
    let members = (0..32)
        .map(|i| spec::Member {
            role: spec::BANK,
            id: format!("{i:0>64}"),
            name: "n".repeat(200),
            key,
            view_key: Some(key),
        })
        .collect();
    let largest = spec::Entry {
        sequence: u64::MAX,
        action: spec::Action::Genesis {
            ledger_key: key,
            threshold: u8::MAX,
            supply_ceiling: u64::MAX,
            members,
        },
        approvals: vec![approval; 32],
    };
    let encoded = spec::entry_bytes(&largest);
    // 10 (version, kind, sequence) + 43 (tag to member count) + 32 × 332 + 1 + 32 × 96.
    assert_eq!(encoded.len(), 13_750);
    assert!(encoded.len() <= spec::ENCODED_LEN_MAX);
    assert_eq!(spec::parse_entry(&encoded).as_ref(), Ok(&largest));
    let decoded = Transaction::decode(&encoded).expect("the largest entry decodes");
    assert_eq!(decoded.encode(), encoded);
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

    let g = &v["governance"];
    let entries = array(&g["entries"]);
    let has = |description: &str, holds: &dyn Fn(&Value, usize) -> bool| {
        let found = entries
            .iter()
            .any(|e| holds(&e["json"]["action"], array(&e["json"]["approvals"]).len()));
        assert!(found, "{description}");
    };
    has(
        "a genesis of 3 officers, threshold 2, a ceiling",
        &|a, _| {
            a["type"] == "genesis"
                && array(&a["members"]).len() == 3
                && a["threshold"] == 2
                && number(&a["supply_ceiling"]) > 0
        },
    );
    has("a bank admitted with a view key by one officer", &|a, n| {
        a["type"] == "admit"
            && a["member"]["role"] == "bank"
            && a["member"]["view_key"].is_string()
            && n == 1
    });
    has("a suspension", &|a, _| a["type"] == "suspend");
    has("a rekey with a view key", &|a, _| {
        a["type"] == "rekey" && a["view_key"].is_string()
    });
    has("a rekey without a view key", &|a, _| {
        a["type"] == "rekey" && a["view_key"].is_null()
    });
    has("a threshold set by two officers", &|a, n| {
        a["type"] == "set_threshold" && n == 2
    });
    let errors = |section: &str| -> Vec<&str> {
        array(&g[section])
            .iter()
            .map(|r| r["error"].as_str().unwrap())
            .collect()
    };
    let rejected = errors("rejected_entries");
    for code in [
        "bad_officer_signature",
        "governance_sequence",
        "too_few_officers",
        "unknown_officer",
    ] {
        assert!(rejected.contains(&code), "a rejected entry: {code}");
    }
    let replayed = array(&g["rejected_entries"]).iter().any(|r| {
        let entry = spec::parse_entry(&bytes(&r["encoding"])).unwrap();
        r["error"] == "bad_officer_signature"
            && entry.sequence == number(&r["after"])
            && r["invalid_approval"] == 0
    });
    assert!(
        replayed,
        "approvals replayed under a sequence that fits the state"
    );
    let malformed = errors("malformed_entries");
    assert!(malformed.iter().filter(|&&c| c == "unknown_tag").count() >= 4);
    for code in [
        "trailing_bytes",
        "encoding_truncated",
        "bad_participant_id",
        "bad_name",
    ] {
        assert!(malformed.contains(&code), "a malformed entry: {code}");
    }
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

/// Governance draws from a generator of its own, so its keys and approvals
/// never move the signatures of the sections above.
const GOVERNANCE_SEED: u64 = 0xcbdc_0013;
/// The genesis's supply ceiling: every byte distinct, so the byte order shows.
const SUPPLY_CEILING: u64 = 0x0123_4567_89ab_cdef;

/// An entry by both implementations, asserted equal.
fn governance_entry_vector(description: &str, entry: &Governance) -> Value {
    let tx = Transaction::Governance(entry.clone());
    let json = serde_json::to_value(&tx).unwrap();
    let fields = spec_entry(&json);
    let encoded = spec::entry_bytes(&fields);
    assert_eq!(tx.encode(), encoded, "{description}");
    let action = spec::action_bytes(&fields.action);
    let digest = spec::governance_digest(fields.sequence, &action);
    assert_eq!(tx.digest(), digest, "{description}");
    let id = spec::transaction_id(&encoded);
    assert_eq!(tx.id().0, id, "{description}");
    assert_eq!(spec::first_bad_approval(&fields), None, "{description}");
    json!({
        "description": description,
        "json": json,
        "action_bytes": hex::encode(&action),
        "encoding": hex::encode(&encoded),
        "digest": hex::encode(digest),
        "id": hex::encode(id),
    })
}

/// An entry that decodes but that the state after `entries[..after]` refuses.
fn rejected_entry_vector(
    description: &str,
    entries: &[Governance],
    block_key: &PublicKey,
    after: usize,
    entry: &Governance,
) -> Value {
    let encoded = Transaction::Governance(entry.clone()).encode();
    let parsed = spec::parse_entry(&encoded).expect(description);
    assert_eq!(spec::entry_bytes(&parsed), encoded, "{description}");
    let error = project_rejection(entries, block_key, &encoded, after);
    json!({
        "description": description,
        "after": after,
        "encoding": hex::encode(&encoded),
        "error": error,
        "invalid_approval": spec::first_bad_approval(&parsed),
    })
}

/// Bytes both decoders refuse, with the same code.
fn malformed_entry_vector(description: &str, encoded: &[u8]) -> Value {
    let ours = spec::parse_entry(encoded).expect_err(description);
    let project = Transaction::decode(encoded).expect_err(description);
    assert_eq!(project.code(), ours, "{description}");
    json!({
        "description": description,
        "encoding": hex::encode(encoded),
        "error": ours,
    })
}

fn generate_governance(ledger: &SecretKey) -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(GOVERNANCE_SEED);
    let officers: Vec<SecretKey> = (0..3).map(|_| SecretKey::generate(&mut rng)).collect();
    let bank = WalletKeys::generate(&mut rng);
    let bank_rekeyed = WalletKeys::generate(&mut rng);
    let officer_1_rekeyed = SecretKey::generate(&mut rng);
    let block_key = ledger.public_key();

    let officer = |i: usize, name: &str| Member {
        role: Role::Officer,
        id: format!("officer-{i}"),
        name: name.to_owned(),
        key: officers[i].public_key(),
        view_key: None,
    };
    let bank_id = || "bank_leman".to_owned();
    let approved = |sequence: u64, action: Action, by: &[&SecretKey], rng: &mut ChaCha20Rng| {
        let mut entry = Governance::new(sequence, action);
        for officer in by {
            entry.approve(officer, rng);
        }
        entry
    };
    let genesis = Governance::new(
        0,
        Action::Genesis {
            ledger_key: block_key,
            threshold: 2,
            supply_ceiling: Amount::new(SUPPLY_CEILING),
            members: vec![
                officer(0, "Ada Lovelace"),
                officer(1, "Émilie du Châtelet"),
                officer(2, "Grace Hopper"),
            ],
        },
    );
    let admit = approved(
        1,
        Action::Admit {
            member: Member {
                role: Role::Bank,
                id: bank_id(),
                name: "Banque du Léman".to_owned(),
                key: bank.spend.public_key(),
                view_key: Some(bank.view.public_key()),
            },
        },
        &[&officers[0]],
        &mut rng,
    );
    let suspend = approved(
        2,
        Action::Suspend { id: bank_id() },
        &[&officers[2]],
        &mut rng,
    );
    let reinstate = approved(
        3,
        Action::Reinstate { id: bank_id() },
        &[&officers[1]],
        &mut rng,
    );
    let rekey_bank = approved(
        4,
        Action::Rekey {
            id: bank_id(),
            key: bank_rekeyed.spend.public_key(),
            view_key: Some(bank_rekeyed.view.public_key()),
        },
        &[&officers[0]],
        &mut rng,
    );
    let rekey_officer = approved(
        5,
        Action::Rekey {
            id: "officer-1".to_owned(),
            key: officer_1_rekeyed.public_key(),
            view_key: None,
        },
        &[&officers[0], &officers[2]],
        &mut rng,
    );
    let set_threshold = approved(
        6,
        Action::SetThreshold { threshold: 3 },
        &[&officer_1_rekeyed, &officers[2]],
        &mut rng,
    );
    let described = [
        (
            "genesis: three officers, threshold 2, a supply ceiling of distinct bytes; no approvals",
            &genesis,
        ),
        (
            "admit a bank with a view key (a name of non-ASCII UTF-8), approved by officer-0",
            &admit,
        ),
        ("suspend the bank, approved by officer-2", &suspend),
        ("reinstate the bank, approved by officer-1", &reinstate),
        (
            "rekey the bank: a new spend and view key, approved by officer-0",
            &rekey_bank,
        ),
        (
            "rekey officer-1: no view key, approved by officers 0 and 2 (the threshold)",
            &rekey_officer,
        ),
        (
            "set the threshold to 3, approved by officer-1 (its new key) and officer-2",
            &set_threshold,
        ),
    ];
    let chain: Vec<Governance> = described.iter().map(|(_, e)| (*e).clone()).collect();
    let entries: Vec<Value> = described
        .iter()
        .map(|(description, entry)| governance_entry_vector(description, entry))
        .collect();
    project_state(&chain, &block_key);

    let changed = |entry: &Governance, change: &dyn Fn(&mut Governance)| {
        let mut out = entry.clone();
        change(&mut out);
        out
    };
    let flipped_s = changed(&admit, &|e| {
        let bytes = flip64(&e.approvals[0].signature.to_bytes(), 32, 0);
        e.approvals[0].signature = Signature::from_bytes(&bytes).expect("still canonical");
    });
    let admit_officer = Action::Admit {
        member: Member {
            role: Role::Officer,
            id: "officer-3".to_owned(),
            name: "Accomplice".to_owned(),
            key: SecretKey::generate(&mut rng).public_key(),
            view_key: None,
        },
    };
    let rejected_entries = vec![
        rejected_entry_vector(
            "the admission with bit 0 of its approval's s flipped",
            &chain,
            &block_key,
            1,
            &flipped_s,
        ),
        rejected_entry_vector(
            "the admission presented as sequence 2 (its approval signs sequence 1)",
            &chain,
            &block_key,
            1,
            &changed(&admit, &|e| e.sequence = 2),
        ),
        rejected_entry_vector(
            "the suspension replayed as sequence 4 after the reinstatement: the sequence fits, \
             the digest changed, the approval fails",
            &chain,
            &block_key,
            4,
            &changed(&suspend, &|e| e.sequence = 4),
        ),
        rejected_entry_vector(
            "threshold 3 approved by officer-2 alone (threshold 2 in force)",
            &chain,
            &block_key,
            6,
            &approved(
                6,
                Action::SetThreshold { threshold: 3 },
                &[&officers[2]],
                &mut rng,
            ),
        ),
        rejected_entry_vector(
            "an officer admitted with the approval of the block key",
            &chain,
            &block_key,
            1,
            &approved(1, admit_officer, &[ledger], &mut rng),
        ),
    ];

    let suspend_bytes = Transaction::Governance(suspend.clone()).encode();
    let admit_bytes = Transaction::Governance(admit.clone()).encode();
    let rekey_bytes = Transaction::Governance(rekey_officer.clone()).encode();
    let threshold_bytes = Transaction::Governance(set_threshold.clone()).encode();
    // version, kind, sequence: the action's tag is byte 10.
    let action_tag = 10;
    // The view flag of rekey officer-1: tag, id length, id, key.
    let view_flag = action_tag + 2 + "officer-1".len() + 32;
    assert_eq!(rekey_bytes[view_flag], 0);
    let mut appended = suspend_bytes.clone();
    appended.push(0);
    let unapproved = |action: Action| Transaction::Governance(Governance::new(1, action)).encode();
    let malformed_entries = vec![
        malformed_entry_vector(
            "the suspension with action tag 7",
            &with_byte(&suspend_bytes, action_tag, 7),
        ),
        malformed_entry_vector(
            "set_threshold with action tag 0",
            &with_byte(&threshold_bytes, action_tag, 0),
        ),
        malformed_entry_vector(
            "the admission with role 3",
            &with_byte(&admit_bytes, action_tag + 1, 3),
        ),
        malformed_entry_vector(
            "rekey officer-1 with view flag 2",
            &with_byte(&rekey_bytes, view_flag, 2),
        ),
        malformed_entry_vector("the suspension with a byte appended", &appended),
        malformed_entry_vector(
            "the suspension with its last byte cut",
            &suspend_bytes[..suspend_bytes.len() - 1],
        ),
        malformed_entry_vector(
            "suspend an id with a space",
            &unapproved(Action::Suspend {
                id: "bank leman".to_owned(),
            }),
        ),
        malformed_entry_vector(
            "admit a bank with an empty name",
            &unapproved(Action::Admit {
                member: Member {
                    role: Role::Bank,
                    id: "bank-empty".to_owned(),
                    name: String::new(),
                    key: bank.spend.public_key(),
                    view_key: Some(bank.view.public_key()),
                },
            }),
        ),
    ];

    json!({
        "description": concat!(
            "Governance entries (PROTOCOL.md §13), in journal order from the genesis: the ",
            "JSON form, the action bytes the digest binds, the canonical encoding, the digest ",
            "and the transaction id. rejected_entries decode but are refused by the state ",
            "after the first `after` entries (invalid_approval: the first approval that does ",
            "not verify over the entry's digest); malformed_entries do not decode"
        ),
        "ledger_key": hex::encode(block_key.as_bytes()),
        "entries": entries,
        "rejected_entries": rejected_entries,
        "malformed_entries": malformed_entries,
    })
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
            "Block headers, Merkle roots and paths, receipts, Schnorr signatures and ",
            "governance entries of the journal, checked by tests/independent.rs against an ",
            "independent re-implementation and the project's code"
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
        "governance": generate_governance(&ledger),
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
    assert_eq!(
        unsigned_governance(&generated["governance"]),
        unsigned_governance(&stored["governance"]),
        "governance"
    );
}

/// What of the governance section no signature touches: the entries' actions,
/// action bytes and digests, and what becomes of each rejected or malformed one.
fn unsigned_governance(g: &Value) -> Value {
    let entries: Vec<Value> = array(&g["entries"])
        .iter()
        .map(|e| {
            json!({
                "description": e["description"],
                "sequence": e["json"]["sequence"],
                "action": e["json"]["action"],
                "action_bytes": e["action_bytes"],
                "digest": e["digest"],
            })
        })
        .collect();
    let outcomes = |section: &str| -> Vec<Value> {
        array(&g[section])
            .iter()
            .map(|r| {
                json!([
                    r["description"],
                    r["error"],
                    r.get("after"),
                    r.get("invalid_approval")
                ])
            })
            .collect()
    };
    json!({
        "ledger_key": g["ledger_key"],
        "entries": entries,
        "rejected_entries": outcomes("rejected_entries"),
        "malformed_entries": outcomes("malformed_entries"),
    })
}

//! The boundary: bytes, JSON and address text from anyone.
//!
//! Each malformed input is refused with its named error ([`DecodeError`] for the
//! binary encoding, a serde error naming the problem for JSON, [`AddressError`]
//! for addresses). Property tests feed random input and random mutations of
//! valid encodings to all three parsers: they never panic, and whenever the
//! binary decoder accepts bytes, re-encoding gives exactly those bytes (one
//! transaction, one encoding, one id).

mod common;

use common::*;
use ledger_core::encoding::ENCODED_LEN_MAX;
use ledger_core::tx::RangeProofFormatError;
use ledger_core::*;
use proptest::prelude::*;
use std::sync::OnceLock;

/// 2^255 − 19, little-endian: the field modulus, itself a non-canonical encoding (of 0).
const P: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `p − s`: the other square root's encoding of a valid point, which Ristretto
/// refuses (its low bit is set: "negative").
fn negated(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in 0..32 {
        let d = i16::from(P[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        out[i] = u8::try_from(d.rem_euclid(256)).unwrap();
    }
    assert_eq!(borrow, 0);
    out
}

/// Valid encodings of each shape, built once.
struct Samples {
    issue: Vec<u8>,
    transfer: Vec<u8>,
    redeem: Vec<u8>,
    redeem_all: Vec<u8>,
    address: String,
}

fn samples() -> &'static Samples {
    static SAMPLES: OnceLock<Samples> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let mut fx = Fixture::new(99);
        let bank = fx.wallet();
        let alice = fx.wallet();
        let notes = fx.issue(&bank, &[1000, 2000]);
        let issue = Transaction::Issue(fx.signed_issue(&bank.spend.public_key(), &[5, 6]));
        let keys = [bank.spend.clone()];
        let transfer = build_transfer(
            &keys,
            &notes[1..],
            &[Payment {
                to: alice.address(),
                amount: Amount::new(300),
            }],
            &bank.address(),
            &mut fx.rng,
        )
        .unwrap()
        .tx;
        let redeem = build_redeem(
            &keys,
            &notes[1..],
            Amount::new(5),
            &bank.address(),
            &mut fx.rng,
        )
        .unwrap()
        .tx;
        let redeem_all = build_redeem(
            &keys,
            &notes[..1],
            Amount::new(1000),
            &bank.address(),
            &mut fx.rng,
        )
        .unwrap()
        .tx;
        Samples {
            issue: issue.encode(),
            transfer: transfer.encode(),
            redeem: redeem.encode(),
            redeem_all: redeem_all.encode(),
            address: alice.address().to_string(),
        }
    })
}

fn all_encodings() -> [&'static [u8]; 4] {
    let s = samples();
    [&s.issue, &s.transfer, &s.redeem, &s.redeem_all]
}

/// Byte offsets of the fields of a one-input transfer (redeem: `burned` moves the rest by 8).
struct Layout {
    output_owner: usize,
    output_commitment: usize,
    memo: usize,
    proof_len: usize,
    proof: usize,
    excess: usize,
    kernel_signature: usize,
    owner_signature: usize,
}

fn layout(bytes: &[u8]) -> Layout {
    let tx = Transaction::decode(bytes).unwrap();
    let spend = spend(&tx);
    assert_eq!(spend.inputs.len(), 1);
    let outputs_at = 3 + 32 + if tx.kind() == TxKind::Redeem { 8 } else { 0 } + 1;
    let proof_len = outputs_at + 152 * spend.outputs.len();
    let proof = proof_len + 2;
    let excess = proof + spend.range_proof.as_ref().map_or(0, |p| p.as_bytes().len());
    Layout {
        output_owner: outputs_at,
        output_commitment: outputs_at + 32,
        memo: outputs_at + 64,
        proof_len,
        proof,
        excess,
        kernel_signature: excess + 32,
        owner_signature: excess + 96,
    }
}

fn with(bytes: &[u8], at: usize, replacement: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at..at + replacement.len()].copy_from_slice(replacement);
    out
}

fn bad_point(field: &'static str, error: PointError) -> Result<Transaction, DecodeError> {
    Err(DecodeError::BadPoint { field, error })
}

#[test]
fn valid_encodings_round_trip() {
    for bytes in all_encodings() {
        let tx = Transaction::decode(bytes).unwrap();
        assert_eq!(tx.encode(), bytes);
        assert_eq!(tx.id(), TxId::of_bytes(bytes));
    }
}

#[test]
fn non_canonical_and_identity_points_are_named_by_field() {
    let t = &samples().transfer;
    let at = layout(t);
    let fields = [
        (at.output_owner, "output owner"),
        (at.output_commitment, "output commitment"),
        (at.memo, "memo ephemeral key"),
        (at.excess, "kernel excess"),
    ];
    for (offset, field) in fields {
        let valid = &t[offset..offset + 32];
        assert_eq!(
            Transaction::decode(&with(t, offset, &P)),
            bad_point(field, PointError::NonCanonical),
            "{field}: p"
        );
        assert_eq!(
            Transaction::decode(&with(t, offset, &negated(valid))),
            bad_point(field, PointError::NonCanonical),
            "{field}: the negative encoding"
        );
        assert_eq!(
            Transaction::decode(&with(t, offset, &[0xff; 32])),
            bad_point(field, PointError::NonCanonical),
            "{field}: high bit"
        );
        assert_eq!(
            Transaction::decode(&with(t, offset, &[0; 32])),
            bad_point(field, PointError::Identity),
            "{field}: identity"
        );
    }

    // Issue: `reference ‖ n ‖ (owner ‖ value ‖ blinding)* ‖ k ‖ (officer ‖ signature)*`.
    let i = &samples().issue;
    let owner = 2 + 32 + 1;
    let blinding = owner + 32 + 8;
    let officer = 2 + 32 + 1 + 2 * 72 + 1;
    for (offset, field) in [(owner, "issue output owner"), (officer, "officer")] {
        assert_eq!(
            Transaction::decode(&with(i, offset, &negated(&i[offset..offset + 32]))),
            bad_point(field, PointError::NonCanonical)
        );
        assert_eq!(
            Transaction::decode(&with(i, offset, &[0; 32])),
            bad_point(field, PointError::Identity)
        );
    }
    assert_eq!(
        Transaction::decode(&with(i, blinding, &L)),
        Err(DecodeError::BadScalar("blinding"))
    );
    let mut l_plus_one = L;
    l_plus_one[0] += 1;
    assert_eq!(
        Transaction::decode(&with(i, blinding, &l_plus_one)),
        Err(DecodeError::BadScalar("blinding"))
    );
    // The largest canonical scalar, ℓ − 1, is a blinding like any other.
    let mut l_minus_one = L;
    l_minus_one[0] -= 1;
    let changed = Transaction::decode(&with(i, blinding, &l_minus_one)).unwrap();
    assert_eq!(changed.encode(), with(i, blinding, &l_minus_one));
}

#[test]
fn non_canonical_signatures_are_refused() {
    let t = &samples().transfer;
    let at = layout(t);
    for signature in [at.kernel_signature, at.owner_signature] {
        let r = &t[signature..signature + 32];
        for bad_r in [P, negated(r), [0; 32]] {
            assert_eq!(
                Transaction::decode(&with(t, signature, &bad_r)),
                Err(DecodeError::BadSignature)
            );
        }
        let mut l_plus_s = L;
        l_plus_s[0] = 0xee;
        for bad_s in [L, l_plus_s, [0xff; 32]] {
            assert_eq!(
                Transaction::decode(&with(t, signature + 32, &bad_s)),
                Err(DecodeError::BadSignature)
            );
        }
    }
    let i = &samples().issue;
    let officer_signature = 2 + 32 + 1 + 2 * 72 + 1 + 32;
    assert_eq!(
        Transaction::decode(&with(i, officer_signature + 32, &L)),
        Err(DecodeError::BadSignature)
    );
    assert_eq!(
        Transaction::decode(&with(i, officer_signature, &[0; 32])),
        Err(DecodeError::BadSignature)
    );
}

#[test]
fn malformed_range_proofs_are_refused() {
    let t = &samples().transfer;
    let at = layout(t);
    let proof = |chunk: usize| at.proof + 32 * chunk;
    let expect = |bytes: Vec<u8>, error: RangeProofFormatError| {
        assert_eq!(
            Transaction::decode(&bytes),
            Err(DecodeError::BadRangeProof(error))
        );
    };
    // A, S, T₁, T₂ are points 0..4, t_x, t̃_x, ẽ scalars 4..7, then (L, R) pairs,
    // then a, b.
    for chunk in [0, 3] {
        expect(
            with(t, proof(chunk), &[0; 32]),
            RangeProofFormatError::Point,
        );
        expect(with(t, proof(chunk), &P), RangeProofFormatError::Point);
    }
    let proof_len = spend(&Transaction::decode(t).unwrap())
        .range_proof
        .as_ref()
        .unwrap()
        .as_bytes()
        .len();
    let last = proof_len / 32 - 1;
    for chunk in [7, last - 2] {
        let valid = &t[proof(chunk)..proof(chunk) + 32];
        expect(
            with(t, proof(chunk), &negated(valid)),
            RangeProofFormatError::Point,
        );
        expect(
            with(t, proof(chunk), &[0; 32]),
            RangeProofFormatError::Point,
        );
    }
    for chunk in [4, 5, 6, last - 1, last] {
        expect(with(t, proof(chunk), &L), RangeProofFormatError::Scalar);
    }
    // A length that fits no aggregation size.
    let mut bytes = t.clone();
    bytes[at.proof_len..at.proof_len + 2].copy_from_slice(&100u16.to_le_bytes());
    expect(bytes, RangeProofFormatError::Length(100));
    // No proof for outputs that need one.
    let mut bytes = t[..at.proof_len].to_vec();
    bytes.extend_from_slice(&[0, 0]);
    bytes.extend_from_slice(&t[at.excess..]);
    assert_eq!(
        Transaction::decode(&bytes),
        Err(DecodeError::Structure(Rejection::RangeProofShape))
    );
}

#[test]
fn truncated_trailing_oversized_and_unknown_are_named() {
    for bytes in all_encodings() {
        for end in 0..bytes.len() {
            assert_eq!(
                Transaction::decode(&bytes[..end]),
                Err(DecodeError::Truncated),
                "prefix of {end} bytes"
            );
        }
        for extra in [1, 7, 100] {
            let mut longer = bytes.to_vec();
            longer.extend(std::iter::repeat_n(0u8, extra));
            assert_eq!(
                Transaction::decode(&longer),
                Err(DecodeError::TrailingBytes(extra))
            );
        }
        let mut huge = bytes.to_vec();
        huge.resize(ENCODED_LEN_MAX + 1, 0);
        assert_eq!(
            Transaction::decode(&huge),
            Err(DecodeError::TooLong(ENCODED_LEN_MAX + 1))
        );
        huge.truncate(ENCODED_LEN_MAX);
        assert_eq!(
            Transaction::decode(&huge),
            Err(DecodeError::TrailingBytes(ENCODED_LEN_MAX - bytes.len()))
        );
        for version in [0, 2, 255] {
            assert_eq!(
                Transaction::decode(&with(bytes, 0, &[version])),
                Err(DecodeError::UnknownVersion(version))
            );
        }
        for kind in [0, 5, 255] {
            assert_eq!(
                Transaction::decode(&with(bytes, 1, &[kind])),
                Err(DecodeError::UnknownKind(kind))
            );
        }
    }
    assert_eq!(Transaction::decode(&[]), Err(DecodeError::Truncated));
    assert_eq!(Transaction::decode(&[1]), Err(DecodeError::Truncated));
}

#[test]
fn structural_limits_apply_to_decoded_transactions() {
    let t = &samples().transfer;
    let at = layout(t);
    // 17 inputs and 17 owner signatures around the same body.
    let mut bytes = vec![1, 2, 17];
    for i in 0..17u8 {
        bytes.extend_from_slice(&[i; 32]);
    }
    bytes.extend_from_slice(&t[35..at.owner_signature]);
    for _ in 0..17 {
        bytes.extend_from_slice(&t[at.owner_signature..]);
    }
    assert_eq!(
        Transaction::decode(&bytes),
        Err(DecodeError::Structure(Rejection::TooManyInputs))
    );
    // A transfer without outputs or proof.
    let mut bytes = t[..35].to_vec();
    bytes.extend_from_slice(&[0, 0, 0]);
    bytes.extend_from_slice(&t[at.excess..]);
    assert_eq!(
        Transaction::decode(&bytes),
        Err(DecodeError::Structure(Rejection::NoOutputs))
    );
    // A redeem burning nothing.
    let r = &samples().redeem;
    assert_eq!(
        Transaction::decode(&with(r, 35, &0u64.to_le_bytes())),
        Err(DecodeError::Structure(Rejection::ZeroAmount))
    );
    // A transfer whose input count says 0.
    assert_eq!(
        Transaction::decode(&[1, 2, 0, 0, 0, 0]),
        Err(DecodeError::Truncated)
    );
    // An issue without outputs.
    let i = &samples().issue;
    let mut bytes = i[..34].to_vec();
    bytes.extend_from_slice(&[0, 0]);
    assert_eq!(
        Transaction::decode(&bytes),
        Err(DecodeError::Structure(Rejection::NoOutputs))
    );
}

#[test]
fn decode_error_codes_are_stable() {
    let cases = [
        (DecodeError::TooLong(1), "encoding_too_long"),
        (DecodeError::Truncated, "encoding_truncated"),
        (DecodeError::TrailingBytes(1), "trailing_bytes"),
        (DecodeError::UnknownVersion(2), "unknown_version"),
        (DecodeError::UnknownKind(9), "unknown_kind"),
        (
            DecodeError::BadPoint {
                field: "x",
                error: PointError::Identity,
            },
            "non_canonical_point",
        ),
        (DecodeError::BadScalar("x"), "non_canonical_scalar"),
        (DecodeError::BadSignature, "non_canonical_signature"),
        (
            DecodeError::BadRangeProof(RangeProofFormatError::Scalar),
            "malformed_range_proof",
        ),
        (
            DecodeError::Structure(Rejection::DuplicateInput { index: 1 }),
            "duplicate_input",
        ),
    ];
    for (error, code) in cases {
        assert_eq!(error.code(), code);
    }
}

// ---------------------------------------------------------------- JSON

fn json_of(bytes: &[u8]) -> serde_json::Value {
    serde_json::to_value(Transaction::decode(bytes).unwrap()).unwrap()
}

fn parse(value: &serde_json::Value) -> Result<Transaction, String> {
    serde_json::from_str::<Transaction>(&value.to_string()).map_err(|e| e.to_string())
}

fn refused(value: &serde_json::Value, why: &str) {
    match parse(value) {
        Ok(_) => panic!("accepted: {value}"),
        Err(message) => assert!(message.contains(why), "{message:?} lacks {why:?}"),
    }
}

#[test]
fn json_round_trips() {
    for (bytes, kind) in all_encodings()
        .into_iter()
        .zip(["issue", "transfer", "redeem", "redeem"])
    {
        let tx = Transaction::decode(bytes).unwrap();
        let text = serde_json::to_string(&tx).unwrap();
        let back: Transaction = serde_json::from_str(&text).unwrap();
        assert_eq!(back, tx);
        assert_eq!(back.encode(), bytes);
        assert_eq!(json_of(bytes)["kind"], kind);
    }
}

#[test]
fn json_with_a_bad_field_is_an_error() {
    let t = json_of(&samples().transfer);
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = t.clone();
        f(&mut v);
        v
    };
    let valid_commitment = t["outputs"][0]["commitment"].as_str().unwrap().to_string();

    refused(
        &edit(&|v| v["outputs"][0]["commitment"] = "zz".repeat(32).into()),
        "invalid hex",
    );
    refused(
        &edit(&|v| v["outputs"][0]["commitment"] = valid_commitment[..63].into()),
        "invalid hex",
    );
    refused(
        &edit(&|v| v["outputs"][0]["commitment"] = valid_commitment[..62].into()),
        "expected 32 bytes, got 31",
    );
    refused(
        &edit(&|v| v["outputs"][0]["commitment"] = hex::encode(P).into()),
        "not a canonical Ristretto point",
    );
    let negative = hex::encode(negated(&hex::decode(&valid_commitment).unwrap()));
    refused(
        &edit(&|v| v["outputs"][0]["commitment"] = negative.clone().into()),
        "not a canonical Ristretto point",
    );
    refused(
        &edit(&|v| v["outputs"][0]["owner"] = hex::encode([0u8; 32]).into()),
        "identity",
    );
    refused(
        &edit(&|v| v["kernel"]["excess"] = hex::encode([0u8; 32]).into()),
        "identity",
    );
    refused(
        &edit(&|v| v["kernel"]["signature"] = hex::encode([0xffu8; 64]).into()),
        "signature is not 64 canonical bytes",
    );
    refused(
        &edit(&|v| {
            let proof = v["range_proof"].as_str().unwrap();
            let mut bytes = hex::decode(proof).unwrap();
            bytes[4 * 32..5 * 32].copy_from_slice(&L);
            v["range_proof"] = hex::encode(bytes).into();
        }),
        "non-canonical scalar",
    );
    refused(
        &edit(&|v| v["range_proof"] = serde_json::Value::Null),
        "range proof does not cover exactly the outputs",
    );
    refused(
        &edit(&|v| {
            let ids: Vec<String> = (0..17u8).map(|i| hex::encode([i; 32])).collect();
            v["inputs"] = ids.into();
        }),
        "more than 16 inputs",
    );
    refused(
        &edit(&|v| {
            let input = v["inputs"][0].clone();
            let signature = v["owner_signatures"][0].clone();
            v["inputs"].as_array_mut().unwrap().push(input);
            v["owner_signatures"]
                .as_array_mut()
                .unwrap()
                .push(signature);
        }),
        "input 1 is spent twice",
    );
    refused(&edit(&|v| v["burned"] = 5.into()), "cannot burn");
    refused(&edit(&|v| v["burned"] = (-5).into()), "invalid value");
    refused(&edit(&|v| v["burned"] = "5".into()), "invalid type");
    refused(
        &edit(&|v| v["surprise"] = 1.into()),
        "unknown field `surprise`",
    );
    refused(
        &edit(&|v| v["outputs"][0]["surprise"] = 1.into()),
        "unknown field `surprise`",
    );
    refused(
        &edit(&|v| v["kernel"]["surprise"] = 1.into()),
        "unknown field `surprise`",
    );
    refused(
        &edit(&|v| {
            v.as_object_mut().unwrap().remove("kernel");
        }),
        "missing field `kernel`",
    );
    refused(
        &edit(&|v| v["kind"] = "mint".into()),
        "unknown variant `mint`",
    );
    refused(
        &edit(&|v| {
            v.as_object_mut().unwrap().remove("kind");
        }),
        "missing field `kind`",
    );

    let i = json_of(&samples().issue);
    let mut v = i.clone();
    v["outputs"][0]["blinding"] = hex::encode(L).into();
    refused(&v, "not a canonical scalar");
    let mut v = i.clone();
    v["outputs"][0]["value"] = 0.into();
    refused(&v, "an amount is zero");
    let text = i.to_string();
    let too_big = text.replacen("\"value\":5", "\"value\":18446744073709551616", 1);
    assert_ne!(too_big, text);
    let error = serde_json::from_str::<Transaction>(&too_big).unwrap_err();
    assert!(error.to_string().contains("invalid"), "{error}");
}

// ------------------------------------------------------------ properties

#[derive(Debug, Clone)]
enum Edit {
    Xor(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    /// Copy 32 bytes from one offset to another: moves valid points and scalars around.
    Copy32(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    prop_oneof![
        (at, 1..=255u8).prop_map(|(i, m)| Edit::Xor(i, m)),
        (at, any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (at, any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        at.prop_map(Edit::Remove),
        at.prop_map(Edit::Truncate),
        (at, at).prop_map(|(a, b)| Edit::Copy32(a, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let n = bytes.len();
    if n == 0 {
        return;
    }
    match *edit {
        Edit::Xor(i, m) => bytes[i % n] ^= m,
        Edit::Set(i, b) => bytes[i % n] = b,
        Edit::Insert(i, b) => bytes.insert(i % (n + 1), b),
        Edit::Remove(i) => {
            bytes.remove(i % n);
        }
        Edit::Truncate(i) => bytes.truncate(i % n),
        Edit::Copy32(from, to) if n >= 32 => {
            let from = from % (n - 31);
            let to = to % (n - 31);
            let chunk: Vec<u8> = bytes[from..from + 32].to_vec();
            bytes[to..to + 32].copy_from_slice(&chunk);
        }
        Edit::Copy32(..) => {}
    }
}

/// Decoding never panics, and what it accepts re-encodes to the same bytes.
fn decode_is_total_and_canonical(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(tx) = Transaction::decode(bytes) {
        prop_assert_eq!(tx.encode(), bytes);
        prop_assert_eq!(tx.check_structure(), Ok(()));
    }
    Ok(())
}

/// JSON parsing never panics, and what it accepts has a canonical encoding.
fn json_is_total(text: &str) -> Result<(), TestCaseError> {
    if let Ok(tx) = serde_json::from_str::<Transaction>(text) {
        let bytes = tx.encode();
        prop_assert_eq!(Transaction::decode(&bytes), Ok(tx));
    }
    Ok(())
}

/// Address parsing never panics; what it accepts prints back as the input (in lower case).
fn address_is_total(text: &str) -> Result<(), TestCaseError> {
    if let Ok(address) = text.parse::<Address>() {
        prop_assert_eq!(address.to_string(), text.to_lowercase());
    }
    Ok(())
}

/// Characters that matter to JSON and hex.
const JSON_ALPHABET: &[u8] = b"0123456789abcdefABCDEFgxz\"{}[],:- .e+nulltruefalse\\";
/// The bech32 alphabet, separator, upper case and a few strangers.
const ADDRESS_ALPHABET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l1QPZRY9XCBDbio \x7f";

fn edit_text(text: &str, edits: &[(usize, usize, u8)], alphabet: &[u8]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(op, at, pick) in edits {
        let c = char::from(alphabet[usize::from(pick) % alphabet.len()]);
        let n = chars.len();
        match op % 3 {
            0 if n > 0 => chars[at % n] = c,
            1 => chars.insert(at % (n + 1), c),
            2 if n > 0 => {
                chars.remove(at % n);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_bytes_never_panic(kind in 0u8..6, body in proptest::collection::vec(any::<u8>(), 0..1600)) {
        decode_is_total_and_canonical(&body)?;
        let mut framed = vec![1, kind];
        framed.extend_from_slice(&body);
        decode_is_total_and_canonical(&framed)?;
    }

    #[test]
    fn mutated_encodings_never_panic_and_stay_canonical(
        which in 0usize..4,
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let mut bytes = all_encodings()[which].to_vec();
        for e in &edits {
            apply(&mut bytes, e);
        }
        decode_is_total_and_canonical(&bytes)?;
    }

    #[test]
    fn random_and_mutated_json_never_panics(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..6),
        junk in ".{0,200}",
    ) {
        json_is_total(&junk)?;
        let valid = serde_json::to_string(&json_of(all_encodings()[which])).unwrap();
        json_is_total(&edit_text(&valid, &edits, JSON_ALPHABET))?;
    }

    #[test]
    fn random_and_mutated_addresses_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..6),
        junk in ".{0,200}",
        bech in "cbdc1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{0,1100}",
    ) {
        address_is_total(&junk)?;
        address_is_total(&bech)?;
        address_is_total(&edit_text(&samples().address, &edits, ADDRESS_ALPHABET))?;
    }
}

#[test]
fn every_single_character_change_of_an_address_is_refused() {
    let text = &samples().address;
    assert_eq!(text.parse::<Address>().unwrap().to_string(), *text);
    let mut chars: Vec<char> = text.chars().collect();
    for i in 0..chars.len() {
        let original = chars[i];
        for c in ADDRESS_ALPHABET.iter().map(|&b| char::from(b)) {
            if c.to_ascii_lowercase() == original {
                continue;
            }
            chars[i] = c;
            let typo: String = chars.iter().collect();
            assert!(typo.parse::<Address>().is_err(), "{typo}");
        }
        chars[i] = original;
    }
    // Mixed case is not bech32.
    let mixed: String = text
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    assert!(matches!(
        mixed.parse::<Address>(),
        Err(AddressError::Syntax(_))
    ));
    // Keys that are not points.
    let mut keys = [0u8; 64];
    keys[..32].copy_from_slice(&P);
    assert_eq!(
        Address::from_bytes(&keys),
        Err(AddressError::Key {
            which: "spend",
            error: PointError::NonCanonical
        })
    );
    let good = text.parse::<Address>().unwrap().to_bytes();
    keys[..32].copy_from_slice(&good[..32]);
    assert_eq!(
        Address::from_bytes(&keys),
        Err(AddressError::Key {
            which: "view",
            error: PointError::Identity
        })
    );
    let hrp = bech32::Hrp::parse("cbdc").unwrap();
    let text = bech32::encode::<bech32::Bech32m>(hrp, &keys).unwrap();
    assert_eq!(
        text.parse::<Address>(),
        Err(AddressError::Key {
            which: "view",
            error: PointError::Identity
        })
    );
}

//! The signed-request worked example of PROTOCOL.md ("Signed requests"), kept in
//! `tests/vectors/signed_request.json`, and the Python reference signer
//! (`clients/python/cbdc_request.py`) checked against it and against a running
//! ledger.
//!
//! Each case of the file gives everything an implementer needs to check a signer
//! step by step: the secret and public key, the request, the message preimage and
//! digest, the merlin challenge (the 64 bytes and the scalar `c`), the signer's
//! nonce scalar `k` (so `R = k·B` and `s = k + c·x` can be checked without
//! randomness), the signature and the four headers. A few bare merlin transcripts
//! check a STROBE/merlin implementation on its own.
//!
//! The file is generated from `StdRng::seed_from_u64(SEED)` through
//! `auth::sign_request`, so it is exactly reproducible; the test fails when the
//! file and the generator disagree. After an intended change, rewrite it with
//!
//! ```text
//! CBDC_WRITE_VECTORS=1 cargo test -p ledger-service --test signed_request
//! ```
//!
//! and say in the commit why. If only `k`, the signatures and the challenges
//! changed, the signer's nonce derivation changed, not the protocol: old
//! signatures still verify.
//!
//! The Python tests need `python3` on the PATH (standard library only), and the
//! HTTP test PostgreSQL (see `support`).

mod support;

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::scalar::Scalar;
use ledger_core::{Purpose, SecretKey};
use ledger_service::auth::{
    self, AuthError, CLOCK_SKEW_MAX_MS, HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
};
use merlin::Transcript;
use rand::rngs::{OsRng, StdRng};
use rand::SeedableRng;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::net::Net;

const SEED: u64 = 0xcbdc_0010;
/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;
const WRITE_COMMAND: &str =
    "CBDC_WRITE_VECTORS=1 cargo test -p ledger-service --test signed_request";

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vectors_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/signed_request.json")
}

fn signer_path() -> PathBuf {
    repository_root().join("clients/python/cbdc_request.py")
}

fn stored() -> Value {
    let text = std::fs::read_to_string(vectors_path()).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; write it with {WRITE_COMMAND}",
            vectors_path().display()
        )
    });
    serde_json::from_str(&text).expect("signed_request.json is JSON")
}

// ---------------------------------------------------------------------------
// Reading the file.

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("a string, not {v}"))
}

fn bytes(v: &Value) -> Vec<u8> {
    let hex_text = text(v);
    assert!(
        !hex_text.bytes().any(|b| b.is_ascii_uppercase()),
        "hex is lowercase: {hex_text}"
    );
    hex::decode(hex_text).expect("hex")
}

fn fixed<const N: usize>(v: &Value) -> [u8; N] {
    bytes(v).try_into().expect("the right length")
}

fn number(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("an unsigned integer, not {v}"))
}

fn array(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("an array, not {v}"))
}

fn scalar(v: &Value) -> Scalar {
    Option::from(Scalar::from_canonical_bytes(fixed(v))).expect("a canonical scalar")
}

// ---------------------------------------------------------------------------
// The specification, written out here rather than called from the crate.

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// `"cbdc.request.v1" ‖ method ‖ 0x00 ‖ path-and-query ‖ 0x00 ‖ SHA-256(body)
/// ‖ LE64(timestamp) ‖ nonce`: what SHA-256 turns into the signed message.
fn message_preimage(
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp_ms: u64,
    nonce: &[u8; 16],
) -> Vec<u8> {
    let mut out = b"cbdc.request.v1".to_vec();
    out.extend_from_slice(method.as_bytes());
    out.push(0);
    out.extend_from_slice(path_and_query.as_bytes());
    out.push(0);
    out.extend_from_slice(&sha256(body));
    out.extend_from_slice(&timestamp_ms.to_le_bytes());
    out.extend_from_slice(nonce);
    out
}

/// The 64 challenge bytes of PROTOCOL.md §6 for purpose `request`, generator `B`.
fn challenge_bytes(public: &[u8; 32], message: &[u8], r: &[u8]) -> [u8; 64] {
    let mut t = Transcript::new(b"cbdc.schnorr.v1");
    t.append_message(b"purpose", b"request");
    t.append_message(b"G", RISTRETTO_BASEPOINT_POINT.compress().as_bytes());
    t.append_message(b"P", public);
    t.append_message(b"message", message);
    t.append_message(b"R", r);
    let mut wide = [0u8; 64];
    t.challenge_bytes(b"c", &mut wide);
    wide
}

// ---------------------------------------------------------------------------
// The generator.

struct Case {
    description: &'static str,
    /// Index into the generated keys: 0 an officer, 1 a bank.
    signer: usize,
    method: &'static str,
    path_and_query: &'static str,
    body: &'static [u8],
    timestamp_ms: u64,
}

const CASES: [Case; 4] = [
    Case {
        description: "GET with a query string: signed exactly as sent",
        signer: 0,
        method: "GET",
        path_and_query: "/v1/events?after=0&limit=5",
        body: b"",
        timestamp_ms: T0,
    },
    Case {
        description: "POST with a JSON body: an officer proposes an issuance",
        signer: 0,
        method: "POST",
        path_and_query: "/v1/issuances",
        body: br#"{"bank_id":"bank-a","amount":1000000}"#,
        timestamp_ms: T0 + 1_000,
    },
    Case {
        description: "POST with an empty body: SHA-256 of zero bytes",
        signer: 0,
        method: "POST",
        path_and_query: "/v1/audit",
        body: b"",
        timestamp_ms: T0 + 2_000,
    },
    Case {
        description: "GET without a query, signed by a bank's key",
        signer: 1,
        method: "GET",
        path_and_query: "/v1/supply",
        body: b"",
        timestamp_ms: T0 + 3_000,
    },
];

fn case_vector(case: &Case, key: &SecretKey, headers: [(&'static str, String); 4]) -> Value {
    let headers: Map<String, Value> = headers
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value)))
        .collect();
    let nonce: [u8; 16] = fixed(&headers[HEADER_NONCE]);
    let signature: [u8; 64] = fixed(&headers[HEADER_SIGNATURE]);
    let public = *key.public_key().as_bytes();
    let preimage = message_preimage(
        case.method,
        case.path_and_query,
        case.body,
        case.timestamp_ms,
        &nonce,
    );
    let message = sha256(&preimage);
    let wide = challenge_bytes(&public, &message, &signature[..32]);
    let c = Scalar::from_bytes_mod_order_wide(&wide);
    let x = Option::<Scalar>::from(Scalar::from_canonical_bytes(*key.to_bytes())).unwrap();
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(
        signature[32..].try_into().unwrap(),
    ))
    .unwrap();
    // The signer's nonce; that it gives back R shows c is the challenge it used.
    let k = s - c * x;
    assert_eq!(
        (k * RISTRETTO_BASEPOINT_POINT).compress().as_bytes(),
        &signature[..32],
        "{}",
        case.description
    );
    let mut v = json!({
        "description": case.description,
        "secret": hex::encode(*key.to_bytes()),
        "public": hex::encode(public),
        "method": case.method,
        "path_and_query": case.path_and_query,
        "body_hex": hex::encode(case.body),
        "body_sha256": hex::encode(sha256(case.body)),
        "timestamp_ms": case.timestamp_ms,
        "nonce": hex::encode(nonce),
        "message_preimage": hex::encode(&preimage),
        "message": hex::encode(message),
        "challenge_bytes": hex::encode(wide),
        "challenge": hex::encode(c.as_bytes()),
        "k": hex::encode(k.as_bytes()),
        "signature": hex::encode(signature),
        "headers": headers,
    });
    if let Ok(utf8) = std::str::from_utf8(case.body) {
        v["body_utf8"] = utf8.into();
    }
    v
}

/// One operation on a bare merlin transcript.
enum Step {
    Append(&'static [u8], &'static [u8]),
    Challenge(&'static [u8], usize),
}

fn ascii(label: &[u8]) -> &str {
    std::str::from_utf8(label).expect("labels are ASCII")
}

fn transcript_vector(description: &str, label: &'static [u8], steps: &[Step]) -> Value {
    let mut t = Transcript::new(label);
    let operations: Vec<Value> = steps
        .iter()
        .map(|step| match *step {
            Step::Append(label, message) => {
                t.append_message(label, message);
                json!({"op": "append_message", "label": ascii(label),
                       "message": hex::encode(message)})
            }
            Step::Challenge(label, length) => {
                let mut out = vec![0u8; length];
                t.challenge_bytes(label, &mut out);
                json!({"op": "challenge_bytes", "label": ascii(label),
                       "length": length, "output": hex::encode(out)})
            }
        })
        .collect();
    json!({
        "description": description,
        "label": ascii(label),
        "operations": operations,
    })
}

static BYTES_256: [u8; 256] = {
    let mut out = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        out[i] = i as u8;
        i += 1;
    }
    out
};
static BYTES_500: [u8; 500] = [0xa5; 500];

fn generate() -> Value {
    let mut rng = StdRng::seed_from_u64(SEED);
    let keys = [SecretKey::generate(&mut rng), SecretKey::generate(&mut rng)];
    let cases: Vec<Value> = CASES
        .iter()
        .map(|case| {
            let key = &keys[case.signer];
            let headers = auth::sign_request(
                key,
                case.method,
                case.path_and_query,
                case.body,
                case.timestamp_ms,
                &mut rng,
            );
            case_vector(case, key, headers)
        })
        .collect();
    let transcripts = vec![
        transcript_vector(
            "merlin's own conformance case",
            b"test protocol",
            &[
                Step::Append(b"some label", b"some data"),
                Step::Challenge(b"challenge", 32),
            ],
        ),
        transcript_vector(
            "a challenge longer than STROBE-128's rate of 166 bytes",
            b"cbdc.vectors.merlin",
            &[Step::Challenge(b"c", 400)],
        ),
        transcript_vector(
            "messages across the rate, an empty message, challenges between appends",
            b"cbdc.vectors.merlin",
            &[
                Step::Append(b"a", &BYTES_256),
                Step::Append(b"empty", b""),
                Step::Append(b"b", &BYTES_500),
                Step::Challenge(b"x", 64),
                Step::Append(b"d", b"after a challenge"),
                Step::Challenge(b"y", 32),
            ],
        ),
    ];
    json!({
        "description": concat!(
            "Signed requests to the ledger, worked step by step (PROTOCOL.md, Signed requests); ",
            "checked by ledger/service/tests/signed_request.rs and by ",
            "clients/python/cbdc_request.py --check-vectors"
        ),
        "seed": SEED,
        "basepoint": hex::encode(RISTRETTO_BASEPOINT_POINT.compress().as_bytes()),
        "group_order": "7237005577332262213973186563042994240857116359379907606001950938285454250989",
        "clock_skew_max_ms": CLOCK_SKEW_MAX_MS,
        "fields": {
            "secret": "x, the 32-byte canonical little-endian scalar of a cbdc keygen file",
            "public": "P = x·B, compressed ristretto255",
            "body_hex": "the raw body; body_utf8 is the same bytes as text when they are UTF-8",
            "message_preimage": "cbdc.request.v1 ‖ method ‖ 00 ‖ path_and_query ‖ 00 ‖ body_sha256 ‖ LE64(timestamp_ms) ‖ nonce",
            "message": "SHA-256(message_preimage), what is signed",
            "challenge_bytes": "the 64 bytes merlin's challenge_bytes(\"c\", 64) gives for this signature's R",
            "challenge": "c = challenge_bytes as a little-endian integer mod ℓ, 32 bytes little-endian",
            "k": "the signer's nonce scalar: R = k·B, s = k + c·x mod ℓ (a signer draws a fresh k every time)",
            "signature": "R (32, compressed) ‖ s (32, little-endian)",
            "transcripts": "bare merlin transcripts: Transcript::new(label), then the operations in order; labels are ASCII"
        },
        "transcripts": transcripts,
        "cases": cases,
    })
}

/// The first path at which two JSON values differ, for a readable failure.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.keys().chain(y.keys()).find_map(|key| {
            let path = format!("{path}.{key}");
            match (x.get(key), y.get(key)) {
                (Some(p), Some(q)) => first_difference(&path, p, q),
                _ => Some(format!("{path}: present on one side only")),
            }
        }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(&format!("{path}[{i}]"), p, q)),
        _ if a == b => None,
        _ => Some(format!("{path}: stored {a}, now {b}")),
    }
}

#[test]
fn the_vector_file_is_what_the_seed_generates() {
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
    if let Some(difference) = first_difference("", &stored(), &generated) {
        panic!(
            "signed_request.json no longer matches what the seed generates ({difference}). \
             If the change is intended, rewrite it with {WRITE_COMMAND}"
        );
    }
}

// ---------------------------------------------------------------------------
// The stored file, checked on its own.

fn lookup(headers: &Value) -> impl Fn(&'static str) -> Option<String> + '_ {
    move |name| headers.get(name).map(|h| text(h).to_owned())
}

#[test]
fn every_stored_case_recomputes_and_verifies() {
    let v = stored();
    assert_eq!(
        text(&v["basepoint"]),
        "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
    );
    assert_eq!(number(&v["clock_skew_max_ms"]), 300_000);
    let cases = array(&v["cases"]);
    assert_eq!(cases.len(), CASES.len());
    for case in cases {
        let what = text(&case["description"]);
        let key = SecretKey::from_bytes(&fixed(&case["secret"])).expect("a secret key");
        assert_eq!(
            hex::encode(key.public_key().as_bytes()),
            text(&case["public"]),
            "{what}"
        );
        let body = bytes(&case["body_hex"]);
        if let Some(utf8) = case.get("body_utf8") {
            assert_eq!(text(utf8).as_bytes(), body, "{what}");
        }
        assert_eq!(sha256(&body), fixed::<32>(&case["body_sha256"]), "{what}");
        let (method, target) = (text(&case["method"]), text(&case["path_and_query"]));
        let timestamp_ms = number(&case["timestamp_ms"]);
        let nonce = fixed::<16>(&case["nonce"]);
        let preimage = message_preimage(method, target, &body, timestamp_ms, &nonce);
        assert_eq!(preimage, bytes(&case["message_preimage"]), "{what}");
        let message = fixed::<32>(&case["message"]);
        assert_eq!(sha256(&preimage), message, "{what}");
        assert_eq!(
            auth::request_message(method, target, &body, timestamp_ms, &nonce),
            message,
            "{what}"
        );

        let signature = fixed::<64>(&case["signature"]);
        let public = fixed::<32>(&case["public"]);
        let wide = challenge_bytes(&public, &message, &signature[..32]);
        assert_eq!(wide, fixed::<64>(&case["challenge_bytes"]), "{what}");
        let c = scalar(&case["challenge"]);
        assert_eq!(c, Scalar::from_bytes_mod_order_wide(&wide), "{what}");
        let (x, k, s) = (
            scalar(&case["secret"]),
            scalar(&case["k"]),
            Scalar::from_canonical_bytes(signature[32..].try_into().unwrap()).unwrap(),
        );
        assert_eq!(
            (k * RISTRETTO_BASEPOINT_POINT).compress().as_bytes(),
            &signature[..32],
            "{what}: R = k·B"
        );
        assert_eq!(s, k + c * x, "{what}: s = k + c·x");
        assert_eq!(
            (s * RISTRETTO_BASEPOINT_POINT - c * (x * RISTRETTO_BASEPOINT_POINT))
                .compress()
                .as_bytes(),
            &signature[..32],
            "{what}: s·B − c·P = R"
        );
        let parsed = ledger_core::Signature::from_bytes(&signature).unwrap();
        for purpose in [Purpose::Owner, Purpose::Officer, Purpose::Block] {
            assert!(
                key.public_key().verify(purpose, &message, &parsed).is_err(),
                "{what}: {purpose:?}"
            );
        }

        let headers = case["headers"].as_object().expect("headers");
        assert_eq!(headers.len(), 4, "{what}");
        assert_eq!(text(&headers[HEADER_KEY]), text(&case["public"]), "{what}");
        assert_eq!(
            text(&headers[HEADER_TIMESTAMP]),
            timestamp_ms.to_string(),
            "{what}"
        );
        assert_eq!(text(&headers[HEADER_NONCE]), text(&case["nonce"]), "{what}");
        assert_eq!(
            text(&headers[HEADER_SIGNATURE]),
            text(&case["signature"]),
            "{what}"
        );
        let check = |now_ms: u64| {
            auth::check_request(lookup(&case["headers"]), method, target, &body, now_ms)
        };
        let accepted = check(timestamp_ms).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(accepted.key, key.public_key(), "{what}");
        assert_eq!(accepted.nonce, nonce, "{what}");
        assert_eq!(accepted.signature.to_bytes(), signature, "{what}");
        for now_ms in [
            timestamp_ms - CLOCK_SKEW_MAX_MS,
            timestamp_ms + CLOCK_SKEW_MAX_MS,
        ] {
            assert!(check(now_ms).is_ok(), "{what}: 5 minutes is accepted");
        }
        for now_ms in [
            timestamp_ms - CLOCK_SKEW_MAX_MS - 1,
            timestamp_ms + CLOCK_SKEW_MAX_MS + 1,
        ] {
            assert_eq!(check(now_ms).unwrap_err(), AuthError::Stale, "{what}");
        }
    }
}

#[test]
fn any_one_byte_change_is_refused() {
    let v = stored();
    for case in array(&v["cases"]) {
        let what = text(&case["description"]);
        let (method, target) = (text(&case["method"]), text(&case["path_and_query"]));
        let body = bytes(&case["body_hex"]);
        let timestamp_ms = number(&case["timestamp_ms"]);
        let refused = |change: &str,
                       headers: &Value,
                       method: &str,
                       target: &str,
                       body: &[u8],
                       now_ms: u64| {
            assert_eq!(
                auth::check_request(lookup(headers), method, target, body, now_ms).unwrap_err(),
                AuthError::BadSignature,
                "{what}: {change}"
            );
        };
        let headers = &case["headers"];
        let flip = |text: &str, at: usize| {
            let mut b = text.as_bytes().to_vec();
            b[at] ^= 0x01;
            String::from_utf8(b).unwrap()
        };
        for at in 0..method.len() {
            refused(
                "method",
                headers,
                &flip(method, at),
                target,
                &body,
                timestamp_ms,
            );
        }
        for at in 0..target.len() {
            refused(
                "path",
                headers,
                method,
                &flip(target, at),
                &body,
                timestamp_ms,
            );
        }
        for at in 0..body.len() {
            let mut changed = body.clone();
            changed[at] ^= 0x01;
            refused("body", headers, method, target, &changed, timestamp_ms);
        }
        let mut longer = body.clone();
        longer.push(b' ');
        refused(
            "a byte appended to the body",
            headers,
            method,
            target,
            &longer,
            timestamp_ms,
        );
        let digits = timestamp_ms.to_string();
        for at in 0..digits.len() {
            let mut changed = digits.clone().into_bytes();
            changed[at] = b'0' + (changed[at] - b'0' + 1) % 10;
            let changed = String::from_utf8(changed).unwrap();
            let mut h = headers.clone();
            h[HEADER_TIMESTAMP] = changed.clone().into();
            // The ledger's clock moves with it: what fails is the signature.
            let now_ms = changed.parse().unwrap();
            refused("timestamp", &h, method, target, &body, now_ms);
        }
        let nonce = text(&headers[HEADER_NONCE]);
        for at in 0..16 {
            let mut changed = hex::decode(nonce).unwrap();
            changed[at] ^= 0x01;
            let mut h = headers.clone();
            h[HEADER_NONCE] = hex::encode(changed).into();
            refused("nonce", &h, method, target, &body, timestamp_ms);
        }
        let mut h = headers.clone();
        h[HEADER_KEY] = hex::encode(SecretKey::generate(&mut OsRng).public_key().as_bytes()).into();
        refused("another key", &h, method, target, &body, timestamp_ms);
        let signature = text(&headers[HEADER_SIGNATURE]);
        for at in 0..64 {
            let mut changed = hex::decode(signature).unwrap();
            changed[at] ^= 0x01;
            let mut h = headers.clone();
            h[HEADER_SIGNATURE] = hex::encode(changed).into();
            let error =
                auth::check_request(lookup(&h), method, target, &body, timestamp_ms).unwrap_err();
            assert!(
                matches!(error, AuthError::BadSignature | AuthError::Malformed(_)),
                "{what}: signature byte {at}: {error:?}"
            );
        }
    }
}

/// PROTOCOL.md's worked example is the file's first case, so the two cannot drift.
#[test]
fn protocol_md_shows_the_first_case() {
    let protocol = std::fs::read_to_string(repository_root().join("PROTOCOL.md")).unwrap();
    let case = &stored()["cases"][0];
    let signature = text(&case["signature"]);
    for (field, value) in [
        ("secret", text(&case["secret"])),
        ("public", text(&case["public"])),
        ("nonce", text(&case["nonce"])),
        ("message", text(&case["message"])),
        ("k", text(&case["k"])),
        ("challenge", text(&case["challenge"])),
        (
            "challenge_bytes[..32]",
            &text(&case["challenge_bytes"])[..64],
        ),
        (
            "challenge_bytes[32..]",
            &text(&case["challenge_bytes"])[64..],
        ),
        ("R", &signature[..64]),
        ("s", &signature[64..]),
    ] {
        assert!(
            protocol.contains(value),
            "PROTOCOL.md's worked example (Signed requests) does not show the vector's {field} {value}"
        );
    }
}

// ---------------------------------------------------------------------------
// The Python reference signer.

/// Runs `python3 clients/python/cbdc_request.py ARGS` from the repository root.
fn python(args: &[&str]) -> Output {
    let out = Command::new("python3")
        .arg(signer_path())
        .args(args)
        .current_dir(repository_root())
        .output();
    match out {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("python3 is required: see README prerequisites")
        }
        Err(e) => panic!("cannot run python3: {e}"),
    }
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_python_signer_checks_the_vectors() {
    let out = python(&[
        "--check-vectors",
        "ledger/service/tests/vectors/signed_request.json",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("all vectors pass"));

    // A checker that passes everything proves nothing: one challenge byte off
    // must fail it.
    let mut v = stored();
    let c = text(&v["cases"][0]["challenge"]).to_owned();
    let off = if c.starts_with('0') { "1" } else { "0" };
    v["cases"][0]["challenge"] = format!("{off}{}", &c[1..]).into();
    let dir = tempfile::tempdir().unwrap();
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_string(&v).unwrap()).unwrap();
    let out = python(&["--check-vectors", tampered.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL  GET with a query string"));
}

/// What the Python signer printed, and whether it succeeded.
async fn python_call(args: Vec<String>) -> (bool, String, Output) {
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        python(&args)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), stdout, out)
}

async fn python_json(args: &[&str], expect_success: bool) -> Value {
    let (ok, stdout, out) = python_call(args.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(ok, expect_success, "{args:?}: {}", describe(&out));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", describe(&out)))
}

fn write_key_file(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_python_signer_against_a_running_ledger() {
    let net = Net::start().await;
    net.issue(250_000).await;
    let dir = tempfile::tempdir().unwrap();
    let officer_file = dir.path().join("officer.json");
    let officer = &net.officers[1];
    write_key_file(
        &officer_file,
        &json!({
            "kind": "signing",
            "secret": hex::encode(*officer.to_bytes()),
            "public": hex::encode(officer.public_key().as_bytes()),
        }),
    );
    let bank_file = dir.path().join("bank.json");
    write_key_file(
        &bank_file,
        &json!({
            "kind": "wallet",
            "spend": hex::encode(*net.bank.spend.to_bytes()),
            "view": hex::encode(*net.bank.view.to_bytes()),
            "spend_public": hex::encode(net.bank.spend.public_key().as_bytes()),
            "view_public": hex::encode(net.bank.view.public_key().as_bytes()),
        }),
    );
    let stranger_file = dir.path().join("stranger.json");
    let stranger = SecretKey::generate(&mut OsRng);
    write_key_file(
        &stranger_file,
        &json!({"kind": "signing", "secret": hex::encode(*stranger.to_bytes())}),
    );
    let base = net.base().to_owned();
    let officer_key = officer_file.to_str().unwrap();
    let with = |key: &str, rest: &[&str]| -> Vec<String> {
        let mut args = vec![
            "--ledger".to_owned(),
            base.clone(),
            "--key".to_owned(),
            key.to_owned(),
        ];
        args.extend(rest.iter().map(|a| a.to_string()));
        args
    };
    let call = |key: &str, rest: &[&str], ok: bool| {
        let args = with(key, rest);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            python_json(&args, ok).await
        }
    };

    let supply = call(officer_key, &["GET", "/v1/supply"], true).await;
    assert_eq!(supply["supply_ceiling"], net.supply_ceiling, "{supply}");

    let events = call(officer_key, &["GET", "/v1/events?after=0&limit=5"], true).await;
    let listed = array(&events["events"]);
    assert!(!listed.is_empty() && listed.len() <= 5, "{events}");
    let one = call(officer_key, &["GET", "/v1/events?after=0&limit=1"], true).await;
    assert_eq!(
        array(&one["events"]).len(),
        1,
        "the signed query is the one applied: {one}"
    );

    let body_file = dir.path().join("proposal.json");
    std::fs::write(&body_file, br#"{"bank_id": "bank-a", "amount": 5000}"#).unwrap();
    let proposal = call(
        officer_key,
        &[
            "--body",
            body_file.to_str().unwrap(),
            "POST",
            "/v1/issuances",
        ],
        true,
    )
    .await;
    assert_eq!(proposal["state"], "open", "{proposal}");

    let audit = call(officer_key, &["POST", "/v1/audit"], true).await;
    let id = audit["id"].to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let run = call(officer_key, &["GET", &format!("/v1/audits/{id}")], true).await;
        if run["state"] == "passed" {
            break;
        }
        assert_eq!(run["state"], "running", "{run}");
        assert!(Instant::now() < deadline, "the audit did not finish: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A wallet file signs with its spend key; a bank may read but not audit.
    let bank_key = bank_file.to_str().unwrap();
    let bank_supply = call(bank_key, &["GET", "/v1/supply"], true).await;
    assert_eq!(bank_supply["supply_ceiling"], net.supply_ceiling);
    let forbidden = call(bank_key, &["POST", "/v1/audit"], false).await;
    assert_eq!(forbidden["code"], "forbidden_role", "{forbidden}");

    let (ok, stdout, out) = python_call(with(
        stranger_file.to_str().unwrap(),
        &["GET", "/v1/supply"],
    ))
    .await;
    assert!(!ok, "{}", describe(&out));
    let refused: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(refused["code"], "unknown_key", "{refused}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HTTP 401"),
        "{}",
        describe(&out)
    );

    // The same headers twice, as curl would send them from --print-headers.
    let (ok, printed, out) =
        python_call(with(officer_key, &["--print-headers", "GET", "/v1/supply"])).await;
    assert!(ok, "{}", describe(&out));
    let headers: Vec<(String, String)> = printed
        .lines()
        .map(|line| {
            let inner = line
                .strip_prefix("-H '")
                .and_then(|l| l.strip_suffix('\''))
                .unwrap_or_else(|| panic!("a curl -H line: {line}"));
            let (name, value) = inner.split_once(": ").unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect();
    assert_eq!(
        headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE]
    );
    let http = reqwest::Client::new();
    let send = || {
        let mut request = http.get(format!("{base}/v1/supply"));
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let second = send().await.unwrap();
    assert_eq!(second.status(), 401);
    let replayed: Value = second.json().await.unwrap();
    assert_eq!(replayed["code"], "replayed_request", "{replayed}");
}

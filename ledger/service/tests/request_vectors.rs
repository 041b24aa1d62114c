//! Request-signature vectors from outside the code under test, kept in
//! `tests/vectors/request.json`.
//!
//! [`spec`] below re-implements the signed-request format of `ledger_service::auth`
//! from its module docs with `sha2`, `curve25519-dalek` and `merlin` alone (the
//! Schnorr verifier is a copy of the one in `ledger/core/tests/independent.rs`, on
//! purpose: these tests must not share code with what they check). Every vector is
//! checked by [`spec`] and by `auth::request_message` and `auth::check_request`:
//! the accepted requests (message, headers, signature) and the rejected ones with
//! the error code the ledger answers.
//!
//! The message of a request is
//!
//! ```text
//!   SHA-256("cbdc.request.v1" ‖ method ‖ 0x00 ‖ path-and-query ‖ 0x00
//!           ‖ SHA-256(body) ‖ timestamp u64 LE ‖ nonce)
//! ```
//!
//! signed for the purpose `request`. The file is written by [`generate`] at the end,
//! which signs with `auth::sign_request` from a seeded generator (signatures use
//! hedged nonces, so the file fixes the bytes produced once) and asserts that
//! [`spec`] agrees with the project on every vector. The tests never write the file;
//! to regenerate it after an intended change, run
//!
//! ```text
//! CBDC_WRITE_VECTORS=1 cargo test -p ledger-service --test request_vectors
//! ```
//!
//! and say in the commit why compatibility breaks.

use ledger_core::{Purpose, SecretKey};
use ledger_service::auth::{self, HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// The specification, re-implemented for the tests only.
mod spec {
    use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::IsIdentity;
    use merlin::Transcript;
    use sha2::{Digest, Sha256};

    /// The ristretto255 generator `B` as RFC 9496 (§4.4) encodes it.
    pub const BASEPOINT_HEX: &str =
        "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76";
    /// How far a timestamp may be from the ledger's clock: 5 minutes.
    pub const CLOCK_SKEW_MAX_MS: u64 = 300_000;

    pub fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    pub fn request_message(
        method: &str,
        path_and_query: &str,
        body: &[u8],
        timestamp_ms: u64,
        nonce: &[u8; 16],
    ) -> [u8; 32] {
        let mut data = b"cbdc.request.v1".to_vec();
        data.extend_from_slice(method.as_bytes());
        data.push(0);
        data.extend_from_slice(path_and_query.as_bytes());
        data.push(0);
        data.extend_from_slice(&sha256(body));
        data.extend_from_slice(&timestamp_ms.to_le_bytes());
        data.extend_from_slice(nonce);
        sha256(&data)
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Outcome {
        Valid,
        Invalid,
        MalformedKey,
        MalformedSignature,
    }

    /// A canonical encoding of a point other than the identity.
    fn point(bytes: &[u8; 32]) -> Option<RistrettoPoint> {
        CompressedRistretto(*bytes)
            .decompress()
            .filter(|p| !p.is_identity())
    }

    fn basepoint() -> [u8; 32] {
        let mut out = [0u8; 32];
        hex::decode_to_slice(BASEPOINT_HEX, &mut out).expect("the constant is hex");
        out
    }

    /// `c = H("cbdc.schnorr.v1" ‖ purpose ‖ G ‖ P ‖ message ‖ R)` as a merlin
    /// transcript, 64 challenge bytes reduced modulo the group order; the signature
    /// `R ‖ s` verifies when `s·B − c·P = R`.
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
        let mut t = Transcript::new(b"cbdc.schnorr.v1");
        t.append_message(b"purpose", purpose);
        t.append_message(b"G", &g_bytes);
        t.append_message(b"P", public);
        t.append_message(b"message", message);
        t.append_message(b"R", &r);
        let mut wide = [0u8; 64];
        t.challenge_bytes(b"c", &mut wide);
        let c = Scalar::from_bytes_mod_order_wide(&wide);
        if (s * g - c * p).compress().to_bytes() == r {
            Outcome::Valid
        } else {
            Outcome::Invalid
        }
    }

    fn hex_fixed<const N: usize>(text: &str) -> Option<[u8; N]> {
        let mut out = [0u8; N];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(out)
    }

    /// Checks a request's headers as the module docs describe, in the order the
    /// ledger checks them, and names the error code it answers.
    pub fn check(
        header: impl Fn(&str) -> Option<String>,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now_ms: u64,
    ) -> Result<(), &'static str> {
        let get = |name: &str| header(name).ok_or("unauthenticated");
        let key = get("x-cbdc-key")?;
        let timestamp = get("x-cbdc-timestamp")?;
        let nonce = get("x-cbdc-nonce")?;
        let signature = get("x-cbdc-signature")?;
        let malformed = "malformed_auth_header";
        let key = hex_fixed::<32>(&key).ok_or(malformed)?;
        if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed);
        }
        let timestamp_ms: u64 = timestamp.parse().map_err(|_| malformed)?;
        let nonce = hex_fixed::<16>(&nonce).ok_or(malformed)?;
        let signature = hex_fixed::<64>(&signature).ok_or(malformed)?;
        let message = request_message(method, path_and_query, body, timestamp_ms, &nonce);
        let outcome = verify(&key, b"request", &message, &signature);
        if matches!(outcome, Outcome::MalformedKey | Outcome::MalformedSignature) {
            return Err(malformed);
        }
        if now_ms.abs_diff(timestamp_ms) > CLOCK_SKEW_MAX_MS {
            return Err("stale_request");
        }
        match outcome {
            Outcome::Valid => Ok(()),
            _ => Err("bad_request_signature"),
        }
    }
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/request.json")
}

fn stored() -> Value {
    let text = std::fs::read_to_string(vectors_path()).expect("tests/vectors/request.json");
    serde_json::from_str(&text).expect("request.json is JSON")
}

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

fn text(v: &Value) -> &str {
    v.as_str().expect("a string")
}

fn number(v: &Value) -> u64 {
    v.as_u64().expect("an unsigned integer")
}

fn array(v: &Value) -> &Vec<Value> {
    v.as_array().expect("an array")
}

/// A header lookup over the vector's `headers` object.
fn lookup(v: &Value) -> impl Fn(&str) -> Option<String> + '_ {
    let headers = v["headers"].as_object().expect("an object of headers");
    move |name| headers.get(name).map(|h| text(h).to_owned())
}

/// What `auth::check_request` answers: `Ok` or the error code.
fn project_check(v: &Value) -> Result<auth::RequestAuth, &'static str> {
    auth::check_request(
        lookup(v),
        text(&v["method"]),
        text(&v["path_and_query"]),
        &bytes(&v["body"]),
        number(&v["now_ms"]),
    )
    .map_err(|e| e.code())
}

fn spec_check(v: &Value) -> Result<(), &'static str> {
    spec::check(
        lookup(v),
        text(&v["method"]),
        text(&v["path_and_query"]),
        &bytes(&v["body"]),
        number(&v["now_ms"]),
    )
}

#[test]
fn requests_recompute_independently() {
    let v = stored();
    for r in array(&v["requests"]) {
        let what = text(&r["description"]);
        let body = bytes(&r["body"]);
        assert_eq!(
            spec::sha256(&body),
            fixed::<32>(&r["body_sha256"]),
            "{what}"
        );
        let timestamp_ms = number(&r["timestamp_ms"]);
        let nonce = fixed::<16>(&r["nonce"]);
        let message = spec::request_message(
            text(&r["method"]),
            text(&r["path_and_query"]),
            &body,
            timestamp_ms,
            &nonce,
        );
        assert_eq!(message, fixed::<32>(&r["message"]), "{what}");
        let key = fixed::<32>(&r["key"]);
        let signature = fixed::<64>(&r["signature"]);
        assert_eq!(
            spec::verify(&key, b"request", &message, &signature),
            spec::Outcome::Valid,
            "{what}"
        );
        for purpose in ["owner", "officer", "block", "kernel"] {
            assert_eq!(
                spec::verify(&key, purpose.as_bytes(), &message, &signature),
                spec::Outcome::Invalid,
                "{what}: {purpose}"
            );
        }
        let headers = &r["headers"];
        assert_eq!(headers.as_object().unwrap().len(), 4, "{what}");
        assert_eq!(headers["x-cbdc-key"], r["key"], "{what}");
        assert_eq!(
            text(&headers["x-cbdc-timestamp"]),
            timestamp_ms.to_string(),
            "{what}"
        );
        assert_eq!(headers["x-cbdc-nonce"], r["nonce"], "{what}");
        assert_eq!(headers["x-cbdc-signature"], r["signature"], "{what}");
        assert_eq!(spec_check(r), Ok(()), "{what}");
    }
}

#[test]
fn requests_agree_with_the_project() {
    let v = stored();
    assert_eq!(
        [HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE],
        [
            "x-cbdc-key",
            "x-cbdc-timestamp",
            "x-cbdc-nonce",
            "x-cbdc-signature"
        ]
    );
    assert_eq!(auth::CLOCK_SKEW_MAX_MS, spec::CLOCK_SKEW_MAX_MS);
    for r in array(&v["requests"]) {
        let what = text(&r["description"]);
        let message = auth::request_message(
            text(&r["method"]),
            text(&r["path_and_query"]),
            &bytes(&r["body"]),
            number(&r["timestamp_ms"]),
            &fixed(&r["nonce"]),
        );
        assert_eq!(message, fixed::<32>(&r["message"]), "{what}");
        let accepted = project_check(r).unwrap_or_else(|code| panic!("{what}: {code}"));
        assert_eq!(*accepted.key.as_bytes(), fixed::<32>(&r["key"]), "{what}");
        assert_eq!(accepted.timestamp_ms, number(&r["timestamp_ms"]), "{what}");
        assert_eq!(accepted.nonce, fixed::<16>(&r["nonce"]), "{what}");
        assert_eq!(
            accepted.signature.to_bytes(),
            fixed::<64>(&r["signature"]),
            "{what}"
        );
    }
}

#[test]
fn rejected_requests_are_rejected_by_both_with_the_same_code() {
    let v = stored();
    for r in array(&v["rejected"]) {
        let what = text(&r["description"]);
        let error = text(&r["error"]);
        assert_eq!(spec_check(r), Err(error), "{what}");
        assert_eq!(project_check(r).map(|_| ()), Err(error), "{what}");
    }
}

/// The file keeps what the vectors promise: no case can be dropped silently.
#[test]
fn the_vectors_cover_what_they_promise() {
    let v = stored();
    assert!(array(&v["requests"]).len() >= 6);
    let rejected = array(&v["rejected"]);
    for code in [
        "bad_request_signature",
        "stale_request",
        "malformed_auth_header",
        "unauthenticated",
    ] {
        assert!(
            rejected.iter().any(|r| r["error"] == code),
            "a request rejected with {code}"
        );
    }
}

// The generator. It runs in every test run (its cross-checks are tests too) and
// writes the file only when CBDC_WRITE_VECTORS=1.

const SEED: u64 = 0xcbdc_0009;
/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;
/// The group order ℓ, little-endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

struct Request<'a> {
    description: &'a str,
    method: &'a str,
    path_and_query: &'a str,
    body: Vec<u8>,
    timestamp_ms: u64,
    now_ms: u64,
}

fn request_vector(request: &Request, headers: [(&'static str, String); 4]) -> Value {
    let headers: Map<String, Value> = headers
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value)))
        .collect();
    let nonce: [u8; 16] = hex::decode(text(&headers[HEADER_NONCE]))
        .unwrap()
        .try_into()
        .unwrap();
    let message = spec::request_message(
        request.method,
        request.path_and_query,
        &request.body,
        request.timestamp_ms,
        &nonce,
    );
    assert_eq!(
        auth::request_message(
            request.method,
            request.path_and_query,
            &request.body,
            request.timestamp_ms,
            &nonce
        ),
        message,
        "{}",
        request.description
    );
    let v = json!({
        "description": request.description,
        "method": request.method,
        "path_and_query": request.path_and_query,
        "body": hex::encode(&request.body),
        "body_sha256": hex::encode(spec::sha256(&request.body)),
        "timestamp_ms": request.timestamp_ms,
        "nonce": headers[HEADER_NONCE],
        "key": headers[HEADER_KEY],
        "message": hex::encode(message),
        "signature": headers[HEADER_SIGNATURE],
        "now_ms": request.now_ms,
        "headers": headers,
    });
    assert_eq!(spec_check(&v), Ok(()), "{}", request.description);
    assert!(project_check(&v).is_ok(), "{}", request.description);
    v
}

/// A rejected request: `base` with `change` applied, named `description`.
fn rejected(description: &str, base: &Value, change: impl FnOnce(&mut Value)) -> Value {
    let mut v = json!({
        "description": description,
        "method": base["method"],
        "path_and_query": base["path_and_query"],
        "body": base["body"],
        "now_ms": base["now_ms"],
        "headers": base["headers"],
    });
    change(&mut v);
    let ours = spec_check(&v).expect_err(description);
    let project = project_check(&v).map(|_| ()).expect_err(description);
    assert_eq!(ours, project, "{description}");
    v["error"] = ours.into();
    v
}

fn generate() -> Value {
    let mut rng = StdRng::seed_from_u64(SEED);
    let bank = SecretKey::generate(&mut rng);
    let officer = SecretKey::generate(&mut rng);
    let other_bank = SecretKey::generate(&mut rng);
    let sign = |key: &SecretKey, request: &Request, rng: &mut StdRng| {
        let headers = auth::sign_request(
            key,
            request.method,
            request.path_and_query,
            &request.body,
            request.timestamp_ms,
            rng,
        );
        request_vector(request, headers)
    };

    let submit = Request {
        description: "a bank submits a transaction",
        method: "POST",
        path_and_query: "/v1/transactions",
        body: br#"{"tx":"0100"}"#.to_vec(),
        timestamp_ms: T0,
        now_ms: T0,
    };
    let latest = Request {
        description: "no body; the ledger's clock 5 minutes ahead (the limit, accepted)",
        method: "GET",
        path_and_query: "/v1/blocks/latest",
        body: Vec::new(),
        timestamp_ms: T0 + 1_000,
        now_ms: T0 + 1_000 + 300_000,
    };
    let events = Request {
        description: "a query string; the ledger's clock 5 minutes behind (the limit, accepted)",
        method: "GET",
        path_and_query: "/v1/events?after=41&limit=100",
        body: Vec::new(),
        timestamp_ms: T0 + 2_000,
        now_ms: T0 + 2_000 - 300_000,
    };
    let approve = Request {
        description: "an officer approves an issuance",
        method: "POST",
        path_and_query: "/v1/issuances/7/approvals",
        body: br#"{"signature":"00"}"#.to_vec(),
        timestamp_ms: T0 + 3_000,
        now_ms: T0 + 3_000,
    };
    let binary = Request {
        description: "a body of the 256 bytes 0x00..0xff",
        method: "POST",
        path_and_query: "/v1/participants",
        body: (0..=255u8).collect(),
        timestamp_ms: T0 + 4_000,
        now_ms: T0 + 4_000,
    };
    let escaped = Request {
        description: "percent-escapes are signed as sent; timestamp u64::MAX",
        method: "GET",
        path_and_query: "/v1/notes/ab%2Fcd?x=%20y",
        body: Vec::new(),
        timestamp_ms: u64::MAX,
        now_ms: u64::MAX,
    };
    let epoch = Request {
        description: "timestamp 0 and the nonce 00..0f, signed without sign_request",
        method: "GET",
        path_and_query: "/v1/ledger",
        body: Vec::new(),
        timestamp_ms: 0,
        now_ms: 0,
    };
    let epoch_nonce: [u8; 16] = std::array::from_fn(|i| u8::try_from(i).unwrap());
    let epoch_message = auth::request_message(
        epoch.method,
        epoch.path_and_query,
        &epoch.body,
        epoch.timestamp_ms,
        &epoch_nonce,
    );
    let epoch_signature = bank.sign(Purpose::Request, &epoch_message, &mut rng);
    let epoch_headers = [
        (HEADER_KEY, hex::encode(bank.public_key().as_bytes())),
        (HEADER_TIMESTAMP, epoch.timestamp_ms.to_string()),
        (HEADER_NONCE, hex::encode(epoch_nonce)),
        (HEADER_SIGNATURE, hex::encode(epoch_signature.to_bytes())),
    ];
    let requests = vec![
        sign(&bank, &submit, &mut rng),
        sign(&bank, &latest, &mut rng),
        sign(&bank, &events, &mut rng),
        sign(&officer, &approve, &mut rng),
        sign(&bank, &binary, &mut rng),
        sign(&bank, &escaped, &mut rng),
        request_vector(&epoch, epoch_headers),
    ];

    let (submitted, listed) = (&requests[0], &requests[2]);
    let message = fixed::<32>(&submitted["message"]);
    let owner_signature = bank.sign(Purpose::Owner, &message, &mut rng);
    let mut non_canonical = fixed::<64>(&submitted["signature"]);
    let mut carry = 0u16;
    for (s, l) in non_canonical[32..].iter_mut().zip(GROUP_ORDER) {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *s = sum.to_le_bytes()[0];
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    let set = |name: &str, value: String| {
        let name = name.to_owned();
        move |v: &mut Value| v["headers"][name] = value.into()
    };
    let flipped_nonce = {
        let mut nonce = fixed::<16>(&submitted["nonce"]);
        nonce[15] ^= 1;
        hex::encode(nonce)
    };
    let later = T0 + 1;
    let rejected = vec![
        rejected("the method in lower case", submitted, |v| {
            v["method"] = "post".into()
        }),
        rejected("a trailing slash on the path", submitted, |v| {
            v["path_and_query"] = "/v1/transactions/".into()
        }),
        rejected("the query's parameters reordered", listed, |v| {
            v["path_and_query"] = "/v1/events?limit=100&after=41".into()
        }),
        rejected("one body byte changed", submitted, |v| {
            v["body"] = hex::encode(br#"{"tx":"0101"}"#).into()
        }),
        rejected("an empty body instead of the signed one", submitted, |v| {
            v["body"] = "".into()
        }),
        rejected("the timestamp header 1 ms later", submitted, |v| {
            v["headers"]["x-cbdc-timestamp"] = later.to_string().into();
            v["now_ms"] = later.into();
        }),
        rejected(
            "the nonce's last bit flipped",
            submitted,
            set(HEADER_NONCE, flipped_nonce),
        ),
        rejected(
            "another bank's key in the key header",
            submitted,
            set(HEADER_KEY, hex::encode(other_bank.public_key().as_bytes())),
        ),
        rejected(
            "signed by the same key for the purpose owner",
            submitted,
            set(HEADER_SIGNATURE, hex::encode(owner_signature.to_bytes())),
        ),
        rejected(
            "the ledger's clock 5 minutes and 1 ms ahead",
            submitted,
            |v| v["now_ms"] = (T0 + 300_001).into(),
        ),
        rejected(
            "the ledger's clock 5 minutes and 1 ms behind",
            submitted,
            |v| v["now_ms"] = (T0 - 300_001).into(),
        ),
        rejected(
            "the signature's s plus the group order (not canonical)",
            submitted,
            set(HEADER_SIGNATURE, hex::encode(non_canonical)),
        ),
        rejected("a signature of 63 bytes", submitted, |v| {
            let short = text(&v["headers"]["x-cbdc-signature"])[..126].to_owned();
            v["headers"]["x-cbdc-signature"] = short.into();
        }),
        rejected("a nonce of 15 bytes", submitted, |v| {
            let short = text(&v["headers"]["x-cbdc-nonce"])[..30].to_owned();
            v["headers"]["x-cbdc-nonce"] = short.into();
        }),
        rejected(
            "the identity as the key",
            submitted,
            set(HEADER_KEY, hex::encode([0u8; 32])),
        ),
        rejected(
            "a key that is not a canonical point",
            submitted,
            set(HEADER_KEY, hex::encode([0xffu8; 32])),
        ),
        rejected(
            "a negative timestamp",
            submitted,
            set(HEADER_TIMESTAMP, "-1".to_owned()),
        ),
        rejected(
            "a timestamp beyond u64",
            submitted,
            set(HEADER_TIMESTAMP, "18446744073709551616".to_owned()),
        ),
        rejected(
            "a timestamp in seconds with a fraction",
            submitted,
            set(HEADER_TIMESTAMP, "1767225600.000".to_owned()),
        ),
        rejected("no signature header", submitted, |v| {
            v["headers"]
                .as_object_mut()
                .unwrap()
                .remove(HEADER_SIGNATURE);
        }),
        rejected("no key header", submitted, |v| {
            v["headers"].as_object_mut().unwrap().remove(HEADER_KEY);
        }),
    ];

    json!({
        "description": concat!(
            "Signed HTTP requests to the ledger, checked by tests/request_vectors.rs ",
            "against an independent re-implementation and ledger_service::auth"
        ),
        "message_rule": concat!(
            "SHA-256(\"cbdc.request.v1\" ‖ method ‖ 0x00 ‖ path-and-query ‖ 0x00 ",
            "‖ SHA-256(body) ‖ timestamp u64 LE ‖ nonce), signed for the purpose request; ",
            "body is hex"
        ),
        "requests": requests,
        "rejected": rejected,
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
        std::fs::create_dir_all(temporary.parent().unwrap()).unwrap();
        std::fs::write(&temporary, text).unwrap();
        std::fs::rename(&temporary, vectors_path()).unwrap();
        return;
    }
    // Everything but the signatures (and what hangs on them: the nonces that
    // sign_request draws from the same generator) is computed, not drawn.
    let stored = stored();
    for (ours, theirs) in array(&generated["requests"])
        .iter()
        .zip(array(&stored["requests"]))
    {
        for field in [
            "method",
            "path_and_query",
            "body",
            "body_sha256",
            "timestamp_ms",
            "now_ms",
        ] {
            assert_eq!(ours[field], theirs[field], "{field}");
        }
    }
}

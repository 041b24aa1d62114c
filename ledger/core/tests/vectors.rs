//! Golden vectors: the encodings, ids and note ids of one seeded history, kept in
//! `tests/vectors/*.json`, so that a change that breaks compatibility (a new
//! field in a digest, another domain separator, a different encoding or JSON
//! form, a builder that draws its randomness in another order) fails here instead
//! of in a bank's wallet.
//!
//! The test regenerates everything from `ChaCha20Rng::seed_from_u64(SEED)` and
//! compares with the files; then it decodes the *stored* encodings and verifies
//! them in order against a ledger, and opens the stored transfer's memos.
//!
//! To rewrite the files after an intended change, run
//!
//! ```text
//! CBDC_UPDATE_VECTORS=1 cargo test -p ledger-core --test vectors
//! ```
//!
//! and say in the commit why compatibility breaks.

mod common;

use common::*;
use ledger_core::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};
use std::path::PathBuf;

const SEED: u64 = 0xcbdc_2025;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// The parties of the seeded history, drawn in this order from the seed.
struct Parties {
    rng: ChaCha20Rng,
    officers: Vec<SecretKey>,
    bank: WalletKeys,
    alice: WalletKeys,
}

fn parties() -> Parties {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let officers = (0..3).map(|_| SecretKey::generate(&mut rng)).collect();
    let bank = WalletKeys::generate(&mut rng);
    let alice = WalletKeys::generate(&mut rng);
    Parties {
        rng,
        officers,
        bank,
        alice,
    }
}

fn tx_vector(description: &str, tx: &Transaction, outputs: Value) -> Value {
    let notes: Vec<String> = tx
        .created_notes()
        .iter()
        .map(|n| n.id.to_string())
        .collect();
    json!({
        "description": description,
        "seed": SEED,
        "kind": tx.kind().as_str(),
        "encoding": hex::encode(tx.encode()),
        "id": tx.id().to_string(),
        "digest": hex::encode(tx.digest()),
        "note_ids": notes,
        "outputs": outputs,
        "json": serde_json::to_value(tx).unwrap(),
    })
}

/// Who got what, for each output of a built spend.
fn outputs_of(built: &Built, names: &[(&Address, &str)]) -> Value {
    built
        .outputs
        .iter()
        .map(|o| {
            let name = names.iter().find(|(a, _)| **a == o.to).unwrap().1;
            json!({"note": o.note.to_string(), "to": name, "value": o.opening.value().minor_units()})
        })
        .collect()
}

/// The vectors, regenerated from the seed: (file name, contents).
fn generate() -> Vec<(&'static str, Value)> {
    let Parties {
        mut rng,
        officers,
        bank,
        alice,
    } = parties();
    let (bank_address, alice_address) = (bank.address(), alice.address());
    let names = [(&bank_address, "bank"), (&alice_address, "alice")];
    let mut out = Vec::new();

    out.push((
        "address",
        json!({
            "description": "Alice's address: bech32m of spend key ‖ view key, prefix cbdc",
            "seed": SEED,
            "spend_public_key": hex::encode(alice_address.spend.as_bytes()),
            "view_public_key": hex::encode(alice_address.view.as_bytes()),
            "address": alice_address.to_string(),
            "bank_address": bank_address.to_string(),
        }),
    ));

    let bank_key = bank.spend.public_key();
    let mut issue = build_issue(
        IssueReference([0x11; 32]),
        &[
            (bank_key, Amount::new(1_000_000)),
            (bank_key, Amount::new(250_000)),
        ],
        &mut rng,
    )
    .unwrap();
    issue.sign(&officers[0], &mut rng);
    issue.sign(&officers[2], &mut rng);
    let issue_tx = Transaction::Issue(issue.clone());
    let mut issue_vector = tx_vector(
        "1 250 000 issued to the bank in two notes, approved by officers 0 and 2 of 3",
        &issue_tx,
        Value::Null,
    );
    issue_vector["officers"] = officers
        .iter()
        .map(|k| hex::encode(k.public_key().as_bytes()))
        .collect();
    issue_vector["threshold"] = 2.into();
    out.push(("issue", issue_vector));

    let transfer = build_transfer(
        std::slice::from_ref(&bank.spend),
        &issue.owned_notes(),
        &[Payment {
            to: alice_address,
            amount: Amount::new(300_000),
        }],
        &bank_address,
        &mut rng,
    )
    .unwrap();
    out.push((
        "transfer",
        tx_vector(
            "the bank pays Alice 300 000 from its 1 000 000 note, 700 000 change",
            &transfer.tx,
            outputs_of(&transfer, &names),
        ),
    ));

    let change: Vec<OwnedNote> = transfer
        .outputs
        .iter()
        .filter(|o| o.change)
        .map(BuiltOutput::owned_note)
        .collect();
    let redeem = build_redeem(
        std::slice::from_ref(&bank.spend),
        &change,
        Amount::new(100_000),
        &bank_address,
        &mut rng,
    )
    .unwrap();
    out.push((
        "redeem",
        tx_vector(
            "the bank redeems 100 000 of its change, 600 000 change",
            &redeem.tx,
            outputs_of(&redeem, &names),
        ),
    ));

    let hers: Vec<OwnedNote> = transfer
        .outputs
        .iter()
        .filter(|o| !o.change)
        .map(BuiltOutput::owned_note)
        .collect();
    let redeem_all = build_redeem(
        std::slice::from_ref(&alice.spend),
        &hers,
        Amount::new(300_000),
        &alice_address,
        &mut rng,
    )
    .unwrap();
    out.push((
        "redeem_all",
        tx_vector(
            "Alice redeems all 300 000: no change, no range proof",
            &redeem_all.tx,
            outputs_of(&redeem_all, &names),
        ),
    ));
    out
}

/// The first path at which two JSON values differ, for a readable failure.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                let (p, q) = (x.get(key), y.get(key));
                if p != q {
                    let path = format!("{path}.{key}");
                    return match (p, q) {
                        (Some(p), Some(q)) => first_difference(&path, p, q),
                        _ => Some(path),
                    };
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(&format!("{path}[{i}]"), p, q)),
        _ if a == b => None,
        _ => Some(format!("{path}: stored {a}, now {b}")),
    }
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; generate it with CBDC_UPDATE_VECTORS=1 cargo test -p ledger-core --test vectors",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn bytes_of(vector: &Value, field: &str) -> Vec<u8> {
    hex::decode(vector[field].as_str().unwrap()).unwrap()
}

#[test]
fn golden_vectors() {
    let generated = generate();
    if std::env::var("CBDC_UPDATE_VECTORS").as_deref() == Ok("1") {
        std::fs::create_dir_all(vectors_dir()).unwrap();
        for (name, value) in &generated {
            let text = serde_json::to_string_pretty(value).unwrap() + "\n";
            std::fs::write(vectors_dir().join(format!("{name}.json")), text).unwrap();
        }
    }
    for (name, value) in &generated {
        let stored = load(name);
        if let Some(difference) = first_difference("", &stored, value) {
            panic!(
                "{name}.json no longer matches what the seed generates ({difference}). If the \
                 change is intended, it breaks compatibility: rewrite the vectors with \
                 CBDC_UPDATE_VECTORS=1 cargo test -p ledger-core --test vectors"
            );
        }
    }
    stored_vectors_decode_and_verify();
}

/// The stored bytes, on their own: decode, re-encode, hash, verify in order.
fn stored_vectors_decode_and_verify() {
    let address = load("address");
    let alice: Address = address["address"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        hex::encode(alice.spend.as_bytes()),
        address["spend_public_key"]
    );
    assert_eq!(
        hex::encode(alice.view.as_bytes()),
        address["view_public_key"]
    );
    assert_eq!(alice.to_string(), address["address"]);

    let issue = load("issue");
    let officers = issue["officers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let bytes: [u8; 32] = hex::decode(k.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            PublicKey::from_bytes(&bytes).unwrap()
        })
        .collect();
    let mut ledger = Ledger::new(IssuancePolicy {
        officers,
        threshold: usize::try_from(issue["threshold"].as_u64().unwrap()).unwrap(),
    });
    for name in ["issue", "transfer", "redeem", "redeem_all"] {
        let vector = load(name);
        let bytes = bytes_of(&vector, "encoding");
        let tx = Transaction::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(tx.encode(), bytes, "{name}");
        assert_eq!(tx.kind().as_str(), vector["kind"], "{name}");
        assert_eq!(tx.id().to_string(), vector["id"], "{name}");
        assert_eq!(hex::encode(tx.digest()), vector["digest"], "{name}");
        let notes: Vec<Value> = tx
            .created_notes()
            .iter()
            .map(|n| n.id.to_string().into())
            .collect();
        assert_eq!(Value::Array(notes), vector["note_ids"], "{name}");
        let from_json: Transaction = serde_json::from_value(vector["json"].clone()).unwrap();
        assert_eq!(from_json, tx, "{name}");
        assert_eq!(ledger.submit(&tx), Ok(()), "{name}");
    }
    let supply = ledger.audit().finish().unwrap();
    assert_eq!(supply.issued, 1_250_000);
    assert_eq!(supply.redeemed, 400_000);
    assert_eq!(supply.outstanding, Amount::new(850_000));

    // The keys from the seed open the stored transfer's memos to the stored values.
    let Parties { bank, alice, .. } = parties();
    let transfer = load("transfer");
    let tx = Transaction::decode(&bytes_of(&transfer, "encoding")).unwrap();
    for (note, expected) in tx
        .created_notes()
        .iter()
        .zip(transfer["outputs"].as_array().unwrap())
    {
        assert_eq!(note.id.to_string(), expected["note"]);
        let view = if expected["to"] == "alice" {
            &alice.view
        } else {
            &bank.view
        };
        let opening = note.memo.unwrap().open(view, &note.commitment).unwrap();
        assert_eq!(opening.value().minor_units(), expected["value"]);
    }
}

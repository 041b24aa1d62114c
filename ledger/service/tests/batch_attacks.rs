//! Forged transactions among concurrent honest ones, over HTTP on a real ledger
//! (a fresh PostgreSQL database): the ledger verifies whatever waits in its queue
//! as one batch ([`ledger_core::batch`]), so forgeries submitted at the same time
//! as honest transfers meet the batch check, not the one-by-one fallback. Each
//! forgery must be answered 422 with the code of the rule it breaks, each honest
//! transaction must commit with a receipt that verifies, nothing a forgery spent
//! may be marked spent, and the supply audit must pass afterwards.
//!
//! The forger is the sender (it owns the notes and knows every opening), and
//! re-signs after tampering so the check under attack is the one that answers:
//! a range proof of another transaction, outputs reordered, a negative output, a
//! fourth output in a three-output proof's padding slot, an output re-blinded with
//! the excess moved to match; an excess recomputed for a bigger output; owner and
//! kernel signatures that are wrong, or wrong by `+d` and `−d` in two transactions
//! so that an unweighted sum of the checks would balance.

mod support;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use futures_util::future::join_all;
use ledger_core::commitment::pedersen_gens;
use ledger_core::{
    build_redeem, build_transfer, Amount, Built, Commitment, Excess, NoteId, Opening, OwnedNote,
    Payment, Purpose, Receipt, SecretKey, Signature, Spend, Transaction, WalletKeys,
};
use ledger_service::client::ClientError;
use merlin::Transcript;
use rand::rngs::OsRng;
use support::net::Net;

/// Honest transactions submitted together with the forgeries in each round.
const HONEST_PER_ROUND: usize = 32;
const ROUNDS: usize = 3;
const ISSUED: u64 = 10_000_000;

/// The Prometheus text of the ledger's `/metrics`.
async fn metrics(net: &Net) -> String {
    reqwest::get(format!("{}/metrics", net.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the sample `name` (with its labels, as printed) in Prometheus text.
fn sample(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0, |value| value.trim().parse().unwrap())
}

fn payment(to: &WalletKeys, amount: u64) -> Payment {
    Payment {
        to: to.address(),
        amount: Amount::new(amount),
    }
}

fn transfer(bank: &WalletKeys, notes: &[OwnedNote], payments: &[Payment]) -> Built {
    build_transfer(
        std::slice::from_ref(&bank.spend),
        notes,
        payments,
        &bank.address(),
        &mut OsRng,
    )
    .unwrap()
}

fn redeem(bank: &WalletKeys, notes: &[OwnedNote], amount: u64) -> Built {
    build_redeem(
        std::slice::from_ref(&bank.spend),
        notes,
        Amount::new(amount),
        &bank.address(),
        &mut OsRng,
    )
    .unwrap()
}

fn value(notes: &[OwnedNote]) -> u64 {
    notes.iter().map(|n| n.opening.value().minor_units()).sum()
}

/// The bank's unspent notes, handed out one by one to the transactions of a round.
struct Purse(Vec<OwnedNote>);

impl Purse {
    fn take(&mut self, count: usize) -> Vec<OwnedNote> {
        assert!(self.0.len() >= count, "the purse ran out of notes");
        self.0.split_off(self.0.len() - count)
    }
}

// The forger's tools: what the sender of a spend knows and can compute.

fn spend_mut(tx: &mut Transaction) -> &mut Spend {
    let (Transaction::Transfer(spend) | Transaction::Redeem(spend)) = tx else {
        panic!("not a spend")
    };
    spend
}

fn spend(tx: &Transaction) -> &Spend {
    let (Transaction::Transfer(spend) | Transaction::Redeem(spend)) = tx else {
        panic!("not a spend")
    };
    spend
}

fn b_blinding() -> RistrettoPoint {
    pedersen_gens().B_blinding
}

/// `v·B + r·B̃` for any scalar `v`, negative ones included.
fn commit(v: Scalar, r: Scalar) -> Commitment {
    commitment_of(pedersen_gens().commit(v, r))
}

fn commitment_of(point: RistrettoPoint) -> Commitment {
    Commitment::from_bytes(&point.compress().to_bytes()).expect("not the identity")
}

fn point_of(commitment: &Commitment) -> RistrettoPoint {
    curve25519_dalek::ristretto::CompressedRistretto(commitment.to_bytes())
        .decompress()
        .expect("a valid commitment")
}

/// `Σ r_in − Σ r_out` of a built spend from `notes`: the kernel's secret.
fn kernel_secret(notes: &[OwnedNote], built: &Built) -> Scalar {
    let r_in: Scalar = notes.iter().map(|n| n.opening.blinding()).sum();
    let r_out: Scalar = built.outputs.iter().map(|o| o.opening.blinding()).sum();
    r_in - r_out
}

/// The message input `index`'s owner signs: `digest ‖ index as u32 LE`.
fn owner_message(digest: &[u8; 32], index: usize) -> [u8; 36] {
    let mut message = [0u8; 36];
    message[..32].copy_from_slice(digest);
    message[32..].copy_from_slice(&u32::try_from(index).unwrap().to_le_bytes());
    message
}

/// A Schnorr signature over `B̃` with secret `e` (`cbdc.schnorr.v1`, purpose
/// `kernel`), as the ledger defines the kernel signature.
fn kernel_signature(e: &Scalar, message: &[u8]) -> Signature {
    let g = b_blinding();
    let public = (e * g).compress();
    let k = Scalar::random(&mut OsRng);
    let r = (k * g).compress();
    let mut t = Transcript::new(b"cbdc.schnorr.v1");
    t.append_message(b"purpose", b"kernel");
    t.append_message(b"G", g.compress().as_bytes());
    t.append_message(b"P", public.as_bytes());
    t.append_message(b"message", message);
    t.append_message(b"R", r.as_bytes());
    let mut wide = [0u8; 64];
    t.challenge_bytes(b"c", &mut wide);
    let s = k + Scalar::from_bytes_mod_order_wide(&wide) * e;
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(r.as_bytes());
    bytes[32..].copy_from_slice(s.as_bytes());
    Signature::from_bytes(&bytes).expect("canonical")
}

/// Re-signs a tampered spend as its author: the kernel with `e`, every input by `owner`.
fn resign(tx: &mut Transaction, e: &Scalar, owner: &SecretKey) {
    let digest = tx.digest();
    let kernel = kernel_signature(e, &digest);
    let spend = spend_mut(tx);
    spend.kernel.signature = kernel;
    for index in 0..spend.inputs.len() {
        spend.owner_signatures[index] =
            owner.sign(Purpose::Owner, &owner_message(&digest, index), &mut OsRng);
    }
}

/// `signature` with `s + delta` in place of `s`.
fn shifted(signature: &Signature, delta: &Scalar) -> Signature {
    let mut bytes = signature.to_bytes();
    let mut s = [0u8; 32];
    s.copy_from_slice(&bytes[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)).unwrap() + delta;
    bytes[32..].copy_from_slice(s.as_bytes());
    Signature::from_bytes(&bytes).unwrap()
}

fn excess_of(point: RistrettoPoint) -> Excess {
    Excess::from_bytes(&point.compress().to_bytes()).expect("not the identity")
}

/// A forged transaction and the code the ledger must answer it with.
struct Forgery {
    what: &'static str,
    tx: Transaction,
    code: &'static str,
    /// The real notes it tries to spend: they must stay unspent.
    notes: Vec<NoteId>,
}

/// What a round submits, in the order it goes out.
enum Submission<'a> {
    Honest(&'a Built),
    Forged(&'a Forgery),
}

/// One round: honest transactions of every shape and forgeries, each from notes
/// of its own. Returns (honest, forgeries, amount the honest redeems burn).
fn round(
    bank: &WalletKeys,
    purse: &mut Purse,
    customer: &WalletKeys,
) -> (Vec<Built>, Vec<Forgery>, u64) {
    let mut honest = Vec::new();
    let mut redeemed = 0;
    // Transfers of 1 to 16 outputs: aggregations of 1, 2, 4, 8 and 16 values,
    // padded from 3, 5–7 and 9–15.
    for outputs in 1..=16 {
        let notes = purse.take(1);
        let payments: Vec<Payment> = if outputs == 1 {
            vec![payment(customer, value(&notes))]
        } else {
            (1..outputs).map(|k| payment(customer, 100 + k)).collect()
        };
        let built = transfer(bank, &notes, &payments);
        assert_eq!(
            u64::try_from(spend(&built.tx).outputs.len()).unwrap(),
            outputs
        );
        honest.push(built);
    }
    // Transfers spending several notes.
    for inputs in [2, 2, 2, 2, 3, 3] {
        let notes = purse.take(inputs);
        let built = transfer(bank, &notes, &[payment(customer, value(&notes) - 50)]);
        assert_eq!(built.tx.inputs().len(), inputs);
        honest.push(built);
    }
    // Redeems with change, and redeems of whole notes (no outputs, no proof).
    for _ in 0..5 {
        let notes = purse.take(1);
        let amount = value(&notes) - 1_000;
        honest.push(redeem(bank, &notes, amount));
        redeemed += amount;
    }
    for inputs in [1, 1, 1, 1, 2] {
        let notes = purse.take(inputs);
        let amount = value(&notes);
        let built = redeem(bank, &notes, amount);
        assert!(spend(&built.tx).outputs.is_empty());
        honest.push(built);
        redeemed += amount;
    }
    assert_eq!(honest.len(), HONEST_PER_ROUND);

    let stranger = SecretKey::generate(&mut OsRng);
    let mut forged = Vec::new();
    let mut forge = |what, tx, code, notes: &[OwnedNote]| {
        forged.push(Forgery {
            what,
            tx,
            code,
            notes: notes.iter().map(|n| n.id).collect(),
        })
    };
    // Built honestly from fresh notes, then tampered with.
    let mut fresh = |outputs: u64, inputs: usize| {
        let notes = purse.take(inputs);
        // Small payments and change; with several notes, the first payment needs
        // them all.
        let mut amounts: Vec<u64> = (1..outputs).map(|k| 200 + k).collect();
        if inputs > 1 {
            amounts[0] = value(&notes) - 50 - amounts[1..].iter().sum::<u64>();
        }
        let payments: Vec<Payment> = amounts.iter().map(|&a| payment(customer, a)).collect();
        let built = transfer(bank, &notes, &payments);
        assert_eq!(built.tx.inputs().len(), inputs);
        let e = kernel_secret(&notes, &built);
        (notes, built, e)
    };

    let (notes, built, _) = fresh(2, 1);
    let mut tx = built.tx.clone();
    let digest = tx.digest();
    spend_mut(&mut tx).owner_signatures[0] =
        stranger.sign(Purpose::Owner, &owner_message(&digest, 0), &mut OsRng);
    forge(
        "an input signed by a stranger",
        tx,
        "bad_owner_signature",
        &notes,
    );

    let (notes, built, _) = fresh(2, 2);
    let mut tx = built.tx.clone();
    spend_mut(&mut tx).owner_signatures.swap(0, 1);
    forge(
        "owner signatures swapped",
        tx,
        "bad_owner_signature",
        &notes,
    );

    let (notes, built, _) = fresh(3, 1);
    let mut tx = built.tx.clone();
    spend_mut(&mut tx).kernel.signature = spend(&honest[2].tx).kernel.signature;
    forge(
        "another transaction's kernel signature",
        tx,
        "bad_kernel_signature",
        &notes,
    );

    let (notes, built, e) = fresh(3, 1);
    let mut tx = built.tx.clone();
    let opening = &built.outputs[0].opening;
    spend_mut(&mut tx).outputs[0].commitment = commit(
        Scalar::from(opening.value().minor_units() + 1_000),
        *opening.blinding(),
    );
    let inputs: RistrettoPoint = notes.iter().map(|n| n.opening.commit_point()).sum();
    let outputs: RistrettoPoint = spend(&tx)
        .outputs
        .iter()
        .map(|o| point_of(&o.commitment))
        .sum();
    spend_mut(&mut tx).kernel.excess = excess_of(inputs - outputs);
    resign(&mut tx, &e, &bank.spend);
    forge(
        "a bigger output with the excess recomputed, signed by the sender",
        tx,
        "bad_kernel_signature",
        &notes,
    );

    // Five outputs: the proof of the honest five-output transfer of this round.
    let (notes, built, e) = fresh(5, 1);
    let mut tx = built.tx.clone();
    spend_mut(&mut tx).range_proof = spend(&honest[4].tx).range_proof.clone();
    resign(&mut tx, &e, &bank.spend);
    forge(
        "a range proof from another transaction, re-signed",
        tx,
        "bad_range_proof",
        &notes,
    );

    let (notes, built, e) = fresh(9, 1);
    let mut tx = built.tx.clone();
    spend_mut(&mut tx).outputs.swap(0, 8);
    resign(&mut tx, &e, &bank.spend);
    forge("outputs swapped, re-signed", tx, "bad_range_proof", &notes);

    let (notes, built, e) = fresh(2, 1);
    let mut tx = built.tx.clone();
    let (first, second) = (&built.outputs[0].opening, &built.outputs[1].opening);
    let stolen = first.value().minor_units() + second.value().minor_units() + 1;
    spend_mut(&mut tx).outputs[0].commitment = commit(Scalar::from(stolen), *first.blinding());
    spend_mut(&mut tx).outputs[1].commitment = commit(-Scalar::ONE, *second.blinding());
    resign(&mut tx, &e, &bank.spend);
    forge(
        "a negative output under the original proof, re-signed",
        tx,
        "bad_range_proof",
        &notes,
    );

    let (notes, built, e) = fresh(3, 1);
    let mut tx = built.tx.clone();
    let rho = Scalar::random(&mut OsRng);
    let mut extra = spend(&tx).outputs[0].clone();
    extra.commitment = commitment_of(rho * b_blinding());
    spend_mut(&mut tx).outputs.push(extra);
    spend_mut(&mut tx).kernel.excess = excess_of((e - rho) * b_blinding());
    resign(&mut tx, &(e - rho), &bank.spend);
    forge(
        "a fourth output in a 3-output proof's padding slot",
        tx,
        "bad_range_proof",
        &notes,
    );

    let (notes, built, e) = fresh(7, 1);
    let mut tx = built.tx.clone();
    let delta = Scalar::random(&mut OsRng);
    let output = &mut spend_mut(&mut tx).outputs[3];
    output.commitment = commitment_of(point_of(&output.commitment) + delta * b_blinding());
    spend_mut(&mut tx).kernel.excess = excess_of((e - delta) * b_blinding());
    resign(&mut tx, &(e - delta), &bank.spend);
    forge(
        "an output re-blinded, the excess moved to match",
        tx,
        "bad_range_proof",
        &notes,
    );

    // Errors that cancel in an unweighted sum of the checks.
    let delta = Scalar::random(&mut OsRng);
    for sign in [delta, -delta] {
        let (notes, built, _) = fresh(2, 1);
        let mut tx = built.tx.clone();
        let kernel = spend(&tx).kernel.signature;
        spend_mut(&mut tx).kernel.signature = shifted(&kernel, &sign);
        forge(
            "kernel signatures off by +d and -d",
            tx,
            "bad_kernel_signature",
            &notes,
        );
    }
    for sign in [delta, -delta] {
        let (notes, built, _) = fresh(4, 1);
        let mut tx = built.tx.clone();
        let owner = spend(&tx).owner_signatures[0];
        spend_mut(&mut tx).owner_signatures[0] = shifted(&owner, &sign);
        forge(
            "owner signatures off by +d and -d",
            tx,
            "bad_owner_signature",
            &notes,
        );
    }

    // The books do not balance: a note claimed at more than it holds, a redeem
    // burning one more than it spends.
    let notes = purse.take(1);
    let inflated = OwnedNote {
        opening: Opening::new(
            Amount::new(value(&notes) + 5_000),
            *notes[0].opening.blinding(),
        ),
        ..notes[0].clone()
    };
    let built = transfer(
        bank,
        &[inflated],
        &[payment(customer, value(&notes) + 4_000)],
    );
    forge(
        "a note claimed at more than it holds",
        built.tx,
        "unbalanced",
        &notes,
    );
    let notes = purse.take(1);
    let built = redeem(bank, &notes, value(&notes) - 10);
    let mut tx = built.tx.clone();
    let burned = spend(&tx).burned.minor_units();
    spend_mut(&mut tx).burned = Amount::new(burned + 1);
    resign(&mut tx, &kernel_secret(&notes, &built), &bank.spend);
    forge(
        "a redeem burning one more than it spends",
        tx,
        "unbalanced",
        &notes,
    );

    let invented = OwnedNote {
        id: NoteId(rand::random()),
        owner: bank.spend.public_key(),
        opening: Opening::new(Amount::new(500), Scalar::random(&mut OsRng)),
    };
    let built = transfer(bank, &[invented], &[payment(customer, 100)]);
    forge("a note that does not exist", built.tx, "unknown_input", &[]);

    (honest, forged, redeemed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forgeries_among_concurrent_honest_transactions_get_their_codes_and_the_rest_commit() {
    let net = Net::start().await;
    let client = net.bank_client();
    let bank = &net.bank;
    let customer = WalletKeys::generate(&mut OsRng);

    // One note fanned out to 16, then to 256: the bank's purse for the rounds.
    let (_, issued) = net.issue(ISSUED).await;
    let first = transfer(
        bank,
        &issued,
        &(0..15)
            .map(|_| payment(bank, ISSUED / 16))
            .collect::<Vec<_>>(),
    );
    client.submit(&first.tx).await.unwrap();
    let level: Vec<OwnedNote> = first.outputs.iter().map(|o| o.owned_note()).collect();
    let fanned: Vec<Built> = level
        .iter()
        .map(|note| {
            let each = note.opening.value().minor_units() / 16;
            let payments: Vec<Payment> = (0..15).map(|_| payment(bank, each)).collect();
            transfer(bank, std::slice::from_ref(note), &payments)
        })
        .collect();
    for receipt in join_all(fanned.iter().map(|b| client.submit(&b.tx))).await {
        receipt.unwrap();
    }
    let mut purse = Purse(
        fanned
            .iter()
            .flat_map(|b| b.outputs.iter().map(|o| o.owned_note()))
            .collect(),
    );
    assert_eq!(purse.0.len(), 256);

    let ledger_key = net.block_key.public_key();
    let mut redeemed = 0;
    let mut expected_rejections: std::collections::BTreeMap<&str, u64> = Default::default();
    let before = metrics(&net).await;
    for round_number in 0..ROUNDS {
        let (honest, forged, burned) = round(bank, &mut purse, &customer);
        redeemed += burned;
        // Every forgery between honest transactions, all in flight at once.
        let mut order: Vec<Submission> = Vec::new();
        let mut forgeries = forged.iter();
        for (i, built) in honest.iter().enumerate() {
            order.push(Submission::Honest(built));
            if i % 2 == 1 {
                order.extend(forgeries.next().map(Submission::Forged));
            }
        }
        order.extend(forgeries.map(Submission::Forged));
        let answers: Vec<Result<Receipt, ClientError>> = join_all(order.iter().map(|submission| {
            client.submit(match submission {
                Submission::Honest(built) => &built.tx,
                Submission::Forged(forgery) => &forgery.tx,
            })
        }))
        .await;
        for (submission, answer) in order.iter().zip(answers) {
            match (submission, answer) {
                (Submission::Honest(built), answer) => {
                    let receipt = answer.unwrap_or_else(|e| {
                        panic!("round {round_number}: an honest transaction: {e}")
                    });
                    assert_eq!(receipt.tx_id, built.id);
                    receipt.verify(&ledger_key).unwrap();
                }
                (Submission::Forged(forgery), Err(ClientError::Api { status, code, .. })) => {
                    assert_eq!(
                        (status, code.as_str()),
                        (422, forgery.code),
                        "round {round_number}: {}",
                        forgery.what
                    );
                    *expected_rejections.entry(forgery.code).or_default() += 1;
                }
                (Submission::Forged(forgery), other) => panic!(
                    "round {round_number}: {} was answered {other:?}",
                    forgery.what
                ),
            }
        }
        // What the forgeries tried to spend is still there; what the honest spent is gone.
        for forgery in &forged {
            for id in &forgery.notes {
                let note = client.note(id).await.unwrap();
                assert_eq!(note["spent"], false, "{}", forgery.what);
            }
        }
        for built in &honest {
            for id in &built.spent {
                assert_eq!(client.note(id).await.unwrap()["spent"], true);
            }
        }
    }

    // The forgeries met the batch check: verification batches held several
    // transactions, and the ledger counted each rejection under its reason.
    let after = metrics(&net).await;
    let several = |metrics: &str| {
        sample(metrics, "cbdc_ledger_verify_batch_size_count")
            - sample(metrics, "cbdc_ledger_verify_batch_size_bucket{le=\"1\"}")
    };
    assert!(
        several(&after) > several(&before),
        "no verification batch held more than one transaction:\n{after}"
    );
    for (code, count) in &expected_rejections {
        let name = format!("cbdc_ledger_transactions_rejected_total{{reason=\"{code}\"}}");
        assert_eq!(
            sample(&after, &name) - sample(&before, &name),
            *count,
            "{code}"
        );
    }

    let report = net.audit_ok().await;
    assert_eq!(report["issued"], ISSUED);
    assert_eq!(report["redeemed"], redeemed);
    assert_eq!(report["outstanding"], ISSUED - redeemed);
}

//! Random histories against a reference model, and the supply audit.
//!
//! A history issues money to a few owners, moves it among them with transfers of
//! one to three payments, and redeems some of it. The reference model is plain
//! integers: the value of every unspent note and the balance of every owner. After
//! every step the ledger (built and verified by the crate) must agree with it:
//!
//! - the builder refuses exactly the requests the model says cannot be paid;
//! - each transaction verifies, and verifying it again is a spent input;
//! - each owner, opening the memos on the ledger with its view key, holds notes
//!   that sum to its model balance (and nobody else can open them);
//! - the supply audit holds and proves the model's outstanding amount.
//!
//! At the end, a ledger that changed one stored commitment, dropped a kernel or
//! counted a spent note fails the audit.

mod common;

use common::*;
use curve25519_dalek::scalar::Scalar;
use ledger_core::commitment::pedersen_gens;
use ledger_core::tx::{PublicBlinding, INPUTS_MAX};
use ledger_core::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::RefCell;
use std::collections::HashMap;

const OWNERS: usize = 4;

#[derive(Debug, Clone)]
enum Step {
    /// Outputs `(owner, amount)`.
    Issue(Vec<(usize, u64)>),
    /// Payments `(to, share)`: each pays `1 + share mod (balance / n + 2)`, so some
    /// requests exceed the balance.
    Transfer {
        from: usize,
        payments: Vec<(usize, u64)>,
    },
    /// Redeems `1 + share mod (balance + 2)`.
    Redeem {
        from: usize,
        share: u64,
    },
    RedeemAll {
        from: usize,
    },
}

fn issue_step() -> impl Strategy<Value = Step> {
    proptest::collection::vec((0..OWNERS, 1..=1_000_000_000u64), 1..=3).prop_map(Step::Issue)
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => issue_step(),
        4 => (0..OWNERS, proptest::collection::vec((0..OWNERS, any::<u64>()), 1..=3))
            .prop_map(|(from, payments)| Step::Transfer { from, payments }),
        2 => (0..OWNERS, any::<u64>()).prop_map(|(from, share)| Step::Redeem { from, share }),
        1 => (0..OWNERS).prop_map(|from| Step::RedeemAll { from }),
    ]
}

fn history() -> impl Strategy<Value = (u64, Vec<Step>)> {
    (
        any::<u64>(),
        issue_step(),
        proptest::collection::vec(step(), 1..=7),
    )
        .prop_map(|(seed, first, rest)| {
            let mut steps = vec![first];
            steps.extend(rest);
            (seed, steps)
        })
}

/// The reference model: plain integers.
#[derive(Default)]
struct Model {
    notes: HashMap<NoteId, (usize, u64)>,
    balance: [u64; OWNERS],
    issued: u64,
    redeemed: u64,
}

impl Model {
    /// What the builder must answer when `from` asks to pay `needed`.
    fn expected_selection(&self, from: usize, needed: u64) -> Result<(), BuildError> {
        if needed > self.balance[from] {
            return Err(BuildError::InsufficientFunds {
                available: Amount::new(self.balance[from]),
                needed: Amount::new(needed),
            });
        }
        let mut values: Vec<u64> = self
            .notes
            .values()
            .filter(|(owner, _)| *owner == from)
            .map(|(_, v)| *v)
            .collect();
        values.sort_unstable_by(|a, b| b.cmp(a));
        let mut total = 0u64;
        let count = values
            .iter()
            .take_while(|&&v| {
                let short = total < needed;
                total += v;
                short
            })
            .count();
        if count > INPUTS_MAX {
            return Err(BuildError::TooManyInputs);
        }
        Ok(())
    }
}

/// What the histories exercised, so the property cannot pass vacuously.
#[derive(Debug, Default)]
struct Outcomes {
    transfers: usize,
    redeems: usize,
    /// Spends with three or more outputs (a padded range proof).
    multi_output: usize,
    refused: usize,
}

impl Outcomes {
    fn add(&mut self, other: &Outcomes) {
        self.transfers += other.transfers;
        self.redeems += other.redeems;
        self.multi_output += other.multi_output;
        self.refused += other.refused;
    }
}

struct World {
    outcomes: Outcomes,
    fx: Fixture,
    wallets: Vec<WalletKeys>,
    owner_of: HashMap<PublicKey, usize>,
    /// The notes each owner has opened and not spent.
    held: Vec<Vec<OwnedNote>>,
    model: Model,
    issues: u64,
}

impl World {
    fn new(seed: u64) -> World {
        let mut fx = Fixture::new(seed);
        let wallets: Vec<WalletKeys> = (0..OWNERS).map(|_| fx.wallet()).collect();
        let owner_of = wallets
            .iter()
            .enumerate()
            .map(|(i, w)| (w.spend.public_key(), i))
            .collect();
        World {
            outcomes: Outcomes::default(),
            fx,
            wallets,
            owner_of,
            held: vec![Vec::new(); OWNERS],
            model: Model::default(),
            issues: 0,
        }
    }

    /// Mostly an owner with money (so most spends happen), sometimes anyone (so
    /// some are refused).
    fn payer(&self, from: usize) -> usize {
        let funded: Vec<usize> = (0..OWNERS).filter(|&o| self.model.balance[o] > 0).collect();
        if funded.is_empty() || from == 0 {
            from
        } else {
            funded[from % funded.len()]
        }
    }

    fn run(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let step = match step.clone() {
            Step::Transfer { from, payments } => Step::Transfer {
                from: self.payer(from),
                payments,
            },
            Step::Redeem { from, share } => Step::Redeem {
                from: self.payer(from),
                share,
            },
            Step::RedeemAll { from } => Step::RedeemAll {
                from: self.payer(from),
            },
            issue => issue,
        };
        match &step {
            Step::Issue(outputs) => self.issue(outputs),
            Step::Transfer { from, payments } => {
                let n = u64::try_from(payments.len()).unwrap();
                let cap = self.model.balance[*from] / n + 2;
                let payments: Vec<(usize, u64)> = payments
                    .iter()
                    .map(|&(to, share)| (to, 1 + share % cap))
                    .collect();
                self.spend(*from, &payments, 0)
            }
            Step::Redeem { from, share } => {
                let amount = 1 + share % (self.model.balance[*from] + 2);
                self.spend(*from, &[], amount)
            }
            Step::RedeemAll { from } => {
                let amount = self.model.balance[*from];
                if amount == 0 {
                    let refused = build_redeem(
                        &[self.wallets[*from].spend.clone()],
                        &self.held[*from],
                        Amount::ZERO,
                        &self.wallets[*from].address(),
                        &mut self.fx.rng,
                    );
                    prop_assert_eq!(refused.unwrap_err(), BuildError::ZeroAmount);
                    self.outcomes.refused += 1;
                    return Ok(());
                }
                self.spend(*from, &[], amount)
            }
        }
    }

    fn issue(&mut self, outputs: &[(usize, u64)]) -> Result<(), TestCaseError> {
        self.issues += 1;
        let mut reference = [0u8; 32];
        reference[..8].copy_from_slice(&self.issues.to_le_bytes());
        let outputs: Vec<(PublicKey, Amount)> = outputs
            .iter()
            .map(|&(to, v)| (self.wallets[to].spend.public_key(), Amount::new(v)))
            .collect();
        let mut issue = build_issue(IssueReference(reference), &outputs, &mut self.fx.rng).unwrap();
        issue.sign(&self.fx.officers[2], &mut self.fx.rng);
        issue.sign(&self.fx.officers[0], &mut self.fx.rng);
        let tx = Transaction::Issue(issue.clone());
        prop_assert_eq!(self.fx.ledger.submit(&tx), Ok(()));
        for (note, owned) in tx.created_notes().iter().zip(issue.owned_notes()) {
            let owner = self.owner_of[&note.owner];
            let value = owned.opening.value().minor_units();
            prop_assert!(owned.opening.opens(&note.commitment));
            self.model.notes.insert(note.id, (owner, value));
            self.model.balance[owner] += value;
            self.model.issued += value;
            self.held[owner].push(owned);
        }
        Ok(())
    }

    /// A transfer of `payments` (when `burned` is 0) or a redeem of `burned`.
    fn spend(
        &mut self,
        from: usize,
        payments: &[(usize, u64)],
        burned: u64,
    ) -> Result<(), TestCaseError> {
        let needed = burned + payments.iter().map(|(_, v)| v).sum::<u64>();
        let keys = [self.wallets[from].spend.clone()];
        let change_to = self.wallets[from].address();
        let built = if burned == 0 {
            let payments: Vec<Payment> = payments
                .iter()
                .map(|&(to, v)| Payment {
                    to: self.wallets[to].address(),
                    amount: Amount::new(v),
                })
                .collect();
            build_transfer(
                &keys,
                &self.held[from],
                &payments,
                &change_to,
                &mut self.fx.rng,
            )
        } else {
            build_redeem(
                &keys,
                &self.held[from],
                Amount::new(burned),
                &change_to,
                &mut self.fx.rng,
            )
        };
        let expected = self.model.expected_selection(from, needed);
        let built = match (built, expected) {
            (Ok(built), Ok(())) => built,
            (Err(got), Err(expected)) => {
                prop_assert_eq!(got, expected);
                self.outcomes.refused += 1;
                return Ok(());
            }
            (got, expected) => {
                return Err(TestCaseError::fail(format!(
                    "builder said {:?}, model expected {expected:?}",
                    got.map(|b| b.id)
                )))
            }
        };
        let tx = &built.tx;
        match tx {
            Transaction::Transfer(_) => self.outcomes.transfers += 1,
            _ => self.outcomes.redeems += 1,
        }
        if built.outputs.len() >= 3 {
            self.outcomes.multi_output += 1;
        }
        let decoded = Transaction::decode(&tx.encode());
        prop_assert_eq!(decoded.as_ref(), Ok(tx));
        prop_assert_eq!(self.fx.ledger.submit(tx), Ok(()));
        prop_assert_eq!(
            self.fx.ledger.verify(tx),
            Err(Rejection::SpentInput { index: 0 })
        );

        // The model: inputs were the payer's, outputs are the payments and the change.
        let mut spent_value = 0;
        for id in tx.inputs() {
            let (owner, value) = self.model.notes.remove(id).expect("a note of the model");
            prop_assert_eq!(owner, from);
            spent_value += value;
        }
        let mut expected_outputs: Vec<(usize, u64)> = payments.to_vec();
        if spent_value > needed {
            expected_outputs.push((from, spent_value - needed));
        }
        let mut outputs: Vec<(usize, u64)> = built
            .outputs
            .iter()
            .map(|o| (self.owner_of[&o.to.spend], o.opening.value().minor_units()))
            .collect();
        expected_outputs.sort_unstable();
        outputs.sort_unstable();
        prop_assert_eq!(outputs, expected_outputs);
        self.model.balance[from] -= needed;
        for (to, v) in payments {
            self.model.balance[*to] += v;
        }
        self.model.redeemed += burned;

        // The owners: the payer forgets what it spent, everybody scans the new notes.
        self.held[from].retain(|n| !built.spent.contains(&n.id));
        for note in tx.created_notes() {
            let memo = note.memo.expect("spend outputs carry memos");
            let owner = self.owner_of[&note.owner];
            for (w, wallet) in self.wallets.iter().enumerate() {
                let opened = memo.open(&wallet.view, &note.commitment);
                if w == owner {
                    let opening = opened.expect("the owner opens its memo");
                    self.model
                        .notes
                        .insert(note.id, (owner, opening.value().minor_units()));
                    self.held[owner].push(OwnedNote {
                        id: note.id,
                        owner: note.owner,
                        opening,
                    });
                } else {
                    prop_assert_eq!(opened.unwrap_err(), MemoError::DoesNotDecrypt);
                }
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let supply = self.fx.ledger.audit().finish();
        let outstanding: u64 = self.model.balance.iter().sum();
        prop_assert_eq!(
            supply,
            Ok(Supply {
                issued: u128::from(self.model.issued),
                redeemed: u128::from(self.model.redeemed),
                outstanding: Amount::new(outstanding),
                unspent_notes: u64::try_from(self.model.notes.len()).unwrap(),
            })
        );
        for (owner, notes) in self.held.iter().enumerate() {
            let opened: u64 = notes.iter().map(|n| n.opening.value().minor_units()).sum();
            prop_assert_eq!(opened, self.model.balance[owner], "owner {}", owner);
            for note in notes {
                let stored = &self.fx.ledger.notes[&note.id];
                prop_assert!(!stored.spent);
                prop_assert!(note.opening.opens(&stored.commitment));
                prop_assert_eq!(
                    self.model.notes[&note.id],
                    (owner, note.opening.value().minor_units())
                );
            }
        }
        let held: usize = self.held.iter().map(Vec::len).sum();
        prop_assert_eq!(held, self.model.notes.len());
        Ok(())
    }

    /// A ledger that lost or changed anything fails the audit.
    fn tampered_ledgers_fail(&mut self) -> Result<(), TestCaseError> {
        let ledger = &mut self.fx.ledger;
        let first_unspent = ledger.unspent().next().map(|(id, n)| (*id, n.commitment));
        if let Some((id, original)) = first_unspent {
            let one_more = point(original.as_bytes()) + pedersen_gens().B;
            ledger.notes.get_mut(&id).unwrap().commitment = commitment_of(one_more);
            prop_assert_eq!(ledger.audit().finish(), Err(AuditError::Mismatch));
            let other = commit(Scalar::from(5u64), Scalar::from(6u64));
            ledger.notes.get_mut(&id).unwrap().commitment = other;
            prop_assert_eq!(ledger.audit().finish(), Err(AuditError::Mismatch));
            ledger.notes.get_mut(&id).unwrap().commitment = original;
            prop_assert!(ledger.audit().finish().is_ok());
        }
        if !ledger.kernels.is_empty() {
            let kernel = ledger.kernels.remove(0);
            prop_assert_eq!(ledger.audit().finish(), Err(AuditError::Mismatch));
            ledger.kernels.push(kernel);
            prop_assert!(ledger.audit().finish().is_ok());
        }
        if let Some(id) = ledger
            .notes
            .iter()
            .find(|(_, n)| n.spent)
            .map(|(id, _)| *id)
        {
            ledger.notes.get_mut(&id).unwrap().spent = false;
            prop_assert_eq!(ledger.audit().finish(), Err(AuditError::Mismatch));
            ledger.notes.get_mut(&id).unwrap().spent = true;
        }
        Ok(())
    }
}

#[test]
fn random_histories_verify_and_audit() {
    let mut runner = TestRunner::new(Config::with_cases(32));
    let seen = RefCell::new(Outcomes::default());
    let result = runner.run(&history(), |(seed, steps)| {
        let mut world = World::new(seed);
        for step in &steps {
            world.run(step)?;
            world.check()?;
        }
        world.tampered_ledgers_fail()?;
        let mut seen = seen.borrow_mut();
        seen.add(&world.outcomes);
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The histories did what they are for: many spends, some refusals.
    let seen = seen.into_inner();
    // (Typical counts for 32 cases: 60 transfers, 40 redeems, 35 with three or
    // more outputs, 10 refusals; the bounds are loose so that no seed fails them.)
    assert!(seen.transfers >= 16, "{seen:?}");
    assert!(seen.redeems >= 4, "{seen:?}");
    assert!(seen.multi_output >= 4, "{seen:?}");
    assert!(seen.refused >= 1, "{seen:?}");
}

#[test]
fn partial_audits_merge_to_the_whole() {
    let mut world = World::new(7);
    for step in [
        Step::Issue(vec![(0, 500), (1, 700)]),
        Step::Transfer {
            from: 0,
            payments: vec![(2, 100)],
        },
        Step::Redeem { from: 1, share: 99 },
    ] {
        world.run(&step).unwrap();
    }
    world.check().unwrap();
    let ledger = &world.fx.ledger;
    let whole = ledger.audit().finish().unwrap();
    // Notes, kernels, issues and redemptions in two parts, as from two database pages.
    let mut parts = [SupplyAudit::new(), SupplyAudit::new()];
    for (i, (_, note)) in ledger.unspent().enumerate() {
        parts[i % 2]
            .add_unspent_bytes(note.commitment.as_bytes())
            .unwrap();
    }
    for (i, kernel) in ledger.kernels.iter().enumerate() {
        parts[(i + 1) % 2]
            .add_kernel_bytes(kernel.as_bytes())
            .unwrap();
    }
    for output in &ledger.issued {
        parts[0].add_issuance(output);
    }
    parts[1].add_redemption(ledger.redeemed);
    let [a, b] = parts;
    assert_eq!(a.clone().merge(b.clone()).finish(), Ok(whole));
    assert_eq!(b.merge(a).finish(), Ok(whole));
}

#[test]
fn audit_errors_are_named() {
    assert_eq!(
        SupplyAudit::new().finish(),
        Ok(Supply {
            issued: 0,
            redeemed: 0,
            outstanding: Amount::ZERO,
            unspent_notes: 0
        })
    );
    let zero = PublicBlinding(Scalar::ZERO);
    // Totals are 128-bit: past 2^64 they do not wrap, and only an outstanding
    // amount that does not fit an Amount is an error.
    let mut audit = SupplyAudit::new();
    audit.add_issued(Amount::MAX, &zero);
    audit.add_issued(Amount::new(1), &zero);
    let past = u128::from(u64::MAX) + 1;
    assert_eq!(audit.outstanding(), i128::try_from(past).unwrap());
    assert_eq!(audit.finish(), Err(AuditError::Overflow(past)));

    // Issued past 2^64 and redeemed back below it: no overflow; without the
    // notes the equation (not the arithmetic) fails.
    let mut audit = SupplyAudit::new();
    audit.add_issued(Amount::MAX, &zero);
    audit.add_issued(Amount::new(1), &zero);
    audit.add_redemption(Amount::new(1));
    assert_eq!(audit.outstanding(), i128::from(u64::MAX));
    assert_eq!(audit.finish(), Err(AuditError::Mismatch));

    let mut audit = SupplyAudit::new();
    audit.add_redemption(Amount::MAX);
    audit.add_redemption(Amount::new(1));
    assert_eq!(
        audit.finish(),
        Err(AuditError::RedeemedExceedsIssued {
            issued: 0,
            redeemed: past
        })
    );

    let mut audit = SupplyAudit::new();
    audit.add_issued(Amount::new(5), &zero);
    audit.add_redemption(Amount::new(6));
    assert_eq!(
        audit.finish(),
        Err(AuditError::RedeemedExceedsIssued {
            issued: 5,
            redeemed: 6
        })
    );

    let mut half = SupplyAudit::new();
    half.add_issued(Amount::MAX, &zero);
    assert_eq!(
        half.clone().merge(half).finish(),
        Err(AuditError::Overflow(2 * u128::from(u64::MAX)))
    );

    let mut audit = SupplyAudit::new();
    assert_eq!(
        audit.add_unspent_bytes(&[0; 32]),
        Err(AuditError::BadPoint(PointError::Identity))
    );
    assert_eq!(
        audit.add_unspent_bytes(&[0xff; 32]),
        Err(AuditError::BadPoint(PointError::NonCanonical))
    );
    assert_eq!(
        audit.add_kernel_bytes(&[0; 32]),
        Err(AuditError::BadPoint(PointError::Identity))
    );
    // Refused bytes are not counted.
    assert_eq!(audit.finish().unwrap().unspent_notes, 0);

    // Money from nothing: a note of 10 that no issue accounts for.
    let mut audit = SupplyAudit::new();
    audit.add_unspent(&commit(Scalar::from(10u64), Scalar::from(3u64)));
    audit.add_issued(Amount::new(9), &PublicBlinding(Scalar::from(3u64)));
    assert_eq!(audit.finish(), Err(AuditError::Mismatch));
}

//! A seeded, model-based test of [`Store::apply_batch`], the only write path
//! of the ledger's money.
//!
//! [`Model`] is a plain in-memory reference implementation of apply_batch's
//! contract (module docs of `src/store/apply.rs` and `src/store/mod.rs`):
//! outcomes in batch order; `Duplicate` (with the first location) for an id
//! stored or accepted earlier in the batch; then the shape, in the order of
//! `Malformation`'s variants; amounts above `i64::MAX`; inputs in order
//! (unknown, then already spent, also earlier in the batch or in the same
//! transaction); outputs whose id is already a note (stored or created earlier
//! in the batch, spent or not; the first in output order is named); then the
//! proposal an issue executes. Accepted transactions take consecutive indexes
//! of one block; events are gap-free, per transaction its spends in input
//! order and then its creations in output order; a rejected transaction
//! leaves no trace; a batch with nothing accepted seals nothing.
//!
//! [`Generator`] draws batches of 1–40 transactions from a fixed seed, biased
//! towards what a set-based apply gets wrong: notes spent or created earlier
//! in the same batch, an input repeated within a transaction, unknown inputs
//! (some created later in the batch), output ids that collide with stored
//! notes, with earlier outputs of the batch (of accepted and of rejected
//! transactions) or with the transaction's own inputs, resubmissions (stored,
//! earlier in the batch, with another body, after a rejection), malformed
//! shapes, out-of-range amounts, redeems without change, proposal executions,
//! and batches in which nothing is accepted. After every batch the outcomes,
//! the sealer's draft and everything the store's read paths expose (notes,
//! events, blocks, transactions, the supply snapshot, proposals) must equal
//! the model's.
//!
//! Besides the seeded batches: two taken outputs in one transaction (the
//! first in output order is named, whatever the order of the rows), one batch
//! of thousands of transactions (bulk reads and multi-row writes span several
//! statements), conflicting batches from two threads (the result must be the
//! model's for the commit order the blocks record), and proposals executed
//! in one thread while another cancels them (each ends executed by its
//! accepted issue or cancelled, never both).
//!
//! A failure names the seed and the batch; rerun one seed alone with
//! `cargo test -p ledger-service --test apply_model seed_3`.
//! `the_generator_reaches_every_case` checks, without a database, that the
//! seeds really reach every outcome and every adversarial case above.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use ledger_service::store::{
    ApplyOutcome, BlockDraft, Bytes32, Event, EventKind, Issuance, Malformation, NewNote,
    NewParticipant, NewProposal, NewTransaction, ProposalId, ProposalState, Rejection, Role, Spend,
    Store, StoreError, StoredBlock, StoredNote, StoredTransaction, TxKind, TxLocation,
    UnspentCommitment, NOTES_PER_TRANSACTION_MAX,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use support::{owner, seal, TestDatabase};

/// Batches drawn per seed.
const BATCHES_PER_SEED: usize = 30;
/// Transactions per batch, at most.
const BATCH_LEN_MAX: usize = 40;
/// The seeds of the `seed_N` tests, and of the coverage check.
const SEEDS: [u64; 4] = [1, 2, 3, 4];
/// The largest amount the store accepts.
const I64_MAX: u64 = i64::MAX.unsigned_abs();
/// Distinct owner keys notes are paid to.
const OWNERS: u64 = 5;
const OFFICER: &str = "officer";
const BANK: &str = "bank";

macro_rules! seeded {
    ($($name:ident = $seed:expr),* $(,)?) => {
        $(fn $name(db: &TestDatabase) {
            let store = db.open();
            run(SEEDS[$seed], Some(&store));
        })*
    };
}

seeded!(seed_1 = 0, seed_2 = 1, seed_3 = 2, seed_4 = 3);

on_both_backends!(
    seed_1,
    seed_2,
    seed_3,
    seed_4,
    several_taken_outputs_name_the_first_in_output_order,
    a_large_batch_matches_the_model,
    concurrent_overlapping_batches,
    concurrent_cancellations_and_executions,
);

/// The seeds must really exercise what this file claims to test: the
/// generator is run against the model alone (the store, when it agrees with
/// the model, sees exactly the same batches).
#[test]
fn the_generator_reaches_every_case() {
    let mut coverage = Coverage::default();
    for seed in SEEDS {
        coverage.merge(run(seed, None));
    }
    let mut required: Vec<String> = REQUIRED_CASES.iter().map(|case| case.to_string()).collect();
    required.extend(
        MALFORMATIONS
            .iter()
            .map(|m| format!("rejected Malformed({m:?})")),
    );
    let missing: Vec<&String> = required
        .iter()
        .filter(|case| coverage.count(case) == 0)
        .collect();
    eprintln!("cases reached over all seeds: {:#?}", coverage.0);
    assert!(
        missing.is_empty(),
        "no seed reaches {missing:?}; reached: {:#?}",
        coverage.0
    );
}

const REQUIRED_CASES: &[&str] = &[
    "accepted Issue",
    "accepted Transfer",
    "accepted Redeem",
    "accepted redeem without outputs",
    "accepted issue of i64::MAX",
    "accepted issue executing a proposal",
    "accepted spend of a note created earlier in the batch",
    "accepted after the same id was rejected earlier in the batch",
    "accepted after the same id was rejected in an earlier batch",
    "accepted output id of a transaction rejected earlier in the batch",
    "duplicate of a stored transaction",
    "duplicate of a stored transaction with another body",
    "duplicate of a transaction accepted earlier in the batch",
    "duplicate of a malformed body",
    "rejected AmountOutOfRange",
    "rejected UnknownInput",
    "accepted output id that was an unknown input earlier in the batch",
    "rejected DoubleSpend of a note spent in an earlier batch",
    "rejected DoubleSpend of a note spent earlier in the batch",
    "rejected DoubleSpend of an input repeated in the transaction",
    "rejected OutputExists: a stored note",
    "rejected OutputExists: a note created earlier in the batch",
    "rejected OutputExists: the transaction's own input",
    "rejected OutputExists: several outputs clash",
    "rejected ProposalNotExecutable: unknown",
    "rejected ProposalNotExecutable: wrong amount",
    "rejected ProposalNotExecutable: executed in an earlier batch",
    "rejected ProposalNotExecutable: executed earlier in the batch",
    "rejected ProposalNotExecutable: cancelled",
    "batch with nothing accepted",
    "batch with accepted and rejected transactions",
];

const MALFORMATIONS: [Malformation; 12] = [
    Malformation::IssueWithInputs,
    Malformation::IssueWithoutAmount,
    Malformation::NoInputs,
    Malformation::NoKernel,
    Malformation::UnexpectedKernel,
    Malformation::UnexpectedIssue,
    Malformation::RedeemWithoutAmount,
    Malformation::UnexpectedBurn,
    Malformation::UnexpectedProposal,
    Malformation::NoOutputs,
    Malformation::TooManyNotes,
    Malformation::DuplicateOutput,
];

/// Draws `BATCHES_PER_SEED` batches from `seed` and applies each to the model
/// and, if given, to the store, comparing everything after each batch.
/// Returns what the batches exercised.
fn run(seed: u64, store: Option<&Store>) -> Coverage {
    let started = Instant::now();
    if let Some(store) = store {
        admit_governance(store);
    }
    let mut model = Model::default();
    let mut generator = Generator::new(seed);
    let mut universe = Universe::default();
    let mut coverage = Coverage::default();
    for number in 0..BATCHES_PER_SEED {
        let backend = store.map(Store::backend);
        let context = format!("seed {seed}, batch {number} (backend {backend:?})");
        generator.governance(store, &mut model);
        let (batch, hostile) = generator.batch(&model);
        let height = model.next_height();
        let submitted: BTreeSet<Bytes32> = batch.iter().map(|tx| tx.id).collect();
        match store {
            Some(store) => {
                apply_both(
                    store,
                    &mut model,
                    &mut universe,
                    batch,
                    &mut coverage,
                    &context,
                );
                assert_store_matches(store, &model, &universe, &submitted, &context);
            }
            None => drop(model.apply_batch(&batch, &mut coverage)),
        }
        assert!(
            !hostile || model.next_height() == height,
            "{context}: the generator's hostile batch has an acceptable transaction"
        );
    }
    if let Some(store) = store {
        let context = format!("seed {seed}, after the last batch");
        assert_store_matches(store, &model, &universe, &universe.transactions, &context);
        eprintln!(
            "seed {seed} on {:?}: {BATCHES_PER_SEED} batches, {} blocks, {} transactions \
             stored of {} drawn, {} notes, {} events, in {:?}",
            store.backend(),
            model.blocks.len(),
            model.transactions.len(),
            generator.drawn,
            model.notes.len(),
            model.events.len(),
            started.elapsed()
        );
    }
    coverage
}

/// Applies `batch` to the store and to the model; the outcomes and the
/// drafts given to the sealer must be the model's.
fn apply_both(
    store: &Store,
    model: &mut Model,
    universe: &mut Universe,
    batch: Vec<NewTransaction>,
    coverage: &mut Coverage,
    context: &str,
) -> Vec<ApplyOutcome> {
    universe.add(&batch);
    let (expected, expected_draft) = model.apply_batch(&batch, coverage);
    let mut drafts = Vec::new();
    let outcomes = store
        .apply_batch(batch.clone(), |draft| {
            drafts.push(draft.clone());
            seal(draft)
        })
        .unwrap_or_else(|error| panic!("{context}: apply_batch failed: {error}"));
    assert_outcomes(context, &batch, &outcomes, &expected);
    assert_eq!(
        drafts,
        Vec::from_iter(expected_draft),
        "{context}: the drafts given to the sealer"
    );
    outcomes
}

/// `OutputExists` names the first taken output in output order, whatever the
/// order of the ids, of their insertion or of their last update (the random
/// batches rarely have two taken outputs in one transaction).
fn several_taken_outputs_name_the_first_in_output_order(db: &TestDatabase) {
    let store = db.open();
    let mut rng = StdRng::seed_from_u64(5);
    let mut model = Model::default();
    let mut coverage = Coverage::default();
    let mut universe = Universe::default();
    let mut apply = |batch: Vec<NewTransaction>, model: &mut Model, context: &str| {
        apply_both(&store, model, &mut universe, batch, &mut coverage, context);
    };
    // Created in descending id order; every other one spent (an update moves
    // a PostgreSQL row to the end of its table).
    let taken: Vec<Bytes32> = (1..=6u8).rev().map(|n| [n * 0x20; 32]).collect();
    let spendable = random_id(&mut rng);
    let mut outputs = taken.clone();
    outputs.push(spendable);
    let genesis = new_transaction(&mut rng, TxKind::Issue, Vec::new(), outputs);
    apply(vec![genesis], &mut model, "genesis");
    let spends = taken
        .iter()
        .step_by(2)
        .map(|id| {
            let output = random_id(&mut rng);
            new_transaction(&mut rng, TxKind::Transfer, vec![*id], vec![output])
        })
        .collect();
    apply(spends, &mut model, "spends");

    let mut batch = Vec::new();
    for first in &taken {
        for second in &taken {
            if first != second {
                let outputs = vec![random_id(&mut rng), *first, random_id(&mut rng), *second];
                batch.push(new_transaction(
                    &mut rng,
                    TxKind::Transfer,
                    vec![spendable],
                    outputs,
                ));
            }
        }
    }
    apply(batch, &mut model, "taken outputs");
    assert_store_matches(
        &store,
        &model,
        &universe,
        &universe.transactions,
        "taken outputs",
    );
}

/// One batch of thousands of transactions, so that every bulk read and
/// multi-row write of the batch spans several statements: notes spent and
/// created across the whole batch, a few double spends, unknown inputs and
/// taken outputs among them.
fn a_large_batch_matches_the_model(db: &TestDatabase) {
    const ISSUES: usize = 40;
    const OUTPUTS_PER_ISSUE: usize = 100;
    const TRANSFERS: usize = 2_500;
    let started = Instant::now();
    let store = db.open();
    let mut rng = StdRng::seed_from_u64(6);
    let mut model = Model::default();
    let mut universe = Universe::default();
    let mut coverage = Coverage::default();
    let genesis: Vec<NewTransaction> = (0..ISSUES)
        .map(|_| {
            let outputs = (0..OUTPUTS_PER_ISSUE)
                .map(|_| random_id(&mut rng))
                .collect();
            new_transaction(&mut rng, TxKind::Issue, Vec::new(), outputs)
        })
        .collect();
    let mut stored: Vec<Bytes32> = genesis
        .iter()
        .flat_map(|tx| tx.outputs.iter().map(|note| note.id))
        .collect();
    let context = "large batch, genesis";
    apply_both(
        &store,
        &mut model,
        &mut universe,
        genesis,
        &mut coverage,
        context,
    );

    let mut created: Vec<Bytes32> = Vec::new();
    let mut picked: Vec<Bytes32> = Vec::new();
    let mut batch = Vec::with_capacity(TRANSFERS);
    for _ in 0..TRANSFERS {
        let mut inputs = Vec::new();
        for _ in 0..2 {
            // Mostly good: thousands of notes must be created, spent and
            // numbered in this one batch.
            let input = match rng.gen_range(0..200) {
                0..=1 => picked.choose(&mut rng).copied(),
                2..=3 => None,
                4..=119 => take_random(&mut rng, &mut stored)
                    .or_else(|| take_random(&mut rng, &mut created)),
                _ => take_random(&mut rng, &mut created)
                    .or_else(|| take_random(&mut rng, &mut stored)),
            };
            let input = input.unwrap_or_else(|| random_id(&mut rng));
            picked.push(input);
            inputs.push(input);
        }
        let mut outputs: Vec<Bytes32> = (0..3).map(|_| random_id(&mut rng)).collect();
        if rng.gen_ratio(1, 200) {
            outputs[0] = *picked.choose(&mut rng).expect("picked");
        }
        created.extend(&outputs);
        batch.push(new_transaction(&mut rng, TxKind::Transfer, inputs, outputs));
    }
    let context = "large batch";
    let outcomes = apply_both(
        &store,
        &mut model,
        &mut universe,
        batch,
        &mut coverage,
        context,
    );
    assert_store_matches(&store, &model, &universe, &universe.transactions, context);
    let accepted = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, ApplyOutcome::Accepted(_)))
        .count();
    eprintln!(
        "large batch on {:?}: {accepted} of {TRANSFERS} transfers accepted, {} notes, \
         {} events, in {:?}",
        store.backend(),
        model.notes.len(),
        model.events.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// The reference model.

/// An issuance proposal as the model sees it.
#[derive(Clone, Debug)]
struct ModelProposal {
    amount: u64,
    state: ProposalState,
    executed_by: Option<Bytes32>,
}

/// Opens a proposal of `amount` for the bank: on the store (if any) and in
/// the model alike.
fn open_proposal(store: Option<&Store>, model: &mut Model, id: ProposalId, amount: u64) {
    if let Some(store) = store {
        store
            .create_proposal(&NewProposal {
                id,
                bank_id: BANK.to_owned(),
                amount,
                proposer_id: OFFICER.to_owned(),
                created_at_unix_ms: 1,
            })
            .expect("create proposal");
    }
    model.proposals.insert(
        id.0,
        ModelProposal {
            amount,
            state: ProposalState::Open,
            executed_by: None,
        },
    );
}

/// Everything the store keeps about money, in plain maps.
#[derive(Clone, Debug, Default)]
struct Model {
    notes: BTreeMap<Bytes32, StoredNote>,
    transactions: BTreeMap<Bytes32, StoredTransaction>,
    events: Vec<Event>,
    /// The draft of each block, by height.
    blocks: Vec<BlockDraft>,
    issuances: BTreeMap<Bytes32, Issuance>,
    kernels: BTreeMap<Bytes32, Bytes32>,
    redeemed: u64,
    proposals: BTreeMap<[u8; 16], ModelProposal>,
    /// Ids rejected in some batch, for coverage only.
    ever_rejected: HashSet<Bytes32>,
}

/// What the model remembers of the batch being applied, for coverage only.
#[derive(Default)]
struct BatchMemory {
    created: HashSet<Bytes32>,
    spent: HashSet<Bytes32>,
    rejected_ids: HashSet<Bytes32>,
    rejected_outputs: HashSet<Bytes32>,
    unknown_inputs: HashSet<Bytes32>,
}

impl Model {
    fn next_height(&self) -> u64 {
        u64::try_from(self.blocks.len()).expect("few blocks")
    }

    fn tip_hash(&self) -> Bytes32 {
        self.blocks
            .last()
            .map_or([0; 32], |draft| seal(draft.clone()).hash)
    }

    /// The outcomes of `batch` and the draft of its block, if anything was
    /// accepted; the model moves on to the state after the batch.
    fn apply_batch(
        &mut self,
        batch: &[NewTransaction],
        coverage: &mut Coverage,
    ) -> (Vec<ApplyOutcome>, Option<BlockDraft>) {
        let height = self.next_height();
        let prev_hash = self.tip_hash();
        let mut accepted = Vec::new();
        let mut memory = BatchMemory::default();
        let mut outcomes = Vec::with_capacity(batch.len());
        for tx in batch {
            let location = TxLocation {
                height,
                index: u32::try_from(accepted.len()).expect("small batch"),
            };
            let outcome = self.apply_one(tx, location, &mut memory, coverage);
            if matches!(outcome, ApplyOutcome::Accepted(_)) {
                accepted.push(tx.id);
            }
            outcomes.push(outcome);
        }
        let rejected = outcomes
            .iter()
            .any(|outcome| matches!(outcome, ApplyOutcome::Rejected(_)));
        if accepted.is_empty() {
            coverage.hit("batch with nothing accepted");
            return (outcomes, None);
        }
        if rejected {
            coverage.hit("batch with accepted and rejected transactions");
        }
        let draft = BlockDraft {
            height,
            prev_hash,
            transaction_ids: accepted,
        };
        self.blocks.push(draft.clone());
        (outcomes, Some(draft))
    }

    fn apply_one(
        &mut self,
        tx: &NewTransaction,
        location: TxLocation,
        memory: &mut BatchMemory,
        coverage: &mut Coverage,
    ) -> ApplyOutcome {
        if let Some(stored) = self.transactions.get(&tx.id) {
            if stored.location.height == location.height {
                coverage.hit("duplicate of a transaction accepted earlier in the batch");
            } else {
                coverage.hit("duplicate of a stored transaction");
                if stored.encoded != tx.encoded {
                    coverage.hit("duplicate of a stored transaction with another body");
                }
            }
            if shape(tx).is_err() {
                coverage.hit("duplicate of a malformed body");
            }
            return ApplyOutcome::Duplicate(stored.location);
        }
        match self.verdict(tx) {
            Err(rejection) => {
                self.cover_rejection(tx, &rejection, memory, coverage);
                memory.rejected_ids.insert(tx.id);
                memory
                    .rejected_outputs
                    .extend(tx.outputs.iter().map(|note| note.id));
                self.ever_rejected.insert(tx.id);
                ApplyOutcome::Rejected(rejection)
            }
            Ok(()) => {
                self.cover_acceptance(tx, memory, coverage);
                self.commit(tx, location);
                memory.spent.extend(tx.inputs.iter().copied());
                memory.created.extend(tx.outputs.iter().map(|note| note.id));
                ApplyOutcome::Accepted(location)
            }
        }
    }

    /// Why `tx` (not a duplicate) is rejected in the current state, if it is.
    fn verdict(&self, tx: &NewTransaction) -> Result<(), Rejection> {
        shape(tx).map_err(Rejection::Malformed)?;
        let issued_too_big = tx.issued.is_some_and(|(amount, _)| amount > I64_MAX);
        let burned_too_big = tx.burned.is_some_and(|amount| amount > I64_MAX);
        if issued_too_big || burned_too_big {
            return Err(Rejection::AmountOutOfRange);
        }
        let mut spent_here = HashSet::new();
        for input in &tx.inputs {
            let Some(note) = self.notes.get(input) else {
                return Err(Rejection::UnknownInput(*input));
            };
            if note.spent.is_some() || !spent_here.insert(*input) {
                return Err(Rejection::DoubleSpend(*input));
            }
        }
        if let Some(taken) = tx
            .outputs
            .iter()
            .find(|note| self.notes.contains_key(&note.id))
        {
            return Err(Rejection::OutputExists(taken.id));
        }
        if let Some(proposal) = tx.executes_proposal {
            let amount = tx.issued.map(|(amount, _)| amount);
            let executable = self.proposals.get(&proposal.0).is_some_and(|open| {
                open.state == ProposalState::Open && Some(open.amount) == amount
            });
            if !executable {
                return Err(Rejection::ProposalNotExecutable(proposal));
            }
        }
        Ok(())
    }

    fn next_seq(&self) -> u64 {
        u64::try_from(self.events.len()).expect("few events") + 1
    }

    fn commit(&mut self, tx: &NewTransaction, location: TxLocation) {
        self.transactions.insert(
            tx.id,
            StoredTransaction {
                id: tx.id,
                kind: tx.kind,
                encoded: tx.encoded.clone(),
                location,
            },
        );
        for input in &tx.inputs {
            let seq = self.next_seq();
            let note = self
                .notes
                .get_mut(input)
                .expect("verdict checked the input");
            note.spent = Some(Spend { tx_id: tx.id, seq });
            let owner = note.owner;
            self.events.push(Event {
                seq,
                kind: EventKind::Spent,
                note_id: *input,
                owner,
                tx_id: tx.id,
            });
        }
        for (index, output) in tx.outputs.iter().enumerate() {
            let seq = self.next_seq();
            self.notes.insert(
                output.id,
                StoredNote {
                    id: output.id,
                    owner: output.owner,
                    commitment: output.commitment,
                    memo: output.memo.clone(),
                    created_by: tx.id,
                    output_index: u32::try_from(index).expect("few outputs"),
                    created_seq: seq,
                    spent: None,
                },
            );
            self.events.push(Event {
                seq,
                kind: EventKind::Created,
                note_id: output.id,
                owner: output.owner,
                tx_id: tx.id,
            });
        }
        if let Some(excess) = tx.kernel_excess {
            self.kernels.insert(tx.id, excess);
        }
        if let Some((amount, blinding)) = tx.issued {
            self.issuances.insert(
                tx.id,
                Issuance {
                    tx_id: tx.id,
                    amount,
                    blinding,
                },
            );
        }
        if let Some(burned) = tx.burned {
            self.redeemed = self
                .redeemed
                .checked_add(burned)
                .expect("the generator burns little");
        }
        if let Some(proposal) = tx.executes_proposal {
            let proposal = self
                .proposals
                .get_mut(&proposal.0)
                .expect("verdict checked the proposal");
            proposal.state = ProposalState::Executed;
            proposal.executed_by = Some(tx.id);
        }
    }

    fn cover_rejection(
        &self,
        tx: &NewTransaction,
        rejection: &Rejection,
        memory: &mut BatchMemory,
        coverage: &mut Coverage,
    ) {
        match rejection {
            Rejection::Malformed(malformation) => {
                coverage.hit(format!("rejected Malformed({malformation:?})"))
            }
            Rejection::AmountOutOfRange => coverage.hit("rejected AmountOutOfRange"),
            Rejection::UnknownInput(id) => {
                coverage.hit("rejected UnknownInput");
                memory.unknown_inputs.insert(*id);
            }
            Rejection::DoubleSpend(id) => {
                let spent = self.notes[id].spent.is_some();
                coverage.hit(if !spent {
                    "rejected DoubleSpend of an input repeated in the transaction"
                } else if memory.spent.contains(id) {
                    "rejected DoubleSpend of a note spent earlier in the batch"
                } else {
                    "rejected DoubleSpend of a note spent in an earlier batch"
                });
            }
            Rejection::OutputExists(id) => {
                coverage.hit(if tx.inputs.contains(id) {
                    "rejected OutputExists: the transaction's own input"
                } else if memory.created.contains(id) {
                    "rejected OutputExists: a note created earlier in the batch"
                } else {
                    "rejected OutputExists: a stored note"
                });
                let clashes = tx
                    .outputs
                    .iter()
                    .filter(|note| self.notes.contains_key(&note.id))
                    .count();
                if clashes > 1 {
                    coverage.hit("rejected OutputExists: several outputs clash");
                }
            }
            // The model applies no genesis, so no ceiling is fixed and no
            // genesis entry is written.
            Rejection::SupplyCeiling | Rejection::GenesisMisplaced => {
                panic!("the model writes no governance: {rejection:?}")
            }
            Rejection::ProposalNotExecutable(id) => coverage.hit(match self.proposals.get(&id.0) {
                None => "rejected ProposalNotExecutable: unknown",
                Some(p) if p.state == ProposalState::Executed => {
                    let executor = p.executed_by.and_then(|tx| self.transactions.get(&tx));
                    if executor.is_some_and(|tx| tx.location.height == self.next_height()) {
                        "rejected ProposalNotExecutable: executed earlier in the batch"
                    } else {
                        "rejected ProposalNotExecutable: executed in an earlier batch"
                    }
                }
                Some(p) if p.state == ProposalState::Cancelled => {
                    "rejected ProposalNotExecutable: cancelled"
                }
                Some(_) => "rejected ProposalNotExecutable: wrong amount",
            }),
        }
    }

    fn cover_acceptance(&self, tx: &NewTransaction, memory: &BatchMemory, coverage: &mut Coverage) {
        coverage.hit(format!("accepted {:?}", tx.kind));
        if tx.kind == TxKind::Redeem && tx.outputs.is_empty() {
            coverage.hit("accepted redeem without outputs");
        }
        if tx.issued.is_some_and(|(amount, _)| amount == I64_MAX) {
            coverage.hit("accepted issue of i64::MAX");
        }
        if tx.executes_proposal.is_some() {
            coverage.hit("accepted issue executing a proposal");
        }
        if tx.inputs.iter().any(|id| memory.created.contains(id)) {
            coverage.hit("accepted spend of a note created earlier in the batch");
        }
        if memory.rejected_ids.contains(&tx.id) {
            coverage.hit("accepted after the same id was rejected earlier in the batch");
        } else if self.ever_rejected.contains(&tx.id) {
            coverage.hit("accepted after the same id was rejected in an earlier batch");
        }
        if tx
            .outputs
            .iter()
            .any(|note| memory.rejected_outputs.contains(&note.id))
        {
            coverage.hit("accepted output id of a transaction rejected earlier in the batch");
        }
        if tx
            .outputs
            .iter()
            .any(|note| memory.unknown_inputs.contains(&note.id))
        {
            coverage.hit("accepted output id that was an unknown input earlier in the batch");
        }
    }
}

/// The contract's shape checks, in the order of `Malformation`'s variants.
fn shape(tx: &NewTransaction) -> Result<(), Malformation> {
    let issue = tx.kind == TxKind::Issue;
    let redeem = tx.kind == TxKind::Redeem;
    let checks = [
        (
            issue && !tx.inputs.is_empty(),
            Malformation::IssueWithInputs,
        ),
        (
            issue && tx.issued.is_none(),
            Malformation::IssueWithoutAmount,
        ),
        (!issue && tx.inputs.is_empty(), Malformation::NoInputs),
        (!issue && tx.kernel_excess.is_none(), Malformation::NoKernel),
        (
            issue && tx.kernel_excess.is_some(),
            Malformation::UnexpectedKernel,
        ),
        (!issue && tx.issued.is_some(), Malformation::UnexpectedIssue),
        (
            redeem && tx.burned.is_none(),
            Malformation::RedeemWithoutAmount,
        ),
        (!redeem && tx.burned.is_some(), Malformation::UnexpectedBurn),
        (
            !issue && tx.executes_proposal.is_some(),
            Malformation::UnexpectedProposal,
        ),
        (!redeem && tx.outputs.is_empty(), Malformation::NoOutputs),
        (
            tx.inputs.len() > NOTES_PER_TRANSACTION_MAX
                || tx.outputs.len() > NOTES_PER_TRANSACTION_MAX,
            Malformation::TooManyNotes,
        ),
        (
            tx.outputs
                .iter()
                .map(|note| note.id)
                .collect::<HashSet<_>>()
                .len()
                != tx.outputs.len(),
            Malformation::DuplicateOutput,
        ),
    ];
    match checks.into_iter().find(|(failed, _)| *failed) {
        Some((_, malformation)) => Err(malformation),
        None => Ok(()),
    }
}

/// How often each case was reached.
#[derive(Default)]
struct Coverage(BTreeMap<String, u32>);

impl Coverage {
    fn hit(&mut self, case: impl Into<String>) {
        *self.0.entry(case.into()).or_default() += 1;
    }

    fn count(&self, case: &str) -> u32 {
        self.0.get(case).copied().unwrap_or(0)
    }

    fn merge(&mut self, other: Coverage) {
        for (case, count) in other.0 {
            *self.0.entry(case).or_default() += count;
        }
    }
}

// ---------------------------------------------------------------------------
// The generator.

fn random_id(rng: &mut StdRng) -> Bytes32 {
    rng.gen()
}

fn random_bytes(rng: &mut StdRng, len_max: usize) -> Vec<u8> {
    let len = rng.gen_range(0..=len_max);
    (0..len).map(|_| rng.gen()).collect()
}

fn new_note(rng: &mut StdRng, id: Bytes32) -> NewNote {
    NewNote {
        id,
        owner: owner(rng.gen_range(0..OWNERS)),
        commitment: random_id(rng),
        memo: random_bytes(rng, 8),
    }
}

/// A well-formed transaction of `kind` with fresh id, amounts and kernel.
fn new_transaction(
    rng: &mut StdRng,
    kind: TxKind,
    inputs: Vec<Bytes32>,
    output_ids: Vec<Bytes32>,
) -> NewTransaction {
    let outputs = output_ids.into_iter().map(|id| new_note(rng, id)).collect();
    NewTransaction {
        id: random_id(rng),
        kind,
        encoded: random_bytes(rng, 16),
        inputs,
        outputs,
        kernel_excess: (kind != TxKind::Issue).then(|| random_id(rng)),
        issued: (kind == TxKind::Issue).then(|| (rng.gen_range(0..=1_000_000), random_id(rng))),
        burned: (kind == TxKind::Redeem).then(|| rng.gen_range(0..=1_000_000)),
        executes_proposal: None,
        governance: None,
    }
}

/// Removes and returns a random element.
fn take_random(rng: &mut StdRng, from: &mut Vec<Bytes32>) -> Option<Bytes32> {
    if from.is_empty() {
        return None;
    }
    let at = rng.gen_range(0..from.len());
    Some(from.swap_remove(at))
}

/// Draws batches from a seed, knowing the model's state at the batch's start
/// and what it drew earlier in the batch (but not which of those the store
/// will accept: that is the model's job).
struct Generator {
    rng: StdRng,
    /// Every transaction drawn so far, for resubmission.
    history: Vec<NewTransaction>,
    drawn: usize,
}

/// What the generator knows while drawing one batch.
#[derive(Default)]
struct Draw {
    /// Unspent notes at the batch's start, not yet picked as an input.
    stored_unspent: Vec<Bytes32>,
    /// Notes spent before the batch.
    stored_spent: Vec<Bytes32>,
    /// Every note at the batch's start.
    stored_notes: Vec<Bytes32>,
    /// Inputs drawn earlier in the batch.
    picked: Vec<Bytes32>,
    /// Outputs drawn earlier in the batch, not yet picked as an input.
    created: Vec<Bytes32>,
    /// Every output drawn earlier in the batch.
    outputs: Vec<Bytes32>,
    /// Ids spent before any transaction creates them; a later output may.
    forward: Vec<Bytes32>,
    /// The batch so far.
    txs: Vec<NewTransaction>,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            history: Vec::new(),
            drawn: 0,
        }
    }

    /// Between batches: sometimes a new proposal, sometimes a cancellation,
    /// on the store (if any) and the model alike.
    fn governance(&mut self, store: Option<&Store>, model: &mut Model) {
        if self.rng.gen_ratio(1, 3) {
            let id = ProposalId(self.rng.gen());
            let amount = self.rng.gen_range(1..=1_000);
            open_proposal(store, model, id, amount);
        }
        if self.rng.gen_ratio(1, 6) {
            let open: Vec<[u8; 16]> = model
                .proposals
                .iter()
                .filter(|(_, p)| p.state == ProposalState::Open)
                .map(|(id, _)| *id)
                .collect();
            if let Some(id) = open.choose(&mut self.rng) {
                if let Some(store) = store {
                    store
                        .cancel_proposal(&ProposalId(*id))
                        .expect("cancel proposal");
                }
                model.proposals.get_mut(id).expect("open proposal").state =
                    ProposalState::Cancelled;
            }
        }
    }

    /// A batch, and whether it was drawn to have nothing acceptable.
    fn batch(&mut self, model: &Model) -> (Vec<NewTransaction>, bool) {
        let mut draw = Draw::default();
        for (id, note) in &model.notes {
            draw.stored_notes.push(*id);
            if note.spent.is_some() {
                draw.stored_spent.push(*id);
            } else {
                draw.stored_unspent.push(*id);
            }
        }
        let hostile = !model.notes.is_empty() && self.rng.gen_ratio(1, 8);
        let len = self.rng.gen_range(1..=BATCH_LEN_MAX);
        for _ in 0..len {
            let tx = if hostile {
                self.hostile(&draw, model)
            } else {
                self.transaction(&mut draw, model)
            };
            let ids = tx.outputs.iter().map(|note| note.id);
            draw.outputs.extend(ids.clone());
            draw.created.extend(ids);
            draw.txs.push(tx.clone());
            self.history.push(tx);
        }
        self.drawn += len;
        (draw.txs, hostile)
    }

    fn transaction(&mut self, draw: &mut Draw, model: &Model) -> NewTransaction {
        match self.rng.gen_range(0..100) {
            0..=13 => self.issue(draw),
            14..=18 => self.proposal_issue(draw, model),
            19..=50 => self.transfer(draw, TxKind::Transfer),
            51..=61 => self.transfer(draw, TxKind::Redeem),
            62..=67 if !self.history.is_empty() => {
                // The same id, perhaps with another body (even a malformed one).
                // Often one rejected before that the ledger could accept now.
                let retry: Vec<&NewTransaction> = self
                    .history
                    .iter()
                    .filter(|tx| {
                        model.ever_rejected.contains(&tx.id)
                            && !model.transactions.contains_key(&tx.id)
                            && tx.inputs.iter().all(|input| {
                                model.notes.get(input).is_some_and(|n| n.spent.is_none())
                            })
                    })
                    .collect();
                let from = if !retry.is_empty() && self.rng.gen() {
                    retry
                } else {
                    self.history.iter().collect()
                };
                let mut again = (*from.choose(&mut self.rng).expect("history")).clone();
                if self.rng.gen_ratio(1, 3) {
                    again.encoded = random_bytes(&mut self.rng, 16);
                    for at in 0..again.outputs.len() {
                        let id = self.output_id(draw, &again.inputs);
                        again.outputs[at] = new_note(&mut self.rng, id);
                    }
                    if self.rng.gen() {
                        self.malform(&mut again);
                    }
                }
                again
            }
            68..=74 if !draw.txs.is_empty() => {
                // Often one that spends a note a later transaction created:
                // rejected the first time, perhaps accepted now.
                let waiting: Vec<&NewTransaction> = draw
                    .txs
                    .iter()
                    .enumerate()
                    .filter(|(at, tx)| {
                        draw.txs[at + 1..]
                            .iter()
                            .flat_map(|later| &later.outputs)
                            .any(|note| tx.inputs.contains(&note.id))
                    })
                    .map(|(_, tx)| tx)
                    .collect();
                let from = if !waiting.is_empty() && self.rng.gen() {
                    waiting
                } else {
                    draw.txs.iter().collect()
                };
                (*from.choose(&mut self.rng).expect("batch")).clone()
            }
            75..=86 => {
                let kind = *[TxKind::Issue, TxKind::Transfer, TxKind::Redeem]
                    .choose(&mut self.rng)
                    .expect("kinds");
                let mut tx = if kind == TxKind::Issue {
                    self.issue(draw)
                } else {
                    self.transfer(draw, kind)
                };
                for _ in 0..self.rng.gen_range(1..=2) {
                    self.malform(&mut tx);
                }
                tx
            }
            87..=90 => {
                let too_big = if self.rng.gen() {
                    u64::MAX
                } else {
                    I64_MAX + self.rng.gen_range(1..=1_000)
                };
                if self.rng.gen() {
                    let mut tx = self.issue(draw);
                    tx.issued = tx.issued.map(|(_, blinding)| (too_big, blinding));
                    tx
                } else {
                    let mut tx = self.transfer(draw, TxKind::Redeem);
                    tx.burned = Some(too_big);
                    tx
                }
            }
            _ => self.transfer(draw, TxKind::Transfer),
        }
    }

    fn issue(&mut self, draw: &mut Draw) -> NewTransaction {
        let count = self.rng.gen_range(1..=3);
        let outputs = (0..count).map(|_| self.output_id(draw, &[])).collect();
        let mut tx = new_transaction(&mut self.rng, TxKind::Issue, Vec::new(), outputs);
        if self.rng.gen_ratio(1, 25) {
            tx.issued = tx.issued.map(|(_, blinding)| (I64_MAX, blinding));
        }
        tx
    }

    /// An issue executing a proposal: mostly one the model knows (in any
    /// state), mostly for its amount.
    fn proposal_issue(&mut self, draw: &mut Draw, model: &Model) -> NewTransaction {
        let mut tx = self.issue(draw);
        // Often one that an earlier issue of the batch executes (or tries to).
        let earlier: Vec<([u8; 16], u64)> = draw
            .txs
            .iter()
            .filter_map(|tx| Some((tx.executes_proposal?.0, tx.issued?.0)))
            .collect();
        let known: Vec<([u8; 16], u64)> = model
            .proposals
            .iter()
            .map(|(id, proposal)| (*id, proposal.amount))
            .collect();
        let (id, amount) = match earlier.choose(&mut self.rng) {
            Some(&earlier) if self.rng.gen_ratio(1, 3) => earlier,
            _ => match known.choose(&mut self.rng) {
                Some(&known) if self.rng.gen_ratio(7, 8) => known,
                _ => (self.rng.gen(), 5),
            },
        };
        let amount = if self.rng.gen_ratio(4, 5) {
            amount
        } else {
            amount + 1
        };
        tx.issued = tx.issued.map(|(_, blinding)| (amount, blinding));
        tx.executes_proposal = Some(ProposalId(id));
        tx
    }

    /// A transfer or redeem (which may have no change).
    fn transfer(&mut self, draw: &mut Draw, kind: TxKind) -> NewTransaction {
        let mut inputs = Vec::new();
        for _ in 0..self.rng.gen_range(1..=3) {
            let input = self.input(draw, &inputs);
            inputs.push(input);
        }
        let count = if kind == TxKind::Redeem && self.rng.gen_ratio(1, 3) {
            0
        } else {
            self.rng.gen_range(1..=3)
        };
        let outputs = (0..count).map(|_| self.output_id(draw, &inputs)).collect();
        new_transaction(&mut self.rng, kind, inputs, outputs)
    }

    fn input(&mut self, draw: &mut Draw, so_far: &[Bytes32]) -> Bytes32 {
        let picked = match self.rng.gen_range(0..100) {
            0..=59 => take_random(&mut self.rng, &mut draw.stored_unspent),
            60..=81 => take_random(&mut self.rng, &mut draw.created),
            82..=85 => draw.stored_spent.choose(&mut self.rng).copied(),
            86..=89 => draw.picked.choose(&mut self.rng).copied(),
            90..=92 => so_far.choose(&mut self.rng).copied(),
            93..=95 => {
                let id = random_id(&mut self.rng);
                draw.forward.push(id);
                Some(id)
            }
            _ => None,
        };
        // Unknown when the list drawn from is empty.
        let id = picked.unwrap_or_else(|| random_id(&mut self.rng));
        draw.picked.push(id);
        id
    }

    fn output_id(&mut self, draw: &mut Draw, inputs: &[Bytes32]) -> Bytes32 {
        let taken = match self.rng.gen_range(0..100) {
            0..=2 => draw.stored_notes.choose(&mut self.rng).copied(),
            3..=5 => draw.outputs.choose(&mut self.rng).copied(),
            6..=7 => inputs.choose(&mut self.rng).copied(),
            8..=11 => take_random(&mut self.rng, &mut draw.forward),
            _ => None,
        };
        taken.unwrap_or_else(|| random_id(&mut self.rng))
    }

    /// Breaks one of the fields a kind fixes (or, twice applied, perhaps
    /// repairs it: the model decides).
    fn malform(&mut self, tx: &mut NewTransaction) {
        let rng = &mut self.rng;
        match rng.gen_range(0..11) {
            0 => {
                tx.kind = *[TxKind::Issue, TxKind::Transfer, TxKind::Redeem]
                    .choose(rng)
                    .expect("kinds")
            }
            1 => {
                if tx.inputs.is_empty() {
                    tx.inputs.push(random_id(rng));
                } else {
                    tx.inputs.clear();
                }
            }
            2 => match tx.issued {
                Some(_) => tx.issued = None,
                None => tx.issued = Some((rng.gen_range(1..=100), random_id(rng))),
            },
            3 => match tx.kernel_excess {
                Some(_) => tx.kernel_excess = None,
                None => tx.kernel_excess = Some(random_id(rng)),
            },
            4 => match tx.burned {
                Some(_) => tx.burned = None,
                None => tx.burned = Some(rng.gen_range(0..=100)),
            },
            5 => match tx.executes_proposal {
                Some(_) => tx.executes_proposal = None,
                None => tx.executes_proposal = Some(ProposalId(rng.gen())),
            },
            6 => tx.outputs.clear(),
            7 => {
                while tx.outputs.len() <= NOTES_PER_TRANSACTION_MAX {
                    let id = random_id(rng);
                    tx.outputs.push(new_note(rng, id));
                }
            }
            8 => {
                while tx.inputs.len() <= NOTES_PER_TRANSACTION_MAX {
                    tx.inputs.push(random_id(rng));
                }
            }
            _ => {
                // Same id, other owner and commitment, anywhere in the list.
                let id = match tx.outputs.choose(rng) {
                    Some(note) => note.id,
                    None => {
                        let id = random_id(rng);
                        tx.outputs.push(new_note(rng, id));
                        id
                    }
                };
                let twin = new_note(rng, id);
                let at = rng.gen_range(0..=tx.outputs.len());
                tx.outputs.insert(at, twin);
            }
        }
    }

    /// A transaction no state can accept (or a resubmission of a stored one),
    /// whatever else the batch holds.
    fn hostile(&mut self, draw: &Draw, model: &Model) -> NewTransaction {
        let rng = &mut self.rng;
        let unknown = random_id(rng);
        let fresh = random_id(rng);
        let unspent = draw.stored_unspent.choose(rng).copied();
        let spent = draw.stored_spent.choose(rng).copied();
        let stored_note = draw.stored_notes.choose(rng).copied();
        match rng.gen_range(0..8) {
            0 => new_transaction(rng, TxKind::Transfer, vec![unknown], vec![fresh]),
            1 => {
                let input = spent.unwrap_or(unknown);
                new_transaction(rng, TxKind::Redeem, vec![input], vec![])
            }
            2 => {
                let input = unspent.unwrap_or(unknown);
                new_transaction(rng, TxKind::Transfer, vec![input, input], vec![fresh])
            }
            3 => {
                let stored: Vec<&NewTransaction> = self
                    .history
                    .iter()
                    .filter(|tx| model.transactions.contains_key(&tx.id))
                    .collect();
                match stored.choose(rng) {
                    Some(tx) => (*tx).clone(),
                    None => new_transaction(rng, TxKind::Transfer, vec![unknown], vec![fresh]),
                }
            }
            4 => {
                let mut tx = new_transaction(rng, TxKind::Transfer, vec![unknown], vec![fresh]);
                tx.kernel_excess = None;
                tx
            }
            5 => {
                let mut tx = new_transaction(rng, TxKind::Issue, vec![], vec![fresh]);
                tx.issued = tx.issued.map(|(_, blinding)| (u64::MAX, blinding));
                tx
            }
            6 => {
                let mut tx = new_transaction(rng, TxKind::Issue, vec![], vec![fresh]);
                tx.executes_proposal = Some(ProposalId(rng.gen()));
                tx
            }
            _ => {
                let input = unspent.unwrap_or(unknown);
                let output = stored_note.unwrap_or(unknown);
                new_transaction(rng, TxKind::Transfer, vec![input], vec![fresh, output])
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Comparing the store with the model.

/// Every id any drawn transaction mentioned, so that the store's reads also
/// find what the model lacks (a note of a rejected transaction, say).
#[derive(Default)]
struct Universe {
    notes: BTreeSet<Bytes32>,
    transactions: BTreeSet<Bytes32>,
    proposals: BTreeSet<[u8; 16]>,
}

impl Universe {
    fn add(&mut self, batch: &[NewTransaction]) {
        for tx in batch {
            self.transactions.insert(tx.id);
            self.notes.extend(tx.inputs.iter().copied());
            self.notes.extend(tx.outputs.iter().map(|note| note.id));
            self.proposals.extend(tx.executes_proposal.map(|p| p.0));
        }
    }
}

fn short(id: &[u8]) -> String {
    hex::encode(&id[..6])
}

/// An outcome with its ids shortened.
fn show(outcome: &ApplyOutcome) -> String {
    let rejection = match outcome {
        ApplyOutcome::Rejected(rejection) => rejection,
        other => return format!("{other:?}"),
    };
    let named = match rejection {
        Rejection::UnknownInput(id) => format!("UnknownInput({})", short(id)),
        Rejection::DoubleSpend(id) => format!("DoubleSpend({})", short(id)),
        Rejection::OutputExists(id) => format!("OutputExists({})", short(id)),
        Rejection::ProposalNotExecutable(id) => {
            format!("ProposalNotExecutable({})", short(&id.0))
        }
        other => format!("{other:?}"),
    };
    format!("Rejected({named})")
}

/// A transaction, briefly (a malformed one may have hundreds of notes).
fn describe(tx: &NewTransaction) -> String {
    let list = |ids: Vec<&Bytes32>| -> String {
        let shown: Vec<String> = ids.iter().take(6).map(|id| short(&id[..])).collect();
        format!("{} of {}", shown.join(","), ids.len())
    };
    format!(
        "{} {:?} inputs [{}] outputs [{}] kernel {} issued {:?} burned {:?} proposal {:?}",
        short(&tx.id),
        tx.kind,
        list(tx.inputs.iter().collect()),
        list(tx.outputs.iter().map(|note| &note.id).collect()),
        tx.kernel_excess.is_some(),
        tx.issued.map(|(amount, _)| amount),
        tx.burned,
        tx.executes_proposal.map(|p| short(&p.0)),
    )
}

fn assert_outcomes(
    context: &str,
    batch: &[NewTransaction],
    outcomes: &[ApplyOutcome],
    expected: &[ApplyOutcome],
) {
    assert_eq!(
        outcomes.len(),
        expected.len(),
        "{context}: one outcome per transaction"
    );
    if let Some(at) = (0..outcomes.len()).find(|&at| outcomes[at] != expected[at]) {
        let earlier: Vec<String> = batch[..at]
            .iter()
            .zip(expected)
            .map(|(tx, outcome)| format!("  {} -> {}", describe(tx), show(outcome)))
            .collect();
        panic!(
            "{context}: transaction {at} of {}: store says {}, model says {}\n\
             transaction: {}\nearlier in the batch:\n{}",
            batch.len(),
            show(&outcomes[at]),
            show(&expected[at]),
            describe(&batch[at]),
            earlier.join("\n")
        );
    }
}

/// Compares two lists, reporting the first difference rather than both lists.
fn assert_same_list<T: PartialEq + std::fmt::Debug>(
    context: &str,
    what: &str,
    store: &[T],
    model: &[T],
) {
    if let Some(at) = (0..store.len().min(model.len())).find(|&at| store[at] != model[at]) {
        panic!(
            "{context}: {what}: first difference at {at}: store {:?}, model {:?}",
            store[at], model[at]
        );
    }
    assert_eq!(
        store.len(),
        model.len(),
        "{context}: {what}: lengths differ; store's extra: {:?}, model's extra: {:?}",
        store.get(model.len()..),
        model.get(store.len()..)
    );
}

fn expected_block(draft: &BlockDraft) -> StoredBlock {
    StoredBlock {
        height: draft.height,
        prev_hash: draft.prev_hash,
        sealed: seal(draft.clone()),
        tx_count: u32::try_from(draft.transaction_ids.len()).expect("small block"),
    }
}

/// Everything the store's read paths expose equals the model: notes (every id
/// ever mentioned), the whole event feed, every block and its transaction
/// ids, the transactions `transactions`, the supply snapshot and proposals.
fn assert_store_matches(
    store: &Store,
    model: &Model,
    universe: &Universe,
    transactions: &BTreeSet<Bytes32>,
    context: &str,
) {
    let ids: Vec<Bytes32> = universe.notes.iter().copied().collect();
    let notes = store
        .notes(&ids)
        .unwrap_or_else(|e| read_failed(context, "notes", e));
    for (id, note) in ids.iter().zip(&notes) {
        assert_eq!(
            note.as_ref(),
            model.notes.get(id),
            "{context}: note {}",
            short(id)
        );
    }

    let events = store
        .events_since(0, None, u32::MAX)
        .unwrap_or_else(|e| read_failed(context, "events", e));
    assert_same_list(context, "events", &events, &model.events);

    for draft in &model.blocks {
        let height = draft.height;
        let block = store
            .block(height)
            .unwrap_or_else(|e| read_failed(context, "block", e));
        assert_eq!(
            block,
            Some(expected_block(draft)),
            "{context}: block {height}"
        );
        let ids = store
            .block_transaction_ids(height)
            .unwrap_or_else(|e| read_failed(context, "block transaction ids", e));
        assert_eq!(
            ids, draft.transaction_ids,
            "{context}: transaction ids of block {height}"
        );
    }
    let next = store
        .block(model.next_height())
        .unwrap_or_else(|e| read_failed(context, "block", e));
    assert_eq!(next, None, "{context}: a block beyond the model's chain");
    let latest = store
        .latest_block()
        .unwrap_or_else(|e| read_failed(context, "latest block", e));
    assert_eq!(
        latest.map(|block| block.height),
        model.next_height().checked_sub(1),
        "{context}: latest block"
    );

    for id in transactions {
        let stored = store
            .transaction(id)
            .unwrap_or_else(|e| read_failed(context, "transaction", e));
        assert_eq!(
            stored.as_ref(),
            model.transactions.get(id),
            "{context}: transaction {}",
            short(id)
        );
    }

    let (height, unspent, kernels, issuances, redeemed) = store
        .supply_snapshot(|snapshot| {
            let mut unspent = Vec::new();
            snapshot.for_each_unspent_commitment(500, |note| unspent.push(note))?;
            let mut kernels = Vec::new();
            snapshot.for_each_kernel(500, |kernel| kernels.push((kernel.tx_id, kernel.excess)))?;
            Ok((
                snapshot.height()?,
                unspent,
                kernels,
                snapshot.issuances()?,
                snapshot.total_redeemed()?,
            ))
        })
        .unwrap_or_else(|e| read_failed(context, "supply snapshot", e));
    assert_eq!(
        height,
        model.next_height().checked_sub(1),
        "{context}: snapshot height"
    );
    let model_unspent: Vec<UnspentCommitment> = model
        .notes
        .values()
        .filter(|note| note.spent.is_none())
        .map(|note| UnspentCommitment {
            note_id: note.id,
            owner: note.owner,
            commitment: note.commitment,
        })
        .collect();
    assert_same_list(context, "unspent commitments", &unspent, &model_unspent);
    let model_kernels: Vec<(Bytes32, Bytes32)> =
        model.kernels.iter().map(|(tx, e)| (*tx, *e)).collect();
    assert_same_list(context, "kernels", &kernels, &model_kernels);
    let model_issuances: Vec<Issuance> = model.issuances.values().copied().collect();
    assert_same_list(context, "issuances", &issuances, &model_issuances);
    assert_eq!(redeemed, model.redeemed, "{context}: total redeemed");

    let proposals: BTreeSet<[u8; 16]> = universe
        .proposals
        .iter()
        .chain(model.proposals.keys())
        .copied()
        .collect();
    for id in proposals {
        let stored = store
            .proposal(&ProposalId(id))
            .unwrap_or_else(|e| read_failed(context, "proposal", e))
            .map(|p| (p.amount, p.state, p.executed_by));
        let modelled = model
            .proposals
            .get(&id)
            .map(|p| (p.amount, p.state, p.executed_by));
        assert_eq!(stored, modelled, "{context}: proposal {}", short(&id));
    }
}

fn read_failed<T>(context: &str, what: &str, error: StoreError) -> T {
    panic!("{context}: reading {what}: {error}")
}

/// The officer and bank the proposals need.
fn admit_governance(store: &Store) {
    for (id, role, key) in [(OFFICER, Role::Officer, 100), (BANK, Role::Bank, 101)] {
        store
            .admit_participant(&NewParticipant {
                id: id.to_owned(),
                name: id.to_owned(),
                role,
                spend_public_key: owner(key),
                view_public_key: None,
                created_at_unix_ms: 1,
            })
            .expect("admit participant");
    }
}

// ---------------------------------------------------------------------------
// Concurrency.

const CONCURRENT_SEED: u64 = 0x00c0_ffee;
const THREADS: usize = 2;
const ROUNDS: usize = 25;
const POOL_NOTES: usize = 64;

/// One batch as a thread applied it.
struct Applied {
    thread: usize,
    round: usize,
    batch: Vec<NewTransaction>,
    result: Result<(Vec<ApplyOutcome>, Option<BlockDraft>), String>,
}

/// Two threads apply, round after round at the same moment, batches that
/// spend the same notes, create the same output ids, submit the same
/// transactions and execute the same proposal. Batches commit one after the
/// other, so the result must be the model's for the order the block heights
/// record, and each batch that sealed nothing must match the model at some
/// point of that order.
fn concurrent_overlapping_batches(db: &TestDatabase) {
    let started = Instant::now();
    let store = db.open();
    admit_governance(&store);
    let mut rng = StdRng::seed_from_u64(CONCURRENT_SEED);
    let mut model = Model::default();
    let mut coverage = Coverage::default();
    let mut universe = Universe::default();

    let proposal = ProposalId(rng.gen());
    open_proposal(Some(&store), &mut model, proposal, 777);

    let pool_ids: Vec<Bytes32> = (0..POOL_NOTES).map(|_| random_id(&mut rng)).collect();
    let genesis = vec![new_transaction(
        &mut rng,
        TxKind::Issue,
        Vec::new(),
        pool_ids.clone(),
    )];
    universe.add(&genesis);
    let (expected, _) = model.apply_batch(&genesis, &mut coverage);
    let outcomes = store.apply_batch(genesis.clone(), seal).expect("genesis");
    assert_eq!(outcomes, expected, "genesis");

    // Drawn up front, so that the batches do not depend on the interleaving.
    let plans = draw_plans(&mut rng, &pool_ids, proposal);
    for batch in plans.iter().flatten() {
        universe.add(batch);
    }
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = plans
        .into_iter()
        .enumerate()
        .map(|(thread, rounds)| {
            let store = store.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut applied = Vec::new();
                for (round, batch) in rounds.into_iter().enumerate() {
                    barrier.wait();
                    let mut drafts = Vec::new();
                    let result = store
                        .apply_batch(batch.clone(), |draft| {
                            drafts.push(draft.clone());
                            seal(draft)
                        })
                        .map(|outcomes| (outcomes, drafts.pop()))
                        .map_err(|error| error.to_string());
                    // Never panics here: the other thread would wait at the
                    // barrier forever.
                    applied.push(Applied {
                        thread,
                        round,
                        batch,
                        result,
                    });
                }
                applied
            })
        })
        .collect();
    let applied: Vec<Applied> = handles
        .into_iter()
        .flat_map(|handle| handle.join().expect("applying thread"))
        .collect();

    let mut sealed: Vec<(&Applied, &Vec<ApplyOutcome>, &BlockDraft)> = Vec::new();
    let mut unsealed: Vec<(&Applied, &Vec<ApplyOutcome>)> = Vec::new();
    for batch in &applied {
        let context = format!(
            "concurrent seed {CONCURRENT_SEED}: thread {} round {}",
            batch.thread, batch.round
        );
        match &batch.result {
            Err(error) => panic!("{context}: apply_batch failed: {error}"),
            Ok((outcomes, Some(draft))) => sealed.push((batch, outcomes, draft)),
            Ok((outcomes, None)) => unsealed.push((batch, outcomes)),
        }
    }
    sealed.sort_by_key(|(_, _, draft)| draft.height);
    let heights: Vec<u64> = sealed.iter().map(|(_, _, draft)| draft.height).collect();
    let expected_heights: Vec<u64> = (1..=u64::try_from(sealed.len()).unwrap()).collect();
    assert_eq!(
        heights, expected_heights,
        "heights follow genesis, gap-free"
    );

    // Replay in commit order.
    let mut states = vec![model.clone()];
    for (batch, outcomes, draft) in &sealed {
        let context = format!(
            "concurrent seed {CONCURRENT_SEED}: thread {} round {} (height {})",
            batch.thread, batch.round, draft.height
        );
        let (expected, expected_draft) = model.apply_batch(&batch.batch, &mut coverage);
        assert_outcomes(&context, &batch.batch, outcomes, &expected);
        assert_eq!(
            Some(*draft),
            expected_draft.as_ref(),
            "{context}: sealer draft"
        );
        states.push(model.clone());
    }
    for (batch, outcomes) in &unsealed {
        let consistent = states.iter().any(|state| {
            let mut state = state.clone();
            state.apply_batch(&batch.batch, &mut Coverage::default()) == ((*outcomes).clone(), None)
        });
        assert!(
            consistent,
            "concurrent seed {CONCURRENT_SEED}: thread {} round {}: outcomes {outcomes:?} \
             match the model at no point of the commit order",
            batch.thread, batch.round
        );
    }
    let context = format!("concurrent seed {CONCURRENT_SEED}, at the end");
    assert_store_matches(&store, &model, &universe, &universe.transactions, &context);

    let accepted = assert_direct_invariants(&store, &genesis[0], &applied, &universe, proposal);
    let double_spends = applied
        .iter()
        .filter_map(|batch| batch.result.as_ref().ok())
        .flat_map(|(outcomes, _)| outcomes)
        .filter(|outcome| matches!(outcome, ApplyOutcome::Rejected(Rejection::DoubleSpend(_))))
        .count();
    eprintln!(
        "concurrent on {:?}: {} batches ({} sealed), {} transactions accepted, \
         {double_spends} double spends refused, in {:?}",
        store.backend(),
        applied.len(),
        sealed.len(),
        accepted,
        started.elapsed()
    );
}

/// Each thread's batches, round by round: transfers and redeems of the
/// pool's notes (each thread goes through all of them, in its own order) and
/// of the thread's own earlier outputs; in each round the same transaction
/// and the same output id in both threads; issues, some executing the same
/// proposal; transfers of unknown notes.
fn draw_plans(
    rng: &mut StdRng,
    pool_ids: &[Bytes32],
    proposal: ProposalId,
) -> Vec<Vec<Vec<NewTransaction>>> {
    let shared: Vec<NewTransaction> = (0..ROUNDS)
        .map(|_| {
            let inputs = pool_ids.choose_multiple(rng, 2).copied().collect();
            let outputs = vec![random_id(rng)];
            new_transaction(rng, TxKind::Transfer, inputs, outputs)
        })
        .collect();
    let contested: Vec<Bytes32> = (0..ROUNDS).map(|_| random_id(rng)).collect();
    let mut plans: Vec<Vec<Vec<NewTransaction>>> = Vec::new();
    for _ in 0..THREADS {
        let mut pool = pool_ids.to_vec();
        pool.shuffle(rng);
        let mut carried: Vec<Bytes32> = Vec::new();
        let mut rounds = Vec::new();
        for round in 0..ROUNDS {
            let mut batch: Vec<NewTransaction> = Vec::new();
            for _ in 0..rng.gen_range(3..=10) {
                let mut input = |rng: &mut StdRng| -> Bytes32 {
                    let own = if rng.gen_ratio(1, 3) {
                        take_random(rng, &mut carried)
                    } else {
                        None
                    };
                    own.or_else(|| pool.pop())
                        .or_else(|| pool_ids.choose(rng).copied())
                        .expect("a pool")
                };
                let output = |rng: &mut StdRng| -> Bytes32 {
                    if rng.gen_ratio(1, 10) {
                        contested[round]
                    } else {
                        random_id(rng)
                    }
                };
                let tx = match rng.gen_range(0..100) {
                    0..=54 => {
                        let inputs = (0..rng.gen_range(1..=2)).map(|_| input(rng)).collect();
                        let outputs = (0..rng.gen_range(1..=2)).map(|_| output(rng)).collect();
                        new_transaction(rng, TxKind::Transfer, inputs, outputs)
                    }
                    55..=64 => shared[round].clone(),
                    65..=74 => {
                        let inputs = vec![input(rng)];
                        let outputs = (0..rng.gen_range(0..=1)).map(|_| output(rng)).collect();
                        new_transaction(rng, TxKind::Redeem, inputs, outputs)
                    }
                    75..=84 => {
                        let outputs = vec![output(rng)];
                        new_transaction(rng, TxKind::Issue, Vec::new(), outputs)
                    }
                    85..=89 => {
                        let outputs = vec![random_id(rng)];
                        let mut tx = new_transaction(rng, TxKind::Issue, Vec::new(), outputs);
                        tx.issued = tx.issued.map(|(_, blinding)| (777, blinding));
                        tx.executes_proposal = Some(proposal);
                        tx
                    }
                    _ => {
                        let inputs = vec![random_id(rng)];
                        let outputs = vec![random_id(rng)];
                        new_transaction(rng, TxKind::Transfer, inputs, outputs)
                    }
                };
                carried.extend(tx.outputs.iter().map(|note| note.id));
                batch.push(tx);
            }
            rounds.push(batch);
        }
        plans.push(rounds);
    }

    plans
}

/// The concurrent run's invariants, stated directly on the store's answers:
/// no transaction accepted twice, no note spent by two accepted transactions
/// or created twice, gap-free events that agree with the notes, every note's
/// creator and spender accepted, every accepted transaction in a block, the
/// contested proposal executed at most once. Returns the number accepted.
fn assert_direct_invariants(
    store: &Store,
    genesis: &NewTransaction,
    applied: &[Applied],
    universe: &Universe,
    proposal: ProposalId,
) -> usize {
    let context = format!("concurrent seed {CONCURRENT_SEED}, invariants");
    let mut accepted: HashMap<Bytes32, (&NewTransaction, TxLocation)> = HashMap::new();
    accepted.insert(
        genesis.id,
        (
            genesis,
            TxLocation {
                height: 0,
                index: 0,
            },
        ),
    );
    for batch in applied {
        let Ok((outcomes, _)) = &batch.result else {
            unreachable!("failures were reported above")
        };
        for (tx, outcome) in batch.batch.iter().zip(outcomes) {
            if let ApplyOutcome::Accepted(location) = outcome {
                let first = accepted.insert(tx.id, (tx, *location));
                assert!(
                    first.is_none(),
                    "{context}: {} accepted twice",
                    short(&tx.id)
                );
            }
        }
    }
    let mut spender: HashMap<Bytes32, Bytes32> = HashMap::new();
    let mut creator: HashMap<Bytes32, Bytes32> = HashMap::new();
    for (tx, location) in accepted.values() {
        let stored = store.transaction(&tx.id).expect("transaction");
        assert_eq!(
            stored.map(|stored| stored.location),
            Some(*location),
            "{context}: accepted transaction {}",
            short(&tx.id)
        );
        for input in &tx.inputs {
            let other = spender.insert(*input, tx.id);
            assert!(
                other.is_none(),
                "{context}: note {} spent twice",
                short(input)
            );
        }
        for output in &tx.outputs {
            let other = creator.insert(output.id, tx.id);
            assert!(
                other.is_none(),
                "{context}: note {} created twice",
                short(&output.id)
            );
        }
    }
    let events = store.events_since(0, None, u32::MAX).expect("events");
    let seqs: Vec<u64> = events.iter().map(|event| event.seq).collect();
    let gap_free: Vec<u64> = (1..=u64::try_from(events.len()).unwrap()).collect();
    assert_eq!(seqs, gap_free, "{context}: event numbers");
    let mut spent_events: HashMap<Bytes32, Vec<&Event>> = HashMap::new();
    let mut created_events: HashMap<Bytes32, Vec<&Event>> = HashMap::new();
    for event in &events {
        let by_note = match event.kind {
            EventKind::Spent => &mut spent_events,
            EventKind::Created => &mut created_events,
        };
        by_note.entry(event.note_id).or_default().push(event);
    }
    let ids: Vec<Bytes32> = universe.notes.iter().copied().collect();
    for (id, note) in ids.iter().zip(store.notes(&ids).expect("notes")) {
        let spends = spent_events.get(id).map_or(&[][..], Vec::as_slice);
        let creations = created_events.get(id).map_or(&[][..], Vec::as_slice);
        let Some(note) = note else {
            assert!(
                !creator.contains_key(id) && spends.is_empty() && creations.is_empty(),
                "{context}: note {} missing",
                short(id)
            );
            continue;
        };
        assert_eq!(
            creator.get(id),
            Some(&note.created_by),
            "{context}: creator"
        );
        assert_eq!(
            creations
                .iter()
                .map(|event| (event.seq, event.tx_id))
                .collect::<Vec<_>>(),
            vec![(note.created_seq, note.created_by)],
            "{context}: creation of note {}",
            short(id)
        );
        assert_eq!(
            spends
                .iter()
                .map(|event| Spend {
                    tx_id: event.tx_id,
                    seq: event.seq
                })
                .collect::<Vec<_>>(),
            Vec::from_iter(note.spent),
            "{context}: spends of note {}",
            short(id)
        );
        assert_eq!(
            spender.get(id),
            note.spent.as_ref().map(|spend| &spend.tx_id),
            "{context}: spender of note {}",
            short(id)
        );
    }
    let tip = store
        .latest_block()
        .expect("latest block")
        .expect("genesis");
    let mut block_total = 0;
    for height in 0..=tip.height {
        block_total += store
            .block(height)
            .expect("block")
            .expect("sealed")
            .tx_count;
    }
    assert_eq!(
        usize::try_from(block_total).unwrap(),
        accepted.len(),
        "{context}: every accepted transaction is in a block"
    );
    let executions: Vec<Bytes32> = accepted
        .values()
        .filter(|(tx, _)| tx.executes_proposal == Some(proposal))
        .map(|(tx, _)| tx.id)
        .collect();
    assert!(executions.len() <= 1, "{context}: proposal executed twice");
    assert_eq!(
        store
            .proposal(&proposal)
            .expect("proposal")
            .unwrap()
            .executed_by,
        executions.first().copied(),
        "{context}: proposal execution"
    );

    accepted.len()
}

/// Issuance proposals executed by batches in one thread and cancelled one by
/// one in another (cancelling does not take the chain lock): each ends either
/// executed by exactly the accepted issue, or cancelled with its issue
/// rejected, never both; and the ledger is the model's with each cancellation
/// placed before or after the batch that tried to execute its proposal.
fn concurrent_cancellations_and_executions(db: &TestDatabase) {
    const PROPOSALS: usize = 60;
    const PER_BATCH: usize = 4;
    let started = Instant::now();
    let store = db.open();
    admit_governance(&store);
    let mut rng = StdRng::seed_from_u64(7);
    let mut model = Model::default();
    let mut universe = Universe::default();

    let mut proposals: Vec<(ProposalId, u64)> = Vec::new();
    for _ in 0..PROPOSALS {
        let id = ProposalId(rng.gen());
        let amount = rng.gen_range(1..=1_000);
        open_proposal(Some(&store), &mut model, id, amount);
        proposals.push((id, amount));
    }
    let mut executing = proposals.clone();
    executing.shuffle(&mut rng);
    let batches: Vec<Vec<NewTransaction>> = executing
        .chunks(PER_BATCH)
        .map(|chunk| {
            let mut batch: Vec<NewTransaction> = chunk
                .iter()
                .map(|(id, amount)| {
                    let outputs = vec![random_id(&mut rng)];
                    let mut tx = new_transaction(&mut rng, TxKind::Issue, Vec::new(), outputs);
                    tx.issued = tx.issued.map(|(_, blinding)| (*amount, blinding));
                    tx.executes_proposal = Some(*id);
                    tx
                })
                .collect();
            // An issue that executes nothing: the batch seals either way.
            let outputs = vec![random_id(&mut rng)];
            batch.push(new_transaction(
                &mut rng,
                TxKind::Issue,
                Vec::new(),
                outputs,
            ));
            batch.shuffle(&mut rng);
            batch
        })
        .collect();
    for batch in &batches {
        universe.add(batch);
    }
    let mut cancelling: Vec<ProposalId> = proposals.iter().map(|(id, _)| *id).collect();
    cancelling.shuffle(&mut rng);

    let barrier = Arc::new(Barrier::new(2));
    let executor = {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        let batches = batches.clone();
        thread::spawn(move || {
            barrier.wait();
            batches
                .into_iter()
                .map(|batch| {
                    let mut drafts = Vec::new();
                    let result = store.apply_batch(batch, |draft| {
                        drafts.push(draft.clone());
                        seal(draft)
                    });
                    (result, drafts.pop())
                })
                .collect::<Vec<_>>()
        })
    };
    let canceller = {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        thread::spawn(move || {
            barrier.wait();
            cancelling
                .into_iter()
                .map(|id| (id, store.cancel_proposal(&id).map_err(|e| e.to_string())))
                .collect::<HashMap<_, _>>()
        })
    };
    let applied = executor.join().expect("executing thread");
    let cancelled = canceller.join().expect("cancelling thread");

    let mut contended = 0;
    for (number, (batch, (result, draft))) in batches.iter().zip(&applied).enumerate() {
        let context = format!("cancellations: batch {number}");
        let outcomes = match result {
            Ok(outcomes) => outcomes,
            // A batch whose proposals kept being cancelled under it may give
            // up; then nothing of it is stored.
            Err(StoreError::Contention { .. }) => {
                contended += 1;
                for tx in batch {
                    let stored = store.transaction(&tx.id).expect("transaction");
                    assert_eq!(stored, None, "{context}: given up, yet stored");
                }
                continue;
            }
            Err(error) => panic!("{context}: apply_batch failed: {error}"),
        };
        // Each cancellation that won took effect before this batch read its
        // proposal; each that lost came after the batch executed it.
        for tx in batch {
            let Some(proposal) = tx.executes_proposal else {
                continue;
            };
            if cancelled[&proposal].is_ok() {
                let state = model.proposals.get_mut(&proposal.0).expect("proposal");
                state.state = ProposalState::Cancelled;
            }
        }
        let (expected, expected_draft) = model.apply_batch(batch, &mut Coverage::default());
        assert_outcomes(&context, batch, outcomes, &expected);
        assert_eq!(draft, &expected_draft, "{context}: sealer draft");
    }
    for (id, result) in &cancelled {
        let proposal = model.proposals.get_mut(&id.0).expect("proposal");
        match result {
            Ok(()) => {
                assert_ne!(
                    proposal.state,
                    ProposalState::Executed,
                    "cancelled and executed"
                );
                proposal.state = ProposalState::Cancelled;
            }
            Err(error) => assert_eq!(
                proposal.state,
                ProposalState::Executed,
                "cancellation refused ({error}) of a proposal not executed"
            ),
        }
    }
    assert_store_matches(
        &store,
        &model,
        &universe,
        &universe.transactions,
        "cancellations, at the end",
    );
    let executed = model
        .proposals
        .values()
        .filter(|proposal| proposal.state == ProposalState::Executed)
        .count();
    eprintln!(
        "cancellations on {:?}: {executed} of {PROPOSALS} proposals executed, the rest \
         cancelled, {contended} batches gave up, in {:?}",
        store.backend(),
        started.elapsed()
    );
}

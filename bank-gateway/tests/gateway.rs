//! The bank gateway end to end: a real ledger and real gateways over HTTP,
//! each on a fresh PostgreSQL database. What a bank's customers and staff
//! would notice — balances to the cent, one credit per payment, the tier
//! limits by name, frozen wallets, the waterfalls, idempotent retries,
//! payments racing from one wallet and across two replicas, a replica that
//! dies — and, after each story, that the bank's books reconcile.
//!
//! Amounts are minor units (cents). The default tiers: *anonymous* holds at
//! most 1,000,000, pays at most 200,000 at once and 500,000 a day;
//! *verified* 50,000,000 / 5,000,000 / 10,000,000.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ledger_core::Receipt;
use reqwest::Method;
use serde_json::{json, Value};
use support::{
    away_from_midnight, bank, check_position, eventually, int, key, money, phone, Answer, Api,
    Auth, Gateway, Ledger, Mismatches, DAY_MS,
};

/// What the officers issue to a bank that pays (a bank that only receives gets none).
const FLOAT: u64 = 100_000_000;

const ANONYMOUS_BALANCE_MAX: u64 = 1_000_000;
const ANONYMOUS_PER_PAYMENT_MAX: u64 = 200_000;
const ANONYMOUS_PER_DAY_MAX: u64 = 500_000;
const VERIFIED_BALANCE_MAX: u64 = 50_000_000;

/// How many payments race in the concurrency tests.
const RACERS: usize = 32;

/// The (signed) amounts of a history, oldest first.
fn amounts_oldest_first(history: &[Value]) -> Vec<i64> {
    history.iter().rev().map(|e| int(e, "amount")).collect()
}

/// A refusal answered as HTTP 422 with its code, a message and the id of
/// the recorded payment.
fn assert_refused(answer: &Answer, code: &str, what: &str) {
    answer.refused(422, code, what);
    assert!(
        answer.body["payment_id"].as_i64().is_some(),
        "{what}: a refusal names its recorded payment: {}",
        answer.describe()
    );
}

/// The ledger's receipt of a final payment verifies under the ledger's key
/// and is the receipt of the payment's transaction.
fn assert_receipt(ledger: &Ledger, payment: &Value) {
    let receipt: Receipt = serde_json::from_value(payment["receipt"].clone())
        .unwrap_or_else(|e| panic!("a final payment carries a receipt ({e}): {payment}"));
    receipt
        .verify(&ledger.key())
        .unwrap_or_else(|e| panic!("the receipt verifies ({e}): {payment}"));
    assert_eq!(
        payment["tx_id"].as_str(),
        Some(receipt.tx_id.to_string().as_str()),
        "the receipt is the payment's transaction's: {payment}"
    );
}

// ---------------------------------------------------------------------------
// Funding and paying

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn funding_moves_deposit_money_into_a_wallet_out_of_the_float() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let api = &a.api;
    let (wallet, account) = api.wallet_with_account(500_000).await;

    let payment = api.fund(wallet.id, 300_000).await;
    assert_eq!(payment["kind"], "fund", "{payment}");
    assert_eq!(payment["state"], "final", "{payment}");
    assert_eq!(money(&payment, "amount"), 300_000, "{payment}");
    assert_receipt(&ledger, &payment);
    ledger.transaction(payment["tx_id"].as_str().unwrap()).await;

    let view = api.wallet(wallet.id).await;
    assert_eq!(money(&view, "balance"), 300_000, "{view}");
    assert_eq!(view["deposit_account_id"].as_i64(), Some(account), "{view}");
    assert_eq!(view["tier"], "anonymous", "{view}");
    assert_eq!(view["frozen"], false, "{view}");
    assert_eq!(
        money(&view, "left_today"),
        ANONYMOUS_PER_DAY_MAX,
        "a fund is no payment: {view}"
    );
    assert_eq!(api.account_balance(account).await, 200_000);
    assert_eq!(api.float_balance().await, FLOAT - 300_000);
    let history = api.history(wallet.id).await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(int(&history[0], "amount"), 300_000, "{history:?}");
    assert_eq!(int(&history[0], "balance_after"), 300_000, "{history:?}");
    assert_eq!(
        history[0]["operation_id"].as_i64(),
        payment["id"].as_i64(),
        "{history:?}"
    );
    let account_view = api.account(account).await;
    let mut deposit_amounts: Vec<i64> = account_view["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("an account lists its entries: {account_view}"))
        .iter()
        .map(|e| int(e, "amount"))
        .collect();
    deposit_amounts.sort_unstable();
    assert_eq!(deposit_amounts, vec![-300_000, 500_000], "{account_view}");

    // More than the deposit holds: refused, nothing moves.
    let answer = api.fund_raw(wallet.id, &key(), 200_001).await;
    assert_refused(&answer, "insufficient_deposit", "fund past the deposit");
    // A wallet with no linked account has nothing to fund from.
    let unlinked = api.open_wallet(&phone()).await;
    let answer = api.fund_raw(unlinked.id, &key(), 1_000).await;
    answer.refused(422, "no_linked_account", "fund an unlinked wallet");

    assert_eq!(api.balance(wallet.id).await, 300_000);
    assert_eq!(api.balance(unlinked.id).await, 0);
    assert_eq!(api.account_balance(account).await, 200_000);
    assert_eq!(api.float_balance().await, FLOAT - 300_000);
    api.assert_reconciled().await;
    // Last, so that the checks above run whatever this answers: a fund is
    // the customer's wallet's (that the float pays it on the ledger is the
    // bank's business, not the wallet API's).
    assert_eq!(
        int(&payment, "wallet_id"),
        wallet.id,
        "a fund names the funded wallet: {payment}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_to_another_bank_is_credited_there_exactly_once() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let (_b, b) = bank(&ledger, "bank-b", 0).await;
    let (payer, _) = a.api.funded_wallet(300_000).await;
    let payee = b.api.open_wallet(&phone()).await;

    let payment = a.api.pay(payer.id, &payee.address, 120_000).await;
    assert_eq!(payment["kind"], "pay", "{payment}");
    assert_eq!(payment["payee"], "other_bank", "{payment}");
    assert_eq!(
        payment["to"].as_str(),
        Some(payee.address.as_str()),
        "{payment}"
    );
    assert_eq!(money(&payment, "amount"), 120_000, "{payment}");
    assert_receipt(&ledger, &payment);
    assert_eq!(a.api.balance(payer.id).await, 180_000);

    b.api.until_balance(payee.id, 120_000).await;
    // Once bank B has seen every block there is, the credit is still one.
    b.api.until_height(ledger.height().await).await;
    let view = b.api.wallet(payee.id).await;
    assert_eq!(money(&view, "balance"), 120_000, "{view}");
    let history = b.api.history(payee.id).await;
    assert_eq!(history.len(), 1, "one credit: {history:?}");
    assert_eq!(int(&history[0], "amount"), 120_000, "{history:?}");
    assert_eq!(int(&history[0], "balance_after"), 120_000, "{history:?}");
    assert!(history[0]["note_id"].is_string(), "{history:?}");

    let payer_history = a.api.history(payer.id).await;
    assert_eq!(
        amounts_oldest_first(&payer_history),
        vec![300_000, -120_000],
        "{payer_history:?}"
    );
    assert_eq!(a.api.float_balance().await, FLOAT - 300_000);
    assert_eq!(b.api.float_balance().await, 0);
    a.api.assert_reconciled().await;
    b.api.assert_reconciled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_inside_one_bank_moves_money_between_its_wallets() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let (payer, _) = a.api.funded_wallet(300_000).await;
    let payee = a.api.open_wallet(&phone()).await;

    let payment = a.api.pay(payer.id, &payee.address, 75_000).await;
    assert_eq!(payment["payee"], "same_bank", "{payment}");
    assert_receipt(&ledger, &payment);
    assert_eq!(a.api.balance(payer.id).await, 225_000);
    a.api.until_balance(payee.id, 75_000).await;
    // The follower sees the same note on the feed: it must not credit it again.
    a.api.until_height(ledger.height().await).await;
    assert_eq!(a.api.balance(payee.id).await, 75_000);
    let history = a.api.history(payee.id).await;
    assert_eq!(amounts_oldest_first(&history), vec![75_000], "{history:?}");
    assert_eq!(a.api.float_balance().await, FLOAT - 300_000);
    a.api.assert_reconciled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn defund_moves_a_wallet_back_into_its_deposit() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let api = &a.api;
    let (wallet, account) = api.wallet_with_account(500_000).await;
    api.fund(wallet.id, 300_000).await;

    let payment = api.defund(wallet.id, 120_000).await;
    assert_eq!(payment["kind"], "defund", "{payment}");
    assert_receipt(&ledger, &payment);
    assert_eq!(api.balance(wallet.id).await, 180_000);
    assert_eq!(api.account_balance(account).await, 320_000);
    api.until_float(FLOAT - 180_000).await;
    let history = api.history(wallet.id).await;
    assert_eq!(
        amounts_oldest_first(&history),
        vec![300_000, -120_000],
        "{history:?}"
    );

    // The operator's statement: oldest first, each balance the one before
    // plus the entry (read two at a time, so it pages).
    let statement = api.statement(wallet.id).await;
    let running: Vec<(i64, i64)> = statement
        .iter()
        .map(|e| (int(e, "amount"), int(e, "balance_after")))
        .collect();
    assert_eq!(
        running,
        vec![(300_000, 300_000), (-120_000, 180_000)],
        "{statement:?}"
    );
    let answer = api.defund_raw(wallet.id, &key(), 180_001).await;
    assert_refused(&answer, "insufficient_funds", "defund past the balance");
    api.link(wallet.id, None).await;
    let answer = api.defund_raw(wallet.id, &key(), 1_000).await;
    answer.refused(422, "no_linked_account", "defund with no account");

    assert_eq!(api.balance(wallet.id).await, 180_000);
    assert_eq!(api.account_balance(account).await, 320_000);
    api.assert_reconciled().await;
}

// ---------------------------------------------------------------------------
// Waterfalls

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_incoming_payment_over_the_holding_limit_is_swept_to_the_linked_deposit() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let (_b, b) = bank(&ledger, "bank-b", FLOAT).await;
    let (payer, _) = a.api.funded_wallet(400_000).await;

    // From another bank.
    let (payee, payee_account) = b.api.funded_wallet(900_000).await;
    assert_eq!(b.api.account_balance(payee_account).await, 0);
    let payment = a.api.pay(payer.id, &payee.address, 200_000).await;
    assert_eq!(payment["payee"], "other_bank", "{payment}");
    eventually("bank B sweeps the excess to the deposit", || async {
        let deposit = b.api.account_balance(payee_account).await;
        if deposit == 100_000 {
            Ok(())
        } else {
            Err(format!("deposit {deposit}"))
        }
    })
    .await;
    b.api.until_balance(payee.id, ANONYMOUS_BALANCE_MAX).await;
    b.api.until_height(ledger.height().await).await;
    let history = b.api.history(payee.id).await;
    assert_eq!(
        amounts_oldest_first(&history),
        vec![900_000, 200_000, -100_000],
        "credited whole, then the excess swept: {history:?}"
    );
    let sweeps: Vec<&Value> = history.iter().filter(|e| int(e, "amount") < 0).collect();
    assert_eq!(sweeps.len(), 1, "{history:?}");
    let sweep_id = int(sweeps[0], "operation_id");
    let sweep = b.api.payment(payee.id, sweep_id).await;
    assert_eq!(sweep["kind"], "sweep", "{sweep}");
    assert_eq!(sweep["state"], "final", "{sweep}");
    assert_eq!(money(&sweep, "amount"), 100_000, "{sweep}");
    b.api.until_float(FLOAT - 900_000 + 100_000).await;

    // Inside one bank.
    let (neighbour, neighbour_account) = a.api.funded_wallet(900_000).await;
    a.api.pay(payer.id, &neighbour.address, 150_000).await;
    eventually("bank A sweeps the neighbour's excess", || async {
        let deposit = a.api.account_balance(neighbour_account).await;
        if deposit == 50_000 {
            Ok(())
        } else {
            Err(format!("deposit {deposit}"))
        }
    })
    .await;
    a.api
        .until_balance(neighbour.id, ANONYMOUS_BALANCE_MAX)
        .await;
    assert_eq!(a.api.balance(payer.id).await, 400_000 - 200_000 - 150_000);
    let history = a.api.history(neighbour.id).await;
    assert_eq!(
        amounts_oldest_first(&history),
        vec![900_000, 150_000, -50_000],
        "{history:?}"
    );
    a.api.until_height(ledger.height().await).await;
    a.api.assert_reconciled().await;
    b.api.assert_reconciled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_incoming_payment_over_the_limit_without_a_deposit_is_refused_or_held() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let (_b, b) = bank(&ledger, "bank-b", FLOAT).await;
    let (payer, _) = a.api.funded_wallet(400_000).await;

    // Inside one bank: refused before the ledger.
    let (full, _) = a.api.funded_wallet(900_000).await;
    a.api.link(full.id, None).await;
    let answer = a
        .api
        .pay_raw(payer.id, &key(), &full.address, 150_000)
        .await;
    assert_refused(
        &answer,
        "payee_balance_limit",
        "pay a full wallet at the same bank",
    );
    assert_eq!(
        answer.body["remaining"].as_u64(),
        Some(100_000),
        "{}",
        answer.describe()
    );
    assert_eq!(a.api.balance(payer.id).await, 400_000);
    assert_eq!(a.api.balance(full.id).await, 900_000);

    // From another bank: the ledger took it, bank B holds it for an operator.
    let (far, _) = b.api.funded_wallet(900_000).await;
    b.api.link(far.id, None).await;
    let payment = a.api.pay(payer.id, &far.address, 150_000).await;
    assert_eq!(payment["payee"], "other_bank", "{payment}");
    assert_eq!(a.api.balance(payer.id).await, 250_000);
    let held = eventually("bank B holds the note", || async {
        let held = b.api.held().await;
        if held.len() == 1 {
            Ok(held[0].clone())
        } else {
            Err(format!("{held:?}"))
        }
    })
    .await;
    assert_eq!(held["wallet_id"].as_i64(), Some(far.id), "{held}");
    b.api.until_height(ledger.height().await).await;
    assert_eq!(b.api.balance(far.id).await, 900_000);
    assert_eq!(b.api.history(far.id).await.len(), 1);

    // Verified, it fits: the operator releases it, it is credited once.
    b.api.verify(far.customer_id).await;
    let note = held["note_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a held note names its note: {held}"))
        .to_string();
    let answer = b
        .api
        .operator(
            Method::POST,
            &format!("/v1/operator/held/{note}/release"),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "release: {}", answer.describe());
    b.api.until_balance(far.id, 1_050_000).await;
    assert!(b.api.held().await.is_empty());
    let again = b
        .api
        .operator(
            Method::POST,
            &format!("/v1/operator/held/{note}/release"),
            None,
        )
        .await;
    assert!(
        again.status == 404 || again.status == 409 || again.status == 422,
        "releasing twice is refused: {}",
        again.describe()
    );
    assert_eq!(b.api.balance(far.id).await, 1_050_000);
    a.api.assert_reconciled().await;
    b.api.assert_reconciled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reverse_waterfall_tops_a_payment_up_from_the_deposit() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let api = &a.api;
    let (wallet, account) = api.wallet_with_account(500_000).await;
    api.fund(wallet.id, 50_000).await;
    let payee = api.open_wallet(&phone()).await;

    // Off by default: a payment above the balance is refused.
    assert_eq!(api.wallet(wallet.id).await["auto_topup"], false);
    let answer = api
        .pay_raw(wallet.id, &key(), &payee.address, 120_000)
        .await;
    assert_refused(&answer, "insufficient_funds", "pay above the balance");
    assert_eq!(
        answer.body["remaining"].as_u64(),
        Some(50_000),
        "{}",
        answer.describe()
    );

    api.set_auto_topup(wallet.id, true).await;
    assert_eq!(api.wallet(wallet.id).await["auto_topup"], true);
    let topped_key = key();
    let payment = api
        .pay_raw(wallet.id, &topped_key, &payee.address, 120_000)
        .await
        .expect(200, "a topped-up payment");
    let payment = api.until_final(wallet.id, payment).await;
    assert_eq!(
        payment["topped_up"].as_u64(),
        Some(70_000),
        "the shortfall is funded first: {payment}"
    );
    assert_eq!(money(&payment, "amount"), 120_000, "{payment}");
    assert_eq!(api.balance(wallet.id).await, 0);
    assert_eq!(
        api.account_balance(account).await,
        500_000 - 50_000 - 70_000
    );
    api.until_balance(payee.id, 120_000).await;
    let history = api.history(wallet.id).await;
    assert_eq!(
        amounts_oldest_first(&history),
        vec![50_000, 70_000, -120_000],
        "{history:?}"
    );

    let mut found = Mismatches::new();
    // The retry of a topped-up payment is the first answer, and moves nothing.
    let again = api
        .pay_raw(wallet.id, &topped_key, &payee.address, 120_000)
        .await
        .expect(200, "the topped-up payment again");
    found.equal("the retry's payment id", &again["id"], &payment["id"]);
    found.equal(
        "the retry's topped_up",
        &again["topped_up"],
        &payment["topped_up"],
    );
    found.equal(
        "the wallet after the retry",
        api.balance(wallet.id).await,
        0,
    );
    found.equal(
        "the deposit after the retry",
        api.account_balance(account).await,
        380_000,
    );
    // A payment refused by a limit tops nothing up: a refusal moves nothing.
    let answer = api
        .pay_raw(
            wallet.id,
            &key(),
            &payee.address,
            ANONYMOUS_PER_PAYMENT_MAX + 1,
        )
        .await;
    found.answer(
        "a topped-up payment past the per-payment limit",
        &answer,
        422,
        &["per_payment_limit"],
    );
    found.equal(
        "the wallet after a refused top-up payment",
        api.balance(wallet.id).await,
        0,
    );
    found.equal(
        "the deposit after a refused top-up payment",
        api.account_balance(account).await,
        380_000,
    );
    // Nor does one the deposit cannot cover.
    let (poor, poor_account) = api.wallet_with_account(10_000).await;
    api.set_auto_topup(poor.id, true).await;
    let answer = api.pay_raw(poor.id, &key(), &payee.address, 20_000).await;
    found.answer(
        "a top-up past the deposit",
        &answer,
        422,
        &["insufficient_deposit", "insufficient_funds"],
    );
    found.equal(
        "the poor deposit after the refusal",
        api.account_balance(poor_account).await,
        10_000,
    );
    api.until_height(ledger.height().await).await;
    let books = api.reconciliation().await;
    found.check(books["ok"] == true, || format!("reconciliation: {books}"));
    found.finish("reverse waterfall");
}

// ---------------------------------------------------------------------------
// Tier limits

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_balance_limit_refuses_funding_past_the_tier_maximum() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let api = &a.api;
    let (wallet, account) = api.wallet_with_account(2_000_000).await;
    api.fund(wallet.id, ANONYMOUS_BALANCE_MAX).await;
    let view = api.wallet(wallet.id).await;
    assert_eq!(
        money(&view["limits"], "balance_max"),
        ANONYMOUS_BALANCE_MAX,
        "{view}"
    );

    let answer = api.fund_raw(wallet.id, &key(), 1).await;
    assert_refused(&answer, "balance_limit", "one cent past the limit");
    assert_eq!(answer.body["limit"], "balance", "{}", answer.describe());
    assert_eq!(
        answer.body["remaining"].as_u64(),
        Some(0),
        "{}",
        answer.describe()
    );
    let refused = api
        .payment(wallet.id, int(&answer.body, "payment_id"))
        .await;
    assert_eq!(refused["state"], "refused", "{refused}");
    assert_eq!(refused["refusal"]["code"], "balance_limit", "{refused}");
    assert_eq!(api.balance(wallet.id).await, ANONYMOUS_BALANCE_MAX);
    assert_eq!(api.account_balance(account).await, 1_000_000);

    api.verify(wallet.customer_id).await;
    let view = api.wallet(wallet.id).await;
    assert_eq!(view["tier"], "verified", "{view}");
    assert_eq!(
        money(&view["limits"], "balance_max"),
        VERIFIED_BALANCE_MAX,
        "{view}"
    );
    api.fund(wallet.id, 1).await;
    assert_eq!(api.balance(wallet.id).await, ANONYMOUS_BALANCE_MAX + 1);
    assert_eq!(api.account_balance(account).await, 999_999);
    api.assert_reconciled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_payment_limit_refuses_one_cent_more() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let api = &a.api;
    let (wallet, _) = api.funded_wallet(300_000).await;
    let payee = api.open_wallet(&phone()).await;

    let answer = api
        .pay_raw(
            wallet.id,
            &key(),
            &payee.address,
            ANONYMOUS_PER_PAYMENT_MAX + 1,
        )
        .await;
    assert_refused(
        &answer,
        "per_payment_limit",
        "one cent past the per-payment limit",
    );
    assert_eq!(answer.body["limit"], "per_payment", "{}", answer.describe());
    assert_eq!(
        answer.body["remaining"].as_u64(),
        Some(ANONYMOUS_PER_PAYMENT_MAX),
        "{}",
        answer.describe()
    );
    assert_eq!(api.balance(wallet.id).await, 300_000);
    let view = api.wallet(wallet.id).await;
    assert_eq!(
        money(&view, "paid_today"),
        0,
        "a refusal is no payment: {view}"
    );

    api.pay(wallet.id, &payee.address, ANONYMOUS_PER_PAYMENT_MAX)
        .await;
    assert_eq!(api.balance(wallet.id).await, 100_000);
    api.until_balance(payee.id, ANONYMOUS_PER_PAYMENT_MAX).await;
    api.assert_reconciled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_day_limit_counts_today_and_starts_again_at_midnight_utc() {
    away_from_midnight().await;
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let api = &a.api;
    let (wallet, _) = api.funded_wallet(ANONYMOUS_BALANCE_MAX).await;
    let payee = api.open_wallet(&phone()).await;
    api.verify(payee.customer_id).await;

    for amount in [200_000, 200_000, 100_000] {
        api.pay(wallet.id, &payee.address, amount).await;
    }
    let view = api.wallet(wallet.id).await;
    assert_eq!(money(&view, "paid_today"), ANONYMOUS_PER_DAY_MAX, "{view}");
    assert_eq!(money(&view, "left_today"), 0, "{view}");
    let answer = api.pay_raw(wallet.id, &key(), &payee.address, 1).await;
    assert_refused(&answer, "per_day_limit", "one cent past the daily limit");
    assert_eq!(answer.body["limit"], "per_day", "{}", answer.describe());
    assert_eq!(
        answer.body["remaining"].as_u64(),
        Some(0),
        "{}",
        answer.describe()
    );
    assert_eq!(api.balance(wallet.id).await, 500_000);

    // Yesterday's payments: as if midnight had passed since.
    let aged = a.db().execute(&format!(
        "UPDATE operations SET created_ms = created_ms - {DAY_MS} WHERE wallet_id = {}",
        wallet.id
    ));
    assert!(aged >= 3, "the three payments were aged ({aged} rows)");
    let view = api.wallet(wallet.id).await;
    assert_eq!(money(&view, "paid_today"), 0, "{view}");
    assert_eq!(money(&view, "left_today"), ANONYMOUS_PER_DAY_MAX, "{view}");
    api.pay(wallet.id, &payee.address, 200_000).await;
    api.pay(wallet.id, &payee.address, 200_000).await;
    let answer = api
        .pay_raw(wallet.id, &key(), &payee.address, 100_001)
        .await;
    assert_refused(&answer, "per_day_limit", "the new day's limit");
    assert_eq!(
        answer.body["remaining"].as_u64(),
        Some(100_000),
        "{}",
        answer.describe()
    );
    assert_eq!(api.balance(wallet.id).await, 100_000);
    api.until_balance(payee.id, 900_000).await;
    api.assert_reconciled().await;
}

// ---------------------------------------------------------------------------
// Frozen wallets

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_wallet_cannot_pay_fund_or_defund_and_what_comes_in_is_held() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let (_b, b) = bank(&ledger, "bank-b", FLOAT).await;
    let (wallet, account) = a.api.wallet_with_account(500_000).await;
    a.api.fund(wallet.id, 200_000).await;
    let (neighbour, _) = a.api.funded_wallet(100_000).await;
    let (stranger, _) = b.api.funded_wallet(100_000).await;

    a.api.freeze(wallet.id, true).await;
    assert_eq!(a.api.wallet(wallet.id).await["frozen"], true);
    let answer = a
        .api
        .pay_raw(wallet.id, &key(), &neighbour.address, 1_000)
        .await;
    assert_refused(&answer, "wallet_frozen", "a frozen wallet pays");
    let answer = a.api.fund_raw(wallet.id, &key(), 1_000).await;
    assert_refused(&answer, "wallet_frozen", "a frozen wallet is funded");
    let answer = a.api.defund_raw(wallet.id, &key(), 1_000).await;
    assert_refused(&answer, "wallet_frozen", "a frozen wallet defunds");
    // At the same bank a payment into it is refused before the ledger.
    let answer = a
        .api
        .pay_raw(neighbour.id, &key(), &wallet.address, 1_000)
        .await;
    assert_refused(&answer, "payee_frozen", "pay into a frozen wallet");
    assert_eq!(a.api.balance(neighbour.id).await, 100_000);

    // From another bank the ledger takes it; bank A holds it.
    b.api.pay(stranger.id, &wallet.address, 30_000).await;
    let held = eventually("bank A holds the note for the frozen wallet", || async {
        let held = a.api.held().await;
        if held.len() == 1 {
            Ok(held[0].clone())
        } else {
            Err(format!("{held:?}"))
        }
    })
    .await;
    assert_eq!(held["wallet_id"].as_i64(), Some(wallet.id), "{held}");
    assert_eq!(money(&held, "value"), 30_000, "{held}");
    a.api.until_height(ledger.height().await).await;
    let view = a.api.wallet(wallet.id).await;
    assert_eq!(money(&view, "balance"), 200_000, "{view}");
    assert_eq!(money(&view, "held"), 30_000, "{view}");
    assert_eq!(a.api.account_balance(account).await, 300_000);

    let note = held["note_id"]
        .as_str()
        .expect("a held note id")
        .to_string();
    let release = format!("/v1/operator/held/{note}/release");
    let answer = a.api.operator(Method::POST, &release, None).await;
    assert!(
        answer.status >= 400 && answer.status < 500,
        "a frozen wallet's note stays held: {}",
        answer.describe()
    );
    a.api.freeze(wallet.id, false).await;
    let answer = a.api.operator(Method::POST, &release, None).await;
    assert_eq!(answer.status, 200, "release: {}", answer.describe());
    a.api.until_balance(wallet.id, 230_000).await;
    assert!(a.api.held().await.is_empty());
    a.api.pay(wallet.id, &neighbour.address, 1_000).await;
    assert_eq!(a.api.balance(wallet.id).await, 229_000);
    a.api.until_balance(neighbour.id, 101_000).await;
    let history = a.api.history(wallet.id).await;
    assert_eq!(
        amounts_oldest_first(&history),
        vec![200_000, 30_000, -1_000],
        "{history:?}"
    );
    a.api.assert_reconciled().await;
    b.api.assert_reconciled().await;
}

// ---------------------------------------------------------------------------
// Idempotency

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_answers_its_first_request_again() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let api = &a.api;
    let (wallet, account) = api.wallet_with_account(500_000).await;
    let payee = api.open_wallet(&phone()).await;

    let fund_key = key();
    let first = api
        .fund_raw(wallet.id, &fund_key, 300_000)
        .await
        .expect(200, "fund");
    let first = api.until_final(wallet.id, first).await;
    let again = api
        .fund_raw(wallet.id, &fund_key, 300_000)
        .await
        .expect(200, "fund again");
    assert_eq!(again["id"], first["id"], "{first} / {again}");
    assert_eq!(again["tx_id"], first["tx_id"], "{first} / {again}");
    assert_eq!(api.balance(wallet.id).await, 300_000);
    assert_eq!(api.account_balance(account).await, 200_000);

    let pay_key = key();
    let first = api
        .pay_raw(wallet.id, &pay_key, &payee.address, 40_000)
        .await
        .expect(200, "pay");
    let first = api.until_final(wallet.id, first).await;
    for _ in 0..3 {
        let again = api
            .pay_raw(wallet.id, &pay_key, &payee.address, 40_000)
            .await
            .expect(200, "pay again");
        assert_eq!(again["id"], first["id"], "{first} / {again}");
        assert_eq!(again["state"], "final", "{again}");
        assert_eq!(again["tx_id"], first["tx_id"], "{first} / {again}");
    }
    // The same key with another body is a conflict, and nothing moves.
    let other = api
        .pay_raw(wallet.id, &pay_key, &payee.address, 40_001)
        .await;
    other.refused(409, "idempotency_conflict", "the same key, another amount");
    let someone_else = api.open_wallet(&phone()).await;
    let other = api
        .pay_raw(wallet.id, &pay_key, &someone_else.address, 40_000)
        .await;
    other.refused(409, "idempotency_conflict", "the same key, another payee");
    assert_eq!(api.balance(wallet.id).await, 260_000);
    api.until_balance(payee.id, 40_000).await;
    assert_eq!(api.history(payee.id).await.len(), 1);

    // A refusal is an answer too: the same key gets it again.
    let refused_key = key();
    let first = api
        .pay_raw(
            wallet.id,
            &refused_key,
            &payee.address,
            ANONYMOUS_PER_PAYMENT_MAX + 1,
        )
        .await;
    assert_refused(&first, "per_payment_limit", "too much");
    let again = api
        .pay_raw(
            wallet.id,
            &refused_key,
            &payee.address,
            ANONYMOUS_PER_PAYMENT_MAX + 1,
        )
        .await;
    assert_refused(&again, "per_payment_limit", "too much, again");
    assert_eq!(again.body["payment_id"], first.body["payment_id"]);
    api.assert_reconciled().await;
}

// ---------------------------------------------------------------------------
// Concurrency

/// Funds `wallet` with `count` notes of `value` each (one fund per note).
async fn fund_in_notes(api: &Api, wallet: i64, count: usize, value: u64) {
    for _ in 0..count {
        api.fund(wallet, value).await;
    }
}

/// Outcome of racing payments: the final ones' `(payment id, tx id)`, and
/// the codes of the refused ones.
struct Race {
    finals: Vec<(i64, String)>,
    refused: BTreeMap<String, usize>,
    /// Why those first answered `pending` were (the ledger up all along).
    pending: Vec<String>,
}

/// Sends `payments` at once: each `(api index, amount)` from `wallet` to
/// `to`, through `apis[api index]`; each answer must be final or refused.
async fn race(apis: &[Arc<Api>], wallet: i64, to: &str, payments: &[(usize, u64)]) -> Race {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, &(api, amount)) in payments.iter().enumerate() {
        let api = apis[api].clone();
        let to = to.to_string();
        tasks.spawn(async move {
            let answer = api.pay_raw(wallet, &key(), &to, amount).await;
            let pending = (answer.body["state"] == "pending")
                .then(|| answer.body["pending_reason"].to_string());
            let final_or_refusal = match answer.status {
                200 => Ok(api.until_final(wallet, answer.body).await),
                _ => Err(answer),
            };
            (index, pending, final_or_refusal)
        });
    }
    let mut finals = Vec::new();
    let mut refused = BTreeMap::new();
    let mut seen = 0;
    let mut pending = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (_, was_pending, outcome) = joined.expect("a payment task does not panic");
        seen += 1;
        pending.extend(was_pending);
        match outcome {
            Ok(payment) => finals.push((
                int(&payment, "id"),
                payment["tx_id"]
                    .as_str()
                    .expect("a final payment's tx")
                    .to_string(),
            )),
            Err(answer) => {
                assert_eq!(
                    answer.status,
                    422,
                    "a racing payment: {}",
                    answer.describe()
                );
                *refused.entry(answer.code().to_string()).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(seen, payments.len());
    Race {
        finals,
        refused,
        pending,
    }
}

/// Every final payment of the race is its own transaction on the ledger, and
/// no two spent the same note; returns how many notes they spent.
async fn assert_each_once_on_the_ledger(ledger: &Ledger, race: &Race) -> usize {
    println!(
        "{} final, first answered pending: {:?}, refused {:?}",
        race.finals.len(),
        race.pending,
        race.refused
    );
    let ids: BTreeSet<i64> = race.finals.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), race.finals.len(), "payment ids repeat");
    let txs: BTreeSet<&str> = race.finals.iter().map(|(_, tx)| tx.as_str()).collect();
    assert_eq!(txs.len(), race.finals.len(), "transactions repeat");
    let mut spent = BTreeMap::new();
    for (payment, tx) in &race.finals {
        for input in ledger.inputs(tx).await {
            if let Some(other) = spent.insert(input.clone(), *payment) {
                panic!("payments {other} and {payment} both spent note {input}");
            }
        }
    }
    spent.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_payments_racing_from_one_wallet_never_overdraw() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let (_b, b) = bank(&ledger, "bank-b", 0).await;
    let (wallet, _) = a.api.wallet_with_account(1_000_000).await;
    a.api.verify(wallet.customer_id).await;
    // Twenty notes of 50,000: enough for twenty of the thirty-two.
    fund_in_notes(&a.api, wallet.id, 20, 50_000).await;
    assert_eq!(a.api.balance(wallet.id).await, 1_000_000);
    let payee = b.api.open_wallet(&phone()).await;
    b.api.verify(payee.customer_id).await;

    let apis = [a.api.clone()];
    let payments: Vec<(usize, u64)> = (0..RACERS).map(|_| (0, 50_000)).collect();
    let race = race(&apis, wallet.id, &payee.address, &payments).await;
    assert_eq!(race.finals.len(), 20, "refused: {:?}", race.refused);
    assert_eq!(
        race.refused,
        BTreeMap::from([("insufficient_funds".to_string(), RACERS - 20)]),
        "the rest find no money"
    );
    assert_eq!(assert_each_once_on_the_ledger(&ledger, &race).await, 20);
    assert_eq!(a.api.balance(wallet.id).await, 0);
    let history = a.api.history(wallet.id).await;
    let debits = history.iter().filter(|e| int(e, "amount") < 0).count();
    assert_eq!(debits, 20, "twenty payments out: {history:?}");
    assert_eq!(
        history.iter().map(|e| int(e, "amount")).sum::<i64>(),
        0,
        "{history:?}"
    );
    assert!(history.iter().all(|e| int(e, "balance_after") >= 0));

    b.api.until_balance(payee.id, 1_000_000).await;
    b.api.until_height(ledger.height().await).await;
    let received = b.api.history(payee.id).await;
    assert_eq!(received.len(), 20, "{received:?}");
    let notes: BTreeSet<&str> = received
        .iter()
        .filter_map(|e| e["note_id"].as_str())
        .collect();
    assert_eq!(notes.len(), 20, "one note per payment: {received:?}");
    assert_eq!(b.api.balance(payee.id).await, 1_000_000);
    a.api.assert_reconciled().await;
    b.api.assert_reconciled().await;
    ledger.audit_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_day_limit_holds_against_racing_payments() {
    away_from_midnight().await;
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let (wallet, _) = a.api.wallet_with_account(ANONYMOUS_BALANCE_MAX).await;
    fund_in_notes(&a.api, wallet.id, 10, 100_000).await;
    let payee = a.api.open_wallet(&phone()).await;
    a.api.verify(payee.customer_id).await;

    // Eight of 100,000 at once against a daily 500,000: five go through.
    let payments: Vec<(usize, u64)> = (0..8).map(|_| (0, 100_000)).collect();
    let race = race(
        std::slice::from_ref(&a.api),
        wallet.id,
        &payee.address,
        &payments,
    )
    .await;
    assert_eq!(race.finals.len(), 5, "refused: {:?}", race.refused);
    assert_eq!(
        race.refused,
        BTreeMap::from([("per_day_limit".to_string(), 3)])
    );
    assert_each_once_on_the_ledger(&ledger, &race).await;
    let view = a.api.wallet(wallet.id).await;
    assert_eq!(money(&view, "balance"), 500_000, "{view}");
    assert_eq!(money(&view, "paid_today"), ANONYMOUS_PER_DAY_MAX, "{view}");
    a.api.until_balance(payee.id, 500_000).await;
    a.api.assert_reconciled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_racing_from_a_wallet_of_one_note_all_go_through() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    // One fund: one note of 300,000.
    let (wallet, _) = a.api.funded_wallet(300_000).await;
    let payee = a.api.open_wallet(&phone()).await;

    // A customer who taps "pay" four times in a row has the money for all
    // four; the first one's change is on its way back as the others come.
    let payments: Vec<(usize, u64)> = (0..4).map(|_| (0, 50_000)).collect();
    let race = race(
        std::slice::from_ref(&a.api),
        wallet.id,
        &payee.address,
        &payments,
    )
    .await;
    assert_eq!(
        race.finals.len(),
        4,
        "all four have the money; refused: {:?}",
        race.refused
    );
    assert_each_once_on_the_ledger(&ledger, &race).await;
    assert_eq!(a.api.balance(wallet.id).await, 100_000);
    a.api.until_balance(payee.id, 200_000).await;
    a.api.assert_reconciled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_sent_eight_times_at_once_pays_once() {
    let ledger = Ledger::start().await;
    let (bank_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let other = Gateway::start(&ledger, &bank_a, "bank-a-2").await;
    let (wallet, _) = a.api.wallet_with_account(100_000).await;
    fund_in_notes(&a.api, wallet.id, 4, 25_000).await;
    let payee = a.api.open_wallet(&phone()).await;

    // The wallet API's retries of one payment, racing the original, at
    // both replicas.
    let shared = key();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let api = if i % 2 == 0 {
            a.api.clone()
        } else {
            other.api.clone()
        };
        let key = shared.clone();
        let to = payee.address.clone();
        tasks.spawn(async move { api.pay_raw(wallet.id, &key, &to, 30_000).await });
    }
    let mut found = Mismatches::new();
    let mut ids = BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        let answer = joined.expect("a payment task does not panic");
        found.check(answer.status == 200, || {
            format!("a retry racing the original: {}", answer.describe())
        });
        if let Some(id) = answer.body["id"].as_i64() {
            ids.insert(id);
        }
    }
    found.equal("payments made", ids.len(), 1);
    let final_payment = a
        .api
        .pay_raw(wallet.id, &shared, &payee.address, 30_000)
        .await;
    let final_payment = final_payment.expect(200, "the key once more");
    a.api.until_final(wallet.id, final_payment).await;
    found.equal("the payer", a.api.balance(wallet.id).await, 70_000);
    a.api.until_balance(payee.id, 30_000).await;
    found.equal(
        "the payee's credits",
        a.api.history(payee.id).await.len(),
        1,
    );
    found.finish("one key, eight times at once");
}

/// Two replicas verify the same new block header at once (every payment's
/// receipt is checked against the chain): the second insert collides with
/// the first, and must answer the header the first stored. Seen over HTTP
/// as a payment answered `pending` ("current transaction is aborted") in
/// `two_replicas_share_one_bank_and_the_follower_fails_over`; here made
/// certain: the first writer holds its insert open until the second waits
/// on it. (Should the second be slow to start, it finds the header stored
/// and the test passes: it cannot fail for timing alone.)
#[test]
fn two_writers_of_one_chain_header_both_succeed() {
    use bank_gateway::store::{bank::insert_header, Store};
    use std::sync::mpsc;
    use std::time::Duration;
    let db = support::TestDatabase::create("headers");
    let store = Store::open(db.url()).expect("the gateway's store opens");
    let hash = [7u8; 32];
    let (inserted_tx, inserted_rx) = mpsc::channel();
    let (commit_tx, commit_rx) = mpsc::channel::<()>();
    let first = {
        let store = store.clone();
        std::thread::spawn(move || {
            store.write(|c| {
                let stored = insert_header(c, 7, &hash, b"header", b"signature")?;
                let _ = inserted_tx.send(());
                let _ = commit_rx.recv_timeout(Duration::from_secs(10));
                Ok(stored)
            })
        })
    };
    inserted_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the first writer inserts");
    let second = {
        let store = store.clone();
        std::thread::spawn(move || {
            store.write(|c| insert_header(c, 7, &hash, b"header", b"signature"))
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    commit_tx.send(()).expect("the first writer waits");
    let first = first.join().expect("the first writer does not panic");
    let second = second.join().expect("the second writer does not panic");
    assert!(matches!(first, Ok(None)), "the first stores it: {first:?}");
    match second {
        Ok(Some(stored)) => assert_eq!(stored, hash.to_vec()),
        other => panic!("the second writer gets the stored header's hash, got {other:?}"),
    }
}

/// The replica that holds the follower's lease, from the shared database.
fn follower_holder(gateway: &Gateway) -> Option<String> {
    gateway
        .db()
        .texts("SELECT holder AS value FROM leases WHERE name = 'follower' AND expires_ms > (EXTRACT(EPOCH FROM now()) * 1000)::bigint")
        .into_iter()
        .next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_one_bank_and_the_follower_fails_over() {
    let ledger = Ledger::start().await;
    let (bank_a, first) = bank(&ledger, "bank-a", FLOAT).await;
    let second = Gateway::start(&ledger, &bank_a, "bank-a-2").await;
    let (_b, b) = bank(&ledger, "bank-b", FLOAT).await;

    // Both replicas see the same bank.
    let (wallet, _) = first.api.wallet_with_account(320_000).await;
    assert_eq!(
        second.api.wallet(wallet.id).await["address"],
        wallet.address.as_str()
    );
    fund_in_notes(&second.api, wallet.id, RACERS, 10_000).await;
    assert_eq!(first.api.balance(wallet.id).await, 320_000);
    let payee = b.api.open_wallet(&phone()).await;

    // Thirty-two payments at once, half through each replica.
    let apis = [first.api.clone(), second.api.clone()];
    let payments: Vec<(usize, u64)> = (0..RACERS).map(|i| (i % 2, 10_000)).collect();
    let race = race(&apis, wallet.id, &payee.address, &payments).await;
    assert_eq!(race.finals.len(), RACERS, "refused: {:?}", race.refused);
    assert_eq!(assert_each_once_on_the_ledger(&ledger, &race).await, RACERS);
    assert_eq!(first.api.balance(wallet.id).await, 0);
    assert_eq!(second.api.balance(wallet.id).await, 0);
    b.api.until_balance(payee.id, 320_000).await;
    b.api.until_height(ledger.height().await).await;
    assert_eq!(b.api.history(payee.id).await.len(), RACERS);

    // Credits before the follower's holder dies…
    let (sender, _) = b.api.funded_wallet(200_000).await;
    let incoming = first.api.open_wallet(&phone()).await;
    for _ in 0..2 {
        b.api.pay(sender.id, &incoming.address, 7_000).await;
    }
    first.api.until_balance(incoming.id, 14_000).await;
    let holder = eventually("a replica holds the follower's lease", || async {
        follower_holder(&first).ok_or_else(|| "no live lease".to_string())
    })
    .await;
    let (dead, survivor) = if holder == first.replica {
        (first, second)
    } else {
        assert_eq!(holder, second.replica, "the holder is one of the two");
        (second, first)
    };
    // One more lands as the holder dies (its credit may be half done).
    b.api.pay(sender.id, &incoming.address, 7_000).await;
    let dead_api = dead.api.clone();
    dead.kill().await;
    eventually("the killed replica answers no more", || async {
        if dead_api.reachable().await {
            Err("it still answers /healthz".to_string())
        } else {
            Ok(())
        }
    })
    .await;

    // …and after: the survivor takes the lease over and credits each once.
    for _ in 0..2 {
        b.api.pay(sender.id, &incoming.address, 7_000).await;
    }
    survivor.api.until_balance(incoming.id, 35_000).await;
    let now_holder = eventually("the survivor holds the follower's lease", || async {
        match follower_holder(&survivor) {
            Some(holder) if holder == survivor.replica => Ok(holder),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(now_holder, survivor.replica);
    survivor.api.until_height(ledger.height().await).await;
    let history = survivor.api.history(incoming.id).await;
    assert_eq!(
        amounts_oldest_first(&history),
        vec![7_000; 5],
        "five credits, each once: {history:?}"
    );
    assert_eq!(survivor.api.balance(incoming.id).await, 35_000);
    // The survivor still pays.
    survivor.api.pay(incoming.id, &payee.address, 5_000).await;
    assert_eq!(survivor.api.balance(incoming.id).await, 30_000);
    b.api.until_balance(payee.id, 325_000).await;
    survivor.api.assert_reconciled().await;
    b.api.assert_reconciled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_cut_off_by_a_crash_complete_once_on_the_other_replica() {
    const CUT: usize = 8;
    let ledger = Ledger::start().await;
    let (bank_a, survivor) = bank(&ledger, "bank-a", FLOAT).await;
    let doomed = Gateway::start(&ledger, &bank_a, "bank-a-doomed").await;
    let (_b, b) = bank(&ledger, "bank-b", 0).await;
    let (wallet, _) = survivor.api.wallet_with_account(80_000).await;
    fund_in_notes(&survivor.api, wallet.id, CUT, 10_000).await;
    let payee = b.api.open_wallet(&phone()).await;

    // Eight payments through one replica, which dies while they run (each
    // may be anywhere: not begun, reserved, built, sent, final).
    let keys: Vec<String> = (0..CUT).map(|_| key()).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, key) in keys.iter().enumerate() {
        let api = doomed.api.clone();
        let key = key.clone();
        let body = json!({ "to": payee.address, "amount": 10_000 });
        // Staggered, so the crash finds them at different steps.
        let delay = std::time::Duration::from_millis(25 * u64::try_from(index).unwrap_or(0));
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            api.try_call(
                Method::POST,
                &format!("/v1/wallets/{}/payments", wallet.id),
                Auth::Internal,
                Some(&key),
                Some(&body),
            )
            .await
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    doomed.kill().await;
    let states = survivor.db().texts(
        "SELECT state || ':' || count(*) AS value FROM operations WHERE kind = 'pay' GROUP BY state",
    );
    println!("payments at the crash, by state: {states:?}");
    let mut first_answers = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(answer) = joined.expect("a payment task does not panic") {
            if answer.status == 200 {
                first_answers.insert(int(&answer.body, "id"), answer.body);
            }
        }
    }

    println!("{} of {CUT} answered before the crash", first_answers.len());
    // The wallet API retries each with its key at the other replica: each
    // completes, once.
    let mut race = Race {
        finals: Vec::new(),
        refused: BTreeMap::new(),
        pending: Vec::new(),
    };
    for key in &keys {
        let answer = survivor
            .api
            .pay_raw(wallet.id, key, &payee.address, 10_000)
            .await;
        let payment = answer.expect(200, "the retry after the crash");
        let payment = survivor.api.until_final(wallet.id, payment).await;
        race.finals.push((
            int(&payment, "id"),
            payment["tx_id"].as_str().expect("a tx").to_string(),
        ));
    }
    for (id, _) in &race.finals {
        let answered = first_answers.get(id).map(|p| p["id"].clone());
        assert!(
            answered.is_none() || answered == Some(json!(id)),
            "a retry answers the first payment"
        );
    }
    assert_eq!(assert_each_once_on_the_ledger(&ledger, &race).await, CUT);
    assert_eq!(survivor.api.balance(wallet.id).await, 0);
    b.api.until_balance(payee.id, 80_000).await;
    b.api.until_height(ledger.height().await).await;
    assert_eq!(b.api.history(payee.id).await.len(), CUT);
    let history = survivor.api.history(wallet.id).await;
    let debits: Vec<i64> = history
        .iter()
        .map(|e| int(e, "amount"))
        .filter(|a| *a < 0)
        .collect();
    assert_eq!(debits, vec![-10_000; CUT], "{history:?}");
    survivor.api.until_height(ledger.height().await).await;
    survivor.api.assert_reconciled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gateway_that_was_down_credits_what_arrived_meanwhile_once() {
    let ledger = Ledger::start().await;
    let (bank_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let (_b, b) = bank(&ledger, "bank-b", FLOAT).await;
    let incoming = a.api.open_wallet(&phone()).await;
    let (sender, _) = b.api.funded_wallet(100_000).await;
    b.api.pay(sender.id, &incoming.address, 10_000).await;
    a.api.until_balance(incoming.id, 10_000).await;

    a.stop().await;
    b.api.pay(sender.id, &incoming.address, 20_000).await;
    b.api.pay(sender.id, &incoming.address, 30_000).await;
    let a = Gateway::start(&ledger, &bank_a, "bank-a-again").await;
    a.api.until_balance(incoming.id, 60_000).await;
    a.api.until_height(ledger.height().await).await;
    let history = a.api.history(incoming.id).await;
    assert_eq!(
        amounts_oldest_first(&history),
        vec![10_000, 20_000, 30_000],
        "{history:?}"
    );
    assert_eq!(a.api.float_balance().await, FLOAT);
    a.api.assert_reconciled().await;
}

// ---------------------------------------------------------------------------
// Bad input and the service's own routes

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_requests_are_refused_with_the_right_status_and_code() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let api = &a.api;
    let (wallet, account) = api.funded_wallet(100_000).await;
    let payee = api.open_wallet(&phone()).await;
    let unknown = wallet.id.max(payee.id) + 1_000;
    let mut found = Mismatches::new();
    let pay = |to: &str, amount: Value| json!({ "to": to, "amount": amount });
    let wallet_path = format!("/v1/wallets/{}", wallet.id);
    let payments = format!("{wallet_path}/payments");

    // Unknown things.
    let answer = api
        .internal(Method::GET, &format!("/v1/wallets/{unknown}"), None)
        .await;
    found.answer("an unknown wallet", &answer, 404, &["unknown_wallet"]);
    let answer = api
        .move_raw(unknown, "payments", &key(), &pay(&payee.address, json!(1)))
        .await;
    found.answer(
        "a payment from an unknown wallet",
        &answer,
        404,
        &["unknown_wallet"],
    );
    let answer = api
        .move_raw(unknown, "fund", &key(), &json!({"amount": 1}))
        .await;
    found.answer(
        "funding an unknown wallet",
        &answer,
        404,
        &["unknown_wallet"],
    );
    let answer = api
        .internal(Method::GET, &format!("{wallet_path}/payments/999999"), None)
        .await;
    found.answer("an unknown payment", &answer, 404, &[]);
    let answer = api
        .operator(Method::GET, "/v1/operator/customers/999999", None)
        .await;
    found.answer("an unknown customer", &answer, 404, &[]);
    let answer = api
        .operator(Method::GET, "/v1/operator/accounts/999999", None)
        .await;
    found.answer("an unknown account", &answer, 404, &[]);
    let float_id = wallet.id.min(payee.id) - 1;
    let answer = api
        .internal(Method::GET, &format!("/v1/wallets/{float_id}"), None)
        .await;
    found.answer("the float is no customer's wallet", &answer, 404, &[]);

    // Addresses.
    for bad in [
        "cbdc1notanaddress",
        "",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    ] {
        let answer = api
            .move_raw(wallet.id, "payments", &key(), &pay(bad, json!(1_000)))
            .await;
        found.answer(&format!("pay to {bad:?}"), &answer, 400, &[]);
    }
    // A valid address with its last character changed fails its checksum.
    let mut typo: Vec<char> = payee.address.chars().collect();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == 'q' { 'p' } else { 'q' };
    let typo: String = typo.into_iter().collect();
    let answer = api
        .move_raw(wallet.id, "payments", &key(), &pay(&typo, json!(1_000)))
        .await;
    found.answer("pay to a mistyped address", &answer, 400, &[]);

    // Amounts: the documented minimum is 1, and an amount is an integer.
    for amount in [json!(0), json!(-5), json!(1.5), json!("100"), json!(null)] {
        let answer = api
            .move_raw(
                wallet.id,
                "payments",
                &key(),
                &pay(&payee.address, amount.clone()),
            )
            .await;
        found.answer(&format!("pay an amount of {amount}"), &answer, 400, &[]);
    }
    for what in ["fund", "defund"] {
        let answer = api
            .move_raw(wallet.id, what, &key(), &json!({"amount": 0}))
            .await;
        found.answer(&format!("{what} zero"), &answer, 400, &[]);
    }

    // The Idempotency-Key.
    for what in ["payments", "fund", "defund"] {
        let body = if what == "payments" {
            pay(&payee.address, json!(1_000))
        } else {
            json!({"amount": 1_000})
        };
        let answer = api
            .call(
                Method::POST,
                &format!("{wallet_path}/{what}"),
                Auth::Internal,
                None,
                Some(&body),
            )
            .await;
        found.answer(
            &format!("{what} without an Idempotency-Key"),
            &answer,
            400,
            &["idempotency_key_required"],
        );
    }
    let answer = api
        .call(
            Method::POST,
            &payments,
            Auth::Internal,
            Some(""),
            Some(&pay(&payee.address, json!(1_000))),
        )
        .await;
    found.answer("an empty Idempotency-Key", &answer, 400, &[]);

    // Bodies.
    let answer = api
        .call_raw(
            Method::POST,
            &payments,
            Auth::Internal,
            Some(&key()),
            "application/json",
            b"{\"to\": ",
        )
        .await;
    found.answer("malformed JSON", &answer, 400, &[]);
    let answer = api
        .call(
            Method::POST,
            &payments,
            Auth::Internal,
            Some(&key()),
            Some(&json!({"to": payee.address, "amount": 1_000, "memo": "x"})),
        )
        .await;
    found.answer("an unknown field", &answer, 400, &[]);
    let answer = api
        .internal(Method::POST, "/v1/wallets", Some(&json!({})))
        .await;
    found.answer("a wallet without a phone", &answer, 400, &[]);
    let answer = api
        .internal(
            Method::POST,
            "/v1/wallets",
            Some(&json!({"phone": "call me"})),
        )
        .await;
    found.answer("a wallet for a bad phone", &answer, 400, &["bad_phone"]);
    let answer = api
        .internal(Method::GET, &format!("{wallet_path}/history?limit=0"), None)
        .await;
    found.answer("a history page of none", &answer, 400, &[]);
    let answer = api
        .move_raw(
            wallet.id,
            "payments",
            &key(),
            &pay(&wallet.address, json!(1_000)),
        )
        .await;
    found.check(answer.status == 422 || answer.status == 400, || {
        format!("a wallet pays itself: {}", answer.describe())
    });

    // Credentials.
    let answer = api
        .call(Method::GET, &wallet_path, Auth::None, None, None)
        .await;
    found.answer("no token", &answer, 401, &["unauthorized"]);
    let answer = api
        .call(
            Method::GET,
            &wallet_path,
            Auth::Header("Bearer not-a-token"),
            None,
            None,
        )
        .await;
    found.answer("a wrong token", &answer, 401, &["unauthorized"]);
    let answer = api
        .call(
            Method::GET,
            &wallet_path,
            Auth::Header("Basic dXNlcjpwYXNz"),
            None,
            None,
        )
        .await;
    found.answer("not a bearer token", &answer, 401, &["unauthorized"]);
    let answer = api
        .call(Method::GET, &wallet_path, Auth::Operator, None, None)
        .await;
    found.answer(
        "the operator token on the internal API",
        &answer,
        403,
        &["forbidden"],
    );
    let answer = api
        .call(
            Method::GET,
            "/v1/operator/float",
            Auth::Internal,
            None,
            None,
        )
        .await;
    found.answer(
        "the internal token on the operator API",
        &answer,
        403,
        &["forbidden"],
    );
    let answer = api
        .call(Method::GET, "/v1/operator/float", Auth::None, None, None)
        .await;
    found.answer(
        "no token on the operator API",
        &answer,
        401,
        &["unauthorized"],
    );
    let answer = api
        .call(
            Method::POST,
            &payments,
            Auth::Header("Bearer wrong"),
            Some(&key()),
            Some(&pay(&payee.address, json!(1_000))),
        )
        .await;
    found.answer(
        "a payment with a wrong token",
        &answer,
        401,
        &["unauthorized"],
    );
    let answer = api
        .call(
            Method::POST,
            &payments,
            Auth::Operator,
            Some(&key()),
            Some(&pay(&payee.address, json!(1_000))),
        )
        .await;
    found.answer(
        "a payment with the operator's token",
        &answer,
        403,
        &["forbidden"],
    );

    // Operator input.
    let tier = format!("/v1/operator/customers/{}/tier", wallet.customer_id);
    let answer = api
        .operator(Method::POST, &tier, Some(&json!({"tier": "verified"})))
        .await;
    found.answer("verified without a national id", &answer, 400, &[]);
    let answer = api
        .operator(
            Method::POST,
            &tier,
            Some(&json!({"tier": "platinum", "national_id": "X1"})),
        )
        .await;
    found.answer("an unknown tier", &answer, 400, &[]);
    let answer = api
        .operator(
            Method::POST,
            &format!("/v1/operator/accounts/{account}/deposits"),
            Some(&json!({"amount": 0, "reference": "zero"})),
        )
        .await;
    found.answer("a deposit of zero", &answer, 400, &[]);
    let other = api.open_wallet(&phone()).await;
    let answer = api
        .operator(
            Method::POST,
            &format!("/v1/operator/wallets/{}/link", other.id),
            Some(&json!({ "account_id": account })),
        )
        .await;
    found.check(answer.status == 422 || answer.status == 400, || {
        format!("linking another customer's account: {}", answer.describe())
    });
    let answer = api
        .operator(
            Method::POST,
            &format!("/v1/operator/held/{}/release", "ab".repeat(32)),
            None,
        )
        .await;
    found.answer("releasing an unknown note", &answer, 404, &[]);
    let answer = api
        .operator(Method::POST, "/v1/operator/held/XYZ/release", None)
        .await;
    found.answer("releasing a malformed note id", &answer, 400, &[]);

    // None of it moved money.
    found.equal("the wallet", api.balance(wallet.id).await, 100_000);
    found.equal("the payee", api.balance(payee.id).await, 0);
    found.equal("the deposit", api.account_balance(account).await, 0);
    found.equal("the float", api.float_balance().await, FLOAT - 100_000);
    let books = api.reconciliation().await;
    found.check(books["ok"] == true, || format!("reconciliation: {books}"));
    found.finish("bad requests");
}

/// `/v1/wallets/{wallet_id}` → `/v1/wallets/{}`.
fn without_parameter_names(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_service_routes_answer() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", 0).await;
    let api = &a.api;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let answer = api.call(Method::GET, path, Auth::None, None, None).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.describe());
    }
    let answer = api
        .call(Method::GET, "/openapi.json", Auth::None, None, None)
        .await;
    let document = answer.expect(200, "the OpenAPI document");
    let paths = document["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("an OpenAPI document with paths: {document}"));
    let listed: BTreeSet<String> = paths.keys().map(|p| without_parameter_names(p)).collect();
    for path in [
        "/v1/wallets",
        "/v1/wallets/{}",
        "/v1/wallets/{}/history",
        "/v1/wallets/{}/payments",
        "/v1/wallets/{}/payments/{}",
        "/v1/wallets/{}/fund",
        "/v1/wallets/{}/defund",
        "/v1/operator/customers",
        "/v1/operator/float",
        "/v1/operator/reconciliation",
        "/v1/operator/position",
    ] {
        assert!(
            listed.contains(path),
            "the document lists {path}: {listed:?}"
        );
    }
    // The same phone is the same customer, with a new wallet.
    let number = phone();
    let first = api.open_wallet(&number).await;
    let second = api.open_wallet(&number).await;
    assert_eq!(first.customer_id, second.customer_id);
    assert_ne!(first.id, second.id);
    assert_ne!(first.address, second.address);
    let customer = api.customer(first.customer_id).await;
    let wallets: BTreeSet<i64> = customer["wallets"]
        .as_array()
        .unwrap_or_else(|| panic!("a customer lists its wallets: {customer}"))
        .iter()
        .map(|w| {
            w["wallet_id"]
                .as_i64()
                .or_else(|| w["id"].as_i64())
                .expect("a wallet id")
        })
        .collect();
    assert_eq!(wallets, BTreeSet::from([first.id, second.id]), "{customer}");
    let other = api.open_wallet(&phone()).await;
    let mut listed = Vec::new();
    let mut after = 0;
    for _ in 0..10 {
        let page = api
            .operator(
                Method::GET,
                &format!("/v1/operator/customers?after={after}&limit=1"),
                None,
            )
            .await
            .expect(200, "a page of customers");
        for customer in page["customers"].as_array().into_iter().flatten() {
            listed.push(int(customer, "customer_id"));
        }
        match page["next"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(
        listed,
        vec![first.customer_id, other.customer_id],
        "customers by id, one per page"
    );
    let chain = api.chain().await;
    assert!(
        chain["alarm"].is_null(),
        "no alarm on a fresh chain: {chain}"
    );
}

// ---------------------------------------------------------------------------
// The books

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_books_reconcile_and_the_position_proves_the_holdings_after_everything() {
    let ledger = Ledger::start().await;
    let (_a, a) = bank(&ledger, "bank-a", FLOAT).await;
    let (_b, b) = bank(&ledger, "bank-b", FLOAT / 2).await;

    let (alice, alice_account) = a.api.funded_wallet(800_000).await;
    let (bob, _) = b.api.funded_wallet(600_000).await;
    let (carol, carol_account) = b.api.funded_wallet(950_000).await;
    let dave = a.api.open_wallet(&phone()).await;

    a.api.pay(alice.id, &bob.address, 150_000).await; // bob 750,000
    b.api.pay(bob.id, &alice.address, 50_000).await; // alice 700,000
    a.api.pay(alice.id, &dave.address, 20_000).await; // alice 680,000
    a.api.pay(alice.id, &carol.address, 100_000).await; // carol 1,050,000 → swept 50,000
    a.api.defund(alice.id, 80_000).await; // alice 500,000
    let refused = a.api.pay_raw(alice.id, &key(), &bob.address, 200_001).await;
    assert_refused(&refused, "per_payment_limit", "too much");
    a.api.freeze(dave.id, true).await;
    b.api.pay(bob.id, &dave.address, 5_000).await; // held at A; bob 695,000

    a.api.until_balance(alice.id, 500_000).await;
    b.api.until_balance(bob.id, 695_000).await;
    b.api.until_balance(carol.id, ANONYMOUS_BALANCE_MAX).await;
    eventually("carol's excess reaches her deposit", || async {
        let deposit = b.api.account_balance(carol_account).await;
        if deposit == 50_000 {
            Ok(())
        } else {
            Err(format!("deposit {deposit}"))
        }
    })
    .await;
    eventually("bank A holds dave's note", || async {
        let held = a.api.held().await;
        if held.len() == 1 {
            Ok(())
        } else {
            Err(format!("{held:?}"))
        }
    })
    .await;
    let height = ledger.height().await;
    a.api.until_height(height).await;
    b.api.until_height(height).await;
    assert_eq!(a.api.balance(dave.id).await, 20_000);
    assert_eq!(a.api.account_balance(alice_account).await, 80_000);
    assert_eq!(a.api.float_balance().await, FLOAT - 800_000 + 80_000);
    assert_eq!(
        b.api.float_balance().await,
        FLOAT / 2 - 600_000 - 950_000 + 50_000
    );

    for gateway in [&a, &b] {
        let flagged = gateway
            .api
            .operator(Method::GET, "/v1/operator/flagged", None)
            .await
            .expect(200, "the flagged notes");
        assert_eq!(flagged, json!([]), "nothing flagged");
    }
    let a_books = a.api.assert_reconciled().await;
    let b_books = b.api.assert_reconciled().await;
    assert_eq!(
        money(&a_books, "wallets_total"),
        500_000 + 20_000,
        "{a_books}"
    );
    assert_eq!(money(&a_books, "float"), FLOAT - 720_000, "{a_books}");
    assert_eq!(
        money(&b_books, "wallets_total"),
        695_000 + ANONYMOUS_BALANCE_MAX,
        "{b_books}"
    );

    // Each bank's position proof opens against the ledger's commitments, and
    // between them the two banks hold every cent in circulation.
    let a_total = check_position(&ledger, &a.api.position().await).await;
    let b_total = check_position(&ledger, &b.api.position().await).await;
    assert_eq!(a_total, money(&a_books, "notes_total"), "{a_books}");
    assert_eq!(b_total, money(&b_books, "notes_total"), "{b_books}");
    assert_eq!(a_total + b_total, ledger.outstanding().await);
    assert_eq!(a_total + b_total, FLOAT + FLOAT / 2);
    // Bank A's notes are its wallets', its float's, and the held one.
    assert_eq!(a_total, 520_000 + (FLOAT - 720_000) + 5_000);
}

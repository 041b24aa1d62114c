//! End to end (issue 12): the central bank's ledger, two banks' gateways and
//! the wallet API, each a real server on a fresh PostgreSQL database, driven
//! only over HTTP — as a wallet app (`WalletApiClient`, its app key
//! registered through the operator API) and as the banks' staff
//! (`GatewayClient` with the operator token).
//!
//! - [`the_demo_scenario_runs_end_to_end`]: `cbdc demo`'s story — wallets
//!   at both banks, funding, a payment across banks (its notification on the
//!   event stream), a merchant's payment request paid by the URI read back
//!   from its QR code, the waterfall, a defund, the missed notifications
//!   after a reconnect, then the supply audit and both banks' position
//!   proofs and reconciliations — every balance checked at every step.
//! - [`every_refusal_answers_its_status_and_code`]: one world (one bank),
//!   every way an app can be refused, each by its exact status and code:
//!   app keys, the operator's token, wallet tokens (missing, wrong, another
//!   wallet's, another app's, expired, revoked by the app and by an
//!   operator, a revoked app's), limits and bad payments, idempotency keys
//!   replayed with another body, malformed bodies, payment requests
//!   (expired, cancelled, unknown, one's own, a tampered URI, and two payers
//!   racing for one), then a restart with a tiny rate limit (429 with
//!   `Retry-After`) and tokens that live a second.
//! - Four `#[ignore]`d tests, each what the README promises and the service
//!   does not do yet (the reason says which); `cargo test --test e2e --
//!   --ignored` runs them.
//!
//! The two that run share nothing and run at once: about 56 PostgreSQL
//! connections between them (each service's pool holds 8).
//!
//! Amounts are minor units. A new wallet is *anonymous* (holds at most
//! 1,000,000, pays at most 200,000 at once and 500,000 a day); *verified*
//! holds 50,000,000 and pays 5,000,000 at once.

#[path = "../bank-gateway/tests/support/mod.rs"]
mod gateway_support;

mod e2e_support;

use std::time::Duration;

use e2e_support::*;
use gateway_support::eventually;
use reqwest::Method;
use serde_json::Value;
use wallet_api::client::{WalletApiClient, WalletSession};
use wallet_api::config::Rate;
use wallet_api::wire::{
    AppView, NewPaymentRequest, PaymentRequestView, PaymentRequestsPage, PaymentState,
    RequestState, Revoked,
};

const ANONYMOUS_BALANCE_MAX: u64 = 1_000_000;
const ANONYMOUS_PER_PAYMENT_MAX: u64 = 200_000;
const VERIFIED_BALANCE_MAX: u64 = 50_000_000;

fn now_ms() -> i64 {
    wallet_api::store::now_ms()
}

// ---------------------------------------------------------------------------
// The demo's scenario

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_scenario_runs_end_to_end() {
    const FLOAT_A: u64 = 10_000_000;
    const FLOAT_B: u64 = 1_000_000;
    let world = World::start(&[("bank-a", FLOAT_A), ("bank-b", FLOAT_B)]).await;
    let (a, b) = (world.bank("bank-a"), world.bank("bank-b"));
    let api = &world.client;

    // The operator lists the app it registered; the app lists the banks.
    let apps: Vec<AppView> = operator_client(&world.base())
        .call::<(), _>(
            Method::GET,
            "/v1/operator/apps",
            Some(&world.operator_token),
            None,
            None,
        )
        .await
        .expect("the operator lists the apps");
    assert_eq!(apps.len(), 1, "{apps:?}");
    assert_eq!(apps[0].app_id, world.app.app_id);
    assert_eq!(apps[0].revoked_ms, None);
    let banks = api.banks().await.expect("the banks");
    let ids: Vec<&str> = banks.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["bank-a", "bank-b"], "{banks:?}");
    assert_eq!(banks[0].name, "Bank bank-a");

    // Alice at bank A, a merchant at bank B.
    let (alice, opened) = open_wallet(api, "bank-a").await;
    let alice_address = opened.address.clone();
    let ttl_ms = opened.token_expires_ms - now_ms();
    assert!(
        (29 * 86_400_000..=30 * 86_400_000).contains(&ttl_ms),
        "a token lives 30 days: {opened:?}"
    );
    let (merchant, opened) = open_wallet(api, "bank-b").await;
    let merchant_address = opened.address.clone();
    for (who, w, address) in [
        ("Alice", &alice, &alice_address),
        ("the merchant", &merchant, &merchant_address),
    ] {
        let info = api.wallet(w).await.expect("read a new wallet");
        assert_eq!(&info.address, address, "{who}: {info:?}");
        assert_eq!(info.wallet_id, w.wallet_id, "{who}: {info:?}");
        assert_eq!((info.balance, info.held), (0, 0), "{who}: {info:?}");
        assert_eq!(info.tier, "anonymous", "{who}: {info:?}");
        assert!(!info.linked_account && !info.frozen, "{who}: {info:?}");
        assert_eq!(info.limits.balance_max, ANONYMOUS_BALANCE_MAX, "{who}");
    }

    // Each bank's staff readies its customer.
    let alice_account = bank_customer(
        a,
        &alice_address,
        Some(("verified", "DE-E2E-ALICE")),
        3_000_000,
    )
    .await;
    let info = api.wallet(&alice).await.expect("Alice's wallet");
    assert_eq!(info.tier, "verified", "{info:?}");
    assert!(info.linked_account, "{info:?}");
    assert_eq!(info.limits.balance_max, VERIFIED_BALANCE_MAX, "{info:?}");
    let merchant_account = bank_customer(b, &merchant_address, None, 0).await;
    let info = api.wallet(&merchant).await.expect("the merchant's wallet");
    assert!(info.linked_account, "{info:?}");
    let limit = info.limits.balance_max;
    assert_eq!(limit, ANONYMOUS_BALANCE_MAX);

    // The merchant's app listens for notifications from now on.
    let mut events = EventStream::open(&world.base(), &world.app.app_key, &merchant, None).await;

    // Alice funds her wallet from her deposit account.
    let fund_key = key("fund");
    let funded = move_final(api, &alice, "fund", &fund_key, 2_000_000).await;
    assert_eq!(funded.amount, 2_000_000, "{funded:?}");
    assert_receipt(&world.ledger, &funded);
    assert_eq!(balance(api, &alice).await, 2_000_000);
    until_deposit(a, alice_account, 1_000_000).await;
    until_float(a, FLOAT_A - 2_000_000).await;
    // The same key with the same body: the same fund, nothing moves twice.
    let again = api
        .move_money(&alice, "fund", &fund_key, 2_000_000)
        .await
        .expect("the same fund again");
    assert_eq!(again.payment_id, funded.payment_id, "{again:?}");
    assert_eq!(again.state, PaymentState::Final, "{again:?}");
    assert_eq!(balance(api, &alice).await, 2_000_000);
    until_deposit(a, alice_account, 1_000_000).await;

    // Alice pays the merchant across banks.
    let pay_key = key("pay");
    let paid = pay_final(api, &alice, &pay_key, &to(&merchant_address, 150_000)).await;
    assert_eq!(paid.kind, "pay", "{paid:?}");
    assert_eq!(paid.payee.as_deref(), Some("other_bank"), "{paid:?}");
    assert_eq!(
        paid.to.as_deref(),
        Some(merchant_address.as_str()),
        "{paid:?}"
    );
    assert_receipt(&world.ledger, &paid);
    assert_eq!(balance(api, &alice).await, 1_850_000);
    let again = api
        .pay(&alice, &pay_key, &to(&merchant_address, 150_000))
        .await
        .expect("the same payment again");
    assert_eq!(again.payment_id, paid.payment_id, "{again:?}");
    assert_eq!(again.state, PaymentState::Final, "{again:?}");
    // Bank B saw the note on the ledger's feed and credited the merchant;
    // the merchant's app is told.
    let credit = events.next_event().await;
    assert_eq!(credit.event.as_deref(), Some("credit"), "{credit:?}");
    let entry: Value = serde_json::from_str(&credit.data).expect("an entry as JSON");
    assert_eq!(entry["amount"], 150_000, "{entry}");
    assert_eq!(entry["balance_after"], 150_000, "{entry}");
    let first_credit = credit.id.expect("an event id");
    assert_eq!(entry["id"], first_credit, "{entry}");
    drop(events);
    until_balance(api, "the merchant", &merchant, 150_000).await;
    assert_eq!(balance(api, &alice).await, 1_850_000);

    // The merchant asks for 25,000: a URI, shown as a QR code.
    let asked = api
        .create_request(
            &merchant,
            &NewPaymentRequest {
                amount: 25_000,
                reference: Some("Coffee and cake".into()),
                expires_in_s: Some(600),
            },
        )
        .await
        .expect("a payment request");
    assert!(is_id(&asked.request_id, "rq_", 32), "{asked:?}");
    assert_eq!(asked.state, RequestState::Open, "{asked:?}");
    assert_eq!((asked.amount, &asked.address), (25_000, &merchant_address));
    assert_eq!(
        asked.uri,
        format!(
            "cbdc:{merchant_address}?amount=25000&ref=Coffee%20and%20cake&req={}&exp={}",
            asked.request_id,
            asked.expires_ms / 1000
        ),
        "{asked:?}"
    );
    let expires_in = asked.expires_ms - now_ms();
    assert!((590_000..=601_000).contains(&expires_in), "{asked:?}");
    let seen = api
        .request(&asked.request_id)
        .await
        .expect("the payer reads it");
    assert_eq!(
        (seen.uri.as_str(), seen.state),
        (asked.uri.as_str(), RequestState::Open)
    );
    let png = api
        .request_qr(&asked.request_id, "png")
        .await
        .expect("its QR code");
    let scanned = decode_qr(&png);
    assert_eq!(scanned, asked.uri, "the QR code holds the URI");
    let svg = api
        .request_qr(&asked.request_id, "svg")
        .await
        .expect("its QR code as SVG");
    assert!(String::from_utf8_lossy(&svg).contains("<svg"), "an SVG");
    let open = merchant_requests(api, &merchant, "open").await;
    assert_eq!(ids_of(&open), [asked.request_id.as_str()]);

    // Alice pays it by the URI she scanned.
    let answer = api
        .pay(&alice, &key("uri"), &uri(&scanned))
        .await
        .expect("Alice pays the URI");
    assert_eq!(
        answer.request_id.as_deref(),
        Some(asked.request_id.as_str()),
        "{answer:?}"
    );
    let by_uri = until_final(api, &alice, answer).await;
    assert_eq!(by_uri.amount, 25_000, "{by_uri:?}");
    assert_eq!(by_uri.to.as_deref(), Some(merchant_address.as_str()));
    assert_receipt(&world.ledger, &by_uri);
    assert_eq!(balance(api, &alice).await, 1_825_000);
    until_balance(api, "the merchant", &merchant, 175_000).await;
    let seen = api.request(&asked.request_id).await.expect("the request");
    assert_eq!(seen.state, RequestState::Paid, "{seen:?}");
    assert!(seen.paid_ms.is_some(), "{seen:?}");
    assert!(merchant_requests(api, &merchant, "open").await.is_empty());
    let paid_requests = merchant_requests(api, &merchant, "paid").await;
    assert_eq!(ids_of(&paid_requests), [asked.request_id.as_str()]);

    // Past the merchant's holding limit: its wallet stops at the limit and
    // the excess is swept to its deposit account (the waterfall).
    let over = limit - 175_000 + 50_000;
    let waterfall = pay_final(api, &alice, &key("waterfall"), &to(&merchant_address, over)).await;
    assert_eq!(waterfall.amount, over, "{waterfall:?}");
    assert_eq!(balance(api, &alice).await, 1_825_000 - over);
    until_balance(api, "the merchant", &merchant, limit).await;
    until_deposit(b, merchant_account, 50_000).await;
    until_float(b, FLOAT_B + 50_000).await;

    // The merchant defunds 300,000 to its deposit account.
    let defunded = move_final(api, &merchant, "defund", &key("defund"), 300_000).await;
    assert_receipt(&world.ledger, &defunded);
    assert_eq!(balance(api, &merchant).await, limit - 300_000);
    until_deposit(b, merchant_account, 350_000).await;
    until_float(b, FLOAT_B + 350_000).await;

    // The merchant's app comes back: every entry after the one it saw.
    let mut events = EventStream::open(
        &world.base(),
        &world.app.app_key,
        &merchant,
        Some(first_credit),
    )
    .await;
    let mut missed = Vec::new();
    for _ in 0..4 {
        let event = events.next_event().await;
        let entry: Value = serde_json::from_str(&event.data).expect("an entry as JSON");
        assert_eq!(entry["id"].as_i64(), event.id, "{event:?}");
        missed.push((
            event.event.unwrap_or_default(),
            entry["amount"].as_i64().unwrap_or(0),
        ));
    }
    drop(events);
    let want: Vec<(String, i64)> = [
        ("credit", 25_000),
        ("credit", i64::try_from(over).expect("small")),
        ("debit", -50_000),
        ("debit", -300_000),
    ]
    .into_iter()
    .map(|(kind, amount)| (kind.to_string(), amount))
    .collect();
    assert_eq!(missed, want, "the events missed while away");

    // Every balance, once more, and the histories that led to them.
    let alice_left = 2_000_000 - 150_000 - 25_000 - over;
    assert_eq!(balance(api, &alice).await, alice_left);
    assert_eq!(balance(api, &merchant).await, limit - 300_000);
    until_deposit(a, alice_account, 1_000_000).await;
    until_deposit(b, merchant_account, 350_000).await;
    until_float(a, FLOAT_A - 2_000_000).await;
    until_float(b, FLOAT_B + 350_000).await;
    let over_signed = i64::try_from(over).expect("small");
    assert_eq!(
        history_amounts(api, &alice).await,
        [2_000_000, -150_000, -25_000, -over_signed]
    );
    assert_eq!(
        history_amounts(api, &merchant).await,
        [150_000, 25_000, over_signed, -50_000, -300_000]
    );

    // The ledger's supply audit, and each bank's position and books.
    world.ledger.audit_ok().await;
    assert_eq!(world.ledger.outstanding().await, FLOAT_A + FLOAT_B);
    let total_a = checked_position(&world.ledger, a).await;
    let total_b = checked_position(&world.ledger, b).await;
    assert_eq!(
        total_a,
        FLOAT_A - 2_000_000 + alice_left,
        "bank A's position"
    );
    assert_eq!(
        total_b,
        FLOAT_B + 350_000 + (limit - 300_000),
        "bank B's position"
    );
    assert_eq!(
        total_a + total_b,
        FLOAT_A + FLOAT_B,
        "all the money is held"
    );
    assert_reconciled(a).await;
    assert_reconciled(b).await;
    world.stop().await;
}

async fn merchant_requests(
    api: &WalletApiClient,
    w: &WalletSession,
    state: &str,
) -> Vec<PaymentRequestView> {
    let page: PaymentRequestsPage = api
        .call::<(), _>(
            Method::GET,
            &format!("/v1/wallets/{}/requests?state={state}", w.wallet_id),
            Some(&w.token),
            None,
            None,
        )
        .await
        .expect("the wallet's requests");
    page.requests
}

fn ids_of(requests: &[PaymentRequestView]) -> Vec<&str> {
    requests.iter().map(|r| r.request_id.as_str()).collect()
}

// ---------------------------------------------------------------------------
// Refusals

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_refusal_answers_its_status_and_code() {
    const FLOAT_A: u64 = 10_000_000;
    // One bank is enough to be refused by (and keeps the connections few).
    let mut world = World::start(&[("bank-a", FLOAT_A)]).await;
    let a = world.bank("bank-a");
    let api = &world.client;
    let base = world.base();

    // Alice and Carol pay, Bob is paid (all at bank A).
    let (alice, opened) = open_wallet(api, "bank-a").await;
    bank_customer(a, &opened.address, None, 1_000_000).await;
    move_final(api, &alice, "fund", &key("fund"), 600_000).await;
    let (carol, opened) = open_wallet(api, "bank-a").await;
    bank_customer(a, &opened.address, None, 100_000).await;
    move_final(api, &carol, "fund", &key("fund"), 100_000).await;
    let (bob, opened) = open_wallet(api, "bank-a").await;
    let bob_address = opened.address.clone();
    assert_eq!(balance(api, &alice).await, 600_000);
    assert_eq!(balance(api, &carol).await, 100_000);
    assert_eq!(balance(api, &bob).await, 0);

    // --- apps -----------------------------------------------------------
    let (app_id, _) = world.app.app_key.split_once('.').expect("an app key");
    for (what, app_key) in [
        ("no key", String::new()),
        (
            "an unknown app",
            format!("app_{:016x}.secret", rand::random::<u64>()),
        ),
        ("a wrong secret", format!("{app_id}.not-the-secret")),
        ("no secret", format!("{app_id}.")),
        ("not a key", "nonsense".to_string()),
    ] {
        let stranger = WalletApiClient::new(&base, &app_key);
        refused(stranger.banks().await, 401, "unknown_app", what);
        refused(stranger.wallet(&alice).await, 401, "unknown_app", what);
    }
    let bare = reqwest::get(format!("{base}/v1/banks"))
        .await
        .expect("an answer without an app key");
    assert_eq!(bare.status(), 401, "no X-Cbdc-App-Key header");
    let body: Value = bare.json().await.expect("an error body");
    assert_eq!(
        body["code"], "unknown_app",
        "no X-Cbdc-App-Key header: {body}"
    );

    // The operator's routes want the operator's token.
    let operator = operator_client(&base);
    refused(
        operator
            .call::<(), Vec<AppView>>(Method::GET, "/v1/operator/apps", None, None, None)
            .await,
        401,
        "unauthorized",
        "the operator's routes without a token",
    );
    refused(
        operator
            .call::<(), Vec<AppView>>(
                Method::GET,
                "/v1/operator/apps",
                Some("not-the-operator-token"),
                None,
                None,
            )
            .await,
        401,
        "unauthorized",
        "the operator's routes with a wrong token",
    );
    refused(
        api.call::<(), Vec<AppView>>(
            Method::GET,
            "/v1/operator/apps",
            Some(&alice.token),
            None,
            None,
        )
        .await,
        401,
        "unauthorized",
        "the operator's routes with a wallet token",
    );

    // Opening a wallet at a bank that is not configured, or for a
    // malformed phone number.
    refused(
        api.open_wallet("bank-z", &phone()).await,
        404,
        "unknown_bank",
        "an unknown bank",
    );
    refused(
        api.open_wallet("bank-a", "0151 1234567").await,
        400,
        "bad_phone",
        "a malformed phone number",
    );

    // --- wallet tokens --------------------------------------------------
    let no_token = WalletSession {
        wallet_id: alice.wallet_id.clone(),
        token: String::new(),
    };
    let unauthenticated: Result<Value, _> = api
        .call::<(), _>(
            Method::GET,
            &format!("/v1/wallets/{}", alice.wallet_id),
            None,
            None,
            None,
        )
        .await;
    refused(unauthenticated, 401, "token_required", "no token");
    refused(
        api.wallet(&no_token).await,
        401,
        // `Authorization: Bearer ` with nothing after it is no token.
        "token_required",
        "an empty token",
    );
    for (what, token) in [
        (
            "an unknown token",
            format!("wt_{:064x}", rand::random::<u128>()),
        ),
        ("a malformed token", "wt_nonsense".to_string()),
    ] {
        let session = WalletSession {
            wallet_id: alice.wallet_id.clone(),
            token,
        };
        refused(api.wallet(&session).await, 401, "bad_token", what);
        refused(
            api.pay(&session, &key("bad"), &to(&bob_address, 1)).await,
            401,
            "bad_token",
            what,
        );
    }
    // A valid token of another wallet.
    let alice_token_on_bob = WalletSession {
        wallet_id: bob.wallet_id.clone(),
        token: alice.token.clone(),
    };
    refused(
        api.wallet(&alice_token_on_bob).await,
        403,
        "wrong_wallet",
        "Alice's token on Bob's wallet",
    );
    refused(
        api.pay(
            &alice_token_on_bob,
            &key("theft"),
            &to(&opened_address(api, &alice).await, 1),
        )
        .await,
        403,
        "wrong_wallet",
        "paying from Bob's wallet with Alice's token",
    );
    refused(
        api.history(&alice_token_on_bob, None).await,
        403,
        "wrong_wallet",
        "Bob's history with Alice's token",
    );
    // A token issued through another app.
    let other = register_app(&base, &world.operator_token, "another app").await;
    let other_api = WalletApiClient::new(&base, &other.app_key);
    let (dora, _) = open_wallet(&other_api, "bank-a").await;
    other_api.wallet(&dora).await.expect("its own app reads it");
    refused(
        api.wallet(&dora).await,
        401,
        "bad_token",
        "a token of another app's wallet",
    );
    refused(
        other_api.wallet(&alice).await,
        401,
        "bad_token",
        "Alice's token through another app",
    );

    // An expired token.
    let (erin, _) = open_wallet(api, "bank-a").await;
    api.wallet(&erin).await.expect("a fresh token works");
    let expired = world.api().db().execute(&format!(
        "UPDATE wallet_tokens SET expires_ms = 0 WHERE wallet_id = '{}'",
        erin.wallet_id
    ));
    assert_eq!(expired, 1);
    refused(
        api.wallet(&erin).await,
        401,
        "token_expired",
        "an expired token",
    );
    refused(
        api.move_money(&erin, "fund", &key("fund"), 1).await,
        401,
        "token_expired",
        "funding with an expired token",
    );

    // A token its app revoked, and a wallet whose tokens an operator revoked.
    let (fay, _) = open_wallet(api, "bank-a").await;
    let revoked: Revoked = api
        .call::<(), _>(
            Method::DELETE,
            &format!("/v1/wallets/{}/token", fay.wallet_id),
            Some(&fay.token),
            None,
            None,
        )
        .await
        .expect("the app revokes its token");
    assert_eq!(revoked.revoked, 1);
    refused(
        api.wallet(&fay).await,
        401,
        "token_revoked",
        "a revoked token",
    );
    let (gus, _) = open_wallet(api, "bank-a").await;
    let revoked: Revoked = operator
        .call::<(), _>(
            Method::POST,
            &format!("/v1/operator/wallets/{}/revoke-tokens", gus.wallet_id),
            Some(&world.operator_token),
            None,
            None,
        )
        .await
        .expect("the operator revokes the wallet's tokens");
    assert_eq!(revoked.revoked, 1);
    refused(
        api.wallet(&gus).await,
        401,
        "token_revoked",
        "tokens revoked by an operator",
    );
    refused(
        operator
            .call::<(), Revoked>(
                Method::POST,
                &format!("/v1/operator/wallets/w_{:032x}/revoke-tokens", 0),
                Some(&world.operator_token),
                None,
                None,
            )
            .await,
        404,
        "unknown_wallet",
        "revoking an unknown wallet's tokens",
    );

    // A revoked app: its key, and every token it holds, stop working.
    let revoked: Revoked = operator
        .call::<(), _>(
            Method::POST,
            &format!("/v1/operator/apps/{}/revoke", other.app_id),
            Some(&world.operator_token),
            None,
            None,
        )
        .await
        .expect("the operator revokes an app");
    assert_eq!(revoked.revoked, 1);
    refused(other_api.banks().await, 401, "unknown_app", "a revoked app");
    refused(
        other_api.wallet(&dora).await,
        401,
        "unknown_app",
        "a revoked app's wallet",
    );
    refused(
        operator
            .call::<(), Revoked>(
                Method::POST,
                &format!("/v1/operator/apps/app_{:016x}/revoke", 0),
                Some(&world.operator_token),
                None,
                None,
            )
            .await,
        404,
        "unknown_app",
        "revoking an unknown app",
    );
    let apps: Vec<AppView> = operator
        .call::<(), _>(
            Method::GET,
            "/v1/operator/apps",
            Some(&world.operator_token),
            None,
            None,
        )
        .await
        .expect("the apps");
    let states: Vec<(&str, bool)> = apps
        .iter()
        .map(|app| (app.app_id.as_str(), app.revoked_ms.is_some()))
        .collect();
    assert!(
        states.contains(&(world.app.app_id.as_str(), false)),
        "{apps:?}"
    );
    assert!(states.contains(&(other.app_id.as_str(), true)), "{apps:?}");
    // The app still registered is unaffected.
    api.wallet(&alice).await.expect("Alice's app still works");

    // --- limits and bad payments -----------------------------------------
    let answer = api
        .pay(
            &alice,
            &key("over"),
            &to(&bob_address, ANONYMOUS_PER_PAYMENT_MAX + 1),
        )
        .await;
    let error = answer.as_ref().err().map(extra).unwrap_or_default();
    refused(
        answer,
        422,
        "per_payment_limit",
        "one cent past the per-payment limit",
    );
    assert_eq!(
        error.get("limit"),
        Some(&Value::from("per_payment")),
        "{error:?}"
    );
    assert_eq!(
        error.get("remaining"),
        Some(&Value::from(ANONYMOUS_PER_PAYMENT_MAX)),
        "{error:?}"
    );
    refused(
        api.pay(&carol, &key("broke"), &to(&bob_address, 100_001))
            .await,
        422,
        "insufficient_funds",
        "paying more than the balance",
    );
    refused(
        api.pay(&alice, &key("bad-address"), &to("cbdc1nonsense", 1_000))
            .await,
        400,
        "bad_address",
        "paying a malformed address",
    );
    refused(
        api.pay(&alice, &key("zero"), &to(&bob_address, 0)).await,
        400,
        "bad_amount",
        "paying nothing",
    );
    let no_key: Result<Value, _> = api
        .call(
            Method::POST,
            &format!("/v1/wallets/{}/payments", alice.wallet_id),
            Some(&alice.token),
            None,
            Some(&to(&bob_address, 1_000)),
        )
        .await;
    refused(
        no_key,
        400,
        "idempotency_key_required",
        "paying without a key",
    );
    assert_eq!(balance(api, &alice).await, 600_000);
    assert_eq!(balance(api, &carol).await, 100_000);

    // --- idempotency ----------------------------------------------------
    let replayed = key("replay");
    let first = pay_final(api, &alice, &replayed, &to(&bob_address, 1_000)).await;
    let again = api
        .pay(&alice, &replayed, &to(&bob_address, 1_000))
        .await
        .expect("the same key and body");
    assert_eq!(again.payment_id, first.payment_id, "{again:?}");
    refused(
        api.pay(&alice, &replayed, &to(&bob_address, 2_000)).await,
        409,
        "idempotency_conflict",
        "the same key with another amount",
    );
    refused(
        api.pay(
            &alice,
            &replayed,
            &to(&opened_address(api, &carol).await, 1_000),
        )
        .await,
        409,
        "idempotency_conflict",
        "the same key to another payee",
    );
    refused(
        api.move_money(&alice, "fund", &replayed, 1_000).await,
        409,
        "idempotency_conflict",
        "the same key on another route",
    );
    assert_eq!(balance(api, &alice).await, 599_000);
    until_balance(api, "Bob", &bob, 1_000).await;
    // Keys are each wallet's own: Alice's key in Carol's wallet is Carol's.
    let carols = pay_final(api, &carol, &replayed, &to(&bob_address, 1_000)).await;
    assert_ne!(carols.payment_id, first.payment_id, "{carols:?}");
    assert_eq!(balance(api, &carol).await, 99_000);
    assert_eq!(balance(api, &alice).await, 599_000);
    until_balance(api, "Bob", &bob, 2_000).await;
    // A payment is read through its own wallet only.
    refused(
        api.payment(&carol, first.payment_id).await,
        404,
        "unknown_payment",
        "Alice's payment read through Carol's wallet",
    );

    // --- malformed requests ---------------------------------------------
    let app_header = (wallet_api::auth::APP_KEY_HEADER, world.app.app_key.as_str());
    let bearer = format!("Bearer {}", alice.token);
    let pay_path = format!("/v1/wallets/{}/payments", alice.wallet_id);
    let wallet_headers = [
        app_header,
        ("authorization", bearer.as_str()),
        ("idempotency-key", "e2e-malformed"),
    ];
    let huge = format!(r#"{{"to": "{}", "amount": 1}}"#, " ".repeat(17 * 1024)).into_bytes();
    assert_eq!(
        raw(
            &base,
            Method::POST,
            &pay_path,
            &wallet_headers,
            Some(("application/json", huge))
        )
        .await,
        (413, "body_too_large".to_string()),
        "a body past 16 KiB"
    );
    let form = b"to=x&amount=1".to_vec();
    assert_eq!(
        raw(
            &base,
            Method::POST,
            &pay_path,
            &wallet_headers,
            Some(("application/x-www-form-urlencoded", form))
        )
        .await,
        (415, "unsupported_media_type".to_string()),
        "a body that is not JSON"
    );
    let broken = b"{\"to\": ".to_vec();
    assert_eq!(
        raw(
            &base,
            Method::POST,
            &pay_path,
            &wallet_headers,
            Some(("application/json", broken))
        )
        .await,
        (400, "invalid_json".to_string()),
        "JSON cut short"
    );
    let events_path = format!("/v1/wallets/{}/events", alice.wallet_id);
    assert_eq!(
        raw(
            &base,
            Method::GET,
            &events_path,
            &[
                app_header,
                ("authorization", bearer.as_str()),
                ("last-event-id", "yesterday")
            ],
            None
        )
        .await,
        (400, "bad_last_event_id".to_string()),
        "a Last-Event-ID that is no event's"
    );
    assert_eq!(balance(api, &alice).await, 599_000);

    // --- payment requests -----------------------------------------------
    let ask = |amount: u64| {
        let bob = bob.clone();
        async move {
            api.create_request(
                &bob,
                &NewPaymentRequest {
                    amount,
                    reference: None,
                    expires_in_s: None,
                },
            )
            .await
            .expect("a payment request")
        }
    };
    // Expired: its expiry moved into the past in the API's database.
    let stale = ask(5_000).await;
    assert_eq!(
        world.api().db().execute(&format!(
            "UPDATE payment_requests SET expires_ms = 1000 WHERE id = '{}'",
            stale.request_id
        )),
        1
    );
    let seen = api.request(&stale.request_id).await.expect("the request");
    assert_eq!(seen.state, RequestState::Expired, "{seen:?}");
    refused(
        api.pay(&alice, &key("stale"), &request(&stale.request_id))
            .await,
        409,
        "request_expired",
        "paying an expired request",
    );
    refused(
        api.pay(
            &alice,
            &key("stale-uri"),
            &uri(&format!("cbdc:{bob_address}?amount=5000&exp=1")),
        )
        .await,
        409,
        "request_expired",
        "paying an expired URI",
    );
    // Cancelled.
    let cancelled = ask(6_000).await;
    let view: PaymentRequestView = api
        .call::<(), _>(
            Method::POST,
            &format!(
                "/v1/wallets/{}/requests/{}/cancel",
                bob.wallet_id, cancelled.request_id
            ),
            Some(&bob.token),
            None,
            None,
        )
        .await
        .expect("Bob cancels");
    assert_eq!(view.state, RequestState::Cancelled, "{view:?}");
    refused(
        api.pay(&alice, &key("cancelled"), &request(&cancelled.request_id))
            .await,
        409,
        "request_cancelled",
        "paying a cancelled request",
    );
    // Unknown, one's own, and a URI that does not match its request.
    refused(
        api.pay(&alice, &key("unknown"), &request(&format!("rq_{:032x}", 0)))
            .await,
        404,
        "unknown_request",
        "paying an unknown request",
    );
    let open = ask(20_000).await;
    refused(
        api.pay(&bob, &key("own"), &request(&open.request_id)).await,
        422,
        "own_request",
        "paying one's own request",
    );
    let tampered = open.uri.replace("amount=20000", "amount=2000");
    assert_ne!(tampered, open.uri);
    refused(
        api.pay(&alice, &key("tampered"), &uri(&tampered)).await,
        400,
        "uri_mismatch",
        "a URI whose amount is not its request's",
    );
    assert_eq!(balance(api, &alice).await, 599_000);

    // Two payers race for one request: exactly one pays it.
    let (alice_key, carol_key) = (key("race"), key("race"));
    let body = request(&open.request_id);
    let (by_alice, by_carol) = tokio::join!(
        api.pay(&alice, &alice_key, &body),
        api.pay(&carol, &carol_key, &body)
    );
    let (winner, winner_start, loser, loser_start, won, lost) = match (&by_alice, &by_carol) {
        (Ok(_), Err(_)) => (&alice, 599_000, &carol, 99_000, by_alice, by_carol),
        (Err(_), Ok(_)) => (&carol, 99_000, &alice, 599_000, by_carol, by_alice),
        _ => panic!("exactly one payer wins: {by_alice:?} / {by_carol:?}"),
    };
    refused(lost, 409, "request_paid", "the payer who lost the race");
    let won = won.expect("the winner's payment");
    assert_eq!(won.request_id.as_deref(), Some(open.request_id.as_str()));
    let won = until_final(api, winner, won).await;
    assert_eq!(won.amount, 20_000);
    refused(
        api.pay(loser, &key("late"), &request(&open.request_id))
            .await,
        409,
        "request_paid",
        "paying a paid request",
    );
    let seen = eventually("the request is paid", || async {
        match api.request(&open.request_id).await {
            Ok(seen) if seen.state == RequestState::Paid => Ok(seen),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(seen.paid_ms.is_some(), "{seen:?}");
    assert_eq!(balance(api, winner).await, winner_start - 20_000);
    assert_eq!(balance(api, loser).await, loser_start);
    until_balance(api, "Bob", &bob, 22_000).await;
    let page: PaymentRequestsPage = api
        .call::<(), _>(
            Method::GET,
            &format!("/v1/wallets/{}/requests", bob.wallet_id),
            Some(&bob.token),
            None,
            None,
        )
        .await
        .expect("Bob's requests");
    // By amount: requests made in the same millisecond have no order.
    let mut bob_view: Vec<(u64, RequestState)> =
        page.requests.iter().map(|r| (r.amount, r.state)).collect();
    bob_view.sort_by_key(|(amount, _)| *amount);
    assert_eq!(
        bob_view,
        [
            (5_000, RequestState::Expired),
            (6_000, RequestState::Cancelled),
            (20_000, RequestState::Paid)
        ]
    );

    // The books after all of it.
    assert_eq!(balance(api, &bob).await, 22_000);
    world.ledger.audit_ok().await;
    assert_eq!(world.ledger.outstanding().await, FLOAT_A);
    assert_eq!(checked_position(&world.ledger, a).await, FLOAT_A);
    assert_reconciled(a).await;

    // --- a tiny rate limit and a short token life -------------------------
    // The wallet API restarted on the same database (its apps, wallets and
    // tokens) with two calls a token, then one a second, and tokens that
    // live a second.
    let mut config = world.api_config();
    config.token_rate = Rate {
        per_second: 1,
        burst: 2,
    };
    config.token_ttl = Duration::from_secs(1);
    let first = world.api.take().expect("the wallet API runs");
    let db = first.db().clone();
    first.stop().await;
    let tiny = WalletApiServer::start(config, db).await;
    let tiny_api = WalletApiClient::new(&tiny.base, &world.app.app_key);
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(tiny_api.wallet(&alice).await);
    }
    let limited = answers.pop().expect("three answers");
    for answer in answers {
        answer.expect("within the burst");
    }
    let retry_after = match &limited {
        Err(wallet_api::client::ClientError::Answered { retry_after, .. }) => *retry_after,
        _ => None,
    };
    refused(limited, 429, "rate_limited", "past the token's burst");
    assert!(
        retry_after.is_some_and(|s| (1..=2).contains(&s)),
        "Retry-After in whole seconds: {retry_after:?}"
    );
    // Another token has its own bucket.
    tiny_api
        .wallet(&carol)
        .await
        .expect("Carol's token is not limited");
    let (hal, opened) = open_wallet(&tiny_api, "bank-a").await;
    let ttl_ms = opened.token_expires_ms - now_ms();
    assert!((0..=1_000).contains(&ttl_ms), "a token of 1 s: {opened:?}");
    eventually("Hal's token expires", || async {
        match tiny_api.wallet(&hal).await {
            Err(e) if e.code() == Some("token_expired") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    refused(
        tiny_api.wallet(&hal).await,
        401,
        "token_expired",
        "a token past its 1 s",
    );
    tiny.stop().await;
    world.stop().await;
}

/// A wallet's address as its app reads it.
async fn opened_address(api: &WalletApiClient, w: &WalletSession) -> String {
    api.wallet(w).await.expect("read a wallet").address
}

// ---------------------------------------------------------------------------
// What the README promises and the service does not do yet

/// A world of one bank with Alice (anonymous, 600,000 in her wallet) and Bob
/// (empty), both at bank A.
async fn alice_and_bob() -> (World, WalletSession, WalletSession, String) {
    let world = World::start(&[("bank-a", 10_000_000)]).await;
    let api = &world.client;
    let (alice, opened) = open_wallet(api, "bank-a").await;
    bank_customer(world.bank("bank-a"), &opened.address, None, 1_000_000).await;
    move_final(api, &alice, "fund", &key("fund"), 600_000).await;
    let (bob, opened) = open_wallet(api, "bank-a").await;
    (world, alice, bob, opened.address)
}

/// README, "Paying": the same key with the same route and body returns the
/// first result — for a payment request too, once it is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "bug: replaying a paid request's Idempotency-Key answers 409 request_paid, not the first payment (service.rs pay_request)"]
async fn a_paid_requests_key_replayed_answers_its_first_payment() {
    let (world, alice, bob, _) = alice_and_bob().await;
    let api = &world.client;
    let asked = api
        .create_request(
            &bob,
            &NewPaymentRequest {
                amount: 10_000,
                reference: None,
                expires_in_s: None,
            },
        )
        .await
        .expect("a payment request");
    let paying = key("request");
    let first = pay_final(api, &alice, &paying, &request(&asked.request_id)).await;
    let seen = api.request(&asked.request_id).await.expect("the request");
    assert_eq!(seen.state, RequestState::Paid, "{seen:?}");
    // Alice's app lost the answer and asks again with the same key.
    let again = api
        .pay(&alice, &paying, &request(&asked.request_id))
        .await
        .expect("the same key and body answer the first result");
    assert_eq!(again.payment_id, first.payment_id, "{again:?}");
    assert_eq!(balance(api, &alice).await, 590_000);
    until_balance(api, "Bob", &bob, 10_000).await;
    world.stop().await;
}

/// README, "Paying": a refusal by the daily limit is `422 per_day_limit`,
/// with `limit` and `remaining`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daily_limit_refuses_as_documented() {
    let (world, alice, bob, bob_address) = alice_and_bob().await;
    let api = &world.client;
    for _ in 0..2 {
        pay_final(api, &alice, &key("day"), &to(&bob_address, 200_000)).await;
    }
    let answer = api
        .pay(&alice, &key("day"), &to(&bob_address, 100_001))
        .await;
    let error = answer.as_ref().err().map(extra).unwrap_or_default();
    refused(
        answer,
        422,
        "per_day_limit",
        "past what is left of the day's limit",
    );
    assert_eq!(
        error.get("remaining"),
        Some(&Value::from(100_000)),
        "{error:?}"
    );
    assert_eq!(balance(api, &alice).await, 200_000);
    until_balance(api, "Bob", &bob, 400_000).await;
    world.stop().await;
}

/// `GET /v1/wallets/{id}/payments/{payment_id}` answers the payment as
/// paying it did, with the request it paid (`request_id`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "bug: GET …/payments/{id} answers request_id null for a payment of a request (service.rs payment)"]
async fn a_payment_read_back_names_the_request_it_paid() {
    let (world, alice, bob, _) = alice_and_bob().await;
    let api = &world.client;
    let asked = api
        .create_request(
            &bob,
            &NewPaymentRequest {
                amount: 10_000,
                reference: None,
                expires_in_s: None,
            },
        )
        .await
        .expect("a payment request");
    let paid = pay_final(api, &alice, &key("request"), &request(&asked.request_id)).await;
    let read = api
        .payment(&alice, paid.payment_id)
        .await
        .expect("the payment read back");
    assert_eq!(
        read.request_id.as_deref(),
        Some(asked.request_id.as_str()),
        "{read:?}"
    );
    world.stop().await;
}

/// `Running::stop`: requests in flight finish and open notification
/// streams are closed — promptly, not after the server's 30 s grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "bug: Running::stop waits out actix's 30 s shutdown grace while a notification stream is open"]
async fn stopping_the_wallet_api_closes_its_notification_streams() {
    let (mut world, alice, _, _) = alice_and_bob().await;
    let mut events = EventStream::open(&world.base(), &world.app.app_key, &alice, None).await;
    let api = world.api.take().expect("the wallet API runs");
    let started = std::time::Instant::now();
    api.stop().await;
    let took = started.elapsed();
    assert!(events.ended().await, "the client's stream ends");
    assert!(took < Duration::from_secs(5), "the stop took {took:?}");
    world.stop().await;
}

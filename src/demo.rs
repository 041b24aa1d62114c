//! `cbdc demo`: the two-tier flow, step by step, against a running devnet.
//!
//! It reads the devnet's `devnet.json` (the URLs of the ledger, both
//! gateways and the wallet API) and its key directory (an officer's key, the
//! gateways' operator tokens, the demo app's key), then, printing each step
//! as it happens: opens a wallet at each bank through the wallet API (Alice
//! at bank A, a merchant at bank B); has each bank's staff verify its
//! customer, open and link a deposit account, and take a cash deposit; funds
//! Alice; pays across banks (the merchant's notification arrives); has the
//! merchant ask for a payment and Alice pay it by its `cbdc:` URI (the QR
//! code written to a file); pays the merchant past its holding limit, so the
//! excess is swept to its deposit account (the waterfall); defunds; and ends
//! with the ledger's supply audit and both banks' position proofs checked.
//! Every balance is checked against what it must be; any difference stops
//! the demo with an error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use gateway_client::GatewayClient;
use ledger_client::LedgerClient;
use wallet_api::client::{WalletApiClient, WalletSession};
use wallet_api::wire::{NewPaymentRequest, PayBody, PaymentState};

use crate::keys;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// The running devnet's data directory.
    #[arg(long, default_value = "data/devnet")]
    pub data_dir: PathBuf,
}

/// What a running devnet writes for `cbdc demo` (`devnet.json`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DevnetUrls {
    pub ledger: String,
    pub gateways: Vec<(String, String)>,
    pub wallet_api: String,
}

fn secrets(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (is the devnet running? `cargo run --release -- devnet` first)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn field(value: &serde_json::Value, name: &str, path: &Path) -> Result<String> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{} has no {name}", path.display()))
}

struct Demo {
    api: WalletApiClient,
    started: Instant,
}

impl Demo {
    fn step(&self, text: &str) {
        println!("[{:>6.2} s] {text}", self.started.elapsed().as_secs_f64());
    }

    /// Waits (at most 30 s) until the wallet's balance is `want`.
    async fn balance_is(&self, who: &str, w: &WalletSession, want: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let info = self.api.wallet(w).await?;
            if info.balance == want {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{who}'s balance is {}, not {want}", info.balance);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until a payment is final (asking the bank by its id).
    async fn final_payment(
        &self,
        w: &WalletSession,
        mut p: wallet_api::wire::Payment,
    ) -> Result<wallet_api::wire::Payment> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while p.state == PaymentState::Pending {
            if Instant::now() > deadline {
                bail!(
                    "payment {} still pending after 30 s: {:?}",
                    p.payment_id,
                    p.pending_reason
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            p = self.api.payment(w, p.payment_id).await?;
        }
        if p.state != PaymentState::Final {
            bail!("payment {} ended {:?}", p.payment_id, p.state);
        }
        Ok(p)
    }
}

fn key(what: &str) -> String {
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!("demo-{what}-{}", hex::encode(bytes))
}

fn phone() -> String {
    let mut bytes = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!("+49151{:08}", u32::from_le_bytes(bytes) % 100_000_000)
}

/// A customer at a bank, made ready by the bank's staff: an optional tier
/// upgrade, a deposit account with cash in it, linked to the wallet.
async fn bank_customer(
    gateway: &GatewayClient,
    wallet: &wallet_api::wire::WalletInfo,
    tier: Option<(&str, &str)>,
    cash: u64,
) -> Result<i64> {
    // As a branch does: the customer by the wallet's address.
    let detail = gateway.customer_by_address(&wallet.address).await?;
    let customer_id = detail.customer.customer_id;
    if let Some((tier, national_id)) = tier {
        gateway
            .set_tier(customer_id, tier, Some(national_id))
            .await?;
    }
    let account = gateway.open_account(customer_id).await?;
    if cash > 0 {
        gateway
            .cash_deposit(account.account_id, cash, &key("cash"))
            .await?;
    }
    let gw_wallet = detail
        .wallets
        .iter()
        .find(|w| w.address == wallet.address)
        .context("the customer's wallet")?;
    gateway
        .link(gw_wallet.wallet_id, Some(account.account_id))
        .await?;
    Ok(account.account_id)
}

pub async fn run(args: DemoArgs) -> Result<()> {
    let dir = &args.data_dir;
    let urls_path = dir.join("devnet.json");
    let urls: DevnetUrls = serde_json::from_value(secrets(&urls_path)?)
        .with_context(|| format!("{} is not a devnet's URL file", urls_path.display()))?;
    let api_path = dir.join("keys").join("wallet-api.json");
    let api_secrets = secrets(&api_path)?;
    let api = WalletApiClient::new(
        &urls.wallet_api,
        &field(&api_secrets, "app_key", &api_path)?,
    );
    let mut gateways = Vec::new();
    for (bank, url) in &urls.gateways {
        let path = dir.join("keys").join(format!("{bank}-gateway.json"));
        let s = secrets(&path)?;
        gateways.push((
            bank.clone(),
            GatewayClient::new(url, &field(&s, "internal_token", &path)?)
                .with_operator_token(&field(&s, "operator_token", &path)?),
        ));
    }
    if gateways.len() < 2 {
        bail!("the demo needs the devnet's two banks (it runs without --no-gateways)");
    }
    let officer = LedgerClient::new(
        &urls.ledger,
        keys::load_signing(&dir.join("keys").join("officer-1.json"))?,
    );
    let demo = Demo {
        api,
        started: Instant::now(),
    };
    let (bank_a, gateway_a) = (&gateways[0].0, &gateways[0].1);
    let (bank_b, gateway_b) = (&gateways[1].0, &gateways[1].1);

    demo.step(&format!(
        "the wallet API lists the banks: {:?}",
        demo.api
            .banks()
            .await?
            .iter()
            .map(|b| &b.id)
            .collect::<Vec<_>>()
    ));
    let opened = demo.api.open_wallet(bank_a, &phone()).await?;
    let alice = WalletSession {
        wallet_id: opened.wallet_id.clone(),
        token: opened.token.clone(),
    };
    demo.step(&format!(
        "Alice opens a wallet at {bank_a}: {} ({}, tier {})",
        opened.wallet_id, opened.address, opened.tier
    ));
    let opened = demo.api.open_wallet(bank_b, &phone()).await?;
    let merchant = WalletSession {
        wallet_id: opened.wallet_id.clone(),
        token: opened.token.clone(),
    };
    demo.step(&format!(
        "a merchant opens a wallet at {bank_b}: {} (tier {})",
        opened.wallet_id, opened.tier
    ));
    let alice_info = demo.api.wallet(&alice).await?;
    let merchant_info = demo.api.wallet(&merchant).await?;

    bank_customer(
        gateway_a,
        &alice_info,
        Some(("verified", "DE-DEMO-ALICE")),
        3_000_000,
    )
    .await?;
    demo.step(&format!(
        "{bank_a} verifies Alice (ID), opens her deposit account with 3,000,000 in cash, links it"
    ));
    let merchant_account = bank_customer(gateway_b, &merchant_info, None, 0).await?;
    let limit = demo.api.wallet(&merchant).await?.limits.balance_max;
    demo.step(&format!("{bank_b} opens the merchant's deposit account and links it (the wallet holds at most {limit})"));

    let funded = demo
        .api
        .move_money(&alice, "fund", &key("fund"), 2_000_000)
        .await?;
    demo.final_payment(&alice, funded).await?;
    demo.balance_is("Alice", &alice, 2_000_000).await?;
    demo.step(
        "Alice funds her wallet with 2,000,000 from her deposit account: final on the ledger",
    );

    let paid = demo
        .api
        .pay(
            &alice,
            &key("pay"),
            &PayBody {
                to: Some(merchant_info.address.clone()),
                amount: Some(150_000),
                request_id: None,
                uri: None,
            },
        )
        .await?;
    let paid = demo.final_payment(&alice, paid).await?;
    demo.step(&format!(
        "Alice pays the merchant 150,000 across banks: final, tx {}",
        paid.tx_id.unwrap_or_default()
    ));
    demo.balance_is("the merchant", &merchant, 150_000).await?;
    demo.step(&format!("{bank_b} saw the note on the ledger's feed, opened its memo and credited the merchant: 150,000"));

    let request = demo
        .api
        .create_request(
            &merchant,
            &NewPaymentRequest {
                amount: 25_000,
                reference: Some("Coffee and cake".into()),
                expires_in_s: Some(600),
            },
        )
        .await?;
    let png = demo.api.request_qr(&request.request_id, "png").await?;
    let qr_path = dir.join("demo-request.png");
    std::fs::write(&qr_path, &png).with_context(|| format!("writing {}", qr_path.display()))?;
    demo.step(&format!(
        "the merchant asks for 25,000: {}\n            its QR code is {}",
        request.uri,
        qr_path.display()
    ));
    let by_uri = demo
        .api
        .pay(
            &alice,
            &key("uri"),
            &PayBody {
                to: None,
                amount: None,
                request_id: None,
                uri: Some(request.uri.clone()),
            },
        )
        .await?;
    demo.final_payment(&alice, by_uri).await?;
    demo.balance_is("the merchant", &merchant, 175_000).await?;
    let state = demo.api.request(&request.request_id).await?.state;
    demo.step(&format!(
        "Alice pays it by its URI: the request is {}; the merchant holds 175,000",
        serde_json::to_value(state)?.as_str().unwrap_or("?")
    ));

    let over = limit.saturating_sub(175_000) + 50_000;
    let paid = demo
        .api
        .pay(
            &alice,
            &key("waterfall"),
            &PayBody {
                to: Some(merchant_info.address.clone()),
                amount: Some(over),
                request_id: None,
                uri: None,
            },
        )
        .await?;
    demo.final_payment(&alice, paid).await?;
    demo.balance_is("the merchant", &merchant, limit).await?;
    let deposit = wait_deposit(gateway_b, merchant_account, 50_000).await?;
    demo.step(&format!("Alice pays {over} more: the merchant's wallet stops at its limit {limit}, the excess {deposit} is swept to its deposit account (the waterfall)"));

    let defunded = demo
        .api
        .move_money(&merchant, "defund", &key("defund"), 300_000)
        .await?;
    demo.final_payment(&merchant, defunded).await?;
    demo.balance_is("the merchant", &merchant, limit - 300_000)
        .await?;
    let deposit = wait_deposit(gateway_b, merchant_account, 350_000).await?;
    demo.step(&format!(
        "the merchant defunds 300,000: wallet {}, deposit account {deposit}",
        limit - 300_000
    ));
    demo.balance_is("Alice", &alice, 2_000_000 - 150_000 - 25_000 - over)
        .await?;

    let audit = officer.audit().await?;
    if audit["state"] != "passed" {
        bail!("the supply audit failed: {}", audit["problem"]);
    }
    let supply = officer.supply().await?;
    demo.step(&format!(
        "the ledger's supply audit passed: {} blocks, {} transactions re-verified, outstanding {}",
        audit["blocks"], audit["transactions"], supply["audited"]["outstanding"]
    ));
    for (bank, gateway) in &gateways {
        let position: bank_gateway::report::Position =
            serde_json::from_value(gateway.position().await?)?;
        let check = bank_gateway::report::verify_position(&officer, &position)
            .await
            .map_err(anyhow::Error::msg)?;
        if !check.ok {
            bail!(
                "{bank}'s position proof does not check: {:?}",
                check.problems
            );
        }
        let reconciliation = gateway.reconciliation().await?;
        if reconciliation["ok"] != true {
            bail!("{bank}'s reconciliation found differences: {reconciliation}");
        }
        demo.step(&format!("{bank}'s position proof checks against the ledger ({} notes, {} minor units) and its books reconcile", check.notes, position.total));
    }
    println!("\nthe two-tier flow worked end to end");
    Ok(())
}

/// Waits (at most 30 s) until a deposit account holds at least `want`.
async fn wait_deposit(gateway: &GatewayClient, account: i64, want: u64) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let balance = gateway.account(account).await?.balance;
        if balance >= want {
            return Ok(balance);
        }
        if Instant::now() > deadline {
            bail!("deposit account {account} holds {balance}, not {want}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

//! `cbdc devnet`: the whole ledger on one machine with nothing installed.
//!
//! Starts the ledger on an embedded SQLite file under the data directory (or on
//! `DATABASE_URL`), creates three officer keys (two must approve an issuance) and a
//! demo bank, admits the bank, issues it money through the real maker–checker
//! flow over HTTP, has the bank pay a demo customer, audits the ledger and prints
//! what is where. Then it keeps serving until interrupted (or exits with `--once`).
//! Running it again on the same data directory reuses the keys and the database.

use crate::keys;
use crate::serve::{bind, open_ledger, OfficerConfig, Settings};
use anyhow::{bail, Context, Result};
use ledger_core::{build_transfer, Amount, Memo, OwnedNote, Payment, Transaction};
use ledger_service::client::LedgerClient;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct DevnetArgs {
    /// Where the database and key files live.
    #[arg(long, default_value = "data/devnet")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7400")]
    pub listen: String,
    /// Set up, audit, print, and exit instead of serving.
    #[arg(long)]
    pub once: bool,
    /// Amount to issue to the demo bank, in minor units.
    #[arg(long, default_value_t = 100_000_000)]
    pub issue: u64,
}

const BANK_ID: &str = "demo-bank";

pub async fn run(args: DevnetArgs) -> Result<()> {
    if args.issue == 0 {
        bail!("--issue must be positive");
    }
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir.join("keys"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let database_url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => dir.join("ledger.sqlite").to_string_lossy().into_owned(),
    };
    let officer_files: Vec<PathBuf> = (1..=3)
        .map(|i| dir.join(format!("keys/officer-{i}.json")))
        .collect();
    let officers = officer_files
        .iter()
        .map(|p| keys::signing_or_create(p))
        .collect::<Result<Vec<_>>>()?;
    let bank = keys::wallet_or_create(&dir.join("keys/demo-bank.json"))?;
    let customer = keys::wallet_or_create(&dir.join("keys/demo-customer.json"))?;

    let settings = Settings {
        listen: args.listen.clone(),
        database_url: database_url.clone(),
        block_key: dir.join("keys/ledger.json"),
        threshold: 2,
        workers: 2,
        supply_ceiling: ledger_service::ledger::SUPPLY_CEILING_DEFAULT,
        audit_every_blocks: ledger_service::ledger::AUDIT_EVERY_BLOCKS_DEFAULT,
        officers: officers
            .iter()
            .enumerate()
            .map(|(i, k)| OfficerConfig {
                id: format!("officer-{}", i + 1),
                name: Some(format!("Officer {}", i + 1)),
                key: hex::encode(k.public_key().as_bytes()),
            })
            .collect(),
    };
    // The address first: a devnet that cannot listen must not found a journal.
    let listener = bind(&settings.listen)?;
    let ledger = open_ledger(&settings).with_context(|| {
        format!(
            "the devnet in {} cannot start (remove the directory to start a fresh devnet)",
            dir.display()
        )
    })?;
    let ledger_key = ledger.public_key();
    let store = ledger.store().clone();
    let address = listener.local_addr()?;
    let server = ledger_service::server::serve(ledger, listener, settings.workers)?;
    let handle = server.handle();
    let mut serving = tokio::spawn(server);
    let base = format!("http://{address}");

    let officer1 = LedgerClient::new(&base, officers[0].clone());
    let officer2 = LedgerClient::new(&base, officers[1].clone());
    let bank_client = LedgerClient::new(&base, bank.spend.clone());

    match officer1
        .admit(
            BANK_ID,
            "Demo Bank",
            ledger_core::governance::Role::Bank,
            &bank.spend.public_key(),
            Some(&bank.view.public_key()),
            &[],
        )
        .await
    {
        Ok(_) => println!("admitted bank {BANK_ID}"),
        Err(e) if e.code() == Some("participant_exists") => {
            println!("bank {BANK_ID} already admitted")
        }
        Err(e) => return Err(e.into()),
    }

    let proposal = officer1.propose(BANK_ID, Amount::new(args.issue)).await?;
    let proposal_id = proposal["id"].as_str().context("proposal id")?.to_string();
    officer1.approve(&proposal_id).await?;
    let executed = officer2.approve(&proposal_id).await?;
    if executed["state"] != "executed" {
        bail!("the issuance did not execute after two approvals: {executed}");
    }
    let receipt: ledger_core::Receipt = serde_json::from_value(executed["receipt"].clone())?;
    receipt
        .verify(&ledger_key)
        .context("the issue receipt does not verify")?;
    println!(
        "issued {} minor units to {BANK_ID} (proposal {proposal_id}, block {})",
        args.issue, receipt.block.height
    );

    // The bank pays a customer a tenth of the issue from the issued note.
    let answer = bank_client.transaction(&receipt.tx_id).await?;
    let issue_tx: Transaction = serde_json::from_value(answer["transaction"].clone())?;
    let Transaction::Issue(issue) = issue_tx else {
        bail!("the receipt is not of an issue");
    };
    let notes: Vec<OwnedNote> = issue.owned_notes();
    let payment = Amount::new((args.issue / 10).max(1));
    let built = build_transfer(
        std::slice::from_ref(&bank.spend),
        &notes,
        &[Payment {
            to: customer.address(),
            amount: payment,
        }],
        &bank.address(),
        &mut rand::rngs::OsRng,
    )?;
    let paid = bank_client.submit(&built.tx).await?;
    paid.verify(&ledger_key)
        .context("the payment receipt does not verify")?;
    let customer_output = built
        .outputs
        .iter()
        .find(|o| !o.change)
        .context("payment output")?;
    let note = bank_client.note(&customer_output.note).await?;
    let memo_bytes = hex::decode(note["memo"].as_str().unwrap_or_default())?;
    let memo = Memo::from_bytes(
        &memo_bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("memo length"))?,
    )?;
    let opened = memo.open(&customer.view, &customer_output.commitment())?;
    println!(
        "{BANK_ID} paid the demo customer {} minor units (tx {}); the customer opened the memo: {}",
        payment,
        paid.tx_id,
        opened.value()
    );

    let audit = officer1.audit().await?;
    if audit["state"] != "passed" {
        bail!("the audit failed: {}", audit["problem"]);
    }
    let supply = officer1.supply().await?;
    println!();
    println!("ledger        {base}  (OpenAPI at {base}/openapi.json, metrics at {base}/metrics)");
    println!("database      {database_url}");
    println!("ledger key    {}", hex::encode(ledger_key.as_bytes()));
    println!("keys          {}", dir.join("keys").display());
    let audited = &supply["audited"];
    let total = |value: &serde_json::Value| -> u64 {
        value.as_str().and_then(|t| t.parse().ok()).unwrap_or(0)
    };
    println!(
        "supply        issued {}, redeemed {}, outstanding {}",
        total(&audited["issued"]),
        total(&audited["redeemed"]),
        audited["outstanding"]
    );
    println!(
        "audited       at block {}, every transaction re-verified; supply ceiling {}",
        audited["height"], supply["supply_ceiling"]
    );
    println!(
        "audit         {}",
        serde_json::json!({
            "blocks": audit["blocks"],
            "transactions": audit["transactions"],
            "unspent_notes": audit["unspent_notes"],
            "issued": total(&audit["issued"]),
            "redeemed": total(&audit["redeemed"]),
            "outstanding": audit["outstanding"],
        })
    );
    println!(
        "audit again   cargo run --release -- audit --database-url {database_url} --ledger-key {}",
        dir.join("keys/ledger.json").display()
    );

    if !args.once {
        println!("\nserving; Ctrl-C stops");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => { handle.stop(true).await; }
            result = &mut serving => { result??; }
        }
    }
    handle.stop(true).await;
    let _ = serving.await;
    store.checkpoint()?;
    Ok(())
}

//! `cbdc devnet`: the whole ledger on one machine with nothing installed.
//!
//! Starts the ledger on an embedded SQLite file under the data directory (or on
//! `DATABASE_URL`), creates three officer keys (two must approve an issuance) and a
//! demo bank, admits the bank, issues it money through the real maker–checker
//! flow over HTTP, has the bank pay a demo customer, audits the ledger and prints
//! what is where and what to run next. Then it keeps serving until SIGINT or
//! SIGTERM (or exits with `--once`), and checkpoints the database on the way out.
//!
//! Running it again on the same data directory reuses the keys and the database:
//! the first run is the one whose database had no journal yet. Keys are created
//! only then — afterwards a missing key file is an error, never a new key (the
//! journal names the old ones) — and money is issued only while the demo bank
//! has never held any, which the ledger itself says (its event feed), so a
//! rerun neither issues again nor needs a marker file that could lie.

use crate::keys;
use crate::serve::{bind, open_ledger, serve_until_shutdown, OfficerConfig, Settings, Shutdown};
use anyhow::{bail, Context, Result};
use ledger_core::{
    build_transfer, Amount, Commitment, Memo, NoteId, OwnedNote, Payment, SecretKey, Transaction,
    WalletKeys,
};
use ledger_service::client::LedgerClient;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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
    /// Amount to issue to the demo bank on the first run, in minor units (a rerun
    /// issues nothing; `cbdc issue` issues more).
    #[arg(long, default_value_t = 100_000_000)]
    pub issue: u64,
    /// The ledger alone: neither admit bank A and bank B nor start their
    /// gateways (for the ledger's own tests, whose journal it keeps exact).
    #[arg(long)]
    pub no_gateways: bool,
}

const BANK_ID: &str = "demo-bank";

/// The devnet's key files: created on the first run, only loaded afterwards.
struct DevnetKeys<'a> {
    dir: &'a Path,
    /// No journal in the database yet: the first run.
    first_run: bool,
}

impl DevnetKeys<'_> {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join("keys").join(name)
    }

    /// A key file that must be there on a rerun: its key is in the journal
    /// (or owns notes), and a new one would silently be another participant.
    fn existing(&self, name: &str) -> Result<PathBuf> {
        let path = self.path(name);
        if !self.first_run && !path.exists() {
            bail!(
                "the key file {} is missing, but the devnet in {} already has a ledger that \
                 uses its key: a devnet never replaces a key (restore the file, or remove {} \
                 to start afresh)",
                path.display(),
                self.dir.display(),
                self.dir.display()
            );
        }
        Ok(path)
    }

    fn signing(&self, name: &str) -> Result<SecretKey> {
        let path = self.existing(name)?;
        if !path.exists() {
            keys::write_signing(&path, &SecretKey::generate(&mut rand::rngs::OsRng))?;
        }
        keys::load_signing(&path)
    }

    fn wallet(&self, name: &str) -> Result<WalletKeys> {
        let path = self.existing(name)?;
        if !path.exists() {
            keys::write_wallet(&path, &WalletKeys::generate(&mut rand::rngs::OsRng))?;
        }
        keys::load_wallet(&path)
    }
}

/// Whether the database already holds a journal (its genesis block). A SQLite
/// file that does not exist holds none, and is not created here.
fn has_journal(database_url: &str) -> Result<bool> {
    let is_file = ledger_service::store::Backend::of_url(database_url)
        == ledger_service::store::Backend::Sqlite
        && !database_url.starts_with("file:");
    if is_file && !Path::new(database_url).exists() {
        return Ok(false);
    }
    crate::serve::check_sqlite_path(database_url, false)?;
    let store = ledger_service::store::Store::open(database_url)
        .map_err(|e| anyhow::anyhow!("opening the devnet's database {database_url}: {e}"))?;
    let genesis = store
        .block(0)
        .map_err(|e| anyhow::anyhow!("reading the devnet's database {database_url}: {e}"))?;
    Ok(genesis.is_some())
}

/// A word as a POSIX shell reads it back: quoted when it holds anything but
/// characters that are safe bare.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=@,+%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn path_word(path: &Path) -> String {
    shell_word(&path.to_string_lossy())
}

/// What a wallet holds: the sum of its unspent notes and how many there are,
/// from the ledger's event feed (followed by `client`, any participant) and the
/// notes' openings (an issue's is public; a transfer's is in its memo, opened
/// with the wallet's view key).
async fn balance(client: &LedgerClient, wallet: &WalletKeys) -> Result<(u64, usize)> {
    let owner = wallet.spend.public_key();
    let mut unspent = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = client.events(after, Some(&owner), 0).await?;
        let events = page["events"].as_array().context("the event feed's page")?;
        if events.is_empty() {
            break;
        }
        for event in events {
            let note = event["note_id"]
                .as_str()
                .context("an event's note")?
                .to_owned();
            match event["kind"].as_str() {
                Some("created") => unspent.insert(note),
                Some("spent") => unspent.remove(&note),
                other => bail!("an event of unknown kind {other:?}"),
            };
        }
        after = page["next"].as_u64().context("the event feed's next")?;
    }
    let mut total: u64 = 0;
    for id in &unspent {
        let id: NoteId = id.parse().context("a note id")?;
        let note = client.note(&id).await?;
        let memo = hex::decode(note["memo"].as_str().unwrap_or_default())?;
        let value = if memo.is_empty() {
            // An issue's output: its opening is public, in the issue.
            let created_by = note["created_by"].as_str().context("a note's creator")?;
            let answer = client.transaction(&created_by.parse()?).await?;
            let Transaction::Issue(issue) = serde_json::from_value(answer["transaction"].clone())?
            else {
                bail!("note {id} has no memo and was not issued");
            };
            issue
                .owned_notes()
                .into_iter()
                .find(|owned| owned.id == id)
                .context("the issue holds the note")?
                .opening
                .value()
        } else {
            let mut commitment = [0u8; 32];
            hex::decode_to_slice(
                note["commitment"].as_str().unwrap_or_default(),
                &mut commitment,
            )?;
            let commitment = Commitment::from_bytes(&commitment)
                .map_err(|e| anyhow::anyhow!("note {id}'s commitment: {e}"))?;
            let memo = Memo::from_bytes(
                &memo
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("note {id}'s memo has the wrong length"))?,
            )?;
            memo.open(&wallet.view, &commitment)
                .with_context(|| format!("opening note {id}'s memo"))?
                .value()
        };
        total = total
            .checked_add(value.minor_units())
            .context("a balance beyond u64")?;
    }
    Ok((total, unspent.len()))
}

fn notes(count: usize) -> String {
    crate::counted(count, "note", "notes")
}

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
    let devnet_keys = DevnetKeys {
        dir,
        first_run: !has_journal(&database_url)?,
    };
    let officer_files: Vec<PathBuf> = (1..=3)
        .map(|i| devnet_keys.path(&format!("officer-{i}.json")))
        .collect();
    let officers = (1..=3)
        .map(|i| devnet_keys.signing(&format!("officer-{i}.json")))
        .collect::<Result<Vec<_>>>()?;
    let bank = devnet_keys.wallet("demo-bank.json")?;
    let customer = devnet_keys.wallet("demo-customer.json")?;
    let block_key = devnet_keys.existing("ledger.json")?;
    if !block_key.exists() {
        keys::write_signing(&block_key, &SecretKey::generate(&mut rand::rngs::OsRng))?;
    }

    let settings = Settings {
        listen: args.listen.clone(),
        database_url: database_url.clone(),
        block_key,
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
    let serving = tokio::spawn(server);
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

    // Whether this ledger ever gave the bank money: its own event feed says.
    let bank_events = bank_client
        .events(0, Some(&bank.spend.public_key()), 0)
        .await?;
    let bank_held_money = bank_events["events"]
        .as_array()
        .is_some_and(|events| !events.is_empty());
    if bank_held_money {
        println!(
            "{BANK_ID} already holds money on this ledger: nothing issued (a devnet issues only \
             on its first run; `issue more` below issues again)"
        );
    } else {
        issue_and_pay(
            &args,
            &ledger_key,
            [&officer1, &officer2],
            &bank_client,
            &bank,
            &customer,
        )
        .await?;
    }

    let gateways = if args.no_gateways {
        Vec::new()
    } else {
        start_gateways(&args, &devnet_keys, &base, [&officer1, &officer2]).await?
    };

    let wallet_api = if gateways.is_empty() {
        None
    } else {
        Some(start_wallet_api(&args, &devnet_keys, &gateways).await?)
    };

    if let Some(w) = &wallet_api {
        // Where `cbdc demo` finds the running services.
        let urls = crate::demo::DevnetUrls {
            ledger: base.clone(),
            gateways: gateways
                .iter()
                .map(|g| (g.bank_id.to_string(), g.running.base()))
                .collect(),
            wallet_api: w.running.base(),
        };
        let path = dir.join("devnet.json");
        std::fs::write(&path, serde_json::to_string_pretty(&urls)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }

    let audit = officer1.audit().await?;
    if audit["state"] != "passed" {
        bail!("the audit failed: {}", audit["problem"]);
    }
    let supply = officer1.supply().await?;
    let (bank_balance, bank_notes) = balance(&bank_client, &bank).await?;
    let (customer_balance, customer_notes) = balance(&bank_client, &customer).await?;
    println!();
    if args.once {
        println!(
            "ledger        not serving: --once exits after the audit (run without --once to \
             serve on {})",
            args.listen
        );
    } else {
        println!(
            "ledger        {base}  (API page {base}/docs/, OpenAPI {base}/openapi.json, metrics \
             {base}/metrics)"
        );
    }
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
        "balances      {BANK_ID} {bank_balance} in {}; demo customer {customer_balance} in {}",
        notes(bank_notes),
        notes(customer_notes)
    );
    println!(
        "audit again   cbdc audit --database-url {} --ledger-key {}",
        shell_word(&database_url),
        hex::encode(ledger_key.as_bytes())
    );
    for gateway in &gateways {
        let url = gateway.running.base();
        println!(
            "gateway       {} {url}  (API page {url}/docs/, metrics {url}/metrics)",
            gateway.bank_id
        );
        println!(
            "              operator token {}  internal token {}",
            gateway.operator_token, gateway.internal_token
        );
        println!(
            "              curl -H 'Authorization: Bearer {}' {url}/v1/operator/float",
            gateway.operator_token
        );
    }
    if let Some(w) = &wallet_api {
        let url = w.running.base();
        println!("wallet API    {url}  (API page {url}/docs/, metrics {url}/metrics)");
        println!(
            "              operator token {}  demo app key {}",
            w.operator_token, w.app_key
        );
        println!(
            "              demo wallet {} at {} (token {})",
            w.wallet_id, GATEWAY_BANKS[0].0, w.wallet_token
        );
        println!(
            "              curl -H 'X-Cbdc-App-Key: {}' -H 'Authorization: Bearer {}' \\\n                {url}/v1/wallets/{}",
            w.app_key, w.wallet_token, w.wallet_id
        );
        println!(
            "demo          cbdc demo --data-dir {}   (the two-tier flow, step by step)",
            path_word(dir)
        );
    }
    let officer_key = |i: usize| path_word(&officer_files[i]);
    if args.once {
        println!(
            "serve         cbdc devnet --data-dir {} --listen {}",
            path_word(dir),
            shell_word(&args.listen)
        );
    } else {
        println!(
            "request       cbdc request GET /v1/supply --key {} --ledger {base}",
            officer_key(0)
        );
        println!(
            "issue more    cbdc issue --ledger {base} --key {} propose --bank {BANK_ID} --amount \
             AMOUNT",
            officer_key(0)
        );
        for i in [0, 1] {
            println!(
                "              cbdc issue --ledger {base} --key {} approve --proposal ID",
                officer_key(i)
            );
        }
    }

    let stopped_by = if args.once {
        handle.stop(true).await;
        serving.await.context("the HTTP server's task failed")??;
        None
    } else {
        // Listening from here on: before this line is printed, a signal is
        // handled by its default action.
        let shutdown = Shutdown::listen()?;
        println!("\nserving until Ctrl-C or SIGTERM");
        serve_until_shutdown(
            serving,
            move || async move { handle.stop(true).await },
            shutdown,
        )
        .await?
    };
    if let Some(w) = wallet_api {
        w.running.stop().await;
    }
    for gateway in gateways {
        gateway.running.stop().await;
    }
    // The write-ahead log folded back: the database file alone is the ledger.
    store.checkpoint()?;
    if let Some(signal) = stopped_by {
        println!("stopped ({signal}); database checkpointed");
    }
    Ok(())
}

/// The first run's money: an issue to the bank through maker–checker (one
/// officer proposes and approves, a second approves and so executes it), then
/// a payment of a tenth of it from the bank to the customer, who opens its memo.
async fn issue_and_pay(
    args: &DevnetArgs,
    ledger_key: &ledger_core::PublicKey,
    [officer1, officer2]: [&LedgerClient; 2],
    bank_client: &LedgerClient,
    bank: &WalletKeys,
    customer: &WalletKeys,
) -> Result<()> {
    let proposal = officer1.propose(BANK_ID, Amount::new(args.issue)).await?;
    let proposal_id = proposal["id"].as_str().context("proposal id")?.to_string();
    officer1.approve(&proposal_id).await?;
    let executed = officer2.approve(&proposal_id).await?;
    if executed["state"] != "executed" {
        bail!("the issuance did not execute after two approvals: {executed}");
    }
    let receipt: ledger_core::Receipt = serde_json::from_value(executed["receipt"].clone())?;
    receipt
        .verify(ledger_key)
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
    paid.verify(ledger_key)
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
    Ok(())
}

/// The devnet's two commercial banks, each with its gateway.
const GATEWAY_BANKS: [(&str, &str); 2] = [("bank-a", "Bank A"), ("bank-b", "Bank B")];
/// Each gateway bank's float on its first run, minor units.
const GATEWAY_FLOAT: u64 = 10_000_000;

/// A gateway of the devnet and the tokens to call it.
pub struct DevnetGateway {
    pub bank_id: &'static str,
    pub running: bank_gateway::server::Running,
    pub operator_token: String,
    pub internal_token: String,
}

/// The gateway's secrets (KEK and API tokens), made on the first run and
/// kept in the devnet's key directory (0600).
fn gateway_secrets(path: &Path) -> Result<(String, String, String)> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a gateway secrets file", path.display()))?;
        let field = |name: &str| -> Result<String> {
            value[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("{} has no {name}", path.display()))
        };
        return Ok((
            field("kek")?,
            field("operator_token")?,
            field("internal_token")?,
        ));
    }
    let (kek, operator, internal) = (random_token(), random_token(), random_token());
    write_secrets(
        path,
        &serde_json::json!({
            "kind": "cbdc-devnet-gateway-secrets",
            "kek": kek, "operator_token": operator, "internal_token": internal,
        }),
        false,
    )?;
    Ok((kek, operator, internal))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    hex::encode(bytes)
}

/// Writes a secrets file (0600); `replace` overwrites one that exists.
fn write_secrets(path: &Path, value: &serde_json::Value, replace: bool) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

/// The devnet's wallet API and its demo app with a ready demo wallet.
pub struct DevnetWalletApi {
    pub running: wallet_api::server::Running,
    pub operator_token: String,
    pub app_key: String,
    pub wallet_id: String,
    pub wallet_token: String,
}

/// Starts the wallet API on the port after the gateways' (SQLite file
/// `wallet-api.sqlite`), routing to both banks; on the first run registers
/// the demo app and opens a demo wallet at bank A, keeping their secrets in
/// `keys/wallet-api.json` (0600). A rerun reuses them, and opens a new demo
/// wallet only if the token kept has expired or was revoked.
async fn start_wallet_api(
    args: &DevnetArgs,
    keys_dir: &DevnetKeys<'_>,
    gateways: &[DevnetGateway],
) -> Result<DevnetWalletApi> {
    let path = keys_dir.path("wallet-api.json");
    let kept: Option<serde_json::Value> = match std::fs::read_to_string(&path) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a wallet API secrets file", path.display()))?,
        ),
        Err(_) => None,
    };
    let field = |name: &str| -> Option<String> {
        kept.as_ref()
            .and_then(|v| v[name].as_str())
            .map(str::to_owned)
    };
    let operator_token = field("operator_token").unwrap_or_else(random_token);
    let banks = gateways
        .iter()
        .map(|g| wallet_api::config::BankRoute {
            id: g.bank_id.to_string(),
            name: GATEWAY_BANKS
                .iter()
                .find(|(id, _)| *id == g.bank_id)
                .map(|(_, name)| name.to_string())
                .unwrap_or_else(|| g.bank_id.to_string()),
            url: g.running.base(),
            internal_token: g.internal_token.clone(),
        })
        .collect();
    let mut config = wallet_api::config::WalletApiConfig::new(banks, vec![operator_token.clone()]);
    config.replica = "devnet-wallet-api".into();
    let (host, port) = args
        .listen
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .context("--listen is HOST:PORT")?;
    let next = match port {
        0 => 0,
        port => port.saturating_add(3),
    };
    let listener = std::net::TcpListener::bind((host.as_str(), next))
        .or_else(|_| std::net::TcpListener::bind((host.as_str(), 0)))
        .with_context(|| format!("cannot listen on {host} for the wallet API"))?;
    let database = args
        .data_dir
        .join("wallet-api.sqlite")
        .to_string_lossy()
        .into_owned();
    let running = wallet_api::server::start(config, &database, listener)
        .await
        .context("starting the wallet API")?;
    let api = running.api.clone();
    let app_key = match field("app_key") {
        Some(key) => key,
        None => {
            let app = api
                .register_app("Demo wallet app".into())
                .await
                .map_err(|e| anyhow::anyhow!("registering the demo app: {e}"))?;
            app.app_key
        }
    };
    let app_id = app_key.split('.').next().unwrap_or_default().to_string();
    let now = wallet_api::store::now_ms();
    let live = |token: &str| {
        let hash = wallet_api::auth::sha256(token.as_bytes());
        api.store.read(move |c| wallet_api::store::token(c, &hash))
    };
    let (wallet_id, wallet_token) = match (field("wallet_id"), field("wallet_token")) {
        (Some(id), Some(token))
            if live(&token)?
                .is_some_and(|t| t.revoked_ms.is_none() && t.expires_ms > now + 3_600_000) =>
        {
            (id, token)
        }
        _ => {
            let opened = api
                .open_wallet(&app_id, GATEWAY_BANKS[0].0, "+4930000000001")
                .await
                .map_err(|e| anyhow::anyhow!("opening the demo wallet: {e}"))?;
            println!("opened demo wallet {} at {}", opened.wallet_id, opened.bank);
            (opened.wallet_id, opened.token)
        }
    };
    write_secrets(
        &path,
        &serde_json::json!({
            "kind": "cbdc-devnet-wallet-api-secrets",
            "operator_token": operator_token,
            "app_key": app_key,
            "wallet_id": wallet_id,
            "wallet_token": wallet_token,
        }),
        true,
    )?;
    Ok(DevnetWalletApi {
        running,
        operator_token,
        app_key,
        wallet_id,
        wallet_token,
    })
}

/// Admits bank A and bank B, issues each its float on the first run, and
/// starts their gateways on SQLite files in the devnet's directory, on the
/// two ports after the ledger's. Waits until each has credited its float.
async fn start_gateways(
    args: &DevnetArgs,
    keys_dir: &DevnetKeys<'_>,
    base: &str,
    officers: [&LedgerClient; 2],
) -> Result<Vec<DevnetGateway>> {
    let (host, port) = args
        .listen
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .context("--listen is HOST:PORT")?;
    let mut gateways = Vec::new();
    for (i, (bank_id, name)) in GATEWAY_BANKS.into_iter().enumerate() {
        // A ledger founded by a devnet without gateways (an older one, or
        // `--no-gateways`) has never seen this bank: its keys may be made
        // now. Once the bank is admitted, its key file must stay.
        let admitted = officers[0]
            .participants_list()
            .await?
            .participants
            .iter()
            .any(|p| p.id == bank_id);
        let keys = if admitted {
            keys_dir.wallet(&format!("{bank_id}.json"))?
        } else {
            let path = keys_dir.path(&format!("{bank_id}.json"));
            if !path.exists() {
                keys::write_wallet(&path, &WalletKeys::generate(&mut rand::rngs::OsRng))?;
            }
            keys::load_wallet(&path)?
        };
        match officers[0]
            .admit(
                bank_id,
                name,
                ledger_core::governance::Role::Bank,
                &keys.spend.public_key(),
                Some(&keys.view.public_key()),
                &[],
            )
            .await
        {
            Ok(_) => println!("admitted bank {bank_id}"),
            Err(e) if e.code() == Some("participant_exists") => {}
            Err(e) => return Err(e.into()),
        }
        let bank_client = LedgerClient::new(base, keys.spend.clone());
        let funded = bank_client
            .events(0, Some(&keys.spend.public_key()), 0)
            .await?["events"]
            .as_array()
            .is_some_and(|e| !e.is_empty());
        if !funded {
            let proposal = officers[0]
                .propose(bank_id, Amount::new(GATEWAY_FLOAT))
                .await?;
            let id = proposal["id"].as_str().context("proposal id")?.to_string();
            officers[0].approve(&id).await?;
            officers[1].approve(&id).await?;
            println!("issued {GATEWAY_FLOAT} minor units to {bank_id}'s float");
        }
        let (kek, operator_token, internal_token) =
            gateway_secrets(&keys_dir.path(&format!("{bank_id}-gateway.json")))?;
        let mut kek_bytes = [0u8; 32];
        hex::decode_to_slice(&kek, &mut kek_bytes).context("the devnet KEK")?;
        let mut config = bank_gateway::config::GatewayConfig::new(bank_id, base, keys, kek_bytes);
        config.operator_tokens = vec![operator_token.clone()];
        config.internal_tokens = vec![internal_token.clone()];
        config.replica = format!("devnet-{bank_id}");
        // The ports after the ledger's; an ephemeral one when the ledger's
        // is (`--listen HOST:0`) or when that port is taken (the URL printed
        // below is the one bound).
        let next = match port {
            0 => 0,
            port => port.saturating_add(1 + u16::try_from(i).unwrap_or(0)),
        };
        let listener = std::net::TcpListener::bind((host.as_str(), next))
            .or_else(|_| std::net::TcpListener::bind((host.as_str(), 0)))
            .with_context(|| format!("cannot listen on {host} for {bank_id}'s gateway"))?;
        let database = args
            .data_dir
            .join(format!("gateway-{bank_id}.sqlite"))
            .to_string_lossy()
            .into_owned();
        let running = bank_gateway::server::start(config, &database, listener)
            .await
            .with_context(|| format!("starting {bank_id}'s gateway"))?;
        gateways.push(DevnetGateway {
            bank_id,
            running,
            operator_token,
            internal_token,
        });
    }
    // The followers credit the floats from the ledger's feed.
    for gateway in &gateways {
        let http = reqwest::Client::new();
        let url = format!("{}/v1/operator/float", gateway.running.base());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let float: serde_json::Value = http
                .get(&url)
                .bearer_auth(&gateway.operator_token)
                .send()
                .await?
                .json()
                .await?;
            if float["balance"].as_u64().unwrap_or(0) > 0 {
                break;
            }
            if std::time::Instant::now() > deadline {
                bail!(
                    "{}'s gateway did not credit its float within 30 s",
                    gateway.bank_id
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(gateways)
}

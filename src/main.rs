//! `cbdc`: the command line of the cbdc central bank digital currency.
//!
//! `cbdc devnet` runs a complete ledger on an embedded SQLite file with demo
//! officers and a demo bank; `cbdc ledger serve` runs the central bank's ledger;
//! the client commands (`bank`, `issue`) are what officers use; `cbdc audit`
//! checks a ledger from its database or an export. Errors are one line on stderr
//! and a non-zero exit.

mod bench;
mod devnet;
mod host;
mod keys;
mod serve;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ledger_core::governance::{Action, Member, Role};
use ledger_core::{Amount, PublicKey};
use ledger_service::client::LedgerClient;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "cbdc",
    version,
    about = "cbdc: a two-tier central bank digital currency with confidential amounts"
)]
struct Cli {
    /// Log format: `text` or `json`.
    #[arg(long, global = true, default_value = "text", env = "CBDC_LOG_FORMAT")]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a complete local ledger on an embedded database with demo officers, a demo
    /// bank and issued money.
    Devnet(devnet::DevnetArgs),
    /// Load a running service and report throughput, latency and rejections.
    Bench(bench::BenchArgs),
    /// The central bank's ledger service.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Create a key file (0600): a signing key, or with --wallet a bank's spend and view keys.
    Keygen {
        /// Where to write the key file (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// A wallet (spend + view keys, for a bank) instead of a signing key.
        #[arg(long)]
        wallet: bool,
    },
    /// Admit, suspend or reinstate a bank (one officer's approval).
    Bank {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: BankCommand,
    },
    /// Admit, suspend, reinstate or re-key an officer, or set the threshold
    /// (approved by the threshold of officers: `--key` and `--cosign`).
    Officer {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: OfficerCommand,
    },
    /// Propose or approve an issuance (officers).
    Issue {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: IssueCommand,
    },
    /// Replay a ledger's journal and re-verify every transaction (proofs, balance,
    /// every signature, governance, the supply ceiling, no double spend), compare
    /// every table with it, and prove the supply; prints the outstanding supply.
    Audit {
        /// The ledger database (PostgreSQL URL or SQLite path).
        #[arg(long, env = "DATABASE_URL", conflicts_with = "export")]
        database_url: Option<String>,
        /// An export file written by `cbdc export`.
        #[arg(long)]
        export: Option<PathBuf>,
        /// The ledger's block public key (hex), or a key file holding it; not needed
        /// for an export (which names it; compare it with the published key).
        #[arg(long)]
        ledger_key: Option<String>,
        /// Only the supply equation over the live tables (no journal replay); prints
        /// how long it took. Passes on a database seeded by `cbdc seed`.
        #[arg(
            long,
            conflicts_with_all = ["export", "ledger_key", "expect", "receipts", "one_by_one"]
        )]
        supply_only: bool,
        /// A block that must be in the journal as seen, `HEIGHT:HASH` (a header
        /// from a receipt or a bank's record; repeatable): a missing block is a
        /// rollback, a different one a fork.
        #[arg(long = "expect", value_name = "HEIGHT:HASH")]
        expect: Vec<String>,
        /// A directory of receipt files (JSON, as the ledger returns them): each
        /// must be signed by the ledger key and its block still in the journal.
        #[arg(long)]
        receipts: Option<PathBuf>,
        /// Verify every transaction on its own instead of in batches (the
        /// baseline the batch verifier is measured against).
        #[arg(long)]
        one_by_one: bool,
    },
    /// Scale benchmark only: add filler notes (commitments to zero, balanced, without
    /// proofs) to a ledger database. `cbdc audit` refuses the result; `--supply-only` passes.
    Seed {
        /// The ledger database (PostgreSQL URL or SQLite path).
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// The ledger's block key file (the filler's blocks are signed with it).
        #[arg(long)]
        block_key: PathBuf,
        /// How many filler notes to add.
        #[arg(long)]
        notes: u64,
        /// Notes per synthetic transaction, i.e. per kernel (1 to 256).
        #[arg(long, default_value_t = ledger_service::store::NOTES_PER_TRANSACTION_MAX)]
        notes_per_transaction: usize,
    },
    /// Write an export of a ledger database for auditors.
    Export {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// The ledger's public key (hex or a key file): an export without a
        /// signed tip, which cannot show that no blocks were cut off its end.
        #[arg(
            long,
            required_unless_present = "block_key",
            conflicts_with = "block_key"
        )]
        ledger_key: Option<String>,
        /// The ledger's block-signing key file: the export carries a tip signed
        /// with it (how many blocks, the last one's hash, when), so an export
        /// cut short fails its audit.
        #[arg(long)]
        block_key: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Serve the ledger API.
    Serve(serve::ServeArgs),
}

#[derive(clap::Args)]
struct ClientArgs {
    /// The ledger's base URL.
    #[arg(
        long,
        global = true,
        env = "CBDC_LEDGER_URL",
        default_value = "http://127.0.0.1:7400"
    )]
    ledger: String,
    /// Your key file (an officer's signing key).
    #[arg(long, global = true, env = "CBDC_KEY_FILE")]
    key: Option<PathBuf>,
    /// Another officer's key file that approves the same governance entry
    /// (repeatable; officer changes need the threshold's approvals).
    #[arg(long = "cosign", global = true, value_name = "KEY_FILE")]
    cosign: Vec<PathBuf>,
}

impl ClientArgs {
    fn client(&self) -> Result<LedgerClient> {
        let Some(path) = &self.key else {
            bail!("--key (or CBDC_KEY_FILE) is required: the key file that signs your requests");
        };
        if !(self.ledger.starts_with("http://") || self.ledger.starts_with("https://")) {
            bail!(
                "--ledger is the ledger's base URL, like http://127.0.0.1:7400, not `{}`",
                self.ledger
            );
        }
        Ok(LedgerClient::new(&self.ledger, keys::load_signing(path)?))
    }

    fn cosigners(&self) -> Result<Vec<ledger_core::SecretKey>> {
        self.cosign
            .iter()
            .map(|path| keys::load_signing(path))
            .collect()
    }
}

/// `HEIGHT:HASH` as an expectation of the audit.
fn parse_expectation(text: &str) -> Result<ledger_service::audit::Expectation> {
    let (height, hash) = text
        .split_once(':')
        .with_context(|| format!("--expect is HEIGHT:HASH, got `{text}`"))?;
    let height: u64 = height
        .parse()
        .with_context(|| format!("--expect `{text}`: the height is not a number"))?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hash, &mut bytes)
        .with_context(|| format!("--expect `{text}`: the hash is not 64 hex characters"))?;
    Ok(ledger_service::audit::Expectation {
        height,
        hash: bytes,
        source: format!("--expect {text}"),
    })
}

/// Every receipt in `dir` (`*.json`), checked against the ledger key, as the
/// blocks the journal must still hold.
fn receipt_expectations(
    dir: &std::path::Path,
    ledger: &PublicKey,
) -> Result<Vec<ledger_service::audit::Expectation>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the receipts directory {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no receipt files (*.json) in {}", dir.display());
    }
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let receipt: ledger_core::Receipt = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a receipt", path.display()))?;
            receipt.verify(ledger).with_context(|| {
                format!(
                    "{}: the receipt does not verify with the ledger key",
                    path.display()
                )
            })?;
            Ok(ledger_service::audit::Expectation {
                height: receipt.block.height,
                hash: receipt.block.hash(),
                source: format!("receipt {}", path.display()),
            })
        })
        .collect()
}

#[derive(Subcommand)]
enum BankCommand {
    /// Admit a bank with its public keys.
    Admit {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// The bank's spend (and request-signing) public key, hex.
        #[arg(long)]
        spend_key: String,
        /// The bank's view public key, hex.
        #[arg(long)]
        view_key: String,
    },
    /// Suspend a bank.
    Suspend {
        #[arg(long)]
        id: String,
    },
    /// Reinstate a suspended bank.
    Reinstate {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum OfficerCommand {
    /// Admit an officer.
    Admit {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// The officer's public key, hex, or its key file.
        #[arg(long = "public-key")]
        public_key: String,
    },
    /// Suspend an officer.
    Suspend {
        #[arg(long)]
        id: String,
    },
    /// Reinstate a suspended officer.
    Reinstate {
        #[arg(long)]
        id: String,
    },
    /// Give an officer a new key.
    Rekey {
        #[arg(long)]
        id: String,
        /// The new public key, hex, or its key file.
        #[arg(long = "public-key")]
        public_key: String,
    },
    /// Set the number of officers an issuance (and an officer change) needs.
    Threshold {
        #[arg(long)]
        set: u8,
    },
}

#[derive(Subcommand)]
enum IssueCommand {
    /// Propose issuing `amount` minor units to a bank.
    Propose {
        #[arg(long)]
        bank: String,
        #[arg(long)]
        amount: u64,
    },
    /// Approve a proposal (checks the issue and signs its digest).
    Approve {
        #[arg(long)]
        proposal: String,
    },
    /// Show a proposal.
    Show {
        #[arg(long)]
        proposal: String,
    },
}

pub fn parse_public_key(text: &str) -> Result<PublicKey> {
    let text = if std::path::Path::new(text).exists() {
        let file =
            std::fs::read_to_string(text).with_context(|| format!("reading key file {text}"))?;
        let value: serde_json::Value = serde_json::from_str(&file)
            .with_context(|| format!("{text} is not a JSON key file"))?;
        value["public"]
            .as_str()
            .with_context(|| {
                format!(
                    "{text} has no `public` field (give a signing key file or a hex public key)"
                )
            })?
            .to_string()
    } else {
        text.to_string()
    };
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).context("a public key is 64 hex characters")?;
    PublicKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("invalid public key: {e}"))
}

fn init_logging(format: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        "json" => builder.json().init(),
        "text" => builder.init(),
        other => bail!("--log-format is `text` or `json`, not `{other}`"),
    }
    Ok(())
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values print")
    );
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Devnet(args) => devnet::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Ledger {
            command: LedgerCommand::Serve(args),
        } => serve::run(args).await,
        Command::Keygen { out, wallet } => {
            if wallet {
                let keys = ledger_core::WalletKeys::generate(&mut rand::rngs::OsRng);
                keys::write_wallet(&out, &keys)?;
                println!(
                    "wallet key file {} (address {})",
                    out.display(),
                    keys.address()
                );
            } else {
                let key = ledger_core::SecretKey::generate(&mut rand::rngs::OsRng);
                keys::write_signing(&out, &key)?;
                println!(
                    "signing key file {} (public key {})",
                    out.display(),
                    hex::encode(key.public_key().as_bytes())
                );
            }
            Ok(())
        }
        Command::Bank { client, command } => {
            let cosigners = client.cosigners()?;
            let client = client.client()?;
            let answer = match command {
                BankCommand::Admit {
                    id,
                    name,
                    spend_key,
                    view_key,
                } => {
                    let spend = parse_public_key(&spend_key)?;
                    let view = parse_public_key(&view_key)?;
                    client
                        .admit(&id, &name, Role::Bank, &spend, Some(&view), &cosigners)
                        .await?
                }
                BankCommand::Suspend { id } => client.suspend(&id, &cosigners).await?,
                BankCommand::Reinstate { id } => {
                    client.govern(Action::Reinstate { id }, &cosigners).await?
                }
            };
            print_json(&answer);
            Ok(())
        }
        Command::Officer { client, command } => {
            let cosigners = client.cosigners()?;
            let client = client.client()?;
            let action = match command {
                OfficerCommand::Admit {
                    id,
                    name,
                    public_key,
                } => Action::Admit {
                    member: Member {
                        role: Role::Officer,
                        id,
                        name,
                        key: parse_public_key(&public_key)?,
                        view_key: None,
                    },
                },
                OfficerCommand::Suspend { id } => Action::Suspend { id },
                OfficerCommand::Reinstate { id } => Action::Reinstate { id },
                OfficerCommand::Rekey { id, public_key } => Action::Rekey {
                    id,
                    key: parse_public_key(&public_key)?,
                    view_key: None,
                },
                OfficerCommand::Threshold { set } => Action::SetThreshold { threshold: set },
            };
            print_json(&client.govern(action, &cosigners).await?);
            Ok(())
        }
        Command::Issue { client, command } => {
            let client = client.client()?;
            let answer = match command {
                IssueCommand::Propose { bank, amount } => {
                    client.propose(&bank, Amount::new(amount)).await?
                }
                IssueCommand::Approve { proposal } => client.approve(&proposal).await?,
                IssueCommand::Show { proposal } => client.proposal(&proposal).await?,
            };
            print_json(&answer);
            Ok(())
        }
        Command::Audit {
            database_url,
            supply_only: true,
            ..
        } => {
            // (--expect and --receipts need the journal: refused below by clap's
            // conflicts only for export; here they are simply not applicable.)
            let url =
                database_url.context("--supply-only needs --database-url (or DATABASE_URL)")?;
            serve::check_sqlite_path(&url, true)?;
            let store = ledger_service::store::Store::open(&url)?;
            let started = std::time::Instant::now();
            let supply = ledger_service::audit::supply_audit_live(&store)?;
            println!(
                "supply OK: {} unspent notes, {} kernels, height {}; issued {}, redeemed {}, outstanding {}; {:.3} s",
                supply.unspent_notes,
                supply.kernels,
                supply.height.map_or_else(|| "none".to_owned(), |h| h.to_string()),
                supply.issued,
                supply.redeemed,
                supply.outstanding,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Seed {
            database_url,
            block_key,
            notes,
            notes_per_transaction,
        } => {
            serve::check_sqlite_path(&database_url, false)?;
            let key = keys::load_signing(&block_key)?;
            let store = ledger_service::store::Store::open(&database_url)?;
            let report = ledger_service::store::seed::seed_filler_notes(
                &store,
                &key,
                notes,
                notes_per_transaction,
            )?;
            println!(
                "seeded {} filler notes in {} transactions, blocks {}..={}; generating {:.2} s, writing {:.2} s, vacuum {:.2} s",
                report.notes,
                report.transactions,
                report.heights.0,
                report.heights.1,
                report.generating.as_secs_f64(),
                report.writing.as_secs_f64(),
                report.vacuuming.as_secs_f64()
            );
            Ok(())
        }
        Command::Audit {
            database_url,
            export,
            ledger_key,
            supply_only: false,
            expect,
            receipts,
            one_by_one,
        } => {
            let mut options = ledger_service::audit::AuditOptions {
                one_by_one,
                expect: expect
                    .iter()
                    .map(|text| parse_expectation(text))
                    .collect::<Result<_>>()?,
            };
            let started = std::time::Instant::now();
            let from_database = export.is_none();
            let report = match (database_url, export) {
                (_, Some(path)) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let export: ledger_service::audit::Export = serde_json::from_str(&text)
                        .context("the export file is not valid JSON of an export")?;
                    if let Some(expected) = ledger_key {
                        let expected = parse_public_key(&expected)?;
                        if hex::encode(expected.as_bytes()) != export.ledger_key {
                            bail!(
                                "the export is signed by ledger key {}, not the one given",
                                export.ledger_key
                            );
                        }
                    }
                    if let Some(dir) = &receipts {
                        let key = parse_public_key(&export.ledger_key)?;
                        options.expect.extend(receipt_expectations(dir, &key)?);
                    }
                    let report = ledger_service::audit::audit_export(&export, &options)?;
                    match &export.tip {
                        Some(tip) => eprintln!(
                            "signed tip: the chain had {} blocks when the export was written ({} ms after the Unix epoch); the export holds all of them",
                            tip.blocks, tip.time_ms
                        ),
                        None => eprintln!(
                            "warning: the export has no signed tip, so it cannot show that no blocks were cut off its end; compare its last block with the ledger's published latest block"
                        ),
                    }
                    report
                }
                (Some(url), None) => {
                    let key = parse_public_key(
                        &ledger_key.context("--ledger-key is required to audit a database")?,
                    )?;
                    if let Some(dir) = &receipts {
                        options.expect.extend(receipt_expectations(dir, &key)?);
                    }
                    serve::check_sqlite_path(&url, true)?;
                    let store = ledger_service::store::Store::open(&url)?;
                    ledger_service::audit::audit_store(&store, key, &options)?
                }
                (None, None) => bail!("give --database-url (or DATABASE_URL) or --export"),
            };
            println!(
                "audit OK: {} blocks, {} transactions, {} unspent notes; issued {}, redeemed {}, outstanding {}",
                report.blocks,
                report.transactions,
                report.unspent_notes,
                report.issued,
                report.redeemed,
                report.outstanding
            );
            eprintln!(
                "every transaction re-verified ({}){}; supply ceiling {}; last block {} {}; {} expected block(s) found; {:.3} s",
                if one_by_one { "one by one" } else { "in batches" },
                if from_database { ", every table compared" } else { "" },
                report.supply_ceiling,
                report.height.map_or_else(|| "none".to_owned(), |h| h.to_string()),
                report.last_hash,
                options.expect.len(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Export {
            database_url,
            ledger_key,
            block_key,
            out,
        } => {
            let signer = block_key
                .map(|path| keys::load_signing(&path))
                .transpose()?;
            let key = match (&signer, ledger_key) {
                (Some(signer), _) => signer.public_key(),
                (None, Some(text)) => parse_public_key(&text)?,
                (None, None) => bail!("give --block-key (a signed tip) or --ledger-key"),
            };
            serve::check_sqlite_path(&database_url, true)?;
            let store = ledger_service::store::Store::open(&database_url)?;
            let export = ledger_service::audit::export_store(&store, key, signer.as_ref())?;
            std::fs::write(&out, serde_json::to_vec_pretty(&export)?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "exported {} blocks to {}",
                export.blocks.len(),
                out.display()
            );
            Ok(())
        }
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = init_logging(&cli.log_format) {
        eprintln!("cbdc: {e:#}");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("cbdc: {e:#}");
        std::process::exit(1);
    }
}

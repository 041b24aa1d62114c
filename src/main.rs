//! `cbdc`: the command line of the cbdc central bank digital currency.
//!
//! `cbdc devnet` runs a complete ledger on an embedded SQLite file with demo
//! officers and a demo bank; `cbdc ledger serve` runs the central bank's ledger;
//! the client commands (`bank`, `officer`, `issue`) are what officers use, and
//! `cbdc request` signs and sends any API request (or prints its headers for
//! curl); `cbdc audit` checks a ledger from its database or an export. Errors are
//! one line on stderr and a non-zero exit. Every flag has help text (a test
//! below walks the whole command tree).

mod bench;
mod demo;
mod devnet;
mod gateway_cmd;
mod host;
mod keys;
mod serve;
mod wallet_api_cmd;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ledger_core::governance::{Action, Member, Role};
use ledger_core::{Amount, PublicKey};
use ledger_service::client::LedgerClient;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

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
    /// Drive the two-tier flow against a running devnet, step by step: wallets
    /// at both banks, fund, pay across banks, a payment request paid by its URI,
    /// the waterfall, a defund, the supply audit and both banks' position proofs.
    Demo(demo::DemoArgs),
    /// Load a running service and report throughput, latency and rejections.
    Bench(bench::BenchArgs),
    /// A commercial bank's gateway: serve it, print its position proof or
    /// its reconciliation report.
    Gateway {
        #[command(subcommand)]
        command: gateway_cmd::GatewayCommand,
    },
    /// The wallet API, the retail front door: serve it, or manage the wallet
    /// apps that may use it.
    #[command(name = "wallet-api")]
    WalletApi {
        #[command(subcommand)]
        command: wallet_api_cmd::WalletApiCommand,
    },
    /// The central bank's ledger service.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Create a key file (0600): a signing key, or with --wallet a bank's spend and view
    /// keys; prints the public keys (and, for a wallet, the `cbdc bank admit` to run).
    Keygen {
        /// Where to write the key file (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// A wallet (spend + view keys, for a bank) instead of a signing key.
        #[arg(long)]
        wallet: bool,
        /// Also write the wallet's public keys and address to this file (must not
        /// exist; no secrets, for the central bank's `bank admit --wallet-file`).
        #[arg(long, requires = "wallet", value_name = "FILE")]
        public_out: Option<PathBuf>,
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
        /// Check a bank's position proof (`cbdc gateway position`) against a
        /// running ledger instead: every note unspent at its height, and the
        /// commitments summing to V·B + R·B̃. Needs --ledger and --key.
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with_all = ["export", "database_url", "supply_only", "expect", "receipts", "one_by_one"]
        )]
        position: Option<PathBuf>,
        /// With --position: the ledger's base URL.
        #[arg(long, env = "CBDC_LEDGER_URL", default_value = "http://127.0.0.1:7400")]
        ledger: String,
        /// With --position: any participant's key file, to sign the reads.
        #[arg(long, env = "CBDC_KEY_FILE")]
        key: Option<PathBuf>,
    },
    /// Scale benchmark only: add filler notes (commitments to zero, balanced, without
    /// proofs) to a ledger database. `cbdc audit` refuses the result for ever;
    /// `--supply-only` passes. Asks for `--yes`.
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
        /// Seed even though the database then never passes a journal audit again
        /// (its filler notes have no proofs): use a copy made for benchmarks.
        #[arg(long)]
        yes: bool,
    },
    /// Write an export of a ledger database for auditors.
    Export {
        /// The ledger database (PostgreSQL URL or SQLite path).
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
        /// Where to write the export (JSON; an existing file is replaced).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign one request with a key file and send it to the ledger API, printing
    /// the status line on stderr and the answer on stdout (exit 1 on a 4xx or
    /// 5xx); or, with --print-headers, print the signed headers for curl.
    Request(RequestArgs),
}

#[derive(clap::Args)]
struct RequestArgs {
    /// The HTTP method: GET, POST, ...
    method: String,
    /// The path and query, exactly as sent (the signature covers it byte for
    /// byte), e.g. `/v1/supply` or `/v1/events?after=0`.
    path: String,
    /// The request body: a file, or `-` for standard input (signed and sent
    /// byte for byte).
    #[arg(long, value_name = "FILE|-")]
    body: Option<String>,
    /// The body's content type (sent only with a body).
    #[arg(long, default_value = "application/json", requires = "body")]
    content_type: String,
    /// The key file that signs the request: an officer's signing key file, or a
    /// bank's wallet file (its spend key signs).
    #[arg(long, env = "CBDC_KEY_FILE")]
    key: PathBuf,
    /// The ledger's base URL.
    #[arg(long, env = "CBDC_LEDGER_URL", default_value = "http://127.0.0.1:7400")]
    ledger: String,
    /// Send nothing: print the four signed x-cbdc-* headers as curl `-H` lines
    /// (one request, within 5 minutes: the nonce is used once).
    #[arg(long)]
    print_headers: bool,
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

/// Refuses a `--ledger` that is not a base URL.
fn check_ledger_url(url: &str) -> Result<()> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("--ledger is the ledger's base URL, like http://127.0.0.1:7400, not `{url}`");
    }
    Ok(())
}

impl ClientArgs {
    fn client(&self) -> Result<LedgerClient> {
        let Some(path) = &self.key else {
            bail!("--key (or CBDC_KEY_FILE) is required: the key file that signs your requests");
        };
        check_ledger_url(&self.ledger)?;
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
    /// Admit a bank with its public keys: its wallet file, or the two keys in hex.
    Admit {
        /// The bank's participant id (how issues and governance name it).
        #[arg(long)]
        id: String,
        /// The bank's name, for people.
        #[arg(long)]
        name: String,
        /// The bank's wallet file: its public wallet file (`cbdc keygen --wallet
        /// --public-out`) or its wallet key file, of which only the public keys
        /// are read. Instead of --spend-key and --view-key.
        #[arg(long, value_name = "FILE")]
        wallet_file: Option<PathBuf>,
        /// The bank's spend (and request-signing) public key, hex (`spend_public`
        /// as `cbdc keygen --wallet` prints it).
        #[arg(long, value_name = "HEX")]
        spend_key: Option<String>,
        /// The bank's view public key, hex (`view_public`).
        #[arg(long, value_name = "HEX")]
        view_key: Option<String>,
    },
    /// Suspend a bank.
    Suspend {
        /// The bank's participant id.
        #[arg(long)]
        id: String,
    },
    /// Reinstate a suspended bank.
    Reinstate {
        /// The bank's participant id.
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum OfficerCommand {
    /// Admit an officer.
    Admit {
        /// The officer's participant id (how approvals name the officer).
        #[arg(long)]
        id: String,
        /// The officer's name, for people.
        #[arg(long)]
        name: String,
        /// The officer's public key, hex, or its key file.
        #[arg(long = "public-key")]
        public_key: String,
    },
    /// Suspend an officer.
    Suspend {
        /// The officer's participant id.
        #[arg(long)]
        id: String,
    },
    /// Reinstate a suspended officer.
    Reinstate {
        /// The officer's participant id.
        #[arg(long)]
        id: String,
    },
    /// Give an officer a new key.
    Rekey {
        /// The officer's participant id.
        #[arg(long)]
        id: String,
        /// The new public key, hex, or its key file.
        #[arg(long = "public-key")]
        public_key: String,
    },
    /// Set the number of officers an issuance (and an officer change) needs.
    Threshold {
        /// The new threshold: at least 1, at most the active officers.
        #[arg(long)]
        set: u8,
    },
}

#[derive(Subcommand)]
enum IssueCommand {
    /// Propose issuing `amount` minor units to a bank.
    Propose {
        /// The participant id of the bank that receives the money.
        #[arg(long)]
        bank: String,
        /// How much to issue, in minor units.
        #[arg(long)]
        amount: u64,
    },
    /// Approve a proposal (checks the issue and signs its digest).
    Approve {
        /// The proposal's id (hex), as `propose` printed it.
        #[arg(long)]
        proposal: String,
    },
    /// Show a proposal.
    Show {
        /// The proposal's id (hex), as `propose` printed it.
        #[arg(long)]
        proposal: String,
    },
}

/// A public key given as 64 hex characters or as a signing key file holding it.
pub fn parse_public_key(text: &str) -> Result<PublicKey> {
    let path = std::path::Path::new(text);
    if path.exists() {
        return keys::public_of_file(path);
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).with_context(|| {
        format!("`{text}` is not a public key (64 hex characters) nor a key file that exists")
    })?;
    PublicKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("invalid public key: {e}"))
}

/// `1 block`, `2 blocks`, `0 blocks`.
pub fn counted<T>(count: T, singular: &str, plural: &str) -> String
where
    T: std::fmt::Display + PartialEq + From<u8>,
{
    let noun = if count == T::from(1) {
        singular
    } else {
        plural
    };
    format!("{count} {noun}")
}

fn init_logging(format: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    // Colour only for a person at a terminal: never ANSI codes in a log file or
    // a pipe (nor with NO_COLOR set).
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        "json" => builder.json().with_ansi(false).init(),
        "text" => builder.with_ansi(colour).init(),
        other => bail!("--log-format is `text` or `json`, not `{other}`"),
    }
    Ok(())
}

/// `cbdc keygen`: writes the key file (and the public wallet file) and prints
/// the public keys, each on a labelled line, and what to run with them.
fn keygen(out: &Path, wallet: bool, public_out: Option<&Path>) -> Result<()> {
    if !wallet {
        let key = ledger_core::SecretKey::generate(&mut rand::rngs::OsRng);
        keys::write_signing(out, &key)?;
        println!(
            "signing key file {} (mode 0600: keep it secret)",
            out.display()
        );
        println!(
            "public key      {}",
            hex::encode(key.public_key().as_bytes())
        );
        return Ok(());
    }
    // Checked before anything is written, so a refusal leaves no half-made pair.
    if let Some(public_out) = public_out {
        if public_out == out || public_out.exists() {
            bail!(
                "creating public wallet file {} (it must not exist yet, nor be --out)",
                public_out.display()
            );
        }
    }
    let secret = ledger_core::WalletKeys::generate(&mut rand::rngs::OsRng);
    let public = keys::WalletPublic::of(&secret);
    keys::write_wallet(out, &secret)?;
    println!(
        "wallet key file {} (mode 0600: keep it secret)",
        out.display()
    );
    println!("address         {}", public.address);
    println!("spend_public    {}", hex::encode(public.spend.as_bytes()));
    println!("view_public     {}", hex::encode(public.view.as_bytes()));
    let admit = "cbdc bank --key OFFICER_KEY_FILE admit --id BANK_ID --name BANK_NAME";
    if let Some(public_out) = public_out {
        keys::write_wallet_public(public_out, &public)?;
        println!(
            "public file     {} (no secrets: give it to the central bank)",
            public_out.display()
        );
        println!(
            "admit with      {admit} --wallet-file {}",
            public_out.display()
        );
    }
    println!(
        "admit with      {admit} --spend-key {} --view-key {}",
        hex::encode(public.spend.as_bytes()),
        hex::encode(public.view.as_bytes())
    );
    Ok(())
}

/// `cbdc seed`'s progress on stderr: a bar on a terminal; otherwise one plain
/// line per step (never ANSI codes in a file or a pipe).
struct SeedProgress {
    bar: Option<indicatif::ProgressBar>,
    /// The last step printed as a plain line (off a terminal).
    printed: std::sync::Mutex<Option<&'static str>>,
}

impl SeedProgress {
    fn new(notes: u64) -> SeedProgress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(notes);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:40}] {human_pos}/{human_len} notes ({rate}, {eta} left)",
                )
                .expect("a valid progress template")
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                        let _ = write!(out, "{:.0}/s", state.per_sec());
                    },
                )
                .progress_chars("=> "),
            );
            bar.set_message("generating");
            bar
        });
        SeedProgress {
            bar,
            printed: std::sync::Mutex::new(None),
        }
    }

    fn show(&self, step: ledger_service::store::seed::SeedStep) {
        use ledger_service::store::seed::SeedStep;
        if let Some(bar) = &self.bar {
            match step {
                SeedStep::Generating { done, .. } => bar.set_position(done),
                SeedStep::Writing { what } => {
                    bar.set_message(format!("writing {what}"));
                    bar.tick();
                }
                SeedStep::Vacuuming => bar.set_message("vacuuming"),
            }
            return;
        }
        let (name, line) = match step {
            SeedStep::Generating { total, .. } => (
                "generating",
                format!(
                    "seed: generating {}",
                    counted(total, "filler note", "filler notes")
                ),
            ),
            SeedStep::Writing { what } => (what, format!("seed: writing {what}")),
            SeedStep::Vacuuming => ("vacuuming", "seed: vacuuming".to_owned()),
        };
        let mut printed = self.printed.lock().unwrap_or_else(|e| e.into_inner());
        if *printed != Some(name) {
            *printed = Some(name);
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `cbdc request`: signs exactly the path and body it sends.
async fn request(args: RequestArgs) -> Result<()> {
    check_ledger_url(&args.ledger)?;
    let method = reqwest::Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| anyhow::anyhow!("`{}` is not an HTTP method", args.method))?;
    if !args.path.starts_with('/') {
        bail!(
            "the path is the path and query of an API route, starting with `/` (like \
             /v1/supply), not `{}`",
            args.path
        );
    }
    let key = keys::load_request_key(&args.key)?;
    let body = match args.body.as_deref() {
        None => Vec::new(),
        Some("-") => {
            use std::io::Read;
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading the body from standard input")?;
            bytes
        }
        Some(file) => std::fs::read(file).with_context(|| format!("reading the body {file}"))?,
    };
    let url = format!("{}{}", args.ledger.trim_end_matches('/'), args.path);
    let headers = ledger_service::auth::sign_request(
        &key,
        method.as_str(),
        &args.path,
        &body,
        ledger_service::ledger::now_ms(),
        &mut rand::rngs::OsRng,
    );
    if args.print_headers {
        let mut lines: Vec<String> = headers
            .iter()
            .map(|(name, value)| format!("-H '{name}: {value}'"))
            .collect();
        if args.body.is_some() {
            lines.push(format!("-H 'content-type: {}'", args.content_type));
        }
        for line in &lines {
            println!("{line}");
        }
        let data = match args.body.as_deref() {
            None => String::new(),
            Some("-") => " --data-binary @- (the same bytes again)".to_owned(),
            Some(file) => format!(" --data-binary @{file}"),
        };
        eprintln!(
            "# for one request within 5 minutes (the nonce is used once), to exactly this \
             path{}: curl -X {method} '{url}'{data} {}",
            if args.body.is_some() { " and body" } else { "" },
            lines.join(" ")
        );
        return Ok(());
    }
    let mut request = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .context("an HTTP client")?
        .request(method, &url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if args.body.is_some() {
        request = request
            .header("content-type", &args.content_type)
            .body(body);
    }
    let transport = |e| ledger_service::client::ClientError::Transport(e);
    let response = request.send().await.map_err(transport)?;
    let status = format!("{:?} {}", response.version(), response.status());
    let failed = response.status().is_client_error() || response.status().is_server_error();
    let answer = response.bytes().await.map_err(transport)?;
    match serde_json::from_slice::<serde_json::Value>(&answer) {
        Ok(json) => print_json(&json),
        Err(_) => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&answer)?;
            stdout.flush()?;
        }
    }
    if failed {
        bail!("{status}");
    }
    eprintln!("{status}");
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
        Command::Demo(args) => demo::run(args).await,
        Command::Gateway { command } => gateway_cmd::run(command).await,
        Command::WalletApi { command } => wallet_api_cmd::run(command).await,
        Command::Ledger {
            command: LedgerCommand::Serve(args),
        } => serve::run(args).await,
        Command::Keygen {
            out,
            wallet,
            public_out,
        } => keygen(&out, wallet, public_out.as_deref()),
        Command::Bank { client, command } => {
            let cosigners = client.cosigners()?;
            let client = client.client()?;
            let answer = match command {
                BankCommand::Admit {
                    id,
                    name,
                    wallet_file,
                    spend_key,
                    view_key,
                } => {
                    let (spend, view) = match (wallet_file, spend_key, view_key) {
                        (Some(file), None, None) => {
                            let wallet = keys::load_wallet_public(&file)?;
                            (wallet.spend, wallet.view)
                        }
                        (Some(_), _, _) => bail!(
                            "give the bank's keys once: --wallet-file, or --spend-key and \
                             --view-key, not both"
                        ),
                        (None, Some(spend), Some(view)) => {
                            (parse_public_key(&spend)?, parse_public_key(&view)?)
                        }
                        (None, _, _) => bail!(
                            "bank admit needs the bank's public keys: --wallet-file FILE, or \
                             --spend-key HEX and --view-key HEX (`cbdc keygen --wallet` prints \
                             them)"
                        ),
                    };
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
            position: Some(path),
            ledger,
            key,
            ..
        } => {
            let client = ClientArgs {
                ledger,
                key,
                cosign: Vec::new(),
            }
            .client()?;
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let position: bank_gateway::report::Position = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a position proof", path.display()))?;
            let check = bank_gateway::report::verify_position(&client, &position)
                .await
                .map_err(anyhow::Error::msg)?;
            for problem in &check.problems {
                eprintln!("{problem}");
            }
            if !check.ok {
                bail!(
                    "the position of {} does not check ({} problems)",
                    position.bank_id,
                    check.problems.len()
                );
            }
            println!(
                "position of {} checks: {} notes, holdings {} minor units at height {}",
                position.bank_id,
                check.notes,
                position.total,
                position.height.map_or("-".to_string(), |h| h.to_string())
            );
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
                "supply OK: {}, {}, height {}; issued {}, redeemed {}, outstanding {}; {:.3} s",
                counted(supply.unspent_notes, "unspent note", "unspent notes"),
                counted(supply.kernels, "kernel", "kernels"),
                supply
                    .height
                    .map_or_else(|| "none".to_owned(), |h| h.to_string()),
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
            yes,
        } => {
            if !yes {
                bail!(
                    "cbdc seed turns {database_url} into a benchmark fixture for good: its \
                     filler notes have no range proofs nor kernel signatures, so the journal \
                     audit (`cbdc audit`, POST /v1/audit) refuses that database from then on \
                     (only `cbdc audit --supply-only` passes); seed a copy made for benchmarks, \
                     and give --yes to go ahead"
                );
            }
            serve::check_sqlite_path(&database_url, false)?;
            let key = keys::load_signing(&block_key)?;
            let store = ledger_service::store::Store::open(&database_url)?;
            let progress = SeedProgress::new(notes);
            let report = ledger_service::store::seed::seed_filler_notes_with_progress(
                &store,
                &key,
                notes,
                notes_per_transaction,
                &|step| progress.show(step),
            );
            progress.finish();
            let report = report?;
            println!(
                "seeded {} in {}, blocks {}..={}; generating {:.2} s, writing {:.2} s, vacuum {:.2} s",
                counted(report.notes, "filler note", "filler notes"),
                counted(report.transactions, "transaction", "transactions"),
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
            position: None,
            ..
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
                            "signed tip: the chain had {} when the export was written ({} ms after the Unix epoch); the export holds {}",
                            counted(tip.blocks, "block", "blocks"),
                            tip.time_ms,
                            if tip.blocks == 1 { "it" } else { "all of them" }
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
                "audit OK: {}, {}, {}; issued {}, redeemed {}, outstanding {}",
                counted(report.blocks, "block", "blocks"),
                counted(report.transactions, "transaction", "transactions"),
                counted(report.unspent_notes, "unspent note", "unspent notes"),
                report.issued,
                report.redeemed,
                report.outstanding
            );
            eprintln!(
                "every transaction re-verified ({}){}; supply ceiling {}; last block {} {}; {} found; {:.3} s",
                if one_by_one { "one by one" } else { "in batches" },
                if from_database { ", every table compared" } else { "" },
                report.supply_ceiling,
                report.height.map_or_else(|| "none".to_owned(), |h| h.to_string()),
                report.last_hash,
                counted(options.expect.len(), "expected block", "expected blocks"),
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
                "exported {} to {}",
                counted(export.blocks.len(), "block", "blocks"),
                out.display()
            );
            Ok(())
        }
        Command::Request(args) => request(args).await,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every subcommand, flag and argument of the whole command tree explains
    /// itself in `--help`.
    #[test]
    fn every_command_flag_and_argument_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let here = format!("{path} {}", command.get_name()).trim().to_owned();
            if command.get_about().is_none() && command.get_long_about().is_none() {
                missing.push(format!("`{here}` (the command)"));
            }
            for arg in command.get_arguments() {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("`{here}` {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &here, missing);
                }
            }
        }
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        walk(&command, "", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:#?}");
    }

    #[test]
    fn counts_are_singular_for_one_only() {
        assert_eq!(counted(0u64, "block", "blocks"), "0 blocks");
        assert_eq!(counted(1u64, "block", "blocks"), "1 block");
        assert_eq!(counted(2usize, "batch", "batches"), "2 batches");
    }
}

//! `cbdc bench`: a load generator for a running service.
//!
//! A run has two phases. **Setup** (not measured) prepares everything the
//! measured requests need — for the ledger: admit the bank, issue money, fan it
//! out into one spendable note per measured transaction, then build and sign every
//! transfer in advance on all cores. **Submit** (measured) sends the prepared
//! requests from `C` concurrent clients, each its own task with its own
//! connection pool, and records every request's latency in an HDR histogram.
//! The report is accepted requests per wall-clock second of the submit phase, the
//! latency percentiles, rejections by error code and, for the ledger, what its
//! `/metrics` say the server spent the time on.
//!
//! Targets implement [`Target`] (how to make a client and send one prepared
//! request); their setup is theirs. Two exist: the ledger, and a bank's gateway
//! (`--target gateway`): each client is a customer with its own wallet paying
//! fresh addresses through the internal API, and the same run first measures
//! the proving ceiling (the core's `build_transfer` on all cores, nothing else
//! running) that the gateway is compared with. The wallet API becomes a further
//! [`TargetKind`].
//!
//! Measured requests are never retried: a retry would hide the rejections the
//! report is there to show. Building never happens during the submit phase, so
//! the load generator's own proving does not compete with the server it measures
//! (it still shares the machine when both run on one host).

use crate::keys;
use anyhow::{bail, ensure, Context, Result};
use hdrhistogram::Histogram;
use ledger_core::tx::OUTPUTS_MAX;
use ledger_core::{
    build_transfer, Amount, Built, OwnedNote, Payment, SecretKey, Transaction, WalletKeys,
};
use ledger_service::client::{ClientError, LedgerClient};
use rand::Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Value of each fanned-out note in minor units: every measured transfer pays a
/// random part of it and takes the rest back as change, so it has two outputs.
const NOTE_VALUE: u64 = 1_000;
/// Most measured transactions in one run (the fan-out and the pre-built
/// transfers are held in memory, ≈ 1.3 KB each).
pub const TRANSACTIONS_MAX: usize = 1_000_000;
/// Most concurrent clients.
pub const CLIENTS_MAX: usize = 1_024;
/// Concurrent submissions while fanning out (setup, not measured).
const SETUP_CLIENTS: usize = 16;
/// Latencies are recorded in microseconds up to this bound (longer ones saturate).
const LATENCY_MAX_US: u64 = 120_000_000;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// The central bank's ledger: signed 1-input 2-output transfers to `/v1/transactions`.
    Ledger,
    /// A bank's gateway: customers' payments through its internal API
    /// (`POST /v1/wallets/{id}/payments`), each proven, submitted and checked.
    Gateway,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// What to load.
    #[arg(long, value_enum, default_value = "ledger")]
    pub target: TargetKind,
    /// The ledger's base URL.
    #[arg(long, env = "CBDC_LEDGER_URL", default_value = "http://127.0.0.1:7400")]
    pub ledger: String,
    /// Officer signing key files (repeat; as many as the ledger's issuance
    /// threshold). Ledger target.
    #[arg(long = "officer-key")]
    pub officer_keys: Vec<PathBuf>,
    /// The bank's wallet key file (`cbdc keygen --wallet`); it owns and spends
    /// the notes. Ledger target.
    #[arg(long)]
    pub bank_key: Option<PathBuf>,
    /// A gateway's base URL; repeat for replicas of one bank (on one database):
    /// client `i` pays through the `i mod n`-th. Gateway target.
    #[arg(long = "gateway", value_name = "URL")]
    pub gateways: Vec<String>,
    /// A bearer token of the gateway's internal API (the wallet API's). Gateway target.
    #[arg(long)]
    pub internal_token: Option<String>,
    /// A bearer token of the gateway's operator API (to open the customers'
    /// deposit accounts during setup). Gateway target.
    #[arg(long)]
    pub operator_token: Option<String>,
    /// Transfers the proving baseline builds on all cores before the measured
    /// phase (gateway target; 0 skips it).
    #[arg(long, default_value_t = 1_000)]
    pub baseline: usize,
    /// The bank's participant id (admitted if absent).
    #[arg(long, default_value = "bench-bank")]
    pub bank_id: String,
    /// Measured transactions (each spends its own note).
    #[arg(long, short = 'n', default_value_t = 2_000)]
    pub transactions: usize,
    /// Concurrent clients during the measured phase.
    #[arg(long, short = 'c', default_value_t = 1)]
    pub clients: usize,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A system under load: makes clients and sends one prepared request. Setup
/// (preparing the requests) is target-specific and happens before measuring.
pub trait Target: Send + Sync + 'static {
    type Request: Send + Sync + 'static;
    type Client: Send + 'static;

    /// The client of concurrent task `index`, with its own connections.
    fn client(&self, index: usize) -> Self::Client;

    /// Sends one request; on failure, the error code to count it under.
    fn send(
        client: &Self::Client,
        request: &Self::Request,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// The ledger as a target: a bank submitting transactions.
pub struct LedgerTarget {
    base: String,
    key: SecretKey,
}

impl Target for LedgerTarget {
    type Request = Transaction;
    type Client = LedgerClient;

    fn client(&self, _index: usize) -> LedgerClient {
        LedgerClient::new(&self.base, self.key.clone())
    }

    async fn send(client: &LedgerClient, tx: &Transaction) -> Result<(), String> {
        client
            .submit(tx)
            .await
            .map(|_| ())
            .map_err(|e| error_code(&e))
    }
}

fn error_code(error: &ClientError) -> String {
    match error {
        ClientError::Api { code, .. } => code.clone(),
        ClientError::Transport(e) if e.is_timeout() => "timeout".into(),
        ClientError::Transport(_) => "transport".into(),
        ClientError::Decode(_) => "bad_answer".into(),
    }
}

/// What the submit phase observed.
pub struct Measurement {
    pub requests: usize,
    pub accepted: u64,
    pub rejected: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// Latency of every completed request (accepted or rejected), in microseconds.
    pub latency_us: Histogram<u64>,
}

/// Sends every request once from `clients` concurrent tasks, each taking the next
/// unsent request, and measures.
pub async fn measure<T: Target>(
    target: &T,
    requests: Arc<Vec<T::Request>>,
    clients: usize,
    progress: Option<Arc<Progress>>,
) -> Result<Measurement> {
    ensure!(clients >= 1, "at least one client");
    let next = Arc::new(AtomicUsize::new(0));
    // Clients are made before the clock starts; connections open on first use.
    let tasks: Vec<T::Client> = (0..clients).map(|i| target.client(i)).collect();
    let started = Instant::now();
    let mut handles = Vec::with_capacity(clients);
    for client in tasks {
        let requests = requests.clone();
        let next = next.clone();
        let progress = progress.clone();
        handles.push(tokio::spawn(async move {
            let mut latency = latency_histogram();
            let mut accepted = 0u64;
            let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(i) else {
                    break;
                };
                let sent = Instant::now();
                let outcome = T::send(&client, request).await;
                latency.saturating_record(micros(sent.elapsed()));
                match outcome {
                    Ok(()) => accepted += 1,
                    Err(code) => *rejected.entry(code).or_default() += 1,
                }
                if let Some(p) = &progress {
                    p.add(1);
                }
            }
            (latency, accepted, rejected)
        }));
    }
    let mut latency_us = latency_histogram();
    let mut accepted = 0;
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    for handle in handles {
        let (l, a, r) = handle.await.context("a client task panicked")?;
        latency_us
            .add(&l)
            .expect("histograms with the same bounds add");
        accepted += a;
        for (code, n) in r {
            *rejected.entry(code).or_default() += n;
        }
    }
    Ok(Measurement {
        requests: requests.len(),
        accepted,
        rejected,
        elapsed: started.elapsed(),
        latency_us,
    })
}

fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("valid histogram bounds")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A progress line on stderr: redrawn in place on a terminal, printed once at the
/// end otherwise (so logs stay readable).
pub struct Progress {
    label: String,
    total: usize,
    done: AtomicUsize,
    stop: AtomicBool,
    started: Instant,
}

pub struct ProgressHandle {
    progress: Arc<Progress>,
    drawer: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    pub fn start(label: &str, total: usize) -> ProgressHandle {
        let progress = Arc::new(Progress {
            label: label.to_string(),
            total,
            done: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            started: Instant::now(),
        });
        let drawer = std::io::stderr().is_terminal().then(|| {
            let p = progress.clone();
            std::thread::spawn(move || {
                while !p.stop.load(Ordering::Relaxed) {
                    eprint!("\r{}", p.line());
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
        });
        ProgressHandle { progress, drawer }
    }

    pub fn add(&self, n: usize) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    fn line(&self) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 {
            count_f64(done) / seconds
        } else {
            0.0
        };
        format!(
            "{}: {done}/{} ({rate:.0}/s, {seconds:.1} s)   ",
            self.label, self.total
        )
    }
}

impl ProgressHandle {
    pub fn get(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    pub fn finish(mut self) {
        self.progress.stop.store(true, Ordering::Relaxed);
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
            eprint!("\r");
        }
        eprintln!("{}", self.progress.line());
    }
}

/// Counts are far below 2^52, where f64 stops being exact.
fn count_f64(n: usize) -> f64 {
    u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
}

pub async fn run(args: BenchArgs) -> Result<()> {
    ensure!(
        (1..=TRANSACTIONS_MAX).contains(&args.transactions),
        "--transactions must be between 1 and {TRANSACTIONS_MAX}"
    );
    ensure!(
        (1..=CLIENTS_MAX).contains(&args.clients),
        "--clients must be between 1 and {CLIENTS_MAX}"
    );
    let report = match args.target {
        TargetKind::Ledger => bench_ledger(&args).await?,
        TargetKind::Gateway => bench_gateway(&args).await?,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        );
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// The report of one run, as printed.
#[derive(Debug, Serialize)]
pub struct Report {
    pub target: &'static str,
    pub url: String,
    pub transactions: usize,
    pub clients: usize,
    pub accepted: u64,
    pub rejected: BTreeMap<String, u64>,
    pub seconds: f64,
    pub transactions_per_second: f64,
    pub latency_ms: Latency,
    pub setup_seconds: f64,
    /// What the server's own metrics say about the submit phase, if it has them.
    pub server: Option<ServerStats>,
    /// Where the host's CPU went during the submit phase (Linux only).
    pub cpu: Option<crate::host::CpuUse>,
    /// The proving ceiling measured in the same run (gateway target).
    pub baseline: Option<Baseline>,
    /// Mean milliseconds per operation in each of the gateway's steps over the
    /// submit phase, summed over its replicas (gateway target).
    pub gateway_steps: Option<BTreeMap<String, f64>>,
}

/// The core's `build_transfer` (one input, two outputs) on every core with
/// nothing else running: what proving alone allows.
#[derive(Debug, Serialize)]
pub struct Baseline {
    pub transfers: usize,
    pub seconds: f64,
    pub transfers_per_second: f64,
    /// Measured payments per second as a share of the baseline's rate.
    pub share: f64,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Means over the submit phase, from the difference of two `/metrics` scrapes.
/// A ledger that verifies in batches reports `verify_seconds` per batch and
/// `verify_batch_size`; one that verifies one by one only the former.
#[derive(Debug, Serialize)]
pub struct ServerStats {
    /// Wall-clock time of the verification stage per transaction.
    pub verify_ms_per_transaction: Option<f64>,
    pub transactions_per_verify_batch: Option<f64>,
    pub commit_ms_per_batch: Option<f64>,
    pub transactions_per_batch: Option<f64>,
    pub batches: Option<f64>,
    /// Share of the submit phase the verification stage was busy (above 1 when
    /// several verifications run at once).
    pub verify_busy: Option<f64>,
    /// Share of the submit phase the writer spent committing.
    pub commit_busy: Option<f64>,
}

impl Report {
    fn new(
        target: &'static str,
        url: &str,
        clients: usize,
        m: &Measurement,
        setup: Duration,
        server: Option<ServerStats>,
        cpu: Option<crate::host::CpuUse>,
    ) -> Report {
        let ms = |us: u64| u32::try_from(us).map_or(f64::from(u32::MAX), f64::from) / 1_000.0;
        let seconds = m.elapsed.as_secs_f64();
        let accepted = u32::try_from(m.accepted).map_or(f64::from(u32::MAX), f64::from);
        Report {
            target,
            url: url.to_string(),
            transactions: m.requests,
            clients,
            accepted: m.accepted,
            rejected: m.rejected.clone(),
            seconds,
            transactions_per_second: if seconds > 0.0 {
                accepted / seconds
            } else {
                0.0
            },
            latency_ms: Latency {
                p50: ms(m.latency_us.value_at_quantile(0.50)),
                p90: ms(m.latency_us.value_at_quantile(0.90)),
                p99: ms(m.latency_us.value_at_quantile(0.99)),
                max: ms(m.latency_us.max()),
                mean: m.latency_us.mean() / 1_000.0,
            },
            setup_seconds: setup.as_secs_f64(),
            server,
            cpu,
            baseline: None,
            gateway_steps: None,
        }
    }

    /// A Markdown table (pastes into BENCHMARKS.md) and what the server reported.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "target {} at {} (setup {:.1} s, not measured)\n\n",
            self.target, self.url, self.setup_seconds
        ));
        out.push_str("| clients | transactions | accepted | rejected | seconds | tx/s | p50 ms | p90 ms | p99 ms | max ms |\n");
        out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        let rejected: u64 = self.rejected.values().sum();
        let l = &self.latency_ms;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            self.clients,
            self.transactions,
            self.accepted,
            rejected,
            self.seconds,
            self.transactions_per_second,
            l.p50,
            l.p90,
            l.p99,
            l.max
        ));
        if self.rejected.is_empty() {
            out.push_str("\nrejections: none\n");
        } else {
            out.push_str("\nrejections by code:\n");
            for (code, n) in &self.rejected {
                out.push_str(&format!("  {code}: {n}\n"));
            }
        }
        if let Some(s) = &self.server {
            let show = |v: Option<f64>, unit: &str| {
                v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}{unit}"))
            };
            let percent = |v: Option<f64>| {
                v.map_or_else(|| "n/a".to_string(), |v| format!("{:.0} %", v * 100.0))
            };
            out.push_str(&format!(
                "server (from /metrics, submit phase): verification {} per transaction ({} per verification batch, busy {} of the time); commit {} per batch of {} ({} batches, writer busy {} of the time)\n",
                show(s.verify_ms_per_transaction, " ms"),
                show(s.transactions_per_verify_batch, ""),
                percent(s.verify_busy),
                show(s.commit_ms_per_batch, " ms"),
                show(s.transactions_per_batch, ""),
                show(s.batches, ""),
                percent(s.commit_busy),
            ));
        }
        if let Some(steps) = &self.gateway_steps {
            let parts: Vec<String> = bank_gateway::metrics::STEPS
                .iter()
                .filter_map(|step| steps.get(*step).map(|ms| format!("{step} {ms:.2}")))
                .collect();
            out.push_str(&format!(
                "gateway (from /metrics, submit phase, mean ms per operation): {}\n",
                parts.join(", ")
            ));
        }
        if let Some(c) = &self.cpu {
            out.push_str(&format!(
                "host CPU (submit phase, {} busy {:.0} %): per transaction ledger {:.3} ms, gateway {:.3} ms, postgres {:.3} ms, load generator {:.3} ms, other {:.3} ms\n",
                crate::counted(c.cores, "core", "cores"),
                c.host_busy * 100.0,
                c.ledger_ms,
                c.gateway_ms,
                c.postgres_ms,
                c.load_generator_ms,
                c.other_ms,
            ));
        }
        if let Some(b) = &self.baseline {
            out.push_str(&format!(
                "baseline (same run, before the submit phase): build_transfer on all cores, {} in {:.2} s = {:.0}/s; the gateway reached {:.0} % of it\n",
                crate::counted(b.transfers, "transfer", "transfers"),
                b.seconds,
                b.transfers_per_second,
                b.share * 100.0
            ));
        }
        out
    }
}

async fn bench_ledger(args: &BenchArgs) -> Result<Report> {
    ensure!(
        !args.officer_keys.is_empty(),
        "--target ledger needs --officer-key (as many as the issuance threshold)"
    );
    let bank_key = args
        .bank_key
        .as_ref()
        .context("--target ledger needs --bank-key")?;
    let bank = keys::load_wallet(bank_key)?;
    let officers = args
        .officer_keys
        .iter()
        .map(|p| keys::load_signing(p))
        .collect::<Result<Vec<_>>>()?;
    let setup_started = Instant::now();
    let notes = fund_notes(args, &bank, &officers).await?;

    let built = tokio::task::block_in_place(|| {
        build_all(
            &format!("building {} measured transfers", notes.len()),
            &notes,
            |note, rng| {
                let customer = WalletKeys::generate(rng);
                let amount = Amount::new(rng.gen_range(1..NOTE_VALUE));
                build_transfer(
                    std::slice::from_ref(&bank.spend),
                    std::slice::from_ref(note),
                    &[Payment {
                        to: customer.address(),
                        amount,
                    }],
                    &bank.address(),
                    rng,
                )
            },
        )
    })?;
    let requests: Arc<Vec<Transaction>> = Arc::new(built.into_iter().map(|b| b.tx).collect());
    let setup = setup_started.elapsed();

    let target = LedgerTarget {
        base: args.ledger.clone(),
        key: bank.spend.clone(),
    };
    let before = scrape_metrics(&args.ledger).await;
    let cpu_before = crate::host::Snapshot::take();
    let progress = Progress::start(
        &format!(
            "submitting with {}",
            crate::counted(args.clients, "client", "clients")
        ),
        requests.len(),
    );
    let measurement = measure(&target, requests, args.clients, Some(progress.get())).await?;
    let cpu_after = crate::host::Snapshot::take();
    progress.finish();
    let after = scrape_metrics(&args.ledger).await;
    let server = match (before, after) {
        (Some(before), Some(after)) => Some(server_stats(&before, &after, measurement.elapsed)),
        _ => None,
    };
    Ok(Report::new(
        "ledger",
        &args.ledger,
        args.clients,
        &measurement,
        setup,
        server,
        cpu_before
            .zip(cpu_after)
            .map(|(b, a)| b.until(&a, measurement.accepted)),
    ))
}

/// Builds one transaction per item on all cores, with progress.
fn build_all<T: Sync>(
    label: &str,
    items: &[T],
    build: impl Fn(&T, &mut rand::rngs::OsRng) -> Result<Built, ledger_core::BuildError> + Sync,
) -> Result<Vec<Built>> {
    let progress = Progress::start(label, items.len());
    let p = progress.get();
    let built = items
        .par_iter()
        .map(|item| {
            let built = build(item, &mut rand::rngs::OsRng);
            p.add(1);
            built
        })
        .collect::<Result<Vec<_>, _>>();
    progress.finish();
    Ok(built?)
}

/// A note to split and how many leaf notes it must end up as.
struct Pending {
    note: OwnedNote,
    leaves: u64,
}

/// Admits the bank, issues `transactions × NOTE_VALUE` to it and splits the issued
/// note into `transactions` notes of `NOTE_VALUE`, level by level, with transfers of
/// up to [`OUTPUTS_MAX`] outputs, each committed before its outputs are spent.
async fn fund_notes(
    args: &BenchArgs,
    bank: &WalletKeys,
    officers: &[SecretKey],
) -> Result<Vec<OwnedNote>> {
    let officer_clients: Vec<LedgerClient> = officers
        .iter()
        .map(|k| LedgerClient::new(&args.ledger, k.clone()))
        .collect();
    let first = &officer_clients[0];
    match first
        .admit(
            &args.bank_id,
            "Benchmark bank",
            ledger_core::governance::Role::Bank,
            &bank.spend.public_key(),
            Some(&bank.view.public_key()),
            &[],
        )
        .await
    {
        Ok(_) => eprintln!("admitted bank {}", args.bank_id),
        Err(e) if e.code() == Some("participant_exists") => {}
        Err(e) => return Err(e).context("admitting the bank"),
    }

    let leaves = u64::try_from(args.transactions).expect("bounded by TRANSACTIONS_MAX");
    let total = leaves
        .checked_mul(NOTE_VALUE)
        .context("the issue amount overflows")?;
    let proposal = first
        .propose(&args.bank_id, Amount::new(total))
        .await
        .context("proposing the issue")?;
    let id = proposal["id"]
        .as_str()
        .context("the proposal has no id")?
        .to_string();
    let mut executed = proposal;
    for officer in &officer_clients {
        if executed["state"] == "executed" {
            break;
        }
        executed = officer.approve(&id).await.context("approving the issue")?;
    }
    if executed["state"] != "executed" {
        bail!(
            "the issue did not execute after {} (give as many --officer-key as the threshold): state {}",
            crate::counted(officer_clients.len(), "approval", "approvals"),
            executed["state"]
        );
    }
    let issue: ledger_core::Issue = serde_json::from_value(executed["issue"].clone())
        .context("the executed proposal has no issue")?;
    let issued = issue.owned_notes();
    ensure!(
        issued.len() == 1 && issued[0].owner == bank.spend.public_key(),
        "bank {} is admitted with other keys than {}; use another --bank-id",
        args.bank_id,
        args.bank_key
            .as_ref()
            .map_or_else(String::new, |p| p.display().to_string())
    );

    let submitter = LedgerTarget {
        base: args.ledger.clone(),
        key: bank.spend.clone(),
    };
    let mut done = Vec::with_capacity(args.transactions);
    let mut pending = vec![Pending {
        note: issued[0].clone(),
        leaves,
    }];
    let mut level = 0;
    while !pending.is_empty() {
        level += 1;
        let (split, leaves_now): (Vec<Pending>, Vec<Pending>) =
            pending.into_iter().partition(|p| p.leaves > 1);
        done.extend(leaves_now.into_iter().map(|p| p.note));
        if split.is_empty() {
            break;
        }
        let built = tokio::task::block_in_place(|| {
            build_all(
                &format!(
                    "fan-out level {level}: building {}",
                    crate::counted(split.len(), "split", "splits")
                ),
                &split,
                |p, rng| {
                    let children = split_sizes(p.leaves);
                    let (change, payments) = children.split_last().expect("at least two children");
                    debug_assert!(*change >= 1);
                    build_transfer(
                        std::slice::from_ref(&bank.spend),
                        std::slice::from_ref(&p.note),
                        &payments
                            .iter()
                            .map(|&leaves| Payment {
                                to: bank.address(),
                                amount: Amount::new(leaves * NOTE_VALUE),
                            })
                            .collect::<Vec<_>>(),
                        &bank.address(),
                        rng,
                    )
                },
            )
        })?;
        let next: Vec<Pending> = built
            .iter()
            .flat_map(|b| b.outputs.iter())
            .map(|o| Pending {
                note: o.owned_note(),
                leaves: o.opening.value().minor_units() / NOTE_VALUE,
            })
            .collect();
        let txs = Arc::new(built.into_iter().map(|b| b.tx).collect::<Vec<_>>());
        let progress = Progress::start(
            &format!(
                "fan-out level {level}: submitting {}",
                crate::counted(txs.len(), "split", "splits")
            ),
            txs.len(),
        );
        let m = measure(&submitter, txs, SETUP_CLIENTS, Some(progress.get())).await?;
        progress.finish();
        if !m.rejected.is_empty() {
            bail!("the ledger refused fan-out transfers: {:?}", m.rejected);
        }
        pending = next;
    }
    ensure!(
        done.len() == args.transactions,
        "the fan-out made {}, not {}",
        crate::counted(done.len(), "note", "notes"),
        args.transactions
    );
    Ok(done)
}

/// How a note worth `leaves` leaf notes splits in one transfer: children of the
/// largest power-of-16 size that fits 16 of them, plus one child of the remainder,
/// so that full transfers of 16 outputs do most of the work (a proof over 9
/// outputs costs as much as one over 16). Always at least two, at most 16.
fn split_sizes(leaves: u64) -> Vec<u64> {
    let fan = u64::try_from(OUTPUTS_MAX).expect("16 fits");
    assert!(leaves > 1, "a single leaf is not split");
    let mut size = 1;
    while leaves > size * fan {
        size *= fan;
    }
    let mut children = vec![size; usize::try_from(leaves / size).expect("at most 16")];
    let remainder = leaves % size;
    if remainder != 0 {
        children.push(remainder);
    }
    children
}

// ---------------------------------------------------------------------------
// The bank gateway as a target

/// Largest amount of one measured payment (minor units): each pays a random
/// amount from 1 to this, so every payment has a payee output and a change.
const PAYMENT_MAX: u64 = 100;

/// Payments from one customer's wallet per client: client `i` pays from
/// wallet `i` through gateway `i mod replicas`, one payment at a time (the
/// wallet's change from one payment funds the next).
pub struct GatewayTarget {
    /// Per client: the payments route of its wallet.
    routes: Vec<String>,
    token: String,
}

pub struct GatewayClient {
    http: reqwest::Client,
    route: String,
    token: String,
}

/// One prepared payment: a fresh payee address, an amount, its idempotency key.
pub struct GatewayPayment {
    body: serde_json::Value,
    key: String,
}

impl Target for GatewayTarget {
    type Request = GatewayPayment;
    type Client = GatewayClient;

    fn client(&self, index: usize) -> GatewayClient {
        GatewayClient {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
            route: self.routes[index % self.routes.len()].clone(),
            token: self.token.clone(),
        }
    }

    async fn send(client: &GatewayClient, payment: &GatewayPayment) -> Result<(), String> {
        let answer = client
            .http
            .post(&client.route)
            .bearer_auth(&client.token)
            .header("Idempotency-Key", &payment.key)
            .json(&payment.body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timeout".to_string()
                } else {
                    "transport".to_string()
                }
            })?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.map_err(|_| "bad_answer".to_string())?;
        if !status.is_success() {
            return Err(body["code"]
                .as_str()
                .map_or_else(|| format!("http_{}", status.as_u16()), str::to_string));
        }
        match body["state"].as_str() {
            Some("final") => Ok(()),
            Some(state) => Err(match body["pending_reason"].as_str() {
                Some(reason) => format!("{state}:{reason}"),
                None => state.to_string(),
            }),
            None => Err("bad_answer".into()),
        }
    }
}

/// A small typed caller of the gateway's APIs for the setup phase.
struct GatewayCalls {
    http: reqwest::Client,
    base: String,
    internal: String,
    operator: String,
}

impl GatewayCalls {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        operator: bool,
        key: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let token = if operator {
            &self.operator
        } else {
            &self.internal
        };
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request
            .send()
            .await
            .with_context(|| format!("{method} {}{path}", self.base))?;
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        ensure!(
            status.is_success(),
            "{method} {path}: the gateway answered {status}: {text}"
        );
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: not JSON: {text}"))
    }
}

fn field_i64(value: &serde_json::Value, name: &str) -> Result<i64> {
    value[name]
        .as_i64()
        .with_context(|| format!("the gateway's answer has no `{name}`: {value}"))
}

/// Measures payments through a bank's gateway. Setup (not measured): one
/// customer per client, raised to the verified tier, with a deposit account
/// holding enough cash for its share of the payments, linked and funded into
/// the wallet (out of the bank's float, which must be large enough). Then the
/// baseline, then the measured payments.
async fn bench_gateway(args: &BenchArgs) -> Result<Report> {
    ensure!(
        !args.gateways.is_empty(),
        "--target gateway needs --gateway URL (repeat it for replicas of one bank)"
    );
    let internal = args
        .internal_token
        .clone()
        .context("--target gateway needs --internal-token")?;
    let operator = args
        .operator_token
        .clone()
        .context("--target gateway needs --operator-token (the setup opens deposit accounts)")?;
    let bases: Vec<String> = args
        .gateways
        .iter()
        .map(|g| g.trim_end_matches('/').to_string())
        .collect();
    let calls = GatewayCalls {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?,
        base: bases[0].clone(),
        internal: internal.clone(),
        operator,
    };
    let setup_started = Instant::now();
    let per_wallet = u64::try_from(args.transactions.div_ceil(args.clients))
        .expect("bounded by TRANSACTIONS_MAX");
    let fund = per_wallet * PAYMENT_MAX;
    let clients = u64::try_from(args.clients).expect("bounded by CLIENTS_MAX");
    let float = calls
        .call(reqwest::Method::GET, "/v1/operator/float", true, None, None)
        .await
        .context("reading the bank's float")?;
    let float_balance = float["balance"].as_u64().unwrap_or(0);
    ensure!(
        float_balance >= fund * clients,
        "the bank's float holds {float_balance}; funding {} with {fund} each needs {}",
        crate::counted(args.clients, "wallet", "wallets"),
        fund * clients
    );
    let mut routes = Vec::with_capacity(args.clients);
    let progress = Progress::start(
        &format!(
            "setup: opening and funding {}",
            crate::counted(args.clients, "wallet", "wallets")
        ),
        args.clients,
    );
    let run: u64 = rand::thread_rng().gen_range(0..1_000_000_000);
    for i in 0..args.clients {
        let phone = format!("+1{run:09}{i:04}");
        let opened = calls
            .call(
                reqwest::Method::POST,
                "/v1/wallets",
                false,
                None,
                Some(serde_json::json!({ "phone": phone })),
            )
            .await?;
        let wallet = field_i64(&opened, "wallet_id")?;
        let customer = field_i64(&opened, "customer_id")?;
        calls
            .call(
                reqwest::Method::POST,
                &format!("/v1/operator/customers/{customer}/tier"),
                true,
                None,
                Some(serde_json::json!({
                    "tier": "verified",
                    "national_id": format!("BENCH{run:09}{i:04}"),
                })),
            )
            .await?;
        let account = calls
            .call(
                reqwest::Method::POST,
                &format!("/v1/operator/customers/{customer}/accounts"),
                true,
                None,
                None,
            )
            .await?;
        let account = field_i64(&account, "account_id")?;
        calls
            .call(
                reqwest::Method::POST,
                &format!("/v1/operator/accounts/{account}/deposits"),
                true,
                None,
                Some(serde_json::json!({
                    "amount": fund,
                    "reference": format!("bench-{run}-{i}"),
                })),
            )
            .await?;
        calls
            .call(
                reqwest::Method::POST,
                &format!("/v1/operator/wallets/{wallet}/link"),
                true,
                None,
                Some(serde_json::json!({ "account_id": account })),
            )
            .await?;
        let funded = calls
            .call(
                reqwest::Method::POST,
                &format!("/v1/wallets/{wallet}/fund"),
                false,
                Some(&format!("bench-fund-{run}-{i}")),
                Some(serde_json::json!({ "amount": fund })),
            )
            .await?;
        ensure!(
            funded["state"] == "final",
            "funding wallet {wallet} did not become final: {funded}"
        );
        routes.push(format!(
            "{}/v1/wallets/{wallet}/payments",
            bases[i % bases.len()]
        ));
        progress.get().add(1);
    }
    progress.finish();
    let mut rng = rand::thread_rng();
    let payments: Vec<GatewayPayment> = (0..args.transactions)
        .map(|i| GatewayPayment {
            body: serde_json::json!({
                "to": WalletKeys::generate(&mut rng).address().to_string(),
                "amount": rng.gen_range(1..=PAYMENT_MAX),
            }),
            key: format!("bench-pay-{run}-{i}"),
        })
        .collect();
    let setup = setup_started.elapsed();

    let baseline = if args.baseline > 0 {
        Some(tokio::task::block_in_place(|| {
            proving_baseline(args.baseline)
        })?)
    } else {
        None
    };

    let target = GatewayTarget {
        routes,
        token: internal,
    };
    let before = scrape_all(&bases).await;
    let ledger_before = scrape_metrics(&args.ledger).await;
    let cpu_before = crate::host::Snapshot::take();
    let progress = Progress::start(
        &format!(
            "paying with {}",
            crate::counted(args.clients, "client", "clients")
        ),
        payments.len(),
    );
    let measurement = measure(
        &target,
        Arc::new(payments),
        args.clients,
        Some(progress.get()),
    )
    .await?;
    let cpu_after = crate::host::Snapshot::take();
    progress.finish();
    let after = scrape_all(&bases).await;
    let ledger_after = scrape_metrics(&args.ledger).await;
    let server = match (ledger_before, ledger_after) {
        (Some(b), Some(a)) => Some(server_stats(&b, &a, measurement.elapsed)),
        _ => None,
    };
    let mut report = Report::new(
        "gateway",
        &bases.join(" "),
        args.clients,
        &measurement,
        setup,
        server,
        cpu_before
            .zip(cpu_after)
            .map(|(b, a)| b.until(&a, measurement.accepted)),
    );
    report.gateway_steps = Some(step_means(&before, &after));
    report.baseline = baseline.map(|(transfers, seconds)| {
        let rate = count_f64(transfers) / seconds;
        Baseline {
            transfers,
            seconds,
            transfers_per_second: rate,
            share: report.transactions_per_second / rate,
        }
    });
    Ok(report)
}

/// Builds `n` one-input two-output transfers of local notes on every core,
/// as the gateway's prover pool does: (transfers, seconds).
fn proving_baseline(n: usize) -> Result<(usize, f64)> {
    let mut rng = rand::thread_rng();
    let owner = WalletKeys::generate(&mut rng);
    let notes: Vec<OwnedNote> = (0..n)
        .map(|i| {
            let mut seed = [0u8; 32];
            rng.fill(&mut seed);
            let tx = ledger_core::TxId::of_bytes(&seed);
            OwnedNote {
                id: ledger_core::NoteId::derive(&tx, u32::try_from(i).unwrap_or(0)),
                owner: owner.spend.public_key(),
                opening: ledger_core::Opening::random(Amount::new(10_000), &mut rng),
            }
        })
        .collect();
    let started = Instant::now();
    build_all(
        &format!("baseline: build_transfer of {n} on all cores"),
        &notes,
        |note, rng| {
            let payee = WalletKeys::generate(rng);
            build_transfer(
                std::slice::from_ref(&owner.spend),
                std::slice::from_ref(note),
                &[Payment {
                    to: payee.address(),
                    amount: Amount::new(rng.gen_range(1..=PAYMENT_MAX)),
                }],
                &owner.address(),
                rng,
            )
        },
    )?;
    Ok((n, started.elapsed().as_secs_f64()))
}

/// Every replica's metrics, summed by series.
async fn scrape_all(bases: &[String]) -> Scrape {
    let mut total = Scrape::new();
    for base in bases {
        for (name, value) in scrape_metrics(base).await.unwrap_or_default() {
            *total.entry(name).or_default() += value;
        }
    }
    total
}

/// Mean milliseconds per operation of each gateway step between two scrapes.
fn step_means(before: &Scrape, after: &Scrape) -> BTreeMap<String, f64> {
    let mut means = BTreeMap::new();
    for step in bank_gateway::metrics::STEPS {
        let series = |part: &str| format!("cbdc_gateway_step_seconds_{part}{{step=\"{step}\"}}");
        let delta = |name: &str| {
            after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0)
        };
        let (sum, count) = (delta(&series("sum")), delta(&series("count")));
        if count > 0.0 {
            means.insert(step.to_string(), sum / count * 1_000.0);
        }
    }
    means
}

/// Sums and counts of the ledger's histograms, by metric name.
type Scrape = BTreeMap<String, f64>;

async fn scrape_metrics(base: &str) -> Option<Scrape> {
    let url = format!("{}/metrics", base.trim_end_matches('/'));
    let text = reqwest::get(&url).await.ok()?.text().await.ok()?;
    Some(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (name, value) = l.split_once(' ')?;
                Some((name.to_string(), value.trim().parse().ok()?))
            })
            .collect(),
    )
}

fn server_stats(before: &Scrape, after: &Scrape, elapsed: Duration) -> ServerStats {
    let delta = |name: &str| -> Option<f64> {
        Some(after.get(name)? - before.get(name).copied().unwrap_or(0.0))
    };
    let ratio = |a: Option<f64>, b: Option<f64>, scale: f64| -> Option<f64> {
        let (a, b) = (a?, b?);
        (b > 0.0).then(|| a / b * scale)
    };
    let verified = delta("cbdc_ledger_verify_batch_size_sum")
        .or_else(|| delta("cbdc_ledger_verify_seconds_count"));
    let verify_seconds = delta("cbdc_ledger_verify_seconds_sum");
    let commit_seconds = delta("cbdc_ledger_commit_seconds_sum");
    let seconds = Some(elapsed.as_secs_f64());
    ServerStats {
        verify_ms_per_transaction: ratio(verify_seconds, verified, 1_000.0),
        transactions_per_verify_batch: ratio(
            delta("cbdc_ledger_verify_batch_size_sum"),
            delta("cbdc_ledger_verify_batch_size_count"),
            1.0,
        ),
        commit_ms_per_batch: ratio(
            commit_seconds,
            delta("cbdc_ledger_commit_seconds_count"),
            1_000.0,
        ),
        transactions_per_batch: ratio(
            delta("cbdc_ledger_batch_size_sum"),
            delta("cbdc_ledger_batch_size_count"),
            1.0,
        ),
        batches: delta("cbdc_ledger_batch_size_count"),
        verify_busy: ratio(verify_seconds, seconds, 1.0),
        commit_busy: ratio(commit_seconds, seconds, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::{bind, open_ledger, OfficerConfig, Settings};

    /// A ledger on SQLite in this process with two officers (threshold 2):
    /// its URL, the officers' keys and key files, and its server's handle.
    async fn ledger(
        dir: &std::path::Path,
    ) -> (
        String,
        Vec<SecretKey>,
        Vec<PathBuf>,
        std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    ) {
        let officers: Vec<SecretKey> = (0..2)
            .map(|_| SecretKey::generate(&mut rand::rngs::OsRng))
            .collect();
        let mut officer_keys = Vec::new();
        for (i, key) in officers.iter().enumerate() {
            let path = dir.join(format!("officer-{i}.json"));
            keys::write_signing(&path, key).unwrap();
            officer_keys.push(path);
        }
        // The ledger opens its block key, it never creates one.
        let block_key = dir.join("ledger.json");
        keys::write_signing(&block_key, &SecretKey::generate(&mut rand::rngs::OsRng)).unwrap();
        let settings = Settings {
            listen: "127.0.0.1:0".into(),
            database_url: dir.join("ledger.sqlite").to_string_lossy().into_owned(),
            block_key,
            threshold: 2,
            workers: 2,
            supply_ceiling: ledger_service::ledger::SUPPLY_CEILING_DEFAULT,
            audit_every_blocks: 0,
            officers: officers
                .iter()
                .enumerate()
                .map(|(i, k)| OfficerConfig {
                    id: format!("officer-{i}"),
                    name: None,
                    key: hex::encode(k.public_key().as_bytes()),
                })
                .collect(),
        };
        let ledger = open_ledger(&settings).unwrap();
        let listener = bind(&settings.listen).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = ledger_service::server::serve(ledger, listener, 2).unwrap();
        let handle = server.handle();
        tokio::spawn(server);
        let stop = Box::pin(async move { handle.stop(true).await });
        (url, officers, officer_keys, stop)
    }

    /// A small run against a real ledger (SQLite, in this process): every measured
    /// transfer is accepted, and a second run reuses the admitted bank.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_run_commits_every_transfer() {
        let dir = tempfile::tempdir().unwrap();
        let (url, _officers, officer_keys, handle) = ledger(dir.path()).await;
        let bank_key = dir.path().join("bank.json");
        keys::write_wallet(&bank_key, &WalletKeys::generate(&mut rand::rngs::OsRng)).unwrap();
        for (transactions, clients) in [(20, 4), (3, 1)] {
            let args = BenchArgs {
                target: TargetKind::Ledger,
                ledger: url.clone(),
                officer_keys: officer_keys.clone(),
                bank_key: Some(bank_key.clone()),
                gateways: Vec::new(),
                internal_token: None,
                operator_token: None,
                baseline: 0,
                bank_id: "bench-bank".into(),
                transactions,
                clients,
                json: false,
            };
            let report = bench_ledger(&args).await.unwrap();
            assert_eq!(report.transactions, transactions);
            assert_eq!(
                report.accepted,
                u64::try_from(transactions).unwrap(),
                "{}",
                report.table()
            );
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
            assert!(report.transactions_per_second > 0.0);
            assert!(report.latency_ms.max >= report.latency_ms.p50);
            let server = report.server.as_ref().expect("the ledger serves /metrics");
            assert!(server.verify_ms_per_transaction.unwrap() > 0.0);
            assert!(report.table().contains("rejections: none"));
        }
        handle.await;
    }

    /// A small run through a real gateway (SQLite, in this process) in front
    /// of a real ledger: every payment is final, the steps and the baseline
    /// are reported, and the float paid exactly what the wallets were funded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_small_gateway_run_makes_every_payment_final() {
        let dir = tempfile::tempdir().unwrap();
        let (url, officers, _files, handle) = ledger(dir.path()).await;
        let officer_clients: Vec<LedgerClient> = officers
            .iter()
            .map(|k| LedgerClient::new(&url, k.clone()))
            .collect();
        let bank = WalletKeys::generate(&mut rand::rngs::OsRng);
        officer_clients[0]
            .admit(
                "bench-bank",
                "Benchmark bank",
                ledger_core::governance::Role::Bank,
                &bank.spend.public_key(),
                Some(&bank.view.public_key()),
                &[],
            )
            .await
            .unwrap();
        let proposal = officer_clients[0]
            .propose("bench-bank", Amount::new(1_000_000))
            .await
            .unwrap();
        let id = proposal["id"].as_str().unwrap().to_string();
        for officer in &officer_clients {
            officer.approve(&id).await.unwrap();
        }
        let mut config =
            bank_gateway::config::GatewayConfig::new("bench-bank", &url, bank, [7; 32]);
        config.operator_tokens = vec!["bench-operator-token".into()];
        config.internal_tokens = vec!["bench-internal-token".into()];
        config.float = bank_gateway::config::FloatPolicy {
            low: 0,
            high: 0,
            target: 0,
        };
        let database = dir.path().join("gateway.sqlite");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gateway = bank_gateway::server::start(config, database.to_str().unwrap(), listener)
            .await
            .unwrap();
        let base = gateway.base();
        let http = reqwest::Client::new();
        let float = || async {
            let view: serde_json::Value = http
                .get(format!("{base}/v1/operator/float"))
                .bearer_auth("bench-operator-token")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            view["balance"].as_u64().unwrap()
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while float().await == 0 {
            assert!(Instant::now() < deadline, "the float was never credited");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (transactions, clients) = (12, 3);
        let args = BenchArgs {
            target: TargetKind::Gateway,
            ledger: url.clone(),
            officer_keys: Vec::new(),
            bank_key: None,
            bank_id: "bench-bank".into(),
            gateways: vec![base.clone()],
            internal_token: Some("bench-internal-token".into()),
            operator_token: Some("bench-operator-token".into()),
            baseline: 4,
            transactions,
            clients,
            json: false,
        };
        let report = bench_gateway(&args).await.unwrap();
        assert_eq!(report.accepted, 12, "{}", report.table());
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let steps = report.gateway_steps.as_ref().unwrap();
        for step in ["reserve", "prove", "submit", "finalize"] {
            assert!(
                steps.get(step).is_some_and(|ms| *ms > 0.0),
                "{step}: {steps:?}"
            );
        }
        let baseline = report.baseline.as_ref().unwrap();
        assert_eq!(baseline.transfers, 4);
        assert!(baseline.transfers_per_second > 0.0);
        assert!(report.table().contains("baseline (same run"));
        // Three wallets funded with 4 × 100 each: the float paid 1,200.
        assert_eq!(float().await, 1_000_000 - 1_200);
        gateway.stop().await;
        handle.await;
    }

    #[test]
    fn splits_cover_every_leaf_with_at_most_sixteen_children() {
        for leaves in (2..=600).chain([4_096, 4_097, 65_535, 1_000_000]) {
            let children = split_sizes(leaves);
            assert!((2..=16).contains(&children.len()), "{leaves}: {children:?}");
            assert_eq!(children.iter().sum::<u64>(), leaves);
            assert!(children.iter().all(|&c| c >= 1));
        }
        assert_eq!(split_sizes(16), vec![1; 16]);
        assert_eq!(split_sizes(17), vec![16, 1]);
        assert_eq!(split_sizes(3_000), {
            let mut v = vec![256; 11];
            v.push(184);
            v
        });
    }

    #[test]
    fn server_stats_are_means_over_the_difference() {
        let scrape = |pairs: &[(&str, f64)]| -> Scrape {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let before = scrape(&[
            ("cbdc_ledger_verify_seconds_sum", 1.0),
            ("cbdc_ledger_verify_seconds_count", 100.0),
            ("cbdc_ledger_batch_size_sum", 100.0),
            ("cbdc_ledger_batch_size_count", 10.0),
        ]);
        let after = scrape(&[
            ("cbdc_ledger_verify_seconds_sum", 3.0),
            ("cbdc_ledger_verify_seconds_count", 1_100.0),
            ("cbdc_ledger_batch_size_sum", 1_100.0),
            ("cbdc_ledger_batch_size_count", 60.0),
        ]);
        let s = server_stats(&before, &after, Duration::from_secs(4));
        assert_eq!(s.verify_ms_per_transaction, Some(2.0));
        assert_eq!(s.transactions_per_batch, Some(20.0));
        assert_eq!(s.batches, Some(50.0));
        assert_eq!(s.verify_busy, Some(0.5));
        assert_eq!(s.commit_ms_per_batch, None);
        assert_eq!(s.transactions_per_verify_batch, None);

        // Batched verification: time per batch, transactions counted by batch size.
        let after = scrape(&[
            ("cbdc_ledger_verify_seconds_sum", 3.0),
            ("cbdc_ledger_verify_seconds_count", 110.0),
            ("cbdc_ledger_verify_batch_size_sum", 4_000.0),
            ("cbdc_ledger_verify_batch_size_count", 100.0),
        ]);
        let s = server_stats(&scrape(&[]), &after, Duration::from_secs(4));
        assert_eq!(s.verify_ms_per_transaction, Some(0.75));
        assert_eq!(s.transactions_per_verify_batch, Some(40.0));
    }
}

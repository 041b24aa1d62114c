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
//! request); their setup is theirs. Only the ledger exists today; the bank gateway
//! and the wallet API become further [`TargetKind`]s.
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
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// What to load.
    #[arg(long, value_enum, default_value = "ledger")]
    pub target: TargetKind,
    /// The ledger's base URL.
    #[arg(long, env = "CBDC_LEDGER_URL", default_value = "http://127.0.0.1:7400")]
    pub ledger: String,
    /// Officer signing key files (repeat; as many as the ledger's issuance threshold).
    #[arg(long = "officer-key", required = true)]
    pub officer_keys: Vec<PathBuf>,
    /// The bank's wallet key file (`cbdc keygen --wallet`); it owns and spends the notes.
    #[arg(long)]
    pub bank_key: PathBuf,
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

    /// A client with its own connections; one per concurrent task.
    fn client(&self) -> Self::Client;

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

    fn client(&self) -> LedgerClient {
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
    let tasks: Vec<T::Client> = (0..clients).map(|_| target.client()).collect();
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
        if let Some(c) = &self.cpu {
            out.push_str(&format!(
                "host CPU (submit phase, {} busy {:.0} %): per transaction ledger {:.3} ms, postgres {:.3} ms, load generator {:.3} ms, other {:.3} ms\n",
                crate::counted(c.cores, "core", "cores"),
                c.host_busy * 100.0,
                c.ledger_ms,
                c.postgres_ms,
                c.load_generator_ms,
                c.other_ms,
            ));
        }
        out
    }
}

async fn bench_ledger(args: &BenchArgs) -> Result<Report> {
    let bank = keys::load_wallet(&args.bank_key)?;
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
        args.bank_key.display()
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

    /// A small run against a real ledger (SQLite, in this process): every measured
    /// transfer is accepted, and a second run reuses the admitted bank.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_run_commits_every_transfer() {
        let dir = tempfile::tempdir().unwrap();
        let officers: Vec<SecretKey> = (0..2)
            .map(|_| SecretKey::generate(&mut rand::rngs::OsRng))
            .collect();
        let mut officer_keys = Vec::new();
        for (i, key) in officers.iter().enumerate() {
            let path = dir.path().join(format!("officer-{i}.json"));
            keys::write_signing(&path, key).unwrap();
            officer_keys.push(path);
        }
        let bank_key = dir.path().join("bank.json");
        keys::write_wallet(&bank_key, &WalletKeys::generate(&mut rand::rngs::OsRng)).unwrap();
        // The ledger opens its block key, it never creates one.
        let block_key = dir.path().join("ledger.json");
        keys::write_signing(&block_key, &SecretKey::generate(&mut rand::rngs::OsRng)).unwrap();
        let settings = Settings {
            listen: "127.0.0.1:0".into(),
            database_url: dir
                .path()
                .join("ledger.sqlite")
                .to_string_lossy()
                .into_owned(),
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

        for (transactions, clients) in [(20, 4), (3, 1)] {
            let args = BenchArgs {
                target: TargetKind::Ledger,
                ledger: url.clone(),
                officer_keys: officer_keys.clone(),
                bank_key: bank_key.clone(),
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
        handle.stop(true).await;
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

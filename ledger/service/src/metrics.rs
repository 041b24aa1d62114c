//! Prometheus metrics of the ledger, served at `/metrics`.
//!
//! Requests by route (the matched pattern, never the raw path, so ids do not
//! explode the label space), method and status; transactions accepted by kind and
//! rejected by reason; batch sizes; verification and commit time; queue depth;
//! `cbdc_build_info` (version and commit); and the process's CPU, memory, file
//! descriptors and threads (`process_*`, the names dashboards expect).
//! No amount, key or personal datum is ever a label.
//!
//! Every series whose labels are known in advance (each transaction kind,
//! each rejection reason) is exported at zero from the start, so a rate or an
//! alert over it works before the first event, and "no rejections" is a 0
//! rather than an absent series.

use crate::store::TxKind;
use ledger_core::Rejection;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::time::Duration;

/// The prefix of the ledger's own metrics.
const NAMESPACE: &str = "cbdc_ledger";

/// The commit the binary was built from, when the build says
/// (`CBDC_GIT_COMMIT=$(git rev-parse HEAD) cargo build`); no build script.
const GIT_COMMIT: &str = match option_env!("CBDC_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// Every transaction kind, as the `kind` label spells it.
const TX_KINDS: [TxKind; 4] = [
    TxKind::Issue,
    TxKind::Transfer,
    TxKind::Redeem,
    TxKind::Governance,
];

/// Refusals counted beside the [`Rejection`]s: a full queue.
const OTHER_REJECTIONS: [&str; 1] = ["busy"];

/// Every [`Rejection`], once (the index fields at 0; only the code is
/// used). ledger-core has no listing of its variants: the test
/// `every_rejection_is_listed` matches them exhaustively, so a new variant
/// does not compile there until it is added here.
const REJECTIONS: [Rejection; 45] = [
    Rejection::NoInputs,
    Rejection::TooManyInputs,
    Rejection::NoOutputs,
    Rejection::TooManyOutputs,
    Rejection::TooManyOfficerSignatures,
    Rejection::BurnInTransfer,
    Rejection::ZeroAmount,
    Rejection::AmountOverflow,
    Rejection::OwnerSignatureCount,
    Rejection::RangeProofShape,
    Rejection::DuplicateInput { index: 0 },
    Rejection::UnknownInput { index: 0 },
    Rejection::SpentInput { index: 0 },
    Rejection::Unbalanced,
    Rejection::BadKernelSignature,
    Rejection::BadOwnerSignature { index: 0 },
    Rejection::BadRangeProof,
    Rejection::UnknownOfficer { index: 0 },
    Rejection::DuplicateOfficer { index: 0 },
    Rejection::BadOfficerSignature { index: 0 },
    Rejection::TooFewOfficers { have: 0, need: 0 },
    Rejection::GovernanceEntry,
    Rejection::GovernanceSequence,
    Rejection::GenesisMembers,
    Rejection::BadParticipantId,
    Rejection::BadParticipantName,
    Rejection::NoGenesis,
    Rejection::GenesisMisplaced,
    Rejection::UnexpectedApprovals,
    Rejection::GenesisLedgerKey,
    Rejection::GenesisBank,
    Rejection::BadThreshold,
    Rejection::BadSupplyCeiling,
    Rejection::ParticipantExists,
    Rejection::KeyInUse,
    Rejection::ViewKeyRole,
    Rejection::UnknownParticipant,
    Rejection::NotActive,
    Rejection::NotSuspended,
    Rejection::ThresholdUnreachable,
    Rejection::SupplyCeiling,
    Rejection::RedeemNotBank { index: 0 },
    Rejection::OutputExists { index: 0 },
    Rejection::IssueNotToBank { index: 0 },
    Rejection::IssueReferenceReused,
];

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    accepted: IntCounterVec,
    rejected: IntCounterVec,
    batch_size: Histogram,
    verify_batch_size: Histogram,
    verify_seconds: Histogram,
    commit_seconds: Histogram,
    queue_depth: IntGauge,
    pub notes_unspent: IntGauge,
    pub supply_outstanding: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        // No registry prefix: the process metrics keep their standard names;
        // the ledger's own carry NAMESPACE.
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            )
            .namespace(NAMESPACE),
            &["route", "method", "status"],
        )
        .expect("metric");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .namespace(NAMESPACE)
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0,
                ]),
            &["route", "method", "status"],
        )
        .expect("metric");
        let accepted = IntCounterVec::new(
            Opts::new(
                "transactions_accepted_total",
                "transactions committed, by kind",
            )
            .namespace(NAMESPACE),
            &["kind"],
        )
        .expect("metric");
        let rejected = IntCounterVec::new(
            Opts::new(
                "transactions_rejected_total",
                "transactions refused, by reason",
            )
            .namespace(NAMESPACE),
            &["reason"],
        )
        .expect("metric");
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("batch_size", "transactions per committed batch")
                .namespace(NAMESPACE)
                .buckets(vec![
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
                ]),
        )
        .expect("metric");
        let verify_batch_size = Histogram::with_opts(
            HistogramOpts::new("verify_batch_size", "transactions per verification batch")
                .namespace(NAMESPACE)
                .buckets(vec![
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
                ]),
        )
        .expect("metric");
        let verify_seconds = Histogram::with_opts(
            HistogramOpts::new("verify_seconds", "time to verify one batch of transactions")
                .namespace(NAMESPACE)
                .buckets(vec![
                    0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064,
                ]),
        )
        .expect("metric");
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new("commit_seconds", "time to commit one batch")
                .namespace(NAMESPACE)
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                ]),
        )
        .expect("metric");
        let gauge = |name: &str, help: &str| {
            IntGauge::with_opts(Opts::new(name, help).namespace(NAMESPACE)).expect("metric")
        };
        let queue_depth = gauge("queue_depth", "transactions waiting for the writer");
        let notes_unspent = gauge("notes_unspent", "unspent notes at the last audit");
        let supply_outstanding = gauge(
            "supply_outstanding_minor_units",
            "money in circulation at the last audit (public: issued minus redeemed)",
        );
        let build_info = IntGaugeVec::new(
            Opts::new(
                "cbdc_build_info",
                "1, labelled with the version and commit of the running binary",
            ),
            &["version", "git_commit"],
        )
        .expect("metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), GIT_COMMIT])
            .set(1);
        for kind in TX_KINDS {
            accepted.with_label_values(&[kind.as_str()]);
        }
        for reason in REJECTIONS
            .iter()
            .map(Rejection::code)
            .chain(OTHER_REJECTIONS)
        {
            rejected.with_label_values(&[reason]);
        }
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_seconds.clone()),
            Box::new(accepted.clone()),
            Box::new(rejected.clone()),
            Box::new(batch_size.clone()),
            Box::new(verify_batch_size.clone()),
            Box::new(verify_seconds.clone()),
            Box::new(commit_seconds.clone()),
            Box::new(queue_depth.clone()),
            Box::new(notes_unspent.clone()),
            Box::new(supply_outstanding.clone()),
            Box::new(build_info),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        // CPU, memory, file descriptors, threads, start time (from /proc).
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process metric names are unique");
        Metrics {
            registry,
            requests,
            request_seconds,
            accepted,
            rejected,
            batch_size,
            verify_batch_size,
            verify_seconds,
            commit_seconds,
            queue_depth,
            notes_unspent,
            supply_outstanding,
        }
    }

    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [route, method, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.request_seconds
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn accepted(&self, kind: &str) {
        self.accepted.with_label_values(&[kind]).inc();
    }

    pub fn rejected(&self, reason: &str) {
        self.rejected.with_label_values(&[reason]).inc();
    }

    pub fn observe_batch(&self, size: usize) {
        self.batch_size
            .observe(f64::from(u32::try_from(size).unwrap_or(u32::MAX)));
    }

    pub fn observe_verify_batch(&self, size: usize) {
        self.verify_batch_size
            .observe(f64::from(u32::try_from(size).unwrap_or(u32::MAX)));
    }

    pub fn observe_verify(&self, elapsed: Duration) {
        self.verify_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn observe_commit(&self, elapsed: Duration) {
        self.commit_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn queue_depth_add(&self, delta: i64) {
        self.queue_depth.add(delta);
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of metrics");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Where `rejection` sits in [`REJECTIONS`]. No wildcard: a variant added
    /// to ledger-core fails to compile here until it is listed.
    fn position(rejection: Rejection) -> usize {
        match rejection {
            Rejection::NoInputs => 0,
            Rejection::TooManyInputs => 1,
            Rejection::NoOutputs => 2,
            Rejection::TooManyOutputs => 3,
            Rejection::TooManyOfficerSignatures => 4,
            Rejection::BurnInTransfer => 5,
            Rejection::ZeroAmount => 6,
            Rejection::AmountOverflow => 7,
            Rejection::OwnerSignatureCount => 8,
            Rejection::RangeProofShape => 9,
            Rejection::DuplicateInput { .. } => 10,
            Rejection::UnknownInput { .. } => 11,
            Rejection::SpentInput { .. } => 12,
            Rejection::Unbalanced => 13,
            Rejection::BadKernelSignature => 14,
            Rejection::BadOwnerSignature { .. } => 15,
            Rejection::BadRangeProof => 16,
            Rejection::UnknownOfficer { .. } => 17,
            Rejection::DuplicateOfficer { .. } => 18,
            Rejection::BadOfficerSignature { .. } => 19,
            Rejection::TooFewOfficers { .. } => 20,
            Rejection::GovernanceEntry => 21,
            Rejection::GovernanceSequence => 22,
            Rejection::GenesisMembers => 23,
            Rejection::BadParticipantId => 24,
            Rejection::BadParticipantName => 25,
            Rejection::NoGenesis => 26,
            Rejection::GenesisMisplaced => 27,
            Rejection::UnexpectedApprovals => 28,
            Rejection::GenesisLedgerKey => 29,
            Rejection::GenesisBank => 30,
            Rejection::BadThreshold => 31,
            Rejection::BadSupplyCeiling => 32,
            Rejection::ParticipantExists => 33,
            Rejection::KeyInUse => 34,
            Rejection::ViewKeyRole => 35,
            Rejection::UnknownParticipant => 36,
            Rejection::NotActive => 37,
            Rejection::NotSuspended => 38,
            Rejection::ThresholdUnreachable => 39,
            Rejection::SupplyCeiling => 40,
            Rejection::RedeemNotBank { .. } => 41,
            Rejection::OutputExists { .. } => 42,
            Rejection::IssueNotToBank { .. } => 43,
            Rejection::IssueReferenceReused => 44,
        }
    }

    #[test]
    fn every_rejection_is_listed_once() {
        for (index, rejection) in REJECTIONS.iter().enumerate() {
            assert_eq!(position(*rejection), index, "{rejection:?}");
        }
        let codes: HashSet<&str> = REJECTIONS.iter().map(Rejection::code).collect();
        assert_eq!(codes.len(), REJECTIONS.len(), "codes are distinct");
        assert!(OTHER_REJECTIONS.iter().all(|other| !codes.contains(other)));
    }

    #[test]
    fn a_new_registry_exports_known_series_at_zero_build_info_and_process_metrics() {
        let text = Metrics::new().render();
        for kind in ["issue", "transfer", "redeem", "governance"] {
            let series = format!("cbdc_ledger_transactions_accepted_total{{kind=\"{kind}\"}} 0\n");
            assert!(text.contains(&series), "{series} in:\n{text}");
        }
        for reason in REJECTIONS
            .iter()
            .map(Rejection::code)
            .chain(OTHER_REJECTIONS)
        {
            let series =
                format!("cbdc_ledger_transactions_rejected_total{{reason=\"{reason}\"}} 0\n");
            assert!(text.contains(&series), "{series} in:\n{text}");
        }
        for series in [
            "cbdc_ledger_queue_depth 0\n",
            "cbdc_ledger_commit_seconds_count 0\n",
            "cbdc_ledger_batch_size_count 0\n",
        ] {
            assert!(text.contains(series), "{series} in:\n{text}");
        }
        let build = format!(
            "cbdc_build_info{{git_commit=\"{GIT_COMMIT}\",version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&build), "{build} in:\n{text}");
        for process in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
            "process_threads",
        ] {
            let sample = format!("\n{process} ");
            assert!(text.contains(&sample), "{process} in:\n{text}");
        }
    }

    #[test]
    fn counting_moves_only_the_labelled_series() {
        let metrics = Metrics::new();
        metrics.rejected("spent_input");
        metrics.accepted("transfer");
        let text = metrics.render();
        assert!(
            text.contains("cbdc_ledger_transactions_rejected_total{reason=\"spent_input\"} 1\n")
        );
        assert!(text.contains("cbdc_ledger_transactions_rejected_total{reason=\"unbalanced\"} 0\n"));
        assert!(text.contains("cbdc_ledger_transactions_accepted_total{kind=\"transfer\"} 1\n"));
    }
}

//! What a gateway is configured with: the bank's identity, the ledger it
//! talks to, its KYC tiers, its float thresholds, the credentials of its two
//! APIs and the key that encrypts its customers' wallet keys.
//!
//! The binary (`cbdc gateway serve`) fills this from a TOML file, then
//! `CBDC_GATEWAY_*` environment variables, then flags; tests build it
//! directly.

use std::collections::BTreeMap;
use std::time::Duration;

use ledger_core::{PublicKey, SecretKey, WalletKeys};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Minor units in one major unit (cents in a unit of currency).
pub const MINOR_PER_MAJOR: u64 = 100;

/// A KYC tier's limits, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierLimits {
    /// Most a wallet of the tier may hold.
    pub balance_max: u64,
    /// Most one payment may be.
    pub per_payment_max: u64,
    /// Most the payments of one UTC day may add up to.
    pub per_day_max: u64,
}

/// The tiers, by name; `order` lists them lowest first (a new wallet starts
/// at the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tiers {
    pub order: Vec<String>,
    pub limits: BTreeMap<String, TierLimits>,
}

impl Default for Tiers {
    /// e-CNY's wallet classes: *anonymous* (a phone number) 10,000 / 2,000 /
    /// 5,000 and *verified* (an id and a linked deposit account) 500,000 /
    /// 50,000 / 100,000, in major units.
    fn default() -> Tiers {
        let major = MINOR_PER_MAJOR;
        let mut limits = BTreeMap::new();
        limits.insert(
            "anonymous".to_string(),
            TierLimits {
                balance_max: 10_000 * major,
                per_payment_max: 2_000 * major,
                per_day_max: 5_000 * major,
            },
        );
        limits.insert(
            "verified".to_string(),
            TierLimits {
                balance_max: 500_000 * major,
                per_payment_max: 50_000 * major,
                per_day_max: 100_000 * major,
            },
        );
        Tiers {
            order: vec!["anonymous".into(), "verified".into()],
            limits,
        }
    }
}

impl Tiers {
    /// The tier a new wallet starts at.
    pub fn lowest(&self) -> &str {
        &self.order[0]
    }

    pub fn get(&self, name: &str) -> Option<TierLimits> {
        self.limits.get(name).copied()
    }

    /// Checks that every tier in `order` has limits and the list is not empty.
    pub fn check(&self) -> Result<(), String> {
        if self.order.is_empty() {
            return Err("no KYC tiers configured".into());
        }
        for name in &self.order {
            let Some(limits) = self.limits.get(name) else {
                return Err(format!("tier {name} has no limits"));
            };
            if limits.per_payment_max > limits.per_day_max {
                return Err(format!("tier {name}: per_payment_max exceeds per_day_max"));
            }
            for value in [
                limits.balance_max,
                limits.per_payment_max,
                limits.per_day_max,
            ] {
                if value > i64::MAX as u64 {
                    return Err(format!("tier {name}: a limit exceeds 2^63 - 1"));
                }
            }
        }
        Ok(())
    }
}

/// When the gateway asks the central bank for more float, and when it gives
/// the excess back (minor units; 0 switches a side off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FloatPolicy {
    /// Below this the gateway files an issuance proposal.
    pub low: u64,
    /// Above this the gateway redeems the excess.
    pub high: u64,
    /// What a proposal or a redemption brings the float back to.
    pub target: u64,
}

/// The key-encryption keys of custodial wallet keys: the current one seals,
/// any of them opens (so keys can be rotated: add the new key as current,
/// keep the old under `previous` until every wallet is re-sealed).
#[derive(Clone)]
pub struct Keks {
    pub current_id: String,
    pub current: Zeroizing<[u8; 32]>,
    pub previous: BTreeMap<String, Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for Keks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keks")
            .field("current_id", &self.current_id)
            .field("previous", &self.previous.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keks {
    pub fn get(&self, id: &str) -> Option<&[u8; 32]> {
        if id == self.current_id {
            Some(&self.current)
        } else {
            self.previous.get(id).map(|k| &**k)
        }
    }
}

/// Everything a gateway needs to run.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The bank's participant id on the ledger.
    pub bank_id: String,
    /// Where the ledger's API is.
    pub ledger_url: String,
    /// The ledger's block-signing key; `None` trusts the key the ledger
    /// presents the first time and pins it in the database.
    pub ledger_key: Option<PublicKey>,
    /// The bank's keys: `spend` signs its requests to the ledger and owns
    /// its float (the ledger issues to the bank's registered key), `view`
    /// opens the memos of notes paid to the float.
    pub bank: WalletKeys,
    pub keks: Keks,
    pub tiers: Tiers,
    pub float: FloatPolicy,
    /// Bearer tokens of bank staff (the operator API).
    pub operator_tokens: Vec<String>,
    /// Bearer tokens of the wallet API (the internal API).
    pub internal_tokens: Vec<String>,
    /// How long one call to the ledger may take.
    pub ledger_timeout: Duration,
    /// How long a follower's lease lasts without renewal: the time another
    /// replica waits before taking over from one that died.
    pub follower_lease: Duration,
    /// How long the follower's long poll waits for new events.
    pub follower_wait: Duration,
    /// This process's name among the replicas (leases, logs).
    pub replica: String,
    /// Tests only (none in production): awaited between two steps.
    #[doc(hidden)]
    pub step_hook: StepHook,
}

/// Where a [`StepHook`] is called: `step` is `reserved` (before building),
/// `built` (before submitting), `sent` (the ledger's receipt in hand, before
/// it is checked and the operation finalised) or `credited` (the follower
/// credited a note, before the next event); `kind` the operation's kind or
/// `follow`; `id` the operation's id or the event's sequence number.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct StepPoint {
    pub step: &'static str,
    pub kind: &'static str,
    pub id: i64,
}

/// A test's hook into the gateway's steps, so a crash can be placed exactly
/// between two of them (a hook that never completes parks the task there
/// until the test kills the gateway). `None`, the default, does nothing.
#[doc(hidden)]
#[derive(Clone, Default)]
pub struct StepHook(pub Option<std::sync::Arc<dyn Fn(StepPoint) -> StepFuture + Send + Sync>>);

/// What a [`StepHook`] returns: awaited before the step goes on.
#[doc(hidden)]
pub type StepFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl std::fmt::Debug for StepHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "StepHook(set)"
        } else {
            "StepHook(none)"
        })
    }
}

impl GatewayConfig {
    /// A configuration with the defaults for everything but identity,
    /// ledger and database.
    pub fn new(bank_id: &str, ledger_url: &str, bank: WalletKeys, kek: [u8; 32]) -> GatewayConfig {
        GatewayConfig {
            bank_id: bank_id.to_string(),
            ledger_url: ledger_url.to_string(),
            ledger_key: None,
            bank,
            keks: Keks {
                current_id: "k1".into(),
                current: Zeroizing::new(kek),
                previous: BTreeMap::new(),
            },
            tiers: Tiers::default(),
            float: FloatPolicy::default(),
            operator_tokens: Vec::new(),
            internal_tokens: Vec::new(),
            ledger_timeout: Duration::from_secs(10),
            follower_lease: Duration::from_secs(5),
            follower_wait: Duration::from_millis(1000),
            replica: format!("{}-{}", hostname(), std::process::id()),
            step_hook: StepHook::default(),
        }
    }

    /// The bank's signing key (its float's spend key).
    pub fn signing_key(&self) -> &SecretKey {
        &self.bank.spend
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "gateway".into())
}

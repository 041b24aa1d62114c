//! Governance in the journal: who may issue, who is a bank, and the limits.
//!
//! The officer set, the issuance threshold, the banks and the supply ceiling are
//! not configuration that an operator could change unseen: they are entries of
//! the journal ([`Transaction::Governance`](crate::Transaction::Governance)),
//! ordered and signed in blocks like every other transaction, so the state in
//! force at any height follows from the journal alone ([`GovernanceState`]).
//!
//! - **Genesis** is the single transaction of block 0. It names the key that
//!   signs the blocks, the first officers, the threshold and the supply ceiling.
//!   It carries no officer approvals: it is authorised by the block key, which
//!   is the trust anchor an auditor starts from (and may pin by the genesis
//!   block's hash).
//! - **Every later entry** (admit, suspend, reinstate, rekey, set the threshold)
//!   carries approvals: Schnorr signatures with [`Purpose::Governance`] over the
//!   entry's digest, by officers active before it. An entry about a bank needs
//!   one; an entry about an officer, or a new threshold, needs the threshold in
//!   force. So the block key alone cannot add an officer, and one officer alone
//!   cannot add an accomplice.
//!
//! The checks of [`GovernanceState::check`] are flat and run in the order
//! written in PROTOCOL.md; each failure is one [`Rejection`].
//!
//! The digest is a merlin transcript `cbdc.tx.v1` with `kind` = 4, the entry's
//! `sequence` (how many governance entries precede it, so old approvals never
//! replay) and the action's canonical bytes as one message labelled `action`.

use crate::amount::Amount;
use crate::keys::{PublicKey, Purpose};
use crate::transcript::{TranscriptProtocol, TX_DOMAIN};
use crate::tx::{OfficerSignature, OFFICER_SIGNATURES_MAX};
use crate::verify::{IssuancePolicy, Rejection};
use merlin::Transcript;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Most members a genesis entry may name.
pub const GENESIS_MEMBERS_MAX: usize = 32;
/// The highest supply ceiling a genesis may fix: far below what a signed
/// 64-bit column holds (about 9.2 · 10^18), so no stored amount can wrap.
pub const SUPPLY_CEILING_MAX: u64 = 1_000_000_000_000_000_000;
/// Longest participant id, in bytes.
pub const PARTICIPANT_ID_MAX: usize = 64;
/// Longest participant name, in bytes.
pub const PARTICIPANT_NAME_MAX: usize = 200;

/// What a participant may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A central bank officer: approves issuance and governance.
    Officer,
    /// A commercial bank: receives issuance, redeems.
    Bank,
}

impl Role {
    pub(crate) fn tag(self) -> u8 {
        match self {
            Role::Officer => 1,
            Role::Bank => 2,
        }
    }

    pub(crate) fn from_tag(tag: u8) -> Option<Role> {
        match tag {
            1 => Some(Role::Officer),
            2 => Some(Role::Bank),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Bank => "bank",
        }
    }
}

/// A participant as an entry names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub role: Role,
    /// 1 to 64 bytes of `A-Z a-z 0-9 - _`.
    pub id: String,
    /// 1 to 200 bytes of UTF-8, no control characters (Unicode category Cc).
    pub name: String,
    /// Signs the participant's requests and approvals; owns a bank's notes.
    pub key: PublicKey,
    /// A bank's view key (memos are encrypted to it); an officer has none.
    pub view_key: Option<PublicKey>,
}

/// What a governance entry does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Genesis {
        ledger_key: PublicKey,
        threshold: u8,
        supply_ceiling: Amount,
        members: Vec<Member>,
    },
    Admit {
        member: Member,
    },
    Suspend {
        id: String,
    },
    Reinstate {
        id: String,
    },
    Rekey {
        id: String,
        key: PublicKey,
        view_key: Option<PublicKey>,
    },
    SetThreshold {
        threshold: u8,
    },
}

impl Action {
    pub(crate) fn tag(&self) -> u8 {
        match self {
            Action::Genesis { .. } => 1,
            Action::Admit { .. } => 2,
            Action::Suspend { .. } => 3,
            Action::Reinstate { .. } => 4,
            Action::Rekey { .. } => 5,
            Action::SetThreshold { .. } => 6,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Action::Genesis { .. } => "genesis",
            Action::Admit { .. } => "admit",
            Action::Suspend { .. } => "suspend",
            Action::Reinstate { .. } => "reinstate",
            Action::Rekey { .. } => "rekey",
            Action::SetThreshold { .. } => "set_threshold",
        }
    }
}

/// A governance entry: an action and the officers' approvals of its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Governance {
    /// How many governance entries the journal holds before this one (0 for
    /// the genesis). Bound into the digest, so approvals of one entry can
    /// never be replayed later as another (a suspension approved once cannot
    /// be journaled again after a reinstatement).
    pub sequence: u64,
    pub action: Action,
    #[serde(default)]
    pub approvals: Vec<OfficerSignature>,
}

impl Governance {
    /// An entry without approvals yet, to follow `sequence` earlier entries.
    pub fn new(sequence: u64, action: Action) -> Governance {
        Governance {
            sequence,
            action,
            approvals: Vec::new(),
        }
    }

    /// The digest the approving officers sign.
    pub fn digest(&self) -> [u8; 32] {
        let mut t = Transcript::new(TX_DOMAIN);
        t.append_u64(b"kind", 4);
        t.append_u64(b"sequence", self.sequence);
        t.append_message(b"action", &crate::encoding::encode_action(&self.action));
        t.challenge_32(b"digest")
    }

    /// Adds `officer`'s approval.
    pub fn approve<R: rand_core::RngCore + rand_core::CryptoRng>(
        &mut self,
        officer: &crate::SecretKey,
        rng: &mut R,
    ) {
        let signature = officer.sign(Purpose::Governance, &self.digest(), rng);
        self.approvals.push(OfficerSignature {
            officer: officer.public_key(),
            signature,
        });
    }

    /// The structural rules (no state): the limits and the id and name formats.
    pub fn check_structure(&self) -> Result<(), Rejection> {
        if self.approvals.len() > OFFICER_SIGNATURES_MAX {
            return Err(Rejection::TooManyOfficerSignatures);
        }
        match &self.action {
            Action::Genesis { members, .. } => {
                if members.is_empty() || members.len() > GENESIS_MEMBERS_MAX {
                    return Err(Rejection::GenesisMembers);
                }
                members.iter().try_for_each(check_member)
            }
            Action::Admit { member } => check_member(member),
            Action::Suspend { id } | Action::Reinstate { id } | Action::Rekey { id, .. } => {
                check_id(id)
            }
            Action::SetThreshold { .. } => Ok(()),
        }
    }
}

fn check_member(member: &Member) -> Result<(), Rejection> {
    check_id(&member.id)?;
    if member.name.is_empty()
        || member.name.len() > PARTICIPANT_NAME_MAX
        || member.name.chars().any(char::is_control)
    {
        return Err(Rejection::BadParticipantName);
    }
    Ok(())
}

/// Ids are 1 to 64 bytes of `A-Z a-z 0-9 - _`.
pub fn check_id(id: &str) -> Result<(), Rejection> {
    let ok = (1..=PARTICIPANT_ID_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Rejection::BadParticipantId)
    }
}

/// Whether a participant may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Suspended,
}

/// A participant as the journal leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub role: Role,
    pub id: String,
    pub name: String,
    pub status: Status,
    pub key: PublicKey,
    pub view_key: Option<PublicKey>,
}

/// The governance in force at some height: the result of every governance
/// entry so far, applied in journal order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceState {
    pub ledger_key: PublicKey,
    pub threshold: usize,
    pub supply_ceiling: Amount,
    /// By id.
    pub participants: BTreeMap<String, Participant>,
    /// Governance entries applied so far, the genesis included: the
    /// `sequence` the next entry must carry.
    pub entries: u64,
    /// Every spend and view key any participant has ever had.
    keys_used: HashSet<PublicKey>,
}

impl GovernanceState {
    /// The state a genesis entry founds, for a journal whose blocks `block_key`
    /// signs. Checks the genesis rules.
    pub fn genesis(
        entry: &Governance,
        block_key: &PublicKey,
    ) -> Result<GovernanceState, Rejection> {
        entry.check_structure()?;
        let Action::Genesis {
            ledger_key,
            threshold,
            supply_ceiling,
            members,
        } = &entry.action
        else {
            return Err(Rejection::NoGenesis);
        };
        if entry.sequence != 0 {
            return Err(Rejection::GovernanceSequence);
        }
        if !entry.approvals.is_empty() {
            return Err(Rejection::UnexpectedApprovals);
        }
        if ledger_key != block_key {
            return Err(Rejection::GenesisLedgerKey);
        }
        if members.iter().any(|m| m.role != Role::Officer) {
            return Err(Rejection::GenesisBank);
        }
        let mut state = GovernanceState {
            ledger_key: *ledger_key,
            threshold: 0,
            supply_ceiling: *supply_ceiling,
            participants: BTreeMap::new(),
            entries: 1,
            keys_used: HashSet::new(),
        };
        for member in members {
            state.check_new_member(member)?;
            state.admit(member);
        }
        let threshold = usize::from(*threshold);
        if threshold == 0 || threshold > members.len() {
            return Err(Rejection::BadThreshold);
        }
        state.threshold = threshold;
        if supply_ceiling.is_zero() || supply_ceiling.minor_units() > SUPPLY_CEILING_MAX {
            return Err(Rejection::BadSupplyCeiling);
        }
        Ok(state)
    }

    /// Checks a later entry against this state: its action, then its approvals.
    pub fn check(&self, entry: &Governance) -> Result<(), Rejection> {
        entry.check_structure()?;
        if matches!(entry.action, Action::Genesis { .. }) {
            return Err(Rejection::GenesisMisplaced);
        }
        if entry.sequence != self.entries {
            return Err(Rejection::GovernanceSequence);
        }
        let required = match &entry.action {
            Action::Genesis { .. } => return Err(Rejection::GenesisMisplaced),
            Action::Admit { member } => {
                self.check_new_member(member)?;
                self.required_for(member.role)
            }
            Action::Suspend { id } => {
                let participant = self.existing(id)?;
                if participant.status != Status::Active {
                    return Err(Rejection::NotActive);
                }
                if participant.role == Role::Officer && self.active_officers() <= self.threshold {
                    return Err(Rejection::ThresholdUnreachable);
                }
                self.required_for(participant.role)
            }
            Action::Reinstate { id } => {
                let participant = self.existing(id)?;
                if participant.status != Status::Suspended {
                    return Err(Rejection::NotSuspended);
                }
                self.required_for(participant.role)
            }
            Action::Rekey { id, key, view_key } => {
                let participant = self.existing(id)?;
                if (participant.role == Role::Bank) != view_key.is_some() {
                    return Err(Rejection::ViewKeyRole);
                }
                if self.keys_used.contains(key)
                    || view_key.is_some_and(|v| self.keys_used.contains(&v) || v == *key)
                {
                    return Err(Rejection::KeyInUse);
                }
                self.required_for(participant.role)
            }
            Action::SetThreshold { threshold } => {
                let threshold = usize::from(*threshold);
                if threshold == 0 || threshold > self.active_officers() {
                    return Err(Rejection::BadThreshold);
                }
                self.threshold
            }
        };
        self.check_approvals(&entry.digest(), &entry.approvals, Purpose::Governance)?;
        let have = entry.approvals.len();
        if have < required.max(1) {
            return Err(Rejection::TooFewOfficers {
                have,
                need: required.max(1),
            });
        }
        Ok(())
    }

    /// Applies an entry [`GovernanceState::check`] accepted.
    pub fn apply(&mut self, entry: &Governance) {
        self.entries += 1;
        match &entry.action {
            Action::Genesis { .. } => {}
            Action::Admit { member } => self.admit(member),
            Action::Suspend { id } => self.set_status(id, Status::Suspended),
            Action::Reinstate { id } => self.set_status(id, Status::Active),
            Action::Rekey { id, key, view_key } => {
                self.keys_used.insert(*key);
                if let Some(view) = view_key {
                    self.keys_used.insert(*view);
                }
                if let Some(p) = self.participants.get_mut(id) {
                    p.key = *key;
                    p.view_key = *view_key;
                }
            }
            Action::SetThreshold { threshold } => self.threshold = usize::from(*threshold),
        }
    }

    /// Who may sign an issue now, and how many must.
    pub fn issuance_policy(&self) -> IssuancePolicy {
        IssuancePolicy {
            officers: self
                .participants
                .values()
                .filter(|p| p.role == Role::Officer && p.status == Status::Active)
                .map(|p| p.key)
                .collect(),
            threshold: self.threshold,
        }
    }

    /// The active participant whose current key this is.
    pub fn active_by_key(&self, key: &PublicKey) -> Option<&Participant> {
        self.participants
            .values()
            .find(|p| p.key == *key && p.status == Status::Active)
    }

    /// Whether `key` is the current key of an active bank (only those redeem).
    pub fn is_active_bank(&self, key: &PublicKey) -> bool {
        self.active_by_key(key)
            .is_some_and(|p| p.role == Role::Bank)
    }

    pub fn active_officers(&self) -> usize {
        self.participants
            .values()
            .filter(|p| p.role == Role::Officer && p.status == Status::Active)
            .count()
    }

    fn required_for(&self, role: Role) -> usize {
        match role {
            Role::Bank => 1,
            Role::Officer => self.threshold,
        }
    }

    fn existing(&self, id: &str) -> Result<&Participant, Rejection> {
        self.participants
            .get(id)
            .ok_or(Rejection::UnknownParticipant)
    }

    fn check_new_member(&self, member: &Member) -> Result<(), Rejection> {
        if self.participants.contains_key(&member.id) {
            return Err(Rejection::ParticipantExists);
        }
        if (member.role == Role::Bank) != member.view_key.is_some() {
            return Err(Rejection::ViewKeyRole);
        }
        if self.keys_used.contains(&member.key)
            || member
                .view_key
                .is_some_and(|v| self.keys_used.contains(&v) || v == member.key)
        {
            return Err(Rejection::KeyInUse);
        }
        Ok(())
    }

    fn admit(&mut self, member: &Member) {
        self.keys_used.insert(member.key);
        if let Some(view) = member.view_key {
            self.keys_used.insert(view);
        }
        self.participants.insert(
            member.id.clone(),
            Participant {
                role: member.role,
                id: member.id.clone(),
                name: member.name.clone(),
                status: Status::Active,
                key: member.key,
                view_key: member.view_key,
            },
        );
    }

    fn set_status(&mut self, id: &str, status: Status) {
        if let Some(p) = self.participants.get_mut(id) {
            p.status = status;
        }
    }

    /// Each approval by a distinct officer active now, and valid over `digest`.
    fn check_approvals(
        &self,
        digest: &[u8; 32],
        approvals: &[OfficerSignature],
        purpose: Purpose,
    ) -> Result<(), Rejection> {
        let officers = self.issuance_policy().officers;
        for (index, signed) in approvals.iter().enumerate() {
            if !officers.contains(&signed.officer) {
                return Err(Rejection::UnknownOfficer { index });
            }
            if approvals[..index]
                .iter()
                .any(|earlier| earlier.officer == signed.officer)
            {
                return Err(Rejection::DuplicateOfficer { index });
            }
            signed
                .officer
                .verify(purpose, digest, &signed.signature)
                .map_err(|_| Rejection::BadOfficerSignature { index })?;
        }
        Ok(())
    }
}

//! Who may act on the ledger, and the maker–checker flow for issuance.
//!
//! Participants are officers (who propose and approve issuance) and banks (who
//! receive it). A proposal moves `open → executed` (atomically with the issue
//! transaction that executes it, see [`NewTransaction::executes_proposal`])
//! or `open → cancelled`, each by one guarded update, so it happens once.
//! Approvals are unique per (proposal, officer) by primary key and are never
//! removed, so a threshold counted before executing still holds at execution.
//! The number of approvals required is the service's policy, not the store's.

use diesel::prelude::*;

use super::error::{is_foreign_key_violation, is_unique_violation, StoreError};
use super::schema::{issuance_approvals, issuance_proposals, participants};
use super::types::*;
use super::{AnyConnection, Store};

/// What a participant may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A central bank officer: proposes and approves issuance.
    Officer,
    /// A commercial bank: receives issuance, redeems.
    Bank,
}

impl Role {
    pub(super) fn as_db(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Bank => "bank",
        }
    }

    fn from_db(text: &str) -> Result<Role, StoreError> {
        match text {
            "officer" => Ok(Role::Officer),
            "bank" => Ok(Role::Bank),
            _ => Err(StoreError::Corrupt("participant role")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_db())
    }
}

/// Whether a participant may currently act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParticipantStatus {
    /// May act.
    Active,
    /// Admitted, but refused until reinstated.
    Suspended,
}

impl ParticipantStatus {
    pub(super) fn as_db(self) -> &'static str {
        match self {
            ParticipantStatus::Active => "active",
            ParticipantStatus::Suspended => "suspended",
        }
    }

    fn from_db(text: &str) -> Result<ParticipantStatus, StoreError> {
        match text {
            "active" => Ok(ParticipantStatus::Active),
            "suspended" => Ok(ParticipantStatus::Suspended),
            _ => Err(StoreError::Corrupt("participant status")),
        }
    }
}

/// A participant to admit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewParticipant {
    /// Stable identifier, e.g. `bank-a` (not empty).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Officer or bank.
    pub role: Role,
    /// Key that signs the participant's requests (and, for a bank, owns its notes).
    pub spend_public_key: Bytes32,
    /// A bank's view key, to which memos of its notes are encrypted.
    pub view_public_key: Option<Bytes32>,
    /// Admission time, milliseconds since the Unix epoch.
    pub created_at_unix_ms: u64,
}

/// An admitted participant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// Stable identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Officer or bank.
    pub role: Role,
    /// Active or suspended.
    pub status: ParticipantStatus,
    /// Signing / spend public key.
    pub spend_public_key: Bytes32,
    /// View public key, if any.
    pub view_public_key: Option<Bytes32>,
    /// Admission time, milliseconds since the Unix epoch.
    pub created_at_unix_ms: u64,
}

/// Where a proposal is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProposalState {
    /// Collecting approvals.
    Open,
    /// Issued, by the transaction in [`Proposal::executed_by`].
    Executed,
    /// Withdrawn; will never be executed.
    Cancelled,
}

impl ProposalState {
    pub(crate) fn as_db(self) -> &'static str {
        match self {
            ProposalState::Open => "open",
            ProposalState::Executed => "executed",
            ProposalState::Cancelled => "cancelled",
        }
    }

    fn from_db(text: &str) -> Result<ProposalState, StoreError> {
        match text {
            "open" => Ok(ProposalState::Open),
            "executed" => Ok(ProposalState::Executed),
            "cancelled" => Ok(ProposalState::Cancelled),
            _ => Err(StoreError::Corrupt("proposal state")),
        }
    }
}

/// A proposal to issue money to a bank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProposal {
    /// Caller-chosen identifier.
    pub id: ProposalId,
    /// The receiving bank (an active participant with role bank).
    pub bank_id: String,
    /// Amount to issue, positive.
    pub amount: u64,
    /// The proposing officer (an active participant with role officer).
    pub proposer_id: String,
    /// Proposal time, milliseconds since the Unix epoch.
    pub created_at_unix_ms: u64,
}

/// A stored issuance proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Identifier.
    pub id: ProposalId,
    /// The receiving bank.
    pub bank_id: String,
    /// Amount to issue.
    pub amount: u64,
    /// The proposing officer.
    pub proposer_id: String,
    /// Open, executed or cancelled.
    pub state: ProposalState,
    /// Proposal time, milliseconds since the Unix epoch.
    pub created_at_unix_ms: u64,
    /// The issue transaction that executed it.
    pub executed_by: Option<Bytes32>,
}

/// One officer's approval of a proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// The approving officer.
    pub officer_id: String,
    /// The officer's signature over the approval (opaque to the store).
    pub signature: Vec<u8>,
    /// Approval time, milliseconds since the Unix epoch.
    pub approved_at_unix_ms: u64,
}

/// Longest approval signature accepted, in bytes.
pub const APPROVAL_SIGNATURE_BYTES_MAX: usize = 128;

pub(super) type ParticipantRow = (
    String,
    String,
    String,
    String,
    Vec<u8>,
    Option<Vec<u8>>,
    i64,
);

pub(super) const PARTICIPANT_COLUMNS: (
    participants::id,
    participants::name,
    participants::role,
    participants::status,
    participants::spend_public_key,
    participants::view_public_key,
    participants::created_at_unix_ms,
) = (
    participants::id,
    participants::name,
    participants::role,
    participants::status,
    participants::spend_public_key,
    participants::view_public_key,
    participants::created_at_unix_ms,
);

pub(super) fn participant_from_row(row: ParticipantRow) -> Result<Participant, StoreError> {
    let (id, name, role, status, spend_public_key, view_public_key, created_at_unix_ms) = row;
    Ok(Participant {
        id,
        name,
        role: Role::from_db(&role)?,
        status: ParticipantStatus::from_db(&status)?,
        spend_public_key: to_bytes32(&spend_public_key, "participant spend key")?,
        view_public_key: view_public_key
            .map(|key| to_bytes32(&key, "participant view key"))
            .transpose()?,
        created_at_unix_ms: from_db_i64(created_at_unix_ms, "participant creation time")?,
    })
}

pub(super) type ProposalRow = (Vec<u8>, String, i64, String, String, i64, Option<Vec<u8>>);

pub(super) const PROPOSAL_COLUMNS: (
    issuance_proposals::id,
    issuance_proposals::bank_id,
    issuance_proposals::amount,
    issuance_proposals::proposer_id,
    issuance_proposals::state,
    issuance_proposals::created_at_unix_ms,
    issuance_proposals::executed_by,
) = (
    issuance_proposals::id,
    issuance_proposals::bank_id,
    issuance_proposals::amount,
    issuance_proposals::proposer_id,
    issuance_proposals::state,
    issuance_proposals::created_at_unix_ms,
    issuance_proposals::executed_by,
);

pub(super) fn proposal_from_row(row: ProposalRow) -> Result<Proposal, StoreError> {
    let (id, bank_id, amount, proposer_id, state, created_at_unix_ms, executed_by) = row;
    Ok(Proposal {
        id: ProposalId(
            <[u8; 16]>::try_from(id.as_slice()).map_err(|_| StoreError::Corrupt("proposal id"))?,
        ),
        bank_id,
        amount: from_db_i64(amount, "proposal amount")?,
        proposer_id,
        state: ProposalState::from_db(&state)?,
        created_at_unix_ms: from_db_i64(created_at_unix_ms, "proposal time")?,
        executed_by: executed_by
            .map(|tx| to_bytes32(&tx, "proposal executed_by"))
            .transpose()?,
    })
}

impl Store {
    /// Admits a participant, active. Fails with `ParticipantExists` if the id
    /// or the spend key is taken.
    pub fn admit_participant(&self, new: &NewParticipant) -> Result<Participant, StoreError> {
        let created_at = to_db_i64(new.created_at_unix_ms, "participant creation time")?;
        let mut conn = self.connection()?;
        let inserted = diesel::insert_into(participants::table)
            .values((
                participants::id.eq(&new.id),
                participants::name.eq(&new.name),
                participants::role.eq(new.role.as_db()),
                participants::status.eq(ParticipantStatus::Active.as_db()),
                participants::spend_public_key.eq(&new.spend_public_key[..]),
                participants::view_public_key.eq(new.view_public_key.as_ref().map(|k| &k[..])),
                participants::created_at_unix_ms.eq(created_at),
            ))
            .execute(&mut *conn);
        match inserted {
            Ok(_) => {}
            Err(error) if is_unique_violation(&error) => return Err(StoreError::ParticipantExists),
            Err(error) => return Err(error.into()),
        }
        Ok(Participant {
            id: new.id.clone(),
            name: new.name.clone(),
            role: new.role,
            status: ParticipantStatus::Active,
            spend_public_key: new.spend_public_key,
            view_public_key: new.view_public_key,
            created_at_unix_ms: new.created_at_unix_ms,
        })
    }

    /// Sets a participant's status (suspend or reinstate).
    pub fn set_participant_status(
        &self,
        id: &str,
        status: ParticipantStatus,
    ) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        let updated = diesel::update(participants::table.find(id))
            .set(participants::status.eq(status.as_db()))
            .execute(&mut *conn)?;
        if updated == 0 {
            return Err(StoreError::UnknownParticipant);
        }
        Ok(())
    }

    /// The participant with this id.
    pub fn participant(&self, id: &str) -> Result<Option<Participant>, StoreError> {
        let mut conn = self.connection()?;
        participants::table
            .find(id)
            .select(PARTICIPANT_COLUMNS)
            .first::<ParticipantRow>(&mut *conn)
            .optional()?
            .map(participant_from_row)
            .transpose()
    }

    /// The participant whose spend (signing) public key this is.
    pub fn participant_by_key(
        &self,
        spend_public_key: &Bytes32,
    ) -> Result<Option<Participant>, StoreError> {
        let mut conn = self.connection()?;
        participants::table
            .filter(participants::spend_public_key.eq(&spend_public_key[..]))
            .select(PARTICIPANT_COLUMNS)
            .first::<ParticipantRow>(&mut *conn)
            .optional()?
            .map(participant_from_row)
            .transpose()
    }

    /// All participants, by id.
    pub fn participants(&self) -> Result<Vec<Participant>, StoreError> {
        let mut conn = self.connection()?;
        participants::table
            .select(PARTICIPANT_COLUMNS)
            .order(participants::id)
            .load::<ParticipantRow>(&mut *conn)?
            .into_iter()
            .map(participant_from_row)
            .collect()
    }

    /// Records a proposal to issue `amount` to a bank, open. The bank must be
    /// an active bank, the proposer an active officer or the bank itself.
    pub fn create_proposal(&self, new: &NewProposal) -> Result<(), StoreError> {
        if new.amount == 0 {
            return Err(StoreError::ZeroAmount);
        }
        let amount = to_db_i64(new.amount, "proposal amount")?;
        let created_at = to_db_i64(new.created_at_unix_ms, "proposal time")?;
        let mut conn = self.connection()?;
        conn.transaction(|conn| {
            write_lock_first(conn)?;
            require_active(conn, &new.bank_id, Role::Bank)?;
            // An officer, or the bank itself asking for its float.
            if new.proposer_id != new.bank_id {
                require_active(conn, &new.proposer_id, Role::Officer)?;
            }
            let inserted = diesel::insert_into(issuance_proposals::table)
                .values((
                    issuance_proposals::id.eq(&new.id.0[..]),
                    issuance_proposals::bank_id.eq(&new.bank_id),
                    issuance_proposals::amount.eq(amount),
                    issuance_proposals::proposer_id.eq(&new.proposer_id),
                    issuance_proposals::state.eq(ProposalState::Open.as_db()),
                    issuance_proposals::created_at_unix_ms.eq(created_at),
                ))
                .execute(conn);
            match inserted {
                Ok(_) => Ok(()),
                Err(error) if is_unique_violation(&error) => Err(StoreError::ProposalExists),
                Err(error) => Err(error.into()),
            }
        })
    }

    /// Records `officer_id`'s approval of an open proposal, with the
    /// officer's `signature` over it (verified by the caller), and returns the
    /// number of approvals it now has. Approving twice is `AlreadyApproved`.
    pub fn approve_proposal(
        &self,
        id: &ProposalId,
        officer_id: &str,
        signature: &[u8],
        approved_at_unix_ms: u64,
    ) -> Result<u32, StoreError> {
        if signature.len() > APPROVAL_SIGNATURE_BYTES_MAX {
            return Err(StoreError::OutOfRange {
                field: "approval signature",
            });
        }
        let approved_at = to_db_i64(approved_at_unix_ms, "approval time")?;
        let mut conn = self.connection()?;
        conn.transaction(|conn| {
            write_lock_first(conn)?;
            require_active(conn, officer_id, Role::Officer)?;
            // Locks the proposal row while it is open, so an approval cannot
            // land on a proposal being executed or cancelled concurrently.
            let open = diesel::update(issuance_proposals::table.find(&id.0[..]))
                .filter(issuance_proposals::state.eq(ProposalState::Open.as_db()))
                .set(issuance_proposals::state.eq(ProposalState::Open.as_db()))
                .execute(conn)?;
            if open == 0 {
                return Err(proposal_absence(conn, id)?);
            }
            let inserted = diesel::insert_into(issuance_approvals::table)
                .values((
                    issuance_approvals::proposal_id.eq(&id.0[..]),
                    issuance_approvals::officer_id.eq(officer_id),
                    issuance_approvals::approved_at_unix_ms.eq(approved_at),
                    issuance_approvals::signature.eq(signature),
                ))
                .execute(conn);
            match inserted {
                Ok(_) => {}
                Err(error) if is_unique_violation(&error) => {
                    return Err(StoreError::AlreadyApproved)
                }
                Err(error) if is_foreign_key_violation(&error) => {
                    return Err(StoreError::UnknownParticipant)
                }
                Err(error) => return Err(error.into()),
            }
            let count = issuance_approvals::table
                .filter(issuance_approvals::proposal_id.eq(&id.0[..]))
                .count()
                .get_result::<i64>(conn)?;
            u32::try_from(count).map_err(|_| StoreError::Corrupt("approval count"))
        })
    }

    /// Cancels an open proposal; it can then never be executed.
    pub fn cancel_proposal(&self, id: &ProposalId) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        conn.transaction(|conn| {
            let cancelled = diesel::update(issuance_proposals::table.find(&id.0[..]))
                .filter(issuance_proposals::state.eq(ProposalState::Open.as_db()))
                .set(issuance_proposals::state.eq(ProposalState::Cancelled.as_db()))
                .execute(conn)?;
            if cancelled == 0 {
                return Err(proposal_absence(conn, id)?);
            }
            Ok(())
        })
    }

    /// The proposal with this id.
    pub fn proposal(&self, id: &ProposalId) -> Result<Option<Proposal>, StoreError> {
        let mut conn = self.connection()?;
        issuance_proposals::table
            .find(&id.0[..])
            .select(PROPOSAL_COLUMNS)
            .first::<ProposalRow>(&mut *conn)
            .optional()?
            .map(proposal_from_row)
            .transpose()
    }

    /// Proposals in a state (all if `None`), oldest first, at most `limit`.
    pub fn proposals(
        &self,
        state: Option<ProposalState>,
        limit: u32,
    ) -> Result<Vec<Proposal>, StoreError> {
        let mut conn = self.connection()?;
        let mut query = issuance_proposals::table
            .select(PROPOSAL_COLUMNS)
            .order((
                issuance_proposals::created_at_unix_ms,
                issuance_proposals::id,
            ))
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(state) = state {
            query = query.filter(issuance_proposals::state.eq(state.as_db()));
        }
        query
            .load::<ProposalRow>(&mut *conn)?
            .into_iter()
            .map(proposal_from_row)
            .collect()
    }

    /// The approvals of a proposal, oldest first.
    pub fn approvals(&self, id: &ProposalId) -> Result<Vec<Approval>, StoreError> {
        let mut conn = self.connection()?;
        issuance_approvals::table
            .filter(issuance_approvals::proposal_id.eq(&id.0[..]))
            .select((
                issuance_approvals::officer_id,
                issuance_approvals::signature,
                issuance_approvals::approved_at_unix_ms,
            ))
            .order((
                issuance_approvals::approved_at_unix_ms,
                issuance_approvals::officer_id,
            ))
            .load::<(String, Vec<u8>, i64)>(&mut *conn)?
            .into_iter()
            .map(|(officer_id, signature, at)| {
                Ok(Approval {
                    officer_id,
                    signature,
                    approved_at_unix_ms: from_db_i64(at, "approval time")?,
                })
            })
            .collect()
    }
}

/// Fails with `NotEligible` unless `id` is an active participant with `role`.
fn require_active(conn: &mut AnyConnection, id: &str, role: Role) -> Result<(), StoreError> {
    let found = participants::table
        .find(id)
        .select((participants::role, participants::status))
        .first::<(String, String)>(conn)
        .optional()?;
    let eligible = match found {
        Some((found_role, status)) => {
            Role::from_db(&found_role)? == role
                && ParticipantStatus::from_db(&status)? == ParticipantStatus::Active
        }
        None => false,
    };
    if eligible {
        Ok(())
    } else {
        Err(StoreError::NotEligible {
            id: id.to_owned(),
            required: role,
        })
    }
}

/// The error for a proposal a guarded update did not find open.
fn proposal_absence(conn: &mut AnyConnection, id: &ProposalId) -> Result<StoreError, StoreError> {
    let exists = issuance_proposals::table
        .find(&id.0[..])
        .select(issuance_proposals::state)
        .first::<String>(conn)
        .optional()?
        .is_some();
    Ok(if exists {
        StoreError::ProposalNotOpen
    } else {
        StoreError::UnknownProposal
    })
}

/// On SQLite, takes the database's write lock as a transaction's first
/// statement. A transaction that reads first and writes later cannot wait for
/// another writer when it upgrades (SQLite answers "database is locked" at
/// once rather than risk a deadlock); one that writes first waits its
/// `busy_timeout` like any writer. PostgreSQL locks rows, not the database:
/// nothing to do there.
fn write_lock_first(conn: &mut AnyConnection) -> Result<(), StoreError> {
    if matches!(conn, AnyConnection::Sqlite(_)) {
        diesel::sql_query("UPDATE chain_head SET next_height = next_height WHERE 0")
            .execute(conn)?;
    }
    Ok(())
}

//! The one place where errors become HTTP responses.
//!
//! Every error a client can cause is a 4xx with `{"code": "...", "message": "..."}`
//! whose code names the problem. A 5xx never carries its cause to the client: the
//! cause is logged once, here, and the client gets `internal` or `unavailable`
//! (or `busy`, or `commit_unknown` when a commit's outcome is unknown). Every
//! 503 carries `Retry-After`.

use crate::auth::AuthError;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use ledger_core::{DecodeError, Rejection};
use std::fmt;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// What a client is told of a 500 (the cause is logged, never sent).
pub const INTERNAL_MESSAGE: &str = "internal error; the ledger operator has the details";

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    /// A server-side failure: logged here with its cause, opaque to the client.
    pub fn internal(cause: impl fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            INTERNAL_MESSAGE,
        )
    }

    /// 503 `busy` with `Retry-After`: a queue of the service is full.
    pub fn busy(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
    }

    /// 503 `commit_unknown` with `Retry-After`: the database connection broke
    /// while the transaction's batch was committing, so it may be on the
    /// ledger or not. Submitting the same transaction again is safe: a
    /// committed transfer or redeem answers with its first receipt, a
    /// committed governance entry is refused (`governance_sequence`).
    pub fn commit_unknown(cause: impl fmt::Display) -> ApiError {
        tracing::warn!(error = %cause, "commit outcome unknown");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "commit_unknown",
            "the database connection was lost while committing: the transaction may or may \
             not be on the ledger; look it up by id, or submit it again (safe: a committed \
             transfer or redeem is answered with its receipt, a committed governance entry \
             is refused as out of sequence)",
        )
    }

    /// 503 `unavailable` with `Retry-After`: the database (or another part
    /// the request needs) cannot be reached now; nothing was done.
    pub fn unavailable(cause: impl fmt::Display) -> ApiError {
        tracing::warn!(error = %cause, "service unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the ledger cannot serve this right now; retry later",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        cbdc_http::error_response(self.status, self.code, &self.message)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string())
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> ApiError {
        let status = match r {
            Rejection::SpentInput { .. }
            | Rejection::ParticipantExists
            | Rejection::GovernanceSequence => StatusCode::CONFLICT,
            Rejection::UnknownParticipant => StatusCode::NOT_FOUND,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, r.code(), r.to_string())
    }
}

impl From<DecodeError> for ApiError {
    fn from(e: DecodeError) -> ApiError {
        ApiError::bad_request(e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let message = e.to_string();
        match e {
            StoreError::ParticipantExists => {
                return ApiError::conflict("participant_exists", message)
            }
            StoreError::UnknownParticipant => {
                return ApiError::not_found("unknown_participant", message)
            }
            StoreError::NotEligible { .. } => {
                return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_eligible", message)
            }
            StoreError::ZeroAmount => return ApiError::bad_request("zero_amount", message),
            StoreError::ProposalExists => return ApiError::conflict("proposal_exists", message),
            StoreError::UnknownProposal => return ApiError::not_found("unknown_proposal", message),
            StoreError::ProposalNotOpen => return ApiError::conflict("proposal_not_open", message),
            StoreError::AlreadyApproved => {
                return ApiError::conflict("duplicate_approval", message)
            }
            StoreError::CommitUnknown => return ApiError::commit_unknown(message),
            _ => {}
        }
        if e.is_transient() {
            ApiError::unavailable(e)
        } else {
            ApiError::internal(e)
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> ApiError {
        ApiError::unavailable(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry_after(error: &ApiError) -> Option<String> {
        error
            .error_response()
            .headers()
            .get("Retry-After")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    }

    #[test]
    fn a_database_that_cannot_be_reached_is_503_unavailable_with_retry_after() {
        let lost = StoreError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ClosedConnection,
            Box::new("server closed the connection unexpectedly".to_owned()),
        ));
        let error = ApiError::from(lost);
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code, "unavailable");
        assert!(
            !error.message.contains("server closed"),
            "the cause is logged, not sent"
        );
        assert_eq!(retry_after(&error).as_deref(), Some("1"));
    }

    #[test]
    fn a_commit_of_unknown_outcome_says_so_and_invites_a_resubmission() {
        let error = ApiError::from(StoreError::CommitUnknown);
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code, "commit_unknown");
        assert!(error.message.contains("submit it again"));
        assert_eq!(retry_after(&error).as_deref(), Some("1"));
    }
}

//! The one place where the gateway's errors become HTTP responses: a 4xx
//! with `{"code", "message"}` naming the problem, or a 5xx whose cause is
//! logged here and never sent (`internal`; `unavailable` with
//! `Retry-After` when the database or the ledger cannot be reached). The
//! shape and the `Retry-After` are the ledger's too ([`cbdc_http`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use std::fmt;

use crate::gateway::EngineError;
use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Extra fields of a refusal (limit, remaining, payment id).
    pub extra: Option<serde_json::Value>,
}

/// What a client is told of a 500 (the cause is logged, never sent).
pub const INTERNAL_MESSAGE: &str = "internal error; the bank's operator has the details";

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            extra: None,
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unprocessable(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn internal(cause: impl fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            INTERNAL_MESSAGE,
        )
    }

    pub fn unavailable(cause: impl fmt::Display) -> ApiError {
        tracing::warn!(error = %cause, "service unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the gateway cannot serve this right now; retry later",
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
        match &self.extra {
            // A refusal (409, 422) with its limit, remaining and payment id.
            Some(serde_json::Value::Object(extra)) => {
                let mut body = extra.clone();
                body.insert("code".into(), self.code.clone().into());
                body.insert("message".into(), self.message.clone().into());
                HttpResponse::build(self.status).json(body)
            }
            _ => cbdc_http::error_response(self.status, &self.code, &self.message),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        if e.is_transient() {
            ApiError::unavailable(e)
        } else {
            ApiError::internal(e)
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Store(e) => e.into(),
            EngineError::Ledger(e) => ApiError::unavailable(e),
            EngineError::Custody(e) => ApiError::internal(e),
        }
    }
}

//! The one place where the wallet API's errors become HTTP responses: a 4xx
//! with `{"code", "message"}` (and a refusal's `limit`, `remaining`), or a
//! 5xx whose cause is logged here and never sent (`internal`;
//! `unavailable` and `bank_unavailable` with `Retry-After`). The shape is
//! the ledger's and the gateway's ([`cbdc_http`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use gateway_client::GatewayError;
use std::fmt;

use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Extra fields of a refusal (limit, remaining, payment id).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
    /// `Retry-After` in seconds (429 and 503).
    pub retry_after: Option<u64>,
}

/// What a client is told of a 500 (the cause is logged, never sent).
pub const INTERNAL_MESSAGE: &str = "internal error; the wallet API's operator has the details";

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            extra: None,
            retry_after: None,
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
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

    pub fn rate_limited(retry_after: u64) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests; retry after {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e
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
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the wallet API cannot serve this right now; retry later",
        );
        e.retry_after = Some(1);
        e
    }

    /// The wallet's bank did not answer (or not as documented). A payment
    /// may have been made: the same request with the same Idempotency-Key
    /// tells.
    pub fn bank_unavailable(bank: &str, cause: impl fmt::Display) -> ApiError {
        tracing::warn!(bank, error = %cause, "a bank gateway did not answer");
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "bank_unavailable",
            format!(
                "bank {bank} did not answer; send the same request again (with the same \
                 Idempotency-Key if it moves money) to learn its outcome"
            ),
        );
        e.retry_after = Some(1);
        e
    }

    /// What the wallet's gateway answered, as this API answers it: its
    /// refusals (4xx) pass through with their code and fields; anything
    /// that says this API is misconfigured, or a 5xx, is `bank_unavailable`.
    pub fn from_gateway(bank: &str, e: GatewayError) -> ApiError {
        let refusal = e.is_refusal();
        match e {
            GatewayError::Answered {
                status,
                code,
                message,
                extra,
                ..
            } if refusal => ApiError {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                code,
                message,
                extra: if extra.is_empty() { None } else { Some(extra) },
                retry_after: None,
            },
            GatewayError::Answered {
                status: 401 | 403,
                code,
                ..
            } => {
                tracing::error!(
                    bank,
                    code,
                    "the bank's gateway refuses this wallet API's token"
                );
                ApiError::bank_unavailable(bank, "credentials refused")
            }
            other => ApiError::bank_unavailable(bank, other),
        }
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
        let mut response = match &self.extra {
            Some(extra) => {
                let mut body = extra.clone();
                body.insert("code".into(), self.code.clone().into());
                body.insert("message".into(), self.message.clone().into());
                HttpResponse::build(self.status).json(body)
            }
            None => cbdc_http::error_response(self.status, &self.code, &self.message),
        };
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&seconds.to_string())
            {
                response
                    .headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
        }
        response
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

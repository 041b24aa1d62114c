//! The HTTP plumbing every cbdc service shares, so that the ledger and a
//! bank's gateway refuse a request the same way:
//!
//! - [`error_response`]: the one error shape, `{"code", "message"}`, with
//!   `Retry-After` on every 503;
//! - [`json_errors`]: the error responses actix makes itself (its 404, 413 …)
//!   rewritten to that shape;
//! - [`RouteTable`] and [`no_route`]: the default service, `405` with `Allow`
//!   for a path the OpenAPI document lists asked with a method it does not
//!   list, `404 no_route` otherwise;
//! - [`parse_json`]: a JSON body, where `5.0` is the integer `5` (as JSON
//!   Schema's `integer` says), and [`JsonBody`], the extractor that takes a
//!   body that way (415, 413, 400 each with its code).
//!
//! It links actix-web, serde and utoipa only: no database, no ledger.

#![forbid(unsafe_code)]

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use utoipa::openapi::OpenApi;

/// An error answer: `{"code", "message"}`, and `Retry-After: 1` on a 503.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header((header::RETRY_AFTER, "1"));
    }
    response.json(body(code, message))
}

fn body(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "code": code, "message": message })
}

/// Rewrites error responses that are not JSON already (actix's own 404, 413,
/// 408 …) into the JSON error shape; `internal` is the message of a 5xx.
pub fn json_errors<B: MessageBody + 'static>(internal: &'static str) -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(move |res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("no_route", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "method not allowed on this route")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "request body too large"),
            StatusCode::REQUEST_TIMEOUT => ("body_timeout", "the request did not arrive in time"),
            s if s.is_client_error() => ("bad_request", "bad request"),
            _ => ("internal", internal),
        };
        let (req, _) = res.into_parts();
        let response = error_response(status, code, message).map_into_right_body();
        Ok(ErrorHandlerResponse::Response(ServiceResponse::new(
            req, response,
        )))
    })
}

/// Parses a JSON body. JSON does not tell `5` from `5.0` (nor does JSON
/// Schema's `integer`), so when the body does not parse as it stands, a
/// number with a fraction or exponent whose value is an exact integer of at
/// most 2^53 in magnitude is taken as that integer and the body tried again;
/// any other number keeps the first error.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    let first = match serde_json::from_slice(body) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Err(first);
    };
    if !integral_floats_to_integers(&mut value) {
        return Err(first);
    }
    // The number was an integer after all: what is wrong is something else.
    serde_json::from_value(value)
}

/// Replaces every exactly integral float of magnitude ≤ 2^53 by its integer;
/// whether it replaced any.
fn integral_floats_to_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Value::Number(n) if n.is_f64() => {
            let Some(x) = n.as_f64() else { return false };
            if x.fract() != 0.0 || x.abs() > EXACT {
                return false;
            }
            // Exact: |x| ≤ 2^53 and integral, so the conversion loses nothing.
            #[allow(clippy::cast_possible_truncation)]
            let integer = x as i64;
            *value = if integer >= 0 {
                Value::from(integer.unsigned_abs())
            } else {
                Value::from(integer)
            };
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
            integral_floats_to_integers(item) | changed
        }),
        Value::Object(map) => map.values_mut().fold(false, |changed, item| {
            integral_floats_to_integers(item) | changed
        }),
        _ => false,
    }
}

/// Which methods each documented path template answers; for `405` + `Allow`.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<Segment>, Vec<&'static str>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

impl RouteTable {
    pub fn from_document(doc: &OpenApi) -> RouteTable {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template
                    .trim_matches('/')
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Segment::Parameter
                        } else {
                            Segment::Literal(s.to_string())
                        }
                    })
                    .collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(name, present)| present.then_some(name))
                .collect();
                (segments, methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods a path answers, if it is a documented route.
    pub fn allowed(&self, path: &str) -> Option<Vec<&'static str>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut allowed: Vec<&'static str> = Vec::new();
        let mut found = false;
        for (segments, methods) in &self.routes {
            let matches = segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(s, p)| match s {
                    Segment::Literal(l) => l == p,
                    Segment::Parameter => !p.is_empty(),
                });
            if matches {
                found = true;
                for m in methods {
                    if !allowed.contains(m) {
                        allowed.push(m);
                    }
                }
            }
        }
        found.then_some(allowed)
    }
}

/// The default service: `405 method_not_allowed` with `Allow` for a path of
/// the [`RouteTable`] in the app's data asked with another method, `404
/// no_route` otherwise.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    let allowed = req
        .app_data::<web::Data<RouteTable>>()
        .and_then(|table| table.allowed(req.path()));
    match allowed {
        Some(methods) => {
            let allow = methods.join(", ");
            let message = format!("{} is not allowed here; allowed: {allow}", req.method());
            HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, allow))
                .json(body("method_not_allowed", &message))
        }
        None => error_response(
            StatusCode::NOT_FOUND,
            "no_route",
            "no such route (see /openapi.json)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;
    use actix_web::test::TestRequest;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::OpenApiBuilder;

    fn table() -> RouteTable {
        let item = |methods: &[HttpMethod]| {
            let mut item = PathItem::new(methods[0].clone(), OperationBuilder::new().build());
            for m in &methods[1..] {
                item.merge_operations(PathItem::new(m.clone(), OperationBuilder::new().build()));
            }
            item
        };
        let doc = OpenApiBuilder::new()
            .paths(
                PathsBuilder::new()
                    .path("/v1/supply", item(&[HttpMethod::Get]))
                    .path(
                        "/v1/wallets/{id}",
                        item(&[HttpMethod::Get, HttpMethod::Patch]),
                    )
                    .path("/v1/wallets/{id}/fund", item(&[HttpMethod::Post]))
                    .path("/v1/blocks/latest", item(&[HttpMethod::Get]))
                    .path("/v1/blocks/{height}", item(&[HttpMethod::Get])),
            )
            .build();
        RouteTable::from_document(&doc)
    }

    #[test]
    fn methods_of_documented_paths() {
        let table = table();
        assert_eq!(table.allowed("/v1/supply"), Some(vec!["GET"]));
        assert_eq!(table.allowed("/v1/wallets/7"), Some(vec!["GET", "PATCH"]));
        assert_eq!(table.allowed("/v1/wallets/x/fund"), Some(vec!["POST"]));
        assert_eq!(table.allowed("/v1/blocks/latest"), Some(vec!["GET"]));
        assert_eq!(table.allowed("/v1/nope"), None);
        assert_eq!(table.allowed("/v1/wallets//fund"), None);
        assert_eq!(table.allowed("/v1/blocks//"), None);
    }

    #[actix_web::test]
    async fn a_known_path_with_another_method_is_405_with_allow() {
        let req = TestRequest::delete()
            .uri("/v1/wallets/7")
            .app_data(web::Data::new(table()))
            .to_http_request();
        let res = no_route(req).await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers().get(header::ALLOW).unwrap(), "GET, PATCH");
        let body = to_bytes(res.into_body()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "method_not_allowed");
        assert!(body["message"].as_str().unwrap().starts_with("DELETE "));

        let req = TestRequest::get()
            .uri("/v1/nothing")
            .app_data(web::Data::new(table()))
            .to_http_request();
        let res = no_route(req).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(res.headers().get(header::ALLOW).is_none());
    }

    #[test]
    fn integral_floats_are_integers_and_nothing_else() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Body {
            amount: u64,
            items: Vec<i8>,
        }
        let parsed: Body = parse_json(br#"{"amount": 5.0, "items": [1e0, -2.0, 3]}"#).unwrap();
        assert_eq!(
            parsed,
            Body {
                amount: 5,
                items: vec![1, -2, 3]
            }
        );
        let parsed: Body = parse_json(br#"{"amount": 9007199254740992.0, "items": []}"#).unwrap();
        assert_eq!(parsed.amount, 1 << 53);
        for bad in [
            &br#"{"amount": 5.5, "items": []}"#[..],
            br#"{"amount": 9007199254740994.0, "items": []}"#,
            br#"{"amount": -1.0, "items": []}"#,
            br#"{"amount": 1e300, "items": []}"#,
            br#"{"amount": "5", "items": []}"#,
            br#"{"amount": 5.0, "items": [], "extra": 1}"#,
            br#"{"amount": 5, "amount": 6, "items": []}"#,
            br#"{"amount": 5.0"#,
        ] {
            assert!(
                parse_json::<Body>(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_503_says_when_to_retry() {
        let res = error_response(StatusCode::SERVICE_UNAVAILABLE, "busy", "later");
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let res = error_response(StatusCode::BAD_REQUEST, "bad", "no");
        assert!(res.headers().get(header::RETRY_AFTER).is_none());
    }
}

/// A JSON body of `T`: `Content-Type` `application/json` (or `…+json`), else
/// 415 `unsupported_media_type`; at most the app's `web::PayloadConfig`
/// limit, else 413 `body_too_large`; then [`parse_json`], else 400
/// `invalid_json` (a body cut short: 400 `bad_body`).
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Why a [`JsonBody`] was refused, answered in the one error shape.
#[derive(Debug)]
pub struct BodyError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl actix_web::ResponseError for BodyError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        error_response(self.status, self.code, &self.message)
    }
}

impl<T: DeserializeOwned + 'static> actix_web::FromRequest for JsonBody<T> {
    type Error = BodyError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, BodyError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::HttpMessage;
        let json = |m: &actix_web::mime::Mime| {
            m.subtype() == actix_web::mime::JSON || m.suffix() == Some(actix_web::mime::JSON)
        };
        if !req.mime_type().ok().flatten().is_some_and(|m| json(&m)) {
            return Box::pin(std::future::ready(Err(BodyError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "unsupported_media_type",
                message: "send the body as Content-Type: application/json".into(),
            })));
        }
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    BodyError {
                        status: StatusCode::PAYLOAD_TOO_LARGE,
                        code: "body_too_large",
                        message: "the body is larger than this route takes".into(),
                    }
                } else {
                    BodyError {
                        status: StatusCode::BAD_REQUEST,
                        code: "bad_body",
                        message: format!("the body did not arrive: {e}"),
                    }
                }
            })?;
            parse_json(&body).map(JsonBody).map_err(|e| BodyError {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_json",
                message: e.to_string(),
            })
        })
    }
}

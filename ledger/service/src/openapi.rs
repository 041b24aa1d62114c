//! The OpenAPI document, generated from the code.
//!
//! Handlers carry `#[utoipa::path]` and are registered through
//! `utoipa-actix-web`, so a route cannot be served without being documented.
//! The response and request types of [`crate::wire`] derive their schemas. The
//! ledger-core types that travel as JSON (transactions, receipts, governance
//! entries, block headers) keep `ledger-core` free of documentation machinery:
//! their shapes are described once, by the [`core_json`] mirror types (in
//! `ledger-client`, beside the wire types that name them), which are never
//! constructed — a test validates real answers against them.
//!
//! [`RouteTable`] is built from the same document: a request whose path is a
//! documented route but whose method is not gets `405` with `Allow`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

/// The name of the security requirement every `/v1` route declares.
pub const SECURITY: &str = "signed_request";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cbdc ledger",
        description = "The central bank's ledger: issuance by M-of-N officers, confidential \
            transfers and redeems submitted by banks, the signed journal and its audit. \
            Every `/v1` request is signed with the caller's registered key (PROTOCOL.md, \
            \"Signed requests\"); errors are `{\"code\", \"message\"}` with the status \
            documented per route. Amounts are integers of minor units; a number written \
            with a fraction or exponent is taken as an integer when it is one exactly and at \
            most 2^53 in magnitude (`5.0`, `1e3`), and refused with `invalid_json` otherwise.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SignedRequests),
    tags(
        (name = "operations", description = "Liveness, readiness, metrics and this document."),
        (name = "governance", description = "Participants and the officers' governance entries."),
        (name = "issuance", description = "Maker–checker issuance: proposals and approvals."),
        (name = "transactions", description = "Transfers and redeems, notes and the event feed."),
        (name = "journal", description = "Blocks, the supply and its audit."),
    )
)]
pub struct ApiDoc;

/// Declares the four signature headers as one security requirement.
struct SignedRequests;

impl Modify for SignedRequests {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let header = |name: &str, what: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                name,
                &format!("{what} (PROTOCOL.md, \"Signed requests\")."),
            )))
        };
        components.add_security_scheme(
            "cbdc_key",
            header(
                "x-cbdc-key",
                "The caller's registered public key, 64 hex characters",
            ),
        );
        components.add_security_scheme(
            "cbdc_timestamp",
            header(
                "x-cbdc-timestamp",
                "Milliseconds since the Unix epoch, within 5 minutes of the ledger's clock",
            ),
        );
        components.add_security_scheme(
            "cbdc_nonce",
            header(
                "x-cbdc-nonce",
                "16 random bytes, 32 hex characters, never reused by the key",
            ),
        );
        components.add_security_scheme(
            "cbdc_signature",
            header(
                "x-cbdc-signature",
                "Schnorr signature (purpose `request`) over the request message, 128 hex characters",
            ),
        );
    }
}

/// Finishes the document once the routes' schemas are in it: the core
/// refuses unknown fields in a governance action, and utoipa does not carry
/// `deny_unknown_fields` into the variants of a tagged enum, so the variants
/// of `Action` are closed here.
pub fn close_actions(doc: &mut Document) {
    {
        use utoipa::openapi::schema::{AdditionalProperties, Schema};
        use utoipa::openapi::RefOr;
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut("Action") {
            for item in &mut one_of.items {
                if let RefOr::T(Schema::Object(object)) = item {
                    object.additional_properties =
                        Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

/// The mirror schemas of the ledger-core types; they live beside the wire
/// types that name them.
pub use ledger_client::core_json;

/// Which methods each documented path template answers; for `405` + `Allow`
/// (shared with the bank gateway).
pub use cbdc_http::RouteTable;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_of_documented_paths() {
        let doc = crate::server::openapi();
        let table = RouteTable::from_document(&doc);
        assert_eq!(table.allowed("/v1/supply"), Some(vec!["GET"]));
        assert_eq!(table.allowed("/v1/audit"), Some(vec!["POST"]));
        assert_eq!(table.allowed("/v1/blocks/latest"), Some(vec!["GET"]));
        assert_eq!(
            table.allowed("/v1/issuances/ab/approvals"),
            Some(vec!["POST"])
        );
        assert_eq!(table.allowed("/v1/nope"), None);
        assert_eq!(table.allowed("/v1/blocks//"), None);
        if let Ok(path) = std::env::var("CBDC_WRITE_OPENAPI") {
            std::fs::write(path, doc.to_pretty_json().unwrap()).unwrap();
        }
    }
}

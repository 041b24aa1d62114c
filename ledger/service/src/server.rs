//! Running the ledger's HTTP server.

use crate::api;
use crate::ledger::Ledger;
use crate::openapi::{ApiDoc, RouteTable};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Longest a client may take to send a request's head; then the connection is closed.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The OpenAPI document of the routes [`api::routes`] registers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(api::routes)
        .split_for_parts();
    crate::openapi::close_actions(&mut doc);
    doc
}

/// Serves the API on `listener` until the returned server is stopped.
pub fn serve(
    ledger: Arc<Ledger>,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let state = web::Data::new(ledger);
    let doc = openapi();
    let document = web::Data::new(api::Document(
        doc.to_pretty_json().map_err(std::io::Error::other)?,
    ));
    let table = web::Data::new(RouteTable::from_document(&doc));
    let server = HttpServer::new(move || {
        App::new()
            .into_utoipa_app()
            .app_data(state.clone())
            .app_data(document.clone())
            .app_data(table.clone())
            .configure(api::routes)
            .map(|app| {
                app.service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .config(Config::new(["/openapi.json"]).validator_url("none")),
                )
                .wrap(api::json_errors())
                .wrap(from_fn(api::observe))
                .default_service(web::to(api::no_route))
            })
            .into_app()
    })
    .workers(workers.max(1))
    .client_request_timeout(HEAD_TIMEOUT)
    .client_disconnect_timeout(Duration::from_secs(1))
    .listen(listener)?
    .run();
    Ok(server)
}

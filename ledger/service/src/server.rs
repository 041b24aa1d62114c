//! Running the ledger's HTTP server.

use crate::api;
use crate::ledger::Ledger;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;

/// Serves the API on `listener` until the returned server is stopped.
pub fn serve(
    ledger: Arc<Ledger>,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let state = web::Data::new(ledger);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(api::json_errors())
            .wrap(from_fn(api::observe))
            .configure(api::routes)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(crate::error::ApiError::not_found(
                    "no_route",
                    "no such route",
                ))
            }))
    })
    .workers(workers.max(1))
    .listen(listener)?
    .run();
    Ok(server)
}

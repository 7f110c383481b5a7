//! The yardstick of the end-to-end benchmark: a bare actix-web handler that parses a JSON body and
//! answers 201 with JSON, with no store and no bus. `scripts/bench.sh` measures it beside the
//! server in the same run. Usage: `bare [ADDR]` (default 127.0.0.1:18000).

#![allow(clippy::expect_used, missing_docs)]

use actix_web::{post, web, App, HttpResponse, HttpServer};

#[post("/messages")]
async fn accept(body: web::Json<serde_json::Value>) -> HttpResponse {
    HttpResponse::Created().json(body.into_inner())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18000".into());
    HttpServer::new(|| App::new().service(accept))
        .bind(addr)?
        .run()
        .await
}

//! The console's one static asset, its stylesheet, compiled into the binary and served from
//! `/console/static/console.css` (no third-party requests, nothing inline: the CSP allows 'self').

use actix_web::http::header;
use actix_web::HttpResponse;

const STYLESHEET: &str = include_str!("console.css");

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

//! The console's static assets, compiled into the binary: its stylesheet
//! (`/console/static/console.css`) and icon (`/console/static/favicon.svg`). No third-party
//! requests and nothing inline: the CSP allows 'self' only.

use actix_web::http::header;
use actix_web::HttpResponse;

const STYLESHEET: &str = include_str!("console.css");
const ICON: &str = include_str!("favicon.svg");

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

pub async fn icon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(ICON)
}

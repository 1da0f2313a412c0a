//! Staff routes of the outbound event feed:
//!
//! - `GET /api/v1/events?status=pending|delivered|failed&count=&start_index=` — newest first, with
//!   delivery status and attempts (viewer);
//! - `GET /api/v1/events/{id}` — one event (viewer);
//! - `POST /api/v1/events/{id}/resend` — re-queue it for delivery, same id (operator, audited).
//!
//! Handlers parse and authenticate; `service::events` does the rest.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::staff_error;
use super::staff::{authorize, authorize_write, authorized_page, internal, PageQuery, Role};
use crate::domain::{EventStatus, OutboxEvent};
use crate::service::events::{self, ResendError};
use crate::service::Services;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::get().to(list_events))
        .route("/events/{event_id}", web::get().to(get_event))
        .route("/events/{event_id}/resend", web::post().to(resend_event));
}

#[derive(Debug, Deserialize)]
struct StatusQuery {
    status: Option<String>,
}

/// An event as staff see it: the body the receiver gets, plus its delivery record.
#[derive(Serialize)]
struct EventView<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    created_time: &'a str,
    ordering_key: &'a str,
    status: &'static str,
    attempts: u32,
    resends: u32,
    /// When the next attempt may happen (pending events that failed before).
    next_attempt_time: Option<String>,
    last_attempt_time: Option<&'a str>,
    last_status: Option<u16>,
    last_error: Option<&'a str>,
    delivered_time: Option<&'a str>,
    data: &'a Value,
}

impl<'a> From<&'a OutboxEvent> for EventView<'a> {
    fn from(e: &'a OutboxEvent) -> Self {
        let next_attempt_time = (e.status == EventStatus::Pending && e.next_attempt_at_ms > 0)
            .then(|| {
                time::OffsetDateTime::from_unix_timestamp((e.next_attempt_at_ms / 1000) as i64)
                    .ok()
                    .map(crate::domain::time::format_rfc3339)
            })
            .flatten();
        EventView {
            id: &e.id,
            event_type: &e.event_type,
            created_time: &e.created_time,
            ordering_key: &e.ordering_key,
            status: e.status.as_str(),
            attempts: e.attempts,
            resends: e.resends,
            next_attempt_time,
            last_attempt_time: e.last_attempt_time.as_deref(),
            last_status: e.last_status,
            last_error: e.last_error.as_deref(),
            delivered_time: e.delivered_time.as_deref(),
            data: &e.data,
        }
    }
}

async fn list_events(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    filter: web::Query<StatusQuery>,
    svc: web::Data<Services>,
) -> HttpResponse {
    let page = match authorized_page(&req, &svc, &query, Role::Viewer) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let status = match filter.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => match EventStatus::parse(raw) {
            Some(s) => Some(s),
            None => {
                return staff_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameter",
                    "status must be pending, delivered or failed",
                )
            }
        },
    };
    match events::list(&svc, page, status).await {
        Ok(page) => {
            let data: Vec<EventView> = page.data.iter().map(EventView::from).collect();
            HttpResponse::Ok().json(serde_json::json!({
                "count": page.count,
                "start_index": page.start_index,
                "end_index": page.end_index,
                "is_more": page.is_more,
                "data": data,
            }))
        }
        Err(e) => internal(e),
    }
}

async fn get_event(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> HttpResponse {
    if let Err(r) = authorize(&req, &svc, Role::Viewer) {
        return *r;
    }
    match events::get(&svc, &path.into_inner()).await {
        Ok(Some(event)) => HttpResponse::Ok().json(EventView::from(&event)),
        Ok(None) => staff_error(StatusCode::NOT_FOUND, "not_found", "event not found"),
        Err(e) => internal(e),
    }
}

async fn resend_event(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> HttpResponse {
    let id = path.into_inner();
    let target = format!("event:{}", id.chars().take(64).collect::<String>());
    let actor = match authorize_write(&req, &svc, "event.resend", &target).await {
        Ok(actor) => actor,
        Err(r) => return r,
    };
    match events::resend(&svc, &actor, &id).await {
        Ok(event) => HttpResponse::Accepted().json(EventView::from(&event)),
        Err(e @ ResendError::NotFound) => {
            staff_error(StatusCode::NOT_FOUND, "not_found", e.to_string())
        }
        Err(e @ ResendError::FeedOff) => {
            staff_error(StatusCode::CONFLICT, "event_feed_off", e.to_string())
        }
        Err(ResendError::Store(e)) => internal(e),
    }
}

//! Staff routes of the outbound event feed:
//!
//! - `GET /api/v1/events?status=pending|delivered|failed&count=&start_index=` — newest first, with
//!   delivery status and attempts (viewer);
//! - `GET /api/v1/events/{id}` — one event (viewer);
//! - `POST /api/v1/events/{id}/resend` — re-queue it for delivery, same id (operator, audited).
//!
//! Handlers take the caller (role checked by the extractor) and call `service::events`.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::StaffError;
use super::error::StaffErrorBody;
use super::openapi::StaffRefusals;
use super::staff_auth::{Caller, Viewer};
use super::staff_params::{filter_text, PageQuery, Paging};
use crate::domain::{EventStatus, OutboxEvent};
use crate::service::events;
use crate::service::Services;
use crate::store::Paged;

type Reply = Result<HttpResponse, StaffError>;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Only events in this delivery status (pending, delivered, failed).
    status: Option<String>,
}

/// An event as staff see it: the body the receiver gets, plus its delivery record.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventView<'a> {
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
    /// The event's own data, as delivered (its shape depends on `type`).
    #[schema(value_type = Object)]
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

impl StatusQuery {
    fn status(&self) -> Result<Option<EventStatus>, StaffError> {
        match filter_text(self.status.as_deref()) {
            None => Ok(None),
            Some(raw) => EventStatus::parse(&raw).map(Some).ok_or_else(|| {
                StaffError::InvalidParameter(
                    "status must be pending, delivered or failed".to_owned(),
                )
            }),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/events", tag = "staff", operation_id = "listEvents", security(("staffBearer" = [])), params(PageQuery, StatusQuery), responses((status = 200, description = "Outbound events, newest first", body = Paged<EventView>), StaffRefusals))]
pub async fn list_events(
    _: Viewer,
    Paging(page): Paging,
    filter: web::Query<StatusQuery>,
    svc: web::Data<Services>,
) -> Reply {
    let page = events::list(&svc, page, filter.status()?).await?;
    let data: Vec<EventView> = page.data.iter().map(EventView::from).collect();
    Ok(HttpResponse::Ok().json(Paged {
        count: page.count,
        start_index: page.start_index,
        end_index: page.end_index,
        is_more: page.is_more,
        data,
    }))
}

#[utoipa::path(get, path = "/api/v1/events/{event_id}", tag = "staff", operation_id = "getEvent", security(("staffBearer" = [])), params(("event_id" = String, Path, description = "the event id")), responses((status = 200, description = "One event and its delivery record", body = EventView), StaffRefusals))]
pub async fn get_event(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    let event = events::get(&svc, &path).await?;
    let event = event.ok_or(StaffError::NotFound("event"))?;
    Ok(HttpResponse::Ok().json(EventView::from(&event)))
}

#[utoipa::path(post, path = "/api/v1/events/{event_id}/resend", tag = "staff", operation_id = "resendEvent", security(("staffBearer" = [])), params(("event_id" = String, Path, description = "the event id")), responses((status = 202, description = "Queued again; operator role", body = EventView), (status = 409, description = "The event feed is off", body = StaffErrorBody), StaffRefusals))]
pub async fn resend_event(
    staff: Caller,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> Reply {
    let target = format!("event:{}", path.chars().take(64).collect::<String>());
    let actor = staff
        .require_operator(&svc, "event.resend", &target)
        .await?;
    let event = events::resend(&svc, &actor, &path).await?;
    Ok(HttpResponse::Accepted().json(EventView::from(&event)))
}

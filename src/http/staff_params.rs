//! Query parameters shared by the staff list endpoints: `count` and `start_index` (Marqeta's
//! pagination), read by the [`Paging`] extractor into a store [`Page`], and optional text filters.

use std::future::{ready, Ready};

use actix_web::{web, FromRequest, HttpRequest};
use serde::Deserialize;

use super::error::StaffError;
use super::staff_edge::query_problem;
use crate::store::Page;

/// The page a list request asks for (`count` defaults to 25, at most [`Page::MAX_COUNT`];
/// `start_index` defaults to 0).
pub struct Paging(pub Page);

/// Read as text so that a bad value is refused in the staff error shape, naming the parameter;
/// documented as the integers it must hold.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 25).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    count: Option<String>,
    /// Zero-based index of the first item (default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    start_index: Option<String>,
}

fn number(name: &str, raw: Option<&str>, default: usize) -> Result<usize, StaffError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map_err(|_| {
            StaffError::InvalidParameter(format!("{name} must be a non-negative integer"))
        }),
    }
}

fn page_of(query: &PageQuery) -> Result<Page, StaffError> {
    let count = number("count", query.count.as_deref(), 25)?;
    if count == 0 || count > Page::MAX_COUNT {
        return Err(StaffError::InvalidParameter(format!(
            "count must be between 1 and {}",
            Page::MAX_COUNT
        )));
    }
    let start_index = number("start_index", query.start_index.as_deref(), 0)?;
    Ok(Page::new(start_index, count))
}

impl FromRequest for Paging {
    type Error = StaffError;
    type Future = Ready<Result<Self, StaffError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let page = web::Query::<PageQuery>::from_query(req.query_string())
            .map_err(|_| StaffError::InvalidParameter(query_problem(req.query_string())))
            .and_then(|query| page_of(&query))
            .map(Paging);
        ready(page)
    }
}

/// A text filter: absent, empty or blank means "no filter"; otherwise trimmed.
pub fn filter_text(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

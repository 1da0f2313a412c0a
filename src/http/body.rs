//! Reads a request body with a hard size limit, checking `Content-Length` first so an oversized
//! body is refused before it is read, and counting bytes as they arrive for chunked bodies.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

#[derive(Debug, PartialEq, Eq)]
pub enum BodyReadError {
    TooLarge { limit: usize },
    Incomplete,
}

pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, BodyReadError> {
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        if length > limit as u64 {
            return Err(BodyReadError::TooLarge { limit });
        }
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyReadError::Incomplete)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyReadError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// True when the request declares JSON (or declares nothing, which we tolerate).
pub fn is_json_or_absent(req: &HttpRequest) -> bool {
    match req.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value
            .to_str()
            .map(|v| {
                let media = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                media == "application/json"
                    || (media.starts_with("application/") && media.ends_with("+json"))
            })
            .unwrap_or(false),
    }
}

//! Reads a request body with a hard size limit, checking `Content-Length` first so an oversized
//! body is refused before it is read, and counting bytes as they arrive for chunked bodies; and
//! bounds the time a client may take to send it ([`bound_body_time`]): actix's
//! `client_request_timeout` covers the request head only, so a client announcing
//! `Content-Length: 1000` and sending 10 bytes would otherwise hold a connection and a handler.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{web, Error, HttpMessage, HttpRequest};
use futures_util::{Stream, StreamExt};

#[derive(Debug, PartialEq, Eq)]
pub enum BodyReadError {
    TooLarge {
        limit: usize,
    },
    Incomplete,
    /// The whole body did not arrive within `server.request_timeout_ms`.
    TimedOut,
}

/// A request body that fails with `TimedOut` once its deadline passes.
struct DeadlinePayload {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired = true;
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request body not received in time",
            )))));
        }
        Poll::Pending
    }
}

/// Middleware: the request body must arrive completely within `limit` of the request reaching the
/// application (the head already had `client_request_timeout`).
pub async fn bound_body_time(
    limit: Duration,
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let inner = req.take_payload();
    let bounded = DeadlinePayload {
        inner,
        deadline: Box::pin(tokio::time::sleep(limit)),
        expired: false,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(bounded),
    });
    next.call(req).await
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
        let chunk = chunk.map_err(|e| match e {
            PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                BodyReadError::TimedOut
            }
            _ => BodyReadError::Incomplete,
        })?;
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

//! `GET /api/openapi.json`: the OpenAPI 3.0 document of the callback API, the staff API and the
//! operations endpoints. The document is hand-written (`openapi.json`, included at build time);
//! the integration test `observability::openapi_*` keeps it true by comparing it with the routes
//! registered in `src/http` in both directions. Callback paths are written under the default
//! prefix and served under the configured `server.prefix`.

use actix_web::{web, HttpResponse};
use serde_json::{Map, Value};

use crate::service::Services;

/// The document as written, callback paths under [`DEFAULT_PREFIX`].
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The callback prefix the document is written with (`config/default.toml`'s `server.prefix`).
pub const DEFAULT_PREFIX: &str = "/issuer/igwapi/v2.0";

/// The document with its callback paths moved under `prefix`.
pub fn document(prefix: &str) -> Value {
    let mut doc: Value = match serde_json::from_str(DOCUMENT) {
        Ok(doc) => doc,
        // A unit test parses DOCUMENT, so this cannot happen in a tested build.
        Err(e) => return serde_json::json!({"error": format!("invalid openapi.json: {e}")}),
    };
    let prefix = prefix.trim_end_matches('/');
    if prefix != DEFAULT_PREFIX {
        if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
            let moved: Map<String, Value> = std::mem::take(paths)
                .into_iter()
                .map(|(path, item)| match path.strip_prefix(DEFAULT_PREFIX) {
                    Some(rest) if rest.starts_with('/') => (format!("{prefix}{rest}"), item),
                    _ => (path, item),
                })
                .collect();
            *paths = moved;
        }
    }
    doc
}

/// Every `(METHOD, path)` the document describes, methods upper-case, sorted.
pub fn operations(doc: &Value) -> Vec<(String, String)> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut out = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.push((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
    }
    out.sort();
    out
}

/// `GET /api/openapi.json` (no authentication: it describes, it reveals no data).
pub async fn serve(svc: web::Data<Services>) -> HttpResponse {
    HttpResponse::Ok().json(document(&svc.settings.server.prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn collect_refs(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => {
                            out.insert(r.clone());
                        }
                        _ => collect_refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_0_and_every_reference_resolves() {
        let doc: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.0."));
        let mut refs = BTreeSet::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
        }
    }

    #[test]
    fn every_operation_has_an_id_and_responses() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        let mut ids = BTreeSet::new();
        for (method, path) in operations(&doc) {
            let op = &doc["paths"][&path][method.to_ascii_lowercase()];
            let id = op["operationId"].as_str();
            assert!(id.is_some(), "{method} {path}: operationId");
            assert!(
                ids.insert(id.unwrap().to_owned()),
                "{method} {path}: duplicate id"
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}: responses"
            );
        }
    }

    #[test]
    fn callback_paths_follow_the_configured_prefix() {
        let doc = document("/tsh/v2");
        let ops = operations(&doc);
        assert!(ops.contains(&("POST".to_owned(), "/tsh/v2/sendOTP".to_owned())));
        assert!(!ops.iter().any(|(_, p)| p.starts_with(DEFAULT_PREFIX)));
        assert!(ops.contains(&("GET".to_owned(), "/api/v1/tokens".to_owned())));
    }
}

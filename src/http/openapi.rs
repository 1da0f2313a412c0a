//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the callback API, the staff API and the
//! operations endpoints, generated from the serde types the handlers parse and answer with
//! (utoipa derives on those types, `#[utoipa::path]` on the staff and operations handlers,
//! `callback_docs` for the callbacks). Two touches after generation, both here: every object our
//! responses carry is closed (`additionalProperties: false`, serde's `flatten` merged into one
//! object so closing stays correct), and the callback paths move under `server.prefix`.
//! Request schemas stay open: the contract says unknown fields are ignored.
//! The integration tests `openapi::*` check that every route is documented and that real
//! responses validate against the document.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use serde_json::{Map, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoResponses, OpenApi};

use super::{callback_docs, health, metrics, staff_actions, staff_events, staff_lineage};
use super::{staff_card_close, staff_reads, staff_reconcile, staff_rules, staff_sync};
use crate::service::Services;

/// The callback prefix the document is written with (`config/default.toml`'s `server.prefix`).
pub const DEFAULT_PREFIX: &str = "/issuer/igwapi/v2.0";

const DESCRIPTION: &str = "Issuer backend for Thales TSH classic tokenization. `callbacks`: the \
TSH issuer callbacks (contract: tsh-issuer-gateway.md), under `server.prefix` (default \
`/issuer/igwapi/v2.0`; this document is served with the configured prefix); operation names are \
matched case-insensitively. `staff`: the issuer staff API, bearer token, JSON snake_case, lists \
`{count, start_index, end_index, is_more, data}`. `operations`: health, metrics, this document.";

#[derive(OpenApi)]
#[openapi(
    info(title = "tsh-issuer", description = DESCRIPTION, license(name = "Apache-2.0")),
    paths(
        callback_docs::check_card_eligibility,
        callback_docs::request_card_digitization,
        callback_docs::send_otp,
        callback_docs::notify_virtual_card_change,
        callback_docs::notify_stand_in_process,
        callback_docs::get_idnv_method_list,
        staff_actions::upsert_card,
        staff_reads::get_card,
        staff_reads::card_tokens,
        staff_reads::list_tokens,
        staff_reads::get_token,
        staff_reads::token_transitions,
        staff_lineage::token_lineage,
        staff_lineage::list_orphans,
        staff_reads::get_enrollment,
        staff_reads::list_decisions,
        staff_reads::export_decisions,
        staff_reads::get_decision,
        staff_rules::status,
        staff_rules::reload,
        staff_rules::shadow_report,
        staff_rules::standins,
        staff_actions::create_transition,
        staff_reads::get_transition,
        staff_sync::list_pending_operations,
        staff_sync::get_token_sync,
        staff_reconcile::start_reconciliation,
        staff_reconcile::list_reconciliations,
        staff_reconcile::get_reconciliation,
        staff_actions::block_card,
        staff_actions::unblock_card,
        staff_actions::replace_card,
        staff_card_close::close_card,
        staff_reads::list_audit,
        staff_events::list_events,
        staff_events::get_event,
        staff_events::resend_event,
        health::live,
        health::ready,
        metrics::scrape,
        serve,
    ),
    components(schemas(crate::contract::ErrorBody, super::error::StaffErrorBody)),
    modifiers(&StaffBearer),
    tags(
        (name = "callbacks", description = "TSH → issuer (contract §3)"),
        (name = "staff", description = "Issuer staff (service-interface.md, Staff API)"),
        (name = "operations", description = "Health, metrics, this document"),
    )
)]
struct ApiDoc;

/// The `staffBearer` security scheme the staff operations name.
struct StaffBearer;

impl utoipa::Modify for StaffBearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("a staff token (role viewer or operator)"))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("staffBearer", SecurityScheme::Http(scheme));
    }
}

fn refusals(
    schema: &str,
    list: &[(&str, &str)],
) -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
    list.iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build();
            let response = ResponseBuilder::new()
                .description(*description)
                .content("application/json", content)
                .build();
            ((*status).to_owned(), RefOr::T(response))
        })
        .collect()
}

/// Every callback's refusals, in the contract's error shape (`responseCode` says which).
pub struct CallbackRefusals;

impl IntoResponses for CallbackRefusals {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        refusals(
            "ErrorBody",
            &[
                (
                    "400",
                    "Refused: bad input (111), unknown card (116), business refusal, …",
                ),
                ("408", "The body was not received in time (111)"),
                ("413", "The body exceeds server.max_body_bytes (111)"),
                ("500", "Internal fault (921); no detail"),
            ],
        )
    }
}

/// What any staff request may be refused with (the staff error shape).
pub struct StaffRefusals;

impl IntoResponses for StaffRefusals {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        refusals(
            "StaffErrorBody",
            &[
                (
                    "400",
                    "A parameter or the body is invalid (named, never echoed)",
                ),
                ("401", "No valid bearer token"),
                ("403", "The token lacks the role"),
                ("404", "No such resource"),
                ("500", "Internal fault; no detail"),
            ],
        )
    }
}

/// The refusals of a staff request with a body.
pub struct StaffBodyRefusals;

impl IntoResponses for StaffBodyRefusals {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        refusals(
            "StaffErrorBody",
            &[
                ("408", "The body was not received in time"),
                ("413", "The body is too large"),
            ],
        )
    }
}

/// The refusals of a staff action that goes through TSH.
pub struct TshRefusals;

impl IntoResponses for TshRefusals {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        refusals(
            "StaffErrorBody",
            &[
                ("409", "Not allowed from the token's or card's state"),
                ("502", "TSH refused or answered badly"),
                ("503", "TSH is not configured"),
                ("504", "TSH did not answer in time"),
            ],
        )
    }
}

/// The generated document (callback paths under [`DEFAULT_PREFIX`]), response objects closed.
fn base_document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|e| {
            // Serializing plain data cannot fail; a unit test builds this document.
            serde_json::json!({"error": format!("openapi document: {e}")})
        });
        close_response_objects(&mut doc);
        doc
    })
}

/// The document with its callback paths moved under `prefix`.
pub fn document(prefix: &str) -> Value {
    let mut doc = base_document().clone();
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

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `GET /api/openapi.json` (no authentication: it describes, it reveals no data).
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", operation_id = "openapi",
    responses((status = 200, description = "This document", body = Object)))]
pub async fn serve(svc: web::Data<Services>) -> HttpResponse {
    HttpResponse::Ok().json(document(&svc.settings.server.prefix))
}

/// The component names `$ref`erenced from `value`, transitively through the components.
fn referenced(value: &Value, schemas: &Map<String, Value>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![value];
    while let Some(v) = pending.pop() {
        match v {
            Value::Object(map) => {
                if let Some(name) = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    if found.insert(name.to_owned()) {
                        if let Some(target) = schemas.get(name) {
                            pending.push(target);
                        }
                    }
                }
                pending.extend(map.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    found
}

/// Every operation's `part` (`responses` or `requestBody`), as one array.
fn operation_parts(doc: &Value, part: &str) -> Value {
    let mut parts = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for item in paths.values() {
            for method in METHODS {
                if let Some(p) = item.get(method).and_then(|op| op.get(part)) {
                    parts.push(p.clone());
                }
            }
        }
    }
    Value::Array(parts)
}

/// Closes every object schema the responses use, inline or a component; components also reached
/// from a request body are left open (a test pins that there are none).
fn close_response_objects(doc: &mut Value) {
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let responses = operation_parts(doc, "responses");
    let requests = operation_parts(doc, "requestBody");
    let names = &referenced(&responses, &schemas) - &referenced(&requests, &schemas);
    for name in names {
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            close(schema, &schemas);
        }
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                if let Some(responses) = item.get_mut(method).and_then(|op| op.get_mut("responses"))
                {
                    close_inline(responses, &schemas);
                }
            }
        }
    }
}

/// Closes the inline schemas under every `schema` key of a responses tree.
fn close_inline(value: &mut Value, schemas: &Map<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "schema" {
                    close(v, schemas);
                } else {
                    close_inline(v, schemas);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| close_inline(v, schemas)),
        _ => {}
    }
}

/// Closes one schema and the inline schemas inside it: an `allOf` of objects (serde's
/// `flatten`) becomes one object first, then an object with properties gets
/// `additionalProperties: false`. Free-form objects (no properties) and maps stay open.
fn close(schema: &mut Value, schemas: &Map<String, Value>) {
    merge_all_of(schema, schemas);
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    if map.contains_key("properties") && !map.contains_key("additionalProperties") {
        map.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        properties.values_mut().for_each(|p| close(p, schemas));
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner @ Value::Object(_)) = map.get_mut(key) {
            close(inner, schemas);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(members)) = map.get_mut(key) {
            members.iter_mut().for_each(|m| close(m, schemas));
        }
    }
}

/// `allOf: [A, B, …]` of object schemas (references resolved) → one object with every property.
fn merge_all_of(schema: &mut Value, schemas: &Map<String, Value>) {
    let Some(parts) = schema.get("allOf").and_then(Value::as_array).cloned() else {
        return;
    };
    let mut properties = Map::new();
    let mut required: BTreeSet<String> = BTreeSet::new();
    for part in &parts {
        let mut part = resolve(part, schemas);
        merge_all_of(&mut part, schemas);
        let Some(props) = part.get("properties").and_then(Value::as_object) else {
            return; // not a plain object: leave the composition alone
        };
        properties.extend(props.clone());
        if let Some(names) = part.get("required").and_then(Value::as_array) {
            required.extend(names.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    map.remove("allOf");
    map.insert("type".to_owned(), Value::from("object"));
    map.insert("properties".to_owned(), Value::Object(properties));
    map.insert(
        "required".to_owned(),
        Value::Array(required.into_iter().map(Value::from).collect()),
    );
}

fn resolve(schema: &Value, schemas: &Map<String, Value>) -> Value {
    match schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        Some(name) => schemas.get(name).cloned().unwrap_or(Value::Null),
        None => schema.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_document_is_openapi_3_1_and_every_reference_resolves() {
        let doc = document(DEFAULT_PREFIX);
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1."),
            "{doc}"
        );
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
        let doc = document(DEFAULT_PREFIX);
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

    #[test]
    fn response_objects_are_closed_and_request_objects_stay_open() {
        let doc = document(DEFAULT_PREFIX);
        let schemas = doc["components"]["schemas"].as_object().unwrap().clone();
        let from_requests = referenced(&operation_parts(&doc, "requestBody"), &schemas);
        let from_responses = referenced(&operation_parts(&doc, "responses"), &schemas);
        assert!(
            from_requests.is_disjoint(&from_responses),
            "shared by requests and responses: {:?}",
            from_requests
                .intersection(&from_responses)
                .collect::<Vec<_>>()
        );
        for name in [
            "TokenView",
            "OperationView",
            "CardView",
            "ErrorBody",
            "StaffErrorBody",
            "EmptyResponse",
        ] {
            assert_eq!(schemas[name]["additionalProperties"], false, "{name}");
        }
        for name in ["CheckEligibilityRequest", "CardInput", "TransitionBody"] {
            assert!(
                schemas[name].get("additionalProperties").is_none(),
                "{name}"
            );
        }
        // serde's flatten (CardView inside UpsertedCard) is merged, then closed.
        let upserted = &schemas["UpsertedCard"];
        assert!(upserted.get("allOf").is_none(), "{upserted}");
        assert!(
            upserted["properties"]["pan_masked"].is_object(),
            "{upserted}"
        );
        assert_eq!(upserted["additionalProperties"], false);
    }
}

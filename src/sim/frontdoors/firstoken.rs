//! Seed 001, Firstoken "How Network Token works": `POST /v1/tokens/enroll`.
//!
//! The seed's request: `transaction_info.type` `enroll_card`, `card.number`,
//! `card.expiration_date`, `bill_to` {`address_1`, `city`, `state`, `postal_code`, `country`}.
//! In Firstoken the card fields are `{{ TOKEN_ID: detokenize }}` references to a permanent token;
//! the simulator resolves them in a tiny dev vault (the seed's own `TOKEN_ID` stands for the dev
//! card 4111111111111111, 12/30) and also takes card values themselves (number; expiry as `MM/YY`,
//! `MMYY`, `MM/YYYY` or `YYYY-MM`); an unknown reference gets the seed's 400 "Invalid Firstoken
//! token reference".
//!
//! Answers (`status` is the seed's word):
//! - **200** `Enrolled`: the issuer approved (green / yellow) and the token was activated;
//! - **409** `Already_enrolled`: this card already has an active Firstoken network token (no issuer call);
//! - **409** `Not_enrolled`, `reason: "network_token_unavailable"`: the issuer refused (eligibility
//!   refusal or red decision), with the issuer's `responseCode` / `levelOfTrust`;
//! - **409** `Not_enrolled`, `reason: "workflow_not_implemented"`: a network other than Visa /
//!   Mastercard (no issuer call);
//! - **400** `Bad_request`: missing required fields (`card.number`, `card.expiration_date`, billing
//!   address `bill_to.address_1` / `city` / `country`), a wrong `transaction_info.type`, a token
//!   reference, or an invalid card number / expiry;
//! - **502** when the issuer cannot be reached.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::{parse_body, text_at, FrontDoors};
use crate::sim::tsp::{CardInput, Network, Outcome, Profile};

pub const REQUESTOR: &str = "firstoken";

/// The simulator's dev vault: the seed's own sample references `TOKEN_ID`, which stands for the
/// public dev card 4111111111111111 (12/30), so the seed's literal request can be replayed.
const DEV_VAULT: &[(&str, &str, &str)] = &[("TOKEN_ID", "4111111111111111", "12/30")];

#[derive(Clone, Copy)]
enum VaultField {
    Number,
    Expiration,
}

/// A literal value passes through; a `{{ ID: detokenize }}` reference is looked up in the dev
/// vault (None when unknown or malformed).
fn detokenize(value: &str, field: VaultField) -> Option<&str> {
    let trimmed = value.trim();
    let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|v| v.strip_suffix("}}"))
    else {
        return (!value.contains("{{") && !value.contains("}}")).then_some(value);
    };
    let (id, verb) = inner.split_once(':')?;
    if verb.trim() != "detokenize" {
        return None;
    }
    DEV_VAULT
        .iter()
        .find(|(known, _, _)| *known == id.trim())
        .map(|(_, number, exp)| match field {
            VaultField::Number => *number,
            VaultField::Expiration => *exp,
        })
}

fn profile() -> Profile {
    Profile {
        requestor: REQUESTOR,
        wallet_provider_id: "FIRSTOKEN",
        token_requestor_id: "40010077001",
        token_requestor_name: "Firstoken (tsh-sim)",
        merchant_id: None,
        account_id: None,
        capture_method: "ON_FILE",
    }
}

fn bad_request(message: &str, fields: &[&str]) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({
        "status": "Bad_request",
        "message": message,
        "fields": fields,
    }))
}

/// `MM/YY`, `MMYY`, `MM/YYYY`, `YYYY-MM` → `MMYY`.
fn expiry_mmyy(raw: &str) -> Option<String> {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let (month, year) = if let Some((y, m)) = raw.split_once('-') {
        (m, y)
    } else if let Some((m, y)) = raw.split_once('/') {
        (m, y)
    } else if raw.len() == 4 {
        raw.split_at(2)
    } else {
        return None;
    };
    if !digits(month) || !digits(year) || month.len() != 2 || !(year.len() == 2 || year.len() == 4)
    {
        return None;
    }
    Some(format!("{month}{}", &year[year.len() - 2..]))
}

pub async fn enroll(doors: web::Data<FrontDoors>, body: web::Bytes) -> HttpResponse {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(message) => return bad_request(&message, &[]),
    };
    let required = [
        "transaction_info.type",
        "card.number",
        "card.expiration_date",
        "bill_to.address_1",
        "bill_to.city",
        "bill_to.country",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|path| text_at(&body, path).is_none())
        .collect();
    if !missing.is_empty() {
        return bad_request("Missing required fields", &missing);
    }
    if text_at(&body, "transaction_info.type") != Some("enroll_card") {
        return bad_request(
            "transaction_info.type must be enroll_card",
            &["transaction_info.type"],
        );
    }
    let raw_number = text_at(&body, "card.number").unwrap_or_default();
    let raw_expiration = text_at(&body, "card.expiration_date").unwrap_or_default();
    // `{{ TOKEN_ID: detokenize }}` references resolve in the simulator's dev vault.
    let (Some(number), Some(expiration)) = (
        detokenize(raw_number, VaultField::Number),
        detokenize(raw_expiration, VaultField::Expiration),
    ) else {
        return bad_request(
            "Invalid Firstoken token reference: the token does not exist in the simulator's dev vault (it knows TOKEN_ID, the seed's own sample); send card.number and card.expiration_date themselves",
            &["card.number", "card.expiration_date"],
        );
    };
    let Some(exp) = expiry_mmyy(expiration) else {
        return bad_request(
            "card.expiration_date must be MM/YY, MMYY, MM/YYYY or YYYY-MM",
            &["card.expiration_date"],
        );
    };
    let card = match CardInput::new(number, &exp, None) {
        Ok(c) => c,
        Err(problem) => {
            let field = if problem.starts_with("expiry") {
                "card.expiration_date"
            } else {
                "card.number"
            };
            return bad_request(&problem, &[field]);
        }
    };

    if card.network() == Network::Other {
        doors.log(
            "firstoken",
            number,
            "→ 409 Not_enrolled (workflow not implemented)",
        );
        return HttpResponse::Conflict().json(json!({
            "status": "Not_enrolled",
            "reason": "workflow_not_implemented",
            "message": "Network token workflow not implemented for this card type",
        }));
    }
    if let Some(existing) = doors.tsp.find_active(REQUESTOR, &card.pan, |_| true) {
        doors.log("firstoken", number, "→ 409 Already_enrolled");
        return HttpResponse::Conflict().json(json!({
            "status": "Already_enrolled",
            "message": "This token was previously enrolled",
            "network_token": network_token(&existing),
        }));
    }
    match doors.tsp.provision(&card, &profile(), None).await {
        Ok(outcome) => {
            doors.log_outcome("firstoken", number, &outcome);
            match outcome {
                Outcome::Provisioned(token) => HttpResponse::Ok().json(json!({
                    "status": "Enrolled",
                    "message": "Network token successfully created",
                    "network_token": network_token(&token),
                    "correlation_id": token.correlation_id,
                })),
                Outcome::Refused {
                    response_code,
                    level_of_trust,
                    message,
                    correlation_id,
                    ..
                } => HttpResponse::Conflict().json(json!({
                    "status": "Not_enrolled",
                    "reason": "network_token_unavailable",
                    "message": "Network token is unavailable for this card",
                    "issuer": {
                        "response_code": response_code,
                        "level_of_trust": level_of_trust,
                        "detail": message,
                    },
                    "correlation_id": correlation_id,
                })),
            }
        }
        Err(e) => {
            doors.log("firstoken", number, &format!("→ 502 {e}"));
            HttpResponse::BadGateway().json(json!({"status": "Error", "message": e.to_string()}))
        }
    }
}

fn network_token(t: &crate::sim::tsp::TokenRecord) -> Value {
    json!({
        "id": t.id,
        "state": t.state,
        "network": t.network.name(),
        "token_reference_id": t.token_reference_id,
        "last4": t.token_last4(),
        "card_last4": t.card_last4,
    })
}

#[cfg(test)]
mod tests {
    use super::expiry_mmyy;

    #[test]
    fn expiry_formats() {
        assert_eq!(expiry_mmyy("12/30").as_deref(), Some("1230"));
        assert_eq!(expiry_mmyy("1230").as_deref(), Some("1230"));
        assert_eq!(expiry_mmyy("12/2030").as_deref(), Some("1230"));
        assert_eq!(expiry_mmyy("2030-12").as_deref(), Some("1230"));
        assert_eq!(expiry_mmyy("12-2030"), None);
        assert_eq!(expiry_mmyy("garbage"), None);
    }
}

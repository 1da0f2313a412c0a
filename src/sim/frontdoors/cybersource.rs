//! Seed 003, Cybersource Token Management Service: "Provision a Network Token for a Card Number".
//!
//! `POST /tms/v2/tokenized-cards` with `source: "ONFILE"` and `card.number`,
//! `card.expirationMonth`, `card.expirationYear` (the seed's required fields; `card.securityCode`
//! optional) runs one TSP session against the issuer and answers:
//! - **200** the seed's tokenized-card object on green / yellow: `id`, `object: "tokenizedCard"`,
//!   `state: "ACTIVE"`, `enrollmentId`, `tokenReferenceId`, `paymentAccountReference`, the masked
//!   token `number` (`489537XXXXXX1624`), the token's `expirationMonth` / `expirationYear`, `type`,
//!   `card` {`suffix`, `expirationMonth`, `expirationYear`}, `source: "ONFILE"`, `_links.self`;
//! - **400** `{"errors":[{"type":"declined", …}], "reason": …}` when the issuer refuses: `reason`
//!   in Cybersource's tokenized-card reason vocabulary (`CARD_NOT_ELIGIBLE`, `CARD_NOT_ALLOWED`,
//!   `CARD_VERIFICATION_FAILED`, `DECLINED`);
//! - **400** `{"errors":[{"type":"invalidRequest", "details":[{"name", "location":"body"}]}]}` for a
//!   missing or invalid field (the seed's own redacted sample number `X622943123116478` stands for
//!   the dev card 4111111111111111, so the seed's literal request works);
//! - **502** `type: "serverError"`, `reason: "SERVICE_UNAVAILABLE"` when the issuer cannot be reached.
//!
//! The unmasked token (`Accept: application/jose`, MLE-encrypted) is not simulated: the number is
//! always masked. `GET /tms/v2/tokenized-cards/{id}` answers a token made here, or 404.

/// The seed's redacted sample card number, and the dev card it stands for in this sandbox.
const SEED_SAMPLE_NUMBER: &str = "X622943123116478";
const DEV_CARD: &str = "4111111111111111";

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::{parse_body, text_at, FrontDoors};
use crate::sim::tsp::{CardInput, Outcome, Profile, TokenRecord};

pub const REQUESTOR: &str = "cybersource";

fn profile() -> Profile {
    Profile {
        requestor: REQUESTOR,
        wallet_provider_id: "CYBERSOURCE_TMS",
        token_requestor_id: "40010030273",
        token_requestor_name: "Cybersource TMS (tsh-sim)",
        merchant_id: None,
        account_id: None,
        capture_method: "ON_FILE",
    }
}

fn invalid(message: &str, field: Option<&str>) -> HttpResponse {
    let mut error = json!({"type": "invalidRequest", "message": message});
    if let Some(name) = field {
        error["details"] = json!([{"name": name, "location": "body"}]);
    }
    HttpResponse::BadRequest().json(json!({"errors": [error]}))
}

/// `card.expirationMonth` + `card.expirationYear` → `MMYY`.
fn expiry(body: &Value) -> Result<String, Box<HttpResponse>> {
    let month = text_at(body, "card.expirationMonth").ok_or_else(|| {
        Box::new(invalid(
            "Declined - The request is missing one or more fields",
            Some("card.expirationMonth"),
        ))
    })?;
    let year = text_at(body, "card.expirationYear").ok_or_else(|| {
        Box::new(invalid(
            "Declined - The request is missing one or more fields",
            Some("card.expirationYear"),
        ))
    })?;
    let month: u32 = month
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| {
            Box::new(invalid(
                "Declined - One or more fields in the request contains invalid data",
                Some("card.expirationMonth"),
            ))
        })?;
    let year: u32 = year
        .parse()
        .ok()
        .filter(|_| year.len() == 4)
        .ok_or_else(|| {
            Box::new(invalid(
                "Declined - One or more fields in the request contains invalid data",
                Some("card.expirationYear"),
            ))
        })?;
    Ok(format!("{month:02}{:02}", year % 100))
}

fn tokenized_card(t: &TokenRecord) -> Value {
    let (card_month, card_year) = t.card_exp.split_at(2);
    let (token_month, token_year) = t.token_exp.split_at(2);
    json!({
        "_links": {"self": {"href": format!("/tms/v2/tokenized-cards/{}", t.id)}},
        "id": t.id,
        "object": "tokenizedCard",
        "state": t.state,
        "enrollmentId": t.enrollment_id,
        "tokenReferenceId": t.token_reference_id,
        "paymentAccountReference": t.par,
        "number": t.masked_token(),
        "expirationMonth": token_month,
        "expirationYear": format!("20{token_year}"),
        "type": t.network.name(),
        "card": {
            "suffix": t.card_last4,
            "expirationMonth": card_month,
            "expirationYear": format!("20{card_year}"),
        },
        "source": "ONFILE",
    })
}

/// The tokenized-card reason for an issuer refusal.
fn reason(outcome_code: Option<i64>, red: bool) -> &'static str {
    match (red, outcome_code) {
        (true, _) => "DECLINED",
        (false, Some(159)) => "CARD_NOT_ALLOWED",
        (false, Some(166)) => "CARD_VERIFICATION_FAILED",
        _ => "CARD_NOT_ELIGIBLE",
    }
}

pub async fn create(doors: web::Data<FrontDoors>, body: web::Bytes) -> HttpResponse {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(message) => return invalid(&message, None),
    };
    match text_at(&body, "source") {
        Some("ONFILE") => {}
        Some(_) => {
            return invalid(
                "Declined - One or more fields in the request contains invalid data (the simulator provisions source ONFILE only)",
                Some("source"),
            )
        }
        None => {
            return invalid(
                "Declined - The request is missing one or more fields",
                Some("source"),
            )
        }
    }
    let Some(number) = text_at(&body, "card.number") else {
        return invalid(
            "Declined - The request is missing one or more fields",
            Some("card.number"),
        );
    };
    // The seed's sample number is redacted (`X622943123116478`); the sandbox lets it stand for the
    // public dev card, so the seed's literal request can be replayed.
    let number = if number == SEED_SAMPLE_NUMBER {
        DEV_CARD
    } else {
        number
    };
    let exp = match expiry(&body) {
        Ok(e) => e,
        Err(response) => return *response,
    };
    let card = match CardInput::new(number, &exp, text_at(&body, "card.securityCode")) {
        Ok(c) => c,
        Err(problem) => {
            doors.log("cybersource", number, &format!("→ 400 {problem}"));
            let field = if problem.starts_with("security") {
                "card.securityCode"
            } else {
                "card.number"
            };
            return invalid(
                "Declined - One or more fields in the request contains invalid data",
                Some(field),
            );
        }
    };
    match doors.tsp.provision(&card, &profile(), None).await {
        Ok(outcome) => {
            doors.log_outcome("cybersource", number, &outcome);
            match outcome {
                Outcome::Provisioned(token) => HttpResponse::Ok().json(tokenized_card(&token)),
                Outcome::Refused {
                    response_code,
                    level_of_trust,
                    message,
                    ..
                } => HttpResponse::BadRequest().json(json!({
                    "errors": [{
                        "type": "declined",
                        "message": format!("Network token provision failed: {message}"),
                    }],
                    "reason": reason(response_code, level_of_trust.is_some()),
                })),
            }
        }
        Err(e) => {
            doors.log("cybersource", number, &format!("→ 502 {e}"));
            HttpResponse::BadGateway().json(json!({
                "errors": [{"type": "serverError", "message": e.to_string()}],
                "reason": "SERVICE_UNAVAILABLE",
            }))
        }
    }
}

pub async fn retrieve(doors: web::Data<FrontDoors>, id: web::Path<String>) -> HttpResponse {
    match doors.tsp.token_by_id(REQUESTOR, &id) {
        Some(token) => HttpResponse::Ok().json(tokenized_card(&token)),
        None => HttpResponse::NotFound().json(json!({
            "errors": [{"type": "notFound", "message": "Token not found."}]
        })),
    }
}

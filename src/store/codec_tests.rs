//! Round trips of every compact record type (every optional field set, and none), old JSON values
//! still read, unknown layouts refused, and the compact layouts pinned byte for byte.

use super::{decode, encode, Stored};
use crate::domain::decision::{DecisionSummary, LevelOfTrust};
use crate::domain::lineage::{OnOriginalDeath, OriginalDeath};
use crate::domain::token::{TokenError, TokenNumberInfo, TokenRequestorInfo};
use crate::domain::{
    CardRecord, CardStatus, DecidedBy, Expiry, OriginalToken, TokenRecord, TokenState, Transition,
};
use crate::rules::{Stage, TraceEntry};

const T: &str = "2026-01-02T03:04:05Z";

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

fn full_token(trace: bool) -> TokenRecord {
    TokenRecord {
        virtual_card_id: "V-1".into(),
        issuer_card_ref_id: "ICR-1".into(),
        state: TokenState::Suspended,
        wallet_provider_id: some("APPLE"),
        token_requestor: Some(TokenRequestorInfo {
            id: some("40010030273"),
            name: some("APPLE_PAY"),
            wallet_id: some("W"),
            merchant_id: some("M"),
        }),
        capture_method: some("BANK_APP"),
        token_storage_id: some("DEV"),
        wallet_card_ref_id: some("WCR"),
        wallet_virtual_card_id: some("WVC"),
        is_primary: Some(false),
        device_binding_reference: some("DBR"),
        token_number: Some(TokenNumberInfo {
            token_fingerprint: "fp".into(),
            token_masked: "489537******1234".into(),
            token_last4: "1234".into(),
        }),
        token_reference_id: some("DNITHE1"),
        correlation_id: some("c-1"),
        decision: Some(DecisionSummary {
            decision_id: "0000000000000007".into(),
            level_of_trust: LevelOfTrust::Yellow,
            decided_by: DecidedBy::Network,
            reason: "why".into(),
            rules: if trace {
                vec![TraceEntry {
                    rule_id: "r1".into(),
                    stage: Stage::Adjust,
                    matched: true,
                    effect: "set yellow".into(),
                    explanation: "because".into(),
                }]
            } else {
                Vec::new()
            },
            created_time: T.into(),
        }),
        original_token: Some(OriginalToken {
            token_fingerprint: some("ofp"),
            token_masked: some("489537******9999"),
            token_last4: some("9999"),
            token_requestor_id: some("TR"),
            token_reference_id: some("DNITHE0"),
            assurance_level: some("high"),
        }),
        original_virtual_card_id: some("V-0"),
        original_death: Some(OriginalDeath {
            original_virtual_card_id: "V-0".into(),
            original_state: TokenState::Deleted,
            policy: OnOriginalDeath::Flag,
            reason: "original deleted".into(),
            correlation_id: "c-0".into(),
            created_time: T.into(),
        }),
        last_error: Some(TokenError {
            error_code: -3,
            action: "ACTIVATE".into(),
            correlation_id: "c-2".into(),
            created_time: T.into(),
        }),
        activated_time: some(T),
        created_time: T.into(),
        last_modified_time: T.into(),
    }
}

fn bare_token() -> TokenRecord {
    TokenRecord {
        virtual_card_id: "V-2".into(),
        issuer_card_ref_id: "ICR-2".into(),
        state: TokenState::Requested,
        wallet_provider_id: None,
        token_requestor: None,
        capture_method: None,
        token_storage_id: None,
        wallet_card_ref_id: None,
        wallet_virtual_card_id: None,
        is_primary: None,
        device_binding_reference: None,
        token_number: None,
        token_reference_id: None,
        correlation_id: None,
        decision: None,
        original_token: None,
        original_virtual_card_id: None,
        original_death: None,
        last_error: None,
        activated_time: None,
        created_time: T.into(),
        last_modified_time: T.into(),
    }
}

fn card(contact: bool) -> CardRecord {
    CardRecord {
        issuer_card_ref_id: "ICR-1".into(),
        pan_fingerprint: "pfp".into(),
        pan_masked: "411111******1111".into(),
        bin: "411111".into(),
        last4: "1111".into(),
        exp: Expiry::parse_mmyy("1230").unwrap(),
        status: CardStatus::Active,
        product_id: contact.then(|| "P".to_owned()),
        cardholder_name: contact.then(|| "A B".to_owned()),
        phone: contact.then(|| "+33612345678".to_owned()),
        email: contact.then(|| "a@example.com".to_owned()),
        created_time: T.into(),
        last_modified_time: T.into(),
    }
}

fn transition(full: bool) -> Transition {
    Transition {
        virtual_card_id: "V-1".into(),
        from_state: full.then_some(TokenState::Active),
        state: TokenState::Suspended,
        transition_type: "state.suspended".into(),
        action: "SUSPEND".into(),
        channel: "API".into(),
        source: full.then(|| "staff".to_owned()),
        reason_code: full.then(|| "15".to_owned()),
        reason: full.then(|| "lost".to_owned()),
        correlation_id: "c-1".into(),
        created_time: T.into(),
    }
}

fn round_trip<T: Stored + PartialEq + std::fmt::Debug>(case: &str, value: &T) {
    let bytes = encode(value).unwrap_or_else(|e| panic!("{case}: encode: {e}"));
    assert_eq!(Some(bytes[0]), T::COMPACT_TAG, "{case}: tagged compact");
    let back: T = decode(&bytes).unwrap_or_else(|e| panic!("{case}: decode: {e}"));
    assert_eq!(&back, value, "{case}");
    let json = serde_json::to_vec(value).unwrap();
    let from_json: T = decode(&json).unwrap_or_else(|e| panic!("{case}: JSON value: {e}"));
    assert_eq!(
        &from_json, value,
        "{case}: a JSON value (older store) still reads"
    );
    assert!(bytes.len() <= json.len(), "{case}: compact is not larger");
}

#[test]
fn every_compact_record_type_round_trips_and_old_json_values_still_read() {
    round_trip("token, every field, with a trace", &full_token(true));
    round_trip("token, every field, no trace", &full_token(false));
    round_trip("token, no optional field", &bare_token());
    round_trip("card with contact data", &card(true));
    round_trip("card without", &card(false));
    round_trip("transition, every field", &transition(true));
    round_trip("transition, no optional field", &transition(false));
    round_trip("id list", &vec!["V-1".to_owned(), "V-22".to_owned()]);
    round_trip("empty id list", &Vec::<String>::new());
}

#[test]
fn json_still_leaves_an_empty_trace_out() {
    let json = serde_json::to_value(full_token(false)).unwrap();
    assert!(json["decision"].get("rules").is_none(), "{json}");
}

#[test]
fn an_unknown_layout_or_trailing_bytes_are_refused_not_misread() {
    let mut bytes = encode(&bare_token()).unwrap();
    bytes[0] = 0xFE;
    let err = decode::<TokenRecord>(&bytes).unwrap_err();
    assert!(err.contains("0xFE"), "{err}");
    let mut bytes = encode(&bare_token()).unwrap();
    bytes.push(0);
    assert!(decode::<TokenRecord>(&bytes).is_err());
    let card_bytes = encode(&card(false)).unwrap();
    assert!(
        decode::<TokenRecord>(&card_bytes).is_err(),
        "a card is not read as a token"
    );
}

/// Changing a compact type's fields changes its stored layout: records already on disk would no
/// longer read. If this fails, give the type a new tag in `sled_codec.rs` and keep decoding the
/// old one (or document an export / import), then update the bytes here.
#[test]
fn layouts_are_pinned() {
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("token", encode(&full_token(true)).unwrap(), TOKEN_V1),
        ("card", encode(&card(true)).unwrap(), CARD_V1),
        (
            "transition",
            encode(&transition(true)).unwrap(),
            TRANSITION_V1,
        ),
    ];
    let changed: Vec<String> = cases
        .iter()
        .filter_map(|(case, bytes, pinned)| {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            (hex != *pinned).then(|| format!("{case}: {hex}"))
        })
        .collect();
    assert!(
        changed.is_empty(),
        "compact layouts changed (see this test's doc):\n{}",
        changed.join("\n")
    );
}

const TOKEN_V1: &str =
    "c203562d31054943522d310201054150504c4501010b343030313030333032373301094150504c455f504159\
    01015701014d010842414e4b5f41505001034445560103574352010357564301000103444252010266701034\
    38393533372a2a2a2a2a2a3132333404313233340107444e49544845310103632d3101103030303030303030\
    30303030303030370101037768790102723101010a7365742079656c6c6f7707626563617573651432303236\
    2d30312d30325430333a30343a30355a0101036f667001103438393533372a2a2a2a2a2a3939393901043939\
    3939010254520107444e49544845300104686967680103562d300103562d300301106f726967696e616c2064\
    656c6574656403632d3014323032362d30312d30325430333a30343a30355a01050841435449564154450363\
    2d3214323032362d30312d30325430333a30343a30355a0114323032362d30312d30325430333a30343a3035\
    5a14323032362d30312d30325430333a30343a30355a14323032362d30312d30325430333a30343a30355a";
const CARD_V1: &str =
    "c1054943522d3103706670103431313131312a2a2a2a2a2a3131313106343131313131043131313104313233\
    30064143544956450101500103412042010c2b3333363132333435363738010d61406578616d706c652e636f\
    6d14323032362d30312d30325430333a30343a30355a14323032362d30312d30325430333a30343a30355a";
const TRANSITION_V1: &str =
    "c303562d310101020f73746174652e73757370656e6465640753555350454e44034150490105737461666601\
    02313501046c6f737403632d3114323032362d30312d30325430333a30343a30355a";

/// A store written by an older build holds JSON values: they read through the normal paths, and
/// a rewrite stores them compact.
#[test]
fn json_records_of_an_older_store_read_and_become_compact_when_rewritten() {
    use super::super::{SledBackend, TOKENS, TOKENS_BY_OWN_REF};
    use crate::store::engine::{Engine, ListIndex};
    let dir = tempfile::tempdir().unwrap();
    let backend = SledBackend::open(dir.path(), crate::store::DEFAULT_CACHE_BYTES).unwrap();
    let token = full_token(false);
    let vcid = token.virtual_card_id.as_bytes();
    Engine::transact(&backend, &|tx| tx.put_token(&token)).unwrap();
    // As an older build left them: the token and its lineage id list in JSON.
    let json = serde_json::to_vec(&token).unwrap();
    backend.trees[TOKENS].insert(vcid, json).unwrap();
    backend.trees[TOKENS_BY_OWN_REF]
        .insert("DNITHE1", &b"[\"V-1\"]"[..])
        .unwrap();

    assert_eq!(Engine::token(&backend, "V-1").unwrap(), Some(token.clone()));
    assert_eq!(
        backend
            .list_index(ListIndex::OwnReference, "DNITHE1")
            .unwrap(),
        vec!["V-1".to_owned()]
    );

    let mut moved = token.clone();
    moved.state = TokenState::Active;
    Engine::transact(&backend, &|tx| tx.put_token(&moved)).unwrap();
    let stored = backend.trees[TOKENS].get(vcid).unwrap().unwrap();
    assert_eq!(
        Some(stored[0]),
        TokenRecord::COMPACT_TAG,
        "rewritten compact"
    );
    assert_eq!(Engine::token(&backend, "V-1").unwrap(), Some(moved));
}

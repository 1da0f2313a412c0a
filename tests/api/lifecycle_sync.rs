//! Keeping tokens in step with TSH (issue 11), against the simulator's TSH in process: reordered
//! SUSPEND / RESUME deliveries end in TSH's state; without a TSH the ordering rule decides and the
//! doubt is recorded; a TSH that stays down ends the check after bounded attempts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tsh_issuer::sim::gateway::{self, GatewayState};
use tsh_issuer::sim::tsh::{self, TshState};

use crate::helpers::*;
use crate::notifications::{card_ref, notification};

/// The simulator's TSH on a free loopback port (notifications go to the service once known).
pub fn start_sim_tsh() -> (String, Arc<TshState>) {
    let state = TshState::new(tsh::IssuerTarget::default(), None, false);
    let data = actix_web::web::Data::from(state.clone());
    let running = gateway::start_with(
        "127.0.0.1:0".parse().unwrap(),
        GatewayState::new(false),
        move |cfg| tsh::configure(cfg, data.clone()),
    )
    .unwrap();
    let url = format!("{}{}", running.base_url(), tsh::TSH_PREFIX);
    actix_web::rt::spawn(running.server);
    (url, state)
}

/// Fast background rounds so checks settle within a test.
pub const FAST_SYNC: [(&str, &str); 2] = [
    ("lifecycle.poll_interval_ms", "50"),
    ("lifecycle.check_backoff_initial_ms", "10"),
];

pub struct SyncSetup {
    pub app: TestApp,
    pub tsh: Arc<TshState>,
    pub card: String,
}

pub async fn with_sim_tsh(extra: &[(&str, &str)]) -> SyncSetup {
    let (url, tsh_state) = start_sim_tsh();
    let mut settings = vec![("tsh.base_url", url.as_str())];
    settings.extend_from_slice(&FAST_SYNC);
    settings.extend_from_slice(extra);
    let app = spawn_app_with(&settings).await;
    tsh_state.set_target(tsh::IssuerTarget {
        url: app.address.clone(),
        ..tsh_state.target()
    });
    let card = card_ref(&app, PAN_FULL).await;
    SyncSetup {
        app,
        tsh: tsh_state,
        card,
    }
}

impl SyncSetup {
    pub async fn deliver(&self, vcid: &str, action: &str) {
        let reply = self
            .app
            .call(
                "notifyVirtualCardChange",
                &cid(&format!("wallet-{action}")),
                &notification(&self.card, vcid, action),
            )
            .await;
        assert_eq!(reply.status, 200, "{action}: {:?}", reply.body);
    }

    pub async fn sync_of(&self, vcid: &str) -> Value {
        let reply = self
            .app
            .staff_get(&format!("/api/v1/tokens/{vcid}/sync"))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body
    }

    /// Waits until no notification of the token is held any more; returns its sync record.
    pub async fn settled(&self, vcid: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let sync = self.sync_of(vcid).await;
            if sync["check"].is_null() {
                return sync;
            }
            assert!(Instant::now() < deadline, "still held: {sync:#}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn state_of(&self, vcid: &str) -> String {
        let reply = self.app.staff_get(&format!("/api/v1/tokens/{vcid}")).await;
        reply.body["state"].as_str().unwrap_or_default().to_owned()
    }

    pub async fn transitions(&self, vcid: &str) -> Vec<Value> {
        let reply = self
            .app
            .staff_get(&format!("/api/v1/tokens/{vcid}/transitions"))
            .await;
        reply.body["data"].as_array().cloned().unwrap_or_default()
    }
}

#[actix_web::test]
async fn resume_and_suspend_delivered_in_the_wrong_order_end_in_tsh_state() {
    let s = with_sim_tsh(&[]).await;
    // True order: ACTIVATE, SUSPEND, RESUME (TSH: ACTIVE). Delivered: ACTIVATE, RESUME, SUSPEND.
    s.tsh
        .register(&s.card, "VC-sync-ro", "ACTIVE", None)
        .unwrap();
    s.deliver("VC-sync-ro", "ACTIVATE").await;
    s.deliver("VC-sync-ro", "RESUME").await;
    s.deliver("VC-sync-ro", "SUSPEND").await;
    let sync = s.settled("VC-sync-ro").await;
    assert_eq!(s.state_of("VC-sync-ro").await, "ACTIVE", "{sync:#}");
    assert_eq!(sync["last_check"]["tsh_state"], "ACTIVE", "{sync:#}");
    // Only the activation is in the history: the held messages changed nothing.
    let history = s.transitions("VC-sync-ro").await;
    assert_eq!(history.len(), 1, "{history:#?}");

    // The enrolment-less notifications were still recorded with their outcome.
    let reply = s.app.staff_get("/api/v1/tokens/VC-sync-ro").await;
    assert_eq!(reply.body["state"], "ACTIVE");
}

#[actix_web::test]
async fn a_suspend_just_after_a_resume_takes_effect_when_tsh_confirms_it() {
    let s = with_sim_tsh(&[]).await;
    // True and delivered order: ACTIVATE, SUSPEND, RESUME, SUSPEND (TSH: SUSPENDED).
    s.tsh
        .register(&s.card, "VC-sync-sus", "SUSPENDED", None)
        .unwrap();
    for action in ["ACTIVATE", "SUSPEND", "RESUME", "SUSPEND"] {
        s.deliver("VC-sync-sus", action).await;
    }
    let sync = s.settled("VC-sync-sus").await;
    assert_eq!(s.state_of("VC-sync-sus").await, "SUSPENDED", "{sync:#}");
    let history = s.transitions("VC-sync-sus").await;
    let last = history.last().unwrap();
    assert_eq!(last["state"], "SUSPENDED");
    assert_eq!(last["channel"], "SYSTEM", "{last}");
    assert_eq!(last["source"], "reconciliation", "{last}");
    assert_eq!(last["action"], "STALE_CHECK");
    assert_eq!(history.len(), 4, "{history:#?}");
}

#[actix_web::test]
async fn an_activate_on_a_suspended_token_is_checked_and_the_token_takes_tsh_state() {
    let s = with_sim_tsh(&[]).await;
    s.tsh
        .register(&s.card, "VC-sync-act", "ACTIVE", None)
        .unwrap();
    s.deliver("VC-sync-act", "ACTIVATE").await;
    s.deliver("VC-sync-act", "SUSPEND").await;
    // TSH says ACTIVE (e.g. a RESUME we never received): the ACTIVATE is not stale after all.
    s.deliver("VC-sync-act", "ACTIVATE").await;
    let sync = s.settled("VC-sync-act").await;
    assert_eq!(
        sync["last_check"]["held"][0]["suspicion"],
        "activate_while_suspended"
    );
    assert_eq!(s.state_of("VC-sync-act").await, "ACTIVE");
}

#[actix_web::test]
async fn without_tsh_the_ordering_rule_decides_and_the_doubt_is_recorded() {
    let app = spawn_app_with(&[("tsh.base_url", "")]).await;
    let card = card_ref(&app, PAN_FULL).await;
    for action in ["ACTIVATE", "RESUME", "SUSPEND"] {
        app.call(
            "notifyVirtualCardChange",
            &cid("no-tsh"),
            &notification(&card, "VC-sync-none", action),
        )
        .await;
    }
    let token = app.staff_get("/api/v1/tokens/VC-sync-none").await;
    assert_eq!(token.body["state"], "SUSPENDED", "today's rule, unchecked");
    let sync = app.staff_get("/api/v1/tokens/VC-sync-none/sync").await;
    let doubts: Vec<(&str, &str)> = sync.body["ambiguities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["suspicion"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        doubts,
        [
            ("resume_while_active", "no_change"),
            ("suspend_just_after_resume", "applied")
        ],
        "{:#}",
        sync.body
    );
    assert!(sync.body["check"].is_null());
}

#[actix_web::test]
async fn a_tsh_that_stays_down_ends_the_check_after_bounded_attempts() {
    // A port nothing listens on: every getTokenInfo fails fast.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/gtep/igwapi/v2.0", closed.local_addr().unwrap());
    drop(closed);
    let mut settings = vec![
        ("tsh.base_url", url.as_str()),
        ("lifecycle.check_max_attempts", "2"),
    ];
    settings.extend_from_slice(&FAST_SYNC);
    let app = spawn_app_with(&settings).await;
    let card = card_ref(&app, PAN_FULL).await;
    for action in ["ACTIVATE", "RESUME", "SUSPEND"] {
        app.call(
            "notifyVirtualCardChange",
            &cid("tsh-down"),
            &notification(&card, "VC-sync-down", action),
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let sync = loop {
        let sync = app.staff_get("/api/v1/tokens/VC-sync-down/sync").await.body;
        if sync["check"].is_null() && !sync["last_check"].is_null() {
            break sync;
        }
        assert!(Instant::now() < deadline, "check never ended: {sync:#}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(sync["last_check"]["tsh_state"].is_null(), "{sync:#}");
    let why = sync["ambiguities"][0]["why"].as_str().unwrap();
    assert!(why.contains("unreachable"), "{why}");
    let token = app.staff_get("/api/v1/tokens/VC-sync-down").await;
    assert_eq!(
        token.body["state"], "SUSPENDED",
        "the ordering rule decided"
    );
}

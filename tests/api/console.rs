//! The staff console over plain HTTP: sign-in (cookie flags, wrong token, rate limit), session
//! expiry, tampered cookies, CSRF refusal, sign-out, the CSP header, and hostile search text.
//! [`Browser`] keeps cookies and does not follow redirects, so every 303 is asserted.

use std::collections::BTreeMap;

use crate::helpers::*;

/// A minimal browser: cookie jar, no redirects followed.
pub struct Browser {
    pub address: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The value of the first `name="csrf"` hidden field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in:\n{}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Browser {
    pub fn new(address: &str) -> Browser {
        Browser {
            address: address.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let page = Page {
            status,
            headers,
            body,
        };
        for set in page.set_cookies() {
            let pair = set.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                let cleared = value.is_empty() || set.contains("Max-Age=0");
                if cleared {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.address))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_encode(fields))
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    /// Opens the sign-in page and submits `token`.
    pub async fn sign_in(&mut self, token: &str) -> Page {
        let form = self.get("/console/login").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.csrf();
        self.post("/console/login", &[("token", token), ("csrf", &csrf)])
            .await
    }

    /// Signs in and asserts it worked.
    pub async fn signed_in(address: &str, token: &str) -> Browser {
        let mut browser = Browser::new(address);
        let reply = browser.sign_in(token).await;
        assert_eq!(reply.status, 303, "{}", reply.body);
        assert_eq!(reply.location(), "/console/");
        browser
    }

    /// The CSRF token of this session, read from the home page.
    pub async fn csrf(&mut self) -> String {
        self.get("/console/").await.csrf()
    }
}

fn session_keys() -> tsh_issuer::console::SessionKeys {
    let key = hex::decode("6465762d6f6e6c792d66696e6765727072696e742d6b65792d6e6f742d736563726574")
        .unwrap();
    tsh_issuer::console::SessionKeys::derive(&key)
}

async fn audit_whats(app: &TestApp) -> Vec<(String, String, String)> {
    let audit = app.staff_get("/api/v1/audit?count=100").await;
    audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["what"].as_str().unwrap_or("").to_owned(),
                e["outcome"].as_str().unwrap_or("").to_owned(),
                e["who"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn console_pages_without_a_session_redirect_to_the_sign_in_page() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app.address);
    for path in [
        "/console/",
        "/console",
        "/console/search?q=x",
        "/console/nowhere",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location(), "/console/login", "{path}");
    }
    let login = browser.get("/console/login").await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("Sign in"));
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!login.body.contains("<script"), "no scripts at all");
    assert!(!login.body.contains("style="), "no inline styles");
    let css = browser.get("/console/static/console.css").await;
    assert_eq!(css.status, 200);
    assert!(css.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

#[actix_web::test]
async fn signing_in_sets_an_http_only_same_site_strict_expiring_cookie() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app.address);
    let reply = browser.sign_in(STAFF_TOKEN).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(reply.location(), "/console/");
    let cookie = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("tsh_console_session="))
        .expect("session cookie set");
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=28800",
    ] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure flag ({cookie})"
    );
    assert!(
        !cookie.contains(STAFF_TOKEN),
        "the token never goes into the cookie"
    );
    let home = browser.get("/console/").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("bootstrap") && home.body.contains("Sign out"));
    assert!(audit_whats(&app).await.contains(&(
        "console.signin".into(),
        "succeeded".into(),
        "bootstrap".into()
    )));
    // Signed in already: the sign-in page sends you in.
    assert_eq!(browser.get("/console/login").await.location(), "/console/");
}

#[actix_web::test]
async fn a_wrong_token_shows_the_sign_in_page_again_with_a_generic_message_and_is_audited() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app.address);
    let reply = browser.sign_in("not-the-right-token-at-all").await;
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("Sign-in failed"), "{}", reply.body);
    assert!(!reply.body.contains("not-the-right-token-at-all"));
    assert!(!browser.cookies.contains_key("tsh_console_session"));
    assert!(audit_whats(&app).await.contains(&(
        "console.signin".into(),
        "refused".into(),
        "anonymous".into()
    )));
}

#[actix_web::test]
async fn failed_sign_ins_are_rate_limited_per_address_even_for_the_right_token() {
    let app = spawn_app_with(&[
        ("console.login_max_failures", "2"),
        ("console.login_window_secs", "600"),
    ])
    .await;
    let mut browser = Browser::new(&app.address);
    for _ in 0..2 {
        assert_eq!(browser.sign_in("wrong-token-wrong-token").await.status, 401);
    }
    let refused = browser.sign_in(STAFF_TOKEN).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("Too many failed sign-ins"));
    assert!(!browser.cookies.contains_key("tsh_console_session"));
}

#[actix_web::test]
async fn a_sign_in_form_without_its_csrf_token_is_refused() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app.address);
    browser.get("/console/login").await;
    let reply = browser
        .post(
            "/console/login",
            &[("token", STAFF_TOKEN), ("csrf", "forged")],
        )
        .await;
    assert_eq!(reply.status, 403);
    assert!(!browser.cookies.contains_key("tsh_console_session"));
}

#[actix_web::test]
async fn an_expired_session_goes_back_to_the_sign_in_page() {
    let app = spawn_app().await;
    let keys = session_keys();
    let mut session = tsh_issuer::console::Session::new(
        "bootstrap",
        tsh_issuer::config::StaffRole::Operator,
        1_000,
        60,
    );
    let mut browser = Browser::new(&app.address);
    browser
        .cookies
        .insert("tsh_console_session".into(), keys.seal(&session));
    let page = browser.get("/console/").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), "/console/login?m=expired");
    let login = browser.get("/console/login?m=expired").await;
    assert!(login.body.contains("Your session expired"));
    // The same cookie, still valid: accepted (the key is the configured one, shared by instances).
    session.exp = u64::MAX / 2;
    browser
        .cookies
        .insert("tsh_console_session".into(), keys.seal(&session));
    assert_eq!(browser.get("/console/").await.status, 200);
}

#[actix_web::test]
async fn a_tampered_session_cookie_is_refused_with_403() {
    let app = spawn_app().await;
    let mut browser = Browser::signed_in(&app.address, STAFF_TOKEN).await;
    let cookie = browser.cookies["tsh_console_session"].clone();
    let mut bytes = cookie.into_bytes();
    bytes[3] = if bytes[3] == b'a' { b'b' } else { b'a' };
    browser.cookies.insert(
        "tsh_console_session".into(),
        String::from_utf8(bytes).unwrap(),
    );
    let page = browser.get("/console/").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("not valid"));
    let forged = session_keys();
    drop(forged);
}

#[actix_web::test]
async fn signing_out_needs_the_csrf_token_and_revokes_the_cookie_everywhere() {
    let app = spawn_app().await;
    let mut browser = Browser::signed_in(&app.address, STAFF_TOKEN).await;
    let stolen = browser.cookies["tsh_console_session"].clone();
    let refused = browser.post("/console/logout", &[("csrf", "nope")]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        browser.get("/console/").await.status,
        200,
        "still signed in"
    );
    let csrf = browser.csrf().await;
    let out = browser.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/console/login?m=signed_out");
    assert!(!browser.cookies.contains_key("tsh_console_session"));
    // Replaying the old cookie does not bring the session back.
    browser.cookies.insert("tsh_console_session".into(), stolen);
    let replay = browser.get("/console/").await;
    assert_eq!(replay.status, 303);
    assert_eq!(replay.location(), "/console/login?m=signed_out");
    assert!(audit_whats(&app).await.contains(&(
        "console.signout".into(),
        "succeeded".into(),
        "bootstrap".into()
    )));
}

#[actix_web::test]
async fn hostile_search_text_is_escaped_and_answered_never_a_server_error() {
    let app = spawn_app().await;
    let mut browser = Browser::signed_in(&app.address, STAFF_TOKEN).await;
    let long = "x".repeat(10 * 1024);
    let cases = [
        ("sql", "' OR 1=1; DROP TABLE cards; --"),
        ("script", "<script>alert(1)</script>"),
        ("attribute", "\"><img src=x onerror=alert(1)>"),
        ("ten kilobytes", long.as_str()),
        ("unicode", "ĉ𝔘\u{202e}\u{0}"),
        ("card number", PAN_FULL),
    ];
    for (name, text) in cases {
        let csrf = browser.csrf().await;
        let posted = browser
            .post("/console/search", &[("q", text), ("csrf", &csrf)])
            .await;
        assert!(posted.status < 500, "{name}: {}", posted.status);
        let page = if posted.status == 303 {
            assert!(
                !posted.location().contains(PAN_FULL),
                "{name}: no card number in a URL"
            );
            browser.get(posted.location()).await
        } else {
            posted
        };
        assert!(page.status < 500, "{name}: {}", page.status);
        assert!(!page.body.contains("<script>alert"), "{name}: unescaped");
        assert!(!page.body.contains("<img src=x"), "{name}: unescaped");
        assert!(!page.body.contains(PAN_FULL), "{name}: card number echoed");
        // Straight to the GET form too.
        let direct = browser
            .get(&format!("/console/search?q={}", encode(text)))
            .await;
        assert!(direct.status < 500, "{name}: {}", direct.status);
        assert!(!direct.body.contains("<script>alert"), "{name}: unescaped");
        assert!(
            !direct.body.contains(PAN_FULL),
            "{name}: card number echoed"
        );
    }
}

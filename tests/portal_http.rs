//! The portal over HTTP: the real `gd-incidents portal` against a stack of its own on LocalStack, behind the
//! test's own "load balancer" (a P-256 key and the server of its public key). Who is signed in (and who is
//! not), who sees what, CSRF, POST-only state changes, the lifecycle's refusals, escaping, and development
//! mode.

mod support;

use std::time::Duration;

use hmac::{KeyInit, Mac};
use hyper::Method;
use p256::ecdsa::SigningKey;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::json;
use sha2::Digest;
use support::portal::*;
use support::*;

/// The security headers every answer carries.
fn assert_security_headers(a: &Answer, what: &str) {
    let csp = a.header("content-security-policy");
    for part in ["default-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "script-src 'none'"] {
        assert!(csp.contains(part), "{what}: CSP {csp:?} lacks {part}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(a.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(a.header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(a.header("x-frame-options"), "DENY", "{what}");
}

/// The version of an incident as stored.
async fn version(aws: &Aws, stack: &Stack, id: &str) -> u64 {
    let items = aws.every_incident(stack).await;
    let item = items.iter().find(|i| s(i, "incident_id") == Some(id)).unwrap_or_else(|| panic!("incident {id}"));
    n(item, "version").expect("version") as u64
}

/// Files a report through the portal as the holder of `token`; returns its id.
async fn report(http: &Http, base: &str, token: &str, title: &str, level: &str, confidential: bool) -> String {
    let form = http.get(&format!("{base}/report"), Some(token)).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.csrf();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("title", title),
        ("description", "seen on my laptop at 09:40"),
        ("level", level),
    ];
    if confidential {
        fields.push(("confidential", "on"));
    }
    redirected_id(&http.post(&format!("{base}/report"), Some(token), &fields).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_valid_load_balancer_token_signs_anyone_in() {
    let stack = deploy_stack("portal-identity");
    let aws = Aws::new().await;
    let alb = Alb::start();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let groups =
        "groups_claim = \"cognito:groups\"\nresponder_groups = [\"oce\"]\niso_groups = [\"security-officers\"]\n";
    let cfg = config(dir.path(), &stack, "portal", &format!("{}{groups}", portal_section(addr, &alb.keys.url())));
    let portal = PortalProcess::start(&cfg, addr, "identity").await;
    let http = Http::default();
    let url = |p: &str| format!("{}{p}", portal.url);

    // The load balancer's own token (base64url with `=` padding): signed in, with the configured role.
    let good = alb.token(RESPONDER);
    assert!(good.contains('='), "the test token is padded like the ALB's: {good}");
    let page = http.get(&url("/incidents"), Some(&good)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(RESPONDER) && page.body.contains("· responder"), "{}", page.body);
    assert_security_headers(&page, "a page");
    assert!(!page.body.contains("<script") && !page.body.contains("style="), "no inline script or style");
    let staff_page = http.get(&url("/report"), Some(&alb.token(STAFF))).await;
    assert!(staff_page.body.contains("· staff"), "everyone else is staff: {}", staff_page.body);
    // Roles from the identity provider's groups too, by exact name, from the configured claim only.
    for (groups, role) in [
        (json!(["oce"]), "· responder"),
        (json!("staff, security-officers"), "· information security officer"),
        (json!(["OCE", "security"]), "· staff"),
    ] {
        let mut c = claims(OTHER_STAFF, 120);
        c["cognito:groups"] = groups.clone();
        c["groups"] = json!(["security-officers"]);
        let page = http.get(&url("/report"), Some(&sign(&alb.key, &header(), &c))).await;
        assert!(page.body.contains(role), "{groups}: {}", page.body);
    }

    // Everything else is 401, on every page, and no default user is ever assumed.
    let forger = SigningKey::generate();
    let with = |field: &str, value: serde_json::Value| {
        let mut h = header();
        h[field] = value;
        sign(&alb.key, &h, &claims(ISO, 120))
    };
    let pem = alb.key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
    let hs256 = {
        // The classic key confusion: HS256 with the public key as the HMAC secret.
        let mut h = header();
        h["alg"] = json!("HS256");
        let input = format!("{}.{}", b64(h.to_string().as_bytes()), b64(claims(ISO, 120).to_string().as_bytes()));
        let mut mac = hmac::Hmac::<sha2_11::Sha256>::new_from_slice(pem.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(&mac.finalize().into_bytes()))
    };
    let swapped = {
        let staff = alb.token(STAFF);
        let parts: Vec<&str> = staff.split('.').collect();
        format!("{}.{}.{}", parts[0], b64(claims(ISO, 120).to_string().as_bytes()), parts[2])
    };
    let mut no_email = claims(ISO, 120);
    no_email.as_object_mut().unwrap().remove("email");
    let mut unverified = claims(ISO, 120);
    unverified.as_object_mut().unwrap().remove("email_verified");
    let mut not_vouched = claims(ISO, 120);
    not_vouched["email_verified"] = json!("false");
    // U+212A KELVIN SIGN, which Unicode lowercases to `k`, and full-width letters: never folded, refused.
    let kelvin = claims("\u{212A}ate@example.com", 120);
    let full_width = claims(&ISO.replacen('v', "\u{FF56}", 1), 120);
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("forged: signed with another key", Some(sign(&forger, &header(), &claims(ISO, 120)))),
        ("claims swapped into a valid token", Some(swapped)),
        ("expired", Some(sign(&alb.key, &header(), &claims(ISO, -1)))),
        (
            "signed by another load balancer",
            Some(with("signer", json!("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/other/1"))),
        ),
        ("no signer", Some(sign(&alb.key, &json!({"alg": "ES256", "kid": KID}), &claims(ISO, 120)))),
        (
            "alg none",
            Some(format!("{}.{}.", b64(br#"{"alg":"none","kid":"x"}"#), b64(claims(ISO, 120).to_string().as_bytes()))),
        ),
        ("alg none, valid header otherwise", Some(with("alg", json!("none")))),
        ("alg HS256 keyed with the public key", Some(hs256)),
        ("unknown key id", Some(with("kid", json!("00000000-0000-0000-0000-000000000000")))),
        ("no email claim", Some(sign(&alb.key, &header(), &no_email))),
        ("no email_verified claim", Some(sign(&alb.key, &header(), &unverified))),
        ("email_verified false", Some(sign(&alb.key, &header(), &not_vouched))),
        ("a Kelvin sign for k", Some(sign(&alb.key, &header(), &kelvin))),
        ("full-width letters", Some(sign(&alb.key, &header(), &full_width))),
        ("not a token", Some("not-a-token".into())),
    ];
    for (what, token) in &cases {
        for path in ["/", "/incidents", "/report", "/reports/mine", "/incidents/x"] {
            let a = http.get(&url(path), token.as_deref()).await;
            assert_eq!(a.status, 401, "{what}, GET {path}: {}", a.body);
            assert!(!a.body.contains("@example.com"), "{what}: nobody is signed in: {}", a.body);
        }
        let a = http
            .post(&url("/report"), token.as_deref(), &[("title", "t"), ("description", "d"), ("level", "HIGH")])
            .await;
        assert_eq!(a.status, 401, "{what}, POST /report");
    }
    let twice = http
        .send(Method::GET, &url("/incidents"), &[("x-amzn-oidc-data", &good), ("x-amzn-oidc-data", &good)], None)
        .await;
    assert_eq!(twice.status, 401, "two headers are refused");
    let unauthorised = http.get(&url("/incidents"), None).await;
    assert_security_headers(&unauthorised, "a 401");
    assert!(aws.every_incident(&stack).await.is_empty(), "no refused request made an incident");

    // The key was fetched once and kept; an unknown key id was asked for once, then not again for a while.
    assert_eq!(alb.key_fetches(KID), 1, "the key is cached");
    assert_eq!(alb.key_fetches("00000000-0000-0000-0000-000000000000"), 1, "a missing key is not asked for each time");

    // What needs no sign-in: the load balancer's health check, and the stylesheet.
    assert_eq!(http.get(&url("/healthz"), None).await.status, 200);
    let css = http.get(&url("/static/portal.css"), None).await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
    assert!(css.body.contains(".level-critical"));
    assert_security_headers(&css, "the stylesheet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_what_it_may_and_confidential_reports_stay_with_the_iso() {
    let stack = deploy_stack("portal-roles");
    let aws = Aws::new().await;
    let alb = Alb::start();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let cfg = config(dir.path(), &stack, "portal", &portal_section(addr, &alb.keys.url()));
    let portal = PortalProcess::start(&cfg, addr, "roles").await;
    let http = Http::default();
    let base = portal.url.clone();
    let url = |p: &str| format!("{base}{p}");
    let (staff, other, responder, iso) =
        (alb.token(STAFF), alb.token(OTHER_STAFF), alb.token(RESPONDER), alb.token(ISO));

    let open = report(&http, &base, &staff, "Odd pop-up on my laptop", "LOW", false).await;
    let secret = report(&http, &base, &staff, "Colleague copying customer data to USB", "HIGH", true).await;
    let others = report(&http, &base, &other, "Phishing mail with a credential form", "MEDIUM", false).await;
    let shown = http.get(&url(&format!("/incidents/{secret}?done=reported")), Some(&staff)).await;
    assert!(shown.body.contains("security officer has been paged"), "{}", shown.body);

    // Staff: report, and follow their own reports (the confidential one included), nothing else.
    let home = http.get(&url("/"), Some(&staff)).await;
    assert_eq!((home.status, home.header("location")), (303, "/reports/mine"));
    assert_eq!(http.get(&url("/incidents"), Some(&staff)).await.status, 403);
    let mine = http.get(&url("/reports/mine"), Some(&staff)).await;
    assert!(mine.body.contains("Odd pop-up") && mine.body.contains("Colleague copying"), "{}", mine.body);
    assert!(!mine.body.contains("Phishing mail") && mine.body.contains("2 reports"), "{}", mine.body);
    let own = http.get(&url(&format!("/incidents/{open}")), Some(&staff)).await;
    assert_eq!(own.status, 200);
    assert!(own.body.contains("You reported this incident"), "{}", own.body);
    assert!(!own.body.contains("Timeline") && !own.body.contains("/ack\""), "no log and no action for the reporter");
    assert_eq!(http.get(&url(&format!("/incidents/{secret}")), Some(&staff)).await.status, 200, "their own");
    assert_eq!(http.get(&url(&format!("/incidents/{others}")), Some(&staff)).await.status, 404, "another's");
    let csrf = http.get(&url("/report"), Some(&staff)).await.csrf();
    let before = version(&aws, &stack, &open).await;
    let ack = http.post(&url(&format!("/incidents/{open}/ack")), Some(&staff), &[("csrf", &csrf)]).await;
    assert_eq!(ack.status, 403, "staff do not work incidents: {}", ack.body);
    assert_eq!(version(&aws, &stack, &open).await, before);

    // A responder: every incident but the confidential one, which does not exist for them.
    let home = http.get(&url("/"), Some(&responder)).await;
    assert_eq!((home.status, home.header("location")), (303, "/incidents"));
    let list = http.get(&url("/incidents"), Some(&responder)).await;
    assert!(list.body.contains("Odd pop-up") && list.body.contains("Phishing mail"), "{}", list.body);
    assert!(!list.body.contains("Colleague") && !list.body.contains(&secret), "{}", list.body);
    assert!(list.body.contains("2 incidents"), "the count leaves it out too: {}", list.body);
    // Page through every incident, one a page, by the cursor of the page before: each once, newest first,
    // the confidential one never.
    let (mut seen, mut next) = (Vec::new(), Some("/incidents?limit=1".to_owned()));
    while let Some(path) = next.take() {
        assert!(seen.len() < 3, "paging does not end: {seen:?}");
        let page = http.get(&url(&path), Some(&responder)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend([&open, &others, &secret].into_iter().filter(|id| page.body.contains(id.as_str())).cloned());
        let links = page.body.split("href=\"").filter_map(|s| s.split('"').next());
        next = links.filter(|h| h.contains("after=")).map(|h| h.replace("&amp;", "&")).next();
    }
    assert_eq!(seen, [others.clone(), open.clone()]);
    let search = http.get(&url("/incidents?q=colleague"), Some(&responder)).await;
    assert!(search.body.contains("0 incidents") && !search.body.contains("Colleague"), "{}", search.body);
    let search = http.get(&url(&format!("/incidents?q={secret}")), Some(&responder)).await;
    assert!(search.body.contains("0 incidents"), "not by its id either: {}", search.body);
    let long = http.get(&url(&format!("/incidents?q={}", "a".repeat(301))), Some(&responder)).await;
    assert_eq!(long.status, 400, "a search is bounded: {}", long.body);
    let high = http.get(&url("/incidents?level=HIGH"), Some(&responder)).await;
    assert!(high.body.contains("0 incidents"), "{}", high.body);
    let phishing = http.get(&url("/incidents?q=PHISHING&status=open"), Some(&responder)).await;
    assert!(phishing.body.contains("1 incident,") && phishing.body.contains("Phishing"), "{}", phishing.body);
    let hidden = http.get(&url(&format!("/incidents/{secret}")), Some(&responder)).await;
    let unknown = http.get(&url("/incidents/7d1c0c53-0000-4000-8000-000000000000"), Some(&responder)).await;
    assert_eq!(hidden.status, 404, "404, not 403: {}", hidden.body);
    assert_eq!(hidden.body, unknown.body, "a confidential incident answers exactly as an unknown id");
    let csrf = http.get(&url("/report"), Some(&responder)).await.csrf();
    let before = version(&aws, &stack, &secret).await;
    for action in ["ack", "note", "close"] {
        let a = http
            .post(&url(&format!("/incidents/{secret}/{action}")), Some(&responder), &[("csrf", &csrf), ("text", "x")])
            .await;
        assert_eq!(a.status, 404, "{action} on a confidential incident: {}", a.body);
    }
    assert_eq!(http.get(&url(&format!("/incidents/{secret}/evidence/00")), Some(&responder)).await.status, 404);
    assert_eq!(version(&aws, &stack, &secret).await, before, "nothing changed");
    let theirs = http.get(&url("/reports/mine"), Some(&responder)).await;
    assert!(theirs.body.contains("0 reports"), "{}", theirs.body);

    // The figures: for responders and the ISO (who alone counts the confidential report), not staff.
    let theirs = http.get(&url("/stats"), Some(&responder)).await;
    assert!(theirs.status == 200 && theirs.body.contains("Response times"), "{}", theirs.body);
    let iso_figures = http.get(&url("/stats?days=7"), Some(&iso)).await;
    assert!(iso_figures.body.contains("3 incidents created since"), "{}", iso_figures.body);
    assert!(theirs.body.contains("2 incidents created since"), "{}", theirs.body);
    assert_eq!(http.get(&url("/stats"), Some(&alb.token(STAFF))).await.status, 403);

    // The ISO: everything, and works the confidential report.
    let list = http.get(&url("/incidents"), Some(&iso)).await;
    assert!(list.body.contains("3 incidents") && list.body.contains("Colleague copying"), "{}", list.body);
    assert!(list.body.contains("CONFIDENTIAL"));
    let high = http.get(&url("/incidents?level=HIGH"), Some(&iso)).await;
    assert!(high.body.contains("1 incident,") && high.body.contains("Colleague"), "{}", high.body);
    let page = http.get(&url(&format!("/incidents/{secret}")), Some(&iso)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("CONFIDENTIAL staff report") && page.body.contains("Timeline"), "{}", page.body);
    let ack = http.post(&url(&format!("/incidents/{secret}/ack")), Some(&iso), &[("csrf", &page.csrf())]).await;
    assert_eq!(ack.status, 303, "{}", ack.body);
    let page = http.get(&url(&format!("/incidents/{secret}?done=ack")), Some(&iso)).await;
    assert!(page.body.contains(&format!("by {ISO}")) && page.body.contains("Acknowledged:"), "{}", page.body);

    let others_mine = http.get(&url("/reports/mine"), Some(&other)).await;
    assert!(others_mine.body.contains("Phishing") && others_mine.body.contains("1 report,"), "{}", others_mine.body);
    assert!(!others_mine.body.contains("Odd pop-up"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_reports_are_limited_per_person_and_a_whistleblower_is_never_logged() {
    let stack = deploy_stack("portal-limit");
    let aws = Aws::new().await;
    let alb = Alb::start();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let section = format!("{}reports_per_hour = 2\n", portal_section(addr, &alb.keys.url()));
    let cfg = config(dir.path(), &stack, "portal", &section);
    let portal = PortalProcess::start(&cfg, addr, "limit").await;
    let http = Http::default();
    let base = portal.url.clone();
    let (staff, other) = (alb.token(STAFF), alb.token(OTHER_STAFF));

    report(&http, &base, &staff, "Odd pop-up", "LOW", false).await;
    report(&http, &base, &staff, "Phishing mail", "CRITICAL", false).await;
    let csrf = http.get(&format!("{base}/report"), Some(&staff)).await.csrf();
    let fields = [("csrf", csrf.as_str()), ("title", "Third"), ("description", "d"), ("level", "CRITICAL")];
    let third = http.post(&format!("{base}/report"), Some(&staff), &fields).await;
    assert_eq!(third.status, 429, "{}", third.body);
    assert!(third.body.contains("you have filed 2 reports in the last hour"), "{}", third.body);
    assert!(third.body.contains("Third"), "the form keeps what was typed");
    assert_eq!(aws.incidents(stack.table()).await.len(), 2, "the refused report made no incident and paged no one");

    // Another person has a count of their own; their confidential report names them in no log line.
    report(&http, &base, &other, "My manager copies customer data", "MEDIUM", true).await;
    assert_eq!(aws.incidents(stack.table()).await.len(), 2);
    assert_eq!(aws.incidents(stack.confidential_table()).await.len(), 1, "the confidential report in its own table");
    let log = portal.log();
    assert!(log.contains("portal report"), "{log}");
    assert!(!log.contains(OTHER_STAFF), "the whistleblower's address is in the log:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_need_a_post_with_the_persons_csrf_token_and_follow_the_cli_rules() {
    let stack = deploy_stack("portal-forms");
    let aws = Aws::new().await;
    let alb = Alb::start();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let cfg = config(dir.path(), &stack, "portal", &portal_section(addr, &alb.keys.url()));
    let portal = PortalProcess::start(&cfg, addr, "forms").await;
    // A second portal process on the same table: its random CSRF key is not the first one's.
    let addr2 = free_addr();
    let cfg2 = config(dir.path(), &stack, "portal2", &portal_section(addr2, &alb.keys.url()));
    let portal2 = PortalProcess::start(&cfg2, addr2, "forms-2").await;
    let http = Http::default();
    let base = portal.url.clone();
    let url = |p: &str| format!("{base}{p}");
    let (staff, responder) = (alb.token(STAFF), alb.token(RESPONDER));

    // A report without its CSRF token makes nothing.
    let refused =
        http.post(&url("/report"), Some(&staff), &[("title", "t"), ("description", "d"), ("level", "LOW")]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(aws.every_incident(&stack).await.is_empty());

    // Values from people are escaped wherever they are shown.
    let title = r#"<script>alert("xss")</script><img src=x onerror=alert(1)> & "quoted""#;
    let id = report(&http, &base, &staff, title, "CRITICAL", false).await;
    let page = http.get(&url(&format!("/incidents/{id}")), Some(&responder)).await;
    let list = http.get(&url("/incidents"), Some(&responder)).await;
    for (what, body) in [("page", &page.body), ("list", &list.body)] {
        assert!(body.contains("&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;&lt;img src=x"), "{what}: {body}");
        assert!(!body.contains("<script") && !body.contains("<img"), "{what} is not injectable: {body}");
    }

    // GET never changes anything, whatever it carries.
    let v0 = version(&aws, &stack, &id).await;
    let csrf = page.csrf();
    for path in [format!("/incidents/{id}/ack?csrf={csrf}"), format!("/incidents/{id}/close?csrf={csrf}&notes=x")] {
        let a = http.get(&url(&path), Some(&responder)).await;
        assert_eq!(a.status, 405, "GET {path}: {}", a.body);
    }
    assert_eq!(version(&aws, &stack, &id).await, v0);

    // POST without the token, with a made-up one, with another person's, with another process's: 403.
    let staffs = http.get(&url("/report"), Some(&staff)).await.csrf();
    let other_process = http.get(&format!("{}/report", portal2.url), Some(&responder)).await.csrf();
    assert_ne!(other_process, csrf);
    let ack = url(&format!("/incidents/{id}/ack"));
    for (what, fields) in [
        ("no token", vec![]),
        ("an empty token", vec![("csrf", "")]),
        ("a made-up token", vec![("csrf", "9999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]),
        ("another person's token", vec![("csrf", staffs.as_str())]),
        ("another process's token", vec![("csrf", other_process.as_str())]),
    ] {
        let a = http.post(&ack, Some(&responder), &fields).await;
        assert_eq!(a.status, 403, "{what}: {}", a.body);
    }
    assert_eq!(version(&aws, &stack, &id).await, v0, "no refused form changed anything");

    // With the token: done, then 303 to the page.
    let a = http.post(&ack, Some(&responder), &[("csrf", &csrf)]).await;
    assert_eq!((a.status, a.header("location")), (303, format!("/incidents/{id}?done=ack").as_str()), "{}", a.body);
    assert_eq!(version(&aws, &stack, &id).await, v0 + 1);
    let a = http.post(&ack, Some(&responder), &[("csrf", &csrf)]).await;
    assert_eq!(a.status, 422, "the rules refuse a second ack");
    assert!(a.body.contains("already acknowledged by rita.responder@example.com"), "{}", a.body);
    let note = url(&format!("/incidents/{id}/note"));
    let a = http
        .post(
            &note,
            Some(&responder),
            &[("csrf", &csrf), ("text", "attacker opened a shell"), ("at", "2026-11-20T09:55")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);

    // CRITICAL: closing with notes alone is refused, naming every missing post-mortem field, as the CLI does.
    let close = url(&format!("/incidents/{id}/close"));
    let v1 = version(&aws, &stack, &id).await;
    let a = http.post(&close, Some(&responder), &[("csrf", &csrf), ("notes", "rebuilt the laptop")]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("requires the post-mortem (CRITICAL"), "{}", a.body);
    for label in [
        "Root cause",
        "Lessons learned",
        "Long-term mitigations",
        "Cost estimate",
        "Legal counsel involved",
        "Affected customers notified",
        "Authorities notified (required for CRITICAL)",
        "A follow-up action (add one above)",
    ] {
        assert!(a.body.contains(&format!("<li>{label}</li>")), "the refusal lists {label}: {}", a.body);
    }
    assert!(a.body.contains("rebuilt the laptop"), "the notes are kept in the form");
    assert_eq!(version(&aws, &stack, &id).await, v1, "a refusal changes nothing");
    // A follow-up action (procedure 3.1), and it is done.
    let add = [("csrf", csrf.as_str()), ("text", "hardware keys for everyone"), ("owner", "it-ops"), ("due", "14d")];
    let a = http.post(&url(&format!("/incidents/{id}/follow-up")), Some(&responder), &add).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let page = http.get(&url(&format!("/incidents/{id}?done=follow-up")), Some(&responder)).await;
    assert!(
        page.body.contains("Follow-up action added.") && page.body.contains("hardware keys for everyone"),
        "{}",
        page.body
    );
    let done = [("csrf", csrf.as_str()), ("n", "1")];
    let a = http.post(&url(&format!("/incidents/{id}/follow-up-done")), Some(&responder), &done).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let late = [("csrf", csrf.as_str()), ("text", "x"), ("owner", "y"), ("due", "2020-01-01")];
    let a = http.post(&url(&format!("/incidents/{id}/follow-up")), Some(&responder), &late).await;
    assert!(a.status == 422 && a.body.contains("has passed"), "{}", a.body);
    let a = http
        .post(
            &close,
            Some(&responder),
            &[
                ("csrf", &csrf),
                ("notes", "rebuilt the laptop"),
                ("root_cause", "phishing"),
                ("lessons_learned", "train staff"),
                ("mitigations", "hardware keys"),
                ("cost_estimate", "2 person-days"),
                ("legal_counsel", "no"),
                ("customers_notified", "no"),
                ("authorities_notified", "no"),
            ],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);

    // The command line sees what the portal did: same table, same rules, the person as `by`.
    let shown = gd_json(&cfg, &["incidents", "show", &id]);
    assert_eq!(shown["incident"]["status"], "closed");
    assert_eq!(shown["incident"]["acknowledged_by"], RESPONDER);
    assert_eq!(shown["incident"]["closure"]["root_cause"], "phishing");
    assert_eq!(shown["incident"]["reported_by"], STAFF);
    let actions: Vec<&str> =
        shown["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["report", "page.sent", "ack", "note", "follow-up", "follow-up.done", "close"], "{shown}");
    let noted = shown["timeline"].as_array().unwrap().iter().find(|e| e["action"] == "note").unwrap();
    assert_eq!(noted["occurred_at"], "2026-11-20T09:55:00.000Z");
    assert_eq!(noted["by"], RESPONDER);
    let page = http.get(&url(&format!("/incidents/{id}?done=close")), Some(&responder)).await;
    assert!(page.body.contains("Closure") && page.body.contains("hardware keys"), "{}", page.body);
    let a = http.post(&note, Some(&responder), &[("csrf", &csrf), ("text", " ")]).await;
    assert!(a.status == 422 && a.body.contains("The note must not be empty"), "{}", a.body);

    // Every change is in the portal's own log, in the configured format (JSON here), with who did it.
    let audit: Vec<serde_json::Value> = portal
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"] == "portal action" && l["incident_id"] == id.as_str())
        .collect();
    let logged: Vec<(&str, &str)> =
        audit.iter().map(|l| (l["action"].as_str().unwrap_or(""), l["by"].as_str().unwrap_or(""))).collect();
    let want = ["ack", "note", "follow-up", "follow-up-done", "close"].map(|a| (a, RESPONDER));
    assert_eq!(logged, want, "{}", portal.log());
    assert!(
        portal.log().lines().any(|l| l.contains("\"portal report\"") && l.contains(&id)),
        "the report is logged too: {}",
        portal.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_classifies_a_report_by_the_cli_rules_and_raising_it_pages_at_once() {
    let stack = deploy_stack("portal-classify");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let iso = aws.capture(stack.iso_topic(), &format!("{}-iso-capture", stack.name)).await;
    let alb = Alb::start();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let cfg = config(dir.path(), &stack, "portal", &portal_section(addr, &alb.keys.url()));
    let portal = PortalProcess::start(&cfg, addr, "classify").await;
    let http = Http::default();
    let base = portal.url.clone();
    let url = |p: &str| format!("{base}{p}");
    let (staff, responder) = (alb.token(STAFF), alb.token(RESPONDER));

    let id = report(&http, &base, &staff, "USB stick found in the car park", "MEDIUM", false).await;
    let page = http.get(&url(&format!("/incidents/{id}")), Some(&responder)).await;
    assert!(page.body.contains(&format!("action=\"/incidents/{id}/classify\"")), "{}", page.body);
    assert!(page.body.contains("<option value=\"MEDIUM\" selected>"), "the current level is offered: {}", page.body);
    let csrf = page.csrf();
    let classify = url(&format!("/incidents/{id}/classify"));
    let v0 = version(&aws, &stack, &id).await;

    // The reporter (staff) may not classify their own report.
    let staffs = http.get(&url("/report"), Some(&staff)).await.csrf();
    let a = http.post(&classify, Some(&staff), &[("csrf", &staffs), ("level", "HIGH"), ("reason", "mine")]).await;
    assert_eq!(a.status, 403, "{}", a.body);

    // No reason: refused by the rules, as the command line's `--reason`, the level chosen kept in the form.
    let a = http.post(&classify, Some(&responder), &[("csrf", &csrf), ("level", "HIGH"), ("reason", " ")]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("The reason must not be empty"), "{}", a.body);
    assert!(a.body.contains("<option value=\"HIGH\" selected>"), "{}", a.body);
    assert_eq!(version(&aws, &stack, &id).await, v0, "a refusal changes nothing");

    let a = http
        .post(&classify, Some(&responder), &[("csrf", &csrf), ("level", "HIGH"), ("reason", "it held a keylogger")])
        .await;
    assert_eq!(
        (a.status, a.header("location")),
        (303, format!("/incidents/{id}?done=classify").as_str()),
        "{}",
        a.body
    );

    // The command line sees the decision, with the responder as `by`, and the HIGH pages sent.
    let shown = gd_json(&cfg, &["incidents", "show", &id]);
    let incident = &shown["incident"];
    assert_eq!(incident["severity"], "HIGH");
    let c = &incident["classification"];
    assert_eq!(
        (c["level"].clone(), c["previous"].clone(), c["by"].clone(), c["reason"].clone()),
        (json!("HIGH"), json!("MEDIUM"), json!(RESPONDER), json!("it held a keylogger"))
    );
    for key in ["HIGH:oce", "HIGH:iso"] {
        assert_eq!(incident["pages"][key]["state"], "sent", "{key}: {incident}");
    }
    for (who, queue) in [("OCE", &oce), ("ISO", &iso)] {
        let got = aws.drain(queue, 1, Duration::from_secs(30), Duration::from_secs(1)).await;
        let seen: Vec<(&str, &str)> =
            got.iter().map(|p| (p.attributes["incident_id"].as_str(), p.attributes["severity"].as_str())).collect();
        assert_eq!(seen, vec![(id.as_str(), "HIGH")], "the {who} is paged once, at HIGH");
    }

    // The same level again, now a decision on record: nothing to change.
    let a = http.post(&classify, Some(&responder), &[("csrf", &csrf), ("level", "HIGH"), ("reason", "again")]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    let page = http.get(&url(&format!("/incidents/{id}?done=classify")), Some(&responder)).await;
    assert!(page.body.contains("Classified HIGH."), "{}", page.body);
    assert!(page.body.contains("it held a keylogger"), "the decision is shown: {}", page.body);

    let logged = portal.log().lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).any(|l| {
        l["message"] == "portal action"
            && l["incident_id"] == id.as_str()
            && l["action"] == "classify"
            && l["by"] == RESPONDER
    });
    assert!(logged, "the classification is in the audit log: {}", portal.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_findings_page_shows_its_resource_evidence_hashes_and_pages() {
    let stack = deploy_stack("portal-finding");
    let aws = Aws::new().await;
    let alb = Alb::start();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let cfg = config(dir.path(), &stack, "portal", &portal_section(addr, &alb.keys.url()));
    let _daemon = Daemon::start(&cfg, "daemon");
    let portal = PortalProcess::start(&cfg, addr, "finding").await;
    let http = Http::default();
    let responder = alb.token(RESPONDER);

    // GuardDuty titles are data from outside: this one carries markup.
    let body = FindingEvent::from_fixture("ec2-instance-backdoor", "9e7a1c2b3d4e5f60718293a4b5c6d7e8")
        .title("C&C domain <b>queried</b> by i-0a1b2c3d4e5f67890 <script>x()</script>")
        .body();
    aws.send(stack.queue_url(), &body).await;
    let sha = format!("{:x}", sha2::Sha256::digest(body.as_bytes()));

    let id = eventually("the finding's incident, paged", Duration::from_secs(60), || async {
        let items = aws.incidents(stack.table()).await;
        let item = items.iter().find(|i| s(i, "finding_id") == Some("9e7a1c2b3d4e5f60718293a4b5c6d7e8"))?;
        let id = s(item, "incident_id")?.to_owned();
        let shown = gd_json(&cfg, &["incidents", "show", &id]);
        let sent = shown["incident"]["pages"].as_object()?.values().filter(|p| p["state"] == "sent").count();
        (sent == 2).then_some(id)
    })
    .await;
    let page = http.get(&format!("{}/incidents/{id}", portal.url), Some(&responder)).await;
    assert_eq!(page.status, 200);
    let b = &page.body;
    assert!(b.contains(r#"class="level level-high""#) && b.contains(">HIGH<"), "level by colour and word");
    assert!(b.contains("C&amp;C domain &lt;b&gt;queried&lt;/b&gt;") && !b.contains("<b>queried"), "{b}");
    assert!(b.contains(r#"EC2 instance i-0a1b2c3d4e5f67890 (m5.large) &quot;web-frontend-01&quot;"#), "resource: {b}");
    assert!(b.contains("Backdoor:EC2/C&amp;CActivity.B!DNS") && b.contains("123456789012"), "{b}");
    assert!(b.contains(&sha) && b.contains("verified"), "evidence with its SHA-256 {sha}: {b}");
    assert!(b.contains("HIGH:oce") && b.contains("HIGH:iso") && b.matches(">sent<").count() == 2, "pages: {b}");
    assert!(b.contains("finding.created") && b.contains("page.sent"), "timeline: {b}");
    let evidence = http.get(&format!("{}/incidents/{id}/evidence/{sha}", portal.url), Some(&responder)).await;
    assert_eq!(evidence.status, 200);
    assert!(evidence.body.contains("9e7a1c2b3d4e5f60718293a4b5c6d7e8") && !evidence.body.contains("<script>x()"));

    // Containment from the page: the plan first, then the request, recorded as the person who asked.
    assert!(b.contains("<h2>Containment</h2>") && b.contains("Request snapshot-volumes"), "the plans: {b}");
    assert!(b.contains("gd-incidents-quarantine"), "what isolation would change: {b}");
    let form = [("csrf", page.csrf()), ("containment", "isolate-instance".to_owned())];
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let asked = http.post(&format!("{}/incidents/{id}/contain", portal.url), Some(&responder), &fields).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let shown = gd_json(&cfg, &["incidents", "show", &id]);
    let record = &shown["incident"]["actions"][0];
    assert_eq!(
        (record["action"].as_str(), record["requested_by"].as_str()),
        (Some("isolate-instance"), Some(RESPONDER))
    );
    let bad = [("csrf", page.csrf()), ("containment", "nuke-everything".to_owned())];
    let fields: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = http.post(&format!("{}/incidents/{id}/contain", portal.url), Some(&responder), &fields).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("unknown containment action"), "{}", refused.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_mode_runs_only_on_loopback_and_says_so() {
    ensure_localstack();
    let dir = tempfile::tempdir().unwrap();
    let base = format!(
        r#"[aws]
region = "us-east-1"
endpoint_url = "{}"

[queue]
url = "{}/000000000000/none"

[incidents]
table = "none"

[paging]
oce_topic_arn = "arn:aws:sns:us-east-1:000000000000:oce"
iso_topic_arn = "arn:aws:sns:us-east-1:000000000000:iso"
"#,
        endpoint(),
        endpoint()
    );
    let write = |name: &str, tail: &str| {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, format!("{base}\n{tail}")).unwrap();
        path
    };
    let refused = [
        (
            "exposed",
            "[portal]\nlisten = \"0.0.0.0:18090\"\ndev_user = \"dev@example.com\"\n",
            "portal.dev_user",
            "loopback",
        ),
        (
            "both",
            &format!(
                "[portal]\nlisten = \"127.0.0.1:18090\"\ndev_user = \"dev@example.com\"\nalb_arn = \"{ALB_ARN}\"\n"
            ),
            "portal.dev_user",
            "cannot be combined",
        ),
        ("neither", "[portal]\nlisten = \"127.0.0.1:18090\"\n", "portal.alb_arn", "missing"),
        (
            "plain-http-keys",
            &format!(
                "[portal]\nlisten = \"127.0.0.1:18090\"\nalb_arn = \"{ALB_ARN}\"\npublic_key_url = \"http://keys.example.com\"\n"
            ),
            "portal.public_key_url",
            "https://",
        ),
        ("no-section", "", "portal", "needs a [portal] section"),
    ];
    for (name, tail, key, says) in refused {
        let (code, out, err) = gd(&write(name, tail), &["portal"]);
        assert_eq!(code, 2, "{name}: {err}{out}");
        assert!(err.contains(&format!("key `{key}`")) && err.contains(says), "{name}: {err}");
    }

    let addr = free_addr();
    let cfg = write(
        "dev",
        &format!("[portal]\nlisten = \"{addr}\"\ndev_user = \"Dev@Example.com\"\nresponders = [\"dev@example.com\"]\n"),
    );
    let portal = PortalProcess::start(&cfg, addr, "dev").await;
    let http = Http::default();
    for path in ["/report", "/incidents/x", "/nowhere"] {
        let page = http.get(&format!("{}{path}", portal.url), None).await;
        assert!(page.body.contains("DEVELOPMENT MODE: no authentication"), "{path}: {}", page.body);
        assert!(page.body.contains("dev@example.com · responder"), "{path}: {}", page.body);
    }
    let log = portal.log();
    assert!(log.contains("DEVELOPMENT MODE") && log.contains("NO AUTHENTICATION"), "{log}");

    // ECS stops a task with SIGTERM: the portal stops cleanly, at once.
    let mut portal = portal;
    let (clean, took) = portal.terminate(Duration::from_secs(10));
    assert!(clean, "exit 0 on SIGTERM:\n{}", portal.log());
    eprintln!("FIGURES portal stopped {:.2}s after SIGTERM", took.as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_link_works_only_signed_unexpired_and_for_a_responder() {
    use gd_incidents::domain::ack_link;
    use gd_incidents::domain::severity::Level;
    let stack = deploy_stack("portal-links");
    let alb = Alb::start();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let cfg = config(dir.path(), &stack, "portal", &portal_section(addr, &alb.keys.url()));
    let key = "a-key-of-at-least-thirty-two-characters";
    let env = [
        ("GD_INCIDENTS__PAGING__PORTAL_URL", "https://incidents.example.com"),
        ("GD_INCIDENTS__PAGING__ACK_LINK_KEY", key),
    ];
    let portal = PortalProcess::start_with_env(&cfg, addr, "links", &env).await;
    let http = Http::default();
    let url = |p: &str| format!("{}{p}", portal.url);
    let id = report(&http, &portal.url, &alb.token(STAFF), "Phishing with a login form", "HIGH", false).await;
    let now = chrono::Utc::now();
    let good = ack_link::sign(key.as_bytes(), &id, Level::High, now);

    let responder = alb.token(RESPONDER);
    let page = http.get(&url(&format!("/ack/{good}")), Some(&responder)).await;
    assert!(page.status == 200 && page.body.contains("Acknowledge this incident?"), "{}", page.body);
    // The link changes nothing by itself: it is still open, until the person's click (a POST with a token).
    let shown = gd_json(&cfg, &["incidents", "show", &id]);
    assert!(shown["incident"]["acknowledged_at"].is_null(), "{shown}");
    // Staff (the reporter) may not work it; without sign-in nothing at all.
    assert_eq!(http.get(&url(&format!("/ack/{good}")), Some(&alb.token(STAFF))).await.status, 403);
    assert_eq!(http.get(&url(&format!("/ack/{good}")), None).await.status, 401);
    // Forged, made with another key, or expired: refused, saying so.
    let other = ack_link::sign(b"another key of thirty-two bytes!!", &id, Level::High, now);
    let old = ack_link::sign(key.as_bytes(), &id, Level::High, now - chrono::Duration::days(2));
    for (link, says) in [("not-a-link", "not valid"), (other.as_str(), "not valid"), (old.as_str(), "expired")] {
        let page = http.get(&url(&format!("/ack/{link}")), Some(&responder)).await;
        assert!(page.status == 400 && page.body.contains(says), "{link}: {}", page.body);
    }
}

//! The portal in a real browser: headless Chromium driven through chromedriver (WebDriver, plain HTTP on
//! 127.0.0.1). A browser cannot set the load balancer's header, so each person gets a local proxy that does
//! what the ALB does: it drops any `x-amzn-oidc-data` the browser sent and adds one it signs for that
//! person. The portal therefore runs in its production mode and verifies every request for real.
//!
//! A member of staff files a CRITICAL report; a responder sees it, acknowledges it, adds a note, is refused
//! the closure without the post-mortem, then closes it with one; the reporter sees it closed. Screenshots
//! of each page go to `target/portal-screenshots/`.
//!
//! Chromium and chromedriver are Debian's; they are installed with apt-get when missing. Never skipped.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::portal::*;
use support::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Installs Debian's chromium and chromium-driver if either is missing; fails loudly if that does not work.
fn ensure_chromium() {
    let present = || Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if present() {
        return;
    }
    let apt = |args: &[&str]| {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap_or_else(|e| panic!("cannot run apt-get {args:?} to install Chromium: {e}"));
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    eprintln!("installing chromium and chromium-driver with apt-get (the browser test needs them)");
    let (ok, log) = apt(&["install", "-y", "chromium", "chromium-driver"]);
    if !ok || !present() {
        // A fresh machine may have no package lists yet.
        let (updated, update_log) = apt(&["update"]);
        let (ok, retry_log) = apt(&["install", "-y", "chromium", "chromium-driver"]);
        assert!(
            updated && ok && present(),
            "could not install Chromium for the browser test (run `apt-get install -y chromium chromium-driver` as \
             root):\n{log}\n{update_log}\n{retry_log}"
        );
    }
}

/// A running chromedriver on 127.0.0.1; killed when dropped.
struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    async fn start() -> Chromedriver {
        let port = free_addr().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Chromedriver { child, url: format!("http://127.0.0.1:{port}") };
        let http = Http::default();
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err()
            || http.get(&format!("{}/status", driver.url), None).await.status != 200
        {
            assert!(Instant::now() < deadline, "chromedriver did not start within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = repo().join("target/portal-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/portal-screenshots");
    dir
}

/// A screenshot of the whole page: the window is made as tall as the page first.
async fn shot(browser: &Client, name: &str) {
    browser.set_window_size(1280, 900).await.expect("resize the window");
    let sizes = browser
        .execute("return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]", vec![])
        .await
        .expect("the page's height");
    let size = |i: usize| sizes.get(i).and_then(|v| v.as_u64()).unwrap_or_default();
    let height = (size(0) + size(1)).clamp(900, 8000) as u32;
    browser.set_window_size(1280, height).await.expect("resize the window");
    let png = browser.screenshot().await.expect("screenshot");
    let path = screenshots().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot {}", path.display());
}

async fn text(browser: &Client) -> String {
    browser.find(Locator::Css("body")).await.expect("body").text().await.expect("text")
}

async fn type_into(browser: &Client, css: &str, value: &str) {
    let field = browser.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
    field.send_keys(value).await.unwrap_or_else(|e| panic!("typing into {css}: {e}"));
}

async fn click(browser: &Client, css: &str) {
    let element = browser.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
    element.click().await.unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// Clicks what submits a form or follows a link, and waits for the next page: the old document gone
/// (its root element stale) and the new one loaded.
async fn navigate(browser: &Client, css: &str) {
    let old = browser.find(Locator::Css("html")).await.expect("the page");
    click(browser, css).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while old.tag_name().await.is_ok() {
        assert!(Instant::now() < deadline, "clicking {css} led nowhere within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    loop {
        let state = browser.execute("return document.readyState", vec![]).await.ok();
        if state.as_ref().and_then(|s| s.as_str()) == Some("complete") {
            return;
        }
        assert!(Instant::now() < deadline, "the page after clicking {css} did not load within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_report_then_a_responder_acknowledges_notes_and_closes_it_in_chromium() {
    ensure_chromium();
    let stack = deploy_stack("portal-browser");
    let alb = Alb::start();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let cfg = config(dir.path(), &stack, "portal", &portal_section(addr, &alb.keys.url()));
    // Pages carry a link that acknowledges the incident in the portal (its address as people open it).
    let links = [
        ("GD_INCIDENTS__PAGING__PORTAL_URL", "https://incidents.example.com"),
        ("GD_INCIDENTS__PAGING__ACK_LINK_KEY", "a-key-of-at-least-thirty-two-characters"),
    ];
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let portal = PortalProcess::start_with_env(&cfg, addr, "browser", &links).await;
    let as_staff = Proxy::start(&alb, STAFF, &portal.url);
    let as_responder = Proxy::start(&alb, RESPONDER, &portal.url);
    let driver = Chromedriver::start().await;
    let profile = tempfile::tempdir().unwrap();

    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync",
                format!("--user-data-dir={}", profile.path().display()),
                "--window-size=1280,1800", "--hide-scrollbars",
            ],
        }),
    );
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session in headless Chromium");

    // Staff: the report form, filled in and sent. The title carries markup, which must show as text.
    let title = "Laptop <b>encrypted</b> by ransomware & files gone";
    browser.goto(&format!("{}/report", as_staff.url())).await.unwrap();
    let page = text(&browser).await;
    assert!(page.contains("Report an incident") && page.contains(STAFF), "{page}");
    type_into(&browser, "#title", title).await;
    type_into(
        &browser,
        "#description",
        "Ransom note on the screen of laptop L-0042 at 09:40; shared drive files renamed.",
    )
    .await;
    click(&browser, "input[name=level][value=CRITICAL]").await;
    shot(&browser, "01-staff-report-form").await;
    navigate(&browser, "form[action='/report'] button[type=submit]").await;
    let filed = browser.current_url().await.unwrap();
    assert!(filed.path().starts_with("/incidents/"), "after the report: {filed}\n{}", text(&browser).await);
    let id = filed.path().trim_start_matches("/incidents/").to_owned();
    let page = text(&browser).await;
    assert!(page.contains("Your report is recorded") && page.contains("You reported this incident"), "{page}");
    assert!(page.contains(title), "the title shows as typed, markup included: {page}");
    shot(&browser, "02-staff-report-filed").await;
    browser.goto(&format!("{}/reports/mine", as_staff.url())).await.unwrap();
    assert!(text(&browser).await.contains("1 report,"));
    shot(&browser, "03-staff-my-reports").await;

    // A title as long as a report's may be, one word without a break (GuardDuty's run longer still).
    browser.goto(&format!("{}/report", as_staff.url())).await.unwrap();
    let long = format!("Unusual{}", "x".repeat(293));
    type_into(&browser, "#title", &long).await;
    type_into(&browser, "#description", "A title that would stretch the list.").await;
    click(&browser, "input[name=level][value=LOW]").await;
    navigate(&browser, "form[action='/report'] button[type=submit]").await;

    // The responder: the list, the incident, acknowledge.
    browser.goto(&format!("{}/incidents", as_responder.url())).await.unwrap();
    let page = text(&browser).await;
    assert!(page.contains(title) && page.contains("CRITICAL") && page.contains(RESPONDER), "{page}");
    // Every column stays on screen whatever a title holds.
    let edges = browser
        .execute(
            "return [window.innerWidth, ...[...document.querySelectorAll('table.incidents th')].map(h => h.getBoundingClientRect().right)]",
            vec![],
        )
        .await
        .expect("measure the list");
    let edges: Vec<f64> = edges.as_array().unwrap().iter().filter_map(|v| v.as_f64()).collect();
    assert!(edges.len() == 8 && edges[1..].iter().all(|right| *right <= edges[0]), "window, column edges: {edges:?}");
    shot(&browser, "04-responder-incident-list").await;
    navigate(&browser, &format!("a[href='/incidents/{id}']")).await;
    let page = text(&browser).await;
    assert!(page.contains("Pages sent") && page.contains("Timeline") && page.contains("Evidence"), "{page}");
    assert!(page.contains(&format!("reported by {STAFF}")), "{page}");
    shot(&browser, "05-responder-incident").await;

    // The page the OCE got carries the link; opened (signed in through the load balancer), one click
    // acknowledges.
    let paged = aws.drain(&oce, 1, Duration::from_secs(30), Duration::ZERO).await;
    let body = &paged.first().expect("the OCE's page").body;
    let at = body.find("https://incidents.example.com/ack/").unwrap_or_else(|| panic!("no link in:\n{body}"));
    let link: String = body[at..].chars().take_while(|c| !c.is_whitespace()).collect();
    let path = link.trim_start_matches("https://incidents.example.com");
    browser.goto(&format!("{}{path}", as_responder.url())).await.unwrap();
    let page = text(&browser).await;
    assert!(page.contains("Acknowledge this incident?") && page.contains(title), "{page}");
    shot(&browser, "06a-responder-ack-link").await;
    navigate(&browser, "#acknowledge").await;
    let page = text(&browser).await;
    assert!(
        page.contains("Acknowledged: the incident is yours") && page.contains(&format!("by {RESPONDER}")),
        "{page}"
    );
    shot(&browser, "06-responder-acknowledged").await;

    // A timeline note.
    type_into(&browser, "#text", "Laptop isolated from the network; disk imaged for evidence.").await;
    navigate(&browser, &format!("form[action='/incidents/{id}/note'] button")).await;
    let page = text(&browser).await;
    assert!(page.contains("Note added") && page.contains("disk imaged for evidence"), "{page}");
    shot(&browser, "07-responder-noted").await;

    // A follow-up action (procedure 3.1: tracked to closure; a CRITICAL incident needs one to close).
    type_into(&browser, "#follow-text", "Review every EDR exclusion").await;
    type_into(&browser, "#follow-owner", "it-security").await;
    type_into(&browser, "#follow-due", "14d").await;
    navigate(&browser, "form[action$='/follow-up'] button").await;
    let page = text(&browser).await;
    assert!(page.contains("Follow-up action added") && page.contains("Review every EDR exclusion"), "{page}");

    // Closing a CRITICAL incident with notes alone: refused, the missing fields listed, nothing changed.
    type_into(&browser, "#notes", "Laptop reimaged, files restored from backup.").await;
    navigate(&browser, "#close button").await;
    let page = text(&browser).await;
    assert!(page.contains("Refused: closing this incident requires the post-mortem (CRITICAL"), "{page}");
    for label in ["Root cause", "Lessons learned", "Long-term mitigations", "Cost estimate"] {
        assert!(page.contains(label), "{label}: {page}");
    }
    assert!(page.contains("acknowledged"), "still acknowledged, not closed: {page}");
    browser.find(Locator::Css(".error")).await.expect("the refusal is shown");
    shot(&browser, "08-responder-close-refused").await;

    // With the post-mortem (the notes were kept in the form): closed.
    type_into(&browser, "#root_cause", "Macro-enabled attachment opened; EDR policy excluded the downloads folder.")
        .await;
    type_into(&browser, "#lessons_learned", "Exclusions need a review.").await;
    type_into(&browser, "#mitigations", "Block macros from the internet; remove EDR exclusions.").await;
    type_into(&browser, "#cost_estimate", "3 person-days").await;
    click(&browser, "input[name=legal_counsel][value=no]").await;
    click(&browser, "input[name=customers_notified][value=no]").await;
    click(&browser, "input[name=authorities_notified][value=no]").await;
    navigate(&browser, "#close button").await;
    let page = text(&browser).await;
    assert!(
        page.contains("Closed.") && page.contains("Closure") && page.contains("Exclusions need a review"),
        "{page}"
    );
    shot(&browser, "09-responder-closed").await;

    // The reporter sees where it stands.
    browser.goto(&format!("{}/reports/mine", as_staff.url())).await.unwrap();
    let page = text(&browser).await;
    assert!(page.contains("closed"), "{page}");
    shot(&browser, "10-staff-sees-it-closed").await;
    browser.close().await.expect("end the WebDriver session");

    // The command line agrees: the same table and rules, the people as who did what.
    let shown = gd_json(&cfg, &["incidents", "show", &id]);
    assert_eq!(shown["incident"]["status"], "closed");
    assert_eq!(shown["incident"]["reported_by"], STAFF);
    assert_eq!(shown["incident"]["closure"]["by"], RESPONDER);
    assert_eq!(shown["incident"]["closure"]["notes"], "Laptop reimaged, files restored from backup.");
    assert_eq!(shown["incident"]["title"], title);
    drop(driver);
}

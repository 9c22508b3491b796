//! The console as an operator uses it, in headless Chromium driven over WebDriver: log in, see
//! a dead job, bulk-retry it through the confirmation step and watch it complete, pause and
//! resume a queue, open an intent's timeline, run a reconciliation and download its CSV, check
//! the phone layout, log out — with no error in the browser's console (CSP violations
//! included). With `MALIPO_CONSOLE_SCREENSHOTS=<dir>` it saves screenshots of the main views.

use std::{
    io::Write,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator, wd::WebDriverCompatibleCommand};
use serde_json::{Value, json};

use crate::support::{Stack, eventually};

const LIMIT: Duration = Duration::from_secs(30);

/// chromedriver, started by the test on a free port and stopped by its pid.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Our own child, by its pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn found(path: &str) -> Option<PathBuf> {
    let candidate = PathBuf::from(path);
    if candidate.is_absolute() {
        return candidate.exists().then_some(candidate);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(path))
            .find(|p| p.exists())
    })
}

/// The driver, or `None` (with the reason printed) when no browser is installed, unless
/// `MALIPO_BROWSER_TESTS=required`, which turns the skip into a failure.
fn driver() -> Option<(Driver, PathBuf)> {
    let required = std::env::var("MALIPO_BROWSER_TESTS").is_ok_and(|v| v == "required");
    let chromedriver = found("chromedriver");
    let chromium = found("chromium").or_else(|| found("chromium-browser"));
    let (Some(chromedriver), Some(chromium)) = (chromedriver, chromium) else {
        let reason = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)";
        assert!(!required, "MALIPO_BROWSER_TESTS=required but {reason}");
        // Straight to the stderr handle: libtest captures `eprintln!`, and a skip must be seen.
        let _ = writeln!(std::io::stderr(), "SKIPPED browser test: {reason}");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    Some((Driver { child, port }, chromium))
}

async fn browser(driver: &Driver, chromium: &std::path::Path) -> Client {
    let address = format!("127.0.0.1:{}", driver.port);
    let up = eventually(Duration::from_secs(15), || async {
        tokio::net::TcpStream::connect(&address).await.is_ok()
    })
    .await;
    assert!(up, "chromedriver never listened on {address}");
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--hide-scrollbars"]
        },
        "goog:loggingPrefs": {"browser": "ALL"}
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("an object literal")
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://{address}"))
        .await
        .expect("a browser session")
}

/// chromedriver's log endpoint: what the page wrote to the browser console.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// Console messages at warning level or worse since the last call.
async fn console_problems(client: &Client) -> Vec<Value> {
    let log = client.issue_cmd(BrowserLog).await.expect("browser log");
    log.as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| matches!(e["level"].as_str(), Some("SEVERE" | "WARNING")))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

async fn screenshot(client: &Client, name: &str) {
    let Some(dir) = std::env::var_os("MALIPO_CONSOLE_SCREENSHOTS") else {
        return;
    };
    let png = client.screenshot().await.expect("screenshot");
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

// The page re-reads itself every few seconds and swaps its <main>: an element found a moment
// ago can be gone (stale) by the next command, so each lookup-and-use is retried until LIMIT.

/// Clicks what `css` finds and waits for the page the click loads. Every click here submits a
/// form or follows a link, and the click can return before the browser has replaced the page:
/// read at once, the old page's text would be read (a CI run read the dead-letter list where
/// the retry's confirmation was due).
async fn click(client: &Client, css: &str) {
    let old_page = client.find(Locator::Css("html")).await.expect("the page");
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let error = match client.find(Locator::Css(css)).await {
            Ok(element) => match element.click().await {
                Ok(()) => break,
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "clicking `{css}`: {error}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old page's root goes stale once the new page replaces it.
    let loaded = eventually(LIMIT, || async {
        old_page.tag_name().await.is_err()
            && client
                .execute("return document.readyState", Vec::new())
                .await
                .is_ok_and(|state| state == "complete")
    })
    .await;
    assert!(loaded, "clicking `{css}` loaded no new page");
}

async fn text(client: &Client, css: &str) -> String {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let error = match client.find(Locator::Css(css)).await {
            Ok(element) => match element.text().await {
                Ok(text) => return text,
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "reading `{css}`: {error}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The element's text now, or empty when it is not (or no longer) on the page.
async fn text_now(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn path(client: &Client) -> String {
    client.current_url().await.expect("url").path().to_owned()
}

#[tokio::test]
async fn an_operator_works_through_the_console_in_a_real_browser() {
    let Some((driver, chromium)) = driver() else {
        return;
    };
    let stack = Stack::start().await;
    // `localhost`, not 127.0.0.1: a secure context, where a `Secure` cookie is kept over http.
    let base = stack.base.replace("127.0.0.1", "localhost");
    let client = browser(&driver, &chromium).await;

    // Log in.
    client.goto(&format!("{base}/console")).await.expect("goto");
    assert_eq!(path(&client).await, "/console/login", "sent to log in");
    client
        .find(Locator::Css("#key"))
        .await
        .expect("key field")
        .send_keys(&stack.operator_key)
        .await
        .expect("type the key");
    screenshot(&client, "login").await;
    click(&client, "button[type=submit]").await;
    assert!(text(&client, "h1").await.contains("Queues"));
    assert_eq!(path(&client).await, "/console");

    // A dead job, bulk-retried through the confirmation step, completes.
    let job = stack.dead_job("254708374149").await;
    client
        .goto(&format!("{base}/console/dead?queue=bench"))
        .await
        .expect("goto");
    let listed = text(&client, "main").await;
    assert!(listed.contains(&job.to_string()) && listed.contains("provider said no"));
    assert!(!listed.contains("254708374149"));
    screenshot(&client, "dead-letters").await;
    click(
        &client,
        "form[action='/console/dead/preview'] input[value=retry] ~ button",
    )
    .await;
    let confirm = text(&client, "main").await;
    assert!(
        confirm.contains("This will retry 1 dead jobs where queue = bench"),
        "{confirm}"
    );
    screenshot(&client, "dead-letters-confirm").await;
    click(&client, "form[action='/console/dead/apply'] button").await;
    assert!(
        text(&client, ".notice")
            .await
            .contains("Retried 1 dead jobs")
    );
    assert!(
        eventually(LIMIT, || async { stack.job_state(job).await == "done" }).await,
        "the retried job never completed"
    );
    client
        .goto(&format!("{base}/console/jobs/{job}"))
        .await
        .expect("goto");
    assert_eq!(text(&client, "dl.facts .badge").await, "done");
    assert!(
        text(&client, "ol.timeline").await.contains("jobs.retry")
            || text(&client, "main").await.contains("finished done")
    );
    screenshot(&client, "job").await;

    // Pause and resume a queue.
    client.goto(&format!("{base}/console")).await.expect("goto");
    click(&client, "button[aria-label='Pause queue bench']").await;
    assert!(text(&client, "#queue-bench").await.contains("paused"));
    assert!(stack.paused("bench").await);
    screenshot(&client, "queues-paused").await;
    click(&client, "button[aria-label='Resume queue bench']").await;
    assert!(!text(&client, "#queue-bench").await.contains("paused"));
    assert!(!stack.paused("bench").await);
    // Live refresh: a change made elsewhere (here, straight in the database) shows up on the open
    // page without a reload.
    sqlx::query("UPDATE malipo_queues SET paused = true WHERE name = 'bench'")
        .execute(&stack.pool)
        .await
        .expect("pause behind the page's back");
    let refreshed = eventually(LIMIT, || async {
        text_now(&client, "#queue-bench").await.contains("paused")
    })
    .await;
    assert!(refreshed, "the open page never showed the pause");
    assert_eq!(path(&client).await, "/console", "no navigation happened");
    sqlx::query("UPDATE malipo_queues SET paused = false WHERE name = 'bench'")
        .execute(&stack.pool)
        .await
        .expect("resume");

    // An intent's page and timeline.
    let intent = stack.create_intent().await;
    assert!(
        eventually(LIMIT, || async {
            stack.intent_status(&intent).await == "held"
        })
        .await,
        "the intent was never paid"
    );
    stack.release_intent(&intent).await;
    assert!(
        eventually(LIMIT, || async {
            stack.intent_status(&intent).await == "settled"
        })
        .await,
        "the intent never settled"
    );
    client
        .goto(&format!("{base}/console/intents"))
        .await
        .expect("goto");
    screenshot(&client, "intents").await;
    click(&client, &format!("a[href='/console/intents/{intent}']")).await;
    let timeline = text(&client, "#timeline").await;
    for step in ["created", "awaiting_payment → held", "releasing", "settled"] {
        assert!(timeline.contains(step), "{step} missing from {timeline}");
    }
    let page = text(&client, "main").await;
    assert!(
        !page.contains("254708374149"),
        "the buyer's phone is masked"
    );
    assert!(
        page.contains("po_") && page.contains("succeeded"),
        "the payout and its reference"
    );
    assert!(
        page.contains(&format!("escrow:{intent}")),
        "the ledger entries"
    );
    screenshot(&client, "intent").await;
    client
        .execute(
            "document.getElementById('payouts').scrollIntoView();",
            vec![],
        )
        .await
        .expect("scroll");
    screenshot(&client, "intent-money").await;

    // A reconciliation run, its report and CSV.
    client
        .goto(&format!("{base}/console/reconciliations"))
        .await
        .expect("goto");
    click(
        &client,
        "form[action='/console/reconciliations/run'] button",
    )
    .await;
    assert!(
        text(&client, ".notice")
            .await
            .contains("Queued reconciliation job")
    );
    let reported = eventually(LIMIT, || async {
        client
            .goto(&format!("{base}/console/reconciliations"))
            .await
            .is_ok()
            && client.find(Locator::Css("a[download]")).await.is_ok()
    })
    .await;
    assert!(reported, "no report appeared");
    screenshot(&client, "reconciliations").await;
    click(&client, "tbody td a").await;
    assert!(text(&client, "h1").await.starts_with("Reconciliation "));
    screenshot(&client, "reconciliation-report").await;
    let href = client
        .find(Locator::Css("#csv"))
        .await
        .expect("csv link")
        .attr("href")
        .await
        .expect("href")
        .expect("an href");
    let csv = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.text().then(t => done([r.status, r.headers.get('content-disposition'), t])));",
            vec![json!(href)],
        )
        .await
        .expect("download");
    assert_eq!(csv[0], 200);
    assert!(
        csv[1].as_str().is_some_and(|d| d.starts_with("attachment")),
        "{csv}"
    );
    assert!(
        csv[2]
            .as_str()
            .is_some_and(|t| t.starts_with("class,kind,subject,detail\n")),
        "{csv}"
    );

    // Audit log shows what this operator did.
    client
        .goto(&format!("{base}/console/audit"))
        .await
        .expect("goto");
    let audit = text(&client, "main").await;
    for action in [
        "jobs.retry",
        "queue.pause",
        "queue.resume",
        "reconciliation.queue",
    ] {
        assert!(
            audit.contains(action),
            "{action} missing from the audit log"
        );
    }
    screenshot(&client, "audit").await;

    // A phone-sized window: nothing wider than the screen (tables scroll in their box).
    client.set_window_size(390, 844).await.expect("resize");
    for page in [
        "/console",
        "/console/dead",
        &format!("/console/intents/{intent}"),
    ] {
        client.goto(&format!("{base}{page}")).await.expect("goto");
        let fits = client
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
                vec![],
            )
            .await
            .expect("measure");
        assert_eq!(fits, json!(true), "{page} is wider than 390 px");
    }
    client.goto(&format!("{base}/console")).await.expect("goto");
    screenshot(&client, "queues-390px").await;
    client.set_window_size(1280, 900).await.expect("resize");
    client.goto(&format!("{base}/console")).await.expect("goto");
    screenshot(&client, "queues").await;

    // Nothing went wrong in the browser: no CSP violation, no script error, no failed load.
    let problems = console_problems(&client).await;
    assert!(problems.is_empty(), "browser console: {problems:?}");

    // Log out.
    click(&client, "form[action='/console/logout'] button").await;
    assert!(
        eventually(LIMIT, || async { path(&client).await == "/console/login" }).await,
        "logging out did not lead to the login page"
    );
    client.goto(&format!("{base}/console")).await.expect("goto");
    assert_eq!(path(&client).await, "/console/login", "the session is over");
    client.close().await.expect("close the browser");
}

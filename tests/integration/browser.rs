//! The dashboard in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`; `.ci/run` installs them). It
//! logs in through the form, reads every chart's and table's numbers from the
//! DOM, filters the latest mentions, opens a product page and keeps
//! screenshots (desktop and phone width) under `target/test-artifacts/`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::dashboard::{Dash, TOKEN, check_overview, check_product, day, range_query, rows, text};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process, killed (by its id) when dropped, even when the
/// test panics. The browser it starts is quit through its session first
/// (see [`Browser`]'s `Drop`).
struct Driver {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        for path in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the browser test needs `apt-get install chromium chromium-driver`"
            );
        }
        // A free port: bound, read, released; chromedriver takes it next.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (apt-get install chromium chromium-driver)");
        let stdout = child.stdout.take().expect("piped stdout");
        let addr = format!("127.0.0.1:{port}");
        let mut driver = Driver { child, url: format!("http://{addr}"), addr };
        // Ready when it says so; its later output is drained so it never blocks on a full pipe.
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("started successfully") => break,
                Some(Ok(_)) => continue,
                _ => {
                    let status = driver.child.try_wait().ok().flatten();
                    panic!("chromedriver did not start (exit {status:?})");
                }
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A W3C WebDriver session, spoken as JSON over HTTP.
///
/// Not fantoccini (the dev-dependency): its `ClientBuilder::rustls()` needs a
/// process-wide rustls crypto provider, and this build has two (ring through
/// reqwest, aws-lc-rs through hyper-rustls), so it panics before connecting.
/// The dozen commands used here are small enough to send directly.
struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    /// The driver's `127.0.0.1:PORT` and the session's path, for `Drop`.
    addr: String,
    path: String,
    closed: bool,
}

impl Drop for Browser {
    /// Quits the browser when a test ends without [`Browser::close`] (a
    /// panic): a blocking DELETE, since `Drop` cannot await, so no Chromium
    /// outlives the test.
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        use std::io::{Read, Write};
        if let Ok(mut stream) = std::net::TcpStream::connect(&self.addr) {
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(20)));
            let _ = write!(
                stream,
                "DELETE {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                self.path, self.addr
            );
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}

impl Browser {
    /// Headless Chromium at 1280x900; element lookups wait up to 10 s for
    /// the element (the driver waits, the test does not sleep).
    async fn start(driver: &Driver) -> Browser {
        let http = reqwest::Client::new();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "timeouts": {"implicit": 10_000, "pageLoad": 30_000, "script": 10_000},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                         "--disable-dev-shm-usage", "--hide-scrollbars"],
            },
        }}});
        let reply =
            send(&http, reqwest::Method::POST, &format!("{}/session", driver.url), Some(capabilities)).await;
        let id = reply["sessionId"].as_str().expect("a session id").to_owned();
        Browser {
            http,
            session: format!("{}/session/{id}", driver.url),
            addr: driver.addr.clone(),
            path: format!("/session/{id}"),
            closed: false,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        send(&self.http, method, &format!("{}{path}", self.session), body).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.cmd(reqwest::Method::GET, path, None).await
    }

    async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    async fn url(&self) -> url::Url {
        url::Url::parse(self.get("/url").await.as_str().expect("a URL")).expect("a valid URL")
    }

    /// The first element matching `css` (waiting for it to appear).
    async fn find(&self, css: &str) -> String {
        let found = self.post("/element", json!({"using": "css selector", "value": css})).await;
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {found}")).to_owned()
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/value"), json!({"text": text})).await;
    }

    /// The rendered text of the first element matching `css`.
    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.get(&format!("/element/{id}/text")).await.as_str().expect("text").to_owned()
    }

    async fn execute(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []})).await
    }

    async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height})).await;
    }

    async fn screenshot(&self) -> Vec<u8> {
        base64_decode(self.get("/screenshot").await.as_str().expect("base64 PNG"))
    }

    async fn source(&self) -> String {
        self.get("/source").await.as_str().expect("page source").to_owned()
    }

    async fn close(mut self) {
        send(&self.http, reqwest::Method::DELETE, &self.session, None).await;
        self.closed = true;
    }
}

/// One WebDriver command: its `value`, or a panic with the driver's error.
async fn send(http: &reqwest::Client, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("WebDriver {url}: {e}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_else(|e| panic!("WebDriver {url}: {e}"));
    let reply: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("WebDriver {url}: {e}: {text}"));
    assert!(status.is_success(), "WebDriver {url}: {status} {}", reply["value"]);
    reply["value"].clone()
}

/// Standard base64 (what WebDriver screenshots come in).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> =
        text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// The page's DOM as the browser has it, parsed.
async fn dom(b: &Browser) -> scraper::Html {
    scraper::Html::parse_document(&b.source().await)
}

/// Resizes the window to `width` and the page's full height, and saves a screenshot.
async fn screenshot(b: &Browser, width: u32, name: &str) {
    b.resize(width, 900).await;
    // The window is taller than the page's viewport by the browser's own frame.
    let sizes = b
        .execute("return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];")
        .await;
    let (page, frame) = (sizes[0].as_u64().expect("a number"), sizes[1].as_u64().unwrap_or(0));
    b.resize(width, (page + frame).clamp(600, 12_000) as u32).await;
    let png = b.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let dir = crate::helpers::repo().join("target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    let path = dir.join(name);
    std::fs::write(&path, &png).expect("write screenshot");
    println!("screenshot: {}", path.display());
}

#[test]
fn browser_base64_decodes() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}

#[tokio::test]
async fn browser_dashboard_logs_in_shows_the_numbers_and_filters() {
    let s = Dash::start().await;
    let driver = Driver::start();
    let b = Browser::start(&driver).await;

    // The dashboard sends a stranger to the login form.
    b.goto(&format!("{}/", s.base)).await;
    assert_eq!(b.url().await.path(), "/login");
    b.type_into("input[name=token]", "wrong").await;
    b.click("form[action='/login'] button").await;
    assert_eq!(b.text("#login-error").await, "That token is not right.");
    b.type_into("input[name=token]", TOKEN).await;
    b.click("form[action='/login'] button").await;
    b.find("#kpi-mentions").await;
    let url = b.url().await;
    assert_eq!(url.path(), "/");
    assert!(!url.as_str().contains(TOKEN), "the token is never in a URL: {url}");

    // Every chart and table, as the browser shows it.
    b.goto(&format!("{}/{}", s.base, range_query(""))).await;
    assert_eq!(b.text("#kpi-mentions .v").await, "50", "rendered, not only in the source");
    assert_eq!(b.text("#share g.share[data-brand='Kestrel'] text.dl").await, "62.5% (50)");
    assert_eq!(b.text("#volume-table tfoot").await, "Total 50 16 16 17 1 -0.02");
    check_overview(&dom(&b).await);
    screenshot(&b, 1280, "dashboard-desktop.png").await;

    // A filter through the form: the rows change.
    b.resize(1280, 900).await;
    b.click("form.filters select[name=sentiment] option[value=negative]").await;
    b.click("form.filters button[type=submit]").await;
    b.find("#mentions-count[data-count='17']").await;
    let filtered = dom(&b).await;
    let shown = rows(&filtered, "#mentions-table tbody tr");
    assert_eq!(shown.len(), 17);
    assert!(shown.iter().all(|r| r[2].starts_with("negative")), "{shown:?}");
    let url = b.url().await;
    assert!(url.query().is_some_and(|q| q.contains("sentiment=negative") && !q.contains(TOKEN)), "{url}");
    assert_eq!(text(&filtered, "#kpi-mentions .v"), "50", "the charts stay the same");

    // The phone: one column, and nothing wider than the screen but the scrolling tables and charts.
    b.goto(&format!("{}/{}", s.base, range_query(""))).await;
    b.resize(390, 844).await;
    let width = b.execute("return window.innerWidth;").await.as_u64().expect("number");
    assert!(width <= 400, "the window is phone-sized ({width} px)");
    let overflow = b
        .execute("return document.documentElement.scrollWidth - window.innerWidth;")
        .await
        .as_i64()
        .expect("number");
    assert!(overflow <= 0, "the page does not scroll sideways on a phone ({overflow} px too wide)");
    let columns = b
        .execute(
            "return getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length;",
        )
        .await
        .as_u64()
        .expect("number");
    assert_eq!(columns, 1, "one column on a phone");
    screenshot(&b, 390, "dashboard-phone.png").await;

    // A product page, reached by its link.
    b.resize(1280, 900).await;
    b.goto(&format!("{}/{}", s.base, range_query(""))).await;
    b.click("#products-table tr[data-sku='KM-X200'] a").await;
    b.find("#aspects-table").await;
    assert_eq!(b.url().await.path(), "/products/KM-X200");
    let product = dom(&b).await;
    check_product(&product);
    assert!(text(&product, "#headline").contains(&day(0).to_string()));
    screenshot(&b, 1280, "dashboard-product.png").await;

    b.close().await;
}

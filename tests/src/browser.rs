//! A real browser for the page's tests: headless Chromium driven over the W3C WebDriver protocol
//! by `chromedriver`, which each [`Driver`] starts on a free port and stops when dropped.
//!
//! The protocol is plain JSON over HTTP, so this is a small client over `reqwest` rather than a
//! WebDriver crate: the handful of commands the tests use (navigate, find, click, type, run a
//! script, pointer actions, screenshots) and a polling [`Browser::wait`].

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The key WebDriver's element references are stored under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long [`Browser::wait`] waits by default.
pub const WAIT: Duration = Duration::from_secs(10);

/// Keys for [`Browser::keys`], as the WebDriver protocol codes them.
pub mod key {
    /// Alt (held until [`NULL`]).
    pub const ALT: char = '\u{E00A}';
    /// Releases held modifiers.
    pub const NULL: char = '\u{E000}';
    /// Enter.
    pub const ENTER: char = '\u{E007}';
    /// Arrow keys.
    pub const LEFT: char = '\u{E012}';
    /// Arrow up.
    pub const UP: char = '\u{E013}';
    /// Arrow right.
    pub const RIGHT: char = '\u{E014}';
    /// Arrow down.
    pub const DOWN: char = '\u{E015}';
}

/// A running `chromedriver`, killed when dropped.
#[derive(Debug)]
pub struct Driver {
    process: Child,
    url: String,
    client: reqwest::Client,
}

impl Driver {
    /// Starts `chromedriver` (from `TASKLANE_CHROMEDRIVER`, else the `PATH`) on a free port and
    /// waits until it is ready.
    ///
    /// # Errors
    /// When it is not installed (the message says how to install it) or does not become ready.
    pub async fn start() -> anyhow::Result<Self> {
        let program =
            std::env::var("TASKLANE_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let process = Command::new(&program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {program}: the browser tests need Chromium and ChromeDriver \
                     (`apt-get install chromium chromium-driver`; .ci/run installs them)"
                )
            })?;
        let driver = Self {
            process,
            url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let started = Instant::now();
        loop {
            let ready = driver
                .client
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .ok();
            if let Some(response) = ready {
                let status: Value = response.json().await.unwrap_or_default();
                if status["value"]["ready"] == json!(true) {
                    return Ok(driver);
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("chromedriver did not become ready on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new desktop browser (its own profile: storage, cookies) with a `width`×`height` window.
    ///
    /// # Errors
    /// When Chromium cannot be started.
    pub async fn browser(&self, width: u32, height: u32) -> anyhow::Result<Browser> {
        self.open(width, height, None).await
    }

    /// A new browser emulating a phone's `width`×`height` viewport (a window cannot be made
    /// that narrow).
    ///
    /// # Errors
    /// When Chromium cannot be started.
    pub async fn phone(&self, width: u32, height: u32) -> anyhow::Result<Browser> {
        let metrics =
            json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0}});
        self.open(width, height, Some(metrics)).await
    }

    async fn open(
        &self,
        width: u32,
        height: u32,
        mobile: Option<Value>,
    ) -> anyhow::Result<Browser> {
        let binary =
            std::env::var("TASKLANE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless=new",
                    // Root in a container has no user namespace for Chromium's sandbox.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    format!("--window-size={width},{height}"),
                ],
            },
        }}});
        if let Some(mobile) = mobile {
            capabilities["capabilities"]["alwaysMatch"]["goog:chromeOptions"]["mobileEmulation"] =
                mobile;
        }
        let answer = command(
            &self.client,
            reqwest::Method::POST,
            &format!("{}/session", self.url),
            Some(capabilities),
        )
        .await
        .context("starting a Chromium session")?;
        let id = answer["sessionId"]
            .as_str()
            .context("no session id")?
            .to_owned();
        Ok(Browser {
            client: self.client.clone(),
            session: format!("{}/session/{id}", self.url),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Killing chromedriver leaves its Chromium children orphaned until they notice; closing
        // sessions first ([`Browser::close`]) ends them properly.
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// One browser session.
#[derive(Debug, Clone)]
pub struct Browser {
    client: reqwest::Client,
    session: String,
}

async fn command(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("WebDriver {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("WebDriver {url}: {status} {}", body["value"]);
    }
    Ok(body["value"].clone())
}

impl Browser {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        command(
            &self.client,
            method,
            &format!("{}{path}", self.session),
            body,
        )
        .await
    }

    /// Opens `url`.
    ///
    /// # Errors
    /// When the browser cannot.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await
            .map(drop)
    }

    /// The element `css` selects (the first), waiting up to [`WAIT`] for it to exist.
    ///
    /// # Errors
    /// When nothing matches in time.
    pub async fn find(&self, css: &str) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let found = self
                .call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if let Ok(element) = found
                && let Some(id) = element[ELEMENT].as_str()
            {
                return Ok(id.to_owned());
            }
            if started.elapsed() > WAIT {
                bail!("no element matches {css}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Clicks the element `css` selects.
    ///
    /// # Errors
    /// When it is missing or cannot be clicked.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.on_element(css, "click", json!({})).await
    }

    /// Types `text` into the element `css` selects (its focus moves there).
    ///
    /// # Errors
    /// When it is missing or takes no input.
    pub async fn keys(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.on_element(css, "value", json!({"text": text})).await
    }

    /// Sends `command` to the element `css` selects. The page draws its cards again on every
    /// change, so an element found a moment ago may be gone: it is then found again (up to
    /// [`WAIT`]), as a person would simply click the card that is there now.
    async fn on_element(&self, css: &str, command: &str, body: Value) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let id = self.find(css).await?;
            let done = self
                .call(
                    reqwest::Method::POST,
                    &format!("/element/{id}/{command}"),
                    Some(body.clone()),
                )
                .await;
            match done {
                Err(error)
                    if error.to_string().contains("stale element reference")
                        && started.elapsed() < WAIT => {}
                other => return other.map(drop),
            }
        }
    }

    /// Empties the field `css` selects and types `text` into it.
    ///
    /// # Errors
    /// When it is missing or takes no input.
    pub async fn replace(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.on_element(css, "clear", json!({})).await?;
        self.keys(css, text).await
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and answers its return value.
    ///
    /// # Errors
    /// When the script throws.
    pub async fn run(&self, script: &str, args: Value) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Runs the expression `condition` until it is truthy (up to `within`), and answers its value.
    ///
    /// # Errors
    /// When it stays falsy, with `what` in the message.
    pub async fn wait(
        &self,
        what: &str,
        condition: &str,
        within: Duration,
    ) -> anyhow::Result<Value> {
        let started = Instant::now();
        let script = format!("return ({condition});");
        loop {
            let value = self.run(&script, json!([])).await?;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("");
            if truthy {
                return Ok(value);
            }
            if started.elapsed() > within {
                bail!("waited {within:?} for {what} ({condition}), last value {value}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Presses `chord` on the focused element: each key down in order, then up in reverse.
    ///
    /// # Errors
    /// When the browser refuses the actions.
    pub async fn press(&self, chord: &[char]) -> anyhow::Result<()> {
        let mut actions: Vec<Value> = chord
            .iter()
            .map(|k| json!({"type": "keyDown", "value": k.to_string()}))
            .collect();
        actions.extend(
            chord
                .iter()
                .rev()
                .map(|k| json!({"type": "keyUp", "value": k.to_string()})),
        );
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.call(reqwest::Method::POST, "/actions", Some(body))
            .await
            .map(drop)
    }

    /// Presses the pointer on the element `from` selects and drags it to `to`'s centre, moved by
    /// `dy` pixels, in small steps, then releases it: pointer events as a mouse makes them.
    ///
    /// # Errors
    /// When either element is missing.
    pub async fn drag(&self, from: &str, to: &str, dy: i64) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let from = self.find(from).await?;
            let to = self.find(to).await?;
            let actions = json!({"actions": [{
                "type": "pointer",
                "id": "mouse",
                "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "origin": {ELEMENT: from}, "x": 0, "y": 0},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerMove", "origin": "pointer", "x": 10, "y": 10, "duration": 50},
                    {"type": "pointerMove", "origin": {ELEMENT: to}, "x": 0, "y": dy, "duration": 250},
                    {"type": "pointerMove", "origin": {ELEMENT: to}, "x": 1, "y": dy, "duration": 50},
                    {"type": "pointerUp", "button": 0},
                ],
            }]});
            let done = self
                .call(reqwest::Method::POST, "/actions", Some(actions))
                .await;
            // A card drawn again before the gesture started: release and start over on the new one.
            match done {
                Err(error)
                    if error.to_string().contains("stale element reference")
                        && started.elapsed() < WAIT =>
                {
                    self.call(reqwest::Method::DELETE, "/actions", None).await?;
                }
                other => return other.map(drop),
            }
        }
    }

    /// Writes a PNG of the window to `path` (its folder is made).
    ///
    /// # Errors
    /// When the browser or the file system fails.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let encoded = self.call(reqwest::Method::GET, "/screenshot", None).await?;
        let png = decode_base64(encoded.as_str().context("screenshot is not text")?)?;
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Runs a Chrome DevTools Protocol command (ChromeDriver's `goog/cdp/execute`).
    ///
    /// # Errors
    /// When the browser refuses it.
    pub async fn cdp(&self, command: &str, params: Value) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": command, "params": params})),
        )
        .await
    }

    /// The handles of the session's windows and tabs.
    ///
    /// # Errors
    /// When the browser refuses.
    pub async fn windows(&self) -> anyhow::Result<Vec<String>> {
        let handles = self
            .call(reqwest::Method::GET, "/window/handles", None)
            .await?;
        Ok(serde_json::from_value(handles)?)
    }

    /// The handle of the window commands go to.
    ///
    /// # Errors
    /// When the browser refuses.
    pub async fn window(&self) -> anyhow::Result<String> {
        let handle = self.call(reqwest::Method::GET, "/window", None).await?;
        Ok(handle.as_str().context("no window handle")?.to_owned())
    }

    /// Sends the next commands to the window `handle`.
    ///
    /// # Errors
    /// When there is no such window.
    pub async fn switch_to(&self, handle: &str) -> anyhow::Result<()> {
        self.call(
            reqwest::Method::POST,
            "/window",
            Some(json!({"handle": handle})),
        )
        .await
        .map(drop)
    }

    /// Ends the session (and its Chromium).
    ///
    /// # Errors
    /// When the driver is gone.
    pub async fn close(&self) -> anyhow::Result<()> {
        self.call(reqwest::Method::DELETE, "", None).await.map(drop)
    }
}

/// Where the browser tests write what a person should look at: `target/browser/`.
pub fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("browser")
}

/// Standard base64 (screenshots arrive in it).
fn decode_base64(text: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => bail!("not base64: {}", c as char),
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() -> anyhow::Result<()> {
        assert_eq!(decode_base64("aGVsbG8=")?, b"hello");
        assert_eq!(decode_base64("aGVsbG8h")?, b"hello!");
        assert_eq!(decode_base64("aA==")?, b"h");
        assert!(decode_base64("a*").is_err());
        Ok(())
    }
}

//! Headless Chromium driven over the Chrome DevTools Protocol: a small client on the
//! websocket the tests already use, so nothing downloads a browser and nothing needs a
//! network beyond 127.0.0.1. It navigates, evaluates JavaScript, clicks with real mouse
//! events, records dialogs and uncaught exceptions, and takes screenshots.

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// The Debian Chromium binary.
pub fn chromium() -> String {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(String::from)
        .expect("Chromium not found: scripts/test-all.sh installs the `chromium` package")
}

/// Where the browser tests put their screenshots: `$CARGO_TARGET_DIR/operations-page` (or
/// `target/operations-page`), created on demand.
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| {
        // The test executable lives in <target>/debug/deps.
        std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "target".into())
    });
    let dir = PathBuf::from(target).join("operations-page");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// A headless Chromium process with one page attached over the DevTools protocol.
pub struct Browser {
    child: Child,
    profile: PathBuf,
    sink: Arc<tokio::sync::Mutex<SplitSink<Socket, Message>>>,
    pending: Pending,
    events: Arc<Mutex<Vec<Value>>>,
    next_id: AtomicU64,
}

impl Browser {
    /// Starts Chromium with a fresh profile and a `width`×`height` window.
    pub async fn launch(name: &str, width: u32, height: u32) -> Browser {
        let profile =
            std::env::temp_dir().join(format!("ioc-chromium-{name}-{}", crate::unique_root("cdp")));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let mut child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().expect("chromium stderr");
        let (found, listening) = std::sync::mpsc::channel();
        // Chromium prints the DevTools address on stderr; the rest is drained so it never blocks.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = found.send(url.trim().to_string());
                }
            }
        });
        let browser_url = listening
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium did not print its DevTools address");
        let http_base = browser_url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .map(|host| format!("http://{host}"))
            .expect("DevTools address");
        let page_url = page_target(&http_base).await;
        let (socket, _) = tokio_tungstenite::connect_async(&page_url)
            .await
            .expect("connect to the page's DevTools socket");
        let (sink, mut stream) = socket.split();
        let sink = Arc::new(tokio::sync::Mutex::new(sink));
        let pending: Pending = Arc::default();
        let events: Arc<Mutex<Vec<Value>>> = Arc::default();
        let (reader_pending, reader_events, reader_sink) =
            (pending.clone(), events.clone(), sink.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if let Some(id) = frame["id"].as_u64() {
                    if let Some(reply) = reader_pending.lock().expect("pending").remove(&id) {
                        let _ = reply.send(frame);
                    }
                    continue;
                }
                // A dialog blocks the page until answered: record it, then dismiss it.
                if frame["method"] == "Page.javascriptDialogOpening" {
                    let dismiss = json!({"id": 0, "method": "Page.handleJavaScriptDialog", "params": {"accept": false}});
                    let _ = reader_sink
                        .lock()
                        .await
                        .send(Message::text(dismiss.to_string()))
                        .await;
                }
                reader_events.lock().expect("events").push(frame);
            }
        });
        let browser = Browser {
            child,
            profile,
            sink,
            pending,
            events,
            next_id: AtomicU64::new(1),
        };
        browser.call("Page.enable", json!({})).await;
        browser.call("Runtime.enable", json!({})).await;
        browser.set_viewport(width, height).await;
        browser
    }

    /// Sends one DevTools command and returns its `result`; panics on a protocol error.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.pending.lock().expect("pending").insert(id, reply);
        let command = json!({"id": id, "method": method, "params": params});
        self.sink
            .lock()
            .await
            .send(Message::text(command.to_string()))
            .await
            .expect("send a DevTools command");
        let frame = tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .unwrap_or_else(|_| panic!("{method}: no answer within 30 s"))
            .expect("DevTools socket closed");
        assert!(frame["error"].is_null(), "{method}: {}", frame["error"]);
        frame["result"].clone()
    }

    /// Sets the page's viewport (CSS pixels, scale 1).
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
    }

    /// Loads `url` and waits for the new document's load event.
    pub async fn navigate(&self, url: &str) {
        let loads_before = self.events("Page.loadEventFired").len();
        self.call("Page.navigate", json!({"url": url})).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.events("Page.loadEventFired").len() == loads_before {
            assert!(Instant::now() < deadline, "{url} did not load within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Evaluates a JavaScript expression (promises awaited) and returns its value as JSON;
    /// panics when it throws.
    pub async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression} threw: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Polls `expression` until its value is truthy and returns it; panics after `timeout`
    /// with the last value.
    pub async fn wait_until(&self, expression: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(expression).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for `{expression}`, last value {value}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the centre of the first element matching `selector` with real mouse events.
    pub async fn click(&self, selector: &str) {
        let selector_js = serde_json::to_string(selector).expect("selector");
        let point = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({selector_js}); if (!e) return null; \
                 e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
                 return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
            ))
            .await;
        let (x, y) = match (point[0].as_f64(), point[1].as_f64()) {
            (Some(x), Some(y)) => (x, y),
            _ => panic!("nothing to click at {selector}"),
        };
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )
            .await;
        }
    }

    /// Types `text` into the first element matching `selector` (focused first).
    pub async fn type_into(&self, selector: &str, text: &str) {
        let selector_js = serde_json::to_string(selector).expect("selector");
        self.eval(&format!("document.querySelector({selector_js}).focus()"))
            .await;
        self.call("Input.insertText", json!({"text": text})).await;
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        std::fs::write(path, bytes).expect("write screenshot");
    }

    /// The protocol events named `method` seen so far (dialogs, exceptions …).
    pub fn events(&self, method: &str) -> Vec<Value> {
        self.events
            .lock()
            .expect("events")
            .iter()
            .filter(|e| e["method"] == method)
            .cloned()
            .collect()
    }

    /// Dialogs (`alert`, `confirm`, `prompt`) the page opened.
    pub fn dialogs(&self) -> Vec<Value> {
        self.events("Page.javascriptDialogOpening")
    }

    /// Uncaught exceptions of the page's scripts, as their descriptions.
    pub fn exceptions(&self) -> Vec<String> {
        self.events("Runtime.exceptionThrown")
            .iter()
            .map(|e| e["params"]["exceptionDetails"].to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The DevTools websocket of the browser's first page.
async fn page_target(http_base: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = reqwest::get(format!("{http_base}/json/list")).await
            && let Ok(targets) = response.json::<Vec<Value>>().await
            && let Some(url) = targets
                .iter()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        {
            return url.to_string();
        }
        assert!(Instant::now() < deadline, "no page target in Chromium");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Loads `url` in headless Chromium with a fresh profile named `profile_name` and returns the
/// DOM after the page's scripts ran (up to 8 s of virtual time).
pub fn dump_dom(url: &str, profile_name: &str) -> String {
    let profile = std::env::temp_dir().join(format!("chromium-{profile_name}"));
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=8000",
            "--run-all-compositor-stages-before-draw",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

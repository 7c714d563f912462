//! Starting, stopping and killing the engine process.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which broker the engine connects to.
#[derive(Debug, Clone)]
pub enum Broker {
    /// An external broker URL (Mosquitto).
    External(String),
    /// The engine's in-process broker on this port.
    Embedded(u16),
}

impl Broker {
    /// The machine's Mosquitto (or `IOC_TEST_MQTT`).
    pub fn external() -> Self {
        Broker::External(crate::test_broker_url())
    }

    /// An embedded broker on a free port.
    pub fn embedded() -> Self {
        Broker::Embedded(crate::free_port())
    }

    /// `(host, port)` publishers connect to.
    pub fn address(&self) -> (String, u16) {
        match self {
            Broker::Embedded(port) => ("127.0.0.1".into(), *port),
            Broker::External(url) => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
                let rest = rest.rsplit('@').next().unwrap_or(rest);
                match rest.rsplit_once(':') {
                    Some((host, port)) => (host.to_string(), port.parse().unwrap_or(1883)),
                    None => (rest.to_string(), 1883),
                }
            }
        }
    }
}

/// How to start an engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The broker.
    pub broker: Broker,
    /// Topic root (unique per test).
    pub topic_root: String,
    /// Extra `serve` flags.
    pub extra_args: Vec<String>,
    /// Extra environment variables of the engine process (`IOC_OPEN311_API_KEYS` …).
    pub env: Vec<(String, String)>,
    /// Where the engine's log (stderr) goes; `None` = the test's stderr.
    pub log_file: Option<PathBuf>,
    /// Largest file the engine process may write (RLIMIT_FSIZE, with SIGXFSZ ignored so that
    /// a write past it fails with EFBIG): a real journal write error.
    pub file_size_limit: Option<u64>,
    /// Names the data directory instead of the topic root, so several engines of one
    /// cluster share a topic root with a data directory each.
    pub data_dir_name: Option<String>,
}

impl EngineOptions {
    /// Options for a test named `test` on the machine's broker.
    pub fn new(test: &str) -> Self {
        Self {
            broker: Broker::external(),
            topic_root: crate::unique_root(test),
            extra_args: Vec::new(),
            env: Vec::new(),
            log_file: None,
            file_size_limit: None,
            data_dir_name: None,
        }
    }

    /// The same with one more environment variable for the engine.
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// The same on an embedded broker.
    pub fn embedded(test: &str) -> Self {
        Self {
            broker: Broker::embedded(),
            ..Self::new(test)
        }
    }
}

/// A running engine process and what it needs to be restarted on the same data.
pub struct Engine {
    child: Option<Child>,
    /// Options it was started with.
    pub options: EngineOptions,
    /// Its data directory (kept across restarts, removed on drop).
    pub data_dir: PathBuf,
    /// Its HTTP port (picked by the engine at the first start, kept across restarts).
    pub port: u16,
    /// An admin token.
    pub token: String,
    http: reqwest::Client,
}

/// The `ioc` binary: `IOC_BIN`, else next to the test executable's `deps/` folder.
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("IOC_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = dir.join("ioc");
    assert!(
        path.exists(),
        "{} not found: run `cargo build --bin ioc` first or set IOC_BIN",
        path.display()
    );
    path
}

impl Engine {
    /// Starts an engine on a fresh data directory and waits until it is ready.
    pub async fn start(options: EngineOptions) -> Engine {
        let engine = Engine::launch(options);
        engine.wait_ready().await;
        engine
    }

    /// Starts an engine on a fresh data directory without waiting for readiness.
    pub fn launch(options: EngineOptions) -> Engine {
        let name = options
            .data_dir_name
            .as_ref()
            .unwrap_or(&options.topic_root);
        let data_dir = std::env::temp_dir().join(format!("ioc-test-{name}"));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let token = mint(&data_dir, "admin");
        let mut engine = Engine {
            child: None,
            options,
            data_dir,
            port: 0,
            token,
            http: reqwest::Client::new(),
        };
        engine.spawn_process();
        engine.port = engine.bound_port();
        engine
    }

    /// Waits (up to 60 s) for the port the engine bound, which it writes to
    /// `<data dir>/listen.addr`; 0 when the process exits first (a test of a failed start).
    fn bound_port(&mut self) -> u16 {
        let path = self.data_dir.join("listen.addr");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let port = std::fs::read_to_string(&path).ok().and_then(|text| {
                text.trim()
                    .parse::<std::net::SocketAddr>()
                    .ok()
                    .map(|addr| addr.port())
            });
            if let Some(port) = port {
                return port;
            }
            if !self.is_running() {
                return 0;
            }
            assert!(
                Instant::now() < deadline,
                "engine wrote no {} within 60 s",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    async fn spawn(&mut self) {
        self.spawn_process();
        self.wait_ready().await;
    }

    fn spawn_process(&mut self) {
        let mut command = match self.options.file_size_limit {
            // `ulimit -f` counts 512-byte blocks; an ignored signal stays ignored across exec.
            Some(bytes) => {
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(format!(
                        "trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"",
                        bytes.div_ceil(512)
                    ))
                    .arg(binary());
                shell
            }
            None => Command::new(binary()),
        };
        let stderr = match &self.options.log_file {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(Stdio::from)
                .expect("engine log file"),
            None => Stdio::inherit(),
        };
        // The first start binds port 0 (no race for a free port); restarts keep the port.
        let _ = std::fs::remove_file(self.data_dir.join("listen.addr"));
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--topic-root")
            .arg(&self.options.topic_root)
            .args(&self.options.extra_args)
            .env_remove("IOC_JWT_SECRET")
            .env("IOC_LOG", "warn")
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(stderr);
        match &self.options.broker {
            Broker::External(url) => {
                command.arg("--mqtt").arg(url);
            }
            Broker::Embedded(port) => {
                command
                    .arg("--mqtt")
                    .arg("embedded")
                    .arg("--embedded-mqtt-port")
                    .arg(port.to_string());
            }
        }
        self.child = Some(command.spawn().expect("start ioc serve"));
    }

    /// Whether the engine process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// `/readyz`: the status code and the body (`{"ready":…,"checks":{…}}`); `(0, Null)` when
    /// the engine does not answer.
    pub async fn readyz(&self) -> (u16, Value) {
        match self.http.get(self.url("/readyz")).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or_default())
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// Waits (up to 60 s) until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = self.http.get(self.url("/readyz")).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "engine not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:port` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The websocket URL with the admin token in the query.
    pub fn ws_url(&self) -> String {
        format!(
            "ws://127.0.0.1:{}/ws?access_token={}",
            self.port, self.token
        )
    }

    /// GET with the admin token, the body exactly as served; panics on a non-2xx answer.
    pub async fn get_text(&self, path: &str) -> String {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.text().await.expect("body")
    }

    /// GET with the admin token, parsed as JSON; panics on a non-2xx answer.
    pub async fn get_json(&self, path: &str) -> Value {
        let text = self.get_text(path).await;
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("GET {path}: {error}: {text}"))
    }

    /// A request to `path` with `token` (none when `None`) and an optional JSON body: the
    /// status and the JSON answer (`Null` when the answer is not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = match method {
            "POST" => self.http.post(self.url(path)),
            _ => self.http.get(self.url(path)),
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GET of a path, returning the status code only (no token).
    pub async fn status_without_token(&self, path: &str) -> u16 {
        self.http
            .get(self.url(path))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }

    /// The overview's data.
    pub async fn overview(&self) -> Value {
        self.get_json("/api/views/overview").await
    }

    /// Polls the overview until `done` holds (up to `timeout`), returning the last overview.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let overview = self.overview().await;
            if done(&overview) || Instant::now() > deadline {
                return overview;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The value of an unlabelled metric in `/metrics`.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
    }

    /// Waits until a metric reaches `at_least`, panicking after `timeout`.
    pub async fn wait_metric(&self, name: &str, at_least: f64, timeout: Duration) -> f64 {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.metric(name).await.unwrap_or(0.0);
            if value >= at_least {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{name} stayed at {value}, expected {at_least}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process with SIGKILL (no flush, no goodbye).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal (`STOP`, `CONT` …) to the engine process.
    pub fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .arg(format!("-{name}"))
                .arg(child.id().to_string())
                .status()
                .expect("kill");
            assert!(status.success(), "kill -{name} failed");
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        child.wait().ok()
    }

    /// Starts the engine again on the same data directory, port and topic root.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn().await;
    }

    /// The engine's resident memory in KiB (Linux `/proc`).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Mints a token with `ioc token` for the data directory's secret.
pub fn mint(data_dir: &std::path::Path, role: &str) -> String {
    mint_scoped(data_dir, role, &[])
}

/// Mints a token limited to `areas` (the whole city when empty).
pub fn mint_scoped(data_dir: &std::path::Path, role: &str, areas: &[&str]) -> String {
    let mut command = Command::new(binary());
    command.args(["token", "--role", role]);
    if !areas.is_empty() {
        command.arg("--areas").arg(areas.join(","));
    }
    let output = command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("IOC_JWT_SECRET")
        .output()
        .expect("ioc token");
    assert!(
        output.status.success(),
        "ioc token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Lifetime count of `kind` in `area` from an overview.
pub fn count(overview: &Value, area: &str, kind: &str) -> u64 {
    overview["areas"]
        .as_array()
        .and_then(|areas| areas.iter().find(|a| a["id"] == area))
        .and_then(|a| a["counts"][kind].as_u64())
        .unwrap_or(0)
}

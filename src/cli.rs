//! Command-line arguments. Every `serve` flag is also a config file key and an `IOC_*`
//! variable (see `config.rs`): a flag wins over the variable, the variable over the file, the
//! file over the default.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// The IOC engine: MQTT ingest, polars analytics, live websocket views.
#[derive(Debug, Parser)]
#[command(name = "ioc", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine against a broker.
    Serve(ServeArgs),
    /// Print a signed access token.
    Token(TokenArgs),
    /// Play a simulated city against a broker.
    Sim(SimArgs),
    /// Everything in one process: embedded broker, engine, simulator, dashboard.
    Demo(DemoArgs),
    /// Show or check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `ioc config …`.
#[derive(Debug, Subcommand)]
// Parsed once at start and moved straight into the command: the size is of no consequence.
#[allow(clippy::large_enum_variant)]
pub enum ConfigCommand {
    /// Print the effective configuration of `serve` with these flags, each value with the
    /// layer it came from (default, file, env, flag); secrets are redacted.
    Print(ServeArgs),
    /// Check a config file (and a rules file) and exit non-zero on any error, with its line.
    Check(CheckArgs),
}

/// Flags of `ioc config check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The config file (TOML).
    pub file: Option<PathBuf>,
    /// An alert rules file (TOML) to check as well.
    #[arg(long)]
    pub rules: Option<PathBuf>,
}

/// Flags of `ioc serve` (all optional: config file and defaults fill the rest).
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// `embedded` (in-process broker), `mqtt://user:pass@host:port` or `mqtts://…` (TLS).
    #[arg(long)]
    pub mqtt: Option<String>,
    /// Broker user name when the URL has none (the password: `IOC_MQTT_PASSWORD` or config).
    #[arg(long)]
    pub mqtt_username: Option<String>,
    /// TLS files for an `mqtts://` broker.
    #[command(flatten)]
    pub tls: TlsFileArgs,
    /// HTTP listen address.
    #[arg(long)]
    pub listen: Option<String>,
    /// Data directory (journal, secret).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL journal URL instead of the embedded SQLite one.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Areas file (JSON list or GeoJSON) replacing the compiled-in Hanoi areas.
    #[arg(long)]
    pub areas: Option<PathBuf>,
    /// Alert rules file (TOML).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Config file (TOML).
    #[arg(long, env = "IOC_CONFIG")]
    pub config: Option<PathBuf>,
    /// First topic level of ingested topics (default `city`).
    #[arg(long)]
    pub topic_root: Option<String>,
    /// MQTT client id naming the persistent session (default derived from the data dir).
    #[arg(long)]
    pub mqtt_client_id: Option<String>,
    /// Shared-subscription group, to split one stream between several engines.
    #[arg(long)]
    pub mqtt_share_group: Option<String>,
    /// This instance's name in a cluster (default: host name and data directory).
    #[arg(long)]
    pub instance: Option<String>,
    /// Shared-subscription sessions splitting the stream in a cluster (default 12, the same on
    /// every instance).
    #[arg(long)]
    pub slots: Option<u32>,
    /// MQTT protocol to an external broker: `v5` (default) or `v4`.
    #[arg(long)]
    pub mqtt_protocol: Option<String>,
    /// Port of the embedded broker (default 1883, or a free one if taken).
    #[arg(long)]
    pub embedded_mqtt_port: Option<u16>,
    /// How long a client may take to send a request head or body, e.g. `10s` (default).
    #[arg(long, value_name = "DURATION")]
    pub http_read_timeout: Option<String>,
    /// Largest HTTP request body in bytes (default 65536); larger ones get 413.
    #[arg(long)]
    pub http_max_body_bytes: Option<usize>,
    /// Most websocket connections at once (default 1024); more are refused with 503.
    #[arg(long)]
    pub ws_max_connections: Option<usize>,
    /// OpenID Connect issuer whose RS256/ES256 tokens are accepted besides the HS256 ones.
    #[arg(long)]
    pub oidc_issuer: Option<String>,
    /// The issuer's signing keys: a JWKS URL or file (default: from the issuer's discovery
    /// document).
    #[arg(long)]
    pub oidc_jwks: Option<String>,
    /// The audience OIDC tokens must carry (the client id).
    #[arg(long)]
    pub oidc_audience: Option<String>,
    /// Dotted path of the OIDC claim holding the role, e.g. `realm_access.roles`.
    #[arg(long)]
    pub oidc_role_claim: Option<String>,
    /// Dotted path of the OIDC claim listing the holder's areas.
    #[arg(long)]
    pub oidc_areas_claim: Option<String>,
}

/// Flags of `ioc token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// `viewer`, `operator` or `admin`.
    #[arg(long)]
    pub role: String,
    /// Comma-separated area ids the token is limited to.
    #[arg(long)]
    pub areas: Option<String>,
    /// Lifetime, e.g. `30m`, `12h`, `7d`.
    #[arg(long, default_value = "12h", value_parser = humantime::parse_duration)]
    pub ttl: std::time::Duration,
    /// Who the token is for.
    #[arg(long, default_value = "operator")]
    pub sub: String,
    /// Data directory holding the generated secret.
    #[arg(long, env = "IOC_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Config file (TOML).
    #[arg(long, env = "IOC_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The TLS files of an `mqtts://` connection, shared by `serve` and `sim`.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsFileArgs {
    /// PEM CA certificate(s) trusted for an `mqtts://` broker (default: the system's roots).
    #[arg(long, env = "IOC_MQTT_CA_FILE")]
    pub mqtt_ca_file: Option<PathBuf>,
    /// PEM client certificate, for brokers that authenticate clients by certificate.
    #[arg(long, env = "IOC_MQTT_CLIENT_CERT")]
    pub mqtt_client_cert: Option<PathBuf>,
    /// PEM private key of `--mqtt-client-cert`.
    #[arg(long, env = "IOC_MQTT_CLIENT_KEY")]
    pub mqtt_client_key: Option<PathBuf>,
}

/// Flags of `ioc sim`.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Broker URL, `mqtt://user:pass@host:port` or `mqtts://…` (TLS).
    #[arg(long, env = "IOC_MQTT", default_value = "mqtt://127.0.0.1:1883")]
    pub mqtt: String,
    /// TLS files for an `mqtts://` broker.
    #[command(flatten)]
    pub tls: TlsFileArgs,
    /// Engine HTTP base for Open311 reports (e.g. `http://127.0.0.1:8080`).
    #[arg(long)]
    pub api: Option<String>,
    /// Open311 API key for the reports posted with `--api`.
    #[arg(long, env = "IOC_SIM_API_KEY")]
    pub api_key: Option<String>,
    /// Operator token (`ioc token --role operator`): with it, the simulator also dispatches and
    /// resolves a share of its reports.
    #[arg(long, env = "IOC_SIM_OPERATOR_TOKEN")]
    pub operator_token: Option<String>,
    /// Reports posted per minute with `--api`.
    #[arg(long, default_value_t = 12.0)]
    pub reports_per_min: f64,
    /// Events per second.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long to run, e.g. `30s`, `5m`, `1h 30m`.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: std::time::Duration,
    /// Seed: the same seed plays the same city.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// MQTT QoS, 0 or 1.
    #[arg(long, default_value_t = 1)]
    pub qos: u8,
    /// Comma-separated scenarios: rush-hour, flood, pollution, report-burst.
    #[arg(long)]
    pub scenario: Option<String>,
    /// Write every sent event as a JSON line here.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    pub speedup: f64,
    /// First topic level (must match the engine's `--topic-root`).
    #[arg(long, env = "IOC_TOPIC_ROOT", default_value = "city")]
    pub topic_root: String,
    /// Stop after this many events.
    #[arg(long)]
    pub max_events: Option<u64>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Flags of `ioc demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Data directory.
    #[arg(long, default_value = "./ioc-data/demo")]
    pub data_dir: PathBuf,
    /// Simulator events per second.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Simulator seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Incidents the simulated city plays (`rush-hour,flood,pollution,report-burst`, or `none`);
    /// the default ones raise alerts on the dashboard within minutes.
    #[arg(long, default_value = "flood,report-burst")]
    pub scenario: String,
}

//! The layered configuration through the real binary: `ioc config print` shows each value and
//! the layer it came from (default < file < env < flag) with secrets redacted; `ioc config
//! check` and `ioc serve` refuse an unknown key or a bad value with its line; an engine started
//! with a config file and variables runs with the layered values.

use ioc_tests::engine::binary;
use ioc_tests::scratch_dir as scratch;
use ioc_tests::{Engine, EngineOptions};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `ioc <args>` with only the given `IOC_*` variables.
fn ioc(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    for (name, _) in std::env::vars() {
        if name.starts_with("IOC_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run ioc")
}

/// `ioc config print` as `key → (value, origin)`.
fn printed(output: &Output) -> BTreeMap<String, (String, String)> {
    assert!(
        output.status.success(),
        "config print failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (setting, origin) = line.rsplit_once("  # ")?;
            let (key, value) = setting.split_once(" = ")?;
            Some((key.to_string(), (value.to_string(), origin.to_string())))
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path.display().to_string()
}

#[test]
fn each_layer_overrides_the_one_before() {
    let dir = scratch("config-layers");
    let file = write(
        &dir,
        "ioc.toml",
        r#"listen = "127.0.0.1:1111"
topic_root = "from-file"
tick = "100ms"
mqtt_protocol = "v4"

[history]
horizon = "3d"
compact_every = "90m"

[oidc]
role_claim = "realm_access.roles"
"#,
    );
    let output = ioc(
        &[
            "config",
            "print",
            "--config",
            &file,
            "--listen",
            "127.0.0.1:3333",
            "--slots",
            "4",
        ],
        &[
            ("IOC_LISTEN", "127.0.0.1:2222"),
            ("IOC_TOPIC_ROOT", "from-env"),
            ("IOC_HISTORY_COMPACT_EVERY", "10m"),
            ("IOC_OIDC_AREAS_CLAIM", "groups"),
        ],
    );
    let settings = printed(&output);
    let get = |key: &str| settings.get(key).cloned().unwrap_or_default();
    let file_origin = format!("file {file}");
    // Default only.
    assert_eq!(get("data_dir"), ("\"./ioc-data\"".into(), "default".into()));
    assert_eq!(get("mqtt"), ("\"embedded\"".into(), "default".into()));
    assert_eq!(get("oidc.issuer"), ("null".into(), "default".into()));
    // File over default.
    assert_eq!(get("tick"), ("\"100ms\"".into(), file_origin.clone()));
    assert_eq!(get("mqtt_protocol"), ("\"v4\"".into(), file_origin.clone()));
    assert_eq!(
        get("history.horizon"),
        ("\"3days\"".into(), file_origin.clone())
    );
    assert_eq!(
        get("oidc.role_claim"),
        ("\"realm_access.roles\"".into(), file_origin.clone())
    );
    // Environment over file.
    assert_eq!(
        get("topic_root"),
        ("\"from-env\"".into(), "env IOC_TOPIC_ROOT".into())
    );
    assert_eq!(
        get("history.compact_every"),
        ("\"10m\"".into(), "env IOC_HISTORY_COMPACT_EVERY".into())
    );
    assert_eq!(
        get("oidc.areas_claim"),
        ("\"groups\"".into(), "env IOC_OIDC_AREAS_CLAIM".into())
    );
    // Flag over environment over file.
    assert_eq!(
        get("listen"),
        ("\"127.0.0.1:3333\"".into(), "flag --listen".into())
    );
    assert_eq!(get("slots"), ("4".into(), "flag --slots".into()));
    // The cluster default.
    let defaults = printed(&ioc(&["config", "print"], &[]));
    assert_eq!(
        defaults.get("slots").cloned(),
        Some(("12".into(), "default".into()))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn print_shows_where_secrets_come_from_but_never_the_secrets() {
    let dir = scratch("config-secrets");
    let file = write(
        &dir,
        "ioc.toml",
        r#"database_url = "postgres://ioc:db-pass-Hk72@db.internal:5432/ioc"
mqtt_password = "broker-pass-Qz19"
"#,
    );
    let output = ioc(
        &["config", "print", "--config", &file],
        &[
            ("IOC_JWT_SECRET", "jwt-secret-Lm55-0123456789"),
            ("IOC_OPEN311_API_KEYS", "app-key-Rt31,app-key-Wx08"),
        ],
    );
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    for secret in [
        "db-pass-Hk72",
        "broker-pass-Qz19",
        "jwt-secret-Lm55",
        "app-key-Rt31",
        "app-key-Wx08",
    ] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
    }
    let settings = printed(&output);
    assert_eq!(
        settings.get("jwt_secret").cloned(),
        Some(("\"[redacted]\"".into(), "env IOC_JWT_SECRET".into()))
    );
    assert_eq!(
        settings.get("open311.api_keys").cloned(),
        Some((
            "[\"[redacted]\",\"[redacted]\"]".into(),
            "env IOC_OPEN311_API_KEYS".into()
        ))
    );
    assert_eq!(
        settings
            .get("mqtt_password")
            .map(|(value, _)| value.as_str()),
        Some("\"[redacted]\"")
    );
    let database = settings
        .get("database_url")
        .map(|(value, _)| value.clone())
        .unwrap_or_default();
    assert!(
        database.starts_with("\"postgres://ioc:") && database.ends_with("@db.internal:5432/ioc\""),
        "{database}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_keys_and_bad_values_are_refused_with_their_line() {
    let dir = scratch("config-check");
    let good = write(
        &dir,
        "good.toml",
        "listen = \"127.0.0.1:8081\"\n\n[history]\nhorizon = \"2d\"\n",
    );
    let output = ioc(&["config", "check", &good], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("{good}: ok")
    );

    // A misspelt key on line 5, inside a table.
    let typo = write(
        &dir,
        "typo.toml",
        "listen = \"127.0.0.1:8081\"\ntick = \"200ms\"\n\n[history]\nhorizen = \"2d\"\n",
    );
    for args in [
        vec!["config", "check", typo.as_str()],
        vec![
            "serve",
            "--config",
            typo.as_str(),
            "--data-dir",
            dir.to_str().unwrap_or("."),
        ],
    ] {
        let output = ioc(&args, &[]);
        let error = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {error}");
        assert!(error.contains("line 5"), "{args:?}: {error}");
        assert!(
            error.contains("unknown field `horizen`"),
            "{args:?}: {error}"
        );
    }

    // A duration without a unit on line 2.
    let duration = write(&dir, "duration.toml", "[history]\nhorizon = \"48\"\n");
    let output = ioc(&["config", "check", &duration], &[]);
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{error}");
    assert!(error.contains("line 2"), "{error}");

    // A duration written as a bare number, on line 2: its unit would be a guess.
    let bare = write(
        &dir,
        "bare.toml",
        "listen = \"127.0.0.1:8081\"\ntick = 100\n",
    );
    let output = ioc(&["config", "check", &bare], &[]);
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{error}");
    assert!(
        error.contains("line 2") && error.contains("no unit"),
        "{error}"
    );

    // Values that parse but do not fit together: every problem at once.
    let values = write(
        &dir,
        "values.toml",
        "listen = \"localhost\"\ntick = \"5ms\"\n",
    );
    let output = ioc(&["config", "check", &values], &[]);
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{error}");
    assert!(
        error.contains("listen \"localhost\" is not address:port"),
        "{error}"
    );
    assert!(error.contains("tick must be at least 50ms"), "{error}");

    // A rules file with a bad duration on line 7.
    let rules = write(
        &dir,
        "rules.toml",
        "[[rule]]\nid = \"pm25-high\"\ntype = \"threshold\"\nmetric = \"air_quality.pm25\"\nabove = 150\nclear = 130\nfor = \"soon\"\nseverity = \"critical\"\n",
    );
    let output = ioc(&["config", "check", &good, "--rules", &rules], &[]);
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{error}");
    assert!(
        error.contains("line 1") || error.contains("line 7"),
        "{error}"
    );
    assert!(error.contains("`for`"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_with_the_layered_values() {
    let dir = scratch("config-serve");
    // The file asks for a topic root the environment overrides; the engine must ingest on the
    // environment's root only.
    let file = write(
        &dir,
        "ioc.toml",
        "topic_root = \"not-this-root\"\ntick = \"100ms\"\n",
    );
    let mut options = EngineOptions::new("config-serve");
    let root = options.topic_root.clone();
    options.extra_args = vec!["--config".into(), file];
    let engine = Engine::start(options.with_env("IOC_TOPIC_ROOT", "ignored-by-the-flag")).await;
    let (host, port) = engine.options.broker.address();
    let mut publisher = ioc_tests::publish::Publisher::connect(&host, port).await;
    for (n, topic_root) in [
        (0, root.as_str()),
        (1, "not-this-root"),
        (2, "ignored-by-the-flag"),
    ] {
        let body = serde_json::json!({"id": format!("cfg-{n}-{root}"), "source": "cfg-noise",
            "ts": chrono::Utc::now().timestamp_millis(), "values": {"laeq": 50.0}});
        publisher
            .publish(
                &format!("{topic_root}/dong-da/noise/cfg-noise"),
                body.to_string(),
            )
            .await;
    }
    publisher.wait_acked().await;
    let overview = engine
        .wait_for(std::time::Duration::from_secs(20), |o| {
            o["events_total"].as_u64() == Some(1)
        })
        .await;
    assert_eq!(overview["events_total"].as_u64(), Some(1));
    assert_eq!(ioc_tests::engine::count(&overview, "dong-da", "noise"), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

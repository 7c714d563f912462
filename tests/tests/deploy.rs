//! The deployment files in `deploy/`: the systemd unit is hardened as docs/operations.md says
//! and passes `systemd-analyze verify` (when that command exists on the machine).

use std::path::PathBuf;
use std::process::Command;

fn unit_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd/ioc.service");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// `Key=value` settings of one `[Section]`, in order (comments and blank lines left out).
fn settings(text: &str, section: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
        } else if current == section
            && let Some((key, value)) = line.split_once('=')
        {
            found.push((key.to_string(), value.to_string()));
        }
    }
    found
}

fn setting<'a>(settings: &'a [(String, String)], key: &str) -> Option<&'a str> {
    settings
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn the_unit_runs_hardened_as_its_own_user_and_writes_only_its_data_dir() {
    let text = unit_text();
    let service = settings(&text, "Service");
    let expect = [
        ("User", "ioc"),
        ("Group", "ioc"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("Restart", "on-failure"),
        ("StateDirectory", "ioc"),
        ("CapabilityBoundingSet", ""),
    ];
    for (key, value) in expect {
        assert_eq!(setting(&service, key), Some(value), "{key}");
    }
    let exec = setting(&service, "ExecStart").expect("ExecStart");
    let data_dir = exec
        .split_once("--data-dir ")
        .map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default())
        .expect("ExecStart names --data-dir");
    assert_eq!(data_dir, "/var/lib/ioc");
    assert_eq!(setting(&service, "ReadWritePaths"), Some(data_dir));
    assert!(exec.starts_with("/usr/local/bin/ioc serve "), "{exec}");
    let install = settings(&text, "Install");
    assert_eq!(setting(&install, "WantedBy"), Some("multi-user.target"));
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        println!("skipped: systemd-analyze is not installed on this machine");
        return;
    }
    // verify also checks that ExecStart's binary exists: point it at the one just built.
    let binary = ioc_tests::engine::binary();
    let text = unit_text().replace("/usr/local/bin/ioc", &binary.display().to_string());
    let dir = std::env::temp_dir().join(ioc_tests::unique_root("unit"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let unit = dir.join("ioc.service");
    std::fs::write(&unit, text).expect("unit copy");
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "verify failed: {stderr}");
    // Warnings (unknown keys, wrong sections) come on stderr with the unit's path.
    let about_unit: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("ioc.service"))
        .collect();
    assert!(about_unit.is_empty(), "verify warns: {about_unit:?}");
}

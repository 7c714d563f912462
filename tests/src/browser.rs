//! Headless Chromium for page tests: loads a URL, lets its scripts run, returns the DOM.

use std::process::Command;

/// The Chromium binary of the machine (Debian's `chromium`).
pub fn chromium() -> String {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(String::from)
        .expect("Chromium not found: scripts/test-all.sh installs the `chromium` package")
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

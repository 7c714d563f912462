//! The JWT secret: `IOC_JWT_SECRET` / config, else a random secret generated once and kept in
//! the data directory so that `ioc token` and `ioc serve` agree.

use anyhow::Context;
use std::io::Read;
use std::path::Path;

/// A configured secret: read from the config file or environment, never printed (its
/// `Debug` shows `Secret(..)`), so logging a configuration cannot leak it.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself, for the one place that signs with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// File in the data directory holding the generated secret.
const SECRET_FILE: &str = "jwt.secret";

/// The configured secret, or the one kept in `data_dir` (created on first use, mode 0600).
pub fn jwt_secret(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = configured {
        anyhow::ensure!(
            secret.len() >= 16,
            "the JWT secret must be at least 16 bytes"
        );
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(SECRET_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= 32 {
            return Ok(existing.as_bytes().to_vec());
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut bytes = [0_u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .context("cannot read /dev/urandom for a JWT secret")?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(secret.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_secret_never_prints() {
        let secret = Secret::new("do-not-log-this-secret-0123".into());
        assert_eq!(format!("{secret:?}"), "Secret(..)");
        let config = crate::config::EngineConfig {
            jwt_secret: Some(secret),
            mqtt_password: Some(Secret::new("broker-password-do-not-log".into())),
            ..crate::config::EngineConfig::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("do-not-log-this"), "{printed}");
        assert!(!printed.contains("broker-password"), "{printed}");
    }
}

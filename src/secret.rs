//! The JWT secret: `IOC_JWT_SECRET` / config, else a random secret generated once and kept in
//! the data directory so that `ioc token` and `ioc serve` agree.

use anyhow::Context;
use secrecy::ExposeSecret;
use std::io::Read;
use std::path::Path;

/// A configured secret (JWT secret, broker password, API key): `secrecy`'s string, whose
/// `Debug` is redacted and whose memory is zeroed on drop, so logging a configuration cannot
/// leak it.
pub type Secret = secrecy::SecretString;

/// What a printed configuration shows instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// Serializes a secret (or a list of them) as [`REDACTED`]: the only serialization of the
/// configuration is `ioc config print`, which must never show one.
pub fn redact<S: serde::Serializer, T>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => serializer.serialize_str(REDACTED),
        None => serializer.serialize_none(),
    }
}

/// The secret's text, for the few places that sign or connect with it.
pub fn expose(secret: &Secret) -> &str {
    secret.expose_secret()
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
        let secret = Secret::from("do-not-log-this-secret-0123");
        assert!(!format!("{secret:?}").contains("do-not-log"));
        let config = crate::config::EngineConfig {
            jwt_secret: Some(secret),
            mqtt_password: Some(Secret::from("broker-password-do-not-log")),
            ..crate::config::EngineConfig::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("do-not-log-this"), "{printed}");
        assert!(!printed.contains("broker-password"), "{printed}");
    }
}

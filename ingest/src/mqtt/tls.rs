//! TLS to the broker (`mqtts://`): the rustls client settings built from PEM files — the CA
//! that signed the broker's certificate (or the system roots) and an optional client
//! certificate and key for brokers that require them.

pub use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The PEM files a TLS connection uses; every one is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificate(s) trusted for the broker; `None` = the system's root certificates.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain, for brokers that authenticate clients by certificate.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub client_key: Option<PathBuf>,
}

/// Why the TLS settings could not be built (a configuration error, reported at start).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{what} {path}: {problem}")]
    File {
        /// Which setting (`mqtt_ca_file` …).
        what: &'static str,
        /// The file.
        path: String,
        /// What went wrong.
        problem: String,
    },
    /// Only one of client certificate and key was given.
    #[error("mqtt_client_cert and mqtt_client_key must be given together")]
    HalfClientAuth,
    /// The system has no root certificates and no CA file was given.
    #[error("no CA certificates: set mqtt_ca_file (the system has no root certificates)")]
    NoRoots,
    /// rustls refused the settings (a key that does not match the certificate …).
    #[error("TLS settings refused: {0}")]
    Rustls(#[from] rustls::Error),
}

fn file_error(what: &'static str, path: &Path, problem: impl ToString) -> TlsError {
    TlsError::File {
        what,
        path: path.display().to_string(),
        problem: problem.to_string(),
    }
}

/// Reads every certificate of a PEM file; an error when there is none.
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(what, path, error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(what, path, error))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

/// Builds the rustls client settings (ring provider, TLS 1.2 and 1.3) from `files`.
pub fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match &files.ca_file {
        Some(path) => {
            for cert in certificates("mqtt_ca_file", path)? {
                roots
                    .add(cert)
                    .map_err(|error| file_error("mqtt_ca_file", path, error))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for error in &native.errors {
                tracing::warn!(%error, "cannot read a system root certificate");
            }
            roots.add_parsable_certificates(native.certs);
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match (&files.client_cert, &files.client_key) {
        (Some(cert), Some(key)) => {
            let chain = certificates("mqtt_client_cert", cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|error| file_error("mqtt_client_key", key, error))?;
            builder.with_client_auth_cert(chain, key)?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsError::HalfClientAuth),
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_files_are_named_in_the_error() {
        let dir = std::env::temp_dir().join(format!("ioc-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let missing = TlsFiles {
            ca_file: Some(dir.join("nope.pem")),
            ..TlsFiles::default()
        };
        let error = client_config(&missing)
            .expect_err("missing CA file")
            .to_string();
        assert!(
            error.contains("mqtt_ca_file") && error.contains("nope.pem"),
            "{error}"
        );
        let no_cert = TlsFiles {
            ca_file: Some(empty.clone()),
            ..TlsFiles::default()
        };
        let error = client_config(&no_cert)
            .expect_err("empty CA file")
            .to_string();
        assert!(error.contains("no PEM certificate"), "{error}");
        let half = TlsFiles {
            client_cert: Some(empty),
            ..TlsFiles::default()
        };
        // The system roots may or may not exist here; either way half a client identity fails.
        assert!(client_config(&half).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}

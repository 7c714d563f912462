//! Why a simulator run failed.

use std::path::PathBuf;

use crate::config::ConfigError;

/// A run that could not start or could not finish its outputs.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The manifest file could not be created or written.
    #[error("cannot write manifest {path}: {source}")]
    Manifest {
        /// The manifest's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The broker could not be reached or refused the connection.
    #[error("cannot connect to MQTT broker {address}: {reason}")]
    Connect {
        /// `host:port` that was tried.
        address: String,
        /// The last error seen.
        reason: String,
    },
    /// The MQTT client's event loop stopped while events were still being published.
    #[error("the MQTT event loop stopped unexpectedly")]
    EventLoopGone,
}

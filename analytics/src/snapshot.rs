//! Snapshots of the analytics state: everything the journal's events built, as of one journal
//! seq, so that a restart reads the snapshot and replays only the events after it instead of
//! the whole journal (docs/architecture.md, "Snapshots").
//!
//! A snapshot is a cache, never the record: the journal stays the truth, and a snapshot that
//! does not match the deployment (other areas, analytics settings or alert rules, another
//! engine version, a journal compacted past its seq or replaced since) is set aside and the
//! journal replayed in full, which reaches the same state.
//!
//! File layout: [`MAGIC`], then the CRC-32 of the rest (little-endian `u32`), then three
//! MessagePack values: the [`Header`], the state, and the alert trackers of each rule.

use crate::state::State;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Write;
use std::path::Path;

/// The snapshot's file name in the data directory.
pub const SNAPSHOT_FILE: &str = "analytics.snapshot";

/// First bytes of a snapshot file.
const MAGIC: &[u8; 8] = b"IOCSNAP\x01";

/// Version of what a snapshot holds. Raise it whenever a type kept in the state changes what
/// its fields mean (a change of their names or types is caught by decoding anyway); a
/// snapshot of another version is set aside and the journal replayed in full.
///
/// 1: the state as one flat struct. 2: the state nested by its parts (`telemetry`, `reports`,
/// `alerts`: [`crate::state`]), which a format-1 decoding would only reject as missing fields.
const FORMAT: u32 = 2;

/// Why a snapshot could not be written or used. None of these stops the engine: a snapshot
/// that cannot be used means a full replay, one that cannot be written is tried again later.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing the file failed (the operator's to fix: disk, permissions).
    #[error("snapshot file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The state could not be encoded (a bug).
    #[error("cannot encode the snapshot: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// The file is not a snapshot this engine can read: damaged, truncated, or of a format
    /// whose types have changed.
    #[error("cannot decode the snapshot: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    /// The file is readable but does not belong to this deployment or this journal; the
    /// message says what differs.
    #[error("snapshot set aside: {0}")]
    Mismatch(String),
}

/// What a snapshot says about itself, checked before its state is used.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// [`FORMAT`] of the engine that wrote it.
    pub format: u32,
    /// The engine's version (`CARGO_PKG_VERSION`) that wrote it.
    pub engine_version: String,
    /// [`fingerprint`] of the areas, analytics settings and alert rules in force.
    pub fingerprint: u32,
    /// The last journal seq whose event the state holds: replay continues after it.
    pub seq: i64,
    /// Accepted events in the state, for the log.
    pub events_total: u64,
    /// Wall-clock time it was written, epoch ms, for the log.
    pub written_ms: i64,
}

/// A fingerprint of what, besides the journal, decides the state: the areas, the analytics
/// settings and the alert rules. A snapshot made under other ones is not used.
pub fn fingerprint(state: &State) -> u32 {
    let described = format!(
        "{:?}\n{:?}\n{:?}",
        state.areas.all(),
        state.config,
        state.alerts.evaluator.rules()
    );
    crc32fast::hash(described.as_bytes())
}

/// Encodes one value as MessagePack with field names, so that a renamed or retyped field
/// makes decoding fail rather than misread.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, SnapshotError> {
    Ok(rmp_serde::to_vec_named(value)?)
}

/// Decodes what [`encode`] wrote.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SnapshotError> {
    Ok(rmp_serde::from_slice(bytes)?)
}

/// The snapshot of `state` as of journal seq `seq`, as the bytes of a snapshot file.
pub fn write_image(state: &State, seq: i64) -> Result<Vec<u8>, SnapshotError> {
    let header = Header {
        format: FORMAT,
        engine_version: env!("CARGO_PKG_VERSION").to_string(),
        fingerprint: fingerprint(state),
        seq,
        events_total: state.telemetry.events_total(),
        written_ms: ioc_ingest::event::now_ms(),
    };
    let mut body = Vec::new();
    rmp_serde::encode::write_named(&mut body, &header)?;
    rmp_serde::encode::write_named(&mut body, state)?;
    rmp_serde::encode::write_named(&mut body, &state.alerts.evaluator.save_trackers()?)?;
    let mut image = Vec::with_capacity(MAGIC.len() + 4 + body.len());
    image.extend_from_slice(MAGIC);
    image.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    image.extend_from_slice(&body);
    Ok(image)
}

/// Reads a snapshot file's bytes into a state for the deployment of `fresh` (an empty state
/// with the areas, settings and rules in force), checking that the snapshot belongs to it:
/// same format and engine version, same fingerprint, and no event taken out of the journal by
/// compaction after the snapshot's seq (`compacted_through`, the highest seq compaction has
/// taken out: [`ioc_ingest::journal::Recovered`]). Returns the state and the header.
pub fn read_image(
    image: &[u8],
    fresh: State,
    compacted_through: i64,
) -> Result<(State, Header), SnapshotError> {
    let body = image
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| SnapshotError::Mismatch("not a snapshot file".into()))?;
    let (crc, body) = body
        .split_first_chunk::<4>()
        .ok_or_else(|| SnapshotError::Mismatch("truncated".into()))?;
    if u32::from_le_bytes(*crc) != crc32fast::hash(body) {
        return Err(SnapshotError::Mismatch("checksum differs: damaged".into()));
    }
    let mut reader = body;
    let header: Header = rmp_serde::decode::from_read(&mut reader)?;
    let expected_version = env!("CARGO_PKG_VERSION");
    if header.format != FORMAT || header.engine_version != expected_version {
        return Err(SnapshotError::Mismatch(format!(
            "written by engine {} (format {}), this is {expected_version} (format {FORMAT})",
            header.engine_version, header.format
        )));
    }
    if header.fingerprint != fingerprint(&fresh) {
        return Err(SnapshotError::Mismatch(
            "the areas, analytics settings or alert rules have changed".into(),
        ));
    }
    // The state holds, and counts, every event up to its seq, compacted since or not; an event
    // compacted out of the journal after that seq it lacks, and the journal no longer has.
    if compacted_through > header.seq {
        return Err(SnapshotError::Mismatch(format!(
            "the journal was compacted since, up to seq {compacted_through}, beyond its seq {}",
            header.seq
        )));
    }
    let saved: State = rmp_serde::decode::from_read(&mut reader)?;
    let trackers: Vec<(String, Vec<u8>)> = rmp_serde::decode::from_read(&mut reader)?;
    let mut state = fresh.adopt(saved);
    state.alerts.evaluator.load_trackers(trackers)?;
    Ok((state, header))
}

/// Writes `image` to `path` so that a crash at any moment leaves either the previous snapshot
/// or the new one, whole: written aside, flushed to disk, then renamed over.
pub fn write_file(path: &Path, image: &[u8]) -> Result<(), SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: path.display().to_string(),
        source,
    };
    let partial = path.with_extension("snapshot.partial");
    let mut file = std::fs::File::create(&partial).map_err(io)?;
    file.write_all(image).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&partial, path).map_err(io)?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        // The rename is durable once the directory is; a failure here only risks the older
        // snapshot coming back after a power loss, which is still a valid one.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// The bytes of the snapshot file at `path`; `None` when there is none.
pub fn read_file(path: &Path) -> Result<Option<Vec<u8>>, SnapshotError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SnapshotError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

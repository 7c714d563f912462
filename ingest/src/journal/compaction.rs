//! The journal side of history (docs/guarantees.md): finding telemetry old enough to leave the journal
//! for the Parquet archive, removing it together with the bookkeeping that keeps lifetime
//! counts and deduplication right, and reading one consistent view of journal rows and
//! archive files for a history query.
//!
//! The archive's manifest (`archive_files`) lives in the journal: a file is written and renamed
//! into place first, then one transaction lists it, deletes its events and adds them to
//! `compacted_counts`. A reader that takes the manifest and the rows in one read transaction
//! therefore sees every event exactly once, whether it is still a row or already in a file;
//! a file left behind by a crash before that transaction is not listed and is never read.

use super::JournalError;
use super::codec::decode_block;
use super::sqlite::{insert_block, raise_seq_floor};
use crate::event::{Event, Kind};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The kinds whose events are compacted: sensor readings. Reports, report updates and
/// dossiers stay in the journal for good.
pub const COMPACTED_KINDS: [Kind; 4] = [
    Kind::Traffic,
    Kind::AirQuality,
    Kind::WaterLevel,
    Kind::Noise,
];

/// The shortest horizon compaction may use (10 minutes, docs/guarantees.md's dedupe minimum on top of
/// the allowed lateness); events newer than this never leave the journal.
pub const MIN_HORIZON_MS: i64 = 10 * 60 * 1000;

/// Whether events of `kind` are ever compacted.
pub fn is_compacted_kind(kind: Kind) -> bool {
    COMPACTED_KINDS.contains(&kind)
}

/// The journal file in a data directory.
pub fn journal_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join(super::sqlite::JOURNAL_FILE)
}

/// A journal event eligible for the archive.
#[derive(Debug, Clone, PartialEq)]
pub struct Compactable {
    /// Its journal sequence number.
    pub seq: i64,
    /// When the journal received it, epoch ms.
    pub received_ms: i64,
    /// The event.
    pub event: Event,
}

/// One Parquet file of the archive, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// Path relative to the archive directory (`day=YYYY-MM-DD/part-….parquet`).
    pub path: String,
    /// The UTC day its events belong to, `YYYY-MM-DD`.
    pub day: String,
    /// Earliest event time in the file, epoch ms.
    pub min_ts_ms: i64,
    /// Latest event time in the file, epoch ms.
    pub max_ts_ms: i64,
    /// Events in the file.
    pub events: u64,
    /// Rows in the file (one per numeric field of each event).
    pub rows: u64,
}

/// A second connection to the journal, used by the compactor thread; SQLite's WAL lets it
/// read while the journal thread writes, and its short write transactions take turns with
/// the journal's.
pub struct CompactionStore {
    conn: Connection,
}

impl CompactionStore {
    /// Opens the journal of `data_dir` (the journal must have been opened once, which creates
    /// the tables).
    pub fn open(data_dir: &Path) -> Result<Self, JournalError> {
        let conn = Connection::open_with_flags(
            journal_path(data_dir),
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Self { conn })
    }

    /// At most `limit` compactable events with an event time before `cutoff_ms`, in event-time
    /// order, read from the blocks whose telemetry is oldest (what is left of a block stays
    /// for the next call).
    pub fn candidates(
        &self,
        cutoff_ms: i64,
        limit: usize,
    ) -> Result<Vec<Compactable>, JournalError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT block, received_ms, body FROM event_blocks
             WHERE telemetry_min_ts < ?1 ORDER BY telemetry_min_ts",
        )?;
        let mut rows = statement.query(params![cutoff_ms])?;
        let mut found = Vec::new();
        while found.len() < limit.max(1) {
            let Some(row) = rows.next()? else { break };
            let block = row.get::<_, i64>(0)?;
            let received_ms = row.get::<_, i64>(1)?;
            for (seq, event) in decode_block(block, row.get_ref(2)?.as_blob()?)? {
                if is_compacted_kind(event.kind) && event.ts_ms < cutoff_ms {
                    found.push(Compactable {
                        seq,
                        received_ms,
                        event,
                    });
                }
            }
        }
        found.sort_by_key(|item| (item.event.ts_ms, item.seq));
        found.truncate(limit);
        Ok(found)
    }

    /// In one transaction: lists `files` in the manifest, takes `events` out of their journal
    /// blocks (a block keeps what is left, under the same seqs), forgets their ids in the
    /// journal's dedupe table, adds them to the compacted counts, and remembers the ids of
    /// those received at or after `remember_from_ms` so that a late redelivery is still
    /// recognised as a duplicate. Nothing changes unless every event was still there.
    pub fn commit(
        &mut self,
        events: &[Compactable],
        files: &[ArchiveFile],
        remember_from_ms: i64,
    ) -> Result<(), JournalError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut list = tx.prepare_cached(
                "INSERT INTO archive_files (path, day, min_ts_ms, max_ts_ms, events, rows)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for file in files {
                list.execute(params![
                    file.path,
                    file.day,
                    file.min_ts_ms,
                    file.max_ts_ms,
                    file.events as i64,
                    file.rows as i64
                ])?;
            }
            let leaving: BTreeSet<i64> = events.iter().map(|item| item.seq).collect();
            let removed = take_out_of_blocks(&tx, &leaving)?;
            // The newest block may have gone: its seqs must still never be given out again.
            if let Some(&highest) = leaving.last() {
                raise_seq_floor(&tx, highest)?;
            }
            if removed != leaving.len() {
                // Someone else removed some: roll back rather than count them twice.
                return Err(JournalError::Storage(format!(
                    "{} of {} journal events vanished during compaction",
                    leaving.len() - removed,
                    leaving.len()
                )));
            }
            let mut forget = tx.prepare_cached("DELETE FROM event_ids WHERE id = ?1")?;
            let mut remember = tx.prepare_cached(
                "INSERT INTO compacted_ids (id, received_ms) VALUES (?1, ?2)
                 ON CONFLICT(id) DO NOTHING",
            )?;
            let mut counts: BTreeMap<(&str, Kind), i64> = BTreeMap::new();
            for item in events {
                forget.execute(params![item.event.id])?;
                if item.received_ms >= remember_from_ms {
                    remember.execute(params![item.event.id, item.received_ms])?;
                }
                *counts
                    .entry((item.event.area.as_str(), item.event.kind))
                    .or_insert(0) += 1;
            }
            let mut count = tx.prepare_cached(
                "INSERT INTO compacted_counts (area, kind, count) VALUES (?1, ?2, ?3)
                 ON CONFLICT(area, kind) DO UPDATE SET count = count + excluded.count",
            )?;
            for ((area, kind), n) in counts {
                count.execute(params![area, kind.as_str(), n])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets compacted ids received before `before_ms` (their dedupe horizon has passed);
    /// returns how many.
    pub fn forget_ids(&self, before_ms: i64) -> Result<usize, JournalError> {
        Ok(self.conn.execute(
            "DELETE FROM compacted_ids WHERE received_ms < ?1",
            params![before_ms],
        )?)
    }

    /// Every file the manifest lists.
    pub fn archive_files(&self) -> Result<Vec<ArchiveFile>, JournalError> {
        list_files(&self.conn, i64::MIN, i64::MAX)
    }
}

/// One telemetry value read from the journal for a history query.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalValue {
    /// Event time, epoch ms.
    pub ts_ms: i64,
    /// Area id.
    pub area: String,
    /// The field's value (booleans as 0/1).
    pub value: f64,
}

/// What a history query reads from the journal: the values still in it and the archive files
/// holding the rest, taken in one read transaction so no event is seen twice or missed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistorySnapshot {
    /// Journal values of the field in the range.
    pub values: Vec<JournalValue>,
    /// Archive files whose time span meets the range.
    pub files: Vec<ArchiveFile>,
}

/// Reads the values of `kind`.`field` with event times in `[from_ms, to_ms)` still in the
/// journal, and the archive files for that range, over a read-only connection.
pub fn read_history(
    data_dir: &Path,
    kind: Kind,
    field: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<HistorySnapshot, JournalError> {
    let mut conn = Connection::open_with_flags(
        journal_path(data_dir),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let tx = conn.transaction()?;
    let files = list_files(&tx, from_ms, to_ms)?;
    let mut values = Vec::new();
    {
        let mut statement = tx.prepare(
            "SELECT block, body FROM event_blocks
             WHERE telemetry_max_ts >= ?1 AND telemetry_min_ts < ?2 ORDER BY block",
        )?;
        let mut rows = statement.query(params![from_ms, to_ms])?;
        while let Some(row) = rows.next()? {
            let block = row.get::<_, i64>(0)?;
            for (_, event) in decode_block(block, row.get_ref(1)?.as_blob()?)? {
                if event.kind != kind || event.ts_ms < from_ms || event.ts_ms >= to_ms {
                    continue;
                }
                // Booleans count as 0/1, like the windows and the archive do.
                let value = event
                    .numeric_fields()
                    .find_map(|(name, value)| (name == field).then_some(value));
                if let Some(value) = value.filter(|v| v.is_finite()) {
                    values.push(JournalValue {
                        ts_ms: event.ts_ms,
                        area: event.area,
                        value,
                    });
                }
            }
        }
    }
    tx.commit()?;
    Ok(HistorySnapshot { values, files })
}

/// Removes the events with the seqs in `leaving` from the blocks holding them: a block left
/// empty is deleted, any other is written again with what remains (same block number, same
/// seqs). Returns how many of `leaving` were found.
fn take_out_of_blocks(
    tx: &rusqlite::Transaction<'_>,
    leaving: &BTreeSet<i64>,
) -> Result<usize, JournalError> {
    let mut find = tx.prepare_cached(
        "SELECT block, last_seq, received_ms, body FROM event_blocks
         WHERE block <= ?1 ORDER BY block DESC LIMIT 1",
    )?;
    let mut delete = tx.prepare_cached("DELETE FROM event_blocks WHERE block = ?1")?;
    let mut removed = 0;
    let mut next = leaving.first().copied();
    while let Some(seq) = next {
        let Some((block, last_seq, received_ms, body)) = find
            .query_row(params![seq], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Vec<u8>>(3)?,
                ))
            })
            .optional()?
        else {
            // No block at or below this seq: skip to the next one.
            next = leaving.range(seq + 1..).next().copied();
            continue;
        };
        let events = decode_block(block, &body)?;
        let before = events.len();
        let kept: Vec<(i64, &Event)> = events
            .iter()
            .filter(|(seq, _)| !leaving.contains(seq))
            .map(|(seq, event)| (*seq, event))
            .collect();
        if kept.len() < before {
            removed += before - kept.len();
            delete.execute(params![block])?;
            insert_block(tx, block, &kept, received_ms)?;
        }
        next = leaving.range(seq.max(last_seq) + 1..).next().copied();
    }
    Ok(removed)
}

fn list_files(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<ArchiveFile>, JournalError> {
    let mut statement = conn.prepare_cached(
        "SELECT path, day, min_ts_ms, max_ts_ms, events, rows FROM archive_files
         WHERE max_ts_ms >= ?1 AND min_ts_ms < ?2 ORDER BY path",
    )?;
    let rows = statement.query_map(params![from_ms, to_ms], |row| {
        Ok(ArchiveFile {
            path: row.get(0)?,
            day: row.get(1)?,
            min_ts_ms: row.get(2)?,
            max_ts_ms: row.get(3)?,
            events: u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
            rows: u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Durability, Entry, JournalStore, Outcome, SqliteJournal};
    use serde_json::json;

    fn reading(id: &str, kind: Kind, ts_ms: i64, values: serde_json::Value) -> Event {
        Event {
            id: id.into(),
            source: "s1".into(),
            kind,
            area: "hoan-kiem".into(),
            ts_ms,
            lat: None,
            lon: None,
            values: values.as_object().cloned().unwrap_or_default().into(),
        }
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ioc-compact-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn compaction_moves_counts_keeps_reports_and_still_dedupes_late_ids() {
        let dir = temp_dir("move");
        let day = 86_400_000;
        let now = 10 * day;
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 10).expect("open");
        let events = [
            reading("old-1", Kind::Noise, 2 * day, json!({"laeq": 50.0})),
            reading(
                "old-2",
                Kind::Traffic,
                2 * day + 5,
                json!({"speed": 30.0, "congested": true}),
            ),
            reading(
                "old-report",
                Kind::Report,
                2 * day,
                json!({"service_code": "traffic"}),
            ),
            reading("new-1", Kind::Noise, now, json!({"laeq": 60.0})),
        ];
        let entries: Vec<Entry> = events.iter().cloned().map(Entry::Event).collect();
        journal.append(&entries, now, &[]).expect("append");

        let mut store = CompactionStore::open(&dir).expect("compaction store");
        let found = store.candidates(now - day, 100).expect("candidates");
        let ids: Vec<&str> = found.iter().map(|c| c.event.id.as_str()).collect();
        assert_eq!(ids, ["old-1", "old-2"]);
        let file = ArchiveFile {
            path: "day=1970-01-03/part-1.parquet".into(),
            day: "1970-01-03".into(),
            min_ts_ms: 2 * day,
            max_ts_ms: 2 * day + 5,
            events: 2,
            rows: 3,
        };
        store
            .commit(&found, std::slice::from_ref(&file), now - day)
            .expect("commit");

        // Counts survive; the report and the new reading stay.
        let recovered = journal.recover().expect("recover");
        assert_eq!(
            recovered.compacted.get(&("hoan-kiem".into(), Kind::Noise)),
            Some(&1)
        );
        assert_eq!(
            recovered
                .compacted
                .get(&("hoan-kiem".into(), Kind::Traffic)),
            Some(&1)
        );
        assert_eq!(journal.event_count().ok(), Some(2));
        assert!(store.candidates(now - day, 100).expect("again").is_empty());

        // A redelivery of a compacted event is still a duplicate.
        let again = journal
            .append(&[Entry::Event(events[0].clone())], now + 1, &[])
            .expect("append");
        assert_eq!(again, [Outcome::Duplicate]);

        // The reader sees the file for the old range and the journal values for the new one.
        let old = read_history(&dir, Kind::Noise, "laeq", 0, now - day).expect("read");
        assert_eq!((old.values.len(), old.files), (0, vec![file]));
        let new = read_history(&dir, Kind::Noise, "laeq", now - day, now + 1).expect("read");
        assert_eq!(new.files.len(), 0);
        assert_eq!(
            new.values,
            [JournalValue {
                ts_ms: now,
                area: "hoan-kiem".into(),
                value: 60.0
            }]
        );

        // Forgetting the ids ends the dedupe horizon.
        assert_eq!(store.forget_ids(now + 2).expect("forget"), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn booleans_read_as_zero_or_one() {
        let dir = temp_dir("bool");
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 10).expect("open");
        let entries = [
            Entry::Event(reading(
                "a",
                Kind::Traffic,
                1000,
                json!({"congested": true}),
            )),
            Entry::Event(reading(
                "b",
                Kind::Traffic,
                2000,
                json!({"congested": false, "speed": 3}),
            )),
        ];
        journal.append(&entries, 5000, &[]).expect("append");
        let snapshot = read_history(&dir, Kind::Traffic, "congested", 0, 10_000).expect("read");
        let values: Vec<f64> = snapshot.values.iter().map(|v| v.value).collect();
        assert_eq!(values, [1.0, 0.0]);
        let speeds = read_history(&dir, Kind::Traffic, "speed", 0, 10_000).expect("read");
        assert_eq!(speeds.values.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn seqs_of_a_block_compacted_whole_are_never_given_out_again() {
        let dir = temp_dir("seq-floor");
        let day = 86_400_000;
        let now = 10 * day;
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 10).expect("open");
        let old = [
            reading("old-a", Kind::Noise, 2 * day, json!({"laeq": 50.0})),
            reading("old-b", Kind::Noise, 2 * day + 1, json!({"laeq": 51.0})),
        ];
        let entries: Vec<Entry> = old.iter().cloned().map(Entry::Event).collect();
        assert_eq!(
            journal.append(&entries, now, &[]).expect("append"),
            [Outcome::Stored(1), Outcome::Stored(2)]
        );
        drop(journal);
        let mut store = CompactionStore::open(&dir).expect("compaction store");
        let found = store.candidates(now - day, 100).expect("candidates");
        store.commit(&found, &[], now - day).expect("commit");

        // The only block is gone; a reopened journal still continues after seq 2.
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 10).expect("reopen");
        assert_eq!(journal.event_count().ok(), Some(0));
        assert_eq!(journal.last_event_seq().ok(), Some(2));
        let fresh = reading("new", Kind::Noise, now, json!({"laeq": 55.0}));
        assert_eq!(
            journal
                .append(&[Entry::Event(fresh)], now, &[])
                .expect("append"),
            [Outcome::Stored(3)]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

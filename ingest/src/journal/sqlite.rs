//! The embedded journal: one SQLite file in the data directory, WAL mode.
//!
//! `synchronous=NORMAL` in WAL mode makes a commit survive the process being killed (the
//! demo's and the tests' kill -9); `synchronous=FULL` ([`Durability::PowerLoss`]) adds an fsync
//! per commit so it also survives power loss.

use super::compaction::{MIN_HORIZON_MS, is_compacted_kind};
use super::{Entry, Fence, JournalError, JournalStore, Outcome, Recovered};
use crate::deadletter::DeadLetter;
use crate::event::Event;
use crate::reject::Reason;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    area TEXT NOT NULL,
    source TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected_counts (
    reason TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS compacted_counts (
    area TEXT NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (area, kind)
);
CREATE TABLE IF NOT EXISTS compacted_ids (
    id TEXT PRIMARY KEY,
    received_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS archive_files (
    path TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    min_ts_ms INTEGER NOT NULL,
    max_ts_ms INTEGER NOT NULL,
    events INTEGER NOT NULL,
    rows INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_telemetry_ts ON events (ts_ms)
    WHERE kind IN ('traffic', 'air_quality', 'water_level', 'noise');
";

/// The journal's file name in the data directory.
pub(super) const JOURNAL_FILE: &str = "journal.sqlite";

/// How hard a commit holds on to its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives the process dying at any moment (WAL, `synchronous=NORMAL`).
    #[default]
    ProcessCrash,
    /// Also survives power loss (`synchronous=FULL`, an fsync per commit).
    PowerLoss,
}

/// The SQLite journal.
pub struct SqliteJournal {
    conn: Connection,
    dead_letter_capacity: usize,
}

impl SqliteJournal {
    /// Opens (creating if needed) `journal.sqlite` in `data_dir`.
    pub fn open(
        data_dir: &Path,
        durability: Durability,
        dead_letter_capacity: usize,
    ) -> Result<Self, JournalError> {
        std::fs::create_dir_all(data_dir).map_err(|source| JournalError::Directory {
            path: data_dir.display().to_string(),
            source: std::sync::Arc::new(source),
        })?;
        let conn = Connection::open(data_dir.join(JOURNAL_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match durability {
            Durability::ProcessCrash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn,
            dead_letter_capacity,
        })
    }
}

impl JournalStore for SqliteJournal {
    fn append(
        &mut self,
        entries: &[Entry],
        received_ms: i64,
        _fences: &[Fence],
    ) -> Result<Vec<Outcome>, JournalError> {
        // One process owns the file: there are no leases to check.
        let tx = self.conn.transaction()?;
        let mut outcomes = Vec::with_capacity(entries.len());
        let mut rejected_any = false;
        {
            let mut insert_event = tx.prepare_cached(
                "INSERT INTO events (id, kind, area, source, ts_ms, received_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO NOTHING",
            )?;
            let mut insert_dead =
                tx.prepare_cached("INSERT INTO dead_letters (body) VALUES (?1)")?;
            let mut count_reason = tx.prepare_cached(
                "INSERT INTO rejected_counts (reason, count) VALUES (?1, 1)
                 ON CONFLICT(reason) DO UPDATE SET count = count + 1",
            )?;
            let mut compacted = tx.prepare_cached("SELECT 1 FROM compacted_ids WHERE id = ?1")?;
            for entry in entries {
                match entry {
                    Entry::Event(event) => {
                        // Only an event older than the shortest compaction horizon can have
                        // left for the archive; the live stream never pays for this lookup.
                        if is_compacted_kind(event.kind)
                            && event.ts_ms < received_ms - MIN_HORIZON_MS
                            && compacted.exists(params![event.id])?
                        {
                            outcomes.push(Outcome::Duplicate);
                            continue;
                        }
                        let body = to_json(event)?;
                        let changed = insert_event.execute(params![
                            event.id,
                            event.kind.as_str(),
                            event.area,
                            event.source,
                            event.ts_ms,
                            received_ms,
                            body
                        ])?;
                        outcomes.push(if changed == 0 {
                            Outcome::Duplicate
                        } else {
                            Outcome::Stored(tx.last_insert_rowid())
                        });
                    }
                    Entry::Rejected(record) => {
                        insert_dead.execute(params![to_json(record)?])?;
                        outcomes.push(Outcome::Stored(tx.last_insert_rowid()));
                        count_reason.execute(params![record.reason.as_str()])?;
                        rejected_any = true;
                    }
                }
            }
        }
        if rejected_any {
            tx.execute(
                "DELETE FROM dead_letters WHERE seq <= (SELECT MAX(seq) FROM dead_letters) - ?1",
                params![self.dead_letter_capacity as i64],
            )?;
        }
        tx.commit()?;
        Ok(outcomes)
    }

    fn recover(&mut self) -> Result<Recovered, JournalError> {
        let mut recovered = Recovered::default();
        let mut counts = self
            .conn
            .prepare("SELECT reason, count FROM rejected_counts")?;
        let rows = counts.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (label, count) = row?;
            if let Some(reason) = Reason::parse(&label) {
                recovered
                    .rejected
                    .insert(reason, u64::try_from(count).unwrap_or(0));
            }
        }
        let mut compacted = self
            .conn
            .prepare("SELECT area, kind, count FROM compacted_counts")?;
        let rows = compacted.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (area, kind, count) = row?;
            if let Some(kind) = crate::Kind::parse(&kind) {
                recovered
                    .compacted
                    .insert((area, kind), u64::try_from(count).unwrap_or(0));
            }
        }
        let mut dead = self
            .conn
            .prepare("SELECT seq, body FROM dead_letters ORDER BY seq")?;
        let rows = dead.query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (seq, body) = row?;
            let mut record: DeadLetter = from_json(seq, &body)?;
            record.seq = seq;
            recovered.dead_letters.push(record);
        }
        Ok(recovered)
    }

    fn replay(
        &mut self,
        after_seq: i64,
        chunk: usize,
        each: &mut dyn FnMut(Vec<Event>, i64),
    ) -> Result<u64, JournalError> {
        let mut statement = self
            .conn
            .prepare("SELECT seq, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let mut after = after_seq;
        let mut total = 0_u64;
        loop {
            let rows = statement
                .query_map(params![after, chunk as i64], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let Some((last, _)) = rows.last() else { break };
            after = *last;
            let events = rows
                .iter()
                .map(|(seq, body)| from_json::<Event>(*seq, body))
                .collect::<Result<Vec<_>, _>>()?;
            total += events.len() as u64;
            each(events, after);
        }
        Ok(total)
    }

    fn last_event_seq(&mut self) -> Result<i64, JournalError> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM events", [], |row| row.get(0))?;
        Ok(seq.unwrap_or(0))
    }

    fn event_count(&mut self) -> Result<u64, JournalError> {
        let count: Option<i64> = self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0))
            .optional()?;
        Ok(count.and_then(|c| u64::try_from(c).ok()).unwrap_or(0))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, JournalError> {
    serde_json::to_string(value).map_err(|error| JournalError::Corrupt {
        seq: 0,
        message: error.to_string(),
    })
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    seq: i64,
    body: &str,
) -> Result<T, JournalError> {
    serde_json::from_str(body).map_err(|error| JournalError::Corrupt {
        seq,
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::{Reason, Rejection};
    use serde_json::json;

    fn event(id: &str, ts_ms: i64) -> Event {
        Event {
            id: id.into(),
            source: "s1".into(),
            kind: crate::Kind::Noise,
            area: "hoan-kiem".into(),
            ts_ms,
            lat: None,
            lon: None,
            values: json!({"laeq": 55.5})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ioc-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn duplicates_are_refused_and_replay_returns_the_stored_events_in_order() {
        let dir = temp_dir("dedupe");
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 2).expect("open");
        let rejected = DeadLetter::new(
            &Rejection::new(Reason::MalformedJson, "bad"),
            "city/x",
            b"{",
            0,
        );
        let outcomes = journal
            .append(
                &[
                    Entry::Event(event("a", 1)),
                    Entry::Event(event("b", 2)),
                    Entry::Event(event("a", 1)),
                    Entry::Rejected(rejected.clone()),
                ],
                10,
                &[],
            )
            .expect("append");
        assert!(matches!(
            outcomes.as_slice(),
            [
                Outcome::Stored(_),
                Outcome::Stored(_),
                Outcome::Duplicate,
                Outcome::Stored(_)
            ]
        ));
        // A later batch with an old id is a duplicate too: the horizon is the whole journal.
        let again = journal
            .append(
                &[Entry::Event(event("b", 2)), Entry::Event(event("c", 3))],
                11,
                &[],
            )
            .expect("append");
        assert!(matches!(
            again.as_slice(),
            [Outcome::Duplicate, Outcome::Stored(_)]
        ));
        drop(journal);

        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 2).expect("reopen");
        let mut ids = Vec::new();
        let total = journal
            .replay(0, 2, &mut |batch, _| {
                ids.extend(batch.into_iter().map(|e| e.id))
            })
            .expect("replay");
        assert_eq!(
            (total, ids),
            (3, vec!["a".to_string(), "b".into(), "c".into()])
        );
        assert_eq!(journal.event_count().ok(), Some(3));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dead_letters_are_bounded_but_their_counts_are_not() {
        let dir = temp_dir("deadletters");
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 3).expect("open");
        for i in 0..5 {
            let reason = if i % 2 == 0 {
                Reason::TooLarge
            } else {
                Reason::UnknownArea
            };
            let record =
                DeadLetter::new(&Rejection::new(reason, format!("#{i}")), "city/x", b"x", i);
            journal
                .append(&[Entry::Rejected(record)], i, &[])
                .expect("append");
        }
        let recovered = journal.recover().expect("recover");
        assert_eq!(recovered.rejected.get(&Reason::TooLarge), Some(&3));
        assert_eq!(recovered.rejected.get(&Reason::UnknownArea), Some(&2));
        let kept: Vec<&str> = recovered
            .dead_letters
            .iter()
            .map(|d| d.detail.as_str())
            .collect();
        assert_eq!(kept, ["#2", "#3", "#4"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

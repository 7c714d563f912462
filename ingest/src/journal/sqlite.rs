//! The embedded journal: one SQLite file in the data directory, WAL mode.
//!
//! `synchronous=NORMAL` in WAL mode makes a commit survive the process being killed (the
//! demo's and the tests' kill -9); `synchronous=FULL` ([`Durability::PowerLoss`]) adds an fsync
//! per commit so it also survives power loss.
//!
//! Layout (docs/architecture.md, "The journal"): the events of one commit are one row of
//! `event_blocks` ([`codec::encode_block`]), and their ids end up in one narrow table,
//! `event_ids`, whose primary key is the dedupe. The ids of the latest blocks are held in
//! memory and written to `event_ids` together, sorted, every [`ID_INDEX_BATCH`] ids
//! ([`SqliteJournal::unindexed`]): a commit writes one row for its whole batch. Data
//! directories of the first format (one row per event in `events`) are moved into blocks when
//! they are first opened ([`migrate_event_rows`]).

use super::compaction::{MIN_HORIZON_MS, is_compacted_kind};
use super::id_filter::IdFilter;
use super::{Entry, Fence, JournalError, JournalStore, Outcome, Recovered, codec};
use crate::deadletter::DeadLetter;
use crate::event::Event;
use crate::reject::Reason;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rustc_hash::FxHashSet;
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS event_blocks (
    block INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    events INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    telemetry_min_ts INTEGER,
    telemetry_max_ts INTEGER,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS event_blocks_telemetry_min ON event_blocks (telemetry_min_ts)
    WHERE telemetry_min_ts IS NOT NULL;
CREATE INDEX IF NOT EXISTS event_blocks_telemetry_max ON event_blocks (telemetry_max_ts)
    WHERE telemetry_max_ts IS NOT NULL;
CREATE TABLE IF NOT EXISTS event_ids (
    id TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journal_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
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
";

/// The journal's file name in the data directory.
pub(super) const JOURNAL_FILE: &str = "journal.sqlite";

/// `journal_meta` key of a floor under the next seq: the highest seq of events that left the
/// blocks (compaction, or rows of the first format that were deleted before the move). The
/// next seq is above both it and every block, so a seq is never given out twice; a commit
/// does not write it (one page less per commit).
const SEQ_FLOOR_KEY: &str = "seq_floor";

/// SQLite's page cache for the journal connection, in KiB (its default is 2 MiB). A commit of
/// a few thousand events dirties a few thousand pages of the id table; with the default cache
/// SQLite spills them to the WAL in the middle of the transaction and reads them back, which
/// took about a tenth of the journal thread in B3. 32 MiB holds a large commit's pages and the
/// id table's upper levels.
const PAGE_CACHE_KIB: i64 = 32 * 1024;

/// WAL pages after which a commit checkpoints them into the main file (SQLite's default is
/// 1,000, 4 MiB). A page that several commits rewrite between two checkpoints is copied once.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 4000;

/// Records an event's id; no row changes when the id is already there (a duplicate).
const INSERT_ID: &str = "INSERT INTO event_ids (id) VALUES (?1) ON CONFLICT DO NOTHING";

/// `journal_meta` key: every block whose `last_seq` is at most this value has its ids in
/// `event_ids`; the ids of later blocks are in [`SqliteJournal::unindexed`], rebuilt from those
/// blocks at open. Written when the journal is first opened by this format (a journal of an
/// earlier format indexed every id at its commit) and by every id flush.
const IDS_INDEXED_THROUGH_KEY: &str = "ids_indexed_through";

/// Ids held in memory before they are written to `event_ids` in one sorted pass. Ids sort by
/// source, so the ids of one commit land on about one page of the table per source, and each
/// commit that wrote its own ids rewrote those pages (a WAL frame each, then a checkpoint
/// copy): at 1,000 events/s that was about one page written per event. One pass every 16,384
/// ids writes each page once for all of them. The pass adds its time (about 10 ms) to the
/// commit that triggers it; the set costs about 1.5 MB.
const ID_INDEX_BATCH: usize = 16_384;

/// Events per block when the rows of the first format are moved into blocks.
const MIGRATION_BLOCK: usize = 4096;

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
    /// The highest seq given out so far: above every block and the `journal_meta` seq floor
    /// when opened, then advanced by each commit.
    last_seq: i64,
    /// Ids of the committed blocks after `ids_indexed_through`: durable in their blocks, not
    /// yet in `event_ids`. The dedupe looks here before the table; see [`ID_INDEX_BATCH`].
    unindexed: FxHashSet<String>,
    /// Which ids may be in `event_ids`: an id it has never seen skips the table's probe.
    indexed_filter: IdFilter,
}

impl SqliteJournal {
    /// Opens (creating if needed) `journal.sqlite` in `data_dir`, moving the rows of the first
    /// format into blocks if it finds any.
    pub fn open(
        data_dir: &Path,
        durability: Durability,
        dead_letter_capacity: usize,
    ) -> Result<Self, JournalError> {
        std::fs::create_dir_all(data_dir).map_err(|source| JournalError::Directory {
            path: data_dir.display().to_string(),
            source: std::sync::Arc::new(source),
        })?;
        let mut conn = Connection::open(data_dir.join(JOURNAL_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match durability {
            Durability::ProcessCrash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        migrate_event_rows(&mut conn)?;
        let last_seq = read_last_seq(&conn)?;
        let unindexed = read_unindexed_ids(&conn, last_seq)?;
        let indexed_filter = id_filter_for(&conn)?;
        Ok(Self {
            conn,
            dead_letter_capacity,
            last_seq,
            unindexed,
            indexed_filter,
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
        // Until the filter holds every id of the table, each commit reads a slice more into it.
        self.indexed_filter.scan_step(&tx)?;
        let mut outcomes = Vec::with_capacity(entries.len());
        let mut stored: Vec<(i64, &Event)> = Vec::with_capacity(entries.len());
        let mut seq = self.last_seq;
        let mut rejected_any = false;
        // Ids new in this commit; they join `unindexed` only once the commit has succeeded.
        let mut fresh: FxHashSet<&str> =
            FxHashSet::with_capacity_and_hasher(entries.len(), Default::default());
        {
            let mut known = tx.prepare_cached("SELECT 1 FROM event_ids WHERE id = ?1")?;
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
                        if self.unindexed.contains(event.id.as_str())
                            || fresh.contains(event.id.as_str())
                            || (self.indexed_filter.may_contain(&event.id)
                                && known.exists(params![event.id])?)
                        {
                            outcomes.push(Outcome::Duplicate);
                            continue;
                        }
                        fresh.insert(event.id.as_str());
                        seq += 1;
                        stored.push((seq, event));
                        outcomes.push(Outcome::Stored(seq));
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
        if let Some(&(first, _)) = stored.first() {
            insert_block(&tx, first, &stored, received_ms)?;
        }
        if rejected_any {
            tx.execute(
                "DELETE FROM dead_letters WHERE seq <= (SELECT MAX(seq) FROM dead_letters) - ?1",
                params![self.dead_letter_capacity as i64],
            )?;
        }
        let index_now = self.unindexed.len() + fresh.len() >= ID_INDEX_BATCH;
        if index_now {
            let mut ids: Vec<&str> = self.unindexed.iter().map(String::as_str).collect();
            ids.extend(fresh.iter().copied());
            index_ids(&tx, ids, seq)?;
        }
        tx.commit()?;
        self.last_seq = seq;
        if index_now {
            for id in self.unindexed.drain() {
                self.indexed_filter.insert(&id);
            }
            for id in fresh {
                self.indexed_filter.insert(id);
            }
            if self.indexed_filter.rebuild_due() {
                // Nothing read here: the new filter is filled a slice per commit from now on.
                self.indexed_filter = self.indexed_filter.rebuilt();
                tracing::info!("id filter at its memory bound: built again from the table");
            }
        } else {
            self.unindexed.extend(fresh.into_iter().map(str::to_owned));
        }
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
        recovered.compacted_through = read_meta(&self.conn, SEQ_FLOOR_KEY)?.unwrap_or(0);
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
        let chunk = chunk.max(1);
        let mut pending = Vec::with_capacity(chunk);
        let mut last = after_seq;
        let mut total = 0_u64;
        for_each_event_after(&self.conn, after_seq, |seq, event| {
            pending.push(event);
            last = seq;
            if pending.len() == chunk {
                total += pending.len() as u64;
                each(
                    std::mem::replace(&mut pending, Vec::with_capacity(chunk)),
                    last,
                );
            }
        })?;
        if !pending.is_empty() {
            total += pending.len() as u64;
            each(pending, last);
        }
        Ok(total)
    }

    fn last_event_seq(&mut self) -> Result<i64, JournalError> {
        Ok(self.last_seq)
    }

    fn event_count(&mut self) -> Result<u64, JournalError> {
        count_events(&self.conn)
    }
}

/// Writes `events` (seq order, the first one's seq numbering the block) as one block row.
pub(super) fn insert_block(
    tx: &Transaction<'_>,
    block: i64,
    events: &[(i64, &Event)],
    received_ms: i64,
) -> Result<(), JournalError> {
    let Some(&(last_seq, _)) = events.last() else {
        return Ok(());
    };
    let (telemetry_min, telemetry_max) = telemetry_span(events.iter().map(|(_, e)| *e));
    let body = codec::encode_block(block, events)?;
    tx.prepare_cached(
        "INSERT INTO event_blocks
             (block, last_seq, events, received_ms, telemetry_min_ts, telemetry_max_ts, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        block,
        last_seq,
        events.len() as i64,
        received_ms,
        telemetry_min,
        telemetry_max,
        body
    ])?;
    Ok(())
}

/// The earliest and latest event time among the compacted kinds (telemetry), if any: what
/// compaction and history queries select blocks by.
fn telemetry_span<'a>(events: impl Iterator<Item = &'a Event>) -> (Option<i64>, Option<i64>) {
    events
        .filter(|event| is_compacted_kind(event.kind))
        .fold((None, None), |(low, high), event| {
            (
                Some(low.map_or(event.ts_ms, |l: i64| l.min(event.ts_ms))),
                Some(high.map_or(event.ts_ms, |h: i64| h.max(event.ts_ms))),
            )
        })
}

/// An empty id filter sized for the events the journal holds, to be filled from `event_ids`.
fn id_filter_for(conn: &Connection) -> Result<IdFilter, JournalError> {
    let held = usize::try_from(count_events(conn)?).unwrap_or(usize::MAX);
    Ok(IdFilter::scanning(held))
}

/// Events held in the blocks.
fn count_events(conn: &Connection) -> Result<u64, JournalError> {
    let count: Option<i64> = conn
        .query_row("SELECT SUM(events) FROM event_blocks", [], |row| row.get(0))
        .optional()?
        .flatten();
    Ok(count.and_then(|c| u64::try_from(c).ok()).unwrap_or(0))
}

/// A value of `journal_meta`, `None` when the key was never written.
fn read_meta(conn: &Connection, key: &str) -> Result<Option<i64>, JournalError> {
    Ok(conn
        .query_row(
            "SELECT value FROM journal_meta WHERE key = ?1",
            params![key],
            |row| row.get(0),
        )
        .optional()?)
}

fn read_last_seq(conn: &Connection) -> Result<i64, JournalError> {
    let stored = read_meta(conn, SEQ_FLOOR_KEY)?;
    let in_blocks: Option<i64> =
        conn.query_row("SELECT MAX(last_seq) FROM event_blocks", [], |row| {
            row.get(0)
        })?;
    Ok(stored.unwrap_or(0).max(in_blocks.unwrap_or(0)))
}

/// Writes `ids` to `event_ids` in key order (each page of the table once) and records that
/// every block up to `through_seq` is indexed. An id whose event compaction has already taken
/// out of its block is written too: it then stays a duplicate for good, which is what a
/// redelivery within the compaction horizon gets anyway.
fn index_ids(
    tx: &Transaction<'_>,
    mut ids: Vec<&str>,
    through_seq: i64,
) -> Result<(), JournalError> {
    ids.sort_unstable();
    let mut insert = tx.prepare_cached(INSERT_ID)?;
    for id in ids {
        insert.execute(params![id])?;
    }
    write_meta(tx, IDS_INDEXED_THROUGH_KEY, through_seq)
}

/// Sets a value of `journal_meta`.
fn write_meta(conn: &Connection, key: &str, value: i64) -> Result<(), JournalError> {
    conn.prepare_cached(
        "INSERT INTO journal_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// The ids of the blocks committed after the last id flush. A journal that has no
/// `ids_indexed_through` yet was written by a format that indexed every id at its commit:
/// the key is set to its last seq and nothing is pending.
fn read_unindexed_ids(conn: &Connection, last_seq: i64) -> Result<FxHashSet<String>, JournalError> {
    let Some(through) = read_meta(conn, IDS_INDEXED_THROUGH_KEY)? else {
        write_meta(conn, IDS_INDEXED_THROUGH_KEY, last_seq)?;
        return Ok(FxHashSet::default());
    };
    let mut ids = FxHashSet::default();
    for_each_event_after(conn, through, |_, event| {
        ids.insert(event.id);
    })?;
    Ok(ids)
}

/// Hands every event above `after_seq` to `each` with its seq, in seq order, decoding the
/// blocks that hold one.
fn for_each_event_after(
    conn: &Connection,
    after_seq: i64,
    mut each: impl FnMut(i64, Event),
) -> Result<(), JournalError> {
    // Block numbers grow with seq (a block is numbered by its first event's seq), so the
    // block holding `after_seq + 1` is the last one numbered at most that, and the read starts
    // there by primary key instead of scanning every block's `last_seq` (a restart from a
    // snapshot reads only the journal's tail).
    let mut blocks = conn.prepare(
        "SELECT block, body FROM event_blocks
         WHERE block >= (SELECT COALESCE(MAX(block), 0) FROM event_blocks WHERE block <= ?1 + 1)
           AND last_seq > ?1
         ORDER BY block",
    )?;
    let mut rows = blocks.query(params![after_seq])?;
    while let Some(row) = rows.next()? {
        let block = row.get::<_, i64>(0)?;
        for (seq, event) in codec::decode_block(block, row.get_ref(1)?.as_blob()?)? {
            if seq > after_seq {
                each(seq, event);
            }
        }
    }
    Ok(())
}

/// Raises the seq floor of `journal_meta` to `seq` (never lowers it).
pub(super) fn raise_seq_floor(tx: &Transaction<'_>, seq: i64) -> Result<(), JournalError> {
    tx.prepare_cached(
        "INSERT INTO journal_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
    )?
    .execute(params![SEQ_FLOOR_KEY, seq])?;
    Ok(())
}

/// Moves a journal of the first format (one `events` row per event, JSON or binary v1 bodies)
/// into blocks of [`MIGRATION_BLOCK`] events, keeping every seq and id, in one transaction: a
/// crash part-way leaves the old table as it was and the next start does it again.
fn migrate_event_rows(conn: &mut Connection) -> Result<(), JournalError> {
    let has_rows_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')",
        [],
        |row| row.get(0),
    )?;
    if !has_rows_table {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let tx = conn.transaction()?;
    let mut moved = 0_u64;
    let mut last_seq: i64 = tx
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
            [],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(0);
    {
        let mut rows_statement =
            tx.prepare("SELECT seq, received_ms, body FROM events ORDER BY seq")?;
        let mut rows = rows_statement.query([])?;
        let mut insert_id = tx.prepare(INSERT_ID)?;
        let mut chunk: Vec<(i64, Event)> = Vec::with_capacity(MIGRATION_BLOCK);
        let mut chunk_received = i64::MIN;
        loop {
            let row = rows.next()?;
            if let Some(row) = row {
                let seq = row.get::<_, i64>(0)?;
                let event = codec::decode_event(seq, row.get_ref(2)?.as_bytes()?)?;
                insert_id.execute(params![event.id])?;
                chunk_received = chunk_received.max(row.get::<_, i64>(1)?);
                last_seq = last_seq.max(seq);
                chunk.push((seq, event));
                if chunk.len() < MIGRATION_BLOCK {
                    continue;
                }
            }
            if let Some(&(first, _)) = chunk.first() {
                let refs: Vec<(i64, &Event)> = chunk.iter().map(|(s, e)| (*s, e)).collect();
                insert_block(&tx, first, &refs, chunk_received)?;
                moved += chunk.len() as u64;
                chunk.clear();
                chunk_received = i64::MIN;
            }
            if row.is_none() {
                break;
            }
        }
    }
    raise_seq_floor(&tx, last_seq)?;
    tx.execute_batch("DROP TABLE events;")?;
    tx.commit()?;
    tracing::info!(
        events = moved,
        seconds = started.elapsed().as_secs_f64(),
        "journal moved from one row per event to blocks"
    );
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, JournalError> {
    serde_json::to_string(value).map_err(|error| JournalError::Corrupt {
        seq: 0,
        message: error.to_string(),
    })
}

fn from_json<T: serde::de::DeserializeOwned>(seq: i64, body: &str) -> Result<T, JournalError> {
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
                .unwrap_or_default()
                .into(),
        }
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ioc-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Rows of `event_ids`.
    fn indexed(journal: &SqliteJournal) -> usize {
        journal
            .conn
            .query_row("SELECT COUNT(*) FROM event_ids", [], |row| {
                row.get::<_, i64>(0)
            })
            .expect("count") as usize
    }

    fn events(prefix: &str, n: usize) -> Vec<Entry> {
        (0..n)
            .map(|i| Entry::Event(event(&format!("{prefix}{i}"), i as i64)))
            .collect()
    }

    #[test]
    fn ids_waiting_for_their_flush_dedupe_across_a_restart_and_after_it() {
        let dir = temp_dir("deferred-ids");
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 2).expect("open");
        journal.append(&events("e", 10), 0, &[]).expect("append");
        assert_eq!((journal.unindexed.len(), indexed(&journal)), (10, 0));
        drop(journal);

        // Reopened: the ten ids come back from their block.
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 2).expect("reopen");
        assert_eq!((journal.unindexed.len(), indexed(&journal)), (10, 0));
        let again = journal
            .append(
                &[
                    Entry::Event(event("e3", 3)),
                    Entry::Event(event("new", 99)),
                    Entry::Event(event("new", 99)),
                ],
                0,
                &[],
            )
            .expect("append");
        assert_eq!(
            again,
            vec![Outcome::Duplicate, Outcome::Stored(11), Outcome::Duplicate]
        );
        // Enough new ids for a flush: every id is in the table, none waits.
        let many = journal
            .append(&events("m", ID_INDEX_BATCH), 0, &[])
            .expect("append");
        assert!(many.iter().all(|o| matches!(o, Outcome::Stored(_))));
        assert_eq!(
            (journal.unindexed.len(), indexed(&journal)),
            (0, 11 + ID_INDEX_BATCH)
        );
        let late = journal
            .append(
                &[Entry::Event(event("m5", 5)), Entry::Event(event("e0", 0))],
                0,
                &[],
            )
            .expect("append");
        assert_eq!(late, vec![Outcome::Duplicate, Outcome::Duplicate]);
        drop(journal);

        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 2).expect("reopen");
        assert!(journal.unindexed.is_empty());
        let through = read_meta(&journal.conn, IDS_INDEXED_THROUGH_KEY).expect("key");
        assert_eq!(through, Some(11 + ID_INDEX_BATCH as i64));
        let mut replayed = 0;
        journal
            .replay(0, 1000, &mut |batch, _| replayed += batch.len())
            .expect("replay");
        assert_eq!(replayed, 11 + ID_INDEX_BATCH);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_filter_at_its_bound_is_built_again_without_missing_a_duplicate() {
        let dir = temp_dir("id-filter-bound");
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 2).expect("open");
        journal
            .append(&events("a-", ID_INDEX_BATCH), 0, &[])
            .expect("append");
        assert_eq!(indexed(&journal), ID_INDEX_BATCH);
        assert!(journal.indexed_filter.is_complete());
        journal.indexed_filter.pretend_at_the_bound();
        // The next id pass finds the filter due: a new one takes its place, empty until its
        // scan has read the table.
        journal
            .append(&events("b-", ID_INDEX_BATCH), 0, &[])
            .expect("append");
        assert_eq!(indexed(&journal), 2 * ID_INDEX_BATCH);
        assert!(!journal.indexed_filter.is_complete());
        let n = 2 * ID_INDEX_BATCH as i64;
        // The next commit's scan reads the table's 32,768 ids (less than one slice) into it
        // before its ids are looked up: every old id is still a duplicate.
        for (round, fresh) in [(1, "c-1"), (2, "c-2")] {
            let outcomes = journal
                .append(
                    &[
                        Entry::Event(event("a-5", 7)),
                        Entry::Event(event(&format!("b-{}", ID_INDEX_BATCH - 1), 7)),
                        Entry::Event(event(fresh, 8)),
                        Entry::Event(event("c-1", 8)),
                    ],
                    0,
                    &[],
                )
                .expect("append");
            assert_eq!(
                outcomes,
                [
                    Outcome::Duplicate,
                    Outcome::Duplicate,
                    Outcome::Stored(n + round),
                    Outcome::Duplicate,
                ],
                "round {round}"
            );
            assert!(journal.indexed_filter.is_complete());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn indexed_ids_stay_duplicates_while_the_filter_is_filled_after_a_restart() {
        let dir = temp_dir("id-filter");
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 2).expect("open");
        // Four id passes: more ids in the table than one slice of the filter's scan.
        let n = 4 * ID_INDEX_BATCH;
        for pass in 0..4 {
            journal
                .append(&events(&format!("p{pass}-"), ID_INDEX_BATCH), 0, &[])
                .expect("append");
        }
        assert_eq!(indexed(&journal), n);
        drop(journal);

        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 2).expect("reopen");
        assert!(!journal.indexed_filter.is_complete());
        // The first commit reads one slice of the table into the filter, not all of it: the
        // old ids are found by the table, on either side of the slice's end.
        let first = journal
            .append(
                &[
                    Entry::Event(event("p0-7", 7)),
                    Entry::Event(event("p3-16000", 7)),
                    Entry::Event(event("fresh-1", 8)),
                ],
                0,
                &[],
            )
            .expect("append");
        assert!(!journal.indexed_filter.is_complete());
        assert_eq!(
            first,
            [
                Outcome::Duplicate,
                Outcome::Duplicate,
                Outcome::Stored(n as i64 + 1)
            ]
        );
        // The second reads the rest; from then on the filter answers first.
        let second = journal
            .append(
                &[
                    Entry::Event(event("p3-16001", 7)),
                    Entry::Event(event("p1-0", 7)),
                    Entry::Event(event("fresh-1", 8)),
                    Entry::Event(event("fresh-2", 9)),
                ],
                0,
                &[],
            )
            .expect("append");
        assert!(journal.indexed_filter.is_complete());
        assert_eq!(
            second,
            [
                Outcome::Duplicate,
                Outcome::Duplicate,
                Outcome::Duplicate,
                Outcome::Stored(n as i64 + 2)
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
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

    /// The first format's table, as earlier releases created it.
    const ROWS_SCHEMA: &str = "
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            area TEXT NOT NULL,
            source TEXT NOT NULL,
            ts_ms INTEGER NOT NULL,
            received_ms INTEGER NOT NULL,
            body TEXT NOT NULL
        );";

    #[test]
    fn a_journal_of_one_row_per_event_is_moved_into_blocks_with_its_seqs_and_ids() {
        let dir = temp_dir("migrate");
        std::fs::create_dir_all(&dir).expect("dir");
        {
            let conn = Connection::open(dir.join(JOURNAL_FILE)).expect("create");
            conn.execute_batch(ROWS_SCHEMA).expect("old schema");
            let mut insert = conn
                .prepare(
                    "INSERT INTO events (seq, id, kind, area, source, ts_ms, received_ms, body)
                     VALUES (?1, ?2, 'noise', 'hoan-kiem', 's1', ?3, ?4, ?5)",
                )
                .expect("insert");
            // Seqs with a gap (a compacted row), bodies in JSON and in binary v1.
            for (seq, id, binary) in [(1, "a", false), (2, "b", true), (5, "c", false)] {
                let event = event(id, seq * 10);
                let body = if binary {
                    let mut body = Vec::new();
                    codec::encode_event(&event, &mut body).expect("encode");
                    body
                } else {
                    serde_json::to_vec(&event).expect("json")
                };
                insert
                    .execute(params![seq, id, seq * 10, 100 + seq, body])
                    .expect("row");
            }
            // The highest seq ever given out was 7 (rows 6 and 7 were deleted).
            conn.execute(
                "UPDATE sqlite_sequence SET seq = 7 WHERE name = 'events'",
                [],
            )
            .expect("sequence");
        }
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 2).expect("open");
        let mut seen = Vec::new();
        journal
            .replay(0, 2, &mut |batch, last| {
                seen.push((batch.into_iter().map(|e| e.id).collect::<Vec<_>>(), last))
            })
            .expect("replay");
        assert_eq!(
            seen,
            [
                (vec!["a".to_string(), "b".into()], 2),
                (vec!["c".to_string()], 5)
            ]
        );
        assert_eq!(journal.last_event_seq().ok(), Some(7));
        let outcomes = journal
            .append(
                &[Entry::Event(event("b", 20)), Entry::Event(event("d", 40))],
                200,
                &[],
            )
            .expect("append");
        assert_eq!(outcomes, [Outcome::Duplicate, Outcome::Stored(8)]);
        drop(journal);
        // The old table is gone; opening again moves nothing and keeps the numbering.
        let mut journal = SqliteJournal::open(&dir, Durability::ProcessCrash, 2).expect("reopen");
        let tables: i64 = journal
            .conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'events'",
                [],
                |row| row.get(0),
            )
            .expect("tables");
        assert_eq!(tables, 0);
        assert_eq!(journal.event_count().ok(), Some(4));
        let mut after_five = Vec::new();
        journal
            .replay(5, 10, &mut |batch, last| {
                after_five.push((batch.into_iter().map(|e| e.id).collect::<Vec<_>>(), last))
            })
            .expect("replay");
        assert_eq!(after_five, [(vec!["d".to_string()], 8)]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

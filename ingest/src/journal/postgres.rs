//! The shared journal of a cluster: PostgreSQL, reached with the synchronous `postgres` client
//! from the journal thread (and from a follower's own thread).
//!
//! - Migrations are numbered and run at start under an advisory lock, so instances starting
//!   together apply each one once.
//! - Group commit: one transaction per batch, events inserted with one multi-row
//!   `INSERT … SELECT FROM unnest(…) ON CONFLICT (id) DO NOTHING RETURNING seq`, so an event
//!   id is stored once across every instance.
//! - Sequence numbers follow commit order: a batch reserves its range by updating the one row
//!   of `ioc_journal_head`, whose row lock is held until commit. The next batch waits for that
//!   commit before it gets a higher range, so a reader that has seen seq N never later finds a
//!   row below N appear (numbers of duplicates are simply never used).
//! - Fences: the lease rows of the batch's slots are read `FOR SHARE` in the same transaction
//!   before anything is written; a lease whose epoch moved on refuses the whole batch. A new
//!   owner's `UPDATE` of the lease waits for such a transaction to end, so a commit is either
//!   entirely before a takeover or refused.

use super::codec::{decode_event, encode_event};
use super::{Entry, Fence, JournalError, JournalStore, Outcome, Recovered};
use crate::deadletter::DeadLetter;
use crate::event::Event;
use crate::reject::Reason;
use ::postgres::{Client, NoTls};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The schema, one step per version; a step is never edited once released, only added to.
const MIGRATIONS: &[&str] = &[
    // 1: the journal, its refusals and the cluster's membership and slot leases.
    "CREATE TABLE ioc_events (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        area TEXT NOT NULL,
        source TEXT NOT NULL,
        ts_ms BIGINT NOT NULL,
        received_ms BIGINT NOT NULL,
        body BYTEA NOT NULL
    );
    CREATE TABLE ioc_journal_head (
        one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        seq BIGINT NOT NULL
    );
    INSERT INTO ioc_journal_head (one, seq) VALUES (TRUE, 0);
    CREATE TABLE ioc_dead_letters (
        seq BIGSERIAL PRIMARY KEY,
        body BYTEA NOT NULL
    );
    CREATE TABLE ioc_rejected_counts (
        reason TEXT PRIMARY KEY,
        count BIGINT NOT NULL
    );
    CREATE TABLE ioc_instances (
        name TEXT PRIMARY KEY,
        heartbeat_at TIMESTAMPTZ NOT NULL,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE ioc_slots (
        slot INTEGER PRIMARY KEY,
        owner TEXT,
        epoch BIGINT NOT NULL DEFAULT 0,
        expires_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );",
];

/// Advisory lock key held while migrations run ("ioc" + 1).
const MIGRATION_LOCK: i64 = 0x696f_6301;

/// How long connecting may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a connection to `url` (`postgres://user@host:port/db`).
pub fn connect(url: &str) -> Result<Client, JournalError> {
    let mut config: ::postgres::Config = url.parse().map_err(|error: ::postgres::Error| {
        JournalError::Storage(format!("database url: {error}"))
    })?;
    config
        .connect_timeout(CONNECT_TIMEOUT)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .application_name("ioc")
        // A paused engine (SIGSTOP, a long GC-like stall) must not hold the journal head's
        // lock or its slot rows: the server ends such a transaction, and with it the locks.
        .options("-c idle_in_transaction_session_timeout=1500");
    config.connect(NoTls).map_err(storage)
}

/// Applies the migrations the database has not seen yet; safe to run from several instances
/// at once.
pub fn migrate(client: &mut Client) -> Result<(), JournalError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(storage)?;
    let result = run_steps(|| {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS ioc_schema_migrations (
                    version INTEGER PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )",
            )
            .map_err(storage)?;
        let done: i32 = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM ioc_schema_migrations",
                &[],
            )
            .map_err(storage)?
            .get(0);
        for (index, step) in MIGRATIONS.iter().enumerate() {
            let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
            if version <= done {
                continue;
            }
            let mut tx = client.transaction().map_err(storage)?;
            tx.batch_execute(step).map_err(storage)?;
            tx.execute(
                "INSERT INTO ioc_schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .map_err(storage)?;
            tx.commit().map_err(storage)?;
            tracing::info!(version, "journal schema migrated");
        }
        Ok(())
    });
    let unlock = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result.and(unlock.map(|_| ()).map_err(storage))
}

/// The PostgreSQL journal.
pub struct PostgresJournal {
    url: String,
    client: Option<Client>,
    dead_letter_capacity: usize,
    fenced: Arc<AtomicU64>,
    recovered_dead_letter_seq: i64,
}

impl PostgresJournal {
    /// Connects to `url` and brings the schema up to date.
    pub fn open(url: &str, dead_letter_capacity: usize) -> Result<Self, JournalError> {
        let mut client = connect(url)?;
        migrate(&mut client)?;
        Ok(Self {
            url: url.to_string(),
            client: Some(client),
            dead_letter_capacity,
            fenced: Arc::new(AtomicU64::new(0)),
            recovered_dead_letter_seq: 0,
        })
    }

    /// Counts the commits refused because a slot's lease had moved on; read by metrics so an
    /// operator (and the tests) can see a paused instance being fenced off.
    pub fn fenced_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.fenced)
    }

    /// The connection, opened again if the last one broke (a database restart): the caller's
    /// operation then fails or succeeds on the fresh one.
    fn client(&mut self) -> Result<&mut Client, JournalError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            let client = connect(&self.url)?;
            tracing::info!("journal reconnected to the database");
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| JournalError::Storage("no database connection".into()))
    }

    /// Drops a connection that failed so the next call opens a new one.
    fn on_error(&mut self, error: JournalError) -> JournalError {
        if matches!(error, JournalError::Storage(_)) {
            self.client = None;
        }
        error
    }

    /// Dead-letter records stored after `after_seq`, oldest first, at most `limit`: how a
    /// follower learns of the refusals other instances journaled.
    pub fn dead_letters_after(
        &mut self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, JournalError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let result = run_steps(|| -> Result<Vec<DeadLetter>, JournalError> {
            let rows = self
                .client()?
                .query(
                    "SELECT seq, body FROM ioc_dead_letters WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after_seq, &limit],
                )
                .map_err(storage)?;
            rows.iter()
                .map(|row| dead_letter(row.get(0), row.get(1)))
                .collect()
        });
        result.map_err(|error| self.on_error(error))
    }

    /// Sequence number of the newest dead-letter record [`JournalStore::recover`] counted:
    /// where a follower starts reading dead letters so each is counted once.
    pub fn recovered_dead_letter_seq(&self) -> i64 {
        self.recovered_dead_letter_seq
    }

    fn append_once(
        &mut self,
        entries: &[Entry],
        received_ms: i64,
        fences: &[Fence],
    ) -> Result<Vec<Outcome>, JournalError> {
        let capacity = i64::try_from(self.dead_letter_capacity).unwrap_or(i64::MAX);
        let client = self.client()?;
        let mut tx = client.transaction().map_err(storage)?;
        if !fences.is_empty() {
            let slots: Vec<i32> = fences
                .iter()
                .map(|f| i32::try_from(f.slot).unwrap_or(i32::MAX))
                .collect();
            let rows = tx
                .query(
                    "SELECT slot, epoch FROM ioc_slots WHERE slot = ANY($1) FOR SHARE",
                    &[&slots],
                )
                .map_err(storage)?;
            for fence in fences {
                let current = rows
                    .iter()
                    .find(|row| i64::from(row.get::<_, i32>(0)) == i64::from(fence.slot))
                    .map(|row| row.get::<_, i64>(1));
                if current != Some(fence.epoch) {
                    return Err(JournalError::Fenced {
                        slot: fence.slot,
                        epoch: fence.epoch,
                    });
                }
            }
        }
        let events: Vec<&Event> = entries
            .iter()
            .filter_map(|entry| match entry {
                Entry::Event(event) => Some(event),
                Entry::Rejected(_) => None,
            })
            .collect();
        let mut stored = std::collections::HashSet::new();
        let mut first_seq = 0_i64;
        if !events.is_empty() {
            let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
            // Reserves the range and holds the head's row lock until commit (see module doc).
            let head: i64 = tx
                .query_one(
                    "UPDATE ioc_journal_head SET seq = seq + $1 RETURNING seq",
                    &[&count],
                )
                .map_err(storage)?
                .get(0);
            first_seq = head - count + 1;
            let mut seqs = Vec::with_capacity(events.len());
            let mut ids = Vec::with_capacity(events.len());
            let mut kinds = Vec::with_capacity(events.len());
            let mut areas = Vec::with_capacity(events.len());
            let mut sources = Vec::with_capacity(events.len());
            let mut ts = Vec::with_capacity(events.len());
            let mut bodies = Vec::with_capacity(events.len());
            for (offset, event) in (0_i64..).zip(&events) {
                let mut body = Vec::new();
                encode_event(event, &mut body)?;
                seqs.push(first_seq + offset);
                ids.push(event.id.as_str());
                kinds.push(event.kind.as_str());
                areas.push(event.area.as_str());
                sources.push(event.source.as_str());
                ts.push(event.ts_ms);
                bodies.push(body);
            }
            let rows = tx
                .query(
                    "INSERT INTO ioc_events (seq, id, kind, area, source, ts_ms, received_ms, body)
                     SELECT s, i, k, a, src, t, $7, b
                     FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::int8[], $8::bytea[]) AS u(s, i, k, a, src, t, b)
                     ORDER BY s
                     ON CONFLICT (id) DO NOTHING
                     RETURNING seq",
                    &[
                        &seqs,
                        &ids,
                        &kinds,
                        &areas,
                        &sources,
                        &ts,
                        &received_ms,
                        &bodies,
                    ],
                )
                .map_err(storage)?;
            stored.extend(rows.iter().map(|row| row.get::<_, i64>(0)));
        }
        let mut outcomes = Vec::with_capacity(entries.len());
        let mut next_event = first_seq;
        let mut rejected_any = false;
        for entry in entries {
            match entry {
                Entry::Event(_) => {
                    outcomes.push(if stored.contains(&next_event) {
                        Outcome::Stored(next_event)
                    } else {
                        Outcome::Duplicate
                    });
                    next_event += 1;
                }
                Entry::Rejected(record) => {
                    let body =
                        serde_json::to_vec(record).map_err(|error| JournalError::Corrupt {
                            seq: 0,
                            message: error.to_string(),
                        })?;
                    let seq: i64 = tx
                        .query_one(
                            "INSERT INTO ioc_dead_letters (body) VALUES ($1) RETURNING seq",
                            &[&body],
                        )
                        .map_err(storage)?
                        .get(0);
                    tx.execute(
                        "INSERT INTO ioc_rejected_counts (reason, count) VALUES ($1, 1)
                         ON CONFLICT (reason) DO UPDATE SET count = ioc_rejected_counts.count + 1",
                        &[&record.reason.as_str()],
                    )
                    .map_err(storage)?;
                    outcomes.push(Outcome::Stored(seq));
                    rejected_any = true;
                }
            }
        }
        if rejected_any {
            tx.execute(
                "DELETE FROM ioc_dead_letters
                 WHERE seq <= (SELECT MAX(seq) FROM ioc_dead_letters) - $1",
                &[&capacity],
            )
            .map_err(storage)?;
        }
        tx.commit().map_err(storage)?;
        Ok(outcomes)
    }
}

impl JournalStore for PostgresJournal {
    fn append(
        &mut self,
        entries: &[Entry],
        received_ms: i64,
        fences: &[Fence],
    ) -> Result<Vec<Outcome>, JournalError> {
        match self.append_once(entries, received_ms, fences) {
            Ok(outcomes) => Ok(outcomes),
            Err(error @ JournalError::Fenced { .. }) => {
                self.fenced.fetch_add(1, Ordering::Relaxed);
                Err(error)
            }
            Err(error) => Err(self.on_error(error)),
        }
    }

    fn recover(&mut self) -> Result<Recovered, JournalError> {
        let capacity = i64::try_from(self.dead_letter_capacity).unwrap_or(i64::MAX);
        let result = run_steps(|| -> Result<(Recovered, i64), JournalError> {
            // One snapshot: the counters, the records and the newest record's seq agree, so a
            // follower starting after that seq counts nothing twice and misses nothing.
            let mut client = self
                .client()?
                .build_transaction()
                .isolation_level(::postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(storage)?;
            let mut recovered = Recovered::default();
            for row in client
                .query("SELECT reason, count FROM ioc_rejected_counts", &[])
                .map_err(storage)?
            {
                if let Some(reason) = Reason::parse(row.get(0)) {
                    let count: i64 = row.get(1);
                    recovered
                        .rejected
                        .insert(reason, u64::try_from(count).unwrap_or(0));
                }
            }
            let rows = client
                .query(
                    "SELECT seq, body FROM (
                         SELECT seq, body FROM ioc_dead_letters ORDER BY seq DESC LIMIT $1
                     ) AS newest ORDER BY seq",
                    &[&capacity],
                )
                .map_err(storage)?;
            for row in rows {
                recovered
                    .dead_letters
                    .push(dead_letter(row.get(0), row.get(1))?);
            }
            let last: i64 = client
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM ioc_dead_letters", &[])
                .map_err(storage)?
                .get(0);
            client.commit().map_err(storage)?;
            Ok((recovered, last))
        });
        match result {
            Ok((recovered, last)) => {
                self.recovered_dead_letter_seq = last;
                Ok(recovered)
            }
            Err(error) => Err(self.on_error(error)),
        }
    }

    fn replay(
        &mut self,
        after_seq: i64,
        chunk: usize,
        each: &mut dyn FnMut(Vec<Event>, i64),
    ) -> Result<u64, JournalError> {
        let limit = i64::try_from(chunk.max(1)).unwrap_or(i64::MAX);
        let mut after = after_seq;
        let mut total = 0_u64;
        loop {
            let rows = match self.client().and_then(|client| {
                client
                    .query(
                        "SELECT seq, body FROM ioc_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                        &[&after, &limit],
                    )
                    .map_err(storage)
            }) {
                Ok(rows) => rows,
                Err(error) => return Err(self.on_error(error)),
            };
            let Some(last) = rows.last().map(|row| row.get::<_, i64>(0)) else {
                break;
            };
            let events = rows
                .iter()
                .map(|row| decode_event(row.get(0), row.get(1)))
                .collect::<Result<Vec<_>, _>>()?;
            total += events.len() as u64;
            after = last;
            each(events, last);
        }
        Ok(total)
    }

    fn last_event_seq(&mut self) -> Result<i64, JournalError> {
        let result = run_steps(|| -> Result<i64, JournalError> {
            Ok(self
                .client()?
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM ioc_events", &[])
                .map_err(storage)?
                .get(0))
        });
        result.map_err(|error| self.on_error(error))
    }

    fn event_count(&mut self) -> Result<u64, JournalError> {
        let result = run_steps(|| -> Result<u64, JournalError> {
            let count: i64 = self
                .client()?
                .query_one("SELECT COUNT(*) FROM ioc_events", &[])
                .map_err(storage)?
                .get(0);
            Ok(u64::try_from(count).unwrap_or(0))
        });
        result.map_err(|error| self.on_error(error))
    }
}

/// A database error as a retryable storage error.
pub(crate) fn storage(error: ::postgres::Error) -> JournalError {
    JournalError::Storage(error.to_string())
}

fn dead_letter(seq: i64, body: &[u8]) -> Result<DeadLetter, JournalError> {
    let mut record: DeadLetter =
        serde_json::from_slice(body).map_err(|error| JournalError::Corrupt {
            seq,
            message: error.to_string(),
        })?;
    record.seq = seq;
    Ok(record)
}

/// Runs a group of fallible steps so that the caller can handle their first error in one
/// place (dropping a broken connection, releasing a lock).
fn run_steps<T>(steps: impl FnOnce() -> Result<T, JournalError>) -> Result<T, JournalError> {
    steps()
}

//! Slot leases and instance heartbeats in PostgreSQL. Every comparison of times uses the
//! database's clock, so instances with skewed clocks still agree on who holds what.

use crate::journal::postgres::{connect, migrate, storage};
use crate::journal::{Fence, JournalError};
use postgres::Client;
use std::time::Duration;

/// One instance's view of the lease tables.
pub struct Leases {
    url: String,
    client: Option<Client>,
    instance: String,
    ttl_ms: i64,
}

impl Leases {
    /// Connects, brings the schema up to date and makes sure `slots` lease rows exist. A
    /// cluster whose table holds a different number of slots is refused: every instance must
    /// be started with the same `--slots`.
    pub fn open(
        url: &str,
        instance: &str,
        slots: u32,
        ttl: Duration,
    ) -> Result<Self, JournalError> {
        let mut client = connect(url)?;
        migrate(&mut client)?;
        let count = i32::try_from(slots).unwrap_or(i32::MAX);
        client
            .execute(
                "INSERT INTO ioc_slots (slot) SELECT generate_series(0, $1 - 1)
                 ON CONFLICT (slot) DO NOTHING",
                &[&count],
            )
            .map_err(storage)?;
        let existing: i64 = client
            .query_one("SELECT COUNT(*) FROM ioc_slots", &[])
            .map_err(storage)?
            .get(0);
        if existing != i64::from(count) {
            return Err(JournalError::Storage(format!(
                "the cluster has {existing} slots but this instance was started with --slots {slots}; \
                 start every instance with the same --slots"
            )));
        }
        Ok(Self {
            url: url.to_string(),
            client: Some(client),
            instance: instance.to_string(),
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
        })
    }

    fn client(&mut self) -> Result<&mut Client, JournalError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.client = Some(connect(&self.url)?);
        }
        self.client
            .as_mut()
            .ok_or_else(|| JournalError::Storage("no database connection".into()))
    }

    fn run<T>(
        &mut self,
        work: impl FnOnce(&mut Client, &str, i64) -> Result<T, postgres::Error>,
    ) -> Result<T, JournalError> {
        let (instance, ttl) = (self.instance.clone(), self.ttl_ms);
        let result = work(self.client()?, &instance, ttl).map_err(storage);
        if result.is_err() {
            self.client = None;
        }
        result
    }

    /// Records that this instance is alive; returns how many instances are (itself included).
    pub fn heartbeat(&mut self) -> Result<usize, JournalError> {
        self.run(|client, me, ttl| {
            client.execute(
                "INSERT INTO ioc_instances (name, heartbeat_at) VALUES ($1, now())
                 ON CONFLICT (name) DO UPDATE SET heartbeat_at = now()",
                &[&me],
            )?;
            let live: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM ioc_instances
                     WHERE heartbeat_at > now() - make_interval(secs => $1::float8 / 1000)",
                    &[&(ttl as f64)],
                )?
                .get(0);
            Ok(usize::try_from(live).unwrap_or(1).max(1))
        })
    }

    /// Extends the leases still held (same epoch); returns those. A lease missing from the
    /// answer was taken over while this instance was away.
    pub fn renew(&mut self, held: &[Fence]) -> Result<Vec<Fence>, JournalError> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let slots: Vec<i32> = held.iter().map(|f| slot_number(f.slot)).collect();
        let epochs: Vec<i64> = held.iter().map(|f| f.epoch).collect();
        self.run(|client, me, ttl| {
            let rows = client.query(
                "UPDATE ioc_slots AS s
                 SET expires_at = now() + make_interval(secs => $4::float8 / 1000)
                 FROM unnest($1::int4[], $2::int8[]) AS h(slot, epoch)
                 WHERE s.slot = h.slot AND s.epoch = h.epoch AND s.owner = $3
                 RETURNING s.slot, s.epoch",
                &[&slots, &epochs, &me, &(ttl as f64)],
            )?;
            Ok(rows.iter().map(fence_of).collect())
        })
    }

    /// Takes up to `want` slots that nobody holds or whose lease expired, each with a new
    /// epoch.
    pub fn acquire(&mut self, want: usize) -> Result<Vec<Fence>, JournalError> {
        if want == 0 {
            return Ok(Vec::new());
        }
        let want = i64::try_from(want).unwrap_or(i64::MAX);
        self.run(|client, me, ttl| {
            let rows = client.query(
                "UPDATE ioc_slots
                 SET owner = $1, epoch = epoch + 1,
                     expires_at = now() + make_interval(secs => $3::float8 / 1000)
                 WHERE slot IN (
                     SELECT slot FROM ioc_slots
                     WHERE owner IS NULL OR expires_at < now()
                     ORDER BY slot LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 RETURNING slot, epoch",
                &[&me, &want, &(ttl as f64)],
            )?;
            Ok(rows.iter().map(fence_of).collect())
        })
    }

    /// Gives a slot back (after its subscriber stopped) so another instance may take it at
    /// once.
    pub fn release(&mut self, fence: Fence) -> Result<(), JournalError> {
        self.run(|client, me, _| {
            client.execute(
                "UPDATE ioc_slots SET owner = NULL, expires_at = now()
                 WHERE slot = $1 AND epoch = $2 AND owner = $3",
                &[&slot_number(fence.slot), &fence.epoch, &me],
            )?;
            Ok(())
        })
    }

    /// Leaves the cluster: the remaining instances count one less at once.
    pub fn leave(&mut self) -> Result<(), JournalError> {
        self.run(|client, me, _| {
            client.execute("DELETE FROM ioc_instances WHERE name = $1", &[&me])?;
            Ok(())
        })
    }
}

fn slot_number(slot: u32) -> i32 {
    i32::try_from(slot).unwrap_or(i32::MAX)
}

fn fence_of(row: &postgres::Row) -> Fence {
    Fence {
        slot: u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
        epoch: row.get(1),
    }
}

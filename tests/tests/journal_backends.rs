//! One journal suite, run against both backends: the embedded SQLite journal and the
//! PostgreSQL journal of a cluster (the machine's server, a fresh database per test, dropped
//! at the end).

use ioc_ingest::deadletter::DeadLetter;
use ioc_ingest::journal::{
    Durability, Entry, Fence, JournalError, JournalStore, Outcome, PostgresJournal, SqliteJournal,
};
use ioc_ingest::reject::{Reason, Rejection};
use ioc_ingest::{Event, Kind};
use ioc_tests::postgres::TestDatabase;
use serde_json::json;
use std::path::PathBuf;

/// Where a backend keeps its data, and how to open it again.
enum Backend {
    Sqlite(PathBuf),
    Postgres(TestDatabase),
}

impl Backend {
    fn sqlite(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ioc-journal-suite-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Backend::Sqlite(dir)
    }

    fn postgres(test: &str) -> Self {
        Backend::Postgres(TestDatabase::create(&format!("journal_{test}")))
    }

    fn open(&self) -> Box<dyn JournalStore> {
        match self {
            Backend::Sqlite(dir) => Box::new(
                SqliteJournal::open(dir, Durability::ProcessCrash, 3).expect("open sqlite"),
            ),
            Backend::Postgres(db) => {
                Box::new(PostgresJournal::open(&db.url(), 3).expect("open postgres"))
            }
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Backend::Sqlite(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn event(id: &str, ts_ms: i64) -> Event {
    Event {
        id: id.into(),
        source: "noise-1".into(),
        kind: Kind::Noise,
        area: "hoan-kiem".into(),
        ts_ms,
        lat: None,
        lon: None,
        values: json!({"laeq": 55.5, "note": "Hoàn Kiếm"})
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into(),
    }
}

fn rejected(detail: &str, reason: Reason) -> Entry {
    Entry::Rejected(DeadLetter::new(
        &Rejection::new(reason, detail),
        "city/x",
        b"{",
        0,
    ))
}

fn replayed(store: &mut dyn JournalStore, after: i64, chunk: usize) -> Vec<(String, i64)> {
    let mut seen = Vec::new();
    store
        .replay(after, chunk, &mut |events, last| {
            let n = events.len();
            for (index, event) in events.into_iter().enumerate() {
                // Only the chunk's last event carries the seq the callback names.
                let seq = if index + 1 == n { last } else { -1 };
                seen.push((event.id, seq));
            }
        })
        .expect("replay");
    seen
}

fn stored_seq(outcome: &Outcome) -> i64 {
    match outcome {
        Outcome::Stored(seq) => *seq,
        Outcome::Duplicate => panic!("expected stored, got duplicate"),
    }
}

/// Dedupe within and across batches, outcomes in entry order, seqs increasing, replay after a
/// seq in chunks, counters and dead letters recovered after reopening.
fn dedupe_order_replay_recover(backend: &Backend) {
    let mut journal = backend.open();
    let first = journal
        .append(
            &[
                Entry::Event(event("a", 1)),
                Entry::Event(event("b", 2)),
                Entry::Event(event("a", 1)),
                rejected("#1", Reason::MalformedJson),
            ],
            10,
            &[],
        )
        .expect("append");
    assert_eq!(first.len(), 4);
    assert_eq!(first[2], Outcome::Duplicate);
    let (a, b) = (stored_seq(&first[0]), stored_seq(&first[1]));
    assert!(b > a, "seqs grow in entry order: {a} then {b}");
    assert!(matches!(first[3], Outcome::Stored(_)));

    let second = journal
        .append(
            &[
                Entry::Event(event("b", 2)),
                Entry::Event(event("c", 3)),
                rejected("#2", Reason::UnknownArea),
                rejected("#3", Reason::UnknownArea),
                rejected("#4", Reason::MalformedJson),
            ],
            11,
            &[],
        )
        .expect("append");
    assert_eq!(second[0], Outcome::Duplicate);
    let c = stored_seq(&second[1]);
    assert!(c > b);
    assert_eq!(journal.last_event_seq().expect("last"), c);
    assert_eq!(journal.event_count().expect("count"), 3);
    drop(journal);

    let mut journal = backend.open();
    assert_eq!(
        replayed(journal.as_mut(), 0, 2),
        vec![("a".into(), -1), ("b".into(), b), ("c".into(), c)]
    );
    assert_eq!(
        replayed(journal.as_mut(), a, 10),
        vec![("b".into(), -1), ("c".into(), c)]
    );
    assert_eq!(replayed(journal.as_mut(), c, 10), vec![]);
    let body = {
        let mut events = Vec::new();
        journal
            .replay(0, 1, &mut |batch, _| events.extend(batch))
            .expect("replay");
        events
    };
    assert_eq!(
        body[0],
        event("a", 1),
        "an event comes back as it was written"
    );

    let recovered = journal.recover().expect("recover");
    assert_eq!(recovered.rejected.get(&Reason::MalformedJson), Some(&2));
    assert_eq!(recovered.rejected.get(&Reason::UnknownArea), Some(&2));
    let kept: Vec<&str> = recovered
        .dead_letters
        .iter()
        .map(|d| d.detail.as_str())
        .collect();
    assert_eq!(
        kept,
        ["#2", "#3", "#4"],
        "the newest three dead letters are kept"
    );
}

#[test]
fn sqlite_dedupes_orders_replays_and_recovers() {
    dedupe_order_replay_recover(&Backend::sqlite("basics"));
}

#[test]
fn postgres_dedupes_orders_replays_and_recovers() {
    dedupe_order_replay_recover(&Backend::postgres("basics"));
}

#[test]
fn sqlite_has_no_leases_and_accepts_any_fence() {
    let backend = Backend::sqlite("fence");
    let mut journal = backend.open();
    let outcomes = journal
        .append(
            &[Entry::Event(event("a", 1))],
            1,
            &[Fence { slot: 3, epoch: 99 }],
        )
        .expect("append");
    assert!(matches!(outcomes[0], Outcome::Stored(_)));
}

#[test]
fn postgres_refuses_a_commit_whose_lease_moved_on() {
    let backend = Backend::postgres("fence");
    let Backend::Postgres(db) = &backend else {
        unreachable!()
    };
    let mut journal = PostgresJournal::open(&db.url(), 10).expect("open");
    let fenced = journal.fenced_counter();
    let mut sql = db.client();
    sql.batch_execute(
        "INSERT INTO ioc_slots (slot, owner, epoch, expires_at) VALUES
         (0, 'one', 1, now() + interval '1 hour'), (1, 'one', 4, now() + interval '1 hour')",
    )
    .expect("leases");
    let fences = [Fence { slot: 0, epoch: 1 }, Fence { slot: 1, epoch: 4 }];
    let outcomes = journal
        .append(&[Entry::Event(event("a", 1))], 1, &fences)
        .expect("current leases commit");
    assert!(matches!(outcomes[0], Outcome::Stored(_)));

    // Another instance takes slot 1 over: the old epoch can no longer commit anything.
    sql.batch_execute("UPDATE ioc_slots SET owner = 'two', epoch = 5 WHERE slot = 1")
        .expect("takeover");
    let refused = journal.append(
        &[
            Entry::Event(event("b", 2)),
            rejected("#1", Reason::TooLarge),
        ],
        2,
        &fences,
    );
    assert!(
        matches!(refused, Err(JournalError::Fenced { slot: 1, epoch: 4 })),
        "{refused:?}"
    );
    assert_eq!(fenced.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(
        journal.event_count().expect("count"),
        1,
        "nothing of the refused batch"
    );
    assert!(journal.recover().expect("recover").rejected.is_empty());
    // A slot that never had a lease is refused too.
    let unknown = journal.append(
        &[Entry::Event(event("c", 3))],
        3,
        &[Fence { slot: 7, epoch: 0 }],
    );
    assert!(matches!(unknown, Err(JournalError::Fenced { slot: 7, .. })));
    // The new owner's epoch commits.
    let outcomes = journal
        .append(
            &[Entry::Event(event("b", 2))],
            4,
            &[Fence { slot: 1, epoch: 5 }],
        )
        .expect("new epoch");
    assert!(matches!(outcomes[0], Outcome::Stored(_)));
}

/// Two instances on one database: an id is stored once whichever writes it, and writers racing
/// each other never make a follower reading `seq > N` skip a row that commits later.
#[test]
fn postgres_dedupes_across_instances_and_followers_never_skip() {
    let backend = Backend::postgres("followers");
    let Backend::Postgres(db) = &backend else {
        unreachable!()
    };
    let url = db.url();
    let mut one = PostgresJournal::open(&url, 10).expect("one");
    let mut two = PostgresJournal::open(&url, 10).expect("two");
    let first = one
        .append(&[Entry::Event(event("same", 1))], 1, &[])
        .expect("one");
    let again = two
        .append(
            &[
                Entry::Event(event("same", 1)),
                Entry::Event(event("other", 2)),
            ],
            1,
            &[],
        )
        .expect("two");
    assert!(matches!(first[0], Outcome::Stored(_)));
    assert_eq!(again[0], Outcome::Duplicate);
    assert!(matches!(again[1], Outcome::Stored(_)));

    const WRITERS: usize = 4;
    const BATCHES: usize = 60;
    const PER_BATCH: usize = 25;
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut journal = PostgresJournal::open(&url, 10).expect("writer");
                for batch in 0..BATCHES {
                    let entries: Vec<Entry> = (0..PER_BATCH)
                        .map(|i| Entry::Event(event(&format!("w{writer}-{batch}-{i}"), 5)))
                        .collect();
                    journal.append(&entries, 5, &[]).expect("append");
                }
            })
        })
        .collect();
    // The follower tails the journal while the writers race.
    let mut follower = PostgresJournal::open(&url, 10).expect("follower");
    let mut after = 0;
    let mut seen = Vec::new();
    let expected = 2 + WRITERS * BATCHES * PER_BATCH;
    while seen.len() < expected {
        follower
            .replay(after, 500, &mut |events, last| {
                seen.extend(events.into_iter().map(|e| e.id));
                after = last;
            })
            .expect("follow");
    }
    for writer in writers {
        writer.join().expect("writer thread");
    }
    let distinct: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), expected, "every row once, none skipped");
    assert_eq!(distinct.len(), expected);
    assert_eq!(follower.event_count().expect("count"), expected as u64);
}

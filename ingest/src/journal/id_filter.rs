//! A filter of the ids in `event_ids`, held in memory so that an id the journal has never seen
//! (nearly every id) skips the table (docs/architecture.md, "The journal").
//!
//! The dedupe probe of `event_ids` was a fifth of the journal thread in B3: a B-tree descent
//! through cached pages for every event, to learn what the id's newness already suggested. The
//! filter answers "certainly not there" or "maybe there"; only "maybe" goes to the table, so a
//! wrong answer costs one probe and never a lost or doubled event.
//!
//! It is made of blocked Bloom filters: an id sets [`BITS_PER_ID`] bits within one 512-bit
//! block (one cache line), chosen by a hash of the id; at their designed load about one new id
//! in a hundred still probes the table. When the newest layer is full the next ids go to a new
//! one twice its size, so the filter grows with the journal without reading the table again.
//! It is filled at open by scanning `event_ids` in key order, a slice per commit
//! ([`IdFilter::scan_step`]), so a start does not wait for millions of ids to be read; until
//! the scan ends every id probes the table, as before the filter existed. Ids that compaction
//! deletes from the table stay set: more "maybe" answers, never a wrong "no". Once the layers
//! reach their memory bound the filter is built again from the table, which drops them; if the
//! table itself holds more ids than the bound, the full filter answers "maybe" more often (as
//! many probes as without a filter, at worst) and is built again only once as many ids again
//! have come, so rebuilds never follow one another ([`IdFilter::rebuild_due`]).

use super::JournalError;
use rusqlite::{Connection, params};
use std::hash::BuildHasher;

/// Bits set per id. With [`BITS_PER_SLOT`] bits of filter per id, seven bits in one block give
/// about one false "maybe" in a hundred.
const BITS_PER_ID: u32 = 7;

/// Bits of filter per id a layer is sized for.
const BITS_PER_SLOT: usize = 10;

/// Bits in one block: a 64-byte cache line.
const BLOCK_BITS: usize = 512;

/// The fewest ids a layer is sized for (1.25 MB).
const MIN_CAPACITY: usize = 1 << 20;

/// The most ids all layers together are sized for: 64 MiB of memory. Past it the filter is
/// built again from the table ([`IdFilter::rebuild_due`]), which also drops the ids that
/// compaction deleted since.
const MAX_CAPACITY: usize = 64 * 1024 * 1024 * 8 / BITS_PER_SLOT;

/// Ids read from `event_ids` per commit while the filter is being filled: a few milliseconds
/// added to a commit, and a journal of ten million ids is covered within 200 commits.
const SCAN_STEP: usize = 50_000;

/// One Bloom filter of fixed size. The filter is a list of them so that it grows without
/// reading the table again: a full layer stays as it is and the next ids go to a new one twice
/// its size (a rebuild at each doubling cost a scan of every id so far, 5 s of the journal
/// thread for 10 M ids). An id is looked up in each layer, one cache line each.
struct Layer {
    /// 512-bit blocks.
    blocks: Vec<[u64; BLOCK_BITS / 64]>,
    /// Ids it is sized for.
    capacity: usize,
    /// Ids added to it.
    added: usize,
}

impl Layer {
    fn new(capacity: usize) -> Self {
        Self {
            blocks: vec![[0; BLOCK_BITS / 64]; (capacity * BITS_PER_SLOT).div_ceil(BLOCK_BITS)],
            capacity,
            added: 0,
        }
    }

    fn contains(&self, hash: u64) -> bool {
        let (block, bits) = self.place(hash);
        self.blocks[block]
            .iter()
            .zip(bits.iter())
            .all(|(word, mask)| word & mask == *mask)
    }

    fn insert(&mut self, hash: u64) {
        let (block, bits) = self.place(hash);
        for (word, mask) in self.blocks[block].iter_mut().zip(bits.iter()) {
            *word |= mask;
        }
        self.added += 1;
    }

    /// The block and the bit of each of its words that an id of this hash sets (most words
    /// get one bit, a few none or two).
    fn place(&self, hash: u64) -> (usize, [u64; BLOCK_BITS / 64]) {
        // The high half picks the block (multiply-shift maps it onto the block count without
        // a division), a remix of the hash the bits within it, nine at a time.
        let block = (((hash >> 32) * self.blocks.len() as u64) >> 32) as usize;
        let mut bits = [0_u64; BLOCK_BITS / 64];
        let mut spread = mix(hash);
        for _ in 0..BITS_PER_ID {
            let bit = (spread & (BLOCK_BITS as u64 - 1)) as usize;
            bits[bit / 64] |= 1 << (bit % 64);
            spread >>= 9;
        }
        (block, bits)
    }
}

/// The filter and how far its filling has come.
pub(super) struct IdFilter {
    /// Oldest first; the last one takes new ids. Never empty.
    layers: Vec<Layer>,
    /// The scan of `event_ids` that fills it: `Some(last id read)` (empty before the first
    /// row) while it runs, `None` once every id of the table is in.
    scan_after: Option<String>,
    /// Ids the scan has read: once it has ended, how many the table held then.
    scanned: usize,
    /// Most ids all layers together may be sized for: [`MAX_CAPACITY`] (a field so that a
    /// test can reach it without indexing tens of millions of ids).
    bound: usize,
}

impl IdFilter {
    /// A filter for a journal holding about `ids` ids, sized for twice that and still to be
    /// filled from the table by [`IdFilter::scan_step`].
    pub(super) fn scanning(ids: usize) -> Self {
        let capacity = ids.saturating_mul(2).clamp(MIN_CAPACITY, MAX_CAPACITY);
        Self {
            layers: vec![Layer::new(capacity)],
            scan_after: Some(String::new()),
            scanned: 0,
            bound: MAX_CAPACITY,
        }
    }

    /// A filter to take this one's place at its memory bound, still to be filled from the
    /// table. It is sized from the ids this one took, which the table holds at most
    /// (compaction only takes ids out): counting the table instead read every journal block,
    /// over a second at 30 M events, in the middle of a commit whose acknowledgements waited.
    pub(super) fn rebuilt(&self) -> Self {
        Self::scanning(self.added())
    }

    /// Whether `id` may be in the table; `false` means it certainly is not. Every id may be
    /// there until the scan has ended.
    pub(super) fn may_contain(&self, id: &str) -> bool {
        if !self.is_complete() {
            return true;
        }
        let hash = id_hash(id);
        self.layers.iter().any(|layer| layer.contains(hash))
    }

    /// Records that `id` is in the table.
    pub(super) fn insert(&mut self, id: &str) {
        let hash = id_hash(id);
        let full = self
            .layers
            .last()
            .filter(|layer| layer.added >= layer.capacity)
            .map(|layer| layer.capacity);
        if let Some(full) = full {
            let next = full.saturating_mul(2);
            // At the memory bound the last layer takes more than it was sized for, and
            // `rebuild_due` says so.
            if self.sized_for().saturating_add(next) <= self.bound {
                self.layers.push(Layer::new(next));
            }
        }
        if let Some(layer) = self.layers.last_mut() {
            layer.insert(hash);
        }
    }

    /// Whether the scan that fills it has read the whole table.
    pub(super) fn is_complete(&self) -> bool {
        self.scan_after.is_none()
    }

    /// Whether it should be replaced by a filter built again from the table
    /// ([`IdFilter::rebuilt`]): it holds more ids than its memory allows it to answer well
    /// for, its scan has ended, and it has taken at least as many ids since the scan as the
    /// scan read. The last condition matters when the table alone fills the filter: a new one
    /// would be as full, so the next rebuild waits until the ids have doubled, which keeps the
    /// scans' cost per id bounded and never starts one rebuild after another.
    pub(super) fn rebuild_due(&self) -> bool {
        self.is_complete()
            && self.added() >= self.scanned.saturating_mul(2)
            && self
                .layers
                .last()
                .is_some_and(|layer| layer.added > layer.capacity)
    }

    /// Puts the filter where a long run leaves it: filled, its newest layer full and its
    /// memory bound reached, so that the next id overfills it (a journal's tests cannot index
    /// 50 M ids).
    #[cfg(test)]
    pub(super) fn pretend_at_the_bound(&mut self) {
        self.scan_after = None;
        self.scanned = 0;
        if let Some(layer) = self.layers.last_mut() {
            layer.capacity = layer.added;
        }
        self.bound = self.sized_for();
    }

    /// Ids it has taken, from the scan and from commits.
    fn added(&self) -> usize {
        self.layers.iter().map(|layer| layer.added).sum()
    }

    /// Ids the layers together are sized for.
    fn sized_for(&self) -> usize {
        self.layers.iter().map(|layer| layer.capacity).sum()
    }

    /// Reads the next slice of `event_ids` into the filter; the last slice ends the scan. Ids
    /// that commits index meanwhile are added by them ([`IdFilter::insert`]), wherever they
    /// fall against the scan.
    pub(super) fn scan_step(&mut self, conn: &Connection) -> Result<(), JournalError> {
        let Some(after) = self.scan_after.take() else {
            return Ok(());
        };
        let mut next =
            conn.prepare_cached("SELECT id FROM event_ids WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let mut rows = next.query(params![after, SCAN_STEP as i64])?;
        let mut read = 0_usize;
        let mut last: Option<String> = None;
        while let Some(row) = rows.next()? {
            let id = row.get_ref(0)?.as_str()?;
            self.insert(id);
            read += 1;
            self.scanned += 1;
            if read == SCAN_STEP {
                last = Some(id.to_owned());
            }
        }
        // A full slice may have more after it; a short one was the table's end.
        self.scan_after = last;
        Ok(())
    }
}

/// A 64-bit hash of an id, the same in every process (the filter is rebuilt at each start, but
/// a fixed function keeps its behaviour reproducible).
fn id_hash(id: &str) -> u64 {
    mix(rustc_hash::FxBuildHasher.hash_one(id))
}

/// Spreads every input bit over the whole word (the finalizer of MurmurHash3): FxHash alone
/// leaves the low bits of similar ids alike.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(ids: impl IntoIterator<Item = String>) -> Connection {
        let conn = Connection::open_in_memory().expect("memory db");
        conn.execute_batch("CREATE TABLE event_ids (id TEXT PRIMARY KEY) WITHOUT ROWID;")
            .expect("table");
        let mut insert = conn
            .prepare("INSERT INTO event_ids (id) VALUES (?1)")
            .expect("insert");
        for id in ids {
            insert.execute(params![id]).expect("row");
        }
        drop(insert);
        conn
    }

    #[test]
    fn every_id_may_be_there_until_the_scan_has_read_the_whole_table() {
        // 2.5 slices: three steps, the last one short.
        let n = SCAN_STEP * 5 / 2;
        let conn = table((0..n).map(|i| format!("sensor-{}:{i}", i % 97)));
        let mut filter = IdFilter::scanning(n);
        let mut steps = 0;
        while !filter.is_complete() {
            assert!(filter.may_contain("never-seen"));
            filter.scan_step(&conn).expect("step");
            steps += 1;
        }
        assert_eq!(steps, 3);
        assert_eq!(
            filter.layers.iter().map(|layer| layer.added).sum::<usize>(),
            n
        );
        // No id of the table is ever answered "not there".
        assert!((0..n).all(|i| filter.may_contain(&format!("sensor-{}:{i}", i % 97))));
        // New ids mostly skip the table: about 1 % false "maybe" at the designed load, here
        // well under it (n ids in a filter sized for 2n).
        let wrong = (0..100_000)
            .filter(|i| filter.may_contain(&format!("new-{i}")))
            .count();
        assert!(wrong < 1_000, "{wrong} false positives in 100,000");
    }

    #[test]
    fn ids_indexed_while_the_scan_runs_are_kept_wherever_they_fall() {
        let conn = table((0..SCAN_STEP + 10).map(|i| format!("b{i:07}")));
        let mut filter = IdFilter::scanning(0);
        filter.scan_step(&conn).expect("step");
        assert!(!filter.is_complete());
        // A commit indexes one id behind the scan and one ahead of it.
        for id in ["a-behind", "z-ahead"] {
            conn.execute("INSERT INTO event_ids (id) VALUES (?1)", params![id])
                .expect("index");
            filter.insert(id);
        }
        filter.scan_step(&conn).expect("step");
        assert!(filter.is_complete());
        for id in ["a-behind", "z-ahead", "b0000000", "b0050009"] {
            assert!(filter.may_contain(id), "{id}");
        }
    }

    #[test]
    fn a_full_layer_is_kept_and_the_next_ids_go_to_a_larger_one() {
        let conn = table([]);
        let mut filter = IdFilter::scanning(0);
        filter.scan_step(&conn).expect("step");
        assert!(filter.is_complete());
        assert!(!filter.may_contain("x"));
        assert_eq!(filter.sized_for(), MIN_CAPACITY);
        let n = 2 * MIN_CAPACITY + 1;
        for i in 0..n {
            filter.insert(&format!("id-{i}"));
        }
        // 1 M in the first layer, 1 M + 1 in the second (2 M).
        let layers: Vec<(usize, usize)> = filter
            .layers
            .iter()
            .map(|layer| (layer.capacity, layer.added))
            .collect();
        assert_eq!(
            layers,
            [
                (MIN_CAPACITY, MIN_CAPACITY),
                (2 * MIN_CAPACITY, MIN_CAPACITY + 1)
            ]
        );
        assert!((0..n).all(|i| filter.may_contain(&format!("id-{i}"))));
        assert!(!filter.rebuild_due());
    }

    #[test]
    fn at_its_largest_the_filter_asks_to_be_rebuilt_instead_of_growing() {
        let mut filter = IdFilter::scanning(usize::MAX);
        assert_eq!(filter.sized_for(), MAX_CAPACITY);
        filter.scan_after = None;
        // Pretend the one layer is full: the next id cannot get a new layer.
        filter.layers[0].added = MAX_CAPACITY;
        filter.insert("one-more");
        assert_eq!(filter.layers.len(), 1);
        assert!(filter.rebuild_due());
        assert!(filter.may_contain("one-more"));
        // Its successor is sized from what it took, and must be filled before it answers.
        let next = filter.rebuilt();
        assert_eq!(next.sized_for(), MAX_CAPACITY);
        assert!(!next.is_complete());
        assert!(!next.rebuild_due());
    }

    #[test]
    fn a_filter_the_table_alone_overfills_is_rebuilt_only_once_the_ids_have_doubled() {
        let n = SCAN_STEP * 5 / 2;
        let conn = table((0..n).map(|i| format!("old-{i}")));
        let mut filter = IdFilter::scanning(0);
        while !filter.is_complete() {
            filter.scan_step(&conn).expect("step");
        }
        assert_eq!((filter.scanned, filter.added()), (n, n));
        assert_eq!(filter.layers.len(), 1);
        // Pretend the table's ids overfilled it (at the memory bound no layer is added): due
        // only once it has taken as many ids again as the table held.
        filter.layers[0].capacity = n - 1;
        let taken = (0..=n).find(|_| {
            filter.layers[0].added += 1;
            filter.rebuild_due()
        });
        assert_eq!(taken, Some(n - 1));
        // Never while a scan runs.
        filter.scan_after = Some(String::new());
        assert!(!filter.rebuild_due());
    }
}

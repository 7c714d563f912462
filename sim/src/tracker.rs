//! Which published event the broker has acknowledged, so the manifest lists exactly those.
//!
//! rumqttc reports `Outgoing::Publish(pkid)` when a publish is written and
//! `Incoming::PubAck(pkid)` when the broker has it, but not which payload a packet id carries.
//! Requests leave the client channel in order, so the first write of a packet id belongs to the
//! oldest publish not yet written; a write of a packet id that is already in flight is a
//! retransmission, and a collision (`AwaitAck`) parks the next publish until its id frees up.

use std::collections::{HashMap, VecDeque};

use ioc_ingest::event::Kind;

use crate::manifest::ManifestWriter;

/// One event on its way to the broker.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// Event id (for logs).
    pub id: String,
    /// Index of the area in the city's area list.
    pub area_index: usize,
    /// Kind of the event.
    pub kind: Kind,
    /// Simulated event time.
    pub ts_ms: i64,
    /// MQTT topic.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Manifest line, when a manifest is written.
    pub manifest_line: Option<String>,
}

/// Where sent events are counted and listed.
#[derive(Debug)]
pub(crate) struct Sink {
    /// Events sent (acknowledged at QoS 1, handed to the client at QoS 0).
    pub sent: u64,
    /// `counts[area][kind slot]` of sent events.
    pub counts: Vec<[u64; KIND_SLOTS]>,
    /// Earliest and latest simulated time sent.
    pub ts_range: Option<(i64, i64)>,
    /// The manifest writer, if any.
    pub manifest: Option<ManifestWriter>,
}

/// Number of kinds the simulator publishes (see [`kind_slot`]).
pub(crate) const KIND_SLOTS: usize = Kind::ALL.len();

/// Index of a kind in [`Kind::ALL`].
pub(crate) fn kind_slot(kind: Kind) -> usize {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

impl Sink {
    /// An empty sink for `areas` areas.
    pub fn new(areas: usize, manifest: Option<ManifestWriter>) -> Self {
        Self {
            sent: 0,
            counts: vec![[0; KIND_SLOTS]; areas],
            ts_range: None,
            manifest,
        }
    }

    /// Counts one sent event and lists it in the manifest.
    pub fn record(&mut self, record: Record) {
        self.sent += 1;
        if let Some(slots) = self.counts.get_mut(record.area_index) {
            slots[kind_slot(record.kind)] += 1;
        }
        self.ts_range = Some(match self.ts_range {
            Some((first, last)) => (first.min(record.ts_ms), last.max(record.ts_ms)),
            None => (record.ts_ms, record.ts_ms),
        });
        if let (Some(manifest), Some(line)) = (&self.manifest, record.manifest_line) {
            manifest.write_line(line);
        }
    }
}

/// QoS 1 bookkeeping: publishes not yet written, in flight by packet id, parked, or to resend.
#[derive(Debug)]
pub(crate) struct Tracker {
    /// Handed to the client, not yet written, in channel order.
    queue: VecDeque<Record>,
    /// Written, waiting for their PUBACK.
    inflight: HashMap<u16, Record>,
    /// Parked by a packet-id collision until that id is acknowledged.
    collided: Option<(u16, Record)>,
    /// Dropped by the client on a connection loss before being written: to publish again.
    resend: VecDeque<Record>,
    /// Bookkeeping that did not match (should stay 0; logged).
    pub mismatches: u64,
    /// Where acknowledged events go.
    pub sink: Sink,
}

impl Tracker {
    /// An empty tracker feeding `sink`.
    pub fn new(sink: Sink) -> Self {
        Self {
            queue: VecDeque::new(),
            inflight: HashMap::new(),
            collided: None,
            resend: VecDeque::new(),
            mismatches: 0,
            sink,
        }
    }

    /// A publish request for `record` was just put into the client channel.
    pub fn handed(&mut self, record: Record) {
        self.queue.push_back(record);
    }

    /// Events handed and not yet acknowledged (including those waiting to be resent).
    pub fn outstanding(&self) -> usize {
        self.queue.len()
            + self.inflight.len()
            + self.resend.len()
            + usize::from(self.collided.is_some())
    }

    /// The client wrote a publish with this packet id.
    pub fn on_written(&mut self, pkid: u16) {
        if self.inflight.contains_key(&pkid) {
            return; // retransmission after a reconnect
        }
        let record = match self.collided.take() {
            Some((parked, record)) if parked == pkid => Some(record),
            other => {
                self.collided = other;
                self.queue.pop_front()
            }
        };
        match record {
            Some(record) => {
                self.inflight.insert(pkid, record);
            }
            None => {
                self.mismatches += 1;
                tracing::warn!(pkid, "publish written that the simulator did not hand over");
            }
        }
    }

    /// The client parked the next publish because `pkid` is still in flight.
    pub fn on_collision(&mut self, pkid: u16) {
        match self.queue.pop_front() {
            Some(record) => {
                if let Some((_, previous)) = self.collided.replace((pkid, record)) {
                    // rumqttc keeps one parked publish; an older one would be lost: send again.
                    self.resend.push_back(previous);
                }
            }
            None => self.mismatches += 1,
        }
    }

    /// The broker acknowledged `pkid`: the event is sent.
    pub fn on_acked(&mut self, pkid: u16) {
        match self.inflight.remove(&pkid) {
            Some(record) => self.sink.record(record),
            None => {
                self.mismatches += 1;
                tracing::warn!(pkid, "PUBACK for a packet id that is not in flight");
            }
        }
    }

    /// After a connection loss the client dropped the `count` oldest publishes it had not
    /// written yet: they are published again by the sender.
    pub fn requeue_unwritten(&mut self, count: usize) {
        for _ in 0..count {
            match self.queue.pop_front() {
                Some(record) => self.resend.push_back(record),
                None => {
                    self.mismatches += 1;
                    break;
                }
            }
        }
    }

    /// The next event to publish again, if any.
    pub fn next_resend(&mut self) -> Option<Record> {
        self.resend.pop_front()
    }

    /// Puts back a resend that could not be handed over yet.
    pub fn unresend(&mut self, record: Record) {
        self.resend.push_front(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: i64) -> Record {
        Record {
            id: format!("e{n}"),
            area_index: (n % 3) as usize,
            kind: Kind::Noise,
            ts_ms: n,
            topic: "t".into(),
            payload: vec![],
            manifest_line: None,
        }
    }

    fn tracker() -> Tracker {
        Tracker::new(Sink::new(3, None))
    }

    #[test]
    fn acks_map_to_events_in_channel_order_and_ignore_retransmissions() {
        let mut t = tracker();
        for n in 0..4 {
            t.handed(record(n));
        }
        t.on_written(1);
        t.on_written(2);
        t.on_written(2); // retransmission
        t.on_acked(2);
        assert_eq!(t.sink.sent, 1);
        assert_eq!(t.sink.ts_range, Some((1, 1)));
        t.on_written(3);
        t.on_acked(1);
        t.on_acked(3);
        assert_eq!(t.sink.sent, 3);
        assert_eq!(t.outstanding(), 1);
        assert_eq!(t.sink.counts[0][kind_slot(Kind::Noise)], 1);
        assert_eq!(t.sink.counts[2][kind_slot(Kind::Noise)], 1);
        assert_eq!(t.mismatches, 0);
    }

    #[test]
    fn collisions_and_unwritten_drops_keep_the_mapping() {
        let mut t = tracker();
        for n in 0..4 {
            t.handed(record(n));
        }
        t.on_written(1); // e0
        t.on_collision(1); // e1 parked behind pkid 1
        t.on_acked(1); // e0 acked, then the parked e1 is written with pkid 1
        t.on_written(1);
        t.on_written(2); // e2
        t.requeue_unwritten(1); // e3 dropped by the client before being written
        assert_eq!(t.next_resend().map(|r| r.id), Some("e3".to_string()));
        t.on_acked(1);
        t.on_acked(2);
        assert_eq!(t.sink.sent, 3);
        assert_eq!(t.sink.ts_range, Some((0, 2)));
        assert_eq!(t.outstanding(), 0);
        assert_eq!(t.mismatches, 0);
        t.on_acked(9);
        assert_eq!(t.mismatches, 1);
    }
}

//! The queue from the journal thread to the analytics worker, bounded by the events it holds
//! instead of by the number of batches in it.
//!
//! Under a steady stream the journal commits small batches (a few dozen events each, one per
//! fsync), so a bound of a few dozen batches was a fraction of a second of input: any pause of
//! the worker longer than that (a snapshot of a large state, say) held the journal back, then
//! the acknowledgements, and a broker with a short per-client queue (Mosquitto's default
//! `max_queued_messages 1000`) dropped messages. Counting events lets the queue absorb a pause
//! of a few seconds at a city's rate while still bounding memory when the worker really is
//! slower than the input (docs/architecture.md, "Back-pressure between the threads").

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many events the queue holds, shared by both ends.
#[derive(Debug)]
struct Room {
    /// Events sent and not yet received; `closed` once the receiver is gone.
    held: Mutex<Held>,
    /// Signalled whenever the receiver takes something out (or goes away).
    freed: Condvar,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Held {
    events: usize,
    closed: bool,
}

impl Room {
    fn held(&self) -> MutexGuard<'_, Held> {
        // The guarded counts stay consistent whatever panicked while holding the lock.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The journal's end: [`QueueSender::send`] waits while the queue is full.
#[derive(Debug)]
pub(crate) struct QueueSender<T> {
    items: mpsc::Sender<(T, usize)>,
    room: Arc<Room>,
}

/// The worker's end.
#[derive(Debug)]
pub(crate) struct QueueReceiver<T> {
    items: mpsc::Receiver<(T, usize)>,
    room: Arc<Room>,
}

/// A queue that holds at most `capacity` events, except that one item heavier than that is
/// let in alone (so no batch can wait forever).
pub(crate) fn event_queue<T>(capacity: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    let (items, receiver) = mpsc::channel();
    let room = Arc::new(Room {
        held: Mutex::new(Held::default()),
        freed: Condvar::new(),
        capacity,
    });
    (
        QueueSender {
            items,
            room: Arc::clone(&room),
        },
        QueueReceiver {
            items: receiver,
            room,
        },
    )
}

impl<T> QueueSender<T> {
    /// Queues `item`, which holds `events` events, once there is room for them; returns how
    /// long it waited for the room. An item sent after the receiver is gone is dropped.
    pub(crate) fn send(&self, item: T, events: usize) -> Duration {
        let began = Instant::now();
        let mut held = self.room.held();
        while !held.closed && held.events > 0 && held.events + events > self.room.capacity {
            held = self
                .room
                .freed
                .wait(held)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        if held.closed {
            return began.elapsed();
        }
        held.events += events;
        drop(held);
        if self.items.send((item, events)).is_err() {
            self.room.held().events -= events;
        }
        began.elapsed()
    }
}

impl<T> QueueReceiver<T> {
    /// The next item, waiting at most `wait` for one.
    pub(crate) fn recv_timeout(&self, wait: Duration) -> Result<T, RecvTimeoutError> {
        let (item, events) = self.items.recv_timeout(wait)?;
        self.release(events);
        Ok(item)
    }

    /// The next item if one is queued now.
    pub(crate) fn try_recv(&self) -> Option<T> {
        let (item, events) = self.items.try_recv().ok()?;
        self.release(events);
        Some(item)
    }

    /// Events queued now.
    #[cfg(test)]
    fn held_events(&self) -> usize {
        self.room.held().events
    }

    fn release(&self, events: usize) {
        self.room.held().events -= events;
        self.room.freed.notify_all();
    }
}

impl<T> Drop for QueueReceiver<T> {
    fn drop(&mut self) {
        self.room.held().closed = true;
        self.room.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    // Test code: a panic is how a failed expectation reports itself.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn items_arrive_in_order_and_free_their_room() {
        let (sender, receiver) = event_queue::<&str>(10);
        sender.send("a", 4);
        sender.send("b", 6);
        assert_eq!(receiver.held_events(), 10);
        assert_eq!(receiver.try_recv(), Some("a"));
        assert_eq!(receiver.held_events(), 6);
        assert_eq!(
            receiver.recv_timeout(Duration::from_millis(10)).unwrap(),
            "b"
        );
        assert_eq!(receiver.held_events(), 0);
        assert_eq!(receiver.try_recv(), None);
    }

    #[test]
    fn a_full_queue_holds_the_sender_until_the_receiver_takes_enough() {
        let (sender, receiver) = event_queue::<u32>(10);
        sender.send(1, 8);
        let (sent, was_sent) = channel();
        let journal = std::thread::spawn(move || {
            // 8 + 5 > 10: waits until the first item is taken out.
            sender.send(2, 5);
            sent.send(()).unwrap();
            sender
        });
        // The sender cannot get through while 8 of 10 are held.
        assert!(was_sent.recv_timeout(Duration::from_millis(200)).is_err());
        assert_eq!(receiver.held_events(), 8);
        assert_eq!(receiver.try_recv(), Some(1));
        was_sent.recv().unwrap();
        assert_eq!(receiver.try_recv(), Some(2));
        assert_eq!(receiver.held_events(), 0);
        drop(journal.join().unwrap());
    }

    #[test]
    fn an_item_heavier_than_the_capacity_goes_through_an_empty_queue() {
        let (sender, receiver) = event_queue::<u32>(10);
        sender.send(1, 25);
        assert_eq!(receiver.held_events(), 25);
        assert_eq!(receiver.try_recv(), Some(1));
    }

    #[test]
    fn a_waiting_sender_is_let_go_when_the_receiver_goes_away() {
        let (sender, receiver) = event_queue::<u32>(10);
        sender.send(1, 10);
        let journal = std::thread::spawn(move || sender.send(2, 1));
        drop(receiver);
        // Returns (the item is dropped) instead of waiting forever.
        journal.join().unwrap();
    }
}

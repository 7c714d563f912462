//! Several engines as one (cluster mode, `--database-url postgres://…`).
//!
//! The distributed parts are PostgreSQL and the MQTT broker; the engines only lease work:
//!
//! - **One shared log.** Every instance writes what it receives to the PostgreSQL journal
//!   ([`crate::journal::PostgresJournal`]) and every instance *follows* that journal
//!   ([`follower`]), applying all events in sequence order. Instances at the same sequence
//!   number hold the same state, so any of them serves complete, identical views.
//! - **Slots.** The MQTT stream is split by a shared subscription over a fixed number of
//!   persistent sessions with fixed client ids ([`slots`]). Each slot is leased in PostgreSQL
//!   with a fencing epoch ([`lease`]); the [`Coordinator`] renews the leases every second,
//!   takes free or expired slots up to a fair share and gives back the surplus when an
//!   instance joins. Every commit of a slot's batch carries its [`Fence`], so an instance that
//!   was paused past its lease cannot commit (nor acknowledge) for a slot it lost; the broker
//!   gives the slot's unacknowledged messages to the new owner.
//! - **Decisions once.** Slot 0's owner is the alert leader: only it journals the rule
//!   evaluator's transitions, fenced with slot 0's lease.

pub mod follower;
pub mod lease;
pub mod slots;

use crate::journal::{Fence, JournalError};
use lease::Leases;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long a lease or a heartbeat lasts without renewal. A dead instance's slots are taken
/// over at most this long plus one [`TICK`] after its last renewal.
pub const LEASE: Duration = Duration::from_secs(3);

/// How often leases and the heartbeat are renewed.
pub const TICK: Duration = Duration::from_secs(1);

/// The slot whose owner decides alert transitions for the whole cluster.
pub const LEADER_SLOT: u32 = 0;

/// Who this instance is in the cluster.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// The PostgreSQL URL shared by every instance.
    pub database_url: String,
    /// This instance's unique name.
    pub instance: String,
    /// Number of slots (the same on every instance).
    pub slots: u32,
}

/// What the coordinator last saw: the live instances and the slots this one holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// Instances with a fresh heartbeat, this one included.
    pub instances: usize,
    /// The slots this instance holds, with their lease epochs.
    pub owned: BTreeMap<u32, i64>,
}

impl Membership {
    /// The fence of a slot this instance holds.
    pub fn fence(&self, slot: u32) -> Option<Fence> {
        self.owned.get(&slot).map(|&epoch| Fence { slot, epoch })
    }
}

/// The running lease loop: its published membership, the slots whose subscribers run, and
/// whether its last round reached the database.
pub struct Coordinator {
    membership: watch::Receiver<Membership>,
    running: Arc<Mutex<BTreeSet<u32>>>,
    healthy: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Coordinator {
    /// Joins the cluster and starts the lease loop on its own thread (the database client is
    /// synchronous).
    pub fn start(settings: &ClusterSettings) -> Result<Self, JournalError> {
        let leases = Leases::open(
            &settings.database_url,
            &settings.instance,
            settings.slots,
            LEASE,
        )?;
        let (publish, membership) = watch::channel(Membership::default());
        let running = Arc::new(Mutex::new(BTreeSet::new()));
        let healthy = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let mut round = Round {
            leases,
            slots: settings.slots,
            held: Vec::new(),
            shedding: Vec::new(),
            running: Arc::clone(&running),
        };
        let (health, stopping) = (Arc::clone(&healthy), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("ioc-leases".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    match round.step() {
                        Ok(membership) => {
                            health.store(true, Ordering::Relaxed);
                            publish.send_if_modified(|current| {
                                let changed = *current != membership;
                                *current = membership;
                                changed
                            });
                        }
                        Err(error) => {
                            health.store(false, Ordering::Relaxed);
                            tracing::warn!(%error, "slot leases not renewed; retrying");
                        }
                    }
                    std::thread::sleep(TICK);
                }
                // Leaving: let the subscribers stop, then hand every slot back at once.
                publish.send_modify(|current| current.owned.clear());
                round.leave();
            })
            .map_err(|error| JournalError::Storage(format!("lease thread: {error}")))?;
        Ok(Self {
            membership,
            running,
            healthy,
            stop,
            thread: Some(thread),
        })
    }

    /// The membership as it changes.
    pub fn membership(&self) -> watch::Receiver<Membership> {
        self.membership.clone()
    }

    /// The set the slot supervisor keeps of slots whose subscriber runs; a slot is released
    /// only once it has left this set.
    pub fn running(&self) -> Arc<Mutex<BTreeSet<u32>>> {
        Arc::clone(&self.running)
    }

    /// Whether the last lease round reached the database, as a flag readiness can hold.
    pub fn health(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.healthy)
    }

    /// Leaves the cluster: stops renewing, waits for the subscribers to stop, releases every
    /// slot and removes the heartbeat (blocking).
    pub fn leave(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The lease loop's state between rounds.
struct Round {
    leases: Leases,
    slots: u32,
    held: Vec<Fence>,
    /// Slots being given back: no longer published, released once their subscriber stopped.
    shedding: Vec<Fence>,
    running: Arc<Mutex<BTreeSet<u32>>>,
}

impl Round {
    fn running(&self) -> BTreeSet<u32> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// One round: heartbeat, renew, release what was shed, then take or shed towards the fair
    /// share (`ceil(slots / live instances)`).
    fn step(&mut self) -> Result<Membership, JournalError> {
        let live = self.leases.heartbeat()?;
        let mut all = self.held.clone();
        all.extend(self.shedding.iter().copied());
        let kept = self.leases.renew(&all)?;
        for lost in self.held.iter().filter(|f| !kept.contains(f)) {
            tracing::warn!(
                slot = lost.slot,
                epoch = lost.epoch,
                "slot lease lost to another instance"
            );
        }
        self.held.retain(|f| kept.contains(f));
        self.shedding.retain(|f| kept.contains(f));
        let running = self.running();
        let mut still_shedding = Vec::new();
        for fence in std::mem::take(&mut self.shedding) {
            if running.contains(&fence.slot) {
                still_shedding.push(fence);
            } else {
                self.leases.release(fence)?;
                tracing::info!(slot = fence.slot, "slot handed back for rebalancing");
            }
        }
        self.shedding = still_shedding;
        let slots = usize::try_from(self.slots).unwrap_or(usize::MAX);
        let share = slots.div_ceil(live);
        if self.held.len() > share {
            self.held.sort_unstable();
            let surplus = self.held.split_off(share);
            self.shedding.extend(surplus);
        } else if self.held.len() < share {
            let taken = self.leases.acquire(share - self.held.len())?;
            for fence in &taken {
                tracing::info!(slot = fence.slot, epoch = fence.epoch, "slot lease taken");
            }
            self.held.extend(taken);
        }
        Ok(Membership {
            instances: live,
            owned: self.held.iter().map(|f| (f.slot, f.epoch)).collect(),
        })
    }

    fn leave(&mut self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.running().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        for fence in self.held.drain(..).chain(self.shedding.drain(..)) {
            if let Err(error) = self.leases.release(fence) {
                tracing::warn!(%error, slot = fence.slot, "slot not released; it expires");
            }
        }
        if let Err(error) = self.leases.leave() {
            tracing::warn!(%error, "heartbeat not removed; it expires");
        }
    }
}

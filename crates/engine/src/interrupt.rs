//! Interruption: a flag the interpreter polls at calls, backward branches and between
//! chunks of bulk operations (with fuel metering: as each chunk of fuel is used up, see
//! `threaded::FUEL_CHUNK`), set either by another thread (`InterruptHandle`) or by a
//! process-wide watchdog thread when a store's deadline passes. Polling one relaxed atomic
//! is the whole cost on the hot path; reading the clock happens only in the watchdog.

use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub(crate) struct InterruptState {
    pub(crate) flag: AtomicBool,
    /// Bumped whenever a deadline is set or cleared, so a stale watchdog entry is ignored.
    deadline_id: AtomicU64,
}

impl InterruptState {
    /// Whether an interruption is pending; consumes it.
    #[inline(always)]
    pub(crate) fn take(&self) -> bool {
        self.flag.load(Ordering::Relaxed) && self.flag.swap(false, Ordering::Relaxed)
    }

    #[inline(always)]
    pub(crate) fn pending(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// Interrupts a store's running (or next) wasm execution from any thread: it traps with
/// `interrupted` at the next check (function entry, loop header, bulk-operation chunk).
#[derive(Clone, Debug)]
pub struct InterruptHandle {
    pub(crate) state: Arc<InterruptState>,
}

impl InterruptHandle {
    pub fn interrupt(&self) {
        self.state.flag.store(true, Ordering::Relaxed);
    }
}

struct Entry {
    at: Instant,
    id: u64,
    state: Weak<InterruptState>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Earliest deadline first in a max-heap.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.at.cmp(&self.at)
    }
}

fn watchdog() -> &'static Mutex<Sender<Entry>> {
    static WATCHDOG: OnceLock<Mutex<Sender<Entry>>> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("nanoproc-watchdog".into())
            .spawn(move || run_watchdog(rx))
            .map(|_| ())
            .unwrap_or(()); // Without a thread, deadlines cannot fire; interrupts still work.
        Mutex::new(tx)
    })
}

fn run_watchdog(rx: Receiver<Entry>) {
    let mut heap: BinaryHeap<Entry> = BinaryHeap::new();
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|e| e.at <= now) {
            if let Some(e) = heap.pop() {
                if let Some(state) = e.state.upgrade() {
                    if state.deadline_id.load(Ordering::Relaxed) == e.id {
                        state.flag.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
        let received = match heap.peek() {
            Some(e) => rx.recv_timeout(e.at.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(entry) => heap.push(entry),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

impl InterruptState {
    /// Arms a one-shot deadline `after` from now, replacing any previous one.
    pub(crate) fn set_deadline(self: &Arc<Self>, after: Duration) {
        let id = self.deadline_id.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Entry {
            at: Instant::now() + after,
            id,
            state: Arc::downgrade(self),
        };
        if let Ok(tx) = watchdog().lock() {
            let _ = tx.send(entry);
        }
    }

    pub(crate) fn clear_deadline(&self) {
        self.deadline_id.fetch_add(1, Ordering::Relaxed);
    }
}

//! The view hub: once per tick it computes every view that some client watches, once, and
//! publishes the results to all sessions. The cost per tick depends on the number of distinct
//! views watched, not on the number of clients or the event rate.

use crate::patch::{diff, normalize};
use ioc_analytics::{Analytics, ViewError, ViewRequest};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The views computed at one tick.
#[derive(Debug, Default)]
pub struct TickFrame {
    /// Tick number since start.
    pub tick: u64,
    /// View data, normalized, by request.
    pub views: HashMap<ViewRequest, Arc<Value>>,
    /// This tick's merge patches as JSON text, by request and the data a session held before
    /// (nearly every session of a view holds the previous tick's data): the first session to
    /// ask computes and serializes the patch, every other one shares the text.
    patches: Mutex<HashMap<(ViewRequest, usize), SharedPatch>>,
}

/// A patch computed for one tick, kept with the data it starts from so that the address in its
/// key cannot be reused by other data while the frame lives.
#[derive(Debug)]
struct SharedPatch {
    _from: Arc<Value>,
    text: Option<Arc<str>>,
}

impl TickFrame {
    /// A frame of tick `tick` holding `views`.
    pub fn new(tick: u64, views: HashMap<ViewRequest, Arc<Value>>) -> Self {
        Self {
            tick,
            views,
            patches: Mutex::default(),
        }
    }

    /// The RFC 7386 merge patch that takes `from` to this tick's data for `request`, as JSON
    /// text; `None` when the view is not in this frame or nothing changed.
    pub fn patch_from(&self, request: &ViewRequest, from: &Arc<Value>) -> Option<Arc<str>> {
        let data = self.views.get(request)?;
        let key = (request.clone(), Arc::as_ptr(from) as usize);
        let mut patches = self
            .patches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(shared) = patches.get(&key) {
            return shared.text.clone();
        }
        let text = diff(from, data)
            .and_then(|patch| serde_json::to_string(&patch).ok())
            .map(Arc::<str>::from);
        patches.insert(
            key,
            SharedPatch {
                _from: Arc::clone(from),
                text: text.clone(),
            },
        );
        text
    }
}

/// Shared between sessions and the tick task.
pub struct Hub {
    analytics: Analytics,
    interest: Mutex<HashMap<ViewRequest, usize>>,
    frames: watch::Sender<Arc<TickFrame>>,
}

/// Keeps a view computed while it lives.
pub struct Interest {
    hub: Arc<Hub>,
    request: ViewRequest,
}

impl Drop for Interest {
    fn drop(&mut self) {
        let mut interest = self.hub.lock_interest();
        if let Some(count) = interest.get_mut(&self.request) {
            *count -= 1;
            if *count == 0 {
                interest.remove(&self.request);
            }
        }
    }
}

impl Hub {
    /// A hub over the analytics state.
    pub fn new(analytics: Analytics) -> Arc<Self> {
        let (frames, _) = watch::channel(Arc::new(TickFrame::default()));
        Arc::new(Self {
            analytics,
            interest: Mutex::new(HashMap::new()),
            frames,
        })
    }

    fn lock_interest(&self) -> std::sync::MutexGuard<'_, HashMap<ViewRequest, usize>> {
        self.interest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Receives every alert transition as it is applied, for the `alerts` view's immediate
    /// `alert` frames.
    pub fn alert_feed(
        &self,
    ) -> tokio::sync::broadcast::Receiver<Arc<ioc_analytics::alerts::Alert>> {
        self.analytics.alert_feed()
    }

    /// Receives every tick's frame.
    pub fn frames(&self) -> watch::Receiver<Arc<TickFrame>> {
        self.frames.subscribe()
    }

    /// Registers a watched view until the returned guard is dropped.
    pub fn watch(self: &Arc<Self>, request: ViewRequest) -> Interest {
        *self.lock_interest().entry(request.clone()).or_insert(0) += 1;
        Interest {
            hub: Arc::clone(self),
            request,
        }
    }

    /// Computes one view now (off the async runtime), normalized.
    pub async fn compute(&self, request: ViewRequest) -> Result<Arc<Value>, ViewError> {
        let analytics = self.analytics.clone();
        tokio::task::spawn_blocking(move || {
            analytics
                .view(&request, ioc_ingest::event::now_ms())
                .map(|data| Arc::new(normalize(data)))
        })
        .await
        .unwrap_or_else(|error| Err(ViewError::Internal(format!("view task failed: {error}"))))
    }

    /// Runs the tick loop until `shutdown` resolves.
    pub async fn run(
        self: Arc<Self>,
        tick: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tokio::pin!(shutdown);
        let mut count = 0_u64;
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = interval.tick() => {}
            }
            let requests: Vec<ViewRequest> = self.lock_interest().keys().cloned().collect();
            if requests.is_empty() {
                continue;
            }
            count += 1;
            let mut views = HashMap::with_capacity(requests.len());
            for request in requests {
                if let Ok(data) = self.compute(request.clone()).await {
                    views.insert(request, data);
                }
            }
            self.frames
                .send_replace(Arc::new(TickFrame::new(count, views)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::apply;
    use ioc_analytics::ViewName;
    use serde_json::json;

    fn overview() -> ViewRequest {
        ViewRequest {
            view: ViewName::Overview,
            area: None,
            status: None,
            service_code: None,
            scope: None,
        }
    }

    #[test]
    fn sessions_at_the_same_data_share_one_patch_text_that_leads_to_the_new_data() {
        let before = Arc::new(json!({"events_total": 10, "areas": {"a": 1, "b": 2}}));
        let now = json!({"events_total": 12, "areas": {"a": 1, "b": 3}});
        let frame = TickFrame::new(2, HashMap::from([(overview(), Arc::new(now.clone()))]));
        let first = frame.patch_from(&overview(), &before).expect("a patch");
        let second = frame
            .patch_from(&overview(), &Arc::clone(&before))
            .expect("a patch");
        assert!(Arc::ptr_eq(&first, &second), "computed once, shared");
        let mut document = (*before).clone();
        apply(
            &mut document,
            &serde_json::from_str(&first).expect("patch JSON"),
        );
        assert_eq!(document, now);

        // A session further behind (other data, equal or not) gets its own patch.
        let older = Arc::new(json!({"events_total": 7, "areas": {"a": 0, "b": 2}}));
        let third = frame.patch_from(&overview(), &older).expect("a patch");
        let mut document = (*older).clone();
        apply(
            &mut document,
            &serde_json::from_str(&third).expect("patch JSON"),
        );
        assert_eq!(document, now);
        // Nothing changed: no patch.
        let current = Arc::new(now);
        assert_eq!(frame.patch_from(&overview(), &current), None);
    }
}

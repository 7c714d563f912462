//! One websocket connection: reads commands, sends snapshots, turns each tick into merge
//! patches, and resets a slow reader to fresh snapshots instead of buffering without bound.

use super::outbox::{Outbox, Outgoing};
use super::protocol::{ClientOp, error_frame, parse_op};
use crate::ApiCounters;
use crate::auth::Claims;
use crate::hub::{Hub, Interest, TickFrame};
use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use futures_util::{SinkExt, StreamExt};
use ioc_analytics::{ViewError, ViewRequest};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::broadcast;

/// Decrements the open-connection gauge when the session ends, however it ends.
struct OpenConnection(Arc<ApiCounters>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.ws_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Most subscriptions one connection may hold.
const MAX_SUBSCRIPTIONS: usize = 64;

struct Subscription {
    request: ViewRequest,
    /// The data the client has once it applied everything queued.
    sent: Arc<Value>,
    _interest: Interest,
}

/// Serves one upgraded socket until the client leaves or the server shuts down.
pub async fn serve_socket(
    socket: WebSocket,
    hub: Arc<Hub>,
    claims: Claims,
    queue_frames: usize,
    counters: Arc<ApiCounters>,
    mut shutdown: broadcast::Receiver<()>,
) {
    counters.ws_connections.fetch_add(1, Ordering::Relaxed);
    let _open = OpenConnection(Arc::clone(&counters));
    let (mut sink, mut stream) = socket.split();
    let outbox = Arc::new(Outbox::new(queue_frames));
    let writer_outbox = Arc::clone(&outbox);
    let writer_counters = Arc::clone(&counters);
    let (stop_writer, mut writer_stopped) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        let mut seqs: HashMap<String, u64> = HashMap::new();
        loop {
            let frame = tokio::select! {
                frame = writer_outbox.pop() => frame,
                _ = &mut writer_stopped => return sink,
            };
            let Some(text) = render(frame, &mut seqs) else {
                continue;
            };
            if sink.send(Message::Text(text.into())).await.is_err() {
                return sink;
            }
            writer_counters
                .ws_frames_sent
                .fetch_add(1, Ordering::Relaxed);
        }
    });
    let mut session = Session {
        hub: Arc::clone(&hub),
        claims,
        outbox,
        counters,
        subscriptions: HashMap::new(),
    };
    let mut frames = hub.frames();
    frames.borrow_and_update();
    let mut alerts = hub.alert_feed();
    loop {
        tokio::select! {
            alert = alerts.recv() => match alert {
                Ok(alert) => session.alert(&alert),
                // Missed transitions still reach the client in the view's next update.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => session.handle(text.as_str()).await,
                Some(Ok(Message::Binary(_))) => session.plain(error_frame(None, "bad_request", "binary frames are not accepted")),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            changed = frames.changed() => {
                if changed.is_err() { break }
                let frame = Arc::clone(&frames.borrow_and_update());
                session.tick(&frame);
            }
            _ = shutdown.recv() => {
                let _ = stop_writer.send(());
                // A writer stuck on a client that does not read is not waited for.
                let returned = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
                if let Ok(Ok(mut sink)) = returned {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: close_code::AWAY, reason: "server shutting down".into() }))).await;
                }
                return;
            }
        }
    }
    writer.abort();
}

/// Renders a frame as text, assigning the subscription's next `seq`.
fn render(frame: Outgoing, seqs: &mut HashMap<String, u64>) -> Option<String> {
    let at = ioc_ingest::event::format_ts(ioc_ingest::event::now_ms());
    let mut next_seq = |id: &str| {
        let seq = seqs.entry(id.to_string()).or_insert(0);
        *seq += 1;
        *seq
    };
    let value = match frame {
        Outgoing::Snapshot { id, view, data } => {
            let seq = next_seq(&id);
            json!({"type": "snapshot", "id": id, "view": view, "seq": seq, "at": at, "data": &*data})
        }
        Outgoing::Update { id, patch } => {
            // Only the envelope is written per client; the patch text is shared.
            let seq = next_seq(&id);
            let mut text =
                serde_json::to_string(&json!({"type": "update", "id": id, "seq": seq, "at": at}))
                    .ok()?;
            text.pop();
            text.push_str(",\"patch\":");
            text.push_str(&patch);
            text.push('}');
            return Some(text);
        }
        Outgoing::Alert { id, alert } => {
            let seq = next_seq(&id);
            json!({"type": "alert", "id": id, "seq": seq, "at": at, "alert": &*alert})
        }
        Outgoing::Plain(value) => value,
        Outgoing::Forget(id) => {
            seqs.remove(&id);
            return None;
        }
    };
    serde_json::to_string(&value).ok()
}

struct Session {
    hub: Arc<Hub>,
    claims: Claims,
    outbox: Arc<Outbox>,
    counters: Arc<ApiCounters>,
    subscriptions: HashMap<String, Subscription>,
}

impl Session {
    async fn handle(&mut self, text: &str) {
        match parse_op(text) {
            Err((id, message)) => self.plain(error_frame(id.as_deref(), "bad_request", &message)),
            Ok(ClientOp::Ping) => self.plain(json!({"type": "pong"})),
            Ok(ClientOp::Unsubscribe { id }) => {
                if self.subscriptions.remove(&id).is_some() {
                    let _ = self.push(Outgoing::Forget(id));
                } else {
                    self.plain(error_frame(
                        Some(&id),
                        "bad_request",
                        "no such subscription",
                    ));
                }
            }
            Ok(ClientOp::Subscribe {
                id,
                view,
                area,
                status,
                service_code,
            }) => {
                if let Err(error) = self.subscribe(&id, &view, area, status, service_code).await {
                    self.plain(error_frame(Some(&id), error.code(), &error.to_string()));
                }
            }
        }
    }

    async fn subscribe(
        &mut self,
        id: &str,
        view: &str,
        area: Option<String>,
        status: Option<String>,
        service_code: Option<String>,
    ) -> Result<(), ViewError> {
        let request = ViewRequest::parse(view, area, status, service_code)?;
        crate::scope::check_request(&self.claims, &request)?;
        let request = crate::scope::scoped(&self.claims, request);
        if !self.subscriptions.contains_key(id) && self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(ViewError::BadRequest(format!(
                "at most {MAX_SUBSCRIPTIONS} subscriptions"
            )));
        }
        let data = self.hub.compute(request.clone()).await?;
        if self.subscriptions.remove(id).is_some() {
            let _ = self.push(Outgoing::Forget(id.to_string()));
        }
        let interest = self.hub.watch(request.clone());
        let snapshot = Outgoing::Snapshot {
            id: id.to_string(),
            view: request.view.as_str(),
            data: Arc::clone(&data),
        };
        // Registered before queuing, so an overflow reset includes this subscription too.
        self.subscriptions.insert(
            id.to_string(),
            Subscription {
                request,
                sent: data,
                _interest: interest,
            },
        );
        self.push(snapshot);
        Ok(())
    }

    /// Turns a tick into patches for every subscription whose data changed.
    fn tick(&mut self, frame: &TickFrame) {
        let mut patches = Vec::new();
        for (id, subscription) in &mut self.subscriptions {
            let Some(data) = frame.views.get(&subscription.request) else {
                continue;
            };
            if Arc::ptr_eq(data, &subscription.sent) {
                continue;
            }
            if let Some(patch) = frame.patch_from(&subscription.request, &subscription.sent) {
                patches.push(Outgoing::Update {
                    id: id.clone(),
                    patch,
                });
            }
            subscription.sent = Arc::clone(data);
        }
        for patch in patches {
            if self.push(patch) == Pushed::Reset {
                // The snapshots just queued already hold this tick's data.
                break;
            }
        }
    }

    /// Pushes an alert transition to every `alerts` subscription that may see it.
    fn alert(&mut self, alert: &ioc_analytics::alerts::Alert) {
        if !crate::scope::allows_area(&self.claims, &alert.area) {
            return;
        }
        let json = Arc::new(alert.to_json());
        let frames: Vec<Outgoing> = self
            .subscriptions
            .iter()
            .filter(|(_, s)| s.request.view == ioc_analytics::ViewName::Alerts)
            .filter(|(_, s)| {
                s.request
                    .area
                    .as_ref()
                    .is_none_or(|area| *area == alert.area)
            })
            .map(|(id, _)| Outgoing::Alert {
                id: id.clone(),
                alert: Arc::clone(&json),
            })
            .collect();
        for frame in frames {
            if self.push(frame) == Pushed::Reset {
                break;
            }
        }
    }

    fn plain(&self, frame: Value) {
        let _ = self.push(Outgoing::Plain(frame));
    }

    /// Queues a frame; on overflow the pending view frames are dropped and every subscription
    /// gets a fresh snapshot of the data it is known to be at.
    fn push(&self, frame: Outgoing) -> Pushed {
        if self.outbox.push(frame) {
            return Pushed::Queued;
        }
        tracing::debug!("slow websocket reader: pending updates dropped, resending snapshots");
        self.counters
            .slow_client_resets
            .fetch_add(1, Ordering::Relaxed);
        let snapshots = self
            .subscriptions
            .iter()
            .map(|(id, s)| Outgoing::Snapshot {
                id: id.clone(),
                view: s.request.view.as_str(),
                data: Arc::clone(&s.sent),
            })
            .collect();
        self.outbox.reset_with(snapshots);
        Pushed::Reset
    }
}

/// What [`Session::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pushed {
    /// The frame is queued.
    Queued,
    /// The queue was full: pending view frames were replaced by snapshots.
    Reset,
}

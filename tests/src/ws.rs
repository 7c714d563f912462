//! A websocket client that follows the live-view protocol like a dashboard would: applies
//! snapshots and merge patches and checks that `seq` has no gap.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A connected client.
pub struct LiveClient {
    socket: Socket,
}

/// RFC 7386 apply, written from the RFC independently of the server's code.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(members) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let map = target.as_object_mut().expect("object");
            for (key, value) in members {
                if value.is_null() {
                    map.remove(key);
                } else {
                    merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        other => *target = other.clone(),
    }
}

impl LiveClient {
    /// Connects to a `ws://…` URL.
    pub async fn connect(url: &str) -> LiveClient {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connect");
        LiveClient { socket }
    }

    /// Sends a JSON command.
    pub async fn send(&mut self, command: Value) {
        self.socket
            .send(Message::Text(command.to_string().into()))
            .await
            .expect("send");
    }

    /// Subscribes `id` to `view` with extra fields.
    pub async fn subscribe(&mut self, id: &str, view: &str, extra: Value) {
        let mut command = json!({"op": "subscribe", "id": id, "view": view});
        if let (Value::Object(c), Value::Object(e)) = (&mut command, extra) {
            c.extend(e);
        }
        self.send(command).await;
    }

    /// Reads until the server closes the connection; the close code, `None` if the socket ended
    /// without a close frame or nothing came within `timeout`.
    pub async fn close_code(&mut self, timeout: Duration) -> Option<u16> {
        loop {
            let message = tokio::time::timeout(timeout, self.socket.next())
                .await
                .ok()??
                .ok()?;
            if let Message::Close(frame) = message {
                return frame.map(|f| u16::from(f.code));
            }
        }
    }

    /// The next JSON frame, or `None` after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(timeout, self.socket.next())
                .await
                .ok()??
                .ok()?;
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).ok(),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }
}

/// The state of one subscription as a client rebuilds it.
#[derive(Debug, Default)]
pub struct Mirror {
    /// The data after applying every frame.
    pub data: Value,
    /// Last `seq` seen.
    pub seq: u64,
    /// Frames applied.
    pub frames: u64,
    /// Snapshots received.
    pub snapshots: u64,
}

impl Mirror {
    /// Applies a snapshot or update frame, asserting that `seq` follows without a gap.
    pub fn apply(&mut self, frame: &Value) {
        let seq = frame["seq"].as_u64().expect("seq");
        assert_eq!(seq, self.seq + 1, "seq gap: {} after {}", seq, self.seq);
        self.seq = seq;
        self.frames += 1;
        match frame["type"].as_str() {
            Some("snapshot") => {
                self.data = frame["data"].clone();
                self.snapshots += 1;
            }
            Some("update") => merge_patch(&mut self.data, &frame["patch"]),
            other => panic!("not a view frame: {other:?}"),
        }
    }
}

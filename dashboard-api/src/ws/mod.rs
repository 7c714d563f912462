//! The websocket live-view protocol (docs/websocket.md).

mod outbox;
mod protocol;
mod session;

pub use protocol::{ClientOp, parse_op};
pub use session::serve_socket;

//! The websocket live-view protocol (DESIGN §6).

mod outbox;
mod protocol;
mod session;

pub use protocol::{ClientOp, parse_op};
pub use session::serve_socket;

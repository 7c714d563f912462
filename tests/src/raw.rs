//! HTTP/1.1 over a bare TCP socket, for what an ordinary client will not do: send a body the
//! server refuses midway, stop halfway through a request, or read the answer to a 10 MB POST.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer read off the socket.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    /// Status code (0 when nothing readable came back).
    pub status: u16,
    /// Everything before the blank line.
    pub head: String,
    /// Everything after it.
    pub body: String,
}

/// Reads until the server closes the connection (a reset after the answer counts as closed);
/// `None` if it stays open for `timeout`.
pub async fn read_until_closed(
    stream: &mut TcpStream,
    timeout: std::time::Duration,
) -> Option<String> {
    let mut answer = Vec::new();
    match tokio::time::timeout(timeout, stream.read_to_end(&mut answer)).await {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

/// Sends one request with `Connection: close` (headers given as `Name: value` lines) and reads
/// the answer; the body may be cut short by the server, which is the point of some tests.
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[String],
    body: &[u8],
) -> RawAnswer {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("head");
    let _ = stream.write_all(body).await;
    let text = read_until_closed(&mut stream, std::time::Duration::from_secs(30))
        .await
        .unwrap_or_default();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .map(|(h, b)| (h.to_string(), b.to_string()))
        .unwrap_or((text.clone(), String::new()));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    RawAnswer { status, head, body }
}

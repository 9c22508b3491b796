//! The socket under hyper. It closes a keep-alive connection that stays silent too long after
//! an answer, and gives the errors hyper answers by itself — 400 (unparseable request), 414
//! (request target too long), 431 (too many header fields) — a problem+json body instead of
//! hyper's empty one.
//!
//! hyper writes those answers without calling the application, so they are recognised here: a
//! 4xx head with `content-length: 0` written while no request is with the application. The
//! application's own error answers always carry a problem body, so they never match.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::http::StatusCode;
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::TcpStream,
    time::{Instant, Sleep},
};

use crate::http::{hygiene::MAX_URI_BYTES, problem::ApiError};

/// A TCP stream with a keep-alive idle timer and hyper's bare errors replaced.
pub(super) struct Guarded {
    stream: TcpStream,
    idle: Duration,
    idle_deadline: Pin<Box<Sleep>>,
    /// Set once an answer's bytes were written, cleared by the next byte read or a write that
    /// has to wait: while set, the connection is idle and `idle_deadline` counts.
    idle_armed: bool,
    /// Requests handed to the application (the service counts them).
    dispatched: Arc<AtomicU64>,
    /// Final (non-1xx) answer heads written.
    answered: u64,
    /// The problem answer written instead of hyper's, and how much of it is out.
    replacement: Option<(Vec<u8>, usize)>,
}

impl Guarded {
    pub(super) fn new(stream: TcpStream, idle: Duration) -> Self {
        Self {
            stream,
            idle,
            idle_deadline: Box::pin(tokio::time::sleep(idle)),
            idle_armed: false,
            dispatched: Arc::new(AtomicU64::new(0)),
            answered: 0,
            replacement: None,
        }
    }

    /// The counter the service increments for each request it receives.
    pub(super) fn dispatched(&self) -> Arc<AtomicU64> {
        self.dispatched.clone()
    }

    /// Writes `error` as a complete HTTP/1.1 answer and closes the connection.
    pub(super) async fn answer_directly(&mut self, error: &ApiError) {
        let answer = raw_problem(error);
        if self.stream.write_all(&answer).await.is_ok() {
            let _ = self.stream.shutdown().await;
        }
    }

    /// Writes what is left of the replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some((bytes, written)) = self.replacement.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        while *written < bytes.len() {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.idle_armed = false;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if this.idle_armed && this.idle_deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "keep-alive connection idle too long",
                    )));
                }
                Poll::Pending
            }
            failed => failed,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacement.is_some() {
            // hyper's own bytes for the replaced answer are swallowed.
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        let status = final_status(buf);
        if status.is_some()
            && this.answered >= this.dispatched.load(Ordering::Relaxed)
            && is_bare(buf)
            && let Some(error) = status.and_then(problem_for)
        {
            this.replacement = Some((raw_problem(&error), 0));
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        let Poll::Ready(written) = Pin::new(&mut this.stream).poll_write(cx, buf) else {
            // A client slow to read is not idle: the timer counts from the last byte handed
            // to the kernel, never while an answer waits to be written.
            this.idle_armed = false;
            return Poll::Pending;
        };
        let written = written?;
        if written > 0 {
            if status.is_some() {
                this.answered += 1;
            }
            this.idle_armed = true;
            let deadline = Instant::now() + this.idle;
            this.idle_deadline.as_mut().reset(deadline);
        }
        Poll::Ready(Ok(written))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

/// The status of a final answer head starting `buf` (`HTTP/1.1 404 …`), not of a 1xx.
fn final_status(buf: &[u8]) -> Option<u16> {
    let code = buf.strip_prefix(b"HTTP/1.")?.get(2..5)?;
    let code: u16 = std::str::from_utf8(code).ok()?.parse().ok()?;
    (code >= 200).then_some(code)
}

/// Whether the head in `buf` announces an empty body.
fn is_bare(buf: &[u8]) -> bool {
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    // The last header line ends in the blank line's first CR LF.
    buf[..(head_end + 2).min(buf.len())]
        .windows(21)
        .any(|w| w.eq_ignore_ascii_case(b"\r\ncontent-length: 0\r\n"))
}

/// The problem for a status hyper answers by itself.
fn problem_for(status: u16) -> Option<ApiError> {
    match status {
        400 => Some(ApiError::MalformedRequest),
        414 => Some(ApiError::UriTooLong(MAX_URI_BYTES)),
        431 => Some(ApiError::HeadersTooLarge(format!(
            "{} fields",
            super::connection::MAX_HEADERS
        ))),
        _ => None,
    }
}

/// `error` as a complete HTTP/1.1 answer that closes the connection.
fn raw_problem(error: &ApiError) -> Vec<u8> {
    let status: StatusCode = error.status();
    let body = error.problem_body();
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\
         connection: close\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_bare_final_heads() {
        let bare =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(final_status(bare), Some(431));
        assert!(is_bare(bare));
        let full = b"HTTP/1.1 404 Not Found\r\ncontent-length: 120\r\n\r\n{}";
        assert!(!is_bare(full));
        assert_eq!(final_status(b"HTTP/1.1 100 Continue\r\n\r\n"), None);
        assert_eq!(final_status(b"{\"HTTP/1.1 400\"}"), None);
    }

    #[test]
    fn replacements_are_complete_problem_answers() {
        let answer = String::from_utf8(raw_problem(&ApiError::MalformedRequest)).expect("utf-8");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(problem["status"], 400);
    }
}

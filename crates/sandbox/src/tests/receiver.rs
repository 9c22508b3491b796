//! A local axum server standing in for malipo's webhook and callback endpoints: it records
//! every POST and answers with a configurable reply.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;
use tokio::sync::mpsc;

/// One request the receiver got.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Received {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("a UTF-8 body")
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Reply = Arc<Mutex<(StatusCode, String)>>;

#[derive(Clone)]
struct ReceiverState {
    sender: mpsc::UnboundedSender<Received>,
    reply: Reply,
}

pub(crate) struct Receiver {
    base: String,
    received: mpsc::UnboundedReceiver<Received>,
    reply: Reply,
}

async fn record(
    State(state): State<ReceiverState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let _ = state.sender.send(Received {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    state.reply.lock().unwrap().clone()
}

impl Receiver {
    /// Listens on loopback; answers 200 with a C2B-style acceptance until told otherwise.
    pub(crate) async fn start() -> Self {
        let (sender, received) = mpsc::unbounded_channel();
        let reply: Reply = Arc::new(Mutex::new((
            StatusCode::OK,
            r#"{"ResultCode":"0","ResultDesc":"Accepted"}"#.to_owned(),
        )));
        let state = ReceiverState {
            sender,
            reply: Arc::clone(&reply),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(record).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base,
            received,
            reply,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn reply_with(&self, status: StatusCode, body: &str) {
        *self.reply.lock().unwrap() = (status, body.to_owned());
    }

    /// The next request, waiting up to 5 s.
    pub(crate) async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), self.received.recv())
            .await
            .expect("a delivery within 5 s")
            .expect("the receiver is running")
    }

    /// A request already received, without waiting.
    pub(crate) fn already(&mut self) -> Option<Received> {
        self.received.try_recv().ok()
    }

    /// True if nothing arrives within `window`.
    pub(crate) async fn quiet_for(&mut self, window: Duration) -> bool {
        tokio::time::timeout(window, self.received.recv())
            .await
            .is_err()
    }
}

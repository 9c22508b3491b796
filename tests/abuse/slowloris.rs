//! Slowloris: connections that never finish their request head, trickle it, or sit idle after
//! an answer are closed within the configured timeouts; beyond the connection cap health checks
//! still answer and other requests get a 503 problem.

use std::time::Duration;

use futures::future::join_all;
use tokio::{io::AsyncWriteExt, net::TcpStream, time::Instant};

use super::support::{
    HEAVY, closed_within, raise_fd_limit, raw_request, read_answer, spawn_app_with,
};

/// Idle sockets held at once.
const IDLE_SOCKETS: usize = 2_000;
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// Allowance over a timeout for a loaded 2-core machine to get round to closing.
const SLACK: Duration = Duration::from_secs(8);

async fn readyz_answers(addr: std::net::SocketAddr) -> bool {
    let answer = raw_request(
        addr,
        b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    answer.is_some_and(|answer| answer.status == 200)
}

/// Whether a readiness probe on `addr` is closed without a byte of answer.
async fn answered_nothing(addr: std::net::SocketAddr) -> bool {
    use tokio::io::AsyncReadExt;
    let mut probe = TcpStream::connect(addr).await.expect("connect");
    let _ = probe
        .write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), probe.read_to_end(&mut received));
    matches!(read.await, Ok(Ok(_)) | Ok(Err(_))) && received.is_empty()
}

#[tokio::test]
async fn two_thousand_unfinished_heads_are_closed_within_the_header_timeout() {
    let _heavy = HEAVY.lock().await;
    raise_fd_limit(3 * IDLE_SOCKETS as u64 + 512);
    let app = spawn_app_with(|config| {
        config.front.header_read_timeout = HEADER_TIMEOUT;
        config.front.max_connections = IDLE_SOCKETS + 100;
    })
    .await;
    let opened = Instant::now();
    let mut sockets = Vec::with_capacity(IDLE_SOCKETS);
    for _ in 0..IDLE_SOCKETS {
        let mut socket = TcpStream::connect(app.addr).await.expect("connect");
        socket
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("partial head");
        sockets.push(socket);
    }
    let all_open = opened.elapsed();
    // While they hang, the probe still answers.
    assert!(
        readyz_answers(app.addr).await,
        "readyz while 2,000 heads hang"
    );
    let bound = HEADER_TIMEOUT + all_open + SLACK;
    let closes = join_all(
        sockets
            .iter_mut()
            .map(|socket| closed_within(socket, bound)),
    )
    .await;
    let still_open = closes.iter().filter(|close| close.is_none()).count();
    let slowest = closes.iter().flatten().max().copied().unwrap_or_default();
    println!(
        "{IDLE_SOCKETS} unfinished heads: opened in {all_open:?}, all closed {slowest:?} later \
         (header timeout {HEADER_TIMEOUT:?})"
    );
    assert_eq!(still_open, 0, "sockets still open after {bound:?}");
    assert!(readyz_answers(app.addr).await, "readyz after the wave");
}

#[tokio::test]
async fn a_head_trickled_byte_by_byte_is_cut_at_the_header_timeout() {
    let app = spawn_app_with(|config| config.front.header_read_timeout = HEADER_TIMEOUT).await;
    let mut socket = TcpStream::connect(app.addr).await.expect("connect");
    socket
        .write_all(b"GET /readyz HTTP/1.1\r\n")
        .await
        .expect("request line");
    let started = Instant::now();
    // The attacker's pace (a header byte every 100 ms), not a wait for the server.
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    let deadline = started + HEADER_TIMEOUT + SLACK;
    let cut = loop {
        pace.tick().await;
        if socket.write_all(b"x").await.is_err() {
            break started.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "a trickling head stayed open past {:?}",
            HEADER_TIMEOUT + SLACK
        );
    };
    println!("trickled head cut after {cut:?}");
    assert!(
        cut >= HEADER_TIMEOUT - Duration::from_millis(200),
        "cut too early: {cut:?}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let keep_alive = Duration::from_secs(1);
    let app = spawn_app_with(|config| {
        config.front.keep_alive_timeout = keep_alive;
        config.front.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let mut socket = TcpStream::connect(app.addr).await.expect("connect");
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("request");
    let answer = read_answer(&mut socket, Duration::from_secs(10))
        .await
        .expect("answer");
    assert_eq!(answer.status, 200);
    let closed = closed_within(&mut socket, keep_alive + SLACK)
        .await
        .expect("idle keep-alive connection closed");
    println!("idle keep-alive connection closed after {closed:?} (timeout {keep_alive:?})");
    assert!(
        closed < Duration::from_secs(30) - SLACK,
        "closed by the keep-alive timeout, not the header timeout"
    );
}

#[tokio::test]
async fn beyond_the_connection_cap_health_checks_answer_and_the_rest_is_503() {
    let cap = 50;
    let app = spawn_app_with(|config| {
        config.front.max_connections = cap;
        config.front.overflow_connections = 8;
        config.front.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let mut hogs = Vec::new();
    for _ in 0..cap {
        let mut socket = TcpStream::connect(app.addr).await.expect("connect");
        socket
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("partial head");
        hogs.push(socket);
    }
    // The hogs were accepted first (the backlog is FIFO): wait until the cap is seen to be full.
    let deadline = Instant::now() + Duration::from_secs(20);
    let refused = loop {
        let answer = raw_request(
            app.addr,
            b"GET /v1/intents/x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await
        .expect("an answer beyond the cap");
        if answer.status == 503 {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "the cap never filled: {answer:?}"
        );
        tokio::task::yield_now().await;
    };
    let problem = refused.problem();
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("connection limit"))
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(refused.header("cache-control"), Some("no-store"));
    for _ in 0..5 {
        assert!(readyz_answers(app.addr).await, "readyz beyond the cap");
    }
    let healthz = raw_request(
        app.addr,
        b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await
    .expect("healthz");
    assert_eq!(healthz.status, 200);
    drop(hogs);
}

#[tokio::test]
async fn the_private_listener_answers_probes_when_the_public_port_is_full() {
    let cap = 10;
    let app = spawn_app_with(|config| {
        config.front.max_connections = cap;
        config.front.overflow_connections = 0;
        config.front.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    // A free port for the private listener (it binds by itself).
    let private = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port");
    tokio::spawn(malipo::http::metrics::serve_standalone(
        private,
        app.pool.clone(),
        Duration::from_secs(3600),
    ));
    let mut hogs = Vec::new();
    for _ in 0..cap {
        let mut socket = TcpStream::connect(app.addr).await.expect("connect");
        socket
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("partial head");
        hogs.push(socket);
    }
    // Public port full, no overflow: wait until it closes new connections unanswered.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !answered_nothing(app.addr).await {
        assert!(Instant::now() < deadline, "the public port never filled");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // The private listener may still be binding: a refused connect is retried.
        if TcpStream::connect(private).await.is_ok() && readyz_answers(private).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the private listener never answered"
        );
        tokio::task::yield_now().await;
    }
    drop(hogs);
}

//! Choosing the TCP port on 127.0.0.1: keep the persisted one while it is free, else let the
//! kernel pick an unused one.

use std::net::{Ipv4Addr, TcpListener};

use anyhow::Context;

/// Whether nothing listens on `port` on the loopback address.
pub(crate) fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// A port that was free a moment ago. Another process may take it before PostgreSQL binds it;
/// the caller retries the start in that case.
pub(crate) fn pick_free() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("failed to find a free port on 127.0.0.1")?;
    Ok(listener
        .local_addr()
        .context("failed to read the picked port")?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listened_port_is_not_free() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!is_free(port));
        drop(listener);
        assert!(is_free(port));
        assert_ne!(pick_free().unwrap(), 0);
    }
}

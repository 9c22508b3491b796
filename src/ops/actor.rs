//! Who performs an operator action, as the audit log records it.

use uuid::Uuid;

/// The operator behind an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An operator-role API key, by its client id.
    Key(Uuid),
    /// The command line, by the OS user running it.
    Cli(String),
}

impl Actor {
    /// The OS user running this process (`$USER` when the account has no name).
    pub fn cli() -> Self {
        let uid = nix::unistd::getuid();
        let name = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map(|user| user.name)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| format!("uid{uid}"));
        Self::Cli(name)
    }

    /// `key:<client id>` or `cli:<os user>`.
    pub fn label(&self) -> String {
        match self {
            Self::Key(id) => format!("key:{id}"),
            Self::Cli(user) => format!("cli:{user}"),
        }
    }

    /// The API client id, for key actors.
    pub fn client_id(&self) -> Option<Uuid> {
        match self {
            Self::Key(id) => Some(*id),
            Self::Cli(_) => None,
        }
    }
}

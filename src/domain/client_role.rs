//! What an API key may do, and which kind of key it is: one definition for the database, the
//! JSON API and the command line.

use serde::{Deserialize, Serialize};

/// The one role an API key has.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    sqlx::Type,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Role {
    /// A tenant: creates and manages its own intents under `/v1`.
    Client,
    /// Operates malipo under `/ops` and `/metrics`; never acts as a tenant.
    Operator,
    /// Looks at the operator console (`/console`) and changes nothing; no `/ops`, no `/v1`.
    Viewer,
}

impl Role {
    /// The stored name (`client`, `operator`), as the `api_clients.role` CHECK lists it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Operator => "operator",
            Self::Viewer => "viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of malipo's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; expected client, operator or viewer")]
pub struct UnknownRole(pub String);

impl TryFrom<&str> for Role {
    type Error = UnknownRole;

    fn try_from(name: &str) -> Result<Self, Self::Error> {
        match name {
            "client" => Ok(Self::Client),
            "operator" => Ok(Self::Operator),
            "viewer" => Ok(Self::Viewer),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// Whether a key works against real providers or a sandbox; only its visible prefix differs,
/// so a leaked key can be told apart at a glance (and by secret scanners).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum KeyMode {
    /// `mlp_live_…`
    Live,
    /// `mlp_test_…`, for sandbox servers (`malipo run --sandbox`).
    Test,
}

impl KeyMode {
    /// The visible prefix of keys of this mode.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Live => "mlp_live_",
            Self::Test => "mlp_test_",
        }
    }

    /// The mode of a stored key prefix (rotation keeps a key's mode).
    pub fn of_prefix(prefix: &str) -> Self {
        if prefix.starts_with(Self::Test.prefix()) {
            Self::Test
        } else {
            Self::Live
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_every_spelling() {
        for role in [Role::Client, Role::Operator, Role::Viewer] {
            assert_eq!(Role::try_from(role.as_str()), Ok(role));
            assert_eq!(
                serde_json::to_value(role).ok(),
                Some(serde_json::Value::from(role.as_str()))
            );
            let parsed = <Role as clap::ValueEnum>::from_str(role.as_str(), false);
            assert_eq!(parsed, Ok(role));
        }
        assert!(Role::try_from("admin").is_err());
    }

    #[test]
    fn modes_are_told_by_their_prefix() {
        assert_eq!(KeyMode::of_prefix("mlp_test_ab12cd"), KeyMode::Test);
        assert_eq!(KeyMode::of_prefix("mlp_live_ab12cd"), KeyMode::Live);
    }
}

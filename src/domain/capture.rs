//! How an intent's money is captured: held in escrow for a payee until released, or settled at
//! once into the client's own balance (a wallet's deposit, a processor's collection).

use serde::{Deserialize, Serialize};

/// Where a paid intent's money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capture {
    /// Held for the payee until released or refunded.
    #[default]
    Escrow,
    /// Into the client's balance as soon as the provider confirms the payment (no payee).
    Immediate,
}

impl Capture {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Escrow => "escrow",
            Self::Immediate => "immediate",
        }
    }

    /// The capture stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Escrow, Self::Immediate]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

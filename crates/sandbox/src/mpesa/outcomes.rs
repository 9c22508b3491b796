//! What an STK push or a B2C payment comes to, as tests script it: the result code, and
//! whether its callback is sent at all.

/// The result of an STK push (PROVIDERS.md §2.3 code table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StkResult {
    /// 0: paid.
    Success,
    /// 1: insufficient balance.
    InsufficientBalance,
    /// 1032: the customer cancelled.
    Cancelled,
    /// 1037: the customer's phone could not be reached in time.
    Unreachable,
    /// 2001: wrong PIN.
    WrongPin,
}

impl StkResult {
    /// The numeric `ResultCode`.
    pub fn code(self) -> u32 {
        match self {
            StkResult::Success => 0,
            StkResult::InsufficientBalance => 1,
            StkResult::Cancelled => 1032,
            StkResult::Unreachable => 1037,
            StkResult::WrongPin => 2001,
        }
    }

    /// The `ResultDesc` Daraja sends with it.
    pub fn description(self) -> &'static str {
        match self {
            StkResult::Success => "The service request is processed successfully.",
            StkResult::InsufficientBalance => "The balance is insufficient for the transaction.",
            StkResult::Cancelled => "Request cancelled by user",
            StkResult::Unreachable => "DS timeout user cannot be reached",
            StkResult::WrongPin => "The initiator information is invalid.",
        }
    }
}

/// An STK push's fate: its result, and whether the callback is sent (Daraja sometimes sends
/// none; STK Query still knows the result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StkOutcome {
    /// The result.
    pub result: StkResult,
    /// False: no callback ever comes.
    pub callback: bool,
}

impl StkOutcome {
    /// `result`, with its callback.
    pub const fn new(result: StkResult) -> Self {
        Self {
            result,
            callback: true,
        }
    }

    /// `result`, with no callback.
    pub const fn silent(result: StkResult) -> Self {
        Self {
            result,
            callback: false,
        }
    }
}

/// Which STK pushes a standing script applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StkMatch {
    /// Pushes to this `PhoneNumber` (`2547…`).
    Msisdn(String),
    /// Pushes of this amount, in KES.
    Amount(u64),
}

impl StkMatch {
    pub(crate) fn matches(&self, msisdn: &str, amount: u64) -> bool {
        match self {
            StkMatch::Msisdn(m) => m == msisdn,
            StkMatch::Amount(a) => *a == amount,
        }
    }
}

/// The result of a B2C payment (PROVIDERS.md §2.7 code table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum B2cResult {
    /// 0: paid out.
    Success,
    /// 1: the utility account cannot cover it.
    InsufficientFunds,
    /// 11: the debit party is in an invalid state.
    DebitPartyInvalid,
    /// 2001: bad initiator credentials.
    InvalidInitiator,
    /// 2040: the recipient is not a registered M-Pesa customer.
    UnregisteredCustomer,
}

impl B2cResult {
    /// The numeric `ResultCode`.
    pub fn code(self) -> u32 {
        match self {
            B2cResult::Success => 0,
            B2cResult::InsufficientFunds => 1,
            B2cResult::DebitPartyInvalid => 11,
            B2cResult::InvalidInitiator => 2001,
            B2cResult::UnregisteredCustomer => 2040,
        }
    }

    /// The `ResultDesc` Daraja sends with it.
    pub fn description(self) -> &'static str {
        match self {
            B2cResult::Success => "The service request is processed successfully.",
            B2cResult::InsufficientFunds => "The balance is insufficient for the transaction.",
            B2cResult::DebitPartyInvalid => "The DebitParty is in an invalid state.",
            B2cResult::InvalidInitiator => "The initiator information is invalid.",
            B2cResult::UnregisteredCustomer => {
                "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service."
            }
        }
    }
}

/// A B2C payment's fate: its result, and whether the Result callback is sent. A silent
/// success still moved the money: Transaction Status finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct B2cOutcome {
    /// The result.
    pub result: B2cResult,
    /// False: no Result callback ever comes.
    pub callback: bool,
}

impl B2cOutcome {
    /// `result`, with its callback.
    pub const fn new(result: B2cResult) -> Self {
        Self {
            result,
            callback: true,
        }
    }

    /// `result`, with no callback.
    pub const fn silent(result: B2cResult) -> Self {
        Self {
            result,
            callback: false,
        }
    }
}

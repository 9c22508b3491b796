//! The Nigerian banks malipo accepts for Fincra `bank_account` payouts: a snapshot shipped with
//! the binary, so validating a destination at intent creation needs no call. Codes are the CBN
//! codes Fincra's `GET /core/banks?country=NG&currency=NGN&paymentDestination=bank_account`
//! lists (PROVIDERS.md §4.1's sample uses `058`). A bank missing here is refused with a 422
//! naming the code; refreshing the list from Fincra is not built yet (see README).

/// `(code, name)` of each accepted bank, sorted by code.
pub const NGN_BANKS: &[(&str, &str)] = &[
    ("011", "First Bank of Nigeria"),
    ("023", "Citibank Nigeria"),
    ("030", "Heritage Bank"),
    ("032", "Union Bank of Nigeria"),
    ("033", "United Bank For Africa"),
    ("035", "Wema Bank"),
    ("044", "Access Bank"),
    ("050", "Ecobank Nigeria"),
    ("057", "Zenith Bank"),
    ("058", "Guaranty Trust Bank"),
    ("068", "Standard Chartered Bank"),
    ("070", "Fidelity Bank"),
    ("076", "Polaris Bank"),
    ("082", "Keystone Bank"),
    ("101", "Providus Bank"),
    ("214", "First City Monument Bank"),
    ("215", "Unity Bank"),
    ("221", "Stanbic IBTC Bank"),
    ("232", "Sterling Bank"),
    ("301", "Jaiz Bank"),
];

/// The bank's name when `code` is on the list.
pub fn ngn_bank_name(code: &str) -> Option<&'static str> {
    NGN_BANKS
        .binary_search_by(|(known, _)| (*known).cmp(code))
        .ok()
        .map(|index| NGN_BANKS[index].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_unique_and_searchable() {
        assert!(NGN_BANKS.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert_eq!(ngn_bank_name("058"), Some("Guaranty Trust Bank"));
        assert_eq!(ngn_bank_name("999"), None);
        assert_eq!(ngn_bank_name(""), None);
    }
}

//! The banks the fake Fincra pays to: its answer to `GET /core/banks?currency=NGN&country=NG`
//! (PROVIDERS.md §4). The same codes and names as malipo's shipped list, kept apart so the fake
//! answers as Fincra would whatever malipo ships.

pub(crate) const NGN_BANKS: &[(&str, &str)] = &[
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

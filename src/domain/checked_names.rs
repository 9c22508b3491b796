//! Test support: the names an enumerated CHECK allows, as the newest migration that defines it
//! writes them (`col = ANY ('{a,b,…}'::text[])`, migration 0129). The enums that mirror these
//! columns are tested against it, so a name added on one side only fails a test.

/// The migration that last wrote every enumerated CHECK.
const CURRENT: &str = include_str!("../../migrations/0129_checks_as_array_constants.sql");

/// The names `constraint` allows, in the order the migration lists them.
pub(crate) fn checked_names(constraint: &str) -> Vec<&'static str> {
    let start = CURRENT
        .find(&format!("ADD CONSTRAINT {constraint} CHECK ("))
        .unwrap_or_else(|| panic!("migration 0129 defines {constraint}"));
    let rest = &CURRENT[start..];
    let open = rest.find("'{").expect("an array constant") + 2;
    let close = rest[open..].find("}'").expect("the array constant ends") + open;
    rest[open..close].split(',').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_from_the_constraint_asked_for() {
        assert_eq!(
            checked_names("webhook_deliveries_status_check"),
            ["pending", "succeeded", "failed"]
        );
        assert_eq!(
            checked_names("intents_capture_check"),
            ["escrow", "immediate"]
        );
    }
}

//! Pointing a PostgreSQL URL at another database on the same server.

/// `url` with its database (the path) replaced by `database`; credentials, host and query
/// parameters are kept.
pub(super) fn with_database(url: &str, database: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let query_start = url[after_scheme..]
        .find('?')
        .map_or(url.len(), |i| after_scheme + i);
    // '/' cannot appear in the authority part unescaped, so the first one starts the path.
    let path_start = url[after_scheme..query_start]
        .find('/')
        .map_or(query_start, |i| after_scheme + i);
    format!("{}/{database}{}", &url[..path_start], &url[query_start..])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1:5432/malipo", "t_1"),
            "postgres://u:p@127.0.0.1:5432/t_1"
        );
    }

    #[test]
    fn adds_a_missing_database_and_keeps_the_query() {
        assert_eq!(
            with_database("postgres://localhost", "t_1"),
            "postgres://localhost/t_1"
        );
        assert_eq!(
            with_database("postgres://localhost:5432/?sslmode=disable", "t_1"),
            "postgres://localhost:5432/t_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql:///app?host=/var/run/postgresql", "t_1"),
            "postgresql:///t_1?host=/var/run/postgresql"
        );
    }
}

//! Test support: a fresh, isolated PostgreSQL schema per test when
//! `GRANTFLOW_TEST_POSTGRES` holds a server URL; nothing otherwise.

use sqlx::Connection;

/// The environment variable naming the PostgreSQL server tests may use.
pub const POSTGRES_ENV: &str = "GRANTFLOW_TEST_POSTGRES";

/// A URL whose connections all use a new, empty schema, or `None` (with a
/// line saying the PostgreSQL variant was skipped) when no server is set.
pub async fn postgres_url(test: &str) -> Option<String> {
    let Ok(base) = std::env::var(POSTGRES_ENV) else {
        // Written to the real stderr, not the test harness's captured one,
        // so a run without PostgreSQL says what it did not test.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {test} on PostgreSQL ({POSTGRES_ENV} is not set)"
        );
        return None;
    };
    let schema = format!("gf_test_{}", uuid::Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|error| panic!("{POSTGRES_ENV}={base} is not reachable: {error}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("cannot create schema {schema}: {error}"));
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!(
        "{base}{separator}options=-c%20search_path%3D{schema}"
    ))
}

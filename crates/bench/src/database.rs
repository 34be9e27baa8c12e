//! Where a store benchmark writes: a fresh SQLite file, or a fresh schema on a PostgreSQL server
//! (dropped afterwards), so each run starts from an empty store.

use sqlx::Connection;

pub struct BenchDatabase {
    url: String,
    /// The PostgreSQL server and the schema made for this run.
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl BenchDatabase {
    pub async fn fresh(postgres: Option<&str>) -> anyhow::Result<BenchDatabase> {
        Self::open(postgres, None).await
    }

    /// As [`BenchDatabase::fresh`], or the SQLite file `sqlite` kept (and reused) across runs.
    pub async fn open(
        postgres: Option<&str>,
        sqlite: Option<&std::path::Path>,
    ) -> anyhow::Result<BenchDatabase> {
        let dir = tempfile::tempdir()?;
        let Some(base) = postgres else {
            let file = sqlite.map_or_else(|| dir.path().join("bench.db"), ToOwned::to_owned);
            return Ok(BenchDatabase {
                url: format!("sqlite://{}", file.display()),
                postgres: None,
                _dir: dir,
            });
        };
        let schema = format!("gf_bench_{}", uuid::Uuid::new_v4().simple());
        let mut connection = sqlx::PgConnection::connect(base).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut connection)
            .await?;
        let separator = if base.contains('?') { '&' } else { '?' };
        Ok(BenchDatabase {
            url: format!("{base}{separator}options=-c%20search_path%3D{schema}"),
            postgres: Some((base.to_string(), schema)),
            _dir: dir,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn label(&self) -> &'static str {
        if self.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    pub async fn drop_schema(self) -> anyhow::Result<()> {
        if let Some((base, schema)) = &self.postgres {
            let mut connection = sqlx::PgConnection::connect(base).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut connection)
                .await?;
        }
        Ok(())
    }
}

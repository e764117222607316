//! Connecting: the options, the pool, the schema and the migrations.

use super::*;

/// Connection options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeaOptions {
    /// Run the migrator on connect (default: true). When off, call
    /// [`SeaStore::migrate`] yourself before use.
    pub migrate: bool,
    /// PostgreSQL only: the schema that holds crcm's tables (created if
    /// missing). `None`: the connection's default search path.
    pub schema: Option<String>,
    /// Pool size (SQLite always uses one connection, so writers queue instead
    /// of failing with "database is locked").
    pub max_connections: u32,
    /// How long to wait for a connection (on connect and from the pool)
    /// before failing with [`StoreError::Backend`] (default: 10 s). A server
    /// that refuses connections (down, wrong port) is reported at once with
    /// the connection's own error, not after this wait.
    pub connect_timeout: std::time::Duration,
    /// Create crcm's tables (and the PostgreSQL schema) when the database
    /// has none (default: true). `false`: such a database is refused with
    /// [`StoreError::NotACrcmStore`] and nothing is created.
    pub create: bool,
}

impl Default for SeaOptions {
    fn default() -> Self {
        Self {
            migrate: true,
            schema: None,
            max_connections: 8,
            connect_timeout: std::time::Duration::from_secs(10),
            create: true,
        }
    }
}

/// Connects once to the server's address, so a server that is down or a
/// wrong port is reported at once with the system's reason (the pool would
/// retry until its timeout and then say only "pool timed out"). A URL whose
/// host is a socket path, or that does not parse, is left to the driver.
async fn reachable(url: &str, backend: &'static str, timeout: std::time::Duration) -> Result<(), StoreError> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(());
    };
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty() && !h.starts_with('/')) else {
        return Ok(());
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = parsed.port().unwrap_or(if backend == "postgres" { 5432 } else { 3306 });
    let shown = format!("{host}:{port}");
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host.as_str(), port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(StoreError::backend(backend, format!("cannot connect to {shown}: {e}"))),
        Err(_) => Err(StoreError::backend(
            backend,
            format!("cannot connect to {shown}: no answer within {} ms", timeout.as_millis()),
        )),
    }
}

/// A valid PostgreSQL identifier for a schema name.
pub(crate) fn schema_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl SeaStore {
    /// Connects with the default options (migrating on connect).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, SeaOptions::default()).await
    }

    /// Connects to `url`: `sqlite://path/to/file.db` (created when missing,
    /// unless the URL gives a `mode`), `postgres://user@host/db` or
    /// `mysql://user@host/db`. Refuses a database whose crcm format is newer
    /// than this build's, before running any migration.
    pub async fn connect_with(url: &str, options: SeaOptions) -> Result<Self, StoreError> {
        let backend = if url.starts_with("postgres") {
            "postgres"
        } else if url.starts_with("mysql") || url.starts_with("mariadb") {
            "mysql"
        } else if url.starts_with("sqlite") {
            "sqlite"
        } else {
            return Err(StoreError::backend(
                "sql",
                format!("unsupported database URL scheme in {url:?}"),
            ));
        };
        let err = db_err(backend);
        // A SQLite file is created when missing unless the URL says otherwise.
        let url = if backend == "sqlite" && !url.contains("mode=") && !url.contains(":memory:") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_owned()
        };
        let url = url.as_str();
        if backend != "sqlite" {
            reachable(url, backend, options.connect_timeout).await?;
        }
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .max_connections(if backend == "sqlite" {
                1
            } else {
                Ord::max(options.max_connections, 1)
            })
            .connect_timeout(options.connect_timeout)
            .acquire_timeout(options.connect_timeout);
        // PostgreSQL plans a prepared statement once after five runs and keeps
        // that plan until the table is analyzed: a plan made while a table was
        // nearly empty (a sequential scan) stays while an import fills it, and
        // each batch gets slower. Plan every statement for the table as it is.
        #[cfg(feature = "postgres")]
        opts.map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]));
        if let Some(schema) = &options.schema {
            if backend != "postgres" || !schema_ok(schema) {
                return Err(StoreError::backend(
                    backend,
                    format!("schema {schema:?}: PostgreSQL only, letters, digits and _"),
                ));
            }
            // Create the schema with a plain connection first, then pin every pooled connection to it.
            if options.create {
                let mut plain = ConnectOptions::new(url.to_owned());
                plain
                    .sqlx_logging(false)
                    .max_connections(1)
                    .connect_timeout(options.connect_timeout)
                    .acquire_timeout(options.connect_timeout);
                let plain = Database::connect(plain).await.map_err(&err)?;
                match plain
                    .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                    .await
                {
                    // Another node created it between the check and the insert.
                    Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {}
                    other => {
                        other.map_err(&err)?;
                    }
                }
                plain.close().await.map_err(&err)?;
            }
            opts.set_schema_search_path(schema.clone());
        }
        let db = Database::connect(opts).await.map_err(&err)?;
        let store = Self { db, backend };
        match store.stored_format().await? {
            Some(found) if found > FORMAT_VERSION => {
                return Err(StoreError::FormatTooNew {
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            None if !options.create => {
                return Err(StoreError::NotACrcmStore(format!(
                    "no crcm tables in this {backend} database{}",
                    options
                        .schema
                        .as_ref()
                        .map(|s| format!(" (schema {s})"))
                        .unwrap_or_default()
                )));
            }
            _ => {}
        }
        if options.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Runs pending migrations (a no-op when the schema is current).
    ///
    /// Nodes that start together may all call this: on PostgreSQL the
    /// migration runs in one transaction under an advisory lock, on MySQL under
    /// a named lock, so one node migrates and the others then find nothing
    /// pending.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let err = self.err();
        let txn = self.db.begin().await.map_err(&err)?;
        let (lock, unlock) = match self.backend {
            "postgres" => (
                "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.crcm_migrate'))",
                None,
            ),
            "mysql" => (
                "SELECT GET_LOCK(CONCAT(DATABASE(), '.crcm_migrate'), 300)",
                Some("SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.crcm_migrate'))"),
            ),
            // SQLite: the file's write lock already serializes writers.
            _ => ("SELECT 1", None),
        };
        txn.execute_unprepared(lock).await.map_err(&err)?;
        let migrated = migration::Migrator::up(&txn, None).await;
        if let Some(unlock) = unlock {
            // The lock also ends with the session; a failure here loses nothing.
            if let Err(e) = txn.execute_unprepared(unlock).await {
                tracing::warn!(error = %e, "releasing the migration lock failed");
            }
        }
        match migrated {
            Ok(()) => txn.commit().await.map_err(&err),
            Err(e) => {
                if let Err(rb) = txn.rollback().await {
                    tracing::warn!(error = %rb, "rollback failed");
                }
                Err(err(e))
            }
        }
    }

    /// The format recorded in `crcm_meta`, or `None` when crcm's tables do not exist yet.
    pub(crate) async fn stored_format(&self) -> Result<Option<u32>, StoreError> {
        let err = self.err();
        // No crcm_meta table: a database crcm has not migrated yet.
        if !SchemaManager::new(&self.db)
            .has_table("crcm_meta")
            .await
            .map_err(&err)?
        {
            return Ok(None);
        }
        match meta::Entity::find_by_id("format".to_owned())
            .one(&self.db)
            .await
            .map_err(&err)?
        {
            Some(row) => row.value.parse().map(Some).map_err(|_| StoreError::Corrupt {
                what: "crcm_meta.format".into(),
                message: format!("not a number: {:?}", row.value),
            }),
            None => Ok(None),
        }
    }

    /// The connection, for hosts that share it.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await.map_err(db_err(self.backend))
    }

    pub(crate) fn err(&self) -> impl Fn(DbErr) -> StoreError {
        db_err(self.backend)
    }
}

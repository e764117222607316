//! Opening a store from its spec text: the one place that turns
//! `sled:DIR`, `sqlite:FILE`, `postgres://...` or `mysql://...` into a store,
//! for the `crcm` tool, the C ABI and any host that reads a store's location
//! from its own configuration.
//!
//! ```no_run
//! # async fn demo() -> crcm::Result<()> {
//! use crcm::open::{StoreOptions, open_engine};
//!
//! let engine = open_engine("sled:./crcm-data", &StoreOptions::default()).await?;
//! # let _ = engine;
//! # Ok(())
//! # }
//! ```
//!
//! Options have a serde form (`{"sled_cache_bytes": 16777216}`), so a host can
//! keep them in its own configuration file; an option that does not apply to
//! the spec's backend is refused, not ignored.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use crcm_core::error::StoreError;
use crcm_core::{Engine, Error, Store};
use serde::{Deserialize, Serialize};

/// Where a store lives: the parsed form of a spec text.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreSpec {
    /// `sled:DIR`: a sled store in a directory (created when missing).
    Sled(PathBuf),
    /// `sqlite:FILE`: an SQLite file (created when missing), as its
    /// connection URL.
    Sqlite(String),
    /// `postgres://...` or `postgresql://...`: a PostgreSQL database.
    Postgres(String),
    /// `mysql://...` or `mariadb://...`: a MySQL or MariaDB database, as its
    /// `mysql://` URL.
    Mysql(String),
}

impl StoreSpec {
    /// The backend's name: `sled`, `sqlite`, `postgres` or `mysql`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sled(_) => "sled",
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
            Self::Mysql(_) => "mysql",
        }
    }
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::InvalidOptions {
        message: message.into(),
    }
}

impl FromStr for StoreSpec {
    type Err = StoreError;

    fn from_str(spec: &str) -> Result<Self, StoreError> {
        if let Some(dir) = spec.strip_prefix("sled:") {
            if dir.is_empty() {
                return Err(invalid("`sled:` needs a directory, e.g. sled:./crcm-data"));
            }
            return Ok(Self::Sled(PathBuf::from(dir)));
        }
        if let Some(file) = spec.strip_prefix("sqlite:") {
            let file = file.trim_start_matches("//");
            if file.is_empty() {
                return Err(invalid("`sqlite:` needs a file, e.g. sqlite:./crcm.db"));
            }
            let url = if file == ":memory:" {
                "sqlite::memory:".to_owned()
            } else if file.contains('?') {
                format!("sqlite://{file}")
            } else {
                format!("sqlite://{file}?mode=rwc")
            };
            return Ok(Self::Sqlite(url));
        }
        if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            return Ok(Self::Postgres(spec.to_owned()));
        }
        if spec.starts_with("mysql://") {
            return Ok(Self::Mysql(spec.to_owned()));
        }
        if let Some(rest) = spec.strip_prefix("mariadb://") {
            return Ok(Self::Mysql(format!("mysql://{rest}")));
        }
        Err(invalid(format!(
            "unknown store {:?}: use sled:DIR, sqlite:FILE, postgres://... or mysql://...",
            shorten(spec)
        )))
    }
}

/// The spec as it can be shown: a server URL without its password.
impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sled(dir) => write!(f, "sled:{}", dir.display()),
            Self::Sqlite(url) => write!(f, "{url}"),
            Self::Postgres(url) | Self::Mysql(url) => write!(f, "{}", without_password(url)),
        }
    }
}

/// At most 200 characters of a spec, for a message about it.
fn shorten(spec: &str) -> String {
    spec.chars().take(200).collect()
}

/// `scheme://user:secret@host/db` as `scheme://user:***@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = credentials.split_once(':').map_or(credentials, |(user, _)| user);
    let shown = if credentials.contains(':') {
        format!("{scheme}://{user}:***@{host}")
    } else {
        format!("{scheme}://{user}@{host}")
    };
    match path {
        Some(path) => format!("{shown}/{path}"),
        None => shown,
    }
}

/// How to open a store. Every field is optional; `None` takes the backend's
/// default. A field for another backend than the spec's is refused
/// (`invalid_options`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StoreOptions {
    /// sled: the page cache in bytes (default 64 MiB, at least 1 MiB).
    pub sled_cache_bytes: Option<u64>,
    /// sled: flush every this many milliseconds instead of on each commit
    /// (a crash then loses at most that window's commits, whole).
    pub sled_flush_every_ms: Option<u64>,
    /// SQL: run the migrations on open (default true).
    pub migrate: Option<bool>,
    /// PostgreSQL: the schema holding crcm's tables (created when missing).
    pub schema: Option<String>,
    /// PostgreSQL and MySQL: the connection pool's size (default 8).
    pub max_connections: Option<u32>,
    /// SQL: how long to wait for a connection, in milliseconds (default 10,000).
    pub connect_timeout_ms: Option<u64>,
    /// Create the store when it is not there (default true). `false`: a
    /// sled directory or SQLite file that holds no store, or a database
    /// (PostgreSQL: a schema) without crcm's tables, is refused with
    /// `not_a_crcm_store` and nothing is created, so a mistyped location
    /// does not become a new, empty store.
    pub create: Option<bool>,
}

impl StoreOptions {
    /// Options with sled's page cache set, in bytes.
    #[must_use]
    pub fn with_sled_cache_bytes(mut self, bytes: u64) -> Self {
        self.sled_cache_bytes = Some(bytes);
        self
    }

    /// The options' names that are set, for refusing those a backend lacks.
    fn sled_only(&self) -> Option<&'static str> {
        if self.sled_cache_bytes.is_some() {
            Some("sled_cache_bytes")
        } else if self.sled_flush_every_ms.is_some() {
            Some("sled_flush_every_ms")
        } else {
            None
        }
    }

    fn sql_only(&self) -> Option<&'static str> {
        if self.migrate.is_some() {
            Some("migrate")
        } else if self.schema.is_some() {
            Some("schema")
        } else if self.max_connections.is_some() {
            Some("max_connections")
        } else if self.connect_timeout_ms.is_some() {
            Some("connect_timeout_ms")
        } else {
            None
        }
    }
}

/// An open store, by backend: the engine needs only [`OpenedStore::store`];
/// backend-specific checks (`verify`) need the backend's own type.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum OpenedStore {
    /// A sled store.
    #[cfg(feature = "sled")]
    Sled(Arc<crcm_store_sled::SledStore>),
    /// An SQL store (SQLite, PostgreSQL or MySQL/MariaDB).
    #[cfg(feature = "sea")]
    Sql(Arc<crcm_store_sea::SeaStore>),
}

impl OpenedStore {
    /// The store, for [`Engine::open`].
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            #[cfg(feature = "sled")]
            Self::Sled(store) => store.clone(),
            #[cfg(feature = "sea")]
            Self::Sql(store) => store.clone(),
        }
    }
}

/// Opens the store `spec` names (see [`StoreSpec`]) with `options`.
///
/// Refused with `invalid_options` (6007): a spec this text does not name, a
/// backend this build of crcm was compiled without (features `sled`, `sea`,
/// `postgres`, `mysql`), or an option for another backend.
pub async fn open_store(spec: &str, options: &StoreOptions) -> Result<OpenedStore, Error> {
    let spec: StoreSpec = spec.parse()?;
    let foreign = match spec {
        StoreSpec::Sled(_) => options.sql_only(),
        _ => options.sled_only(),
    };
    if let Some(option) = foreign {
        return Err(invalid(format!(
            "the option {option} does not apply to a {} store",
            spec.backend()
        ))
        .into());
    }
    if options.schema.is_some() && !matches!(spec, StoreSpec::Postgres(_)) {
        return Err(invalid(format!(
            "the option schema applies to PostgreSQL only, not to {}",
            spec.backend()
        ))
        .into());
    }
    let create = options.create.unwrap_or(true);
    if !create {
        missing_store(&spec)?;
    }
    match spec {
        StoreSpec::Sled(dir) => open_sled(dir, options),
        StoreSpec::Sqlite(url) => open_sql(&url, "sqlite", cfg!(feature = "sea"), options).await,
        StoreSpec::Postgres(url) => open_sql(&url, "postgres", cfg!(feature = "postgres"), options).await,
        StoreSpec::Mysql(url) => open_sql(&url, "mysql", cfg!(feature = "mysql"), options).await,
    }
}

/// Refuses a sled directory or SQLite file that holds no store (servers are
/// asked once connected).
fn missing_store(spec: &StoreSpec) -> Result<(), Error> {
    let path = match spec {
        #[cfg(feature = "sled")]
        StoreSpec::Sled(dir) if crcm_store_sled::holds_store(dir) => return Ok(()),
        StoreSpec::Sled(dir) => {
            return Err(StoreError::NotACrcmStore(format!("no store at sled:{}", dir.display())).into());
        }
        StoreSpec::Sqlite(url) => {
            let file = url.trim_start_matches("sqlite://");
            let file = file.split('?').next().unwrap_or(file);
            if file.is_empty() || file.starts_with(':') || url.contains("mode=memory") {
                return Ok(());
            }
            PathBuf::from(file)
        }
        StoreSpec::Postgres(_) | StoreSpec::Mysql(_) => return Ok(()),
    };
    if path.is_file() {
        Ok(())
    } else {
        Err(StoreError::NotACrcmStore(format!("no store at {spec}")).into())
    }
}

/// Opens the store `spec` names and an engine over it.
pub async fn open_engine(spec: &str, options: &StoreOptions) -> Result<Engine, Error> {
    Engine::open(open_store(spec, options).await?.store()).await
}

fn not_built(backend: &str, feature: &str) -> Error {
    invalid(format!(
        "this build of crcm has no {backend} backend (the crcm crate's feature `{feature}`)"
    ))
    .into()
}

#[cfg(feature = "sled")]
fn open_sled(dir: PathBuf, options: &StoreOptions) -> Result<OpenedStore, Error> {
    use crcm_store_sled::{Durability, SledOptions, SledStore};
    let mut sled = SledOptions::default();
    if let Some(bytes) = options.sled_cache_bytes {
        sled.cache_capacity = bytes;
    }
    if let Some(every_ms) = options.sled_flush_every_ms {
        sled.durability = Durability::Periodic { every_ms };
    }
    Ok(OpenedStore::Sled(Arc::new(SledStore::open_with(dir, sled)?)))
}

#[cfg(not(feature = "sled"))]
fn open_sled(_: PathBuf, _: &StoreOptions) -> Result<OpenedStore, Error> {
    Err(not_built("sled", "sled"))
}

#[cfg(feature = "sea")]
async fn open_sql(url: &str, backend: &str, built: bool, options: &StoreOptions) -> Result<OpenedStore, Error> {
    use crcm_store_sea::{SeaOptions, SeaStore};
    if !built {
        return Err(not_built(backend, backend));
    }
    let mut sea = SeaOptions::default();
    if let Some(migrate) = options.migrate {
        sea.migrate = migrate;
    }
    sea.schema.clone_from(&options.schema);
    if let Some(max) = options.max_connections {
        if max == 0 {
            return Err(invalid("max_connections must be at least 1").into());
        }
        sea.max_connections = max;
    }
    if let Some(ms) = options.connect_timeout_ms {
        sea.connect_timeout = std::time::Duration::from_millis(ms);
    }
    sea.create = options.create.unwrap_or(true);
    Ok(OpenedStore::Sql(Arc::new(SeaStore::connect_with(url, sea).await?)))
}

#[cfg(not(feature = "sea"))]
async fn open_sql(_: &str, backend: &str, _: bool, _: &StoreOptions) -> Result<OpenedStore, Error> {
    let feature = if backend == "sqlite" { "sea" } else { backend };
    Err(not_built(backend, feature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_to_their_backend() {
        let parse = |s: &str| s.parse::<StoreSpec>().ok();
        assert_eq!(parse("sled:./data"), Some(StoreSpec::Sled("./data".into())));
        assert_eq!(
            parse("sqlite:a.db"),
            Some(StoreSpec::Sqlite("sqlite://a.db?mode=rwc".into()))
        );
        assert_eq!(
            parse("sqlite://a.db?mode=ro"),
            Some(StoreSpec::Sqlite("sqlite://a.db?mode=ro".into()))
        );
        assert_eq!(
            parse("sqlite::memory:"),
            Some(StoreSpec::Sqlite("sqlite::memory:".into()))
        );
        assert_eq!(
            parse("postgresql://u@h/db"),
            Some(StoreSpec::Postgres("postgresql://u@h/db".into()))
        );
        assert_eq!(
            parse("mariadb://root@h/test"),
            Some(StoreSpec::Mysql("mysql://root@h/test".into()))
        );
        for bad in ["", "sled:", "sqlite:", "redis://h", "./data"] {
            assert!(
                matches!(bad.parse::<StoreSpec>(), Err(StoreError::InvalidOptions { .. })),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn a_shown_spec_hides_the_password() {
        let spec: StoreSpec = "postgres://ann:s3cret@db.example:5432/crm"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.to_string(), "postgres://ann:***@db.example:5432/crm");
        let spec: StoreSpec = "mysql://root@h/test".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.to_string(), "mysql://root@h/test");
    }

    #[test]
    fn options_read_from_json_and_refuse_unknown_fields() {
        let options: StoreOptions =
            serde_json::from_str(r#"{"sled_cache_bytes": 2097152}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(options.sled_cache_bytes, Some(2_097_152));
        assert!(serde_json::from_str::<StoreOptions>(r#"{"sled_cache": 1}"#).is_err());
    }

    #[tokio::test]
    async fn an_option_for_another_backend_is_refused() {
        let options = StoreOptions {
            schema: Some("crm".into()),
            ..StoreOptions::default()
        };
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spec = format!("sled:{}", dir.path().join("s").display());
        let err = open_store(&spec, &options).await.err().map(|e| e.code().name);
        assert_eq!(err, Some("invalid_options"));
        assert!(!dir.path().join("s").exists(), "a refused open wrote nothing");
    }
}

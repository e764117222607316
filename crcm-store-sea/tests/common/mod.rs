//! Store factories for the SQL backends. Each store gets its own SQLite file,
//! PostgreSQL schema or MySQL database, dropped when the factory is dropped.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crcm_core::store::Store;
use crcm_core::store::error::StoreError;
use crcm_core::testing::StoreFactory;
use crcm_store_sea::{SeaOptions, SeaStore};
use sea_orm::{ConnectionTrait, Database};

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// `CRCM_TEST_POSTGRES_URL`.
    Postgres,
    /// `CRCM_TEST_MYSQL_URL`.
    Mysql,
}

impl Server {
    pub fn env(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => "CRCM_TEST_POSTGRES_URL",
            Self::Mysql => "CRCM_TEST_MYSQL_URL",
        }
    }
}

/// A store location: the URL to connect to and the options.
#[derive(Clone, Debug)]
pub struct Place {
    pub url: String,
    pub options: SeaOptions,
}

pub struct SqlFactory {
    server: Server,
    base: Option<String>,
    tmp: Option<tempfile::TempDir>,
    places: Mutex<Vec<Place>>,
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Replaces the database name (the last path segment) of a server URL.
pub fn with_database(url: &str, db: &str) -> String {
    match url.rfind('/') {
        Some(i) if i > "mysql://".len() => format!("{}/{db}", &url[..i]),
        _ => format!("{url}/{db}"),
    }
}

impl SqlFactory {
    pub fn new(server: Server) -> Self {
        let base = match server {
            Server::Sqlite => None,
            s => std::env::var(s.env()).ok().filter(|v| !v.is_empty()),
        };
        Self {
            server,
            base,
            tmp: (server == Server::Sqlite).then(|| tempfile::tempdir().expect("tempdir")),
            places: Mutex::new(Vec::new()),
        }
    }

    /// The places of the stores made so far, oldest first.
    pub fn places(&self) -> Vec<Place> {
        self.places.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A fresh, empty place for a store (schema or database created).
    pub async fn new_place(&self) -> Result<Place, StoreError> {
        let err = |e: sea_orm::DbErr| StoreError::backend("sql", e);
        let place = match self.server {
            Server::Sqlite => {
                let dir = self.tmp.as_ref().map(|t| t.path().to_path_buf()).unwrap_or_default();
                Place {
                    url: format!(
                        "sqlite://{}?mode=rwc",
                        dir.join(format!("{}.db", unique("crcm"))).display()
                    ),
                    options: SeaOptions::default(),
                }
            }
            Server::Postgres => Place {
                url: self.base.clone().unwrap_or_default(),
                options: SeaOptions {
                    schema: Some(unique("crcm_t")),
                    ..SeaOptions::default()
                },
            },
            Server::Mysql => {
                let base = self.base.clone().unwrap_or_default();
                let name = unique("crcm_t");
                let db = Database::connect(&base).await.map_err(err)?;
                db.execute_unprepared(&format!("CREATE DATABASE `{name}`"))
                    .await
                    .map_err(err)?;
                db.close().await.map_err(err)?;
                Place {
                    url: with_database(&base, &name),
                    options: SeaOptions::default(),
                }
            }
        };
        self.places
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(place.clone());
        Ok(place)
    }
}

impl Drop for SqlFactory {
    fn drop(&mut self) {
        let places = std::mem::take(&mut *self.places.lock().unwrap_or_else(|e| e.into_inner()));
        let (server, base) = (self.server, self.base.clone());
        if server == Server::Sqlite || places.is_empty() {
            return;
        }
        // Drop may run inside a runtime: clean up from a thread of our own.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                let Some(base) = base else { return };
                let Ok(db) = Database::connect(&base).await else { return };
                for p in places {
                    let sql = match (server, &p.options.schema) {
                        (Server::Postgres, Some(schema)) => format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
                        (Server::Mysql, _) => {
                            let name = p.url.rsplit('/').next().unwrap_or_default().to_owned();
                            format!("DROP DATABASE IF EXISTS `{name}`")
                        }
                        _ => continue,
                    };
                    if let Err(e) = db.execute_unprepared(&sql).await {
                        eprintln!("cleanup failed ({sql}): {e}");
                    }
                }
                let _ = db.close().await;
            });
        });
        let _ = cleanup.join();
    }
}

#[async_trait]
impl StoreFactory for SqlFactory {
    async fn create(&self) -> Result<Arc<dyn Store>, StoreError> {
        let place = self.new_place().await?;
        Ok(Arc::new(SeaStore::connect_with(&place.url, place.options).await?))
    }

    async fn reopen(&self, store: Arc<dyn Store>) -> Result<Option<Arc<dyn Store>>, StoreError> {
        drop(store);
        let last = self.places.lock().unwrap_or_else(|e| e.into_inner()).last().cloned();
        let Some(place) = last else { return Ok(None) };
        Ok(Some(Arc::new(SeaStore::connect_with(&place.url, place.options).await?)))
    }

    async fn verify(&self) -> Result<Vec<String>, StoreError> {
        let places = self.places.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut problems = Vec::new();
        for place in places {
            let store = SeaStore::connect_with(&place.url, place.options).await?;
            problems.extend(store.verify().await?);
            store.close().await?;
        }
        Ok(problems)
    }

    fn unavailable(&self) -> Option<String> {
        (self.server != Server::Sqlite && self.base.is_none()).then(|| {
            format!(
                "{} is not set; the {:?} conformance suite did not run",
                self.server.env(),
                self.server
            )
        })
    }

    fn state_machine_cases(&self) -> u32 {
        // Every step is a database transaction; the in-memory run covers 2,000.
        if self.server == Server::Sqlite { 200 } else { 100 }
    }
}

/// Runs a test body on a fresh two-worker runtime.
pub fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
        .block_on(f);
}

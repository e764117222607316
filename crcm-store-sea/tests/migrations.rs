//! The migrator on every server: an empty database, a re-run (no-op), a
//! database written by a newer crcm (refused), and nodes migrating at once.

mod common;

use std::sync::Arc;

use common::{Server, SqlFactory, run};
use crcm_core::commands;
use crcm_core::store::error::StoreError;
use crcm_core::store::{FORMAT_VERSION, Store, StoreExt};
use crcm_core::testing;
use crcm_store_sea::{SeaOptions, SeaStore};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use sea_orm_migration::{MigratorTrait, SchemaManager};

/// Every table format 1 creates.
const TABLES: [&str; 16] = [
    "crcm_meta",
    "crcm_config",
    "crcm_phases",
    "crcm_stages",
    "crcm_sequences",
    "crcm_customers",
    "crcm_leads",
    "crcm_lead_tags",
    "crcm_deals",
    "crcm_activities",
    "crcm_follow_ups",
    "crcm_communications",
    "crcm_history",
    "crcm_events",
    "crcm_lookup_keys",
    "crcm_migrations",
];

/// How many migrations crcm has.
fn migrations() -> i64 {
    crcm_store_sea::migration::Migrator::migrations().len() as i64
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get_by_index::<i64>(0).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn tables_present(db: &DatabaseConnection) -> Vec<&'static str> {
    let manager = SchemaManager::new(db);
    let mut present = Vec::new();
    for t in TABLES {
        if manager
            .has_table(t)
            .await
            .unwrap_or_else(|e| panic!("has_table {t}: {e}"))
        {
            present.push(t);
        }
    }
    present
}

async fn story(server: Server) {
    let factory = SqlFactory::new(server);
    if !testing::available(&factory) {
        return;
    }
    let place = factory.new_place().await.unwrap_or_else(|e| panic!("place: {e}"));
    let manual = SeaOptions {
        migrate: false,
        ..place.options.clone()
    };

    // An empty database: nothing exists until the migrator runs.
    let store = SeaStore::connect_with(&place.url, manual.clone())
        .await
        .unwrap_or_else(|e| panic!("connect without migrating: {e}"));
    assert_eq!(
        tables_present(store.connection()).await,
        Vec::<&str>::new(),
        "an empty database"
    );
    store.migrate().await.unwrap_or_else(|e| panic!("migrate: {e}"));
    let db = store.connection();
    assert_eq!(tables_present(db).await, TABLES.to_vec(), "every table after migrating");
    assert_eq!(count(db, "SELECT COUNT(*) FROM crcm_migrations").await, migrations());
    assert_eq!(store.format_version().await.ok(), Some(FORMAT_VERSION));

    // Data written now survives re-running the migrator, which changes nothing.
    let store: Arc<dyn Store> = Arc::new(store);
    let engine = testing::configured(store.clone()).await;
    let lead = engine
        .run(
            &testing::ann(),
            commands::CreateLead {
                lead: crcm_core::testing::conformance::b2b("Ada", "Acme"),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create lead: {e}"));
    let sea = SeaStore::connect_with(&place.url, manual.clone())
        .await
        .unwrap_or_else(|e| panic!("reconnect: {e}"));
    sea.migrate().await.unwrap_or_else(|e| panic!("second migrate: {e}"));
    SeaStore::connect_with(&place.url, place.options.clone())
        .await
        .unwrap_or_else(|e| panic!("connect migrating again: {e}"));
    let db = sea.connection();
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM crcm_migrations").await,
        migrations(),
        "re-run is a no-op"
    );
    assert_eq!(count(db, "SELECT COUNT(*) FROM crcm_leads").await, 1);
    assert_eq!(
        sea.lead(lead.id).await.ok().flatten().map(|l| l.version),
        Some(1),
        "the lead is untouched"
    );
    let phases = count(db, "SELECT COUNT(*) FROM crcm_phases").await;
    let (config, _) = engine.config().await.unwrap_or_else(|e| panic!("config: {e}"));
    assert_eq!(phases, config.phases.len() as i64, "one row per configured phase");

    // A database written before phase steps existed gets them from history
    // when the migration that adds them runs.
    engine
        .run(
            &testing::ann(),
            commands::MoveLeadPhase {
                lead: lead.id,
                phase: testing::phase("b2b", "MEETING"),
                closing_reason: None,
                note: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("move: {e}"));
    let steps_now = "SELECT COUNT(*) FROM crcm_phase_steps";
    let ended = "SELECT COUNT(*) FROM crcm_phase_steps WHERE left_at IS NOT NULL AND phase = 'CALL'";
    assert_eq!(
        (count(db, steps_now).await, count(db, ended).await),
        (2, 1),
        "CALL ended, MEETING open"
    );
    db.execute_unprepared("DROP TABLE crcm_phase_steps")
        .await
        .unwrap_or_else(|e| panic!("drop: {e}"));
    db.execute_unprepared("DELETE FROM crcm_migrations WHERE version = 'm20261130_000006_phase_steps'")
        .await
        .unwrap_or_else(|e| panic!("unmark: {e}"));
    sea.migrate().await.unwrap_or_else(|e| panic!("migrate again: {e}"));
    assert_eq!(
        (count(db, steps_now).await, count(db, ended).await),
        (2, 1),
        "the steps are filled from history"
    );

    // A database a newer crcm wrote is refused before anything is touched.
    let q = quote(server);
    db.execute_unprepared(&format!("UPDATE crcm_meta SET value = '2' WHERE {q}key{q} = 'format'"))
        .await
        .unwrap_or_else(|e| panic!("set format: {e}"));
    for options in [place.options.clone(), manual] {
        match SeaStore::connect_with(&place.url, options).await {
            Err(StoreError::FormatTooNew { found, supported }) => {
                assert_eq!((found, supported), (2, FORMAT_VERSION));
            }
            other => panic!("expected FormatTooNew, got {other:?}"),
        }
    }
    assert_eq!(count(db, "SELECT COUNT(*) FROM crcm_migrations").await, migrations());
    assert_eq!(count(db, "SELECT COUNT(*) FROM crcm_leads").await, 1);
}

/// The identifier quote of a server (`key` is a reserved word on MySQL).
fn quote(server: Server) -> &'static str {
    if server == Server::Mysql { "`" } else { "\"" }
}

/// Nodes that start at once on an empty database: one migrates, all connect.
async fn simultaneous(server: Server) {
    let factory = SqlFactory::new(server);
    if !testing::available(&factory) {
        return;
    }
    let place = factory.new_place().await.unwrap_or_else(|e| panic!("place: {e}"));
    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let place = place.clone();
            tokio::spawn(async move { SeaStore::connect_with(&place.url, place.options).await })
        })
        .collect();
    let mut stores = Vec::new();
    for n in nodes {
        stores.push(
            n.await
                .unwrap_or_else(|e| panic!("task: {e}"))
                .unwrap_or_else(|e| panic!("connect: {e}")),
        );
    }
    assert_eq!(stores.len(), 4);
    assert_eq!(
        count(stores[0].connection(), "SELECT COUNT(*) FROM crcm_migrations").await,
        migrations()
    );
    assert_eq!(tables_present(stores[3].connection()).await, TABLES.to_vec());
}

#[test]
fn migrations_sqlite() {
    run(story(Server::Sqlite));
}

#[test]
#[cfg_attr(crcm_skip_postgres, ignore = "CRCM_TEST_POSTGRES_URL is not set")]
fn migrations_postgres() {
    run(story(Server::Postgres));
}

#[test]
#[cfg_attr(crcm_skip_mysql, ignore = "CRCM_TEST_MYSQL_URL is not set")]
fn migrations_mysql() {
    run(story(Server::Mysql));
}

#[test]
#[cfg_attr(crcm_skip_postgres, ignore = "CRCM_TEST_POSTGRES_URL is not set")]
fn simultaneous_migrations_postgres() {
    run(simultaneous(Server::Postgres));
}

#[test]
#[cfg_attr(crcm_skip_mysql, ignore = "CRCM_TEST_MYSQL_URL is not set")]
fn simultaneous_migrations_mysql() {
    run(simultaneous(Server::Mysql));
}

/// Every PostgreSQL connection plans each statement for the tables as they
/// are: a plan cached while a table was empty would stay while an import
/// fills it (a sequential scan per batch).
#[test]
#[cfg_attr(crcm_skip_postgres, ignore = "CRCM_TEST_POSTGRES_URL is not set")]
fn postgres_connections_plan_every_statement() {
    run(async {
        let factory = SqlFactory::new(Server::Postgres);
        if !testing::available(&factory) {
            return;
        }
        let place = factory.new_place().await.unwrap_or_else(|e| panic!("place: {e}"));
        let store = SeaStore::connect_with(&place.url, place.options)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let db = store.connection();
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT current_setting('plan_cache_mode') AS mode",
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no row"));
        let mode: String = row.try_get_by_index(0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode, "force_custom_plan");
    });
}

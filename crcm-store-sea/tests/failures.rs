//! A database error or a lost connection in the middle of a unit of work
//! returns a typed error and leaves nothing of the unit behind.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Server, SqlFactory, run};
use crcm_core::commands;
use crcm_core::domain::entity::EntityRef;
use crcm_core::domain::event::DomainEvent;
use crcm_core::domain::ids::{CustomerId, DealId};
use crcm_core::domain::input::{CustomerChoice, DealDraft, LeadPatch};
use crcm_core::rules::error::Error;
use crcm_core::store::error::StoreError;
use crcm_core::store::uow::UnitOfWork;
use crcm_core::store::{Store, StoreExt};
use crcm_core::testing::{ann, configured, conformance};
use crcm_core::{Engine, Lead};
use crcm_store_sea::{SeaOptions, SeaStore};
use sea_orm::ConnectionTrait;

/// What a failed unit of work must not change.
#[derive(Debug, PartialEq)]
struct Snapshot {
    lead: Option<Lead>,
    history: usize,
    events: usize,
    deals: usize,
}

async fn snapshot(engine: &Engine, lead: &Lead) -> Snapshot {
    let store = engine.store();
    Snapshot {
        lead: store.lead(lead.id).await.unwrap_or_else(|e| panic!("{e}")),
        history: store.history(EntityRef::lead(lead.id)).await.map_or(0, |h| h.len()),
        events: store.events_since(0, usize::MAX).await.map_or(0, |e| e.len()),
        deals: store
            .deals(&Default::default(), Default::default(), &crcm_core::PageRequest::all())
            .await
            .map_or(0, |d| d.items.len()),
    }
}

async fn setup(factory: &SqlFactory) -> (Engine, SeaStore, Lead) {
    let place = factory.new_place().await.unwrap_or_else(|e| panic!("place: {e}"));
    let store = SeaStore::connect_with(&place.url, place.options)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let engine = configured(Arc::new(store.clone())).await;
    let lead = engine
        .run(
            &ann(),
            commands::CreateLead {
                lead: conformance::b2b("Ada", "Acme"),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    (engine, store, lead)
}

/// The unit's second write breaks a foreign key: the first must not remain.
async fn database_error_mid_unit(server: Server) {
    let factory = SqlFactory::new(server);
    if !crcm_core::testing::available(&factory) {
        return;
    }
    let (engine, _store, lead) = setup(&factory).await;
    let other = engine
        .run(
            &ann(),
            commands::CreateLead {
                lead: conformance::b2b("Bob", "Beta"),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    let (_, _, deal) = engine
        .run(
            &ann(),
            commands::QualifyLead {
                lead: other.id,
                customer: CustomerChoice::Auto,
                deal: DealDraft::default(),
            },
        )
        .await
        .map(|q| (q.lead, q.customer, q.deal))
        .unwrap_or_else(|e| panic!("qualify: {e}"));
    let before = snapshot(&engine, &lead).await;

    let mut uow = UnitOfWork::new(&ann().user, Utc::now(), "test");
    let mut edited = lead.clone();
    edited.description = "must not survive".into();
    uow.update(&lead, &mut edited);
    let mut orphan = deal.clone();
    orphan.id = DealId::new();
    orphan.customer = CustomerId::new();
    uow.insert(&orphan);
    uow.event(DomainEvent::LeadUpdated {
        lead: lead.id,
        fields: vec!["description".into()],
    });
    match engine.store().commit(uow).await {
        Err(StoreError::Backend { backend, .. }) => assert_eq!(backend, engine.store().backend()),
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert_eq!(snapshot(&engine, &lead).await, before, "nothing of the unit remains");
    assert!(conformance::store_invariants(&engine).await.is_empty());
}

#[test]
fn database_error_mid_unit_sqlite() {
    run(database_error_mid_unit(Server::Sqlite));
}

#[test]
#[cfg_attr(crcm_skip_postgres, ignore = "CRCM_TEST_POSTGRES_URL is not set")]
fn database_error_mid_unit_postgres() {
    run(database_error_mid_unit(Server::Postgres));
}

#[test]
#[cfg_attr(crcm_skip_mysql, ignore = "CRCM_TEST_MYSQL_URL is not set")]
fn database_error_mid_unit_mysql() {
    run(database_error_mid_unit(Server::Mysql));
}

/// PostgreSQL: a trigger ends the writer's own connection as the unit writes
/// its events, after the lead and its history were written. The command fails
/// with a typed error, nothing remains, and the store works again afterwards.
#[test]
#[cfg_attr(crcm_skip_postgres, ignore = "CRCM_TEST_POSTGRES_URL is not set")]
fn lost_connection_mid_unit_postgres() {
    let factory = SqlFactory::new(Server::Postgres);
    if !crcm_core::testing::available(&factory) {
        return;
    }
    run(async {
        let (engine, store, lead) = setup(&factory).await;
        let db = store.connection();
        db.execute_unprepared(
            "CREATE FUNCTION crcm_test_cut() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$; \
             CREATE TRIGGER crcm_test_cut BEFORE INSERT ON crcm_events \
             FOR EACH ROW EXECUTE FUNCTION crcm_test_cut();",
        )
        .await
        .unwrap_or_else(|e| panic!("trigger: {e}"));
        let before = snapshot(&engine, &lead).await;
        let patch = LeadPatch {
            description: Some("lost with the connection".into()),
            ..LeadPatch::default()
        };
        match engine
            .run(
                &ann(),
                commands::UpdateLead {
                    lead: lead.id,
                    patch: patch.clone(),
                },
            )
            .await
        {
            Err(Error::Store(StoreError::Backend {
                backend: "postgres", ..
            })) => {}
            other => panic!("expected a postgres backend error, got {other:?}"),
        }
        assert_eq!(snapshot(&engine, &lead).await, before, "nothing of the unit remains");

        db.execute_unprepared("DROP TRIGGER crcm_test_cut ON crcm_events; DROP FUNCTION crcm_test_cut();")
            .await
            .unwrap_or_else(|e| panic!("drop trigger: {e}"));
        let updated = engine
            .run(&ann(), commands::UpdateLead { lead: lead.id, patch })
            .await
            .unwrap_or_else(|e| panic!("after reconnecting: {e}"));
        assert_eq!(
            (updated.version, updated.description.as_str()),
            (2, "lost with the connection")
        );
        let seqs: Vec<u64> = engine
            .events_since(&crcm_core::testing::root(), 0, usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(
            seqs,
            (1..=before.events as u64 + 1).collect::<Vec<_>>(),
            "no gap where the unit failed"
        );
    });
}

/// An unreachable server is a typed error on connect.
#[test]
fn unreachable_server_is_a_typed_error() {
    run(async {
        let quick = SeaOptions {
            connect_timeout: Duration::from_secs(1),
            ..SeaOptions::default()
        };
        let started = Instant::now();
        match SeaStore::connect_with("postgres://nobody@127.0.0.1:1/none", quick).await {
            Err(StoreError::Backend {
                backend: "postgres", ..
            }) => {}
            other => panic!("expected a backend error, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the timeout applies");
        match SeaStore::connect("oracle://x").await {
            Err(StoreError::Backend { backend: "sql", .. }) => {}
            other => panic!("expected a backend error, got {other:?}"),
        }
    });
}

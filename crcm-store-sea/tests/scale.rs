//! Reads that do not grow with the store, counted by the database (not
//! timed): the statements behind a page of "my open leads", the board and a
//! search examine about as many rows at 100,000 leads as at 10,000.
//!
//! - PostgreSQL: `EXPLAIN (ANALYZE, FORMAT JSON)`; rows examined = for every
//!   scan node, (rows returned + rows removed by its filter) x loops.
//! - MariaDB: `ANALYZE FORMAT=JSON`; rows examined = for every table access,
//!   `r_rows` x `r_loops`.
//! - SQLite has no row counts: its plans must use an index for every table
//!   access, and a page or a board column must come in index order (no
//!   temporary B-tree: sorting would read every match before the first row).
//!   A search may sort, since its index yields only the matches.

mod common;

use std::sync::Arc;

use common::{Server, SqlFactory};
use crcm_core::engine::board::{column_filter, rot_cutoff};
use crcm_core::prelude::*;
use crcm_core::store::query::{LeadOrder, Select};
use crcm_core::testing::{available, fixture_config, scale};
use crcm_store_sea::{SeaStore, count_statement, page_statement};
use sea_orm::sea_query::{MysqlQueryBuilder, PostgresQueryBuilder, SelectStatement, SqliteQueryBuilder};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// The statements of the three reads: (what, statement).
fn statements(engine: &Engine, size: u64) -> Vec<(String, SelectStatement)> {
    let config = fixture_config();
    let now = engine.now();
    let mut out = Vec::new();
    let (filter, order) = scale::my_open_leads().resolve(&config, now);
    out.push((
        "page".to_owned(),
        page_statement(&Select::Leads { filter, order }, &scale::my_open_leads().page),
    ));
    let board = scale::board();
    for p in config.phases_of(&board.account_type) {
        if p.phase_type == crcm_core::domain::config::PhaseType::Closing {
            continue;
        }
        let phase = p.reference();
        let filter = column_filter(&board, &config, &phase);
        out.push((
            format!("board cards {phase}"),
            page_statement(
                &Select::Leads {
                    filter: filter.clone(),
                    order: LeadOrder::default(),
                },
                &PageRequest::first(board.cards),
            ),
        ));
        if let Some(cutoffs) = rot_cutoff(&config, &phase, now) {
            let rotting = LeadFilter {
                cutoffs: Some(cutoffs),
                ..filter
            };
            out.push((
                format!("board rotten {phase}"),
                count_statement(&Select::Leads {
                    filter: rotting,
                    order: LeadOrder::default(),
                }),
            ));
        }
    }
    let search = scale::search(size / 2);
    let (filter, order) = search.resolve(&config, now);
    out.push((
        "search".to_owned(),
        page_statement(&Select::Leads { filter, order }, &search.page),
    ));
    out
}

/// Rows a statement examines, from the database's own execution statistics.
async fn examined(store: &SeaStore, what: &str, statement: &SelectStatement) -> Option<u64> {
    let db = store.connection();
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let sql = statement.to_string(PostgresQueryBuilder);
            let row = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("EXPLAIN (ANALYZE, FORMAT JSON) {sql}"),
                ))
                .await
                .unwrap_or_else(|e| panic!("explain: {e}"))?;
            let plan: serde_json::Value = row
                .try_get::<serde_json::Value>("", "QUERY PLAN")
                .unwrap_or_else(|e| panic!("{e}"));
            fn walk(node: &serde_json::Value, total: &mut u64) {
                let kind = node["Node Type"].as_str().unwrap_or_default();
                if kind.contains("Scan") {
                    let rows = node["Actual Rows"].as_f64().unwrap_or(0.0)
                        + node["Rows Removed by Filter"].as_f64().unwrap_or(0.0);
                    let loops = node["Actual Loops"].as_f64().unwrap_or(1.0);
                    *total += (rows * loops) as u64;
                }
                for child in node["Plans"].as_array().into_iter().flatten() {
                    walk(child, total);
                }
            }
            let mut total = 0;
            walk(&plan[0]["Plan"], &mut total);
            Some(total)
        }
        DbBackend::MySql => {
            let sql = statement.to_string(MysqlQueryBuilder);
            let row = db
                .query_one_raw(Statement::from_string(
                    DbBackend::MySql,
                    format!("ANALYZE FORMAT=JSON {sql}"),
                ))
                .await
                .unwrap_or_else(|e| panic!("analyze: {e}"))?;
            let text: String = row.try_get_by_index(0).unwrap_or_else(|e| panic!("{e}"));
            let plan: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            fn walk(node: &serde_json::Value, total: &mut u64) {
                match node {
                    serde_json::Value::Object(map) => {
                        if let Some(table) = map.get("table")
                            && let Some(rows) = table.get("r_rows").and_then(serde_json::Value::as_f64)
                        {
                            let loops = table.get("r_loops").and_then(serde_json::Value::as_f64).unwrap_or(1.0);
                            *total += (rows * loops) as u64;
                        }
                        for v in map.values() {
                            walk(v, total);
                        }
                    }
                    serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, total)),
                    _ => {}
                }
            }
            let mut total = 0;
            walk(&plan, &mut total);
            Some(total)
        }
        _ => {
            let sql = statement.to_string(SqliteQueryBuilder);
            let rows = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    format!("EXPLAIN QUERY PLAN {sql}"),
                ))
                .await
                .unwrap_or_else(|e| panic!("explain: {e}"));
            for row in rows {
                let detail: String = row.try_get("", "detail").unwrap_or_default();
                assert!(
                    !detail.starts_with("SCAN ") || detail.contains("INDEX"),
                    "a full scan: {detail} in {sql}"
                );
                assert!(
                    what.starts_with("search") || !detail.contains("TEMP B-TREE"),
                    "{what} sorts: {detail} in {sql}"
                );
            }
            None
        }
    }
}

async fn scale_test(server: Server) {
    let factory = SqlFactory::new(server);
    if !available(&factory) {
        return;
    }
    let place = factory.new_place().await.unwrap_or_else(|e| panic!("{e}"));
    let store = SeaStore::connect_with(&place.url, place.options.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (engine, template) = scale::start(Arc::new(store.clone())).await;
    let mut counts: Vec<Vec<(String, Option<u64>)>> = Vec::new();
    for (from, to) in [(0, 10_000), (10_000, 100_000)] {
        scale::load(&store, &template, from, to)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if store.backend() != "sqlite" {
            // Fresh planner statistics, as a maintained database has them.
            let analyze = if store.backend() == "postgres" {
                "ANALYZE"
            } else {
                "ANALYZE TABLE crcm_leads, crcm_search_words, crcm_board"
            };
            store
                .connection()
                .execute_unprepared(analyze)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        scale::read_all(&engine, to).await;
        let mut these = Vec::new();
        for (what, statement) in statements(&engine, to) {
            let rows = examined(&store, &what, &statement).await;
            these.push((what, rows));
        }
        counts.push(these);
    }
    let report: Vec<String> = counts[0]
        .iter()
        .zip(&counts[1])
        .map(|((what, small), (_, large))| match (small, large) {
            (Some(s), Some(l)) => format!("{what} {s} / {l}"),
            _ => format!("{what}: indexed plan"),
        })
        .collect();
    let summary = format!(
        "{} rows examined at 10k / 100k leads: {}",
        store.backend(),
        report.join("; ")
    );
    scale::report(
        env!("CARGO_TARGET_TMPDIR"),
        &format!("{}-scale", store.backend()),
        &summary,
    );
    for ((what, small), (_, large)) in counts[0].iter().zip(&counts[1]) {
        if let (Some(s), Some(l)) = (small, large) {
            assert!(
                *l <= 2 * (*s).max(1),
                "{what}: {l} rows at 100k leads against {s} at 10k"
            );
        }
    }
    drop(engine);
    drop(factory);
}

#[test]
fn sqlite_reads_use_indexes_at_every_size() {
    common::run(scale_test(Server::Sqlite));
}

#[test]
#[cfg_attr(crcm_skip_postgres, ignore = "CRCM_TEST_POSTGRES_URL is not set")]
fn postgres_reads_do_not_grow_with_the_store() {
    common::run(scale_test(Server::Postgres));
}

#[test]
#[cfg_attr(crcm_skip_mysql, ignore = "CRCM_TEST_MYSQL_URL is not set")]
fn mysql_reads_do_not_grow_with_the_store() {
    common::run(scale_test(Server::Mysql));
}

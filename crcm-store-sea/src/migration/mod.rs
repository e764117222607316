//! The schema, as versioned migrations run by [`Migrator`]. Its bookkeeping
//! table is `crcm_migrations`, so it never mixes with an application's own
//! sea-orm migrations.

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_tables;
mod m20261124_000002_lookup_keys;
mod m20261124_000003_mysql_text;
mod m20261130_000004_query_columns;
mod m20261130_000005_follow_up_columns;
mod m20261130_000006_phase_steps;
mod m20261201_000007_duplicate_keys;
mod m20261202_000008_exact_sums;
mod m20261202_000009_team_rows;
mod m20261203_000010_folded_words;
mod m20261203_000011_external_refs;
mod m20261203_000012_import_origin;

/// Runs crcm's migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_tables::Migration),
            Box::new(m20261124_000002_lookup_keys::Migration),
            Box::new(m20261124_000003_mysql_text::Migration),
            Box::new(m20261130_000004_query_columns::Migration),
            Box::new(m20261130_000005_follow_up_columns::Migration),
            Box::new(m20261130_000006_phase_steps::Migration),
            Box::new(m20261201_000007_duplicate_keys::Migration),
            Box::new(m20261202_000008_exact_sums::Migration),
            Box::new(m20261202_000009_team_rows::Migration),
            Box::new(m20261203_000010_folded_words::Migration),
            Box::new(m20261203_000011_external_refs::Migration),
            Box::new(m20261203_000012_import_origin::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("crcm_migrations").into_iden()
    }
}

//! Table `crcm_events`: The event outbox, by sequence number.

use sea_orm::entity::prelude::*;

/// A row of `crcm_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_events")]
pub struct Model {
    /// Column `seq`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    /// Column `body`.
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

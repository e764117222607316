//! Table `crcm_history`: History entries: one per change of one entity.

use sea_orm::entity::prelude::*;

/// A row of `crcm_history`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_history")]
pub struct Model {
    /// Column `entity_kind`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub entity_kind: String,
    /// Column `entity_id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub entity_id: String,
    /// Column `version`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    /// Column `body`.
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

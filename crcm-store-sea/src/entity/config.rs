//! Table `crcm_config`: The configuration document and its version (one row).

use sea_orm::entity::prelude::*;

/// A row of `crcm_config`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_config")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Column `version`.
    pub version: i64,
    /// Column `body`.
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

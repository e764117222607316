//! Table `crcm_activities`: Timeline activities of leads and deals.

use sea_orm::entity::prelude::*;

/// A row of `crcm_activities`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_activities")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Column `version`.
    pub version: i64,
    /// Column `subject`.
    pub subject: String,
    /// Column `occurred_at`.
    pub occurred_at: i64,
    /// Column `body`.
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

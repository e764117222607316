//! Table `crcm_meta`: Key/value facts about the store (its format version).

use sea_orm::entity::prelude::*;

/// A row of `crcm_meta`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_meta")]
pub struct Model {
    /// Column `key`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Column `value`.
    pub value: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

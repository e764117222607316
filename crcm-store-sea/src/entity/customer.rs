//! Table `crcm_customers`: Customers, with the e-mail and phone used for matching.

use sea_orm::entity::prelude::*;

/// A row of `crcm_customers`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_customers")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Column `version`.
    pub version: i64,
    /// Column `email`.
    pub email: Option<String>,
    /// Column `phone`.
    pub phone: Option<String>,
    /// Column `body`.
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

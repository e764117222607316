//! [`SeaStore::verify`]: the maintained figures against their recount from
//! the records, as `SledStore::verify` does for sled.

use std::collections::{BTreeMap, BTreeSet};

use crcm_core::domain::entity::EntityRef;
use crcm_core::domain::ids::LeadId;
use crcm_core::store::Store;
use crcm_core::store::error::StoreError;
use crcm_core::store::steps::PhaseStep;
use sea_orm::{ConnectionTrait, QueryResult, Statement};

use crate::SeaStore;
use crate::select::{BOARD, join_amount, recount_cells_sql};
use crate::steps::STEPS;

/// A board cell's key and its count and revenue.
type Cells = BTreeMap<[String; 5], (i64, i128)>;

/// A phase step as stored: lead, account type, phase, created, entered, left
/// (times in microseconds).
type StepRow = (String, String, String, i64, i64, Option<i64>);

impl SeaStore {
    /// Checks the figures the store maintains in each unit of work against a
    /// recount from the records: every board cell against the leads, every
    /// phase step against the steps its lead's history replays to (deleted
    /// leads included). Returns every problem found (empty: consistent).
    pub async fn verify(&self) -> Result<Vec<String>, StoreError> {
        let err = self.err();
        let backend = self.connection().get_database_backend();
        let text = |row: &QueryResult, name: &str| row.try_get::<String>("", name).map_err(&err);
        let big = |row: &QueryResult, name: &str| row.try_get::<i64>("", name).map_err(&err);
        let mut problems = Vec::new();

        let kept = self.read_cells(format!(
            "SELECT account_type, phase, status, owner, currency, count AS n, value AS low, value_high AS high FROM {BOARD}"
        ))
        .await?;
        let recounted = self.read_cells(recount_cells_sql(backend)).await?;
        for key in kept.keys().chain(recounted.keys()).collect::<BTreeSet<_>>() {
            let (have, want) = (kept.get(key), recounted.get(key));
            if have != want {
                problems.push(format!(
                    "board cell {}: kept {have:?}, the leads say {want:?}",
                    key.join("/")
                ));
            }
        }

        let rows = self
            .connection()
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT lead_id, account_type, phase, lead_created, entered_at, left_at FROM {STEPS}"),
            ))
            .await
            .map_err(&err)?;
        let mut stored: BTreeSet<StepRow> = BTreeSet::new();
        for row in &rows {
            stored.insert((
                text(row, "lead_id")?,
                text(row, "account_type")?,
                text(row, "phase")?,
                big(row, "lead_created")?,
                big(row, "entered_at")?,
                row.try_get::<Option<i64>>("", "left_at").map_err(&err)?,
            ));
        }
        let leads = self
            .connection()
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT DISTINCT entity_id FROM crcm_history WHERE entity_kind = 'lead'".to_owned(),
            ))
            .await
            .map_err(&err)?;
        let mut want: BTreeSet<StepRow> = BTreeSet::new();
        for row in &leads {
            let id = text(row, "entity_id")?;
            let Ok(uuid) = id.parse::<uuid::Uuid>() else {
                problems.push(format!("history of an unreadable lead id {id:?}"));
                continue;
            };
            let lead = LeadId(uuid);
            for s in PhaseStep::replay(lead, &self.history(EntityRef::lead(lead)).await?) {
                want.insert((
                    uuid.to_string(),
                    s.phase.account_type.to_string(),
                    s.phase.code.to_string(),
                    s.lead_created.timestamp_micros(),
                    s.entered_at.timestamp_micros(),
                    s.left_at.map(|l| l.timestamp_micros()),
                ));
            }
        }
        for s in stored.difference(&want) {
            problems.push(format!("phase step {s:?} is not in its lead's history"));
        }
        for s in want.difference(&stored) {
            problems.push(format!("phase step {s:?} of the history is missing"));
        }
        Ok(problems)
    }

    /// Board cells as a query answers them (key columns, `n`, `low`, `high`).
    async fn read_cells(&self, sql: String) -> Result<Cells, StoreError> {
        let err = self.err();
        let backend = self.connection().get_database_backend();
        let rows = self
            .connection()
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .map_err(&err)?;
        let mut cells = Cells::new();
        for row in &rows {
            let text = |name: &str| row.try_get::<String>("", name).map_err(&err);
            let big = |name: &str| row.try_get::<i64>("", name).map_err(&err);
            let key = [
                text("account_type")?,
                text("phase")?,
                text("status")?,
                text("owner")?,
                text("currency")?,
            ];
            let n = big("n")?;
            let value = join_amount(big("low")?, big("high")?);
            if n != 0 || value != 0 {
                cells.insert(key, (n, value));
            }
        }
        Ok(cells)
    }
}

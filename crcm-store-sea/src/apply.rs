//! Committing a unit of work: guards, lookups, rows, history, events and
//! board cells, in one transaction.

use super::*;

pub(crate) async fn put_row<C: ConnectionTrait>(
    c: &C,
    table: &str,
    id: &str,
    expected: Option<u64>,
    cols: Vec<(&'static str, sea_orm::Value)>,
) -> Result<u64, DbErr> {
    match expected {
        None => {
            let mut q = Query::insert();
            q.into_table(Alias::new(table))
                .columns(cols.iter().map(|(n, _)| Alias::new(*n)));
            q.values(cols.into_iter().map(|(_, v)| Expr::val(v)))
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            Ok(c.execute(&q).await?.rows_affected())
        }
        Some(v) => {
            let mut q = Query::update();
            q.table(Alias::new(table))
                .values(cols.into_iter().map(|(n, v)| (Alias::new(n), Expr::val(v))))
                .and_where(Expr::col(Alias::new("id")).eq(id))
                .and_where(Expr::col(Alias::new("version")).eq(to_i64(v)));
            Ok(c.execute(&q).await?.rows_affected())
        }
    }
}

/// Checks the unit's guards and bumps its touched lookup keys, first thing in
/// its transaction. The key rows are created when missing and then locked in
/// name order (every committer locks in the same order, so they queue rather
/// than deadlock); a guarded record is read under a shared lock. Locking reads
/// see the latest committed version on PostgreSQL and MySQL; SQLite has one
/// writer at a time.
pub(crate) async fn check_guards<C: ConnectionTrait>(
    c: &C,
    uow: &UnitOfWork,
    backend: &'static str,
) -> Result<(), StoreError> {
    let err = db_err(backend);
    let sqlite = c.get_database_backend() == DbBackend::Sqlite;
    let mut names: BTreeSet<&str> = uow.touched().iter().map(String::as_str).collect();
    names.extend(uow.guards().iter().filter_map(|g| match g {
        Guard::Key { key, .. } => Some(key.as_str()),
        Guard::Record { .. } => None,
    }));
    if !names.is_empty() {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new(LOOKUPS))
            .columns([Alias::new("name"), Alias::new("version")]);
        for name in &names {
            insert
                .values([(*name).into(), 0i64.into()])
                .map_err(|e| err(DbErr::Custom(e.to_string())))?;
        }
        insert.on_conflict(
            OnConflict::column(Alias::new("name"))
                .do_nothing_on([Alias::new("name")])
                .to_owned(),
        );
        c.execute(&insert).await.map_err(&err)?;
        let versions = read_lookups(c, names.iter().copied(), !sqlite).await.map_err(&err)?;
        for g in uow.guards() {
            if let Guard::Key { key, .. } = g {
                g.check(versions.get(key).copied())?;
            }
        }
        if !uow.touched().is_empty() {
            let bump = Query::update()
                .table(Alias::new(LOOKUPS))
                .value(Alias::new("version"), Expr::col(Alias::new("version")).add(1i64))
                .and_where(Expr::col(Alias::new("name")).is_in(uow.touched().iter().map(String::as_str)))
                .to_owned();
            c.execute(&bump).await.map_err(&err)?;
        }
    }
    for g in uow.guards() {
        if let Guard::Record { entity, .. } = g {
            let mut q = Query::select()
                .column(Alias::new("version"))
                .from(Alias::new(table_of(entity.kind)))
                .and_where(Expr::col(Alias::new("id")).eq(entity.id.to_string()))
                .to_owned();
            if !sqlite {
                q.lock(LockType::Share);
            }
            let found = match c.query_one(&q).await.map_err(&err)? {
                Some(r) => Some(to_u64(r.try_get::<i64>("", "version").map_err(&err)?)),
                None => None,
            };
            g.check(found)?;
        }
    }
    Ok(())
}

/// The table of lookup-key versions.
pub(crate) const LOOKUPS: &str = "crcm_lookup_keys";

/// The stored versions of lookup keys (keys never touched have no row);
/// `lock` reads them under an exclusive row lock, in name order.
pub(crate) async fn read_lookups<'a, C: ConnectionTrait>(
    c: &C,
    names: impl IntoIterator<Item = &'a str>,
    lock: bool,
) -> Result<std::collections::BTreeMap<String, u64>, DbErr> {
    let mut select = Query::select();
    select
        .columns([Alias::new("name"), Alias::new("version")])
        .from(Alias::new(LOOKUPS))
        .and_where(Expr::col(Alias::new("name")).is_in(names))
        .order_by(Alias::new("name"), Order::Asc);
    if lock {
        select.lock(LockType::Update);
    }
    let mut versions = std::collections::BTreeMap::new();
    for row in c.query_all(&select).await? {
        let name: String = row.try_get("", "name")?;
        let version: i64 = row.try_get("", "version")?;
        versions.insert(name, to_u64(version));
    }
    Ok(versions)
}

/// Inserts the unit's new records, table by table in foreign-key order
/// (customers before the leads and deals that name them), many rows per
/// statement: a unit that creates a thousand leads costs a handful of
/// statements, not thousands. An id that exists already is a conflict, a
/// lead number that exists already a duplicate; both are checked first.
pub(crate) async fn insert_new<C: ConnectionTrait>(
    c: &C,
    uow: &UnitOfWork,
    cells: &mut select::CellDeltas,
    backend: &'static str,
) -> Result<(), StoreError> {
    let err = db_err(backend);
    for kind in [
        EntityKind::Customer,
        EntityKind::Lead,
        EntityKind::Deal,
        EntityKind::Activity,
        EntityKind::FollowUp,
        EntityKind::Communication,
    ] {
        let records: Vec<&Record> = uow
            .writes()
            .iter()
            .filter_map(|w| match w {
                Write::Put { record, expected: None } if record.entity().kind == kind => Some(record),
                _ => None,
            })
            .collect();
        let Some(first) = records.first() else {
            continue;
        };
        let table = table_of(kind);
        let width = columns(first)?.len();
        // Bind parameters per statement stay well under every driver's limit.
        let per_statement = (20_000 / width.max(1)).max(1);
        for chunk in records.chunks(per_statement) {
            let ids: Vec<String> = chunk.iter().map(|r| r.entity().id.to_string()).collect();
            let taken = Query::select()
                .columns([Alias::new("id"), Alias::new("version")])
                .from(Alias::new(table))
                .and_where(Expr::col(Alias::new("id")).is_in(ids.iter().map(String::as_str)))
                .to_owned();
            if let Some(row) = c.query_one(&taken).await.map_err(&err)? {
                let id: String = row.try_get("", "id").map_err(&err)?;
                let version: i64 = row.try_get("", "version").map_err(&err)?;
                let entity = chunk
                    .iter()
                    .map(|r| r.entity())
                    .find(|e| e.id.to_string() == id)
                    .unwrap_or_else(|| first.entity());
                return Err(StoreError::Conflict {
                    entity,
                    expected: None,
                    found: Some(to_u64(version)),
                });
            }
            let leads: Vec<&Lead> = chunk
                .iter()
                .filter_map(|r| match r {
                    Record::Lead(l) => Some(l),
                    _ => None,
                })
                .collect();
            if !leads.is_empty() {
                let numbers = Query::select()
                    .column(Alias::new("number"))
                    .from(Alias::new("crcm_leads"))
                    .and_where(Expr::col(Alias::new("number")).is_in(leads.iter().map(|l| to_i64(l.number))))
                    .to_owned();
                if let Some(row) = c.query_one(&numbers).await.map_err(&err)? {
                    let number: i64 = row.try_get("", "number").map_err(&err)?;
                    return Err(StoreError::Duplicate {
                        what: "lead number".into(),
                        value: number.to_string(),
                    });
                }
            }
            let mut insert = Query::insert();
            let mut named = false;
            for record in chunk {
                let cols = columns(record)?;
                if !named {
                    insert
                        .into_table(Alias::new(table))
                        .columns(cols.iter().map(|(n, _)| Alias::new(*n)));
                    named = true;
                }
                insert
                    .values(cols.into_iter().map(|(_, v)| Expr::val(v)))
                    .map_err(|e| err(DbErr::Custom(e.to_string())))?;
            }
            if let Err(e) = c.execute(&insert).await {
                return Err(match (e.sql_err(), leads.first()) {
                    (Some(SqlErr::UniqueConstraintViolation(msg)), Some(l)) if msg.contains("number") => {
                        StoreError::Duplicate {
                            what: "lead number".into(),
                            value: l.number.to_string(),
                        }
                    }
                    (Some(SqlErr::UniqueConstraintViolation(_)), _) => StoreError::Conflict {
                        entity: first.entity(),
                        expected: None,
                        found: Some(0),
                    },
                    _ => err(e),
                });
            }
            let tags: Vec<(String, String)> = leads
                .iter()
                .flat_map(|l| l.tags.iter().map(|t| (l.id.0.to_string(), t.to_string())))
                .collect();
            for part in tags.chunks(5_000) {
                let mut q = Query::insert();
                q.into_table(Alias::new("crcm_lead_tags"))
                    .columns([Alias::new("lead_id"), Alias::new("tag")]);
                for (lead, tag) in part {
                    q.values([lead.as_str().into(), tag.as_str().into()])
                        .map_err(|e| err(DbErr::Custom(e.to_string())))?;
                }
                c.execute(&q).await.map_err(&err)?;
            }
            select::insert_terms(c, chunk).await.map_err(&err)?;
            for l in &leads {
                select::count_lead(cells, l, 1);
            }
        }
    }
    Ok(())
}

/// Rows per multi-row insert of history entries and events: few enough
/// bind parameters for every driver (at most 4 per row).
pub(crate) const ROWS_PER_INSERT: usize = 1_000;

/// Applies a unit of work inside an open transaction.
pub(crate) async fn apply<C: ConnectionTrait>(
    c: &C,
    uow: &UnitOfWork,
    backend: &'static str,
) -> Result<CommitReceipt, StoreError> {
    let err = db_err(backend);
    check_guards(c, uow, backend).await?;
    let mut cells = select::CellDeltas::new();
    insert_new(c, uow, &mut cells, backend).await?;
    for w in uow.writes() {
        if matches!(w, Write::Put { expected: None, .. }) {
            continue;
        }
        let entity = w.entity();
        let id = entity.id.to_string();
        let table = table_of(entity.kind);
        if entity.kind == EntityKind::Lead {
            // The board cells move with the lead: out of its stored cell, into its new one.
            let expected = match w {
                Write::Put { expected, .. } => *expected,
                Write::Delete { expected, .. } => Some(*expected),
            };
            if let Some(v) = expected
                && let Some((key, value)) = select::stored_cell(c, &id, v).await.map_err(&err)?
            {
                select::count_value(&mut cells, key, value, -1);
            }
            if let Write::Put {
                record: Record::Lead(l),
                ..
            } = w
            {
                select::count_lead(&mut cells, l, 1);
            }
        }
        let (rows, expected) = match w {
            Write::Put { record, expected } => {
                // An insert of an id that exists is a conflict. Checked first:
                // after a failed statement PostgreSQL reads nothing more in the
                // transaction, and SQLite may name another unique column.
                if expected.is_none()
                    && let Some(found) = current_version(c, table, &id, false).await.map_err(&err)?
                {
                    return Err(StoreError::Conflict {
                        entity,
                        expected: None,
                        found: Some(found),
                    });
                }
                let rows = match put_row(c, table, &id, *expected, columns(record)?).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        return Err(match (e.sql_err(), record) {
                            (Some(SqlErr::UniqueConstraintViolation(msg)), Record::Lead(l))
                                if msg.contains("number") =>
                            {
                                StoreError::Duplicate {
                                    what: "lead number".into(),
                                    value: l.number.to_string(),
                                }
                            }
                            (Some(SqlErr::UniqueConstraintViolation(_)), _) => StoreError::Conflict {
                                entity,
                                expected: *expected,
                                found: Some(0),
                            },
                            _ => err(e),
                        });
                    }
                };
                if let Record::Lead(l) = record
                    && rows == 1
                {
                    lead_tag::Entity::delete_many()
                        .filter(lead_tag::Column::LeadId.eq(id.clone()))
                        .exec(c)
                        .await
                        .map_err(&err)?;
                    for tag in &l.tags {
                        lead_tag::ActiveModel {
                            lead_id: Set(id.clone()),
                            tag: Set(tag.to_string()),
                        }
                        .insert(c)
                        .await
                        .map_err(&err)?;
                    }
                }
                if rows == 1 {
                    select::write_terms(c, record).await.map_err(&err)?;
                }
                (rows, *expected)
            }
            Write::Delete { expected, .. } => {
                select::delete_terms(c, entity).await.map_err(&err)?;
                let q = Query::delete()
                    .from_table(Alias::new(table))
                    .and_where(Expr::col(Alias::new("id")).eq(id.clone()))
                    .and_where(Expr::col(Alias::new("version")).eq(to_i64(*expected)))
                    .to_owned();
                let rows = c.execute(&q).await.map_err(&err)?.rows_affected();
                (rows, Some(*expected))
            }
        };
        if rows != 1 {
            let found = current_version(c, table, &id, true).await.map_err(&err)?;
            return Err(StoreError::Conflict {
                entity,
                expected,
                found,
            });
        }
    }
    select::apply_cells(c, &cells).await.map_err(&err)?;
    if let Some(cw) = uow.config() {
        let body = json(&cw.config)?;
        let rows = match cw.expected {
            None => config::Entity::insert(config::ActiveModel {
                id: Set(1),
                version: Set(to_i64(cw.version)),
                body: Set(body),
            })
            .exec_without_returning(c)
            .await
            .or_else(|e| {
                if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                    Ok(0)
                } else {
                    Err(e)
                }
            })
            .map_err(&err)?,
            Some(v) => {
                config::Entity::update_many()
                    .col_expr(config::Column::Version, Expr::val(to_i64(cw.version)))
                    .col_expr(config::Column::Body, Expr::val(body))
                    .filter(config::Column::Id.eq(1))
                    .filter(config::Column::Version.eq(to_i64(v)))
                    .exec(c)
                    .await
                    .map_err(&err)?
                    .rows_affected
            }
        };
        if rows != 1 {
            let found = config::Entity::find_by_id(1)
                .one(c)
                .await
                .map_err(&err)?
                .map(|r| to_u64(r.version));
            return Err(StoreError::ConfigConflict {
                expected: cw.expected,
                found,
            });
        }
    }
    if let Some(cw) = uow.config() {
        write_reference_rows(c, &cw.config).await.map_err(&err)?;
    }
    // Many rows per statement: an import batch writes thousands.
    for part in uow.history().chunks(ROWS_PER_INSERT) {
        let mut rows = Vec::with_capacity(part.len());
        for h in part {
            rows.push(history::ActiveModel {
                entity_kind: Set(h.entity.kind.as_str().to_owned()),
                entity_id: Set(h.entity.id.to_string()),
                version: Set(to_i64(h.version)),
                body: Set(json(h)?),
            });
        }
        history::Entity::insert_many(rows)
            .exec_without_returning(c)
            .await
            .map_err(&err)?;
    }
    steps::write_steps(c, uow.steps()).await.map_err(&err)?;
    let count = uow.events().len() as u64;
    let mut first = 0;
    if count > 0 {
        // Last statement: the row lock on the sequence orders committers.
        sequence::Entity::update_many()
            .col_expr(
                sequence::Column::Value,
                Expr::col(sequence::Column::Value).add(to_i64(count)),
            )
            .filter(sequence::Column::Name.eq("event"))
            .exec(c)
            .await
            .map_err(&err)?;
        let last = sequence::Entity::find_by_id("event".to_owned())
            .one(c)
            .await
            .map_err(&err)?
            .map_or(0, |r| to_u64(r.value));
        first = last + 1 - count;
        for (p, part) in uow.events().chunks(ROWS_PER_INSERT).enumerate() {
            let mut rows = Vec::with_capacity(part.len());
            for (i, e) in part.iter().enumerate() {
                let seq = first + (p * ROWS_PER_INSERT + i) as u64;
                let envelope = EventEnvelope {
                    seq,
                    at: uow.at(),
                    actor: uow.actor().clone(),
                    event: e.clone(),
                };
                rows.push(event::ActiveModel {
                    seq: Set(to_i64(seq)),
                    body: Set(json(&envelope)?),
                });
            }
            event::Entity::insert_many(rows)
                .exec_without_returning(c)
                .await
                .map_err(&err)?;
        }
    }
    Ok(CommitReceipt {
        first_seq: first,
        events: count,
    })
}

/// Rewrites `crcm_phases` and `crcm_stages` from the configuration.
pub(crate) async fn write_reference_rows<C: ConnectionTrait>(c: &C, config: &Config) -> Result<(), DbErr> {
    for table in ["crcm_phases", "crcm_stages"] {
        c.execute(&Query::delete().from_table(Alias::new(table)).to_owned())
            .await?;
    }
    for p in &config.phases {
        let mut q = Query::insert();
        q.into_table(Alias::new("crcm_phases"))
            .columns(["account_type", "code", "description", "phase_type", "order_no"].map(Alias::new))
            .values([
                p.account_type.as_str().into(),
                p.code.as_str().into(),
                p.description.as_str().into(),
                label(&p.phase_type).into(),
                i64::from(p.order).into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        c.execute(&q).await?;
    }
    for pipeline in &config.pipelines {
        for (position, s) in pipeline.stages.iter().enumerate() {
            let mut q = Query::insert();
            q.into_table(Alias::new("crcm_stages"))
                .columns(["pipeline", "code", "name", "kind", "position", "probability"].map(Alias::new))
                .values([
                    pipeline.code.as_str().into(),
                    s.code.as_str().into(),
                    s.name.as_str().into(),
                    label(&s.kind).into(),
                    to_i64(position as u64).into(),
                    i64::from(s.probability).into(),
                ])
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            c.execute(&q).await?;
        }
    }
    Ok(())
}

/// The stored version of a row, as committed now. On MySQL/MariaDB a plain
/// SELECT in a transaction reads the transaction's snapshot (REPEATABLE READ),
/// which can predate the write that caused a conflict; a locking read sees the
/// latest committed row. PostgreSQL (READ COMMITTED) and SQLite (one writer)
/// see it with a plain read.
///
/// `latest` asks for that locking read; the existence check before an insert
/// does without it, because a locking read of a missing row takes a gap lock
/// on MySQL, and two inserters holding gap locks deadlock.
pub(crate) async fn current_version<C: ConnectionTrait>(
    c: &C,
    table: &str,
    id: &str,
    latest: bool,
) -> Result<Option<u64>, DbErr> {
    let mut q = Query::select()
        .column(Alias::new("version"))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    if latest && c.get_database_backend() == DbBackend::MySql {
        q.lock(sea_orm::sea_query::LockType::Update);
    }
    let row = c.query_one(&q).await?;
    Ok(match row {
        Some(r) => Some(to_u64(r.try_get::<i64>("", "version")?)),
        None => None,
    })
}

//! The raw baseline on SQL: tables a competent engineer would design for
//! the same leads, written and read with hand-written statements through
//! the same driver crcm uses, on the same server or file.
//!
//! A lead is one row (its columns and the record as text, as long as
//! crcm's), its words in a word table, a history row, an event under a
//! gap-free number (a counter row updated in the transaction), a phase step
//! and the board cell, in one transaction. Reads use composite indexes:
//! (owner, open, number) for a list, e-mail, phone, (word, id) for a name,
//! (phase, open, number) and the board cells for a board.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};

use crate::Result;
use crate::data::Row;

/// The raw baseline on one SQL database.
pub struct RawSql {
    db: DatabaseConnection,
    /// The record text each lead row carries (as long as crcm's).
    pub record: String,
    /// The leads `create` made: (id, number, in QUOTE).
    created: Vec<(String, i64, bool)>,
    next_number: i64,
}

/// `?` placeholders as the backend writes them.
fn sql(backend: DbBackend, text: &str) -> String {
    if backend != DbBackend::Postgres {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// The words a name search finds a lead by: lower-cased runs of letters and digits.
pub fn words_of(r: &Row) -> Vec<String> {
    let text = format!("{} {} {} {}", r.first, r.last, r.company, r.email).to_lowercase();
    let mut out: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

impl RawSql {
    /// Connects to `url` (the raw side's own file, schema or database) and
    /// makes its tables.
    pub async fn open(url: &str, schema: Option<&str>, record_len: usize) -> Result<Self> {
        let mut options = sea_orm::ConnectOptions::new(url.to_owned());
        options.sqlx_logging(false).max_connections(8);
        if let Some(s) = schema {
            options.set_schema_search_path(s.to_owned());
        }
        let db = Database::connect(options).await?;
        let backend = db.get_database_backend();
        let (text, id) = match backend {
            DbBackend::MySql => ("LONGTEXT", "VARCHAR(36)"),
            _ => ("TEXT", "VARCHAR(36)"),
        };
        let v = "VARCHAR(191)";
        for ddl in [
            format!(
                "CREATE TABLE raw_leads (id {id} PRIMARY KEY, number BIGINT NOT NULL, owner {v} NOT NULL, \
                 open SMALLINT NOT NULL, phase {v} NOT NULL, source {v}, email {v}, phone {v}, \
                 created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL, record {text} NOT NULL)"
            ),
            "CREATE UNIQUE INDEX raw_leads_number ON raw_leads (number)".into(),
            "CREATE INDEX raw_leads_owner ON raw_leads (owner, open, number)".into(),
            "CREATE INDEX raw_leads_phase ON raw_leads (phase, open, number)".into(),
            "CREATE INDEX raw_leads_email ON raw_leads (email)".into(),
            "CREATE INDEX raw_leads_phone ON raw_leads (phone)".into(),
            format!("CREATE TABLE raw_words (word {v} NOT NULL, id {id} NOT NULL, PRIMARY KEY (word, id))"),
            format!(
                "CREATE TABLE raw_history (id {id} NOT NULL, version BIGINT NOT NULL, at BIGINT NOT NULL, \
                 entry {text} NOT NULL, PRIMARY KEY (id, version))"
            ),
            format!("CREATE TABLE raw_events (seq BIGINT PRIMARY KEY, event {text} NOT NULL)"),
            format!("CREATE TABLE raw_counters (name {v} PRIMARY KEY, value BIGINT NOT NULL)"),
            format!(
                "CREATE TABLE raw_steps (id {id} NOT NULL, at BIGINT NOT NULL, phase {v} NOT NULL, \
                 PRIMARY KEY (id, at))"
            ),
            format!("CREATE TABLE raw_board (phase {v} PRIMARY KEY, n BIGINT NOT NULL)"),
            "INSERT INTO raw_counters (name, value) VALUES ('events', 0)".into(),
            "INSERT INTO raw_board (phase, n) VALUES ('CALL', 0), ('QUOTE', 0), ('CLOSED', 0)".into(),
        ] {
            db.execute_unprepared(&ddl).await?;
        }
        Ok(Self {
            db,
            record: "r".repeat(record_len),
            created: Vec::new(),
            next_number: 1,
        })
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    fn stmt(&self, text: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.backend(), sql(self.backend(), text), values)
    }

    /// Inserts many leads, `chunk` rows a statement, in one transaction a
    /// chunk: the import baseline (rows, words, history, events, steps,
    /// board cells).
    pub async fn load(&mut self, rows: &[Row], chunk: usize) -> Result<()> {
        for part in rows.chunks(chunk.max(1)) {
            let tx = self.db.begin().await?;
            let first_number = self.next_number;
            self.next_number += part.len() as i64;
            let mut leads = Vec::new();
            let mut words = Vec::new();
            let mut history = Vec::new();
            let mut steps = Vec::new();
            for (k, r) in part.iter().enumerate() {
                let id = crcm::uuid::Uuid::now_v7().to_string();
                let at = r.created.timestamp_micros();
                leads.push(vec![
                    id.clone().into(),
                    (first_number + k as i64).into(),
                    r.owner.clone().into(),
                    i16::from(r.phase != "CLOSED").into(),
                    r.phase.into(),
                    r.source.into(),
                    r.email.clone().into(),
                    r.phone.clone().into(),
                    at.into(),
                    at.into(),
                    1i64.into(),
                    self.record.clone().into(),
                ]);
                for w in words_of(r) {
                    words.push(vec![w.into(), id.clone().into()]);
                }
                history.push(vec![
                    id.clone().into(),
                    1i64.into(),
                    at.into(),
                    self.record.clone().into(),
                ]);
                steps.push(vec![id.into(), at.into(), r.phase.into()]);
            }
            self.insert_many(&tx, "raw_leads (id, number, owner, open, phase, source, email, phone, created_at, updated_at, version, record)", leads).await?;
            self.insert_many(&tx, "raw_words (word, id)", words).await?;
            self.insert_many(&tx, "raw_history (id, version, at, entry)", history)
                .await?;
            self.insert_many(&tx, "raw_steps (id, at, phase)", steps).await?;
            let seq = self.bump_events(&tx, part.len() as i64).await?;
            let events = (0..part.len())
                .map(|k| {
                    vec![
                        (seq - part.len() as i64 + 1 + k as i64).into(),
                        self.record.clone().into(),
                    ]
                })
                .collect();
            self.insert_many(&tx, "raw_events (seq, event)", events).await?;
            for phase in ["CALL", "QUOTE", "CLOSED"] {
                let n = part.iter().filter(|r| r.phase == phase).count() as i64;
                tx.execute_raw(self.stmt(
                    "UPDATE raw_board SET n = n + ? WHERE phase = ?",
                    vec![n.into(), phase.into()],
                ))
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    async fn insert_many<C: ConnectionTrait>(&self, c: &C, into: &str, rows: Vec<Vec<Value>>) -> Result<()> {
        let Some(width) = rows.first().map(Vec::len) else {
            return Ok(());
        };
        // At most some 30,000 values a statement (SQLite allows 32,766).
        for part in rows.chunks((30_000 / width).max(1)) {
            let one = format!("({})", vec!["?"; width].join(", "));
            let text = format!("INSERT INTO {into} VALUES {}", vec![one; part.len()].join(", "));
            c.execute_raw(self.stmt(&text, part.concat())).await?;
        }
        Ok(())
    }

    /// Adds `n` to the event counter in the transaction; the new value.
    async fn bump_events<C: ConnectionTrait>(&self, c: &C, n: i64) -> Result<i64> {
        c.execute_raw(self.stmt(
            "UPDATE raw_counters SET value = value + ? WHERE name = 'events'",
            vec![n.into()],
        ))
        .await?;
        let row = c
            .query_one_raw(self.stmt("SELECT value FROM raw_counters WHERE name = 'events'", vec![]))
            .await?
            .ok_or("no event counter")?;
        Ok(row.try_get_by_index::<i64>(0)?)
    }

    /// One lead, durably: its row, words, history, event, step and board cell.
    pub async fn create(&mut self, r: &Row) -> Result<()> {
        let tx = self.db.begin().await?;
        let id = crcm::uuid::Uuid::now_v7().to_string();
        let number = self.next_number;
        self.next_number += 1;
        let at = chrono::Utc::now().timestamp_micros();
        tx.execute_raw(self.stmt(
            "INSERT INTO raw_leads (id, number, owner, open, phase, source, email, phone, created_at, updated_at, version, record) \
             VALUES (?, ?, ?, 1, 'CALL', ?, ?, ?, ?, ?, 1, ?)",
            vec![
                id.clone().into(),
                number.into(),
                r.owner.clone().into(),
                r.source.into(),
                r.email.clone().into(),
                r.phone.clone().into(),
                at.into(),
                at.into(),
                self.record.clone().into(),
            ],
        ))
        .await?;
        let words: Vec<Vec<Value>> = words_of(r)
            .into_iter()
            .map(|w| vec![w.into(), id.clone().into()])
            .collect();
        self.insert_many(&tx, "raw_words (word, id)", words).await?;
        self.changed(&tx, &id, 1, at, "CALL", None).await?;
        tx.commit().await?;
        self.created.push((id, number, false));
        Ok(())
    }

    /// The writes every change makes: history, event, step, board cells.
    async fn changed<C: ConnectionTrait>(
        &self,
        c: &C,
        id: &str,
        version: i64,
        at: i64,
        phase: &str,
        left: Option<&str>,
    ) -> Result<()> {
        c.execute_raw(self.stmt(
            "INSERT INTO raw_history (id, version, at, entry) VALUES (?, ?, ?, ?)",
            vec![id.into(), version.into(), at.into(), self.record.clone().into()],
        ))
        .await?;
        let seq = self.bump_events(c, 1).await?;
        c.execute_raw(self.stmt(
            "INSERT INTO raw_events (seq, event) VALUES (?, ?)",
            vec![seq.into(), self.record.clone().into()],
        ))
        .await?;
        c.execute_raw(self.stmt(
            "INSERT INTO raw_steps (id, at, phase) VALUES (?, ?, ?)",
            vec![id.into(), at.into(), phase.into()],
        ))
        .await?;
        c.execute_raw(self.stmt("UPDATE raw_board SET n = n + 1 WHERE phase = ?", vec![phase.into()]))
            .await?;
        if let Some(left) = left {
            c.execute_raw(self.stmt("UPDATE raw_board SET n = n - 1 WHERE phase = ?", vec![left.into()]))
                .await?;
        }
        Ok(())
    }

    /// Moves one of the leads `create` made between CALL and QUOTE, durably,
    /// checking its version as an optimistic writer does.
    pub async fn move_one(&mut self, i: usize) -> Result<()> {
        let n = self.created.len();
        let (id, _, quoted) = self.created.get(i % n).cloned().ok_or("no lead to move")?;
        let (to, from) = if quoted { ("CALL", "QUOTE") } else { ("QUOTE", "CALL") };
        let tx = self.db.begin().await?;
        let row = tx
            .query_one_raw(self.stmt("SELECT version FROM raw_leads WHERE id = ?", vec![id.clone().into()]))
            .await?
            .ok_or("the lead is gone")?;
        let version: i64 = row.try_get_by_index(0)?;
        let at = chrono::Utc::now().timestamp_micros();
        tx.execute_raw(self.stmt(
            "UPDATE raw_leads SET phase = ?, updated_at = ?, version = ?, record = ? WHERE id = ? AND version = ?",
            vec![
                to.into(),
                at.into(),
                (version + 1).into(),
                self.record.clone().into(),
                id.clone().into(),
                version.into(),
            ],
        ))
        .await?;
        self.changed(&tx, &id, version + 1, at, to, Some(from)).await?;
        tx.commit().await?;
        if let Some(entry) = self.created.get_mut(i % n) {
            entry.2 = !quoted;
        }
        Ok(())
    }

    /// A page of 50 of an owner's open leads after lead number `after`; the
    /// last number on it.
    pub async fn list(&self, owner: &str, after: Option<i64>) -> Result<(usize, Option<i64>)> {
        let rows = self
            .db
            .query_all_raw(self.stmt(
                "SELECT number, record FROM raw_leads WHERE owner = ? AND open = 1 AND number > ? \
                 ORDER BY number LIMIT 50",
                vec![owner.into(), after.unwrap_or(0).into()],
            ))
            .await?;
        let last = match rows.last() {
            Some(r) => Some(r.try_get_by_index::<i64>(0)?),
            None => None,
        };
        Ok((rows.len(), last))
    }

    /// The leads with this e-mail or phone (`column`), first 50 by number.
    pub async fn by(&self, column: &str, value: &str) -> Result<usize> {
        let rows = self
            .db
            .query_all_raw(self.stmt(
                &format!("SELECT record FROM raw_leads WHERE {column} = ? ORDER BY number LIMIT 50"),
                vec![value.into()],
            ))
            .await?;
        Ok(rows.len())
    }

    /// The leads with a word starting with each of `words`, first 50 by number.
    pub async fn by_words(&self, words: &[String]) -> Result<usize> {
        let mut text = "SELECT record FROM raw_leads WHERE 1 = 1".to_owned();
        let mut values: Vec<Value> = Vec::new();
        for w in words {
            text.push_str(" AND id IN (SELECT id FROM raw_words WHERE word >= ? AND word < ?)");
            values.push(w.clone().into());
            values.push(format!("{w}\u{10FFFF}").into());
        }
        text.push_str(" ORDER BY number LIMIT 50");
        Ok(self.db.query_all_raw(self.stmt(&text, values)).await?.len())
    }

    /// The board: each open phase's count from its cell and its first five leads.
    pub async fn board(&self) -> Result<usize> {
        self.db
            .query_all_raw(self.stmt("SELECT phase, n FROM raw_board", vec![]))
            .await?;
        let mut cards = 0;
        for phase in ["CALL", "QUOTE"] {
            cards += self
                .db
                .query_all_raw(self.stmt(
                    "SELECT record FROM raw_leads WHERE phase = ? AND open = 1 ORDER BY number LIMIT 5",
                    vec![phase.into()],
                ))
                .await?
                .len();
        }
        Ok(cards)
    }
}

//! CSV export of leads in the import's format (see [`crate::engine::import`]).

use std::io::Write;

use crate::domain::config::Config;
use crate::domain::custom::CustomValue;
use crate::domain::ids::Code;
use crate::domain::lead::Lead;
use crate::engine::Engine;
use crate::engine::import::{ImportError, ImportField};
use crate::engine::query::LeadQuery;
use crate::rules::access::Actor;
use crate::rules::error::Error;

/// The columns an export writes: `first_name` and `last_name` (not
/// `contact_name`: one column cannot keep both parts of every name, e.g. a
/// first name with a space and no last name), the other standard fields in
/// seed 001's order, then each custom field by name. `closed_at` is left
/// out: a lead in a closing phase closed when it entered it
/// (`phase_entered_at`), and one closed otherwise (converted, disqualified)
/// imports as an open lead.
pub fn export_columns(config: &Config) -> Vec<ImportField> {
    [ImportField::FirstName, ImportField::LastName]
        .into_iter()
        .chain(
            ImportField::STANDARD
                .into_iter()
                .filter(|f| *f != ImportField::ContactName && !f.is_name_part() && *f != ImportField::ClosedAt),
        )
        .chain(config.custom_fields.iter().map(|d| ImportField::Custom(d.name.clone())))
        .collect()
}

/// The characters that make a spreadsheet read a cell as a formula (OWASP's
/// list for CSV injection): `=`, `+`, `-`, `@`, tab and carriage return.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a cell, past any leading apostrophes, starts a formula.
fn starts_formula(text: &str) -> bool {
    text.trim_start_matches('\'').starts_with(FORMULA_START)
}

/// A cell as the export writes it: one that a spreadsheet would run as a
/// formula (`=HYPERLINK(...)`, `@SUM(...)`, `+1 212...`) gets a leading
/// apostrophe, which spreadsheets show as text; so does one that already
/// starts with apostrophes before such a character, so that
/// [`unguard_cell`] gives back exactly what was exported.
pub fn guard_cell(text: String) -> String {
    if starts_formula(&text) {
        format!("'{text}")
    } else {
        text
    }
}

/// A cell as the import reads it: the apostrophe [`guard_cell`] added is
/// taken off again (and only that one).
pub fn unguard_cell(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if starts_formula(rest) => rest,
        _ => text,
    }
}

/// A time as the export writes it: RFC 3339 in UTC, to the microsecond
/// when it has a fraction (`2016-10-20T00:00:00Z`).
fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A lead's value for an export column, in the form the import reads back
/// (before [`guard_cell`]).
pub fn export_value(lead: &Lead, field: &ImportField) -> String {
    let text = |s: &str| s.trim().to_owned();
    match field {
        ImportField::ContactName => {
            let (first, last) = (lead.first_name.trim(), lead.last_name.trim());
            match (first.is_empty(), last.is_empty()) {
                (false, false) => format!("{first} {last}"),
                (false, true) => first.to_owned(),
                (true, _) => last.to_owned(),
            }
        }
        ImportField::FirstName => text(&lead.first_name),
        ImportField::LastName => text(&lead.last_name),
        ImportField::Company => text(&lead.company),
        ImportField::Title => text(&lead.title),
        ImportField::JobTitle => text(&lead.job_title),
        ImportField::Email => lead.email.as_ref().map(|e| e.as_str().to_owned()).unwrap_or_default(),
        ImportField::Phone => lead.phone.as_ref().map(|p| p.raw.clone()).unwrap_or_default(),
        ImportField::Address => text(&lead.address),
        ImportField::City => text(&lead.city),
        ImportField::State => text(&lead.state),
        ImportField::Zone => text(&lead.zone),
        ImportField::Source => lead.source.as_ref().map(ToString::to_string).unwrap_or_default(),
        ImportField::Priority => lead.priority.as_ref().map(ToString::to_string).unwrap_or_default(),
        ImportField::Description => text(&lead.description),
        ImportField::Tags => lead.tags.iter().map(Code::as_str).collect::<Vec<_>>().join(";"),
        ImportField::ExpectedClose => lead
            .expected_close
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        ImportField::ExpectedRevenue => lead.expected_revenue.map(|m| m.to_string()).unwrap_or_default(),
        ImportField::Probability => lead.probability.map(|p| p.to_string()).unwrap_or_default(),
        ImportField::Owner => lead.owner.to_string(),
        ImportField::AccountType => lead.account_type.to_string(),
        ImportField::Phase => lead.phase.as_ref().map(|p| p.code.to_string()).unwrap_or_default(),
        ImportField::ClosingReason => lead
            .closing_reason
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        ImportField::ExternalId => lead.external_ref.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
        ImportField::ExternalSystem => lead
            .external_ref
            .as_ref()
            .map(|r| r.system.to_string())
            .unwrap_or_default(),
        ImportField::CreatedAt => time(lead.created_at),
        ImportField::PhaseEnteredAt => time(lead.phase_entered_at),
        ImportField::ClosedAt => lead.closed_at.map(time).unwrap_or_default(),
        ImportField::Custom(name) => match lead.custom.get(name) {
            None => String::new(),
            Some(CustomValue::Text(t)) => t.clone(),
            Some(CustomValue::Number(n)) => n.to_string(),
            Some(CustomValue::Date(d)) => d.format("%Y-%m-%d").to_string(),
            Some(CustomValue::Bool(b)) => if *b { "yes" } else { "no" }.to_owned(),
            Some(CustomValue::Choice(c)) => c.clone(),
        },
    }
}

impl Engine {
    /// Writes the leads a query matches (every page, from the query's
    /// cursor on) as CSV in the import's format ([`export_columns`]): the file
    /// imports back unchanged. Returns how many leads it wrote. Only the
    /// leads the actor sees are written.
    pub async fn export_leads<W: Write + Send>(&self, actor: &Actor, query: &LeadQuery, out: W) -> Result<u64, Error> {
        Ok(self.write_leads(actor, query, out).await?)
    }

    async fn write_leads<W: Write + Send>(&self, actor: &Actor, query: &LeadQuery, out: W) -> Result<u64, ImportError> {
        let (config, _) = self.config().await?;
        let columns = export_columns(&config);
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(columns.iter().map(ImportField::name))?;
        let mut query = query.clone();
        let mut written = 0u64;
        loop {
            let page = self.leads(actor, &query).await?;
            for lead in &page.items {
                writer.write_record(columns.iter().map(|c| guard_cell(export_value(lead, c))))?;
                written += 1;
            }
            match page.next {
                Some(next) => query.page.after = Some(next),
                None => break,
            }
        }
        writer.flush()?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_exported_as_text_and_read_back_exactly() {
        for (value, written) in [
            ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("+12125550147", "'+12125550147"),
            ("-1", "'-1"),
            ("\tx", "'\tx"),
            ("'=x", "''=x"),
            ("'quoted", "'quoted"),
            ("Acme", "Acme"),
            ("", ""),
        ] {
            assert_eq!(guard_cell(value.to_owned()), written, "{value:?}");
            assert_eq!(unguard_cell(written), value, "{written:?} reads back");
        }
    }
}

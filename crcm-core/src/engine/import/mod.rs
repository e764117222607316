//! CSV import and export of leads (seed 001, "Importing Leads": a CSV file
//! with the columns `contact_name`, `phone`, `source`, and optionally
//! `company_name`, `email`, `address`, `city`, `state`, `priority`,
//! `description`).
//!
//! # Columns
//!
//! A column whose header is a field name ([`ImportField`], e.g. `phone` or
//! `company_name`) or a custom field's name or label fills that field. Any
//! other column must be mapped ([`ImportMapping::map`]) or ignored
//! ([`ImportMapping::ignore`], [`OtherColumns::Ignore`]); otherwise the import
//! is refused before it reads a row, naming the columns. Several columns
//! mapped to one field are joined with a space (first and last name into
//! `contact_name`), and a constant ([`ImportMapping::constant`]) gives a field
//! one value for the whole file (the source of a purchased list).
//!
//! `contact_name` is one column in the manual; a lead keeps a first and a last
//! name (seed 002 shows both, and duplicate matching uses them), so the name
//! is split at its last space: `Mary Ann Smith` is first name `Mary Ann`, last
//! name `Smith`; a single word is a first name. A file may instead have
//! `first_name` and `last_name` columns, and the export writes those, so that
//! every name survives the round trip.
//!
//! Source, priority and tags arrive as a person types them: a code or a
//! label, in any case (`Referral`, `high`).
//!
//! # Rows
//!
//! Every row is checked by the same rule as a single create
//! ([`rules::new_lead`]), after the import's own
//! checks: required values ([`ImportMapping::required`], seed 001's
//! `contact_name`, `phone` and `source` by default), known source, priority
//! and tags, custom values of the right type, text that is UTF-8. A refused
//! row is reported with its line and every reason ([`RowRejection`]). A row
//! whose normalized e-mail or phone equals an existing lead's, or an earlier
//! row's, is a duplicate ([`RowDuplicate`]): reported, not imported twice.
//!
//! A row is reported with every reason at once: the import's own (a missing
//! or unknown value) and the lead rules' on the rest (an invalid e-mail).
//! Its place is its line and, where a quoted value of an earlier row holds a
//! line break, its row as a spreadsheet numbers it ([`RowRejection::row`]).
//!
//! [`ImportMode::AllOrNothing`] checks every row before it writes any: one
//! refused row and nothing is imported (the report still counts the
//! duplicates, in the file and against the store). [`ImportMode::SkipInvalid`]
//! imports the valid rows and reports the others. A **dry run**
//! ([`ImportOptions::dry_run`]) checks every row as an import would, in
//! either mode, and writes nothing. A checking pass keeps a 64-bit hash of
//! each e-mail and phone it accepted (to find a later row that repeats
//! one), some 40 bytes a row; an import's writing pass keeps no more than a
//! batch.
//!
//! Rows with neither e-mail nor phone have nothing a rerun could recognise
//! them by: the report counts them ([`ImportReport::without_duplicate_key`]).
//!
//! # History dates and provenance
//!
//! A row may give when its lead was created, entered its phase and closed
//! ([`ImportField::CreatedAt`], [`ImportField::PhaseEnteredAt`],
//! [`ImportField::ClosedAt`]): the lead's history, phase steps and reports
//! use them instead of the import's time. Each lead created records its
//! import ([`Lead::import`](crate::domain::lead::Lead::import)), and
//! [`Engine::revert_import`] deletes those nobody changed since ([`revert`]).
//!
//! # Batches, interruption and resuming
//!
//! Rows are read as a stream and committed in batches of
//! [`ImportOptions::batch_size`] rows: one unit of work per batch, with each
//! lead's history entry and `LeadCreated` event as for a single create, so
//! memory does not grow with the file. A batch commits whole or not at all,
//! so an interrupted import (a crash, a killed process) leaves whole batches.
//! It is **resumed**, not rolled back: run it again with the same
//! [`ImportOptions::id`], file, mapping and batch size and `resume: true`,
//! and it skips the rows of the batches it committed (each batch counts
//! itself in the same commit, under [`lookup::import_batches`], whose key
//! holds a fingerprint of the file's bytes and of the options). A resume
//! with another file, mapping, mode, account type or batch size is refused
//! before a row is written ([`ImportFailure::ResumeMismatch`]).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

use crate::domain::failure::ImportFailure;
use crate::domain::ids::ImportId;
use crate::domain::lead::ImportOrigin;
use crate::engine::Engine;
use crate::engine::scope::{lead_with_ref_key, leads_sharing_contact};
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::rules::{self, Ctx};
use crate::store::record::lookup;
use crate::store::uow::{Guard, UnitOfWork};

/// Rows per batch unless the options say otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 500;

/// The largest batch: one unit of work stays well inside what every backend
/// commits in one transaction.
pub const MAX_BATCH_SIZE: usize = 5_000;

/// How many rejected and duplicate rows a report lists; the counts cover
/// all of them, and an [`ImportObserver`] sees every one.
pub const MAX_LISTED: usize = 1_000;

/// The history action of an import's units of work.
pub const IMPORT_ACTION: &str = "import_leads";

pub(crate) use error::ImportError;
pub use options::{ImportAction, ImportField, ImportMapping, ImportMode, ImportOptions, OtherColumns};
pub use report::{
    ImportColumn, ImportObserver, ImportProgress, ImportReport, ImportStage, RowDuplicate, RowProblem, RowRejection,
};
pub use revert::{ImportRevert, KeptLead};

mod error;
pub mod options;
mod read;
pub mod report;
pub mod revert;
mod row;

use read::{Dialect, next_row, open_csv};
use row::{Plan, Prepared, RowRead, check, walk};

/// What a resume must match: the file (its size, and an FNV-1a hash of its
/// first [`FINGERPRINT_BYTES`]: the fingerprint reads no more, whatever the
/// file's size) and every option that decides which rows land in which
/// batch. The options are hashed in their `Debug` form, so a resume needs
/// the crcm version that started the import.
fn fingerprint<R: Read + Seek>(source: &mut R, options: &ImportOptions) -> Result<u64, ImportError> {
    use crate::store::query::{FNV_OFFSET, fnv1a as fnv};
    let start = source.stream_position()?;
    let size = source.seek(SeekFrom::End(0))?.saturating_sub(start);
    source.seek(SeekFrom::Start(start))?;
    let mut hash = FNV_OFFSET;
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = source.take(FINGERPRINT_BYTES);
    loop {
        let n = head.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash = fnv(hash, &buf[..n]);
    }
    let layout = format!(
        "{size}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}",
        options.mapping,
        options.mode,
        options.account_type,
        options.batch_size,
        options.encoding,
        options.delimiter,
        options.action
    );
    Ok(fnv(hash, layout.as_bytes()))
}

/// How much of the file the resume fingerprint reads (1 MiB).
const FINGERPRINT_BYTES: u64 = 1024 * 1024;

/// Tells the observer where the import stands, and stops the import when it
/// asks to.
fn told(
    observer: &mut dyn ImportObserver,
    progress: &ImportProgress,
    options: &ImportOptions,
) -> Result<(), ImportError> {
    observer.progress(progress);
    if observer.cancelled() {
        return Err(ImportError::from(ImportFailure::Cancelled {
            id: options.id,
            imported: progress.imported,
            rows: progress.rows,
        }));
    }
    Ok(())
}

/// Where a row stands in the file: its first line, and its number as a
/// spreadsheet shows it (the header is row 1).
#[derive(Clone, Copy, Debug)]
struct At {
    line: u64,
    row: u64,
}

/// A checked row of a batch.
struct Row {
    at: At,
    lead: Result<Prepared, Vec<RowProblem>>,
}

/// A lead's duplicate keys: its e-mail's and its phone's, with the field
/// and the normalized value.
fn contact_keys(lead: &crate::domain::lead::Lead) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::with_capacity(2);
    if let Some(e) = &lead.email {
        out.push(("email", e.as_str().to_owned(), lookup::lead_email(e.as_str())));
    }
    if let Some(p) = &lead.phone {
        out.push(("phone", p.key().to_owned(), lookup::lead_phone(p.key())));
    }
    out
}

/// Writes the rows of an imported file that `reasons` names (by their row
/// number, [`RowRejection::row`]) to `out` as CSV, each with its reasons in a
/// last column `reason`: the refused rows, ready to fix and import again
/// (HubSpot's error file). The file is read with the options' encoding and
/// delimiter; the output is UTF-8 (rows whose bytes were not UTF-8 are
/// copied as they are), with the same delimiter. Returns how many rows it
/// wrote.
pub fn write_rows_with_reasons<R: Read + Send, W: std::io::Write>(
    source: R,
    options: &ImportOptions,
    reasons: &std::collections::BTreeMap<u64, String>,
    out: W,
) -> Result<u64, Error> {
    let copy = || -> Result<u64, ImportError> {
        let dialect = Dialect::of(options)?;
        let (mut reader, mut header, opened) = open_csv(source, &dialect)?;
        let mut writer = csv::WriterBuilder::new().delimiter(opened.delimiter).from_writer(out);
        if let Some(first) = header.get(0).map(<[u8]>::to_vec)
            && first.starts_with(b"\xEF\xBB\xBF")
        {
            let mut cleaned = csv::ByteRecord::new();
            cleaned.push_field(&first[3..]);
            for field in header.iter().skip(1) {
                cleaned.push_field(field);
            }
            header = cleaned;
        }
        header.push_field(b"reason");
        writer.write_byte_record(&header)?;
        let mut record = csv::ByteRecord::new();
        let mut seen = 0u64;
        let mut written = 0u64;
        while next_row(&mut reader, &mut record)?.is_some() {
            seen += 1;
            if let Some(reason) = reasons.get(&(seen + 1)) {
                record.push_field(reason.as_bytes());
                writer.write_byte_record(&record)?;
                written += 1;
            }
        }
        writer.flush()?;
        Ok(written)
    };
    Ok(copy()?)
}

impl ImportReport {
    /// Records how the file was read: its columns' fields, encoding and delimiter.
    fn describe(&mut self, plan: &Plan, opened: &read::Opened) {
        self.columns.clone_from(&plan.assigned);
        self.encoding = opened.encoding.to_owned();
        self.delimiter = char::from(opened.delimiter);
    }
}

impl Engine {
    /// Imports leads from CSV (see the [module docs](crate::engine::import)):
    /// streams the rows, checks each like a single create, and commits them
    /// in batches. `source` is read twice in all-or-nothing mode (check, then
    /// import), hence `Seek`.
    ///
    /// Returns the report; an `Err` means the import could not run on (the
    /// file, the mapping, the store: [`Error::Import`] for the import's own
    /// reasons), and the batches committed before it stay (resume them with
    /// the report's or the options' id).
    pub async fn import_leads<R: Read + Seek + Send>(
        &self,
        actor: &Actor,
        source: R,
        options: &ImportOptions,
        observer: &mut dyn ImportObserver,
    ) -> Result<ImportReport, Error> {
        Ok(self.import_rows(actor, source, options, observer).await?)
    }

    async fn import_rows<R: Read + Seek + Send>(
        &self,
        actor: &Actor,
        mut source: R,
        options: &ImportOptions,
        observer: &mut dyn ImportObserver,
    ) -> Result<ImportReport, ImportError> {
        if !(1..=MAX_BATCH_SIZE).contains(&options.batch_size) {
            return Err(ImportError::from(ImportFailure::BatchSize {
                size: options.batch_size,
                max: MAX_BATCH_SIZE,
            }));
        }
        let dialect = Dialect::of(options)?;
        let start = source.stream_position()?;
        let fingerprint = fingerprint(&mut source, options)?;
        source.seek(SeekFrom::Start(start))?;
        let batch_key = lookup::import_batches(options.id, fingerprint);
        let any_key = lookup::import_any_batches(options.id);
        let (config, _) = self.config().await?;
        let mut report = ImportReport::new(options.id);
        let done_batches = if options.resume {
            let done = self
                .store()
                .lookup_versions(&[batch_key.clone(), any_key.clone()])
                .await?;
            let (this, any) = (done.first().copied().unwrap_or(0), done.get(1).copied().unwrap_or(0));
            // Batches committed under another file, mapping or batch layout:
            // skipping by this one's count would import rows twice or miss some.
            if this != any {
                return Err(ImportError::from(ImportFailure::ResumeMismatch {
                    id: options.id,
                    committed: any,
                }));
            }
            this
        } else {
            0
        };
        let skip = done_batches.saturating_mul(options.batch_size as u64);

        if options.mode == ImportMode::AllOrNothing || options.dry_run {
            let (mut reader, header, opened) = open_csv(&mut source, &dialect)?;
            let plan = Plan::new(&header, &options.mapping, &config)?;
            report.describe(&plan, &opened);
            let mut record = csv::ByteRecord::new();
            let mut rows = 0u64;
            let mut seen = 0u64;
            let now = self.now();
            let ctx = Ctx {
                actor,
                config: &config,
                now,
                action: IMPORT_ACTION,
            };
            // The file's duplicate keys so far, hashed (8 bytes a key, not
            // the key), with the line of the row that has each.
            let mut keys: HashMap<u64, u64> = HashMap::new();
            let mut chunk: Vec<Row> = Vec::with_capacity(options.batch_size);
            loop {
                let line = next_row(&mut reader, &mut record)?;
                if let Some(line) = line {
                    seen += 1;
                    if seen > skip {
                        rows += 1;
                        let read = plan.row(&record, &config, options.account_type.as_ref());
                        chunk.push(Row {
                            at: At { line, row: seen + 1 },
                            lead: check(&ctx, &read),
                        });
                    }
                }
                let full = chunk.len() >= options.batch_size;
                if full || (line.is_none() && !chunk.is_empty()) {
                    let taken = std::mem::take(&mut chunk);
                    // An all-or-nothing import that goes on to write reports
                    // its duplicates as it writes: this pass only counts them.
                    self.check_chunk(
                        &ctx,
                        options.action,
                        taken,
                        &mut keys,
                        &mut report,
                        observer,
                        options.dry_run,
                    )
                    .await?;
                    let progress = report.progress(ImportStage::Checking, rows, reader.position().byte());
                    told(observer, &progress, options)?;
                }
                if line.is_none() {
                    break;
                }
            }
            if options.dry_run || report.rejected > 0 {
                report.rows = rows;
                report.skipped = skip.min(seen);
                report.dry_run = options.dry_run;
                return Ok(report);
            }
            report = ImportReport::new(options.id);
            drop(reader);
            source.seek(SeekFrom::Start(start))?;
        }

        let (mut reader, header, opened) = open_csv(&mut source, &dialect)?;
        let plan = Plan::new(&header, &options.mapping, &config)?;
        report.describe(&plan, &opened);
        let mut record = csv::ByteRecord::new();
        let mut rows = 0u64;
        let mut seen = 0u64;
        let mut batch: Vec<(At, RowRead)> = Vec::with_capacity(options.batch_size);
        loop {
            let line = next_row(&mut reader, &mut record)?;
            if let Some(line) = line {
                seen += 1;
                if seen <= skip {
                    continue;
                }
                rows += 1;
                // The configuration is read again per batch (below); the
                // import's own checks use the one read at the start.
                let at = At { line, row: seen + 1 };
                batch.push((at, plan.row(&record, &config, options.account_type.as_ref())));
            }
            let full = batch.len() >= options.batch_size;
            if full || (line.is_none() && !batch.is_empty()) {
                let taken = std::mem::take(&mut batch);
                self.import_batch(actor, taken, [&batch_key, &any_key], options, &mut report, observer)
                    .await?;
                let progress = report.progress(ImportStage::Importing, rows, reader.position().byte());
                told(observer, &progress, options)?;
            }
            if line.is_none() {
                break;
            }
        }
        report.rows = rows;
        report.skipped = skip.min(seen);
        Ok(report)
    }

    /// Checks, deduplicates and commits one batch, retrying it against fresh
    /// state when a concurrent writer changed what it read.
    async fn import_batch(
        &self,
        actor: &Actor,
        rows: Vec<(At, RowRead)>,
        batch_keys: [&str; 2],
        options: &ImportOptions,
        report: &mut ImportReport,
        observer: &mut dyn ImportObserver,
    ) -> Result<(), ImportError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (config, _) = self.config().await?;
            let ctx = Ctx {
                actor,
                config: &config,
                now: self.now(),
                action: IMPORT_ACTION,
            };
            let checked: Vec<Row> = rows
                .iter()
                .map(|(at, read)| Row {
                    at: *at,
                    lead: check(&ctx, read),
                })
                .collect();
            if options.mode == ImportMode::AllOrNothing
                && let Some(row) = checked.iter().find(|r| r.lead.is_err())
            {
                return Err(ImportError::from(ImportFailure::ChangedDuringImport {
                    line: row.at.line,
                    id: options.id,
                    imported: report.imported,
                }));
            }
            let (uow, outcome) = self
                .batch_unit(&ctx, checked, batch_keys, options.action, options.id)
                .await?;
            match self.store().commit(uow).await {
                Ok(_) => {
                    outcome.record(report, observer);
                    return Ok(());
                }
                Err(e) if e.is_conflict() && attempts < self.max_attempts => {
                    tracing::debug!(attempts, "import batch conflicted; retrying against fresh state");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The unit of work of a checked batch: its new leads (duplicates left
    /// out), guarded by the lookup keys the duplicate check read, and the
    /// batch counted under both `batch_keys` (this import's, and any import
    /// of this id).
    async fn batch_unit(
        &self,
        ctx: &Ctx<'_>,
        rows: Vec<Row>,
        batch_keys: [&str; 2],
        action: ImportAction,
        import: ImportId,
    ) -> Result<(UnitOfWork, BatchOutcome), ImportError> {
        let store = &**self.store();
        let versions = self.contact_versions(&rows).await?;
        let mut outcome = BatchOutcome::default();
        // Keys taken by earlier rows of this batch: the index in `accepted`.
        let mut taken: HashMap<String, usize> = HashMap::new();
        let mut accepted: Vec<(At, Prepared)> = Vec::new();
        // Leads this batch updates, by their reference's lookup key, and the
        // units of work of the updates.
        let mut updated: HashMap<String, u64> = HashMap::new();
        let mut updates: Vec<UnitOfWork> = Vec::new();
        for row in rows {
            let prepared = match row.lead {
                Ok(p) => p,
                Err(problems) => {
                    outcome.rejected.push(RowRejection {
                        line: row.at.line,
                        row: row.at.row,
                        problems,
                    });
                    continue;
                }
            };
            if let Some(reference) = &prepared.lead.external_ref {
                let key = lookup::lead_ref(&reference.key());
                if let Some(&i) = taken.get(&key) {
                    outcome
                        .duplicates
                        .push((row.at, "external_ref", reference.key(), Of::Row(i)));
                    continue;
                }
                if let Some(number) = updated.get(&key) {
                    outcome
                        .duplicates
                        .push((row.at, "external_ref", reference.key(), Of::Lead(*number)));
                    continue;
                }
            }
            match self.by_reference(&prepared.lead, action, &versions).await? {
                ByReference::Create => {}
                ByReference::Duplicate(number) => {
                    let value = prepared.lead.external_ref.as_ref().map(|r| r.key()).unwrap_or_default();
                    outcome
                        .duplicates
                        .push((row.at, "external_ref", value, Of::Lead(number)));
                    continue;
                }
                ByReference::Refuse(problem) => {
                    outcome.rejected.push(RowRejection {
                        line: row.at.line,
                        row: row.at.row,
                        problems: vec![problem],
                    });
                    continue;
                }
                ByReference::Update(existing) => {
                    if let Some(reference) = &prepared.lead.external_ref {
                        updated.insert(lookup::lead_ref(&reference.key()), existing.number);
                    }
                    match update_by_reference(ctx, &existing, &prepared) {
                        Ok(Some((unit, number))) => {
                            updates.push(unit);
                            outcome.updated.push((row.at, number));
                        }
                        Ok(None) => {}
                        Err(problems) => outcome.rejected.push(RowRejection {
                            line: row.at.line,
                            row: row.at.row,
                            problems,
                        }),
                    }
                    continue;
                }
            }
            let mut contact = contact_keys(&prepared.lead);
            let mut duplicate = None;
            for (field, value, key) in &contact {
                if let Some(&i) = taken.get(key) {
                    duplicate = Some((*field, value.clone(), Of::Row(i)));
                    break;
                }
                if versions.get(key).copied().unwrap_or(0) > 0
                    && let Some(number) = self.existing_duplicate(&prepared.lead, field).await?
                {
                    duplicate = Some((*field, value.clone(), Of::Lead(number)));
                    break;
                }
            }
            match duplicate {
                Some((field, value, of)) => outcome.duplicates.push((row.at, field, value, of)),
                None => {
                    if contact.is_empty() && prepared.lead.external_ref.is_none() {
                        outcome.without_key += 1;
                    }
                    if let Some(reference) = &prepared.lead.external_ref {
                        contact.push(("external_ref", reference.key(), lookup::lead_ref(&reference.key())));
                    }
                    for (_, _, key) in contact {
                        taken.insert(key, accepted.len());
                    }
                    accepted.push((row.at, prepared));
                }
            }
        }
        let mut uow = UnitOfWork::new(&ctx.actor.user, ctx.now, ctx.action);
        for unit in updates {
            uow.absorb(unit);
        }
        if !accepted.is_empty() {
            let first = store.reserve_lead_numbers(accepted.len() as u64).await?;
            for (i, (at, mut prepared)) in accepted.into_iter().enumerate() {
                let number = first + i as u64;
                // The lead knows its import and the version the import
                // leaves it at (after its moves): a revert removes it only
                // while it is still there.
                let end = walk(ctx, prepared.lead.clone(), &prepared, |_| {})?;
                prepared.lead.import = Some(ImportOrigin {
                    id: import,
                    version: end.version,
                });
                // The insert and its history are dated when the lead was
                // created; the batch's events carry the import's time.
                let mut created = UnitOfWork::new(&ctx.actor.user, prepared.created, ctx.action);
                let lead = rules::add_new_lead(&mut created, prepared.lead.clone(), number);
                uow.absorb(created);
                let mut moves = Vec::new();
                walk(ctx, lead, &prepared, |u| moves.push(u))?;
                for u in moves {
                    uow.absorb(u);
                }
                outcome.numbers.push((at, number));
            }
        }
        uow.guard(versions.into_iter().map(|(key, version)| Guard::Key { key, version }));
        for key in batch_keys {
            uow.touched.insert(key.to_owned());
        }
        Ok((uow, outcome))
    }

    /// What a row's external reference decides under the import's action:
    /// create the lead, it duplicates a lead, update a lead, or refuse it.
    async fn by_reference(
        &self,
        lead: &crate::domain::lead::Lead,
        action: ImportAction,
        versions: &HashMap<String, u64>,
    ) -> Result<ByReference, ImportError> {
        let Some(reference) = &lead.external_ref else {
            return Ok(if action == ImportAction::UpdateOnly {
                ByReference::Refuse(RowProblem::NoSuchReference {
                    reference: String::new(),
                })
            } else {
                ByReference::Create
            });
        };
        let key = reference.key();
        let existing = if versions.get(&lookup::lead_ref(&key)).copied().unwrap_or(0) > 0 {
            lead_with_ref_key(&**self.store(), &key).await?
        } else {
            None
        };
        Ok(match (existing, action) {
            (Some(found), ImportAction::CreateOnly) => ByReference::Duplicate(found.number),
            (Some(found), _) => ByReference::Update(Box::new(found)),
            (None, ImportAction::UpdateOnly) => ByReference::Refuse(RowProblem::NoSuchReference { reference: key }),
            (None, _) => ByReference::Create,
        })
    }

    /// The versions of the e-mail and phone lookup keys of the rows' leads
    /// (a key above 0 has had a lead; a commit guarded by them fails when
    /// one changed meanwhile).
    async fn contact_versions(&self, rows: &[Row]) -> Result<HashMap<String, u64>, ImportError> {
        let mut keys: Vec<String> = rows
            .iter()
            .filter_map(|r| r.lead.as_ref().ok())
            .flat_map(|p| {
                let mut keys = lookup::leads_by_contact(p.lead.email.as_ref(), p.lead.phone.as_ref());
                keys.extend(p.lead.external_ref.as_ref().map(|r| lookup::lead_ref(&r.key())));
                keys
            })
            .collect();
        keys.sort();
        keys.dedup();
        let versions = self.store().lookup_versions(&keys).await?;
        Ok(keys.into_iter().zip(versions).collect())
    }

    /// The number of the stored lead with the same e-mail (`field` is
    /// `email`) or phone as `lead`, if there is one.
    async fn existing_duplicate(
        &self,
        lead: &crate::domain::lead::Lead,
        field: &str,
    ) -> Result<Option<u64>, ImportError> {
        let (email, phone) = match field {
            "email" => (lead.email.as_ref(), None),
            _ => (None, lead.phone.as_ref()),
        };
        let found = leads_sharing_contact(&**self.store(), email, phone).await?;
        Ok(found.first().map(|l| l.number))
    }

    /// Reports a chunk of checked rows of a checking pass: refused rows, and
    /// duplicates of an earlier row of the file (`keys`) or of a stored lead
    /// (told to the observer when `tell_duplicates`, counted always).
    /// Writes nothing.
    #[allow(clippy::too_many_arguments)]
    async fn check_chunk(
        &self,
        ctx: &Ctx<'_>,
        action: ImportAction,
        rows: Vec<Row>,
        keys: &mut HashMap<u64, u64>,
        report: &mut ImportReport,
        observer: &mut dyn ImportObserver,
        tell_duplicates: bool,
    ) -> Result<(), ImportError> {
        use crate::store::query::{FNV_OFFSET, fnv1a};
        let versions = self.contact_versions(&rows).await?;
        for row in rows {
            let refuse = |problems: Vec<RowProblem>| RowRejection {
                line: row.at.line,
                row: row.at.row,
                problems,
            };
            let prepared = match row.lead {
                Ok(p) => p,
                Err(problems) => {
                    report.reject(refuse(problems), observer);
                    continue;
                }
            };
            let mut contact = contact_keys(&prepared.lead);
            let reference = prepared.lead.external_ref.as_ref().map(|r| r.key());
            // A reference an earlier row of the file has is a duplicate of it.
            let mut duplicate = reference.as_ref().and_then(|r| {
                let hash = fnv1a(FNV_OFFSET, lookup::lead_ref(r).as_bytes());
                keys.get(&hash)
                    .map(|&earlier| ("external_ref", r.clone(), 0, Some(earlier)))
            });
            if duplicate.is_none() {
                match self.by_reference(&prepared.lead, action, &versions).await? {
                    ByReference::Create => {}
                    ByReference::Duplicate(number) => {
                        duplicate = Some(("external_ref", reference.clone().unwrap_or_default(), number, None));
                    }
                    ByReference::Refuse(problem) => {
                        report.reject(refuse(vec![problem]), observer);
                        continue;
                    }
                    ByReference::Update(existing) => {
                        if let Some(r) = &reference {
                            keys.insert(fnv1a(FNV_OFFSET, lookup::lead_ref(r).as_bytes()), row.at.line);
                        }
                        match update_by_reference(ctx, &existing, &prepared) {
                            Ok(Some(_)) => report.updated += 1,
                            Ok(None) => {}
                            Err(problems) => report.reject(refuse(problems), observer),
                        }
                        continue;
                    }
                }
            }
            if let Some(r) = &reference {
                contact.push(("external_ref", r.clone(), lookup::lead_ref(r)));
            }
            if duplicate.is_none() {
                for (field, value, key) in &contact {
                    let hash = fnv1a(FNV_OFFSET, key.as_bytes());
                    if let Some(&earlier) = keys.get(&hash) {
                        duplicate = Some((*field, value.clone(), 0, Some(earlier)));
                        break;
                    }
                    if *field != "external_ref"
                        && versions.get(key).copied().unwrap_or(0) > 0
                        && let Some(number) = self.existing_duplicate(&prepared.lead, field).await?
                    {
                        duplicate = Some((*field, value.clone(), number, None));
                        break;
                    }
                }
            }
            match duplicate {
                Some((field, value, lead, earlier_line)) => {
                    let found = RowDuplicate {
                        line: row.at.line,
                        row: row.at.row,
                        field: field.to_owned(),
                        value,
                        lead,
                        earlier_line,
                    };
                    if tell_duplicates {
                        report.duplicate(found, observer);
                    } else {
                        report.duplicate(found, &mut ());
                    }
                }
                None => {
                    report.accepted += 1;
                    if contact.is_empty() {
                        report.without_duplicate_key += 1;
                    }
                    for (_, _, key) in &contact {
                        keys.insert(fnv1a(FNV_OFFSET, key.as_bytes()), row.at.line);
                    }
                }
            }
        }
        Ok(())
    }
}

/// What a row's external reference decides ([`Engine::by_reference`]).
enum ByReference {
    /// Create the lead (no reference, or one no lead has).
    Create,
    /// The lead with this number has the reference (create-only).
    Duplicate(u64),
    /// Update this lead, which has the reference.
    Update(Box<crate::domain::lead::Lead>),
    /// Refuse the row (update-only, and no lead to update).
    Refuse(RowProblem),
}

/// A row's values applied to the lead it updates: the unit of work and the
/// lead's number, `None` when the row changes nothing, or the rule's
/// reasons.
fn update_by_reference(
    ctx: &Ctx<'_>,
    existing: &crate::domain::lead::Lead,
    prepared: &Prepared,
) -> Result<Option<(UnitOfWork, u64)>, Vec<RowProblem>> {
    let (uow, mut next) = rules::update_lead(ctx, existing, &prepared.patch).map_err(row::rule_problems)?;
    // The rules stamp every update; a row that changes no field changes nothing.
    next.updated_at = existing.updated_at;
    next.version = existing.version;
    next.closed_at = existing.closed_at;
    if next == *existing {
        return Ok(None);
    }
    Ok(Some((uow, existing.number)))
}

/// What a duplicate row duplicates.
#[derive(Clone, Copy, Debug)]
enum Of {
    /// The accepted row at this index of the batch.
    Row(usize),
    /// A lead that existed before the batch, by number.
    Lead(u64),
}

/// A committed batch's rows, reported once the commit succeeded.
#[derive(Debug, Default)]
struct BatchOutcome {
    rejected: Vec<RowRejection>,
    duplicates: Vec<(At, &'static str, String, Of)>,
    /// Where each lead created stands in the file, and its number.
    numbers: Vec<(At, u64)>,
    /// Leads created with no e-mail and no phone.
    without_key: u64,
    /// Where each row that updated a lead stands, and the lead's number.
    updated: Vec<(At, u64)>,
}

impl BatchOutcome {
    /// Adds the batch to the report, row by row in file order.
    fn record(self, report: &mut ImportReport, observer: &mut dyn ImportObserver) {
        enum Line {
            Rejected(RowRejection),
            Duplicate(RowDuplicate),
        }
        let mut lines: Vec<(u64, Line)> = self.rejected.into_iter().map(|r| (r.line, Line::Rejected(r))).collect();
        for (at, field, value, of) in self.duplicates {
            let (lead, earlier_line) = match of {
                Of::Row(i) => self
                    .numbers
                    .get(i)
                    .map_or((0, None), |(earlier, n)| (*n, Some(earlier.line))),
                Of::Lead(n) => (n, None),
            };
            lines.push((
                at.line,
                Line::Duplicate(RowDuplicate {
                    line: at.line,
                    row: at.row,
                    field: field.to_owned(),
                    value,
                    lead,
                    earlier_line,
                }),
            ));
        }
        lines.sort_by_key(|(l, _)| *l);
        for (_, l) in lines {
            match l {
                Line::Rejected(r) => report.reject(r, observer),
                Line::Duplicate(d) => report.duplicate(d, observer),
            }
        }
        report.without_duplicate_key += self.without_key;
        report.updated += self.updated.len() as u64;
        if let (Some((_, lo)), Some((_, hi))) = (self.numbers.first(), self.numbers.last()) {
            report.imported += self.numbers.len() as u64;
            report.accepted += self.numbers.len() as u64;
            report.numbers = Some(match report.numbers {
                Some((a, b)) => (a.min(*lo), b.max(*hi)),
                None => (*lo, *hi),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::Code;

    #[test]
    fn field_names_read_back() {
        for f in ImportField::STANDARD {
            assert_eq!(f.name().parse::<ImportField>().ok(), Some(f.clone()));
            assert_eq!(f.name().to_uppercase().parse::<ImportField>().ok(), Some(f));
        }
        assert_eq!(
            "custom:budget".parse::<ImportField>().ok(),
            Some(ImportField::Custom(Code::from_checked_literal("budget")))
        );
        assert!(matches!(
            "no such field!".parse::<ImportField>(),
            Err(ImportFailure::UnknownField { .. })
        ));
        assert_eq!("Skip-Invalid".parse::<ImportMode>().ok(), Some(ImportMode::SkipInvalid));
    }
}

//! The subcommands.

use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use crcm::commands::SetConfig;
use crcm::domain::config::{Config, PhaseRef};
use crcm::domain::failure::ImportFailure;
use crcm::domain::ids::ImportId;
use crcm::engine::board::BoardQuery;
use crcm::engine::import::{
    ImportField, ImportMapping, ImportMode, ImportObserver, ImportOptions, ImportProgress, ImportStage, RowDuplicate,
    RowRejection,
};
use crcm::engine::reports::Interval;
use crcm::rules::access::Actor;
use crcm::{Code, Lead, LeadQuery, LeadSort, PageRequest, Subject, UserId};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::table::Table;
use crate::{
    Cmd, ConfigCmd, Failure, Format, ImportArgs, ImportCmd, LeadArgs, Opened, Outcome, Report, ReportArgs, charts,
};
use crcm::open::OpenedStore;

/// Reads a snake_case word as one of crcm's enums (a role, a status, a sort).
pub fn parse_word<T: DeserializeOwned>(word: &str, what: &str) -> Result<T, Failure> {
    let normalized = word.trim().to_lowercase().replace('-', "_");
    serde_json::from_value(serde_json::Value::String(normalized))
        .map_err(|e| Failure::Usage(format!("{what} {word:?}: {e}")))
}

fn code(text: &str, what: &str) -> Result<Code, Failure> {
    Code::new(text).map_err(|e| Failure::Usage(format!("{what}: {e}")))
}

/// An engine error for people: a code that names no configured item also
/// says which codes there are.
async fn explained(opened: &Opened, e: crcm::Error) -> Failure {
    use crcm::domain::error::{InputError, ReferenceKind};
    let message = e.to_string();
    let crcm::Error::Input(InputError::UnknownReference { kind, .. }) = &e else {
        return Failure::Error(message);
    };
    let Ok((config, _)) = opened.engine.config().await else {
        return Failure::Error(message);
    };
    let codes: Vec<String> = match kind {
        ReferenceKind::AccountType => config.account_types.iter().map(|a| a.code.to_string()).collect(),
        ReferenceKind::LeadSource => config.sources.iter().map(|x| x.code.to_string()).collect(),
        ReferenceKind::Priority => config.priorities.iter().map(|x| x.code.to_string()).collect(),
        ReferenceKind::Tag => config.tags.iter().map(|x| x.code.to_string()).collect(),
        ReferenceKind::Pipeline => config.pipelines.iter().map(|x| x.code.to_string()).collect(),
    };
    if codes.is_empty() {
        Failure::Error(message)
    } else {
        Failure::Error(format!("{message} (one of {})", codes.join(", ")))
    }
}

fn json<T: Serialize>(value: &T) -> Result<ExitCode, Failure> {
    crate::outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

/// Runs one subcommand.
pub async fn run(opened: &Opened, actor: &Actor, command: Cmd) -> Outcome {
    match command {
        Cmd::Init => {
            match opened.engine.store().config().await? {
                Some((_, version)) => crate::outln!("crcm store ready (configuration version {version})"),
                None => crate::outln!("crcm store ready; no configuration yet: crcm config load FILE"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Config { action } => config(opened, actor, action).await,
        Cmd::Import(args) => import(opened, actor, args).await,
        Cmd::Leads { filter, format } => leads(opened, actor, &filter, format).await,
        Cmd::Lead { number } => lead_card(opened, actor, number).await,
        Cmd::Board {
            account_type,
            svg,
            format,
        } => board(opened, actor, account_type.as_deref(), svg, format).await,
        Cmd::Report(args) => report(opened, actor, args).await,
        Cmd::Export { file, filter } => export(opened, actor, &file, &filter).await,
        Cmd::Verify => verify(opened).await,
        Cmd::Generate { .. } => Err(Failure::Error("generate needs no store".into())),
        Cmd::Events { since, limit } => {
            for e in opened.engine.events_since(actor, since, limit).await? {
                crate::outln!("{}", serde_json::to_string(&e)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn config(opened: &Opened, actor: &Actor, action: ConfigCmd) -> Outcome {
    match action {
        ConfigCmd::Show => {
            let (config, version) = opened.engine.config().await?;
            crate::outln!("{}", serde_json::to_string_pretty(&config)?);
            eprintln!("configuration version {version}");
            Ok(ExitCode::SUCCESS)
        }
        ConfigCmd::Load { file } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| Failure::Error(format!("{}: {e}", file.display())))?;
            let config: Config =
                serde_json::from_str(&text).map_err(|e| Failure::Error(format!("{}: {e}", file.display())))?;
            let current = opened.engine.store().config().await?.map(|(_, v)| v);
            let out = opened
                .engine
                .run(
                    actor,
                    SetConfig {
                        config,
                        expected_version: current,
                    },
                )
                .await
                .map_err(|e| Failure::Error(format!("{}: {e}", file.display())))?;
            crate::outln!("configuration version {} stored", out.version);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The account type a command names, or the only one configured.
async fn account_type(opened: &Opened, given: Option<&str>) -> Result<Code, Failure> {
    if let Some(text) = given {
        return code(text, "--account-type");
    }
    let (config, _) = opened.engine.config().await?;
    match config.account_types.as_slice() {
        [only] => Ok(only.code.clone()),
        many => Err(Failure::Error(format!(
            "name the account type with --account-type: one of {}",
            many.iter().map(|a| a.code.to_string()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

// ------------------------------------------------------------------ import

fn pair<'a>(text: &'a str, what: &str) -> Result<(&'a str, &'a str), Failure> {
    text.split_once('=')
        .ok_or_else(|| Failure::Error(format!("{what} {text:?}: expected NAME=VALUE")))
}

fn field(name: &str) -> Result<ImportField, Failure> {
    name.parse::<ImportField>().map_err(Failure::from)
}

fn mapping(args: &ImportArgs) -> Result<ImportMapping, Failure> {
    let mut m = ImportMapping::default();
    for text in &args.map {
        let (column, target) = pair(text, "--map")?;
        m = match target.trim() {
            "-" | "" => m.ignore(column.trim()),
            name => m.map(column.trim(), field(name)?),
        };
    }
    for text in &args.constants {
        let (name, value) = pair(text, "--const")?;
        m = m.constant(field(name)?, value);
    }
    for text in &args.values {
        let (name, rest) = text
            .split_once(':')
            .ok_or_else(|| Failure::Error(format!("--value {text:?}: expected FIELD:FROM=TO")))?;
        let (from, to) = pair(rest, "--value")?;
        m = m.translate(field(name)?, from, to);
    }
    for name in &args.relax {
        m = m.relax(&field(name)?);
    }
    for name in &args.require {
        m = m.require(field(name)?);
    }
    if args.ignore_other_columns {
        m = m.ignore_other_columns();
    }
    Ok(m)
}

/// Shows an import as it goes: a progress bar on a terminal, plain lines
/// otherwise; every refused and duplicate row as its line.
struct Shown {
    bar: Option<ProgressBar>,
    last_line: Instant,
    /// Set by Ctrl-C: the import stops after the batch it is writing.
    interrupted: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The refused rows' reasons by row number, when they are to be written
    /// to a file.
    reasons: Option<std::collections::BTreeMap<u64, String>>,
}

impl Shown {
    fn say(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            // A closed output does not stop an import: its report is the
            // store's, and the summary's write ends the command.
            None => {
                let _ = crate::write_out(format_args!("{text}\n"));
            }
        }
    }
}

impl ImportObserver for Shown {
    fn progress(&mut self, p: &ImportProgress) {
        let stage = match p.stage {
            ImportStage::Checking => "checking",
            ImportStage::Importing => "importing",
        };
        let text = format!(
            "{stage}: {} rows, imported {}, rejected {}, duplicates {}",
            p.rows, p.imported, p.rejected, p.duplicates
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(p.bytes);
                bar.set_message(text);
            }
            None => {
                if self.last_line.elapsed() >= Duration::from_secs(5) {
                    self.last_line = Instant::now();
                    eprintln!("{text}");
                }
            }
        }
    }
    fn rejected(&mut self, row: &RowRejection) {
        self.say(row.to_string());
        if let Some(reasons) = &mut self.reasons {
            let text: Vec<String> = row.problems.iter().map(ToString::to_string).collect();
            reasons.insert(row.row, text.join("; "));
        }
    }
    fn duplicate(&mut self, row: &RowDuplicate) {
        self.say(row.to_string());
    }
    fn cancelled(&mut self) -> bool {
        self.interrupted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Listens for Ctrl-C from now on (the handler is in place when this
/// returns): the flag is set, and the import stops after its batch.
fn interrupt_listener(
    flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<tokio::task::JoinHandle<()>, Failure> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupts =
            signal(SignalKind::interrupt()).map_err(|e| Failure::Error(format!("Ctrl-C handler: {e}")))?;
        Ok(tokio::spawn(async move {
            if interrupts.recv().await.is_some() {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }))
    }
}

/// `import revert ID`: the leads removed, and each lead kept with why.
async fn revert_import(opened: &Opened, actor: &Actor, id: &str) -> Outcome {
    let id: ImportId = id
        .parse()
        .map_err(|e| Failure::Usage(format!("import revert {id}: {e}")))?;
    let report = opened
        .engine
        .revert_import(actor, id)
        .await
        .map_err(|e| Failure::Error(format!("import revert {}: {e}", id.0)))?;
    for kept in &report.kept_leads {
        crate::outln!(
            "kept lead {}: {} ({})",
            kept.number,
            kept.error.message,
            kept.error.name
        );
    }
    if report.kept > report.kept_leads.len() as u64 {
        crate::outln!("... and {} more kept", report.kept - report.kept_leads.len() as u64);
    }
    crate::outln!("{}", report.summary());
    Ok(ExitCode::SUCCESS)
}

async fn import(opened: &Opened, actor: &Actor, args: ImportArgs) -> Outcome {
    if let Some(ImportCmd::Revert { id }) = &args.then {
        return revert_import(opened, actor, id).await;
    }
    let Some(path) = args.file.clone() else {
        return Err(Failure::Usage("import: name the CSV file".to_owned()));
    };
    let name = path.display().to_string();
    let fail = |e: &dyn std::fmt::Display| Failure::Error(format!("{name}: {e}"));
    let mode: ImportMode = args.mode.parse().map_err(|e| Failure::Usage(format!("--mode: {e}")))?;
    let (id, resume) = match &args.resume {
        Some(text) => (
            text.parse::<ImportId>()
                .map_err(|e| Failure::Usage(format!("--resume: {e}")))?,
            true,
        ),
        None => (ImportId::new(), false),
    };
    let options = ImportOptions {
        mapping: mapping(&args)?,
        mode,
        account_type: match &args.account_type {
            Some(a) => Some(code(a, "--account-type")?),
            None => None,
        },
        batch_size: args.batch_size,
        id,
        resume,
        dry_run: args.dry_run,
        action: args
            .action
            .parse()
            .map_err(|e| Failure::Usage(format!("--action: {e}")))?,
        encoding: args.encoding.clone(),
        delimiter: match args.delimiter.as_deref() {
            None => None,
            Some("tab" | "\\t") => Some('\t'),
            Some(text) => {
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some(c),
                    _ => {
                        return Err(Failure::Usage(format!("--delimiter {text:?}: one character, or tab")));
                    }
                }
            }
        },
    };
    if let Some(path) = &args.rejected
        && path.exists()
        && !args.force
    {
        return Err(Failure::Usage(format!(
            "--rejected {}: the file exists; give --force to replace it",
            path.display()
        )));
    }
    let file = std::fs::File::open(&path).map_err(|e| fail(&e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = interrupt_listener(interrupted.clone())?;
    if !args.dry_run {
        eprintln!(
            "import {}: if it is interrupted, run the same command with --resume {}",
            id.0, id.0
        );
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(size);
        let style = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    let mut shown = Shown {
        bar,
        last_line: Instant::now(),
        interrupted,
        reasons: args.rejected.as_ref().map(|_| std::collections::BTreeMap::new()),
    };
    let result = opened
        .engine
        .import_leads(actor, std::io::BufReader::new(file), &options, &mut shown)
        .await;
    listener.abort();
    if let Some(bar) = &shown.bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(report) => report,
        Err(crcm::Error::Import(ImportFailure::Cancelled { id, imported, rows })) => {
            eprintln!(
                "crcm: {name}: interrupted after {rows} rows, {imported} leads imported; \
                 to go on, run the same command with --resume {}",
                id.0
            );
            return Ok(ExitCode::from(crate::exit::INTERRUPTED));
        }
        Err(e) => return Err(fail(&e)),
    };
    if !report.columns.is_empty() {
        crate::outln!("columns: {}", report.mapping_shown());
    }
    if report.encoding != "UTF-8" || report.delimiter != ',' {
        crate::outln!("read as {}, delimiter {:?}", report.encoding, report.delimiter);
    }
    if let (Some(path), Some(reasons)) = (&args.rejected, &shown.reasons) {
        let source = std::fs::File::open(path).map_err(|e| fail(&e))?;
        let out = std::fs::File::create(path).map_err(|e| Failure::Error(format!("{}: {e}", path.display())))?;
        let written = crcm::engine::import::write_rows_with_reasons(
            std::io::BufReader::new(source),
            &options,
            reasons,
            BufWriter::new(out),
        )
        .map_err(|e| Failure::Error(format!("{}: {e}", path.display())))?;
        eprintln!("{written} refused rows written to {}", path.display());
    }
    crate::outln!("{}", report.summary());
    if !args.dry_run && report.imported > 0 {
        eprintln!("to undo this import: crcm import revert {}", id.0);
    }
    if report.rejected > 0 {
        if mode == ImportMode::AllOrNothing && !args.dry_run {
            eprintln!(
                "crcm: {name}: nothing imported: {} rows refused (all-or-nothing)",
                report.rejected
            );
        }
        return Ok(ExitCode::from(crate::exit::ROWS_REFUSED));
    }
    Ok(ExitCode::SUCCESS)
}

// ------------------------------------------------------------------ leads

async fn lead_query(opened: &Opened, args: &LeadArgs) -> Result<LeadQuery, Failure> {
    let mut q = LeadQuery::default();
    if let Some(o) = &args.owner {
        q.filter.owner = Some(UserId::new(o).map_err(|e| Failure::Usage(format!("--owner: {e}")))?);
    }
    if !args.status.is_empty() {
        let mut set = std::collections::BTreeSet::new();
        for s in &args.status {
            set.insert(parse_word(s, "--status")?);
        }
        q.filter.statuses = Some(set);
    }
    if let Some(a) = &args.account_type {
        q.filter.account_type = Some(code(a, "--type")?);
    }
    if let Some(p) = &args.phase {
        let account_type = account_type(opened, args.account_type.as_deref()).await?;
        q.filter.phase = Some(PhaseRef {
            account_type,
            code: code(p, "--phase")?,
        });
    }
    if let Some(s) = &args.source {
        q.filter.source = Some(code(s, "--source")?);
    }
    if let Some(p) = &args.priority {
        q.filter.priority = Some(code(p, "--priority")?);
    }
    for t in &args.tag {
        q.filter.tags.insert(code(t, "--tag")?);
    }
    q.open = match (args.open, args.closed) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    q.rotten = args.rotten;
    q.search = args.search.clone();
    q.filter.external_ref.clone_from(&args.external_ref);
    if let Some(id) = &args.import {
        q.filter.import = Some(id.parse().map_err(|e| Failure::Usage(format!("--import {id}: {e}")))?);
    }
    q.sort = parse_word::<LeadSort>(&args.sort, "--sort")?;
    q.descending = args.desc;
    Ok(q)
}

/// Every lead of a query, up to `limit` (0: all), page by page.
async fn collect(opened: &Opened, actor: &Actor, mut q: LeadQuery, limit: usize) -> Result<Vec<Lead>, Failure> {
    let mut out = Vec::new();
    q.page = PageRequest {
        limit: if limit == 0 { 500 } else { limit.min(500) },
        ..PageRequest::default()
    };
    loop {
        let page = match opened.engine.leads(actor, &q).await {
            Ok(page) => page,
            Err(e) => return Err(explained(opened, e).await),
        };
        out.extend(page.items);
        if limit > 0 && out.len() >= limit {
            out.truncate(limit);
            return Ok(out);
        }
        match page.next {
            Some(next) => q.page.after = Some(next),
            None => return Ok(out),
        }
    }
}

fn phase_name(lead: &Lead) -> String {
    lead.phase.as_ref().map(|p| p.code.to_string()).unwrap_or_default()
}

async fn leads(opened: &Opened, actor: &Actor, args: &LeadArgs, format: Format) -> Outcome {
    let q = lead_query(opened, args).await?;
    match format {
        Format::Csv => {
            // Written to a buffer first: the export is async and a locked
            // stdout cannot cross threads.
            let list = collect(opened, actor, q, args.limit).await?;
            let (config, _) = opened.engine.config().await?;
            let columns = crcm::engine::export::export_columns(&config);
            let mut out = csv::Writer::from_writer(BufWriter::new(std::io::stdout().lock()));
            out.write_record(columns.iter().map(ImportField::name))
                .map_err(Failure::csv_output)?;
            for lead in &list {
                out.write_record(columns.iter().map(|c| crcm::engine::export::export_value(lead, c)))
                    .map_err(Failure::csv_output)?;
            }
            out.flush().map_err(|e| Failure::output(&e))?;
            Ok(ExitCode::SUCCESS)
        }
        Format::Json => json(&collect(opened, actor, q, args.limit).await?),
        Format::Table => {
            let mut counted = q.clone();
            counted.page.total = true;
            let list = collect(opened, actor, q, args.limit).await?;
            let total = match opened
                .engine
                .leads(
                    actor,
                    &LeadQuery {
                        page: PageRequest {
                            limit: 1,
                            total: true,
                            ..PageRequest::default()
                        },
                        ..counted
                    },
                )
                .await
            {
                Ok(page) => page.total,
                Err(e) => return Err(explained(opened, e).await),
            };
            let mut t = Table::new([
                "number", "name", "company", "status", "phase", "source", "priority", "value", "close", "owner",
                "phone", "email",
            ]);
            for l in &list {
                t.row([
                    l.number.to_string(),
                    l.display_name(),
                    l.company.clone(),
                    format!("{:?}", l.status).to_lowercase(),
                    phase_name(l),
                    l.source.as_ref().map(ToString::to_string).unwrap_or_default(),
                    l.priority.as_ref().map(ToString::to_string).unwrap_or_default(),
                    l.expected_revenue.map(|m| m.to_string()).unwrap_or_default(),
                    l.expected_close.map(|d| d.to_string()).unwrap_or_default(),
                    l.owner.to_string(),
                    l.phone.as_ref().map(|p| p.raw.clone()).unwrap_or_default(),
                    l.email.as_ref().map(|e| e.as_str().to_owned()).unwrap_or_default(),
                ]);
            }
            t.print()?;
            let shown = list.len() as u64;
            match total {
                Some(total) if total > shown => {
                    crate::outln!("{shown} of {total} leads shown; more follow: --limit N for more, --limit 0 for all")
                }
                Some(total) => crate::outln!("{total} leads"),
                None => crate::outln!("{shown} leads"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn lead_card(opened: &Opened, actor: &Actor, number: u64) -> Outcome {
    let engine = &opened.engine;
    let lead = engine.lead_by_number(actor, number).await?;
    crate::outln!("Lead {} — {}", lead.number, lead.display_name());
    let money = lead.expected_revenue.map(|m| m.to_string()).unwrap_or_default();
    let mut t = Table::plain();
    let rows: Vec<(&str, String)> = vec![
        ("status", format!("{:?}", lead.status).to_lowercase()),
        ("account type", lead.account_type.to_string()),
        ("phase", phase_name(&lead)),
        (
            "days in phase",
            (engine.now() - lead.phase_entered_at).num_days().to_string(),
        ),
        (
            "contact",
            format!("{} {}", lead.first_name, lead.last_name).trim().to_owned(),
        ),
        ("company", lead.company.clone()),
        (
            "e-mail",
            lead.email.as_ref().map(|e| e.as_str().to_owned()).unwrap_or_default(),
        ),
        (
            "phone",
            lead.phone
                .as_ref()
                .map(|p| format!("{} ({})", p.raw, p.e164))
                .unwrap_or_default(),
        ),
        (
            "address",
            [lead.address.as_str(), lead.city.as_str(), lead.state.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "source",
            lead.source.as_ref().map(ToString::to_string).unwrap_or_default(),
        ),
        (
            "priority",
            lead.priority.as_ref().map(ToString::to_string).unwrap_or_default(),
        ),
        ("owner", lead.owner.to_string()),
        ("expected revenue", money),
        (
            "expected close",
            lead.expected_close.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("description", lead.description.clone()),
        (
            "external reference",
            lead.external_ref.as_ref().map(ToString::to_string).unwrap_or_default(),
        ),
        (
            "imported by",
            lead.import.map(|i| format!("import {}", i.id.0)).unwrap_or_default(),
        ),
        ("created", lead.created_at.to_rfc3339()),
    ];
    for (k, v) in rows.into_iter().filter(|(_, v)| !v.is_empty()) {
        t.row([k.to_owned(), v]);
    }
    for (k, v) in &lead.custom {
        t.row([k.to_string(), serde_json::to_string(v)?]);
    }
    t.print()?;
    crate::outln!("\nHistory");
    for h in engine.lead_history(actor, lead.id).await? {
        crate::outln!(
            "  v{} {} {} {}",
            h.version,
            h.at.format("%Y-%m-%d %H:%M"),
            h.actor,
            h.action
        );
        for c in &h.changes {
            let shown = |v: &serde_json::Value| match v {
                serde_json::Value::Null => "(none)".to_owned(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if c.items {
                crate::outln!("      {}: -{} +{}", c.field, shown(&c.old), shown(&c.new));
            } else {
                crate::outln!("      {}: {} -> {}", c.field, shown(&c.old), shown(&c.new));
            }
        }
    }
    crate::outln!("\nTimeline");
    let subject = Subject::Lead(lead.id);
    let mut timeline: Vec<(chrono::DateTime<Utc>, String)> = Vec::new();
    for a in engine.activities(actor, subject).await? {
        timeline.push((a.occurred_at, format!("{:?} by {}: {}", a.kind, a.author, a.summary)));
    }
    for f in engine.follow_ups(actor, subject).await? {
        let state = if f.done { "done" } else { "open" };
        timeline.push((
            f.created_at,
            format!("follow-up due {} for {} ({state}): {}", f.due, f.assignee, f.note),
        ));
    }
    for c in engine.communications_of(actor, lead.id).await? {
        let from = c
            .from_email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .or_else(|| c.from_phone.as_ref().map(|p| p.raw.clone()))
            .unwrap_or_default();
        timeline.push((c.received_at, format!("{:?} from {from}: {}", c.kind, c.summary)));
    }
    timeline.sort_by_key(|(at, _)| *at);
    if timeline.is_empty() {
        crate::outln!("  (nothing yet)");
    }
    for (at, text) in timeline {
        crate::outln!("  {} {text}", at.format("%Y-%m-%d %H:%M"));
    }
    Ok(ExitCode::SUCCESS)
}

// ------------------------------------------------------------------ board and reports

async fn board(
    opened: &Opened,
    actor: &Actor,
    given: Option<&str>,
    svg: Option<std::path::PathBuf>,
    format: Format,
) -> Outcome {
    if format == Format::Csv {
        return Err(Failure::Usage("board --format takes table or json".into()));
    }
    let account_type = account_type(opened, given).await?;
    let board = match opened.engine.board(actor, &BoardQuery::new(account_type.clone())).await {
        Ok(board) => board,
        Err(e) => return Err(explained(opened, e).await),
    };
    if let Some(path) = &svg {
        let (config, _) = opened.engine.config().await?;
        charts::draw(&charts::board(&board, &config), path)?;
        eprintln!("board drawn in {}", path.display());
    }
    if format == Format::Json {
        return json(&board);
    }
    let mut t = Table::new(["phase", "name", "open leads", "rotten", "expected revenue"]);
    for c in &board.columns {
        t.row([
            c.phase.code.to_string(),
            c.name.clone(),
            c.count.to_string(),
            c.rotten.to_string(),
            c.revenue
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" + "),
        ]);
    }
    crate::outln!("Board of {account_type}");
    t.print()?;
    let total: u64 = board.columns.iter().map(|c| c.count).sum();
    crate::outln!("{total} open leads");
    Ok(ExitCode::SUCCESS)
}

fn day(text: &str, what: &str) -> Result<NaiveDate, Failure> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| Failure::Usage(format!("{what} {text:?}: {e} (use YYYY-MM-DD)")))
}

fn interval(args: &ReportArgs) -> Result<Interval, Failure> {
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    Ok(Interval {
        from: match &args.from {
            Some(t) => start(day(t, "--from")?),
            None => None,
        },
        before: match &args.to {
            Some(t) => day(t, "--to")?.succ_opt().and_then(start),
            None => None,
        },
    })
}

fn percent(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_default()
}

async fn report(opened: &Opened, actor: &Actor, args: ReportArgs) -> Outcome {
    let engine = &opened.engine;
    if args.format == Format::Csv {
        return Err(Failure::Usage(
            "report --format takes table or json (a CSV of leads: `crcm leads --format csv` or `crcm export`)".into(),
        ));
    }
    if args.svg.is_some() && !charts::draws(args.report) {
        return Err(Failure::Usage(format!(
            "--svg: the {} report has no chart",
            format!("{:?}", args.report).to_lowercase()
        )));
    }
    let when = interval(&args)?;
    let as_json = args.format == Format::Json;
    let (config, _) = engine.config().await?;
    // Draws the report's chart when --svg asks for one.
    let drawn = |chart: charts::Chart| -> Result<(), Failure> {
        if let Some(path) = &args.svg {
            charts::draw(&chart, path)?;
            eprintln!("chart drawn in {}", path.display());
        }
        Ok(())
    };
    match args.report {
        Report::Funnel => {
            let account_type = account_type(opened, args.account_type.as_deref()).await?;
            let funnel = engine.report_funnel(actor, &account_type, &when).await?;
            drawn(charts::funnel(&funnel, &config))?;
            if as_json {
                return json(&funnel);
            }
            let mut t = Table::new(["phase", "closing", "reached", "to next"]);
            for r in &funnel.phases {
                t.row([
                    r.phase.to_string(),
                    if r.closing { "yes" } else { "" }.to_owned(),
                    r.reached.to_string(),
                    percent(r.to_next),
                ]);
            }
            crate::outln!("Funnel of {account_type}");
            t.print()?;
        }
        Report::TimeInPhase => {
            let account_type = account_type(opened, args.account_type.as_deref()).await?;
            let rows = engine.report_time_in_phase(actor, &account_type, &when).await?;
            drawn(charts::time_in_phase(&rows, &account_type, &config))?;
            if as_json {
                return json(&rows);
            }
            let mut t = Table::new(["phase", "stays", "average hours", "median hours"]);
            for r in &rows {
                t.row([
                    r.phase.to_string(),
                    r.stays.to_string(),
                    format!("{:.1}", r.average_hours),
                    format!("{:.1}", r.median_hours),
                ]);
            }
            t.print()?;
        }
        Report::Sources => {
            let rows = engine.report_sources(actor, &when).await?;
            drawn(charts::sources(&rows, &config))?;
            if as_json {
                return json(&rows);
            }
            let mut t = Table::new([
                "source",
                "created",
                "qualified",
                "converted",
                "disqualified",
                "in won phase",
                "in lost phase",
            ]);
            for r in &rows {
                t.row([
                    r.source.as_ref().map_or("(none)".to_owned(), ToString::to_string),
                    r.created.to_string(),
                    r.qualified.to_string(),
                    r.converted.to_string(),
                    r.lost.to_string(),
                    r.closed_won.to_string(),
                    r.closed_lost.to_string(),
                ]);
            }
            t.print()?;
            crate::outln!("{} leads", rows.iter().map(|r| r.created).sum::<u64>());
        }
        Report::Reasons => {
            let rows = engine.report_reasons(actor, &when).await?;
            drawn(charts::reasons(&rows, &config))?;
            if as_json {
                return json(&rows);
            }
            let mut t = Table::new(["kind", "reason", "count"]);
            for r in &rows {
                t.row([r.kind.clone(), r.reason.to_string(), r.count.to_string()]);
            }
            t.print()?;
        }
        Report::Workload => {
            let rows = engine.report_workload(actor).await?;
            drawn(charts::workload(&rows))?;
            if as_json {
                return json(&rows);
            }
            let mut t = Table::new(["owner", "open leads", "rotten", "overdue follow-ups"]);
            for r in &rows {
                t.row([
                    r.owner.to_string(),
                    r.open_leads.to_string(),
                    r.rotten.to_string(),
                    r.overdue_follow_ups.to_string(),
                ]);
            }
            t.print()?;
        }
        Report::Trend => {
            let period = parse_word::<crcm::engine::reports::TrendPeriod>(&args.period, "--period")?;
            let rows = engine.report_trend(actor, &when, period).await?;
            drawn(charts::trend(&rows, period))?;
            if as_json {
                return json(&rows);
            }
            let mut t = Table::new(["from", "created", "closed"]);
            for r in &rows {
                t.row([
                    r.from.format("%Y-%m-%d").to_string(),
                    r.created.to_string(),
                    r.closed.to_string(),
                ]);
            }
            t.print()?;
        }
        Report::Stuck => {
            let page = engine.report_stuck(actor, args.days, &PageRequest::default()).await?;
            if as_json {
                return json(&page.items);
            }
            let mut t = Table::new(["number", "name", "phase", "days in phase", "owner"]);
            for l in &page.items {
                t.row([
                    l.number.to_string(),
                    l.display_name(),
                    phase_name(l),
                    (engine.now() - l.phase_entered_at).num_days().to_string(),
                    l.owner.to_string(),
                ]);
            }
            t.print()?;
        }
        Report::Quality => {
            let q = engine.report_data_quality(actor).await?;
            if as_json {
                return json(&q);
            }
            crate::outln!("{} open leads", q.open);
            let mut t = Table::new(["missing", "leads"]);
            for m in &q.missing {
                t.row([
                    serde_json::to_string(&m.field)?.trim_matches('"').to_owned(),
                    m.count.to_string(),
                ]);
            }
            t.print()?;
        }
        Report::Forecast => {
            let pipeline = match &args.pipeline {
                Some(p) => Some(code(p, "--pipeline")?),
                None => None,
            };
            let rows = match engine.report_forecast(actor, pipeline.as_ref()).await {
                Ok(rows) => rows,
                Err(e) => return Err(explained(opened, e).await),
            };
            drawn(charts::forecast(&rows))?;
            if as_json {
                return json(&rows);
            }
            let mut t = Table::new(["pipeline", "stage", "deals", "value", "weighted"]);
            let join = |list: &[crcm::MoneySum]| list.iter().map(ToString::to_string).collect::<Vec<_>>().join(" + ");
            for r in &rows {
                t.row([
                    r.pipeline.to_string(),
                    r.stage.to_string(),
                    r.deals.to_string(),
                    join(&r.value),
                    join(&r.weighted),
                ]);
            }
            t.print()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(opened: &Opened, actor: &Actor, file: &std::path::Path, args: &LeadArgs) -> Outcome {
    let name = file.display().to_string();
    let mut q = lead_query(opened, args).await?;
    q.page.limit = 500;
    let out = std::fs::File::create(file).map_err(|e| Failure::Error(format!("{name}: {e}")))?;
    let mut out = BufWriter::new(out);
    let written = opened
        .engine
        .export_leads(actor, &q, &mut out)
        .await
        .map_err(|e| Failure::Error(format!("{name}: {e}")))?;
    out.flush().map_err(|e| Failure::Error(format!("{name}: {e}")))?;
    crate::outln!("exported {written} leads to {name}");
    Ok(ExitCode::SUCCESS)
}

async fn verify(opened: &Opened) -> Outcome {
    let problems = match &opened.store {
        OpenedStore::Sled(sled) => {
            let r = sled.verify()?;
            crate::outln!(
                "{} records ({} leads), {} index entries, {} board cells, {} history entries, {} events",
                r.records,
                r.leads,
                r.index_entries,
                r.board_cells,
                r.history_entries,
                r.events
            );
            r.problems
        }
        OpenedStore::Sql(sql) => sql.verify().await?,
        _ => return Err(Failure::Error("verify does not know this backend".to_owned())),
    };
    for p in &problems {
        crate::outln!("problem: {p}");
    }
    if problems.is_empty() {
        crate::outln!("consistent");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

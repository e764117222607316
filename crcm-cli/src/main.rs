//! `crcm`: the command-line tool for admins and evaluators, on any store.
//!
//! ```text
//! crcm --store sled:./crcm-data config load examples/crcm-config.json
//! crcm import leads.csv --mode skip-invalid
//! crcm board --account-type b2b --svg board.svg
//! crcm report funnel --account-type b2b --svg funnel.svg
//! ```
//!
//! `--store` takes `sled:DIR` (the default, `sled:./crcm-data`),
//! `sqlite:FILE`, `postgres://...` or `mysql://...`; `CRCM_STORE` sets it
//! too. Only `init`, `config load` and `import` create a store that is not
//! there; every other command says "no crcm store at ...". Commands run as
//! `--user` (default `admin`) with `--role` (default `admin`).
//!
//! Exit status ([`exit`]): 0 success; 1 an error (the store, a file, a
//! refusal, `verify` finding problems); 2 a usage error (an unknown option
//! or value, options that do not go together); 3 an import refused rows;
//! 130 Ctrl-C stopped an import (it says how to resume).
//! Output into a closed pipe (`crcm leads | head -1`) ends the tool quietly.

mod charts;
mod commands;
mod generate;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use crcm::open::{OpenedStore, StoreOptions, StoreSpec, open_store};
use crcm::rules::access::{Actor, Role};
use crcm::{Engine, UserId};

/// crcm: an embeddable CRM pipeline engine, from the command line.
#[derive(Parser, Debug)]
#[command(name = "crcm", version, about, long_about = None)]
struct Cli {
    /// Where the data lives: sled:DIR, sqlite:FILE, postgres://..., mysql://...
    #[arg(long, env = "CRCM_STORE", default_value = "sled:./crcm-data", global = true)]
    store: String,
    /// sled's page cache in MiB (sled stores only).
    #[arg(long, default_value_t = 64, global = true)]
    sled_cache_mb: u64,
    /// The user the commands run as.
    #[arg(long, default_value = "admin", global = true)]
    user: String,
    /// The user's role: admin, manager or sales_person.
    #[arg(long, default_value = "admin", global = true)]
    role: String,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create the store (if it is not there yet) and say where it is.
    Init,
    /// Load or show the configuration (account types, phases, sources...).
    Config {
        #[command(subcommand)]
        action: ConfigCmd,
    },
    /// Import leads from a CSV file.
    Import(ImportArgs),
    /// List leads.
    Leads {
        #[command(flatten)]
        filter: LeadArgs,
        /// Table, CSV or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One lead's card: fields, history and timeline.
    Lead {
        /// The lead number.
        number: u64,
    },
    /// The board of an account type: its phases with their open leads.
    Board {
        /// The account type (default: the only one).
        #[arg(long)]
        account_type: Option<String>,
        /// Also draw the board as an SVG chart.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Table or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// A report.
    Report(ReportArgs),
    /// Export leads to CSV in the import's format.
    Export {
        /// The file to write.
        file: PathBuf,
        #[command(flatten)]
        filter: LeadArgs,
    },
    /// Check a store's maintained figures against its records (sled: indexes,
    /// counts and cells; SQL: board cells and phase steps).
    Verify,
    /// Write a CSV of made-up leads in the default columns (no store needed).
    Generate {
        /// The file to write.
        file: PathBuf,
        /// How many leads.
        #[arg(long, default_value_t = 1000)]
        rows: u64,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the event outbox from a sequence number on, as JSON lines.
    Events {
        /// Events after this sequence number.
        #[arg(long, default_value_t = 0)]
        since: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCmd {
    /// Store the configuration in a JSON file (see examples/crcm-config.json).
    Load {
        /// The file.
        file: PathBuf,
    },
    /// Print the stored configuration as JSON.
    Show,
}

/// How a list or report is printed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// Aligned columns.
    Table,
    /// CSV (lead lists only).
    Csv,
    /// JSON.
    Json,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct ImportArgs {
    /// Undo an import instead (`crcm import revert ID`; a file named
    /// `revert` is `./revert`).
    #[command(subcommand)]
    then: Option<ImportCmd>,
    /// The CSV file.
    #[arg(required = true)]
    file: Option<PathBuf>,
    /// Map a column to a field: COLUMN=FIELD (FIELD `-` ignores the column;
    /// two columns mapped to one field are joined with a space).
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    map: Vec<String>,
    /// Give a field one value for every row: FIELD=VALUE.
    #[arg(long = "const", value_name = "FIELD=VALUE")]
    constants: Vec<String>,
    /// Read a field's value FROM as TO (case-insensitive; empty TO: no value),
    /// e.g. `phase:Closed Won=WON` or `city:Select=`.
    #[arg(long = "value", value_name = "FIELD:FROM=TO")]
    values: Vec<String>,
    /// Make a field optional (default required: contact_name, phone, source).
    #[arg(long, value_name = "FIELD")]
    relax: Vec<String>,
    /// Make a field required.
    #[arg(long, value_name = "FIELD")]
    require: Vec<String>,
    /// Ignore columns that are neither fields nor mapped (default: refuse the file).
    #[arg(long)]
    ignore_other_columns: bool,
    /// all-or-nothing (default) or skip-invalid.
    #[arg(long, default_value = "all-or-nothing")]
    mode: String,
    /// The account type of the leads (default: the only one).
    #[arg(long)]
    account_type: Option<String>,
    /// Rows per transaction.
    #[arg(long, default_value_t = crcm::engine::import::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// Resume the interrupted import with this id (same file, same batch size).
    #[arg(long, value_name = "ID")]
    resume: Option<String>,
    /// Check every row as the import would and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// create-only (default), update-only or create-or-update: what a row
    /// whose external reference (`--map COLUMN=external_id --const
    /// external_system=CODE`) a lead has does.
    #[arg(long, default_value = "create-only")]
    action: String,
    /// Write the refused rows to this CSV file, each with its reasons in a
    /// last column `reason`, ready to fix and import again.
    #[arg(long, value_name = "FILE")]
    rejected: Option<PathBuf>,
    /// The file's encoding (windows-1252, latin1, utf-16le, ...; default
    /// UTF-8, or UTF-16 by its byte order mark).
    #[arg(long, value_name = "LABEL")]
    encoding: Option<String>,
    /// The delimiter: one character, or `tab` (default: found from the header).
    #[arg(long, value_name = "CHAR")]
    delimiter: Option<String>,
    /// Replace the --rejected file if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand, Debug)]
enum ImportCmd {
    /// Delete the leads an import created that nobody changed since (admin);
    /// the others stay and are listed with the reason.
    Revert {
        /// The import's id (printed when it ran).
        id: String,
    },
}

#[derive(Args, Debug, Default)]
struct LeadArgs {
    /// Owner equals.
    #[arg(long)]
    owner: Option<String>,
    /// Status: new, contacted, qualified, converted, disqualified, merged.
    #[arg(long)]
    status: Vec<String>,
    /// Account type equals.
    #[arg(long = "type")]
    account_type: Option<String>,
    /// Phase code (of --type, or of the only account type).
    #[arg(long)]
    phase: Option<String>,
    /// Source code equals.
    #[arg(long)]
    source: Option<String>,
    /// Priority code equals.
    #[arg(long)]
    priority: Option<String>,
    /// Has this tag (repeat for all of several).
    #[arg(long)]
    tag: Vec<String>,
    /// Only open leads.
    #[arg(long, conflicts_with = "closed")]
    open: bool,
    /// Only closed leads.
    #[arg(long)]
    closed: bool,
    /// Only rotten leads.
    #[arg(long)]
    rotten: bool,
    /// Search names, titles, companies, e-mails and phones.
    #[arg(long)]
    search: Option<String>,
    /// External reference equals, SYSTEM:ID.
    #[arg(long = "ref", value_name = "SYSTEM:ID")]
    external_ref: Option<String>,
    /// Created by the import with this id.
    #[arg(long, value_name = "ID")]
    import: Option<String>,
    /// number, created, updated, expected_close, priority, value, days_in_phase.
    #[arg(long, default_value = "number")]
    sort: String,
    /// Largest first.
    #[arg(long)]
    desc: bool,
    /// At most this many leads (0: all).
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// Which report.
    #[arg(value_enum)]
    report: Report,
    /// From this day on (YYYY-MM-DD, UTC).
    #[arg(long)]
    from: Option<String>,
    /// Up to and including this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    to: Option<String>,
    /// The account type (funnel, time-in-phase; default: the only one).
    #[arg(long)]
    account_type: Option<String>,
    /// Days in a phase that make a lead stuck (stuck).
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// The pipeline (forecast; default: all).
    #[arg(long)]
    pipeline: Option<String>,
    /// Table or JSON.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also draw the report as an SVG chart (every report but stuck and quality).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// day, week or month (trend).
    #[arg(long, default_value = "month")]
    period: String,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Report {
    /// How many leads reached each phase, and the conversion to the next.
    Funnel,
    /// How long leads stay in each phase.
    TimeInPhase,
    /// Created, qualified, converted and lost leads per source.
    Sources,
    /// Closing and lost reasons.
    Reasons,
    /// Open and rotten leads and overdue follow-ups per owner.
    Workload,
    /// Open leads longer than --days in their phase.
    Stuck,
    /// Open leads missing what the daily routine asks for.
    Quality,
    /// Open deals per pipeline stage, weighted by probability.
    Forecast,
    /// Leads created and closed per --period.
    Trend,
}

/// The tool's exit statuses: one table, documented in the crate docs and
/// the README, tested by the CLI tests.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// An error: the store, a file, a refusal, `verify` finding problems.
    pub const ERROR: u8 = 1;
    /// A usage error: an unknown option or value, options that do not go
    /// together (clap's own usage errors exit 2 too).
    pub const USAGE: u8 = 2;
    /// An import refused rows (all-or-nothing: nothing imported;
    /// skip-invalid: the other rows imported; a dry run: it would refuse
    /// them).
    pub const ROWS_REFUSED: u8 = 3;
    /// Ctrl-C stopped an import after a whole batch (resume it with
    /// `--resume ID`): 128 + SIGINT, as shells report it.
    pub const INTERRUPTED: u8 = 130;
}

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// An error for people: what went wrong, with the file, line and field
    /// where there is one (exit 1).
    Error(String),
    /// The command line asks for what cannot be (exit 2).
    Usage(String),
    /// Standard output was closed (a pipe into `head`): the tool ends
    /// quietly.
    ClosedOutput,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Error(e.to_string())
    }
}

impl Failure {
    /// A failed write to standard output: a closed pipe, or an error.
    pub fn output(e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Self::ClosedOutput
        } else {
            Self::Error(format!("standard output: {e}"))
        }
    }

    /// A failed CSV write to standard output.
    pub fn csv_output(e: csv::Error) -> Self {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => Self::output(&io),
            other => Self::Error(format!("standard output: {other:?}")),
        }
    }
}

/// Writes a line to standard output; a closed pipe ends the command
/// quietly ([`Failure::ClosedOutput`]) instead of panicking as `println!`
/// would.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::write_out(format_args!("\n"))?
    };
    ($($arg:tt)*) => {
        $crate::write_out(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

/// [`outln!`]'s writer.
pub fn write_out(args: std::fmt::Arguments<'_>) -> Result<(), Failure> {
    use std::io::Write;
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(|e| Failure::output(&e))
}

/// What a command returns.
pub type Outcome = Result<ExitCode, Failure>;

/// The store the command runs on, and the engine over it.
pub struct Opened {
    /// The engine over the store.
    pub engine: Engine,
    /// The store by backend, for backend-specific commands (`verify`).
    pub store: OpenedStore,
}

/// Opens the store; `create`: also when it is not there yet (`init`,
/// `config load`, `import`), else a missing store is refused.
async fn open(spec: &str, sled_cache_mb: u64, create: bool) -> Result<Opened, Failure> {
    let parsed = spec
        .parse::<StoreSpec>()
        .map_err(|e| Failure::Usage(format!("--store: {e}")))?;
    let fail = |e: &dyn std::fmt::Display| Failure::Error(format!("store {parsed}: {e}"));
    let mut options = StoreOptions::default();
    if matches!(parsed, StoreSpec::Sled(_)) {
        options = options.with_sled_cache_bytes(sled_cache_mb.saturating_mul(1024 * 1024));
    }
    if !create {
        options.create = Some(false);
    }
    let store = open_store(spec, &options).await.map_err(|e| match e.code().name {
        "not_a_crcm_store" if !create => Failure::Error(format!(
            "no crcm store at {parsed}: create one with `crcm init` or `crcm config load FILE`"
        )),
        _ => fail(&e),
    })?;
    let engine = Engine::open(store.store()).await.map_err(|e| fail(&e))?;
    Ok(Opened { engine, store })
}

fn actor(cli: &Cli) -> Result<Actor, Failure> {
    let user = UserId::new(&cli.user).map_err(|e| Failure::Usage(format!("--user: {e}")))?;
    let role: Role = commands::parse_word(&cli.role, "--role")?;
    Ok(Actor::new(user, role))
}

/// Whether a command may create the store it names.
fn creates_store(command: &Cmd) -> bool {
    matches!(
        command,
        Cmd::Init
            | Cmd::Import(ImportArgs { then: None, .. })
            | Cmd::Config {
                action: ConfigCmd::Load { .. }
            }
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = async {
        if let Cmd::Generate { file, rows, force } = &cli.command {
            generate::generate(file, *rows, *force)?;
            return Ok(ExitCode::SUCCESS);
        }
        let actor = actor(&cli)?;
        let opened = open(&cli.store, cli.sled_cache_mb, creates_store(&cli.command)).await?;
        commands::run(&opened, &actor, cli.command).await
    }
    .await;
    match result {
        Ok(code) => code,
        Err(Failure::Error(message)) => {
            eprintln!("crcm: {message}");
            ExitCode::from(exit::ERROR)
        }
        Err(Failure::Usage(message)) => {
            eprintln!("crcm: {message}");
            eprintln!("For more information, try '--help'.");
            ExitCode::from(exit::USAGE)
        }
        Err(Failure::ClosedOutput) => ExitCode::from(exit::OK),
    }
}

//! crcm next to a hand-written raw baseline on the same storage, in one
//! process, alternating, several rounds: what crcm costs over the storage it
//! sits on, and whether its reads stay flat as the store grows.
//!
//! ```text
//! cargo bench --bench sidebyside --all-features -- --backend sled|sqlite|postgres|mysql \
//!     [--quick] [--scale 10k,100k,1m] [--out DIR]
//! ```
//!
//! PostgreSQL and MySQL come from `CRCM_TEST_POSTGRES_URL` and
//! `CRCM_TEST_MYSQL_URL`; each run works in schemas (PostgreSQL) or
//! databases (MySQL) of its own and drops them at the end. Every workload
//! prints its figures and one machine-readable line:
//! `ratio <name> <value> target <op> <bound> <ok|MISS>`. Times are ratios of
//! the two sides measured in the same rounds; `read_scaling_*`,
//! `reports_*` and `import_rss` compare counts and bytes, which noise does
//! not move, so CI fails on them (`--fail-on read_scaling,import_rss`).
//! The raw baselines are in `raw_sled.rs` and `raw_sql.rs`; README's
//! performance section says what each writes and reads.

mod chart;
mod crcm_side;
mod data;
mod raw_sled;
mod raw_sql;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crcm::open::{OpenedStore, StoreOptions};
use crcm::store::query::Cursor;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

use crate::crcm_side::{CrcmSide, Reads};
use crate::raw_sled::RawSled;
use crate::raw_sql::RawSql;

/// Any error, sendable across tasks.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What the command line asks.
struct Args {
    backend: String,
    quick: bool,
    scales: Vec<usize>,
    /// Where the result table goes (a file per backend).
    out: Option<std::path::PathBuf>,
    /// Target names whose MISS fails the run (prefixes).
    fail_on: Vec<String>,
    /// `import ...` or `open SPEC`: a child run measuring memory.
    child: Option<Vec<String>>,
    /// Draw the chart from the result files in this directory, and stop.
    chart: Option<std::path::PathBuf>,
}

fn parse_count(text: &str) -> Result<usize> {
    let t = text.trim().to_lowercase();
    let (digits, factor) = if let Some(d) = t.strip_suffix('k') {
        (d, 1_000)
    } else if let Some(d) = t.strip_suffix('m') {
        (d, 1_000_000)
    } else {
        (t.as_str(), 1)
    };
    Ok(digits.parse::<usize>().map_err(|e| format!("{text:?}: {e}"))? * factor)
}

impl Args {
    /// cargo's own `--bench` is ignored.
    fn parse() -> Result<Self> {
        let mut out = Self {
            backend: "sled".into(),
            quick: false,
            scales: Vec::new(),
            out: None,
            fail_on: Vec::new(),
            child: None,
            chart: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--backend" => out.backend = args.next().ok_or("--backend needs a name")?,
                "--quick" => out.quick = true,
                "--scale" => {
                    let list = args.next().ok_or("--scale needs a list like 10k,100k")?;
                    out.scales = list.split(',').map(parse_count).collect::<Result<_>>()?;
                }
                "--out" => out.out = Some(args.next().ok_or("--out needs a directory")?.into()),
                "--fail-on" => {
                    let list = args.next().ok_or("--fail-on needs names")?;
                    out.fail_on = list.split(',').map(str::to_owned).collect();
                }
                "--child" => out.child = Some(args.by_ref().collect()),
                "--chart" => out.chart = Some(args.next().ok_or("--chart needs a directory")?.into()),
                _ => {}
            }
            if out.child.is_some() {
                break;
            }
        }
        if out.scales.is_empty() {
            out.scales = if out.quick {
                vec![2_000, 10_000]
            } else {
                vec![10_000, 100_000]
            };
        }
        out.scales.sort_unstable();
        out.scales.dedup();
        if out.scales.len() < 2 {
            return Err(
                "--scale needs two sizes at least: reads are compared between the smallest and the largest".into(),
            );
        }
        Ok(out)
    }
}

/// The raw side of one backend.
enum Raw {
    Sled(RawSled),
    Sql(RawSql),
}

/// Where one run keeps its stores, and how to clean up.
struct Place {
    backend: String,
    /// The temporary directory of embedded stores (and import files).
    dir: tempfile::TempDir,
    crcm_spec: String,
    crcm_options: StoreOptions,
    /// The server's administration connection, and what to drop at the end.
    admin: Option<(DatabaseConnection, Vec<String>)>,
    raw_url: String,
    raw_schema: Option<String>,
}

fn server_url(var: &str) -> Result<String> {
    std::env::var(var).map_err(|_| format!("{var} is not set: it names the server this backend runs on").into())
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let head = base.rsplit_once('/').map_or(base, |(h, _)| h);
    match query {
        Some(q) => format!("{head}/{name}?{q}"),
        None => format!("{head}/{name}"),
    }
}

impl Place {
    async fn new(backend: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let tag = &crcm::uuid::Uuid::now_v7().simple().to_string()[20..];
        let mut crcm_options = StoreOptions::default();
        let place = match backend {
            "sled" => Self {
                crcm_spec: format!("sled:{}", dir.path().join("crcm").display()),
                raw_url: dir.path().join("raw").display().to_string(),
                raw_schema: None,
                admin: None,
                crcm_options,
                backend: backend.into(),
                dir,
            },
            "sqlite" => Self {
                crcm_spec: format!("sqlite://{}", dir.path().join("crcm.db").display()),
                raw_url: format!("sqlite://{}?mode=rwc", dir.path().join("raw.db").display()),
                raw_schema: None,
                admin: None,
                crcm_options,
                backend: backend.into(),
                dir,
            },
            "postgres" => {
                let url = server_url("CRCM_TEST_POSTGRES_URL")?;
                let admin = Database::connect(url.as_str()).await?;
                let (ours, raw) = (format!("crcm_bench_{tag}"), format!("crcm_bench_raw_{tag}"));
                admin.execute_unprepared(&format!("CREATE SCHEMA {raw}")).await?;
                crcm_options.schema = Some(ours.clone());
                Self {
                    crcm_spec: url.clone(),
                    raw_url: url,
                    raw_schema: Some(raw.clone()),
                    admin: Some((
                        admin,
                        vec![
                            format!("DROP SCHEMA {ours} CASCADE"),
                            format!("DROP SCHEMA {raw} CASCADE"),
                        ],
                    )),
                    crcm_options,
                    backend: backend.into(),
                    dir,
                }
            }
            "mysql" => {
                let url = server_url("CRCM_TEST_MYSQL_URL")?;
                let admin = Database::connect(url.as_str()).await?;
                let (ours, raw) = (format!("crcm_bench_{tag}"), format!("crcm_bench_raw_{tag}"));
                for name in [&ours, &raw] {
                    admin.execute_unprepared(&format!("CREATE DATABASE `{name}`")).await?;
                }
                Self {
                    crcm_spec: with_database(&url, &ours),
                    raw_url: with_database(&url, &raw),
                    raw_schema: None,
                    admin: Some((
                        admin,
                        vec![format!("DROP DATABASE `{ours}`"), format!("DROP DATABASE `{raw}`")],
                    )),
                    crcm_options,
                    backend: backend.into(),
                    dir,
                }
            }
            other => return Err(format!("--backend {other}: not one of sled, sqlite, postgres, mysql").into()),
        };
        Ok(place)
    }

    /// The count of read work for crcm's store.
    async fn reads(&self, opened: &OpenedStore) -> Result<Reads> {
        Ok(match (opened, self.backend.as_str()) {
            (OpenedStore::Sled(store), _) => Reads::Sled(store.clone()),
            (OpenedStore::Sql(store), "sqlite") => Reads::Sqlite(store.connection().clone()),
            (OpenedStore::Sql(_), "postgres") => Reads::Postgres {
                admin: Database::connect(self.crcm_spec.as_str()).await?,
                schema: self.crcm_options.schema.clone().unwrap_or_default(),
            },
            (OpenedStore::Sql(_), _) => Reads::Mysql(Database::connect(self.crcm_spec.as_str()).await?),
            #[allow(unreachable_patterns)]
            _ => return Err("a store of another backend".into()),
        })
    }

    async fn raw(&self, sample: &crcm::Lead) -> Result<Raw> {
        if self.backend == "sled" {
            return Ok(Raw::Sled(RawSled::open(std::path::Path::new(&self.raw_url), sample)?));
        }
        let len = serde_json::to_vec(sample)?.len();
        Ok(Raw::Sql(
            RawSql::open(&self.raw_url, self.raw_schema.as_deref(), len).await?,
        ))
    }

    /// Bytes on disk of crcm's store and the raw side's.
    async fn footprint(&self) -> Result<(u64, u64)> {
        fn du(path: &std::path::Path) -> u64 {
            let Ok(meta) = std::fs::metadata(path) else { return 0 };
            if meta.is_file() {
                return meta.len();
            }
            std::fs::read_dir(path)
                .map(|d| d.flatten().map(|e| du(&e.path())).sum())
                .unwrap_or(0)
        }
        let files = |name: &str| -> u64 {
            ["", "-wal", "-journal", "-shm"]
                .iter()
                .map(|s| du(&self.dir.path().join(format!("{name}{s}"))))
                .sum()
        };
        match self.backend.as_str() {
            "sled" => Ok((du(&self.dir.path().join("crcm")), du(&self.dir.path().join("raw")))),
            "sqlite" => Ok((files("crcm.db"), files("raw.db"))),
            _ => {
                let (admin, _) = self.admin.as_ref().ok_or("no server")?;
                let (ours, raw) = match self.backend.as_str() {
                    "postgres" => (
                        self.crcm_options.schema.clone().unwrap_or_default(),
                        self.raw_schema.clone().unwrap_or_default(),
                    ),
                    _ => (db_name(&self.crcm_spec), db_name(&self.raw_url)),
                };
                let mut out = [0u64; 2];
                for (k, name) in [ours, raw].iter().enumerate() {
                    let text = if self.backend == "postgres" {
                        format!(
                            "SELECT COALESCE(SUM(pg_total_relation_size(format('%I.%I', schemaname, tablename))), 0)::bigint \
                             FROM pg_tables WHERE schemaname = '{name}'"
                        )
                    } else {
                        for t in admin
                            .query_all_raw(Statement::from_string(
                                admin.get_database_backend(),
                                format!(
                                    "SELECT table_name FROM information_schema.tables WHERE table_schema = '{name}'"
                                ),
                            ))
                            .await?
                        {
                            let table: String = t.try_get_by_index(0)?;
                            admin
                                .execute_unprepared(&format!("ANALYZE TABLE `{name}`.`{table}`"))
                                .await?;
                        }
                        format!(
                            "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS SIGNED) \
                             FROM information_schema.tables WHERE table_schema = '{name}'"
                        )
                    };
                    let row = admin
                        .query_one_raw(Statement::from_string(admin.get_database_backend(), text))
                        .await?
                        .ok_or("no size")?;
                    out[k] = row.try_get_by_index::<i64>(0)?.max(0) as u64;
                }
                Ok((out[0], out[1]))
            }
        }
    }

    async fn drop_all(&self) -> Result<()> {
        if let Some((admin, drops)) = &self.admin {
            for d in drops {
                admin.execute_unprepared(d).await?;
            }
        }
        Ok(())
    }
}

fn db_name(url: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    base.rsplit('/').next().unwrap_or("").to_owned()
}

/// The median of some durations.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// A read both sides answer.
#[derive(Clone)]
enum Read {
    /// Page one of an owner's open leads.
    List,
    /// Page two of it.
    NextPage(Option<Cursor>, Option<i64>),
    /// The search box with a phone, an e-mail, a name.
    Phone(String),
    Email(String),
    Name(String),
    Board,
}

impl Read {
    fn name(&self) -> &'static str {
        match self {
            Self::List => "list",
            Self::NextPage(..) => "next_page",
            Self::Phone(_) => "search_phone",
            Self::Email(_) => "search_email",
            Self::Name(_) => "search_name",
            Self::Board => "board",
        }
    }
}

const LIST_OWNER: &str = "rep07";

async fn crcm_read(side: &CrcmSide, read: &Read) -> Result<usize> {
    Ok(match read {
        Read::List => side.list(LIST_OWNER, None).await?.0,
        Read::NextPage(None, _) => 0,
        Read::NextPage(cursor, _) => side.list(LIST_OWNER, *cursor).await?.0,
        Read::Phone(t) | Read::Email(t) | Read::Name(t) => side.search(t).await?,
        Read::Board => side.board().await?,
    })
}

async fn raw_read(raw: &Raw, read: &Read) -> Result<usize> {
    Ok(match (raw, read) {
        (Raw::Sled(r), Read::List) => r.list(LIST_OWNER, None)?.0,
        (_, Read::NextPage(_, None)) => 0,
        (Raw::Sled(r), Read::NextPage(_, after)) => r.list(LIST_OWNER, after.map(|a| a as u64))?.0,
        (Raw::Sled(r), Read::Phone(t)) => r.by(b"t", &e164(t))?,
        (Raw::Sled(r), Read::Email(t)) => r.by(b"e", t)?,
        (Raw::Sled(r), Read::Name(t)) => r.by_words(&name_words(t))?,
        (Raw::Sled(r), Read::Board) => r.board()?,
        (Raw::Sql(r), Read::List) => r.list(LIST_OWNER, None).await?.0,
        (Raw::Sql(r), Read::NextPage(_, after)) => r.list(LIST_OWNER, *after).await?.0,
        (Raw::Sql(r), Read::Phone(t)) => r.by("phone", &e164(t)).await?,
        (Raw::Sql(r), Read::Email(t)) => r.by("email", t).await?,
        (Raw::Sql(r), Read::Name(t)) => r.by_words(&name_words(t)).await?,
        (Raw::Sql(r), Read::Board) => r.board().await?,
    })
}

/// A phone as typed (`+1 212 200 0001`) in the E.164 form the data holds.
fn e164(typed: &str) -> String {
    typed.chars().filter(|c| *c == '+' || c.is_ascii_digit()).collect()
}

fn name_words(typed: &str) -> Vec<String> {
    typed.split_whitespace().map(str::to_lowercase).collect()
}

/// A phone written as people type it.
fn typed_phone(e164: &str) -> String {
    let d = &e164[2..];
    format!("+1 {} {} {}", &d[0..3], &d[3..6], &d[6..])
}

/// What one scale measured.
#[derive(Default)]
struct AtScale {
    leads: usize,
    /// Per read: crcm's median, raw's median, crcm's read count.
    reads: BTreeMap<&'static str, (Duration, Duration, u64)>,
    /// Per report: crcm's median and read count.
    reports: BTreeMap<&'static str, (Duration, u64)>,
    /// crcm's and raw's time to load this scale's leads, and how many.
    load: (Duration, Duration, usize),
    /// Peak memory of crcm's import, KiB.
    import_peak_kib: f64,
    /// Opening crcm's store: seconds, and MiB resident after (embedded backends).
    open: Option<(f64, f64)>,
    footprint: (u64, u64),
}

/// The lines the run prints at the end.
#[derive(Default)]
struct Verdicts {
    lines: Vec<String>,
    failed: Vec<String>,
}

impl Verdicts {
    fn add(&mut self, name: &str, value: f64, op: &str, bound: f64, fail_on: &[String]) {
        let ok = if op == ">=" { value >= bound } else { value <= bound };
        let line = format!(
            "ratio {name} {value:.2} target {op} {bound} {}",
            if ok { "ok" } else { "MISS" }
        );
        println!("{line}");
        if !ok && fail_on.iter().any(|f| name.starts_with(f.as_str())) {
            self.failed.push(line.clone());
        }
        self.lines.push(line);
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A memory figure of this process from `/proc/self/status`, in KiB:
/// `VmHWM` (the peak resident set) or `VmRSS` (the resident set now).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// Peak resident memory of this process, in KiB.
fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

/// Resident memory of this process now, in KiB.
fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// Writes `set` as an import file under `dir`.
fn import_file(dir: &std::path::Path, set: data::Set) -> Result<std::fs::File> {
    use std::io::{Seek, Write};
    let path = dir.join(format!("import-{}.csv", set.leads));
    let mut file = std::fs::File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let mut at = 0;
    file.write_all(data::HEADER.as_bytes())?;
    while at < set.leads {
        let end = (at + 50_000).min(set.leads);
        let text = data::csv(at, end, set);
        file.write_all(&text.as_bytes()[data::HEADER.len()..])?;
        at = end;
    }
    file.rewind()?;
    // The open handle keeps the data; the name goes now.
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// The child runs, each in a process of its own so that its memory is its
/// own: `import LEADS PER_DAY NOW_MICROS SPEC [SCHEMA]` imports that data
/// set into the store and prints the time and its peak memory; `open SPEC`
/// opens a store and prints the time and the memory after.
async fn child(args: &[String]) -> Result<()> {
    match args {
        [what, leads, per_day, now, spec, rest @ ..] if what == "import" => {
            let set = data::Set {
                leads: leads.parse()?,
                per_day: per_day.parse()?,
                now: DateTime::from_timestamp_micros(now.parse()?).ok_or("no such time")?,
            };
            let mut options = StoreOptions::default();
            options.schema = rest.first().cloned();
            let side = CrcmSide::open(spec, &options).await?;
            let dir = tempfile::tempdir()?;
            let file = import_file(dir.path(), set)?;
            let before = peak_rss_kib();
            let start = Instant::now();
            let imported = side.import_file(file).await?;
            let seconds = start.elapsed().as_secs_f64();
            println!(
                "child import {imported} rows in {seconds:.3} s: peak {} KiB (before the import {before} KiB)",
                peak_rss_kib()
            );
            Ok(())
        }
        [what, spec] if what == "open" => {
            let start = Instant::now();
            let side = CrcmSide::open(spec, &StoreOptions::default()).await?;
            let opened = start.elapsed();
            let (_, version) = side.engine.config().await?;
            println!(
                "child open in {:.3} s: {} KiB resident after, peak {} KiB (configuration {version})",
                opened.as_secs_f64(),
                rss_kib(),
                peak_rss_kib()
            );
            Ok(())
        }
        _ => Err(format!("--child {args:?}: not import LEADS PER_DAY NOW SPEC or open SPEC").into()),
    }
}

/// Runs this harness as a child; its last line.
fn run_child(args: &[&str]) -> Result<String> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .arg("--child")
        .args(args)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "child {args:?} failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(text.lines().last().unwrap_or("").to_owned())
}

/// The number after `key` in `line`.
fn number_after(line: &str, key: &str) -> Result<f64> {
    line.split_once(key)
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .ok_or_else(|| format!("no number after {key:?} in {line:?}").into())
}

fn main() -> Result<()> {
    let args = Args::parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Some(child_args) = &args.child {
        return runtime.block_on(child(child_args));
    }
    if let Some(dir) = &args.chart {
        println!("wrote {}", chart::draw(dir)?.display());
        return Ok(());
    }
    runtime.block_on(run(&args))
}

async fn run(args: &Args) -> Result<()> {
    let (report, table, failed) = measure(args).await?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(format!("{}.txt", args.backend)), report)?;
        std::fs::write(dir.join(format!("{}.tsv", args.backend)), table)?;
    }
    if !failed.is_empty() {
        return Err(format!("targets missed: {}", failed.join("; ")).into());
    }
    Ok(())
}

/// Prints a line and keeps it for the report.
fn say(text: &mut String, line: &str) {
    println!("{line}");
    text.push_str(line);
    text.push('\n');
}

/// The durable single-writer create and move, side by side, and eight
/// writers against one; returns a lead as crcm stores it.
async fn writes(args: &Args, text: &mut String, verdicts: &mut Verdicts) -> Result<crcm::Lead> {
    let place = Place::new(&args.backend).await?;
    let outcome = async {
        let mut crcm = CrcmSide::open(&place.crcm_spec, &place.crcm_options).await?;
        let sample = crcm.create(usize::MAX / 2).await?;
        let mut raw = place.raw(&sample).await?;
        if let Raw::Sled(s) = &raw {
            let (record, entries, moved, lookups) = s.shape();
            say(
                text,
                &format!(
                    "raw sled writes a lead as a {record}-byte record, {entries} index entries ({moved} rewritten by a move), \
                     a history entry, an event, its board cell and {lookups} lookup versions"
                ),
            );
        }
        let (rounds, per_round) = if args.quick { (5, 20) } else { (15, 50) };
        let mut w = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut i = 0usize;
        let set = data::Set {
            leads: 40_000_000,
            per_day: 1.0,
            now: Utc::now(),
        };
        for round in 0..rounds * 2 {
            let creating = round < rounds;
            for side in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
                let start = Instant::now();
                for k in 0..per_round {
                    let n = i + k;
                    // The raw side's leads are the actor's, as crcm's are.
                    let mut r = data::row(20_000_000 + n, set);
                    r.owner = "maria".into();
                    match (side, creating, &mut raw) {
                        (0, true, _) => drop(crcm.create(n).await?),
                        (0, false, _) => crcm.move_one(n).await?,
                        (_, true, Raw::Sled(s)) => s.create(&r)?,
                        (_, false, Raw::Sled(s)) => s.move_one(n, &r)?,
                        (_, true, Raw::Sql(s)) => s.create(&r).await?,
                        (_, false, Raw::Sql(s)) => s.move_one(n).await?,
                    }
                }
                let per = start.elapsed() / per_round as u32;
                match (side, creating) {
                    (0, true) => w.0.push(per),
                    (_, true) => w.1.push(per),
                    (0, false) => w.2.push(per),
                    _ => w.3.push(per),
                }
            }
            i += per_round;
        }
        for (name, ours, theirs) in [("create", median(w.0), median(w.1)), ("move", median(w.2), median(w.3))] {
            say(
                text,
                &format!(
                    "{name:<8} durable, 1 writer: crcm {:>8.1} µs/op, raw {:>8.1} µs/op ({rounds} rounds of {per_round})",
                    micros(ours),
                    micros(theirs)
                ),
            );
            verdicts.add(name, theirs.as_secs_f64() / ours.as_secs_f64().max(1e-12), ">=", 0.8, &args.fail_on);
        }

        // Eight writers on distinct leads against one.
        let per_writer = if args.quick { 25 } else { 100 };
        let start = Instant::now();
        for k in 0..per_writer * 2 {
            drop(crcm.create(30_000_000 + k).await?);
        }
        let one = (per_writer * 2) as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..8 {
            let engine = crcm.engine.clone();
            let actor = crcm.actor.clone();
            tasks.push(tokio::spawn(async move {
                for k in 0..per_writer {
                    let lead = crcm_side::new_lead(31_000_000 + t * 10_000 + k)?;
                    engine.run(&actor, crcm::commands::CreateLead { lead }).await?;
                }
                Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let eight = (per_writer * 8) as f64 / start.elapsed().as_secs_f64();
        say(text, &format!("group    8 writers {eight:.0} creates/s, 1 writer {one:.0} creates/s"));
        if matches!(args.backend.as_str(), "sled" | "postgres") {
            verdicts.add("group_commit", eight / one.max(1e-9), ">=", 3.0, &args.fail_on);
        } else {
            say(text, &format!("(group_commit is a target on sled and PostgreSQL: {:.2}x here)", eight / one.max(1e-9)));
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(sample)
    }
    .await;
    place.drop_all().await?;
    outcome
}

/// One scale: a new store of each side loaded with `set`, then the reads.
async fn at_scale(args: &Args, set: data::Set, sample: &crcm::Lead, text: &mut String) -> Result<AtScale> {
    let place = Place::new(&args.backend).await?;
    let outcome = async {
        let mut at = AtScale {
            leads: set.leads,
            ..AtScale::default()
        };
        // crcm imports in a child process, whose peak memory is the import's.
        let mut child_args = vec![
            "import".to_owned(),
            set.leads.to_string(),
            set.per_day.to_string(),
            set.now.timestamp_micros().to_string(),
            place.crcm_spec.clone(),
        ];
        if let Some(s) = &place.crcm_options.schema {
            child_args.push(s.clone());
        }
        let line = run_child(&child_args.iter().map(String::as_str).collect::<Vec<_>>())?;
        say(text, &line);
        let ours = Duration::from_secs_f64(number_after(&line, " rows in ")?);
        at.import_peak_kib = number_after(&line, "peak ")?;
        let mut raw = place.raw(sample).await?;
        let rows: Vec<data::Row> = (0..set.leads).map(|i| data::row(i, set)).collect();
        let start = Instant::now();
        match &mut raw {
            Raw::Sled(s) => s.load(&rows, 1_000)?,
            Raw::Sql(s) => s.load(&rows, 1_000).await?,
        }
        at.load = (ours, start.elapsed(), set.leads);
        drop(rows);
        if matches!(args.backend.as_str(), "sled" | "sqlite") {
            let line = run_child(&["open", &place.crcm_spec])?;
            say(text, &line);
            at.open = Some((number_after(&line, "open in ")?, number_after(&line, ": ")? / 1024.0));
        }
        let crcm = CrcmSide::open(&place.crcm_spec, &place.crcm_options).await?;
        let reads = place.reads(&crcm.opened).await?;
        let read_rounds = if args.quick { 5 } else { 11 };

        // The same reads at every scale: the newest leads' phone, e-mail and name.
        let probe = data::row(set.leads - 7, set);
        let cursor = crcm.list(LIST_OWNER, None).await?.1;
        let after = match &raw {
            Raw::Sled(s) => s.list(LIST_OWNER, None)?.1.map(|n| n as i64),
            Raw::Sql(s) => s.list(LIST_OWNER, None).await?.1,
        };
        let reads_list = [
            Read::List,
            Read::NextPage(cursor, after),
            Read::Phone(typed_phone(&probe.phone)),
            Read::Email(probe.email.clone()),
            Read::Name(format!("{} {}", probe.first, probe.last)),
            Read::Board,
        ];
        for read in &reads_list {
            // Warm both, count crcm's work for one run, then time them.
            let found = crcm_read(&crcm, read).await?;
            let raw_found = raw_read(&raw, read).await?;
            let before = reads.total().await?;
            crcm_read(&crcm, read).await?;
            let cost = reads.total().await?.saturating_sub(before);
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            for round in 0..read_rounds {
                for side in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
                    let start = Instant::now();
                    if side == 0 {
                        crcm_read(&crcm, read).await?;
                        ours.push(start.elapsed());
                    } else {
                        raw_read(&raw, read).await?;
                        theirs.push(start.elapsed());
                    }
                }
            }
            if found != raw_found {
                say(
                    text,
                    &format!("note: {} found {found} on crcm and {raw_found} raw", read.name()),
                );
            }
            at.reads.insert(read.name(), (median(ours), median(theirs), cost));
        }
        for report in ["sources", "funnel", "reasons"] {
            crcm.report(report, set.now).await?;
            let before = reads.total().await?;
            crcm.report(report, set.now).await?;
            let cost = reads.total().await?.saturating_sub(before);
            let mut times = Vec::new();
            for _ in 0..read_rounds {
                let start = Instant::now();
                crcm.report(report, set.now).await?;
                times.push(start.elapsed());
            }
            let name: &'static str = match report {
                "sources" => "reports_sources",
                "funnel" => "reports_funnel",
                _ => "reports_reasons",
            };
            at.reports.insert(name, (median(times), cost));
        }
        drop(reads);
        drop(crcm);
        at.footprint = place.footprint().await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(at)
    }
    .await;
    place.drop_all().await?;
    outcome
}

/// Runs every workload; the report, the reads as a table (tab-separated),
/// and the failed target lines.
async fn measure(args: &Args) -> Result<(String, String, Vec<String>)> {
    let mut text = String::new();
    let mut tsv = "leads\tread\tcrcm_us\traw_us\tcrcm_reads\n".to_owned();
    let started = Instant::now();
    let mut verdicts = Verdicts::default();
    let fail_on = &args.fail_on;
    say(
        &mut text,
        &format!(
            "{} | {} | scales {:?} | {}",
            args.backend,
            if args.quick { "quick" } else { "full" },
            args.scales,
            Utc::now().format("%Y-%m-%d")
        ),
    );
    let sample = writes(args, &mut text, &mut verdicts).await?;

    // Each scale in new stores, the smallest holding 120 days of leads (a
    // whole pipeline: leads are worked for 90).
    let per_day = args.scales[0] as f64 / 120.0;
    let now = Utc::now();
    let mut scales: Vec<AtScale> = Vec::new();
    for &leads in &args.scales {
        let set = data::Set { leads, per_day, now };
        let at = at_scale(args, set, &sample, &mut text).await?;
        let mut table = format!(
            "\n@ {} leads ({:.0} a day): import crcm {:.1} s, raw {:.1} s; on disk crcm {} bytes/lead, raw {}\n{:<16} {:>12} {:>12} {:>7} {:>12}\n",
            at.leads,
            per_day,
            at.load.0.as_secs_f64(),
            at.load.1.as_secs_f64(),
            at.footprint.0 / at.leads.max(1) as u64,
            at.footprint.1 / at.leads.max(1) as u64,
            "read",
            "crcm µs",
            "raw µs",
            "ratio",
            "crcm reads"
        );
        for (name, (ours, theirs, cost)) in &at.reads {
            writeln!(
                tsv,
                "{}\t{name}\t{:.1}\t{:.1}\t{cost}",
                at.leads,
                micros(*ours),
                micros(*theirs)
            )?;
            writeln!(
                table,
                "{name:<16} {:>12.1} {:>12.1} {:>7.2} {cost:>12}",
                micros(*ours),
                micros(*theirs),
                ours.as_secs_f64() / theirs.as_secs_f64().max(1e-12)
            )?;
        }
        for (name, (ours, cost)) in &at.reports {
            writeln!(
                table,
                "{name:<16} {:>12.1} {:>12} {:>7} {cost:>12}",
                micros(*ours),
                "-",
                "-"
            )?;
        }
        print!("{table}");
        text.push_str(&table);
        scales.push(at);
    }

    // The verdicts: times at the largest scale, counts largest / smallest.
    let (small, large) = (scales.first().ok_or("no scale")?, scales.last().ok_or("no scale")?);
    println!();
    let time_ratio = |name: &str| {
        large
            .reads
            .get(name)
            .map_or(f64::NAN, |(o, t, _)| o.as_secs_f64() / t.as_secs_f64().max(1e-12))
    };
    verdicts.add("list_vs_raw", time_ratio("list"), "<=", 1.5, fail_on);
    for s in ["search_phone", "search_email", "search_name"] {
        verdicts.add(&format!("search_vs_raw_{}", &s[7..]), time_ratio(s), "<=", 2.0, fail_on);
    }
    let count_ratio = |a: u64, b: u64| (a.max(1) as f64) / (b.max(1) as f64);
    for (name, (_, _, cost)) in &large.reads {
        let base = small.reads.get(name).map_or(0, |r| r.2);
        verdicts.add(
            &format!("read_scaling_{name}"),
            count_ratio(*cost, base),
            "<=",
            2.0,
            fail_on,
        );
    }
    for (name, (_, cost)) in &large.reports {
        let base = small.reports.get(name).map_or(0, |r| r.1);
        verdicts.add(name, count_ratio(*cost, base), "<=", 2.0, fail_on);
    }
    let (ours, theirs, n) = large.load;
    say(
        &mut text,
        &format!(
            "import   {n} rows: crcm {:.0} rows/s, raw {:.0} rows/s",
            n as f64 / ours.as_secs_f64(),
            n as f64 / theirs.as_secs_f64()
        ),
    );
    verdicts.add(
        "import",
        theirs.as_secs_f64() / ours.as_secs_f64().max(1e-12),
        ">=",
        0.5,
        fail_on,
    );
    verdicts.add(
        "import_rss",
        large.import_peak_kib / small.import_peak_kib.max(1.0),
        "<=",
        1.5,
        fail_on,
    );
    verdicts.add(
        "footprint",
        large.footprint.0 as f64 / large.footprint.1.max(1) as f64,
        "<=",
        1.5,
        fail_on,
    );
    if let Some((seconds, mib)) = large.open {
        verdicts.add("open_seconds", seconds, "<=", 1.0, fail_on);
        // 64 MiB plus the configured cache: sled's 64 MiB, SQLite's 2 MiB.
        let cache = if args.backend == "sled" { 64.0 } else { 2.0 };
        verdicts.add("open_mib", mib, "<=", 64.0 + cache, fail_on);
    }
    let line = format!("done in {:.0} s", started.elapsed().as_secs_f64());
    println!("{line}");
    for l in &verdicts.lines {
        writeln!(text, "{l}")?;
    }
    writeln!(text, "{line}")?;
    Ok((text, tsv, verdicts.failed))
}

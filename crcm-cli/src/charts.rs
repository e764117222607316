//! SVG charts of the board and the reports, drawn with plotters.
//!
//! Every chart names what a manager sees on the board: phases by their
//! names, account types by their names; text is at least 16 px on a
//! 1000 x 600 picture. A chart is a [`Chart`] (title, axis, bars or lines
//! with their labels) built from a report, then drawn; the tests check the
//! charts' labels, not their pixels.

use std::path::Path;

use crcm::Config;
use crcm::engine::board::Board;
use crcm::engine::reports::{ForecastRow, Funnel, PhaseTimeRow, ReasonRow, SourceRow, TrendRow, WorkloadRow};
use crcm::{Code, PhaseRef};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Failure, Report};

/// The picture's size in pixels.
const SIZE: (u32, u32) = (1000, 600);
/// Text sizes as plotters takes them: it writes `font-size` as the size
/// divided by 1.24, so these are 27, 18.5 and 16 px in the picture.
const TITLE_PX: u32 = 34;
const TEXT_PX: u32 = 23;
const NOTE_PX: u32 = 20;

/// Colours: one per series, and the outcomes of closing phases.
const BLUE: RGBColor = RGBColor(0x1E, 0x88, 0xE5);
const ORANGE: RGBColor = RGBColor(0xFB, 0x8C, 0x00);
const GREEN: RGBColor = RGBColor(0x43, 0xA0, 0x47);
const RED: RGBColor = RGBColor(0xE5, 0x39, 0x35);
const GREY: RGBColor = RGBColor(0x75, 0x75, 0x75);
const SERIES: [RGBColor; 4] = [BLUE, GREEN, ORANGE, RED];

/// One bar of a group: its value, the text above it, its colour.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// The height.
    pub value: f64,
    /// Written above the bar.
    pub note: String,
    /// The bar's colour.
    pub colour: RGBColor,
}

/// Bars side by side under one label (one bar for a simple bar chart).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Under the group.
    pub label: String,
    /// The bars, left to right.
    pub bars: Vec<Bar>,
    /// A wider space before this group (between the funnel's way and its
    /// closing phases).
    pub gap_before: bool,
}

/// What a chart shows, before it is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// Groups of bars.
    Bars(Vec<Group>),
    /// Lines over labelled points: the labels, then each series' values.
    Lines {
        /// Under each point.
        labels: Vec<String>,
        /// The lines.
        series: Vec<(String, RGBColor, Vec<f64>)>,
    },
}

/// A chart: its title, a line saying how to read it, the value axis, the
/// legend and the body.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The title.
    pub title: String,
    /// How to read it.
    pub subtitle: String,
    /// The value axis.
    pub y_label: String,
    /// The series' names and colours (empty: no legend).
    pub legend: Vec<(String, RGBColor)>,
    /// Bars or lines.
    pub body: Body,
}

impl Chart {
    /// Every text the chart shows: title, subtitle, axis, legend, labels
    /// and notes (what the tests check).
    #[cfg(test)]
    pub fn texts(&self) -> Vec<String> {
        let mut out = vec![self.title.clone(), self.y_label.clone()];
        out.extend(self.subtitle.lines().map(str::to_owned));
        out.extend(self.legend.iter().map(|(name, _)| name.clone()));
        match &self.body {
            Body::Bars(groups) => {
                for g in groups {
                    out.push(g.label.clone());
                    out.extend(g.bars.iter().map(|b| b.note.clone()).filter(|n| !n.is_empty()));
                }
            }
            Body::Lines { labels, series } => {
                out.extend(labels.iter().cloned());
                out.extend(series.iter().map(|(name, _, _)| name.clone()));
            }
        }
        out
    }
}

fn failed(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::Error(format!("{}: {e}", path.display()))
}

/// Whether `--svg` draws this report (the others are refused, not ignored).
pub fn draws(report: Report) -> bool {
    !matches!(report, Report::Stuck | Report::Quality)
}

fn font(px: u32) -> TextStyle<'static> {
    ("sans-serif", px).into_font().color(&BLACK)
}

fn anchored(px: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    font(px).pos(Pos::new(h, v))
}

/// Draws the chart as an SVG file.
pub fn draw(chart: &Chart, path: &Path) -> Result<(), Failure> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(path, e))?;
    let (width, _) = SIZE;
    let centre = i32::try_from(width / 2).unwrap_or(500);
    root.draw(&Text::new(
        chart.title.clone(),
        (centre, 14),
        anchored(TITLE_PX, HPos::Center, VPos::Top),
    ))
    .map_err(|e| failed(path, e))?;
    // The subtitle, a line of text per line it holds.
    let mut below = 52;
    for line in chart.subtitle.lines() {
        root.draw(&Text::new(
            line.to_owned(),
            (centre, below),
            anchored(NOTE_PX, HPos::Center, VPos::Top),
        ))
        .map_err(|e| failed(path, e))?;
        below += 22;
    }
    // The legend, top right, one line per series.
    for (i, (name, colour)) in chart.legend.iter().enumerate() {
        let y = below + 10 + 24 * i32::try_from(i).unwrap_or(0);
        let x = i32::try_from(width).unwrap_or(1000) - 230;
        root.draw(&Rectangle::new([(x, y), (x + 16, y + 16)], colour.filled()))
            .map_err(|e| failed(path, e))?;
        root.draw(&Text::new(
            name.clone(),
            (x + 24, y),
            anchored(NOTE_PX, HPos::Left, VPos::Top),
        ))
        .map_err(|e| failed(path, e))?;
    }
    let top_margin = u32::try_from(below).unwrap_or(80) + 20;
    let plot = root.margin(top_margin, 150, 20, if chart.legend.is_empty() { 20 } else { 250 });
    let empty = match &chart.body {
        Body::Bars(groups) => groups.is_empty(),
        Body::Lines { labels, .. } => labels.is_empty(),
    };
    if empty {
        let (w, h) = plot.dim_in_pixel();
        plot.draw(&Text::new(
            "Nothing to show: no leads in this report".to_owned(),
            (i32::try_from(w / 2).unwrap_or(0), i32::try_from(h / 2).unwrap_or(0)),
            anchored(TEXT_PX, HPos::Center, VPos::Center),
        ))
        .map_err(|e| failed(path, e))?;
        root.present().map_err(|e| failed(path, e))?;
        return Ok(());
    }
    match &chart.body {
        Body::Bars(groups) => draw_bars(&plot, &root, chart, groups, path),
        Body::Lines { labels, series } => draw_lines(&plot, &root, chart, labels, series, path),
    }?;
    root.present().map_err(|e| failed(path, e))?;
    Ok(())
}

/// The top of the value axis: the largest value and room for its note.
fn top_of(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.fold(0.0_f64, f64::max);
    if max <= 0.0 { 1.0 } else { max * 1.15 }
}

fn draw_bars<DB: DrawingBackend>(
    plot: &DrawingArea<DB, plotters::coord::Shift>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &Chart,
    groups: &[Group],
    path: &Path,
) -> Result<(), Failure>
where
    DB::ErrorType: 'static,
{
    // Each group takes one unit of the x axis; a gap half a unit more.
    let mut starts = Vec::with_capacity(groups.len());
    let mut x = 0.0_f64;
    for g in groups {
        if g.gap_before {
            x += 0.5;
        }
        starts.push(x);
        x += 1.0;
    }
    let width = x.max(1.0);
    let top = top_of(groups.iter().flat_map(|g| g.bars.iter().map(|b| b.value)));
    let mut area = ChartBuilder::on(plot)
        .x_label_area_size(0)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..width, 0.0..top)
        .map_err(|e| failed(path, e))?;
    area.configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc(chart.y_label.clone())
        .y_label_style(font(NOTE_PX))
        .axis_desc_style(font(TEXT_PX))
        .y_label_formatter(&|v| axis_number(*v))
        .draw()
        .map_err(|e| failed(path, e))?;
    // How wide one unit of the x axis is in the picture, to fit the text.
    let unit_px = f64::from(area.backend_coord(&(1.0, 0.0)).0 - area.backend_coord(&(0.0, 0.0)).0);
    // Labels that do not fit under their group are turned to read upwards.
    let label_px = |text: &str| text.chars().count() as f64 * f64::from(TEXT_PX) * 0.45;
    let turned = groups.iter().any(|g| label_px(&g.label) > unit_px * 0.95);
    for (g, start) in groups.iter().zip(&starts) {
        let n = g.bars.len().max(1) as f64;
        let slot = 0.8 / n;
        for (i, bar) in g.bars.iter().enumerate() {
            let left = start + 0.1 + slot * i as f64;
            area.draw_series(std::iter::once(Rectangle::new(
                [(left + slot * 0.05, 0.0), (left + slot * 0.95, bar.value)],
                bar.colour.filled(),
            )))
            .map_err(|e| failed(path, e))?;
            // A note that would run into its neighbours' is left out (the
            // table has every figure), and so is a 0 beside other bars.
            let note_px = bar.note.chars().count() as f64 * f64::from(NOTE_PX) * 0.4;
            let shown_bars = g.bars.iter().filter(|b| b.value != 0.0).count();
            let room = if shown_bars <= 1 { unit_px } else { unit_px * slot * 1.3 };
            let fits = note_px <= room;
            let zero_beside_others = bar.value == 0.0 && g.bars.len() > 1;
            if !bar.note.is_empty() && fits && !zero_beside_others {
                area.draw_series(std::iter::once(Text::new(
                    bar.note.clone(),
                    (left + slot / 2.0, bar.value + top * 0.01),
                    anchored(NOTE_PX, HPos::Center, VPos::Bottom),
                )))
                .map_err(|e| failed(path, e))?;
            }
        }
        // The group's label under the axis, in the picture's coordinates.
        let (px, py) = area.backend_coord(&(start + 0.5, 0.0));
        let style = if turned {
            font(NOTE_PX)
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Right, VPos::Center))
        } else {
            anchored(TEXT_PX, HPos::Center, VPos::Top)
        };
        let label = if turned {
            shortened(&g.label, 12)
        } else {
            g.label.clone()
        };
        root.draw(&Text::new(label, (px, py + 10), style))
            .map_err(|e| failed(path, e))?;
    }
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(
    plot: &DrawingArea<DB, plotters::coord::Shift>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &Chart,
    labels: &[String],
    series: &[(String, RGBColor, Vec<f64>)],
    path: &Path,
) -> Result<(), Failure>
where
    DB::ErrorType: 'static,
{
    let points = labels.len().max(1) as f64;
    let top = top_of(series.iter().flat_map(|(_, _, v)| v.iter().copied()));
    let mut area = ChartBuilder::on(plot)
        .x_label_area_size(0)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..points - 0.5, 0.0..top)
        .map_err(|e| failed(path, e))?;
    area.configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc(chart.y_label.clone())
        .y_label_style(font(NOTE_PX))
        .axis_desc_style(font(TEXT_PX))
        .y_label_formatter(&|v| axis_number(*v))
        .draw()
        .map_err(|e| failed(path, e))?;
    for (_, colour, values) in series {
        area.draw_series(LineSeries::new(
            values.iter().enumerate().map(|(i, v)| (i as f64, *v)),
            colour.stroke_width(3),
        ))
        .map_err(|e| failed(path, e))?;
        area.draw_series(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| Circle::new((i as f64, *v), 4, colour.filled())),
        )
        .map_err(|e| failed(path, e))?;
    }
    // At most twelve labels under the axis, evenly spread.
    let every = labels.len().div_ceil(12).max(1);
    for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let (px, py) = area.backend_coord(&(i as f64, 0.0));
        root.draw(&Text::new(
            label.clone(),
            (px, py + 10),
            anchored(NOTE_PX, HPos::Center, VPos::Top),
        ))
        .map_err(|e| failed(path, e))?;
    }
    Ok(())
}

/// At most `max` characters of a label, the last one `…` when it was cut.
fn shortened(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        label.chars().take(max - 1).chain(['…']).collect()
    }
}

/// An axis value: whole numbers as they are, others with one decimal.
fn axis_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The account type's name (its code when it has none configured).
fn account_type_name(config: &Config, code: &Code) -> String {
    config
        .account_type(code)
        .map(|a| a.name.trim())
        .filter(|n| !n.is_empty())
        .map_or_else(|| code.to_string(), str::to_owned)
}

/// A phase's name, its description (its code when it has none).
fn phase_name(config: &Config, account_type: &Code, code: &Code) -> String {
    let reference = PhaseRef {
        account_type: account_type.clone(),
        code: code.clone(),
    };
    config
        .phase(&reference)
        .map(|p| p.description.trim())
        .filter(|n| !n.is_empty())
        .map_or_else(|| code.to_string(), str::to_owned)
}

fn single(label: String, value: u64, note: String, colour: RGBColor) -> Group {
    Group {
        label,
        bars: vec![Bar {
            value: value as f64,
            note,
            colour,
        }],
        gap_before: false,
    }
}

/// The board: open leads per phase, by the phases' names, rotten ones named.
pub fn board(board: &Board, config: &Config) -> Chart {
    let groups = board
        .columns
        .iter()
        .map(|c| {
            let note = if c.rotten > 0 {
                format!("{} ({} rotten)", c.count, c.rotten)
            } else {
                c.count.to_string()
            };
            single(c.name.clone(), c.count, note, BLUE)
        })
        .collect();
    Chart {
        title: format!("Board: {}", account_type_name(config, &board.account_type)),
        subtitle: "Open leads in each phase today".into(),
        y_label: "open leads".into(),
        legend: Vec::new(),
        body: Body::Bars(groups),
    }
}

/// The funnel: the way to a successful close, phase by phase, with the share
/// of leads that went on from each; then the closing phases apart, won in
/// green and lost in red.
pub fn funnel(funnel: &Funnel, config: &Config) -> Chart {
    let mut groups = Vec::new();
    let mut closing_started = false;
    for row in &funnel.phases {
        let name = phase_name(config, &funnel.account_type, &row.phase);
        if row.closing {
            let outcome = config
                .phase(&PhaseRef {
                    account_type: funnel.account_type.clone(),
                    code: row.phase.clone(),
                })
                .and_then(|p| p.outcome);
            let colour = match outcome {
                Some(crcm::domain::config::Outcome::Won) => GREEN,
                Some(crcm::domain::config::Outcome::Lost) => RED,
                None => GREY,
            };
            groups.push(Group {
                label: name,
                bars: vec![Bar {
                    value: row.reached as f64,
                    note: row.reached.to_string(),
                    colour,
                }],
                gap_before: !closing_started,
            });
            closing_started = true;
        } else {
            let note = match row.to_next {
                Some(share) => format!("{} ({:.0}% went on)", row.reached, share * 100.0),
                None => row.reached.to_string(),
            };
            groups.push(single(name, row.reached, note, BLUE));
        }
    }
    Chart {
        title: format!("Funnel: {}", account_type_name(config, &funnel.account_type)),
        subtitle: "Leads that reached each phase; in brackets, the share that went on to the next one\n\
                   The closing phases apart: won in green, lost in red"
            .into(),
        y_label: "leads".into(),
        legend: Vec::new(),
        body: Body::Bars(groups),
    }
}

/// Sources: created, qualified and converted leads per source.
pub fn sources(rows: &[SourceRow], config: &Config) -> Chart {
    let name = |code: &Option<Code>| match code {
        None => "(no source)".to_owned(),
        Some(c) => config
            .sources
            .iter()
            .find(|s| &s.code == c)
            .map(|s| s.label.trim())
            .filter(|l| !l.is_empty())
            .map_or_else(|| c.to_string(), str::to_owned),
    };
    let groups = rows
        .iter()
        .map(|r| Group {
            label: name(&r.source),
            bars: [r.created, r.qualified, r.converted]
                .iter()
                .zip(SERIES)
                .map(|(v, colour)| Bar {
                    value: *v as f64,
                    note: v.to_string(),
                    colour,
                })
                .collect(),
            gap_before: false,
        })
        .collect();
    Chart {
        title: "Leads by source".into(),
        subtitle: "Of the leads created in the interval: how many, how many are qualified now, how many converted"
            .into(),
        y_label: "leads".into(),
        legend: vec![
            ("created".into(), SERIES[0]),
            ("qualified".into(), SERIES[1]),
            ("converted".into(), SERIES[2]),
        ],
        body: Body::Bars(groups),
    }
}

/// Time in phase: average and median days per phase.
pub fn time_in_phase(rows: &[PhaseTimeRow], account_type: &Code, config: &Config) -> Chart {
    let days = |hours: f64| hours / 24.0;
    let groups = rows
        .iter()
        .map(|r| Group {
            label: phase_name(config, account_type, &r.phase),
            bars: vec![
                Bar {
                    value: days(r.average_hours),
                    note: format!("{:.1}", days(r.average_hours)),
                    colour: SERIES[0],
                },
                Bar {
                    value: days(r.median_hours),
                    note: format!("{:.1}", days(r.median_hours)),
                    colour: SERIES[2],
                },
            ],
            gap_before: false,
        })
        .collect();
    Chart {
        title: format!("Time in phase: {}", account_type_name(config, account_type)),
        subtitle: "How long leads stayed in each phase, in days".into(),
        y_label: "days".into(),
        legend: vec![("average".into(), SERIES[0]), ("median".into(), SERIES[2])],
        body: Body::Bars(groups),
    }
}

/// Reasons: how many leads closed with each reason, lost ones in red.
pub fn reasons(rows: &[ReasonRow], config: &Config) -> Chart {
    let label = |kind: &str, code: &Code| {
        let found = if kind == "lost" {
            config.lost_reason(code).map(|r| r.label.clone())
        } else {
            config.closing_reason(code).map(|r| r.label.clone())
        };
        found
            .filter(|l| !l.trim().is_empty())
            .unwrap_or_else(|| code.to_string())
    };
    let groups = rows
        .iter()
        .map(|r| {
            let colour = if r.kind == "lost" { RED } else { BLUE };
            single(label(&r.kind, &r.reason), r.count, r.count.to_string(), colour)
        })
        .collect();
    Chart {
        title: "Why leads closed".into(),
        subtitle: "Leads closed in the interval, by reason".into(),
        y_label: "leads".into(),
        legend: vec![("lost (disqualified)".into(), RED), ("closing phase".into(), BLUE)],
        body: Body::Bars(groups),
    }
}

/// Workload: open, rotten leads and overdue follow-ups per owner.
pub fn workload(rows: &[WorkloadRow]) -> Chart {
    let groups = rows
        .iter()
        .map(|r| Group {
            label: r.owner.to_string(),
            bars: [(r.open_leads, BLUE), (r.rotten, RED), (r.overdue_follow_ups, ORANGE)]
                .iter()
                .map(|(v, colour)| Bar {
                    value: *v as f64,
                    note: v.to_string(),
                    colour: *colour,
                })
                .collect(),
            gap_before: false,
        })
        .collect();
    Chart {
        title: "Workload per owner".into(),
        subtitle: "Open leads, of them rotten, and follow-ups past due today".into(),
        y_label: "count".into(),
        legend: vec![
            ("open leads".into(), BLUE),
            ("rotten".into(), RED),
            ("overdue follow-ups".into(), ORANGE),
        ],
        body: Body::Bars(groups),
    }
}

/// Forecast: value and probability-weighted value per stage, in the
/// currency with the most value (values in other currencies are not
/// converted; the table lists them).
pub fn forecast(rows: &[ForecastRow]) -> Chart {
    let mut totals: std::collections::BTreeMap<String, i128> = std::collections::BTreeMap::new();
    for r in rows {
        for m in &r.value {
            *totals.entry(m.currency.to_string()).or_default() += m.minor;
        }
    }
    let currency = totals
        .iter()
        .max_by_key(|(_, v)| **v)
        .map(|(c, _)| c.clone())
        .unwrap_or_default();
    let amount = |list: &[crcm::MoneySum]| -> (f64, String) {
        match list.iter().find(|m| m.currency.to_string() == currency) {
            Some(m) => {
                let scale = 10f64.powi(i32::try_from(m.currency.minor_units()).unwrap_or(2));
                (m.minor as f64 / scale, m.to_string())
            }
            None => (0.0, String::new()),
        }
    };
    let groups = rows
        .iter()
        .map(|r| {
            let (value, value_note) = amount(&r.value);
            let (weighted, weighted_note) = amount(&r.weighted);
            Group {
                label: format!("{} / {}", r.pipeline, r.stage),
                bars: vec![
                    Bar {
                        value,
                        note: value_note,
                        colour: SERIES[0],
                    },
                    Bar {
                        value: weighted,
                        note: weighted_note,
                        colour: SERIES[1],
                    },
                ],
                gap_before: false,
            }
        })
        .collect();
    let subtitle = if currency.is_empty() {
        "Value and probability-weighted value of the open deals".to_owned()
    } else {
        format!("Value and probability-weighted value of the open deals, in {currency}")
    };
    Chart {
        title: "Forecast per stage".into(),
        subtitle,
        y_label: if currency.is_empty() {
            "value".into()
        } else {
            currency.clone()
        },
        legend: vec![("value".into(), SERIES[0]), ("weighted".into(), SERIES[1])],
        body: Body::Bars(groups),
    }
}

/// Leads created and closed per period.
pub fn trend(rows: &[TrendRow], period: crcm::engine::reports::TrendPeriod) -> Chart {
    use crcm::engine::reports::TrendPeriod;
    let format = match period {
        TrendPeriod::Day | TrendPeriod::Week => "%Y-%m-%d",
        TrendPeriod::Month => "%Y-%m",
    };
    let word = match period {
        TrendPeriod::Day => "day",
        TrendPeriod::Week => "week",
        TrendPeriod::Month => "month",
    };
    Chart {
        title: "Leads created and closed".into(),
        subtitle: format!("Per {word}"),
        y_label: "leads".into(),
        legend: vec![("created".into(), BLUE), ("closed".into(), GREEN)],
        body: Body::Lines {
            labels: rows.iter().map(|r| r.from.format(format).to_string()).collect(),
            series: vec![
                ("created".into(), BLUE, rows.iter().map(|r| r.created as f64).collect()),
                ("closed".into(), GREEN, rows.iter().map(|r| r.closed as f64).collect()),
            ],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crcm::engine::board::BoardColumn;
    use crcm::engine::reports::{FunnelRow, Interval, TrendPeriod};
    use crcm::{LeadQuery, UserId};

    fn config() -> Config {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/crcm-config.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn code(text: &str) -> Code {
        Code::new(text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Renders the chart and checks that the picture holds every text the
    /// chart names (`expected` among them), XML-escaped as SVG writes it.
    fn rendered(chart: &Chart, expected: &[&str]) {
        let texts = chart.texts();
        for e in expected {
            assert!(texts.iter().any(|t| t == e), "{e:?} not in {texts:?}");
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("chart.svg");
        draw(chart, &path).unwrap_or_else(|f| panic!("{f:?}"));
        let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(svg.starts_with("<svg") && svg.contains("width=\"1000\""), "{svg}");
        for t in texts.iter().filter(|t| !t.is_empty()) {
            let escaped = t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            assert!(svg.contains(&escaped), "{t:?} is not drawn");
        }
        // Text a person reads at a glance: no font under 16 px.
        for size in svg.split("font-size=\"").skip(1) {
            let px: f64 = size.split('"').next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
            assert!(px >= 16.0, "a {px} px text");
        }
    }

    #[test]
    fn the_board_names_its_phases_and_account_type() {
        let column = |c: &str, name: &str, count: u64, rotten: u64| BoardColumn {
            phase: PhaseRef {
                account_type: code("b2b"),
                code: code(c),
            },
            name: name.into(),
            count,
            revenue: Vec::new(),
            rotten,
            cards: Vec::new(),
            more: None,
            query: LeadQuery::default(),
        };
        let board = Board {
            account_type: code("b2b"),
            columns: vec![column("PROSPECTING", "Prospecting", 12, 3)],
            at: chrono::Utc::now(),
        };
        let chart = board_chart(&board);
        assert_eq!(chart.title, "Board: Business deals");
        let Body::Bars(groups) = &chart.body else {
            panic!("bars")
        };
        assert_eq!(groups.len(), 1, "one phase, one slot");
        rendered(&chart, &["Prospecting", "12 (3 rotten)"]);
    }

    fn board_chart(board: &Board) -> Chart {
        super::board(board, &config())
    }

    #[test]
    fn the_funnel_sets_the_closing_phases_apart_by_outcome() {
        let row = |c: &str, closing: bool, reached: u64, to_next: Option<f64>| FunnelRow {
            phase: code(c),
            closing,
            reached,
            to_next,
        };
        let data = Funnel {
            account_type: code("b2b"),
            interval: Interval::default(),
            phases: vec![
                row("PROSPECTING", false, 100, Some(0.6)),
                row("ENGAGING", false, 60, Some(0.5)),
                row("WON", true, 30, None),
                row("LOST", true, 25, None),
            ],
        };
        let chart = funnel(&data, &config());
        assert_eq!(chart.title, "Funnel: Business deals");
        let Body::Bars(groups) = &chart.body else {
            panic!("bars")
        };
        let colours: Vec<RGBColor> = groups.iter().map(|g| g.bars[0].colour).collect();
        assert_eq!(colours, [BLUE, BLUE, GREEN, RED]);
        let gaps: Vec<bool> = groups.iter().map(|g| g.gap_before).collect();
        assert_eq!(gaps, [false, false, true, false], "won and lost apart from the way");
        rendered(
            &chart,
            &[
                "Prospecting",
                "Engaging",
                "Won",
                "Lost",
                "100 (60% went on)",
                "60 (50% went on)",
                "30",
                "25",
            ],
        );
        assert!(!chart.texts().iter().any(|t| t.contains('→')));
    }

    #[test]
    fn each_report_has_its_chart() {
        let config = config();
        let sources: Vec<SourceRow> = serde_json::from_value(serde_json::json!([
            {"source": "web_form", "created": 40, "qualified": 12, "converted": 5, "lost": 3, "closed_won": 0, "closed_lost": 0},
            {"source": null, "created": 7, "qualified": 1, "converted": 0, "lost": 0, "closed_won": 0, "closed_lost": 0}
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        rendered(
            &super::sources(&sources, &config),
            &[
                "Leads by source",
                "Web Form",
                "(no source)",
                "created",
                "qualified",
                "converted",
                "40",
                "12",
                "5",
            ],
        );
        let times = vec![PhaseTimeRow {
            phase: code("PROSPECTING"),
            stays: 10,
            average_hours: 72.0,
            median_hours: 48.0,
        }];
        rendered(
            &time_in_phase(&times, &code("b2b"), &config),
            &[
                "Time in phase: Business deals",
                "Prospecting",
                "3.0",
                "2.0",
                "days",
                "average",
                "median",
            ],
        );
        let reasons_rows = vec![
            ReasonRow {
                kind: "lost".into(),
                reason: code("no_budget"),
                count: 4,
            },
            ReasonRow {
                kind: "closing".into(),
                reason: code("won"),
                count: 9,
            },
        ];
        rendered(&reasons(&reasons_rows, &config), &["No budget", "Won", "4", "9"]);
        let owners = vec![WorkloadRow {
            owner: UserId::new("ann").unwrap_or_else(|e| panic!("{e}")),
            open_leads: 20,
            rotten: 2,
            overdue_follow_ups: 1,
        }];
        rendered(
            &workload(&owners),
            &["ann", "20", "2", "1", "open leads", "rotten", "overdue follow-ups"],
        );
        let forecast_rows: Vec<ForecastRow> = serde_json::from_value(serde_json::json!([
            {"pipeline": "sales", "stage": "proposal", "deals": 3,
             "value": [{"minor": 1500000, "currency": "EUR"}], "weighted": [{"minor": 750000, "currency": "EUR"}]}
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let chart = forecast(&forecast_rows);
        assert_eq!(chart.y_label, "EUR");
        rendered(&chart, &["sales / proposal", "value", "weighted"]);
        let trend_rows: Vec<TrendRow> = serde_json::from_value(serde_json::json!([
            {"from": "2026-01-01T00:00:00Z", "created": 30, "closed": 4},
            {"from": "2026-02-01T00:00:00Z", "created": 25, "closed": 11}
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        rendered(
            &trend(&trend_rows, TrendPeriod::Month),
            &[
                "Leads created and closed",
                "Per month",
                "2026-01",
                "2026-02",
                "created",
                "closed",
            ],
        );
        assert!(!draws(Report::Stuck) && !draws(Report::Quality) && draws(Report::Trend));
    }
}

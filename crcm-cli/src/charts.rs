//! SVG charts of the board and the funnel, drawn with plotters.

use std::path::Path;

use crcm::engine::board::Board;
use crcm::engine::reports::Funnel;
use plotters::prelude::*;

use crate::Failure;

fn failed(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure(format!("{}: {e}", path.display()))
}

/// A bar chart: one labelled bar per item, its value written above it.
fn bars(path: &Path, title: &str, y_label: &str, items: &[(String, u64, String)]) -> Result<(), Failure> {
    let width = (160 * items.len() as u32).clamp(640, 1600);
    let root = SVGBackend::new(path, (width, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(path, e))?;
    let top = items.iter().map(|i| i.1).max().unwrap_or(0).max(1);
    let top = top + top / 8 + 1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        // A segmented range has a segment for each value up to and including
        // its end; a range of one value draws nothing, so one bar gets two.
        .build_cartesian_2d((0..items.len().saturating_sub(1).max(1)).into_segmented(), 0..top)
        .map_err(|e| failed(path, e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_max_light_lines(1)
        .y_desc(y_label)
        .x_labels(items.len())
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => items.get(*i).map(|item| item.0.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .draw()
        .map_err(|e| failed(path, e))?;
    let colour = RGBColor(0x1E, 0x88, 0xE5);
    chart
        .draw_series(items.iter().enumerate().map(|(i, (_, value, _))| {
            let mut bar = Rectangle::new(
                [(SegmentValue::Exact(i), 0), (SegmentValue::Exact(i + 1), *value)],
                colour.filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            bar
        }))
        .map_err(|e| failed(path, e))?;
    chart
        .draw_series(items.iter().enumerate().map(|(i, (_, value, note))| {
            Text::new(
                note.clone(),
                (SegmentValue::CenterOf(i), *value + top / 40),
                ("sans-serif", 15)
                    .into_font()
                    .color(&BLACK)
                    .pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Bottom,
                    )),
            )
        }))
        .map_err(|e| failed(path, e))?;
    root.present().map_err(|e| failed(path, e))?;
    Ok(())
}

/// The board: open leads per phase, with the rotten ones named.
pub fn board(board: &Board, path: &Path) -> Result<(), Failure> {
    let items: Vec<(String, u64, String)> = board
        .columns
        .iter()
        .map(|c| {
            let note = if c.rotten > 0 {
                format!("{} ({} rotten)", c.count, c.rotten)
            } else {
                c.count.to_string()
            };
            (c.name.clone(), c.count, note)
        })
        .collect();
    bars(
        path,
        &format!("Board of {}: open leads per phase", board.account_type),
        "open leads",
        &items,
    )
}

/// The funnel: leads that reached each phase, with the conversion to the next.
pub fn funnel(funnel: &Funnel, path: &Path) -> Result<(), Failure> {
    let items: Vec<(String, u64, String)> = funnel
        .phases
        .iter()
        .map(|r| {
            let note = match r.to_next {
                Some(x) => format!("{} → {:.0}%", r.reached, x * 100.0),
                None => r.reached.to_string(),
            };
            (r.phase.to_string(), r.reached, note)
        })
        .collect();
    bars(
        path,
        &format!("Funnel of {}: leads that reached each phase", funnel.account_type),
        "leads",
        &items,
    )
}

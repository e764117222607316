//! The chart of read time against lead count: one panel per backend, one
//! line per read, from the `<backend>.tsv` files runs wrote with `--out`.

use std::path::Path;

use plotters::prelude::*;

use crate::Result;

/// One measured point: backend, read, leads, crcm's median in µs.
struct Point {
    backend: String,
    read: String,
    leads: f64,
    micros: f64,
}

fn points(dir: &Path) -> Result<Vec<Point>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("tsv") {
            continue;
        }
        let backend = path.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_owned();
        for line in std::fs::read_to_string(&path)?.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            if let [leads, read, crcm_us, ..] = f.as_slice() {
                out.push(Point {
                    backend: backend.clone(),
                    read: (*read).to_owned(),
                    leads: leads.parse()?,
                    micros: crcm_us.parse()?,
                });
            }
        }
    }
    Ok(out)
}

/// Draws `dir/read-time.svg` from the result files in `dir`.
pub fn draw(dir: &Path) -> Result<std::path::PathBuf> {
    let points = points(dir)?;
    let mut backends: Vec<String> = points.iter().map(|p| p.backend.clone()).collect();
    backends.sort();
    backends.dedup();
    let order = ["sled", "sqlite", "postgres", "mysql"];
    backends.sort_by_key(|b| order.iter().position(|o| o == b).unwrap_or(order.len()));
    if backends.is_empty() {
        return Err(format!("no <backend>.tsv in {}", dir.display()).into());
    }
    let mut reads: Vec<String> = points.iter().map(|p| p.read.clone()).collect();
    reads.sort();
    reads.dedup();
    let (min_x, max_x) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.leads), b.max(p.leads)));
    let (min_y, max_y) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.micros), b.max(p.micros)));
    let path = dir.join("read-time.svg");
    let columns = backends.len().min(2);
    let rows = backends.len().div_ceil(columns);
    let root = SVGBackend::new(&path, (560 * columns as u32, 420 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let palette = [&BLUE, &RED, &GREEN, &MAGENTA, &CYAN, &BLACK, &YELLOW];
    for (panel, backend) in root.split_evenly((rows, columns)).iter().zip(&backends) {
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{backend}: crcm's read time by lead count"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(
                ((min_x * 0.8)..(max_x * 1.25)).log_scale(),
                ((min_y * 0.5).max(1.0)..(max_y * 2.0)).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_desc("leads")
            .y_desc("median µs")
            .x_label_formatter(&|x| {
                if *x >= 1e6 {
                    format!("{:.0}M", x / 1e6)
                } else {
                    format!("{:.0}k", x / 1e3)
                }
            })
            .draw()?;
        for (k, read) in reads.iter().enumerate() {
            let colour = palette[k % palette.len()];
            let mut line: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| &p.backend == backend && &p.read == read)
                .map(|p| (p.leads, p.micros))
                .collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(line, colour.stroke_width(2)))?
                .label(read.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    root.present()?;
    drop(root);
    Ok(path)
}

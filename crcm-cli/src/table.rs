//! Aligned text tables for the terminal.

/// Rows under a header, printed with aligned columns; numbers right-aligned.
pub struct Table {
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.trim_end_matches('%').parse::<f64>().is_ok()
}

/// One line of a cell: tables keep a row on one line.
fn one_line(s: &str) -> String {
    let line: String = s
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ⏎ ");
    if width(&line) > 60 {
        line.chars().take(59).chain(['…']).collect()
    } else {
        line
    }
}

impl Table {
    /// A table with these column headers.
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Self {
            header: Some(header.iter().map(|h| (*h).to_owned()).collect()),
            rows: Vec::new(),
        }
    }

    /// A table without a header (a card's label and value).
    pub fn plain() -> Self {
        Self {
            header: None,
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows.push(cells.iter().map(|c| one_line(c)).collect());
    }

    /// Prints the table to standard output.
    pub fn print(&self) -> Result<(), crate::Failure> {
        let all: Vec<&Vec<String>> = self.header.iter().chain(self.rows.iter()).collect();
        let columns = all.iter().map(|r| r.len()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|i| all.iter().filter_map(|r| r.get(i)).map(|c| width(c)).max().unwrap_or(0))
            .collect();
        let numeric: Vec<bool> = (0..columns)
            .map(|i| {
                let mut cells = self
                    .rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .filter(|c| !c.is_empty())
                    .peekable();
                cells.peek().is_some() && cells.all(|c| is_number(c))
            })
            .collect();
        let line = |r: &Vec<String>| {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = widths[i].saturating_sub(width(c));
                    if numeric[i] {
                        format!("{}{c}", " ".repeat(pad))
                    } else {
                        format!("{c}{}", " ".repeat(pad))
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_owned()
        };
        if let Some(h) = &self.header {
            crate::outln!("{}", line(h));
            crate::outln!(
                "{}",
                widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  ")
            );
        }
        for r in &self.rows {
            crate::outln!("{}", line(r));
        }
        Ok(())
    }
}

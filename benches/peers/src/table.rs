//! Markdown tables: one row per workload, one column per runtime, each cell a median
//! and its ratio to nanoproc (the first column), plus a geometric-mean row of the ratios.

use std::time::Duration;

/// One measurement or why there is none.
#[derive(Clone, Debug)]
pub enum Cell {
    /// A figure where smaller is better (a time, bytes).
    Lower(f64),
    /// A figure where larger is better (a throughput).
    Higher(f64),
    /// The runtime lacks a feature the workload needs (SIMD).
    NotApplicable,
    /// The run failed or printed a wrong answer: "runtime: why", shown as a footnote.
    Failed(String),
}

/// Converts a measurement into the number a column shows.
pub trait Figure {
    fn cell(self) -> Cell;
}

impl Figure for Duration {
    fn cell(self) -> Cell {
        Cell::Lower(self.as_secs_f64())
    }
}

impl Figure for f64 {
    fn cell(self) -> Cell {
        Cell::Lower(self)
    }
}

/// (compile time, megabytes compiled): shown as MB/s.
impl Figure for (Duration, f64) {
    fn cell(self) -> Cell {
        Cell::Higher(self.1 / self.0.as_secs_f64())
    }
}

impl Cell {
    /// The cell for a measurement; a failure is also reported on stderr.
    pub fn from_outcome<T: Figure>(what: &str, runtime: &str, outcome: Result<T, String>) -> Cell {
        match outcome {
            Ok(v) => v.cell(),
            Err(e) => {
                eprintln!("FAILED {what} on {runtime}: {e}");
                let short: String = e.chars().take(160).collect();
                Cell::Failed(format!("{runtime}: {short}"))
            }
        }
    }

    fn value(&self) -> Option<f64> {
        match self {
            Cell::Lower(v) | Cell::Higher(v) => Some(*v),
            _ => None,
        }
    }

    /// Seconds as ms (or s); the table adds the ratio to nanoproc.
    pub fn seconds(v: f64) -> String {
        if v >= 10.0 {
            format!("{v:.1} s")
        } else if v >= 0.01 {
            format!("{:.0} ms", v * 1e3)
        } else if v >= 0.001 {
            format!("{:.2} ms", v * 1e3)
        } else {
            format!("{:.1} µs", v * 1e6)
        }
    }

    pub fn micros(v: f64) -> String {
        format!("{:.1} µs", v * 1e6)
    }

    pub fn nanos(v: f64) -> String {
        format!("{:.1} ns", v * 1e9)
    }

    pub fn kib(v: f64) -> String {
        format!("{v:.1} KiB")
    }

    pub fn mb_per_s(v: f64) -> String {
        format!("{v:.1} MB/s")
    }
}

pub struct Table {
    first: String,
    columns: Vec<String>,
    rows: Vec<(String, Vec<Cell>)>,
    format: fn(f64) -> String,
    geomean: bool,
}

impl Table {
    pub fn new(first: &str, columns: Vec<String>, format: fn(f64) -> String) -> Table {
        Table {
            first: first.to_string(),
            columns,
            rows: Vec::new(),
            format,
            geomean: false,
        }
    }

    pub fn row(&mut self, name: &str, cells: Vec<Cell>) {
        self.rows.push((name.to_string(), cells));
    }

    /// Ends the table with the geometric mean of each column's ratios to nanoproc, over
    /// the rows where both have a figure.
    pub fn geomean_row(&mut self) {
        self.geomean = true;
    }

    /// `value / nanoproc's value` for a time (below 1: faster than nanoproc), and
    /// `nanoproc's / value` for a throughput, so below 1 always means "better".
    fn ratio(cell: &Cell, base: &Cell) -> Option<f64> {
        let (v, b) = (cell.value()?, base.value()?);
        if b <= 0.0 || v <= 0.0 {
            return None;
        }
        Some(match cell {
            Cell::Higher(_) => b / v,
            _ => v / b,
        })
    }

    pub fn markdown(&self) -> String {
        // Failures become numbered footnotes, one per distinct message.
        let mut notes: Vec<&str> = Vec::new();
        let mut out = format!("| {} | {} |\n", self.first, self.columns.join(" | "));
        out += &format!("|---|{}\n", "---:|".repeat(self.columns.len()));
        for (name, cells) in &self.rows {
            let base = &cells[0];
            let shown: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| match c {
                    Cell::NotApplicable => "n/a".into(),
                    Cell::Failed(e) => {
                        let n = match notes.iter().position(|n| *n == e.as_str()) {
                            Some(i) => i + 1,
                            None => {
                                notes.push(e);
                                notes.len()
                            }
                        };
                        format!("failed [{n}]")
                    }
                    Cell::Lower(v) | Cell::Higher(v) => {
                        let figure = (self.format)(*v);
                        match Self::ratio(c, base) {
                            Some(r) if i > 0 => format!("{figure} ({r:.2}×)"),
                            _ => figure,
                        }
                    }
                })
                .collect();
            out += &format!("| {name} | {} |\n", shown.join(" | "));
        }
        if self.geomean {
            let means: Vec<String> = (0..self.columns.len())
                .map(|i| {
                    let logs: Vec<f64> = self
                        .rows
                        .iter()
                        .filter_map(|(_, cells)| Self::ratio(&cells[i], &cells[0]))
                        .map(f64::ln)
                        .collect();
                    if logs.is_empty() {
                        "—".into()
                    } else {
                        let mean = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
                        format!("**{mean:.2}×** ({} of {})", logs.len(), self.rows.len())
                    }
                })
                .collect();
            out += &format!(
                "| geometric mean of ratio to nanoproc | {} |\n",
                means.join(" | ")
            );
        }
        if !notes.is_empty() {
            out += "\nFailures:\n";
            for (i, note) in notes.iter().enumerate() {
                out += &format!("- [{}] {}\n", i + 1, note.replace('|', "\\|"));
            }
        }
        out
    }
}

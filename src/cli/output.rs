//! What the tools print: column-aligned tables as Kafka's tools print them
//! (`kafka-consumer-groups.sh --describe`), and writing to stdout without
//! panicking when the reader has gone (`gregor topics list | head`).

use std::fmt::Write as _;
use std::io::{self, Write as _};

/// Writes `text` to stdout. A closed pipe ends the output quietly, as with
/// Kafka's tools; other write errors are returned.
pub(super) fn print(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result,
    }
}

/// A table: a header row of upper-case names, then one row per item, each
/// column as wide as its widest cell, columns separated by a space.
pub(super) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, every line ending in a newline; no trailing
    /// spaces.
    pub(super) fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                let _ = write!(line, "{cell:<width$} ");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut table = Table::new(&["GROUP", "LAG"]);
        table.row(vec!["billing".into(), "12".into()]);
        table.row(vec!["g".into(), "-".into()]);
        assert_eq!(table.render(), "GROUP   LAG\nbilling 12\ng       -\n");
    }
}

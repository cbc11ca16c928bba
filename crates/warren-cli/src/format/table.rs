//! Aligned text tables: a header row, columns separated by two spaces, text left-aligned
//! and numbers right-aligned, widths measured in terminal columns.

use unicode_width::UnicodeWidthStr;

/// Which side of its column a cell's text sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text, names.
    Left,
    /// Numbers, sizes, rates.
    Right,
}

/// One rendered table cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// What is printed.
    pub text: String,
    /// How it is aligned.
    pub align: Align,
}

impl Cell {
    /// A left-aligned cell.
    pub fn left(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            align: Align::Left,
        }
    }

    /// A right-aligned cell.
    pub fn right(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            align: Align::Right,
        }
    }
}

/// Renders `headers` and `rows` (each as long as `headers`). A column is right-aligned
/// when all its non-empty cells are; the header follows its column. Lines carry no
/// trailing spaces and each ends with `\n`.
pub fn render(headers: &[String], rows: &[Vec<Cell>]) -> String {
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    let mut right = vec![true; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.text.width());
            if cell.align == Align::Left && !cell.text.is_empty() {
                right[i] = false;
            }
        }
    }
    let mut out = String::new();
    let header_cells: Vec<&str> = headers.iter().map(String::as_str).collect();
    push_line(&mut out, &header_cells, &widths, &right);
    for row in rows {
        let texts: Vec<&str> = row.iter().map(|c| c.text.as_str()).collect();
        push_line(&mut out, &texts, &widths, &right);
    }
    out
}

/// Key/value pairs as two aligned columns without a header.
pub fn render_pairs(pairs: &[(String, String)]) -> String {
    let rows: Vec<Vec<Cell>> = pairs
        .iter()
        .map(|(k, v)| vec![Cell::left(k.clone()), Cell::left(v.clone())])
        .collect();
    let text = render(&[String::new(), String::new()], &rows);
    text.lines().skip(1).map(|l| format!("{l}\n")).collect()
}

fn push_line(out: &mut String, texts: &[&str], widths: &[usize], right: &[bool]) {
    let mut line = String::new();
    for (i, width) in widths.iter().enumerate() {
        let text = texts.get(i).copied().unwrap_or("");
        if i > 0 {
            line.push_str("  ");
        }
        let pad = width.saturating_sub(text.width());
        if right[i] {
            line.push_str(&" ".repeat(pad));
            line.push_str(text);
        } else {
            line.push_str(text);
            line.push_str(&" ".repeat(pad));
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_left_numbers_right_two_space_gutter() {
        let headers = vec!["name".to_string(), "messages".to_string()];
        let rows = vec![
            vec![Cell::left("tasks"), Cell::right("7")],
            vec![Cell::left("orders.created"), Cell::right("1200")],
        ];
        assert_eq!(
            render(&headers, &rows),
            "name            messages\n\
             tasks                  7\n\
             orders.created      1200\n"
        );
    }

    #[test]
    fn wide_characters_count_as_two_columns() {
        let headers = vec!["name".to_string(), "n".to_string()];
        let rows = vec![
            vec![Cell::left("日本"), Cell::right("1")],
            vec![Cell::left("abcde"), Cell::right("22")],
        ];
        assert_eq!(render(&headers, &rows), "name    n\n日本    1\nabcde  22\n");
    }

    #[test]
    fn pairs_align_without_a_header() {
        let pairs = vec![
            ("node".to_string(), "rabbit@h".to_string()),
            ("objects.queues".to_string(), "13".to_string()),
        ];
        assert_eq!(
            render_pairs(&pairs),
            "node            rabbit@h\nobjects.queues  13\n"
        );
    }

    #[test]
    fn a_header_alone_prints_without_trailing_spaces() {
        let headers = vec!["a".to_string(), "b".to_string()];
        assert_eq!(render(&headers, &[]), "a  b\n");
    }
}

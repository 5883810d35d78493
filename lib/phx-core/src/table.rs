//! Aligned text tables, the one renderer behind every table a tool shows a
//! person (`plan`, `phx-nodes list`, `phx-platform status`): columns padded
//! to their widest cell, no trailing blanks, so a terminal, `less` and a
//! review diff all line up the same way. Machines get JSON instead.

/// `head` and `rows` as aligned lines; `gap` spaces between columns.
pub fn render<S: AsRef<str>>(head: &[&str], rows: &[Vec<S>], gap: usize) -> String {
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.as_ref().chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (c, w) in cells.zip(&width) {
            s.push_str(&format!("{c:<w$}{:gap$}", ""));
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(&mut head.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(AsRef::as_ref)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_widest_cell_and_trims_the_end() {
        let rows = vec![vec!["argocd", "Synced"], vec!["metrics-server", ""]];
        assert_eq!(
            render(&["ADD-ON", "SYNC"], &rows, 2),
            "ADD-ON          SYNC\nargocd          Synced\nmetrics-server\n"
        );
    }
}

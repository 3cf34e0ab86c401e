//! Plain-text tables for what the commands print.

/// Renders rows under headers with columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            l.push_str(c);
            l.extend(std::iter::repeat_n(' ', pad + 2));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut headers.iter().copied());
    for r in rows {
        line(&mut out, &mut r.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns are padded to the widest cell, counting characters, not bytes.
    #[test]
    fn table_pads_by_chars() {
        let t = table(
            &["A", "B"],
            &[vec!["ü".into(), "x".into()], vec!["abc".into(), "y".into()]],
        );
        assert_eq!(t, "A    B\nü    x\nabc  y\n");
    }
}

//! `pg_hba.conf` and `pg_ident.conf` as a product mapping reads them: the rows of an hba file,
//! for a mapping that reads no quoted names or continued lines, and the error naming a row.

use std::fmt::Display;

/// A `pg_hba.conf` row: its line number and its fields up to a `#`.
pub struct Row<'a> {
    /// Its line number, from 1.
    pub number: usize,
    /// Its whitespace-separated fields (at least one).
    pub fields: Vec<&'a str>,
}

impl Row<'_> {
    /// Why the row has no equivalent, as the error names it.
    pub fn unmappable(&self, why: impl Display) -> String {
        at_line(self.number, why)
    }
}

/// Why line `number` of `pg_hba.conf` has no equivalent, as the error names it.
pub fn at_line(number: usize, why: impl Display) -> String {
    format!("pg_hba.conf line {number}: {why}")
}

/// The rows of `text`, blank lines and comments left out, each cut at its first `#`; at a row
/// with a double quote or ending in a backslash (quoted names and continued lines, which the
/// mapping does not read as PostgreSQL does), the error `quoted` says why.
pub fn plain_rows<'a>(
    text: &'a str,
    quoted: &'a str,
) -> impl Iterator<Item = Result<Row<'a>, String>> + 'a {
    text.lines().enumerate().filter_map(move |(n, raw)| {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            return None;
        }
        let number = n + 1;
        if line.contains('"') || line.ends_with('\\') {
            return Some(Err(at_line(number, quoted)));
        }
        Some(Ok(Row {
            number,
            fields: line.split_whitespace().collect(),
        }))
    })
}

/// Checks that `pg_ident.conf` has no maps (only blank lines and comments), for a product
/// that reads none; `why` is the error otherwise.
pub fn no_ident_maps(text: &str, why: &str) -> Result<(), String> {
    if text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    {
        return Err(why.to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_and_split() {
        let text = "# c\n\nlocal all all trust # c\n  host all all 127.0.0.1/32 trust\n";
        let rows: Vec<(usize, Vec<&str>)> = plain_rows(text, "quoted")
            .map(|r| r.map(|r| (r.number, r.fields)))
            .collect::<Result<_, _>>()
            .expect("plain");
        assert_eq!(
            rows,
            [
                (3, vec!["local", "all", "all", "trust"]),
                (4, vec!["host", "all", "all", "127.0.0.1/32", "trust"])
            ]
        );
        let mut rows = plain_rows(
            "local all all trust\nhost \"all\" all all trust\n",
            "quoted",
        );
        assert!(rows.next().is_some_and(|r| r.is_ok()));
        assert_eq!(
            rows.next().map(|r| r.err()),
            Some(Some("pg_hba.conf line 2: quoted".to_owned()))
        );
        let row = plain_rows("local all all trust \\", "continued")
            .next()
            .expect("a row");
        assert_eq!(row.err(), Some("pg_hba.conf line 1: continued".to_owned()));
    }

    #[test]
    fn ident_maps() {
        no_ident_maps("# comment only\n\n  # indented\n", "maps").expect("no maps");
        assert_eq!(
            no_ident_maps("cn ssltestuser-dn ssltestuser\n", "maps"),
            Err("maps".to_owned())
        );
    }
}

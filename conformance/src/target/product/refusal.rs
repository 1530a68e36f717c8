//! What the trace shows of a start a product refused: its error lines, else the last lines it
//! logged.

/// The lines of `lines` that `severe` picks (the product's errors), or, when it picks none,
/// the last three.
pub fn severe_or_last(lines: &[String], severe: impl Fn(&str) -> bool) -> Vec<String> {
    let picked: Vec<String> = lines.iter().filter(|l| severe(l)).cloned().collect();
    if picked.is_empty() {
        last(lines)
    } else {
        picked
    }
}

/// The last three of `lines`.
pub fn last(lines: &[String]) -> Vec<String> {
    lines.iter().rev().take(3).rev().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_errors_else_the_last_three_lines() {
        let lines: Vec<String> = ["a", "FATAL: b", "c", "d", "FATAL: e"]
            .map(String::from)
            .into();
        let fatal = |l: &str| l.starts_with("FATAL:");
        assert_eq!(severe_or_last(&lines, fatal), ["FATAL: b", "FATAL: e"]);
        assert_eq!(
            severe_or_last(&lines[2..], |_| false),
            ["c", "d", "FATAL: e"]
        );
        assert_eq!(severe_or_last(&lines[..1], fatal), ["a"]);
        assert_eq!(last(&[]), Vec::<String>::new());
    }
}

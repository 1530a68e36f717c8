//! A product's version, read from what its `--version` prints.

use std::path::Path;
use std::process::Command;

/// What a product's `--version` printed.
pub struct Printed {
    /// Whether it exited successfully.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs `command` (a product's `--version`); when it cannot run, the error names its program
/// and follows with `hint` (how to install or build it).
pub fn printed(command: &mut Command, hint: &str) -> Result<Printed, String> {
    let out = command.output().map_err(|e| {
        format!(
            "cannot run {}: {e}; {hint}",
            Path::new(command.get_program()).display()
        )
    })?;
    Ok(Printed {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The first line of `text`, trimmed (empty when there is none).
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

/// `program --version`'s first line on standard output (`PgBouncer 1.18.0`), when it exits
/// successfully and the line starts with `prefix`; else the error saying it printed no `what`.
pub fn version_line(
    program: &Path,
    hint: &str,
    prefix: &str,
    what: &str,
) -> Result<String, String> {
    let printed = printed(Command::new(program).arg("--version"), hint)?;
    let first = first_line(&printed.stdout);
    if !printed.success || !first.starts_with(prefix) {
        return Err(format!(
            "{} --version printed {first:?}, not {what}",
            program.display()
        ));
    }
    Ok(first.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_of_what_it_printed() {
        // GNU coreutils' `true --version`: `true (GNU coreutils) 9.1`, then the licence.
        let line = version_line(Path::new("true"), "hint", "true (", "its version").expect("runs");
        assert!(line.starts_with("true (GNU coreutils) "), "{line}");
        let why = version_line(Path::new("true"), "hint", "Other ", "Other's version")
            .expect_err("not Other");
        assert!(
            why.starts_with("true --version printed \"true (GNU"),
            "{why}"
        );
        assert!(why.ends_with("\", not Other's version"), "{why}");
        let why = version_line(Path::new("/nonexistent/x"), "install x", "x", "x")
            .expect_err("cannot run");
        assert!(why.starts_with("cannot run /nonexistent/x: "), "{why}");
        assert!(why.ends_with("; install x"), "{why}");
        let printed = printed(
            Command::new("sh").args(["-c", "printf '  P 1 \\nmore\\n'; printf e >&2; exit 1"]),
            "hint",
        )
        .expect("runs");
        assert!(!printed.success);
        assert_eq!(first_line(&printed.stdout), "P 1");
        assert_eq!(printed.stderr, "e");
        assert_eq!(first_line(""), "");
    }
}

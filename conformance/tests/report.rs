//! `pgssl-conform report` end to end: against the reference server it writes a Markdown and
//! an HTML report per target with no divergence, `run --format markdown` prints the same
//! report, and bad input exits with 2 and writes nothing.

use std::process::{Command, Output};

fn conform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgssl-conform"))
        .args(args)
        .output()
        .expect("pgssl-conform runs")
}

#[test]
fn the_reference_has_no_divergence() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let out = tmp.path().join("out");
    let out_str = out.to_str().expect("temporary path is UTF-8");
    let args = ["--target", "reference:15", "--filter", "cancel/"];
    let run = conform(&[&["report"][..], &args, &["--out", out_str]].concat());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("reference-15: 0 security, 0 interoperability, 0 fidelity, 0 varying"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(out.join("reference-15.md")).expect("markdown written");
    assert!(
        md.contains("0 divergences (0 security, 0 interoperability, 0 fidelity)"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("reference-15.html")).expect("html written");
    assert!(html.starts_with("<!DOCTYPE html>") && !html.contains("<script"));
    let printed = conform(&[&["run"][..], &args, &["--format", "markdown"]].concat());
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout).trim_end(),
        md.trim_end(),
        "run --format markdown prints the report"
    );
}

#[test]
fn bad_input_exits_2_saying_what_is_wrong() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let out = tmp.path().join("out");
    let out = out.to_str().expect("temporary path is UTF-8");
    let cases: [(&[&str], &str); 4] = [
        (&["report", "--out", out], "at least one --target"),
        (
            &[
                "report",
                "--target",
                "reference:15",
                "--filter",
                "no-such-case",
                "--out",
                out,
            ],
            "matches no case id",
        ),
        (
            &["report", "--target", "pgbouncer@99", "--out", out],
            "not a version the suite knows",
        ),
        (
            &["report", "--target", "postgres:/nonexistent", "--out", out],
            "cannot run /nonexistent/postgres",
        ),
    ];
    for (args, message) in cases {
        let run = conform(args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert!(
        !tmp.path().join("out").exists(),
        "nothing is written on bad input"
    );
}

//! Bad version input on the command line: an unknown version, a bin directory without
//! `postgres`, a server whose major the suite does not know. Each is one line naming what is
//! wrong and the versions that are known, with exit status 2.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn conform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgssl-conform"))
        .args(args)
        .output()
        .expect("pgssl-conform runs")
}

fn assert_refused(args: &[&str], says: &str) {
    let out = conform(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line, got {stderr}");
    assert!(lines[0].contains(says), "{args:?}: {stderr}");
    assert!(
        lines[0].contains("13, 14, 15, 16, 17, 18"),
        "{args:?} names the known versions: {stderr}"
    );
}

#[test]
fn unknown_versions_are_one_line_and_exit_2() {
    assert_refused(&["run", "--target", "reference:12"], "version \"12\"");
    assert_refused(
        &["run", "--target", "external:127.0.0.1:9@19"],
        "version \"19\"",
    );
    let empty = tempfile::tempdir().expect("temporary directory");
    let bindir = format!("postgres:{}", empty.path().display());
    assert_refused(&["run", "--target", &bindir], "cannot run");
}

#[test]
fn a_build_of_an_unknown_major_is_named() {
    // A `postgres` that reports 12.22, as an old build would.
    let dir = tempfile::tempdir().expect("temporary directory");
    let fake = dir.path().join("postgres");
    std::fs::write(&fake, "#!/bin/sh\necho 'postgres (PostgreSQL) 12.22'\n").expect("write");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let target = format!("postgres:{}", dir.path().display());
    assert_refused(&["run", "--target", &target], "PostgreSQL) 12.22");
}

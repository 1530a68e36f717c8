//! `external:` targets and `--wait`: a server the harness cannot configure runs the timeout
//! cases only when the run says how long to wait for the server's own timeout, and then
//! each case waits that long. The server here is the reference server, started with a 2 s
//! `authentication_timeout` the harness then treats as unknown.

#[allow(dead_code)] // Only `reference` is used here; the module is shared with targets.rs.
mod common;

use std::process::Command;

use pgssl_conformance::case::{Setup, Version};
use pgssl_conformance::target::{Started, Target};

/// `pgssl-conform run` on the timeout cases against `spec`, as JSON results.
fn run_timeout_cases(spec: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_pgssl-conform"))
        .args([
            "run", "--target", spec, "--filter", "timeout/", "--format", "json",
        ])
        .args(extra)
        .output()
        .expect("pgssl-conform runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let parsed: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "run printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let results = parsed
        .as_array()
        .or_else(|| parsed.get("cases").and_then(|r| r.as_array()))
        .unwrap_or_else(|| panic!("no results in {stdout}"))
        .clone();
    assert_eq!(results.len(), 4, "the four timeout cases: {stdout}");
    results
}

#[test]
fn timeout_cases_run_on_external_targets_only_with_a_wait() {
    let target = common::reference(Version::Pg15);
    let setup = Setup {
        conf: vec!["authentication_timeout = '2s'".into()],
        ..Setup::default()
    };
    let Started::Running(server) = target.start(&setup).expect("the reference server starts")
    else {
        panic!("the reference server refused a 2 s authentication_timeout");
    };
    let spec = format!("external:{}@15", server.addr());

    for r in run_timeout_cases(&spec, &[]) {
        assert_eq!(r["status"], "not_applicable", "without --wait: {r}");
        let note = r["note"].as_str().unwrap_or_default();
        assert!(
            note.contains("--wait SECONDS"),
            "the reason names --wait: {r}"
        );
    }

    for r in run_timeout_cases(&spec, &["--wait", "5"]) {
        assert_eq!(
            r["status"], "pass",
            "with --wait 5 the server's 2 s timeout closes: {r}"
        );
        let trace: Vec<&str> = r["trace"]
            .as_array()
            .expect("a trace")
            .iter()
            .filter_map(|l| l.as_str())
            .collect();
        assert!(
            trace.iter().any(|l| l.contains("wait up to 5 s")),
            "the case waits the run's bound, not its own: {trace:?}"
        );
    }

    // A wait shorter than the server's timeout: the connection is still open when it ends,
    // which is a failure of the case, not a harness error.
    let short = run_timeout_cases(&spec, &["--wait", "1"]);
    let still_open = short
        .iter()
        .filter(|r| {
            r["status"] == "fail"
                && r["trace"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|l| l == "< still open after 1 s"))
        })
        .count();
    assert_eq!(
        still_open,
        short.len(),
        "with --wait 1 the 2 s timeout has not fired: {short:?}"
    );
}

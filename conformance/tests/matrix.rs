//! `pgssl-conform matrix` end to end: a small family against the reference server under every
//! profile writes the three files, the JSON has a column per profile, the HTML page needs
//! nothing from outside, a second run writes the same bytes, and bad input exits with 2.

use std::path::Path;
use std::process::{Command, Output};

use pgssl_conformance::case::Version;

/// A family of a few fast cases every profile runs.
const FAMILY: &str = "cancel/";

fn conform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgssl-conform"))
        .args(args)
        .output()
        .expect("pgssl-conform runs")
}

fn matrix_into(dir: &Path) -> Output {
    let out = dir.to_str().expect("temporary path is UTF-8");
    conform(&[
        "matrix",
        "--target",
        "reference",
        "--filter",
        FAMILY,
        "--out",
        out,
    ])
}

/// Every `src=` and `href=` attribute value in `html`.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=", "href="] {
        for (at, _) in html.match_indices(attr) {
            let rest = &html[at + attr.len()..];
            let value = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or_default(),
                _ => rest
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or_default(),
            };
            found.push(value.to_owned());
        }
    }
    found
}

#[test]
fn matrix_of_a_family_on_every_reference_profile() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().join("out");
    let run = matrix_into(&dir);
    assert!(
        run.status.success(),
        "matrix failed: {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    for name in ["matrix.md", "matrix.json", "matrix.html"] {
        assert!(dir.join(name).is_file(), "{name} not written");
    }

    let json = std::fs::read_to_string(dir.join("matrix.json")).expect("matrix.json reads");
    let value: serde_json::Value = serde_json::from_str(&json).expect("matrix.json parses");
    let versions: Vec<&str> = value["versions"]
        .as_array()
        .expect("versions is an array")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    let all: Vec<&str> = Version::ALL.iter().map(|v| v.name()).collect();
    assert_eq!(versions, all, "one column per profile, oldest first");
    let cases = value["cases"].as_array().expect("cases is an array");
    assert!(!cases.is_empty());
    for case in cases {
        let id = case["id"].as_str().unwrap_or_default();
        assert!(id.starts_with(FAMILY), "{id} is not in {FAMILY}");
        assert_eq!(
            case["cells"].as_array().map(Vec::len),
            Some(all.len()),
            "{id}"
        );
    }

    let html = std::fs::read_to_string(dir.join("matrix.html")).expect("matrix.html reads");
    let refs = references(&html);
    assert!(!refs.is_empty(), "the rows link to their details");
    for r in &refs {
        assert!(
            !r.starts_with("http://") && !r.starts_with("https://") && !r.starts_with("//"),
            "external reference {r}"
        );
        assert!(r.starts_with('#'), "{r} is not an in-page link");
    }
    assert!(!html.contains("<link") && !html.contains("<script") && !html.contains("url("));

    // The same behaviour gives the same bytes.
    let again = tmp.path().join("again");
    assert!(matrix_into(&again).status.success());
    for name in ["matrix.md", "matrix.json", "matrix.html"] {
        assert_eq!(
            std::fs::read(dir.join(name)).ok(),
            std::fs::read(again.join(name)).ok(),
            "{name} differs between two runs"
        );
    }
}

#[test]
fn bad_input_exits_2_saying_what_is_wrong() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let out = tmp.path().join("out");
    let out = out.to_str().expect("temporary path is UTF-8");
    let file = tmp.path().join("plain");
    std::fs::write(&file, "").expect("file written");
    let under_file = file.join("out");
    let under_file = under_file.to_str().expect("temporary path is UTF-8");
    let version = Version::ALL[0].name();
    let same = format!("reference:{version}");
    let cases: [(&[&str], &str); 4] = [
        (&["matrix", "--out", out], "at least one --target"),
        (
            &["matrix", "--target", &same, "--target", &same, "--out", out],
            "one target per version",
        ),
        (
            &[
                "matrix",
                "--target",
                &same,
                "--filter",
                "no-such-case",
                "--out",
                out,
            ],
            "matches no case id",
        ),
        (
            &[
                "matrix", "--target", &same, "--filter", FAMILY, "--out", under_file,
            ],
            "cannot write the matrix or report",
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

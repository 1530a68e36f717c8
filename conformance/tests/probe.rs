//! `pgssl-conform probe` end to end: its TLS findings agree with testssl.sh, sslyze and
//! sslscan on the same reference server (the TLS versions accepted, the suites accepted per
//! version, the certificate's key type and size), its committed reports match a run, and an
//! unreachable address or a server that does not speak the protocol gets one line and its
//! own exit status.
//!
//! The tools come from `scripts/install-deps` (testssl.sh and sslscan from Debian, sslyze
//! from PyPI in /opt/pgssl/sslyze); `PGSSL_TESTSSL`, `PGSSL_SSLSCAN` and `PGSSL_SSLYZE` name
//! others. A missing tool fails the test with the install hint; `PGSSL_ALLOW_MISSING=1` skips
//! it instead, loudly.

// Only the reference server is used here; the module also serves the other test binaries.
#[allow(dead_code)]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Output};

use pgssl_conformance::case::{CertKind, Setup, Version};
use pgssl_conformance::target::{Running, Started, Target};
use serde_json::Value;

/// The versions all four compare, as the probe names them and as each tool does.
const VERSIONS: &[(&str, &str, &str, &str)] = &[
    // probe, sslscan (`sslversion` / protocol version), testssl.sh id, sslyze result key
    ("TLSv1", "1.0", "tls1", "tls_1_0"),
    ("TLSv1.1", "1.1", "tls1_1", "tls_1_1"),
    ("TLSv1.2", "1.2", "tls1_2", "tls_1_2"),
    ("TLSv1.3", "1.3", "tls1_3", "tls_1_3"),
];

fn started(version: Version, setup: &Setup) -> (Box<dyn Target>, Box<dyn Running>) {
    let target: Box<dyn Target> = Box::new(common::reference(version));
    match target.start(setup).expect("the reference server starts") {
        Started::Running(r) => (target, r),
        Started::Refused { fatal, .. } => panic!("the reference server refused: {fatal:?}"),
    }
}

fn probe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgssl-conform"))
        .arg("probe")
        .args(args)
        .output()
        .expect("pgssl-conform runs")
}

/// The probe's JSON report of `addr`, checked against its exit status.
fn probe_json(addr: SocketAddr) -> Value {
    let out = probe(&[&addr.to_string(), "--format", "json", "--wait", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "probe JSON does not parse ({e}):\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        out.status.code().map(i64::from),
        report["exit_status"].as_i64(),
        "the exit status is the report's"
    );
    report
}

/// The probe's accepted versions and suites (code points, upper case) per version, and
/// what it could not offer, for assertion messages.
struct ProbeTls {
    versions: BTreeSet<String>,
    suites: BTreeMap<String, BTreeSet<String>>,
    iana: BTreeMap<String, BTreeSet<String>>,
    limits: String,
    key: (String, u64, String),
}

fn probe_tls(report: &Value) -> ProbeTls {
    let tls = &report["tls"];
    let versions = tls["versions"]
        .as_object()
        .expect("tls.versions")
        .iter()
        .filter(|(_, s)| *s == "accepted")
        .map(|(v, _)| v.clone())
        .collect();
    let mut suites = BTreeMap::new();
    let mut iana = BTreeMap::new();
    for (v, list) in tls["ciphers"].as_object().expect("tls.ciphers") {
        let list = list.as_array().expect("suites");
        suites.insert(
            v.clone(),
            list.iter()
                .map(|s| s["id"].as_str().expect("id").to_owned())
                .collect(),
        );
        iana.insert(
            v.clone(),
            list.iter()
                .map(|s| s["iana"].as_str().expect("iana").to_owned())
                .collect(),
        );
    }
    let leaf = &report["certificate"][0];
    ProbeTls {
        versions,
        suites,
        iana,
        limits: format!(
            "the probe's OpenSSL has no {} suites, and knows but cannot offer {} (PSK and SRP suites need credentials)",
            tls["untested"],
            tls["not_offered"]
                .as_object()
                .map(|m| m
                    .iter()
                    .map(|(v, l)| format!("{} {v} suites", l.as_array().map_or(0, Vec::len)))
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ),
        key: (
            leaf["key_type"].as_str().expect("key_type").to_owned(),
            leaf["key_bits"].as_u64().expect("key_bits"),
            leaf["key_curve"].as_str().unwrap_or("").to_owned(),
        ),
    }
}

/// What one tool reported: accepted versions and suites per probe version name, the key,
/// and what it said it could not test.
#[derive(Debug, Default)]
struct ToolTls {
    versions: BTreeSet<String>,
    suites: BTreeMap<String, BTreeSet<String>>,
    key: String,
    untested: Vec<String>,
}

/// The attributes of every `<tag …/>` element in `xml` (sslscan writes one per line).
fn elements(xml: &str, tag: &str) -> Vec<BTreeMap<String, String>> {
    let open = format!("<{tag} ");
    xml.lines()
        .filter_map(|l| l.trim().strip_prefix(&open))
        .map(|rest| {
            let mut attrs = BTreeMap::new();
            for part in rest.split("\" ") {
                if let Some((k, v)) = part.split_once("=\"") {
                    attrs.insert(
                        k.trim().to_owned(),
                        v.trim_end_matches("\" />").trim_end_matches('"').to_owned(),
                    );
                }
            }
            attrs
        })
        .collect()
}

fn sslscan(program: &Path, addr: SocketAddr, dir: &Path) -> ToolTls {
    let xml_path = dir.join("sslscan.xml");
    let out = Command::new(program)
        .arg("--starttls-psql")
        .arg(format!("--xml={}", xml_path.display()))
        .arg("--no-colour")
        .arg(addr.to_string())
        .output()
        .expect("sslscan runs");
    let xml = std::fs::read_to_string(&xml_path).unwrap_or_else(|e| {
        panic!(
            "sslscan wrote no XML ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let mut t = ToolTls::default();
    for p in elements(&xml, "protocol") {
        let (Some(kind), Some(version)) = (p.get("type"), p.get("version")) else {
            continue;
        };
        let name = VERSIONS.iter().find(|v| kind == "tls" && v.1 == version);
        match (name, p.get("enabled").map(String::as_str)) {
            (Some(v), Some("1")) => {
                t.versions.insert(v.0.to_owned());
            }
            (Some(_), Some("0")) => {}
            (Some(v), other) => t.untested.push(format!("{}: enabled={other:?}", v.0)),
            (None, _) => {}
        }
    }
    for c in elements(&xml, "cipher") {
        let version = c.get("sslversion").map(|v| v.trim_start_matches("TLSv"));
        let Some(v) = VERSIONS.iter().find(|v| Some(v.1) == version) else {
            continue;
        };
        if let Some(id) = c.get("id") {
            t.suites
                .entry(v.0.to_owned())
                .or_default()
                .insert(format!("0x{}", id.trim_start_matches("0x").to_uppercase()));
        }
    }
    if let Some(pk) = elements(&xml, "pk").first() {
        t.key = match pk.get("type").map(String::as_str) {
            // sslscan gives an EC key's strength as bits; its curve names the size.
            Some("EC") => format!("EC {}", pk.get("curve_name").cloned().unwrap_or_default()),
            Some(kind) => format!("{kind} {}", pk.get("bits").cloned().unwrap_or_default()),
            None => String::new(),
        };
    }
    t
}

fn testssl(program: &Path, addr: SocketAddr, dir: &Path) -> ToolTls {
    let json_path = dir.join("testssl.json");
    let out = Command::new(program)
        .args([
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "off",
            "--openssl-timeout",
            "5",
        ])
        .args(["-p", "-E", "-S", "--starttls", "postgres", "--jsonfile"])
        .arg(&json_path)
        .arg(addr.to_string())
        .output()
        .expect("testssl.sh runs");
    let text = std::fs::read_to_string(&json_path).unwrap_or_else(|e| {
        panic!(
            "testssl.sh wrote no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let entries: Vec<Value> = serde_json::from_str(&text).expect("testssl.sh JSON parses");
    let mut t = ToolTls::default();
    for e in &entries {
        let (id, finding) = (
            e["id"].as_str().unwrap_or(""),
            e["finding"].as_str().unwrap_or(""),
        );
        let severity = e["severity"].as_str().unwrap_or("");
        if severity == "WARN" || id.contains("scanProblem") {
            t.untested.push(format!("{id}: {finding}"));
        }
        if let Some(v) = VERSIONS
            .iter()
            .find(|v| id == v.2.replace("tls", "TLS").as_str())
        {
            if finding.starts_with("offered") {
                t.versions.insert(v.0.to_owned());
            } else if !finding.starts_with("not offered") {
                t.untested.push(format!("{id}: {finding}"));
            }
        }
        if let Some(rest) = id.strip_prefix("cipher-") {
            if let Some((proto, hex)) = rest.rsplit_once("_x") {
                if let Some(v) = VERSIONS.iter().find(|v| v.2 == proto) {
                    t.suites
                        .entry(v.0.to_owned())
                        .or_default()
                        .insert(format!("0x{:0>4}", hex.to_uppercase()));
                }
            }
        }
        if id == "cert_keySize" {
            t.key = finding.to_owned();
        }
    }
    t
}

/// sslyze writes an RSA modulus as a bare 600-digit number, past what serde_json reads:
/// every number of more than 18 digits becomes a string.
fn quote_big_numbers(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut digits = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let flush = |out: &mut String, digits: &mut String| {
        if digits.len() > 18 {
            out.push('"');
            out.push_str(digits);
            out.push('"');
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        flush(&mut out, &mut digits);
        if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    flush(&mut out, &mut digits);
    out
}

fn sslyze(program: &Path, addr: SocketAddr, dir: &Path) -> ToolTls {
    let json_path = dir.join("sslyze.json");
    let out = Command::new(program)
        .args(["--starttls", "postgres", "--quiet", "--json_out"])
        .arg(&json_path)
        .args([
            "--sslv2",
            "--sslv3",
            "--tlsv1",
            "--tlsv1_1",
            "--tlsv1_2",
            "--tlsv1_3",
        ])
        .arg("--certinfo")
        .arg(addr.to_string())
        .output()
        .expect("sslyze runs");
    let text = std::fs::read_to_string(&json_path).unwrap_or_else(|e| {
        panic!(
            "sslyze wrote no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let doc: Value = serde_json::from_str(&quote_big_numbers(&text)).expect("sslyze JSON parses");
    let server = &doc["server_scan_results"][0];
    assert_eq!(
        server["connectivity_status"], "COMPLETED",
        "sslyze could not connect: {}",
        server["connectivity_error_trace"]
    );
    let results = &server["scan_result"];
    let mut t = ToolTls::default();
    for v in VERSIONS {
        let scan = &results[format!("{}_cipher_suites", v.3)];
        if scan["status"] != "COMPLETED" {
            t.untested.push(format!(
                "{}: {} {}",
                v.0, scan["status"], scan["error_reason"]
            ));
            continue;
        }
        let r = &scan["result"];
        if r["is_tls_version_supported"] == true {
            t.versions.insert(v.0.to_owned());
        }
        let names = r["accepted_cipher_suites"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["cipher_suite"]["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        t.suites.insert(v.0.to_owned(), names);
    }
    let key = &results["certificate_info"]["result"]["certificate_deployments"][0]["received_certificate_chain"]
        [0]["public_key"];
    t.key = format!("{} {}", key["algorithm"], key["key_size"]);
    t
}

/// The tool agrees with the probe on versions and on each version's suites (code points, or
/// IANA names for sslyze), and names the same key; every difference is listed with what the
/// tool and the probe said they could not test.
fn assert_agree(tool: &str, p: &ProbeTls, t: &ToolTls, by_name: bool, key_matches: bool) {
    let context = format!(
        "{tool} reported as untestable: {:?}; {}",
        t.untested, p.limits
    );
    assert_eq!(
        t.versions, p.versions,
        "{tool} and the probe disagree on the TLS versions accepted ({context})"
    );
    for v in VERSIONS {
        let theirs = t.suites.get(v.0).cloned().unwrap_or_default();
        let ours = if by_name { &p.iana } else { &p.suites }
            .get(v.0)
            .cloned()
            .unwrap_or_default();
        assert!(
            theirs == ours,
            "{tool} and the probe disagree on the {} suites: only {tool}: {:?}; only the probe: {:?} ({context})",
            v.0,
            theirs.difference(&ours).collect::<Vec<_>>(),
            ours.difference(&theirs).collect::<Vec<_>>()
        );
    }
    assert!(
        key_matches,
        "{tool} reports the key as {:?}, the probe as {:?} ({context})",
        t.key, p.key
    );
}

/// Runs the probe and the three tools against one reference server and compares them.
fn agreement(version: Version, setup: &Setup, expect_weak: bool) {
    let (Some(scan), Some(ssl_test), Some(yze)) = (
        common::program("PGSSL_SSLSCAN", "/usr/bin/sslscan"),
        common::program("PGSSL_TESTSSL", "/usr/bin/testssl"),
        common::program("PGSSL_SSLYZE", "/opt/pgssl/sslyze/bin/sslyze"),
    ) else {
        return;
    };
    let (_target, server) = started(version, setup);
    let addr = server.addr();
    let report = probe_json(addr);
    let p = probe_tls(&report);
    assert!(
        !p.versions.is_empty(),
        "the probe found no TLS version: {report}"
    );
    let weak = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| {
            f["id"].as_str().is_some_and(|i| i.starts_with("tls.tls")) && f["severity"] == "high"
        });
    assert_eq!(
        weak, expect_weak,
        "NULL or anonymous suites flagged high: {report}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (kind, bits, curve) = &p.key;
    let s = sslscan(&scan, addr, dir.path());
    let key_ok = s.key == format!("{kind} {curve}") || s.key == format!("{kind} {bits}");
    assert_agree("sslscan", &p, &s, false, key_ok);
    let y = sslyze(&yze, addr, dir.path());
    let algorithm = format!(
        "\"{}PublicKey\" {bits}",
        if kind == "EC" { "EC" } else { kind }
    );
    assert_agree("sslyze", &p, &y, true, y.key == algorithm);
    let t = testssl(&ssl_test, addr, dir.path());
    assert_agree(
        "testssl.sh",
        &p,
        &t,
        false,
        t.key == format!("{kind} {bits} bits"),
    );
}

#[test]
fn tls_findings_agree_with_the_tools_on_the_default_set_up() {
    agreement(Version::Pg15, &Setup::default(), false);
}

#[test]
fn tls_findings_agree_with_the_tools_on_old_versions_and_weak_suites() {
    let setup = Setup {
        conf: vec![
            "ssl_min_protocol_version = 'TLSv1'".into(),
            "ssl_ciphers = 'ALL:eNULL:@SECLEVEL=0'".into(),
        ],
        cert: CertKind::Rsa,
        ..Setup::default()
    };
    agreement(Version::Pg15, &setup, true);
}

/// The committed reports of the reference server are what a run gives: `probe --target …
/// --out DIR` writes both files (`PGSSL_UPDATE_EXAMPLES=1` writes them into
/// examples/probe, as the one-liner in its README does).
#[test]
fn committed_reference_reports_match_a_run() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/probe");
    let update = std::env::var_os("PGSSL_UPDATE_EXAMPLES").is_some_and(|v| v == "1");
    let scratch = tempfile::tempdir().expect("tempdir");
    let out_dir = if update {
        examples.as_path()
    } else {
        scratch.path()
    };
    for profile in ["15", "18"] {
        let target = format!("reference:{profile}");
        let out = probe(&["--target", &target, "--out", &out_dir.display().to_string()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            matches!(out.status.code(), Some(0 | 10 | 11 | 12)),
            "probe --target {target}: {:?}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        for ext in ["json", "md"] {
            let name = format!("reference-{profile}.{ext}");
            assert!(stdout.contains(&name), "{stdout}");
            if update {
                continue;
            }
            let ran = std::fs::read_to_string(out_dir.join(&name)).expect("the report written");
            let committed = std::fs::read_to_string(examples.join(&name)).unwrap_or_default();
            assert!(
                committed == ran,
                "examples/probe/{name} differs from this run's report; review it and regenerate with PGSSL_UPDATE_EXAMPLES=1:\n{ran}"
            );
        }
    }
}

/// One line on standard output, nothing on standard error, and `status`.
fn assert_one_line(out: &Output, status: i32, says: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(status), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout:?}");
    assert!(stdout.contains(says), "{stdout:?} should say {says:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unused_port_is_one_line_and_the_unreachable_status() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    for format in ["human", "json"] {
        let out = probe(&[&format!("127.0.0.1:{port}"), "--format", format]);
        assert_one_line(&out, 20, "unreachable: Connection refused");
    }
}

/// A TCP server answering every connection with `reply` (nothing at all when empty, then
/// holding the connection).
fn fake_server(reply: &'static [u8]) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut request = [0u8; 64];
            let _ = s.read(&mut request);
            if reply.is_empty() {
                std::thread::spawn(move || {
                    std::thread::sleep(std::time::Duration::from_secs(10));
                    drop(s);
                });
            } else {
                let _ = s.write_all(reply);
            }
        }
    });
    addr
}

#[test]
fn a_server_sending_garbage_or_nothing_does_not_speak_the_protocol() {
    let http = fake_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    let out = probe(&[&http.to_string()]);
    assert_one_line(&out, 21, "does not speak the PostgreSQL protocol");
    assert!(String::from_utf8_lossy(&out.stdout).contains("HTTP/1.1 400"));
    let silent = fake_server(b"");
    let out = probe(&[&silent.to_string(), "--format", "markdown"]);
    assert_one_line(&out, 21, "no reply to an SSLRequest within 2 s");
}

#[test]
fn big_numbers_in_sslyze_json_become_strings() {
    let big = "1".repeat(40);
    let text = format!("{{\"n\": {big}, \"s\": \"{big}\\\"\", \"k\": 256, \"e\": -1.5e3}}");
    let v: Value = serde_json::from_str(&quote_big_numbers(&text)).expect("parses");
    assert_eq!(v["n"], big.as_str());
    assert_eq!(v["s"], format!("{big}\""));
    assert_eq!(v["k"], 256);
    assert_eq!(v["e"], -1500.0);
}

#[test]
fn bad_input_is_refused_with_status_2() {
    let out = probe(&["localhost"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give HOST:PORT"));
    let out = probe(&["127.0.0.1:1", "--ca", "/nonexistent/ca.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ca.pem"));
    let out = probe(&["--target", "reference"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reference:15"));
    let out = probe(&["127.0.0.1:5432", "--wait", "0"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses --wait 0");
}

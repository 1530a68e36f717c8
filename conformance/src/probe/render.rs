//! The probe's report as text for a terminal, as Markdown, and as JSON. JSON and Markdown are
//! stable enough to diff: findings sorted by id, object keys sorted, no timestamps and no
//! certificate dates, times rounded down to whole seconds.

use serde::Serialize;

use super::certificate::CertInfo;
use super::finding::{Finding, worst};
use super::tls_findings::TlsJson;

/// Everything a report shows.
#[derive(Debug)]
pub struct Report {
    /// What was probed: `HOST:PORT`, or the target's label and description.
    pub target: String,
    /// The name of its files under `--out` (`reference-15`).
    pub file_label: String,
    /// Sorted by id.
    pub findings: Vec<Finding>,
    /// Versions and suites, when TLS could be negotiated.
    pub tls: Option<TlsJson>,
    /// The certificates the server sent, leaf first.
    pub certificate: Vec<CertInfo>,
    /// The probe's OpenSSL (`OpenSSL 3.6.1 …`).
    pub openssl: String,
    /// `--wait`, in seconds.
    pub wait_s: u64,
}

impl Report {
    /// The exit status its worst finding gives.
    pub fn exit_status(&self) -> u8 {
        worst(&self.findings).exit_status()
    }
}

#[derive(Serialize)]
struct Json<'a> {
    certificate: &'a [CertInfo],
    exit_status: u8,
    findings: &'a [Finding],
    probe: Probe<'a>,
    target: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<&'a TlsJson>,
    worst: &'static str,
}

#[derive(Serialize)]
struct Probe<'a> {
    openssl: &'a str,
    times: &'static str,
    wait_s: u64,
}

/// JSON, keys sorted (serde_json's map is ordered), pretty-printed.
pub fn json(r: &Report) -> String {
    let doc = Json {
        certificate: &r.certificate,
        exit_status: r.exit_status(),
        findings: &r.findings,
        probe: Probe {
            openssl: &r.openssl,
            times: "whole seconds, rounded down",
            wait_s: r.wait_s,
        },
        target: &r.target,
        tls: r.tls.as_ref(),
        worst: worst(&r.findings).as_str(),
    };
    // Through a Value so every map's keys come out sorted, whatever the struct order.
    let value = serde_json::to_value(&doc).unwrap_or(serde_json::Value::Null);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Text for a terminal: one block per finding, then the certificate's dates.
pub fn human(r: &Report) -> String {
    let w = worst(&r.findings);
    let mut out = format!(
        "probe {}: worst finding {} (exit status {})\n",
        r.target,
        w.as_str(),
        r.exit_status()
    );
    for f in &r.findings {
        out.push_str(&format!(
            "[{:6}] {}: {}\n         {}\n",
            f.severity.as_str(),
            f.id,
            f.observation,
            f.explanation
        ));
        for d in &f.detail {
            out.push_str(&format!("           {d}\n"));
        }
    }
    for (i, c) in r.certificate.iter().enumerate() {
        out.push_str(&format!(
            "certificate {i}: not before {}, not after {}\n",
            c.dates.0, c.dates.1
        ));
    }
    out.push_str(&format!(
        "probe: {}; --wait {} s; times rounded down to whole seconds\n",
        r.openssl, r.wait_s
    ));
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Markdown: a summary line, the findings table, the suites per version, and details.
pub fn markdown(r: &Report) -> String {
    let w = worst(&r.findings);
    let mut out = format!("# Probe report: {}\n\n", r.target);
    out.push_str(&format!(
        "Worst finding: **{}** (exit status {}). Probe: {}, `--wait {}`; times are rounded down to whole seconds.\n\n",
        w.as_str(),
        r.exit_status(),
        r.openssl,
        r.wait_s
    ));
    out.push_str("| id | severity | observation | why it matters |\n|---|---|---|---|\n");
    for f in &r.findings {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            f.id,
            f.severity.as_str(),
            cell(&f.observation),
            cell(&f.explanation)
        ));
    }
    if let Some(tls) = &r.tls {
        out.push_str("\n## Cipher suites accepted\n");
        for (version, suites) in &tls.ciphers {
            out.push_str(&format!(
                "\n### {version}\n\n| code | IANA | OpenSSL | flags |\n|---|---|---|---|\n"
            ));
            for s in suites {
                let flags: Vec<&str> = s.flags.iter().map(|f| f.name()).collect();
                out.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    s.id,
                    s.iana,
                    s.openssl,
                    flags.join(", ")
                ));
            }
        }
    }
    let detailed: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| !f.detail.is_empty() && !f.id.starts_with("tls.tls"))
        .collect();
    if !detailed.is_empty() {
        out.push_str("\n## Details\n");
        for f in detailed {
            out.push_str(&format!("\n`{}`:\n\n", f.id));
            for d in &f.detail {
                out.push_str(&format!("- {}\n", d));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::finding::Severity;
    use super::super::suites::{Suite, Weakness};
    use super::*;

    fn report() -> Report {
        let mut ciphers = std::collections::BTreeMap::new();
        ciphers.insert(
            "TLSv1.2".to_owned(),
            vec![Suite {
                flags: vec![Weakness::TripleDes],
                iana: "TLS_RSA_WITH_3DES_EDE_CBC_SHA".into(),
                id: "0x000A".into(),
                openssl: "DES-CBC3-SHA".into(),
            }],
        );
        let mut versions = std::collections::BTreeMap::new();
        versions.insert("TLSv1.2".to_owned(), "accepted".to_owned());
        versions.insert("TLSv1".to_owned(), "refused".to_owned());
        Report {
            target: "db:5432".into(),
            file_label: "db_5432".into(),
            findings: vec![
                Finding::new("alpn", Severity::Info, "a | b", "why"),
                Finding::new("tls.tls1.2", Severity::Low, "accepted", "3DES")
                    .with_detail(vec!["0x000A …".into()]),
                Finding::new("tls.limits", Severity::Info, "limits", "only offered")
                    .with_detail(vec!["SSLv2: not tried".into()]),
            ],
            tls: Some(TlsJson {
                ciphers,
                not_offered: Default::default(),
                untested: vec!["RC4".into()],
                versions,
            }),
            certificate: Vec::new(),
            openssl: "OpenSSL 3.x".into(),
            wait_s: 5,
        }
    }

    #[test]
    fn json_has_sorted_keys_the_worst_finding_and_its_exit_status() {
        let text = json(&report());
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["worst"], "low");
        assert_eq!(v["exit_status"], 10);
        assert_eq!(v["tls"]["versions"]["TLSv1"], "refused");
        assert_eq!(v["tls"]["ciphers"]["TLSv1.2"][0]["flags"][0], "3des");
        assert_eq!(v["probe"]["wait_s"], 5);
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert!(text.find("\"certificate\"") < text.find("\"findings\""));
        // The same report renders to the same bytes.
        assert_eq!(text, json(&report()));
    }

    #[test]
    fn markdown_escapes_cells_and_lists_suites_and_details() {
        let md = markdown(&report());
        assert!(md.starts_with("# Probe report: db:5432\n"));
        assert!(md.contains("Worst finding: **low** (exit status 10)"));
        assert!(md.contains("| `alpn` | info | a \\| b | why |"));
        assert!(md.contains("### TLSv1.2"));
        assert!(md.contains("| 0x000A | TLS_RSA_WITH_3DES_EDE_CBC_SHA | DES-CBC3-SHA | 3DES |"));
        // Suites appear once, in their table; other details in the list.
        assert!(md.contains("- SSLv2: not tried"));
        assert!(!md.contains("- 0x000A"));
    }

    #[test]
    fn human_shows_every_finding_with_its_severity() {
        let text = human(&report());
        assert!(text.starts_with("probe db:5432: worst finding low (exit status 10)\n"));
        assert!(text.contains("[low   ] tls.tls1.2: accepted\n"));
        assert!(text.contains("           SSLv2: not tried\n"));
    }
}

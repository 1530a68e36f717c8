//! The matrix as text: Markdown (a summary, the cases × versions table and every distinct
//! trace), pretty JSON (the [`Matrix`] as serialized, keys in declaration order), and one
//! self-contained HTML page (inline CSS, no scripts, fonts or other external assets).

use std::fmt::Write as _;

use super::{ChangeKind, Matrix, Row};
use crate::run::Status;

/// How many distinct behaviour colours the HTML page has; labels beyond cycle through them.
const PALETTE: usize = 8;

/// The matrix as pretty JSON, with a final newline.
pub fn json(matrix: &Matrix) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(matrix).map(|s| s + "\n")
}

/// The "changed in" text of a row: `15, 17 (added), 18 (removed)`; empty when nothing changed.
pub fn changed_in(row: &Row) -> String {
    let parts: Vec<String> = row
        .changes
        .iter()
        .map(|c| match c.kind {
            ChangeKind::Changed => c.version.name().to_owned(),
            ChangeKind::Added => format!("{} (added)", c.version),
            ChangeKind::Removed => format!("{} (removed)", c.version),
        })
        .collect();
    parts.join(", ")
}

/// A cell's short text: the label, with `FAIL` after it for a failure and `ERROR` for a
/// harness error; `n/a` when the case did not apply.
fn cell_text(status: Status, behaviour: Option<&str>) -> String {
    match (status, behaviour) {
        (Status::Fail, Some(b)) => format!("{b} FAIL"),
        (Status::Fail, None) => "FAIL".to_owned(),
        (Status::Error, Some(b)) => format!("{b} ERROR"),
        (Status::Error, None) => "ERROR".to_owned(),
        (_, Some(b)) => b.to_owned(),
        (_, None) => "n/a".to_owned(),
    }
}

/// Text safe inside a Markdown table cell.
fn md_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace(['\n', '\r'], " ")
}

/// A fenced code block holding `lines`, its fence longer than any backtick run inside.
fn md_code(out: &mut String, lines: &[String]) {
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(out, "{fence}text");
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "{fence}\n");
}

/// The Markdown page.
pub fn markdown(matrix: &Matrix) -> String {
    let mut out = String::new();
    out.push_str("# Conformance matrix\n\n");
    out.push_str(
        "Every case on one target per version. A cell is the case's observed behaviour on that \
         version, a letter per distinct trace within the row (`A` is the first seen, oldest \
         version first), followed by `FAIL` when the trace did not meet the version's \
         expectation; `n/a` means the case does not apply there. *Changed in* lists the \
         versions whose behaviour differs from the previous version's; *(added)* and \
         *(removed)* mark where a case starts or stops applying. The traces follow the \
         table.\n\n",
    );
    out.push_str("## Summary\n\n");
    out.push_str(
        "| version | target | run | passed | failed | not applicable | changed | added | removed |\n",
    );
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for v in &matrix.versions {
        let s = &v.summary;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            v.version,
            md_cell(&v.target),
            s.run,
            s.passed,
            s.failed,
            s.not_applicable,
            s.changed,
            s.added,
            s.removed
        );
    }
    out.push_str("\n## Cases\n\n| case |");
    for v in &matrix.versions {
        let _ = write!(out, " {} |", v.version);
    }
    out.push_str(" changed in |\n|---|");
    for _ in &matrix.versions {
        out.push_str(":-:|");
    }
    out.push_str("---|\n");
    for row in &matrix.cases {
        let _ = write!(out, "| {} |", md_cell(&row.id));
        for cell in &row.cells {
            let _ = write!(
                out,
                " {} |",
                cell_text(cell.status, cell.behaviour.as_deref())
            );
        }
        let _ = writeln!(out, " {} |", changed_in(row));
    }
    out.push_str("\n## Behaviours\n");
    for row in &matrix.cases {
        let _ = writeln!(out, "\n### {}\n", md_cell(&row.id));
        if !row.title.is_empty() {
            let _ = writeln!(out, "{}\n", md_cell(&row.title));
        }
        let _ = writeln!(out, "Rules: {}.\n", md_cell(&row.rules.join(", ")));
        if row.behaviours.is_empty() {
            out.push_str("Applies to none of these versions.\n\n");
        }
        for b in &row.behaviours {
            let versions: Vec<&str> = b.versions.iter().map(|v| v.name()).collect();
            let _ = writeln!(out, "**{}** ({}):\n", b.label, versions.join(", "));
            md_code(&mut out, &b.trace);
        }
        for cell in row
            .cells
            .iter()
            .filter(|c| matches!(c.status, Status::Fail | Status::Error))
        {
            let _ = writeln!(
                out,
                "FAIL on {} (expected `-`, observed `+`):\n",
                cell.version
            );
            let lines: Vec<String> = cell
                .diff
                .as_deref()
                .or(cell.note.as_deref())
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect();
            md_code(&mut out, &lines);
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// `text` with HTML's special characters escaped, for element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A fragment id for a case id: letters, digits and `-` kept, anything else as `_` and its
/// code point in hex, so distinct ids give distinct anchors.
pub fn anchor(id: &str) -> String {
    let mut out = String::from("case-");
    for c in id.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
        } else {
            let _ = write!(out, "_{:x}", u32::from(c));
        }
    }
    out
}

const STYLE: &str = "\
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1c1c1c; background: #fff; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; } h3 { font-size: 1rem; }
table { border-collapse: separate; border-spacing: 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: left; }
thead th { position: sticky; top: 0; background: #eef0f3; z-index: 1; border-bottom: 2px solid #999; }
thead th small { font-weight: normal; color: #555; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.cell { text-align: center; font-family: ui-monospace, monospace; min-width: 3.5rem; }
td.cell.changed { border-left: 3px solid #333; }
td.na { color: #888; background: #f6f6f6; }
td.fail { color: #8b0000; font-weight: bold; box-shadow: inset 0 0 0 2px #c00; }
th a, td a { color: inherit; }
.b0 { background: #dbeafe; } .b1 { background: #fde68a; } .b2 { background: #bbf7d0; }
.b3 { background: #fbcfe8; } .b4 { background: #ddd6fe; } .b5 { background: #fed7aa; }
.b6 { background: #a5f3fc; } .b7 { background: #e7e5e4; }
.tag { font-family: ui-monospace, monospace; padding: 0 0.4rem; border-radius: 3px; }
section.case { border-top: 1px solid #ccc; margin-top: 1rem; }
pre { background: #f7f7f7; padding: 0.5rem; overflow-x: auto; margin: 0.3rem 0 0.8rem; }
p.meta { color: #444; }
";

/// The HTML page: one file, inline CSS, no scripts or external references.
pub fn html(matrix: &Matrix) -> String {
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>pgssl conformance matrix</title>\n<style>\n",
    );
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>Conformance matrix</h1>\n");
    out.push_str(
        "<p>Every case on one target per version. A cell is the case's observed behaviour, a \
         letter (and colour) per distinct trace within the row, oldest version first; a red \
         frame and <b>FAIL</b> mark a trace that did not meet the version's expectation; \
         <i>n/a</i>: the case does not apply. A thick left border marks where a case's \
         behaviour changed from the previous version. Each case links to its traces.</p>\n",
    );
    html_summary(&mut out, matrix);
    html_table(&mut out, matrix);
    out.push_str("<h2 id=\"behaviours\">Behaviours</h2>\n");
    for row in &matrix.cases {
        html_details(&mut out, row);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn html_summary(out: &mut String, matrix: &Matrix) {
    out.push_str(
        "<h2 id=\"summary\">Summary</h2>\n<table>\n<thead><tr><th>version</th><th>target</th>\
         <th>run</th><th>passed</th><th>failed</th><th>not applicable</th><th>changed</th>\
         <th>added</th><th>removed</th></tr></thead>\n<tbody>\n",
    );
    for v in &matrix.versions {
        let s = &v.summary;
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td>",
            html_escape(v.version.name()),
            html_escape(&v.target)
        );
        for n in [
            s.run,
            s.passed,
            s.failed,
            s.not_applicable,
            s.changed,
            s.added,
            s.removed,
        ] {
            let _ = write!(out, "<td class=\"num\">{n}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn html_table(out: &mut String, matrix: &Matrix) {
    out.push_str("<h2 id=\"cases\">Cases</h2>\n<table>\n<thead><tr><th>case</th>");
    for v in &matrix.versions {
        let _ = write!(
            out,
            "<th>{}<br><small>{}</small></th>",
            html_escape(v.version.name()),
            html_escape(&v.target)
        );
    }
    out.push_str("<th>changed in</th></tr></thead>\n<tbody>\n");
    for row in &matrix.cases {
        let a = anchor(&row.id);
        let _ = write!(
            out,
            "<tr id=\"row-{a}\"><th scope=\"row\"><a href=\"#{a}\" title=\"{}\">{}</a></th>",
            html_escape(&row.title),
            html_escape(&row.id)
        );
        for cell in &row.cells {
            let mut class = vec!["cell".to_owned()];
            match cell
                .behaviour
                .as_deref()
                .and_then(|b| row.behaviour_index(b))
            {
                Some(i) => class.push(format!("b{}", i % PALETTE)),
                None => class.push("na".to_owned()),
            }
            if matches!(cell.status, Status::Fail | Status::Error) {
                class.push("fail".to_owned());
            }
            if row.change_at(cell.version).is_some() {
                class.push("changed".to_owned());
            }
            let status = match cell.status {
                Status::Pass => "passed",
                Status::Fail => "failed",
                Status::Error => "harness error",
                Status::NotApplicable => "not applicable",
            };
            let title = match &cell.note {
                Some(n) => format!("{}: {status} ({n})", cell.version),
                None => format!("{}: {status}", cell.version),
            };
            let _ = write!(
                out,
                "<td class=\"{}\" title=\"{}\">{}</td>",
                class.join(" "),
                html_escape(&title),
                html_escape(&cell_text(cell.status, cell.behaviour.as_deref()))
            );
        }
        let _ = writeln!(out, "<td>{}</td></tr>", html_escape(&changed_in(row)));
    }
    out.push_str("</tbody>\n</table>\n");
}

fn html_details(out: &mut String, row: &Row) {
    let a = anchor(&row.id);
    let _ = writeln!(
        out,
        "<section class=\"case\" id=\"{a}\">\n<h3>{}</h3>",
        html_escape(&row.id)
    );
    let _ = write!(out, "<p class=\"meta\">");
    if !row.title.is_empty() {
        let _ = write!(out, "{}<br>", html_escape(&row.title));
    }
    let _ = writeln!(
        out,
        "Rules: {}. <a href=\"#row-{a}\">Back to the table</a>.</p>",
        html_escape(&row.rules.join(", "))
    );
    if row.behaviours.is_empty() {
        out.push_str("<p>Applies to none of these versions.</p>\n");
    }
    for (i, b) in row.behaviours.iter().enumerate() {
        let versions: Vec<&str> = b.versions.iter().map(|v| v.name()).collect();
        let _ = writeln!(
            out,
            "<h4><span class=\"tag b{}\">{}</span> {}</h4>\n<pre>{}</pre>",
            i % PALETTE,
            html_escape(&b.label),
            html_escape(&versions.join(", ")),
            html_escape(&b.trace.join("\n"))
        );
    }
    for cell in row
        .cells
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Error))
    {
        let text = cell
            .diff
            .as_deref()
            .or(cell.note.as_deref())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<h4>FAIL on {} <small>(expected -, observed +)</small></h4>\n<pre>{}</pre>",
            html_escape(cell.version.name()),
            html_escape(text.trim_end())
        );
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{Column, build};
    use super::*;
    use crate::case::Version;
    use crate::run::CaseResult;

    fn matrix(trace: &[&str], second: &[&str]) -> Matrix {
        let result = |status, trace: &[&str]| CaseResult {
            id: "family/a<b>&\"c\"".to_owned(),
            rules: vec!["W1".to_owned()],
            target: String::new(),
            status,
            trace: trace.iter().map(|s| (*s).to_owned()).collect(),
            diff: (status == Status::Fail).then(|| "- < S\n+ <script>x</script>\n".to_owned()),
            note: None,
        };
        let cols = vec![
            Column {
                version: Version::ALL[0],
                target: "t-old".to_owned(),
                results: vec![result(Status::Pass, trace)],
            },
            Column {
                version: Version::ALL[1],
                target: "t-new".to_owned(),
                results: vec![result(Status::Fail, second)],
            },
        ];
        let titles = BTreeMap::from([("family/a<b>&\"c\"".to_owned(), "x < y".to_owned())]);
        build(cols, &titles).unwrap()
    }

    #[test]
    fn html_escapes_special_characters_in_traces_ids_and_diffs() {
        let m = matrix(
            &["< S", "< ErrorResponse: \"bad\" & 'worse' <tag>"],
            &["<script>alert(1)</script>"],
        );
        let page = html(&m);
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<tag>"));
        assert!(
            page.contains("&lt; ErrorResponse: &quot;bad&quot; &amp; &#39;worse&#39; &lt;tag&gt;")
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("family/a&lt;b&gt;&amp;&quot;c&quot;"));
        assert!(page.contains("x &lt; y"));
        // The anchor has no character that needs escaping, and the row links to it.
        let a = anchor("family/a<b>&\"c\"");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        );
        assert!(page.contains(&format!("href=\"#{a}\"")));
        assert!(page.contains(&format!("id=\"{a}\"")));
    }

    #[test]
    fn html_marks_failures_and_changes_and_colours_by_behaviour() {
        let m = matrix(&["< S"], &["< N"]);
        let page = html(&m);
        assert!(page.contains("class=\"cell b0\""), "{page}");
        assert!(page.contains("class=\"cell b1 fail changed\""), "{page}");
        assert!(page.contains(">B FAIL</td>"));
        assert!(page.contains("position: sticky"));
        assert!(!page.contains("http://") && !page.contains("https://"));
    }

    #[test]
    fn anchors_of_distinct_ids_differ() {
        assert_ne!(anchor("a/b"), anchor("a_b"));
        assert_ne!(anchor("a/b"), anchor("a-b"));
        assert_eq!(anchor("tls/x-1"), "case-tls_2fx-1");
    }

    #[test]
    fn markdown_has_the_table_changed_in_and_each_trace_once() {
        let m = matrix(&["< S", "| piped `tick`"], &["< N ```"]);
        let md = markdown(&m);
        let v0 = Version::ALL[0];
        let v1 = Version::ALL[1];
        assert!(
            md.contains(&format!("| case | {v0} | {v1} | changed in |")),
            "{md}"
        );
        assert!(
            md.contains(&format!("| family/a&lt;b>&\"c\" | A | B FAIL | {v1} |")),
            "{md}"
        );
        assert_eq!(md.matches("| piped `tick`").count(), 1);
        // A trace holding three backticks is fenced with four.
        assert!(md.contains("````text\n< N ```\n````"), "{md}");
        assert!(md.ends_with("\n") && !md.ends_with("\n\n"));
    }

    #[test]
    fn json_keeps_declaration_order_and_names_versions() {
        let m = matrix(&["< S"], &["< S"]);
        let text = json(&m).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["versions"][0]["version"], Version::ALL[0].name());
        assert_eq!(v["cases"][0]["cells"][1]["behaviour"], "A");
        assert!(text.find("\"versions\"") < text.find("\"cases\""));
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn changed_in_names_kinds() {
        let mut m = matrix(&["< S"], &["< N"]);
        assert_eq!(changed_in(&m.cases[0]), Version::ALL[1].name());
        m.cases[0].changes[0].kind = ChangeKind::Added;
        assert_eq!(
            changed_in(&m.cases[0]),
            format!("{} (added)", Version::ALL[1])
        );
    }
}

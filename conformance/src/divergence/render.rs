//! The divergence report as Markdown and as one self-contained HTML page (inline CSS, no
//! scripts, no links outside the page). Neither has a timestamp, so a committed report
//! changes only when behaviour does.

use std::fmt::Write;

use super::{Class, Divergence, TargetReport};
use crate::matrix::render::{anchor, html_escape};

/// The opening paragraph: what ran and the counts.
fn summary(r: &TargetReport) -> String {
    let run = r.passed + r.divergences.len() + r.unstable.len() + r.errors.len();
    format!(
        "{run} cases run against `{}`{}, judged by PostgreSQL {}'s expectations: {} as PostgreSQL does, {} divergences ({} security, {} interoperability, {} fidelity), {} varying between runs, {} harness errors; {} not applicable.",
        r.target,
        r.describe
            .as_ref()
            .map_or(String::new(), |d| format!(" ({d})")),
        r.version,
        r.passed,
        r.divergences.len(),
        r.count(Class::Security),
        r.count(Class::Interoperability),
        r.count(Class::Fidelity),
        r.unstable.len(),
        r.errors.len(),
        r.not_applicable.len()
    )
}

/// What each class means, as the report's legend says it.
fn legend(class: Class) -> &'static str {
    match class {
        Class::Security => {
            "the target accepts what PostgreSQL refuses where that protects something: plaintext or pipelined bytes, a key others can read, a weaker TLS, an authentication PostgreSQL would fail"
        }
        Class::Interoperability => "a real client would fail or take another path",
        Class::Fidelity => "the same outcome with a different code, message or log line",
    }
}

/// The Markdown report of each target, one after another.
pub fn markdown(reports: &[TargetReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(out, "# Divergences from PostgreSQL: {}\n", r.target);
        let _ = writeln!(out, "{}\n", summary(r));
        for class in Class::ALL {
            let of: Vec<&Divergence> = r.divergences.iter().filter(|d| d.class == class).collect();
            let _ = writeln!(out, "## {} ({})\n", capitalized(class.name()), of.len());
            let _ = writeln!(out, "_{}._\n", legend(class));
            for d in of {
                let _ = writeln!(out, "### `{}`\n", d.case);
                let _ = writeln!(out, "{}\n", d.title);
                let _ = writeln!(out, "**Why it matters:** {}\n", d.why);
                let _ = writeln!(out, "```diff\n{}```\n", ensure_newline(&d.diff));
            }
        }
        if !r.unstable.is_empty() {
            let _ = writeln!(out, "## Varies between runs ({})\n", r.unstable.len());
            for (id, why) in &r.unstable {
                let _ = writeln!(out, "- `{id}`: {why}");
            }
            out.push('\n');
        }
        if !r.errors.is_empty() {
            let _ = writeln!(out, "## Harness errors ({})\n", r.errors.len());
            for (id, why) in &r.errors {
                let _ = writeln!(out, "- `{id}`: {}", why.replace('\n', " "));
            }
            out.push('\n');
        }
        let _ = writeln!(out, "## Not applicable ({})\n", r.not_applicable.len());
        for (id, why) in &r.not_applicable {
            let _ = writeln!(out, "- `{id}`: {why}");
        }
        out.push('\n');
    }
    out
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
}

fn ensure_newline(text: &str) -> String {
    if text.ends_with('\n') || text.is_empty() {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}

const STYLE: &str = "\
body { font-family: system-ui, sans-serif; margin: 1.5rem; max-width: 70rem; color: #1c1c1c; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; } h3 { font-size: 1rem; }
.security h2 { color: #a40000; } .interoperability h2 { color: #8a5300; } .fidelity h2 { color: #1f4f8a; }
pre { background: #f4f5f7; padding: 0.5rem; overflow-x: auto; }
.del { color: #a40000; } .add { color: #0a6b1f; }
code { font-size: 0.95em; }
";

/// One HTML page with every target's report.
pub fn html(reports: &[TargetReport]) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let targets: Vec<&str> = reports.iter().map(|r| r.target.as_str()).collect();
    let _ = writeln!(
        out,
        "<title>Divergences from PostgreSQL: {}</title>",
        html_escape(&targets.join(", "))
    );
    let _ = writeln!(out, "<style>\n{STYLE}</style>\n</head>\n<body>");
    for r in reports {
        let _ = writeln!(
            out,
            "<h1>Divergences from PostgreSQL: {}</h1>",
            html_escape(&r.target)
        );
        let _ = writeln!(out, "<p>{}</p>", html_escape(&summary(r)));
        for class in Class::ALL {
            let of: Vec<&Divergence> = r.divergences.iter().filter(|d| d.class == class).collect();
            let _ = writeln!(out, "<section class=\"{}\">", class.name());
            let _ = writeln!(
                out,
                "<h2>{} ({})</h2>\n<p><em>{}.</em></p>",
                capitalized(class.name()),
                of.len(),
                html_escape(legend(class))
            );
            for d in of {
                let _ = writeln!(
                    out,
                    "<h3 id=\"{}-{}\"><code>{}</code></h3>",
                    html_escape(&r.target),
                    anchor(&d.case),
                    html_escape(&d.case)
                );
                let _ = writeln!(out, "<p>{}</p>", html_escape(&d.title));
                let _ = writeln!(
                    out,
                    "<p><strong>Why it matters:</strong> {}</p>",
                    html_escape(&d.why)
                );
                out.push_str("<pre>");
                for line in d.diff.lines() {
                    let class = match line.chars().next() {
                        Some('-') => " class=\"del\"",
                        Some('+') => " class=\"add\"",
                        _ => "",
                    };
                    let _ = writeln!(out, "<span{class}>{}</span>", html_escape(line));
                }
                out.push_str("</pre>\n");
            }
            out.push_str("</section>\n");
        }
        if !r.unstable.is_empty() {
            html_list(&mut out, "Varies between runs", &r.unstable);
        }
        if !r.errors.is_empty() {
            html_list(&mut out, "Harness errors", &r.errors);
        }
        html_list(&mut out, "Not applicable", &r.not_applicable);
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// A heading with the count, and the case ids with their notes.
fn html_list(out: &mut String, title: &str, items: &[(String, String)]) {
    let _ = writeln!(out, "<h2>{title} ({})</h2>\n<ul>", items.len());
    for (id, why) in items {
        let _ = writeln!(
            out,
            "<li><code>{}</code>: {}</li>",
            html_escape(id),
            html_escape(why)
        );
    }
    out.push_str("</ul>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> TargetReport {
        TargetReport {
            target: "pgbouncer-15".into(),
            describe: Some("PgBouncer 1.18.0 <in front>".into()),
            version: "15".into(),
            passed: 3,
            divergences: vec![Divergence {
                case: "files/key-mode-0644".into(),
                title: "a world-readable key".into(),
                class: Class::Security,
                why: "keys & secrets".into(),
                diff: "- start: refused: FATAL:  x\n+ S\n".into(),
            }],
            unstable: Vec::new(),
            not_applicable: vec![("files/passphrase-command".into(), "no passphrase".into())],
            errors: Vec::new(),
        }
    }

    #[test]
    fn markdown_lists_each_class_with_why() {
        let md = markdown(&[report()]);
        assert!(
            md.contains("1 security, 0 interoperability, 0 fidelity"),
            "{md}"
        );
        assert!(md.contains("## Security (1)"));
        assert!(md.contains("**Why it matters:** keys & secrets"));
        assert!(md.contains("```diff\n- start: refused: FATAL:  x\n+ S\n```"));
        assert!(md.contains("- `files/passphrase-command`: no passphrase"));
    }

    #[test]
    fn html_is_escaped_and_self_contained() {
        let page = html(&[report()]);
        assert!(page.contains("keys &amp; secrets"));
        assert!(page.contains("&lt;in front&gt;"));
        assert!(page.contains("<span class=\"add\">+ S</span>"));
        for outside in ["http://", "https://", "<script", "<link", "src="] {
            assert!(!page.contains(outside), "{outside}");
        }
    }
}

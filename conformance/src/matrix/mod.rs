//! `pgssl-conform matrix`: the catalogue run on one target per version, laid out as cases ×
//! versions so that where behaviour changed stands out.
//!
//! [`collect`] runs every target; [`build`] turns their results into a [`Matrix`] (a pure
//! function, so change detection is tested on synthetic results); [`render`] prints the matrix
//! as Markdown, JSON and a self-contained HTML page; [`write()`] puts the three files in a
//! directory, each atomically.
//!
//! A case's *observation* on a version is its trace, with one declared reading: the value of
//! the `server_version` ParameterStatus becomes `<server_version>`, since every release
//! reports its own number and that is what the column already says. Within a case, identical traces share a
//! label (`A`, `B`, … in the order they first appear, versions ascending). A case *changed* at
//! a version when its observation differs from the previous version's, and was *added* or
//! *removed* there when it starts or stops applying. Nothing in the output depends on the
//! time or on the order results arrive in, so a committed matrix changes only when behaviour
//! does.

mod files;
pub mod render;

pub use files::{FILES, prepare_dir, write, write_staged};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::case::{Case, Version};
use crate::error::Error;
use crate::run::{CaseResult, Status, run_target};
use crate::target::Target;

/// One target's results: a column of the matrix.
#[derive(Clone, Debug)]
pub struct Column {
    /// The version the target behaves as.
    pub version: Version,
    /// The target's label (`reference-15`, `postgres-18`).
    pub target: String,
    /// Its results, one per case.
    pub results: Vec<CaseResult>,
}

/// Cases × versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Matrix {
    /// The columns, oldest version first, each with its summary.
    pub versions: Vec<VersionColumn>,
    /// The rows, by case id.
    pub cases: Vec<Row>,
}

/// A version's column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionColumn {
    /// The version.
    pub version: Version,
    /// The target that ran it.
    pub target: String,
    /// Its counts.
    pub summary: Summary,
}

/// Counts over one version's column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Cases that ran (passed or failed).
    pub run: usize,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed, harness errors included.
    pub failed: usize,
    /// Of those, the cases the harness itself could not run (an error, not a verdict).
    pub errors: usize,
    /// Cases that did not apply (or were not run).
    pub not_applicable: usize,
    /// Cases whose observation differs from the previous version's.
    pub changed: usize,
    /// Cases that apply here but not to the previous version.
    pub added: usize,
    /// Cases that applied to the previous version but not here.
    pub removed: usize,
}

/// One case across the versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The case id.
    pub id: String,
    /// Its rule ids.
    pub rules: Vec<String>,
    /// Its title (empty when unknown).
    pub title: String,
    /// One cell per version column, in column order.
    pub cells: Vec<Cell>,
    /// Where the observation changed, oldest first.
    pub changes: Vec<Change>,
    /// The distinct observations, in label order.
    pub behaviours: Vec<Behaviour>,
}

/// A case on one version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The version.
    pub version: Version,
    /// The verdict.
    pub status: Status,
    /// The label of the observed trace; none when the case did not apply.
    pub behaviour: Option<String>,
    /// Why the case did not apply, or could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Expected vs observed lines, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// A version at which a case's observation differs from the previous version's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The version.
    pub version: Version,
    /// How it differs.
    pub kind: ChangeKind,
}

/// How a case's observation differs from the previous version's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Both applied; the traces differ.
    Changed,
    /// The case did not apply to the previous version and applies here.
    Added,
    /// The case applied to the previous version and does not here.
    Removed,
}

/// One distinct observation of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Behaviour {
    /// Its label (`A`, `B`, …).
    pub label: String,
    /// The versions that showed it.
    pub versions: Vec<Version>,
    /// The trace.
    pub trace: Vec<String>,
}

impl Row {
    /// The index of `label` among the row's behaviours (for colouring).
    pub fn behaviour_index(&self, label: &str) -> Option<usize> {
        self.behaviours.iter().position(|b| b.label == label)
    }

    /// The change at `version`, if any.
    pub fn change_at(&self, version: Version) -> Option<ChangeKind> {
        self.changes
            .iter()
            .find(|c| c.version == version)
            .map(|c| c.kind)
    }
}

/// The `n`th label: `A`…`Z`, then `AA`, `AB`, …
pub fn label(n: usize) -> String {
    let mut n = n + 1;
    let mut out = Vec::new();
    while n > 0 {
        n -= 1;
        out.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    out.iter().rev().map(|b| char::from(*b)).collect()
}

/// A version's place in [`Version::ALL`] (oldest rules first).
fn rank(version: Version) -> usize {
    Version::ALL
        .iter()
        .position(|v| *v == version)
        .unwrap_or(usize::MAX)
}

/// Checks that `targets` (version, label) are not empty and name each version at most once.
pub fn check_versions(targets: &[(Version, String)]) -> Result<(), Error> {
    if targets.is_empty() {
        return Err(Error::MatrixNoTargets);
    }
    let mut seen: BTreeMap<Version, &str> = BTreeMap::new();
    for (version, label) in targets {
        if let Some(first) = seen.insert(*version, label) {
            return Err(Error::MatrixDuplicateVersion {
                version: version.name().to_owned(),
                first: first.to_owned(),
                second: label.clone(),
            });
        }
    }
    Ok(())
}

/// [`check_versions`] for parsed targets.
pub fn check_targets(targets: &[Box<dyn Target>]) -> Result<(), Error> {
    let pairs: Vec<(Version, String)> = targets.iter().map(|t| (t.version(), t.label())).collect();
    check_versions(&pairs)
}

/// Builds the matrix from one column per version; `titles` maps case ids to titles.
pub fn build(mut columns: Vec<Column>, titles: &BTreeMap<String, String>) -> Result<Matrix, Error> {
    let pairs: Vec<(Version, String)> = columns
        .iter()
        .map(|c| (c.version, c.target.clone()))
        .collect();
    check_versions(&pairs)?;
    columns.sort_by_key(|c| rank(c.version));
    // Case id -> (rules, one result or none per column).
    let mut by_case: BTreeMap<&str, (&[String], Vec<Option<&CaseResult>>)> = BTreeMap::new();
    for (i, column) in columns.iter().enumerate() {
        for r in &column.results {
            let entry = by_case
                .entry(&r.id)
                .or_insert_with(|| (&r.rules, vec![None; columns.len()]));
            entry.1[i].get_or_insert(r);
        }
    }
    let mut summaries = vec![Summary::default(); columns.len()];
    let mut rows = Vec::new();
    for (id, (rules, results)) in by_case {
        let row = build_row(id, rules, titles, &columns, &results);
        for (i, cell) in row.cells.iter().enumerate() {
            let s = &mut summaries[i];
            match cell.status {
                Status::Pass => s.passed += 1,
                Status::Fail => s.failed += 1,
                Status::Error => {
                    s.failed += 1;
                    s.errors += 1;
                }
                Status::NotApplicable => s.not_applicable += 1,
            }
            match row.change_at(cell.version) {
                Some(ChangeKind::Changed) => s.changed += 1,
                Some(ChangeKind::Added) => s.added += 1,
                Some(ChangeKind::Removed) => s.removed += 1,
                None => {}
            }
        }
        rows.push(row);
    }
    let versions = columns
        .iter()
        .zip(summaries)
        .map(|(c, mut summary)| {
            summary.run = summary.passed + summary.failed;
            VersionColumn {
                version: c.version,
                target: c.target.clone(),
                summary,
            }
        })
        .collect();
    Ok(Matrix {
        versions,
        cases: rows,
    })
}

/// The trace as the matrix compares it: `server_version`'s value is `<server_version>`.
fn observation(trace: &[String]) -> Vec<String> {
    const SERVER_VERSION: &str = "< ParameterStatus server_version=";
    trace
        .iter()
        .map(|line| match line.strip_prefix(SERVER_VERSION) {
            Some(_) => format!("{SERVER_VERSION}<server_version>"),
            None => line.clone(),
        })
        .collect()
}

fn build_row(
    id: &str,
    rules: &[String],
    titles: &BTreeMap<String, String>,
    columns: &[Column],
    results: &[Option<&CaseResult>],
) -> Row {
    let mut behaviours: Vec<Behaviour> = Vec::new();
    let mut cells = Vec::new();
    for (column, result) in columns.iter().zip(results) {
        let cell = match result {
            None => Cell {
                version: column.version,
                status: Status::NotApplicable,
                behaviour: None,
                note: Some(format!("not run on {}", column.target)),
                diff: None,
            },
            Some(r) if r.status == Status::NotApplicable => Cell {
                version: column.version,
                status: Status::NotApplicable,
                behaviour: None,
                note: r.note.clone(),
                diff: None,
            },
            Some(r) => {
                let trace = observation(&r.trace);
                let label = match behaviours.iter_mut().find(|b| b.trace == trace) {
                    Some(b) => {
                        b.versions.push(column.version);
                        b.label.clone()
                    }
                    None => {
                        let label = label(behaviours.len());
                        behaviours.push(Behaviour {
                            label: label.clone(),
                            versions: vec![column.version],
                            trace,
                        });
                        label
                    }
                };
                Cell {
                    version: column.version,
                    status: r.status,
                    behaviour: Some(label),
                    note: r.note.clone(),
                    diff: r.diff.clone(),
                }
            }
        };
        cells.push(cell);
    }
    let changes = cells
        .windows(2)
        .filter_map(|pair| {
            let kind = match (&pair[0].behaviour, &pair[1].behaviour) {
                (Some(a), Some(b)) if a != b => ChangeKind::Changed,
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Removed,
                _ => return None,
            };
            Some(Change {
                version: pair[1].version,
                kind,
            })
        })
        .collect();
    Row {
        id: id.to_owned(),
        rules: rules.to_vec(),
        title: titles.get(id).cloned().unwrap_or_default(),
        cells,
        changes,
        behaviours,
    }
}

/// Runs `cases` on every target (`jobs` set-up groups at a time, as `run` does) and builds
/// the matrix. Fails before running anything when the targets are empty or two claim the
/// same version.
pub fn collect(
    targets: &[Box<dyn Target>],
    cases: &[&Case],
    jobs: usize,
    progress: &(dyn Fn(&CaseResult) + Sync),
) -> Result<Matrix, Error> {
    check_targets(targets)?;
    let columns = targets
        .iter()
        .map(|t| Column {
            version: t.version(),
            target: t.label(),
            results: run_target(t.as_ref(), cases, jobs, progress),
        })
        .collect();
    let titles = cases
        .iter()
        .map(|c| (c.id.clone(), c.title.clone()))
        .collect();
    build(columns, &titles)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result of case `id` with `status` and `trace` (empty for not applicable).
    fn result(id: &str, status: Status, trace: &[&str]) -> CaseResult {
        CaseResult {
            id: id.to_owned(),
            rules: vec!["W1".to_owned()],
            target: String::new(),
            status,
            trace: trace.iter().map(|s| (*s).to_owned()).collect(),
            diff: (status == Status::Fail).then(|| "- expected\n+ observed\n".to_owned()),
            note: (status == Status::NotApplicable).then(|| "does not apply".to_owned()),
        }
    }

    fn column(version: Version, results: Vec<CaseResult>) -> Column {
        Column {
            version,
            target: format!("synthetic-{version}"),
            results,
        }
    }

    /// One column per version of `Version::ALL`, case `id` with the given outcome per version.
    fn columns(id: &str, outcomes: &[(Status, &[&str])]) -> Vec<Column> {
        Version::ALL
            .into_iter()
            .zip(outcomes)
            .map(|(v, (status, trace))| column(v, vec![result(id, *status, trace)]))
            .collect()
    }

    fn labels(row: &Row) -> Vec<Option<&str>> {
        row.cells.iter().map(|c| c.behaviour.as_deref()).collect()
    }

    #[test]
    fn labels_run_a_to_z_then_two_letters() {
        assert_eq!(label(0), "A");
        assert_eq!(label(25), "Z");
        assert_eq!(label(26), "AA");
        assert_eq!(label(27), "AB");
        assert_eq!(label(26 + 26 * 26), "AAA");
    }

    #[test]
    fn a_release_number_alone_is_no_change() {
        let versions = Version::ALL;
        let sv = |v: &str| format!("< ParameterStatus server_version={v} <build>");
        let (a, b) = (sv("15.18"), sv("16.14"));
        let cols = vec![
            column(
                versions[3],
                vec![result("a/x", Status::Pass, &[a.as_str()])],
            ),
            column(
                versions[4],
                vec![result("a/x", Status::Pass, &[b.as_str()])],
            ),
        ];
        let m = build(cols, &BTreeMap::new()).unwrap();
        assert_eq!(m.cases[0].behaviours.len(), 1);
        assert!(m.cases[0].changes.is_empty());
        assert_eq!(
            m.cases[0].behaviours[0].trace,
            ["< ParameterStatus server_version=<server_version>"]
        );
    }

    #[test]
    fn identical_traces_share_a_label_and_no_change_is_reported() {
        let outcomes: Vec<(Status, &[&str])> = Version::ALL
            .iter()
            .map(|_| (Status::Pass, &["< S", "< handshake ok"][..]))
            .collect();
        let m = build(columns("a/same", &outcomes), &BTreeMap::new()).unwrap();
        let row = &m.cases[0];
        assert!(
            row.cells
                .iter()
                .all(|c| c.behaviour.as_deref() == Some("A"))
        );
        assert!(row.changes.is_empty());
        assert_eq!(row.behaviours.len(), 1);
        assert_eq!(row.behaviours[0].versions, Version::ALL.to_vec());
        assert!(m.versions.iter().all(|v| v.summary.changed == 0));
    }

    #[test]
    fn a_changed_trace_is_reported_at_the_version_it_changes_and_labels_are_reused() {
        // Two versions suffice to show a change; three show a return to an earlier trace.
        let versions = [Version::ALL[0], Version::ALL[1], Version::ALL[2]];
        let cols = vec![
            column(versions[0], vec![result("a/x", Status::Pass, &["< S"])]),
            column(versions[1], vec![result("a/x", Status::Fail, &["< N"])]),
            column(versions[2], vec![result("a/x", Status::Pass, &["< S"])]),
        ];
        let m = build(cols, &BTreeMap::new()).unwrap();
        let row = &m.cases[0];
        assert_eq!(labels(row), [Some("A"), Some("B"), Some("A")]);
        assert_eq!(
            row.changes,
            [
                Change {
                    version: versions[1],
                    kind: ChangeKind::Changed
                },
                Change {
                    version: versions[2],
                    kind: ChangeKind::Changed
                },
            ]
        );
        assert_eq!(row.behaviours[0].versions, [versions[0], versions[2]]);
        assert_eq!(row.cells[1].status, Status::Fail);
        assert!(row.cells[1].diff.is_some());
        assert_eq!(m.versions[0].summary.changed, 0);
        assert_eq!(m.versions[1].summary.changed, 1);
        assert_eq!(m.versions[1].summary.failed, 1);
        assert_eq!(m.versions[1].summary.run, 1);
    }

    #[test]
    fn not_applicable_transitions_are_added_and_removed() {
        let versions = [Version::ALL[0], Version::ALL[1], Version::ALL[2]];
        let cols = vec![
            column(versions[0], vec![result("a/x", Status::NotApplicable, &[])]),
            column(versions[1], vec![result("a/x", Status::Pass, &["< S"])]),
            column(versions[2], vec![result("a/x", Status::NotApplicable, &[])]),
        ];
        let m = build(cols, &BTreeMap::new()).unwrap();
        let row = &m.cases[0];
        assert_eq!(labels(row), [None, Some("A"), None]);
        assert_eq!(row.change_at(versions[0]), None);
        assert_eq!(row.change_at(versions[1]), Some(ChangeKind::Added));
        assert_eq!(row.change_at(versions[2]), Some(ChangeKind::Removed));
        assert_eq!(row.cells[0].note.as_deref(), Some("does not apply"));
        assert_eq!(m.versions[1].summary.added, 1);
        assert_eq!(m.versions[2].summary.removed, 1);
        assert_eq!(m.versions[2].summary.not_applicable, 1);
        assert_eq!(m.versions[2].summary.run, 0);
    }

    #[test]
    fn two_columns_not_applicable_in_a_row_are_no_change() {
        let versions = [Version::ALL[0], Version::ALL[1]];
        let cols = vec![
            column(versions[0], vec![result("a/x", Status::NotApplicable, &[])]),
            column(versions[1], vec![result("a/x", Status::NotApplicable, &[])]),
        ];
        let m = build(cols, &BTreeMap::new()).unwrap();
        assert!(m.cases[0].changes.is_empty());
        assert!(m.cases[0].behaviours.is_empty());
    }

    #[test]
    fn columns_are_ordered_by_version_and_rows_by_case_id_whatever_the_input_order() {
        let versions = [Version::ALL[0], Version::ALL[1]];
        let newer = column(
            versions[1],
            vec![
                result("b/two", Status::Pass, &["< N"]),
                result("a/one", Status::Pass, &["< S"]),
            ],
        );
        let older = column(
            versions[0],
            vec![
                result("a/one", Status::Pass, &["< S"]),
                result("b/two", Status::Pass, &["< S"]),
            ],
        );
        let titles = BTreeMap::from([("a/one".to_owned(), "the first".to_owned())]);
        let m = build(vec![newer, older], &titles).unwrap();
        let order: Vec<Version> = m.versions.iter().map(|v| v.version).collect();
        assert_eq!(order, versions);
        let ids: Vec<&str> = m.cases.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a/one", "b/two"]);
        assert_eq!(m.cases[0].title, "the first");
        assert_eq!(m.cases[1].title, "");
        // b/two's first trace is the older version's, so it is A.
        assert_eq!(labels(&m.cases[1]), [Some("A"), Some("B")]);
        assert_eq!(m.cases[1].change_at(versions[1]), Some(ChangeKind::Changed));
    }

    #[test]
    fn a_case_missing_from_a_column_is_not_applicable_there() {
        let versions = [Version::ALL[0], Version::ALL[1]];
        let cols = vec![
            column(versions[0], vec![result("a/x", Status::Pass, &["< S"])]),
            column(versions[1], Vec::new()),
        ];
        let m = build(cols, &BTreeMap::new()).unwrap();
        let cell = &m.cases[0].cells[1];
        assert_eq!(cell.status, Status::NotApplicable);
        assert!(cell.note.as_deref().is_some_and(|n| n.contains("not run")));
        assert_eq!(m.cases[0].change_at(versions[1]), Some(ChangeKind::Removed));
    }

    #[test]
    fn no_columns_or_a_version_twice_is_refused() {
        assert!(matches!(
            build(Vec::new(), &BTreeMap::new()),
            Err(Error::MatrixNoTargets)
        ));
        let v = Version::ALL[0];
        let mut second = column(v, Vec::new());
        second.target = "other".to_owned();
        let err = build(vec![column(v, Vec::new()), second], &BTreeMap::new()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::MatrixDuplicateVersion { .. }));
        assert!(text.contains(&format!("synthetic-{v}")) && text.contains("other"));
        assert!(text.contains("one target per version"), "{text}");
    }
}

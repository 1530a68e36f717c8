//! `pgssl-conform`: list, run and measure the coverage of the conformance catalogue.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pgssl_conformance::case::Case;
use pgssl_conformance::divergence::{self, Class, TargetReport};
use pgssl_conformance::run::{Status, run_target};
use pgssl_conformance::{catalogue, report, spec, target};

/// Conformance suite for PostgreSQL-style SSL negotiation.
#[derive(Parser)]
#[command(name = "pgssl-conform", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the cases: id, rule ids, versions.
    List,
    /// Run cases against targets; exit status 1 on any failure or harness error.
    Run {
        /// reference (every profile), reference:VERSION, postgres:BINDIR,
        /// external:HOST:PORT[@VERSION], pgbouncer[:BINDIR][@VERSION],
        /// pgpool[:BINDIR][@VERSION], pgwire[@VERSION], pg-gateway[@VERSION]. Repeatable.
        /// Default: reference.
        #[arg(long = "target", short = 't')]
        targets: Vec<String>,
        /// Only cases whose id contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Set-up groups run in parallel per target.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Judge third-party targets (pgbouncer, pgpool, pgwire, pg-gateway) by this
        /// PostgreSQL version's expectations instead of their default (the backend's, or 15);
        /// a target's own @VERSION wins.
        #[arg(long = "as", value_name = "VERSION")]
        as_version: Option<String>,
        /// For external: targets, how long each timeout case waits for the server's own
        /// timeout to close it (without this, timeout cases do not run on them).
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
    /// Run the catalogue on one target per version and write a cases × versions matrix
    /// showing where behaviour changed: DIR/matrix.md, matrix.json and matrix.html. Exit
    /// status 0 once written, whatever the verdicts (failures are marked in it); 2 on bad
    /// input.
    Matrix {
        /// reference (every profile), reference:VERSION, postgres:BINDIR,
        /// external:HOST:PORT[@VERSION]. Repeatable; at least one, and one per version.
        #[arg(long = "target", short = 't')]
        targets: Vec<String>,
        /// Only cases whose id contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Set-up groups run in parallel per target.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// The directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
    /// Run the catalogue on each target and write its divergences from PostgreSQL, each
    /// classified (security, interoperability, fidelity) with why it matters:
    /// DIR/<target>.md and DIR/<target>.html. Exit status 0 once written; 2 on bad input.
    Report {
        /// As for run; at least one.
        #[arg(long = "target", short = 't')]
        targets: Vec<String>,
        /// Only cases whose id contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Set-up groups run in parallel per target.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// As for run.
        #[arg(long = "as", value_name = "VERSION")]
        as_version: Option<String>,
        /// As for run.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
        /// The directory to write into (created if missing).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Print every spec rule id with its cases; exit status 1 when an in-scope rule has none.
    Coverage,
    /// Run the reference server (arguments as for pgssl-server: -D DATADIR -p PORT ...).
    Serve {
        /// The server's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print the JSON schema of the case files.
    Schema,
    /// Write PostgreSQL's SSL test certificate hierarchy into a directory.
    Pki {
        /// Where to write it (created if missing).
        outdir: std::path::PathBuf,
    },
    /// Connection-rate load generator: connections/s, latency, server CPU per connection.
    Bench(pgssl_conformance::bench::BenchArgs),
    /// A black-box SSL report for a server (HOST:PORT) or a target started with the default
    /// set-up (--target). Exit status: 0, 10, 11, 12 for a worst finding of info, low,
    /// medium, high; 20 unreachable; 21 not the PostgreSQL protocol; 2 bad input.
    Probe(pgssl_conformance::probe::ProbeArgs),
    /// Run generated scenarios against a target, judged by the rules model's oracle; print
    /// the first disagreement, shrunk, as a ready-to-paste case. Exit status 1 on a
    /// disagreement.
    Explore {
        /// reference (every profile), reference:VERSION, postgres:BINDIR,
        /// external:HOST:PORT[@VERSION]. Repeatable. Default: reference.
        #[arg(long = "target", short = 't')]
        targets: Vec<String>,
        /// Scenarios per target.
        #[arg(long, default_value_t = 100)]
        cases: u32,
        /// The seed (decimal or 0x-hex); default: PGSSL_EXPLORE_SEED, else random.
        #[arg(long)]
        seed: Option<String>,
        /// Output format (human or json).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Scenarios run at once (the same seed and job count replay the same scenarios).
        #[arg(long, default_value_t = 4)]
        jobs: u32,
        /// Print every scenario with its trace as it runs.
        #[arg(long)]
        show: bool,
        /// Run no server: draw the scenarios for every version and print which spec rules
        /// the oracle's predictions used, and which in-scope rules none did.
        #[arg(long)]
        oracle_coverage: bool,
    },
    /// Write every case's client bytes as fuzz seeds (DIR/startup_packet, DIR/negotiate).
    Corpus {
        /// The corpus root, e.g. corpus/.
        dir: std::path::PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
    /// The divergence report (pgssl-conform report) as Markdown.
    Markdown,
    /// The divergence report as one self-contained HTML page.
    Html,
}

fn main() -> ExitCode {
    // `pgssl-conform serve ARGS`: run the reference server itself (as `pgssl-server ARGS`);
    // the reference target starts it this way when it needs a process of its own.
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|a| a == "serve") {
        return pgssl_server::cli::run(std::iter::once("pgssl-server".into()).chain(args));
    }
    let cli = Cli::parse();
    // Ctrl-C: stop spawned servers and remove temporary directories, then exit as
    // interrupted.
    let _ = ctrlc::set_handler(|| {
        eprintln!("pgssl-conform: interrupted; stopping servers and removing temporary files");
        pgssl_conformance::cleanup::run();
        std::process::exit(130);
    });
    let cases = match catalogue::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pgssl-conform: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::List => {
            for c in &cases {
                let versions: Vec<&str> = pgssl_conformance::case::Version::ALL
                    .into_iter()
                    .filter(|v| c.applies_to(*v))
                    .map(|v| v.name())
                    .collect();
                println!(
                    "{:60} {:18} {}",
                    c.id,
                    c.rules.join(","),
                    versions.join(",")
                );
            }
            println!("{} cases", cases.len());
            ExitCode::SUCCESS
        }
        Command::Coverage => coverage(&cases),
        // Handled before argument parsing, above; parsed here only so --help lists it.
        Command::Serve { .. } => ExitCode::SUCCESS,
        Command::Schema => {
            print!("{}", pgssl_conformance::case::schema());
            ExitCode::SUCCESS
        }
        Command::Pki { outdir } => match pgssl_pki::generate(&outdir) {
            Ok(pki) => {
                println!("wrote the test PKI to {}", pki.dir().display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pgssl-conform: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Corpus { dir } => match pgssl_conformance::corpus::write(&cases, &dir) {
            Ok(w) => {
                println!(
                    "wrote {} startup_packet and {} negotiate seeds under {}",
                    w.startup_packet,
                    w.negotiate,
                    dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pgssl-conform: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Bench(args) => pgssl_conformance::bench::main(args),
        Command::Probe(args) => pgssl_conformance::probe::main(args),
        Command::Explore {
            targets,
            cases,
            seed,
            format,
            jobs,
            show,
            oracle_coverage,
        } => {
            if oracle_coverage {
                explore_coverage(cases, seed)
            } else {
                explore(targets, cases, seed, jobs, format, show)
            }
        }
        Command::Run {
            targets,
            filter,
            jobs,
            format,
            as_version,
            wait,
        } => run(
            &cases,
            judged_as(targets, as_version.as_deref()),
            wait,
            filter,
            jobs,
            format,
        ),
        Command::Report {
            targets,
            filter,
            jobs,
            as_version,
            wait,
            out,
        } => report_cmd(
            &cases,
            judged_as(targets, as_version.as_deref()),
            wait,
            filter,
            jobs,
            &out,
        ),
        Command::Matrix {
            targets,
            filter,
            jobs,
            out,
        } => matrix(&cases, targets, filter, jobs, &out),
    }
}

/// `pgssl-conform matrix`: everything that can be checked before a run (targets, versions,
/// filter, output directory) is, so bad input fails at once with exit status 2.
fn matrix(
    cases: &[Case],
    specs: Vec<String>,
    filter: Option<String>,
    jobs: usize,
    out: &std::path::Path,
) -> ExitCode {
    use pgssl_conformance::matrix;
    let usage = |e: pgssl_conformance::Error| {
        eprintln!("pgssl-conform: {e}");
        ExitCode::from(2)
    };
    let (targets, selected) =
        match checked_inputs(cases, specs, None, matrix::check_targets, filter, out) {
            Ok(inputs) => inputs,
            Err(e) => return usage(e),
        };
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new((selected.len() * targets.len()) as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let progress = |r: &pgssl_conformance::run::CaseResult| {
        bar.set_message(format!("{} {}", r.target, r.id));
        bar.inc(1);
    };
    let built = matrix::collect(&targets, &selected, jobs, &progress);
    bar.finish_and_clear();
    let m = match built {
        Ok(m) => m,
        Err(e) => return usage(e),
    };
    for v in &m.versions {
        let s = &v.summary;
        println!(
            "{:6} {:24} {} run: {} passed, {} failed ({} harness errors); {} not applicable; {} changed, {} added, {} removed",
            v.version.name(),
            v.target,
            s.run,
            s.passed,
            s.failed,
            s.errors,
            s.not_applicable,
            s.changed,
            s.added,
            s.removed
        );
    }
    match matrix::write(&m, out) {
        Ok(written) => {
            for path in written {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pgssl-conform: {e}");
            ExitCode::FAILURE
        }
    }
}

fn coverage(cases: &[Case]) -> ExitCode {
    let mut uncovered = 0;
    for rule in spec::SPEC_RULES {
        let ids: Vec<&str> = cases
            .iter()
            .filter(|c| c.rules.iter().any(|r| r == rule.id))
            .map(|c| c.id.as_str())
            .collect();
        match (rule.out_of_scope, ids.is_empty()) {
            (Some(why), _) => println!("{:6} out of scope: {why}", rule.id),
            (None, true) => {
                uncovered += 1;
                println!("{:6} NO CASES  ({})", rule.id, rule.title);
            }
            (None, false) => println!("{:6} {:3} cases: {}", rule.id, ids.len(), ids.join(", ")),
        }
    }
    println!(
        "{} cases; {uncovered} in-scope rules without a case",
        cases.len()
    );
    if uncovered == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(
    cases: &[Case],
    specs: Vec<String>,
    wait: Option<u64>,
    filter: Option<String>,
    jobs: usize,
    format: Format,
) -> ExitCode {
    let targets = match targets_from(specs, &|spec| target::parse_waiting(spec, wait)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pgssl-conform: {e}");
            return ExitCode::from(2);
        }
    };
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|c| filter.as_ref().is_none_or(|f| c.id.contains(f.as_str())))
        .collect();
    let bar = if std::io::stderr().is_terminal() && format == Format::Human {
        let bar = ProgressBar::new((selected.len() * targets.len()) as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let unstable = match pgssl_conformance::unstable::load() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("pgssl-conform: {e}");
            return ExitCode::from(2);
        }
    };
    let mut results = Vec::new();
    let mut divergences = Vec::new();
    for t in &targets {
        let started = std::time::Instant::now();
        let progress = |r: &pgssl_conformance::run::CaseResult| {
            bar.set_message(format!("{} {}", r.target, r.id));
            bar.inc(1);
        };
        let mut r = run_target(t.as_ref(), &selected, jobs, &progress);
        if format == Format::Human {
            let what = t.describe().map_or(String::new(), |d| format!(" ({d})"));
            bar.println(format!(
                "{}{what}: {} cases in {:.1?}",
                t.label(),
                r.len(),
                started.elapsed()
            ));
        }
        divergences.push(TargetReport::new(
            t.label(),
            t.describe(),
            t.version(),
            &selected,
            &r,
            &unstable,
        ));
        results.append(&mut r);
    }
    bar.finish_and_clear();
    let text = match format {
        Format::Human => report::human(&results),
        Format::Json => report::json(&results),
        Format::Junit => report::junit(&results),
        Format::Markdown => divergence::render::markdown(&divergences),
        Format::Html => divergence::render::html(&divergences),
    };
    println!("{text}");
    if results
        .iter()
        .any(|r| matches!(r.status, Status::Fail | Status::Error))
    {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A check of a command's targets taken together (the matrix's one target per version).
type TargetsCheck = fn(&[Box<dyn target::Target>]) -> Result<(), pgssl_conformance::Error>;

/// The inputs of `matrix` and `report`, checked before anything runs: at least one target,
/// each parsed and passing `check`, a filter that selects a case, and an output directory
/// that takes files (created last, so bad input writes nothing).
fn checked_inputs<'c>(
    cases: &'c [Case],
    specs: Vec<String>,
    wait: Option<u64>,
    check: TargetsCheck,
    filter: Option<String>,
    out: &std::path::Path,
) -> Result<(Targets, Vec<&'c Case>), pgssl_conformance::Error> {
    if specs.is_empty() {
        return Err(pgssl_conformance::Error::MatrixNoTargets);
    }
    let targets = targets_from(specs, &|spec| target::parse_waiting(spec, wait))?;
    check(&targets)?;
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|c| filter.as_ref().is_none_or(|f| c.id.contains(f.as_str())))
        .collect();
    if selected.is_empty() {
        return Err(pgssl_conformance::Error::NoCaseMatches(
            filter.unwrap_or_default(),
        ));
    }
    pgssl_conformance::matrix::prepare_dir(out)?;
    Ok((targets, selected))
}

/// `pgssl-conform report`: each target's classified divergences, written as DIR/<label>.md
/// and DIR/<label>.html.
fn report_cmd(
    cases: &[Case],
    specs: Vec<String>,
    wait: Option<u64>,
    filter: Option<String>,
    jobs: usize,
    out: &std::path::Path,
) -> ExitCode {
    let usage = |e: pgssl_conformance::Error| {
        eprintln!("pgssl-conform: {e}");
        ExitCode::from(2)
    };
    let (targets, selected) = match checked_inputs(cases, specs, wait, |_| Ok(()), filter, out) {
        Ok(inputs) => inputs,
        Err(e) => return usage(e),
    };
    let unstable = match pgssl_conformance::unstable::load() {
        Ok(u) => u,
        Err(e) => return usage(e),
    };
    for t in &targets {
        let results = run_target(t.as_ref(), &selected, jobs, &|_| {});
        let r = TargetReport::new(
            t.label(),
            t.describe(),
            t.version(),
            &selected,
            &results,
            &unstable,
        );
        println!(
            "{}: {} security, {} interoperability, {} fidelity, {} varying between runs, {} harness errors, {} not applicable",
            r.target,
            r.count(Class::Security),
            r.count(Class::Interoperability),
            r.count(Class::Fidelity),
            r.unstable.len(),
            r.errors.len(),
            r.not_applicable.len()
        );
        let one = std::slice::from_ref(&r);
        let (md, html) = (format!("{}.md", r.target), format!("{}.html", r.target));
        let files = [
            (md.as_str(), divergence::render::markdown(one)),
            (html.as_str(), divergence::render::html(one)),
        ];
        match pgssl_conformance::matrix::write_staged(out, &files) {
            Ok(written) => {
                for path in written {
                    println!("wrote {}", path.display());
                }
            }
            Err(e) => return usage(e),
        }
    }
    ExitCode::SUCCESS
}

fn explore(
    specs: Vec<String>,
    cases: u32,
    seed: Option<String>,
    jobs: u32,
    format: Format,
    show: bool,
) -> ExitCode {
    use pgssl_conformance::explore::{self, Options};
    let seed = match explore::seed_or_env(seed.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pgssl-conform: {e}");
            return ExitCode::from(2);
        }
    };
    let targets = match targets_from(specs, &target::parse_for_exploring) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pgssl-conform: {e}");
            return ExitCode::from(2);
        }
    };
    let options = Options {
        cases,
        seed,
        max_shrink_iters: 64,
        regressions: None,
        jobs,
    };
    eprintln!(
        "pgssl-conform explore: seed {seed}, {jobs} jobs (replay with {}={seed} --jobs {jobs})",
        explore::SEED_VAR
    );
    let mut outcomes = Vec::new();
    for t in &targets {
        let bar = if std::io::stderr().is_terminal() && format == Format::Human {
            let bar = ProgressBar::new(u64::from(cases));
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(t.label());
            bar
        } else {
            ProgressBar::hidden()
        };
        let started = std::time::Instant::now();
        let last = std::sync::Mutex::new(std::time::Instant::now());
        let progress = |n: u32, scenario: &explore::Scenario, checked: &explore::Checked| {
            bar.set_position(u64::from(n));
            let took = {
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                let took = last.elapsed();
                *last = std::time::Instant::now();
                took
            };
            if show {
                let mut text = format!(
                    "#{n} {:?} in {} ms: {scenario}\n",
                    checked.status,
                    took.as_millis()
                );
                for line in &checked.trace {
                    text.push_str(&format!("    {line}\n"));
                }
                if bar.is_hidden() {
                    println!("{}", text.trim_end());
                } else {
                    bar.println(text.trim_end());
                }
            }
        };
        let outcome = explore::explore(t.as_ref(), &options, &progress);
        bar.finish_and_clear();
        if format == Format::Human {
            print!("{}", explore_report(&outcome, started.elapsed()));
        }
        outcomes.push(outcome);
    }
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcomes).unwrap_or_default()
        );
    }
    if outcomes.iter().any(|o| o.disagreement.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn explore_report(o: &pgssl_conformance::explore::Outcome, took: std::time::Duration) -> String {
    let mut out = format!(
        "{}: seed {}: {} scenarios in {:.1?}: {} agreed with the oracle, {} not applicable{}\n",
        o.target,
        o.seed,
        o.scenarios,
        took,
        o.agreed,
        o.not_applicable,
        if o.disagreement.is_some() {
            format!(", 1 disagreed ({} shrinking runs)", o.shrink_runs)
        } else {
            String::new()
        }
    );
    let rules: Vec<String> = o.rules.iter().map(|(r, n)| format!("{r}:{n}")).collect();
    out.push_str(&format!("  rules exercised: {}\n", rules.join(" ")));
    if let Some(d) = &o.disagreement {
        out.push_str(&format!("  minimal disagreeing scenario: {}\n", d.scenario));
        out.push_str("  expected (-) vs observed (+):\n");
        for line in d.diff.lines() {
            out.push_str(&format!("    {line}\n"));
        }
        out.push_str("  observed trace:\n");
        for line in &d.observed {
            out.push_str(&format!("    {line}\n"));
        }
        out.push_str("  as a case (the oracle's expectation):\n\n");
        out.push_str(&d.case_toml);
        out.push('\n');
    }
    out
}

fn explore_coverage(cases: u32, seed: Option<String>) -> ExitCode {
    use pgssl_conformance::case::Version;
    use pgssl_conformance::explore;
    let seed = match explore::seed_or_env(seed.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pgssl-conform: {e}");
            return ExitCode::from(2);
        }
    };
    let per_version: Vec<_> = Version::ALL
        .into_iter()
        .map(|v| (v, explore::oracle_coverage(v, cases, seed)))
        .collect();
    println!("oracle coverage over {cases} scenarios per version (seed {seed}):");
    println!("{:8} {:>8} {:>8} {:>8}  title", "rule", "seed", "15", "18");
    let mut unused = Vec::new();
    for rule in spec::SPEC_RULES.iter().filter(|r| r.out_of_scope.is_none()) {
        let counts: Vec<u32> = per_version
            .iter()
            .map(|(_, c)| c.get(rule.id).copied().unwrap_or(0))
            .collect();
        if counts.iter().all(|n| *n == 0) {
            unused.push(rule.id);
            continue;
        }
        println!(
            "{:8} {:>8} {:>8} {:>8}  {}",
            rule.id, counts[0], counts[1], counts[2], rule.title
        );
    }
    println!("not exercised by generated scenarios: {}", unused.join(" "));
    ExitCode::SUCCESS
}

/// `--as VERSION` applied: `@VERSION` appended to each third-party target that names none.
fn judged_as(specs: Vec<String>, version: Option<&str>) -> Vec<String> {
    let Some(version) = version else {
        return specs;
    };
    specs
        .into_iter()
        .map(|spec| {
            if target::is_third_party(&spec) && !spec.contains('@') {
                format!("{spec}@{version}")
            } else {
                spec
            }
        })
        .collect()
}

/// Targets, as `--target` arguments parse into them.
type Targets = Vec<Box<dyn target::Target>>;

/// The `--target` arguments (default: `reference`), each parsed by `parse`.
fn targets_from(
    specs: Vec<String>,
    parse: &dyn Fn(&str) -> Result<Targets, pgssl_conformance::Error>,
) -> Result<Targets, pgssl_conformance::Error> {
    let specs = if specs.is_empty() {
        vec!["reference".to_owned()]
    } else {
        specs
    };
    let mut targets = Vec::new();
    for spec in &specs {
        targets.extend(parse(spec)?);
    }
    Ok(targets)
}

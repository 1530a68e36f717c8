//! Reading `DATADIR/postgresql.conf` and the command line into [`Settings`], at start and on
//! reload, as PostgreSQL's `ProcessConfigFile` does: names are checked first (an unknown one
//! means nothing is applied), then values are applied in file order, then the command line
//! (`PGC_S_ARGV` wins over `PGC_S_FILE`). Every problem is a LOG record; at start they end
//! in `FATAL:  configuration file "%s" contains errors`.

use std::path::{Path, PathBuf};

use super::Settings;
use super::file::{self, ConfigItem, IncludePolicy};
use crate::error::Error;
use crate::log::LogRecord;
use crate::profile::Profile;

/// The configuration file's name in the data directory.
pub const CONFIG_FILE: &str = "postgresql.conf";

/// Settings read at start, and what to log about them (notes, ignored settings).
#[derive(Debug)]
pub struct Loaded {
    /// The settings.
    pub settings: Settings,
    /// LOG records to write once the log is up.
    pub log: Vec<LogRecord>,
}

/// Reads the configuration at server start. A missing `postgresql.conf` means the defaults
/// (PostgreSQL refuses to start without one; pgssl's tests start on bare directories).
pub fn load(data_directory: &Path, cli: &[(String, String)]) -> Result<Loaded, Error> {
    if !data_directory.is_dir() {
        return Err(Error::NoDataDirectory {
            path: data_directory.to_path_buf(),
        });
    }
    // The command line is checked first, as the postmaster parses it before the file.
    let cli_profile = cli_profile(cli)?;
    let path = absolute(&data_directory.join(CONFIG_FILE));
    let (items, mut log) =
        read_items(&path).map_err(|(problems, file)| Error::ConfigFile { file, problems })?;
    let profile = match cli_profile {
        Some(p) => p,
        None => file_profile(&items),
    };
    let mut scratch = Settings::defaults(data_directory, profile);
    for (name, value) in cli {
        scratch.set(name, value)?;
    }
    let mut settings = Settings::defaults(data_directory, profile);
    let outcome = apply_items(&mut settings, &items);
    if let Some(file) = outcome.file_with_error {
        return Err(Error::ConfigFile {
            file,
            problems: outcome.log,
        });
    }
    for (name, value) in cli {
        settings.set(name, value)?;
    }
    if !settings.ignored.is_empty() {
        log.push(LogRecord::log(format!(
            "settings known to PostgreSQL {} but not used by pgssl, ignored: {}",
            profile.behaviour().name,
            settings
                .ignored
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Loaded { settings, log })
}

/// The outcome of re-reading the configuration on SIGHUP.
#[derive(Debug)]
pub struct Reread {
    /// The settings now in force (the old ones where nothing could be applied).
    pub settings: Settings,
    /// What to log, in order.
    pub log: Vec<LogRecord>,
}

/// Re-reads the configuration on SIGHUP. `current` is the configuration in force; the
/// profile and the restart-only settings keep their values (with `cannot be changed without
/// restarting the server` when the file asks otherwise), and each change is logged as
/// `parameter "%s" changed to "%s"`.
pub fn reread(current: &Settings, cli: &[(String, String)]) -> Reread {
    let path = absolute(&current.data_directory.join(CONFIG_FILE));
    let (items, mut log) = match read_items(&path) {
        Ok(read) => read,
        Err((mut problems, file)) => {
            problems.push(LogRecord::log(format!(
                "configuration file \"{}\" contains errors; no changes were applied",
                file.display()
            )));
            return Reread {
                settings: current.clone(),
                log: problems,
            };
        }
    };
    let mut next = Settings::defaults(&current.data_directory, current.profile);
    let outcome = apply_items(&mut next, &items);
    log.extend(outcome.log);
    if outcome.names_failed {
        if let Some(file) = outcome.file_with_error {
            log.push(LogRecord::log(format!(
                "configuration file \"{}\" contains errors; no changes were applied",
                file.display()
            )));
        }
        return Reread {
            settings: current.clone(),
            log,
        };
    }
    let mut file_with_error = outcome.file_with_error;
    for (name, value) in cli {
        // Checked at start; a failure now cannot happen, and would leave the value as is.
        let _ = next.set(name, value);
    }
    for name in current.supported_names() {
        let (old, new) = (current.show(name), next.show(name));
        if old == new {
            continue;
        }
        if current.needs_restart(name) {
            next.copy_setting(current, name);
            log.push(LogRecord::log(format!(
                "parameter \"{name}\" cannot be changed without restarting the server"
            )));
            file_with_error.get_or_insert_with(|| path.clone());
        } else {
            log.push(LogRecord::log(format!(
                "parameter \"{name}\" changed to \"{}\"",
                new.unwrap_or_default()
            )));
        }
    }
    if let Some(file) = file_with_error {
        log.push(LogRecord::log(format!(
            "configuration file \"{}\" contains errors; unaffected changes were applied",
            file.display()
        )));
    }
    Reread {
        settings: next,
        log,
    }
}

/// Reads the file's items (none if it does not exist) and its LOG notes; on failure, the LOG
/// records of every error and the file to name.
#[allow(clippy::type_complexity)]
fn read_items(path: &Path) -> Result<(Vec<ConfigItem>, Vec<LogRecord>), (Vec<LogRecord>, PathBuf)> {
    if !path.exists() {
        return Ok((Vec::new(), Vec::new()));
    }
    match file::parse_file(path, &IncludePolicy::POSTGRES) {
        Ok(parsed) => Ok((
            parsed.items,
            parsed
                .notes
                .iter()
                .map(|n| LogRecord::log(n.to_string()))
                .collect(),
        )),
        Err(errors) => {
            let mut records: Vec<LogRecord> = errors
                .notes
                .iter()
                .map(|n| LogRecord::log(n.to_string()))
                .collect();
            records.extend(errors.errors.iter().map(|e| LogRecord::log(e.to_string())));
            Err((records, errors.file))
        }
    }
}

struct Applied {
    log: Vec<LogRecord>,
    file_with_error: Option<PathBuf>,
    names_failed: bool,
}

/// PostgreSQL's two passes: every name is checked, and if one is unknown nothing is applied;
/// otherwise each value is applied in order and each bad one logged.
fn apply_items(settings: &mut Settings, items: &[ConfigItem]) -> Applied {
    let mut log = Vec::new();
    let mut file_with_error = None;
    for item in items {
        if let Err(e) = settings.canonical_name(&item.name) {
            let record = match e {
                Error::UnknownSetting { name } => LogRecord::log(format!(
                    "unrecognized configuration parameter \"{name}\" in file \"{}\" line {}",
                    item.file.display(),
                    item.line
                )),
                other => to_log(&other),
            };
            log.push(record);
            file_with_error = Some(item.file.clone());
        }
    }
    if file_with_error.is_some() {
        return Applied {
            log,
            file_with_error,
            names_failed: true,
        };
    }
    for item in items {
        if let Err(e) = settings.set(&item.name, &item.value) {
            log.push(to_log(&e));
            file_with_error = Some(item.file.clone());
        }
    }
    Applied {
        log,
        file_with_error,
        names_failed: false,
    }
}

fn to_log(e: &Error) -> LogRecord {
    let mut record = e.log_record();
    record.severity = crate::wire::Severity::Log;
    record
}

/// The last `pgssl.profile` on the command line, validated.
fn cli_profile(cli: &[(String, String)]) -> Result<Option<Profile>, Error> {
    let mut found = None;
    for (name, value) in cli {
        if name.eq_ignore_ascii_case("pgssl.profile") {
            let mut probe = Settings::defaults("", Profile::Seed);
            probe.set(name, value)?;
            found = Some(probe.profile);
        }
    }
    Ok(found)
}

/// The last valid `pgssl.profile` in the file (an invalid one is reported when applied).
fn file_profile(items: &[ConfigItem]) -> Profile {
    items
        .iter()
        .filter(|i| i.name == "pgssl.profile")
        .filter_map(|i| Profile::from_name(&i.value))
        .next_back()
        .unwrap_or(Profile::Seed)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(conf: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), conf).unwrap();
        dir
    }

    #[test]
    fn file_then_command_line() {
        let dir = dir_with("ssl = on\nport = 6000\nshared_buffers = 1GB\npgssl.profile = '18'\n");
        let cli = vec![("port".to_owned(), "7000".to_owned())];
        let loaded = load(dir.path(), &cli).unwrap();
        assert!(loaded.settings.ssl);
        assert_eq!(loaded.settings.port, 7000);
        assert_eq!(loaded.settings.profile, Profile::Pg18);
        assert!(loaded.log[0].message.contains("ignored: shared_buffers"));
    }

    #[test]
    fn errors_as_postgres_logs_them() {
        let dir = dir_with("ssl = on\nbogus_name = 1\n");
        let e = load(dir.path(), &[]).unwrap_err();
        let lines: Vec<_> = e.log_records().iter().flat_map(|r| r.lines()).collect();
        let conf = absolute(&dir.path().join(CONFIG_FILE));
        assert_eq!(
            lines,
            [
                format!(
                    "LOG:  unrecognized configuration parameter \"bogus_name\" in file \"{}\" line 2",
                    conf.display()
                ),
                format!(
                    "FATAL:  configuration file \"{}\" contains errors",
                    conf.display()
                )
            ]
        );
        let dir = dir_with("ssl_min_protocol_version = 'TLSv1.4'\n");
        let e = load(dir.path(), &[]).unwrap_err();
        let lines: Vec<_> = e.log_records().iter().flat_map(|r| r.lines()).collect();
        assert_eq!(
            lines[..2],
            [
                "LOG:  invalid value for parameter \"ssl_min_protocol_version\": \"TLSv1.4\"",
                "HINT:  Available values: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3."
            ]
        );
    }

    #[test]
    fn reload_logs_changes_and_keeps_restart_only_settings() {
        let dir = dir_with("ssl = on\nport = 6000\npgssl.profile = 15\n");
        let current = load(dir.path(), &[]).unwrap().settings;
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "ssl = off\nport = 6001\npgssl.profile = 15\n",
        )
        .unwrap();
        let r = reread(&current, &[]);
        let messages: Vec<_> = r.log.iter().map(|r| r.message.clone()).collect();
        assert!(!r.settings.ssl);
        assert_eq!(r.settings.port, 6000);
        assert!(messages.contains(&"parameter \"ssl\" changed to \"off\"".to_owned()));
        assert!(messages.contains(
            &"parameter \"port\" cannot be changed without restarting the server".to_owned()
        ));
        // The seed profile (8.4): ssl needs a restart.
        let seed = Settings::defaults(dir.path(), Profile::Seed);
        let mut on = seed.clone();
        on.ssl = true;
        let r = reread(&on, &[]);
        assert!(r.settings.ssl);
        assert!(
            r.log.iter().any(|l| l.message
                == "parameter \"ssl\" cannot be changed without restarting the server")
        );
    }
}

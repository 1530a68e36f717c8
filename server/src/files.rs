//! The server's SSL files (A3–A7, A10): the private-key permission rule, reading the key with
//! a passphrase (terminal prompt, `ssl_passphrase_command`, or refusal on reload), which CA and
//! CRL files apply (the settings, or the seed profile's implicit `root.crt`/`root.crl`), and
//! `ssl_dh_params_file`. Messages are PostgreSQL's (be-secure-common.c, be-secure-openssl.c).

use std::cell::RefCell;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use openssl::dh::Dh;
use openssl::pkey::{PKey, Params, Private};

use crate::config::Settings;
use crate::error::{Error, strerror};
use crate::profile::KeyPermissions;

/// The prompt `%p` stands for, as OpenSSL's PEM callback words it.
pub const PASSPHRASE_PROMPT: &str = "Enter PEM pass phrase:";

/// The DETAIL of the group-or-world-access refusal.
pub const KEY_MODE_DETAIL: &str = "File must have permissions u=rw (0600) or less if owned by the database user, or permissions u=rw,g=r (0640) or less if owned by root.";

/// The same refusal's DETAIL in 8.4, the seed document's version.
pub const SEED_KEY_MODE_DETAIL: &str = "Permissions should be u=rw (0600) or less.";

/// Whether files are being loaded at server start (failures are FATAL, OpenSSL may prompt) or
/// on reload (failures are logged, no prompt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadMode {
    /// Server start.
    Start,
    /// SIGHUP.
    Reload,
}

/// `check_ssl_key_file_permissions`: stat, regular file, owner (the server's euid or root),
/// then mode (0600 or less for the owner, 0640 or less for root); under the seed profile,
/// 8.4's rule: no group or world permission at all.
pub fn check_key_permissions(settings: &Settings) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let name = &settings.ssl_key_file;
    let meta = std::fs::metadata(settings.resolve(name)).map_err(|e| {
        Error::tls(format!(
            "could not access private key file \"{name}\": {}",
            strerror(&e)
        ))
    })?;
    if !meta.file_type().is_file() {
        return Err(Error::tls(format!(
            "private key file \"{name}\" is not a regular file"
        )));
    }
    let (uid, mode) = (meta.uid(), meta.mode());
    if settings.profile.behaviour().key_permissions == KeyPermissions::NoGroupOrWorld {
        // The seed document: "the permissions on server.key must disallow any access to
        // world or group".
        if mode & 0o077 != 0 {
            return Err(Error::Tls {
                message: format!("private key file \"{name}\" has group or world access"),
                detail: Some(SEED_KEY_MODE_DETAIL.into()),
                hint: None,
            });
        }
        return Ok(());
    }
    // SAFETY: geteuid cannot fail and touches no memory.
    let euid = unsafe { libc::geteuid() };
    if uid != euid && uid != 0 {
        return Err(Error::tls(format!(
            "private key file \"{name}\" must be owned by the database user or root"
        )));
    }
    const GROUP_OTHER: u32 = 0o077; // S_IRWXG | S_IRWXO
    const ROOT_FORBIDDEN: u32 = 0o037; // S_IWGRP | S_IXGRP | S_IRWXO
    if (uid == euid && mode & GROUP_OTHER != 0) || (uid == 0 && mode & ROOT_FORBIDDEN != 0) {
        return Err(Error::Tls {
            message: format!("private key file \"{name}\" has group or world access"),
            detail: Some(KEY_MODE_DETAIL.into()),
            hint: None,
        });
    }
    Ok(())
}

/// Reads the private key, asking for a passphrase as PostgreSQL's `default_openssl_tls_init`
/// arranges: at start, `ssl_passphrase_command` if set, else OpenSSL's own prompt on the
/// terminal; on reload, the command only if `ssl_passphrase_command_supports_reload`, else a
/// callback that refuses (`cannot be reloaded because it requires a passphrase`).
pub fn load_private_key(settings: &Settings, mode: LoadMode) -> Result<PKey<Private>, Error> {
    let name = &settings.ssl_key_file;
    let load_error = |reason: String| {
        Error::tls(format!(
            "could not load private key file \"{name}\": {reason}"
        ))
    };
    let mut pem = Vec::new();
    std::fs::File::open(settings.resolve(name))
        .and_then(|mut f| f.read_to_end(&mut pem))
        .map_err(|e| load_error(strerror(&e)))?;
    let command = &settings.ssl_passphrase_command;
    let use_command = !command.is_empty()
        && (mode == LoadMode::Start || settings.ssl_passphrase_command_supports_reload);
    if mode == LoadMode::Start && !use_command {
        // OpenSSL's default callback: the prompt goes to the terminal (A5, the seed's rule).
        return PKey::private_key_from_pem(&pem).map_err(|e| load_error(first_reason(&e)));
    }
    let command_error: RefCell<Option<Error>> = RefCell::new(None);
    let dummy_called = RefCell::new(false);
    let result = PKey::private_key_from_pem_callback(&pem, |buf| {
        if !use_command {
            *dummy_called.borrow_mut() = true;
            // An empty passphrase: OpenSSL then fails the decryption.
            return Ok(0);
        }
        match run_passphrase_command(command, PASSPHRASE_PROMPT) {
            Ok(pass) => {
                let n = pass.len().min(buf.len());
                buf[..n].copy_from_slice(&pass[..n]);
                Ok(n)
            }
            Err(e) => {
                *command_error.borrow_mut() = Some(e);
                Ok(0)
            }
        }
    });
    match result {
        Ok(key) => Ok(key),
        Err(e) => {
            if let Some(err) = command_error.into_inner() {
                if mode == LoadMode::Start {
                    return Err(err);
                }
            }
            if dummy_called.into_inner() {
                return Err(Error::tls(format!(
                    "private key file \"{name}\" cannot be reloaded because it requires a passphrase"
                )));
            }
            Err(load_error(first_reason(&e)))
        }
    }
}

/// `run_ssl_passphrase_command`: `%p` is the prompt, `%%` a percent sign; the first line of
/// the command's output, without its line end, is the passphrase.
pub fn run_passphrase_command(template: &str, prompt: &str) -> Result<Vec<u8>, Error> {
    let command = replace_placeholders(template, prompt);
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            Error::tls(format!(
                "could not execute command \"{command}\": {}",
                strerror(&e)
            ))
        })?;
    if !output.status.success() {
        return Err(Error::Tls {
            message: format!("command \"{command}\" failed"),
            detail: Some(wait_result_to_str(output.status)),
            hint: None,
        });
    }
    let mut line: Vec<u8> = output
        .stdout
        .split_inclusive(|b| *b == b'\n')
        .next()
        .unwrap_or_default()
        .to_vec();
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(line)
}

/// `%p` → the prompt, `%%` → `%`; any other `%x` is kept as written.
fn replace_placeholders(template: &str, prompt: &str) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.peek() {
                Some('p') => {
                    chars.next();
                    out.push_str(prompt);
                    continue;
                }
                Some('%') => {
                    chars.next();
                    out.push('%');
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

/// PostgreSQL's `wait_result_to_str`.
fn wait_result_to_str(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(127), _) => "command not found".into(),
        (Some(126), _) => "command not executable".into(),
        (Some(code), _) => format!("child process exited with exit code {code}"),
        (None, Some(sig)) => {
            // SAFETY: strsignal returns a pointer to a static or thread-local string.
            let name = unsafe {
                let p = libc::strsignal(sig);
                if p.is_null() {
                    String::new()
                } else {
                    std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            };
            format!("child process was terminated by signal {sig}: {name}")
        }
        (None, None) => "child process exited with unrecognized status".into(),
    }
}

/// A file the TLS context loads: the name for messages (as configured) and the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFile {
    /// As PostgreSQL prints it: the setting's value, or `root.crt` / `root.crl`.
    pub name: String,
    /// Resolved against the data directory.
    pub path: PathBuf,
    /// The seed profile's `root.crt` / `root.crl`, used without a setting naming it.
    pub implicit: bool,
}

/// The CA file: `ssl_ca_file` if set (the setting wins), else in the seed profile
/// `DATADIR/root.crt` if it exists.
pub fn ca_file(settings: &Settings) -> Option<ServerFile> {
    setting_or_implicit(settings, &settings.ssl_ca_file, "root.crt")
}

/// The CRL file: `ssl_crl_file` if set, else in the seed profile `DATADIR/root.crl` if it
/// exists.
pub fn crl_file(settings: &Settings) -> Option<ServerFile> {
    setting_or_implicit(settings, &settings.ssl_crl_file, "root.crl")
}

fn setting_or_implicit(settings: &Settings, value: &str, implicit: &str) -> Option<ServerFile> {
    if !value.is_empty() {
        return Some(ServerFile {
            name: value.to_owned(),
            path: settings.resolve(value),
            implicit: false,
        });
    }
    let path = settings.resolve(implicit);
    (settings.profile.behaviour().implicit_root_files && path.exists()).then(|| ServerFile {
        name: implicit.to_owned(),
        path,
        implicit: true,
    })
}

/// `load_dh_file`: `None` when `ssl_dh_params_file` is empty (the built-in group is used).
pub fn dh_params(settings: &Settings) -> Result<Option<Dh<Params>>, Error> {
    let name = &settings.ssl_dh_params_file;
    if name.is_empty() {
        return Ok(None);
    }
    let pem = std::fs::read(settings.resolve(name)).map_err(|e| {
        Error::tls(format!(
            "could not open DH parameters file \"{name}\": {}",
            strerror(&e)
        ))
    })?;
    let dh = Dh::params_from_pem(&pem).map_err(|e| {
        Error::tls(format!(
            "could not load DH parameters file: {}",
            first_reason(&e)
        ))
    })?;
    use crate::openssl_ffi::{
        DH_CHECK_P_NOT_PRIME as P_NOT_PRIME, DH_CHECK_P_NOT_SAFE_PRIME as P_NOT_SAFE_PRIME,
        DH_NOT_SUITABLE_GENERATOR as NOT_SUITABLE_GENERATOR,
    };
    let codes = crate::openssl_ffi::dh_check(&dh)
        .map_err(|stack| Error::tls(format!("invalid DH parameters: {}", first_reason(&stack))))?;
    if codes & P_NOT_PRIME != 0 {
        return Err(Error::tls("invalid DH parameters: p is not prime"));
    }
    if codes & NOT_SUITABLE_GENERATOR != 0 && codes & P_NOT_SAFE_PRIME != 0 {
        return Err(Error::tls(
            "invalid DH parameters: neither suitable generator or safe prime",
        ));
    }
    Ok(Some(dh))
}

/// The reason text of the earliest error on the stack, as PostgreSQL's `SSLerrmessage`
/// reports it: a system error (OpenSSL 3's `ERR_SYSTEM_ERROR`) is `strerror` of its errno.
pub fn first_reason(stack: &openssl::error::ErrorStack) -> String {
    const ERR_SYSTEM_FLAG: std::ffi::c_ulong = 0x8000_0000;
    match stack.errors().first() {
        Some(e) => {
            let code = e.code();
            if code & ERR_SYSTEM_FLAG != 0 {
                let errno = (code & (ERR_SYSTEM_FLAG - 1)) as i32;
                return strerror(&std::io::Error::from_raw_os_error(errno));
            }
            e.reason()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("SSL error code {code}"))
        }
        None => "no SSL error reported".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(
            replace_placeholders("echo %p 100%% %x", "P:"),
            "echo P: 100% %x"
        );
    }

    #[test]
    fn command_failure_is_worded_as_postgres() {
        let e = run_passphrase_command("false", PASSPHRASE_PROMPT).unwrap_err();
        assert_eq!(
            e.log_record().lines(),
            [
                "FATAL:  command \"false\" failed",
                "DETAIL:  child process exited with exit code 1"
            ]
        );
        assert_eq!(
            run_passphrase_command("printf 'secret\\r\\nmore\\n'", "x").unwrap(),
            b"secret"
        );
    }
}

//! A case's `pg_hba.conf` as pgpool-II 4.3's `pool_hba.conf`: the same rows, checked against
//! what pgpool's own hba parser (`src/auth/pool_hba.c`, `parse_hba_line`) and matcher
//! (`check_db`, `check_user`) read the same way as PostgreSQL; and `pg_ident.conf`, which pgpool
//! does not read. What it would read otherwise is an error naming it, which makes the case not
//! applicable.

use crate::target::product::hba::{at_line, no_ident_maps};

/// pgpool 4.3's hba methods that mean what PostgreSQL's do (`parse_hba_line`); its `pam`
/// and `ldap` need a set-up the mapping does not give it.
const METHODS: &[&str] = &[
    "trust",
    "reject",
    "cert",
    "password",
    "md5",
    "scram-sha-256",
];

/// PostgreSQL methods pgpool 4.3 does not have or the mapping cannot set up.
const OTHER_METHODS: &[&str] = &[
    "ident", "peer", "gss", "sspi", "radius", "ldap", "pam", "bsd", "krb5", "crypt",
];

/// The whitespace-separated fields of an hba line, each as written (quotes kept), up to a
/// `#` outside double quotes.
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                field.push(c);
            }
            '#' if !quoted => break,
            c if c.is_whitespace() && !quoted => {
                if !field.is_empty() {
                    out.push(std::mem::take(&mut field));
                }
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() {
        out.push(field);
    }
    out
}

/// The `pool_hba.conf` for a case's `pg_hba.conf`: the same rows, when pgpool 4.3 reads each
/// as PostgreSQL does. A row PostgreSQL accepts and pgpool would read otherwise (or refuse)
/// has no equivalent; a row both refuse is kept, so pgpool shows what it does with it.
pub fn pool_hba(text: &str) -> Result<String, String> {
    for (n, raw) in text.lines().enumerate() {
        let unmappable = |why: String| at_line(n + 1, why);
        if raw.trim_end().ends_with('\\') {
            return Err(unmappable(
                "its hba parser does not continue a line ending in a backslash".into(),
            ));
        }
        let fields = fields(raw);
        let Some((kind, rest)) = fields.split_first() else {
            continue;
        };
        let address_fields = match kind.as_str() {
            "local" => 0,
            "host" | "hostssl" | "hostnossl" => 1,
            "hostgssenc" | "hostnogssenc" => {
                return Err(unmappable(format!(
                    "its pool_hba.conf has no {kind} rows (pgpool has no GSSAPI encryption)"
                )));
            }
            other if other.starts_with("include") => {
                return Err(unmappable(format!(
                    "its pool_hba.conf has no {other} directive"
                )));
            }
            // Not a row type PostgreSQL reads either: pgpool shows what it does with it.
            _ => continue,
        };
        for (i, names) in rest.iter().take(2).enumerate() {
            for name in names.split(',') {
                if name.starts_with('"') {
                    continue;
                }
                if i == 0 && matches!(name, "replication" | "samerole" | "samegroup") {
                    return Err(unmappable(format!(
                        "its pool_hba.conf has no {name:?} keyword (it would name a database, or match nothing)"
                    )));
                }
                if name.starts_with('+') {
                    return Err(unmappable(format!(
                        "it does not match group members ({name:?})"
                    )));
                }
                if name.starts_with('/') {
                    return Err(unmappable(format!(
                        "it has no regular expressions ({name:?})"
                    )));
                }
            }
        }
        // The address, and a separate netmask after an IP address without a prefix length.
        let mut i = 2 + address_fields;
        if address_fields == 1 {
            let address = rest.get(2).map_or("", String::as_str);
            let ip = address.split('/').next().unwrap_or(address);
            if !address.contains('/') && ip.parse::<std::net::IpAddr>().is_ok() {
                i += 1;
            }
        }
        let Some(method) = rest.get(i) else {
            continue;
        };
        if OTHER_METHODS.contains(&method.as_str()) {
            return Err(unmappable(format!(
                "the mapping gives pgpool no {method} authentication"
            )));
        }
        if !METHODS.contains(&method.as_str()) {
            continue;
        }
        if let Some(option) = rest[i + 1..].iter().find(|o| o.contains('=')) {
            let name = option.split('=').next().unwrap_or(option);
            return Err(unmappable(format!(
                "its pool_hba.conf rows take no {name} option ({option})"
            )));
        }
    }
    Ok(format!(
        "# written by pgssl-conform: the case's pg_hba.conf\n{text}"
    ))
}

/// Checks that `pg_ident.conf` has no maps: pgpool 4.3 reads none.
pub fn check_ident(text: &str) -> Result<(), String> {
    no_ident_maps(text, "it reads no pg_ident.conf (no user name maps)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hba_rows_pgpool_reads_are_kept() {
        let text = "local all all trust\nhost all all 127.0.0.1/32 trust\n\
                    hostssl db,other u 127.0.0.1 255.255.255.255 cert # c\n\
                    host all all ::1/128 reject\nhost all all localhost md5\n\
                    host \"replication\" all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 bogus\n";
        let hba = pool_hba(text).expect("readable");
        assert!(hba.ends_with(text), "{hba}");
        check_ident("# comment only\n\n").expect("no maps");
    }

    #[test]
    fn hba_rows_pgpool_reads_otherwise_are_named() {
        for (row, needle) in [
            (
                "hostssl all all 127.0.0.1/32 cert clientcert=verify-full",
                "no clientcert option",
            ),
            (
                "hostssl all all 127.0.0.1/32 cert clientname=DN map=dn",
                "no clientname option",
            ),
            ("hostgssenc all all 127.0.0.1/32 trust", "hostgssenc"),
            ("host all all 127.0.0.1/32 ident", "no ident authentication"),
            ("local all all peer", "no peer authentication"),
            ("host replication all 127.0.0.1/32 trust", "replication"),
            ("host samerole all 127.0.0.1/32 trust", "samerole"),
            ("include other.conf", "include"),
            ("host all +group 127.0.0.1/32 trust", "+group"),
            ("host all /^a 127.0.0.1/32 trust", "regular expressions"),
            ("host all all 127.0.0.1/32 trust \\", "backslash"),
        ] {
            let why = pool_hba(row).expect_err(row);
            assert!(why.contains(needle), "{row}: {why}");
            assert!(why.starts_with("pg_hba.conf line 1"), "{why}");
        }
        let why = check_ident("cn ssltestuser-dn ssltestuser\n").expect_err("a map");
        assert!(why.contains("pg_ident.conf"), "{why}");
    }
}

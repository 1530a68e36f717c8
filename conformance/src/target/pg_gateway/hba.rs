//! `pg_hba.conf` reduced to pg-gateway's one authentication method: pg-gateway takes its
//! `auth` option per connection, before it knows the user, the database or whether TLS
//! follows, so every row that can apply to a connection the server gets must name the same
//! method, and one it has without a password (`trust` or `cert`). Anything else is an error
//! naming the row, which makes the case not applicable.

use std::net::Ipv4Addr;

use crate::target::product::hba::plain_rows;

/// The one pg-gateway method (`trust` or `cert`) that the `pg_hba.conf` rows give every
/// connection the harness makes (TCP from 127.0.0.1, and the Unix socket), or why the rows
/// ask for more than one method per server: pg-gateway takes its `auth` option per
/// connection, before it knows the user, the database or whether TLS follows.
///
/// With `ssl` on, pg-gateway refuses every connection that did not start TLS, so a
/// `hostnossl` row, which admits only those, has no equivalent; with it off, no connection is
/// TLS and `hostssl` rows never match, as in PostgreSQL, nor do `hostgssenc` rows (pg-gateway
/// has no GSSAPI). Rows for addresses other than 127.0.0.1 apply to no connection the server
/// can get, since it listens on 127.0.0.1 only; only the rows that can apply are mapped.
pub fn method(hba: &str, ssl: bool) -> Result<&'static str, String> {
    let mut found: Option<(&'static str, usize)> = None;
    let quoted = "quoted names and continued lines are not reduced to a pg-gateway method";
    for row in plain_rows(hba, quoted) {
        let row = row?;
        let at = |why: String| row.unmappable(why);
        let Some((&kind, rest)) = row.fields.split_first() else {
            continue;
        };
        let has_address = match kind {
            "local" => false,
            "host" | "hostssl" | "hostnossl" | "hostgssenc" | "hostnogssenc" => true,
            other if other.starts_with("include") => {
                return Err(at(format!(
                    "it has no pg_hba.conf to include into ({other})"
                )));
            }
            other => return Err(at(format!("{other:?} is not a pg_hba.conf row type"))),
        };
        let needed = 2 + usize::from(has_address) + 1;
        if rest.len() < needed {
            return Err(at("a row with missing fields".into()));
        }
        let mut i = 2;
        let mut applies = true;
        if has_address {
            let (matches, used) =
                loopback_matches(rest[i], rest.get(i + 1).copied()).map_err(&at)?;
            applies = matches;
            i += used;
        }
        // Rows no connection of the server's can match: without SSL, hostssl; without
        // GSSAPI (pg-gateway has none), hostgssenc; other addresses than 127.0.0.1.
        let never = (kind == "hostssl" && !ssl) || kind == "hostgssenc";
        if !applies || never {
            continue;
        }
        if kind == "hostnossl" && ssl {
            return Err(at(
                "with TLS configured it refuses every connection that does not start TLS, so it cannot admit only those (hostnossl)"
                    .into(),
            ));
        }
        for (field, what) in rest[..2].iter().zip(["database", "user"]) {
            if *field == "replication" && what == "database" {
                return Err(at("it has no replication connections".into()));
            }
            if *field != "all" {
                return Err(at(format!(
                    "it applies one method to every {what}, so it has no rows for {what} {field:?}"
                )));
            }
        }
        let Some(&row_method) = rest.get(i) else {
            return Err(at("a row with no method".into()));
        };
        if let Some(option) = rest.get(i + 1) {
            return Err(at(format!(
                "its methods take no options ({option}): only its cert method requests a client certificate, and it checks the CN against the user name"
            )));
        }
        let mapped = match row_method {
            "trust" => "trust",
            "cert" => "cert",
            "reject" => {
                return Err(at(
                    "it has no reject method: it authenticates every connection with its one method"
                        .into(),
                ));
            }
            "password" | "md5" | "scram-sha-256" => {
                return Err(at(format!(
                    "its {row_method} method checks a password the service supplies per user, and PostgreSQL's roles here have none"
                )));
            }
            other => return Err(at(format!("it has no {other} method"))),
        };
        match found {
            None => found = Some((mapped, row.number)),
            Some((first, line)) if first != mapped => {
                return Err(at(format!(
                    "it applies one method to every connection, and line {line} gives {first} where this line gives {mapped}"
                )));
            }
            Some(_) => {}
        }
    }
    found.map(|(m, _)| m).ok_or_else(|| {
        "no pg_hba.conf row admits the harness's connections, and it cannot refuse one (it has no reject method)"
            .into()
    })
}

/// Whether a `host*` row's address (`rest`, with the `next` field for a separate netmask)
/// covers 127.0.0.1, and how many fields the address took.
fn loopback_matches(address: &str, next: Option<&str>) -> Result<(bool, usize), String> {
    if matches!(address, "all" | "samehost" | "samenet") {
        return Ok((true, 1));
    }
    let loopback = u32::from(Ipv4Addr::LOCALHOST);
    let (ip, prefix, used) = match address.split_once('/') {
        Some((ip, bits)) => {
            let bits: u32 = bits
                .parse()
                .map_err(|_| format!("{address:?} is not an address with a prefix length"))?;
            (ip, Some(bits), 1)
        }
        None => (address, None, 2),
    };
    let parsed: std::net::IpAddr = ip.parse().map_err(|_| {
        format!("it has no rules by host name ({address:?}): it listens on 127.0.0.1 only")
    })?;
    let std::net::IpAddr::V4(v4) = parsed else {
        // An IPv6 row: the server listens on 127.0.0.1 only.
        return Ok((false, used));
    };
    let mask = match (prefix, next) {
        (Some(bits), _) if bits <= 32 => {
            if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            }
        }
        (Some(_), _) => return Err(format!("{address:?} has a prefix longer than 32 bits")),
        (None, Some(mask)) => u32::from(
            mask.parse::<Ipv4Addr>()
                .map_err(|_| format!("{address} {mask}: the netmask is not an IPv4 address"))?,
        ),
        (None, None) => return Err(format!("{address:?} has no netmask")),
    };
    Ok(((u32::from(v4) ^ loopback) & mask == 0, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_HBA: &str = crate::setup::DEFAULT_HBA;

    #[test]
    fn hba_rows_become_one_method() {
        assert_eq!(method(DEFAULT_HBA, true), Ok("trust"));
        assert_eq!(
            method("hostssl all all 127.0.0.1/32 cert", true),
            Ok("cert")
        );
        assert_eq!(
            method("host all all 127.0.0.1 255.255.255.255 cert\n# c\n", true),
            Ok("cert")
        );
        // Rows no harness connection can match do not count.
        assert_eq!(
            method(
                "host all all 10.0.0.0/8 reject\nhost all all ::1/128 cert\n\
                 hostgssenc all all 127.0.0.1/32 cert\nhost all all 127.0.0.1/32 trust",
                true
            ),
            Ok("trust")
        );
        // Without SSL, hostssl rows never match.
        assert_eq!(
            method(
                "hostssl all all 127.0.0.1/32 cert\nhost all all 127.0.0.1/32 trust",
                false
            ),
            Ok("trust")
        );
        for (rows, ssl, needle) in [
            ("hostnossl all all 127.0.0.1/32 trust", true, "hostnossl"),
            ("host all all 127.0.0.1/32 reject", true, "no reject method"),
            (
                "host replication all 127.0.0.1/32 trust",
                true,
                "no replication",
            ),
            ("host all alice 127.0.0.1/32 trust", true, "user \"alice\""),
            (
                "hostssl all all 127.0.0.1/32 trust clientcert=verify-ca",
                true,
                "no options",
            ),
            (
                "hostssl all all 127.0.0.1/32 cert clientname=DN",
                true,
                "no options",
            ),
            ("host all all localhost trust", true, "host name"),
            ("host all all 127.0.0.1/32 md5", true, "password"),
            ("host all all 127.0.0.1/32 ident", true, "no ident method"),
            ("include other.conf", true, "include"),
            ("host \"all\" all 127.0.0.1/32 trust", true, "quoted"),
            (
                "local all all trust\nhost all all 127.0.0.1/32 cert",
                true,
                "line 1 gives trust",
            ),
            (
                "host all all 10.0.0.0/8 trust",
                true,
                "no pg_hba.conf row admits",
            ),
            (
                "hostssl all all 127.0.0.1/32 trust",
                false,
                "no pg_hba.conf row admits",
            ),
            ("host all all 127.0.0.1/33 trust", true, "longer than 32"),
        ] {
            let why = method(rows, ssl).expect_err(rows);
            assert!(why.contains(needle), "{rows}: {why}");
        }
    }
}

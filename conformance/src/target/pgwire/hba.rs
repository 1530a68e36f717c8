//! `pg_hba.conf` against what the server can honour: pgwire's `NoopStartupHandler`
//! authenticates no one, so only a file that trusts every connection maps.

use std::net::Ipv4Addr;

use crate::target::product::hba::plain_rows;

/// Whether `addr` (an hba address field and, for a bare address, the next field as its mask)
/// admits 127.0.0.1; `None` when it is not an IP address the mapping reads.
fn admits_loopback(addr: &str, mask: Option<&str>) -> Option<bool> {
    if addr == "all" {
        return Some(true);
    }
    let (ip, bits) = match addr.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (addr, None),
    };
    if ip.parse::<std::net::Ipv6Addr>().is_ok() {
        // The server listens on 127.0.0.1 only: an IPv6 row admits none of its clients.
        return Some(false);
    }
    let ip: Ipv4Addr = ip.parse().ok()?;
    let mask: u32 = match (bits, mask) {
        (Some(b), _) => {
            let b: u32 = b.parse().ok().filter(|b| *b <= 32)?;
            u32::MAX.checked_shl(32 - b).unwrap_or(0)
        }
        (None, Some(m)) => u32::from(m.parse::<Ipv4Addr>().ok()?),
        (None, None) => return None,
    };
    Some(u32::from(ip) & mask == u32::from(Ipv4Addr::LOCALHOST) & mask)
}

/// Checks that `pg_hba.conf` trusts every connection, which is all pgwire's
/// `NoopStartupHandler` can do: only `local` and `host` rows for `all` databases and users
/// with the `trust` method, at least one admitting TCP from 127.0.0.1. Returns whether a
/// `local` row exists (without one the server serves no Unix socket).
pub fn check(text: &str) -> Result<bool, String> {
    let mut local = false;
    let mut loopback = false;
    let quoted = "quoted names and continued lines mean rows its startup handler cannot tell apart";
    for row in plain_rows(text, quoted) {
        let row = row?;
        let unmappable = |why: String| row.unmappable(why);
        let fields = &row.fields;
        let kind = fields[0];
        let address_fields = match kind {
            "local" => 0,
            "host" => 1,
            "hostssl" | "hostnossl" | "hostgssenc" | "hostnogssenc" => {
                return Err(unmappable(format!(
                    "a {kind} row tells encrypted connections from others, which its startup handler (pgwire's NoopStartupHandler, trusting every connection) cannot"
                )));
            }
            other if other.starts_with("include") => {
                return Err(unmappable(format!(
                    "it has no {other} directive: its startup handler reads no hba file"
                )));
            }
            other => return Err(unmappable(format!("{other:?} is not an hba row type"))),
        };
        if fields.len() < 3 + address_fields + 1 {
            return Err(unmappable("a row with missing fields".into()));
        }
        for (what, value) in [("database", fields[1]), ("user", fields[2])] {
            if value != "all" {
                return Err(unmappable(format!(
                    "its startup handler cannot limit a row to the {what} {value:?}: it takes every {what}"
                )));
            }
        }
        let mut i = 3;
        if address_fields == 1 {
            let addr = fields[i];
            let separate_mask = !addr.contains('/') && addr != "all";
            let mask = separate_mask.then(|| fields.get(i + 1).copied()).flatten();
            let admits = admits_loopback(addr, mask).ok_or_else(|| {
                unmappable(format!(
                    "it takes no host names or keywords as addresses ({addr:?})"
                ))
            })?;
            i += 1 + usize::from(separate_mask);
            // Every row that gets past the checks below is a trust row.
            loopback |= admits;
        } else {
            local = true;
        }
        let Some(method) = fields.get(i) else {
            return Err(unmappable("a row with no method".into()));
        };
        if *method != "trust" {
            return Err(unmappable(format!(
                "it has no {method} method: its startup handler (pgwire's NoopStartupHandler) trusts every connection"
            )));
        }
        if let Some(option) = fields.get(i + 1) {
            return Err(unmappable(format!(
                "its startup handler takes no hba options ({option})"
            )));
        }
    }
    if !loopback {
        return Err(
            "no pg_hba.conf row admits TCP connections from 127.0.0.1, and its startup handler cannot refuse them"
                .into(),
        );
    }
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hba_rows_it_can_honour() {
        assert_eq!(check(crate::setup::DEFAULT_HBA), Ok(true));
        assert_eq!(check("host all all 127.0.0.1/32 trust\n"), Ok(false));
        assert_eq!(
            check("host all all 127.0.0.1 255.0.0.0 trust\n# c\nhost all all all trust\n"),
            Ok(false)
        );
        for (rows, needle) in [
            ("hostssl all all 127.0.0.1/32 trust", "hostssl row"),
            ("host all all 127.0.0.1/32 reject", "no reject method"),
            ("host all all 127.0.0.1/32 cert", "no cert method"),
            (
                "host all all 127.0.0.1/32 trust clientcert=verify-ca",
                "no hba options",
            ),
            (
                "host replication all 127.0.0.1/32 trust",
                "database \"replication\"",
            ),
            ("host all all localhost trust", "no host names"),
            ("host all all ::1/128 trust", "no pg_hba.conf row admits"),
            ("host all all 10.0.0.0/8 trust", "no pg_hba.conf row admits"),
            ("include other.conf", "include"),
        ] {
            let why = check(rows).expect_err(rows);
            assert!(why.contains(needle), "{rows}: {why}");
        }
    }
}

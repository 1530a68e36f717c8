//! Matching a connection against parsed pg_hba.conf rows (first applicable
//! row wins, as `check_hba()` does) and mapping an authenticated identity
//! through pg_ident.conf (`check_usermap()` / `check_ident_usermap()`).

use std::net::{IpAddr, Ipv6Addr};

use super::{
    AuthToken, ConnType, HbaAddress, HbaConfig, HbaError, HbaRow, IdentConfig, IdentRow, LogLevel,
    dialect,
};

/// Transport of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConnKind {
    /// Unix-domain socket.
    Local,
    /// TCP.
    #[default]
    Host,
}

/// What is known about a connection when pg_hba.conf is consulted.
#[derive(Clone, Debug, Default)]
pub struct ConnFacts {
    pub kind: ConnKind,
    /// SSL is in use on this connection.
    pub ssl: bool,
    /// GSSAPI encryption is in use on this connection.
    pub gss: bool,
    /// Client address (TCP only).
    pub addr: Option<IpAddr>,
    pub user: String,
    pub database: String,
    /// Roles the user is a member of (directly or indirectly), for `+group`
    /// and `samerole`. The user is always treated as a member of itself.
    pub user_groups: Vec<String>,
    /// Physical replication connection (`replication=true`): only the
    /// `replication` database keyword matches (profiles that have it).
    pub replication: bool,
    /// Addresses of this machine's interfaces (`samehost`).
    pub local_addrs: Vec<IpAddr>,
    /// Interface address and netmask pairs of this machine (`samenet`).
    pub local_nets: Vec<(IpAddr, IpAddr)>,
    /// Client host name already verified by forward and reverse DNS, if the
    /// caller did that. Without it, host-name rows never match.
    pub remote_hostname: Option<String>,
}

impl ConnFacts {
    fn is_member(&self, role: &str) -> bool {
        self.members().is_member(role)
    }

    fn members(&self) -> Members<'_> {
        Members {
            user: &self.user,
            groups: &self.user_groups,
        }
    }
}

/// A user and the roles it is a member of (borrowed, for `+group` checks).
#[derive(Clone, Copy)]
struct Members<'a> {
    user: &'a str,
    groups: &'a [String],
}

impl Members<'_> {
    fn is_member(self, role: &str) -> bool {
        self.user == role || self.groups.iter().any(|g| g == role)
    }
}

/// First row that applies to the connection, or `None` (implicit reject).
pub fn find_row<'a>(config: &'a HbaConfig, facts: &ConnFacts) -> Option<&'a HbaRow> {
    let d = dialect(config.profile);
    config
        .rows
        .iter()
        .find(|row| row_matches(row, facts, d.promote_v4_to_v6, d.replication_keyword))
}

impl HbaConfig {
    /// See [`find_row`].
    pub fn find(&self, facts: &ConnFacts) -> Option<&HbaRow> {
        find_row(self, facts)
    }
}

fn row_matches(row: &HbaRow, facts: &ConnFacts, promote: bool, replication_keyword: bool) -> bool {
    if row.conn_type == ConnType::Local {
        if facts.kind != ConnKind::Local {
            return false;
        }
    } else {
        if facts.kind == ConnKind::Local {
            return false;
        }
        match row.conn_type {
            ConnType::HostSsl if !facts.ssl => return false,
            ConnType::HostNoSsl if facts.ssl => return false,
            ConnType::HostGssEnc if !facts.gss => return false,
            ConnType::HostNoGssEnc if facts.gss => return false,
            _ => {}
        }
        let addr_ok = match &row.address {
            None | Some(HbaAddress::All) => true,
            Some(HbaAddress::Cidr { addr, mask }) => facts
                .addr
                .is_some_and(|client| ip_in_range(client, *addr, *mask, promote)),
            Some(HbaAddress::SameHost) => facts.addr.is_some_and(|client| {
                facts
                    .local_addrs
                    .iter()
                    .any(|a| same_family(client, *a) && client == *a)
            }),
            Some(HbaAddress::SameNet) => facts.addr.is_some_and(|client| {
                facts
                    .local_nets
                    .iter()
                    .any(|(a, m)| ip_in_range(client, *a, *m, false))
            }),
            Some(HbaAddress::Hostname(pattern)) => facts
                .remote_hostname
                .as_deref()
                .is_some_and(|h| hostname_match(pattern, h)),
        };
        if !addr_ok {
            return false;
        }
    }
    check_db(&row.databases, facts, replication_keyword)
        && check_role(&facts.user, &row.users, facts.members(), false)
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

/// The address as a number (big-endian, as its bytes are compared), without allocating.
fn ip_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// `pg_range_sockaddr` for the same family; with `promote` (8.4), an IPv4
/// rule also matches an IPv6 client via `::ffff:a.b.c.d`.
pub fn ip_in_range(client: IpAddr, addr: IpAddr, mask: IpAddr, promote: bool) -> bool {
    let (addr, mask) = match (client, addr, mask) {
        (IpAddr::V6(_), IpAddr::V4(a), IpAddr::V4(m)) if promote => {
            let a6 = a.to_ipv6_mapped();
            let m6 = Ipv6Addr::from((u128::MAX << 32) | u128::from(u32::from(m)));
            (IpAddr::V6(a6), IpAddr::V6(m6))
        }
        _ => (addr, mask),
    };
    if !same_family(client, addr) || !same_family(addr, mask) {
        return false;
    }
    (ip_bits(client) ^ ip_bits(addr)) & ip_bits(mask) == 0
}

/// `hostname_match`: `.suffix` or whole-name, ASCII case-insensitive.
pub fn hostname_match(pattern: &str, actual: &str) -> bool {
    if pattern.starts_with('.') {
        actual.len() >= pattern.len()
            && actual.is_char_boundary(actual.len() - pattern.len())
            && actual[actual.len() - pattern.len()..].eq_ignore_ascii_case(pattern)
    } else {
        pattern.eq_ignore_ascii_case(actual)
    }
}

/// `check_db`.
fn check_db(tokens: &[AuthToken], facts: &ConnFacts, replication_keyword: bool) -> bool {
    for tok in tokens {
        if replication_keyword && facts.replication {
            if tok.is_keyword("replication") {
                return true;
            }
        } else if tok.is_keyword("all") {
            return true;
        } else if tok.is_keyword("sameuser") {
            if facts.database == facts.user {
                return true;
            }
        } else if tok.is_keyword("samegroup") || tok.is_keyword("samerole") {
            if facts.is_member(&facts.database) {
                return true;
            }
        } else if replication_keyword && tok.is_keyword("replication") {
            continue;
        } else if let Some(re) = tok.regex() {
            if re.is_match(&facts.database) {
                return true;
            }
        } else if tok.text == facts.database {
            return true;
        }
    }
    false
}

/// `check_role`: `+group`, `all`, regex, then exact (or case-insensitive) name.
fn check_role(
    role: &str,
    tokens: &[AuthToken],
    members: Members<'_>,
    case_insensitive: bool,
) -> bool {
    tokens.iter().any(|tok| {
        if tok.is_member_check() {
            members.is_member(&tok.text[1..])
        } else if tok.is_keyword("all") {
            true
        } else if let Some(re) = tok.regex() {
            re.is_match(role)
        } else if case_insensitive {
            tok.text.eq_ignore_ascii_case(role)
        } else {
            tok.text == role
        }
    })
}

/// The `connection authenticated: identity="…" method=… (file:line)` log
/// line, for profiles that print it (14+).
pub fn connection_authenticated_message(
    config: &HbaConfig,
    identity: &str,
    row: &HbaRow,
) -> Option<String> {
    dialect(config.profile)
        .connection_authenticated_log
        .then(|| {
            format!(
                "connection authenticated: identity=\"{identity}\" method={} ({})",
                row.method.name(),
                row.location()
            )
        })
}

// ---------------------------------------------------------------------------
// pg_ident.conf
// ---------------------------------------------------------------------------

/// Outcome of one ident line.
enum LineOutcome {
    NoMatch,
    Found,
}

fn check_ident_line(
    row: &IdentRow,
    keywords: bool,
    map: &str,
    system_name: &str,
    pg_user: &str,
    case_insensitive: bool,
    user_groups: &[String],
) -> Result<LineOutcome, HbaError> {
    if row.map != map {
        return Ok(LineOutcome::NoMatch);
    }
    let members = Members {
        user: pg_user,
        groups: user_groups,
    };
    let pg_matches = |tok: &AuthToken| -> bool {
        if keywords {
            check_role(
                pg_user,
                std::slice::from_ref(tok),
                members,
                case_insensitive,
            )
        } else if case_insensitive {
            tok.text.eq_ignore_ascii_case(pg_user)
        } else {
            tok.text == pg_user
        }
    };
    let found = if let Some(re) = row.system_user.regex() {
        let Some(caps) = re.captures(system_name) else {
            return Ok(LineOutcome::NoMatch);
        };
        let substitute =
            !keywords || (!row.pg_user.is_member_check() && row.pg_user.regex().is_none());
        match row.pg_user.text.find("\\1") {
            Some(ofs) if substitute => {
                let Some(group) = caps.get(1) else {
                    return Err(HbaError::RegexNoSubexpressions {
                        pattern: row.system_user.text[1..].to_string(),
                        pg_user: row.pg_user.text.clone(),
                    });
                };
                let expanded = format!(
                    "{}{}{}",
                    &row.pg_user.text[..ofs],
                    group.as_str(),
                    &row.pg_user.text[ofs + 2..]
                );
                // The expansion is compared literally (treated as quoted).
                pg_matches(&AuthToken::new(expanded, true))
            }
            _ => pg_matches(&row.pg_user),
        }
    } else {
        let sys_ok = if case_insensitive {
            row.system_user.text.eq_ignore_ascii_case(system_name)
        } else {
            row.system_user.text == system_name
        };
        sys_ok && pg_matches(&row.pg_user)
    };
    Ok(if found {
        LineOutcome::Found
    } else {
        LineOutcome::NoMatch
    })
}

/// May `system_name` (e.g. a certificate CN/DN) act as `pg_user` under map
/// `map`? Scans lines in order like `check_usermap`: `Ok(true)` on the first
/// match, `Ok(false)` if none, `Err` for the backreference error (which
/// stops the scan). `+group` in the PG-user column needs
/// [`map_identity_with_groups`].
pub fn map_identity(
    ident: &IdentConfig,
    map: &str,
    system_name: &str,
    pg_user: &str,
    case_insensitive: bool,
) -> Result<bool, HbaError> {
    map_identity_with_groups(ident, map, system_name, pg_user, case_insensitive, &[])
}

/// [`map_identity`] with the PG user's role memberships.
pub fn map_identity_with_groups(
    ident: &IdentConfig,
    map: &str,
    system_name: &str,
    pg_user: &str,
    case_insensitive: bool,
    user_groups: &[String],
) -> Result<bool, HbaError> {
    let keywords = dialect(ident.profile).ident_pg_user_keywords;
    for row in &ident.rows {
        if let LineOutcome::Found = check_ident_line(
            row,
            keywords,
            map,
            system_name,
            pg_user,
            case_insensitive,
            user_groups,
        )? {
            return Ok(true);
        }
    }
    Ok(false)
}

impl IdentConfig {
    /// See [`map_identity`].
    pub fn map_identity(
        &self,
        map: &str,
        system_name: &str,
        pg_user: &str,
        case_insensitive: bool,
    ) -> Result<bool, HbaError> {
        map_identity(self, map, system_name, pg_user, case_insensitive)
    }
}

/// Result of [`check_usermap`]: whether the user is authorized, plus the
/// LOG line PostgreSQL writes when it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsermapResult {
    pub authorized: bool,
    pub log: Option<(LogLevel, String)>,
}

/// `check_usermap`: with no map (`None` or empty) the names must be equal;
/// otherwise the map is consulted, logging the "no match" / regex messages.
pub fn check_usermap(
    ident: &IdentConfig,
    map: Option<&str>,
    pg_user: &str,
    system_name: &str,
    case_insensitive: bool,
    user_groups: &[String],
) -> UsermapResult {
    let d = dialect(ident.profile);
    match map {
        None | Some("") => {
            let same = if case_insensitive {
                pg_user.eq_ignore_ascii_case(system_name)
            } else {
                pg_user == system_name
            };
            UsermapResult {
                authorized: same,
                log: (!same).then(|| {
                    (
                        LogLevel::Log,
                        (d.usermap_user_mismatch)(pg_user, system_name),
                    )
                }),
            }
        }
        Some(m) => match map_identity_with_groups(
            ident,
            m,
            system_name,
            pg_user,
            case_insensitive,
            user_groups,
        ) {
            Ok(true) => UsermapResult {
                authorized: true,
                log: None,
            },
            Ok(false) => UsermapResult {
                authorized: false,
                log: Some((LogLevel::Log, (d.usermap_no_match)(m, pg_user, system_name))),
            },
            Err(e) => UsermapResult {
                authorized: false,
                log: Some((LogLevel::Log, e.to_string())),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hba::{AuthMethod, ParseOptions, parse_hba_str, parse_ident_str};
    use crate::profile::Profile;

    fn config(profile: Profile, text: &str) -> HbaConfig {
        let load = parse_hba_str(text, "/path/pg_hba.conf", &ParseOptions::new(profile));
        assert!(load.is_ok(), "{}", load.render_log());
        load.config
    }

    fn ident(profile: Profile, text: &str) -> IdentConfig {
        let load = parse_ident_str(text, "/path/pg_ident.conf", &ParseOptions::new(profile));
        assert!(load.is_ok(), "{}", load.render_log());
        load.config
    }

    fn tcp(addr: &str, user: &str, db: &str, ssl: bool) -> ConnFacts {
        ConnFacts {
            kind: ConnKind::Host,
            ssl,
            addr: Some(addr.parse().unwrap()),
            user: user.into(),
            database: db.into(),
            ..ConnFacts::default()
        }
    }

    fn line_of(cfg: &HbaConfig, f: &ConnFacts) -> Option<usize> {
        cfg.find(f).map(|r| r.line)
    }

    #[test]
    fn ssl_and_connection_type_rules() {
        let cfg = config(
            Profile::Pg15,
            "local all all peer\nhostnossl all all 127.0.0.1/32 reject\nhostssl all all 127.0.0.1/32 cert\nhostgssenc all all all gss\nhost all all ::1/128 trust\n",
        );
        assert_eq!(line_of(&cfg, &tcp("127.0.0.1", "u", "d", false)), Some(2));
        assert_eq!(line_of(&cfg, &tcp("127.0.0.1", "u", "d", true)), Some(3));
        assert_eq!(line_of(&cfg, &tcp("::1", "u", "d", true)), Some(5));
        assert_eq!(line_of(&cfg, &tcp("10.1.1.1", "u", "d", false)), None);
        let mut gss = tcp("10.1.1.1", "u", "d", false);
        gss.gss = true;
        assert_eq!(line_of(&cfg, &gss), Some(4));
        let local = ConnFacts {
            kind: ConnKind::Local,
            user: "u".into(),
            database: "d".into(),
            ..ConnFacts::default()
        };
        assert_eq!(line_of(&cfg, &local), Some(1));
        assert_eq!(cfg.find(&local).map(|r| r.method), Some(AuthMethod::Peer));
    }

    #[test]
    fn address_rules() {
        let cfg = config(
            Profile::Pg18,
            "host all all 10.0.0.0 255.0.255.0 reject\nhost all all samehost trust\nhost all all samenet password\nhost all all .example.com md5\nhost all all fe80::/10 trust\n",
        );
        assert_eq!(line_of(&cfg, &tcp("10.9.0.9", "u", "d", false)), Some(1));
        let mut f = tcp("192.168.1.5", "u", "d", false);
        f.local_addrs = vec!["192.168.1.5".parse().unwrap()];
        assert_eq!(line_of(&cfg, &f), Some(2));
        let mut f = tcp("192.168.1.77", "u", "d", false);
        f.local_nets = vec![(
            "192.168.1.5".parse().unwrap(),
            "255.255.255.0".parse().unwrap(),
        )];
        assert_eq!(line_of(&cfg, &f), Some(3));
        let mut f = tcp("172.16.0.1", "u", "d", false);
        assert_eq!(
            line_of(&cfg, &f),
            None,
            "host names need a verified remote name"
        );
        f.remote_hostname = Some("DB.Example.COM".into());
        assert_eq!(line_of(&cfg, &f), Some(4));
        assert_eq!(line_of(&cfg, &tcp("fe80::1", "u", "d", false)), Some(5));
        assert!(hostname_match("db.example.com", "DB.example.com"));
        assert!(!hostname_match(".example.com", "example.com"));
    }

    #[test]
    fn ipv4_rules_and_ipv6_clients() {
        let text = "host all all 127.0.0.1/32 trust\n";
        let mapped = tcp("::ffff:127.0.0.1", "u", "d", false);
        assert_eq!(line_of(&config(Profile::Pg15, text), &mapped), None);
        assert_eq!(line_of(&config(Profile::Seed, text), &mapped), Some(1));
    }

    #[test]
    fn database_and_user_rules() {
        let cfg = config(
            Profile::Pg15,
            "host sameuser all all trust\nhost samerole all all md5\nhost all +admins all password\nhost all \"all\" all reject\nhost db1,\"db 2\" alice,bob all cert_placeholder\n"
                .replace("cert_placeholder", "scram-sha-256")
                .as_str(),
        );
        assert_eq!(
            line_of(&cfg, &tcp("1.2.3.4", "alice", "alice", false)),
            Some(1)
        );
        let mut f = tcp("1.2.3.4", "alice", "staff", false);
        f.user_groups = vec!["staff".into()];
        assert_eq!(line_of(&cfg, &f), Some(2));
        let mut f = tcp("1.2.3.4", "carol", "x", false);
        f.user_groups = vec!["admins".into()];
        assert_eq!(line_of(&cfg, &f), Some(3));
        assert_eq!(line_of(&cfg, &tcp("1.2.3.4", "all", "x", false)), Some(4));
        assert_eq!(
            line_of(&cfg, &tcp("1.2.3.4", "bob", "db 2", false)),
            Some(5)
        );
        assert_eq!(line_of(&cfg, &tcp("1.2.3.4", "bob", "db3", false)), None);
    }

    #[test]
    fn replication_keyword() {
        let cfg = config(
            Profile::Pg15,
            "host all all all reject\nhost replication all all trust\n",
        );
        let mut f = tcp("1.2.3.4", "u", "replication", false);
        assert_eq!(line_of(&cfg, &f), Some(1));
        f.replication = true;
        assert_eq!(line_of(&cfg, &f), Some(2));
        // 8.4 has no replication keyword: it is a database name.
        let cfg = config(Profile::Seed, "host replication all 0.0.0.0/0 trust\n");
        assert_eq!(
            line_of(&cfg, &tcp("1.2.3.4", "u", "replication", false)),
            Some(1)
        );
    }

    #[test]
    fn regex_db_and_user_in_18() {
        let cfg = config(Profile::Pg18, "host \"/^db[0-9]+$\" /^app_ all trust\n");
        assert_eq!(
            line_of(&cfg, &tcp("1.2.3.4", "app_web", "db42", false)),
            Some(1)
        );
        assert_eq!(line_of(&cfg, &tcp("1.2.3.4", "web", "db42", false)), None);
        let cfg = config(Profile::Pg15, "host /^db all all trust\n");
        assert_eq!(line_of(&cfg, &tcp("1.2.3.4", "u", "db1", false)), None);
        assert_eq!(line_of(&cfg, &tcp("1.2.3.4", "u", "/^db", false)), Some(1));
    }

    #[test]
    fn connection_authenticated_line() {
        let cfg = config(Profile::Pg15, "# c\n\n\n\n\nhostssl all all all cert\n");
        let row = cfg.find(&tcp("1.2.3.4", "u", "d", true)).unwrap();
        assert_eq!(
            connection_authenticated_message(&cfg, "CN=u", row).as_deref(),
            Some("connection authenticated: identity=\"CN=u\" method=cert (/path/pg_hba.conf:6)")
        );
        let seed = config(Profile::Seed, "hostssl all all 0.0.0.0/0 cert\n");
        let row = seed.find(&tcp("1.2.3.4", "u", "d", true)).unwrap();
        assert_eq!(connection_authenticated_message(&seed, "u", row), None);
    }

    #[test]
    fn ident_exact_and_case_insensitive() {
        for p in [Profile::Seed, Profile::Pg15, Profile::Pg18] {
            let id = ident(p, "m CN=Alice alice\nother bob bob\n");
            assert_eq!(map_identity(&id, "m", "CN=Alice", "alice", false), Ok(true));
            assert_eq!(
                map_identity(&id, "m", "cn=alice", "alice", false),
                Ok(false)
            );
            assert_eq!(map_identity(&id, "m", "cn=alice", "ALICE", true), Ok(true));
            assert_eq!(map_identity(&id, "m", "bob", "bob", false), Ok(false));
        }
    }

    #[test]
    fn ident_regex_with_backreference() {
        for p in [Profile::Seed, Profile::Pg15, Profile::Pg18] {
            let id = ident(
                p,
                "m /^(.*)@example\\.com$ \\1\nm /^admin-(.*)$ \\1_admin\nbad /^x.*$ \\1\n",
            );
            assert_eq!(
                id.map_identity("m", "alice@example.com", "alice", false),
                Ok(true)
            );
            assert_eq!(
                id.map_identity("m", "alice@example.com", "bob", false),
                Ok(false)
            );
            assert_eq!(
                id.map_identity("m", "admin-ops", "ops_admin", false),
                Ok(true)
            );
            assert_eq!(
                id.map_identity("m", "alice@evil.com", "alice", false),
                Ok(false)
            );
            assert_eq!(
                id.map_identity("bad", "xyz", "xyz", false).map_err(|e| e.to_string()),
                Err("regular expression \"^x.*$\" has no subexpressions as requested by backreference in \"\\1\"".to_string())
            );
        }
    }

    #[test]
    fn ident_pg_user_keywords_in_18_only() {
        let text = "m /^(.*)$ all\ng bob +admins\n";
        let id18 = ident(Profile::Pg18, text);
        assert_eq!(
            map_identity(&id18, "m", "anyone", "whoever", false),
            Ok(true)
        );
        assert_eq!(
            map_identity_with_groups(&id18, "g", "bob", "carol", false, &["admins".into()]),
            Ok(true)
        );
        assert_eq!(map_identity(&id18, "g", "bob", "carol", false), Ok(false));
        let id15 = ident(Profile::Pg15, text);
        assert_eq!(
            map_identity(&id15, "m", "anyone", "whoever", false),
            Ok(false)
        );
        assert_eq!(map_identity(&id15, "m", "anyone", "all", false), Ok(true));
        assert_eq!(
            map_identity_with_groups(&id15, "g", "bob", "carol", false, &["admins".into()]),
            Ok(false)
        );
        // A quoted "all" is literal in 18 too.
        let q = ident(Profile::Pg18, "m alice \"all\"\n");
        assert_eq!(map_identity(&q, "m", "alice", "bob", false), Ok(false));
        assert_eq!(map_identity(&q, "m", "alice", "all", false), Ok(true));
    }

    #[test]
    fn usermap_log_lines() {
        let id = ident(Profile::Pg15, "m a b\n");
        assert_eq!(
            check_usermap(&id, Some("m"), "b", "a", false, &[]),
            UsermapResult {
                authorized: true,
                log: None
            }
        );
        assert_eq!(
            check_usermap(&id, Some("m"), "c", "a", false, &[]).log,
            Some((
                LogLevel::Log,
                "no match in usermap \"m\" for user \"c\" authenticated as \"a\"".into()
            ))
        );
        assert_eq!(
            check_usermap(&id, None, "c", "a", false, &[]).log,
            Some((
                LogLevel::Log,
                "provided user name (c) and authenticated user name (a) do not match".into()
            ))
        );
        assert!(check_usermap(&id, Some(""), "a", "a", false, &[]).authorized);
        let seed = ident(Profile::Seed, "m a b\n");
        assert_eq!(
            check_usermap(&seed, None, "c", "a", false, &[]).log,
            Some((
                LogLevel::Log,
                "provided username (c) and authenticated username (a) don't match".into()
            ))
        );
    }
}

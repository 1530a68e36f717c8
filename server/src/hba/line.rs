//! pg_hba.conf rows from tokenized lines (`parse_hba_line`): fields, addresses, methods
//! and their options, with PostgreSQL's messages; [`parse_hba_str`] / [`load_hba_file`].

use super::address::{EAI_NONAME_TEXT, cidr_mask, parse_numeric_host};
use super::diagnostic::{Diagnostic, HbaError, LogLevel};
use super::dialect::{HbaDialect, OptionKind, dialect};
use super::load::{HbaLoad, RuleLoad, load_file};
use super::options::ParseOptions;
use super::row::{AuthToken, HbaAddress, HbaRow};
use super::token::{TokenizedLine, lossy, tokenize_str};
use super::vocabulary::{AuthMethod, ClientCertMode, ClientCertName, ConnType};

/// C `atoi`.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in rest.bytes().take_while(|b| b.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg { -n } else { n }
}

/// `SplitGUCList(val, ',')`: `None` on syntax error.
fn split_guc_list(s: &str) -> Option<Vec<String>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    while i < b.len() && ws(b[i]) {
        i += 1;
    }
    if i == b.len() {
        return Some(out);
    }
    loop {
        let mut item = Vec::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            loop {
                if i >= b.len() {
                    return None; // unterminated quote
                }
                if b[i] == b'"' {
                    if b.get(i + 1) == Some(&b'"') {
                        item.push(b'"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                item.push(b[i]);
                i += 1;
            }
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' && !ws(b[i]) {
                i += 1;
            }
            if i == start {
                return None; // empty unquoted name
            }
            item.extend_from_slice(&b[start..i]);
        }
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        out.push(lossy(&item));
        if i >= b.len() {
            return Some(out);
        }
        if b[i] != b',' {
            return None;
        }
        i += 1;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
    }
}

// ---------------------------------------------------------------------------
// pg_hba.conf parsing
// ---------------------------------------------------------------------------

struct LineParser<'x> {
    d: &'static HbaDialect,
    opts: &'x ParseOptions<'x>,
    tl: &'x TokenizedLine,
    diags: &'x mut Vec<Diagnostic>,
}

impl LineParser<'_> {
    fn ctx(&self) -> Option<(String, usize)> {
        Some((self.tl.file.to_string(), self.tl.line))
    }

    fn fail(&mut self, error: HbaError, hint: Option<&'static str>) -> Option<HbaRow> {
        let context = self.ctx();
        self.diags.push(Diagnostic {
            level: LogLevel::Log,
            is_error: true,
            error,
            hint,
            context,
        });
        None
    }

    fn warn(&mut self, error: HbaError, hint: Option<&'static str>) {
        let context = self.ctx();
        self.diags.push(Diagnostic {
            level: LogLevel::Log,
            is_error: false,
            error,
            hint,
            context,
        });
    }

    fn compile_tokens(&mut self, mut tokens: Vec<AuthToken>) -> Result<Vec<AuthToken>, HbaError> {
        if self.d.regex_db_user {
            for t in &mut tokens {
                t.compile(self.opts.patterns)?;
            }
        }
        Ok(tokens)
    }

    /// Parses the line; `fields` and `raw` are the line's (moved out of `self.tl`, so that
    /// what the row keeps is not copied).
    fn parse(&mut self, fields: Vec<Vec<AuthToken>>, raw: String) -> Option<HbaRow> {
        let tl = self.tl;
        let mut fields = fields.into_iter();

        // connection type
        let Some(f) = fields.next() else {
            return self.fail(HbaError::InvalidConnectionType(String::new()), None);
        };
        if f.len() > 1 {
            return self.fail(
                HbaError::MultipleConnectionTypes,
                Some("Specify exactly one connection type per line."),
            );
        }
        let ct_text = f.first().map(|t| t.text.as_str()).unwrap_or("");
        let conn_type = match ConnType::from_keyword(ct_text) {
            Some(ct) if self.d.conn_types.contains(&ct) => ct,
            _ => return self.fail(HbaError::InvalidConnectionType(ct_text.to_string()), None),
        };
        if conn_type == ConnType::HostSsl && !self.opts.ssl_enabled {
            let rule = self.d.ssl_off;
            if rule.fatal {
                return self.fail(HbaError::HostsslSslOff(rule.message), Some(rule.hint));
            }
            self.warn(HbaError::HostsslSslOff(rule.message), Some(rule.hint));
        }
        if conn_type == ConnType::HostGssEnc && !self.opts.build.gssapi {
            self.warn(HbaError::HostgssencNotSupported, None);
        }

        // databases and roles
        let Some(f) = fields.next() else {
            return self.fail(HbaError::EolBeforeDatabase, None);
        };
        let databases = match self.compile_tokens(f) {
            Ok(t) => t,
            Err(e) => return self.fail(e, None),
        };
        let Some(f) = fields.next() else {
            return self.fail(HbaError::EolBeforeRole, None);
        };
        let users = match self.compile_tokens(f) {
            Ok(t) => t,
            Err(e) => return self.fail(e, None),
        };

        // address
        let mut address = None;
        if conn_type != ConnType::Local {
            let Some(f) = fields.next() else {
                return self.fail(HbaError::EolBeforeAddress, None);
            };
            if f.len() > 1 {
                return self.fail(
                    HbaError::MultipleHostAddresses,
                    Some("Specify one address range per line."),
                );
            }
            let Some(tok) = f.first() else {
                return self.fail(HbaError::EolBeforeAddress, None);
            };
            if self.d.address_keywords && tok.is_keyword("all") {
                address = Some(HbaAddress::All);
            } else if self.d.address_keywords && tok.is_keyword("samehost") {
                address = Some(HbaAddress::SameHost);
            } else if self.d.address_keywords && tok.is_keyword("samenet") {
                address = Some(HbaAddress::SameNet);
            } else {
                let (host, cidr) = match tok.text.find('/') {
                    Some(i) => (&tok.text[..i], Some(&tok.text[i + 1..])),
                    None => (tok.text.as_str(), None),
                };
                let addr = parse_numeric_host(host);
                if addr.is_none() && !self.d.hostnames {
                    return self.fail(
                        HbaError::InvalidIpAddress {
                            addr: host.to_string(),
                            reason: EAI_NONAME_TEXT.to_string(),
                        },
                        None,
                    );
                }
                match (addr, cidr) {
                    (None, Some(_)) => {
                        return self.fail(HbaError::HostnameWithCidr(tok.text.clone()), None);
                    }
                    (None, None) => address = Some(HbaAddress::Hostname(host.to_string())),
                    (Some(a), Some(bits)) => match cidr_mask(bits, a.is_ipv6()) {
                        Some(mask) => address = Some(HbaAddress::Cidr { addr: a, mask }),
                        None => {
                            return self.fail(HbaError::InvalidCidrMask(tok.text.clone()), None);
                        }
                    },
                    (Some(a), None) => {
                        let Some(f) = fields.next() else {
                            return self.fail(HbaError::EolBeforeNetmask, self.d.netmask_eol_hint);
                        };
                        if f.len() > 1 {
                            return self.fail(HbaError::MultipleNetmasks, None);
                        }
                        let mtext = f.first().map(|t| t.text.clone()).unwrap_or_default();
                        let Some(mask) = parse_numeric_host(&mtext) else {
                            return self.fail(
                                HbaError::InvalidIpMask {
                                    mask: mtext,
                                    reason: EAI_NONAME_TEXT.to_string(),
                                },
                                None,
                            );
                        };
                        if mask.is_ipv6() != a.is_ipv6() {
                            if self.d.mask_mismatch_with_location {
                                let e = HbaError::AddressMaskMismatchAt {
                                    file: tl.file.to_string(),
                                    line: tl.line,
                                };
                                self.diags.push(Diagnostic {
                                    level: LogLevel::Log,
                                    is_error: true,
                                    error: e,
                                    hint: None,
                                    context: None,
                                });
                                return None;
                            }
                            return self.fail(HbaError::AddressMaskMismatch, None);
                        }
                        address = Some(HbaAddress::Cidr { addr: a, mask });
                    }
                }
            }
        }

        // method
        let Some(f) = fields.next() else {
            return self.fail(HbaError::EolBeforeMethod, None);
        };
        if f.len() > 1 {
            return self.fail(
                HbaError::MultipleAuthTypes,
                Some("Specify exactly one authentication type per line."),
            );
        }
        let mtext = f.first().map(|t| t.text.as_str()).unwrap_or("");
        let mut method = match AuthMethod::from_name(mtext) {
            Some(m) if self.d.methods.contains(&m) => m,
            _ => return self.fail(HbaError::InvalidAuthMethod(mtext.to_string()), None),
        };
        if !self.opts.build.supports(method) {
            return self.fail(
                HbaError::UnsupportedAuthMethod {
                    method: mtext.to_string(),
                    suffix: self.d.unsupported_method_suffix,
                },
                None,
            );
        }
        if self.d.local_ident_becomes_peer
            && conn_type == ConnType::Local
            && method == AuthMethod::Ident
        {
            method = AuthMethod::Peer;
        }
        if conn_type == ConnType::Local && method == AuthMethod::Krb5 {
            return self.fail(HbaError::Krb5OnLocal, None);
        }
        if conn_type == ConnType::Local && method == AuthMethod::Gss {
            return self.fail(HbaError::GssOnLocal, None);
        }
        if conn_type != ConnType::Local && method == AuthMethod::Peer {
            return self.fail(HbaError::PeerNotLocal, None);
        }
        if conn_type != ConnType::HostSsl && method == AuthMethod::Cert {
            return self.fail(HbaError::CertNotHostssl, None);
        }

        let mut row = HbaRow {
            file: tl.file.to_string(),
            line: tl.line,
            raw_line: raw,
            conn_type,
            databases,
            users,
            address,
            method,
            options: Vec::new(),
            clientcert: ClientCertMode::Off,
            clientname: ClientCertName::Cn,
            map: None,
        };

        // options
        for f in fields {
            for tok in f {
                let Some((name, val)) = tok.text.split_once('=') else {
                    return self.fail(HbaError::OptionNotNameValue(tok.text.clone()), None);
                };
                if let Err((e, warn_only)) = self.parse_option(&mut row, name, val) {
                    if warn_only {
                        self.warn(e, None);
                    } else {
                        return self.fail(e, None);
                    }
                }
                let value = val.to_string();
                // The token's own text becomes the name.
                let mut name = tok.text;
                name.truncate(name.len() - value.len() - 1);
                row.options.push((name, value));
            }
        }

        if let Err(e) = self.check_mandatory(&row) {
            return self.fail(e, None);
        }
        if row.method == AuthMethod::Cert {
            row.clientcert = ClientCertMode::VerifyFull;
        }
        Some(row)
    }

    /// `parse_hba_auth_opt`. `Err((e, true))` is a LOG that does not fail the line.
    fn parse_option(
        &mut self,
        row: &mut HbaRow,
        name: &str,
        val: &str,
    ) -> Result<(), (HbaError, bool)> {
        let fail = |e| Err((e, false));
        let Some(spec) = self.d.options.iter().find(|o| o.name == name) else {
            return fail(HbaError::UnrecognizedOption {
                prefix: self.d.unknown_option_prefix,
                name: name.to_string(),
            });
        };
        match spec.kind {
            OptionKind::ClientCert => {
                if row.conn_type != ConnType::HostSsl {
                    return fail(HbaError::ClientCertNotHostssl);
                }
                let Some(v) = self.d.clientcert_values.iter().find(|v| v.value == val) else {
                    return fail(HbaError::InvalidClientCert(val.to_string()));
                };
                if row.method == AuthMethod::Cert && !v.allowed_with_cert {
                    return fail(HbaError::ClientCertWithCert(
                        self.d.clientcert_cert_conflict,
                    ));
                }
                row.clientcert = v.mode;
            }
            OptionKind::ClientName => {
                if row.conn_type != ConnType::HostSsl {
                    return fail(HbaError::ClientNameNotHostssl);
                }
                row.clientname = match val {
                    "CN" => ClientCertName::Cn,
                    "DN" => ClientCertName::Dn,
                    _ => return fail(HbaError::InvalidClientName(val.to_string())),
                };
            }
            OptionKind::Method => {
                if !spec.methods.contains(&row.method) {
                    return fail(HbaError::OptionInvalidForMethod {
                        name: name.to_string(),
                        methods: spec.methods_text,
                    });
                }
                match name {
                    "map" => row.map = Some(val.to_string()),
                    "ldapport" if atoi(val) == 0 => {
                        return fail(HbaError::InvalidLdapPort(val.to_string()));
                    }
                    "ldapscheme" if val != "ldap" && val != "ldaps" => {
                        return Err((HbaError::InvalidLdapScheme(val.to_string()), true));
                    }
                    "radiusservers" if split_guc_list(val).is_none() => {
                        return fail(HbaError::RadiusServerList(val.to_string()));
                    }
                    "radiusports" => match split_guc_list(val) {
                        None => return fail(HbaError::RadiusPortList(val.to_string())),
                        Some(ports) if ports.iter().any(|p| atoi(p) == 0) => {
                            return fail(HbaError::InvalidRadiusPort(val.to_string()));
                        }
                        Some(_) => {}
                    },
                    "radiussecrets" if split_guc_list(val).is_none() => {
                        return fail(HbaError::RadiusSecretList(val.to_string()));
                    }
                    "radiusidentifiers" if split_guc_list(val).is_none() => {
                        return fail(HbaError::RadiusIdentifierList(val.to_string()));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Checks done after all options (mandatory arguments, conflicts).
    fn check_mandatory(&self, row: &HbaRow) -> Result<(), HbaError> {
        let has = |n: &str| row.option(n).is_some();
        let list_len = |n: &str| {
            row.option(n)
                .and_then(split_guc_list)
                .map(|l| l.len())
                .unwrap_or(0)
        };
        match row.method {
            AuthMethod::Ldap => {
                if self.d.ldap_server_mandatory {
                    if !has("ldapserver") {
                        return Err(HbaError::MissingArgument {
                            method: "ldap",
                            arg: "ldapserver",
                        });
                    }
                    return Ok(());
                }
                let basedn =
                    has("ldapbasedn") || row.option("ldapurl").is_some_and(ldap_url_has_dn);
                if has("ldapprefix") || has("ldapsuffix") {
                    if basedn
                        || has("ldapbinddn")
                        || has("ldapbindpasswd")
                        || has("ldapsearchattribute")
                        || has("ldapsearchfilter")
                    {
                        return Err(HbaError::LdapMixedModes(self.d.ldap_mix_message));
                    }
                } else if !basedn {
                    return Err(HbaError::LdapBaseRequired);
                }
                if has("ldapsearchattribute") && has("ldapsearchfilter") {
                    return Err(HbaError::LdapAttributeAndFilter);
                }
            }
            AuthMethod::Radius => {
                let servers = list_len("radiusservers");
                if servers == 0 {
                    return Err(HbaError::MissingArgument {
                        method: "radius",
                        arg: "radiusservers",
                    });
                }
                let secrets = list_len("radiussecrets");
                if secrets == 0 {
                    return Err(HbaError::MissingArgument {
                        method: "radius",
                        arg: "radiussecrets",
                    });
                }
                if !(secrets == 1 || secrets == servers) {
                    return Err(HbaError::RadiusCount {
                        what: "secrets",
                        count: secrets,
                        servers,
                    });
                }
                for (what, opt) in [
                    ("ports", "radiusports"),
                    ("identifiers", "radiusidentifiers"),
                ] {
                    let n = list_len(opt);
                    if !(n == 0 || n == 1 || n == servers) {
                        return Err(HbaError::RadiusCount {
                            what,
                            count: n,
                            servers,
                        });
                    }
                }
            }
            AuthMethod::OAuth => {
                if !has("scope") {
                    return Err(HbaError::MissingArgument {
                        method: "oauth",
                        arg: "scope",
                    });
                }
                if !has("issuer") {
                    return Err(HbaError::MissingArgument {
                        method: "oauth",
                        arg: "issuer",
                    });
                }
                if row.option("delegate_ident_mapping") == Some("1") && row.map.is_some() {
                    return Err(HbaError::OAuthMapWithDelegation);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether an `ldap[s]://host[:port]/dn?...` URL carries a base DN.
fn ldap_url_has_dn(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    match rest.split_once('/') {
        Some((_, path)) => !path.split('?').next().unwrap_or("").is_empty(),
        None => false,
    }
}

/// Parse pg_hba.conf text. `path` names the file in messages and rows and is
/// the base for relative `@file`/include paths, which go through
/// `opts.resolver` (never the filesystem unless it is [`FsResolver`]).
pub fn parse_hba_str(text: &str, path: &str, opts: &ParseOptions<'_>) -> HbaLoad {
    let d = dialect(opts.profile);
    let (lines, mut diagnostics) = tokenize_str(text, path, opts);
    let mut rows = Vec::new();
    let mut ok = true;
    for mut tl in lines {
        if tl.error {
            ok = false;
            continue;
        }
        let fields = std::mem::take(&mut tl.fields);
        let raw = std::mem::take(&mut tl.raw);
        let tl = &tl;
        let mut lp = LineParser {
            d,
            opts,
            tl,
            diags: &mut diagnostics,
        };
        match lp.parse(fields, raw) {
            Some(r) => rows.push(r),
            None => ok = false,
        }
    }
    if ok && rows.is_empty() && d.empty_file_is_error {
        diagnostics.push(Diagnostic {
            level: LogLevel::Log,
            is_error: true,
            error: HbaError::NoEntries(path.to_string()),
            hint: None,
            context: None,
        });
    }
    RuleLoad::new(opts.profile, path, rows, diagnostics)
}

/// Read pg_hba.conf from disk (the top file via `std::fs`; includes through
/// `opts.resolver`, pass `&FsResolver` for real ones).
pub fn load_hba_file(path: &str, opts: &ParseOptions<'_>) -> HbaLoad {
    let prefix = dialect(opts.profile).hba_open_error_prefix;
    load_file(path, opts, prefix, parse_hba_str)
}

#[cfg(test)]
mod tests;

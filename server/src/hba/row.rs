//! The parsed rules: tokens ([`AuthToken`]), pg_hba.conf rows ([`HbaRow`], with their
//! [`HbaAddress`]) and pg_ident.conf rows ([`IdentRow`]).

use std::net::IpAddr;
use std::sync::Arc;

use regex::Regex;

use super::diagnostic::HbaError;
use super::pattern::PatternCompiler;
use super::vocabulary::{AuthMethod, ClientCertMode, ClientCertName, ConnType};

/// One token of a field: its dequoted text, whether it began with a quote
/// (quoted tokens are never keywords), and its compiled regex for `/...`
/// tokens where the profile supports them.
#[derive(Debug, Clone)]
pub struct AuthToken {
    pub text: String,
    pub quoted: bool,
    /// Shared, so that copies of a row use one compiled program and its search caches.
    regex: Option<Arc<Regex>>,
}

impl PartialEq for AuthToken {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
            && self.quoted == other.quoted
            && self.regex.is_some() == other.regex.is_some()
    }
}
impl Eq for AuthToken {}

impl AuthToken {
    pub fn new(text: impl Into<String>, quoted: bool) -> AuthToken {
        AuthToken {
            text: text.into(),
            quoted,
            regex: None,
        }
    }

    /// `!quoted && text == k`
    pub fn is_keyword(&self, k: &str) -> bool {
        !self.quoted && self.text == k
    }

    /// Unquoted `+role`.
    pub fn is_member_check(&self) -> bool {
        !self.quoted && self.text.starts_with('+')
    }

    pub fn regex(&self) -> Option<&Regex> {
        self.regex.as_deref()
    }

    /// Compile `/pattern` tokens (any other token is left alone) with `patterns`.
    pub(super) fn compile(&mut self, patterns: &dyn PatternCompiler) -> Result<(), HbaError> {
        if let Some(pat) = self.text.strip_prefix('/') {
            match patterns.compile(pat) {
                Ok(re) => self.regex = Some(re),
                Err(reason) => {
                    return Err(HbaError::InvalidRegex {
                        pattern: pat.to_string(),
                        reason,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Address field of a non-local row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HbaAddress {
    All,
    SameHost,
    SameNet,
    /// Address and mask (the mask need not be contiguous; PostgreSQL does not check).
    Cidr {
        addr: IpAddr,
        mask: IpAddr,
    },
    /// Host name or `.suffix`; matching needs DNS and is left to the caller.
    Hostname(String),
}

/// One parsed pg_hba.conf row.
#[derive(Debug, Clone)]
pub struct HbaRow {
    pub file: String,
    pub line: usize,
    pub raw_line: String,
    pub conn_type: ConnType,
    pub databases: Vec<AuthToken>,
    pub users: Vec<AuthToken>,
    /// `None` for `local` rows.
    pub address: Option<HbaAddress>,
    pub method: AuthMethod,
    /// Every `name=value` option in order (repeats kept; the last one wins).
    pub options: Vec<(String, String)>,
    pub clientcert: ClientCertMode,
    pub clientname: ClientCertName,
    pub map: Option<String>,
}

impl HbaRow {
    /// Last value given for an option.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `file:line`, as in `connection authenticated: ... (/path/pg_hba.conf:6)`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// Equal ignoring where the row came from.
    pub fn same_rule(&self, other: &HbaRow) -> bool {
        self.conn_type == other.conn_type
            && self.databases == other.databases
            && self.users == other.users
            && self.address == other.address
            && self.method == other.method
            && self.options == other.options
            && self.clientcert == other.clientcert
            && self.clientname == other.clientname
            && self.map == other.map
    }
}

/// One parsed pg_ident.conf row.
#[derive(Debug, Clone)]
pub struct IdentRow {
    pub file: String,
    pub line: usize,
    pub map: String,
    /// `/regex` (compiled) or a literal system user name.
    pub system_user: AuthToken,
    /// PG user; in 16+ may be `all`, `+group` or `/regex` as well.
    pub pg_user: AuthToken,
}

impl IdentRow {
    pub fn same_rule(&self, other: &IdentRow) -> bool {
        self.map == other.map
            && self.system_user == other.system_user
            && self.pg_user == other.pg_user
    }
}

//! The one SELECT shape the responder understands: a list of expressions over constants,
//! the connection-inspecting functions (`version()`, `pg_backend_pid()`, contrib sslinfo's
//! `ssl_*()`), and the columns of `pg_stat_ssl` or `ssl_extension_info()`, combined with
//! `||`, `=` and `IS [NOT] NULL`, with an optional `WHERE`. It covers the queries of
//! PostgreSQL's `003_sslinfo.pl` and `001_ssltests.pl`; anything outside it is refused.

use crate::identity;
use crate::sslinfo;
use crate::wire::backend::FieldDescription;
use crate::wire::{BackendMessage, ErrorFields, Severity};

use super::SessionView;
use super::limits::{self, MAX_EXPR_DEPTH, MAX_TARGET_LIST};

/// `NUMERICOID`.
const NUMERIC_OID: u32 = 1700;
/// `NAMEDATALEN - 1`: pg_stat_ssl's DN columns are copied into a name-sized buffer.
const NAME_MAX: usize = 63;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    LParen,
    RParen,
    Comma,
    Eq,
    Concat,
    Star,
}

/// Splits a normalised query into tokens; `None` for anything unexpected.
fn tokens(q: &str) -> Option<Vec<Tok>> {
    let b: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            ' ' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '=' => {
                out.push(Tok::Eq);
                i += 1
            }
            '*' => {
                out.push(Tok::Star);
                i += 1
            }
            '|' if b.get(i + 1) == Some(&'|') => {
                out.push(Tok::Concat);
                i += 2
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return None,
                        Some('\'') if b.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '"' => {
                let end = b[i + 1..].iter().position(|&ch| ch == '"')? + i + 1;
                out.push(Tok::Ident(b[i + 1..end].iter().collect()));
                i = end + 1;
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                out.push(Tok::Num(b[start..i].iter().collect()));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(b[start..i].iter().collect()));
            }
            _ => return None,
        }
    }
    Some(out)
}

#[derive(Clone, Debug)]
enum Expr {
    Str(String),
    Num(String),
    Col(String),
    Call(String, Vec<Expr>),
    Concat(Box<Expr>, Box<Expr>),
    Eq(Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
}

impl Expr {
    fn default_name(&self) -> String {
        match self {
            Self::Col(c) => c.clone(),
            Self::Call(f, _) => f.clone(),
            _ => "?column?".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    None,
    PgStatSsl,
    ExtensionInfo,
}

struct Select {
    /// `None` for `*`.
    items: Option<Vec<(Expr, String)>>,
    from: Source,
    filter: Option<Expr>,
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    /// Set when the query is of the supported shape but breaks a limit: its answer.
    failure: Option<Failure>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == k) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Tok) -> Option<()> {
        (self.next()? == *t).then_some(())
    }

    fn select(&mut self) -> Option<Select> {
        if !self.keyword("select") {
            return None;
        }
        let items = if self.peek() == Some(&Tok::Star) {
            self.at += 1;
            None
        } else {
            let mut items = Vec::new();
            loop {
                let e = self.expr()?;
                let name = if self.keyword("as") {
                    match self.next()? {
                        Tok::Ident(n) => n,
                        _ => return None,
                    }
                } else {
                    e.default_name()
                };
                items.push((e, name));
                if self.peek() == Some(&Tok::Comma) {
                    self.at += 1;
                } else {
                    break;
                }
            }
            Some(items)
        };
        let from = if self.keyword("from") {
            match self.next()? {
                Tok::Ident(t) if t == "pg_stat_ssl" => Source::PgStatSsl,
                Tok::Ident(t) if t == "ssl_extension_info" => {
                    self.expect(&Tok::LParen)?;
                    self.expect(&Tok::RParen)?;
                    Source::ExtensionInfo
                }
                _ => return None,
            }
        } else {
            Source::None
        };
        let filter = if from != Source::None && self.keyword("where") {
            Some(self.expr()?)
        } else {
            None
        };
        (self.at == self.toks.len()).then_some(Select {
            items,
            from,
            filter,
        })
    }

    /// An expression: `concat [= concat] [IS [NOT] NULL]`, where `concat` is
    /// `term (|| term)*` and a term is a constant, a column, `( expr )` or a call. Parsed
    /// with an explicit stack of the open parentheses and calls, so no nesting a client sends
    /// recurses; a tree deeper than [`MAX_EXPR_DEPTH`] is refused (see [`Self::node`]).
    fn expr(&mut self) -> Option<Expr> {
        let mut open = vec![Level::new(Opened::Top)];
        'term: loop {
            let mut node = match self.next()? {
                Tok::Str(s) => (Expr::Str(s), 1),
                Tok::Num(n) => (Expr::Num(n), 1),
                Tok::LParen => {
                    open.push(Level::new(Opened::Paren));
                    continue 'term;
                }
                Tok::Ident(name) if self.peek() == Some(&Tok::LParen) => {
                    self.at += 1;
                    if self.peek() == Some(&Tok::RParen) {
                        self.at += 1;
                        (Expr::Call(name, Vec::new()), 1)
                    } else {
                        open.push(Level::new(Opened::Call(name, Vec::new(), 0)));
                        continue 'term;
                    }
                }
                Tok::Ident(name) => (Expr::Col(name), 1),
                _ => return None,
            };
            // A term is complete: fold it into the innermost open expression, and close
            // every expression that ends here.
            loop {
                let level = open.last_mut()?;
                let joined = match level.concat.take() {
                    None => node,
                    Some(left) => self.binary(left, node, Expr::Concat)?,
                };
                if self.peek() == Some(&Tok::Concat) {
                    self.at += 1;
                    level.concat = Some(joined);
                    continue 'term;
                }
                let compared = match level.eq_left.take() {
                    Some(left) => self.binary(left, joined, Expr::Eq)?,
                    None if self.peek() == Some(&Tok::Eq) => {
                        self.at += 1;
                        level.eq_left = Some(joined);
                        continue 'term;
                    }
                    None => joined,
                };
                let done = if self.keyword("is") {
                    let not = self.keyword("not");
                    if !self.keyword("null") {
                        return None;
                    }
                    let (e, depth) = compared;
                    self.node(Expr::IsNull(Box::new(e), !not), depth + 1)?
                } else {
                    compared
                };
                node = match open.pop()?.opened {
                    Opened::Top => return Some(done.0),
                    Opened::Paren => {
                        self.expect(&Tok::RParen)?;
                        done
                    }
                    Opened::Call(name, mut args, depth) => {
                        let depth = depth.max(done.1);
                        args.push(done.0);
                        match self.next()? {
                            Tok::Comma => {
                                open.push(Level::new(Opened::Call(name, args, depth)));
                                continue 'term;
                            }
                            Tok::RParen => self.node(Expr::Call(name, args), depth + 1)?,
                            _ => return None,
                        }
                    }
                };
            }
        }
    }

    fn binary(
        &mut self,
        left: Node,
        right: Node,
        op: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Option<Node> {
        let depth = left.1.max(right.1) + 1;
        self.node(op(Box::new(left.0), Box::new(right.0)), depth)
    }

    /// `e`, of tree depth `depth`; or, past [`MAX_EXPR_DEPTH`], nothing, with PostgreSQL's
    /// `stack depth limit exceeded` as the query's answer.
    fn node(&mut self, e: Expr, depth: usize) -> Option<Node> {
        if depth > MAX_EXPR_DEPTH {
            self.failure = Some(limits::stack_depth_exceeded());
            return None;
        }
        Some((e, depth))
    }
}

/// An expression and the depth of its tree (a constant is 1).
type Node = (Expr, usize);

/// What an open expression is inside.
enum Opened {
    /// The expression being parsed.
    Top,
    /// `(`.
    Paren,
    /// `name(`, with the arguments so far and the depth of the deepest.
    Call(String, Vec<Expr>, usize),
}

/// An expression still open: the left side of its `=` and the `||` chain so far.
struct Level {
    opened: Opened,
    eq_left: Option<Node>,
    concat: Option<Node>,
}

impl Level {
    fn new(opened: Opened) -> Self {
        Self {
            opened,
            eq_left: None,
            concat: None,
        }
    }
}

/// A value and its type.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Val {
    oid: u32,
    text: Option<String>,
}

impl Val {
    fn text(v: Option<String>) -> Self {
        Self {
            oid: FieldDescription::TEXT_OID,
            text: v,
        }
    }

    fn boolean(b: Option<bool>) -> Self {
        Self {
            oid: FieldDescription::BOOL_OID,
            text: b.map(|b| if b { "t" } else { "f" }.to_owned()),
        }
    }
}

/// Why a query fails: the ErrorResponse to send.
type Failure = ErrorFields;

fn error(code: &str, message: String) -> Failure {
    ErrorFields::new(Severity::Error, code, message)
}

/// One row of the source: column names and values.
type Row = Vec<(&'static str, Val)>;

fn pg_stat_ssl_row(view: &SessionView<'_>) -> Row {
    let tls = view.tls;
    let cert = view.cert;
    let dn = |name: &openssl::x509::X509NameRef| {
        identity::name_to_cstring(name)
            .ok()
            .map(|s| truncate(s, NAME_MAX))
    };
    vec![
        (
            "pid",
            Val {
                oid: FieldDescription::INT4_OID,
                text: Some(view.pid.to_string()),
            },
        ),
        ("ssl", Val::boolean(Some(tls.is_some()))),
        ("version", Val::text(tls.map(|t| t.version.clone()))),
        ("cipher", Val::text(tls.map(|t| t.cipher.clone()))),
        (
            "bits",
            Val {
                oid: FieldDescription::INT4_OID,
                text: tls.map(|t| t.bits.to_string()),
            },
        ),
        (
            "client_dn",
            Val::text(cert.and_then(|c| dn(c.subject_name()))),
        ),
        (
            "client_serial",
            Val {
                oid: NUMERIC_OID,
                text: cert.and_then(|c| identity::serial_decimal(c).ok()),
            },
        ),
        (
            "issuer_dn",
            Val::text(cert.and_then(|c| dn(c.issuer_name()))),
        ),
    ]
}

/// `strlcpy` into a name-sized buffer, kept on a character boundary.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn extension_rows(view: &SessionView<'_>) -> Result<Vec<Row>, Failure> {
    let Some(cert) = view.cert else {
        return Ok(Vec::new());
    };
    let exts = sslinfo::extensions(cert).map_err(|e| error("XX000", e.to_string()))?;
    Ok(exts
        .into_iter()
        .map(|e| {
            vec![
                ("name", Val::text(Some(e.name))),
                ("value", Val::text(Some(e.value))),
                ("critical", Val::boolean(Some(e.critical))),
            ]
        })
        .collect())
}

fn unsupported_function(name: &str) -> Failure {
    error(
        "0A000",
        format!("pgssl does not support the function {name}()"),
    )
}

fn eval(e: &Expr, row: &Row, view: &SessionView<'_>) -> Result<Val, Failure> {
    Ok(match e {
        Expr::Str(s) => Val::text(Some(s.clone())),
        Expr::Num(n) => Val {
            oid: FieldDescription::INT4_OID,
            text: Some(n.clone()),
        },
        Expr::Col(c) => row
            .iter()
            .find(|(n, _)| n == c)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| error("42703", format!("column \"{c}\" does not exist")))?,
        Expr::Concat(..) => {
            // The whole `||` chain at once, left to right, into one string: however the
            // chain nests, each piece is copied once (joining pairwise would copy a
            // right-nested chain's tail at every level).
            let mut text = Some(String::new());
            let mut pending = vec![e];
            while let Some(e) = pending.pop() {
                if let Expr::Concat(a, b) = e {
                    pending.push(b);
                    pending.push(a);
                    continue;
                }
                let piece = eval(e, row, view)?.text;
                text = text.zip(piece).map(|(mut t, p)| {
                    t.push_str(&p);
                    t
                });
            }
            Val::text(text)
        }
        Expr::Eq(a, b) => {
            let (a, b) = (eval(a, row, view)?, eval(b, row, view)?);
            Val::boolean(a.text.zip(b.text).map(|(a, b)| a == b))
        }
        Expr::IsNull(a, want_null) => {
            let a = eval(a, row, view)?;
            Val::boolean(Some(a.text.is_none() == *want_null))
        }
        Expr::Call(f, args) => call(f, args, row, view)?,
    })
}

fn call(f: &str, args: &[Expr], row: &Row, view: &SessionView<'_>) -> Result<Val, Failure> {
    let tls = view.tls;
    let cert = view.cert;
    let arg = |i: usize| -> Result<Option<String>, Failure> {
        match args.get(i) {
            Some(a) => Ok(eval(a, row, view)?.text),
            None => Err(error("42883", format!("function {f}() does not exist"))),
        }
    };
    if !matches!(f, "ssl_client_dn_field" | "ssl_issuer_field") && !args.is_empty() {
        return Err(unsupported_function(f));
    }
    Ok(match f {
        "version" => Val::text(Some(super::version_string(view))),
        "pg_backend_pid" => Val {
            oid: FieldDescription::INT4_OID,
            text: Some(view.pid.to_string()),
        },
        "ssl_is_used" => Val::boolean(Some(tls.is_some())),
        "ssl_version" => Val::text(tls.map(|t| t.version.clone())),
        "ssl_cipher" => Val::text(tls.map(|t| t.cipher.clone())),
        "ssl_client_cert_present" => Val::boolean(Some(cert.is_some())),
        "ssl_client_serial" => Val {
            oid: NUMERIC_OID,
            text: cert.and_then(|c| identity::serial_decimal(c).ok()),
        },
        "ssl_client_dn" => {
            Val::text(cert.and_then(|c| identity::name_to_cstring(c.subject_name()).ok()))
        }
        "ssl_issuer_dn" => {
            Val::text(cert.and_then(|c| identity::name_to_cstring(c.issuer_name()).ok()))
        }
        "ssl_client_dn_field" | "ssl_issuer_field" => {
            let field = arg(0)?;
            let (Some(cert), Some(field)) = (cert, field) else {
                return Ok(Val::text(None));
            };
            let name = if f == "ssl_client_dn_field" {
                cert.subject_name()
            } else {
                cert.issuer_name()
            };
            match sslinfo::name_field(name, &field) {
                Ok(v) => Val::text(v),
                Err(e @ sslinfo::SslInfoError::InvalidFieldName(_)) => {
                    return Err(error("22023", e.to_string()));
                }
                Err(e) => return Err(error("XX000", e.to_string())),
            }
        }
        _ => return Err(unsupported_function(f)),
    })
}

/// Answers a SELECT of the supported shape; `None` when the query is not one.
pub fn respond(q: &str, view: &SessionView<'_>) -> Option<Vec<BackendMessage>> {
    let toks = tokens(q)?;
    let mut parser = Parser {
        toks,
        at: 0,
        failure: None,
    };
    let Some(select) = parser.select() else {
        return parser
            .failure
            .map(|e| vec![BackendMessage::ErrorResponse(e)]);
    };
    // Without a FROM, a name that is not a function is outside what pgssl knows: refuse it
    // as unsupported rather than pretend to know the catalogue.
    if select.from == Source::None
        && select
            .items
            .iter()
            .flatten()
            .any(|(e, _)| mentions_column(e))
    {
        return None;
    }
    // As PostgreSQL, once every entry is transformed (so a too-deep entry fails first).
    if select
        .items
        .as_ref()
        .is_some_and(|items| items.len() > MAX_TARGET_LIST)
    {
        return Some(vec![BackendMessage::ErrorResponse(
            limits::too_many_columns(),
        )]);
    }
    Some(match run(&select, view) {
        Ok(out) => out,
        Err(e) => vec![BackendMessage::ErrorResponse(e)],
    })
}

fn mentions_column(e: &Expr) -> bool {
    match e {
        Expr::Col(_) => true,
        Expr::Str(_) | Expr::Num(_) => false,
        Expr::Call(_, args) => args.iter().any(mentions_column),
        Expr::Concat(a, b) | Expr::Eq(a, b) => mentions_column(a) || mentions_column(b),
        Expr::IsNull(a, _) => mentions_column(a),
    }
}

fn run(select: &Select, view: &SessionView<'_>) -> Result<Vec<BackendMessage>, Failure> {
    let source: Vec<Row> = match select.from {
        Source::None => vec![Vec::new()],
        Source::PgStatSsl => vec![pg_stat_ssl_row(view)],
        Source::ExtensionInfo => extension_rows(view)?,
    };
    // The column list and types come from the source's shape even when it has no rows.
    let template: Row = match select.from {
        Source::None => Vec::new(),
        Source::PgStatSsl => pg_stat_ssl_row(view),
        Source::ExtensionInfo => vec![
            ("name", Val::text(None)),
            ("value", Val::text(None)),
            ("critical", Val::boolean(None)),
        ],
    };
    let items: Vec<(Expr, String)> = match &select.items {
        Some(items) => items.clone(),
        None if select.from == Source::None => {
            return Err(error(
                "42601",
                "SELECT * with no tables specified is not valid".into(),
            ));
        }
        None => template
            .iter()
            .map(|(n, _)| (Expr::Col((*n).to_owned()), (*n).to_owned()))
            .collect(),
    };
    let mut described = Vec::new();
    for (e, name) in &items {
        let v = eval(e, &template, view)?;
        described.push(FieldDescription::computed(name.clone(), v.oid));
    }
    let mut data = Vec::new();
    for row in &source {
        if let Some(filter) = &select.filter {
            if eval(filter, row, view)?.text.as_deref() != Some("t") {
                continue;
            }
        }
        let mut out = Vec::new();
        for (e, _) in &items {
            out.push(eval(e, row, view)?.text.map(String::into_bytes));
        }
        data.push(BackendMessage::DataRow(out));
    }
    let count = data.len();
    let mut out = vec![BackendMessage::RowDescription(described)];
    out.extend(data);
    out.push(BackendMessage::CommandComplete(format!("SELECT {count}")));
    Ok(out)
}

//! The rules model: what each version is expected to do, as data, one row per rule and
//! version. The scenario oracle (`explore::oracle`) reads it to predict traces, and
//! `tests/model.rs` checks it against the catalogue's hand-written expectations, so the two
//! cannot drift apart. It holds expectations only: the reference server implements the rules in
//! its own code (`pgssl_server::profile`) and never reads this, and this never reads the
//! server's types: [`TlsProtocol`] is the model's own, not `pgssl_server::config::TlsVersion`.

use crate::case::Version;

/// How the private key file's owner and mode are judged (A4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPermissions {
    /// 8.4: any group or world bit is refused, whoever owns the file.
    NoGroupOrWorld {
        /// The DETAIL line.
        detail: &'static str,
    },
    /// 9.6+: owned by the server user, at most 0600; owned by root, at most 0640; anyone else
    /// is refused.
    OwnerOrRoot {
        /// The DETAIL line for a mode that is too open.
        detail: &'static str,
    },
}

/// What a version does with bytes pipelined after an SSLRequest that it answers S (W4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipelinedAfterS {
    /// The handshake completes, then the buffered bytes are refused with 08P01 over TLS.
    RefusedAfterHandshake,
    /// The bytes are fed into the TLS handshake, which fails; the client sees the close.
    FedIntoTls,
}

/// One version's expectations, as the oracle needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionExpectations {
    /// Which version.
    pub version: Version,
    /// A4.
    pub key_permissions: KeyPermissions,
    /// The seed reads `root.crt` and `root.crl` from the data directory when present; 9.2+
    /// read only what `ssl_ca_file` / `ssl_crl_file` name (A6, A7, S8, S10).
    pub implicit_root_files: bool,
    /// `ssl_ca_file`, `ssl_crl_file`, `ssl_passphrase_command`, `ssl_min_protocol_version`
    /// and `ssl_max_protocol_version` exist (A5, A6, A7, A9).
    pub file_settings: bool,
    /// The lowest TLS version the server accepts by default (A9); the seed accepts whatever
    /// OpenSSL's defaults allow.
    pub default_min_tls: TlsProtocol,
    /// FATAL text when `ssl_ciphers` names no cipher (A10).
    pub bad_cipher_list: &'static str,
    /// FATAL text when pg_hba.conf has an error; `DATADIR` stands for the data directory (H3).
    pub hba_load_failed: &'static str,
    /// A hostssl row with `ssl = off` stops the server (8.4) rather than warning (H2).
    pub hostssl_needs_ssl: bool,
    /// The spelling of the clientcert option that demands a certificate without checking the
    /// user (H5): `1` in 8.4, `verify-ca` since 12.
    pub clientcert_verify_ca: &'static str,
    /// `clientcert=verify-full` exists (12+).
    pub clientcert_verify_full: bool,
    /// The `clientname` option (`CN` or `DN`) exists (14+, H4).
    pub clientname: bool,
    /// A `cert` row with `clientcert=verify-ca` is an error in the file (14+: `clientcert only
    /// accepts "verify-full" when using "cert" authentication`); 13 quietly makes it
    /// verify-full, and 8.4 had no verify-ca.
    pub cert_rows_refuse_verify_ca: bool,
    /// The server selects ALPN `postgresql` and refuses other protocols with
    /// `no_application_protocol` (17+, B-17); earlier versions ignore ALPN (W12).
    pub alpn: bool,
    /// A TLS ClientHello without an SSLRequest is served (direct SSL, 17+); earlier versions
    /// read it as a huge length word and close (W11).
    pub direct_ssl: bool,
    /// W4 after S.
    pub pipelined_after_s: PipelinedAfterS,
    /// How pg_hba.conf refusals name the encryption (H1): `(over TLS, in plaintext)`; 13 says
    /// `SSL on` / `SSL off`, 14 and later `SSL encryption` / `no encryption`.
    pub encryption_words: (&'static str, &'static str),
    /// Errors before the startup packet (W4's refusal) are in protocol 2's format, with no
    /// SQLSTATE or DETAIL (13; 14 speaks only protocol 3).
    pub pre_startup_errors_v2: bool,
    /// The key-exchange setting (A10): 15's `ssl_ecdh_curve` takes one curve, which must be
    /// an EC curve; 18's `ssl_groups` takes a colon list of any groups.
    pub groups: GroupsSetting,
}

/// The key-exchange groups setting (A10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupsSetting {
    /// `ssl_ecdh_curve`: one name, looked up with `OBJ_sn2nid`, then made an EC key.
    EcdhCurve,
    /// `ssl_groups`: a list for `SSL_CTX_set1_groups_list`.
    GroupsList,
}

/// TLS protocol versions the model distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsProtocol {
    /// TLS 1.0 (OpenSSL's lowest).
    Tls10,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsProtocol {
    /// OpenSSL's name, as settings and traces spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tls10 => "TLSv1",
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        }
    }
}

const OWNER_OR_ROOT_DETAIL: &str = "File must have permissions u=rw (0600) or less if owned by the database user, or permissions u=rw,g=r (0640) or less if owned by root.";

/// 13 to 17 reject a cipher list with no usable cipher with this text.
const CIPHER_LIST_TEXT: &str = "could not set the cipher list (no valid ciphers available)";

/// PostgreSQL 13's row; later rows say only what their release changed.
const PG13: VersionExpectations = VersionExpectations {
    version: Version::Pg13,
    key_permissions: KeyPermissions::OwnerOrRoot {
        detail: OWNER_OR_ROOT_DETAIL,
    },
    implicit_root_files: false,
    file_settings: true,
    // 13 raised ssl_min_protocol_version's default from TLSv1 to TLSv1.2.
    default_min_tls: TlsProtocol::Tls12,
    bad_cipher_list: CIPHER_LIST_TEXT,
    hba_load_failed: "could not load pg_hba.conf",
    hostssl_needs_ssl: false,
    clientcert_verify_ca: "verify-ca",
    clientcert_verify_full: true,
    clientname: false,
    cert_rows_refuse_verify_ca: false,
    alpn: false,
    direct_ssl: false,
    pipelined_after_s: PipelinedAfterS::RefusedAfterHandshake,
    groups: GroupsSetting::EcdhCurve,
    encryption_words: ("SSL on", "SSL off"),
    pre_startup_errors_v2: true,
};

/// 14's changes: protocol 2, SSL compression and the old encryption words removed;
/// `clientname` added.
const PG14: VersionExpectations = VersionExpectations {
    version: Version::Pg14,
    clientname: true,
    cert_rows_refuse_verify_ca: true,
    encryption_words: ("SSL encryption", "no encryption"),
    pre_startup_errors_v2: false,
    ..PG13
};

/// The rows, by version: every version's expectations.
pub const EXPECTATIONS: [VersionExpectations; 7] = [
    VersionExpectations {
        version: Version::Seed,
        key_permissions: KeyPermissions::NoGroupOrWorld {
            detail: "Permissions should be u=rw (0600) or less.",
        },
        implicit_root_files: true,
        // The reference server's seed profile takes the modern settings too, so a data
        // directory written for 15 also runs under it.
        file_settings: true,
        default_min_tls: TlsProtocol::Tls12,
        hostssl_needs_ssl: true,
        clientcert_verify_ca: "1",
        clientcert_verify_full: false,
        clientname: false,
        cert_rows_refuse_verify_ca: false,
        // The seed profile speaks 15's protocol rules on the wire.
        ..PG14
    },
    PG13,
    PG14,
    VersionExpectations {
        version: Version::Pg15,
        ..PG14
    },
    VersionExpectations {
        version: Version::Pg16,
        // 16 (hba.c's file inclusion work) names the file it could not load by its path.
        hba_load_failed: "could not load DATADIR/pg_hba.conf",
        ..PG14
    },
    VersionExpectations {
        version: Version::Pg17,
        hba_load_failed: "could not load DATADIR/pg_hba.conf",
        // 17: direct SSL and the mandatory ALPN callback; buffered bytes after S are fed
        // into the TLS library (backend_startup.c).
        alpn: true,
        direct_ssl: true,
        pipelined_after_s: PipelinedAfterS::FedIntoTls,
        ..PG14
    },
    VersionExpectations {
        version: Version::Pg18,
        hba_load_failed: "could not load DATADIR/pg_hba.conf",
        alpn: true,
        direct_ssl: true,
        pipelined_after_s: PipelinedAfterS::FedIntoTls,
        // 18: the TLS 1.2 list has its own message, and ssl_groups replaces ssl_ecdh_curve.
        bad_cipher_list: "could not set the TLSv1.2 cipher list (no valid ciphers available)",
        groups: GroupsSetting::GroupsList,
        ..PG14
    },
];

/// The expectations of `version`: its row, in [`Version::ALL`]'s order (a unit test holds
/// the two orders together).
pub fn expectations(version: Version) -> &'static VersionExpectations {
    &EXPECTATIONS[version as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_version_order() {
        for (row, version) in EXPECTATIONS.iter().zip(Version::ALL) {
            assert_eq!(row.version, version);
            assert_eq!(expectations(version).version, version);
        }
    }
}

/// Message texts every version shares (the wire's `E` lines without severity and code, and
/// the start-up FATALs), as PostgreSQL prints them.
pub mod text {
    /// W4, after S or N.
    pub const UNENCRYPTED_AFTER_SSL: &str = "received unencrypted data after SSL request";
    /// W4's DETAIL.
    pub const MITM_DETAIL: &str = "This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.";
    /// H5.
    pub const NO_ROOT_STORE: &str =
        "client certificates can only be checked if a root certificate store is available";
    /// H5.
    pub const NEEDS_CLIENT_CERT: &str = "connection requires a valid client certificate";
    /// A13 / the default session's BackendKeyData on protocol 3.0.
    pub const LOGGED_IN: [&str; 3] = [
        "AuthenticationOk",
        "BackendKeyData key=4 bytes",
        "ReadyForQuery",
    ];
    /// libpq's own error when `sslmode` demands SSL and the server answers N.
    pub const SSL_REQUIRED: &str = "libpq: server does not support SSL, but SSL was required";

    /// H1: no row matched (`host` is the address, or `[local]`; `encryption` the version's
    /// word for it, from [`super::VersionExpectations::encryption_words`]).
    pub fn no_entry(host: &str, user: &str, database: &str, encryption: &str) -> String {
        format!(
            "no pg_hba.conf entry for host \"{host}\", user \"{user}\", database \"{database}\", {encryption}"
        )
    }

    /// H1: a reject row matched.
    pub fn rejected(host: &str, user: &str, database: &str, encryption: &str) -> String {
        format!(
            "pg_hba.conf rejects connection for host \"{host}\", user \"{user}\", database \"{database}\", {encryption}"
        )
    }

    /// H4: the certificate's CN is not the user.
    pub fn cert_failed(user: &str) -> String {
        format!("certificate authentication failed for user \"{user}\"")
    }

    /// H5: clientcert=verify-full with another method and a CN that is not the user.
    pub fn method_failed(method: &str, user: &str) -> String {
        format!("\"{method}\" authentication failed for user \"{user}\"")
    }

    /// A3.
    pub fn cert_file(reason: &str) -> String {
        format!("could not load server certificate file \"server.crt\": {reason}")
    }

    /// A3.
    pub fn key_access(reason: &str) -> String {
        format!("could not access private key file \"server.key\": {reason}")
    }

    /// A3, A5.
    pub fn key_load(reason: &str) -> String {
        format!("could not load private key file \"server.key\": {reason}")
    }

    /// A4.
    pub const KEY_GROUP_OR_WORLD: &str =
        "private key file \"server.key\" has group or world access";
    /// A4.
    pub const KEY_NOT_REGULAR: &str = "private key file \"server.key\" is not a regular file";
    /// A4.
    pub const KEY_OWNER: &str =
        "private key file \"server.key\" must be owned by the database user or root";
    /// A3: an EC key beside an RSA certificate.
    pub const NO_CERTIFICATE_ASSIGNED: &str =
        "check of private key failed: no certificate assigned";
    /// A10: a name `OBJ_sn2nid` does not know.
    pub fn unrecognized_curve(name: &str) -> String {
        format!("ECDH: unrecognized curve name: {name}")
    }
    /// A10: a known name that is not an EC curve (X25519).
    pub const ECDH_NO_KEY: &str = "ECDH: could not create key";
    /// A10, 18.
    pub const GROUPS_FAILED: &str = "could not set group names specified in ssl_groups: *";
    /// A10, 18's HINT.
    pub const GROUPS_HINT: &str = "Ensure that each group name is spelled correctly and supported by the installed version of OpenSSL.";
    /// A9.
    pub const PROTOCOL_RANGE: &str = "could not set SSL protocol version range";
    /// A9's DETAIL.
    pub const PROTOCOL_RANGE_DETAIL: &str =
        "\"ssl_min_protocol_version\" cannot be higher than \"ssl_max_protocol_version\"";

    /// A6.
    pub fn ca_file(file: &str, reason: &str) -> String {
        format!("could not load root certificate file \"{file}\": {reason}")
    }

    /// A7.
    pub fn crl_file(file: &str, reason: &str) -> String {
        format!("could not load SSL certificate revocation list file \"{file}\": {reason}")
    }
}

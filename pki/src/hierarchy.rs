//! The hierarchy itself: the fixed list of CAs and leaves, and [`generate`], which writes
//! their certificates, keys, bundles, CRLs and hashed CRL directories into a directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use openssl::asn1::{Asn1Integer, Asn1IntegerRef, Asn1Time};
use openssl::bn::BigNum;
use openssl::pkey::{PKey, Private};
use openssl::symm::Cipher;
use openssl::x509::X509;

use crate::{
    CertBuilder, Error, Identity, KeyType, San, encrypted_key_pem_refusing, revocation_list,
};

/// The passphrase of `server-password.key`.
pub const SERVER_KEY_PASSPHRASE: &str = "secret1";
/// The wrong passphrase the conformance cases give for `server-password.key`: the key is
/// encrypted so that it fails at the padding check, OpenSSL's `bad decrypt`, every time.
pub const WRONG_SERVER_KEY_PASSPHRASE: &str = "wrongpassword";
/// The passphrase of `client-encrypted-pem.key` (libpq is given it for the DER twin too).
pub const CLIENT_KEY_PASSPHRASE: &str = "dUmmyP^#+";
/// Start of every certificate's validity.
pub const NOT_BEFORE: &str = "20240101000000Z";
/// End of every certificate's validity (as in PostgreSQL's suite).
pub const NOT_AFTER: &str = "20480719000000Z";

/// One subject attribute.
type Rdn = (&'static str, &'static str);

/// A leaf certificate of the hierarchy.
struct Leaf {
    name: &'static str,
    issuer: Issuer,
    subject: &'static [Rdn],
    dns: &'static [&'static str],
    ips: &'static [&'static str],
    client_ext: bool,
    serial: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Issuer {
    Server,
    Client,
}

const OU: Rdn = ("OU", "PostgreSQL test suite");
const COMMON: Rdn = ("CN", "common-name.pg-ssltest.test");
const DNS12: &[&str] = &[
    "dns1.alt-name.pg-ssltest.test",
    "dns2.alt-name.pg-ssltest.test",
];

const LEAVES: &[Leaf] = &[
    Leaf {
        name: "server-cn-only",
        issuer: Issuer::Server,
        subject: &[COMMON, OU],
        dns: &[],
        ips: &[],
        client_ext: false,
        serial: 0x2001,
    },
    Leaf {
        name: "server-cn-and-alt-names",
        issuer: Issuer::Server,
        subject: &[COMMON, OU],
        dns: DNS12,
        ips: &[],
        client_ext: false,
        serial: 0x2002,
    },
    Leaf {
        name: "server-cn-and-ip-alt-names",
        issuer: Issuer::Server,
        subject: &[COMMON, OU],
        dns: &[],
        ips: &["192.0.2.1", "2001:DB8::1"],
        client_ext: false,
        serial: 0x2003,
    },
    Leaf {
        name: "server-ip-cn-only",
        issuer: Issuer::Server,
        subject: &[("CN", "192.0.2.1"), OU],
        dns: &[],
        ips: &[],
        client_ext: false,
        serial: 0x2004,
    },
    Leaf {
        name: "server-ip-alt-names",
        issuer: Issuer::Server,
        subject: &[OU],
        dns: &[],
        ips: &["192.0.2.1", "2001:DB8::1"],
        client_ext: false,
        serial: 0x2005,
    },
    Leaf {
        name: "server-ip-cn-and-alt-names",
        issuer: Issuer::Server,
        subject: &[("CN", "192.0.2.1"), OU],
        dns: &[],
        ips: &["192.0.2.2", "2001:DB8::1"],
        client_ext: false,
        serial: 0x2006,
    },
    Leaf {
        name: "server-ip-cn-and-dns-alt-names",
        issuer: Issuer::Server,
        subject: &[("CN", "192.0.2.1"), OU],
        dns: DNS12,
        ips: &[],
        client_ext: false,
        serial: 0x2007,
    },
    Leaf {
        name: "server-ip-in-dnsname",
        issuer: Issuer::Server,
        subject: &[OU],
        dns: &["192.0.2.1"],
        ips: &[],
        client_ext: false,
        serial: 0x2008,
    },
    Leaf {
        name: "server-single-alt-name",
        issuer: Issuer::Server,
        subject: &[OU],
        dns: &["single.alt-name.pg-ssltest.test"],
        ips: &[],
        client_ext: false,
        serial: 0x2009,
    },
    Leaf {
        name: "server-multiple-alt-names",
        issuer: Issuer::Server,
        subject: &[OU],
        dns: &[
            "dns1.alt-name.pg-ssltest.test",
            "dns2.alt-name.pg-ssltest.test",
            "*.wildcard.pg-ssltest.test",
        ],
        ips: &[],
        client_ext: false,
        serial: 0x200A,
    },
    Leaf {
        name: "server-no-names",
        issuer: Issuer::Server,
        subject: &[OU],
        dns: &[],
        ips: &[],
        client_ext: false,
        serial: 0x200B,
    },
    Leaf {
        name: "server-revoked",
        issuer: Issuer::Server,
        subject: &[COMMON, OU],
        dns: &[],
        ips: &[],
        client_ext: false,
        serial: 0x200C,
    },
    Leaf {
        name: "client",
        issuer: Issuer::Client,
        subject: &[("CN", "ssltestuser")],
        dns: &[],
        ips: &[],
        client_ext: false,
        serial: 0x3001,
    },
    Leaf {
        name: "client-dn",
        issuer: Issuer::Client,
        subject: &[
            ("O", "PGDG"),
            ("OU", "Engineering"),
            ("OU", "Testing"),
            ("CN", "ssltestuser-dn"),
        ],
        dns: &[],
        ips: &[],
        client_ext: false,
        serial: 0x3002,
    },
    Leaf {
        name: "client-revoked",
        issuer: Issuer::Client,
        subject: &[("CN", "ssltestuser")],
        dns: &[],
        ips: &[],
        client_ext: false,
        serial: 0x3003,
    },
    Leaf {
        name: "client_ext",
        issuer: Issuer::Client,
        subject: &[("CN", "ssltestuser")],
        dns: &[],
        ips: &[],
        client_ext: true,
        serial: 0x3004,
    },
    Leaf {
        name: "client-long",
        issuer: Issuer::Client,
        subject: &[(
            "CN",
            "ssl-123456789012345678901234567890123456789012345678901234567890",
        )],
        dns: &[],
        ips: &[],
        client_ext: false,
        serial: 0x3005,
    },
    Leaf {
        name: "client-revoked-utf8",
        issuer: Issuer::Client,
        subject: &[("CN", "\u{3b1}\u{3b2}\u{3b3}")],
        dns: &[],
        ips: &[],
        client_ext: false,
        serial: 0x3006,
    },
];

/// The certificates revoked by each CA's CRL.
const REVOKED_BY_SERVER_CA: &[&str] = &["server-revoked"];
const REVOKED_BY_CLIENT_CA: &[&str] = &["client-revoked", "client-revoked-utf8"];

/// A generated hierarchy: where its files are.
#[derive(Clone, Debug)]
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of one file, e.g. `pki.path("client.crt")`.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The serial number of a leaf, as pg_stat_ssl prints it (decimal).
    pub fn serial(name: &str) -> Option<u32> {
        LEAVES.iter().find(|l| l.name == name).map(|l| l.serial)
    }
}

fn serial(n: u32) -> Result<Asn1Integer, Error> {
    Ok(BigNum::from_u32(n)?.to_asn1_integer()?)
}

/// A CA of the hierarchy: RSA 2048, the fixed validity, critical `CA:TRUE`, keyUsage
/// `keyCertSign, cRLSign` and a subject key identifier.
fn ca(cn: &str, serial_no: u32, issuer: Option<&Identity>) -> Result<Identity, Error> {
    let b = CertBuilder::common_name(cn)
        .key_type(KeyType::Rsa2048)
        .serial(serial_no)
        .valid_between(NOT_BEFORE, NOT_AFTER);
    let b = match issuer {
        Some(ca) => b.issuer(ca),
        None => b,
    };
    b.ca_constraints()
        .ca_key_usage(false)
        .subject_key_id()
        .build()
}

fn write(dir: &Path, file: &str, bytes: &[u8]) -> Result<(), Error> {
    let path = dir.join(file);
    fs::write(&path, bytes).map_err(|source| Error::Io {
        what: "writing",
        path,
        source,
    })
}

fn write_key(dir: &Path, file: &str, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    write(dir, file, bytes)?;
    let path = dir.join(file);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(|source| Error::Io {
        what: "setting permissions on",
        path,
        source,
    })
}

/// A hashed CRL directory as `openssl rehash` lays it out: `<issuer hash>.r<n>`.
fn crl_dir(dir: &Path, name: &str, crls: &[&str]) -> Result<(), Error> {
    let out = dir.join(name);
    fs::create_dir_all(&out).map_err(|source| Error::Io {
        what: "creating",
        path: out.clone(),
        source,
    })?;
    let mut used: Vec<String> = Vec::new();
    for file in crls {
        let path = dir.join(file);
        let hash = Command::new("openssl")
            .args(["crl", "-hash", "-noout", "-in"])
            .arg(&path)
            .output()
            .map_err(|e| Error::Hash {
                path: path.clone(),
                why: e.to_string(),
            })?;
        if !hash.status.success() {
            return Err(Error::Hash {
                path,
                why: String::from_utf8_lossy(&hash.stderr).trim().to_owned(),
            });
        }
        let hash = String::from_utf8_lossy(&hash.stdout).trim().to_owned();
        let n = used.iter().filter(|h| **h == hash).count();
        used.push(hash.clone());
        let bytes = fs::read(&path).map_err(|source| Error::Io {
            what: "reading",
            path: path.clone(),
            source,
        })?;
        write(&out, &format!("{hash}.r{n}"), &bytes)?;
    }
    Ok(())
}

/// Generates the whole hierarchy into `dir` (created if missing).
pub fn generate(dir: &Path) -> Result<Pki, Error> {
    fs::create_dir_all(dir).map_err(|source| Error::Io {
        what: "creating",
        path: dir.to_path_buf(),
        source,
    })?;
    let root = ca(
        "Test root CA for PostgreSQL SSL regression test suite",
        0x1000,
        None,
    )?;
    let server_ca = ca(
        "Test CA for PostgreSQL SSL regression test server certs",
        0x1001,
        Some(&root),
    )?;
    let client_ca = ca(
        "Test CA for PostgreSQL SSL regression test client certs",
        0x1002,
        Some(&root),
    )?;

    for (file, ca) in [
        ("root_ca", &root),
        ("server_ca", &server_ca),
        ("client_ca", &client_ca),
    ] {
        write(dir, &format!("{file}.crt"), &ca.cert.to_pem()?)?;
        write_key(
            dir,
            &format!("{file}.key"),
            &ca.key.private_key_to_pem_pkcs8()?,
        )?;
    }

    let mut leaves: Vec<(&Leaf, X509, PKey<Private>)> = Vec::new();
    for leaf in LEAVES {
        let ca = match leaf.issuer {
            Issuer::Server => &server_ca,
            Issuer::Client => &client_ca,
        };
        let sans: Vec<San<'_>> = leaf
            .dns
            .iter()
            .map(|d| San::Dns(d))
            .chain(leaf.ips.iter().map(|i| San::Ip(i)))
            .collect();
        let b = CertBuilder::subject(leaf.subject)
            .key_type(KeyType::Rsa2048)
            .serial(leaf.serial)
            .valid_between(NOT_BEFORE, NOT_AFTER)
            .issuer(ca)
            .subject_alt_names(&sans);
        let b = if leaf.client_ext {
            b.end_entity_constraints().client_auth()
        } else {
            b
        };
        let Identity { cert, key } = b.build()?;
        write(dir, &format!("{}.crt", leaf.name), &cert.to_pem()?)?;
        write_key(
            dir,
            &format!("{}.key", leaf.name),
            &key.private_key_to_pem_pkcs8()?,
        )?;
        leaves.push((leaf, cert, key));
    }

    let find = |n: &str| leaves.iter().find(|(l, _, _)| l.name == n);
    if let Some((_, _, key)) = find("server-cn-only") {
        let pem =
            encrypted_key_pem_refusing(key, SERVER_KEY_PASSPHRASE, WRONG_SERVER_KEY_PASSPHRASE)?;
        write_key(dir, "server-password.key", &pem)?;
    }
    if let Some((_, cert, key)) = find("client") {
        write_key(dir, "client-der.key", &key.private_key_to_der()?)?;
        let pem = key.private_key_to_pem_pkcs8_passphrase(
            Cipher::aes_256_cbc(),
            CLIENT_KEY_PASSPHRASE.as_bytes(),
        )?;
        write_key(dir, "client-encrypted-pem.key", &pem)?;
        // As PostgreSQL's sslfiles.mk makes it (`openssl rsa -outform DER -passout ...`): DER
        // output cannot carry the traditional encryption, so the file is plain PKCS#1 DER.
        write_key(dir, "client-encrypted-der.key", &key.private_key_to_der()?)?;
        // An encrypted key in DER proper: PKCS#8 with AES-256-CBC.
        let pkcs8 = key.private_key_to_pkcs8_passphrase(
            Cipher::aes_256_cbc(),
            CLIENT_KEY_PASSPHRASE.as_bytes(),
        )?;
        write_key(dir, "client-encrypted-pkcs8.der", &pkcs8)?;
        let mut chain = cert.to_pem()?;
        chain.extend(client_ca.cert.to_pem()?);
        write(dir, "client+client_ca.crt", &chain)?;
    }
    if let Some((_, cert, _)) = find("server-cn-only") {
        let mut chain = cert.to_pem()?;
        chain.extend(server_ca.cert.to_pem()?);
        write(dir, "server-cn-only+server_ca.crt", &chain)?;
    }

    let bundle = |cas: &[&Identity]| -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        for ca in cas {
            out.extend(ca.cert.to_pem()?);
        }
        Ok(out)
    };
    write(
        dir,
        "both-cas-1.crt",
        &bundle(&[&root, &client_ca, &server_ca])?,
    )?;
    write(
        dir,
        "both-cas-2.crt",
        &bundle(&[&root, &server_ca, &client_ca])?,
    )?;
    write(dir, "root+server_ca.crt", &bundle(&[&root, &server_ca])?)?;
    write(dir, "root+client_ca.crt", &bundle(&[&root, &client_ca])?)?;

    let crl = |ca: &Identity, names: &[&str]| -> Result<Vec<u8>, Error> {
        let serials = names
            .iter()
            .filter_map(|n| Pki::serial(n))
            .map(serial)
            .collect::<Result<Vec<_>, _>>()?;
        let serials: Vec<&Asn1IntegerRef> = serials.iter().map(|s| &**s).collect();
        let (this_update, next_update) = (
            Asn1Time::from_str(NOT_BEFORE)?,
            Asn1Time::from_str(NOT_AFTER)?,
        );
        Ok(revocation_list(ca, &serials, &this_update, &next_update)?.to_pem()?)
    };
    let root_crl = crl(&root, &[])?;
    let server_crl = crl(&server_ca, REVOKED_BY_SERVER_CA)?;
    let client_crl = crl(&client_ca, REVOKED_BY_CLIENT_CA)?;
    write(dir, "root.crl", &root_crl)?;
    write(dir, "server.crl", &server_crl)?;
    write(dir, "client.crl", &client_crl)?;
    write(
        dir,
        "root+server.crl",
        &[root_crl.as_slice(), server_crl.as_slice()].concat(),
    )?;
    write(
        dir,
        "root+client.crl",
        &[root_crl.as_slice(), client_crl.as_slice()].concat(),
    )?;
    crl_dir(dir, "client-crldir", &["client.crl"])?;
    crl_dir(dir, "server-crldir", &["server.crl"])?;
    crl_dir(dir, "root+client-crldir", &["root.crl", "client.crl"])?;
    crl_dir(dir, "root+server-crldir", &["root.crl", "server.crl"])?;
    Ok(Pki {
        dir: dir.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::stack::Stack;
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::{X509Crl, X509StoreContext, X509VerifyResult};

    fn load(pki: &Pki, f: &str) -> X509 {
        X509::from_pem(&fs::read(pki.path(f)).unwrap()).unwrap()
    }

    fn verify(pki: &Pki, leaf: &str, ca_bundle: &str) -> X509VerifyResult {
        let mut store = X509StoreBuilder::new().unwrap();
        for c in X509::stack_from_pem(&fs::read(pki.path(ca_bundle)).unwrap()).unwrap() {
            store.add_cert(c).unwrap();
        }
        let store = store.build();
        let mut ctx = X509StoreContext::new().unwrap();
        let chain = Stack::new().unwrap();
        ctx.init(&store, &load(pki, &format!("{leaf}.crt")), &chain, |c| {
            c.verify_cert()?;
            Ok(c.error())
        })
        .unwrap()
    }

    fn revoked(pki: &Pki, leaf: &str, crl: &str) -> bool {
        let crl = X509Crl::from_pem(&fs::read(pki.path(crl)).unwrap()).unwrap();
        !matches!(
            crl.get_by_cert(&load(pki, &format!("{leaf}.crt"))),
            openssl::x509::CrlStatus::NotRevoked
        )
    }

    #[test]
    fn hierarchy_verifies_and_revokes() {
        let dir = tempfile::tempdir().unwrap();
        let pki = generate(dir.path()).unwrap();
        assert_eq!(
            verify(&pki, "client", "root+client_ca.crt"),
            X509VerifyResult::OK
        );
        assert_eq!(
            verify(&pki, "client_ext", "root+client_ca.crt"),
            X509VerifyResult::OK
        );
        assert_eq!(
            verify(&pki, "server-cn-only", "root+server_ca.crt"),
            X509VerifyResult::OK
        );
        assert_ne!(
            verify(&pki, "client", "root+server_ca.crt"),
            X509VerifyResult::OK
        );
        assert!(revoked(&pki, "client-revoked", "client.crl"));
        assert!(revoked(&pki, "client-revoked-utf8", "client.crl"));
        assert!(!revoked(&pki, "client", "client.crl"));
        assert!(revoked(&pki, "server-revoked", "server.crl"));
        let dn = load(&pki, "client-dn.crt");
        let cn = dn
            .subject_name()
            .entries()
            .last()
            .unwrap()
            .data()
            .to_string()
            .unwrap();
        assert_eq!(cn, "ssltestuser-dn");
        for d in [
            "client-crldir",
            "root+client-crldir",
            "server-crldir",
            "root+server-crldir",
        ] {
            assert!(fs::read_dir(pki.path(d)).unwrap().count() >= 1, "{d}");
        }
        let encrypted = fs::read(pki.path("server-password.key")).unwrap();
        assert!(PKey::private_key_from_pem(&encrypted).is_err());
        let der = fs::read(pki.path("client-encrypted-pkcs8.der")).unwrap();
        assert!(
            PKey::private_key_from_pkcs8_passphrase(&der, CLIENT_KEY_PASSPHRASE.as_bytes()).is_ok()
        );
        assert!(
            PKey::private_key_from_pem_passphrase(&encrypted, SERVER_KEY_PASSPHRASE.as_bytes())
                .is_ok()
        );
        let wrong = PKey::private_key_from_pem_passphrase(
            &encrypted,
            WRONG_SERVER_KEY_PASSPHRASE.as_bytes(),
        )
        .expect_err("the wrong passphrase is refused");
        assert!(
            wrong
                .errors()
                .iter()
                .any(|e| e.reason() == Some("bad decrypt")),
            "refused at the padding check: {wrong}"
        );
    }
}

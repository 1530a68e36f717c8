//! Writes the binary seed corpora and the fixed test PKI:
//!
//! ```sh
//! cd fuzz && cargo run --example seed-corpus
//! ```
//!
//! - `fuzz/pki/`: the root CA, two client certificates and the CRL the certificate targets
//!   verify against (keys are created once and then kept; everything else is re-signed
//!   deterministically with RSA PKCS#1 v1.5 and Ed25519, so re-running changes no bytes);
//! - `corpus/startup_packet/`, `corpus/negotiate/`: startup packets built with the codec;
//! - `corpus/startup_sequence/`: fixed pseudo-random inputs (any bytes are a valid script);
//! - `corpus/certificate/`, `corpus/crl/`: certificates and CRLs in PEM and DER, including
//!   odd encodings.
//!
//! The text corpora (`corpus/hba/`, `corpus/conf/`) and the dictionaries are plain files
//! kept by hand.

use std::fs;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Type;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use openssl::x509::{X509, X509Name, X509NameBuilder};
use pgssl_pki::der::tlv as der;
use pgssl_pki::{CertBuilder, Identity, KeyType, San};
use pgssl_server::wire::{CancelRequest, ProtocolVersion, StartupMessage, StartupPacket};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let repo = root.parent().ok_or("no parent")?.to_path_buf();
    let pki = Pki::load_or_create(&root.join("pki"))?;
    pki.write(&root.join("pki"))?;
    startup_packets(&repo.join("corpus/startup_packet"))?;
    negotiate(&repo.join("corpus/negotiate"))?;
    startup_sequence(&repo.join("corpus/startup_sequence"))?;
    certificates(&pki, &repo.join("corpus/certificate"))?;
    crls(&pki, &repo.join("corpus/crl"))?;
    println!(
        "seed corpora written under {}",
        repo.join("corpus").display()
    );
    Ok(())
}

/// Writes `files` into `dir`, replacing what the generator wrote before (files it did not
/// write, such as regression inputs or cases from `pgssl-conform corpus`, are left alone).
fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) -> Res<()> {
    fs::create_dir_all(dir)?;
    for (name, bytes) in files {
        fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Startup packets
// ---------------------------------------------------------------------------

fn startup(version: ProtocolVersion, params: &[(&str, &str)]) -> Vec<u8> {
    StartupPacket::Startup(StartupMessage::new(version, params)).to_bytes()
}

fn alice() -> Vec<u8> {
    startup(
        ProtocolVersion::V3_0,
        &[
            ("user", "alice"),
            ("database", "postgres"),
            ("application_name", "psql"),
            ("client_encoding", "UTF8"),
        ],
    )
}

fn packets() -> Vec<(&'static str, Vec<u8>)> {
    let raw = |version: ProtocolVersion, raw: &[u8]| {
        StartupPacket::Startup(StartupMessage {
            version,
            raw_parameters: raw.to_vec(),
        })
        .to_bytes()
    };
    let mut oversize = 10_005u32.to_be_bytes().to_vec();
    oversize.extend_from_slice(&ProtocolVersion::V3_0.0.to_be_bytes());
    let mut max = 10_004u32.to_be_bytes().to_vec();
    max.extend_from_slice(&ProtocolVersion::V3_0.0.to_be_bytes());
    max.extend_from_slice(b"user\0");
    max.resize(10_003, b'a');
    max.push(0);
    vec![
        ("ssl-request", StartupPacket::ssl_request().to_bytes()),
        ("gssenc-request", StartupPacket::gssenc_request().to_bytes()),
        (
            "ssl-request-with-extra-bytes",
            StartupPacket::SslRequest {
                extra: vec![0, 0, 0, 0],
            }
            .to_bytes(),
        ),
        ("startup-3.0-psql", alice()),
        (
            "startup-3.0-user-only",
            startup(ProtocolVersion::V3_0, &[("user", "alice")]),
        ),
        (
            "startup-3.2-pq-option",
            startup(
                ProtocolVersion::V3_2,
                &[("user", "alice"), ("_pq_.test_protocol_negotiation", "on")],
            ),
        ),
        (
            "startup-3.9-newer-minor",
            startup(ProtocolVersion::new(3, 9), &[("user", "alice")]),
        ),
        (
            "startup-2.0-old-protocol",
            startup(ProtocolVersion::new(2, 0), &[("user", "alice")]),
        ),
        (
            "startup-4.0-future-major",
            startup(ProtocolVersion::new(4, 0), &[("user", "alice")]),
        ),
        (
            "startup-replication-database",
            startup(
                ProtocolVersion::V3_0,
                &[
                    ("user", "repl"),
                    ("replication", "database"),
                    ("database", "app"),
                ],
            ),
        ),
        (
            "startup-replication-invalid",
            startup(
                ProtocolVersion::V3_0,
                &[("user", "repl"), ("replication", "maybe")],
            ),
        ),
        (
            "startup-options-and-guc",
            startup(
                ProtocolVersion::V3_0,
                &[
                    ("user", "alice"),
                    ("options", "-c search_path=app -c statement_timeout=5s"),
                    ("DateStyle", "ISO, MDY"),
                ],
            ),
        ),
        (
            "startup-long-user-truncated",
            startup(ProtocolVersion::V3_0, &[("user", &"u".repeat(80))]),
        ),
        (
            "startup-application-name-non-ascii",
            startup(
                ProtocolVersion::V3_0,
                &[("user", "alice"), ("application_name", "pg\u{e9}\u{1f418}")],
            ),
        ),
        (
            "startup-no-user",
            startup(ProtocolVersion::V3_0, &[("database", "postgres")]),
        ),
        (
            "startup-layout-no-terminator",
            raw(ProtocolVersion::V3_0, b"user\0alice\0"),
        ),
        (
            "startup-layout-trailing-junk",
            raw(ProtocolVersion::V3_0, b"user\0alice\0\0junk"),
        ),
        (
            "startup-layout-name-without-value",
            raw(ProtocolVersion::V3_0, b"user\0alice\0database\0"),
        ),
        ("startup-only-terminator", raw(ProtocolVersion::V3_0, b"\0")),
        ("startup-max-length-10004", max),
        ("length-10005-too-long", oversize),
        ("length-7-too-short", vec![0, 0, 0, 7, 0, 3, 0, 0]),
        ("length-negative", vec![0x80, 0, 0, 0, 0, 3, 0, 0]),
        (
            "cancel-request-16",
            StartupPacket::Cancel(CancelRequest::new(4242, &[1, 2, 3, 4])).to_bytes(),
        ),
        (
            "cancel-request-3.2-32-byte-key",
            StartupPacket::Cancel(CancelRequest::new(4242, &[7; 32])).to_bytes(),
        ),
        (
            "cancel-request-short",
            StartupPacket::Cancel(CancelRequest { payload: vec![1] }).to_bytes(),
        ),
        (
            "cancel-request-257-byte-key",
            StartupPacket::Cancel(CancelRequest::new(1, &[9; 257])).to_bytes(),
        ),
        (
            "tls-client-hello-start",
            vec![
                0x16, 0x03, 0x01, 0x00, 0xf4, 0x01, 0x00, 0x00, 0xf0, 0x03, 0x03,
            ],
        ),
        // Typed messages, for the frontend/backend codecs in the same target.
        ("query-select-1", typed(b'Q', b"select 1\0")),
        ("terminate", typed(b'X', b"")),
        ("password-message", typed(b'p', b"secret\0")),
        (
            "backend-error-response",
            typed(
                b'E',
                b"SFATAL\0VFATAL\0C08P01\0Minvalid length of startup packet\0\0",
            ),
        ),
        (
            "backend-negotiate-protocol-version",
            typed(b'v', b"\x00\x03\x00\x00\x00\x00\x00\x01_pq_.x\0"),
        ),
        (
            "backend-v2-error",
            b"EFATAL:  unsupported frontend protocol\n\0".to_vec(),
        ),
    ]
}

fn typed(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn startup_packets(dir: &Path) -> Res<()> {
    let files: Vec<_> = packets()
        .into_iter()
        .map(|(n, b)| (n.to_string(), b))
        .collect();
    write_all(dir, &files)
}

// ---------------------------------------------------------------------------
// negotiate: three header bytes, then client bytes
// ---------------------------------------------------------------------------

const SEED: u8 = 0;
const PG15: u8 = 1;
const PG18: u8 = 2;
const SSL_OFF: u8 = 4;
const UNIX: u8 = 8;
const TRACE: u8 = 16;
const TIMEOUT: u8 = 32;

fn negotiate(dir: &Path) -> Res<()> {
    let ssl = StartupPacket::ssl_request().to_bytes();
    let gss = StartupPacket::gssenc_request().to_bytes();
    let login = alice();
    let cat = |parts: &[&[u8]]| parts.concat();
    let case = |server: u8, tls: u8, cut: u8, client: Vec<u8>| {
        let mut v = vec![server, tls, cut];
        v.extend(client);
        v
    };
    let mut files = Vec::new();
    for (profile, name) in [(SEED, "seed"), (PG15, "15"), (PG18, "18")] {
        let p = |s: &str| format!("{name}-{s}");
        files.push((
            p("ssl-then-startup"),
            case(profile, 0, 0, cat(&[&ssl, &login])),
        ));
        files.push((
            p("ssl-refused-then-startup"),
            case(profile | SSL_OFF, 0, 0, cat(&[&ssl, &login])),
        ));
        files.push((
            p("gss-then-ssl-then-startup"),
            case(profile, 0, 0, cat(&[&gss, &ssl, &login])),
        ));
        files.push((
            p("ssl-refused-gss-ssl-gss"),
            case(
                profile | SSL_OFF,
                0,
                0,
                cat(&[&ssl, &gss, &ssl, &gss, &login]),
            ),
        ));
        files.push((
            p("pipelined-startup-after-ssl-cve-2021-23214"),
            case(profile, 0, 255, cat(&[&ssl, &login])),
        ));
        files.push((
            p("pipelined-after-refused-ssl"),
            case(profile | SSL_OFF, 0, 255, cat(&[&ssl, &login])),
        ));
        files.push((p("plain-startup"), case(profile, 0, 0, login.clone())));
        files.push((
            p("unix-socket-ssl-request"),
            case(profile | UNIX | TRACE, 0, 0, cat(&[&ssl, &login])),
        ));
        files.push((
            p("handshake-fails"),
            case(profile | TRACE, 3, 0, cat(&[&ssl, &login])),
        ));
        files.push((
            p("ssl-startup-byte-by-byte"),
            case(profile, 0, 1, cat(&[&ssl, &login])),
        ));
        files.push((
            p("cancel-request"),
            case(
                profile,
                0,
                0,
                StartupPacket::Cancel(CancelRequest::new(7, &[1, 2, 3, 4])).to_bytes(),
            ),
        ));
        files.push((
            p("incomplete-then-timeout"),
            case(profile | TIMEOUT, 0, 0, ssl[..5].to_vec()),
        ));
        for (seed_name, bytes) in packets() {
            if seed_name.starts_with("startup-") || seed_name.starts_with("length-") {
                files.push((
                    p(&format!("ssl-then-{seed_name}")),
                    case(profile, 0, 0, cat(&[&ssl, &bytes])),
                ));
            }
        }
    }
    let hello = vec![
        0x16, 0x03, 0x01, 0x00, 0xf4, 0x01, 0x00, 0x00, 0xf0, 0x03, 0x03,
    ];
    files.push((
        "18-direct-ssl-alpn".into(),
        case(PG18 | TRACE, 0, 0, cat(&[&hello, &login])),
    ));
    files.push((
        "18-direct-ssl-no-alpn".into(),
        case(PG18 | TRACE, 1, 0, cat(&[&hello, &login])),
    ));
    files.push((
        "18-direct-ssl-wrong-alpn".into(),
        case(PG18, 2, 0, cat(&[&hello, &login])),
    ));
    files.push((
        "18-direct-ssl-unread-prefix".into(),
        case(PG18, 4 << 2, 255, cat(&[&hello, &login])),
    ));
    files.push((
        "15-client-hello-as-length".into(),
        case(PG15, 0, 0, cat(&[&hello, &login])),
    ));
    files.push((
        "18-pipelined-into-tls-unread".into(),
        case(PG18, 8 << 2, 255, cat(&[&ssl, &login])),
    ));
    write_all(dir, &files)
}

// ---------------------------------------------------------------------------
// startup_sequence: any bytes are a valid `arbitrary` script
// ---------------------------------------------------------------------------

fn startup_sequence(dir: &Path) -> Res<()> {
    let mut state: u64 = 0x5EED_C0DE_2021_2321;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut files = Vec::new();
    for (i, len) in [16usize, 32, 64, 128, 256, 512, 1024, 4096]
        .into_iter()
        .enumerate()
    {
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        files.push((format!("xorshift-{i}-{len}-bytes"), bytes));
    }
    // Low bytes steer `arbitrary` toward the first variants (SSLRequest, user params).
    files.push(("zeros-256".into(), vec![0; 256]));
    files.push((
        "small-values-512".into(),
        (0..512).map(|_| (next() % 4) as u8).collect(),
    ));
    write_all(dir, &files)
}

// ---------------------------------------------------------------------------
// PKI
// ---------------------------------------------------------------------------

struct Pki {
    /// The root CA's certificate and key.
    ca: Identity,
    leaf_key: PKey<Private>,
}

const CA_SERIAL: u32 = 1;
const ALICE_SERIAL: u32 = 0x1001;
const REVOKED_SERIAL: u32 = 0x1002;

fn name(entries: &[(Nid, &str)]) -> Res<X509Name> {
    let mut b = X509NameBuilder::new()?;
    for (nid, value) in entries {
        b.append_entry_by_nid(*nid, value)?;
    }
    Ok(b.build())
}

struct LeafSpec<'a> {
    subject: X509Name,
    serial: BigNum,
    san: &'a [&'a str],
    not_before: &'a str,
    not_after: &'a str,
}

impl Pki {
    fn load_or_create(dir: &Path) -> Res<Self> {
        fs::create_dir_all(dir)?;
        let load = |file: &str, create: &dyn Fn() -> Res<PKey<Private>>| -> Res<PKey<Private>> {
            let path = dir.join(file);
            match fs::read(&path) {
                Ok(pem) if !pem.is_empty() => Ok(PKey::private_key_from_pem(&pem)?),
                _ => {
                    let key = create()?;
                    fs::write(&path, key.private_key_to_pem_pkcs8()?)?;
                    Ok(key)
                }
            }
        };
        let ca_key = load("ca.key", &|| Ok(KeyType::Rsa2048.generate()?))?;
        let leaf_key = load("leaf.key", &|| Ok(KeyType::Ed25519.generate()?))?;
        let ca = Self::build_ca(ca_key)?;
        Ok(Self { ca, leaf_key })
    }

    fn build_ca(key: PKey<Private>) -> Res<Identity> {
        let subject = name(&[
            (Nid::COUNTRYNAME, "DE"),
            (Nid::ORGANIZATIONNAME, "pgssl"),
            (Nid::COMMONNAME, "pgssl fuzz root"),
        ])?;
        Ok(CertBuilder::subject_name(subject)
            .key(key)
            .serial(CA_SERIAL)
            .valid_between("20260101000000Z", "20460101000000Z")
            .ca_constraints()
            .ca_key_usage(true)
            .build()?)
    }

    fn leaf(&self, spec: LeafSpec<'_>) -> Res<X509> {
        let sans: Vec<San<'_>> = spec.san.iter().map(|n| San::guess(n)).collect();
        Ok(CertBuilder::subject_name(spec.subject)
            .key(self.leaf_key.clone())
            .serial_bn(spec.serial)
            .valid_between(spec.not_before, spec.not_after)
            .issuer(&self.ca)
            .client_auth()
            .subject_alt_names(&sans)
            .build()?
            .cert)
    }

    fn simple(&self, subject: X509Name, serial: u32) -> Res<X509> {
        self.leaf(LeafSpec {
            subject,
            serial: BigNum::from_u32(serial)?,
            san: &[],
            not_before: "20260101000000Z",
            not_after: "20360101000000Z",
        })
    }

    fn alice(&self) -> Res<X509> {
        self.leaf(LeafSpec {
            subject: name(&[
                (Nid::COUNTRYNAME, "DE"),
                (Nid::ORGANIZATIONNAME, "pgssl"),
                (Nid::COMMONNAME, "alice"),
            ])?,
            serial: BigNum::from_u32(ALICE_SERIAL)?,
            san: &["localhost", "127.0.0.1", "::1", "alice@example.com"],
            not_before: "20260101000000Z",
            not_after: "20360101000000Z",
        })
    }

    fn revoked(&self) -> Res<X509> {
        self.simple(name(&[(Nid::COMMONNAME, "mallory")])?, REVOKED_SERIAL)
    }

    fn crl(&self, spec: &CrlSpec) -> Res<Vec<u8>> {
        crl_der(&self.ca.key, &self.ca.cert.subject_name().to_der()?, spec)
    }

    fn write(&self, dir: &Path) -> Res<()> {
        fs::write(dir.join("ca.pem"), self.ca.cert.to_pem()?)?;
        fs::write(dir.join("alice.pem"), self.alice()?.to_pem()?)?;
        fs::write(dir.join("revoked.pem"), self.revoked()?.to_pem()?)?;
        let crl = self.crl(&CrlSpec::standard())?;
        fs::write(dir.join("crl.pem"), pem("X509 CRL", &crl))?;
        Ok(())
    }
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    let b64 = openssl::base64::encode_block(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}

// ---------------------------------------------------------------------------
// A minimal DER writer for CRLs (the openssl crate has no CRL builder)
// ---------------------------------------------------------------------------

fn der_int(v: u64) -> Vec<u8> {
    pgssl_pki::der::unsigned_integer(&v.to_be_bytes())
}

struct CrlSpec {
    version2: bool,
    this_update: Vec<u8>,
    next_update: Option<Vec<u8>>,
    /// Serial and optional reasonCode.
    revoked: Vec<(u64, Option<u8>)>,
    crl_number: Option<u64>,
}

impl CrlSpec {
    fn standard() -> Self {
        Self {
            version2: true,
            this_update: der(0x17, b"260101000000Z"),
            next_update: Some(der(0x17, b"460101000000Z")),
            revoked: vec![(u64::from(REVOKED_SERIAL), Some(1))],
            crl_number: Some(1),
        }
    }
}

/// sha256WithRSAEncryption.
const SHA256_RSA: &[u8] = &[
    0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B, 0x05, 0x00,
];

fn crl_der(key: &PKey<Private>, issuer: &[u8], spec: &CrlSpec) -> Res<Vec<u8>> {
    let mut tbs = Vec::new();
    if spec.version2 {
        tbs.extend(der_int(1));
    }
    tbs.extend_from_slice(SHA256_RSA);
    tbs.extend_from_slice(issuer);
    tbs.extend_from_slice(&spec.this_update);
    if let Some(next) = &spec.next_update {
        tbs.extend_from_slice(next);
    }
    if !spec.revoked.is_empty() {
        let mut entries = Vec::new();
        for (serial, reason) in &spec.revoked {
            let mut entry = der_int(*serial);
            entry.extend_from_slice(&spec.this_update);
            if let Some(reason) = reason {
                // reasonCode (2.5.29.21): ENUMERATED in an OCTET STRING.
                let ext = der(
                    0x30,
                    &[
                        &[0x06, 0x03, 0x55, 0x1D, 0x15][..],
                        &der(0x04, &der(0x0A, &[*reason])),
                    ]
                    .concat(),
                );
                entry.extend(der(0x30, &ext));
            }
            entries.extend(der(0x30, &entry));
        }
        tbs.extend(der(0x30, &entries));
    }
    if let Some(n) = spec.crl_number {
        // cRLNumber (2.5.29.20).
        let ext = der(
            0x30,
            &[&[0x06, 0x03, 0x55, 0x1D, 0x14][..], &der(0x04, &der_int(n))].concat(),
        );
        tbs.extend(der(0xA0, &der(0x30, &ext)));
    }
    let tbs = der(0x30, &tbs);
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    signer.update(&tbs)?;
    let sig = signer.sign_to_vec()?;
    let bits = der(0x03, &[&[0u8][..], &sig].concat());
    Ok(der(0x30, &[tbs, SHA256_RSA.to_vec(), bits].concat()))
}

// ---------------------------------------------------------------------------
// Certificate and CRL corpora
// ---------------------------------------------------------------------------

fn certificates(pki: &Pki, dir: &Path) -> Res<()> {
    let alice = pki.alice()?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut both = |stem: &str, cert: &X509| -> Res<()> {
        files.push((format!("{stem}.pem"), cert.to_pem()?));
        files.push((format!("{stem}.der"), cert.to_der()?));
        Ok(())
    };
    both("ca-root", &pki.ca.cert)?;
    both("alice-dn-c-o-cn-san", &alice)?;
    both("revoked-mallory", &pki.revoked()?)?;
    both(
        "cn-embedded-nul",
        &pki.simple(name(&[(Nid::COMMONNAME, "admin\0.evil.example")])?, 0x2001)?,
    )?;
    {
        let mut b = X509NameBuilder::new()?;
        b.append_entry_by_nid_with_type(Nid::COMMONNAME, "\0b\0o\0b", Asn1Type::BMPSTRING)?;
        both("cn-bmpstring-ucs2", &pki.simple(b.build(), 0x2002)?)?;
    }
    {
        let mut b = X509NameBuilder::new()?;
        b.append_entry_by_nid_with_type(Nid::COMMONNAME, "t61", Asn1Type::T61STRING)?;
        b.append_entry_by_text("1.2.3.4.5", "unknown attribute")?;
        b.append_entry_by_nid(Nid::PKCS9_EMAILADDRESS, "alice@example.com")?;
        b.append_entry_by_nid(Nid::SERIALNUMBER, "42")?;
        both("dn-t61-unknown-oid-email", &pki.simple(b.build(), 0x2003)?)?;
    }
    both(
        "dn-rfc2253-specials-utf8",
        &pki.simple(
            name(&[
                (Nid::ORGANIZATIONNAME, "Ex,ample+\"Corp\";<x>"),
                (Nid::COMMONNAME, " J\u{fc}rgen#\\ "),
            ])?,
            0x2004,
        )?,
    )?;
    both(
        "subject-empty",
        &pki.simple(X509NameBuilder::new()?.build(), 0x2005)?,
    )?;
    both(
        "serial-20-bytes",
        &pki.leaf(LeafSpec {
            subject: name(&[(Nid::COMMONNAME, "big-serial")])?,
            serial: BigNum::from_hex_str("7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF")?,
            san: &[],
            not_before: "20260101000000Z",
            not_after: "20360101000000Z",
        })?,
    )?;
    {
        let mut serial = BigNum::from_u32(5)?;
        serial.set_negative(true);
        both(
            "serial-negative",
            &pki.leaf(LeafSpec {
                subject: name(&[(Nid::COMMONNAME, "negative-serial")])?,
                serial,
                san: &[],
                not_before: "20260101000000Z",
                not_after: "20360101000000Z",
            })?,
        )?;
    }
    both(
        "expired-2001",
        &pki.leaf(LeafSpec {
            subject: name(&[(Nid::COMMONNAME, "expired")])?,
            serial: BigNum::from_u32(0x2006)?,
            san: &["old.example.com"],
            not_before: "20000101000000Z",
            not_after: "20010101000000Z",
        })?,
    )?;
    {
        // Self-signed Ed25519, not from the fixed CA.
        let stranger = CertBuilder::subject_name(name(&[(Nid::COMMONNAME, "stranger")])?)
            .key(pki.leaf_key.clone())
            .serial(9)
            .valid_between("20260101000000Z", "20360101000000Z")
            .build()?;
        both("self-signed-ed25519-stranger", &stranger.cert)?;
    }
    let alice_pem = alice.to_pem()?;
    let alice_der = alice.to_der()?;
    files.push((
        "chain-alice-then-ca.pem".into(),
        [alice_pem.clone(), pki.ca.cert.to_pem()?].concat(),
    ));
    files.push((
        "pem-crlf-line-endings.pem".into(),
        String::from_utf8(alice_pem.clone())?
            .replace('\n', "\r\n")
            .into_bytes(),
    ));
    files.push((
        "pem-with-bag-attributes.pem".into(),
        [
            b"Bag Attributes\n    friendlyName: alice\nsubject=/CN=alice\n".to_vec(),
            alice_pem.clone(),
        ]
        .concat(),
    ));
    files.push((
        "pem-no-trailing-newline.pem".into(),
        alice_pem[..alice_pem.len() - 1].to_vec(),
    ));
    files.push((
        "pem-trusted-certificate-label.pem".into(),
        pem("TRUSTED CERTIFICATE", &alice_der),
    ));
    files.push((
        "der-trailing-garbage.der".into(),
        [alice_der.clone(), b"trailing".to_vec()].concat(),
    ));
    files.push((
        "der-truncated.der".into(),
        alice_der[..alice_der.len() / 2].to_vec(),
    ));
    // Outer SEQUENCE length in long form with a leading zero byte (BER, not DER).
    if alice_der[1] == 0x82 {
        let mut odd = vec![0x30, 0x83, 0x00];
        odd.extend_from_slice(&alice_der[2..]);
        files.push(("ber-non-minimal-length.der".into(), odd));
        // Indefinite length with end-of-contents.
        let mut indef = vec![0x30, 0x80];
        indef.extend_from_slice(&alice_der[4..]);
        indef.extend_from_slice(&[0, 0]);
        files.push(("ber-indefinite-length.der".into(), indef));
    }
    write_all(dir, &files)
}

fn crls(pki: &Pki, dir: &Path) -> Res<()> {
    let standard = pki.crl(&CrlSpec::standard())?;
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("revokes-mallory.der".into(), standard.clone()),
        ("revokes-mallory.pem".into(), pem("X509 CRL", &standard)),
    ];
    let mut add = |stem: &str, spec: CrlSpec| -> Res<()> {
        files.push((format!("{stem}.der"), pki.crl(&spec)?));
        Ok(())
    };
    add(
        "empty-no-revoked-list",
        CrlSpec {
            revoked: vec![],
            ..CrlSpec::standard()
        },
    )?;
    add(
        "v1-no-extensions",
        CrlSpec {
            version2: false,
            crl_number: None,
            revoked: vec![(u64::from(REVOKED_SERIAL), None)],
            ..CrlSpec::standard()
        },
    )?;
    add(
        "revokes-alice-and-mallory",
        CrlSpec {
            revoked: vec![
                (u64::from(ALICE_SERIAL), Some(0)),
                (u64::from(REVOKED_SERIAL), Some(4)),
            ],
            ..CrlSpec::standard()
        },
    )?;
    add(
        "alice-remove-from-crl",
        CrlSpec {
            revoked: vec![(u64::from(ALICE_SERIAL), Some(8))],
            ..CrlSpec::standard()
        },
    )?;
    add(
        "generalized-time-no-next-update",
        CrlSpec {
            this_update: der(0x18, b"20260101000000Z"),
            next_update: None,
            ..CrlSpec::standard()
        },
    )?;
    add(
        "expired-next-update-2000",
        CrlSpec {
            this_update: der(0x17, b"990101000000Z"),
            next_update: Some(der(0x17, b"000101000000Z")),
            ..CrlSpec::standard()
        },
    )?;
    add(
        "hundred-entries",
        CrlSpec {
            revoked: (0..100u64)
                .map(|i| (0x3000 + i, Some((i % 11) as u8)))
                .collect(),
            ..CrlSpec::standard()
        },
    )?;
    let other = crl_der(
        &pki.ca.key,
        &name(&[(Nid::COMMONNAME, "some other issuer")])?.to_der()?,
        &CrlSpec::standard(),
    )?;
    files.push(("other-issuer.der".into(), other));
    let mut bad_sig = standard.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 0x01;
    files.push(("bad-signature.der".into(), bad_sig));
    files.push((
        "truncated.der".into(),
        standard[..standard.len() / 2].to_vec(),
    ));
    files.push((
        "pem-crlf-line-endings.pem".into(),
        String::from_utf8(pem("X509 CRL", &standard))?
            .replace('\n', "\r\n")
            .into_bytes(),
    ));
    write_all(dir, &files)
}

//! A ClientHello written by hand, for what the probe's OpenSSL cannot ask: it offers DEFLATE
//! compression (the linked OpenSSL has no zlib) and the RFC 5746 renegotiation_info
//! extension, and the ServerHello that answers it says whether the server compresses and
//! whether it supports secure renegotiation. TLS 1.2 and older only: TLS 1.3 has neither.

use std::io::{Read, Write};

use super::conn::{self, End};

/// Compression methods.
pub const COMPRESSION_NULL: u8 = 0;
/// DEFLATE (RFC 3749).
pub const COMPRESSION_DEFLATE: u8 = 1;
/// The renegotiation_info extension (RFC 5746).
pub const EXT_RENEGOTIATION_INFO: u16 = 0xff01;

/// The groups offered: X25519, P-256, P-384, P-521, ffdhe2048.
const GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018, 0x0019, 0x0100];
/// Signature algorithms offered (TLS 1.2): ECDSA and RSA-PSS/PKCS#1 with SHA-2, Ed25519,
/// Ed448, and the SHA-1 pair for old servers.
const SIGNATURE_ALGORITHMS: &[u16] = &[
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0807, 0x0808, 0x0401, 0x0501, 0x0601, 0x0203,
    0x0201,
];

/// The bytes of a ClientHello record for `version` (wire value) offering `suites`, null and
/// DEFLATE compression, and renegotiation_info; `sni` is sent when given.
pub fn client_hello(version: u16, suites: &[u16], random: [u8; 32], sni: Option<&str>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&random);
    body.push(0); // no session id
    let suites: Vec<u16> = suites.iter().copied().take(0x7fff).collect();
    push_u16(&mut body, (suites.len() * 2) as u16);
    for s in &suites {
        push_u16(&mut body, *s);
    }
    body.extend_from_slice(&[2, COMPRESSION_DEFLATE, COMPRESSION_NULL]);
    let mut ext = Vec::new();
    extension(&mut ext, EXT_RENEGOTIATION_INFO, &[0]);
    let mut groups = Vec::new();
    push_u16(&mut groups, (GROUPS.len() * 2) as u16);
    GROUPS.iter().for_each(|g| push_u16(&mut groups, *g));
    extension(&mut ext, 0x000a, &groups);
    extension(&mut ext, 0x000b, &[1, 0]);
    if version >= 0x0303 {
        let mut algs = Vec::new();
        push_u16(&mut algs, (SIGNATURE_ALGORITHMS.len() * 2) as u16);
        SIGNATURE_ALGORITHMS
            .iter()
            .for_each(|a| push_u16(&mut algs, *a));
        extension(&mut ext, 0x000d, &algs);
    }
    if let Some(name) = sni.filter(|n| n.len() < 256) {
        let mut list = Vec::new();
        push_u16(&mut list, (name.len() + 3) as u16);
        list.push(0); // host_name
        push_u16(&mut list, name.len() as u16);
        list.extend_from_slice(name.as_bytes());
        extension(&mut ext, 0x0000, &list);
    }
    push_u16(&mut body, ext.len() as u16);
    body.extend_from_slice(&ext);
    let mut handshake = vec![1];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    push_u16(&mut record, handshake.len() as u16);
    record.extend_from_slice(&handshake);
    record
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    push_u16(out, kind);
    push_u16(out, data.len() as u16);
    out.extend_from_slice(data);
}

/// What the ServerHello said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    /// The version chosen (wire value).
    pub version: u16,
    /// The suite chosen.
    pub suite: u16,
    /// The compression method chosen.
    pub compression: u8,
    /// The extension types the server sent.
    pub extensions: Vec<u16>,
}

/// How the server answered the ClientHello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello.
    Hello(ServerHello),
    /// A fatal alert: its description number.
    Alert(u8),
    /// The connection ended or nothing came.
    Nothing(End),
    /// Bytes that are no ServerHello.
    Garbage(String),
}

/// The most bytes read while looking for the ServerHello.
const MAX_ANSWER: usize = 32 * 1024;

/// Sends `hello` on `io` and reads the answer.
pub fn exchange(io: &mut (impl Read + Write), hello: &[u8]) -> Answer {
    if let Err(e) = io.write_all(hello).and_then(|()| io.flush()) {
        return Answer::Nothing(conn::end_of(&e));
    }
    let mut buf = Vec::new();
    loop {
        match parse(&buf) {
            Parsed::Done(a) => return a,
            Parsed::More if buf.len() < MAX_ANSWER => {}
            Parsed::More => return Answer::Garbage(conn::hex(&buf)),
        }
        let mut chunk = [0u8; 4096];
        match io.read(&mut chunk) {
            Ok(0) => return Answer::Nothing(End::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Answer::Nothing(conn::end_of(&e)),
        }
    }
}

enum Parsed {
    Done(Answer),
    More,
}

/// Reads records from the front of `buf`: an alert, or handshake bytes up to a whole
/// ServerHello.
fn parse(buf: &[u8]) -> Parsed {
    let mut handshake = Vec::new();
    let mut at = 0;
    while let Some(header) = buf.get(at..at + 5) {
        let (kind, len) = (
            header[0],
            u16::from_be_bytes([header[3], header[4]]) as usize,
        );
        if !matches!(kind, 0x15 | 0x16) {
            return Parsed::Done(Answer::Garbage(conn::hex(buf)));
        }
        let Some(body) = buf.get(at + 5..at + 5 + len) else {
            return Parsed::More;
        };
        match kind {
            0x15 => {
                return Parsed::Done(match body {
                    [_, description, ..] => Answer::Alert(*description),
                    _ => Answer::Garbage(conn::hex(buf)),
                });
            }
            _ => handshake.extend_from_slice(body),
        }
        at += 5 + len;
        if let Some(hello) = server_hello(&handshake) {
            return Parsed::Done(hello);
        }
    }
    if buf.first().is_some_and(|b| !matches!(b, 0x15 | 0x16)) {
        return Parsed::Done(Answer::Garbage(conn::hex(buf)));
    }
    Parsed::More
}

/// The ServerHello at the front of handshake bytes, once whole.
fn server_hello(hs: &[u8]) -> Option<Answer> {
    let (&kind, rest) = hs.split_first()?;
    let len = u32::from_be_bytes([0, *rest.first()?, *rest.get(1)?, *rest.get(2)?]) as usize;
    let body = rest.get(3..3 + len)?;
    if kind != 2 {
        return Some(Answer::Garbage(conn::hex(hs)));
    }
    Some(decode_server_hello(body).map_or_else(|| Answer::Garbage(conn::hex(hs)), Answer::Hello))
}

fn decode_server_hello(b: &[u8]) -> Option<ServerHello> {
    let version = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
    let sid_len = *b.get(34)? as usize;
    let at = 35 + sid_len;
    let suite = u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]);
    let compression = *b.get(at + 2)?;
    let mut extensions = Vec::new();
    if let (Some(hi), Some(lo)) = (b.get(at + 3), b.get(at + 4)) {
        let total = u16::from_be_bytes([*hi, *lo]) as usize;
        let mut ext = b.get(at + 5..at + 5 + total)?;
        while ext.len() >= 4 {
            extensions.push(u16::from_be_bytes([ext[0], ext[1]]));
            let n = u16::from_be_bytes([ext[2], ext[3]]) as usize;
            ext = ext.get(4 + n..)?;
        }
    }
    Some(ServerHello {
        version,
        suite,
        compression,
        extensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ServerHello record as a server would send it.
    fn server_hello_record(compression: u8, extensions: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0xc0, 0x2c, compression]);
        let mut ext = Vec::new();
        for (k, d) in extensions {
            extension(&mut ext, *k, d);
        }
        push_u16(&mut body, ext.len() as u16);
        body.extend_from_slice(&ext);
        let mut hs = vec![2];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x03];
        push_u16(&mut rec, hs.len() as u16);
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn the_client_hello_offers_deflate_and_renegotiation_info() {
        let hello = client_hello(0x0303, &[0xc02c, 0x002f], [1; 32], Some("db.example"));
        assert_eq!(&hello[..3], [0x16, 0x03, 0x01]);
        let record_len = u16::from_be_bytes([hello[3], hello[4]]) as usize;
        assert_eq!(record_len, hello.len() - 5);
        assert_eq!(hello[5], 1, "ClientHello");
        let body = &hello[9..];
        assert_eq!(&body[..2], [0x03, 0x03]);
        // version, random, empty session id, then the suites.
        assert_eq!(&body[35..41], [0, 4, 0xc0, 0x2c, 0x00, 0x2f]);
        assert_eq!(&body[41..44], [2, COMPRESSION_DEFLATE, COMPRESSION_NULL]);
        let text = String::from_utf8_lossy(&hello);
        assert!(text.contains("db.example"));
        assert!(hello.windows(5).any(|w| w == [0xff, 0x01, 0, 1, 0]));
    }

    #[test]
    fn a_server_hello_gives_compression_and_extensions() {
        let rec = server_hello_record(0, &[(0xff01, &[0]), (0x000b, &[1, 0])]);
        assert_eq!(
            exchange(&mut Duplex::new(rec), b"x"),
            Answer::Hello(ServerHello {
                version: 0x0303,
                suite: 0xc02c,
                compression: 0,
                extensions: vec![0xff01, 0x000b],
            })
        );
        let rec = server_hello_record(1, &[]);
        match exchange(&mut Duplex::new(rec), b"x") {
            Answer::Hello(h) => {
                assert_eq!(h.compression, COMPRESSION_DEFLATE);
                assert!(h.extensions.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn alerts_closes_and_garbage_are_answers_too() {
        assert_eq!(
            exchange(&mut Duplex::new(vec![0x15, 3, 3, 0, 2, 2, 40]), b"x"),
            Answer::Alert(40)
        );
        assert_eq!(
            exchange(&mut Duplex::new(Vec::new()), b"x"),
            Answer::Nothing(End::Closed)
        );
        assert!(matches!(
            exchange(&mut Duplex::new(b"HTTP/1.1 400".to_vec()), b"x"),
            Answer::Garbage(_)
        ));
        // A truncated record then EOF.
        assert_eq!(
            exchange(&mut Duplex::new(vec![0x16, 3, 3, 0, 40, 2]), b"x"),
            Answer::Nothing(End::Closed)
        );
    }

    /// Reads from a fixed answer, accepts any write.
    struct Duplex(std::io::Cursor<Vec<u8>>);

    impl Duplex {
        fn new(answer: Vec<u8>) -> Self {
            Self(std::io::Cursor::new(answer))
        }
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

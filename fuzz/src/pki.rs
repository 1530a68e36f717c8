//! The fixed test PKI the certificate targets verify against. The files under `fuzz/pki/`
//! are written by `cargo run --example seed-corpus` (keys are kept once created, and the
//! certificates and CRL are re-signed deterministically: RSA PKCS#1 v1.5 and Ed25519
//! signatures, fixed dates and serials). The keys are test material with no other use.

use openssl::x509::{X509, X509Crl};

/// The root CA, `CN=pgssl fuzz root` (RSA 2048).
pub const CA_PEM: &[u8] = include_bytes!("../pki/ca.pem");
/// A CRL from the root revoking [`REVOKED_PEM`]'s serial.
pub const CRL_PEM: &[u8] = include_bytes!("../pki/crl.pem");
/// A valid client certificate for `alice`, issued by the root.
pub const ALICE_PEM: &[u8] = include_bytes!("../pki/alice.pem");
/// A client certificate issued by the root and listed in [`CRL_PEM`].
pub const REVOKED_PEM: &[u8] = include_bytes!("../pki/revoked.pem");

fn load(pem: &[u8], what: &str) -> X509 {
    X509::from_pem(pem).unwrap_or_else(|e| panic!("fuzz/pki/{what}: {e}; run the seed generator"))
}

/// The root CA.
pub fn ca() -> X509 {
    load(CA_PEM, "ca.pem")
}

/// The two leaf certificates: `alice` (good) and the revoked one.
pub fn leaves() -> [X509; 2] {
    [
        load(ALICE_PEM, "alice.pem"),
        load(REVOKED_PEM, "revoked.pem"),
    ]
}

/// The root's CRL.
pub fn crl() -> X509Crl {
    X509Crl::from_pem(CRL_PEM).unwrap_or_else(|e| panic!("fuzz/pki/crl.pem: {e}"))
}

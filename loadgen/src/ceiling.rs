//! The crypto ceiling: how many server handshakes one core of this machine could do if the
//! signature and the key exchanges were all it did, through the openssl crate (OpenSSL's EVP
//! layer, as the TLS stack uses it).

use std::time::{Duration, Instant};

use openssl::derive::Deriver;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::sign::Signer;

use crate::Error;

/// The crypto ceiling of one server handshake on this machine (one core).
#[derive(Clone, Debug, serde::Serialize)]
pub struct CryptoLimit {
    /// Key type.
    pub key: String,
    /// Signatures per second.
    pub sign_per_sec: f64,
    /// X25519 derivations per second.
    pub x25519_per_sec: f64,
    /// P-256 ECDH derivations per second.
    pub p256_ecdh_per_sec: f64,
    /// 1 / (t_sign + 2 t_x25519).
    pub handshakes_per_sec_x25519: f64,
    /// 1 / (t_sign + 2 t_p256).
    pub handshakes_per_sec_p256: f64,
}

impl CryptoLimit {
    /// The handshakes per second with the server's `groups`: X25519's when they start with
    /// it, else P-256's.
    pub fn for_groups(&self, groups: &str) -> f64 {
        if groups.to_ascii_lowercase().starts_with("x25519") {
            self.handshakes_per_sec_x25519
        } else {
            self.handshakes_per_sec_p256
        }
    }
}

/// Handshakes per second when each takes one signature and two key derivations.
pub fn handshakes_per_sec(sign_per_sec: f64, kex_per_sec: f64) -> f64 {
    1.0 / (1.0 / sign_per_sec + 2.0 / kex_per_sec)
}

/// Operations per second of `op`, timed for about a second.
fn rate(mut op: impl FnMut() -> Result<(), openssl::error::ErrorStack>) -> Result<f64, Error> {
    for _ in 0..10 {
        op()?;
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..10 {
            op()?;
        }
        n += 10;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Sign and key-exchange rates of `key` (the server certificate's), X25519 and P-256.
pub fn crypto_limit(key: &PKey<Private>) -> Result<CryptoLimit, Error> {
    let digest = [7u8; 32];
    let name = match key.id() {
        Id::RSA => "RSA-2048",
        Id::EC => "ECDSA P-256",
        _ => "key",
    };
    let sign_per_sec = rate(|| {
        let mut s = Signer::new(MessageDigest::sha256(), key)?;
        if key.id() == Id::RSA {
            s.set_rsa_padding(openssl::rsa::Padding::PKCS1_PSS)?;
        }
        s.update(&digest)?;
        s.sign_to_vec().map(|_| ())
    })?;
    let x_a = PKey::generate_x25519()?;
    let x_b = PKey::generate_x25519()?;
    let x25519_per_sec = rate(|| {
        let mut d = Deriver::new(&x_a)?;
        d.set_peer(&x_b)?;
        d.derive_to_vec().map(|_| ())
    })?;
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let p_a = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let p_b = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let p256_ecdh_per_sec = rate(|| {
        let mut d = Deriver::new(&p_a)?;
        d.set_peer(&p_b)?;
        d.derive_to_vec().map(|_| ())
    })?;
    Ok(CryptoLimit {
        key: name.into(),
        sign_per_sec,
        x25519_per_sec,
        p256_ecdh_per_sec,
        handshakes_per_sec_x25519: handshakes_per_sec(sign_per_sec, x25519_per_sec),
        handshakes_per_sec_p256: handshakes_per_sec(sign_per_sec, p256_ecdh_per_sec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_signature_and_two_derivations_per_handshake() {
        // 1 ms to sign, 0.5 ms per derivation: 2 ms a handshake.
        assert_eq!(handshakes_per_sec(1000.0, 2000.0), 500.0);
        let limit = CryptoLimit {
            key: "k".into(),
            sign_per_sec: 1000.0,
            x25519_per_sec: 2000.0,
            p256_ecdh_per_sec: 1000.0,
            handshakes_per_sec_x25519: 500.0,
            handshakes_per_sec_p256: 1000.0 / 3.0,
        };
        assert_eq!(limit.for_groups("X25519:prime256v1"), 500.0);
        assert_eq!(limit.for_groups("prime256v1"), 1000.0 / 3.0);
    }
}

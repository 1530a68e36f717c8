//! Tests of address and mask fields.

use crate::hba::test_support::*;
use crate::hba::*;
use crate::profile::Profile;

#[test]
fn address_messages() {
    for p in all_profiles() {
        assert_eq!(
            err(p, "host all all 127.0.0.1/33 trust\n"),
            "invalid CIDR mask in address \"127.0.0.1/33\""
        );
        assert_eq!(
            err(p, "host all all ::1/129 trust\n"),
            "invalid CIDR mask in address \"::1/129\""
        );
        assert_eq!(
            err(p, "host all all 127.0.0.1/x trust\n"),
            "invalid CIDR mask in address \"127.0.0.1/x\""
        );
        assert_eq!(
            err(p, "host all all 127.0.0.1 255.255.0.x trust\n"),
            "invalid IP mask \"255.255.0.x\": Name or service not known"
        );
    }
    for p in [Profile::Pg15, Profile::Pg18] {
        assert_eq!(
            err(p, "host all all 127.0.0.1 ffff:: trust\n"),
            "IP address and mask do not match"
        );
        assert_eq!(
            err(p, "host all all db.example.com/24 trust\n"),
            "specifying both host name and CIDR mask is invalid: \"db.example.com/24\""
        );
        let load = hba(
            p,
            "host all all .example.com trust\nhost all all \"all\" trust\n",
        );
        assert!(load.is_ok());
        assert_eq!(
            load.config.rows[0].address,
            Some(HbaAddress::Hostname(".example.com".into()))
        );
        assert_eq!(
            load.config.rows[1].address,
            Some(HbaAddress::Hostname("all".into()))
        );
    }
    // 8.4: no host names or keywords, and the older mismatch wording.
    assert_eq!(
        err(Profile::Seed, "host all all db.example.com trust\n"),
        "invalid IP address \"db.example.com\": Name or service not known"
    );
    assert_eq!(
        err(Profile::Seed, "host all all all trust\n"),
        "invalid IP address \"all\": Name or service not known"
    );
    let load = hba(Profile::Seed, "host all all 127.0.0.1 ffff:: trust\n");
    assert_eq!(
        load.render_log(),
        "LOG:  IP address and mask do not match in file \"/data/pg_hba.conf\" line 1\n"
    );
}

#[test]
fn addresses_parse_like_getaddrinfo() {
    let load = hba(
        Profile::Pg15,
        "host all all 127.1/32 trust\nhost all all 10.0.0.0 255.0.255.0 trust\nhost all all fe80::/10 trust\n",
    );
    assert!(load.is_ok(), "{}", load.render_log());
    let rows = &load.config.rows;
    assert_eq!(
        rows[0].address,
        Some(HbaAddress::Cidr {
            addr: "127.0.0.1".parse().unwrap(),
            mask: "255.255.255.255".parse().unwrap()
        })
    );
    assert_eq!(
        rows[1].address,
        Some(HbaAddress::Cidr {
            addr: "10.0.0.0".parse().unwrap(),
            mask: "255.0.255.0".parse().unwrap()
        })
    );
    assert_eq!(mask_prefix_len("255.0.255.0".parse().unwrap()), None);
    assert_eq!(mask_prefix_len("ffc0::".parse().unwrap()), Some(10));
}

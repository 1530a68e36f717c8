//! Tests of pg_hba.conf rows: the messages for bad fields, methods and options.

use crate::hba::test_support::*;
use crate::hba::*;
use crate::profile::Profile;

#[test]
fn render_has_log_and_context() {
    let load = hba(Profile::Pg15, "# comment\n\nfoo all all trust\n");
    assert_eq!(
        load.render_log(),
        "LOG:  invalid connection type \"foo\"\nCONTEXT:  line 3 of configuration file \"/data/pg_hba.conf\"\n"
    );
    assert!(!load.is_ok());
}

#[test]
fn end_of_line_messages() {
    for p in all_profiles() {
        assert_eq!(
            err(p, "local\n"),
            "end-of-line before database specification"
        );
        assert_eq!(
            err(p, "local all\n"),
            "end-of-line before role specification"
        );
        assert_eq!(
            err(p, "host all all\n"),
            "end-of-line before IP address specification"
        );
        assert_eq!(
            err(p, "local all all\n"),
            "end-of-line before authentication method"
        );
        assert_eq!(
            err(p, "host all all 127.0.0.1/32\n"),
            "end-of-line before authentication method"
        );
        assert_eq!(
            err(p, "host all all 127.0.0.1\n"),
            "end-of-line before netmask specification"
        );
    }
    let d = hba(Profile::Pg15, "host all all 127.0.0.1\n");
    assert_eq!(
        d.errors().next().and_then(|d| d.hint),
        Some("Specify an address range in CIDR notation, or provide a separate netmask.")
    );
    assert_eq!(
        hba(Profile::Seed, "host all all 127.0.0.1\n")
            .errors()
            .next()
            .and_then(|d| d.hint),
        None
    );
}

#[test]
fn multiple_values_messages() {
    for p in all_profiles() {
        let load = hba(p, "local,host all all trust\n");
        let d = load.errors().next().cloned();
        assert_eq!(
            d.as_ref().map(Diagnostic::message).unwrap_or_default(),
            "multiple values specified for connection type"
        );
        assert_eq!(
            d.and_then(|d| d.hint),
            Some("Specify exactly one connection type per line.")
        );
        assert_eq!(
            err(p, "host all all 127.0.0.1/32,::1/128 trust\n"),
            "multiple values specified for host address"
        );
        assert_eq!(
            err(p, "host all all 127.0.0.1 255.0.0.0,255.0.0.0 trust\n"),
            "multiple values specified for netmask"
        );
        assert_eq!(
            err(p, "local all all trust,reject\n"),
            "multiple values specified for authentication type"
        );
    }
    let load = hba(Profile::Pg18, "host all all 1.2.3.4/32,5.6.7.8/32 trust\n");
    assert_eq!(
        load.errors().next().and_then(|d| d.hint),
        Some("Specify one address range per line.")
    );
    let load = hba(Profile::Pg18, "local all all trust,reject\n");
    assert_eq!(
        load.errors().next().and_then(|d| d.hint),
        Some("Specify exactly one authentication type per line.")
    );
}

#[test]
fn connection_types_per_profile() {
    for p in all_profiles() {
        assert_eq!(
            err(p, "hostx all all all trust\n"),
            "invalid connection type \"hostx\""
        );
    }
    assert_eq!(
        err(Profile::Seed, "hostgssenc all all 1.2.3.4/32 trust\n"),
        "invalid connection type \"hostgssenc\""
    );
    for p in [Profile::Pg15, Profile::Pg18] {
        for ct in ["host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"] {
            assert!(hba(p, &format!("{ct} all all all trust\n")).is_ok(), "{ct}");
        }
    }
}

#[test]
fn method_messages() {
    for p in all_profiles() {
        assert_eq!(
            err(p, "local all all magic\n"),
            "invalid authentication method \"magic\""
        );
        assert_eq!(
            err(p, "host all all 127.0.0.1/32 cert\n"),
            "cert authentication is only supported on hostssl connections"
        );
        assert_eq!(
            err(p, "local all all gss\n"),
            "gssapi authentication is not supported on local sockets"
        );
    }
    for p in [Profile::Pg15, Profile::Pg18] {
        assert_eq!(
            err(p, "host all all all peer\n"),
            "peer authentication is only supported on local sockets"
        );
        assert_eq!(
            err(p, "local all all krb5\n"),
            "invalid authentication method \"krb5\""
        );
        let load = hba(p, "local all all ident\n");
        assert_eq!(load.config.rows[0].method, AuthMethod::Peer);
    }
    assert_eq!(
        err(Profile::Seed, "local all all krb5\n"),
        "krb5 authentication is not supported on local sockets"
    );
    assert_eq!(
        err(Profile::Seed, "local all all scram-sha-256\n"),
        "invalid authentication method \"scram-sha-256\""
    );
    assert_eq!(
        err(Profile::Pg15, "host all all all oauth\n"),
        "invalid authentication method \"oauth\""
    );
    assert_eq!(
        hba(Profile::Seed, "local all all ident\n").config.rows[0].method,
        AuthMethod::Ident
    );

    let no_sspi = BuildFeatures {
        sspi: false,
        ..BuildFeatures::ALL
    };
    let opts = ParseOptions::new(Profile::Pg15).with_build(no_sspi);
    let load = parse_hba_str("host all all all sspi\n", PATH, &opts);
    assert_eq!(
        load.errors()
            .next()
            .map(Diagnostic::message)
            .unwrap_or_default(),
        "invalid authentication method \"sspi\": not supported by this build"
    );
    let opts = ParseOptions::new(Profile::Seed).with_build(no_sspi);
    let load = parse_hba_str("host all all 0.0.0.0/0 sspi\n", PATH, &opts);
    assert_eq!(
        load.errors()
            .next()
            .map(Diagnostic::message)
            .unwrap_or_default(),
        "invalid authentication method \"sspi\": not supported on this platform"
    );
    // every listed method parses somewhere
    for m in [
        "trust",
        "reject",
        "password",
        "md5",
        "scram-sha-256",
        "gss",
        "sspi",
        "ident",
        "pam",
        "bsd",
    ] {
        assert!(
            hba(Profile::Pg15, &format!("host all all all {m}\n")).is_ok(),
            "{m}"
        );
    }
    assert!(hba(Profile::Pg15, "hostssl all all all cert\n").is_ok());
    assert!(hba(Profile::Pg15, "local all all peer\n").is_ok());
}

#[test]
fn option_messages() {
    for p in all_profiles() {
        assert_eq!(
            err(p, "hostssl all all 0.0.0.0/0 md5 clientcert\n"),
            "authentication option not in name=value format: clientcert"
        );
        assert_eq!(
            err(p, "host all all 0.0.0.0/0 md5 clientcert=1\n"),
            "clientcert can only be configured for \"hostssl\" rows"
        );
    }
    for p in [Profile::Pg15, Profile::Pg18] {
        assert_eq!(
            err(p, "host all all all md5 foo=bar\n"),
            "unrecognized authentication option name: \"foo\""
        );
        assert_eq!(
            err(p, "hostssl all all all md5 clientcert=1\n"),
            "invalid value for clientcert: \"1\""
        );
        assert_eq!(
            err(p, "hostssl all all all md5 clientcert=0\n"),
            "invalid value for clientcert: \"0\""
        );
        assert_eq!(
            err(p, "hostssl all all all md5 clientcert=no-verify\n"),
            "invalid value for clientcert: \"no-verify\""
        );
        assert_eq!(
            err(p, "hostssl all all all cert clientcert=verify-ca\n"),
            "clientcert only accepts \"verify-full\" when using \"cert\" authentication"
        );
        assert_eq!(
            err(p, "host all all all md5 clientname=CN\n"),
            "clientname can only be configured for \"hostssl\" rows"
        );
        assert_eq!(
            err(p, "hostssl all all all md5 clientname=cn\n"),
            "invalid value for clientname: \"cn\""
        );
        assert_eq!(
            err(p, "host all all all md5 ldapserver=x\n"),
            "authentication option \"ldapserver\" is only valid for authentication methods ldap"
        );
        let load = hba(
            p,
            "hostssl all all all md5 clientcert=verify-ca clientname=DN\nhostssl all all all cert map=m\n",
        );
        assert!(load.is_ok(), "{}", load.render_log());
        assert_eq!(load.config.rows[0].clientcert, ClientCertMode::VerifyCa);
        assert_eq!(load.config.rows[0].clientname, ClientCertName::Dn);
        assert_eq!(load.config.rows[1].clientcert, ClientCertMode::VerifyFull);
        assert_eq!(load.config.rows[1].map.as_deref(), Some("m"));
    }
    assert_eq!(
        err(Profile::Pg15, "host all all all md5 map=x\n"),
        "authentication option \"map\" is only valid for authentication methods ident, peer, gssapi, sspi, and cert"
    );
    assert_eq!(
        err(Profile::Pg18, "host all all all md5 map=x\n"),
        "authentication option \"map\" is only valid for authentication methods ident, peer, gssapi, sspi, cert, and oauth"
    );
    // 8.4 semantics
    assert_eq!(
        err(Profile::Seed, "host all all 0.0.0.0/0 md5 foo=bar\n"),
        "unknown authentication option name: \"foo\""
    );
    assert_eq!(
        err(
            Profile::Seed,
            "hostssl all all 0.0.0.0/0 md5 clientcert=verify-ca\n"
        ),
        "invalid value for clientcert: \"verify-ca\""
    );
    assert_eq!(
        err(
            Profile::Seed,
            "hostssl all all 0.0.0.0/0 md5 clientcert=verify-full\n"
        ),
        "invalid value for clientcert: \"verify-full\""
    );
    assert_eq!(
        err(
            Profile::Seed,
            "hostssl all all 0.0.0.0/0 md5 clientname=CN\n"
        ),
        "unknown authentication option name: \"clientname\""
    );
    assert_eq!(
        err(
            Profile::Seed,
            "hostssl all all 0.0.0.0/0 cert clientcert=0\n"
        ),
        "clientcert can not be set to 0 when using \"cert\" authentication"
    );
    let load = hba(
        Profile::Seed,
        "hostssl all all 0.0.0.0/0 md5 clientcert=1\nhostssl all all 0.0.0.0/0 md5 clientcert=0\nhostssl all all 0.0.0.0/0 cert\n",
    );
    assert!(load.is_ok(), "{}", load.render_log());
    let modes: Vec<ClientCertMode> = load.config.rows.iter().map(|r| r.clientcert).collect();
    assert_eq!(
        modes,
        [
            ClientCertMode::VerifyCa,
            ClientCertMode::Off,
            ClientCertMode::VerifyFull
        ]
    );
}

#[test]
fn method_specific_option_checks() {
    let p = Profile::Pg15;
    assert_eq!(
        err(p, "host all all all ldap ldapserver=h\n"),
        "authentication method \"ldap\" requires argument \"ldapbasedn\", \"ldapprefix\", or \"ldapsuffix\" to be set"
    );
    assert_eq!(
        err(p, "host all all all ldap ldapprefix=a ldapbasedn=b\n"),
        "cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute, ldapsearchfilter, or ldapurl together with ldapprefix"
    );
    assert_eq!(
        err(
            Profile::Pg18,
            "host all all all ldap ldapprefix=a ldapbasedn=b\n"
        ),
        "cannot mix options for simple bind and search+bind modes"
    );
    assert_eq!(
        err(
            p,
            "host all all all ldap ldapbasedn=b ldapsearchattribute=uid ldapsearchfilter=x\n"
        ),
        "cannot use ldapsearchattribute together with ldapsearchfilter"
    );
    assert_eq!(
        err(p, "host all all all ldap ldapbasedn=b ldapport=abc\n"),
        "invalid LDAP port number: \"abc\""
    );
    assert_eq!(
        err(Profile::Seed, "host all all 0.0.0.0/0 ldap ldapprefix=a\n"),
        "authentication method \"ldap\" requires argument \"ldapserver\" to be set"
    );
    let load = hba(p, "host all all all ldap ldapbasedn=b ldapscheme=http\n");
    assert!(load.is_ok());
    assert_eq!(
        load.diagnostics[0].message(),
        "invalid ldapscheme value: \"http\""
    );
    assert!(hba(p, "host all all all ldap \"ldapurl=ldap://h/dc=x?uid\"\n").is_ok());

    assert_eq!(
        err(p, "host all all all radius radiussecrets=s\n"),
        "authentication method \"radius\" requires argument \"radiusservers\" to be set"
    );
    assert_eq!(
        err(p, "host all all all radius radiusservers=a\n"),
        "authentication method \"radius\" requires argument \"radiussecrets\" to be set"
    );
    assert_eq!(
        err(
            p,
            "host all all all radius \"radiusservers=a,b,c\" \"radiussecrets=x,y\"\n"
        ),
        "the number of RADIUS secrets (2) must be 1 or the same as the number of RADIUS servers (3)"
    );
    assert_eq!(
        err(
            p,
            "host all all all radius \"radiusservers=a, b\" radiussecrets=x \"radiusports=1,2,3\"\n"
        ),
        "the number of RADIUS ports (3) must be 1 or the same as the number of RADIUS servers (2)"
    );
    assert_eq!(
        err(
            p,
            "host all all all radius radiusservers=a radiussecrets=x \"radiusidentifiers=i,j\"\n"
        ),
        "the number of RADIUS identifiers (2) must be 1 or the same as the number of RADIUS servers (1)"
    );
    assert_eq!(
        err(
            p,
            "host all all all radius radiusservers=a radiussecrets=x radiusports=0\n"
        ),
        "invalid RADIUS port number: \"0\""
    );
    assert_eq!(
        err(p, "host all all all radius \"radiusservers=a,,b\"\n"),
        "could not parse RADIUS server list \"a,,b\""
    );
    assert_eq!(
        err(
            p,
            "host all all all radius radiusservers=a \"radiusports=\"\"1\"\n"
        ),
        "could not parse RADIUS port list \"\"1\""
    );
    assert_eq!(
        err(
            p,
            "host all all all radius radiusservers=a \"radiussecrets=\"\"x\"\n"
        ),
        "could not parse RADIUS secret list \"\"x\""
    );
    assert_eq!(
        err(
            p,
            "host all all all radius radiusservers=a \"radiusidentifiers=\"\"x\"\n"
        ),
        "could not parse RADIUS identifiers list \"\"x\""
    );

    let p = Profile::Pg18;
    assert_eq!(
        err(p, "host all all all oauth issuer=i\n"),
        "authentication method \"oauth\" requires argument \"scope\" to be set"
    );
    assert_eq!(
        err(p, "host all all all oauth scope=s\n"),
        "authentication method \"oauth\" requires argument \"issuer\" to be set"
    );
    assert_eq!(
        err(
            p,
            "host all all all oauth scope=s issuer=i delegate_ident_mapping=1 map=m\n"
        ),
        "map cannot be used in combination with delegate_ident_mapping"
    );
}

#[test]
fn hostssl_with_ssl_off() {
    let text = "hostssl all all all md5\n";
    let t15 = text;
    for (p, hint) in [
        (Profile::Pg15, "Set ssl = on in postgresql.conf."),
        (Profile::Pg18, "Set \"ssl = on\" in postgresql.conf."),
    ] {
        let opts = ParseOptions::new(p).with_ssl(false);
        let load = parse_hba_str(t15, PATH, &opts);
        assert!(load.is_ok(), "only a warning");
        assert_eq!(load.config.rows.len(), 1);
        assert_eq!(
            load.render_log(),
            format!(
                "LOG:  hostssl record cannot match because SSL is disabled\nHINT:  {hint}\nCONTEXT:  line 1 of configuration file \"/data/pg_hba.conf\"\n"
            )
        );
    }
    let opts = ParseOptions::new(Profile::Seed).with_ssl(false);
    let load = parse_hba_str("hostssl all all 0.0.0.0/0 md5\n", PATH, &opts);
    assert!(!load.is_ok());
    assert_eq!(
        load.diagnostics[0].message(),
        "hostssl requires SSL to be turned on"
    );
    assert_eq!(
        load.diagnostics[0].hint,
        Some("Set ssl = on in postgresql.conf.")
    );

    let opts = ParseOptions::new(Profile::Pg15).with_build(BuildFeatures {
        gssapi: false,
        ..BuildFeatures::ALL
    });
    let load = parse_hba_str("hostgssenc all all all md5\n", PATH, &opts);
    assert!(load.is_ok());
    assert_eq!(
        load.diagnostics[0].message(),
        "hostgssenc record cannot match because GSSAPI is not supported by this build"
    );
}

#[test]
fn regex_fields_are_16_plus() {
    let text = "local \"/^db\\d+$\" /^app_ trust\n";
    let load = hba(Profile::Pg18, text);
    assert!(load.is_ok(), "{}", load.render_log());
    assert!(load.config.rows[0].databases[0].regex().is_some());
    assert!(load.config.rows[0].users[0].regex().is_some());
    let load = hba(Profile::Pg15, text);
    assert!(load.config.rows[0].users[0].regex().is_none());
    assert_eq!(
        err(Profile::Pg18, "local /( all trust\n"),
        "invalid regular expression \"(\": parentheses () not balanced"
    );
    assert!(hba(Profile::Pg15, "local /( all trust\n").is_ok());
}

#[test]
fn empty_file() {
    for p in [Profile::Pg15, Profile::Pg18] {
        let load = hba(p, "# nothing\n");
        assert_eq!(
            load.render_log(),
            "LOG:  configuration file \"/data/pg_hba.conf\" contains no entries\n"
        );
        assert!(!load.is_ok());
    }
    assert!(hba(Profile::Seed, "").is_ok());
}

#[test]
fn errors_on_several_lines_are_all_reported() {
    let load = hba(
        Profile::Pg15,
        "local all all trust\nfoo\nlocal all all magic\nlocal all all reject\n",
    );
    let lines: Vec<usize> = load
        .errors()
        .filter_map(|d| d.context.as_ref().map(|c| c.1))
        .collect();
    assert_eq!(lines, [2, 3]);
    assert_eq!(load.config.rows.len(), 2);
}

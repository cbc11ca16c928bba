//! The user a verified client certificate names, for the EXTERNAL SASL mechanism (as
//! RabbitMQ's `rabbitmq_auth_mechanism_ssl`): its subject's common name, or a
//! subjectAltName entry, per `tls.cert_login_from`.

use std::net::IpAddr;
use std::sync::Arc;

use warren_broker::access::{AccessControl, User};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::auth::AuthError;
use crate::config::CertLoginFrom;

/// EXTERNAL login: the user `name` (from [`login_name`]) must exist; no password is
/// checked, the TLS handshake verified the certificate. `loopback_users` still may only
/// log in from a loopback address, as with any mechanism in RabbitMQ.
pub fn external_login(
    access: &AccessControl,
    loopback_users: &[String],
    name: &Result<String, String>,
    peer: IpAddr,
) -> Result<Arc<User>, AuthError> {
    let name = name
        .as_ref()
        .map_err(|why| AuthError::External(why.clone()))?;
    let user = access
        .user(name)
        .ok_or_else(|| AuthError::External(format!("user '{name}' does not exist")))?;
    if loopback_users.contains(&user.name) && !crate::auth::is_loopback(peer) {
        return Err(AuthError::LoopbackOnly(user.name.clone()));
    }
    Ok(user)
}

/// The login name in the DER certificate `der`, or why there is none (logged when an
/// EXTERNAL login is refused).
pub fn login_name(der: &[u8], from: CertLoginFrom) -> Result<String, String> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("the client certificate cannot be parsed: {e}"))?;
    match from {
        CertLoginFrom::CommonName => {
            // Several CNs are joined with "," as RabbitMQ does.
            let names = cert
                .subject()
                .iter_common_name()
                .map(|cn| {
                    cn.as_str()
                        .map(str::to_owned)
                        .map_err(|e| format!("the certificate's CN is not a string: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if names.is_empty() {
                return Err("the certificate's subject has no common name (CN)".into());
            }
            Ok(names.join(","))
        }
        CertLoginFrom::SubjectAlternativeName => {
            let san = cert
                .subject_alternative_name()
                .map_err(|e| format!("the certificate's subjectAltName is invalid: {e}"))?
                .ok_or("the certificate has no subjectAltName extension")?;
            // RabbitMQ's defaults: ssl_cert_login_san_type = dns, ssl_cert_login_san_index
            // = 0 (rabbit_ssl:peer_cert_auth_name in 3.10.8); no other type is tried.
            san.value
                .general_names
                .iter()
                .find_map(|n| match n {
                    GeneralName::DNSName(name) => Some((*name).to_owned()),
                    _ => None,
                })
                .ok_or_else(|| "the certificate's subjectAltName has no DNS name".into())
        }
    }
}

/// A certificate's subject and issuer as RabbitMQ's management API shows them
/// (`peer_cert_subject`: RFC 4514 order, most specific first, `CN=alice,O=clients`), or
/// `None` for a certificate that does not parse.
pub fn subject_and_issuer(der: &[u8]) -> Option<(String, String)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let rfc4514 = |name: &x509_parser::x509::X509Name<'_>| {
        let text = name.to_string();
        let mut parts: Vec<&str> = text.split(", ").collect();
        parts.reverse();
        parts.join(",")
    };
    Some((rfc4514(cert.subject()), rfc4514(cert.issuer())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cns: &[&str], sans: Vec<rcgen::SanType>) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "Warren tests");
        for cn in cns {
            dn.push(rcgen::DnType::CommonName, *cn);
        }
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn common_name_and_subject_alternative_name() {
        let der = cert(
            &["alice"],
            vec![
                rcgen::SanType::Rfc822Name("alice@example.com".try_into().unwrap()),
                rcgen::SanType::DnsName("alice.example.com".try_into().unwrap()),
            ],
        );
        assert_eq!(
            login_name(&der, CertLoginFrom::CommonName).unwrap(),
            "alice"
        );
        assert_eq!(
            login_name(&der, CertLoginFrom::SubjectAlternativeName).unwrap(),
            "alice.example.com"
        );
        let email_only = cert(
            &["bob"],
            vec![rcgen::SanType::Rfc822Name(
                "bob@example.com".try_into().unwrap(),
            )],
        );
        // Only DNS names count, as in RabbitMQ (ssl_cert_login_san_type = dns).
        assert!(
            login_name(&email_only, CertLoginFrom::SubjectAlternativeName)
                .unwrap_err()
                .contains("no DNS name")
        );
    }

    #[test]
    fn external_login_needs_an_existing_user_and_keeps_loopback_users_local() {
        let access = AccessControl::new();
        access.put_user(User::with_password("alice", "secret", vec![]));
        access.put_user(User::with_password("guest", "guest", vec![]));
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let remote: IpAddr = "10.0.0.7".parse().unwrap();
        let loopback = vec!["guest".to_owned()];
        let login = |name: Result<String, String>, peer| {
            external_login(&access, &loopback, &name, peer).map(|u| u.name.clone())
        };
        assert_eq!(login(Ok("alice".into()), remote).unwrap(), "alice");
        assert!(matches!(
            login(Ok("mallory".into()), local),
            Err(AuthError::External(why)) if why.contains("'mallory' does not exist")
        ));
        assert!(matches!(
            login(Err("no certificate".into()), local),
            Err(AuthError::External(why)) if why == "no certificate"
        ));
        assert_eq!(login(Ok("guest".into()), local).unwrap(), "guest");
        // How a dual-stack listener sees a local IPv4 client.
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(login(Ok("guest".into()), mapped).unwrap(), "guest");
        assert!(matches!(
            login(Ok("guest".into()), remote),
            Err(AuthError::LoopbackOnly(_))
        ));
    }

    #[test]
    fn subject_and_issuer_read_most_specific_first() {
        let der = cert(&["alice"], vec![]);
        let (subject, issuer) = subject_and_issuer(&der).unwrap();
        assert_eq!(subject, "CN=alice,O=Warren tests");
        assert_eq!(issuer, subject, "self-signed");
        assert!(subject_and_issuer(b"junk").is_none());
    }

    #[test]
    fn missing_names_and_garbage_are_reasons_not_panics() {
        let no_cn = cert(&[], vec![]);
        assert!(login_name(&no_cn, CertLoginFrom::CommonName)
            .unwrap_err()
            .contains("no common name"));
        assert!(login_name(&no_cn, CertLoginFrom::SubjectAlternativeName)
            .unwrap_err()
            .contains("no subjectAltName"));
        assert!(login_name(b"\x30\x03\x02\x01", CertLoginFrom::CommonName).is_err());
        assert!(login_name(&[], CertLoginFrom::CommonName).is_err());
    }
}

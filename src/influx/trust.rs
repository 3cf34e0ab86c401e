//! Which server certificates a client trusts when a CA file is given.
//!
//! A CA file may hold a CA (the server's certificate must chain to it, as usual) or the
//! server's own self-signed certificate. InfluxDB's HTTPS guide makes the latter with
//! `openssl req -x509`, which marks it `CA:TRUE`, and WebPKI refuses a CA certificate
//! as a server's own. So a certificate WebPKI refuses is still accepted when it is
//! byte for byte one of the CA file's certificates (pinned), names the host connected
//! to and is within its validity period. The handshake signature is always checked by
//! WebPKI, so the server must hold the pinned certificate's private key.
//!
//! The guide's recipe names the host only in the subject CN. A pinned certificate
//! without any subjectAltName extension is therefore checked against its CN (the
//! exact host name, or the URL's IP address); any other certificate by its
//! subjectAltName alone, as WebPKI does.

use crate::influx::certificate;
use crate::influx::error::ClientError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_name, WebPkiServerVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The TLS set-up of a client that trusts the certificates of `ca_file` (a CA or the
/// server's own certificate) besides the public roots.
pub(crate) fn tls_config(ca_file: &Path) -> Result<rustls::ClientConfig, ClientError> {
    let pinned = read_pem(ca_file)?;
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let (added, _) = roots.add_parsable_certificates(pinned.iter().cloned());
    if added == 0 {
        return Err(ClientError::Setup(format!(
            "CA file {} holds no certificate usable as a trust anchor",
            ca_file.display()
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| ClientError::Setup(format!("CA file {}: {e}", ca_file.display())))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinningVerifier { inner, pinned }))
        .with_no_client_auth();
    // What reqwest offers itself without its http2 feature.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The PEM certificates of `path`; at least one.
fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let pem = std::fs::read(path)
        .map_err(|e| ClientError::Setup(format!("cannot read CA file {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::Setup(format!("CA file {} is not PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ClientError::Setup(format!(
            "CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// WebPKI, plus the CA file's certificates pinned as server certificates.
#[derive(Debug)]
struct PinningVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl PinningVerifier {
    /// Accepts a pinned certificate WebPKI refused, if it names the host and is
    /// valid `now`.
    fn accept_pinned(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let parsed = ParsedCertificate::try_from(end_entity)?;
        if let Err(refused) = verify_server_name(&parsed, server_name) {
            common_name_check(end_entity, server_name, refused)?;
        }
        let period = certificate::validity(end_entity)
            .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let now_ns =
            i64::try_from(Duration::from_secs(now.as_secs()).as_nanos()).unwrap_or(i64::MAX);
        if period.contains(now_ns) {
            return Ok(ServerCertVerified::assertion());
        }
        let at = |ns: i64| UnixTime::since_unix_epoch(Duration::from_nanos(ns.max(0) as u64));
        Err(Error::InvalidCertificate(if now_ns < period.not_before {
            CertificateError::NotValidYetContext {
                time: now,
                not_before: at(period.not_before),
            }
        } else {
            CertificateError::ExpiredContext {
                time: now,
                not_after: at(period.not_after),
            }
        }))
    }
}

/// Checks the host name against the CN of a pinned certificate that has no
/// subjectAltName extension; `refused` is WebPKI's verdict, kept for any other
/// certificate.
fn common_name_check(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    refused: Error,
) -> Result<(), Error> {
    let names = certificate::subject_names(end_entity)
        .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let common_name = match names.common_name {
        Some(cn) if !names.has_alt_names => cn,
        _ => return Err(refused),
    };
    if names_host(&common_name, server_name) {
        return Ok(());
    }
    Err(Error::InvalidCertificate(
        CertificateError::NotValidForNameContext {
            expected: server_name.to_owned(),
            presented: vec![format!("CommonName({common_name:?})")],
        },
    ))
}

/// Whether a CN is the host connected to: the same DNS name (ASCII case ignored, no
/// wildcards) or the same IP address.
fn names_host(common_name: &str, server_name: &ServerName<'_>) -> bool {
    match server_name {
        ServerName::DnsName(dns) => common_name.eq_ignore_ascii_case(dns.as_ref()),
        ServerName::IpAddress(ip) => common_name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|cn| cn == std::net::IpAddr::from(*ip)),
        _ => false,
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(Error::InvalidCertificate(_)) if self.pinned.iter().any(|c| c == end_entity) => {
                self.accept_pinned(end_entity, server_name, now)
            }
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Servers already warned about, so that each warning is logged once however many
/// clients a run builds.
static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Logs, once per server, that its certificate is not checked.
pub(crate) fn warn_unverified(url: &str, ca_file_ignored: bool) {
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if !warned.insert(url.to_string()) {
        return;
    }
    let ignored = if ca_file_ignored {
        " (its CA file is ignored)"
    } else {
        ""
    };
    tracing::warn!(
        "TLS certificate verification is off for {url}{ignored}: anyone on the path can \
         read and change what is copied; use a CA file instead outside test setups"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA file that cannot be read or holds no certificate is a setup error naming
    /// the file.
    #[test]
    fn unusable_ca_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = tls_config(&missing).unwrap_err().to_string();
        assert!(
            e.contains("cannot read CA file") && e.contains("missing.pem"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = tls_config(&empty).unwrap_err().to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
    }

    /// `openssl req -x509 ... -addext subjectAltName=DNS:localhost,IP:127.0.0.1`
    /// (CA:TRUE), valid from 2026-11-22T02:27:10Z to 2026-12-22T02:27:10Z.
    const LOCALHOST: &str = include_str!("testdata/localhost-selfsigned.pem");
    /// The guide's recipe without subjectAltName (CN=localhost only).
    const GUIDE: &str = include_str!("testdata/guide-selfsigned.pem");

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    fn verifier(ca_pem: &str) -> PinningVerifier {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates([der(ca_pem)]);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        PinningVerifier {
            inner: WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap(),
            pinned: vec![der(ca_pem)],
        }
    }

    fn at(time: &str) -> UnixTime {
        let secs = crate::core::window::parse_time_ns(time).unwrap() / 1_000_000_000;
        UnixTime::since_unix_epoch(Duration::from_secs(secs as u64))
    }

    fn verify(ca_pem: &str, server_pem: &str, host: &str, time: &str) -> Result<(), Error> {
        let name = ServerName::try_from(host.to_string()).unwrap();
        verifier(ca_pem)
            .verify_server_cert(&der(server_pem), &[], &name, &[], at(time))
            .map(|_| ())
    }

    /// A pinned CA:TRUE self-signed certificate, which WebPKI alone refuses, is
    /// accepted for the names it lists while it is valid, and refused for another
    /// name, before and after its validity period.
    #[test]
    fn pinned_self_signed_ca_certificate() {
        let during = "2026-12-01T00:00:00Z";
        assert!(matches!(
            verifier(LOCALHOST).inner.verify_server_cert(
                &der(LOCALHOST),
                &[],
                &ServerName::try_from("localhost").unwrap(),
                &[],
                at(during),
            ),
            Err(Error::InvalidCertificate(CertificateError::Other(_)))
        ));
        assert_eq!(verify(LOCALHOST, LOCALHOST, "localhost", during), Ok(()));
        assert_eq!(verify(LOCALHOST, LOCALHOST, "127.0.0.1", during), Ok(()));
        let other = verify(LOCALHOST, LOCALHOST, "db.example", during).unwrap_err();
        assert!(
            matches!(
                &other,
                Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })
            ),
            "{other:?}"
        );
        let late = verify(LOCALHOST, LOCALHOST, "localhost", "2027-01-01").unwrap_err();
        assert!(
            matches!(
                &late,
                Error::InvalidCertificate(CertificateError::ExpiredContext { .. })
            ),
            "{late:?}"
        );
        let early = verify(LOCALHOST, LOCALHOST, "localhost", "2026-01-01").unwrap_err();
        assert!(
            matches!(
                &early,
                Error::InvalidCertificate(CertificateError::NotValidYetContext { .. })
            ),
            "{early:?}"
        );
    }

    /// `-subj /CN=127.0.0.1`, no subjectAltName (CA:TRUE, P-256), valid from
    /// 2026-11-22T03:15:17Z for 30 days.
    const IP_CN: &str = include_str!("testdata/ip-cn-selfsigned.pem");
    /// `-subj /CN=localhost -addext subjectAltName=DNS:otherhost` (CA:TRUE, P-256).
    const CN_AND_SAN: &str = include_str!("testdata/cn-and-san-selfsigned.pem");
    /// A CA, and a CA:FALSE certificate for `/CN=localhost` without subjectAltName it
    /// signed.
    const TEST_CA: &str = include_str!("testdata/test-ca.pem");
    const CA_SIGNED_NO_SAN: &str = include_str!("testdata/ca-signed-no-san.pem");

    /// Whether `e` is a name mismatch presenting exactly `names`.
    fn mismatch(e: &Error, names: &[&str]) -> bool {
        matches!(
            e,
            Error::InvalidCertificate(CertificateError::NotValidForNameContext { presented, .. })
                if presented == names
        )
    }

    /// A certificate that is not the pinned one is refused as WebPKI refuses it (a
    /// CA:TRUE one as a CA used as a server certificate).
    #[test]
    fn unpinned_certificate() {
        let during = "2026-12-01T00:00:00Z";
        let unpinned = verify(GUIDE, LOCALHOST, "localhost", during).unwrap_err();
        assert!(
            unpinned.to_string().contains("CaUsedAsEndEntity"),
            "{unpinned:?}"
        );
    }

    /// A pinned certificate without subjectAltName (the guide's recipe as written) is
    /// checked against its CN: the same name in any case, or the same IP address;
    /// another name is a mismatch presenting the CN; the dates still count.
    #[test]
    fn pinned_certificate_without_subject_alt_name_by_its_cn() {
        let during = "2026-12-01T00:00:00Z";
        assert_eq!(verify(GUIDE, GUIDE, "localhost", during), Ok(()));
        assert_eq!(verify(GUIDE, GUIDE, "LocalHost", during), Ok(()));
        let other = verify(GUIDE, GUIDE, "otherhost", during).unwrap_err();
        assert!(
            mismatch(&other, &["CommonName(\"localhost\")"]),
            "{other:?}"
        );
        let sub = verify(GUIDE, GUIDE, "db.localhost", during).unwrap_err();
        assert!(mismatch(&sub, &["CommonName(\"localhost\")"]), "{sub:?}");
        let by_ip = verify(GUIDE, GUIDE, "127.0.0.1", during).unwrap_err();
        assert!(
            mismatch(&by_ip, &["CommonName(\"localhost\")"]),
            "{by_ip:?}"
        );
        let late = verify(GUIDE, GUIDE, "localhost", "2027-01-01").unwrap_err();
        assert!(
            matches!(
                &late,
                Error::InvalidCertificate(CertificateError::ExpiredContext { .. })
            ),
            "{late:?}"
        );

        assert_eq!(verify(IP_CN, IP_CN, "127.0.0.1", during), Ok(()));
        let other_ip = verify(IP_CN, IP_CN, "127.0.0.2", during).unwrap_err();
        assert!(
            mismatch(&other_ip, &["CommonName(\"127.0.0.1\")"]),
            "{other_ip:?}"
        );
        assert!(verify(IP_CN, IP_CN, "localhost", during).is_err());
    }

    /// The CN is not read when the certificate has a subjectAltName, nor for a
    /// certificate that chains to a CA rather than being pinned itself: both keep
    /// WebPKI's subjectAltName-only rule.
    #[test]
    fn common_name_only_for_pinned_certificates_without_subject_alt_name() {
        let during = "2026-12-01T00:00:00Z";
        let san_wins = verify(CN_AND_SAN, CN_AND_SAN, "localhost", during).unwrap_err();
        assert!(
            mismatch(&san_wins, &["DnsName(\"otherhost\")"]),
            "{san_wins:?}"
        );
        assert_eq!(verify(CN_AND_SAN, CN_AND_SAN, "otherhost", during), Ok(()));
        let chained = verify(TEST_CA, CA_SIGNED_NO_SAN, "localhost", during).unwrap_err();
        assert!(mismatch(&chained, &[]), "{chained:?}");
    }
}

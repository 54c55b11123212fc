//! TLS (`tls://`): rustls on ring, with mutual authentication against the
//! cluster's certificate authority, and temporary certificates for a
//! [`LocalCluster`](crate::LocalCluster).
//!
//! Every side checks its peer's certificate chain against
//! `distributed.comm.tls.ca-file`: the acceptor asks for and checks the
//! connector's certificate (a connection without one, or with one another
//! CA signed, is refused), the connector checks the acceptor's. Host names
//! are not checked (as in Dask): workers advertise their IP addresses,
//! which certificates seldom name, so what counts is that the CA signed
//! the peer's certificate, for the purpose it is used (a certificate whose
//! extended key usage lacks `serverAuth` cannot serve, one that lacks
//! `clientAuth` cannot connect).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{AlertDescription, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::stream::Stream;
use crate::error::{Error, ErrorKind, Result};
use crate::settings::{CA_FILE, TlsRole};

/// This process's TLS: how it connects and, with a certificate of its
/// own, how it accepts.
pub(crate) struct TlsConfig {
    role: TlsRole,
    connector: TlsConnector,
    acceptor: Option<TlsAcceptor>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("role", &self.role)
            .field("accepts", &self.acceptor.is_some())
            .finish()
    }
}

impl TlsConfig {
    /// Reads the CA file and, if given, this role's certificate chain and
    /// key: errors name the file and its key.
    pub(crate) fn load(
        role: TlsRole,
        ca_file: &Path,
        identity: Option<(&Path, &Path)>,
    ) -> Result<TlsConfig> {
        #[allow(
            deprecated,
            reason = "ring has no post-quantum key exchange; aws-lc-rs, which has, adds half a \
                      minute to a clean build, and the cluster's TLS runs between processes of \
                      one private CA"
        )]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(read_roots(ca_file)?);
        let identity = match identity {
            Some((cert, key)) => Some((
                read_chain(&role.cert_setting(), cert)?,
                read_key(&role.key_setting(), key)?,
                cert,
                key,
            )),
            None => None,
        };
        let mismatch = |cert: &Path, key: &Path, e: rustls::Error| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "{} = {} cannot be used with {} = {}: {e} (is it the key of that \
                     certificate?)",
                    role.key_setting(),
                    key.display(),
                    role.cert_setting(),
                    cert.display()
                ),
            )
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(internal)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(CaVerifier {
                roots: roots.clone(),
                provider: provider.clone(),
            }));
        let client = match &identity {
            Some((chain, key, cert_path, key_path)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| mismatch(cert_path, key_path, e))?,
            None => builder.with_no_client_auth(),
        };
        let acceptor = match identity {
            Some((chain, key, cert_path, key_path)) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Config,
                            format!("{CA_FILE} = {}: {e}", ca_file.display()),
                        )
                    })?;
                let server = ServerConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(internal)?
                    .with_client_cert_verifier(verifier)
                    .with_single_cert(chain, key)
                    .map_err(|e| mismatch(cert_path, key_path, e))?;
                Some(TlsAcceptor::from(Arc::new(server)))
            }
            None => None,
        };
        Ok(TlsConfig {
            role,
            connector: TlsConnector::from(Arc::new(client)),
            acceptor,
        })
    }

    /// How it accepts TLS connections, if it has a certificate.
    pub(crate) fn acceptor(&self) -> Option<&TlsAcceptor> {
        self.acceptor.as_ref()
    }

    /// Runs the TLS handshake over `tcp` as the connecting side, within
    /// `timeout`; `peer` names the other side in errors.
    pub(crate) async fn connect(
        &self,
        tcp: TcpStream,
        host: &str,
        timeout: std::time::Duration,
        peer: &str,
    ) -> Result<Stream> {
        // Names are not checked (see the module's docs), but an IP
        // address or a DNS name goes into the handshake as it is.
        let name = ServerName::try_from(host.to_owned())
            .unwrap_or(ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        match tokio::time::timeout(timeout, self.connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => Ok(Stream::Tls(Box::new(tls.into()))),
            Ok(Err(e)) => Err(handshake_error(&e, peer, Some(self.role))),
            Err(_) => Err(Error::new(
                ErrorKind::Tls,
                format!(
                    "{peer} did not complete the TLS handshake within {timeout:?} \
                     (distributed.comm.timeouts.connect)"
                ),
            )),
        }
    }
}

/// Runs the TLS handshake over `tcp` as the accepting side.
pub(crate) async fn accept(acceptor: &TlsAcceptor, tcp: TcpStream, peer: &str) -> Result<Stream> {
    match acceptor.accept(tcp).await {
        Ok(tls) => Ok(Stream::Tls(Box::new(tls.into()))),
        Err(e) => Err(handshake_error(&e, peer, None)),
    }
}

fn internal(e: rustls::Error) -> Error {
    Error::new(ErrorKind::Tls, format!("cannot set TLS up: {e}"))
}

/// The error of a failed TLS handshake or TLS read, saying what it most
/// likely means; `role` is this process's, when it connected.
pub(crate) fn handshake_error(error: &io::Error, peer: &str, role: Option<TlsRole>) -> Error {
    let message = match explain(error, role) {
        Some(why) => format!("the TLS connection with {peer} failed: {why}"),
        None => format!("the TLS connection with {peer} failed: {error}"),
    };
    Error::new(ErrorKind::Tls, message)
}

/// `error` (of a read on a TLS connection this process made as `role`)
/// explained for that role: which of its settings to fix.
pub(crate) fn for_role(error: Error, role: TlsRole, peer: &str) -> Error {
    if error.kind() != ErrorKind::Tls {
        return error;
    }
    let explained = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<io::Error>())
        .and_then(|io| explain(io, Some(role)));
    match explained {
        Some(why) => Error::new(
            ErrorKind::Tls,
            format!("the TLS connection with {peer} failed: {why}"),
        ),
        None => error,
    }
}

/// What a TLS error inside an I/O error means, if it is one.
pub(crate) fn explain(error: &io::Error, role: Option<TlsRole>) -> Option<String> {
    let tls = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    let own_cert = match role {
        Some(role) => format!("{} and {}", role.cert_setting(), role.key_setting()),
        None => "distributed.comm.tls.<scheduler|worker|client>.cert and .key".to_owned(),
    };
    Some(match tls {
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => format!(
            "{tls}: the other side does not speak TLS (a plain tcp:// listener?); connect to \
             its tcp:// address, or give it a certificate"
        ),
        rustls::Error::InvalidCertificate(e) => format!(
            "its certificate is not valid for this cluster ({e}): it must be signed by the CA \
             of {CA_FILE}, for its use (serverAuth to accept connections, clientAuth to make \
             them), and be in date"
        ),
        rustls::Error::NoCertificatesPresented => format!(
            "it presented no certificate: every process of a TLS cluster needs one signed by the \
             CA of {CA_FILE} ({own_cert})"
        ),
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::CertificateRequired | AlertDescription::NoCertificate),
        ) => format!(
            "it refused the connection because this process presented no certificate \
             ({alert:?}): set {own_cert} to a certificate signed by the cluster's CA"
        ),
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::DecryptError
            | AlertDescription::AccessDenied),
        ) => format!(
            "it refused this process's certificate ({alert:?}): {own_cert} must name a \
             certificate signed by the CA the cluster trusts ({CA_FILE}), in date, and its key"
        ),
        other => other.to_string(),
    })
}

/// Checks a server's certificate against the CA, not its name (see the
/// module's docs).
#[derive(Debug)]
struct CaVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The error for file `path` of setting `key`.
fn file_error(key: &str, path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Config,
        format!("{key} = {}: {why}", path.display()),
    )
}

/// Why a PEM file could not be read.
fn pem_error(key: &str, path: &Path, error: rustls::pki_types::pem::Error) -> Error {
    match error {
        rustls::pki_types::pem::Error::Io(e) => {
            file_error(key, path, format!("cannot read it: {e}"))
        }
        other => file_error(key, path, format!("not a valid PEM file: {other}")),
    }
}

/// The certificates of PEM file `path` (setting `key`); at least one.
fn read_certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(key, path, e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| pem_error(key, path, e))?;
    if certificates.is_empty() {
        return Err(file_error(
            key,
            path,
            "no certificate in it (a PEM file with -----BEGIN CERTIFICATE----- blocks)",
        ));
    }
    Ok(certificates)
}

/// The trust anchors of the CA file.
fn read_roots(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(CA_FILE, path)? {
        roots
            .add(certificate)
            .map_err(|e| file_error(CA_FILE, path, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// A certificate chain, this process's certificate first.
fn read_chain(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    read_certificates(key, path)
}

/// A private key (PKCS#8, PKCS#1 or SEC1).
fn read_key(key: &str, path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => file_error(
            key,
            path,
            "no private key in it (a PEM file with a -----BEGIN PRIVATE KEY----- block)",
        ),
        other => pem_error(key, path, other),
    })
}

/// A certificate authority and a certificate for each role, made for a
/// cluster that lives as long as this value: what
/// [`LocalClusterBuilder::tls`](crate::LocalClusterBuilder::tls) uses,
/// and a quick way to try TLS (Dask's `Security.temporary()`).
///
/// The files are in a temporary folder (readable by its owner only) that
/// is removed when this value is dropped. The certificates name
/// `localhost`, `127.0.0.1` and `::1`; the CA's key is never written, so
/// nothing else can be signed by it.
///
/// ```
/// use barrow_distributed::{TemporaryCertificates, TlsRole};
///
/// let certs = TemporaryCertificates::generate()?;
/// assert!(certs.ca_file().exists());
/// assert!(certs.cert(TlsRole::Worker).exists() && certs.key(TlsRole::Worker).exists());
/// # Ok::<(), barrow_distributed::Error>(())
/// ```
#[derive(Debug)]
pub struct TemporaryCertificates {
    dir: tempfile::TempDir,
}

impl TemporaryCertificates {
    /// Makes a new CA and a certificate and key per role, in a new
    /// temporary folder.
    pub fn generate() -> Result<TemporaryCertificates> {
        let dir = tempfile::Builder::new()
            .prefix("barrow-tls-")
            .tempdir()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Tls,
                    format!("cannot make a folder for the temporary certificates: {e}"),
                )
            })?;
        let certs = TemporaryCertificates { dir };
        certs.write().map_err(|e| {
            Error::new(
                ErrorKind::Tls,
                format!("cannot make the temporary certificates: {e}"),
            )
        })?;
        Ok(certs)
    }

    fn write(&self) -> std::result::Result<(), Box<dyn std::error::Error>> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: another temporary CA is another issuer.
        let serial = crate::protocol::handshake::random_u64()?;
        ca.distinguished_name.push(
            DnType::CommonName,
            format!("Barrow temporary cluster CA {serial:016x}"),
        );
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?;
        write_private(&self.ca_file(), ca_cert.pem().as_bytes())?;
        let issuer = Issuer::new(ca, ca_key);
        for role in [TlsRole::Scheduler, TlsRole::Worker, TlsRole::Client] {
            let names = vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ];
            let mut params = CertificateParams::new(names)?;
            params
                .distinguished_name
                .push(DnType::CommonName, format!("barrow {}", role.name()));
            params.use_authority_key_identifier_extension = true;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = match role {
                // A client only connects.
                TlsRole::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
                // A worker connects to the scheduler and serves its peers;
                // a scheduler only accepts, but may be asked to connect.
                TlsRole::Scheduler | TlsRole::Worker => vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ],
            };
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &issuer)?;
            write_private(&self.cert(role), cert.pem().as_bytes())?;
            write_private(&self.key(role), key.serialize_pem().as_bytes())?;
        }
        Ok(())
    }

    /// The folder of the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA's certificate (for `distributed.comm.tls.ca-file`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The certificate of `role` (for `distributed.comm.tls.ROLE.cert`).
    pub fn cert(&self, role: TlsRole) -> PathBuf {
        self.dir.path().join(format!("{}.pem", role.name()))
    }

    /// The private key of `role` (for `distributed.comm.tls.ROLE.key`).
    pub fn key(&self, role: TlsRole) -> PathBuf {
        self.dir.path().join(format!("{}-key.pem", role.name()))
    }

    /// The configuration that gives `role` these files: the CA file and
    /// the role's certificate and key, as (key, path) pairs for
    /// [`Snapshot::with_options`](barrow_core::config::Snapshot::with_options).
    pub fn options(&self, role: TlsRole) -> Vec<(String, String)> {
        let text = |path: PathBuf| path.to_string_lossy().into_owned();
        vec![
            (CA_FILE.to_owned(), text(self.ca_file())),
            (role.cert_setting(), text(self.cert(role))),
            (role.key_setting(), text(self.key(role))),
        ]
    }
}

/// Writes `bytes` to a new file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_certificates_load_for_every_role() {
        let certs = TemporaryCertificates::generate().unwrap();
        for role in [TlsRole::Scheduler, TlsRole::Worker, TlsRole::Client] {
            let config = TlsConfig::load(
                role,
                &certs.ca_file(),
                Some((&certs.cert(role), &certs.key(role))),
            )
            .unwrap();
            assert!(config.acceptor().is_some());
        }
        let dir = certs.dir().to_owned();
        drop(certs);
        assert!(!dir.exists(), "the folder goes with the certificates");
    }

    #[test]
    fn bad_files_are_named_with_their_key() {
        let certs = TemporaryCertificates::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\n!!!\n").unwrap();
        let role = TlsRole::Worker;
        let load = |ca: &Path, cert: &Path, key: &Path| {
            TlsConfig::load(role, ca, Some((cert, key))).unwrap_err()
        };
        let (cert, key) = (certs.cert(role), certs.key(role));

        let err = load(&missing, &cert, &key);
        assert_eq!(err.kind(), ErrorKind::Config);
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "distributed.comm.tls.ca-file = {}",
                missing.display()
            )) && text.contains("cannot read it"),
            "{text}"
        );
        let text = load(&empty, &cert, &key).to_string();
        assert!(
            text.contains(&format!(
                "distributed.comm.tls.ca-file = {}",
                empty.display()
            )) && text.contains("no certificate in it"),
            "{text}"
        );
        let text = load(&garbage, &cert, &key).to_string();
        assert!(text.contains("not a valid PEM file"), "{text}");
        let text = load(&certs.ca_file(), &empty, &key).to_string();
        assert!(
            text.contains(&format!(
                "distributed.comm.tls.worker.cert = {}",
                empty.display()
            )) && text.contains("no certificate in it"),
            "{text}"
        );
        // A certificate where the key should be.
        let text = load(&certs.ca_file(), &cert, &cert).to_string();
        assert!(
            text.contains(&format!(
                "distributed.comm.tls.worker.key = {}",
                cert.display()
            )) && text.contains("no private key in it"),
            "{text}"
        );
        // Another role's key.
        let text = load(&certs.ca_file(), &cert, &certs.key(TlsRole::Client)).to_string();
        assert!(
            text.contains("cannot be used with distributed.comm.tls.worker.cert"),
            "{text}"
        );
    }
}

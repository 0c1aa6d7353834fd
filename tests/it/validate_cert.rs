//! ValidateCert ([MS-ASCMD] 2.2.1.22) against a trust store of the test's own CA
//! (`[directory] smime_roots`): a valid S/MIME certificate with its chain, and each way one
//! fails (expired, untrusted root, missing intermediate, bad signature, not for e-mail),
//! CheckCRL answered as "revocation status unknown", and unreadable requests refused with
//! the protocol-error Status.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

use crate::support::*;
use easd::wbxml::Element;
use easd::wbxml::tag::validatecert as vc;

const ALICE: &str = "alice@example.com";

/// A CA certificate with its key, self-signed or signed by `by`.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

impl Ca {
    fn new(name: &str, by: Option<&Ca>) -> Ca {
        let mut params = CertificateParams::new(vec![]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let der = match by {
            None => params.self_signed(&key).unwrap(),
            Some(ca) => params.signed_by(&key, &ca.issuer()).unwrap(),
        }
        .der()
        .to_vec();
        Ca { params, key, der }
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// An end-entity certificate for `email` it signs, with these extended key usages,
    /// valid until `not_after` (seconds from now, negative: in the past).
    fn leaf(&self, email: &str, eku: Vec<ExtendedKeyUsagePurpose>, not_after: i64) -> Vec<u8> {
        let mut params = CertificateParams::new(vec![]).unwrap();
        params.distinguished_name.push(DnType::CommonName, email);
        params.extended_key_usages = eku;
        let now = SystemTime::now();
        params.not_before = (now - Duration::from_secs(86_400 * 30)).into();
        params.not_after = if not_after >= 0 {
            now + Duration::from_secs(not_after as u64)
        } else {
            now - Duration::from_secs(not_after.unsigned_abs())
        }
        .into();
        let key = KeyPair::generate().unwrap();
        params
            .signed_by(&key, &self.issuer())
            .unwrap()
            .der()
            .to_vec()
    }
}

fn pem(der: &[u8]) -> String {
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        STANDARD.encode(der)
    )
}

/// A ValidateCert request; certificates as base64 text, as phones send them.
fn request(certs: &[&[u8]], chain: &[&[u8]], check_crl: Option<&str>) -> Element {
    let list = |tag, ders: &[&[u8]]| {
        ders.iter().fold(Element::new(tag), |l, d| {
            l.text_child(vc::CERTIFICATE, STANDARD.encode(d))
        })
    };
    let mut req = Element::new(vc::VALIDATE_CERT);
    if !chain.is_empty() {
        req.push(list(vc::CERTIFICATE_CHAIN, chain));
    }
    req.push(list(vc::CERTIFICATES, certs));
    if let Some(v) = check_crl {
        req.push_text(vc::CHECK_CRL, v);
    }
    req
}

/// The response's Status and each Certificate's, in order.
fn statuses(c: &EasClient, req: &Element) -> (String, Vec<String>) {
    let r = c.call("ValidateCert", req);
    assert_eq!(r.tag, vc::VALIDATE_CERT, "{r:?}");
    let top = r.text_of(vc::STATUS).expect("Status").to_owned();
    let each = r
        .find_all(vc::CERTIFICATE)
        .map(|c| {
            c.text_of(vc::STATUS)
                .expect("Certificate Status")
                .to_owned()
        })
        .collect();
    (top, each)
}

/// The extended key usages of an S/MIME certificate.
fn email() -> Vec<ExtendedKeyUsagePurpose> {
    vec![ExtendedKeyUsagePurpose::EmailProtection]
}

const YEAR: i64 = 365 * 86_400;

#[test]
fn each_certificate_gets_the_status_of_its_chain() {
    let root = Ca::new("Test Root", None);
    let intermediate = Ca::new("Test Intermediate", Some(&root));
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, pem(&root.der)).unwrap();
    let s = start_server(|c| c.directory.smime_roots = Some(roots.clone()));
    s.add_user(ALICE);
    let c = s.device(ALICE, "VCDEV1");

    let valid = intermediate.leaf(ALICE, email(), YEAR);
    // No extended key usage at all is any usage (RFC 5280 4.2.1.12).
    let no_eku = intermediate.leaf(ALICE, vec![], YEAR);
    let expired = intermediate.leaf(ALICE, email(), -86_400);
    let server_only = intermediate.leaf(ALICE, vec![ExtendedKeyUsagePurpose::ServerAuth], YEAR);
    let mut forged = valid.clone();
    *forged.last_mut().unwrap() ^= 0x01;
    let chain: &[&[u8]] = &[&intermediate.der];
    assert_eq!(
        statuses(
            &c,
            &request(
                &[&valid, &no_eku, &expired, &server_only, &forged],
                chain,
                None
            )
        ),
        (
            "1".into(),
            ["1", "1", "7", "6", "3"].map(String::from).to_vec()
        ),
        "valid, valid without EKU, expired, not for e-mail, bad signature"
    );
    // Without its intermediate no chain can be built.
    assert_eq!(
        statuses(&c, &request(&[&valid], &[], Some("0"))),
        ("1".into(), vec!["5".to_owned()])
    );

    // Issued under a root of its own that the store does not hold.
    let stranger = Ca::new("Stranger Root", None);
    let foreign = stranger.leaf(ALICE, email(), YEAR);
    assert_eq!(
        statuses(&c, &request(&[&foreign], &[&stranger.der], None)),
        ("1".into(), vec!["4".to_owned()])
    );
    // And not trusted for being sent alone as its own chain.
    assert_eq!(
        statuses(&c, &request(&[&stranger.der], &[&stranger.der], None)),
        ("1".into(), vec!["11".to_owned()]),
        "a CA certificate is not an S/MIME certificate"
    );

    // CheckCRL: easd fetches no revocation list, so a valid certificate's revocation
    // status is unknown; a failure stays the failure.
    assert_eq!(
        statuses(&c, &request(&[&valid, &expired], chain, Some("1"))),
        ("1".into(), vec!["14".to_owned(), "7".to_owned()])
    );
}

#[test]
fn unreadable_requests_get_the_protocol_error_status() {
    let root = Ca::new("Test Root", None);
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, pem(&root.der)).unwrap();
    let s = start_server(|c| c.directory.smime_roots = Some(roots.clone()));
    s.add_user(ALICE);
    let c = s.device(ALICE, "VCDEV2");
    let valid = root.leaf(ALICE, email(), YEAR);

    let garbage = Element::new(vc::VALIDATE_CERT)
        .child(Element::new(vc::CERTIFICATES).text_child(vc::CERTIFICATE, "not*base64!"));
    let not_der = request(&[b"plain text, not a certificate".as_slice()], &[], None);
    let bad_chain = Element::new(vc::VALIDATE_CERT)
        .child(Element::new(vc::CERTIFICATE_CHAIN).text_child(vc::CERTIFICATE, "%%%"))
        .child(Element::new(vc::CERTIFICATES).text_child(vc::CERTIFICATE, STANDARD.encode(&valid)));
    let no_certificates = Element::new(vc::VALIDATE_CERT).text_child(vc::CHECK_CRL, "1");
    let bad_check_crl = request(&[&valid], &[], Some("yes"));
    let too_many = request(&vec![valid.as_slice(); 101], &[], None);
    for (what, req) in [
        ("garbage base64", garbage),
        ("not DER", not_der),
        ("garbage chain", bad_chain),
        ("no Certificates", no_certificates),
        ("CheckCRL yes", bad_check_crl),
        ("101 certificates", too_many),
    ] {
        assert_eq!(statuses(&c, &req), ("2".into(), vec![]), "{what}");
    }
    // The server still answers a good one.
    assert_eq!(
        statuses(&c, &request(&[&valid], &[], None)),
        ("1".into(), vec!["1".to_owned()])
    );
}

#[test]
fn an_unreadable_trust_store_is_the_servers_failure() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let s = start_server(|c| c.directory.smime_roots = Some(missing.clone()));
    s.add_user(ALICE);
    let c = s.device(ALICE, "VCDEV3");
    let root = Ca::new("Test Root", None);
    let leaf = root.leaf(ALICE, email(), YEAR);
    assert_eq!(
        statuses(&c, &request(&[&leaf], &[], None)),
        ("17".into(), vec![])
    );
}

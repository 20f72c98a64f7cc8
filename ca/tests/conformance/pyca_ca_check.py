#!/usr/bin/env python3
"""Independent check of the qsafe-ca CA with pyca/cryptography (>= 50, OpenSSL with ML-DSA).

Drives `qsafe-rapp ca ...` (path given with --rapp) in a temporary CA directory:

  1. `ca init` (ML-DSA-87 root, ML-DSA-65 issuing CA, keys as encrypted PKCS#8);
  2. pyca makes an ML-DSA-65 CSR and an EC P-256 CSR; `ca sign` signs them (o1-server, e2-node);
  3. `ca revoke` the EC leaf, `ca crl`; `ca rollover`, a gen-2 leaf, `ca export chain --cross`.

Then pyca, which shares no code with us, checks: every certificate's signature against its
issuer's public key (verify_directly_issued_by and public_key().verify), RFC 9881 OIDs with
absent parameters, keyUsage/extendedKeyUsage/subjectAltName/basicConstraints, that each leaf
certifies exactly the CSR's public key; the CRL's signature (is_signature_valid) and that the
revoked serial is listed with its reason; that our ENCRYPTED PRIVATE KEY files decrypt with the
passphrase (load_pem_private_key) to the key in the certificate and are refused with a wrong
passphrase; and full path validation with pyca's own X.509 verifier
(cryptography.x509.verification.PolicyBuilder, which supports ML-DSA in cryptography 50),
including a gen-2 leaf validated against ONLY the gen-1 root through the cross certificate.

Exits non-zero on any failure; the last line is "N passed, N failed".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASS = "pyca conformance passphrase"
OID = {
    "ml-dsa-44": "2.16.840.1.101.3.4.3.17",
    "ml-dsa-65": "2.16.840.1.101.3.4.3.18",
    "ml-dsa-87": "2.16.840.1.101.3.4.3.19",
}


# One check counter for every pyca conformance script: pqc's (its main() runs only as a script).
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "pqc" / "tests" / "conformance"))
from pyca_check import Checks  # noqa: E402


def cli(rapp: str, env: dict, *args: str) -> dict:
    out = subprocess.run([rapp, "--json", "ca", *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"qsafe-rapp ca {' '.join(args)} failed: {out.stderr}")
    return json.loads(out.stdout)


def cli_fails(rapp: str, env: dict, *args: str) -> str:
    out = subprocess.run([rapp, "ca", *args], env=env, capture_output=True, text=True)
    return out.stderr if out.returncode == 1 else f"unexpected exit {out.returncode}: {out.stdout}"


def load_certs(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def spki(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_ca_cert(c: Checks, label: str, cert: x509.Certificate, issuer: x509.Certificate, alg: str,
                  path_len: int | None) -> None:
    c.run(f"{label}: signature verifies with issuer key (verify_directly_issued_by)",
          lambda: cert.verify_directly_issued_by(issuer))
    c.run(f"{label}: signature verifies over tbsCertificate with issuer public_key().verify",
          lambda: issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes))
    oid_hex = "0609608648016503040" + {"ml-dsa-44": "311", "ml-dsa-65": "312", "ml-dsa-87": "313"}[alg]
    c.check(f"{label}: public key algorithm {alg} (RFC 9881 OID, parameters absent)",
            cert.public_key_algorithm_oid.dotted_string == OID[alg]
            and ("300b" + oid_hex) in spki(cert.public_key()).hex(),
            cert.public_key_algorithm_oid.dotted_string)
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    c.check(f"{label}: basicConstraints cA, critical, pathLen {path_len}",
            bc.value.ca and bc.critical and bc.value.path_length == path_len, str(bc))
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    c.check(f"{label}: keyUsage keyCertSign+cRLSign, no keyEncipherment",
            ku.key_cert_sign and ku.crl_sign and not ku.key_encipherment, str(ku))


def check_leaf(c: Checks, label: str, leaf: x509.Certificate, issuer: x509.Certificate, csr_key,
               server: bool, client: bool, dns: list[str]) -> None:
    c.run(f"{label}: signature verifies with the issuing CA key", lambda: leaf.verify_directly_issued_by(issuer))
    c.check(f"{label}: signed with ML-DSA-65", leaf.signature_algorithm_oid.dotted_string == OID["ml-dsa-65"])
    c.check(f"{label}: certifies exactly the CSR's public key", spki(leaf.public_key()) == spki(csr_key.public_key()))
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    c.check(f"{label}: keyUsage digitalSignature only (critical)",
            ku.critical and ku.value.digital_signature and not ku.value.key_encipherment
            and not ku.value.key_cert_sign and not ku.value.crl_sign, str(ku))
    eku = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    want = set()
    if server:
        want.add(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        want.add(ExtendedKeyUsageOID.CLIENT_AUTH)
    c.check(f"{label}: extendedKeyUsage {sorted(o._name for o in want)}", eku == want, str(eku))
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    c.check(f"{label}: subjectAltName DNS {dns}", san.get_values_for_type(x509.DNSName) == dns,
            str(san.get_values_for_type(x509.DNSName)))
    bc = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    c.check(f"{label}: basicConstraints cA=FALSE", not bc.ca)
    c.check(f"{label}: notAfter within the issuer's", leaf.not_valid_after_utc <= issuer.not_valid_after_utc)


def make_csr(key, cn: str, dns: list[str], algorithm, rsa_padding=None) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    if rsa_padding is not None:
        return builder.sign(key, algorithm, rsa_padding=rsa_padding).public_bytes(serialization.Encoding.PEM)
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rapp", required=True, help="path to the qsafe-rapp binary")
    args = ap.parse_args()
    c = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        ca = t / "ca"
        env = dict(os.environ, QSAFE_CA_DIR=str(ca), QSAFE_CA_PASSPHRASE=PASS)
        cli(args.rapp, env, "init", "--root-algorithm", "ml-dsa-87")

        ml_key = mldsa.MLDSA65PrivateKey.generate()
        ec_key = ec.generate_private_key(ec.SECP256R1())
        (t / "ml.csr").write_bytes(make_csr(ml_key, "du-1", ["du-1.oam.example"], None))
        (t / "ec.csr").write_bytes(make_csr(ec_key, "gnb-1", [], hashes.SHA256()))
        c.check("pyca ML-DSA-65 CSR self-signature valid (pyca view)",
                x509.load_pem_x509_csr((t / "ml.csr").read_bytes()).is_signature_valid)
        ml = cli(args.rapp, env, "sign", str(t / "ml.csr"), "--profile", "o1-server", "--out", str(t / "ml.pem"))
        ec_ = cli(args.rapp, env, "sign", str(t / "ec.csr"), "--profile", "e2-node", "--dns", "gnb-1.ran.example",
                  "--out", str(t / "ec.pem"))
        cli(args.rapp, env, "revoke", ec_["issued"]["serial"], "--reason", "keyCompromise")
        cli(args.rapp, env, "crl", "--out", str(t / "crl.pem"))

        root = load_certs(ca / "gen-1/root.pem")[0]
        inter = load_certs(ca / "gen-1/intermediate.pem")[0]
        check_ca_cert(c, "root G1", root, root, "ml-dsa-87", None)
        check_ca_cert(c, "intermediate G1", inter, root, "ml-dsa-65", 0)
        ml_chain = load_certs(t / "ml.pem")
        ec_chain = load_certs(t / "ec.pem")
        c.check("sign --out writes [leaf, intermediate]", len(ml_chain) == 2 and ml_chain[1] == inter)
        check_leaf(c, "o1-server ML-DSA-65 leaf", ml_chain[0], inter, ml_key, True, False, ["du-1.oam.example"])
        check_leaf(c, "e2-node ECDSA P-256 leaf", ec_chain[0], inter, ec_key, True, True, ["gnb-1.ran.example"])

        # CRL.
        crl = x509.load_pem_x509_crl((t / "crl.pem").read_bytes())
        c.check("CRL: signature valid with the issuing CA key (is_signature_valid)",
                crl.is_signature_valid(inter.public_key()))
        c.check("CRL: not valid with the root key", not crl.is_signature_valid(root.public_key()))
        c.check("CRL: issuer is the issuing CA", crl.issuer == inter.subject)
        c.check("CRL: signed with ML-DSA-65", crl.signature_algorithm_oid.dotted_string == OID["ml-dsa-65"])
        revoked = crl.get_revoked_certificate_by_serial_number(ec_chain[0].serial_number)
        c.check("CRL: revoked EC leaf listed", revoked is not None)
        if revoked is not None:
            reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
            c.check("CRL: reason keyCompromise", reason == x509.ReasonFlags.key_compromise, str(reason))
        c.check("CRL: ML-DSA leaf not listed",
                crl.get_revoked_certificate_by_serial_number(ml_chain[0].serial_number) is None)
        c.check("CRL: cRLNumber 1", crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1)
        c.check("CRL: nextUpdate after lastUpdate",
                crl.next_update_utc is not None and crl.next_update_utc > crl.last_update_utc)
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        c.check("CRL: authorityKeyIdentifier = issuing CA's subjectKeyIdentifier", aki.key_identifier == ski.digest)

        # Encrypted CA keys.
        for name, cert in (("root", root), ("intermediate", inter)):
            data = (ca / f"gen-1/{name}.key.pem").read_bytes()
            c.check(f"{name} key: PEM label ENCRYPTED PRIVATE KEY",
                    data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"))
            c.check(f"{name} key: file mode 0600", (ca / f"gen-1/{name}.key.pem").stat().st_mode & 0o777 == 0o600)

            def load(d=data, cert=cert):
                key = serialization.load_pem_private_key(d, password=PASS.encode())
                return spki(key.public_key()) == spki(cert.public_key())

            c.run(f"{name} key: decrypts with the passphrase and matches the certificate", load)
            c.raises(f"{name} key: refused with a wrong passphrase", ValueError,
                     lambda d=data: serialization.load_pem_private_key(d, password=b"wrong passphrase!!"))
        c.check("CA dir mode 0700", ca.stat().st_mode & 0o777 == 0o700)

        # pyca's own path validation (supports ML-DSA in cryptography 50).
        store = verification.Store([root])
        verifier = verification.PolicyBuilder().store(store).build_server_verifier(x509.DNSName("du-1.oam.example"))
        c.run("path validation (pyca PolicyBuilder): ML-DSA o1-server leaf -> G1 root",
              lambda: verifier.verify(ml_chain[0], ml_chain[1:]) and True)
        verifier = verification.PolicyBuilder().store(store).build_server_verifier(x509.DNSName("gnb-1.ran.example"))
        c.run("path validation (pyca PolicyBuilder): ECDSA e2-node leaf -> G1 root",
              lambda: verifier.verify(ec_chain[0], ec_chain[1:]) and True)

        # Other classical CSRs made by pyca: RSA-2048 PSS and Ed25519 accepted, RSA-1024 and a
        # tampered CSR refused (exit 1, clear message).
        others = {
            "rsa-pss": (rsa.generate_private_key(65537, 2048), hashes.SHA256(),
                        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)),
            "ed25519": (ed25519.Ed25519PrivateKey.generate(), None, None),
        }
        for name, (key, alg, pad) in others.items():
            (t / f"{name}.csr").write_bytes(make_csr(key, name, [], alg, pad))
            v = cli(args.rapp, env, "sign", str(t / f"{name}.csr"), "--profile", "tls-client", "--out",
                    str(t / f"{name}.pem"))
            leaf = load_certs(t / f"{name}.pem")[0]
            c.run(f"{name} CSR: leaf signature verifies with the issuing CA key",
                  lambda leaf=leaf: leaf.verify_directly_issued_by(inter))
            c.check(f"{name} CSR: leaf certifies the CSR's key", spki(leaf.public_key()) == spki(key.public_key()),
                    str(v))
        small = rsa.generate_private_key(65537, 1024)
        (t / "rsa1024.csr").write_bytes(make_csr(small, "small", [], hashes.SHA256()))
        err = cli_fails(args.rapp, env, "sign", str(t / "rsa1024.csr"), "--profile", "tls-client")
        c.check("RSA-1024 CSR refused (RSA keys need at least 2048 bits)", "at least 2048" in err, err)
        bad = bytearray(x509.load_pem_x509_csr((t / "ml.csr").read_bytes()).public_bytes(serialization.Encoding.DER))
        bad[-5] ^= 1
        (t / "bad.csr").write_bytes(bytes(bad))
        err = cli_fails(args.rapp, env, "sign", str(t / "bad.csr"), "--profile", "tls-client")
        c.check("tampered ML-DSA CSR refused (no proof of possession)", "does not verify" in err, err)

        # Rollover.
        cli(args.rapp, env, "rollover", "--root-algorithm", "ml-dsa-87")
        ml2_key = mldsa.MLDSA65PrivateKey.generate()
        (t / "ml2.csr").write_bytes(make_csr(ml2_key, "o2-1", ["o2-1.cloud.example"], None))
        cli(args.rapp, env, "sign", str(t / "ml2.csr"), "--profile", "o2-server", "--out", str(t / "ml2.pem"))
        cli(args.rapp, env, "export", "chain", "--cross", "--out", str(t / "chain2.pem"))
        cli(args.rapp, env, "export", "trust-bundle", "--out", str(t / "bundle.pem"))
        root2 = load_certs(ca / "gen-2/root.pem")[0]
        inter2 = load_certs(ca / "gen-2/intermediate.pem")[0]
        cross = load_certs(ca / "gen-2/cross.pem")[0]
        check_ca_cert(c, "root G2", root2, root2, "ml-dsa-87", None)
        check_ca_cert(c, "intermediate G2", inter2, root2, "ml-dsa-65", 0)
        check_ca_cert(c, "cross cert G2<-G1", cross, root, "ml-dsa-87", None)
        c.check("cross cert: subject and key of the G2 root",
                cross.subject == root2.subject and spki(cross.public_key()) == spki(root2.public_key()))
        c.check("cross cert: issued by the G1 root", cross.issuer == root.subject)
        leaf2 = load_certs(t / "ml2.pem")[0]
        check_leaf(c, "o2-server G2 leaf", leaf2, inter2, ml2_key, True, False, ["o2-1.cloud.example"])
        chain2 = load_certs(t / "chain2.pem")
        c.check("export chain --cross = [intermediate G2, cross]", chain2 == [inter2, cross])
        bundle = load_certs(t / "bundle.pem")
        c.check("trust bundle = [root G2, root G1]", bundle == [root2, root])
        name = x509.DNSName("o2-1.cloud.example")
        old_only = verification.PolicyBuilder().store(verification.Store([root])).build_server_verifier(name)
        c.run("path validation: G2 leaf -> G1 root ONLY via [intermediate G2, cross]",
              lambda: old_only.verify(leaf2, chain2) and True)
        c.raises("path validation: G2 leaf -> G1 root without the cross cert fails",
                 verification.VerificationError, lambda: old_only.verify(leaf2, [inter2]))
        new_only = verification.PolicyBuilder().store(verification.Store([root2])).build_server_verifier(name)
        c.run("path validation: G2 leaf -> G2 root", lambda: new_only.verify(leaf2, [inter2]) and True)

    print(f"pyca CA conformance: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())

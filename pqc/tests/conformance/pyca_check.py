#!/usr/bin/env python3
"""Check qsafe-pqc's ML-DSA certificates, keys and signatures, and its ML-KEM, with
pyca/cryptography (>= 50, bundling OpenSSL with ML-DSA/ML-KEM): a stack we did not write.

Run from the repository root:

    cargo run -q -p qsafe-pqc --example pqc_conformance -- write target/pqc-conformance &&
    target/pyenv/bin/python pqc/tests/conformance/pyca_check.py target/pqc-conformance

The script reads DIR/manifest.json, checks every certificate (OIDs per RFC 9881 with absent
parameters, signatures against the issuer key, extensions, full path validation with pyca's own
verifier), loads every PKCS#8 private key, verifies the Rust-made ML-DSA signature, then writes
pyca-made ML-KEM ciphertexts/keys and an ML-DSA signature and runs
`pqc_conformance respond DIR` (override with --rust-tool) so Rust decapsulates/encapsulates/
verifies them; finally it compares the shared secrets. It exits non-zero on any failure and ends
with an "N passed, N failed" line.
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

ML_DSA_OIDS = {
    "ml-dsa-44": "2.16.840.1.101.3.4.3.17",
    "ml-dsa-65": "2.16.840.1.101.3.4.3.18",
    "ml-dsa-87": "2.16.840.1.101.3.4.3.19",
}
PRIVATE_KEY_TYPES = {
    "ml-dsa-44": mldsa.MLDSA44PrivateKey,
    "ml-dsa-65": mldsa.MLDSA65PrivateKey,
    "ml-dsa-87": mldsa.MLDSA87PrivateKey,
}
KEM_PUBLIC = {"ml-kem-768": mlkem.MLKEM768PublicKey, "ml-kem-1024": mlkem.MLKEM1024PublicKey}
KEM_PRIVATE = {"ml-kem-768": mlkem.MLKEM768PrivateKey, "ml-kem-1024": mlkem.MLKEM1024PrivateKey}
REPO_ROOT = Path(__file__).resolve().parents[3]


class Checks:
    """Counts and prints named checks; a failing check never stops the others."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, condition: bool, detail: str = "") -> bool:
        if condition:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}{': ' + detail if detail else ''}")
        return condition

    def run(self, name: str, fn) -> bool:
        """Passes if fn() returns without raising (and does not return False)."""
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001 - any exception is a failed check, reported
            return self.check(name, False, f"{type(e).__name__}: {e}")
        return self.check(name, result is not False)

    def raises(self, name: str, exc: type[BaseException], fn) -> bool:
        try:
            fn()
        except exc:
            return self.check(name, True)
        except Exception as e:  # noqa: BLE001
            return self.check(name, False, f"expected {exc.__name__}, got {type(e).__name__}: {e}")
        return self.check(name, False, f"expected {exc.__name__}, nothing raised")


# --- minimal DER reading, to look at AlgorithmIdentifier parameters and PKCS#8 layout -------------


def tlv(buf: bytes, off: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at off."""
    tag = buf[off]
    length = buf[off + 1]
    start = off + 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(buf[start : start + n], "big")
        start += n
    return tag, start, start + length


def children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out, off = [], start
    while off < end:
        t, s, e = tlv(buf, off)
        out.append((t, s, e))
        off = e
    return out


def decode_oid(body: bytes) -> str:
    first = body[0]
    arcs, value = [first // 40 if first < 80 else 2, first % 40 if first < 80 else first - 80], 0
    for b in body[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(map(str, arcs))


def algorithm_identifier(buf: bytes, elem: tuple[int, int, int]) -> tuple[str, int]:
    """(OID, number of elements after the OID) of an AlgorithmIdentifier SEQUENCE."""
    tag, s, e = elem
    assert tag == 0x30, f"AlgorithmIdentifier is not a SEQUENCE (tag {tag:#x})"
    parts = children(buf, s, e)
    assert parts[0][0] == 0x06, "AlgorithmIdentifier does not start with an OID"
    return decode_oid(buf[parts[0][1] : parts[0][2]]), len(parts) - 1


def cert_algorithm_ids(der: bytes) -> dict[str, tuple[str, int]]:
    """OID + parameter count of: outer signatureAlgorithm, tbs signature, SPKI algorithm."""
    _, s, e = tlv(der, 0)
    tbs, sig_alg, _sig = children(der, s, e)
    tbs_parts = children(der, tbs[1], tbs[2])
    idx = 1 if tbs_parts[0][0] == 0xA0 else 0  # [0] version is present in v3
    tbs_sig = tbs_parts[idx + 1]
    spki = tbs_parts[idx + 5]
    spki_alg = children(der, spki[1], spki[2])[0]
    return {
        "signatureAlgorithm": algorithm_identifier(der, sig_alg),
        "tbs.signature": algorithm_identifier(der, tbs_sig),
        "subjectPublicKeyInfo.algorithm": algorithm_identifier(der, spki_alg),
    }


def pem_body(path: Path) -> bytes:
    lines = [l for l in path.read_text().splitlines() if l and not l.startswith("-----")]
    return base64.b64decode("".join(lines))


# --- checks -----------------------------------------------------------------------------------------


def load_certs(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def check_cert_encoding(c: Checks, label: str, cert: x509.Certificate, signer_alg: str, key_alg: str) -> None:
    der = cert.public_bytes(serialization.Encoding.DER)
    ids = cert_algorithm_ids(der)
    for field, want in [
        ("signatureAlgorithm", signer_alg),
        ("tbs.signature", signer_alg),
        ("subjectPublicKeyInfo.algorithm", key_alg),
    ]:
        oid, params = ids[field]
        c.check(f"{label}: {field} is {want} ({ML_DSA_OIDS[want]})", oid == ML_DSA_OIDS[want], f"found {oid}")
        c.check(f"{label}: {field} parameters absent (RFC 9881)", params == 0, f"{params} parameter element(s)")
    c.check(f"{label}: pyca reports signature OID {ML_DSA_OIDS[signer_alg]}",
            cert.signature_algorithm_oid.dotted_string == ML_DSA_OIDS[signer_alg])
    c.check(f"{label}: pyca reports public key OID {ML_DSA_OIDS[key_alg]}",
            cert.public_key_algorithm_oid.dotted_string == ML_DSA_OIDS[key_alg])
    c.check(f"{label}: X.509 v3", cert.version == x509.Version.v3)
    c.check(f"{label}: positive serial of <= 20 octets", 0 < cert.serial_number < 2 ** 159)


def check_issued_by(c: Checks, label: str, cert: x509.Certificate, issuer: x509.Certificate) -> None:
    c.run(f"{label}: signature verifies with the issuer's ML-DSA key (verify_directly_issued_by)",
          lambda: cert.verify_directly_issued_by(issuer))
    c.run(f"{label}: signature verifies over tbsCertificate with issuer public key",
          lambda: issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes))
    c.check(f"{label}: validity within the issuer's",
            issuer.not_valid_before_utc <= cert.not_valid_before_utc
            and cert.not_valid_after_utc <= issuer.not_valid_after_utc)
    if cert is not issuer:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        c.check(f"{label}: authorityKeyIdentifier equals the issuer's subjectKeyIdentifier", aki == ski)


def check_ca_extensions(c: Checks, label: str, cert: x509.Certificate, path_length: int | None) -> None:
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    c.check(f"{label}: basicConstraints critical, cA=TRUE, pathLen={path_length}",
            bc.critical and bc.value.ca and bc.value.path_length == path_length, str(bc))
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    c.check(f"{label}: keyUsage keyCertSign+cRLSign, no keyEncipherment",
            ku.key_cert_sign and ku.crl_sign and not ku.key_encipherment, str(ku))


def check_leaf_extensions(c: Checks, label: str, cert: x509.Certificate, usage: str, dns: str | None) -> None:
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    c.check(f"{label}: not a CA", not bc.ca)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    c.check(f"{label}: keyUsage is digitalSignature only (RFC 9881 §5)",
            ku.digital_signature and not (ku.key_encipherment or ku.key_agreement or ku.key_cert_sign
                                          or ku.data_encipherment), str(ku))
    eku = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    want = ExtendedKeyUsageOID.SERVER_AUTH if usage == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    c.check(f"{label}: extendedKeyUsage is {usage}Auth only", eku == [want], str(eku))
    if dns:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        c.check(f"{label}: subjectAltName has DNS {dns}", dns in san.get_values_for_type(x509.DNSName))


def check_private_key(c: Checks, label: str, key_path: Path, cert: x509.Certificate, alg: str) -> None:
    der = pem_body(key_path)
    # RFC 9881 seed-only form: SEQUENCE { INTEGER 0, AlgorithmIdentifier, OCTET STRING { [0] 32 bytes } }
    def layout() -> bool:
        _, s, e = tlv(der, 0)
        version, alg_id, pk = children(der, s, e)
        oid, params = algorithm_identifier(der, alg_id)
        inner = children(der, pk[1], pk[2])
        assert der[version[1]:version[2]] == b"\x00", "PKCS#8 version is not v1 (0)"
        assert oid == ML_DSA_OIDS[alg] and params == 0, f"privateKeyAlgorithm {oid} with {params} params"
        assert len(inner) == 1 and inner[0][0] == 0x80 and inner[0][2] - inner[0][1] == 32, "not the seed CHOICE"
        return True
    c.run(f"{label}: PKCS#8 v1 with {alg} OID and the 32-byte seed CHOICE ({len(der)} bytes)", layout)

    def loads() -> bool:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, PRIVATE_KEY_TYPES[alg]), f"loaded as {type(key).__name__}"
        assert key.public_key().public_bytes_raw() == cert.public_key().public_bytes_raw(), "public key differs"
        return True
    c.run(f"{label}: private key loads in OpenSSL and matches the certificate", loads)


def check_hierarchy(c: Checks, d: Path, h: dict) -> None:
    name = h["name"]
    root = load_certs(d / h["root"]["cert"])
    inter = load_certs(d / h["intermediate"]["cert"])
    c.check(f"{name}: root PEM holds exactly one certificate", len(root) == 1)
    c.check(f"{name}: intermediate PEM holds exactly its own certificate", len(inter) == 1)
    root, inter = root[0], inter[0]
    ca_alg = h["root"]["algorithm"]
    check_cert_encoding(c, f"{name} root", root, ca_alg, ca_alg)
    check_issued_by(c, f"{name} root", root, root)
    check_ca_extensions(c, f"{name} root", root, None)
    c.check(f"{name} root: self-issued", root.subject == root.issuer)
    check_private_key(c, f"{name} root key", d / h["root"]["key"], root, ca_alg)

    check_cert_encoding(c, f"{name} intermediate", inter, ca_alg, h["intermediate"]["algorithm"])
    check_issued_by(c, f"{name} intermediate", inter, root)
    check_ca_extensions(c, f"{name} intermediate", inter, 0)
    check_private_key(c, f"{name} intermediate key", d / h["intermediate"]["key"], inter, ca_alg)

    store = verification.Store([root])
    for leaf in h["leaves"]:
        label = f"{name} {leaf['usage']} leaf"
        chain = load_certs(d / leaf["chain"])
        c.check(f"{label}: chain is [leaf, intermediate] (root not included)",
                len(chain) == 2 and chain[1] == inter, f"{len(chain)} certificates")
        cert = chain[0]
        check_cert_encoding(c, label, cert, h["intermediate"]["algorithm"], leaf["algorithm"])
        check_issued_by(c, label, cert, inter)
        check_leaf_extensions(c, label, cert, leaf["usage"], leaf.get("dns"))
        check_private_key(c, f"{label} key", d / leaf["key"], cert, leaf["algorithm"])
        if leaf["usage"] == "server":
            verifier = verification.PolicyBuilder().store(store).build_server_verifier(x509.DNSName(leaf["dns"]))
        else:
            verifier = verification.PolicyBuilder().store(store).build_client_verifier()
        c.run(f"{label}: pyca path validation (RFC 5280 + CA/B-style policy) to the root",
              lambda v=verifier, ch=chain: v.verify(ch[0], ch[1:]) and True)


def check_signature(c: Checks, d: Path, s: dict) -> None:
    cert = load_certs(d / s["cert"])[0]
    msg = (d / s["message"]).read_bytes()
    sig = (d / s["signature"]).read_bytes()
    c.check(f"message signature: {len(sig)} bytes (FIPS 204 {s['algorithm']})", len(sig) == 3309)
    c.run("message signature: Rust ML-DSA-65 signature verifies in OpenSSL", lambda: cert.public_key().verify(sig, msg))
    c.raises("message signature: tampered message is rejected", InvalidSignature,
             lambda: cert.public_key().verify(sig, msg + b"!"))
    c.raises("message signature: non-empty context is rejected (we sign with ctx = '')", InvalidSignature,
             lambda: cert.public_key().verify(sig, msg, b"qsafe"))


def prepare_reverse_direction(d: Path, manifest: dict) -> dict:
    """pyca's half: encapsulate to our keys, make keys for us, sign with our key. Returns secrets."""
    secrets = {}
    for k in manifest["kems"]:
        alg = k["algorithm"]
        ours = KEM_PUBLIC[alg].from_public_bytes((d / k["ek"]).read_bytes())
        ss, ct = ours.encapsulate()
        (d / f"py-{alg}.ct").write_bytes(ct)
        theirs = KEM_PRIVATE[alg].generate()
        (d / f"py-{alg}.ek").write_bytes(theirs.public_key().public_bytes_raw())
        secrets[alg] = (ss, theirs)
    key = serialization.load_pem_private_key((d / "mldsa65-client.key.pem").read_bytes(), password=None)
    msg = b"signed by OpenSSL with the qsafe-pqc client key"
    (d / "py-message.bin").write_bytes(msg)
    (d / "py-message.sig").write_bytes(key.sign(msg))
    return secrets


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path, help="directory written by `pqc_conformance write`")
    ap.add_argument("--rust-tool", default="cargo run -q -p qsafe-pqc --example pqc_conformance --",
                    help="command (run from the repo root) that runs `pqc_conformance`")
    args = ap.parse_args()
    d = args.dir.resolve()
    manifest = json.loads((d / "manifest.json").read_text())
    c = Checks()

    import cryptography
    from cryptography.hazmat.backends.openssl.backend import backend
    print(f"pyca/cryptography {cryptography.__version__}, {backend.openssl_version_text()}")

    for h in manifest["hierarchies"]:
        check_hierarchy(c, d, h)
    check_signature(c, d, manifest["signature"])

    secrets = prepare_reverse_direction(d, manifest)
    cmd = shlex.split(args.rust_tool) + ["respond", str(d)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    c.check("rust respond: decapsulated pyca ciphertexts, encapsulated to pyca keys, verified pyca's ML-DSA "
            "signature made with our key (and refused it on a tampered message)",
            proc.returncode == 0, proc.stderr.strip())
    if proc.returncode == 0:
        for alg, (ss_py, py_key) in secrets.items():
            rust_ss = (d / f"rust-{alg}-decapsulated.ss").read_bytes()
            c.check(f"{alg}: pyca encapsulated to our key, Rust decapsulated the same 32-byte secret",
                    len(ss_py) == 32 and rust_ss == ss_py)
            rust_ct = (d / f"rust-{alg}.ct").read_bytes()
            ss = py_key.decapsulate(rust_ct)
            c.check(f"{alg}: Rust encapsulated to a pyca key, pyca decapsulated the same secret",
                    ss == (d / f"rust-{alg}.ss").read_bytes())
            tampered = bytes([rust_ct[0] ^ 1]) + rust_ct[1:]
            c.check(f"{alg}: tampered Rust ciphertext decapsulates to a different secret in pyca (implicit rejection)",
                    py_key.decapsulate(tampered) != ss)

    print(f"conformance: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Independent TLS 1.3 peer for the scanner's conformance run: tlslite-ng (pure Python).

    python tlslite_server.py --mode hybrid|classical|legacy [--port 0]

hybrid:    TLS 1.3/1.2; x25519mlkem768 (preferred), x25519, secp256r1
classical: TLS 1.3/1.2; x25519, secp256r1 only
legacy:    TLS 1.2/1.1/1.0 only; x25519, secp256r1 (for the raw legacy-version probes)

The identity is a self-signed ECDSA P-256 certificate made here with pyca/cryptography
(tlslite-ng has no ML-DSA). Prints "ready PORT" once listening, then serves each connection in
a thread until killed.
"""

import argparse
import datetime
import socket
import sys
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tlslite import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey

GROUPS = {
    "hybrid": ["x25519mlkem768", "x25519", "secp256r1"],
    "classical": ["x25519", "secp256r1"],
    "legacy": ["x25519", "secp256r1"],
}


def identity():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlslite-ng conformance peer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    chain = X509CertChain()
    chain.parsePemList(cert_pem)
    return chain, parsePEMKey(key_pem, private=True, implementations=["python"])


def serve_one(sock, chain, key, settings):
    conn = TLSConnection(sock)
    try:
        conn.handshakeServer(certChain=chain, privateKey=key, settings=settings)
        while True:
            data = conn.read(max=1024)
            if not data:
                break
    except Exception:  # the scanner's probes end connections in every way possible
        pass
    finally:
        try:
            conn.close()
        except Exception:
            pass
        try:
            sock.close()
        except Exception:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=sorted(GROUPS), required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    chain, key = identity()
    settings = HandshakeSettings()
    settings.minVersion = (3, 1) if args.mode == "legacy" else (3, 3)
    settings.maxVersion = (3, 3) if args.mode == "legacy" else (3, 4)
    settings.eccCurves = list(GROUPS[args.mode])
    settings.keyShares = [g for g in GROUPS[args.mode] if g != "secp256r1"]

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(64)
    print(f"ready {lsock.getsockname()[1]}", flush=True)
    while True:
        sock, _ = lsock.accept()
        sock.settimeout(20)
        threading.Thread(target=serve_one, args=(sock, chain, key, settings), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""pycrate vs qsafe-asn1 throughput on the PDUs of asn1/benches/e2ap.rs.

Run via scripts/bench-codec.sh, which first runs the criterion bench; this
script builds the same three PDUs in pycrate, checks pycrate's bytes equal the
ones our bench encodes (so both sides measure the same work), times pycrate's
APER encode and decode, reads criterion's estimates from target/criterion and
prints msgs/s for both and the ratio.
"""
import json
import pathlib
import sys
import time

from pycrate_asn1dir import E2AP

ROOT = pathlib.Path(__file__).resolve().parents[2]
PDU = E2AP.E2AP_PDU_Descriptions.E2AP_PDU
KPM_OID = "1.3.6.1.4.1.53148.1.3.2.2"


def indication(n):
    return ('initiatingMessage', {'procedureCode': 5, 'criticality': 'ignore', 'value': ('RICindication', {'protocolIEs': [
        {'id': 29, 'criticality': 'reject', 'value': ('RICrequestID', {'ricRequestorID': 1001, 'ricInstanceID': 7})},
        {'id': 5, 'criticality': 'reject', 'value': ('RANfunctionID', 2)},
        {'id': 15, 'criticality': 'reject', 'value': ('RICactionID', 1)},
        {'id': 27, 'criticality': 'reject', 'value': ('RICindicationSN', 4242)},
        {'id': 28, 'criticality': 'reject', 'value': ('RICindicationType', 'report')},
        {'id': 25, 'criticality': 'reject', 'value': ('RICindicationHeader', b'\xa5' * 16)},
        {'id': 26, 'criticality': 'reject', 'value': ('RICindicationMessage', bytes(i % 251 for i in range(n)))}]})})


def setup():
    funcs = [{'id': 8, 'criticality': 'ignore', 'value': ('RANfunction-Item', {
        'ranFunctionID': i, 'ranFunctionDefinition': bytes([i]) * 256, 'ranFunctionRevision': 1, 'ranFunctionOID': KPM_OID})} for i in range(4)]
    return ('initiatingMessage', {'procedureCode': 1, 'criticality': 'reject', 'value': ('E2setupRequest', {'protocolIEs': [
        {'id': 49, 'criticality': 'reject', 'value': ('TransactionID', 1)},
        {'id': 3, 'criticality': 'reject', 'value': ('GlobalE2node-ID', ('gNB', {'global-gNB-ID': {
            'plmn-id': b'\x00\xf1\x10', 'gnb-id': ('gnb-ID', (0xE000, 28))}}))},
        {'id': 10, 'criticality': 'reject', 'value': ('RANfunctions-List', funcs)},
        {'id': 50, 'criticality': 'reject', 'value': ('E2nodeComponentConfigAddition-List', [{'id': 51, 'criticality': 'reject', 'value': (
            'E2nodeComponentConfigAddition-Item', {'e2nodeComponentInterfaceType': 'f1',
                                                   'e2nodeComponentID': ('e2nodeComponentInterfaceTypeF1', {'gNB-DU-ID': 7}),
                                                   'e2nodeComponentConfiguration': {'e2nodeComponentRequestPart': b'\x01' * 64,
                                                                                    'e2nodeComponentResponsePart': b'\x02' * 64}})}])}]})})


def rate(fn, min_time=1.0):
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and n >= 5:
            return n / elapsed


def criterion_rate(op, name):
    est = ROOT / "target/criterion/e2ap" / op / name / "new/estimates.json"
    if not est.exists():
        return None
    ns = json.loads(est.read_text())["mean"]["point_estimate"]
    return 1e9 / ns


def main():
    cases = [("RICindication_1KiB", indication(1024)), ("RICindication_16KiB", indication(16384)), ("E2setupRequest", setup())]
    print(f"{'PDU':22} {'op':7} {'bytes':>6} {'qsafe-asn1 msg/s':>17} {'pycrate msg/s':>14} {'ratio':>7}")
    missing = False
    for name, value in cases:
        PDU.set_val(value)
        data = PDU.to_aper()
        ours_hex = ROOT / "target/criterion/e2ap-pdus" / f"{name}.hex"
        if ours_hex.exists() and bytes.fromhex(ours_hex.read_text()) != data:
            sys.exit(f"{name}: pycrate's encoding differs from the bench's PDU; the comparison would be meaningless")
        enc_rate = rate(lambda: (PDU.set_val(value), PDU.to_aper()))
        dec_rate = rate(lambda: PDU.from_aper(data))
        for op, py in (("encode", enc_rate), ("decode", dec_rate)):
            ours = criterion_rate(op, name)
            missing |= ours is None
            ratio = f"{ours / py:6.0f}x" if ours else "   n/a"
            ours_s = f"{ours:17,.0f}" if ours else f"{'(no criterion run)':>17}"
            print(f"{name:22} {op:7} {len(data):6} {ours_s} {py:14,.0f} {ratio}")
    if missing:
        print("run `cargo bench -p qsafe-asn1 --bench e2ap` first for the qsafe-asn1 column", file=sys.stderr)


if __name__ == "__main__":
    main()

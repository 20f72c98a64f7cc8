#!/usr/bin/env python3
"""Regenerates the expected bytes embedded in asn1/tests/traps.rs with pycrate.

pycrate (PyPI) is an independent APER codec; each value below is the one the
corresponding Rust test builds. Run: python3 tests/conformance/make_trap_vectors.py
(needs `pip install pycrate`; compiles E2SM-KPM from asn1/modules with
pycrate_asn1compile.py into a temporary directory).
"""
import hashlib
import importlib.util
import pathlib
import subprocess
import tempfile

from pycrate_asn1dir import E2AP

ROOT = pathlib.Path(__file__).resolve().parents[2]
PDU = E2AP.E2AP_PDU_Descriptions.E2AP_PDU


def enc(value):
    PDU.set_val(value)
    return PDU.to_aper()


def request_id(a, b):
    return {'id': 29, 'criticality': 'reject', 'value': ('RICrequestID', {'ricRequestorID': a, 'ricInstanceID': b})}


def main():
    print("enumerated_extension_value", enc(('initiatingMessage', {'procedureCode': 2, 'criticality': 'ignore', 'value': ('ErrorIndication', {'protocolIEs': [
        request_id(1001, 7),
        {'id': 5, 'criticality': 'reject', 'value': ('RANfunctionID', 2)},
        {'id': 1, 'criticality': 'ignore', 'value': ('Cause', ('ricRequest', 'duplicate-ric-request-id'))}]})})).hex())

    print("sequence_extension_addition", enc(('initiatingMessage', {'procedureCode': 8, 'criticality': 'reject', 'value': ('RICsubscriptionRequest', {'protocolIEs': [
        request_id(1001, 7),
        {'id': 5, 'criticality': 'reject', 'value': ('RANfunctionID', 2)},
        {'id': 30, 'criticality': 'reject', 'value': ('RICsubscriptionDetails', {'ricEventTriggerDefinition': b'\x01\x02', 'ricAction-ToBeSetup-List': [
            {'id': 19, 'criticality': 'ignore', 'value': ('RICaction-ToBeSetup-Item', {'ricActionID': 1, 'ricActionType': 'report', 'ricActionExecutionOrder': 5})}]})}]})})).hex())

    print("choice_extension_addition", enc(('initiatingMessage', {'procedureCode': 1, 'criticality': 'reject', 'value': ('E2setupRequest', {'protocolIEs': [
        {'id': 49, 'criticality': 'reject', 'value': ('TransactionID', 3)},
        {'id': 3, 'criticality': 'reject', 'value': ('GlobalE2node-ID', ('eNB', {'global-eNB-ID': {'pLMN-Identity': b'\x00\xf1\x10', 'eNB-ID': ('short-Macro-eNB-ID', (0x2ABCD, 18))}}))},
        {'id': 10, 'criticality': 'reject', 'value': ('RANfunctions-List', [{'id': 8, 'criticality': 'ignore', 'value': ('RANfunction-Item', {
            'ranFunctionID': 2, 'ranFunctionDefinition': b'kpm', 'ranFunctionRevision': 1, 'ranFunctionOID': '1.3.6.1.4.1.53148.1.3.2.2'})}])},
        {'id': 50, 'criticality': 'reject', 'value': ('E2nodeComponentConfigAddition-List', [{'id': 51, 'criticality': 'reject', 'value': ('E2nodeComponentConfigAddition-Item', {
            'e2nodeComponentInterfaceType': 's1', 'e2nodeComponentID': ('e2nodeComponentInterfaceTypeS1', {'mme-name': 'mme1'}),
            'e2nodeComponentConfiguration': {'e2nodeComponentRequestPart': b'req', 'e2nodeComponentResponsePart': b'resp'}})}])}]})})).hex())

    msg = bytes(i % 251 for i in range(70000))
    big = enc(('initiatingMessage', {'procedureCode': 5, 'criticality': 'ignore', 'value': ('RICindication', {'protocolIEs': [
        request_id(1, 2),
        {'id': 5, 'criticality': 'reject', 'value': ('RANfunctionID', 2)},
        {'id': 15, 'criticality': 'reject', 'value': ('RICactionID', 1)},
        {'id': 27, 'criticality': 'reject', 'value': ('RICindicationSN', 65535)},
        {'id': 28, 'criticality': 'reject', 'value': ('RICindicationType', 'report')},
        {'id': 25, 'criticality': 'reject', 'value': ('RICindicationHeader', b'hdr')},
        {'id': 26, 'criticality': 'reject', 'value': ('RICindicationMessage', msg)}]})}))
    print("seventy_kib", len(big), hashlib.sha256(big).hexdigest())

    with tempfile.TemporaryDirectory() as tmp:
        mods = ROOT / "asn1/modules/e2sm-kpm-v03.00"
        subprocess.run(["pycrate_asn1compile.py", "-i", str(mods / "e2sm-v03.01.asn"), str(mods / "e2sm-kpm-v03.00.asn"),
                        "-o", f"{tmp}/kpm"], check=True, capture_output=True)
        spec = importlib.util.spec_from_file_location("kpm", f"{tmp}/kpm.py")
        kpm = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(kpm)
        ind = kpm.E2SM_KPM_IEs.E2SM_KPM_IndicationMessage
        # pycrate REAL values are (mantissa, base, exponent): 1.5 = (3, 2, -1).
        for records in ([('integer', 7), ('real', (3, 2, -1)), ('noValue', 0), ('real', (-3, 2, -2)), ('real', (1, 10, 300))],
                        [('integer', 7), ('real', (3, 2, -1)), ('noValue', 0), ('real', (-3, 2, -2))]):
            ind.set_val({'indicationMessage-formats': ('indicationMessage-Format1', {'measData': [{'measRecord': records}], 'granulPeriod': 1000})})
            print("kpm_real", ind.to_aper().hex())


if __name__ == "__main__":
    main()

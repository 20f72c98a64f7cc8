#!/usr/bin/env python3
"""Validate qsafe-scan CBOMs (CycloneDX 1.6 JSON).

Usage: python scan/tests/conformance/cbom_check.py FILE.cbom.json [FILE ...]

For each file:
  1. cyclonedx-python-lib's strict CycloneDX 1.6 JSON schema validation
     (JsonStrictValidator: no unknown properties anywhere);
  2. semantic checks the schema cannot express:
     * bom-refs are unique, and every reference (`*Ref`, `cryptoRefArray`, cipher-suite
       `algorithms`, `dependencies[].ref/dependsOn`) names an existing bom-ref;
     * every ML-KEM / ML-DSA algorithm (and hybrid *MLKEM* group) has a parameterSetIdentifier
       and nistQuantumSecurityLevel > 0; every classical public-key algorithm (ECDH, X25519,
       X448, ECDSA, RSA, EdDSA, FFDHE) has nistQuantumSecurityLevel 0;
     * certificates have signatureAlgorithmRef -> an `algorithm` component and
       subjectPublicKeyRef -> a public key (related-crypto-material whose algorithmRef is an
       algorithm) or an algorithm;
     * protocol components have protocolProperties.type.
Exit status: 0 when every file is valid, 1 otherwise (2 when cyclonedx-python-lib is missing).
"""

import json
import re
import sys

try:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
except ImportError as e:  # pragma: no cover - environment problem, not a CBOM problem
    print(f"cbom_check: cyclonedx-python-lib is not importable ({e}); "
          "install it (pip install cyclonedx-python-lib[json-validation])", file=sys.stderr)
    sys.exit(2)

PQ_NAME = re.compile(r"^(ML-KEM-|ML-DSA-)|MLKEM", re.IGNORECASE)
CLASSICAL_NAME = re.compile(r"^(X25519|X448|ECDH-|ECDSA-|RSA-|RSASSA-PSS|Ed25519|Ed448|FFDHE-)$|^(ECDH-|ECDSA-|RSA-|RSASSA-PSS|FFDHE-)",
                            re.IGNORECASE)


def walk_refs(node, path, out):
    """Collect (path, value) for every reference-valued field below `node`."""
    if isinstance(node, dict):
        for k, v in node.items():
            p = f"{path}.{k}"
            if k.endswith("Ref") and isinstance(v, str):
                out.append((p, v))
            elif k in ("cryptoRefArray", "algorithms") and isinstance(v, list):
                out.extend((f"{p}[{i}]", r) for i, r in enumerate(v) if isinstance(r, str))
            else:
                walk_refs(v, p, out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(v, f"{path}[{i}]", out)


def all_components(bom):
    stack = list(bom.get("components", []))
    while stack:
        c = stack.pop(0)
        yield c
        stack.extend(c.get("components", []))


def semantic_errors(bom):
    errors = []
    comps = list(all_components(bom))
    by_ref = {}
    for c in comps:
        r = c.get("bom-ref")
        if r is None:
            continue
        if r in by_ref:
            errors.append(f"duplicate bom-ref {r!r}")
        by_ref[r] = c

    refs = []
    walk_refs(bom.get("components", []), "components", refs)
    for i, d in enumerate(bom.get("dependencies", [])):
        refs.append((f"dependencies[{i}].ref", d.get("ref")))
        refs.extend((f"dependencies[{i}].dependsOn[{j}]", r) for j, r in enumerate(d.get("dependsOn", [])))
        refs.extend((f"dependencies[{i}].provides[{j}]", r) for j, r in enumerate(d.get("provides", [])))
    for path, r in refs:
        if r not in by_ref:
            errors.append(f"{path} = {r!r} does not name a bom-ref in this BOM")

    def asset(c):
        return (c.get("cryptoProperties") or {}).get("assetType")

    for c in comps:
        cp = c.get("cryptoProperties") or {}
        name = c.get("name", "")
        where = f"component {c.get('bom-ref', name)!r}"
        kind = asset(c)
        if kind == "algorithm":
            ap = cp.get("algorithmProperties") or {}
            level = ap.get("nistQuantumSecurityLevel")
            if PQ_NAME.search(name):
                if not ap.get("parameterSetIdentifier"):
                    errors.append(f"{where}: post-quantum algorithm without parameterSetIdentifier")
                if not isinstance(level, int) or level <= 0:
                    errors.append(f"{where}: post-quantum algorithm with nistQuantumSecurityLevel {level!r} (want > 0)")
            elif CLASSICAL_NAME.search(name) and level != 0:
                errors.append(f"{where}: classical public-key algorithm with nistQuantumSecurityLevel {level!r} (want 0)")
        elif kind == "certificate":
            props = cp.get("certificateProperties") or {}
            sig = props.get("signatureAlgorithmRef")
            if sig is None:
                errors.append(f"{where}: certificate without signatureAlgorithmRef")
            elif sig in by_ref and asset(by_ref[sig]) != "algorithm":
                errors.append(f"{where}: signatureAlgorithmRef {sig!r} is not an algorithm component")
            key = props.get("subjectPublicKeyRef")
            if key is None:
                errors.append(f"{where}: certificate without subjectPublicKeyRef")
            elif key in by_ref:
                target = by_ref[key]
                if asset(target) == "related-crypto-material":
                    rp = target["cryptoProperties"].get("relatedCryptoMaterialProperties") or {}
                    alg = rp.get("algorithmRef")
                    if rp.get("type") != "public-key":
                        errors.append(f"{where}: subjectPublicKeyRef {key!r} is not a public-key")
                    if alg not in by_ref or asset(by_ref[alg]) != "algorithm":
                        errors.append(f"{where}: public key {key!r} does not reference an algorithm component")
                elif asset(target) != "algorithm":
                    errors.append(f"{where}: subjectPublicKeyRef {key!r} is neither a public key nor an algorithm")
            for field in ("notValidBefore", "notValidAfter", "subjectName", "issuerName"):
                if not props.get(field):
                    errors.append(f"{where}: certificate without {field}")
        elif kind == "protocol":
            if not (cp.get("protocolProperties") or {}).get("type"):
                errors.append(f"{where}: protocol without protocolProperties.type")
    return errors


def check(path, validator):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        bom = json.loads(text)
    except (OSError, ValueError) as e:
        return [f"cannot read JSON: {e}"]
    errors = []
    if bom.get("specVersion") != "1.6":
        errors.append(f"specVersion is {bom.get('specVersion')!r}, want '1.6'")
    err = validator.validate_str(text, all_errors=True)
    if err is not None:
        for e in err:
            d = getattr(e, "data", None)
            where = "/".join(str(p) for p in getattr(d, "absolute_path", [])) if d is not None else ""
            msg = getattr(d, "message", None) or str(e)
            errors.append(f"schema: {where or '<root>'}: {msg}")
    errors.extend(semantic_errors(bom))
    return errors


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 1
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    failed = 0
    for path in argv[1:]:
        errors = check(path, validator)
        if errors:
            failed += 1
            print(f"INVALID {path}: {len(errors)} problem(s)")
            for e in errors:
                print(f"  - {e}")
        else:
            print(f"OK      {path}")
    if failed:
        print(f"cbom_check: {failed} of {len(argv) - 1} file(s) invalid")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

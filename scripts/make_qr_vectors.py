"""Regenerate docs/qr-format-vectors.json: fixed keys and claims, deterministic ECDSA (RFC 6979).

Run: .venv/bin/python scripts/make_qr_vectors.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from licence_svc.core.identifiers import LicenceId  # noqa: E402
from licence_svc.core.kinds import KINDS  # noqa: E402
from licence_svc.core.payload import Claims, canonical_json, data_digest, qr_text, sign_claims  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "qr-format-vectors.json"
PRIVATE_SCALAR = 0x1F2E3D4C5B6A79880123456789ABCDEFFEDCBA98765432100F1E2D3C4B5A6978
KID = bytes.fromhex("4a9c22ececa28c55")
ISSUER = "11110000000019001J"


def main() -> None:
    key = ec.derive_private_key(PRIVATE_SCALAR, ec.SECP256R1())
    pub = key.public_key().public_numbers()
    vectors = []
    cases = [
        ("id_card", {"name": "张晓明", "id_number": "110101199003071233"}, 1900000000),
        ("household_register", {"household_number": "110101006321"}, None),
    ]
    for kind, data, expires in cases:
        lid = LicenceId(KINDS[kind].kind_code, ISSUER, "D5DPPS0FL67TSDU6", 1)
        claims = Claims(str(lid), kind, ISSUER, 1795000000, expires, "张*明", data_digest(data), 98765)
        signed = sign_claims(claims, key, KID)
        vectors.append(
            {
                "description": f"{kind}, {'expires' if expires else 'no expiry (长期)'}",
                "data": data,
                "canonical_json_utf8_hex": canonical_json(data).hex(),
                "claims": {
                    "identifier": claims.identifier,
                    "kind": kind,
                    "issuer": ISSUER,
                    "issued_at": claims.issued_at,
                    "expires_at": expires,
                    "holder": claims.holder,
                    "digest_hex": claims.digest.hex(),
                    "status_index": claims.status_index,
                },
                "claims_cbor_hex": claims.to_cbor().hex(),
                "cose_sign1_hex": signed.hex(),
                "qr_text": qr_text("https://zzfw.example.gov.cn", signed),
            }
        )
    doc = {
        "signer": {
            "curve": "P-256",
            "private_scalar_hex": f"{PRIVATE_SCALAR:064x}",
            "public_x_hex": f"{pub.x:064x}",
            "public_y_hex": f"{pub.y:064x}",
            "kid_hex": KID.hex(),
            "note": "test key only; a real kid is the first 8 bytes of SHA-256 over the certificate DER",
        },
        "vectors": vectors,
    }
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

"""An in-memory KMS for the JSON 1.1 wire protocol: keys, and encryption that only this
fake can undo (the ciphertext names the key and carries the plaintext, base64-encoded by
the protocol). Local mode's ``create_resources`` makes a key for webhook signing secrets."""

from __future__ import annotations

import base64
import itertools
import threading
from typing import Any


class KmsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


_MAGIC = b"fake-kms:"


class FakeKMS:
    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self._ids = itertools.count(1)

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        method = getattr(self, f"op_{operation}", None)
        if method is None:
            raise KmsError("UnsupportedOperationException", f"{operation} is not supported by the fake")
        with self.lock:
            return method(request)

    def _key(self, key_id: str) -> dict[str, Any]:
        key_id = key_id.rsplit("/", 1)[-1]
        if key_id not in self.keys:
            raise KmsError("NotFoundException", f"Key '{key_id}' does not exist")
        return self.keys[key_id]

    def op_CreateKey(self, request: dict[str, Any]) -> dict[str, Any]:
        key_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"
        metadata = {"KeyId": key_id, "Arn": f"arn:aws:kms:us-east-1:123456789012:key/{key_id}",
                    "Description": request.get("Description", ""), "KeyState": "Enabled", "Enabled": True,
                    "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT", "CreationDate": 0}
        self.keys[key_id] = metadata
        return {"KeyMetadata": metadata}

    def op_DescribeKey(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"KeyMetadata": self._key(request["KeyId"])}

    def op_Encrypt(self, request: dict[str, Any]) -> dict[str, Any]:
        key = self._key(request["KeyId"])
        plaintext = base64.b64decode(request["Plaintext"])
        context = repr(sorted((request.get("EncryptionContext") or {}).items())).encode()
        blob = _MAGIC + key["KeyId"].encode() + b"|" + base64.b64encode(context) + b"|" + plaintext
        return {"CiphertextBlob": base64.b64encode(blob).decode(), "KeyId": key["Arn"],
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def op_Decrypt(self, request: dict[str, Any]) -> dict[str, Any]:
        blob = base64.b64decode(request["CiphertextBlob"])
        if not blob.startswith(_MAGIC):
            raise KmsError("InvalidCiphertextException", "The ciphertext is not one this key made")
        key_id, context, plaintext = blob[len(_MAGIC):].split(b"|", 2)
        expected = repr(sorted((request.get("EncryptionContext") or {}).items())).encode()
        if base64.b64decode(context) != expected:
            raise KmsError("InvalidCiphertextException", "The encryption context does not match")
        key = self._key(key_id.decode())
        return {"Plaintext": base64.b64encode(plaintext).decode(), "KeyId": key["Arn"],
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

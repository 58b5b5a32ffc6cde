"""Client secrets: generated with enough entropy, stored as salted scrypt hashes, compared in constant
time."""

import base64
import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def generate_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in standard base64, which every
    implementation of the convention decodes the same way."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def generate_client_id() -> str:
    return "ci_" + secrets.token_hex(12)


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        secret.encode(), salt=base64.b64decode(salt_b64), n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P
    )
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


# Spent on unknown client ids too, so response time does not tell which client ids exist.
DUMMY_HASH = hash_secret(generate_secret())

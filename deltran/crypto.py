"""Encryption at rest for parties' account numbers and IBANs, and their masked form for roles that do not need them.

`EncryptedCharField` encrypts in `get_db_prep_value`, so every ORM write encrypts: save(), create(), bulk_create(),
update(), bulk_update(). Code that writes such a column with raw SQL must pass each value through
`field.get_db_prep_value(value, connection)` itself (payments/migrations/0007 does). Reads decrypt in
`from_db_value`, for model instances, values() and values_list() alike.

Cipher: Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) with the keys in DELTRAN_FIELD_KEY, url-safe
base64 Fernet keys separated by commas (`python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"`). The first key encrypts, every key decrypts (MultiFernet): to rotate, put
a new key first, run `manage.py field_keys_rotate`, then drop the old key. Without DELTRAN_FIELD_KEY the key is
derived from SECRET_KEY, for the embedded demo only: a system check warns (deltran.W001).

Each value gets a fresh random IV, so equal values have different cipher texts: these columns can be read but not
filtered, sorted or searched, and every lookup but `isnull` is refused (FieldError) rather than silently matching
nothing. The empty string is stored as it is (no account given).
"""

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

# Every Fernet token starts with its version byte 0x80, which base64 writes as "gAAAAA" (for any time stamp
# until the year 8921). A stored value without it is a row written before encryption (see the migration).
TOKEN_PREFIX = "gAAAAA"


def derived_development_key(secret_key: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(b"deltran-field-key:" + secret_key.encode()).digest())


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    raw = [key.encode() for key in keys] or [derived_development_key(secret_key)]
    try:
        return MultiFernet([Fernet(key) for key in raw])
    except ValueError as exc:
        raise ImproperlyConfigured(f"DELTRAN_FIELD_KEY holds a key that is not a Fernet key: {exc}") from exc


def field_cipher() -> MultiFernet:
    return _cipher(tuple(settings.DELTRAN_FIELD_KEYS), settings.SECRET_KEY)


def encrypt_text(value: str) -> str:
    if not value:
        return value
    return field_cipher().encrypt(value.encode()).decode("ascii")


def decrypt_text(value: str | None) -> str | None:
    if not value or not value.startswith(TOKEN_PREFIX):
        return value
    try:
        return field_cipher().decrypt(value.encode("ascii")).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "An encrypted column could not be decrypted with any key in DELTRAN_FIELD_KEY (a key was removed "
            "before `manage.py field_keys_rotate` ran, or the keys are another installation's)."
        ) from exc


def is_encrypted(value: str | None) -> bool:
    return bool(value) and value.startswith(TOKEN_PREFIX)


class EncryptedCharField(models.CharField):
    """A CharField whose value is stored encrypted (in a text column: the cipher text is longer than max_length,
    which still bounds the plain value for validation, forms and serializers)."""

    description = "Text encrypted at rest (Fernet)"

    def db_type(self, connection):
        return connection.data_types["TextField"]

    def cast_db_type(self, connection):
        return self.db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        return encrypt_text(value) if isinstance(value, str) else value

    def bulk_value(self, value):
        """What get_db_prep_save writes, without the field machinery around it (deltran.bulk, per row)."""
        return None if value is None else encrypt_text(value if isinstance(value, str) else str(value))

    def from_db_value(self, value, expression, connection):
        return decrypt_text(value)

    def get_lookup(self, lookup_name):
        # Cipher texts are random: an equality or pattern lookup could never match, so refuse it loudly.
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name):
        return None


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every model with encrypted columns, and those columns."""
    found = []
    for model in apps.get_models():
        columns = [f.column for f in model._meta.concrete_fields if isinstance(f, ENCRYPTED_FIELD_TYPES)]
        if columns:
            found.append((model, columns))
    return found


def column_values_rewrite(*, connection, table: str, pk_column: str, columns: list[str], transform, batch=2000) -> int:
    """Pass the non-empty values of `columns` through `transform` with plain SQL, in primary-key batches (the ORM
    would decrypt and encrypt again); returns how many rows changed. For migrations and key rotation."""
    quote = connection.ops.quote_name
    selected = ", ".join(quote(c) for c in columns)
    non_empty = " OR ".join(f"{quote(c)} <> ''" for c in columns)
    assignments = ", ".join(f"{quote(c)} = %s" for c in columns)
    last, changed = None, 0
    with connection.cursor() as cursor:
        while True:
            after = f" AND {quote(pk_column)} > %s" if last is not None else ""
            cursor.execute(
                f"SELECT {quote(pk_column)}, {selected} FROM {quote(table)} WHERE ({non_empty}){after} "
                f"ORDER BY {quote(pk_column)} LIMIT {int(batch)}",
                [last] if last is not None else [],
            )
            rows = cursor.fetchall()
            if not rows:
                return changed
            updates = []
            for pk, *values in rows:
                new = [transform(value) if value else value for value in values]
                if new != values:
                    updates.append([*new, pk])
            if updates:
                cursor.executemany(f"UPDATE {quote(table)} SET {assignments} WHERE {quote(pk_column)} = %s", updates)
                changed += len(updates)
            last = rows[-1][0]


def encrypt_if_plain(value: str) -> str:
    return value if is_encrypted(value) else encrypt_text(value)


def reencrypt_with_first_key(value: str) -> str:
    if not is_encrypted(value):
        return encrypt_text(value)
    return field_cipher().rotate(value.encode("ascii")).decode("ascii")


class EncryptedTextField(models.TextField):
    """Text of any length stored encrypted, e.g. a bank's original message, which carries the parties' accounts."""

    description = "Text encrypted at rest (Fernet)"

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        return encrypt_text(value) if isinstance(value, str) else value

    def from_db_value(self, value, expression, connection):
        return decrypt_text(value)

    def get_lookup(self, lookup_name):
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name):
        return None


class EncryptedJSONField(models.TextField):
    """A JSON value (dicts, lists, strings, numbers) stored encrypted in a text column, e.g. a stored API response
    that holds parties' accounts. Values are written as compact JSON (DjangoJSONEncoder) and read back as parsed
    JSON; a plain JSON text written before encryption reads as it is."""

    description = "JSON encrypted at rest (Fernet)"

    def get_prep_value(self, value):
        return value

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        return encrypt_text(json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":")))

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return json.loads(decrypt_text(value))

    def to_python(self, value):
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def value_to_string(self, obj) -> str:
        return json.dumps(self.value_from_object(obj), cls=DjangoJSONEncoder)

    def get_lookup(self, lookup_name):
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name):
        return None


ENCRYPTED_FIELD_TYPES = (EncryptedCharField, EncryptedTextField, EncryptedJSONField)


@checks.register(checks.Tags.security, deploy=False)
def check_field_key(app_configs=None, **kwargs):
    if settings.DELTRAN_FIELD_KEYS:
        try:
            field_cipher()
        except ImproperlyConfigured as exc:
            return [checks.Error(str(exc), id="deltran.E001")]
        return []
    return [
        checks.Warning(
            "DELTRAN_FIELD_KEY is not set: account numbers and IBANs are encrypted with a key derived from "
            "SECRET_KEY. Fine for the embedded demo; production sets its own key (README, 'Encryption at rest').",
            id="deltran.W001",
        )
    ]


def mask_iban(value: str) -> str:
    """'DE89370400440532013000' → 'DE89 **** **** 3000': country and check digits, and the last four."""
    compact = value.replace(" ", "")
    if not compact:
        return ""
    if len(compact) < 9:
        return "****"
    return f"{compact[:4]} **** **** {compact[-4:]}"


def mask_account(value: str) -> str:
    """'0123456789' → '**** 6789': the last four of an account number (fewer when it is short)."""
    compact = value.replace(" ", "")
    if not compact:
        return ""
    shown = 4 if len(compact) >= 8 else 2 if len(compact) >= 5 else 0
    return f"**** {compact[-shown:]}" if shown else "****"

"""Re-encrypt every encrypted column (account numbers, IBANs) with the first key of DELTRAN_FIELD_KEY."""

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from deltran.crypto import column_values_rewrite, encrypted_fields, reencrypt_with_first_key


class Command(BaseCommand):
    help = (
        "Key rotation: with the new key first in DELTRAN_FIELD_KEY and the old one still after it, re-encrypt "
        "every encrypted column with the new key (plain values left by old writers are encrypted too). "
        "Afterwards the old key can be removed."
    )

    def handle(self, *args, **options):
        for model, columns in encrypted_fields():
            with transaction.atomic():
                changed = column_values_rewrite(
                    connection=connection,
                    table=model._meta.db_table,
                    pk_column=model._meta.pk.column,
                    columns=columns,
                    transform=reencrypt_with_first_key,
                )
            self.stdout.write(f"{model._meta.label}: {changed} rows re-encrypted ({', '.join(columns)}).")

"""Idempotency records' stored first responses (which hold the parties' accounts) encrypted at rest.

The column becomes text (PostgreSQL casts jsonb to its JSON text) and the rows already there are encrypted with plain
SQL (deltran.crypto.column_values_rewrite); backwards decrypts them before the column is JSON again.
"""

from django.db import migrations

import deltran.crypto


def rewrite(transform):
    def run(apps, schema_editor):
        IdempotencyRecord = apps.get_model("deltran", "IdempotencyRecord")
        deltran.crypto.column_values_rewrite(
            connection=schema_editor.connection,
            table=IdempotencyRecord._meta.db_table,
            pk_column=IdempotencyRecord._meta.pk.column,
            columns=["response_body"],
            transform=transform,
        )

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("deltran", "0007_websocketprocess"),
    ]

    operations = [
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="response_body",
            field=deltran.crypto.EncryptedJSONField(),
        ),
        migrations.RunPython(
            rewrite(deltran.crypto.encrypt_if_plain), rewrite(deltran.crypto.decrypt_text), elidable=False
        ),
    ]

"""Inbound messages (pacs.008, MT103, JSON batches as the banks sent them, parties' accounts included) encrypted at
rest; the rows already there are encrypted with plain SQL in primary-key batches, and decrypted backwards."""

from django.db import migrations

import deltran.crypto


def rewrite(transform):
    def run(apps, schema_editor):
        InboundMessage = apps.get_model("payments", "InboundMessage")
        deltran.crypto.column_values_rewrite(
            connection=schema_editor.connection,
            table=InboundMessage._meta.db_table,
            pk_column=InboundMessage._meta.pk.column,
            columns=["content"],
            transform=transform,
            batch=200,
        )

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0009_timeline_actor_unindexed"),
    ]

    operations = [
        migrations.AlterField(
            model_name="inboundmessage",
            name="content",
            field=deltran.crypto.EncryptedTextField(),
        ),
        migrations.RunPython(
            rewrite(deltran.crypto.encrypt_if_plain), rewrite(deltran.crypto.decrypt_text), elidable=False
        ),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('deltran', '0006_api_client'),
    ]

    operations = [
        migrations.CreateModel(
            name='WebsocketProcess',
            fields=[
                ('process', models.CharField(max_length=100, primary_key=True, serialize=False)),
                ('connections', models.PositiveIntegerField(default=0)),
                ('updated_at', models.DateTimeField()),
            ],
        ),
    ]

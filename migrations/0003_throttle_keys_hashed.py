from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('phigate', '0002_auth')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='Throttle',
            options={'table': 'throttle', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'Failed attempts per key: `user:<SHA-256 of the name>`, `ip:<addr>` or `mfa:<user id>`.'},
        ),
    ]

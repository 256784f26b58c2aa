from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('phigate', '0015_trusted_documents')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Passkey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('user', fields.ForeignKeyField('phigate.User', source_field='user_id', db_constraint=True, to_field='id', related_name='passkeys', on_delete=OnDelete.CASCADE)),
                ('credential_id', fields.CharField(unique=True, max_length=1400)),
                ('public_key', fields.TextField(unique=False)),
                ('sign_count', fields.BigIntField(default=0)),
                ('name', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'passkey', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'A WebAuthn credential: its public key (nothing secret) and the last sign counter seen,'},
            bases=['PublicModel'],
        ),
        ops.AddField(
            model_name='AuthSession',
            name='passkey_challenge',
            field=fields.CharField(null=True, max_length=128),
        ),
    ]

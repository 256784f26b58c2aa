from migrations._enums import SessionStage0002
from tortoise import migrations
from tortoise.migrations import operations as ops
from models.base import SecretField
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('phigate', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuthSession',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('csrf_hash', fields.CharField(null=True, max_length=64)),
                ('user', fields.ForeignKeyField('phigate.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('stage', fields.CharEnumField(description='MFA: mfa\nACTIVE: active', enum_type=SessionStage0002, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('idle_expired_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ip', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'auth_session', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'A login session. Only the SHA-256 of its 256-bit token is stored.'},
            bases=['PublicModel'],
        ),
        ops.CreateModel(
            name='Device',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('user', fields.ForeignKeyField('phigate.User', source_field='user_id', db_constraint=True, to_field='id', related_name='devices', on_delete=OnDelete.CASCADE)),
                ('pin_hash', fields.CharField(max_length=255)),
                ('failed_pins', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'device', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'A mobile device registered after a full login. Its PIN can unlock an idle session.'},
            bases=['PublicModel'],
        ),
        ops.CreateModel(
            name='RecoveryCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('phigate.User', source_field='user_id', db_constraint=True, to_field='id', related_name='recovery_codes', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'recovery_code', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'Single-use MFA recovery codes, stored as SHA-256 (they carry 80 random bits).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Throttle',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('failures', fields.IntField(default=0)),
                ('last_failure_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'throttle', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'Failed attempts per key (`user:<name>`, `ip:<addr>`, `mfa:<user id>`), whether or not'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='allowed_networks',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='User',
            name='totp_confirmed',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='User',
            name='totp_last_step',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='User',
            name='totp_secret',
            field=SecretField(null=True),
        ),
    ]

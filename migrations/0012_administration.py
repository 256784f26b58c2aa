from tortoise import migrations
from tortoise.migrations import operations as ops
from migrations._enums import SessionStage0012
from models.base import SealedField
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('phigate', '0011_writes')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='AuthSession',
            name='stage',
            field=fields.CharEnumField(description='MFA: mfa\nACTIVE: active\nPASSWORD: password', enum_type=SessionStage0012, max_length=10),
        ),
        ops.AddField(
            model_name='ProxyGrant',
            name='granted_by',
            field=fields.ForeignKeyField('phigate.User', source_field='granted_by_id', null=True, db_constraint=True, to_field='id', related_name='proxy_grants_recorded', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='ProxyGrant',
            name='reason',
            field=SealedField(null=True),
        ),
        ops.AddField(
            model_name='User',
            name='must_change_password',
            field=fields.BooleanField(default=False),
        ),
    ]

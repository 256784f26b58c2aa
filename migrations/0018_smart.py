from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('phigate', '0017_fhir_sources')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AccessToken',
            name='patient',
            field=fields.ForeignKeyField('phigate.Patient', source_field='patient_id', null=True, db_constraint=True, to_field='id', related_name='access_tokens', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='AuthorizationCode',
            name='nonce',
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name='AuthorizationCode',
            name='patient',
            field=fields.ForeignKeyField('phigate.Patient', source_field='patient_id', null=True, db_constraint=True, to_field='id', related_name='authorization_codes', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='TokenFamily',
            name='patient',
            field=fields.ForeignKeyField('phigate.Patient', source_field='patient_id', null=True, db_constraint=True, to_field='id', related_name='token_families', on_delete=OnDelete.CASCADE),
        ),
    ]

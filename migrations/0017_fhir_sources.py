from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('phigate', '0016_passkeys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FhirSource',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('phigate.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='fhir_sources', on_delete=OnDelete.RESTRICT)),
                ('key_index', fields.BinaryField()),
                ('record', fields.CharField(max_length=40)),
                ('patient', fields.CharField(max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'fhir_source', 'app': 'phigate', 'unique_together': (('organization', 'key_index'),), 'pk_attr': 'id', 'table_description': 'A source resource (`Observation/abc`) and the record it became. The source key is kept'},
        ),
    ]

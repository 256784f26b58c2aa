"""Writes: patient versions, MRNs unique per organization, revisions, idempotency keys."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.base import SealedField
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('phigate', '0010_public_clients')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('actor', fields.CharField(max_length=64)),
                ('key_hash', fields.BinaryField()),
                ('operation', fields.CharField(max_length=120)),
                ('record_id', fields.CharField(max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'idempotency_key', 'app': 'phigate', 'unique_together': (('actor', 'key_hash'),), 'pk_attr': 'id', 'table_description': 'The first result of a mutation sent with an `Idempotency-Key`, per principal. Holds a'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PatientRevision',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('patient', fields.ForeignKeyField('phigate.Patient', source_field='patient_id', db_constraint=True, to_field='id', related_name='revisions', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('action', fields.CharField(max_length=10)),
                ('changed', fields.CharField(max_length=400)),
                ('actor', fields.CharField(max_length=64)),
                ('role', fields.CharField(max_length=20)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reason', SealedField(null=True)),
                ('mrn', SealedField(null=True)),
                ('given_name', SealedField(null=True)),
                ('family_name', SealedField(null=True)),
                ('birth_date', SealedField(null=True)),
                ('ssn', SealedField(null=True)),
                ('phone', SealedField(null=True)),
                ('email', SealedField(null=True)),
                ('street', SealedField(null=True)),
                ('city', SealedField(null=True)),
                ('zip', SealedField(null=True)),
            ],
            options={'table': 'patient_revision', 'app': 'phigate', 'unique_together': (('patient', 'version'),), 'pk_attr': 'id', 'table_description': 'Patient `patient` as it was at `version`, before `actor` changed `changed` at `at`.'},
            bases=['PublicModel'],
        ),
        ops.AddField(
            model_name='Patient',
            name='version',
            field=fields.IntField(default=1),
        ),
        ops.AddConstraint(
            model_name='Patient',
            constraint=UniqueConstraint(fields=('organization', 'mrn_index'), name=None),
        ),
    ]

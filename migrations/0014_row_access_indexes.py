from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [("phigate", "0013_clinical_writes")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='CareTeamAssignment',
            index=Index(fields=['user_id', 'ended_at', 'patient_id']),
        ),
        ops.AddIndex(
            model_name='ClinicalNote',
            index=Index(fields=['patient_id', 'id']),
        ),
        ops.AddIndex(
            model_name='Diagnosis',
            index=Index(fields=['patient_id', 'id']),
        ),
        ops.AddIndex(
            model_name='Encounter',
            index=Index(fields=['patient_id', 'id']),
        ),
        ops.AddIndex(
            model_name='Observation',
            index=Index(fields=['patient_id', 'id']),
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('phigate', '0005_audit_by_patient')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AuditEvent',
            name='detail',
            field=fields.CharField(null=True, max_length=400),
        ),
    ]

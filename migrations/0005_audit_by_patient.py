from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('phigate', '0004_oauth')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='AuditEvent',
            options={'table': 'audit_event', 'app': 'phigate', 'indexes': [Index(fields=['patient', 'at']), Index(fields=['actor', 'at'])], 'pk_attr': 'id', 'table_description': 'One security event, or the PHI fields one request resolved on one patient with one'},
        ),
        ops.AddField(
            model_name='AuditEvent',
            name='phi_fields',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.RemoveField(model_name='AuditEvent', name='field'),
        ops.RemoveField(model_name='AuditEvent', name='path'),
    ]

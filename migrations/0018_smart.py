from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

# Tortoise's SQLite RemoveField of a foreign key rebuilds the table without the relation but
# keeps its `patient_id` column, so migrating back and forth again would add it twice.
_LEFT_BEHIND = ("oauth_access_token", "oauth_authorization_code", "oauth_token_family")


async def _nothing(apps, schema_editor) -> None:
    return None


async def _drop_left_behind(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "sqlite":
        return
    for table in _LEFT_BEHIND:
        columns = await client.execute_query_dict(f'PRAGMA table_info("{table}")')
        if any(column["name"] == "patient_id" for column in columns):
            await client.execute_script(f'ALTER TABLE "{table}" DROP COLUMN "patient_id"')


class Migration(migrations.Migration):
    dependencies = [('phigate', '0017_fhir_sources')]

    initial = False

    operations = [
        # First, so that it is undone last, after the fields' removal.
        ops.RunPython(_nothing, _drop_left_behind),
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

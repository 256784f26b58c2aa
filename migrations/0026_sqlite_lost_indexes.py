"""SQLite only: the indexes two table rebuilds lost, put back.

Tortoise's SQLite schema editor drops or alters a column by rebuilding the table, and the new
table gets none of the old one's indexes. 0005 rebuilt `audit_event` (the auditors' queries by
actor and a patient's accounting of disclosures read every record without its two indexes);
0008 rebuilt `data_key` without its unique (purpose, version), which keeps two key rotations
from writing the same version. PostgreSQL alters in place and has them all.

The names are Tortoise's, as a later index operation computes them. Going back keeps them: the
migration state has declared them since 0001."""

from tortoise import migrations
from tortoise.migrations import operations as ops

LOST = (
    'CREATE INDEX IF NOT EXISTS "idx_audit_event_patient_fe9ef3" ON "audit_event" ("patient", "at")',
    'CREATE INDEX IF NOT EXISTS "idx_audit_event_actor_aab670" ON "audit_event" ("actor", "at")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "uid_data_key_purpose_2b62d7" ON "data_key" ("purpose", "version")',
)


async def restore(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "sqlite":
        return
    for statement in LOST:
        await client.execute_query(statement)


async def keep(apps, schema_editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [("phigate", "0025_idempotency_fingerprint")]

    initial = False

    operations = [ops.RunPython(restore, keep)]

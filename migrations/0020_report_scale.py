from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

from migrations._columns import AddColumn


# Patients registered before this migration draw their shuffle value here, in the database:
# uniform below 2**31 like `secrets.randbelow` at registration (the value is no secret, only
# an even spread matters).
BACKFILL = {
    "postgres": "UPDATE patient SET report_shuffle = floor(random() * 2147483648)::int",
    "sqlite": "UPDATE patient SET report_shuffle = abs(random() % 2147483648)",
}


async def backfill(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_query(BACKFILL[client.capabilities.dialect])


async def _nothing(apps, schema_editor) -> None:
    """Going back, removing the column (the AddField's reverse) is all there is to undo."""


class Migration(migrations.Migration):
    dependencies = [("phigate", "0019_audit_partitions")]

    initial = False

    operations = [
        # NOT NULL with a database default from the start: altering the column afterwards
        # would make SQLite rebuild `patient`, and dropping the old table cascades to every
        # encounter, diagnosis and observation.
        AddColumn(
            model_name="Patient",
            name="report_shuffle",
            field=fields.IntField(db_default=0),
        ),
        ops.RunPython(backfill, _nothing),
        ops.AddIndex(
            model_name="Patient",
            index=Index(fields=["organization_id", "report_shuffle"]),
        ),
        ops.AddIndex(
            model_name="Patient",
            index=Index(fields=["report_shuffle"]),
        ),
    ]

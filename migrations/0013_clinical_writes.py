"""Clinical writes: versions and statuses on amendable entries, their revisions, notes naming
an encounter; `Observation.unit` and `Encounter.kind` sealed (#18 item 7).

The two columns that held plaintext are renamed aside, the sealed columns added, every
existing value sealed under the current data key with its row and column binding, and the
plaintext columns dropped, all in this migration: no plaintext unit or kind survives it. A
database holding such rows needs the master key (`phigate migrate` passes its key provider);
without one the migration fails and changes nothing."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from crypto.migration_keys import migration_keyring
from crypto.sealed import binding_for
from migrations._enums import EntryStatus0013
from models.base import SealedField

_SEALED = (("observation", "unit"), ("encounter", "kind"))
"""(table, column) of each column sealed here; the plaintext is in `<column>_plaintext`."""


async def _seal_existing(apps: object, editor: object) -> None:
    connection = editor.client  # type: ignore[attr-defined]
    postgres = connection.capabilities.dialect == "postgres"
    keyring = None
    for table, column in _SEALED:
        rows = await connection.execute_query_dict(
            f"SELECT id, public_id, {column}_plaintext AS plain FROM {table}"  # noqa: S608
            f" WHERE {column}_plaintext IS NOT NULL"
        )
        if not rows:
            continue
        keyring = keyring or await migration_keyring(connection)
        if keyring is None:
            raise LookupError(f"{table} has rows but the database has no data key")
        placeholders = ("$1", "$2") if postgres else ("?", "?")
        update = (
            f"UPDATE {table} SET {column} = {placeholders[0]}"  # noqa: S608
            f" WHERE id = {placeholders[1]}"
        )
        for row in rows:
            sealed = keyring.seal(row["plain"], binding_for(f"{table}.{column}", row["public_id"]))
            await connection.execute_query(update, [sealed.blob, row["id"]])


async def _refuse_unsealing(apps: object, editor: object) -> None:
    """Going back would put units and kinds back in plaintext: only an empty table may."""
    connection = editor.client  # type: ignore[attr-defined]
    for table, column in _SEALED:
        rows = await connection.execute_query_dict(
            f"SELECT id FROM {table} WHERE {column} IS NOT NULL"  # noqa: S608
        )
        if rows:
            raise RuntimeError(f"{table}.{column} is sealed: it is never written back in plaintext")


class Migration(migrations.Migration):
    dependencies = [("phigate", "0012_administration")]

    initial = False

    operations = [
        ops.RenameField(model_name="Observation", old_name="unit", new_name="unit_plaintext"),
        ops.AlterField(
            model_name="Observation",
            name="unit_plaintext",
            field=fields.CharField(max_length=32, null=True),
        ),
        ops.AddField(model_name="Observation", name="unit", field=SealedField(null=True)),
        ops.RenameField(model_name="Encounter", old_name="kind", new_name="kind_plaintext"),
        ops.AddField(model_name="Encounter", name="kind", field=SealedField(null=True)),
        ops.RunPython(_seal_existing, _refuse_unsealing),
        ops.RemoveField(model_name="Observation", name="unit_plaintext"),
        ops.RemoveField(model_name="Encounter", name="kind_plaintext"),
        ops.AddField(model_name="Diagnosis", name="version", field=fields.IntField(default=1, db_default=1)),
        ops.AddField(
            model_name="Diagnosis",
            name="status",
            field=fields.CharEnumField(
                description="CURRENT: CURRENT\nAMENDED: AMENDED\nENTERED_IN_ERROR: ENTERED_IN_ERROR",
                enum_type=EntryStatus0013,
                max_length=20,
                default=EntryStatus0013.CURRENT,
                db_default='CURRENT',
            ),
        ),
        ops.AddField(model_name="Observation", name="version", field=fields.IntField(default=1, db_default=1)),
        ops.AddField(
            model_name="Observation",
            name="status",
            field=fields.CharEnumField(
                description="CURRENT: CURRENT\nAMENDED: AMENDED\nENTERED_IN_ERROR: ENTERED_IN_ERROR",
                enum_type=EntryStatus0013,
                max_length=20,
                default=EntryStatus0013.CURRENT,
                db_default='CURRENT',
            ),
        ),
        ops.AddField(model_name="ClinicalNote", name="version", field=fields.IntField(default=1, db_default=1)),
        ops.AddField(
            model_name="ClinicalNote",
            name="status",
            field=fields.CharEnumField(
                description="CURRENT: CURRENT\nAMENDED: AMENDED\nENTERED_IN_ERROR: ENTERED_IN_ERROR",
                enum_type=EntryStatus0013,
                max_length=20,
                default=EntryStatus0013.CURRENT,
                db_default='CURRENT',
            ),
        ),
        ops.AddField(
            model_name="ClinicalNote",
            name="encounter",
            field=fields.ForeignKeyField(
                "phigate.Encounter",
                source_field="encounter_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="notes",
                on_delete=OnDelete.SET_NULL,
            ),
        ),
        ops.CreateModel(
            name="DiagnosisRevision",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                ("version", fields.IntField()),
                ("status", fields.CharField(max_length=20)),
                ("changed", fields.CharField(max_length=400)),
                ("actor", fields.CharField(max_length=64)),
                ("role", fields.CharField(max_length=20)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("reason", SealedField(null=True)),
                ("entry", fields.ForeignKeyField("phigate.Diagnosis", source_field="entry_id", db_constraint=True, to_field="id", related_name="revisions", on_delete=OnDelete.CASCADE)),
                ("code", SealedField(null=True)),
                ("description", SealedField(null=True)),
                ("recorded_date", SealedField(null=True)),
            ],
            options={"table": "diagnosis_revision", "app": "phigate", "unique_together": (("entry", "version"),), "pk_attr": "id"},
            bases=["EntryRevision"],
        ),
        ops.CreateModel(
            name="ObservationRevision",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                ("version", fields.IntField()),
                ("status", fields.CharField(max_length=20)),
                ("changed", fields.CharField(max_length=400)),
                ("actor", fields.CharField(max_length=64)),
                ("role", fields.CharField(max_length=20)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("reason", SealedField(null=True)),
                ("entry", fields.ForeignKeyField("phigate.Observation", source_field="entry_id", db_constraint=True, to_field="id", related_name="revisions", on_delete=OnDelete.CASCADE)),
                ("code", SealedField(null=True)),
                ("value", SealedField(null=True)),
                ("unit", SealedField(null=True)),
                ("effective_date", SealedField(null=True)),
            ],
            options={"table": "observation_revision", "app": "phigate", "unique_together": (("entry", "version"),), "pk_attr": "id"},
            bases=["EntryRevision"],
        ),
        ops.CreateModel(
            name="ClinicalNoteRevision",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                ("version", fields.IntField()),
                ("status", fields.CharField(max_length=20)),
                ("changed", fields.CharField(max_length=400)),
                ("actor", fields.CharField(max_length=64)),
                ("role", fields.CharField(max_length=20)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("reason", SealedField(null=True)),
                ("entry", fields.ForeignKeyField("phigate.ClinicalNote", source_field="entry_id", db_constraint=True, to_field="id", related_name="revisions", on_delete=OnDelete.CASCADE)),
                ("text", SealedField(null=True)),
                ("authored_date", SealedField(null=True)),
            ],
            options={"table": "clinical_note_revision", "app": "phigate", "unique_together": (("entry", "version"),), "pk_attr": "id"},
            bases=["EntryRevision"],
        ),
    ]

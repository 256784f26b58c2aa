from migrations._enums import KeyPurpose0008
from tortoise import migrations
from tortoise.migrations import operations as ops
from models.base import SealedField
from tortoise.fields.base import OnDelete
from tortoise.fields.db_defaults import Now
from tortoise import fields
from tortoise.indexes import Index


# The audit trail is append-only: the database itself refuses UPDATE, DELETE and TRUNCATE on
# the audit tables, whoever asks. An attacker with superuser rights can drop the triggers;
# the sealed hash chain (audit/chain.py) is what catches that.
APPEND_ONLY_TABLES = ("audit_event", "audit_seal")

POSTGRES = [
    """CREATE FUNCTION phigate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$""",
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION phigate_append_only()"
        for table in APPEND_ONLY_TABLES
    ),
    *(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION phigate_append_only()"
        for table in APPEND_ONLY_TABLES
    ),
]
SQLITE = [
    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
    for table in APPEND_ONLY_TABLES
    for op in ("UPDATE", "DELETE")
]


async def append_only(apps, schema_editor) -> None:
    client = schema_editor.client
    statements = POSTGRES if client.capabilities.dialect == "postgres" else SQLITE
    for statement in statements:
        # One statement at a time: the SQLite editor would split a trigger body at its ';'.
        await client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [('phigate', '0007_ops')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditSeal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('batch', fields.BigIntField(unique=True)),
                ('first_id', fields.BigIntField()),
                ('last_id', fields.BigIntField()),
                ('row_count', fields.IntField()),
                ('entries', fields.BinaryField()),
                ('prev_digest', fields.BinaryField()),
                ('digest', fields.BinaryField()),
                ('key_version', fields.IntField()),
                ('mac', fields.BinaryField()),
                ('sealed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'audit_seal', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'One sealed batch of audit rows: the ids after the previous batch up to `last_id`.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BreakGlassGrant',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('user', fields.ForeignKeyField('phigate.User', source_field='user_id', db_constraint=True, to_field='id', related_name='break_glass_grants', on_delete=OnDelete.RESTRICT)),
                ('patient', fields.ForeignKeyField('phigate.Patient', source_field='patient_id', db_constraint=True, to_field='id', related_name='break_glass_grants', on_delete=OnDelete.RESTRICT)),
                ('reason', SealedField()),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'break_glass_grant', 'app': 'phigate', 'indexes': [Index(fields=['user_id', 'expires_at']), Index(fields=['opened_at'])], 'pk_attr': 'id', 'table_description': 'Open while `closed_at` is null and `expires_at` is in the future. The stated reason is'},
            bases=['PublicModel'],
        ),
        ops.CreateModel(
            name='ExportWindow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('actor', fields.CharField(max_length=64)),
                ('hour', fields.BigIntField()),
                ('patient', fields.CharField(max_length=40)),
            ],
            options={'table': 'export_window', 'app': 'phigate', 'unique_together': (('actor', 'hour', 'patient'),), 'pk_attr': 'id', 'table_description': 'A distinct patient whose PHI an actor resolved in one clock hour (the export budget).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AuditEvent',
            name='recorded_at',
            field=fields.DatetimeField(db_default=Now(), auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='DataKey',
            name='purpose',
            field=fields.CharEnumField(description='DATA: data\nBLIND_INDEX: blind_index\nAUDIT: audit', enum_type=KeyPurpose0008, max_length=20),
        ),
        ops.RunPython(append_only),
    ]

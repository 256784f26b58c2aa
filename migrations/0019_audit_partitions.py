from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


# PostgreSQL only: `audit_event` becomes a table partitioned by month of `at` (UTC), so old
# months can be archived and dropped whole (audit/retention.py) and the auditors' time filters
# prune partitions. A partitioned table's primary key must hold the partition key: (id, at);
# ids still come from the one sequence, so they stay unique. SQLite keeps one table.
#
# The serving role may not create tables (ops/grants.py), yet a month's partition must exist
# before its first insert: `phigate_audit_partitions` runs with its owner's rights (SECURITY
# DEFINER, fixed search_path) and creates only month partitions of `audit_event`; the sealer
# calls it each round for the months ahead (audit/partitions.py).
PARTITIONS_FUNCTION = """CREATE FUNCTION phigate_audit_partitions(first_month date, last_month date)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    start date := date_trunc('month', first_month)::date;
    name text;
    made integer := 0;
BEGIN
    -- Two workers starting the same month would race on CREATE TABLE.
    PERFORM pg_advisory_xact_lock(7046850553213543);
    WHILE start <= last_month LOOP
        name := 'audit_event_' || to_char(start, 'YYYY_MM');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF audit_event FOR VALUES FROM (%L) TO (%L)',
                name, start::timestamp AT TIME ZONE 'UTC',
                (start + interval '1 month')::timestamp AT TIME ZONE 'UTC');
            -- Row triggers are cloned from the parent; a TRUNCATE of the partition is not.
            EXECUTE format(
                'CREATE TRIGGER %I BEFORE TRUNCATE ON %I '
                'FOR EACH STATEMENT EXECUTE FUNCTION phigate_append_only()',
                name || '_no_truncate', name);
            made := made + 1;
        END IF;
        start := (start + interval '1 month')::date;
    END LOOP;
    RETURN made;
END
$$"""

# The index names are the ones Tortoise gave (0001, 0005): its reverse operations use them.
PRIMARY_KEY = "audit_event_pkey"
INDEXES = {"idx_audit_event_patient_fe9ef3": "patient, at", "idx_audit_event_actor_aab670": "actor, at"}


def _rebuild(old: str, partitioned: bool) -> list[str]:
    """audit_event as a new table (partitioned by month, or plain), the old one renamed to
    `old`, its rows copied, the old one dropped."""
    key = "id, at" if partitioned else "id"
    return [
        f"ALTER TABLE audit_event RENAME TO {old}",
        *(f"ALTER INDEX {name} RENAME TO {old}_{n}" for n, name in enumerate([PRIMARY_KEY, *INDEXES])),
        f"CREATE TABLE audit_event (LIKE {old} INCLUDING DEFAULTS)"
        + (" PARTITION BY RANGE (at)" if partitioned else ""),
        # A partitioned table's primary key must hold the partition key.
        f"ALTER TABLE audit_event ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY ({key})",
        # The auditors' and myAccessLog's filters: on a partitioned table, on every partition.
        *(f"CREATE INDEX {name} ON audit_event ({columns})" for name, columns in INDEXES.items()),
        *(
            [
                PARTITIONS_FUNCTION,
                # From the month before the oldest row (or now) to two months ahead.
                f"SELECT phigate_audit_partitions((coalesce((SELECT min(at) FROM {old}), now()) "
                "AT TIME ZONE 'UTC' - interval '1 month')::date, "
                "((now() AT TIME ZONE 'UTC') + interval '2 months')::date)",
            ]
            if partitioned
            else []
        ),
        f"INSERT INTO audit_event SELECT * FROM {old}",
        # The id sequence belongs to the old table's column: it would be dropped with it.
        "ALTER SEQUENCE audit_event_id_seq OWNED BY audit_event.id",
        f"DROP TABLE {old}",
        *([] if partitioned else ["DROP FUNCTION phigate_audit_partitions(date, date)"]),
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION phigate_append_only()",
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION phigate_append_only()",
    ]


async def _run(schema_editor, statements: list[str]) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    for statement in statements:
        # One statement at a time, as in 0008: a function body holds ';'.
        await client.execute_query(statement)


async def partition(apps, schema_editor) -> None:
    await _run(schema_editor, _rebuild("audit_event_unpartitioned", partitioned=True))


async def unpartition(apps, schema_editor) -> None:
    """Back to one table: the months archived away stay in their archive files."""
    await _run(schema_editor, _rebuild("audit_event_partitioned", partitioned=False))


class Migration(migrations.Migration):
    dependencies = [('phigate', '0018_smart')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditCheckpoint',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=20)),
                ('batch', fields.BigIntField()),
                ('last_id', fields.BigIntField()),
                ('digest', fields.BinaryField()),
                ('sealed_rows', fields.BigIntField()),
                ('key_version', fields.IntField()),
                ('mac', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'audit_checkpoint', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'A point of the seal chain, authenticated by an HMAC under the audit key: where `audit'},
            bases=['Model'],
        ),
        ops.RunPython(partition, unpartition),
    ]

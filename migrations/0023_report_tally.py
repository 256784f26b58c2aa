"""The report tally (models/tally.py): organization-wide aggregates read from maintained,
de-identified counts instead of opening every patient's values on every call. Empty when
created: the server builds it in the background (`phigate reports tally` does it by hand), and
aggregates are computed from the patients until it is built."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.base import SecretField


class Migration(migrations.Migration):
    dependencies = [("phigate", "0022_report_covering")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ReportCell",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                ("organization", fields.ForeignKeyField("phigate.Organization", source_field="organization_id", db_constraint=True, to_field="id", related_name="report_cells", on_delete=OnDelete.RESTRICT)),
                ("grouping", fields.SmallIntField()),
                ("key", SecretField()),
                ("patients", fields.IntField()),
            ],
            options={"table": "report_cell", "app": "phigate", "indexes": [Index(fields=["organization_id", "grouping"])], "pk_attr": "id", "table_description": "How many patients of an organization one cell of one grouping counts."},
            bases=["PublicModel"],
        ),
        ops.CreateModel(
            name="ReportContribution",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                ("patient", fields.OneToOneField("phigate.Patient", source_field="patient_id", db_constraint=True, to_field="id", related_name="report_contribution", on_delete=OnDelete.CASCADE)),
                ("facts", SecretField()),
            ],
            options={"table": "report_contribution", "app": "phigate", "pk_attr": "id", "table_description": "What one patient is counted by in the tally: compared with the patient's values when"},
            bases=["PublicModel"],
        ),
        ops.CreateModel(
            name="ReportTally",
            fields=[
                ("id", fields.IntField(primary_key=True, unique=True, db_index=True)),
                ("year", fields.IntField()),
                ("through", fields.BigIntField()),
                ("generation", fields.BigIntField()),
                ("built_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "report_tally", "app": "phigate", "pk_attr": "id", "table_description": "The tally's one state row: for which report year it counts, and which write records it"},
        ),
    ]

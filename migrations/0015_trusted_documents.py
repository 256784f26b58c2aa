from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("phigate", "0014_row_access_indexes")]

    initial = False

    operations = [
        ops.CreateModel(
            name="TrustedDocument",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("sha256", fields.CharField(unique=True, max_length=64)),
                ("body", fields.TextField(unique=False)),
                ("operations", fields.CharField(max_length=1000)),
                ("registered_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "trusted_document",
                "app": "phigate",
                "pk_attr": "id",
                "table_description": "One registered document, by the SHA-256 of its exact text (what Apollo's persisted-query",
            },
            bases=["Model"],
        ),
        ops.AlterModelOptions(
            name="AuthSession",
            options={
                "table": "auth_session",
                "app": "phigate",
                "pk_attr": "id",
                "table_description": "A login session. Only the SHA-256 of its 256-bit token is stored; its CSRF token is",
            },
        ),
        ops.RemoveField(model_name="AuthSession", name="csrf_hash"),
    ]

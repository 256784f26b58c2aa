"""An Idempotency-Key is bound to its request's arguments, not only to its mutation and target:
a keyed digest of them beside the key. Nullable: a key remembered before has none, and is
answered as it was (keys are kept 24 hours)."""

from tortoise import fields, migrations

from migrations._columns import AddColumn


class Migration(migrations.Migration):
    dependencies = [("phigate", "0024_care_team_order")]

    initial = False

    operations = [
        AddColumn(
            model_name="IdempotencyKey", name="fingerprint", field=fields.BinaryField(null=True)
        ),
    ]

"""Patient.gender (FHIR administrative gender), sealed like every demographic, and its
earlier values in patient revisions. Both nullable: existing patients have none recorded."""

from tortoise import migrations

from migrations._columns import AddColumn
from models.base import SealedField


class Migration(migrations.Migration):
    dependencies = [("phigate", "0020_report_scale")]

    initial = False

    operations = [
        AddColumn(model_name="Patient", name="gender", field=SealedField(null=True)),
        AddColumn(model_name="PatientRevision", name="gender", field=SealedField(null=True)),
    ]

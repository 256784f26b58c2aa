"""The report tally: de-identified counts kept up to date from the write audit records, so an
organization-wide aggregate reads its cells instead of opening every patient's values
(permissions/tally.py reads it, ops/tally.py keeps it).

Nothing here holds a plaintext value: a cell's key is sealed and its id is an HMAC of that key
under the blind-index key, and each patient's contribution (the de-identified facts the patient
is counted by) is sealed too. What the database shows is how many patients each opaque cell
counts."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.base import PublicModel, SecretField
from models.people import Organization, Patient


class ReportCell(PublicModel):
    """How many patients of an organization one cell of one grouping counts.

    `public_id` is derived from the organization, grouping and key (permissions/tally.py), so a
    change of count is one upsert on it."""

    PUBLIC_ID_PREFIX = "cell"
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "phigate.Organization", related_name="report_cells", on_delete=fields.RESTRICT
    )
    grouping = fields.SmallIntField()
    """Which dimensions the cell groups by, as bits (permissions/tally.py)."""
    key = SecretField()
    """The cell's de-identified values, as a JSON list in the grouping's order."""
    patients = fields.IntField()

    class Meta:
        table = "report_cell"
        indexes = (("organization_id", "grouping"),)


class ReportContribution(PublicModel):
    """What one patient is counted by in the tally: compared with the patient's values when
    they change, and the difference is what the cells change by. Its public id is the
    patient's."""

    PUBLIC_ID_PREFIX = "pat"
    patient: fields.OneToOneRelation[Patient] = fields.OneToOneField(
        "phigate.Patient", related_name="report_contribution", on_delete=fields.CASCADE
    )
    facts = SecretField()
    """JSON: the age band, ZIP3 and (code, year) of each diagnosis, de-identified."""

    class Meta:
        table = "report_contribution"


class ReportTally(Model):
    """The tally's one state row: for which report year it counts, and which write records it
    has taken in."""

    id = fields.IntField(primary_key=True)
    year = fields.IntField()
    """Ages and the 90-year horizon are counted to this year; another year rebuilds."""
    through = fields.BigIntField()
    """Every write record up to this audit id is in the cells."""
    generation = fields.BigIntField()
    """Raised by every change to the cells: a reader that sees it move reads again."""
    built_at = fields.DatetimeField()

    class Meta:
        table = "report_tally"

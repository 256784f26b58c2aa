from migrations._enums import EncounterKind0001, KeyPurpose0001, ProxyScope0001, Role0001
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.base import SealedField


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("request_id", fields.CharField(max_length=64)),
                ("event", fields.CharField(max_length=40)),
                ("actor", fields.CharField(max_length=64)),
                ("role", fields.CharField(max_length=20)),
                ("client", fields.CharField(null=True, max_length=64)),
                ("purpose", fields.CharField(max_length=20)),
                ("ip", fields.CharField(null=True, max_length=64)),
                ("patient", fields.CharField(null=True, max_length=40)),
                ("field", fields.CharField(null=True, max_length=120)),
                ("path", fields.CharField(null=True, max_length=400)),
                ("decision", fields.CharField(null=True, max_length=20)),
            ],
            options={
                "table": "audit_event",
                "app": "phigate",
                "indexes": [Index(fields=["patient", "at"]), Index(fields=["actor", "at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="DataKey",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "purpose",
                    fields.CharEnumField(
                        description="DATA: data\nBLIND_INDEX: blind_index",
                        enum_type=KeyPurpose0001,
                        max_length=20,
                    ),
                ),
                ("version", fields.IntField()),
                ("provider", fields.CharField(max_length=40)),
                ("wrapped", fields.BinaryField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "data_key",
                "app": "phigate",
                "unique_together": (("purpose", "version"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Organization",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                ("name", fields.CharField(max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "organization", "app": "phigate", "pk_attr": "id"},
            bases=["PublicModel"],
        ),
        ops.CreateModel(
            name="User",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                ("username", fields.CharField(unique=True, max_length=150)),
                (
                    "role",
                    fields.CharEnumField(
                        description="PHYSICIAN: physician\nNURSE: nurse\nFRONT_DESK: front_desk\nBILLING: billing\nPATIENT: patient\nRESEARCHER: researcher\nAUDITOR: auditor\nADMIN: admin",
                        enum_type=Role0001,
                        max_length=20,
                    ),
                ),
                ("password_hash", fields.CharField(max_length=255)),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "phigate.Organization",
                        source_field="organization_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="users",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("is_active", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "app_user",
                "app": "phigate",
                "pk_attr": "id",
                "table_description": "A staff member, patient portal account or service account. Usernames are not PHI.",
            },
            bases=["PublicModel"],
        ),
        ops.CreateModel(
            name="Patient",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "phigate.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="patients",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "user",
                    fields.OneToOneField(
                        "phigate.User",
                        source_field="user_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="patient_record",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("mrn", SealedField()),
                ("mrn_index", fields.BinaryField()),
                ("ssn", SealedField(null=True)),
                ("ssn_index", fields.BinaryField(null=True)),
                ("given_name", SealedField()),
                ("family_name", SealedField()),
                ("birth_date", SealedField()),
                ("phone", SealedField(null=True)),
                ("email", SealedField(null=True)),
                ("email_index", fields.BinaryField(null=True)),
                ("street", SealedField(null=True)),
                ("city", SealedField(null=True)),
                ("zip", SealedField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "patient",
                "app": "phigate",
                "pk_attr": "id",
                "table_description": "Every identifying or clinical attribute is a sealed column. Lookups go by blind index.",
            },
            bases=["PublicModel"],
        ),
        ops.CreateModel(
            name="CareTeamAssignment",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "phigate.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="assignments",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "patient",
                    fields.ForeignKeyField(
                        "phigate.Patient",
                        source_field="patient_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="care_team",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("started_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("ended_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "care_team_assignment",
                "app": "phigate",
                "unique_together": (("user", "patient"),),
                "pk_attr": "id",
                "table_description": "A clinician on a patient's care team: the basis of treatment access.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ClinicalNote",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                (
                    "patient",
                    fields.ForeignKeyField(
                        "phigate.Patient",
                        source_field="patient_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="notes",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "author",
                    fields.ForeignKeyField(
                        "phigate.User",
                        source_field="author_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="notes",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("text", SealedField()),
                ("authored_date", SealedField()),
            ],
            options={"table": "clinical_note", "app": "phigate", "pk_attr": "id"},
            bases=["PublicModel"],
        ),
        ops.CreateModel(
            name="Encounter",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                (
                    "patient",
                    fields.ForeignKeyField(
                        "phigate.Patient",
                        source_field="patient_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="encounters",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "kind",
                    fields.CharEnumField(
                        description="OUTPATIENT: OUTPATIENT\nINPATIENT: INPATIENT\nEMERGENCY: EMERGENCY\nVIRTUAL: VIRTUAL",
                        enum_type=EncounterKind0001,
                        max_length=20,
                    ),
                ),
                ("start_date", SealedField()),
            ],
            options={"table": "encounter", "app": "phigate", "pk_attr": "id"},
            bases=["PublicModel"],
        ),
        ops.CreateModel(
            name="Diagnosis",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                (
                    "patient",
                    fields.ForeignKeyField(
                        "phigate.Patient",
                        source_field="patient_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="diagnoses",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "encounter",
                    fields.ForeignKeyField(
                        "phigate.Encounter",
                        source_field="encounter_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="diagnoses",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("code", SealedField()),
                ("description", SealedField()),
                ("recorded_date", SealedField()),
            ],
            options={"table": "diagnosis", "app": "phigate", "pk_attr": "id"},
            bases=["PublicModel"],
        ),
        ops.CreateModel(
            name="Observation",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                (
                    "patient",
                    fields.ForeignKeyField(
                        "phigate.Patient",
                        source_field="patient_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="observations",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("code", SealedField()),
                ("value", SealedField()),
                ("unit", fields.CharField(max_length=32)),
                ("effective_date", SealedField()),
            ],
            options={"table": "observation", "app": "phigate", "pk_attr": "id"},
            bases=["PublicModel"],
        ),
        ops.CreateModel(
            name="ProxyGrant",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                (
                    "patient",
                    fields.ForeignKeyField(
                        "phigate.Patient",
                        source_field="patient_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="proxy_grants",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "grantee",
                    fields.ForeignKeyField(
                        "phigate.User",
                        source_field="grantee_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="proxy_for",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "scope",
                    fields.CharEnumField(
                        description="FULL: FULL\nDEMOGRAPHICS: DEMOGRAPHICS\nCLINICAL: CLINICAL",
                        enum_type=ProxyScope0001,
                        max_length=20,
                    ),
                ),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "proxy_grant",
                "app": "phigate",
                "pk_attr": "id",
                "table_description": "A patient authorises another account (parent, caregiver) to see part of their record.",
            },
            bases=["PublicModel"],
        ),
    ]

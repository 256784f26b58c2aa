"""The enums of enum columns as the migration that created or changed each column knew them.

A migration names its enums from here, never from `models`: an enum that grows a member later
must not change what an old migration builds. Entries are appended, never edited; the suffix
is the migration that introduced that version.
"""

from enum import StrEnum


class KeyPurpose0001(StrEnum):
    DATA = "data"
    BLIND_INDEX = "blind_index"


class Role0001(StrEnum):
    PHYSICIAN = "physician"
    NURSE = "nurse"
    FRONT_DESK = "front_desk"
    BILLING = "billing"
    PATIENT = "patient"
    RESEARCHER = "researcher"
    AUDITOR = "auditor"
    ADMIN = "admin"


class EncounterKind0001(StrEnum):
    OUTPATIENT = "OUTPATIENT"
    INPATIENT = "INPATIENT"
    EMERGENCY = "EMERGENCY"
    VIRTUAL = "VIRTUAL"


class ProxyScope0001(StrEnum):
    FULL = "FULL"
    DEMOGRAPHICS = "DEMOGRAPHICS"
    CLINICAL = "CLINICAL"


class SessionStage0002(StrEnum):
    MFA = "mfa"
    ACTIVE = "active"


class ClientAuthMethod0004(StrEnum):
    SECRET_BASIC = "client_secret_basic"  # noqa: S105 (a method name)
    SECRET_POST = "client_secret_post"  # noqa: S105 (a method name)
    PRIVATE_KEY_JWT = "private_key_jwt"


class KeyPurpose0008(StrEnum):
    DATA = "data"
    BLIND_INDEX = "blind_index"
    AUDIT = "audit"


class ClientAuthMethod0010(StrEnum):
    SECRET_BASIC = "client_secret_basic"  # noqa: S105 (a method name)
    SECRET_POST = "client_secret_post"  # noqa: S105 (a method name)
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"


class SessionStage0012(StrEnum):
    MFA = "mfa"
    ACTIVE = "active"
    PASSWORD = "password"  # noqa: S105 (a stage name)


class EntryStatus0013(StrEnum):
    CURRENT = "CURRENT"
    AMENDED = "AMENDED"
    ENTERED_IN_ERROR = "ENTERED_IN_ERROR"

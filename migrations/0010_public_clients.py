from tortoise import migrations
from tortoise.migrations import operations as ops
from enum import StrEnum
from tortoise import fields


class ClientAuthMethod0010(StrEnum):
    """The column's members as this migration knows them: frozen, so the migration builds the
    same column whatever the model's enum becomes (main keeps these in migrations/_enums.py;
    move it there when the branches meet)."""

    SECRET_BASIC = "client_secret_basic"  # noqa: S105 (a method name)
    SECRET_POST = "client_secret_post"  # noqa: S105 (a method name)
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"


# Public clients (`token_endpoint_auth_method: none`): the column is unchanged, only the enum's
# documented values grow. Numbered 0010 because 0009 is being written on another branch; when
# both meet, this one depends on that one.
class Migration(migrations.Migration):
    dependencies = [('phigate', '0008_audit_chain')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='OAuthClient',
            name='auth_method',
            field=fields.CharEnumField(description='SECRET_BASIC: client_secret_basic\nSECRET_POST: client_secret_post\nPRIVATE_KEY_JWT: private_key_jwt\nNONE: none', enum_type=ClientAuthMethod0010, max_length=30),
        ),
    ]

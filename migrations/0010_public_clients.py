from tortoise import migrations
from tortoise.migrations import operations as ops
from migrations._enums import ClientAuthMethod0010
from tortoise import fields


# Public clients (`token_endpoint_auth_method: none`): the column is unchanged, only the enum's
# documented values grow.
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

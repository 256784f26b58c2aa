from migrations._enums import ClientAuthMethod0004, Role0001
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('phigate', '0003_throttle_keys_hashed')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OAuthClient',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('name', fields.CharField(max_length=200)),
                ('organization', fields.ForeignKeyField('phigate.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='oauth_clients', on_delete=OnDelete.RESTRICT)),
                ('role', fields.CharEnumField(description='PHYSICIAN: physician\nNURSE: nurse\nFRONT_DESK: front_desk\nBILLING: billing\nPATIENT: patient\nRESEARCHER: researcher\nAUDITOR: auditor\nADMIN: admin', enum_type=Role0001, max_length=20)),
                ('auth_method', fields.CharEnumField(description='SECRET_BASIC: client_secret_basic\nSECRET_POST: client_secret_post\nPRIVATE_KEY_JWT: private_key_jwt', enum_type=ClientAuthMethod0004, max_length=30)),
                ('secret_hash', fields.CharField(null=True, max_length=64)),
                ('public_jwk', fields.TextField(null=True, unique=False)),
                ('grant_types', fields.CharField(max_length=200)),
                ('redirect_uris', fields.TextField(default='', unique=False)),
                ('scopes', fields.CharField(max_length=400)),
                ('allowed_networks', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_client', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'A partner system or third-party app. Its public id is its OAuth2 `client_id`.'},
            bases=['PublicModel'],
        ),
        ops.CreateModel(
            name='ClientAssertion',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('client', fields.ForeignKeyField('phigate.OAuthClient', source_field='client_id', db_constraint=True, to_field='id', related_name='assertions', on_delete=OnDelete.CASCADE)),
                ('jti', fields.CharField(max_length=200)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_client_assertion', 'app': 'phigate', 'unique_together': (('client', 'jti'),), 'pk_attr': 'id', 'table_description': '`jti` of each accepted private_key_jwt assertion, so none is accepted twice.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SigningKey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kid', fields.CharField(unique=True, max_length=64)),
                ('alg', fields.CharField(max_length=10)),
                ('provider', fields.CharField(max_length=40)),
                ('wrapped', fields.BinaryField()),
                ('public_jwk', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('retired_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_signing_key', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'A JWT signing key pair. The private half is wrapped by the key provider, like data keys.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TokenFamily',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('client', fields.ForeignKeyField('phigate.OAuthClient', source_field='client_id', db_constraint=True, to_field='id', related_name='token_families', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('phigate.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='token_families', on_delete=OnDelete.CASCADE)),
                ('scope', fields.CharField(max_length=400)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_token_family', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'All tokens descending from one authorization: the unit that reuse detection revokes.'},
            bases=['PublicModel'],
        ),
        ops.CreateModel(
            name='AccessToken',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('jti', fields.CharField(unique=True, max_length=64)),
                ('client', fields.ForeignKeyField('phigate.OAuthClient', source_field='client_id', db_constraint=True, to_field='id', related_name='access_tokens', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('phigate.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='access_tokens', on_delete=OnDelete.CASCADE)),
                ('family', fields.ForeignKeyField('phigate.TokenFamily', source_field='family_id', null=True, db_constraint=True, to_field='id', related_name='access_tokens', on_delete=OnDelete.CASCADE)),
                ('scope', fields.CharField(max_length=400)),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_access_token', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'An issued JWT access token, by `jti`. The JWT itself is never stored.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuthorizationCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('client', fields.ForeignKeyField('phigate.OAuthClient', source_field='client_id', db_constraint=True, to_field='id', related_name='authorization_codes', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('phigate.User', source_field='user_id', db_constraint=True, to_field='id', related_name='authorization_codes', on_delete=OnDelete.CASCADE)),
                ('redirect_uri', fields.TextField(unique=False)),
                ('scope', fields.CharField(max_length=400)),
                ('code_challenge', fields.CharField(max_length=128)),
                ('code_challenge_method', fields.CharField(max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('family', fields.ForeignKeyField('phigate.TokenFamily', source_field='family_id', null=True, db_constraint=True, to_field='id', related_name='codes', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'oauth_authorization_code', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'A single-use code from the consent step. Only its SHA-256 is stored.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RefreshToken',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('family', fields.ForeignKeyField('phigate.TokenFamily', source_field='family_id', db_constraint=True, to_field='id', related_name='refresh_tokens', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_refresh_token', 'app': 'phigate', 'pk_attr': 'id', 'table_description': 'One link in the rotation chain of a family. Only its SHA-256 is stored.'},
            bases=['Model'],
        ),
    ]

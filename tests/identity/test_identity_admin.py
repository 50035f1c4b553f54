"""Admin tokens, the CLI admin rule, and who may manage which keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bastion.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied
from bastion.identity.admin import (
    AdminAuthenticator,
    AdminIdentity,
    AdminRole,
    create_admin_token,
    resolve_cli_admin,
    revoke_admin_token,
)
from bastion.identity.issuing import KeySpec, create_key, revoke_key, rotate_key
from bastion.identity.verifier import KeyVerifier
from bastion.storage import AdminTokenRepository, Database, KeyRepository

ADMIN = AdminIdentity("root", AdminRole.ADMIN)


async def test_admin_token_verifies_until_revoked(database: Database) -> None:
    repo = AdminTokenRepository(database)
    record, plaintext = await create_admin_token(repo, "alice", AdminRole.SECURITY, actor=ADMIN)
    assert plaintext.startswith(f"bat_{record.token_id}_")
    assert record.secret_hash not in plaintext
    authenticator = AdminAuthenticator(repo)
    identity = await authenticator.verify(plaintext)
    assert identity == AdminIdentity("alice", AdminRole.SECURITY, record.token_id)
    await revoke_admin_token(repo, record.token_id, actor=ADMIN)
    with pytest.raises(AuthenticationFailed):
        await authenticator.verify(plaintext)
    with pytest.raises(NotFound):
        await revoke_admin_token(repo, record.token_id, actor=ADMIN)


async def test_gateway_keys_and_admin_tokens_never_cross(sqlite_database: Database) -> None:
    keys, tokens = KeyRepository(sqlite_database), AdminTokenRepository(sqlite_database)
    issued = await create_key(keys, KeySpec(name="bot"), actor=ADMIN)
    _, admin_plaintext = await create_admin_token(tokens, "root", AdminRole.ADMIN, actor=ADMIN)
    with pytest.raises(AuthenticationFailed):
        await AdminAuthenticator(tokens).verify(issued.plaintext)
    # Same id and secret under the other prefix: still refused (separate tables).
    with pytest.raises(AuthenticationFailed):
        await AdminAuthenticator(tokens).verify("bat_" + issued.plaintext[4:])
    verifier = KeyVerifier(keys)
    with pytest.raises(AuthenticationFailed):
        await verifier.verify(admin_plaintext)
    with pytest.raises(AuthenticationFailed):
        await verifier.verify("bst_" + admin_plaintext[4:])
    await verifier.close()


@pytest.mark.parametrize("role", [AdminRole.SECURITY, AdminRole.AUDITOR, AdminRole.APP_OWNER])
async def test_only_admins_manage_admin_tokens(sqlite_database: Database, role: AdminRole) -> None:
    with pytest.raises(PermissionDenied):
        await create_admin_token(
            AdminTokenRepository(sqlite_database),
            "x",
            AdminRole.ADMIN,
            actor=AdminIdentity("u", role),
        )


async def test_cli_admin_on_sqlite_without_token_is_local_admin(
    sqlite_database: Database,
) -> None:
    identity = await resolve_cli_admin(None, sqlite_database)
    assert identity == AdminIdentity("local-admin", AdminRole.ADMIN)


async def test_cli_admin_with_a_bad_token_is_refused_even_on_sqlite(
    sqlite_database: Database,
) -> None:
    with pytest.raises(AuthenticationFailed):
        await resolve_cli_admin("bat_AAAAAAAA_" + "a" * 32, sqlite_database)


@pytest.mark.postgres
async def test_cli_admin_on_postgres_needs_a_token_except_to_bootstrap(
    postgres_url: str,
) -> None:
    database = Database.from_url(postgres_url)
    await database.migrate()
    try:
        with pytest.raises(AuthenticationFailed, match="BASTION_ADMIN_TOKEN"):
            await resolve_cli_admin(None, database)
        bootstrap = await resolve_cli_admin(None, database, allow_bootstrap=True)
        assert bootstrap.role is AdminRole.ADMIN
        repo = AdminTokenRepository(database)
        _, plaintext = await create_admin_token(repo, "root", AdminRole.ADMIN, actor=bootstrap)
        with pytest.raises(AuthenticationFailed):
            await resolve_cli_admin(None, database, allow_bootstrap=True)
        identity = await resolve_cli_admin(plaintext + "\n", database)
        assert identity.subject == "root"
    finally:
        await database.close()


async def test_app_owner_manages_only_its_own_keys(sqlite_database: Database) -> None:
    repo = KeyRepository(sqlite_database)
    owner = AdminIdentity("team-a", AdminRole.APP_OWNER)
    mine = await create_key(repo, KeySpec(name="a", owner="team-a"), actor=owner)
    theirs = await create_key(repo, KeySpec(name="b", owner="team-b"), actor=ADMIN)
    with pytest.raises(PermissionDenied):
        await create_key(repo, KeySpec(name="c"), actor=owner)
    with pytest.raises(NotFound):  # another owner's key is not even visible
        await revoke_key(repo, theirs.stored.key_id, actor=owner)
    await rotate_key(repo, mine.stored.key_id, grace=timedelta(0), actor=owner)
    auditor = AdminIdentity("eve", AdminRole.AUDITOR)
    with pytest.raises(PermissionDenied):
        await revoke_key(repo, theirs.stored.key_id, actor=auditor)


async def test_rotate_keeps_principal_and_models_and_refuses_twice(
    sqlite_database: Database,
) -> None:
    repo = KeyRepository(sqlite_database)
    spec = KeySpec(
        name="bot",
        environment="prod",
        user="ana",
        app="helpdesk",
        team="support",
        roles=("agent",),
        owner="ops",
        models=("gpt-4o",),
        trust_end_user=True,
    )
    old = await create_key(repo, spec, actor=ADMIN)
    new = await rotate_key(repo, old.stored.key_id, grace=timedelta(hours=1), actor=ADMIN)
    assert new.stored.key_id != old.stored.key_id
    assert new.plaintext != old.plaintext
    fields = ("name", "environment", "user", "app", "team", "roles", "owner", "models")
    for field in (*fields, "trust_end_user", "expires_at"):
        assert getattr(new.stored, field) == getattr(old.stored, field)
    with pytest.raises(Conflict):
        await rotate_key(repo, old.stored.key_id, grace=timedelta(0), actor=ADMIN)
    with pytest.raises(NotFound):
        await rotate_key(repo, "nokey000", grace=timedelta(0), actor=ADMIN)

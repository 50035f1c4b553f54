"""PolicyRepository on SQLite and PostgreSQL: uploads by digest, activation, rollback,
history, lookup, and the change feed entries running gateways wait for."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from bastion.errors import Conflict, InvalidRequest, NotFound
from bastion.storage import ActivationReason, ChangeFeed, Database, PolicyRepository
from bastion.storage.policies import PolicyVersion

V1 = "name: base\nversion: '1'\n"
V2 = "name: base\nversion: '2'\nrules: []\n"
V3 = "name: strict\nversion: '3'\n"


async def upload(repo: PolicyRepository, content: str, by: str = "ana") -> PolicyVersion:
    name = content.split("\n")[0].removeprefix("name: ")
    label = content.split("\n")[1].removeprefix("version: ").strip("'")
    return await repo.upload(content, name=name, label=label, source="policy.yaml", by=by)


async def activate(repo: PolicyRepository, content: str, by: str = "ana") -> PolicyVersion:
    version = await upload(repo, content, by)
    assert await repo.activate(version.id, by=by) is not None
    return version


async def test_upload_is_idempotent_by_content_digest(database: Database) -> None:
    repo = PolicyRepository(database)
    first = await upload(repo, V1)
    again = await upload(repo, V1, by="bob")
    assert again == first  # the first upload's record, not a second version
    assert first.digest == hashlib.sha256(V1.encode()).hexdigest()
    assert first.version == f"base@1+{first.digest[:12]}"
    assert (first.content, first.source, first.uploaded_by) == (V1, "policy.yaml", "ana")
    other = await upload(repo, V2)
    assert other.id != first.id


async def test_nothing_is_active_until_a_version_is_activated(database: Database) -> None:
    repo = PolicyRepository(database)
    version = await upload(repo, V1)
    assert await repo.active() is None
    activation = await repo.activate(version.id, by="sec-lead")
    assert activation is not None
    assert (activation.version, activation.activated_by) == (version, "sec-lead")
    assert activation.reason is ActivationReason.ACTIVATE
    assert await repo.active() == activation


async def test_activation_records_a_policy_change_for_running_gateways(
    database: Database,
) -> None:
    feed = ChangeFeed(database)
    repo = PolicyRepository(database)
    version = await upload(repo, V1)
    start = await feed.latest()
    assert await feed.since(start) == []  # an upload alone changes nothing
    await repo.activate(version.id, by="ana")
    assert [kind for _, kind in await feed.since(start)] == ["policy"]


async def test_activating_the_active_version_records_nothing(database: Database) -> None:
    repo = PolicyRepository(database)
    version = await activate(repo, V1)
    feed = ChangeFeed(database)
    start = await feed.latest()
    assert await repo.activate(version.id, by="bob") is None
    assert len(await repo.history()) == 1
    assert await feed.since(start) == []


async def test_activating_an_unknown_version_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound, match="no policy version 42"):
        await PolicyRepository(database).activate(42, by="ana")


async def test_upload_and_activate_in_one_step(database: Database) -> None:
    repo = PolicyRepository(database)
    version, activation = await repo.upload_and_activate(
        V1, name="base", label="1", source=None, by="ana"
    )
    assert activation is not None and activation.version == version
    again, none = await repo.upload_and_activate(V1, name="base", label="1", source=None, by="ana")
    assert (again, none) == (version, None)


async def test_history_lists_activations_newest_first(database: Database) -> None:
    repo = PolicyRepository(database)
    v1 = await activate(repo, V1, by="ana")
    v2 = await activate(repo, V2, by="bob")
    rolled = await repo.rollback(by="carol")
    assert rolled.version == v1 and rolled.reason is ActivationReason.ROLLBACK
    history = await repo.history()
    assert [(a.version.id, a.activated_by, a.reason.value) for a in history] == [
        (v1.id, "carol", "rollback"),
        (v2.id, "bob", "activate"),
        (v1.id, "ana", "activate"),
    ]
    assert [a.id for a in await repo.history(limit=2)] == [a.id for a in history[:2]]


async def test_rollback_goes_to_the_version_before_and_back_again(database: Database) -> None:
    repo = PolicyRepository(database)
    v1 = await activate(repo, V1)
    v2 = await activate(repo, V2)
    assert (await repo.rollback(by="ana")).version == v1
    # a second rollback undoes the first, as `cd -` does
    assert (await repo.rollback(by="ana")).version == v2
    active = await repo.active()
    assert active is not None and active.version == v2


async def test_rollback_skips_reactivations_of_the_current_version(database: Database) -> None:
    repo = PolicyRepository(database)
    v1 = await activate(repo, V1)
    v2 = await activate(repo, V2)
    await activate(repo, V3)
    await repo.activate(v2.id, by="ana")  # V3 → V2: the one before V2 now is V3
    rolled = await repo.rollback(by="ana")
    assert rolled.version.name == "strict"
    assert rolled.version != v1


async def test_rollback_without_an_earlier_version_is_refused(database: Database) -> None:
    repo = PolicyRepository(database)
    with pytest.raises(Conflict, match="no policy is active"):
        await repo.rollback(by="ana")
    await activate(repo, V1)
    with pytest.raises(Conflict, match="only one policy version was ever active") as caught:
        await repo.rollback(by="ana")
    assert caught.value.code == "policy_rollback_unavailable"
    assert len(await repo.history()) == 1


async def test_seed_activates_only_when_nothing_is_active(database: Database) -> None:
    repo = PolicyRepository(database)
    seeded = await repo.seed(V1, name="base", label="1", source="f.yaml", by="bastion-serve")
    assert seeded.reason is ActivationReason.SEED
    assert seeded.activated_by == "bastion-serve"
    again = await repo.seed(V2, name="base", label="2", source="f.yaml", by="bastion-serve")
    assert again == seeded  # the active version wins; V2 is stored but not active
    assert len(await repo.history()) == 1


async def test_replicas_seeding_at_once_activate_one_version(database: Database) -> None:
    repos = [PolicyRepository(database) for _ in range(4)]
    results = await asyncio.gather(
        *(
            repo.seed(V1, name="base", label="1", source=None, by=f"replica-{i}")
            for i, repo in enumerate(repos)
        )
    )
    assert len({result.id for result in results}) == 1
    assert len(await repos[0].history()) == 1


async def test_get_by_id_digest_prefix_or_version_string(database: Database) -> None:
    repo = PolicyRepository(database)
    version = await upload(repo, V1)
    await upload(repo, V2)
    assert await repo.get(str(version.id)) == version
    assert await repo.get(version.digest[:8]) == version
    assert await repo.get(version.digest.upper()) == version
    assert await repo.get(version.version) == version
    with pytest.raises(NotFound, match="does not match"):
        await repo.get(f"other@1+{version.digest[:12]}")
    with pytest.raises(NotFound):
        await repo.get("999")
    with pytest.raises(NotFound):
        await repo.get("0" * 8 if not version.digest.startswith("0" * 8) else "f" * 8)


@pytest.mark.parametrize("ref", ["abc", "abcdefg", "not-hex-at-all", ""])
async def test_a_short_or_non_hex_reference_is_refused(database: Database, ref: str) -> None:
    with pytest.raises(InvalidRequest, match="at least 8 hex digits"):
        await PolicyRepository(database).get(ref)


async def test_an_empty_subject_is_refused(database: Database) -> None:
    repo = PolicyRepository(database)
    version = await upload(repo, V1)
    with pytest.raises(InvalidRequest, match="subject is empty"):
        await repo.activate(version.id, by="  ")

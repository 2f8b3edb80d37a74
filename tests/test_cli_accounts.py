"""`scorelet user ...` and `scorelet demo ...`, in-process against a real data directory."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest

from backends import database_args, init_directory, kind_of, open_store, signing_secrets
from scorelet.accounts import Accounts
from scorelet.cli import main
from scorelet.passwords import verify
from scorelet.store import ResponseQuery, User

ON_EVERY_BACKEND = True
LINK = re.compile(r"/dashboard/password/(\S+)")


@pytest.fixture
def data(tmp_path: Path, backend: str) -> Path:
    return init_directory(tmp_path / "data", backend)


def run(
    capsys: pytest.CaptureFixture[str], data: Path, *argv: str, stdin: str = ""
) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(stdin))
        code = main([*argv[:2], *database_args(kind_of(data), data), *argv[2:]])
    out, err = capsys.readouterr()
    return code, out, err


def users(data: Path) -> list[User]:
    async def read() -> list[User]:
        store = await open_store(kind_of(data), data)
        try:
            return await store.users()
        finally:
            await store.close()

    return asyncio.run(read())


def test_user_add_prints_a_one_time_link_that_names_the_account(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    code, out, _ = run(capsys, data, "user", "add", "Ana@Example.com", "--role", "admin")
    assert code == 0
    assert "Added ana@example.com (admin)" in out
    token = LINK.search(out)
    assert token, out
    (user,) = users(data)
    assert (user.email, user.role, user.password_hash) == ("ana@example.com", "admin", None)

    secrets = signing_secrets(data)

    async def linked() -> User:
        store = await open_store(kind_of(data), data)
        try:
            return await Accounts(store, secrets).linked_user(token[1])
        finally:
            await store.close()

    assert asyncio.run(linked()).id == user.id


def test_user_add_reads_the_password_from_stdin_and_hashes_it(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    code, out, _ = run(
        capsys,
        data,
        "user",
        "add",
        "bo@example.com",
        "--role",
        "viewer",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert code == 0
    assert "/dashboard/password/" not in out
    (user,) = users(data)
    assert user.password_hash is not None
    assert verify(user.password_hash, "correct horse battery")


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (("user", "add", "not-an-address", "--role", "viewer"), "", "not an email address"),
        (("user", "add", "a@example.com", "--role", "viewer", "--password-stdin"), "short\n",
         "at least 10 characters"),
        (("user", "add", "a@example.com", "--role", "viewer", "--password-stdin"), "",
         "read no password"),
        (("user", "remove", "nobody@example.com"), "", "no dashboard account"),
        (("user", "reset", "nobody@example.com"), "", "no dashboard account"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line_and_store_nothing(
    capsys: pytest.CaptureFixture[str],
    data: Path,
    argv: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    code, _out, err = run(capsys, data, *argv, stdin=stdin)
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert users(data) == []


def test_a_second_account_for_an_address_is_refused(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    assert run(capsys, data, "user", "add", "a@example.com", "--role", "viewer")[0] == 0
    code, _, err = run(capsys, data, "user", "add", "A@example.com", "--role", "admin")
    assert code == 1
    assert "has a dashboard account already" in err


def test_user_list_reset_and_remove(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    run(capsys, data, "user", "add", "a@example.com", "--role", "admin")
    run(
        capsys, data, "user", "add", "b@example.com", "--role", "viewer", "--password-stdin",
        stdin="correct horse battery\n",
    )  # fmt: skip
    code, out, _ = run(capsys, data, "user", "list")
    assert code == 0
    assert "a@example.com  admin  (has not chosen a password yet)" in out
    assert "b@example.com  viewer\n" in out
    before = {user.email: user for user in users(data)}["b@example.com"]
    code, out, _ = run(capsys, data, "user", "reset", "b@example.com")
    assert code == 0
    assert LINK.search(out)
    after = {user.email: user for user in users(data)}["b@example.com"]
    assert after.password_hash is None
    assert after.session_version == before.session_version + 1
    assert run(capsys, data, "user", "remove", "b@example.com")[0] == 0
    assert [user.email for user in users(data)] == ["a@example.com"]


def test_demo_history_is_marked_repeatable_and_removable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, backend: str
) -> None:
    data = init_directory(tmp_path / "empty", backend)
    code, out, _ = run(capsys, data, "demo", "--history")
    assert code == 0
    added = int(re.search(r"Added ([\d,]+) demo ratings", out)[1].replace(",", ""))  # type: ignore[index]
    assert added > 3000

    async def read() -> tuple[list[str], set[str], int]:
        store = await open_store(kind_of(data), data)
        try:
            slugs = [tp.slug for tp in store.touchpoints()]
            marks, total = set(), 0
            for touchpoint in store.touchpoints():
                async for page in store.iter_responses(ResponseQuery(touchpoint.id)):
                    marks |= {r.context.get("source", "") for r in page}
                    total += len(page)
            return slugs, marks, total
        finally:
            await store.close()

    slugs, marks, total = asyncio.run(read())
    assert slugs == ["demo-nps", "demo-smileys", "demo-stars"]
    assert marks == {"demo"}
    assert total == added
    code, out, _ = run(capsys, data, "demo", "--history")
    assert "Added 0 demo ratings" in out
    code, out, _ = run(capsys, data, "demo", "--remove")
    assert code == 0
    assert "Removed demo-stars" in out
    assert asyncio.run(read())[0] == []

"""Use cases for dashboard accounts: add, list, remove, reset, set a password, sign in.

The CLI (`scorelet user ...`) and the dashboard's pages both come here, so
an account's rules are the same from either door:

- an address has at most one account, compared in lower case;
- a new account without a password gets a one-time link to choose one,
  valid for 24 hours (`LINK_TTL`). The link is signed and names the
  account's session version; choosing a password bumps that version, so the
  link works once, and `reset` (which clears the password) bumps it too, so
  older links and every open session of the account stop working at once;
- removing an account, or signing out, ends its sessions the same way;
- from the dashboard nobody removes their own account or the last admin
  (the CLI, the way back in, may).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from scorelet.errors import Problem, invalid
from scorelet.passwords import PasswordError, hash_password, verify
from scorelet.store import ROLES, Store, User

LINK_TTL = 24 * 3600
MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def check_email(text: str, field: str = "email") -> str:
    """An address, lower-cased: one account per mailbox whatever its spelling."""
    email = text.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise invalid(field, f"{text[:80]!r} is not an email address like ana@example.com")
    return email


def check_role(role: str) -> str:
    if role not in ROLES:
        raise invalid("role", "role must be admin (may change things) or viewer (may look)")
    return role


@dataclass(frozen=True, slots=True)
class Link:
    """What a set-password link says: whose it is, and which session version it was for."""

    user_id: str
    version: int
    expires_at: int


class Accounts:
    def __init__(self, store: Store, secrets: Sequence[str]) -> None:
        self.store = store
        # Newest secret signs, all verify (itsdangerous signs with the last key).
        self._links = URLSafeSerializer(list(reversed(secrets)), salt="scorelet.password-link")

    # -- links ------------------------------------------------------------------------------

    def link_token(self, user: User) -> str:
        expires = int(self.store.clock() + LINK_TTL)
        return str(self._links.dumps([user.id, user.session_version, expires]))

    async def linked_user(self, token: str) -> User:
        """The account a set-password link is for, if the link is still good."""
        try:
            user_id, version, expires = self._links.loads(token)
        except (BadSignature, ValueError, TypeError):
            raise Problem(404, "bad_link", "this link is not one Scorelet made") from None
        if not isinstance(expires, int) or self.store.clock() >= expires:
            raise Problem(410, "link_expired", "this link has expired (links last 24 hours)")
        user = await self.store.user(str(user_id))
        if user is None or user.session_version != version:
            raise Problem(
                410, "link_used", "this link was used already, or replaced by a newer one"
            )
        return user

    # -- changes -----------------------------------------------------------------------------

    async def add(self, email: str, role: str, password: str | None) -> User:
        address, role = check_email(email), check_role(role)
        digest = await _hash(password) if password is not None else None
        return await self.store.create_user(address, role, digest)

    async def find(self, email: str) -> User:
        address = check_email(email)
        user = await self.store.user_by_email(address)
        if user is None:
            raise Problem(404, "user_not_found", f"no dashboard account is {address!r}", "email")
        return user

    async def remove(self, email: str, acting: User | None = None) -> User:
        """Remove an account (its sessions end with it); `acting`: the dashboard's user."""
        user = await self.find(email)
        if acting is not None:
            if acting.id == user.id:
                raise invalid("email", "you can't remove your own account; sign out instead")
            admins = [u for u in await self.store.users() if u.admin]
            if user.admin and len(admins) == 1:
                raise invalid("email", "this is the last admin; make another admin first")
        return await self.store.delete_user(user.id)

    async def reset(self, email: str) -> User:
        """Clear the password and end every session; returns the account for a new link."""
        user = await self.find(email)
        return await self.store.update_user(user.id, {"password_hash": None}, end_sessions=True)

    async def set_password(self, token: str, password: str) -> User:
        user = await self.linked_user(token)
        digest = await _hash(password)
        return await self.store.update_user(user.id, {"password_hash": digest}, end_sessions=True)

    async def end_sessions(self, user: User) -> None:
        await self.store.update_user(user.id, {}, end_sessions=True)

    async def sign_in(self, email: str, password: str) -> User | None:
        """The account if the password is its own; None otherwise, in about the same time."""
        try:
            address = check_email(email)
        except Problem:
            address = ""
        user = await self.store.user_by_email(address) if address else None
        stored = user.password_hash if user else None
        good = await asyncio.to_thread(verify, stored, password)
        return user if good else None


async def _hash(password: str) -> str:
    try:
        return await asyncio.to_thread(hash_password, password)
    except PasswordError as error:
        raise invalid("password", str(error)) from None

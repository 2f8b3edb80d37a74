"""What every handler needs: settings, the token signer, the store and the use cases."""

from __future__ import annotations

from dataclasses import dataclass, field

from scorelet.accounts import Accounts
from scorelet.api.middleware.metrics import RequestStats
from scorelet.config import Settings
from scorelet.errors import Problem
from scorelet.limits import Limits
from scorelet.ratings import Ratings
from scorelet.routing.admin import Routing
from scorelet.store import Store
from scorelet.tokens import Signer
from scorelet.touchpoints import Touchpoint


@dataclass
class Services:
    settings: Settings
    signer: Signer
    limits: Limits | None = None
    stats: RequestStats = field(default_factory=RequestStats)
    _store: Store | None = field(default=None, repr=False)
    _ratings: Ratings | None = field(default=None, repr=False)
    _accounts: Accounts | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the store opens when the app starts (lifespan)")
        return self._store

    @store.setter
    def store(self, store: Store | None) -> None:
        self._store = store
        self._ratings = Ratings(store, self.signer, self.limits) if store is not None else None
        self._accounts = Accounts(store, self.settings.secrets) if store is not None else None

    @property
    def ratings(self) -> Ratings:
        if self._ratings is None:
            raise RuntimeError("the store opens when the app starts (lifespan)")
        return self._ratings

    @property
    def routing(self) -> Routing:
        """Destinations, rules, tags, deliveries and digests (routing/admin.py)."""
        settings = self.settings
        return Routing(self.ratings, settings.allow_private_destinations, settings.base_url)

    @property
    def accounts(self) -> Accounts:
        if self._accounts is None:
            raise RuntimeError("the store opens when the app starts (lifespan)")
        return self._accounts

    async def touchpoint(self, slug: str) -> Touchpoint:
        """The touchpoint named in a URL, or a 404 problem.

        A slug this server hasn't seen may have been added by `scorelet touchpoint add` a
        moment ago: it looks at the database once before refusing.
        """
        touchpoint = self.store.touchpoint(slug)
        if touchpoint is None:
            await self.store.refresh_if_changed()
            touchpoint = self.store.touchpoint(slug)
        if touchpoint is None:
            raise Problem(
                404, "touchpoint_not_found", f"no touchpoint is named {slug[:64]!r}", "slug"
            )
        return touchpoint

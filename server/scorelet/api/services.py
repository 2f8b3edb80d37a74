"""What every handler needs: settings, the token signer, the store and the use cases."""

from __future__ import annotations

from dataclasses import dataclass, field

from scorelet.accounts import Accounts
from scorelet.api.middleware.metrics import RequestStats
from scorelet.config import Settings
from scorelet.errors import touchpoint_not_found
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

    async def touchpoint(self, slug: str, field: str = "slug") -> Touchpoint:
        """The touchpoint named in a URL (or in a body's `field`), or a 404 problem."""
        touchpoint = await self.store.find_touchpoint(slug)
        if touchpoint is None:
            raise touchpoint_not_found(slug, field)
        return touchpoint

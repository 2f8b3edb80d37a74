"""Scorelet: self-hosted CSAT and NPS ratings.

The public Python surface is small: `create_app` for running Scorelet inside
another ASGI server, `mint_token` for chat backends that hand out subject
tokens, and `Settings`/`load_settings` to configure either.
"""

__version__ = "0.1.0"

from scorelet.app import create_app
from scorelet.config import Settings, load_settings
from scorelet.mint import mint_token

__all__ = ["Settings", "__version__", "create_app", "load_settings", "mint_token"]

"""Scorelet: self-hosted CSAT and NPS ratings.

The public Python surface is small: `create_app` for running Scorelet inside
another ASGI server, `mint_token` for chat backends that hand out subject
tokens, `mint_identity` for sites that tell the widget who is signed in, and
`Settings`/`load_settings` to configure them.
"""

__version__ = "0.1.0"

from scorelet.app import create_app
from scorelet.config import Settings, load_settings
from scorelet.mint import mint_identity, mint_token

__all__ = ["Settings", "__version__", "create_app", "load_settings", "mint_identity", "mint_token"]

"""A plugin whose SDK is missing: importing it fails."""

import ministudio_missing_sdk  # noqa: F401

"""MiniStudio: make films with AI video models as code."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("ministudio")
"""Decorator for plugin hook implementations: ``@ministudio.hookimpl``."""

__all__ = ["__version__", "hookimpl"]

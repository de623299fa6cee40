"""MiniStudio: make films with AI video models as code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    import pluggy

    hookimpl: pluggy.HookimplMarker


def __getattr__(name: str) -> Any:
    # Lazy, so `ministudio --help` does not pay for importing pluggy.
    if name == "hookimpl":
        import pluggy

        marker = pluggy.HookimplMarker("ministudio")
        globals()["hookimpl"] = marker
        return marker
    raise AttributeError(f"module 'ministudio' has no attribute {name!r}")


__all__ = ["__version__", "hookimpl"]

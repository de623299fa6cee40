"""MiniStudio cloud voices (placeholder while the plugin is written)."""

"""MiniStudio engine plugin for Google Veo (placeholder while the plugin is written)."""

"""MiniStudio engine plugin for Kling (being written)."""

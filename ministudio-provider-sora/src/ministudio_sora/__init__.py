"""MiniStudio legacy engine plugin for Sora (being written)."""

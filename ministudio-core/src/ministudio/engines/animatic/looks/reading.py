"""Reading a description: its words, and a random generator seeded from text, so the same text
gives the same look everywhere."""

from __future__ import annotations

import hashlib
import random
import re


def stable_rng(*parts: object) -> random.Random:
    """A random generator seeded from text: the same parts give the same numbers everywhere."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def tokenize(text: str) -> list[str]:
    """Lower-case words, with punctuation kept as its own token (a phrase boundary)."""
    text = text.lower()
    text = re.sub(r"\bt[- ]?shirts?\b", "tshirt", text)
    text = re.sub(r"\blab[- ]coats?\b", "labcoat", text)
    text = re.sub(r"\bbow[- ]ties?\b", "bowtie", text)
    text = re.sub(r"\bcolou?r-?ful\b", "colourful", text)
    return re.findall(r"#[0-9a-f]{6}|[a-z]+|[.,;:!?()]", text)

"""eSpeak NG's voices: the language codes and variants it lists, and a character's ``Voice``
resolved to the name eSpeak loads (with suggestions for an unknown one)."""

from __future__ import annotations

import difflib
from pathlib import Path

from ministudio.engines.espeak.binding import ENGINE, Catalogue, catalogue_now, library_paths
from ministudio.errors import EngineError


def list_voices() -> list[str]:
    """The language codes eSpeak NG speaks (``en-us``, ``en-gb``, ``fr-fr``...), sorted.

    Each is a valid ``Voice.voice``; so are the voice names and file names eSpeak lists
    (``English (America)``, ``gmw/en-US``), and any of them with a ``+variant`` suffix.
    """
    catalogue = catalogue_now()
    return sorted({code for v in catalogue.voices for _, code in v.languages[:1]})


def list_variants() -> list[str]:
    """The voice variants (``m1``..``m8``, ``f1``..``f5``, ``whisper``, ``zac``...), sorted."""
    return sorted(catalogue_now().variants.values(), key=str.lower)


def variant_is_female(variant: str) -> bool:
    """Whether a variant's file declares ``gender female``."""
    if variant.isdigit():
        return int(variant) > 10  # numbered variants: 11..19 are f1..f9
    catalogue = catalogue_now()
    name = catalogue.variants.get(variant.lower())
    if name is None:
        return False
    _, data_path = library_paths()
    try:
        text = (Path(data_path) / "voices" / "!v" / name).read_text("utf-8", "replace")
    except OSError:
        return False
    return any(line.split()[:2] == ["gender", "female"] for line in text.lower().splitlines())


def _suggest(wanted: str, candidates: list[str], common: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(wanted.lower(), candidates, n=4, cutoff=0.6)
    picks = list(dict.fromkeys([*close, *(c for c in common if c in candidates)]))[:8]
    return ", ".join(picks)


def resolve_voice(catalogue: Catalogue, voice: str, variant: str | None) -> str:
    """``Voice.voice`` (+ variant) -> the name eSpeak's ``SetVoiceByName`` accepts."""
    base, _, suffix = voice.strip().partition("+")
    base = base.strip()
    wanted_variant = (variant if variant is not None else suffix).strip()
    key = base.lower()

    identifier: str | None = None
    for info in catalogue.voices:
        ident = info.identifier.lower()
        if key and key in (info.name.lower(), ident, ident.rsplit("/", 1)[-1]):
            identifier = info.identifier
            break
    if identifier is None and key:
        best: tuple[int, str] | None = None
        for info in catalogue.voices:
            for priority, code in info.languages:
                if code == key and (best is None or priority < best[0]):
                    best = (priority, info.identifier)
        identifier = best[1] if best else None
    if identifier is None:
        codes = sorted({code for v in catalogue.voices for _, code in v.languages})
        codes_common = ("en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "fr-fr", "de", "es")
        raise EngineError(
            ENGINE,
            f"unknown voice '{voice}'; try one of {_suggest(key, codes, codes_common)} "
            "(run `ministudio voices` for the full list)",
        )

    if not wanted_variant:
        return identifier
    if wanted_variant.isdigit():  # eSpeak's numbered variants: 1..9 male, 11..19 female
        number = int(wanted_variant)
        wanted_variant = f"m{number}" if number < 10 else f"f{number - 10}"
    file_name = catalogue.variants.get(wanted_variant.lower())
    if file_name is None:
        variants_common = ("m1", "m3", "m7", "f1", "f2", "f3", "f5", "whisper", "zac")
        raise EngineError(
            ENGINE,
            f"unknown voice variant '{wanted_variant}'; try one of "
            f"{_suggest(wanted_variant, sorted(catalogue.variants), variants_common)} "
            "(male m1..m8, female f1..f5)",
        )
    return f"{identifier}+{file_name}"

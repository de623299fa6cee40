"""Visemes: the mouth shapes a speaker's phonemes make, frame by frame.

A speech engine that knows its phonemes (espeak does; ``LineBrief.phonemes``) gives each
line's phonemes and when each starts. Each maps to one of a few mouth shapes, in the spirit
of the animators' mouth charts (Preston Blair's):

``closed``  lips pressed together: p, b, m
``teeth``   the lower lip under the upper teeth: f, v (and th)
``round``   lips rounded and pushed out: o, u, w, and sh, ch, j
``wide``    lips spread over the teeth: i, e, and y
``open``    the jaw dropped: a
``mid``     a little open, teeth showing: the other consonants (t, d, s, n, l, k...), schwa
``rest``    a pause: the mouth at rest

The mapping reads eSpeak NG's phoneme mnemonics (stress marks first, ``'aI``, ``,eI``), which
other languages' voices share by their first letters; an unknown mnemonic is ``mid``.
"""

from __future__ import annotations

from collections.abc import Sequence

REST, CLOSED, TEETH, ROUND, WIDE, OPEN, MID = (
    "rest",
    "closed",
    "teeth",
    "round",
    "wide",
    "open",
    "mid",
)
VISEMES = (REST, CLOSED, TEETH, ROUND, WIDE, OPEN, MID)
SHAPED = (ROUND, WIDE, OPEN, MID)  # shapes that open more with a louder voice
STRESS = "'\",%=:"  # eSpeak's stress and length marks before a mnemonic

# The least share of a frame's time a closure (p, b, m) or an f/v needs to show in it: they
# are short, and a mouth that never closes on "m" does not read as saying it.
_BRIEF_SHARE = 0.3


def viseme(mnemonic: str) -> str:
    """The viseme of one phoneme (an eSpeak mnemonic such as ``m``, ``'A:``, ``_:``)."""
    name = mnemonic.lstrip(STRESS)
    if not name or name[0] in "_|":
        return REST
    if name in ("tS", "dZ"):
        return ROUND
    first = name[0]
    if first in "pbmB":  # B: the bilabial fricative of Spanish "haba"
        return CLOSED
    if first in "fvTD":
        return TEETH
    if first in "oOuUwyYW" or first in "SZ":
        return ROUND
    if first in "iIeEj":
        return WIDE
    if first in "aAV&0":
        return OPEN
    return MID


def frame_visemes(
    phonemes: Sequence[tuple[float, str]], end: float, frames: int, fps: float
) -> list[str | None]:
    """Each frame's viseme from a line's ``phonemes`` (seconds, mnemonic; each lasts until
    the next, the last until ``end``): None where the frame shows none of them. A frame
    shows the shape it spends most of its time in, but a closure or f/v that takes up at
    least `_BRIEF_SHARE` of it wins, so the lips meet on every m and b."""
    spans: list[tuple[float, float, str]] = []
    for k, (t, name) in enumerate(phonemes):
        stop = phonemes[k + 1][0] if k + 1 < len(phonemes) else end
        if stop > t:
            spans.append((t, stop, viseme(name)))
    out: list[str | None] = [None] * frames
    if not spans:
        return out
    period = 1 / fps
    first = max(0, int(spans[0][0] * fps))
    last = min(frames, int(spans[-1][1] * fps) + 1)
    k = 0
    for i in range(first, last):
        a, b = i * period, (i + 1) * period
        while k < len(spans) and spans[k][1] <= a:
            k += 1
        share: dict[str, float] = {}
        j = k
        while j < len(spans) and spans[j][0] < b:
            overlap = min(b, spans[j][1]) - max(a, spans[j][0])
            if overlap > 0:
                share[spans[j][2]] = share.get(spans[j][2], 0.0) + overlap
            j += 1
        if not share:
            continue
        brief = [v for v in (CLOSED, TEETH) if share.get(v, 0.0) >= _BRIEF_SHARE * period]
        if brief:
            out[i] = max(brief, key=lambda v: share[v])
        else:
            out[i] = max(VISEMES, key=lambda v: share.get(v, 0.0))
    return out

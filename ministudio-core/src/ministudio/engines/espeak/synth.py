"""A small ctypes binding to eSpeak NG, plus the table that turns an emotion into prosody.

The library and its voice data come from the ``espeakng-loader`` wheel, so nothing is needed
from the system and nothing runs in a subprocess.

eSpeak NG keeps its synthesis state in C globals: it is not thread-safe, some of that state
(the pitch "flutter" position, the glottal cycle count, the gain control) survives
``espeak_Terminate`` and carries over from one utterance to the next, and its breath noise is
seeded from the clock, so the same line spoken twice would give slightly different samples.
To make every line a pure function of its input, each call runs under one module-level lock
on a freshly loaded copy of the library: load, initialise, fix the noise seed, speak,
terminate, unload (about 10 ms). The voice list is read once and cached.
"""

from __future__ import annotations

import ctypes
import difflib
import sys
import threading
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio.errors import EngineError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

ENGINE = "espeak"

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit() on bad data
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
_EE_OK = 0
_NOISE_SEED = 1

RATE_MIN, RATE_MAX = 80, 450  # words per minute eSpeak accepts
VOLUME_MAX = 200  # 100 is normal; above that eSpeak compresses and may distort

_LOCK = threading.Lock()  # every call into the library, and the caches below

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p
)  # int (*)(short *wav, int numsamples, espeak_EVENT *events)


class _EspeakVoice(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, code, NUL)*, then a 0 priority byte
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


@dataclass(frozen=True)
class _VoiceInfo:
    name: str  # "English (America)"
    identifier: str  # "gmw/en-US"
    languages: tuple[tuple[int, str], ...]  # ((2, "en-us"), (3, "en")); lower priority wins


@dataclass(frozen=True)
class _Catalogue:
    voices: tuple[_VoiceInfo, ...]
    variants: dict[str, str]  # lower-cased variant name -> its file name in voices/!v


_catalogue: _Catalogue | None = None


# --- loading ---------------------------------------------------------------------------------


def _paths() -> tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - it is a dependency of ministudio-core
        raise EngineError(ENGINE, "the espeakng-loader package is not installed") from exc
    return str(espeakng_loader.get_library_path()), str(espeakng_loader.get_data_path())


def _unload(handle: int) -> None:
    import _ctypes

    try:
        if sys.platform == "win32":
            _ctypes.FreeLibrary(handle)
        else:
            _ctypes.dlclose(handle)
    except OSError:  # pragma: no cover - the next load then reuses the loaded copy
        pass


class _Session:
    """One initialised instance of the library. Use only under ``_LOCK``."""

    def __init__(self) -> None:
        lib_path, data_path = _paths()
        try:
            lib = ctypes.CDLL(lib_path)
        except OSError as exc:
            raise EngineError(
                ENGINE,
                f"cannot load the eSpeak NG library {lib_path}: {exc}; "
                "reinstall the espeakng-loader package",
            ) from exc
        self._lib: ctypes.CDLL | None = lib
        self.data_path = data_path
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = (_SynthCallback,)
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = (
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        )  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = ()
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = (ctypes.c_void_p,)
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))
        lib.espeak_Terminate.argtypes = ()
        lib.espeak_Terminate.restype = ctypes.c_int

        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(sys.getfilesystemencoding()),
            _INITIALIZE_DONT_EXIT,
        )  # fmt: skip
        if rate <= 0:
            self._lib = None
            _unload(lib._handle)
            raise EngineError(ENGINE, f"eSpeak NG could not read its voice data in {data_path}")
        self.sample_rate = int(rate)
        # Initialize seeds the breath/Klatt noise generator from the clock: fix it instead.
        seed = getattr(lib, "espeak_ng_SetRandSeed", None)  # eSpeak NG >= 1.52
        if seed is not None:
            seed.argtypes = (ctypes.c_long,)
            seed.restype = ctypes.c_int
            seed(_NOISE_SEED)
        self._sink: Callable[[bytes], None] = lambda chunk: None
        self._callback = _SynthCallback(self._collect)  # kept alive while the library may call it
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: int | None, count: int, _events: int | None) -> int:
        if wav and count > 0:
            self._sink(ctypes.string_at(wav, count * 2))
        return 0  # 0 = carry on

    @property
    def lib(self) -> ctypes.CDLL:
        assert self._lib is not None, "eSpeak NG session already closed"
        return self._lib

    def close(self) -> None:
        lib, self._lib = self._lib, None
        if lib is None:
            return
        lib.espeak_Terminate()
        _unload(lib._handle)

    def list_voices(self) -> list[_VoiceInfo]:
        found: list[_VoiceInfo] = []
        table = self.lib.espeak_ListVoices(None)
        i = 0
        while table[i]:
            entry = table[i].contents
            languages: list[tuple[int, str]] = []
            at = entry.languages
            while at:
                priority = ctypes.string_at(at, 1)[0]
                if priority == 0:
                    break
                code = ctypes.string_at(at + 1)
                languages.append((priority, code.decode("utf-8", "replace").lower()))
                at += len(code) + 2
            found.append(
                _VoiceInfo(
                    name=(entry.name or b"").decode("utf-8", "replace"),
                    identifier=(entry.identifier or b"").decode("utf-8", "replace"),
                    languages=tuple(languages),
                )
            )
            i += 1
        return found

    def speak(
        self, text: str, *, voice: str, settings: dict[int, int], sink: Callable[[bytes], None]
    ) -> None:
        """Speak ``text``, handing each chunk of samples (int16, as eSpeak makes them) to
        ``sink`` as it comes."""
        lib = self.lib
        if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise EngineError(ENGINE, f"eSpeak NG could not load the voice '{voice}'")
        for parameter, value in settings.items():
            lib.espeak_SetParameter(parameter, value, 0)
        data = text.encode("utf-8") + b"\0"
        self._sink = sink
        try:
            status = lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            lib.espeak_Synchronize()
        finally:
            self._sink = lambda chunk: None
        if status != _EE_OK:
            raise EngineError(ENGINE, f"eSpeak NG failed to speak the line (status {status})")


@contextmanager
def _session() -> Iterator[_Session]:
    """A fresh library instance; the caller holds ``_LOCK``."""
    session = _Session()
    try:
        yield session
    finally:
        session.close()


def _load_catalogue(session: _Session) -> _Catalogue:
    global _catalogue
    if _catalogue is None:
        variants_dir = Path(session.data_path) / "voices" / "!v"
        variants = {}
        if variants_dir.is_dir():
            variants = {p.name.lower(): p.name for p in variants_dir.iterdir() if p.is_file()}
        _catalogue = _Catalogue(voices=tuple(session.list_voices()), variants=variants)
    return _catalogue


def _catalogue_now() -> _Catalogue:
    with _LOCK:
        if _catalogue is not None:
            return _catalogue
        with _session() as session:
            return _load_catalogue(session)


# --- voices ----------------------------------------------------------------------------------


def list_voices() -> list[str]:
    """The language codes eSpeak NG speaks (``en-us``, ``en-gb``, ``fr-fr``...), sorted.

    Each is a valid ``Voice.voice``; so are the voice names and file names eSpeak lists
    (``English (America)``, ``gmw/en-US``), and any of them with a ``+variant`` suffix.
    """
    catalogue = _catalogue_now()
    return sorted({code for v in catalogue.voices for _, code in v.languages[:1]})


def list_variants() -> list[str]:
    """The voice variants (``m1``..``m8``, ``f1``..``f5``, ``whisper``, ``zac``...), sorted."""
    return sorted(_catalogue_now().variants.values(), key=str.lower)


def variant_is_female(variant: str) -> bool:
    """Whether a variant's file declares ``gender female``."""
    if variant.isdigit():
        return int(variant) > 10  # numbered variants: 11..19 are f1..f9
    catalogue = _catalogue_now()
    name = catalogue.variants.get(variant.lower())
    if name is None:
        return False
    _, data_path = _paths()
    try:
        text = (Path(data_path) / "voices" / "!v" / name).read_text("utf-8", "replace")
    except OSError:
        return False
    return any(line.split()[:2] == ["gender", "female"] for line in text.lower().splitlines())


def _suggest(wanted: str, candidates: list[str], common: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(wanted.lower(), candidates, n=4, cutoff=0.6)
    picks = list(dict.fromkeys([*close, *(c for c in common if c in candidates)]))[:8]
    return ", ".join(picks)


def _resolve(catalogue: _Catalogue, voice: str, variant: str | None) -> str:
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


# --- speaking --------------------------------------------------------------------------------


def _clamp(value: float, low: int, high: int) -> int:
    return int(max(low, min(high, round(value))))


def synthesize(
    text: str,
    *,
    voice: str = "en-us",
    pitch: int = 50,
    rate: int = 175,
    range_: int = 50,
    volume: int = 100,
    variant: str | None = None,
    wordgap: int = 0,
) -> tuple[NDArray[np.int16], int]:
    """Speak ``text``; return mono int16 samples and eSpeak's sample rate (22050 Hz).

    ``voice`` is a language code, voice name or file name, optionally with ``+variant``
    (``en-us+f3``); ``variant`` (``f3``, ``m7``, ``whisper``) overrides that suffix. ``pitch``
    and ``range_`` are 0..100 (50 is the voice's own), ``rate`` is words per minute
    (80..450), ``volume`` 0..200 (100 normal), ``wordgap`` a pause between words in 10 ms.
    Values outside those ranges are clamped. The same arguments always give the same samples.
    """
    import numpy as np

    chunks: list[bytes] = []
    sample_rate = _speak(
        text, chunks.append, voice, variant, _settings(pitch, rate, range_, volume, wordgap)
    )
    samples = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.int16)
    return samples, sample_rate


def _settings(pitch: int, rate: int, range_: int, volume: int, wordgap: int) -> dict[int, int]:
    return {
        _RATE: _clamp(rate, RATE_MIN, RATE_MAX),
        _VOLUME: _clamp(volume, 0, VOLUME_MAX),
        _PITCH: _clamp(pitch, 0, 100),
        _RANGE: _clamp(range_, 0, 100),
        _WORDGAP: _clamp(wordgap, 0, 100),
    }


def _speak(
    text: str,
    sink: Callable[[bytes], None],
    voice: str,
    variant: str | None,
    settings: dict[int, int],
) -> int:
    """Speak ``text`` into ``sink`` chunk by chunk; return the sample rate."""
    if not text.strip():
        raise EngineError(ENGINE, "nothing to say: the line's text is empty")
    with _LOCK, _session() as session:
        name = _resolve(_load_catalogue(session), voice, variant)
        session.speak(text.replace("\0", " "), voice=name, settings=settings, sink=sink)
        return session.sample_rate


def speak_to_wav(
    text: str,
    output: Path,
    *,
    voice: str = "en-us",
    pitch: int = 50,
    rate: int = 175,
    range_: int = 50,
    volume: int = 100,
    variant: str | None = None,
    wordgap: int = 0,
    keep: float = 0.05,
) -> float:
    """Speak ``text`` into a mono 16-bit WAV at ``output``, silence cut as ``trim_silence``
    does; return its seconds. The same samples as ``synthesize`` then ``trim_silence``, in
    bounded memory however long the text: eSpeak's chunks go to a scratch file as they come,
    with each chunk's loudest sample, and the cut is found from those."""
    import numpy as np

    output.parent.mkdir(parents=True, exist_ok=True)
    raw = output.with_name(output.name + ".raw")
    chunks: list[tuple[int, int, int]] = []  # (first sample, samples, loudest level)
    try:
        with raw.open("wb") as scratch:

            def sink(chunk: bytes) -> None:
                level = np.abs(np.frombuffer(chunk, dtype="<i2").astype(np.int32)).max()
                start = chunks[-1][0] + chunks[-1][1] if chunks else 0
                chunks.append((start, len(chunk) // 2, int(level)))
                scratch.write(chunk)

            settings = _settings(pitch, rate, range_, volume, wordgap)
            sample_rate = _speak(text, sink, voice, variant, settings)
        start, end = _cut(raw, chunks, round(keep * sample_rate))
        with raw.open("rb") as source, wave.open(str(output), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            source.seek(start * 2)
            left = end - start
            while left > 0:
                block = source.read(min(left, 1 << 20) * 2)
                out.writeframes(block)
                left -= len(block) // 2
    finally:
        raw.unlink(missing_ok=True)
    return (end - start) / sample_rate


def _cut(
    raw: Path, chunks: list[tuple[int, int, int]], margin: int, threshold: float = 0.01
) -> tuple[int, int]:
    """The samples to keep of the raw file ``chunks`` describe: ``trim_silence``'s cut."""
    import numpy as np

    total = chunks[-1][0] + chunks[-1][1] if chunks else 0
    limit = max(32, int(max((c[2] for c in chunks), default=0) * threshold))
    loud = [c for c in chunks if c[2] > limit]
    if not loud:
        return 0, total

    def levels(chunk: tuple[int, int, int]) -> Any:
        with raw.open("rb") as f:
            f.seek(chunk[0] * 2)
            samples = np.frombuffer(f.read(chunk[1] * 2), dtype="<i2").astype(np.int32)
        return np.flatnonzero(np.abs(samples) > limit)

    first = loud[0][0] + int(levels(loud[0])[0])
    last = loud[-1][0] + int(levels(loud[-1])[-1])
    return max(0, first - margin), min(total, last + 1 + margin)


def trim_silence(
    samples: NDArray[np.int16], sample_rate: int, *, keep: float = 0.05, threshold: float = 0.01
) -> NDArray[np.int16]:
    """Cut leading and trailing silence down to ``keep`` seconds.

    Silence is anything quieter than ``threshold`` of the loudest sample. A line that is all
    silence (say "...") is returned as it is.
    """
    import numpy as np

    if samples.size == 0:
        return samples
    level = np.abs(samples.astype(np.int32))
    limit = max(32, int(level.max() * threshold))
    loud = np.flatnonzero(level > limit)
    if loud.size == 0:
        return samples
    margin = round(keep * sample_rate)
    start = max(0, int(loud[0]) - margin)
    end = min(samples.size, int(loud[-1]) + 1 + margin)
    return samples[start:end]


# --- emotion -> prosody ----------------------------------------------------------------------


@dataclass(frozen=True)
class Prosody:
    """How an emotion shifts a voice: offsets on 0..100 pitch and range, factors on rate and
    volume, and optionally a variant that replaces the character's (whisper)."""

    pitch: int = 0
    range: int = 0
    rate: float = 1.0
    volume: float = 1.0
    variant: str | None = None


EMOTIONS: dict[str, Prosody] = {
    "neutral": Prosody(),
    "happy": Prosody(pitch=8, range=15, rate=1.08, volume=1.05),
    "excited": Prosody(pitch=15, range=30, rate=1.22, volume=1.15),
    "surprised": Prosody(pitch=18, range=30, rate=1.05, volume=1.10),
    "curious": Prosody(pitch=6, range=15, rate=0.95),
    "warm": Prosody(pitch=-4, range=8, rate=0.92),
    "calm": Prosody(pitch=-5, range=-15, rate=0.88, volume=0.90),
    "sad": Prosody(pitch=-12, range=-25, rate=0.80, volume=0.80),
    "fearful": Prosody(pitch=12, range=10, rate=1.12, volume=0.90),
    "angry": Prosody(pitch=5, range=25, rate=1.10, volume=1.35),
    "whisper": Prosody(pitch=-5, range=-20, rate=0.90, volume=0.80, variant="whisper"),
}

_ALIASES: dict[str, str] = {
    "joyful": "happy", "cheerful": "happy", "glad": "happy", "amused": "happy",
    "playful": "happy", "delighted": "happy",
    "thrilled": "excited", "enthusiastic": "excited", "eager": "excited", "elated": "excited",
    "shocked": "surprised", "amazed": "surprised", "astonished": "surprised",
    "stunned": "surprised", "surprise": "surprised",
    "inquisitive": "curious", "intrigued": "curious", "puzzled": "curious",
    "questioning": "curious", "confused": "curious",
    "gentle": "warm", "tender": "warm", "kind": "warm", "loving": "warm", "affectionate": "warm",
    "relaxed": "calm", "serene": "calm", "soothing": "calm", "peaceful": "calm", "soft": "calm",
    "sorrowful": "sad", "melancholy": "sad", "upset": "sad", "grieving": "sad", "tired": "sad",
    "unhappy": "sad", "depressed": "sad", "sadness": "sad",
    "scared": "fearful", "afraid": "fearful", "frightened": "fearful", "nervous": "fearful",
    "anxious": "fearful", "terrified": "fearful", "fear": "fearful", "worried": "fearful",
    "furious": "angry", "mad": "angry", "annoyed": "angry", "irritated": "angry",
    "frustrated": "angry", "enraged": "angry", "anger": "angry",
    "whispering": "whisper", "whispered": "whisper", "whispers": "whisper", "hushed": "whisper",
}  # fmt: skip


def prosody_for(emotion: str) -> Prosody:
    """The prosody of a free-text emotion: an exact name or alias, else the first word of it
    that is one ("quietly sad" -> sad); anything unknown is neutral."""
    words = "".join(c if c.isalpha() else " " for c in emotion.lower()).split()
    for candidate in [" ".join(words), *words]:
        name = _ALIASES.get(candidate, candidate)
        if name in EMOTIONS:
            return EMOTIONS[name]
    return EMOTIONS["neutral"]

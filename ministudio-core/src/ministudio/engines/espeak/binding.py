"""A small ctypes binding to eSpeak NG: loading the library, one session of it, the voice
catalogue, and the synthesis parameters it takes.

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
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ministudio.errors import EngineError

ENGINE = "espeak"

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001  # an espeakEVENT_PHONEME at each phoneme's start
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit() on bad data
_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
_EE_OK = 0
_NOISE_SEED = 1

RATE_MIN, RATE_MAX = 80, 450  # words per minute eSpeak accepts
VOLUME_MAX = 200  # 100 is normal; above that eSpeak compresses and may distort

LOCK = threading.Lock()  # every call into the library, and the caches below

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p
)  # int (*)(short *wav, int numsamples, espeak_EVENT *events)


class _EventId(ctypes.Union):
    _fields_ = (
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),  # a phoneme's mnemonic, NUL-terminated unless 8 long
    )


class _EspeakEvent(ctypes.Structure):  # espeak_EVENT
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms from the start of the text's audio
        ("sample", ctypes.c_int),  # the same, in samples: what phoneme times are read from
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


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
class Catalogue:
    voices: tuple[_VoiceInfo, ...]
    variants: dict[str, str]  # lower-cased variant name -> its file name in voices/!v


_catalogue: Catalogue | None = None


# --- loading ---------------------------------------------------------------------------------


def library_paths() -> tuple[str, str]:
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
    """One initialised instance of the library. Use only under ``LOCK``."""

    def __init__(self) -> None:
        lib_path, data_path = library_paths()
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
            _INITIALIZE_DONT_EXIT | _INITIALIZE_PHONEME_EVENTS,
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
        self._phonemes: list[tuple[int, str]] | None = None  # (sample, mnemonic) while speaking
        self._callback = _SynthCallback(self._collect)  # kept alive while the library may call it
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: int | None, count: int, events: int | None) -> int:
        if events and self._phonemes is not None:
            event = ctypes.cast(events, ctypes.POINTER(_EspeakEvent))
            i = 0
            while event[i].type != _EVENT_LIST_TERMINATED:
                if event[i].type == _EVENT_PHONEME:
                    name = bytes(event[i].id.string).split(b"\0", 1)[0]
                    self._phonemes.append((event[i].sample, name.decode("utf-8", "replace")))
                i += 1
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
    ) -> list[tuple[int, str]]:
        """Speak ``text``, handing each chunk of samples (int16, as eSpeak makes them) to
        ``sink`` as it comes; return the phonemes spoken, in order: (the sample each starts
        at, counted from the text's first sample; its eSpeak mnemonic, ``m``, ``aI``, ``_:``
        for a pause)."""
        lib = self.lib
        if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise EngineError(ENGINE, f"eSpeak NG could not load the voice '{voice}'")
        for parameter, value in settings.items():
            lib.espeak_SetParameter(parameter, value, 0)
        data = text.encode("utf-8") + b"\0"
        phonemes: list[tuple[int, str]] = []
        self._sink, self._phonemes = sink, phonemes
        try:
            status = lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            lib.espeak_Synchronize()
        finally:
            self._sink, self._phonemes = (lambda chunk: None), None
        if status != _EE_OK:
            raise EngineError(ENGINE, f"eSpeak NG failed to speak the line (status {status})")
        return phonemes


@contextmanager
def open_session() -> Iterator[_Session]:
    """A fresh library instance; the caller holds ``LOCK``."""
    session = _Session()
    try:
        yield session
    finally:
        session.close()


def load_catalogue(session: _Session) -> Catalogue:
    global _catalogue
    if _catalogue is None:
        variants_dir = Path(session.data_path) / "voices" / "!v"
        variants = {}
        if variants_dir.is_dir():
            variants = {p.name.lower(): p.name for p in variants_dir.iterdir() if p.is_file()}
        _catalogue = Catalogue(voices=tuple(session.list_voices()), variants=variants)
    return _catalogue


def catalogue_now() -> Catalogue:
    with LOCK:
        if _catalogue is not None:
            return _catalogue
        with open_session() as session:
            return load_catalogue(session)


def _clamp(value: float, low: int, high: int) -> int:
    return int(max(low, min(high, round(value))))


def espeak_settings(
    pitch: int, rate: int, range_: int, volume: int, wordgap: int
) -> dict[int, int]:
    return {
        _RATE: _clamp(rate, RATE_MIN, RATE_MAX),
        _VOLUME: _clamp(volume, 0, VOLUME_MAX),
        _PITCH: _clamp(pitch, 0, 100),
        _RANGE: _clamp(range_, 0, 100),
        _WORDGAP: _clamp(wordgap, 0, 100),
    }

"""The ``espeak`` speech engine: real, local, keyless speech from eSpeak NG.

The library and voice data ship in the ``espeakng-loader`` wheel and are called through ctypes
(``binding``); ``synth`` speaks a line, ``voices`` lists and resolves voices, ``plugin``
registers the engine. A character's ``Voice`` picks the language and variant (``en-us``,
``en-gb``, ``en-us+f3``), pitch (0..100), rate (words per minute) and, in ``options``,
``range`` (0..100), ``variant``, ``volume`` (0..200) and ``wordgap`` (10 ms units); a line's
emotion shifts pitch, range, rate and volume on top (``prosody.EMOTIONS``).
"""

"""A parsed screenplay (``authoring.fountain``) turned into a production: plain data, a map from
each field path to the script line it came from, then validated by the core's loader so every
problem names the script and its line.

How the script maps onto the film (where Fountain and the spec leave it open, the choice is
written here):

- Title page ``Title`` -> ``title`` (else the file's name). Scene headings -> scenes; the place
  (INT./EXT. and the words before the time of day) -> one environment, reused by every scene
  set there. The environment's lighting comes from its first scene's time of day; a scene at
  another time gets a ``lighting`` override. CONTINUOUS / LATER / SAME keep the lighting of the
  scene before in the same place. Content before the first scene heading opens the first scene.
- Characters come from dialogue cues, and from names in capitals that open an action sentence
  with a description (``EMMA, a student, about 20``: the screenplay's introduction of a
  character, who may never speak). Id from the name, ``name`` in title case, DNA from the
  sentence that introduces them (the name followed by a description), else a sentence asking
  for one. ``NARRATOR`` is the film's narration, not a character.
- Each action paragraph starts a shot; a line by a new speaker after another's starts one too
  (a close-up, pushing in), unless it is spoken off-screen (the picture stays where it is); a
  scene's first shot is wide. Characters in frame: the on-screen speakers and
  those the action names (or, when it names no one, whoever is already in the scene).
- ``(V.O.)``, ``(O.S.)``, ``(O.C.)``, ``(OFF)``: the line is spoken off-screen (the speaker is
  not in frame). ``(CONT'D)`` is the same character. A parenthetical is the line's emotion;
  lyrics (``~``) are sung (emotion ``singing``); lyrics outside dialogue are narration.
- Dual dialogue (``^``): both lines in one medium shot with both speakers in frame.
- Centred text (``>...<``) is a three-second title-card shot with no one in frame.
- Transitions set the next shot's continuity: ``MATCH CUT TO:`` continues from the previous
  shot's last frame; every other (CUT TO, SMASH CUT, DISSOLVE, FADE) cuts. A scene whose time
  is CONTINUOUS in the same place as the scene before continues. The film's first shot cuts.
- Notes, boneyard, sections, synopses and page breaks are not part of the film: counted only.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio.authoring.fountain import Element, Script, ScriptError, parse, read_script
from ministudio.errors import Problem, ProductionError
from ministudio.spec import NARRATOR

if TYPE_CHECKING:
    from ministudio.spec import Production

Loc = tuple[str | int, ...]

TITLE_CARD_SECONDS = 3.0
DNA_CHARS = 400
EMOTION_CHARS = 40
ID_CHARS = 48

_PREFIX = re.compile(
    r"^(INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|I/E|INT|EXT|EST)\.?(?:\s+|$)", re.IGNORECASE
)
_SETTINGS = {"INT": "interior", "EXT": "exterior", "EST": "exterior"}
_DASH = re.compile(r"\s+-{1,2}\s+|\s*--\s*|\s+[\u2013\u2014]\s+")
_LIGHT = {
    "dawn": "dawn, soft early light",
    "sunrise": "sunrise, soft warm light",
    "morning": "morning light",
    "noon": "midday sun",
    "midday": "midday sun",
    "afternoon": "afternoon light",
    "day": "daylight",
    "dusk": "dusk, low warm light",
    "sunset": "sunset, low warm light",
    "evening": "evening light",
    "twilight": "twilight, blue light",
    "midnight": "midnight darkness",
    "night": "night, dim light",
    "magic hour": "golden light",
    "golden hour": "golden light",
}
_SAME_TIME = ("continuous", "later", "same", "moments later", "continued", "meanwhile")
_OFF_SCREEN = {"V.O.": "voice-over", "VO": "voice-over", "O.S.": "off", "OS": "off"}
_OFF_SCREEN.update({"O.C.": "off", "OC": "off", "OFF": "off", "OFFSCREEN": "off"})
"""Cue extensions (upper case, spaces and hyphens out) whose line is heard, not seen. Any
other extension (CONT'D, ON THE RADIO) leaves the speaker on screen."""
_HONORIFICS = {"dr", "mr", "mrs", "ms", "miss", "prof", "sir", "lady", "lord", "the", "captain"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_ABBREVIATION = re.compile(r"(?:^|\s)(?:dr|mr|mrs|ms|st|jr|sr|prof|vs|no)\.$", re.IGNORECASE)
_DESCRIBED = re.compile(r"\s*[,(]\s*\(?(?:an? |about \d|\d|in (?:his|her|their) )")
"""What follows a name that a description follows: ``, a student``, ``(30s)``, ``, about 70``."""
_INTRODUCED = re.compile(
    r"(?:^|(?<=[.!?;:] ))([A-Z][A-Z'.\-]*[A-Z.](?: [A-Z][A-Z'.\-]*[A-Z]){0,2})"
    r"(?=\s*[,(]\s*\(?(?:an? |about \d|\d|in (?:his|her|their) ))"
)
"""A name in capitals opening a sentence and followed by a description (``EMMA, a student``,
``JOHN (30s)``): the screenplay's way of introducing a character, speaking or not."""


@dataclass
class Imported:
    """A script as production data: ``data`` (plain values), ``positions`` (field path ->
    script line), and what the summary counts."""

    data: dict[str, Any]
    positions: dict[Loc, int]
    scene_lines: list[int]
    headings: list[str]
    shot_lines: list[list[int]]
    counts: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)


def slug(text: str, fallback: str) -> str:
    """A readable id: lower case words joined by hyphens (letters of any script kept)."""
    found = re.sub(r"[\W_]+", "-", text.lower()).strip("-")[:ID_CHARS].rstrip("-")
    return found or fallback


def title_case(name: str) -> str:
    """A cue's name as a name: ``DR. SARAH`` -> ``Dr. Sarah``; a forced mixed-case name
    (``@McCLANE``) is kept as written."""
    if name != name.upper():
        return name
    return re.sub(r"[^\W\d_]+", lambda m: m.group(0).capitalize(), name.lower())


def _words(text: str) -> str:
    return " ".join(text.split())


# -- scene headings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    setting: str  # interior / exterior / interior and exterior / "" (forced)
    place: str  # as written
    time: str  # as written, "" when none


def read_heading(text: str) -> Heading:
    """INT./EXT., the place and the time of day of a scene heading."""
    setting = ""
    found = _PREFIX.match(text)
    rest = text
    if found:
        word = found.group(1).upper().replace(" ", "")
        setting = _SETTINGS.get(word.rstrip("."), "interior and exterior")
        rest = text[found.end() :]
    parts = [p.strip() for p in _DASH.split(rest.strip()) if p.strip()]
    time = ""
    if len(parts) > 1 and _is_time(parts[-1]):
        time = parts.pop()
    place = " - ".join(parts) or text.strip() or "somewhere"
    return Heading(setting, place, time)


def _is_time(text: str) -> bool:
    low = text.lower()
    return any(re.search(rf"\b{w}\b", low) for w in (*_LIGHT, *_SAME_TIME))


def lighting(time: str) -> str | None:
    """The light a time of day gives; None for CONTINUOUS, LATER and the like (no change)."""
    low = time.lower().strip()
    if not low or any(re.search(rf"\b{w}\b", low) for w in _SAME_TIME):
        return None
    for word, light in _LIGHT.items():
        if re.search(rf"\b{word}\b", low):
            return light if low == word else f"{low}, {light.split(', ')[-1]}"
    return low


# -- dialogue blocks -----------------------------------------------------------------------------


@dataclass
class Block:
    """A cue and what follows it: who speaks, how, and where in the script."""

    cue: Element
    text: str
    emotion: str
    text_line: int
    off_screen: str  # "", "off" or "voice-over"


def _block(cue: Element, parts: list[Element]) -> Block:
    said = [_words(p.text) for p in parts if p.kind in ("dialogue", "lyrics") and p.text.strip()]
    moods = [p.text for p in parts if p.kind == "parenthetical" and p.text.strip()]
    sung = any(p.kind == "lyrics" for p in parts)
    emotion = "singing" if sung else (emotion_of(moods[0]) if moods else "neutral")
    spoken = [p for p in parts if p.kind in ("dialogue", "lyrics") and p.text.strip()]
    off = ""
    for extension in cue.extensions:
        key = extension.upper().replace(" ", "").replace("-", "")
        off = off or _OFF_SCREEN.get(key, "")
    return Block(cue, " ".join(said), emotion, spoken[0].line if spoken else cue.line, off)


def emotion_of(parenthetical: str) -> str:
    """A parenthetical as a short emotion: lower case, its first clause, at most a few words."""
    text = _words(parenthetical).lower().strip(" .!?")
    if len(text) > EMOTION_CHARS:
        text = re.split(r"[,;:]", text, maxsplit=1)[0]
    if len(text) > EMOTION_CHARS:
        text = text[:EMOTION_CHARS].rsplit(" ", 1)[0]
    return text or "neutral"


def _is_narrator(cue: Element) -> bool:
    return slug(cue.name, "") == NARRATOR


# -- characters ----------------------------------------------------------------------------------


@dataclass
class Cast:
    """The speaking characters: id -> name, the line of each first cue, and a matcher of their
    names in action text."""

    names: dict[str, str] = field(default_factory=dict)
    cue_lines: dict[str, int] = field(default_factory=dict)
    by_cue: dict[str, str] = field(default_factory=dict)  # the cue's name (upper) -> id
    matcher: re.Pattern[str] | None = None
    by_word: dict[str, str] = field(default_factory=dict)  # a name as matched (lower) -> id

    def id_of(self, cue: Element) -> str:
        return self.by_cue[_words(cue.name).upper()]

    def mentioned(self, text: str) -> list[str]:
        if self.matcher is None:
            return []
        found = (self.by_word[m.group(0).lower()] for m in self.matcher.finditer(text))
        return list(dict.fromkeys(found))


def find_cast(elements: list[Element]) -> Cast:
    cast = Cast()
    taken: set[str] = set()
    for element in elements:
        if element.kind != "character" or _is_narrator(element):
            continue
        key = _words(element.name).upper()
        if key in cast.by_cue:
            continue
        base = slug(element.name, "character")
        cid, n = base, 2
        while cid in taken or cid == NARRATOR:
            cid, n = f"{base}-{n}", n + 1
        taken.add(cid)
        cast.by_cue[key] = cid
        cast.names[cid] = title_case(_words(element.name))
        cast.cue_lines[cid] = element.line
    for element in elements:
        if element.kind != "action":
            continue
        for found in _INTRODUCED.finditer(_words(element.text)):
            key = found.group(1).rstrip(".")
            if key in cast.by_cue or slug(key, "") in ("", NARRATOR):
                continue
            cid = _unique(slug(key, "character"), taken)
            taken.add(cid)
            cast.by_cue[key] = cid
            cast.names[cid] = title_case(key)
            cast.cue_lines[cid] = element.line
    forms: dict[str, str] = {}
    for key, cid in cast.by_cue.items():
        low = key.lower()
        forms.setdefault(low, cid)
        words = low.split()
        if len(words) > 1 and words[0].rstrip(".") in _HONORIFICS:
            forms.setdefault(" ".join(words[1:]), cid)
    if forms:
        ordered = sorted(forms, key=len, reverse=True)
        alternatives = "|".join(re.escape(f) for f in ordered)
        cast.matcher = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        cast.by_word = forms
    return cast


def find_dna(cast: Cast, elements: list[Element], title: str) -> dict[str, tuple[str, int]]:
    """Each character's DNA and its line: the first action sentence that introduces them (their
    name followed by a description: ``SARAH, a scientist``, ``JOHN (30s)``), else a sentence
    saying the script has none."""
    found: dict[str, tuple[str, int]] = {}
    if cast.matcher is not None:
        for element in elements:
            if element.kind != "action" or len(found) == len(cast.names):
                continue
            for sentence in _sentences(element.text):
                for match in cast.matcher.finditer(sentence):
                    cid = cast.by_word[match.group(0).lower()]
                    if cid in found:
                        continue
                    if _DESCRIBED.match(sentence, match.end()):
                        found[cid] = (_clip(sentence, DNA_CHARS), element.line)
    for cid, name in cast.names.items():
        if cid not in found:
            found[cid] = (
                f"{name}, a character in {title} whom the script does not describe: "
                "write their age, build, hair and clothes here so every shot draws the same "
                "person",
                cast.cue_lines[cid],
            )
    return found


def _sentences(text: str) -> list[str]:
    """The sentences of a paragraph (``Dr.``, ``Mr.`` and the like end none)."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(_words(text)):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        elif piece:
            out.append(piece)
    return out


def _clip(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[:cap].rsplit(" ", 1)[0] + "..."


# -- shots ---------------------------------------------------------------------------------------


@dataclass
class ShotDraft:
    line: int
    action: str
    size: str
    characters: list[str]
    continuity: str = "cut"
    camera: str = "static"
    action_line: int | None = None
    dialogue: list[dict[str, str]] = field(default_factory=list)
    dialogue_lines: list[tuple[int, int]] = field(default_factory=list)  # (cue, text) lines
    narration: str = ""
    narration_line: int | None = None
    duration: float | None = None
    title_card: bool = False

    def as_data(self, shot_id: str) -> dict[str, Any]:
        data: dict[str, Any] = {"id": shot_id, "action": self.action, "size": self.size}
        if self.camera != "static":
            data["camera"] = self.camera
        data["characters"] = list(self.characters)
        if self.dialogue:
            data["dialogue"] = self.dialogue
        if self.narration:
            data["narration"] = self.narration
        if self.duration is not None:
            data["duration"] = self.duration
        if self.continuity != "cut":
            data["continuity"] = self.continuity
        return data


class SceneShots:
    """Cuts one scene's elements into shots."""

    def __init__(self, cast: Cast, place: str, continuity: str) -> None:
        self.cast = cast
        self.place = place
        self.shots: list[ShotDraft] = []
        self.present: list[str] = []
        self.pending = continuity
        self.told = False  # a transition set ``pending`` and no shot has taken it yet
        self.counts: Counter[str] = Counter()

    def _new(self, line: int, action: str, size: str, characters: list[str]) -> ShotDraft:
        size = "wide" if not self.shots else size
        shot = ShotDraft(line, action or "The scene goes on", size, characters, self.pending)
        self.pending, self.told = "cut", False
        self.shots.append(shot)
        return shot

    def _enter(self, cids: list[str]) -> None:
        for cid in cids:
            if cid not in self.present:
                self.present.append(cid)

    @property
    def current(self) -> ShotDraft | None:
        return self.shots[-1] if self.shots else None

    def action(self, element: Element) -> None:
        named = self.cast.mentioned(element.text)
        shot = self._new(element.line, _words(element.text), "medium", named or list(self.present))
        shot.action_line = element.line
        self._enter(named)

    def title_card(self, element: Element) -> None:
        shot = self._new(element.line, f"Title card on screen: {_words(element.text)}", "wide", [])
        shot.duration, shot.title_card = TITLE_CARD_SECONDS, True
        self.counts["title cards"] += 1

    def transition(self, element: Element) -> None:
        self.pending = "continue" if "MATCH" in element.text.upper() else "cut"
        self.told = True

    def narrate(self, text: str, line: int) -> None:
        shot = self.current
        if shot is None or shot.narration or shot.title_card:
            before = shot.action if shot is not None and not shot.title_card else ""
            shot = self._new(line, before or f"The {self.place.lower()}", "wide", [])
            if before:
                shot.characters = list(self.shots[-2].characters)
                shot.continuity = "continue"
        shot.narration, shot.narration_line = text, line
        self.counts["lines"] += 1
        self.counts["narration"] += 1

    def speak(self, block: Block) -> None:
        if _is_narrator(block.cue):
            if block.text:
                self.narrate(block.text, block.text_line)
            return
        cid = self.cast.id_of(block.cue)
        name = self.cast.names[cid]
        on_screen = not block.off_screen
        shot = self.current
        last = shot.dialogue[-1]["speaker"] if shot is not None and shot.dialogue else None
        joins = shot is not None and not shot.title_card and not shot.narration
        if joins and on_screen and not block.cue.dual and last is not None and last != cid:
            joins = False  # a new speaker on screen: a new shot (an off-screen voice joins)
        if shot is None or not joins:
            if on_screen:
                mood = "" if block.emotion == "neutral" else f", {block.emotion}"
                action = f"{name} speaks{mood}" if block.text else f"{name}{mood}"
                shot = self._new(block.cue.line, action, "close-up", [cid])
                shot.camera = "push-in" if shot.size == "close-up" else "static"
            else:
                heard = "in voice-over" if block.off_screen == "voice-over" else "off-screen"
                others = [c for c in self.present if c != cid]
                shot = self._new(block.cue.line, f"{name} is heard {heard}", "medium", others)
        if on_screen and cid not in shot.characters:
            shot.characters.append(cid)
        if block.cue.dual and len(shot.characters) > 1 and shot.size == "close-up":
            shot.size = "medium"
        if on_screen:
            self._enter([cid])
        if not block.text:  # a cue with only a parenthetical: a silent reaction
            if shot.dialogue or shot.action_line:
                shot.action += f". {name}: {block.emotion}"
            self.counts["silent cues"] += 1
            return
        shot.dialogue.append({"speaker": cid, "text": block.text, "emotion": block.emotion})
        shot.dialogue_lines.append((block.cue.line, block.text_line))
        self.counts["lines"] += 1
        if block.off_screen:
            self.counts["off-screen lines"] += 1


# -- the production ------------------------------------------------------------------------------


def _scenes(elements: list[Element]) -> list[tuple[Element, list[Element]]]:
    """The elements grouped by scene heading; what comes before the first heading opens the
    first scene."""
    scenes: list[tuple[Element, list[Element]]] = []
    before: list[Element] = []
    for element in elements:
        if element.kind == "scene_heading":
            scenes.append((element, before if not scenes else []))
            before = []
        elif scenes:
            scenes[-1][1].append(element)
        else:
            before.append(element)
    return scenes


def _walk(shots: SceneShots, elements: list[Element]) -> None:
    i = 0
    while i < len(elements):
        element = elements[i]
        i += 1
        if element.kind == "character":
            parts: list[Element] = []
            while i < len(elements) and elements[i].kind in ("dialogue", "parenthetical", "lyrics"):
                parts.append(elements[i])
                i += 1
            shots.speak(_block(element, parts))
        elif element.kind == "action":
            shots.action(element)
        elif element.kind == "centered":
            shots.title_card(element)
        elif element.kind == "transition":
            shots.transition(element)
        elif element.kind == "lyrics":  # a song outside dialogue: its lines, one narration
            verse = [element]
            while i < len(elements) and elements[i].kind == "lyrics":
                if elements[i].line != verse[-1].line + 1:
                    break
                verse.append(elements[i])
                i += 1
            sung = " ".join(_words(e.text) for e in verse if e.text.strip())
            if sung:
                shots.narrate(sung, element.line)
                shots.counts["sung narration"] += 1
        # a parenthetical or dialogue with no cue cannot occur: the parser ties them to a cue


def build(
    script: Script,
    *,
    source: str,
    fallback_title: str,
    film_format: dict[str, Any] | None = None,
    seed: int | None = None,
) -> Imported:
    """The production data of a parsed script, with each field's script line."""
    grouped = _scenes(script.elements)
    if not grouped:
        raise ScriptError(
            source,
            [
                Problem(
                    "",
                    "the script has no scene heading: start each scene with a line such as "
                    "'INT. KITCHEN - DAY' (a blank line before and after it), or force one with "
                    "a leading period ('.KITCHEN')",
                    1,
                )
            ],
        )
    title = _words(script.title_page.get("title", "")) or fallback_title
    positions: dict[Loc, int] = {("title",): script.title_lines.get("title", 1)}
    cast = find_cast(script.elements)
    dna = find_dna(cast, script.elements, title)
    characters: dict[str, Any] = {}
    for n, (cid, name) in enumerate(cast.names.items()):
        text, line = dna[cid]
        characters[cid] = {
            "name": name,
            "dna": text,
            "voice": {"pitch": _PITCHES[n % len(_PITCHES)]},
        }
        positions[("characters", cid)] = cast.cue_lines[cid]
        positions[("characters", cid, "name")] = cast.cue_lines[cid]
        positions[("characters", cid, "dna")] = line

    environments: dict[str, dict[str, Any]] = {}
    places: dict[tuple[str, str], str] = {}
    scenes: list[dict[str, Any]] = []
    scene_lines: list[int] = []
    headings: list[str] = []
    shot_lines: list[list[int]] = []
    counts: Counter[str] = Counter()
    used_scene_ids: set[str] = set()
    previous: tuple[str, str | None] | None = None  # (environment, effective lighting)
    told: str | None = None  # the continuity a transition at a scene's end gave the next
    for si, (element, body) in enumerate(grouped):
        heading = read_heading(element.text)
        key = (heading.setting, heading.place.upper())
        env = places.get(key)
        light = lighting(heading.time)
        if env is None:
            env = slug(heading.place, "place")
            if env in environments and heading.setting:  # EXT. HOUSE after INT. HOUSE
                env = slug(f"{heading.place} {heading.setting}", "place")
            env = _unique(env, environments)
            places[key] = env
            intro = next((e.text for e in body if e.kind == "action"), "")
            environments[env] = _environment(heading, intro, light)
            positions[("environments", env)] = element.line
            positions[("environments", env, "description")] = element.line
        if light is None and previous is not None and previous[0] == env:
            light = previous[1]
        base_light = environments[env].get("lighting") or None
        scene_id = _unique(slug(f"{heading.place} {heading.time}", "scene"), used_scene_ids)
        used_scene_ids.add(scene_id)
        continuity = "cut"
        if told is not None:  # the previous scene ended on a transition: it decides
            continuity = told
        elif "continuous" in heading.time.lower() and previous and previous[0] == env:
            continuity = "continue"
        shots = SceneShots(cast, heading.place, continuity)
        _walk(shots, body)
        told = shots.pending if shots.told else None
        if not shots.shots:  # a heading with nothing under it: the place, established
            shots.action(Element("action", f"The {heading.place.lower()}", element.line))
        if si == 0:
            shots.shots[0].continuity = "cut"
        scene: dict[str, Any] = {"id": scene_id, "environment": env}
        if light and light != base_light:
            scene["lighting"] = light
            positions[("scenes", si, "lighting")] = element.line
        scene["shots"] = [s.as_data(f"{scene_id}-{n}") for n, s in enumerate(shots.shots, 1)]
        for at in (("scenes", si), ("scenes", si, "id"), ("scenes", si, "environment")):
            positions[at] = element.line
        for hi, shot in enumerate(shots.shots):
            _shot_positions(positions, ("scenes", si, "shots", hi), shot)
        scenes.append(scene)
        scene_lines.append(element.line)
        headings.append(element.text)
        shot_lines.append([s.line for s in shots.shots])
        counts.update(shots.counts)
        counts["shots"] += len(shots.shots)
        previous = (env, light or base_light)
    data: dict[str, Any] = {"title": title}
    if film_format:
        data["format"] = dict(film_format)
    if seed is not None:
        data["seed"] = seed
    data.update(characters=characters, environments=environments, scenes=scenes)
    if grouped:
        positions[("scenes",)] = grouped[0][0].line
    counts.update(scenes=len(scenes), environments=len(environments), characters=len(characters))
    return Imported(data, positions, scene_lines, headings, shot_lines, counts, script.dropped)


_PITCHES = (50, 30, 70, 40, 62, 22, 80, 45, 56, 35)
"""eSpeak pitches given to the characters in turn, so that speakers sound apart."""


def _unique(base: str, taken: Any) -> str:
    found, n = base, 2
    while found in taken:
        found, n = f"{base}-{n}", n + 1
    return found


def _environment(heading: Heading, intro: str, light: str | None) -> dict[str, Any]:
    place = heading.place.lower() if heading.place == heading.place.upper() else heading.place
    description = f"{heading.setting.capitalize()}, {place}" if heading.setting else place
    first = _sentences(intro)[:1]
    if first:
        description = _clip(f"{description}. {' '.join(first)}", DNA_CHARS)
    found: dict[str, Any] = {"description": description}
    if light:
        found["lighting"] = light
    return found


def _shot_positions(positions: dict[Loc, int], at: Loc, shot: ShotDraft) -> None:
    def put(line: int, *steps: str | int) -> None:
        key: Loc = (*at, *steps)
        positions[key] = line

    put(shot.line)
    for name in ("id", "size", "camera", "characters", "continuity", "duration"):
        put(shot.line, name)
    put(shot.action_line or shot.line, "action")
    for li, (cue_line, text_line) in enumerate(shot.dialogue_lines):
        for name in ("speaker", "emotion"):
            put(cue_line, "dialogue", li, name)
        put(cue_line, "dialogue", li)
        put(text_line, "dialogue", li, "text")
    if shot.narration_line:
        put(shot.narration_line, "narration")


def fallback_title(path: Path) -> str:
    """A title from the file's name: ``last_algorithm.fountain`` -> ``Last Algorithm``."""
    words = re.sub(r"[_\-.]+", " ", path.stem).strip() or "Untitled"
    return words if words != words.lower() else words.title()


def import_script(
    path: Path,
    *,
    film_format: dict[str, Any] | None = None,
    seed: int | None = None,
) -> tuple[Production, Imported]:
    """Read, parse, map and validate a script: the production and its data. Every problem
    names the script and its line (``ScriptError``, or ``ProductionError`` from validation)."""
    from ministudio.spec.loading import validate_production

    source = str(path)
    script = parse(read_script(path), source)
    imported = build(
        script,
        source=source,
        fallback_title=fallback_title(path),
        film_format=film_format,
        seed=seed,
    )
    try:
        production = validate_production(
            imported.data, source=source, base_dir=path.parent, positions=imported.positions
        )
    except ProductionError as exc:  # the same problems, shown as SCRIPT:LINE
        raise ScriptError(source, exc.problems) from None
    return production, imported


def to_yaml(imported: Imported, script_name: str) -> str:
    """The production as YAML, with ``# SCRIPT:LINE`` above each scene and shot."""
    import yaml

    def dump(value: Any) -> str:
        text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=96)
        return str(text)

    def indent(text: str, spaces: int) -> str:
        pad = " " * spaces
        return "".join(pad + line if line.strip() else line for line in text.splitlines(True))

    def comment(text: str) -> str:
        return "# " + "".join(c if c.isprintable() else " " for c in text)

    data = imported.data
    head = {k: v for k, v in data.items() if k != "scenes"}
    out = [comment(f"Imported from {script_name} by `ministudio import`."), "\n", dump(head)]
    out.append("scenes:\n")
    for si, scene in enumerate(data["scenes"]):
        where = f"{script_name}:{imported.scene_lines[si]}  {imported.headings[si]}"
        out.append(indent(comment(where) + "\n", 2))
        fields = {k: v for k, v in scene.items() if k != "shots"}
        out.append(indent(dump([fields]), 2))
        out.append("    shots:\n")
        for hi, shot in enumerate(scene["shots"]):
            out.append(indent(comment(f"{script_name}:{imported.shot_lines[si][hi]}") + "\n", 6))
            out.append(indent(dump([shot]), 6))
    return "".join(out)

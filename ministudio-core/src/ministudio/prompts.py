"""The default text form of a structured shot prompt, which engines may use or remap."""

from __future__ import annotations

from ministudio.jobs import ShotPrompt

SHOT_SIZE_WORDS = {
    "extreme-wide": "Extreme wide shot",
    "wide": "Wide shot",
    "full": "Full shot",
    "medium": "Medium shot",
    "close-up": "Close-up",
    "extreme-close-up": "Extreme close-up",
}

CAMERA_WORDS = {
    "static": "static camera",
    "pan-left": "the camera pans left",
    "pan-right": "the camera pans right",
    "tilt-up": "the camera tilts up",
    "tilt-down": "the camera tilts down",
    "push-in": "the camera slowly pushes in",
    "pull-back": "the camera slowly pulls back",
    "handheld": "handheld camera",
}


def describe_shot(shot: ShotPrompt, *, include_dialogue: bool = False) -> str:
    """One paragraph a text-to-video model understands, in a stable order (deterministic)."""
    size = SHOT_SIZE_WORDS.get(shot.shot_size, shot.shot_size)
    camera = CAMERA_WORDS.get(shot.camera_move, shot.camera_move)
    env = shot.environment
    action = shot.action.rstrip(".")
    if not action and not shot.characters:
        action = "An empty background plate: the setting alone, no people, no text"
    parts = [f"{size}, {camera}.", action + "."]
    for character in shot.characters:
        parts.append(f"{character.name}: {character.dna.rstrip('.')}.")
    setting = env.description.rstrip(".")
    if env.lighting:
        setting += f"; lighting: {env.lighting.rstrip('.')}"
    parts.append(f"Setting: {setting}.")
    if env.palette:
        parts.append(f"Palette: {', '.join(env.palette)}.")
    if shot.style:
        parts.append(f"Style: {shot.style.rstrip('.')}.")
    if include_dialogue:
        names = {c.id: c.name for c in shot.characters}
        for line in shot.lines:
            who = names.get(
                line.speaker, "Narrator" if line.speaker == "narrator" else line.speaker
            )
            parts.append(f'{who} says ({line.emotion}): "{line.text}"')
    if shot.negative:
        parts.append(f"Avoid: {', '.join(shot.negative)}.")
    return " ".join(parts)

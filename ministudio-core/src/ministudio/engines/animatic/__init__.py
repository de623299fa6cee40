"""The animatic: a local, keyless, deterministic previz video engine.

It renders a watchable preview of each shot (a background drawn from the environment's DNA,
every character as a figure that looks the same in every shot, the framing, camera move,
lighting grade, speaking mouths and the action as a caption) so a team can watch a whole film
for free before routing shots to paid engines.

- ``looks``: DNA and description text -> how a figure, a room and a lighting grade look.
- ``draw``: drawing backgrounds, figures and captions with Pillow and numpy.
- ``render``: ``render_clip(request, output)``: compose a shot once, then move the camera.
- ``plugin``: the pluggy hooks that declare and run the ``animatic`` engine.
"""

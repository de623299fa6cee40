"""Claims the engine id 'solid', which ministudio-plugin-solid already declares."""

from ministudio import hookimpl
from ministudio.engines import EngineSpec


@hookimpl
def ministudio_engines():
    return [EngineSpec(id="solid", kind="video")]

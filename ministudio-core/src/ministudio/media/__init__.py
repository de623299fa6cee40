"""Media work done in-process with PyAV (FFmpeg bundled in the wheel): no system ffmpeg."""

"""Run frame tasks over a stored video: sample, decode once, hand each frame to every task."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..images import from_array
from .sources import VideoInfo, probe, sample_frames, sampling_step
from .tasks import FrameTask


def analyse_video(
    path: Path,
    tasks: Sequence[FrameTask],
    sample_fps: float,
    progress: Callable[[float], None],
    info: VideoInfo | None = None,
) -> VideoInfo:
    """Feed every sampled frame to each task; progress is reported in percent of frames."""
    info = info or probe(path)
    step = sampling_step(info, sample_fps)
    total = max(1, info.frame_count)
    for frame in sample_frames(path, info, step):
        image = from_array(frame.rgb)
        for task in tasks:
            task.add(frame, image)
        progress(min(99.0, 100.0 * (frame.index + 1) / total))
    return info

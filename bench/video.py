"""Live face search on 720p video: frames/s on this machine, and latency from frame to webhook.

    .venv/bin/python bench/video.py [--loops 3]

1. Throughput: the crowd clip (../shared, 1080p) scaled to 1280 x 720 and decoded beforehand,
   run through the stream processors' face search (detect on a scaled copy, track, embed new
   tracks within a per-frame budget, search the collection) frame after frame. The peer is the
   naive pipeline without tracking: detect at full 720p and embed + search every face of every
   frame. Goal: >= 15 frames/s.
2. Latency: a real stream processor reads the same 720p clip from an HTTP MJPEG camera playing in
   real time on 127.0.0.1 and posts matches to a webhook on 127.0.0.1; latency is the webhook's
   arrival time minus the time the frame was decoded. First matches of a track include its
   embedding; repeats (same track, once a second) do not. Goal: < 300 ms.
Nothing here is a pass/fail test; numbers depend on what else runs on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

# The MJPEG camera, webhook receiver and enrolment helpers are the tests' own (no copies).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OVERSIGHT_DATA_DIR", tempfile.mkdtemp(prefix="oversight-bench-video-"))

from oversight import operations  # noqa: E402
from oversight.analysis import face_analyzer  # noqa: E402
from oversight.config import settings  # noqa: E402
from oversight.images import from_array  # noqa: E402
from oversight.operations.stream_processors import live_searcher, processor_search  # noqa: E402
from oversight.video.endpoints import register_endpoint  # noqa: E402
from oversight.video.face_search import find_faces  # noqa: E402
from oversight.video.runtime import processor_store, stop_video_services  # noqa: E402
from tests.video_helpers import (  # noqa: E402
    BOY_IN_FIRST_FRAME,
    CROWD_CLIP,
    enrol_from_frame,
    mjpeg_server,
    webhook_receiver,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SIZE = (1280, 720)
CAMERA = "arn:aws:kinesisvideo:us-east-1:000000000000:stream/bench-camera/1"
EVENTS = "arn:aws:kinesis:us-east-1:000000000000:stream/bench-events"


def frames_720p(clip: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while (read := capture.read())[0]:
        frames.append(cv2.cvtColor(cv2.resize(read[1], SIZE, interpolation=cv2.INTER_AREA),
                                   cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def tracked_fps(frames: list[np.ndarray], max_side: int) -> float:
    processor = processor_store().get(operations.RequestContext.local().account_id, "bench")
    searcher = live_searcher(processor, max_side)
    started = time.perf_counter()
    for rgb in frames:
        searcher.process(from_array(rgb))
    return len(frames) / (time.perf_counter() - started)


def naive_fps(frames: list[np.ndarray]) -> float:
    processor = processor_store().get(operations.RequestContext.local().account_id, "bench")
    search = processor_search(processor)
    analyzer = face_analyzer()
    started = time.perf_counter()
    for rgb in frames:
        image = from_array(rgb)
        for face in find_faces(image, max(SIZE)):
            search(analyzer.embed(image, face))
    return len(frames) / (time.perf_counter() - started)


def latencies(clip_720p: Path, loops: int) -> tuple[list[float], list[float]]:
    """(first-match latencies, repeat latencies) in ms."""
    first: list[float] = []
    repeat: list[float] = []
    for _ in range(loops):
        with mjpeg_server(clip_720p, fps=25) as url, webhook_receiver() as hook:
            register_endpoint(CAMERA, url)
            register_endpoint(EVENTS, hook.url)
            operations.call("StartStreamProcessor", {"Name": "bench"})
            while processor_store().get("000000000000", "bench").status == "RUNNING":
                time.sleep(0.2)
            hook.wait_for(1, 5)
            described = operations.call("DescribeStreamProcessor", {"Name": "bench"})
            assert described["Status"] == "STOPPED", described
            seen: set[int] = set()
            for arrived, event in hook.received:
                delay = arrived * 1000 - event["FrameTimestampMillis"]
                tracks = {face["TrackIndex"] for face in event["FaceSearchResponse"]}
                (repeat if tracks <= seen else first).append(delay)
                seen |= tracks
    return first, repeat


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, n={len(ordered)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loops", type=int, default=3, help="real-time plays of the clip")
    args = parser.parse_args()
    clip = SHARED / CROWD_CLIP
    frames = frames_720p(clip)
    enrol_from_frame("bench", clip, "boy-in-blue", BOY_IN_FIRST_FRAME)
    register_endpoint(CAMERA, "unused")
    register_endpoint(EVENTS, "unused")
    operations.call("CreateStreamProcessor", {
        "Name": "bench", "RoleArn": "arn:aws:iam::000000000000:role/bench",
        "Input": {"KinesisVideoStream": {"Arn": CAMERA}},
        "Output": {"KinesisDataStream": {"Arn": EVENTS}},
        "Settings": {"FaceSearch": {"CollectionId": "bench", "FaceMatchThreshold": 90.0}},
    })
    config = settings()
    print(f"{len(frames)} frames of {CROWD_CLIP} at {SIZE[0]}x{SIZE[1]}, "
          f"{os.cpu_count()} cores, inference threads {config.inference_threads}")
    tracked_fps(frames[:10], config.video_detect_max_side)  # load every model once
    for max_side in (config.video_detect_max_side, max(SIZE)):
        fps = tracked_fps(frames, max_side)
        print(f"tracked face search, detect at {max_side}px: {fps:.1f} frames/s")
    default_fps = tracked_fps(frames, config.video_detect_max_side)
    naive = naive_fps(frames[:10])
    print(f"naive (detect at 720p, embed every face): {naive:.2f} frames/s; "
          f"tracked/naive = {default_fps / naive:.1f}x; goal >= 15 frames/s")

    with tempfile.TemporaryDirectory() as scratch:
        clip_720p = Path(scratch) / "crowd-720p.mp4"
        writer = cv2.VideoWriter(str(clip_720p), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, SIZE)
        for rgb in frames:
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        writer.release()
        first, repeat = latencies(clip_720p, args.loops)
    print(f"frame -> webhook, first match of a track: {summary(first)}")
    print(f"frame -> webhook, repeat match of a track: {summary(repeat)}; goal < 300 ms")
    stop_video_services()


if __name__ == "__main__":
    main()

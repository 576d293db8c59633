"""Video building blocks on real frames: the tracker, segment detection, result pages."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from oversight.errors import InvalidPaginationTokenException, InvalidParameterException
from oversight.images import from_array
from oversight.video.face_search import find_faces
from oversight.video.results import aggregate_segments, page
from oversight.video.segments import SegmentFilters, SegmentTask
from oversight.video.sources import probe, sample_frames, sampling_step
from oversight.video.tracker import Tracker
from tests.conftest import shared_path


def test_tracker_keeps_ids_for_moving_boxes_and_starts_new_ones() -> None:
    tracker = Tracker()
    first = tracker.update(0, [(100, 100, 50, 60), (400, 120, 40, 50)])
    # Both faces moved a little, a third appeared far away.
    second = tracker.update(1, [(410, 125, 40, 50), (112, 104, 50, 60), (800, 300, 30, 30)])
    assert [t.index for t in first] == [0, 1]
    assert [t.index for t in second] == [1, 0, 2]
    # Gone for longer than max_missed frames: a later detection there is a new person.
    assert tracker.update(9, [(100, 100, 50, 60)])[0].index == 3


def test_faces_of_a_real_clip_keep_their_track_across_frames() -> None:
    path = shared_path("video/facenet-pytorch-faces-1080p.mp4")
    info = probe(path)
    tracker = Tracker()
    per_frame = []
    for number, frame in enumerate(sample_frames(path, info, sampling_step(info, 5.0))):
        if number == 5:
            break
        faces = find_faces(from_array(frame.rgb), 640)
        per_frame.append({t.index for t in tracker.update(number, [f.box for f in faces])})
    # The crowd walks slowly: most faces of a frame are tracks already seen in the previous one.
    for previous, current in zip(per_frame, per_frame[1:], strict=False):
        assert len(current & previous) >= len(current) // 2 > 0


def _write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()


def _frames(relative: str, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(shared_path(relative)))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        assert ok
        frames.append(cv2.resize(frame, size))
    capture.release()
    return frames


def test_segments_find_the_cut_and_the_black_frames(tmp_path: Path) -> None:
    size = (320, 180)
    street = _frames("video/slow-traffic-640x360.mp4", 20, size)
    crowd = _frames("video/mot20-05-pedestrians.mp4", 20, size)
    black = [np.zeros((size[1], size[0], 3), np.uint8)] * 10
    video = tmp_path / "edited.mp4"
    _write_video(video, street + black + crowd, 10.0)
    info = probe(video)
    task = SegmentTask(info, ["SHOT", "TECHNICAL_CUE"], SegmentFilters())
    for frame in sample_frames(video, info, 1):
        task.add(frame, from_array(frame.rgb))
    segments = task.results()["Segments"]
    cues = [s for s in segments if s["Type"] == "TECHNICAL_CUE"]
    assert [(c["StartFrameNumber"], c["EndFrameNumber"]) for c in cues] == [(20, 29)]
    assert cues[0]["StartTimestampMillis"] == 2000 and cues[0]["DurationMillis"] == 1000
    shots = [s["StartFrameNumber"] for s in segments if s["Type"] == "SHOT"]
    assert shots[0] == 0 and 30 in shots and len(shots) <= 4
    assert segments[-1]["EndTimecodeSMPTE"] == "00:00:05:00"


def test_probe_refuses_a_file_that_is_not_a_video(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_bytes(b"this is not a video" * 100)
    with pytest.raises(InvalidParameterException):
        probe(bogus)


def test_pages_follow_next_token_and_sort_by() -> None:
    entries = [{"Timestamp": t, "Person": {"Index": i}} for t, i in
               [(300, 0), (100, 1), (200, 0), (0, 2)]]
    first = page("123456789012", "job1", entries, "Persons", {"MaxResults": 3, "SortBy": "INDEX"})
    assert [(e["Person"]["Index"], e["Timestamp"]) for e in first["Persons"]] == [
        (0, 200), (0, 300), (1, 100)]
    rest = page("123456789012", "job1", entries, "Persons",
                {"MaxResults": 3, "SortBy": "INDEX", "NextToken": first["NextToken"]})
    assert [e["Timestamp"] for e in rest["Persons"]] == [0] and "NextToken" not in rest
    for account, job in (("123456789012", "job2"), ("210987654321", "job1")):
        with pytest.raises(InvalidPaginationTokenException):
            page(account, job, entries, "Persons",
                 {"SortBy": "INDEX", "NextToken": first["NextToken"]})


def test_label_segments_merge_runs_of_one_label() -> None:
    seen = [{"Timestamp": t, "Label": {"Name": "Car", "Confidence": c}}
            for t, c in [(0, 60.0), (500, 90.0), (1000, 70.0), (5000, 80.0)]]
    merged = aggregate_segments(seen, "Label", 500)
    assert [(m["StartTimestampMillis"], m["Label"]["Confidence"]) for m in merged] == [
        (0, 90.0), (5000, 80.0)]
    assert merged[0]["DurationMillis"] == 1250

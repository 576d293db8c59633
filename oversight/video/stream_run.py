"""A running stream processor: a live source, face search on every frame it can keep up with,
and match events handed to sinks.

Frames come from `LiveSource`, which drops frames while analysis is busy, so the processor runs
in real time at whatever rate the CPU allows. A tracked face that matches is reported when it
first matches and then at most once per `event_interval` seconds while it stays in view, so a
person standing in front of a camera does not flood the sinks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import RekognitionError
from ..images import from_array
from ..rekognition import bounding_box
from .face_search import FaceSearcher, SearchedFace
from .sources import Frame, LiveSource

log = logging.getLogger(__name__)

Sink = Callable[[dict[str, Any]], None]
# Takes each event, with the frame it came from, before any sink sees it (the audit log, human
# review) and returns the event as the sinks may have it; raising stops the processor.
Gate = Callable[[dict[str, Any], Frame], dict[str, Any]]
# Called once when the processor stops: (final status, why).
OnStop = Callable[[str, str], None]


def match_event(name: str, session_id: str, stream_arn: str, frame: Frame,
                found: list[SearchedFace]) -> dict[str, Any]:
    """One frame's matches, in the shape of Rekognition's Kinesis data stream records."""
    return {
        "StreamProcessorInformation": {"Name": name, "SessionId": session_id,
                                       "Status": "RUNNING"},
        "InputInformation": {"KinesisVideo": {
            "StreamArn": stream_arn,
            "FrameOffsetInSeconds": frame.timestamp_ms / 1000.0,
            "ProducerTimestamp": frame.captured_at,
        }},
        # Wall-clock time the frame was decoded, in ms: end-to-end latency starts here.
        "FrameTimestampMillis": int(frame.captured_at * 1000),
        "FrameOffsetMillis": frame.timestamp_ms,
        "FaceSearchResponse": [
            {
                "DetectedFace": {
                    "BoundingBox": bounding_box(f.face.box, frame.width, frame.height),
                    "Confidence": f.face.score * 100.0,
                },
                "TrackIndex": f.track.index,
                "MatchedFaces": f.identity.matches,
            }
            for f in found
        ],
    }


def _region_box(region: dict[str, Any]) -> tuple[float, float, float, float]:
    """A RegionOfInterest as (left, top, right, bottom) ratios; a polygon by its bounds."""
    if region.get("BoundingBox"):
        box = region["BoundingBox"]
        left, top = box.get("Left", 0.0), box.get("Top", 0.0)
        return left, top, left + box.get("Width", 1.0), top + box.get("Height", 1.0)
    xs = [point["X"] for point in region.get("Polygon") or []] or [0.0, 1.0]
    ys = [point["Y"] for point in region.get("Polygon") or []] or [0.0, 1.0]
    return min(xs), min(ys), max(xs), max(ys)


class StreamRun:
    def __init__(self, name: str, session_id: str, source_uri: str, stream_arn: str,
                 searcher: FaceSearcher, sinks: list[Sink], on_stop: OnStop,
                 required_sinks: list[Gate] | None = None,
                 event_interval: float = 1.0, max_seconds: float | None = None,
                 stop_selector_seconds: float | None = None,
                 regions: list[dict[str, Any]] | None = None) -> None:
        self.name = name
        self.session_id = session_id
        self._uri = source_uri
        self._arn = stream_arn
        self._searcher = searcher
        self._sinks = sinks
        # Sinks that must take an event before any other sink sees it (the audit log): if one
        # fails the processor stops rather than hand out an unrecorded match.
        self._required = required_sinks or []
        self._on_stop = on_stop
        self._interval = event_interval
        self._max_seconds = max_seconds
        # The StopSelector duration the session was started with (a resumed session has less
        # than that left, and says what was asked).
        self._stop_selector = (
            max_seconds if stop_selector_seconds is None else stop_selector_seconds)
        self._regions = [_region_box(region) for region in regions or []]
        self._stop = threading.Event()
        self._source: LiveSource | None = None
        self.frames_analysed = 0
        self.events = 0
        self._thread = threading.Thread(target=self._run, name=f"stream {name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 15.0) -> None:
        self._stop.set()
        if self._source is not None:
            self._source.close(wait=False)  # wakes a run waiting for a stalled stream
        if threading.current_thread() is not self._thread:
            self._thread.join(wait)

    def _run(self) -> None:
        try:
            source = self._source = LiveSource(self._uri)
        except Exception as exc:  # unreachable source: the processor fails, saying why
            self._on_stop("FAILED", f"Cannot read {self._uri}: {exc}")
            return
        # Why it stopped, for DescribeStreamProcessor's StatusMessage.
        status, message = "STOPPED", "The stream ended"
        started = time.monotonic()
        last_event: dict[int, float] = {}
        try:
            for frame in source.frames():
                if self._stop.is_set():
                    break
                if self._max_seconds is not None and time.monotonic() - started > self._max_seconds:
                    message = (f"Stopped after StopSelector.MaxDurationInSeconds "
                               f"({self._stop_selector:g} s)")
                    break
                image = from_array(frame.rgb)
                # People already identified are reported before new faces are embedded, so
                # their events do not wait for the expensive step.
                found = self._searcher.track(image)
                self._report(frame, found, last_event)
                self._report(frame, self._searcher.identify(image, found), last_event)
                self.frames_analysed += 1
            if self._stop.is_set():  # stop() also closes the source, which ends the frames
                message = "Stopped on request"
            elif source.error:
                status, message = "FAILED", f"The stream broke: {source.error}"
        except RekognitionError as exc:  # e.g. its key was revoked or its policy changed
            status, message = "FAILED", exc.message
        except Exception as exc:
            log.exception("stream processor %s failed", self.name)
            status, message = "FAILED", f"Internal error: {exc}"
        finally:
            source.close()
            self._on_stop(status, message)

    def _report(self, frame: Frame, found: list[SearchedFace],
                last_event: dict[int, float]) -> None:
        """Emit one event for the frame's matched faces that are due: newly matched, or not
        reported for `event_interval` seconds."""
        now = time.monotonic()
        due = [f for f in found if self._in_regions(f, frame) and f.identity.matches and (
            f.newly_matched or now - last_event.get(f.track.index, -1e9) >= self._interval)]
        if due:
            for f in due:
                last_event[f.track.index] = now
            self._emit(match_event(self.name, self.session_id, self._arn, frame, due), frame)

    def _in_regions(self, found: SearchedFace, frame: Frame) -> bool:
        """Whether the face's centre lies in a region of interest (all faces when none)."""
        if not self._regions:
            return True
        x = (found.face.box[0] + found.face.box[2] / 2) / frame.width
        y = (found.face.box[1] + found.face.box[3] / 2) / frame.height
        return any(left <= x <= right and top <= y <= bottom
                   for left, top, right, bottom in self._regions)

    def _emit(self, event: dict[str, Any], frame: Frame) -> None:
        for required in self._required:
            event = required(event, frame)
        self.events += 1
        for sink in self._sinks:
            try:
                sink(event)
            except Exception:  # one broken sink must not silence the others
                log.exception("stream processor %s: sink %r failed", self.name, sink)

"""Helpers for video tests: frames of the shared clips, a collection enrolled from one frame,
an S3-compatible endpoint (moto's server on 127.0.0.1) and a webhook receiver."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2

from oversight import operations

CROWD_CLIP = "video/facenet-pytorch-faces-1080p.mp4"
# In the crowd clip's first frame: the boy in the blue hoodie, who walks towards the camera for
# the whole clip (x0, y0, x1, y1 pixels of the 1920 x 1080 frame; no other face inside).
BOY_IN_FIRST_FRAME = (800, 500, 1100, 850)


def frame_jpeg(path: Path, index: int = 0,
               crop: tuple[int, int, int, int] | None = None) -> bytes:
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    assert ok, f"{path} has no frame {index}"
    if crop is not None:
        frame = frame[crop[1]:crop[3], crop[0]:crop[2]]
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def enrol_from_frame(collection_id: str, clip: Path, person: str,
                     crop: tuple[int, int, int, int] | None = None) -> str:
    """Create a collection holding the largest face of (a crop of) the clip's first frame;
    returns its FaceId."""
    operations.call("CreateCollection", {"CollectionId": collection_id})
    indexed = operations.call("IndexFaces", {
        "CollectionId": collection_id, "Image": {"Bytes": frame_jpeg(clip, 0, crop)},
        "ExternalImageId": person, "MaxFaces": 1,
    })
    return str(indexed["FaceRecords"][0]["Face"]["FaceId"])


@contextmanager
def local_http_server(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 for `handler`; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Webhook:
    url: str
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    # Each POST's headers (names lower-cased), in the order of `received`.
    headers: list[dict[str, str]] = field(default_factory=list)

    def wait_for(self, count: int, seconds: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return [body for _, body in self.received]


@contextmanager
def webhook_receiver() -> Iterator[Webhook]:
    """An HTTP server on 127.0.0.1 that records every JSON POST with its arrival time and
    headers."""
    hook = Webhook(url="")

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.headers.append({k.lower(): v for k, v in self.headers.items()})
            hook.received.append((time.time(), json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with local_http_server(Receiver) as base:
        hook.url = f"{base}/hook"
        yield hook


@contextmanager
def s3_endpoint() -> Iterator[str]:
    """moto's S3 in server mode on a free loopback port; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def upload(endpoint: str, bucket: str, key: str, path: Path) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(path), bucket, key)


@contextmanager
def mjpeg_stream(frames: Callable[[], Iterable[bytes]], fps: float) -> Iterator[str]:
    """An HTTP MJPEG camera on 127.0.0.1 (multipart/x-mixed-replace, one JPEG per part) sending
    the JPEGs of `frames()` at `fps` to each client; yields the stream's URL."""

    class Camera(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                for jpeg in frames():
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                     + f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                                     + jpeg + b"\r\n")
                    time.sleep(1.0 / fps)
            except OSError:
                pass  # the reader went away

        def log_message(self, *args: Any) -> None:
            pass

    with local_http_server(Camera) as base:
        yield f"{base}/camera.mjpg"


@contextmanager
def mjpeg_server(clip: Path, fps: float) -> Iterator[str]:
    """An MJPEG camera playing `clip` once at `fps`; yields the stream's URL."""
    capture = cv2.VideoCapture(str(clip))
    parts = []
    while (read := capture.read())[0]:
        parts.append(cv2.imencode(".jpg", read[1])[1].tobytes())
    capture.release()
    with mjpeg_stream(lambda: parts, fps) as url:
        yield url


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def hls_server(clip: Path, folder: Path, segment_seconds: float = 2.0,
               plays: int = 1) -> Iterator[str]:
    """`clip` cut into MPEG-TS segments with an HLS playlist, served over HTTP on 127.0.0.1
    (what an NVR or a phone app publishes); yields the playlist's URL. The playlist repeats the
    clip `plays` times, for tests that must stop a stream before it ends by itself."""
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    per_segment = max(1, round(fps * segment_seconds))
    playlist = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{int(segment_seconds) + 1}",
                "#EXT-X-MEDIA-SEQUENCE:0"]
    segments = []
    height, width = frames[0].shape[:2]
    for number, start in enumerate(range(0, len(frames), per_segment)):
        chunk = frames[start:start + per_segment]
        writer = cv2.VideoWriter(str(folder / f"segment{number}.ts"),
                                 cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        for frame in chunk:
            writer.write(frame)
        writer.release()
        segments += [f"#EXTINF:{len(chunk) / fps:.3f},", f"segment{number}.ts"]
    for play in range(plays):
        playlist += [*(["#EXT-X-DISCONTINUITY"] if play else []), *segments]
    (folder / "camera.m3u8").write_text("\n".join([*playlist, "#EXT-X-ENDLIST", ""]))
    with local_http_server(functools.partial(_QuietFiles, directory=str(folder))) as base:
        yield f"{base}/camera.m3u8"

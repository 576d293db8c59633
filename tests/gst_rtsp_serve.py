"""A real RTSP server for tests: GStreamer's rtsp-server serving one H.264 MP4 file, unmodified.

Run with the system Python (it needs Debian's python3-gi and gir1.2-gst-rtsp-server-1.0, which
the Makefile installs): `/usr/bin/python3 tests/gst_rtsp_serve.py FILE PORT`. It serves
rtsp://127.0.0.1:PORT/clip, prints "ready" once listening, and stops after 120 s at the latest.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

MAX_SECONDS = 120


def main() -> None:
    path, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    # Demux and packetise only: the stream carries the file's own H.264, as a camera would.
    factory.set_launch(
        f'( filesrc location="{path}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 '
        "config-interval=1 )"
    )
    server.get_mount_points().add_factory("/clip", factory)
    server.attach(None)
    loop = GLib.MainLoop()
    GLib.timeout_add_seconds(MAX_SECONDS, loop.quit)
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()

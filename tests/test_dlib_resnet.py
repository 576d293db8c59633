"""dlib's ResNet read from its own file and run on onnxruntime gives dlib's descriptors."""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np
import pytest

from oversight.analysis import face_analyzer
from oversight.images import decode_image
from oversight.models.dlib_models import DlibResNet, _model_file
from oversight.models.dlib_net_file import DlibFileError, read_dlib_net
from tests.conftest import shared_path

RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"


@pytest.mark.slow
def test_onnx_forward_pass_matches_dlib_on_real_faces() -> None:
    photos = sorted(shared_path("faces/face-api.js/examples/images").glob("*/*.png"))[::8]
    reference = dlib.face_recognition_model_v1(_model_file(RESNET_FILE))
    analyzer = face_analyzer()
    ours = DlibResNet()
    compared = 0
    for photo in photos:
        image = decode_image(photo.read_bytes())
        for face in analyzer.detect(image)[:1]:
            shape = analyzer.shape5(image, face)
            expected = np.asarray(reference.compute_face_descriptor(image.rgb, shape), np.float32)
            expected /= np.linalg.norm(expected)
            np.testing.assert_allclose(ours(image.rgb, shape), expected, atol=1e-5)
            compared += 1
    assert compared >= 4


def test_reader_sees_the_whole_architecture() -> None:
    net = read_dlib_net(Path(_model_file(RESNET_FILE)))
    kinds = [layer.kind for layer in net.layers if layer is not None]
    assert kinds.count("con_4") == 29 and kinds.count("add_prev_") == 14
    assert kinds[-1].startswith("fc_") and net.input.settings["nr"] == 150


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    whole = Path(_model_file(RESNET_FILE)).read_bytes()
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DlibFileError):
        read_dlib_net(truncated)

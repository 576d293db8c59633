"""The plain Python API (issue 17, item 2): `import oversight` costs nothing, the image
functions answer with the same models as the operations, and `call` is governed and audited."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import oversight
from oversight.errors import AccessDeniedException, ValidationException
from oversight.governance import admin
from oversight.governance.audit import AuditLog
from oversight.governance.policy import Policy
from oversight.operations.context import RequestContext
from tests.conftest import shared_path

FACES = "faces/face-api.js/examples/images"


def test_import_oversight_loads_no_model_stack() -> None:
    probe = "import sys, oversight; print(sorted({'numpy', 'sqlalchemy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_an_image_may_be_a_path_bytes_or_an_array() -> None:
    path = shared_path(f"{FACES}/amy/amy1.png")
    from oversight.images import load_image

    faces = [oversight.detect_faces(image) for image in
             (path, str(path), path.read_bytes(), load_image(path).rgb)]
    assert len(faces[0]) == 1
    assert all(f[0].box == faces[0][0].box for f in faces)


def test_compare_tells_people_apart_and_embed_says_when_there_is_no_face() -> None:
    amy, amy_again, raj = (shared_path(f"{FACES}/{name}.png")
                           for name in ("amy/amy1", "amy/amy2", "raj/raj1"))
    assert oversight.compare(amy, amy_again) >= 80.0 > oversight.compare(amy, raj)
    blank = np.full((200, 200, 3), 128, np.uint8)
    assert oversight.embed(blank) is None and oversight.compare(amy, blank) is None
    vector = oversight.embed(amy)
    assert vector is not None and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert oversight.similarity(vector, vector) == pytest.approx(100.0, abs=0.01)


def test_call_is_validated_governed_and_audited() -> None:
    image = {"Bytes": shared_path(f"{FACES}/amy/amy1.png").read_bytes()}
    answer = oversight.call("DetectFaces", {"Image": image}, purpose="python api test")
    assert len(answer["FaceDetails"]) == 1
    (record,) = [r for r in AuditLog().records() if r.get("operation") == "DetectFaces"]
    assert record["purpose"] == "python api test"
    with pytest.raises(ValidationException):
        oversight.call("DetectFaces", {"Image": image, "Attributes": ["NOT_AN_ATTRIBUTE"]})
    admin.set_policy(RequestContext.local(),
                     Policy(access_key_id="*", allowed_operations=["DetectLabels"]))
    with pytest.raises(AccessDeniedException):
        oversight.call("DetectFaces", {"Image": image})

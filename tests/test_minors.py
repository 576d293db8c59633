"""Protective policy for minors (issue 15, item 5): a key whose policy sets min_probe_age has
1:N searches of children's faces refused (and audited as such), adults' faces searched, and a
live searcher that never searches a child's face. Real photos: UTKFace children, LFW adults."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from oversight.analysis import face_analyzer
from oversight.api.calls import governed_call
from oversight.api.keys import KeyStore
from oversight.config import settings
from oversight.errors import AccessDeniedException, InvalidParameterException
from oversight.governance.audit import AuditLog
from oversight.governance.minors import adult_filter, estimated_age
from oversight.governance.policy import Policy, put_policy
from oversight.images import decode_image
from oversight.keyfiles import load_cipher
from oversight.operations import RequestContext, call
from oversight.store import get_engine
from oversight.video.face_search import FaceSearcher
from tests.conftest import shared_path


def _child() -> bytes:
    """The first UTKFace photo of a child of four or younger."""
    source = shared_path("faces/utkface-dev/attributes.csv")
    with source.open(newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if float(r["age"]) <= 4)
    return (source.parent / row["path"]).read_bytes()


def _adult() -> bytes:
    folder = shared_path("faces/lfw-devtrain/images/Colin_Powell")
    return sorted(folder.glob("*.jpg"))[0].read_bytes()


def _age(data: bytes) -> float:
    image = decode_image(data)
    return estimated_age(image, face_analyzer().detect(image)[0])


@pytest.fixture
def protected_key() -> RequestContext:
    key = KeyStore(get_engine(), load_cipher(settings().data_dir)).create().key
    put_policy(Policy(key.access_key_id, min_probe_age=18))
    call("CreateCollection", {"CollectionId": "people"})
    call("IndexFaces", {"CollectionId": "people", "Image": {"Bytes": _adult()}})
    return RequestContext(account_id=key.account_id, access_key_id=key.access_key_id)


def test_search_of_a_child_is_refused_and_audited(protected_key: RequestContext) -> None:
    child, adult = _child(), _adult()
    assert _age(child) < 18 <= _age(adult)  # the model sees which is which
    for operation in ("SearchFacesByImage", "SearchUsersByImage"):
        with pytest.raises(AccessDeniedException, match="younger than 18"):
            governed_call(operation, {"CollectionId": "people", "Image": {"Bytes": child}},
                          protected_key)
    found = governed_call("SearchFacesByImage", {"CollectionId": "people",
                                                 "Image": {"Bytes": adult}}, protected_key)
    assert found["FaceMatches"]
    refused = [r for r in AuditLog().records() if r.get("refused_by") == "minor_probe"]
    assert {r["operation"] for r in refused} == {"SearchFacesByImage", "SearchUsersByImage"}
    # A key without the setting searches the child's face as before.
    assert "FaceMatches" in call("SearchFacesByImage", {"CollectionId": "people",
                                                        "Image": {"Bytes": child}})


def test_live_search_never_searches_a_child(protected_key: RequestContext) -> None:
    searched: list[np.ndarray] = []
    admit = adult_filter(protected_key.access_key_id)
    assert admit is not None and adult_filter(None) is None
    for photo, searches in ((_child(), 0), (_adult(), 1)):
        # A searcher per photo: one would take the second face for the first one's track.
        searcher = FaceSearcher(lambda v: searched.append(v) or [], max_side=640, admit=admit)
        searcher.process(decode_image(photo))
        assert len(searched) == searches


def test_policy_refuses_an_impossible_age() -> None:
    with pytest.raises(InvalidParameterException):
        Policy("AKIAEXAMPLEEXAMPLE00", min_probe_age=0)

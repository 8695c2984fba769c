"""The sample catalogue (assets/samples.json): the committed samples (the dalmatian, the drawings), and
fetching web photos into the cache."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from conftest import BUNDLED_WEIGHTS, SHARED
from PIL import Image
from test_download import (
    LocalServer,  # tests/ is on sys.path under pytest's default import mode
)

from interp.dataset.samples import (
    ASSETS_DIR,
    CATALOG_PATH,
    CatalogError,
    Expected,
    cached_path,
    is_cached,
    load_catalog,
    sample_bytes,
)
from interp.errors import DownloadError
from interp.paths import cache_dir

ROOT = Path(__file__).resolve().parents[1]
PHOTO = b"\xff\xd8\xff\xe0 pretend this is a JPEG " * 50


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("INTERP_OFFLINE", raising=False)
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_PATH)


def by_id(catalog, sample_id):
    return next(s for s in catalog if s.id == sample_id)


def test_catalog_loads_with_unique_ids_and_both_kinds(catalog):
    ids = [s.id for s in catalog]
    assert len(ids) == len(set(ids))
    assert {s.kind for s in catalog} == {"photo", "generated"}
    assert {"dalmatian", "stripes", "curves", "shapes"} <= set(ids)


def test_generated_files_exist_are_small_and_decode(catalog):
    for sample in (s for s in catalog if s.kind == "generated"):
        file = ASSETS_DIR / sample.path
        assert file.is_file(), file
        assert file.stat().st_size < 60_000, file
        with Image.open(file) as image:
            image.load()
            assert image.mode == "RGB" and image.size == (224, 224)
        assert sample.licence.startswith("CC0") and "this project" in sample.credit
        assert sample_bytes(sample) == file.read_bytes()
        assert is_cached(sample)


def test_generated_files_are_what_the_tool_draws():
    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "tools" / "make_samples.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for name, drawn in tool.render().items():
        with Image.open(ASSETS_DIR / "samples" / f"{name}.png") as committed:
            assert np.array_equal(np.asarray(committed.convert("RGB")), np.asarray(drawn)), name


def test_every_photo_has_credit_licence_and_a_url_or_a_committed_file(catalog):
    photos = [s for s in catalog if s.kind == "photo"]
    assert photos
    for sample in photos:
        for field in (sample.credit, sample.licence, sample.title, sample.why):
            assert field.strip()
        for link in (sample.licence_url, sample.source_page) + ((sample.url,) if sample.url else ()):
            assert urlparse(link).scheme == "https" and urlparse(link).netloc, link
        assert (sample.url is None) != (sample.path is None), sample.id
        if sample.path:
            assert (ASSETS_DIR / sample.path).is_file(), sample.path


def test_the_dalmatian_is_the_committed_default(catalog, monkeypatch):
    dog = catalog[0]  # the first sample is every chapter's default picture
    assert dog.id == "dalmatian" and dog.kind == "photo"
    assert (dog.path, dog.url) == ("samples/dalmatian.jpg", None)
    assert dog.source_page == "https://commons.wikimedia.org/wiki/File:Dalmatian_puppy.JPG"
    assert (dog.credit, dog.licence) == ("Carlos Estrada Dejo", "CC BY-SA 3.0")
    assert dog.licence_url == "https://creativecommons.org/licenses/by-sa/3.0/"
    assert dog.expected == Expected(41, "dalmatian")
    monkeypatch.setenv("INTERP_OFFLINE", "1")
    assert is_cached(dog)  # no download, ever
    data = sample_bytes(dog)
    assert data == (ASSETS_DIR / "samples" / "dalmatian.jpg").read_bytes() and data[:2] == b"\xff\xd8"
    shared = SHARED / "images" / "dalmatian.jpg"
    if shared.is_file():
        assert data == shared.read_bytes()
    assert not (cache_dir() / "samples").exists()


def test_the_cat_is_still_a_web_photo_fetched_on_first_use(catalog):
    cat = by_id(catalog, "cat")
    assert cat.kind == "photo" and cat.path is None
    assert cat.url == "https://commons.wikimedia.org/wiki/Special:FilePath/Cat_November_2010-1a.jpg"
    assert not is_cached(cat)


def test_expected_labels_agree_with_the_label_file(catalog):
    labels = BUNDLED_WEIGHTS / "inception5h_labels.txt"
    names = {int(index): name for _, index, name in (line.split(" ", 2) for line in labels.read_text().splitlines())}
    for sample in (s for s in catalog if s.expected):
        assert names[sample.expected.index] == sample.expected.label, sample.id


def test_photo_is_fetched_once_then_read_from_cache(catalog, server):
    cat = by_id(catalog, "cat")
    url = server.add("/cat.jpg", PHOTO)
    assert not is_cached(cat)
    calls = []
    assert sample_bytes(cat, progress=lambda done, total: calls.append((done, total)), url=url) == PHOTO
    assert calls[-1] == (len(PHOTO), len(PHOTO))
    assert is_cached(cat)
    assert cached_path(cat) == cache_dir() / "samples" / "cat.jpg"
    assert sample_bytes(cat, url=url) == PHOTO
    assert len(server.requests) == 1


def test_offline_and_uncached_photo_says_upload_still_works(catalog, server, monkeypatch):
    monkeypatch.setenv("INTERP_OFFLINE", "1")
    cat = by_id(catalog, "cat")
    with pytest.raises(DownloadError) as info:
        sample_bytes(cat, url=server.add("/cat.jpg", PHOTO))
    message = str(info.value)
    assert "could not be fetched" in message and "upload" in message.lower() and "offline" in message
    assert server.requests == [] and not is_cached(cat)


def test_failed_or_wrong_photo_is_not_cached(catalog, server, tmp_path):
    cat = by_id(catalog, "cat")
    with pytest.raises(DownloadError) as info:
        sample_bytes(cat, url=server.url("/missing.jpg"))
    assert "404" in str(info.value) and "upload" in str(info.value).lower()
    pinned = dataclasses.replace(cat, sha256=hashlib.sha256(b"something else").hexdigest())
    with pytest.raises(DownloadError):
        sample_bytes(pinned, url=server.add("/cat.jpg", PHOTO))
    assert not is_cached(cat)


def test_a_missing_committed_photo_says_so(catalog, tmp_path):
    with pytest.raises(CatalogError) as info:
        sample_bytes(by_id(catalog, "dalmatian"), assets_dir=tmp_path)
    assert str(tmp_path / "samples" / "dalmatian.jpg") in str(info.value) and "upload" in str(info.value)


def entry(**changes):
    base = {
        "id": "x",
        "title": "X",
        "kind": "photo",
        "url": "https://example.org/x.jpg",
        "credit": "someone",
        "licence": "CC BY 4.0",
        "licence_url": "https://creativecommons.org/licenses/by/4.0/",
        "source_page": "https://example.org/x",
        "why": "because",
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


@pytest.mark.parametrize(
    "entries, complaint",
    [
        ([entry(), entry(title="again")], "used twice"),
        ([entry(url=None)], "url"),
        ([entry(path="samples/x.jpg")], "not both"),
        ([entry(url=None, path="../x.jpg")], "path"),
        ([entry(url="ftp://example.org/x.jpg")], "http"),
        ([entry(kind="video")], "kind"),
        ([entry(kind="generated", url=None)], "path"),
        ([entry(kind="generated", url=None, path="../outside.png")], "path"),
        ([entry(credit="")], "credit"),
        ([entry(licence=None)], "licence"),
        ([entry(sha256="abc")], "sha256"),
        ([entry(expected={"index": "41"})], "expected"),
        ([entry(licence_ur="typo")], "licence_ur"),
        ({"samples": "nope"}, "list"),
    ],
)
def test_bad_catalogs_are_refused_clearly(tmp_path, entries, complaint):
    path = tmp_path / "samples.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert complaint in str(info.value) and str(path) in str(info.value)


def test_good_small_catalog_loads(tmp_path):
    path = tmp_path / "samples.json"
    path.write_text(
        json.dumps(
            {
                "samples": [
                    entry(),
                    entry(id="y", kind="generated", url=None, path="samples/y.png"),
                    entry(id="z", url=None, path="samples/z.jpg"),
                ]
            }
        )
    )
    first, second, third = load_catalog(path)
    assert (first.id, first.url, second.path, third.path) == (
        "x",
        "https://example.org/x.jpg",
        "samples/y.png",
        "samples/z.jpg",
    )
    assert not is_cached(first) and is_cached(second) and is_cached(third)


def test_catalog_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "samples.json"
    path.write_text("{not json")
    with pytest.raises(CatalogError):
        load_catalog(path)

"""Ready for stage: ``interp.readiness`` on planted folders (wrong weights, 3 of 1,000 photos, a render missing),
the real project with the shared photos (ready), ``python -m interp doctor`` and its JSON, the chapter-marker
reader against the app's, the table of what each visual needs against the app's visuals, preparing the whole
talk (``ui.ahead.prepare_talk``) and the presenter's sidebar panel under AppTest."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading

from conftest import new_app, open_page

from interp import readiness
from interp.cli import main
from interp.cli.doctor import read_talk_steps
from interp.dataset import photos
from interp.readiness import Check, TalkStep

# -- the table ------------------------------------------------------------------------------------------------


def test_the_needs_table_covers_every_visual_of_the_app():
    from ui.visuals import VISUALS

    assert set(readiness.VISUAL_NEEDS) == set(VISUALS)
    assert set(readiness.NEED_CHECKS) == set(readiness.NEEDS)
    for visual, needs in readiness.VISUAL_NEEDS.items():
        assert set(needs) <= set(readiness.NEEDS), visual


# -- planted folders ------------------------------------------------------------------------------------------


def test_a_weights_file_that_is_not_the_reference_is_not_ready(tmp_path, weights_dir, monkeypatch):
    wrong = b"these are not the InceptionV1 weights"
    (tmp_path / "inception5h.pth").write_bytes(wrong)
    shutil.copy(weights_dir / "inception5h_labels.txt", tmp_path)
    monkeypatch.setenv("INTERP_WEIGHTS_DIR", str(tmp_path))
    weights, labels = readiness.check_weights()
    assert not weights.ok and weights.required
    assert f"has SHA-256 {hashlib.sha256(wrong).hexdigest()[:12]}..., not the reference aba7cd0bf0d0" in weights.detail
    assert "INTERP_WEIGHTS_DIR" in weights.fix
    assert labels.ok and "SHA-256 equals the reference" in labels.detail
    # the same folder given as --weights: the same verdict
    monkeypatch.delenv("INTERP_WEIGHTS_DIR")
    assert not readiness.check_weights(str(tmp_path))[0].ok
    assert readiness.check_weights()[0].ok  # the bundled copy is the reference


def test_a_weights_folder_without_the_files_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_WEIGHTS_DIR", str(tmp_path))
    weights, labels = readiness.check_weights()
    assert not weights.ok and not labels.ok
    assert "inception5h.pth" in weights.detail and "unset INTERP_WEIGHTS_DIR" in weights.fix


def _plant_photos(folder, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    collection = photos.load_photos()
    for p in collection[:count]:
        (folder / p.file).write_bytes(b"\0" * p.bytes)  # the published size is what counts as "on disk"
    (folder / collection[count].file).write_bytes(b"\0" * 10)  # a truncated photo does not count


def test_three_photos_of_a_thousand_in_the_cache_say_run_prefetch(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("INTERP_IMAGES_DIR", raising=False)
    _plant_photos(tmp_path / "photos", 3)
    check = readiness.check_photos()
    assert not check.ok
    assert check.detail.startswith("3 of 1,000 photos in the cache")
    assert "`python -m interp prefetch`" in check.fix


def test_three_photos_of_a_thousand_in_the_images_folder(tmp_path, monkeypatch):
    _plant_photos(tmp_path, 3)
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path))
    check = readiness.check_photos()
    assert not check.ok and check.detail == f"3 of 1,000 photos in INTERP_IMAGES_DIR={tmp_path}"
    assert f"copy the missing photos into {tmp_path}" in check.fix and "python -m interp prefetch" in check.fix
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path / "nowhere"))
    check = readiness.check_photos()
    assert not check.ok and "no such folder" in check.detail


def _plant_renders(folder, *, lose: str | None = None) -> None:
    files = ["emergence/0000.jpg", "emergence/0008.jpg", "gallery/mixed3b/0379.jpg"]
    for name in files:
        if name != lose:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(b"jpeg")
    sets = {
        "emergence": [{"unit": "mixed4a:11", "label": f"step {s}", "file": f"emergence/{s:04d}.jpg"} for s in (0, 8)]
    }
    (folder / "manifest.json").write_text(json.dumps({"sets": sets}))
    units = {"mixed3b:379": {"layer": "mixed3b", "channel": 379, "file": "mixed3b/0379.jpg"}}
    (folder / "gallery").mkdir(exist_ok=True)
    (folder / "gallery" / "index.json").write_text(json.dumps({"params": {}, "units": units}))


def test_a_render_the_manifest_lists_but_is_missing_is_not_ready(tmp_path):
    _plant_renders(tmp_path)
    assert readiness.check_renders(tmp_path) == Check(
        "renders", "The precomputed renders", True, f"3 of 3 pictures in {tmp_path}"
    )
    (tmp_path / "emergence" / "0008.jpg").unlink()
    check = readiness.check_renders(tmp_path)
    assert not check.ok and check.detail == f"2 of 3 pictures in {tmp_path}; missing: emergence/0008.jpg"
    assert check.fix.startswith("run `python tools/make_featvis_assets.py`")
    (tmp_path / "gallery" / "mixed3b" / "0379.jpg").unlink()
    assert "gallery/mixed3b/0379.jpg" in readiness.check_renders(tmp_path).detail
    (tmp_path / "manifest.json").unlink()
    check = readiness.check_renders(tmp_path)
    assert not check.ok and "cannot read the list of renders" in check.detail


def test_the_shipped_renders_are_all_there():
    check = readiness.check_renders()
    assert check.ok, check.detail


# -- the talk -----------------------------------------------------------------------------------------------------

STEPS = (
    TalkStep("01_why", "hook", "A network that works", "live_classifier", 60),
    TalkStep("03_neuron", "examples", "Two ways to ask", "dataset_examples", 55),
    TalkStep("05_hard", "toy", "A toy model", "toy_superposition", None),
    TalkStep("06_next", "browse", "Browse the features", "feature_browser", 45),
)


def _checks(*failing: str, optional: str = "") -> tuple[Check, ...]:
    keys = ("weights", "labels", "photos", "samples", "renders", "atlas", "roles", "sae", "features")
    return tuple(
        Check(k, k, k not in failing and k != optional, "", "fix" if k in failing else None, k != optional)
        for k in keys
    )


def test_a_step_is_ready_when_what_its_visual_needs_is():
    report = readiness.readiness(STEPS, checks=_checks("photos", "features"))
    assert report.marked and [s.step.id for s in report.steps] == ["hook", "examples", "browse"]  # the talk cut
    assert report.seconds == 160
    by_id = {s.step.id: s for s in report.steps}
    assert by_id["hook"].ok
    assert by_id["examples"].missing == ("photos",)
    assert by_id["browse"].missing == ("photos", "features")
    assert not report.ready and report.problems == 2 + 2
    text = "\n".join(readiness.lines(report))
    assert "Talk cut: 3 steps, 2:40 planned" in text and "03 Two ways to ask: needs photos (fix above)" in text


def test_an_unmarked_tour_checks_every_step_and_an_unknown_visual_is_not_ready():
    steps = [TalkStep(s.chapter, s.id, s.title, s.visual, None) for s in STEPS] + [TalkStep("07_x", "x", "X", "nope")]
    report = readiness.readiness(steps, checks=_checks())
    assert not report.marked and len(report.steps) == 5 and report.notes
    assert [s.step.id for s in report.steps if not s.ok] == ["x"]
    assert report.steps[-1].missing == (readiness.UNKNOWN,)
    assert not report.ready


def test_an_optional_check_warns_without_blocking():
    report = readiness.readiness(STEPS, checks=_checks(optional="samples"))
    assert report.ready and report.problems == 0
    assert any(line.startswith("WARNING  samples") for line in readiness.lines(report))


def test_the_doctors_marker_reader_agrees_with_the_apps_chapters():
    from ui.chapters import load_chapter
    from ui.tour import chapters

    apps = [
        (stop.chapter, s.id, s.title, s.visual, s.talk) for stop in chapters() for s in load_chapter(stop.chapter).steps
    ]
    doctors = [(s.chapter, s.id, s.title, s.visual, s.seconds) for s in read_talk_steps()]
    assert len(doctors) == len(apps) > 0
    for doctor, app in zip(doctors, apps):  # a title may name a role ({role:...}), which only the app expands
        assert doctor[:2] + doctor[3:] == app[:2] + app[3:] and (doctor[2] == app[2] or "{role:" in doctor[2])


def test_the_marker_reader_on_a_planted_chapter(tmp_path):
    (tmp_path / "01_a.md").write_text(
        "# A\n<!-- chapter: id=a -->\nSummary.\n\n## First step\n<!-- step: id=one visual=black_box talk=75 -->\n"
        "Text.\n\n## Second step\n<!-- step: id=two visual=tour_map -->\nText.\n",
        encoding="utf-8",
    )
    (tmp_path / "notes.md").write_text("## Not a chapter\n<!-- step: id=no visual=no talk=1 -->\n")
    assert read_talk_steps(tmp_path) == [
        TalkStep("01_a", "one", "First step", "black_box", 75),
        TalkStep("01_a", "two", "Second step", "tour_map", None),
    ]


# -- the real project, and the command ------------------------------------------------------------------------------


def test_the_project_with_the_shared_photos_is_ready_for_stage(photos_dir, weights_dir, monkeypatch):
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(photos_dir))
    report = readiness.readiness(read_talk_steps())
    not_ok = {c.key: c.detail for c in report.checks if not c.ok and c.required}
    assert not not_ok and all(s.ok for s in report.steps), (not_ok, [s for s in report.steps if not s.ok])
    assert report.ready and report.check("photos").detail.startswith("1,000 of 1,000 photos")


def test_doctor_json_and_exit_status(photos_dir, weights_dir, tmp_path, monkeypatch, capsys):
    from interp.dataset import download, samples

    fetched = []
    monkeypatch.setattr(download, "fetch", lambda *a, **k: fetched.append(a))
    monkeypatch.setattr(samples, "fetch", lambda *a, **k: fetched.append(a))

    monkeypatch.setenv("INTERP_IMAGES_DIR", str(photos_dir))
    assert main(["doctor", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert set(found) == {"ready", "checks", "talk"} and found["ready"] is True
    assert [c["key"] for c in found["checks"]] == [
        "weights", "labels", "photos", "samples", "renders", "atlas", "roles", "sae", "features"
    ]  # fmt: skip
    assert set(found["checks"][0]) == {"key", "title", "ok", "detail", "fix", "required"}
    assert set(found["talk"]) == {"marked", "seconds", "steps"}
    assert found["talk"]["steps"] and set(found["talk"]["steps"][0]) == {
        "chapter", "id", "title", "visual", "seconds", "needs", "missing", "ok"
    }  # fmt: skip

    _plant_photos(tmp_path, 3)
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path))
    assert main(["doctor", "--json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["ready"] is False
    photo_check = next(c for c in found["checks"] if c["key"] == "photos")
    assert not photo_check["ok"] and photo_check["detail"].startswith("3 of 1,000 photos")
    assert main(["doctor"]) == 1
    text = capsys.readouterr().out
    assert text.startswith("Not ready:") and "MISSING  The 1,000 photos: 3 of 1,000 photos" in text
    assert fetched == []  # never downloads


# -- preparing the whole talk ---------------------------------------------------------------------------------------


def test_prepare_talk_prepares_each_visual_once_in_order_and_counts(monkeypatch):
    from ui import ahead

    monkeypatch.setenv("INTERP_PREPARE_AHEAD", "1")
    monkeypatch.setattr(ahead, "SETTLE_S", 0.0)
    monkeypatch.setattr(ahead, "_quiet", lambda: True)
    monkeypatch.setattr(ahead, "_prepared", {"black_box"})  # prepared ahead already: not again
    seen = []
    monkeypatch.setattr("ui.visuals.render_visual", seen.append)
    assert ahead.prepare_talk(["tour_map", "black_box", "zoom_levels", "tour_map"])
    assert ahead.wait_idle(10)
    assert seen == ["tour_map", "zoom_levels"]
    assert ahead.talk_progress() == ahead.TalkProgress(3, 3, 0, None)

    busy = threading.Event()
    busy.set()
    monkeypatch.setattr(ahead, "_quiet", lambda: not busy.is_set())
    monkeypatch.setattr(ahead, "QUIET_WAIT_S", 0.3)
    assert ahead.prepare_talk(["live_classifier"])  # a render keeps the queue busy: left for later
    assert ahead.wait_idle(10)
    assert ahead.talk_progress() == ahead.TalkProgress(1, 1, 1, None) and "live_classifier" not in seen

    monkeypatch.setenv("INTERP_PREPARE_AHEAD", "0")
    assert not ahead.prepare_talk(["architecture_diagram"])


# -- the presenter's panel ------------------------------------------------------------------------------------------


def test_the_presenter_sees_the_readiness_panel_and_can_prepare_the_talk(photos_dir, weights_dir, monkeypatch):
    import streamlit as st

    from ui import ahead
    from ui.readiness import talk_visuals

    st.cache_data.clear()
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(photos_dir))
    monkeypatch.setenv("INTERP_PREPARE_AHEAD", "1")
    asked = []
    monkeypatch.setattr(ahead, "prepare_talk", lambda ids: asked.append(list(ids)) or True)
    monkeypatch.setattr(ahead, "talk_progress", lambda: ahead.TalkProgress(21, 7, 0, "ablation"))
    at = new_app()
    open_page(at, "how-a-cnn-sees")
    at.query_params["presenter"] = "ready-test"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    sidebar = at.sidebar
    assert any(md.value == ":green[●] **Ready for stage**" for md in sidebar.markdown), [
        m.value for m in sidebar.markdown
    ]
    assert any("The 1,000 photos" in c.value and "Talk:" in c.value for c in sidebar.caption)
    assert any("prepared 7 of 21" in p.proto.text for p in at.get("progress"))
    at.sidebar.button(key="prepare_talk").click().run()
    assert asked == [talk_visuals()] and asked[0]

    reader = new_app()  # not in presenter mode: no panel
    open_page(reader, "how-a-cnn-sees")
    reader.run()
    assert not any("Ready for stage" in md.value for md in reader.sidebar.markdown)

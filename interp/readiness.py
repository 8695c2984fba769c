"""Ready for stage? Whether everything a talk needs is here, offline, and what to run for each thing that is not.

One check per shipped or fetched thing (the weights and labels, the 1,000 photos, the web samples, the
precomputed renders, the atlas, the roles catalogue, the sparse autoencoder and its feature atlas), then one line
per step of the talk cut: a step is ready when every thing its visual needs (:data:`VISUAL_NEEDS`) is.

The talk's steps come in as data (:class:`TalkStep`), not read here: the chapter files are the app's content and
their reader lives in ``ui/``, which ``interp`` must not import. ``python -m interp doctor`` reads the step markers
itself (``interp.cli.doctor``), the presenter's sidebar panel hands over the app's own parse (``ui.readiness``).

Nothing here downloads, loads the model or renders: it looks at files (a photo counts when it is on disk with its
published size; the weights are hashed once per file version). Reading the autoencoder's file locations imports
PyTorch (``interp.sae``), as every visual does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from interp.paths import ASSETS_DIR

PREFETCH = "python -m interp prefetch"
MAKE_RENDERS = "python tools/make_featvis_assets.py"
MAKE_ATLAS = "python tools/make_atlas.py"
FIND_ROLES = "python tools/find_roles.py"
TRAIN_SAE = "python tools/train_sae.py"
MAKE_SAMPLES = "python tools/make_samples.py"
FEATVIS_DIR = ASSETS_DIR / "featvis"  # tools/make_featvis_assets.py writes manifest.json and gallery/ here
GALLERY_INDEX = FEATVIS_DIR / "gallery" / "index.json"  # interp.featvis.gallery's index (read here without PyTorch)

# What each step's visual reads from disk to be drawn as designed, offline (read from ui/visuals/*.py). A need
# names one or more checks below: "weights" the weights and the labels, "sae" the autoencoder and its feature atlas.
# A visual that only trains or draws in place (the toy models, the schematics) needs nothing. Renders on request
# (the live render, a missing unit's picture) are the speaker's to start and need only the weights.
NEEDS = ("weights", "photos", "renders", "atlas", "roles", "sae")
VISUAL_NEEDS: dict[str, tuple[str, ...]] = {
    # 1 Why look inside
    "live_classifier": ("weights",),
    "learned_untaught": (),
    "black_box": ("weights",),
    "zoom_levels": ("weights",),
    "tour_map": ("roles",),  # the stops' blurbs name the story's units by role
    # 2 How a network sees
    "architecture_diagram": (),
    "convolution_demo": ("weights",),
    "channel_maps": ("weights",),
    "depth_progression": ("weights",),
    "predictions": ("weights",),
    # 3 One neuron
    "dataset_examples": ("weights", "atlas", "photos"),  # the unit's top photos, with heat maps from the model
    "emergence": ("renders",),
    "naive_vs_robust": ("renders",),
    "neuron_vs_channel": ("renders",),
    "diversity": ("renders",),
    "negative": ("renders",),
    "live_render": ("weights",),
    # 4 Circuits
    "circuit_weights": ("weights", "roles"),
    "curve_family": ("weights", "roles", "renders"),
    "car_parts": ("roles", "renders", "atlas", "photos"),
    "dog_heads": ("weights", "roles", "renders", "atlas", "photos"),
    "circuit_live": ("weights", "roles", "atlas", "photos"),
    "ablation": ("weights", "roles", "atlas", "photos"),
    "circuit_graph": ("weights", "roles", "renders"),
    # 5 The hard part
    "polysemantic_unit": ("weights", "roles", "renders", "atlas", "photos"),
    "purity_by_layer": ("roles", "atlas"),
    "toy_superposition": (),
    "toy_interference": (),
    "so_what": ("roles", "atlas"),
    # 6 What next
    "dictionary_idea": ("weights", "roles", "atlas", "photos", "sae"),
    "sae_report": ("weights", "atlas", "photos", "sae"),
    "sae_downstream": ("sae",),  # the shipped downstream test (interp/data/sae/downstream.json)
    "feature_browser": ("weights", "renders", "atlas", "photos", "sae"),
    "sae_papers": ("sae",),
    "closing": ("roles",),
}
UNKNOWN = "unknown visual"  # a step whose visual is not in the table: not ready until the table says what it needs
NEED_CHECKS: dict[str, tuple[str, ...]] = {
    "weights": ("weights", "labels"),
    "photos": ("photos",),
    "renders": ("renders",),
    "atlas": ("atlas",),
    "roles": ("roles",),
    "sae": ("sae", "features"),
}


@dataclass(frozen=True)
class Check:
    """One thing a talk needs: ``ok``, what was found (``detail``) and, when not ok, the command or step that fixes
    it. A check that is not ``required`` (the web samples: the talk's pictures are committed) warns only."""

    key: str
    title: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = True


@dataclass(frozen=True)
class TalkStep:
    """A step of the talk as the chapter files give it: ``seconds`` is its ``talk=`` (None: not in the talk cut)."""

    chapter: str  # the chapter file's name, "04_circuits"
    id: str
    title: str
    visual: str
    seconds: int | None = None


@dataclass(frozen=True)
class StepReadiness:
    step: TalkStep
    needs: tuple[str, ...]
    missing: tuple[str, ...]  # the keys of the failing checks it needs, or (UNKNOWN,)

    @property
    def ok(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    steps: tuple[StepReadiness, ...]
    marked: bool  # some step carries talk=SECONDS; when none does, every step was checked
    notes: tuple[str, ...] = field(default=())

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks if c.required) and all(s.ok for s in self.steps)

    @property
    def problems(self) -> int:
        return sum(not c.ok for c in self.checks if c.required) + sum(not s.ok for s in self.steps)

    @property
    def seconds(self) -> int:
        return sum(s.step.seconds or 0 for s in self.steps)

    def check(self, key: str) -> Check:
        return next(c for c in self.checks if c.key == key)

    def as_dict(self) -> dict:
        return {
            "ready": self.ready,
            "checks": [asdict(c) for c in self.checks],
            "talk": {
                "marked": self.marked,
                "seconds": self.seconds,
                "steps": [
                    {**asdict(s.step), "needs": list(s.needs), "missing": list(s.missing), "ok": s.ok}
                    for s in self.steps
                ],
            },
        }


# -- the checks ---------------------------------------------------------------------------------------------------


def check_weights(path: str | None = None) -> list[Check]:
    """The weights and the labels: found (as the app finds them, given ``path`` as ``--weights``), and each file's
    SHA-256 equal to the reference file's."""
    from interp.network import weights

    report = weights.status(path, hashes=True)
    checks = []
    for resource in weights.RESOURCES:
        entry = report[resource.name]
        title = resource.what[0].upper() + resource.what[1:]
        if not entry["found"]:
            problem, _, fix = entry["error"].partition("\n")
            checks.append(Check(resource.name, title, False, problem, fix.strip() or None))
            continue
        where = f"{entry['path']} ({entry['source']})"
        if entry["sha256"] == entry["reference"]:
            checks.append(Check(resource.name, title, True, f"{where}; SHA-256 equals the reference"))
            continue
        fix = (
            "get a complete copy of the project (the bundled file is damaged)"
            if entry["source"] == "bundled"
            else f"put the reference {resource.filename} there (see {weights.BUNDLED_DIR / 'NOTICE'}), or leave "
            f"{weights.WEIGHTS_DIR_ENV} and --weights unset to use the copy bundled with the app"
        )
        detail = f"{where} has SHA-256 {entry['sha256'][:12]}..., not the reference {entry['reference'][:12]}..."
        checks.append(Check(resource.name, title, False, detail, fix))
    return checks


def check_photos() -> Check:
    """How many of the 1,000 photos are on disk, where the app reads them (``$INTERP_IMAGES_DIR`` or the cache)."""
    from interp.dataset import photos
    from interp.errors import InterpError

    title = "The 1,000 photos"
    try:
        folder = photos.images_dir()
        collection = photos.load_photos()
        here = sum(photos.is_available(p) for p in collection)
    except InterpError as error:
        return Check("photos", title, False, str(error), f"unset {photos.IMAGES_DIR_ENV} and run `{PREFETCH}`")
    where = (
        f"in {photos.IMAGES_DIR_ENV}={folder}" if folder is not None else f"in the cache ({photos.photos_cache_dir()})"
    )
    detail = f"{here:,} of {len(collection):,} photos {where}"
    if here == len(collection):
        return Check("photos", title, True, detail)
    if folder is not None:
        fix = (
            f"copy the missing photos into {folder} (e.g. {collection[0].file}), or unset {photos.IMAGES_DIR_ENV} "
            f"and run `{PREFETCH}` (needs the network once)"
        )
    else:
        problem = photos.cache_problem()  # a full or read-only cache: prefetch cannot help
        fix = (
            problem.message
            if problem is not None
            else f"run `{PREFETCH}` (needs the network once; what is cached already is kept)"
        )
    return Check("photos", title, False, detail, fix)


def check_samples() -> Check:
    """The sample pictures of the picker: the committed ones on disk (required), the web ones cached (a warning
    only: no step needs them, the default picture is committed)."""
    from interp.dataset.samples import ASSETS_DIR as SAMPLES_ASSETS
    from interp.dataset.samples import is_cached, load_catalog
    from interp.errors import InterpError

    title = "The sample pictures"
    try:
        catalog = load_catalog()
    except InterpError as error:
        return Check("samples", title, False, str(error), "get a complete copy of the project")
    committed = [s for s in catalog if s.path is not None]
    lost = [s for s in committed if not (SAMPLES_ASSETS / s.path).is_file()]
    web = [s for s in catalog if s.path is None]
    uncached = [s for s in web if not is_cached(s)]
    detail = (
        f"{len(committed) - len(lost)} of {len(committed)} committed, "
        f"{len(web) - len(uncached)} of {len(web)} from the web cached"
    )
    if lost:
        drawn = any(s.kind == "generated" for s in lost)
        fix = f"run `{MAKE_SAMPLES}`" if drawn else "get a complete copy of the project"
        return Check("samples", title, False, f"{detail}; missing: {', '.join(s.title for s in lost)}", fix)
    if uncached:
        return Check(
            "samples",
            title,
            False,
            f"{detail}; not cached: {', '.join(s.title for s in uncached)} (no step needs it)",
            f"run `{PREFETCH}` (needs the network once)",
            required=False,
        )
    return Check("samples", title, True, detail)


def check_renders(featvis_dir: Path = FEATVIS_DIR) -> Check:
    """The precomputed pictures: every file the manifest lists (chapter 3's sets) and every unit of the gallery's
    index is there."""
    title = "The precomputed renders"
    fix = f"run `{MAKE_RENDERS}` (renders with the model: long on a CPU)"
    manifest, index = featvis_dir / "manifest.json", featvis_dir / "gallery" / "index.json"
    files: list[str] = []
    try:
        sets = _read_json(manifest)["sets"]
        files += [entry["file"] for entries in sets.values() for entry in entries]
        units = _read_json(index)["units"]
        files += ["gallery/" + entry["file"] for entry in units.values()]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return Check("renders", title, False, f"cannot read the list of renders: {error}", fix)
    missing = [f for f in files if not (featvis_dir / f).is_file()]
    detail = f"{len(files) - len(missing)} of {len(files)} pictures in {featvis_dir}"
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        return Check("renders", title, False, f"{detail}; missing: {shown}", fix)
    return Check("renders", title, True, detail)


def check_atlas() -> Check:
    """The dataset examples (``interp/data/atlas.npz``): there and readable."""
    from interp.dataset.atlas import ATLAS_FILE

    return _readable_npz("atlas", "The atlas of dataset examples", ATLAS_FILE, f"run `{MAKE_ATLAS}`")


def check_roles() -> Check:
    """The roles catalogue: every role of the story found in these weights, readable."""
    from interp.story.roles import ROLES_FILE, RoleError, load_roles

    title = "The roles catalogue"
    try:
        roles = load_roles.__wrapped__(ROLES_FILE)  # read now, not the copy cached when the process started
    except RoleError as error:
        return Check("roles", title, False, str(error).partition(": rebuild it with")[0], f"run `{FIND_ROLES}`")
    return Check("roles", title, True, f"{len(roles)} roles in {ROLES_FILE}")


def check_sae() -> list[Check]:
    """The sparse autoencoder with its training log and its downstream test, and its feature atlas."""
    from interp.sae import DOWNSTREAM_FILE, EXAMPLES_FILE, LOG_FILE, SAE_FILE
    from interp.sae.downstream import WRITE_COMMAND

    title = "The sparse autoencoder"
    fix = f"run `{TRAIN_SAE}`"
    absent = [p.name for p in (SAE_FILE, LOG_FILE, DOWNSTREAM_FILE) if not p.is_file()]
    if absent:
        only_test = absent == [DOWNSTREAM_FILE.name]
        missing = f"missing from {SAE_FILE.parent}: {', '.join(absent)}"
        sae = Check(
            "sae", title, False, missing, f"run `{WRITE_COMMAND}`" if only_test else f"{fix}, then `{WRITE_COMMAND}`"
        )
    else:
        size = SAE_FILE.stat().st_size / 1e6
        sae = Check("sae", title, True, f"{SAE_FILE.name} ({size:.1f} MB), {LOG_FILE.name} and {DOWNSTREAM_FILE.name}")
    return [sae, _readable_npz("features", "Its feature atlas", EXAMPLES_FILE, fix)]


def _readable_npz(key: str, title: str, path: Path, fix: str) -> Check:
    import zipfile

    if not path.is_file():
        return Check(key, title, False, f"{path} is missing", fix)
    try:
        with zipfile.ZipFile(path) as archive:
            parts = len(archive.namelist())
    except (OSError, zipfile.BadZipFile) as error:
        return Check(key, title, False, f"{path} cannot be read ({error})", fix)
    return Check(key, title, True, f"{path} ({path.stat().st_size / 1e6:.1f} MB, {parts} arrays)")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# -- the talk -----------------------------------------------------------------------------------------------------


def talk_cut(steps: Iterable[TalkStep]) -> tuple[tuple[TalkStep, ...], bool]:
    """(the steps a talk shows, whether any is marked): those with ``talk=SECONDS``; every step when none is."""
    steps = tuple(steps)
    marked = tuple(s for s in steps if s.seconds is not None)
    return (marked, True) if marked else (steps, False)


def step_readiness(step: TalkStep, checks: Sequence[Check]) -> StepReadiness:
    """Which of the checks a step's visual needs fail (an unknown visual is reported as such)."""
    if step.visual not in VISUAL_NEEDS:
        return StepReadiness(step, (), (UNKNOWN,))
    needs = VISUAL_NEEDS[step.visual]
    failing = {c.key for c in checks if not c.ok}
    missing = tuple(key for need in needs for key in NEED_CHECKS[need] if key in failing)
    return StepReadiness(step, needs, missing)


def run_checks(weights_path: str | None = None) -> tuple[Check, ...]:
    """Every check, in the order a report lists them."""
    return (
        *check_weights(weights_path),
        check_photos(),
        check_samples(),
        check_renders(),
        check_atlas(),
        check_roles(),
        *check_sae(),
    )


def readiness(
    steps: Iterable[TalkStep], *, weights_path: str | None = None, checks: Sequence[Check] | None = None
) -> Report:
    """The whole report: the checks (or ``checks``, already run) and each step of the talk cut of ``steps``."""
    checks = tuple(run_checks(weights_path) if checks is None else checks)
    cut, marked = talk_cut(steps)
    notes = () if marked else ("No step carries talk=SECONDS yet: every step of the tour was checked.",)
    return Report(checks, tuple(step_readiness(s, checks) for s in cut), marked, notes)


def clock(seconds: int) -> str:
    """``1020`` -> ``17:00``."""
    return f"{seconds // 60}:{seconds % 60:02d}"


def summary(report: Report) -> str:
    """One line: ready, or how many things are not."""
    if report.ready:
        return "Ready for stage: everything the talk needs is here, offline."
    n = report.problems
    return f"Not ready: {n} thing{'s' if n != 1 else ''} to fix before the talk."


def lines(report: Report) -> list[str]:
    """The report as text for a terminal, one screen: a status line per check and per step, each fix under it."""
    out = [summary(report), ""]
    for c in report.checks:
        status = "OK" if c.ok else ("MISSING" if c.required else "WARNING")
        out.append(f"{status:<8} {c.title}: {c.detail}")
        if not c.ok and c.fix:
            out.append(f"{'':<8}   fix: {c.fix}")
    count = len(report.steps)
    out += [""]
    if report.marked:
        out.append(f"Talk cut: {count} steps, {clock(report.seconds)} planned")
    else:
        out.append(f"Talk cut: {report.notes[0]}")
    for s in report.steps:
        planned = clock(s.step.seconds) if s.step.seconds is not None else ""
        where = f"{s.step.chapter.split('_', 1)[0]} {s.step.title}"
        if s.ok:
            out.append(f"{'OK':<8} {planned:>5}  {where}")
        elif s.missing == (UNKNOWN,):
            out.append(f"{'MISSING':<8} {planned:>5}  {where}: its visual '{s.step.visual}' is not in VISUAL_NEEDS")
        else:
            missing = ", ".join(s.missing)
            out.append(f"{'MISSING':<8} {planned:>5}  {where}: needs {missing} (fix above)")
    return out


__all__ = [
    "NEEDS",
    "NEED_CHECKS",
    "VISUAL_NEEDS",
    "Check",
    "Report",
    "StepReadiness",
    "TalkStep",
    "check_atlas",
    "check_photos",
    "check_renders",
    "check_roles",
    "check_sae",
    "check_samples",
    "check_weights",
    "clock",
    "lines",
    "readiness",
    "run_checks",
    "step_readiness",
    "summary",
    "talk_cut",
]

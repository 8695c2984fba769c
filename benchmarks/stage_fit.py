"""How well each step of the talk cut reads from the back of the room: opened in headless Chromium at a projector's
size, how much of the first screen the step's visual covers, whether it is whole there, and how many words are in
view.

    python benchmarks/stage_fit.py                               # the stage view (?stage=1) at 1280 x 720
    python benchmarks/stage_fit.py --view presenter              # presenter mode at 1440 x 900
    python benchmarks/stage_fit.py --view stage --size 1920x1080 --shots /tmp/stage   # and keep the screenshots
    python benchmarks/stage_fit.py --json                        # one JSON object per step, then a summary
    python benchmarks/stage_fit.py --all --only circuits         # every step (not only the talk cut) of one chapter

The goal (issue "A 17-minute talk that reads from the back of the room"): every step's visual whole in the first
screen, covering at least 30% of it, with at most 70 words in view. A step's visual is the frame's
``st-key-visual`` container; words are counted over the visible text nodes of the main area, widgets included.
Starts its own server (``tools/screenshots.py``), offline, with the photos from ``--images`` when given.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
from pathlib import Path

from ui.tour import places, talk_cut

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("screenshots", REPO / "tools" / "screenshots.py")
shots = importlib.util.module_from_spec(_spec)
sys.modules["screenshots"] = shots  # before it runs: its dataclasses look their module up
_spec.loader.exec_module(shots)

GOAL_SHARE, GOAL_WORDS = shots.STAGE_GOAL_SHARE, shots.STAGE_GOAL_WORDS
VIEWS = {"stage": "&stage=1", "presenter": "&presenter=", "reading": ""}  # an empty key: a new talk, no message


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--view", choices=sorted(VIEWS), default="stage")
    parser.add_argument("--size", default=None, help="WIDTHxHEIGHT (default 1280x720; 1440x900 for presenter)")
    parser.add_argument("--images", default=None, help="the 1,000 photos' folder (INTERP_IMAGES_DIR)")
    parser.add_argument("--shots", default=None, help="a folder to keep a screenshot of each step in")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--all", action="store_true", help="every step of the tour, not only the talk cut")
    parser.add_argument("--only", default=None, help="only steps whose address contains this text")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    args = parse_args(argv)
    width, height = map(int, (args.size or ("1440x900" if args.view == "presenter" else "1280x720")).split("x"))
    env = ["INTERP_OFFLINE=1"] + ([f"INTERP_IMAGES_DIR={args.images}"] if args.images else [])
    port = shots.free_port()
    log = Path(tempfile.mkdtemp()) / "server.log"
    server = shots.start_server(sys.executable, port, env, log)
    rows = []
    try:
        shots.wait_healthy(server, port, 120)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--headless", "--no-sandbox"])
            page = browser.new_context(viewport={"width": width, "height": height}).new_page()
            extra = VIEWS[args.view]
            steps = [p for p in (places() if args.all else talk_cut()) if args.only is None or args.only in p.url]
            for i, place in enumerate(steps):
                page.goto(f"http://127.0.0.1:{port}/{place.url}{extra}", wait_until="domcontentloaded")
                shots.wait_done(page, 180)
                found = page.evaluate(shots.STAGE_FIT_JS)
                row = {
                    "step": place.url,
                    **found,
                    "meets": found["whole"] and found["share"] >= GOAL_SHARE and found["words"] <= GOAL_WORDS,
                }
                if args.shots:
                    Path(args.shots).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(Path(args.shots) / f"{args.view}-{i:02d}-{place.step.id}.png"))
                rows.append(row)
                print(
                    json.dumps(row)
                    if args.json
                    else f"{place.url:45s} visual {row['share']:3d}% {'whole' if row['whole'] else 'cut  '} "
                    f"words {row['words']:4d} {'ok' if row['meets'] else ''}",
                    flush=True,
                )
            browser.close()
    finally:
        shots.stop_server(server)
    summary = {
        "view": args.view,
        "size": f"{width}x{height}",
        "steps": len(rows),
        "meet_goal": sum(r["meets"] for r in rows),
        "whole": sum(r["whole"] for r in rows),
        "share_median": statistics.median(r["share"] for r in rows) if rows else None,
        "words_median": statistics.median(r["words"] for r in rows) if rows else None,
    }
    print(
        json.dumps(summary)
        if args.json
        else f"{summary['meet_goal']} of {summary['steps']} steps meet the goal; {summary['whole']} whole; median "
        f"visual share {summary['share_median']}%, median words in view {summary['words_median']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

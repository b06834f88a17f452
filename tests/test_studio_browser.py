"""choreo studio in a real browser (headless Chromium driven by selenium), as a new user would use it: load the
page, upload a song, dance, see the skeleton on the canvas (three.js poses the GLB at the npz's joint positions),
play it, edit it on the timeline, download every format, render the MP4, make music for an uploaded BVH, compare
takes side by side (every dancer in the frame), and get clear messages for bad uploads; in a 1366x768 window
every control a user needs is on screen. A page on another site cannot make the studio work for it.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); skipped without them.
Screenshots go to the test's temporary folder, and also to ``$CHOREO_STUDIO_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import http.server
import io
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "headless Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")

from PIL import Image  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from choreo.motion.formats import read_motion, write_motion  # noqa: E402
from edge_standin import smooth_smpl  # noqa: E402
from studio_standin import (  # noqa: E402
    register_standin_music,
    standin_music_checkpoint,
    tiny_model,
    write_song,
)

LIMIT_MB = 1
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",  # WebGL on the CPU (SwiftShader), for this trusted local page
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1366,768",  # a laptop's screen; the page's viewport is smaller still (the window's frame)
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from choreo.studio.server import create_app
    from choreo.studio.session import Studio

    tmp = tmp_path_factory.mktemp("studio-browser")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHOREO_CACHE", str(tmp / "cache"))
        register_standin_music(mp)
        studio = Studio(max_upload_bytes=LIMIT_MB << 20, threads=1, root=tmp)
        port = free_port()
        srv = uvicorn.Server(uvicorn.Config(create_app(studio), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        end = time.monotonic() + 20
        while not srv.started:
            assert time.monotonic() < end, "the studio did not start"
            time.sleep(0.05)
        yield {"url": f"http://127.0.0.1:{port}/", "tmp": tmp, "studio": studio}
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser(server):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="choreo-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def shot(driver, element, path: Path) -> np.ndarray:
    """Screenshot of one element as an RGB array (saved too)."""
    png = element.screenshot_as_png
    path.write_bytes(png)
    dest = os.environ.get("CHOREO_STUDIO_SCREENSHOTS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(dest) / path.name)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def body_pixels(img: np.ndarray) -> tuple[int, int]:
    """How many pixels show the left (orange) and the right (blue) side of the body."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    orange = (r > 140) & (r - b > 90) & (g > 50) & (g < r - 30)
    blue = (b > 140) & (b - r > 70)
    return int(orange.sum()), int(blue.sum())


def wait(driver, condition, timeout: float = 60.0, what: str = ""):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d), message=what)


def loaded(driver) -> str | None:
    return driver.execute_script("return document.body.dataset.loaded || null")


def fetch_head(driver, url: str) -> tuple[int, bytes]:
    """GET a URL from inside the page (same origin, as a click on a download link does): status, first bytes."""
    status, head = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch(arguments[0])
          .then(async (r) => done([r.status, Array.from(new Uint8Array(await r.arrayBuffer()).slice(0, 16))]))
          .catch((e) => done([0, []]));""",
        url,
    )
    return status, bytes(head)


def upload(driver, path: Path) -> str:
    """Choose a file in the page's file input; returns the upload message once it has changed."""
    before = driver.find_element(By.ID, "upload-message").text
    driver.find_element(By.ID, "file").send_keys(str(path))
    wait(
        driver,
        lambda d: (m := d.find_element(By.ID, "upload-message").text) != before and not m.startswith("Uploading"),
        what="upload message",
    )
    return driver.find_element(By.ID, "upload-message").text


def shown(driver) -> list[str]:
    """The takes in the viewer, the one shown first."""
    return driver.execute_script("return window.studio.viewer.actors.map((a) => a.take.id)")


def ticked(driver) -> set[str]:
    boxes = driver.find_elements(By.CSS_SELECTOR, "#takes li input:checked")
    return {b.find_element(By.XPATH, "..").get_attribute("data-take") for b in boxes}


def assert_framed(driver) -> None:
    """Every dancer's joints project inside the stage canvas (normalised device coordinates within -1..1)."""
    boxes = driver.execute_script("return window.studio.viewer.projected()")
    assert boxes, "no dancers"
    for i, b in enumerate(boxes):
        assert -1 < b["min"][0] < b["max"][0] < 1 and -1 < b["min"][1] < b["max"][1] < 1, (i, boxes)


#: what a user needs on screen without scrolling: making, the takes, playing, editing, music and export.
ON_SCREEN = (
    "drop", "song", "model", "make", "takes", "play", "timeline", "edit", "continue", "inbetween", "music",
    "make-mp4", "dl-glb", "dl-bvh", "dl-npz", "dl-pkl", "dl-wav",
)  # fmt: skip


def assert_on_screen(driver) -> None:
    """Each control of :data:`ON_SCREEN` lies inside the window's viewport and is not hidden by a scrolled
    panel (the element at its centre is the control itself)."""
    w, h = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    assert w >= 1300 and h >= 600, (w, h)
    for name in ON_SCREEN:
        r, top = driver.execute_script(
            """const el = document.getElementById(arguments[0]); const r = el.getBoundingClientRect();
            const hit = document.elementFromPoint((r.left + r.right) / 2, r.top + Math.min(r.height / 2, 10));
            return [[r.left, r.top, r.right, r.bottom], el === hit || el.contains(hit)];""",
            name,
        )
        assert 0 <= r[0] < r[2] <= w and 0 <= r[1] < r[3] <= h, (name, r, (w, h))
        assert top, f"{name} is covered or scrolled away"


def test_make_watch_edit_export_and_music(server, browser, tmp_path):
    d = browser
    tmp = server["tmp"]
    model = tiny_model(tmp / "run")
    d.get(server["url"])
    wait(d, lambda d: d.find_element(By.ID, "status").text == "ready", what="page ready")
    # the packaged music model (D2M-GAN) is offered and chosen by default
    assert "Makes music that follows the take" in d.find_element(By.ID, "music-note").text
    assert Select(d.find_element(By.ID, "music-model")).first_selected_option.get_attribute("value") == "d2mgan"

    # the sampling fields follow the chosen packaged model (DiffDance by default: 100 steps in each of its two
    # stages; EDGE 8 in one); Dance Revolution takes neither guidance nor steps
    assert Select(d.find_element(By.ID, "model")).first_selected_option.get_attribute("value") == "diffdance"
    assert d.find_element(By.ID, "steps-label").text == "Steps per stage (2 stages)"
    assert d.find_element(By.ID, "steps").get_attribute("placeholder") == "model's (100)"
    assert "100 per stage" in d.find_element(By.ID, "steps").get_attribute("title")
    Select(d.find_element(By.ID, "model")).select_by_value("dancerevolution")
    assert not d.find_element(By.ID, "guidance").is_enabled() and not d.find_element(By.ID, "steps").is_enabled()
    Select(d.find_element(By.ID, "model")).select_by_value("edge")
    assert d.find_element(By.ID, "steps").is_enabled()
    assert d.find_element(By.ID, "steps").get_attribute("placeholder") == "model's (8)"
    assert d.find_element(By.ID, "steps-label").text == "Steps"

    # make: a song that is not in ../shared, the tiny model typed as a run folder
    msg = upload(d, write_song(tmp_path / "demo song.wav"))
    assert "ready to dance to" in msg
    Select(d.find_element(By.ID, "model")).select_by_value("__path__")
    d.find_element(By.ID, "model-path").send_keys(str(model))
    for field, value in (("seconds", "2"), ("steps", "2")):
        d.find_element(By.ID, field).clear()
        d.find_element(By.ID, field).send_keys(value)
    d.find_element(By.ID, "make").click()
    first = wait(d, loaded, what="the first take in the viewer")
    assert d.find_element(By.ID, "time").text.endswith("/ 2.00 s")

    # watch: the canvas shows the body (orange left side, blue right side)
    canvas = d.find_element(By.ID, "view")
    still = shot(d, canvas, tmp_path / "studio-take.png")
    left, right = body_pixels(still)
    assert left > 150 and right > 150, (left, right)
    # three.js plays the GLB to the joint positions of the npz (checked at frame 30)
    npz_path = tmp_path / "first.npz"
    with urllib.request.urlopen(f"{server['url']}api/takes/{first}/download/npz") as r:
        npz_path.write_bytes(r.read())
    ref = read_motion(npz_path)
    seen = d.execute_script(
        """const v = window.studio.viewer; v.setTime(arguments[0]);
        return v.actors[0].joints.map((j) => [12, 13, 14].map((i) => j.matrixWorld.elements[i]));""",
        30 / ref.fps,
    )
    assert np.abs(np.asarray(seen) - ref.joint_positions()[30]).max() < 1e-4
    d.find_element(By.ID, "play").click()
    wait(d, lambda d: float(d.find_element(By.ID, "time").text.split()[0]) > 0.3, 10, "the music clock runs")
    d.find_element(By.ID, "play").click()  # pause
    moved = shot(d, canvas, tmp_path / "studio-playing.png")
    assert np.abs(moved - still).sum() > 0  # the dancer moved

    # edit: drag a range on the timeline, keep the upper body there, dance the rest again
    timeline = d.find_element(By.ID, "timeline")
    w = timeline.size["width"]
    ActionChains(d).move_to_element_with_offset(timeline, -w // 4, 0).click_and_hold().move_by_offset(
        w // 2, 0
    ).release().perform()
    a, b = (float(d.find_element(By.ID, i).get_attribute("value")) for i in ("edit-from", "edit-to"))
    assert 0.2 < a < b < 1.8, (a, b)
    d.find_element(By.ID, "edit").click()
    second = wait(d, lambda d: (x := loaded(d)) != first and x, what="the edited take")
    assert len(d.find_elements(By.CSS_SELECTOR, "#takes li")) == 2

    # export: every format downloads and is the file it says
    magic = {"glb": b"glTF", "bvh": b"HIERARCHY", "npz": b"PK", "pkl": b"\x80", "wav": b"RIFF"}
    for fmt, start in magic.items():
        link = d.find_element(By.ID, f"dl-{fmt}")
        assert link.is_displayed() and link.get_attribute("download") is not None, fmt
        status, head = fetch_head(d, link.get_attribute("href"))
        assert status == 200 and head.startswith(start), (fmt, status, head)
    d.find_element(By.ID, "make-mp4").click()
    wait(d, lambda d: d.find_element(By.ID, "dl-mp4").is_displayed(), what="the MP4")
    status, head = fetch_head(d, d.find_element(By.ID, "dl-mp4").get_attribute("href"))
    assert status == 200 and head[4:8] == b"ftyp"

    # bad uploads get a clear message in the page
    (tmp_path / "empty.wav").write_bytes(b"")
    assert "empty" in upload(d, tmp_path / "empty.wav")
    (tmp_path / "notes.mp3").write_text("not music " * 100)
    assert "not a song" in upload(d, tmp_path / "notes.mp3")
    (tmp_path / "huge.wav").write_bytes(b"\0" * ((LIMIT_MB << 20) + 1))
    assert "upload limit" in upload(d, tmp_path / "huge.wav")

    # dance to music: upload a BVH (an SMPL skeleton, not the model's), make music for it with the packaged model
    write_motion(smooth_smpl(45), tmp_path / "moves.bvh")
    assert "45 frames" in upload(d, tmp_path / "moves.bvh")
    bvh_take = wait(d, lambda d: (x := loaded(d)) not in (first, second) and x, what="the uploaded BVH")
    d.find_element(By.ID, "music").click()
    music_take = wait(d, lambda d: (x := loaded(d)) not in (first, second, bvh_take) and x, 60, "the music take")
    assert d.find_element(By.ID, "dl-wav").is_displayed()
    assert "music for moves.bvh" in d.find_element(By.ID, "take-title").text
    wav = d.find_element(By.ID, "dl-wav").get_attribute("href")
    with urllib.request.urlopen(wav) as r:
        y, sr = sf.read(io.BytesIO(r.read()))
    assert len(y) / sr == pytest.approx(1.5, abs=0.01) and np.sqrt(np.mean(y**2)) > 0.01, music_take  # not silent

    # a stand-in model typed as a checkpoint works too
    ckpt = standin_music_checkpoint(tmp / "d2m" / "last.ckpt")
    Select(d.find_element(By.ID, "music-model")).select_by_value("__path__")
    d.find_element(By.ID, "music-path").send_keys(str(ckpt))
    loaded_before = loaded(d)
    d.find_element(By.ID, "music").click()
    wait(d, lambda d: (x := loaded(d)) not in (loaded_before,) and x, what="the stand-in music take")
    standin_take = loaded(d)
    shot(d, d.find_element(By.TAG_NAME, "body"), tmp_path / "studio-page.png")
    assert_on_screen(d)
    titles = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#takes li .title")]
    assert len(titles) == 5 and len(set(titles)) == 5, titles  # named by song, model, seed, edit: all different
    assert titles[-1] == "demo song · run · seed 0 · 2 steps", titles  # the first take, at the bottom
    assert titles[-2].startswith(titles[-1] + " · kept "), titles

    # compare three takes side by side: every dancer stays inside the stage, standing still and dancing
    for take in (first, second):
        d.find_element(By.CSS_SELECTOR, f"#takes li[data-take='{take}'] input").click()
    wait(d, lambda d: shown(d) == [standin_take, first, second], what="three dancers")
    assert_framed(d)
    shot(d, canvas, tmp_path / "studio-side-by-side.png")
    d.find_element(By.ID, "play").click()
    time.sleep(1.0)  # the camera eases towards its framing while they dance
    d.find_element(By.ID, "play").click()
    assert_framed(d)
    # ticks belong to the take shown: a ticked take swaps places with it, any other take starts afresh
    d.find_element(By.CSS_SELECTOR, f"#takes li[data-take='{first}'] .title").click()
    wait(d, lambda d: shown(d) == [first, second, standin_take], what="the ticked take leads")
    assert ticked(d) == {second, standin_take}
    d.find_element(By.CSS_SELECTOR, f"#takes li[data-take='{bvh_take}'] .title").click()
    wait(d, lambda d: shown(d) == [bvh_take], what="an unrelated take, alone")
    assert ticked(d) == set()

    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    # the bad uploads answer 400/413 on purpose; anything else is a bug in the page
    assert all("api/upload" in e["message"] for e in errors), errors


class _OtherSite(http.server.BaseHTTPRequestHandler):
    """A web site of someone else's, serving pages that try to drive the studio."""

    pages: dict[str, str] = {}

    def do_GET(self):
        body = self.pages.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_another_site_cannot_make_the_studio_work(server, browser):
    """A form and scripts on another site post to the studio from the user's browser: all are refused and
    nothing is queued (the form gets the studio's refusal; a script cannot send the token header at all)."""
    d, studio = browser, server["studio"]
    target = server["url"] + "api/dance"
    body = '{"song": "x", "model": "edge"}'
    _OtherSite.pages = {
        "/form": f"""<form method="post" action="{target}" enctype="text/plain">
            <input name='{{"song": "x", "model": "edge", "pad": "' value='"}}'></form>
            <script>document.forms[0].submit()</script>""",
        "/fetch": f"""<script>
            const out = [];
            const plain = {{"Content-Type": "text/plain"}};
            fetch("{target}", {{method: "POST", mode: "no-cors", body: '{body}', headers: plain}})
              .then(() => out.push("no-cors sent"), () => out.push("no-cors failed"))
              .then(() => fetch("{target}", {{method: "POST", body: '{body}',
                                               headers: {{"X-Choreo-Token": "guess"}}}}))
              .then((r) => out.push("token " + r.status), () => out.push("token blocked"))
              .then(() => {{ document.title = out.join("; "); }});
            </script>""",
    }
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OtherSite)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    other = f"http://localhost:{site.server_address[1]}"  # another origin and another site than 127.0.0.1
    jobs, takes = len(studio.jobs.jobs()), len(studio.takes.all())
    try:
        d.get(f"{other}/form")
        wait(d, lambda d: d.current_url == target, 20, "the form posted to the studio")
        assert "refused" in d.find_element(By.TAG_NAME, "body").text
        d.get(f"{other}/fetch")
        wait(d, lambda d: "token" in d.title, 20, "the scripts' requests")
        assert d.title == "no-cors sent; token blocked", d.title  # the preflight for the custom header fails
    finally:
        site.shutdown()
    assert len(studio.jobs.jobs()) == jobs and len(studio.takes.all()) == takes

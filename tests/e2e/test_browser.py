"""The dashboard in headless Chromium (Debian's package, driven by Playwright's Python package).

Real processes end to end: a collector (chDB in a temp dir) holding known spans, the dashboard
started by ``flowscope dashboard``, and Chromium. The walk: overview → a node → one of its traces
→ the infrastructure link (its href names the trace id) → the runs diff; and a log record found
on the Logs page → its trace. Screenshots go to ``test-artifacts/``; with
``FLOWSCOPE_UPDATE_SCREENSHOTS=1`` the main pages are also copied to ``docs/screenshots/`` for
the README.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "dashboard"))

from known_store import (  # type: ignore[import-not-found]  # noqa: E402
    RAG,
    SEO,
    TRANSLATE,
    Known,
    free_port,
    running,
    running_collector,
    send_known_spans,
    wait_http,
    wait_stored,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Known, str]]:
    """(dashboard URL, known data, Jaeger base URL used in the link templates)."""
    tmp = tmp_path_factory.mktemp("browser")
    with running_collector(tmp) as collector:
        known = send_known_spans(collector)
        wait_stored(collector, known)
        port = free_port()
        jaeger = f"http://127.0.0.1:{free_port()}/jaeger"
        env = {
            "FLOWSCOPE_JAEGER_URL": jaeger,
            "FLOWSCOPE_LOGS_URL_TEMPLATE": "http://127.0.0.1:9/logs?trace={trace_id}&from={start}",
        }
        argv = [str(BIN / "flowscope"), "dashboard", "--port", str(port), "--collector", collector]
        with running(argv, tmp / "dashboard.log", env) as proc:
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/_stcore/health", proc, "dashboard")
            yield url, known, jaeger


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium missing: run `bash scripts/system-deps.sh`"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def settled(page: Page) -> None:
    """Wait until Streamlit has finished the script run (no running indicator)."""
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)


def shoot(page: Page, name: str, *, main: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    charts = page.get_by_test_id("stPlotlyChart")
    for i in range(charts.count()):
        expect(charts.nth(i).locator(".main-svg").first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)  # let JSON viewers and icon fonts finish painting
    page.screenshot(path=str(path), full_page=True)
    if main and os.environ.get("FLOWSCOPE_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / path.name)


def assert_no_tile_cut(page: Page, where: str) -> None:
    """No metric tile cuts its value ("$0.…"), on a wide and on a laptop-sized window."""
    for width in (1100, 1440):
        page.set_viewport_size({"width": width, "height": 1500})
        page.wait_for_timeout(500)
        cut = page.eval_on_selector_all(
            '[data-testid="stMetricValue"]',
            """tiles => tiles.filter(t => [t, ...t.querySelectorAll('*')].some(
                   e => e.scrollWidth > e.clientWidth + 1)).map(t => t.innerText)""",
        )
        assert cut == [], f"{where}: metric values cut at {width}px: {cut}"


def test_click_through_overview_node_trace_infra_link_and_diff(
    stack: tuple[str, Known, str], browser: Browser
) -> None:
    url, known, jaeger = stack
    page = browser.new_page(viewport={"width": 1440, "height": 1500})
    page.goto(f"{url}/?range=24h")
    expect(page.get_by_text("Total cost")).to_be_visible(timeout=90_000)
    settled(page)
    expect(page.get_by_text("$0.026", exact=True).first).to_be_visible()
    shoot(page, "overview", main=True)
    assert_no_tile_cut(page, "overview")
    # overview → the most expensive node
    page.get_by_role("link", name=f"{TRANSLATE} · Translate (llm)").first.click()
    expect(page.get_by_text("Translate · llm")).to_be_visible(timeout=60_000)
    settled(page)
    assert "/nodes" in page.url and "node=" in page.url
    shoot(page, "nodes", main=True)

    # node → one of its traces (the newest: the failed run)
    failed = next(r for r in known.runs if r.failed)
    page.get_by_role("link", name=failed.trace_id[:16]).click()
    expect(page.get_by_text(f"Trace {failed.trace_id}")).to_be_visible(timeout=60_000)
    settled(page)
    assert f"trace={failed.trace_id}" in page.url
    expect(page.get_by_text("provider timeout after 30 s").first).to_be_visible()
    shoot(page, "trace", main=True)

    # the infrastructure link names the trace; following it opens Jaeger on that trace
    jaeger_link = page.get_by_role("link", name="Open in Jaeger").first
    href = jaeger_link.get_attribute("href") or ""
    assert failed.trace_id in href and href.startswith(jaeger)
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))
    with page.context.expect_page() as popup:
        jaeger_link.click()
    popup.value.wait_for_load_state()
    assert f"{jaeger}/trace/{failed.trace_id}" in requested
    popup.value.close()

    # trace → runs diff against another run of the same workflow
    page.get_by_role("link", name="Compare with another run").click()
    expect(page.get_by_text("Inputs and outputs, node by node")).to_be_visible(timeout=60_000)
    settled(page)
    assert f"a={failed.trace_id}" in page.url
    expect(page.get_by_text("Latency B − A")).to_be_visible()
    shoot(page, "diff", main=True)
    page.close()


def test_pasted_deep_links_open_the_same_view(
    stack: tuple[str, Known, str], browser: Browser
) -> None:
    url, known, _ = stack
    run = known.of(SEO)[1]
    page = browser.new_page(viewport={"width": 1440, "height": 1500})
    page.goto(f"{url}/traces?trace={run.trace_id}&span={run.node_spans['1713']}")
    expect(page.get_by_text(f"Trace {run.trace_id}")).to_be_visible(timeout=90_000)
    expect(page.get_by_role("heading", name="end End")).to_be_visible(timeout=60_000)
    page.goto(f"{url}/nodes?node={TRANSLATE}/2001&types=llm")
    expect(page.get_by_text("Translate · llm")).to_be_visible(timeout=90_000)
    # the seed's story: a fast, silently empty retrieval, flagged, with its infrastructure link
    (rag,) = known.of(RAG)
    page.goto(f"{url}/traces?trace={rag.trace_id}&span={rag.retrieval_span}")
    expect(page.get_by_text("returned no chunks")).to_be_visible(timeout=90_000)
    assert_no_tile_cut(page, "trace view")
    settled(page)
    href = page.get_by_role("link", name="Open in Jaeger").last.get_attribute("href") or ""
    assert rag.trace_id in href and rag.retrieval_span in href
    shoot(page, "empty-retrieval", main=True)
    page.close()


def test_models_and_prompt_pages_render(stack: tuple[str, Known, str], browser: Browser) -> None:
    url, _, _ = stack
    page = browser.new_page(viewport={"width": 1440, "height": 1500})
    page.goto(f"{url}/traces")
    expect(page.get_by_text("most recent traces")).to_be_visible(timeout=90_000)
    settled(page)
    shoot(page, "traces", main=True)
    page.goto(f"{url}/models")
    expect(page.get_by_text("Cost by model")).to_be_visible(timeout=90_000)
    settled(page)
    shoot(page, "models", main=True)
    page.goto(f"{url}/prompts?pwf={SEO.replace(' ', '+')}")
    expect(page.get_by_text("Version A")).to_be_visible(timeout=90_000)
    settled(page)
    expect(page.locator("span", has_text="lowercase").first).to_be_visible()
    shoot(page, "prompts", main=True)
    page.close()


def test_logs_page_opens_the_trace_of_a_selected_record(
    stack: tuple[str, Known, str], browser: Browser
) -> None:
    url, known, _ = stack
    failed = next(r for r in known.runs if r.failed)
    page = browser.new_page(viewport={"width": 1440, "height": 1500})
    page.goto(f"{url}/logs?lq=provider+timeout")
    expect(page.get_by_text("Records 1–1, newest first")).to_be_visible(timeout=90_000)
    settled(page)
    shoot(page, "logs", main=True)
    grid = page.get_by_test_id("stDataFrame").first
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the first row's selection marker
    link = page.get_by_role("link", name="Open the selected record's trace")
    expect(link).to_be_visible(timeout=60_000)
    link.click()
    expect(page.get_by_text(f"Trace {failed.trace_id}")).to_be_visible(timeout=60_000)
    settled(page)
    assert f"trace={failed.trace_id}" in page.url
    assert f"span={failed.node_spans['2001']}" in page.url
    page.close()

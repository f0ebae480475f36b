"""Streamlit page script; the logic lives in dashboard.views.traces."""

from dashboard.ui import run_page
from dashboard.views import traces

run_page(traces.render)

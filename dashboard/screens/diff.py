"""Streamlit page script; the logic lives in dashboard.views.diff."""

from dashboard.ui import run_page
from dashboard.views import diff

run_page(diff.render)

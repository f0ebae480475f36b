"""Streamlit page script; the logic lives in dashboard.views.history."""

from dashboard.ui import run_page
from dashboard.views import history

run_page(history.render)

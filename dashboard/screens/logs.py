"""Streamlit page script; the logic lives in dashboard.views.logs."""

from dashboard.ui import run_page
from dashboard.views import logs

run_page(logs.render)

"""Streamlit page script; the logic lives in dashboard.views.overview."""

from dashboard.ui import run_page
from dashboard.views import overview

run_page(overview.render)

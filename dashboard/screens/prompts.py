"""Streamlit page script; the logic lives in dashboard.views.prompts."""

from dashboard.ui import run_page
from dashboard.views import prompts

run_page(prompts.render)
